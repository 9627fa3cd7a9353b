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
    Pattern(Arc<[f32]>),
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
