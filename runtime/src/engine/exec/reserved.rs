//! Reserved ids, ports and limits every executor shares.

use crate::engine::event::{CompId, Port};

/// Source id of events injected from outside the network (protocol drivers).
pub const EXTERNAL: CompId = CompId::MAX;
/// Port on which wake-ups are delivered.
pub const WAKE_PORT: Port = Port::MAX;
/// Delta cycles allowed at one instant before the run is stopped as a zero-time loop
/// (e.g. latches and ideal comparators toggling each other with no delay).
pub const MAX_DELTA: u32 = 100_000;
/// Components a zero-time-loop error names.
pub(crate) const LOOP_NAMES: usize = 4;
