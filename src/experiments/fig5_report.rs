//! Output files of the Fig 5 experiment and of its ablation: CSV data, weight maps, weight
//! evolution, firing-rate heatmaps, confusion matrices, winner histograms, summary.json.

use super::fig5::{
    accuracy, default_protocol_path, distinct, distinct_winners, hidden_labels,
    hidden_readout_accuracy, infer, level_winners, load_protocol, rates, setup, train_layer1,
    train_layer2, Layer1Log, Setup, Trial,
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

/// Builds the network and trains layer 1; with `check_noise`, first refuses noise levels
/// the inference could not apply (before training, not after it).
fn train_first_layer(
    opts: &RunOptions,
    neurons: Option<Variability>,
    check_noise: bool,
) -> Result<(Trained, super::fig5::Fig5Protocol)> {
    let path = opts.protocol.clone().unwrap_or_else(default_protocol_path);
    let proto = load_protocol(&path)?;
    let mut s = setup(&proto, &path, opts, neurons)?;
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
    let (mut t, proto) = train_first_layer(opts, None, true)?;
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
    let window_s =
        proto.inference.window_cycles as f64 * s.msnn.sim.net.clock.period_ns as f64 * 1e-9;
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
    ];
    header.extend((0..n_hid).map(|j| format!("hidden{j}")));
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
            ];
            r.extend(t.hidden.iter().map(|x| x.to_string()));
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
    let mut confusions = Map::new();
    for &k in &noise {
        noisy.insert(k.to_string(), json!(accuracy(&res, k)));
        confusions.insert(k.to_string(), json!(confusion(&res, k, n_pat, n_out)));
    }
    let clean = accuracy(&res, 0);
    let h_rates0 = rates(&res, 0, n_pat, true, window_s);
    let winners1 = distinct_winners(&h_rates0);
    let by_level = level_winners(&t.w1_after, &s.patterns);
    let winners1_level = distinct(&by_level);
    let labels = hidden_labels(&h_rates0);
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
        "output_rates_hz_clean": rates(&res, 0, n_pat, false, window_s),
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
    let hr = rates(&res, shown, n_pat, true, window_s);
    let or = rates(&res, shown, n_pat, false, window_s);
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
    let hr = rates(&res, 0, n_pat, true, 1.0);
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

/// `memsnn reproduce ablation`: layer-1 clustering with and without neuron stochasticity.
pub fn run_ablation(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let deterministic = Variability {
        cycle_to_cycle: false,
        device_to_device: false,
    };
    let (mut st, proto) = train_first_layer(opts, None, false)?;
    let (mut dt, _) = train_first_layer(opts, Some(deterministic), false)?;
    let (h_s, w_s) = winner_histogram(&mut st.setup, opts, &proto.inference);
    let (h_d, w_d) = winner_histogram(&mut dt.setup, opts, &proto.inference);
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
    dir.write_json(
        "summary.json",
        &json!({
            "experiment": "ablation",
            "seed": opts.seed,
            "stochastic_distinct_winners": w_s,
            "deterministic_distinct_winners": w_d,
            "stochastic_patterns_won": h_s,
            "deterministic_patterns_won": h_d,
            "stochastic_training_winners": st.l1.winners,
            "deterministic_training_winners": dt.l1.winners,
            "stochastic_training_sequence": st.l1.sequence,
            "deterministic_training_sequence": dt.l1.sequence,
            "deterministic_neurons": "no cycle-to-cycle and no device-to-device randomness in the TS devices; synapses unchanged",
        }),
    )?;
    let cats: Vec<String> = (0..h_s.len()).map(|j| format!("n{j}")).collect();
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
    Ok(ExperimentReport {
        name: "ablation".into(),
        dir: dir.path().to_path_buf(),
        rows: vec![
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
        ],
    })
}
