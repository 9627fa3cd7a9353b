//! The sequential reference executor: one global event queue, processed in
//! `(time, delta)` batches; within a batch each component receives its events sorted by
//! `(src, seq)` (see [`crate::engine::event`]). It is the semantic ground truth every other
//! executor must match bit for bit.

use crate::engine::component::{Ctx, Emission};
use crate::engine::event::{CompId, Event, Payload, Port};
use crate::engine::network::Network;
use crate::engine::probe::Record;
use crate::engine::time::Ns;
use std::collections::BTreeMap;

/// Source id of events injected from outside the network (protocol drivers).
pub const EXTERNAL: CompId = CompId::MAX;
/// Port on which wake-ups are delivered.
pub const WAKE_PORT: Port = Port::MAX;
/// Delta cycles allowed at one instant before the run is stopped as a zero-time loop
/// (e.g. latches and ideal comparators toggling each other with no delay).
pub const MAX_DELTA: u32 = 100_000;

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
    queue: BTreeMap<(Ns, u32), Vec<Event>>,
    seq: Vec<u64>,
    ext_seq: u64,
    now: Ns,
    started: bool,
    records: Vec<Record>,
    stats: Stats,
    emissions: Vec<Emission>,
    wakes: Vec<(Ns, u64)>,
    halted: Option<String>,
    /// Events routed to the delta cycle right after the batch being handled — most of
    /// them — gathered here and queued once per batch rather than once per event.
    next: Vec<Event>,
}

impl Simulation {
    /// A simulation of `net` at time 0.
    pub fn new(net: Network) -> Self {
        let n = net.len();
        Simulation {
            net,
            queue: BTreeMap::new(),
            seq: vec![0; n],
            ext_seq: 0,
            now: 0,
            started: false,
            records: Vec::new(),
            stats: Stats::default(),
            emissions: Vec::new(),
            wakes: Vec::new(),
            halted: None,
            next: Vec::new(),
        }
    }

    /// Why the simulation stopped for good (a zero-time loop), if it did; it then
    /// processes nothing more.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Current time: everything before it has been processed.
    pub fn now(&self) -> Ns {
        self.now
    }

    /// Number of events waiting in the queue.
    pub fn pending(&self) -> usize {
        self.queue.values().map(Vec::len).sum()
    }

    /// Work counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Probe records so far (in processing order; see [`crate::engine::probe::canonical_sort`]).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Takes the probe records collected so far.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// Delivers `payload` to `(dst, port)` at time `at` (≥ now), from outside the network,
    /// in the first batch of that instant (after the destination's own wake-ups).
    pub fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        let at = at.max(self.now);
        self.ext_seq += 1;
        self.queue.entry((at, 0)).or_default().push(Event {
            time: at,
            delta: 0,
            dst,
            port,
            src: EXTERNAL,
            seq: self.ext_seq,
            payload,
        });
    }

    fn start(&mut self) {
        self.started = true;
        for id in 0..self.net.len() as CompId {
            let probing = self.net.probed[id as usize];
            let clock = self.net.clock;
            let mut ctx = Ctx::new(
                0,
                id,
                &clock,
                &mut self.emissions,
                &mut self.wakes,
                &mut self.records,
                probing,
            );
            self.net.components[id as usize].start(&mut ctx);
            self.route(id, 0, 0);
        }
        self.flush_next(0, 0);
    }

    /// Routes the emissions and wake-ups of `src` produced while handling at `(t, d)`.
    fn route(&mut self, src: CompId, t: Ns, d: u32) {
        let net = &self.net;
        let queue = &mut self.queue;
        let next = &mut self.next;
        super::route(
            (src, t, d),
            &mut self.seq[src as usize],
            &mut self.emissions,
            &mut self.wakes,
            |port| net.fanout(src, port),
            |ev| {
                if ev.time == t && ev.delta == d + 1 {
                    next.push(ev);
                } else {
                    queue.entry((ev.time, ev.delta)).or_default().push(ev);
                }
            },
        );
    }

    /// Queues the events gathered for `(t, d + 1)` while handling `(t, d)`.
    fn flush_next(&mut self, t: Ns, d: u32) {
        if !self.next.is_empty() {
            let batch = self.queue.entry((t, d + 1)).or_default();
            if batch.is_empty() {
                std::mem::swap(batch, &mut self.next);
            } else {
                batch.append(&mut self.next);
            }
        }
    }

    /// Processes the earliest batch; false if the queue is empty.
    fn step(&mut self) -> bool {
        let Some(((t, d), mut batch)) = self.queue.pop_first() else {
            return false;
        };
        self.now = t;
        self.stats.batches += 1;
        if d > MAX_DELTA {
            let ids = batch.iter().map(|e| e.dst);
            self.halted = Some(super::zero_time_loop_message(t, ids, &self.net.names));
            self.queue.clear();
            return false;
        }
        batch.sort_by_key(|e| (e.dst, e.src, e.seq));
        let clock = self.net.clock;
        for ev in &batch {
            let id = ev.dst;
            let probing = self.net.probed[id as usize];
            let mut ctx = Ctx::new(
                t,
                id,
                &clock,
                &mut self.emissions,
                &mut self.wakes,
                &mut self.records,
                probing,
            );
            self.net.components[id as usize].handle(ev, &mut ctx);
            self.stats.events += 1;
            self.route(id, t, d);
        }
        self.flush_next(t, d);
        true
    }

    /// Processes every event with time `< until`; afterwards `now() == until`.
    pub fn run_until(&mut self, until: Ns) {
        if !self.started {
            self.start();
        }
        while let Some((&(t, _), _)) = self.queue.first_key_value() {
            if t >= until || !self.step() {
                break;
            }
        }
        if self.halted.is_none() {
            self.now = self.now.max(until);
        }
    }

    /// Processes every event at the current instant (all its delta cycles), leaving the
    /// time where it is: what was injected at `now()` takes effect before anything later.
    pub fn run_instant(&mut self) {
        if !self.started {
            self.start();
        }
        while let Some((&(t, _), _)) = self.queue.first_key_value() {
            if t > self.now || !self.step() {
                break;
            }
        }
    }

    /// Processes every event with time `<= until`.
    pub fn run_through(&mut self, until: Ns) {
        self.run_until(until.saturating_add(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::component::{Component, Ctx};
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
        let msg = sim.halted().expect("halted");
        assert!(
            msg.contains("zero-time loop") && msg.contains("restless"),
            "{msg}"
        );
        assert_eq!(sim.now(), 0, "time does not pass a loop");
        sim.run_until(10);
        assert_eq!(sim.pending(), 0);
    }
}
