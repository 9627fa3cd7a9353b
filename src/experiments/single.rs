//! One hybrid neuron with its synapse column, driven by an input generator: the circuit of
//! the paper's Fig 3 and Supp. Figs 3 and 6, built as a network and run on the reference
//! executor.

use devices::variability::key;
use devices::{DeviceSet, Variability};
use runtime::circuits::circuit::NeuronCircuit;
use runtime::circuits::column::{self, Column};
use runtime::circuits::input::{self, InputGenerator};
use runtime::circuits::neuron::{self, Neuron};
use runtime::engine::event::{CompId, Control, Payload};
use runtime::engine::exec::reference::Simulation;
use runtime::engine::network::NetworkBuilder;
use runtime::engine::probe::Record;
use runtime::engine::time::{Clock, Ns};
use std::sync::Arc;

/// How to build one neuron circuit.
#[derive(Clone, Debug)]
pub struct SingleNeuron {
    /// Initial conductances of the column's synapses, siemens.
    pub conductances: Vec<f32>,
    /// Whether the synapses are programmable RS devices (false: fixed resistors).
    pub programmable: bool,
    /// Depression feedback (T3) enabled.
    pub learning: bool,
    /// Input amplitude for active lines, volts.
    pub amplitude_volts: f32,
    /// Which lines pulse.
    pub pixels: Vec<bool>,
    /// Device randomness.
    pub variability: Variability,
    /// Root seed.
    pub seed: u64,
    /// Record node traces at every CLK edge.
    pub probe: bool,
}

/// Ids of the components of a [`SingleNeuron`] network.
#[derive(Clone, Copy, Debug)]
pub struct SingleIds {
    /// The input generator.
    pub input: CompId,
    /// The synapse column.
    pub column: CompId,
    /// The neuron.
    pub neuron: CompId,
}

/// Programming sub-step of columns: node 1 follows conductance changes every 10 µs
/// (a 25th of a CLK-high phase).
pub const SUBSTEP_NS: Ns = 10_000;

impl SingleNeuron {
    /// Builds the network and starts presenting the pattern at t = 0.
    pub fn simulate(&self) -> (Simulation, SingleIds) {
        let set = DeviceSet::builtin();
        let circuit = NeuronCircuit::builtin();
        let mut b = NetworkBuilder::new(Clock::default());
        let n = self.conductances.len();
        let input = b.add(
            "input",
            Box::new(InputGenerator::new(
                n,
                self.amplitude_volts,
                key(self.seed, &[1]),
            )),
        );
        let mut col = Column::new(
            Arc::new(set.synapse.clone()),
            self.variability,
            key(self.seed, &[2]),
            self.conductances.clone(),
            3.0,
            SUBSTEP_NS,
        );
        if !self.programmable {
            col = col.fixed();
        }
        let column = b.add("column", Box::new(col));
        let mut nrn = Neuron::new(
            &set.ts_neuron,
            &circuit,
            self.variability,
            key(self.seed, &[3]),
        )
        .with_edge_probing(self.probe);
        if !self.learning {
            nrn = nrn.with_learning(false);
        }
        let neuron = b.add("neuron", Box::new(nrn));
        b.connect(input, input::OUT_LINES, column, column::IN_PATTERN);
        b.connect(column, column::OUT_COLUMN, neuron, neuron::IN_COLUMN);
        b.connect(neuron, neuron::OUT_NODE, column, column::IN_NODE);
        if self.probe {
            b.probe(neuron);
            b.probe(column);
        }
        let mut sim = Simulation::new(b.build());
        sim.inject(
            0,
            input,
            input::IN_CONTROL,
            Payload::Control(Control::Present {
                pixels: self.pixels.clone().into(),
                flips: 0,
            }),
        );
        (
            sim,
            SingleIds {
                input,
                column,
                neuron,
            },
        )
    }
}

/// Times (ns) at which probe `kind` of component `comp` changed to a value, as
/// `(time, value)` pairs, keeping only changes.
pub fn changes(records: &[Record], comp: CompId, kind: &str) -> Vec<(Ns, f64)> {
    let mut out: Vec<(Ns, f64)> = Vec::new();
    for r in records.iter().filter(|r| r.comp == comp && r.kind == kind) {
        if out.last().is_none_or(|&(_, v)| v != r.value) {
            out.push((r.time, r.value));
        }
    }
    out
}

/// Times of the records of `kind` from `comp`.
pub fn times(records: &[Record], comp: CompId, kind: &str) -> Vec<Ns> {
    records
        .iter()
        .filter(|r| r.comp == comp && r.kind == kind)
        .map(|r| r.time)
        .collect()
}

/// Pulses needed for each fire: for the first, counted from the first CLK-high phase; for
/// each later one, from the first high phase after the previous refractory period (a fire
/// in cycle k keeps L2 high through cycle k + 1, so integration resumes in cycle k + 2).
pub fn pulses_per_fire(fires: &[Ns], clock: &Clock) -> Vec<u32> {
    let mut start = 0u64;
    let mut out = Vec::new();
    for &t in fires {
        let c = clock.cycle(t);
        out.push((c + 1).saturating_sub(start) as u32);
        start = c + 2;
    }
    out
}
