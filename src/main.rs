//! The `memsnn` command line: a thin layer over the library.

use anyhow::Result;
use clap::{Parser, Subcommand};
use memsnn::experiments::{self, RunOptions};
use memsnn::output::table;
use std::path::PathBuf;
use std::process::ExitCode;

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
enum Command {
    /// Regenerate the paper's results: CSV data, PNG figures and summary.json per experiment.
    Reproduce {
        /// Experiment or group: fig2c, fig2d, fig2e, fig2f, devices, all.
        experiment: String,
        /// Output folder (one subfolder per experiment).
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Root random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Trials per condition for statistical experiments.
        #[arg(long, default_value_t = 200)]
        trials: usize,
    },
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Reproduce {
            experiment,
            out,
            seed,
            trials,
        } => {
            let opts = RunOptions {
                seed,
                trials,
                ..RunOptions::default()
            };
            let names = experiments::resolve(&experiment)?;
            let mut rows = Vec::new();
            for name in names {
                eprintln!("running {name} ...");
                for r in experiments::reproduce(name, &opts, &out)? {
                    rows.extend(r.rows.iter().map(|x| x.to_vec()));
                    eprintln!("  wrote {}", r.dir.display());
                }
            }
            println!(
                "{}",
                table(&["experiment", "quantity", "paper", "memsnn"], &rows)
            );
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
