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
/// one quadrature panel: with the 4-point Gauss–Legendre rule the relative error of a panel
/// is then below 1e-9, far finer than the nanosecond grid needs (an error ε in `H` moves the
/// crossing by `ε·H/λ`, a fraction of a nanosecond for ε = 1e-6).
pub const MAX_PANEL_CHANGE: f64 = 1.0;
/// Most panels one interval is split into (an interval this stiff is a pathological input;
/// beyond it the rule is merely less accurate).
const MAX_PANELS: u64 = 1 << 16;
/// Largest exponent used for `exp((x − θ)/s)`: the rate is then astronomically high and the
/// device switches within a nanosecond anyway; the cap keeps every value finite.
const MAX_EXPONENT: f64 = 600.0;

/// Nodes (positive half, on [−1, 1]) and weights of the 4-point Gauss–Legendre rule.
const GL_NODES: [f64; 2] = [0.339_981_043_584_856, 0.861_136_311_594_053];
const GL_WEIGHTS: [f64; 2] = [0.652_145_154_862_546, 0.347_854_845_137_454];
/// The rule's nodes as fractions of a panel, `(1 ∓ z)/2`, and their weights (halved: the
/// panel integral is `h · Σ w_i f(a + f_i·h)`).
const FRACTIONS: [f64; 4] = [
    0.5 * (1.0 - GL_NODES[1]),
    0.5 * (1.0 - GL_NODES[0]),
    0.5 * (1.0 + GL_NODES[0]),
    0.5 * (1.0 + GL_NODES[1]),
];
const HALF_WEIGHTS: [f64; 4] = [
    0.5 * GL_WEIGHTS[1],
    0.5 * GL_WEIGHTS[0],
    0.5 * GL_WEIGHTS[0],
    0.5 * GL_WEIGHTS[1],
];

const NS: f64 = 1e-9;

/// The filament of an OFF device under a constant voltage,
/// `x(t) = constant + Σ_j amp_j · e^{−rate_j·t}` (nucleation, bridge and residue terms; a term
/// may have zero amplitude).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Filament {
    pub constant: f64,
    pub amp: [f64; 3],
    pub rate_per_s: [f64; 3],
}

impl Filament {
    /// `x` at `t_s` seconds.
    #[inline]
    fn value(&self, t_s: f64) -> f64 {
        let mut x = self.constant;
        for (a, k) in self.amp.iter().zip(&self.rate_per_s) {
            if *a != 0.0 {
                x += a * (-k * t_s).exp();
            }
        }
        x
    }
}

/// The quadrature's decay factors for one panel width and one set of rates: per term, the
/// factor over a whole panel and at each node. A device caches them (most intervals are
/// whole CLK phases of one switching cycle).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Factors {
    /// `(interval ns, panels, rates bits)` they were computed for.
    key: (u64, u64, [u64; 3]),
    step: [f64; 3],
    node: [[f64; 4]; 3],
}

impl Factors {
    fn new(key: (u64, u64, [u64; 3]), rates: &[f64; 3], h_s: f64) -> Self {
        let mut step = [1.0; 3];
        let mut node = [[1.0; 4]; 3];
        for j in 0..3 {
            step[j] = (-rates[j] * h_s).exp();
            for (n, &q) in node[j].iter_mut().zip(&FRACTIONS) {
                *n = (-rates[j] * q * h_s).exp();
            }
        }
        Factors { key, step, node }
    }
}

/// The last two [`Factors`] a device used.
pub(crate) type FactorCache = [Option<Factors>; 2];

/// The hazard law's constants for one device.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Hazard {
    pub rate_per_s: f64,
    pub state_scale: f64,
    pub volts_scale: f64,
}

impl Hazard {
    /// The field factor `rate · sinh(|V|/V_s)` in 1/s (0 without a field).
    pub fn field_rate(&self, v_volts: f64) -> f64 {
        self.rate_per_s * (v_volts.abs() / self.volts_scale).sinh()
    }

    /// Hazard rate in 1/s at filament state `x` with field rate `f` (from
    /// [`Self::field_rate`]) and reference state `theta`.
    #[inline]
    fn rate(&self, x: f64, theta: f64, f: f64) -> f64 {
        f * ((x - theta) / self.state_scale).min(MAX_EXPONENT).exp()
    }

    /// ∫ λ dt over `[a_s, b_s]` seconds (either order: reversed bounds give the negative),
    /// by the 4-point rule evaluating `x` in closed form.
    fn integral(&self, x: &Filament, theta: f64, f: f64, a_s: f64, b_s: f64) -> f64 {
        let h = b_s - a_s;
        let mut sum = 0.0;
        for (&q, &w) in FRACTIONS.iter().zip(&HALF_WEIGHTS) {
            sum += w * self.rate(x.value(a_s + q * h), theta, f);
        }
        sum * h
    }

    /// Panels for an interval of `dt_ns` along `x`: the integrand's log changes at most by
    /// `Σ|a_j·k_j|/s` per second and every term decays at its rate `k_j`.
    fn panels(&self, x: &Filament, dt_ns: u64) -> u64 {
        let mut slope = 0.0f64;
        let mut fastest = 0.0f64;
        for (a, k) in x.amp.iter().zip(&x.rate_per_s) {
            if *a != 0.0 {
                slope += (a * k).abs();
                fastest = fastest.max(*k);
            }
        }
        let k = (slope / self.state_scale).max(fastest);
        let n = (k * dt_ns as f64 * NS / MAX_PANEL_CHANGE).ceil();
        if n.is_finite() {
            (n as u64).clamp(1, MAX_PANELS)
        } else {
            MAX_PANELS
        }
    }

    /// Integrates the hazard over `dt_ns` from `h0` along the filament `x` under a constant
    /// device voltage whose field factor is `f` ([`Self::field_rate`]): `Ok(n)` is the first
    /// nanosecond `n` in `1..=dt_ns` at which the cumulative hazard reaches `level`; `Err(h)`
    /// the cumulative hazard at `dt_ns` when it does not. `cache` keeps the decay factors of
    /// recent intervals.
    ///
    /// The interval is cut into `m` equal panels; the filament's terms at the rule's nodes
    /// are the terms at the panel's start times fixed factors, and the start advances by one
    /// factor per panel, so a panel costs four exponentials of the integrand alone.
    #[allow(clippy::too_many_arguments)]
    pub fn first_crossing(
        &self,
        x: &Filament,
        theta: f64,
        f: f64,
        h0: f64,
        level: f64,
        dt_ns: u64,
        cache: &mut FactorCache,
    ) -> Result<u64, f64> {
        if dt_ns == 0 || f == 0.0 || !f.is_finite() {
            return Err(h0);
        }
        let m = self.panels(x, dt_ns);
        let dt_s = dt_ns as f64 * NS;
        let h = dt_s / m as f64;
        let key = (dt_ns, m, x.rate_per_s.map(f64::to_bits));
        let factors = match cache.iter().flatten().find(|c| c.key == key) {
            Some(c) => *c,
            None => {
                let c = Factors::new(key, &x.rate_per_s, h);
                cache.swap(0, 1);
                cache[0] = Some(c);
                c
            }
        };
        let mut amp = x.amp;
        let mut total = h0;
        for p in 0..m {
            let mut sum = 0.0;
            for (i, &w) in HALF_WEIGHTS.iter().enumerate() {
                let mut xv = x.constant;
                for (a, n) in amp.iter().zip(&factors.node) {
                    xv += a * n[i];
                }
                sum += w * self.rate(xv, theta, f);
            }
            let next = total + sum * h;
            if next >= level {
                return Ok(self.bisect(x, theta, f, total, level, p as f64 * h, dt_ns, h));
            }
            total = next;
            for (a, k) in amp.iter_mut().zip(&factors.step) {
                *a *= k;
            }
        }
        Err(total)
    }

    /// The first nanosecond at which `total + ∫_{a_s}^{t} λ` reaches `level`, within the
    /// panel `[a_s, a_s + h]` that crosses (the rule on the sub-interval, whose accuracy
    /// only improves as it shrinks).
    #[allow(clippy::too_many_arguments)]
    fn bisect(
        &self,
        x: &Filament,
        theta: f64,
        f: f64,
        total: f64,
        level: f64,
        a_s: f64,
        dt_ns: u64,
        h: f64,
    ) -> u64 {
        let reaches = |n: u64| total + self.integral(x, theta, f, a_s, n as f64 * NS) >= level;
        let mut lo = ((a_s / NS).floor() as u64).min(dt_ns);
        let mut hi = (((a_s + h) / NS).ceil() as u64).clamp(1, dt_ns);
        if lo >= hi || reaches(lo) {
            // Rounding at a panel edge: widen to the whole interval (still monotone).
            lo = 0;
        }
        if !reaches(hi) {
            return dt_ns;
        }
        // Bisection, each step first trying a narrow bracket around the tick that a linear
        // interpolation of the cumulative hazard predicts (the integrand changes little
        // within a panel, so the guess is usually within a few nanoseconds).
        let gap = |n: u64| total + self.integral(x, theta, f, a_s, n as f64 * NS) - level;
        let (g_lo, g_hi) = (gap(lo), gap(hi));
        if g_hi > g_lo && hi - lo > 8 {
            let frac = (-g_lo / (g_hi - g_lo)).clamp(0.0, 1.0);
            let guess = lo + ((hi - lo) as f64 * frac) as u64;
            let (a, b) = (guess.saturating_sub(2).max(lo), (guess + 2).min(hi));
            if a > lo && !reaches(a) {
                lo = a;
            }
            if b < hi && reaches(b) {
                hi = b;
            }
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if reaches(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi.max(1)
    }
}
