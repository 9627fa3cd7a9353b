//! The ideal read of a trained layer: what its learned conductances answer without the
//! devices' scatter.
//!
//! A read race through the circuit is a stochastic first-to-fire decision, with each
//! neuron's device spread and held threshold in it. To tell what the race costs from what
//! the learning gives, the same conductances are read here without any of that: each
//! column's node-1 level from the divider, `V_j = A · Σᵢ Gᵢⱼ·pᵢ / (Σᵢ Gᵢⱼ + G_L)` (pᵢ the
//! probability that line `i` pulses in a period under the coding, `A` the read level,
//! `G_L` the node-1 load), optionally less the neuron's held threshold, and the highest
//! level wins. Neurons are labelled by the class they win most on the training images
//! (as the circuit's labelling does with one race), and the test images are answered by
//! their winner's label. Diagnostic only: no circuit reads this way.

use super::learn::label_neurons;
use crate::data::coding::Coding;
use crate::data::idx::Dataset;

/// The trained layer as the ideal read sees it.
pub struct IdealRead<'a> {
    /// Conductances, row `j` = the column into neuron `j`, siemens.
    pub weights: &'a [Vec<f64>],
    /// Held threshold of each neuron, volts (subtracted when `with_thresholds`).
    pub thresholds: &'a [f64],
    /// Node-1 load to ground, siemens.
    pub load_siemens: f64,
    /// Read level of the input lines, volts.
    pub read_volts: f64,
    /// How pixels become pulses.
    pub coding: &'a Coding,
}

impl IdealRead<'_> {
    /// The neuron with the highest node-1 level for `image` (less its threshold when
    /// `with_thresholds`); ties: the smaller index.
    pub fn winner(&self, image: &[u8], with_thresholds: bool) -> Option<usize> {
        self.winner_given(&self.denominators(), image, with_thresholds)
    }

    /// Each column's `Σᵢ Gᵢⱼ + G_L`, siemens (the same for every image).
    fn denominators(&self) -> Vec<f64> {
        self.weights
            .iter()
            .map(|col| col.iter().fold(self.load_siemens, |a, g| a + g))
            .collect()
    }

    /// [`IdealRead::winner`] with the columns' denominators computed once.
    fn winner_given(&self, dens: &[f64], image: &[u8], with_thresholds: bool) -> Option<usize> {
        let p: Vec<f64> = image.iter().map(|&g| self.coding.probability(g)).collect();
        let mut best: Option<(usize, f64)> = None;
        for (j, (col, &den)) in self.weights.iter().zip(dens).enumerate() {
            let num = col.iter().zip(&p).fold(0.0, |a, (g, pi)| a + g * pi);
            let mut v = if den > 0.0 {
                self.read_volts * num / den
            } else {
                0.0
            };
            if with_thresholds {
                v -= self.thresholds.get(j).copied().unwrap_or(0.0);
            }
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((j, v));
            }
        }
        best.map(|(j, _)| j)
    }

    /// Test accuracy of the ideal read: neurons labelled on the first `n_train` training
    /// images, the first `n_test` test images answered by their winner's label.
    pub fn accuracy(
        &self,
        train: &Dataset,
        n_train: usize,
        test: &Dataset,
        n_test: usize,
        classes: usize,
        with_thresholds: bool,
    ) -> f64 {
        let dens = self.denominators();
        let answers: Vec<(Option<usize>, u8)> = (0..n_train)
            .filter_map(|i| train.get(i))
            .map(|(image, y)| (self.winner_given(&dens, image, with_thresholds), y))
            .collect();
        let labels = label_neurons(&answers, self.weights.len(), classes);
        let (mut right, mut total) = (0usize, 0usize);
        for (image, y) in (0..n_test).filter_map(|i| test.get(i)) {
            total += 1;
            let class = self
                .winner_given(&dens, image, with_thresholds)
                .and_then(|w| labels.get(w).copied().flatten());
            right += usize::from(class == Some(y));
        }
        right as f64 / total.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two columns, each matched to one of two four-pixel images: the divider picks the
    /// matching column, and a threshold large enough reverses the pick.
    #[test]
    fn the_matching_column_wins_and_a_threshold_can_overturn_it() {
        let weights = vec![
            vec![1e-3, 1e-3, 1e-5, 1e-5], // matches the left half
            vec![1e-5, 1e-5, 1e-3, 1e-3], // matches the right half
        ];
        let coding = Coding::Binary { threshold: 128 };
        let thresholds = [0.0, 0.0];
        let r = IdealRead {
            weights: &weights,
            thresholds: &thresholds,
            load_siemens: 0.0,
            read_volts: 1.0,
            coding: &coding,
        };
        let left = [255, 255, 0, 0];
        let right = [0, 0, 255, 255];
        assert_eq!(r.winner(&left, false), Some(0));
        assert_eq!(r.winner(&right, false), Some(1));
        // Left image: column 0 at 2e-3/2.02e-3 ≈ 0.990 V, column 1 at 2e-5/2.02e-3 ≈
        // 0.0099 V; a 1 V threshold on column 0 hands the image to column 1.
        let high = [1.0, 0.0];
        let r = IdealRead {
            thresholds: &high,
            ..r
        };
        assert_eq!(r.winner(&left, true), Some(1));
        assert_eq!(r.winner(&left, false), Some(0));
    }
}
