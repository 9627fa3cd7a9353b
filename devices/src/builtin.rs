//! The built-in device parameter sets: one table, one entry per set, each with the name a
//! topology gives it (`"builtin:NAME"`), the kind of part it describes and its RON text.
//!
//! Every list of built-ins — the ones a topology may name, the hints that list the allowed
//! names, [`crate::DeviceSet`], the runtime's circuit and LIA constants — reads this table,
//! so a new set is added in one place. The RON files live in this crate (`devices/params/`)
//! and are embedded at compile time, so the binary works anywhere and the crate packages on
//! its own. `topologies/devices/` holds byte-identical copies for users to read, copy and
//! name by path; a test keeps them identical.
//!
//! Some kinds (the neuron's CMOS circuit, the lateral-inhibition array) are parameter types
//! of the runtime: this crate only carries their text, the runtime parses it.

use crate::params::{parse_ron, ParamError, Validate};
use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// What a built-in set describes (which parameter type its text parses into).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A threshold-switching memristor (`TsParams`).
    Ts,
    /// A 1T1R resistive-switching synapse (`RsParams`).
    Rs,
    /// The hybrid neuron's CMOS circuit (the runtime's `NeuronCircuit`).
    NeuronCircuit,
    /// A lateral-inhibition array (the runtime's `LiaParams`).
    Lia,
    /// The lateral-inhibition comparators (`ComparatorParams`).
    Comparator,
}

/// One built-in parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Builtin {
    /// Its name, as a topology writes it after `builtin:`.
    pub name: &'static str,
    /// What it describes.
    pub kind: Kind,
    /// Its RON text (the file `devices/params/NAME.ron`).
    pub text: &'static str,
}

impl Builtin {
    /// Its file name, `NAME.ron` (in `devices/params/` and, as a copy, `topologies/devices/`).
    pub fn file_name(&self) -> String {
        format!("{}.ron", self.name)
    }

    /// Parses and validates its text; messages name `devices/params/NAME.ron`.
    pub fn parse<T: DeserializeOwned + Validate>(&self) -> Result<T, ParamError> {
        let origin = PathBuf::from("devices/params").join(self.file_name());
        parse_ron(self.text, &origin)
    }
}

/// The hybrid neuron's CMOS circuit (`builtin:neuron_cmos`).
pub const NEURON_CMOS: &str = include_str!("../params/neuron_cmos.ron");
/// The lateral-inhibition array (`builtin:lia`).
pub const LIA: &str = include_str!("../params/lia.ron");
/// The lateral-inhibition array with the winner hold (`builtin:lia_winner_hold`).
pub const LIA_WINNER_HOLD: &str = include_str!("../params/lia_winner_hold.ron");
/// The hierarchical lateral-inhibition array for large layers (`builtin:lia_hierarchical`).
pub const LIA_HIERARCHICAL: &str = include_str!("../params/lia_hierarchical.ron");

/// Every built-in set. Within a kind, the order is the one hints list the names in.
pub const BUILTINS: [Builtin; 11] = [
    Builtin {
        name: "ts_neuron",
        kind: Kind::Ts,
        text: include_str!("../params/ts_neuron.ron"),
    },
    Builtin {
        name: "ts_neuron_hazard",
        kind: Kind::Ts,
        text: include_str!("../params/ts_neuron_hazard.ron"),
    },
    Builtin {
        name: "ts_output",
        kind: Kind::Ts,
        text: include_str!("../params/ts_output.ron"),
    },
    Builtin {
        name: "ts_fig2",
        kind: Kind::Ts,
        text: include_str!("../params/ts_fig2.ron"),
    },
    Builtin {
        name: "ts_fig2_hazard",
        kind: Kind::Ts,
        text: include_str!("../params/ts_fig2_hazard.ron"),
    },
    Builtin {
        name: "rs_hfo2_1t1r",
        kind: Kind::Rs,
        text: include_str!("../params/rs_hfo2_1t1r.ron"),
    },
    Builtin {
        name: "neuron_cmos",
        kind: Kind::NeuronCircuit,
        text: NEURON_CMOS,
    },
    Builtin {
        name: "lia",
        kind: Kind::Lia,
        text: LIA,
    },
    Builtin {
        name: "lia_winner_hold",
        kind: Kind::Lia,
        text: LIA_WINNER_HOLD,
    },
    Builtin {
        name: "lia_hierarchical",
        kind: Kind::Lia,
        text: LIA_HIERARCHICAL,
    },
    Builtin {
        name: "comparator",
        kind: Kind::Comparator,
        text: include_str!("../params/comparator.ron"),
    },
];

/// The built-in set of `kind` called `name`, if there is one.
pub fn find(kind: Kind, name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.kind == kind && b.name == name)
}

/// The built-in set called `name`, of any kind.
pub fn named(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The names of the built-in sets of `kind`, in table order.
pub fn names(kind: Kind) -> impl Iterator<Item = &'static str> {
    BUILTINS
        .iter()
        .filter(move |b| b.kind == kind)
        .map(|b| b.name)
}

/// Parses the built-in set of `kind` called `name`, which the caller knows exists and is
/// valid (the table is fixed and checked by this crate's tests).
///
/// # Panics
/// When there is no such entry or its text is invalid: a bug of this crate, never of input.
pub fn parse_known<T: DeserializeOwned + Validate>(kind: Kind, name: &str) -> T {
    let Some(b) = find(kind, name) else {
        panic!("no built-in {kind:?} set `{name}` in the table");
    };
    match b.parse() {
        Ok(v) => v,
        // The embedded files are checked by this crate's tests; reaching this is a build bug.
        Err(e) => panic!("built-in device file is invalid:\n{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique() {
        let names: BTreeSet<&str> = BUILTINS.iter().map(|b| b.name).collect();
        assert_eq!(names.len(), BUILTINS.len());
    }

    #[test]
    fn device_kinds_parse_and_validate() {
        for b in &BUILTINS {
            let r = match b.kind {
                Kind::Ts => b.parse::<crate::ts::TsParams>().map(drop),
                Kind::Rs => b.parse::<crate::rs::RsParams>().map(drop),
                Kind::Comparator => b.parse::<crate::comparator::ComparatorParams>().map(drop),
                // Parsed by the runtime's tests, which own these types.
                Kind::NeuronCircuit | Kind::Lia => Ok(()),
            };
            if let Err(e) = r {
                panic!("{}: {e}", b.name);
            }
        }
    }

    /// `topologies/devices/` ships a copy of every built-in file for users; the copies
    /// must say what the binary uses.
    #[test]
    fn user_copies_are_identical() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../topologies/devices");
        for b in &BUILTINS {
            let path = dir.join(b.file_name());
            let copy = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                copy == b.text,
                "{} differs from devices/params/{}: copy the embedded file over it",
                path.display(),
                b.file_name()
            );
        }
    }
}
