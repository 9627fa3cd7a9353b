//! The LIA's programming rule: how the cells, the bias row and the sense conductance are
//! chosen for n neurons, and the nominal levels and margins that follow.
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
//! a column sets its loser margin): with the built-in spread the required margin holds for
//! tens of neurons, not "thousands" (`memsnn reproduce fig4` measures the largest n; the
//! circuit extension in [`super::hierarchy`] keeps every divider small instead, and
//! `memsnn reproduce lia-scaling` compares the two). Two neurons firing in the same phase lift
//! every column above `V_ref` (each winner's column sees the other's LRS cell): all gates
//! close and no column learns; the hardware has no tie-break.

use super::params::{Choice, LiaParams};
use crate::rs::RsParams;
use serde::{Deserialize, Serialize};

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

pub(crate) fn design_error(message: String, hint: &str) -> LiaError {
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

    pub(crate) fn infinite() -> Self {
        Margins {
            quiet_volts: f64::INFINITY,
            winner_volts: f64::INFINITY,
            loser_volts: f64::INFINITY,
            after_offset_volts: f64::INFINITY,
        }
    }

    pub(crate) fn min_with(&mut self, o: &Margins) {
        self.quiet_volts = self.quiet_volts.min(o.quiet_volts);
        self.winner_volts = self.winner_volts.min(o.winner_volts);
        self.loser_volts = self.loser_volts.min(o.loser_volts);
        self.after_offset_volts = self.after_offset_volts.min(o.after_offset_volts);
    }

    /// One column's margins: `sum` = Σ_i G_ij, `diag` = G_jj, `min_off` = min_{k≠j} G_kj.
    pub(crate) fn column(
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

    /// A lower bound of the worst-case margin, volts, with the cells' device-to-device
    /// spread and the comparators' offsets at `k_sigma` standard deviations, all in the
    /// harmful direction at once (first order in the spreads):
    ///
    /// ```text
    /// m ≥ m_nom − k·(σ_o·g_o·V_H + σ_b·G_b·V_B + σ_o·g_o·√(n−1)·V_l)/D − k·σ_c
    /// ```
    ///
    /// `m_nom` is the nominal margin; the terms are the loser's pull-up cell low (LRS
    /// spread `σ_o` = `g_max_cv`; it dominates the winner's HRS term, `g_d ≪ g_o`), the
    /// bias cell off (`σ_b` = the larger of the two cvs), the column's `n − 1` other cells
    /// summing high (the denominator, `√(n−1)` independent draws, scaling the loser level
    /// `V_l`) and the comparator offset (`σ_c`). A column holds its margin with probability
    /// about `1 − Φ(−k)` per term; `k` = 5 leaves ~3·10⁻⁷ per device (thousands of devices
    /// per layer). Negative: no guarantee at that `k`.
    pub fn spread_margin_bound_volts(
        &self,
        rs: &crate::rs::RsParams,
        comparator: &crate::comparator::ComparatorParams,
        k_sigma: f64,
    ) -> f64 {
        let d2d = &rs.device_to_device;
        let (so, sb) = (d2d.g_max_cv, d2d.g_max_cv.max(d2d.g_min_cv));
        let dn = self.nominal_denominator_siemens();
        let go = self.g_off_diagonal_siemens;
        let vl = self.nominal_levels().loser_volts;
        let others = ((self.n.max(1) - 1) as f64).sqrt();
        let cells = so * go * self.li_high_volts
            + sb * self.g_bias_siemens * self.v_bias_volts
            + so * go * others * vl;
        self.nominal_margins().worst_volts()
            - k_sigma * cells / dn
            - k_sigma * comparator.offset_sigma_volts
    }

    /// Upper bound of the margin of any divider LIA with these cells, whatever `V_ref`,
    /// bias and sense conductance: `(g_o − g_d)·V_H / (2·((n−1)·g_o + g_d))`, volts.
    pub fn margin_bound_volts(&self) -> f64 {
        let (gd, go) = (self.g_diagonal_siemens, self.g_off_diagonal_siemens);
        (go - gd) * self.li_high_volts / (2.0 * ((self.n - 1) as f64 * go + gd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::DeviceSet;

    fn parts() -> (LiaParams, RsParams) {
        (LiaParams::builtin(), DeviceSet::builtin().synapse)
    }

    #[test]
    fn rule_for_ten_neurons() {
        let (p, rs) = parts();
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
    fn designs_outside_the_cell_range_are_refused() {
        let (p, rs) = parts();
        let bias = LiaParams {
            bias: Choice::Fixed(2e-3),
            ..p.clone()
        };
        assert!(bias.design(&rs, 10).is_err());
        assert!(p.design(&rs, 0).is_err());
    }
}
