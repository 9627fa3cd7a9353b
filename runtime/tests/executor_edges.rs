//! The executors at their edges: a zero-time loop and an event for a component the
//! network does not have give the same result on every executor — the same error, the
//! same instant, the same records and event count — because the shared executor core
//! decides them.

use runtime::engine::component::{Component, Ctx};
use runtime::engine::event::{Event, Payload};
use runtime::engine::exec::sharded::{Partition, ShardedSimulation};
use runtime::engine::exec::{ExecError, Executor, ExecutorKind};
use runtime::engine::network::{Network, NetworkBuilder};
use runtime::engine::probe::canonical_sort;
use runtime::engine::time::{Clock, Ns};
use std::any::Any;

/// Re-emits on port 0 whatever reaches it: two of them wired both ways loop at one
/// instant once something starts them.
struct PingPong;

impl Component for PingPong {
    fn kind(&self) -> &'static str {
        "pingpong"
    }
    fn handle(&mut self, _ev: &Event, ctx: &mut Ctx) {
        ctx.emit(0, Payload::Level { volts: 1.0 });
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Wakes every `TICK_NS` and records the time.
struct Ticker;

const TICK_NS: Ns = 1000;

impl Component for Ticker {
    fn kind(&self) -> &'static str {
        "ticker"
    }
    fn start(&mut self, ctx: &mut Ctx) {
        ctx.wake_at(TICK_NS, 0);
    }
    fn handle(&mut self, _ev: &Event, ctx: &mut Ctx) {
        ctx.record("tick", 0, ctx.now() as f64);
        ctx.wake_at(ctx.now() + TICK_NS, 0);
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// `ping` (0) and `pong` (1) wired both ways, and a probed ticker (2) that neither
/// reaches.
fn looping() -> Network {
    let mut b = NetworkBuilder::new(Clock::default());
    let x = b.add("ping", Box::new(PingPong));
    let y = b.add("pong", Box::new(PingPong));
    let t = b.add("ticker", Box::new(Ticker));
    b.connect(x, 0, y, 0);
    b.connect(y, 0, x, 0);
    b.probe(t);
    b.build()
}

/// What a run ends with.
#[derive(Debug, PartialEq)]
struct End {
    error: Option<String>,
    now: Ns,
    records: Vec<(Ns, u32, u64)>,
    events: u64,
}

fn end(ex: &mut dyn Executor) -> End {
    let mut records = ex.take_records();
    canonical_sort(&mut records);
    End {
        error: ex.halted().map(|e| e.to_string()),
        now: ex.now(),
        records: records
            .iter()
            .map(|r| (r.time, r.comp, r.value.to_bits()))
            .collect(),
        events: ex.handled_events(),
    }
}

/// Every executor on a fresh `net()`: reference, sharded on 1 and 2 workers (the
/// balanced partition and one that splits `ping` from `pong`), actix on the System's
/// thread and on 1 and 2 arbiters.
fn every_executor(net: fn() -> Network) -> Vec<(String, Box<dyn Executor>)> {
    let mut out: Vec<(String, Box<dyn Executor>)> = Vec::new();
    for (kind, workers) in [
        (ExecutorKind::Reference, 1),
        (ExecutorKind::Sharded, 1),
        (ExecutorKind::Sharded, 2),
        (ExecutorKind::Actix, 0),
        (ExecutorKind::Actix, 1),
        (ExecutorKind::Actix, 2),
    ] {
        if kind == ExecutorKind::Actix && cfg!(not(feature = "actix")) {
            continue;
        }
        let ex = kind.executor(net(), workers).expect("starts");
        out.push((format!("{kind}/{workers}"), ex));
    }
    for split in [[0, 1, 0, 1, 0], [0, 0, 1, 1, 1]] {
        let n = net();
        let owner = &split[..n.len()];
        let part = Partition::new(&n, owner, 2).expect("valid");
        let ex = ShardedSimulation::with_partition(n, part).expect("same network");
        out.push((format!("sharded/{owner:?}"), Box::new(ex)));
    }
    out
}

/// Runs `drive` on every executor; all must end alike. Returns the reference's end.
fn same_everywhere(net: fn() -> Network, drive: impl Fn(&mut dyn Executor)) -> End {
    let mut want = None;
    for (label, mut ex) in every_executor(net) {
        drive(ex.as_mut());
        let got = end(ex.as_mut());
        match &want {
            None => want = Some(got),
            Some(w) => assert_eq!(&got, w, "{label} differs from the reference"),
        }
    }
    want.expect("at least one executor")
}

#[test]
fn a_zero_time_loop_halts_every_executor_at_the_same_instant() {
    let got = same_everywhere(looping, |ex| {
        ex.run_until(3 * TICK_NS + 500);
        ex.inject(5 * TICK_NS, 0, 0, Payload::Level { volts: 1.0 });
        ex.run_until(20 * TICK_NS);
        // Halted for good: nothing more is processed, time does not pass.
        ex.inject(21 * TICK_NS, 0, 0, Payload::Level { volts: 1.0 });
        ex.run_until(30 * TICK_NS);
    });
    let msg = got.error.expect("halted");
    assert!(
        msg.starts_with(
            "zero-time loop: more than 100000 delta cycles at t = 5000 ns (e.g. pong);"
        ),
        "{msg}"
    );
    assert_eq!(got.now, 5 * TICK_NS);
    // Every tick up to and including the loop's instant (its wake-up comes before the
    // looping batch), none after.
    let ticks: Vec<Ns> = got.records.iter().map(|r| r.0).collect();
    assert_eq!(ticks, (1..=5).map(|k| k * TICK_NS).collect::<Vec<_>>());
}

#[test]
fn an_injected_event_for_a_missing_component_halts_every_executor() {
    let got = same_everywhere(looping, |ex| {
        ex.run_until(2 * TICK_NS + 500);
        ex.inject(4 * TICK_NS, 99, 3, Payload::Level { volts: 1.0 });
        ex.run_until(10 * TICK_NS);
    });
    let msg = got.error.expect("halted");
    assert_eq!(
        msg,
        "an event injected at t = 4000 ns on port 3 goes to component 99, but the network \
         has 3 components (ids 0..3); address a component of this network"
    );
    assert_eq!(
        got.now,
        2 * TICK_NS + 500,
        "nothing after the bad injection runs"
    );
    assert_eq!(got.records.len(), 2);
}

/// Two rings like `looping`'s, `ping` (0) ↔ `pong` (1) and `ping2` (2) ↔ `pong2` (3),
/// that do not reach each other, and a probed ticker (4).
fn two_loops() -> Network {
    let mut b = NetworkBuilder::new(Clock::default());
    let ids: Vec<_> = ["ping", "pong", "ping2", "pong2"]
        .into_iter()
        .map(|name| b.add(name, Box::new(PingPong)))
        .collect();
    for pair in ids.chunks(2) {
        b.connect(pair[0], 0, pair[1], 0);
        b.connect(pair[1], 0, pair[0], 0);
    }
    let t = b.add("ticker", Box::new(Ticker));
    b.probe(t);
    b.build()
}

#[test]
fn two_loops_at_one_instant_are_named_alike_on_every_executor() {
    let got = same_everywhere(two_loops, |ex| {
        ex.inject(5 * TICK_NS, 0, 0, Payload::Level { volts: 1.0 });
        ex.inject(5 * TICK_NS, 2, 0, Payload::Level { volts: 1.0 });
        ex.run_until(20 * TICK_NS);
    });
    let msg = got.error.expect("halted");
    assert!(msg.contains("at t = 5000 ns (e.g. pong, pong2);"), "{msg}");
    assert_eq!((got.now, got.records.len()), (5 * TICK_NS, 5));
}

/// `looping` with a wire from `pong` to a component 7 the network does not have.
fn miswired() -> Network {
    let mut net = looping();
    net.routes[1][0].push((7, 0));
    net
}

#[test]
fn a_wire_to_a_missing_component_is_refused_by_every_executor() {
    for kind in ExecutorKind::ALL {
        match kind.executor(miswired(), 2) {
            Err(ExecError::UnknownDestination { dst: 7, .. }) => {}
            Err(ExecError::ActixUnavailable) if cfg!(not(feature = "actix")) => {}
            Err(ExecError::MpiUnavailable) if cfg!(not(feature = "mpi")) => {}
            Err(e) => panic!("{kind}: {e}"),
            Ok(_) => panic!("{kind}: accepted"),
        }
    }
    let msg = ExecutorKind::Reference
        .executor(miswired(), 1)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        msg.as_deref(),
        Some(
            "the wire from `pong` output port 0 goes to component 7, but the network has 3 \
             components (ids 0..3); address a component of this network"
        )
    );
    // Made directly, an executor starts halted with the same error and runs nothing.
    let mut direct: Vec<(&str, Box<dyn Executor>)> = vec![
        (
            "reference",
            Box::new(runtime::engine::exec::reference::Simulation::new(miswired())),
        ),
        ("sharded", Box::new(ShardedSimulation::new(miswired(), 2))),
    ];
    #[cfg(feature = "actix")]
    direct.push((
        "actix",
        Box::new(
            runtime::engine::exec::actix_exec::BlockingActixSimulation::new(miswired(), 1)
                .expect("actix"),
        ),
    ));
    for (label, ex) in &mut direct {
        ex.run_until(10 * TICK_NS);
        let e = end(ex.as_mut());
        assert_eq!(e.error.as_deref(), msg.as_deref(), "{label}");
        assert_eq!((e.now, e.events), (0, 0), "{label}");
    }
}

#[test]
fn executor_kinds_parse_and_print_their_names() {
    for kind in ExecutorKind::ALL {
        assert_eq!(kind.to_string().parse::<ExecutorKind>(), Ok(kind));
    }
    let e = "gpu".parse::<ExecutorKind>().expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "unknown executor `gpu`; use one of: reference, sharded, actix, mpi"
    );
}
