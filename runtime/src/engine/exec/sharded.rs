//! The sharded executor: components partitioned over worker threads that exchange events
//! through `crossbeam-channel`, with results bit-identical to
//! [`reference::Simulation`](super::reference::Simulation) for any worker count.
//!
//! # What must be identical
//!
//! Components share no state, so a run is determined by the sequence of events each
//! component handles. The reference delivers events in `(time, delta)` batches and, within
//! a batch, gives each component its events sorted by `(src, seq)`, where `seq` counts
//! every copy a source delivers: one per fan-out wire of each emission (emission order,
//! then fan-out order), then one per wake-up. This executor reproduces exactly that:
//!
//! * **seq numbering** is done by the worker that owns the *source*, through the executors'
//!   shared `core` and `route`, for local and remote destinations alike; injected events get
//!   `src = EXTERNAL` and the external counter, assigned by the caller's thread in call
//!   order;
//! * a worker handles its components' events in `(time, delta)` order, each local batch
//!   sorted by `(dst, src, seq)`; a worker only handles a batch once no other worker can
//!   still send it an event with a key at or before that batch's key (below);
//! * every probe record is made by the worker owning its component, in that component's
//!   handling order, so the records concatenated over workers equal the reference's after
//!   [`canonical_sort`](crate::engine::probe::canonical_sort) (a stable sort whose key includes
//!   the component).
//!
//! # Partition
//!
//! [`Partition::balanced`] (the default): components joined by wires in *both* directions
//! (a neuron and its synapse column exchange their Thevenin sources) form a cluster that is
//! never split; clusters, ordered by their smallest id, are cut into `workers` contiguous
//! runs of about equal component counts; a lone component then joins the worker holding
//! most of the components it feeds (an LIA bank goes with its columns). If there are
//! fewer clusters than workers, the
//! components themselves are cut into contiguous id ranges. Nothing about the network's
//! shape is assumed; any other assignment can be given with [`Partition::new`] (results do
//! not depend on it, only speed does). The worker count is clamped to
//! `1..=components`; workers left without components are dropped.
//!
//! # Protocol (conservative, with delta lookahead)
//!
//! Every wire has zero latency in time — an event handled at `(t, d)` emits at
//! `(t, d + 1)`; the lateral-inhibition path neuron → LIA → column gates is three such hops
//! within one instant — so no time window is safe in general. The lookahead is in delta
//! cycles instead. `D_r(x)` is the fewest wires on any path (through any workers) from
//! component `x` to a component of worker `r`, computed once by a breadth-first search on
//! the reversed wires. An event pending at `x` with key `(t, d)` can make anything arrive
//! at worker `r` no earlier than `(t, d + D_r(x))`: each hop adds a delta, and wake-ups are
//! at the same instant with a larger delta or at a later time.
//!
//! Workers proceed in *rounds*. At the end of a round each worker sends every other worker
//! one message (one channel per ordered pair): the events it produced for it (`seq`
//! already assigned) and a summary — its earliest pending time, the earliest time it sent
//! to each worker, its *promise* to each worker `r` (the minimum of `(t, d + D_r(x))` over
//! its pending events) and the same bound for the events it sent this round (their
//! receivers learn of them only in the next round, so the sender vouches for their
//! consequences). After receiving all messages a worker knows a lower bound on the key of
//! anything that can still arrive at it; this *horizon* is the minimum of the other
//! workers' promises and of every worker's bound on its in-flight events. The worker
//! handles every local batch with a key strictly below its horizon (and time below
//! `until`). When it sends an event at `m` to component `y` of another worker, the
//! consequences could come back at `m + D_me(y)`, so its horizon shrinks to that; and it
//! ends its round right after a batch that sent anything, so that the receivers work on
//! those events in the next round while it works on its own (this is what splits a
//! fan-out — an input pattern or the LIA's gates to hundreds of columns — across workers).
//! Such a fan-out travels as one *marker* per receiving worker rather than one event per
//! wire: the sender numbers every wire as usual but builds only its own wires' events;
//! each receiver rebuilds its own, with the same numbers and payload values, so the
//! events are those of the uncut route and only the thread that makes them changes
//! (`core::FanoutCuts`; a pattern into 1,600 columns on two workers used to cost the
//! sender 1,600 events and the receiver nothing).
//! The worker holding the globally earliest key always makes progress (every bound lies at
//! least one delta beyond it), and every worker decides to stop from the same summaries
//! (no event anywhere before `until`), so all stop in the same round.
//!
//! Zero-delay wires are therefore exact: a neuron's lateral-inhibition level sent to the
//! LIA at `(t, d + 1)` lies within every other worker's bound, so no worker handles
//! `(t, d + 1)` or later until the LIA's worker has had it; the gates the LIA emits at
//! `(t, d + 2)` likewise reach the columns' workers before any of them passes that key;
//! each hop costs at most one round.
//!
//! **Zero-time loops** halt the run where the reference halts it (see
//! `core`): at the first batch beyond the delta limit, after every earlier
//! batch on every worker. A worker's horizon therefore also stays at or below the looping
//! delta of the earliest instant any other worker may still hold an event at (a loop can
//! only appear there), which costs nothing when the workers reach each other; a worker
//! that meets a looping batch at the head of its queue leaves it there and says so in its
//! summary; every worker then handles what lies before that key and no more, and all stop
//! in the same round, each naming its components of the looping batch.
//!
//! **What this buys.** Parallelism comes from work at the same instant: the fan-outs above
//! and the cascades they start (columns → neurons → columns). Work at distinct instants
//! serialises: worker A can only pass worker B's next pending time once B has shown it
//! sent nothing earlier, because any event could, at zero delay, reach A. In a
//! winner-take-all layer every neuron reaches every worker within two or three hops, so
//! workers leapfrog each other's next events (about one round per instant at which
//! something happens). [`ShardedStats::critical_events`] measures it: the sum over rounds
//! of the most events one worker handled. Time lookahead would need latencies on wires in
//! the event model or components that promise quiet intervals (e.g. "no emission before
//! my next wake-up unless an input arrives"); neither is in the present component API.
//!
//! The gain over the reference therefore grows with the fan-out: a small learning layer
//! keeps most of its events on the critical path, while a large read-mode layer, where every
//! fire fans out to hundreds of columns, spreads them over the workers
//! (`MEMSNN_EXEC_BENCH=1 cargo test --release -p memsnn-runtime --test executors --
//! --nocapture bench` measures both, with the round overhead). More workers than cores only
//! add rounds.
//!
//! # Threads
//!
//! Workers are long-lived threads, parked on a command channel between
//! [`ShardedSimulation::run_until`] calls. The components live in the [`Network`] between
//! runs (so [`ShardedSimulation::network`] inspects them) and are moved to their workers
//! for the duration of a run (a pointer move per component). A panic in a component ends
//! its worker; the others stop, and the panic is resumed on the caller's thread.

use super::core::{check_wires, Injector, Key};
use super::error::ExecError;
use super::rounds::{Link, PeerGone, Summary, Topo, Vacant, Worker};
use crate::engine::checkpoint::{ExecState, StateError};
use crate::engine::component::Component;
use crate::engine::event::{CompId, Event, Payload, Port};
use crate::engine::exec::Executor;
use crate::engine::network::Network;
use crate::engine::probe::Record;
use crate::engine::time::Ns;
use crossbeam_channel::{unbounded, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Why a partition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    /// The assignment does not have one entry per component.
    #[error("the partition assigns {given} components but the network has {expected}; give one worker index per component id")]
    Length {
        /// Components in the network.
        expected: usize,
        /// Entries in the assignment.
        given: usize,
    },
    /// A component is assigned to a worker index that does not exist.
    #[error("component {component} is assigned to worker {worker} but there are {workers} workers; use indices 0..{workers}")]
    Worker {
        /// The component.
        component: CompId,
        /// Its worker index.
        worker: usize,
        /// Number of workers.
        workers: usize,
    },
}

/// An assignment of components to workers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    owner: Vec<u32>,
    workers: usize,
}

impl Partition {
    /// `owner[id]` is the worker of component `id`, `< workers`. Workers that get no
    /// component are dropped (the others are renumbered in order).
    pub fn new(net: &Network, owner: &[usize], workers: usize) -> Result<Self, PartitionError> {
        if owner.len() != net.len() {
            return Err(PartitionError::Length {
                expected: net.len(),
                given: owner.len(),
            });
        }
        for (id, &w) in owner.iter().enumerate() {
            if w >= workers {
                return Err(PartitionError::Worker {
                    component: id as CompId,
                    worker: w,
                    workers,
                });
            }
        }
        Ok(Self::compact(owner, workers))
    }

    /// The default partition (module docs): clusters of mutually wired components, cut
    /// into `workers` contiguous runs of about equal size.
    pub fn balanced(net: &Network, workers: usize) -> Self {
        let n = net.len();
        let workers = workers.clamp(1, n.max(1));
        if workers == 1 {
            return Self::compact(&vec![0; n], 1);
        }
        // Union-find over wires present in both directions.
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        // Distinct directed pairs; a pair present both ways is mutual.
        let mut directed: Vec<(usize, usize)> = Vec::new();
        for (src, ports) in net.routes.iter().enumerate() {
            for wires in ports {
                for &(dst, _) in wires {
                    if (dst as usize) != src && (dst as usize) < n {
                        directed.push((src, dst as usize));
                    }
                }
            }
        }
        directed.sort_unstable();
        directed.dedup();
        for &(a, b) in &directed {
            if a < b && directed.binary_search(&(b, a)).is_ok() {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                if ra != rb {
                    parent[ra.max(rb)] = ra.min(rb);
                }
            }
        }
        // Clusters ordered by their smallest member (roots are the smallest members).
        let roots: Vec<usize> = (0..n).map(|x| find(&mut parent, x)).collect();
        let mut size = vec![0usize; n];
        for &r in &roots {
            size[r] += 1;
        }
        let clusters: Vec<usize> = (0..n).filter(|&x| roots[x] == x).collect();
        let mut owner = vec![0usize; n];
        if clusters.len() >= workers {
            let mut shard_of = vec![0usize; n];
            let mut before = 0usize;
            for &c in &clusters {
                let mid = before + size[c] / 2;
                shard_of[c] = (mid * workers / n).min(workers - 1);
                before += size[c];
            }
            for x in 0..n {
                owner[x] = shard_of[roots[x]];
            }
            // A lone component that fans out (an LIA bank, an input generator) joins the
            // worker holding most of the components it feeds: its fan-out stays local.
            let mut members = vec![0usize; workers];
            for &o in &owner {
                members[o] += 1;
            }
            for x in 0..n {
                if size[roots[x]] != 1 || members[owner[x]] == 1 {
                    continue;
                }
                let mut count = vec![0usize; workers];
                for wires in &net.routes[x] {
                    for &(dst, _) in wires {
                        if (dst as usize) < n && dst as usize != x {
                            count[owner[dst as usize]] += 1;
                        }
                    }
                }
                if count.iter().sum::<usize>() < 2 {
                    continue;
                }
                let best = (0..workers).max_by_key(|&w| (count[w], std::cmp::Reverse(w)));
                if let Some(w) = best.filter(|&w| count[w] > count[owner[x]]) {
                    members[owner[x]] -= 1;
                    members[w] += 1;
                    owner[x] = w;
                }
            }
        } else {
            for (x, o) in owner.iter_mut().enumerate() {
                *o = x * workers / n;
            }
        }
        Self::compact(&owner, workers)
    }

    /// Drops workers without components, renumbering the others in order.
    fn compact(owner: &[usize], workers: usize) -> Self {
        let mut used = vec![false; workers.max(1)];
        for &w in owner {
            used[w] = true;
        }
        let mut map = vec![0u32; used.len()];
        let mut k = 0u32;
        for (w, &u) in used.iter().enumerate() {
            map[w] = k;
            if u {
                k += 1;
            }
        }
        Partition {
            owner: owner.iter().map(|&w| map[w]).collect(),
            workers: (k as usize).max(1),
        }
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The worker of component `id`, if it exists.
    pub fn owner(&self, id: CompId) -> Option<usize> {
        self.owner.get(id as usize).map(|&w| w as usize)
    }

    /// The components of worker `w`, ascending.
    pub fn members(&self, w: usize) -> Vec<CompId> {
        (0..self.owner.len() as CompId)
            .filter(|&id| self.owner[id as usize] as usize == w)
            .collect()
    }
}

/// Counters of work done.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardedStats {
    /// Events delivered to components (equals the reference's count).
    pub events: u64,
    /// Local `(time, delta)` batches, summed over workers (a global batch split over `k`
    /// workers counts `k` times).
    pub batches: u64,
    /// Synchronisation rounds (every worker takes part in every round).
    pub rounds: u64,
    /// Events sent from one worker to another.
    pub remote_events: u64,
    /// Sum over rounds of the most events any one worker handled in the round: the work
    /// on the critical path (`events / critical_events` is the parallelism the partition
    /// and the network's causality allow).
    pub critical_events: u64,
    /// Events delivered, per worker.
    pub worker_events: Vec<u64>,
}

/// One round's message from one worker to another.
struct RoundMsg {
    events: Vec<Event>,
    summary: Arc<Summary>,
}
/// Commands from the caller's thread.
enum Cmd {
    Run {
        until: Ns,
        start: bool,
        comps: Vec<Box<dyn Component>>,
        injected: Vec<Event>,
    },
    /// Sends back the worker's emission counters and pending events.
    Save(Sender<(Vec<u64>, Vec<Event>)>),
    /// Replaces the worker's emission counters and pending events.
    Load {
        seq: Vec<u64>,
        events: Vec<Event>,
    },
    Shutdown,
}

/// A worker's answer to [`Cmd::Run`].
struct Reply {
    shard: usize,
    comps: Vec<Box<dyn Component>>,
    records: Vec<Record>,
    events: u64,
    critical: u64,
    batches: u64,
    rounds: u64,
    remote_events: u64,
    /// The run halted at this zero-time loop; the worker's components in its batch.
    halted: Option<(Key, Vec<CompId>)>,
}
/// Busy-wait attempts before a blocking receive, and how many of them only spin.
const SPIN_TRIES: u32 = 100_000;
const SPIN_HINTS: u32 = 50;

/// The threads' [`Link`]: one channel per ordered pair of workers.
struct Channels {
    tx: Vec<Option<Sender<RoundMsg>>>,
    rx: Vec<Option<Receiver<RoundMsg>>>,
}

impl Channels {
    /// Waits for the next message on `rx`, spinning briefly before blocking.
    fn recv(rx: &Receiver<RoundMsg>) -> Result<RoundMsg, PeerGone> {
        for i in 0..SPIN_TRIES {
            match rx.try_recv() {
                Ok(m) => return Ok(m),
                Err(TryRecvError::Disconnected) => return Err(PeerGone),
                Err(TryRecvError::Empty) => {
                    if i < SPIN_HINTS {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
        rx.recv().map_err(|_| PeerGone)
    }
}

impl Link for Channels {
    fn exchange(
        &mut self,
        me: usize,
        out: &mut [Vec<Event>],
        summary: Summary,
        deliver: &mut dyn FnMut(Event),
    ) -> Result<Vec<Arc<Summary>>, PeerGone> {
        let summary = Arc::new(summary);
        for (p, tx) in self.tx.iter().enumerate() {
            if let Some(tx) = tx {
                let msg = RoundMsg {
                    events: std::mem::take(&mut out[p]),
                    summary: Arc::clone(&summary),
                };
                tx.send(msg).map_err(|_| PeerGone)?;
            }
        }
        let mut sums = Vec::with_capacity(self.rx.len());
        for (p, rx) in self.rx.iter().enumerate() {
            match rx {
                Some(rx) => {
                    let msg = Self::recv(rx)?;
                    msg.events.into_iter().for_each(&mut *deliver);
                    sums.push(msg.summary);
                }
                None => {
                    debug_assert_eq!(p, me, "every pair of workers has a channel");
                    sums.push(Arc::clone(&summary));
                }
            }
        }
        Ok(sums)
    }
}
fn worker_main(mut w: Worker<Channels>, cmds: Receiver<Cmd>, replies: Sender<Reply>) {
    while let Ok(cmd) = cmds.recv() {
        match cmd {
            Cmd::Run {
                until,
                start,
                comps,
                injected,
            } => {
                w.comps = comps;
                for ev in injected {
                    w.queue.push(ev);
                }
                if start {
                    w.start();
                }
                if w.run(until).is_err() {
                    return;
                }
                let halted = w.halted.map(|k| (k, w.queue.looping(k)));
                let reply = Reply {
                    shard: w.me,
                    comps: std::mem::take(&mut w.comps),
                    records: std::mem::take(&mut w.scratch.records),
                    events: {
                        w.events_at_round = 0;
                        std::mem::take(&mut w.events)
                    },
                    critical: std::mem::take(&mut w.critical),
                    batches: std::mem::take(&mut w.batches),
                    rounds: std::mem::take(&mut w.rounds),
                    remote_events: std::mem::take(&mut w.remote_events),
                    halted,
                };
                if replies.send(reply).is_err() {
                    return;
                }
            }
            Cmd::Save(to) => {
                if to.send(w.saved()).is_err() {
                    return;
                }
            }
            Cmd::Load { seq, events } => w.restore(seq, events),
            Cmd::Shutdown => return,
        }
    }
}

/// A network simulated by worker threads (module docs).
pub struct ShardedSimulation {
    net: Network,
    partition: Partition,
    members: Vec<Vec<CompId>>,
    cmds: Vec<Sender<Cmd>>,
    threads: Vec<Option<JoinHandle<()>>>,
    replies: Receiver<Reply>,
    pending: Vec<Vec<Event>>,
    injector: Injector,
    now: Ns,
    started: bool,
    records: Vec<Record>,
    stats: ShardedStats,
    poisoned: bool,
    halted: Option<ExecError>,
}

impl ShardedSimulation {
    /// A simulation of `net` at time 0 on `workers` threads with the
    /// [balanced](Partition::balanced) partition.
    pub fn new(net: Network, workers: usize) -> Self {
        let partition = Partition::balanced(&net, workers);
        Self::spawn(net, partition)
    }

    /// A simulation of `net` with a given partition (see [`Partition::new`]); fails if the
    /// partition was made for a network of another size.
    ///
    /// # Panics
    /// If a worker thread cannot be spawned.
    pub fn with_partition(net: Network, partition: Partition) -> Result<Self, PartitionError> {
        if partition.owner.len() != net.len() {
            return Err(PartitionError::Length {
                expected: net.len(),
                given: partition.owner.len(),
            });
        }
        Ok(Self::spawn(net, partition))
    }

    /// Starts the workers for a partition of `net`.
    fn spawn(net: Network, partition: Partition) -> Self {
        let n = partition.workers;
        let members: Vec<Vec<CompId>> = (0..n).map(|w| partition.members(w)).collect();
        let topo = Arc::new(Topo::new(&net, &partition.owner, &members));
        // One channel per ordered pair of workers that exchange round messages (all
        // pairs: summaries go to everyone).
        let mut txs: Vec<Vec<Option<Sender<RoundMsg>>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        let mut rxs: Vec<Vec<Option<Receiver<RoundMsg>>>> =
            (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
        for s in 0..n {
            for p in 0..n {
                if s != p {
                    let (tx, rx) = unbounded();
                    txs[s][p] = Some(tx);
                    rxs[p][s] = Some(rx);
                }
            }
        }
        let (reply_tx, replies) = unbounded();
        let mut cmds = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for (me, (tx, rx)) in txs.into_iter().zip(rxs).enumerate() {
            let link = Channels { tx, rx };
            let w = Worker::new(me, n, Arc::clone(&topo), members[me].clone(), link);
            let (cmd_tx, cmd_rx) = unbounded();
            let replies = reply_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("memsnn-shard-{me}"))
                .spawn(move || worker_main(w, cmd_rx, replies))
                .expect("cannot spawn a worker thread");
            cmds.push(cmd_tx);
            threads.push(Some(handle));
        }
        ShardedSimulation {
            halted: check_wires(&net).err(),
            net,
            stats: ShardedStats {
                worker_events: vec![0; n],
                ..ShardedStats::default()
            },
            partition,
            members,
            cmds,
            threads,
            replies,
            pending: (0..n).map(|_| Vec::new()).collect(),
            injector: Injector::default(),
            now: 0,
            started: false,
            records: Vec::new(),
            poisoned: false,
        }
    }

    /// Current time: everything before it has been processed.
    pub fn now(&self) -> Ns {
        self.now
    }

    /// Work counters.
    pub fn stats(&self) -> ShardedStats {
        self.stats.clone()
    }

    /// The partition in use.
    pub fn partition(&self) -> &Partition {
        &self.partition
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.partition.workers
    }

    /// The network; its components are here between runs.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The network, mutably, to adjust components between runs. The clock, the wires and
    /// the probe flags were copied to the workers at construction: changing them here has
    /// no effect on the run.
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// Probe records so far (in no particular order; see
    /// [`crate::engine::probe::canonical_sort`]).
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Takes the probe records collected so far.
    pub fn take_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records)
    }

    /// Delivers `payload` to `(dst, port)` at time `at` (≥ now), from outside the network,
    /// in the first batch of that instant. A `dst` the network does not have halts the
    /// simulation with [`ExecError::UnknownDestination`].
    pub fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        if self.halted.is_some() {
            return;
        }
        let n = self.net.len();
        match self.injector.event(self.now, (at, dst, port), payload, n) {
            // The injector checked `dst`: it has an owner.
            Ok(ev) => self.pending[self.partition.owner(dst).unwrap_or(0)].push(ev),
            Err(e) => self.halted = Some(e),
        }
    }

    /// Why the simulation stopped for good (a zero-time loop, an unknown destination), if
    /// it did; it then processes nothing more.
    pub fn halted(&self) -> Option<&ExecError> {
        self.halted.as_ref()
    }

    /// Processes every event with time `< until`; afterwards `now() == until` (or the
    /// later time already reached; if the run halted, the instant it halted at).
    ///
    /// # Panics
    /// If a component panicked (the panic is resumed here), now or in an earlier run.
    pub fn run_until(&mut self, until: Ns) {
        assert!(
            !self.poisoned,
            "a component panicked in an earlier run; this simulation is unusable"
        );
        if self.halted.is_some() || (self.started && until <= self.now) {
            return;
        }
        let start = !self.started;
        self.started = true;
        for (w, cmd) in self.cmds.iter().enumerate() {
            let comps: Vec<Box<dyn Component>> = self.members[w]
                .iter()
                .map(|&id| {
                    std::mem::replace(&mut self.net.components[id as usize], Box::new(Vacant))
                })
                .collect();
            let injected = std::mem::take(&mut self.pending[w]);
            if cmd
                .send(Cmd::Run {
                    until,
                    start,
                    comps,
                    injected,
                })
                .is_err()
            {
                self.fail();
            }
        }
        let mut got: Vec<Option<Reply>> = (0..self.cmds.len()).map(|_| None).collect();
        for _ in 0..self.cmds.len() {
            match self.replies.recv() {
                Ok(r) => {
                    let s = r.shard;
                    got[s] = Some(r);
                }
                Err(_) => self.fail(),
            }
        }
        let mut halt: Option<(Key, Vec<CompId>)> = None;
        for (w, r) in got.into_iter().enumerate() {
            let Some(r) = r else { self.fail() };
            for (&id, c) in self.members[w].iter().zip(r.comps) {
                self.net.components[id as usize] = c;
            }
            self.records.extend(r.records);
            self.stats.events += r.events;
            self.stats.batches += r.batches;
            self.stats.remote_events += r.remote_events;
            self.stats.worker_events[w] += r.events;
            if let Some((key, ids)) = r.halted {
                // Every worker reports the same key, with its part of the looping batch.
                halt.get_or_insert((key, Vec::new())).1.extend(ids);
            }
            if w == 0 {
                self.stats.rounds += r.rounds;
                self.stats.critical_events += r.critical;
            }
        }
        if let Some(((t, _), mut ids)) = halt {
            ids.sort_unstable();
            ids.dedup();
            self.halted = Some(ExecError::zero_time_loop(t, ids, &self.net.names));
            self.now = self.now.max(t);
        } else {
            self.now = self.now.max(until);
        }
    }

    /// Processes every event with time `<= until`.
    pub fn run_through(&mut self, until: Ns) {
        self.run_until(until.saturating_add(1));
    }

    /// The state between runs (see [`crate::engine::checkpoint`]).
    ///
    /// # Panics
    /// If a worker is gone (a component panicked in an earlier run).
    pub fn save_state(&mut self) -> Result<ExecState, StateError> {
        if let Some(e) = &self.halted {
            return Err(StateError::Halted(e.to_string()));
        }
        let mut seq = vec![0; self.net.len()];
        let mut pending: Vec<Event> = self.pending.iter().flatten().cloned().collect();
        for w in 0..self.cmds.len() {
            let (tx, rx) = unbounded();
            if self.cmds[w].send(Cmd::Save(tx)).is_err() {
                self.fail();
            }
            let Ok((counts, events)) = rx.recv() else {
                self.fail()
            };
            for (&id, c) in self.members[w].iter().zip(counts) {
                seq[id as usize] = c;
            }
            pending.extend(events);
        }
        ExecState::capture(
            &self.net,
            (
                self.now,
                self.started,
                self.injector.count(),
                self.stats.events,
            ),
            seq,
            pending,
        )
    }

    /// Restores a saved state (see [`Executor::load_state`]).
    ///
    /// # Panics
    /// If a worker is gone.
    pub fn load_state(&mut self, state: &ExecState) -> Result<(), StateError> {
        state.restore_components(&mut self.net)?;
        let mut events: Vec<Vec<Event>> = (0..self.cmds.len()).map(|_| Vec::new()).collect();
        for ev in &state.pending {
            // `restore_components` checked every destination: it has an owner.
            events[self.partition.owner(ev.dst).unwrap_or(0)].push(ev.clone());
        }
        for (w, evs) in events.into_iter().enumerate() {
            let seq = self.members[w]
                .iter()
                .map(|&id| state.seq[id as usize])
                .collect();
            if self.cmds[w].send(Cmd::Load { seq, events: evs }).is_err() {
                self.fail();
            }
        }
        self.pending.iter_mut().for_each(Vec::clear);
        self.injector = Injector::resumed(state.injected);
        self.now = state.now;
        self.started = state.started;
        self.stats.events = state.handled_events;
        Ok(())
    }

    /// A worker is gone: join them all and resume the first panic.
    fn fail(&mut self) -> ! {
        self.poisoned = true;
        // Dropping the command channels ends workers parked on them.
        self.cmds.clear();
        let mut payload = None;
        for t in &mut self.threads {
            if let Some(h) = t.take() {
                if let Err(p) = h.join() {
                    payload.get_or_insert(p);
                }
            }
        }
        match payload {
            Some(p) => std::panic::resume_unwind(p),
            None => panic!("a sharded-executor worker stopped"),
        }
    }
}

impl Drop for ShardedSimulation {
    fn drop(&mut self) {
        for c in &self.cmds {
            let _ = c.send(Cmd::Shutdown);
        }
        for t in &mut self.threads {
            if let Some(h) = t.take() {
                let _ = h.join();
            }
        }
    }
}

impl Executor for ShardedSimulation {
    fn halted(&self) -> Option<&ExecError> {
        ShardedSimulation::halted(self)
    }
    fn handled_events(&self) -> u64 {
        self.stats().events
    }
    fn round_stats(&self) -> Option<crate::engine::exec::RoundStats> {
        let s = &self.stats;
        Some(crate::engine::exec::RoundStats {
            partitions: self.partition.workers,
            rounds: s.rounds,
            batches: s.batches,
            remote_events: s.remote_events,
            critical_events: s.critical_events,
            bytes_sent: 0,
            exchange_s: 0.0,
        })
    }
    fn now(&self) -> Ns {
        ShardedSimulation::now(self)
    }
    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        ShardedSimulation::inject(self, at, dst, port, payload)
    }
    fn run_until(&mut self, until: Ns) {
        ShardedSimulation::run_until(self, until)
    }
    fn run_instant(&mut self) {
        // Workers keep no clock of their own: run through the instant, then stand at it.
        let now = self.now;
        ShardedSimulation::run_until(self, now.saturating_add(1));
        self.now = now;
    }
    fn network(&self) -> &Network {
        &self.net
    }
    fn take_records(&mut self) -> Vec<Record> {
        ShardedSimulation::take_records(self)
    }
    fn save_state(&mut self) -> Result<ExecState, StateError> {
        ShardedSimulation::save_state(self)
    }
    fn load_state(&mut self, state: &ExecState) -> Result<(), StateError> {
        ShardedSimulation::load_state(self, state)
    }
}
