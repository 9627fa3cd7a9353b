//! The paper's experiments, reproducible from the command line (`memsnn reproduce NAME`)
//! and from the library. Each writes a folder `OUT/NAME/` with `data.csv`, a PNG figure and
//! `summary.json`, and returns rows for the paper-vs-memsnn table.

pub mod fig2;
pub mod fig3;
pub mod fig4;
pub mod fig5;
pub mod learning;
pub mod lia_scaling;
pub mod mnist;
pub mod msnn;
pub mod propagation;
pub mod pulse;
pub mod single;
pub mod stats;

use anyhow::{bail, Result};
use devices::Variability;
use std::path::{Path, PathBuf};

/// Options shared by all experiments.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Root seed: every device and component derives its own stream from it.
    pub seed: u64,
    /// Trials per condition (statistical experiments).
    pub trials: usize,
    /// Device randomness.
    pub variability: Variability,
    /// Pattern file overriding the topology's (network experiments).
    pub patterns: Option<PathBuf>,
    /// Noise levels (flipped pixels) for inference (network experiments).
    pub noise_pixels: Option<Vec<u32>>,
    /// Protocol file of the network experiments (fig5, ablation) replacing the built-in
    /// `topologies/experiments/fig5.ron`: training schedule, read and write voltages,
    /// inference window, and the topology it names (relative to the protocol file).
    pub protocol: Option<PathBuf>,
    /// TS device file of the device experiments (fig2c–f) replacing the Fig 2 protocol's.
    pub device: Option<PathBuf>,
    /// Options of the MNIST experiment.
    pub mnist: mnist::MnistOptions,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: 1,
            trials: 200,
            variability: Variability::FULL,
            patterns: None,
            noise_pixels: None,
            protocol: None,
            device: None,
            mnist: mnist::MnistOptions::default(),
        }
    }
}

pub use crate::report::{ExperimentReport, Row};

type Runner = fn(&RunOptions, &Path) -> Result<ExperimentReport>;

/// Every experiment, in the order `all` runs them.
pub const EXPERIMENTS: &[(&str, Runner)] = &[
    ("fig2c", fig2::fig2c),
    ("fig2d", fig2::fig2d),
    ("fig2e", fig2::fig2e),
    ("fig2f", fig2::fig2f),
    ("fig3b", fig3::fig3b),
    ("fig3c", fig3::fig3c),
    ("learning", learning::learning),
    ("propagation", propagation::propagation),
    ("fig4", fig4::fig4),
    ("lia-scaling", lia_scaling::lia_scaling),
    ("fig5", fig5::fig5),
    ("ablation", fig5::ablation),
    ("mnist", mnist::mnist),
    ("mnist-faults", mnist::mnist_faults),
];

/// Named groups of experiments.
pub const GROUPS: &[(&str, &[&str])] = &[
    ("devices", &["fig2c", "fig2d", "fig2e", "fig2f"]),
    ("neuron", &["fig3b", "fig3c", "learning", "propagation"]),
    ("lia", &["fig4", "lia-scaling"]),
    ("network", &["fig5", "ablation"]),
];

/// The experiment names a group or single name stands for.
pub fn resolve(name: &str) -> Result<Vec<&'static str>> {
    if name == "all" {
        return Ok(EXPERIMENTS.iter().map(|(n, _)| *n).collect());
    }
    if let Some((_, members)) = GROUPS.iter().find(|(g, _)| *g == name) {
        return Ok(members.to_vec());
    }
    if let Some((n, _)) = EXPERIMENTS.iter().find(|(n, _)| *n == name) {
        return Ok(vec![n]);
    }
    let known: Vec<&str> = EXPERIMENTS
        .iter()
        .map(|(n, _)| *n)
        .chain(GROUPS.iter().map(|(g, _)| *g))
        .chain(["all"])
        .collect();
    bail!("unknown experiment `{name}`; known: {}", known.join(", "))
}

/// A progress bar of `len` steps labelled `what` on standard error, with its rate and the
/// time left (hidden unless `show`; indicatif hides it too when standard error is not a
/// terminal).
pub(crate) fn progress(len: u64, what: &str, show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>18} [{bar:30}] {pos}/{len} {per_sec} {elapsed} (eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Checks, before anything runs, that the files `opts` names exist and that every
/// experiment of `names` can replace its folder under `out` (`out` writable, or creatable,
/// each `out/NAME` absent or an earlier output; see
/// [`check_replaceable`](crate::output::check_replaceable)); cleans or reports the leftovers
/// of interrupted runs in `out`.
pub fn check_outputs(names: &[&str], opts: &RunOptions, out: &Path) -> Result<()> {
    let files = [
        ("--patterns", &opts.patterns),
        ("--protocol", &opts.protocol),
        ("--device", &opts.device),
        ("--mnist-protocol", &opts.mnist.protocol),
    ];
    for (what, file) in files {
        if let Some(f) = file.as_ref().filter(|f| !f.is_file()) {
            bail!("{what} {}: no such file", f.display());
        }
    }
    if let Some(d) = opts.mnist.data.as_ref().filter(|d| !d.is_dir()) {
        bail!("--data {}: no such folder", d.display());
    }
    crate::output::check_writable(out)?;
    for n in names {
        crate::output::check_replaceable(&out.join(n))?;
    }
    Ok(())
}

/// Runs one experiment or group, writing under `out` (each experiment's folder replaced
/// whole once it is complete; [`check_outputs`] first).
pub fn reproduce(name: &str, opts: &RunOptions, out: &Path) -> Result<Vec<ExperimentReport>> {
    let mut reports = Vec::new();
    let names = resolve(name)?;
    check_outputs(&names, opts, out)?;
    for n in names {
        let (_, run) = EXPERIMENTS.iter().find(|(e, _)| *e == n).expect("resolved");
        reports.push(run(opts, out)?);
    }
    Ok(reports)
}
