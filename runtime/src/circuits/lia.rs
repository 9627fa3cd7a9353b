//! The lateral-inhibition array (LIA, paper Fig 4a): an n×(n+1) array of 1T1R RS cells
//! feeding n comparators whose outputs drive the shared gate lines of the n neurons'
//! synapse columns.
//!
//! # Circuit
//!
//! Row `i < n` is driven by neuron `i`'s lateral-inhibition level `V_L,i` (0 V or
//! `V_H` = 1.5 V; a "0" is driven low, not floating); row `n` is the bias row at
//! `V_B` = 1.5 V. Column line `j` joins the cells `G_ij` (row `i`, column `j`), the bias
//! cell `G_bj` and a sense conductance `G_s` to ground at comparator `j`'s inverting
//! input, so it settles at the divider voltage
//!
//! ```text
//! V_j = (Σ_i G_ij·V_L,i + G_bj·V_B) / D_j,        D_j = Σ_i G_ij + G_bj + G_s.
//! ```
//!
//! Comparator `j` has `V_ref` (paper: 50 mV) on its non-inverting input: its output (gate
//! `j`) is "1" = 3 V when `V_ref − V_j` exceeds its input offset, else 0 V. So a column
//! must stay **below** `V_ref` to keep its synapses open and rise **above** it to close
//! them.
//!
//! # Programming rule (derivation)
//!
//! Write `g_d` for the diagonal cells `G_jj`, `g_o` for the off-diagonal ones, `S =
//! (n−1)·g_o + g_d` for a column's neuron-row conductance and `D = S + G_b + G_s`. The
//! truth table gives three conditions per column `j`:
//!
//! * **quiet** (nobody fires): `V_q = G_b·V_B/D < V_ref` (gate `j` = 1);
//! * **winner** (neuron `j` alone fires): `V_w = (g_d·V_H + G_b·V_B)/D < V_ref` (gate 1);
//! * **loser** (another neuron `k` fires): `V_l = (G_kj·V_H + G_b·V_B)/D > V_ref` (gate 0).
//!
//! `V_q < V_w` always, so the winner condition implies the quiet one. The two binding
//! conditions are separated by the gap `V_l − V_w = (g_o − g_d)·V_H / D`; the best one can
//! do is to put `V_ref` in the middle of it, which gives the margin
//! `m = (g_o − g_d)·V_H / (2D)` on both sides. Hence:
//!
//! 1. **Cells.** The gap relative to the denominator, `(g_o − g_d)·V_H/((n−1)·g_o + g_d +
//!    G_b + G_s)`, grows with `g_o` and falls with `g_d`: program the **diagonal at HRS**
//!    (40 µS) and **every off-diagonal cell at LRS** (980 µS). The inactive rows, driven to
//!    0 V, are the column's pull-down; the one active row is its pull-up.
//! 2. **Centring.** `V_ref` is mid-gap when `ḡ·V_H + G_b·V_B = V_ref·D`, `ḡ = (g_d + g_o)/2`,
//!    i.e. `G_b·(V_B − V_ref) − G_s·V_ref = V_ref·S − ḡ·V_H =: R`. A cell conducts at
//!    least its HRS `g_min` and at most its LRS `g_max`, and every extra siemens in `D`
//!    shrinks `m`, so the smallest `G_b + G_s` solving it is:
//!    * `R < g_min·(V_B − V_ref)` (**sense-centred**, small n): even the weakest bias cell
//!      lifts the levels above `V_ref`: `G_b = g_min`, `G_s = (ḡ·V_H + g_min·V_B)/V_ref − S − g_min`;
//!    * `R ≤ g_max·(V_B − V_ref)` (**bias-centred**): `G_s = 0`, `G_b = R/(V_B − V_ref)`;
//!    * otherwise (**uncentred**): `G_b = g_max`, `G_s = 0`, and the levels sit below
//!      mid-gap: the loser margin `V_l − V_ref` shrinks and turns negative.
//!
//!    With `v_ref: Auto` the reference is re-chosen instead: `G_b = g_min`, `G_s = 0`,
//!    `V_ref = (ḡ·V_H + g_min·V_B)/(S + g_min)`, the largest margin the divider allows.
//!
//! The paper's n = 10 with `V_ref` = 50 mV is sense-centred: `G_b` = 40 µS, `G_s` =
//! 7.6 mS (131 Ω), `D` = 16.5 mS, levels quiet 3.6 mV, winner 7.3 mV, loser 92.7 mV, i.e.
//! margins 46.4 / 42.7 / 42.7 mV against the comparator's required 5 mV. Without a sense
//! resistor (`sense: Fixed(0.0)`, a high-impedance input) the same cells give 13.5 / 172 mV,
//! a 36.5 mV worst margin: the paper's circuit works either way.
//!
//! # Scaling
//!
//! The divider is a conductance-weighted average of its inputs, and one active row is one
//! of about n comparable weights: its contribution is diluted as `1/n`. Whatever `V_ref`,
//! bias and `G_s` (both only add to `D`):
//!
//! ```text
//! m ≤ (g_o − g_d)·V_H / (2·((n−1)·g_o + g_d)) ≈ (1 − g_min/g_max)·V_H / (2(n−1)) ≈ 0.72 V / n.
//! ```
//!
//! A larger ON/OFF ratio cannot help (the bound tends to `V_H/(2(n−1))`); only a larger
//! `V_H` or current-mode sensing (virtual-ground columns, where an inactive row carries no
//! current) would. The bias row shifts all three levels together — it can centre them on a
//! fixed `V_ref` but never widen the gap — and, being a single cell of at most `g_max`, it
//! can lift them only while `S ≤ (ḡ·V_H + g_max·(V_B − V_ref))/V_ref`. Nominal numbers
//! with the built-in devices (no variability):
//!
//! * `V_ref` = 50 mV: sense-centred up to n = 17, bias-centred up to n = 45 (margin
//!   16 mV); beyond, the loser margin falls as `≈ 3 V/n − V_ref`: 5 mV at n = 54, zero at
//!   n = 60 — from there on the losers' gates stay open and there is no inhibition at all.
//! * `V_ref` re-chosen per n (it must fall as ≈ 0.78 V/n: 13 mV at n = 64, 6.6 mV at
//!   n = 128): margin 11.4 mV at n = 64, 5.7 mV at n = 128, 5.0 mV at n = 144, 0.18 mV at
//!   n = 4096.
//!
//! Device-to-device spread lowers the worst case further (the smallest of n−1 LRS cells in
//! a column sets its loser margin): with the built-in spread the 5 mV margin holds up to
//! n = 32 with `V_ref` = 50 mV and up to n = 64 with `V_ref` re-chosen — not "thousands"
//! (see `memsnn reproduce fig4`). Two neurons firing in the same phase lift
//! every column above `V_ref` (each winner's column sees the other's LRS cell): all gates
//! close and no column learns; the hardware has no tie-break.
//!
//! # Model details
//!
//! The cells use the synapse device ([`RsParams`]): each cell is programmed open-loop to
//! the nominal device's programming coordinate of its target, and its own fabrication
//! spread (`RsParams::device`, keyed by seed, row and column) and any stuck fault give its
//! actual conductance. Read noise is not modelled (the array is a static divider). The
//! comparators have keyed input offsets (device-to-device variability). Margins are input
//! differences at the comparators (the comparator's `required_margin_volts` budgets its
//! own offset); [`Margins::after_offset_volts`] is the slack left after the drawn offsets.
//!
//! Ports — in: `i` = neuron `i`'s lateral-inhibition level ([`Payload::Level`], "1" when
//! at least half the LI high level), [`IN_CONTROL`] (the reset line of a winner hold,
//! [`Control::Rest`]); out: `j` = gate line of column `j` ([`Payload::Gate`]).
//!
//! [`Control::Rest`]: crate::engine::event::Control::Rest

use crate::engine::component::{Component, Ctx};
use crate::engine::event::{Control, Event, Payload, Port};
use devices::comparator::ComparatorParams;
use devices::params::{load_ron, parse_ron, ParamError, Validate, Validator};
use devices::rs::{RsDevice, RsParams};
use devices::variability::{key, KeyedStream};
use devices::Variability;
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// The built-in LIA parameter file.
pub const LIA_RON: &str = devices::builtin::LIA;
/// The built-in LIA with the winner hold (`hold: UntilReset`).
pub const LIA_WINNER_HOLD_RON: &str = devices::builtin::LIA_WINNER_HOLD;

/// Input: the reset line of a winner hold ([`crate::engine::event::Control::Rest`]).
pub const IN_CONTROL: Port = Port::MAX - 1;

const TAG_CELL: u64 = 0x11a_0001;
const TAG_BIAS: u64 = 0x11a_0002;
const TAG_OFFSET: u64 = 0x11a_0003;

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
}

/// Whether the LIA's gate lines follow the comparators or hold the first winner.
///
/// `UntilReset` is a circuit extension beyond the paper: a set–reset latch behind each
/// comparator output (the standard way to make a winner-take-all decision stick, as in
/// latched sense amplifiers), enabled while no winner is held and cleared by a global
/// reset line that the driver pulses at the end of every presentation ([`Control::Rest`]).
/// The first fire then decides the presentation: the losers' gates stay closed, so they
/// cannot fire in turn with the integration their slowly leaking TS devices kept through
/// the short inhibition of the paper's circuit. Training, which ends every presentation at
/// its first fire, is unaffected; reads become one race per presentation.
///
/// [`Control::Rest`]: crate::engine::event::Control::Rest
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

/// Why a design cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum LiaError {
    /// The parameters do not fit the array size or the cell device.
    #[error("LIA design: {message} — hint: {hint}")]
    Design {
        /// What is wrong.
        message: String,
        /// What to do about it.
        hint: String,
    },
}

fn design_error(message: String, hint: &str) -> LiaError {
    LiaError::Design {
        message,
        hint: hint.to_string(),
    }
}

/// How the programming rule centred the levels on `V_ref`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Regime {
    /// Bias cell at HRS; the sense conductance pulls the levels down onto `V_ref`.
    SenseCentred,
    /// No sense conductance; the bias cell lifts the levels onto `V_ref`.
    BiasCentred,
    /// The levels cannot be centred on the fixed `V_ref` (bias at its limit).
    Uncentred,
    /// `V_ref` re-chosen mid-gap.
    ReferenceCentred,
    /// Bias and sense both fixed by the user.
    Given,
}

impl Regime {
    /// Short name (for tables and JSON).
    pub fn name(&self) -> &'static str {
        match self {
            Regime::SenseCentred => "sense-centred",
            Regime::BiasCentred => "bias-centred",
            Regime::Uncentred => "uncentred",
            Regime::ReferenceCentred => "reference-centred",
            Regime::Given => "given",
        }
    }
}

/// The nominal design of an LIA for n neurons: what the programming rule chose.
#[derive(Clone, Debug, PartialEq)]
pub struct LiaDesign {
    /// Number of neurons.
    pub n: usize,
    /// Comparator reference, volts.
    pub v_ref_volts: f64,
    /// Bias row input, volts.
    pub v_bias_volts: f64,
    /// LI "1" level, volts.
    pub li_high_volts: f64,
    /// Diagonal cell target, siemens.
    pub g_diagonal_siemens: f64,
    /// Off-diagonal cell target, siemens.
    pub g_off_diagonal_siemens: f64,
    /// Bias cell target, siemens.
    pub g_bias_siemens: f64,
    /// Sense conductance to ground, siemens.
    pub g_sense_siemens: f64,
    /// How the levels were centred.
    pub regime: Regime,
}

/// Column voltages of the three single-event conditions, volts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levels {
    /// Nobody fires.
    pub quiet_volts: f64,
    /// The column's own neuron fires.
    pub winner_volts: f64,
    /// Another neuron fires.
    pub loser_volts: f64,
}

/// Worst-case comparator margins, volts (positive = correct output).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Margins {
    /// `min_j (V_ref − V_j)` with nobody firing.
    pub quiet_volts: f64,
    /// `min_j (V_ref − V_j)` with neuron j alone firing.
    pub winner_volts: f64,
    /// `min_{j, k≠j} (V_j − V_ref)` with neuron k alone firing.
    pub loser_volts: f64,
    /// The smallest slack left after each comparator's own offset (> 0: every output of
    /// the truth table is right).
    pub after_offset_volts: f64,
}

impl Margins {
    /// The smallest of the three condition margins.
    pub fn worst_volts(&self) -> f64 {
        self.quiet_volts
            .min(self.winner_volts)
            .min(self.loser_volts)
    }

    fn infinite() -> Self {
        Margins {
            quiet_volts: f64::INFINITY,
            winner_volts: f64::INFINITY,
            loser_volts: f64::INFINITY,
            after_offset_volts: f64::INFINITY,
        }
    }

    fn min_with(&mut self, o: &Margins) {
        self.quiet_volts = self.quiet_volts.min(o.quiet_volts);
        self.winner_volts = self.winner_volts.min(o.winner_volts);
        self.loser_volts = self.loser_volts.min(o.loser_volts);
        self.after_offset_volts = self.after_offset_volts.min(o.after_offset_volts);
    }

    /// One column's margins: `sum` = Σ_i G_ij, `diag` = G_jj, `min_off` = min_{k≠j} G_kj.
    fn column(
        d: &LiaDesign,
        denom: f64,
        g_bias: f64,
        diag: f64,
        min_off: f64,
        offset: f64,
    ) -> Margins {
        let b = g_bias * d.v_bias_volts;
        let vr = d.v_ref_volts;
        let q = vr - b / denom;
        let w = vr - (diag * d.li_high_volts + b) / denom;
        let l = if min_off.is_finite() {
            (min_off * d.li_high_volts + b) / denom - vr
        } else {
            f64::INFINITY
        };
        Margins {
            quiet_volts: q,
            winner_volts: w,
            loser_volts: l,
            after_offset_volts: (q - offset).min(w - offset).min(l + offset),
        }
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

    /// Applies the programming rule (module docs) for `n` neurons built from `rs` cells.
    pub fn design(&self, rs: &RsParams, n: usize) -> Result<LiaDesign, LiaError> {
        if n == 0 {
            return Err(design_error(
                "an LIA needs at least one neuron (n = 0)".into(),
                "give the number of winner-take-all neurons",
            ));
        }
        let (lo, hi) = (rs.g_min_siemens, rs.g_max_siemens);
        let inside = |g: f64| g >= lo * (1.0 - 1e-9) && g <= hi * (1.0 + 1e-9);
        for (name, g) in [
            ("diagonal_siemens", self.diagonal_siemens),
            ("off_diagonal_siemens", self.off_diagonal_siemens),
        ]
        .into_iter()
        .chain(match self.bias {
            Choice::Fixed(g) => Some(("bias", g)),
            Choice::Auto => None,
        }) {
            if !inside(g) {
                return Err(design_error(
                    format!("`{name}` = {g:e} S lies outside the cell device's range [{lo:e}, {hi:e}] S"),
                    "program targets between the device's HRS and LRS (rs_hfo2_1t1r.ron)",
                ));
            }
        }
        let (vh, vb) = (self.li_high_volts, self.v_bias_volts);
        let (gd, go) = (self.diagonal_siemens, self.off_diagonal_siemens);
        let s = (n - 1) as f64 * go + gd;
        let gbar = 0.5 * (gd + go);
        let centre_sense = |gb: f64, vr: f64| (gbar * vh + gb * vb) / vr - s - gb;
        let (v_ref, g_bias, g_sense, regime) = match self.v_ref {
            Choice::Auto => {
                let gb = match self.bias {
                    Choice::Fixed(g) => g,
                    Choice::Auto => lo,
                };
                let gs = match self.sense {
                    Choice::Fixed(g) => g,
                    Choice::Auto => 0.0,
                };
                let vr = (gbar * vh + gb * vb) / (s + gb + gs);
                (vr, gb, gs, Regime::ReferenceCentred)
            }
            Choice::Fixed(vr) => match (self.bias, self.sense) {
                (Choice::Fixed(gb), Choice::Fixed(gs)) => (vr, gb, gs, Regime::Given),
                (Choice::Fixed(gb), Choice::Auto) => {
                    let gs = centre_sense(gb, vr);
                    if gs >= 0.0 {
                        (vr, gb, gs, Regime::SenseCentred)
                    } else {
                        (vr, gb, 0.0, Regime::Uncentred)
                    }
                }
                (Choice::Auto, sense) => {
                    let gs_fixed = match sense {
                        Choice::Fixed(g) => g,
                        Choice::Auto => 0.0,
                    };
                    let r = vr * (s + gs_fixed) - gbar * vh;
                    let gb = r / (vb - vr);
                    if gb < lo {
                        match sense {
                            Choice::Auto => (vr, lo, centre_sense(lo, vr), Regime::SenseCentred),
                            Choice::Fixed(_) => (vr, lo, gs_fixed, Regime::Uncentred),
                        }
                    } else if gb <= hi {
                        (vr, gb, gs_fixed, Regime::BiasCentred)
                    } else {
                        (vr, hi, gs_fixed, Regime::Uncentred)
                    }
                }
            },
        };
        Ok(LiaDesign {
            n,
            v_ref_volts: v_ref,
            v_bias_volts: vb,
            li_high_volts: vh,
            g_diagonal_siemens: gd,
            g_off_diagonal_siemens: go,
            g_bias_siemens: g_bias,
            g_sense_siemens: g_sense,
            regime,
        })
    }
}

impl LiaDesign {
    /// A column's nominal denominator `D`, siemens.
    pub fn nominal_denominator_siemens(&self) -> f64 {
        (self.n - 1) as f64 * self.g_off_diagonal_siemens
            + self.g_diagonal_siemens
            + self.g_bias_siemens
            + self.g_sense_siemens
    }

    /// Column levels with every cell at its target.
    pub fn nominal_levels(&self) -> Levels {
        let d = self.nominal_denominator_siemens();
        let b = self.g_bias_siemens * self.v_bias_volts;
        Levels {
            quiet_volts: b / d,
            winner_volts: (self.g_diagonal_siemens * self.li_high_volts + b) / d,
            loser_volts: (self.g_off_diagonal_siemens * self.li_high_volts + b) / d,
        }
    }

    /// Margins with every cell at its target and no comparator offset.
    pub fn nominal_margins(&self) -> Margins {
        let l = self.nominal_levels();
        let vr = self.v_ref_volts;
        let loser = if self.n > 1 {
            l.loser_volts - vr
        } else {
            f64::INFINITY
        };
        let m = Margins {
            quiet_volts: vr - l.quiet_volts,
            winner_volts: vr - l.winner_volts,
            loser_volts: loser,
            after_offset_volts: 0.0,
        };
        Margins {
            after_offset_volts: m.worst_volts(),
            ..m
        }
    }

    /// Upper bound of the margin of any divider LIA with these cells, whatever `V_ref`,
    /// bias and sense conductance: `(g_o − g_d)·V_H / (2·((n−1)·g_o + g_d))`, volts.
    pub fn margin_bound_volts(&self) -> f64 {
        let (gd, go) = (self.g_diagonal_siemens, self.g_off_diagonal_siemens);
        (go - gd) * self.li_high_volts / (2.0 * ((self.n - 1) as f64 * go + gd))
    }
}

/// Draws the programmed cells of one LIA instance (shared by [`LiaArray::new`] and
/// [`sweep_margins`], so both see exactly the same devices).
struct Draw<'a> {
    rs: &'a RsParams,
    variability: Variability,
    seed: u64,
    p_diag: f64,
    p_off: f64,
    offset_sigma: f64,
}

impl<'a> Draw<'a> {
    fn new(
        d: &LiaDesign,
        rs: &'a RsParams,
        cmp: &ComparatorParams,
        variability: Variability,
        seed: u64,
    ) -> Self {
        let nominal = rs.nominal_device();
        Draw {
            rs,
            variability,
            seed,
            p_diag: nominal.p_of(d.g_diagonal_siemens),
            p_off: nominal.p_of(d.g_off_diagonal_siemens),
            offset_sigma: cmp.offset_sigma_volts,
        }
    }

    #[inline]
    fn cell(&self, i: usize, j: usize) -> f32 {
        let p = if i == j { self.p_diag } else { self.p_off };
        let k = key(self.seed, &[TAG_CELL, i as u64, j as u64]);
        self.rs.device(k, self.variability).conductance_siemens(p) as f32
    }

    fn bias_device(&self, j: usize) -> RsDevice {
        self.rs
            .device(key(self.seed, &[TAG_BIAS, j as u64]), self.variability)
    }

    fn p_bias(&self, d: &LiaDesign) -> f64 {
        self.rs.nominal_device().p_of(d.g_bias_siemens)
    }

    fn offset(&self, j: usize) -> f64 {
        if self.variability.device_to_device && self.offset_sigma > 0.0 {
            let mut s = KeyedStream::new(key(self.seed, &[TAG_OFFSET, j as u64]));
            self.offset_sigma * s.next_normal()
        } else {
            0.0
        }
    }
}

/// One fabricated and programmed LIA: conductances, comparator offsets and the divider
/// arithmetic (pure, no events).
#[derive(Clone, Debug)]
pub struct LiaArray {
    design: LiaDesign,
    comparator: ComparatorParams,
    /// Row-major `n×n`: `g[i*n + j]` joins neuron row `i` to column `j`, siemens.
    g: Vec<f32>,
    g_bias: Vec<f64>,
    denom: Vec<f64>,
    min_off: Vec<f64>,
    offsets: Vec<f64>,
}

impl LiaArray {
    /// Programs an array to `design` with `rs` cells and `comparator`s; every random draw
    /// is keyed by `seed` and the cell's row and column (or the comparator's index).
    pub fn new(
        design: &LiaDesign,
        rs: &RsParams,
        comparator: &ComparatorParams,
        variability: Variability,
        seed: u64,
    ) -> Self {
        let n = design.n;
        let draw = Draw::new(design, rs, comparator, variability, seed);
        let mut g = Vec::with_capacity(n * n);
        for i in 0..n {
            g.extend((0..n).map(|j| draw.cell(i, j)));
        }
        let p_bias = draw.p_bias(design);
        let g_bias: Vec<f64> = (0..n)
            .map(|j| draw.bias_device(j).conductance_siemens(p_bias))
            .collect();
        let offsets = (0..n).map(|j| draw.offset(j)).collect();
        // Column sums in ascending row order (the order `sweep_margins` uses too).
        let mut sums = vec![0.0f64; n];
        let mut min_off = vec![f64::INFINITY; n];
        for (i, row) in g.chunks_exact(n).enumerate() {
            for (j, &x) in row.iter().enumerate() {
                sums[j] += f64::from(x);
                if i != j {
                    min_off[j] = min_off[j].min(f64::from(x));
                }
            }
        }
        let denom = sums
            .iter()
            .zip(&g_bias)
            .map(|(s, b)| s + b + design.g_sense_siemens)
            .collect();
        LiaArray {
            design: design.clone(),
            comparator: comparator.clone(),
            g,
            g_bias,
            denom,
            min_off,
            offsets,
        }
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.design.n
    }

    /// The nominal design the array was programmed to.
    pub fn design(&self) -> &LiaDesign {
        &self.design
    }

    /// Conductance of the cell joining neuron row `i` to column `j`, siemens.
    pub fn conductance(&self, i: usize, j: usize) -> f32 {
        self.g[i * self.n() + j]
    }

    /// All neuron-row cells, row-major, siemens.
    pub fn conductances(&self) -> &[f32] {
        &self.g
    }

    /// The bias row's cells, siemens.
    pub fn bias_siemens(&self) -> &[f64] {
        &self.g_bias
    }

    /// The sense conductance of every column, siemens.
    pub fn sense_siemens(&self) -> f64 {
        self.design.g_sense_siemens
    }

    /// The comparators' input offsets, volts.
    pub fn offsets(&self) -> &[f64] {
        &self.offsets
    }

    /// Comparator (inverting) input voltages with the rows in `active` at the LI high
    /// level and all others driven to 0 V. `O(n·|active|)`; rows are summed in ascending
    /// order (an unsorted `active` is sorted first), then the bias term is added.
    pub fn comparator_inputs(&self, active: &[usize]) -> Vec<f64> {
        self.comparator_inputs_of(active, 0..self.n())
    }

    /// [`Self::comparator_inputs`] of the columns in `columns` only (the same values).
    pub fn comparator_inputs_of(&self, active: &[usize], columns: Range<usize>) -> Vec<f64> {
        let n = self.n();
        let sorted;
        let rows = if active.windows(2).all(|w| w[0] < w[1]) {
            active
        } else {
            let mut v = active.to_vec();
            v.sort_unstable();
            v.dedup();
            sorted = v;
            &sorted
        };
        let vh = self.design.li_high_volts;
        let mut acc = vec![0.0f64; columns.len()];
        for &i in rows {
            assert!(i < n, "active row {i} out of range (n = {n})");
            let row = &self.g[i * n + columns.start..i * n + columns.end];
            for (a, &x) in acc.iter_mut().zip(row) {
                *a += f64::from(x) * vh;
            }
        }
        let vb = self.design.v_bias_volts;
        acc.iter()
            .zip(&self.g_bias[columns.clone()])
            .zip(&self.denom[columns])
            .map(|((a, b), d)| (a + b * vb) / d)
            .collect()
    }

    /// Gate voltages (comparator outputs) with the rows in `active` high.
    pub fn gates(&self, active: &[usize]) -> Vec<f32> {
        self.gates_of(active, 0..self.n())
    }

    /// [`Self::gates`] of the columns in `columns` only (the same values).
    pub fn gates_of(&self, active: &[usize], columns: Range<usize>) -> Vec<f32> {
        let vr = self.design.v_ref_volts;
        let offsets = &self.offsets[columns.clone()];
        self.comparator_inputs_of(active, columns)
            .iter()
            .zip(offsets)
            .map(|(&v, &o)| self.comparator.output_volts(vr, v, o) as f32)
            .collect()
    }

    /// Worst-case margins over all columns and all single-winner cases, `O(n)` (each
    /// column's loser case only needs its smallest off-diagonal cell, kept at build time).
    pub fn margins(&self) -> Margins {
        let n = self.n();
        let mut m = Margins::infinite();
        for j in 0..n {
            let diag = f64::from(self.g[j * n + j]);
            let c = Margins::column(
                &self.design,
                self.denom[j],
                self.g_bias[j],
                diag,
                self.min_off[j],
                self.offsets[j],
            );
            m.min_with(&c);
        }
        m
    }
}

/// Worst-case margins of one drawn LIA instance (same devices as [`LiaArray::new`] with
/// the same `seed`) for several designs that differ only in `V_ref`, bias and sense
/// conductance, without storing the array: each column is drawn once, in `O(n)` memory,
/// on up to `threads` threads (the result does not depend on `threads`).
pub fn sweep_margins(
    designs: &[LiaDesign],
    rs: &RsParams,
    comparator: &ComparatorParams,
    variability: Variability,
    seed: u64,
    threads: usize,
) -> Result<Vec<Margins>, LiaError> {
    let Some(d0) = designs.first() else {
        return Ok(Vec::new());
    };
    let same = |d: &LiaDesign| {
        d.n == d0.n
            && d.g_diagonal_siemens == d0.g_diagonal_siemens
            && d.g_off_diagonal_siemens == d0.g_off_diagonal_siemens
    };
    if !designs.iter().all(same) {
        return Err(design_error(
            "sweep_margins needs designs with the same n and cell targets".into(),
            "only V_ref, bias and sense may differ between the designs of one sweep",
        ));
    }
    let n = d0.n;
    let draw = Draw::new(d0, rs, comparator, variability, seed);
    let p_bias: Vec<f64> = designs.iter().map(|d| draw.p_bias(d)).collect();
    let columns = |range: std::ops::Range<usize>| {
        let mut out = vec![Margins::infinite(); designs.len()];
        for j in range {
            let (mut sum, mut diag, mut min_off) = (0.0f64, 0.0f64, f64::INFINITY);
            for i in 0..n {
                let x = f64::from(draw.cell(i, j));
                sum += x;
                if i == j {
                    diag = x;
                } else {
                    min_off = min_off.min(x);
                }
            }
            let bias_dev = draw.bias_device(j);
            let offset = draw.offset(j);
            for ((d, pb), m) in designs.iter().zip(&p_bias).zip(out.iter_mut()) {
                let gb = bias_dev.conductance_siemens(*pb);
                let denom = sum + gb + d.g_sense_siemens;
                m.min_with(&Margins::column(d, denom, gb, diag, min_off, offset));
            }
        }
        out
    };
    let threads = threads.clamp(1, n.div_ceil(16).max(1));
    let chunk = n.div_ceil(threads);
    let parts: Vec<Vec<Margins>> = if threads == 1 {
        vec![columns(0..n)]
    } else {
        std::thread::scope(|sc| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let r = (t * chunk).min(n)..((t + 1) * chunk).min(n);
                    let f = &columns;
                    sc.spawn(move || f(r))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("LIA sweep worker panicked"))
                .collect()
        })
    };
    let mut out = vec![Margins::infinite(); designs.len()];
    for part in &parts {
        for (o, m) in out.iter_mut().zip(part) {
            o.min_with(m);
        }
    }
    Ok(out)
}

/// The LIA as a component: levels in, gate lines out. One component may hold all the
/// comparators or a *bank* of them (a range of columns, [`Lia::bank`]): every comparator
/// reads its own column line of the shared array, so banks give exactly the gates of the
/// whole, and large layers split the work of a fire (hundreds of gate lines) over
/// components that executors can run in parallel.
#[derive(Clone, Debug)]
pub struct Lia {
    array: Arc<LiaArray>,
    columns: Range<usize>,
    threshold_volts: f32,
    active: Vec<usize>,
    gates: Vec<f32>,
    target: Vec<f32>,
    delay_ns: crate::engine::time::Ns,
    wake: Option<crate::engine::time::Ns>,
    hold: Hold,
    /// A winner's gate configuration is held (with `Hold::UntilReset`).
    held: bool,
}

impl Lia {
    /// A component with all the comparators of a programmed array, in the quiet state.
    pub fn new(array: LiaArray) -> Self {
        let n = array.n();
        Self::bank(Arc::new(array), 0..n)
    }

    /// The comparators of columns `columns` of a shared array (gate line `j` on output
    /// port `j`), in the quiet state. Every bank receives every neuron's LI level.
    pub fn bank(array: Arc<LiaArray>, columns: Range<usize>) -> Self {
        let columns = columns.start.min(array.n())..columns.end.min(array.n());
        let gates = array.gates_of(&[], columns.clone());
        Lia {
            threshold_volts: (0.5 * array.design().li_high_volts) as f32,
            array,
            columns,
            active: Vec::new(),
            target: gates.clone(),
            gates,
            delay_ns: 0,
            wake: None,
            hold: Hold::Follow,
            held: false,
        }
    }

    /// Neurons whose LI level is "1", ascending.
    pub fn active(&self) -> &[usize] {
        &self.active
    }

    /// The gate voltages last emitted, one per column of this component's range.
    pub fn gate_levels(&self) -> &[f32] {
        &self.gates
    }

    /// The columns whose comparators this component holds.
    pub fn columns(&self) -> Range<usize> {
        self.columns.clone()
    }

    /// The programmed array.
    pub fn array(&self) -> &LiaArray {
        &self.array
    }
}

impl Lia {
    /// Comparator propagation delay: gate lines follow the LI inputs `ns` later, and
    /// changes shorter than that are filtered out (0 = ideal, instantaneous comparators).
    /// A delay keeps two neurons that fire at the same instant from starting a zero-time
    /// oscillation (both gates close, both L1 fall, both gates open, ...): with it the race
    /// runs at the comparators' speed until the clock latches it.
    pub fn with_delay(mut self, ns: crate::engine::time::Ns) -> Self {
        self.delay_ns = ns;
        self
    }

    /// Follow the comparators or hold the first winner (see [`Hold`]).
    pub fn with_hold(mut self, hold: Hold) -> Self {
        self.hold = hold;
        self
    }

    /// Whether a winner's gate configuration is held now.
    pub fn is_holding(&self) -> bool {
        self.held
    }

    /// Sets every gate line to its target level, emitting the changes; with a winner hold,
    /// latches a configuration that closes any gate.
    fn drive(&mut self, ctx: &mut Ctx) {
        if self.held {
            return;
        }
        if self.hold == Hold::UntilReset && !self.active.is_empty() {
            self.held = true;
        }
        let j0 = self.columns.start;
        for (k, (old, &v)) in self.gates.iter_mut().zip(&self.target).enumerate() {
            if *old != v {
                *old = v;
                ctx.emit((j0 + k) as Port, Payload::Gate { volts: v });
                ctx.record("gate", (j0 + k) as u32, f64::from(v));
            }
        }
    }
}

impl Component for Lia {
    fn kind(&self) -> &'static str {
        "lia"
    }

    fn start(&mut self, ctx: &mut Ctx) {
        self.gates = self.array.gates_of(&self.active, self.columns.clone());
        let j0 = self.columns.start;
        for (k, &v) in self.gates.iter().enumerate() {
            ctx.emit((j0 + k) as Port, Payload::Gate { volts: v });
            ctx.record("gate", (j0 + k) as u32, f64::from(v));
        }
    }

    fn handle(&mut self, ev: &Event, ctx: &mut Ctx) {
        if let Payload::Wake { .. } = ev.payload {
            if self.wake == Some(ev.time) {
                self.wake = None;
                self.drive(ctx);
            }
            return;
        }
        if let Payload::Control(Control::Rest) = ev.payload {
            // The reset line: release a held winner; the gates follow the comparators again.
            if self.held {
                self.held = false;
                self.target = self.array.gates_of(&self.active, self.columns.clone());
                self.drive(ctx);
            }
            return;
        }
        let Payload::Level { volts } = ev.payload else {
            return;
        };
        let i = ev.port as usize;
        if i >= self.array.n() {
            debug_assert!(false, "LIA level on port {i} (n = {})", self.array.n());
            return;
        }
        let on = volts >= self.threshold_volts;
        match (self.active.binary_search(&i), on) {
            (Err(pos), true) => self.active.insert(pos, i),
            (Ok(pos), false) => {
                self.active.remove(pos);
            }
            _ => return,
        }
        if self.held {
            return;
        }
        self.target = self.array.gates_of(&self.active, self.columns.clone());
        if self.delay_ns == 0 {
            self.drive(ctx);
        } else if self.wake.is_none() && self.target != self.gates {
            let at = ctx.now() + self.delay_ns;
            self.wake = Some(at);
            ctx.wake_at(at, 0);
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::component::Emission;
    use crate::engine::probe::Record;
    use crate::engine::time::{Clock, Ns};
    use devices::DeviceSet;

    fn parts() -> (LiaParams, RsParams, ComparatorParams) {
        let set = DeviceSet::builtin();
        (LiaParams::builtin(), set.synapse, set.comparator)
    }

    fn array(n: usize, params: &LiaParams, var: Variability, seed: u64) -> LiaArray {
        let (_, rs, cmp) = parts();
        let d = params.design(&rs, n).unwrap();
        LiaArray::new(&d, &rs, &cmp, var, seed)
    }

    fn only(n: usize, j: Option<usize>) -> Vec<f32> {
        (0..n)
            .map(|k| {
                if j.is_none() || j == Some(k) {
                    3.0
                } else {
                    0.0
                }
            })
            .collect()
    }

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
        let p = LiaParams {
            bias: Choice::Fixed(2e-3),
            ..LiaParams::builtin()
        };
        let (_, rs, _) = parts();
        assert!(p.design(&rs, 10).is_err());
        assert!(LiaParams::builtin().design(&rs, 0).is_err());
    }

    #[test]
    fn rule_for_ten_neurons() {
        let (p, rs, _) = parts();
        let d = p.design(&rs, 10).unwrap();
        assert_eq!(d.regime, Regime::SenseCentred);
        assert_eq!(d.g_bias_siemens, 40e-6);
        assert!(
            (d.g_sense_siemens - 7.6e-3).abs() < 1e-9,
            "{}",
            d.g_sense_siemens
        );
        let l = d.nominal_levels();
        assert!((0.5 * (l.winner_volts + l.loser_volts) - 0.05).abs() < 1e-12);
        let m = d.nominal_margins();
        assert!(
            (m.winner_volts - 0.04273).abs() < 1e-4
                && (m.loser_volts - m.winner_volts).abs() < 1e-12
        );
        // Regimes with a fixed 50 mV reference, and the re-chosen reference.
        let regime = |n| p.design(&rs, n).unwrap().regime;
        assert_eq!(regime(17), Regime::SenseCentred);
        assert_eq!(regime(18), Regime::BiasCentred);
        assert_eq!(regime(45), Regime::BiasCentred);
        assert_eq!(regime(46), Regime::Uncentred);
        assert!(p.design(&rs, 59).unwrap().nominal_margins().loser_volts > 0.0);
        assert!(p.design(&rs, 60).unwrap().nominal_margins().loser_volts < 0.0);
        let auto = p.with_auto_reference();
        for n in [10, 64, 145, 4096] {
            let d = auto.design(&rs, n).unwrap();
            let m = d.nominal_margins();
            assert!((m.winner_volts - m.loser_volts).abs() < 1e-12);
            assert!(m.winner_volts <= d.margin_bound_volts());
        }
    }

    #[test]
    fn truth_table_ten_neurons_with_variability() {
        let a = array(10, &LiaParams::builtin(), Variability::FULL, 7);
        assert_eq!(a.gates(&[]), only(10, None));
        for i in 0..10 {
            assert_eq!(a.gates(&[i]), only(10, Some(i)), "winner {i}");
        }
        let m = a.margins();
        assert!(
            m.worst_volts() > 0.03 && m.after_offset_volts > 0.03,
            "{m:?}"
        );
        // Without a sense resistor the paper's circuit still works.
        let p = LiaParams {
            sense: Choice::Fixed(0.0),
            ..LiaParams::builtin()
        };
        let b = array(10, &p, Variability::FULL, 7);
        for i in 0..10 {
            assert_eq!(b.gates(&[i]), only(10, Some(i)), "winner {i}");
        }
    }

    #[test]
    fn two_winners_close_every_gate() {
        // Each winner's column sees the other winner's LRS cell: it rises above V_ref like
        // a loser's. All synapses are inhibited in that phase; nobody learns.
        let a = array(10, &LiaParams::builtin(), Variability::FULL, 7);
        assert_eq!(a.gates(&[2, 5]), vec![0.0; 10]);
        assert_eq!(a.gates(&[5, 2]), a.gates(&[2, 5]));
        let v = a.comparator_inputs(&[2, 5]);
        assert!(v.iter().all(|&x| x > 0.05), "{v:?}");
    }

    #[test]
    fn same_seed_same_array() {
        let p = LiaParams::builtin();
        let (a, b) = (
            array(12, &p, Variability::FULL, 3),
            array(12, &p, Variability::FULL, 3),
        );
        assert_eq!(a.conductances(), b.conductances());
        assert_eq!(a.offsets(), b.offsets());
        assert_eq!(a.bias_siemens(), b.bias_siemens());
        assert_eq!(a.comparator_inputs(&[4]), b.comparator_inputs(&[4]));
        let c = array(12, &p, Variability::FULL, 4);
        assert_ne!(a.conductances(), c.conductances());
        assert_ne!(a.offsets(), c.offsets());
        let nom = array(12, &p, Variability::NONE, 3);
        assert!(nom.offsets().iter().all(|&o| o == 0.0));
        assert_eq!(nom.conductance(0, 0), 40e-6f32);
        assert!((nom.conductance(0, 1) - 980e-6).abs() < 1e-9);
    }

    #[test]
    fn inputs_match_the_divider_formula() {
        let a = array(6, &LiaParams::builtin(), Variability::FULL, 11);
        let d = a.design().clone();
        let active = [1usize, 4];
        let v = a.comparator_inputs(&active);
        for (j, vj) in v.iter().enumerate() {
            let col = |i: usize| f64::from(a.conductance(i, j));
            let num: f64 = active
                .iter()
                .map(|&i| col(i) * d.li_high_volts)
                .sum::<f64>()
                + a.bias_siemens()[j] * d.v_bias_volts;
            let den: f64 = (0..6).map(col).sum::<f64>() + a.bias_siemens()[j] + a.sense_siemens();
            assert!((vj - num / den).abs() < 1e-12);
        }
    }

    #[test]
    fn streaming_sweep_matches_the_array() {
        let (p, rs, cmp) = parts();
        for n in [1usize, 10, 37] {
            let designs = [
                p.design(&rs, n).unwrap(),
                p.with_auto_reference().design(&rs, n).unwrap(),
            ];
            for threads in [1, 3] {
                let s = sweep_margins(&designs, &rs, &cmp, Variability::FULL, 5, threads).unwrap();
                for (d, m) in designs.iter().zip(&s) {
                    let a = LiaArray::new(d, &rs, &cmp, Variability::FULL, 5);
                    assert_eq!(a.margins(), *m, "n = {n}");
                }
            }
        }
        let mixed = [p.design(&rs, 10).unwrap(), p.design(&rs, 11).unwrap()];
        assert!(sweep_margins(&mixed, &rs, &cmp, Variability::FULL, 5, 1).is_err());
    }

    #[test]
    fn margins_against_n_show_where_it_fails() {
        let (p, rs, cmp) = parts();
        let need = cmp.required_margin_volts;
        let worst = |params: &LiaParams, n: usize| {
            let d = params.design(&rs, n).unwrap();
            (0..3)
                .map(|t| {
                    let m =
                        sweep_margins(std::slice::from_ref(&d), &rs, &cmp, Variability::FULL, t, 2);
                    m.unwrap()[0].worst_volts()
                })
                .fold(f64::INFINITY, f64::min)
        };
        // Paper's fixed 50 mV reference: fine at 32, the losers' gates stay open at 64.
        assert!(worst(&p, 10) > need && worst(&p, 32) > need);
        assert!(worst(&p, 64) < 0.0);
        let a = array(64, &p, Variability::FULL, 1);
        assert!(
            a.gates(&[0]).iter().skip(1).any(|&g| g == 3.0),
            "some loser stays open"
        );
        // Re-chosen reference: more room, but the 1/n dilution ends it near 100.
        let auto = p.with_auto_reference();
        assert!(worst(&auto, 64) > need);
        assert!(worst(&auto, 128) < need && worst(&auto, 256) < need);
        let m = worst(&auto, 1024);
        assert!(m > 0.0 && m < 1e-3, "{m}");
    }

    fn run(lia: &mut Lia, events: &[(u32, f32)], start: bool) -> Vec<Emission> {
        let clock = Clock::default();
        let (mut em, mut wakes, mut recs): (Vec<Emission>, Vec<(Ns, u64)>, Vec<Record>) =
            (Vec::new(), Vec::new(), Vec::new());
        if start {
            let mut ctx = Ctx::new(0, 0, &clock, &mut em, &mut wakes, &mut recs, false);
            lia.start(&mut ctx);
        }
        for (seq, &(port, volts)) in events.iter().enumerate() {
            let ev = Event {
                time: 1000,
                delta: 0,
                dst: 0,
                port,
                src: 1 + port,
                seq: seq as u64,
                payload: Payload::Level { volts },
            };
            let mut ctx = Ctx::new(1000, 0, &clock, &mut em, &mut wakes, &mut recs, false);
            lia.handle(&ev, &mut ctx);
        }
        assert!(wakes.is_empty());
        em
    }

    /// Delivers the reset line's pulse ([`Control::Rest`]) and returns what it emitted.
    fn reset(lia: &mut Lia) -> Vec<Emission> {
        let clock = Clock::default();
        let (mut em, mut wakes, mut recs): (Vec<Emission>, Vec<(Ns, u64)>, Vec<Record>) =
            (Vec::new(), Vec::new(), Vec::new());
        let ev = Event {
            time: 2000,
            delta: 0,
            dst: 0,
            port: IN_CONTROL,
            src: 99,
            seq: 0,
            payload: Payload::Control(Control::Rest),
        };
        let mut ctx = Ctx::new(2000, 0, &clock, &mut em, &mut wakes, &mut recs, false);
        lia.handle(&ev, &mut ctx);
        em
    }

    #[test]
    fn winner_hold_keeps_the_first_winner_until_the_reset_line() {
        let mut lia = Lia::new(array(10, &LiaParams::builtin(), Variability::FULL, 9))
            .with_hold(Hold::UntilReset);
        run(&mut lia, &[], true);
        // Neuron 3 fires: the others' gates close and the configuration is held.
        let em = run(&mut lia, &[(3, 1.5)], false);
        assert_eq!(em.len(), 9);
        assert!(lia.is_holding());
        // Its LI output falls after the refractory period, neuron 7 fires later: nothing
        // changes on the gate lines while held (the levels are still tracked).
        assert!(run(&mut lia, &[(3, 0.0), (7, 1.5), (7, 0.0)], false).is_empty());
        assert_eq!(lia.gate_levels(), only(10, Some(3)).as_slice());
        assert!(lia.active().is_empty());
        // The reset line releases it: nobody fires, every gate reopens.
        let em = reset(&mut lia);
        assert_eq!(
            em,
            (0..10)
                .filter(|&j| j != 3)
                .map(|j| gate(j, 3.0))
                .collect::<Vec<_>>()
        );
        assert!(!lia.is_holding());
        // The paper's circuit ignores the reset line.
        let mut follow = Lia::new(array(10, &LiaParams::builtin(), Variability::FULL, 9));
        run(&mut follow, &[], true);
        run(&mut follow, &[(3, 1.5)], false);
        assert!(reset(&mut follow).is_empty() && !follow.is_holding());
    }

    fn gate(port: Port, volts: f32) -> Emission {
        Emission {
            port,
            payload: Payload::Gate { volts },
        }
    }

    #[test]
    fn component_emits_changed_gates() {
        let mut lia = Lia::new(array(10, &LiaParams::builtin(), Variability::FULL, 9));
        let em = run(&mut lia, &[], true);
        assert_eq!(em, (0..10).map(|j| gate(j, 3.0)).collect::<Vec<_>>());
        // Neuron 3 fires: every other gate closes; gate 3 stays open (not re-sent).
        let em = run(&mut lia, &[(3, 1.5)], false);
        let want: Vec<_> = (0..10).filter(|&j| j != 3).map(|j| gate(j, 0.0)).collect();
        assert_eq!(em, want);
        assert_eq!(lia.active(), &[3]);
        assert_eq!(lia.gate_levels(), only(10, Some(3)).as_slice());
        // A repeated level changes nothing; below half of 1.5 V is a "0".
        assert!(run(&mut lia, &[(3, 1.4)], false).is_empty());
        // Neuron 7 fires too: gate 3 closes as well.
        assert_eq!(run(&mut lia, &[(7, 1.5)], false), vec![gate(3, 0.0)]);
        assert_eq!(lia.active(), &[3, 7]);
        // Neuron 3 releases: neuron 7 is the lone winner; then 7 releases: all reopen.
        let em = run(&mut lia, &[(3, 0.0), (7, 0.7)], false);
        let want: Vec<_> = std::iter::once(gate(7, 3.0))
            .chain((0..10).filter(|&j| j != 7).map(|j| gate(j, 3.0)))
            .collect();
        assert_eq!(em, want);
        assert!(lia.active().is_empty());
    }
}
