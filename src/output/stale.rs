//! Leftovers of an interrupted run: hidden temporary files and folders
//! (`.NAME.tmp-PID-N[.ext]`, `.NAME.old-PID-N`) whose writing process is gone.
//!
//! Every temporary path memsnn creates carries the id of the process that made it, so a
//! later run can tell a crash's leftovers (the process no longer exists: removed, or, for
//! an earlier result moved aside whose replacement never arrived, moved back) from the
//! work of a run still going on (left alone and reported).

use std::fs;
use std::path::{Path, PathBuf};

/// What a temporary name says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TempName {
    /// The name of the file or folder it stands in for (`NAME`).
    pub target: String,
    /// `true` for an earlier result moved aside (`.old-`), `false` for one being written.
    pub old: bool,
    /// The process that made it.
    pub pid: u32,
}

/// Parses `.NAME.tmp-PID[-N][.ext]` and `.NAME.old-PID[-N]`.
pub(crate) fn parse_temp_name(name: &str) -> Option<TempName> {
    let body = name.strip_prefix('.')?;
    let (at, old) = [(".tmp-", false), (".old-", true)]
        .iter()
        .filter_map(|&(tag, old)| body.rfind(tag).map(|i| (i, old)))
        .max_by_key(|&(i, _)| i)?;
    let target = &body[..at];
    let rest = &body[at + 5..];
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let n = digits(rest);
    if target.is_empty() || n == 0 {
        return None;
    }
    let pid = rest[..n].parse().ok()?;
    let mut tail = &rest[n..];
    if let Some(t) = tail.strip_prefix('-') {
        let m = digits(t);
        if m == 0 {
            return None;
        }
        tail = &t[m..];
    }
    (tail.is_empty() || tail.starts_with('.')).then(|| TempName {
        target: target.to_string(),
        old,
        pid,
    })
}

/// Whether process `pid` exists (`None`: cannot tell on this platform).
fn alive(pid: u32) -> Option<bool> {
    #[cfg(unix)]
    {
        let Ok(p) = libc::pid_t::try_from(pid) else {
            return Some(false);
        };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let r = unsafe { libc::kill(p, 0) };
        if r == 0 {
            return Some(true);
        }
        Some(std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        None
    }
}

/// What [`clean_stale`] did with one leftover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Leftover {
    /// Removed: its process is gone.
    Removed(PathBuf),
    /// An earlier result moved aside by a process that died before its replacement was in
    /// place: moved back to its name (`from`, `to`).
    Restored(PathBuf, PathBuf),
    /// Left alone: its process is still running (or this platform cannot tell).
    InUse(PathBuf, u32),
}

impl std::fmt::Display for Leftover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leftover::Removed(p) => {
                write!(f, "removed {}, left by an interrupted run", p.display())
            }
            Leftover::Restored(from, to) => write!(
                f,
                "restored {} from {}, moved aside by an interrupted run",
                to.display(),
                from.display()
            ),
            Leftover::InUse(p, pid) => write!(
                f,
                "left {}: process {pid} that is writing it may still be running; remove it \
                 once it is not",
                p.display()
            ),
        }
    }
}

/// Cleans the leftovers of interrupted runs directly inside `dir` (not below), skipping
/// those of this process, and says what it did. A missing `dir` has none. Errors while
/// removing are reported as [`Leftover::InUse`]-free omissions: a leftover that cannot be
/// removed is simply kept.
pub fn clean_stale(dir: &Path) -> Vec<Leftover> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, TempName)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            parse_temp_name(&name).map(|t| (e.path(), t))
        })
        .filter(|(_, t)| t.pid != me)
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut done = Vec::new();
    for (path, t) in found {
        if alive(t.pid) != Some(false) {
            done.push(Leftover::InUse(path, t.pid));
            continue;
        }
        let target = dir.join(&t.target);
        if t.old && fs::symlink_metadata(&target).is_err() && fs::rename(&path, &target).is_ok() {
            done.push(Leftover::Restored(path, target));
            continue;
        }
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        if removed.is_ok() {
            done.push(Leftover::Removed(path));
        }
    }
    done
}

/// [`clean_stale`], printing what it did on standard error.
pub fn clean_stale_reporting(dir: &Path) {
    for l in clean_stale(dir) {
        eprintln!("note: {l}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names() {
        let t = parse_temp_name(".probes.csv.tmp-123-4").unwrap();
        assert_eq!(
            (t.target.as_str(), t.old, t.pid),
            ("probes.csv", false, 123)
        );
        let t = parse_temp_name(".fig.png.tmp-9-0.png").unwrap();
        assert_eq!((t.target.as_str(), t.pid), ("fig.png", 9));
        let t = parse_temp_name(".run.old-77-1").unwrap();
        assert_eq!((t.target.as_str(), t.old), ("run", true));
        assert_eq!(parse_temp_name(".w.ron.tmp-5").unwrap().pid, 5);
        for bad in [
            "run",
            ".tmp-1-2",
            ".a.tmp-",
            ".a.tmp-x",
            ".a.tmp-1-",
            ".a.tmp-1x",
        ] {
            assert_eq!(parse_temp_name(bad), None, "{bad}");
        }
    }
}
