//! Validation of a topology before anything runs: every problem at once, each with the
//! file, line and column where there is one, the field and a hint.
//!
//! Three passes, all reported together:
//! 1. ron syntax and the schema (unknown, missing or mistyped fields) — this stops early,
//!    since nothing else can be checked on text that does not parse;
//! 2. the rules a topology obeys on its own ([`Validate`] for [`Topology`], in
//!    [`super::rules`]): names that exist and are unique, sizes and shapes, durations, one
//!    driver per gate line;
//! 3. the rules that need the files it names ([`check_files`]): device and pattern files
//!    that exist and are valid, pattern names and sizes, conductances within the synapse's
//!    range, saved weights that fit their layers.

use super::build::{resolve_devices, Devices};
use super::saved::load_saved;
use super::schema::{Inhibition, Initial, Patterns, Step, Topology};
use crate::engine::time::US;
use devices::params::{locate_field, parse_ron, ParamError, Problem, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything that can go wrong with a topology.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The topology or a file it names is invalid: one located problem per line, in the
    /// form `file:line:col: field `x`: what is wrong — hint: what to do`.
    #[error("{}", lines(.0))]
    Invalid(Vec<ParamError>),
    /// Building failed on a topology that skipped validation (call [`load`] first).
    #[error(
        "cannot build topology `{topology}`: {message} — hint: run `memsnn validate` on the file"
    )]
    Build {
        /// The topology's name.
        topology: String,
        /// What is wrong.
        message: String,
    },
}

fn lines(errors: &[ParamError]) -> String {
    let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
    all.join("\n")
}

impl TopologyError {
    /// Every problem, one per entry (nested lists flattened).
    pub fn problems(&self) -> Vec<&ParamError> {
        fn flat<'a>(e: &'a ParamError, out: &mut Vec<&'a ParamError>) {
            match e {
                ParamError::Many(v) => v.iter().for_each(|e| flat(e, out)),
                e => out.push(e),
            }
        }
        let mut out = Vec::new();
        if let TopologyError::Invalid(v) = self {
            v.iter().for_each(|e| flat(e, &mut out));
        }
        out
    }
}

/// A problem found outside ron's parser: in the topology file (located later by field
/// path) or in another file (already located there).
#[derive(Debug)]
pub enum Issue {
    /// A problem of the topology file, at a dotted field path such as `layers[1].from`.
    Here(Problem),
    /// A problem of a device or pattern file, with its own location.
    Elsewhere(ParamError),
}

impl Issue {
    /// A problem of the topology file.
    pub fn here(field: impl Into<String>, message: impl Into<String>, hint: &str) -> Self {
        Issue::Here(Problem {
            field: field.into(),
            message: message.into(),
            hint: hint.to_string(),
        })
    }
}

/// Turns issues into a [`TopologyError`], locating topology problems in `source` (when
/// the text is at hand) at the closest enclosing key that is written in the file.
pub fn located(issues: Vec<Issue>, source: Option<&str>, origin: &Path) -> TopologyError {
    let errors = issues
        .into_iter()
        .map(|issue| match issue {
            Issue::Elsewhere(e) => e,
            Issue::Here(Problem {
                field,
                message,
                hint,
            }) => {
                let segs: Vec<&str> = field.split('.').filter(|s| !s.is_empty()).collect();
                let pos = source.and_then(|src| {
                    (1..=segs.len())
                        .rev()
                        .find_map(|n| locate_field(src, &segs[..n]))
                });
                let num = |x: usize| u32::try_from(x).ok();
                ParamError::Invalid {
                    path: origin.to_path_buf(),
                    line: pos.and_then(|p| num(p.0)),
                    col: pos.and_then(|p| num(p.1)),
                    field,
                    message,
                    hint,
                }
            }
        })
        .collect();
    TopologyError::Invalid(errors)
}

/// A topology that passed every check, with the files it names loaded.
#[derive(Clone, Debug)]
pub struct Checked {
    /// The topology.
    pub topology: Topology,
    /// Its device parameter sets.
    pub devices: Devices,
    /// Its patterns, when it names a pattern file.
    pub patterns: Option<Patterns>,
    /// The folder relative paths are resolved against (the topology file's folder).
    pub base_dir: PathBuf,
}

/// Parses into a topology without running its rules (they run in [`parse_str`], together
/// with the cross-file ones, so that every problem is reported at once).
#[derive(Deserialize, Serialize)]
#[serde(transparent)]
struct Unchecked(Topology);

impl Validate for Unchecked {
    fn validate(&self, _: &mut Validator) {}
}

/// Reads, parses and checks the topology file at `path`; relative paths inside it are
/// resolved against its folder.
pub fn load(path: &Path) -> Result<Checked, TopologyError> {
    let source = std::fs::read_to_string(path).map_err(|source| {
        TopologyError::Invalid(vec![ParamError::Io {
            path: path.to_path_buf(),
            source,
        }])
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_str(&source, path, base)
}

/// Parses and checks topology text. `origin` names the file in messages; `base_dir`
/// resolves the relative paths it holds.
pub fn parse_str(source: &str, origin: &Path, base_dir: &Path) -> Result<Checked, TopologyError> {
    let Unchecked(topology) =
        parse_ron::<Unchecked>(source, origin).map_err(|e| TopologyError::Invalid(vec![e]))?;
    let mut v = Validator::new();
    topology.validate(&mut v);
    let mut issues: Vec<Issue> = v.problems().iter().cloned().map(Issue::Here).collect();
    let files = check_files(&topology, base_dir);
    issues.extend(files.issues);
    match (issues.is_empty(), files.devices) {
        (true, Some(devices)) => Ok(Checked {
            topology,
            devices,
            patterns: files.patterns,
            base_dir: base_dir.to_path_buf(),
        }),
        _ => Err(located(issues, Some(source), origin)),
    }
}

/// What [`check_files`] found.
pub struct FileCheck {
    /// Problems found.
    pub issues: Vec<Issue>,
    /// The device sets, when all loaded.
    pub devices: Option<Devices>,
    /// The patterns, when named and valid.
    pub patterns: Option<Patterns>,
    /// Saved conductances of the layers with `initial: Saved(..)`, by layer index.
    pub saved: BTreeMap<usize, Vec<Vec<f32>>>,
}

/// Loads the device, pattern and weights files a topology names and checks what depends
/// on them.
pub fn check_files(topo: &Topology, base_dir: &Path) -> FileCheck {
    let mut issues = Vec::new();
    let devices = match resolve_devices(topo, base_dir) {
        Ok(d) => Some(d),
        Err(e) => {
            issues.extend(e);
            None
        }
    };
    if let Some(d) = &devices {
        check_ranges(topo, d, &mut issues);
        check_lia(topo, d, &mut issues);
    }
    let patterns = match &topo.patterns {
        None => None,
        Some(p) => load_patterns(p, base_dir).map_err(|e| issues.push(e)).ok(),
    };
    check_pattern_refs(topo, patterns.as_ref(), &mut issues);
    let (saved, saved_issues) = load_saved(topo, base_dir);
    issues.extend(saved_issues);
    FileCheck {
        issues,
        devices,
        patterns,
        saved,
    }
}

/// Loads the pattern file `rel` (relative to `base_dir`).
pub fn load_patterns(rel: &str, base_dir: &Path) -> Result<Patterns, Issue> {
    let path = base_dir.join(rel);
    match devices::params::load_ron::<Patterns>(&path) {
        Err(ParamError::Io { path, source }) => Err(Issue::here(
            "patterns",
            format!("cannot read `{}` ({source})", path.display()),
            "the path is relative to the topology file's folder; check the spelling",
        )),
        r => r.map_err(Issue::Elsewhere),
    }
}

/// Programmable layers' `Matrix` values must lie within the synapse's conductance range.
fn check_ranges(topo: &Topology, d: &Devices, issues: &mut Vec<Issue>) {
    let (lo, hi) = (d.synapse.g_min_siemens, d.synapse.g_max_siemens);
    for (l, layer) in topo.layers.iter().enumerate() {
        let Initial::Matrix(rows) = &layer.initial else {
            continue;
        };
        if !layer.programmable {
            continue;
        }
        let bad = rows.iter().enumerate().find_map(|(r, row)| {
            let k = row
                .iter()
                .position(|&g| g.is_finite() && !(lo..=hi).contains(&g))?;
            Some((r, k, row[k]))
        });
        if let Some((r, k, g)) = bad {
            issues.push(Issue::here(
                format!("layers[{l}].initial"),
                format!(
                    "row {r}, value {k}: {g:e} S is outside the synapse's range [{lo:e}, {hi:e}] S"
                ),
                "use conductances between the device's G_min and G_max, or set \
                 `programmable: false` to make the synapses fixed resistors",
            ));
        }
    }
}

/// Every LIA must be designable for its layer's size with these devices.
fn check_lia(topo: &Topology, d: &Devices, issues: &mut Vec<Issue>) {
    let Some(lia) = &d.lia else { return };
    for (l, layer) in topo.layers.iter().enumerate() {
        if layer.inhibition == Inhibition::Lia && layer.neurons > 0 {
            if let Err(e) = lia.design(&d.synapse, layer.neurons as usize) {
                let hint = "check the LIA parameter file against the synapse device";
                issues.push(Issue::here(
                    format!("layers[{l}].inhibition"),
                    e.to_string(),
                    hint,
                ));
            }
        }
    }
}

/// Protocol steps must name patterns of the pattern file, as large as their input.
fn check_pattern_refs(topo: &Topology, patterns: Option<&Patterns>, issues: &mut Vec<Issue>) {
    for (s, step) in topo.protocol.iter().enumerate() {
        let (input, pattern) = match step {
            Step::Present { input, pattern, .. } => (input, pattern),
            Step::PresentUntilFire { input, pattern, .. } => (input, pattern),
            _ => continue,
        };
        let field = format!("protocol[{s}].pattern");
        let Some(p) = patterns else {
            if topo.patterns.is_none() {
                let hint = "add `patterns: \"<file>.ron\"` to the topology (see docs/topology.md)";
                issues.push(Issue::here(
                    field,
                    "needs a pattern file, but none is named",
                    hint,
                ));
            }
            continue;
        };
        if p.get(pattern).is_none() {
            let names: Vec<&str> = p.items.iter().map(|i| i.name.as_str()).collect();
            issues.push(Issue::here(
                field,
                format!("no pattern is called `{pattern}`"),
                &format!("use one of: {}", names.join(", ")),
            ));
        } else if let Some(i) = topo.input(input) {
            if p.pixels() != i.lines as usize {
                issues.push(Issue::here(
                    field,
                    format!(
                        "pattern `{pattern}` has {} pixels ({} × {}) but input `{input}` has {} lines",
                        p.pixels(),
                        p.height,
                        p.width,
                        i.lines
                    ),
                    "give the input as many lines as the patterns have pixels",
                ));
            }
        }
    }
}

/// Microseconds to nanoseconds, saturating (durations are bounded by validation).
pub fn us_to_ns(us: u64) -> u64 {
    us.saturating_mul(US)
}
