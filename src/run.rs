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

use crate::output::{absolute, ExperimentDir, StagedFile};
use anyhow::{anyhow, bail, Context, Result};
use runtime::engine::exec::ExecutorKind;
use runtime::model::energy::EnergyReport;
use runtime::model::protocol::ProtocolLog;
use runtime::model::topology::{build, load, Checked, SavedWeights, TopologyError};
use runtime::{Model, Session};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    /// Keep a checkpoint of the run (in [`checkpoint_dir`] of `out`), replaced between
    /// protocol steps once at least this many milliseconds of wall-clock time have passed
    /// since the last one (0: after every step).
    pub checkpoint_every_ms: Option<u64>,
    /// Continue the run from the checkpoint of `out` instead of starting it.
    pub resume: bool,
    /// The checkpoint folder, when it is not [`checkpoint_dir`] of `out` (an MPI rank
    /// other than 0 writes its outputs elsewhere but resumes from rank 0's checkpoint).
    pub checkpoint_at: Option<PathBuf>,
    /// Whether this process writes the checkpoint (and removes it once the run is in
    /// place): `false` on MPI ranks other than 0, which take part in taking it and leave
    /// the files to rank 0.
    pub writes_checkpoint: bool,
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
            checkpoint_every_ms: None,
            resume: false,
            checkpoint_at: None,
            writes_checkpoint: true,
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
    let mut csv = Vec::new();
    let s = simulate_streaming(checked, seed, executor, workers, weights, None, &mut csv)?;
    Ok(Simulated {
        probes_csv: String::from_utf8(csv).context("probe CSV")?,
        records: s.records as usize,
        log: s.log,
        weights: s.weights,
        energy: s.energy,
    })
}

/// What [`simulate_streaming`] produced besides the probe CSV.
#[derive(Clone, Debug)]
pub struct Streamed {
    /// Number of probe records written.
    pub records: u64,
    /// The protocol log.
    pub log: ProtocolLog,
    /// Every layer's conductances after the protocol, when asked for.
    pub weights: Option<SavedWeights>,
    /// The energy of the run (by class, layer and component kind).
    pub energy: EnergyReport,
}

/// Runs the protocol like [`simulate_capturing`] and writes the probe CSV (canonical order)
/// to `probes`. With a `spool` folder the records are streamed to run files there while
/// the protocol runs (a bounded number in memory, see [`runtime::model::spool::Spool`]) and
/// merged into `probes` at the end; the folder is removed before this returns.
pub fn simulate_streaming(
    checked: &Checked,
    seed: u64,
    executor: ExecutorKind,
    workers: usize,
    weights: bool,
    spool: Option<&Path>,
    probes: &mut impl std::io::Write,
) -> Result<Streamed> {
    let model = Model::from(checked.clone());
    let mut session = model.session(seed, executor, workers)?;
    if let Some(dir) = spool {
        session.stream_probes(dir)?;
    }
    run_session(&mut session, weights, probes, |_| Ok(()))
}

/// Runs the (rest of the) protocol of `session` like [`simulate_streaming`], calling
/// `between` after each step but the last (see [`Session::run_protocol_between`]).
pub fn run_session(
    session: &mut Session,
    weights: bool,
    probes: &mut impl std::io::Write,
    between: impl FnMut(&mut Session) -> std::result::Result<(), runtime::Error>,
) -> Result<Streamed> {
    let (steps, name) = (
        session.topology().protocol.len(),
        session.topology().name.clone(),
    );
    // A progress bar on long protocols (hidden when stderr is not a terminal).
    let bar = (steps >= PROGRESS_MIN_STEPS).then(|| {
        let pb = indicatif::ProgressBar::new(steps as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} steps ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb.set_message(name);
        pb
    });
    let log = session.run_protocol_between(
        |n| {
            if let Some(pb) = &bar {
                pb.set_position(n as u64);
            }
        },
        between,
    );
    if let Some(pb) = bar {
        pb.finish_and_clear();
    }
    let log = log?;
    let weights = weights.then(|| session.weights());
    let energy = session.energy();
    let records = session.write_probes_csv(probes)?;
    Ok(Streamed {
        records,
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

/// A file a run writes besides its folder (`--save-weights`, `--plot`): inside the output
/// folder (then part of it and of its manifest) or staged beside its own target.
enum Extra {
    /// Inside the output folder, at this relative path.
    Inside(PathBuf),
    /// Elsewhere.
    Outside(StagedFile),
}

/// Files of the output folder itself, which `--save-weights` and `--plot` may not name.
const RUN_FILES: [&str; 3] = ["probes.csv", "log.json", crate::output::MANIFEST];

impl Extra {
    /// Stages `file` (named by option `what`) before the run, so that an unwritable place
    /// is found before simulating.
    fn new(what: &str, file: &Path, dir: &ExperimentDir, suffix: &str) -> Result<Extra> {
        let full = absolute(file);
        if let Ok(rel) = full.strip_prefix(absolute(dir.path())) {
            let taken = rel.as_os_str().is_empty() || RUN_FILES.iter().any(|f| rel == Path::new(f));
            if taken {
                bail!(
                    "{what} {}: is the output folder or one of its files ({}); name another \
                     file",
                    file.display(),
                    RUN_FILES.join(", ")
                );
            }
            return Ok(Extra::Inside(rel.to_path_buf()));
        }
        StagedFile::new(file, suffix)
            .map(Extra::Outside)
            .with_context(|| format!("{what} {}", file.display()))
    }

    /// Where to write the content now.
    fn path(&self, dir: &ExperimentDir) -> Result<PathBuf> {
        match self {
            Extra::Inside(rel) => {
                let p = dir.staging().join(rel);
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("{}: cannot create", parent.display()))?;
                }
                Ok(p)
            }
            Extra::Outside(f) => Ok(f.staged().to_path_buf()),
        }
    }
}

/// The folder keeping the checkpoint of a run with `--out OUT`: `.NAME.checkpoint` beside
/// `OUT` (not inside it: an output folder holds exactly the files of its manifest, and is
/// replaced whole when the run ends; the checkpoint is removed then).
pub fn checkpoint_dir(out: &Path) -> Result<PathBuf> {
    let full = absolute(out);
    let name = full
        .file_name()
        .ok_or_else(|| anyhow!("--out {}: not a folder name", out.display()))?;
    Ok(full.with_file_name(format!(".{}.checkpoint", name.to_string_lossy())))
}

/// `memsnn run`: checks every argument and output path, then loads, checks, builds and
/// runs the topology at `path`, then replaces `opts.out` whole with `probes.csv`,
/// `log.json` and `manifest.json` (and the `--plot`/`--save-weights` files beside it, right
/// after the folder; inside it when they are named inside it).
pub fn run(path: &Path, opts: &RunConfig) -> Result<RunReport> {
    let executor: ExecutorKind = opts.executor.parse()?;
    let checkpoint = match &opts.checkpoint_at {
        Some(dir) => dir.clone(),
        None => checkpoint_dir(&opts.out)?,
    };
    if opts.resume
        && !checkpoint
            .join(runtime::model::checkpoint::STATE_FILE)
            .exists()
    {
        let named = if opts.checkpoint_at.is_some() {
            "--checkpoint-dir".to_string()
        } else {
            format!("--out {}", opts.out.display())
        };
        bail!(
            "--resume: {}: no checkpoint of {named} (a run with --checkpoint-every-ms keeps \
             one there until it finishes); give the --out and --checkpoint-dir of that run, \
             or run without --resume",
            checkpoint.display(),
        );
    }
    let checked = load(path).map_err(|e| problems(path, e))?;
    crate::bench::check_memory(&checked, path)?;
    // Every output is staged before the run: a bad path fails now, not after simulating.
    let mut dir =
        ExperimentDir::at(&opts.out).with_context(|| format!("--out {}", opts.out.display()))?;
    let weights = match &opts.save_weights {
        Some(file) => Some(Extra::new("--save-weights", file, &dir, "")?),
        None => None,
    };
    let plot = match &opts.plot {
        Some(file) => {
            let png = file
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("png"));
            if !png {
                bail!(
                    "--plot {}: figures are PNG images; name a .png file",
                    file.display()
                );
            }
            Some(Extra::new("--plot", file, &dir, ".png")?)
        }
        None => None,
    };
    let probes_path = dir.file("probes.csv");
    let result = {
        let file = std::fs::File::create(&probes_path)
            .with_context(|| format!("{}: cannot create", probes_path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
        let spool = dir.staging().join(".probe-spool");
        let model = Model::from(checked.clone());
        let mut session = if opts.resume {
            model
                .resume(&checkpoint, opts.seed, executor, opts.workers, &spool)
                .context("--resume")?
        } else {
            let mut s = model.session(opts.seed, executor, opts.workers)?;
            s.stream_probes(&spool)?;
            s
        };
        let every = opts.checkpoint_every_ms.map(Duration::from_millis);
        if every.is_some() {
            session
                .check_checkpointable()
                .context("--checkpoint-every-ms")?;
        }
        let mut last = Instant::now();
        let r = run_session(&mut session, opts.save_weights.is_some(), &mut w, |s| {
            // Every process of an MPI run takes the checkpoint at the same step.
            if every.is_some() && s.decide(every.is_some_and(|e| last.elapsed() >= e)) {
                if opts.writes_checkpoint {
                    s.write_checkpoint(&checkpoint)?;
                } else {
                    s.checkpoint()?;
                }
                last = Instant::now();
            }
            Ok(())
        })?;
        drop(session);
        std::io::Write::flush(&mut w).with_context(|| {
            format!("{}: write failed", dir.path().join("probes.csv").display())
        })?;
        r
    };
    write_log(&dir.file("log.json"), &result.log, &result.energy)?;
    if let (Some(extra), Some(w)) = (&weights, &result.weights) {
        let text = w.to_ron().context("cannot serialise the weights")?;
        let at = extra.path(&dir)?;
        std::fs::write(&at, text)
            .with_context(|| format!("--save-weights {}: write failed", at.display()))?;
    }
    if let Some(extra) = &plot {
        // The figure reads the CSV back whole (a plot of a very long run needs its size
        // in memory; the run itself does not).
        let csv = std::fs::read_to_string(&probes_path)
            .with_context(|| format!("{}: cannot read back", probes_path.display()))?;
        crate::run_plot::plot_probes(&csv, &extra.path(&dir)?)?;
    }
    for extra in [&weights, &plot].into_iter().flatten() {
        if let Extra::Outside(f) = extra {
            dir.note_outside(f.staged(), f.target())?;
        }
    }
    let at = dir.commit()?;
    for extra in [weights, plot].into_iter().flatten() {
        if let Extra::Outside(f) = extra {
            f.commit()?;
        }
    }
    // The result is in place: the checkpoint has nothing left to continue.
    if opts.writes_checkpoint && checkpoint.exists() {
        std::fs::remove_dir_all(&checkpoint)
            .with_context(|| format!("{}: cannot remove", checkpoint.display()))?;
    }
    Ok(RunReport {
        dir: at,
        records: result.records as usize,
        log: result.log,
        energy: result.energy,
    })
}

/// `log.json`: the protocol log with the run's energy as its `energy` member, keys in
/// sorted order, pretty-printed — streamed to `path` one step at a time, so a protocol of
/// many steps costs the file, not a JSON tree of it in memory.
fn write_log(path: &Path, log: &ProtocolLog, energy: &EnergyReport) -> Result<()> {
    use serde::ser::{Error as _, SerializeMap};
    use serde::{Serialize, Serializer};

    /// A value serialized through a `serde_json::Value`, whose maps' keys come out sorted.
    struct Sorted<T>(T);
    impl<T: Serialize> Serialize for Sorted<T> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            serde_json::to_value(&self.0)
                .map_err(S::Error::custom)?
                .serialize(s)
        }
    }
    struct Steps<'a>(&'a ProtocolLog);
    impl Serialize for Steps<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.collect_seq(self.0.steps.iter().map(Sorted))
        }
    }
    struct Log<'a>(&'a ProtocolLog, &'a EnergyReport);
    impl Serialize for Log<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(5))?;
            m.serialize_entry("end_ns", &self.0.end_ns)?;
            m.serialize_entry("energy", &Sorted(self.1))?;
            m.serialize_entry("layers", &Sorted(&self.0.layers))?;
            m.serialize_entry("steps", &Steps(self.0))?;
            m.serialize_entry("topology", &self.0.topology)?;
            m.end()
        }
    }

    let file = std::fs::File::create(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
    Log(log, energy)
        .serialize(&mut serde_json::Serializer::pretty(&mut w))
        .with_context(|| format!("{}: cannot write the protocol log", path.display()))?;
    std::io::Write::write_all(&mut w, b"\n")
        .and_then(|()| std::io::Write::flush(&mut w))
        .with_context(|| format!("{}: write failed", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed `log.json` is the JSON value of the log with `energy` added, keys
    /// sorted, pretty-printed — what building the whole value in memory writes.
    #[test]
    fn the_streamed_log_is_the_log_value_with_its_energy() {
        let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/msnn_30x10x10.ron");
        let model = Model::load(&topo).expect("shipped topology");
        let mut session = model
            .session(3, ExecutorKind::Reference, 1)
            .expect("session");
        let log = session.run_protocol().expect("protocol runs");
        let energy = session.energy();
        assert!(log.steps.len() > 10);
        let path = std::env::temp_dir().join(format!("memsnn-log-{}.json", std::process::id()));
        write_log(&path, &log, &energy).expect("written");
        let text = std::fs::read_to_string(&path).expect("read back");
        let _ = std::fs::remove_file(&path);
        let mut value = serde_json::to_value(&log).expect("log value");
        value.as_object_mut().expect("an object").insert(
            "energy".into(),
            serde_json::to_value(&energy).expect("energy"),
        );
        let want = serde_json::to_string_pretty(&value).expect("text") + "\n";
        assert_eq!(text, want);
    }
}
