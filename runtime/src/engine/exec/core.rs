//! The executor core: what every executor does the same way, so that they agree by
//! construction rather than by copying.
//!
//! * `Queue`: one partition's pending events in `(time, delta)` batches; it hands out
//!   the earliest batch sorted by `(dst, src, seq)` — each destination's events in the
//!   order of [`crate::engine::event`] — and detects a zero-time loop (a batch beyond
//!   [`MAX_DELTA`]);
//! * `Queue::handle_batch` and `deliver`: one batch of one partition, one batch of one
//!   component — the [`Ctx`] of each step, the routing through `route`, the
//!   probe records;
//! * `Injector`: events from outside the network, numbered in call order;
//! * `check_wires`: a network whose wires lead to missing components is refused.
//!
//! **Edges, decided once.** A zero-time loop halts the run at its instant: every batch
//! before the looping one is handled (on every partition), the looping batch and
//! everything after it are not, and the error names the first components of the looping
//! batch by ascending id. An event for a component the network does not have is an
//! [`ExecError::UnknownDestination`], never a panic and never dropped: injected, it halts
//! the run before anything further is processed; on a wire, the executor processes nothing.

use super::error::{ExecError, Origin};
use super::reserved::{EXTERNAL, LOOP_NAMES, MAX_DELTA, WAKE_PORT};
use super::tiles::TileCache;
use crate::engine::component::{Component, Ctx, Emission, Scratch};
use crate::engine::event::{CompId, Event, LinePattern, Payload, Port};
use crate::engine::network::Network;
use crate::engine::pattern_sums::{weighted_sums, PatternWeights, WeightedSums, TILE_LANES};
use crate::engine::probe::Probe;
use crate::engine::time::{Clock, Ns};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A batch key `(time ns, delta)`.
pub(crate) type Key = (Ns, u32);

/// The delta of a looping batch: the first one beyond [`MAX_DELTA`].
pub(crate) const LOOP_DELTA: u32 = MAX_DELTA + 1;

/// What a handling step reads besides its component: the clock, the probe flags and the
/// wires, by component id.
#[derive(Clone, Copy)]
pub(crate) struct Env<'a> {
    /// The global clock.
    pub clock: &'a Clock,
    /// What probes record, by component id.
    pub probed: &'a [Probe],
    /// `routes[src][out_port]`: the `(dst, in_port)` wires.
    pub routes: &'a [Vec<Vec<(CompId, Port)>>],
    /// The fan-outs cut between workers, for the partitioned executors (see
    /// [`FanoutCuts`]); `None` routes every wire here.
    pub cuts: Option<&'a FanoutCuts>,
}

impl Env<'_> {
    #[inline]
    fn fanout(&self, src: CompId, port: Port) -> &[(CompId, Port)] {
        self.routes[src as usize]
            .get(port as usize)
            .map_or(&[][..], |v| v.as_slice())
    }
}

/// Ports from this one on (below [`WAKE_PORT`]) mark an event as a *fan-out marker*: one
/// event standing for all the wires of an emission that lead into one other worker.
/// `port − FANOUT_PORTS` is the emission's output port, `seq` the source's counter before
/// its first wire, `dst` the first of the receiving worker's destinations (so that every
/// transport delivers it by owner like any event). The receiver rebuilds the events of
/// its wires, numbered as [`route`] numbers them ([`FanoutCuts::expand`]); a marker is
/// never queued or handled. Real wires never use these ports ([`FanoutCuts::new`] leaves
/// a network that does without cuts).
pub(crate) const FANOUT_PORTS: Port = 1 << 31;

/// The wide fan-outs of a partitioned network, cut by worker: for an emission port whose
/// wires lead into two or more components of a worker other than the source's, the
/// wires of each worker. The source's worker builds only its own wires' events and sends
/// each other worker one marker; the receiver builds the rest. The events, their numbers
/// and their payloads' values are those of the uncut route, so results do not change;
/// what changes is which thread does the work (a pattern into 1,600 columns on two
/// workers: 800 events each, rather than 1,600 on the sender and 800 copies sent).
pub(crate) struct FanoutCuts {
    /// Parallel to `routes`: `cuts[src][out_port]`.
    cuts: Vec<Vec<Option<Box<FanoutCut>>>>,
}

/// One cut fan-out: `parts[w]` is worker `w`'s share.
pub(crate) struct FanoutCut {
    /// The source's worker (it builds its own wires' events).
    home: usize,
    parts: Vec<FanoutPart>,
}

/// A worker's share of a cut fan-out.
pub(crate) struct FanoutPart {
    /// Indices of its wires in the fan-out, ascending.
    pub wires: Vec<u32>,
    /// `dist[r]`: the fewest wires from any of these wires' destinations to worker `r`
    /// (empty for a worker without wires here: no marker is sent to it).
    pub dist: Vec<u32>,
}

impl FanoutCuts {
    /// The cuts of `routes` for workers `owner` (by component), with `dist[r][id]` the
    /// fewest wires from `id` to worker `r`. A network with a wire into a port at or
    /// beyond [`FANOUT_PORTS`] (other than wake-ups) gets no cuts.
    pub fn new(routes: &[Vec<Vec<(CompId, Port)>>], owner: &[u32], dist: &[Vec<u32>]) -> Self {
        let n = dist.len();
        let clash = routes
            .iter()
            .flatten()
            .flatten()
            .any(|&(_, p)| p >= FANOUT_PORTS && p != WAKE_PORT)
            || routes
                .iter()
                .any(|ports| ports.len() as u64 >= u64::from(FANOUT_PORTS));
        // Wires per worker of the fan-out at hand (reused), so that a fan-out that is not
        // cut costs no allocation.
        let mut count = vec![0u32; n];
        let cuts = routes
            .iter()
            .enumerate()
            .map(|(src, ports)| {
                ports
                    .iter()
                    .map(|wires| {
                        if clash || n < 2 || wires.len() < 2 {
                            return None;
                        }
                        let home = owner.get(src).copied()? as usize;
                        count.iter_mut().for_each(|c| *c = 0);
                        for &(dst, _) in wires {
                            count[*owner.get(dst as usize)? as usize] += 1;
                        }
                        let wide = count.iter().enumerate().any(|(w, &c)| w != home && c >= 2);
                        if !wide {
                            return None;
                        }
                        // Only workers with wires get their distances (n² entries would
                        // be too many for a fan-out over a few of many ranks).
                        let mut parts: Vec<FanoutPart> = count
                            .iter()
                            .map(|&c| FanoutPart {
                                wires: Vec::with_capacity(c as usize),
                                dist: if c > 0 { vec![u32::MAX; n] } else { Vec::new() },
                            })
                            .collect();
                        for (i, &(dst, _)) in wires.iter().enumerate() {
                            let part = &mut parts[owner[dst as usize] as usize];
                            part.wires.push(i as u32);
                            for (r, d) in part.dist.iter_mut().enumerate() {
                                *d = (*d).min(dist[r][dst as usize]);
                            }
                        }
                        Some(Box::new(FanoutCut { home, parts }))
                    })
                    .collect()
            })
            .collect();
        FanoutCuts { cuts }
    }

    /// The cut of `src`'s output `port`, if it is cut.
    #[inline]
    fn cut(&self, src: CompId, port: Port) -> Option<&FanoutCut> {
        self.cuts.get(src as usize)?.get(port as usize)?.as_deref()
    }

    /// Worker `w`'s share of the fan-out a marker stands for, if `ev` is a marker.
    #[inline]
    pub fn part_of(&self, ev: &Event, w: usize) -> Option<&FanoutPart> {
        if ev.port < FANOUT_PORTS || ev.port == WAKE_PORT {
            return None;
        }
        self.cut(ev.src, ev.port - FANOUT_PORTS)?.parts.get(w)
    }

    /// Hands `push` the events of worker `w`'s wires that the marker `ev` stands for (the
    /// events [`route`] makes for them uncut), and returns true; returns false (handing
    /// nothing) if `ev` is not a marker.
    #[inline]
    pub fn expand(
        &self,
        routes: &[Vec<Vec<(CompId, Port)>>],
        ev: &Event,
        w: usize,
        push: &mut impl FnMut(Event),
    ) -> bool {
        let Some(part) = self.part_of(ev, w) else {
            return false;
        };
        let wires = &routes[ev.src as usize][(ev.port - FANOUT_PORTS) as usize];
        for &i in &part.wires {
            let (dst, port) = wires[i as usize];
            push(Event {
                time: ev.time,
                delta: ev.delta,
                dst,
                port,
                src: ev.src,
                seq: ev.seq + u64::from(i) + 1,
                payload: ev.payload.clone(),
            });
        }
        true
    }
}

/// One component with its emission counter.
pub(crate) struct Slot<'c> {
    /// The component.
    pub comp: &'c mut dyn Component,
    /// Its id.
    pub id: CompId,
    /// Its emission counter (see `route`).
    pub seq: &'c mut u64,
}

/// A partition's components: component `id` is `comps[index(id)]`, its emission counter
/// `seq[index(id)]`.
pub(crate) struct Members<'c, F> {
    /// The components.
    pub comps: &'c mut [Box<dyn Component>],
    /// Their emission counters.
    pub seq: &'c mut [u64],
    /// Where a component id is in `comps` and `seq`.
    pub index: F,
}

impl<F: Fn(CompId) -> usize> Members<'_, F> {
    #[inline]
    fn slot(&mut self, id: CompId) -> Slot<'_> {
        let i = (self.index)(id);
        Slot {
            comp: &mut *self.comps[i],
            id,
            seq: &mut self.seq[i],
        }
    }
}

/// Calls `start` of a component (time 0) and routes what it produced into `sink`.
pub(crate) fn start(env: &Env, slot: Slot, scratch: &mut Scratch, sink: &mut impl FnMut(Event)) {
    let mut ctx = Ctx::probed(
        0,
        slot.id,
        env.clock,
        &env.probed[slot.id as usize],
        scratch,
    );
    slot.comp.start(&mut ctx);
    route_step(env, slot.id, (0, 0), slot.seq, scratch, sink);
}

/// Hands a component its `events` of the batch `key` (already in `(src, seq)` order)
/// and routes, after each, what it produced into `sink`; probe samples go to
/// `scratch.records`.
#[inline]
pub(crate) fn deliver(
    env: &Env,
    slot: Slot,
    scratch: &mut Scratch,
    key: Key,
    events: &[Event],
    sink: &mut impl FnMut(Event),
) {
    let id = slot.id;
    let probe = &env.probed[id as usize];
    for ev in events {
        let mut ctx = Ctx::probed(key.0, id, env.clock, probe, scratch);
        slot.comp.handle(ev, &mut ctx);
        route_step(env, id, key, slot.seq, scratch, sink);
    }
}

#[inline]
fn route_step(
    env: &Env,
    src: CompId,
    (t, d): Key,
    seq: &mut u64,
    scratch: &mut Scratch,
    sink: &mut impl FnMut(Event),
) {
    route(
        (src, t, d),
        seq,
        &mut scratch.emissions,
        &mut scratch.wakes,
        |port| env.fanout(src, port),
        |port| env.cuts.and_then(|c| c.cut(src, port)),
        sink,
    );
}

/// Numbers events injected from outside the network (`src` = [`EXTERNAL`]) in call order.
#[derive(Debug, Default)]
pub(crate) struct Injector {
    seq: u64,
}

impl Injector {
    /// An injector whose last number was `seq` (a restored checkpoint's).
    pub fn resumed(seq: u64) -> Self {
        Injector { seq }
    }

    /// The last number given.
    pub fn count(&self) -> u64 {
        self.seq
    }

    /// The event delivering `payload` to `(dst, port)` at `at` (not before `now`) in the
    /// first batch of that instant, or the error if the network (of `components`
    /// components) has no `dst`.
    pub fn event(
        &mut self,
        now: Ns,
        (at, dst, port): (Ns, CompId, Port),
        payload: Payload,
        components: usize,
    ) -> Result<Event, ExecError> {
        let at = at.max(now);
        if dst as usize >= components {
            return Err(ExecError::UnknownDestination {
                dst,
                components,
                origin: Origin::Injected { time_ns: at, port },
            });
        }
        self.seq += 1;
        Ok(Event {
            time: at,
            delta: 0,
            dst,
            port,
            src: EXTERNAL,
            seq: self.seq,
            payload,
        })
    }
}

/// The first wire of `net` that leads to a component it does not have, as an error.
pub(crate) fn check_wires(net: &Network) -> Result<(), ExecError> {
    let n = net.len();
    for (src, ports) in net.routes.iter().enumerate() {
        for (port, wires) in ports.iter().enumerate() {
            if let Some(&(dst, _)) = wires.iter().find(|(dst, _)| *dst as usize >= n) {
                return Err(ExecError::UnknownDestination {
                    dst,
                    components: n,
                    origin: Origin::Wire {
                        src: net.names.get(src).cloned().unwrap_or_default(),
                        port: port as Port,
                    },
                });
            }
        }
    }
    Ok(())
}

/// One partition's pending events, in `(time, delta)` batches.
#[derive(Default)]
pub(crate) struct Queue {
    batches: BTreeMap<Key, Vec<Event>>,
    /// Emptied batch vectors, reused for new batches.
    spare: Vec<Vec<Event>>,
    /// Events routed to the delta cycle right after the batch being handled — most of
    /// them — gathered here and queued once per batch rather than once per event.
    next: Vec<Event>,
    /// The key of a looping batch met at the head of the queue.
    halt: Option<Key>,
    /// The sums computed by one run of [`presum_group`].
    presums: Vec<(usize, usize, WeightedSums)>,
    /// Interleaved copies of the pattern receivers' weights, for [`presum_group`].
    tiles: TileCache,
}

impl Queue {
    /// Queues `ev` in its batch.
    #[inline]
    pub fn push(&mut self, ev: Event) {
        push(&mut self.batches, &mut self.spare, ev);
    }

    /// The earliest key pending.
    pub fn first_key(&self) -> Option<Key> {
        self.batches.keys().next().copied()
    }

    /// The pending batches, earliest first.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Vec<Event>)> {
        self.batches.iter()
    }

    /// Every pending event, cloned (in no particular order).
    pub fn events(&self) -> Vec<Event> {
        self.batches.values().flatten().cloned().collect()
    }

    /// A queue holding `events`.
    pub fn of(events: impl IntoIterator<Item = Event>) -> Queue {
        let mut q = Queue::default();
        for ev in events {
            q.push(ev);
        }
        q
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.batches.values().map(Vec::len).sum()
    }

    /// Drops every pending event.
    pub fn clear(&mut self) {
        self.batches.clear();
    }

    /// The key of the looping batch, once the queue has met one.
    pub fn halt(&self) -> Option<Key> {
        self.halt
    }

    /// Takes the earliest batch if its key is below `limit`, sorted by `(dst, src, seq)`.
    /// A batch beyond [`MAX_DELTA`] is a zero-time loop: it is left where it is, marks
    /// the queue as [halted](Self::halt), and nothing more is taken.
    pub fn pop(&mut self, limit: Key) -> Option<(Key, Vec<Event>)> {
        if self.halt.is_some() {
            return None;
        }
        let entry = self.batches.first_entry()?;
        let key = *entry.key();
        if key >= limit {
            return None;
        }
        if key.1 > MAX_DELTA {
            self.halt = Some(key);
            return None;
        }
        let mut batch = entry.remove();
        // (src, seq) is unique, so an unstable sort gives the one order.
        batch.sort_unstable_by_key(|e| (e.dst, e.src, e.seq));
        Some((key, batch))
    }

    /// Returns a handled batch's vector for reuse.
    pub fn recycle(&mut self, mut batch: Vec<Event>) {
        batch.clear();
        self.spare.push(batch);
    }

    /// The first [`LOOP_NAMES`] distinct destinations, ascending, of the batch at `key`.
    pub fn looping(&self, key: Key) -> Vec<CompId> {
        let mut ids: Vec<CompId> = self
            .batches
            .get(&key)
            .map(|b| b.iter().map(|e| e.dst).collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(LOOP_NAMES);
        ids
    }

    /// Calls `start` of the components `ids` (in that order); see [`Self::handle_batch`]
    /// for the other arguments.
    pub fn start_all(
        &mut self,
        env: &Env,
        ids: &[CompId],
        mut members: Members<impl Fn(CompId) -> usize>,
        scratch: &mut Scratch,
        keep: impl FnMut(Event) -> Option<Event>,
    ) {
        let mut sink = sink(self, (0, 0), keep);
        for &id in ids {
            start(env, members.slot(id), scratch, &mut sink);
        }
        drop(sink);
        self.flush((0, 0));
    }

    /// Handles a batch taken by [`Self::pop`]: every destination, one of `members`, gets
    /// its events via [`deliver`]; every routed event passes `keep`, which returns it to
    /// be queued here or takes it (for another partition).
    pub fn handle_batch(
        &mut self,
        env: &Env,
        (key, batch): (Key, &[Event]),
        mut members: Members<impl Fn(CompId) -> usize>,
        scratch: &mut Scratch,
        keep: impl FnMut(Event) -> Option<Event>,
    ) {
        let mut presums = std::mem::take(&mut self.presums);
        let mut tiles = std::mem::take(&mut self.tiles);
        let mut sink = sink(self, key, keep);
        // Events before `scanned` have been looked at for pattern sums; a group's sums are
        // made just before its first member's events are delivered, so that its sixteen
        // components are read, handed their sums and handled while near the core.
        let mut scanned = 0;
        let mut end = 0;
        for events in batch.chunk_by(|a, b| a.dst == b.dst) {
            end += events.len();
            while scanned < end {
                scanned = presum_group(env, batch, scanned, &mut members, &mut presums, &mut tiles);
            }
            let slot = members.slot(events[0].dst);
            deliver(env, slot, scratch, key, events, &mut sink);
        }
        drop(sink);
        self.presums = presums;
        self.tiles = tiles;
        self.flush(key);
    }

    /// Queues the events gathered for `(t, d + 1)` while handling `(t, d)`.
    fn flush(&mut self, (t, d): Key) {
        if !self.next.is_empty() {
            let batch = self
                .batches
                .entry((t, d + 1))
                .or_insert_with(|| self.spare.pop().unwrap_or_default());
            if batch.is_empty() {
                std::mem::swap(batch, &mut self.next);
            } else {
                batch.append(&mut self.next);
            }
        }
    }
}

/// Computes, for the next group of components of `batch` from event `from` on that ask
/// for them ([`Component::pattern_weights`]), the weighted sums of the pattern they
/// receive, over an interleaved copy of their weights ([`TileCache`]), hands each its sums
/// ([`Component::accept_pattern_sums`]) and returns the index of the first event not
/// looked at. A group is up to [`TILE_LANES`] receivers of one pattern, as they come:
/// components of one pattern are consecutive in a batch (it is sorted by destination, and
/// a layer's columns get their pattern from one source). The weights are asked for in a
/// pass that borrows the components immutably and fills `sums` with `(component index,
/// event index, sums)`; a second pass hands them over. The caller makes a group's sums
/// before delivering any event of its members, and nothing delivered to other components
/// changes a member: the sums equal what each component would compute alone, so results
/// do not depend on this pass.
fn presum_group<F: Fn(CompId) -> usize>(
    env: &Env,
    batch: &[Event],
    from: usize,
    members: &mut Members<F>,
    sums: &mut Vec<(usize, usize, WeightedSums)>,
    tiles: &mut TileCache,
) -> usize {
    sums.clear();
    let mut e = from;
    {
        let comps = &*members.comps;
        let mut group = LaneGroup::default();
        while let Some(ev) = batch.get(e) {
            if let Payload::Pattern(p) = &ev.payload {
                if group.len == TILE_LANES {
                    // A full group: the next starts here (whether or not this receiver
                    // asks for sums), without asking it twice.
                    break;
                }
                let i = (members.index)(ev.dst);
                let w = comps[i]
                    .pattern_weights(ev, env.clock)
                    .filter(|w| w.values.len() >= p.amplitudes().len());
                if let Some(w) = w {
                    if group.pattern.is_some_and(|c| !Arc::ptr_eq(c, p)) {
                        // The first receiver of the next pattern's group.
                        break;
                    }
                    group.push(p, i, e, w);
                }
            }
            e += 1;
        }
        group.sum_into(sums, tiles, comps.len());
    }
    for &(i, k, s) in sums.iter() {
        if let Payload::Pattern(p) = &batch[k].payload {
            members.comps[i].accept_pattern_sums(p, s);
        }
    }
    e
}

/// Up to [`TILE_LANES`] receivers of one pattern, with the weights each asked to be
/// summed.
#[derive(Default)]
struct LaneGroup<'a> {
    pattern: Option<&'a Arc<LinePattern>>,
    len: usize,
    /// The event index of each receiver.
    events: [usize; TILE_LANES],
    /// `(component index, weights)` of each receiver.
    members: [(usize, PatternWeights<'a>); TILE_LANES],
}

impl<'a> LaneGroup<'a> {
    fn push(&mut self, pattern: &'a Arc<LinePattern>, i: usize, e: usize, w: PatternWeights<'a>) {
        self.pattern = Some(pattern);
        self.events[self.len] = e;
        self.members[self.len] = (i, w);
        self.len += 1;
    }

    /// Sums the group's pattern for its receivers (one alone the definition's way, more
    /// over their tile), appends them to `out`, and empties the group.
    fn sum_into(
        &mut self,
        out: &mut Vec<(usize, usize, WeightedSums)>,
        tiles: &mut TileCache,
        n_components: usize,
    ) {
        let Some(pattern) = self.pattern.take() else {
            return;
        };
        let members = &self.members[..self.len];
        let lanes = if self.len == 1 {
            [weighted_sums(pattern, members[0].1.values); TILE_LANES]
        } else {
            tiles.sums(pattern, members, n_components)
        };
        out.extend(
            members
                .iter()
                .zip(&self.events)
                .zip(lanes)
                .map(|((&(i, _), &e), s)| (i, e, s)),
        );
        self.len = 0;
    }
}

/// The sink for events routed while `queue` handles the batch `(t, d)`: `keep` returns
/// the events that stay; those for `(t, d + 1)` wait in `queue.next` for
/// [`Queue::flush`].
fn sink<'q, K: FnMut(Event) -> Option<Event> + 'q>(
    queue: &'q mut Queue,
    (t, d): Key,
    mut keep: K,
) -> impl FnMut(Event) + 'q {
    let Queue {
        batches,
        spare,
        next,
        ..
    } = queue;
    move |ev| {
        if let Some(ev) = keep(ev) {
            if ev.time == t && ev.delta == d + 1 {
                next.push(ev);
            } else {
                push(batches, spare, ev);
            }
        }
    }
}

/// Queues `ev` in its batch, reusing a spare vector for a new batch.
#[inline]
fn push(batches: &mut BTreeMap<Key, Vec<Event>>, spare: &mut Vec<Vec<Event>>, ev: Event) {
    batches
        .entry((ev.time, ev.delta))
        .or_insert_with(|| spare.pop().unwrap_or_default())
        .push(ev);
}

/// Turns what component `src` produced while handling an event at `(t, d)` (passed as
/// `(src, t, d)`) into events:
/// each emission is copied once per wire of its port (in wire order), then each wake-up
/// follows; every copy takes the next number of the source's counter `seq`. Delivery is at
/// `(t, d + 1)` (zero-delay wires), or `(at, 0)` for a later wake-up. Every executor routes
/// through this one function, so event numbering — and with it the order of events into
/// each component — is the same everywhere. A port with a cut fan-out (`cut`) gets the
/// events of the source's worker's wires and one marker per other worker with wires
/// (see [`FANOUT_PORTS`]), and the counter moves past every wire as if uncut.
pub fn route<'a>(
    (src, t, d): (CompId, Ns, u32),
    seq: &mut u64,
    emissions: &mut Vec<Emission>,
    wakes: &mut Vec<(Ns, u64)>,
    wires: impl Fn(Port) -> &'a [(CompId, Port)],
    cut: impl Fn(Port) -> Option<&'a FanoutCut>,
    mut sink: impl FnMut(Event),
) {
    for em in emissions.drain(..) {
        let all = wires(em.port);
        let event = |dst, port, seq| Event {
            time: t,
            delta: d + 1,
            dst,
            port,
            src,
            seq,
            payload: em.payload.clone(),
        };
        let Some(cut) = cut(em.port) else {
            for &(dst, port) in all {
                *seq += 1;
                sink(event(dst, port, *seq));
            }
            continue;
        };
        let base = *seq;
        for (w, part) in cut.parts.iter().enumerate() {
            let Some(&first) = part.wires.first() else {
                continue;
            };
            if w == cut.home {
                for &i in &part.wires {
                    let (dst, port) = all[i as usize];
                    sink(event(dst, port, base + u64::from(i) + 1));
                }
            } else {
                sink(event(all[first as usize].0, FANOUT_PORTS + em.port, base));
            }
        }
        *seq = base + all.len() as u64;
    }
    for (at, tag) in wakes.drain(..) {
        *seq += 1;
        sink(Event {
            time: at,
            delta: if at == t { d + 1 } else { 0 },
            dst: src,
            port: WAKE_PORT,
            src,
            seq: *seq,
            payload: Payload::Wake { tag },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routes one emission of component 0 on port 0 (and one wake-up), cut or not.
    fn routed(routes: &[Vec<Vec<(CompId, Port)>>], cuts: Option<&FanoutCuts>) -> Vec<Event> {
        let mut seq = 7;
        let mut emissions = vec![Emission {
            port: 0,
            payload: Payload::Level { volts: 0.5 },
        }];
        let mut wakes = vec![(20, 3)];
        let mut out = Vec::new();
        route(
            (0, 10, 2),
            &mut seq,
            &mut emissions,
            &mut wakes,
            |p| routes[0][p as usize].as_slice(),
            |p| cuts.and_then(|c| c.cut(0, p)),
            |ev| out.push(ev),
        );
        out
    }

    #[test]
    fn a_cut_fan_out_expands_to_the_events_of_the_uncut_route() {
        // Component 0 (worker 0) feeds 1..=6 on ports 5..; 2, 4, 6 live on worker 1 and
        // 5 on worker 2.
        let wires: Vec<(CompId, Port)> = (1..=6).map(|d| (d, 4 + d)).collect();
        let mut routes = vec![vec![wires]];
        routes.extend((1..=6).map(|_| Vec::new()));
        let owner = [0, 0, 1, 0, 1, 2, 1];
        let dist: Vec<Vec<u32>> = (0..3u32)
            .map(|w| owner.iter().map(|&o| u32::from(o != w)).collect())
            .collect();
        let cuts = FanoutCuts::new(&routes, &owner, &dist);
        let uncut = routed(&routes, None);
        let cut = routed(&routes, Some(&cuts));
        // Worker 0 builds its own two events, one marker for each other worker and the
        // wake-up, whose number follows every wire as if uncut.
        assert_eq!(cut.len(), 5);
        let markers: Vec<&Event> = cut
            .iter()
            .filter(|e| e.port >= FANOUT_PORTS && e.port != WAKE_PORT)
            .collect();
        assert_eq!(markers.len(), 2);
        assert_eq!((markers[0].dst, markers[0].seq), (2, 7));
        assert_eq!((markers[1].dst, markers[1].seq), (5, 7));
        assert_eq!(cut.last().map(|e| e.seq), Some(7 + 6 + 1));
        let mut rebuilt: Vec<Event> = Vec::new();
        for ev in &cut {
            let w = owner[ev.dst as usize] as usize;
            if !cuts.expand(&routes, ev, w, &mut |e| rebuilt.push(e)) {
                rebuilt.push(ev.clone());
            }
        }
        let key = |e: &Event| (e.dst, e.port, e.seq);
        rebuilt.sort_by_key(key);
        let mut uncut = uncut;
        uncut.sort_by_key(key);
        assert_eq!(rebuilt, uncut);
        // The marker's bound covers each of worker 1's destinations (all 1 hop from
        // worker 0, 0 from worker 1).
        let part = cuts.part_of(markers[0], 1).expect("a marker");
        assert_eq!(
            (part.wires.clone(), part.dist.clone()),
            (vec![1, 3, 5], vec![1, 0, 1])
        );
    }

    #[test]
    fn a_network_using_the_marker_ports_is_not_cut() {
        let wires: Vec<(CompId, Port)> = (1..=4).map(|d| (d, FANOUT_PORTS + d)).collect();
        let mut routes = vec![vec![wires]];
        routes.extend((1..=4).map(|_| Vec::new()));
        let owner = [0, 1, 1, 1, 1];
        let dist: Vec<Vec<u32>> = (0..2u32)
            .map(|w| owner.iter().map(|&o| u32::from(o != w)).collect())
            .collect();
        let cuts = FanoutCuts::new(&routes, &owner, &dist);
        assert!(cuts.cut(0, 0).is_none());
        assert_eq!(routed(&routes, Some(&cuts)), routed(&routes, None));
    }
}
