use super::*;
use crate::set::DeviceSet;
use proptest::prelude::*;

fn params() -> RsParams {
    DeviceSet::builtin().synapse
}

#[test]
fn conductance_spans_hrs_to_lrs_and_inverts() {
    let p = params();
    let d = p.nominal_device();
    assert!((d.conductance_siemens(0.0) - 40e-6).abs() < 1e-12);
    assert!((d.conductance_siemens(1.0) - 980e-6).abs() < 1e-12);
    let mut prev = 0.0;
    for i in 0..=100 {
        let x = i as f64 / 100.0;
        let g = d.conductance_siemens(x);
        assert!(g > prev);
        prev = g;
        assert!((d.p_of(g) - x).abs() < 1e-9);
    }
    // The paper's medium state (~400 µS) is reachable.
    let mid = d.p_of(400e-6);
    assert!(mid > 0.1 && mid < 0.9);
}

#[test]
fn no_programming_between_the_thresholds() {
    let p = params();
    let d = p.nominal_device();
    for v in [-1.54, -0.8, 0.0, 0.2, 0.9, 1.49] {
        assert_eq!(p.program(&d, 0.4, v, 1e-3, 3.0, 0.0), 0.4, "{v} V");
    }
}

#[test]
fn set_and_reset_move_the_right_way_within_bounds() {
    let p = params();
    let d = p.nominal_device();
    let up = p.program(&d, 0.4, 1.6, 250e-6, 3.0, 0.0);
    let down = p.program(&d, 0.4, -2.0, 125e-6, 3.0, 0.0);
    assert!(up > 0.4 && up <= 1.0);
    assert!((0.0..0.4).contains(&down));
    assert_eq!(p.program(&d, 0.0, -2.0, 1.0, 3.0, 0.0), 0.0);
    assert_eq!(p.program(&d, 1.0, 2.0, 1.0, 3.0, 0.0), 1.0);
}

#[test]
fn circuit_margins_of_the_builtin_synapse() {
    let p = params();
    let d = p.nominal_device();
    // Potentiation: 1.6 V against a grounded node 1, one 250 µs phase: a small step, so
    // that a neuron's weights evolve over tens of firing events (paper Fig 5e: 30).
    let dp = p.program(&d, 0.3, 1.6, 250e-6, 3.0, 0.0) - 0.3;
    assert!(dp > 0.02 && dp < 0.06, "potentiation step {dp}");
    // Layer 2: 1.8 V sets an HRS device to LRS at once (abrupt SET), even in a 1 µs step.
    assert_eq!(p.program(&d, 0.0, 1.8, 1e-6, 3.0, 0.0), 1.0);
    // Integration and reads: ≤ 1.45 V for a whole pulse never moves a device, nor does
    // −V(node 1) ≥ −1.55 V on a grounded input.
    assert_eq!(p.program(&d, 0.3, 1.45, 250e-6, 3.0, 0.0), 0.3);
    assert_eq!(p.program(&d, 0.3, -1.55, 250e-6, 3.0, 0.0), 0.3);
    // Depression: −2 V (node 1 lifted by T3) for half a phase: a partial step down.
    let dm = 0.6 - p.program(&d, 0.6, -2.0, 125e-6, 3.0, 0.0);
    assert!(dm > 0.02 && dm < 0.08, "depression step {dm}");
}

#[test]
fn gate_controls_access_and_compliance() {
    let p = params();
    let d = p.nominal_device();
    assert_eq!(
        p.program(&d, 0.2, 2.0, 1e-3, 0.0, 0.0),
        0.2,
        "gate off: no current"
    );
    let cap_low = p.compliance_cap_siemens(&d, 1.5);
    let cap_ref = p.compliance_cap_siemens(&d, 3.0);
    assert!((cap_ref - 980e-6).abs() < 1e-12);
    assert!(cap_low < cap_ref);
    let set_low = p.program(&d, 0.0, 2.0, 1e-3, 1.5, 0.0);
    assert!(d.conductance_siemens(set_low) <= cap_low + 1e-12);
}

#[test]
fn stuck_devices_never_change() {
    let mut p = params();
    p.faults.stuck_hrs = 0.5;
    p.faults.stuck_lrs = 0.5;
    for k in 0..50 {
        let d = p.device(k, Variability::FULL);
        assert_ne!(d.fault, Fault::None);
        assert_eq!(p.program(&d, 0.3, 2.0, 1e-3, 3.0, 0.0), 0.3);
        let g = d.conductance_siemens(0.3);
        assert!(g == d.g_min_siemens || g == d.g_max_siemens);
    }
}

#[test]
fn fault_rates_match_their_probabilities() {
    let mut p = params();
    p.faults.stuck_hrs = 0.11;
    let n = 20_000;
    let stuck = (0..n)
        .filter(|&k| p.device(k, Variability::FULL).fault == Fault::StuckHrs)
        .count() as f64
        / n as f64;
    // Binomial sd = sqrt(0.11·0.89/20000) ≈ 0.0022: allow 4 sd.
    assert!((stuck - 0.11).abs() < 0.009, "{stuck}");
}

#[test]
fn device_spread_is_keyed_and_switchable() {
    let p = params();
    assert_eq!(
        p.device(7, Variability::FULL),
        p.device(7, Variability::FULL)
    );
    assert_ne!(
        p.device(7, Variability::FULL),
        p.device(8, Variability::FULL)
    );
    assert_eq!(p.device(7, Variability::NONE), p.nominal_device());
}

proptest! {
    #[test]
    fn updates_stay_bounded_and_monotone_without_noise(
        p0 in 0.0f64..=1.0, v in -3.0f64..3.0, dt in 0.0f64..2e-3, gate in 0.0f64..3.5, key in 0u64..100
    ) {
        let p = params();
        let d = p.device(key, Variability::FULL).without_faults();
        let next = p.program(&d, p0, v, dt, gate, 0.0);
        prop_assert!((0.0..=1.0).contains(&next));
        if v > 0.0 { prop_assert!(next >= p0); }
        if v < 0.0 { prop_assert!(next <= p0); }
        let noisy = p.program(&d, p0, v, dt, gate, 3.0);
        prop_assert!((0.0..=1.0).contains(&noisy));
    }
}
