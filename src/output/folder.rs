//! Output folders replaced whole: written beside their target, listed in a
//! `manifest.json` (every file, its size and SHA-256) written last, then swapped in.
//!
//! An [`ExperimentDir`] is a hidden staging folder `.NAME.tmp-PID-N` next to the target
//! `NAME`. Nothing under `NAME` changes until [`ExperimentDir::commit`]: it syncs every
//! file, writes the manifest, syncs the folder and then puts it in place:
//!
//! * no earlier `NAME`: one `rename`;
//! * an earlier `NAME` on Linux: `renameat2(RENAME_EXCHANGE)` swaps the two folders in one
//!   step, then the earlier result (now under the staging name) is removed;
//! * elsewhere (or on a file system without the exchange): the earlier `NAME` is renamed to
//!   `.NAME.old-PID-N`, the staging folder to `NAME`, then the old one removed. A crash
//!   between the two renames leaves no `NAME` but the complete earlier result under the
//!   `.old` name, which the next run moves back ([`super::stale::clean_stale`]).
//!
//! So after a `kill -9` at any instant, `NAME` is the complete earlier result or the
//! complete new one, and its manifest says which files it holds. A staging folder that is
//! dropped without a commit (an error, a panic) is removed; one left by a killed process
//! is removed by the next run that writes beside it.

use super::stale::clean_stale_reporting;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The manifest's file name, written last into every output folder.
pub const MANIFEST: &str = "manifest.json";

/// File extensions of the files an earlier memsnn output folder without a manifest holds;
/// such a folder may be replaced, any other non-empty folder is refused.
const OUTPUT_EXTENSIONS: &[&str] = &["csv", "json", "png", "ron", "txt"];

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// One file of a [`Manifest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Path relative to the folder, `/`-separated (or, for files outside it, as given).
    pub path: String,
    /// Size, bytes.
    pub bytes: u64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
}

/// The `manifest.json` of an output folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Every file of the folder but the manifest, sorted by path.
    pub files: Vec<ManifestEntry>,
    /// Files the same run wrote outside the folder (`--plot`, `--save-weights`), replaced
    /// right after it: a reader can check they belong to this result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside: Vec<ManifestEntry>,
}

impl Manifest {
    /// Reads `DIR/manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a manifest", path.display()))
    }

    /// Checks that `dir` holds exactly the manifest's files with their sizes and hashes;
    /// the error names the first difference.
    pub fn verify(&self, dir: &Path) -> Result<()> {
        let found = list_files(dir)?;
        let listed: Vec<&str> = self.files.iter().map(|e| e.path.as_str()).collect();
        let on_disk: Vec<&str> = found
            .iter()
            .map(|(rel, _)| rel.as_str())
            .filter(|r| *r != MANIFEST)
            .collect();
        if listed != on_disk {
            bail!(
                "{}: holds {on_disk:?}, its manifest lists {listed:?}",
                dir.display()
            );
        }
        for e in &self.files {
            let (bytes, sha) = hash_file(&dir.join(&e.path), false)?;
            if bytes != e.bytes || sha != e.sha256 {
                bail!(
                    "{}: {bytes} bytes, sha256 {sha}; the manifest says {} bytes, {}",
                    dir.join(&e.path).display(),
                    e.bytes,
                    e.sha256
                );
            }
        }
        Ok(())
    }
}

/// Size and SHA-256 (hex) of the file at `path`, syncing it to disk first if `sync`.
pub(crate) fn hash_file(path: &Path, sync: bool) -> Result<(u64, String)> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(sync)
        .open(path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    if sync {
        f.sync_all()
            .with_context(|| format!("{}: cannot sync to disk", path.display()))?;
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        h.update(&buf[..n]);
    }
    let sha = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((bytes, sha))
}

/// Every regular file under `dir`, as (`/`-separated relative path, full path), sorted.
fn list_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, d)) = stack.pop() {
        let entries = fs::read_dir(&d).with_context(|| format!("{}: cannot list", d.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("{}: cannot list", d.display()))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let ty = e
                .file_type()
                .with_context(|| format!("{}: cannot stat", e.path().display()))?;
            if ty.is_dir() {
                stack.push((rel, e.path()));
            } else {
                out.push((rel, e.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `path` made absolute (against the current folder) with `.` and `..` resolved
/// lexically: what a path names before it exists.
pub fn absolute(path: &Path) -> PathBuf {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .unwrap_or_else(|_| PathBuf::from("."))
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in full.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// `path` as given when it ends in a name and has no `..`, else [`absolute`].
fn plain(path: &Path) -> PathBuf {
    let simple =
        path.file_name().is_some() && !path.components().any(|c| matches!(c, Component::ParentDir));
    if simple {
        path.to_path_buf()
    } else {
        absolute(path)
    }
}

/// The folder `path` is in (`.` for a bare name).
fn parent_of(path: &Path) -> Result<PathBuf> {
    if path.file_name().is_none() {
        bail!("{}: names no file or folder", path.display());
    }
    Ok(match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    })
}

/// Checks that an existing `target` may be replaced whole: absent, an empty folder, a
/// folder with a manifest, or one holding only files an earlier memsnn output holds (CSV,
/// JSON, PNG, RON, text) — never the current folder or one above it.
pub fn check_replaceable(target: &Path) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(target) else {
        return Ok(());
    };
    let at = target.display();
    if !meta.is_dir() {
        bail!("{at}: exists and is not a folder; choose another output folder or remove it");
    }
    if let (Ok(cwd), Ok(t)) = (std::env::current_dir(), target.canonicalize()) {
        if cwd.starts_with(&t) {
            bail!(
                "{at}: is the current folder or one above it; choose an output folder of its own"
            );
        }
    }
    if target.join(MANIFEST).is_file() {
        return Ok(());
    }
    let entries = fs::read_dir(target).with_context(|| format!("{at}: cannot list"))?;
    for e in entries {
        let e = e.with_context(|| format!("{at}: cannot list"))?;
        let p = e.path();
        let ours = e.file_type().is_ok_and(|t| t.is_file())
            && p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| OUTPUT_EXTENSIONS.contains(&x));
        if !ours {
            bail!(
                "{at}: exists and is not a memsnn output folder (no {MANIFEST}; it holds {}), \
                 and an output folder is replaced whole; choose another output folder or \
                 remove it",
                p.display()
            );
        }
    }
    Ok(())
}

/// Creates `dir` with its parents and proves it writable by creating and removing a
/// hidden folder in it; cleans (or reports) the leftovers of interrupted runs there.
pub fn prepare_parent(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    check_writable(dir)
}

/// Checks, creating nothing that stays, that files can be written in `dir` (or, if it does
/// not exist yet, in its nearest existing ancestor, where it would be created); cleans (or
/// reports) the leftovers of interrupted runs in `dir`.
pub fn check_writable(dir: &Path) -> Result<()> {
    let full = absolute(dir);
    let Some(existing) = full.ancestors().find(|a| a.exists()) else {
        bail!("{}: no part of this path exists", dir.display());
    };
    if !existing.is_dir() {
        bail!("{}: {} is not a folder", dir.display(), existing.display());
    }
    if existing == full {
        clean_stale_reporting(dir);
    }
    let probe = existing.join(format!(
        ".memsnn-write-check.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir(&probe).with_context(|| format!("{}: cannot write there", dir.display()))?;
    let _ = fs::remove_dir(&probe);
    Ok(())
}

/// A hidden sibling of `target`: `.NAME.{tag}-PID-N`.
fn sibling(target: &Path, tag: &str) -> Result<PathBuf> {
    let name = target
        .file_name()
        .with_context(|| format!("{}: names no folder", target.display()))?;
    Ok(target.with_file_name(format!(
        ".{}.{tag}-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )))
}

fn sync_dir(dir: &Path) {
    // Persists renames and new entries; not every platform can sync a folder.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Swaps the folders `a` and `b` in one step, if the platform and file system can.
fn exchange(a: &Path, b: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let (Ok(ca), Ok(cb)) = (
            std::ffi::CString::new(a.as_os_str().as_bytes()),
            std::ffi::CString::new(b.as_os_str().as_bytes()),
        ) else {
            return false;
        };
        // SAFETY: two NUL-terminated paths that live across the call; the flag asks the
        // kernel to swap both entries atomically or to change nothing.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                ca.as_ptr(),
                libc::AT_FDCWD,
                cb.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        r == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        false
    }
}

/// The output folder of one experiment or run, replaced whole when committed (see the
/// module documentation). Files are written into a hidden staging folder beside the
/// target; dropping it uncommitted removes the staging folder and leaves the target as it
/// was.
#[derive(Debug)]
pub struct ExperimentDir {
    target: PathBuf,
    staging: PathBuf,
    outside: Vec<ManifestEntry>,
    committed: bool,
}

impl ExperimentDir {
    /// The output folder `out_root/name`, staged beside it.
    ///
    /// `name` must be a non-empty relative path without `..` components. `out_root` and
    /// the target's parents are created, the leftovers of interrupted runs there cleaned,
    /// and an existing target checked to be replaceable ([`check_replaceable`]) — all
    /// before anything is computed.
    pub fn create(out_root: &Path, name: &str) -> Result<Self> {
        let rel = Path::new(name);
        let bad = name.is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if bad {
            bail!("invalid experiment name {name:?}: must be a plain relative path");
        }
        Self::at(&out_root.join(rel))
    }

    /// The output folder `target` (e.g. `memsnn run --out`), staged beside it.
    pub fn at(target: &Path) -> Result<Self> {
        let target = plain(target);
        let parent = parent_of(&target)?;
        prepare_parent(&parent)?;
        check_replaceable(&target)?;
        let staging = sibling(&target, "tmp")?;
        fs::create_dir(&staging)
            .with_context(|| format!("{}: cannot create", staging.display()))?;
        Ok(Self {
            target,
            staging,
            outside: Vec::new(),
            committed: false,
        })
    }

    /// The folder's final path (where it is once committed).
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// The staging folder the files are written into until the commit.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// The path to write file `name` to (inside the staging folder; not created).
    pub fn file(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Writes `bytes` to file `name` and returns the path it will have once committed.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.file(name);
        if let Some(d) = path.parent() {
            fs::create_dir_all(d).with_context(|| format!("{}: cannot create", d.display()))?;
        }
        fs::write(&path, bytes)
            .with_context(|| format!("{}: write failed", self.target.join(name).display()))?;
        Ok(self.target.join(name))
    }

    /// Writes a CSV file (comma separated, `\n` line endings, RFC-4180 quoting of fields
    /// containing `,`, `"`, CR or LF) and returns the path it will have once committed.
    ///
    /// Every row must have exactly `header.len()` fields, otherwise nothing is written and
    /// an error names the file and the offending row (0-based).
    pub fn write_csv(&self, file: &str, header: &[&str], rows: &[Vec<String>]) -> Result<PathBuf> {
        if let Some((i, r)) = rows
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != header.len())
        {
            bail!(
                "{}: row {i} has {} fields, header has {}",
                self.target.join(file).display(),
                r.len(),
                header.len()
            );
        }
        let mut out = String::new();
        super::push_csv_line(&mut out, header.iter().copied());
        for r in rows {
            super::push_csv_line(&mut out, r.iter().map(String::as_str));
        }
        self.write_bytes(file, out.as_bytes())
    }

    /// Writes `value` as pretty-printed JSON with a trailing newline and returns the path
    /// it will have once committed.
    pub fn write_json(&self, file: &str, value: &serde_json::Value) -> Result<PathBuf> {
        let mut s = serde_json::to_string_pretty(value).with_context(|| {
            format!(
                "{}: cannot serialise JSON",
                self.target.join(file).display()
            )
        })?;
        s.push('\n');
        self.write_bytes(file, s.as_bytes())
    }

    /// Writes `text` verbatim and returns the path it will have once committed.
    pub fn write_text(&self, file: &str, text: &str) -> Result<PathBuf> {
        self.write_bytes(file, text.as_bytes())
    }

    /// Lists a file the same run writes outside the folder (already complete at `staged`,
    /// to be renamed to `target` after the commit) in the manifest's `outside` list.
    pub fn note_outside(&mut self, staged: &Path, target: &Path) -> Result<()> {
        let (bytes, sha256) = hash_file(staged, true)?;
        self.outside.push(ManifestEntry {
            path: target.display().to_string(),
            bytes,
            sha256,
        });
        Ok(())
    }

    /// Syncs every file, writes the manifest, and puts the folder in place of the target
    /// (see the module documentation); returns the final path.
    pub fn commit(mut self) -> Result<PathBuf> {
        let mut files = Vec::new();
        for (rel, full) in list_files(&self.staging)? {
            if rel == MANIFEST {
                continue;
            }
            let (bytes, sha256) = hash_file(&full, true)?;
            files.push(ManifestEntry {
                path: rel,
                bytes,
                sha256,
            });
        }
        let manifest = Manifest {
            files,
            outside: std::mem::take(&mut self.outside),
        };
        let mut text = serde_json::to_string_pretty(&manifest).context("manifest")?;
        text.push('\n');
        let mpath = self.staging.join(MANIFEST);
        let mut f =
            File::create(&mpath).with_context(|| format!("{}: cannot create", mpath.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("{}: write failed", mpath.display()))?;
        sync_dir(&self.staging);
        let parent = parent_of(&self.target)?;
        let at = self.target.display().to_string();
        if fs::symlink_metadata(&self.target).is_err() {
            fs::rename(&self.staging, &self.target)
                .with_context(|| format!("{at}: cannot move the new result in place"))?;
        } else if exchange(&self.staging, &self.target) {
            // The staging name now holds the earlier result.
            sync_dir(&parent);
            let _ = fs::remove_dir_all(&self.staging);
        } else {
            let old = sibling(&self.target, "old")?;
            fs::rename(&self.target, &old)
                .with_context(|| format!("{at}: cannot move the earlier result aside"))?;
            if let Err(e) = fs::rename(&self.staging, &self.target) {
                let _ = fs::rename(&old, &self.target);
                return Err(e)
                    .with_context(|| format!("{at}: cannot move the new result in place"));
            }
            sync_dir(&parent);
            let _ = fs::remove_dir_all(&old);
        }
        sync_dir(&parent);
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for ExperimentDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// A file outside any output folder (`--save-weights`, `--plot`) staged as a hidden
/// temporary file beside its target from the start (so an unwritable place is found before
/// the run) and renamed over it by [`StagedFile::commit`]; dropped uncommitted, it is
/// removed.
#[derive(Debug)]
pub struct StagedFile {
    target: PathBuf,
    staged: PathBuf,
    committed: bool,
}

impl StagedFile {
    /// Stages `target`: creates its parents, cleans the leftovers of interrupted runs
    /// there, refuses a folder, and creates the (empty) temporary file. `suffix` is kept
    /// at the end of the temporary name (e.g. `.png` for an image encoder that reads it).
    pub fn new(target: &Path, suffix: &str) -> Result<Self> {
        let at = target.display();
        if target.is_dir() {
            bail!("{at}: is a folder; name a file in it");
        }
        let target = plain(target);
        let parent = parent_of(&target)?;
        prepare_parent(&parent)?;
        let (staged, _) = super::temp_path_for(&target, suffix)?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staged)
            .with_context(|| format!("{at}: cannot write beside it"))?;
        Ok(Self {
            target,
            staged,
            committed: false,
        })
    }

    /// Where to write the content until the commit.
    pub fn staged(&self) -> &Path {
        &self.staged
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Syncs the staged file and renames it over the target.
    pub fn commit(mut self) -> Result<PathBuf> {
        let dir = parent_of(&self.target)?;
        super::commit_temp(&self.staged, &dir, &self.target)?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.staged);
        }
    }
}
