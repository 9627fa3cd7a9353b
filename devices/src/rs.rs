//! Resistive-switching synapse in a 1T1R cell (Ta/HfO2/Pd device + access transistor).
//!
//! # Model
//!
//! * **Bounded, saturating conductance** (NeuroSim form). The state is a normalised
//!   programming coordinate `p ∈ [0, 1]` and
//!   `G(p) = G_min + (G_max − G_min)·(1 − e^{−p/A}) / (1 − e^{−1/A})`,
//!   read at `v_read_volts`. Small `A` means strongly nonlinear (large early steps).
//! * **Voltage- and time-dependent switching kinetics.** While the device voltage exceeds
//!   the SET threshold `V_set > 0`, `p` grows at `ν_set·(exp((V − V_set)/V_s) − 1)` per
//!   second; below the RESET threshold `V_reset < 0` it shrinks at
//!   `ν_reset·(exp((|V| − |V_reset|)/V_s) − 1)`. Between the thresholds nothing changes.
//!   The exponential is the voltage–time dilemma of ionic switching: every `V_s·ln 10`
//!   volts of overdrive make switching ten times faster. Above `abrupt_set_volts` SET is
//!   abrupt (thermal runaway of the forming filament): the device jumps to the
//!   compliance-limited LRS within one update, as oxide RRAM does under strong pulses. It lets one device move a little
//!   per 1.6 V pulse against a grounded node (layer-1 learning over tens of fire events)
//!   and set in one cycle at 1.8–2 V (layer 2), while integration voltages stay inert.
//! * **Gate-controlled compliance.** The access transistor limits the SET current; the
//!   reachable LRS scales with the compliance current, i.e. with the transistor's square
//!   law: `G_cap(V_g) = G_min + (G_max − G_min)·min(1, ((V_g − V_t)/(V_ref − V_t))²)`.
//!   With the gate low the transistor is off: no current, no programming.
//! * **Variability**: cycle-to-cycle noise `σ·√|Δp|·z` on every update;
//!   device-to-device spread of `G_min`, `G_max` and `A`; read noise (relative); and
//!   stuck-at-HRS / stuck-at-LRS faults with given probabilities.

use crate::params::{Validate, Validator};
use crate::switch::SwitchParams;
use crate::variability::{key, lognormal_from_normal, KeyedStream, Variability};
use serde::{Deserialize, Serialize};

/// Nominal parameters of a 1T1R resistive synapse, as stored in a RON file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsParams {
    /// Human-readable name of the parameter set.
    pub name: String,
    /// HRS conductance (p = 0), siemens, read at `v_read_volts`.
    pub g_min_siemens: f64,
    /// LRS conductance reachable at the reference gate voltage (p = 1), siemens.
    pub g_max_siemens: f64,
    /// Nonlinearity `A` of `G(p)` (dimensionless, > 0; large = nearly linear).
    pub nonlinearity: f64,
    /// Read voltage at which conductances are quoted, volts.
    pub v_read_volts: f64,
    /// SET kinetics (positive threshold).
    pub set: Kinetics,
    /// Above this device voltage SET is abrupt: the filament forms by thermal runaway and
    /// grows to the compliance-limited LRS within one update, volts (> the SET threshold).
    pub abrupt_set_volts: f64,
    /// RESET kinetics (negative threshold).
    pub reset: Kinetics,
    /// Gate voltage at which `G_max` is reached, volts.
    pub v_gate_reference_volts: f64,
    /// The access transistor.
    pub access: SwitchParams,
    /// Cycle-to-cycle noise σ of an update (`σ·√|Δp|`).
    pub cycle_to_cycle_sigma: f64,
    /// Relative read noise (standard deviation of G / G).
    pub read_noise_cv: f64,
    /// Device-to-device spread.
    pub device_to_device: RsDeviceSpread,
    /// Fault probabilities.
    pub faults: RsFaults,
}

/// Switching kinetics above a threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kinetics {
    /// Threshold voltage across the device, volts (SET: > 0; RESET: < 0).
    pub threshold_volts: f64,
    /// Overdrive for one e-fold of switching speed, volts.
    pub slope_volts: f64,
    /// Rate prefactor ν, in units of `p` per second.
    pub rate_per_s: f64,
}

/// Device-to-device coefficients of variation of a 1T1R synapse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsDeviceSpread {
    /// Spread of `G_min`.
    pub g_min_cv: f64,
    /// Spread of `G_max`.
    pub g_max_cv: f64,
    /// Spread of the nonlinearity `A`.
    pub nonlinearity_cv: f64,
}

/// Probabilities that a device is stuck (does not respond to programming).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RsFaults {
    /// Probability of a device stuck at HRS.
    pub stuck_hrs: f64,
    /// Probability of a device stuck at LRS.
    pub stuck_lrs: f64,
}

impl Validate for RsParams {
    fn validate(&self, v: &mut Validator) {
        v.positive("g_min_siemens", self.g_min_siemens);
        v.positive("g_max_siemens", self.g_max_siemens);
        v.less_than(
            "g_min_siemens",
            self.g_min_siemens,
            "g_max_siemens",
            self.g_max_siemens,
        );
        v.positive("nonlinearity", self.nonlinearity);
        v.positive("v_read_volts", self.v_read_volts);
        v.nested("set", |v| {
            v.positive("threshold_volts", self.set.threshold_volts);
            v.positive("slope_volts", self.set.slope_volts);
            v.non_negative("rate_per_s", self.set.rate_per_s);
        });
        v.check(
            "abrupt_set_volts",
            self.abrupt_set_volts > self.set.threshold_volts,
            "must exceed the SET threshold",
            "abrupt (runaway) SET happens only well above the gradual SET threshold",
        );
        v.nested("reset", |v| {
            v.negative("threshold_volts", self.reset.threshold_volts);
            v.positive("slope_volts", self.reset.slope_volts);
            v.non_negative("rate_per_s", self.reset.rate_per_s);
        });
        v.check(
            "v_read_volts",
            self.v_read_volts < self.set.threshold_volts
                && -self.v_read_volts > self.reset.threshold_volts,
            "the read voltage must lie between the RESET and SET thresholds",
            "a read must not disturb the device: lower v_read_volts",
        );
        v.positive("v_gate_reference_volts", self.v_gate_reference_volts);
        v.nested("access", |v| self.access.validate(v));
        v.check(
            "v_gate_reference_volts",
            self.v_gate_reference_volts > self.access.v_threshold_volts,
            "must exceed the access transistor's threshold",
            "the reference gate voltage must turn the access transistor on",
        );
        v.non_negative("cycle_to_cycle_sigma", self.cycle_to_cycle_sigma);
        v.in_range("read_noise_cv", self.read_noise_cv, 0.0, 0.5);
        v.nested("device_to_device", |v| {
            let d = &self.device_to_device;
            v.in_range("g_min_cv", d.g_min_cv, 0.0, 1.0);
            v.in_range("g_max_cv", d.g_max_cv, 0.0, 1.0);
            v.in_range("nonlinearity_cv", d.nonlinearity_cv, 0.0, 1.0);
        });
        v.nested("faults", |v| {
            v.in_range("stuck_hrs", self.faults.stuck_hrs, 0.0, 1.0);
            v.in_range("stuck_lrs", self.faults.stuck_lrs, 0.0, 1.0);
            v.check(
                "stuck_lrs",
                self.faults.stuck_hrs + self.faults.stuck_lrs <= 1.0,
                "stuck_hrs + stuck_lrs must not exceed 1",
                "these are probabilities of exclusive outcomes",
            );
        });
    }
}

/// Whether a device responds to programming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// Responds normally.
    None,
    /// Stuck at its HRS.
    StuckHrs,
    /// Stuck at its LRS.
    StuckLrs,
}

/// One fabricated 1T1R device: its own conductance range and nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RsDevice {
    /// HRS conductance, siemens.
    pub g_min_siemens: f64,
    /// LRS conductance at the reference gate voltage, siemens.
    pub g_max_siemens: f64,
    /// Nonlinearity `A`.
    pub nonlinearity: f64,
    /// Fault status.
    pub fault: Fault,
}

impl RsParams {
    /// The device with key `device_key` (e.g. from [`crate::variability::key`]). Its
    /// fabrication spread is re-derivable from the key alone, so callers that hold millions
    /// of synapses need not store it.
    pub fn device(&self, device_key: u64, variability: Variability) -> RsDevice {
        let mut nominal = RsDevice {
            g_min_siemens: self.g_min_siemens,
            g_max_siemens: self.g_max_siemens,
            nonlinearity: self.nonlinearity,
            fault: Fault::None,
        };
        let mut s = KeyedStream::new(key(device_key, &[0x5e4a]));
        let u = s.next_open01();
        nominal.fault = if u < self.faults.stuck_hrs {
            Fault::StuckHrs
        } else if u < self.faults.stuck_hrs + self.faults.stuck_lrs {
            Fault::StuckLrs
        } else {
            Fault::None
        };
        if variability.device_to_device {
            let d = &self.device_to_device;
            nominal.g_min_siemens *= lognormal_from_normal(s.next_normal(), d.g_min_cv);
            nominal.g_max_siemens *= lognormal_from_normal(s.next_normal(), d.g_max_cv);
            nominal.nonlinearity *= lognormal_from_normal(s.next_normal(), d.nonlinearity_cv);
            // Keep the window open even in the far tails.
            nominal.g_max_siemens = nominal.g_max_siemens.max(1.5 * nominal.g_min_siemens);
        }
        nominal
    }

    /// The device exactly at the nominal parameters.
    pub fn nominal_device(&self) -> RsDevice {
        self.device(0, Variability::NONE).without_faults()
    }

    /// `G_cap(V_g)`: the highest conductance SET can reach with this gate voltage, siemens.
    pub fn compliance_cap_siemens(&self, dev: &RsDevice, v_gate_volts: f64) -> f64 {
        let vt = self.access.v_threshold_volts;
        let frac = ((v_gate_volts - vt) / (self.v_gate_reference_volts - vt)).clamp(0.0, 1.0);
        dev.g_min_siemens + (dev.g_max_siemens - dev.g_min_siemens) * frac * frac
    }

    /// Rate of change of `p` (per second) under a device voltage; 0 between thresholds.
    #[inline]
    pub fn rate_per_s(&self, v_device_volts: f64) -> f64 {
        let v = v_device_volts;
        if v > self.set.threshold_volts {
            self.set.rate_per_s
                * (((v - self.set.threshold_volts) / self.set.slope_volts).exp() - 1.0)
        } else if v < self.reset.threshold_volts {
            -self.reset.rate_per_s
                * (((self.reset.threshold_volts - v) / self.reset.slope_volts).exp() - 1.0)
        } else {
            0.0
        }
    }

    /// Whether a device voltage can program at all (outside the inert window).
    #[inline]
    pub fn programs(&self, v_device_volts: f64) -> bool {
        v_device_volts > self.set.threshold_volts || v_device_volts < self.reset.threshold_volts
    }

    /// The programming coordinate after exposing a device at `p` to `v_device_volts` for
    /// `dt_s` seconds with `v_gate_volts` on its access gate. `z` is a standard normal
    /// sample for the cycle-to-cycle noise (pass 0 for a noiseless update).
    ///
    /// The same as [`RsParams::step`] followed by [`RsParams::apply_step`], which callers
    /// updating many devices under one voltage use to compute the voltage's factors once.
    pub fn program(
        &self,
        dev: &RsDevice,
        p: f64,
        v_device_volts: f64,
        dt_s: f64,
        v_gate_volts: f64,
        z: f64,
    ) -> f64 {
        let step = self.step(v_device_volts, dt_s, v_gate_volts);
        let cap_p = if step.rate_per_s > 0.0 && dev.fault == Fault::None {
            self.compliance_cap_p(dev, v_gate_volts)
        } else {
            1.0
        };
        self.apply_step(dev, p, &step, cap_p, z)
    }

    /// The device-independent factors of one programming update: a device voltage
    /// `v_device_volts` held for `dt_s` seconds with `v_gate_volts` on the access gate.
    #[inline]
    pub fn step(&self, v_device_volts: f64, dt_s: f64, v_gate_volts: f64) -> ProgramStep {
        let moves = self.access.is_on(v_gate_volts) && dt_s > 0.0;
        let rate = if moves {
            self.rate_per_s(v_device_volts)
        } else {
            0.0
        };
        let dp = rate * dt_s;
        ProgramStep {
            rate_per_s: rate,
            dp,
            noise_per_z: self.cycle_to_cycle_sigma * dp.abs().sqrt(),
            abrupt: v_device_volts >= self.abrupt_set_volts,
        }
    }

    /// `p(G_cap(V_g))`: the highest programming coordinate SET can reach on `dev` with
    /// this gate voltage (dimensionless).
    #[inline]
    pub fn compliance_cap_p(&self, dev: &RsDevice, v_gate_volts: f64) -> f64 {
        dev.p_of(self.compliance_cap_siemens(dev, v_gate_volts))
    }

    /// The programming coordinate after one update of precomputed factors `step`;
    /// `cap_p` is [`RsParams::compliance_cap_p`] at the update's gate voltage (read only
    /// when the update sets), `z` the standard normal sample of the cycle-to-cycle noise.
    #[inline]
    pub fn apply_step(
        &self,
        dev: &RsDevice,
        p: f64,
        step: &ProgramStep,
        cap_p: f64,
        z: f64,
    ) -> f64 {
        if dev.fault != Fault::None || step.rate_per_s == 0.0 {
            return p;
        }
        let noise = step.noise_per_z * z;
        if step.rate_per_s > 0.0 {
            if p >= cap_p {
                return p;
            }
            if step.abrupt {
                return cap_p;
            }
            (p + step.dp + noise).clamp(0.0, cap_p)
        } else {
            (p + step.dp + noise).clamp(0.0, 1.0).min(p.max(0.0))
        }
    }
}

/// The device-independent factors of one programming update (see [`RsParams::step`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgramStep {
    /// Rate of change of `p`, per second (0: the device does not move: inert voltage,
    /// gate off or no time).
    pub rate_per_s: f64,
    /// Deterministic change of `p` over the update (dimensionless).
    pub dp: f64,
    /// Standard deviation of the cycle-to-cycle noise of `p` per unit `z` (dimensionless).
    pub noise_per_z: f64,
    /// Whether the voltage is at or above the abrupt-SET level.
    pub abrupt: bool,
}

/// A device's conductance curve `G(p)` with its constant factor `1 − e^{−1/A}` computed
/// once (see [`RsDevice::curve`]); evaluates exactly as [`RsDevice::conductance_siemens`]
/// and [`RsDevice::p_of`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RsCurve {
    /// HRS conductance, siemens.
    pub g_min_siemens: f64,
    /// `G_max − G_min`, siemens.
    pub span_siemens: f64,
    /// Nonlinearity `A`.
    pub nonlinearity: f64,
    /// `1 − e^{−1/A}` (dimensionless).
    pub denominator: f64,
    /// Fault status.
    pub fault: Fault,
    /// LRS conductance at the reference gate voltage, siemens.
    pub g_max_siemens: f64,
}

impl RsCurve {
    /// Conductance at programming coordinate `p`, siemens (stuck devices ignore `p`).
    #[inline]
    pub fn conductance_siemens(&self, p: f64) -> f64 {
        match self.fault {
            Fault::StuckHrs => self.g_min_siemens,
            Fault::StuckLrs => self.g_max_siemens,
            Fault::None => {
                self.g_min_siemens
                    + self.span_siemens * (1.0 - (-p / self.nonlinearity).exp()) / self.denominator
            }
        }
    }

    /// The programming coordinate of a conductance (clamped to `[0, 1]`).
    #[inline]
    pub fn p_of(&self, g_siemens: f64) -> f64 {
        let frac = ((g_siemens - self.g_min_siemens) / self.span_siemens).clamp(0.0, 1.0);
        let inner = 1.0 - frac * self.denominator;
        (-self.nonlinearity * inner.ln()).clamp(0.0, 1.0)
    }
}

impl RsDevice {
    /// Conductance at programming coordinate `p`, siemens (stuck devices ignore `p`).
    #[inline]
    pub fn conductance_siemens(&self, p: f64) -> f64 {
        self.curve().conductance_siemens(p)
    }

    /// The programming coordinate of a conductance (clamped to `[0, 1]`).
    #[inline]
    pub fn p_of(&self, g_siemens: f64) -> f64 {
        self.curve().p_of(g_siemens)
    }

    /// The conductance curve, its constant factor computed once (for many evaluations).
    #[inline]
    pub fn curve(&self) -> RsCurve {
        RsCurve {
            g_min_siemens: self.g_min_siemens,
            span_siemens: self.g_max_siemens - self.g_min_siemens,
            nonlinearity: self.nonlinearity,
            denominator: 1.0 - (-1.0 / self.nonlinearity).exp(),
            fault: self.fault,
            g_max_siemens: self.g_max_siemens,
        }
    }

    /// The same device without faults.
    pub fn without_faults(mut self) -> Self {
        self.fault = Fault::None;
        self
    }
}

#[cfg(test)]
mod tests;
