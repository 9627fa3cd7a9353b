//! Timestamped events and their deterministic order.
//!
//! Components exchange events only. An event is delivered at `(time, delta)`: events a
//! component emits while handling an event at time `t` are delivered at the same `t` with
//! `delta + 1` (zero-latency wires, like the lateral-inhibition path); self-scheduled
//! wake-ups at a later time `t'` are delivered at `(t', 0)`.
//!
//! **Order.** All events of one `(time, delta)` form a batch. Within a batch a component
//! receives its events sorted by `(src, seq)`, where `seq` counts the source's emissions.
//! Components share no state, so this per-component order — the same on every executor —
//! makes results independent of how components are scheduled or partitioned.

use crate::engine::time::Ns;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Index of a component in a network.
pub type CompId = u32;
/// A component's input or output port number (meaning documented per component).
pub type Port = u32;

/// What an event carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    /// A self-scheduled wake-up; the tag is the component's own.
    Wake {
        /// Component-defined tag (e.g. a generation counter for cancellable predictions).
        tag: u64,
    },
    /// From the next CLK-high phase on, every line pulses with these amplitudes in each
    /// CLK-high phase (volts per line; 0 = grounded).
    Pattern(Arc<LinePattern>),
    /// A spike on the receiving port's line: a pulse for the current CLK-high phase.
    Spike {
        /// Pulse amplitude, volts.
        amplitude_volts: f32,
    },
    /// Level of a gate line (1T1R access gates), volts.
    Gate {
        /// Gate voltage, volts.
        volts: f32,
    },
    /// The synapse column seen from node 1 as a Thevenin source: `v_high_volts` during
    /// CLK-high phases, 0 V during CLK-low phases, behind `g_siemens`.
    ColumnSide {
        /// Open-circuit voltage during CLK-high phases, volts.
        v_high_volts: f64,
        /// Source conductance, siemens.
        g_siemens: f64,
    },
    /// The neuron seen from node 1 (TS branch, T1, T3, leakage) as a Thevenin source.
    NeuronSide {
        /// Open-circuit voltage, volts.
        v_volts: f64,
        /// Source conductance, siemens.
        g_siemens: f64,
    },
    /// Neuron → its column: "I cannot switch while node 1 stays at or below
    /// `v_cert_volts` in CLK-high phases (with my side `v_n_volts` behind `g_n_siemens`)".
    /// The column may then hold back such sources and send them later as one
    /// [`Payload::ColumnHistory`].
    Dormant {
        /// Node-1 high-phase voltage the neuron was proved silent under, volts.
        v_cert_volts: f64,
        /// The neuron side's open-circuit voltage, volts.
        v_n_volts: f64,
        /// The neuron side's conductance, siemens.
        g_n_siemens: f64,
    },
    /// Column → neuron: column sources held back while the neuron was dormant, in time
    /// order: `(time ns, v_high volts, g siemens)`, each as a [`Payload::ColumnSide`] at
    /// that time would have said.
    ColumnHistory(Arc<[(Ns, f64, f64)]>),
    /// A lateral-inhibition level, volts.
    Level {
        /// Level, volts.
        volts: f32,
    },
    /// A protocol command.
    Control(Control),
}

/// Line amplitudes for the CLK-high phases (volts per line; 0 = grounded), with what
/// every receiving column needs of them computed once, by the sender: the driven
/// (non-zero) lines in ascending order and their amplitude sums. A layer's columns all
/// receive the same pattern, so this is done once per pattern rather than once per
/// column. Serialised as the amplitudes alone (the rest is re-derived).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<f32>", into = "Vec<f32>")]
pub struct LinePattern {
    amplitudes: Arc<[f32]>,
    driven: Box<[u32]>,
    driven_volts: Box<[f64]>,
    sums: AmplitudeSums,
}

/// Sums over a pattern's driven lines, each taken in line order in `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AmplitudeSums {
    /// Σ A, volts.
    pub sum_volts: f64,
    /// Σ A², volts².
    pub sum_sq_volts2: f64,
    /// The lowest amplitude, volts (0 if some line is grounded).
    pub lo_volts: f64,
    /// The highest amplitude, volts (0 if some line is grounded).
    pub hi_volts: f64,
}

impl LinePattern {
    /// The pattern of these amplitudes (volts per line).
    pub fn new(amplitudes: Arc<[f32]>) -> Self {
        let driven: Box<[u32]> = amplitudes
            .iter()
            .enumerate()
            .filter(|(_, &a)| a != 0.0)
            .map(|(i, _)| i as u32)
            .collect();
        let driven_volts: Box<[f64]> = driven
            .iter()
            .map(|&i| amplitudes[i as usize] as f64)
            .collect();
        let (mut sum, mut sq, mut lo, mut hi) = (0.0f64, 0.0f64, f64::INFINITY, f64::NEG_INFINITY);
        for &a in driven_volts.iter() {
            sum += a;
            sq += a * a;
            lo = lo.min(a);
            hi = hi.max(a);
        }
        if driven.len() < amplitudes.len() {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        LinePattern {
            amplitudes,
            driven,
            driven_volts,
            sums: AmplitudeSums {
                sum_volts: sum,
                sum_sq_volts2: sq,
                lo_volts: lo,
                hi_volts: hi,
            },
        }
    }

    /// An equal pattern that shares no memory with this one (its amplitudes too), for
    /// another thread to count references on without contending with this one's.
    pub fn deep_copy(&self) -> Self {
        LinePattern {
            amplitudes: Arc::from(&self.amplitudes[..]),
            driven: self.driven.clone(),
            driven_volts: self.driven_volts.clone(),
            sums: self.sums,
        }
    }

    /// The amplitudes, volts per line.
    pub fn amplitudes(&self) -> &Arc<[f32]> {
        &self.amplitudes
    }

    /// The driven (non-zero) lines, ascending.
    pub fn driven(&self) -> &[u32] {
        &self.driven
    }

    /// The driven lines' amplitudes, in the order of [`Self::driven`], volts.
    pub fn driven_volts(&self) -> &[f64] {
        &self.driven_volts
    }

    /// Sums over the driven lines.
    pub fn sums(&self) -> &AmplitudeSums {
        &self.sums
    }
}

impl From<Vec<f32>> for LinePattern {
    fn from(amplitudes: Vec<f32>) -> Self {
        LinePattern::new(amplitudes.into())
    }
}

impl From<LinePattern> for Vec<f32> {
    fn from(p: LinePattern) -> Self {
        p.amplitudes.to_vec()
    }
}

/// Commands from a protocol driver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Control {
    /// Input generator: from the next CLK-high phase on, pulse the lines whose pixel is
    /// set, after flipping `flips` distinct random pixels (noise).
    Present {
        /// One entry per input line: black (true) pulses, white (false) is grounded.
        pixels: Arc<[bool]>,
        /// Number of pixels to flip (noise pixels).
        flips: u32,
    },
    /// Input generator: ground all lines from the next CLK-high phase on.
    Stop,
    /// Input generator: pulse amplitude for black pixels, volts.
    Amplitude(f32),
    /// Gate driver: levels of its gate lines, volts.
    Gates(Arc<[f32]>),
    /// Neuron: enable (true) or disable the depression feedback (T3) — learning mode.
    Learning(bool),
    /// Neuron: output spike amplitude (the spike rail), volts.
    SpikeAmplitude(f32),
    /// Neuron with a layer-mean read rail: the rail's voltage (the mean of its layer's
    /// held thresholds), volts.
    ReadRail(f64),
    /// Neuron: the end of a long rest (inputs grounded for many leak time constants). A
    /// TS device that is OFF with both latches low returns to a fully relaxed HRS and
    /// starts a new switching cycle (a fresh draw of its switching point), as between the
    /// trials of the paper's Fig 2; the little state left is discarded. An ON or latched
    /// neuron is left alone. LIA: the reset line of a winner hold (`hold: UntilReset`)
    /// releases the held gates.
    Rest,
}

/// An event as delivered to a component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Delivery time, ns.
    pub time: Ns,
    /// Delta cycle within `time`.
    pub delta: u32,
    /// Receiving component.
    pub dst: CompId,
    /// Receiving port.
    pub port: Port,
    /// Emitting component (the receiver itself for wake-ups).
    pub src: CompId,
    /// Emission counter of the source.
    pub seq: u64,
    /// Content.
    pub payload: Payload,
}

impl Event {
    /// The key that orders events: `(time, delta, dst, src, seq)`.
    #[inline]
    pub fn key(&self) -> (Ns, u32, CompId, CompId, u64) {
        (self.time, self.delta, self.dst, self.src, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_knows_its_driven_lines_and_their_sums() {
        let p = LinePattern::new(vec![0.0, 1.5, 0.0, -0.5, 0.25].into());
        assert_eq!(p.driven(), &[1, 3, 4]);
        let s = p.sums();
        // 1.5 − 0.5 + 0.25, and 2.25 + 0.25 + 0.0625: exact in binary.
        assert_eq!(s.sum_volts, 1.25);
        assert_eq!(s.sum_sq_volts2, 2.5625);
        assert_eq!((s.lo_volts, s.hi_volts), (-0.5, 1.5));
        // Every line driven: the extremes are the amplitudes' own, 0 is not among them.
        let all = LinePattern::new(vec![0.5, 1.0].into());
        assert_eq!((all.sums().lo_volts, all.sums().hi_volts), (0.5, 1.0));
    }

    #[test]
    fn a_pattern_is_saved_as_its_amplitudes_and_restored_whole() {
        let p = Payload::Pattern(Arc::new(LinePattern::new(vec![0.0, 1.45, 1.45].into())));
        let text = serde_json::to_string(&p).unwrap();
        assert_eq!(text, r#"{"Pattern":[0.0,1.45,1.45]}"#);
        let back: Payload = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }
}
