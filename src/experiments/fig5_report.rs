//! Output files of the Fig 5 experiment and of its ablation: CSV data, weight maps, weight
//! evolution, firing-rate heatmaps, confusion matrices, winner histograms, summary.json.

use super::fig5::{
    accuracy, default_protocol_path, distinct, distinct_winners, hidden_labels,
    hidden_readout_accuracy, infer, level_winners, load_protocol, patterns_recognised, rates,
    setup_edited, train_layer1, train_layer2, votes, Layer1Log, Setup, Trial,
};
use super::msnn::winner;
use super::{ExperimentReport, RunOptions};
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{
    render_bars, render_heatmaps, render_panels, Bars, Heatmap, Panel, Series, SeriesKind,
};
use anyhow::{bail, Result};
use devices::Variability;
use runtime::components::neuron::Neuron;
use runtime::topology::schema::Inhibition;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Pattern geometry for weight maps: (height, width) if the pixel count matches the
/// pattern file's grid, else one row.
fn grid(pixels: usize, dims: Option<(usize, usize)>) -> (usize, usize) {
    match dims {
        Some((h, w)) if h * w == pixels => (h, w),
        _ => (1, pixels),
    }
}

fn as_map(w: &[f64], (h, wd): (usize, usize)) -> Vec<Vec<f64>> {
    (0..h)
        .map(|r| w[r * wd..(r + 1) * wd].iter().map(|g| g * 1e6).collect())
        .collect()
}

fn weight_maps(title: &str, weights: &[Vec<f64>], dims: (usize, usize)) -> Vec<Heatmap> {
    weights
        .iter()
        .enumerate()
        .map(|(j, w)| Heatmap {
            title: format!("{title} n{j}"),
            data: as_map(w, dims),
            range: Some((0.0, 1000.0)),
            colorbar_label: "µS".into(),
            ..Heatmap::default()
        })
        .collect()
}

fn matrix_map(
    title: &str,
    m: &[Vec<f64>],
    rows: &[String],
    x: &str,
    y: &str,
    unit: &str,
    range: Option<(f64, f64)>,
) -> Heatmap {
    Heatmap {
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        data: m.to_vec(),
        row_labels: rows.to_vec(),
        col_labels: (0..m.first().map_or(0, |r| r.len()))
            .map(|j| j.to_string())
            .collect(),
        range,
        colorbar_label: unit.into(),
        annotate: true,
    }
}

/// The confusion matrix (rows: pattern, columns: predicted output, last column "none").
fn confusion(trials: &[Trial], noise: u32, n_pat: usize, n_out: usize) -> Vec<Vec<u64>> {
    let mut c = vec![vec![0u64; n_out + 1]; n_pat];
    for t in trials.iter().filter(|t| t.noise == noise) {
        let col = winner(&t.output).unwrap_or(n_out);
        c[t.pattern][col] += 1;
    }
    c
}

struct Trained {
    setup: Setup,
    l1: Layer1Log,
    w1_before: Vec<Vec<f64>>,
    w1_after: Vec<Vec<f64>>,
}

/// One configuration of the experiment: the built-in (or `--protocol`) protocol and its
/// topology, changed as an ablation step says.
#[derive(Clone, Copy)]
struct Variant {
    /// Short name (summary.json, table).
    name: &'static str,
    /// What is switched off, in words.
    what: &'static str,
    /// Randomness of the neurons' TS devices (`None`: the topology's).
    neurons: Option<Variability>,
    /// Changes to the topology before it is built.
    topology: fn(&mut runtime::topology::schema::Topology),
    /// Changes to the protocol.
    protocol: fn(&mut super::fig5::Fig5Protocol),
}

impl Variant {
    /// The configuration as its files describe it.
    const AS_GIVEN: Variant = Variant {
        name: "working configuration",
        what: "nothing",
        neurons: None,
        topology: |_| {},
        protocol: |_| {},
    };
}

/// Builds the network of `variant` and trains layer 1; with `check_noise`, first refuses
/// noise levels the inference could not apply (before training, not after it).
fn train_first_layer(
    opts: &RunOptions,
    variant: &Variant,
    check_noise: bool,
    show_progress: bool,
) -> Result<(Trained, super::fig5::Fig5Protocol)> {
    let path = opts.protocol.clone().unwrap_or_else(default_protocol_path);
    let mut proto = load_protocol(&path)?;
    (variant.protocol)(&mut proto);
    let mut s = setup_edited(&proto, &path, opts, variant.neurons, &variant.topology)?;
    s.show_progress = show_progress;
    if check_noise {
        inference_noise(opts, &proto, &s)?;
    }
    let hidden = s.msnn.hidden.clone();
    let w1_before = s.msnn.weights(&hidden);
    let l1 = train_layer1(&mut s, &proto.layer1, opts.seed);
    let w1_after = s.msnn.weights(&hidden);
    Ok((
        Trained {
            setup: s,
            l1,
            w1_before,
            w1_after,
        },
        proto,
    ))
}

/// The noise levels of inference (`--noise-pixels`, else the protocol's), sorted, always
/// with the clean level 0 (the summary's accuracy and layer-1 winners are measured on
/// clean patterns); a level above the patterns' pixel count is an error.
fn inference_noise(
    opts: &RunOptions,
    proto: &super::fig5::Fig5Protocol,
    s: &Setup,
) -> Result<Vec<u32>> {
    let (mut noise, from) = match &opts.noise_pixels {
        Some(n) => (n.clone(), "--noise-pixels"),
        None => (
            proto.inference.noise_pixels.clone(),
            "the protocol's `inference.noise_pixels`",
        ),
    };
    let pixels = s.patterns.first().map_or(0, |(_, px)| px.len());
    if let Some(k) = noise.iter().find(|&&k| k as usize > pixels) {
        bail!(
            "{from}: {k} noise pixels, but the patterns have {pixels} pixels; \
             flip at most {pixels}"
        );
    }
    noise.push(0);
    noise.sort_unstable();
    noise.dedup();
    Ok(noise)
}

/// `memsnn reproduce fig5`.
pub fn run_fig5(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let (mut t, proto) = train_first_layer(opts, &Variant::AS_GIVEN, true, true)?;
    let s = &mut t.setup;
    let output = s.msnn.output.clone();
    let w2_before = s.msnn.weights(&output);
    let l2 = train_layer2(s, &proto.layer2, &proto.inference);
    let w2_after = s.msnn.weights(&output);
    let trained = s.saved_weights(opts.seed);
    let noise = inference_noise(opts, &proto, s)?;
    // `--trials` can lower the protocol's inference trials, never raise them silently.
    let trials = opts.trials.clamp(1, proto.inference.trials.max(1));
    let res = infer(s, &proto.inference, &noise, trials, opts.seed);
    let names: Vec<String> = s.patterns.iter().map(|(n, _)| n.clone()).collect();
    let n_pat = names.len();
    let n_out = output.neurons.len();
    let period_s = s.msnn.sim.net.clock.period_ns as f64 * 1e-9;
    let dims = grid(s.patterns[0].1.len(), Some(s.dims));

    let dir = ExperimentDir::create(out, "fig5")?;
    // The trained network's non-volatile state, for `initial: Saved("trained.ron")`.
    dir.write_text("trained.ron", &trained.to_ron()?)?;
    // data.csv: one row per inference presentation.
    let n_hid = s.msnn.hidden.neurons.len();
    let mut header: Vec<String> = vec![
        "noise_pixels".into(),
        "trial".into(),
        "pattern".into(),
        "predicted".into(),
        "cycles".into(),
    ];
    header.extend((0..n_hid).map(|j| format!("hidden{j}")));
    header.extend((0..n_hid).map(|j| format!("vote{j}")));
    header.extend((0..n_out).map(|j| format!("output{j}")));
    let rows: Vec<Vec<String>> = res
        .iter()
        .map(|t| {
            let mut r = vec![
                t.noise.to_string(),
                t.trial.to_string(),
                names[t.pattern].clone(),
                winner(&t.output).map_or("none".into(), |k| {
                    names.get(k).cloned().unwrap_or(k.to_string())
                }),
                t.cycles.to_string(),
            ];
            r.extend(t.hidden.iter().map(|x| x.to_string()));
            r.extend(t.votes.iter().map(|x| x.to_string()));
            r.extend(t.output.iter().map(|x| x.to_string()));
            r
        })
        .collect();
    let hdr: Vec<&str> = header.iter().map(|s| s.as_str()).collect();
    dir.write_csv("data.csv", &hdr, &rows)?;
    // weights.csv: layer, stage, neuron, synapse, siemens.
    let mut wrows = Vec::new();
    for (layer, stage, w) in [
        ("1", "before", &t.w1_before),
        ("1", "after", &t.w1_after),
        ("2", "before", &w2_before),
        ("2", "after", &w2_after),
    ] {
        for (j, col) in w.iter().enumerate() {
            for (i, g) in col.iter().enumerate() {
                wrows.push(vec![
                    layer.into(),
                    stage.into(),
                    j.to_string(),
                    i.to_string(),
                    fmt_f(*g, 6),
                ]);
            }
        }
    }
    dir.write_csv(
        "weights.csv",
        &["layer", "stage", "neuron", "synapse", "siemens"],
        &wrows,
    )?;

    let mut noisy = Map::new();
    let mut recognised = Map::new();
    let mut confusions = Map::new();
    for &k in &noise {
        noisy.insert(k.to_string(), json!(accuracy(&res, k)));
        recognised.insert(k.to_string(), json!(patterns_recognised(&res, k, n_pat)));
        confusions.insert(k.to_string(), json!(confusion(&res, k, n_pat, n_out)));
    }
    let clean = accuracy(&res, 0);
    let h_rates0 = rates(&res, 0, n_pat, true, period_s);
    let v0 = votes(&res, 0, n_pat);
    let winners1 = distinct_winners(&v0);
    let by_level = level_winners(&t.w1_after, &s.patterns);
    let winners1_level = distinct(&by_level);
    let labels = hidden_labels(&v0);
    let hidden_readout: Map<String, Value> = noise
        .iter()
        .map(|&k| {
            (
                k.to_string(),
                json!(hidden_readout_accuracy(&res, k, &labels)),
            )
        })
        .collect();
    // Each hidden neuron's own TS device (after fabrication spread): who is intrinsically
    // fast matters in every race.
    let hidden_devices: Vec<Value> = s
        .msnn
        .hidden
        .neurons
        .iter()
        .filter_map(|&id| s.msnn.sim.net.get::<Neuron>(id))
        .map(|n| {
            let r = n.ts().device_rates();
            json!({"mu0_per_s": r.mu0_per_s, "theta": r.theta, "gamma1_per_s": r.gamma1_per_s})
        })
        .collect();
    let summary = json!({
        "experiment": "fig5",
        "seed": opts.seed,
        "patterns": names,
        "trials_per_pattern": trials,
        "window_cycles": proto.inference.window_cycles,
        "clean_accuracy": clean,
        "noisy_accuracy": Value::Object(noisy),
        "patterns_recognised": Value::Object(recognised),
        "races_per_trial": proto.inference.races,
        "layer1_distinct_winners": winners1,
        "layer1_distinct_winners_by_level": winners1_level,
        "layer1_level_winners": by_level,
        "hidden_labels": labels,
        "hidden_readout_accuracy": Value::Object(hidden_readout.clone()),
        "confusion": confusions.get("0").cloned().unwrap_or(Value::Null),
        "confusion_by_noise": Value::Object(confusions),
        "layer1_training_winners": t.l1.winners,
        "layer1_timeouts": t.l1.timeouts,
        "layer1_sequence": t.l1.sequence,
        "layer1_drive_volts": t.l1.drive_volts,
        "layer1_followed_neuron": t.l1.followed,
        "hidden_ts_devices": hidden_devices,
        "layer1_followed_weights_siemens": t.l1.evolution,
        "layer2_selected_hidden": l2.selected,
        "layer2_cycles_to_fire": l2.cycles,
        "hidden_rates_hz_clean": h_rates0,
        "layer1_votes_clean": v0,
        "output_rates_hz_clean": rates(&res, 0, n_pat, false, period_s),
    });
    dir.write_json("summary.json", &summary)?;

    // Figures: weight maps (Fig 5d, f, h, j).
    let mut maps = weight_maps("L1 before", &t.w1_before, dims);
    maps.extend(weight_maps("L1 after", &t.w1_after, dims));
    render_heatmaps(
        &dir.file("weights_layer1.png"),
        &maps,
        t.w1_before.len().max(1),
        26,
    )?;
    let l2maps = [
        matrix_map(
            "Fig 5h: layer 2 before",
            &scale(&w2_before, 1e6),
            &(0..n_out).map(|j| format!("out{j}")).collect::<Vec<_>>(),
            "hidden neuron",
            "output neuron",
            "µS",
            Some((0.0, 1000.0)),
        ),
        matrix_map(
            "Fig 5j: layer 2 after",
            &scale(&w2_after, 1e6),
            &(0..n_out).map(|j| format!("out{j}")).collect::<Vec<_>>(),
            "hidden neuron",
            "output neuron",
            "µS",
            Some((0.0, 1000.0)),
        ),
    ];
    render_heatmaps(&dir.file("weights_layer2.png"), &l2maps, 2, 34)?;
    // Weight evolution of one neuron (Fig 5e).
    if let Some(f) = t.l1.followed {
        let pat = &s.patterns[1.min(n_pat - 1)].1;
        let mut series = Vec::new();
        let n_syn = t.l1.evolution.first().map_or(0, |w| w.len());
        for i in 0..n_syn {
            let pts: Vec<(f64, f64)> =
                t.l1.evolution
                    .iter()
                    .enumerate()
                    .map(|(e, w)| ((e + 1) as f64, w[i] * 1e6))
                    .collect();
            let on = pat.get(i).copied().unwrap_or(false);
            let first_of_kind = (0..i).all(|k| pat.get(k).copied().unwrap_or(false) != on);
            series.push(Series {
                name: if first_of_kind {
                    if on {
                        "pixel of the pattern".into()
                    } else {
                        "other pixel".into()
                    }
                } else {
                    String::new()
                },
                points: pts,
                kind: SeriesKind::LinePoints,
            });
        }
        // Colours: the palette is per series; order "on" pixels first for a clear legend.
        series.sort_by_key(|s| s.name.is_empty());
        render_panels(
            &dir.file("evolution.png"),
            &[Panel {
                title: format!(
                    "Fig 5e: weights of hidden neuron {f} over its firing events (pattern `{}`)",
                    names[1.min(n_pat - 1)]
                ),
                x_label: "firing event".into(),
                y_label: "conductance (µS)".into(),
                series,
                ..Panel::default()
            }],
            1,
            (900, 450),
        )?;
    }
    // Firing rates (Fig 5g, 5k) at the highest noise level up to 2, and confusion.
    let shown = *noise.iter().filter(|&&k| k <= 2).max().unwrap_or(&0);
    let hr = rates(&res, shown, n_pat, true, period_s);
    let or = rates(&res, shown, n_pat, false, period_s);
    render_heatmaps(
        &dir.file("rates.png"),
        &[
            matrix_map(
                &format!("Fig 5g: hidden rates, {shown} noise pixels"),
                &hr,
                &names,
                "hidden neuron",
                "input pattern",
                "Hz",
                None,
            ),
            matrix_map(
                &format!("Fig 5k: output rates, {shown} noise pixels"),
                &or,
                &names,
                "output neuron",
                "input pattern",
                "Hz",
                None,
            ),
        ],
        2,
        34,
    )?;
    let conf_maps: Vec<Heatmap> = noise
        .iter()
        .map(|&k| {
            let c = confusion(&res, k, n_pat, n_out);
            let m: Vec<Vec<f64>> = c
                .iter()
                .map(|r| r.iter().map(|&x| x as f64).collect())
                .collect();
            let mut h = matrix_map(
                &format!("{k} noise pixels: {:.1} %", 100.0 * accuracy(&res, k)),
                &m,
                &names,
                "predicted output (last: none)",
                "input pattern",
                "trials",
                None,
            );
            h.col_labels = (0..n_out)
                .map(|j| j.to_string())
                .chain(["-".to_string()])
                .collect();
            h
        })
        .collect();
    render_heatmaps(
        &dir.file("confusion.png"),
        &conf_maps,
        conf_maps.len().min(4),
        26,
    )?;

    let mut rows = vec![
        [
            "fig5".into(),
            "patterns recognised (most frequent output), clean".into(),
            "10/10".into(),
            format!("{}/{n_pat}", patterns_recognised(&res, 0, n_pat)),
        ],
        [
            "fig5".into(),
            "layer-2 recognition, clean patterns".into(),
            "10/10".into(),
            format!("{:.1} %", 100.0 * clean),
        ],
        [
            "fig5".into(),
            "distinct layer-1 winners (stochastic neurons)".into(),
            "~8–10".into(),
            winners1.to_string(),
        ],
        [
            "fig5".into(),
            "distinct layer-1 winners by node-1 level (after training)".into(),
            "~8–10".into(),
            winners1_level.to_string(),
        ],
        [
            "fig5".into(),
            "layer 1 alone: winner's label, clean (diagnostic)".into(),
            "—".into(),
            hidden_readout
                .get("0")
                .and_then(Value::as_f64)
                .map_or("—".into(), |a| format!("{:.1} %", 100.0 * a)),
        ],
    ];
    for &k in noise.iter().filter(|&&k| k > 0) {
        rows.push([
            "fig5".into(),
            format!("recognition with {k} noise pixels"),
            if k == 2 {
                "≥ 90 %".into()
            } else {
                "clear".into()
            },
            format!("{:.1} %", 100.0 * accuracy(&res, k)),
        ]);
    }
    Ok(ExperimentReport {
        name: "fig5".into(),
        dir: dir.path().to_path_buf(),
        rows,
    })
}

fn scale(m: &[Vec<f64>], k: f64) -> Vec<Vec<f64>> {
    m.iter()
        .map(|r| r.iter().map(|x| x * k).collect())
        .collect()
}

/// Winners per hidden neuron: how many patterns each neuron wins (clean, read mode).
fn winner_histogram(
    s: &mut Setup,
    opts: &RunOptions,
    read: &super::fig5::Inference,
) -> (Vec<usize>, usize) {
    let res = infer(s, read, &[0], opts.trials.clamp(1, 10), opts.seed);
    let n_pat = s.patterns.len();
    let hr = votes(&res, 0, n_pat);
    let mut hist = vec![0usize; s.msnn.hidden.neurons.len()];
    for row in &hr {
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        if max > 0.0 {
            if let Some(j) = row.iter().position(|&x| x == max) {
                hist[j] += 1;
            }
        }
    }
    (hist, distinct_winners(&hr))
}

/// The ablation steps: from the working configuration, each change beyond the paper read
/// literally switched off alone (the first row is the configuration itself).
const ABLATION_STEPS: [Variant; 7] = [
    Variant::AS_GIVEN,
    Variant {
        name: "threshold switching law",
        what: "hidden neurons switch at a per-cycle switching point (ts_neuron.ron) instead of by the hazard law",
        neurons: None,
        topology: |t| t.devices.ts = "builtin:ts_neuron".into(),
        protocol: |_| {},
    },
    Variant {
        name: "one training pass",
        what: "layer 1 trained in one pass of the blocks instead of the protocol's passes",
        neurons: None,
        topology: |_| {},
        protocol: |p| p.layer1.epochs = 1,
    },
    Variant {
        name: "blocks in file order",
        what: "every pass presents the blocks in the pattern file's order instead of a fresh random order",
        neurons: None,
        topology: |_| {},
        protocol: |p| p.layer1.shuffle = false,
    },
    Variant {
        name: "hidden device in layer 2",
        what: "the output layer uses the hidden layer's TS device instead of its own (ts_output.ron)",
        neurons: None,
        topology: |t| {
            for l in &mut t.layers {
                if matches!(l.inhibition, Inhibition::Supervised(_)) {
                    l.ts = None;
                }
            }
        },
        protocol: |_| {},
    },
    Variant {
        name: "no winner hold",
        what: "the paper's LIA (gates follow the comparators) instead of the winner hold",
        neurons: None,
        topology: |t| t.devices.lia = Some("builtin:lia".into()),
        protocol: |_| {},
    },
    Variant {
        name: "one read window",
        what: "each trial read in one 100 ms window of spike counts instead of races that end at the first output fire, until one output leads by the protocol's votes",
        neurons: None,
        topology: |_| {},
        protocol: |p| {
            p.inference.races = 1;
            p.inference.window_cycles = 200;
            p.inference.until_output_fire = false;
            p.inference.lead_votes = 0;
            p.layer2.selection_reads = 1;
        },
    },
];

/// Inference trials per pattern and noise level in each ablation step (at most).
const ABLATION_TRIALS: usize = 20;
/// Noise levels read in each ablation step.
const ABLATION_NOISE: [u32; 2] = [0, 2];

/// What one ablation step measured.
#[derive(Clone, Debug)]
struct StepResult {
    winners_by_rate: usize,
    winners_by_level: usize,
    hidden_readout: f64,
    clean: f64,
    noise2: f64,
    recognised: usize,
}

/// Trains and reads one ablation step (quietly: steps run in parallel).
fn ablation_step(opts: &RunOptions, v: &Variant) -> Result<StepResult> {
    let (mut t, proto) = train_first_layer(opts, v, false, false)?;
    let s = &mut t.setup;
    train_layer2(s, &proto.layer2, &proto.inference);
    let trials = opts
        .trials
        .clamp(1, ABLATION_TRIALS.min(proto.inference.trials.max(1)));
    let res = infer(s, &proto.inference, &ABLATION_NOISE, trials, opts.seed);
    let n_pat = s.patterns.len();
    let h0 = votes(&res, 0, n_pat);
    let labels = hidden_labels(&h0);
    Ok(StepResult {
        winners_by_rate: distinct_winners(&h0),
        winners_by_level: distinct(&level_winners(&t.w1_after, &s.patterns)),
        hidden_readout: hidden_readout_accuracy(&res, 0, &labels),
        clean: accuracy(&res, 0),
        noise2: accuracy(&res, 2),
        recognised: patterns_recognised(&res, 0, n_pat),
    })
}

/// Runs `jobs` on the machine's cores, results in job order.
fn in_parallel<T: Send>(jobs: Vec<Box<dyn FnOnce() -> T + Send + '_>>) -> Vec<T> {
    let n = jobs.len();
    let workers = std::thread::available_parallelism()
        .map_or(1, |w| w.get())
        .min(n.max(1));
    let queue = std::sync::Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>());
    let results = std::sync::Mutex::new((0..n).map(|_| None).collect::<Vec<Option<T>>>());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let job = queue.lock().expect("queue").pop();
                let Some((i, f)) = job else { break };
                let r = f();
                results.lock().expect("results")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}

/// `memsnn reproduce ablation`: layer-1 clustering with and without neuron stochasticity
/// (Supp. Fig 11), and each change of the working configuration switched off alone.
pub fn run_ablation(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let deterministic = Variability {
        cycle_to_cycle: false,
        device_to_device: false,
    };
    let det_variant = Variant {
        name: "deterministic neurons",
        what: "no cycle-to-cycle and no device-to-device randomness in the TS devices",
        neurons: Some(deterministic),
        ..Variant::AS_GIVEN
    };
    let pb = indicatif::ProgressBar::new(2 + ABLATION_STEPS.len() as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg:>18} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_message("ablation");
    type Histo = (Trained, Vec<usize>, usize);
    let histogram = |v: Variant| -> Result<Histo> {
        let (mut t, proto) = train_first_layer(opts, &v, false, false)?;
        let (h, w) = winner_histogram(&mut t.setup, opts, &proto.inference);
        pb.inc(1);
        Ok((t, h, w))
    };
    let mut jobs: Vec<Box<dyn FnOnce() -> Result<Job> + Send + '_>> = vec![
        Box::new(|| histogram(Variant::AS_GIVEN).map(|h| Job::Histogram(Box::new(h)))),
        Box::new(|| histogram(det_variant).map(|h| Job::Histogram(Box::new(h)))),
    ];
    for v in ABLATION_STEPS {
        let pb = &pb;
        jobs.push(Box::new(move || {
            let r = ablation_step(opts, &v).map(Job::Step);
            pb.inc(1);
            r
        }));
    }
    enum Job {
        Histogram(Box<Histo>),
        Step(StepResult),
    }
    let mut done = in_parallel(jobs).into_iter();
    pb.finish_and_clear();
    let (st, h_s, w_s) = match done.next() {
        Some(Ok(Job::Histogram(h))) => *h,
        Some(Err(e)) => return Err(e),
        _ => bail!("the stochastic network could not be trained"),
    };
    let (dt, h_d, w_d) = match done.next() {
        Some(Ok(Job::Histogram(h))) => *h,
        Some(Err(e)) => return Err(e),
        _ => bail!("the deterministic network could not be trained"),
    };
    let mut steps = Vec::new();
    for (v, r) in ABLATION_STEPS.iter().zip(done) {
        match r? {
            Job::Step(r) => steps.push((v, r)),
            Job::Histogram(_) => unreachable!("steps come after the histograms"),
        }
    }
    let dir = ExperimentDir::create(out, "ablation")?;
    let rows: Vec<Vec<String>> = h_s
        .iter()
        .zip(&h_d)
        .enumerate()
        .map(|(j, (a, b))| vec![j.to_string(), a.to_string(), b.to_string()])
        .collect();
    dir.write_csv(
        "data.csv",
        &[
            "hidden_neuron",
            "patterns_won_stochastic",
            "patterns_won_deterministic",
        ],
        &rows,
    )?;
    let step_rows: Vec<Vec<String>> = steps
        .iter()
        .map(|(v, r)| {
            vec![
                v.name.to_string(),
                r.winners_by_rate.to_string(),
                r.winners_by_level.to_string(),
                fmt_f(r.hidden_readout, 3),
                fmt_f(r.clean, 3),
                fmt_f(r.noise2, 3),
                r.recognised.to_string(),
            ]
        })
        .collect();
    dir.write_csv(
        "steps.csv",
        &[
            "switched_off",
            "layer1_distinct_winners",
            "layer1_distinct_winners_by_level",
            "hidden_readout_accuracy_clean",
            "clean_accuracy",
            "accuracy_2_noise_pixels",
            "patterns_recognised_clean",
        ],
        &step_rows,
    )?;
    let steps_json: Vec<Value> = steps
        .iter()
        .map(|(v, r)| {
            json!({
                "switched_off": v.name,
                "change": v.what,
                "layer1_distinct_winners": r.winners_by_rate,
                "layer1_distinct_winners_by_level": r.winners_by_level,
                "hidden_readout_accuracy_clean": r.hidden_readout,
                "clean_accuracy": r.clean,
                "accuracy_2_noise_pixels": r.noise2,
                "patterns_recognised_clean": r.recognised,
            })
        })
        .collect();
    let n_hid = h_s.len();
    dir.write_json(
        "summary.json",
        &json!({
            "experiment": "ablation",
            "seed": opts.seed,
            "stochastic_distinct_winners": w_s,
            "deterministic_distinct_winners": w_d,
            "stochastic_distinct_winners_by_level": distinct(&level_winners(&st.w1_after, &st.setup.patterns)),
            "deterministic_distinct_winners_by_level": distinct(&level_winners(&dt.w1_after, &dt.setup.patterns)),
            "stochastic_patterns_won": h_s,
            "deterministic_patterns_won": h_d,
            "stochastic_training_winners": st.l1.winners,
            "deterministic_training_winners": dt.l1.winners,
            "stochastic_training_sequence": st.l1.sequence,
            "deterministic_training_sequence": dt.l1.sequence,
            "deterministic_neurons": det_variant.what,
            "ablation_trials_per_pattern": opts.trials.clamp(1, ABLATION_TRIALS),
            "ablation_noise_pixels": ABLATION_NOISE,
            "ablation_steps": steps_json,
        }),
    )?;
    let cats: Vec<String> = (0..n_hid).map(|j| format!("n{j}")).collect();
    render_bars(
        &dir.file("winners_stochastic.png"),
        &Bars {
            title: format!("Supp. Fig 11: stochastic neurons — {w_s} distinct winners"),
            x_label: "hidden neuron".into(),
            y_label: "patterns won".into(),
            categories: cats.clone(),
            values: h_s.iter().map(|&x| x as f64).collect(),
        },
        (700, 400),
    )?;
    render_bars(
        &dir.file("winners_deterministic.png"),
        &Bars {
            title: format!("Supp. Fig 11: deterministic neurons — {w_d} distinct winners"),
            x_label: "hidden neuron".into(),
            y_label: "patterns won".into(),
            categories: cats,
            values: h_d.iter().map(|&x| x as f64).collect(),
        },
        (700, 400),
    )?;
    let dims = grid(
        st.w1_after.first().map_or(0, |w| w.len()),
        Some(st.setup.dims),
    );
    let mut maps = weight_maps("stochastic", &st.w1_after, dims);
    maps.extend(weight_maps("deterministic", &dt.w1_after, dims));
    render_heatmaps(
        &dir.file("weights.png"),
        &maps,
        st.w1_after.len().max(1),
        26,
    )?;
    let mut rows = vec![
        [
            "ablation".into(),
            "distinct layer-1 winners, stochastic neurons".into(),
            "clusters".into(),
            w_s.to_string(),
        ],
        [
            "ablation".into(),
            "distinct layer-1 winners, deterministic neurons".into(),
            "one greedy neuron".into(),
            w_d.to_string(),
        ],
    ];
    for (v, r) in &steps {
        rows.push([
            "ablation".into(),
            format!("{}: winners / L1 / L2 clean / 2 px", v.name),
            "—".into(),
            format!(
                "{} / {:.0} % / {:.0} % / {:.0} %",
                r.winners_by_level,
                100.0 * r.hidden_readout,
                100.0 * r.clean,
                100.0 * r.noise2
            ),
        ]);
    }
    Ok(ExperimentReport {
        name: "ablation".into(),
        dir: dir.path().to_path_buf(),
        rows,
    })
}
