//! The hierarchical LIA (`topologies/devices/lia_hierarchical.ron`) in a topology: the
//! `wta_ff` 784×100 workload with it in place of the nominal flat array, with the cells'
//! device-to-device spread and the comparators' offsets on.

use runtime::circuits::lia::{Lia, LiaCircuit};
use runtime::engine::exec::reference::Simulation;
use runtime::model::protocol::{run_protocol, NetworkIds};
use runtime::model::topology::schema::Step;
use runtime::model::topology::{build, parse_str, Checked};
use std::path::{Path, PathBuf};

fn wta_ff() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/wta_ff")
}

/// `wta_ff/784x400.ron` with its LIA file replaced by `lia` (a path relative to
/// `topologies/wta_ff/`) and, unless `nominal`, no `lia_variability` override (the
/// topology's default variability, everything on, then applies to the LIA too).
fn variant(lia: &str, nominal: bool) -> Checked {
    let good = std::fs::read_to_string(wta_ff().join("784x400.ron")).expect("readable");
    let (flat, override_line) = (
        "lia: \"../devices/lia_large.ron\"",
        "lia_variability: Some((cycle_to_cycle: false, device_to_device: false)),",
    );
    assert!(good.contains(flat) && good.contains(override_line));
    let mut text = good.replacen(flat, &format!("lia: {lia:?}"), 1);
    if !nominal {
        text = text.replacen(override_line, "", 1);
    }
    let checked = parse_str(&text, Path::new("784x400_variant.ron"), &wta_ff())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(checked.topology().lia_variability.is_none(), !nominal);
    assert!(checked.topology().variability.device_to_device);
    checked
}

/// Runs one 30 ms presentation of `neuron`'s prototype on a fresh build (seed 1) of
/// `checked`; returns the fires per neuron, the LIA banks' final gate levels and active
/// neurons, and the layer's LIA.
fn present(checked: &Checked, neuron: u32) -> (Vec<u64>, Vec<f32>, Vec<usize>, LiaCircuit) {
    let one = checked
        .clone()
        .edit(|t| {
            t.protocol = vec![Step::PresentPrototype {
                input: "pixels".into(),
                layer: "wta".into(),
                neuron,
                flips: 39,
                duration_us: 30_000,
            }]
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let built = build(&one, 1).expect("builds");
    let ids = NetworkIds::of(&built);
    let layer = ids.layers["wta"].clone();
    let mut sim = Simulation::new(built.builder.build());
    let log = run_protocol(&mut sim, &ids, one.topology(), None).expect("runs");
    let (mut gates, mut active, mut circuit) = (Vec::new(), Vec::new(), None);
    for &id in &layer.lia {
        let lia = sim.net.get::<Lia>(id).expect("LIA bank");
        gates.extend_from_slice(lia.gate_levels());
        active = lia.active().to_vec();
        circuit = Some(lia.circuit().clone());
    }
    let fires = log.layers["wta"].fires_per_neuron.clone();
    (fires, gates, active, circuit.expect("an LIA"))
}

fn only(n: usize, w: Option<usize>) -> Vec<f32> {
    (0..n)
        .map(|j| {
            if w.is_none() || w == Some(j) {
                3.0
            } else {
                0.0
            }
        })
        .collect()
}

/// With the cells' spread and the comparators' offsets on, the hierarchical LIA gives the
/// layer exactly the fires of the ideal (nominal) flat array, where a flat array with the
/// same spread does not; its gate lines follow the truth table.
#[test]
fn a_784x400_layer_with_spread_behaves_as_the_ideal_flat_array() {
    if cfg!(debug_assertions) {
        eprintln!("skipped in debug builds");
        return;
    }
    let hier = variant("../devices/lia_hierarchical.ron", false);
    let ideal = variant("../devices/lia_large.ron", true);
    let spread_flat = variant("../devices/lia_large.ron", false);
    let mut flat_differs = false;
    for neuron in [0u32, 150, 390] {
        let (fires, gates, active, circuit) = present(&hier, neuron);
        let (want, ..) = present(&ideal, neuron);
        assert_eq!(fires, want, "presenting neuron {neuron}");
        let (flat, ..) = present(&spread_flat, neuron);
        flat_differs |= flat != want;
        // The presented neuron wins (the paper's circuit lets a loser in now and then,
        // when the winner's LI output falls after its refractory period).
        let total: u64 = fires.iter().sum();
        assert!(fires[neuron as usize] * 10 >= total * 9, "{fires:?}");
        assert!(matches!(circuit, LiaCircuit::Hierarchical(_)));
        // 400 = 25 groups of 16 → 2 groups → 1 array.
        assert_eq!(circuit.depth(), 3);
        // The gate lines at the end are the truth table's for the active neurons.
        assert!(active.len() <= 1, "{active:?}");
        assert_eq!(
            gates,
            only(400, active.first().copied()),
            "active {active:?}"
        );
    }
    assert!(
        flat_differs,
        "a flat 400-neuron array with spread should misbehave"
    );
    // The fabricated LIA of the layer follows the truth table for every single winner.
    let (.., circuit) = present(&hier, 0);
    assert_eq!(circuit.gates(&[]), only(400, None));
    for j in 0..400 {
        assert_eq!(circuit.gates(&[j]), only(400, Some(j)), "winner {j}");
    }
}

/// With the winner hold (`hold: UntilReset`), exactly one neuron fires per presentation.
#[test]
fn with_the_winner_hold_exactly_one_neuron_fires() {
    if cfg!(debug_assertions) {
        eprintln!("skipped in debug builds");
        return;
    }
    let shipped = std::fs::read_to_string(wta_ff().join("../devices/lia_hierarchical.ron"))
        .expect("readable");
    let file = std::env::temp_dir().join(format!("memsnn-lia-hold-{}.ron", std::process::id()));
    let text = shipped.replacen("    hierarchy:", "    hold: UntilReset,\n    hierarchy:", 1);
    std::fs::write(&file, text).expect("writable");
    let checked = variant(file.to_str().expect("utf-8 path"), false);
    for neuron in [0u32, 150, 390] {
        let (fires, ..) = present(&checked, neuron);
        let winners: Vec<usize> = (0..fires.len()).filter(|&j| fires[j] > 0).collect();
        assert_eq!(winners, vec![neuron as usize], "{fires:?}");
    }
    std::fs::remove_file(&file).expect("removable");
}
