//! The network a protocol names, built and ready to train: the topology loaded (and changed
//! as an ablation step says), its patterns checked against the input, the hidden
//! winner-take-all layer and the supervised output layer found by their inhibition.

use super::protocol::{default_protocol_path, load_protocol, Fig5Protocol};
use crate::experiments::msnn::{DriveLevels, Msnn};
use crate::experiments::RunOptions;
use anyhow::{bail, Context, Result};
use devices::params::load_ron_within;
use devices::Variability;
use runtime::engine::exec::reference::Simulation;
use runtime::model::topology::rules::MAX_PATTERN_FILE_BYTES;
use runtime::model::topology::schema::{Inhibition, Patterns};
use runtime::model::topology::{build, load_named_by, LayerIds, SavedWeights};
use std::path::Path;

/// The network of a protocol, ready to train.
pub struct Setup {
    /// The running network.
    pub msnn: Msnn,
    /// Pattern names and pixels, in file order.
    pub patterns: Vec<(String, Vec<bool>)>,
    /// Pattern grid (rows, columns).
    pub dims: (usize, usize),
    /// Name of the topology.
    pub topology: String,
    /// Every layer's ids, by name (to save the trained conductances).
    pub layers: std::collections::BTreeMap<String, LayerIds>,
    /// Draw progress bars for training and inference (default true; off for runs made in
    /// parallel).
    pub show_progress: bool,
}

impl Setup {
    /// The conductances of every layer now, as a weights file that a topology layer
    /// restores with `initial: Saved(..)`.
    pub fn saved_weights(&self, seed: u64) -> SavedWeights {
        let sim = &self.msnn.sim;
        SavedWeights::capture(&self.topology, seed, &sim.net, sim.now(), &self.layers)
    }
}

/// Builds the network named by `proto` (protocol file at `proto_path`), with `patterns`
/// overriding the topology's pattern file and `neurons` overriding the neurons' TS
/// randomness (the ablation).
pub fn setup(
    proto: &Fig5Protocol,
    proto_path: &Path,
    opts: &RunOptions,
    neurons: Option<Variability>,
) -> Result<Setup> {
    setup_edited(proto, proto_path, opts, neurons, &|_| {})
}

/// [`setup`] with the topology changed by `edit` before it is built (the ablation's
/// variants: another device set or LIA, named as in a topology file).
pub fn setup_edited(
    proto: &Fig5Protocol,
    proto_path: &Path,
    opts: &RunOptions,
    neurons: Option<Variability>,
    edit: &dyn Fn(&mut runtime::model::topology::schema::Topology),
) -> Result<Setup> {
    let base = proto_path.parent().unwrap_or(Path::new("."));
    let topo_path = base.join(&proto.topology);
    let checked = load_named_by(&topo_path, proto_path, "topology")?.edit(|t| {
        edit(t);
        t.variability = opts.variability;
        // The experiment reads counters, not probes: recording for thousands of
        // presentations would only fill memory.
        t.probes.clear();
        if let Some(v) = neurons {
            t.neuron_variability = Some(v);
        }
    })?;
    let patterns: Patterns = match &opts.patterns {
        Some(p) => load_ron_within(p, MAX_PATTERN_FILE_BYTES)?,
        None => checked
            .patterns()
            .cloned()
            .context("the topology names no pattern file: pass --patterns FILE")?,
    };
    let built = build(&checked, opts.seed)?;
    let input = *built
        .inputs
        .values()
        .next()
        .context("the topology has no input generator")?;
    let hidden_spec = checked
        .topology()
        .layers
        .iter()
        .find(|l| l.inhibition == Inhibition::Lia)
        .context("the topology has no layer with an LIA (the winner-take-all hidden layer)")?;
    let output_spec = checked
        .topology()
        .layers
        .iter()
        .find(|l| matches!(l.inhibition, Inhibition::Supervised(_)))
        .context("the topology has no supervised layer (gate driver)")?;
    let hidden = built.layers[&hidden_spec.name].clone();
    let output = built.layers[&output_spec.name].clone();
    let lines = checked
        .topology()
        .input(&checked.topology().inputs[0].name)
        .map_or(0, |i| i.lines as usize);
    let items: Vec<(String, Vec<bool>)> = patterns
        .items
        .iter()
        .map(|p| (p.name.clone(), patterns.get(&p.name).unwrap_or_default()))
        .collect();
    if let Some((name, px)) = items.iter().find(|(_, px)| px.len() != lines) {
        bail!(
            "pattern `{name}` has {} pixels but the input has {lines} lines",
            px.len()
        );
    }
    if items.len() > output.neurons.len() {
        bail!(
            "{} patterns but only {} output neurons: each pattern needs its own output neuron",
            items.len(),
            output.neurons.len()
        );
    }
    let layers = built.layers.clone();
    let sim = Simulation::new(built.builder.build());
    let l = &proto.levels;
    let msnn = Msnn {
        sim,
        input,
        hidden,
        output,
        levels: DriveLevels {
            input_write_volts: l.input_write_volts,
            spike_write_volts: l.spike_write_volts,
            read_volts: l.read_volts,
            gate_on_volts: l.gate_on_volts,
        },
        rest_cycles: proto.rest_cycles,
    };
    Ok(Setup {
        msnn,
        patterns: items,
        dims: (patterns.height as usize, patterns.width as usize),
        topology: checked.topology().name.clone(),
        layers,
        show_progress: true,
    })
}

/// One configuration of the experiment: the built-in (or `--protocol`) protocol and its
/// topology, changed as an ablation step says.
#[derive(Clone, Copy)]
pub(super) struct Variant {
    /// Short name (summary.json, table).
    pub name: &'static str,
    /// What is switched off, in words.
    pub what: &'static str,
    /// Randomness of the neurons' TS devices (`None`: the topology's).
    pub neurons: Option<Variability>,
    /// Changes to the topology before it is built.
    pub topology: fn(&mut runtime::model::topology::schema::Topology),
    /// Changes to the protocol.
    pub protocol: fn(&mut Fig5Protocol),
}

impl Variant {
    /// The configuration as its files describe it.
    pub const AS_GIVEN: Variant = Variant {
        name: "working configuration",
        what: "nothing",
        neurons: None,
        topology: |_| {},
        protocol: |_| {},
    };
}

/// Loads the protocol (`--protocol`, else the built-in one) and builds the network of
/// `variant`.
pub(super) fn setup_variant(
    opts: &RunOptions,
    variant: &Variant,
    show_progress: bool,
) -> Result<(Setup, Fig5Protocol)> {
    let path = opts.protocol.clone().unwrap_or_else(default_protocol_path);
    let mut proto = load_protocol(&path)?;
    (variant.protocol)(&mut proto);
    let mut s = setup_edited(&proto, &path, opts, variant.neurons, &variant.topology)?;
    s.show_progress = show_progress;
    Ok((s, proto))
}

pub(super) use crate::experiments::progress;
