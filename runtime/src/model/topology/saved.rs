//! Saved synapse conductances: the non-volatile state of a network.
//!
//! The 1T1R synapses keep their conductance without power; the TS neurons, latches and
//! comparators do not (a TS device relaxes to HRS within milliseconds). So what a trained
//! network *is* — what survives switching the hardware off and on — is its conductance
//! matrices, and that is what is saved: [`SavedWeights::capture`] reads them from a
//! network (any executor, after any run), [`SavedWeights::to_ron`] writes them as RON, and
//! a topology layer starts from them with `initial: Saved("file.ron")`. The restored
//! network starts at rest, as the powered-up hardware does.
//!
//! Round trip: conductances are stored as the columns hold them (`f32`, written in the
//! shortest form that reads back exactly), so a topology built with the same seed (the same
//! fabricated devices) gets bit-identical conductances back. In programmable layers each
//! value is clipped to its fabricated device's range (a no-op with the seed that saved it;
//! a stuck device takes its stuck value, as with every `initial`); fixed-resistor layers
//! take the values as they are. A column applies programming at its events, so a capture
//! in the middle of a programming episode lags it by at most one sub-step (10 µs by
//! default); protocols that end with a rest have nothing pending.

use super::built::LayerIds;
use super::error::Issue;
use super::rules::{MAX_SAVED_FILE_BYTES, SAVED_BYTES_PER_SYNAPSE};
use super::schema::{Initial, Topology};
use crate::circuits::column::Column;
use crate::engine::network::Network;
use crate::engine::time::Ns;
use devices::params::{load_ron_within, ParamError, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A weights file: the conductances of some layers of a network at one time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedWeights {
    /// Name of the topology the weights come from (informative).
    pub topology: String,
    /// Root seed of that run (the fabricated devices; informative).
    pub seed: u64,
    /// Simulated time of the capture, nanoseconds (informative).
    pub time_ns: Ns,
    /// One entry per layer.
    pub layers: Vec<SavedLayer>,
}

/// The conductances of one layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedLayer {
    /// The layer's name in its topology.
    pub name: String,
    /// One row per neuron (crossbar column), one value per synapse, siemens.
    pub siemens: Vec<Vec<f32>>,
}

impl Validate for SavedWeights {
    fn validate(&self, v: &mut Validator) {
        for (l, layer) in self.layers.iter().enumerate() {
            let bad = layer.siemens.iter().enumerate().find_map(|(r, row)| {
                let k = row.iter().position(|g| !(g.is_finite() && *g > 0.0))?;
                Some((r, k, row[k]))
            });
            if let Some((r, k, g)) = bad {
                let msg = format!("row {r}, value {k}: must be a positive conductance (got {g})");
                v.check(
                    &format!("layers[{l}].siemens"),
                    false,
                    &msg,
                    "conductances are positive, in siemens",
                );
            }
        }
    }
}

impl SavedWeights {
    /// The conductances of every layer in `layers`, read from the columns of `net`.
    pub fn capture(
        topology: &str,
        seed: u64,
        net: &Network,
        now: Ns,
        layers: &BTreeMap<String, LayerIds>,
    ) -> Self {
        let layers = layers
            .iter()
            .map(|(name, ids)| SavedLayer {
                name: name.clone(),
                siemens: ids
                    .columns
                    .iter()
                    .map(|&c| {
                        net.get::<Column>(c)
                            .map(|col| col.conductances().to_vec())
                            .unwrap_or_default()
                    })
                    .collect(),
            })
            .collect();
        SavedWeights {
            topology: topology.to_string(),
            seed,
            time_ns: now,
            layers,
        }
    }

    /// The file text: a header comment, then the weights as RON (one line per row).
    pub fn to_ron(&self) -> Result<String, ron::Error> {
        let cfg = ron::ser::PrettyConfig::new().depth_limit(4);
        let body = ron::ser::to_string_pretty(self, cfg)?;
        // The name goes into a line comment: no line breaks or other control characters.
        let name: String = self
            .topology
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Ok(format!(
            "// Synapse conductances (siemens) of topology `{name}`, seed {}, at t = {} ns.\n\
             // A layer starts from them with `initial: Saved(\"<this file>\")`.\n\
             SavedWeights{body}\n",
            self.seed, self.time_ns
        ))
    }
}

/// The conductance matrices of the layers with `initial: Saved(file)`, by layer index,
/// each checked against the layer's shape; problems are located at the layer's
/// `initial` field or in the weights file.
pub fn load_saved(
    topo: &Topology,
    base_dir: &Path,
) -> (BTreeMap<usize, Vec<Vec<f32>>>, Vec<Issue>) {
    let mut files: BTreeMap<String, Option<SavedWeights>> = BTreeMap::new();
    // A weights file holds at most every synapse of the topology, written as text.
    let synapses: u64 = topo
        .layers
        .iter()
        .map(|l| {
            let source = topo.source_size(&l.from).unwrap_or(0);
            (l.synapses_per_column(source) as u64).saturating_mul(u64::from(l.neurons))
        })
        .fold(0, u64::saturating_add);
    let cap = synapses
        .saturating_mul(SAVED_BYTES_PER_SYNAPSE)
        .saturating_add(1 << 20)
        .min(MAX_SAVED_FILE_BYTES);
    let mut out = BTreeMap::new();
    let mut issues = Vec::new();
    for (l, layer) in topo.layers.iter().enumerate() {
        let Initial::Saved(rel) = &layer.initial else {
            continue;
        };
        let field = format!("layers[{l}].initial");
        let file = files.entry(rel.clone()).or_insert_with(|| {
            let path = base_dir.join(rel);
            match load_ron_within::<SavedWeights>(&path, cap) {
                Ok(w) => Some(w),
                Err(ParamError::Io { path, source }) => {
                    issues.push(Issue::here(
                        &field,
                        format!("cannot read saved weights `{}` ({source})", path.display()),
                        "the path is relative to the topology file's folder; save weights \
                         with `memsnn run FILE --save-weights OUT.ron`",
                    ));
                    None
                }
                Err(error) => {
                    issues.push(Issue::Named {
                        field: field.clone(),
                        error: Box::new(error),
                    });
                    None
                }
            }
        });
        let Some(file) = file else { continue };
        let Some(saved) = file.layers.iter().find(|s| s.name == layer.name) else {
            let names = super::rules::name_list(file.layers.iter().map(|s| s.name.as_str()));
            issues.push(Issue::here(
                &field,
                format!("`{rel}` holds no layer `{}`", layer.name),
                &format!(
                    "it holds: {}; a layer takes the entry with its own name",
                    names
                ),
            ));
            continue;
        };
        let n = layer.neurons as usize;
        let per_column = topo
            .source_size(&layer.from)
            .map(|s| layer.synapses_per_column(s));
        let shape_ok = saved.siemens.len() == n
            && per_column.is_none_or(|k| saved.siemens.iter().all(|r| r.len() == k));
        if !shape_ok {
            let got = saved.siemens.first().map_or(0, Vec::len);
            issues.push(Issue::here(
                &field,
                format!(
                    "`{rel}` gives layer `{}` {} rows of {got} synapses; the layer has {n} \
                     neurons of {} synapses",
                    layer.name,
                    saved.siemens.len(),
                    per_column.map_or("?".into(), |k| k.to_string()),
                ),
                "restore weights into a topology of the same shape as the one that saved them",
            ));
            continue;
        }
        out.insert(l, saved.siemens.clone());
    }
    (out, issues)
}
