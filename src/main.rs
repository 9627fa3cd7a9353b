//! The `memsnn` command line: a thin layer over the library.

use anyhow::Result;
use clap::{Parser, Subcommand};
use memsnn::experiments::{self, RunOptions};
use memsnn::report::paper_table;
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "mpi")]
mod spmd;

#[global_allocator]
static ALLOC: memsnn::alloc_count::CountingAlloc = memsnn::alloc_count::CountingAlloc;

#[derive(Parser)]
#[command(
    name = "memsnn",
    version,
    about = "Simulate fully-hardware memristive spiking neural networks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum NirCommand {
    /// Write a topology as a NIR graph (HDF5): inputs → Input, synapse columns → Affine
    /// (weight = G/G_max; the conductances in siemens, device sets and wiring in metadata),
    /// neurons → LIF, a lateral-inhibition array → a recurrent Affine (docs/nir.md).
    Export {
        /// Topology file.
        topology: PathBuf,
        /// The .nir file to write (replaced whole).
        #[arg(long)]
        out: PathBuf,
        /// Saved conductances (`memsnn run --save-weights`) for the layers they name.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Seed of the fabricated devices the conductances are read from.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Turn a NIR graph into a topology: a memsnn export comes back as it was; Input /
    /// Affine / Linear / LIF / IF / CubaLIF / Output graphs of other frameworks are mapped
    /// onto hybrid neurons (docs/nir.md). Files it needs go to OUT's folder, `STEM.files/`.
    Import {
        /// The .nir file to read.
        file: PathBuf,
        /// The topology file to write.
        #[arg(long)]
        out: PathBuf,
        /// Device set for the neurons: a RON file with a topology's `devices` block, e.g.
        /// (ts: "builtin:ts_neuron_hazard", synapse: "builtin:rs_hfo2_1t1r", circuit:
        /// "builtin:neuron_cmos"); default: the built-in hybrid neuron.
        #[arg(long)]
        device_set: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Exchange networks with other frameworks through NIR graphs (.nir files).
    Nir {
        #[command(subcommand)]
        command: NirCommand,
    },
    /// Regenerate the paper's results: CSV data, PNG figures and summary.json per experiment.
    Reproduce {
        /// Experiment or group: fig2c, fig2d, fig2e, fig2f, fig3b, fig3c, learning, propagation,
        /// fig4, lia-scaling, fig5, ablation, mnist, mnist-faults; groups devices, neuron, lia,
        /// network; or all.
        experiment: String,
        /// Output folder (one subfolder per experiment).
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Root random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Trials per condition for statistical experiments (inference trials per pattern
        /// and noise level for fig5).
        #[arg(long, value_parser = at_least_one, default_value_t = 200)]
        trials: usize,
        /// Pattern file for the network experiments (default: the topology's).
        #[arg(long)]
        patterns: Option<PathBuf>,
        /// Noise levels (flipped pixels) for inference, e.g. 0,1,2,3 (clean patterns, 0, are
        /// always included).
        #[arg(long, value_delimiter = ',')]
        noise_pixels: Option<Vec<u32>>,
        /// Protocol file of fig5 and ablation (default: topologies/experiments/fig5.ron):
        /// training schedule, read/write voltages, inference window, and the topology. The
        /// other experiments have their own fixed set-ups and do not read it.
        #[arg(long)]
        protocol: Option<PathBuf>,
        /// TS device file for the device experiments fig2c–f (default: the Fig 2 device,
        /// topologies/devices/ts_fig2.ron), e.g. ts_fig2_hazard.ron for the hazard law or a
        /// device of your own.
        #[arg(long)]
        device: Option<PathBuf>,
        /// mnist: folder with the four IDX files (train-images-idx3-ubyte, train-labels-
        /// idx1-ubyte, t10k-… or test-…, each optionally .gz); default: the 300/100-digit
        /// fixture shipped in tests/data/mnist-small.
        #[arg(long)]
        data: Option<PathBuf>,
        /// mnist: hidden (winner-take-all) neurons (default: the protocol's, 100).
        #[arg(long)]
        neurons: Option<usize>,
        /// mnist: training images used, the first K of the training split (default: all).
        #[arg(long)]
        train: Option<usize>,
        /// mnist: test images used, the first K of the test split (default: all).
        #[arg(long)]
        test: Option<usize>,
        /// mnist: passes over the training images (default: the protocol's).
        #[arg(long)]
        epochs: Option<u32>,
        /// mnist: input coding, `binary` (pixels from grey level 128 pulse every period) or
        /// `rate` (a pixel of grey g pulses with probability g/255 per period).
        #[arg(long, value_parser = ["binary", "rate"])]
        coding: Option<String>,
        /// mnist: protocol file (default: topologies/experiments/mnist.ron).
        #[arg(long)]
        mnist_protocol: Option<PathBuf>,
        /// mnist: executor (reference, sharded, actix, or mpi under `mpirun`; all give the
        /// same result).
        #[arg(long, value_enum, default_value_t = memsnn::runtime::ExecutorKind::Reference)]
        executor: memsnn::runtime::ExecutorKind,
        /// mnist: worker threads of the sharded executor.
        #[arg(long, value_parser = at_least_one, default_value_t = 1)]
        workers: usize,
    },
    /// Measure throughput: one JSON line per run in the Brian2/NEST baselines' schema.
    Bench {
        /// Executors, comma-separated: reference, sharded, actix, mpi (under `mpirun`).
        #[arg(long, value_delimiter = ',', default_value = "reference")]
        executor: Vec<String>,
        /// Worker threads (sharded), arbiters (actix) or worker threads per rank (mpi),
        /// comma-separated, e.g. 1,2.
        #[arg(long, value_parser = at_least_one, value_delimiter = ',', default_value = "1")]
        workers: Vec<usize>,
        /// Workload: wta_ff (the baselines' winner-take-all layer, built from memsnn's devices)
        /// or wta_ff_learning (the same layer learning in situ, counterpart of the baselines'
        /// wta_ff_stdp).
        #[arg(long, default_value = "wta_ff")]
        workload: String,
        /// Input pulse amplitude of learning runs, volts (default: the paper's 1.6 V write
        /// level, Fig 5 methods).
        #[arg(long)]
        write_volts: Option<f64>,
        /// Learn in situ: inputs at `--write-volts`, every layer learning (for the built-in
        /// workload the same as `--workload wta_ff_learning`).
        #[arg(long)]
        learning: bool,
        /// wta_ff sizes, comma-separated INPUTSxNEURONS (30x10, 784x100, 784x400, 784x1600,
        /// 784x6400) or `all`.
        #[arg(long, default_value = "784x1600")]
        size: String,
        /// Benchmark this topology file instead of a workload.
        #[arg(long)]
        topology: Option<PathBuf>,
        /// Bernoulli-gated inputs: keep each input pulse with this probability, in (0, 1]
        /// (the baselines' `--pulse-prob`; the workload label gets `_pP`, e.g. wta_ff_p0.5).
        #[arg(long)]
        pulse_prob: Option<f64>,
        /// Repetitions of each configuration.
        #[arg(long, value_parser = at_least_one, default_value_t = 3)]
        reps: usize,
        /// Root random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Also append the JSON lines to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Write a PNG of events/s against size and against workers.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Check a topology file (and the device, pattern and saved-weights files it names) without running it.
    Validate {
        /// The topology file (RON).
        file: PathBuf,
    },
    /// Run a topology's protocol; write probes.csv and log.json.
    Run {
        /// The topology file (RON).
        file: PathBuf,
        /// Root random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder.
        #[arg(long, default_value = "results/run")]
        out: PathBuf,
        /// Executor: reference, sharded, actix or mpi (identical results; mpi runs one
        /// partition per rank under `mpirun`, in a build with the `mpi` feature).
        #[arg(long, default_value = "reference")]
        executor: String,
        /// Worker threads (sharded) or arbiter threads (actix).
        #[arg(long, value_parser = at_least_one, default_value_t = 2)]
        workers: usize,
        /// Worker threads on each MPI rank (mpi; the partition has ranks × this many
        /// parts).
        #[arg(long, value_parser = at_least_one, default_value_t = 1)]
        workers_per_rank: usize,
        /// Save the synapse conductances after the protocol to this RON file; a layer
        /// starts from them with `initial: Saved("FILE")`.
        #[arg(long)]
        save_weights: Option<PathBuf>,
        /// Draw what the probes recorded (spike raster, node-1 voltages, mean column
        /// conductances) into this PNG.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Print the run's energy by class and layer (always in log.json).
        #[arg(long)]
        energy: bool,
        /// Keep a checkpoint of the whole run (every component's state, pending events,
        /// random streams, protocol position, probes so far) in `.OUT.checkpoint` beside
        /// the output folder, replaced atomically between protocol steps once this many
        /// milliseconds of wall-clock time have passed since the last (0: after every
        /// step); removed when the run finishes.
        #[arg(long, value_name = "T")]
        checkpoint_every_ms: Option<u64>,
        /// Continue the interrupted run of `--out` from its checkpoint (same topology
        /// files and --seed; any executor and worker count); the result is byte-identical
        /// to an uninterrupted run.
        #[arg(long)]
        resume: bool,
        /// Keep the checkpoint in this folder instead of `.OUT.checkpoint` beside the
        /// output folder (under MPI: a folder every rank can read).
        #[arg(long, value_name = "DIR")]
        checkpoint_dir: Option<PathBuf>,
        /// Set on MPI ranks other than 0: they take part in each checkpoint and leave
        /// the files to rank 0.
        #[arg(skip)]
        leaves_checkpoint: bool,
    },
}

/// Parses a count that must be at least 1 (workers, repetitions).
fn at_least_one(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e}: give a whole number, at least 1")),
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Reproduce {
            experiment,
            out,
            seed,
            trials,
            patterns,
            noise_pixels,
            protocol,
            device,
            data,
            neurons,
            train,
            test,
            epochs,
            coding,
            mnist_protocol,
            executor,
            workers,
        } => {
            let coding = coding.map(|c| match c.as_str() {
                "rate" => memsnn::data::coding::Coding::Rate {
                    max_probability: 1.0,
                },
                _ => memsnn::data::coding::Coding::default(),
            });
            let opts = RunOptions {
                seed,
                trials,
                patterns,
                noise_pixels,
                protocol,
                device,
                mnist: experiments::mnist::MnistOptions {
                    data,
                    neurons,
                    train,
                    test,
                    epochs,
                    coding,
                    protocol: mnist_protocol,
                    executor,
                    workers,
                },
                ..RunOptions::default()
            };
            let names = experiments::resolve(&experiment)?;
            experiments::check_outputs(&names, &opts, &out)?;
            let several = names.len() > 1;
            let mut reports = Vec::new();
            for name in names {
                eprintln!("running {name} ...");
                for r in experiments::reproduce(name, &opts, &out)? {
                    eprintln!("  wrote {}", r.dir.display());
                    reports.push(r);
                }
            }
            if several {
                let page = memsnn::index_page::write_index(&out, &reports)?;
                eprintln!("  wrote {}", page.display());
            }
            let rows: Vec<_> = reports.into_iter().flat_map(|r| r.rows).collect();
            println!("{}", paper_table(&rows));
            Ok(())
        }
        Command::Bench {
            executor,
            workers,
            workload,
            write_volts,
            learning,
            size,
            topology,
            pulse_prob,
            reps,
            seed,
            json,
            plot,
        } => {
            let choice =
                memsnn::bench::Workload::choose(&workload, &size, topology, learning, write_volts)?;
            let opts = memsnn::bench::BenchOptions {
                executors: executor,
                workers,
                topologies: choice.topologies,
                workload: choice.label,
                reps,
                seed,
                learning_write_volts: choice.learning_write_volts,
                pulse_prob,
            };
            let mut lines = String::new();
            let records = memsnn::bench::bench(&opts, |r| {
                let line = serde_json::to_string(r).unwrap_or_default();
                println!("{line}");
                lines.push_str(&line);
                lines.push('\n');
            })?;
            if let Some(path) = json {
                memsnn::output::append_text(&path, &lines)?;
                eprintln!("appended {} lines to {}", records.len(), path.display());
            }
            if let Some(path) = plot {
                memsnn::bench::plot(&records, &path)?;
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
        Command::Nir { command } => nir(command),
        Command::Validate { file } => {
            let size = memsnn::run::validate(&file)?;
            println!("ok: {} components, {} wires", size.components, size.wires);
            Ok(())
        }
        Command::Run {
            file,
            seed,
            out,
            executor,
            workers,
            workers_per_rank,
            save_weights,
            plot,
            energy,
            checkpoint_every_ms,
            resume,
            checkpoint_dir,
            leaves_checkpoint,
        } => {
            let workers = if executor == "mpi" {
                workers_per_rank
            } else {
                workers
            };
            let opts = memsnn::run::RunConfig {
                seed,
                out,
                executor,
                workers,
                save_weights: save_weights.clone(),
                plot: plot.clone(),
                checkpoint_every_ms,
                resume,
                checkpoint_at: checkpoint_dir,
                writes_checkpoint: !leaves_checkpoint,
            };
            let report = memsnn::run::run(&file, &opts)?;
            for line in report.summary() {
                println!("{line}");
            }
            if energy {
                print!("{}", memsnn::energy::energy_table(&report.energy));
            }
            eprintln!(
                "wrote {} probe records and log.json to {}",
                report.records,
                report.dir.display()
            );
            if let Some(w) = save_weights {
                eprintln!("saved the conductances to {}", w.display());
            }
            if let Some(p) = plot {
                eprintln!("drew the probes in {}", p.display());
            }
            Ok(())
        }
    }
}

fn nir(command: NirCommand) -> Result<()> {
    match command {
        NirCommand::Export {
            topology,
            out,
            weights,
            seed,
        } => {
            let opts = memsnn::nir::ExportOptions { weights, seed };
            let r = memsnn::nir::export(&topology, &out, &opts)?;
            println!(
                "wrote {}: {} nodes, {} edges, {} conductances",
                out.display(),
                r.nodes,
                r.edges,
                r.synapses
            );
            Ok(())
        }
        NirCommand::Import {
            file,
            out,
            device_set,
        } => {
            let opts = memsnn::nir::ImportOptions { device_set };
            let r = memsnn::nir::import(&file, &out, &opts)?;
            let origin = if r.from_memsnn {
                "a memsnn graph, as exported"
            } else {
                "mapped onto hybrid neurons"
            };
            println!(
                "wrote {} ({origin}): {} layers, {} synapses; run it with --seed {}",
                out.display(),
                r.layers,
                r.synapses,
                r.seed
            );
            for f in &r.files {
                println!("  {}", f.display());
            }
            for n in &r.notes {
                println!("note: {n}");
            }
            Ok(())
        }
    }
}

impl Cli {
    /// Whether the command asks for the MPI executor.
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    fn uses_mpi(&self) -> bool {
        match &self.command {
            Command::Run { executor, .. } => executor == "mpi",
            Command::Bench { executor, .. } => executor.iter().any(|e| e == "mpi"),
            Command::Reproduce { executor, .. } => *executor == memsnn::runtime::ExecutorKind::Mpi,
            _ => false,
        }
    }
}

/// The command on every MPI rank (see `spmd`): refuses what does not run under MPI yet,
/// then sends the outputs of ranks other than 0 to their scratch folder.
#[cfg(feature = "mpi")]
fn under_mpi(mut cli: Cli) -> ExitCode {
    spmd::run(move |_mpi, scratch| {
        match &mut cli.command {
            Command::Run {
                out,
                save_weights,
                plot,
                checkpoint_dir,
                leaves_checkpoint,
                ..
            } => {
                if let Some(dir) = scratch {
                    // Rank 0 writes the checkpoint where it would without MPI; the others
                    // take part in it and resume from it.
                    if checkpoint_dir.is_none() {
                        *checkpoint_dir = Some(memsnn::run::checkpoint_dir(out)?);
                    }
                    *leaves_checkpoint = true;
                    *out = dir.join("out");
                    if let Some(w) = save_weights {
                        *w = dir.join("weights.ron");
                    }
                    if let Some(p) = plot {
                        *p = dir.join("plot.png");
                    }
                }
            }
            Command::Bench { json, plot, .. } => {
                if scratch.is_some() {
                    *json = None;
                    *plot = None;
                }
            }
            Command::Reproduce { out, .. } => {
                if let Some(dir) = scratch {
                    *out = dir.join("out");
                }
            }
            _ => anyhow::bail!("--executor mpi runs `memsnn run`, `bench` and `reproduce`"),
        }
        run(cli)
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "mpi")]
    if cli.uses_mpi() {
        return under_mpi(cli);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
