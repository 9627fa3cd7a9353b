//! NIR interchange: memsnn → NIR → memsnn → NIR is the identity (same nodes, edges,
//! metadata; conductances bit-equal), imported topologies run as the originals, foreign
//! graphs map by the documented rules, and bad files fail cleanly. The reference Python
//! `nir` package's side is `tests/nir_reference/` (pytest, run by `.ci/run`).

use memsnn::nir::{export, graph_of, import, ExportOptions, ImportOptions};
use nir_rs::nodes::{Affine, If, Input, Linear, Output, Scale};
use nir_rs::{NirGraph, NirNode, Tensor, TensorData};
use runtime::model::topology::saved::SavedWeights;
use runtime::{ExecutorKind, Model};
use std::path::{Path, PathBuf};
use std::process::Command;

fn opts(seed: u64) -> ExportOptions {
    ExportOptions {
        weights: None,
        seed,
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memsnn-nir-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn weights_of(topology: &Path, seed: u64) -> SavedWeights {
    let model = Model::load(topology).unwrap();
    model
        .session(seed, ExecutorKind::Reference, 1)
        .unwrap()
        .weights()
}

/// export → import → export gives the same graph (read back from both files), and the
/// imported topology builds with the original's conductances, bit for bit.
fn round_trip(topology: &str, seed: u64) {
    let dir = tmp(&topology.replace('/', "_"));
    let first = dir.join("first.nir");
    let back = dir.join("back/net.ron");
    let second = dir.join("second.nir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(topology);
    export(&src, &first, &opts(seed)).unwrap();
    let report = import(&first, &back, &ImportOptions::default()).unwrap();
    assert!(report.from_memsnn);
    assert_eq!(report.seed, seed);
    export(&back, &second, &opts(seed)).unwrap();
    let a = memsnn::nir::file::read(&first).unwrap();
    let b = memsnn::nir::file::read(&second).unwrap();
    assert_eq!(
        a.nodes.keys().collect::<Vec<_>>(),
        b.nodes.keys().collect::<Vec<_>>()
    );
    assert_eq!(a.edges, b.edges);
    assert_eq!(a.metadata, b.metadata, "{topology}: root metadata");
    for (name, node) in &a.nodes {
        assert_eq!(Some(node), b.nodes.get(name), "{topology}: node {name}");
    }
    // Independently of the graphs: the conductances the imported topology builds are
    // those the original builds with the same seed.
    let want = weights_of(&src, seed);
    let got = weights_of(&back, seed);
    assert_eq!(want.layers.len(), got.layers.len());
    for (w, g) in want.layers.iter().zip(&got.layers) {
        assert_eq!(w.name, g.name);
        let bits =
            |v: &Vec<Vec<f32>>| -> Vec<u32> { v.iter().flatten().map(|x| x.to_bits()).collect() };
        assert_eq!(
            bits(&w.siemens),
            bits(&g.siemens),
            "{topology}: layer {}",
            w.name
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn round_trip_single_neuron() {
    round_trip("topologies/fig3b.ron", 1);
}

#[test]
fn round_trip_two_layers_with_lia_and_supervised_gates() {
    round_trip("topologies/msnn_30x10x10.ron", 3);
}

#[test]
fn round_trip_prototypes_and_device_files() {
    // `initial: Prototypes(..)` with PresentPrototype steps, a circuit file named by path.
    round_trip("topologies/wta_ff/784x100.ron", 1);
    round_trip("topologies/propagation.ron", 2);
}

#[test]
fn graph_shapes_and_metadata() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/msnn_30x10x10.ron");
    let (g, _) = graph_of(&src, &opts(1)).unwrap();
    let ty = |n: &str| g.nodes.get(n).map(NirNode::type_name);
    assert_eq!(ty("pixels"), Some("Input"));
    assert_eq!(ty("hidden_synapses"), Some("Affine"));
    assert_eq!(ty("hidden"), Some("LIF"));
    assert_eq!(ty("hidden_lia"), Some("Affine"));
    assert_eq!(ty("output_output"), Some("Output"));
    assert!(g
        .edges
        .contains(&("hidden_lia".to_string(), "hidden".to_string())));
    let Some(NirNode::Affine(a)) = g.nodes.get("hidden_synapses") else {
        panic!("no synapses");
    };
    assert_eq!(a.weight.shape(), [10, 30]);
    // weight = G / G_max of the synapse device (rs_hfo2_1t1r: G_max = 980 µS).
    let g_max = 980.0e-6;
    let TensorData::F32(w) = a.weight.data() else {
        panic!("f32 weights")
    };
    let Some(nir_rs::MetadataValue::Tensor(c)) = a.metadata.get("memsnn_conductance_siemens")
    else {
        panic!("no conductances")
    };
    let TensorData::F32(c) = c.data() else {
        panic!("f32 conductances")
    };
    for (w, c) in w.iter().zip(c) {
        assert!((f64::from(*w) - f64::from(*c) / g_max).abs() < 1e-6);
    }
}

#[test]
fn exported_weights_file_travels() {
    let dir = tmp("weights");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/learning.ron");
    let model = Model::load(&src).unwrap();
    let mut s = model.session(1, ExecutorKind::Reference, 1).unwrap();
    s.run_protocol().unwrap();
    let saved = dir.join("trained.ron");
    s.save_weights(&saved).unwrap();
    let trained = s.weights();
    let nir = dir.join("trained.nir");
    let o = ExportOptions {
        weights: Some(saved),
        seed: 1,
    };
    export(&src, &nir, &o).unwrap();
    let back = dir.join("back.ron");
    import(&nir, &back, &ImportOptions::default()).unwrap();
    let got = weights_of(&back, 1);
    assert_eq!(got.layers[0].siemens, trained.layers[0].siemens);
    // Learning moved them: the export is not the untrained network's.
    assert_ne!(got.layers[0].siemens, weights_of(&src, 1).layers[0].siemens);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn imported_topology_runs_as_the_original() {
    let dir = tmp("run");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/propagation.ron");
    let nir = dir.join("p.nir");
    export(&src, &nir, &opts(1)).unwrap();
    let back = dir.join("p.ron");
    import(&nir, &back, &ImportOptions::default()).unwrap();
    let fires = |t: &Path| {
        let mut s = Model::load(t)
            .unwrap()
            .session(1, ExecutorKind::Reference, 1)
            .unwrap();
        s.run_protocol().unwrap();
        s.fires()
    };
    let (a, b) = (fires(&src), fires(&back));
    assert!(!a.is_empty());
    assert_eq!(a, b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn weights_changed_outside_memsnn_set_the_conductances() {
    let dir = tmp("edited");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/fig3b.ron");
    let (mut g, _) = graph_of(&src, &opts(1)).unwrap();
    let Some(NirNode::Affine(a)) = g.nodes.get_mut("neuron_synapses") else {
        panic!()
    };
    a.weight = Tensor::from_f32(vec![1, 2], vec![0.5f32, 0.125]).unwrap();
    let nir = dir.join("edited.nir");
    memsnn::nir::file::write(&nir, &g).unwrap();
    let back = dir.join("edited.ron");
    let r = import(&nir, &back, &ImportOptions::default()).unwrap();
    assert!(r.notes.iter().any(|n| n.contains("changed outside memsnn")));
    let got = weights_of(&back, 1);
    // Fixed resistors (fig3b): G = w·G_max (rs_hfo2_1t1r: 980 µS) as given.
    let g = |w: f64| (w * 980.0e-6) as f32;
    assert_eq!(got.layers[0].siemens, vec![vec![g(0.5), g(0.125)]]);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tensor(shape: Vec<usize>, v: Vec<f32>) -> Tensor {
    Tensor::from_f32(shape, v).unwrap()
}

fn foreign_graph(w: Vec<f32>, n_in: usize, n_out: usize) -> NirGraph {
    let mut g = NirGraph::new();
    let md = Default::default;
    g.insert_node(
        "x",
        NirNode::Input(Input {
            shape: vec![n_in],
            metadata: md(),
        }),
    )
    .unwrap();
    g.insert_node(
        "w",
        NirNode::Linear(Linear {
            weight: tensor(vec![n_out, n_in], w),
            metadata: md(),
        }),
    )
    .unwrap();
    g.insert_node(
        "if",
        NirNode::If(If {
            r: tensor(vec![n_out], vec![1.0; n_out]),
            v_threshold: tensor(vec![n_out], vec![1.0; n_out]),
            v_reset: None,
            metadata: md(),
        }),
    )
    .unwrap();
    g.insert_node(
        "y",
        NirNode::Output(Output {
            shape: vec![n_out],
            metadata: md(),
        }),
    )
    .unwrap();
    g.add_edge("x", "w");
    g.add_edge("w", "if");
    g.add_edge("if", "y");
    g
}

#[test]
fn foreign_signed_weights_keep_their_order_and_columns_balance() {
    let dir = tmp("foreign");
    let w = vec![-2.0f32, 0.0, 1.0, 3.0, 0.5, -1.0];
    let g = foreign_graph(w.clone(), 3, 2);
    let nir = dir.join("f.nir");
    memsnn::nir::file::write(&nir, &g).unwrap();
    let out = dir.join("f.ron");
    let r = import(&nir, &out, &ImportOptions::default()).unwrap();
    assert!(!r.from_memsnn);
    let got = weights_of(&out, 1);
    let rows = &got.layers[0].siemens;
    assert_eq!(rows.len(), 2);
    // rs_hfo2_1t1r: G_min = 40 µS, G_max = 980 µS; lo = −2, hi = 3.
    let (gmin, gmax) = (40e-6f64, 980e-6f64);
    for (j, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 4, "three lines and the balance line");
        for i in 0..3 {
            let f = (f64::from(w[j * 3 + i]) + 2.0) / 5.0;
            let want = gmin + f * (gmax - gmin);
            assert!((f64::from(row[i]) - want).abs() < 1e-9, "{j},{i}");
        }
    }
    let total = |r: &Vec<f32>| r.iter().map(|&g| f64::from(g)).sum::<f64>();
    assert!((total(&rows[0]) - total(&rows[1])).abs() < 1e-9);
    let _ = std::fs::remove_dir_all(&dir);
}

fn memsnn(args: &[&str]) -> (i32, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_memsnn"))
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    (o.status.code().unwrap_or(-1), err)
}

#[test]
fn bad_files_fail_cleanly() {
    let dir = tmp("bad");
    let junk = dir.join("junk.nir");
    std::fs::write(&junk, b"not hdf5 at all").unwrap();
    let out = dir.join("o.ron");
    let (code, err) = memsnn(&[
        "nir",
        "import",
        junk.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("junk.nir") && err.contains("not a NIR file"),
        "{err}"
    );

    let good = dir.join("good.nir");
    memsnn::nir::file::write(&good, &foreign_graph(vec![1.0; 6], 3, 2)).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let cut = dir.join("cut.nir");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, err) = memsnn(&[
        "nir",
        "import",
        cut.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("cut.nir") && err.contains("not a readable NIR graph"),
        "{err}"
    );
    assert!(!out.exists());

    let (code, err) = memsnn(&[
        "nir",
        "export",
        "no/such.ron",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no/such.ron"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unsupported_nodes_are_named() {
    let dir = tmp("unsupported");
    let mut g = foreign_graph(vec![1.0; 6], 3, 2);
    g.insert_node(
        "gain",
        NirNode::Scale(Scale {
            scale: tensor(vec![2], vec![1.0, 1.0]),
            metadata: Default::default(),
        }),
    )
    .unwrap();
    g.edges
        .retain(|e| e != &("if".to_string(), "y".to_string()));
    g.add_edge("if", "gain");
    g.add_edge("gain", "y");
    let nir = dir.join("s.nir");
    memsnn::nir::file::write(&nir, &g).unwrap();
    let e = import(&nir, &dir.join("s.ron"), &ImportOptions::default()).unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("node `gain` is a `Scale`"), "{msg}");

    // A recurrent edge in a foreign graph is refused, naming the node.
    let mut g = foreign_graph(vec![1.0; 6], 3, 2);
    g.insert_node(
        "rec",
        NirNode::Affine(Affine {
            weight: tensor(vec![2, 2], vec![0.0, -1.0, -1.0, 0.0]),
            bias: tensor(vec![2], vec![0.0, 0.0]),
            metadata: Default::default(),
        }),
    )
    .unwrap();
    g.add_edge("if", "rec");
    g.add_edge("rec", "if");
    memsnn::nir::file::write(&nir, &g).unwrap();
    let e = import(&nir, &dir.join("s.ron"), &ImportOptions::default()).unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("node `if` has 2 incoming edges"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn device_set_chooses_the_neurons_and_bad_sets_are_located() {
    let dir = tmp("device-set");
    let nir = dir.join("f.nir");
    memsnn::nir::file::write(
        &nir,
        &foreign_graph(vec![1.0, 0.5, 0.0, 0.2, 0.4, 0.6], 3, 2),
    )
    .unwrap();
    let set = dir.join("set.ron");
    std::fs::write(
        &set,
        "(ts: \"builtin:ts_fig2\", synapse: \"builtin:rs_hfo2_1t1r\", circuit: \"builtin:neuron_cmos\")",
    )
    .unwrap();
    let out = dir.join("f.ron");
    let o = ImportOptions {
        device_set: Some(set.clone()),
    };
    import(&nir, &out, &o).unwrap();
    let model = Model::load(&out).unwrap();
    assert_eq!(model.topology().devices.ts, "builtin:ts_fig2");
    // IF: no leak, so the slowest calibrated leak (25 1/s), not ts_fig2's 1000 1/s.
    let ts = model.topology().layers[0].ts.clone().unwrap();
    let text = std::fs::read_to_string(dir.join(ts)).unwrap();
    assert!(text.contains("gamma1_per_s: 25.0"), "{text}");

    std::fs::write(&set, "(ts: \"builtin:no_such_device\", synapse: \"builtin:rs_hfo2_1t1r\",\n circuit: \"builtin:neuron_cmos\")").unwrap();
    let e = import(&nir, &dir.join("g.ron"), &o).unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("set.ron:1:") && msg.contains("no_such_device"),
        "{msg}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
