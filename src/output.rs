//! Output files and folders (CSV, JSON, text, PNG), never seen half-written.
//!
//! An output *folder* ([`ExperimentDir`]: a `reproduce` experiment, `run --out`) is written
//! in a hidden staging folder beside its target and replaced whole, with a `manifest.json`
//! written last ([`folder`]). A single file outside such a folder goes through
//! [`atomic_write`] or [`StagedFile`]: the bytes are written to a hidden temporary file in
//! the target directory, flushed to disk and then renamed over the target. Every temporary
//! name carries the writing process's id, so the leftovers of a killed run are cleaned by
//! the next one ([`stale`]).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};

pub mod folder;
pub mod stale;

pub use folder::{
    absolute, check_replaceable, check_writable, prepare_parent, ExperimentDir, Manifest,
    ManifestEntry, StagedFile, MANIFEST,
};
pub use stale::{clean_stale, Leftover};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Returns a unique, hidden temporary path next to `path`
/// (`.{file}.tmp-{pid}-{counter}{suffix}`), plus the directory it lives in.
///
/// `suffix` lets callers keep an extension that a writer needs to see
/// (e.g. `.png` for the plotters bitmap encoder).
pub(crate) fn temp_path_for(path: &Path, suffix: &str) -> Result<(PathBuf, PathBuf)> {
    let file_name = path
        .file_name()
        .with_context(|| format!("{}: path has no file name", path.display()))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(
        ".{}.tmp-{}-{}{}",
        file_name.to_string_lossy(),
        std::process::id(),
        n,
        suffix
    );
    Ok((dir.join(tmp_name), dir))
}

/// Flushes `tmp` to disk and renames it over `target`; removes `tmp` on
/// failure. The directory entry is synced on a best-effort basis.
pub(crate) fn commit_temp(tmp: &Path, dir: &Path, target: &Path) -> Result<()> {
    let res = (|| -> Result<()> {
        OpenOptions::new()
            .write(true)
            .open(tmp)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("{}: cannot sync temporary file", target.display()))?;
        fs::rename(tmp, target)
            .with_context(|| format!("{}: cannot rename temporary file", target.display()))?;
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_file(tmp);
    } else if let Ok(d) = File::open(dir) {
        // Persist the rename itself; not all platforms allow syncing a dir.
        let _ = d.sync_all();
    }
    res
}

/// Atomically replaces the file at `path` with `bytes`.
///
/// The data is written to a uniquely named temporary file in the same
/// directory (`.{file}.tmp-{pid}-{counter}`), flushed with `sync_all` and
/// renamed over `path`. On any error the temporary file is removed and the
/// previous content of `path` (if any) is left untouched. Errors name the path.
/// The parent directory must already exist.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let (tmp, dir) = temp_path_for(path, "")?;
    let written = (|| -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("{}: cannot create temporary file", path.display()))?;
        f.write_all(bytes)
            .and_then(|_| f.flush())
            .with_context(|| format!("{}: write failed", path.display()))?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    commit_temp(&tmp, &dir, path)
}

/// Appends `text` to the file at `path` (created if missing) without ever losing what it
/// held: the old content plus `text` is written to a temporary file that replaces it
/// atomically ([`atomic_write`]). Parent directories are created.
pub fn append_text(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let mut bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", path.display())),
    };
    bytes.extend_from_slice(text.as_bytes());
    atomic_write(path, &bytes)
}

/// Quotes one CSV field per RFC 4180 when it contains `,`, `"`, CR or LF.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(crate) fn push_csv_line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&csv_field(f));
    }
    out.push('\n');
}

/// Formats a number for CSV output with `digits` significant digits
/// (at least 1).
///
/// Plain notation is used for `1e-3 <= |x| < 1e6` (integer digits are never
/// rounded away: `fmt_f(1234.567, 3) == "1235"`), scientific notation
/// otherwise (`fmt_f(1.5e-6, 3) == "1.5e-6"`); trailing zeros are trimmed and
/// `-0` prints as `0`. Non-finite values print as `NaN`, `inf` and `-inf`.
pub fn fmt_f(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = digits.max(1);
    let ax = x.abs();
    let s = if (1e-3..1e6).contains(&ax) {
        let mag = ax.log10().floor() as i64;
        let dec = (digits as i64 - 1 - mag).max(0) as usize;
        trim_zeros(format!("{x:.dec$}"))
    } else {
        let s = format!("{:.*e}", digits - 1, x);
        match s.split_once('e') {
            Some((m, e)) => format!("{}e{e}", trim_zeros(m.to_string())),
            None => s,
        }
    };
    if s.strip_prefix('-')
        .is_some_and(|r| r.chars().all(|c| c == '0' || c == '.'))
    {
        s[1..].to_string()
    } else {
        s
    }
}

fn trim_zeros(s: String) -> String {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Renders an aligned plain-text table for terminal output.
///
/// Columns are separated by two spaces, the header is underlined with `-`,
/// cells that parse as numbers are right-aligned and others left-aligned.
/// Rows may be shorter or longer than the header (missing cells are blank).
/// The result ends with a newline (empty input gives an empty string).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let ncol = rows
        .iter()
        .map(Vec::len)
        .chain([header.len()])
        .max()
        .unwrap_or(0);
    if ncol == 0 {
        return String::new();
    }
    let width = |s: &str| s.chars().count();
    let mut w = vec![0usize; ncol];
    for (i, h) in header.iter().enumerate() {
        w[i] = w[i].max(width(h));
    }
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(width(c));
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            let pad = w[i] - width(c);
            let numeric = !c.is_empty() && c.trim().parse::<f64>().is_ok();
            if numeric {
                l.push_str(&" ".repeat(pad));
                l.push_str(c);
            } else {
                l.push_str(c);
                l.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    let hdr: Vec<&str> = (0..ncol)
        .map(|i| header.get(i).copied().unwrap_or(""))
        .collect();
    line(&mut hdr.iter().copied());
    let rule: Vec<String> = w.iter().map(|&n| "-".repeat(n)).collect();
    line(&mut rule.iter().map(String::as_str));
    for r in rows {
        let cells: Vec<&str> = (0..ncol)
            .map(|i| r.get(i).map_or("", String::as_str))
            .collect();
        line(&mut cells.iter().copied());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("memsnn-output-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let d = scratch("atomic");
        let p = d.join("a.txt");
        fs::write(&p, "old content that is longer").unwrap();
        atomic_write(&p, b"new").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        atomic_write(&p, b"newer").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "newer");
        assert!(leftovers(&d).is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn atomic_write_error_names_path() {
        let d = scratch("atomic-err");
        let p = d.join("missing-dir").join("x.txt");
        let e = atomic_write(&p, b"x").unwrap_err();
        assert!(format!("{e:#}").contains("x.txt"), "{e:#}");
        // The temp file is created but the rename over a non-empty dir fails.
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("sub").join("keep"), "k").unwrap();
        assert!(atomic_write(&d.join("sub"), b"x").is_err());
        assert!(leftovers(&d).is_empty());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn csv_quoting_and_row_length() {
        let d = scratch("csv");
        let ex = ExperimentDir::create(&d, "exp/run1").unwrap();
        assert!(ex.staging().is_dir() && !ex.path().exists());
        let rows = vec![
            vec!["plain".to_string(), "a,b".into(), "say \"hi\"".into()],
            vec!["line\nbreak".to_string(), "".into(), fmt_f(0.5, 3)],
        ];
        ex.write_csv("t.csv", &["x", "y", "z"], &rows).unwrap();
        assert_eq!(
            fs::read_to_string(ex.file("t.csv")).unwrap(),
            "x,y,z\nplain,\"a,b\",\"say \"\"hi\"\"\"\n\"line\nbreak\",,0.5\n"
        );
        let bad = vec![vec!["1".to_string(), "2".into()]];
        let e = ex.write_csv("bad.csv", &["x", "y", "z"], &bad).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("bad.csv") && msg.contains("row 0"), "{msg}");
        assert!(!ex.file("bad.csv").exists());
        assert!(ExperimentDir::create(&d, "../escape").is_err());
        assert!(ExperimentDir::create(&d, "").is_err());
        let at = ex.commit().unwrap();
        assert!(at.join("t.csv").is_file());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn json_and_text() {
        let d = scratch("json");
        let ex = ExperimentDir::create(&d, "e").unwrap();
        let p = ex
            .write_json("s.json", &serde_json::json!({"a": 1}))
            .unwrap();
        assert_eq!(p, d.join("e").join("s.json"));
        let p = ex.write_text("n.txt", "hello").unwrap();
        let dir = ex.commit().unwrap();
        let s = fs::read_to_string(dir.join("s.json")).unwrap();
        assert!(s.ends_with("}\n") && s.contains("\"a\": 1"));
        assert_eq!(fs::read_to_string(p).unwrap(), "hello");
        assert!(leftovers(&d).is_empty() && leftovers(&dir).is_empty());
        Manifest::read(&dir).unwrap().verify(&dir).unwrap();
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn number_formatting() {
        assert_eq!(fmt_f(f64::NAN, 3), "NaN");
        assert_eq!(fmt_f(f64::NEG_INFINITY, 3), "-inf");
        assert_eq!(fmt_f(0.0, 3), "0");
        assert_eq!(fmt_f(-0.0001e-9, 3), "-1e-13");
        assert_eq!(fmt_f(1.5e-6, 3), "1.5e-6");
        assert_eq!(fmt_f(1234.567, 3), "1235");
        assert_eq!(fmt_f(0.123456, 3), "0.123");
        assert_eq!(fmt_f(2.0, 4), "2");
        assert_eq!(fmt_f(-0.00049, 1), "-5e-4");
        assert_eq!(fmt_f(2.5e7, 2), "2.5e7");
        assert_eq!(fmt_f(1.0, 2).parse::<f64>().unwrap(), 1.0);
    }

    #[test]
    fn table_alignment() {
        let t = table(
            &["name", "value"],
            &[
                vec!["a".into(), "1.5".into()],
                vec!["longer".into(), "10".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "name    value");
        assert_eq!(lines[1], "------  -----");
        assert_eq!(lines[2], "a         1.5");
        assert_eq!(lines[3], "longer     10");
        assert_eq!(table(&[], &[]), "");
    }
}
