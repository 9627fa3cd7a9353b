//! The actor abstraction: a component owns its state and reacts to events.
//!
//! **Architecture invariant:** a component sees only its own state, the events delivered to
//! it and this [`Ctx`] — never threads, wall-clock time, other components or a shared
//! random generator. Each executor (sequential reference, actix, sharded) calls the same
//! `handle` with the same events in the same order, so results are bit-identical.

use crate::engine::checkpoint::StateError;
use crate::engine::event::{CompId, Event, LinePattern, Payload, Port};
use crate::engine::pattern_sums::{PatternWeights, WeightedSums};
use crate::engine::probe::{Probe, Record};
use crate::engine::time::{Clock, Ns};
use std::any::Any;

/// An output of a component: sent on one of its output ports, routed by the network.
#[derive(Clone, Debug, PartialEq)]
pub struct Emission {
    /// Output port of the emitting component.
    pub port: Port,
    /// Content.
    pub payload: Payload,
}

/// The buffers a handling step writes into: what the component emits, the wake-ups it
/// asks for and the probe samples it records. Executors keep one per thread and drain
/// it after every step (emissions and wake-ups) or at the end of a run (records).
#[derive(Debug, Default)]
pub struct Scratch {
    /// Emissions, in the order the component made them.
    pub emissions: Vec<Emission>,
    /// Wake-ups asked for: `(time ns, tag)`.
    pub wakes: Vec<(Ns, u64)>,
    /// Probe samples.
    pub records: Vec<Record>,
}

/// What a component may do while handling an event.
pub struct Ctx<'a> {
    now: Ns,
    me: CompId,
    clock: &'a Clock,
    emissions: &'a mut Vec<Emission>,
    wakes: &'a mut Vec<(Ns, u64)>,
    records: &'a mut Vec<Record>,
    probe: &'a Probe,
}

impl<'a> Ctx<'a> {
    /// A context for one handling step of component `me` at `now` (ns) on `clock`,
    /// writing into `scratch`; `probing` says whether probes record `me` (every kind).
    pub fn new(
        now: Ns,
        me: CompId,
        clock: &'a Clock,
        probing: bool,
        scratch: &'a mut Scratch,
    ) -> Self {
        const ALL: &Probe = &Probe::All;
        const OFF: &Probe = &Probe::Off;
        Self::probed(now, me, clock, if probing { ALL } else { OFF }, scratch)
    }

    /// [`Ctx::new`] with `me`'s probe: only the kinds it asks for are recorded.
    pub fn probed(
        now: Ns,
        me: CompId,
        clock: &'a Clock,
        probe: &'a Probe,
        scratch: &'a mut Scratch,
    ) -> Self {
        Ctx {
            now,
            me,
            clock,
            emissions: &mut scratch.emissions,
            wakes: &mut scratch.wakes,
            records: &mut scratch.records,
            probe,
        }
    }

    /// Current simulated time, ns.
    #[inline]
    pub fn now(&self) -> Ns {
        self.now
    }

    /// This component's id.
    #[inline]
    pub fn me(&self) -> CompId {
        self.me
    }

    /// The global clock.
    #[inline]
    pub fn clock(&self) -> &Clock {
        self.clock
    }

    /// Sends `payload` on output port `port`, delivered now (next delta cycle).
    #[inline]
    pub fn emit(&mut self, port: Port, payload: Payload) {
        self.emissions.push(Emission { port, payload });
    }

    /// Asks to be woken at `at` (≥ now) with `tag`.
    #[inline]
    pub fn wake_at(&mut self, at: Ns, tag: u64) {
        debug_assert!(at >= self.now, "wake-up in the past");
        self.wakes.push((at.max(self.now), tag));
    }

    /// Whether probes are recording this component.
    #[inline]
    pub fn probing(&self) -> bool {
        self.probe.is_on()
    }

    /// Whether probes record samples of `kind` of this component (a component may skip
    /// computing a value nobody asked for).
    #[inline]
    pub fn probing_kind(&self, kind: &str) -> bool {
        self.probe.keeps(kind)
    }

    /// Records a probe sample `(kind, index, value)` at the current time, if this
    /// component's probe asks for `kind`.
    #[inline]
    pub fn record(&mut self, kind: &'static str, index: u32, value: f64) {
        if self.probe.keeps(kind) {
            self.records.push(Record {
                time: self.now,
                comp: self.me,
                kind,
                index,
                value,
            });
        }
    }
}

/// A simulated hardware block.
pub trait Component: Send + 'static {
    /// Short name of the component kind (e.g. "neuron").
    fn kind(&self) -> &'static str;

    /// Called once at time 0 before any event.
    fn start(&mut self, _ctx: &mut Ctx) {}

    /// Handles one event addressed to this component.
    fn handle(&mut self, ev: &Event, ctx: &mut Ctx);

    /// The weights (one per line) this component would sum the [`Payload::Pattern`] of
    /// `ev` over, if handling `ev` at once would take
    /// [`weighted_sums`](crate::engine::pattern_sums::weighted_sums) of it; `None`
    /// (the default) otherwise. Executors then compute the sums for several components
    /// side by side and hand them over with [`Component::accept_pattern_sums`] before
    /// delivering `ev` — a value the component could compute itself, never anything of
    /// another component. They may keep an interleaved copy of the weights between
    /// batches, trusted for as long as the [stamp](PatternWeights::stamp) is the same.
    fn pattern_weights(&self, _ev: &Event, _clock: &Clock) -> Option<PatternWeights<'_>> {
        None
    }

    /// The sums of `pattern` over the weights [`Component::pattern_weights`] returned,
    /// handed over before the event carrying `pattern` is delivered (in the same batch).
    /// The component must check that they still apply (its weights may have changed in
    /// between, while handling an earlier event of the batch) and must not keep them past
    /// that event.
    fn accept_pattern_sums(&mut self, _pattern: &LinePattern, _sums: WeightedSums) {}

    /// Downcasting for inspection (probes, state snapshots, tests).
    fn as_any(&self) -> &dyn Any;

    /// Mutable downcasting (protocol drivers adjusting parameters between runs).
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// Everything of this component's state that can change while it runs, as bytes
    /// (for checkpoints; see [`crate::engine::checkpoint`] and
    /// [`component_state!`](crate::component_state)). By default a component cannot.
    fn save_state(&self) -> Result<Vec<u8>, StateError> {
        Err(StateError::Unsupported {
            name: String::new(),
            kind: self.kind(),
        })
    }

    /// Restores what [`Component::save_state`] saved into a component built with the same
    /// parameters.
    fn load_state(&mut self, _bytes: &[u8]) -> Result<(), StateError> {
        Err(StateError::Unsupported {
            name: String::new(),
            kind: self.kind(),
        })
    }
}
