//! Reading the single-neuron circuits (the paper's Fig 3 and the in-situ learning
//! experiment, one hybrid neuron with its synapse column driven by an input generator):
//! their component ids and what their probe records say.

use runtime::engine::event::CompId;
use runtime::engine::probe::Record;
use runtime::engine::time::{Clock, Ns};

/// Ids of the components of a single-neuron network (input generator → column → neuron).
#[derive(Clone, Copy, Debug)]
pub struct SingleIds {
    /// The input generator.
    pub input: CompId,
    /// The synapse column.
    pub column: CompId,
    /// The neuron.
    pub neuron: CompId,
}

/// Times (ns) at which probe `kind` of component `comp` changed to a value, as
/// `(time, value)` pairs, keeping only changes.
pub fn changes(records: &[Record], comp: CompId, kind: &str) -> Vec<(Ns, f64)> {
    let mut out: Vec<(Ns, f64)> = Vec::new();
    for r in records.iter().filter(|r| r.comp == comp && r.kind == kind) {
        if out.last().is_none_or(|&(_, v)| v != r.value) {
            out.push((r.time, r.value));
        }
    }
    out
}

/// Times of the records of `kind` from `comp`.
pub fn times(records: &[Record], comp: CompId, kind: &str) -> Vec<Ns> {
    records
        .iter()
        .filter(|r| r.comp == comp && r.kind == kind)
        .map(|r| r.time)
        .collect()
}

/// Pulses needed for each fire: for the first, counted from the first CLK-high phase; for
/// each later one, from the first high phase after the previous refractory period (a fire
/// in cycle k keeps L2 high through cycle k + 1, so integration resumes in cycle k + 2).
pub fn pulses_per_fire(fires: &[Ns], clock: &Clock) -> Vec<u32> {
    let mut start = 0u64;
    let mut out = Vec::new();
    for &t in fires {
        let c = clock.cycle(t);
        out.push((c + 1).saturating_sub(start) as u32);
        start = c + 2;
    }
    out
}
