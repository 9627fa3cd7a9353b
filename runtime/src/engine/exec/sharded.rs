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

use super::core::{check_wires, Env, Injector, Key, Members, Queue, LOOP_DELTA};
use super::error::ExecError;
use crate::engine::checkpoint::{ExecState, StateError};
use crate::engine::component::{Component, Ctx, Scratch};
use crate::engine::event::{CompId, Event, Payload, Port};
use crate::engine::exec::Executor;
use crate::engine::network::Network;
use crate::engine::probe::{Probe, Record};
use crate::engine::time::{Clock, Ns};
use crossbeam_channel::{unbounded, Receiver, Sender, TryRecvError};
use std::any::Any;
use std::sync::Arc;
use std::thread::JoinHandle;

/// A key after every possible key.
const NEVER: Key = (Ns::MAX, u32::MAX);
/// Distance of a component that cannot reach a worker.
const UNREACHABLE: u32 = u32::MAX;

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

/// Static data every worker reads.
struct Topo {
    clock: Clock,
    routes: Vec<Vec<Vec<(CompId, Port)>>>,
    probed: Vec<Probe>,
    owner: Vec<u32>,
    /// Index of a component among its worker's members.
    local: Vec<u32>,
    /// `dist[r][id]`: fewest wires from component `id` to any component of worker `r`
    /// (through any workers; 0 inside `r`, [`UNREACHABLE`] if there is no path).
    dist: Vec<Vec<u32>>,
}

impl Topo {
    fn new(net: &Network, part: &Partition, members: &[Vec<CompId>]) -> Self {
        let n = part.workers;
        let len = net.len();
        let mut local = vec![0u32; len];
        for m in members {
            for (i, &id) in m.iter().enumerate() {
                local[id as usize] = i as u32;
            }
        }
        // Reversed wires, deduplicated.
        let mut rev: Vec<Vec<u32>> = vec![Vec::new(); len];
        for (src, ports) in net.routes.iter().enumerate() {
            for wires in ports {
                for &(dst, _) in wires {
                    if let Some(r) = rev.get_mut(dst as usize) {
                        r.push(src as u32);
                    }
                }
            }
        }
        for r in &mut rev {
            r.sort_unstable();
            r.dedup();
        }
        let dist = (0..n)
            .map(|r| {
                // Breadth-first from worker r's components over reversed wires.
                let mut d = vec![UNREACHABLE; len];
                let mut cur: Vec<u32> = members[r].clone();
                for &x in &cur {
                    d[x as usize] = 0;
                }
                let mut k = 0u32;
                while !cur.is_empty() {
                    k += 1;
                    let mut next = Vec::new();
                    for &x in &cur {
                        for &p in &rev[x as usize] {
                            if d[p as usize] == UNREACHABLE {
                                d[p as usize] = k;
                                next.push(p);
                            }
                        }
                    }
                    cur = next;
                }
                d
            })
            .collect();
        Topo {
            clock: net.clock,
            routes: net.routes.clone(),
            probed: net.probed.clone(),
            owner: part.owner.clone(),
            local,
            dist,
        }
    }

    /// What a handling step reads.
    fn env(&self) -> Env<'_> {
        Env {
            clock: &self.clock,
            probed: &self.probed,
            routes: &self.routes,
        }
    }

    /// `(t, d + h)`, or [`NEVER`] if `h` is [`UNREACHABLE`].
    #[inline]
    fn bound(t: Ns, d: u32, h: u32) -> Key {
        if h == UNREACHABLE {
            NEVER
        } else {
            (t, d.saturating_add(h))
        }
    }
}

/// What a worker tells every other worker at the end of a round.
struct Summary {
    /// Earliest pending key of the sender (not counting what it has yet to receive).
    own_min: Key,
    /// `own[r]`: earliest key at which the sender's pending events can make anything
    /// arrive at worker `r`.
    own: Vec<Key>,
    /// `sent_min[q]`: earliest key of the events the sender sent to `q` this round.
    sent_min: Vec<Key>,
    /// `fwd[r]`: earliest key at which the events the sender sent this round (to workers
    /// other than `r`) can make anything arrive at worker `r`.
    fwd: Vec<Key>,
    /// The key of a zero-time loop the sender met at the head of its queue.
    halt: Option<Key>,
    /// Events the sender handled this round.
    handled: u64,
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

/// The peer of a worker has gone (it panicked).
struct PeerGone;

/// Stands in for a component while it is away on its worker.
struct Vacant;

impl Component for Vacant {
    fn kind(&self) -> &'static str {
        "vacant"
    }
    fn handle(&mut self, _ev: &Event, _ctx: &mut Ctx) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// One worker's state (lives on its thread).
struct Worker {
    me: usize,
    n: usize,
    topo: Arc<Topo>,
    ids: Vec<CompId>,
    comps: Vec<Box<dyn Component>>,
    seq: Vec<u64>,
    queue: Queue,
    out: Vec<Vec<Event>>,
    sent_min: Vec<Key>,
    fwd: Vec<Key>,
    horizon: Key,
    scratch: Scratch,
    tx: Vec<Option<Sender<RoundMsg>>>,
    rx: Vec<Option<Receiver<RoundMsg>>>,
    events: u64,
    events_at_round: u64,
    critical: u64,
    batches: u64,
    rounds: u64,
    remote_events: u64,
    /// The zero-time loop the run halted at (every worker learns it in the same round).
    halted: Option<Key>,
}

/// The bookkeeping of events leaving a worker (see [`Worker::keep`]).
struct Away<'a> {
    me: usize,
    n: usize,
    topo: &'a Topo,
    sent_min: &'a mut [Key],
    fwd: &'a mut [Key],
    horizon: &'a mut Key,
    remote_events: &'a mut u64,
    out: &'a mut [Vec<Event>],
}

impl Away<'_> {
    /// Keeps `ev` (routed while handling at `(t, d)`) if its destination is local, or
    /// sends it and tightens this round's bounds.
    #[inline]
    fn keep(&mut self, (t, d): Key, ev: Event) -> Option<Event> {
        let topo = self.topo;
        let o = topo.owner[ev.dst as usize] as usize;
        if o == self.me {
            return Some(ev);
        }
        // Only emissions (delta d + 1 at t) ever leave the worker; wake-ups stay.
        self.sent_min[o] = self.sent_min[o].min((t, d + 1));
        for (r, f) in self.fwd.iter_mut().enumerate().take(self.n) {
            if r != o {
                let b = Topo::bound(t, d + 1, topo.dist[r][ev.dst as usize]);
                if b < *f {
                    *f = b;
                }
            }
        }
        // Whatever this event causes can reach this worker no earlier than that:
        // handle nothing at or after it in this round.
        *self.horizon = (*self.horizon).min(self.fwd[self.me]);
        *self.remote_events += 1;
        self.out[o].push(ev);
        None
    }
}

impl Worker {
    fn start(&mut self) {
        let topo = Arc::clone(&self.topo);
        let env = topo.env();
        let mut away = Away {
            me: self.me,
            n: self.n,
            topo: &topo,
            sent_min: &mut self.sent_min,
            fwd: &mut self.fwd,
            horizon: &mut self.horizon,
            remote_events: &mut self.remote_events,
            out: &mut self.out,
        };
        self.queue.start_all(
            &env,
            &self.ids,
            Members {
                comps: &mut self.comps,
                seq: &mut self.seq,
                index: |id| topo.local[id as usize] as usize,
            },
            &mut self.scratch,
            |ev| away.keep((0, 0), ev),
        );
    }

    /// Handles every local batch before the horizon, `until` and a zero-time loop.
    fn process(&mut self, until: Ns) {
        let topo = Arc::clone(&self.topo);
        let env = topo.env();
        loop {
            let limit = self
                .horizon
                .min((until, 0))
                .min(self.halted.unwrap_or(NEVER));
            let Some((key, batch)) = self.queue.pop(limit) else {
                break;
            };
            let sent = self.remote_events;
            let mut away = Away {
                me: self.me,
                n: self.n,
                topo: &topo,
                sent_min: &mut self.sent_min,
                fwd: &mut self.fwd,
                horizon: &mut self.horizon,
                remote_events: &mut self.remote_events,
                out: &mut self.out,
            };
            self.queue.handle_batch(
                &env,
                (key, &batch),
                Members {
                    comps: &mut self.comps,
                    seq: &mut self.seq,
                    index: |id| topo.local[id as usize] as usize,
                },
                &mut self.scratch,
                |ev| away.keep(key, ev),
            );
            self.events += batch.len() as u64;
            self.batches += 1;
            self.queue.recycle(batch);
            if self.remote_events != sent {
                // Hand the events over now, so that their receivers work on them while
                // this worker goes on (rather than after it).
                break;
            }
        }
    }

    /// The summary of the present state (pending queue, events sent this round).
    fn summary(&self) -> Summary {
        let topo = &self.topo;
        let me = self.me;
        let mut own = vec![NEVER; self.n];
        let own_min = self.queue.first_key().unwrap_or(NEVER);
        for (&(t, d), evs) in self.queue.iter() {
            // An event at a later time cannot beat a bound found at an earlier one.
            if (0..self.n).all(|r| r == me || own[r].0 < t) {
                break;
            }
            // No event of this batch can reach another worker sooner than one hop.
            let floor = Topo::bound(t, d, 1);
            for ev in evs {
                for (r, o) in own.iter_mut().enumerate() {
                    if r != me {
                        let b = Topo::bound(t, d, topo.dist[r][ev.dst as usize]);
                        if b < *o {
                            *o = b;
                        }
                    }
                }
                if (0..self.n).all(|r| r == me || own[r] <= floor) {
                    break;
                }
            }
        }
        Summary {
            own_min,
            own,
            sent_min: self.sent_min.clone(),
            fwd: self.fwd.clone(),
            halt: self.queue.halt(),
            handled: self.events - self.events_at_round,
        }
    }

    /// Waits for the next message from `p`, spinning briefly before blocking.
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

    /// Runs rounds until no worker has an event before `until` and before a zero-time
    /// loop met by any worker.
    fn run(&mut self, until: Ns) -> Result<(), PeerGone> {
        let n = self.n;
        let me = self.me;
        loop {
            let summary = Arc::new(self.summary());
            self.events_at_round = self.events;
            for p in 0..n {
                if let Some(tx) = &self.tx[p] {
                    let events = std::mem::take(&mut self.out[p]);
                    let msg = RoundMsg {
                        events,
                        summary: Arc::clone(&summary),
                    };
                    tx.send(msg).map_err(|_| PeerGone)?;
                }
            }
            self.sent_min.iter_mut().for_each(|x| *x = NEVER);
            self.fwd.iter_mut().for_each(|x| *x = NEVER);
            let mut sums: Vec<Arc<Summary>> = Vec::with_capacity(n);
            for p in 0..n {
                if p == me {
                    sums.push(Arc::clone(&summary));
                    continue;
                }
                let Some(rx) = &self.rx[p] else {
                    continue;
                };
                let msg = Self::recv(rx)?;
                for ev in msg.events {
                    self.queue.push(ev);
                }
                sums.push(msg.summary);
            }
            self.critical += sums.iter().map(|s| s.handled).max().unwrap_or(0);
            // The same decision on every worker: anything left before `until` and the
            // earliest zero-time loop?
            let halt = sums.iter().filter_map(|s| s.halt).min();
            let stop = halt.unwrap_or(NEVER).min((until, 0));
            let mut gmin = NEVER;
            for q in 0..n {
                gmin = gmin.min(sums[q].own_min);
                for s in &sums {
                    gmin = gmin.min(s.sent_min[q]);
                }
            }
            if gmin >= stop {
                self.halted = halt;
                return Ok(());
            }
            let mut horizon = NEVER;
            // The earliest instant another worker may hold an event at: a zero-time loop
            // can appear there no earlier than its looping delta, and the run halts there,
            // so nothing after that batch may be handled before that is settled.
            let mut others_t = Ns::MAX;
            for (q, sum) in sums.iter().enumerate() {
                if q != me {
                    horizon = horizon.min(sum.own[me]);
                    others_t = others_t.min(sum.own_min.0);
                }
                horizon = horizon.min(sum.fwd[me]);
                for (r, k) in sum.sent_min.iter().enumerate() {
                    if r != me {
                        others_t = others_t.min(k.0);
                    }
                }
            }
            if others_t != Ns::MAX {
                horizon = horizon.min((others_t, LOOP_DELTA + 1));
            }
            self.horizon = horizon;
            self.halted = halt;
            self.rounds += 1;
            self.process(until);
        }
    }
}

/// Busy-wait attempts before a blocking receive, and how many of them only spin.
const SPIN_TRIES: u32 = 100_000;
const SPIN_HINTS: u32 = 50;

fn worker_main(mut w: Worker, cmds: Receiver<Cmd>, replies: Sender<Reply>) {
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
                if to.send((w.seq.clone(), w.queue.events())).is_err() {
                    return;
                }
            }
            Cmd::Load { seq, events } => {
                w.seq = seq;
                w.queue = Queue::of(events);
            }
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
        let topo = Arc::new(Topo::new(&net, &partition, &members));
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
            let m = members[me].len();
            let w = Worker {
                me,
                n,
                topo: Arc::clone(&topo),
                ids: members[me].clone(),
                comps: Vec::new(),
                seq: vec![0; m],
                queue: Queue::default(),
                out: (0..n).map(|_| Vec::new()).collect(),
                sent_min: vec![NEVER; n],
                fwd: vec![NEVER; n],
                horizon: NEVER,
                scratch: Scratch::default(),
                tx,
                rx,
                events: 0,
                events_at_round: 0,
                critical: 0,
                batches: 0,
                rounds: 0,
                remote_events: 0,
                halted: None,
            };
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
