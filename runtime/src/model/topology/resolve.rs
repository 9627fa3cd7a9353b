//! Resolving the files a topology names: device parameter sets (built-in names from
//! [`devices::builtin`] or files), the pattern file and saved weights.
//!
//! Each is read and parsed once: a device set named by several fields (`devices.ts` and a
//! layer's `ts`, say) is parsed the first time and reused. What is resolved goes into
//! [`super::Checked`], so building never reads a file.

use super::error::Issue;
use super::rules::MAX_PATTERN_FILE_BYTES;
use super::saved::load_saved;
use super::schema::{Patterns, Topology, BUILTIN_PREFIX};
use crate::circuits::circuit::NeuronCircuit;
use crate::circuits::lia::LiaParams;
use devices::builtin::{self, Kind};
use devices::comparator::ComparatorParams;
use devices::params::{load_ron, load_ron_within, ParamError, Validate};
use devices::rs::RsParams;
use devices::ts::TsParams;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The device parameter sets of a topology, resolved from files or built-ins.
#[derive(Clone, Debug)]
pub struct Devices {
    /// The neurons' TS memristor.
    pub ts: TsParams,
    /// The 1T1R synapse (also the LIA's cells).
    pub synapse: Arc<RsParams>,
    /// The neuron's CMOS circuit.
    pub circuit: NeuronCircuit,
    /// The lateral-inhibition array, when `devices.lia` is given.
    pub lia: Option<LiaParams>,
    /// The LIA's comparators.
    pub comparator: ComparatorParams,
    /// Per layer (file order): its own TS device and circuit, where it overrides them.
    pub layers: Vec<(Option<TsParams>, Option<NeuronCircuit>)>,
}

/// Saved conductances of the layers with `initial: Saved(..)`, by layer index: one row per
/// neuron, one value per synapse, siemens.
pub type SavedByLayer = BTreeMap<usize, Vec<Vec<f32>>>;

/// The device sets of one kind, parsed once per spec (a path or `builtin:NAME`).
struct Sets<T> {
    kind: Kind,
    parsed: BTreeMap<String, T>,
}

impl<T: DeserializeOwned + Validate + Clone> Sets<T> {
    fn new(kind: Kind) -> Self {
        Sets {
            kind,
            parsed: BTreeMap::new(),
        }
    }

    /// The set `spec` names for `field`; problems are pushed to `issues`. A spec that
    /// failed is tried again for each field that names it, so each field gets its message.
    fn get(
        &mut self,
        field: &str,
        spec: &str,
        base_dir: &Path,
        issues: &mut Vec<Issue>,
    ) -> Option<T> {
        if let Some(t) = self.parsed.get(spec) {
            return Some(t.clone());
        }
        match self.load(field, spec, base_dir) {
            Ok(t) => {
                self.parsed.insert(spec.to_string(), t.clone());
                Some(t)
            }
            Err(e) => {
                issues.push(e);
                None
            }
        }
    }

    fn load(&self, field: &str, spec: &str, base_dir: &Path) -> Result<T, Issue> {
        let field = if field.starts_with("layers[") {
            field.to_string()
        } else {
            format!("devices.{field}")
        };
        if let Some(name) = spec.strip_prefix(BUILTIN_PREFIX) {
            return match builtin::find(self.kind, name) {
                Some(b) => b.parse().map_err(Issue::Elsewhere),
                None => {
                    let known: Vec<String> = builtin::names(self.kind)
                        .map(|n| format!("\"{BUILTIN_PREFIX}{n}\""))
                        .collect();
                    Err(Issue::here(
                        field,
                        format!("`{spec}` is not a built-in set of this kind"),
                        &format!("use one of {}, or a file path", known.join(", ")),
                    ))
                }
            };
        }
        match load_ron::<T>(&base_dir.join(spec)) {
            Ok(t) => Ok(t),
            Err(ParamError::Io { path, source }) => Err(Issue::here(
                field,
                format!("cannot read `{}` ({source})", path.display()),
                "the path is relative to the topology file's folder; or use a built-in name",
            )),
            Err(error) => Err(Issue::Named {
                field,
                error: Box::new(error),
            }),
        }
    }
}

/// Resolves every device set a topology names; all problems at once.
pub fn devices(topo: &Topology, base_dir: &Path) -> Result<Devices, Vec<Issue>> {
    let d = &topo.devices;
    let mut issues = Vec::new();
    let mut ts_sets = Sets::<TsParams>::new(Kind::Ts);
    let mut circuits = Sets::<NeuronCircuit>::new(Kind::NeuronCircuit);
    let ts = ts_sets.get("ts", &d.ts, base_dir, &mut issues);
    let synapse = Sets::<RsParams>::new(Kind::Rs).get("synapse", &d.synapse, base_dir, &mut issues);
    let circuit = circuits.get("circuit", &d.circuit, base_dir, &mut issues);
    let lia = match &d.lia {
        Some(spec) => Sets::<LiaParams>::new(Kind::Lia)
            .get("lia", spec, base_dir, &mut issues)
            .map(Some),
        None => Some(None),
    };
    let cmp_spec = d.comparator.as_deref().unwrap_or("builtin:comparator");
    let comparator = Sets::<ComparatorParams>::new(Kind::Comparator).get(
        "comparator",
        cmp_spec,
        base_dir,
        &mut issues,
    );
    let mut layers = Vec::with_capacity(topo.layers.len());
    for (l, spec) in topo.layers.iter().enumerate() {
        let ts = spec
            .ts
            .as_ref()
            .and_then(|t| ts_sets.get(&format!("layers[{l}].ts"), t, base_dir, &mut issues));
        let circuit = spec
            .circuit
            .as_ref()
            .and_then(|c| circuits.get(&format!("layers[{l}].circuit"), c, base_dir, &mut issues));
        layers.push((ts, circuit));
    }
    match (ts, synapse, circuit, lia, comparator) {
        (Some(ts), Some(synapse), Some(circuit), Some(lia), Some(comparator))
            if issues.is_empty() =>
        {
            Ok(Devices {
                ts,
                synapse: Arc::new(synapse),
                circuit,
                lia,
                comparator,
                layers,
            })
        }
        _ => Err(issues),
    }
}

/// Loads the pattern file `rel` (relative to `base_dir`).
pub fn patterns(rel: &str, base_dir: &Path) -> Result<Patterns, Issue> {
    let path = base_dir.join(rel);
    match load_ron_within::<Patterns>(&path, MAX_PATTERN_FILE_BYTES) {
        Err(ParamError::Io { path, source }) => Err(Issue::here(
            "patterns",
            format!("cannot read `{}` ({source})", path.display()),
            "the path is relative to the topology file's folder; check the spelling",
        )),
        r => r.map_err(|error| Issue::Named {
            field: "patterns".into(),
            error: Box::new(error),
        }),
    }
}

/// The saved conductances of the layers with `initial: Saved(file)`, each checked against
/// its layer's shape (see [`super::saved`]), with the problems found.
pub fn saved(topo: &Topology, base_dir: &Path) -> (SavedByLayer, Vec<Issue>) {
    load_saved(topo, base_dir)
}
