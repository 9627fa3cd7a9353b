//! `memsnn reproduce mnist`: data, network, training, labelling, test, and the outputs
//! (`summary.json`, CSVs, conductance maps, confusion matrix, accuracy curve).

use super::ideal::IdealRead;
use super::learn::{label_neurons, read, train, train_output};
use super::protocol::{default_data_dir, default_protocol_path, load_protocol, MnistProtocol};
use crate::data::coding::Coding;
use crate::data::idx::{Dataset, Split};
use crate::experiments::msnn::{DriveLevels, Msnn};
use crate::experiments::{ExperimentReport, RunOptions};
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_heatmaps, render_panels, Heatmap, Panel, Series};
use anyhow::{bail, Context, Result};
use devices::variability::key;
use runtime::engine::exec::Executor;
use runtime::engine::exec::ExecutorKind;
use runtime::model::topology::schema::Inhibition;
use runtime::model::topology::{build, load_named_by, Checked};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Options of the MNIST experiment (command line `--data`, `--neurons`, …); `None` takes
/// the protocol's or the data's value.
#[derive(Clone, Debug, Default)]
pub struct MnistOptions {
    /// Folder with the four IDX files (default: the shipped 300/100-digit fixture).
    pub data: Option<PathBuf>,
    /// Hidden neurons.
    pub neurons: Option<usize>,
    /// Training images used (the first K of the training split).
    pub train: Option<usize>,
    /// Test images used (the first K of the test split).
    pub test: Option<usize>,
    /// Passes over the training images.
    pub epochs: Option<u32>,
    /// Input coding replacing the protocol's.
    pub coding: Option<Coding>,
    /// Protocol file replacing `topologies/experiments/mnist.ron`.
    pub protocol: Option<PathBuf>,
    /// Executor (every executor gives the same result).
    pub executor: ExecutorKind,
    /// Worker threads of the sharded executor (arbiters of actix).
    pub workers: usize,
}

/// Everything loaded and checked before the network is built: nothing is written until
/// all of it is known to be good.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The protocol.
    pub proto: MnistProtocol,
    /// The training split.
    pub train: Dataset,
    /// The test split.
    pub test: Dataset,
    /// Training images used (the first of the split).
    pub n_train: usize,
    /// Test images used (the first of the split).
    pub n_test: usize,
    /// Classes (the largest label + 1).
    pub classes: usize,
    /// Hidden neurons.
    pub neurons: usize,
    /// Passes over the training images.
    pub epochs: u32,
    /// The topology, sized for the data and the layer.
    pub checked: Checked,
    /// Where the data came from.
    pub data_dir: PathBuf,
    /// The executor that runs the network.
    pub executor: ExecutorKind,
    /// Its worker threads.
    pub workers: usize,
}

/// Loads and checks the protocol, data and topology of `opts`.
pub fn load_inputs(opts: &RunOptions) -> Result<Inputs> {
    let m = &opts.mnist;
    let proto_path = m.protocol.clone().unwrap_or_else(default_protocol_path);
    let mut proto = load_protocol(&proto_path)?;
    if let Some(c) = m.coding {
        c.validate().map_err(anyhow::Error::msg)?;
        proto.coding = c;
    }
    let data_dir = m.data.clone().unwrap_or_else(default_data_dir);
    let train = Dataset::load(&data_dir, Split::Train)?;
    let test = Dataset::load(&data_dir, Split::Test)?;
    for (d, split) in [(&train, Split::Train), (&test, Split::Test)] {
        if d.is_empty() {
            bail!(
                "{}: the {split} split has no images; give a folder whose {split} files hold at least one",
                data_dir.display()
            );
        }
    }
    let lines = train.images.pixels_per_image();
    if test.images.pixels_per_image() != lines {
        bail!(
            "{}: training images have {lines} pixels but test images have {}; both splits must have the same image size",
            data_dir.display(),
            test.images.pixels_per_image()
        );
    }
    let pick = |k: Option<usize>, have: usize, what: &str| -> Result<usize> {
        match k {
            None => Ok(have),
            Some(0) => bail!("--{what} 0: use at least one image"),
            Some(k) if k > have => bail!(
                "--{what} {k}: the {what} split of {} has only {have} images",
                data_dir.display()
            ),
            Some(k) => Ok(k),
        }
    };
    let n_train = pick(m.train, train.len(), "train")?;
    let n_test = pick(m.test, test.len(), "test")?;
    let max_label = train.labels.0[..n_train]
        .iter()
        .chain(&test.labels.0[..n_test])
        .copied()
        .max()
        .unwrap_or(0);
    let classes = max_label as usize + 1;
    let neurons = m.neurons.unwrap_or(proto.neurons);
    if neurons == 0 {
        bail!("--neurons 0: the layer needs at least one neuron");
    }
    let epochs = m.epochs.unwrap_or(proto.epochs);
    if epochs == 0 {
        bail!("--epochs 0: train at least one pass");
    }
    let base = proto_path.parent().unwrap_or(Path::new("."));
    let topo_path = base.join(&proto.topology);
    let leak = proto.threshold_leak_seconds_per_neuron * neurons as f64;
    let loaded = load_named_by(&topo_path, &proto_path, "topology")?;
    // The leak is sized only where the layer's circuit has an adaptive threshold (a
    // circuit file without `homeostasis` is the paper's neuron: the extension off).
    let adaptive: Vec<bool> = {
        let d = loaded.devices();
        (0..loaded.topology().layers.len())
            .map(|l| {
                let own = d.layers.get(l).and_then(|(_, c)| c.as_ref());
                own.unwrap_or(&d.circuit).homeostasis.is_some()
            })
            .collect()
    };
    let checked = loaded
        .edit(|t| {
            t.variability = opts.variability;
            t.probes.clear();
            t.protocol.clear();
            if let Some(input) = t.inputs.first_mut() {
                input.lines = lines as u32;
            }
            for (i, l) in t.layers.iter_mut().enumerate() {
                match l.inhibition {
                    Inhibition::Lia => {
                        l.neurons = neurons as u32;
                        if adaptive[i] {
                            l.threshold_leak_seconds = Some(leak);
                        }
                    }
                    Inhibition::Supervised(_) => l.neurons = classes as u32,
                    Inhibition::None => {}
                }
            }
        })
        .with_context(|| format!("{} for {neurons} neurons", topo_path.display()))?;
    Ok(Inputs {
        proto,
        train,
        test,
        n_train,
        n_test,
        classes,
        neurons,
        epochs,
        checked,
        data_dir,
        executor: m.executor,
        workers: m.workers.max(1),
    })
}

/// The running network: the executor of `inp`'s options.
pub type Net = Msnn<Box<dyn Executor>>;

/// Builds the network of `checked` (untrained) on the executor the options name.
pub fn network(inp: &Inputs, checked: &Checked, seed: u64) -> Result<Net> {
    let topo = checked.topology();
    let find = |f: fn(&Inhibition) -> bool, what: &str| {
        topo.layers
            .iter()
            .find(|l| f(&l.inhibition))
            .map(|l| l.name.clone())
            .with_context(|| format!("the topology has no {what}"))
    };
    let hidden_name = find(|i| *i == Inhibition::Lia, "layer with an LIA")?;
    let output_name = find(
        |i| matches!(i, Inhibition::Supervised(_)),
        "supervised layer",
    )?;
    let built = build(checked, seed)?;
    let input = *built
        .inputs
        .values()
        .next()
        .context("the topology has no input generator")?;
    let hidden = built.layers[&hidden_name].clone();
    let output = built.layers[&output_name].clone();
    let levels = &inp.proto.levels;
    Ok(Msnn {
        sim: inp.executor.executor(built.builder.build(), inp.workers)?,
        input,
        hidden,
        output,
        levels: DriveLevels {
            input_write_volts: levels.input_write_volts as f32,
            read_volts: levels.read_volts as f32,
            // The paper's 2.0 V spikes and 3.0 V gate "1".
            ..DriveLevels::default()
        },
        rest_cycles: inp.proto.rest_cycles,
    })
}

/// Accuracy of `predicted` against `labels`.
fn accuracy(predicted: &[Option<u8>], labels: &[u8]) -> f64 {
    let right = predicted
        .iter()
        .zip(labels)
        .filter(|(p, y)| **p == Some(**y))
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// What one training and test run of a network gave.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Test accuracy of the label read-out (Diehl & Cook's).
    pub test_accuracy: f64,
    /// Test accuracy of the label read-out had each image been read in only its first
    /// `r` races, for `r = 1 ..= read_races` (the last is `test_accuracy`).
    pub accuracy_by_races: Vec<(u32, f64)>,
    /// Test accuracy of the supervised output layer.
    pub output_accuracy: f64,
    /// Test accuracy of the ideal read of the learned conductances ([`super::ideal`]):
    /// without thresholds, then with the held thresholds subtracted.
    pub ideal_accuracy: (f64, f64),
    /// Hidden neurons whose synapse onto their class's output neuron was set.
    pub wired: usize,
    /// Label read-out per test image.
    pub predicted: Vec<Option<u8>>,
    /// Rows: true class; columns: predicted class, then "none".
    pub confusion: Vec<Vec<u64>>,
    /// The class each hidden neuron was labelled with.
    pub labels: Vec<Option<u8>>,
    /// Training presentations each hidden neuron won.
    pub wins: Vec<u64>,
    /// Adaptive thresholds at the end of training, volts.
    pub thresholds: Vec<f64>,
    /// Hidden conductances at the end of training (row = column into neuron `j`), siemens.
    pub weights: Vec<Vec<f64>>,
    /// Online accuracy against training presentations.
    pub curve: Vec<(usize, f64)>,
    /// Wall time of training, seconds.
    pub train_seconds: f64,
    /// Training presentations.
    pub presentations: u64,
    /// Training presentations that no single neuron answered.
    pub unanswered: usize,
    /// Of those, the presentations in which several neurons fired in the same period.
    pub tied_training: u64,
    /// Test races run (all images).
    pub test_races: u64,
    /// Test races in which several hidden neurons fired in the same first period.
    pub tied_test_races: u64,
    /// Test races in which no hidden neuron fired.
    pub silent_test_races: u64,
    /// Mean CLK periods per training presentation.
    pub mean_cycles: f64,
    /// Synaptic events of training (input pulses × the synapses they reach).
    pub train_synaptic_events: u64,
    /// Synaptic events per test image (all its races).
    pub synaptic_events_per_inference: f64,
    /// Synapse read energy per test image, joules (see [`read_energy_joules`]).
    pub read_joules_per_inference: f64,
    /// CMOS (latch, gate) energy per test image, joules.
    pub cmos_joules_per_inference: f64,
    /// Energy of the synapses' programming during training, joules.
    pub write_joules_training: f64,
    /// Median time from a test image reaching the lines to the hidden layer's first fire
    /// (the answer), over every race, µs; to the end of the CLK period it falls in.
    pub latency_us: Option<f64>,
}

impl Evaluation {
    /// Energy per test image (synapse reads and CMOS transitions), joules.
    pub fn joules_per_inference(&self) -> f64 {
        self.read_joules_per_inference + self.cmos_joules_per_inference
    }

    /// Energy per synaptic event of inference, joules.
    pub fn joules_per_synaptic_event(&self) -> f64 {
        self.joules_per_inference() / self.synaptic_events_per_inference.max(1.0)
    }
}

/// Read energy of a layer's columns for one CLK-high phase of `t_high_s` seconds with the
/// lines `active` at `volts` and the others grounded, joules: each column's node 1 floats
/// at the conductance-weighted mean of its lines, and each synapse dissipates
/// `(V_line − V1)²·G·t` (the device energy model's read term). Columns whose gates are
/// closed after the first fire dissipate nothing; the caller counts open columns.
pub fn read_energy_joules(weights: &[f64], active: &[bool], volts: f64, t_high_s: f64) -> f64 {
    let (mut g_on, mut g_all) = (0.0, 0.0);
    for (g, &a) in weights.iter().zip(active) {
        g_all += g;
        if a {
            g_on += g;
        }
    }
    if g_all <= 0.0 {
        return 0.0;
    }
    let v1 = volts * g_on / g_all;
    // Σ_on G(V − V1)² + Σ_off G·V1².
    let p = g_on * (volts - v1).powi(2) + (g_all - g_on) * v1 * v1;
    p * t_high_s
}

/// Sum of the CMOS energy counters of `ids`, joules.
fn cmos_joules(m: &Net, ids: &[runtime::engine::event::CompId]) -> f64 {
    ids.iter()
        .filter_map(|&id| m.sim.network().get::<runtime::circuits::neuron::Neuron>(id))
        .map(|n| n.cmos_joules())
        .sum()
}

/// Sum of the programming energy counters of the columns `ids`, joules.
fn write_joules(m: &Net, ids: &[runtime::engine::event::CompId]) -> f64 {
    ids.iter()
        .filter_map(|&id| m.sim.network().get::<runtime::circuits::column::Column>(id))
        .map(|c| c.write_joules())
        .sum()
}

/// Trains the network of `checked` (the topology of `inp`, possibly with other device
/// statistics) with `seed`, labels its neurons, trains the output layer and tests.
pub fn evaluate(inp: &Inputs, checked: &Checked, seed: u64, show: bool) -> Result<Evaluation> {
    let mut m = network(inp, checked, seed)?;
    let proto = &inp.proto;
    let presentations = inp.n_train as u64 * inp.epochs as u64;
    let bar = |len: u64, what: &str| crate::experiments::progress(len, what, show);
    let all_neurons: Vec<_> = m
        .hidden
        .neurons
        .iter()
        .chain(&m.output.neurons)
        .copied()
        .collect();

    // Training.
    let t0 = Instant::now();
    let pb = bar(presentations, "train");
    let log = train(
        &mut m,
        proto,
        &inp.train,
        inp.n_train,
        inp.epochs,
        seed,
        &pb,
    )?;
    pb.finish_and_clear();
    let train_seconds = t0.elapsed().as_secs_f64();
    let write_joules_training = write_joules(&m, &m.hidden.columns.clone());
    let n_hidden = inp.neurons as u64;
    let train_synaptic_events: u64 = log
        .images
        .iter()
        .zip(&log.cycles)
        .map(|(&i, &c)| {
            // Expected pulses per period: the coding's probability per line.
            let image = inp.train.images.image(i);
            let per_period: f64 = image.iter().map(|&g| proto.coding.probability(g)).sum();
            (per_period * c as f64 * n_hidden as f64).round() as u64
        })
        .sum();
    let curve = online_curve(&log.winners, inp.neurons, inp.classes);

    // Labelling: a read of the training images with learning off.
    let pb = bar(inp.n_train as u64, "label");
    let label_reads = read(
        &mut m,
        proto,
        &inp.train,
        inp.n_train,
        1,
        seed,
        1,
        false,
        &pb,
    )?;
    pb.finish_and_clear();
    let answers: Vec<(Option<usize>, u8)> = label_reads
        .iter()
        .zip(&inp.train.labels.0)
        .map(|(o, &y)| (o.winner(), y))
        .collect();
    let labels = label_neurons(&answers, inp.neurons, inp.classes);

    // The supervised output layer, trained by gating on the labels.
    let wired = train_output(&mut m, &labels, proto.train_max_cycles)?;

    // Test: races through both layers; the hidden winner's label is the label read-out,
    // the first output neuron to fire the output layer's answer.
    let weights = m.weights(&m.hidden.clone());
    let cmos_before = cmos_joules(&m, &all_neurons);
    let pb = bar(inp.n_test as u64, "test");
    let test_reads = read(
        &mut m,
        proto,
        &inp.test,
        inp.n_test,
        proto.read_races,
        seed,
        2,
        true,
        &pb,
    )?;
    pb.finish_and_clear();
    let cmos_test = cmos_joules(&m, &all_neurons) - cmos_before;
    let t_high_s = m.sim.network().clock.high_ns as f64 * 1e-9;
    let read_v = proto.levels.read_volts;
    let (mut read_j, mut events) = (0.0, 0.0);
    for (i, r) in test_reads.iter().enumerate() {
        let image = inp.test.images.image(i);
        // The lines of one period (binary: every period's; rate: the draw of the image's
        // first read period, a sample of the per-period energy).
        let active = proto
            .coding
            .pulses(image, key(seed, &[2, i as u64, 0]), 0, 0);
        let p_sum = active.iter().filter(|&&a| a).count() as f64;
        let all: f64 = weights
            .iter()
            .map(|w| read_energy_joules(w, &active, read_v, t_high_s))
            .sum();
        let winner = r.winner().map_or(0.0, |w| {
            read_energy_joules(&weights[w], &active, read_v, t_high_s)
        });
        // Every column until the first fire, then the winner's alone (the LIA's hold);
        // synaptic events likewise count pulses into synapses whose access transistor is
        // on (a gated-off cell passes no current).
        let after = (r.cycles - r.open_cycles) as f64;
        read_j += r.open_cycles as f64 * all + after * winner;
        let winner_cols = if r.winner().is_some() { 1.0 } else { 0.0 };
        events += p_sum * (r.open_cycles as f64 * n_hidden as f64 + after * winner_cols);
    }
    let n_test = inp.n_test.max(1) as f64;
    let predicted_output: Vec<Option<u8>> = test_reads
        .iter()
        .map(|o| o.output().map(|c| c as u8))
        .collect();
    let predicted: Vec<Option<u8>> = test_reads
        .iter()
        .map(|o| o.class(&labels, inp.classes))
        .collect();
    let y_test = &inp.test.labels.0[..inp.n_test];
    let mut confusion = vec![vec![0u64; inp.classes + 1]; inp.classes];
    for (p, &y) in predicted.iter().zip(y_test) {
        let col = p.map_or(inp.classes, |p| p as usize);
        confusion[y as usize][col] += 1;
    }
    let mut wins = vec![0u64; inp.neurons];
    for &(n, _) in &log.winners {
        if let Some(n) = n {
            wins[n] += 1;
        }
    }
    let hidden_neurons: Vec<&runtime::circuits::neuron::Neuron> = m
        .hidden
        .neurons
        .iter()
        .filter_map(|&id| m.sim.network().get::<runtime::circuits::neuron::Neuron>(id))
        .collect();
    let thresholds: Vec<f64> = hidden_neurons.iter().map(|n| n.threshold_volts()).collect();
    let load_siemens = hidden_neurons
        .first()
        .map_or(0.0, |n| n.circuit().g_node_leak_siemens);
    let ideal = IdealRead {
        weights: &weights,
        thresholds: &thresholds,
        load_siemens,
        read_volts: proto.levels.read_volts,
        coding: &proto.coding,
    };
    let ideal_at = |with_thresholds| {
        ideal.accuracy(
            &inp.train,
            inp.n_train,
            &inp.test,
            inp.n_test,
            inp.classes,
            with_thresholds,
        )
    };
    let ideal_accuracy = (ideal_at(false), ideal_at(true));
    let accuracy_by_races = (1..=proto.read_races.max(1))
        .map(|races| {
            let p: Vec<Option<u8>> = test_reads
                .iter()
                .map(|o| o.first_races(races as usize).class(&labels, inp.classes))
                .collect();
            (races, accuracy(&p, y_test))
        })
        .collect();
    Ok(Evaluation {
        test_accuracy: accuracy(&predicted, y_test),
        accuracy_by_races,
        ideal_accuracy,
        output_accuracy: accuracy(&predicted_output, y_test),
        wired,
        predicted,
        confusion,
        labels,
        wins,
        thresholds,
        weights,
        curve,
        train_seconds,
        presentations,
        unanswered: log.winners.iter().filter(|(w, _)| w.is_none()).count(),
        tied_training: log.tied,
        test_races: test_reads.iter().map(|r| r.race_winners.len() as u64).sum(),
        tied_test_races: test_reads.iter().map(|r| u64::from(r.tied_races)).sum(),
        silent_test_races: test_reads.iter().map(|r| u64::from(r.silent_races)).sum(),
        mean_cycles: log.cycles.iter().sum::<u64>() as f64 / log.cycles.len().max(1) as f64,
        train_synaptic_events,
        synaptic_events_per_inference: events / n_test,
        latency_us: {
            let mut c: Vec<u64> = test_reads
                .iter()
                .flat_map(|r| r.fire_cycles.iter().copied())
                .collect();
            c.sort_unstable();
            let period_us = m.sim.network().clock.period_ns as f64 * 1e-3;
            (!c.is_empty()).then(|| c[c.len() / 2] as f64 * period_us)
        },
        read_joules_per_inference: read_j / n_test,
        cmos_joules_per_inference: cmos_test / n_test,
        write_joules_training,
    })
}

use crate::energy::{
    LOIHI_JOULES_PER_SYNAPTIC_EVENT as LOIHI_J, TRUENORTH_JOULES_PER_SYNAPTIC_EVENT as TRUENORTH_J,
};

/// `memsnn reproduce mnist`.
pub fn mnist(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let inp = load_inputs(opts)?;
    let e = evaluate(&inp, &inp.checked, opts.seed, true)?;
    let dir = ExperimentDir::create(out, "mnist")?;
    let per_class: Vec<Option<f64>> = e
        .confusion
        .iter()
        .enumerate()
        .map(|(c, row)| {
            let n: u64 = row.iter().sum();
            (n > 0).then(|| row[c] as f64 / n as f64)
        })
        .collect();
    // What the read races cost: the learned conductances read ideally (no device scatter;
    // with and without the held thresholds), and why presentations and races gave no vote
    // (several neurons in one period, tied; none in the window, silent).
    let read_diagnostics = json!({
        "ideal_read_test_accuracy": e.ideal_accuracy.0,
        "ideal_read_test_accuracy_with_thresholds": e.ideal_accuracy.1,
        "training_presentations_tied": e.tied_training,
        "test_races": e.test_races,
        "test_races_tied": e.tied_test_races,
        "test_races_silent": e.silent_test_races,
    });
    let summary = json!({
        "experiment": "mnist",
        "seed": opts.seed,
        "data": inp.data_dir.display().to_string(),
        "neurons": inp.neurons,
        "inputs": inp.train.images.pixels_per_image(),
        "classes": inp.classes,
        "train_images": inp.n_train,
        "test_images": inp.n_test,
        "epochs": inp.epochs,
        "coding": format!("{:?}", inp.proto.coding),
        "read_races": inp.proto.read_races,
        "test_accuracy": e.test_accuracy,
        "test_accuracy_by_read_races": e
            .accuracy_by_races
            .iter()
            .map(|(r, a)| json!({"races": r, "test_accuracy": a}))
            .collect::<Vec<_>>(),
        "test_accuracy_output_layer": e.output_accuracy,
        "output_layer_synapses_wired": e.wired,
        "per_class_accuracy": per_class,
        "confusion": e.confusion,
        "train_seconds": e.train_seconds,
        "presentations": e.presentations,
        "presentations_per_s": e.presentations as f64 / e.train_seconds.max(1e-9),
        "synaptic_events": e.train_synaptic_events,
        "synaptic_events_per_s": e.train_synaptic_events as f64 / e.train_seconds.max(1e-9),
        "synaptic_events_per_inference": e.synaptic_events_per_inference,
        "energy_joules_per_inference": e.joules_per_inference(),
        "energy_read_joules_per_inference": e.read_joules_per_inference,
        "energy_cmos_joules_per_inference": e.cmos_joules_per_inference,
        "energy_joules_per_synaptic_event": e.joules_per_synaptic_event(),
        "latency_us": e.latency_us,
        "energy_write_joules_training": e.write_joules_training,
        "energy_reference_joules_per_synaptic_event": {"truenorth": TRUENORTH_J, "loihi": LOIHI_J},
        "neurons_used_in_training": e.wins.iter().filter(|&&w| w > 0).count(),
        "training_presentations_without_fire": e.unanswered,
        "read_diagnostics": read_diagnostics,
        "mean_cycles_per_training_presentation": e.mean_cycles,
        "neurons_labelled": e.labels.iter().filter(|l| l.is_some()).count(),
        "threshold_volts_mean": e.thresholds.iter().sum::<f64>() / e.thresholds.len().max(1) as f64,
        "accuracy_curve": e.curve.iter().map(|(n, a)| json!([n, a])).collect::<Vec<_>>(),
    });
    write_outputs(&dir, &inp, &e)?;
    dir.write_json("summary.json", &summary)?;
    let dir = dir.commit()?;
    let mut report = ExperimentReport::new("mnist", &dir);
    report.push(
        format!(
            "test accuracy, {}×{}",
            inp.train.images.pixels_per_image(),
            inp.neurons
        ),
        "D&C 2015: 82.9 % (100), 87.0 % (400)",
        format!("{:.1} %", 100.0 * e.test_accuracy),
    );
    report.push(
        "test accuracy, output layer trained by gating",
        "—",
        format!("{:.1} %", 100.0 * e.output_accuracy),
    );
    report.push(
        "energy per synaptic event (inference)",
        "TrueNorth 26 pJ, Loihi ~24 pJ",
        format!("{:.3e} J", e.joules_per_synaptic_event()),
    );
    Ok(report)
}

/// Accuracy against training presentations, measured online: the presentations are cut
/// into windows; each window's winners are labelled by the window before it (the classes
/// each neuron answered there) and scored on their own labels. A window is at least five
/// presentations per neuron, so that most neurons carry a label.
pub fn online_curve(
    winners: &[(Option<usize>, u8)],
    neurons: usize,
    classes: usize,
) -> Vec<(usize, f64)> {
    let n = winners.len();
    let window = (5 * neurons).max(n / 20).max(1).min(n.max(1));
    let mut curve = Vec::new();
    let mut start = window;
    while start < n {
        let end = (start + window).min(n);
        let labels = label_neurons(&winners[start - window..start], neurons, classes);
        let chunk = &winners[start..end];
        let pred: Vec<Option<u8>> = chunk
            .iter()
            .map(|(w, _)| w.and_then(|w| labels[w]))
            .collect();
        let ys: Vec<u8> = chunk.iter().map(|(_, y)| *y).collect();
        curve.push((end, accuracy(&pred, &ys)));
        start = end;
    }
    curve
}

/// The CSVs and PNGs of a run.
fn write_outputs(dir: &ExperimentDir, inp: &Inputs, r: &Evaluation) -> Result<()> {
    let label = |l: Option<u8>| l.map_or(String::new(), |l| l.to_string());
    let rows: Vec<Vec<String>> = (0..inp.neurons)
        .map(|j| {
            vec![
                j.to_string(),
                label(r.labels[j]),
                r.wins[j].to_string(),
                fmt_f(r.thresholds[j], 4),
                fmt_f(r.weights[j].iter().sum::<f64>() * 1e3, 4),
            ]
        })
        .collect();
    dir.write_csv(
        "neurons.csv",
        &[
            "neuron",
            "label",
            "training_wins",
            "threshold_volts",
            "column_sum_millisiemens",
        ],
        &rows,
    )?;
    let rows: Vec<Vec<String>> = r
        .predicted
        .iter()
        .zip(&inp.test.labels.0)
        .enumerate()
        .take(inp.n_test)
        .map(|(i, (p, y))| vec![i.to_string(), y.to_string(), label(*p)])
        .collect();
    dir.write_csv(
        "test_predictions.csv",
        &["image", "label", "predicted"],
        &rows,
    )?;
    let rows: Vec<Vec<String>> = r
        .curve
        .iter()
        .map(|(n, a)| vec![n.to_string(), fmt_f(*a, 4)])
        .collect();
    dir.write_csv(
        "accuracy_curve.csv",
        &["presentations", "online_accuracy"],
        &rows,
    )?;
    let rows: Vec<Vec<String>> = r
        .accuracy_by_races
        .iter()
        .map(|(n, a)| vec![n.to_string(), fmt_f(*a, 4)])
        .collect();
    dir.write_csv(
        "accuracy_by_races.csv",
        &["read_races", "test_accuracy"],
        &rows,
    )?;

    // Conductance maps: one tile per neuron, as Diehl & Cook's figure.
    let (h, w) = (inp.train.images.rows, inp.train.images.cols);
    let tiles_x = (inp.neurons as f64).sqrt().ceil() as usize;
    let tiles_y = inp.neurons.div_ceil(tiles_x);
    let mut mosaic = vec![vec![f64::NAN; tiles_x * (w + 1) - 1]; tiles_y * (h + 1) - 1];
    for (j, col) in r.weights.iter().enumerate() {
        let (ty, tx) = (j / tiles_x, j % tiles_x);
        for (p, g) in col.iter().enumerate().take(h * w) {
            mosaic[ty * (h + 1) + p / w][tx * (w + 1) + p % w] = g * 1e6;
        }
    }
    let cell = (1200 / mosaic[0].len().max(1)).clamp(1, 8) as u32;
    let n_rows = mosaic.len();
    let n_cols = mosaic[0].len();
    render_heatmaps(
        &dir.file("conductance_maps.png"),
        &[Heatmap {
            title: format!(
                "learned conductances, {} neurons ({} × {} pixels each)",
                inp.neurons, h, w
            ),
            data: mosaic,
            row_labels: vec![String::new(); n_rows],
            col_labels: vec![String::new(); n_cols],
            colorbar_label: "conductance (µS)".into(),
            ..Heatmap::default()
        }],
        1,
        cell,
    )?;

    let classes: Vec<String> = (0..inp.classes).map(|c| c.to_string()).collect();
    let mut cols = classes.clone();
    cols.push("none".into());
    render_heatmaps(
        &dir.file("confusion.png"),
        &[Heatmap {
            title: "test digits: true class (rows) against prediction".into(),
            x_label: "predicted".into(),
            y_label: "true class".into(),
            data: r
                .confusion
                .iter()
                .map(|row| row.iter().map(|&c| c as f64).collect())
                .collect(),
            row_labels: classes,
            col_labels: cols,
            colorbar_label: "test images".into(),
            annotate: true,
            ..Heatmap::default()
        }],
        1,
        36,
    )?;
    if !r.curve.is_empty() {
        render_panels(
            &dir.file("accuracy_curve.png"),
            &[Panel {
                title: "online accuracy while training".into(),
                x_label: "training presentations".into(),
                y_label: "accuracy".into(),
                series: vec![Series {
                    name: String::new(),
                    points: r.curve.iter().map(|&(n, a)| (n as f64, a)).collect(),
                    ..Series::default()
                }],
                y_range: Some((0.0, 1.0)),
                hlines: vec![(1.0 / inp.classes as f64, "chance".into())],
                ..Panel::default()
            }],
            1,
            (720, 420),
        )?;
    }
    Ok(())
}
