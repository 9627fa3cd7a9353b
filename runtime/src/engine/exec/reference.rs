//! The sequential reference executor: one global event queue, processed in
//! `(time, delta)` batches; within a batch each component receives its events sorted by
//! `(src, seq)` (see [`crate::engine::event`]). It is the semantic ground truth every other
//! executor must match bit for bit.

use super::core::{check_wires, Env, Injector, Key, Members, Queue};
use super::error::ExecError;
use super::executor::Executor;
use crate::engine::checkpoint::{ExecState, StateError};
use crate::engine::component::Scratch;
use crate::engine::event::{CompId, Payload, Port};
use crate::engine::network::Network;
use crate::engine::probe::Record;
use crate::engine::time::Ns;

pub use super::reserved::{EXTERNAL, MAX_DELTA, WAKE_PORT};

/// Counters of work done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events delivered to components.
    pub events: u64,
    /// `(time, delta)` batches processed.
    pub batches: u64,
}

/// A network being simulated by the reference executor.
pub struct Simulation {
    /// The network.
    pub net: Network,
    queue: Queue,
    seq: Vec<u64>,
    injector: Injector,
    now: Ns,
    started: bool,
    scratch: Scratch,
    stats: Stats,
    halted: Option<ExecError>,
}

impl Simulation {
    /// A simulation of `net` at time 0. A network with a wire to a component it does not
    /// have is [halted](Self::halted) from the start (see the shared `core`).
    pub fn new(net: Network) -> Self {
        let n = net.len();
        Simulation {
            halted: check_wires(&net).err(),
            net,
            queue: Queue::default(),
            seq: vec![0; n],
            injector: Injector::default(),
            now: 0,
            started: false,
            scratch: Scratch::default(),
            stats: Stats::default(),
        }
    }

    /// Why the simulation stopped for good (a zero-time loop, an unknown destination), if
    /// it did; it then processes nothing more.
    pub fn halted(&self) -> Option<&ExecError> {
        self.halted.as_ref()
    }

    /// Current time: everything before it has been processed.
    pub fn now(&self) -> Ns {
        self.now
    }

    /// Number of events waiting in the queue.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Work counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Probe records so far (in processing order; see [`crate::engine::probe::canonical_sort`]).
    pub fn records(&self) -> &[Record] {
        &self.scratch.records
    }

    /// Takes the probe records collected so far.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.scratch.records)
    }

    /// Delivers `payload` to `(dst, port)` at time `at` (≥ now), from outside the network,
    /// in the first batch of that instant (after the destination's own wake-ups). A `dst`
    /// the network does not have halts the simulation with
    /// [`ExecError::UnknownDestination`].
    pub fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        if self.halted.is_some() {
            return;
        }
        match self
            .injector
            .event(self.now, (at, dst, port), payload, self.net.len())
        {
            Ok(ev) => self.queue.push(ev),
            Err(e) => self.halted = Some(e),
        }
    }

    fn start(&mut self) {
        self.started = true;
        let net = &mut self.net;
        let env = Env {
            clock: &net.clock,
            probed: &net.probed,
            routes: &net.routes,
            cuts: None,
        };
        let ids: Vec<CompId> = (0..net.components.len() as CompId).collect();
        self.queue.start_all(
            &env,
            &ids,
            Members {
                comps: &mut net.components,
                seq: &mut self.seq,
                index: |id| id as usize,
            },
            &mut self.scratch,
            Some,
        );
    }

    /// Processes the earliest batch if its key is below `limit`; false if there is none.
    fn step(&mut self, limit: Key) -> bool {
        let Some((key, batch)) = self.queue.pop(limit) else {
            return false;
        };
        self.now = key.0;
        self.stats.batches += 1;
        let net = &mut self.net;
        let env = Env {
            clock: &net.clock,
            probed: &net.probed,
            routes: &net.routes,
            cuts: None,
        };
        self.queue.handle_batch(
            &env,
            (key, &batch),
            Members {
                comps: &mut net.components,
                seq: &mut self.seq,
                index: |id| id as usize,
            },
            &mut self.scratch,
            Some,
        );
        self.stats.events += batch.len() as u64;
        self.queue.recycle(batch);
        true
    }

    /// Processes every batch below `limit`; false if the run halted.
    fn run_below(&mut self, limit: Key) -> bool {
        if self.halted.is_some() {
            return false;
        }
        if !self.started {
            self.start();
        }
        while self.step(limit) {}
        if let Some(key) = self.queue.halt() {
            self.now = key.0;
            let ids = self.queue.looping(key);
            self.halted = Some(ExecError::zero_time_loop(key.0, ids, &self.net.names));
            self.queue.clear();
            return false;
        }
        true
    }

    /// Processes every event with time `< until`; afterwards `now() == until` (unless the
    /// run halted, at the instant it halted).
    pub fn run_until(&mut self, until: Ns) {
        if self.run_below((until, 0)) {
            self.now = self.now.max(until);
        }
    }

    /// Processes every event at the current instant (all its delta cycles), leaving the
    /// time where it is: what was injected at `now()` takes effect before anything later.
    pub fn run_instant(&mut self) {
        self.run_below((self.now.saturating_add(1), 0));
    }

    /// Processes every event with time `<= until`.
    pub fn run_through(&mut self, until: Ns) {
        self.run_until(until.saturating_add(1));
    }

    /// The state between runs (see [`crate::engine::checkpoint`]).
    pub fn save_state(&self) -> Result<ExecState, StateError> {
        if let Some(e) = &self.halted {
            return Err(StateError::Halted(e.to_string()));
        }
        ExecState::capture(
            &self.net,
            (
                self.now,
                self.started,
                self.injector.count(),
                self.stats.events,
            ),
            self.seq.clone(),
            self.queue.events(),
        )
    }

    /// Restores a saved state (see [`Executor::load_state`]).
    pub fn load_state(&mut self, state: &ExecState) -> Result<(), StateError> {
        state.restore_components(&mut self.net)?;
        self.queue = Queue::of(state.pending.iter().cloned());
        self.seq.clone_from(&state.seq);
        self.injector = Injector::resumed(state.injected);
        self.now = state.now;
        self.started = state.started;
        self.stats.events = state.handled_events;
        Ok(())
    }
}

impl Executor for Simulation {
    fn now(&self) -> Ns {
        Simulation::now(self)
    }
    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        Simulation::inject(self, at, dst, port, payload)
    }
    fn run_until(&mut self, until: Ns) {
        Simulation::run_until(self, until)
    }
    fn run_instant(&mut self) {
        Simulation::run_instant(self)
    }
    fn network(&self) -> &Network {
        &self.net
    }
    fn take_records(&mut self) -> Vec<Record> {
        Simulation::take_records(self)
    }
    fn handled_events(&self) -> u64 {
        self.stats().events
    }
    fn halted(&self) -> Option<&ExecError> {
        Simulation::halted(self)
    }
    fn save_state(&mut self) -> Result<ExecState, StateError> {
        Simulation::save_state(self)
    }
    fn load_state(&mut self, state: &ExecState) -> Result<(), StateError> {
        Simulation::load_state(self, state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::component::{Component, Ctx};
    use crate::engine::event::Event;
    use crate::engine::network::NetworkBuilder;
    use crate::engine::time::Clock;
    use std::any::Any;

    /// Wakes itself at the same instant for ever: a zero-time loop.
    struct Restless;

    impl Component for Restless {
        fn kind(&self) -> &'static str {
            "restless"
        }
        fn start(&mut self, ctx: &mut Ctx) {
            ctx.wake_at(ctx.now(), 0);
        }
        fn handle(&mut self, _: &Event, ctx: &mut Ctx) {
            ctx.wake_at(ctx.now(), 0);
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
    }

    #[test]
    fn a_zero_time_loop_is_stopped_with_a_message() {
        let mut b = NetworkBuilder::new(Clock::default());
        b.add("restless", Box::new(Restless));
        let mut sim = Simulation::new(b.build());
        sim.run_until(1);
        let msg = sim.halted().expect("halted").to_string();
        assert!(
            msg.contains("zero-time loop") && msg.contains("restless"),
            "{msg}"
        );
        assert_eq!(sim.now(), 0, "time does not pass a loop");
        sim.run_until(10);
        assert_eq!(sim.pending(), 0);
    }
}
