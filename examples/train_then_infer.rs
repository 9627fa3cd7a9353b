//! Train once, then infer from the saved conductances — the library flow behind
//! `memsnn run --save-weights` and `initial: Saved(..)`.
//!
//! 1. Load the shipped 30×10×10 topology and run its protocol (layer-1 learning, gated
//!    layer-2 learning, a first inference) on the reference executor.
//! 2. Save every layer's conductances (the synapses are the non-volatile part of the
//!    hardware) as RON.
//! 3. Edit the model in code: both layers start from that file, and a read-only protocol
//!    (learning off, inputs and spikes below the SET threshold, every output gate open)
//!    presents each digit once. The edited model is checked again before it runs.
//!
//! The shipped protocol is a short illustration (three digits in layer 1, one in layer 2),
//! so few output neurons answer; `memsnn reproduce fig5` trains the whole network and
//! leaves its conductances in `results/fig5/trained.ron` for the same use.
//!
//! Run with `cargo run --release --example train_then_infer`.

use runtime::model::topology::schema::{Initial, Step};
use runtime::{ExecutorKind, Model};

/// Root seed: the same seed restores onto the same fabricated devices, bit for bit.
const SEED: u64 = 1;
/// Read level of inputs and spikes, volts: below the synapses' 1.5 V SET threshold.
const READ_VOLTS: f64 = 1.45;
/// Gate level that opens every output column, volts.
const GATE_ON_VOLTS: f64 = 3.0;

fn main() -> Result<(), runtime::Error> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/msnn_30x10x10.ron");
    let model = Model::load(path)?;

    // 1. Train. 2. Save what survives power-off.
    let mut training = model.session(SEED, ExecutorKind::Reference, 1)?;
    training.run_protocol()?;
    let saved = std::env::temp_dir().join("memsnn_trained.ron");
    training.save_weights(&saved)?;
    println!("saved the conductances to {}", saved.display());

    // 3. The same network, restored, with a read-only protocol.
    let digits: Vec<String> = model
        .checked()
        .patterns()
        .map(|p| p.items.iter().map(|i| i.name.clone()).collect())
        .unwrap_or_default();
    let input = model.topology().inputs[0].name.clone();
    let reading = model.edit(|t| {
        let outputs = t.layers.last().map_or(0, |l| l.neurons as usize);
        for layer in &mut t.layers {
            layer.initial = Initial::Saved(saved.display().to_string());
        }
        let mut steps = Vec::new();
        for layer in t.layers.iter().map(|l| l.name.clone()) {
            steps.push(Step::SetLearning {
                layer: layer.clone(),
                on: false,
            });
            steps.push(Step::SetSpikeAmplitude {
                layer,
                volts: READ_VOLTS,
            });
        }
        steps.push(Step::SetAmplitude {
            input: input.clone(),
            volts: READ_VOLTS,
        });
        if let Some(output) = t.layers.last().map(|l| l.name.clone()) {
            steps.push(Step::SetGates {
                layer: output,
                volts: vec![GATE_ON_VOLTS; outputs],
            });
        }
        for digit in &digits {
            steps.push(Step::Present {
                input: input.clone(),
                pattern: digit.clone(),
                flips: 0,
                duration_us: 100_000,
            });
            steps.push(Step::Rest {
                duration_us: 200_000,
            });
        }
        t.protocol = steps;
    })?;
    let log = reading
        .session(SEED, ExecutorKind::Reference, 1)?
        .run_protocol()?;

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
