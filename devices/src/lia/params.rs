//! LIA parameters, as stored in `topologies/devices/lia.ron`, and their validation.
//!
//! Cell targets, the comparator reference and the bias and sense conductances are given
//! here; the ones left `Auto` are chosen by the programming rule ([`super::design`]).

use super::hierarchy::Hierarchy;
use crate::params::{load_ron, parse_ron, ParamError, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The built-in LIA parameter file.
pub const LIA_RON: &str = crate::builtin::LIA;
/// The built-in LIA with the winner hold (`hold: UntilReset`).
pub const LIA_WINNER_HOLD_RON: &str = crate::builtin::LIA_WINNER_HOLD;
/// The built-in hierarchical LIA for large layers (`hierarchy: Groups(size: 16)`).
pub const LIA_HIERARCHICAL_RON: &str = crate::builtin::LIA_HIERARCHICAL;

/// A value the programming rule chooses (`Auto`) or the user fixes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Choice {
    /// Chosen by the programming rule.
    Auto,
    /// Fixed value (unit given by the field).
    Fixed(f64),
}

/// LIA parameters, as stored in `topologies/devices/lia.ron`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiaParams {
    /// Bias row input, volts (paper: 1.5 V).
    pub v_bias_volts: f64,
    /// A neuron's lateral-inhibition "1", volts (paper: 1.5 V).
    pub li_high_volts: f64,
    /// Comparator reference, volts (paper: `Fixed(0.05)`); `Auto` re-centres it per n.
    pub v_ref: Choice,
    /// Bias cell conductance, siemens, or `Auto`.
    pub bias: Choice,
    /// Sense conductance from each column line to ground, siemens, or `Auto`.
    pub sense: Choice,
    /// Target of the diagonal cells (a neuron's own column), siemens.
    pub diagonal_siemens: f64,
    /// Target of the off-diagonal cells, siemens.
    pub off_diagonal_siemens: f64,
    /// Comparator propagation delay, ns (gate lines follow LI changes this much later).
    #[serde(default)]
    pub comparator_delay_ns: u64,
    /// What the gate lines do once a winner has fired: `Follow` (default, the paper's
    /// circuit: they follow the comparators, so the losers' gates reopen when the winner's
    /// LI output falls after its refractory period) or `UntilReset` (circuit extension
    /// *winner hold*: a latch behind each comparator keeps the gates of the first winner's
    /// configuration until the reset line of the next rest; see [`Hold`]).
    #[serde(default)]
    pub hold: Hold,
    /// How the array is organised: `Flat` (default, the paper's single n×(n+1) array) or
    /// `Groups(size: S)` (circuit extension *hierarchical LIA*: groups of at most `S`
    /// neurons, each with its own array, and arrays over the groups' OR lines, so that no
    /// divider has more than `S` rows; see [`super::hierarchy`]). `S` is a row count
    /// (≥ 2).
    #[serde(default, skip_serializing_if = "Hierarchy::is_flat")]
    pub hierarchy: Hierarchy,
}

/// Whether the LIA's gate lines follow the comparators or hold the first winner.
///
/// `UntilReset` is a circuit extension beyond the paper: a set–reset latch behind each
/// comparator output (the standard way to make a winner-take-all decision stick, as in
/// latched sense amplifiers), enabled while no winner is held and cleared by a global
/// reset line that the driver pulses at the end of every presentation (in the rest that
/// follows it). The first fire then decides the presentation: the losers' gates stay
/// closed, so they cannot fire in turn with the integration their slowly leaking TS
/// devices kept through the short inhibition of the paper's circuit. Training, which ends
/// every presentation at its first fire, is unaffected; reads become one race per
/// presentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hold {
    /// The paper's circuit: gates follow the comparators.
    #[default]
    Follow,
    /// Winner hold: the first winner's gate configuration is latched until the reset.
    UntilReset,
}

impl Validate for LiaParams {
    fn validate(&self, v: &mut Validator) {
        v.positive("v_bias_volts", self.v_bias_volts);
        v.positive("li_high_volts", self.li_high_volts);
        if let Choice::Fixed(x) = self.v_ref {
            let top = self.v_bias_volts.min(self.li_high_volts);
            v.check(
                "v_ref",
                x.is_finite() && x > 0.0 && x < top,
                &format!("must be > 0 and below v_bias_volts and li_high_volts (got {x})"),
                "the column levels lie between 0 V and the input levels: use e.g. Fixed(0.05) or Auto",
            );
        }
        if let Choice::Fixed(x) = self.bias {
            v.check(
                "bias",
                x.is_finite() && x > 0.0,
                &format!("must be a conductance > 0 (got {x})"),
                "a programmed cell conducts at least its HRS: use Auto or e.g. Fixed(40.0e-6)",
            );
        }
        if let Choice::Fixed(x) = self.sense {
            v.check(
                "sense",
                x.is_finite() && x >= 0.0,
                &format!("must be a conductance >= 0 (got {x})"),
                "use Auto, Fixed(0.0) for a high-impedance comparator input, or a positive value",
            );
        }
        if let Hierarchy::Groups { size } = self.hierarchy {
            v.nested("hierarchy", |v| {
                v.check(
                    "size",
                    size >= 2,
                    &format!("must be a number of rows >= 2 (got {size})"),
                    "use e.g. `hierarchy: Groups(size: 16)` (the largest group an array on a 50 mV reference keeps sense-centred), or `Flat`",
                );
            });
        }
        v.positive("diagonal_siemens", self.diagonal_siemens);
        v.positive("off_diagonal_siemens", self.off_diagonal_siemens);
        v.less_than(
            "diagonal_siemens",
            self.diagonal_siemens,
            "off_diagonal_siemens",
            self.off_diagonal_siemens,
        );
    }
}

impl LiaParams {
    /// The built-in parameters (`topologies/devices/lia.ron`).
    pub fn builtin() -> Self {
        match parse_ron(LIA_RON, Path::new("topologies/devices/lia.ron")) {
            Ok(p) => p,
            // Checked by this module's tests; reaching this is a build bug.
            Err(e) => panic!("built-in LIA file is invalid:\n{e}"),
        }
    }

    /// The built-in LIA with the winner hold (`topologies/devices/lia_winner_hold.ron`).
    pub fn builtin_winner_hold() -> Self {
        match parse_ron(
            LIA_WINNER_HOLD_RON,
            Path::new("topologies/devices/lia_winner_hold.ron"),
        ) {
            Ok(p) => p,
            // Checked by this module's tests; reaching this is a build bug.
            Err(e) => panic!(
                "built-in LIA file is invalid:
{e}"
            ),
        }
    }

    /// The built-in hierarchical LIA (`topologies/devices/lia_hierarchical.ron`).
    pub fn builtin_hierarchical() -> Self {
        match parse_ron(
            LIA_HIERARCHICAL_RON,
            Path::new("topologies/devices/lia_hierarchical.ron"),
        ) {
            Ok(p) => p,
            // Checked by this module's tests; reaching this is a build bug.
            Err(e) => panic!("built-in LIA file is invalid:\n{e}"),
        }
    }

    /// Loads a LIA parameter file.
    pub fn load(path: &Path) -> Result<Self, ParamError> {
        load_ron(path)
    }

    /// The same parameters with `V_ref` re-chosen per n (`Auto`).
    pub fn with_auto_reference(&self) -> Self {
        LiaParams {
            v_ref: Choice::Auto,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winner_hold_file_differs_from_the_paper_file_only_in_the_hold() {
        let (a, b) = (LiaParams::builtin(), LiaParams::builtin_winner_hold());
        assert_eq!((a.hold, b.hold), (Hold::Follow, Hold::UntilReset));
        assert_eq!(
            LiaParams {
                hold: Hold::Follow,
                ..b
            },
            a
        );
    }

    #[test]
    fn hierarchical_file_is_the_paper_file_with_groups() {
        let (a, h) = (LiaParams::builtin(), LiaParams::builtin_hierarchical());
        assert_eq!(h.hierarchy, Hierarchy::Groups { size: 16 });
        assert_eq!(a.hierarchy, Hierarchy::Flat);
        assert_eq!(
            LiaParams {
                hierarchy: Hierarchy::Flat,
                comparator_delay_ns: a.comparator_delay_ns,
                ..h
            },
            a
        );
        // Flat parameters serialise as before (no `hierarchy` field).
        let text = ron::to_string(&a).unwrap();
        assert!(!text.contains("hierarchy"), "{text}");
        let bad = LIA_HIERARCHICAL_RON.replace("Groups(size: 16)", "Groups(size: 1)");
        let e = parse_ron::<LiaParams>(&bad, Path::new("h.ron")).unwrap_err();
        let s = e.to_string();
        let line = 1 + bad[..bad.find("size: 1)").unwrap()].matches('\n').count();
        assert!(
            s.starts_with(&format!("h.ron:{line}:")) && s.contains("field `hierarchy.size`"),
            "{s}"
        );
        let bad = LIA_HIERARCHICAL_RON.replace("Groups(size: 16)", "Tree(16)");
        assert!(parse_ron::<LiaParams>(&bad, Path::new("h.ron")).is_err());
    }

    #[test]
    fn builtin_file_parses() {
        let p = LiaParams::builtin();
        assert_eq!(p.v_ref, Choice::Fixed(0.05));
        assert_eq!((p.v_bias_volts, p.li_high_volts), (1.5, 1.5));
    }

    #[test]
    fn bad_values_are_located() {
        let bad = LIA_RON.replace("Fixed(0.05)", "Fixed(-0.05)");
        let e = parse_ron::<LiaParams>(&bad, Path::new("lia.ron")).unwrap_err();
        let s = e.to_string();
        assert!(
            s.starts_with("lia.ron:") && s.contains("field `v_ref`"),
            "{s}"
        );
        let bad = LIA_RON
            .replace("40.0e-6", "990.0e-6")
            .replace("sense: Auto", "sense: Fixed(-1.0)");
        let e = parse_ron::<LiaParams>(&bad, Path::new("lia.ron")).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("`sense`") && s.contains("`diagonal_siemens`"),
            "{s}"
        );
    }
}
