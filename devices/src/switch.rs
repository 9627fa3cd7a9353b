//! MOS transistor used as a switch (T1, T2, T3, 1T1R access devices): on-resistance above
//! its threshold, leakage below.

use crate::params::{Validate, Validator};
use serde::{Deserialize, Serialize};

/// Parameters of a transistor switch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwitchParams {
    /// Channel resistance when the gate is above threshold, ohms.
    pub r_on_ohms: f64,
    /// Channel resistance when the gate is below threshold (leakage), ohms.
    pub r_off_ohms: f64,
    /// Gate threshold voltage, volts.
    pub v_threshold_volts: f64,
}

impl Validate for SwitchParams {
    fn validate(&self, v: &mut Validator) {
        v.positive("r_on_ohms", self.r_on_ohms);
        v.positive("r_off_ohms", self.r_off_ohms);
        v.less_than("r_on_ohms", self.r_on_ohms, "r_off_ohms", self.r_off_ohms);
        v.positive("v_threshold_volts", self.v_threshold_volts);
    }
}

impl SwitchParams {
    /// Whether the switch conducts with `v_gate_volts` on its gate.
    #[inline]
    pub fn is_on(&self, v_gate_volts: f64) -> bool {
        v_gate_volts >= self.v_threshold_volts
    }

    /// Channel conductance for a gate voltage, siemens.
    #[inline]
    pub fn conductance_siemens(&self, v_gate_volts: f64) -> f64 {
        if self.is_on(v_gate_volts) {
            1.0 / self.r_on_ohms
        } else {
            1.0 / self.r_off_ohms
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_above_threshold_only() {
        let s = SwitchParams {
            r_on_ohms: 2.0,
            r_off_ohms: 1e9,
            v_threshold_volts: 0.7,
        };
        assert_eq!(s.conductance_siemens(3.0), 0.5);
        assert_eq!(s.conductance_siemens(0.0), 1e-9);
        assert!(!s.is_on(0.69) && s.is_on(0.7));
    }
}
