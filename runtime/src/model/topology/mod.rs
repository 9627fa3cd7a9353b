//! Topologies: networks described in RON files, checked before anything runs, and built
//! into components on a [`crate::engine::network::NetworkBuilder`].
//!
//! One straight pipeline; each module uses only those before it:
//!
//! * [`schema`] — what a topology file and a pattern file contain (field by field, with
//!   units); the user guide is `docs/topology.md`.
//! * [`error`] — [`TopologyError`], the checks' issues and their location in the file.
//! * [`size`] — the memory a topology needs, estimated before building it.
//! * [`rules`] — the rules a topology obeys on its own (no other file needed), with the
//!   limits on every count, duration and file size.
//! * [`budget`] — the estimated memory against what this process may use.
//! * [`saved`] — saved conductances (the non-volatile state), written after a run and
//!   read by `initial: Saved(file)`.
//! * [`resolve`] — the files a topology names, each read and parsed once: device sets
//!   (built-in names or files), patterns, saved weights.
//! * [`check`](mod@check) — every problem at once, each with file, line, column, field and
//!   hint; what passes is a [`Checked`] topology that owns everything resolved.
//! * [`build`](mod@build) — components and wires from a [`Checked`] topology, every random
//!   stream keyed by stable identifiers; it reads no file.
//! * [`built`] — what building yields: the network plus the ids of its parts.
//!
//! ```no_run
//! use runtime::model::topology::{build, load};
//! use std::path::Path;
//!
//! let checked = load(Path::new("topologies/fig3b.ron"))?;
//! let built = build(&checked, 1)?;
//! println!("{} components", built.builder.len());
//! // Edited in code: checked again before it can be built.
//! let quiet = checked.edit(|t| t.probes.clear())?;
//! let _ = build(&quiet, 2)?;
//! # Ok::<(), runtime::model::topology::TopologyError>(())
//! ```

pub mod budget;
pub mod build;
pub mod built;
pub mod check;
pub mod error;
pub mod resolve;
pub mod rules;
pub mod saved;
pub mod schema;
pub mod size;

pub use build::{build, prototype, ProbeSelection};
pub use built::{Built, LayerIds};
pub use check::{check, load, load_named_by, parse_str, Checked};
pub use error::TopologyError;
pub use saved::SavedWeights;
pub use schema::{Patterns, Topology};
pub use size::{memory_estimate, memory_estimate_bytes, MemoryEstimate};
