//! The adaptive threshold (`Homeostasis` in the neuron circuit) through a real neuron:
//! each fire tops the threshold capacitor up by `step·(1 − θ/max)`, the capacitor leaks
//! with its time constant, the held line follows it only at rests in the learning mode,
//! and a higher threshold delays the next fire under the same drive.

use runtime::circuits::neuron::Neuron;
use runtime::engine::exec::reference::Simulation;
use runtime::engine::exec::Executor;
use runtime::model::driver::{fire_counts, Driver};
use runtime::model::topology::{build, parse_str};
use std::path::Path;

const STEP: f64 = 0.05;
const MAX: f64 = 1.0;
const LEAK_S: f64 = 2.0;

/// One neuron on 20 lines (10 pulsing: node 1 at half the input level), the MNIST
/// layer's low-voltage TS device and circuit with the adaptive threshold given here.
fn network(
    dir: &Path,
    read_mode: &str,
) -> (
    Simulation,
    runtime::engine::event::CompId,
    runtime::engine::event::CompId,
) {
    let (sim, input, neurons) = network_of(dir, read_mode, 1);
    (sim, input, neurons[0])
}

/// [`network`] with `neurons` neurons on the same lines (no inhibition).
fn network_of(
    dir: &Path,
    read_mode: &str,
    neurons: usize,
) -> (
    Simulation,
    runtime::engine::event::CompId,
    Vec<runtime::engine::event::CompId>,
) {
    let circuit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/devices/neuron_cmos_mnist.ron"),
    )
    .unwrap();
    // The MNIST circuit's node-1 load (0.03 S) is sized for 784-line columns; on this
    // 20-line column it would swamp node 1, so the paper's parasitic leak stands in.
    let circuit = circuit.replace("g_node_leak_siemens: 0.03,", "g_node_leak_siemens: 1.0e-7,");
    assert!(circuit.contains("g_node_leak_siemens: 1.0e-7,"));
    let start = circuit
        .find("homeostasis:")
        .expect("the MNIST circuit has one");
    let end = start + circuit[start..].find(")),").unwrap() + ")),".len();
    let circuit = format!(
        "{}homeostasis: Some((step_volts: {STEP}, max_volts: {MAX}, leak_seconds: {LEAK_S}{read_mode})){}",
        &circuit[..start],
        &circuit[end..]
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("circuit.ron"), circuit).unwrap();
    let ts =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/devices/ts_mnist_hazard.ron");
    let src = format!(
        r#"Topology(
    name: "one_adaptive_neuron",
    devices: (ts: {ts:?}, synapse: "builtin:rs_hfo2_1t1r", circuit: "circuit.ron"),
    variability: (cycle_to_cycle: false, device_to_device: false),
    inputs: [(name: "in", lines: 20, amplitude_volts: 1.45)],
    layers: [(name: "l", neurons: {neurons}, from: "in", connectivity: Dense,
              initial: Uniform(400.0e-6, 0.0), inhibition: None, learning: true)],
)"#
    );
    let checked = parse_str(&src, &dir.join("t.ron"), dir).unwrap_or_else(|e| panic!("{e}"));
    let built = build(&checked, 1).unwrap();
    let input = built.inputs["in"];
    let ids = built.layers["l"].neurons.clone();
    (Simulation::new(built.builder.build()), input, ids)
}

fn theta(sim: &Simulation, id: runtime::engine::event::CompId) -> f64 {
    sim.network().get::<Neuron>(id).unwrap().threshold_volts()
}

/// Presents the pattern until the neuron fires (at most 400 periods), then grounds the
/// inputs for `rest` periods and rests the neuron. Returns the periods to the fire.
fn fire_and_rest(
    sim: &mut Simulation,
    input: runtime::engine::event::CompId,
    n: runtime::engine::event::CompId,
    rest: u64,
) -> Option<u64> {
    let pixels: Vec<bool> = (0..20).map(|i| i < 10).collect();
    let mut d = Driver::new(sim);
    d.run_cycles(0);
    d.present(input, &pixels, 0);
    let (cycles, fired) = d.until_fires(&[n], 1, 400);
    d.run_cycles(1);
    d.stop(&[input]);
    d.run_cycles(rest);
    d.reset_neurons(&[n]);
    d.settle();
    fired.then_some(cycles)
}

#[test]
fn fires_raise_the_held_threshold_which_leaks_and_slows_the_next_fire() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("homeostasis");
    let (mut sim, input, n) = network(&dir, "");
    assert_eq!(theta(&sim, n), 0.0);
    let first = fire_and_rest(&mut sim, input, n, 0).expect("fires at 0.72 V");
    assert_eq!(fire_counts(&sim, &[n]), vec![1]);
    // One fire: the capacitor got `STEP` (from 0), and the rest right after it let the
    // line follow (the leak over the few periods since the fire is below 1e-3 of it).
    let t1 = theta(&sim, n);
    assert!((t1 - STEP).abs() < STEP * 1e-3, "θ after one fire {t1}");

    // A second fire: STEP·(1 − θ/MAX) more, less the leak since the first.
    let second = fire_and_rest(&mut sim, input, n, 0).expect("fires again");
    let t2 = theta(&sim, n);
    let expected = t1 + STEP * (1.0 - t1 / MAX);
    assert!(
        (t2 - expected).abs() < expected * 2e-3,
        "θ after two fires {t2}, expected {expected}"
    );
    // The same drive minus a higher threshold: the fire took longer (deterministic device).
    assert!(
        second >= first,
        "second fire after {second} periods, first after {first}"
    );

    // A long rest (one leak time constant = 4000 periods of 500 µs): the line follows the
    // capacitor's exponential decay at the rest.
    {
        let mut d = Driver::new(&mut sim);
        d.run_cycles(4000);
        d.reset_neurons(&[n]);
        d.settle();
    }
    let t3 = theta(&sim, n);
    let decayed = t2 * (-1.0f64).exp();
    assert!(
        (t3 - decayed).abs() < decayed * 2e-3,
        "θ after a leak time constant {t3}, expected {decayed}"
    );

    // In the read mode the line is held: a fire and a rest leave it where it was.
    Driver::new(&mut sim).set_learning(&[n], false);
    fire_and_rest(&mut sim, input, n, 0).expect("fires in the read mode");
    assert_eq!(theta(&sim, n), t3);
}

#[test]
fn a_threshold_grounded_in_the_read_mode_leaves_reads_to_node_1_alone() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("homeostasis_grounded");
    // Two identical neurons, one whose threshold line is grounded in the read mode.
    let (mut held, input, n) = network(&dir.join("held"), "");
    let (mut grounded, _, _) = network(&dir.join("grounded"), ", read_threshold: Rail(0.0)");
    // Twelve fires in the learning mode: θ = 1 − 0.95¹² ≈ 0.46 V less the leak; both
    // neurons learn alike (the flag acts only in the read mode).
    for _ in 0..12 {
        let a = fire_and_rest(&mut held, input, n, 0);
        let b = fire_and_rest(&mut grounded, input, n, 0);
        assert_eq!(a, b);
    }
    let theta_held = theta(&held, n);
    assert_eq!(theta_held, theta(&grounded, n));
    assert!(theta_held > 0.4, "θ after twelve fires {theta_held}");
    // Read at a level that puts node 1 ~50 mV above θ: the trained column (its ten lines
    // set, the others reset) passes ~96 % of the line level to node 1.
    let read_volts = ((theta_held + 0.05) / 0.96) as f32;
    let mut reads = Vec::new();
    for sim in [&mut held, &mut grounded] {
        let mut d = Driver::new(sim);
        d.set_learning(&[n], false);
        d.set_amplitude(input, read_volts);
        d.run_cycles(400);
        reads.push(fire_and_rest(sim, input, n, 400).unwrap_or(400));
        // A read leaves the held value alone.
        assert_eq!(theta(sim, n), theta_held);
    }
    // ~50 mV of drive against node 1's whole ~0.5 V: e-fold per 0.1 V of the device's
    // drive scale, so the held threshold slows the fire several times, or stops it.
    let (slow, fast) = (reads[0], reads[1]);
    assert!(
        fast * 3 <= slow,
        "read with θ held: {slow} periods; grounded: {fast}"
    );
    assert!(
        fast <= 20,
        "a grounded read took {fast} periods at {read_volts} V"
    );
}

#[test]
fn a_shared_read_rail_sets_the_threshold_of_reads_only() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("homeostasis_rail");
    // Three identical neurons: reads with the held θ, with a 0.25 V rail, grounded.
    let (mut held, input, n) = network(&dir.join("held"), ", read_threshold: Held");
    let (mut rail, _, _) = network(&dir.join("rail"), ", read_threshold: Rail(0.25)");
    let (mut ground, _, _) = network(&dir.join("ground"), ", read_threshold: Rail(0.0)");
    // Learning alike: the rail acts only in the read mode.
    for _ in 0..12 {
        let a = fire_and_rest(&mut held, input, n, 0);
        assert_eq!(a, fire_and_rest(&mut rail, input, n, 0));
        assert_eq!(a, fire_and_rest(&mut ground, input, n, 0));
    }
    let theta_held = theta(&held, n);
    assert!(theta_held > 0.4, "θ after twelve fires {theta_held}");
    // Node 1 ~70 mV above the held θ: the drive is ~70 mV held, ~0.22 V on the rail,
    // ~0.47 V grounded; the device's rate rises e-fold per 0.1 V of drive.
    let read_volts = ((theta_held + 0.07) / 0.96) as f32;
    let mut reads = Vec::new();
    for sim in [&mut held, &mut rail, &mut ground] {
        let mut d = Driver::new(sim);
        d.set_learning(&[n], false);
        d.set_amplitude(input, read_volts);
        d.run_cycles(400);
        reads.push(fire_and_rest(sim, input, n, 400).unwrap_or(400));
        assert_eq!(
            theta(sim, n),
            theta_held,
            "a read leaves the held value alone"
        );
    }
    assert!(
        reads[0] > reads[1] && reads[1] > reads[2],
        "periods to a read fire, held / 0.25 V rail / grounded: {reads:?}"
    );
}

#[test]
fn a_layer_mean_rail_reads_at_the_mean_of_the_held_thresholds() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("homeostasis_mean");
    // Two neurons on the same lines; only the first learns (the second's pump is off),
    // so their held thresholds part: θ0 > 0 = θ1. One layer reads at the layer's mean
    // threshold, its twin at each neuron's held one. They train alike: a layer-mean rail
    // over the second neuron alone (its learning off) is its own held θ1.
    let (mut mean, input, ns) = network_of(&dir.join("mean"), ", read_threshold: LayerMean", 2);
    let (mut held, _, _) = network_of(&dir.join("held"), ", read_threshold: Held", 2);
    for sim in [&mut mean, &mut held] {
        Driver::new(sim).set_learning(&ns[1..], false);
    }
    for _ in 0..12 {
        let a = fire_and_rest(&mut mean, input, ns[0], 0);
        assert_eq!(a, fire_and_rest(&mut held, input, ns[0], 0));
    }
    let (t0, t1) = (theta(&mean, ns[0]), theta(&mean, ns[1]));
    assert!(t0 > 0.4 && t1 == 0.0, "held thresholds {t0} and {t1}");
    let line = |sim: &Simulation, id| {
        sim.network()
            .get::<Neuron>(id)
            .unwrap()
            .threshold_line_volts()
    };
    // Reading: the whole layer's learning line falls, and the rail takes the mean.
    let read_volts = ((t0 + 0.07) / 0.96) as f32;
    let mut reads = Vec::new();
    for sim in [&mut mean, &mut held] {
        let mut d = Driver::new(sim);
        d.set_learning(&ns, false);
        d.set_amplitude(input, read_volts);
        d.run_cycles(400);
        reads.push(fire_and_rest(sim, input, ns[0], 400).unwrap_or(400));
    }
    for &n in &ns {
        assert_eq!(
            line(&mean, n),
            (t0 + t1) / 2.0,
            "the rail is the layer's mean"
        );
        assert_eq!(
            theta(&mean, n),
            theta(&held, n),
            "reads leave the held values alone"
        );
    }
    assert_eq!((line(&held, ns[0]), line(&held, ns[1])), (t0, t1));
    // The first neuron reads against half its own threshold: a stronger drive.
    assert!(
        reads[0] < reads[1],
        "periods to a read fire of the first neuron, layer mean / held: {reads:?}"
    );
}

#[test]
fn a_read_rail_beyond_the_pump_rail_is_refused() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("homeostasis_bad_rail");
    let circuit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/devices/neuron_cmos_mnist.ron"),
    )
    .unwrap();
    let bad = circuit.replace("read_threshold: Rail(0.28)", "read_threshold: Rail(1.5)");
    assert_ne!(bad, circuit, "the MNIST circuit names its read rail");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("circuit.ron");
    std::fs::write(&path, &bad).unwrap();
    let e = devices::params::load_ron::<runtime::circuits::circuit::NeuronCircuit>(&path)
        .unwrap_err()
        .to_string();
    let line = bad
        .lines()
        .position(|l| l.trim_start().starts_with("read_threshold:"))
        .unwrap()
        + 1;
    assert!(
        e.contains(&format!("circuit.ron:{line}:")) && e.contains("read_threshold"),
        "{e}"
    );
}
