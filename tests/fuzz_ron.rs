//! A mutation fuzzer over the shipped RON files: byte replacements, truncations, deleted
//! and repeated spans, swapped tokens and replaced numbers, each checked with the same
//! loaders `memsnn validate` and `reproduce fig5 --protocol` use. No input may panic, and
//! every rejection must name a `FILE.ron:LINE:COL`.
//!
//! `cargo test --release --test fuzz_ron` runs a fixed number of cases (CI);
//! `MEMSNN_FUZZ_CASES=1000000 cargo test --release --test fuzz_ron -- --nocapture` the long
//! mode. Inputs that once failed are kept in `tests/fuzz_corpus/` (`NAME.ron` replaces the
//! shipped file of that name, wherever it is) and run every time.
//!
//! Mutations keep the text valid UTF-8 (bytes are replaced by printable ASCII): what a
//! non-UTF-8 file gives is a separate check. The topology is loaded and checked, not built
//! (building is what the memory budget guards, before it).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Cases of the default (CI) run.
const CI_CASES: u32 = 20_000;

/// Replacement numbers: bounds, overflow, zero, negative, non-finite, subnormal.
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "-0.0",
    "1e308",
    "1e309",
    "-1e308",
    "NaN",
    "inf",
    "1e-320",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "0.0000001",
    "2",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies")
}

/// Every `.ron` file under `dir`, relative to it, sorted.
fn ron_files(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir.join(rel))
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            ron_files(dir, &r, out);
        } else if r.extension().is_some_and(|x| x == "ron") {
            out.push(r);
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (f, t) = (e.path(), to.join(e.file_name()));
        if e.file_type().unwrap().is_dir() {
            copy_tree(&f, &t);
        } else {
            fs::copy(&f, &t).unwrap();
        }
    }
}

/// How a file is checked, by where it lives.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// A topology: `runtime::model::topology::load`.
    Topology,
    /// A fig5 protocol: `load_protocol` (and the topology it names).
    Protocol,
    /// Read through the topologies that name it (patterns).
    Named,
    /// A device or circuit file: loaded as its type (by its name's prefix), and through
    /// the topologies that name it.
    Device,
    /// The MNIST protocol: `mnist::load_protocol` (the topology it names is checked when
    /// it is built, not here).
    MnistProtocol,
}

fn role(rel: &Path) -> Option<Role> {
    let s = rel.to_string_lossy();
    if s.starts_with("experiments/fig5") {
        Some(Role::Protocol)
    } else if s == "experiments/mnist.ron" {
        Some(Role::MnistProtocol)
    } else if s.starts_with("patterns/") {
        Some(Role::Named)
    } else if s.starts_with("devices/") {
        device_loader(rel).map(|_| Role::Device)
    } else if s.starts_with("experiments/") {
        None
    } else {
        Some(Role::Topology)
    }
}

/// One mutation of a file's text.
#[derive(Clone, Debug)]
enum Mutation {
    /// Replace the byte at (fraction of the length) with this printable ASCII byte.
    Byte(f64, u8),
    /// Cut the file at (fraction).
    Truncate(f64),
    /// Delete `len` bytes at (fraction).
    Delete(f64, usize),
    /// Repeat `len` bytes at (fraction) `times` times.
    Repeat(f64, usize, usize),
    /// Swap the tokens at two fractions.
    Swap(f64, f64),
    /// Replace the number at (fraction of the count of numbers) by `NUMBERS[i]`.
    Number(f64, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let f = 0.0..1.0f64;
    prop_oneof![
        (f.clone(), 0x20u8..0x7f).prop_map(|(a, b)| Mutation::Byte(a, b)),
        f.clone().prop_map(Mutation::Truncate),
        (f.clone(), 1usize..40).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (f.clone(), 1usize..40, 1usize..50).prop_map(|(a, n, k)| Mutation::Repeat(a, n, k)),
        (f.clone(), f.clone()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        (f, 0..NUMBERS.len()).prop_map(|(a, i)| Mutation::Number(a, i)),
    ]
}

fn at(frac: f64, len: usize) -> usize {
    ((frac * len as f64) as usize).min(len.saturating_sub(1))
}

/// Byte spans of tokens: runs of word characters (letters, digits, `_ . - + "`).
fn tokens(text: &[u8], numbers_only: bool) -> Vec<(usize, usize)> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b"_.-+\"".contains(&b);
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if word(text[i]) {
            let s = i;
            while i < text.len() && word(text[i]) {
                i += 1;
            }
            let t = &text[s..i];
            let num =
                t[0].is_ascii_digit() || (t.len() > 1 && t[0] == b'-' && t[1].is_ascii_digit());
            if !numbers_only || num {
                out.push((s, i));
            }
        } else {
            i += 1;
        }
    }
    out
}

fn apply(text: &[u8], m: &Mutation) -> Vec<u8> {
    let mut v = text.to_vec();
    let n = v.len();
    if n == 0 {
        return v;
    }
    match *m {
        Mutation::Byte(a, b) => v[at(a, n)] = b,
        Mutation::Truncate(a) => v.truncate(at(a, n)),
        Mutation::Delete(a, len) => {
            let s = at(a, n);
            v.drain(s..(s + len).min(n));
        }
        Mutation::Repeat(a, len, times) => {
            let s = at(a, n);
            let span = v[s..(s + len).min(n)].to_vec();
            for _ in 0..times {
                v.splice(s..s, span.iter().copied());
            }
        }
        Mutation::Swap(a, b) => {
            let t = tokens(&v, false);
            if t.len() >= 2 {
                let (i, j) = (at(a, t.len()), at(b, t.len()));
                let (x, y) = (t[i.min(j)], t[i.max(j)]);
                if x != y {
                    let (tx, ty) = (v[x.0..x.1].to_vec(), v[y.0..y.1].to_vec());
                    v.splice(y.0..y.1, tx);
                    v.splice(x.0..x.1, ty);
                }
            }
        }
        Mutation::Number(a, i) => {
            let t = tokens(&v, true);
            if !t.is_empty() {
                let (s, e) = t[at(a, t.len())];
                v.splice(s..e, NUMBERS[i].bytes());
            }
        }
    }
    // A cut through a multi-byte character would make the file non-UTF-8: keep it text.
    String::from_utf8_lossy(&v).into_owned().into_bytes()
}

/// What an error message of loading `path` as a device file says (`None`: it loaded),
/// by the name's prefix; `None` for a name of no known type.
type DeviceLoad = fn(&Path) -> Option<String>;

fn device_loader(rel: &Path) -> Option<DeviceLoad> {
    use devices::params::load_ron;
    fn err<T, E: std::fmt::Display>(r: Result<T, E>) -> Option<String> {
        r.err().map(|e| e.to_string())
    }
    let name = rel.file_name()?.to_string_lossy().into_owned();
    let f: DeviceLoad = if name.starts_with("ts_") {
        |p| err(load_ron::<devices::ts::TsParams>(p))
    } else if name.starts_with("rs_") {
        |p| err(load_ron::<devices::rs::RsParams>(p))
    } else if name.starts_with("lia") {
        |p| err(load_ron::<devices::lia::LiaParams>(p))
    } else if name.starts_with("comparator") {
        |p| err(load_ron::<devices::comparator::ComparatorParams>(p))
    } else if name.starts_with("neuron_cmos") {
        |p| err(load_ron::<runtime::circuits::circuit::NeuronCircuit>(p))
    } else {
        return None;
    };
    Some(f)
}

/// The shipped tree copied once, where files are mutated in place and restored.
struct Tree {
    dir: PathBuf,
    files: Vec<(PathBuf, Role, Vec<u8>)>,
    topologies: Vec<PathBuf>,
}

impl Tree {
    fn new(tag: &str) -> Tree {
        let dir = std::env::temp_dir().join(format!("memsnn-fuzz-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        copy_tree(&root(), &dir);
        let mut rels = Vec::new();
        ron_files(&dir, Path::new(""), &mut rels);
        let files: Vec<(PathBuf, Role, Vec<u8>)> = rels
            .into_iter()
            .filter_map(|r| role(&r).map(|ro| (r.clone(), ro, fs::read(dir.join(&r)).unwrap())))
            .collect();
        let topologies = files
            .iter()
            .filter(|(_, ro, _)| *ro == Role::Topology)
            .map(|(r, _, _)| r.clone())
            .collect();
        Tree {
            dir,
            files,
            topologies,
        }
    }

    /// The files to check when `rel` changed.
    fn checks(&self, rel: &Path, role: Role) -> Vec<(PathBuf, Role)> {
        match role {
            Role::Topology | Role::Protocol | Role::MnistProtocol => {
                vec![(rel.to_path_buf(), role)]
            }
            Role::Named | Role::Device => {
                let name = rel.file_name().unwrap().to_string_lossy().into_owned();
                self.files
                    .iter()
                    .filter(|(r, ro, text)| {
                        *ro == Role::Topology
                            && self.topologies.contains(r)
                            && String::from_utf8_lossy(text).contains(&name)
                    })
                    .map(|(r, _, _)| (r.clone(), Role::Topology))
                    .chain((role == Role::Device).then(|| (rel.to_path_buf(), Role::Device)))
                    .collect()
            }
        }
    }

    /// Writes `text` over `rel`, runs the loaders it affects, restores the file. `Err` says
    /// what went wrong (a panic, or a rejection without a location).
    fn check(&self, rel: &Path, role: Role, text: &[u8]) -> Result<(), String> {
        let path = self.dir.join(rel);
        fs::write(&path, text).unwrap();
        let mut res = Ok(());
        for (file, ro) in self.checks(rel, role) {
            let full = self.dir.join(&file);
            let outcome = catch_unwind(AssertUnwindSafe(|| match ro {
                Role::Protocol => memsnn::experiments::fig5::load_protocol(&full)
                    .err()
                    .map(|e| format!("{e:#}")),
                Role::MnistProtocol => memsnn::experiments::mnist::load_protocol(&full)
                    .err()
                    .map(|e| format!("{e:#}")),
                Role::Device => device_loader(&file).and_then(|load| load(&full)),
                _ => runtime::model::topology::load(&full)
                    .err()
                    .map(|e| e.to_string()),
            }));
            match outcome {
                Err(_) => {
                    res = Err(format!("{}: panicked", file.display()));
                    break;
                }
                Ok(Some(msg)) if !located(&msg) => {
                    res = Err(format!(
                        "{}: rejected without a location: {msg}",
                        file.display()
                    ));
                    break;
                }
                Ok(_) => {}
            }
        }
        let original = &self.files.iter().find(|(r, _, _)| r == rel).unwrap().2;
        fs::write(&path, original).unwrap();
        res
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Whether `msg` names a `.ron` file with a line and a column (`x.ron:3:14`).
fn located(msg: &str) -> bool {
    msg.match_indices(".ron:").any(|(i, _)| {
        let rest = &msg[i + 5..];
        let d = rest.bytes().take_while(u8::is_ascii_digit).count();
        d > 0
            && rest[d..].starts_with(':')
            && rest[d + 1..].starts_with(|c: char| c.is_ascii_digit())
    })
}

#[test]
fn mutated_shipped_files_never_panic_and_every_rejection_is_located() {
    let tree = Tree::new("cases");
    let cases = std::env::var("MEMSNN_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(CI_CASES);
    let n = tree.files.len();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        // Shrink only a little: a failure is kept whole in the message.
        max_shrink_iters: 64,
        ..Config::default()
    });
    let files = &tree.files;
    let result = runner.run(&(0..n, mutation()), |(i, m)| {
        let (rel, role, text) = &files[i];
        let mutated = apply(text, &m);
        if let Err(why) = tree.check(rel, *role, &mutated) {
            let keep = std::env::temp_dir().join(format!(
                "memsnn-fuzz-failure-{}",
                rel.file_name().unwrap().to_string_lossy()
            ));
            let _ = fs::write(&keep, &mutated);
            return Err(TestCaseError::fail(format!(
                "{why}\n{m:?} of {}; input kept in {} (copy it to tests/fuzz_corpus/)",
                rel.display(),
                keep.display()
            )));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("fuzzed {cases} mutated inputs over {n} files: no panic, every rejection located");
}

/// Inputs that once failed, each replacing the shipped file of its name.
#[test]
fn the_fuzz_corpus_stays_fixed() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_corpus");
    let tree = Tree::new("corpus");
    let mut entries: Vec<PathBuf> = fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "{}: empty corpus", corpus.display());
    for input in entries {
        let name = input.file_name().unwrap().to_owned();
        // `NAME.N.ron` stands for the shipped `NAME.ron`.
        let stem = name.to_string_lossy();
        let shipped = match stem.split('.').collect::<Vec<_>>().as_slice() {
            [base, .., "ron"] => format!("{base}.ron"),
            _ => stem.to_string(),
        };
        let (rel, role, _) = tree
            .files
            .iter()
            .find(|(r, _, _)| r.file_name().unwrap().to_string_lossy() == shipped)
            .unwrap_or_else(|| panic!("{}: no shipped file {shipped}", input.display()));
        let text = fs::read(&input).unwrap();
        if let Err(why) = tree.check(rel, *role, &text) {
            panic!("{}: {why}", input.display());
        }
    }
}
