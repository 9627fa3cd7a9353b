//! The built-in device-parameter sets as typed values (read from the table in
//! [`crate::builtin`]) and loading of user-supplied ones.

use crate::builtin::{parse_known, Kind};
use crate::comparator::ComparatorParams;
use crate::params::{load_ron, ParamError};
use crate::rs::RsParams;
use crate::ts::TsParams;
use std::path::Path;

/// A complete set of device parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSet {
    /// The TS device characterised in the paper's Fig 2 (threshold law).
    pub ts_fig2: TsParams,
    /// The Fig 2 device under the hazard (escape-rate) switching law.
    pub ts_fig2_hazard: TsParams,
    /// The TS device inside the hybrid neurons (threshold law, the paper read literally).
    pub ts_neuron: TsParams,
    /// The hybrid neurons' device under the hazard law (the 30×10×10 network's hidden layer).
    pub ts_neuron_hazard: TsParams,
    /// The output layer's device (hazard law, four times the ion drive).
    pub ts_output: TsParams,
    /// The 1T1R synapse (also used in the lateral-inhibition array).
    pub synapse: RsParams,
    /// The lateral-inhibition comparators.
    pub comparator: ComparatorParams,
}

impl DeviceSet {
    /// The parameter sets shipped with memsnn (the device entries of [`crate::builtin::BUILTINS`]).
    pub fn builtin() -> Self {
        DeviceSet {
            ts_fig2: parse_known(Kind::Ts, "ts_fig2"),
            ts_fig2_hazard: parse_known(Kind::Ts, "ts_fig2_hazard"),
            ts_neuron: parse_known(Kind::Ts, "ts_neuron"),
            ts_neuron_hazard: parse_known(Kind::Ts, "ts_neuron_hazard"),
            ts_output: parse_known(Kind::Ts, "ts_output"),
            synapse: parse_known(Kind::Rs, "rs_hfo2_1t1r"),
            comparator: parse_known(Kind::Comparator, "comparator"),
        }
    }

    /// Loads a TS parameter file.
    pub fn load_ts(path: &Path) -> Result<TsParams, ParamError> {
        load_ron(path)
    }

    /// Loads a 1T1R synapse parameter file.
    pub fn load_rs(path: &Path) -> Result<RsParams, ParamError> {
        load_ron(path)
    }

    /// Loads a comparator parameter file.
    pub fn load_comparator(path: &Path) -> Result<ComparatorParams, ParamError> {
        load_ron(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_files_parse_and_validate() {
        let s = DeviceSet::builtin();
        assert!(s.ts_fig2.theta > s.ts_fig2.x_hold);
        assert_eq!(s.synapse.g_max_siemens, 980e-6);
    }
}
