//! Energy accounting per device operation: read `V²·G·t`, write
//! `V²·(G_prev + G_new)/2·t`, TS `∫V·I dt` (split into the OFF state's integration and
//! switching and the ON state's holding), plus a fixed CMOS energy per transition.
//! docs/energy.md gives each term's derivation and each constant's provenance.

use serde::{Deserialize, Serialize};
use std::ops::AddAssign;

/// Energy dissipated, split by kind of operation, in joules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Energy {
    /// Synapse reads (current through a device below its switching thresholds).
    pub read_joules: f64,
    /// Synapse writes (SET/RESET exposures).
    pub write_joules: f64,
    /// Threshold-switching devices while OFF: integration up to and including the
    /// switching instant (`∫V·I dt` through the high-resistance state).
    pub ts_joules: f64,
    /// Threshold-switching devices while ON: holding (`V²/R_on·t` until they relax).
    #[serde(default)]
    pub ts_hold_joules: f64,
    /// CMOS: latch, gate and comparator transitions.
    pub cmos_joules: f64,
}

impl Energy {
    /// Sum of all parts, in joules.
    pub fn total_joules(&self) -> f64 {
        self.read_joules
            + self.write_joules
            + self.ts_joules
            + self.ts_hold_joules
            + self.cmos_joules
    }
}

impl AddAssign for Energy {
    fn add_assign(&mut self, o: Energy) {
        self.read_joules += o.read_joules;
        self.write_joules += o.write_joules;
        self.ts_joules += o.ts_joules;
        self.ts_hold_joules += o.ts_hold_joules;
        self.cmos_joules += o.cmos_joules;
    }
}

/// Read energy `V²·G·t` in joules (volts, siemens, seconds).
#[inline]
pub fn read_joules(v_volts: f64, g_siemens: f64, t_s: f64) -> f64 {
    v_volts * v_volts * g_siemens * t_s
}

/// Write energy `V²·(G_prev + G_new)/2·t` in joules: the conductance is taken to move
/// linearly from `g_prev` to `g_new` during the exposure.
#[inline]
pub fn write_joules(v_volts: f64, g_prev_siemens: f64, g_new_siemens: f64, t_s: f64) -> f64 {
    v_volts * v_volts * 0.5 * (g_prev_siemens + g_new_siemens) * t_s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_and_sums() {
        // 1 V across 1 mS for 1 ms: 1 µJ.
        assert!((read_joules(1.0, 1e-3, 1e-3) - 1e-6).abs() < 1e-18);
        assert!((write_joules(2.0, 1e-4, 3e-4, 1e-3) - 4.0 * 2e-4 * 1e-3).abs() < 1e-18);
        let mut e = Energy {
            read_joules: 1.0,
            ..Default::default()
        };
        e += Energy {
            cmos_joules: 2.0,
            ..Default::default()
        };
        assert_eq!(e.total_joules(), 3.0);
    }
}
