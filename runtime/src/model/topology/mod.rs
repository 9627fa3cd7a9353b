//! Topologies: networks described in RON files, validated before anything runs, and built
//! into components on a [`crate::engine::network::NetworkBuilder`].
//!
//! * [`schema`] — what a topology file and a pattern file contain (field by field, with
//!   units); the user guide is `docs/topology.md`.
//! * [`validate`] — every problem at once, each with file, line, column, field and hint;
//!   [`rules`] holds the rules that need no other file.
//! * [`build`](mod@build) — components and wires, every random stream keyed by stable identifiers.
//! * [`built`] — what building yields: the network plus the ids of its parts.
//! * [`saved`] — saved conductances (the non-volatile state), written after a run and
//!   read by `initial: Saved(file)`.
//!
//! ```no_run
//! use runtime::topology::{build::build, validate::load};
//! use std::path::Path;
//!
//! let checked = load(Path::new("topologies/fig3b.ron"))?;
//! let built = build(&checked.topology, &checked.base_dir, 1)?;
//! println!("{} components", built.builder.len());
//! # Ok::<(), runtime::topology::validate::TopologyError>(())
//! ```

pub mod build;
pub mod built;
pub mod rules;
pub mod saved;
pub mod schema;
pub mod size;
pub mod validate;

pub use build::{build, prototype, ProbeSelection};
pub use built::{Built, LayerIds};
pub use saved::SavedWeights;
pub use schema::{Patterns, Topology};
pub use size::memory_estimate_bytes;
pub use validate::{load, parse_str, Checked, TopologyError};
