//! Embedding memsnn in an actix application.
//!
//! The application owns the actix `System` (here through `#[actix::main]`) and its own
//! actors (`Monitor`). It builds a 30-input × 10-neuron winner-take-all layer with its
//! lateral-inhibition array, runs it on the actix executor inside that System — one actor
//! per component, next to the application's actors — and sends the spike counts of each
//! presentation to its `Monitor`, which prints them.
//!
//! Run with `cargo run --release --example actix_embed`.

use actix::prelude::*;
use anyhow::Context as _;
use devices::variability::key;
use devices::{DeviceSet, Variability};
use runtime::circuits::circuit::NeuronCircuit;
use runtime::circuits::column::{self, Column};
use runtime::circuits::input::{self, InputGenerator};
use runtime::circuits::lia::{Lia, LiaArray, LiaParams};
use runtime::circuits::neuron::{self, Neuron};
use runtime::engine::event::{CompId, Control, Payload, Port};
use runtime::engine::exec::actix_exec::ActixSimulation;
use runtime::engine::network::{Network, NetworkBuilder};
use runtime::engine::time::{Clock, MS};
use std::sync::Arc;

/// Inputs and neurons of the layer.
const INPUTS: usize = 30;
const NEURONS: usize = 10;
/// Root seed of every random stream.
const SEED: u64 = 2021;

/// The application's actor: receives spike counts and prints them.
struct Monitor;

impl Actor for Monitor {
    type Context = Context<Self>;
}

/// Spikes per neuron during one presentation.
#[derive(Message)]
#[rtype(result = "()")]
struct Counts {
    presentation: usize,
    spikes: Vec<u64>,
}

impl Handler<Counts> for Monitor {
    type Result = ();
    fn handle(&mut self, msg: Counts, _: &mut Context<Self>) {
        let total: u64 = msg.spikes.iter().sum();
        println!(
            "presentation {}: spikes per neuron {:?} (total {total})",
            msg.presentation, msg.spikes
        );
    }
}

/// The input generator's id and the neurons' ids.
struct Ids {
    input: CompId,
    neurons: Vec<CompId>,
}

/// A winner-take-all layer: input generator → 10 synapse columns (~400 µS) → 10 hybrid
/// neurons, whose lateral-inhibition outputs drive an LIA that gates the columns.
fn build() -> anyhow::Result<(Network, Ids)> {
    let set = DeviceSet::builtin();
    let circuit = NeuronCircuit::builtin();
    let var = Variability::FULL;
    let synapse = Arc::new(set.synapse.clone());
    let mut b = NetworkBuilder::new(Clock::default());
    let input = b.add(
        "input",
        Box::new(InputGenerator::new(INPUTS, 1.6, key(SEED, &[1]))),
    );
    let neurons: Vec<CompId> = (0..NEURONS)
        .map(|j| {
            let n = Neuron::new(&set.ts_neuron, &circuit, var, key(SEED, &[2, j as u64]));
            b.add(format!("neuron[{j}]"), Box::new(n))
        })
        .collect();
    let columns: Vec<CompId> = (0..NEURONS)
        .map(|j| {
            // ~400 µS with a small, deterministic spread.
            let g = (0..INPUTS)
                .map(|i| 400e-6 * (1.0 + 0.02 * (((i * 7 + j * 13) % 5) as f32 - 2.0)))
                .collect();
            let c = Column::new(
                Arc::clone(&synapse),
                var,
                key(SEED, &[3, j as u64]),
                g,
                3.0,
                10_000,
            );
            b.add(format!("column[{j}]"), Box::new(c))
        })
        .collect();
    let design = LiaParams::builtin()
        .design(&set.synapse, NEURONS)
        .context("designing the LIA")?;
    let array = LiaArray::new(&design, &set.synapse, &set.comparator, var, key(SEED, &[4]));
    let lia = b.add("lia", Box::new(Lia::new(array)));
    for (j, (&n, &c)) in neurons.iter().zip(&columns).enumerate() {
        b.connect(input, input::OUT_LINES, c, column::IN_PATTERN);
        b.connect(c, column::OUT_COLUMN, n, neuron::IN_COLUMN);
        b.connect(n, neuron::OUT_NODE, c, column::IN_NODE);
        b.connect(n, neuron::OUT_LI, lia, j as Port);
        b.connect(lia, j as Port, c, column::IN_GATE);
    }
    Ok((b.build(), Ids { input, neurons }))
}

/// Spike counters of the neurons.
fn spikes(sim: &ActixSimulation, ids: &Ids) -> Vec<u64> {
    ids.neurons
        .iter()
        .map(|&id| sim.network().get::<Neuron>(id).map_or(0, Neuron::spikes))
        .collect()
}

#[actix::main]
async fn main() -> anyhow::Result<()> {
    let monitor = Monitor.start();
    let (net, ids) = build()?;
    // Actors on the application's own arbiter (0 extra arbiter threads).
    let mut sim = ActixSimulation::new(net, 0)?;
    // Three stripes of pixels, 60 ms each.
    let patterns: Vec<Arc<[bool]>> = (0..3)
        .map(|k| (0..INPUTS).map(|i| (i / 10) == k).collect())
        .collect();
    let each = 60 * MS;
    for (k, pixels) in patterns.into_iter().enumerate() {
        let at = k as u64 * each;
        sim.inject(
            at,
            ids.input,
            input::IN_CONTROL,
            Payload::Control(Control::Present { pixels, flips: 0 }),
        );
        let before = spikes(&sim, &ids);
        sim.run_until(at + each).await?;
        let after = spikes(&sim, &ids);
        let counts = after.iter().zip(&before).map(|(a, b)| a - b).collect();
        monitor
            .send(Counts {
                presentation: k,
                spikes: counts,
            })
            .await?;
    }
    let stats = sim.stats();
    println!(
        "{} events in {} batches, {} actor messages, simulated {} ms",
        stats.events,
        stats.batches,
        stats.messages,
        sim.now() / MS
    );
    Ok(())
}
