//! memsnn runtime: timestamped events, components (actors), networks, executors and
//! probes, built on the `devices` crate.
//!
//! Three layers with one-way arrows (ARCHITECTURE.md):
//!
//! * [`engine`] — time, events, the component trait, networks, probes and the executors
//!   ([`engine::exec::reference`] is the semantic ground truth). Knows no circuit.
//! * [`circuits`] — the hardware blocks: input generator, synapse column, hybrid neuron,
//!   lateral-inhibition array, gate driver. Never sees threads or files.
//! * [`model`] — networks described in RON files (schema, validation, building, saved
//!   weights) and the protocol driver.
#![warn(missing_docs)]

pub mod circuits;
pub mod engine;
pub mod model;

pub use engine::{component, event, exec, network, probe, time};
pub use model::{protocol, topology};
/// The hardware blocks (an alias of [`circuits`]).
pub use circuits as components;
