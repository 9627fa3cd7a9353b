//! Train once, then infer from the saved conductances — the library flow behind
//! `memsnn run --save-weights` and `initial: Saved(..)`.
//!
//! 1. Load the shipped 30×10×10 topology and run its protocol (layer-1 learning, gated
//!    layer-2 learning, a first inference) on the reference executor.
//! 2. Capture every layer's conductances (the synapses are the non-volatile part of the
//!    hardware) and write them as RON.
//! 3. Build the same network again with both layers starting from that file and a
//!    read-only protocol (learning off, inputs and spikes below the SET threshold, every
//!    output gate open), present each digit once and print the spike counts.
//!
//! The shipped protocol is a short illustration (three digits in layer 1, one in layer 2),
//! so few output neurons answer; `memsnn reproduce fig5` trains the whole network and
//! leaves its conductances in `results/fig5/trained.ron` for the same use.
//!
//! Run with `cargo run --release --example train_then_infer`.

use anyhow::{Context, Result};
use runtime::exec::reference::Simulation;
use runtime::protocol::{run_protocol, NetworkIds};
use runtime::topology::schema::Step;
use runtime::topology::{build, load, parse_str, SavedWeights};
use std::path::Path;

/// Root seed: the same seed restores onto the same fabricated devices, bit for bit.
const SEED: u64 = 1;

fn main() -> Result<()> {
    let topologies = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let path = topologies.join("msnn_30x10x10.ron");

    // 1. Train.
    let checked = load(&path)?;
    let built = build(&checked, SEED)?;
    let ids = NetworkIds::of(&built);
    let layers = built.layers.clone();
    let mut sim = Simulation::new(built.builder.build());
    run_protocol(&mut sim, &ids, checked.topology(), checked.patterns())?;

    // 2. Save what survives power-off.
    let weights =
        SavedWeights::capture(&checked.topology().name, SEED, &sim.net, sim.now(), &layers);
    let out = std::env::temp_dir().join("memsnn_trained.ron");
    std::fs::write(&out, weights.to_ron()?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("saved {} layers to {}", weights.layers.len(), out.display());

    // 3. The same file, both layers restored, with a read-only protocol.
    let source = std::fs::read_to_string(&path)?;
    let saved = format!("Saved({:?})", out.display().to_string());
    let mut text = source
        .replace("Uniform(400.0e-6, 0.05)", &saved)
        .replace("Uniform(40.0e-6, 0.05)", &saved);
    let start = text
        .find("    protocol: [")
        .context("the topology has a protocol")?;
    text.truncate(start);
    text.push_str("    protocol: [\n");
    text.push_str("        SetLearning(layer: \"hidden\", on: false),\n");
    text.push_str("        SetLearning(layer: \"output\", on: false),\n");
    text.push_str("        SetAmplitude(input: \"pixels\", volts: 1.45),\n");
    text.push_str("        SetSpikeAmplitude(layer: \"hidden\", volts: 1.45),\n");
    text.push_str("        SetGates(layer: \"output\", volts: [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0]),\n");
    let digits: Vec<String> = checked
        .patterns()
        .map(|p| p.items.iter().map(|i| i.name.clone()).collect())
        .unwrap_or_default();
    for d in &digits {
        text.push_str(&format!(
            "        Present(input: \"pixels\", pattern: \"{d}\", duration_us: 100000),\n        Rest(duration_us: 200000),\n"
        ));
    }
    text.push_str("    ],\n)\n");
    let restored = parse_str(&text, Path::new("inference.ron"), &topologies)?;
    let built = build(&restored, SEED)?;
    let ids = NetworkIds::of(&built);
    let mut sim = Simulation::new(built.builder.build());
    let log = run_protocol(&mut sim, &ids, restored.topology(), restored.patterns())?;

    println!("digit  hidden fires  output fires");
    let presented = log
        .steps
        .iter()
        .filter(|s| matches!(s.step, Step::Present { .. }));
    for (digit, step) in digits.iter().zip(presented) {
        let hidden = step.fires.get("hidden").copied().unwrap_or(0);
        let output = step.fires.get("output").copied().unwrap_or(0);
        println!("{digit:>5}  {hidden:>12}  {output:>12}");
    }
    Ok(())
}
