//! `memsnn validate` and `memsnn run`: a topology file in; a verdict, or probes
//! (`probes.csv`), a protocol log with the run's energy (`log.json`, its `energy` object:
//! `total_joules`, `by_class`, `by_layer`, `by_kind`, `synaptic_events`) and, if asked, the trained conductances
//! (`--save-weights FILE`, read back by `initial: Saved(FILE)`) out.
//!
//! ```no_run
//! use memsnn::run::{run, RunConfig};
//! use std::path::Path;
//!
//! let opts = RunConfig { seed: 1, ..RunConfig::default() };
//! let report = run(Path::new("topologies/fig3b.ron"), &opts)?;
//! for line in report.summary() {
//!     println!("{line}");
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```

use crate::output::ExperimentDir;
use anyhow::{anyhow, bail, Context, Result};
use runtime::engine::exec::ExecutorKind;
use runtime::engine::probe::to_csv;
use runtime::model::energy::EnergyReport;
use runtime::model::protocol::ProtocolLog;
use runtime::model::topology::{build, load, Checked, SavedWeights, TopologyError};
use runtime::Model;
use std::path::{Path, PathBuf};

/// Protocols with at least this many steps show a progress bar.
const PROGRESS_MIN_STEPS: usize = 50;

/// Options of `memsnn run`.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Root seed: every random stream is keyed by it.
    pub seed: u64,
    /// Output folder (created if needed).
    pub out: PathBuf,
    /// Executor name (one of [`ExecutorKind`]'s: `reference`, `sharded`, `actix`).
    pub executor: String,
    /// Worker threads (sharded) or arbiters (actix).
    pub workers: usize,
    /// Where to save the synapse conductances after the protocol (a RON file that
    /// `initial: Saved(..)` reads back), if anywhere.
    pub save_weights: Option<PathBuf>,
    /// Where to draw the probes (spike raster, node voltages, conductances) as a PNG.
    pub plot: Option<PathBuf>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            seed: 1,
            out: PathBuf::from("results/run"),
            executor: "reference".into(),
            workers: 1,
            save_weights: None,
            plot: None,
        }
    }
}

/// Size of a valid topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Components (neurons, columns, inputs, LIAs, gate drivers).
    pub components: usize,
    /// Wires between component ports.
    pub wires: usize,
}

/// Wraps validation problems with the file name and their number.
fn problems(path: &Path, e: TopologyError) -> anyhow::Error {
    let n = e.problems().len().max(1);
    let s = if n == 1 { "" } else { "s" };
    anyhow!("{}: {n} problem{s}:\n{e}", path.display())
}

/// Loads and checks the topology at `path`, then builds it (seed 1) to count its parts.
pub fn validate(path: &Path) -> Result<Size> {
    let checked = load(path).map_err(|e| problems(path, e))?;
    let built = build(&checked, 1).map_err(|e| problems(path, e))?;
    let graph = built.builder.graph();
    Ok(Size {
        components: graph.node_count(),
        wires: graph.edge_count(),
    })
}

/// What a run produced, in memory.
#[derive(Clone, Debug)]
pub struct Simulated {
    /// Probe records as CSV (`t_ns,component,kind,index,value`), canonical order.
    pub probes_csv: String,
    /// Number of probe records.
    pub records: usize,
    /// The protocol log.
    pub log: ProtocolLog,
    /// Every layer's conductances after the protocol, when asked for.
    pub weights: Option<SavedWeights>,
    /// The energy of the run (by class, layer and component kind).
    pub energy: EnergyReport,
}

/// Builds a checked topology with `seed` and runs its protocol on the reference
/// executor; writes nothing.
pub fn simulate(checked: &Checked, seed: u64) -> Result<Simulated> {
    simulate_on(checked, seed, ExecutorKind::Reference, 1)
}

/// [`simulate`] on any executor (the results are the same), with `workers` threads
/// (see [`ExecutorKind::executor`]).
pub fn simulate_on(
    checked: &Checked,
    seed: u64,
    executor: ExecutorKind,
    workers: usize,
) -> Result<Simulated> {
    simulate_capturing(checked, seed, executor, workers, false)
}

/// [`simulate_on`], also capturing every layer's conductances after the protocol when
/// `weights` is true.
pub fn simulate_capturing(
    checked: &Checked,
    seed: u64,
    executor: ExecutorKind,
    workers: usize,
    weights: bool,
) -> Result<Simulated> {
    let model = Model::from(checked.clone());
    let mut session = model.session(seed, executor, workers)?;
    let topo = model.topology();
    // A progress bar on long protocols (hidden when stderr is not a terminal).
    let bar = (topo.protocol.len() >= PROGRESS_MIN_STEPS).then(|| {
        let pb = indicatif::ProgressBar::new(topo.protocol.len() as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} steps ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.set_message(topo.name.clone());
        pb
    });
    let log = session.run_protocol_observed(|n| {
        if let Some(pb) = &bar {
            pb.set_position(n as u64);
        }
    });
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let log = log?;
    let weights = weights.then(|| session.weights());
    let names = session.network().names.clone();
    let name = |id: u32| {
        names
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    };
    let energy = session.energy();
    let records = session.records();
    Ok(Simulated {
        probes_csv: to_csv(records, name),
        records: records.len(),
        log,
        weights,
        energy,
    })
}

/// What `memsnn run` did.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Folder with `probes.csv` and `log.json`.
    pub dir: PathBuf,
    /// Number of probe records written.
    pub records: usize,
    /// The protocol log (also in `log.json`).
    pub log: ProtocolLog,
    /// The energy of the run (`energy` in `log.json`).
    pub energy: EnergyReport,
}

impl RunReport {
    /// One line per layer: neurons, spikes, fires.
    pub fn summary(&self) -> Vec<String> {
        self.log
            .layers
            .iter()
            .map(|(name, c)| {
                format!(
                    "layer {name}: {} neurons, {} spikes, {} fires",
                    c.fires_per_neuron.len(),
                    c.spikes,
                    c.fires
                )
            })
            .collect()
    }
}

/// The output folder `out` as an [`ExperimentDir`] (created with its parents).
fn output_dir(out: &Path) -> Result<ExperimentDir> {
    match (out.parent(), out.file_name()) {
        (Some(parent), Some(name)) => ExperimentDir::create(parent, &name.to_string_lossy()),
        _ => ExperimentDir::create(out, "."),
    }
}

/// `memsnn run`: loads, checks, builds and runs the topology at `path`, then writes
/// `probes.csv` and `log.json` atomically into `opts.out`.
pub fn run(path: &Path, opts: &RunConfig) -> Result<RunReport> {
    let executor: ExecutorKind = opts.executor.parse()?;
    let checked = load(path).map_err(|e| problems(path, e))?;
    crate::bench::check_memory(&checked, path)?;
    // Fail before the run, not after it, if the weights cannot be written there.
    if let Some(file) = &opts.save_weights {
        if file.is_dir() {
            bail!(
                "--save-weights {}: is a folder; name a file, e.g. {}",
                file.display(),
                file.join("weights.ron").display()
            );
        }
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("cannot create {} for --save-weights", parent.display())
            })?;
        }
    }
    let result = simulate_capturing(
        &checked,
        opts.seed,
        executor,
        opts.workers,
        opts.save_weights.is_some(),
    )?;
    // The weights first: if they cannot be written, the output folder is left as it was.
    if let (Some(file), Some(w)) = (&opts.save_weights, &result.weights) {
        let text = w.to_ron().context("cannot serialise the weights")?;
        crate::output::atomic_write(file, text.as_bytes())
            .with_context(|| format!("--save-weights {}", file.display()))?;
    }
    let dir = output_dir(&opts.out)?;
    dir.write_text("probes.csv", &result.probes_csv)?;
    if let Some(png) = &opts.plot {
        crate::run_plot::plot_probes(&result.probes_csv, png)?;
    }
    let mut log = serde_json::to_value(&result.log).context("cannot serialise the protocol log")?;
    if let Some(obj) = log.as_object_mut() {
        let energy = serde_json::to_value(&result.energy).context("cannot serialise energy")?;
        obj.insert("energy".into(), energy);
    }
    dir.write_json("log.json", &log)?;
    Ok(RunReport {
        dir: dir.path().to_path_buf(),
        records: result.records,
        log: result.log,
        energy: result.energy,
    })
}
