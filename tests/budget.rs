//! The command line refuses what would not fit or cannot be read before building anything:
//! exit code 1, a message naming file:line:col, no panic or abort.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    common::scratch("budget-tests", name)
}

/// Runs `memsnn ARGS` (through `sh -c` with `prefix` before it, e.g. a `ulimit`); returns
/// (exit code, stderr).
fn memsnn(prefix: &str, args: &[&str]) -> (Option<i32>, String) {
    let bin = env!("CARGO_BIN_EXE_memsnn");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let script = format!("{prefix} exec '{bin}' {}", quoted.join(" "));
    let o = Command::new("sh").arg("-c").arg(script).output().unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into())
}

fn topology(lines: u32, layers: &[(&str, u32)]) -> String {
    let layers: Vec<String> = layers
        .iter()
        .map(|(name, n)| {
            format!(
                "        (name: \"{name}\", neurons: {n}, from: \"in\", connectivity: Dense, \
                 initial: Uniform(400.0e-6, 0.05), learning: true)"
            )
        })
        .collect();
    format!(
        "Topology(\n    name: \"t\",\n    devices: (ts: \"builtin:ts_neuron\", synapse: \
         \"builtin:rs_hfo2_1t1r\", circuit: \"builtin:neuron_cmos\"),\n    inputs: [(name: \
         \"in\", lines: {lines}, amplitude_volts: 1.6)],\n    layers: [\n{}\n    ],\n)\n",
        layers.join(",\n")
    )
}

/// 1-based (line, column) of `key` on the first line containing `line_with`.
fn key_at(text: &str, line_with: &str, key: &str) -> (usize, usize) {
    let (i, l) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(line_with))
        .unwrap();
    (i + 1, l.find(key).unwrap() + 1)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn validate_refuses_a_billion_synapses_over_six_layers() {
    let dir = scratch("six");
    let names = ["a", "b", "c", "d", "e", "f"];
    let layers: Vec<(&str, u32)> = names.iter().map(|n| (*n, 18_334)).collect();
    let text = topology(10_000, &layers);
    let file = write(&dir, "six.ron", &text);
    let (code, err) = memsnn("", &["validate", &file]);
    assert_eq!(code, Some(1), "{err}");
    for (k, name) in names.iter().enumerate() {
        let (line, col) = key_at(&text, &format!("\"{name}\""), "neurons");
        let want = format!("{file}:{line}:{col}: field `layers[{k}].neurons`");
        assert!(err.contains(&want), "{want}\n{err}");
    }
}

#[test]
fn two_million_neurons_under_an_address_space_limit_are_refused_cleanly() {
    let dir = scratch("wide");
    let text = topology(1, &[("wide", 2_000_000)]);
    let file = write(&dir, "wide.ron", &text);
    // 2 GB of address space: 2,000,000 neurons cannot be built in it.
    let (code, err) = memsnn("ulimit -v 2000000;", &["validate", &file]);
    assert_eq!(code, Some(1), "{err}");
    let (line, col) = key_at(&text, "\"wide\"", "neurons");
    let want = format!("{file}:{line}:{col}: field `layers[0].neurons`: the topology needs");
    assert!(err.contains(&want), "{err}");
    assert!(
        err.contains("the address-space limit (`ulimit -v`) leaves"),
        "{err}"
    );
}

#[test]
fn unreadable_inputs_are_refused_with_their_location() {
    let dir = scratch("inputs");
    let (code, err) = memsnn("", &["validate", "/dev/zero"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("/dev/zero: is not a regular file"), "{err}");
    let bad = dir.join("bad.ron");
    std::fs::write(&bad, b"Topology(\xff").unwrap();
    let (code, err) = memsnn("", &["validate", &bad.display().to_string()]);
    assert_eq!(code, Some(1), "{err}");
    let want = format!("{}:1:10: not UTF-8 text", bad.display());
    assert!(err.contains(&want), "{err}");
}

#[test]
fn a_protocols_topology_problems_are_located_at_its_topology_field() {
    let dir = scratch("protocol");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/experiments/fig5.ron");
    let text = std::fs::read_to_string(shipped).unwrap();
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with("topology:"))
        .unwrap()
        + 1;
    let text = text.replace("\"../msnn_30x10x10.ron\"", "\"net.ron\"");
    let proto = write(&dir, "fig5.ron", &text);
    write(&dir, "net.ron", "Topology(\n    name: 1,\n)\n");
    let out = dir.join("out").display().to_string();
    let (code, err) = memsnn(
        "",
        &["reproduce", "fig5", "--protocol", &proto, "--out", &out],
    );
    assert_eq!(code, Some(1), "{err}");
    let want = format!("{proto}:{line}:5: field `topology`: names a file with a problem: ");
    assert!(err.contains(&want), "{err}");
    assert!(
        err.contains(&format!("{}:2:", dir.join("net.ron").display())),
        "{err}"
    );
}

#[test]
fn an_image_that_cannot_be_written_gets_a_plain_message() {
    let dir = scratch("plot");
    let topo = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/fig3b.ron");
    // A missing folder is created; a regular file where the folder should be cannot be.
    write(&dir, "not-a-folder", "");
    let png = dir.join("not-a-folder/raster.png").display().to_string();
    let out = dir.join("out").display().to_string();
    let t = topo.display().to_string();
    let (code, err) = memsnn("", &["run", &t, "--out", &out, "--plot", &png]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&png) || err.contains("not-a-folder"), "{err}");
    assert!(!err.contains("Os {") && !err.contains("IoError("), "{err}");
    // Found before the run: nothing was written.
    assert!(!dir.join("out").exists(), "{err}");
}
