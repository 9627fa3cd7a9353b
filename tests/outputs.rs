//! Output folders are replaced whole: after a crash at any instant (a `kill -9` of a child
//! `memsnn run`, an uncommitted folder dropped, leftovers of a dead process) the target is
//! the complete earlier result or the complete new one, and its manifest matches it.
//!
//! A full disk is not tested here (it needs a size-limited file system); a write that fails
//! there fails before the commit, which is the path `an_uncommitted_folder_*` takes.

use memsnn::output::{clean_stale, ExperimentDir, Leftover, Manifest, MANIFEST};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fresh_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("memsnn-outputs-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// The shipped one-neuron learning topology, run for `seconds` with every signal probed
/// (a large `probes.csv`, so that a kill often lands while it is written).
fn long_learning(dir: &Path, seconds: u64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let text = fs::read_to_string(root.join("learning.ron")).unwrap();
    let patterns = root.join("patterns/pair_1x2.ron");
    let edited = text
        .replace(
            "\"patterns/pair_1x2.ron\"",
            &format!("{:?}", patterns.display().to_string()),
        )
        .replace(
            "duration_us: 300000",
            &format!("duration_us: {}", seconds * 1_000_000),
        )
        .replace(
            "signals: [Spikes, Conductances]",
            "signals: [Spikes, Node, Conductances]",
        );
    assert_ne!(text, edited);
    let path = dir.join("long.ron");
    fs::write(&path, edited).unwrap();
    path
}

fn memsnn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_memsnn"))
}

fn run_to(topology: &Path, seed: u64, out: &Path) {
    let status = memsnn()
        .arg("run")
        .arg(topology)
        .args(["--seed", &seed.to_string(), "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The files of a result folder, by name.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .filter(|(n, _)| n != MANIFEST)
        .collect();
    v.sort();
    v
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// `kill -9` of `memsnn run` at moments spread over a run, densest where it writes: the
/// folder is always one seed's complete result (probes and log from the same run), its
/// manifest matches, and the next run cleans every leftover.
#[test]
fn a_killed_run_leaves_the_earlier_or_the_new_result_whole() {
    let dir = fresh_dir("kill");
    let topo = long_learning(&dir, 5);
    // The two complete results, each from an uninterrupted run.
    let expected: Vec<Vec<(String, Vec<u8>)>> = [1, 2]
        .iter()
        .map(|&seed| {
            let out = dir.join(format!("seed{seed}"));
            run_to(&topo, seed, &out);
            Manifest::read(&out).unwrap().verify(&out).unwrap();
            contents(&out)
        })
        .collect();
    assert_ne!(expected[0], expected[1]);
    let target = dir.join("run");
    let started = Instant::now();
    run_to(&topo, 1, &target);
    let full = started.elapsed();
    // Kill moments as fractions of a full run: a few early, most near the end (writing),
    // some late enough for the run to have finished (how a run's time varies on a busy
    // machine decides which moments land where; the invariant must hold at every one).
    let fractions = [
        0.1, 0.5, 0.8, 0.85, 0.9, 0.93, 0.96, 1.0, 1.03, 1.06, 1.1, 1.2, 1.4, 2.0,
    ];
    let mut seen = [0usize; 2];
    for (i, f) in fractions.iter().enumerate() {
        let seed = 2 - (i as u64 % 2);
        let mut child = memsnn()
            .arg("run")
            .arg(&topo)
            .args(["--seed", &seed.to_string(), "--out"])
            .arg(&target)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs_f64(full.as_secs_f64() * f));
        let _ = child.kill(); // SIGKILL on Unix
        child.wait().unwrap();
        let manifest =
            Manifest::read(&target).unwrap_or_else(|e| panic!("kill {i} at {f} of a run: {e:#}"));
        manifest
            .verify(&target)
            .unwrap_or_else(|e| panic!("kill {i} at {f} of a run: {e:#}"));
        let now = contents(&target);
        let which = expected
            .iter()
            .position(|e| *e == now)
            .unwrap_or_else(|| panic!("kill {i} at {f}: a folder mixing two results"));
        seen[which] += 1;
    }
    // A complete run cleans what the killed ones left (their processes are gone).
    run_to(&topo, 2, &target);
    assert_eq!(contents(&target), expected[1]);
    assert_eq!(leftovers(&dir), Vec::<String>::new());
    eprintln!(
        "after the kills: seed 1 result {} times, seed 2 {}",
        seen[0], seen[1]
    );
    fs::remove_dir_all(&dir).ok();
}

/// An id of a process that no longer exists.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

#[test]
fn an_uncommitted_folder_leaves_the_target_as_it_was() {
    let dir = fresh_dir("drop");
    let first = ExperimentDir::create(&dir, "e").unwrap();
    first.write_text("a.txt", "first").unwrap();
    let at = first.commit().unwrap();
    let second = ExperimentDir::create(&dir, "e").unwrap();
    second.write_text("a.txt", "second").unwrap();
    second.write_text("b.txt", "only in the second").unwrap();
    drop(second); // an error or a panic before the commit
    assert_eq!(fs::read_to_string(at.join("a.txt")).unwrap(), "first");
    assert!(!at.join("b.txt").exists());
    Manifest::read(&at).unwrap().verify(&at).unwrap();
    assert_eq!(leftovers(&dir), Vec::<String>::new());
    // Committed, the second replaces the first whole: no file of the first survives.
    let third = ExperimentDir::create(&dir, "e").unwrap();
    third.write_text("c.txt", "third").unwrap();
    third.commit().unwrap();
    let names: Vec<String> = contents(&at).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["c.txt"]);
    fs::remove_dir_all(&dir).ok();
}

/// Leftovers of a dead process are removed, an earlier result it had moved aside is moved
/// back, and those of a running process are left alone and reported.
#[test]
fn leftovers_of_a_crash_are_cleaned_or_reported() {
    let dir = fresh_dir("stale");
    let pid = dead_pid();
    let staging = dir.join(format!(".run.tmp-{pid}-0"));
    fs::create_dir(&staging).unwrap();
    fs::write(staging.join("probes.csv"), "half").unwrap();
    let old = dir.join(format!(".run.old-{pid}-1"));
    fs::create_dir(&old).unwrap();
    fs::write(old.join("probes.csv"), "earlier").unwrap();
    let file = dir.join(format!(".w.ron.tmp-{pid}-2"));
    fs::write(&file, "half").unwrap();
    // Process 1 always runs.
    let busy = dir.join(".x.csv.tmp-1-0");
    fs::write(&busy, "").unwrap();
    let mut done = clean_stale(&dir);
    done.sort_by_key(|l| format!("{l:?}"));
    assert_eq!(
        done,
        vec![
            Leftover::InUse(busy.clone(), 1),
            Leftover::Removed(staging.clone()),
            Leftover::Removed(file.clone()),
            Leftover::Restored(old.clone(), dir.join("run")),
        ]
    );
    assert_eq!(
        fs::read_to_string(dir.join("run/probes.csv")).unwrap(),
        "earlier"
    );
    assert!(busy.exists());
    fs::remove_dir_all(&dir).ok();
}

/// A folder that is not an earlier output is never replaced, and the refusal comes before
/// the run.
#[test]
fn a_folder_of_other_files_is_not_replaced() {
    let dir = fresh_dir("foreign");
    let target = dir.join("mine");
    fs::create_dir_all(target.join("src")).unwrap();
    fs::write(target.join("notes.md"), "keep").unwrap();
    let e = ExperimentDir::create(&dir, "mine").unwrap_err();
    let msg = format!("{e:#}");
    assert!(msg.contains("not a memsnn output folder"), "{msg}");
    assert_eq!(fs::read_to_string(target.join("notes.md")).unwrap(), "keep");
    fs::remove_dir_all(&dir).ok();
}

/// A `--plot` that cannot be written is found before the run: nothing changes, neither the
/// earlier folder nor the weights file.
#[test]
fn a_bad_plot_path_fails_before_the_run_and_changes_nothing() {
    let dir = fresh_dir("plot");
    let topo = long_learning(&dir, 1);
    let out = dir.join("run");
    let weights = dir.join("w.ron");
    run_to(&topo, 1, &out);
    fs::write(&weights, "earlier weights").unwrap();
    let before = contents(&out);
    let blocker = dir.join("file");
    fs::write(&blocker, "").unwrap();
    for plot in [blocker.join("p.png"), dir.join("p.svg")] {
        let o = memsnn()
            .arg("run")
            .arg(&topo)
            .args(["--seed", "2", "--out"])
            .arg(&out)
            .arg("--save-weights")
            .arg(&weights)
            .arg("--plot")
            .arg(&plot)
            .output()
            .unwrap();
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("--plot"), "{err}");
        assert!(o.stdout.is_empty(), "it ran: {err}");
        assert_eq!(contents(&out), before);
        assert_eq!(fs::read_to_string(&weights).unwrap(), "earlier weights");
    }
    assert_eq!(
        leftovers(&dir),
        Vec::<String>::new(),
        "no temporary file left"
    );
    fs::remove_dir_all(&dir).ok();
}
