//! The paper's headline result (Fig 5, Supp. Figs 8–13): a 30×10×10 fully memristive SNN
//! trained in situ — layer 1 unsupervised with the LIA's winner-take-all, layer 2 by gating
//! — then tested on patterns with noise pixels; and the ablation of Supp. Fig 11 (the same
//! network with neurons that have no stochasticity).
//!
//! Nothing here assumes digits, ten classes or 30 pixels: sizes come from the topology and
//! pattern files. Output neuron `k` is trained to pattern `k` of the pattern file.
//!
//! # Why the paper read literally does not learn, and what does
//!
//! (The numbers are in the README's Fig 5 section, from `reproduce fig5` and `reproduce
//! ablation`; `tests/fig5_diagnostics.rs` re-derives the curves.)
//!
//! **A greedy neuron.** Node 1 is the conductance-weighted mean of the input lines, so a
//! column trained on pattern `p` answers pattern `q` with about `V·|p∩q|/|p|` while an
//! untrained one answers `V·|q|/30`: for overlapping digits the trained neuron integrates
//! faster and wins the new digit's block too. What lets a fresh neuron win a block anyway is
//! the *early tail* of the switching-time distribution: a per-cycle switching point drawn
//! log-normally (the threshold law) has a light early tail and, clamped above the hold
//! state, a floor, so a fresh neuron almost never fires first; a thermally activated escape
//! process (the hazard law, `devices/src/ts/switching.rs`) has an exponential early tail
//! whatever its width, and recruits. Its spread has a window: too narrow and the greedy
//! neuron keeps its patterns; too wide and every race is noisy, so blocks split.
//!
//! **A schedule that converges.** A block of 30 fire events rewrites its winner, so one
//! pass leaves whichever neuron won last; over many passes, with the block order drawn anew
//! each pass, each pattern's own neuron takes and keeps its block. Distinct winners grow
//! with the passes and level off (the protocol's `layer1.epochs`).
//!
//! **Reading the race.** Losers keep nearly all of their integration (40 ms leak) through
//! the ~0.75 ms inhibition of the paper's LIA, and its gates reopen after the winner's
//! refractory period, so in a long read window every neuron with some drive fires in turn.
//! The winner hold (`LiaParams.hold: UntilReset`, a latch behind each comparator cleared by
//! the rest's reset line) makes the first fire decide; each inference trial reads its noisy
//! stimulus in several such races (`inference.races`), each ending at the first output fire
//! (`until_output_fire`) as training ends at a fire, and counts their votes.
//!
//! **An output device for its operating point.** Reads stay below the 1.5 V SET threshold
//! (1.45 V), where an output neuron sees ~1.06 V for one phase per partner spike; the
//! hidden layer's device would need its partner to spike faster than ~170 Hz, so the output
//! layer has a device with four times the ion drive (`ts_output.ron`), which fires on the
//! second partner spike.
//!
//! Each of these is switched off alone by `reproduce ablation` (`ablation_steps`); the
//! literal reading is `topologies/experiments/fig5_literal.ron`.
//!
//! The parts import one way: `protocol` ← `setup` ← `train` ← `infer`; `report` (the Fig 5
//! outputs) reads the results of all of them, and `ablation` reuses `report`'s weight maps.

mod ablation;
mod infer;
mod protocol;
mod report;
mod setup;
mod train;

pub use ablation::ablation;
pub use infer::{
    accuracy, distinct, distinct_winners, hidden_labels, hidden_readout_accuracy, infer,
    level_winners, patterns_recognised, rates, votes, with_noise, Trial,
};
pub use protocol::{
    default_protocol_path, load_protocol, Fig5Protocol, Inference, Layer1, Layer2, LevelsSpec,
};
pub use report::fig5;
pub use setup::{setup, setup_edited, Setup};
pub use train::{drive_levels, set_ideal_layer1, train_layer1, train_layer2, Layer1Log, Layer2Log};
