//! The paper's Fig 4: the lateral-inhibition array (LIA) and its scaling.
//!
//! * **Truth table** (Fig 4c/d) for n = 10: the array programmed by the rule of
//!   [`runtime::circuits::lia`] (diagonal HRS, off-diagonal LRS, bias and sense chosen to
//!   centre the levels on the paper's `V_ref` = 50 mV), drawn with the run's variability
//!   and seed; nobody firing must open every gate (3 V), one winner must open only its own.
//!   Two simultaneous winners are shown too (every gate closes).
//! * **Margin sweep** n = 10 … 4096: worst-case comparator margins over all columns and
//!   single-winner cases, and over Monte Carlo draws of the cells, for the paper's fixed
//!   `V_ref` and for `V_ref` re-chosen per n by the rule. A draw at n costs n² cell draws,
//!   so the trials per n are capped at `max(1, CELL_BUDGET / n²)` (summary.json says how
//!   many were run). Each draw is streamed column by column on all cores.
//!
//! Outputs: `data.csv` (truth table and sweep rows), `summary.json`, `fig4.png` (inputs,
//! comparator inputs and gates of the two paper conditions; margin against n) and
//! `fig4_conductance.png` (the programmed n = 10 array, paper Fig 4b: the plotting module
//! draws heatmaps and x/y panels into separate images).

use super::RunOptions;
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_heatmaps, render_panels, Heatmap, Panel, Series, SeriesKind};
use crate::report::{or_none, ExperimentReport, Summary};
use anyhow::Result;
use devices::lia::{sweep_margins, LiaArray, LiaDesign, LiaParams, Margins};
use devices::variability::key;
use devices::{DeviceSet, Variability};
use serde_json::{json, Value};
use std::path::Path;

/// Array sizes of the margin sweep.
pub const SWEEP_N: [usize; 10] = [10, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
/// Size of the truth-table array (the paper's).
const TRUTH_N: usize = 10;
/// Cell draws per n across all trials (one draw of an n-neuron array is n² cells).
const CELL_BUDGET: usize = 1 << 23;
const TAG: u64 = 0xf164;

/// One truth-table condition.
struct Condition {
    name: String,
    active: Vec<usize>,
    inputs: Vec<f64>,
    gates: Vec<f32>,
    ok: Option<bool>,
}

/// Worst margins of one design at one n.
struct SweepPoint {
    design: LiaDesign,
    worst: Margins,
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

fn design_json(d: &LiaDesign) -> Value {
    json!({
        "v_ref_v": d.v_ref_volts,
        "g_sense_s": d.g_sense_siemens,
        "g_bias_s": d.g_bias_siemens,
        "regime": d.regime.name(),
        "nominal": margins_json(&d.nominal_margins()),
    })
}

/// Trials run at size `n` for `requested` trials.
pub fn trials_for(n: usize, requested: usize) -> usize {
    requested.max(1).min((CELL_BUDGET / (n * n)).max(1))
}

/// Fig 4: LIA truth table for n = 10 and comparator margins against n.
pub fn fig4(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let set = DeviceSet::builtin();
    let (rs, cmp) = (&set.synapse, &set.comparator);
    let fixed = LiaParams::builtin();
    let auto = fixed.with_auto_reference();
    let need = cmp.required_margin_volts;

    // Truth table, n = 10, with the run's variability and seed.
    let design10 = fixed.design(rs, TRUTH_N)?;
    let array = LiaArray::new(&design10, rs, cmp, opts.variability, key(opts.seed, &[TAG]));
    let high = cmp.v_out_high_volts as f32;
    let low = cmp.v_out_low_volts as f32;
    let expect = |w: Option<usize>| -> Vec<f32> {
        (0..TRUTH_N)
            .map(|j| {
                if w.is_none() || w == Some(j) {
                    high
                } else {
                    low
                }
            })
            .collect()
    };
    let mut conds = Vec::new();
    let mut push = |name: String, active: Vec<usize>, want: Option<Vec<f32>>| {
        let inputs = array.comparator_inputs(&active);
        let gates = array.gates(&active);
        let ok = want.map(|w| w == gates);
        conds.push(Condition {
            name,
            active,
            inputs,
            gates,
            ok,
        });
    };
    push("quiet".into(), vec![], Some(expect(None)));
    for k in 0..TRUTH_N {
        push(format!("winner N{}", k + 1), vec![k], Some(expect(Some(k))));
    }
    push("winners N2+N5".into(), vec![1, 4], None);
    let truth_table_ok = conds.iter().all(|c| c.ok != Some(false));

    // Margin sweep.
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let mut sweep: Vec<(usize, usize, [SweepPoint; 2])> = Vec::new();
    for &n in &SWEEP_N {
        let designs = [fixed.design(rs, n)?, auto.design(rs, n)?];
        let trials = trials_for(n, opts.trials);
        let mut worst = [Margins {
            quiet_volts: f64::INFINITY,
            winner_volts: f64::INFINITY,
            loser_volts: f64::INFINITY,
            after_offset_volts: f64::INFINITY,
        }; 2];
        for t in 0..trials {
            let seed = key(opts.seed, &[TAG, n as u64, t as u64]);
            let ms = sweep_margins(&designs, rs, cmp, opts.variability, seed, threads)?;
            for (w, m) in worst.iter_mut().zip(&ms) {
                w.quiet_volts = w.quiet_volts.min(m.quiet_volts);
                w.winner_volts = w.winner_volts.min(m.winner_volts);
                w.loser_volts = w.loser_volts.min(m.loser_volts);
                w.after_offset_volts = w.after_offset_volts.min(m.after_offset_volts);
            }
        }
        let [df, da] = designs;
        let [wf, wa] = worst;
        sweep.push((
            n,
            trials,
            [
                SweepPoint {
                    design: df,
                    worst: wf,
                },
                SweepPoint {
                    design: da,
                    worst: wa,
                },
            ],
        ));
    }
    let max_n = |k: usize| {
        sweep
            .iter()
            .filter(|(_, _, p)| p[k].worst.worst_volts() > need)
            .map(|(n, _, _)| *n)
            .max()
    };
    let (max_n_fixed, max_n_auto) = (max_n(0), max_n(1));

    // data.csv
    let dir = ExperimentDir::create(out, "fig4")?;
    let header = [
        "section",
        "condition",
        "j",
        "comparator_input_v",
        "gate_v",
        "n",
        "design",
        "regime",
        "v_ref_v",
        "g_bias_s",
        "g_sense_s",
        "trials",
        "quiet_margin_v",
        "winner_margin_v",
        "loser_margin_v",
        "worst_margin_v",
        "after_offset_v",
        "bound_v",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for c in &conds {
        for j in 0..TRUTH_N {
            let mut r = vec![
                "truth_table".to_string(),
                c.name.clone(),
                (j + 1).to_string(),
                fmt_f(c.inputs[j], 6),
                fmt_f(f64::from(c.gates[j]), 3),
                TRUTH_N.to_string(),
                "fixed_vref".into(),
                design10.regime.name().into(),
                fmt_f(design10.v_ref_volts, 6),
                fmt_f(design10.g_bias_siemens, 6),
                fmt_f(design10.g_sense_siemens, 6),
            ];
            r.resize(header.len(), String::new());
            rows.push(r);
        }
    }
    for (n, trials, pts) in &sweep {
        for (name, p) in ["fixed_vref", "rechosen_vref"].iter().zip(pts) {
            let (d, m) = (&p.design, &p.worst);
            rows.push(vec![
                "sweep".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                n.to_string(),
                name.to_string(),
                d.regime.name().into(),
                fmt_f(d.v_ref_volts, 6),
                fmt_f(d.g_bias_siemens, 6),
                fmt_f(d.g_sense_siemens, 6),
                trials.to_string(),
                fmt_f(m.quiet_volts, 6),
                fmt_f(m.winner_volts, 6),
                fmt_f(m.loser_volts, 6),
                fmt_f(m.worst_volts(), 6),
                fmt_f(m.after_offset_volts, 6),
                fmt_f(d.margin_bound_volts(), 6),
            ]);
        }
    }
    dir.write_csv("data.csv", &header, &rows)?;

    // summary.json
    let conditions: Vec<Value> = conds
        .iter()
        .map(|c| {
            json!({
                "condition": c.name,
                "active": c.active.iter().map(|k| k + 1).collect::<Vec<_>>(),
                "comparator_inputs_v": c.inputs,
                "gates_v": c.gates,
                "ok": c.ok,
            })
        })
        .collect();
    let sweep_json: Vec<Value> = sweep
        .iter()
        .map(|(n, trials, p)| {
            json!({
                "n": n,
                "trials": trials,
                "bound_v": p[0].design.margin_bound_volts(),
                "fixed_vref": {
                    "design": design_json(&p[0].design),
                    "worst": margins_json(&p[0].worst),
                    "ok": p[0].worst.worst_volts() > need,
                },
                "rechosen_vref": {
                    "design": design_json(&p[1].design),
                    "worst": margins_json(&p[1].worst),
                    "ok": p[1].worst.worst_volts() > need,
                },
            })
        })
        .collect();
    let capped: Vec<usize> = sweep
        .iter()
        .filter(|(_, t, _)| *t < opts.trials.max(1))
        .map(|(n, _, _)| *n)
        .collect();
    Summary::new("fig4")
        .with("seed", opts.seed)
        .with(
            "variability",
            json!({
                "cycle_to_cycle": opts.variability.cycle_to_cycle,
                "device_to_device": opts.variability.device_to_device,
            }),
        )
        .with("required_margin_v", need)
        .with("comparator_offset_sigma_v", cmp.offset_sigma_volts)
        .with("truth_table_ok", truth_table_ok)
        .with(
            "truth_table",
            json!({
                "n": TRUTH_N,
                "design": design_json(&design10),
                "margins": margins_json(&array.margins()),
                "conditions": conditions,
                "note": "two simultaneous winners lift every column above V_ref: all gates close",
            }),
        )
        .with("max_n_with_margin", max_n_auto)
        .with(
            "max_n_with_margin_design",
            "V_ref re-chosen per n by the programming rule (bias at HRS, no sense conductance)",
        )
        .with("max_n_with_margin_fixed_vref", max_n_fixed)
        .with(
            "margin",
            "worst over all columns, all single-winner cases and all trials of the input \
             difference at the comparator (its offset is budgeted by required_margin_v; \
             after_offset_v is the slack left after the drawn offsets)",
        )
        .with("sweep", sweep_json)
        .with("trials_requested", opts.trials)
        .with(
            "trials_cap",
            format!(
                "trials per n = min(trials, max(1, {CELL_BUDGET} / n^2)); capped at n = {capped:?}"
            ),
        )
        .write(&dir)?;

    // Figures.
    let winner = &conds[1];
    let quiet = &conds[0];
    let idx = |j: usize| (j + 1) as f64;
    let li_in = |c: &Condition| -> Vec<(f64, f64)> {
        (0..TRUTH_N)
            .map(|i| {
                let on = c.active.contains(&i);
                (idx(i), if on { design10.li_high_volts } else { 0.0 })
            })
            .chain([(idx(TRUTH_N), design10.v_bias_volts)])
            .collect()
    };
    let per_col = |f: &dyn Fn(usize) -> f64| -> Vec<(f64, f64)> {
        (0..TRUTH_N).map(|j| (idx(j), f(j))).collect()
    };
    let s = |name: &str, points: Vec<(f64, f64)>| Series {
        name: name.into(),
        points,
        kind: SeriesKind::LinePoints,
    };
    let log2 = |n: usize| (n as f64).log2();
    let sweep_series = |k: usize| -> Vec<(f64, f64)> {
        sweep
            .iter()
            .map(|(n, _, p)| (log2(*n), p[k].worst.worst_volts() * 1e3))
            .collect()
    };
    let bound: Vec<(f64, f64)> = sweep
        .iter()
        .map(|(n, _, p)| (log2(*n), p[0].design.margin_bound_volts() * 1e3))
        .collect();
    let vr_mv = design10.v_ref_volts * 1e3;
    let panels = [
        Panel {
            title: "Fig 4c: LIA inputs (11 = bias row)".into(),
            x_label: "input row".into(),
            y_label: "V_L (V)".into(),
            series: vec![
                s("nobody fires", li_in(quiet)),
                s("N1 fires", li_in(winner)),
            ],
            y_range: Some((-0.1, 1.7)),
            ..Panel::default()
        },
        Panel {
            title: format!("comparator inputs V_j, n = {TRUTH_N}"),
            x_label: "column j".into(),
            y_label: "V_j (mV)".into(),
            series: vec![
                s("nobody fires", per_col(&|j| quiet.inputs[j] * 1e3)),
                s("N1 fires", per_col(&|j| winner.inputs[j] * 1e3)),
            ],
            hlines: vec![(vr_mv, format!("V_ref = {} mV", fmt_f(vr_mv, 3)))],
            ..Panel::default()
        },
        Panel {
            title: "Fig 4d: LIA outputs L_G".into(),
            x_label: "column j".into(),
            y_label: "gate (V)".into(),
            series: vec![
                s("nobody fires", per_col(&|j| f64::from(quiet.gates[j]))),
                s("N1 fires", per_col(&|j| f64::from(winner.gates[j]))),
            ],
            y_range: Some((-0.2, 3.4)),
            ..Panel::default()
        },
        Panel {
            title: "worst-case margin against n".into(),
            x_label: "log2(n)".into(),
            y_label: "margin (mV)".into(),
            series: vec![
                s("V_ref = 50 mV", sweep_series(0)),
                s("V_ref re-chosen per n", sweep_series(1)),
            ],
            hlines: vec![(need * 1e3, "required".into()), (0.0, String::new())],
            ..Panel::default()
        },
        Panel {
            title: "margin against n (log scale; ≤ 0 not shown)".into(),
            x_label: "log2(n)".into(),
            y_label: "margin (mV)".into(),
            series: vec![
                s("V_ref = 50 mV, worst of trials", sweep_series(0)),
                s("re-chosen V_ref, worst of trials", sweep_series(1)),
                s("bound (g_o − g_d)·V_H/(2S), no variability", bound),
            ],
            log_y: true,
            hlines: vec![(need * 1e3, "required".into())],
            ..Panel::default()
        },
    ];
    render_panels(&dir.file("fig4.png"), &panels, 3, (520, 380))?;
    let row_labels: Vec<String> = (1..=TRUTH_N)
        .map(|i| format!("V_L{i}"))
        .chain(["V_BIAS".to_string()])
        .collect();
    let col_labels: Vec<String> = (1..=TRUTH_N).map(|j| format!("G{j}")).collect();
    let map = |title: String, a: &LiaArray| Heatmap {
        title,
        x_label: "comparator (column)".into(),
        y_label: "input (row)".into(),
        data: (0..TRUTH_N)
            .map(|i| {
                (0..TRUTH_N)
                    .map(|j| f64::from(a.conductance(i, j)) * 1e6)
                    .collect()
            })
            .chain([a.bias_siemens().iter().map(|g| g * 1e6).collect()])
            .collect(),
        row_labels: row_labels.clone(),
        col_labels: col_labels.clone(),
        range: Some((0.0, 1200.0)),
        colorbar_label: "conductance (µS)".into(),
        annotate: true,
    };
    let nominal = LiaArray::new(&design10, rs, cmp, Variability::NONE, 0);
    render_heatmaps(
        &dir.file("fig4_conductance.png"),
        &[
            map("Fig 4b: programmed targets".into(), &nominal),
            map(format!("as drawn (seed {})", opts.seed), &array),
        ],
        2,
        40,
    )?;

    let dir = dir.commit()?;
    Ok(ExperimentReport::new("fig4", &dir)
        .row(
            "LIA truth table, n = 10",
            "ok",
            if truth_table_ok { "ok" } else { "FAILS" }.into(),
        )
        .row(
            "largest n with comparator margin",
            "thousands",
            or_none(max_n_auto),
        )
        .row(
            "largest n with margin, V_ref = 50 mV",
            "thousands",
            or_none(max_n_fixed),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fig4_writes_summary_and_truth_table() {
        let out = std::env::temp_dir().join(format!("memsnn-fig4-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let opts = RunOptions {
            trials: 2,
            ..RunOptions::default()
        };
        let rep = fig4(&opts, &out).unwrap();
        let text = std::fs::read_to_string(out.join("fig4/summary.json")).unwrap();
        let s: Value = serde_json::from_str(&text).unwrap();
        for k in [
            "truth_table_ok",
            "max_n_with_margin",
            "max_n_with_margin_fixed_vref",
            "sweep",
            "seed",
            "trials_cap",
        ] {
            assert!(s.get(k).is_some(), "missing {k}");
        }
        assert_eq!(s["truth_table_ok"], true);
        assert_eq!(s["sweep"].as_array().unwrap().len(), SWEEP_N.len());
        let max_n = s["max_n_with_margin"].as_u64().unwrap();
        assert!((32..=128).contains(&max_n), "{max_n}");
        assert!(s["max_n_with_margin_fixed_vref"].as_u64().unwrap() < max_n + 1);
        assert_eq!(s["sweep"][9]["trials"], 1);
        for f in ["data.csv", "fig4.png", "fig4_conductance.png"] {
            assert!(out.join("fig4").join(f).is_file(), "{f}");
        }
        assert_eq!(rep.rows[0].memsnn, "ok");
        assert_eq!(rep.rows[1].memsnn, max_n.to_string());
        assert_eq!(trials_for(10, 200), 200);
        assert_eq!(trials_for(4096, 200), 1);
        std::fs::remove_dir_all(&out).unwrap();
    }
}
