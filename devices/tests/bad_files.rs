//! Bad device-parameter files are rejected with the file, line, column and field named —
//! never a panic. Each case mutates the shipped 1T1R or TS file.

use devices::params::parse_ron;
use devices::rs::RsParams;
use devices::ts::TsParams;
use std::path::Path;

fn text(name: &str) -> &'static str {
    let name = name.strip_suffix(".ron").unwrap_or(name);
    devices::builtin::named(name).unwrap().text
}

fn rs_error(src: &str) -> String {
    parse_ron::<RsParams>(src, Path::new("rs.ron"))
        .unwrap_err()
        .to_string()
}

fn ts_error(src: &str) -> String {
    parse_ron::<TsParams>(src, Path::new("ts.ron"))
        .unwrap_err()
        .to_string()
}

fn line_of(src: &str, needle: &str) -> usize {
    src.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn negative_conductance_names_the_field_and_line() {
    let src = text("rs_hfo2_1t1r.ron").replace("g_min_siemens: 40.0e-6", "g_min_siemens: -40.0e-6");
    let e = rs_error(&src);
    let line = line_of(&src, "g_min_siemens: -40");
    assert!(e.contains(&format!("rs.ron:{line}:")), "{e}");
    assert!(e.contains("g_min_siemens"), "{e}");
}

#[test]
fn g_min_not_below_g_max_is_rejected() {
    let src = text("rs_hfo2_1t1r.ron").replace("g_min_siemens: 40.0e-6", "g_min_siemens: 990.0e-6");
    let e = rs_error(&src);
    assert!(
        e.contains("g_min_siemens") && e.contains("g_max_siemens"),
        "{e}"
    );
}

#[test]
fn reset_threshold_of_the_wrong_sign_is_rejected() {
    let src = text("rs_hfo2_1t1r.ron").replace("threshold_volts: -1.55", "threshold_volts: 1.55");
    let e = rs_error(&src);
    assert!(e.contains("reset.threshold_volts"), "{e}");
    let line = line_of(&src, "reset: (threshold_volts: 1.55");
    assert!(e.contains(&format!("rs.ron:{line}:")), "{e}");
}

#[test]
fn nan_missing_and_unknown_fields_are_rejected() {
    let nan = text("ts_neuron.ron").replace("mu0_per_s: 157.0", "mu0_per_s: NaN");
    let e = ts_error(&nan);
    assert!(e.contains("mu0_per_s"), "{e}");

    let missing = text("ts_neuron.ron").replace("    v0_volts: 0.8,\n", "");
    let e = ts_error(&missing);
    assert!(e.contains("v0_volts") && e.contains("ts.ron:"), "{e}");

    let unknown = text("ts_neuron.ron").replace("theta: 0.5,", "theta: 0.5,\n    thetta: 0.4,");
    let e = ts_error(&unknown);
    let line = line_of(&unknown, "thetta");
    assert!(
        e.contains("thetta") && e.contains(&format!("ts.ron:{line}:")),
        "{e}"
    );
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let e = devices::DeviceSet::load_rs(Path::new("/nonexistent/rs.ron")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/rs.ron"), "{e}");
}
