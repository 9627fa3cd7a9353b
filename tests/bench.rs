//! `memsnn bench`: records in the baselines' schema, identical counts on every executor,
//! the synaptic-event arithmetic, the memory estimate against the measured heap, and a
//! clear refusal of a network that cannot fit.

use memsnn::alloc_count::{live_bytes, CountingAlloc};
use memsnn::bench::{bench, parse_sizes, wta_ff_topology, BenchOptions, Workload};
use runtime::model::topology::{build, load, memory_estimate_bytes};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// The allocation counter is process-wide: the tests of this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn opts(executors: &[&str], workers: &[usize], size: (usize, usize)) -> BenchOptions {
    BenchOptions {
        executors: executors.iter().map(|s| s.to_string()).collect(),
        workers: workers.to_vec(),
        topologies: vec![wta_ff_topology(size.0, size.1)],
        workload: Some("wta_ff".into()),
        reps: 1,
        seed: 1,
        learning_write_volts: None,
        pulse_prob: None,
    }
}

#[test]
fn counts_are_identical_on_every_executor_and_add_up() {
    let _serial = serial();
    let records = bench(
        &opts(&["reference", "sharded", "actix"], &[1, 2], (30, 10)),
        |_| {},
    )
    .expect("bench runs");
    assert_eq!(records.len(), 5); // reference, sharded ×2, actix ×2
    let r0 = &records[0];
    assert_eq!((r0.n_neurons, r0.n_synapses), (40, 30 * 10 + 10 * 9));
    assert!((r0.sim_time_s - 1.0).abs() < 1e-9, "{}", r0.sim_time_s);
    for r in &records[1..] {
        let same = (r.spikes_in, r.spikes_out, r.synaptic_events);
        assert_eq!(
            same,
            (r0.spikes_in, r0.spikes_out, r0.synaptic_events),
            "{} ×{}",
            r.mode,
            r.threads
        );
    }
    // 10 presentations of 200 CLK periods; each pulsing line pulses once per period.
    // Prototypes have p = 0.5 of 30 pixels with 2 flipped: ~15 lines on (a few either way).
    let per_cycle = r0.spikes_in as f64 / 2000.0;
    assert!((8.0..=22.0).contains(&per_cycle), "{per_cycle} lines on");
    assert_eq!(
        r0.spikes_in % 200,
        0,
        "whole presentations of 200 pulses per line"
    );
    // Every input pulse reaches the 10 columns; every fire reaches the 9 other neurons
    // through the LIA. Output spikes go nowhere else in this one-layer network.
    let lateral = r0.synaptic_events - r0.spikes_in * 10;
    assert_eq!(lateral % 9, 0);
    assert!(lateral / 9 >= r0.spikes_out && lateral / 9 <= r0.spikes_out + 1);
    assert!(r0.spikes_out > 50, "the layer fires: {}", r0.spikes_out);
    let line = serde_json::to_value(r0).expect("json");
    for key in [
        "simulator",
        "mode",
        "workload",
        "n_neurons",
        "n_synapses",
        "sim_time_s",
        "wall_s",
        "spikes",
        "synaptic_events",
        "events_per_s",
        "peak_rss_mb",
    ] {
        assert!(line.get(key).is_some(), "no `{key}` in {line}");
    }
}

#[test]
fn the_memory_estimate_bounds_the_built_network() {
    let _serial = serial();
    let path = wta_ff_topology(784, 400);
    let checked = load(&path).expect("loads");
    let before = live_bytes().unwrap_or(0);
    let built = build(&checked, 1).expect("builds");
    let net = built.builder.build();
    let used = live_bytes().unwrap_or(0).saturating_sub(before);
    let estimate = memory_estimate_bytes(checked.topology());
    assert!(net.len() > 800);
    // Other tests allocate concurrently, so `used` is approximate; the network itself is
    // 313 600 synapses × 8 B + 160 000 LIA cells × 4 B ≈ 3.1 MB plus per-neuron structs.
    assert!(
        used as u64 <= estimate,
        "used {used} B > estimate {estimate} B"
    );
    assert!(
        used as u64 * 4 >= estimate,
        "estimate {estimate} B is over 4× the {used} B used"
    );
}

#[test]
fn a_network_that_cannot_fit_is_refused_before_building() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("memsnn-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // 200 layers of 50 000 × 4 000 synapses (8 B each): ~320 GB.
    let layers: Vec<String> = (0..200)
        .map(|k| {
            let from = if k == 0 { "in".to_string() } else { format!("l{}", k - 1) };
            format!("(name: \"l{k}\", neurons: {}, from: \"{from}\", connectivity: Dense, initial: Uniform(400.0e-6, 0.0), learning: false)", if k % 2 == 0 { 50_000 } else { 4_000 })
        })
        .collect();
    let topo = format!(
        "Topology(name: \"huge\", devices: (ts: \"builtin:ts_neuron\", synapse: \"builtin:rs_hfo2_1t1r\", circuit: \"builtin:neuron_cmos\"), inputs: [(name: \"in\", lines: 4000, amplitude_volts: 1.0)], layers: [{}])",
        layers.join(", ")
    );
    let path = dir.join("huge.ron");
    std::fs::write(&path, topo).expect("write");
    let mut o = opts(&["reference"], &[1], (30, 10));
    o.topologies = vec![path.clone()];
    let e = bench(&o, |_| {}).expect_err("cannot fit");
    let msg = format!("{e:#}");
    assert!(
        msg.contains("huge.ron") && msg.contains("needs about") && msg.contains("GiB"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The 784×400 `wta_ff` layer (its LIA split into two comparator banks) gives the same
/// protocol log — fires and spikes of every neuron in every step — on every executor.
#[test]
fn a_784x400_wta_layer_is_identical_on_every_executor() {
    let _serial = serial();
    use memsnn::run::simulate_on;
    use runtime::engine::exec::ExecutorKind;
    if cfg!(debug_assertions) {
        eprintln!("skipped in debug builds");
        return;
    }
    let checked = load(&wta_ff_topology(784, 400)).expect("loads");
    let log = |ex: (ExecutorKind, usize)| {
        serde_json::to_string(&simulate_on(&checked, 3, ex.0, ex.1).expect("runs").log)
            .expect("json")
    };
    let want = log((ExecutorKind::Reference, 1));
    assert!(want.contains("fires_per_neuron"));
    for ex in [
        (ExecutorKind::Sharded, 1),
        (ExecutorKind::Sharded, 2),
        (ExecutorKind::Sharded, 4),
        (ExecutorKind::Actix, 2),
    ] {
        assert_eq!(log(ex), want, "{ex:?}");
    }
}

/// `--size` accepts shipped sizes and `all`; anything else is an error that says how to
/// write a size or which sizes exist.
#[test]
fn bench_sizes_parse_or_explain() {
    assert_eq!(
        parse_sizes("784x400,30x10").unwrap(),
        vec![(784, 400), (30, 10)]
    );
    assert_eq!(parse_sizes("all").unwrap().len(), 5);
    for (bad, hint) in [
        ("7x", "INPUTSxNEURONS"),
        ("784-400", "INPUTSxNEURONS"),
        ("784x401", "784x1600"),
    ] {
        let e = format!("{:#}", parse_sizes(bad).unwrap_err());
        assert!(e.contains(bad) && e.contains(hint), "{bad}: {e}");
    }
}

/// `--workload wta_ff_learning`: at the 1.6 V write level the winners' synapses are
/// programmed in situ (conductances move; the read-level workload leaves them alone), and
/// the learned conductances are the same on every executor.
#[test]
fn the_learning_workload_programs_synapses_identically_on_every_executor() {
    use memsnn::bench::with_learning;
    use memsnn::run::simulate_capturing;
    use runtime::engine::exec::ExecutorKind;
    let _serial = serial();
    let path = wta_ff_topology(30, 10);
    let read = load(&path).unwrap();
    let learn = read.clone().edit(|t| with_learning(t, 1.6)).unwrap();
    let weights = |c: &runtime::model::topology::Checked, ex: (ExecutorKind, usize)| {
        let w = simulate_capturing(c, 2, ex.0, ex.1, true)
            .unwrap()
            .weights
            .unwrap();
        w.layers[0].siemens.clone()
    };
    let initial: Vec<Vec<f32>> = {
        let built = build(&read, 2).unwrap();
        let net = built.builder.build();
        let ids = &built.layers["wta"];
        ids.columns
            .iter()
            .map(|&c| {
                net.get::<runtime::circuits::column::Column>(c)
                    .unwrap()
                    .conductances()
                    .to_vec()
            })
            .collect()
    };
    assert_eq!(
        weights(&read, (ExecutorKind::Reference, 1)),
        initial,
        "reads do not program"
    );
    let learned = weights(&learn, (ExecutorKind::Reference, 1));
    let moved = learned
        .iter()
        .flatten()
        .zip(initial.iter().flatten())
        .filter(|(a, b)| a != b)
        .count();
    assert!(moved >= 30, "only {moved} synapses were programmed");
    assert_eq!(weights(&learn, (ExecutorKind::Sharded, 2)), learned);
}

/// The workload flags: learning runs are labelled as such whichever way they are asked
/// for, and contradictory flags are refused rather than ignored.
#[test]
fn bench_workload_flags_label_learning_runs_and_refuse_contradictions() {
    let w = Workload::choose("wta_ff", "30x10", None, true, None).unwrap();
    assert_eq!(w.label.as_deref(), Some("wta_ff_learning"));
    assert_eq!(w.learning_write_volts, Some(1.6));
    let w = Workload::choose("wta_ff_learning", "30x10", None, false, Some(1.7)).unwrap();
    assert_eq!(
        (w.label.as_deref(), w.learning_write_volts),
        (Some("wta_ff_learning"), Some(1.7))
    );
    let plain = Workload::choose("wta_ff", "30x10", None, false, None).unwrap();
    assert_eq!(
        (plain.label.as_deref(), plain.learning_write_volts),
        (Some("wta_ff"), None)
    );
    let t = wta_ff_topology(30, 10);
    let w = Workload::choose("wta_ff_learning", "", Some(t.clone()), false, None).unwrap();
    assert_eq!(
        (w.topologies, w.learning_write_volts),
        (vec![t.clone()], Some(1.6))
    );
    for (workload, learning, volts, says) in [
        (
            "wta_ff",
            false,
            Some(1.6),
            "--write-volts applies to learning runs",
        ),
        ("wta_ff", true, Some(-1.0), "(0, 10] V"),
        ("stdp", false, None, "unknown workload `stdp`"),
    ] {
        let e = Workload::choose(workload, "30x10", None, learning, volts).unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
    // A topology run with learning is labelled apart from the same run without.
    let _serial = serial();
    let mut o = opts(&["reference"], &[1], (30, 10));
    o.workload = None;
    o.learning_write_volts = Some(1.6);
    let r = bench(&o, |_| {}).unwrap();
    assert_eq!(r[0].workload, "wta_ff_30x10_learning");
}

#[test]
fn bernoulli_gated_inputs_keep_each_pulse_with_its_probability_on_every_executor() {
    let _serial = serial();
    let full = bench(&opts(&["reference"], &[1], (30, 10)), |_| {}).expect("bench runs");
    let mut gated_opts = opts(&["reference", "sharded", "actix"], &[1, 2], (30, 10));
    gated_opts.pulse_prob = Some(0.5);
    let gated = bench(&gated_opts, |_| {}).expect("gated bench runs");
    assert_eq!(gated.len(), 5);
    assert_eq!(gated[0].workload, "wta_ff_p0.5");
    // The patterns and their periods are those of the ungated run; each of its n pulses is
    // kept independently with p = 0.5: Binomial(n, 0.5), mean n/2, sd √n/2 (5 sd allowed).
    let n = full[0].spikes_in as f64;
    let k = gated[0].spikes_in as f64;
    assert!(
        (k - n / 2.0).abs() < 5.0 * n.sqrt() / 2.0,
        "{k} of {n} pulses kept"
    );
    for r in &gated[1..] {
        let same = (r.spikes_in, r.spikes_out, r.synaptic_events);
        assert_eq!(
            same,
            (
                gated[0].spikes_in,
                gated[0].spikes_out,
                gated[0].synaptic_events
            ),
            "{} ×{}",
            r.mode,
            r.threads
        );
    }
}

#[test]
fn counts_of_zero_are_refused_before_anything_runs() {
    // A zero count has no meaning (no repetition, no worker, no trial): the command line
    // says so instead of quietly running one.
    let cases: [&[&str]; 5] = [
        &["bench", "--size", "30x10", "--reps", "0"],
        &[
            "bench",
            "--size",
            "30x10",
            "--executor",
            "sharded",
            "--workers",
            "1,0",
        ],
        &["run", "topologies/learning.ron", "--workers", "0"],
        &["run", "topologies/learning.ron", "--workers-per-rank", "0"],
        &["reproduce", "fig5", "--trials", "0"],
    ];
    for args in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_memsnn"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("the memsnn binary runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("must be at least 1"), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed results");
    }
}
