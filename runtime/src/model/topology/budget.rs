//! The memory budget: a topology's estimated memory ([`super::size`]) against what this
//! process may use, checked before anything is built (by [`super::check`](mod@super::check),
//! so `validate`, `run`, `bench` and the library all refuse the same topologies).
//!
//! What the process may use is the smallest of: the memory the kernel says is available
//! (`MemAvailable` of `/proc/meminfo`), what is left under the process's cgroup limit
//! (cgroup v2 `memory.max` − `memory.current`; v1 `memory.limit_in_bytes` −
//! `memory.usage_in_bytes`), and what is left of its address space (`RLIMIT_AS`, set by
//! `ulimit -v`, minus `VmSize`). A limit that cannot be read is not a limit.

use super::error::Issue;
use super::schema::Topology;
use super::size::memory_estimate;
use devices::params::size;
use std::path::{Path, PathBuf};

/// One limit on the memory this process may use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limit {
    /// What it is, for messages (e.g. "the address-space limit (`ulimit -v`)").
    pub what: &'static str,
    /// Bytes still usable under it.
    pub bytes: u64,
}

/// The limits that apply to this process now (those that can be read), smallest first.
pub fn limits() -> Vec<Limit> {
    let mut out = Vec::new();
    if let Some(bytes) = meminfo_kb("MemAvailable:").map(|k| k.saturating_mul(1024)) {
        let what = "the available memory (`MemAvailable` in /proc/meminfo)";
        out.push(Limit { what, bytes });
    }
    if let Some(bytes) = cgroup_left() {
        let what = "the cgroup memory limit (`memory.max`)";
        out.push(Limit { what, bytes });
    }
    if let Some(bytes) = address_space_left() {
        let what = "the address-space limit (`ulimit -v`)";
        out.push(Limit { what, bytes });
    }
    out.sort_by_key(|l| l.bytes);
    out
}

fn meminfo_kb(field: &str) -> Option<u64> {
    kb_field("/proc/meminfo", field)
}

fn kb_field(file: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(file).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A number in a cgroup file (`max` and v1's "no limit" values, ≥ 2⁶⁰, are none).
fn cgroup_number(path: &Path) -> Option<u64> {
    let s = std::fs::read_to_string(path).ok()?;
    let x: u64 = s.trim().parse().ok()?;
    (x < 1 << 60).then_some(x)
}

/// What is left under the cgroup limit of this process (v2, then v1).
fn cgroup_left() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let root = Path::new("/sys/fs/cgroup");
    // v2: `0::/path`; v1: `N:memory:/path` (or `N:...,memory,...:/path`).
    let v2 = own.lines().find_map(|l| l.strip_prefix("0::"));
    let v1 = own.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
        ctl.split(',').any(|c| c == "memory").then_some(path)
    });
    let rel = |p: &str| PathBuf::from(p.trim_start_matches('/'));
    let v2_dirs = [v2.map(|p| root.join(rel(p))), Some(root.to_path_buf())];
    for dir in v2_dirs.into_iter().flatten() {
        if let Some(max) = cgroup_number(&dir.join("memory.max")) {
            let used = cgroup_number(&dir.join("memory.current")).unwrap_or(0);
            return Some(max.saturating_sub(used));
        }
    }
    let v1_root = root.join("memory");
    let v1_dirs = [v1.map(|p| v1_root.join(rel(p))), Some(v1_root.clone())];
    for dir in v1_dirs.into_iter().flatten() {
        if let Some(max) = cgroup_number(&dir.join("memory.limit_in_bytes")) {
            let used = cgroup_number(&dir.join("memory.usage_in_bytes")).unwrap_or(0);
            return Some(max.saturating_sub(used));
        }
    }
    None
}

/// What is left of the address space under `RLIMIT_AS` (`ulimit -v`).
fn address_space_left() -> Option<u64> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As).current?;
    let used = kb_field("/proc/self/status", "VmSize:").unwrap_or(0);
    Some(limit.saturating_sub(used.saturating_mul(1024)))
}

/// Share of the estimate from which a layer or probe is named as responsible.
const RESPONSIBLE_SHARE: f64 = 0.1;

/// The problems of a topology that needs more memory than `limit` leaves (none when it
/// fits): one at each layer and probe that takes at least a tenth of the estimate, saying
/// how much is needed, how much is available and what to change.
pub fn budget_issues(topo: &Topology, limit: &Limit) -> Vec<Issue> {
    let est = memory_estimate(topo);
    if est.total_bytes <= limit.bytes {
        return Vec::new();
    }
    let head = format!(
        "the topology needs about {} of memory, but {} leaves {}",
        size(est.total_bytes),
        limit.what,
        size(limit.bytes)
    );
    let big = |b: u64| b as f64 >= RESPONSIBLE_SHARE * est.total_bytes as f64;
    let mut issues = Vec::new();
    for (l, &b) in est
        .layers_bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| big(**b))
    {
        let layer = &topo.layers[l];
        issues.push(Issue::here(
            format!("layers[{l}].neurons"),
            format!(
                "{head}; layer `{}` ({} neurons, {} synapses) takes {}",
                layer.name,
                layer.neurons,
                super::size::layer_synapses(topo, l),
                size(b)
            ),
            "use fewer neurons (or a smaller source) in the largest layers, or run where \
             more memory is available (raise `ulimit -v` or the cgroup limit)",
        ));
    }
    for (k, &b) in est
        .probes_bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| big(**b))
    {
        issues.push(Issue::here(
            format!("probes[{k}]"),
            format!(
                "{head}; probe on `{}` keeps up to {} of records in memory (its streaming \
                 buffer, or all it makes over the protocol's {:.1} s if fewer)",
                topo.probes[k].target,
                size(b),
                super::size::protocol_ns(topo) as f64 * 1e-9
            ),
            "probe fewer signals (`Node` records most) or a smaller layer, or shorten the \
             protocol; the experiments read counters instead of probes",
        ));
    }
    if big(est.protocol_bytes) {
        issues.push(Issue::here(
            "protocol".to_string(),
            format!(
                "{head}; the protocol's {} steps and their log take {}",
                topo.protocol.len(),
                size(est.protocol_bytes)
            ),
            "split the protocol into several runs (save the weights of one with `--save-weights`, \
             start the next from them with `initial: Saved(FILE)`), or run where more memory is available",
        ));
    }
    if issues.is_empty() {
        // Many small parts: the largest layer stands for them.
        let largest = (0..est.layers_bytes.len()).max_by_key(|&l| est.layers_bytes[l]);
        let (field, message) = match largest {
            Some(l) => (
                format!("layers[{l}].neurons"),
                format!(
                    "{head}; {} layers share it, the largest, `{}`, takes {}",
                    topo.layers.len(),
                    topo.layers[l].name,
                    size(est.layers_bytes[l])
                ),
            ),
            None => (String::new(), head),
        };
        let hint = "make the network smaller, or run where more memory is available";
        issues.push(Issue::here(field, message, hint));
    }
    issues
}

/// [`budget_issues`] against the smallest of this process's [`limits`] (none when no
/// limit can be read).
pub fn check_budget(topo: &Topology) -> Vec<Issue> {
    match limits().first() {
        Some(limit) => budget_issues(topo, limit),
        None => Vec::new(),
    }
}
