//! Executors: they deliver events to components; they never compute physics.
//!
//! Every executor implements [`Executor`] and must give results bit-identical to
//! [`reference::Simulation`], the semantic ground truth, for any worker count. What they
//! all do — queueing, injection, batch order, delivery to a component, zero-time loops,
//! unknown destinations — is in one place, `core`; each executor's own module keeps only
//! how it spreads the work (threads and rounds, actors). [`ExecutorKind`] names them and
//! makes them; [`ExecError`] is what they report.
//!
//! The actix executor is behind the `actix` cargo feature (on by default); without it,
//! [`ExecutorKind::Actix`] still parses and [`ExecutorKind::executor`] refuses it with
//! [`ExecError::ActixUnavailable`].

#[cfg(feature = "actix")]
pub mod actix_exec;
pub(crate) mod core;
pub mod error;
pub mod kind;
pub mod reference;
pub mod sharded;

pub use error::{ExecError, Origin};
pub use kind::ExecutorKind;

use crate::engine::component::Emission;
use crate::engine::event::{CompId, Event, Payload, Port};
use crate::engine::network::Network;
use crate::engine::probe::Record;
use crate::engine::time::Ns;

/// Turns what component `src` produced while handling an event at `(t, d)` (passed as
/// `(src, t, d)`) into events:
/// each emission is copied once per wire of its port (in wire order), then each wake-up
/// follows; every copy takes the next number of the source's counter `seq`. Delivery is at
/// `(t, d + 1)` (zero-delay wires), or `(at, 0)` for a later wake-up. Every executor routes
/// through this one function, so event numbering — and with it the order of events into
/// each component — is the same everywhere.
pub(crate) fn route<'a>(
    (src, t, d): (CompId, Ns, u32),
    seq: &mut u64,
    emissions: &mut Vec<Emission>,
    wakes: &mut Vec<(Ns, u64)>,
    wires: impl Fn(Port) -> &'a [(CompId, Port)],
    mut sink: impl FnMut(Event),
) {
    for em in emissions.drain(..) {
        for &(dst, port) in wires(em.port) {
            *seq += 1;
            sink(Event {
                time: t,
                delta: d + 1,
                dst,
                port,
                src,
                seq: *seq,
                payload: em.payload.clone(),
            });
        }
    }
    for (at, tag) in wakes.drain(..) {
        *seq += 1;
        sink(Event {
            time: at,
            delta: if at == t { d + 1 } else { 0 },
            dst: src,
            port: reference::WAKE_PORT,
            src,
            seq: *seq,
            payload: Payload::Wake { tag },
        });
    }
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
    /// Takes the probe records collected so far (see [`crate::engine::probe::canonical_sort`]).
    fn take_records(&mut self) -> Vec<Record>;
    /// Events handled so far (deliveries and wake-ups).
    fn handled_events(&self) -> u64;
    /// Why the run stopped for good (a zero-time loop, an event for a component the
    /// network does not have), if it did; it then processes nothing more.
    fn halted(&self) -> Option<&ExecError> {
        None
    }
}

impl Executor for reference::Simulation {
    fn now(&self) -> Ns {
        reference::Simulation::now(self)
    }
    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        reference::Simulation::inject(self, at, dst, port, payload)
    }
    fn run_until(&mut self, until: Ns) {
        reference::Simulation::run_until(self, until)
    }
    fn run_instant(&mut self) {
        reference::Simulation::run_instant(self)
    }
    fn network(&self) -> &Network {
        &self.net
    }
    fn take_records(&mut self) -> Vec<Record> {
        reference::Simulation::take_records(self)
    }
    fn handled_events(&self) -> u64 {
        self.stats().events
    }
    fn halted(&self) -> Option<&ExecError> {
        reference::Simulation::halted(self)
    }
}
