//! Bounded, located input and the memory budget, through the library: every bad input is
//! refused with its file:line:col (and the naming field's, for a file named by another
//! file), before anything is built, without panicking.

use devices::params::{parse_ron, read_text, ParamError};
use runtime::model::topology::budget::{budget_issues, Limit};
use runtime::model::topology::error::located;
use runtime::model::topology::rules::{MAX_PATTERN_FILE_BYTES, MAX_PROTOCOL_NS, MAX_SYNAPSES};
use runtime::model::topology::size::{
    probe_records, protocol_ns, PROBE_BUFFER_RECORDS, PROBE_RECORD_BYTES,
};
use runtime::model::topology::{load, parse_str, Checked, Topology, TopologyError};
use std::path::{Path, PathBuf};

/// A fresh, empty folder under the test target's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bounds")
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A topology with `layers` (RON entries), `extra` fields (probes, patterns, protocol).
fn topology(layers: &[String], extra: &str) -> String {
    format!(
        "Topology(\n    name: \"t\",\n    devices: (\n        ts: \"builtin:ts_neuron\",\n        \
         synapse: \"builtin:rs_hfo2_1t1r\",\n        circuit: \"builtin:neuron_cmos\",\n    ),\n    \
         inputs: [(name: \"in\", lines: 2, amplitude_volts: 1.6)],\n    layers: [\n{}\n    ],\n{extra})\n",
        layers.join(",\n")
    )
}

/// One layer entry on one line.
fn layer(name: &str, neurons: u32, from: &str) -> String {
    format!(
        "        (name: \"{name}\", neurons: {neurons}, from: \"{from}\", connectivity: Dense, \
         initial: Uniform(400.0e-6, 0.05), learning: true)"
    )
}

fn check_in(dir: &Path, src: &str) -> Result<Checked, TopologyError> {
    parse_str(src, Path::new("t.ron"), dir)
}

/// Parsed and checked by the topology's own rules (no file, no memory budget).
fn rules_only(src: &str) -> Topology {
    parse_ron::<Topology>(src, Path::new("t.ron")).unwrap_or_else(|e| panic!("{e}"))
}

/// 1-based line of the first line of `src` containing `needle`.
fn line_of(src: &str, needle: &str) -> usize {
    src.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

#[test]
fn a_device_path_to_dev_zero_is_refused_at_the_naming_field() {
    let src =
        topology(&[layer("l", 1, "in")], "").replace("\"builtin:ts_neuron\"", "\"/dev/zero\"");
    let e = check_in(Path::new("."), &src).unwrap_err().to_string();
    let want = format!("t.ron:{}:9: field `devices.ts`: names a file with a problem: /dev/zero: is not a regular file", line_of(&src, "ts:"));
    assert!(e.starts_with(&want), "{e}");
    let e = read_text(Path::new("/dev/zero"), 1 << 20).unwrap_err();
    assert!(matches!(e, ParamError::Invalid { .. }), "{e}");
}

#[test]
fn a_file_larger_than_its_cap_is_refused_before_reading() {
    let dir = scratch("large");
    // Sparse: as large as claimed, but nothing written.
    let f = std::fs::File::create(dir.join("huge.ron")).unwrap();
    f.set_len(MAX_PATTERN_FILE_BYTES + 1).unwrap();
    let src = topology(&[layer("l", 1, "in")], "    patterns: \"huge.ron\",\n");
    let e = check_in(&dir, &src).unwrap_err().to_string();
    let want = format!(
        "t.ron:{}:5: field `patterns`: names a file with a problem: ",
        line_of(&src, "patterns:")
    );
    assert!(e.starts_with(&want), "{e}");
    assert!(
        e.contains("huge.ron: is 64.0 MiB, more than the 64.0 MiB"),
        "{e}"
    );
}

#[test]
fn non_utf8_is_located_at_its_first_bad_byte() {
    let dir = scratch("utf8");
    // Line 3, after four characters (one of them two bytes long): column 5.
    std::fs::write(
        dir.join("ts.ron"),
        b"// a TS device\nTsParams(\n  \xc3\xa9a\xff\n)\n",
    )
    .unwrap();
    let src = topology(&[layer("l", 1, "in")], "").replace("\"builtin:ts_neuron\"", "\"ts.ron\"");
    let e = check_in(&dir, &src).unwrap_err().to_string();
    assert!(
        e.contains("field `devices.ts`: names a file with a problem:"),
        "{e}"
    );
    let inner = format!(
        "{}:3:5: not UTF-8 text: byte 0xFF",
        dir.join("ts.ron").display()
    );
    assert!(e.contains(&inner), "{e}");
    // The topology file itself.
    std::fs::write(dir.join("t.ron"), b"Topology(\n  name: \"\xfe\"").unwrap();
    let e = load(&dir.join("t.ron")).unwrap_err().to_string();
    let want = format!(
        "{}:2:10: not UTF-8 text: byte 0xFE",
        dir.join("t.ron").display()
    );
    assert!(e.starts_with(&want), "{e}");
}

#[test]
fn saved_weights_problems_are_located_in_both_files() {
    let dir = scratch("saved");
    std::fs::write(
        dir.join("w.ron"),
        "SavedWeights(\n  topology: \"t\",\n  seed: x,\n)\n",
    )
    .unwrap();
    let mut l = layer("l", 1, "in");
    l = l.replace("Uniform(400.0e-6, 0.05)", "Saved(\"w.ron\")");
    let src = topology(&[l], "");
    let e = check_in(&dir, &src).unwrap_err().to_string();
    let col = src
        .lines()
        .nth(line_of(&src, "Saved") - 1)
        .unwrap()
        .find("initial")
        .unwrap()
        + 1;
    let want = format!(
        "t.ron:{}:{col}: field `layers[0].initial`: names a file with a problem: {}:3:",
        line_of(&src, "Saved"),
        dir.join("w.ron").display()
    );
    assert!(e.starts_with(&want), "{e}");
}

#[test]
fn thousands_of_duplicate_pattern_names_are_each_located() {
    let dir = scratch("dup");
    let n = 8000;
    // One item per line, from line 2: item k is on line k + 2, its `name` at column 2.
    let items: Vec<&str> = vec!["(name: \"a\", rows: [\"#.\"])"; n];
    let text = format!(
        "Patterns(width: 2, height: 1, items: [\n{}\n])\n",
        items.join(",\n")
    );
    std::fs::write(dir.join("p.ron"), text).unwrap();
    let src = topology(&[layer("l", 1, "in")], "    patterns: \"p.ron\",\n");
    let e = check_in(&dir, &src).unwrap_err();
    let problems = e.problems();
    assert_eq!(problems.len(), n - 1, "every later duplicate, once");
    let p = dir.join("p.ron");
    for (k, e) in problems.iter().enumerate().step_by(997) {
        let want = format!(
            "{}:{}:2: field `items[{}].name`: `a` is used by an earlier pattern",
            p.display(),
            k + 3,
            k + 1
        );
        assert!(e.to_string().contains(&want), "{e}");
    }
}

/// The six-layer topology of 1.1 × 10⁹ synapses: 10,000 input lines into six layers of
/// 18,334 neurons each.
fn six_layers() -> String {
    let layers: Vec<String> = (0..6)
        .map(|l| layer(&format!("l{l}"), 18_334, "in"))
        .collect();
    topology(&layers, "").replace("lines: 2,", "lines: 10000,")
}

#[test]
fn synapses_are_bounded_over_all_layers() {
    let src = six_layers();
    let total = 6 * 18_334 * 10_000u64;
    assert!(
        total > 1_100_000_000 && total / 6 < MAX_SYNAPSES,
        "each layer alone passes"
    );
    let e = check_in(Path::new("."), &src).unwrap_err();
    let text = e.to_string();
    for l in 0..6 {
        let want = format!("t.ron:{}:", line_of(&src, &format!("\"l{l}\"")));
        let line = text
            .lines()
            .find(|x| x.contains(&format!("layers[{l}].neurons")))
            .expect("each layer named");
        assert!(
            line.starts_with(&want) && line.contains(&format!("of {total}")),
            "{line}"
        );
    }
}

#[test]
fn the_memory_budget_names_the_layers_and_probes_responsible() {
    // 2,000,000 neurons on one input line, and a small layer.
    let src = topology(
        &[layer("wide", 2_000_000, "in"), layer("small", 3, "in")],
        "",
    );
    // Its own rules only: whether it fits this machine is the budget's question.
    let topo = rules_only(&src);
    let limit = Limit {
        what: "a test limit",
        bytes: 1 << 30,
    };
    let issues = budget_issues(&topo, &limit);
    let e = located(issues, Some(&src), Path::new("t.ron")).to_string();
    let lines: Vec<&str> = e.lines().collect();
    assert_eq!(lines.len(), 1, "only the wide layer is responsible: {e}");
    let want = format!("t.ron:{}:", line_of(&src, "\"wide\""));
    assert!(lines[0].starts_with(&want), "{e}");
    assert!(
        lines[0].contains("field `layers[0].neurons`")
            && lines[0].contains("a test limit leaves 1.0 GiB"),
        "{e}"
    );
    // 2,000,000 neurons cost at least their synapse cells and TS devices: more than 16 MB.
    let est = runtime::model::topology::memory_estimate(&topo);
    assert!(est.layers_bytes[0] > 16_000_000 && est.layers_bytes[1] < est.layers_bytes[0] / 1000);
    assert!(budget_issues(
        &topo,
        &Limit {
            what: "x",
            bytes: u64::MAX
        }
    )
    .is_empty());
}

#[test]
fn a_probe_over_a_long_protocol_is_counted_from_the_protocol_and_bounded_by_the_stream() {
    // One probed neuron over 8 × 1000 s, the longest steps allowed.
    let steps: Vec<String> = (0..8)
        .map(|_| "        Rest(duration_us: 1000000000),".to_string())
        .collect();
    let extra = format!(
        "    probes: [(target: \"l\", signals: [Spikes, Node])],\n    protocol: [\n{}\n    ],\n",
        steps.join("\n")
    );
    let src = topology(&[layer("l", 1, "in")], &extra);
    let topo = rules_only(&src);
    assert_eq!(protocol_ns(&topo), 8_000 * 1_000_000_000);
    // 16 × 10⁶ CLK periods of 0.5 ms, each with at least the two CLK edges' node traces
    // (five values each): at least 1.6 × 10⁸ records.
    assert!(probe_records(&topo, 0) >= 160_000_000);
    // Streamed, the probe keeps at most the spool's buffer in memory: the run fits under
    // a 2 GB limit, and its share of the estimate is the buffer, not the records.
    let est = runtime::model::topology::memory_estimate(&topo);
    assert_eq!(
        est.probes_bytes[0],
        PROBE_BUFFER_RECORDS * PROBE_RECORD_BYTES
    );
    let limit = Limit {
        what: "a 2 GB limit",
        bytes: 2_000_000_000,
    };
    assert!(budget_issues(&topo, &limit).is_empty());
    // A limit below the buffer still names the probe, at its line.
    let tight = Limit {
        what: "a tight limit",
        bytes: est.layers_bytes[0] + est.probes_bytes[0] / 2,
    };
    let e = located(budget_issues(&topo, &tight), Some(&src), Path::new("t.ron")).to_string();
    let want = format!("t.ron:{}:", line_of(&src, "probes:"));
    assert!(
        e.lines()
            .any(|l| l.starts_with(&want) && l.contains("field `probes[0]`")),
        "{e}"
    );
}

#[test]
fn counts_and_durations_are_bounded() {
    let base = topology(
        &[layer("l", 1, "in")],
        "    protocol: [\n        Rest(duration_us: 1000),\n    ],\n",
    );
    let cases = [
        ("Rest(duration_us: 1000)", "PresentUntilFire(input: \"in\", pattern: \"p\", layer: \"l\", fires: 4000000000, max_cycles: 10)", "protocol[0].fires"),
        ("inputs:", "clock: (period_ns: 2000000000, high_ns: 1000),\n    inputs:", "clock.period_ns"),
        ("inputs:", "substep_ns: 600000,\n    inputs:", "substep_ns"),
    ];
    for (from, to, field) in cases {
        let src = base.replace(from, to);
        let e = check_in(Path::new("."), &src).unwrap_err().to_string();
        let line = e
            .lines()
            .find(|l| l.contains(&format!("field `{field}`")))
            .unwrap_or_else(|| panic!("{field}: {e}"));
        assert!(
            line.starts_with("t.ron:") && line.contains("must be"),
            "{line}"
        );
    }
    // 101 steps of 1000 s: each allowed, together too long.
    let steps = vec!["        Rest(duration_us: 1000000000),"; 101].join("\n");
    let src = base.replace("        Rest(duration_us: 1000),", &steps);
    const { assert!(101 * 1_000_000_000_000 > MAX_PROTOCOL_NS) };
    let e = check_in(Path::new("."), &src).unwrap_err().to_string();
    let want = format!(
        "t.ron:{}:5: field `protocol`: the steps last 101000 s",
        line_of(&src, "protocol:")
    );
    assert!(e.lines().any(|l| l.starts_with(&want)), "{e}");
}

#[test]
fn hints_list_a_bounded_number_of_names() {
    let layers: Vec<String> = (0..100).map(|l| layer(&format!("l{l}"), 1, "in")).collect();
    let src = topology(&layers, "").replace("from: \"in\"", "from: \"nowhere\"");
    let e = check_in(Path::new("."), &src).unwrap_err().to_string();
    let first = e.lines().next().unwrap();
    assert!(
        first.contains("names no input or layer") && first.contains("(89 more)"),
        "{first}"
    );
}

#[test]
fn many_small_layers_are_refused_at_the_largest() {
    // 21 layers of 10⁷ synapses (1000 lines × 10,000 neurons), none a tenth of the total,
    // the last one a little larger.
    let mut layers: Vec<String> = (0..20)
        .map(|l| layer(&format!("l{l}"), 10_000, "in"))
        .collect();
    layers.push(layer("big", 10_001, "in"));
    let src = topology(&layers, "").replace("lines: 2,", "lines: 1000,");
    let e = check_in(Path::new("."), &src).unwrap_err().to_string();
    let lines: Vec<&str> = e
        .lines()
        .filter(|l| l.contains("a topology may have at most"))
        .collect();
    assert_eq!(lines.len(), 1, "{e}");
    let want = format!("t.ron:{}:", line_of(&src, "\"big\""));
    assert!(
        lines[0].starts_with(&want) && lines[0].contains("field `layers[20].neurons`"),
        "{e}"
    );
    // The budget, too, names a layer when none takes a tenth (under the synapse limit:
    // 21 layers of 10⁶ synapses).
    let small = src.replace("lines: 1000,", "lines: 100,");
    let issues = budget_issues(
        &rules_only(&small),
        &Limit {
            what: "a test limit",
            bytes: 1 << 20,
        },
    );
    let e = located(issues, Some(&small), Path::new("t.ron")).to_string();
    assert_eq!(e.lines().count(), 1, "{e}");
    let want = format!("t.ron:{}:", line_of(&small, "\"big\""));
    assert!(
        e.starts_with(&want) && e.contains("21 layers share it"),
        "{e}"
    );
}

#[test]
fn a_protocol_of_many_steps_is_counted_and_named() {
    // 200,000 one-period rests on a one-neuron layer: the steps, not the network, are
    // what the run holds.
    let steps = "        Rest(duration_us: 500),\n".repeat(200_000);
    let extra = format!("    protocol: [\n{steps}    ],\n");
    let src = topology(&[layer("l", 1, "in")], &extra);
    let topo = rules_only(&src);
    let est = runtime::model::topology::memory_estimate(&topo);
    // Each step is parsed (a `Step`), copied into the log and recorded (two times, the
    // counts): more than 100 bytes however compact.
    assert!(est.protocol_bytes >= 200_000 * 100, "{est:?}");
    assert!(est.protocol_bytes > est.layers_bytes[0], "{est:?}");
    let tight = Limit {
        what: "a tight limit",
        bytes: est.total_bytes / 2,
    };
    let e = located(budget_issues(&topo, &tight), Some(&src), Path::new("t.ron")).to_string();
    let want = format!("t.ron:{}:", line_of(&src, "protocol:"));
    assert!(
        e.lines().any(|l| l.starts_with(&want)
            && l.contains("field `protocol`")
            && l.contains("200000 steps")),
        "{e}"
    );
}
