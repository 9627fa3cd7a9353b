//! The MPI executor: the sharded executor's round protocol across processes — one
//! partition per MPI rank, each round's messages carried by MPI collectives — with
//! results bit-identical to [`reference::Simulation`](super::reference::Simulation) for
//! any number of ranks.
//!
//! # How it runs
//!
//! The program is SPMD: every rank loads the same topology, builds the same network and
//! runs the same protocol driver, so every rank makes the same calls on its executor in the
//! same order. The [balanced](super::sharded::Partition::balanced) partition has
//! `ranks × W` parts (`W` worker threads per rank, 1 by default); rank `r` owns parts
//! `r·W .. (r+1)·W` (a rank may own nothing when the network has fewer clusters than
//! parts) and simulates only their components, each part a round-protocol worker
//! (`rounds::Worker`). The rank's first worker runs on the thread that initialised MPI,
//! the others on threads of their own. The protocol is the one the
//! [`sharded`](super::sharded) module documents; per round:
//!
//! 1. the rank's workers leave their summaries and the events they produced at the rank's
//!    hub and wait; events for workers of the same rank go straight to their inboxes;
//! 2. the first worker encodes, for every other rank, the rank's summaries and the events
//!    for that rank's workers ([postcard](https://docs.rs/postcard): floating-point values
//!    keep their bits);
//! 3. `MPI_Alltoall` of the byte counts, then `MPI_Alltoallv` of the bytes; the first
//!    worker sorts what came into the inboxes and releases the others.
//!
//! Everything else a driver sees is made the same on every rank:
//!
//! * **injection** — every rank numbers every injected event (the same injector, called
//!   the same way) and keeps those for its own components;
//! * **end of a run** — one `MPI_Allgatherv` carries each rank's probe records, counters
//!   and, if the run stopped at a zero-time loop, its components of the looping batch:
//!   every rank then holds all records (concatenated by rank, as the sharded executor
//!   concatenates by worker), the event count of the whole network and the same
//!   [`ExecError`];
//! * **the network** — [`Executor::network`] shows every component's present state on
//!   every rank: the first call after a run gathers (`MPI_Allgatherv`) the saved states
//!   ([`Component::save_state`]) of the
//!   components each rank handled events for in that run, and loads them into the other
//!   ranks' copies. That call is collective: it works because every rank runs the same
//!   driver. A driver that reads the network after every short run pays for it (a learning
//!   layer's columns are a few kB each).
//!
//! # What is checked, and what fails how
//!
//! [`MpiSimulation::new`] is the ranks' *agreement point*: it first learns whether every
//! rank got there ([`agree`]; a rank whose input failed calls it with its failure), then
//! compares a fingerprint of every rank's network (names, kinds, wires, initial states,
//! and [`Network::source_digest`], the digest of the files it was built from, protocol
//! included) so that ranks that loaded different files stop with one message instead of
//! running different networks. Every component must be able to save its state (the
//! built-in ones can). After that point the ranks only meet in collectives they all make;
//! an error they all meet (a zero-time loop) is the same on every rank. A failure of one
//! rank alone after it must end the job ([`MpiRuntime::abort`]): the others would wait for
//! it. Every rank holds the whole network; only its own part runs there.
//!
//! **Checkpoints.** [`Executor::save_state`] is collective: the ranks gather their
//! emission counters and pending events, share their components' states, and every rank
//! returns the whole state — the same data as under any other executor, so a checkpoint
//! taken under MPI resumes on any executor and any rank count, and the other way round.
//! [`Executor::load_state`] restores it on every rank. Whoever writes the files (the
//! `memsnn` command: rank 0) decides when with [`Executor::decide`], which every rank
//! calls at the same point. MPI must be initialised by the program ([`MpiRuntime::init`])
//! before an executor is made, and finalised after the last is dropped.

use super::core::{check_wires, Injector, Key};
use super::error::ExecError;
use super::executor::{Executor, RoundStats};
use super::rounds::{Link, PeerGone, Summary, Topo, Vacant, Worker};
use super::sharded::Partition;
use crate::engine::checkpoint::{check_savable, ExecState, StateError};
use crate::engine::component::Component;
use crate::engine::event::{CompId, Event, LinePattern, Payload, Port};
use crate::engine::network::Network;
use crate::engine::probe::Record;
use crate::engine::time::{Clock, Ns};
use crossbeam_channel::{unbounded, Receiver, Sender};
use mpi::collective::SystemOperation;
use mpi::datatype::{Partition as Parts, PartitionMut as PartsMut};
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// MPI, initialised for this process; dropping it finalises MPI (drop it after the last
/// executor, before the process exits).
pub struct MpiRuntime {
    _universe: Universe,
    world: SimpleCommunicator,
}

impl MpiRuntime {
    /// Initialises MPI (under `mpirun`, or as a single rank without it).
    pub fn init() -> Result<Self, ExecError> {
        // Worker threads inside a rank never call MPI: only the thread that initialised
        // it does (the rank's lead worker), which is what `Funneled` promises.
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled).ok_or(
            ExecError::Mpi("MPI was already initialised in this process".into()),
        )?;
        let world = universe.world();
        // A panic on one rank must not leave the others waiting in a collective: the
        // process ends at once, on whichever thread panicked (no MPI call, which only the
        // first thread may make), and mpirun ends the job when a rank exits non-zero.
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            std::process::exit(101);
        }));
        Ok(MpiRuntime {
            _universe: universe,
            world,
        })
    }

    /// This process's rank, `0..ranks()`.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// Number of ranks.
    pub fn ranks(&self) -> usize {
        self.world.size() as usize
    }

    /// Whether the ranks still have to meet at their agreement point (no MPI executor was
    /// made since the last [`MpiRuntime::fail`]): a rank that fails before it must call
    /// [`MpiRuntime::fail`], or the others wait for it.
    pub fn agreement_pending(&self) -> bool {
        !AGREED.load(Ordering::SeqCst)
    }

    /// This rank failed before the agreement point: meets the others there. Returns the
    /// lowest failing rank (the one that reports its failure).
    pub fn fail(&self) -> usize {
        agree(&self.world, false).unwrap_or(self.rank())
    }

    /// Ends every rank of the job now, with exit status `code` (`MPI_Abort`): for a
    /// failure of this rank alone after the agreement point, which the others, waiting
    /// in a collective, would never learn of.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// The lowest rank that failed before the last agreement point, if any did.
    pub fn failed_rank(&self) -> Option<usize> {
        match FAILED.load(Ordering::SeqCst) {
            usize::MAX => None,
            r => Some(r),
        }
    }
}

/// Set when the ranks met at an agreement point.
static AGREED: AtomicBool = AtomicBool::new(false);
/// The lowest rank that failed before the last agreement point (`usize::MAX`: none).
static FAILED: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The ranks' agreement point: every rank says whether it got here (`ok`); returns the
/// lowest rank that did not, if any.
pub fn agree(world: &SimpleCommunicator, ok: bool) -> Option<usize> {
    let mine: u32 = if ok { u32::MAX } else { world.rank() as u32 };
    let mut lowest = u32::MAX;
    world.all_reduce_into(&mine, &mut lowest, SystemOperation::min());
    AGREED.store(true, Ordering::SeqCst);
    let failed = (lowest != u32::MAX).then_some(lowest as usize);
    FAILED.store(failed.unwrap_or(usize::MAX), Ordering::SeqCst);
    failed
}

/// `MPI_Allgatherv` of byte strings: every rank's `mine`, by rank.
fn all_gather_bytes(world: &SimpleCommunicator, mine: &[u8]) -> Vec<Vec<u8>> {
    let n = world.size() as usize;
    let len = count(mine.len());
    let mut counts = vec![0i32; n];
    world.all_gather_into(&len, &mut counts[..]);
    let displs = displacements(&counts);
    let total = counts.iter().map(|&c| c as usize).sum();
    let mut buf = vec![0u8; total];
    {
        let mut parts = PartsMut::new(&mut buf[..], &counts[..], &displs[..]);
        world.all_gather_varcount_into(mine, &mut parts);
    }
    split(&buf, &counts, &displs)
}

/// A length as an MPI count.
///
/// # Panics
/// Beyond 2 GiB in one message (MPI counts are 32-bit): a round's events for one rank,
/// or the states one rank shares, would have to reach that.
fn count(len: usize) -> i32 {
    i32::try_from(len).expect("an MPI message of more than 2 GiB")
}

/// Where each rank's part starts in a buffer of all the parts.
///
/// # Panics
/// If the parts together exceed 2 GiB (MPI displacements are 32-bit).
fn displacements(counts: &[i32]) -> Vec<i32> {
    let mut at = 0i32;
    counts
        .iter()
        .map(|&c| {
            let d = at;
            at = at
                .checked_add(c)
                .expect("MPI messages of more than 2 GiB in all");
            d
        })
        .collect()
}

fn split(buf: &[u8], counts: &[i32], displs: &[i32]) -> Vec<Vec<u8>> {
    counts
        .iter()
        .zip(displs)
        .map(|(&c, &d)| buf[d as usize..(d + c) as usize].to_vec())
        .collect()
}

/// A worker's round messages: its events for every worker, and its summary.
type Deposit = (Vec<Vec<Event>>, Summary);
/// What a worker receives in a round: its events, and every worker's summary.
type Delivery = (Vec<Event>, Vec<Arc<Summary>>);

/// Where the workers of one rank meet every round: each leaves its messages here, the
/// rank's lead worker (on the thread that talks MPI) exchanges them with the other ranks
/// and hands every worker what came for it.
struct Hub {
    /// Global index of the rank's first worker; its workers are `first..first + per_rank`.
    first: usize,
    /// Workers per rank (rank `q` holds workers `q * per_rank..`).
    per_rank: usize,
    topo: Arc<Topo>,
    deposits: Mutex<Vec<Option<Deposit>>>,
    inbox: Mutex<Vec<Option<Delivery>>>,
    barrier: SpinBarrier,
}

impl Hub {
    /// Leaves worker `me`'s round messages (taking `out`, left empty).
    fn deposit(&self, me: usize, out: &mut [Vec<Event>], summary: Summary) {
        let out: Vec<Vec<Event>> = out.iter_mut().map(std::mem::take).collect();
        lock(&self.deposits)[me - self.first] = Some((out, summary));
    }

    /// Takes worker `me`'s delivery: its events (handed to `deliver`) and every summary.
    fn collect(&self, me: usize, deliver: &mut dyn FnMut(Event)) -> Vec<Arc<Summary>> {
        let (events, sums) = lock(&self.inbox)[me - self.first]
            .take()
            .expect("the lead worker filled every inbox");
        events.into_iter().for_each(deliver);
        sums
    }
}

/// A barrier for a rank's workers that spins, then yields, while it waits: a round
/// lasts tens of microseconds, shorter than a blocking wake-up (the sharded executor's
/// channels wait the same way).
struct SpinBarrier {
    parties: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(parties: usize) -> Self {
        SpinBarrier {
            parties,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    fn wait(&self) {
        if self.parties == 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut tries = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if tries < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
            tries = tries.saturating_add(1);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned hub means a worker panicked, and the panic hook aborts the job.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The [`Link`] of a rank's other workers (threads): they only meet at the hub.
struct MemberLink {
    hub: Arc<Hub>,
}

impl Link for MemberLink {
    fn exchange(
        &mut self,
        me: usize,
        out: &mut [Vec<Event>],
        summary: Summary,
        deliver: &mut dyn FnMut(Event),
    ) -> Result<Vec<Arc<Summary>>, PeerGone> {
        self.hub.deposit(me, out, summary);
        self.hub.barrier.wait();
        self.hub.barrier.wait();
        Ok(self.hub.collect(me, deliver))
    }
}

/// The [`Link`] of a rank's lead worker: it gathers the rank's messages at the hub and
/// exchanges them with the other ranks in one all-to-all.
struct LeadLink {
    hub: Arc<Hub>,
    world: SimpleCommunicator,
    bytes_sent: u64,
    exchange_s: f64,
}

impl LeadLink {
    /// One round across ranks: every worker's deposit in, every worker's inbox out.
    fn exchange_ranks(&mut self) {
        let hub = &*self.hub;
        let t0 = Instant::now();
        let deposits: Vec<Deposit> = lock(&hub.deposits)
            .iter_mut()
            .map(|d| d.take().expect("every local worker deposited"))
            .collect();
        let ranks = self.world.size() as usize;
        let me = self.world.rank() as usize;
        let n = ranks * hub.per_rank;
        let mut inbox: Vec<Vec<Event>> = (0..hub.per_rank).map(|_| Vec::new()).collect();
        let mut away: Vec<Vec<Event>> = (0..ranks).map(|_| Vec::new()).collect();
        let mut local_sums = Vec::with_capacity(hub.per_rank);
        for (out, summary) in deposits {
            for (p, events) in out.into_iter().enumerate() {
                if events.is_empty() {
                    continue;
                }
                if (hub.first..hub.first + hub.per_rank).contains(&p) {
                    inbox[p - hub.first].extend(events);
                } else {
                    away[p / hub.per_rank].extend(events);
                }
            }
            local_sums.push(summary);
        }
        let mut sums: Vec<Option<Arc<Summary>>> = vec![None; n];
        if ranks > 1 {
            let mut send = Vec::new();
            let mut counts = vec![0i32; ranks];
            for (q, events) in away.iter().enumerate() {
                if q != me {
                    let start = send.len();
                    send = postcard::to_extend(&(&local_sums, &Outgoing::of(events)), send)
                        .expect("round messages always encode");
                    counts[q] = count(send.len() - start);
                }
            }
            let mut recv_counts = vec![0i32; ranks];
            self.world
                .all_to_all_into(&counts[..], &mut recv_counts[..]);
            let displs = displacements(&counts);
            let recv_displs = displacements(&recv_counts);
            let mut recv = vec![0u8; recv_counts.iter().map(|&c| c as usize).sum()];
            {
                let parts = Parts::new(&send[..], &counts[..], &displs[..]);
                let mut parts_mut =
                    PartsMut::new(&mut recv[..], &recv_counts[..], &recv_displs[..]);
                self.world.all_to_all_varcount_into(&parts, &mut parts_mut);
            }
            for q in (0..ranks).filter(|&q| q != me) {
                let at = recv_displs[q] as usize;
                let bytes = &recv[at..at + recv_counts[q] as usize];
                let (theirs, incoming): (Vec<Summary>, Incoming) =
                    postcard::from_bytes(bytes).expect("round messages of the same program decode");
                for ev in incoming.events() {
                    let w = hub.topo.owner[ev.dst as usize] as usize;
                    inbox[w - hub.first].push(ev);
                }
                for (i, s) in theirs.into_iter().enumerate() {
                    sums[q * hub.per_rank + i] = Some(Arc::new(s));
                }
            }
            self.bytes_sent += send.len() as u64;
        }
        for (i, s) in local_sums.into_iter().enumerate() {
            sums[hub.first + i] = Some(Arc::new(s));
        }
        let sums: Vec<Arc<Summary>> = sums
            .into_iter()
            .map(|s| s.expect("a summary from every worker"))
            .collect();
        let mut boxes = lock(&hub.inbox);
        for (slot, events) in boxes.iter_mut().zip(inbox) {
            *slot = Some((events, sums.clone()));
        }
        drop(boxes);
        if ranks > 1 {
            self.exchange_s += t0.elapsed().as_secs_f64();
        }
    }
}

impl Link for LeadLink {
    fn exchange(
        &mut self,
        me: usize,
        out: &mut [Vec<Event>],
        summary: Summary,
        deliver: &mut dyn FnMut(Event),
    ) -> Result<Vec<Arc<Summary>>, PeerGone> {
        let hub = Arc::clone(&self.hub);
        hub.deposit(me, out, summary);
        hub.barrier.wait();
        self.exchange_ranks();
        hub.barrier.wait();
        Ok(hub.collect(me, deliver))
    }
}

/// A round's events for one rank, each input pattern once: a pattern that several events
/// carry (a wide fan-out travels as one marker per worker, but a rank may hold several
/// workers, and a layer gets several patterns) would otherwise travel once per event
/// (~3 kB each at 784 lines). The receiver shares one copy among its events, as the
/// sender did.
#[derive(Serialize)]
struct Outgoing<'a> {
    patterns: Vec<&'a LinePattern>,
    events: Vec<EventOut<'a>>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    time: Ns,
    delta: u32,
    dst: CompId,
    port: Port,
    src: CompId,
    seq: u64,
    payload: PayloadOut<'a>,
}

/// A payload, or the index of its pattern in [`Outgoing::patterns`] (the variants match
/// [`PayloadIn`]'s, in order: postcard writes the variant's index).
#[derive(Serialize)]
enum PayloadOut<'a> {
    Pattern(u32),
    Other(&'a Payload),
}

impl<'a> Outgoing<'a> {
    fn of(events: &'a [Event]) -> Self {
        let mut patterns: Vec<&'a LinePattern> = Vec::new();
        let mut index: HashMap<*const LinePattern, u32> = HashMap::new();
        let events = events
            .iter()
            .map(|ev| EventOut {
                time: ev.time,
                delta: ev.delta,
                dst: ev.dst,
                port: ev.port,
                src: ev.src,
                seq: ev.seq,
                payload: match &ev.payload {
                    Payload::Pattern(p) => {
                        PayloadOut::Pattern(*index.entry(Arc::as_ptr(p)).or_insert_with(|| {
                            patterns.push(p);
                            patterns.len() as u32 - 1
                        }))
                    }
                    other => PayloadOut::Other(other),
                },
            })
            .collect();
        Outgoing { patterns, events }
    }
}

#[derive(Deserialize)]
struct Incoming {
    patterns: Vec<LinePattern>,
    events: Vec<EventIn>,
}

#[derive(Deserialize)]
struct EventIn {
    time: Ns,
    delta: u32,
    dst: CompId,
    port: Port,
    src: CompId,
    seq: u64,
    payload: PayloadIn,
}

#[derive(Deserialize)]
enum PayloadIn {
    Pattern(u32),
    Other(Payload),
}

impl Incoming {
    /// The events, each pattern shared by the events that carry it.
    fn events(self) -> impl Iterator<Item = Event> {
        let patterns: Vec<Arc<LinePattern>> = self.patterns.into_iter().map(Arc::new).collect();
        self.events.into_iter().map(move |e| Event {
            time: e.time,
            delta: e.delta,
            dst: e.dst,
            port: e.port,
            src: e.src,
            seq: e.seq,
            payload: match e.payload {
                PayloadIn::Pattern(i) => Payload::Pattern(Arc::clone(
                    patterns
                        .get(i as usize)
                        .expect("round messages of the same program decode"),
                )),
                PayloadIn::Other(p) => p,
            },
        })
    }
}

/// What one worker did in one run.
struct WorkerEnd {
    comps: Vec<Box<dyn Component>>,
    records: Vec<Record>,
    events: u64,
    batches: u64,
    remote_events: u64,
    rounds: u64,
    critical: u64,
    looping: Option<(Key, Vec<CompId>)>,
    /// Its components that handled an event or started.
    changed: Vec<CompId>,
}

/// Runs worker `w` with its components `comps` until `until` (starting them first if
/// `start`), after pushing `injected`.
fn run_worker<L: Link>(
    w: &mut Worker<L>,
    comps: Vec<Box<dyn Component>>,
    injected: Vec<Event>,
    start: bool,
    until: Ns,
) -> WorkerEnd {
    w.comps = comps;
    for ev in injected {
        w.queue.push(ev);
    }
    if start {
        w.start();
    }
    // The MPI links never report a gone peer: a panicking rank aborts the job.
    let _ = w.run(until);
    let looping = w.halted.map(|k| (k, w.queue.looping(k)));
    let mut changed = Vec::new();
    if let Some(t) = &mut w.touched {
        for (i, flag) in t.iter_mut().enumerate() {
            if std::mem::take(flag) {
                changed.push(w.ids[i]);
            }
        }
    }
    w.events_at_round = 0;
    WorkerEnd {
        comps: std::mem::take(&mut w.comps),
        records: std::mem::take(&mut w.scratch.records),
        events: std::mem::take(&mut w.events),
        batches: std::mem::take(&mut w.batches),
        remote_events: std::mem::take(&mut w.remote_events),
        rounds: std::mem::take(&mut w.rounds),
        critical: std::mem::take(&mut w.critical),
        looping,
        changed,
    }
}

/// A run command for a rank's worker thread.
struct RunCmd {
    until: Ns,
    start: bool,
    comps: Vec<Box<dyn Component>>,
    injected: Vec<Event>,
}

/// What a rank's worker thread is told to do.
enum MemberCmd {
    /// Run (its reply goes to the rank's reply channel).
    Run(RunCmd),
    /// Send its emission counters and pending events (for a checkpoint).
    Save(Sender<(Vec<u64>, Vec<Event>)>),
    /// Take these emission counters and pending events (a restored state).
    Load { seq: Vec<u64>, events: Vec<Event> },
}

/// A rank's worker thread: does what it is told, until its command channel closes.
fn member_main(
    mut w: Worker<MemberLink>,
    cmds: Receiver<MemberCmd>,
    replies: Sender<(usize, WorkerEnd)>,
) {
    while let Ok(c) = cmds.recv() {
        match c {
            MemberCmd::Run(c) => {
                let end = run_worker(&mut w, c.comps, c.injected, c.start, c.until);
                if replies.send((w.me, end)).is_err() {
                    return;
                }
            }
            MemberCmd::Save(to) => {
                if to.send(w.saved()).is_err() {
                    return;
                }
            }
            MemberCmd::Load { seq, events } => w.restore(seq, events),
        }
    }
}

/// What each rank tells the others at the end of a run.
#[derive(Serialize, Deserialize, Default)]
struct RunEnd {
    /// Probe record kinds, indexed by the records.
    kinds: Vec<String>,
    /// `(time, comp, kind index, index, value)`.
    records: Vec<(Ns, CompId, u32, u32, f64)>,
    events: u64,
    batches: u64,
    remote_events: u64,
    /// The zero-time loop the run halted at, with this rank's components of its batch.
    looping: Option<(Key, Vec<CompId>)>,
}

/// A network simulated by MPI ranks (module docs).
pub struct MpiSimulation {
    world: SimpleCommunicator,
    rank: usize,
    /// The rank's first worker, on this thread (it talks MPI for the rank).
    lead: Worker<LeadLink>,
    /// Commands to the rank's other workers, each on a thread of its own.
    members: Vec<Sender<MemberCmd>>,
    threads: Vec<JoinHandle<()>>,
    replies: Receiver<(usize, WorkerEnd)>,
    /// Global index of the rank's first worker.
    first: usize,
    /// The components of each of the rank's workers, by local index.
    local_ids: Vec<Vec<CompId>>,
    partition: Partition,
    /// Components in the network.
    components: usize,
    /// The network once every rank's latest states are in it.
    synced: OnceCell<Network>,
    /// The network after a run, and the components of this rank that changed in it.
    stale: RefCell<Option<(Network, Vec<CompId>)>>,
    injector: Injector,
    /// Injected events for each of the rank's workers, by local index.
    pending: Vec<Vec<Event>>,
    now: Ns,
    started: bool,
    records: Vec<Record>,
    kinds: Vec<&'static str>,
    stats: RoundStats,
    events: u64,
    halted: Option<ExecError>,
}

impl MpiSimulation {
    /// A simulation of `net` on the ranks of `MPI_COMM_WORLD`, at time 0, with
    /// `workers_per_rank` worker threads on each rank (at least one; the partition has
    /// `ranks × workers_per_rank` parts, and the rank's first worker runs on the calling
    /// thread, which must be the one that initialised MPI); every rank calls this with the
    /// same network and worker count. This is the ranks' agreement point (module docs):
    /// it fails if any rank failed before it ([`ExecError::PeerFailed`]), if MPI is not
    /// initialised, if the ranks built different networks, or if a component cannot
    /// save its state.
    pub fn new(net: Network, workers_per_rank: usize) -> Result<Self, ExecError> {
        if !mpi::environment::is_initialized() || mpi::environment::is_finalized() {
            return Err(ExecError::Mpi(
                "MPI is not initialised in this process; call MpiRuntime::init first (the \
                 memsnn command does it for `--executor mpi`)"
                    .into(),
            ));
        }
        let world = SimpleCommunicator::world();
        if let Some(rank) = agree(&world, true) {
            return Err(ExecError::PeerFailed { rank });
        }
        let world = world.duplicate();
        let rank = world.rank() as usize;
        let ranks = world.size() as usize;
        // One message if the ranks did not build the same network (before anything a rank
        // could refuse alone).
        let print = fingerprint(&net);
        let prints = all_gather_bytes(&world, &print);
        if let Some(other) = prints.iter().position(|p| *p != prints[0]) {
            return Err(ExecError::Mpi(format!(
                "rank {other} built another network than rank 0 (other topology, protocol, \
                 device, pattern or weights files, or another seed); give every rank the \
                 same files and arguments"
            )));
        }
        // The same network on every rank: this check fails on all of them or none.
        check_savable(&net).map_err(|e| {
            ExecError::Mpi(format!(
                "{e}; under MPI every component must save its state"
            ))
        })?;
        // No more threads than a rank could give components to.
        let per_rank = workers_per_rank.clamp(1, net.len().div_ceil(ranks).max(1));
        let parts = ranks * per_rank;
        let partition = Partition::balanced(&net, parts);
        let members: Vec<Vec<CompId>> = (0..parts)
            .map(|g| {
                if g < partition.workers() {
                    partition.members(g)
                } else {
                    Vec::new()
                }
            })
            .collect();
        let owner: Vec<u32> = (0..net.len() as CompId)
            .map(|id| partition.owner(id).unwrap_or(0) as u32)
            .collect();
        let topo = Arc::new(Topo::new(&net, &owner, &members));
        let first = rank * per_rank;
        let hub = Arc::new(Hub {
            first,
            per_rank,
            topo: Arc::clone(&topo),
            deposits: Mutex::new(vec![None; per_rank]),
            inbox: Mutex::new(vec![None; per_rank]),
            barrier: SpinBarrier::new(per_rank),
        });
        let local_ids: Vec<Vec<CompId>> = members[first..first + per_rank].to_vec();
        let worker = |g: usize| {
            let ids = members[g].clone();
            let touched = Some(vec![false; ids.len()]);
            (ids, touched)
        };
        let (ids, touched) = worker(first);
        let link = LeadLink {
            hub: Arc::clone(&hub),
            world: world.duplicate(),
            bytes_sent: 0,
            exchange_s: 0.0,
        };
        let mut lead = Worker::new(first, parts, Arc::clone(&topo), ids, link);
        lead.touched = touched;
        let (reply_tx, replies) = unbounded();
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        for g in first + 1..first + per_rank {
            let (ids, touched) = worker(g);
            let link = MemberLink {
                hub: Arc::clone(&hub),
            };
            let mut w = Worker::new(g, parts, Arc::clone(&topo), ids, link);
            w.touched = touched;
            let (tx, rx) = unbounded();
            let replies = reply_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("memsnn-rank{rank}-worker{}", g - first))
                .spawn(move || member_main(w, rx, replies))
                // As the sharded executor: a process that cannot start a thread is out
                // of resources (the panic ends the job).
                .expect("cannot start a worker thread");
            senders.push(tx);
            threads.push(handle);
        }
        let halted = check_wires(&net).err();
        let synced = OnceCell::new();
        let _ = synced.set(net);
        Ok(MpiSimulation {
            world,
            rank,
            lead,
            members: senders,
            threads,
            replies,
            first,
            local_ids,
            partition,
            components: owner.len(),
            synced,
            stale: RefCell::new(None),
            injector: Injector::default(),
            pending: (0..per_rank).map(|_| Vec::new()).collect(),
            now: 0,
            started: false,
            records: Vec::new(),
            kinds: Vec::new(),
            stats: RoundStats {
                partitions: parts,
                ..RoundStats::default()
            },
            events: 0,
            halted,
        })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The partition of the components over ranks.
    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// The network, and this rank's components that changed since the ranks last
    /// shared their states.
    fn take_network(&mut self) -> (Network, Vec<CompId>) {
        match self.synced.take() {
            Some(net) => (net, Vec::new()),
            None => self
                .stale
                .get_mut()
                .take()
                .expect("the network is synced or stale"),
        }
    }

    /// Interns a record kind received from another rank.
    fn kind(&mut self, name: &str) -> &'static str {
        if let Some(k) = self.kinds.iter().find(|k| **k == name) {
            return k;
        }
        let k: &'static str = Box::leak(name.to_string().into_boxed_str());
        self.kinds.push(k);
        k
    }

    /// Sends the states of this rank's components `changed` to every other rank and
    /// loads theirs into `net` (collective: every rank calls it at the same point, with
    /// its own list). Nothing to do on one rank.
    fn share_states(&self, net: &mut Network, changed: &[CompId]) {
        if self.world.size() == 1 {
            return;
        }
        let states: Vec<(CompId, Vec<u8>)> = changed
            .iter()
            .map(|&id| {
                let state = net.components[id as usize]
                    .save_state()
                    .expect("every component was checked to save its state");
                (id, state)
            })
            .collect();
        let bytes = postcard::to_allocvec(&states).expect("states always encode");
        for (r, bytes) in all_gather_bytes(&self.world, &bytes)
            .into_iter()
            .enumerate()
        {
            if r == self.rank {
                continue;
            }
            let states: Vec<(CompId, Vec<u8>)> =
                postcard::from_bytes(&bytes).expect("states of the same program decode");
            for (id, state) in states {
                net.components[id as usize]
                    .load_state(&state)
                    .expect("a state saved by the same component kind loads");
            }
        }
    }

    fn run_until_inner(&mut self, until: Ns) {
        if self.halted.is_some() || (self.started && until <= self.now) {
            return;
        }
        let start = !self.started;
        self.started = true;
        let (mut net, mut changed) = self.take_network();
        let local = self.local_ids.len();
        for (l, tx) in self.members.iter().enumerate() {
            let cmd = RunCmd {
                until,
                start,
                comps: take_comps(&mut net, &self.local_ids[l + 1]),
                injected: std::mem::take(&mut self.pending[l + 1]),
            };
            tx.send(MemberCmd::Run(cmd))
                .expect("a rank's worker threads live as long as it");
        }
        let comps = take_comps(&mut net, &self.local_ids[0]);
        let injected = std::mem::take(&mut self.pending[0]);
        let lead = run_worker(&mut self.lead, comps, injected, start, until);
        let mut ends: Vec<Option<WorkerEnd>> = (0..local).map(|_| None).collect();
        ends[0] = Some(lead);
        for _ in 1..local {
            let (g, end) = self
                .replies
                .recv()
                .expect("a rank's worker threads live as long as it");
            ends[g - self.first] = Some(end);
        }
        // Records, counters and the halt of the rank's workers, in worker order.
        let mut end = RunEnd::default();
        for (l, w) in ends.into_iter().enumerate() {
            let w = w.expect("every worker replied");
            for (&id, c) in self.local_ids[l].iter().zip(w.comps) {
                net.components[id as usize] = c;
            }
            changed.extend(w.changed);
            end.events += w.events;
            end.batches += w.batches;
            end.remote_events += w.remote_events;
            if l == 0 {
                self.stats.rounds += w.rounds;
                self.stats.critical_events += w.critical;
            }
            if let Some((key, ids)) = w.looping {
                end.looping.get_or_insert((key, Vec::new())).1.extend(ids);
            }
            for r in w.records {
                let k = match end.kinds.iter().position(|k| k == r.kind) {
                    Some(k) => k,
                    None => {
                        end.kinds.push(r.kind.to_string());
                        end.kinds.len() - 1
                    }
                };
                end.records
                    .push((r.time, r.comp, k as u32, r.index, r.value));
            }
        }
        changed.sort_unstable();
        changed.dedup();
        let bytes = postcard::to_allocvec(&end).expect("run ends always encode");
        let ends = all_gather_bytes(&self.world, &bytes);
        let mut halt: Option<(Key, Vec<CompId>)> = None;
        for bytes in ends {
            let end: RunEnd =
                postcard::from_bytes(&bytes).expect("run ends of the same program decode");
            let kinds: Vec<&'static str> = end.kinds.iter().map(|k| self.kind(k)).collect();
            self.records.extend(
                end.records
                    .into_iter()
                    .map(|(time, comp, k, index, value)| Record {
                        time,
                        comp,
                        kind: kinds[k as usize],
                        index,
                        value,
                    }),
            );
            self.events += end.events;
            self.stats.batches += end.batches;
            self.stats.remote_events += end.remote_events;
            if let Some((key, ids)) = end.looping {
                halt.get_or_insert((key, Vec::new())).1.extend(ids);
            }
        }
        self.stats.bytes_sent = self.lead.link.bytes_sent;
        self.stats.exchange_s = self.lead.link.exchange_s;
        if let Some(((t, _), mut ids)) = halt {
            ids.sort_unstable();
            ids.dedup();
            self.halted = Some(ExecError::zero_time_loop(t, ids, &net.names));
            self.now = self.now.max(t);
        } else {
            self.now = self.now.max(until);
        }
        *self.stale.get_mut() = Some((net, changed));
    }
}

/// Moves the components `ids` out of `net` (vacant stand-ins stay), in that order.
fn take_comps(net: &mut Network, ids: &[CompId]) -> Vec<Box<dyn Component>> {
    ids.iter()
        .map(|&id| std::mem::replace(&mut net.components[id as usize], Box::new(Vacant)))
        .collect()
}

impl Drop for MpiSimulation {
    fn drop(&mut self) {
        // Closing the command channels ends the worker threads.
        self.members.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What must be equal for two ranks to be running the same network.
fn fingerprint(net: &Network) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(net.source_digest.unwrap_or_default());
    h.update(format!("{:?}", net.clock).as_bytes());
    h.update((net.len() as u64).to_le_bytes());
    for (i, c) in net.components.iter().enumerate() {
        h.update(net.names[i].as_bytes());
        h.update([0]);
        h.update(c.kind().as_bytes());
        h.update([0]);
        if let Ok(state) = c.save_state() {
            h.update((state.len() as u64).to_le_bytes());
            h.update(&state);
        }
        for wires in &net.routes[i] {
            h.update((wires.len() as u64).to_le_bytes());
            for &(dst, port) in wires {
                h.update(dst.to_le_bytes());
                h.update(port.to_le_bytes());
            }
        }
    }
    h.finalize().to_vec()
}

impl Executor for MpiSimulation {
    fn now(&self) -> Ns {
        self.now
    }

    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        if self.halted.is_some() {
            return;
        }
        match self
            .injector
            .event(self.now, (at, dst, port), payload, self.components)
        {
            Ok(ev) => {
                let g = self.lead.topo.owner[dst as usize] as usize;
                if let Some(p) = g
                    .checked_sub(self.first)
                    .and_then(|l| self.pending.get_mut(l))
                {
                    p.push(ev);
                }
            }
            Err(e) => self.halted = Some(e),
        }
    }

    fn run_until(&mut self, until: Ns) {
        self.run_until_inner(until)
    }

    fn run_instant(&mut self) {
        let now = self.now;
        self.run_until_inner(now.saturating_add(1));
        self.now = now;
    }

    fn network(&self) -> &Network {
        if let Some(net) = self.synced.get() {
            return net;
        }
        let (mut net, changed) = self
            .stale
            .borrow_mut()
            .take()
            .expect("the network is synced or stale");
        self.share_states(&mut net, &changed);
        let _ = self.synced.set(net);
        self.synced.get().expect("just synced")
    }

    fn network_of(&mut self, ids: &[CompId]) -> &Network {
        if self.synced.get().is_some() || self.world.size() == 1 {
            return self.network();
        }
        let (mut net, changed) = self
            .stale
            .get_mut()
            .take()
            .expect("the network is synced or stale");
        let mut wanted = ids.to_vec();
        wanted.sort_unstable();
        let (ship, keep): (Vec<CompId>, Vec<CompId>) = changed
            .into_iter()
            .partition(|id| wanted.binary_search(id).is_ok());
        self.share_states(&mut net, &ship);
        let stale = self.stale.get_mut().insert((net, keep));
        &stale.0
    }

    fn clock(&self) -> Clock {
        self.lead.topo.clock
    }

    fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    fn handled_events(&self) -> u64 {
        self.events
    }

    fn halted(&self) -> Option<&ExecError> {
        self.halted.as_ref()
    }

    fn round_stats(&self) -> Option<RoundStats> {
        Some(self.stats.clone())
    }

    /// The state of the whole network on every rank (a collective: every rank calls it
    /// at the same point): the ranks' emission counters and pending events are gathered
    /// (`MPI_Allgatherv`), and the component states shared as for [`Executor::network`].
    fn save_state(&mut self) -> Result<ExecState, StateError> {
        if let Some(e) = &self.halted {
            return Err(StateError::Halted(e.to_string()));
        }
        let mut seq_here: Vec<(CompId, u64)> = Vec::new();
        let mut pending_here: Vec<Event> = self.pending.iter().flatten().cloned().collect();
        let (seq, events) = self.lead.saved();
        seq_here.extend(self.local_ids[0].iter().copied().zip(seq));
        pending_here.extend(events);
        for (l, tx) in self.members.iter().enumerate() {
            let (to, from) = unbounded();
            tx.send(MemberCmd::Save(to))
                .expect("a rank's worker threads live as long as it");
            let (seq, events) = from
                .recv()
                .expect("a rank's worker threads live as long as it");
            seq_here.extend(self.local_ids[l + 1].iter().copied().zip(seq));
            pending_here.extend(events);
        }
        let bytes =
            postcard::to_allocvec(&(seq_here, pending_here)).expect("counters and events encode");
        let mut seq = vec![0; self.components];
        let mut pending = Vec::new();
        for bytes in all_gather_bytes(&self.world, &bytes) {
            let (counts, events): (Vec<(CompId, u64)>, Vec<Event>) =
                postcard::from_bytes(&bytes).expect("states of the same program decode");
            for (id, c) in counts {
                seq[id as usize] = c;
            }
            pending.extend(events);
        }
        let now = (self.now, self.started, self.injector.count(), self.events);
        ExecState::capture(self.network(), now, seq, pending)
    }

    /// Restores `state` on every rank (each rank restores every component, as every rank
    /// holds the whole network, and keeps the pending events of its own).
    fn load_state(&mut self, state: &ExecState) -> Result<(), StateError> {
        let net = match self.synced.get_mut() {
            Some(net) if !self.started => net,
            _ => {
                return Err(StateError::Mismatch(
                    "a state can be restored only into an executor that has not run yet".into(),
                ))
            }
        };
        state.restore_components(net)?;
        let local = self.local_ids.len();
        let mut events: Vec<Vec<Event>> = (0..local).map(|_| Vec::new()).collect();
        for ev in &state.pending {
            // `restore_components` checked every destination: it has an owner.
            let g = self.lead.topo.owner[ev.dst as usize] as usize;
            if let Some(l) = g.checked_sub(self.first).filter(|&l| l < local) {
                events[l].push(ev.clone());
            }
        }
        let seq_of = |l: usize| -> Vec<u64> {
            self.local_ids[l]
                .iter()
                .map(|&id| state.seq[id as usize])
                .collect()
        };
        let mut events = events.into_iter();
        self.lead
            .restore(seq_of(0), events.next().unwrap_or_default());
        for (l, (tx, evs)) in self.members.iter().zip(events).enumerate() {
            let cmd = MemberCmd::Load {
                seq: seq_of(l + 1),
                events: evs,
            };
            tx.send(cmd)
                .expect("a rank's worker threads live as long as it");
        }
        self.pending.iter_mut().for_each(Vec::clear);
        self.injector = Injector::resumed(state.injected);
        self.now = state.now;
        self.started = state.started;
        self.events = state.handled_events;
        Ok(())
    }

    fn decide(&self, mine: bool) -> bool {
        let mine = u8::from(mine);
        let mut any = 0u8;
        self.world
            .all_reduce_into(&mine, &mut any, SystemOperation::max());
        any != 0
    }
}
