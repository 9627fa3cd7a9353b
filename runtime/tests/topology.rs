//! Topologies: validation messages (file:line:col, field, hint) for every kind of bad
//! input, building the paper's 30×10×10 network, deterministic runs, and every shipped
//! topology and pattern file.
//!
//! Most cases mutate the text of `tests/data/small.ron` (a valid topology) to introduce
//! one problem, and check that the message names `bad.ron`, the line and column of the
//! mutated text, the field and the point.

use runtime::engine::exec::reference::Simulation;
use runtime::engine::probe::{canonical_sort, to_csv};
use runtime::model::protocol::{run_protocol, NetworkIds, ProtocolLog};
use runtime::model::topology::schema::Patterns;
use runtime::model::topology::{build, load, parse_str, Checked, ProbeSelection, TopologyError};
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn topologies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies")
}

fn small() -> String {
    std::fs::read_to_string(data().join("small.ron")).expect("tests/data/small.ron")
}

fn check(src: &str) -> Result<Checked, TopologyError> {
    parse_str(src, Path::new("bad.ron"), &data())
}

/// 1-based `line:col` (in characters) of the first occurrence of `needle` in `src`.
fn pos(src: &str, needle: &str) -> String {
    let at = src
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the source"));
    let before = &src[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{col}")
}

/// Replaces `from` by `to` in small.ron; the result must fail with a problem located at
/// the first occurrence of `at` in the mutated text, on `field`, mentioning each of
/// `parts`. Returns the whole message.
fn fails(from: &str, to: &str, at: &str, field: &str, parts: &[&str]) -> String {
    let good = small();
    assert!(good.contains(from), "`{from}` not in small.ron");
    let src = good.replacen(from, to, 1);
    let e = match check(&src) {
        Ok(_) => panic!("`{from}` → `{to}` was accepted"),
        Err(e) => e.to_string(),
    };
    let head = format!("bad.ron:{}: field `{field}`: ", pos(&src, at));
    let line = e
        .lines()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no line starting with `{head}` in:\n{e}"));
    for p in parts {
        assert!(line.contains(p), "`{p}` not in `{line}`");
    }
    assert!(line.contains(" — hint: "), "no hint in `{line}`");
    e
}

#[test]
fn small_topology_is_valid() {
    let c = check(&small()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.topology().layers.len(), 2);
    assert_eq!(c.patterns().map(Patterns::pixels), Some(4));
}

#[test]
fn dangling_connection() {
    let hint = "hint: use one of: px, hidden, out";
    fails(
        "from: \"hidden\"",
        "from: \"hiddn\"",
        "from: \"hiddn\"",
        "layers[1].from",
        &[
            "`hiddn` names no input or layer (a dangling connection)",
            hint,
        ],
    );
}

#[test]
fn duplicate_names() {
    fails(
        "name: \"out\",",
        "name: \"px\",",
        "name: \"px\",\n",
        "layers[1].name",
        &["`px` is already used by an earlier input or layer"],
    );
}

#[test]
fn matrix_shape_mismatch() {
    let (at, field) = ("initial: Matrix", "layers[1].initial");
    let parts = ["Matrix row 1 has 2 values, but each column has 3 synapses (from `hidden`)"];
    fails(", 45.0e-6]]", "]]", at, field, &parts);
    let rows = ", [43.0e-6, 44.0e-6, 45.0e-6]]";
    let parts = ["Matrix has 1 rows, the layer has 2 neurons"];
    fails(rows, "]", at, field, &parts);
    let parts = [
        "row 0, value 1: 2e-3 S is outside the synapse's range",
        "programmable: false",
    ];
    fails("41.0e-6", "2.0e-3", at, field, &parts);
    let parts = ["Matrix row 0, value 0: must be > 0 and ≤ 1 (got -0.00004)"];
    fails("[[40.0e-6", "[[-40.0e-6", at, field, &parts);
}

#[test]
fn pattern_size_differs_from_input_lines() {
    let parts = ["pattern `diag` has 4 pixels (2 × 2) but input `px` has 5 lines"];
    let e = fails(
        "lines: 4",
        "lines: 5",
        "pattern: \"diag\"",
        "protocol[0].pattern",
        &parts,
    );
    assert!(e.contains("field `protocol[3].pattern`: pattern `full` has 4 pixels"));
}

#[test]
fn gate_driven_by_two_drivers() {
    let to = "SetGates(layer: \"hidden\", volts: [3.0, 0.0, 0.0])";
    fails(
        "SetGates(layer: \"out\", volts: [3.0, 0.0])",
        to,
        "layer: \"hidden\", volts",
        "protocol[2].layer",
        &["layer `hidden`'s gates are driven by its LIA: a gate driven by two drivers"],
    );
    fails(
        "inhibition: Supervised(0.0),",
        "",
        "layer: \"out\", volts",
        "protocol[2].layer",
        &[
            "layer `out` has no gate driver",
            "Supervised(<initial volts>)",
        ],
    );
    fails(
        "volts: [3.0, 0.0]",
        "volts: [3.0]",
        "volts: [3.0]",
        "protocol[2].volts",
        &["1 levels for 2 neurons"],
    );
}

#[test]
fn missing_device_file_names_the_resolved_path() {
    let tried = data().join("devices/nope.ron");
    let tried = format!("cannot read `{}`", tried.display());
    fails(
        "\"builtin:rs_hfo2_1t1r\"",
        "\"devices/nope.ron\"",
        "synapse:",
        "devices.synapse",
        &[&tried, "relative to the topology file's folder"],
    );
}

#[test]
fn invalid_device_file_is_located_in_that_file() {
    let src = small().replace("\"builtin:ts_neuron\"", "\"patterns_2x2.ron\"");
    let e = check(&src).unwrap_err().to_string();
    // Located in the device file and at the field that names it.
    let want = format!(
        "bad.ron:5:9: field `devices.ts`: names a file with a problem: {}:2:1: wrong struct \
         name `Patterns`",
        data().join("patterns_2x2.ron").display()
    );
    assert!(e.starts_with(&want), "{e}");
}

#[test]
fn unknown_builtin_lists_the_known_ones() {
    let known: Vec<String> = devices::builtin::names(devices::builtin::Kind::Ts)
        .map(|n| format!("\"builtin:{n}\""))
        .collect();
    fails(
        "\"builtin:ts_neuron\"",
        "\"builtin:ts_neurons\"",
        "ts:",
        "devices.ts",
        &[
            "`builtin:ts_neurons` is not a built-in set",
            &format!("use one of {}, or a file path", known.join(", ")),
        ],
    );
}

/// Every TS entry of the built-ins table can be named by a topology.
#[test]
fn every_builtin_ts_set_resolves() {
    for name in devices::builtin::names(devices::builtin::Kind::Ts) {
        let src = small().replace("\"builtin:ts_neuron\"", &format!("\"builtin:{name}\""));
        if let Err(e) = check(&src) {
            panic!("builtin:{name}: {e}");
        }
    }
}

#[test]
fn missing_pattern_file_names_the_resolved_path() {
    let tried = format!("cannot read `{}`", data().join("nope.ron").display());
    fails(
        "\"patterns_2x2.ron\"",
        "\"nope.ron\"",
        "patterns:",
        "patterns",
        &[&tried],
    );
}

#[test]
fn zero_or_negative_sizes_and_durations() {
    let f = |from: &str, to: &str, field: &str, part: &str| {
        fails(from, to, to, field, &[part]);
    };
    f(
        "neurons: 3",
        "neurons: 0",
        "layers[0].neurons",
        "must be ≥ 1 (got 0)",
    );
    f(
        "lines: 4",
        "lines: 0",
        "inputs[0].lines",
        "must be ≥ 1 (got 0)",
    );
    let part = "must be finite and within [0, 100] (got -1.6)";
    f(
        "amplitude_volts: 1.6",
        "amplitude_volts: -1.6",
        "inputs[0].amplitude_volts",
        part,
    );
    f(
        "duration_us: 1000",
        "duration_us: 0",
        "protocol[1].duration_us",
        "must be > 0",
    );
    f(
        "max_cycles: 20",
        "max_cycles: 0",
        "protocol[0].max_cycles",
        "must be ≥ 1",
    );
    let part = "needs 0 < siemens ≤ 1 and 0 ≤ spread_cv ≤ 10";
    f(
        "initial: Uniform(400.0e-6, 0.05)",
        "initial: Uniform(400.0e-6, -0.05)",
        "layers[0].initial",
        part,
    );
}

#[test]
fn protocol_step_naming_unknown_things() {
    let f = |from: &str, to: &str, field: &str, parts: &[&str]| {
        fails(from, to, to, field, parts);
    };
    let parts = ["no input is called `py`", "hint: use one of: px"];
    let (from, to) = ("Present(input: \"px\"", "Present(input: \"py\"");
    fails(from, to, "input: \"py\"", "protocol[3].input", &parts);
    let parts = [
        "no layer is called `hiddn`",
        "hint: use one of: hidden, out",
    ];
    f(
        "layer: \"hidden\", max",
        "layer: \"hiddn\", max",
        "protocol[0].layer",
        &parts,
    );
    let parts = ["no pattern is called `ful`", "hint: use one of: diag, full"];
    f(
        "pattern: \"full\"",
        "pattern: \"ful\"",
        "protocol[3].pattern",
        &parts,
    );
    f(
        "target: \"out\"",
        "target: \"ou\"",
        "probes[1].target",
        &["`ou` names no input or layer"],
    );
}

#[test]
fn structural_rules() {
    let part = "`devices.lia` is not given";
    fails(
        "lia: \"builtin:lia\",",
        "",
        "inhibition: Lia",
        "layers[0].inhibition",
        &[part],
    );
    let part = "OneToOne needs a layer as source";
    let to = "connectivity: OneToOne,\n            initial: Uniform";
    fails(
        "connectivity: Dense,\n            initial: Uniform",
        to,
        "connectivity: OneToOne",
        "layers[0].connectivity",
        &[part],
    );
    let part = "OneToOne from `hidden` (3 neurons) into 2 neurons";
    let to = "connectivity: OneToOne,\n            initial: Matrix";
    fails(
        "connectivity: Dense,\n            initial: Matrix",
        to,
        "connectivity: OneToOne",
        "layers[1].connectivity",
        &[part],
    );
    let part = "layer `hidden` has no gate driver";
    let e = "(target: \"hidden\", signals: [Spikes, Gates])";
    let src = small()
        .replace("inhibition: Lia,", "")
        .replace("lia: \"builtin:lia\",", "");
    let err = check(&src).unwrap_err().to_string();
    let head = format!(
        "bad.ron:{}: field `probes[0].signals`: {part}",
        pos(&src, "signals: [Spikes, Gates]")
    );
    assert!(err.contains(&head) && src.contains(e), "{err}");
}

#[test]
fn syntax_errors_are_located() {
    let src = small().replacen("neurons: 2", "neuronz: 2", 1);
    let e = check(&src).unwrap_err().to_string();
    let head = format!(
        "bad.ron:{}: field `layers.neuronz`: unknown field",
        pos(&src, "neuronz")
    );
    assert!(e.starts_with(&head) && e.contains("`neurons`"), "{e}");
    let src = small().replacen(
        "            learning: true,\n        ),\n    ],",
        "        ),\n    ],",
        1,
    );
    let e = check(&src).unwrap_err().to_string();
    assert!(
        e.starts_with("bad.ron:") && e.contains("field `layers.learning`: missing"),
        "{e}"
    );
    let src = small().replacen("Rest(duration_us: 1000)", "Rest(duration: 1000)", 1);
    let e = check(&src).unwrap_err().to_string();
    let head = format!("bad.ron:{}:", pos(&src, "duration: 1000"));
    assert!(e.starts_with(&head) && e.contains("unknown field"), "{e}");
}

#[test]
fn bad_pattern_file_names_pattern_line_and_column() {
    let src = small().replace("\"patterns_2x2.ron\"", "\"bad_patterns.ron\"");
    let e = check(&src).unwrap_err();
    let text = e.to_string();
    let file = data().join("bad_patterns.ron");
    let ptext = std::fs::read_to_string(&file).expect("bad_patterns.ron");
    let at = |needle: &str| format!("{}:{}: field `", file.display(), pos(&ptext, needle));
    for (needle, what) in [
        (
            "\"#\", \"##\"",
            "items[1].rows[0]`: pattern `short`, row 0: 1 characters, expected 2 (width)",
        ),
        (
            "\"#x\"",
            "items[2].rows[0]`: pattern `stray`, row 0, character 2: `x` is neither `#` nor `.`",
        ),
        (
            "rows: [\"##\"]",
            "items[3].rows`: pattern `tall` has 1 rows, expected 2 (height)",
        ),
    ] {
        let want = format!("{}{what}", at(needle));
        assert!(text.contains(&want), "`{want}` not in:\n{text}");
    }
    assert_eq!(e.problems().len(), 3, "{text}");
}

#[test]
fn all_problems_are_reported_at_once() {
    let src = small()
        .replacen("from: \"hidden\"", "from: \"nowhere\"", 1)
        .replacen("duration_us: 1000", "duration_us: 0", 1)
        .replacen("\"patterns_2x2.ron\"", "\"nope.ron\"", 1);
    let e = check(&src).unwrap_err();
    let fields: Vec<String> = e
        .problems()
        .iter()
        .map(|p| match p {
            devices::params::ParamError::Invalid { field, .. } => field.clone(),
            other => other.to_string(),
        })
        .collect();
    assert_eq!(
        fields,
        ["layers[1].from", "protocol[1].duration_us", "patterns"],
        "{e}"
    );
}

#[test]
fn mangled_topologies_never_panic() {
    let good = small();
    let mut n = 0;
    for (i, _) in good.char_indices().step_by(3) {
        let (head, tail) = (&good[..i], &good[i..]);
        for m in ["", "(", ")", ",", "\"", "0", "-", "é"] {
            let src = format!("{head}{m}{}", tail.chars().skip(1).collect::<String>());
            if let Err(e) = check(&src) {
                assert!(!e.to_string().is_empty());
            }
            n += 1;
        }
    }
    assert!(n > 1000);
}

/// Builds and runs `checked` with `seed`: (probes CSV, protocol log).
fn simulate(checked: &Checked, seed: u64) -> (String, ProtocolLog) {
    let built = build(checked, seed).expect("builds");
    let selection = ProbeSelection::new(checked.topology(), &built);
    let ids = NetworkIds::of(&built);
    let mut sim = Simulation::new(built.builder.build());
    let log = run_protocol(&mut sim, &ids, checked.topology(), checked.patterns())
        .expect("protocol runs");
    let mut records = selection.filter(sim.take_records());
    canonical_sort(&mut records);
    let names = sim.net.names.clone();
    (to_csv(&records, |id| names[id as usize].clone()), log)
}

#[test]
fn msnn_builds_with_the_expected_parts() {
    let c = load(&topologies().join("msnn_30x10x10.ron")).unwrap_or_else(|e| panic!("{e}"));
    let built = build(&c, 7).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(built.inputs.len(), 1);
    let (hidden, output) = (&built.layers["hidden"], &built.layers["output"]);
    assert_eq!((hidden.neurons.len(), hidden.columns.len()), (10, 10));
    assert_eq!((output.neurons.len(), output.columns.len()), (10, 10));
    assert!(hidden.lia.len() == 1 && hidden.gate_driver.is_none());
    assert!(output.lia.is_empty() && output.gate_driver.is_some());
    let g = built.builder.graph();
    assert_eq!(g.node_count(), 1 + 10 + 10 + 1 + 10 + 10 + 1);
    let kind = |i: petgraph::graph::NodeIndex| g[i].component.kind();
    let count = |src: &str, dst: &str| {
        g.edge_indices()
            .filter(|&e| {
                let (a, b) = g.edge_endpoints(e).expect("edge");
                kind(a) == src && kind(b) == dst
            })
            .count()
    };
    assert_eq!(
        count("input", "column"),
        10,
        "pattern bus into hidden columns"
    );
    assert_eq!(count("column", "neuron"), 20);
    assert_eq!(
        count("neuron", "column"),
        20 + 100,
        "node links + hidden spikes × output columns"
    );
    assert_eq!(count("neuron", "lia"), 10);
    assert_eq!(count("lia", "column"), 10);
    assert_eq!(count("gate_driver", "column"), 10);
    assert_eq!(g.edge_count(), 180);
}

#[test]
fn runs_are_a_pure_function_of_the_seed() {
    let c = load(&topologies().join("fig3b.ron")).unwrap_or_else(|e| panic!("{e}"));
    let (a, log_a) = simulate(&c, 5);
    let (b, log_b) = simulate(&c, 5);
    assert_eq!(a, b);
    assert_eq!(log_a, log_b);
    assert!(a.lines().count() > 20 && a.contains(",spike,"), "{a}");
    let (other, _) = simulate(&c, 6);
    assert_ne!(a, other);
}

#[test]
fn protocol_decides_at_period_boundaries_and_drives_gates() {
    let c = check(&small()).unwrap_or_else(|e| panic!("{e}"));
    let (csv, log) = simulate(&c, 3);
    let period = c.topology().clock.period_ns;
    let first = log.steps.get(0).unwrap();
    let cycles = first.cycles.expect("PresentUntilFire logs its cycles");
    assert!((1..=20).contains(&cycles));
    assert_eq!(first.end_ns, cycles * period);
    assert_eq!(
        first.reached,
        Some(first.fires.get("hidden").is_some_and(|&f| f >= 1))
    );
    assert_eq!(
        log.steps.get(1).unwrap().end_ns - log.steps.get(1).unwrap().start_ns,
        1_000_000
    );
    assert_eq!(log.end_ns, log.steps.get(3).unwrap().end_ns);
    let json = serde_json::to_string(&log).expect("log serializes");
    assert!(json.contains("\"PresentUntilFire\""));
    // Only the requested kinds: spikes and gates of `hidden`, conductances of `out`.
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let ok = matches!(
            (f[1].split('.').next(), f[2]),
            (Some("hidden"), "fire" | "spike" | "gate") | (Some("out"), "g")
        );
        assert!(ok, "unexpected record {line}");
        assert!(
            !f[1].starts_with("out.") || f[1].contains("column"),
            "{line}"
        );
    }
    assert!(csv.contains("hidden.lia,gate,"), "{csv}");
}

#[test]
fn every_shipped_topology_and_pattern_file_validates() {
    let mut files = Vec::new();
    let mut dirs = vec![topologies()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("topologies/") {
            let p = entry.expect("entry").path();
            if p.is_dir() && p.file_name().is_some_and(|n| n != "devices") {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "ron") {
                files.push(p);
            }
        }
    }
    files.sort();
    let (mut topos, mut patterns) = (0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let body: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect();
        if body.trim_start().starts_with("Topology(") {
            load(f).unwrap_or_else(|e| panic!("{e}"));
            topos += 1;
        } else if body.trim_start().starts_with("Patterns(") {
            devices::params::load_ron::<Patterns>(f).unwrap_or_else(|e| panic!("{e}"));
            patterns += 1;
        }
    }
    assert!(
        topos >= 5 && patterns >= 3,
        "{topos} topologies, {patterns} pattern files in {files:?}"
    );
}

/// A layer may have its own TS device and circuit; a bad one is located at the layer.
#[test]
fn a_layer_can_override_the_neuron_devices() {
    use runtime::circuits::neuron::Neuron;
    let good = small();
    let from = "            learning: true,\n        ),\n        (\n            name: \"out\",";
    assert!(good.contains(from), "small.ron changed");
    let with = good.replacen(
        from,
        "            learning: true,\n            ts: \"builtin:ts_fig2\",\n        ),\n        (\n            name: \"out\",",
        1,
    );
    let checked = check(&with).unwrap_or_else(|e| panic!("{e}"));
    let built = build(&checked, 1).expect("builds");
    let ids = NetworkIds::of(&built);
    let net = built.builder.build();
    let set = devices::DeviceSet::builtin();
    let mu0 = |layer: &str| {
        let id = ids.layers[layer].neurons[0];
        net.get::<Neuron>(id)
            .expect("neuron")
            .ts()
            .device_rates()
            .mu0_per_s
    };
    // μ0 with its fabrication spread stays within a factor 2 of each set's own value.
    let (hidden, out) = (mu0("hidden"), mu0("out"));
    assert!(
        (hidden / set.ts_fig2.mu0_per_s - 1.0).abs() < 0.5,
        "{hidden}"
    );
    assert!((out / set.ts_neuron.mu0_per_s - 1.0).abs() < 0.5, "{out}");
    assert!((set.ts_fig2.mu0_per_s / set.ts_neuron.mu0_per_s - 1.0).abs() > 0.5);
    let bad = good.replacen(
        from,
        "            learning: true,\n            circuit: \"builtin:nope\",\n        ),\n        (\n            name: \"out\",",
        1,
    );
    let e = check(&bad).expect_err("unknown built-in").to_string();
    let line = e
        .lines()
        .find(|l| l.contains("field `layers[0].circuit`"))
        .unwrap_or_else(|| panic!("no located layer error in:\n{e}"));
    assert!(
        line.starts_with(&format!(
            "bad.ron:{}",
            pos(&bad, "circuit: \"builtin:nope\"")
        )),
        "{line}"
    );
    assert!(line.contains("\"builtin:neuron_cmos\""), "{line}");
}

/// The observed protocol runner reports each finished step once, in order, and logs the
/// same as the plain one.
#[test]
fn the_observed_protocol_runner_reports_every_step() {
    let checked = load(&topologies().join("msnn_30x10x10.ron")).expect("valid");
    let (_, plain) = simulate(&checked, 2);
    let built = build(&checked, 2).expect("builds");
    let ids = NetworkIds::of(&built);
    let mut sim = Simulation::new(built.builder.build());
    let mut seen = Vec::new();
    let log = runtime::model::protocol::run_protocol_observed(
        &mut sim,
        &ids,
        checked.topology(),
        checked.patterns(),
        |n| seen.push(n),
    )
    .expect("protocol runs");
    let n = checked.topology().protocol.len();
    assert!(n > 5);
    assert_eq!(seen, (1..=n).collect::<Vec<_>>());
    assert_eq!(
        serde_json::to_string(&log).unwrap(),
        serde_json::to_string(&plain).unwrap()
    );
}

#[test]
fn a_pulse_probability_outside_the_unit_interval_is_refused_where_it_is_written() {
    fails(
        "amplitude_volts: 1.6",
        "amplitude_volts: 1.6, pulse_prob: 1.5",
        "pulse_prob: 1.5",
        "inputs[0].pulse_prob",
        &["must be in (0, 1] (got 1.5)"],
    );
    let src = small().replacen(
        "amplitude_volts: 1.6",
        "amplitude_volts: 1.6, pulse_prob: 0.5",
        1,
    );
    let checked = check(&src).expect("0.5 is a probability");
    assert_eq!(checked.topology().inputs[0].pulse_prob, 0.5);
    // Absent, every pulse is kept.
    assert_eq!(
        check(&small()).expect("valid").topology().inputs[0].pulse_prob,
        1.0
    );
}
