//! The MNIST protocol file (`topologies/experiments/mnist.ron`): input coding, presentation
//! lengths, rests, write and read levels, the adaptive threshold's sizing rule and the
//! default run sizes — checked before anything is built.

use crate::data::coding::Coding;
use anyhow::Result;
use devices::params::{load_ron, Validate, Validator};
use runtime::model::topology::rules::MAX_VOLTS;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Protocol of `memsnn reproduce mnist` (`topologies/experiments/mnist.ron`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MnistProtocol {
    /// Topology file, relative to the protocol file.
    pub topology: String,
    /// How images become pulses.
    pub coding: Coding,
    /// Longest training presentation, CLK periods.
    pub train_max_cycles: u64,
    /// Longest read race, CLK periods.
    pub read_max_cycles: u64,
    /// Races per test image: each a presentation from rest until the first fire; the
    /// image's answer is the neuron that won most of them (its highest firing rate).
    pub read_races: u32,
    /// CLK periods a read through the output layer waits for it after the hidden layer's
    /// first fire.
    pub output_window_cycles: u64,
    /// Inputs grounded between presentations, CLK periods.
    pub rest_cycles: u64,
    /// Write and read levels.
    pub levels: Levels,
    /// Leak time constant of the adaptive threshold per hidden neuron, seconds: the layer's
    /// `homeostasis.leak_seconds` is this times its neuron count (see the protocol file).
    pub threshold_leak_seconds_per_neuron: f64,
    /// Hidden neurons unless `--neurons` says otherwise.
    pub neurons: usize,
    /// Passes over the training images unless `--epochs` says otherwise.
    pub epochs: u32,
}

/// Write and read voltages.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Levels {
    /// Input pulses while training, volts.
    pub input_write_volts: f64,
    /// Input pulses while reading, volts (below the synapses' SET threshold).
    pub read_volts: f64,
    /// The write strobe (circuit extension): with `Some(v)`, training pulses the lines at
    /// `v` while the neurons integrate, and the input drivers switch to
    /// `input_write_volts` only for the refractory period after the layer's first fire
    /// (the LIA's "a neuron fired" line strobes them). `None`: the paper's drivers, at the
    /// write level throughout, so that a sparse digit, which puts node 1 below
    /// `input_write_volts − V_SET`, sets the driven synapses of every integrating column.
    #[serde(default)]
    pub integrate_volts: Option<f64>,
}

/// Largest count a protocol may ask for (presentations, cycles, neurons, passes).
const MAX_COUNT: u64 = 1_000_000;

impl Validate for MnistProtocol {
    fn validate(&self, v: &mut Validator) {
        if let Err(e) = self.coding.validate() {
            v.check("coding", false, &e, "use a probability in [0, 1]");
        }
        for (name, x) in [
            ("train_max_cycles", self.train_max_cycles),
            ("read_max_cycles", self.read_max_cycles),
            ("read_races", self.read_races as u64),
            ("output_window_cycles", self.output_window_cycles),
            ("neurons", self.neurons as u64),
            ("epochs", self.epochs as u64),
        ] {
            v.check(
                name,
                (1..=MAX_COUNT).contains(&x),
                &format!("{x} is outside 1..={MAX_COUNT}"),
                "give a positive count",
            );
        }
        v.check(
            "rest_cycles",
            self.rest_cycles <= MAX_COUNT,
            &format!("{} is above {MAX_COUNT}", self.rest_cycles),
            "rest for fewer cycles",
        );
        v.nested("levels", |v| {
            v.in_range(
                "input_write_volts",
                self.levels.input_write_volts,
                0.0,
                MAX_VOLTS,
            );
            v.in_range("read_volts", self.levels.read_volts, 0.0, MAX_VOLTS);
            if let Some(x) = self.levels.integrate_volts {
                v.in_range("integrate_volts", x, 0.0, MAX_VOLTS);
            }
        });
        v.positive(
            "threshold_leak_seconds_per_neuron",
            self.threshold_leak_seconds_per_neuron,
        );
    }
}

/// The built-in protocol file.
pub fn default_protocol_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/experiments/mnist.ron")
}

/// The data shipped with the repository (300 training and 100 test digits).
pub fn default_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mnist-small")
}

/// Loads and checks a protocol file.
pub fn load_protocol(path: &Path) -> Result<MnistProtocol> {
    Ok(load_ron(path)?)
}
