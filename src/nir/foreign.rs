//! Graphs from other frameworks (snnTorch, Norse, Lava, Rockpool, `nir.write`, …) as
//! memsnn topologies: `Input` → (`Affine` | `Linear`) → (`LIF` | `IF` | `CubaLIF`) →
//! … → `Output`, feed-forward, one input.
//!
//! * Each neuron node becomes a layer of hybrid neurons fed by the one `Affine`/`Linear`
//!   before it (fixed-resistor synapses, learning off); `Output` nodes become spike probes.
//! * Signed weights, offset scheme: per layer `lo = min(W, 0)`, `hi = max(W)`, and
//!   `G = G_min + (w − lo)/(hi − lo)·(G_max − G_min)` in the synapse device's window, so
//!   the most negative weight is `G_min` and the order of weights is kept. A memristor
//!   column cannot subtract: what a negative weight loses is docs/nir.md's subject.
//! * Balance line: the input gets one more line, never pulsed, whose synapse in each
//!   column of a layer fed by the input brings every column to the same total
//!   conductance (`balanced`), so the drives keep the order of `W·x`.
//! * Time constants: the layer's median `τ` sets the TS device's leak `γ1 = 1/τ` within
//!   the calibrated span ([`super::neuron_map::leak_for`]); the rest of the device is the
//!   device set's.
//! * Any other node type is refused, naming the node and its type.

use super::keys;
use super::neuron_map::leak_for;
use anyhow::{anyhow, bail, Context, Result};
use devices::params::ParamError;
use devices::ts::TsParams;
use nir_rs::{NirGraph, NirNode, Tensor};
use runtime::engine::time::US;
use runtime::model::topology::error::{located, TopologyError};
use runtime::model::topology::resolve;
use runtime::model::topology::saved::SavedLayer;
use runtime::model::topology::schema::{
    Connectivity, DeviceFiles, Inhibition, Initial, InputSpec, LayerSpec, Pattern, Patterns,
    ProbeSpec, Signal, Step, Topology,
};
use std::collections::BTreeMap;
use std::path::Path;

/// Pulse amplitude of the imported network's input lines, volts: the level of the
/// paper's Fig 3b input (a 1.8 V line into a 100 µS/125 µS divider fires the neuron's
/// TS device on its 5th pulse). The synapses are fixed resistors, so no level programs
/// them.
pub const INPUT_VOLTS: f64 = 1.8;
/// Duration of each presentation of the imported protocol, µs.
pub const PRESENT_US: u64 = 100_000;
/// Rest between the presentations, µs.
pub const REST_US: u64 = 20_000;
/// Name of the pattern file an import writes.
pub const PATTERNS_FILE: &str = "patterns.ron";

/// A network ready to be written: a topology whose references are built-in names or
/// names of `files`, and the conductances of its layers whose `initial` is to be the
/// written conductances file.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The topology (canonical references).
    pub topology: Topology,
    /// `(name, text)` of the files it names.
    pub files: Vec<(String, String)>,
    /// Conductances of the layers that start from them, siemens.
    pub conductances: Vec<SavedLayer>,
    /// Root seed the conductances were read with (memsnn graphs), else 1.
    pub seed: u64,
    /// What the mapping changed or dropped, one sentence each.
    pub notes: Vec<String>,
}

/// Device sets for imported graphs, resolved.
#[derive(Clone, Debug)]
pub struct DeviceSet {
    /// The `devices` block (canonical references).
    pub devices: DeviceFiles,
    /// Files it names, `(name, text)`.
    pub files: Vec<(String, String)>,
    /// The neurons' TS device.
    pub ts: TsParams,
    /// Synapse conductance window, siemens.
    pub g_min_siemens: f64,
    /// Synapse conductance window, siemens.
    pub g_max_siemens: f64,
}

fn skeleton(name: &str, devices: DeviceFiles) -> Topology {
    Topology {
        name: name.to_string(),
        clock: Default::default(),
        variability: Default::default(),
        neuron_variability: None,
        lia_variability: None,
        substep_ns: 10 * US,
        devices,
        inputs: Vec::new(),
        layers: Vec::new(),
        probes: Vec::new(),
        patterns: None,
        protocol: Vec::new(),
    }
}

/// The device set in `path` — a RON `devices` block as a topology writes it, `(ts: ..,
/// synapse: .., circuit: ..)`, paths relative to that file — or, without one, the
/// built-in hybrid neuron (`builtin:ts_neuron`, `builtin:rs_hfo2_1t1r`,
/// `builtin:neuron_cmos`).
pub fn device_set(path: Option<&Path>) -> Result<DeviceSet> {
    let (devices, base, text, origin) = match path {
        None => (
            DeviceFiles {
                ts: "builtin:ts_neuron".into(),
                synapse: "builtin:rs_hfo2_1t1r".into(),
                circuit: "builtin:neuron_cmos".into(),
                lia: None,
                comparator: None,
            },
            Path::new(".").to_path_buf(),
            None,
            Path::new("device set").to_path_buf(),
        ),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read", p.display()))?;
            let d: DeviceFiles = ron::from_str(&text).map_err(|e| {
                anyhow!(
                    "{}:{}:{}: {} — hint: a device set is a topology's `devices` block, e.g. \
                     (ts: \"builtin:ts_neuron\", synapse: \"builtin:rs_hfo2_1t1r\", circuit: \
                     \"builtin:neuron_cmos\")",
                    p.display(),
                    e.span.start.line,
                    e.span.start.col,
                    e.code
                )
            })?;
            let base = p
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| Path::new(".").to_path_buf());
            (d, base, Some(text), p.to_path_buf())
        }
    };
    let t = skeleton("device set", devices);
    let resolved = resolve::devices(&t, &base).map_err(|issues| {
        // The checks name fields `devices.ts`, ...: locate them in the block as if it
        // stood under a `devices:` key on a line of its own, then take that line back.
        let wrapped = text.as_deref().map(|t| format!("(devices:\n{t}\n)"));
        match located(issues, wrapped.as_deref(), &origin) {
            TopologyError::Invalid(errors) => {
                let lines: Vec<String> = errors
                    .into_iter()
                    .map(|mut e| {
                        if let ParamError::Invalid {
                            line: Some(line), ..
                        } = &mut e
                        {
                            *line = line.saturating_sub(1).max(1);
                        }
                        e.to_string()
                    })
                    .collect();
                anyhow!("{}", lines.join("\n"))
            }
            other => anyhow!("{other}"),
        }
    })?;
    let embedded = super::embed::canonical(&t, &base)?;
    let canon = embedded.topology.map(|t| t.devices).unwrap_or(t.devices);
    Ok(DeviceSet {
        devices: canon,
        files: embedded.files,
        ts: resolved.ts,
        g_min_siemens: resolved.synapse.g_min_siemens,
        g_max_siemens: resolved.synapse.g_max_siemens,
    })
}

const IMPORTED_TYPES: &str = "Input, Affine, Linear, LIF, IF, CubaLIF and Output";

/// The neuron's size and time constant (`None`: no leak) of a neuron node.
fn neuron(node: &NirNode) -> Option<(usize, Option<Vec<f64>>)> {
    match node {
        NirNode::Lif(l) => Some((l.tau.numel(), Some(keys::values(&l.tau)))),
        NirNode::CubaLif(c) => Some((c.tau_mem.numel(), Some(keys::values(&c.tau_mem)))),
        NirNode::If(i) => Some((i.r.numel(), None)),
        _ => None,
    }
}

/// The weight and bias of an `Affine`/`Linear` node.
fn weights(node: &NirNode) -> Option<(&Tensor, Option<&Tensor>)> {
    match node {
        NirNode::Affine(a) => Some((&a.weight, Some(&a.bias))),
        NirNode::Linear(l) => Some((&l.weight, None)),
        _ => None,
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// The memsnn network of a foreign graph `g` read from `path`, on the device set `set`.
pub fn from_foreign(g: &NirGraph, path: &Path, name: &str, set: &DeviceSet) -> Result<Imported> {
    let at = path.display();
    for (n, node) in &g.nodes {
        let t = node.type_name();
        if !matches!(
            t,
            "Input" | "Output" | "Affine" | "Linear" | "LIF" | "IF" | "CubaLIF"
        ) {
            bail!(
                "{at}: node `{n}` is a `{t}`, which memsnn cannot import — hint: memsnn \
                 imports {IMPORTED_TYPES} nodes (a feed-forward chain)"
            );
        }
    }
    let mut preds: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in &g.edges {
        preds.entry(b.as_str()).or_default().push(a.as_str());
    }
    let inputs: Vec<&String> = g
        .nodes
        .iter()
        .filter(|(_, n)| matches!(n, NirNode::Input(_)))
        .map(|(k, _)| k)
        .collect();
    let [input] = inputs.as_slice() else {
        bail!(
            "{at}: the graph has {} Input nodes; memsnn imports graphs with exactly one",
            inputs.len()
        );
    };
    let lines = match &g.nodes[input.as_str()] {
        NirNode::Input(i) => i.shape.iter().product::<usize>(),
        _ => 0,
    };
    if lines == 0 || lines > u32::MAX as usize {
        bail!("{at}: node `{input}` (Input) has an empty or oversized shape");
    }
    let the_pred = |n: &str| -> Result<&str> {
        match preds.get(n).map(Vec::as_slice) {
            Some([p]) => Ok(p),
            Some(ps) => bail!(
                "{at}: node `{n}` has {} incoming edges ({}); memsnn imports feed-forward \
                 chains, one input per node (recurrent and merging edges are not mapped)",
                ps.len(),
                ps.join(", ")
            ),
            None => bail!("{at}: node `{n}` has no incoming edge"),
        }
    };
    let mut t = skeleton(name, set.devices.clone());
    t.inputs.push(InputSpec {
        name: input.to_string(),
        lines: lines as u32 + 1,
        amplitude_volts: INPUT_VOLTS,
        pulse_prob: 1.0,
    });
    let mut files = set.files.clone();
    let mut conductances = Vec::new();
    let mut notes = Vec::new();
    let (span_lo, span_hi) = super::neuron_map::leak_span_per_s();
    // Layers in dependency order: each pass adds those whose source is placed.
    let mut pending: Vec<&str> = g
        .nodes
        .iter()
        .filter(|(_, n)| neuron(n).is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    let mut placed: BTreeMap<String, usize> = BTreeMap::new();
    placed.insert(input.to_string(), lines);
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for n in pending {
            let syn = the_pred(n)?;
            let Some((w, bias)) = weights(&g.nodes[syn]) else {
                bail!(
                    "{at}: node `{n}` ({}) is fed by `{syn}` ({}); memsnn needs an Affine or \
                     Linear node (the synapse crossbar) before each neuron node",
                    g.nodes[n].type_name(),
                    g.nodes[syn].type_name()
                );
            };
            let src = the_pred(syn)?;
            let Some(&src_size) = placed.get(src) else {
                if g.nodes.get(src).is_some_and(|s| neuron(s).is_some()) {
                    rest.push(n);
                    continue;
                }
                bail!(
                    "{at}: node `{syn}` is fed by `{src}` ({}); memsnn needs the Input or a \
                     neuron node there",
                    g.nodes.get(src).map_or("missing", NirNode::type_name)
                );
            };
            let (m, tau) = neuron(&g.nodes[n]).unwrap_or((0, None));
            let shape = w.shape();
            if shape.len() != 2 || shape[0] != m || shape[1] != src_size {
                bail!(
                    "{at}: node `{syn}`: weight of shape {shape:?}, but `{src}` has {src_size} \
                     outputs and `{n}` {m} neurons (expected [{m}, {src_size}])"
                );
            }
            if m == 0 {
                bail!("{at}: node `{n}` has no neurons");
            }
            let wv = keys::values(w);
            if wv.iter().any(|x| !x.is_finite()) {
                bail!("{at}: node `{syn}`: weight has non-finite values");
            }
            if bias.is_some_and(|b| keys::values(b).iter().any(|&x| x != 0.0)) {
                notes.push(format!(
                    "`{syn}`: its bias is dropped (a synapse column has no bias line)"
                ));
            }
            let lo = wv.iter().copied().fold(0.0f64, f64::min);
            let hi = wv.iter().copied().fold(lo, f64::max);
            let (gmin, gmax) = (set.g_min_siemens, set.g_max_siemens);
            let siemens: Vec<Vec<f32>> = wv
                .chunks(src_size)
                .map(|row| {
                    row.iter()
                        .map(|&x| {
                            let f = if hi > lo { (x - lo) / (hi - lo) } else { 0.0 };
                            (gmin + f * (gmax - gmin)) as f32
                        })
                        .collect()
                })
                .collect();
            let siemens = if src == input.as_str() {
                balanced(siemens, gmin)
            } else {
                notes.push(format!(
                    "`{syn}`: fed by spikes of `{src}`, its columns are not balanced (each \
                     neuron's drive is its active conductance over its own column total)"
                ));
                siemens
            };
            if lo < 0.0 {
                notes.push(format!(
                    "`{syn}`: signed weights offset into [G_min, G_max] (w = {lo:.3e} → G_min)"
                ));
            }
            conductances.push(SavedLayer {
                name: n.to_string(),
                siemens,
            });
            let tau_med = tau.as_deref().map(median);
            let (gamma, clamped) = leak_for(tau_med);
            if let Some(tv) = tau.as_deref() {
                if tv.iter().any(|&x| x != tv[0]) {
                    notes.push(format!(
                        "`{n}`: time constants differ between neurons; the layer's TS device \
                         leaks with the median τ = {:.3e} s",
                        tau_med.unwrap_or(f64::NAN)
                    ));
                }
            }
            if clamped {
                notes.push(format!(
                    "`{n}`: τ = {:.3e} s is outside the TS devices' span {:.3e}–{:.3e} s; \
                     the leak is clamped to γ1 = {gamma} 1/s",
                    tau_med.unwrap_or(f64::NAN),
                    1.0 / span_hi,
                    1.0 / span_lo
                ));
            }
            let ts_ref = if gamma == set.ts.gamma1_per_s {
                None
            } else {
                let mut ts = set.ts.clone();
                ts.gamma1_per_s = gamma;
                ts.name = format!("{} (leak γ1 = {gamma} 1/s, for NIR node `{n}`)", ts.name);
                let text = ron::ser::to_string_pretty(&ts, ron::ser::PrettyConfig::default())
                    .context("cannot write a TS device as RON")?;
                let file = format!("{}_ts.ron", sanitize(n));
                files.push((
                    file.clone(),
                    format!(
                        "// The device set's TS device with its nucleation leak matched to the \
                         NIR time constant (memsnn nir import).\n{text}\n"
                    ),
                ));
                Some(file)
            };
            t.layers.push(LayerSpec {
                name: n.to_string(),
                neurons: m as u32,
                from: src.to_string(),
                connectivity: Connectivity::Dense,
                initial: Initial::Matrix(Vec::new()),
                inhibition: Inhibition::None,
                gate_volts: 3.0,
                learning: false,
                spike_amplitude_volts: None,
                threshold_leak_seconds: None,
                programmable: false,
                ts: ts_ref,
                circuit: None,
            });
            t.probes.push(ProbeSpec {
                target: n.to_string(),
                signals: vec![Signal::Spikes],
            });
            placed.insert(n.to_string(), m);
        }
        if rest.len() == before {
            bail!(
                "{at}: nodes {} are not reached from the input `{input}` (a cycle?)",
                rest.join(", ")
            );
        }
        pending = rest;
    }
    for (n, node) in &g.nodes {
        if matches!(node, NirNode::Output(_)) {
            let p = the_pred(n)?;
            if !placed.contains_key(p) || p == input.as_str() {
                bail!(
                    "{at}: node `{n}` (Output) reads `{p}`; memsnn outputs are the spikes of \
                     a neuron node"
                );
            }
        }
    }
    if t.layers.is_empty() {
        bail!("{at}: the graph has no neuron node ({IMPORTED_TYPES})");
    }
    // The balance line (the last) is never black: it stays grounded.
    let all: String = "#".repeat(lines) + ".";
    let half: String = (0..lines)
        .map(|i| if i % 2 == 0 { '#' } else { '.' })
        .chain(std::iter::once('.'))
        .collect();
    let patterns = Patterns {
        width: lines as u32 + 1,
        height: 1,
        items: vec![
            Pattern {
                name: "all".into(),
                rows: vec![all],
            },
            Pattern {
                name: "half".into(),
                rows: vec![half],
            },
        ],
    };
    files.push((
        PATTERNS_FILE.to_string(),
        ron::ser::to_string_pretty(&patterns, ron::ser::PrettyConfig::default())
            .context("cannot write the patterns as RON")?,
    ));
    t.patterns = Some(PATTERNS_FILE.to_string());
    t.protocol = vec![
        Step::Present {
            input: input.to_string(),
            pattern: "all".into(),
            flips: 0,
            duration_us: PRESENT_US,
        },
        Step::Rest {
            duration_us: REST_US,
        },
        Step::Present {
            input: input.to_string(),
            pattern: "half".into(),
            flips: 0,
            duration_us: PRESENT_US,
        },
    ];
    Ok(Imported {
        topology: t,
        files,
        conductances,
        seed: 1,
        notes,
    })
}

/// `rows` (one column's conductances each) with one more synapse each, on the input's
/// balance line (never pulsed): every column's total conductance becomes the largest
/// total plus `g_min`. A column drives its neuron with `A·ΣG_active/ΣG_all`, so with
/// equal totals every neuron's drive is the same affine function of its `W·x`, and the
/// order of the neurons' drives is that of `W·x` for every input `x`.
fn balanced(mut rows: Vec<Vec<f32>>, g_min: f64) -> Vec<Vec<f32>> {
    let total = |r: &[f32]| r.iter().map(|&g| f64::from(g)).sum::<f64>();
    let most = rows.iter().map(|r| total(r)).fold(0.0f64, f64::max);
    for r in &mut rows {
        let t = total(r);
        r.push((most + g_min - t) as f32);
    }
    rows
}

/// `name` with every character but ASCII letters, digits, `-` and `_` replaced by `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
