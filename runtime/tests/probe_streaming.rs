//! Probe records streamed to disk while a protocol runs give the same CSV, byte for byte,
//! as keeping them all in memory and sorting them, on every executor; probed components
//! record only the kinds asked for.

use runtime::engine::probe::Probe;
use runtime::{ExecutorKind, Model};
use std::path::{Path, PathBuf};

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../topologies")
        .join(name)
}

fn scratch(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("memsnn-stream-{tag}-{}", std::process::id()))
}

/// The probe CSV of one run: in memory (`run_records` = None) or streamed.
fn csv(model: &Model, kind: ExecutorKind, workers: usize, run_records: Option<usize>) -> Vec<u8> {
    let mut s = model.session(1, kind, workers).unwrap();
    let dir = scratch(&format!("{kind:?}-{workers}-{run_records:?}"));
    if let Some(n) = run_records {
        s.stream_probes_with(&dir, n).unwrap();
    }
    s.run_protocol().unwrap();
    let mut out = Vec::new();
    s.write_probes_csv(&mut out).unwrap();
    drop(s);
    assert!(!dir.exists(), "the spool is removed with its session");
    out
}

/// The one-neuron learning topology (1,500 records: spikes and conductances): streamed in
/// runs of 7 records (over 200 runs, so they are also merged when there are too many), the
/// CSV equals the in-memory one, on each executor.
#[test]
fn streamed_probes_are_the_in_memory_csv_on_every_executor() {
    let model = Model::load(shipped("learning.ron")).unwrap();
    let want = csv(&model, ExecutorKind::Reference, 1, None);
    assert!(want.iter().filter(|&&b| b == b'\n').count() > 1000);
    for (kind, workers) in [
        (ExecutorKind::Reference, 1),
        (ExecutorKind::Sharded, 2),
        (ExecutorKind::Actix, 2),
    ] {
        for run in [7, 1 << 16] {
            assert!(
                csv(&model, kind, workers, Some(run)) == want,
                "{kind:?} with {workers} workers, runs of {run}: the CSV differs"
            );
        }
    }
}

/// A layer probed for spikes only: its neurons record only fires and spikes, at the
/// source (the executor's network says so), not everything they know.
#[test]
fn probed_components_record_only_the_kinds_asked_for() {
    let model = Model::load(shipped("msnn_30x10x10.ron")).unwrap();
    let mut s = model.session(1, ExecutorKind::Reference, 1).unwrap();
    let hidden = s.layers()["hidden"].neurons.clone();
    for id in hidden {
        match &s.network().probed[id as usize] {
            Probe::Kinds(k) => assert_eq!(k, &["fire", "spike"]),
            other => panic!("hidden neuron {id}: {other:?}"),
        }
    }
    s.run_protocol().unwrap();
    let kinds: std::collections::BTreeSet<&str> = s.records().iter().map(|r| r.kind).collect();
    assert!(
        kinds
            .iter()
            .all(|k| ["fire", "spike", "gate", "g"].contains(k)),
        "{kinds:?}"
    );
}
