//! The built-in device-parameter sets (the RON files under `topologies/devices/`, embedded
//! at compile time so the binary works anywhere) and loading of user-supplied ones.

use crate::comparator::ComparatorParams;
use crate::params::{load_ron, parse_ron, ParamError};
use crate::rs::RsParams;
use crate::ts::TsParams;
use std::path::Path;

/// Embedded RON sources of the built-in sets: (file name, text).
pub const BUILTIN_FILES: [(&str, &str); 7] = [
    (
        "ts_fig2.ron",
        include_str!("../../topologies/devices/ts_fig2.ron"),
    ),
    (
        "ts_fig2_hazard.ron",
        include_str!("../../topologies/devices/ts_fig2_hazard.ron"),
    ),
    (
        "ts_neuron.ron",
        include_str!("../../topologies/devices/ts_neuron.ron"),
    ),
    (
        "ts_neuron_hazard.ron",
        include_str!("../../topologies/devices/ts_neuron_hazard.ron"),
    ),
    (
        "ts_output.ron",
        include_str!("../../topologies/devices/ts_output.ron"),
    ),
    (
        "rs_hfo2_1t1r.ron",
        include_str!("../../topologies/devices/rs_hfo2_1t1r.ron"),
    ),
    (
        "comparator.ron",
        include_str!("../../topologies/devices/comparator.ron"),
    ),
];

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

fn builtin<T: serde::de::DeserializeOwned + crate::params::Validate>(name: &str) -> T {
    let (_, text) = BUILTIN_FILES
        .iter()
        .find(|(n, _)| *n == name)
        .expect("built-in file list is fixed");
    match parse_ron(text, Path::new(&format!("topologies/devices/{name}"))) {
        Ok(v) => v,
        // The embedded files are checked by this crate's tests; reaching this is a build bug.
        Err(e) => panic!("built-in device file is invalid:\n{e}"),
    }
}

impl DeviceSet {
    /// The parameter sets shipped with memsnn.
    pub fn builtin() -> Self {
        DeviceSet {
            ts_fig2: builtin("ts_fig2.ron"),
            ts_fig2_hazard: builtin("ts_fig2_hazard.ron"),
            ts_neuron: builtin("ts_neuron.ron"),
            ts_neuron_hazard: builtin("ts_neuron_hazard.ron"),
            ts_output: builtin("ts_output.ron"),
            synapse: builtin("rs_hfo2_1t1r.ron"),
            comparator: builtin("comparator.ron"),
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
