//! How much memory a topology needs once built, estimated before building it, so that a
//! network that would not fit is refused with a message instead of failing to allocate.
//!
//! The estimate follows the components' storage: a synapse column keeps one `f32`
//! conductance and one `f32` spike level per synapse (device fabrication spread is
//! re-derived from keys, never stored); a lateral-inhibition array one `f32` per cell of
//! its `n × n` array plus a few `f64` per column; neurons, columns and wires a fixed
//! overhead each (measured sizes of the structs with their event queues, rounded up).

use super::schema::{Inhibition, Topology};

/// Bytes per synapse-column cell: conductance and spike level, `f32` each.
const BYTES_PER_SYNAPSE: u64 = 8;
/// Bytes per LIA cell (`f32` conductance).
const BYTES_PER_LIA_CELL: u64 = 4;
/// Bytes per neuron with its column, LIA column and wires, excluding per-synapse data:
/// an upper bound on the structs (TS device, circuit, latches; column sums and patterns),
/// their names and graph nodes.
const BYTES_PER_NEURON: u64 = 4096;

/// Estimated resident bytes of the built network (an upper bound within ~2×).
pub fn memory_estimate_bytes(topo: &Topology) -> u64 {
    let mut bytes = 0u64;
    for l in &topo.layers {
        let n = u64::from(l.neurons);
        let source = topo.source_size(&l.from).unwrap_or(0);
        let per_column = l.synapses_per_column(source) as u64;
        bytes = bytes
            .saturating_add(
                n.saturating_mul(per_column)
                    .saturating_mul(BYTES_PER_SYNAPSE),
            )
            .saturating_add(n.saturating_mul(BYTES_PER_NEURON));
        if l.inhibition == Inhibition::Lia {
            bytes = bytes.saturating_add(n.saturating_mul(n).saturating_mul(BYTES_PER_LIA_CELL));
        }
    }
    bytes
}
