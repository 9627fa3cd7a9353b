//! `mpirun -np R memsnn run|bench ... --executor mpi [--workers-per-rank W]`: the command
//! as one program on every rank.
//!
//! Every rank parses the same arguments, loads the same files and runs the same code, so
//! the MPI executor's collectives meet (see `runtime::engine::exec::mpi`). What differs by
//! rank is only where things go:
//!
//! * rank 0 writes the outputs and prints; every other rank writes its (identical)
//!   outputs into a folder of its own under the temporary directory, removed at exit,
//!   and its standard output and error go to the null device;
//! * a failure before the ranks' agreement point (a file a rank cannot read, a topology
//!   that fails validation, a bad output path) is reported by the lowest failing rank
//!   alone, and every rank exits with status 1; a failure after it is the same on every
//!   rank (the ranks compute the same things) and rank 0 reports it;
//! * a panic aborts the whole job (`MPI_Abort`), so no rank is left waiting.

use runtime::engine::exec::mpi::MpiRuntime;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where a rank other than 0 writes its outputs.
pub fn scratch_dir(rank: usize) -> PathBuf {
    std::env::temp_dir().join(format!("memsnn-rank{rank}-{}", std::process::id()))
}

/// Sends this process's standard output and error to the null device; returns the
/// original standard error, to report a failure on.
#[cfg(unix)]
fn silence() -> Option<File> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let null = File::options().write(true).open("/dev/null").ok()?;
    // SAFETY: plain descriptor calls on descriptors this process owns; the duplicate of
    // standard error is owned by the returned File alone.
    unsafe {
        let saved = libc::dup(2);
        if saved < 0 {
            return None;
        }
        libc::dup2(null.as_raw_fd(), 1);
        libc::dup2(null.as_raw_fd(), 2);
        Some(File::from_raw_fd(saved))
    }
}

#[cfg(not(unix))]
fn silence() -> Option<File> {
    None
}

/// Runs `body` (the command, its outputs already redirected for this rank by the caller
/// through `scratch`) under MPI and turns its result into the exit status.
pub fn run(body: impl FnOnce(&MpiRuntime, Option<&Path>) -> anyhow::Result<()>) -> ExitCode {
    let mpi = match MpiRuntime::init() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rank = mpi.rank();
    let scratch = (rank > 0).then(|| scratch_dir(rank));
    let mut stderr = if rank > 0 { silence() } else { None };
    let result = body(&mpi, scratch.as_deref());
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let report = if mpi.agreement_pending() {
                // This rank failed before the others could know: meet them, and let the
                // lowest failing rank speak.
                mpi.fail() == rank
            } else {
                match mpi.failed_rank() {
                    // Another rank failed before the run; it reports why.
                    Some(r) => r == rank,
                    None => rank == 0,
                }
            };
            if report {
                let text = if mpi.ranks() > 1 {
                    format!("error (rank {rank} of {}): {e:#}\n", mpi.ranks())
                } else {
                    format!("error: {e:#}\n")
                };
                match &mut stderr {
                    Some(f) => {
                        let _ = f.write_all(text.as_bytes());
                    }
                    None => eprint!("{text}"),
                }
            }
            ExitCode::FAILURE
        }
    };
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    drop(mpi);
    code
}
