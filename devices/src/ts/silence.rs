//! Silence proofs: when an OFF TS device provably never switches under a periodic drive.
//!
//! A hybrid neuron sees a two-level drive while its configuration lasts: a device voltage
//! `V_h` for the CLK-high phase (`t_h`), `V_l` for the low phase (`t_l`), repeated. If the
//! device cannot switch under that drive however long it lasts, the neuron can stop
//! predicting (it becomes *dormant*) until an input gets stronger.
//!
//! # Threshold law
//!
//! The nucleation peaks at the ends of high phases. From the present value `u`, the first
//! future peak is at most `f(u) = u∞h + (u − u∞h)·a_h` (a whole high phase, `a_h =
//! e^{−γ1·t_h}`, `u∞ = g(V)/γ1`), and later peaks move monotonically towards the periodic
//! steady state `u_p = [u∞h(1 − a_h) + u∞l(1 − a_l)·a_h] / (1 − a_h·a_l)`. Bridge and residue
//! only decay, so `max(u, f(u), u_p, u∞l) + b + r` bounds the filament for ever: below the
//! cycle's switching point `θ`, the device stays OFF.
//!
//! # Hazard law
//!
//! The hazard grows for ever under any field and is zero without one, whatever the filament
//! state: the device is silent exactly when no voltage is across it in either phase.
//!
//! # Split and monotonicity
//!
//! The proof has a part that depends only on the drive and on the present cycle's rates
//! ([`SilenceBound`], from [`TsDevice::silence_bound`]; a caller may keep it for as long as
//! the drive and [`TsDevice::silence_key`] are unchanged) and a cheap part that reads the
//! state ([`TsDevice::is_silent`]). Both laws' drives `μ0·sinh(|V|/V0)` and
//! `sinh(|V|/V_s)` grow with `|V|`, so a proof under one drive also holds under any drive
//! whose phase voltages are no larger in magnitude.

use super::TsDevice;

/// The drive-only part of a silence proof (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum SilenceBound {
    /// Hazard law: whether a field is across the device in either phase (then nothing can
    /// be proved).
    Field {
        /// A non-zero device voltage in the high or the low phase.
        biased: bool,
    },
    /// Threshold law: the nucleation's bounds under the periodic drive.
    Filament {
        /// Nucleation asymptote of the high phase, `u∞h = g(V_h)/γ1` (dimensionless).
        u_high: f64,
        /// Nucleation asymptote of the low phase, `u∞l` (dimensionless).
        u_low: f64,
        /// Decay factor of the nucleation over a high phase, `a_h = e^{−γ1·t_h}`.
        decay_high: f64,
        /// Periodic steady state at the ends of high phases, `u_p` (dimensionless).
        u_periodic: f64,
    },
}

impl TsDevice {
    /// The drive-only part of the proof that an OFF device never switches under a periodic
    /// drive: device voltage `v_high_volts` for `high_ns`, then `v_low_volts` for `low_ns`,
    /// repeated. It depends on the drive and on this cycle's rates only: it stays valid
    /// while [`Self::silence_key`] is unchanged.
    pub fn silence_bound(
        &self,
        v_high_volts: f64,
        high_ns: u64,
        v_low_volts: f64,
        low_ns: u64,
    ) -> SilenceBound {
        if self.hazard.is_some() {
            return SilenceBound::Field {
                biased: !(v_high_volts == 0.0 && v_low_volts == 0.0),
            };
        }
        let r = &self.cycle;
        let u_inf = |v: f64| r.drive_per_s(v) / r.gamma1_per_s;
        let a = |ns: u64| (-r.gamma1_per_s * ns as f64 * 1e-9).exp();
        let (ah, al) = (a(high_ns), a(low_ns));
        let (uh, ul) = (u_inf(v_high_volts), u_inf(v_low_volts));
        let up = (uh * (1.0 - ah) + ul * (1.0 - al) * ah) / (1.0 - ah * al);
        SilenceBound::Filament {
            u_high: uh,
            u_low: ul,
            decay_high: ah,
            u_periodic: up,
        }
    }

    /// What [`Self::silence_bound`] depends on besides the drive: bounds computed under
    /// equal keys (and equal drives) are equal. The cycle's nucleation leak `γ1` (the drive
    /// prefactor and voltage scale never change after fabrication).
    pub fn silence_key(&self) -> u64 {
        self.cycle.gamma1_per_s.to_bits()
    }

    /// Whether the device, in its present state, provably never switches ON under the drive
    /// `bound` was computed for (always false for an ON device).
    pub fn is_silent(&self, bound: &SilenceBound) -> bool {
        if self.state.on {
            return false;
        }
        match *bound {
            SilenceBound::Field { biased } => !biased,
            SilenceBound::Filament {
                u_high,
                u_low,
                decay_high,
                u_periodic,
            } => {
                let s = &self.state;
                let first_peak = u_high + (s.nucleation - u_high) * decay_high;
                s.nucleation.max(first_peak).max(u_periodic).max(u_low) + s.bridge + s.residue
                    < self.cycle.theta
            }
        }
    }

    /// Whether the device can be advanced with an upper bound of its switching progress
    /// ([`Self::advance_hazard_bound`]): the hazard law.
    pub fn has_bounded_advance(&self) -> bool {
        self.hazard.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::DeviceSet;
    use crate::ts::TsTransition;
    use crate::Variability;

    const PHASE_NS: u64 = 250_000;

    /// Drives a copy of `dev` for `periods` periods phase by phase; true if it switched.
    fn switches(dev: &TsDevice, vh: f64, vl: f64, periods: u32) -> bool {
        let mut d = dev.clone();
        (0..periods).any(|_| {
            [vh, vl].iter().any(|&v| {
                let step = d.advance(v, PHASE_NS);
                step.transition == Some(TsTransition::SwitchedOn)
            })
        })
    }

    #[test]
    fn threshold_law_silence_is_proved_for_weak_drives_and_holds() {
        let set = DeviceSet::builtin();
        for seed in 1..6 {
            let dev = TsDevice::new(&set.ts_neuron, Variability::FULL, seed);
            let weak = dev.silence_bound(0.01, PHASE_NS, 0.0, PHASE_NS);
            assert!(dev.is_silent(&weak), "seed {seed}");
            assert!(!switches(&dev, 0.01, 0.0, 2000));
            // A drive that fires the device has no proof.
            let strong = dev.silence_bound(1.4, PHASE_NS, 0.0, PHASE_NS);
            assert!(!dev.is_silent(&strong));
            assert!(switches(&dev, 1.4, 0.0, 2000));
        }
    }

    #[test]
    fn hazard_law_is_silent_only_without_a_field() {
        let set = DeviceSet::builtin();
        let dev = TsDevice::new(&set.ts_neuron_hazard, Variability::FULL, 3);
        assert!(dev.has_bounded_advance());
        assert!(dev.is_silent(&dev.silence_bound(0.0, PHASE_NS, 0.0, PHASE_NS)));
        assert!(!dev.is_silent(&dev.silence_bound(0.05, PHASE_NS, 0.0, PHASE_NS)));
        assert!(!dev.is_silent(&dev.silence_bound(0.0, PHASE_NS, 0.05, PHASE_NS)));
        let threshold = TsDevice::new(&set.ts_neuron, Variability::FULL, 3);
        assert!(!threshold.has_bounded_advance());
    }

    #[test]
    fn an_on_device_is_never_silent() {
        let set = DeviceSet::builtin();
        let mut dev = TsDevice::new(&set.ts_neuron, Variability::NONE, 1);
        let b = dev.silence_bound(0.0, PHASE_NS, 0.0, PHASE_NS);
        assert!(dev.is_silent(&b));
        let mut s = *dev.state();
        s.on = true;
        dev.set_state(s);
        assert!(!dev.is_silent(&b));
    }
}
