//! Training in situ: layer 1 without supervision (the LIA's winner-take-all decides which
//! column learns each block of presentations), then layer 2 by gating (the output neuron of
//! each pattern is the only one whose gates are open while its hidden winner's line pulses).

use super::protocol::{Inference, Layer1, Layer2};
use super::setup::{progress, Setup};
use crate::experiments::msnn::winner;
use devices::variability::key;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What layer-1 training did.
#[derive(Clone, Debug, Default)]
pub struct Layer1Log {
    /// Per epoch, per pattern (file order): the neurons that fired.
    pub winners: Vec<Vec<Vec<usize>>>,
    /// The neuron followed for the weight-evolution plot (first winner of pattern 1).
    pub followed: Option<usize>,
    /// Its conductances (siemens) after each of its fire events.
    pub evolution: Vec<Vec<f64>>,
    /// Presentations that ended without a fire.
    pub timeouts: usize,
    /// Every presentation in order: (pattern index, neurons that fired).
    pub sequence: Vec<(usize, Vec<usize>)>,
    /// Per presentation, per neuron: the node-1 level the pattern gives before the
    /// presentation (write amplitude × conductance-weighted fraction of active inputs), volts.
    pub drive_volts: Vec<Vec<f64>>,
}

/// Node-1 level of each column for `pixels` pulsing at `volts` (the conductance-weighted
/// mean of the input lines; the neuron's own load is negligible against the column).
pub fn drive_levels(weights: &[Vec<f64>], pixels: &[bool], volts: f64) -> Vec<f64> {
    weights
        .iter()
        .map(|w| {
            let total: f64 = w.iter().sum();
            let on: f64 = w
                .iter()
                .zip(pixels)
                .filter(|(_, &b)| b)
                .map(|(g, _)| g)
                .sum();
            if total > 0.0 {
                volts * on / total
            } else {
                0.0
            }
        })
        .collect()
}

/// Trains layer 1 without supervision (write mode on the hidden layer).
pub fn train_layer1(s: &mut Setup, p: &Layer1, seed: u64) -> Layer1Log {
    let m = &mut s.msnn;
    let hidden = m.hidden.clone();
    m.set_input_amplitude(m.levels.input_write_volts);
    m.set_learning(&hidden, true);
    let mut rng = ChaCha8Rng::seed_from_u64(key(seed, &[0x1a1]));
    let mut log = Layer1Log::default();
    let n = s.patterns.len();
    let pb = progress(
        p.epochs as u64 * n as u64 * p.presentations_per_pattern.max(1) as u64,
        "layer 1 (WTA)",
        s.show_progress,
    );
    let follow_pattern = 1.min(n - 1);
    for _ in 0..p.epochs {
        let mut order: Vec<usize> = (0..n).collect();
        if p.shuffle {
            order.shuffle(&mut rng);
        }
        let mut epoch = vec![Vec::new(); n];
        for k in order
            .into_iter()
            .flat_map(|k| std::iter::repeat_n(k, p.presentations_per_pattern.max(1) as usize))
        {
            log.drive_volts.push(drive_levels(
                &m.weights(&hidden),
                &s.patterns[k].1,
                m.levels.input_write_volts as f64,
            ));
            let r = if p.pulse_trials {
                m.present_in_pulse_trials(
                    &s.patterns[k].1,
                    &hidden,
                    p.fires_per_presentation,
                    p.max_cycles,
                )
            } else {
                m.present_until_fire(
                    &s.patterns[k].1,
                    0,
                    &hidden,
                    None,
                    p.fires_per_presentation,
                    p.max_cycles,
                )
            };
            if r.fired.is_empty() {
                log.timeouts += 1;
            }
            if k == follow_pattern && log.followed.is_none() {
                log.followed = r.fired.first().copied();
            }
            if let Some(f) = log.followed {
                if r.fired.contains(&f) && log.evolution.len() < 30 {
                    log.evolution.push(m.weights(&hidden)[f].clone());
                }
            }
            log.sequence.push((k, r.fired.clone()));
            epoch[k] = r.fired;
            pb.inc(1);
        }
        log.winners.push(epoch);
    }
    pb.finish_and_clear();
    log
}

/// Programs layer 1 as if training had given each pattern its own hidden neuron: column
/// `k` (for `k` below the number of patterns) gets `high_siemens` on pattern `k`'s pixels
/// and `low_siemens` elsewhere (the paper's ~980 µS LRS and ~40 µS HRS). A diagnostic: it
/// separates what layer 2 and the read scheme can do from what layer-1 learning does.
pub fn set_ideal_layer1(s: &mut Setup, high_siemens: f32, low_siemens: f32) {
    let columns = s.msnn.hidden.columns.clone();
    for (col, (_, px)) in columns.iter().zip(&s.patterns) {
        let g: Vec<f32> = px
            .iter()
            .map(|&b| if b { high_siemens } else { low_siemens })
            .collect();
        if let Some(c) = s
            .msnn
            .sim
            .net
            .get_mut::<runtime::circuits::column::Column>(*col)
        {
            c.set_conductances(&g);
        }
    }
}

/// What layer-2 training did.
#[derive(Clone, Debug, Default)]
pub struct Layer2Log {
    /// The hidden neuron selected for each pattern (highest rate in read mode).
    pub selected: Vec<Option<usize>>,
    /// Per epoch, per pattern: cycles until the target fired (`None`: never).
    pub cycles: Vec<Vec<Option<u64>>>,
}

/// Trains layer 2 as the paper did: for pattern `k`, the hidden neuron with the highest
/// rate (read mode) is selected; its input terminal in layer 2 is pulsed at the write
/// level, with output `k`'s gates at 3.0 V and the other gates grounded, until output `k`
/// fires. The selection reads each clean pattern `selection_reads` times as the inference
/// reads (`read`): by spike counts over windows, or, for race reads, by the votes of races
/// that end at the first hidden fire (layer 2 cannot fire yet).
pub fn train_layer2(s: &mut Setup, p: &Layer2, read: &Inference) -> Layer2Log {
    let n = s.patterns.len();
    let mut log = Layer2Log::default();
    {
        let m = &mut s.msnn;
        let hidden = m.hidden.clone();
        m.set_learning(&hidden, false);
        m.set_input_amplitude(m.levels.read_volts);
        m.set_spike_amplitude(&hidden, m.levels.read_volts);
    }
    for k in 0..n {
        let pixels = s.patterns[k].1.clone();
        let reads = p.selection_reads;
        let counts = if read.until_output_fire {
            // Races: layer 2 cannot fire yet, so each race ends at the first hidden fire
            // and votes for its winner (the neuron that wins most often has the highest
            // rate over many races).
            let hidden = s.msnn.hidden.clone();
            let mut votes = vec![0u64; hidden.neurons.len()];
            for _ in 0..reads.max(1) {
                let r = s
                    .msnn
                    .present_until_fire(&pixels, 0, &hidden, None, 1, read.window_cycles);
                if let [j] = r.fired[..] {
                    votes[j] += 1;
                }
            }
            votes
        } else {
            s.msnn
                .read(
                    &pixels,
                    reads.saturating_mul(read.races),
                    read.window_cycles,
                    false,
                    0,
                )
                .hidden
        };
        log.selected.push(winner(&counts));
    }
    let m = &mut s.msnn;
    let output = m.output.clone();
    m.set_learning(&output, true);
    let n_out = output.neurons.len();
    let pb = progress(
        p.epochs as u64 * n as u64,
        "layer 2 (gated)",
        s.show_progress,
    );
    for _ in 0..p.epochs {
        let mut epoch = Vec::new();
        for k in 0..n {
            let gates: Vec<f32> = (0..n_out)
                .map(|j| if j == k { m.levels.gate_on_volts } else { 0.0 })
                .collect();
            m.set_gates(&output, gates);
            let r = log.selected[k].and_then(|h| {
                m.pulse_line_until_fire(&output, h, m.levels.spike_write_volts, k, p.max_cycles)
            });
            epoch.push(r);
            pb.inc(1);
        }
        log.cycles.push(epoch);
    }
    pb.finish_and_clear();
    log
}

/// A network with layer 1 trained, and its layer-1 conductances before and after.
pub(super) struct Trained {
    /// The network.
    pub setup: Setup,
    /// What layer-1 training did.
    pub l1: Layer1Log,
    /// Layer-1 conductances before training, siemens (per neuron, per synapse).
    pub w1_before: Vec<Vec<f64>>,
    /// Layer-1 conductances after training, siemens.
    pub w1_after: Vec<Vec<f64>>,
}

/// Trains layer 1 of `s` as `p` says, keeping the conductances before and after.
pub(super) fn train_first_layer(mut s: Setup, p: &Layer1, seed: u64) -> Trained {
    let hidden = s.msnn.hidden.clone();
    let w1_before = s.msnn.weights(&hidden);
    let l1 = train_layer1(&mut s, p, seed);
    let w1_after = s.msnn.weights(&hidden);
    Trained {
        setup: s,
        l1,
        w1_before,
        w1_after,
    }
}
