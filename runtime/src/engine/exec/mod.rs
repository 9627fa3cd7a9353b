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
//! [`ExecError::ActixUnavailable`]. The MPI executor (`mpi`, one partition per MPI rank)
//! is behind the non-default `mpi` feature in the same way
//! ([`ExecError::MpiUnavailable`]).

#[cfg(feature = "actix")]
pub mod actix_exec;
pub(crate) mod core;
pub mod error;
pub mod executor;
pub mod kind;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod reference;
pub mod reserved;
pub(crate) mod rounds;
pub mod sharded;
pub(crate) mod tiles;

pub use error::{ExecError, Origin};
pub use executor::{Executor, RoundStats};
pub use kind::ExecutorKind;
