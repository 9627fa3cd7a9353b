//! The hybrid memristor-CMOS neuron (paper Fig 3a) as a component.
//!
//! Node 1 joins the synapse column (a Thevenin source that pulses with the CLK-high
//! phases, see [`Payload::ColumnSide`]) and the neuron: the TS device in series with the
//! read-out resistor T2 (node 2 between them), T1 to ground, T3 to the lift voltage, and a
//! small leakage. The logic follows the reference clocked semantics:
//!
//! * **L1** is transparent while CLK is high: `L1 = V(node 2) ≥ V_latch`. It rises the
//!   moment the TS switches ON under a sufficient drive (a *fire*).
//! * **G3** (lateral-inhibition output) `= L1 OR L2`, so the LIA reacts at the fire.
//! * **G2** `= L1 AND CLK AND NOT L2 AND learning` turns T3 on: node 1 is lifted for the
//!   rest of the firing phase (depression of synapses whose inputs are grounded).
//! * **L2** is transparent while CLK is low: it takes L1 at the falling edge and holds it
//!   for the next high phase; T1 then grounds node 1 (refractory period, TS relaxation,
//!   potentiation of synapses whose inputs pulse).
//! * **G1** `= L2 AND CLK`: one output spike per high phase with L2 high.
//!
//! Between events the TS evolves in closed form. The neuron predicts its next TS
//! transition under the present configuration and wakes exactly then; any other event
//! first advances the state to its time. A prediction scans a copy of the device a few
//! CLK phases at a time and pauses with a wake-up to continue (chunks doubling up to the
//! horizon): in a busy winner-take-all layer the next input voids most predictions within
//! a few phases, and the scan beyond it would be wasted. The paused scan resumes exactly
//! where it stopped, so the predicted instant is the one a single scan would give. Advances are split at every CLK edge, so wake-ups
//! at edges never change the arithmetic (probing does not perturb results).
//!
//! Ports — in: [`IN_COLUMN`] (column side), [`IN_CONTROL`]; out: [`OUT_NODE`] (neuron side,
//! to the column), [`OUT_SPIKE`], [`OUT_LI`].

use super::circuit::{node1_volts, NeuronCircuit, ReadThreshold};
use crate::engine::component::{Component, Ctx};
use crate::engine::event::{Control, Event, Payload, Port};
use crate::engine::time::Ns;
use devices::ts::{ThresholdSwitch, TsDevice, TsParams, TsTransition};
use devices::Variability;
use std::any::Any;

/// Input: the column's Thevenin source.
pub const IN_COLUMN: Port = 0;
/// Input: protocol commands.
pub const IN_CONTROL: Port = 1;
/// Output: the neuron's Thevenin source, to its column.
pub const OUT_NODE: Port = 0;
/// Output: spikes.
pub const OUT_SPIKE: Port = 1;
/// Output: lateral-inhibition level.
pub const OUT_LI: Port = 2;

const TAG_EDGE: u64 = 1 << 62;
/// Column sources a dormant neuron keeps before applying them (bounds its memory; as its
/// column's bound, small enough for a layer's to stay in the near caches).
const MAX_DEFERRED: usize = 16;
/// How far ahead (CLK phases) a prediction looks before scheduling a re-check.
const HORIZON_PHASES: u64 = 400;
/// Wake-up tag bit of a prediction's continuation (the rest of the tag is its generation).
const TAG_RESUME: u64 = 1 << 61;
/// Phases a prediction scans before it pauses (doubling at every continuation): most
/// predictions of a neuron in a busy layer are voided by the next input within a few
/// phases, so scanning the whole horizon up front is mostly wasted.
const FIRST_CHUNK_PHASES: u32 = 4;

/// A hybrid neuron around a threshold-switching device `D` (the built-in TS model by
/// default; any [`ThresholdSwitch`] plugs in).
#[derive(Clone, Debug)]
pub struct Neuron<D: ThresholdSwitch = TsDevice> {
    ts: D,
    c: NeuronCircuit,
    g_branch_on: f64,
    g_branch_off: f64,
    col_v_high: f64,
    col_g: f64,
    l1: bool,
    l2: bool,
    learning: bool,
    spike_amp: f32,
    t_last: Ns,
    gen: u64,
    edge_wake: Option<Ns>,
    li_sent: bool,
    side_sent: Option<(f64, f64)>,
    last_spike_cycle: Option<u64>,
    probe_edges: bool,
    fires: u64,
    /// When L1 last rose, ns.
    last_fire_ns: Option<Ns>,
    spikes: u64,
    cmos_joules: f64,
    /// The configuration-only part of [`Self::never_switches`] for the last two
    /// configurations seen: a loser's gate toggles between two at every fire of its layer.
    bound_cache: std::cell::Cell<BoundCache<D::SilenceBound>>,
    /// Set while the neuron is *dormant*: the node-1 high-phase voltage under which
    /// [`Self::never_switches`] proved that it cannot switch, from the state it then had.
    dormant_v1: Option<f64>,
    /// Column sources received while dormant, `(time, v_high, g)`, not yet applied.
    deferred: Vec<(Ns, f64, f64)>,
    rests: u64,
    /// The paused prediction of the current generation, if any.
    lookahead: Option<Box<Lookahead<D>>>,
    /// What the current generation's prediction proved: advancing the device from
    /// `t_last` phase by phase, as [`Self::advance_to`] does, no piece ending before this
    /// time meets a transition — the prediction advanced a copy through the same pieces
    /// from the same state and found none. The real advance then skips its search for the
    /// transition instant ([`ThresholdSwitch::advance_known_silent`]): the same
    /// arithmetic otherwise, so the same bits. `None` when nothing is proved (after
    /// anything changed the configuration or the device took another path). Saved with the
    /// state, like the paused prediction it comes from.
    silent_before: Option<Ns>,
    /// Phases a prediction scans before it first pauses.
    first_chunk: u32,
    /// Look ahead on an upper bound of the switching progress where the device offers one
    /// (see [`Neuron::scan`]).
    bounded_lookahead: bool,
    /// The adaptive threshold's state, when the circuit has one.
    threshold: Option<Threshold>,
}

/// State of the adaptive threshold ([`super::circuit::Homeostasis`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Threshold {
    /// Capacitor voltage as of `t_cap_ns`, volts.
    cap_volts: f64,
    /// When `cap_volts` was last brought up to date.
    t_cap_ns: Ns,
    /// The held threshold line the TS branch returns to, volts.
    line_volts: f64,
    /// The layer's mean threshold, the read rail of [`ReadThreshold::LayerMean`], volts
    /// (`None` until the layer's learning was first switched off).
    mean_rail_volts: Option<f64>,
}

/// A paused prediction: a copy of the TS device advanced phase by phase to `t` under the
/// configuration of the generation that started it, to be continued up to `limit`.
/// Continuing it does exactly what one long scan would have done, phase for phase; only
/// the work beyond the next input is saved.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct Lookahead<D> {
    ts: D,
    t: Ns,
    limit: Ns,
    chunk: u32,
    active: bool,
    /// The copy carries an upper bound of its switching progress (see [`Neuron::scan`]).
    bounded: bool,
}

/// The silence bounds of the last two configurations seen.
type BoundCache<B> = [Option<(BoundKey, B)>; 2];

/// What a silence bound depends on: the column source, the latches, T3 and the held
/// adaptive threshold (they give the drive) and the device's own key
/// ([`ThresholdSwitch::silence_key`]).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct BoundKey {
    col_v_high: u64,
    col_g: u64,
    l1: bool,
    l2: bool,
    learning: bool,
    device: u64,
    threshold: u64,
}

impl Neuron {
    /// A neuron with its TS device drawn from `ts` (`seed` keys the device's stream).
    pub fn new(
        ts: &TsParams,
        circuit: &NeuronCircuit,
        variability: Variability,
        seed: u64,
    ) -> Self {
        Neuron::with_device(TsDevice::new(ts, variability, seed), circuit)
    }
}

impl<D: ThresholdSwitch> Neuron<D> {
    /// A neuron around a given device.
    pub fn with_device(device: D, circuit: &NeuronCircuit) -> Self {
        Neuron {
            g_branch_on: 1.0 / (device.r_on_ohms() + circuit.r_readout_ohms),
            g_branch_off: 1.0 / (device.r_off_ohms() + circuit.r_readout_ohms),
            ts: device,
            col_v_high: 0.0,
            col_g: 0.0,
            l1: false,
            l2: false,
            learning: true,
            spike_amp: circuit.spike_amplitude_volts as f32,
            c: circuit.clone(),
            t_last: 0,
            gen: 0,
            edge_wake: None,
            li_sent: false,
            side_sent: None,
            last_spike_cycle: None,
            probe_edges: false,
            fires: 0,
            last_fire_ns: None,
            spikes: 0,
            cmos_joules: 0.0,
            bound_cache: std::cell::Cell::new([None; 2]),
            dormant_v1: None,
            deferred: Vec::new(),
            rests: 0,
            lookahead: None,
            silent_before: None,
            first_chunk: FIRST_CHUNK_PHASES,
            bounded_lookahead: true,
            threshold: circuit.homeostasis.as_ref().map(|_| Threshold {
                cap_volts: 0.0,
                t_cap_ns: 0,
                line_volts: 0.0,
                mean_rail_volts: None,
            }),
        }
    }

    /// Starts with the depression feedback (T3) enabled or not.
    pub fn with_learning(mut self, on: bool) -> Self {
        self.learning = on;
        self
    }

    /// Phases a prediction scans before it pauses to continue at a wake-up (default 4,
    /// doubling at each continuation; `u32::MAX` scans the whole horizon at once). Only the
    /// amount of work depends on it, never the result.
    pub fn with_prediction_chunk(mut self, phases: u32) -> Self {
        self.first_chunk = phases.max(1);
        self
    }

    /// Where the device offers a bounded advance (the hazard law), look ahead on an upper
    /// bound of the switching progress and integrate exactly only in the phase that could
    /// switch (default true), or integrate every phase of the look-ahead exactly. Only the
    /// amount of work depends on it, never the result.
    pub fn with_bounded_lookahead(mut self, on: bool) -> Self {
        self.bounded_lookahead = on;
        self
    }

    /// Wake at every CLK edge to record node traces (does not change results).
    pub fn with_edge_probing(mut self, on: bool) -> Self {
        self.probe_edges = on;
        self
    }

    /// Number of rests that reset the TS device (see [`Control::Rest`]).
    pub fn rests(&self) -> u64 {
        self.rests
    }

    /// The TS device, as of the last event the neuron handled (a dormant neuron applies
    /// the column sources it deferred when it next wakes).
    pub fn ts(&self) -> &D {
        &self.ts
    }

    /// Number of fires (L1 rising) so far.
    pub fn fires(&self) -> u64 {
        self.fires
    }

    /// When the neuron last fired (L1 rising), ns; `None` before its first fire.
    pub fn last_fire_ns(&self) -> Option<Ns> {
        self.last_fire_ns
    }

    /// Number of output spikes so far.
    pub fn spikes(&self) -> u64 {
        self.spikes
    }

    /// Energy of the CMOS transitions so far, joules.
    pub fn cmos_joules(&self) -> f64 {
        self.cmos_joules
    }

    /// Energy dissipated in the TS device up to `now_ns` (at or after the last event
    /// handled), joules: a copy of the neuron applies what it deferred, then `held` (the
    /// sources its column still holds back, [`crate::circuits::column::Column::held_sources`]),
    /// and advances to `now_ns` under the last of them (the neuron itself is not changed).
    /// Without `held` a dormant neuron's reading would run on the source it had before
    /// them, and depend on when its column last sent what it held.
    pub fn ts_energy(
        &self,
        now_ns: Ns,
        clock: &crate::engine::time::Clock,
        held: &[(Ns, f64, f64)],
    ) -> devices::Energy {
        if now_ns <= self.t_last && self.deferred.is_empty() && held.is_empty() {
            return self.ts.energy();
        }
        let mut copy = self.clone();
        copy.deferred.extend_from_slice(held);
        copy.apply_deferred(clock);
        if copy.t_last < now_ns {
            // A transition due before `now_ns` stops the copy there (its event is pending).
            let _ = copy.advance_to(now_ns, clock);
        }
        copy.ts.energy()
    }

    /// The neuron's CMOS parameters.
    pub fn circuit(&self) -> &NeuronCircuit {
        &self.c
    }

    /// Whether T3 (depression feedback) is enabled.
    pub fn learning(&self) -> bool {
        self.learning
    }

    /// The held adaptive threshold the TS branch returns to, volts (0 without one).
    pub fn threshold_volts(&self) -> f64 {
        self.threshold.as_ref().map_or(0.0, |t| t.line_volts)
    }

    /// The voltage the TS branch sees for node 1 at `v1_volts`: node 1 itself, or with an
    /// adaptive threshold `(v1 − θ)⁺` (node 1 itself in the read mode when the threshold
    /// line is grounded there). Monotone in `v1`, so a silence proof made at one node-1
    /// level holds at every lower one.
    #[inline]
    fn branch_drive(&self, v1_volts: f64) -> f64 {
        match &self.threshold {
            Some(_) => (v1_volts - self.threshold_line_volts()).max(0.0),
            None => v1_volts,
        }
    }

    /// The shared rail the threshold line is switched to now (read mode, a
    /// `read_threshold` other than [`ReadThreshold::Held`]), if it is. A layer-mean rail
    /// not yet set (no [`Control::ReadRail`] received) leaves the held threshold.
    #[inline]
    fn read_rail(&self) -> Option<f64> {
        if self.learning {
            return None;
        }
        match self.c.homeostasis.as_ref()?.read_threshold {
            ReadThreshold::Held => None,
            ReadThreshold::Rail(v) => Some(v),
            ReadThreshold::LayerMean => self.threshold.as_ref()?.mean_rail_volts,
        }
    }

    /// The threshold line the TS branch returns to now: the held threshold, or in the read
    /// mode the rail of `read_threshold`, volts (0 without an adaptive threshold).
    pub fn threshold_line_volts(&self) -> f64 {
        self.read_rail().unwrap_or_else(|| self.threshold_volts())
    }

    /// Whether `read_threshold` is a layer-mean rail (the neuron then takes part in the
    /// average when its layer's learning is switched off).
    pub fn reads_at_layer_mean(&self) -> bool {
        self.c
            .homeostasis
            .as_ref()
            .is_some_and(|h| h.read_threshold == ReadThreshold::LayerMean)
    }

    /// The threshold capacitor's voltage at `t` (its leak applied since the last update).
    fn threshold_cap_at(&self, t: Ns) -> Option<f64> {
        let (th, h) = (self.threshold.as_ref()?, self.c.homeostasis.as_ref()?);
        let dt_s = (t.saturating_sub(th.t_cap_ns)) as f64 * 1e-9;
        Some(th.cap_volts * (-dt_s / h.leak_seconds).exp())
    }

    /// A fire tops the threshold capacitor up (the line follows at the next rest).
    fn charge_threshold(&mut self, t: Ns) {
        let Some(cap) = self.threshold_cap_at(t) else {
            return;
        };
        let h = self
            .c
            .homeostasis
            .as_ref()
            .expect("threshold implies homeostasis");
        let cap = (cap + h.step_volts * (1.0 - cap / h.max_volts)).min(h.max_volts);
        let th = self.threshold.as_mut().expect("checked above");
        th.cap_volts = cap;
        th.t_cap_ns = t;
    }

    /// A rest refreshes the held threshold line from the capacitor.
    fn refresh_threshold(&mut self, t: Ns) {
        let Some(cap) = self.threshold_cap_at(t) else {
            return;
        };
        let th = self.threshold.as_mut().expect("checked above");
        th.cap_volts = cap;
        th.t_cap_ns = t;
        th.line_volts = cap;
    }

    fn t3(&self, high: bool) -> bool {
        self.l1 && high && !self.l2 && self.learning
    }

    /// The neuron seen from node 1: (open-circuit volts, conductance siemens).
    fn neuron_side(&self, high: bool) -> (f64, f64) {
        self.neuron_side_with(self.ts.is_on(), high)
    }

    /// [`Self::neuron_side`] for a given TS state.
    fn neuron_side_with(&self, ts_on: bool, high: bool) -> (f64, f64) {
        let mut g = self.c.g_node_leak_siemens
            + if ts_on {
                self.g_branch_on
            } else {
                self.g_branch_off
            };
        let mut i = 0.0;
        if self.l2 {
            g += 1.0 / self.c.r_t1_on_ohms;
        }
        if self.t3(high) {
            let g3 = 1.0 / self.c.r_t3_on_ohms;
            g += g3;
            i += g3 * self.c.v_lift_volts;
        }
        (i / g, g)
    }

    /// Node-1 voltage with the CLK at `high`, for a given TS state.
    fn node1(&self, ts_on: bool, high: bool) -> f64 {
        let v_col = if high { self.col_v_high } else { 0.0 };
        let (v_n, g_n) = self.neuron_side_with(ts_on, high);
        node1_volts(v_col, self.col_g, v_n, g_n)
    }

    /// Voltages (node 1, across the TS, node 2) with the CLK at `high`.
    fn voltages(&self, high: bool) -> (f64, f64, f64) {
        let v1 = self.node1(self.ts.is_on(), high);
        let drive = self.branch_drive(v1);
        let vts = self.ts.device_voltage(drive, self.c.r_readout_ohms);
        // Node 2 as L1 senses it: against the line T2 returns to.
        (v1, vts, drive - vts)
    }

    /// Advances the TS from `t_last` to `t`, split at every CLK edge. Returns the first
    /// transition met (the caller handles it at the time it stopped).
    fn advance_to(&mut self, t: Ns, clock: &crate::engine::time::Clock) -> Option<TsTransition> {
        while self.t_last < t {
            // Whole CLK periods in one closed-form step when the device provably stays
            // OFF throughout (the usual case of a silent neuron between two events).
            if !self.ts.is_on()
                && clock.is_high(self.t_last)
                && clock.phase_start(self.t_last) == self.t_last
            {
                let periods = (t - self.t_last) / clock.period_ns;
                if periods >= 1 {
                    let (_, vh, _) = self.voltages(true);
                    let (_, vl, _) = self.voltages(false);
                    let low_ns = clock.period_ns - clock.high_ns;
                    if self
                        .ts
                        .advance_periods(vh, clock.high_ns, vl, low_ns, periods)
                    {
                        // Another path than the prediction's copy: its proof is void.
                        self.silent_before = None;
                        self.t_last += periods * clock.period_ns;
                        continue;
                    }
                }
            }
            let end = clock.phase_end(self.t_last).min(t);
            let (_, vts, _) = self.voltages(clock.is_high(self.t_last));
            let step = if self.silent_before.is_some_and(|b| end < b) {
                self.ts.advance_known_silent(vts, end - self.t_last)
            } else {
                self.ts.advance(vts, end - self.t_last)
            };
            self.t_last += step.elapsed_ns;
            if step.transition.is_some() {
                self.silent_before = None;
                return step.transition;
            }
        }
        None
    }

    /// Whether the OFF device provably never switches while the present configuration
    /// lasts ([`ThresholdSwitch::is_silent`] under the periodic drive of the CLK phases).
    /// The drive-only part of the proof is kept for the last two configurations seen.
    fn never_switches(&self, clock: &crate::engine::time::Clock) -> bool {
        if self.ts.is_on() {
            return false;
        }
        let key = BoundKey {
            col_v_high: self.col_v_high.to_bits(),
            col_g: self.col_g.to_bits(),
            l1: self.l1,
            l2: self.l2,
            learning: self.learning,
            device: self.ts.silence_key(),
            threshold: self.threshold_line_volts().to_bits(),
        };
        let cache = self.bound_cache.get();
        let b = match cache.iter().flatten().find(|(k, _)| *k == key) {
            Some(&(_, b)) => b,
            None => {
                let b = self.silence_bound(clock);
                self.bound_cache.set([Some((key, b)), cache[0]]);
                b
            }
        };
        self.ts.is_silent(&b)
    }

    /// The drive-only part of [`Self::never_switches`]: the device voltages of an OFF
    /// device in the two CLK phases of the present configuration.
    fn silence_bound(&self, clock: &crate::engine::time::Clock) -> D::SilenceBound {
        let v = |high: bool| {
            self.ts.device_voltage(
                self.branch_drive(self.node1(false, high)),
                self.c.r_readout_ohms,
            )
        };
        let low_ns = clock.period_ns - clock.high_ns;
        self.ts
            .silence_bound(v(true), clock.high_ns, v(false), low_ns)
    }

    /// Next TS transition time under the present configuration, looking no further than
    /// `limit`. Pure: works on a copy of the device.
    /// Advances `ts` (a copy of the device) from `*t` phase by phase, under the present
    /// configuration, for at most `phases` phases and not beyond `limit`; returns the time
    /// of the first transition, if any (then `*t` is that time).
    ///
    /// When the device offers a bounded advance (the hazard law) only the first phase is
    /// advanced exactly; later phases carry an upper bound of the switching progress
    /// ([`ThresholdSwitch::advance_bounded`]), and the scan stops at
    /// the start of the first phase in which the bound allows a switch: the neuron wakes
    /// there (a phase boundary, so its own advance does the same arithmetic) and predicts
    /// that phase exactly. Every phase is then integrated once, by the real device, instead
    /// of once in the look-ahead and once more when the neuron catches up.
    fn scan(
        &self,
        la: &mut Lookahead<D>,
        phases: u32,
        clock: &crate::engine::time::Clock,
    ) -> Option<Ns> {
        let ts = &mut la.ts;
        for _ in 0..phases {
            if la.t >= la.limit {
                break;
            }
            let end = clock.phase_end(la.t).min(la.limit);
            // Same arithmetic as `advance_to`, with the copy's ON/OFF state.
            let v1 = self.node1(ts.is_on(), clock.is_high(la.t));
            let vts = ts.device_voltage(self.branch_drive(v1), self.c.r_readout_ohms);
            if la.bounded {
                if ts.advance_bounded(vts, end - la.t) {
                    la.t = end;
                    continue;
                }
                return Some(la.t);
            }
            let step = ts.advance(vts, end - la.t);
            la.t += step.elapsed_ns;
            if step.transition.is_some() {
                return Some(la.t);
            }
            la.bounded =
                self.bounded_lookahead && ts.has_bounded_advance() && !ts.is_on() && !la.active;
        }
        None
    }

    /// Continues a prediction for `la.chunk` phases: schedules the transition it finds,
    /// or a continuation of itself, or (for an idle neuron that reached the horizon) a
    /// re-check.
    fn predict(&mut self, mut la: Lookahead<D>, ctx: &mut Ctx) {
        let clock = *ctx.clock();
        let chunk = la.chunk;
        let found = self.scan(&mut la, chunk, &clock);
        // The copy went through `advance_to`'s pieces from `t_last`: none ending before
        // the transition it found, or at or before where it paused, meets one.
        self.silent_before = match found {
            Some(at) if !la.bounded => Some(at),
            Some(_) => None,
            None => Some(la.t + 1),
        };
        match found {
            Some(at) => ctx.wake_at(at, self.gen),
            None if la.t < la.limit => {
                ctx.wake_at(la.t, self.gen | TAG_RESUME);
                la.chunk = la.chunk.saturating_mul(2);
                self.lookahead = Some(Box::new(la));
            }
            None if !la.active => ctx.wake_at(la.limit, self.gen),
            None => {}
        }
    }

    /// [`Control::Rest`]: resets an idle TS device. Its switching point is redrawn, so a
    /// dormancy proof no longer holds: the column is told to release what it holds back
    /// (a void certificate); `schedule` then proves dormancy anew if it can.
    fn rest(&mut self, ctx: &mut Ctx) {
        // In the learning mode the held threshold follows the capacitor at every rest (a
        // busy neuron too: the caller re-predicts after any event); in the read mode the
        // sample-and-hold is not clocked, so reads see a fixed threshold.
        if self.learning {
            self.refresh_threshold(self.t_last);
        }
        if self.ts.is_on() || self.l1 || self.l2 {
            return;
        }
        self.ts.reset_to_rest();
        self.rests += 1;
        self.gen += 1;
        self.lookahead = None;
        self.silent_before = None;
        self.dormant_v1 = None;
        ctx.emit(
            OUT_NODE,
            Payload::Dormant {
                v_cert_volts: f64::NEG_INFINITY,
                v_n_volts: 0.0,
                g_n_siemens: 0.0,
            },
        );
    }

    /// While dormant, keeps a column source that is no stronger than the one the neuron
    /// was proved silent under (node 1 at most as high during CLK-high phases; CLK-low
    /// phases carry no input) for later, and returns true. Such a source cannot make the
    /// neuron switch — a silence proof holds under any weaker drive (the contract of
    /// [`ThresholdSwitch`]) — nor change any output (L1 needs the TS ON; L2, T3 and the spike follow L1), so applying
    /// it can wait. This is what makes a winner-take-all layer cheap: at every fire the
    /// LIA toggles every loser's gate, and a silent loser only notes the times.
    fn defers(&mut self, t: Ns, v_high: f64, g: f64, clock: &crate::engine::time::Clock) -> bool {
        let Some(v_cert) = self.dormant_v1 else {
            return false;
        };
        let (v_n, g_n) = self.neuron_side_with(false, true);
        let v1 = node1_volts(v_high, g, v_n, g_n);
        if v_high >= 0.0 && v1 <= v_cert {
            self.deferred.push((t, v_high, g));
            if self.deferred.len() >= MAX_DEFERRED {
                // Bounded memory: catch up now; the proof still holds.
                self.apply_deferred(clock);
            }
            true
        } else {
            false
        }
    }

    /// Leaves dormancy: applies the deferred column sources.
    fn wake_up(&mut self, clock: &crate::engine::time::Clock) {
        self.dormant_v1 = None;
        self.apply_deferred(clock);
    }

    /// Applies the deferred column sources in order, advancing the TS to each one's time
    /// exactly as if it had been handled then.
    fn apply_deferred(&mut self, clock: &crate::engine::time::Clock) {
        let mut deferred = std::mem::take(&mut self.deferred);
        for &(t, v, g) in &deferred {
            let tr = self.advance_to(t, clock);
            debug_assert!(tr.is_none(), "a dormant neuron switched: {tr:?}");
            self.col_v_high = v;
            self.col_g = g;
        }
        deferred.clear();
        self.deferred = deferred;
    }

    /// Re-evaluates latches and outputs at `t_last`, emitting what changed.
    fn settle(&mut self, ctx: &mut Ctx) {
        let clock = *ctx.clock();
        let t = self.t_last;
        let high = clock.is_high(t);
        if high {
            for _ in 0..3 {
                let (_, _, v2) = self.voltages(true);
                let l1 = v2 >= self.c.v_latch_threshold_volts;
                if l1 == self.l1 {
                    break;
                }
                self.l1 = l1;
                self.cmos_joules += self.c.cmos_transition_joules;
                if l1 {
                    self.fires += 1;
                    self.last_fire_ns = Some(t);
                    // The pump is enabled by the learning-enable line, as T3 is.
                    if self.learning {
                        self.charge_threshold(t);
                    }
                    ctx.record("fire", 0, 1.0);
                }
            }
            // G1 = L2 AND CLK: one spike per high phase.
            let cycle = clock.cycle(t);
            if self.l2 && self.last_spike_cycle != Some(cycle) {
                self.last_spike_cycle = Some(cycle);
                self.spikes += 1;
                self.cmos_joules += self.c.cmos_transition_joules;
                ctx.emit(
                    OUT_SPIKE,
                    Payload::Spike {
                        amplitude_volts: self.spike_amp,
                    },
                );
                ctx.record("spike", 0, self.spike_amp as f64);
            }
        } else if self.l2 != self.l1 {
            self.l2 = self.l1;
            self.cmos_joules += self.c.cmos_transition_joules;
        }
        let li = self.l1 || self.l2;
        if li != self.li_sent {
            self.li_sent = li;
            let v = if li { self.c.li_high_volts as f32 } else { 0.0 };
            ctx.emit(OUT_LI, Payload::Level { volts: v });
        }
        let side = self.neuron_side(high);
        if self.side_sent != Some(side) {
            self.side_sent = Some(side);
            ctx.emit(
                OUT_NODE,
                Payload::NeuronSide {
                    v_volts: side.0,
                    g_siemens: side.1,
                },
            );
        }
        if ctx.probing() {
            let (v1, _, v2) = self.voltages(high);
            ctx.record("v_node1", 0, v1);
            ctx.record("v_node2", 0, v2);
            ctx.record("l1", 0, self.l1 as u8 as f64);
            ctx.record("l2", 0, self.l2 as u8 as f64);
            let out = if self.l2 && high {
                self.spike_amp as f64
            } else {
                0.0
            };
            ctx.record("v_out", 0, out);
        }
    }

    /// Schedules the next edge wake (when the latches are active) and the next predicted
    /// transition.
    fn schedule(&mut self, ctx: &mut Ctx) {
        let clock = *ctx.clock();
        let t = self.t_last;
        let next_edge = clock.phase_end(t);
        let active = self.l1 || self.l2 || self.ts.is_on() || self.probe_edges;
        if active && self.edge_wake.is_none_or(|w| w <= t) {
            self.edge_wake = Some(next_edge);
            ctx.wake_at(next_edge, TAG_EDGE);
        }
        let limit = if active {
            next_edge
        } else {
            t + HORIZON_PHASES * clock.high_ns.min(clock.period_ns - clock.high_ns)
        };
        self.gen += 1;
        self.lookahead = None;
        if !active && self.never_switches(&clock) {
            // Nothing can happen until an input gets stronger: become dormant.
            if !ctx.probing() {
                let v_cert = self.node1(false, true);
                self.dormant_v1 = Some(v_cert);
                let (v_n, g_n) = self.neuron_side_with(false, true);
                ctx.emit(
                    OUT_NODE,
                    Payload::Dormant {
                        v_cert_volts: v_cert,
                        v_n_volts: v_n,
                        g_n_siemens: g_n,
                    },
                );
            }
            return;
        }
        let la = Lookahead {
            ts: self.ts.clone(),
            t,
            limit,
            chunk: self.first_chunk,
            active,
            bounded: false,
        };
        self.predict(la, ctx);
    }
}

impl<D: ThresholdSwitch> Component for Neuron<D> {
    crate::component_state!(Neuron {
        ts, g_branch_on, g_branch_off, col_v_high, col_g, l1, l2, learning, spike_amp, t_last, gen, edge_wake, li_sent, side_sent, last_spike_cycle, probe_edges, fires, last_fire_ns, spikes, cmos_joules, bound_cache, dormant_v1, deferred, rests, lookahead, first_chunk, bounded_lookahead, threshold, silent_before
    } keep { c });

    fn kind(&self) -> &'static str {
        "neuron"
    }

    fn start(&mut self, ctx: &mut Ctx) {
        self.settle(ctx);
        self.schedule(ctx);
    }

    fn handle(&mut self, ev: &Event, ctx: &mut Ctx) {
        let clock = *ctx.clock();
        if let Payload::Wake { tag } = ev.payload {
            if tag & TAG_RESUME != 0 {
                // A paused prediction goes on; the device itself is not touched.
                if tag ^ TAG_RESUME == self.gen {
                    if let Some(la) = self.lookahead.take() {
                        self.predict(*la, ctx);
                    }
                }
                return;
            }
            if tag == TAG_EDGE {
                if self.edge_wake != Some(ev.time) {
                    return;
                }
                self.edge_wake = None;
            } else if tag != self.gen {
                return; // a stale prediction
            }
        }
        if let Payload::ColumnHistory(pieces) = &ev.payload {
            // Sources the column held back while this neuron was dormant.
            for &(t, v, g) in pieces.iter() {
                if !self.defers(t, v, g, &clock) {
                    // Not covered (cannot happen: the column checks the same bound).
                    self.wake_up(&clock);
                    let _ = self.advance_to(t, &clock);
                    self.col_v_high = v;
                    self.col_g = g;
                }
            }
            if self.dormant_v1.is_some() {
                return;
            }
        }
        if self.dormant_v1.is_some() {
            match &ev.payload {
                Payload::ColumnSide {
                    v_high_volts,
                    g_siemens,
                } if self.defers(ev.time, *v_high_volts, *g_siemens, &clock) => return,
                // Neither changes the TS or what a silent neuron emits (T3 needs L1) —
                // unless the learning line also switches the threshold line, which
                // changes the drive: then the neuron wakes up below.
                Payload::Control(Control::Learning(on))
                    if self
                        .c
                        .homeostasis
                        .as_ref()
                        .is_none_or(|h| h.read_threshold == ReadThreshold::Held) =>
                {
                    self.learning = *on;
                    return;
                }
                Payload::Control(Control::SpikeAmplitude(v)) => {
                    self.spike_amp = *v;
                    return;
                }
                // An edge wake left over from before: the latches are low and stay so.
                Payload::Wake { .. } => return,
                _ => {}
            }
            self.wake_up(&clock);
        }
        let first = self.advance_to(ev.time, &clock);
        // The event is about to change the configuration the prediction assumed.
        self.silent_before = None;
        if let Some(tr) = first {
            // A transition before the event's time means a prediction was not scheduled;
            // handle it here, late, rather than lose it.
            debug_assert_eq!(self.t_last, ev.time, "unpredicted TS transition {tr:?}");
            self.settle(ctx);
            if self.t_last < ev.time {
                let _ = self.advance_to(ev.time, &clock);
            }
        }
        match &ev.payload {
            Payload::ColumnSide {
                v_high_volts,
                g_siemens,
            } => {
                self.col_v_high = *v_high_volts;
                self.col_g = *g_siemens;
            }
            Payload::Control(Control::Learning(on)) => self.learning = *on,
            Payload::Control(Control::Rest) => self.rest(ctx),
            Payload::Control(Control::SpikeAmplitude(v)) => self.spike_amp = *v,
            Payload::Control(Control::ReadRail(v)) => {
                if let Some(t) = self.threshold.as_mut() {
                    t.mean_rail_volts = Some(*v);
                }
            }
            _ => {}
        }
        self.settle(ctx);
        self.schedule(ctx);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
