//! Driving the 30×10×10 memristive SNN (paper Fig 5) through its protocol: layer 1 trained
//! without supervision (winner-take-all through the LIA), layer 2 trained by gating, then
//! inference with noise pixels.
//!
//! The schedule is built on the runtime's protocol driver ([`runtime::model::driver`]),
//! which acts like the paper's MATLAB-controlled pulse generator: it decides only at
//! CLK-period boundaries (after observing a fire this schedule lets the refractory cycle
//! run, which carries the potentiation, then grounds the inputs), so every executor gives
//! the same answer.
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

use runtime::circuits::neuron::Neuron;
use runtime::engine::event::CompId;
use runtime::engine::exec::reference::Simulation;
use runtime::engine::exec::Executor;
use runtime::engine::time::Ns;
use runtime::model::driver::{conductances, fire_counts, grown, increase, spike_counts, Driver};
use runtime::model::topology::built::LayerIds;
use std::sync::Arc;

/// Voltages of the write and read modes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriveLevels {
    /// Input pulse amplitude while training, volts (paper: 1.6 V).
    pub input_write_volts: f32,
    /// Spike amplitude while training layer 2, volts (paper: 2.0 V).
    pub spike_write_volts: f32,
    /// Read level of inputs and spikes, volts (below the SET threshold).
    pub read_volts: f32,
    /// Gate "1", volts (paper: 3.0 V).
    pub gate_on_volts: f32,
}

impl Default for DriveLevels {
    fn default() -> Self {
        DriveLevels {
            input_write_volts: 1.6,
            spike_write_volts: 2.0,
            read_volts: 1.45,
            gate_on_volts: 3.0,
        }
    }
}

/// A running 30×10×10-style network (any sizes), on any executor `E`.
pub struct Msnn<E: Executor = Simulation> {
    /// The simulation.
    pub sim: E,
    /// The input generator.
    pub input: CompId,
    /// Hidden (winner-take-all) layer.
    pub hidden: LayerIds,
    /// Output (supervised) layer.
    pub output: LayerIds,
    /// Voltages of the modes.
    pub levels: DriveLevels,
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
    /// Per race that ended at an output fire: the time from the stimulus reaching the
    /// lines (the CLK rising edge after it was presented) to the first output fire, ns.
    pub latencies_ns: Vec<Ns>,
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

impl<E: Executor> Msnn<E> {
    /// The driver of the simulation.
    fn driver(&mut self) -> Driver<'_> {
        Driver::new(&mut self.sim)
    }

    /// Fire counters of a layer's neurons.
    pub fn fires(&self, layer: &LayerIds) -> Vec<u64> {
        fire_counts(&self.sim, &layer.neurons)
    }

    /// Spike counters of a layer's neurons.
    pub fn spikes(&self, layer: &LayerIds) -> Vec<u64> {
        spike_counts(&self.sim, &layer.neurons)
    }

    /// Conductances of a layer (row `j` = the column into neuron `j`), siemens.
    pub fn weights(&self, layer: &LayerIds) -> Vec<Vec<f64>> {
        conductances(&self.sim, &layer.columns)
    }

    /// Sets a layer's learning mode (the T3 enable line).
    pub fn set_learning(&mut self, layer: &LayerIds, on: bool) {
        self.driver().set_learning(&layer.neurons, on);
    }

    /// Sets the spike rail of a layer's neurons.
    pub fn set_spike_amplitude(&mut self, layer: &LayerIds, volts: f32) {
        self.driver().set_spike_amplitude(&layer.neurons, volts);
    }

    /// Sets the input amplitude.
    pub fn set_input_amplitude(&mut self, volts: f32) {
        let input = self.input;
        self.driver().set_amplitude(input, volts);
    }

    /// Sets the gate levels of a supervised layer.
    pub fn set_gates(&mut self, layer: &LayerIds, levels: Vec<f32>) {
        if let Some(d) = layer.gate_driver {
            self.driver().set_gates(d, Arc::from(levels));
        }
    }

    /// Both layers' neurons, hidden first.
    fn all_neurons(&self) -> Vec<CompId> {
        let both = self.hidden.neurons.iter().chain(&self.output.neurons);
        both.copied().collect()
    }

    /// The rest between two presentations: inputs grounded for `rest_cycles` periods, then
    /// every idle neuron of both layers starts from a relaxed TS device with a new switching
    /// cycle ([`Driver::reset_neurons`]) and the reset line of a winner-holding LIA releases
    /// it; the instant is settled before anything else is presented. The protocol makes
    /// the rest several cluster-leak time constants long, so this only discards the last
    /// percent of the decayed state; what it adds is the fresh switching point, which a
    /// device that never fired would otherwise keep for the whole experiment. Returns how
    /// many neurons were reset.
    pub fn rest(&mut self) -> usize {
        let ids = self.all_neurons();
        let banks: Vec<CompId> = self
            .hidden
            .lia
            .iter()
            .chain(&self.output.lia)
            .copied()
            .collect();
        let rest_cycles = self.rest_cycles;
        let mut d = self.driver();
        d.run_cycles(rest_cycles);
        let before: u64 = d.rests(&ids).iter().sum();
        d.reset_neurons(&ids);
        // The reset line of a winner-holding LIA (a no-op for one that follows).
        d.release_lia(&banks);
        d.settle();
        let after: u64 = d.rests(&ids).iter().sum();
        (after - before) as usize
    }

    /// Grounds the inputs, then rests.
    fn stop_and_rest(&mut self) {
        let input = self.input;
        self.driver().stop(&[input]);
        self.rest();
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
        let input = self.input;
        let neurons = &layer.neurons;
        let mut d = self.driver();
        d.run_cycles(0);
        let before = d.fires(neurons);
        d.present(input, pixels, flips);
        let mut fired = Vec::new();
        let stopped = d.cycles_until(max_cycles, |sim, _| {
            let now = fire_counts(sim, neurons);
            let count: u64 = match target {
                Some(t) => now[t] - before[t],
                None => increase(&now, &before).iter().sum(),
            };
            if count >= fires {
                fired = grown(&now, &before);
            }
            count >= fires
        });
        let cycles = match stopped {
            Some(c) => {
                // The refractory cycle: T1 grounds node 1 while the inputs still pulse.
                d.run_cycles(1);
                c + 1
            }
            None => max_cycles,
        };
        self.stop_and_rest();
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
        let (columns, watched) = (&layer.columns, &layer.neurons[target..=target]);
        let mut d = self.driver();
        d.run_cycles(0);
        let before = d.fires(watched)[0];
        if max_cycles > 0 {
            d.pulse_line(columns, line, volts);
        }
        let result = d.cycles_until(max_cycles, |sim, cycle| {
            let fired = fire_counts(sim, watched)[0] > before;
            if !fired && cycle < max_cycles {
                // The next period's pulse.
                Driver::new(sim).pulse_line(columns, line, volts);
            }
            fired
        });
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
        let (input, hidden, output) = (self.input, &self.hidden.neurons, &self.output.neurons);
        let mut d = Driver::new(&mut self.sim);
        d.run_cycles(0);
        let (h0, o0) = (d.spikes(hidden), d.spikes(output));
        d.present(input, pixels, flips);
        d.run_cycles(cycles);
        let (h1, o1) = (d.spikes(hidden), d.spikes(output));
        self.stop_and_rest();
        (increase(&h1, &h0), increase(&o1, &o0))
    }
}

impl<E: Executor> Msnn<E> {
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
            latencies_ns: Vec::new(),
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
                    latencies_ns: Vec::new(),
                }
            };
            r.latencies_ns.extend_from_slice(&race.latencies_ns);
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
        let (input, hidden, output) = (self.input, &self.hidden.neurons, &self.output.neurons);
        let mut d = Driver::new(&mut self.sim);
        d.run_cycles(0);
        let (h0, o0) = (d.spikes(hidden), d.spikes(output));
        let hf0 = d.fires(hidden);
        let out_fires0 = d.fires(output);
        let fires0: u64 = out_fires0.iter().sum();
        let start = clock_rising_at_or_after(&d);
        d.present(input, pixels, 0);
        let mut votes = vec![0; hidden.len()];
        let mut decided = false;
        let stopped = d.cycles_until(max_cycles, |sim, _| {
            if !decided {
                let first = grown(&fire_counts(sim, hidden), &hf0);
                if let [j] = first[..] {
                    votes[j] = 1;
                }
                decided = !first.is_empty();
            }
            fire_counts(sim, output).iter().sum::<u64>() > fires0
        });
        let presented = match stopped {
            Some(c) => {
                // The fire's spike comes in the next CLK-high phase.
                d.run_cycles(1);
                c + 1
            }
            None => max_cycles,
        };
        let (h1, o1) = (d.spikes(hidden), d.spikes(output));
        // The first output fire: the earliest last fire of the output neurons that fired
        // (a neuron cannot fire twice within the one period after the check that stopped
        // the race: its refractory period is longer).
        let first_fire = stopped.and_then(|_| {
            grown(&fire_counts(&self.sim, output), &out_fires0)
                .iter()
                .filter_map(|&j| {
                    self.sim
                        .network()
                        .get::<Neuron>(output[j])
                        .and_then(Neuron::last_fire_ns)
                })
                .min()
        });
        self.stop_and_rest();
        Reading {
            hidden: increase(&h1, &h0),
            output: increase(&o1, &o0),
            votes,
            cycles: presented,
            races: 1,
            latencies_ns: first_fire
                .map(|t| t.saturating_sub(start))
                .into_iter()
                .collect(),
        }
    }
}

/// The CLK rising edge at or after the driver's time: when a pattern presented now
/// reaches the lines.
fn clock_rising_at_or_after(d: &Driver<'_>) -> Ns {
    let p = d.period_ns();
    d.now().div_ceil(p) * p
}

/// Index of the largest count; `None` when all are zero or the maximum is shared.
pub fn winner(counts: &[u64]) -> Option<usize> {
    let max = *counts.iter().max()?;
    if max == 0 || counts.iter().filter(|&&c| c == max).count() > 1 {
        return None;
    }
    counts.iter().position(|&c| c == max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::engine::exec::sharded::ShardedSimulation;
    use runtime::engine::network::Network;
    use runtime::model::topology::build::build;
    use runtime::model::topology::load;
    use runtime::model::topology::schema::Inhibition;
    use std::path::Path;

    /// The 30×10×10 network (seed 1, no probes), its patterns' pixels and a start of its
    /// executor.
    fn network<E: Executor>(start: impl Fn(Network) -> E) -> (Msnn<E>, Vec<Vec<bool>>) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/msnn_30x10x10.ron");
        let checked = load(&path)
            .expect("topology")
            .edit(|t| t.probes.clear())
            .expect("checked");
        let built = build(&checked, 1).expect("built");
        let layer = |f: &dyn Fn(&Inhibition) -> bool| {
            let spec = checked.topology().layers.iter().find(|l| f(&l.inhibition));
            built.layers[&spec.expect("layer").name].clone()
        };
        let hidden = layer(&|i| *i == Inhibition::Lia);
        let output = layer(&|i| matches!(i, Inhibition::Supervised(_)));
        let patterns = checked.patterns().cloned().expect("patterns");
        let pixels = patterns
            .items
            .iter()
            .map(|p| patterns.get(&p.name).unwrap());
        let msnn = Msnn {
            input: *built.inputs.values().next().expect("input"),
            sim: start(built.builder.build()),
            hidden,
            output,
            levels: DriveLevels::default(),
            rest_cycles: 20,
        };
        (msnn, pixels.collect())
    }

    /// What a short Fig 5-like schedule gave.
    #[derive(Debug, PartialEq)]
    struct Outcome {
        presentations: Vec<Presentation>,
        layer2_cycles: Vec<Option<u64>>,
        readings: Vec<Reading>,
        weights: Vec<Vec<f64>>,
        end_ns: u64,
        events: u64,
    }

    /// Layer 1 unsupervised, layer 2 gated, then race reads and a window read, on
    /// three patterns.
    fn short_run<E: Executor>(m: &mut Msnn<E>, patterns: &[Vec<bool>]) -> Outcome {
        let (hidden, output) = (m.hidden.clone(), m.output.clone());
        let mut presentations = Vec::new();
        m.set_input_amplitude(m.levels.input_write_volts);
        m.set_learning(&hidden, true);
        for px in &patterns[..3] {
            presentations.push(m.present_until_fire(px, 0, &hidden, None, 1, 40));
        }
        presentations.push(m.present_in_pulse_trials(&patterns[0], &hidden, 1, 6));
        m.set_learning(&hidden, false);
        m.set_learning(&output, true);
        let mut layer2_cycles = Vec::new();
        for (k, p) in presentations[..3].iter().enumerate() {
            let gates = (0..output.neurons.len())
                .map(|j| if j == k { m.levels.gate_on_volts } else { 0.0 })
                .collect();
            m.set_gates(&output, gates);
            let h = p.fired.first().copied().unwrap_or(0);
            let volts = m.levels.spike_write_volts;
            layer2_cycles.push(m.pulse_line_until_fire(&output, h, volts, k, 40));
        }
        m.set_learning(&output, false);
        m.set_gates(&output, vec![m.levels.gate_on_volts; output.neurons.len()]);
        m.set_input_amplitude(m.levels.read_volts);
        m.set_spike_amplitude(&output, m.levels.read_volts);
        let mut readings = Vec::new();
        for px in &patterns[..3] {
            readings.push(m.read(px, 2, 30, true, 0));
            readings.push(m.read(px, 1, 8, false, 0));
        }
        let mut weights = m.weights(&hidden);
        weights.extend(m.weights(&output));
        Outcome {
            presentations,
            layer2_cycles,
            readings,
            weights,
            end_ns: m.sim.now(),
            events: m.sim.handled_events(),
        }
    }

    #[test]
    fn a_short_fig5_schedule_is_the_same_on_reference_and_sharded() {
        let (mut reference, patterns) = network(Simulation::new);
        let expected = short_run(&mut reference, &patterns);
        assert!(
            expected.presentations.iter().any(|p| !p.fired.is_empty()),
            "something fires: {expected:?}"
        );
        for workers in [1, 2] {
            let (mut sharded, _) = network(|net| ShardedSimulation::new(net, workers));
            assert_eq!(
                short_run(&mut sharded, &patterns),
                expected,
                "{workers} workers"
            );
        }
    }
}
