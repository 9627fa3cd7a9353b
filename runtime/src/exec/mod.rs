//! Executors: they deliver events to components; they never compute physics.
//!
//! Every executor implements [`Executor`] and must give results bit-identical to
//! [`reference::Simulation`], the semantic ground truth, for any worker count.

pub mod actix_exec;
pub mod reference;
pub mod sharded;

use crate::event::{CompId, Payload, Port};
use crate::network::Network;
use crate::probe::Record;
use crate::time::Ns;

/// What protocol drivers need from an executor.
pub trait Executor {
    /// Current time: every event before it has been processed.
    fn now(&self) -> Ns;
    /// Delivers `payload` to `(dst, port)` at `at` (≥ now), from outside the network.
    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload);
    /// Processes every event with time `< until`.
    fn run_until(&mut self, until: Ns);
    /// The network (components are inspected between runs).
    fn network(&self) -> &Network;
    /// Takes the probe records collected so far (see [`crate::probe::canonical_sort`]).
    fn take_records(&mut self) -> Vec<Record>;
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
    fn network(&self) -> &Network {
        &self.net
    }
    fn take_records(&mut self) -> Vec<Record> {
        reference::Simulation::take_records(self)
    }
}
