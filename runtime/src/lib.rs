//! memsnn runtime: timestamped events, components (actors), networks, executors and
//! probes, built on the `devices` crate.
//!
//! * [`time`] — integer-nanosecond time and the global clock.
//! * [`event`] — events and their deterministic order.
//! * [`component`] — the actor trait and its context.
//! * [`components`] — the hardware blocks: input generator, synapse column, hybrid neuron,
//!   gate driver (and the lateral-inhibition array).
//! * [`network`] — components wired on a `petgraph` graph.
//! * [`exec`] — executors; [`exec::reference`] is the semantic ground truth.
//! * [`probe`] — recorded samples.
//! * [`topology`] — networks described in RON files: schema, validation, building.
//! * [`protocol`] — running a topology's protocol steps on the reference executor.
#![warn(missing_docs)]

pub mod component;
pub mod components;
pub mod event;
pub mod exec;
pub mod network;
pub mod probe;
pub mod protocol;
pub mod time;
pub mod topology;
