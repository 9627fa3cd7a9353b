//! The rules a topology and a pattern file obey on their own, without opening any other
//! file: names that exist and are unique, sizes and shapes that agree, positive durations,
//! bounded values, one driver per gate line. Each broken rule is recorded with its dotted
//! field path (`layers[1].from`) so that [`super::error::located`] can locate it in the text.

use super::schema::{Connectivity, Inhibition, Initial, Patterns, Signal, Step, Topology};
use devices::params::{Validate, Validator};
use std::collections::BTreeSet;

/// Most synapses of a whole topology, over all its layers (a guard against typos such as
/// `neurons: 1000000000`; the memory budget of [`super::size`] is checked as well).
pub const MAX_SYNAPSES: u64 = 200_000_000;
/// Largest topology file read, bytes (a `Matrix` of a 784 × 1600 layer is ~20 MB of text).
pub const MAX_TOPOLOGY_FILE_BYTES: u64 = 256 << 20;
/// Largest pattern file read, bytes.
pub const MAX_PATTERN_FILE_BYTES: u64 = 64 << 20;
/// Bytes of text per synapse a saved-weights file may take (a value is written in at most
/// 16 characters: `9.999999e-4, `); a file is refused before reading when it is larger
/// than this times the topology's synapses plus 1 MiB.
pub const SAVED_BYTES_PER_SYNAPSE: u64 = 32;
/// Largest saved-weights file read, bytes, whatever the topology.
pub const MAX_SAVED_FILE_BYTES: u64 = 8 << 30;
/// Most neurons in one layer (and input lines of one generator).
pub const MAX_NEURONS_PER_LAYER: u32 = 10_000_000;
/// Most neurons of a layer with a lateral-inhibition array (its n × n cells are stored).
pub const MAX_LIA_NEURONS: u32 = 10_000;
/// Largest voltage magnitude accepted anywhere (amplitudes, gates), volts.
pub const MAX_VOLTS: f64 = 100.0;
/// Largest conductance accepted for a synapse, siemens (1 S = a 1 Ω resistor).
pub const MAX_SIEMENS: f64 = 1.0;
/// Largest `spread_cv` of `Uniform` initial conductances.
pub const MAX_SPREAD_CV: f64 = 10.0;
/// Longest single step, µs (10⁹ µs ≈ 17 minutes of simulated time).
pub const MAX_STEP_US: u64 = 1_000_000_000;
/// Most CLK periods a `PresentUntilFire` step may wait (also most fires it may wait for).
pub const MAX_CYCLES: u64 = 10_000_000;
/// Most steps of a protocol.
pub const MAX_STEPS: u64 = 10_000_000;
/// Longest protocol, all steps together, ns of simulated time (10⁵ s, ~28 hours).
pub const MAX_PROTOCOL_NS: u64 = 100_000 * 1_000_000_000;
/// Longest CLK period, ns (1 s; the paper's is 0.5 ms).
pub const MAX_PERIOD_NS: u64 = 1_000_000_000;
/// Most names listed in a hint.
const MAX_NAMES_IN_HINT: usize = 12;

/// Names for a hint: all of them, or the first twelve and how many more.
pub fn name_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    let shown = names.len().min(MAX_NAMES_IN_HINT);
    let mut s = names[..shown].join(", ");
    if names.len() > shown {
        s += &format!(" … ({} more)", names.len() - shown);
    }
    s
}

impl Validate for Patterns {
    fn validate(&self, v: &mut Validator) {
        let hint = "use a size of at least 1";
        v.check("width", self.width > 0, "must be ≥ 1 (got 0)", hint);
        v.check("height", self.height > 0, "must be ≥ 1 (got 0)", hint);
        let hint = "add at least one `(name: \"...\", rows: [...])`";
        v.check("items", !self.items.is_empty(), "no pattern given", hint);
        let mut seen = BTreeSet::new();
        for (k, p) in self.items.iter().enumerate() {
            v.nested(&format!("items[{k}]"), |v| {
                let hint = "give every pattern a distinct, non-empty name";
                v.check("name", !p.name.is_empty(), "must not be empty", hint);
                let fresh = seen.insert(p.name.as_str());
                let msg = format!("`{}` is used by an earlier pattern", p.name);
                v.check("name", fresh, &msg, hint);
                let msg = format!(
                    "pattern `{}` has {} rows, expected {} (height)",
                    p.name,
                    p.rows.len(),
                    self.height
                );
                let hint = "give every pattern `height` rows";
                v.check("rows", p.rows.len() == self.height as usize, &msg, hint);
                for (r, row) in p.rows.iter().enumerate() {
                    let n = row.chars().count();
                    let msg = format!(
                        "pattern `{}`, row {r}: {n} characters, expected {} (width)",
                        p.name, self.width
                    );
                    let hint = "give every row `width` characters";
                    v.check(&format!("rows[{r}]"), n == self.width as usize, &msg, hint);
                    if let Some((c, ch)) = row.chars().enumerate().find(|(_, c)| !"#.".contains(*c))
                    {
                        let msg = format!(
                            "pattern `{}`, row {r}, character {}: `{ch}` is neither `#` nor `.`",
                            p.name,
                            c + 1
                        );
                        let hint = "write `#` for a black (pulsed) pixel and `.` for a white one";
                        v.check(&format!("rows[{r}]"), false, &msg, hint);
                    }
                }
            });
        }
    }
}

/// Every name defined by the topology, for hints.
fn all_names(t: &Topology) -> String {
    let names: Vec<&str> = t
        .inputs
        .iter()
        .map(|i| i.name.as_str())
        .chain(t.layers.iter().map(|l| l.name.as_str()))
        .collect();
    if names.is_empty() {
        "(none defined)".into()
    } else {
        name_list(names)
    }
}

impl Validate for Topology {
    fn validate(&self, v: &mut Validator) {
        let hint = "give it a short name, e.g. `name: \"msnn\"`";
        v.check(
            "name",
            !self.name.trim().is_empty(),
            "must not be empty",
            hint,
        );
        v.nested("clock", |v| {
            let (p, h) = (self.clock.period_ns, self.clock.high_ns);
            let hint = "the paper's clock is `(period_ns: 500000, high_ns: 250000)`";
            let msg = format!("must be > 0 and ≤ {MAX_PERIOD_NS} (got {p})");
            v.check("period_ns", p > 0 && p <= MAX_PERIOD_NS, &msg, hint);
            let msg = format!("must be > 0 and < period_ns ({p}) (got {h})");
            v.check("high_ns", h > 0 && h < p, &msg, hint);
        });
        let hint = "use a few µs, e.g. `substep_ns: 10000`";
        let msg = format!(
            "must be > 0 and ≤ the CLK period ({}) (got {})",
            self.clock.period_ns, self.substep_ns
        );
        let ok = self.substep_ns > 0 && self.substep_ns <= self.clock.period_ns.max(1);
        v.check("substep_ns", ok, &msg, hint);
        self.validate_devices(v);
        self.validate_names(v);
        for (k, input) in self.inputs.iter().enumerate() {
            v.nested(&format!("inputs[{k}]"), |v| {
                let hint = "use at least one line (one per pixel)";
                v.check("lines", input.lines > 0, "must be ≥ 1 (got 0)", hint);
                let msg = format!("must be ≤ {MAX_NEURONS_PER_LAYER} (got {})", input.lines);
                let ok = input.lines <= MAX_NEURONS_PER_LAYER;
                v.check("lines", ok, &msg, "check for a typo in the number of lines");
                v.in_range("amplitude_volts", input.amplitude_volts, 0.0, MAX_VOLTS);
                let ok = input.pulse_prob > 0.0 && input.pulse_prob <= 1.0;
                let msg = format!("must be in (0, 1] (got {})", input.pulse_prob);
                let hint = "give the probability that a pulse is kept, e.g. 0.5";
                v.check("pulse_prob", ok, &msg, hint);
            });
        }
        for (l, _) in self.layers.iter().enumerate() {
            v.nested(&format!("layers[{l}]"), |v| self.validate_layer(l, v));
        }
        self.validate_synapse_total(v);
        let steps = self.protocol.len() as u64;
        let msg = format!("{steps} steps, more than {MAX_STEPS}");
        let hint = "split the protocol over several runs (saved weights carry the state)";
        v.check("protocol", steps <= MAX_STEPS, &msg, hint);
        let total = super::size::protocol_ns(self);
        let msg = format!(
            "the steps last {:.0} s of simulated time in all, more than {} s",
            total as f64 * 1e-9,
            MAX_PROTOCOL_NS / 1_000_000_000
        );
        let hint = "shorten the steps, or split the protocol over several runs";
        v.check("protocol", total <= MAX_PROTOCOL_NS, &msg, hint);
        for (k, p) in self.probes.iter().enumerate() {
            v.nested(&format!("probes[{k}]"), |v| self.validate_probe(p, v));
        }
        for (s, step) in self.protocol.iter().enumerate() {
            v.nested(&format!("protocol[{s}]"), |v| self.validate_step(step, v));
        }
    }
}

impl Topology {
    /// The synapses of all layers together must not exceed [`MAX_SYNAPSES`]; a violation
    /// is recorded at every layer holding at least a tenth of them, and at the largest.
    fn validate_synapse_total(&self, v: &mut Validator) {
        let per_layer: Vec<u64> = (0..self.layers.len())
            .map(|l| super::size::layer_synapses(self, l))
            .collect();
        let total = per_layer.iter().fold(0u64, |a, b| a.saturating_add(*b));
        if total <= MAX_SYNAPSES {
            return;
        }
        // The layers holding a tenth or more; at least the largest one.
        let largest = (0..per_layer.len()).max_by_key(|&l| per_layer[l]);
        for (l, &n) in per_layer.iter().enumerate() {
            if (n as f64) < 0.1 * total as f64 && Some(l) != largest {
                continue;
            }
            let msg = format!(
                "layer `{}` has {n} synapses, of {total} over the topology's {} layers; a \
                 topology may have at most {MAX_SYNAPSES}",
                self.layers[l].name,
                self.layers.len()
            );
            let hint = "use fewer neurons (or a smaller source) in the largest layers";
            v.check(&format!("layers[{l}].neurons"), false, &msg, hint);
        }
    }

    fn validate_devices(&self, v: &mut Validator) {
        v.nested("devices", |v| {
            let hint = "give a file path or a built-in name such as \"builtin:ts_neuron\"";
            for (field, value) in [
                ("ts", &self.devices.ts),
                ("synapse", &self.devices.synapse),
                ("circuit", &self.devices.circuit),
            ] {
                v.check(field, !value.trim().is_empty(), "must not be empty", hint);
            }
            for (field, value) in [
                ("lia", &self.devices.lia),
                ("comparator", &self.devices.comparator),
            ] {
                if let Some(x) = value {
                    v.check(field, !x.trim().is_empty(), "must not be empty", hint);
                }
            }
        });
    }

    fn validate_names(&self, v: &mut Validator) {
        let mut seen = BTreeSet::new();
        let names = self.inputs.iter().map(|i| ("inputs", &i.name));
        let names = names.chain(self.layers.iter().map(|l| ("layers", &l.name)));
        let mut index = [0usize, 0usize];
        for (list, name) in names {
            let k = &mut index[usize::from(list == "layers")];
            let field = format!("{list}[{k}].name");
            *k += 1;
            let hint = "inputs and layers share one namespace: give each a distinct name";
            v.check(&field, !name.trim().is_empty(), "must not be empty", hint);
            let msg = format!("`{name}` is already used by an earlier input or layer");
            v.check(&field, seen.insert(name.as_str()), &msg, hint);
        }
    }

    fn validate_layer(&self, l: usize, v: &mut Validator) {
        let layer = &self.layers[l];
        let hint = "use at least one neuron";
        v.check("neurons", layer.neurons > 0, "must be ≥ 1 (got 0)", hint);
        let msg = format!("must be ≤ {MAX_NEURONS_PER_LAYER} (got {})", layer.neurons);
        let ok = layer.neurons <= MAX_NEURONS_PER_LAYER;
        v.check(
            "neurons",
            ok,
            &msg,
            "check for a typo in the number of neurons",
        );
        let n = layer.neurons as usize;
        let source = self.source_size(&layer.from);
        let from_layer = self.layer(&layer.from).is_some();
        let msg = format!(
            "`{}` names no input or layer (a dangling connection)",
            layer.from
        );
        let hint = format!("use one of: {}", all_names(self));
        v.check("from", source.is_some(), &msg, &hint);
        if layer.connectivity == Connectivity::OneToOne {
            let msg = "OneToOne needs a layer as source (an input's pattern bus reaches every column whole)";
            let ok = source.is_none() || from_layer;
            v.check(
                "connectivity",
                ok,
                msg,
                "use `Dense` for an input generator",
            );
            if let (true, Some(s)) = (from_layer, source) {
                let msg = format!(
                    "OneToOne from `{}` ({s} neurons) into {n} neurons",
                    layer.from
                );
                let hint = "give both layers the same number of neurons, or use `Dense`";
                v.check("connectivity", s == n, &msg, hint);
            }
        }
        let per_column = source.map(|s| layer.synapses_per_column(s));
        match &layer.initial {
            Initial::Uniform(g, cv) => {
                let ok = (*g > 0.0 && *g <= MAX_SIEMENS) && (0.0..=MAX_SPREAD_CV).contains(cv);
                let msg = format!(
                    "Uniform({g:e}, {cv}): needs 0 < siemens ≤ {MAX_SIEMENS} and 0 ≤ spread_cv ≤ {MAX_SPREAD_CV}"
                );
                let hint =
                    "write e.g. `Uniform(400.0e-6, 0.05)` (siemens, coefficient of variation)";
                v.check("initial", ok, &msg, hint);
            }
            Initial::Prototypes {
                p_on,
                on_siemens,
                off_siemens,
            } => {
                let msg = format!("p_on must be in [0, 1] (got {p_on})");
                let hint = "the probability that a synapse is in a column's prototype, e.g. 0.5";
                v.check("initial", (0.0..=1.0).contains(p_on), &msg, hint);
                for (what, (lo, hi)) in [("on_siemens", on_siemens), ("off_siemens", off_siemens)] {
                    let ok = *lo > 0.0 && lo <= hi && *hi <= MAX_SIEMENS;
                    let msg =
                        format!("{what} ({lo:e}, {hi:e}): needs 0 < low ≤ high ≤ {MAX_SIEMENS}");
                    let hint = "give a range of conductances in siemens, e.g. (700.0e-6, 980.0e-6)";
                    v.check("initial", ok, &msg, hint);
                }
            }
            Initial::Matrix(rows) => {
                let msg = format!("Matrix has {} rows, the layer has {n} neurons", rows.len());
                let hint = "give one row per neuron (column of the crossbar)";
                v.check("initial", rows.len() == n, &msg, hint);
                if let Some(k) = per_column {
                    if let Some((r, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != k) {
                        let msg = format!(
                            "Matrix row {r} has {} values, but each column has {k} synapses (from `{}`)",
                            row.len(),
                            layer.from
                        );
                        let hint =
                            "give one value per source line (Dense) or exactly one (OneToOne)";
                        v.check("initial", false, &msg, hint);
                    }
                }
                let bad = rows.iter().enumerate().find_map(|(r, row)| {
                    let k = row.iter().position(|g| !(*g > 0.0 && *g <= MAX_SIEMENS))?;
                    Some((r, k, row[k]))
                });
                if let Some((r, k, g)) = bad {
                    let msg = format!(
                        "Matrix row {r}, value {k}: must be > 0 and ≤ {MAX_SIEMENS} (got {g})"
                    );
                    v.check(
                        "initial",
                        false,
                        &msg,
                        "conductances are positive, in siemens",
                    );
                }
            }
            Initial::Saved(file) => {
                let hint = "name a weights file written by `memsnn run --save-weights`";
                v.check("initial", !file.trim().is_empty(), "no file given", hint);
            }
        }
        v.in_range("gate_volts", layer.gate_volts, -MAX_VOLTS, MAX_VOLTS);
        match layer.inhibition {
            Inhibition::Supervised(g) => {
                let msg = format!(
                    "Supervised({g}): the initial gate level must be within ±{MAX_VOLTS} V"
                );
                v.check(
                    "inhibition",
                    g.abs() <= MAX_VOLTS,
                    &msg,
                    "write e.g. `Supervised(0.0)` (volts)",
                );
            }
            Inhibition::Lia => {
                let msg = "a lateral-inhibition array needs its parameters, but `devices.lia` is not given";
                let hint = "add `lia: \"builtin:lia\"` (or a LiaParams file) under `devices`";
                v.check("inhibition", self.devices.lia.is_some(), msg, hint);
                let msg = format!(
                    "an LIA for {} neurons is too large (n × n cells)",
                    layer.neurons
                );
                let hint = format!("keep winner-take-all layers below {MAX_LIA_NEURONS} neurons");
                v.check("inhibition", layer.neurons <= MAX_LIA_NEURONS, &msg, &hint);
            }
            Inhibition::None => {}
        }
        if let Some(a) = layer.spike_amplitude_volts {
            spike_amplitude(v, "spike_amplitude_volts", a);
        }
        if let Some(t) = layer.threshold_leak_seconds {
            v.positive("threshold_leak_seconds", t);
        }
    }

    fn validate_probe(&self, p: &super::schema::ProbeSpec, v: &mut Validator) {
        let layer = self.layer(&p.target);
        let known = layer.is_some() || self.input(&p.target).is_some();
        let msg = format!("`{}` names no input or layer", p.target);
        v.check(
            "target",
            known,
            &msg,
            &format!("use one of: {}", all_names(self)),
        );
        let hint = "list at least one of Spikes, Node, Gates, Conductances";
        v.check("signals", !p.signals.is_empty(), "no signal given", hint);
        if let Some(l) = layer {
            let driven = l.inhibition != Inhibition::None;
            let msg = format!(
                "layer `{}` has no gate driver: its gates are constant",
                l.name
            );
            let hint = "remove `Gates`, or give the layer `inhibition: Lia` or `Supervised(...)`";
            v.check(
                "signals",
                driven || !p.signals.contains(&Signal::Gates),
                &msg,
                hint,
            );
        }
    }

    fn validate_step(&self, step: &Step, v: &mut Validator) {
        let input = |v: &mut Validator, name: &str| {
            let names = name_list(self.inputs.iter().map(|i| i.name.as_str()));
            let msg = format!("no input is called `{name}`");
            let hint = format!("use one of: {names}");
            v.check("input", self.input(name).is_some(), &msg, &hint);
        };
        let layer = |v: &mut Validator, name: &str| {
            let names = name_list(self.layers.iter().map(|l| l.name.as_str()));
            let msg = format!("no layer is called `{name}`");
            let hint = format!("use one of: {names}");
            v.check("layer", self.layer(name).is_some(), &msg, &hint);
        };
        let duration = |v: &mut Validator, us: u64| {
            let msg = format!("must be > 0 and ≤ {MAX_STEP_US} (got {us})");
            let hint = "give the duration in µs, e.g. `duration_us: 10000` for 10 ms";
            v.check("duration_us", us > 0 && us <= MAX_STEP_US, &msg, hint);
        };
        match step {
            Step::Present {
                input: i,
                duration_us,
                ..
            } => {
                input(v, i);
                duration(v, *duration_us);
            }
            Step::PresentPrototype {
                input: i,
                layer: l,
                neuron,
                duration_us,
                ..
            } => {
                input(v, i);
                layer(v, l);
                duration(v, *duration_us);
                if let Some(spec) = self.layer(l) {
                    let msg = format!(
                        "layer `{l}` has {} neurons, no neuron {neuron}",
                        spec.neurons
                    );
                    let hint = "neurons are numbered from 0";
                    v.check("neuron", *neuron < spec.neurons, &msg, hint);
                    let ok = matches!(spec.initial, Initial::Prototypes { .. });
                    let msg = format!("layer `{l}` has no prototypes");
                    let hint = "give the layer `initial: Prototypes(p_on: .., on_siemens: .., off_siemens: ..)`";
                    v.check("layer", ok, &msg, hint);
                    let msg = format!("layer `{l}` is not fed by input `{i}`");
                    let hint = format!("use the layer's source, `{}`", spec.from);
                    v.check("input", spec.from == *i, &msg, &hint);
                }
            }
            Step::Rest { duration_us } => duration(v, *duration_us),
            Step::PresentUntilFire {
                input: i,
                layer: l,
                fires,
                max_cycles,
                ..
            } => {
                input(v, i);
                layer(v, l);
                let msg = format!("must be ≥ 1 and ≤ {MAX_CYCLES} (got {fires})");
                let ok = (1..=MAX_CYCLES).contains(&u64::from(*fires));
                v.check("fires", ok, &msg, "wait for at least one fire");
                let msg = format!("must be ≥ 1 and ≤ {MAX_CYCLES} (got {max_cycles})");
                let ok = (1..=MAX_CYCLES).contains(max_cycles);
                v.check(
                    "max_cycles",
                    ok,
                    &msg,
                    "bound the wait in CLK periods, e.g. 100",
                );
            }
            Step::SetLearning { layer: l, .. } => layer(v, l),
            Step::SetAmplitude { input: i, volts } => {
                input(v, i);
                v.in_range("volts", *volts, 0.0, MAX_VOLTS);
            }
            Step::SetSpikeAmplitude { layer: l, volts } => {
                layer(v, l);
                spike_amplitude(v, "volts", *volts);
            }
            Step::SetGates { layer: l, volts } => {
                layer(v, l);
                if let Some(spec) = self.layer(l) {
                    let (ok, msg, hint) = match spec.inhibition {
                        Inhibition::Supervised(_) => (true, String::new(), ""),
                        Inhibition::Lia => (
                            false,
                            format!("layer `{l}`'s gates are driven by its LIA: a gate driven by two drivers"),
                            "drop this step, or make the layer `inhibition: Supervised(0.0)`",
                        ),
                        Inhibition::None => (
                            false,
                            format!("layer `{l}` has no gate driver (its gates are held at gate_volts)"),
                            "make the layer `inhibition: Supervised(<initial volts>)`",
                        ),
                    };
                    v.check("layer", ok, &msg, hint);
                    let n = spec.neurons as usize;
                    let msg = format!("{} levels for {n} neurons", volts.len());
                    v.check(
                        "volts",
                        volts.len() == n,
                        &msg,
                        "give one level (volts) per neuron",
                    );
                }
                if let Some(x) = volts.iter().find(|x| !x.is_finite()) {
                    v.check(
                        "volts",
                        false,
                        &format!("must be finite (got {x})"),
                        "use volts",
                    );
                }
            }
        }
    }
}

/// A spike amplitude must be > 0 and at most [`MAX_VOLTS`].
fn spike_amplitude(v: &mut Validator, name: &str, x: f64) {
    let msg = format!("must be > 0 and ≤ {MAX_VOLTS} (got {x})");
    let hint = "give the spike amplitude in volts (the circuit's default is 2.0)";
    v.check(name, x > 0.0 && x <= MAX_VOLTS, &msg, hint);
}
