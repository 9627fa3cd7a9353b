//! The protocol driver's primitive operations over any [`Executor`]: present a pattern,
//! run for a window or until a layer fires, rest, switch learning, amplitudes and gates,
//! and read what the neurons counted.
//!
//! Both kinds of protocol are built on these: a topology's list of steps
//! ([`super::protocol`]) and the hand-written training schedules of the experiments. They
//! act like the paper's computer-controlled pulse generator: every action is a
//! [`Payload::Control`] event injected at the current instant, and every decision is
//! taken between runs, at CLK-period boundaries, from counters every executor computes
//! identically ([`Neuron::fires`], [`Neuron::spikes`]) — so a protocol takes the same
//! path, and gives the same result, on every executor.
//!
//! Two ways of ending a rest exist because the two kinds of protocol were fixed that way:
//! a topology's `Rest` step leaves the LIA reset to take effect when the next step runs
//! (in the first batch of the next instant that is simulated, together with the
//! network's own events), while an experiment's rest also gives every idle neuron a new
//! switching cycle and then settles the instant ([`Driver::settle`]), so that what is
//! presented next reaches the network after the reset has fully propagated.

use crate::circuits::column::{self, Column};
use crate::circuits::gate_driver;
use crate::circuits::input;
use crate::circuits::lia;
use crate::circuits::neuron::{self, Neuron};
use crate::engine::event::{CompId, Control, Payload};
use crate::engine::exec::Executor;
use crate::engine::network::Network;
use crate::engine::time::Ns;
use std::sync::Arc;

/// Drives a running network through an [`Executor`] (borrowed for the driver's life).
pub struct Driver<'a> {
    /// The executor being driven.
    pub sim: &'a mut dyn Executor,
}

impl<'a> Driver<'a> {
    /// A driver of `sim`.
    pub fn new(sim: &'a mut dyn Executor) -> Self {
        Driver { sim }
    }

    /// Current simulated time, ns.
    pub fn now(&self) -> Ns {
        self.sim.now()
    }

    /// The CLK period, ns.
    pub fn period_ns(&self) -> Ns {
        self.sim.clock().period_ns
    }

    /// Injects `control` into `(dst, port)` at the current instant.
    pub fn send(&mut self, dst: CompId, port: u32, control: Control) {
        let now = self.sim.now();
        self.sim.inject(now, dst, port, Payload::Control(control));
    }

    /// Injects `control` into the control port of every neuron of `neurons`.
    pub fn send_to_neurons(&mut self, neurons: &[CompId], control: &Control) {
        for &id in neurons {
            self.send(id, neuron::IN_CONTROL, control.clone());
        }
    }

    // ---- actions ----

    /// Starts presenting `pixels` on input generator `input`, with `flips` random pixels
    /// flipped (the generator applies it from the next CLK rising edge, or now if on one).
    pub fn present(&mut self, input: CompId, pixels: &[bool], flips: u32) {
        let pixels = pixels.into();
        self.send(input, input::IN_CONTROL, Control::Present { pixels, flips });
    }

    /// Grounds every line of the input generators `inputs` (from the next rising edge).
    pub fn stop(&mut self, inputs: &[CompId]) {
        for &id in inputs {
            self.send(id, input::IN_CONTROL, Control::Stop);
        }
    }

    /// Switches the learning mode (the T3 enable line) of `neurons` (one layer). Switching
    /// it off first settles a layer-mean read rail
    /// ([`crate::circuits::circuit::ReadThreshold::LayerMean`]): the mean of the held
    /// thresholds of those of `neurons` that read at it is sent to each of them.
    pub fn set_learning(&mut self, neurons: &[CompId], on: bool) {
        if !on {
            let net = self.sim.network_of(neurons);
            let averaged: Vec<(CompId, f64)> = neurons
                .iter()
                .filter_map(|&id| net.get::<Neuron>(id).map(|n| (id, n)))
                .filter(|(_, n)| n.reads_at_layer_mean())
                .map(|(id, n)| (id, n.threshold_volts()))
                .collect();
            if !averaged.is_empty() {
                // Summed in the layer's order: the same bits on every executor.
                let mean = averaged.iter().map(|&(_, v)| v).sum::<f64>() / averaged.len() as f64;
                for &(id, _) in &averaged {
                    self.send(id, neuron::IN_CONTROL, Control::ReadRail(mean));
                }
            }
        }
        self.send_to_neurons(neurons, &Control::Learning(on));
    }

    /// Sets the spike rail of `neurons`, volts.
    pub fn set_spike_amplitude(&mut self, neurons: &[CompId], volts: f32) {
        self.send_to_neurons(neurons, &Control::SpikeAmplitude(volts));
    }

    /// Sets the pulse amplitude of input generator `input`, volts.
    pub fn set_amplitude(&mut self, input: CompId, volts: f32) {
        self.send(input, input::IN_CONTROL, Control::Amplitude(volts));
    }

    /// Sets the gate levels of a supervised layer's gate driver, volts.
    pub fn set_gates(&mut self, driver: CompId, volts: Arc<[f32]>) {
        self.send(driver, gate_driver::IN_CONTROL, Control::Gates(volts));
    }

    /// Sends one spike of `volts` into line `line` of each of `columns` at the current
    /// instant (a pulse generator on the input terminal of a presynaptic neuron).
    pub fn pulse_line(&mut self, columns: &[CompId], line: usize, volts: f32) {
        let at = self.sim.now();
        for &col in columns {
            let port = column::IN_LINE_BASE + line as u32;
            let spike = Payload::Spike {
                amplitude_volts: volts,
            };
            self.sim.inject(at, col, port, spike);
        }
    }

    /// Gives every idle neuron of `neurons` a relaxed TS device with a new switching cycle
    /// ([`Control::Rest`]); a neuron that is on or firing ignores it.
    pub fn reset_neurons(&mut self, neurons: &[CompId]) {
        self.send_to_neurons(neurons, &Control::Rest);
    }

    /// Pulses the reset line of the LIA banks `banks` (a winner-holding LIA releases its
    /// winner; one that follows its comparators ignores it).
    pub fn release_lia(&mut self, banks: &[CompId]) {
        for &id in banks {
            self.send(id, lia::IN_CONTROL, Control::Rest);
        }
    }

    // ---- time ----

    /// Runs `ns` of simulated time from now.
    pub fn run_for(&mut self, ns: Ns) {
        let end = self.sim.now().saturating_add(ns);
        self.sim.run_until(end);
    }

    /// Runs to the first CLK rising edge at or after now, then `n` more periods.
    pub fn run_cycles(&mut self, n: u64) {
        let clock = self.sim.clock();
        let end = clock.rising_at_or_after(self.sim.now()) + n * clock.period_ns;
        self.sim.run_until(end);
    }

    /// Runs to the first CLK rising edge strictly after now (one period from a rising
    /// edge).
    pub fn run_to_next_edge(&mut self) {
        let period = self.period_ns();
        let now = self.sim.now();
        let edge = (now / period).saturating_add(1).saturating_mul(period);
        self.sim.run_until(edge);
    }

    /// Runs CLK period after period ([`Driver::run_to_next_edge`]) for at most
    /// `max_cycles` periods, asking `done(sim, cycle)` after period `cycle` (from 1)
    /// whether to stop. Returns the period it stopped after, `None` if `done` never said
    /// so.
    pub fn cycles_until(
        &mut self,
        max_cycles: u64,
        mut done: impl FnMut(&mut dyn Executor, u64) -> bool,
    ) -> Option<u64> {
        for cycle in 1..=max_cycles {
            self.run_to_next_edge();
            if done(&mut *self.sim, cycle) {
                return Some(cycle);
            }
        }
        None
    }

    /// Runs period after period, at most `max_cycles`, until `neurons` together have
    /// fired `fires` more times than when called. Returns the periods run and whether
    /// the fires came.
    pub fn until_fires(&mut self, neurons: &[CompId], fires: u64, max_cycles: u64) -> (u64, bool) {
        let start: u64 = neuron_counts(self.sim.network_of(neurons), neurons, Neuron::fires)
            .iter()
            .sum();
        let reached = self.cycles_until(max_cycles, |sim, _| {
            let now: u64 = neuron_counts(sim.network_of(neurons), neurons, Neuron::fires)
                .iter()
                .sum();
            now.saturating_sub(start) >= fires
        });
        match reached {
            Some(cycles) => (cycles, true),
            None => (max_cycles, false),
        }
    }

    /// Processes everything due at the current instant — what was just injected and the
    /// network's own events — leaving the time where it is, so that what is injected next
    /// is handled after it.
    pub fn settle(&mut self) {
        self.sim.run_instant();
    }

    // ---- reads ----

    /// Fire counters of `neurons` ([`fire_counts`]).
    pub fn fires(&self, neurons: &[CompId]) -> Vec<u64> {
        fire_counts(self.sim, neurons)
    }

    /// Output-spike counters of `neurons` ([`spike_counts`]).
    pub fn spikes(&self, neurons: &[CompId]) -> Vec<u64> {
        spike_counts(self.sim, neurons)
    }

    /// Rests that reset each of `neurons`' TS devices so far ([`rest_counts`]).
    pub fn rests(&self, neurons: &[CompId]) -> Vec<u64> {
        rest_counts(self.sim, neurons)
    }
}

/// A counter of each of `neurons` (0 for an id that is not a neuron).
fn neuron_counts(net: &Network, neurons: &[CompId], f: fn(&Neuron) -> u64) -> Vec<u64> {
    let count = |&id: &CompId| net.get::<Neuron>(id).map_or(0, f);
    neurons.iter().map(count).collect()
}

/// Fire counters of `neurons` (0 for an id that is not a neuron).
pub fn fire_counts(sim: &dyn Executor, neurons: &[CompId]) -> Vec<u64> {
    neuron_counts(sim.network(), neurons, Neuron::fires)
}

/// Output-spike counters of `neurons` (0 for an id that is not a neuron).
pub fn spike_counts(sim: &dyn Executor, neurons: &[CompId]) -> Vec<u64> {
    neuron_counts(sim.network(), neurons, Neuron::spikes)
}

/// Rests that reset each of `neurons`' TS devices so far (see [`Control::Rest`]).
pub fn rest_counts(sim: &dyn Executor, neurons: &[CompId]) -> Vec<u64> {
    neuron_counts(sim.network(), neurons, Neuron::rests)
}

/// Conductances of each of `columns` (siemens; empty for an id that is not a column).
pub fn conductances(sim: &dyn Executor, columns: &[CompId]) -> Vec<Vec<f64>> {
    let net = sim.network();
    let row = |&id: &CompId| {
        net.get::<Column>(id)
            .map(|c| c.conductances().iter().map(|&g| g as f64).collect())
            .unwrap_or_default()
    };
    columns.iter().map(row).collect()
}

/// Element-wise `after − before` of two counter snapshots.
pub fn increase(after: &[u64], before: &[u64]) -> Vec<u64> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}

/// Indices of the counters that grew between two snapshots, in index order: the neurons
/// that fired first when the snapshots bracket the first period with any fire.
pub fn grown(after: &[u64], before: &[u64]) -> Vec<usize> {
    (0..after.len().min(before.len()))
        .filter(|&j| after[j] > before[j])
        .collect()
}
