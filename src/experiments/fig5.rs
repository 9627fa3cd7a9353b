//! The paper's headline result (Fig 5, Supp. Figs 8–13): a 30×10×10 fully memristive SNN
//! trained in situ — layer 1 unsupervised with the LIA's winner-take-all, layer 2 by gating
//! — then tested on patterns with noise pixels; and the ablation of Supp. Fig 11 (the same
//! network with neurons that have no stochasticity).
//!
//! Nothing here assumes digits, ten classes or 30 pixels: sizes come from the topology and
//! pattern files. Output neuron `k` is trained to pattern `k` of the pattern file.
//!
//! # Why the paper read literally does not learn, and what does
//!
//! (The numbers are in the README's Fig 5 section, from `reproduce fig5` and `reproduce
//! ablation`; `tests/fig5_diagnostics.rs` re-derives the curves.)
//!
//! **A greedy neuron.** Node 1 is the conductance-weighted mean of the input lines, so a
//! column trained on pattern `p` answers pattern `q` with about `V·|p∩q|/|p|` while an
//! untrained one answers `V·|q|/30`: for overlapping digits the trained neuron integrates
//! faster and wins the new digit's block too. What lets a fresh neuron win a block anyway is
//! the *early tail* of the switching-time distribution: a per-cycle switching point drawn
//! log-normally (the threshold law) has a light early tail and, clamped above the hold
//! state, a floor, so a fresh neuron almost never fires first; a thermally activated escape
//! process (the hazard law, `devices/src/ts/switching.rs`) has an exponential early tail
//! whatever its width, and recruits. Its spread has a window: too narrow and the greedy
//! neuron keeps its patterns; too wide and every race is noisy, so blocks split.
//!
//! **A schedule that converges.** A block of 30 fire events rewrites its winner, so one
//! pass leaves whichever neuron won last; over many passes, with the block order drawn anew
//! each pass, each pattern's own neuron takes and keeps its block. Distinct winners grow
//! with the passes and level off (the protocol's `layer1.epochs`).
//!
//! **Reading the race.** Losers keep nearly all of their integration (40 ms leak) through
//! the ~0.75 ms inhibition of the paper's LIA, and its gates reopen after the winner's
//! refractory period, so in a long read window every neuron with some drive fires in turn.
//! The winner hold (`LiaParams.hold: UntilReset`, a latch behind each comparator cleared by
//! the rest's reset line) makes the first fire decide; each inference trial reads its noisy
//! stimulus in several such races (`inference.races`), each ending at the first output fire
//! (`until_output_fire`) as training ends at a fire, and counts their votes.
//!
//! **An output device for its operating point.** Reads stay below the 1.5 V SET threshold
//! (1.45 V), where an output neuron sees ~1.06 V for one phase per partner spike; the
//! hidden layer's device would need its partner to spike faster than ~170 Hz, so the output
//! layer has a device with four times the ion drive (`ts_output.ron`), which fires on the
//! second partner spike.
//!
//! Each of these is switched off alone by `reproduce ablation` (`ablation_steps`); the
//! literal reading is `topologies/experiments/fig5_literal.ron`.

use super::msnn::{winner, Levels, Msnn};
use super::{ExperimentReport, RunOptions};
use anyhow::{bail, Context, Result};
use devices::params::{load_ron, Validate, Validator};
use devices::variability::key;
use devices::Variability;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use runtime::exec::reference::Simulation;
use runtime::topology::rules::MAX_VOLTS;
use runtime::topology::schema::{Inhibition, Patterns};
use runtime::topology::{build, load, LayerIds, SavedWeights};
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

/// Write and read voltages (see [`Levels`]).
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

/// Stream tag of the inference's noise pixels.
const TAG_NOISE: u64 = 0x4e01;

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

/// The network of a protocol, ready to train.
pub struct Setup {
    /// The running network.
    pub msnn: Msnn,
    /// Pattern names and pixels, in file order.
    pub patterns: Vec<(String, Vec<bool>)>,
    /// Pattern grid (rows, columns).
    pub dims: (usize, usize),
    /// Name of the topology.
    pub topology: String,
    /// Every layer's ids, by name (to save the trained conductances).
    pub layers: std::collections::BTreeMap<String, LayerIds>,
    /// Draw progress bars for training and inference (default true; off for runs made in
    /// parallel).
    pub show_progress: bool,
}

impl Setup {
    /// The conductances of every layer now, as a weights file that a topology layer
    /// restores with `initial: Saved(..)`.
    pub fn saved_weights(&self, seed: u64) -> SavedWeights {
        let sim = &self.msnn.sim;
        SavedWeights::capture(&self.topology, seed, &sim.net, sim.now(), &self.layers)
    }
}

/// Builds the network named by `proto` (protocol file at `proto_path`), with `patterns`
/// overriding the topology's pattern file and `neurons` overriding the neurons' TS
/// randomness (the ablation).
pub fn setup(
    proto: &Fig5Protocol,
    proto_path: &Path,
    opts: &RunOptions,
    neurons: Option<Variability>,
) -> Result<Setup> {
    setup_edited(proto, proto_path, opts, neurons, &|_| {})
}

/// [`setup`] with the topology changed by `edit` before it is built (the ablation's
/// variants: another device set or LIA, named as in a topology file).
pub fn setup_edited(
    proto: &Fig5Protocol,
    proto_path: &Path,
    opts: &RunOptions,
    neurons: Option<Variability>,
    edit: &dyn Fn(&mut runtime::topology::schema::Topology),
) -> Result<Setup> {
    let base = proto_path.parent().unwrap_or(Path::new("."));
    let topo_path = base.join(&proto.topology);
    let checked = load(&topo_path)
        .with_context(|| format!("loading {}", topo_path.display()))?
        .edit(|t| {
            edit(t);
            t.variability = opts.variability;
            // The experiment reads counters, not probes: recording for thousands of
            // presentations would only fill memory.
            t.probes.clear();
            if let Some(v) = neurons {
                t.neuron_variability = Some(v);
            }
        })?;
    let patterns: Patterns = match &opts.patterns {
        Some(p) => load_ron(p)?,
        None => checked
            .patterns()
            .cloned()
            .context("the topology names no pattern file: pass --patterns FILE")?,
    };
    let built = build(&checked, opts.seed)?;
    let input = *built
        .inputs
        .values()
        .next()
        .context("the topology has no input generator")?;
    let hidden_spec = checked
        .topology()
        .layers
        .iter()
        .find(|l| l.inhibition == Inhibition::Lia)
        .context("the topology has no layer with an LIA (the winner-take-all hidden layer)")?;
    let output_spec = checked
        .topology()
        .layers
        .iter()
        .find(|l| matches!(l.inhibition, Inhibition::Supervised(_)))
        .context("the topology has no supervised layer (gate driver)")?;
    let hidden = built.layers[&hidden_spec.name].clone();
    let output = built.layers[&output_spec.name].clone();
    let lines = checked
        .topology()
        .input(&checked.topology().inputs[0].name)
        .map_or(0, |i| i.lines as usize);
    let items: Vec<(String, Vec<bool>)> = patterns
        .items
        .iter()
        .map(|p| (p.name.clone(), patterns.get(&p.name).unwrap_or_default()))
        .collect();
    if let Some((name, px)) = items.iter().find(|(_, px)| px.len() != lines) {
        bail!(
            "pattern `{name}` has {} pixels but the input has {lines} lines",
            px.len()
        );
    }
    if items.len() > output.neurons.len() {
        bail!(
            "{} patterns but only {} output neurons: each pattern needs its own output neuron",
            items.len(),
            output.neurons.len()
        );
    }
    let layers = built.layers.clone();
    let sim = Simulation::new(built.builder.build());
    let l = &proto.levels;
    let msnn = Msnn {
        sim,
        input,
        hidden,
        output,
        levels: Levels {
            input_write_volts: l.input_write_volts,
            spike_write_volts: l.spike_write_volts,
            read_volts: l.read_volts,
            gate_on_volts: l.gate_on_volts,
        },
        rest_cycles: proto.rest_cycles,
    };
    Ok(Setup {
        msnn,
        patterns: items,
        dims: (patterns.height as usize, patterns.width as usize),
        topology: checked.topology().name.clone(),
        layers,
        show_progress: true,
    })
}

/// What layer-1 training did.
#[derive(Clone, Debug, Default)]
pub struct Layer1Log {
    /// Per epoch, per pattern (file order): the neurons that fired.
    pub winners: Vec<Vec<Vec<usize>>>,
    /// The neuron followed for the weight-evolution plot (first winner of pattern 1).
    pub followed: Option<usize>,
    /// Its conductances (siemens) after each of its fire events.
    pub evolution: Vec<Vec<f64>>,
    /// Presentations that ended without a fire.
    pub timeouts: usize,
    /// Every presentation in order: (pattern index, neurons that fired).
    pub sequence: Vec<(usize, Vec<usize>)>,
    /// Per presentation, per neuron: the node-1 level the pattern gives before the
    /// presentation (write amplitude × conductance-weighted fraction of active inputs), volts.
    pub drive_volts: Vec<Vec<f64>>,
}

/// Node-1 level of each column for `pixels` pulsing at `volts` (the conductance-weighted
/// mean of the input lines; the neuron's own load is negligible against the column).
pub fn drive_levels(weights: &[Vec<f64>], pixels: &[bool], volts: f64) -> Vec<f64> {
    weights
        .iter()
        .map(|w| {
            let total: f64 = w.iter().sum();
            let on: f64 = w
                .iter()
                .zip(pixels)
                .filter(|(_, &b)| b)
                .map(|(g, _)| g)
                .sum();
            if total > 0.0 {
                volts * on / total
            } else {
                0.0
            }
        })
        .collect()
}

fn progress(len: u64, what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>18} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Trains layer 1 without supervision (write mode on the hidden layer).
pub fn train_layer1(s: &mut Setup, p: &Layer1, seed: u64) -> Layer1Log {
    let m = &mut s.msnn;
    let hidden = m.hidden.clone();
    m.set_input_amplitude(m.levels.input_write_volts);
    m.set_learning(&hidden, true);
    let mut rng = ChaCha8Rng::seed_from_u64(key(seed, &[0x1a1]));
    let mut log = Layer1Log::default();
    let n = s.patterns.len();
    let pb = progress(
        p.epochs as u64 * n as u64 * p.presentations_per_pattern.max(1) as u64,
        "layer 1 (WTA)",
        s.show_progress,
    );
    let follow_pattern = 1.min(n - 1);
    for _ in 0..p.epochs {
        let mut order: Vec<usize> = (0..n).collect();
        if p.shuffle {
            order.shuffle(&mut rng);
        }
        let mut epoch = vec![Vec::new(); n];
        for k in order
            .into_iter()
            .flat_map(|k| std::iter::repeat_n(k, p.presentations_per_pattern.max(1) as usize))
        {
            log.drive_volts.push(drive_levels(
                &m.weights(&hidden),
                &s.patterns[k].1,
                m.levels.input_write_volts as f64,
            ));
            let r = if p.pulse_trials {
                m.present_in_pulse_trials(
                    &s.patterns[k].1,
                    &hidden,
                    p.fires_per_presentation,
                    p.max_cycles,
                )
            } else {
                m.present_until_fire(
                    &s.patterns[k].1,
                    0,
                    &hidden,
                    None,
                    p.fires_per_presentation,
                    p.max_cycles,
                )
            };
            if r.fired.is_empty() {
                log.timeouts += 1;
            }
            if k == follow_pattern && log.followed.is_none() {
                log.followed = r.fired.first().copied();
            }
            if let Some(f) = log.followed {
                if r.fired.contains(&f) && log.evolution.len() < 30 {
                    log.evolution.push(m.weights(&hidden)[f].clone());
                }
            }
            log.sequence.push((k, r.fired.clone()));
            epoch[k] = r.fired;
            pb.inc(1);
        }
        log.winners.push(epoch);
    }
    pb.finish_and_clear();
    log
}

/// Programs layer 1 as if training had given each pattern its own hidden neuron: column
/// `k` (for `k` below the number of patterns) gets `high_siemens` on pattern `k`'s pixels
/// and `low_siemens` elsewhere (the paper's ~980 µS LRS and ~40 µS HRS). A diagnostic: it
/// separates what layer 2 and the read scheme can do from what layer-1 learning does.
pub fn set_ideal_layer1(s: &mut Setup, high_siemens: f32, low_siemens: f32) {
    let columns = s.msnn.hidden.columns.clone();
    for (col, (_, px)) in columns.iter().zip(&s.patterns) {
        let g: Vec<f32> = px
            .iter()
            .map(|&b| if b { high_siemens } else { low_siemens })
            .collect();
        if let Some(c) = s
            .msnn
            .sim
            .net
            .get_mut::<runtime::components::column::Column>(*col)
        {
            c.set_conductances(&g);
        }
    }
}

/// What layer-2 training did.
#[derive(Clone, Debug, Default)]
pub struct Layer2Log {
    /// The hidden neuron selected for each pattern (highest rate in read mode).
    pub selected: Vec<Option<usize>>,
    /// Per epoch, per pattern: cycles until the target fired (`None`: never).
    pub cycles: Vec<Vec<Option<u64>>>,
}

/// Trains layer 2 as the paper did: for pattern `k`, the hidden neuron with the highest
/// rate (read mode) is selected; its input terminal in layer 2 is pulsed at the write
/// level, with output `k`'s gates at 3.0 V and the other gates grounded, until output `k`
/// fires. The selection reads each clean pattern `selection_reads` times as the inference
/// reads (`read`): by spike counts over windows, or, for race reads, by the votes of races
/// that end at the first hidden fire (layer 2 cannot fire yet).
pub fn train_layer2(s: &mut Setup, p: &Layer2, read: &Inference) -> Layer2Log {
    let n = s.patterns.len();
    let mut log = Layer2Log::default();
    {
        let m = &mut s.msnn;
        let hidden = m.hidden.clone();
        m.set_learning(&hidden, false);
        m.set_input_amplitude(m.levels.read_volts);
        m.set_spike_amplitude(&hidden, m.levels.read_volts);
    }
    for k in 0..n {
        let pixels = s.patterns[k].1.clone();
        let reads = p.selection_reads;
        let counts = if read.until_output_fire {
            // Races: layer 2 cannot fire yet, so each race ends at the first hidden fire
            // and votes for its winner (the neuron that wins most often has the highest
            // rate over many races).
            let hidden = s.msnn.hidden.clone();
            let mut votes = vec![0u64; hidden.neurons.len()];
            for _ in 0..reads.max(1) {
                let r = s
                    .msnn
                    .present_until_fire(&pixels, 0, &hidden, None, 1, read.window_cycles);
                if let [j] = r.fired[..] {
                    votes[j] += 1;
                }
            }
            votes
        } else {
            s.msnn
                .read(
                    &pixels,
                    reads.saturating_mul(read.races),
                    read.window_cycles,
                    false,
                    0,
                )
                .hidden
        };
        log.selected.push(winner(&counts));
    }
    let m = &mut s.msnn;
    let output = m.output.clone();
    m.set_learning(&output, true);
    let n_out = output.neurons.len();
    let pb = progress(
        p.epochs as u64 * n as u64,
        "layer 2 (gated)",
        s.show_progress,
    );
    for _ in 0..p.epochs {
        let mut epoch = Vec::new();
        for k in 0..n {
            let gates: Vec<f32> = (0..n_out)
                .map(|j| if j == k { m.levels.gate_on_volts } else { 0.0 })
                .collect();
            m.set_gates(&output, gates);
            let r = log.selected[k].and_then(|h| {
                m.pulse_line_until_fire(&output, h, m.levels.spike_write_volts, k, p.max_cycles)
            });
            epoch.push(r);
            pb.inc(1);
        }
        log.cycles.push(epoch);
    }
    pb.finish_and_clear();
    log
}

/// Spike counts of one inference presentation.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Noise pixels flipped.
    pub noise: u32,
    /// Trial index.
    pub trial: usize,
    /// Pattern index.
    pub pattern: usize,
    /// CLK periods the stimulus was presented (all its races).
    pub cycles: u64,
    /// Races read.
    pub races: u32,
    /// Hidden spike counts.
    pub hidden: Vec<u64>,
    /// Layer 1's votes ([`super::msnn::Reading::votes`]): races won, or spikes of a window
    /// read. The layer-1 read-out and labels use them.
    pub votes: Vec<u64>,
    /// Output spike counts.
    pub output: Vec<u64>,
}

/// `pixels` with `flips` of them (distinct, uniformly chosen) inverted, drawn from the
/// stream keyed by `seed` and `ids` (noise pixels).
pub fn with_noise(pixels: &[bool], flips: u32, seed: u64, ids: &[u64]) -> Vec<bool> {
    let mut px = pixels.to_vec();
    let k = (flips as usize).min(px.len());
    if k > 0 {
        let mut rng = ChaCha8Rng::seed_from_u64(key(seed, ids));
        for i in rand::seq::index::sample(&mut rng, px.len(), k) {
            px[i] = !px[i];
        }
    }
    px
}

/// Switches the whole network to read mode and presents every pattern with noise: each
/// trial draws its noisy stimulus (keyed by `seed`, noise level, trial and pattern) and
/// reads it `p.races` times ([`Msnn::read`]).
pub fn infer(s: &mut Setup, p: &Inference, noise: &[u32], trials: usize, seed: u64) -> Vec<Trial> {
    let m = &mut s.msnn;
    let (hidden, output) = (m.hidden.clone(), m.output.clone());
    m.set_learning(&hidden, false);
    m.set_learning(&output, false);
    m.set_input_amplitude(m.levels.read_volts);
    m.set_spike_amplitude(&hidden, m.levels.read_volts);
    let n_out = output.neurons.len();
    m.set_gates(&output, vec![m.levels.gate_on_volts; n_out]);
    let n = s.patterns.len();
    let mut out = Vec::new();
    let pb = progress(
        (noise.len() * trials * n) as u64,
        "inference",
        s.show_progress,
    );
    for &k in noise {
        for trial in 0..trials {
            for pat in 0..n {
                let ids = [TAG_NOISE, k as u64, trial as u64, pat as u64];
                let stimulus = with_noise(&s.patterns[pat].1, k, seed, &ids);
                let r = m.read(
                    &stimulus,
                    p.races,
                    p.window_cycles,
                    p.until_output_fire,
                    p.lead_votes,
                );
                out.push(Trial {
                    noise: k,
                    trial,
                    pattern: pat,
                    cycles: r.cycles,
                    races: r.races,
                    hidden: r.hidden,
                    votes: r.votes,
                    output: r.output,
                });
                pb.inc(1);
            }
        }
    }
    pb.finish_and_clear();
    out
}

/// Share of the trials at one noise level for which `ok` holds (NaN without trials).
fn share(trials: &[Trial], noise: u32, ok: impl Fn(&Trial) -> bool) -> f64 {
    let sel: Vec<&Trial> = trials.iter().filter(|t| t.noise == noise).collect();
    if sel.is_empty() {
        return f64::NAN;
    }
    sel.iter().filter(|t| ok(t)).count() as f64 / sel.len() as f64
}

/// Accuracy (argmax of output spikes = pattern index) over the trials at one noise level.
pub fn accuracy(trials: &[Trial], noise: u32) -> f64 {
    share(trials, noise, |t| winner(&t.output) == Some(t.pattern))
}

/// Patterns recognised at one noise level: those whose most frequent prediction over their
/// trials (the output neuron with most spikes, ties and silence counting as wrong) is their
/// own output neuron — "10/10" when every pattern is.
pub fn patterns_recognised(trials: &[Trial], noise: u32, n_patterns: usize) -> usize {
    (0..n_patterns)
        .filter(|&k| {
            let mut votes = std::collections::BTreeMap::<Option<usize>, usize>::new();
            for t in trials.iter().filter(|t| t.noise == noise && t.pattern == k) {
                *votes.entry(winner(&t.output)).or_default() += 1;
            }
            let best = votes.values().copied().max().unwrap_or(0);
            best > 0 && votes.get(&Some(k)) == Some(&best) && {
                votes.values().filter(|&&v| v == best).count() == 1
            }
        })
        .count()
}

/// Mean layer-1 votes per race, per pattern (rows) and neuron (columns) at one noise level:
/// the share of its races each neuron won (or its spikes per window for window reads).
/// Per race, because a trial that stops once its answer is clear takes more races for a
/// hard pattern than for an easy one.
pub fn votes(trials: &[Trial], noise: u32, n_patterns: usize) -> Vec<Vec<f64>> {
    let sel: Vec<&Trial> = trials.iter().filter(|t| t.noise == noise).collect();
    let width = sel.first().map_or(0, |t| t.votes.len());
    let mut m = vec![vec![0.0; width]; n_patterns];
    let mut n = vec![0usize; n_patterns];
    for t in sel {
        let races = f64::from(t.races.max(1));
        for (j, &x) in t.votes.iter().enumerate() {
            m[t.pattern][j] += x as f64 / races;
        }
        n[t.pattern] += 1;
    }
    for (row, &k) in m.iter_mut().zip(&n) {
        row.iter_mut().for_each(|x| *x /= k.max(1) as f64);
    }
    m
}

/// Each hidden neuron's label: the pattern it fires most for in `hidden_rates` (rows:
/// patterns, columns: neurons, as [`rates`] gives them); `None` for a neuron that never
/// fires.
pub fn hidden_labels(hidden_rates: &[Vec<f64>]) -> Vec<Option<usize>> {
    let width = hidden_rates.first().map_or(0, Vec::len);
    (0..width)
        .map(|j| {
            let column: Vec<f64> = hidden_rates.iter().map(|row| row[j]).collect();
            let best = (0..column.len()).max_by(|&a, &b| column[a].total_cmp(&column[b]))?;
            (column[best] > 0.0).then_some(best)
        })
        .collect()
}

/// Accuracy of reading layer 1 alone at one noise level: a presentation counts when the
/// label (see [`hidden_labels`]) of its most active hidden neuron is its pattern. With
/// labels taken from the clean presentations themselves it bounds what any readout of the
/// hidden winner could do, which separates layer-1 losses from read-path losses.
pub fn hidden_readout_accuracy(trials: &[Trial], noise: u32, labels: &[Option<usize>]) -> f64 {
    share(trials, noise, |t| {
        winner(&t.votes).and_then(|j| labels.get(j).copied().flatten()) == Some(t.pattern)
    })
}

/// Mean spike rate (Hz) per pattern (rows) and neuron (columns) at one noise level: each
/// trial's spikes over the time its stimulus was presented (`period_s` per CLK period).
pub fn rates(
    trials: &[Trial],
    noise: u32,
    n_patterns: usize,
    hidden: bool,
    period_s: f64,
) -> Vec<Vec<f64>> {
    let sel: Vec<&Trial> = trials.iter().filter(|t| t.noise == noise).collect();
    let width = sel.first().map_or(0, |t| {
        if hidden {
            t.hidden.len()
        } else {
            t.output.len()
        }
    });
    let mut m = vec![vec![0.0; width]; n_patterns];
    let mut n = vec![0usize; n_patterns];
    for t in sel {
        let c = if hidden { &t.hidden } else { &t.output };
        let seconds = t.cycles.max(1) as f64 * period_s;
        for (j, &x) in c.iter().enumerate() {
            m[t.pattern][j] += x as f64 / seconds;
        }
        n[t.pattern] += 1;
    }
    for (row, &k) in m.iter_mut().zip(&n) {
        row.iter_mut().for_each(|x| *x /= k.max(1) as f64);
    }
    m
}

/// Each pattern's winner by node-1 level: the hidden neuron whose column gives the pattern
/// the highest conductance-weighted level ([`drive_levels`]) — who wins the race in
/// expectation, whatever the read-out. `None` for an all-zero column set.
pub fn level_winners(weights: &[Vec<f64>], patterns: &[(String, Vec<bool>)]) -> Vec<Option<usize>> {
    patterns
        .iter()
        .map(|(_, px)| {
            let v = drive_levels(weights, px, 1.0);
            (0..v.len())
                .max_by(|&a, &b| v[a].total_cmp(&v[b]))
                .filter(|&j| v[j] > 0.0)
        })
        .collect()
}

/// Distinct neurons among `winners`.
pub fn distinct(winners: &[Option<usize>]) -> usize {
    let mut w: Vec<usize> = winners.iter().flatten().copied().collect();
    w.sort_unstable();
    w.dedup();
    w.len()
}

/// Distinct hidden neurons that win (largest mean rate) the patterns.
pub fn distinct_winners(hidden_rates: &[Vec<f64>]) -> usize {
    let mut w: Vec<usize> = hidden_rates
        .iter()
        .filter_map(|row| {
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            (max > 0.0).then(|| row.iter().position(|&x| x == max).unwrap_or(0))
        })
        .collect();
    w.sort_unstable();
    w.dedup();
    w.len()
}

/// Loads the protocol.
pub fn load_protocol(path: &Path) -> Result<Fig5Protocol> {
    Ok(load_ron(path)?)
}

/// `memsnn reproduce fig5`.
pub fn fig5(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    super::fig5_report::run_fig5(opts, out)
}

/// `memsnn reproduce ablation`.
pub fn ablation(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    super::fig5_report::run_ablation(opts, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(pattern: usize, hidden: &[u64]) -> Trial {
        Trial {
            noise: 0,
            trial: 0,
            pattern,
            cycles: 1,
            races: 1,
            hidden: hidden.to_vec(),
            votes: hidden.to_vec(),
            output: vec![0; 2],
        }
    }

    #[test]
    fn layer1_readout_labels_neurons_by_their_best_pattern() {
        // Neuron 0 answers pattern 0, neuron 1 pattern 1, neuron 2 never fires.
        let rates = vec![vec![10.0, 2.0, 0.0], vec![1.0, 5.0, 0.0]];
        let labels = hidden_labels(&rates);
        assert_eq!(labels, vec![Some(0), Some(1), None]);
        let trials = [
            trial(0, &[3, 1, 0]), // right: neuron 0 wins
            trial(1, &[0, 2, 0]), // right: neuron 1 wins
            trial(1, &[4, 1, 0]), // wrong: neuron 0 wins a pattern-1 presentation
            trial(0, &[0, 0, 0]), // wrong: nothing fired
        ];
        assert_eq!(hidden_readout_accuracy(&trials, 0, &labels), 0.5);
        assert!(hidden_readout_accuracy(&trials, 1, &labels).is_nan());
    }
}
