//! Weighted sums of a line pattern, for several receivers at once.
//!
//! Every column of a layer receives the same [`LinePattern`] and sums its own weights over
//! the pattern's driven lines: `Σ w·A` and `Σ w·A²`, in line order, in `f64`
//! ([`weighted_sums`], the definition). The order of the additions fixes the bits, so
//! each sum is one chain of dependent additions, bound by the latency of an `f64` add
//! (about four cycles a line) rather than by the arithmetic. [`weighted_sums_lanes`] runs
//! [`LANES`] receivers' chains side by side, one receiver per SIMD lane: each lane makes
//! the same additions in the same order as [`weighted_sums`], so every lane's result has
//! the same bits, at several times the throughput.
//!
//! The products are exact (`f32 · f32` fits in an `f64`'s mantissa), the second is
//! rounded once as `(w·A)·A`, and nothing is fused: Rust never contracts `a * b + c`
//! into a fused multiply-add, so the AVX2 build and the portable one agree bit for bit.
//!
//! The executor core gathers, per batch, the receivers of one pattern that ask for these
//! sums ([`Component::pattern_weights`](crate::engine::component::Component::pattern_weights))
//! and hands each its result before the pattern is delivered; a receiver that does not ask
//! computes [`weighted_sums`] itself and gets the same value.

use crate::engine::event::LinePattern;

/// Receivers summed side by side by [`weighted_sums_lanes`].
pub const LANES: usize = 8;
const _: () = assert!(LANES == 8, "the AVX2 path loads eight lanes");

/// The weighted sums of a pattern over one receiver's weights.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WeightedSums {
    /// Σ w·A over the driven lines, in line order (weight units × volts).
    pub wa: f64,
    /// Σ (w·A)·A over the driven lines, in line order (weight units × volts²).
    pub wa2: f64,
}

/// `Σ w·A` and `Σ (w·A)·A` over the pattern's driven lines, in line order: the
/// definition every faster path must reproduce bit for bit. `w` has one weight per line.
///
/// # Panics
/// If `w` is shorter than the pattern (a driven line has no weight).
pub fn weighted_sums(p: &LinePattern, w: &[f32]) -> WeightedSums {
    let (mut wa, mut wa2) = (0.0f64, 0.0f64);
    for (&i, &a) in p.driven().iter().zip(p.driven_volts()) {
        let ga = w[i as usize] as f64 * a;
        wa += ga;
        wa2 += ga * a;
    }
    WeightedSums { wa, wa2 }
}

/// [`weighted_sums`] for [`LANES`] receivers at once, lane `l` over `w[l]` (the same
/// slice may appear in several lanes). Every weight slice must cover the pattern; a
/// receiver with a shorter one gets its sums the definition's way, which panics.
pub fn weighted_sums_lanes(p: &LinePattern, w: [&[f32]; LANES]) -> [WeightedSums; LANES] {
    let n = p.amplitudes().len();
    if w.iter().any(|w| w.len() < n) {
        return w.map(|w| weighted_sums(p, w));
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above), and every slice covers the
        // pattern's lines (checked above), as `lanes` requires.
        return unsafe { lanes_avx2(p, &w) };
    }
    // SAFETY: every slice covers the pattern's lines (checked above).
    unsafe { lanes(p, &w) }
}

/// The side-by-side chains in AVX2: two registers of four `f64` lanes for each sum; each
/// line's eight weights are loaded one by one (they live in eight receivers' own
/// vectors), widened to `f64` together and multiplied and added lane by lane, unfused.
///
/// # Safety
/// The CPU must support AVX2, and `lanes`'s requirement holds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lanes_avx2(p: &LinePattern, w: &[&[f32]; LANES]) -> [WeightedSums; LANES] {
    use std::arch::x86_64::*;
    let ptr: [*const f32; LANES] = std::array::from_fn(|l| w[l].as_ptr());
    let (mut wa_lo, mut wa_hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    let (mut wa2_lo, mut wa2_hi) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    for (&i, &a) in p.driven().iter().zip(p.driven_volts()) {
        let i = i as usize;
        // SAFETY: `i` is a driven line, below the pattern's length, which every slice
        // covers (the caller's requirement).
        let g = unsafe {
            _mm256_setr_ps(
                *ptr[0].add(i),
                *ptr[1].add(i),
                *ptr[2].add(i),
                *ptr[3].add(i),
                *ptr[4].add(i),
                *ptr[5].add(i),
                *ptr[6].add(i),
                *ptr[7].add(i),
            )
        };
        let a = _mm256_set1_pd(a);
        let ga_lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(g)), a);
        let ga_hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(g, 1)), a);
        wa_lo = _mm256_add_pd(wa_lo, ga_lo);
        wa_hi = _mm256_add_pd(wa_hi, ga_hi);
        wa2_lo = _mm256_add_pd(wa2_lo, _mm256_mul_pd(ga_lo, a));
        wa2_hi = _mm256_add_pd(wa2_hi, _mm256_mul_pd(ga_hi, a));
    }
    let mut wa = [0.0f64; LANES];
    let mut wa2 = [0.0f64; LANES];
    // SAFETY: each array has room for the eight lanes stored.
    unsafe {
        _mm256_storeu_pd(wa.as_mut_ptr(), wa_lo);
        _mm256_storeu_pd(wa.as_mut_ptr().add(4), wa_hi);
        _mm256_storeu_pd(wa2.as_mut_ptr(), wa2_lo);
        _mm256_storeu_pd(wa2.as_mut_ptr().add(4), wa2_hi);
    }
    std::array::from_fn(|l| WeightedSums {
        wa: wa[l],
        wa2: wa2[l],
    })
}

/// The side-by-side chains.
///
/// # Safety
/// Every `w[l]` must be at least as long as the pattern (so that every driven line, which
/// is below the pattern's length by construction, indexes it).
unsafe fn lanes(p: &LinePattern, w: &[&[f32]; LANES]) -> [WeightedSums; LANES] {
    let mut wa = [0.0f64; LANES];
    let mut wa2 = [0.0f64; LANES];
    for (&i, &a) in p.driven().iter().zip(p.driven_volts()) {
        let i = i as usize;
        let mut g = [0.0f64; LANES];
        for l in 0..LANES {
            // SAFETY: `i` is a driven line, below the pattern's length, which every
            // slice covers (the caller's requirement).
            g[l] = unsafe { *w[l].get_unchecked(i) } as f64;
        }
        for l in 0..LANES {
            let ga = g[l] * a;
            wa[l] += ga;
            wa2[l] += ga * a;
        }
    }
    std::array::from_fn(|l| WeightedSums {
        wa: wa[l],
        wa2: wa2[l],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn pattern(amps: &[f32]) -> LinePattern {
        LinePattern::new(Arc::from(amps))
    }

    #[test]
    fn definition_by_hand() {
        // Lines 0 and 2 driven at 1.5 V and 0.5 V; line 1 grounded adds nothing.
        let p = pattern(&[1.5, 0.0, 0.5]);
        let s = weighted_sums(&p, &[2.0, 100.0, 4.0]);
        assert_eq!(s.wa, 2.0 * 1.5 + 4.0 * 0.5);
        assert_eq!(s.wa2, 2.0 * 1.5 * 1.5 + 4.0 * 0.5 * 0.5);
    }

    #[test]
    fn order_is_line_order() {
        // 1 + 2^-53 + 2^-53 depends on the order: left to right, each 2^-53 is a half
        // ulp of 1 and rounds away (to even); right to left they would make 2^-52 first.
        let p = pattern(&[1.0, 1.0, 1.0]);
        let w = [1.0, 2f32.powi(-53), 2f32.powi(-53)];
        assert_eq!(weighted_sums(&p, &w).wa, 1.0);
        let lanes = weighted_sums_lanes(&p, [&w[..]; LANES]);
        assert!(lanes.iter().all(|s| s.wa == 1.0));
    }

    proptest! {
        #[test]
        fn lanes_equal_the_definition(
            amps in prop::collection::vec(prop_oneof![Just(0.0f32), -2.0f32..2.0], 1..300),
            seeds in prop::collection::vec(any::<u32>(), LANES),
        ) {
            let p = pattern(&amps);
            let ws: Vec<Vec<f32>> = seeds
                .iter()
                .map(|&s| {
                    (0..amps.len() as u32)
                        .map(|i| ((s ^ i.wrapping_mul(2654435761)) % 10_000) as f32 * 1.3e-8)
                        .collect()
                })
                .collect();
            let w: [&[f32]; LANES] = std::array::from_fn(|l| &ws[l][..]);
            let dispatched = weighted_sums_lanes(&p, w);
            // SAFETY: every slice has one weight per line.
            let portable = unsafe { lanes(&p, &w) };
            for l in 0..LANES {
                let want = weighted_sums(&p, &ws[l]);
                for got in [dispatched[l], portable[l]] {
                    prop_assert_eq!(got.wa.to_bits(), want.wa.to_bits());
                    prop_assert_eq!(got.wa2.to_bits(), want.wa2.to_bits());
                }
            }
        }
    }
}
