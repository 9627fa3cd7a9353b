//! Checking a topology before anything runs: every problem at once, each with the file,
//! line and column where there is one, the field and a hint. What passes is a [`Checked`]
//! topology, which owns everything the files it names resolved to; building takes nothing
//! else, so it neither checks again nor reads a file.
//!
//! Three passes, all reported together:
//! 1. ron syntax and the schema (unknown, missing or mistyped fields) — this stops early,
//!    since nothing else can be checked on text that does not parse;
//! 2. the rules a topology obeys on its own ([`Validate`] for [`Topology`], in
//!    [`super::rules`]): names that exist and are unique, sizes and shapes, durations, one
//!    driver per gate line;
//! 3. the memory budget ([`super::budget`]): the estimated memory of the built network and
//!    its probes against what this process may use — before any file it names is read;
//! 4. the files it names, resolved by [`super::resolve`] (device and pattern files that
//!    exist and are valid, saved weights that fit their layers), and the rules that need
//!    them: pattern names and sizes, conductances within the synapse's range, LIAs that can
//!    be designed for their layers.
//!
//! A topology edited in code goes through [`check`] again ([`Checked::edit`]), so no
//! topology is built unchecked.

use super::budget::check_budget;
use super::error::{located, Issue, TopologyError};
use super::resolve::{self, Devices, SavedByLayer};
use super::rules::{name_list, MAX_TOPOLOGY_FILE_BYTES};
use super::schema::{Inhibition, Initial, Patterns, Step, Topology};
use devices::params::{parse_ron, read_text, Validate, Validator};
use devices::rs::RsParams;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A topology that passed every check, with what the files it names resolved to. It can be
/// built any number of times, with any seed (by the `build` function).
#[derive(Clone, Debug)]
pub struct Checked {
    topology: Topology,
    base_dir: PathBuf,
    devices: Devices,
    patterns: Option<Patterns>,
    saved: SavedByLayer,
}

impl Checked {
    /// A SHA-256 digest of everything checked (the topology and its protocol, the device
    /// set, patterns and saved weights; not the folder they were read from): two
    /// processes that loaded the same files get the same digest.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let text = format!(
            "{:?}",
            (&self.topology, &self.devices, &self.patterns, &self.saved)
        );
        Sha256::digest(text.as_bytes()).into()
    }

    /// Checks `topology` (relative paths resolved against `base_dir`); the same as
    /// [`check`].
    pub fn from_topology(topology: Topology, base_dir: &Path) -> Result<Self, TopologyError> {
        check(topology, base_dir)
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The folder relative paths are resolved against (the topology file's folder).
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Its device parameter sets.
    pub fn devices(&self) -> &Devices {
        &self.devices
    }

    /// Its patterns, when it names a pattern file.
    pub fn patterns(&self) -> Option<&Patterns> {
        self.patterns.as_ref()
    }

    /// Saved conductances of the layers with `initial: Saved(..)`, by layer index.
    pub fn saved(&self) -> &SavedByLayer {
        &self.saved
    }

    /// The topology, giving up what was resolved.
    pub fn into_topology(self) -> Topology {
        self.topology
    }

    /// The topology changed by `f`, checked again (files resolved again, against the same
    /// folder). Problems are located by field in `topology `NAME``: there is no file text.
    pub fn edit(self, f: impl FnOnce(&mut Topology)) -> Result<Self, TopologyError> {
        let Checked {
            mut topology,
            base_dir,
            ..
        } = self;
        f(&mut topology);
        check(topology, &base_dir)
    }

    /// The same topology with its synapse parameter set changed by `f` (a sweep over
    /// device statistics: stuck-device fractions, device-to-device spread), the changed
    /// set checked by the synapse file's own rules.
    pub fn with_synapse(&self, f: impl FnOnce(&mut RsParams)) -> Result<Self, TopologyError> {
        let mut synapse = (*self.devices.synapse).clone();
        f(&mut synapse);
        let mut v = Validator::new();
        synapse.validate(&mut v);
        if let Some(p) = v.problems().first() {
            return Err(TopologyError::Build {
                topology: self.topology.name.clone(),
                message: format!(
                    "synapse parameters `{}`: field `{}` {} — hint: {}",
                    synapse.name, p.field, p.message, p.hint
                ),
            });
        }
        let mut changed = self.clone();
        changed.devices.synapse = std::sync::Arc::new(synapse);
        Ok(changed)
    }
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
    let source =
        read_text(path, MAX_TOPOLOGY_FILE_BYTES).map_err(|e| TopologyError::Invalid(vec![e]))?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_str(&source, path, base)
}

/// [`load`] for a topology file named by field `field` of another file `by` (a protocol's
/// `topology:`): every problem is located at that field of `by` too.
pub fn load_named_by(path: &Path, by: &Path, field: &str) -> Result<Checked, TopologyError> {
    load(path).map_err(|e| {
        let source = read_text(by, MAX_TOPOLOGY_FILE_BYTES).ok();
        let pos = source
            .as_deref()
            .and_then(|s| devices::params::FieldIndex::new(s).locate_dotted(field));
        let errors = match e {
            TopologyError::Invalid(v) => v,
            TopologyError::Build { topology, message } => {
                return TopologyError::Build { topology, message };
            }
        };
        let named = errors
            .into_iter()
            .flat_map(|e| e.named_by(by, pos, field))
            .collect();
        TopologyError::Invalid(named)
    })
}

/// Parses and checks topology text. `origin` names the file in messages; `base_dir`
/// resolves the relative paths it holds.
pub fn parse_str(source: &str, origin: &Path, base_dir: &Path) -> Result<Checked, TopologyError> {
    let Unchecked(topology) =
        parse_ron::<Unchecked>(source, origin).map_err(|e| TopologyError::Invalid(vec![e]))?;
    checked(topology, base_dir, Some(source), origin)
}

/// Checks a topology that is already in memory (made or edited in code); relative paths
/// are resolved against `base_dir`. Problems are located by field in `topology `NAME``.
pub fn check(topology: Topology, base_dir: &Path) -> Result<Checked, TopologyError> {
    let origin = PathBuf::from(format!("topology `{}`", topology.name));
    checked(topology, base_dir, None, &origin)
}

fn checked(
    topology: Topology,
    base_dir: &Path,
    source: Option<&str>,
    origin: &Path,
) -> Result<Checked, TopologyError> {
    let mut v = Validator::new();
    topology.validate(&mut v);
    let mut issues: Vec<Issue> = v.problems().iter().cloned().map(Issue::Here).collect();
    // The memory budget before any file is read or anything built.
    let budget = check_budget(&topology);
    let fits = budget.is_empty();
    issues.extend(budget);
    let files = check_files(&topology, base_dir, fits);
    issues.extend(files.issues);
    match (issues.is_empty(), files.devices) {
        (true, Some(devices)) => Ok(Checked {
            topology,
            base_dir: base_dir.to_path_buf(),
            devices,
            patterns: files.patterns,
            saved: files.saved,
        }),
        _ => Err(located(issues, source, origin)),
    }
}

/// What [`check_files`] found.
struct FileCheck {
    issues: Vec<Issue>,
    devices: Option<Devices>,
    patterns: Option<Patterns>,
    saved: SavedByLayer,
}

/// Resolves the device, pattern and weights files a topology names and checks what
/// depends on them; saved weights (as large as the network) only when it `fits` its
/// memory budget.
fn check_files(topo: &Topology, base_dir: &Path, fits: bool) -> FileCheck {
    let mut issues = Vec::new();
    let devices = match resolve::devices(topo, base_dir) {
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
        Some(p) => resolve::patterns(p, base_dir)
            .map_err(|e| issues.push(e))
            .ok(),
    };
    check_pattern_refs(topo, patterns.as_ref(), &mut issues);
    let saved = if fits {
        let (saved, saved_issues) = resolve::saved(topo, base_dir);
        issues.extend(saved_issues);
        saved
    } else {
        SavedByLayer::new()
    };
    FileCheck {
        issues,
        devices,
        patterns,
        saved,
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
            let names = name_list(p.items.iter().map(|i| i.name.as_str()));
            issues.push(Issue::here(
                field,
                format!("no pattern is called `{pattern}`"),
                &format!("use one of: {names}"),
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
