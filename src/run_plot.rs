//! `memsnn run --plot FILE.png`: what a run's probes recorded, drawn — a spike raster of
//! every probed neuron, node-1 voltages where `Node` was probed, and the mean conductance
//! of each probed synapse column over time.
//!
//! It reads the canonical probe CSV (`t_ns,component,kind,index,value`), so a saved
//! `probes.csv` draws the same figure.

use crate::plot::{render_panels, Panel, Series, SeriesKind};
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Most traces drawn in one panel (the first components in name order).
const MAX_TRACES: usize = 8;

/// One parsed probe record.
struct Row<'a> {
    t_ms: f64,
    component: &'a str,
    kind: &'a str,
    index: usize,
    value: f64,
}

fn parse(csv: &str) -> Vec<Row<'_>> {
    csv.lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split(',');
            let t: f64 = f.next()?.parse().ok()?;
            let component = f.next()?;
            let kind = f.next()?;
            let index = f.next()?.parse().ok()?;
            let value = f.next()?.parse().ok()?;
            Some(Row {
                t_ms: t * 1e-6,
                component,
                kind,
                index,
                value,
            })
        })
        .collect()
}

/// The layer of a component named `layer.neuron[3]`, `layer.column[3]`, ….
fn layer_of(component: &str) -> &str {
    component.split('.').next().unwrap_or(component)
}

/// Draws the figure for the probe records in `csv` into `path`; an error if nothing that
/// can be drawn was recorded (spikes, node voltages or conductances).
pub fn plot_probes(csv: &str, path: &Path) -> Result<()> {
    let rows = parse(csv);
    let mut panels = Vec::new();

    // Spike raster: one row per spiking component, one colour per layer.
    let mut spiking: Vec<&str> = rows
        .iter()
        .filter(|r| r.kind == "spike")
        .map(|r| r.component)
        .collect();
    spiking.sort_unstable_by_key(|c| natural_key(c));
    spiking.dedup();
    if !spiking.is_empty() {
        let row_of: BTreeMap<&str, usize> =
            spiking.iter().enumerate().map(|(i, c)| (*c, i)).collect();
        let mut by_layer: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.kind == "spike") {
            by_layer
                .entry(layer_of(r.component))
                .or_default()
                .push((r.t_ms, row_of[r.component] as f64));
        }
        panels.push(Panel {
            title: format!("spikes ({} neurons)", spiking.len()),
            x_label: "time (ms)".into(),
            y_label: "neuron (probed, in layer order)".into(),
            series: by_layer
                .into_iter()
                .map(|(layer, points)| Series {
                    name: layer.to_string(),
                    points,
                    kind: SeriesKind::Points,
                })
                .collect(),
            ..Panel::default()
        });
    }

    // Node-1 voltages.
    if let Some(panel) = traces(&rows, "v_node1", "node 1 (V)", 1.0, mean) {
        panels.push(panel);
    }
    // Mean conductance of each probed column.
    if let Some(panel) = traces(&rows, "g", "mean conductance (µS)", 1e6, mean) {
        panels.push(panel);
    }
    // One time axis for all panels; step traces hold their last value to its end.
    let t_end = rows.iter().map(|r| r.t_ms).fold(0.0, f64::max);
    for panel in &mut panels {
        panel.x_range = Some((0.0, t_end.max(1e-3)));
        for series in &mut panel.series {
            if series.kind == SeriesKind::Step {
                if let Some(&(t, y)) = series.points.last() {
                    if t < t_end {
                        series.points.push((t_end, y));
                    }
                }
            }
        }
    }
    if panels.is_empty() {
        bail!(
            "{}: the run recorded no spikes, node voltages or conductances to draw; add \
             `probes: [(target: \"<layer>\", signals: [Spikes, Node, Conductances])]` to the topology",
            path.display()
        );
    }
    render_panels(path, &panels, 1, (1000, 320))
}

/// One step trace per component (at most [`MAX_TRACES`]) of the records of `kind`; each
/// component's value at a time is `combine` of its latest values per index, times `scale`.
fn traces(
    rows: &[Row<'_>],
    kind: &str,
    y_label: &str,
    scale: f64,
    combine: fn(&[f64]) -> f64,
) -> Option<Panel> {
    let mut by_comp: BTreeMap<&str, Vec<&Row<'_>>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.kind == kind) {
        by_comp.entry(r.component).or_default().push(r);
    }
    if by_comp.is_empty() {
        return None;
    }
    let mut comps: Vec<&str> = by_comp.keys().copied().collect();
    comps.sort_unstable_by_key(|c| natural_key(c));
    let series = comps
        .iter()
        .take(MAX_TRACES)
        .map(|c| {
            let mut latest: Vec<f64> = Vec::new();
            let mut points: Vec<(f64, f64)> = Vec::new();
            for r in &by_comp[c] {
                if latest.len() <= r.index {
                    latest.resize(r.index + 1, f64::NAN);
                }
                latest[r.index] = r.value;
                let y = combine(&latest) * scale;
                match points.last_mut() {
                    Some(p) if p.0 == r.t_ms => p.1 = y,
                    _ => points.push((r.t_ms, y)),
                }
            }
            Series {
                name: c.to_string(),
                points,
                kind: SeriesKind::Step,
            }
        })
        .collect();
    let shown = comps.len().min(MAX_TRACES);
    Some(Panel {
        title: format!("{y_label}: {shown} of {} probed", comps.len()),
        x_label: "time (ms)".into(),
        y_label: y_label.into(),
        series,
        ..Panel::default()
    })
}

/// Mean of the finite values.
fn mean(v: &[f64]) -> f64 {
    let (s, n) = v
        .iter()
        .filter(|x| x.is_finite())
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// Sort key that orders `x.neuron[10]` after `x.neuron[9]`.
fn natural_key(name: &str) -> (String, u64) {
    match name.rsplit_once('[') {
        Some((head, tail)) => (
            head.to_string(),
            tail.trim_end_matches(']').parse().unwrap_or(u64::MAX),
        ),
        None => (name.to_string(), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders_components_naturally() {
        let csv = "t_ns,component,kind,index,value\n\
                   1000000,h.neuron[10],spike,0,1e0\n\
                   2000000,h.neuron[9],spike,0,1e0\n\
                   bad line\n";
        let rows = parse(csv);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].t_ms, 1.0);
        let mut names = vec!["h.neuron[10]", "h.neuron[9]", "h.lia"];
        names.sort_unstable_by_key(|c| natural_key(c));
        assert_eq!(names, ["h.lia", "h.neuron[9]", "h.neuron[10]"]);
    }

    #[test]
    fn conductance_traces_follow_the_mean_of_the_latest_values() {
        let csv = "t_ns,component,kind,index,value\n\
                   0,o.column[0],g,0,4e-5\n\
                   0,o.column[0],g,1,6e-5\n\
                   5000000,o.column[0],g,1,1e-4\n";
        let rows = parse(csv);
        let p = traces(&rows, "g", "µS", 1e6, mean).unwrap();
        // 50 µS at t = 0 (mean of 40 and 60), 70 µS once synapse 1 reaches 100 µS.
        let pts = &p.series[0].points;
        assert_eq!(pts.len(), 2);
        assert!(
            (pts[0].1 - 50.0).abs() < 1e-9 && (pts[1].1 - 70.0).abs() < 1e-9,
            "{pts:?}"
        );
    }

    #[test]
    fn nothing_to_draw_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("memsnn-runplot-{}", std::process::id()));
        let e = plot_probes("t_ns,component,kind,index,value\n", &dir.join("x.png"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("probes:"), "{e}");
    }
}
