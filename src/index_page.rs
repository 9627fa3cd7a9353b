//! `OUT/index.html`: one page over the experiments of a `memsnn reproduce` run — the
//! paper-vs-memsnn table, every figure with its caption, and links to each experiment's
//! `summary.json` and CSV files — that a reader opens in a browser instead of a folder of
//! files.
//!
//! Every link is relative to the page (`NAME/file`), so the output folder can be moved or
//! archived whole. The page lists what each experiment folder holds when it is written
//! (after the experiments committed their folders) and is itself written atomically.

use crate::output::atomic_write;
use crate::report::{ExperimentReport, Row, TABLE_HEADER};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// File name of the page in the output folder.
pub const INDEX_FILE: &str = "index.html";

/// Writes `out/index.html` over `reports` (each report's folder must be under `out`);
/// returns its path.
pub fn write_index(out: &Path, reports: &[ExperimentReport]) -> Result<PathBuf> {
    let html = render(out, reports)?;
    let path = out.join(INDEX_FILE);
    atomic_write(&path, html.as_bytes())?;
    Ok(path)
}

/// The page's HTML (see [`write_index`]).
pub fn render(out: &Path, reports: &[ExperimentReport]) -> Result<String> {
    let mut h = String::new();
    h.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>memsnn: paper against simulation</title>\n<style>\n\
         body { font-family: sans-serif; max-width: 72em; margin: 2em auto; padding: 0 1em; }\n\
         table { border-collapse: collapse; }\n\
         td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }\n\
         figure { display: inline-block; margin: 0.5em; max-width: 46%; }\n\
         figure img { max-width: 100%; border: 1px solid #eee; }\n\
         </style>\n</head>\n<body>\n<h1>memsnn: the paper's statements against the simulation</h1>\n",
    );
    let rows: Vec<&Row> = reports.iter().flat_map(|r| &r.rows).collect();
    h.push_str("<table>\n<tr>");
    for c in TABLE_HEADER {
        let _ = write!(h, "<th>{}</th>", escape(c));
    }
    h.push_str("</tr>\n");
    for row in rows {
        h.push_str("<tr>");
        for (i, cell) in row.cells().iter().enumerate() {
            if i == 0 {
                let _ = write!(h, "<td><a href=\"#{0}\">{0}</a></td>", escape(cell));
            } else {
                let _ = write!(h, "<td>{}</td>", escape(cell));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    for r in reports {
        let rel = relative(out, &r.dir)?;
        let _ = writeln!(h, "<h2 id=\"{0}\">{0}</h2>", escape(&r.name));
        let files = files_of(&r.dir)?;
        let data: Vec<&String> = files
            .iter()
            .filter(|f| f.ends_with(".json") || f.ends_with(".csv"))
            .collect();
        if !data.is_empty() {
            h.push_str("<p>Data: ");
            for (i, f) in data.iter().enumerate() {
                if i > 0 {
                    h.push_str(" · ");
                }
                let _ = write!(h, "<a href=\"{}\">{}</a>", href(&rel, f), escape(f));
            }
            h.push_str("</p>\n");
        }
        for f in files.iter().filter(|f| f.ends_with(".png")) {
            let _ = writeln!(
                h,
                "<figure><a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"></a>\
                 <figcaption>{1}</figcaption></figure>",
                href(&rel, f),
                escape(&caption(&r.name, f)),
            );
        }
    }
    h.push_str("</body>\n</html>\n");
    Ok(h)
}

/// The caption of figure `file` of experiment `name`: its name in words.
fn caption(name: &str, file: &str) -> String {
    let stem = file.trim_end_matches(".png").replace(['_', '-'], " ");
    format!("{name}: {stem}")
}

/// The sorted names of the regular files in `dir` (not the manifest's own bookkeeping).
fn files_of(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    for e in entries {
        let e = e.with_context(|| format!("{}: cannot list", dir.display()))?;
        if e.file_type().is_ok_and(|t| t.is_file()) {
            if let Some(n) = e.file_name().to_str() {
                if !n.starts_with('.') {
                    names.push(n.to_string());
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

/// `dir` relative to `out` as `/`-separated text.
fn relative(out: &Path, dir: &Path) -> Result<String> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (out, dir) = (canon(out), canon(dir));
    let rel = dir.strip_prefix(&out).with_context(|| {
        format!(
            "{}: not inside the output folder {}",
            dir.display(),
            out.display()
        )
    })?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/"))
}

/// A relative link to `file` in folder `rel`, percent-encoding what a URL path cannot hold.
fn href(rel: &str, file: &str) -> String {
    let path = if rel.is_empty() {
        file.to_string()
    } else {
        format!("{rel}/{file}")
    };
    let mut s = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'-' | b'_' | b'~' => {
                s.push(b as char)
            }
            _ => {
                let _ = write!(s, "%{b:02X}");
            }
        }
    }
    s
}

/// `text` with the characters HTML gives a meaning escaped.
fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            _ => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_encoded_and_text_escaped() {
        assert_eq!(href("fig 5", "a&b.png"), "fig%205/a%26b.png");
        assert_eq!(escape("<1 µS & \"x\">"), "&lt;1 µS &amp; &quot;x&quot;&gt;");
        assert_eq!(
            caption("fig5", "conductance_maps.png"),
            "fig5: conductance maps"
        );
    }
}
