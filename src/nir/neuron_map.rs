//! Hybrid neuron ↔ NIR leaky integrate-and-fire: the documented correspondence.
//!
//! The TS device's nucleation state `u` integrates the drive `μ0·sinh(|V|/V0)` and leaks
//! at `γ1` (devices/src/ts.rs); the device switches — the neuron fires — when the state
//! reaches its switching point `θ`, and the latches reset it (the filament ruptures within
//! the refractory period). So the closest NIR neuron is a `LIF` with `τ = 1/γ1` (seconds),
//! `v_threshold = θ`, `v_leak = 0`, `v_reset = 0` and `r = 1` in units of the state. The
//! drive is not linear in the input (a `sinh` of the node voltage, and the synapse column
//! presents a conductance-weighted average, not a sum), which NIR cannot say; the exact
//! device physics travels in the metadata.
//!
//! Importing, a `LIF`'s `τ` is matched by the leak rate `γ1 = 1/τ`, inside the span of
//! leak rates the shipped TS devices are calibrated at ([`leak_span_per_s`]) and clamped
//! to it outside; `IF` (no leak) takes the slowest leak of that span.

use devices::builtin::{Kind, BUILTINS};
use devices::ts::TsParams;

/// The `LIF` parameters that stand for a hybrid neuron with TS device `ts`:
/// `(tau_seconds, v_threshold)`.
pub fn lif_of(ts: &TsParams) -> (f64, f64) {
    (1.0 / ts.gamma1_per_s, ts.theta)
}

/// The span `(slowest, fastest)` of nucleation leak rates γ1 of the built-in TS devices,
/// 1/s: the leaks memsnn has calibrated devices for (25 1/s for the neurons' Ag:SiO2
/// device, τ = 40 ms; 1000 1/s for the Fig 2 device, τ = 1 ms).
pub fn leak_span_per_s() -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = 0.0f64;
    for b in BUILTINS.iter().filter(|b| b.kind == Kind::Ts) {
        if let Ok(p) = b.parse::<TsParams>() {
            lo = lo.min(p.gamma1_per_s);
            hi = hi.max(p.gamma1_per_s);
        }
    }
    (lo, hi)
}

/// The leak rate γ1 (1/s) for a `LIF` time constant of `tau_seconds` (`None`: an `IF`,
/// no leak), within [`leak_span_per_s`]; and whether it had to be clamped.
pub fn leak_for(tau_seconds: Option<f64>) -> (f64, bool) {
    let (lo, hi) = leak_span_per_s();
    match tau_seconds {
        None => (lo, false),
        Some(tau) if !(tau.is_finite() && tau > 0.0) => (lo, true),
        Some(tau) => {
            let g = 1.0 / tau;
            let c = g.clamp(lo, hi);
            (c, c != g)
        }
    }
}
