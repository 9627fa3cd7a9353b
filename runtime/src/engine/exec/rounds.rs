//! The conservative round protocol of the partitioned executors, apart from how its
//! messages travel: a [`Worker`] owns one partition's components and queue and runs rounds
//! (see the [`sharded`](super::sharded) module docs for the protocol and why it is exact);
//! a [`Link`] carries each round's messages to the other workers — crossbeam channels
//! between threads ([`super::sharded`]) or MPI collectives between processes
//! (`super::mpi`, behind the `mpi` feature). The protocol, and therefore every result,
//! is the same over either.

use super::core::{Env, FanoutCuts, Key, Members, Queue, LOOP_DELTA};
use crate::engine::component::{Component, Ctx, Scratch};
use crate::engine::event::{CompId, Event, LinePattern, Payload, Port};
use crate::engine::network::Network;
use crate::engine::probe::Probe;
use crate::engine::time::{Clock, Ns};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::sync::Arc;

/// A key after every possible key.
pub(crate) const NEVER: Key = (Ns::MAX, u32::MAX);
/// Distance of a component that cannot reach a worker.
pub(crate) const UNREACHABLE: u32 = u32::MAX;

/// How one worker's round messages reach the others: at the end of every round each
/// worker sends each other worker `p` the events it produced for `p` and its
/// [`Summary`], and receives theirs.
pub(crate) trait Link {
    /// Sends `out[p]` (left empty) and `summary` to every worker `p != me`; pushes every
    /// event received into `deliver` (in any order: batches are sorted before they are
    /// handled) and returns every worker's summary, by worker (`summary` itself at `me`).
    fn exchange(
        &mut self,
        me: usize,
        out: &mut [Vec<Event>],
        summary: Summary,
        deliver: &mut dyn FnMut(Event),
    ) -> Result<Vec<Arc<Summary>>, PeerGone>;
}

/// Static data every worker reads.
pub(crate) struct Topo {
    pub(crate) clock: Clock,
    pub(crate) routes: Vec<Vec<Vec<(CompId, Port)>>>,
    pub(crate) probed: Vec<Probe>,
    pub(crate) owner: Vec<u32>,
    /// Index of a component among its worker's members.
    pub(crate) local: Vec<u32>,
    /// `dist[r][id]`: fewest wires from component `id` to any component of worker `r`
    /// (through any workers; 0 inside `r`, [`UNREACHABLE`] if there is no path).
    pub(crate) dist: Vec<Vec<u32>>,
    /// The fan-outs cut between the workers.
    pub(crate) cuts: FanoutCuts,
}

impl Topo {
    /// The data of `net` cut into `members.len()` workers (`members[w]`: worker `w`'s
    /// components, ascending; `owner[id]`: the worker of component `id`). A worker may
    /// have no components.
    pub(crate) fn new(net: &Network, owner: &[u32], members: &[Vec<CompId>]) -> Self {
        let n = members.len();
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
        let dist: Vec<Vec<u32>> = (0..n)
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
        let cuts = FanoutCuts::new(&net.routes, owner, &dist);
        Topo {
            clock: net.clock,
            routes: net.routes.clone(),
            probed: net.probed.clone(),
            owner: owner.to_vec(),
            local,
            dist,
            cuts,
        }
    }

    /// What a handling step reads.
    pub(crate) fn env(&self) -> Env<'_> {
        Env {
            clock: &self.clock,
            probed: &self.probed,
            routes: &self.routes,
            cuts: Some(&self.cuts),
        }
    }

    /// Queues what arrived from another worker: an event, or the events of this worker's
    /// wires that a fan-out marker stands for.
    #[inline]
    pub(crate) fn receive(&self, me: usize, queue: &mut Queue, ev: Event) {
        if !self
            .cuts
            .expand(&self.routes, &ev, me, &mut |e| queue.push(e))
        {
            queue.push(ev);
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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Summary {
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

/// The peer of a worker has gone (it panicked).
#[derive(Debug)]
pub(crate) struct PeerGone;

/// Stands in for a component while it is away on its worker.
pub(crate) struct Vacant;

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
pub(crate) struct Worker<L> {
    pub(crate) me: usize,
    pub(crate) n: usize,
    pub(crate) topo: Arc<Topo>,
    pub(crate) ids: Vec<CompId>,
    pub(crate) comps: Vec<Box<dyn Component>>,
    pub(crate) seq: Vec<u64>,
    pub(crate) queue: Queue,
    pub(crate) out: Vec<Vec<Event>>,
    /// Per destination worker, the last pattern sent there and the copy it got
    /// (see `Away::copy_for`).
    pub(crate) copies: Vec<Option<(Arc<LinePattern>, Arc<LinePattern>)>>,
    pub(crate) sent_min: Vec<Key>,
    pub(crate) fwd: Vec<Key>,
    pub(crate) horizon: Key,
    pub(crate) scratch: Scratch,
    pub(crate) link: L,
    pub(crate) events: u64,
    pub(crate) events_at_round: u64,
    pub(crate) critical: u64,
    pub(crate) batches: u64,
    pub(crate) rounds: u64,
    pub(crate) remote_events: u64,
    /// The zero-time loop the run halted at (every worker learns it in the same round).
    pub(crate) halted: Option<Key>,
    /// Which of its components handled an event or started since the flags were last
    /// cleared, by local index — kept only for a link whose owner must ship changed
    /// states between runs (MPI ranks); `None` costs one branch per batch.
    pub(crate) touched: Option<Vec<bool>>,
}

impl<L> Worker<L> {
    /// Its emission counters (by local index) and pending events: its part of a saved
    /// state (see [`crate::engine::checkpoint`]).
    pub(crate) fn saved(&self) -> (Vec<u64>, Vec<Event>) {
        (self.seq.clone(), self.queue.events())
    }

    /// Takes the emission counters (by local index) and pending events of a restored
    /// state.
    pub(crate) fn restore(&mut self, seq: Vec<u64>, events: Vec<Event>) {
        self.seq = seq;
        self.queue = Queue::of(events);
    }
}

impl<L: Link> Worker<L> {
    /// Worker `me` of `n`, owning components `ids` (ascending), talking over `link`.
    pub(crate) fn new(me: usize, n: usize, topo: Arc<Topo>, ids: Vec<CompId>, link: L) -> Self {
        let m = ids.len();
        Worker {
            me,
            n,
            topo,
            ids,
            comps: Vec::new(),
            seq: vec![0; m],
            queue: Queue::default(),
            out: (0..n).map(|_| Vec::new()).collect(),
            copies: vec![None; n],
            sent_min: vec![NEVER; n],
            fwd: vec![NEVER; n],
            horizon: NEVER,
            scratch: Scratch::default(),
            link,
            events: 0,
            events_at_round: 0,
            critical: 0,
            batches: 0,
            rounds: 0,
            remote_events: 0,
            halted: None,
            touched: None,
        }
    }
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
    copies: &'a mut [Option<(Arc<LinePattern>, Arc<LinePattern>)>],
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
        // A fan-out marker stands for all of worker `o`'s wires of its emission.
        let (dist, events) = match topo.cuts.part_of(&ev, o) {
            Some(part) => (Some(&part.dist), part.wires.len() as u64),
            None => (None, 1),
        };
        for (r, f) in self.fwd.iter_mut().enumerate().take(self.n) {
            if r != o {
                let h = dist.map_or(topo.dist[r][ev.dst as usize], |d| d[r]);
                let b = Topo::bound(t, d + 1, h);
                if b < *f {
                    *f = b;
                }
            }
        }
        // Whatever this event causes can reach this worker no earlier than that:
        // handle nothing at or after it in this round.
        *self.horizon = (*self.horizon).min(self.fwd[self.me]);
        *self.remote_events += events;
        let mut ev = ev;
        if let Payload::Pattern(p) = &mut ev.payload {
            *p = self.copy_for(o, p);
        }
        self.out[o].push(ev);
        None
    }

    /// The pattern `p` as worker `o` gets it: a copy of its own, made once per pattern
    /// (with its own amplitudes), so that the reference counts the receiving columns
    /// take and drop are on memory that only `o` touches, not on the sender's pattern
    /// that every worker would otherwise count on at once (a cache line bouncing
    /// between cores at every column). The copy has the same values, so results do not
    /// change. `copies[o]` keeps the last original with its copy (holding the original
    /// keeps its address from being reused by another pattern).
    fn copy_for(&mut self, o: usize, p: &Arc<LinePattern>) -> Arc<LinePattern> {
        match &self.copies[o] {
            Some((orig, copy)) if Arc::ptr_eq(orig, p) => Arc::clone(copy),
            _ => {
                let copy = Arc::new(p.deep_copy());
                self.copies[o] = Some((Arc::clone(p), Arc::clone(&copy)));
                copy
            }
        }
    }
}

impl<L: Link> Worker<L> {
    pub(crate) fn start(&mut self) {
        if let Some(t) = &mut self.touched {
            t.iter_mut().for_each(|x| *x = true);
        }
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
            copies: &mut self.copies,
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
                copies: &mut self.copies,
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
            if let Some(t) = &mut self.touched {
                for ev in &batch {
                    t[topo.local[ev.dst as usize] as usize] = true;
                }
            }
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

    /// Runs rounds until no worker has an event before `until` and before a zero-time
    /// loop met by any worker.
    pub(crate) fn run(&mut self, until: Ns) -> Result<(), PeerGone> {
        let n = self.n;
        let me = self.me;
        loop {
            let summary = self.summary();
            self.events_at_round = self.events;
            self.sent_min.iter_mut().for_each(|x| *x = NEVER);
            self.fwd.iter_mut().for_each(|x| *x = NEVER);
            let queue = &mut self.queue;
            let topo = &*self.topo;
            let sums = self.link.exchange(me, &mut self.out, summary, &mut |ev| {
                topo.receive(me, queue, ev)
            })?;
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
