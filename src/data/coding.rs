//! Coding grey-level images into pulses on input lines, one line per pixel.
//!
//! In every CLK period each input line either carries a pulse or not. Two codings:
//!
//! * [`Coding::Binary`] — the same lines pulse in every period: those whose pixel is at
//!   least a threshold.
//! * [`Coding::Rate`] — each line pulses independently in each period with a probability
//!   proportional to its grey level, drawn from a counter-based stream keyed by
//!   `(seed, image, period, line)`, so the pulses are a pure function of those four
//!   numbers: the same on every executor, in any order of evaluation.

use devices::variability::{key, KeyedStream};
use serde::{Deserialize, Serialize};

/// The default binary threshold, a grey level (0–255): half scale. MNIST strokes are
/// anti-aliased — a stroke's core is near 255 and its edges fade through intermediate
/// greys to 0 — so cutting at half scale keeps the core of each stroke at about its
/// pen width and drops the faint fringe, which otherwise thickens strokes and blurs
/// neighbouring digits' shapes together.
pub const DEFAULT_THRESHOLD: u8 = 128;

/// Separates the rate-coding draws from other users of the same seed.
const RATE_STREAM: u64 = 0x7261_7465_636f_6465; // "ratecode"

/// How a grey-level image becomes input pulses.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Coding {
    /// A line pulses in every period when its pixel's grey level is `>= threshold`
    /// (0–255), never otherwise. See [`DEFAULT_THRESHOLD`].
    Binary {
        /// Grey level (0–255) from which a pixel counts as ink.
        threshold: u8,
    },
    /// A line with grey level `g` pulses in each period independently with probability
    /// `max_probability · g / 255`.
    Rate {
        /// Pulse probability per period of a fully black (255) pixel, in `[0, 1]`.
        max_probability: f64,
    },
}

impl Default for Coding {
    /// Binary coding at [`DEFAULT_THRESHOLD`].
    fn default() -> Self {
        Coding::Binary {
            threshold: DEFAULT_THRESHOLD,
        }
    }
}

impl Coding {
    /// Checks the parameters: a rate coding's `max_probability` must be finite and in
    /// `[0, 1]`.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Coding::Binary { .. } => Ok(()),
            Coding::Rate { max_probability: p } if (0.0..=1.0).contains(&p) => Ok(()),
            Coding::Rate { max_probability: p } => Err(format!(
                "rate coding: max_probability {p} is not a probability in [0, 1]"
            )),
        }
    }

    /// The lines that pulse in CLK period `period` while image number `image_index` (of
    /// pixels `image`) is presented; one entry per pixel. `seed` keys the rate draws and
    /// is ignored by binary coding.
    pub fn pulses(&self, image: &[u8], seed: u64, image_index: u64, period: u64) -> Vec<bool> {
        match *self {
            Coding::Binary { threshold } => binary(image, threshold),
            Coding::Rate { max_probability } => {
                rate_pulses(image, max_probability, seed, image_index, period)
            }
        }
    }

    /// The probability that a pixel of grey level `grey` pulses in a given period
    /// (0 or 1 for binary coding).
    pub fn probability(&self, grey: u8) -> f64 {
        match *self {
            Coding::Binary { threshold } => f64::from(u8::from(grey >= threshold)),
            Coding::Rate { max_probability } => rate_probability(grey, max_probability),
        }
    }
}

/// Binary coding: one entry per pixel, `true` (the line pulses) when the grey level is
/// `>= threshold`.
pub fn binary(image: &[u8], threshold: u8) -> Vec<bool> {
    image.iter().map(|&g| g >= threshold).collect()
}

/// The per-period pulse probability `max_p · grey / 255` of rate coding. `max_p` is
/// clamped to `[0, 1]`; NaN counts as 0.
pub fn rate_probability(grey: u8, max_p: f64) -> f64 {
    let max_p = if max_p.is_nan() {
        0.0
    } else {
        max_p.clamp(0.0, 1.0)
    };
    max_p * f64::from(grey) / 255.0
}

/// Rate coding: one entry per pixel, `true` when line `i` pulses in CLK period `period` of
/// image number `image_index`; it does with probability [`rate_probability`]`(image[i],
/// max_p)`, independently for every `(image_index, period, line)`, from a uniform draw
/// keyed by `(seed, image_index, period, line)`. Probability 0 never pulses, 1 always.
pub fn rate_pulses(
    image: &[u8],
    max_p: f64,
    seed: u64,
    image_index: u64,
    period: u64,
) -> Vec<bool> {
    image
        .iter()
        .enumerate()
        .map(|(line, &g)| {
            let p = rate_probability(g, max_p);
            p > 0.0
                && KeyedStream::new(key(seed, &[RATE_STREAM, image_index, period, line as u64]))
                    .next_open01()
                    < p
        })
        .collect()
}

/// The fraction of lines that pulse (0 for no lines).
pub fn fraction_on(lines: &[bool]) -> f64 {
    if lines.is_empty() {
        return 0.0;
    }
    lines.iter().filter(|&&on| on).count() as f64 / lines.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_binary_thresholds_at_the_given_level() {
        let row = [0, 50, 127, 128, 129, 255];
        assert_eq!(
            binary(&row, DEFAULT_THRESHOLD),
            [false, false, false, true, true, true]
        );
        assert_eq!(binary(&row, 0), [true; 6]);
        assert_eq!(fraction_on(&binary(&row, 128)), 0.5);
        assert_eq!(fraction_on(&[]), 0.0);
        assert_eq!(Coding::default().pulses(&row, 1, 2, 3), binary(&row, 128));
    }

    #[test]
    fn data_rate_is_deterministic_and_keyed() {
        let image: Vec<u8> = (0..784).map(|i| (i * 7 % 256) as u8).collect();
        let a = rate_pulses(&image, 0.8, 42, 5, 17);
        assert_eq!(a, rate_pulses(&image, 0.8, 42, 5, 17));
        assert_eq!(
            a,
            Coding::Rate {
                max_probability: 0.8
            }
            .pulses(&image, 42, 5, 17)
        );
        assert_ne!(a, rate_pulses(&image, 0.8, 43, 5, 17));
        assert_ne!(a, rate_pulses(&image, 0.8, 42, 6, 17));
        assert_ne!(a, rate_pulses(&image, 0.8, 42, 5, 18));
        // A line's draw does not depend on the other lines.
        assert_eq!(rate_pulses(&image[..100], 0.8, 42, 5, 17), a[..100]);
    }

    #[test]
    fn data_rate_extremes_are_exact() {
        let image = [0u8, 255, 0, 255];
        for period in 0..200 {
            assert_eq!(
                rate_pulses(&image, 1.0, 9, 0, period),
                [false, true, false, true]
            );
            assert_eq!(rate_pulses(&image, 0.0, 9, 0, period), [false; 4]);
            assert_eq!(rate_pulses(&image, f64::NAN, 9, 0, period), [false; 4]);
        }
    }

    /// The mean pulse fraction over `periods` periods of an image whose lines have
    /// probabilities `p_i` is a sum of `n = lines × periods` independent Bernoulli
    /// draws divided by `n`: its mean is `mean(p_i)` and its standard deviation
    /// `σ = sqrt(Σ_i p_i(1−p_i) · periods) / n`. A correct coder lands within 4σ with
    /// probability 0.99994; the keyed streams make the outcome fixed, not flaky.
    #[test]
    fn data_rate_mean_fraction_is_within_four_sigma() {
        let max_p = 0.6;
        let periods = 200u64;
        let uniform = vec![200u8; 784];
        let ramp: Vec<u8> = (0..784).map(|i| (i % 256) as u8).collect();
        for (idx, image) in [uniform, ramp].iter().enumerate() {
            let ps: Vec<f64> = image.iter().map(|&g| rate_probability(g, max_p)).collect();
            let n = (image.len() as u64 * periods) as f64;
            let want = ps.iter().sum::<f64>() / image.len() as f64;
            let var_sum: f64 = ps.iter().map(|p| p * (1.0 - p)).sum::<f64>() * periods as f64;
            let sigma = var_sum.sqrt() / n;
            let got = (0..periods)
                .map(|t| fraction_on(&rate_pulses(image, max_p, 11, idx as u64, t)))
                .sum::<f64>()
                / periods as f64;
            assert!(
                (got - want).abs() <= 4.0 * sigma,
                "image {idx}: mean fraction {got}, expected {want} ± 4σ = {}",
                4.0 * sigma
            );
        }
        // One line over many periods: grey 128 → p = 0.6·128/255.
        let periods = 20_000u64;
        let p = rate_probability(128, max_p);
        let on = (0..periods)
            .filter(|&t| rate_pulses(&[128], max_p, 3, 0, t)[0])
            .count() as f64;
        let sigma = (p * (1.0 - p) / periods as f64).sqrt();
        assert!((on / periods as f64 - p).abs() <= 4.0 * sigma, "{on}");
    }

    #[test]
    fn data_validate_rejects_non_probabilities() {
        assert!(Coding::default().validate().is_ok());
        assert!(Coding::Rate {
            max_probability: 1.0
        }
        .validate()
        .is_ok());
        for p in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(Coding::Rate { max_probability: p }.validate().is_err());
        }
        assert_eq!(
            Coding::Rate {
                max_probability: 0.5
            }
            .probability(255),
            0.5
        );
        assert_eq!(Coding::default().probability(127), 0.0);
    }
}
