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
                // y is monotone increasing on [a, b] here: binary search the first tick.
                let (mut lo, mut hi) = (a, b); // y(lo) < level <= y(hi)
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if self.value_ns(mid) >= level {
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

    #[test]
    fn first_below_is_strict() {
        let y = ExpSum::constant(0.0).with(1.0, 1000.0);
        let t = y.first_below(0.5, 2_000_000).unwrap();
        assert!(y.value_ns(t) < 0.5 && y.value_ns(t - 1) >= 0.5);
    }
}
