//! NIR interchange (the Neuromorphic Intermediate Representation, the HDF5 graph format
//! of snnTorch, Norse, Lava, Rockpool, Spyx, SpiNNaker and Loihi tool chains):
//! `memsnn nir export` writes a topology as a NIR graph, `memsnn nir import` turns a NIR
//! graph into a topology. docs/nir.md has the mapping both ways and what is lost.
//!
//! * [`keys`] — the metadata memsnn writes (raw conductances, device sets, wiring).
//! * [`file`](mod@file) — `.nir` files read (bounded, errors naming the file) and written whole.
//! * [`embed`] — the files a topology names, carried in the graph and written back.
//! * [`neuron_map`] — hybrid neuron ↔ `LIF`.
//! * [`export`](mod@export) — topology → graph.
//! * [`foreign`] — other frameworks' graphs → topology.
//! * [`import`](mod@import) — graph → topology files.
//!
//! ```no_run
//! use memsnn::nir::{export, import, ExportOptions, ImportOptions};
//! use std::path::Path;
//!
//! let opts = ExportOptions { weights: None, seed: 1 };
//! export(Path::new("topologies/fig3b.ron"), Path::new("fig3b.nir"), &opts)?;
//! import(Path::new("fig3b.nir"), Path::new("back/fig3b.ron"), &ImportOptions::default())?;
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod embed;
pub mod export;
pub mod file;
pub mod foreign;
pub mod import;
pub mod keys;
pub mod neuron_map;

pub use export::{export, graph_of, ExportOptions, ExportReport};
pub use import::{import, network_of, ImportOptions, ImportReport};
