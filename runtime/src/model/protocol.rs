//! Protocols: a topology's list of steps (present a pattern, rest, present until a layer
//! fires, switch learning, set amplitudes and gates) run on any [`Executor`].
//!
//! Each step is a few of the [`Driver`]'s primitive operations: steps act only through
//! control events injected at the current instant (a component handles them in the first
//! batch of that instant, with the network's own events), and decisions (has the layer
//! fired enough?) are taken only at CLK-period boundaries, from [`Neuron::fires`] — so
//! the protocol takes the same path on every executor.
//!
//! Steps without a duration (`SetLearning`, `SetAmplitude`, `SetSpikeAmplitude`,
//! `SetGates`) take effect when the next step runs the simulation; at the very end of a
//! protocol they have no effect.

use crate::circuits::neuron::Neuron;
use crate::engine::event::CompId;
use crate::engine::exec::Executor;
use crate::engine::network::Network;
use crate::engine::time::Ns;
use crate::model::driver::Driver;
use crate::model::topology::build::prototype;
use crate::model::topology::built::{Built, LayerIds};
use crate::model::topology::schema::us_to_ns;
use crate::model::topology::schema::{Initial, Patterns, Step, Topology};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The component ids a protocol needs (a [`Built`] without its network builder, which is
/// consumed when the network is built).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkIds {
    /// Input generators by name.
    pub inputs: BTreeMap<String, CompId>,
    /// Neuron layers by name.
    pub layers: BTreeMap<String, LayerIds>,
}

impl NetworkIds {
    /// The ids of a built topology.
    pub fn of(built: &Built) -> Self {
        NetworkIds {
            inputs: built.inputs.clone(),
            layers: built.layers.clone(),
        }
    }
}

/// Why a protocol could not run (a topology that skipped validation).
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A step names something the network or pattern file does not have.
    #[error("protocol step {step}: {message} — hint: validate the topology first (`memsnn validate FILE`)")]
    Step {
        /// Index of the step in `protocol`.
        step: usize,
        /// What is wrong.
        message: String,
    },
    /// The simulation stopped during a step (a zero-time loop).
    #[error("protocol step {step}: the simulation stopped: {message}")]
    Halted {
        /// Index of the step in `protocol`.
        step: usize,
        /// What is wrong.
        message: String,
    },
}

/// What happened during one step, as the log shows it (built from a [`StepRecord`] on
/// demand: [`StepLogs::get`], [`StepLogs::iter`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepLog {
    /// Index of the step in the topology's `protocol`.
    pub index: usize,
    /// The step as written.
    pub step: Step,
    /// Simulated time at the start of the step, ns.
    pub start_ns: Ns,
    /// Simulated time at its end, ns.
    pub end_ns: Ns,
    /// CLK periods run (`PresentUntilFire` only).
    pub cycles: Option<u64>,
    /// Whether the awaited fires happened within `max_cycles` (`PresentUntilFire` only).
    pub reached: Option<bool>,
    /// Fires per layer during the step (layers with none are omitted).
    pub fires: BTreeMap<String, u64>,
    /// Output spikes per layer during the step (layers with none are omitted).
    pub spikes: BTreeMap<String, u64>,
}

/// What happened during one step, as a run keeps it: ~100 bytes for a two-layer network
/// (the step itself is the topology's; the counts are dense, in the order of the layer
/// names). A run of many steps holds one per step, not a [`StepLog`] with its maps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Index of the step in the topology's `protocol`.
    pub index: u64,
    /// Simulated time at the start of the step, ns.
    pub start_ns: Ns,
    /// Simulated time at its end, ns.
    pub end_ns: Ns,
    /// CLK periods run (`PresentUntilFire` only).
    pub cycles: Option<u64>,
    /// Whether the awaited fires happened within `max_cycles` (`PresentUntilFire` only).
    pub reached: Option<bool>,
    /// Fires of each layer during the step, then its output spikes (layers in name order:
    /// `2 × layers` values).
    pub counts: Box<[u64]>,
}

/// The steps of a protocol run: compact records, with the names and steps to show them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepLogs {
    layers: Vec<String>,
    protocol: Vec<Step>,
    records: Vec<StepRecord>,
}

impl StepLogs {
    /// Steps logged.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no step was logged.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The `i`-th step logged, if there is one.
    pub fn get(&self, i: usize) -> Option<StepLog> {
        self.records.get(i).and_then(|r| self.view(r))
    }

    /// The steps in order.
    pub fn iter(&self) -> impl Iterator<Item = StepLog> + '_ {
        self.records.iter().filter_map(|r| self.view(r))
    }

    /// The compact records.
    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    /// The record shown with its step (`None` for an index the protocol does not have,
    /// which a run never records).
    fn view(&self, r: &StepRecord) -> Option<StepLog> {
        let n = self.layers.len();
        let nonzero = |part: &[u64]| -> BTreeMap<String, u64> {
            self.layers
                .iter()
                .zip(part)
                .filter(|(_, &c)| c > 0)
                .map(|(name, &c)| (name.clone(), c))
                .collect()
        };
        let (fires, spikes) = r.counts.split_at(n.min(r.counts.len()));
        let index = usize::try_from(r.index).ok()?;
        Some(StepLog {
            index,
            step: self.protocol.get(index)?.clone(),
            start_ns: r.start_ns,
            end_ns: r.end_ns,
            cycles: r.cycles,
            reached: r.reached,
            fires: nonzero(fires),
            spikes: nonzero(spikes),
        })
    }
}

impl Serialize for StepLogs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// Totals of one layer at the end of a protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LayerCounts {
    /// Fires of the whole layer.
    pub fires: u64,
    /// Output spikes of the whole layer.
    pub spikes: u64,
    /// Fires of each neuron.
    pub fires_per_neuron: Vec<u64>,
    /// Output spikes of each neuron.
    pub spikes_per_neuron: Vec<u64>,
}

/// What a protocol did, step by step; serializable to JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProtocolLog {
    /// The topology's name.
    pub topology: String,
    /// One entry per step, in order.
    pub steps: StepLogs,
    /// Simulated time at the end, ns.
    pub end_ns: Ns,
    /// Totals per layer at the end (counted from time 0).
    pub layers: BTreeMap<String, LayerCounts>,
}

/// Reads every layer's fire and spike counters (fetching only the neurons' states).
fn counts(sim: &mut dyn Executor, ids: &NetworkIds) -> BTreeMap<String, LayerCounts> {
    let neurons: Vec<CompId> = ids
        .layers
        .values()
        .flat_map(|l| l.neurons.iter().copied())
        .collect();
    counts_in(sim.network_of(&neurons), ids)
}

/// Every layer's fire and spike counters in `net`.
fn counts_in(net: &Network, ids: &NetworkIds) -> BTreeMap<String, LayerCounts> {
    ids.layers
        .iter()
        .map(|(name, l)| {
            let mut c = LayerCounts::default();
            for &id in &l.neurons {
                let (f, s) = net
                    .get::<Neuron>(id)
                    .map_or((0, 0), |n| (n.fires(), n.spikes()));
                c.fires += f;
                c.spikes += s;
                c.fires_per_neuron.push(f);
                c.spikes_per_neuron.push(s);
            }
            (name.clone(), c)
        })
        .collect()
}

/// Differences of two snapshots: fires of each layer, then spikes (name order).
fn deltas(
    before: &BTreeMap<String, LayerCounts>,
    after: &BTreeMap<String, LayerCounts>,
) -> Box<[u64]> {
    let diff = |f: fn(&LayerCounts) -> u64| {
        after
            .iter()
            .map(move |(name, a)| f(a).saturating_sub(before.get(name).map_or(0, f)))
    };
    diff(|c| c.fires).chain(diff(|c| c.spikes)).collect()
}

/// Runs the steps of one protocol through a [`Driver`].
struct Steps<'a> {
    driver: Driver<'a>,
    topo: &'a Topology,
    ids: &'a NetworkIds,
    patterns: Option<&'a Patterns>,
    step: usize,
}

impl Steps<'_> {
    fn fail(&self, message: String) -> ProtocolError {
        ProtocolError::Step {
            step: self.step,
            message,
        }
    }

    fn input(&self, name: &str) -> Result<CompId, ProtocolError> {
        let id = self.ids.inputs.get(name).copied();
        id.ok_or_else(|| self.fail(format!("no input is called `{name}`")))
    }

    fn layer(&self, name: &str) -> Result<&LayerIds, ProtocolError> {
        let ids = self.ids.layers.get(name);
        ids.ok_or_else(|| self.fail(format!("no layer is called `{name}`")))
    }

    fn neurons(&self, name: &str) -> Result<Vec<CompId>, ProtocolError> {
        Ok(self.layer(name)?.neurons.clone())
    }

    fn present(&mut self, input: &str, pattern: &str, flips: u32) -> Result<(), ProtocolError> {
        let id = self.input(input)?;
        let pixels = self
            .patterns
            .and_then(|p| p.get(pattern))
            .ok_or_else(|| self.fail(format!("no pattern is called `{pattern}`")))?;
        self.driver.present(id, &pixels, flips);
        Ok(())
    }

    /// Runs one step; returns `(cycles, reached)` for `PresentUntilFire`.
    fn run(&mut self, step: &Step) -> Result<Option<(u64, bool)>, ProtocolError> {
        match step {
            Step::Present {
                input,
                pattern,
                flips,
                duration_us,
            } => {
                self.present(input, pattern, *flips)?;
                self.driver.run_for(us_to_ns(*duration_us));
            }
            Step::PresentPrototype {
                input,
                layer,
                neuron,
                flips,
                duration_us,
            } => {
                let id = self.input(input)?;
                let key = self.layer(layer)?.prototype_key;
                let spec = self.topo.layer(layer);
                let synapses = self.topo.source_size(input);
                let pixels = match (spec.map(|s| &s.initial), synapses) {
                    (Some(Initial::Prototypes { p_on, .. }), Some(k)) => {
                        prototype(key, *neuron as usize, k, *p_on)
                    }
                    _ => return Err(self.fail(format!("layer `{layer}` has no prototypes"))),
                };
                self.driver.present(id, &pixels, *flips);
                self.driver.run_for(us_to_ns(*duration_us));
            }
            Step::Rest { duration_us } => {
                let inputs: Vec<CompId> = self.ids.inputs.values().copied().collect();
                self.driver.stop(&inputs);
                self.driver.run_for(us_to_ns(*duration_us));
                // The reset line of winner-holding LIAs ends the rest (the paper's LIA
                // ignores it); it takes effect when the next step runs.
                let banks: Vec<CompId> = self
                    .ids
                    .layers
                    .values()
                    .flat_map(|l| l.lia.iter().copied())
                    .collect();
                self.driver.release_lia(&banks);
            }
            Step::PresentUntilFire {
                input,
                pattern,
                flips,
                layer,
                fires,
                max_cycles,
            } => {
                let neurons = self.neurons(layer)?;
                self.present(input, pattern, *flips)?;
                let outcome = self
                    .driver
                    .until_fires(&neurons, u64::from(*fires), *max_cycles);
                return Ok(Some(outcome));
            }
            Step::SetLearning { layer, on } => {
                let neurons = self.neurons(layer)?;
                self.driver.set_learning(&neurons, *on);
            }
            Step::SetSpikeAmplitude { layer, volts } => {
                let neurons = self.neurons(layer)?;
                self.driver.set_spike_amplitude(&neurons, *volts as f32);
            }
            Step::SetAmplitude { input, volts } => {
                let id = self.input(input)?;
                self.driver.set_amplitude(id, *volts as f32);
            }
            Step::SetGates { layer, volts } => {
                let driver = self.layer(layer)?.gate_driver;
                let driver = driver.ok_or_else(|| {
                    self.fail(format!(
                        "layer `{layer}` has no gate driver (not `Supervised`)"
                    ))
                })?;
                let levels: Arc<[f32]> = volts.iter().map(|&v| v as f32).collect();
                self.driver.set_gates(driver, levels);
            }
        }
        Ok(None)
    }
}

/// Runs `topo`'s protocol on `sim` (a network built from `topo`, with `ids`), from the
/// simulation's current time. `patterns` is the topology's pattern file, if any.
pub fn run_protocol(
    sim: &mut dyn Executor,
    ids: &NetworkIds,
    topo: &Topology,
    patterns: Option<&Patterns>,
) -> Result<ProtocolLog, ProtocolError> {
    run_protocol_observed(sim, ids, topo, patterns, |_| {})
}

/// [`run_protocol`], calling `done` with the number of steps finished after each step
/// (for a progress display).
pub fn run_protocol_observed(
    sim: &mut dyn Executor,
    ids: &NetworkIds,
    topo: &Topology,
    patterns: Option<&Patterns>,
    mut done: impl FnMut(usize),
) -> Result<ProtocolLog, ProtocolError> {
    let mut steps = Vec::with_capacity(topo.protocol.len());
    for index in 0..topo.protocol.len() {
        steps.push(run_step(sim, ids, topo, patterns, index)?);
        done(index + 1);
    }
    Ok(finish(sim, ids, topo, steps))
}

/// Runs step `index` of `topo`'s protocol on `sim` (see [`run_protocol`]): a protocol run
/// step by step, with anything between two steps (a checkpoint), is the same run. An index
/// beyond the protocol is an error.
pub fn run_step(
    sim: &mut dyn Executor,
    ids: &NetworkIds,
    topo: &Topology,
    patterns: Option<&Patterns>,
    index: usize,
) -> Result<StepRecord, ProtocolError> {
    let Some(step) = topo.protocol.get(index) else {
        return Err(ProtocolError::Step {
            step: index,
            message: format!("the protocol has {} steps", topo.protocol.len()),
        });
    };
    let before = counts(sim, ids);
    let mut steps_run = Steps {
        driver: Driver::new(sim),
        topo,
        ids,
        patterns,
        step: index,
    };
    let start_ns = steps_run.driver.now();
    let outcome = steps_run.run(step)?;
    if let Some(e) = steps_run.driver.sim.halted() {
        return Err(ProtocolError::Halted {
            step: index,
            message: e.to_string(),
        });
    }
    Ok(StepRecord {
        index: index as u64,
        start_ns,
        end_ns: steps_run.driver.now(),
        cycles: outcome.map(|o| o.0),
        reached: outcome.map(|o| o.1),
        counts: deltas(&before, &counts(steps_run.driver.sim, ids)),
    })
}

/// The log of a protocol whose steps logged `steps`, read from `sim` at its end.
pub fn finish(
    sim: &dyn Executor,
    ids: &NetworkIds,
    topo: &Topology,
    steps: Vec<StepRecord>,
) -> ProtocolLog {
    ProtocolLog {
        topology: topo.name.clone(),
        steps: StepLogs {
            layers: ids.layers.keys().cloned().collect(),
            protocol: topo.protocol.clone(),
            records: steps,
        },
        end_ns: sim.now(),
        layers: counts_in(sim.network(), ids),
    }
}
