//! Inference and its read-outs: every pattern presented with noise pixels in read mode, and
//! what the spike counts and votes say — accuracy, patterns recognised, rates, layer-1
//! labels and winners.

use super::protocol::{Fig5Protocol, Inference};
use super::setup::{progress, Setup};
use super::train::drive_levels;
use crate::experiments::msnn::winner;
use crate::experiments::RunOptions;
use anyhow::{bail, Result};
use devices::variability::key;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use runtime::engine::exec::Executor;
use runtime::model::energy::EnergyReport;
use runtime::model::topology::LayerIds;
use std::collections::BTreeMap;

/// Stream tag of the inference's noise pixels.
const TAG_NOISE: u64 = 0x4e01;

/// Spike counts of one inference presentation.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Noise pixels flipped.
    pub noise: u32,
    /// Trial index.
    pub trial: usize,
    /// Pattern index.
    pub pattern: usize,
    /// CLK periods the stimulus was presented (all its races).
    pub cycles: u64,
    /// Races read.
    pub races: u32,
    /// Hidden spike counts.
    pub hidden: Vec<u64>,
    /// Layer 1's votes ([`Reading::votes`](crate::experiments::msnn::Reading::votes)): races won, or spikes of a window
    /// read. The layer-1 read-out and labels use them.
    pub votes: Vec<u64>,
    /// Output spike counts.
    pub output: Vec<u64>,
    /// Per race ended by an output fire: stimulus on the lines → first output fire, ns.
    pub latencies_ns: Vec<u64>,
}

/// What the inference dissipated and how fast it answered ([`infer_measured`]).
#[derive(Clone, Debug, Default)]
pub struct InferenceCost {
    /// Energy of the whole inference (every trial), by class and layer (`hidden`,
    /// `output`).
    pub energy: EnergyReport,
    /// Trials (inferences) it covers.
    pub inferences: usize,
}

impl InferenceCost {
    /// Energy per inference (one trial: all its races and rests), joules.
    pub fn joules_per_inference(&self) -> f64 {
        self.energy.total_joules / self.inferences.max(1) as f64
    }
}

/// Median of the trials' latencies (every race that ended at an output fire), µs; `None`
/// without any.
pub fn median_latency_us(trials: &[Trial]) -> Option<f64> {
    let mut all: Vec<u64> = trials
        .iter()
        .flat_map(|t| t.latencies_ns.iter().copied())
        .collect();
    if all.is_empty() {
        return None;
    }
    all.sort_unstable();
    let n = all.len();
    let mid = if n % 2 == 1 {
        all[n / 2] as f64
    } else {
        0.5 * (all[n / 2 - 1] + all[n / 2]) as f64
    };
    Some(mid * 1e-3)
}

/// `pixels` with `flips` of them (distinct, uniformly chosen) inverted, drawn from the
/// stream keyed by `seed` and `ids` (noise pixels).
pub fn with_noise(pixels: &[bool], flips: u32, seed: u64, ids: &[u64]) -> Vec<bool> {
    let mut px = pixels.to_vec();
    let k = (flips as usize).min(px.len());
    if k > 0 {
        let mut rng = ChaCha8Rng::seed_from_u64(key(seed, ids));
        for i in rand::seq::index::sample(&mut rng, px.len(), k) {
            px[i] = !px[i];
        }
    }
    px
}

/// Switches the whole network to read mode and presents every pattern with noise: each
/// trial draws its noisy stimulus (keyed by `seed`, noise level, trial and pattern) and
/// reads it `p.races` times ([`Msnn::read`](crate::experiments::msnn::Msnn::read)).
pub fn infer(s: &mut Setup, p: &Inference, noise: &[u32], trials: usize, seed: u64) -> Vec<Trial> {
    infer_measured(s, p, noise, trials, seed).0
}

/// [`infer`], also measuring the energy the inference dissipated (from entering the read
/// mode to the last trial's rest).
pub fn infer_measured(
    s: &mut Setup,
    p: &Inference,
    noise: &[u32],
    trials: usize,
    seed: u64,
) -> (Vec<Trial>, InferenceCost) {
    let m = &mut s.msnn;
    let layers: BTreeMap<String, LayerIds> = [
        ("hidden".to_string(), m.hidden.clone()),
        ("output".to_string(), m.output.clone()),
    ]
    .into();
    let energy0 = EnergyReport::of(m.sim.network(), &layers, m.sim.now());
    let (hidden, output) = (m.hidden.clone(), m.output.clone());
    m.set_learning(&hidden, false);
    m.set_learning(&output, false);
    m.set_input_amplitude(m.levels.read_volts);
    m.set_spike_amplitude(&hidden, m.levels.read_volts);
    let n_out = output.neurons.len();
    m.set_gates(&output, vec![m.levels.gate_on_volts; n_out]);
    let n = s.patterns.len();
    let mut out = Vec::new();
    let pb = progress(
        (noise.len() * trials * n) as u64,
        "inference",
        s.show_progress,
    );
    for &k in noise {
        for trial in 0..trials {
            for pat in 0..n {
                let ids = [TAG_NOISE, k as u64, trial as u64, pat as u64];
                let stimulus = with_noise(&s.patterns[pat].1, k, seed, &ids);
                let r = m.read(
                    &stimulus,
                    p.races,
                    p.window_cycles,
                    p.until_output_fire,
                    p.lead_votes,
                );
                out.push(Trial {
                    noise: k,
                    trial,
                    pattern: pat,
                    cycles: r.cycles,
                    races: r.races,
                    hidden: r.hidden,
                    votes: r.votes,
                    output: r.output,
                    latencies_ns: r.latencies_ns,
                });
                pb.inc(1);
            }
        }
    }
    pb.finish_and_clear();
    let energy = EnergyReport::of(m.sim.network(), &layers, m.sim.now()).since(&energy0);
    let cost = InferenceCost {
        energy,
        inferences: out.len(),
    };
    (out, cost)
}

/// Share of the trials at one noise level for which `ok` holds (NaN without trials).
fn share(trials: &[Trial], noise: u32, ok: impl Fn(&Trial) -> bool) -> f64 {
    let sel: Vec<&Trial> = trials.iter().filter(|t| t.noise == noise).collect();
    if sel.is_empty() {
        return f64::NAN;
    }
    sel.iter().filter(|t| ok(t)).count() as f64 / sel.len() as f64
}

/// Accuracy (argmax of output spikes = pattern index) over the trials at one noise level.
pub fn accuracy(trials: &[Trial], noise: u32) -> f64 {
    share(trials, noise, |t| winner(&t.output) == Some(t.pattern))
}

/// Patterns recognised at one noise level: those whose most frequent prediction over their
/// trials (the output neuron with most spikes, ties and silence counting as wrong) is their
/// own output neuron — "10/10" when every pattern is.
pub fn patterns_recognised(trials: &[Trial], noise: u32, n_patterns: usize) -> usize {
    (0..n_patterns)
        .filter(|&k| {
            let mut votes = std::collections::BTreeMap::<Option<usize>, usize>::new();
            for t in trials.iter().filter(|t| t.noise == noise && t.pattern == k) {
                *votes.entry(winner(&t.output)).or_default() += 1;
            }
            let best = votes.values().copied().max().unwrap_or(0);
            best > 0 && votes.get(&Some(k)) == Some(&best) && {
                votes.values().filter(|&&v| v == best).count() == 1
            }
        })
        .count()
}

/// Mean layer-1 votes per race, per pattern (rows) and neuron (columns) at one noise level:
/// the share of its races each neuron won (or its spikes per window for window reads).
/// Per race, because a trial that stops once its answer is clear takes more races for a
/// hard pattern than for an easy one.
pub fn votes(trials: &[Trial], noise: u32, n_patterns: usize) -> Vec<Vec<f64>> {
    let sel: Vec<&Trial> = trials.iter().filter(|t| t.noise == noise).collect();
    let width = sel.first().map_or(0, |t| t.votes.len());
    let mut m = vec![vec![0.0; width]; n_patterns];
    let mut n = vec![0usize; n_patterns];
    for t in sel {
        let races = f64::from(t.races.max(1));
        for (j, &x) in t.votes.iter().enumerate() {
            m[t.pattern][j] += x as f64 / races;
        }
        n[t.pattern] += 1;
    }
    for (row, &k) in m.iter_mut().zip(&n) {
        row.iter_mut().for_each(|x| *x /= k.max(1) as f64);
    }
    m
}

/// Each hidden neuron's label: the pattern it fires most for in `hidden_rates` (rows:
/// patterns, columns: neurons, as [`rates`] gives them); `None` for a neuron that never
/// fires.
pub fn hidden_labels(hidden_rates: &[Vec<f64>]) -> Vec<Option<usize>> {
    let width = hidden_rates.first().map_or(0, Vec::len);
    (0..width)
        .map(|j| {
            let column: Vec<f64> = hidden_rates.iter().map(|row| row[j]).collect();
            let best = (0..column.len()).max_by(|&a, &b| column[a].total_cmp(&column[b]))?;
            (column[best] > 0.0).then_some(best)
        })
        .collect()
}

/// Accuracy of reading layer 1 alone at one noise level: a presentation counts when the
/// label (see [`hidden_labels`]) of its most active hidden neuron is its pattern. With
/// labels taken from the clean presentations themselves it bounds what any readout of the
/// hidden winner could do, which separates layer-1 losses from read-path losses.
pub fn hidden_readout_accuracy(trials: &[Trial], noise: u32, labels: &[Option<usize>]) -> f64 {
    share(trials, noise, |t| {
        winner(&t.votes).and_then(|j| labels.get(j).copied().flatten()) == Some(t.pattern)
    })
}

/// Mean spike rate (Hz) per pattern (rows) and neuron (columns) at one noise level: each
/// trial's spikes over the time its stimulus was presented (`period_s` per CLK period).
pub fn rates(
    trials: &[Trial],
    noise: u32,
    n_patterns: usize,
    hidden: bool,
    period_s: f64,
) -> Vec<Vec<f64>> {
    let sel: Vec<&Trial> = trials.iter().filter(|t| t.noise == noise).collect();
    let width = sel.first().map_or(0, |t| {
        if hidden {
            t.hidden.len()
        } else {
            t.output.len()
        }
    });
    let mut m = vec![vec![0.0; width]; n_patterns];
    let mut n = vec![0usize; n_patterns];
    for t in sel {
        let c = if hidden { &t.hidden } else { &t.output };
        let seconds = t.cycles.max(1) as f64 * period_s;
        for (j, &x) in c.iter().enumerate() {
            m[t.pattern][j] += x as f64 / seconds;
        }
        n[t.pattern] += 1;
    }
    for (row, &k) in m.iter_mut().zip(&n) {
        row.iter_mut().for_each(|x| *x /= k.max(1) as f64);
    }
    m
}

/// Each pattern's winner by node-1 level: the hidden neuron whose column gives the pattern
/// the highest conductance-weighted level ([`drive_levels`]) — who wins the race in
/// expectation, whatever the read-out. `None` for an all-zero column set.
pub fn level_winners(weights: &[Vec<f64>], patterns: &[(String, Vec<bool>)]) -> Vec<Option<usize>> {
    patterns
        .iter()
        .map(|(_, px)| {
            let v = drive_levels(weights, px, 1.0);
            (0..v.len())
                .max_by(|&a, &b| v[a].total_cmp(&v[b]))
                .filter(|&j| v[j] > 0.0)
        })
        .collect()
}

/// Distinct neurons among `winners`.
pub fn distinct(winners: &[Option<usize>]) -> usize {
    let mut w: Vec<usize> = winners.iter().flatten().copied().collect();
    w.sort_unstable();
    w.dedup();
    w.len()
}

/// Distinct hidden neurons that win (largest mean rate) the patterns.
pub fn distinct_winners(hidden_rates: &[Vec<f64>]) -> usize {
    let mut w: Vec<usize> = hidden_rates
        .iter()
        .filter_map(|row| {
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            (max > 0.0).then(|| row.iter().position(|&x| x == max).unwrap_or(0))
        })
        .collect();
    w.sort_unstable();
    w.dedup();
    w.len()
}

/// The noise levels of inference (`--noise-pixels`, else the protocol's), sorted, always
/// with the clean level 0 (the summary's accuracy and layer-1 winners are measured on
/// clean patterns); a level above the patterns' pixel count is an error.
pub(super) fn inference_noise(
    opts: &RunOptions,
    proto: &Fig5Protocol,
    s: &Setup,
) -> Result<Vec<u32>> {
    let (mut noise, from) = match &opts.noise_pixels {
        Some(n) => (n.clone(), "--noise-pixels"),
        None => (
            proto.inference.noise_pixels.clone(),
            "the protocol's `inference.noise_pixels`",
        ),
    };
    let pixels = s.patterns.first().map_or(0, |(_, px)| px.len());
    if let Some(k) = noise.iter().find(|&&k| k as usize > pixels) {
        bail!(
            "{from}: {k} noise pixels, but the patterns have {pixels} pixels; \
             flip at most {pixels}"
        );
    }
    noise.push(0);
    noise.sort_unstable();
    noise.dedup();
    Ok(noise)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(pattern: usize, hidden: &[u64]) -> Trial {
        Trial {
            noise: 0,
            trial: 0,
            pattern,
            cycles: 1,
            races: 1,
            hidden: hidden.to_vec(),
            votes: hidden.to_vec(),
            output: vec![0; 2],
            latencies_ns: Vec::new(),
        }
    }

    #[test]
    fn median_latency_pools_every_race() {
        let mut a = trial(0, &[1]);
        let mut b = trial(0, &[1]);
        assert_eq!(median_latency_us(&[a.clone()]), None);
        a.latencies_ns = vec![1_000, 9_000];
        b.latencies_ns = vec![3_000];
        // Races 1, 3, 9 µs: the median is 3 µs; with a fourth at 5 µs, (3 + 5)/2.
        assert_eq!(median_latency_us(&[a.clone(), b.clone()]), Some(3.0));
        b.latencies_ns.push(5_000);
        assert_eq!(median_latency_us(&[a, b]), Some(4.0));
    }

    #[test]
    fn layer1_readout_labels_neurons_by_their_best_pattern() {
        // Neuron 0 answers pattern 0, neuron 1 pattern 1, neuron 2 never fires.
        let rates = vec![vec![10.0, 2.0, 0.0], vec![1.0, 5.0, 0.0]];
        let labels = hidden_labels(&rates);
        assert_eq!(labels, vec![Some(0), Some(1), None]);
        let trials = [
            trial(0, &[3, 1, 0]), // right: neuron 0 wins
            trial(1, &[0, 2, 0]), // right: neuron 1 wins
            trial(1, &[4, 1, 0]), // wrong: neuron 0 wins a pattern-1 presentation
            trial(0, &[0, 0, 0]), // wrong: nothing fired
        ];
        assert_eq!(hidden_readout_accuracy(&trials, 0, &labels), 0.5);
        assert!(hidden_readout_accuracy(&trials, 1, &labels).is_nan());
    }
}
