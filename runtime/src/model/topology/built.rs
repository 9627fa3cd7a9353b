//! What building a topology yields: the network plus the ids of its parts, by name.

use crate::engine::event::CompId;
use crate::engine::network::NetworkBuilder;
use std::collections::BTreeMap;

/// Component ids of one layer of hybrid neurons.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LayerIds {
    /// Neuron `j` of the layer.
    pub neurons: Vec<CompId>,
    /// The synapse column into neuron `j`.
    pub columns: Vec<CompId>,
    /// The lateral-inhibition array driving the columns' gates, as comparator banks of
    /// consecutive columns (one bank up to 256 neurons); empty without an LIA.
    pub lia: Vec<CompId>,
    /// The gate driver (supervised layers), if any.
    pub gate_driver: Option<CompId>,
    /// Key of the layer's prototypes (`initial: Prototypes(..)`), see
    /// [`super::prototype`].
    pub prototype_key: u64,
}

/// A topology turned into components, ready to run.
pub struct Built {
    /// The network (still a graph: add probes or components before `build()`).
    pub builder: NetworkBuilder,
    /// Input generators by name.
    pub inputs: BTreeMap<String, CompId>,
    /// Neuron layers by name.
    pub layers: BTreeMap<String, LayerIds>,
}
