//! The switching law of a TS device: how an OFF device decides the instant it switches ON.
//!
//! # Threshold law
//!
//! `Threshold(theta_cv: c)`: the device switches at the first nanosecond at which its
//! filament state `x = u + b + r` reaches the switching point `θ` of the current switching
//! cycle. `θ` is drawn at the start of every cycle, log-normal around the device's own
//! value with coefficient of variation `c`. The instant is found exactly with
//! [`crate::expsum::ExpSum::first_at_or_above`].
//!
//! # Hazard (escape-rate) law
//!
//! `Hazard(rate_per_s: λ0, state_scale: s, volts_scale: V_s)`: nucleation and bridging of an
//! Ag filament are thermally activated, so even at a fixed state the switching instant is
//! random. While OFF the device accumulates the cumulative hazard
//!
//! ```text
//! H(t) = ∫ λ(x(τ), V(τ)) dτ,        λ(x, V) = λ0 · exp((x − θ)/s) · sinh(|V|/V_s),
//! ```
//!
//! and switches at the first nanosecond at which `H` reaches the level `E` drawn at the
//! start of the switching cycle, `E ~ Exp(1)` (so `P(no switch by t) = e^{−H(t)}`, the
//! survival function of an escape-rate process). The two factors are the two barriers of
//! the last ion hops: the barrier falls as the filament grows (`exp((x − θ)/s)`: the rate
//! rises e-fold for every `s` of filament state, and equals `λ0·sinh(|V|/V_s)` at the
//! device's reference state `θ`), and the field across the remaining gap tilts it
//! (`sinh(|V|/V_s)`, the ion-hopping form that also drives the nucleation; no field, no
//! switching). Both factors are physical; their scales are device parameters.
//!
//! * With cycle-to-cycle randomness off the level is the median `E = ln 2`: every cycle
//!   switches at the same, deterministic instant (the law's "switching point").
//! * As `s → 0` the hazard is zero below `θ` and infinite above it: the threshold law with a
//!   fixed `θ` is its limit.
//! * The memoryless law of metal-filament switches (Poisson switching with a mean waiting
//!   time falling exponentially with voltage, Gaba et al., Nanoscale 5, 5872 (2013)) is the
//!   limit of a large `s`; small `s` gives the narrow, early-tailed (Gumbel-like) delays of a
//!   steeply growing hazard.
//!
//! # Exactness
//!
//! Between two events `V` is constant and `x(t)` is a sum of exponentials, so `λ > 0` and
//! `H` increases monotonically; its integral has no closed form (an exponential of a sum of
//! exponentials). It is computed with an 8-point Gauss–Legendre rule on panels short enough
//! that the logarithm of the integrand and every term of `x` change by at most
//! [`MAX_PANEL_CHANGE`] across a panel (relative error far below 1e-12), and the first tick
//! at which `H ≥ E` is found by bisection over the integer nanoseconds of the panel that
//! crosses. The result is a pure function of the state, the voltage and the interval, so
//! every executor that delivers the same events reproduces it bit for bit; splitting an
//! interval changes `H` only by the rule's rounding.

use crate::expsum::ExpSum;
use serde::{Deserialize, Serialize};

/// How an OFF device decides when it switches ON (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SwitchingLaw {
    /// `Threshold(theta_cv: ..)`: switches where the filament reaches the cycle's switching
    /// point, drawn per cycle (log-normal) with this coefficient of variation.
    Threshold {
        /// Cycle-to-cycle coefficient of variation of the switching point θ.
        theta_cv: f64,
    },
    /// `Hazard(rate_per_s: .., state_scale: .., volts_scale: ..)`: an escape-rate process,
    /// `λ = rate_per_s · exp((x − θ)/state_scale) · sinh(|V|/volts_scale)`; switches when
    /// the cumulative hazard reaches an `Exp(1)` level drawn per cycle (`ln 2` without
    /// cycle-to-cycle randomness).
    Hazard {
        /// Prefactor λ0 in 1/s: the rate at the reference state θ where `sinh(|V|/V_s) = 1`.
        rate_per_s: f64,
        /// Filament state (dimensionless) over which the rate rises e-fold.
        state_scale: f64,
        /// Voltage scale of the field factor, volts.
        volts_scale: f64,
    },
}

impl SwitchingLaw {
    /// The law's name as written in a device file (`"Threshold"` or `"Hazard"`).
    pub fn name(&self) -> &'static str {
        match self {
            SwitchingLaw::Threshold { .. } => "Threshold",
            SwitchingLaw::Hazard { .. } => "Hazard",
        }
    }
}

/// Largest change of the integrand's logarithm (and of `rate·t` of any term of `x`) across
/// one quadrature panel.
pub const MAX_PANEL_CHANGE: f64 = 1.5;
/// Most panels one interval is split into (an interval this stiff is a pathological input;
/// beyond it the rule is merely less accurate).
const MAX_PANELS: u64 = 1 << 16;
/// Largest exponent used for `exp((x − θ)/s)`: the rate is then astronomically high and the
/// device switches within a nanosecond anyway; the cap keeps every value finite.
const MAX_EXPONENT: f64 = 600.0;

/// Nodes and weights of the 8-point Gauss–Legendre rule on [−1, 1] (positive half).
const GL_NODES: [f64; 4] = [
    0.183_434_642_495_649_8,
    0.525_532_409_916_329,
    0.796_666_477_413_626_7,
    0.960_289_856_497_536_3,
];
const GL_WEIGHTS: [f64; 4] = [
    0.362_683_783_378_362,
    0.313_706_645_877_887_3,
    0.222_381_034_453_374_5,
    0.101_228_536_290_376_3,
];

const NS: f64 = 1e-9;

/// The hazard law's constants for one device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Hazard {
    pub rate_per_s: f64,
    pub state_scale: f64,
    pub volts_scale: f64,
}

impl Hazard {
    /// The field factor `rate · sinh(|V|/V_s)` in 1/s (0 without a field).
    fn field_rate(&self, v_volts: f64) -> f64 {
        self.rate_per_s * (v_volts.abs() / self.volts_scale).sinh()
    }

    /// Hazard rate in 1/s at filament state `x` with field rate `f` (from
    /// [`Self::field_rate`]) and reference state `theta`.
    #[inline]
    fn rate(&self, x: f64, theta: f64, f: f64) -> f64 {
        f * ((x - theta) / self.state_scale).min(MAX_EXPONENT).exp()
    }

    /// ∫ λ dt over `[a_ns, b_ns]` (one panel; `a ≤ b`), seconds × 1/s.
    fn panel(&self, x: &ExpSum, theta: f64, f: f64, a_ns: u64, b_ns: u64) -> f64 {
        if b_ns <= a_ns {
            return 0.0;
        }
        let (a, b) = (a_ns as f64 * NS, b_ns as f64 * NS);
        let (mid, half) = (0.5 * (a + b), 0.5 * (b - a));
        let mut sum = 0.0;
        for (&z, &w) in GL_NODES.iter().zip(&GL_WEIGHTS) {
            let lo = self.rate(x.value(mid - half * z), theta, f);
            let hi = self.rate(x.value(mid + half * z), theta, f);
            sum += w * (lo + hi);
        }
        sum * half
    }

    /// Panels for an interval of `dt_ns` along `x`: the integrand's log changes at most by
    /// `Σ|a_j·k_j|/s` per second and every term decays at its rate `k_j`.
    fn panels(&self, x: &ExpSum, dt_ns: u64) -> u64 {
        let mut slope = 0.0f64;
        let mut fastest = 0.0f64;
        for t in x.terms() {
            slope += (t.amplitude * t.rate_per_s).abs();
            fastest = fastest.max(t.rate_per_s);
        }
        let k = (slope / self.state_scale).max(fastest);
        let n = (k * dt_ns as f64 * NS / MAX_PANEL_CHANGE).ceil();
        if n.is_finite() {
            (n as u64).clamp(1, MAX_PANELS.min(dt_ns.max(1)))
        } else {
            MAX_PANELS.min(dt_ns.max(1))
        }
    }

    /// Integrates the hazard over `dt_ns` from `h0` along the filament `x` (a constant
    /// device voltage `v_volts`): `Ok(n)` is the first nanosecond `n` in `1..=dt_ns` at
    /// which the cumulative hazard reaches `level`; `Err(h)` the cumulative hazard at
    /// `dt_ns` when it does not.
    pub fn first_crossing(
        &self,
        x: &ExpSum,
        theta: f64,
        v_volts: f64,
        h0: f64,
        level: f64,
        dt_ns: u64,
    ) -> Result<u64, f64> {
        let f = self.field_rate(v_volts);
        if dt_ns == 0 || f == 0.0 || !f.is_finite() {
            return Err(h0);
        }
        let m = self.panels(x, dt_ns);
        let (mut h, mut prev) = (h0, 0u64);
        for j in 1..=m {
            let t = (dt_ns as u128 * j as u128 / m as u128) as u64;
            if t == prev {
                continue;
            }
            let next = h + self.panel(x, theta, f, prev, t);
            if next >= level {
                // H(lo) < level ≤ H(hi); the rule on [prev, mid] is monotone in mid to far
                // below the resolution that matters.
                let (mut lo, mut hi) = (prev, t);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if h + self.panel(x, theta, f, prev, mid) >= level {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                return Ok(hi);
            }
            h = next;
            prev = t;
        }
        Err(h)
    }
}
