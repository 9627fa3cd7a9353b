//! One fabricated and programmed LIA: its cells, comparator offsets and the divider
//! arithmetic, and streaming margin sweeps over many designs.
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

use super::design::{design_error, LiaDesign, LiaError, Margins};
use crate::comparator::ComparatorParams;
use crate::rs::{RsDevice, RsParams};
use crate::variability::{key, KeyedStream, Variability};
use std::ops::Range;

const TAG_CELL: u64 = 0x11a_0001;
const TAG_BIAS: u64 = 0x11a_0002;
const TAG_OFFSET: u64 = 0x11a_0003;

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

    /// Power dissipated in the array with the rows in `active` at the LI high level, the
    /// other rows at 0 V and the bias row at `V_bias`, watts: every column line floats at
    /// its comparator input `v_j` ([`Self::comparator_inputs`]), so each cell `G_ij`
    /// dissipates `G_ij·(V_i − v_j)²` and the sense load `G_sense·v_j²`.
    pub fn power_watts(&self, active: &[usize]) -> f64 {
        let n = self.n();
        let v = self.comparator_inputs(active);
        let vh = self.design.li_high_volts;
        let vb = self.design.v_bias_volts;
        let gs = self.design.g_sense_siemens;
        // Σ over active rows of G_ij, per column.
        let mut on = vec![0.0f64; n];
        for &i in active.iter().filter(|&&i| i < n) {
            for (a, &x) in on.iter_mut().zip(&self.g[i * n..(i + 1) * n]) {
                *a += f64::from(x);
            }
        }
        (0..n)
            .map(|j| {
                let vj = v[j];
                let all = self.denom[j] - self.g_bias[j] - gs;
                on[j] * (vh - vj).powi(2)
                    + (all - on[j]) * vj * vj
                    + self.g_bias[j] * (vb - vj).powi(2)
                    + gs * vj * vj
            })
            .sum()
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

    /// Comparator decisions (`true` = output "1", gate open) of the columns in `columns`
    /// with the rows in `active` high: the comparisons [`Self::gates_of`] makes.
    pub fn decisions_of(&self, active: &[usize], columns: Range<usize>) -> Vec<bool> {
        let vr = self.design.v_ref_volts;
        let offsets = &self.offsets[columns.clone()];
        self.comparator_inputs_of(active, columns)
            .iter()
            .zip(offsets)
            .map(|(&v, &o)| vr - v > o)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lia::params::{Choice, LiaParams};
    use crate::set::DeviceSet;

    fn parts() -> (LiaParams, RsParams, ComparatorParams) {
        let set = DeviceSet::builtin();
        (LiaParams::builtin(), set.synapse, set.comparator)
    }

    fn array(n: usize, params: &LiaParams, var: Variability, seed: u64) -> LiaArray {
        let (_, rs, cmp) = parts();
        let d = params.design(&rs, n).unwrap();
        LiaArray::new(&d, &rs, &cmp, var, seed)
    }

    use super::super::only_gate as only;

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
}
