//! A synapse column: the 1T1R synapses into one neuron, sharing one gate line.
//!
//! Synapse `i` joins input line `i` to node 1. Seen from node 1 the column is a Thevenin
//! source: during CLK-high phases `V = Σ G_i·A_i / Σ G_i` behind `Σ G_i` (`A_i` the line's
//! pulse amplitude, 0 for a grounded line); during CLK-low phases every line is at 0 V.
//! With the gate low every access transistor is off and each cell leaks `G_off`.
//!
//! **A new pattern** costs one pass over the lines it drives: the sender computes the
//! driven lines and the amplitude sums once for the whole layer ([`LinePattern`]), and
//! each column sums only what depends on its own conductances, Σ G·A (and Σ G·A² for the
//! read energy), in line order in `f64`, so that the source is a pure function of
//! conductances and amplitudes, the same bits however the pattern arrived.
//!
//! **Programming.** The voltage across synapse `i` is `A_i − V(node 1)`, with node 1 solved
//! from this source and the neuron's (sent as [`Payload::NeuronSide`]). While it exceeds
//! the SET or RESET threshold the device moves ([`devices::rs::RsParams::program`]). The
//! column integrates programming over the time since its last update at every event, in
//! CLK-phase pieces; while some device may program it also wakes every `substep_ns`, so
//! that node 1 follows the changing conductances (a layer-2 synapse that sets in one cycle
//! lifts node 1 within the same pulse; an explicit scheme with this step). A quick bound on the
//! extreme voltages skips all per-synapse work when nothing can program, which is the
//! usual case. Conductances are kept as `f32` per synapse; each device's fabrication
//! spread is re-derived from its key when it is programmed, never stored.
//!
//! **Dormant neurons.** A neuron that proved it cannot switch under its present source
//! says so ([`Payload::Dormant`]); the column then holds back every new source that is no
//! stronger (a loser's gate closing and reopening at each fire of a winner-take-all
//! layer) and sends them all at once, with their times, before the first stronger one
//! ([`Payload::ColumnHistory`]). The neuron applies them in order, exactly as if they had
//! come one by one.
//!
//! Ports — in: [`IN_PATTERN`], [`IN_GATE`], [`IN_NODE`], and `IN_LINE_BASE + i` for spikes
//! on line `i`; out: [`OUT_COLUMN`] (to the neuron).

use super::circuit::node1_volts;
use crate::engine::component::{Component, Ctx};
use crate::engine::event::{Event, LinePattern, Payload, Port};
use crate::engine::pattern_sums::{
    fresh_weights_stamp, weighted_sums, PatternWeights, WeightedSums,
};
use crate::engine::time::{Clock, Ns};
use devices::rs::{ProgramStep, RsCurve, RsDevice, RsParams};
use devices::variability::{key, standard_normal};
use devices::Variability;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::any::Any;
use std::sync::Arc;

/// Input: a pattern of line amplitudes for every CLK-high phase.
pub const IN_PATTERN: Port = 0;
/// Input: the shared gate line.
pub const IN_GATE: Port = 1;
/// Input: the neuron's Thevenin source.
pub const IN_NODE: Port = 2;
/// Input: spikes on line `i` arrive on `IN_LINE_BASE + i`.
pub const IN_LINE_BASE: Port = 16;
/// Output: the column's Thevenin source, to the neuron.
pub const OUT_COLUMN: Port = 0;

const TAG_SUBSTEP: u64 = 1;
const TAG_SPIKES_END: u64 = 2;

/// A synapse column.
#[derive(Clone, Debug)]
pub struct Column {
    params: Arc<RsParams>,
    variability: Variability,
    device_key: u64,
    g: Vec<f32>,
    pattern: Option<Arc<[f32]>>,
    pending_pattern: Option<(Ns, Option<Arc<[f32]>>)>,
    /// Spike amplitudes per line, volts; empty (not allocated) until the first spike, so
    /// columns fed only by input generators keep no per-line spike state.
    spikes: Vec<f32>,
    /// The lines of non-zero amplitude, ascending (the only lines that add to `Σ G·A`).
    driven: DrivenLines,
    spikes_active: bool,
    gate_volts: f32,
    node_v: f64,
    node_g: f64,
    t_prog: Ns,
    substep_ns: Ns,
    substep_wake: Option<Ns>,
    idle_phase: Option<Ns>,
    sent: Option<(f64, f64)>,
    sums: Sums,
    rng: ChaCha8Rng,
    write_joules: f64,
    /// Of `write_joules`, the part spent on potentiating (SET) exposures.
    set_joules: f64,
    /// Read energy up to `t_prog`, joules.
    read_joules: f64,
    /// Pulses into cells whose access transistor was on, up to `t_prog`.
    synaptic_events: u64,
    programmed: u64,
    programmable: bool,
    /// The neuron's dormancy certificate `(v_cert, v_n, g_n)` (see [`Payload::Dormant`]).
    dormant: Option<(f64, f64, f64)>,
    /// Sources held back from a dormant neuron: `(time, v_high, g)`.
    held: Vec<(Ns, f64, f64)>,
    /// Whether no device can program in either CLK phase under the present configuration
    /// (`None`: not known since the configuration last changed).
    quiet: Option<bool>,
    /// The fabricated devices of the synapses this column has programmed (with what they
    /// last computed), derived from their keys the first time each programs and kept, so
    /// that a learning column derives each device once rather than once per programming
    /// episode (a winner's column programs at every fire). Empty (never allocated) in a
    /// column that has not programmed, so inference keeps only the conductances. A pure
    /// cache: not saved in checkpoints, re-derived after a resume to the same values.
    programming: Vec<Option<Programming>>,
    /// A stamp of the conductances ([`fresh_weights_stamp`]): renewed whenever they
    /// change (a programming step, an overwrite, a restored state), so that sums handed
    /// over for a pattern, and an executor's copy of the conductances, can be checked
    /// against the conductances they were taken over. Not saved: it is drawn afresh.
    g_stamp: u64,
    /// Sums of the pattern at this address handed over by the executor for the coming
    /// pattern event, with the `g_stamp` they were taken at; taken by that event.
    presummed: Option<(usize, u64, WeightedSums)>,
}

/// Sources a column holds back before sending them anyway. This bounds its memory, and
/// keeps a layer's held sources in the core's near caches: a column of a Bernoulli-gated
/// layer holds one per CLK period, each into its own buffer, and at 256 the buffers of a
/// 784×1600 layer (1,600 × 6 KB) were written to and read back from beyond the L2 cache;
/// 8, 16 and 32 were equally fast there and 4 slower (docs/performance.md). Results do not
/// depend on it: a held source reaches the neuron, and any reading of it, unchanged.
const MAX_HELD: usize = 16;

impl Column {
    /// A column of `initial.len()` synapses with these initial conductances (siemens).
    /// `device_key` keys the devices' fabrication spread and the column's random stream.
    pub fn new(
        params: Arc<RsParams>,
        variability: Variability,
        device_key: u64,
        initial: Vec<f32>,
        gate_volts: f32,
        substep_ns: Ns,
    ) -> Self {
        let mut c = Column {
            params,
            variability,
            device_key,
            g: initial,
            pattern: None,
            pending_pattern: None,
            spikes: Vec::new(),
            spikes_active: false,
            driven: DrivenLines::Own(Vec::new()),
            gate_volts,
            node_v: 0.0,
            node_g: 0.0,
            t_prog: 0,
            substep_ns: substep_ns.max(1),
            substep_wake: None,
            idle_phase: None,
            sent: None,
            sums: Sums::default(),
            rng: ChaCha8Rng::seed_from_u64(key(device_key, &[0xc01])),
            write_joules: 0.0,
            set_joules: 0.0,
            read_joules: 0.0,
            synaptic_events: 0,
            programmed: 0,
            programmable: true,
            dormant: None,
            held: Vec::new(),
            quiet: None,
            programming: Vec::new(),
            g_stamp: fresh_weights_stamp(),
            presummed: None,
        };
        c.refresh_amplitude_sums();
        c.refresh_conductance_sums();
        c
    }

    /// Makes the synapses fixed resistors (never programmed), as in the paper's Fig 3b.
    pub fn fixed(mut self) -> Self {
        self.programmable = false;
        self
    }

    /// Conductances, siemens.
    pub fn conductances(&self) -> &[f32] {
        &self.g
    }

    /// Overwrites the conductances (restoring a saved state); the column's source follows
    /// at its next event.
    pub fn set_conductances(&mut self, g: &[f32]) {
        self.g.copy_from_slice(g);
        self.g_stamp = fresh_weights_stamp();
        self.refresh_conductance_sums();
    }

    /// Draws a new conductance stamp (after a restored state, whose conductances the
    /// old stamp does not describe).
    fn renew_stamp(&mut self) {
        self.g_stamp = fresh_weights_stamp();
    }

    /// The fabricated device of synapse `i`.
    pub fn device(&self, i: usize) -> RsDevice {
        self.params
            .device(key(self.device_key, &[i as u64]), self.variability)
    }

    /// Write energy so far, joules.
    pub fn write_joules(&self) -> f64 {
        self.write_joules
    }

    /// Of [`Self::write_joules`], the SET (potentiating, `V > 0`) exposures, joules; the
    /// rest is RESET.
    pub fn set_joules(&self) -> f64 {
        self.set_joules
    }

    /// Read energy up to `now_ns` (at or after the last event handled), joules: every
    /// cell not being programmed dissipates `G·(A − V₁)²` (line amplitude `A`, node-1
    /// voltage `V₁` as the column last solved it; `G_off` per cell with the gate off),
    /// integrated over the CLK phases.
    pub fn read_joules(&self, now_ns: Ns, clock: &Clock) -> f64 {
        if now_ns <= self.t_prog {
            return self.read_joules;
        }
        let (high, low) = split_phases(self.t_prog, now_ns, clock);
        self.read_joules + self.read_power_watts(true) * high + self.read_power_watts(false) * low
    }

    /// The sources this column holds back from its dormant neuron and has not sent yet,
    /// in time order: `(time ns, Thevenin voltage during CLK high, volts, conductance,
    /// siemens)`. A reading of the neuron's state as of now applies them
    /// ([`crate::circuits::neuron::Neuron::ts_energy`]), as the neuron will once they arrive.
    pub fn held_sources(&self) -> &[(Ns, f64, f64)] {
        &self.held
    }

    /// Synaptic events up to `now_ns` (at or after the last event handled): one per pulse
    /// into a cell whose access transistor is on (a pattern line driven at a CLK rising
    /// edge, or a spike arriving on a line).
    pub fn synaptic_events(&self, now_ns: Ns, clock: &Clock) -> u64 {
        self.synaptic_events + self.pulses_between(self.t_prog, now_ns, clock)
    }

    /// Pulses into open cells at the CLK rising edges of `[a, b)` under the present
    /// pattern and gate.
    fn pulses_between(&self, a: Ns, b: Ns, clock: &Clock) -> u64 {
        if self.sums.pulsed == 0 || b <= a || !self.gate_on() {
            return 0;
        }
        let p = clock.period_ns;
        (b.div_ceil(p) - a.div_ceil(p)) * self.sums.pulsed
    }

    /// Read power of the whole column during a phase (CLK `high` or not), watts.
    fn read_power_watts(&self, high: bool) -> f64 {
        let side = self.column_side();
        let v1 = self.node1(side, high);
        let s = &self.sums;
        if self.gate_on() {
            if high {
                s.ga2 - 2.0 * v1 * s.ga + v1 * v1 * s.g
            } else {
                v1 * v1 * s.g
            }
        } else {
            let g_off = 1.0 / self.params.access.r_off_ohms;
            let n = self.g.len() as f64;
            if high {
                g_off * (s.a2 - 2.0 * v1 * s.a + v1 * v1 * n)
            } else {
                g_off * v1 * v1 * n
            }
        }
    }

    /// Counts the pulses of `[t_prog, t)` (pattern and gate are constant over it).
    fn count_pulses(&mut self, t: Ns, clock: &Clock) {
        self.synaptic_events += self.pulses_between(self.t_prog, t, clock);
    }

    /// Number of device updates applied so far.
    pub fn programmed(&self) -> u64 {
        self.programmed
    }

    fn gate_on(&self) -> bool {
        self.params.access.is_on(self.gate_volts as f64)
    }

    /// Amplitude on line `i` during CLK-high phases, volts.
    #[inline]
    fn amp(&self, i: usize) -> f64 {
        let p = self.pattern.as_ref().map_or(0.0, |p| p[i]);
        let s = self.spikes.get(i).copied().unwrap_or(0.0);
        (p + s) as f64
    }

    /// Recomputes what depends on the line amplitudes — the driven lines, Σ A, the
    /// extreme amplitudes and Σ G·A — after a pattern or a spike changed them.
    ///
    /// Sums run in line order over the driven lines only: a grounded line adds `G·0 = +0`,
    /// and adding `+0` leaves an `f64` sum unchanged, so skipping it is exact. The result
    /// is therefore bit for bit the line-order sum over all lines, a pure function of
    /// conductances and amplitudes, never of the history of updates.
    fn refresh_amplitude_sums(&mut self) {
        self.quiet = None;
        let n = self.g.len();
        // The driven lines, found 64 at a time as a bit mask (a comparison per line, no
        // branch: a pattern's lines are on or off at random, which a branch would
        // mispredict), then one pass over them in line order for all the sums.
        let mut driven = match std::mem::take(&mut self.driven) {
            DrivenLines::Own(v) => v,
            DrivenLines::Shared(_) => Vec::new(),
        };
        driven.clear();
        driven.reserve(n);
        let fast = match (&self.pattern, self.spikes.is_empty()) {
            (Some(p), true) if p.len() >= n => Some(p.clone()),
            _ => None,
        };
        for start in (0..n).step_by(64) {
            let end = (start + 64).min(n);
            let mut mask = 0u64;
            match &fast {
                Some(p) => {
                    for (j, &a) in p[start..end].iter().enumerate() {
                        mask |= u64::from(a != 0.0) << j;
                    }
                }
                None => {
                    for j in 0..end - start {
                        mask |= u64::from(self.amp(start + j) != 0.0) << j;
                    }
                }
            }
            while mask != 0 {
                driven.push((start + mask.trailing_zeros() as usize) as u32);
                mask &= mask - 1;
            }
        }
        let (mut a_sum, mut a2, mut ga, mut ga2, mut lo, mut hi) = (
            0.0f64,
            0.0f64,
            0.0f64,
            0.0f64,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        let mut pulsed = 0u64;
        for &i in &driven {
            let i = i as usize;
            // A driven line's amplitude is non-zero, so `p + 0` (no spike) is `p` exactly.
            let a = match &fast {
                Some(p) => p[i] as f64,
                None => self.amp(i),
            };
            a_sum += a;
            a2 += a * a;
            ga += self.g[i] as f64 * a;
            ga2 += self.g[i] as f64 * a * a;
            lo = lo.min(a);
            hi = hi.max(a);
            pulsed += u64::from(self.pattern.as_ref().is_some_and(|p| p[i] != 0.0));
        }
        self.driven = DrivenLines::Own(driven);
        if self.driven.len() < n {
            // Grounded lines: their amplitude 0 is among the extremes (its sign is
            // irrelevant: the extremes only meet the non-zero programming thresholds).
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        self.sums.a = a_sum;
        self.sums.a2 = a2;
        self.sums.lo = lo;
        self.sums.hi = hi;
        self.sums.ga = ga;
        self.sums.ga2 = ga2;
        self.sums.pulsed = pulsed;
    }

    /// [`Self::refresh_amplitude_sums`] for a new pattern (already stored as
    /// `self.pattern`), taking the driven lines and the amplitude sums the pattern brings
    /// rather than recomputing them: the same lines and the same sums, in the same order,
    /// so the same bits; only Σ G·A and Σ G·A², which depend on this column, are summed
    /// here. Falls back to the full recomputation when spikes add to the lines or the
    /// pattern's width differs from the column's.
    fn refresh_from_pattern(
        &mut self,
        p: &Arc<LinePattern>,
        pre: Option<(usize, u64, WeightedSums)>,
    ) {
        if !self.spikes.is_empty() || p.amplitudes().len() != self.g.len() {
            self.refresh_amplitude_sums();
            return;
        }
        self.quiet = None;
        self.driven = DrivenLines::Shared(p.clone());
        let a = p.sums();
        self.sums.a = a.sum_volts;
        self.sums.a2 = a.sum_sq_volts2;
        self.sums.lo = a.lo_volts;
        self.sums.hi = a.hi_volts;
        self.sums.pulsed = p.driven().len() as u64;
        (self.sums.ga, self.sums.ga2) = match pre {
            // Handed over for this very pattern and these conductances: the same sums.
            Some((at, stamp, s)) if at == Arc::as_ptr(p) as usize && stamp == self.g_stamp => {
                (s.wa, s.wa2)
            }
            _ => self.driven_ga(),
        };
    }

    /// Recomputes Σ G and Σ G·A after conductances changed (amplitudes unchanged).
    /// `Σ G` runs over every line in line order: one `f64` chain, kept in this order so
    /// that results stay bit-identical to a full recomputation.
    fn refresh_conductance_sums(&mut self) {
        self.quiet = None;
        let mut g_sum = 0.0f64;
        for &g in &self.g {
            g_sum += g as f64;
        }
        self.sums.g = g_sum;
        (self.sums.ga, self.sums.ga2) = self.driven_ga();
    }

    /// (Σ G·A, Σ G·A²) over the driven lines, in line order (`f32·f32` products are exact
    /// in `f64`); Σ G·A² feeds the read energy.
    fn driven_ga(&self) -> (f64, f64) {
        let (mut ga, mut ga2) = (0.0f64, 0.0f64);
        if let (DrivenLines::Shared(lp), true) = (&self.driven, self.spikes.is_empty()) {
            // The pattern's own amplitudes, read in order rather than gathered.
            let s = weighted_sums(lp, &self.g);
            return (s.wa, s.wa2);
        }
        match (&self.pattern, self.spikes.is_empty()) {
            (Some(p), true) => {
                for &i in self.driven.iter() {
                    let i = i as usize;
                    let a = (p[i] + 0.0) as f64;
                    ga += self.g[i] as f64 * a;
                    ga2 += self.g[i] as f64 * a * a;
                }
            }
            _ => {
                for &i in self.driven.iter() {
                    let i = i as usize;
                    let a = self.amp(i);
                    ga += self.g[i] as f64 * a;
                    ga2 += self.g[i] as f64 * a * a;
                }
            }
        }
        (ga, ga2)
    }

    /// (Σ G·A during high phases, Σ G), with the gate's state applied.
    fn sums(&self) -> (f64, f64) {
        if self.gate_on() {
            (self.sums.ga, self.sums.g)
        } else {
            let g_off = 1.0 / self.params.access.r_off_ohms;
            (g_off * self.sums.a, g_off * self.g.len() as f64)
        }
    }

    fn column_side(&self) -> (f64, f64) {
        let (sga, sg) = self.sums();
        let v = if sg > 0.0 { sga / sg } else { 0.0 };
        (v, sg)
    }

    /// Node-1 voltage during a phase (CLK `high` or not).
    fn node1(&self, side: (f64, f64), high: bool) -> f64 {
        let v_col = if high { side.0 } else { 0.0 };
        node1_volts(v_col, side.1, self.node_v, self.node_g)
    }

    /// Extreme line amplitudes during a phase: (min, max).
    fn amp_range(&self, high: bool) -> (f64, f64) {
        if high {
            (self.sums.lo, self.sums.hi)
        } else {
            (0.0, 0.0)
        }
    }

    /// Whether any device may program during this phase.
    fn may_program(&self, side: (f64, f64), high: bool) -> bool {
        if !self.programmable || !self.gate_on() || self.g.is_empty() {
            return false;
        }
        let v1 = self.node1(side, high);
        let (lo, hi) = self.amp_range(high);
        self.params.programs(hi - v1) || self.params.programs(lo - v1)
    }

    /// Whether no device can program in either phase under the present configuration.
    fn is_quiet(&mut self) -> bool {
        if let Some(q) = self.quiet {
            return q;
        }
        let side = self.column_side();
        let q = !self.may_program(side, true) && !self.may_program(side, false);
        self.quiet = Some(q);
        q
    }

    /// Applies programming over `[t_prog, t)` in CLK-phase pieces. Returns whether any
    /// conductance changed.
    fn program_until(&mut self, t: Ns, clock: &Clock) -> bool {
        let mut changed = false;
        self.count_pulses(t, clock);
        // Nothing changes between two events: if neither phase can program, skip them all.
        if self.t_prog < t && self.is_quiet() {
            self.read_joules = self.read_joules(t, clock);
            self.t_prog = t;
            return false;
        }
        while self.t_prog < t {
            let end = clock.phase_end(self.t_prog).min(t);
            let high = clock.is_high(self.t_prog);
            let side = self.column_side();
            if !self.may_program(side, high) {
                self.read_joules += self.read_power_watts(high) * (end - self.t_prog) as f64 * 1e-9;
            } else if self.program_piece(side, high, end) {
                changed = true;
                self.refresh_conductance_sums();
            }
            self.t_prog = end;
        }
        changed
    }

    /// Programs every device over one piece `[t_prog, end)` of a CLK phase under the
    /// column source `side`. Returns whether any conductance changed.
    ///
    /// The voltage factors of an update ([`RsParams::step`]: one exponential) are shared by
    /// all devices under the same voltage — in a phase only two voltages occur, a driven
    /// and a grounded line's — and each device keeps what it last computed (its curve,
    /// compliance cap, `p(G)` and `G(p)`), so a device that does not move (at its cap or
    /// floor, or stuck) costs a comparison; the cycle-to-cycle draw is still taken for
    /// every programming device, in line order, so the column's random stream is the same.
    fn program_piece(&mut self, side: (f64, f64), high: bool, end: Ns) -> bool {
        let n = self.g.len();
        let v1 = self.node1(side, high);
        let dt = (end - self.t_prog) as f64 * 1e-9;
        let v_gate = self.gate_volts as f64;
        let mut steps = StepCache::default();
        if self.programming.len() != n {
            self.programming = vec![None; n];
        }
        // The energy sums and the update count are carried in locals (the same additions
        // in the same order as into the fields, so the same bits), and the line
        // amplitudes are read from the pattern and the spikes directly.
        let (mut read_j, mut write_j, mut set_j) =
            (self.read_joules, self.write_joules, self.set_joules);
        let mut programmed = 0u64;
        let pattern = self.pattern.as_deref();
        let spikes = &self.spikes;
        let params = &*self.params;
        let cycle_to_cycle = self.variability.cycle_to_cycle;
        for i in 0..n {
            let amp = if high {
                let p = pattern.map_or(0.0, |p| p[i]);
                let s = spikes.get(i).copied().unwrap_or(0.0);
                (p + s) as f64
            } else {
                0.0
            };
            let v = amp - v1;
            let g0 = self.g[i];
            if !params.programs(v) {
                read_j += devices::energy::read_joules(v, g0 as f64, dt);
                continue;
            }
            let step = steps.get(params, v, dt, v_gate);
            let slot = match &mut self.programming[i] {
                Some(slot) => slot,
                empty => {
                    let dev = params.device(key(self.device_key, &[i as u64]), self.variability);
                    empty.insert(Programming::new(dev))
                }
            };
            let z = if cycle_to_cycle {
                standard_normal(&mut self.rng)
            } else {
                0.0
            };
            let p0 = slot.p_of(g0);
            let cap_p = if step.rate_per_s > 0.0 {
                slot.cap_p(params, v_gate)
            } else {
                1.0
            };
            let p1 = params.apply_step(&slot.device(), p0, &step, cap_p, z);
            let g1 = slot.conductance(p1);
            if g1 == g0 {
                read_j += devices::energy::read_joules(v, g0 as f64, dt);
            } else {
                let e = devices::energy::write_joules(v, g0 as f64, g1 as f64, dt);
                write_j += e;
                if v > 0.0 {
                    set_j += e;
                }
                self.g[i] = g1;
                programmed += 1;
            }
        }
        if programmed > 0 {
            self.g_stamp = fresh_weights_stamp();
        }
        (self.read_joules, self.write_joules, self.set_joules) = (read_j, write_j, set_j);
        self.programmed += programmed;
        programmed > 0
    }

    /// Whether a dormant neuron's certificate covers `side` (node 1 in CLK-high phases no
    /// higher than the voltage the neuron was proved silent under; the formula is the
    /// neuron's own, so both sides agree bit for bit).
    fn covered(cert: (f64, f64, f64), side: (f64, f64)) -> bool {
        let (v_cert, v_n, g_n) = cert;
        side.0 >= 0.0 && node1_volts(side.0, side.1, v_n, g_n) <= v_cert
    }

    /// Sends the held sources as one [`Payload::ColumnHistory`].
    fn flush_held(&mut self, ctx: &mut Ctx) {
        if !self.held.is_empty() {
            let pieces: Arc<[(Ns, f64, f64)]> = self.held.drain(..).collect();
            ctx.emit(OUT_COLUMN, Payload::ColumnHistory(pieces));
        }
    }

    fn send_side(&mut self, ctx: &mut Ctx) {
        let side = self.column_side();
        if self.sent != Some(side) {
            self.sent = Some(side);
            if let Some(cert) = self.dormant {
                if Self::covered(cert, side) {
                    // The neuron cannot react to this source: hold it back.
                    self.held.push((ctx.now(), side.0, side.1));
                    if self.held.len() >= MAX_HELD {
                        self.flush_held(ctx);
                    }
                    return;
                }
                self.dormant = None;
                self.flush_held(ctx);
            }
            ctx.emit(
                OUT_COLUMN,
                Payload::ColumnSide {
                    v_high_volts: side.0,
                    g_siemens: side.1,
                },
            );
        }
    }

    /// Keeps sub-step wakes going while some device programs, so that node 1 (and the
    /// programming voltage) follows the changing conductances. A sub-step that changed
    /// nothing (devices at their bounds) ends sub-stepping for the rest of the phase; the
    /// next phase starts with a wake-up if it may program.
    fn schedule_substep(&mut self, ctx: &mut Ctx, changed: bool, own_wake: bool) {
        let clock = *ctx.clock();
        let t = ctx.now();
        let high = clock.is_high(t);
        let side = self.column_side();
        let phase = clock.phase_start(t);
        if own_wake && !changed && t != phase {
            // A sub-step inside this phase moved nothing: devices are at their bounds.
            self.idle_phase = Some(phase);
        } else if !own_wake || changed {
            self.idle_phase = None;
        }
        let now_prog = !self.is_quiet() && self.may_program(side, high);
        let at = if now_prog && self.idle_phase != Some(phase) {
            Some((t + self.substep_ns).min(clock.phase_end(t)))
        } else if now_prog || (!self.is_quiet() && self.may_program(side, !high)) {
            Some(clock.phase_end(t))
        } else {
            None
        };
        if let Some(at) = at {
            if self.substep_wake.is_none_or(|w| w <= t || w > at) {
                self.substep_wake = Some(at);
                ctx.wake_at(at, TAG_SUBSTEP);
            }
        }
    }
}

impl Component for Column {
    crate::component_state!(Column {
        g, pattern, pending_pattern, spikes, driven, spikes_active, gate_volts, node_v, node_g, t_prog, substep_ns, substep_wake, idle_phase, sent, sums, rng, write_joules, set_joules, read_joules, synaptic_events, programmed, programmable, dormant, held, quiet
    } keep { params, variability, device_key, programming, g_stamp, presummed } after_load renew_stamp);

    fn kind(&self) -> &'static str {
        "column"
    }

    fn start(&mut self, ctx: &mut Ctx) {
        self.send_side(ctx);
        if ctx.probing() {
            for (i, &g) in self.g.iter().enumerate() {
                ctx.record("g", i as u32, g as f64);
            }
        }
    }

    fn handle(&mut self, ev: &Event, ctx: &mut Ctx) {
        let clock = *ctx.clock();
        let t = ev.time;
        let changed = self.program_until(t, &clock);
        let mut own_substep = false;
        match &ev.payload {
            Payload::Wake { tag } => {
                if *tag == TAG_SUBSTEP && self.substep_wake == Some(t) {
                    self.substep_wake = None;
                    own_substep = true;
                }
                if *tag == TAG_SPIKES_END && self.spikes_active && !clock.is_high(t) {
                    self.spikes.iter_mut().for_each(|s| *s = 0.0);
                    self.spikes_active = false;
                    self.refresh_amplitude_sums();
                }
                if let Some((at, p)) = self.pending_pattern.clone() {
                    if at <= t {
                        self.pattern = p;
                        self.pending_pattern = None;
                        self.refresh_amplitude_sums();
                    }
                }
            }
            Payload::Pattern(p) => {
                // Patterns take effect at the next rising edge (or now, at an edge).
                let pre = self.presummed.take();
                let at = clock.rising_at_or_after(t);
                if at == t {
                    self.pattern = Some(p.amplitudes().clone());
                    self.refresh_from_pattern(p, pre);
                } else {
                    self.pending_pattern = Some((at, Some(p.amplitudes().clone())));
                    ctx.wake_at(at, 0);
                }
            }
            Payload::Gate { volts } => self.gate_volts = *volts,
            Payload::NeuronSide { v_volts, g_siemens } => {
                self.node_v = *v_volts;
                self.node_g = *g_siemens;
            }
            Payload::Dormant {
                v_cert_volts,
                v_n_volts,
                g_n_siemens,
            } => {
                // A new certificate (or a void one, `v_cert = −∞`, after the neuron's
                // switching point was redrawn) replaces the old: what is held goes out now.
                // It is adopted only if the neuron's latest source (possibly still in
                // flight) is covered; otherwise that source wakes the neuron anyway.
                self.flush_held(ctx);
                self.dormant = None;
                let cert = (*v_cert_volts, *v_n_volts, *g_n_siemens);
                if self.sent.is_some_and(|s| Self::covered(cert, s)) {
                    self.dormant = Some(cert);
                }
            }
            Payload::Spike { amplitude_volts } if ev.port >= IN_LINE_BASE => {
                let i = (ev.port - IN_LINE_BASE) as usize;
                if i < self.g.len() && clock.is_high(t) {
                    if self.gate_on() {
                        self.synaptic_events += 1;
                    }
                    if self.spikes.is_empty() {
                        self.spikes = vec![0.0; self.g.len()];
                    }
                    self.spikes[i] += *amplitude_volts;
                    self.refresh_amplitude_sums();
                    if !self.spikes_active {
                        self.spikes_active = true;
                        ctx.wake_at(clock.phase_end(t), TAG_SPIKES_END);
                    }
                }
            }
            _ => {}
        }
        if matches!(
            ev.payload,
            Payload::Gate { .. } | Payload::NeuronSide { .. }
        ) {
            self.quiet = None; // gate or node 1 changed (sums changes clear it themselves)
        }
        if changed && ctx.probing() {
            for (i, &g) in self.g.iter().enumerate() {
                ctx.record("g", i as u32, g as f64);
            }
        }
        self.send_side(ctx);
        self.schedule_substep(ctx, changed, own_substep);
    }

    /// A pattern that takes effect now, over lines without spikes and of this column's
    /// width, is summed over the conductances (as a new pattern refreshes its sums).
    fn pattern_weights(&self, ev: &Event, clock: &Clock) -> Option<PatternWeights<'_>> {
        match &ev.payload {
            Payload::Pattern(p)
                if ev.port == IN_PATTERN
                    && self.spikes.is_empty()
                    && p.amplitudes().len() == self.g.len()
                    && clock.rising_at_or_after(ev.time) == ev.time =>
            {
                Some(PatternWeights {
                    values: &self.g,
                    stamp: self.g_stamp,
                })
            }
            _ => None,
        }
    }

    fn accept_pattern_sums(&mut self, pattern: &LinePattern, sums: WeightedSums) {
        let at = pattern as *const LinePattern as usize;
        self.presummed = Some((at, self.g_stamp, sums));
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Cached column sums over synapses (gate on): Σ G, Σ G·A, Σ G·A², Σ A, Σ A², min A,
/// max A, and the number of lines the pattern drives.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
struct Sums {
    g: f64,
    ga: f64,
    ga2: f64,
    a: f64,
    a2: f64,
    lo: f64,
    hi: f64,
    pulsed: u64,
}

/// A column's driven lines, ascending: its own list (after spikes, or a pattern of
/// another width), or the list its pattern brought, shared by every column of the layer
/// rather than copied into each. Saved (and restored) as the list of lines either way.
#[derive(Clone, Debug)]
enum DrivenLines {
    Own(Vec<u32>),
    Shared(Arc<LinePattern>),
}

impl Default for DrivenLines {
    fn default() -> Self {
        DrivenLines::Own(Vec::new())
    }
}

impl std::ops::Deref for DrivenLines {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        match self {
            DrivenLines::Own(v) => v,
            DrivenLines::Shared(p) => p.driven(),
        }
    }
}

impl serde::Serialize for DrivenLines {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for DrivenLines {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<u32>::deserialize(d).map(DrivenLines::Own)
    }
}

/// CLK-high and CLK-low time in `[a, b)`, seconds.
fn split_phases(a: Ns, b: Ns, clock: &Clock) -> (f64, f64) {
    let high_before =
        |t: Ns| (t / clock.period_ns) * clock.high_ns + (t % clock.period_ns).min(clock.high_ns);
    let high = high_before(b) - high_before(a);
    (high as f64 * 1e-9, (b - a - high) as f64 * 1e-9)
}

/// The factors of the last two device voltages of a programming piece (a phase has a
/// driven and a grounded line's voltage), so that the exponential is taken once per
/// voltage rather than once per device.
#[derive(Default)]
struct StepCache {
    entries: [Option<(u64, ProgramStep)>; 2],
    next: usize,
}

impl StepCache {
    fn get(&mut self, params: &RsParams, v: f64, dt: f64, v_gate: f64) -> ProgramStep {
        let bits = v.to_bits();
        for (b, step) in self.entries.iter().flatten() {
            if *b == bits {
                return *step;
            }
        }
        let step = params.step(v, dt, v_gate);
        self.entries[self.next] = Some((bits, step));
        self.next = (self.next + 1) % self.entries.len();
        step
    }
}

/// A synapse's fabricated device while its column learns — its conductance curve (which
/// holds the device's parameters and fault) — with the last values of its pure functions
/// (`p(G)`, `G(p)`, the compliance cap at a gate voltage), so that a device that does not
/// move is not re-evaluated at every sub-step. Compact (96 bytes): the caches are keyed
/// by bit patterns that no real argument has (NaN) while empty.
#[derive(Clone, Copy, Debug)]
struct Programming {
    curve: RsCurve,
    /// `(G bits, p(G))` last computed.
    p_of: (u32, f64),
    /// `(p bits, G(p))` last computed.
    g_of: (u64, f32),
    /// `(V_gate bits, p(G_cap(V_gate)))` last computed.
    cap: (u64, f64),
}

/// The key of an empty cache entry: a NaN, which no conductance, coordinate or gate
/// voltage is.
const EMPTY32: u32 = u32::MAX;
const EMPTY64: u64 = u64::MAX;

impl Programming {
    fn new(dev: RsDevice) -> Self {
        Programming {
            curve: dev.curve(),
            p_of: (EMPTY32, 0.0),
            g_of: (EMPTY64, 0.0),
            cap: (EMPTY64, 0.0),
        }
    }

    /// The device itself (exactly as derived: the curve keeps its parameters and fault).
    #[inline]
    fn device(&self) -> RsDevice {
        RsDevice {
            g_min_siemens: self.curve.g_min_siemens,
            g_max_siemens: self.curve.g_max_siemens,
            nonlinearity: self.curve.nonlinearity,
            fault: self.curve.fault,
        }
    }

    /// `p(G)` of the device (as [`RsDevice::p_of`]).
    #[inline]
    fn p_of(&mut self, g: f32) -> f64 {
        if self.p_of.0 == g.to_bits() {
            return self.p_of.1;
        }
        let p = self.curve.p_of(g as f64);
        self.p_of = (g.to_bits(), p);
        p
    }

    /// `G(p)` of the device, as stored (`f32`).
    #[inline]
    fn conductance(&mut self, p: f64) -> f32 {
        if self.g_of.0 == p.to_bits() {
            return self.g_of.1;
        }
        let g = self.curve.conductance_siemens(p) as f32;
        self.g_of = (p.to_bits(), g);
        g
    }

    /// The compliance cap's programming coordinate at this gate voltage.
    #[inline]
    fn cap_p(&mut self, params: &RsParams, v_gate: f64) -> f64 {
        if self.cap.0 == v_gate.to_bits() {
            return self.cap.1;
        }
        let c = params.compliance_cap_p(&self.device(), v_gate);
        self.cap = (v_gate.to_bits(), c);
        c
    }
}
