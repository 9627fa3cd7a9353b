//! The Fig 5 experiment's outputs: data.csv (one row per inference presentation),
//! weights.csv, the trained conductances (trained.ron), weight maps, the weight evolution of
//! one hidden neuron, firing-rate heatmaps, confusion matrices and summary.json.

use super::infer::{
    accuracy, distinct, distinct_winners, hidden_labels, hidden_readout_accuracy, infer_measured,
    inference_noise, level_winners, median_latency_us, patterns_recognised, rates, votes, Trial,
};
use super::setup::{setup_variant, Variant};
use super::train::{train_first_layer, train_layer2};
use crate::energy::{LOIHI_JOULES_PER_SYNAPTIC_EVENT, TRUENORTH_JOULES_PER_SYNAPTIC_EVENT};
use crate::experiments::msnn::winner;
use crate::experiments::{ExperimentReport, RunOptions};
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_heatmaps, render_panels, Heatmap, Panel, Series, SeriesKind};
use crate::report::{percent, Summary};
use anyhow::Result;
use runtime::circuits::neuron::Neuron;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Pattern geometry for weight maps: (height, width) if the pixel count matches the
/// pattern file's grid, else one row.
pub(super) fn grid(pixels: usize, dims: Option<(usize, usize)>) -> (usize, usize) {
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

pub(super) fn weight_maps(title: &str, weights: &[Vec<f64>], dims: (usize, usize)) -> Vec<Heatmap> {
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

/// `memsnn reproduce fig5`.
pub fn fig5(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let (s, proto) = setup_variant(opts, &Variant::AS_GIVEN, true)?;
    // Refuse noise levels the inference could not apply before training, not after it.
    inference_noise(opts, &proto, &s)?;
    let mut t = train_first_layer(s, &proto.layer1, opts.seed);
    let s = &mut t.setup;
    let output = s.msnn.output.clone();
    let w2_before = s.msnn.weights(&output);
    let l2 = train_layer2(s, &proto.layer2, &proto.inference);
    let w2_after = s.msnn.weights(&output);
    let trained = s.saved_weights(opts.seed);
    let noise = inference_noise(opts, &proto, s)?;
    // `--trials` can lower the protocol's inference trials, never raise them silently.
    let trials = opts.trials.clamp(1, proto.inference.trials.max(1));
    let (res, cost) = infer_measured(s, &proto.inference, &noise, trials, opts.seed);
    let latency_us = median_latency_us(&res);
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
    Summary::new("fig5")
        .with("seed", opts.seed)
        .with("patterns", &names)
        .with("trials_per_pattern", trials)
        .with("window_cycles", proto.inference.window_cycles)
        .with("clean_accuracy", clean)
        .with("noisy_accuracy", noisy)
        .with("patterns_recognised", recognised)
        .with("races_per_trial", proto.inference.races)
        .with("energy_joules_per_inference", cost.joules_per_inference())
        .with(
            "energy_joules_per_synaptic_event",
            cost.energy.joules_per_synaptic_event,
        )
        .with("energy_inference", &cost.energy)
        .with("synaptic_events_per_inference", cost.energy.synaptic_events as f64 / cost.inferences.max(1) as f64)
        .with("latency_us", latency_us)
        .with(
            "energy_reference_joules_per_synaptic_event",
            json!({"truenorth": TRUENORTH_JOULES_PER_SYNAPTIC_EVENT, "loihi": LOIHI_JOULES_PER_SYNAPTIC_EVENT}),
        )
        .with("layer1_distinct_winners", winners1)
        .with("layer1_distinct_winners_by_level", winners1_level)
        .with("layer1_level_winners", &by_level)
        .with("hidden_labels", &labels)
        .with("hidden_readout_accuracy", &hidden_readout)
        .with(
            "confusion",
            confusions.get("0").cloned().unwrap_or(Value::Null),
        )
        .with("confusion_by_noise", confusions)
        .with("layer1_training_winners", &t.l1.winners)
        .with("layer1_timeouts", t.l1.timeouts)
        .with("layer1_sequence", &t.l1.sequence)
        .with("layer1_drive_volts", &t.l1.drive_volts)
        .with("layer1_followed_neuron", t.l1.followed)
        .with("hidden_ts_devices", hidden_devices)
        .with("layer1_followed_weights_siemens", &t.l1.evolution)
        .with("layer2_selected_hidden", &l2.selected)
        .with("layer2_cycles_to_fire", &l2.cycles)
        .with("hidden_rates_hz_clean", &h_rates0)
        .with("layer1_votes_clean", &v0)
        .with(
            "output_rates_hz_clean",
            rates(&res, 0, n_pat, false, period_s),
        )
        .write(&dir)?;

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

    let dir = dir.commit()?;
    let mut report = ExperimentReport::new("fig5", &dir)
        .row(
            "patterns recognised (most frequent output), clean",
            "10/10",
            format!("{}/{n_pat}", patterns_recognised(&res, 0, n_pat)),
        )
        .row(
            "layer-2 recognition, clean patterns",
            "10/10",
            percent(clean, 1),
        )
        .row(
            "distinct layer-1 winners (stochastic neurons)",
            "~8–10",
            winners1.to_string(),
        )
        .row(
            "distinct layer-1 winners by node-1 level (after training)",
            "~8–10",
            winners1_level.to_string(),
        )
        .row(
            "layer 1 alone: winner's label, clean (diagnostic)",
            "—",
            hidden_readout
                .get("0")
                .and_then(Value::as_f64)
                .map_or("—".into(), |a| percent(a, 1)),
        );
    for &k in noise.iter().filter(|&&k| k > 0) {
        report.push(
            format!("recognition with {k} noise pixels"),
            if k == 2 { "≥ 90 %" } else { "clear" },
            percent(accuracy(&res, k), 1),
        );
    }
    report.push(
        "energy per synaptic event (inference)",
        "TrueNorth 26 pJ, Loihi ~24 pJ",
        format!("{:.2e} J", cost.energy.joules_per_synaptic_event),
    );
    report.push(
        "energy per inference; median latency to the first output fire",
        "—",
        format!(
            "{:.2e} J; {}",
            cost.joules_per_inference(),
            latency_us.map_or("—".into(), |l| format!("{l:.0} µs"))
        ),
    );
    Ok(report)
}

fn scale(m: &[Vec<f64>], k: f64) -> Vec<Vec<f64>> {
    m.iter()
        .map(|r| r.iter().map(|x| x * k).collect())
        .collect()
}
