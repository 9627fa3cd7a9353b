//! Device physics for memsnn: the threshold-switching (TS) memristor that integrates and
//! fires in the hybrid neuron, the 1T1R resistive-switching synapse, MOS switches and
//! comparators, with their variability, faults and energy.
//!
//! This crate knows nothing about events, networks or executors: it only answers "how does
//! this device evolve under this voltage for this long?" — exactly, in closed form.
//!
//! ```
//! use devices::{ts::{TsDevice, TsTransition}, Variability, DeviceSet};
//!
//! // The paper's Fig 2 device, with its stochasticity switched off.
//! let set = DeviceSet::builtin();
//! let mut ts = TsDevice::new(&set.ts_fig2, Variability::NONE, 1);
//! // A 1.2 V pulse: the device fires after an integration delay below 1 ms.
//! let step = ts.advance(1.2, 1_000_000);
//! assert_eq!(step.transition, Some(TsTransition::SwitchedOn));
//! assert!(step.elapsed_ns < 1_000_000);
//! ```
#![warn(missing_docs)]

pub mod builtin;
pub mod comparator;
pub mod energy;
pub mod expsum;
pub mod lia;
pub mod params;
pub mod rs;
pub mod set;
pub mod switch;
pub mod ts;
pub mod variability;

pub use energy::Energy;
pub use set::DeviceSet;
pub use variability::Variability;
