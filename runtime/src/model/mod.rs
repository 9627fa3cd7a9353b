//! The model: topology files (schema → rules → resolved devices → checked model), building
//! a checked model into a network, saved weights, and the protocol driver (its primitive
//! operations, and the topology protocols built on them).
//!
//! **Architecture invariant:** the model describes and drives; it never delivers events
//! itself (executors do) and computes no physics (devices and circuits do).

pub mod checkpoint;
pub mod driver;
pub mod energy;
pub mod protocol;
pub mod session;
pub mod spool;
pub mod streaming;
pub mod topology;
