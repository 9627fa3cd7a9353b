//! A synapse column: the 1T1R synapses into one neuron, sharing one gate line.
//!
//! Synapse `i` joins input line `i` to node 1. Seen from node 1 the column is a Thevenin
//! source: during CLK-high phases `V = Σ G_i·A_i / Σ G_i` behind `Σ G_i` (`A_i` the line's
//! pulse amplitude, 0 for a grounded line); during CLK-low phases every line is at 0 V.
//! With the gate low every access transistor is off and each cell leaks `G_off`.
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
use crate::engine::event::{Event, Payload, Port};
use crate::engine::time::{Clock, Ns};
use devices::rs::{RsDevice, RsParams};
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
    spikes: Vec<f32>,
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
    /// The fabricated devices of the synapses programmed since the column last went idle,
    /// re-derived once per programming episode rather than at every sub-step; empty
    /// (freed) while nothing programs, so idle columns keep only their conductances.
    programming: Vec<Option<RsDevice>>,
}

/// Sources a column holds back before sending them anyway (bounds its memory).
const MAX_HELD: usize = 256;

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
        let n = initial.len();
        let mut c = Column {
            params,
            variability,
            device_key,
            g: initial,
            pattern: None,
            pending_pattern: None,
            spikes: vec![0.0; n],
            spikes_active: false,
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
        };
        c.refresh_sums();
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
        self.refresh_sums();
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
        (p + self.spikes[i]) as f64
    }

    /// Recomputes the cached sums, always in synapse order (so the result is a pure
    /// function of conductances and amplitudes, never of the history of updates).
    fn refresh_sums(&mut self) {
        self.quiet = None;
        let mut s = Sums {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
            ..Sums::default()
        };
        for (i, &g) in self.g.iter().enumerate() {
            let a = self.amp(i);
            s.g += g as f64;
            s.ga += g as f64 * a;
            s.ga2 += g as f64 * a * a;
            s.a += a;
            s.a2 += a * a;
            s.pulsed += u64::from(self.pattern.as_ref().is_some_and(|p| p[i] != 0.0));
            s.lo = s.lo.min(a);
            s.hi = s.hi.max(a);
        }
        self.sums = s;
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
            } else {
                let v1 = self.node1(side, high);
                let dt = (end - self.t_prog) as f64 * 1e-9;
                for i in 0..self.g.len() {
                    let v = if high { self.amp(i) } else { 0.0 } - v1;
                    if !self.params.programs(v) {
                        self.read_joules += devices::energy::read_joules(v, self.g[i] as f64, dt);
                        continue;
                    }
                    if self.programming.len() != self.g.len() {
                        self.programming = vec![None; self.g.len()];
                    }
                    let dev = match self.programming[i] {
                        Some(d) => d,
                        None => {
                            let d = self.device(i);
                            self.programming[i] = Some(d);
                            d
                        }
                    };
                    let g0 = self.g[i] as f64;
                    let p0 = dev.p_of(g0);
                    let z = if self.variability.cycle_to_cycle {
                        standard_normal(&mut self.rng)
                    } else {
                        0.0
                    };
                    let p1 = self
                        .params
                        .program(&dev, p0, v, dt, self.gate_volts as f64, z);
                    let g1 = dev.conductance_siemens(p1) as f32;
                    if g1 == self.g[i] {
                        self.read_joules += devices::energy::read_joules(v, g0, dt);
                    } else {
                        let e = devices::energy::write_joules(v, g0, g1 as f64, dt);
                        self.write_joules += e;
                        if v > 0.0 {
                            self.set_joules += e;
                        }
                        self.g[i] = g1;
                        self.programmed += 1;
                        changed = true;
                    }
                }
            }
            self.t_prog = end;
            if changed {
                self.refresh_sums();
            }
        }
        changed
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
        if at.is_none() && !self.programming.is_empty() {
            self.programming = Vec::new(); // idle: free the devices
        }
        if let Some(at) = at {
            if self.substep_wake.is_none_or(|w| w <= t || w > at) {
                self.substep_wake = Some(at);
                ctx.wake_at(at, TAG_SUBSTEP);
            }
        }
    }
}

impl Component for Column {
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
                    self.refresh_sums();
                }
                if let Some((at, p)) = self.pending_pattern.clone() {
                    if at <= t {
                        self.pattern = p;
                        self.pending_pattern = None;
                        self.refresh_sums();
                    }
                }
            }
            Payload::Pattern(p) => {
                // Patterns take effect at the next rising edge (or now, at an edge).
                let at = clock.rising_at_or_after(t);
                if at == t {
                    self.pattern = Some(p.clone());
                    self.refresh_sums();
                } else {
                    self.pending_pattern = Some((at, Some(p.clone())));
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
                if i < self.spikes.len() && clock.is_high(t) {
                    if self.gate_on() {
                        self.synaptic_events += 1;
                    }
                    self.spikes[i] += *amplitude_volts;
                    self.refresh_sums();
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

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Cached column sums over synapses (gate on): Σ G, Σ G·A, Σ G·A², Σ A, Σ A², min A,
/// max A, and the number of lines the pattern drives.
#[derive(Clone, Copy, Debug, Default)]
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

/// CLK-high and CLK-low time in `[a, b)`, seconds.
fn split_phases(a: Ns, b: Ns, clock: &Clock) -> (f64, f64) {
    let high_before =
        |t: Ns| (t / clock.period_ns) * clock.high_ns + (t % clock.period_ns).min(clock.high_ns);
    let high = high_before(b) - high_before(a);
    (high as f64 * 1e-9, (b - a - high) as f64 * 1e-9)
}
