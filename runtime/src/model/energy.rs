//! Energy accounting of a run: the circuits' counters summed by class, by layer and by
//! component kind (docs/energy.md has the model and every constant's provenance).
//!
//! ```no_run
//! use runtime::{ExecutorKind, Model};
//!
//! let model = Model::load("topologies/fig3b.ron")?;
//! let mut session = model.session(1, ExecutorKind::Reference, 1)?;
//! session.run_protocol()?;
//! let energy = session.energy();
//! println!("{:.3e} J in {} synaptic events", energy.total_joules, energy.synaptic_events);
//! # Ok::<(), runtime::Error>(())
//! ```
//!
//! The counters live in the components (each integrates its own dissipation between its
//! events, in closed form); this module only reads and adds them up. Reading them changes
//! nothing, so a report can be taken at any time between protocol steps.

use crate::circuits::column::Column;
use crate::circuits::lia::Lia;
use crate::circuits::neuron::Neuron;
use crate::engine::network::Network;
use crate::engine::time::Ns;
use crate::model::topology::LayerIds;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::AddAssign;

/// Energy split by class of operation, joules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyClasses {
    /// Synapse reads: current through 1T1R cells that do not program, `G·(A − V₁)²·t`.
    pub synapse_read_joules: f64,
    /// Synapse writes that potentiate (SET, `V > 0`), `V²·(G₀ + G₁)/2·t`.
    pub synapse_set_joules: f64,
    /// Synapse writes that depress (RESET, `V < 0`).
    pub synapse_reset_joules: f64,
    /// TS devices while OFF: integration up to the switching instant, `∫V²·G dt`.
    pub ts_switching_joules: f64,
    /// TS devices while ON: holding until they relax, `V²/R_on·t`.
    pub ts_holding_joules: f64,
    /// CMOS transitions: neurons' latches and gates, the LIA's comparator outputs.
    pub cmos_joules: f64,
    /// The LIA's resistive arrays (cells and sense loads) under the LI levels.
    pub lia_read_joules: f64,
}

impl EnergyClasses {
    /// Sum of every class, joules.
    pub fn total_joules(&self) -> f64 {
        self.synapse_read_joules
            + self.synapse_set_joules
            + self.synapse_reset_joules
            + self.ts_switching_joules
            + self.ts_holding_joules
            + self.cmos_joules
            + self.lia_read_joules
    }

    /// `(name, joules)` of every class, in the order of the fields.
    pub fn classes(&self) -> [(&'static str, f64); 7] {
        [
            ("synapse_read", self.synapse_read_joules),
            ("synapse_set", self.synapse_set_joules),
            ("synapse_reset", self.synapse_reset_joules),
            ("ts_switching", self.ts_switching_joules),
            ("ts_holding", self.ts_holding_joules),
            ("cmos", self.cmos_joules),
            ("lia_read", self.lia_read_joules),
        ]
    }

    /// The part of the neuron, column and LIA classes: `(neuron, column, lia)`, joules.
    fn by_kind(&self, lia_cmos_joules: f64) -> [(&'static str, f64); 3] {
        [
            (
                "neuron",
                self.ts_switching_joules + self.ts_holding_joules + self.cmos_joules
                    - lia_cmos_joules,
            ),
            (
                "column",
                self.synapse_read_joules + self.synapse_set_joules + self.synapse_reset_joules,
            ),
            ("lia", self.lia_read_joules + lia_cmos_joules),
        ]
    }
}

impl AddAssign for EnergyClasses {
    fn add_assign(&mut self, o: EnergyClasses) {
        self.synapse_read_joules += o.synapse_read_joules;
        self.synapse_set_joules += o.synapse_set_joules;
        self.synapse_reset_joules += o.synapse_reset_joules;
        self.ts_switching_joules += o.ts_switching_joules;
        self.ts_holding_joules += o.ts_holding_joules;
        self.cmos_joules += o.cmos_joules;
        self.lia_read_joules += o.lia_read_joules;
    }
}

/// The energy of a run so far: what `log.json` of `memsnn run` carries as `energy`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergyReport {
    /// Everything, joules.
    pub total_joules: f64,
    /// Pulses into synapses whose access transistor was on (pattern lines at each CLK
    /// rising edge, spikes on lines).
    pub synaptic_events: u64,
    /// `total_joules / synaptic_events` (0 without events), joules.
    pub joules_per_synaptic_event: f64,
    /// By class, over the whole network.
    pub by_class: EnergyClasses,
    /// By layer (its neurons, columns and LIA), by class.
    pub by_layer: BTreeMap<String, EnergyClasses>,
    /// By component kind (`neuron`, `column`, `lia`), joules.
    pub by_kind: BTreeMap<String, f64>,
}

impl EnergyReport {
    /// Reads the counters of every layer's components in `network` as of `now_ns` (the
    /// executor's time; read and array energies are integrated up to it).
    pub fn of(network: &Network, layers: &BTreeMap<String, LayerIds>, now_ns: Ns) -> Self {
        let clock = network.clock;
        let mut report = EnergyReport::default();
        let mut lia_cmos = 0.0;
        for (name, ids) in layers {
            let mut e = EnergyClasses::default();
            let mut transition_joules = 0.0;
            for (j, n) in ids
                .neurons
                .iter()
                .enumerate()
                .filter_map(|(j, &id)| Some((j, network.get::<Neuron>(id)?)))
            {
                // Neuron `j`'s column may still hold sources back from it.
                let held = ids
                    .columns
                    .get(j)
                    .and_then(|&c| network.get::<Column>(c))
                    .map_or(&[][..], Column::held_sources);
                let ts = n.ts_energy(now_ns, &clock, held);
                e.ts_switching_joules += ts.ts_joules;
                e.ts_holding_joules += ts.ts_hold_joules;
                e.cmos_joules += n.cmos_joules();
                transition_joules = n.circuit().cmos_transition_joules;
            }
            for c in ids
                .columns
                .iter()
                .filter_map(|&id| network.get::<Column>(id))
            {
                e.synapse_read_joules += c.read_joules(now_ns, &clock);
                e.synapse_set_joules += c.set_joules();
                e.synapse_reset_joules += c.write_joules() - c.set_joules();
                report.synaptic_events += c.synaptic_events(now_ns, &clock);
            }
            for l in ids.lia.iter().filter_map(|&id| network.get::<Lia>(id)) {
                e.lia_read_joules += l.read_joules(now_ns);
                // A comparator output costs what a latch or gate transition of the layer's
                // neurons costs (docs/energy.md).
                let c = l.transitions() as f64 * transition_joules;
                e.cmos_joules += c;
                lia_cmos += c;
            }
            report.by_class += e;
            report.by_layer.insert(name.clone(), e);
        }
        report.total_joules = report.by_class.total_joules();
        if report.synaptic_events > 0 {
            report.joules_per_synaptic_event = report.total_joules / report.synaptic_events as f64;
        }
        report.by_kind = report
            .by_class
            .by_kind(lia_cmos)
            .iter()
            .map(|&(k, j)| (k.to_string(), j))
            .collect();
        report
    }

    /// The energy spent between `earlier` and `self` (both of the same session), with
    /// its synaptic events.
    pub fn since(&self, earlier: &EnergyReport) -> EnergyReport {
        let sub = |a: &EnergyClasses, b: &EnergyClasses| {
            let mut d = *a;
            d.synapse_read_joules -= b.synapse_read_joules;
            d.synapse_set_joules -= b.synapse_set_joules;
            d.synapse_reset_joules -= b.synapse_reset_joules;
            d.ts_switching_joules -= b.ts_switching_joules;
            d.ts_holding_joules -= b.ts_holding_joules;
            d.cmos_joules -= b.cmos_joules;
            d.lia_read_joules -= b.lia_read_joules;
            d
        };
        let zero = EnergyClasses::default();
        let by_class = sub(&self.by_class, &earlier.by_class);
        let events = self.synaptic_events - earlier.synaptic_events.min(self.synaptic_events);
        let total = by_class.total_joules();
        EnergyReport {
            total_joules: total,
            synaptic_events: events,
            joules_per_synaptic_event: if events > 0 {
                total / events as f64
            } else {
                0.0
            },
            by_class,
            by_layer: self
                .by_layer
                .iter()
                .map(|(k, v)| (k.clone(), sub(v, earlier.by_layer.get(k).unwrap_or(&zero))))
                .collect(),
            by_kind: self
                .by_kind
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v - earlier.by_kind.get(k).copied().unwrap_or(0.0),
                    )
                })
                .collect(),
        }
    }
}
