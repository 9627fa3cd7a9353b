//! The engine: time, events, the component (actor) trait, networks, probes and the
//! executors that deliver events.
//!
//! **Architecture invariant:** the engine never computes physics and knows no circuit;
//! it moves timestamped events between components in a deterministic order.

pub mod checkpoint;
pub mod component;
pub mod event;
pub mod exec;
pub mod network;
pub mod pattern_sums;
pub mod probe;
pub mod time;
