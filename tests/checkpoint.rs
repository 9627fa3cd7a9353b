//! Checkpoint and resume: a run interrupted after a checkpoint and resumed — by a
//! `kill -9` of a child `memsnn run`, or in process at a chosen step — gives the
//! uninterrupted run's `probes.csv`, `log.json` and weights byte for byte, on every
//! executor, including a resume under another executor than the one that wrote the
//! checkpoint; a bad checkpoint is refused with a message naming its file, exit status 1.
//!
//! The expected outputs are those of an uninterrupted run without checkpoints: resuming
//! must not change a single byte of them.

mod long_msnn;

use long_msnn::{long_msnn, topologies, with_absolute_patterns};
use runtime::model::checkpoint::STATE_FILE;
use runtime::{ExecutorKind, Model};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn fresh_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memsnn-checkpoint-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn memsnn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memsnn"))
}

/// `memsnn run TOPOLOGY --out OUT --save-weights OUT/W.ron --executor E ARGS...`.
fn run_cmd(topology: &Path, out: &Path, executor: &str, args: &[&str]) -> Command {
    let mut c = memsnn();
    c.arg("run")
        .arg(topology)
        .arg("--out")
        .arg(out)
        .arg("--save-weights")
        .arg(out.join("W.ron"))
        .args(["--executor", executor])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// The three outputs compared, by name.
fn outputs(out: &Path) -> Vec<(&'static str, Vec<u8>)> {
    ["probes.csv", "log.json", "W.ron"]
        .into_iter()
        .map(|f| {
            let bytes = fs::read(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            (f, bytes)
        })
        .collect()
}

fn checkpoint_of(out: &Path) -> PathBuf {
    let name = out.file_name().unwrap().to_string_lossy();
    out.with_file_name(format!(".{name}.checkpoint"))
}

fn assert_same(what: &str, got: &[(&str, Vec<u8>)], want: &[(&str, Vec<u8>)]) {
    for ((name, g), (_, w)) in got.iter().zip(want) {
        assert!(
            g == w,
            "{what}: {name} differs from the uninterrupted run ({} vs {} bytes)",
            g.len(),
            w.len()
        );
    }
}

/// `kill -9` of a run that keeps checkpoints, once one exists; `--resume` (under another
/// executor) gives the uninterrupted run's outputs, and removes the checkpoint.
#[test]
fn a_run_killed_after_a_checkpoint_resumes_to_the_same_bytes_on_every_executor() {
    let dir = fresh_dir("kill");
    let topo = long_msnn(&dir, 150, "amplitude_volts: 1.6");
    let plain = dir.join("plain");
    let status = run_cmd(&topo, &plain, "reference", &[]).status().unwrap();
    assert!(status.success());
    let want = outputs(&plain);
    assert!(want[0].1.len() > 1_000_000, "a long probes.csv");
    // (written by, resumed by)
    let pairs = [
        ("reference", "reference"),
        ("sharded", "sharded"),
        ("actix", "actix"),
        ("reference", "sharded"),
        ("sharded", "actix"),
        ("actix", "reference"),
    ];
    for (writer, resumer) in pairs {
        let what = format!("written by {writer}, resumed by {resumer}");
        let out = dir.join(format!("{writer}-{resumer}"));
        let state = checkpoint_of(&out).join(STATE_FILE);
        let mut child = run_cmd(&topo, &out, writer, &["--checkpoint-every-ms", "0"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Poll for the first checkpoint, then kill: the run is in the middle (hundreds of
        // steps are left).
        let mut finished = false;
        while !state.exists() {
            if child.try_wait().unwrap().is_some() {
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            !finished,
            "{what}: the run ended before its first checkpoint"
        );
        std::thread::sleep(Duration::from_millis(100));
        let _ = child.kill(); // SIGKILL on Unix
        let exit = child.wait().unwrap();
        assert!(!exit.success(), "{what}: the run finished before the kill");
        assert!(!out.exists(), "{what}: no result yet");
        let resumed = run_cmd(&topo, &out, resumer, &["--resume"])
            .output()
            .unwrap();
        assert!(
            resumed.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&resumed.stderr)
        );
        assert_same(&what, &outputs(&out), &want);
        assert!(
            !checkpoint_of(&out).exists(),
            "{what}: the checkpoint is removed once the result is in place"
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

/// In process, deterministically: a checkpoint after step `k` (for several `k`), the run
/// abandoned there, and a resume on each executor give the uninterrupted probes, log and
/// conductances.
#[test]
fn a_checkpoint_after_any_step_resumes_to_the_same_run() {
    let dir = fresh_dir("steps");
    let model = Model::load(topologies().join("msnn_30x10x10.ron")).unwrap();
    resumes_after_any_step(&model, &dir);
}

/// The same with Bernoulli-gated inputs: a new pattern every CLK period, whose driven
/// lines the columns share with the input generator rather than own, so a checkpoint
/// taken between any two periods must restore them.
#[test]
fn a_checkpoint_of_gated_inputs_resumes_to_the_same_run() {
    let dir = fresh_dir("gated");
    let text = fs::read_to_string(topologies().join("msnn_30x10x10.ron")).unwrap();
    let gated = with_absolute_patterns(&text).replace(
        "(name: \"pixels\", lines: 30, amplitude_volts: 1.6)",
        "(name: \"pixels\", lines: 30, amplitude_volts: 1.6, pulse_prob: 0.5)",
    );
    assert!(gated.contains("pulse_prob: 0.5"));
    let path = dir.join("gated.ron");
    fs::write(&path, gated).unwrap();
    let model = Model::load(&path).unwrap();
    resumes_after_any_step(&model, &dir);
}

/// Checkpoints after steps 1, 4, the middle and the last but one, each written by one
/// executor and resumed by another, give the uninterrupted run's probes, log, weights and
/// energy.
fn resumes_after_any_step(model: &Model, dir: &Path) {
    let steps = model.topology().protocol.len();
    let run_all = |session: &mut runtime::Session| {
        let log = session.run_protocol().unwrap();
        let mut csv = Vec::new();
        session.write_probes_csv(&mut csv).unwrap();
        let log = serde_json::to_string(&log).unwrap();
        let weights = session.weights().to_ron().unwrap();
        (csv, log, weights, format!("{:?}", session.energy()))
    };
    let mut plain = model.session(3, ExecutorKind::Reference, 1).unwrap();
    plain.stream_probes(&dir.join("spool-plain")).unwrap();
    let want = run_all(&mut plain);
    assert!(!want.0.is_empty());
    let kinds = [
        ExecutorKind::Reference,
        ExecutorKind::Sharded,
        ExecutorKind::Actix,
    ];
    for (i, k) in [1, 4, steps / 2, steps - 2].into_iter().enumerate() {
        let writer = kinds[i % 3];
        let resumer = kinds[(i + 1) % 3];
        let ck = dir.join(format!("ck-{k}"));
        let mut first = model.session(3, writer, 2).unwrap();
        first
            .stream_probes(&dir.join(format!("spool-a-{k}")))
            .unwrap();
        let mut done = 0;
        let stop = first.run_protocol_between(
            |_| {},
            |s| {
                done += 1;
                if done == k {
                    s.write_checkpoint(&ck)?;
                    return Err(runtime::Error::Write {
                        path: ck.clone(),
                        message: "stopped here by the test".into(),
                    });
                }
                Ok(())
            },
        );
        assert!(
            stop.is_err(),
            "step {k}: the run stops after the checkpoint"
        );
        drop(first);
        let spool = dir.join(format!("spool-b-{k}"));
        let mut resumed = model.resume(&ck, 3, resumer, 2, &spool).unwrap();
        let got = run_all(&mut resumed);
        let what = format!("checkpoint after step {k} by {writer}, resumed by {resumer}");
        assert!(got.0 == want.0, "{what}: probes differ");
        assert_eq!(got.1, want.1, "{what}: log");
        assert_eq!(got.2, want.2, "{what}: weights");
        assert_eq!(got.3, want.3, "{what}: energy");
    }
    let _ = fs::remove_dir_all(dir);
}

/// Resuming from a bad checkpoint fails with exit status 1 and a message naming
/// `state.bin` and what is wrong — never a panic, never a run.
#[test]
fn bad_checkpoints_are_refused_with_their_file_named() {
    let dir = fresh_dir("bad");
    let topo = topologies().join("msnn_30x10x10.ron");
    let model = Model::load(&topo).unwrap();
    let out = dir.join("run");
    let ck = checkpoint_of(&out);
    // A good checkpoint after the first step, written through the library.
    let mut s = model.session(1, ExecutorKind::Reference, 1).unwrap();
    s.stream_probes(&dir.join("spool")).unwrap();
    let mut written = false;
    let _ = s.run_protocol_between(
        |_| {},
        |s| {
            if !written {
                s.write_checkpoint(&ck)?;
                written = true;
            }
            Err(runtime::Error::Write {
                path: ck.clone(),
                message: "stopped".into(),
            })
        },
    );
    drop(s);
    let good = fs::read(ck.join(STATE_FILE)).unwrap();
    // A topology differing from it in one amplitude.
    let other = dir.join("other.ron");
    let text = with_absolute_patterns(&fs::read_to_string(&topo).unwrap());
    fs::write(
        &other,
        text.replace("amplitude_volts: 1.6", "amplitude_volts: 1.5"),
    )
    .unwrap();
    let mut wrong_version = good.clone();
    wrong_version[16] ^= 0x7f;
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let cases: Vec<(&str, Vec<u8>, &Path, &str, &str)> = vec![
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            &topo,
            "1",
            "truncated",
        ),
        ("empty", Vec::new(), &topo, "1", "not a memsnn checkpoint"),
        ("wrong version", wrong_version, &topo, "1", "format version"),
        ("altered", flipped, &topo, "1", "SHA-256"),
        ("another topology", good.clone(), &other, "1", "differs"),
        ("another seed", good.clone(), &topo, "2", "--seed 1"),
    ];
    for (what, bytes, topology, seed, says) in cases {
        fs::write(ck.join(STATE_FILE), &bytes).unwrap();
        let r = memsnn()
            .arg("run")
            .arg(topology)
            .args(["--seed", seed, "--resume", "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{what}: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(
            err.contains(&ck.join(STATE_FILE).display().to_string()) && err.contains(says),
            "{what}: the message names the file and says `{says}`: {err}"
        );
        assert!(!out.exists(), "{what}: nothing written");
    }
    // No checkpoint at all.
    fs::remove_dir_all(&ck).unwrap();
    let r = memsnn()
        .arg("run")
        .arg(&topo)
        .args(["--resume", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("no checkpoint"), "{err}");
    // None in the folder `--checkpoint-dir` names: the message names that folder.
    let elsewhere = dir.join("elsewhere");
    let r = memsnn()
        .arg("run")
        .arg(&topo)
        .args(["--resume", "--out"])
        .arg(&out)
        .arg("--checkpoint-dir")
        .arg(&elsewhere)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&elsewhere.display().to_string()) && err.contains("--checkpoint-dir"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
    let _ = fs::remove_dir_all(&dir);
}
