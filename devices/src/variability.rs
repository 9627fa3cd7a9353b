//! Random variation of device parameters: device-to-device (fixed at fabrication) and
//! cycle-to-cycle (redrawn at every switching cycle), each switchable off.
//!
//! All draws come from a caller-provided generator or from a counter-based key, never from
//! a global generator, so results are a pure function of the seeds the runtime hands out.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// Which kinds of randomness a device has. The paper's ablation (Supp. Fig 11) switches
/// the cycle-to-cycle part off to obtain neurons without stochasticity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variability {
    /// Redraw switching points and rates at every switching cycle (stochastic firing).
    pub cycle_to_cycle: bool,
    /// Draw each device's parameters once around the nominal set (fabrication spread).
    pub device_to_device: bool,
}

impl Variability {
    /// Both kinds on: the physical default.
    pub const FULL: Variability = Variability {
        cycle_to_cycle: true,
        device_to_device: true,
    };
    /// No randomness at all: every device equals the nominal parameter set.
    pub const NONE: Variability = Variability {
        cycle_to_cycle: false,
        device_to_device: false,
    };
}

impl Default for Variability {
    fn default() -> Self {
        Variability::FULL
    }
}

/// A multiplicative log-normal factor with mean 1 and coefficient of variation `cv`
/// (`cv = 0` gives exactly 1). Used for positive quantities such as rates.
pub fn lognormal_factor<R: Rng + ?Sized>(rng: &mut R, cv: f64) -> f64 {
    if cv <= 0.0 {
        return 1.0;
    }
    let z: f64 = StandardNormal.sample(rng);
    lognormal_from_normal(z, cv)
}

/// The log-normal factor (mean 1, coefficient of variation `cv`) for a standard normal `z`.
pub fn lognormal_from_normal(z: f64, cv: f64) -> f64 {
    if cv <= 0.0 {
        return 1.0;
    }
    let sigma = (1.0 + cv * cv).ln().sqrt();
    (sigma * z - 0.5 * sigma * sigma).exp()
}

/// A standard normal sample.
pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    StandardNormal.sample(rng)
}

/// Counter-based randomness: a reproducible stream of numbers derived from a 64-bit key,
/// for quantities that are re-derived on demand instead of stored (e.g. the fabrication
/// spread of millions of synapses). SplitMix64 finalizer (Steele, Lea & Flood 2014).
#[derive(Clone, Copy, Debug)]
pub struct KeyedStream {
    state: u64,
}

impl KeyedStream {
    /// A stream for `key`; different keys give independent-looking streams.
    pub fn new(key: u64) -> Self {
        KeyedStream {
            state: mix64(key ^ 0x6a09_e667_f3bc_c909),
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.state)
    }

    /// Uniform in the open interval (0, 1).
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller, one value per call).
    pub fn next_normal(&mut self) -> f64 {
        let u1 = self.next_open01();
        let u2 = self.next_open01();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// SplitMix64's finalizer: a bijective 64-bit mix.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Combines a seed and any number of identifiers into one key (order matters).
pub fn key(seed: u64, ids: &[u64]) -> u64 {
    let mut k = mix64(seed);
    for &id in ids {
        k = mix64(k ^ id.wrapping_mul(0xd6e8_feb8_6659_fd93));
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lognormal_has_unit_mean_and_requested_cv() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| lognormal_factor(&mut rng, 0.2)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.005, "mean {mean}");
        assert!((var.sqrt() - 0.2).abs() < 0.005, "sd {}", var.sqrt());
        assert_eq!(lognormal_factor(&mut rng, 0.0), 1.0);
    }

    #[test]
    fn keyed_stream_normals_are_standard() {
        let n = 100_000;
        let xs: Vec<f64> = (0..n)
            .map(|i| KeyedStream::new(key(3, &[i])).next_normal())
            .collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        assert_ne!(key(1, &[2, 3]), key(1, &[3, 2]));
    }
}
