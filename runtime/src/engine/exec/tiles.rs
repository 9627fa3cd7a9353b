//! Interleaved copies of the weights of pattern receivers, kept between batches.
//!
//! Every column of a layer sums its weights over the same [`LinePattern`] at every CLK
//! period. Its weights live in its own vector, so a side-by-side sum over sixteen columns
//! would gather sixteen scalars per driven line; a [`WeightTile`] holds those sixteen
//! weights next to each other, one load per line (twice the throughput, same bits). The
//! copy pays while the weights do not change — always at inference, and for all but the
//! programmed columns while a layer learns — so a [`TileCache`] keeps one tile per group
//! of receivers, keyed by the group's first member, and refreshes only the lanes whose
//! [stamp](PatternWeights::stamp) changed.
//!
//! Memory: one `f32` per synapse of the receivers summed this way (4 bytes per synapse
//! besides the conductances). When the groups shift (receivers that sometimes do not
//! ask), tiles of stale heads are dropped once there are more than twice as many as a
//! steady grouping needs.

use crate::engine::event::LinePattern;
use crate::engine::pattern_sums::{
    weighted_sums, PatternWeights, WeightTile, WeightedSums, TILE_LANES,
};

/// One group's tile and what each lane holds: `(component index, stamp)`.
struct CachedTile {
    lanes: [Option<(usize, u64)>; TILE_LANES],
    tile: WeightTile,
}

/// Tiles of a partition's pattern receivers, by the component index (in the partition)
/// of each group's first member.
#[derive(Default)]
pub(crate) struct TileCache {
    by_head: Vec<Option<CachedTile>>,
    held: usize,
}

impl TileCache {
    /// The sums of `pattern` for the receivers `group` (`(component index, weights)`, at
    /// most [`TILE_LANES`], every weight vector covering the pattern), in group order,
    /// over a tile brought up to date first. `n_components` is the partition's size (it
    /// bounds the memory).
    pub fn sums(
        &mut self,
        pattern: &LinePattern,
        group: &[(usize, PatternWeights)],
        n_components: usize,
    ) -> [WeightedSums; TILE_LANES] {
        let n_lines = pattern.amplitudes().len();
        let head = group[0].0;
        if self.by_head.len() < n_components {
            self.by_head.resize_with(n_components, || None);
        }
        if self.by_head.get(head).is_none_or(Option::is_none) {
            if self.held >= 2 * n_components.div_ceil(TILE_LANES) + 8 {
                self.by_head.iter_mut().for_each(|t| *t = None);
                self.held = 0;
            }
            self.held += 1;
        }
        let Some(slot) = self.by_head.get_mut(head) else {
            return by_definition(pattern, group);
        };
        let cached = slot.get_or_insert_with(|| CachedTile {
            lanes: [None; TILE_LANES],
            tile: WeightTile::new(n_lines),
        });
        if cached.tile.n_lines() != n_lines {
            *cached = CachedTile {
                lanes: [None; TILE_LANES],
                tile: WeightTile::new(n_lines),
            };
        }
        for (lane, &(i, w)) in group.iter().enumerate() {
            if cached.lanes[lane] != Some((i, w.stamp)) {
                cached.tile.set_lane(lane, w.values);
                cached.lanes[lane] = Some((i, w.stamp));
            }
        }
        cached
            .tile
            .sums(pattern)
            .unwrap_or_else(|| by_definition(pattern, group))
    }
}

/// The sums one receiver at a time (lanes past the group are zero).
fn by_definition(
    pattern: &LinePattern,
    group: &[(usize, PatternWeights)],
) -> [WeightedSums; TILE_LANES] {
    std::array::from_fn(|l| {
        group
            .get(l)
            .map(|(_, w)| weighted_sums(pattern, w.values))
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pattern_sums::fresh_weights_stamp;
    use std::sync::Arc;

    fn weights(seed: u32, n: usize) -> Vec<f32> {
        (0..n as u32)
            .map(|i| ((seed ^ i.wrapping_mul(2654435761)) % 1000) as f32 * 1e-6)
            .collect()
    }

    #[test]
    fn a_changed_stamp_refreshes_its_lane_and_only_a_changed_stamp_does() {
        let n = 40;
        let p = LinePattern::new(Arc::from(
            (0..n)
                .map(|i| if i % 3 == 0 { 1.5 } else { 0.0 })
                .collect::<Vec<f32>>(),
        ));
        let mut ws: Vec<Vec<f32>> = (0..5).map(|c| weights(c, n)).collect();
        let mut stamps: Vec<u64> = (0..5).map(|_| fresh_weights_stamp()).collect();
        let mut cache = TileCache::default();
        fn group<'a>(ws: &'a [Vec<f32>], stamps: &[u64]) -> Vec<(usize, PatternWeights<'a>)> {
            (0..5)
                .map(|c| {
                    (
                        10 + c,
                        PatternWeights {
                            values: &ws[c][..],
                            stamp: stamps[c],
                        },
                    )
                })
                .collect()
        }
        let first = cache.sums(&p, &group(&ws, &stamps), 32);
        for c in 0..5 {
            assert_eq!(first[c], weighted_sums(&p, &ws[c]));
        }
        // New weights under a new stamp: the lane follows.
        ws[2] = weights(99, n);
        stamps[2] = fresh_weights_stamp();
        let second = cache.sums(&p, &group(&ws, &stamps), 32);
        assert_eq!(second[2], weighted_sums(&p, &ws[2]));
        assert_eq!(second[0], first[0]);
        // New weights under the old stamp break the contract: the copy is what counts
        // (which is how the test sees that the copy is kept, not rebuilt).
        let kept = ws[3].clone();
        ws[3] = weights(7, n);
        let third = cache.sums(&p, &group(&ws, &stamps), 32);
        assert_eq!(third[3], weighted_sums(&p, &kept));
    }

    #[test]
    fn shifting_groups_keep_the_memory_bounded() {
        let n = 16;
        let p = LinePattern::new(Arc::from(vec![1.0f32; n]));
        let ws: Vec<Vec<f32>> = (0..64).map(|c| weights(c, n)).collect();
        let stamps: Vec<u64> = (0..64).map(|_| fresh_weights_stamp()).collect();
        let mut cache = TileCache::default();
        for head in 0..48 {
            let group: Vec<_> = (head..head + TILE_LANES)
                .map(|c| {
                    (
                        c,
                        PatternWeights {
                            values: &ws[c][..],
                            stamp: stamps[c],
                        },
                    )
                })
                .collect();
            let sums = cache.sums(&p, &group, 64);
            assert_eq!(sums[5], weighted_sums(&p, &ws[head + 5]));
            assert!(cache.held <= 2 * 64 / TILE_LANES + 8 + 1);
        }
    }
}
