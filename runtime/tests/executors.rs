//! Every executor against the reference: the sharded executor on 1–4 workers (and on
//! arbitrary partitions) and the actix executor (its own System, with and without worker
//! arbiters, and embedded in a caller's System) must give the same probe records after
//! `canonical_sort` and bit-identical final states.
//!
//! Networks are built here from the components (nothing is read from disk):
//! (a) one neuron learning with a programmable column, (b) a 30-input × 10-neuron
//! winner-take-all layer with its LIA, learning, (c) the same with a supervised second
//! layer of 10 neurons fed by the first layer's spikes, (d) a 784 × 400 layer with its LIA,
//! trained-like conductances, in read mode (1.45 V, learning off), three 30 ms
//! presentations. (d) runs in release builds (about 5 s for all its executors) and is
//! skipped in builds with debug assertions or with `MEMSNN_BIG_TESTS=0`; a watchdog fails
//! it instead of hanging if the components ever loop at one instant. Everything else takes
//! about a second in release. `MEMSNN_EXEC_BENCH=1` prints throughput figures
//! (`MEMSNN_EXEC_BENCH=1 cargo test --release -p memsnn-runtime --test executors --
//! --nocapture bench`).

use devices::variability::key;
use devices::{DeviceSet, Variability};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use runtime::circuits::circuit::NeuronCircuit;
use runtime::circuits::column::{self, Column};
use runtime::circuits::gate_driver::{self, GateDriver};
use runtime::circuits::input::{self, InputGenerator};
use runtime::circuits::lia::{Lia, LiaArray, LiaCircuit, LiaParams};
use runtime::circuits::neuron::{self, Neuron};
use runtime::engine::event::{CompId, Control, Payload, Port};
use runtime::engine::exec::actix_exec::{ActixSimulation, BlockingActixSimulation};
use runtime::engine::exec::reference::Simulation;
use runtime::engine::exec::sharded::{Partition, ShardedSimulation};
use runtime::engine::exec::Executor;
use runtime::engine::network::{Network, NetworkBuilder};
use runtime::engine::probe::{canonical_sort, Record};
use runtime::engine::time::{Clock, Ns, MS};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

/// Column programming sub-step, ns (as in the experiments).
const SUBSTEP_NS: Ns = 10_000;

/// An injected event: destination, port, payload.
type Command = (CompId, Port, Payload);

/// Makes an executor (a network moved into it).
type Maker = Box<dyn FnOnce() -> Box<dyn Executor>>;

/// A protocol: commands injected at given times, then a run to `end`.
#[derive(Clone)]
struct Plan {
    steps: Vec<(Ns, Vec<Command>)>,
    end: Ns,
}

/// What a run produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Canonically sorted records, values as bit patterns.
    records: Vec<(Ns, CompId, &'static str, u32, u64)>,
    /// Hash of the final state (conductances, neuron counters, LIA and driver levels).
    state: u64,
    /// Spikes emitted (from the neuron counters).
    spikes: u64,
    /// Synapses whose conductance differs from its initial value.
    changed: usize,
}

fn drive(ex: &mut dyn Executor, plan: &Plan) {
    for (at, cmds) in &plan.steps {
        ex.run_until(*at);
        for (dst, port, payload) in cmds {
            ex.inject(*at, *dst, *port, payload.clone());
        }
    }
    ex.run_until(plan.end);
}

fn outcome(ex: &mut dyn Executor, initial: &[Vec<u32>]) -> Outcome {
    let mut rec: Vec<Record> = ex.take_records();
    canonical_sort(&mut rec);
    let records = rec
        .iter()
        .map(|r| (r.time, r.comp, r.kind, r.index, r.value.to_bits()))
        .collect();
    let net = ex.network();
    let mut h = DefaultHasher::new();
    let mut spikes = 0;
    let mut changed = 0;
    let mut columns = 0;
    for id in 0..net.len() as CompId {
        if let Some(c) = net.get::<Column>(id) {
            let g: Vec<u32> = c.conductances().iter().map(|g| g.to_bits()).collect();
            g.hash(&mut h);
            c.write_joules().to_bits().hash(&mut h);
            c.programmed().hash(&mut h);
            changed += g
                .iter()
                .zip(&initial[columns])
                .filter(|(a, b)| a != b)
                .count();
            columns += 1;
        }
        if let Some(n) = net.get::<Neuron>(id) {
            (n.fires(), n.spikes(), n.cmos_joules().to_bits()).hash(&mut h);
            spikes += n.spikes();
        }
        if let Some(l) = net.get::<Lia>(id) {
            for g in l.gate_levels() {
                g.to_bits().hash(&mut h);
            }
            l.active().hash(&mut h);
        }
        if let Some(d) = net.get::<GateDriver>(id) {
            for g in d.levels() {
                g.to_bits().hash(&mut h);
            }
        }
        if let Some(i) = net.get::<InputGenerator>(id) {
            i.presented().hash(&mut h);
        }
    }
    Outcome {
        records,
        state: h.finish(),
        spikes,
        changed,
    }
}

/// Initial conductances of every column, in id order, as bit patterns.
fn initial_g(net: &Network) -> Vec<Vec<u32>> {
    (0..net.len() as CompId)
        .filter_map(|id| net.get::<Column>(id))
        .map(|c| c.conductances().iter().map(|g| g.to_bits()).collect())
        .collect()
}

/// Runs `plan` on `ex` and returns the outcome and wall time.
fn run(mut ex: Box<dyn Executor>, plan: &Plan, initial: &[Vec<u32>]) -> (Outcome, f64) {
    let t0 = Instant::now();
    drive(ex.as_mut(), plan);
    let secs = t0.elapsed().as_secs_f64();
    (outcome(ex.as_mut(), initial), secs)
}

/// The executors every case is checked on, by name.
fn executors(recipe: &dyn Fn() -> Network) -> Vec<(String, Maker)> {
    let mut v: Vec<(String, Maker)> = Vec::new();
    for w in 1..=4 {
        let net = recipe();
        v.push((
            format!("sharded/{w}"),
            Box::new(move || Box::new(ShardedSimulation::new(net, w)) as Box<dyn Executor>),
        ));
    }
    // A scattered partition: every third component on another worker, so that every wire
    // kind (including the zero-delay neuron ↔ column pair) crosses workers.
    let net = recipe();
    let owner: Vec<usize> = (0..net.len()).map(|i| i % 3).collect();
    v.push((
        "sharded/scattered3".into(),
        Box::new(move || {
            let p = Partition::new(&net, &owner, 3).expect("valid partition");
            Box::new(ShardedSimulation::with_partition(net, p).expect("same network"))
                as Box<dyn Executor>
        }),
    ));
    for arbiters in [0, 2] {
        let net = recipe();
        v.push((
            format!("actix/{arbiters}"),
            Box::new(move || {
                Box::new(BlockingActixSimulation::new(net, arbiters).expect("actix system"))
                    as Box<dyn Executor>
            }),
        ));
    }
    v
}

/// Checks every executor against the reference; returns the reference outcome.
fn check_all(name: &str, recipe: &dyn Fn() -> Network, plan: &Plan) -> Outcome {
    let net = recipe();
    let initial = initial_g(&net);
    let (want, secs) = run(Box::new(Simulation::new(net)), plan, &initial);
    eprintln!(
        "{name}: reference {:.3} s, {} records, {} spikes, {} synapses changed",
        secs,
        want.records.len(),
        want.spikes,
        want.changed
    );
    for (label, make) in executors(recipe) {
        let (got, secs) = run(make(), plan, &initial);
        eprintln!("{name}: {label} {secs:.3} s");
        if got.records != want.records {
            let i = got
                .records
                .iter()
                .zip(&want.records)
                .position(|(a, b)| a != b)
                .unwrap_or(got.records.len().min(want.records.len()));
            panic!(
                "{name}: {label}: records differ at #{i} (of {} vs {}): got {:?}, want {:?}",
                got.records.len(),
                want.records.len(),
                got.records.get(i),
                want.records.get(i)
            );
        }
        assert_eq!(
            got.state, want.state,
            "{name}: {label}: final state differs"
        );
        assert_eq!(got, want, "{name}: {label}");
    }
    want
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; enough for a spread of initial conductances.
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// (a) One neuron with a programmable two-synapse column, learning (paper Supp. Fig 3).
fn single(seed: u64) -> Network {
    let set = DeviceSet::builtin();
    let var = Variability::FULL;
    let mut b = NetworkBuilder::new(Clock::default());
    let inp = b.add(
        "input",
        Box::new(InputGenerator::new(2, 1.6, key(seed, &[1]))),
    );
    let col = b.add(
        "column",
        Box::new(Column::new(
            Arc::new(set.synapse.clone()),
            var,
            key(seed, &[2]),
            vec![400e-6, 400e-6],
            3.0,
            SUBSTEP_NS,
        )),
    );
    let nrn = b.add(
        "neuron",
        Box::new(Neuron::new(
            &set.ts_neuron,
            &NeuronCircuit::builtin(),
            var,
            key(seed, &[3]),
        )),
    );
    b.connect(inp, input::OUT_LINES, col, column::IN_PATTERN);
    b.connect(col, column::OUT_COLUMN, nrn, neuron::IN_COLUMN);
    b.connect(nrn, neuron::OUT_NODE, col, column::IN_NODE);
    for id in [inp, col, nrn] {
        b.probe(id);
    }
    b.build()
}

/// Ids of a winner-take-all network.
struct WtaIds {
    input: CompId,
    driver: Option<CompId>,
}

/// Layer sizes and conductances of a winner-take-all network.
#[derive(Clone, Copy)]
struct Wta {
    inputs: usize,
    hidden: usize,
    /// Output neurons (0: no second layer).
    outputs: usize,
    /// Hidden-layer conductances: false = ~400 µS with a 3 % spread; true = trained-like,
    /// high (950 µS) on a random prototype per neuron, low (45 µS) elsewhere.
    trained: bool,
    /// Depression feedback (T3) enabled.
    learning: bool,
    amplitude: f32,
    seed: u64,
    /// The hidden layer's LIA is the hierarchical one (`lia_hierarchical.ron`), with the
    /// cells' spread and comparator offsets on at any size.
    hierarchical: bool,
}

impl Wta {
    fn build(&self) -> (Network, WtaIds) {
        let set = DeviceSet::builtin();
        let circuit = NeuronCircuit::builtin();
        let var = Variability::FULL;
        let syn = Arc::new(set.synapse.clone());
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        let mut b = NetworkBuilder::new(Clock::default());
        let inp = b.add(
            "input",
            Box::new(InputGenerator::new(
                self.inputs,
                self.amplitude,
                key(self.seed, &[1]),
            )),
        );
        let neurons: Vec<CompId> = (0..self.hidden)
            .map(|j| {
                let n = Neuron::new(
                    &set.ts_neuron,
                    &circuit,
                    var,
                    key(self.seed, &[2, j as u64]),
                )
                .with_learning(self.learning);
                b.add(format!("hidden.neuron[{j}]"), Box::new(n))
            })
            .collect();
        let columns: Vec<CompId> = (0..self.hidden)
            .map(|j| {
                let g: Vec<f32> = if self.trained {
                    self.prototype(j)
                        .iter()
                        .map(|&px| if px { 950e-6 } else { 45e-6 })
                        .collect()
                } else {
                    (0..self.inputs)
                        .map(|_| (400e-6 * (1.0 + 0.03 * normal(&mut rng))) as f32)
                        .collect()
                };
                let c = Column::new(
                    Arc::clone(&syn),
                    var,
                    key(self.seed, &[3, j as u64]),
                    g,
                    3.0,
                    SUBSTEP_NS,
                );
                b.add(format!("hidden.column[{j}]"), Box::new(c))
            })
            .collect();
        let params = if self.hierarchical {
            LiaParams::builtin_hierarchical()
        } else if self.hidden > 45 {
            LiaParams::builtin().with_auto_reference()
        } else {
            LiaParams::builtin()
        };
        let design = params
            .design(&set.synapse, self.hidden)
            .expect("LIA design");
        // Beyond a few tens of neurons the divider's margin is smaller than the devices'
        // spread (see the `lia` module docs): a fabricated array would close a winner's
        // own gate, and its L1 (transparent while CLK is high) would then oscillate with
        // the LIA at zero delay. Large layers use nominal cells and comparators.
        let lia_var = if self.hidden > 32 && !self.hierarchical {
            Variability::NONE
        } else {
            var
        };
        let inhibition = if self.hierarchical {
            LiaCircuit::new(
                &params,
                self.hidden,
                &set.synapse,
                &set.comparator,
                lia_var,
                key(self.seed, &[4]),
            )
            .expect("hierarchical LIA")
        } else {
            LiaCircuit::Flat(LiaArray::new(
                &design,
                &set.synapse,
                &set.comparator,
                lia_var,
                key(self.seed, &[4]),
            ))
        };
        // `Lia::whole` has no comparator delay: the cascade neuron → LIA → columns happens
        // within one instant, across workers. (The shipped 1 µs delay turns the same-phase
        // double latch of the large layer into a 1 µs oscillation: 20× the work.)
        let lia = b.add("hidden.lia", Box::new(Lia::whole(inhibition)));
        for (j, (&n, &c)) in neurons.iter().zip(&columns).enumerate() {
            b.connect(inp, input::OUT_LINES, c, column::IN_PATTERN);
            b.connect(c, column::OUT_COLUMN, n, neuron::IN_COLUMN);
            b.connect(n, neuron::OUT_NODE, c, column::IN_NODE);
            b.connect(n, neuron::OUT_LI, lia, j as Port);
            b.connect(lia, j as Port, c, column::IN_GATE);
        }
        let mut driver = None;
        if self.outputs > 0 {
            let out_neurons: Vec<CompId> = (0..self.outputs)
                .map(|j| {
                    let n = Neuron::new(
                        &set.ts_neuron,
                        &circuit,
                        var,
                        key(self.seed, &[5, j as u64]),
                    );
                    b.add(format!("out.neuron[{j}]"), Box::new(n))
                })
                .collect();
            let out_columns: Vec<CompId> = (0..self.outputs)
                .map(|j| {
                    let g = (0..self.hidden)
                        .map(|_| (40e-6 * (1.0 + 0.03 * normal(&mut rng))) as f32)
                        .collect();
                    let c = Column::new(
                        Arc::clone(&syn),
                        var,
                        key(self.seed, &[6, j as u64]),
                        g,
                        0.0,
                        SUBSTEP_NS,
                    );
                    b.add(format!("out.column[{j}]"), Box::new(c))
                })
                .collect();
            let d = b.add("out.gates", Box::new(GateDriver::new(self.outputs, 0.0)));
            for (i, &pre) in neurons.iter().enumerate() {
                for &c in &out_columns {
                    b.connect(pre, neuron::OUT_SPIKE, c, column::IN_LINE_BASE + i as Port);
                }
            }
            for (j, (&n, &c)) in out_neurons.iter().zip(&out_columns).enumerate() {
                b.connect(c, column::OUT_COLUMN, n, neuron::IN_COLUMN);
                b.connect(n, neuron::OUT_NODE, c, column::IN_NODE);
                b.connect(d, j as Port, c, column::IN_GATE);
            }
            driver = Some(d);
        }
        for id in 0..b.len() as CompId {
            b.probe(id);
        }
        (b.build(), WtaIds { input: inp, driver })
    }

    /// The pattern hidden neuron `j` was "trained" on (20 % of the pixels).
    fn prototype(&self, j: usize) -> Vec<bool> {
        let mut rng = ChaCha8Rng::seed_from_u64(key(self.seed, &[8, j as u64]));
        (0..self.inputs).map(|_| rng.random_bool(0.2)).collect()
    }

    /// Patterns presented for `each` ns apiece: random ones with this pixel `density`, or
    /// (trained networks) the prototypes of a few neurons with 2 % noise pixels. With a
    /// second layer, the gates of output neuron `k % outputs` are opened during
    /// presentation `k`.
    fn plan(&self, ids: &WtaIds, patterns: usize, each: Ns, density: f64) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(key(self.seed, &[7]));
        let mut steps = Vec::new();
        for k in 0..patterns {
            let (pixels, flips): (Arc<[bool]>, u32) = if self.trained {
                let j = (k * 97 + 3) % self.hidden;
                (self.prototype(j).into(), (self.inputs / 50) as u32)
            } else {
                let px = (0..self.inputs).map(|_| rng.random_bool(density)).collect();
                (px, 0)
            };
            let mut cmds = vec![(
                ids.input,
                input::IN_CONTROL,
                Payload::Control(Control::Present { pixels, flips }),
            )];
            if let Some(d) = ids.driver {
                let levels: Arc<[f32]> = (0..self.outputs)
                    .map(|j| if j == k % self.outputs { 3.0 } else { 0.0 })
                    .collect();
                cmds.push((
                    d,
                    gate_driver::IN_CONTROL,
                    Payload::Control(Control::Gates(levels)),
                ));
            }
            steps.push((k as Ns * each, cmds));
        }
        Plan {
            steps,
            end: patterns as Ns * each,
        }
    }
}

#[test]
fn single_neuron_learning() {
    let plan = Plan {
        steps: vec![(
            0,
            vec![(
                0,
                input::IN_CONTROL,
                Payload::Control(Control::Present {
                    pixels: vec![true, false].into(),
                    flips: 0,
                }),
            )],
        )],
        end: 120 * MS,
    };
    let want = check_all("single", &|| single(11), &plan);
    assert!(want.spikes > 3, "the neuron must spike ({})", want.spikes);
    assert!(
        want.changed == 2,
        "both synapses must learn ({})",
        want.changed
    );
}

fn wta_b() -> Wta {
    Wta {
        inputs: 30,
        hidden: 10,
        outputs: 0,
        trained: false,
        learning: true,
        amplitude: 1.6,
        seed: 5,
        hierarchical: false,
    }
}

/// A 30×100 layer with the hierarchical LIA (groups of 16, two levels) and every spread
/// on: every executor agrees bit for bit.
#[test]
fn hierarchical_lia_layer() {
    let done = watchdog("hierarchical_lia_layer", 240);
    let w = Wta {
        hidden: 100,
        seed: 17,
        hierarchical: true,
        ..wta_b()
    };
    let plan = w.plan(&w.build().1, 4, 40 * MS, 0.5);
    let want = check_all("wta30x100_hierarchical", &|| w.build().0, &plan);
    assert!(
        want.spikes > 3,
        "hidden neurons must spike ({})",
        want.spikes
    );
    assert!(want.changed > 10, "synapses must learn ({})", want.changed);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
}

#[test]
fn winner_take_all_layer() {
    let w = wta_b();
    let plan = w.plan(&w.build().1, 6, 60 * MS, 0.5);
    let want = check_all("wta30x10", &|| w.build().0, &plan);
    assert!(
        want.spikes > 5,
        "hidden neurons must spike ({})",
        want.spikes
    );
    assert!(want.changed > 10, "synapses must learn ({})", want.changed);
}

#[test]
fn two_layers() {
    let w = Wta {
        outputs: 10,
        seed: 9,
        ..wta_b()
    };
    let plan = w.plan(&w.build().1, 5, 60 * MS, 0.5);
    let want = check_all("msnn30x10x10", &|| w.build().0, &plan);
    assert!(want.spikes > 5, "neurons must spike ({})", want.spikes);
    assert!(want.changed > 10, "synapses must learn ({})", want.changed);
}

/// Random partitions (any component on any worker) of the two-layer network.
#[test]
fn random_partitions() {
    let w = Wta {
        outputs: 10,
        seed: 13,
        ..wta_b()
    };
    let plan = w.plan(&w.build().1, 3, 40 * MS, 0.5);
    let net = w.build().0;
    let initial = initial_g(&net);
    let (want, _) = run(Box::new(Simulation::new(net)), &plan, &initial);
    assert!(want.spikes > 0);
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    for trial in 0..4 {
        let workers = 2 + trial % 3;
        let net = w.build().0;
        let owner: Vec<usize> = (0..net.len())
            .map(|_| rng.random_range(0..workers))
            .collect();
        let p = Partition::new(&net, &owner, workers).expect("valid partition");
        let sim = ShardedSimulation::with_partition(net, p).expect("same network");
        let (got, _) = run(Box::new(sim), &plan, &initial);
        assert!(
            got == want,
            "random partition {trial} over {workers} workers differs: {owner:?}"
        );
    }
}

fn big_enabled() -> bool {
    std::env::var("MEMSNN_BIG_TESTS").map_or(true, |v| v != "0")
}

fn wta_big() -> Wta {
    Wta {
        inputs: 784,
        hidden: 400,
        outputs: 0,
        trained: true,
        learning: false,
        amplitude: 1.45,
        seed: 21,
        hierarchical: false,
    }
}

#[test]
fn big_read_mode_layer() {
    if !big_enabled() || cfg!(debug_assertions) {
        eprintln!("big test skipped (debug build or MEMSNN_BIG_TESTS=0)");
        return;
    }
    let done = watchdog("big_read_mode_layer", 240);
    let w = wta_big();
    let plan = w.plan(&w.build().1, 3, 30 * MS, 0.2);
    let recipe = || w.build().0;
    let net = recipe();
    let initial = initial_g(&net);
    let (want, secs) = run(Box::new(Simulation::new(net)), &plan, &initial);
    eprintln!(
        "big: reference {secs:.2} s, {} records, {} spikes",
        want.records.len(),
        want.spikes
    );
    assert!(want.spikes > 0, "the layer must spike");
    let mut makers: Vec<(String, Maker)> = Vec::new();
    for wk in [1, 2, 4] {
        let net = recipe();
        makers.push((
            format!("sharded/{wk}"),
            Box::new(move || Box::new(ShardedSimulation::new(net, wk)) as Box<dyn Executor>),
        ));
    }
    let net = recipe();
    makers.push((
        "actix/2".into(),
        Box::new(move || {
            Box::new(BlockingActixSimulation::new(net, 2).expect("actix system"))
                as Box<dyn Executor>
        }),
    ));
    for (label, make) in makers {
        let (got, secs) = run(make(), &plan, &initial);
        eprintln!("big: {label} {secs:.2} s");
        assert_eq!(got.state, want.state, "big: {label}: final state differs");
        assert!(got.records == want.records, "big: {label}: records differ");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Aborts the test process if the returned flag is not set within `secs` seconds. With a
/// zero-delay LIA the components allow loops at one instant (two neurons latching L1 in
/// the same CLK-high phase close each other's gates, which drops both L1s, which reopens
/// the gates, ...): the reference then loops over delta cycles for ever, growing memory.
/// Fail loudly rather than hang if a change of the components' dynamics brings one in.
fn watchdog(name: &'static str, secs: u64) -> Arc<std::sync::atomic::AtomicBool> {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = Arc::clone(&flag);
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while t0.elapsed().as_secs() < secs {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if f.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
        }
        eprintln!("{name}: still running after {secs} s (a zero-delay loop?); aborting");
        std::process::abort();
    });
    flag
}

/// The actix executor embedded in a caller's System, driven with `.await`.
#[test]
fn actix_inside_a_callers_system() {
    let w = wta_b();
    let (net, ids) = w.build();
    let initial = initial_g(&net);
    let plan = w.plan(&ids, 3, 40 * MS, 0.5);
    let (want, _) = run(Box::new(Simulation::new(w.build().0)), &plan, &initial);
    let sys = actix::System::new();
    let got = sys.block_on(async move {
        let mut sim = ActixSimulation::new(net, 1).expect("inside a System");
        for (at, cmds) in &plan.steps {
            sim.run_until(*at).await.expect("run");
            for (dst, port, payload) in cmds {
                sim.inject(*at, *dst, *port, payload.clone());
            }
        }
        sim.run_until(plan.end).await.expect("run");
        let mut rec = sim.take_records();
        canonical_sort(&mut rec);
        let n: u64 = (0..sim.network().len() as CompId)
            .filter_map(|id| sim.network().get::<Neuron>(id))
            .map(Neuron::spikes)
            .sum();
        (rec, n)
    });
    let records: Vec<_> = got
        .0
        .iter()
        .map(|r| (r.time, r.comp, r.kind, r.index, r.value.to_bits()))
        .collect();
    assert!(records == want.records, "embedded actix: records differ");
    assert_eq!(got.1, want.spikes);
}

/// A component that panics on its first event.
struct Bomb;

impl runtime::engine::component::Component for Bomb {
    fn kind(&self) -> &'static str {
        "bomb"
    }
    fn handle(
        &mut self,
        _ev: &runtime::engine::event::Event,
        _ctx: &mut runtime::engine::component::Ctx,
    ) {
        panic!("boom");
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

fn bombs() -> Network {
    let mut b = NetworkBuilder::new(Clock::default());
    let x = b.add("a", Box::new(Bomb));
    let y = b.add("b", Box::new(Bomb));
    b.connect(x, 0, y, 0);
    b.build()
}

#[test]
fn a_panicking_component_is_reported() {
    let mut s = ShardedSimulation::new(bombs(), 2);
    assert_eq!(s.workers(), 2);
    s.inject(0, 1, 0, Payload::Wake { tag: 0 });
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run_until(MS)));
    let payload = r.expect_err("the panic must reach the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.run_until(2 * MS)));
    assert!(again.is_err(), "a poisoned simulation refuses to run");

    let mut a = BlockingActixSimulation::new(bombs(), 1).expect("actix system");
    a.inject(0, 1, 0, Payload::Wake { tag: 0 });
    match a.try_run_until(MS) {
        Err(runtime::engine::exec::actix_exec::ActixError::ActorFailed(1)) => {}
        other => panic!("expected ActorFailed(1), got {other:?}"),
    }
    assert!(a.try_run_until(2 * MS).is_err());
}

#[test]
fn bad_inputs_are_errors() {
    use runtime::engine::exec::sharded::PartitionError;
    let net = bombs();
    assert!(matches!(
        Partition::new(&net, &[0], 1),
        Err(PartitionError::Length {
            expected: 2,
            given: 1
        })
    ));
    assert!(matches!(
        Partition::new(&net, &[0, 2], 2),
        Err(PartitionError::Worker {
            component: 1,
            worker: 2,
            workers: 2
        })
    ));
    // Workers without components are dropped; the count is clamped to the components.
    let p = Partition::new(&net, &[3, 3], 5).expect("valid");
    assert_eq!((p.workers(), p.owner(0), p.owner(1)), (1, Some(0), Some(0)));
    assert_eq!(Partition::balanced(&net, 9).workers(), 2);
    assert_eq!(Partition::balanced(&net, 0).workers(), 1);
    let other = Partition::balanced(&single(1), 2);
    assert!(matches!(
        ShardedSimulation::with_partition(bombs(), other),
        Err(PartitionError::Length { .. })
    ));
    // Events for components that do not exist are an error, not a crash.
    let mut s = ShardedSimulation::new(bombs(), 2);
    s.inject(0, 99, 0, Payload::Wake { tag: 0 });
    s.run_until(MS);
    assert_eq!(s.stats().events, 0);
    assert!(s.halted().is_some());
    // The async actix core needs a System on the calling thread.
    let outside = std::thread::spawn(|| ActixSimulation::new(bombs(), 0).is_err())
        .join()
        .expect("thread");
    assert!(outside, "no System: an error, not a panic");
    // An empty network runs.
    let mut e = ShardedSimulation::new(NetworkBuilder::new(Clock::default()).build(), 3);
    e.run_until(MS);
    assert_eq!(e.now(), MS);
}

/// Throughput of each executor (events per wall-clock second); run with
/// `MEMSNN_EXEC_BENCH=1 cargo test --release -p memsnn-runtime --test executors -- --nocapture bench`.
#[test]
fn bench() {
    if std::env::var("MEMSNN_EXEC_BENCH").map_or(true, |v| v != "1") {
        return;
    }
    let cases: Vec<(&str, Wta, usize, Ns, f64)> = vec![
        ("wta30x10 (b)", wta_b(), 10, 60 * MS, 0.5),
        ("wta784x400 read", wta_big(), 3, 30 * MS, 0.2),
    ];
    for (name, w, patterns, each, density) in cases {
        let plan = w.plan(&w.build().1, patterns, each, density);
        let t0 = Instant::now();
        let mut r = Simulation::new(w.build().0);
        drive(&mut r, &plan);
        let secs = t0.elapsed().as_secs_f64();
        let ev = r.stats().events;
        println!(
            "{name}: reference: {ev} events, {} batches, {secs:.3} s, {:.0} events/s",
            r.stats().batches,
            ev as f64 / secs
        );
        for wk in [1, 2, 4] {
            let t0 = Instant::now();
            let mut s = ShardedSimulation::new(w.build().0, wk);
            drive(&mut s, &plan);
            let secs = t0.elapsed().as_secs_f64();
            let st = s.stats();
            println!(
                "{name}: sharded/{wk}: {:.3} s, {:.0} events/s, {} rounds, critical path {} events, {} local batches, {} remote events, per worker {:?}",
                secs,
                st.events as f64 / secs,
                st.rounds,
                st.critical_events,
                st.batches,
                st.remote_events,
                st.worker_events
            );
        }
        for arb in [0, 2] {
            let t0 = Instant::now();
            let mut a = BlockingActixSimulation::new(w.build().0, arb).expect("actix");
            drive(&mut a, &plan);
            let s = t0.elapsed().as_secs_f64();
            let st = a.stats();
            println!(
                "{name}: actix/{arb}: {s:.3} s, {:.0} events/s, {} batches, {} messages, {:.2} µs per event and {:.2} µs per message over the reference",
                st.events as f64 / s,
                st.batches,
                st.messages,
                (s - secs) / st.events as f64 * 1e6,
                (s - secs) / st.messages as f64 * 1e6,
            );
        }
    }
}

/// Two components that re-trigger each other at the same instant for ever.
struct PingPong;

impl runtime::engine::component::Component for PingPong {
    fn kind(&self) -> &'static str {
        "pingpong"
    }
    fn start(&mut self, ctx: &mut runtime::engine::component::Ctx) {
        ctx.emit(0, Payload::Level { volts: 1.0 });
    }
    fn handle(
        &mut self,
        _ev: &runtime::engine::event::Event,
        ctx: &mut runtime::engine::component::Ctx,
    ) {
        ctx.emit(0, Payload::Level { volts: 1.0 });
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

#[test]
fn a_zero_time_loop_halts_every_executor() {
    let net = || {
        let mut b = NetworkBuilder::new(Clock::default());
        let x = b.add("ping", Box::new(PingPong));
        let y = b.add("pong", Box::new(PingPong));
        b.connect(x, 0, y, 0);
        b.connect(y, 0, x, 0);
        b.build()
    };
    let mut execs: Vec<(String, Box<dyn Executor>)> =
        vec![("reference".into(), Box::new(Simulation::new(net())))];
    for w in [1, 2] {
        execs.push((
            format!("sharded/{w}"),
            Box::new(ShardedSimulation::new(net(), w)),
        ));
    }
    let actix = BlockingActixSimulation::new(net(), 1).expect("actix system");
    execs.push(("actix/1".into(), Box::new(actix)));
    for (label, mut ex) in execs {
        let done = watchdog("zero-time loop", 60);
        ex.run_until(MS);
        let msg = ex.halted().unwrap_or_else(|| panic!("{label}: not halted"));
        let msg = msg.to_string();
        assert!(
            msg.contains("zero-time loop") && msg.contains("ping"),
            "{label}: {msg}"
        );
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
