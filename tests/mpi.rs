//! The MPI executor through the command line, as users run it: `mpirun -np R memsnn run
//! FILE --executor mpi` must write byte for byte what the reference executor writes, a
//! failure on any rank must end every rank with one message and status 1, and `bench`
//! must report the rounds. Built only with the `mpi` feature; needs `mpirun` (Debian:
//! openmpi-bin) on the PATH.

mod long_msnn;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_memsnn");

fn topology(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("topologies")
        .join(rel)
}

/// `mpirun` with the flags a CI container needs (root, more ranks than cores).
fn mpirun(np: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.args([
        "--allow-run-as-root",
        "--oversubscribe",
        "-np",
        &np.to_string(),
    ]);
    c
}

/// Runs `cmd`, failing the test (rather than hanging it) after two minutes.
fn output(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .expect("mpirun starts (install openmpi-bin to run these tests)");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let t0 = Instant::now();
    match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(out) => out.expect("the command ran"),
        Err(_) => {
            let _ = Command::new("kill").arg(id.to_string()).status();
            panic!("no answer after {:?}: a rank hangs", t0.elapsed());
        }
    }
}

/// Runs `file` on the reference executor (one process) and under `mpirun -np ranks`
/// with `per_rank` worker threads on each rank, and compares every output byte for byte.
fn same_outputs(file: &Path, ranks: usize, per_rank: usize) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let run = |cmd: &mut Command, tag: &str| {
        cmd.arg(BIN)
            .arg("run")
            .arg(file)
            .arg("--out")
            .arg(tmp.path().join(tag))
            .arg("--save-weights")
            .arg(tmp.path().join(format!("{tag}.weights.ron")));
    };
    let mut reference = Command::new(BIN);
    reference
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(tmp.path().join("ref"))
        .arg("--save-weights")
        .arg(tmp.path().join("ref.weights.ron"));
    let r = output(reference);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut m = mpirun(ranks);
    run(&mut m, "mpi");
    m.args([
        "--executor",
        "mpi",
        "--workers-per-rank",
        &per_rank.to_string(),
    ]);
    let o = output(m);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["ref/probes.csv", "ref/log.json", "ref.weights.ron"] {
        let a = std::fs::read(tmp.path().join(f)).expect("reference output");
        let b = std::fs::read(tmp.path().join(f.replace("ref", "mpi"))).expect("mpi output");
        assert!(!a.is_empty(), "{f} is empty");
        assert!(
            a == b,
            "{}: {f} differs under mpirun -np {ranks} with {per_rank} workers per rank",
            file.display()
        );
    }
    // Only rank 0 prints its report: one "wrote" line, not one per rank.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.matches("wrote ").count(), 1, "{stderr}");
}

#[test]
fn two_ranks_write_what_the_reference_writes() {
    same_outputs(&topology("msnn_30x10x10.ron"), 2, 1);
    same_outputs(&topology("wta_ff/784x400.ron"), 2, 1);
}

#[test]
fn four_ranks_write_what_the_reference_writes() {
    same_outputs(&topology("msnn_30x10x10.ron"), 4, 1);
}

#[test]
fn worker_threads_inside_ranks_write_what_the_reference_writes() {
    same_outputs(&topology("msnn_30x10x10.ron"), 2, 3);
    same_outputs(&topology("wta_ff/784x400.ron"), 2, 2);
}

/// `mpirun` MPMD syntax: rank 0 runs `a`, rank 1 runs `b`.
fn two_programs(a: &[&str], b: &[&str]) -> Output {
    let mut c = mpirun(1);
    c.arg(BIN)
        .args(a)
        .arg(":")
        .args(["-np", "1"])
        .arg(BIN)
        .args(b);
    output(c)
}

fn errors(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("error"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_rank_that_cannot_read_its_input_ends_the_job_with_one_message() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let good = topology("msnn_30x10x10.ron");
    let missing = tmp.path().join("missing.ron");
    let out = tmp.path().join("out");
    let args = |file: &Path| {
        vec![
            "run".to_string(),
            file.display().to_string(),
            "--executor".into(),
            "mpi".into(),
            "--out".into(),
            out.display().to_string(),
        ]
    };
    let a = args(&good);
    let b = args(&missing);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let o = two_programs(&a, &b);
    assert_eq!(o.status.code(), Some(1));
    let e = errors(&o);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("error (rank 1 of 2)"), "{e:?}");
    assert!(e[0].contains("missing.ron"), "{e:?}");
    assert!(!out.exists(), "nothing is written when a rank fails");
}

#[test]
fn a_topology_that_fails_validation_is_reported_once_at_its_line() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let bad = tmp.path().join("bad.ron");
    std::fs::write(&bad, "(name: \"x\", inputs: [oops])").expect("write");
    let mut m = mpirun(2);
    m.arg(BIN)
        .arg("run")
        .arg(&bad)
        .args(["--executor", "mpi", "--out"])
        .arg(tmp.path().join("out"));
    let o = output(m);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(errors(&o).len(), 1, "{stderr}");
    assert!(stderr.contains("bad.ron:1:22"), "{stderr}");
}

/// Runs `run FILE --executor mpi` on two ranks, rank 0 with `a`, rank 1 with `b`; the
/// job must end with one message naming rank 1.
fn refused_as_different(a: &[&str], b: &[&str]) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("out").display().to_string();
    let with = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["run".into()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["--executor", "mpi", "--out"].map(String::from));
        v.push(out.clone());
        v
    };
    let (a, b) = (with(a), with(b));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    let r = two_programs(&a, &b);
    assert_eq!(r.status.code(), Some(1));
    let e = errors(&r);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("rank 1 built another network"), "{e:?}");
}

#[test]
fn ranks_that_built_different_networks_are_refused() {
    let file = topology("msnn_30x10x10.ron").display().to_string();
    // Another seed: other devices.
    refused_as_different(&[&file], &[&file, "--seed", "2"]);
    // Another protocol, the same network: the ranks would run different steps.
    let tmp = tempfile::tempdir().expect("temp dir");
    let devices = topology("devices").display().to_string();
    let text = std::fs::read_to_string(topology("wta_ff/30x10.ron"))
        .expect("shipped topology")
        .replace("\"../devices/", &format!("\"{devices}/"));
    let shorter = text.replace("duration_us: 100000", "duration_us: 90000");
    assert_ne!(text, shorter, "the protocol has a duration to change");
    let (a, b) = (tmp.path().join("a.ron"), tmp.path().join("b.ron"));
    std::fs::write(&a, &text).expect("write");
    std::fs::write(&b, &shorter).expect("write");
    let (a, b) = (a.display().to_string(), b.display().to_string());
    refused_as_different(&[&a], &[&b]);
}

/// The one JSON record `memsnn bench --size 30x10 --reps 1 EXTRA` prints, started by
/// `cmd` (`env` for one process, `mpirun` for ranks).
fn bench_record(mut cmd: Command, extra: &[&str]) -> serde_json::Value {
    cmd.arg(BIN)
        .args(["bench", "--size", "30x10", "--reps", "1"])
        .args(extra);
    let o = output(cmd);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one record, from rank 0 only: {text}");
    serde_json::from_str(lines[0]).expect("a JSON record")
}

#[test]
fn bench_under_mpi_reports_ranks_and_rounds_and_counts_what_the_reference_counts() {
    let reference = bench_record(Command::new("env"), &[]);
    let mpi = bench_record(mpirun(2), &["--executor", "mpi", "--workers", "2"]);
    assert_eq!(mpi["mode"], "mpi");
    assert_eq!(mpi["threads"], 4, "2 ranks × 2 workers");
    assert!(mpi["rounds"].as_u64().unwrap_or(0) > 0, "{mpi}");
    assert!(
        mpi["bytes_per_round"].as_f64().unwrap_or(0.0) > 0.0,
        "{mpi}"
    );
    for key in ["component_events", "synaptic_events", "spikes_out"] {
        assert_eq!(mpi[key], reference[key], "{key}");
    }
}

/// `memsnn run FILE --out DIR/TAG --save-weights DIR/TAG.weights.ron ARGS...` on `cmd`
/// (`env` for one process, `mpirun` for ranks).
fn run_into(mut cmd: Command, file: &Path, dir: &Path, tag: &str, args: &[&str]) -> Command {
    cmd.arg(BIN)
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(dir.join(tag))
        .arg("--save-weights")
        .arg(dir.join(format!("{tag}.weights.ron")))
        .args(args);
    cmd
}

fn outputs_of(dir: &Path, tag: &str) -> Vec<Vec<u8>> {
    [
        dir.join(tag).join("probes.csv"),
        dir.join(tag).join("log.json"),
        dir.join(format!("{tag}.weights.ron")),
    ]
    .iter()
    .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
    .collect()
}

/// A run under `mpirun -np 2` that keeps checkpoints, stopped (SIGTERM to mpirun) once one
/// exists, resumes to the uninterrupted run's bytes under MPI at 2 and 4 ranks and on the
/// reference executor; the checkpoint is written by rank 0 alone, where the command names
/// it, and removed once the result is in place.
#[test]
fn a_run_stopped_after_a_checkpoint_resumes_to_the_same_bytes_on_ranks_or_one_process() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let file = long_msnn::long_msnn(dir, 150, "amplitude_volts: 1.6");
    let plain = output(run_into(Command::new("env"), &file, dir, "plain", &[]));
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let want = outputs_of(dir, "plain");
    // Interrupted once; each resume starts from a copy of that checkpoint.
    let kept = dir.join("kept.checkpoint");
    let state = kept.join("state.bin");
    let mut child = run_into(
        mpirun(2),
        &file,
        dir,
        "stopped",
        &[
            "--executor",
            "mpi",
            "--checkpoint-every-ms",
            "0",
            "--checkpoint-dir",
        ],
    )
    .arg(&kept)
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("mpirun starts");
    let t0 = Instant::now();
    while !state.exists() {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "no checkpoint after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(20));
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let exit = child.wait().expect("mpirun ends");
    assert!(!exit.success(), "the run finished before it was stopped");
    assert!(!dir.join("stopped").exists(), "no result of a stopped run");
    let resumes: [(&str, Command, &[&str]); 3] = [
        ("mpi2", mpirun(2), &["--executor", "mpi"]),
        (
            "mpi4",
            mpirun(4),
            &["--executor", "mpi", "--workers-per-rank", "2"],
        ),
        ("reference", Command::new("env"), &[]),
    ];
    for (tag, cmd, args) in resumes {
        let at = dir.join(format!("{tag}.checkpoint"));
        copy_dir(&kept, &at);
        let mut args = args.to_vec();
        let at_text = at.display().to_string();
        args.extend(["--resume", "--checkpoint-dir", &at_text]);
        let o = output(run_into(cmd, &file, dir, tag, &args));
        assert!(
            o.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            outputs_of(dir, tag) == want,
            "{tag}: the resumed run differs"
        );
        assert!(
            !at.exists(),
            "{tag}: the checkpoint is removed with the result in place"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("temp dir writable");
    for entry in std::fs::read_dir(from).expect("checkpoint folder") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

/// `memsnn reproduce mnist --executor mpi` on 2 ranks learns and answers as on the
/// reference executor: the same predictions, neuron table and accuracy curve (only the
/// measured speeds in summary.json differ).
#[test]
fn the_mnist_experiment_on_ranks_gives_the_reference_results() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let reproduce = |mut cmd: Command, tag: &str, args: &[&str]| {
        cmd.arg(BIN)
            .args([
                "reproduce",
                "mnist",
                "--train",
                "30",
                "--test",
                "15",
                "--out",
            ])
            .arg(tmp.path().join(tag))
            .args(args);
        let o = output(cmd);
        assert!(
            o.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    reproduce(Command::new("env"), "ref", &[]);
    reproduce(mpirun(2), "mpi", &["--executor", "mpi"]);
    for f in ["test_predictions.csv", "neurons.csv", "accuracy_curve.csv"] {
        let read = |tag: &str| {
            let p = tmp.path().join(tag).join("mnist").join(f);
            std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        };
        let want = read("ref");
        assert!(!want.is_empty(), "{f} is empty");
        assert!(read("mpi") == want, "{f} differs on 2 ranks");
    }
}
