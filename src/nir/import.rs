//! `memsnn nir import`: a NIR graph as a memsnn topology.
//!
//! A graph memsnn wrote (its root metadata carries the topology) comes back as the same
//! network: the embedded topology, its device and pattern files written beside the new
//! topology in `STEM.files/`, and every layer's conductances, bit for bit, in
//! `STEM.files/conductances.ron` (`initial: Saved(..)`). If the weights were changed
//! outside memsnn, the conductances follow them (`G = w·G_ref`). Any other graph is
//! mapped by [`super::foreign`]. The topology written is checked as `memsnn validate`
//! checks it.

use super::export::weight_matrix;
use super::foreign::{self, from_foreign, DeviceSet, Imported};
use super::keys;
use anyhow::{anyhow, bail, Context, Result};
use nir_rs::{NirGraph, NirNode, TensorData};
use runtime::model::topology::saved::{SavedLayer, SavedWeights};
use runtime::model::topology::schema::{Connectivity, Initial, Topology};
use runtime::{ExecutorKind, Model};
use std::path::{Path, PathBuf};

/// Options of [`import`].
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Device set for the hybrid neurons (a topology's `devices` block in a RON file);
    /// default: the built-in neuron. On a graph memsnn wrote it replaces the topology's
    /// `devices` block.
    pub device_set: Option<PathBuf>,
}

/// What an import wrote.
#[derive(Clone, Debug)]
pub struct ImportReport {
    /// Whether the graph came from memsnn (lossless) or another framework (mapped).
    pub from_memsnn: bool,
    /// Layers of the topology.
    pub layers: usize,
    /// Synapses.
    pub synapses: usize,
    /// Files written beside the topology (its folder `STEM.files/`).
    pub files: Vec<PathBuf>,
    /// The seed to run it with for the conductances to be the exported ones.
    pub seed: u64,
    /// What the mapping changed or dropped.
    pub notes: Vec<String>,
}

/// Name of the conductances file an import writes into `STEM.files/`.
pub const CONDUCTANCES_FILE: &str = "conductances.ron";

/// The network of the graph in `nir` (read and mapped, nothing written), and whether
/// memsnn wrote the graph.
pub fn network_of(nir: &Path, opts: &ImportOptions) -> Result<(Imported, bool)> {
    let g = super::file::read(nir)?;
    let name = nir
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "imported".into());
    if g.metadata.contains_key(keys::TOPOLOGY) {
        let mut imported = from_memsnn(&g, nir)?;
        if let Some(set) = &opts.device_set {
            let set = foreign::device_set(Some(set))?;
            imported.topology.devices = set.devices;
            imported.files.extend(set.files);
            imported
                .notes
                .push("devices replaced by the device set".into());
        }
        Ok((imported, true))
    } else {
        let set: DeviceSet = foreign::device_set(opts.device_set.as_deref())?;
        Ok((from_foreign(&g, nir, &name, &set)?, false))
    }
}

/// Reads the graph in `nir` and writes its topology to `out` (files beside it in
/// `STEM.files/`), then checks what it wrote.
pub fn import(nir: &Path, out: &Path, opts: &ImportOptions) -> Result<ImportReport> {
    super::file::prepare_output(out)?;
    let (imported, from_memsnn) = network_of(nir, opts)?;
    write(imported, out, from_memsnn)
}

fn write(imported: Imported, out: &Path, from_memsnn: bool) -> Result<ImportReport> {
    let Imported {
        mut topology,
        mut files,
        conductances,
        seed,
        notes,
    } = imported;
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow!("{}: names no file", out.display()))?;
    let folder = format!("{stem}.files");
    let out_dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let synapses = conductances
        .iter()
        .map(|l| l.siemens.iter().map(Vec::len).sum::<usize>())
        .sum::<usize>();
    let saved_ref = format!("{folder}/{CONDUCTANCES_FILE}");
    let mut prototypes = Vec::new();
    for layer in &mut topology.layers {
        if matches!(layer.initial, Initial::Prototypes { .. }) {
            prototypes.push(layer.name.clone());
        } else {
            layer.initial = Initial::Saved(saved_ref.clone());
        }
    }
    let saved = SavedWeights {
        topology: topology.name.clone(),
        seed,
        time_ns: 0,
        layers: conductances
            .iter()
            .filter(|l| !prototypes.contains(&l.name))
            .cloned()
            .collect(),
    };
    if files.iter().any(|(n, _)| n == CONDUCTANCES_FILE) {
        bail!("the graph carries a file named {CONDUCTANCES_FILE}, which an import writes");
    }
    files.push((
        CONDUCTANCES_FILE.to_string(),
        saved
            .to_ron()
            .context("cannot write the conductances as RON")?,
    ));
    let topology = super::embed::restore(topology, &files, &out_dir, &folder)?;
    let text = ron::ser::to_string_pretty(&topology, ron::ser::PrettyConfig::default())
        .context("cannot write the topology as RON")?;
    let header = format!(
        "// Imported from a NIR graph by `memsnn nir import`; run it with --seed {seed}.\n"
    );
    crate::output::atomic_write(out, format!("{header}{text}\n").as_bytes())?;
    let model = match Model::load(out) {
        Ok(m) => m,
        Err(e) => {
            // Leave no topology behind that does not pass its own check.
            let _ = std::fs::remove_file(out);
            return Err(e.into());
        }
    };
    if !prototypes.is_empty() {
        let session = model.session(seed, ExecutorKind::Reference, 1)?;
        let now = session.weights();
        for name in &prototypes {
            let want = conductances.iter().find(|l| &l.name == name);
            let got = now.layers.iter().find(|l| &l.name == name);
            if want.map(|l| &l.siemens) != got.map(|l| &l.siemens) {
                bail!(
                    "layer `{name}`: its conductances in the graph are not the prototypes its \
                     `initial: Prototypes(..)` draws with seed {seed} (changed outside \
                     memsnn?) — hint: remove its `PresentPrototype` steps and give it \
                     `initial: Saved(..)`"
                );
            }
        }
    }
    Ok(ImportReport {
        from_memsnn,
        layers: topology.layers.len(),
        synapses,
        files: files
            .iter()
            .map(|(n, _)| out_dir.join(&folder).join(n))
            .collect(),
        seed,
        notes,
    })
}

/// The network memsnn exported into `g` (read from `path`).
fn from_memsnn(g: &NirGraph, path: &Path) -> Result<Imported> {
    let at = path.display();
    let root = "/node/metadata";
    match keys::string(&g.metadata, keys::FORMAT) {
        Some(keys::FORMAT_VALUE) => {}
        other => bail!(
            "{at}: {root}/{}: `{}`, this memsnn reads `{}`",
            keys::FORMAT,
            other.unwrap_or("missing"),
            keys::FORMAT_VALUE
        ),
    }
    let text = keys::string(&g.metadata, keys::TOPOLOGY)
        .ok_or_else(|| anyhow!("{at}: {root}/{} is not a string", keys::TOPOLOGY))?;
    let topology: Topology = ron::from_str(text).map_err(|e| {
        anyhow!(
            "{at}: {root}/{}:{}:{}: {}",
            keys::TOPOLOGY,
            e.span.start.line,
            e.span.start.col,
            e.code
        )
    })?;
    let names = keys::strings(&g.metadata, keys::FILE_NAMES)
        .map_err(|e| anyhow!("{at}: {root}/{}: {e}", keys::FILE_NAMES))?;
    let texts = keys::strings(&g.metadata, keys::FILE_TEXTS)
        .map_err(|e| anyhow!("{at}: {root}/{}: {e}", keys::FILE_TEXTS))?;
    if names.len() != texts.len() {
        bail!(
            "{at}: {root}: {} file names but {} file texts",
            names.len(),
            texts.len()
        );
    }
    let seed = keys::int(&g.metadata, keys::SEED)
        .ok_or_else(|| anyhow!("{at}: {root}/{} is missing", keys::SEED))?;
    let mut conductances = Vec::new();
    let mut notes = Vec::new();
    for layer in &topology.layers {
        let node_name = format!("{}_synapses", layer.name);
        let group = format!("/node/nodes/{node_name}");
        let Some(NirNode::Affine(a)) = g.nodes.get(&node_name) else {
            bail!(
                "{at}: {group}: missing or not an Affine node (the synapses of layer `{}`)",
                layer.name
            );
        };
        let m = layer.neurons as usize;
        let src = topology
            .source_size(&layer.from)
            .ok_or_else(|| anyhow!("{at}: layer `{}`: unknown source", layer.name))?;
        let k = layer.synapses_per_column(src);
        let g_ref = keys::number(&a.metadata, keys::G_REF)
            .ok_or_else(|| anyhow!("{at}: {group}/metadata/{} is missing", keys::G_REF))?;
        let cond = keys::tensor(&a.metadata, keys::CONDUCTANCE);
        let raw: Option<Vec<f32>> = match cond.map(|t| (t.shape(), t.data())) {
            Some((shape, TensorData::F32(v))) if shape == [m, k] => Some(v.clone()),
            Some((shape, _)) => bail!(
                "{at}: {group}/metadata/{}: shape {shape:?} of f32 expected [{m}, {k}]",
                keys::CONDUCTANCE
            ),
            None => None,
        };
        if a.weight.shape() != [m, src] {
            bail!(
                "{at}: {group}/weight: shape {:?}, layer `{}` needs [{m}, {src}]",
                a.weight.shape(),
                layer.name
            );
        }
        let weight: Vec<f64> = keys::values(&a.weight);
        let same = raw.as_ref().is_some_and(|r| {
            let w = weight_matrix(r, m, k, src, layer.connectivity, g_ref);
            matches!(a.weight.data(), TensorData::F32(v) if *v == w)
        });
        let flat: Vec<f32> = if same {
            raw.unwrap_or_default()
        } else {
            notes.push(format!(
                "`{node_name}`: weights changed outside memsnn; conductances G = w·G_ref"
            ));
            let at_w = |j: usize, i: usize| (weight[j * src + i] * g_ref) as f32;
            match layer.connectivity {
                Connectivity::Dense => (0..m)
                    .flat_map(|j| (0..src).map(move |i| (j, i)))
                    .map(|(j, i)| at_w(j, i))
                    .collect(),
                Connectivity::OneToOne => (0..m).map(|j| at_w(j, j)).collect(),
            }
        };
        let siemens = flat.chunks(k.max(1)).map(<[f32]>::to_vec).collect();
        conductances.push(SavedLayer {
            name: layer.name.clone(),
            siemens,
        });
    }
    Ok(Imported {
        topology,
        files: names.into_iter().zip(texts).collect(),
        conductances,
        seed: seed as u64,
        notes,
    })
}
