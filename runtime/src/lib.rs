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
//!   weights), the protocol driver and the embedding façade ([`Model`], [`Session`]).
//!
//! ```no_run
//! use runtime::{ExecutorKind, Model};
//!
//! let model = Model::load("topologies/fig3b.ron")?;
//! let mut session = model.session(1, ExecutorKind::Reference, 1)?;
//! let log = session.run_protocol()?;
//! println!("{} steps, {} fires", log.steps.len(), session.fires().len());
//! # Ok::<(), runtime::Error>(())
//! ```
#![warn(missing_docs)]

pub mod circuits;
pub mod engine;
pub mod model;

pub use engine::exec::ExecutorKind;
pub use model::session::{Error, Fire, Model, Session};
