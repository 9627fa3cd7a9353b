//! Energy accounting against a hand computation: one synapse, one neuron, a known pulse
//! train (`data/energy_one_synapse.ron`).
//!
//! Every expected value below comes from the device and circuit equations and the
//! parameter files (`builtin:rs_hfo2_1t1r`, `builtin:ts_neuron`, `builtin:neuron_cmos`),
//! not from a run.

use runtime::{ExecutorKind, Model};
use std::path::Path;

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `neuron_cmos.ron`: node-1 leak 1e-7 S, T2 read-out 100 kΩ; `ts_neuron.ron`: R_off 1 GΩ,
/// off_gain 5, μ0 157 /s, V0 0.8 V, γ1 25 /s; the default CLK: 500 µs period, 250 µs high.
const G_LEAK: f64 = 1e-7;
const R_READOUT: f64 = 1e5;
const R_OFF: f64 = 1e9;
const OFF_GAIN: f64 = 5.0;
const MU0: f64 = 157.0;
const V0: f64 = 0.8;
const GAMMA1: f64 = 25.0;
const T_HIGH_S: f64 = 250e-6;

#[test]
fn a_sub_threshold_pulse_train_dissipates_what_the_equations_say() {
    let model = Model::load(data("energy_one_synapse.ron")).unwrap();
    for (kind, workers) in [
        (ExecutorKind::Reference, 1),
        (ExecutorKind::Sharded, 2),
        (ExecutorKind::Actix, 1),
    ] {
        let mut session = model.session(1, kind, workers).unwrap();
        session.run_protocol().unwrap();
        let e = session.energy();
        // The file's 100 µS cell and 0.05 V line (both stored as f32).
        let g = f64::from(100e-6f32);
        let a = f64::from(0.05f32);
        // 10 ms of pulses: 20 CLK-high phases, one pulse into one open cell each.
        let k = 20.0;
        assert_eq!(e.synaptic_events, 20, "{kind:?}");
        // Node 1 is a divider between the cell and the OFF neuron (leak + TS branch).
        let g_n = G_LEAK + 1.0 / (R_OFF + R_READOUT);
        let v1 = a * g / (g + g_n);
        // Read: G·(A − V₁)² per high phase; the low phases have every node at 0 V.
        let read = k * T_HIGH_S * g * (a - v1).powi(2);
        let rel = |x: f64, y: f64| (x - y).abs() / y.abs();
        assert!(
            rel(e.by_class.synapse_read_joules, read) < 1e-6,
            "{kind:?}: read {} J, by hand {read} J",
            e.by_class.synapse_read_joules
        );
        // TS: the OFF device takes the whole branch voltage V₁; its conductance
        // G_off·e^{off_gain·x} lies between G_off (x = 0) and G_off·e^{off_gain·u∞}
        // (x ≤ u∞ = μ0·sinh(V₁/V0)/γ1 under a constant drive from rest).
        let u_inf = MU0 * (v1 / V0).sinh() / GAMMA1;
        assert!(
            u_inf < 0.5,
            "the neuron must not be able to switch (θ = 0.5)"
        );
        let ts_lo = k * T_HIGH_S * v1 * v1 / R_OFF;
        let ts_hi = ts_lo * (OFF_GAIN * u_inf).exp();
        let ts = e.by_class.ts_switching_joules;
        assert!(
            ts >= ts_lo * (1.0 - 1e-9) && ts <= ts_hi * (1.0 + 1e-9),
            "{kind:?}: TS {ts} J outside [{ts_lo}, {ts_hi}] J"
        );
        // No fire: no holding, no CMOS transition, no write, no LIA.
        assert_eq!(e.by_class.ts_holding_joules, 0.0);
        assert_eq!(e.by_class.cmos_joules, 0.0);
        assert_eq!(e.by_class.synapse_set_joules, 0.0);
        assert_eq!(e.by_class.synapse_reset_joules, 0.0);
        assert_eq!(e.by_class.lia_read_joules, 0.0);
        assert!(rel(e.total_joules, read + ts) < 1e-12);
        assert!(rel(e.by_layer["neuron"].total_joules(), e.total_joules) < 1e-12);
        assert!(rel(e.by_kind["column"], read) < 1e-6);
    }
}

/// A neuron that sleeps while its column holds back its changing source (each pulse of
/// the line kept with probability 0.5) dissipates what the same neuron does when a probe
/// keeps it awake and it takes every source as it comes: a reading of the energy applies
/// the sources still held, whenever the column would have sent them. (With seed 3 the
/// column holds twelve sources, none sent by the end of the run; read without them, the
/// energy came out 2.5 times too high, the neuron taking the pulse level to the end.)
/// The two ways integrate the same closed forms over the same pieces, so they agree to
/// rounding; the tolerance allows for a different grouping of the periods.
#[test]
fn a_sleeping_neurons_energy_includes_what_its_column_holds_back() {
    let sleeping = Model::load(data("energy_gated_synapse.ron")).unwrap();
    let awake = sleeping
        .edit(|t| {
            t.probes = vec![runtime::model::topology::schema::ProbeSpec {
                target: "neuron".into(),
                signals: vec![runtime::model::topology::schema::Signal::Spikes],
            }]
        })
        .unwrap();
    for (kind, workers) in [(ExecutorKind::Reference, 1), (ExecutorKind::Sharded, 2)] {
        let ts = |m: &Model| {
            let mut session = m.session(3, kind, workers).unwrap();
            session.run_protocol().unwrap();
            let e = session.energy();
            (e.by_class.ts_switching_joules, e.synaptic_events)
        };
        let (asleep, events_asleep) = ts(&sleeping);
        let (woken, events_woken) = ts(&awake);
        // The same Bernoulli draws in both: some of the 20 pulses kept, not all.
        assert_eq!(events_asleep, events_woken, "{kind:?}");
        assert!(
            events_woken > 0 && events_woken < 20,
            "{kind:?}: {events_woken}"
        );
        assert!(woken > 0.0, "{kind:?}");
        assert!(
            (asleep - woken).abs() <= 1e-6 * woken,
            "{kind:?}: asleep {asleep} J, awake {woken} J"
        );
    }
}
