//! The embedding façade: `Model::load` → `session` → `run_protocol`, the same on every
//! executor; edits are checked again; saved weights restore bit for bit.

use runtime::model::topology::schema::Initial;
use runtime::{Error, ExecutorKind, Model};
use std::path::Path;

fn shipped(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../topologies")
        .join(name)
}

#[test]
fn a_session_gives_the_same_fires_on_every_executor() {
    let model = Model::load(shipped("fig3b.ron")).unwrap();
    let fires = |kind, workers| {
        let mut s = model.session(1, kind, workers).unwrap();
        let log = s.run_protocol().unwrap();
        (s.fires(), log.layers["neuron"].fires)
    };
    let (reference, counted) = fires(ExecutorKind::Reference, 1);
    // The fire records of the probed neuron are the fires the protocol log counts.
    assert!(!reference.is_empty());
    assert_eq!(reference.len() as u64, counted);
    assert!(reference.windows(2).all(|w| w[0].time_ns < w[1].time_ns));
    assert!(reference
        .iter()
        .all(|f| f.layer == "neuron" && f.neuron == 0));
    assert_eq!(fires(ExecutorKind::Sharded, 2).0, reference);
    assert_eq!(fires(ExecutorKind::Actix, 1).0, reference);
}

#[test]
fn an_edited_model_is_checked_again() {
    let model = Model::load(shipped("fig3b.ron")).unwrap();
    let err = model.edit(|t| t.layers[0].neurons = 0).unwrap_err();
    assert!(matches!(err, Error::Topology(_)), "{err}");
    assert!(err.to_string().contains("neurons"), "{err}");
}

#[test]
fn saved_weights_restore_bit_for_bit() {
    let model = Model::load(shipped("learning.ron")).unwrap();
    let mut trained = model.session(3, ExecutorKind::Reference, 1).unwrap();
    trained.run_protocol().unwrap();
    let file = std::env::temp_dir().join(format!("memsnn-session-{}.ron", std::process::id()));
    trained.save_weights(&file).unwrap();
    let restored = model
        .edit(|t| {
            for l in &mut t.layers {
                l.initial = Initial::Saved(file.display().to_string());
            }
        })
        .unwrap();
    let fresh = restored.session(3, ExecutorKind::Reference, 1).unwrap();
    let _ = std::fs::remove_file(&file);
    let (a, b) = (trained.weights(), fresh.weights());
    assert_eq!(a.layers.len(), b.layers.len());
    for (x, y) in a.layers.iter().zip(&b.layers) {
        assert_eq!(x.siemens, y.siemens, "layer {}", x.name);
    }
}
