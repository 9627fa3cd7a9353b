//! Circuit extension *hierarchical LIA*: lateral inhibition for hundreds to thousands of
//! neurons built from small paper-style arrays, so that the comparator margin no longer
//! falls as `1/n`.
//!
//! # Why
//!
//! A flat array's column is a resistive divider in which one active row is one of about n
//! comparable conductances: the winner/loser gap is diluted as `≈ 0.72 V/n`
//! ([`super::design`]), and with the cells' device-to-device spread and the comparators'
//! offsets it stops working beyond a few tens of neurons. The dilution is a property of
//! one divider's fan-in, not of the inhibition task: keep every divider small.
//!
//! # Circuit
//!
//! The layer's n neurons are split into contiguous groups of at most `size` neurons (sizes
//! as equal as possible, `Hierarchy::Groups { size }` in the parameter file):
//!
//! * **Level 1.** Each group has its own paper-style LIA ([`LiaArray`], programmed by the
//!   same rule and parameters as a flat one, for the group's size): its comparator `i`
//!   says "nobody in my group fires, or member `i` fires alone".
//! * **Group line.** Each group drives a *second-level LI line*: the OR of its members' LI
//!   outputs (one CMOS OR gate per group; its "1" is the same `li_high_volts` as a
//!   neuron's, its "0" is driven low).
//! * **Level 2.** The group lines are the rows of a second paper-style array over the
//!   groups; its comparator `g` says "no group fires, or group `g` fires alone". If there
//!   are more than `size` groups, the groups are grouped again the same way (level 3, …)
//!   until one array is left at the top: the depth is `⌈log_size n⌉`.
//! * **Gate line.** Neuron `i`'s gate line is the AND of the comparator outputs on its
//!   path (its own comparator in its group's array, its group's comparator one level up,
//!   …): one AND gate per neuron, powered from the comparators' rail, so its "1" and "0"
//!   are the comparator's output levels (`comparator.ron`: 3 V / 0 V).
//!
//! # Truth table
//!
//! Nobody fires: every comparator of every array is "1", every gate opens. Neuron `i`
//! fires alone: in its group only comparator `i` stays "1"; one level up only its
//! group's comparator stays "1"; the other groups' comparators are "0": only gate `i`
//! opens — the flat array's truth table. Two neurons firing together close every gate,
//! as in the flat array: in one group both are "winners" of the group array, which then
//! closes every member's gate; in two groups the level-2 array sees two active rows and
//! closes every group. The winner hold (`Hold`) latches the final gate lines, exactly as
//! for a flat array.
//!
//! # Margin
//!
//! Every comparator reads a divider with at most `size` rows, so every array keeps the
//! margin of a `size`-neuron LIA whatever n. With the paper's 50 mV reference an array of
//! up to 17 rows is *sense-centred* ([`super::design`]): its denominator is `D = (ḡ·V_H +
//! g_min·V_B)/V_ref` = 16.5 mS whatever its size, so every level has the paper's 42.7 mV
//! nominal margin; at 32 rows the arrays are bias-centred with half that (22.8 mV) and a
//! large bias cell whose spread eats most of it. Hence the shipped `size: 16`
//! (`lia_hierarchical.ron`). [`super::LiaDesign::spread_margin_bound_volts`] bounds what
//! the spreads can take away (5 σ: ≥ 8 mV left per 16-row array, against the comparator's
//! required 5 mV); the worst case over the `≈ n/(size−1)` arrays falls only with the
//! number of devices drawn (deeper tails), not with the divider's fan-in. The cost is
//! `≈ n·(size+1)·(1 + 1/size)` cells instead of `n·(n+1)`, one OR gate per group and one
//! AND gate per neuron; the gate lines follow a fire after one comparator delay per level
//! ([`HierarchicalLia::depth`]).

use super::array::LiaArray;
use super::design::{design_error, LiaError, Margins};
use super::params::LiaParams;
use crate::comparator::ComparatorParams;
use crate::rs::RsParams;
use crate::variability::{key, Variability};
use serde::{Deserialize, Serialize};
use std::ops::Range;

const TAG_GROUP: u64 = 0x11a_0010;

/// How an LIA is organised: one array over all neurons, or a tree of small arrays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hierarchy {
    /// The paper's circuit: one n×(n+1) array.
    #[default]
    Flat,
    /// Circuit extension: groups of at most `size` neurons (≥ 2), each with its own array,
    /// and further arrays over the groups' OR lines (module docs).
    Groups {
        /// Largest number of rows (neurons or groups) of any one array.
        size: usize,
    },
}

impl Hierarchy {
    /// Whether this is the paper's flat array.
    pub fn is_flat(&self) -> bool {
        matches!(self, Hierarchy::Flat)
    }
}

/// One array of the tree: units `first..first + len` of its level are its rows.
#[derive(Clone, Debug)]
struct Group {
    first: usize,
    array: LiaArray,
}

/// One level of the tree: its units (neurons at level 0, groups above) and the arrays that
/// group them.
#[derive(Clone, Debug)]
struct Level {
    /// Unit → index of its group (= its unit index one level up).
    parent: Vec<usize>,
    groups: Vec<Group>,
}

/// A fabricated hierarchical LIA (module docs): its arrays and the AND/OR logic between
/// them (pure, no events).
#[derive(Clone, Debug)]
pub struct HierarchicalLia {
    n: usize,
    size: usize,
    li_high_volts: f64,
    comparator: ComparatorParams,
    levels: Vec<Level>,
}

/// Splits `m` units into `⌈m/size⌉` contiguous groups of as equal sizes as possible.
fn split(m: usize, size: usize) -> Vec<Range<usize>> {
    let g = m.div_ceil(size).max(1);
    (0..g).map(|k| k * m / g..(k + 1) * m / g).collect()
}

impl HierarchicalLia {
    /// Programs a tree of arrays for `n` neurons with groups of at most `size` rows, each
    /// array by `params`' rule (its own size) with `rs` cells and `comparator`s. Array
    /// `g` of level `l` is drawn with the key `(seed, l, g)`; a tree of one array (`n ≤
    /// size`) is drawn with `seed` itself, i.e. it is the flat array.
    pub fn new(
        params: &LiaParams,
        size: usize,
        n: usize,
        rs: &RsParams,
        comparator: &ComparatorParams,
        variability: Variability,
        seed: u64,
    ) -> Result<Self, LiaError> {
        if size < 2 {
            return Err(design_error(
                format!("a hierarchical LIA needs groups of at least 2 (size = {size})"),
                "use `hierarchy: Groups(size: 32)` or `Flat`",
            ));
        }
        if n == 0 {
            return Err(design_error(
                "an LIA needs at least one neuron (n = 0)".into(),
                "give the number of winner-take-all neurons",
            ));
        }
        let mut levels = Vec::new();
        let mut m = n;
        loop {
            let ranges = split(m, size);
            let single = levels.is_empty() && ranges.len() == 1;
            let mut parent = vec![0usize; m];
            let mut groups = Vec::with_capacity(ranges.len());
            for (g, r) in ranges.iter().enumerate() {
                parent[r.clone()].fill(g);
                let design = params.design(rs, r.len())?;
                let k = if single {
                    seed
                } else {
                    key(seed, &[TAG_GROUP, levels.len() as u64, g as u64])
                };
                groups.push(Group {
                    first: r.start,
                    array: LiaArray::new(&design, rs, comparator, variability, k),
                });
            }
            let next = groups.len();
            levels.push(Level { parent, groups });
            if next == 1 {
                break;
            }
            m = next;
        }
        Ok(HierarchicalLia {
            n,
            size,
            li_high_volts: params.li_high_volts,
            comparator: comparator.clone(),
            levels,
        })
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Largest number of rows of any one array.
    pub fn group_size(&self) -> usize {
        self.size
    }

    /// Levels of arrays (1 = a single, flat array): a gate line waits for this many
    /// comparators in series.
    pub fn depth(&self) -> usize {
        self.levels.len()
    }

    /// Every array of the tree, level by level (level 1 first), group by group.
    pub fn arrays(&self) -> impl Iterator<Item = &LiaArray> {
        self.levels
            .iter()
            .flat_map(|l| l.groups.iter().map(|g| &g.array))
    }

    /// The LI "1" level of the neurons and of the group lines, volts.
    pub fn li_high_volts(&self) -> f64 {
        self.li_high_volts
    }

    /// Gate voltages with the neurons in `active` at the LI high level.
    pub fn gates(&self, active: &[usize]) -> Vec<f32> {
        self.gates_of(active, 0..self.n)
    }

    /// [`Self::gates`] of the columns in `columns` only (the same values). Out-of-range
    /// neurons in `active` are ignored.
    pub fn gates_of(&self, active: &[usize], columns: Range<usize>) -> Vec<f32> {
        let columns = columns.start.min(self.n)..columns.end.min(self.n);
        let mut act: Vec<usize> = active.iter().copied().filter(|&i| i < self.n).collect();
        act.sort_unstable();
        act.dedup();
        let mut open = vec![true; columns.len()];
        let mut unit: Vec<usize> = columns.collect();
        let mut rows = Vec::new();
        for level in &self.levels {
            // Comparator decisions of the last group looked at (units ascend with the
            // columns, so each group is evaluated once).
            let mut last: Option<(usize, Vec<bool>)> = None;
            for (u, o) in unit.iter_mut().zip(open.iter_mut()) {
                let g = level.parent[*u];
                if last.as_ref().map(|(k, _)| *k) != Some(g) {
                    let grp = &level.groups[g];
                    let len = grp.array.n();
                    members_in(&act, grp.first, len, &mut rows);
                    last = Some((g, grp.array.decisions_of(&rows, 0..len)));
                }
                if let Some((_, d)) = &last {
                    *o &= d[*u - level.groups[g].first];
                }
                *u = g;
            }
            // The group lines: OR of the members' lines.
            let mut next: Vec<usize> = act.iter().map(|&a| level.parent[a]).collect();
            next.dedup();
            act = next;
        }
        let (hi, lo) = (
            self.comparator.v_out_high_volts as f32,
            self.comparator.v_out_low_volts as f32,
        );
        open.iter().map(|&o| if o { hi } else { lo }).collect()
    }

    /// Power dissipated in all the tree's arrays with the neurons in `active` at the LI
    /// high level (each group line high when any member is), watts
    /// ([`LiaArray::power_watts`] per array).
    pub fn power_watts(&self, active: &[usize]) -> f64 {
        let mut act: Vec<usize> = active.iter().copied().filter(|&i| i < self.n).collect();
        act.sort_unstable();
        act.dedup();
        let mut p = 0.0;
        let mut rows = Vec::new();
        for level in &self.levels {
            for grp in &level.groups {
                members_in(&act, grp.first, grp.array.n(), &mut rows);
                p += grp.array.power_watts(&rows);
            }
            let mut next: Vec<usize> = act.iter().map(|&a| level.parent[a]).collect();
            next.dedup();
            act = next;
        }
        p
    }

    /// Worst-case margins over every array of the tree (each over all its columns and
    /// single-winner cases, [`LiaArray::margins`]): the smallest input difference any
    /// comparator of the tree sees in the truth table's cases.
    pub fn margins(&self) -> Margins {
        let mut m = Margins::infinite();
        for a in self.arrays() {
            m.min_with(&a.margins());
        }
        m
    }
}

impl HierarchicalLia {
    /// The smallest [`super::LiaDesign::spread_margin_bound_volts`] over the tree's arrays: the
    /// margin every comparator of the tree keeps with the spreads at `k_sigma`.
    pub fn spread_margin_bound_volts(
        &self,
        rs: &RsParams,
        comparator: &ComparatorParams,
        k_sigma: f64,
    ) -> f64 {
        self.arrays()
            .map(|a| {
                a.design()
                    .spread_margin_bound_volts(rs, comparator, k_sigma)
            })
            .fold(f64::INFINITY, f64::min)
    }
}

/// A fabricated LIA of either organisation.
#[derive(Clone, Debug)]
pub enum LiaCircuit {
    /// The paper's single array.
    Flat(LiaArray),
    /// The hierarchical extension.
    Hierarchical(HierarchicalLia),
}

impl LiaCircuit {
    /// Programs an LIA for `n` neurons as `params.hierarchy` says: the flat array is
    /// exactly `LiaArray::new(&params.design(rs, n)?, rs, comparator, variability, seed)`.
    pub fn new(
        params: &LiaParams,
        n: usize,
        rs: &RsParams,
        comparator: &ComparatorParams,
        variability: Variability,
        seed: u64,
    ) -> Result<Self, LiaError> {
        match params.hierarchy {
            Hierarchy::Flat => {
                let d = params.design(rs, n)?;
                Ok(LiaCircuit::Flat(LiaArray::new(
                    &d,
                    rs,
                    comparator,
                    variability,
                    seed,
                )))
            }
            Hierarchy::Groups { size } => Ok(LiaCircuit::Hierarchical(HierarchicalLia::new(
                params,
                size,
                n,
                rs,
                comparator,
                variability,
                seed,
            )?)),
        }
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        match self {
            LiaCircuit::Flat(a) => a.n(),
            LiaCircuit::Hierarchical(h) => h.n(),
        }
    }

    /// Comparators in series between a neuron's LI output and a gate line (1 when flat).
    pub fn depth(&self) -> usize {
        match self {
            LiaCircuit::Flat(_) => 1,
            LiaCircuit::Hierarchical(h) => h.depth(),
        }
    }

    /// The LI "1" level, volts.
    pub fn li_high_volts(&self) -> f64 {
        match self {
            LiaCircuit::Flat(a) => a.design().li_high_volts,
            LiaCircuit::Hierarchical(h) => h.li_high_volts(),
        }
    }

    /// Gate voltages of the columns in `columns` with the neurons in `active` high.
    pub fn gates_of(&self, active: &[usize], columns: Range<usize>) -> Vec<f32> {
        match self {
            LiaCircuit::Flat(a) => a.gates_of(active, columns),
            LiaCircuit::Hierarchical(h) => h.gates_of(active, columns),
        }
    }

    /// Gate voltages of every column with the neurons in `active` high.
    pub fn gates(&self, active: &[usize]) -> Vec<f32> {
        self.gates_of(active, 0..self.n())
    }

    /// Power dissipated in the arrays with the neurons in `active` high, watts.
    pub fn power_watts(&self, active: &[usize]) -> f64 {
        match self {
            LiaCircuit::Flat(a) => a.power_watts(active),
            LiaCircuit::Hierarchical(h) => h.power_watts(active),
        }
    }

    /// Worst-case comparator margins (every array of a hierarchy).
    pub fn margins(&self) -> Margins {
        match self {
            LiaCircuit::Flat(a) => a.margins(),
            LiaCircuit::Hierarchical(h) => h.margins(),
        }
    }
}

/// Worst-case margins of one drawn instance of each organisation at one layer size
/// ([`scaling_margins`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingPoint {
    /// Number of neurons.
    pub n: usize,
    /// Flat array with the parameters' own `V_ref` (the paper's fixed 50 mV).
    pub flat: Margins,
    /// Flat array with `V_ref` re-chosen for n (`v_ref: Auto`).
    pub flat_auto: Margins,
    /// Hierarchical LIA with groups of at most `size` rows and the parameters' `V_ref`.
    pub hierarchical: Margins,
    /// Levels of the hierarchical LIA.
    pub depth: usize,
    /// Arrays of the hierarchical LIA.
    pub arrays: usize,
    /// Cells (1T1R devices, bias rows included) of the flat array.
    pub flat_cells: usize,
    /// Cells of the hierarchical LIA.
    pub hierarchical_cells: usize,
}

/// Margins against layer size: one draw (keyed by `seed`) of the flat array with the
/// parameters' `V_ref` and with `V_ref` re-chosen ([`sweep_margins`](super::sweep_margins),
/// streamed on up to `threads` threads), and of the hierarchical LIA with groups of at
/// most `size` rows, all built from `params`' cells (its own `hierarchy` is ignored).
/// Margins are input differences at the comparators (volts); `after_offset_volts` is the
/// slack left after the drawn comparator offsets.
#[allow(clippy::too_many_arguments)]
pub fn scaling_margins(
    params: &LiaParams,
    size: usize,
    n: usize,
    rs: &RsParams,
    comparator: &ComparatorParams,
    variability: Variability,
    seed: u64,
    threads: usize,
) -> Result<ScalingPoint, LiaError> {
    let designs = [
        params.design(rs, n)?,
        params.with_auto_reference().design(rs, n)?,
    ];
    let flat = super::sweep_margins(&designs, rs, comparator, variability, seed, threads)?;
    let h = HierarchicalLia::new(params, size, n, rs, comparator, variability, seed)?;
    Ok(ScalingPoint {
        n,
        flat: flat[0],
        flat_auto: flat[1],
        hierarchical: h.margins(),
        depth: h.depth(),
        arrays: h.arrays().count(),
        flat_cells: n * (n + 1),
        hierarchical_cells: h.arrays().map(|a| a.n() * (a.n() + 1)).sum(),
    })
}

/// The members of `act` (ascending line indices) inside the group of `len` lines from
/// `first`, as indices local to the group, into `rows`.
fn members_in(act: &[usize], first: usize, len: usize, rows: &mut Vec<usize>) {
    rows.clear();
    rows.extend(
        act.iter()
            .filter(|&&a| a >= first && a < first + len)
            .map(|&a| a - first),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::DeviceSet;

    fn parts() -> (LiaParams, RsParams, ComparatorParams) {
        let set = DeviceSet::builtin();
        (LiaParams::builtin(), set.synapse, set.comparator)
    }

    fn tree(n: usize, size: usize, seed: u64) -> HierarchicalLia {
        let (p, rs, cmp) = parts();
        HierarchicalLia::new(&p, size, n, &rs, &cmp, Variability::FULL, seed).unwrap()
    }

    use super::super::only_gate as only;

    #[test]
    fn groups_are_balanced_and_contiguous() {
        assert_eq!(split(10, 32), vec![0..10]);
        assert_eq!(split(100, 32), vec![0..25, 25..50, 50..75, 75..100]);
        let s = split(1600, 32);
        assert_eq!(s.len(), 50);
        assert!(s.iter().all(|r| r.len() == 32));
        let h = tree(1600, 32, 1);
        // 50 groups of 32, then 2 of 25, then one of 2.
        assert_eq!(h.depth(), 3);
        let sizes: Vec<usize> = h.arrays().map(LiaArray::n).collect();
        assert_eq!(sizes.len(), 53);
        assert_eq!(&sizes[50..], &[25, 25, 2]);
    }

    #[test]
    fn truth_table_with_variability() {
        for (n, size) in [(100, 32), (400, 32), (1600, 32), (7, 2)] {
            let h = tree(n, size, 3);
            assert_eq!(h.gates(&[]), only(n, None), "n = {n}: quiet");
            for i in 0..n {
                assert_eq!(h.gates(&[i]), only(n, Some(i)), "n = {n}: winner {i}");
            }
            // Banks give the same gates.
            let g = h.gates(&[n / 2]);
            let mut banks = h.gates_of(&[n / 2], 0..n / 3);
            banks.extend(h.gates_of(&[n / 2], n / 3..n));
            assert_eq!(banks, g);
        }
    }

    #[test]
    fn two_winners_close_every_gate() {
        let h = tree(400, 32, 5);
        // Same group, then different groups.
        assert_eq!(h.gates(&[3, 7]), vec![0.0; 400]);
        assert_eq!(h.gates(&[3, 300]), vec![0.0; 400]);
        assert_eq!(h.gates(&[300, 3, 3]), h.gates(&[3, 300]));
    }

    #[test]
    fn one_group_is_the_flat_array() {
        let (p, rs, cmp) = parts();
        let h = tree(20, 32, 9);
        let flat = LiaArray::new(&p.design(&rs, 20).unwrap(), &rs, &cmp, Variability::FULL, 9);
        assert_eq!(h.depth(), 1);
        for active in [vec![], vec![4], vec![2, 11]] {
            assert_eq!(h.gates(&active), flat.gates(&active));
        }
        assert_eq!(h.margins(), flat.margins());
        assert!(HierarchicalLia::new(&p, 1, 20, &rs, &cmp, Variability::FULL, 9).is_err());
        assert!(HierarchicalLia::new(&p, 32, 0, &rs, &cmp, Variability::FULL, 9).is_err());
    }

    /// With spread and offsets on, the hierarchical margin at n = 1600 stays above the
    /// 5-sigma spread bound of its largest arrays (and the comparator's required margin),
    /// while a flat array fails with either reference.
    #[test]
    fn hierarchy_keeps_its_margin_at_1600_where_flat_fails() {
        let (p, rs, cmp) = parts();
        let size = 16;
        let h = HierarchicalLia::new(&p, size, 1600, &rs, &cmp, Variability::FULL, 1).unwrap();
        let bound = h.spread_margin_bound_volts(&rs, &cmp, 5.0);
        // Every array of at most 17 rows is sense-centred on 50 mV: its denominator is
        // (ḡ·V_H + g_min·V_B)/V_ref = 16.5 mS whatever its size, so the nominal margin is
        // the paper's 42.7 mV at every level, and the 5-sigma allowance leaves ~8 mV.
        assert!(bound > cmp.required_margin_volts, "{bound}");
        for seed in 0..3 {
            let s = scaling_margins(&p, size, 1600, &rs, &cmp, Variability::FULL, seed, 4).unwrap();
            let hm = s.hierarchical;
            assert!(
                hm.worst_volts() > bound && hm.after_offset_volts > bound,
                "seed {seed}: {hm:?} against {bound}"
            );
            assert!(s.flat.worst_volts() < 0.0, "{:?}", s.flat);
            assert!(s.flat_auto.after_offset_volts < 0.0, "{:?}", s.flat_auto);
            assert_eq!((s.depth, s.arrays), (3, 100 + 7 + 1));
            assert!(s.hierarchical_cells * 10 < s.flat_cells);
        }
        // The bound is a bound for the flat array too, and it says "no guarantee" there.
        let flat = p.design(&rs, 1600).unwrap();
        assert!(flat.spread_margin_bound_volts(&rs, &cmp, 5.0) < 0.0);
    }
}
