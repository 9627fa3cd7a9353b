//! The lateral-inhibition array (LIA, paper Fig 4a) as a component: the neurons'
//! lateral-inhibition levels in, the gate lines of their synapse columns out.
//!
//! The array itself — its parameters, the programming rule, the fabricated instance with
//! its comparator inputs and margins — is device physics and lives in [`devices::lia`]
//! (re-exported here); this module only keeps which neurons are active, which gates were
//! last driven, the comparators' delay and the winner hold. The component drives either
//! organisation of [`LiaCircuit`]: the paper's flat array or the circuit extension
//! *hierarchical LIA* (`hierarchy: Groups(size: ..)`, small arrays per group of neurons
//! and over the groups' OR lines, [`HierarchicalLia`]); the gate lines are a function of
//! the set of active neurons either way, so the events are the same kind and banks split
//! the work the same way.
//!
//! Ports — in: `i` = neuron `i`'s lateral-inhibition level ([`Payload::Level`], "1" when
//! at least half the LI high level), [`IN_CONTROL`] (the reset line of a winner hold,
//! [`Control::Rest`]); out: `j` = gate line of column `j` ([`Payload::Gate`]).

use crate::engine::component::{Component, Ctx};
use crate::engine::event::{Control, Event, Payload, Port};
use crate::engine::time::Ns;
pub use devices::lia::{
    scaling_margins, sweep_margins, Choice, HierarchicalLia, Hierarchy, Hold, Levels, LiaArray,
    LiaCircuit, LiaDesign, LiaError, LiaParams, Margins, Regime, ScalingPoint,
    LIA_HIERARCHICAL_RON, LIA_RON, LIA_WINNER_HOLD_RON,
};
use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

/// Input: the reset line of a winner hold ([`Control::Rest`]).
pub const IN_CONTROL: Port = Port::MAX - 1;

/// The LIA as a component: levels in, gate lines out. One component may hold all the
/// comparators or a *bank* of them (a range of columns, [`Lia::bank`]): every comparator
/// reads its own column line of the shared array (in a hierarchical LIA, each gate line's
/// AND reads its own path of comparators), so banks give exactly the gates of the
/// whole, and large layers split the work of a fire (hundreds of gate lines) over
/// components that executors can run in parallel.
#[derive(Clone, Debug)]
pub struct Lia {
    circuit: Arc<LiaCircuit>,
    columns: Range<usize>,
    threshold_volts: f32,
    active: Vec<usize>,
    gates: Vec<f32>,
    target: Vec<f32>,
    delay_ns: Ns,
    wake: Option<Ns>,
    hold: Hold,
    /// A winner's gate configuration is held (with `Hold::UntilReset`).
    held: bool,
    /// Energy of the array's reads up to `energy_ns`, joules (kept by the bank holding
    /// column 0 for the whole circuit; other banks keep 0).
    read_joules: f64,
    /// When `read_joules` was last brought up to date.
    energy_ns: Ns,
    /// The array's power under the present LI levels, watts.
    power_watts: f64,
    /// Comparator output (gate line) transitions driven so far.
    transitions: u64,
    /// The last two sets of active neurons seen, with what follows from each alone: the
    /// array's power (kept by the bank holding column 0) and this bank's gate levels. A
    /// winner-take-all layer toggles between two sets at every fire (none active, the
    /// winner active), and both are pure functions of the set. Not saved: a resumed run
    /// computes them again, to the same values.
    levels_seen: [Option<SeenLevels>; 2],
}

/// What an LIA's array gives for one set of active neurons.
#[derive(Clone, Debug)]
struct SeenLevels {
    active: Vec<usize>,
    power_watts: f64,
    gates: Vec<f32>,
}

impl Lia {
    /// A component with all the comparators of a programmed array, in the quiet state.
    pub fn new(array: LiaArray) -> Self {
        Self::whole(LiaCircuit::Flat(array))
    }

    /// A component with all the gate lines of a programmed LIA of either organisation, in
    /// the quiet state.
    pub fn whole(circuit: LiaCircuit) -> Self {
        let n = circuit.n();
        Self::bank(Arc::new(circuit), 0..n)
    }

    /// The gate lines of columns `columns` of a shared LIA (gate line `j` on output port
    /// `j`), in the quiet state. Every bank receives every neuron's LI level.
    pub fn bank(circuit: Arc<LiaCircuit>, columns: Range<usize>) -> Self {
        let columns = columns.start.min(circuit.n())..columns.end.min(circuit.n());
        let gates = circuit.gates_of(&[], columns.clone());
        Lia {
            threshold_volts: (0.5 * circuit.li_high_volts()) as f32,
            circuit,
            columns,
            active: Vec::new(),
            target: gates.clone(),
            gates,
            delay_ns: 0,
            wake: None,
            hold: Hold::Follow,
            held: false,
            read_joules: 0.0,
            energy_ns: 0,
            power_watts: 0.0,
            transitions: 0,
            levels_seen: [None, None],
        }
    }

    /// Comparator output transitions (gate line changes) driven so far, the initial
    /// levels at start excluded.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// Energy dissipated in the array's cells and sense loads up to `now_ns` (at or after
    /// the last event handled), joules: the power of the present LI levels
    /// ([`LiaCircuit::power_watts`]) integrated between level changes. The bank holding
    /// column 0 accounts for the whole circuit; any other bank returns 0.
    pub fn read_joules(&self, now_ns: Ns) -> f64 {
        self.read_joules + self.power_watts * now_ns.saturating_sub(self.energy_ns) as f64 * 1e-9
    }

    /// Brings the read energy up to `now`, takes the power of the present levels and, unless
    /// a winner is held, their gate levels as the target — from [`Self::levels_seen`] when
    /// the set of active neurons was one of the last two. Afterwards `levels_seen[0]` is
    /// the present set's.
    fn follow_levels(&mut self, now: Ns) {
        if self.columns.start == 0 {
            self.read_joules = self.read_joules(now);
            self.energy_ns = now;
        }
        let hit = self
            .levels_seen
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.active == self.active));
        let seen = match hit {
            Some(i) => {
                self.levels_seen.swap(0, i);
                self.levels_seen[0].as_ref().expect("a hit is an entry")
            }
            None => {
                let power_watts = if self.columns.start == 0 {
                    self.circuit.power_watts(&self.active)
                } else {
                    0.0
                };
                let gates = self.circuit.gates_of(&self.active, self.columns.clone());
                self.levels_seen.swap(0, 1);
                self.levels_seen[0].insert(SeenLevels {
                    active: self.active.clone(),
                    power_watts,
                    gates,
                })
            }
        };
        if self.columns.start == 0 {
            self.power_watts = seen.power_watts;
        }
        if !self.held {
            self.target.clone_from(&seen.gates);
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

    /// The programmed LIA.
    pub fn circuit(&self) -> &LiaCircuit {
        &self.circuit
    }

    /// The programmed array, if the LIA is the paper's flat one.
    pub fn array(&self) -> Option<&LiaArray> {
        match &*self.circuit {
            LiaCircuit::Flat(a) => Some(a),
            LiaCircuit::Hierarchical(_) => None,
        }
    }
}

impl Lia {
    /// Comparator propagation delay: gate lines follow the LI inputs `ns` later, and
    /// changes shorter than that are filtered out (0 = ideal, instantaneous comparators).
    /// A delay keeps two neurons that fire at the same instant from starting a zero-time
    /// oscillation (both gates close, both L1 fall, both gates open, ...): with it the race
    /// runs at the comparators' speed until the clock latches it.
    pub fn with_delay(mut self, ns: Ns) -> Self {
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
                self.transitions += 1;
                ctx.emit((j0 + k) as Port, Payload::Gate { volts: v });
                ctx.record("gate", (j0 + k) as u32, f64::from(v));
            }
        }
    }
}

impl Component for Lia {
    crate::component_state!(Lia {
        columns, threshold_volts, active, gates, target, delay_ns, wake, hold, held, read_joules, energy_ns, power_watts, transitions
    } keep { circuit, levels_seen });

    fn kind(&self) -> &'static str {
        "lia"
    }

    fn start(&mut self, ctx: &mut Ctx) {
        self.follow_levels(ctx.now());
        let seen = self.levels_seen[0]
            .as_ref()
            .expect("follow_levels keeps the present set's");
        self.gates.clone_from(&seen.gates);
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
                self.target = self.circuit.gates_of(&self.active, self.columns.clone());
                self.drive(ctx);
            }
            return;
        }
        let Payload::Level { volts } = ev.payload else {
            return;
        };
        let i = ev.port as usize;
        if i >= self.circuit.n() {
            debug_assert!(false, "LIA level on port {i} (n = {})", self.circuit.n());
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
        self.follow_levels(ctx.now());
        if self.held {
            return;
        }
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
    use crate::engine::component::{Emission, Scratch};
    use crate::engine::time::Clock;
    use devices::{DeviceSet, Variability};

    fn array(n: usize, seed: u64) -> LiaArray {
        let set = DeviceSet::builtin();
        let d = LiaParams::builtin().design(&set.synapse, n).unwrap();
        LiaArray::new(&d, &set.synapse, &set.comparator, Variability::FULL, seed)
    }

    fn only(n: usize, j: usize) -> Vec<f32> {
        (0..n).map(|k| if k == j { 3.0 } else { 0.0 }).collect()
    }

    fn run(lia: &mut Lia, events: &[(u32, f32)], start: bool) -> Vec<Emission> {
        let clock = Clock::default();
        let mut s = Scratch::default();
        if start {
            let mut ctx = Ctx::new(0, 0, &clock, false, &mut s);
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
            let mut ctx = Ctx::new(1000, 0, &clock, false, &mut s);
            lia.handle(&ev, &mut ctx);
        }
        assert!(s.wakes.is_empty());
        s.emissions
    }

    /// Delivers the reset line's pulse ([`Control::Rest`]) and returns what it emitted.
    fn reset(lia: &mut Lia) -> Vec<Emission> {
        let clock = Clock::default();
        let mut s = Scratch::default();
        let ev = Event {
            time: 2000,
            delta: 0,
            dst: 0,
            port: IN_CONTROL,
            src: 99,
            seq: 0,
            payload: Payload::Control(Control::Rest),
        };
        let mut ctx = Ctx::new(2000, 0, &clock, false, &mut s);
        lia.handle(&ev, &mut ctx);
        s.emissions
    }

    #[test]
    fn winner_hold_keeps_the_first_winner_until_the_reset_line() {
        let mut lia = Lia::new(array(10, 9)).with_hold(Hold::UntilReset);
        run(&mut lia, &[], true);
        // Neuron 3 fires: the others' gates close and the configuration is held.
        let em = run(&mut lia, &[(3, 1.5)], false);
        assert_eq!(em.len(), 9);
        assert!(lia.is_holding());
        // Its LI output falls after the refractory period, neuron 7 fires later: nothing
        // changes on the gate lines while held (the levels are still tracked).
        assert!(run(&mut lia, &[(3, 0.0), (7, 1.5), (7, 0.0)], false).is_empty());
        assert_eq!(lia.gate_levels(), only(10, 3).as_slice());
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
        let mut follow = Lia::new(array(10, 9));
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
    fn hierarchical_component_follows_the_truth_table() {
        let set = DeviceSet::builtin();
        let p = LiaParams::builtin_hierarchical();
        let circuit =
            LiaCircuit::new(&p, 40, &set.synapse, &set.comparator, Variability::FULL, 5).unwrap();
        assert_eq!(circuit.depth(), 2);
        let circuit = Arc::new(circuit);
        let mut banks = [
            Lia::bank(Arc::clone(&circuit), 0..16).with_hold(Hold::UntilReset),
            Lia::bank(Arc::clone(&circuit), 16..40).with_hold(Hold::UntilReset),
        ];
        assert!(banks[0].array().is_none());
        for b in &mut banks {
            run(b, &[], true);
        }
        // Neuron 23 (second group) fires: every other gate closes, in both banks.
        let em: Vec<_> = banks
            .iter_mut()
            .flat_map(|b| run(b, &[(23, 1.5)], false))
            .collect();
        let want: Vec<_> = (0..40).filter(|&j| j != 23).map(|j| gate(j, 0.0)).collect();
        assert_eq!(em, want);
        // Held: a later fire of neuron 2 changes nothing until the reset line.
        for b in &mut banks {
            assert!(run(b, &[(23, 0.0), (2, 1.5)], false).is_empty());
        }
        let gates: Vec<f32> = banks
            .iter()
            .flat_map(|b| b.gate_levels().to_vec())
            .collect();
        assert_eq!(gates, only(40, 23));
        // Released with neuron 2 still high: neuron 2 is the lone winner now.
        let em: Vec<_> = banks.iter_mut().flat_map(reset).collect();
        assert_eq!(em, vec![gate(2, 3.0), gate(23, 0.0)]);
    }

    #[test]
    fn component_emits_changed_gates() {
        let mut lia = Lia::new(array(10, 9));
        let em = run(&mut lia, &[], true);
        assert_eq!(em, (0..10).map(|j| gate(j, 3.0)).collect::<Vec<_>>());
        // Neuron 3 fires: every other gate closes; gate 3 stays open (not re-sent).
        let em = run(&mut lia, &[(3, 1.5)], false);
        let want: Vec<_> = (0..10).filter(|&j| j != 3).map(|j| gate(j, 0.0)).collect();
        assert_eq!(em, want);
        assert_eq!(lia.active(), &[3]);
        assert_eq!(lia.gate_levels(), only(10, 3).as_slice());
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
