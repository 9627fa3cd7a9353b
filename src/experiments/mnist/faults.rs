//! `memsnn reproduce mnist-faults`: accuracy of the MNIST layer against synapse faults and
//! device-to-device spread. Each point trains and tests the same network (same data, seed
//! and options as `reproduce mnist`) with the synapse parameter set changed:
//!
//! * a fraction of the 1T1R cells stuck at HRS (G_min) or at LRS (G_max) — 0, 5, 11 and
//!   20 %; 11 % unresponsive devices is a published figure for 1T1R arrays;
//! * the device-to-device spread of G_min, G_max and the nonlinearity scaled by 0, 1, 2
//!   and 4 times the synapse file's values.

use super::report::{evaluate, load_inputs};
use crate::experiments::{ExperimentReport, RunOptions};
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_panels, Panel, Series};
use anyhow::Result;
use serde_json::json;
use std::path::Path;

/// Stuck-device fractions of the sweep.
pub const STUCK_FRACTIONS: [f64; 4] = [0.0, 0.05, 0.11, 0.20];
/// Multiples of the synapse file's device-to-device spread.
pub const SPREAD_FACTORS: [f64; 4] = [0.0, 1.0, 2.0, 4.0];

/// `memsnn reproduce mnist-faults`.
pub fn mnist_faults(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let inp = load_inputs(opts)?;
    let points = (2 * STUCK_FRACTIONS.len() + SPREAD_FACTORS.len()) as u64;
    let pb = crate::experiments::progress(points, "fault sweep", true);
    // A point whose synapse set equals the file's is the network as given: trained once.
    let mut baseline: Option<f64> = None;
    let mut accuracy_of = |checked: &runtime::model::topology::Checked| -> Result<f64> {
        let same = checked.devices().synapse == inp.checked.devices().synapse;
        if let (true, Some(a)) = (same, baseline) {
            return Ok(a);
        }
        let a = evaluate(&inp, checked, opts.seed, false)?.test_accuracy;
        if same {
            baseline = Some(a);
        }
        Ok(a)
    };
    let mut rows = Vec::new();
    let mut curves: Vec<Series> = Vec::new();
    let mut results = Vec::new();
    for (kind, label) in [("stuck_hrs", "stuck at HRS"), ("stuck_lrs", "stuck at LRS")] {
        let mut points = Vec::new();
        for &f in &STUCK_FRACTIONS {
            let checked = inp.checked.with_synapse(|rs| match kind {
                "stuck_hrs" => rs.faults.stuck_hrs = f,
                _ => rs.faults.stuck_lrs = f,
            })?;
            let a = accuracy_of(&checked)?;
            pb.inc(1);
            points.push((100.0 * f, a));
            rows.push(vec![kind.to_string(), fmt_f(f, 2), fmt_f(a, 4)]);
            results.push(json!({"sweep": kind, "value": f, "test_accuracy": a}));
        }
        curves.push(Series {
            name: label.into(),
            points,
            ..Series::default()
        });
    }
    let mut spread_points = Vec::new();
    for &k in &SPREAD_FACTORS {
        let checked = inp.checked.with_synapse(|rs| {
            let d = &mut rs.device_to_device;
            d.g_min_cv *= k;
            d.g_max_cv *= k;
            d.nonlinearity_cv *= k;
        })?;
        let a = accuracy_of(&checked)?;
        pb.inc(1);
        spread_points.push((k, a));
        rows.push(vec!["spread".into(), fmt_f(k, 1), fmt_f(a, 4)]);
        results.push(json!({"sweep": "spread", "value": k, "test_accuracy": a}));
    }
    pb.finish_and_clear();

    let dir = ExperimentDir::create(out, "mnist-faults")?;
    dir.write_csv("data.csv", &["sweep", "value", "test_accuracy"], &rows)?;
    let chance = 1.0 / inp.classes as f64;
    render_panels(
        &dir.file("faults.png"),
        &[
            Panel {
                title: format!("stuck synapses, {} neurons", inp.neurons),
                x_label: "stuck devices (%)".into(),
                y_label: "test accuracy".into(),
                series: curves,
                y_range: Some((0.0, 1.0)),
                hlines: vec![(chance, "chance".into())],
                ..Panel::default()
            },
            Panel {
                title: "device-to-device spread".into(),
                x_label: "spread (× the synapse file's)".into(),
                y_label: "test accuracy".into(),
                series: vec![Series {
                    name: String::new(),
                    points: spread_points,
                    ..Series::default()
                }],
                y_range: Some((0.0, 1.0)),
                hlines: vec![(chance, "chance".into())],
                ..Panel::default()
            },
        ],
        2,
        (560, 400),
    )?;
    dir.write_json(
        "summary.json",
        &json!({
            "experiment": "mnist-faults",
            "seed": opts.seed,
            "neurons": inp.neurons,
            "train_images": inp.n_train,
            "test_images": inp.n_test,
            "epochs": inp.epochs,
            "points": results,
        }),
    )?;
    let dir = dir.commit()?;
    let mut report = ExperimentReport::new("mnist-faults", &dir);
    let at = |sweep: &str, v: f64| {
        results
            .iter()
            .find(|r| r["sweep"] == sweep && (r["value"].as_f64().unwrap_or(-1.0) - v).abs() < 1e-9)
            .and_then(|r| r["test_accuracy"].as_f64())
            .map_or("—".to_string(), |a| format!("{:.1} %", 100.0 * a))
    };
    report.push(
        "test accuracy, 11 % stuck at HRS / LRS",
        "—",
        format!("{} / {}", at("stuck_hrs", 0.11), at("stuck_lrs", 0.11)),
    );
    Ok(report)
}
