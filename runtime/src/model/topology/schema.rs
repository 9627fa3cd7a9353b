//! The RON schema of a topology file and of a pattern file.
//!
//! Every struct rejects unknown fields, so a misspelt key is an error, not a silently
//! ignored setting. Units are part of field names (`_volts`, `_us`, `_ns`, `_siemens`).
//! The user guide with a complete example is `docs/topology.md`.
//!
//! ```ron
//! Topology(
//!     name: "fig3b",
//!     devices: (ts: "builtin:ts_neuron", synapse: "builtin:rs_hfo2_1t1r",
//!               circuit: "builtin:neuron_cmos"),
//!     inputs: [(name: "in", lines: 2, amplitude_volts: 1.8)],
//!     layers: [(name: "n", neurons: 1, from: "in", connectivity: Dense,
//!               initial: Matrix([[100.0e-6, 25.0e-6]]), learning: false, programmable: false)],
//!     probes: [(target: "n", signals: [Spikes, Node])],
//!     patterns: "patterns/pair_1x2.ron",
//!     protocol: [Present(input: "in", pattern: "first", duration_us: 10000)],
//! )
//! ```

use crate::engine::time::{Clock, Ns, US};
use devices::Variability;
use serde::{Deserialize, Serialize};

/// Prefix of built-in device parameter sets (`"builtin:ts_neuron"`).
pub const BUILTIN_PREFIX: &str = "builtin:";

/// A whole network description: devices, inputs, layers, probes and a protocol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Name of the network (used in logs and output folders).
    pub name: String,
    /// The global CLK; default: 500 µs period, 250 µs high (the paper's 2 kHz, 50 % duty).
    #[serde(default)]
    pub clock: Clock,
    /// Device randomness; default: cycle-to-cycle and device-to-device both on.
    #[serde(default)]
    pub variability: Variability,
    /// Randomness of the neurons' TS devices alone, overriding `variability` for them
    /// (e.g. the paper's ablation: neurons without stochasticity, synapses unchanged).
    #[serde(default)]
    pub neuron_variability: Option<Variability>,
    /// Randomness of the lateral-inhibition arrays' cells and comparators alone, overriding
    /// `variability` for them. Beyond a few tens of neurons a resistive-divider LIA's
    /// margin is smaller than the devices' spread (`runtime::circuits::lia`), so large
    /// winner-take-all layers are studied with nominal arrays (`Some((cycle_to_cycle:
    /// false, device_to_device: false))`), or with the hierarchical LIA
    /// (`builtin:lia_hierarchical`), which keeps its margin with the spread on.
    #[serde(default)]
    pub lia_variability: Option<Variability>,
    /// Programming sub-step of synapse columns, ns (default 10 000 ns = 10 µs): while a
    /// floating node may program, node 1 is re-solved this often.
    #[serde(default = "default_substep_ns")]
    pub substep_ns: Ns,
    /// The device parameter sets.
    pub devices: DeviceFiles,
    /// Input generators (pattern buses).
    pub inputs: Vec<InputSpec>,
    /// Layers of hybrid neurons with their synapse columns.
    pub layers: Vec<LayerSpec>,
    /// What to record (default: nothing).
    #[serde(default)]
    pub probes: Vec<ProbeSpec>,
    /// Pattern file ([`Patterns`]), relative to the topology file's folder.
    #[serde(default)]
    pub patterns: Option<String>,
    /// Steps run in order by [`crate::model::protocol::run_protocol`] (default: none).
    #[serde(default)]
    pub protocol: Vec<Step>,
}

fn default_substep_ns() -> Ns {
    10 * US
}

/// Where each device parameter set comes from: a RON file path (relative to the topology
/// file's folder) or a built-in name starting with `builtin:`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceFiles {
    /// The neurons' TS memristor: a `TsParams` file, `"builtin:ts_neuron"` or
    /// `"builtin:ts_fig2"`.
    pub ts: String,
    /// The 1T1R synapse: an `RsParams` file or `"builtin:rs_hfo2_1t1r"`.
    pub synapse: String,
    /// The neuron's CMOS circuit: a `NeuronCircuit` file or `"builtin:neuron_cmos"`.
    pub circuit: String,
    /// The lateral-inhibition array: a `LiaParams` file or `"builtin:lia"`; required when
    /// a layer has `inhibition: Lia`.
    #[serde(default)]
    pub lia: Option<String>,
    /// The LIA's comparators: a `ComparatorParams` file or `"builtin:comparator"` (the
    /// default).
    #[serde(default)]
    pub comparator: Option<String>,
}

/// An input generator: `lines` lines that pulse (black pixels) or stay grounded (white
/// pixels) in every CLK-high phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Unique name (shared namespace with layers).
    pub name: String,
    /// Number of input lines (pixels), ≥ 1.
    pub lines: u32,
    /// Pulse amplitude of black pixels, volts (≥ 0).
    pub amplitude_volts: f64,
    /// Probability in `(0, 1]` that a black pixel's line pulses in a given CLK period
    /// (each pulse kept independently: a Bernoulli-gated, rate-coded input); default 1,
    /// every period.
    #[serde(default = "one")]
    pub pulse_prob: f64,
}

fn one() -> f64 {
    1.0
}

/// A layer of hybrid neurons, each with its synapse column (one crossbar column sharing
/// one gate line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Unique name (shared namespace with inputs).
    pub name: String,
    /// Number of neurons (= columns), ≥ 1.
    pub neurons: u32,
    /// Source: the name of an input generator or of a layer (its output spikes).
    pub from: String,
    /// How source lines map onto synapses.
    pub connectivity: Connectivity,
    /// Initial synapse conductances.
    pub initial: Initial,
    /// What drives the columns' gate lines (default: nothing, gates held at `gate_volts`).
    #[serde(default)]
    pub inhibition: Inhibition,
    /// Gate level of the columns before any driver speaks, and for ever with
    /// `inhibition: None`, volts (default 3.0: every access transistor fully on).
    #[serde(default = "default_gate_volts")]
    pub gate_volts: f64,
    /// Depression feedback (T3) enabled from the start (the neuron's learning mode).
    pub learning: bool,
    /// Output spike amplitude, volts (default: the circuit's `spike_amplitude_volts`).
    #[serde(default)]
    pub spike_amplitude_volts: Option<f64>,
    /// Leak time constant of the neurons' adaptive threshold, seconds, overriding the
    /// circuit's `homeostasis.leak_seconds` (the leak is sized with the layer; the
    /// circuit must have an adaptive threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_leak_seconds: Option<f64>,
    /// Whether synapses are programmable 1T1R devices (default true); false makes them
    /// fixed resistors, as in the paper's Fig 3b.
    #[serde(default = "default_true")]
    pub programmable: bool,
    /// This layer's neurons' TS memristor, overriding `devices.ts` (a `TsParams` file or
    /// a built-in name; default: `devices.ts`).
    #[serde(default)]
    pub ts: Option<String>,
    /// This layer's neuron CMOS circuit, overriding `devices.circuit` (default:
    /// `devices.circuit`).
    #[serde(default)]
    pub circuit: Option<String>,
}

fn default_gate_volts() -> f64 {
    3.0
}

fn default_true() -> bool {
    true
}

/// How a layer's columns connect to its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Connectivity {
    /// Every source line into every column: column `j` has one synapse per source line.
    Dense,
    /// Source neuron `j` into column `j` only (one synapse per column). The source must be
    /// a layer with as many neurons (an input generator's pattern bus reaches every
    /// column whole, so it can only be `Dense`).
    OneToOne,
}

/// Initial synapse conductances of a layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Initial {
    /// `Uniform(siemens, spread_cv)`: every synapse drawn log-normal (mean `siemens`,
    /// coefficient of variation `spread_cv`, 0 = exact) from its own keyed stream; for
    /// programmable layers clipped to the device's `[G_min, G_max]`.
    Uniform(f64, f64),
    /// `Matrix([[...], ...])`: one row per neuron (column), one value per synapse,
    /// siemens. Programmable layers need values within the synapse's nominal
    /// `[G_min, G_max]`; each is clipped to its own fabricated device's range.
    Matrix(Vec<Vec<f64>>),
    /// `Prototypes(p_on: 0.5, on_siemens: (lo, hi), off_siemens: (lo, hi))`: a layer "as if
    /// trained". Column `j` has a random binary prototype — each synapse "on" with
    /// probability `p_on`, drawn from the column's keyed stream (see
    /// [`crate::model::topology::prototype`]) — and its "on" synapses are drawn uniformly in
    /// `on_siemens`, the others in `off_siemens`. `PresentPrototype` steps present these
    /// prototypes (the peers' `wta_ff` benchmark workload).
    Prototypes {
        /// Probability that a synapse belongs to the prototype, in [0, 1].
        p_on: f64,
        /// Range of the prototype's synapses, siemens.
        on_siemens: (f64, f64),
        /// Range of the other synapses, siemens.
        off_siemens: (f64, f64),
    },
    /// `Saved("weights.ron")`: the conductances a run saved (`memsnn run --save-weights`,
    /// see [`crate::model::topology::SavedWeights`]), path relative to this file's folder; the layer
    /// takes the file's entry with its own name, which must have its shape. In
    /// programmable layers each value is clipped to its fabricated device's range (a no-op
    /// with the seed that saved it; stuck devices take their stuck value).
    Saved(String),
}

/// What drives a layer's gate lines.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Inhibition {
    /// No driver: every gate stays at the layer's `gate_volts`.
    #[default]
    None,
    /// A lateral-inhibition array (winner-take-all): neuron `j`'s LI output feeds LIA
    /// input `j`, LIA output `j` drives column `j`'s gate. Needs `devices.lia`.
    Lia,
    /// `Supervised(initial_gate_volts)`: a gate driver set by `SetGates` protocol steps.
    Supervised(f64),
}

/// What to record, on which part of the network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    /// A layer or input name.
    pub target: String,
    /// Signals to record (at least one).
    pub signals: Vec<Signal>,
}

/// A recordable signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Signal {
    /// Fires (`fire`, at L1 rising) and output spikes (`spike`, volts).
    Spikes,
    /// Node traces at every event and CLK edge: `v_node1`, `v_node2` (volts), `l1`, `l2`
    /// (0/1), `v_out` (volts).
    Node,
    /// Gate levels written by the layer's gate driver or LIA (volts).
    Gates,
    /// Synapse conductances `g` (siemens, index = synapse) whenever they change.
    Conductances,
}

/// One protocol step. Steps that take time run the simulation; the others act at the
/// current instant (their control events are delivered when the next step runs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Step {
    /// Present a pattern (from the next CLK-high phase on) for `duration_us` µs.
    Present {
        /// Input generator.
        input: String,
        /// Pattern name in the pattern file.
        pattern: String,
        /// Random pixels to flip (noise), default 0.
        #[serde(default)]
        flips: u32,
        /// Duration, µs (> 0).
        duration_us: u64,
    },
    /// Present the prototype of neuron `neuron` of `layer` (a layer with
    /// `initial: Prototypes(..)`) for `duration_us` µs, with `flips` random pixels flipped.
    PresentPrototype {
        /// Input generator (the layer's source).
        input: String,
        /// Layer whose prototypes are meant.
        layer: String,
        /// Neuron index in the layer.
        neuron: u32,
        /// Random pixels to flip (noise), default 0.
        #[serde(default)]
        flips: u32,
        /// Duration, µs (> 0).
        duration_us: u64,
    },
    /// Ground every input for `duration_us` µs; at its end the reset line of every
    /// winner-holding LIA (`hold: UntilReset`) releases the held winner.
    Rest {
        /// Duration, µs (> 0).
        duration_us: u64,
    },
    /// Present a pattern one CLK period at a time until `layer` has fired `fires` times
    /// in this step, or `max_cycles` periods have passed. The pattern stays on afterwards.
    PresentUntilFire {
        /// Input generator.
        input: String,
        /// Pattern name in the pattern file.
        pattern: String,
        /// Random pixels to flip (noise), default 0.
        #[serde(default)]
        flips: u32,
        /// Layer whose fires (all neurons together) are counted.
        layer: String,
        /// Fires to wait for, ≥ 1 (default 1).
        #[serde(default = "default_fires")]
        fires: u32,
        /// Upper bound on CLK periods, ≥ 1.
        max_cycles: u64,
    },
    /// Enable or disable the depression feedback (learning mode) of every neuron of a layer.
    SetLearning {
        /// Layer.
        layer: String,
        /// Learning on (true) or off.
        on: bool,
    },
    /// Pulse amplitude of an input's black pixels from its next presented pattern, volts.
    SetAmplitude {
        /// Input generator.
        input: String,
        /// Amplitude, volts (≥ 0).
        volts: f64,
    },
    /// Output spike amplitude of every neuron of a layer, volts.
    SetSpikeAmplitude {
        /// Layer.
        layer: String,
        /// Amplitude, volts (> 0).
        volts: f64,
    },
    /// Gate levels of a `Supervised` layer, one per neuron, volts.
    SetGates {
        /// Layer (must be `Supervised`).
        layer: String,
        /// Levels, volts, one per neuron.
        volts: Vec<f64>,
    },
}

fn default_fires() -> u32 {
    1
}

/// A pattern file: `Patterns(width, height, items: [(name, rows: ["#..#.", ...])])`.
/// `#` is a black pixel (its line pulses), `.` a white one (grounded). Pixels are numbered
/// row by row from the top left: pixel `r·width + c` drives input line `r·width + c`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patterns {
    /// Characters per row, ≥ 1.
    pub width: u32,
    /// Rows per pattern, ≥ 1.
    pub height: u32,
    /// The patterns (unique names).
    pub items: Vec<Pattern>,
}

/// One named pattern.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pattern {
    /// Unique name, used by protocol steps.
    pub name: String,
    /// `height` strings of `width` characters, each `#` or `.`.
    pub rows: Vec<String>,
}

impl Patterns {
    /// Number of pixels of every pattern (`width × height`).
    pub fn pixels(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// The pixels of pattern `name` (true = black), row by row; `None` if unknown.
    pub fn get(&self, name: &str) -> Option<Vec<bool>> {
        let p = self.items.iter().find(|p| p.name == name)?;
        Some(
            p.rows
                .iter()
                .flat_map(|r| r.chars())
                .map(|c| c == '#')
                .collect(),
        )
    }
}

impl LayerSpec {
    /// Synapses per column for a source of `source_size` lines or neurons.
    pub fn synapses_per_column(&self, source_size: usize) -> usize {
        match self.connectivity {
            Connectivity::Dense => source_size,
            Connectivity::OneToOne => 1,
        }
    }
}

impl Topology {
    /// Size of the source named `name`: an input's lines or a layer's neurons.
    pub fn source_size(&self, name: &str) -> Option<usize> {
        if let Some(i) = self.inputs.iter().find(|i| i.name == name) {
            return Some(i.lines as usize);
        }
        self.layers
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.neurons as usize)
    }

    /// The input named `name`.
    pub fn input(&self, name: &str) -> Option<&InputSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// The layer named `name`.
    pub fn layer(&self, name: &str) -> Option<&LayerSpec> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// Whether any layer has a lateral-inhibition array.
    pub fn uses_lia(&self) -> bool {
        self.layers.iter().any(|l| l.inhibition == Inhibition::Lia)
    }
}

/// Microseconds to nanoseconds, saturating (durations are bounded by validation).
pub fn us_to_ns(us: u64) -> u64 {
    us.saturating_mul(US)
}
