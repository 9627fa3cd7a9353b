//! The hybrid neuron (paper Fig 3): node traces under a pulse train (Fig 3b) and the spike
//! rate against input amplitude (Fig 3c/d).
//!
//! Fig 3b: S1 = 10 kΩ on a pulsed input (1.8 V, 2 kHz, 250 µs), S2 = 40 kΩ on a grounded
//! input, fixed resistors, depression feedback disabled; node 1 sits at
//! 1.8 V·100 µS/125 µS ≈ 1.44 V during pulses.
//!
//! The circuits are the topology files `topologies/fig3b.ron` and `fig3c.ron` (embedded
//! at build time), so that `memsnn run` and the experiment simulate the same network; the
//! experiment only sets the device randomness, sweeps the amplitude, sets the run length
//! and gives every trial its own root seed.

use super::single::{changes, pulses_per_fire, times, SingleIds};
use super::stats::{median, median_count, quantile};
use super::RunOptions;
use crate::output::{fmt_f, ExperimentDir};
use crate::plot::{render_panels, Panel, Series, SeriesKind, SpreadSeries};
use crate::report::{joined, or_none, yes_no, ExperimentReport, Summary};
use anyhow::{bail, Context, Result};
use devices::variability::key;
use runtime::engine::exec::reference::Simulation;
use runtime::engine::probe::canonical_sort;
use runtime::engine::time::{Clock, MS, US};
use runtime::model::protocol::{run_protocol, NetworkIds};
use runtime::model::topology::schema::{Step, Topology};
use runtime::model::topology::{build, parse_str, Checked};
use std::path::Path;

/// The Fig 3b circuit (`topologies/fig3b.ron`).
pub const FIG3B_TOPOLOGY: &str = include_str!("../../topologies/fig3b.ron");
/// The Fig 3c circuit (`topologies/fig3c.ron`; its input amplitude is swept).
pub const FIG3C_TOPOLOGY: &str = include_str!("../../topologies/fig3c.ron");
/// A single-neuron topology (input `in`, layer `neuron`), checked once with its files,
/// ready to be run trial after trial.
pub struct SingleCircuit {
    /// The topology as edited by the experiment, with everything it names.
    pub checked: Checked,
}

impl SingleCircuit {
    /// Parses and checks `source` (named `origin` in messages) with the experiment's
    /// device randomness. Its relative paths (the pattern file) are the repository's, as
    /// for the other experiments' default files.
    pub fn load(source: &str, origin: &str, opts: &RunOptions) -> Result<Self> {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
        let checked = parse_str(source, Path::new(origin), &base)?;
        let t = checked.topology();
        if !t.inputs.iter().any(|i| i.name == "in") || t.layer("neuron").is_none() {
            bail!("{origin}: a single-neuron circuit needs an input `in` and a layer `neuron`");
        }
        let variability = opts.variability;
        Ok(SingleCircuit {
            checked: checked.edit(|t| t.variability = variability)?,
        })
    }

    /// Sets the pulse amplitude of input `in`, volts (the edited topology is checked again).
    pub fn set_amplitude(&mut self, volts: f64) -> Result<()> {
        self.edit(|t| {
            for i in &mut t.inputs {
                i.amplitude_volts = volts;
            }
        })
    }

    /// Makes the protocol the file's first step, a `Present`, lasting `run_us` µs.
    pub fn set_run_us(&mut self, run_us: u64) -> Result<()> {
        let t = self.checked.topology();
        let Some(Step::Present {
            input,
            pattern,
            flips,
            ..
        }) = t.protocol.first().cloned()
        else {
            bail!(
                "topology `{}`: the protocol must start with a `Present` step",
                t.name
            );
        };
        self.edit(|t| {
            t.protocol = vec![Step::Present {
                input,
                pattern,
                flips,
                duration_us: run_us,
            }]
        })
    }

    fn edit(&mut self, f: impl FnOnce(&mut Topology)) -> Result<()> {
        self.checked = self.checked.clone().edit(f)?;
        Ok(())
    }

    /// Builds the circuit with root seed `seed` and runs its protocol on the reference
    /// executor from time 0.
    pub fn simulate(&self, seed: u64) -> Result<(Simulation, SingleIds)> {
        let topo = self.checked.topology();
        let built = build(&self.checked, seed)?;
        let ids = NetworkIds::of(&built);
        let layer = &built.layers["neuron"];
        let single = SingleIds {
            input: built.inputs["in"],
            column: layer.columns[0],
            neuron: layer.neurons[0],
        };
        let mut sim = Simulation::new(built.builder.build());
        run_protocol(&mut sim, &ids, topo, self.checked.patterns())
            .with_context(|| format!("running topology `{}`", topo.name))?;
        Ok((sim, single))
    }
}

/// Fig 3b: node traces of two firing cycles and the pulses needed per fire.
pub fn fig3b(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let clock = Clock::default();
    let run_ms = 100;
    let mut all_pulses = Vec::new();
    let mut fires_first = 0usize;
    let mut refractory = Vec::new();
    let mut spike_amp = Vec::new();
    let mut spike_width = Vec::new();
    let mut trace = Vec::new();
    let trials = opts.trials.clamp(1, 50);
    let mut circuit = SingleCircuit::load(FIG3B_TOPOLOGY, "topologies/fig3b.ron", opts)?;
    circuit.set_run_us(run_ms * MS / US)?;
    for trial in 0..trials {
        let seed = key(opts.seed, &[0xf3b, trial as u64]);
        let (mut sim, ids) = circuit.simulate(seed)?;
        let mut rec = sim.take_records();
        canonical_sort(&mut rec);
        let fires = times(&rec, ids.neuron, "fire");
        if trial == 0 {
            fires_first = fires.len();
            trace = rec
                .iter()
                .filter(|r| r.comp == ids.neuron && r.time <= 8 * MS)
                .cloned()
                .collect();
        }
        all_pulses.extend(pulses_per_fire(&fires, &clock));
        let l2 = changes(&rec, ids.neuron, "l2");
        for w in l2.windows(2) {
            if w[0].1 == 1.0 && w[1].1 == 0.0 {
                refractory.push((w[1].0 - w[0].0) as f64 / 1e3);
            }
        }
        let vout = changes(&rec, ids.neuron, "v_out");
        for w in vout.windows(2) {
            if w[0].1 > 0.0 && w[1].1 == 0.0 {
                spike_amp.push(w[0].1);
                spike_width.push((w[1].0 - w[0].0) as f64 / 1e3);
            }
        }
    }
    let dir = ExperimentDir::create(out, "fig3b")?;
    let kinds = ["v_node1", "v_node2", "l1", "l2", "v_out"];
    let rows: Vec<Vec<String>> = trace
        .iter()
        .filter(|r| kinds.contains(&r.kind))
        .map(|r| {
            vec![
                fmt_f(r.time as f64 / 1e3, 6),
                r.kind.to_string(),
                fmt_f(r.value, 6),
            ]
        })
        .collect();
    dir.write_csv("data.csv", &["t_us", "signal", "value"], &rows)?;
    let m = median_count(&all_pulses);
    let pulses: Vec<f64> = all_pulses.iter().map(|&x| x as f64).collect();
    Summary::new("fig3b")
        .with("input_amplitude_v", 1.8)
        .with("s1_ohms", 10000)
        .with("s2_ohms", 40000)
        .with("trials", trials)
        .with("run_ms", run_ms)
        .with("median_pulses_to_fire", m)
        .with("q1_pulses_to_fire", quantile(&pulses, 0.25))
        .with("q3_pulses_to_fire", quantile(&pulses, 0.75))
        .with("refractory_us", median(&refractory))
        .with("spike_amplitude_v", median(&spike_amp))
        .with("spike_width_us", median(&spike_width))
        .with("fires", fires_first)
        .with("seed", opts.seed)
        .write(&dir)?;
    let series = |kind: &str| -> Vec<(f64, f64)> {
        trace
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| (r.time as f64 / 1e3, r.value))
            .collect()
    };
    // Node 1 is piecewise constant between CLK edges: draw it as steps.
    let labels = [
        ("v_node1", "node 1 (V)"),
        ("v_node2", "node 2 (V)"),
        ("l1", "L1 output"),
        ("l2", "L2 output (T1 gate)"),
        ("v_out", "output spike (V)"),
    ];
    let panels: Vec<Panel> = labels
        .iter()
        .enumerate()
        .map(|(i, (k, y))| Panel {
            title: if i == 0 {
                "Fig 3b: hybrid neuron, 1.8 V pulses on S1 = 10 kΩ, S2 = 40 kΩ grounded".into()
            } else {
                String::new()
            },
            x_label: if i + 1 == labels.len() {
                "time (µs)".into()
            } else {
                String::new()
            },
            y_label: y.to_string(),
            series: vec![Series {
                name: String::new(),
                points: series(k),
                kind: SeriesKind::Step,
            }],
            ..Panel::default()
        })
        .collect();
    render_panels(&dir.file("fig3b.png"), &panels, 1, (1000, 170))?;
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("fig3b", &dir)
        .row("median pulses to fire (1.44 V on node 1)", "5", or_none(m))
        .row(
            "refractory period (µs)",
            "500",
            fmt_f(median(&refractory), 4),
        )
        .row(
            "output spike (V, µs)",
            "2.0, 250",
            format!(
                "{}, {}",
                fmt_f(median(&spike_amp), 3),
                fmt_f(median(&spike_width), 4)
            ),
        ))
}

/// Fig 3c/d: spike rate against input amplitude (1.4 → 2.0 V).
pub fn fig3c(opts: &RunOptions, out: &Path) -> Result<ExperimentReport> {
    let amps = [1.4f32, 1.6, 1.8, 2.0];
    let run_ms = 200;
    let trials = opts.trials.clamp(1, 30);
    let mut rows = Vec::new();
    let (mut med, mut q1, mut q3) = (Vec::new(), Vec::new(), Vec::new());
    let mut identical = true;
    let mut circuit = SingleCircuit::load(FIG3C_TOPOLOGY, "topologies/fig3c.ron", opts)?;
    circuit.set_run_us(run_ms * MS / US)?;
    for &a in &amps {
        circuit.set_amplitude(a as f64)?;
        let mut rates = Vec::new();
        for trial in 0..trials {
            let seed = key(opts.seed, &[0xf3c, trial as u64]);
            let (mut sim, ids) = circuit.simulate(seed)?;
            let rec = sim.take_records();
            let spikes = times(&rec, ids.neuron, "spike");
            let amps_seen: Vec<f64> = rec
                .iter()
                .filter(|r| r.comp == ids.neuron && r.kind == "spike")
                .map(|r| r.value)
                .collect();
            identical &= amps_seen.iter().all(|&v| v == amps_seen[0]);
            let rate = spikes.len() as f64 / (run_ms as f64 * 1e-3);
            rates.push(rate);
            rows.push(vec![fmt_f(a as f64, 3), trial.to_string(), fmt_f(rate, 6)]);
        }
        med.push(median(&rates));
        q1.push(quantile(&rates, 0.25));
        q3.push(quantile(&rates, 0.75));
    }
    let dir = ExperimentDir::create(out, "fig3c")?;
    dir.write_csv("data.csv", &["amplitude_v", "trial", "rate_hz"], &rows)?;
    let amps_v: Vec<f64> = amps.iter().map(|&a| a as f64).collect();
    Summary::new("fig3c")
        .with("amplitudes_v", &amps_v)
        .with("median_rate_hz", &med)
        .with("q1_rate_hz", &q1)
        .with("q3_rate_hz", &q3)
        .with("all_spikes_identical", identical)
        .with("trials", trials)
        .with("run_ms", run_ms)
        .with("seed", opts.seed)
        .write(&dir)?;
    render_panels(
        &dir.file("fig3c.png"),
        &[Panel {
            title: "Fig 3d: spike rate against input amplitude (S1 = 10 kΩ, S2 = 40 kΩ)".into(),
            x_label: "input pulse amplitude (V)".into(),
            y_label: "spike rate (Hz)".into(),
            spreads: vec![SpreadSeries {
                name: "median, IQR".into(),
                x: amps_v.clone(),
                median: med.clone(),
                q1,
                q3,
            }],
            ..Panel::default()
        }],
        1,
        (700, 450),
    )?;
    let _ = US;
    let dir = dir.commit()?;
    Ok(ExperimentReport::new("fig3c", &dir)
        .row(
            "median spike rate, 1.4→2.0 V (Hz)",
            "rises",
            joined(&med, 3),
        )
        .row("all output spikes identical", "yes", yes_no(identical)))
}
