//! `mpirun -np R memsnn run|bench|reproduce ... --executor mpi [--workers-per-rank W]`:
//! the command as one program on every rank.
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
//!   alone, and every rank exits with status 1;
//! * after it, a run that stops at a zero-time loop stops alike on every rank and rank 0
//!   reports it; any other failure may be one rank's alone (a full disk), so that rank
//!   reports it and ends the job (`MPI_Abort`, status 1) rather than leave the others
//!   waiting;
//! * a panic ends its process at once, and mpirun then ends the job.

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

/// Whether every rank meets `e` alike: a run that stopped at a zero-time loop, or an
/// executor that refused the network (ranks that built different networks see it
/// together).
fn on_every_rank(e: &anyhow::Error) -> bool {
    use runtime::engine::exec::ExecError;
    use runtime::model::protocol::ProtocolError;
    use runtime::model::session::Error;
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<ProtocolError>(),
            Some(ProtocolError::Halted { .. })
        ) || c.downcast_ref::<ExecError>().is_some()
            || matches!(c.downcast_ref::<Error>(), Some(Error::Exec(_)))
    })
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
            let mut abort = false;
            let report = if mpi.agreement_pending() {
                // This rank failed before the others could know: meet them, and let the
                // lowest failing rank speak.
                mpi.fail() == rank
            } else if let Some(r) = mpi.failed_rank() {
                // Some rank failed before the run; the lowest reports why.
                r == rank
            } else if on_every_rank(&e) {
                // The same on every rank.
                rank == 0
            } else {
                // Anything else may be this rank's alone (a full disk, an output it
                // cannot write): the others could be waiting for it in a collective.
                abort = mpi.ranks() > 1;
                true
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
            if abort {
                if let Some(dir) = &scratch {
                    let _ = std::fs::remove_dir_all(dir);
                }
                mpi.abort(1);
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
