//! Weighted sums of a line pattern, for several receivers at once.
//!
//! Every column of a layer receives the same [`LinePattern`] and sums its own weights over
//! the pattern's driven lines: `Σ w·A` and `Σ w·A²`, in line order, in `f64`
//! ([`weighted_sums`], the definition). The order of the additions fixes the bits, so
//! each sum is one chain of dependent additions, bound by the latency of an `f64` add
//! (about four cycles a line) rather than by the arithmetic. A [`WeightTile`] runs
//! [`TILE_LANES`] receivers' chains side by side, one receiver per SIMD lane, over a copy
//! of their weights interleaved by line (a driven line's sixteen weights are one 64-byte
//! load): each lane makes the same additions in the same order as [`weighted_sums`], so
//! every lane's result has the same bits, at several times the throughput.
//!
//! The products are exact (`f32 · f32` fits in an `f64`'s mantissa), the second is
//! rounded once as `(w·A)·A`, and nothing is fused: Rust never contracts `a * b + c`
//! into a fused multiply-add, so the AVX2 build and the portable one agree bit for bit.
//!
//! The executor core gathers, per batch, the receivers of one pattern that ask for these
//! sums ([`Component::pattern_weights`](crate::engine::component::Component::pattern_weights)),
//! keeps their tiles between batches while the weights' stamps hold, and hands each its
//! result before the pattern is delivered; a receiver that does not ask computes
//! [`weighted_sums`] itself and gets the same value.

use crate::engine::event::LinePattern;

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

/// The weights a receiver asks to have a pattern summed over
/// ([`Component::pattern_weights`](crate::engine::component::Component::pattern_weights)),
/// with a stamp of their content.
#[derive(Clone, Copy, Debug, Default)]
pub struct PatternWeights<'a> {
    /// One weight per line (weight units, e.g. siemens).
    pub values: &'a [f32],
    /// Changes whenever `values` change, and no two contents share one within the process
    /// (take it from [`fresh_weights_stamp`]): an executor may keep a copy of the weights
    /// under it.
    pub stamp: u64,
}

/// A stamp no weights of this process have had before (see [`PatternWeights::stamp`]).
pub fn fresh_weights_stamp() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Receivers whose weights one [`WeightTile`] interleaves.
pub const TILE_LANES: usize = 16;

/// How many driven lines ahead [`WeightTile::sums`] asks for a tile's row. In a layer the
/// tiles of all columns (5 MB at 784×1600) are read a few sparse rows each per CLK
/// period, which the hardware prefetchers do not foresee: measured in a gated 784×1600
/// run (perf, kernel time against the build's fixed work), asking 24 lines ahead cuts
/// the kernel's time by a third to a half; 8 lines ahead helped less.
const PREFETCH_LINES: usize = 24;

/// One line's weights of a tile's sixteen receivers: one cache line, aligned so that a
/// row is never split over two.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct TileRow([f32; TILE_LANES]);

/// The weights of up to [`TILE_LANES`] receivers of one pattern, interleaved by line:
/// `lines[i][l]` is receiver `l`'s weight of line `i`. A driven line's sixteen weights are
/// then one 64-byte load, where receivers' own vectors would need sixteen gathered loads;
/// the sums stay those of [`weighted_sums`], lane by lane, in line order.
///
/// A tile is a copy: its owner keeps it while the receivers' weights are unchanged and
/// refreshes the lanes whose weights changed ([`Self::set_lane`]).
#[derive(Clone, Debug, Default)]
pub struct WeightTile {
    lines: Vec<TileRow>,
}

impl WeightTile {
    /// An empty tile of `n_lines` lines (every weight 0).
    pub fn new(n_lines: usize) -> Self {
        WeightTile {
            lines: vec![TileRow([0.0; TILE_LANES]); n_lines],
        }
    }

    /// Lines held.
    pub fn n_lines(&self) -> usize {
        self.lines.len()
    }

    /// Copies one receiver's weights (at least [`Self::n_lines`] of them) into lane `lane`.
    ///
    /// # Panics
    /// If `lane >= TILE_LANES` or `w` is shorter than the tile.
    pub fn set_lane(&mut self, lane: usize, w: &[f32]) {
        let n = self.lines.len();
        for (line, &g) in self.lines.iter_mut().zip(&w[..n]) {
            line.0[lane] = g;
        }
    }

    /// `Σ w·A` and `Σ (w·A)·A` of every lane over the pattern's driven lines, in line
    /// order: lane by lane the bits of [`weighted_sums`] over that lane's weights. `None`
    /// if the pattern has more lines than the tile.
    pub fn sums(&self, p: &LinePattern) -> Option<[WeightedSums; TILE_LANES]> {
        if p.amplitudes().len() > self.lines.len() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above), and the tile covers every
            // driven line (each is below the pattern's length, checked above).
            return Some(unsafe { tile_avx2(p, &self.lines) });
        }
        Some(tile_portable(p, &self.lines))
    }
}

/// [`WeightTile::sums`] in AVX2: a line's sixteen weights in two loads, widened to four
/// registers of four `f64` lanes; eight independent chains, multiplied and added lane
/// by lane, unfused.
///
/// # Safety
/// The CPU must support AVX2, and every driven line of `p` must index `lines`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tile_avx2(p: &LinePattern, lines: &[TileRow]) -> [WeightedSums; TILE_LANES] {
    use std::arch::x86_64::*;
    let mut wa = [_mm256_setzero_pd(); 4];
    let mut wa2 = [_mm256_setzero_pd(); 4];
    let driven = p.driven();
    for (k, (&i, &a)) in driven.iter().zip(p.driven_volts()).enumerate() {
        if let Some(&ahead) = driven.get(k + PREFETCH_LINES) {
            // SAFETY: `ahead` is a driven line, which indexes `lines`.
            let row = unsafe { lines.get_unchecked(ahead as usize).0.as_ptr() };
            _mm_prefetch::<_MM_HINT_T0>(row.cast());
        }
        // SAFETY: `i` indexes `lines` (the caller's requirement); a line is sixteen
        // `f32`, read as two unaligned eight-lane loads.
        let (lo, hi) = unsafe {
            let row = lines.get_unchecked(i as usize).0.as_ptr();
            (_mm256_loadu_ps(row), _mm256_loadu_ps(row.add(8)))
        };
        let a = _mm256_set1_pd(a);
        let g = [
            _mm256_cvtps_pd(_mm256_castps256_ps128(lo)),
            _mm256_cvtps_pd(_mm256_extractf128_ps(lo, 1)),
            _mm256_cvtps_pd(_mm256_castps256_ps128(hi)),
            _mm256_cvtps_pd(_mm256_extractf128_ps(hi, 1)),
        ];
        for k in 0..4 {
            let ga = _mm256_mul_pd(g[k], a);
            wa[k] = _mm256_add_pd(wa[k], ga);
            wa2[k] = _mm256_add_pd(wa2[k], _mm256_mul_pd(ga, a));
        }
    }
    let mut out_wa = [0.0f64; TILE_LANES];
    let mut out_wa2 = [0.0f64; TILE_LANES];
    for k in 0..4 {
        // SAFETY: each array has room for the four lanes stored at `4k`.
        unsafe {
            _mm256_storeu_pd(out_wa.as_mut_ptr().add(4 * k), wa[k]);
            _mm256_storeu_pd(out_wa2.as_mut_ptr().add(4 * k), wa2[k]);
        }
    }
    std::array::from_fn(|l| WeightedSums {
        wa: out_wa[l],
        wa2: out_wa2[l],
    })
}

/// [`WeightTile::sums`] without SIMD intrinsics (the same chains).
fn tile_portable(p: &LinePattern, lines: &[TileRow]) -> [WeightedSums; TILE_LANES] {
    let mut wa = [0.0f64; TILE_LANES];
    let mut wa2 = [0.0f64; TILE_LANES];
    for (&i, &a) in p.driven().iter().zip(p.driven_volts()) {
        let row = &lines[i as usize];
        for l in 0..TILE_LANES {
            let ga = row.0[l] as f64 * a;
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
        let mut tile = WeightTile::new(3);
        for l in 0..TILE_LANES {
            tile.set_lane(l, &w);
        }
        let lanes = tile.sums(&p).expect("covers");
        assert!(lanes.iter().all(|s| s.wa == 1.0));
    }

    proptest! {
        #[test]
        fn tile_lanes_equal_the_definition(
            amps in prop::collection::vec(prop_oneof![Just(0.0f32), -2.0f32..2.0], 1..300),
            seeds in prop::collection::vec(any::<u32>(), TILE_LANES),
            extra_lines in 0usize..3,
        ) {
            let p = pattern(&amps);
            let n = amps.len() + extra_lines;
            let ws: Vec<Vec<f32>> = seeds
                .iter()
                .map(|&s| {
                    (0..n as u32)
                        .map(|i| ((s ^ i.wrapping_mul(2654435761)) % 10_000) as f32 * 1.3e-8)
                        .collect()
                })
                .collect();
            let mut tile = WeightTile::new(n);
            for (l, w) in ws.iter().enumerate() {
                tile.set_lane(l, w);
            }
            let dispatched = tile.sums(&p).expect("the tile covers the pattern");
            let portable = tile_portable(&p, &tile.lines);
            for l in 0..TILE_LANES {
                let want = weighted_sums(&p, &ws[l]);
                for got in [dispatched[l], portable[l]] {
                    prop_assert_eq!(got.wa.to_bits(), want.wa.to_bits());
                    prop_assert_eq!(got.wa2.to_bits(), want.wa2.to_bits());
                }
            }
        }
    }

    #[test]
    fn a_tile_shorter_than_the_pattern_declines() {
        let p = pattern(&[1.0, 1.0, 1.0]);
        assert!(WeightTile::new(2).sums(&p).is_none());
        let sums = WeightTile::new(3).sums(&p).expect("covers");
        assert!(sums.iter().all(|s| s.wa == 0.0 && s.wa2 == 0.0));
    }
}
