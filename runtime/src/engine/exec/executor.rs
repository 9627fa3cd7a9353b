//! The interface protocol drivers use, implemented by every executor.

use super::error::ExecError;
use crate::engine::checkpoint::{ExecState, StateError};
use crate::engine::event::{CompId, Payload, Port};
use crate::engine::network::Network;
use crate::engine::probe::Record;
use crate::engine::time::{Clock, Ns};

/// Work counters of an executor whose partitions meet in synchronised rounds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoundStats {
    /// Partitions (worker threads, or MPI ranks).
    pub partitions: usize,
    /// Rounds so far (every partition takes part in every round).
    pub rounds: u64,
    /// `(time, delta)` batches handled, summed over partitions.
    pub batches: u64,
    /// Events sent from one partition to another.
    pub remote_events: u64,
    /// Sum over rounds of the most events one partition handled in the round (see
    /// [`super::sharded::ShardedStats::critical_events`]).
    pub critical_events: u64,
    /// Bytes this process sent in round messages (0 between threads, which pass
    /// pointers).
    pub bytes_sent: u64,
    /// Wall time this process spent exchanging round messages (waiting included),
    /// seconds (0 where not measured).
    pub exchange_s: f64,
}

/// What protocol drivers need from an executor.
pub trait Executor {
    /// Current time: every event before it has been processed.
    fn now(&self) -> Ns;
    /// Delivers `payload` to `(dst, port)` at `at` (≥ now), from outside the network.
    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload);
    /// Processes every event with time `< until`.
    fn run_until(&mut self, until: Ns);
    /// Processes every event at the current instant (all its delta cycles), leaving the
    /// time where it is: what is injected afterwards at `now()` is handled after them.
    fn run_instant(&mut self);
    /// The network (components are inspected between runs).
    fn network(&self) -> &Network;
    /// The network with at least the components `ids` in their present state — all an
    /// executor whose components live in other processes (mpi) has to fetch; the others
    /// may be older there, until [`Executor::network`] is called. By default, the
    /// network.
    fn network_of(&mut self, ids: &[CompId]) -> &Network {
        let _ = ids;
        self.network()
    }
    /// The network's clock (fixed at construction; reading it fetches no state).
    fn clock(&self) -> Clock {
        self.network().clock
    }
    /// Takes the probe records collected so far (see [`crate::engine::probe::canonical_sort`]).
    fn take_records(&mut self) -> Vec<Record>;
    /// Events handled so far (deliveries and wake-ups).
    fn handled_events(&self) -> u64;
    /// Why the run stopped for good (a zero-time loop, an event for a component the
    /// network does not have), if it did; it then processes nothing more.
    fn halted(&self) -> Option<&ExecError> {
        None
    }
    /// The round counters of an executor that runs its partitions in synchronised rounds
    /// (sharded, mpi); `None` for the others.
    fn round_stats(&self) -> Option<RoundStats> {
        None
    }
    /// The executor's state between runs (see [`crate::engine::checkpoint`]); probe
    /// records are not part of it (take them first). By default an executor cannot.
    fn save_state(&mut self) -> Result<ExecState, StateError> {
        Err(StateError::Executor("this"))
    }
    /// Restores a state [`Executor::save_state`] saved — under any executor — into this
    /// one, freshly made for a network built from the same topology and seed, before it
    /// has run.
    fn load_state(&mut self, _state: &ExecState) -> Result<(), StateError> {
        Err(StateError::Executor("this"))
    }
    /// A yes-or-no decision that every process of the run must take alike (whether to
    /// take a checkpoint now, when each process reads its own clock): `mine` is this
    /// process's answer, the result the run's. One process: `mine`; MPI ranks: yes if any
    /// rank says yes (a collective: every rank calls it at the same point).
    fn decide(&self, mine: bool) -> bool {
        mine
    }
}

/// A boxed executor is an executor (what [`super::ExecutorKind::executor`] returns can be
/// driven wherever a concrete one can).
impl<E: Executor + ?Sized> Executor for Box<E> {
    fn now(&self) -> Ns {
        (**self).now()
    }
    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        (**self).inject(at, dst, port, payload)
    }
    fn run_until(&mut self, until: Ns) {
        (**self).run_until(until)
    }
    fn run_instant(&mut self) {
        (**self).run_instant()
    }
    fn network(&self) -> &Network {
        (**self).network()
    }
    fn network_of(&mut self, ids: &[CompId]) -> &Network {
        (**self).network_of(ids)
    }
    fn clock(&self) -> Clock {
        (**self).clock()
    }
    fn take_records(&mut self) -> Vec<Record> {
        (**self).take_records()
    }
    fn handled_events(&self) -> u64 {
        (**self).handled_events()
    }
    fn halted(&self) -> Option<&ExecError> {
        (**self).halted()
    }
    fn round_stats(&self) -> Option<RoundStats> {
        (**self).round_stats()
    }
    fn save_state(&mut self) -> Result<ExecState, StateError> {
        (**self).save_state()
    }
    fn load_state(&mut self, state: &ExecState) -> Result<(), StateError> {
        (**self).load_state(state)
    }
    fn decide(&self, mine: bool) -> bool {
        (**self).decide(mine)
    }
}
