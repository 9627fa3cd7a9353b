//! The embedding façade: a [`Model`] is a checked topology, a [`Session`] is one run of it.
//!
//! ```no_run
//! use runtime::{ExecutorKind, Model};
//!
//! let model = Model::load("topologies/fig3b.ron")?;
//! let mut session = model.session(1, ExecutorKind::Sharded, 2)?;
//! session.run_protocol()?;
//! for fire in session.fires() {
//!     println!("{} ns: {}[{}]", fire.time_ns, fire.layer, fire.neuron);
//! }
//! # Ok::<(), runtime::Error>(())
//! ```
//!
//! The pipeline is the command line's: load and check every file once ([`Checked`]), build
//! with a seed, hand the network to an executor, drive the topology's protocol. A model can
//! be edited in code ([`Model::edit`]: the edited topology is checked again, never built
//! unchecked) and opened as many sessions as wanted; a session owns its executor.

use crate::engine::checkpoint::{check_savable, StateError};
use crate::engine::event::CompId;
use crate::engine::exec::{ExecError, Executor, ExecutorKind};
use crate::engine::network::Network;
use crate::engine::probe::{canonical_sort, Probe, Record};
use crate::engine::time::Ns;
use crate::model::checkpoint::{fingerprint, Checkpoint, CheckpointError};
use crate::model::energy::EnergyReport;
use crate::model::protocol::{
    finish, run_step, NetworkIds, ProtocolError, ProtocolLog, StepRecord,
};
use crate::model::spool::Spool;
use crate::model::streaming::Streaming;
use crate::model::topology::{
    build, load, Checked, LayerIds, ProbeSelection, SavedWeights, Topology, TopologyError,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything that can go wrong between a file and a finished run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A topology, device, pattern or saved-weights file has problems (each located).
    #[error("{0}")]
    Topology(#[from] TopologyError),
    /// The executor could not start or stopped (e.g. a zero-time loop).
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A protocol step failed.
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// A file could not be written.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Probe records could not be spooled or written.
    #[error("probe records: {0}")]
    Probes(#[from] std::io::Error),
    /// A checkpoint could not be written or read, or is not of this run.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// The network's state could not be saved or restored.
    #[error("checkpoint: {0}")]
    State(#[from] StateError),
}

/// A checked topology, ready to run with any seed on any executor.
#[derive(Clone, Debug)]
pub struct Model {
    checked: Arc<Checked>,
}

impl Model {
    /// Loads and checks the topology at `path` and every file it names.
    pub fn load(path: impl AsRef<Path>) -> Result<Model, Error> {
        Ok(Model::from(load(path.as_ref())?))
    }

    /// The model with its topology changed by `f`, checked again.
    pub fn edit(&self, f: impl FnOnce(&mut Topology)) -> Result<Model, Error> {
        Ok(Model::from(Checked::clone(&self.checked).edit(f)?))
    }

    /// The topology as checked.
    pub fn topology(&self) -> &Topology {
        self.checked.topology()
    }

    /// Everything the check resolved (devices, patterns, saved weights).
    pub fn checked(&self) -> &Checked {
        &self.checked
    }

    /// Builds the network with `seed` (every random stream is keyed by it) and starts it
    /// on `executor` with `workers` threads (sharded, actix; ignored by the reference).
    pub fn session(
        &self,
        seed: u64,
        executor: ExecutorKind,
        workers: usize,
    ) -> Result<Session, Error> {
        let mut built = build(&self.checked, seed)?;
        let selection = ProbeSelection::new(self.checked.topology(), &built);
        // Filter at the source: a probed component records only the kinds asked for.
        for (&id, kinds) in &selection.kinds {
            let probe = kinds.clone().map_or(Probe::All, Probe::Kinds);
            built.builder.probe_with(id, probe);
        }
        let ids = NetworkIds::of(&built);
        let layers = built.layers.clone();
        let mut net = built.builder.build();
        net.source_digest = Some(self.checked.digest());
        let exec = executor.executor(net, workers)?;
        Ok(Session {
            checked: Arc::clone(&self.checked),
            seed,
            executor,
            steps_done: Vec::new(),
            exec,
            ids,
            layers,
            selection,
            records: Vec::new(),
            spool: None,
        })
    }
}

impl Model {
    /// A session continuing the run whose checkpoint is in the folder `dir` (see
    /// [`crate::model::checkpoint`]), on any executor: built with `seed` (refused if the
    /// checkpoint is of another seed or another topology), its state restored, its probe
    /// records streamed to `spool` (as [`Session::stream_probes`]) after those of the
    /// checkpoint. [`Session::run_protocol`] then runs the steps left.
    pub fn resume(
        &self,
        dir: &Path,
        seed: u64,
        executor: ExecutorKind,
        workers: usize,
        spool: &Path,
    ) -> Result<Session, Error> {
        let cp = Checkpoint::read(dir)?;
        cp.check_run(dir, &self.checked, seed)?;
        let mut session = self.session(seed, executor, workers)?;
        session.exec.load_state(&cp.exec)?;
        session.spool = Some(match &cp.spool {
            Some(state) => Spool::resume(spool, Spool::RUN_RECORDS, state, dir)?,
            None => Spool::new(spool)?,
        });
        session.steps_done = cp.steps;
        Ok(session)
    }
}

impl From<Checked> for Model {
    fn from(checked: Checked) -> Self {
        Model {
            checked: Arc::new(checked),
        }
    }
}

/// A fire of one neuron.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fire {
    /// When the TS device switched on, ns.
    pub time_ns: Ns,
    /// The neuron's layer (its name in the topology).
    pub layer: String,
    /// The neuron's index in its layer.
    pub neuron: usize,
}

/// One run of a [`Model`]: a built network on an executor.
pub struct Session {
    checked: Arc<Checked>,
    seed: u64,
    executor: ExecutorKind,
    /// The protocol steps done by the run in progress (restored by a resume).
    steps_done: Vec<StepRecord>,
    exec: Box<dyn Executor>,
    ids: NetworkIds,
    layers: BTreeMap<String, LayerIds>,
    selection: ProbeSelection,
    records: Vec<Record>,
    spool: Option<Spool>,
}

impl Session {
    /// The topology being run.
    pub fn topology(&self) -> &Topology {
        self.checked.topology()
    }

    /// The root seed the network was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Runs the topology's protocol from the current time.
    pub fn run_protocol(&mut self) -> Result<ProtocolLog, Error> {
        self.run_protocol_observed(|_| {})
    }

    /// [`Session::run_protocol`], calling `done` with the number of steps finished after
    /// each step (for a progress display).
    pub fn run_protocol_observed(&mut self, done: impl FnMut(usize)) -> Result<ProtocolLog, Error> {
        self.run_protocol_between(done, |_| Ok(()))
    }

    /// [`Session::run_protocol_observed`], calling `between` after each step but the last
    /// (with the session as it stands there: for [`Session::write_checkpoint`]). A
    /// session restored by [`Model::resume`] runs the steps left and returns the log of
    /// the whole protocol.
    pub fn run_protocol_between(
        &mut self,
        mut done: impl FnMut(usize),
        mut between: impl FnMut(&mut Session) -> Result<(), Error>,
    ) -> Result<ProtocolLog, Error> {
        let checked = Arc::clone(&self.checked);
        let topo = checked.topology();
        let steps = topo.protocol.len();
        let mut run = || -> Result<(), Error> {
            while self.steps_done.len() < steps {
                let index = self.steps_done.len();
                let log = match &mut self.spool {
                    Some(spool) => {
                        let mut streaming =
                            Streaming::new(self.exec.as_mut(), spool, &self.selection);
                        let log =
                            run_step(&mut streaming, &self.ids, topo, checked.patterns(), index);
                        streaming.finish()?;
                        log?
                    }
                    None => run_step(
                        self.exec.as_mut(),
                        &self.ids,
                        topo,
                        checked.patterns(),
                        index,
                    )?,
                };
                self.steps_done.push(log);
                done(index + 1);
                if index + 1 < steps {
                    between(self)?;
                }
            }
            Ok(())
        };
        let result = run();
        let steps = std::mem::take(&mut self.steps_done);
        result?;
        self.collect()?;
        Ok(finish(self.exec.as_ref(), &self.ids, topo, steps))
    }

    /// Fails, naming the first component that cannot save its state, unless every
    /// component of the network can (checked before a run that takes checkpoints).
    pub fn check_checkpointable(&self) -> Result<(), Error> {
        Ok(check_savable(self.exec.network())?)
    }

    /// The run's state now (between two protocol steps, see [`crate::model::checkpoint`]),
    /// with the probe spool's run files it names. Needs streamed probes
    /// ([`Session::stream_probes`]) if any record was taken.
    pub fn checkpoint(&mut self) -> Result<(Checkpoint, Vec<PathBuf>), Error> {
        self.collect()?;
        let (spool, runs) = match &mut self.spool {
            Some(spool) => {
                let (state, runs) = spool.save_state()?;
                (Some(state), runs)
            }
            None if self.records.is_empty() => (None, Vec::new()),
            None => {
                return Err(Error::State(StateError::Mismatch(
                    "probe records are kept in memory; a checkpoint needs them streamed \
                     (Session::stream_probes)"
                        .into(),
                )))
            }
        };
        let checkpoint = Checkpoint {
            topology: self.checked.topology().name.clone(),
            fingerprint: fingerprint(&self.checked),
            seed: self.seed,
            executor: self.executor.to_string(),
            exec: self.exec.save_state()?,
            steps: self.steps_done.clone(),
            spool,
        };
        Ok((checkpoint, runs))
    }

    /// A yes-or-no decision every process of the run takes alike
    /// ([`Executor::decide`]): under MPI, whether any rank says yes; otherwise `mine`.
    /// For decisions from a clock, such as when to take the next checkpoint.
    pub fn decide(&self, mine: bool) -> bool {
        self.exec.decide(mine)
    }

    /// Writes [`Session::checkpoint`] into the folder `dir`, replacing the checkpoint there
    /// atomically ([`Checkpoint::write`]).
    pub fn write_checkpoint(&mut self, dir: &Path) -> Result<(), Error> {
        let (checkpoint, runs) = self.checkpoint()?;
        checkpoint.write(dir, &runs)?;
        Ok(())
    }

    /// From now on, streams probe records to run files in `dir` (created, and removed with
    /// the session) instead of keeping them in memory: at most [`Spool::RUN_RECORDS`]
    /// records are held at a time, whatever the length of the protocol. Write them with
    /// [`Session::write_probes_csv`]; [`Session::records`] and [`Session::fires`] then see
    /// none.
    pub fn stream_probes(&mut self, dir: &Path) -> Result<(), Error> {
        self.stream_probes_with(dir, Spool::RUN_RECORDS)
    }

    /// [`Session::stream_probes`] holding at most `run_records` records in memory.
    pub fn stream_probes_with(&mut self, dir: &Path, run_records: usize) -> Result<(), Error> {
        self.collect()?;
        let mut spool = Spool::with_run_records(dir, run_records)?;
        spool.push(std::mem::take(&mut self.records))?;
        self.spool = Some(spool);
        Ok(())
    }

    /// Writes the probe records so far as CSV (`t_ns,component,kind,index,value`,
    /// canonical order: identical bytes on every executor) to `out`; returns how many.
    pub fn write_probes_csv(&mut self, out: &mut impl std::io::Write) -> Result<u64, Error> {
        self.collect()?;
        let names = &self.exec.network().names;
        let name = |id: CompId| {
            names
                .get(id as usize)
                .cloned()
                .unwrap_or_else(|| format!("#{id}"))
        };
        match &mut self.spool {
            Some(spool) => Ok(spool.write_csv(out, name)?),
            None => {
                out.write_all(crate::engine::probe::to_csv(&self.records, name).as_bytes())?;
                Ok(self.records.len() as u64)
            }
        }
    }

    /// Moves the executor's new probe records into the session, or its spool (only the
    /// signals the topology's probes ask for).
    fn collect(&mut self) -> Result<(), Error> {
        let new = self.selection.filter(self.exec.take_records());
        if new.is_empty() {
            return Ok(());
        }
        match &mut self.spool {
            Some(spool) => spool.push(new)?,
            None => {
                self.records.extend(new);
                canonical_sort(&mut self.records);
            }
        }
        Ok(())
    }

    /// The probe records so far, in canonical order (time, component, kind, index); none
    /// once they are streamed ([`Session::stream_probes`]).
    pub fn records(&mut self) -> &[Record] {
        // An error can only come from a spool, and then no record is kept in memory.
        let _ = self.collect();
        &self.records
    }

    /// The probed neurons' fires so far, in time order.
    pub fn fires(&mut self) -> Vec<Fire> {
        let _ = self.collect();
        let whose: BTreeMap<CompId, (&str, usize)> = self
            .layers
            .iter()
            .flat_map(|(name, l)| {
                l.neurons
                    .iter()
                    .enumerate()
                    .map(move |(j, &id)| (id, (name.as_str(), j)))
            })
            .collect();
        self.records
            .iter()
            .filter(|r| r.kind == "fire")
            .filter_map(|r| {
                whose.get(&r.comp).map(|&(layer, neuron)| Fire {
                    time_ns: r.time,
                    layer: layer.to_string(),
                    neuron,
                })
            })
            .collect()
    }

    /// The energy dissipated so far, by class, layer and component kind (see
    /// [`EnergyReport`]).
    pub fn energy(&self) -> EnergyReport {
        EnergyReport::of(self.exec.network(), &self.layers, self.exec.now())
    }

    /// Every layer's component ids.
    pub fn layers(&self) -> &BTreeMap<String, LayerIds> {
        &self.layers
    }

    /// The executor (to inject events or run further by hand).
    pub fn executor(&mut self) -> &mut dyn Executor {
        self.exec.as_mut()
    }

    /// The network as it stands (components can be inspected).
    pub fn network(&self) -> &Network {
        self.exec.network()
    }

    /// Every layer's conductances now: what survives power-off.
    pub fn weights(&self) -> SavedWeights {
        SavedWeights::capture(
            &self.checked.topology().name,
            self.seed,
            self.exec.network(),
            self.exec.now(),
            &self.layers,
        )
    }

    /// Writes [`Session::weights`] to `path` as RON (which `initial: Saved(..)` reads
    /// back), replacing the file whole: a temporary file beside it, then a rename.
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let fail = |message: String| Error::Write {
            path: path.to_path_buf(),
            message,
        };
        let text = self.weights().to_ron().map_err(|e| fail(e.to_string()))?;
        let name = path
            .file_name()
            .ok_or_else(|| fail("not a file name".into()))?;
        let tmp = path.with_file_name(format!(
            ".{}.tmp-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        std::fs::write(&tmp, text).map_err(|e| fail(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e.to_string())
        })
    }
}
