//! The one error type of the executors.

use crate::engine::event::{CompId, Port};
use crate::engine::time::Ns;
use std::fmt;

/// Why an executor could not be made, or why a run stopped for good.
///
/// Every executor reports the same error for the same network and the same calls: the
/// checks live in the shared core (`core`), not in the executors.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// More than [`super::reserved::MAX_DELTA`] delta cycles at one instant: components
    /// keep re-triggering each other without delay. The run halts at that instant.
    #[error("{}", zero_time_loop_text(*time_ns, components))]
    ZeroTimeLoop {
        /// The instant of the loop, ns.
        time_ns: Ns,
        /// Names of the first few components of the looping batch, ascending by id.
        components: Vec<String>,
    },
    /// An event goes to a component id the network does not have. For an injected event
    /// the run halts before anything further is processed; for a wire the executor
    /// processes nothing.
    #[error("{origin} goes to component {dst}, but the network has {components} components (ids 0..{components}); address a component of this network")]
    UnknownDestination {
        /// The missing destination.
        dst: CompId,
        /// Components in the network.
        components: usize,
        /// Where the event came from.
        origin: Origin,
    },
    /// The actix executor was asked for, but this build has no actix support.
    #[error("this build of memsnn has no actix executor (it was compiled without the `actix` feature); use `reference` or `sharded`, or rebuild with `--features actix`")]
    ActixUnavailable,
    /// The MPI executor was asked for, but this build has no MPI support.
    #[error("this build of memsnn has no MPI executor (it was compiled without the `mpi` feature); rebuild with `cargo build --release --features mpi` (needs an MPI library, e.g. Debian's libopenmpi-dev, and libclang-dev), or use `sharded`")]
    MpiUnavailable,
    /// The MPI executor cannot run (not initialised, ranks that disagree).
    #[error("MPI: {0}")]
    Mpi(String),
    /// Another MPI rank failed before the ranks' agreement point; that rank reports why.
    #[error("MPI rank {rank} failed before the run (it reports why)")]
    PeerFailed {
        /// The lowest failing rank.
        rank: usize,
    },
    /// The actix executor could not start.
    #[cfg(feature = "actix")]
    #[error(transparent)]
    Actix(#[from] ActixError),
}

/// Where an event for an unknown destination came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Injected from outside the network.
    Injected {
        /// Delivery time, ns.
        time_ns: Ns,
        /// Receiving port.
        port: Port,
    },
    /// A wire of the network.
    Wire {
        /// Name of the component the wire leaves.
        src: String,
        /// Its output port.
        port: Port,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Injected { time_ns, port } => {
                write!(f, "an event injected at t = {time_ns} ns on port {port}")
            }
            Origin::Wire { src, port } => write!(f, "the wire from `{src}` output port {port}"),
        }
    }
}

/// The text of [`ExecError::ZeroTimeLoop`].
fn zero_time_loop_text(t_ns: Ns, names: &[String]) -> String {
    format!(
        "zero-time loop: more than {} delta cycles at t = {t_ns} ns (e.g. {}); components \
         keep re-triggering each other without delay — give the lateral-inhibition array a \
         comparator delay (`comparator_delay_ns`)",
        super::reserved::MAX_DELTA,
        names.join(", ")
    )
}

impl ExecError {
    /// The zero-time loop at `t_ns` through components `ids` (at most the first four are
    /// named, from `names`, the network's).
    pub fn zero_time_loop(
        t_ns: Ns,
        ids: impl IntoIterator<Item = CompId>,
        names: &[String],
    ) -> Self {
        ExecError::ZeroTimeLoop {
            time_ns: t_ns,
            components: ids
                .into_iter()
                .take(super::reserved::LOOP_NAMES)
                .map(|id| {
                    names
                        .get(id as usize)
                        .map_or("?", String::as_str)
                        .to_string()
                })
                .collect(),
        }
    }
}

#[cfg(feature = "actix")]
/// Why the actix executor could not start or continue.
#[derive(Debug, thiserror::Error)]
pub enum ActixError {
    /// No actix System runs on this thread.
    #[error("no actix System runs on this thread; call from inside one (e.g. `System::new().block_on(..)` or `#[actix::main]`), or use `BlockingActixSimulation`")]
    NoSystem,
    /// An arbiter thread could not be started.
    #[error("cannot start an actix arbiter: {0}")]
    Arbiter(#[from] std::io::Error),
    /// A component's actor stopped (its component panicked); the simulation is unusable.
    #[error(
        "the actor of component {0} stopped (its component panicked?); this simulation is unusable"
    )]
    ActorFailed(CompId),
    /// An earlier run failed.
    #[error("an earlier run failed; this simulation is unusable")]
    Poisoned,
}
