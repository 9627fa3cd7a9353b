//! Two hybrid neurons in series (paper Supp. Fig 6): neuron A, driven by pulses, fires;
//! its identical 2.0 V spikes drive neuron B through one synapse, and B fires in turn —
//! the hybrid neuron's digital output stage lets spikes propagate through layers.
//! The network is `topologies/propagation.ron`.

use super::RunOptions;
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_panels, Panel, Series, SeriesKind};
use crate::report::{yes_no, ExperimentReport, Summary};
use anyhow::{Context, Result};
use runtime::model::topology::load;
use std::path::{Path, PathBuf};

/// Where the topology lives.
pub fn topology_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/propagation.ron")
}

/// `memsnn reproduce propagation`.
pub fn propagation(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let path = topology_path();
    let checked = load(&path).with_context(|| format!("loading {}", path.display()))?;
    let sim = crate::run::simulate(&checked, opts.seed)?;
    // Spike times per neuron from the probe CSV (`t_ns,component,kind,index,value`).
    let mut a = Vec::new();
    let mut b = Vec::new();
    for line in sim.probes_csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() == 5 && f[2] == "spike" {
            let t: f64 = f[0].parse::<f64>().unwrap_or(0.0) / 1e6;
            if f[1].starts_with("a.") {
                a.push(t);
            } else if f[1].starts_with("b.") {
                b.push(t);
            }
        }
    }
    let a_before_b = b.first().map(|&tb| a.iter().filter(|&&ta| ta < tb).count());
    let dir = ExperimentDir::create(out, "propagation")?;
    let mut rows: Vec<Vec<String>> = a.iter().map(|t| vec!["A".into(), fmt_f(*t, 6)]).collect();
    rows.extend(b.iter().map(|t| vec!["B".into(), fmt_f(*t, 6)]));
    dir.write_csv("data.csv", &["neuron", "spike_ms"], &rows)?;
    Summary::new("propagation")
        .with("a_spikes", a.len())
        .with("b_spikes", b.len())
        .with("a_spikes_before_first_b_spike", a_before_b)
        .with("propagates", !b.is_empty())
        .with("seed", opts.seed)
        .write(&dir)?;
    let raster = |ts: &[f64], y: f64| -> Vec<(f64, f64)> { ts.iter().map(|&t| (t, y)).collect() };
    render_panels(
        &dir.file("propagation.png"),
        &[Panel {
            title: "Supp. Fig 6: spikes of neuron A (pulsed input) and neuron B (driven by A)"
                .into(),
            x_label: "time (ms)".into(),
            y_label: "neuron (1 = A, 0 = B)".into(),
            series: vec![
                Series {
                    name: "A".into(),
                    points: raster(&a, 1.0),
                    kind: SeriesKind::Points,
                },
                Series {
                    name: "B".into(),
                    points: raster(&b, 0.0),
                    kind: SeriesKind::Points,
                },
            ],
            y_range: Some((-0.5, 1.5)),
            ..Panel::default()
        }],
        1,
        (900, 300),
    )?;
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("propagation", &dir).row(
        "neuron B fires from neuron A's spikes (A, B spikes)",
        "yes",
        format!("{} ({}, {})", yes_no(!b.is_empty()), a.len(), b.len()),
    ))
}
