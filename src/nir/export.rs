//! `memsnn nir export`: a topology (and optionally saved conductances) as a NIR graph.
//!
//! Node by node (docs/nir.md has the table): each input generator → `Input` (shape
//! `[lines]`); each layer's synapse columns → `Affine` `{layer}_synapses` (weight
//! `[neurons, source]` = conductance / `G_max` of the synapse device, bias 0; a
//! `OneToOne` layer's diagonal), the raw conductances in siemens in its metadata; the
//! layer's hybrid neurons → `LIF` `{layer}` (`τ = 1/γ1`, `v_threshold = θ`, see
//! [`super::neuron_map`]); a lateral-inhibition array → a recurrent `Affine` `{layer}_lia`
//! (−1 between every two neurons, 0 on the diagonal) from the neurons back to them; each
//! layer no other layer reads → `Output` `{layer}_output`. The whole topology (its file
//! references canonical), the device and pattern files it names and the seed travel in
//! the root metadata, so an import gives the same network back.

use super::embed::canonical;
use super::keys;
use super::neuron_map::lif_of;
use anyhow::{anyhow, bail, Context, Result};
use nir_rs::nodes::{Affine, Input, Lif, Output};
use nir_rs::{MetadataMap, MetadataValue, NirGraph, NirNode, Tensor};
use runtime::model::topology::saved::SavedWeights;
use runtime::model::topology::schema::{Connectivity, Inhibition, Initial};
use runtime::{ExecutorKind, Model};
use std::path::{Path, PathBuf};

/// Options of [`export`].
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Saved conductances (`memsnn run --save-weights`) replacing the `initial`
    /// conductances of the layers they name.
    pub weights: Option<PathBuf>,
    /// Seed of the fabricated devices the conductances are read from (what `memsnn run
    /// --seed` builds).
    pub seed: u64,
}

/// What an export wrote.
#[derive(Clone, Debug)]
pub struct ExportReport {
    /// Nodes of the graph.
    pub nodes: usize,
    /// Edges of the graph.
    pub edges: usize,
    /// Synapses (conductances) carried.
    pub synapses: usize,
}

fn meta(entries: Vec<(&str, MetadataValue)>) -> MetadataMap {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

fn s(v: &str) -> MetadataValue {
    MetadataValue::String(v.to_string())
}

fn nir_err(e: nir_rs::NirError) -> anyhow::Error {
    anyhow!("{e}")
}

/// The NIR graph of the topology at `path` (checked first, as `memsnn validate` does).
pub fn graph_of(path: &Path, opts: &ExportOptions) -> Result<(NirGraph, ExportReport)> {
    let mut model = Model::load(path)?;
    if let Some(w) = &opts.weights {
        let names = saved_layer_names(w)?;
        let abs = crate::output::absolute(w);
        let abs_text = abs.to_string_lossy().into_owned();
        for n in &names {
            if model.topology().layer(n).is_none() {
                bail!(
                    "{}: layer `{n}` is not in topology {}",
                    w.display(),
                    path.display()
                );
            }
        }
        model = model.edit(|t| {
            for layer in &mut t.layers {
                if names.contains(&layer.name) {
                    layer.initial = Initial::Saved(abs_text.clone());
                }
            }
        })?;
    }
    let session = model.session(opts.seed, ExecutorKind::Reference, 1)?;
    let weights = session.weights();
    let checked = model.checked();
    let topology = checked.topology();
    let devices = checked.devices();

    let mut embedded = canonical(topology, checked.base_dir())?;
    let mut canon = embedded
        .topology
        .take()
        .ok_or_else(|| anyhow!("no topology to embed"))?;
    for layer in &mut canon.layers {
        if !matches!(layer.initial, Initial::Prototypes { .. }) {
            layer.initial = Initial::Matrix(Vec::new());
        }
    }
    let canon_text = ron::ser::to_string_pretty(&canon, ron::ser::PrettyConfig::default())
        .context("cannot write the topology as RON")?;

    let mut g = NirGraph::new();
    let (files_n, files_t): (Vec<String>, Vec<String>) = embedded.files.iter().cloned().unzip();
    let (bi_n, bi_t): (Vec<String>, Vec<String>) = embedded.builtins.iter().cloned().unzip();
    g.metadata = meta(vec![
        (keys::FORMAT, s(keys::FORMAT_VALUE)),
        (keys::TOPOLOGY, MetadataValue::String(canon_text)),
        (keys::SEED, MetadataValue::I64(opts.seed as i64)),
        (keys::FILE_NAMES, MetadataValue::StringList(files_n)),
        (keys::FILE_TEXTS, MetadataValue::StringList(files_t)),
        (keys::BUILTIN_NAMES, MetadataValue::StringList(bi_n)),
        (keys::BUILTIN_TEXTS, MetadataValue::StringList(bi_t)),
    ]);

    for input in &topology.inputs {
        let node = Input {
            shape: vec![input.lines as usize],
            metadata: meta(vec![
                (keys::KIND, s("input")),
                (keys::AMPLITUDE, MetadataValue::F64(input.amplitude_volts)),
            ]),
        };
        g.insert_node(&input.name, NirNode::Input(node))
            .map_err(nir_err)?;
    }
    let g_ref = devices.synapse.g_max_siemens;
    let mut synapses = 0usize;
    let read_by: Vec<&str> = topology.layers.iter().map(|l| l.from.as_str()).collect();
    for (i, layer) in topology.layers.iter().enumerate() {
        let m = layer.neurons as usize;
        let src = topology
            .source_size(&layer.from)
            .ok_or_else(|| anyhow!("layer `{}`: unknown source", layer.name))?;
        let k = layer.synapses_per_column(src);
        let saved = weights
            .layers
            .iter()
            .find(|l| l.name == layer.name)
            .ok_or_else(|| anyhow!("layer `{}`: no conductances captured", layer.name))?;
        let g_flat: Vec<f32> = saved.siemens.iter().flatten().copied().collect();
        if g_flat.len() != m * k {
            bail!(
                "layer `{}`: {} conductances for {m}×{k}",
                layer.name,
                g_flat.len()
            );
        }
        synapses += g_flat.len();
        let w = weight_matrix(&g_flat, m, k, src, layer.connectivity, g_ref);
        let syn_name = format!("{}_synapses", layer.name);
        let conn = match layer.connectivity {
            Connectivity::Dense => "Dense",
            Connectivity::OneToOne => "OneToOne",
        };
        let affine = Affine {
            weight: Tensor::from_f32(vec![m, src], w).map_err(nir_err)?,
            bias: Tensor::from_f32(vec![m], vec![0.0f32; m]).map_err(nir_err)?,
            metadata: meta(vec![
                (keys::KIND, s("synapses")),
                (keys::LAYER, s(&layer.name)),
                (
                    keys::CONDUCTANCE,
                    MetadataValue::Tensor(Tensor::from_f32(vec![m, k], g_flat).map_err(nir_err)?),
                ),
                (keys::G_REF, MetadataValue::F64(g_ref)),
                (keys::CONNECTIVITY, s(conn)),
            ]),
        };
        g.insert_node(&syn_name, NirNode::Affine(affine))
            .map_err(nir_err)?;

        let (ts, ts_ref) = match (&devices.layers[i].0, &layer.ts) {
            (Some(p), Some(r)) => (p, canon.layers[i].ts.clone().unwrap_or(r.clone())),
            _ => (&devices.ts, canon.devices.ts.clone()),
        };
        let circuit_ref = canon.layers[i]
            .circuit
            .clone()
            .unwrap_or(canon.devices.circuit.clone());
        let (tau, theta) = lif_of(ts);
        let lif = Lif {
            tau: Tensor::from_f64(vec![m], vec![tau; m]).map_err(nir_err)?,
            r: Tensor::from_f64(vec![m], vec![1.0; m]).map_err(nir_err)?,
            v_leak: Tensor::from_f64(vec![m], vec![0.0; m]).map_err(nir_err)?,
            v_threshold: Tensor::from_f64(vec![m], vec![theta; m]).map_err(nir_err)?,
            v_reset: Some(Tensor::from_f64(vec![m], vec![0.0; m]).map_err(nir_err)?),
            metadata: meta(vec![
                (keys::KIND, s("neurons")),
                (keys::LAYER, s(&layer.name)),
                (keys::TS, s(&ts_ref)),
                (keys::CIRCUIT, s(&circuit_ref)),
                (keys::INHIBITION, s(&inhibition_text(&layer.inhibition))),
            ]),
        };
        g.insert_node(&layer.name, NirNode::Lif(lif))
            .map_err(nir_err)?;
        g.add_edge(&layer.from, &syn_name);
        g.add_edge(&syn_name, &layer.name);

        if layer.inhibition == Inhibition::Lia {
            let lia_name = format!("{}_lia", layer.name);
            let mut w = vec![-1.0f32; m * m];
            for j in 0..m {
                w[j * m + j] = 0.0;
            }
            let lia_ref = canon.devices.lia.clone().unwrap_or_default();
            let node = Affine {
                weight: Tensor::from_f32(vec![m, m], w).map_err(nir_err)?,
                bias: Tensor::from_f32(vec![m], vec![0.0f32; m]).map_err(nir_err)?,
                metadata: meta(vec![
                    (keys::KIND, s("lia")),
                    (keys::LAYER, s(&layer.name)),
                    (keys::LIA, s(&lia_ref)),
                ]),
            };
            g.insert_node(&lia_name, NirNode::Affine(node))
                .map_err(nir_err)?;
            g.add_edge(&layer.name, &lia_name);
            g.add_edge(&lia_name, &layer.name);
        }
        if !read_by.contains(&layer.name.as_str()) {
            let out_name = format!("{}_output", layer.name);
            let node = Output {
                shape: vec![m],
                metadata: meta(vec![
                    (keys::KIND, s("output")),
                    (keys::LAYER, s(&layer.name)),
                ]),
            };
            g.insert_node(&out_name, NirNode::Output(node))
                .map_err(nir_err)?;
            g.add_edge(&layer.name, &out_name);
        }
    }
    g.validate_structure().map_err(nir_err)?;
    let report = ExportReport {
        nodes: g.len(),
        edges: g.edges.len(),
        synapses,
    };
    Ok((g, report))
}

/// Writes the NIR graph of the topology at `path` to `out` (replaced whole).
pub fn export(path: &Path, out: &Path, opts: &ExportOptions) -> Result<ExportReport> {
    super::file::prepare_output(out)?;
    let (g, report) = graph_of(path, opts)?;
    super::file::write(out, &g)?;
    Ok(report)
}

/// `Supervised(3.0)`, `Lia` or `None`, as a topology file writes it.
fn inhibition_text(i: &Inhibition) -> String {
    ron::ser::to_string(i).unwrap_or_else(|_| format!("{i:?}"))
}

/// The weight matrix `[m, src]` (row-major) of conductances `g` (`[m, k]`, siemens):
/// `G/G_ref` computed in `f64` and rounded to `f32`, a `OneToOne` layer's single synapse
/// on the diagonal.
pub fn weight_matrix(
    g: &[f32],
    m: usize,
    k: usize,
    src: usize,
    connectivity: Connectivity,
    g_ref: f64,
) -> Vec<f32> {
    let w = |x: f32| (f64::from(x) / g_ref) as f32;
    match connectivity {
        Connectivity::Dense => g.iter().map(|&x| w(x)).collect(),
        Connectivity::OneToOne => {
            let mut out = vec![0.0f32; m * src];
            for j in 0..m.min(src) {
                out[j * src + j] = w(g[j * k]);
            }
            out
        }
    }
}

/// The layer names of a saved-weights file (the file itself is checked by the topology
/// check once the layers name it).
fn saved_layer_names(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let w: SavedWeights = ron::from_str(&text).map_err(|e| {
        anyhow!(
            "{}:{}:{}: not a saved-weights file: {} — hint: write it with `memsnn run \
             --save-weights`",
            path.display(),
            e.span.start.line,
            e.span.start.col,
            e.code
        )
    })?;
    Ok(w.layers.into_iter().map(|l| l.name).collect())
}
