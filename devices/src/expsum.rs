//! Sums of decaying exponentials and their exact first crossing of a level.
//!
//! Every device state in memsnn evolves, between two events, under a constant applied
//! voltage. The state variables then obey linear first-order ODEs with constant
//! coefficients, so each observable is of the form
//!
//! ```text
//! y(t) = c + Σ_j a_j · exp(−λ_j · t)        (t in seconds, λ_j > 0, at most 3 terms)
//! ```
//!
//! [`ExpSum::first_at_or_above`] answers "at which nanosecond does `y` first reach a level?"
//! exactly on the nanosecond grid, without any fixed time step:
//!
//! * `y'` is itself a sum of at most three exponentials. Multiplying it by `exp(λ_mid·t)`
//!   gives `h(t) = a·e^{p t} + b + c·e^{−q t}` (p, q > 0), whose derivative has at most one
//!   zero. So `h` (and `y'`) has at most two zeros, found by bisection on monotone pieces.
//! * Between consecutive critical points `y` is monotone, so a binary search over the
//!   integer nanoseconds of the first piece that reaches the level finds the first tick.
//!
//! A sub-nanosecond excursion above the level between two ticks is, by definition, not a
//! crossing: switching happens at the first nanosecond tick at which the state is at or
//! above the threshold.

/// One decaying exponential term `amplitude · exp(−rate_per_s · t)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpTerm {
    /// Amplitude in the unit of the observable.
    pub amplitude: f64,
    /// Decay rate in 1/s (must be > 0 and finite).
    pub rate_per_s: f64,
}

/// `y(t) = constant + Σ terms`, with `t` in seconds; at most three terms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpSum {
    /// The asymptote `y(∞)`.
    pub constant: f64,
    terms: [ExpTerm; 3],
    len: usize,
}

const NS: f64 = 1e-9;

impl ExpSum {
    /// A constant function.
    pub fn constant(c: f64) -> Self {
        ExpSum {
            constant: c,
            terms: [ExpTerm {
                amplitude: 0.0,
                rate_per_s: 1.0,
            }; 3],
            len: 0,
        }
    }

    /// Adds a term; terms with zero amplitude are dropped, terms with equal rates merged.
    ///
    /// # Panics
    /// Panics if more than three distinct terms are added (a programming error: device
    /// models in this crate never need more).
    pub fn with(mut self, amplitude: f64, rate_per_s: f64) -> Self {
        if amplitude == 0.0 {
            return self;
        }
        for t in &mut self.terms[..self.len] {
            if t.rate_per_s == rate_per_s {
                t.amplitude += amplitude;
                return self;
            }
        }
        assert!(self.len < 3, "ExpSum holds at most three terms");
        self.terms[self.len] = ExpTerm {
            amplitude,
            rate_per_s,
        };
        self.len += 1;
        self
    }

    /// The terms currently held.
    pub fn terms(&self) -> &[ExpTerm] {
        &self.terms[..self.len]
    }

    /// `y(t)` at `t_s` seconds.
    #[inline]
    pub fn value(&self, t_s: f64) -> f64 {
        let mut y = self.constant;
        for t in self.terms() {
            y += t.amplitude * (-t.rate_per_s * t_s).exp();
        }
        y
    }

    /// `y(t)` at an integer number of nanoseconds.
    #[inline]
    pub fn value_ns(&self, t_ns: u64) -> f64 {
        self.value(t_ns as f64 * NS)
    }

    /// `y'(t)` in units per second.
    #[inline]
    pub fn slope(&self, t_s: f64) -> f64 {
        let mut d = 0.0;
        for t in self.terms() {
            d -= t.rate_per_s * t.amplitude * (-t.rate_per_s * t_s).exp();
        }
        d
    }

    /// An upper bound of `y` on `[0, t_end_s]` that is cheap to compute: each term is
    /// monotone, so its maximum is at one end.
    pub fn upper_bound(&self, t_end_s: f64) -> f64 {
        let mut y = self.constant;
        for t in self.terms() {
            let end = t.amplitude * (-t.rate_per_s * t_end_s).exp();
            y += t.amplitude.max(end);
        }
        y
    }

    /// Critical points of `y` (zeros of `y'`) strictly inside `(0, t_end_s)`, ascending.
    pub fn critical_points(&self, t_end_s: f64) -> Vec<f64> {
        let (points, n) = self.critical_points_fixed(t_end_s);
        points[..n].to_vec()
    }

    /// [`Self::critical_points`] without allocating: at most two with three terms.
    fn critical_points_fixed(&self, t_end_s: f64) -> ([f64; 2], usize) {
        let mut terms = self.terms;
        let terms = &mut terms[..self.len];
        terms.sort_by(|a, b| a.rate_per_s.total_cmp(&b.rate_per_s));
        // Derivative coefficients: y' = Σ d_j e^{−λ_j t}, d_j = −λ_j a_j.
        let mut d = [(0.0f64, 0.0f64); 3];
        for (dj, t) in d.iter_mut().zip(terms.iter()) {
            *dj = (-t.rate_per_s * t.amplitude, t.rate_per_s);
        }
        let d = &d[..terms.len()];
        let slope = |t: f64| d.iter().map(|&(c, l)| c * (-l * t).exp()).sum::<f64>();
        let mut pieces = [0.0f64; 3];
        let mut n_pieces = 1;
        if d.len() == 3 {
            // h(t) = y'(t)·e^{λ2 t} = d0·e^{(λ2−λ0)t} + d1 + d2·e^{−(λ2... )}; its derivative
            // vanishes where d0(λ1−λ0)e^{(λ2−λ0)t} = d2(λ2−λ1).
            let (d0, l0) = d[0];
            let (_, l1) = d[1];
            let (d2, l2) = d[2];
            let ratio = d2 * (l2 - l1) / (d0 * (l1 - l0));
            if ratio.is_finite() && ratio > 0.0 {
                let t = ratio.ln() / (l2 - l0);
                if t > 0.0 && t < t_end_s {
                    pieces[n_pieces] = t;
                    n_pieces += 1;
                }
            }
        }
        pieces[n_pieces] = t_end_s;
        n_pieces += 1;
        let mut out = [0.0f64; 2];
        let mut n_out = 0;
        for w in pieces[..n_pieces].windows(2) {
            let (mut lo, mut hi) = (w[0], w[1]);
            let (s_lo, s_hi) = (slope(lo), slope(hi));
            if s_lo == 0.0 || s_hi == 0.0 || (s_lo > 0.0) == (s_hi > 0.0) {
                continue;
            }
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if mid <= lo || mid >= hi {
                    break;
                }
                if (slope(mid) > 0.0) == (s_lo > 0.0) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let root = 0.5 * (lo + hi);
            if root > 0.0 && root < t_end_s && n_out < out.len() {
                out[n_out] = root;
                n_out += 1;
            }
        }
        (out, n_out)
    }

    /// The first integer nanosecond `t` in `1..=end_ns` with `y(t) >= level`, if any.
    ///
    /// Exact on the nanosecond grid: `y` is evaluated in closed form, never stepped.
    pub fn first_at_or_above(&self, level: f64, end_ns: u64) -> Option<u64> {
        if end_ns == 0 {
            return None;
        }
        let end_s = end_ns as f64 * NS;
        if self.upper_bound(end_s) < level {
            return None;
        }
        let (crit, n_crit) = self.critical_points_fixed(end_s);
        let mut bounds = [0.0f64; 4];
        bounds[1..=n_crit].copy_from_slice(&crit[..n_crit]);
        bounds[n_crit + 1] = end_s;
        let bounds = &bounds[..n_crit + 2];
        // Integer ticks covered by each monotone piece: (prev_hi, hi] in ns.
        let mut first_tick: u64 = 1;
        for w in bounds.windows(2) {
            let hi_tick = ((w[1] / NS).floor() as u64).min(end_ns);
            if hi_tick < first_tick {
                continue;
            }
            let (a, b) = (first_tick, hi_tick);
            let (ya, yb) = (self.value_ns(a), self.value_ns(b));
            if ya >= level {
                return Some(a);
            }
            if yb >= level {
                return Some(self.first_tick_on_rise(level, a, b));
            }
            first_tick = b + 1;
        }
        None
    }

    /// On a piece `[a, b]` (ns) where `y` rises, with `y(a) < level <= y(b)` as evaluated:
    /// the tick `t` with `y(t − 1) < level <= y(t)` that a binary search over `[a, b]`
    /// returns (that search is the definition).
    ///
    /// The search costs some twenty evaluations. A safeguarded Newton iteration on the
    /// continuous `y` usually lands on the tick in three or four, and the tick is taken
    /// only when it is provably the one the search would find: if `y(t − 1)` is below the
    /// level and `y(t)` above it, each by more than twice the rounding error of an
    /// evaluation ([`Self::rounding_bound`]), the exact `y` — monotone on the piece — is
    /// below the level at every earlier tick and above it at every later one, so the
    /// evaluated sequence crosses the level exactly once, at `t`, and any bisection ends
    /// there. Otherwise (a crossing within rounding noise of a tick) the search runs.
    fn first_tick_on_rise(&self, level: f64, a: u64, b: u64) -> u64 {
        if let Some(t) = self.newton_tick(level, a, b) {
            return t;
        }
        let (mut lo, mut hi) = (a, b); // y(lo) < level <= y(hi)
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.value_ns(mid) >= level {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }

    /// The Newton guess of [`Self::first_tick_on_rise`], verified; `None` when the
    /// verification does not prove it.
    fn newton_tick(&self, level: f64, a: u64, b: u64) -> Option<u64> {
        // Stop once a step is below this many nanoseconds: the tick is then the one
        // above the iterate unless the root is this close to a tick.
        const TOLERANCE_NS: f64 = 1e-3;
        const MAX_ITERATIONS: usize = 60;
        let (mut lo, mut hi) = (a as f64 * NS, b as f64 * NS); // y(lo) < level <= y(hi)
        let mut x = hi;
        let mut converged = false;
        for _ in 0..MAX_ITERATIONS {
            let (y, dy) = self.value_and_slope(x);
            let f = y - level;
            if f < 0.0 {
                lo = x;
            } else {
                hi = x;
            }
            let newton = x - f / dy;
            // Bisect when Newton leaves the bracket (or the slope vanishes: NaN fails).
            let next = if newton > lo && newton < hi {
                newton
            } else {
                0.5 * (lo + hi)
            };
            let step_ns = (next - x).abs() / NS;
            x = next;
            if step_ns < TOLERANCE_NS || (hi - lo) / NS < TOLERANCE_NS {
                converged = true;
                break;
            }
        }
        if !converged || !x.is_finite() {
            return None;
        }
        let margin = 2.0 * self.rounding_bound(b as f64 * NS);
        let mut t = ((x / NS).ceil() as u64).clamp(a + 1, b);
        // One tick either way covers an iterate that stopped on the wrong side of a tick.
        for _ in 0..2 {
            let (before, at) = (self.value_ns(t - 1), self.value_ns(t));
            if before < level - margin && at >= level + margin {
                return Some(t);
            }
            if at < level - margin && t < b {
                t += 1;
            } else if before >= level + margin && t - 1 > a {
                t -= 1;
            } else {
                return None;
            }
        }
        None
    }

    /// `(y(t), y'(t))` at `t_s` seconds, sharing the exponentials.
    #[inline]
    fn value_and_slope(&self, t_s: f64) -> (f64, f64) {
        let (mut y, mut d) = (self.constant, 0.0);
        for t in self.terms() {
            let e = t.amplitude * (-t.rate_per_s * t_s).exp();
            y += e;
            d -= t.rate_per_s * e;
        }
        (y, d)
    }

    /// A bound of `|value_ns(t) − y(t)|` for ticks `t` up to `t_end_s`: the rounding of
    /// the nanosecond-to-second conversion and of each product (relative errors of a few
    /// ε, amplified by `λ·t` through the exponential), of `exp` (< 1 ulp in glibc and
    /// Rust's libm), and of at most three additions, with a factor of eight to spare.
    fn rounding_bound(&self, t_end_s: f64) -> f64 {
        let mut sum = self.constant.abs();
        for t in self.terms() {
            sum += t.amplitude.abs() * (2.0 + t.rate_per_s * t_end_s);
        }
        8.0 * f64::EPSILON * sum
    }

    /// The first integer nanosecond `t` in `1..=end_ns` with `y(t) < level`, if any.
    pub fn first_below(&self, level: f64, end_ns: u64) -> Option<u64> {
        self.negated().first_at_or_above_strict(-level, end_ns)
    }

    fn negated(&self) -> Self {
        let mut n = *self;
        n.constant = -n.constant;
        for t in &mut n.terms[..n.len] {
            t.amplitude = -t.amplitude;
        }
        n
    }

    /// First tick with `y(t) > level` (strict), used by [`Self::first_below`].
    fn first_at_or_above_strict(&self, level: f64, end_ns: u64) -> Option<u64> {
        // Strictly above `level` equals at-or-above the next representable float.
        self.first_at_or_above(next_up(level), end_ns)
    }
}

fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f64::from_bits(1);
    }
    let bits = x.to_bits();
    if x > 0.0 {
        f64::from_bits(bits + 1)
    } else {
        f64::from_bits(bits - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_first(y: &ExpSum, level: f64, end_ns: u64) -> Option<u64> {
        (1..=end_ns).find(|&t| y.value_ns(t) >= level)
    }

    #[test]
    fn rising_single_term_matches_closed_form() {
        // y = 1 − e^{−1000 t}: reaches 0.5 at ln 2 / 1000 s = 693147.18 ns.
        let y = ExpSum::constant(1.0).with(-1.0, 1000.0);
        assert_eq!(y.first_at_or_above(0.5, 2_000_000), Some(693_148));
        assert_eq!(y.first_at_or_above(1.5, 2_000_000), None);
    }

    #[test]
    fn hump_shaped_sum_finds_first_crossing() {
        // A rise then fall: 2(e^{−100 t} − e^{−20000 t}) peaks near t ≈ 266 µs.
        let y = ExpSum::constant(0.0).with(2.0, 100.0).with(-2.0, 20_000.0);
        let end = 3_000_000;
        let level = 1.5;
        assert_eq!(y.first_at_or_above(level, end), brute_first(&y, level, end));
        assert!(y.first_at_or_above(level, end).is_some());
        // Level above the peak: never.
        assert_eq!(y.first_at_or_above(2.5, end), None);
    }

    #[test]
    fn three_terms_two_extrema_agree_with_brute_force() {
        // Dip, then rise, then slow fall.
        let y = ExpSum::constant(0.0)
            .with(0.6, 20_000.0)
            .with(-1.5, 2_000.0)
            .with(1.2, 50.0);
        let crit = y.critical_points(5e-3);
        assert!(!crit.is_empty());
        for level in [0.1, 0.3, 0.55, 0.6, 0.7] {
            assert_eq!(
                y.first_at_or_above(level, 200_000),
                brute_first(&y, level, 200_000),
                "level {level}"
            );
        }
    }

    /// The search as it was defined before the Newton guess: every rising piece
    /// bisected over its integer ticks.
    fn bisected_first(y: &ExpSum, level: f64, end_ns: u64) -> Option<u64> {
        let end_s = end_ns as f64 * NS;
        if end_ns == 0 || y.upper_bound(end_s) < level {
            return None;
        }
        let (crit, n) = y.critical_points_fixed(end_s);
        let mut bounds = vec![0.0];
        bounds.extend_from_slice(&crit[..n]);
        bounds.push(end_s);
        let mut first_tick = 1;
        for w in bounds.windows(2) {
            let b = ((w[1] / NS).floor() as u64).min(end_ns);
            if b < first_tick {
                continue;
            }
            if y.value_ns(first_tick) >= level {
                return Some(first_tick);
            }
            if y.value_ns(b) >= level {
                let (mut lo, mut hi) = (first_tick, b);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if y.value_ns(mid) >= level {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                return Some(hi);
            }
            first_tick = b + 1;
        }
        None
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The Newton guess never changes the answer of the bisection that defines it,
        /// over one- to three-term sums with rates of the devices' range (1/s to 1/µs)
        /// and levels anywhere between the sum's extremes.
        #[test]
        fn newton_search_agrees_with_bisection(
            c in -1.0f64..1.0,
            terms in proptest::collection::vec((-2.0f64..2.0, 0.0f64..6.0), 1..=3),
            level_frac in 0.0f64..1.0,
            end_ns in 1u64..5_000_000,
        ) {
            let mut y = ExpSum::constant(c);
            for (a, log_rate) in terms {
                y = y.with(a, 10f64.powf(log_rate));
            }
            let samples: Vec<f64> = (0..=64).map(|i| y.value_ns(i * end_ns / 64)).collect();
            let lo = samples.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let level = lo + level_frac * (hi - lo);
            proptest::prop_assert_eq!(
                y.first_at_or_above(level, end_ns),
                bisected_first(&y, level, end_ns)
            );
            proptest::prop_assert_eq!(
                y.first_below(level, end_ns),
                y.negated().bisected_strict(-level, end_ns)
            );
        }
    }

    impl ExpSum {
        fn bisected_strict(&self, level: f64, end_ns: u64) -> Option<u64> {
            bisected_first(self, next_up(level), end_ns)
        }
    }

    #[test]
    fn newton_takes_the_common_crossing_and_declines_a_tangent_one() {
        // A clean rise: the guess is proved and is the closed-form tick.
        let y = ExpSum::constant(1.0).with(-1.0, 1000.0);
        assert_eq!(y.newton_tick(0.5, 1, 2_000_000), Some(693_148));
        // A level that the hump only grazes, within rounding noise of its top: the
        // guess cannot be proved, and the bisection decides.
        let hump = ExpSum::constant(0.0).with(2.0, 100.0).with(-2.0, 20_000.0);
        let crit = hump.critical_points(3e-3)[0];
        let top_ns = (crit / NS).floor() as u64;
        let top = hump.value_ns(top_ns);
        assert_eq!(hump.newton_tick(top, 1, top_ns), None);
        assert_eq!(
            hump.first_at_or_above(top, 3_000_000),
            bisected_first(&hump, top, 3_000_000)
        );
    }

    #[test]
    fn first_below_is_strict() {
        let y = ExpSum::constant(0.0).with(1.0, 1000.0);
        let t = y.first_below(0.5, 2_000_000).unwrap();
        assert!(y.value_ns(t) < 0.5 && y.value_ns(t - 1) >= 0.5);
    }
}
