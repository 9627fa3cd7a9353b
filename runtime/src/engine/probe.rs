//! Probes: samples recorded by components (spikes, node voltages, gates, conductances).
//!
//! Records are sorted by `(time, comp, kind, index)` before they are written, so the CSV is
//! byte-identical for every executor and worker count.

use crate::engine::event::CompId;
use crate::engine::time::Ns;
use std::fmt::Write as _;

/// One probe sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// Simulated time, ns.
    pub time: Ns,
    /// Recording component.
    pub comp: CompId,
    /// What was recorded ("spike", "v_node1", "gate", "g", ...).
    pub kind: &'static str,
    /// Sub-index (e.g. synapse index in a column), 0 if none.
    pub index: u32,
    /// Value in SI units (volts, siemens; 1 for a spike).
    pub value: f64,
}

/// What a component's probe records: nothing, everything, or only some kinds. Components
/// call [`Ctx::record`](crate::engine::component::Ctx::record) for everything they know;
/// the context drops what is not asked for before it is stored (filtering at the source).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Probe {
    /// Not probed.
    #[default]
    Off,
    /// Every kind the component records.
    All,
    /// Only these kinds ("spike", "v_node1", "gate", "g", ...).
    Kinds(Vec<&'static str>),
}

impl Probe {
    /// Whether anything is recorded.
    #[inline]
    pub fn is_on(&self) -> bool {
        !matches!(self, Probe::Off)
    }

    /// Whether a sample of `kind` is recorded.
    #[inline]
    pub fn keeps(&self, kind: &str) -> bool {
        match self {
            Probe::Off => false,
            Probe::All => true,
            Probe::Kinds(k) => k.contains(&kind),
        }
    }
}

/// Sorts records into their canonical order (stable, so ties keep emission order).
pub fn canonical_sort(records: &mut [Record]) {
    records
        .sort_by(|a, b| (a.time, a.comp, a.kind, a.index).cmp(&(b.time, b.comp, b.kind, b.index)));
}

/// Renders records as CSV with component names resolved by `name`.
pub fn to_csv(records: &[Record], name: impl Fn(CompId) -> String) -> String {
    let mut s = String::from("t_ns,component,kind,index,value\n");
    for r in records {
        let _ = writeln!(
            s,
            "{},{},{},{},{:e}",
            r.time,
            name(r.comp),
            r.kind,
            r.index,
            r.value
        );
    }
    s
}
