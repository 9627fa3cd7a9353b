//! Training and reading the winner-take-all layer on a data set, through the circuit.
//!
//! A presentation is what the paper's pulse generator does for a pattern: the image's
//! lines pulse (binary: the same lines every CLK period; rate: lines drawn anew every
//! period from their grey levels) until the hidden layer fires or `max_cycles` pass; the
//! cycle after a fire — the refractory cycle, T1 grounding node 1 while the inputs pulse,
//! which is when the winner's column is potentiated — still gets the pulses; then the
//! inputs are grounded for the rest, which refreshes every neuron's adaptive threshold and
//! starts a new switching cycle ([`Msnn::rest`]).
//!
//! Reading is the same presentation in the read mode (inputs at the read level, T3
//! disabled): the first neuron to fire is the layer's answer.

use super::protocol::MnistProtocol;
use crate::data::coding::Coding;
use crate::data::idx::Dataset;
use crate::experiments::msnn::Msnn;
use anyhow::{bail, Result};
use devices::variability::{key, KeyedStream};
use indicatif::ProgressBar;
use runtime::engine::exec::Executor;
use runtime::model::driver::{fire_counts, grown, Driver};

/// Separates the presentation-order draws from other users of the seed.
const ORDER_STREAM: u64 = 0x6d6e_6973_746f_7264; // "mnistord"

/// What one presentation gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The hidden neuron that fired first (`None`: none in time, or several in the same
    /// CLK period).
    pub winner: Option<usize>,
    /// The output neuron that fired first, when the presentation watched the output layer
    /// (same rule).
    pub output: Option<usize>,
    /// CLK periods the image was applied.
    pub cycles: u64,
    /// CLK periods until the hidden layer's first fire (every gate open), `cycles` if it
    /// did not fire.
    pub open_cycles: u64,
    /// Whether any hidden neuron fired (`winner` is `None` with this set when several
    /// fired in the same CLK period).
    pub hidden_fired: bool,
}

/// The order of the `n` items in pass `epoch`: a permutation drawn from the keyed stream
/// `(seed, epoch)` (Fisher–Yates), the same on every executor.
pub fn order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut s = KeyedStream::new(key(seed, &[ORDER_STREAM, epoch]));
    for i in (1..n).rev() {
        let j = (s.next_u64() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

/// The only neuron whose counter grew, if exactly one did.
fn sole(now: &[u64], before: &[u64]) -> Option<usize> {
    match grown(now, before).as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// The write strobe of a training presentation (see [`super::protocol::Levels::integrate_volts`]): the
/// input drivers pulse at `integrate_volts` until the layer's first fire and at
/// `write_volts` in the refractory period that follows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteStrobe {
    /// Line amplitude while the neurons integrate, volts.
    pub integrate_volts: f32,
    /// Line amplitude in the refractory period after a fire (potentiation), volts.
    pub write_volts: f32,
}

/// Presents `image` until the hidden layer fires — or, with `through_output: Some(w)`,
/// until the output layer fires, at most `w` periods after the hidden layer's first fire
/// — or `max_cycles` pass; then rests. `stream` keys the rate coding's
/// draws (distinct per presentation). With a `strobe` the lines start at its integration
/// level and switch to its write level for the refractory period after the first fire
/// (the input amplitude is otherwise the one last set).
pub fn present<E: Executor>(
    m: &mut Msnn<E>,
    coding: &Coding,
    image: &[u8],
    stream: u64,
    max_cycles: u64,
    through_output: Option<u64>,
    strobe: Option<WriteStrobe>,
) -> Result<Outcome> {
    let hidden = m.hidden.neurons.clone();
    let output = m.output.neurons.clone();
    let input = m.input;
    let h0 = fire_counts(&m.sim, &hidden);
    let o0 = fire_counts(&m.sim, &output);
    let mut outcome = Outcome {
        winner: None,
        output: None,
        cycles: max_cycles,
        open_cycles: max_cycles,
        hidden_fired: false,
    };
    {
        let mut d = Driver::new(&mut m.sim);
        if let Some(s) = strobe {
            d.set_amplitude(input, s.integrate_volts);
        }
        d.run_cycles(0);
        let rate = matches!(coding, Coding::Rate { .. });
        let mut hidden_fired = false;
        let mut period = 0u64;
        let mut done = false;
        let mut deadline = max_cycles;
        while period < deadline && !done {
            // Binary coding: one Present for the whole presentation; rate coding: each
            // period its own draw.
            if period == 0 || rate {
                d.present(input, &coding.pulses(image, stream, 0, period), 0);
            }
            d.run_to_next_edge();
            period += 1;
            if !hidden_fired {
                let now = fire_counts(d.sim, &hidden);
                if now.iter().zip(&h0).any(|(a, b)| a > b) {
                    hidden_fired = true;
                    outcome.hidden_fired = true;
                    outcome.winner = sole(&now, &h0);
                    outcome.open_cycles = period;
                    if let Some(w) = through_output {
                        deadline = deadline.min(period + w);
                    }
                }
            }
            done = if through_output.is_some() {
                let now = fire_counts(d.sim, &output);
                let fired = now.iter().zip(&o0).any(|(a, b)| a > b);
                if fired {
                    outcome.output = sole(&now, &o0);
                }
                fired
            } else {
                hidden_fired
            };
        }
        // The periods the image was applied (a read through the output layer may stop at
        // its deadline, before `max_cycles`).
        outcome.cycles = period;
        if done {
            // The refractory cycle: T1 grounds node 1 while the inputs pulse (the
            // potentiation of a training presentation). The strobe raises the lines to
            // the write level from this period's rising edge (the fire was in the last
            // one; its firing phase, T3's lift, ran at the integration level, which only
            // the grounded lines feel).
            if let Some(s) = strobe {
                d.set_amplitude(input, s.write_volts);
            }
            if rate || strobe.is_some() {
                d.present(input, &coding.pulses(image, stream, 0, period), 0);
            }
            d.run_cycles(1);
            outcome.cycles = period + 1;
        }
        d.stop(&[input]);
    }
    m.rest();
    if let Some(e) = m.sim.halted() {
        bail!("the simulation stopped: {e}");
    }
    Ok(outcome)
}

/// Per-pass record of training.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainLog {
    /// Winner of every training presentation, in presentation order, with its label.
    pub winners: Vec<(Option<usize>, u8)>,
    /// The training image each presentation showed.
    pub images: Vec<usize>,
    /// CLK periods of every presentation.
    pub cycles: Vec<u64>,
    /// Presentations in which several neurons fired in the first period with a fire (no
    /// winner, no potentiation of a single column).
    pub tied: u64,
}

/// Trains the hidden layer on the first `count` items of `data` for `epochs` passes in
/// fresh random order (`pb` counts the presentations).
pub fn train<E: Executor>(
    m: &mut Msnn<E>,
    proto: &MnistProtocol,
    data: &Dataset,
    count: usize,
    epochs: u32,
    seed: u64,
    pb: &ProgressBar,
) -> Result<TrainLog> {
    let hidden = m.hidden.clone();
    m.set_learning(&hidden, true);
    m.set_input_amplitude(proto.levels.input_write_volts as f32);
    let strobe = proto.levels.integrate_volts.map(|v| WriteStrobe {
        integrate_volts: v as f32,
        write_volts: proto.levels.input_write_volts as f32,
    });
    let mut log = TrainLog::default();
    for epoch in 0..epochs as u64 {
        for i in order(count, seed, epoch) {
            let (image, label) = data.get(i).expect("index within the data set");
            let stream = key(seed, &[epoch, i as u64]);
            let o = present(
                m,
                &proto.coding,
                image,
                stream,
                proto.train_max_cycles,
                None,
                strobe,
            )?;
            log.winners.push((o.winner, label));
            log.tied += u64::from(o.winner.is_none() && o.hidden_fired);
            log.images.push(i);
            log.cycles.push(o.cycles);
            pb.inc(1);
        }
    }
    Ok(log)
}

/// What a read of one image gave: the votes of its races.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Races each hidden neuron won (first to fire).
    pub hidden_votes: Vec<u32>,
    /// Races each output neuron won (first output fire), when read through the output.
    pub output_votes: Vec<u32>,
    /// CLK periods the image was applied, summed over the races.
    pub cycles: u64,
    /// CLK periods until the hidden layer's first fire, summed over the races.
    pub open_cycles: u64,
    /// Per race with a fire: CLK periods from the image reaching the lines to the end of
    /// the period of the hidden layer's first fire (the network's answer).
    pub fire_cycles: Vec<u64>,
    /// The hidden winner of every race, in race order (`None`: no single first fire).
    pub race_winners: Vec<Option<usize>>,
    /// Races in which several hidden neurons fired in the first CLK period with a fire
    /// (no vote).
    pub tied_races: u32,
    /// Races in which no hidden neuron fired within the read window (no vote).
    pub silent_races: u32,
}

impl Reading {
    /// The hidden neuron with the most votes (ties: the smaller index), if any voted.
    pub fn winner(&self) -> Option<usize> {
        most(&self.hidden_votes)
    }

    /// The class the races' winners vote for through their labels (each race one vote for
    /// its winner's class; ties: the class of the most-voted neuron), if any voted.
    pub fn class(&self, labels: &[Option<u8>], classes: usize) -> Option<u8> {
        let mut votes = vec![0u32; classes];
        for (j, &v) in self.hidden_votes.iter().enumerate() {
            if let Some(c) = labels.get(j).copied().flatten() {
                if (c as usize) < classes {
                    votes[c as usize] += v;
                }
            }
        }
        let best = *votes.iter().max()?;
        if best == 0 {
            return None;
        }
        let tied: Vec<usize> = (0..classes).filter(|&c| votes[c] == best).collect();
        match tied.as_slice() {
            [one] => Some(*one as u8),
            _ => self
                .winner()
                .and_then(|w| labels.get(w).copied().flatten())
                .filter(|c| tied.contains(&(*c as usize)))
                .or(Some(tied[0] as u8)),
        }
    }

    /// The output neuron with the most votes, if any voted.
    pub fn output(&self) -> Option<usize> {
        most(&self.output_votes)
    }

    /// The hidden layer's votes of the first `races` races alone: what a read of that
    /// many races would have answered (the races are independent, each from rest).
    pub fn first_races(&self, races: usize) -> Reading {
        let mut hidden_votes = vec![0; self.hidden_votes.len()];
        for w in self.race_winners.iter().take(races).flatten() {
            hidden_votes[*w] += 1;
        }
        Reading {
            hidden_votes,
            race_winners: self.race_winners.iter().take(races).copied().collect(),
            ..Reading::default()
        }
    }
}

/// Index of the largest count (ties: the smaller index); `None` when all are zero.
fn most(votes: &[u32]) -> Option<usize> {
    let best = *votes.iter().max()?;
    (best > 0)
        .then(|| votes.iter().position(|&v| v == best))
        .flatten()
}

/// Reads the first `count` items of `data` in the read mode (learning off, inputs and the
/// hidden spikes at the read level, every output gate on), each in `races` races (each a
/// fresh stochastic race from rest), through the output layer when `through_output`.
#[allow(clippy::too_many_arguments)]
pub fn read<E: Executor>(
    m: &mut Msnn<E>,
    proto: &MnistProtocol,
    data: &Dataset,
    count: usize,
    races: u32,
    seed: u64,
    salt: u64,
    through_output: bool,
    pb: &ProgressBar,
) -> Result<Vec<Reading>> {
    let (hidden, output) = (m.hidden.clone(), m.output.clone());
    m.set_learning(&hidden, false);
    m.set_learning(&output, false);
    m.set_input_amplitude(proto.levels.read_volts as f32);
    m.set_spike_amplitude(&hidden, proto.levels.read_volts as f32);
    if through_output {
        let on = vec![m.levels.gate_on_volts; output.neurons.len()];
        m.set_gates(&output, on);
    }
    let window = through_output.then_some(proto.output_window_cycles);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (image, _) = data.get(i).expect("index within the data set");
        let mut r = Reading {
            hidden_votes: vec![0; hidden.neurons.len()],
            output_votes: vec![0; output.neurons.len()],
            cycles: 0,
            open_cycles: 0,
            fire_cycles: Vec::new(),
            race_winners: Vec::with_capacity(races as usize),
            tied_races: 0,
            silent_races: 0,
        };
        for race in 0..races.max(1) {
            let stream = key(seed, &[salt, i as u64, race as u64]);
            let o = present(
                m,
                &proto.coding,
                image,
                stream,
                proto.read_max_cycles,
                window,
                None,
            )?;
            if let Some(w) = o.winner {
                r.hidden_votes[w] += 1;
            }
            r.race_winners.push(o.winner);
            match (o.winner, o.hidden_fired) {
                (None, true) => r.tied_races += 1,
                (None, false) => r.silent_races += 1,
                _ => {}
            }
            if let Some(c) = o.output {
                r.output_votes[c] += 1;
            }
            r.cycles += o.cycles;
            r.open_cycles += o.open_cycles.min(o.cycles);
            if o.winner.is_some() {
                r.fire_cycles.push(o.open_cycles.min(o.cycles));
            }
        }
        out.push(r);
        pb.inc(1);
    }
    Ok(out)
}

/// Labels each hidden neuron with the class it answered most often among `answers`
/// (`(winner, label)` pairs); `None` for a neuron that never answered. Ties go to the
/// smaller class.
pub fn label_neurons(
    answers: &[(Option<usize>, u8)],
    neurons: usize,
    classes: usize,
) -> Vec<Option<u8>> {
    let mut counts = vec![vec![0u64; classes]; neurons];
    for &(w, y) in answers {
        if let Some(w) = w {
            if w < neurons && (y as usize) < classes {
                counts[w][y as usize] += 1;
            }
        }
    }
    counts
        .iter()
        .map(|c| {
            let best = c.iter().copied().max().unwrap_or(0);
            if best == 0 {
                None
            } else {
                c.iter().position(|&x| x == best).map(|k| k as u8)
            }
        })
        .collect()
}

/// Trains the output layer by gating (the paper's layer 2): for each hidden neuron with a
/// label, only the gates of that class's output neuron are on (the write level) and the
/// hidden neuron's line is pulsed at the spike write level until the output neuron fires
/// (one-cycle SET of that synapse). Returns how many hidden neurons were wired.
pub fn train_output<E: Executor>(
    m: &mut Msnn<E>,
    labels: &[Option<u8>],
    max_cycles: u64,
) -> Result<usize> {
    let (hidden, output) = (m.hidden.clone(), m.output.clone());
    m.set_learning(&hidden, false);
    m.set_learning(&output, true);
    let n_out = output.neurons.len();
    let mut wired = 0;
    for (h, label) in labels.iter().enumerate() {
        let Some(c) = label.map(|c| c as usize).filter(|&c| c < n_out) else {
            continue;
        };
        let gates: Vec<f32> = (0..n_out)
            .map(|j| if j == c { m.levels.gate_on_volts } else { 0.0 })
            .collect();
        m.set_gates(&output, gates);
        let volts = m.levels.spike_write_volts;
        if m.pulse_line_until_fire(&output, h, volts, c, max_cycles)
            .is_some()
        {
            wired += 1;
        }
    }
    m.set_learning(&output, false);
    if let Some(e) = m.sim.halted() {
        bail!("the simulation stopped: {e}");
    }
    Ok(wired)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A read of three races: neuron 2 (class 2) wins the first, neuron 1 (class 1) the
    /// other two.
    fn three_races() -> Reading {
        Reading {
            hidden_votes: vec![0, 2, 1],
            race_winners: vec![Some(2), Some(1), Some(1)],
            ..Reading::default()
        }
    }

    #[test]
    fn a_prefix_of_the_races_votes_alone() {
        let labels = [Some(0), Some(1), Some(2)];
        let r = three_races();
        assert_eq!(r.class(&labels, 3), Some(1));
        assert_eq!(r.first_races(1).class(&labels, 3), Some(2));
        assert_eq!(r.first_races(1).hidden_votes, vec![0, 0, 1]);
        // One vote each: the tie goes to the class of the most-voted neuron, the smaller
        // index among equals (neuron 1).
        assert_eq!(r.first_races(2).class(&labels, 3), Some(1));
        assert_eq!(r.first_races(3), three_races());
        assert_eq!(r.first_races(9).hidden_votes, r.hidden_votes);
    }

    #[test]
    fn races_without_a_winner_cast_no_vote() {
        let r = Reading {
            hidden_votes: vec![0, 0],
            race_winners: vec![None, None],
            ..Reading::default()
        };
        assert_eq!(r.first_races(2).class(&[Some(0), Some(1)], 2), None);
    }
}
