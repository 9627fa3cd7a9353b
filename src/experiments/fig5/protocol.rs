//! The Fig 5 protocol file (`topologies/experiments/fig5.ron`): training schedule of both
//! layers, inference reads, write and read voltages, and the topology it names — with the
//! limits a protocol is checked against before anything is built.

use anyhow::Result;
use devices::params::{load_ron, Validate, Validator};
use runtime::model::topology::rules::MAX_VOLTS;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Protocol of Fig 5 (`topologies/experiments/fig5.ron`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fig5Protocol {
    /// Topology file, relative to the protocol file.
    pub topology: String,
    /// Layer-1 training.
    pub layer1: Layer1,
    /// Layer-2 training.
    pub layer2: Layer2,
    /// Cycles of rest between presentations.
    pub rest_cycles: u64,
    /// Inference.
    pub inference: Inference,
    /// Write and read voltages.
    pub levels: LevelsSpec,
}

/// Layer-1 (unsupervised) training settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer1 {
    /// Passes over the patterns.
    pub epochs: u32,
    /// Presentations of a pattern in a row before the next pattern (a block; the paper's
    /// Fig 5e follows one neuron over 30 firing events on one digit).
    pub presentations_per_pattern: u32,
    /// Fire events awaited per presentation.
    pub fires_per_presentation: u64,
    /// Present the patterns in a fresh random order each pass.
    pub shuffle: bool,
    /// Longest presentation, CLK periods (with `pulse_trials`: the longest trial).
    pub max_cycles: u64,
    /// Present each pattern as the methods can be read literally — trials of 1, 2, 3 …
    /// pulses, each followed by a rest (a new switching cycle), until a trial ends with a
    /// fire — instead of one pulse train until the first fire (default false).
    #[serde(default)]
    pub pulse_trials: bool,
}

/// Layer-2 (supervised) training settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer2 {
    /// Passes over the patterns.
    pub epochs: u32,
    /// Longest presentation, CLK periods.
    pub max_cycles: u64,
    /// Reads of each clean pattern that select its hidden neuron (default 1): for race
    /// reads (`inference.until_output_fire`) this many races, each ending at the first hidden
    /// fire and voting for its winner; else this many inference reads (`window_cycles` ×
    /// `races`), by spike counts — how long the experimenter watches the rates before wiring
    /// layer 2.
    #[serde(default = "one")]
    pub selection_reads: u32,
}

/// Inference settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inference {
    /// Presentation length, CLK periods.
    pub window_cycles: u64,
    /// Presentations per pattern and noise level.
    pub trials: usize,
    /// Noise levels: numbers of flipped pixels.
    pub noise_pixels: Vec<u32>,
    /// Presentations of the same (noisy) stimulus per trial, each followed by the rest;
    /// the trial's spike counts are their sums (default 1: one window). With a
    /// winner-holding LIA each presentation is one race, so this is the number of votes.
    #[serde(default = "one")]
    pub races: u32,
    /// End each presentation at the first fire of the output layer (the race read through
    /// both layers) instead of after `window_cycles`, which then bounds it (default false).
    #[serde(default)]
    pub until_output_fire: bool,
    /// Stop a trial's races as soon as one output neuron leads every other by this many
    /// spikes (`races` is then the most a trial takes); 0 (default): always `races`.
    #[serde(default)]
    pub lead_votes: u32,
}

fn one() -> u32 {
    1
}

/// Write and read voltages (see [`DriveLevels`](crate::experiments::msnn::DriveLevels)).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelsSpec {
    /// Input pulses while training, volts.
    pub input_write_volts: f32,
    /// Spikes while training layer 2, volts.
    pub spike_write_volts: f32,
    /// Read level of inputs and spikes, volts.
    pub read_volts: f32,
    /// Gate "1", volts.
    pub gate_on_volts: f32,
}

/// Longest presentation, rest or window a protocol may ask for, CLK periods (50 000 s of
/// simulated time at 2 kHz): a guard against typos, far above any experiment's need.
const MAX_CYCLES: u64 = 100_000_000;
/// Most repetitions (epochs, presentations, fires, trials) a protocol may ask for.
const MAX_COUNT: u64 = 1_000_000;

/// `name` (a count) must be within `1..=max`.
fn count(v: &mut Validator, name: &str, x: u64, max: u64, hint: &str) {
    let msg = format!("must be between 1 and {max} (got {x})");
    v.check(name, (1..=max).contains(&x), &msg, hint);
}

impl Validate for Fig5Protocol {
    fn validate(&self, v: &mut Validator) {
        v.nested("layer1", |v| {
            let l = &self.layer1;
            count(
                v,
                "epochs",
                l.epochs as u64,
                MAX_COUNT,
                "train at least one pass",
            );
            let hint = "present each pattern at least once per pass";
            count(
                v,
                "presentations_per_pattern",
                l.presentations_per_pattern as u64,
                MAX_COUNT,
                hint,
            );
            let hint = "wait for at least one fire per presentation";
            count(
                v,
                "fires_per_presentation",
                l.fires_per_presentation,
                MAX_COUNT,
                hint,
            );
            count(
                v,
                "max_cycles",
                l.max_cycles,
                MAX_CYCLES,
                "allow at least one cycle",
            );
        });
        v.nested("layer2", |v| {
            let l = &self.layer2;
            count(
                v,
                "epochs",
                l.epochs as u64,
                MAX_COUNT,
                "train at least one pass",
            );
            count(
                v,
                "max_cycles",
                l.max_cycles,
                MAX_CYCLES,
                "allow at least one cycle",
            );
            count(
                v,
                "selection_reads",
                l.selection_reads as u64,
                MAX_COUNT,
                "read each pattern at least once",
            );
        });
        let msg = format!("must be at most {MAX_CYCLES} (got {})", self.rest_cycles);
        let hint = "rest a few leak time constants, e.g. 400 cycles (200 ms)";
        v.check("rest_cycles", self.rest_cycles <= MAX_CYCLES, &msg, hint);
        v.nested("inference", |v| {
            let i = &self.inference;
            let hint = "count over at least one cycle";
            count(v, "window_cycles", i.window_cycles, MAX_CYCLES, hint);
            count(
                v,
                "trials",
                i.trials as u64,
                MAX_COUNT,
                "run at least one trial",
            );
            count(
                v,
                "races",
                i.races as u64,
                MAX_COUNT,
                "read each stimulus at least once",
            );
        });
        v.nested("levels", |v| {
            let l = &self.levels;
            for (name, x) in [
                ("input_write_volts", l.input_write_volts),
                ("spike_write_volts", l.spike_write_volts),
                ("read_volts", l.read_volts),
                ("gate_on_volts", l.gate_on_volts),
            ] {
                v.positive(name, x as f64);
                v.in_range(name, x as f64, 0.0, MAX_VOLTS);
            }
        });
    }
}

/// Where the built-in protocol lives.
pub fn default_protocol_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/experiments/fig5.ron")
}

/// Loads the protocol.
pub fn load_protocol(path: &Path) -> Result<Fig5Protocol> {
    Ok(load_ron(path)?)
}
