//! The actix executor: one actix actor per component, events exchanged as actix
//! messages, with results bit-identical to
//! [`reference::Simulation`](super::reference::Simulation).
//!
//! # Actors and messages
//!
//! Each component is owned by a `CompActor` (a wrapper holding the `Box<dyn Component>`,
//! its emission counter and the network's routing table). A coordinator — the
//! [`ActixSimulation`] itself, an async state machine driven by whoever awaits
//! [`ActixSimulation::run_until`] — keeps the queue of pending events and releases one
//! `(time, delta)` batch at a time (the executors' shared queue, which sorts it): every
//! component with events in the batch gets one `Deliver` message carrying them in
//! `(src, seq)` order; the actor hands them to its component, numbers and routes the component's emissions and wake-ups through the
//! executors' shared `core` (one `seq` per delivered copy, fan-out order, then wake-ups) and
//! replies with the resulting events and probe records. The coordinator collects every
//! reply before it releases the next batch.
//!
//! Actix does not order messages across arbiters, and actors on different arbiters finish
//! in any order; none of that matters here: a component only ever sees the events of one
//! batch at a time, in the reference's order, and every routed event carries the
//! `(time, delta, src, seq)` the reference would give it. The coordinator's queue is keyed by `(time, delta)` and each
//! batch is re-sorted, so the order in which replies are merged is irrelevant. Probe
//! records are made by each component in its own handling order, which is all
//! [`canonical_sort`](crate::engine::probe::canonical_sort) needs.
//!
//! # Where the actors run
//!
//! [`ActixSimulation::new`] must be called on a thread that runs an actix `System` (a
//! library embedding it in an actix application): with `arbiters = 0` every actor runs on
//! the current arbiter; with `arbiters = k` the executor starts `k` arbiters (threads) of
//! that System and spreads the components over them in contiguous id ranges (stopped and
//! joined when the simulation is dropped). [`BlockingActixSimulation`] creates its own
//! System and implements [`Executor`] by blocking on the async core; use it outside any
//! async runtime.
//!
//! # Cost
//!
//! Every event crosses two actix messages (the reply that carries it to the coordinator,
//! the `Deliver` that carries it to its component) and every batch costs a full round trip
//! between the coordinator's task and its components; batches of this runtime are small
//! (one to a few events), so the executor is bounded by message latency, not by physics.
//! With every actor on the caller's arbiter a message costs a mailbox push, a oneshot reply
//! channel, a task switch on the local executor and the reply's vectors; with the actors on
//! several arbiter threads it costs far more, since each message wakes a parked thread and
//! each reply wakes the coordinator: two cross-thread wake-ups per batch, in sequence (the
//! `bench` test of `tests/executors.rs` measures both). It exists for fidelity and embedding;
//! the sharded executor is the one for throughput.
//!
//! Components are moved into their actors at the start of every run and back into the
//! [`Network`] at its end (two messages per component and run), so
//! [`ActixSimulation::network`] inspects them between runs.

use super::core::{check_wires, Env, Injector, Key, Queue, Slot};
use super::error::ExecError;
use crate::engine::checkpoint::{ExecState, StateError};
use crate::engine::component::{Component, Ctx, Scratch};
use crate::engine::event::{CompId, Event, Payload, Port};
use crate::engine::exec::Executor;
use crate::engine::network::Network;
use crate::engine::probe::{Probe, Record};
use crate::engine::time::{Clock, Ns};
use actix::dev::Request;
use actix::{Actor, Addr, Arbiter, Context, Handler, Message, MessageResult, System, SystemRunner};
use std::any::Any;
use std::sync::Arc;

pub use super::error::ActixError;

/// Counters of work done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActixStats {
    /// Events delivered to components (equals the reference's count).
    pub events: u64,
    /// `(time, delta)` batches released (equals the reference's count).
    pub batches: u64,
    /// `Deliver` and `Start` messages sent to actors (one per component and batch).
    pub messages: u64,
}

/// Static data every actor reads.
struct Shared {
    clock: Clock,
    routes: Vec<Vec<Vec<(CompId, Port)>>>,
    probed: Vec<Probe>,
}

impl Shared {
    fn env(&self) -> Env<'_> {
        Env {
            clock: &self.clock,
            probed: &self.probed,
            routes: &self.routes,
            cuts: None,
        }
    }
}

/// What an actor sends back for a batch.
struct Outcome {
    events: Vec<Event>,
    records: Vec<Record>,
    handled: u64,
}

/// Hands a component to its actor.
struct Put(Box<dyn Component>);

impl Message for Put {
    type Result = ();
}

/// Takes a component back from its actor.
struct Take;

impl Message for Take {
    type Result = Option<Box<dyn Component>>;
}

/// Reads the actor's emission counter, replacing it with the value given, if any.
struct SeqCount(Option<u64>);

impl Message for SeqCount {
    type Result = u64;
}

/// Calls the component's `start` (time 0).
struct Start;

impl Message for Start {
    type Result = Option<Outcome>;
}

/// The component's events of one batch, in `(src, seq)` order.
struct Deliver {
    key: Key,
    events: Vec<Event>,
}

impl Message for Deliver {
    type Result = Option<Outcome>;
}

/// The actor wrapping one component.
struct CompActor {
    id: CompId,
    comp: Option<Box<dyn Component>>,
    shared: Arc<Shared>,
    seq: u64,
    scratch: Scratch,
}

impl Actor for CompActor {
    type Context = Context<Self>;
}

impl Handler<Put> for CompActor {
    type Result = ();
    fn handle(&mut self, msg: Put, _: &mut Context<Self>) {
        self.comp = Some(msg.0);
    }
}

impl Handler<Take> for CompActor {
    type Result = MessageResult<Take>;
    fn handle(&mut self, _: Take, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.comp.take())
    }
}

impl Handler<SeqCount> for CompActor {
    type Result = u64;
    fn handle(&mut self, msg: SeqCount, _: &mut Context<Self>) -> u64 {
        let was = self.seq;
        if let Some(seq) = msg.0 {
            self.seq = seq;
        }
        was
    }
}

impl Handler<Start> for CompActor {
    type Result = MessageResult<Start>;
    fn handle(&mut self, _: Start, _: &mut Context<Self>) -> Self::Result {
        let Some(comp) = self.comp.as_deref_mut() else {
            return MessageResult(None);
        };
        let mut events = Vec::new();
        let env = self.shared.env();
        let slot = Slot {
            comp,
            id: self.id,
            seq: &mut self.seq,
        };
        super::core::start(&env, slot, &mut self.scratch, &mut |ev| events.push(ev));
        MessageResult(Some(Outcome {
            events,
            records: std::mem::take(&mut self.scratch.records),
            handled: 0,
        }))
    }
}

impl Handler<Deliver> for CompActor {
    type Result = MessageResult<Deliver>;
    fn handle(&mut self, msg: Deliver, _: &mut Context<Self>) -> Self::Result {
        let Some(comp) = self.comp.as_deref_mut() else {
            return MessageResult(None);
        };
        let mut events = Vec::new();
        let env = self.shared.env();
        let slot = Slot {
            comp,
            id: self.id,
            seq: &mut self.seq,
        };
        super::core::deliver(
            &env,
            slot,
            &mut self.scratch,
            msg.key,
            &msg.events,
            &mut |ev| events.push(ev),
        );
        MessageResult(Some(Outcome {
            events,
            records: std::mem::take(&mut self.scratch.records),
            handled: msg.events.len() as u64,
        }))
    }
}

/// Stands in for a component while it is away in its actor.
struct Vacant;

impl Component for Vacant {
    fn kind(&self) -> &'static str {
        "vacant"
    }
    fn handle(&mut self, _ev: &Event, _ctx: &mut Ctx) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A network simulated by actix actors inside a running actix System (module docs).
pub struct ActixSimulation {
    net: Network,
    actors: Vec<Addr<CompActor>>,
    arbiters: Vec<Arbiter>,
    queue: Queue,
    injector: Injector,
    now: Ns,
    started: bool,
    records: Vec<Record>,
    stats: ActixStats,
    poisoned: bool,
    halted: Option<ExecError>,
}

impl ActixSimulation {
    /// A simulation of `net` at time 0, its actors started in the current actix System:
    /// on the current arbiter (`arbiters = 0`) or on `arbiters` new arbiter threads.
    pub fn new(net: Network, arbiters: usize) -> Result<Self, ActixError> {
        if System::try_current().is_none() {
            return Err(ActixError::NoSystem);
        }
        let Some(current) = Arbiter::try_current() else {
            return Err(ActixError::NoSystem);
        };
        let n = net.len();
        let arbiters = arbiters.min(n);
        let mut arbs = Vec::with_capacity(arbiters);
        for _ in 0..arbiters {
            arbs.push(Arbiter::try_new()?);
        }
        let shared = Arc::new(Shared {
            clock: net.clock,
            routes: net.routes.clone(),
            probed: net.probed.clone(),
        });
        let actors = (0..n)
            .map(|i| {
                let handle = if arbs.is_empty() {
                    current.clone()
                } else {
                    arbs[i * arbs.len() / n].handle()
                };
                let shared = Arc::clone(&shared);
                let id = i as CompId;
                CompActor::start_in_arbiter(&handle, move |_| CompActor {
                    id,
                    comp: None,
                    shared,
                    seq: 0,
                    scratch: Scratch::default(),
                })
            })
            .collect();
        Ok(ActixSimulation {
            halted: check_wires(&net).err(),
            net,
            actors,
            arbiters: arbs,
            queue: Queue::default(),
            injector: Injector::default(),
            now: 0,
            started: false,
            records: Vec::new(),
            stats: ActixStats::default(),
            poisoned: false,
        })
    }

    /// Current time: everything before it has been processed.
    pub fn now(&self) -> Ns {
        self.now
    }

    /// Work counters.
    pub fn stats(&self) -> ActixStats {
        self.stats
    }

    /// Number of arbiter threads started for the actors (0: the caller's arbiter).
    pub fn arbiters(&self) -> usize {
        self.arbiters.len()
    }

    /// The network; its components are here between runs.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The network, mutably, to adjust components between runs. The clock, the wires and
    /// the probe flags were copied to the actors at construction: changing them here has
    /// no effect on the run.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// Probe records so far (see [`crate::engine::probe::canonical_sort`]).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Takes the probe records collected so far.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// Delivers `payload` to `(dst, port)` at time `at` (≥ now), from outside the network,
    /// in the first batch of that instant. A `dst` the network does not have halts the
    /// simulation with [`ExecError::UnknownDestination`].
    pub fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        if self.halted.is_some() {
            return;
        }
        let n = self.net.len();
        match self.injector.event(self.now, (at, dst, port), payload, n) {
            Ok(ev) => self.queue.push(ev),
            Err(e) => self.halted = Some(e),
        }
    }

    /// Processes every event with time `< until`; afterwards `now() == until` (or the
    /// later time already reached). Must be awaited on a thread of the System the
    /// simulation was created in.
    pub async fn run_until(&mut self, until: Ns) -> Result<(), ActixError> {
        if self.poisoned {
            return Err(ActixError::Poisoned);
        }
        if self.halted.is_some() || (self.started && until <= self.now) {
            return Ok(());
        }
        for (id, a) in self.actors.iter().enumerate() {
            let c = std::mem::replace(&mut self.net.components[id], Box::new(Vacant));
            a.do_send(Put(c));
        }
        let result = self.run_batches(until).await;
        let takes: Vec<Request<CompActor, Take>> =
            self.actors.iter().map(|a| a.send(Take)).collect();
        let mut lost = None;
        for (id, t) in takes.into_iter().enumerate() {
            match t.await {
                Ok(Some(c)) => self.net.components[id] = c,
                _ => {
                    lost.get_or_insert(id as CompId);
                }
            }
        }
        let result = match (result, lost) {
            (Err(e), _) => Err(e),
            (Ok(()), Some(id)) => Err(ActixError::ActorFailed(id)),
            (Ok(()), None) => Ok(()),
        };
        if result.is_err() {
            self.poisoned = true;
        } else if let Some(key) = self.queue.halt() {
            self.now = self.now.max(key.0);
            let ids = self.queue.looping(key);
            self.halted = Some(ExecError::zero_time_loop(key.0, ids, &self.net.names));
            self.queue.clear();
        } else {
            self.now = self.now.max(until);
        }
        result
    }

    /// Why the simulation stopped for good (a zero-time loop, an unknown destination), if
    /// it did; it then processes nothing more.
    pub fn halted(&self) -> Option<&ExecError> {
        self.halted.as_ref()
    }

    /// Processes every event with time `<= until`.
    pub async fn run_through(&mut self, until: Ns) -> Result<(), ActixError> {
        self.run_until(until.saturating_add(1)).await
    }

    /// The state between runs (see [`crate::engine::checkpoint`]). Must be awaited on a
    /// thread of the System the simulation was created in.
    pub async fn save_state(&mut self) -> Result<ExecState, StateError> {
        if let Some(e) = &self.halted {
            return Err(StateError::Halted(e.to_string()));
        }
        if self.poisoned {
            return Err(StateError::Halted(ActixError::Poisoned.to_string()));
        }
        let asks: Vec<_> = self.actors.iter().map(|a| a.send(SeqCount(None))).collect();
        let mut seq = Vec::with_capacity(asks.len());
        for (id, ask) in asks.into_iter().enumerate() {
            let count = ask.await.map_err(|_| {
                StateError::Halted(ActixError::ActorFailed(id as CompId).to_string())
            })?;
            seq.push(count);
        }
        ExecState::capture(
            &self.net,
            (
                self.now,
                self.started,
                self.injector.count(),
                self.stats.events,
            ),
            seq,
            self.queue.events(),
        )
    }

    /// Restores a saved state (see [`Executor::load_state`]). Must be awaited on a thread
    /// of the System the simulation was created in.
    pub async fn load_state(&mut self, state: &ExecState) -> Result<(), StateError> {
        state.restore_components(&mut self.net)?;
        let sets: Vec<_> = self
            .actors
            .iter()
            .zip(&state.seq)
            .map(|(a, &s)| a.send(SeqCount(Some(s))))
            .collect();
        for (id, set) in sets.into_iter().enumerate() {
            set.await.map_err(|_| {
                StateError::Halted(ActixError::ActorFailed(id as CompId).to_string())
            })?;
        }
        self.queue = Queue::of(state.pending.iter().cloned());
        self.injector = Injector::resumed(state.injected);
        self.now = state.now;
        self.started = state.started;
        self.stats.events = state.handled_events;
        Ok(())
    }

    fn absorb(&mut self, out: Outcome) {
        for ev in out.events {
            self.queue.push(ev);
        }
        self.records.extend(out.records);
        self.stats.events += out.handled;
    }

    async fn run_batches(&mut self, until: Ns) -> Result<(), ActixError> {
        if !self.started {
            self.started = true;
            let starts: Vec<_> = self.actors.iter().map(|a| a.send(Start)).collect();
            self.stats.messages += starts.len() as u64;
            for (id, s) in starts.into_iter().enumerate() {
                match s.await {
                    Ok(Some(out)) => self.absorb(out),
                    _ => return Err(ActixError::ActorFailed(id as CompId)),
                }
            }
        }
        let mut requests: Vec<(CompId, Request<CompActor, Deliver>)> = Vec::new();
        while let Some((key, batch)) = self.queue.pop((until, 0)) {
            self.now = key.0;
            self.stats.batches += 1;
            for events in batch.chunk_by(|a, b| a.dst == b.dst) {
                let dst = events[0].dst;
                // Injections and wires were checked: every destination has an actor.
                let Some(actor) = self.actors.get(dst as usize) else {
                    return Err(ActixError::ActorFailed(dst));
                };
                let events = events.to_vec();
                requests.push((dst, actor.send(Deliver { key, events })));
            }
            self.queue.recycle(batch);
            self.stats.messages += requests.len() as u64;
            for (dst, r) in requests.drain(..) {
                match r.await {
                    Ok(Some(out)) => self.absorb(out),
                    _ => return Err(ActixError::ActorFailed(dst)),
                }
            }
        }
        Ok(())
    }
}

impl Drop for ActixSimulation {
    fn drop(&mut self) {
        self.actors.clear();
        for a in self.arbiters.drain(..) {
            a.stop();
            let _ = a.join();
        }
    }
}

/// The actix executor with its own System, for callers outside any async runtime: it
/// blocks on [`ActixSimulation`] and implements [`Executor`].
///
/// Must not be created or run on a thread that is already inside a Tokio or actix runtime
/// (use [`ActixSimulation`] there).
pub struct BlockingActixSimulation {
    // Dropped before the System's runtime.
    sim: ActixSimulation,
    runner: SystemRunner,
}

impl BlockingActixSimulation {
    /// Creates a System and a simulation of `net` in it, its actors on the System's own
    /// arbiter (`arbiters = 0`) or on `arbiters` arbiter threads.
    ///
    /// # Panics
    /// If the System's Tokio runtime cannot be created.
    pub fn new(net: Network, arbiters: usize) -> Result<Self, ActixError> {
        let runner = System::new();
        let sim = runner.block_on(async move { ActixSimulation::new(net, arbiters) })?;
        Ok(BlockingActixSimulation { sim, runner })
    }

    /// The async core.
    pub fn simulation(&self) -> &ActixSimulation {
        &self.sim
    }

    /// The async core, mutably.
    pub fn simulation_mut(&mut self) -> &mut ActixSimulation {
        &mut self.sim
    }

    /// Work counters.
    pub fn stats(&self) -> ActixStats {
        self.sim.stats()
    }

    /// Processes every event with time `< until`, blocking; an error leaves the simulation
    /// unusable.
    pub fn try_run_until(&mut self, until: Ns) -> Result<(), ActixError> {
        let sim = &mut self.sim;
        self.runner.block_on(sim.run_until(until))
    }
}

impl Executor for BlockingActixSimulation {
    fn handled_events(&self) -> u64 {
        self.stats().events
    }
    fn halted(&self) -> Option<&ExecError> {
        self.sim.halted()
    }
    fn now(&self) -> Ns {
        self.sim.now()
    }
    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        self.sim.inject(at, dst, port, payload)
    }
    /// # Panics
    /// If a component's actor stopped (its component panicked), like the reference
    /// executor would.
    fn run_until(&mut self, until: Ns) {
        if let Err(e) = self.try_run_until(until) {
            panic!("actix executor: {e}");
        }
    }
    /// # Panics
    /// As [`Executor::run_until`].
    fn run_instant(&mut self) {
        // Actors keep no clock of their own: run through the instant, then stand at it.
        let now = self.sim.now;
        Executor::run_until(self, now.saturating_add(1));
        self.sim.now = now;
    }
    fn network(&self) -> &Network {
        self.sim.network()
    }
    fn take_records(&mut self) -> Vec<Record> {
        self.sim.take_records()
    }
    fn save_state(&mut self) -> Result<ExecState, StateError> {
        let sim = &mut self.sim;
        self.runner.block_on(sim.save_state())
    }
    fn load_state(&mut self, state: &ExecState) -> Result<(), StateError> {
        let sim = &mut self.sim;
        self.runner.block_on(sim.load_state(state))
    }
}
