//! The metadata keys memsnn writes into a NIR graph, and typed access to a node's
//! metadata. A graph that carries [`TOPOLOGY`] in its root metadata came from memsnn and
//! re-imports losslessly; any other graph is imported through the documented mapping.

use anyhow::{anyhow, Result};
use nir_rs::{MetadataMap, MetadataValue, Tensor, TensorData};

/// Root: the format tag, [`FORMAT_VALUE`].
pub const FORMAT: &str = "memsnn_format";
/// The value of [`FORMAT`] this version writes and reads.
pub const FORMAT_VALUE: &str = "memsnn-nir 1";
/// Root: the topology as RON, its file references canonical (built-in names or the
/// names of [`FILE_NAMES`]) and every layer's `initial` replaced by `Matrix([])` unless
/// it is `Prototypes(..)` (the conductances travel in the synapse nodes).
pub const TOPOLOGY: &str = "memsnn_topology";
/// Root: the seed whose fabricated devices the conductances were read from.
pub const SEED: &str = "memsnn_seed";
/// Root: names of the files the topology names (device sets, patterns), one per text.
pub const FILE_NAMES: &str = "memsnn_file_names";
/// Root: the texts of those files, in the order of [`FILE_NAMES`].
pub const FILE_TEXTS: &str = "memsnn_file_texts";
/// Root: the built-in parameter sets the topology names, their RON texts in
/// [`BUILTIN_TEXTS`] (informative: the device physics without memsnn at hand).
pub const BUILTIN_NAMES: &str = "memsnn_builtin_names";
/// Root: the texts of those built-in sets.
pub const BUILTIN_TEXTS: &str = "memsnn_builtin_texts";

/// Every node: what part of the network it stands for (`input`, `synapses`, `neurons`,
/// `lia`, `output`).
pub const KIND: &str = "memsnn_kind";
/// Synapse, neuron, LIA and output nodes: the memsnn layer.
pub const LAYER: &str = "memsnn_layer";
/// Synapse nodes: the conductances, siemens, `f32` of shape `[neurons, synapses]`.
pub const CONDUCTANCE: &str = "memsnn_conductance_siemens";
/// Synapse nodes: the conductance a weight of 1 stands for (the synapse's `G_max`), S.
pub const G_REF: &str = "memsnn_g_ref_siemens";
/// Synapse nodes: `Dense` or `OneToOne`.
pub const CONNECTIVITY: &str = "memsnn_connectivity";
/// Input nodes: pulse amplitude of black pixels, volts.
pub const AMPLITUDE: &str = "memsnn_amplitude_volts";
/// Neuron nodes: the TS device set (built-in name or canonical file name).
pub const TS: &str = "memsnn_ts";
/// Neuron nodes: the CMOS circuit set.
pub const CIRCUIT: &str = "memsnn_circuit";
/// Neuron nodes: what drives the gate lines (`None`, `Lia`, `Supervised(volts)`).
pub const INHIBITION: &str = "memsnn_inhibition";
/// LIA nodes: the lateral-inhibition array's parameter set.
pub const LIA: &str = "memsnn_lia";

/// A string entry of `meta`, if present and a string.
pub fn string<'a>(meta: &'a MetadataMap, key: &str) -> Option<&'a str> {
    match meta.get(key) {
        Some(MetadataValue::String(s)) => Some(s),
        _ => None,
    }
}

/// A list-of-strings entry of `meta` (an empty list when absent).
pub fn strings(meta: &MetadataMap, key: &str) -> Result<Vec<String>> {
    match meta.get(key) {
        None => Ok(Vec::new()),
        Some(MetadataValue::StringList(v)) => Ok(v.clone()),
        Some(MetadataValue::String(s)) => Ok(vec![s.clone()]),
        Some(other) => Err(anyhow!(
            "metadata `{key}` is not a list of strings ({other:?})"
        )),
    }
}

/// An integer entry of `meta`.
pub fn int(meta: &MetadataMap, key: &str) -> Option<i64> {
    match meta.get(key) {
        Some(MetadataValue::I64(v)) => Some(*v),
        Some(MetadataValue::F64(v)) if v.fract() == 0.0 => Some(*v as i64),
        _ => None,
    }
}

/// A number entry of `meta`.
pub fn number(meta: &MetadataMap, key: &str) -> Option<f64> {
    match meta.get(key) {
        Some(MetadataValue::F64(v)) => Some(*v),
        Some(MetadataValue::I64(v)) => Some(*v as f64),
        Some(MetadataValue::Tensor(t)) if t.data().len() == 1 => values(t).first().copied(),
        _ => None,
    }
}

/// A tensor entry of `meta`.
pub fn tensor<'a>(meta: &'a MetadataMap, key: &str) -> Option<&'a Tensor> {
    match meta.get(key) {
        Some(MetadataValue::Tensor(t)) => Some(t),
        _ => None,
    }
}

/// The values of a numeric tensor as `f64` (booleans as 0/1), row-major.
pub fn values(t: &Tensor) -> Vec<f64> {
    match t.data() {
        TensorData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        TensorData::F64(v) => v.clone(),
        TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        TensorData::Bool(v) => v.iter().map(|&b| f64::from(u8::from(b))).collect(),
    }
}
