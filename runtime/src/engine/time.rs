//! Simulated time and the global clock.
//!
//! Time is an integer count of nanoseconds since the start of a run ([`Ns`]). The hybrid
//! neurons share one global clock (the paper's 2 kHz, 50 % duty CLK): high during
//! `[kT, kT + T_high)`, low during `[kT + T_high, (k+1)T)`. Input pulses and output spikes
//! occupy CLK-high phases. Components compute clock edges arithmetically; the clock is not
//! an event source.

use serde::{Deserialize, Serialize};

/// Simulated time, nanoseconds.
pub type Ns = u64;

/// Nanoseconds per microsecond.
pub const US: Ns = 1_000;
/// Nanoseconds per millisecond.
pub const MS: Ns = 1_000_000;

/// The global clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clock {
    /// Period T, ns (paper: 500 µs, i.e. 2 kHz).
    pub period_ns: Ns,
    /// High time per period, ns (paper: 250 µs, 50 % duty).
    pub high_ns: Ns,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            period_ns: 500 * US,
            high_ns: 250 * US,
        }
    }
}

impl Clock {
    /// Whether the clock is high at `t`.
    #[inline]
    pub fn is_high(&self, t: Ns) -> bool {
        t % self.period_ns < self.high_ns
    }

    /// Start of the phase (high or low) containing `t`.
    #[inline]
    pub fn phase_start(&self, t: Ns) -> Ns {
        let k = t - t % self.period_ns;
        if self.is_high(t) {
            k
        } else {
            k + self.high_ns
        }
    }

    /// End (exclusive) of the phase containing `t`: the next edge strictly after `t`.
    #[inline]
    pub fn phase_end(&self, t: Ns) -> Ns {
        let k = t - t % self.period_ns;
        if self.is_high(t) {
            k + self.high_ns
        } else {
            k + self.period_ns
        }
    }

    /// The first rising edge at or after `t`.
    #[inline]
    pub fn rising_at_or_after(&self, t: Ns) -> Ns {
        t.div_ceil(self.period_ns) * self.period_ns
    }

    /// The first falling edge at or after `t`.
    #[inline]
    pub fn falling_at_or_after(&self, t: Ns) -> Ns {
        let k = t - t % self.period_ns + self.high_ns;
        if k >= t {
            k
        } else {
            k + self.period_ns
        }
    }

    /// Index of the period containing `t`.
    #[inline]
    pub fn cycle(&self, t: Ns) -> u64 {
        t / self.period_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_of_the_paper_clock() {
        let c = Clock::default();
        assert!(c.is_high(0) && c.is_high(249_999) && !c.is_high(250_000));
        assert_eq!(c.phase_end(0), 250_000);
        assert_eq!(c.phase_end(250_000), 500_000);
        assert_eq!(c.phase_start(300_000), 250_000);
        assert_eq!(c.rising_at_or_after(0), 0);
        assert_eq!(c.rising_at_or_after(1), 500_000);
        assert_eq!(c.falling_at_or_after(250_000), 250_000);
        assert_eq!(c.falling_at_or_after(250_001), 750_000);
        assert_eq!(c.falling_at_or_after(10), 250_000);
    }
}
