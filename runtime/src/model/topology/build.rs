//! Building a checked topology: one component per neuron, synapse column, input
//! generator, LIA and gate driver, wired on a [`NetworkBuilder`].
//!
//! **Determinism.** Component ids follow the file's order (inputs, then per layer its
//! neurons, its columns, its LIA or gate driver). Every random stream is keyed by the seed
//! and stable identifiers — a tag, the layer's index in the file, the neuron's index and
//! the synapse's index — never by the iteration order of a hash map.

use super::built::{Built, LayerIds};
use super::check::Checked;
use super::error::TopologyError;
use super::resolve::{Devices, SavedByLayer};
use super::schema::{Connectivity, Inhibition, Initial, LayerSpec, Signal, Topology};
use crate::circuits::column::{self, Column};
use crate::circuits::gate_driver::GateDriver;
use crate::circuits::input::{self, InputGenerator};
use crate::circuits::lia::{Lia, LiaCircuit};
use crate::circuits::neuron::{self, Neuron};
use crate::engine::component::Component;
use crate::engine::event::{CompId, Port};
use crate::engine::network::NetworkBuilder;
use crate::engine::probe::Record;
use devices::rs::Fault;
use devices::variability::{key, lognormal_from_normal, KeyedStream};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Stream tag of input generators: `key(seed, &[TAG_INPUT, input index])`.
pub const TAG_INPUT: u64 = 0x7091;
/// Stream tag of neurons: `key(seed, &[TAG_NEURON, layer index, neuron index])`.
pub const TAG_NEURON: u64 = 0x7092;
/// Stream tag of columns: `key(seed, &[TAG_COLUMN, layer index, neuron index])`.
pub const TAG_COLUMN: u64 = 0x7093;
/// Stream tag of initial conductances: `key(seed, &[TAG_INITIAL, layer, neuron, synapse])`.
pub const TAG_INITIAL: u64 = 0x7094;
/// Stream tag of LIAs: `key(seed, &[TAG_LIA, layer index])`.
pub const TAG_LIA: u64 = 0x7095;
/// Columns per comparator bank of a lateral-inhibition array: larger layers get several
/// banks (components), so that the gate work of a fire can run in parallel.
pub const LIA_BANK_COLUMNS: usize = 256;

/// Stream tag of prototypes: `key(seed, &[TAG_PROTOTYPE, layer index])` is a layer's
/// [`LayerIds::prototype_key`].
pub const TAG_PROTOTYPE: u64 = 0x7096;

/// The binary prototype of column `j` of a layer with `initial: Prototypes(..)`: synapse
/// `i` is "on" with probability `p_on`, drawn from the stream `key(prototype_key, [j])`.
/// `prototype_key` is the layer's [`LayerIds::prototype_key`]; `synapses` the column size.
pub fn prototype(prototype_key: u64, j: usize, synapses: usize, p_on: f64) -> Vec<bool> {
    let mut s = KeyedStream::new(key(prototype_key, &[j as u64]));
    (0..synapses).map(|_| s.next_open01() < p_on).collect()
}

/// Builds a checked topology with root seed `seed`. Everything it needs was resolved by
/// the checks ([`Checked`]): building reads no file and checks nothing again, so a checked
/// topology builds any number of times, with any seeds.
pub fn build(checked: &Checked, seed: u64) -> Result<Built, TopologyError> {
    let topo = checked.topology();
    Builder {
        topo,
        devices: checked.devices(),
        saved: checked.saved(),
        seed,
        b: NetworkBuilder::new(topo.clock),
    }
    .run()
}

struct Builder<'a> {
    topo: &'a Topology,
    devices: &'a Devices,
    /// Saved conductances by layer index (`initial: Saved(..)`).
    saved: &'a SavedByLayer,
    seed: u64,
    b: NetworkBuilder,
}

impl Builder<'_> {
    fn fail(&self, message: String) -> TopologyError {
        TopologyError::Build {
            topology: self.topo.name.clone(),
            message,
        }
    }

    fn run(mut self) -> Result<Built, TopologyError> {
        let topo = self.topo;
        let mut inputs = BTreeMap::new();
        for (k, spec) in topo.inputs.iter().enumerate() {
            let seed = key(self.seed, &[TAG_INPUT, k as u64]);
            let generator =
                InputGenerator::new(spec.lines as usize, spec.amplitude_volts as f32, seed)
                    .with_pulse_prob(spec.pulse_prob);
            let id = self.b.add(spec.name.clone(), Box::new(generator));
            inputs.insert(spec.name.clone(), id);
        }
        let mut layers = BTreeMap::new();
        for (l, spec) in topo.layers.iter().enumerate() {
            let ids = self.add_layer(l, spec)?;
            layers.insert(spec.name.clone(), ids);
        }
        for spec in &topo.layers {
            self.wire_layer(spec, &inputs, &layers)?;
        }
        for (name, signals) in probed_signals(topo) {
            if let Some(&id) = inputs.get(name) {
                self.b.probe(id);
            }
            if let Some(ids) = layers.get(name) {
                for (id, _) in layer_kinds(ids, &signals) {
                    self.b.probe(id);
                }
            }
        }
        Ok(Built {
            builder: self.b,
            inputs,
            layers,
        })
    }

    /// Initial conductances of column `j` of layer `l` (siemens), for devices keyed by
    /// `column_key` (the same keys the column uses).
    fn initial(
        &self,
        l: usize,
        j: usize,
        spec: &LayerSpec,
        synapses: usize,
        column_key: u64,
    ) -> Vec<f32> {
        let syn = &self.devices.synapse;
        let proto = match &spec.initial {
            Initial::Prototypes { p_on, .. } => {
                Some(prototype(self.prototype_key(l), j, synapses, *p_on))
            }
            _ => None,
        };
        (0..synapses)
            .map(|i| {
                let g = match &spec.initial {
                    Initial::Uniform(g, cv) => {
                        let ids = [TAG_INITIAL, l as u64, j as u64, i as u64];
                        let z = KeyedStream::new(key(self.seed, &ids)).next_normal();
                        g * lognormal_from_normal(z, *cv)
                    }
                    Initial::Matrix(rows) => {
                        rows.get(j).and_then(|r| r.get(i)).copied().unwrap_or(0.0)
                    }
                    Initial::Saved(_) => self
                        .saved
                        .get(&l)
                        .and_then(|m| m.get(j))
                        .and_then(|r| r.get(i))
                        .map_or(0.0, |&g| g as f64),
                    Initial::Prototypes {
                        on_siemens,
                        off_siemens,
                        ..
                    } => {
                        let (lo, hi) = if proto.as_ref().is_some_and(|p| p[i]) {
                            *on_siemens
                        } else {
                            *off_siemens
                        };
                        let ids = [TAG_INITIAL, l as u64, j as u64, i as u64];
                        lo + (hi - lo) * KeyedStream::new(key(self.seed, &ids)).next_open01()
                    }
                };
                if !spec.programmable {
                    return g as f32;
                }
                let dev = syn.device(key(column_key, &[i as u64]), self.topo.variability);
                let g = match dev.fault {
                    Fault::StuckHrs => dev.g_min_siemens,
                    Fault::StuckLrs => dev.g_max_siemens,
                    Fault::None => g.clamp(dev.g_min_siemens, dev.g_max_siemens),
                };
                g as f32
            })
            .collect()
    }

    fn prototype_key(&self, l: usize) -> u64 {
        key(self.seed, &[TAG_PROTOTYPE, l as u64])
    }

    fn add_layer(&mut self, l: usize, spec: &LayerSpec) -> Result<LayerIds, TopologyError> {
        let topo = self.topo;
        let n = spec.neurons as usize;
        let source = topo.source_size(&spec.from).ok_or_else(|| {
            self.fail(format!("layer `{}`: no source `{}`", spec.name, spec.from))
        })?;
        let synapses = spec.synapses_per_column(source);
        let node_probe = probed_signals(topo)
            .get(spec.name.as_str())
            .is_some_and(|s| s.contains(&Signal::Node));
        let (layer_ts, layer_circuit) = match self.devices.layers.get(l) {
            Some((t, c)) => (t.as_ref(), c.as_ref()),
            None => (None, None),
        };
        let ts = layer_ts.unwrap_or(&self.devices.ts);
        let mut circuit = layer_circuit.unwrap_or(&self.devices.circuit).clone();
        if let Some(a) = spec.spike_amplitude_volts {
            circuit.spike_amplitude_volts = a;
        }
        if let Some(t) = spec.threshold_leak_seconds {
            match circuit.homeostasis.as_mut() {
                Some(h) => h.leak_seconds = t,
                None => {
                    return Err(self.fail(format!(
                        "layer `{}`: `threshold_leak_seconds` is set but its neuron circuit \
                         has no adaptive threshold (`homeostasis`); remove the field or use \
                         a circuit with one",
                        spec.name
                    )))
                }
            }
        }
        let mut ids = LayerIds {
            prototype_key: self.prototype_key(l),
            ..LayerIds::default()
        };
        for j in 0..n {
            let seed = key(self.seed, &[TAG_NEURON, l as u64, j as u64]);
            let ts_var = topo.neuron_variability.unwrap_or(topo.variability);
            let nrn = Neuron::new(ts, &circuit, ts_var, seed)
                .with_learning(spec.learning)
                .with_edge_probing(node_probe);
            ids.neurons.push(
                self.b
                    .add(format!("{}.neuron[{j}]", spec.name), Box::new(nrn)),
            );
        }
        let gate0 = match spec.inhibition {
            Inhibition::Supervised(v) => v,
            _ => spec.gate_volts,
        };
        for j in 0..n {
            let column_key = key(self.seed, &[TAG_COLUMN, l as u64, j as u64]);
            let g = self.initial(l, j, spec, synapses, column_key);
            let syn = self.devices.synapse.clone();
            let mut col = Column::new(
                syn,
                topo.variability,
                column_key,
                g,
                gate0 as f32,
                topo.substep_ns,
            );
            if !spec.programmable {
                col = col.fixed();
            }
            ids.columns.push(
                self.b
                    .add(format!("{}.column[{j}]", spec.name), Box::new(col)),
            );
        }
        match spec.inhibition {
            Inhibition::None => {}
            Inhibition::Supervised(v) => {
                let driver: Box<dyn Component> = Box::new(GateDriver::new(n, v as f32));
                ids.gate_driver = Some(self.b.add(format!("{}.gates", spec.name), driver));
            }
            Inhibition::Lia => {
                let params = self.devices.lia.as_ref().ok_or_else(|| {
                    self.fail(format!(
                        "layer `{}` has an LIA but `devices.lia` is not given",
                        spec.name
                    ))
                })?;
                let seed = key(self.seed, &[TAG_LIA, l as u64]);
                let circuit = LiaCircuit::new(
                    params,
                    n,
                    &self.devices.synapse,
                    &self.devices.comparator,
                    topo.lia_variability.unwrap_or(topo.variability),
                    seed,
                )
                .map_err(|e| self.fail(format!("layer `{}`: {e}", spec.name)))?;
                // A hierarchical LIA's gate line waits for one comparator per level.
                let delay = params.comparator_delay_ns * circuit.depth() as u64;
                let array = Arc::new(circuit);
                let banks = n.div_ceil(LIA_BANK_COLUMNS);
                for b in 0..banks {
                    let columns = b * LIA_BANK_COLUMNS..((b + 1) * LIA_BANK_COLUMNS).min(n);
                    let name = if banks == 1 {
                        format!("{}.lia", spec.name)
                    } else {
                        format!("{}.lia[{b}]", spec.name)
                    };
                    let bank = Lia::bank(Arc::clone(&array), columns)
                        .with_delay(delay)
                        .with_hold(params.hold);
                    ids.lia.push(self.b.add(name, Box::new(bank)));
                }
            }
        }
        Ok(ids)
    }

    fn wire_layer(
        &mut self,
        spec: &LayerSpec,
        inputs: &BTreeMap<String, CompId>,
        layers: &BTreeMap<String, LayerIds>,
    ) -> Result<(), TopologyError> {
        let me = layers
            .get(&spec.name)
            .ok_or_else(|| self.fail(format!("layer `{}` was not built", spec.name)))?;
        let too_many = self.fail(format!("layer `{}`: too many source lines", spec.name));
        let line_port = |i: usize| {
            u32::try_from(i)
                .ok()
                .and_then(|i| column::IN_LINE_BASE.checked_add(i))
        };
        let b = &mut self.b;
        if let Some(&input) = inputs.get(&spec.from) {
            for &col in &me.columns {
                b.connect(input, input::OUT_LINES, col, column::IN_PATTERN);
            }
        } else if let Some(src) = layers.get(&spec.from) {
            match spec.connectivity {
                Connectivity::Dense => {
                    for (i, &pre) in src.neurons.iter().enumerate() {
                        let Some(port) = line_port(i) else {
                            return Err(too_many);
                        };
                        for &col in &me.columns {
                            b.connect(pre, neuron::OUT_SPIKE, col, port);
                        }
                    }
                }
                Connectivity::OneToOne => {
                    for (&pre, &col) in src.neurons.iter().zip(&me.columns) {
                        b.connect(pre, neuron::OUT_SPIKE, col, column::IN_LINE_BASE);
                    }
                }
            }
        } else {
            return Err(self.fail(format!("layer `{}`: no source `{}`", spec.name, spec.from)));
        }
        for (j, (&nrn, &col)) in me.neurons.iter().zip(&me.columns).enumerate() {
            b.connect(col, column::OUT_COLUMN, nrn, neuron::IN_COLUMN);
            b.connect(nrn, neuron::OUT_NODE, col, column::IN_NODE);
            let j = j as Port;
            for (k, &bank) in me.lia.iter().enumerate() {
                b.connect(nrn, neuron::OUT_LI, bank, j);
                if j as usize / LIA_BANK_COLUMNS == k {
                    b.connect(bank, j, col, column::IN_GATE);
                }
            }
            if let Some(driver) = me.gate_driver {
                b.connect(driver, j, col, column::IN_GATE);
            }
        }
        Ok(())
    }
}

/// The signals probed per target name (union of all probe entries).
fn probed_signals(topo: &Topology) -> BTreeMap<&str, BTreeSet<Signal>> {
    let mut out: BTreeMap<&str, BTreeSet<Signal>> = BTreeMap::new();
    for p in &topo.probes {
        out.entry(p.target.as_str())
            .or_default()
            .extend(p.signals.iter().copied());
    }
    out
}

/// Record kinds of each signal.
pub fn signal_kinds(signal: Signal) -> &'static [&'static str] {
    match signal {
        Signal::Spikes => &["fire", "spike"],
        Signal::Node => &["v_node1", "v_node2", "l1", "l2", "v_out"],
        Signal::Gates => &["gate"],
        Signal::Conductances => &["g"],
    }
}

/// The components of a layer that record `signals`, with the record kinds kept.
fn layer_kinds(ids: &LayerIds, signals: &BTreeSet<Signal>) -> Vec<(CompId, Vec<&'static str>)> {
    let mut out: BTreeMap<CompId, Vec<&'static str>> = BTreeMap::new();
    for &s in signals {
        let comps: Vec<CompId> = match s {
            Signal::Spikes | Signal::Node => ids.neurons.clone(),
            Signal::Conductances => ids.columns.clone(),
            Signal::Gates => ids.lia.iter().chain(&ids.gate_driver).copied().collect(),
        };
        for c in comps {
            out.entry(c).or_default().extend(signal_kinds(s));
        }
    }
    out.into_iter().collect()
}

/// Which records of which components the topology's probes asked for. A probed component
/// records everything it knows (e.g. a neuron probed for spikes also logs its node); this
/// keeps only the requested kinds. Inputs keep every kind they record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeSelection {
    /// Component id → record kinds kept (`None` = all).
    pub kinds: BTreeMap<CompId, Option<Vec<&'static str>>>,
}

impl ProbeSelection {
    /// The selection of `topo`'s probes on a network built from it.
    pub fn new(topo: &Topology, built: &Built) -> Self {
        let mut kinds = BTreeMap::new();
        for (name, signals) in probed_signals(topo) {
            if let Some(&id) = built.inputs.get(name) {
                kinds.insert(id, None);
            }
            if let Some(ids) = built.layers.get(name) {
                for (id, k) in layer_kinds(ids, &signals) {
                    kinds.insert(id, Some(k));
                }
            }
        }
        ProbeSelection { kinds }
    }

    /// Whether `r` was asked for.
    pub fn keeps(&self, r: &Record) -> bool {
        match self.kinds.get(&r.comp) {
            Some(None) => true,
            Some(Some(k)) => k.contains(&r.kind),
            None => false,
        }
    }

    /// The records that were asked for, in their original order.
    pub fn filter(&self, records: Vec<Record>) -> Vec<Record> {
        records.into_iter().filter(|r| self.keeps(r)).collect()
    }
}
