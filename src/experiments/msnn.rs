//! Driving the 30×10×10 memristive SNN (paper Fig 5) through its protocol: layer 1 trained
//! without supervision (winner-take-all through the LIA), layer 2 trained by gating, then
//! inference with noise pixels.
//!
//! The driver acts like the paper's MATLAB-controlled pulse generator: it decides only at
//! CLK-period boundaries (after observing a fire it lets the refractory cycle run, which
//! carries the potentiation, then grounds the inputs), so every executor gives the same
//! answer.
//!
//! **Learning on and off.** Learning is a circuit mode, not a flag in the physics:
//! * *write mode*: input pulses at 1.6 V, spikes at 2.0 V, the depression feedback (T3)
//!   enabled — SET happens against a grounded node 1 (T1) and for layer 2 during the
//!   pulse, RESET when T3 lifts node 1;
//! * *read mode*: the input generator and the spike rail switch to a read level (1.45 V,
//!   below the SET threshold of 1.5 V, and node 1 can then never float below −1.55 V, the
//!   RESET threshold) and one AND input (a learning-enable line) disables G2/T3. No
//!   synapse can then see a programming voltage — reads are non-destructive.
//!
//! **Rests.** Between presentations the inputs are grounded for several leak time
//! constants of the TS devices and every idle neuron then starts a new switching cycle
//! ([`Msnn::rest`]): each presentation is a fresh stochastic race, as each trial of the
//! paper's Fig 2 statistics is. Without it, a neuron that never fires would keep the
//! switching point drawn at power-up for the whole experiment, and the cycle-to-cycle
//! randomness the paper credits with suppressing the greedy neuron would act only on
//! neurons that already win.

use runtime::components::column::{self, Column};
use runtime::components::gate_driver;
use runtime::components::input;
use runtime::components::lia;
use runtime::components::neuron::{self, Neuron};
use runtime::event::{CompId, Control, Payload};
use runtime::exec::reference::Simulation;
use runtime::time::{Clock, Ns};
use runtime::topology::built::LayerIds;
use std::sync::Arc;

/// Voltages of the write and read modes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levels {
    /// Input pulse amplitude while training, volts (paper: 1.6 V).
    pub input_write_volts: f32,
    /// Spike amplitude while training layer 2, volts (paper: 2.0 V).
    pub spike_write_volts: f32,
    /// Read level of inputs and spikes, volts (below the SET threshold).
    pub read_volts: f32,
    /// Gate "1", volts (paper: 3.0 V).
    pub gate_on_volts: f32,
}

impl Default for Levels {
    fn default() -> Self {
        Levels {
            input_write_volts: 1.6,
            spike_write_volts: 2.0,
            read_volts: 1.45,
            gate_on_volts: 3.0,
        }
    }
}

/// A running 30×10×10-style network (any sizes).
pub struct Msnn {
    /// The simulation (reference executor).
    pub sim: Simulation,
    /// The input generator.
    pub input: CompId,
    /// Hidden (winner-take-all) layer.
    pub hidden: LayerIds,
    /// Output (supervised) layer.
    pub output: LayerIds,
    /// Voltages of the modes.
    pub levels: Levels,
    /// Cycles of rest (inputs grounded) after each presentation.
    pub rest_cycles: u64,
}

/// What a read of one stimulus gave ([`Msnn::read`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// Hidden spikes, summed over the races.
    pub hidden: Vec<u64>,
    /// Output spikes, summed over the races.
    pub output: Vec<u64>,
    /// Layer 1's votes: per hidden neuron, the races it won (first to fire) — or, for a
    /// read over a fixed window, its spikes.
    pub votes: Vec<u64>,
    /// CLK periods the stimulus was presented, summed over the races.
    pub cycles: u64,
    /// Races (presentations) read.
    pub races: u32,
}

/// How far the largest count is ahead of the second largest.
pub fn leads_by(counts: &[u64]) -> u64 {
    let mut top = [0u64; 2];
    for &c in counts {
        if c > top[0] {
            top = [c, top[0]];
        } else if c > top[1] {
            top[1] = c;
        }
    }
    top[0] - top[1]
}

/// Outcome of one presentation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Presentation {
    /// Neurons of the watched layer that fired, in index order (empty: none in time).
    pub fired: Vec<usize>,
    /// Cycles the pattern was applied.
    pub cycles: u64,
}

impl Msnn {
    fn clock(&self) -> Clock {
        self.sim.net.clock
    }

    fn period(&self) -> Ns {
        self.clock().period_ns
    }

    /// The next period boundary at or after now.
    fn boundary(&self) -> Ns {
        self.clock().rising_at_or_after(self.sim.now())
    }

    fn run_cycles(&mut self, n: u64) {
        let end = self.boundary() + n * self.period();
        self.sim.run_until(end);
    }

    fn send(&mut self, dst: CompId, port: u32, c: Control) {
        let at = self.sim.now();
        self.sim.inject(at, dst, port, Payload::Control(c));
    }

    /// Fire counters of a layer's neurons.
    pub fn fires(&self, layer: &LayerIds) -> Vec<u64> {
        layer
            .neurons
            .iter()
            .map(|&id| self.sim.net.get::<Neuron>(id).map_or(0, Neuron::fires))
            .collect()
    }

    /// Spike counters of a layer's neurons.
    pub fn spikes(&self, layer: &LayerIds) -> Vec<u64> {
        layer
            .neurons
            .iter()
            .map(|&id| self.sim.net.get::<Neuron>(id).map_or(0, Neuron::spikes))
            .collect()
    }

    /// Conductances of a layer (row `j` = the column into neuron `j`), siemens.
    pub fn weights(&self, layer: &LayerIds) -> Vec<Vec<f64>> {
        layer
            .columns
            .iter()
            .map(|&id| {
                self.sim
                    .net
                    .get::<Column>(id)
                    .map(|c| c.conductances().iter().map(|&g| g as f64).collect())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Sets a layer's learning mode (the T3 enable line).
    pub fn set_learning(&mut self, layer: &LayerIds, on: bool) {
        for &id in &layer.neurons.clone() {
            self.send(id, neuron::IN_CONTROL, Control::Learning(on));
        }
    }

    /// Sets the spike rail of a layer's neurons.
    pub fn set_spike_amplitude(&mut self, layer: &LayerIds, volts: f32) {
        for &id in &layer.neurons.clone() {
            self.send(id, neuron::IN_CONTROL, Control::SpikeAmplitude(volts));
        }
    }

    /// Sets the input amplitude.
    pub fn set_input_amplitude(&mut self, volts: f32) {
        self.send(self.input, input::IN_CONTROL, Control::Amplitude(volts));
    }

    /// Sets the gate levels of a supervised layer.
    pub fn set_gates(&mut self, layer: &LayerIds, levels: Vec<f32>) {
        if let Some(d) = layer.gate_driver {
            self.send(
                d,
                gate_driver::IN_CONTROL,
                Control::Gates(Arc::from(levels)),
            );
        }
    }

    /// The rest between two presentations: inputs grounded for `rest_cycles` periods, then
    /// every idle neuron of both layers starts from a relaxed TS device with a new switching
    /// cycle ([`Control::Rest`]) and the reset line of a winner-holding LIA releases it. The protocol makes the rest several cluster-leak time
    /// constants long, so this only discards the last percent of the decayed state; what it
    /// adds is the fresh switching point, which a device that never fired would otherwise
    /// keep for the whole experiment. Returns how many neurons were reset.
    pub fn rest(&mut self) -> usize {
        self.run_cycles(self.rest_cycles);
        let ids: Vec<CompId> = self
            .hidden
            .neurons
            .iter()
            .chain(&self.output.neurons)
            .copied()
            .collect();
        let rests = |m: &Self| -> u64 {
            ids.iter()
                .filter_map(|&id| m.sim.net.get::<Neuron>(id))
                .map(Neuron::rests)
                .sum()
        };
        let before = rests(self);
        for &id in &ids {
            self.send(id, neuron::IN_CONTROL, Control::Rest);
        }
        // The reset line of a winner-holding LIA (a no-op for one that follows).
        let banks: Vec<CompId> = self
            .hidden
            .lia
            .iter()
            .chain(&self.output.lia)
            .copied()
            .collect();
        for id in banks {
            self.send(id, lia::IN_CONTROL, Control::Rest);
        }
        self.sim.run_instant();
        (rests(self) - before) as usize
    }

    /// Presents `pixels` (with `flips` noise pixels) until `fires` fire events are seen in
    /// `layer` (counting only neuron `target` if given), or `max_cycles` elapse. The cycle
    /// after the last fire — the refractory cycle that carries the potentiation — still
    /// receives the pulses; then the inputs are grounded for the rest period.
    pub fn present_until_fire(
        &mut self,
        pixels: &[bool],
        flips: u32,
        layer: &LayerIds,
        target: Option<usize>,
        fires: u64,
        max_cycles: u64,
    ) -> Presentation {
        self.run_cycles(0);
        let layer = layer.clone();
        let before = self.fires(&layer);
        self.send(
            self.input,
            input::IN_CONTROL,
            Control::Present {
                pixels: pixels.into(),
                flips,
            },
        );
        let mut cycles = 0;
        let mut fired = Vec::new();
        while cycles < max_cycles {
            self.run_cycles(1);
            cycles += 1;
            let now = self.fires(&layer);
            let new: Vec<usize> = (0..now.len()).filter(|&j| now[j] > before[j]).collect();
            let count: u64 = match target {
                Some(t) => now[t] - before[t],
                None => now.iter().zip(&before).map(|(a, b)| a - b).sum(),
            };
            if count >= fires {
                fired = new;
                // The refractory cycle: T1 grounds node 1 while the inputs still pulse.
                self.run_cycles(1);
                cycles += 1;
                break;
            }
        }
        self.send(self.input, input::IN_CONTROL, Control::Stop);
        self.rest();
        Presentation { fired, cycles }
    }

    /// Presents `pixels` in trials of 1, 2, 3 … up to `max_pulses` pulses, each trial
    /// followed by the rest period (every idle neuron then starts a new switching cycle),
    /// until a trial has `fires` fire events in `layer` — the methods' "the input pulse
    /// number … increases gradually until a fire event is observed" read literally. A
    /// trial ends at its fire; the cycle after it (the refractory cycle, which carries the
    /// potentiation) still receives the pulses. `cycles` counts every period the pattern
    /// was applied.
    pub fn present_in_pulse_trials(
        &mut self,
        pixels: &[bool],
        layer: &LayerIds,
        fires: u64,
        max_pulses: u64,
    ) -> Presentation {
        let mut cycles = 0;
        for pulses in 1..=max_pulses {
            // One trial is a presentation of at most `pulses` periods, with its rest.
            let trial = self.present_until_fire(pixels, 0, layer, None, fires, pulses);
            cycles += trial.cycles;
            if !trial.fired.is_empty() {
                return Presentation {
                    fired: trial.fired,
                    cycles,
                };
            }
        }
        Presentation {
            fired: Vec::new(),
            cycles,
        }
    }

    /// Drives line `line` of a layer's columns directly with one pulse of `volts` per
    /// CLK-high phase (the paper trains layer 2 with its pulse generator on the input
    /// terminal of the selected hidden neuron) until neuron `target` of the layer fires or
    /// `max_cycles` elapse; then rests. Returns the cycles used, `None` if it never fired.
    pub fn pulse_line_until_fire(
        &mut self,
        layer: &LayerIds,
        line: usize,
        volts: f32,
        target: usize,
        max_cycles: u64,
    ) -> Option<u64> {
        self.run_cycles(0);
        let layer = layer.clone();
        let before = self.fires(&layer)[target];
        let mut result = None;
        for c in 1..=max_cycles {
            let at = self.sim.now();
            for &col in &layer.columns {
                self.sim.inject(
                    at,
                    col,
                    column::IN_LINE_BASE + line as u32,
                    Payload::Spike {
                        amplitude_volts: volts,
                    },
                );
            }
            self.run_cycles(1);
            if self.fires(&layer)[target] > before {
                result = Some(c);
                break;
            }
        }
        self.rest();
        result
    }

    /// Presents `pixels` for `cycles` periods and returns the spikes of both layers
    /// during that window; then grounds the inputs for the rest period.
    pub fn count_spikes(
        &mut self,
        pixels: &[bool],
        flips: u32,
        cycles: u64,
    ) -> (Vec<u64>, Vec<u64>) {
        self.run_cycles(0);
        let (h0, o0) = (
            self.spikes(&self.hidden.clone()),
            self.spikes(&self.output.clone()),
        );
        self.send(
            self.input,
            input::IN_CONTROL,
            Control::Present {
                pixels: pixels.into(),
                flips,
            },
        );
        self.run_cycles(cycles);
        let (h1, o1) = (
            self.spikes(&self.hidden.clone()),
            self.spikes(&self.output.clone()),
        );
        self.send(self.input, input::IN_CONTROL, Control::Stop);
        self.rest();
        (
            h1.iter().zip(&h0).map(|(a, b)| a - b).collect(),
            o1.iter().zip(&o0).map(|(a, b)| a - b).collect(),
        )
    }
}

impl Msnn {
    /// Reads `pixels` (already noisy: the same stimulus for every race) in `races`
    /// presentations of `cycles` periods, each followed by the rest, and returns the spikes
    /// of both layers and layer 1's votes summed over the races. With a winner-holding LIA
    /// each presentation is one race whose first fire decides which hidden neuron drives
    /// layer 2. With `until_output_fire` each presentation ends at the first fire of the
    /// output layer (or after `cycles`): the controller reads the race through both layers
    /// and stops, as training stops at a fire.
    ///
    /// With `lead > 0` the read stops early, as soon as one output neuron has `lead` more
    /// spikes than any other (`races` is then the most it takes): the controller reads
    /// until the answer is clear.
    pub fn read(
        &mut self,
        pixels: &[bool],
        races: u32,
        cycles: u64,
        until_output_fire: bool,
        lead: u32,
    ) -> Reading {
        let mut r = Reading {
            hidden: vec![0; self.hidden.neurons.len()],
            output: vec![0; self.output.neurons.len()],
            votes: vec![0; self.hidden.neurons.len()],
            cycles: 0,
            races: 0,
        };
        let add = |a: &mut Vec<u64>, b: &[u64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        for _ in 0..races.max(1) {
            let race = if until_output_fire {
                self.race_until_output_fire(pixels, cycles)
            } else {
                let (h, o) = self.count_spikes(pixels, 0, cycles);
                Reading {
                    votes: h.clone(),
                    hidden: h,
                    output: o,
                    cycles,
                    races: 1,
                }
            };
            add(&mut r.hidden, &race.hidden);
            add(&mut r.output, &race.output);
            add(&mut r.votes, &race.votes);
            r.cycles += race.cycles;
            r.races += 1;
            if lead > 0 && leads_by(&r.output) >= u64::from(lead) {
                break;
            }
        }
        r
    }

    /// One race: presents `pixels` until an output neuron fires (its spike, one CLK phase
    /// later, included) or `max_cycles` periods pass; then grounds the inputs for the rest
    /// period. The reading's votes are the hidden neuron that fired first (none if two did
    /// in the same period, or none fired).
    pub fn race_until_output_fire(&mut self, pixels: &[bool], max_cycles: u64) -> Reading {
        self.run_cycles(0);
        let (hidden, output) = (self.hidden.clone(), self.output.clone());
        let (h0, o0) = (self.spikes(&hidden), self.spikes(&output));
        let hf0 = self.fires(&hidden);
        let fires0: u64 = self.fires(&output).iter().sum();
        self.send(
            self.input,
            input::IN_CONTROL,
            Control::Present {
                pixels: pixels.into(),
                flips: 0,
            },
        );
        let mut votes = vec![0; hidden.neurons.len()];
        let mut decided = false;
        let mut presented = 0;
        while presented < max_cycles {
            self.run_cycles(1);
            presented += 1;
            if !decided {
                let hf = self.fires(&hidden);
                let first: Vec<usize> = (0..hf.len()).filter(|&j| hf[j] > hf0[j]).collect();
                if let [j] = first[..] {
                    votes[j] = 1;
                }
                decided = !first.is_empty();
            }
            if self.fires(&output).iter().sum::<u64>() > fires0 {
                // The fire's spike comes in the next CLK-high phase.
                self.run_cycles(1);
                presented += 1;
                break;
            }
        }
        let (h1, o1) = (self.spikes(&hidden), self.spikes(&output));
        self.send(self.input, input::IN_CONTROL, Control::Stop);
        self.rest();
        Reading {
            hidden: h1.iter().zip(&h0).map(|(a, b)| a - b).collect(),
            output: o1.iter().zip(&o0).map(|(a, b)| a - b).collect(),
            votes,
            cycles: presented,
            races: 1,
        }
    }
}

/// Index of the largest count; `None` when all are zero or the maximum is shared.
pub fn winner(counts: &[u64]) -> Option<usize> {
    let max = *counts.iter().max()?;
    if max == 0 || counts.iter().filter(|&&c| c == max).count() > 1 {
        return None;
    }
    counts.iter().position(|&c| c == max)
}
