//! The hardware blocks, one component kind per file.

pub mod circuit;
pub mod column;
pub mod gate_driver;
pub mod input;
pub mod lia;
pub mod neuron;
