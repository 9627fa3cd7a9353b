//! Saved conductances (`initial: Saved(file)`): what a run leaves in the synapses comes
//! back bit for bit in a network built with the same seed, on every executor; bad weights
//! files and files that do not fit their layer are located errors.

use runtime::circuits::column::Column;
use runtime::engine::exec::reference::Simulation;
use runtime::engine::exec::sharded::ShardedSimulation;
use runtime::engine::exec::Executor;
use runtime::engine::network::Network;
use runtime::model::protocol::{run_protocol, NetworkIds};
use runtime::model::topology::{build, load, parse_str, LayerIds, SavedWeights};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn topologies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies")
}

fn msnn_source() -> String {
    std::fs::read_to_string(topologies().join("msnn_30x10x10.ron")).unwrap()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memsnn-saved-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Conductances of every layer's columns, by layer name.
fn conductances(
    net: &Network,
    layers: &BTreeMap<String, LayerIds>,
) -> Vec<(String, Vec<Vec<f32>>)> {
    layers
        .iter()
        .map(|(name, ids)| {
            let cols = ids
                .columns
                .iter()
                .map(|&c| net.get::<Column>(c).unwrap().conductances().to_vec())
                .collect();
            (name.clone(), cols)
        })
        .collect()
}

/// The shipped 30×10×10 topology with both layers starting from `file`.
fn restored_source(file: &Path) -> String {
    let saved = format!("Saved({:?})", file.to_str().unwrap());
    let src = msnn_source()
        .replace("Uniform(400.0e-6, 0.05)", &saved)
        .replace("Uniform(40.0e-6, 0.05)", &saved);
    assert_eq!(src.matches("Saved(").count(), 2, "both layers restored");
    src
}

#[test]
fn saved_conductances_come_back_bit_for_bit_with_the_same_seed() {
    let checked = load(&topologies().join("msnn_30x10x10.ron")).unwrap();
    let topo = checked.topology();
    let dir = tempdir("roundtrip");
    let file = dir.join("weights.ron");
    let mut saved_text = None;
    for workers in [0usize, 2] {
        let built = build(&checked, 7).unwrap();
        let ids = NetworkIds::of(&built);
        let layers = built.layers.clone();
        let net = built.builder.build();
        let initial = conductances(&net, &layers);
        let mut sim: Box<dyn Executor> = if workers == 0 {
            Box::new(Simulation::new(net))
        } else {
            Box::new(ShardedSimulation::new(net, workers))
        };
        run_protocol(sim.as_mut(), &ids, topo, checked.patterns()).unwrap();
        let w = SavedWeights::capture(&topo.name, 7, sim.network(), sim.now(), &layers);
        // The protocol trained the network: the saved state is not the initial one.
        let after: Vec<_> = w
            .layers
            .iter()
            .map(|l| (l.name.clone(), l.siemens.clone()))
            .collect();
        assert_ne!(after, initial, "the protocol changed some conductances");
        let text = w.to_ron().unwrap();
        match &saved_text {
            None => saved_text = Some(text),
            Some(t) => assert_eq!(t, &text, "executors save the same weights"),
        }
    }
    std::fs::write(&file, saved_text.as_ref().unwrap()).unwrap();
    let written: SavedWeights =
        devices::params::load_ron(&file).expect("the written file reads back");

    let src = restored_source(&file);
    let restored = parse_str(&src, Path::new("restored.ron"), &topologies()).unwrap();
    let built = build(&restored, 7).unwrap();
    let got = conductances(&built.builder.build(), &built.layers);
    let want: Vec<_> = written
        .layers
        .iter()
        .map(|l| (l.name.clone(), l.siemens.clone()))
        .collect();
    let bits = |v: &[(String, Vec<Vec<f32>>)]| -> Vec<u32> {
        v.iter()
            .flat_map(|(_, m)| m.iter().flatten().map(|g| g.to_bits()))
            .collect()
    };
    assert_eq!(bits(&got), bits(&want));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_weights_files_are_located_errors() {
    let dir = tempdir("errors");
    // Missing file: located at the layer's `initial` in the topology.
    let missing = dir.join("nope.ron");
    let src = restored_source(&missing);
    let e = parse_str(&src, Path::new("t.ron"), &topologies())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("t.ron:") && e.contains("layers[0].initial") && e.contains("nope.ron"),
        "{e}"
    );

    // A file for another layer shape: 2 rows of 3 for a 10-neuron layer of 30 synapses.
    let small = dir.join("small.ron");
    std::fs::write(
        &small,
        "SavedWeights(topology: \"x\", seed: 1, time_ns: 0, layers: [
            (name: \"hidden\", siemens: [[4e-4, 4e-4, 4e-4], [4e-4, 4e-4, 4e-4]]),
            (name: \"other\", siemens: []),
        ])",
    )
    .unwrap();
    let e = parse_str(&restored_source(&small), Path::new("t.ron"), &topologies())
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 rows of 3 synapses"), "{e}");
    assert!(e.contains("10 neurons of 30 synapses"), "{e}");
    // The output layer has no entry: the names the file holds are listed.
    assert!(
        e.contains("holds no layer `output`") && e.contains("hidden, other"),
        "{e}"
    );

    // A negative conductance: located in the weights file (line 3).
    let neg = dir.join("neg.ron");
    std::fs::write(
        &neg,
        "SavedWeights(topology: \"x\", seed: 1, time_ns: 0, layers: [\n\
         (name: \"hidden\",\n siemens: [[-4e-4]]),\n])",
    )
    .unwrap();
    let e = parse_str(&restored_source(&neg), Path::new("t.ron"), &topologies())
        .unwrap_err()
        .to_string();
    assert!(e.contains("neg.ron:3:") && e.contains("positive"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A topology name with a line break cannot break the header comment of the file.
#[test]
fn the_written_file_reads_back_whatever_the_topology_is_called() {
    let w = SavedWeights {
        topology: "two\nlines\r// and a comment".into(),
        seed: 3,
        time_ns: 5,
        layers: vec![runtime::model::topology::saved::SavedLayer {
            name: "l".into(),
            siemens: vec![vec![4.0e-4, 1.25e-5]],
        }],
    };
    let text = w.to_ron().unwrap();
    let back: SavedWeights =
        devices::params::parse_ron(&text, Path::new("w.ron")).expect("reads back");
    assert_eq!(back.layers, w.layers);
    assert_eq!((back.seed, back.time_ns), (3, 5));
}
