//! Checkpoints of a whole run: the network's state, the protocol's position and the probe
//! records so far, in a folder that a later process resumes from.
//!
//! **When.** Only between two protocol steps. There every executor is quiescent — no
//! event of the current instant is in flight, a sharded worker's round bounds are reset,
//! an actor's buffers are empty — and every executor has handled exactly the same events,
//! so the state is the same data whichever executor took it (see
//! [`crate::engine::checkpoint`]), and a checkpoint written under one executor resumes
//! under any other, with any worker count. A protocol run step by step with checkpoints
//! in between is the same run as one without ([`crate::model::protocol::run_step`]).
//!
//! **What.** A [`Checkpoint`]: the executor's state (every component's state with its
//! devices and random streams' positions, every emission counter, the pending events, the
//! time), the protocol's position (the next step and the log of the steps done), where
//! the probe spool stands ([`SpoolState`]: its run files, kinds and counters), and what
//! the run is — the topology's name, a fingerprint of everything the check resolved (the
//! topology, its devices, patterns and saved weights) and the seed — so that a resume of
//! another run is refused.
//!
//! **Where.** A folder: `state.bin` and the probe spool's run files (hard links: run files
//! never change once written). [`Checkpoint::write`] links the new run files, writes
//! `state.bin` through a temporary file, `fsync` and a rename, and only then removes the
//! run files the new state no longer names: after a `kill -9` at any instant the folder
//! holds the previous complete checkpoint or the new one.
//!
//! **Format.** `state.bin` is a 16-byte magic, the format version (u32, little-endian),
//! the payload's length (u64) and SHA-256, then the payload: the [`Checkpoint`] in
//! [postcard](https://docs.rs/postcard), a compact binary serde format that keeps every
//! floating-point value's exact bits. A truncated or altered file fails the length or hash
//! check before anything is decoded.

use crate::engine::checkpoint::ExecState;
use crate::model::protocol::StepRecord;
use crate::model::spool::SpoolState;
use crate::model::topology::Checked;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The checkpoint format this build writes and reads.
pub const FORMAT_VERSION: u32 = 4;

/// The first bytes of every `state.bin`.
const MAGIC: &[u8; 16] = b"memsnn-ckpt\n\0\0\0\0";

/// Bytes before the payload: magic, version, length, SHA-256.
const HEADER_BYTES: usize = 16 + 4 + 8 + 32;

/// The state file of a checkpoint folder.
pub const STATE_FILE: &str = "state.bin";

/// A whole run's state between two protocol steps (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The topology's name.
    pub topology: String,
    /// [`fingerprint`] of the checked topology.
    pub fingerprint: String,
    /// The root seed.
    pub seed: u64,
    /// The executor that wrote it (any executor resumes it).
    pub executor: String,
    /// The executor's state.
    pub exec: ExecState,
    /// The log of the protocol steps done; the next step is the one after them.
    pub steps: Vec<StepRecord>,
    /// Where the probe spool stands (`None`: probes were kept in memory, which a
    /// checkpoint does not save).
    pub spool: Option<SpoolState>,
}

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file (or folder) at `path` is missing, unreadable, or not a checkpoint.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },
}

fn fail(path: &Path, message: impl Into<String>) -> CheckpointError {
    CheckpointError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A fingerprint (SHA-256, hex) of everything a checked topology resolved: the topology,
/// its device parameter sets, its patterns and saved weights — not the folder it was read
/// from. Two runs with the same fingerprint and seed build the same network.
pub fn fingerprint(checked: &Checked) -> String {
    // Debug output is deterministic here (ordered maps; floats print their shortest
    // round-trip form).
    let text = format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        checked.topology(),
        checked.devices(),
        checked.patterns(),
        checked.saved()
    );
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Checkpoint {
    /// Writes the checkpoint into the folder `dir` (created), the probe spool's run files
    /// `runs` linked beside `state.bin`, atomically (module documentation).
    pub fn write(&self, dir: &Path, runs: &[PathBuf]) -> Result<(), CheckpointError> {
        fs::create_dir_all(dir).map_err(|e| fail(dir, format!("cannot create: {e}")))?;
        let mut keep: Vec<String> = vec![STATE_FILE.to_string()];
        for run in runs {
            let name = run
                .file_name()
                .ok_or_else(|| fail(run, "a run file without a name"))?;
            let at = dir.join(name);
            keep.push(name.to_string_lossy().into_owned());
            if same_file(run, &at) {
                continue;
            }
            // Linked under a temporary name, then renamed over whatever has the name (a
            // leftover of an interrupted checkpoint that no state names).
            let tmp = dir.join(format!(
                ".{}.tmp-{}",
                name.to_string_lossy(),
                std::process::id()
            ));
            let _ = fs::remove_file(&tmp);
            if fs::hard_link(run, &tmp).is_err() {
                fs::copy(run, &tmp).map_err(|e| fail(run, format!("cannot copy: {e}")))?;
            }
            sync(&tmp)?;
            fs::rename(&tmp, &at).map_err(|e| fail(&at, format!("cannot rename: {e}")))?;
        }
        let payload = postcard::to_allocvec(self)
            .map_err(|e| fail(dir, format!("cannot encode the checkpoint: {e}")))?;
        let mut bytes = Vec::with_capacity(HEADER_BYTES + payload.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&Sha256::digest(&payload));
        bytes.extend_from_slice(&payload);
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.tmp-{}", std::process::id()));
        let written = fs::File::create(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()
            })
            .and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(fail(&path, format!("cannot write: {e}")));
        }
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        // Only now may the run files of the previous checkpoint go.
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !keep.contains(&name) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }

    /// Reads the checkpoint in the folder `dir`; every problem names the file and says
    /// what to do.
    pub fn read(dir: &Path) -> Result<Checkpoint, CheckpointError> {
        let path = dir.join(STATE_FILE);
        let again = "start the run again without --resume";
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(fail(
                    &path,
                    format!("no checkpoint here: run with --checkpoint-every-ms first, or {again}"),
                ))
            }
            Err(e) => return Err(fail(&path, format!("cannot read: {e}"))),
        };
        if bytes.len() < HEADER_BYTES || &bytes[..16] != MAGIC {
            return Err(fail(
                &path,
                format!(
                    "not a memsnn checkpoint ({} bytes, no checkpoint header); {again}",
                    bytes.len()
                ),
            ));
        }
        let version = u32::from_le_bytes(bytes[16..20].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(fail(
                &path,
                format!(
                    "checkpoint format version {version}; this memsnn reads version \
                     {FORMAT_VERSION}: resume with the memsnn that wrote it, or {again}"
                ),
            ));
        }
        let len = u64::from_le_bytes(bytes[20..28].try_into().expect("8 bytes"));
        let payload = &bytes[HEADER_BYTES..];
        if payload.len() as u64 != len {
            return Err(fail(
                &path,
                format!(
                    "truncated or extended: the header says {len} bytes of state, the file \
                     holds {}; {again}",
                    payload.len()
                ),
            ));
        }
        if Sha256::digest(payload)[..] != bytes[28..60] {
            return Err(fail(
                &path,
                format!("corrupt: its content does not match its SHA-256; {again}"),
            ));
        }
        postcard::from_bytes(payload)
            .map_err(|e| fail(&path, format!("the state does not decode ({e}); {again}")))
    }

    /// Checks that the checkpoint was written by a run of `checked` with `seed`.
    pub fn check_run(
        &self,
        dir: &Path,
        checked: &Checked,
        seed: u64,
    ) -> Result<(), CheckpointError> {
        let path = dir.join(STATE_FILE);
        if self.fingerprint != fingerprint(checked) {
            return Err(fail(
                &path,
                format!(
                    "written by a run of topology `{}`, and the topology `{}` or a file it \
                     names (devices, patterns, saved weights) differs from it: resume with \
                     the files of that run, or start again without --resume",
                    self.topology,
                    checked.topology().name
                ),
            ));
        }
        if self.seed != seed {
            return Err(fail(
                &path,
                format!(
                    "written by a run with --seed {}, this one has --seed {seed}: resume \
                     with --seed {}",
                    self.seed, self.seed
                ),
            ));
        }
        Ok(())
    }
}

/// Whether `a` and `b` are the same file (one inode).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::metadata(a), fs::metadata(b)) {
            (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        false
    }
}

fn sync(path: &Path) -> Result<(), CheckpointError> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail(path, format!("cannot sync: {e}")))
}
