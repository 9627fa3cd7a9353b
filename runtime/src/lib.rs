//! memsnn runtime: timestamped events, components (actors), topologies, executors, probes
//! and protocols, built on the `devices` crate.
