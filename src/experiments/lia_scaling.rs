//! Circuit extension *hierarchical LIA*: comparator margin against layer size, flat
//! against hierarchical (`memsnn reproduce lia-scaling`).
//!
//! For n = 8 … 2048 neurons, the worst-case comparator margin (volts; over all columns,
//! all single-winner cases and Monte Carlo draws of the cells' device-to-device spread and
//! the comparators' offsets, with the run's variability) of:
//!
//! * the paper's flat array with its fixed 50 mV reference;
//! * the flat array with the reference re-chosen for n (`v_ref: Auto`);
//! * the hierarchical LIA of `topologies/devices/lia_hierarchical.ron` (groups of at most
//!   16 rows, the paper's 50 mV reference), and the same with groups of 32 for comparison.
//!
//! Every design draws the same number of trials at a given n, `max(1, CELL_BUDGET / n²)`
//! capped by `--trials` (a flat draw costs n² cells; summary.json says how many ran). The
//! hierarchical designs also carry their 5-sigma spread bound
//! (`LiaDesign::spread_margin_bound_volts`, the smallest over the tree's arrays).
//!
//! Outputs: `data.csv` (one row per n and design), `summary.json` and `lia_scaling.png`
//! (margin against log2 n, linear and log scale).

use super::RunOptions;
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_panels, Panel, Series, SeriesKind};
use crate::report::{or_none, ExperimentReport, Summary};
use anyhow::Result;
use devices::lia::{scaling_margins, HierarchicalLia, Hierarchy, LiaParams, Margins};
use devices::variability::key;
use devices::DeviceSet;
use serde_json::{json, Value};
use std::path::Path;

/// Layer sizes of the sweep.
pub const SCALING_N: [usize; 12] = [8, 16, 32, 64, 100, 128, 256, 400, 512, 1024, 1600, 2048];
/// Group size shown next to the shipped file's, for comparison.
pub const ALT_GROUP: usize = 32;
/// Flat cell draws per n across all trials (as fig4).
const CELL_BUDGET: usize = 1 << 23;
/// Standard deviations of the spread bound.
const K_SIGMA: f64 = 5.0;
const TAG: u64 = 0x11a5;

/// The designs of the sweep, in CSV order.
const DESIGNS: [&str; 4] = [
    "flat_fixed_vref",
    "flat_rechosen_vref",
    "hierarchical",
    "hierarchical_alt",
];

/// Worst margins of the four designs at one n.
struct Point {
    n: usize,
    trials: usize,
    worst: [Margins; 4],
    /// Levels, arrays and cells of the two hierarchical designs.
    tree: [(usize, usize, usize); 2],
    bound: [f64; 2],
}

fn margins_json(m: &Margins) -> Value {
    json!({
        "quiet_v": m.quiet_volts,
        "winner_v": m.winner_volts,
        "loser_v": m.loser_volts,
        "worst_v": m.worst_volts(),
        "after_offset_v": m.after_offset_volts,
    })
}

/// Trials run at size `n` for `requested` trials.
pub fn trials_for(n: usize, requested: usize) -> usize {
    requested.max(1).min((CELL_BUDGET / (n * n)).max(1))
}

/// The margin sweep, flat against hierarchical.
pub fn lia_scaling(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let set = DeviceSet::builtin();
    let (rs, cmp) = (&set.synapse, &set.comparator);
    let params = LiaParams::builtin_hierarchical();
    let Hierarchy::Groups { size } = params.hierarchy else {
        anyhow::bail!("lia_hierarchical.ron must have `hierarchy: Groups(size: ..)`");
    };
    let need = cmp.required_margin_volts;
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let mut sweep = Vec::new();
    for &n in &SCALING_N {
        let trials = trials_for(n, opts.trials);
        let mut worst = [Margins {
            quiet_volts: f64::INFINITY,
            winner_volts: f64::INFINITY,
            loser_volts: f64::INFINITY,
            after_offset_volts: f64::INFINITY,
        }; 4];
        let mut tree = [(0, 0, 0); 2];
        for t in 0..trials {
            let seed = key(opts.seed, &[TAG, n as u64, t as u64]);
            let p = scaling_margins(&params, size, n, rs, cmp, opts.variability, seed, threads)?;
            let alt = HierarchicalLia::new(&params, ALT_GROUP, n, rs, cmp, opts.variability, seed)?;
            let ms = [p.flat, p.flat_auto, p.hierarchical, alt.margins()];
            for (w, m) in worst.iter_mut().zip(&ms) {
                w.quiet_volts = w.quiet_volts.min(m.quiet_volts);
                w.winner_volts = w.winner_volts.min(m.winner_volts);
                w.loser_volts = w.loser_volts.min(m.loser_volts);
                w.after_offset_volts = w.after_offset_volts.min(m.after_offset_volts);
            }
            let cells = alt.arrays().map(|a| a.n() * (a.n() + 1)).sum();
            tree = [
                (p.depth, p.arrays, p.hierarchical_cells),
                (alt.depth(), alt.arrays().count(), cells),
            ];
        }
        let bound = [size, ALT_GROUP].map(|s| {
            HierarchicalLia::new(&params, s, n, rs, cmp, devices::Variability::NONE, 0)
                .map(|h| h.spread_margin_bound_volts(rs, cmp, K_SIGMA))
                .unwrap_or(f64::NAN)
        });
        sweep.push(Point {
            n,
            trials,
            worst,
            tree,
            bound,
        });
    }
    let max_n = |k: usize| {
        sweep
            .iter()
            .filter(|p| p.worst[k].worst_volts() > need && p.worst[k].after_offset_volts > 0.0)
            .map(|p| p.n)
            .max()
    };

    // data.csv
    let dir = ExperimentDir::create(out, "lia-scaling")?;
    let header = [
        "n",
        "design",
        "group_size",
        "trials",
        "levels",
        "arrays",
        "cells",
        "quiet_margin_v",
        "winner_margin_v",
        "loser_margin_v",
        "worst_margin_v",
        "after_offset_v",
        "spread_bound_v",
    ];
    let mut rows = Vec::new();
    for p in &sweep {
        for (k, name) in DESIGNS.iter().enumerate() {
            let m = &p.worst[k];
            let (group, tree, bound) = match k {
                0 | 1 => (String::new(), (1, 1, p.n * (p.n + 1)), String::new()),
                2 => (size.to_string(), p.tree[0], fmt_f(p.bound[0], 6)),
                _ => (ALT_GROUP.to_string(), p.tree[1], fmt_f(p.bound[1], 6)),
            };
            rows.push(vec![
                p.n.to_string(),
                name.to_string(),
                group,
                p.trials.to_string(),
                tree.0.to_string(),
                tree.1.to_string(),
                tree.2.to_string(),
                fmt_f(m.quiet_volts, 6),
                fmt_f(m.winner_volts, 6),
                fmt_f(m.loser_volts, 6),
                fmt_f(m.worst_volts(), 6),
                fmt_f(m.after_offset_volts, 6),
                bound,
            ]);
        }
    }
    dir.write_csv("data.csv", &header, &rows)?;

    // summary.json
    let sweep_json: Vec<Value> = sweep
        .iter()
        .map(|p| {
            let mut o = json!({ "n": p.n, "trials": p.trials });
            for (k, name) in DESIGNS.iter().enumerate() {
                o[*name] = margins_json(&p.worst[k]);
            }
            o["hierarchical"]["levels"] = json!(p.tree[0].0);
            o["hierarchical"]["arrays"] = json!(p.tree[0].1);
            o["hierarchical"]["spread_bound_v"] = json!(p.bound[0]);
            o["hierarchical_alt"]["levels"] = json!(p.tree[1].0);
            o["hierarchical_alt"]["spread_bound_v"] = json!(p.bound[1]);
            o
        })
        .collect();
    let ok_n: Vec<Value> = DESIGNS
        .iter()
        .enumerate()
        .map(|(k, name)| json!({ "design": name, "max_n": max_n(k) }))
        .collect();
    Summary::new("lia-scaling")
        .with("seed", opts.seed)
        .with(
            "variability",
            json!({
                "cycle_to_cycle": opts.variability.cycle_to_cycle,
                "device_to_device": opts.variability.device_to_device,
            }),
        )
        .with("group_size", size)
        .with("alt_group_size", ALT_GROUP)
        .with("required_margin_v", need)
        .with("comparator_offset_sigma_v", cmp.offset_sigma_volts)
        .with("spread_bound_k_sigma", K_SIGMA)
        .with(
            "margin",
            "worst over all columns (all arrays of a hierarchy), all single-winner cases \
             and all trials of the input difference at the comparator; after_offset_v is \
             the slack left after the drawn comparator offsets",
        )
        .with("max_n_with_margin", ok_n)
        .with("sweep", sweep_json)
        .with("trials_requested", opts.trials)
        .with(
            "trials_cap",
            format!("trials per n = min(trials, max(1, {CELL_BUDGET} / n^2))"),
        )
        .write(&dir)?;

    // Figure.
    let series = |k: usize, name: String| Series {
        name,
        points: sweep
            .iter()
            .map(|p| ((p.n as f64).log2(), p.worst[k].worst_volts() * 1e3))
            .collect(),
        kind: SeriesKind::LinePoints,
    };
    let all = || {
        vec![
            series(0, "flat, V_ref = 50 mV".into()),
            series(1, "flat, V_ref re-chosen per n".into()),
            series(2, format!("hierarchical, groups of {size}")),
            series(3, format!("hierarchical, groups of {ALT_GROUP}")),
        ]
    };
    let bound = Series {
        name: format!("{K_SIGMA}-sigma spread bound, groups of {size}"),
        points: sweep
            .iter()
            .map(|p| ((p.n as f64).log2(), p.bound[0] * 1e3))
            .collect(),
        kind: SeriesKind::Line,
    };
    let mut log_series = all();
    log_series.push(bound);
    let panels = [
        Panel {
            title: "LIA margin against n (spread and offsets on)".into(),
            x_label: "log2(n)".into(),
            y_label: "worst margin (mV)".into(),
            series: all(),
            hlines: vec![(need * 1e3, "required".into()), (0.0, String::new())],
            ..Panel::default()
        },
        Panel {
            title: "margin against n (log scale; ≤ 0 not shown)".into(),
            x_label: "log2(n)".into(),
            y_label: "worst margin (mV)".into(),
            series: log_series,
            log_y: true,
            hlines: vec![(need * 1e3, "required".into())],
            ..Panel::default()
        },
    ];
    render_panels(&dir.file("lia_scaling.png"), &panels, 2, (560, 400))?;

    let at = |n: usize, k: usize| {
        sweep
            .iter()
            .find(|p| p.n == n)
            .map_or("-".to_string(), |p| {
                format!("{} mV", fmt_f(p.worst[k].worst_volts() * 1e3, 2))
            })
    };
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("lia-scaling", &dir)
        .row(
            "largest n with margin, flat, V_ref = 50 mV",
            "thousands",
            or_none(max_n(0)),
        )
        .row(
            "largest n with margin, flat, re-chosen V_ref",
            "thousands",
            or_none(max_n(1)),
        )
        .row(
            format!("largest n with margin, hierarchical ({size})"),
            "thousands",
            or_none(max_n(2)),
        )
        .row("worst margin at n = 1600, flat (50 mV)", "-", at(1600, 0))
        .row(
            format!("worst margin at n = 1600, hierarchical ({size})"),
            "-",
            at(1600, 2),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lia_scaling_writes_its_outputs() {
        let out = std::env::temp_dir().join(format!("memsnn-liascale-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let opts = RunOptions {
            trials: 1,
            ..RunOptions::default()
        };
        let rep = lia_scaling(&opts, &out).unwrap();
        let text = std::fs::read_to_string(out.join("lia-scaling/summary.json")).unwrap();
        let s: Value = serde_json::from_str(&text).unwrap();
        let sweep = s["sweep"].as_array().unwrap();
        assert_eq!(sweep.len(), SCALING_N.len());
        let at1600 = sweep.iter().find(|p| p["n"] == 1600).unwrap();
        assert!(at1600["hierarchical"]["worst_v"].as_f64().unwrap() > 0.005);
        assert!(at1600["flat_fixed_vref"]["worst_v"].as_f64().unwrap() < 0.0);
        assert_eq!(s["max_n_with_margin"][2]["max_n"], 2048);
        for f in ["data.csv", "lia_scaling.png"] {
            assert!(out.join("lia-scaling").join(f).is_file(), "{f}");
        }
        assert_eq!(rep.rows[2].memsnn, "2048");
        std::fs::remove_dir_all(&out).unwrap();
    }
}
