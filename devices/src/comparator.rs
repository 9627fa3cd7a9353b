//! Voltage comparator (the LIA's output stage): high when its non-inverting input exceeds
//! the inverting one by more than its input offset.

use crate::params::{Validate, Validator};
use serde::{Deserialize, Serialize};

/// Parameters of a comparator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparatorParams {
    /// Output level when `V+ > V−`, volts (drives a 1T1R gate line: "1" = 3 V).
    pub v_out_high_volts: f64,
    /// Output level otherwise, volts.
    pub v_out_low_volts: f64,
    /// Standard deviation of the input offset voltage across comparators, volts.
    pub offset_sigma_volts: f64,
    /// Smallest input difference the design must guarantee (offset plus noise budget), volts.
    pub required_margin_volts: f64,
}

impl Validate for ComparatorParams {
    fn validate(&self, v: &mut Validator) {
        v.finite("v_out_high_volts", self.v_out_high_volts);
        v.finite("v_out_low_volts", self.v_out_low_volts);
        v.less_than(
            "v_out_low_volts",
            self.v_out_low_volts,
            "v_out_high_volts",
            self.v_out_high_volts,
        );
        v.non_negative("offset_sigma_volts", self.offset_sigma_volts);
        v.non_negative("required_margin_volts", self.required_margin_volts);
    }
}

impl ComparatorParams {
    /// Output voltage for inputs `v_plus`, `v_minus` and this comparator's own offset.
    #[inline]
    pub fn output_volts(&self, v_plus: f64, v_minus: f64, offset_volts: f64) -> f64 {
        if v_plus - v_minus > offset_volts {
            self.v_out_high_volts
        } else {
            self.v_out_low_volts
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_with_offset() {
        let c = ComparatorParams {
            v_out_high_volts: 3.0,
            v_out_low_volts: 0.0,
            offset_sigma_volts: 1e-3,
            required_margin_volts: 5e-3,
        };
        assert_eq!(c.output_volts(0.05, 0.01, 0.0), 3.0);
        assert_eq!(c.output_volts(0.05, 0.06, 0.0), 0.0);
        assert_eq!(c.output_volts(0.05, 0.049, 0.002), 0.0);
    }
}
