//! memsnn: an event-driven simulator of fully-hardware memristive spiking neural networks —
//! hybrid memristor-CMOS neurons (a threshold-switching memristor integrates and fires; a
//! few latches and gates give the refractory period, Hebbian potentiation/depression and
//! lateral inhibition) wired to 1T1R resistive-switching synapse crossbars.
//!
//! This facade re-exports the workspace crates and adds what the command line does:
//! the paper's experiments ([`experiments`]), their output files ([`output`]), figures
//! ([`plot`]) and paper-vs-memsnn rows ([`report`]) with their web page ([`index_page`]), running any topology file ([`run`]),
//! and image input data — MNIST's IDX files and pixel-to-pulse coding ([`data`]).
//!
//! * [`devices`] — device physics (TS memristor, 1T1R synapse, switches, comparators).
//! * [`runtime`] — events, components, topologies, executors, probes and protocols.
#![warn(missing_docs)]

pub use devices;
pub use runtime;

pub mod alloc_count;
pub mod bench;
pub mod data;
pub mod energy;
pub mod experiments;
pub mod index_page;
pub mod nir;
pub mod output;
pub mod plot;
pub mod report;
pub mod run;
pub mod run_plot;
