//! `memsnn bench`: throughput of a topology's protocol on a chosen executor, printed as
//! one JSON line per run in the schema of the Brian2 and NEST baselines (`simulator`,
//! `mode`, `workload`, `n_neurons`, `n_synapses`, `sim_time_s`, `wall_s`, `spikes`,
//! `synaptic_events`, `events_per_s`, `peak_rss_mb`, ...), so that one table compares them.
//!
//! **What is counted.** Spiking simulators count a *synaptic event* per spike per outgoing
//! synapse. memsnn's inputs are pulse trains: every pulsing line emits one pulse per
//! CLK-high phase, delivered to every column it feeds, and each neuron's fire reaches the
//! other `n − 1` neurons of its winner-take-all layer through the lateral-inhibition
//! array. So `spikes_in` = line pulses, `spikes_out` = output spikes, and
//! `synaptic_events` = Σ line pulses × columns fed + Σ spikes × columns fed + Σ fires ×
//! (n − 1) in LIA layers — the same definition the baselines use for the same workload.
//! memsnn does not do that work pulse by pulse: a column's Thevenin source is computed once
//! per input change and a neuron's TS is advanced in closed form over whole CLK phases, so
//! the work per simulated second is what changed, not what was delivered. `component_events`
//! reports the events the executor really handled.
//!
//! `wall_s` covers the protocol run only (as the baselines' `wall_s`); `build_s` the
//! construction of the network; `peak_rss_mb` the process's resident high-water mark over
//! build and run (reset before each run through `/proc/self/clear_refs`, Linux);
//! `bytes_per_synapse` the heap bytes the network with its executor occupies, per
//! synapse, after the build or after the run, whichever is more (the executor keeps
//! interleaved copies of the weights it sums, made while running), counted by
//! [`crate::alloc_count::CountingAlloc`] (0 when it is not installed).
//! `energy_joules` is the run's dissipation over every class (docs/energy.md) and
//! `energy_joules_per_synaptic_event` divides it by `synaptic_events` as counted here.

use crate::plot::{render_panels, Panel, Series, SeriesKind};
use anyhow::{bail, Context, Result};
use runtime::circuits::input::InputGenerator;
use runtime::engine::exec::ExecutorKind;
use runtime::engine::network::Network;
use runtime::model::energy::EnergyReport;
use runtime::model::protocol::{run_protocol, NetworkIds};
use runtime::model::topology::schema::{Connectivity, Inhibition, Topology};
use runtime::model::topology::{build, load, Checked};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Sizes of the `wta_ff` workload (inputs × winner-take-all neurons), as the baselines.
pub const WTA_FF_SIZES: &[(usize, usize)] =
    &[(30, 10), (784, 100), (784, 400), (784, 1600), (784, 6400)];

/// One benchmark run, in the baselines' JSON schema plus memsnn's own fields.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRecord {
    /// Always `memsnn`.
    pub simulator: String,
    /// memsnn's version.
    pub version: String,
    /// Executor: `reference`, `sharded` or `actix`.
    pub mode: String,
    /// Workload name (`wta_ff`, or a topology's name).
    pub workload: String,
    /// Size label, e.g. `784x1600`.
    pub size: String,
    /// Neurons including the input lines (as the baselines count input neurons).
    pub n_neurons: u64,
    /// Synapses: crossbar cells plus lateral connections `n (n − 1)` per LIA layer.
    pub n_synapses: u64,
    /// Simulated time, seconds.
    pub sim_time_s: f64,
    /// Worker threads (sharded), arbiters (actix), partitions = ranks × workers per rank
    /// (mpi) or 1 (reference).
    pub threads: usize,
    /// Repetition index.
    pub rep: usize,
    /// Protocol run only, seconds.
    pub wall_s: f64,
    /// Network construction, seconds.
    pub build_s: f64,
    /// Build plus run, seconds.
    pub total_s: f64,
    /// All spikes: input line pulses plus output spikes.
    pub spikes: u64,
    /// Input line pulses.
    pub spikes_in: u64,
    /// Output spikes of all layers.
    pub spikes_out: u64,
    /// Spikes times their fan-out (see the module docs).
    pub synaptic_events: u64,
    /// `synaptic_events / wall_s`.
    pub events_per_s: f64,
    /// `spikes / wall_s`.
    pub spikes_per_s: f64,
    /// `sim_time_s / wall_s`.
    pub realtime_factor: f64,
    /// Events the executor handled.
    pub component_events: u64,
    /// Resident high-water mark over build and run, MB (0 where unavailable).
    pub peak_rss_mb: f64,
    /// Heap bytes of the built network per synapse (device state included; 0 when the
    /// counting allocator is not installed).
    pub bytes_per_synapse: f64,
    /// Root seed.
    pub seed: u64,
    /// Energy dissipated over the run, every class ([`EnergyReport`]), joules.
    pub energy_joules: f64,
    /// `energy_joules / synaptic_events` (the baselines' count above), joules.
    pub energy_joules_per_synaptic_event: f64,
    /// Synchronisation rounds of the partitions (sharded, mpi; 0 for the others).
    pub rounds: u64,
    /// `rounds / sim_time_s`.
    pub rounds_per_sim_s: f64,
    /// Sum over rounds of the most events one partition handled in the round: the work
    /// on the critical path (0 without rounds).
    pub critical_events: u64,
    /// `wall_s / rounds`, seconds (0 without rounds).
    pub wall_s_per_round: f64,
    /// Bytes one MPI rank (rank 0) sent per round (0 for threads, which pass pointers).
    pub bytes_per_round: f64,
    /// Share of rank 0's wall time spent in the round exchange, waiting included (mpi;
    /// 0 otherwise).
    pub exchange_fraction: f64,
}

/// Options of `memsnn bench`.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Executors to run, by name (see [`ExecutorKind`]).
    pub executors: Vec<String>,
    /// Worker counts (sharded) / arbiter counts (actix), each run in turn.
    pub workers: Vec<usize>,
    /// Topology files to run.
    pub topologies: Vec<PathBuf>,
    /// Workload label written in the records (`None`: each topology's name).
    pub workload: Option<String>,
    /// Repetitions of each configuration.
    pub reps: usize,
    /// Root seed.
    pub seed: u64,
    /// In-situ learning: every input pulses at this write level (volts) and every layer
    /// learns (see [`with_learning`]); `None` runs the topologies as they are.
    pub learning_write_volts: Option<f64>,
    /// Bernoulli-gated inputs: every input keeps each pulse with this probability (the
    /// baselines' `--pulse-prob`; `_pP` is appended to the workload label); `None` runs the
    /// inputs as written.
    pub pulse_prob: Option<f64>,
}

/// The same network learning in situ: every input's black pixels pulse at
/// `write_volts` and every layer's neurons have their depression feedback (T3) on. With
/// the paper's 1.6 V write level a winner's active synapses are potentiated against its
/// grounded node 1 (T1) and its grounded ones depressed by the lift (T3) at every fire —
/// memsnn's counterpart of the baselines' `wta_ff_stdp` (pair-based STDP).
pub fn with_learning(topo: &mut runtime::model::topology::Topology, write_volts: f64) {
    for input in &mut topo.inputs {
        input.amplitude_volts = write_volts;
    }
    for layer in &mut topo.layers {
        layer.learning = true;
    }
}

/// The paper's write level for input pulses, volts (Fig 5 methods: black pixels are
/// "1.6 V input pulses"); the default of learning runs.
pub const PAPER_WRITE_VOLTS: f64 = 1.6;

/// What `memsnn bench` runs, from its flags.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// Topology files.
    pub topologies: Vec<PathBuf>,
    /// Workload label of the records (`None`: each topology's name, `_learning` appended
    /// for learning runs).
    pub label: Option<String>,
    /// Input write level of a learning run, volts (`None`: run as written).
    pub learning_write_volts: Option<f64>,
}

impl Workload {
    /// `--workload wta_ff|wta_ff_learning --size ..` or `--topology FILE`, with
    /// `--learning` / `--write-volts`. `wta_ff_learning` and `--learning` mean the same;
    /// `--write-volts` without learning is an error rather than silently ignored.
    pub fn choose(
        workload: &str,
        size: &str,
        topology: Option<PathBuf>,
        learning: bool,
        write_volts: Option<f64>,
    ) -> Result<Self> {
        let learning = match workload {
            "wta_ff" => learning,
            "wta_ff_learning" => true,
            other => {
                bail!("unknown workload `{other}`; use wta_ff, wta_ff_learning, or --topology FILE")
            }
        };
        if let Some(v) = write_volts {
            if !learning {
                bail!("--write-volts applies to learning runs: add --learning or use --workload wta_ff_learning");
            }
            if !(v > 0.0 && v <= 10.0) {
                bail!("--write-volts {v}: give a pulse amplitude in (0, 10] V");
            }
        }
        let learning_write_volts = learning.then(|| write_volts.unwrap_or(PAPER_WRITE_VOLTS));
        Ok(match topology {
            Some(t) => Workload {
                topologies: vec![t],
                label: None,
                learning_write_volts,
            },
            None => Workload {
                topologies: parse_sizes(size)?
                    .iter()
                    .map(|&(a, b)| wta_ff_topology(a, b))
                    .collect(),
                label: Some(
                    if learning {
                        "wta_ff_learning"
                    } else {
                        "wta_ff"
                    }
                    .into(),
                ),
                learning_write_volts,
            },
        })
    }
}

/// The shipped `wta_ff` topology of size `n_in × n_out`.
pub fn wta_ff_topology(n_in: usize, n_out: usize) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("topologies/wta_ff/{n_in}x{n_out}.ron"))
}

/// Parses `784x1600` (or `all`) into `wta_ff` sizes.
pub fn parse_sizes(spec: &str) -> Result<Vec<(usize, usize)>> {
    if spec == "all" {
        return Ok(WTA_FF_SIZES.to_vec());
    }
    let mut out = Vec::new();
    for s in spec.split(',') {
        let (a, b) = s
            .split_once('x')
            .with_context(|| format!("size `{s}`: write it as INPUTSxNEURONS, e.g. 784x1600"))?;
        let count = |t: &str| {
            t.trim().parse::<usize>().with_context(|| {
                format!("size `{s}`: `{t}` is not a count; write INPUTSxNEURONS, e.g. 784x1600")
            })
        };
        let n = (count(a)?, count(b)?);
        if !WTA_FF_SIZES.contains(&n) {
            let known: Vec<String> = WTA_FF_SIZES
                .iter()
                .map(|(a, b)| format!("{a}x{b}"))
                .collect();
            bail!(
                "size `{s}` has no shipped wta_ff topology; use one of {} (or `--topology FILE`)",
                known.join(", ")
            );
        }
        out.push(n);
    }
    Ok(out)
}

/// Runs every configuration; calls `each` with every record as soon as it is measured.
pub fn bench(opts: &BenchOptions, mut each: impl FnMut(&BenchRecord)) -> Result<Vec<BenchRecord>> {
    let kinds = opts
        .executors
        .iter()
        .map(|e| e.parse::<ExecutorKind>())
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    for path in &opts.topologies {
        // The loader's messages name the file (and line and column) themselves.
        let mut checked = load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        check_memory(&checked, path)?;
        if let Some(v) = opts.learning_write_volts {
            checked = checked
                .edit(|t| with_learning(t, v))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        if let Some(p) = opts.pulse_prob {
            checked = checked
                .edit(|t| t.inputs.iter_mut().for_each(|i| i.pulse_prob = p))
                .map_err(|e| anyhow::anyhow!("--pulse-prob {p}: {e}"))?;
        }
        for &exec in &kinds {
            let workers: &[usize] = if exec == ExecutorKind::Reference {
                &[1]
            } else {
                &opts.workers
            };
            for &w in workers {
                // The sharded and mpi executors run at least one worker (per rank).
                let w = if matches!(exec, ExecutorKind::Sharded | ExecutorKind::Mpi) {
                    w.max(1)
                } else {
                    w
                };
                for rep in 0..opts.reps.max(1) {
                    let r = run_once(&checked, opts, exec, w, rep)
                        .with_context(|| format!("{}: {exec} with {w} workers", path.display()))?;
                    each(&r);
                    out.push(r);
                }
            }
        }
    }
    Ok(out)
}

/// Refuses a topology that would not fit in the memory this process may use (the
/// smallest of available memory, cgroup limit and address-space limit; `path` names it in
/// the message). Loading a topology file checks this already; this guards topologies
/// changed in code after loading.
pub fn check_memory(checked: &Checked, path: &Path) -> Result<()> {
    let issues = runtime::model::topology::budget::check_budget(checked.topology());
    if issues.is_empty() {
        return Ok(());
    }
    let cap = runtime::model::topology::rules::MAX_TOPOLOGY_FILE_BYTES;
    let source = devices::params::read_text(path, cap).ok();
    let e = runtime::model::topology::error::located(issues, source.as_deref(), path);
    bail!("{e}")
}

/// The workload label of a record: the chosen label or the topology's name (with
/// `_learning` for learning runs), then `_pP` for Bernoulli-gated inputs, as the baselines
/// write `wta_ff_p0.5`.
fn workload_label(opts: &BenchOptions, topology_name: &str) -> String {
    let mut label = opts
        .workload
        .clone()
        .unwrap_or_else(|| match opts.learning_write_volts {
            Some(_) => format!("{topology_name}_learning"),
            None => topology_name.to_string(),
        });
    if let Some(p) = opts.pulse_prob.filter(|&p| p < 1.0) {
        label.push_str(&format!("_p{p}"));
    }
    label
}

fn run_once(
    checked: &Checked,
    opts: &BenchOptions,
    exec: ExecutorKind,
    workers: usize,
    rep: usize,
) -> Result<BenchRecord> {
    let topo = checked.topology();
    reset_peak_rss();
    let heap0 = crate::alloc_count::live_bytes();
    let t0 = Instant::now();
    let built = build(checked, opts.seed)?;
    let ids = NetworkIds::of(&built);
    let layers = built.layers.clone();
    let mut net = built.builder.build();
    net.source_digest = Some(checked.digest());
    let mut sim = exec.executor(net, workers)?;
    let build_s = t0.elapsed().as_secs_f64();
    let heap1 = crate::alloc_count::live_bytes();
    let t1 = Instant::now();
    let log = run_protocol(sim.as_mut(), &ids, topo, checked.patterns())?;
    let wall_s = t1.elapsed().as_secs_f64();
    // What the executor built while running (e.g. its weight tiles) counts too.
    let heap2 = crate::alloc_count::live_bytes();
    let component_events = sim.handled_events();
    let counts = count_events(topo, &ids, sim.network(), &log);
    let sizes = sizes(topo);
    let sim_time_s = log.end_ns as f64 * 1e-9;
    let spikes = counts.spikes_in + counts.spikes_out;
    let energy = EnergyReport::of(sim.network(), &layers, sim.now());
    let rounds = sim.round_stats().unwrap_or_default();
    let per_round = |x: f64| {
        if rounds.rounds > 0 {
            x / rounds.rounds as f64
        } else {
            0.0
        }
    };
    Ok(BenchRecord {
        simulator: "memsnn".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        mode: exec.to_string(),
        workload: workload_label(opts, &topo.name),
        size: size_label(topo),
        n_neurons: sizes.0,
        n_synapses: sizes.1,
        sim_time_s,
        threads: if exec == ExecutorKind::Mpi {
            rounds.partitions
        } else {
            workers
        },
        rep,
        wall_s,
        build_s,
        total_s: build_s + wall_s,
        spikes,
        spikes_in: counts.spikes_in,
        spikes_out: counts.spikes_out,
        synaptic_events: counts.synaptic,
        events_per_s: counts.synaptic as f64 / wall_s,
        spikes_per_s: spikes as f64 / wall_s,
        realtime_factor: sim_time_s / wall_s,
        component_events,
        peak_rss_mb: peak_rss_bytes().map_or(0.0, |b| b as f64 / 1e6),
        bytes_per_synapse: match (heap0, heap1, heap2) {
            (Some(a), Some(b), Some(c)) if sizes.1 > 0 => {
                b.max(c).saturating_sub(a) as f64 / sizes.1 as f64
            }
            _ => 0.0,
        },
        seed: opts.seed,
        energy_joules: energy.total_joules,
        energy_joules_per_synaptic_event: energy.total_joules / counts.synaptic.max(1) as f64,
        rounds: rounds.rounds,
        rounds_per_sim_s: rounds.rounds as f64 / sim_time_s.max(f64::MIN_POSITIVE),
        critical_events: rounds.critical_events,
        wall_s_per_round: per_round(wall_s),
        bytes_per_round: per_round(rounds.bytes_sent as f64),
        exchange_fraction: rounds.exchange_s / wall_s.max(f64::MIN_POSITIVE),
    })
}

struct Counts {
    spikes_in: u64,
    spikes_out: u64,
    synaptic: u64,
}

/// Columns fed by the source called `name` (an input or a layer), per spike.
fn fan_out(topo: &Topology, name: &str) -> u64 {
    topo.layers
        .iter()
        .filter(|l| l.from == name)
        .map(|l| match l.connectivity {
            Connectivity::Dense => u64::from(l.neurons),
            Connectivity::OneToOne => 1,
        })
        .sum()
}

fn count_events(
    topo: &Topology,
    ids: &NetworkIds,
    net: &Network,
    log: &runtime::model::protocol::ProtocolLog,
) -> Counts {
    let mut c = Counts {
        spikes_in: 0,
        spikes_out: 0,
        synaptic: 0,
    };
    for (name, &id) in &ids.inputs {
        let pulses = net
            .get::<InputGenerator>(id)
            .map_or(0, |g| g.line_pulses(&net.clock, log.end_ns));
        c.spikes_in += pulses;
        c.synaptic += pulses * fan_out(topo, name);
    }
    for spec in &topo.layers {
        let Some(counts) = log.layers.get(&spec.name) else {
            continue;
        };
        c.spikes_out += counts.spikes;
        c.synaptic += counts.spikes * fan_out(topo, &spec.name);
        if spec.inhibition == Inhibition::Lia {
            c.synaptic += counts.fires * u64::from(spec.neurons.saturating_sub(1));
        }
    }
    c
}

/// (neurons incl. input lines, synapses incl. lateral connections).
fn sizes(topo: &Topology) -> (u64, u64) {
    let mut neurons: u64 = topo.inputs.iter().map(|i| u64::from(i.lines)).sum();
    let mut synapses = 0u64;
    for l in &topo.layers {
        let n = u64::from(l.neurons);
        neurons += n;
        let source = topo.source_size(&l.from).unwrap_or(0) as u64;
        synapses += n * l.synapses_per_column(source as usize) as u64;
        if l.inhibition == Inhibition::Lia {
            synapses += n * n.saturating_sub(1);
        }
    }
    (neurons, synapses)
}

/// `784x1600` for one input feeding one layer; the topology's name otherwise.
fn size_label(topo: &Topology) -> String {
    match (topo.inputs.as_slice(), topo.layers.as_slice()) {
        ([i], [l]) => format!("{}x{}", i.lines, l.neurons),
        _ => topo.name.clone(),
    }
}

fn proc_status_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn peak_rss_bytes() -> Option<u64> {
    proc_status_kb("VmHWM:").map(|k| k * 1024)
}

/// Resets the resident high-water mark (Linux `clear_refs` value 5); best effort.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Plots events/s against network size (one line per executor and worker count) and
/// against workers (largest size), into one PNG.
pub fn plot(records: &[BenchRecord], path: &Path) -> Result<()> {
    use std::collections::BTreeMap;
    let mut by_cfg: BTreeMap<(String, usize), BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    for r in records {
        by_cfg
            .entry((r.mode.clone(), r.threads))
            .or_default()
            .entry(r.n_synapses)
            .or_default()
            .push(r.events_per_s);
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let size_series: Vec<Series> = by_cfg
        .iter()
        .map(|((mode, w), pts)| Series {
            name: if mode == "reference" {
                mode.clone()
            } else {
                format!("{mode} ×{w}")
            },
            points: pts
                .iter()
                .map(|(&n, v)| ((n as f64).log10(), median(v) / 1e9))
                .collect(),
            kind: SeriesKind::LinePoints,
        })
        .collect();
    let largest = records.iter().map(|r| r.n_synapses).max().unwrap_or(0);
    let mut by_mode: BTreeMap<String, BTreeMap<usize, Vec<f64>>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.n_synapses == largest) {
        by_mode
            .entry(r.mode.clone())
            .or_default()
            .entry(r.threads)
            .or_default()
            .push(r.events_per_s);
    }
    let worker_series: Vec<Series> = by_mode
        .iter()
        .map(|(mode, pts)| Series {
            name: mode.clone(),
            points: pts
                .iter()
                .map(|(&w, v)| (w as f64, median(v) / 1e9))
                .collect(),
            kind: SeriesKind::LinePoints,
        })
        .collect();
    let label = records
        .iter()
        .find(|r| r.n_synapses == largest)
        .map_or(String::new(), |r| r.size.clone());
    let panels = vec![
        Panel {
            title: "throughput vs network size".into(),
            x_label: "log10 synapses".into(),
            y_label: "synaptic events / s (×1e9, log)".into(),
            series: size_series,
            log_y: true,
            ..Panel::default()
        },
        Panel {
            title: format!("throughput vs workers ({label})"),
            x_label: "workers".into(),
            y_label: "synaptic events / s (×1e9)".into(),
            series: worker_series,
            ..Panel::default()
        },
    ];
    render_panels(path, &panels, 2, (640, 440))
}
