//! The lateral-inhibition array (LIA, paper Fig 4a): an n×(n+1) array of 1T1R RS cells
//! feeding n comparators whose outputs drive the shared gate lines of the n neurons'
//! synapse columns.
//!
//! # Circuit
//!
//! Row `i < n` is driven by neuron `i`'s lateral-inhibition level `V_L,i` (0 V or
//! `V_H` = 1.5 V; a "0" is driven low, not floating); row `n` is the bias row at
//! `V_B` = 1.5 V. Column line `j` joins the cells `G_ij` (row `i`, column `j`), the bias
//! cell `G_bj` and a sense conductance `G_s` to ground at comparator `j`'s inverting
//! input, so it settles at the divider voltage
//!
//! ```text
//! V_j = (Σ_i G_ij·V_L,i + G_bj·V_B) / D_j,        D_j = Σ_i G_ij + G_bj + G_s.
//! ```
//!
//! Comparator `j` has `V_ref` (paper: 50 mV) on its non-inverting input: its output (gate
//! `j`) is "1" = 3 V when `V_ref − V_j` exceeds its input offset, else 0 V. So a column
//! must stay **below** `V_ref` to keep its synapses open and rise **above** it to close
//! them.
//!
//! The array is pure physics (parameters, programming rule, fabricated instance and its
//! margins); the event-driven component that listens to the neurons' levels and drives the
//! gate lines is built on it elsewhere.
//!
//! * [`params`]: the parameter file ([`LiaParams`]) and its validation;
//! * [`design`]: the programming rule and its derivation, the nominal levels and margins,
//!   and how they scale with n;
//! * [`mod@array`]: one fabricated and programmed instance ([`LiaArray`]), its comparator
//!   inputs, gates and worst-case margins, and streaming margin sweeps ([`sweep_margins`]);
//! * [`hierarchy`]: the circuit extension *hierarchical LIA* (`hierarchy: Groups(size:
//!   ..)`, [`HierarchicalLia`]): small arrays per group of neurons and over the groups, so
//!   the margin does not fall as `1/n`; [`LiaCircuit`] is either organisation, and
//!   [`scaling_margins`] compares their margins at one layer size.

pub mod array;
pub mod design;
pub mod hierarchy;
pub mod params;

/// Gate levels of the truth table: every gate "1" (3 V) when nobody fires (`None`), else
/// only winner `j`'s.
#[cfg(test)]
pub(crate) fn only_gate(n: usize, j: Option<usize>) -> Vec<f32> {
    (0..n)
        .map(|k| {
            if j.is_none() || j == Some(k) {
                3.0
            } else {
                0.0
            }
        })
        .collect()
}

pub use array::{sweep_margins, LiaArray};
pub use design::{Levels, LiaDesign, LiaError, Margins, Regime};
pub use hierarchy::{scaling_margins, HierarchicalLia, Hierarchy, LiaCircuit, ScalingPoint};
pub use params::{Choice, Hold, LiaParams, LIA_HIERARCHICAL_RON, LIA_RON, LIA_WINNER_HOLD_RON};
