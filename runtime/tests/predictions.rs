//! A neuron's prediction of its next transition is scanned a few CLK phases at a time and
//! continued at wake-ups; that must change only the work, never the result. Each network
//! runs twice — default chunks and one scan of the whole horizon — and must end with the
//! same fires, spikes, TS device states and conductances, bit for bit, and the same log.

use runtime::circuits::column::Column;
use runtime::circuits::neuron::Neuron;
use runtime::engine::exec::reference::Simulation;
use runtime::model::protocol::{run_protocol, NetworkIds};
use runtime::model::topology::load;
use std::path::Path;

/// Per neuron: fires, spikes and the TS state's bits; per column: conductance bits; the
/// protocol log as JSON; the number of events handled.
type Outcome = (Vec<(u64, u64, String)>, Vec<Vec<u32>>, String, u64);

fn run(file: &str, seed: u64, chunk: Option<u32>) -> Outcome {
    run_with(file, seed, chunk, true)
}

fn run_with(file: &str, seed: u64, chunk: Option<u32>, bounded: bool) -> Outcome {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../topologies")
        .join(file);
    let checked = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let built = runtime::model::topology::build(&checked, seed).unwrap();
    let ids = NetworkIds::of(&built);
    let layers = built.layers.clone();
    let mut net = built.builder.build();
    for l in layers.values() {
        for &n in &l.neurons {
            let neuron = net.get_mut::<Neuron>(n).unwrap();
            let mut changed = neuron.clone().with_bounded_lookahead(bounded);
            if let Some(c) = chunk {
                changed = changed.with_prediction_chunk(c);
            }
            *neuron = changed;
        }
    }
    let mut sim = Simulation::new(net);
    let log = run_protocol(&mut sim, &ids, checked.topology(), checked.patterns()).unwrap();
    let mut neurons = Vec::new();
    let mut columns = Vec::new();
    for l in layers.values() {
        for (&n, &c) in l.neurons.iter().zip(&l.columns) {
            let neuron = sim.net.get::<Neuron>(n).unwrap();
            let st = neuron.ts().state();
            let bits = format!(
                "{:?} {:x} {:x} {:x}",
                st.on,
                st.nucleation.to_bits(),
                st.bridge.to_bits(),
                st.residue.to_bits()
            );
            neurons.push((neuron.fires(), neuron.spikes(), bits));
            let col = sim.net.get::<Column>(c).unwrap();
            columns.push(col.conductances().iter().map(|g| g.to_bits()).collect());
        }
    }
    let log = serde_json::to_string(&log).unwrap();
    (neurons, columns, log, sim.stats().events)
}

#[test]
fn paused_predictions_give_the_same_network_as_one_long_scan() {
    for (file, seed) in [
        ("msnn_30x10x10.ron", 3),
        ("msnn_30x10x10_literal.ron", 3),
        ("wta_ff/30x10.ron", 5),
    ] {
        let chunked = run(file, seed, None);
        let whole = run(file, seed, Some(u32::MAX));
        let one = run(file, seed, Some(1));
        assert!(
            chunked.0.iter().map(|n| n.0).sum::<u64>() > 10,
            "{file}: too few fires"
        );
        assert_eq!(chunked.0, whole.0, "{file}: neurons");
        assert_eq!(chunked.1, whole.1, "{file}: conductances");
        assert_eq!(chunked.2, whole.2, "{file}: log");
        assert_eq!(
            (&one.0, &one.1, &one.2),
            (&whole.0, &whole.1, &whole.2),
            "{file}"
        );
        // The pauses are real: scanning one phase at a time takes more wake-ups.
        assert!(one.3 > whole.3, "{file}: {} vs {} events", one.3, whole.3);
    }
}

/// Under the hazard law a look-ahead integrates an upper bound of the hazard and wakes at
/// the first phase that could switch; the fires, states and log must equal those of an
/// exact look-ahead, with fewer events per fire being no requirement, only fewer integrals.
#[test]
fn bounded_hazard_lookahead_gives_the_same_network_as_an_exact_one() {
    let file = "msnn_30x10x10.ron";
    let checked = load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../topologies")
            .join(file),
    )
    .unwrap();
    let law = checked.topology().devices.ts.clone();
    for seed in [2, 7] {
        let bounded = run_with(file, seed, None, true);
        let exact = run_with(file, seed, None, false);
        assert!(
            bounded.0.iter().map(|n| n.0).sum::<u64>() > 10,
            "{file} ({law}): too few fires"
        );
        assert_eq!(bounded.0, exact.0, "{file} ({law}), seed {seed}: neurons");
        assert_eq!(
            bounded.1, exact.1,
            "{file} ({law}), seed {seed}: conductances"
        );
        assert_eq!(bounded.2, exact.2, "{file} ({law}), seed {seed}: log");
    }
}
