//! How much memory a topology needs once built and run, estimated from the topology alone
//! before anything is built, so that a network that would not fit is refused with a
//! message instead of failing to allocate.
//!
//! The estimate follows the components' storage: a synapse column keeps one `f32`
//! conductance and one `f32` spike level per synapse (device fabrication spread is
//! re-derived from keys, never stored); a lateral-inhibition array one `f32` per cell of
//! its `n × n` array plus a few `f64` per column; neurons, columns and wires a fixed
//! overhead each (measured sizes of the structs with their event queues, rounded up); a
//! layer fed by a layer has one wire per synapse as well.
//! Probes cost [`PROBE_RECORD_BYTES`] per record they keep, and the records a probe makes
//! are bounded from the protocol's simulated time ([`protocol_ns`]) by the per-period
//! rates below ([`probe_records`]). A run streams its records to disk through a bounded
//! buffer (`model/spool.rs`, what `memsnn run` does), so a probe keeps at most
//! [`PROBE_BUFFER_RECORDS`] of them in memory however long the protocol; a library
//! session that keeps its records in memory instead (`Session::records`, Python's
//! `Result.probes`) holds every one of them, which this estimate does not count.

use super::schema::{Inhibition, Signal, Step, Topology};
use crate::engine::time::Ns;

/// Bytes per synapse-column cell: conductance and spike level, `f32` each.
const BYTES_PER_SYNAPSE: u64 = 8;
/// Bytes per LIA cell (`f32` conductance).
const BYTES_PER_LIA_CELL: u64 = 4;
/// Bytes per neuron with its column, LIA column and wires, excluding per-synapse data:
/// an upper bound on the structs (TS device, circuit, latches; column sums and patterns),
/// their names and graph nodes.
const BYTES_PER_NEURON: u64 = 4096;
/// Bytes per input line of a generator (its pattern amplitudes and wires).
const BYTES_PER_INPUT_LINE: u64 = 64;
/// Bytes per wire from a source neuron to a column of a layer fed by a layer (one per
/// synapse; an input generator feeds each column by one wire, counted with the neuron):
/// the graph edge and its routing-table entry. Measured: 3000 × 3000 neurons fed by a
/// layer peaked 23 B per wire above the same synapses fed by an input; rounded up.
const BYTES_PER_LAYER_WIRE: u64 = 32;

/// Resident bytes per protocol step: the parsed step, its copy in the run's log, the
/// step's record (times and counts) and its share of the file's location index. Measured:
/// the 30×10×10 network with 23,827 steps peaked 17.7 MB (0.74 kB per step) above the same
/// run with 255 steps; rounded up.
const BYTES_PER_STEP: u64 = 1024;

/// Resident bytes one probe record costs until the run's outputs are written: the record
/// itself, its share of the canonical sort and of the CSV text. Measured: a probed neuron
/// over 40,000 CLK periods (546,761 records) raised the peak resident size by 94 bytes per
/// record on the reference executor and 110 on the sharded and actix executors; rounded up.
/// Every probe estimate goes through this one constant.
pub const PROBE_RECORD_BYTES: u64 = 160;

/// Records a probe keeps in memory at most while a run streams them (the spool's buffer).
pub const PROBE_BUFFER_RECORDS: u64 = crate::model::spool::Spool::RUN_RECORDS as u64;

/// Records per CLK period of a probed neuron for `Node` (five traces at every settle: two
/// CLK edges and the input events; measured 13.7 for a neuron pulsed every period).
const NODE_RECORDS_PER_PERIOD: u64 = 16;
/// Records per CLK period of a probed neuron for `Spikes` (at most one fire and one
/// output spike per period).
const SPIKE_RECORDS_PER_PERIOD: u64 = 2;
/// Records per CLK period and synapse of a probed column for `Conductances` (all its
/// synapses at each change; measured 1.1 for a learning neuron firing every third period).
const CONDUCTANCE_RECORDS_PER_PERIOD: u64 = 4;
/// Records per CLK period and neuron of a probed layer for `Gates` (each gate set and
/// released at most once per period).
const GATE_RECORDS_PER_PERIOD: u64 = 2;

/// The estimate, part by part, bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Per layer (file order): synapses, neurons and LIA.
    pub layers_bytes: Vec<u64>,
    /// All input generators.
    pub inputs_bytes: u64,
    /// Per probe (file order): its records over the whole protocol.
    pub probes_bytes: Vec<u64>,
    /// The protocol's steps and their log.
    pub protocol_bytes: u64,
    /// Everything.
    pub total_bytes: u64,
}

/// Simulated time of the topology's protocol, ns: durations of the timed steps, and
/// `max_cycles` CLK periods for a step that waits for fires (its longest).
pub fn protocol_ns(topo: &Topology) -> Ns {
    let period = topo.clock.period_ns;
    topo.protocol
        .iter()
        .map(|s| match s {
            Step::Present { duration_us, .. }
            | Step::PresentPrototype { duration_us, .. }
            | Step::Rest { duration_us } => duration_us.saturating_mul(1000),
            Step::PresentUntilFire { max_cycles, .. } => max_cycles.saturating_mul(period),
            _ => 0,
        })
        .fold(0, Ns::saturating_add)
}

/// Synapses of layer `l` (neurons × synapses per column; 0 for a dangling source).
pub fn layer_synapses(topo: &Topology, l: usize) -> u64 {
    let layer = &topo.layers[l];
    let source = topo.source_size(&layer.from).unwrap_or(0);
    (layer.synapses_per_column(source) as u64).saturating_mul(u64::from(layer.neurons))
}

/// Upper bound of the records probe `k` makes over the protocol: the per-period rates of
/// its signals times its target's neurons (and synapses, for `Conductances`) times the
/// protocol's CLK periods. An input generator records nothing.
pub fn probe_records(topo: &Topology, k: usize) -> u64 {
    let p = &topo.probes[k];
    let Some(l) = topo.layers.iter().position(|l| l.name == p.target) else {
        return 0;
    };
    let neurons = u64::from(topo.layers[l].neurons);
    let synapses = layer_synapses(topo, l);
    let per_period = p
        .signals
        .iter()
        .map(|s| match s {
            Signal::Node => neurons.saturating_mul(NODE_RECORDS_PER_PERIOD),
            Signal::Spikes => neurons.saturating_mul(SPIKE_RECORDS_PER_PERIOD),
            Signal::Conductances => synapses.saturating_mul(CONDUCTANCE_RECORDS_PER_PERIOD),
            Signal::Gates => neurons.saturating_mul(GATE_RECORDS_PER_PERIOD),
        })
        .fold(0, u64::saturating_add);
    let periods = protocol_ns(topo) / topo.clock.period_ns.max(1) + 1;
    per_period.saturating_mul(periods)
}

/// The estimate of every part (an upper bound within ~2× for the network; the probes'
/// share is a bound from the protocol's longest duration).
pub fn memory_estimate(topo: &Topology) -> MemoryEstimate {
    let layers_bytes: Vec<u64> = (0..topo.layers.len())
        .map(|l| {
            let layer = &topo.layers[l];
            let n = u64::from(layer.neurons);
            let synapses = layer_synapses(topo, l);
            let per_synapse = if topo.layer(&layer.from).is_some() {
                BYTES_PER_SYNAPSE + BYTES_PER_LAYER_WIRE
            } else {
                BYTES_PER_SYNAPSE
            };
            let mut bytes = synapses
                .saturating_mul(per_synapse)
                .saturating_add(n.saturating_mul(BYTES_PER_NEURON));
            if layer.inhibition == Inhibition::Lia {
                bytes =
                    bytes.saturating_add(n.saturating_mul(n).saturating_mul(BYTES_PER_LIA_CELL));
            }
            bytes
        })
        .collect();
    let inputs_bytes = topo
        .inputs
        .iter()
        .map(|i| u64::from(i.lines).saturating_mul(BYTES_PER_INPUT_LINE))
        .fold(0, u64::saturating_add);
    let probes_bytes: Vec<u64> = (0..topo.probes.len())
        .map(|k| {
            probe_records(topo, k)
                .min(PROBE_BUFFER_RECORDS)
                .saturating_mul(PROBE_RECORD_BYTES)
        })
        .collect();
    let protocol_bytes = (topo.protocol.len() as u64).saturating_mul(BYTES_PER_STEP);
    let total_bytes = layers_bytes
        .iter()
        .chain(&probes_bytes)
        .fold(inputs_bytes.saturating_add(protocol_bytes), |a, b| {
            a.saturating_add(*b)
        });
    MemoryEstimate {
        layers_bytes,
        inputs_bytes,
        probes_bytes,
        protocol_bytes,
        total_bytes,
    }
}

/// Estimated resident bytes of the built network and its run ([`memory_estimate`]'s
/// total).
pub fn memory_estimate_bytes(topo: &Topology) -> u64 {
    memory_estimate(topo).total_bytes
}
