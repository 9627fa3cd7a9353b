//! End-to-end checks of the device experiments (Fig 2c–f) through the library entry point
//! `memsnn::experiments::reproduce`: trends the paper states, with fixed seeds, and
//! byte-identical outputs for the same seed.

use memsnn::experiments::{reproduce, RunOptions};
use serde_json::Value;
use std::path::Path;

fn summary(dir: &Path, name: &str) -> Value {
    let text = std::fs::read_to_string(dir.join(name).join("summary.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("memsnn-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The paper's Fig 2 statements, under both switching laws: the shipped Fig 2 device
/// (threshold law) and the same device under the hazard law (`ts_fig2_hazard.ron`).
#[test]
fn fig2_trends_hold_for_several_seeds_under_both_laws() {
    let hazard =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/devices/ts_fig2_hazard.ron");
    for (law, device) in [("Threshold", None), ("Hazard", Some(hazard))] {
        fig2_trends(law, device);
    }
}

fn fig2_trends(law: &str, device: Option<std::path::PathBuf>) {
    for seed in [1, 2, 3] {
        let out = tempdir(&format!("fig2-{law}-{seed}"));
        let opts = RunOptions {
            seed,
            trials: 150,
            device: device.clone(),
            ..RunOptions::default()
        };
        reproduce("devices", &opts, &out).unwrap();
        let d = summary(&out, "fig2d");
        assert_eq!(d["switching_law"], law);
        // A real spread of the integration time at every amplitude (CV a few percent at
        // least; the device files aim at about 0.1).
        assert!(
            nums(&d["cv_integration"])
                .iter()
                .all(|&cv| cv > 0.03 && cv < 0.5),
            "{law}, seed {seed}: {:?}",
            d["cv_integration"]
        );

        let c = summary(&out, "fig2c");
        let delay = c["fire_delay_us"].as_f64().unwrap();
        assert!(
            delay > 0.0 && delay < 1000.0,
            "seed {seed}: fire delay {delay}"
        );
        assert!(c["relaxation_us"].as_f64().unwrap() > 0.0);

        let d = summary(&out, "fig2d");
        let integ = nums(&d["median_integration_us"]);
        let relax = nums(&d["median_relaxation_us"]);
        assert!(
            integ.windows(2).all(|w| w[0] > w[1]),
            "seed {seed}: {integ:?}"
        );
        assert!(
            relax.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: {relax:?}"
        );
        assert!(nums(&d["iqr_integration_us"]).iter().all(|&x| x > 0.0));
        assert!(nums(&d["iqr_relaxation_us"]).iter().all(|&x| x > 0.0));

        let e = summary(&out, "fig2e");
        let first = e["median_pulses_first_fire"].as_f64().unwrap();
        let second = e["median_pulses_second_fire"].as_f64().unwrap();
        assert_eq!(first, 4.0, "{law}, seed {seed}");
        assert!(second < first, "seed {seed}: second fire after {second}");

        let f = summary(&out, "fig2f");
        let p = nums(&f["median_pulses_first_fire"]);
        assert!(
            p.windows(2).all(|w| w[0] >= w[1]) && p[p.len() - 1] < p[0],
            "{p:?}"
        );
        std::fs::remove_dir_all(&out).ok();
    }
}

#[test]
fn same_seed_gives_byte_identical_data() {
    let (a, b) = (tempdir("det-a"), tempdir("det-b"));
    let opts = RunOptions {
        seed: 7,
        trials: 40,
        ..RunOptions::default()
    };
    reproduce("devices", &opts, &a).unwrap();
    reproduce("devices", &opts, &b).unwrap();
    for exp in ["fig2c", "fig2d", "fig2e", "fig2f"] {
        let x = std::fs::read(a.join(exp).join("data.csv")).unwrap();
        let y = std::fs::read(b.join(exp).join("data.csv")).unwrap();
        assert_eq!(x, y, "{exp}");
        assert!(a.join(exp).join(format!("{exp}.png")).exists());
    }
    // A different seed changes the stochastic experiments.
    let c = tempdir("det-c");
    reproduce("fig2d", &RunOptions { seed: 8, ..opts }, &c).unwrap();
    assert_ne!(
        std::fs::read(a.join("fig2d/data.csv")).unwrap(),
        std::fs::read(c.join("fig2d/data.csv")).unwrap()
    );
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).ok();
    }
}

#[test]
fn unknown_experiment_is_a_clear_error() {
    let e = reproduce("fig9", &RunOptions::default(), &tempdir("unknown")).unwrap_err();
    assert!(e.to_string().contains("unknown experiment `fig9`"), "{e}");
}
