//! Layers "as if trained" (`initial: Prototypes(..)`), `PresentPrototype` steps, and the
//! input generator's pulse count — the pieces of the `wta_ff` benchmark workload.

use runtime::circuits::column::Column;
use runtime::circuits::input::{self, InputGenerator};
use runtime::engine::event::{Control, Payload};
use runtime::engine::exec::reference::Simulation;
use runtime::engine::network::NetworkBuilder;
use runtime::engine::time::{Clock, MS};
use runtime::model::protocol::{run_protocol, NetworkIds};
use runtime::model::topology::{build, load, parse_str, prototype};
use std::path::{Path, PathBuf};

fn topologies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies")
}

#[test]
fn prototype_layers_follow_their_prototypes() {
    let path = topologies().join("wta_ff/30x10.ron");
    let checked = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let built = build(&checked, 3).expect("builds");
    let ids = NetworkIds::of(&built);
    let layer = &ids.layers["wta"];
    let net = built.builder.build();
    let mut on = 0;
    for (j, &c) in layer.columns.iter().enumerate() {
        let g = net
            .get::<Column>(c)
            .expect("column")
            .conductances()
            .to_vec();
        let proto = prototype(layer.prototype_key, j, 30, 0.5);
        for (i, (&g, &p)) in g.iter().zip(&proto).enumerate() {
            // on: drawn in 698–980 µS, off: 40–228 µS (each clipped to its own device's
            // window, a few per cent wide): the two never overlap.
            if p {
                assert!(g > 600e-6, "column {j} synapse {i}: on but {g}");
            } else {
                assert!(g < 300e-6, "column {j} synapse {i}: off but {g}");
            }
        }
        on += proto.iter().filter(|&&p| p).count();
    }
    // 300 Bernoulli(0.5) draws: mean 150, sd 8.7; 4 sd either side.
    assert!((115..=185).contains(&on), "{on} of 300 prototype bits on");
    // Another seed gives other prototypes.
    let other = build(&checked, 4).expect("builds");
    let key = NetworkIds::of(&other).layers["wta"].prototype_key;
    assert_ne!(
        prototype(key, 0, 30, 0.5),
        prototype(layer.prototype_key, 0, 30, 0.5)
    );
}

#[test]
fn present_prototype_needs_a_prototype_layer_and_a_real_neuron() {
    let path = topologies().join("wta_ff/30x10.ron");
    let good = std::fs::read_to_string(&path).expect("readable");
    let dir = path.parent().expect("folder");
    let first = "neuron: 0, flips: 2";
    assert!(good.contains(first));
    let bad = good.replacen(first, "neuron: 10, flips: 2", 1);
    let e = parse_str(&bad, Path::new("bad.ron"), dir).expect_err("neuron 10 of 10");
    assert!(e.to_string().contains("no neuron 10"), "{e}");
    let bad = good.replacen(
        "initial: Prototypes(",
        "initial: Uniform(400.0e-6, 0.05), _x: (",
        1,
    );
    assert!(parse_str(&bad, Path::new("bad.ron"), dir).is_err());
    let bad = good.replacen("p_on: 0.5", "p_on: 1.5", 1);
    let e = parse_str(&bad, Path::new("bad.ron"), dir).expect_err("p_on 1.5");
    assert!(e.to_string().contains("p_on must be in [0, 1]"), "{e}");
    let bad = good.replacen("(698.0e-6, 980.0e-6)", "(980.0e-6, 698.0e-6)", 1);
    let e = parse_str(&bad, Path::new("bad.ron"), dir).expect_err("reversed range");
    assert!(e.to_string().contains("on_siemens"), "{e}");
}

#[test]
fn input_pulses_are_counted_per_line_and_rising_edge() {
    let clock = Clock::default(); // 500 µs period
    let mut b = NetworkBuilder::new(clock);
    let gen = b.add("in", Box::new(InputGenerator::new(5, 1.6, 1)));
    let mut sim = Simulation::new(b.build());
    let pixels = vec![true, false, true, true, false].into();
    let present = Control::Present { pixels, flips: 0 };
    sim.inject(0, gen, input::IN_CONTROL, Payload::Control(present));
    sim.run_until(10 * MS + MS / 10);
    let g = |sim: &Simulation| {
        sim.net
            .get::<InputGenerator>(gen)
            .expect("input")
            .line_pulses(&clock, sim.now())
    };
    // Rising edges at 0, 0.5, ..., 10.0 ms: 21 of them, 3 lines pulsing.
    assert_eq!(g(&sim), 63);
    sim.inject(
        sim.now(),
        gen,
        input::IN_CONTROL,
        Payload::Control(Control::Stop),
    );
    sim.run_until(20 * MS);
    // The stop takes effect at 10.5 ms: nothing more after the 21 edges.
    assert_eq!(g(&sim), 63);
}

#[test]
fn a_784_input_layer_is_a_winner_take_all() {
    if cfg!(debug_assertions) {
        eprintln!("skipped in debug builds");
        return;
    }
    let path = topologies().join("wta_ff/784x100.ron");
    let checked = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let built = build(&checked, 1).expect("builds");
    let ids = NetworkIds::of(&built);
    let mut sim = Simulation::new(built.builder.build());
    let log = run_protocol(&mut sim, &ids, checked.topology(), None).expect("runs");
    let fires = &log.layers["wta"].fires_per_neuron;
    // Presentation k shows neuron 10·k's prototype (5 % of pixels flipped): that neuron
    // should win its presentation and the others stay silent.
    let presented: u64 = (0..10).map(|k| fires[10 * k]).sum();
    let total: u64 = fires.iter().sum();
    assert!(total > 100, "only {total} fires in 1 s");
    assert!(
        presented * 100 >= total * 95,
        "{presented} of {total} fires by the presented neurons: {fires:?}"
    );
    for k in 0..10 {
        assert!(
            fires[10 * k] >= 5,
            "neuron {} fired {} times",
            10 * k,
            fires[10 * k]
        );
    }
}

/// Dormancy (a silent neuron's column holding back its inputs) must not change what a
/// network does: probed neurons never go dormant, so the same layer with and without
/// probes on its neurons must fire identically — every neuron, every presentation.
#[test]
fn dormant_neurons_fire_exactly_as_awake_ones() {
    if cfg!(debug_assertions) {
        eprintln!("skipped in debug builds");
        return;
    }
    let path = topologies().join("wta_ff/784x100.ron");
    let text = std::fs::read_to_string(&path).expect("readable");
    let dir = path.parent().expect("folder");
    let probed = text.replacen(
        "    protocol: [",
        "    probes: [(target: \"wta\", signals: [Spikes])],\n    protocol: [",
        1,
    );
    assert_ne!(probed, text);
    let run = |src: &str| {
        let checked = parse_str(src, &path, dir).unwrap_or_else(|e| panic!("{e}"));
        let built = build(&checked, 7).expect("builds");
        let ids = NetworkIds::of(&built);
        let mut sim = Simulation::new(built.builder.build());
        let log = run_protocol(&mut sim, &ids, checked.topology(), None).expect("runs");
        let per_step: Vec<_> = log.steps.iter().map(|s| s.fires.clone()).collect();
        (
            log.layers["wta"].fires_per_neuron.clone(),
            per_step,
            sim.stats().events,
        )
    };
    let (dormant, dormant_steps, dormant_events) = run(&text);
    let (awake, awake_steps, awake_events) = run(&probed);
    assert!(dormant.iter().sum::<u64>() > 100);
    assert_eq!(dormant, awake);
    assert_eq!(dormant_steps, awake_steps);
    // And dormancy is what saves the work: at each fire a silent loser's column takes two
    // gate changes but forwards neither, where an awake neuron gets both (about half the
    // events of the layer); ask for at least 40 % fewer.
    assert!(
        dormant_events * 10 < awake_events * 6,
        "{dormant_events} vs {awake_events} events"
    );
}
