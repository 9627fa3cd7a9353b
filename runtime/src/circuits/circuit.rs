//! Parameters of the hybrid neuron's CMOS circuit (Fig 3a): transistors T1, T2, T3, the
//! latches' input threshold, the spike and lateral-inhibition levels.

use devices::params::{parse_ron, Validate, Validator};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The built-in circuit parameters (`topologies/devices/neuron_cmos.ron`).
pub const BUILTIN_NEURON_CMOS: &str = devices::builtin::NEURON_CMOS;

/// The neuron circuit around the TS device (values in `topologies/devices/neuron_cmos.ron`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuronCircuit {
    /// T1 on-resistance: grounds node 1 during the refractory period, ohms.
    pub r_t1_on_ohms: f64,
    /// T3 on-resistance: lifts node 1 during depression, ohms.
    pub r_t3_on_ohms: f64,
    /// Voltage the buffer drives through T3 (depression lift), volts.
    pub v_lift_volts: f64,
    /// T2 read-out resistance from node 2 to ground, ohms.
    pub r_readout_ohms: f64,
    /// Leakage from node 1 to ground (off transistors, latch inputs), siemens.
    pub g_node_leak_siemens: f64,
    /// L1 input threshold on node 2, volts.
    pub v_latch_threshold_volts: f64,
    /// Output spike amplitude (G1 driving the next layer), volts.
    pub spike_amplitude_volts: f64,
    /// Lateral-inhibition "1" level (G3 output), volts.
    pub li_high_volts: f64,
    /// Energy per latch or gate output transition, joules.
    pub cmos_transition_joules: f64,
    /// The adaptive threshold (a circuit extension beyond the paper, see
    /// [`Homeostasis`]); absent: the paper's circuit, node 2 returns to ground.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homeostasis: Option<Homeostasis>,
}

/// **Adaptive threshold** (homeostasis), a named circuit extension: a per-neuron threshold
/// voltage θ opposes node 1 in the TS branch, so the TS integrates `(V(node 1) − θ)⁺`.
///
/// Physical basis: the adaptive-threshold / spike-frequency-adaptation block of
/// neuromorphic CMOS neurons (a capacitor that a charge pump tops up at every output
/// event and a subthreshold transistor discharges slowly) and the adaptive threshold of
/// Diehl & Cook's winner-take-all learning. Here T2's source returns to a *threshold
/// line* held at θ instead of ground; a follower clamps node 2 to `min(V(node 1), θ)`, so
/// the device sees `(V(node 1) − θ)⁺` and never a reverse bias (idealised), and L1 senses
/// node 2 against the threshold line (the current through T2).
///
/// * At each of its fires the pump adds `step_volts·(1 − θ/max_volts)` to the capacitor
///   (charge sharing with a rail at `max_volts`).
/// * The capacitor leaks with time constant `leak_seconds`.
/// * The threshold line follows the capacitor through a sample-and-hold refreshed at each
///   rest between presentations ([`crate::engine::event::Control::Rest`]), so the drive is
///   constant while a pattern is presented (and the TS stays exactly solvable).
/// * The pump and the sample-and-hold's clock are enabled by the learning-enable line
///   (the one that enables T3): in the read mode the threshold is frozen — or, with
///   `read_threshold` ([`ReadThreshold`]), a switch on the same line moves the threshold
///   line from the neuron's held threshold to a rail shared by the layer, so that every
///   neuron of a read sees the same threshold.
///
/// A neuron that wins often is thereby handicapped against one that rarely wins — what
/// stops a greedy neuron from taking every pattern of a large layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Homeostasis {
    /// Threshold added per fire at θ = 0, volts.
    pub step_volts: f64,
    /// Rail of the charge pump: θ never exceeds it, volts.
    pub max_volts: f64,
    /// Leak time constant of the threshold capacitor, seconds.
    pub leak_seconds: f64,
    /// What the threshold line is in the read mode (learning disabled); default
    /// [`ReadThreshold::Held`].
    #[serde(default)]
    pub read_threshold: ReadThreshold,
}

/// The threshold line of an adaptive-threshold neuron in the read mode. With a shared rail
/// the threshold shares the winning out during learning but does not weigh in the answer,
/// while the drive `V(node 1) − rail` can stay near the learning's operating point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum ReadThreshold {
    /// Each neuron's own held threshold (no switch).
    #[default]
    Held,
    /// A rail shared by the layer at this voltage (`Rail(0.0)`: grounded, the paper's
    /// neuron integrating node 1 itself). Volts, in `[0, max_volts]`.
    Rail(f64),
    /// A rail at the mean of the layer's held thresholds: each neuron's buffered threshold
    /// line joins the rail node through an equal resistor, so the node settles at their
    /// average when the learning-enable line falls, and the switch then connects every
    /// threshold line to it. It follows the layer wherever its thresholds stand (a short
    /// training run as a converged one). The simulation computes the average when a
    /// layer's learning is switched off ([`crate::model::driver::Driver::set_learning`]).
    LayerMean,
}

impl NeuronCircuit {
    /// The built-in parameter set.
    pub fn builtin() -> Self {
        match parse_ron(
            BUILTIN_NEURON_CMOS,
            Path::new("topologies/devices/neuron_cmos.ron"),
        ) {
            Ok(c) => c,
            // Checked by this crate's tests; reaching this is a build bug.
            Err(e) => panic!("built-in neuron circuit file is invalid:\n{e}"),
        }
    }
}

impl Validate for NeuronCircuit {
    fn validate(&self, v: &mut Validator) {
        v.positive("r_t1_on_ohms", self.r_t1_on_ohms);
        v.positive("r_t3_on_ohms", self.r_t3_on_ohms);
        v.positive("v_lift_volts", self.v_lift_volts);
        v.positive("r_readout_ohms", self.r_readout_ohms);
        v.non_negative("g_node_leak_siemens", self.g_node_leak_siemens);
        v.positive("v_latch_threshold_volts", self.v_latch_threshold_volts);
        v.positive("spike_amplitude_volts", self.spike_amplitude_volts);
        v.positive("li_high_volts", self.li_high_volts);
        v.non_negative("cmos_transition_joules", self.cmos_transition_joules);
        if let Some(h) = &self.homeostasis {
            v.non_negative("homeostasis.step_volts", h.step_volts);
            v.positive("homeostasis.max_volts", h.max_volts);
            v.positive("homeostasis.leak_seconds", h.leak_seconds);
            if let ReadThreshold::Rail(rail) = h.read_threshold {
                v.check(
                    "homeostasis.read_threshold",
                    rail.is_finite() && (0.0..=h.max_volts).contains(&rail),
                    &format!(
                        "must be within 0 ..= max_volts ({} V), got {rail}",
                        h.max_volts
                    ),
                    "a rail between ground and the pump's rail (the balance point of the \
                     threshold is the usual choice)",
                );
            }
        }
    }
}

/// Node 1 between the column's Thevenin source (`v_col` volts behind `g_col` siemens) and
/// the neuron's (`v_n` behind `g_n`): `(v_col·g_col + v_n·g_n) / (g_col + g_n)`, 0 V when
/// nothing is connected. Column and neuron both use this one expression, so they agree on
/// node 1 bit for bit (a dormancy proof made by one is checked by the other).
#[inline]
pub fn node1_volts(v_col: f64, g_col: f64, v_n: f64, g_n: f64) -> f64 {
    let g = g_col + g_n;
    if g > 0.0 {
        (v_col * g_col + v_n * g_n) / g
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_circuit_parses() {
        let c = NeuronCircuit::builtin();
        assert_eq!(c.spike_amplitude_volts, 2.0);
        assert_eq!(c.li_high_volts, 1.5);
    }
}
