//! Unsupervised in-situ learning of real handwritten digits (`memsnn reproduce mnist`): one
//! input line per pixel → a winner-take-all layer of hybrid neurons with 1T1R columns and a
//! lateral-inhibition array, learning with the neuron's own potentiation and depression →
//! neurons labelled by the class they answer most on the training set (Diehl & Cook's
//! read-out), accuracy on the test split.
//!
//! Nothing here assumes 28×28 images, 784 inputs or ten classes: the line count comes from
//! the image files, the class count from the labels, the layer size from `--neurons`.
//!
//! # The operating point of sparse inputs
//!
//! Node 1 is the conductance-weighted mean of the input lines, so an untrained column (all
//! synapses equal) answers a binarised digit (~19 % of the lines at 1.6 V) at ~0.3 V, and a
//! column trained on a class answers its own class at ~0.9 V and other digits at
//! 0.5–0.7 V. Three design choices follow, each in a parameter file:
//!
//! * a low-voltage TS device for the hidden layer (`ts_mnist_hazard.ron`: steep drive
//!   `sinh(V/0.1 V)`, ~10 pulses to a fire at 0.3 V), so untrained columns fire and a
//!   50 mV lead decides a race;
//! * the paper's write level (1.6 V) and a read level below the SET threshold (1.45 V):
//!   a floating node 1 (≤ 0.9 V) never lets a synapse see a programming voltage;
//! * the **adaptive threshold** (`Homeostasis` in the neuron circuit, a named extension):
//!   a trained neuron answers *every* digit better than an untrained one (its weight sits
//!   where all digits have ink), so without it one neuron takes them all. Each fire raises
//!   the neuron's threshold and the threshold leaks; its leak is sized with the layer
//!   (`threshold_leak_seconds_per_neuron`).
//!
//! The parts: [`protocol`] (the RON file), [`learn`] (presentations, training, reads,
//! labelling), [`ideal`] (the learned conductances read without the devices' scatter, a
//! diagnostic), and this module's runner (data, network, outputs).

mod faults;
pub mod ideal;
pub mod learn;
pub mod protocol;
mod report;

pub use faults::{mnist_faults, SPREAD_FACTORS, STUCK_FRACTIONS};
pub use learn::{label_neurons, order, present, read, train, Outcome, TrainLog, WriteStrobe};
pub use protocol::{default_data_dir, default_protocol_path, load_protocol, MnistProtocol};
pub use report::{
    evaluate, load_inputs, mnist, network, read_energy_joules, Evaluation, Inputs, MnistOptions,
    Net,
};
