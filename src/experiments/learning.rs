//! In-situ learning of one neuron (paper Supp. Fig 3): two RS synapses from ~400 µS, pulses
//! on input 1 only. The neuron's own circuit potentiates S1 (T1 grounds node 1 while the
//! input pulses: +1.6 V across S1) and depresses S2 (T3 lifts node 1 during the firing
//! phase: −2 V across S2), so S1 goes to LRS, S2 to HRS, and the spike rate rises.
//!
//! The circuit is the topology file `topologies/learning.ron` (embedded at build time);
//! each trial builds it with its own root seed.
//!
//! Also the paper's Supp. Fig 6: a second neuron driven by the first one's spikes.

use super::fig3::SingleCircuit;
use super::single::{changes, times};
use super::stats::median;
use super::RunOptions;
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_panels, Panel, Series, SeriesKind};
use crate::report::{ExperimentReport, Summary};
use anyhow::Result;
use devices::variability::key;
use runtime::engine::probe::canonical_sort;
use runtime::engine::time::{MS, US};
use std::path::Path;

/// The learning circuit (`topologies/learning.ron`).
pub const LEARNING_TOPOLOGY: &str = include_str!("../../topologies/learning.ron");

/// Learning run length, ms.
const RUN_MS: u64 = 300;
/// Window for the first and last spike rates, ms.
const RATE_WINDOW_MS: u64 = 50;

/// Supp. Fig 3: conductances and spike rate during in-situ learning.
pub fn learning(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let trials = opts.trials.clamp(1, 20);
    let (mut s1, mut s2, mut first, mut last) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut example = None;
    let mut circuit = SingleCircuit::load(LEARNING_TOPOLOGY, "topologies/learning.ron", opts)?;
    circuit.set_run_us(RUN_MS * MS / US)?;
    for trial in 0..trials {
        let (mut sim, ids) = circuit.simulate(key(opts.seed, &[0x1ea, trial as u64]))?;
        let mut rec = sim.take_records();
        canonical_sort(&mut rec);
        let col: &runtime::circuits::column::Column = sim.net.get(ids.column).expect("column");
        s1.push(col.conductances()[0] as f64 * 1e6);
        s2.push(col.conductances()[1] as f64 * 1e6);
        let spikes = times(&rec, ids.neuron, "spike");
        let w = RATE_WINDOW_MS * MS;
        let count = |lo: u64, hi: u64| spikes.iter().filter(|&&t| t >= lo && t < hi).count() as f64;
        first.push(count(0, w) / (RATE_WINDOW_MS as f64 * 1e-3));
        last.push(count(RUN_MS * MS - w, RUN_MS * MS) / (RATE_WINDOW_MS as f64 * 1e-3));
        if trial == 0 {
            example = Some((rec, ids));
        }
    }
    let (rec, ids) = example.expect("at least one trial");
    let dir = ExperimentDir::create(out, "learning")?;
    let g = |i: u32| -> Vec<(f64, f64)> {
        rec.iter()
            .filter(|r| r.comp == ids.column && r.kind == "g" && r.index == i)
            .map(|r| (r.time as f64 / 1e6, r.value * 1e6))
            .collect()
    };
    let (g1, g2) = (g(0), g(1));
    let spikes = times(&rec, ids.neuron, "spike");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, pts) in [&g1, &g2].iter().enumerate() {
        for &(t, v) in pts.iter() {
            rows.push(vec![fmt_f(t, 6), format!("S{}", i + 1), fmt_f(v, 6)]);
        }
    }
    for &t in &spikes {
        rows.push(vec![fmt_f(t as f64 / 1e6, 6), "spike".into(), "1".into()]);
    }
    dir.write_csv("data.csv", &["t_ms", "signal", "value"], &rows)?;
    // Spike rate in 10 ms bins.
    let bins = (RUN_MS / 10) as usize;
    let mut rate = vec![0.0; bins];
    for &t in &spikes {
        let b = ((t / (10 * MS)) as usize).min(bins - 1);
        rate[b] += 100.0;
    }
    let rate_pts: Vec<(f64, f64)> = rate
        .iter()
        .enumerate()
        .map(|(i, &r)| (i as f64 * 10.0 + 5.0, r))
        .collect();
    let fires_trial0 = changes(&rec, ids.neuron, "l1")
        .iter()
        .filter(|x| x.1 == 1.0)
        .count();
    Summary::new("learning")
        .with("trials", trials)
        .with("run_ms", RUN_MS)
        .with("rate_window_ms", RATE_WINDOW_MS)
        .with("s1_final_us", median(&s1))
        .with("s2_final_us", median(&s2))
        .with("s1_final_us_per_trial", &s1)
        .with("s2_final_us_per_trial", &s2)
        .with("rate_first_hz", median(&first))
        .with("rate_last_hz", median(&last))
        .with("fires_trial0", fires_trial0)
        .with("seed", opts.seed)
        .write(&dir)?;
    render_panels(
        &dir.file("learning.png"),
        &[
            Panel {
                title: "Supp. Fig 3: in-situ learning (pulses on input 1 only)".into(),
                x_label: "time (ms)".into(),
                y_label: "conductance at 0.2 V (µS)".into(),
                series: vec![
                    Series {
                        name: "S1 (pulsed input)".into(),
                        points: g1,
                        kind: SeriesKind::Step,
                    },
                    Series {
                        name: "S2 (grounded input)".into(),
                        points: g2,
                        kind: SeriesKind::Step,
                    },
                ],
                hlines: vec![(980.0, "LRS ≈ 980 µS".into()), (42.0, "HRS ≈ 42 µS".into())],
                ..Panel::default()
            },
            Panel {
                title: "output spike rate".into(),
                x_label: "time (ms)".into(),
                y_label: "rate (Hz, 10 ms bins)".into(),
                series: vec![Series {
                    name: String::new(),
                    points: rate_pts,
                    kind: SeriesKind::Step,
                }],
                ..Panel::default()
            },
        ],
        1,
        (900, 340),
    )?;
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("learning", &dir)
        .row("S1 after learning (µS)", "~980", fmt_f(median(&s1), 4))
        .row("S2 after learning (µS)", "~42", fmt_f(median(&s2), 3))
        .row(
            "spike rate first → last 50 ms (Hz)",
            "rises",
            format!("{} → {}", fmt_f(median(&first), 3), fmt_f(median(&last), 3)),
        ))
}
