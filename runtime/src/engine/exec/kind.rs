//! The executors by name, and the one place that makes them.

use super::error::ExecError;
use super::executor::Executor;
use super::reference::Simulation;
use super::sharded::ShardedSimulation;
use crate::engine::network::Network;
use std::fmt;
use std::str::FromStr;

/// An executor kind; every kind gives bit-identical results.
///
/// [`ExecutorKind::Actix`] and [`ExecutorKind::Mpi`] exist in every build; without the
/// `actix` (`mpi`) feature, [`ExecutorKind::executor`] refuses them with
/// [`ExecError::ActixUnavailable`] ([`ExecError::MpiUnavailable`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ExecutorKind {
    /// The sequential reference executor (the semantic ground truth).
    #[default]
    Reference,
    /// Components partitioned over crossbeam worker threads.
    Sharded,
    /// One actix actor per component.
    Actix,
    /// One partition per MPI rank (run under `mpirun`; `mpi` feature).
    Mpi,
}

impl ExecutorKind {
    /// Every kind, in this order.
    pub const ALL: [ExecutorKind; 4] = [
        ExecutorKind::Reference,
        ExecutorKind::Sharded,
        ExecutorKind::Actix,
        ExecutorKind::Mpi,
    ];

    /// The name the command line uses.
    pub fn name(self) -> &'static str {
        match self {
            ExecutorKind::Reference => "reference",
            ExecutorKind::Sharded => "sharded",
            ExecutorKind::Actix => "actix",
            ExecutorKind::Mpi => "mpi",
        }
    }

    /// A new executor of this kind running `net`: `workers` is the number of worker
    /// threads (sharded; at least one) or of arbiter threads (actix; 0 runs the actors on
    /// the executor's own System thread) or of worker threads on each MPI rank (mpi; at
    /// least one; MPI must be initialised, see `exec::mpi`), and is ignored by the
    /// reference.
    ///
    /// Fails if `net` has a wire to a component it does not have, if actix cannot start,
    /// or for actix in a build without the `actix` feature.
    pub fn executor(self, net: Network, workers: usize) -> Result<Box<dyn Executor>, ExecError> {
        super::core::check_wires(&net)?;
        Ok(match self {
            ExecutorKind::Reference => Box::new(Simulation::new(net)),
            ExecutorKind::Sharded => Box::new(ShardedSimulation::new(net, workers.max(1))),
            #[cfg(feature = "actix")]
            ExecutorKind::Actix => Box::new(super::actix_exec::BlockingActixSimulation::new(
                net, workers,
            )?),
            #[cfg(not(feature = "actix"))]
            ExecutorKind::Actix => return Err(ExecError::ActixUnavailable),
            #[cfg(feature = "mpi")]
            ExecutorKind::Mpi => Box::new(super::mpi::MpiSimulation::new(net, workers)?),
            #[cfg(not(feature = "mpi"))]
            ExecutorKind::Mpi => return Err(ExecError::MpiUnavailable),
        })
    }
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An executor name that is not one of [`ExecutorKind::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown executor `{0}`; use one of: reference, sharded, actix, mpi")]
pub struct UnknownExecutor(pub String);

impl FromStr for ExecutorKind {
    type Err = UnknownExecutor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExecutorKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownExecutor(s.to_string()))
    }
}
