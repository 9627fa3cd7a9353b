//! Energy in the command line's outputs: the printed table of `memsnn run --energy` and
//! the published per-synaptic-event figures memsnn is compared with. The accounting itself
//! is the runtime's ([`runtime::model::energy::EnergyReport`]; docs/energy.md).

use crate::output::table;
use runtime::model::energy::EnergyReport;

/// TrueNorth's energy per synaptic event, joules (Merolla et al., Science 345, 668
/// (2014): 26 pJ).
pub const TRUENORTH_JOULES_PER_SYNAPTIC_EVENT: f64 = 26e-12;
/// Loihi's energy per synaptic event, joules (Davies et al., IEEE Micro 38, 82 (2018):
/// ~24 pJ per synaptic operation).
pub const LOIHI_JOULES_PER_SYNAPTIC_EVENT: f64 = 24e-12;

/// The energy of a run as a table for the terminal: one row per class, one column per
/// layer and the total, joules; then the synaptic events and the energy per event.
pub fn energy_table(e: &EnergyReport) -> String {
    let mut header: Vec<&str> = vec!["class"];
    header.extend(e.by_layer.keys().map(String::as_str));
    header.push("total");
    let mut rows: Vec<Vec<String>> = e
        .by_class
        .classes()
        .iter()
        .enumerate()
        .map(|(k, &(name, total))| {
            let mut row = vec![name.to_string()];
            row.extend(
                e.by_layer
                    .values()
                    .map(|l| format!("{:.3e} J", l.classes()[k].1)),
            );
            row.push(format!("{total:.3e} J"));
            row
        })
        .collect();
    let mut total = vec!["total".to_string()];
    total.extend(
        e.by_layer
            .values()
            .map(|l| format!("{:.3e} J", l.total_joules())),
    );
    total.push(format!("{:.3e} J", e.total_joules));
    rows.push(total);
    format!(
        "{}{} synaptic events, {:.3e} J per synaptic event (TrueNorth 26 pJ, Loihi ~24 pJ)\n",
        table(&header, &rows),
        e.synaptic_events,
        e.joules_per_synaptic_event
    )
}
