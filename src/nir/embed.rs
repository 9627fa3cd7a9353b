//! The files a topology names, carried inside a NIR graph: every reference to a device
//! set or a pattern file becomes either a built-in name (`builtin:ts_neuron`, kept as it
//! is) or a canonical file name (the file's own name) whose text travels in the graph's
//! metadata; importing writes those texts back as files and points the topology at them.
//! Canonical names make the embedded topology independent of where its files lay, so an
//! export of an imported topology carries the same text as the first export.

use anyhow::{anyhow, bail, Context, Result};
use runtime::model::topology::rules::MAX_PATTERN_FILE_BYTES;
use runtime::model::topology::schema::{Topology, BUILTIN_PREFIX};
use std::fs;
use std::path::Path;

/// A topology with canonical file references, and the files it names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embedded {
    /// The topology, its references built-in names or names of `files`.
    pub topology: Option<Topology>,
    /// `(canonical name, text)` of every file the topology names, in first-use order.
    pub files: Vec<(String, String)>,
    /// `(builtin:NAME, text)` of every built-in set it names (informative).
    pub builtins: Vec<(String, String)>,
}

/// Every file reference of `t`, mutably, in a fixed order.
fn references(t: &mut Topology) -> Vec<&mut String> {
    let mut refs: Vec<&mut String> = Vec::new();
    let d = &mut t.devices;
    refs.push(&mut d.ts);
    refs.push(&mut d.synapse);
    refs.push(&mut d.circuit);
    if let Some(l) = d.lia.as_mut() {
        refs.push(l);
    }
    if let Some(c) = d.comparator.as_mut() {
        refs.push(c);
    }
    for layer in &mut t.layers {
        if let Some(ts) = layer.ts.as_mut() {
            refs.push(ts);
        }
        if let Some(c) = layer.circuit.as_mut() {
            refs.push(c);
        }
    }
    if let Some(p) = t.patterns.as_mut() {
        refs.push(p);
    }
    refs
}

/// `topology` (whose relative paths start at `base_dir`) with canonical references, and
/// the texts of the files and built-in sets it names.
pub fn canonical(topology: &Topology, base_dir: &Path) -> Result<Embedded> {
    let mut t = topology.clone();
    let mut files: Vec<(String, String)> = Vec::new();
    let mut by_path: Vec<(String, String)> = Vec::new();
    let mut builtins: Vec<(String, String)> = Vec::new();
    for r in references(&mut t) {
        if let Some(name) = r.strip_prefix(BUILTIN_PREFIX) {
            let b = devices::builtin::named(name)
                .ok_or_else(|| anyhow!("unknown built-in parameter set `{r}`"))?;
            if !builtins.iter().any(|(n, _)| n == r) {
                builtins.push((r.clone(), b.text.to_string()));
            }
            continue;
        }
        if let Some((_, canon)) = by_path.iter().find(|(p, _)| p == r) {
            *r = canon.clone();
            continue;
        }
        let path = base_dir.join(r.as_str());
        let text = read_small(&path)?;
        let stem = Path::new(r.as_str())
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file.ron".to_string());
        let mut name = stem.clone();
        let mut n = 2;
        while let Some((_, other)) = files.iter().find(|(f, _)| *f == name) {
            if *other == text {
                break;
            }
            name = format!("{n}_{stem}");
            n += 1;
        }
        if !files.iter().any(|(f, _)| *f == name) {
            files.push((name.clone(), text));
        }
        by_path.push((r.clone(), name.clone()));
        *r = name;
    }
    Ok(Embedded {
        topology: Some(t),
        files,
        builtins,
    })
}

fn read_small(path: &Path) -> Result<String> {
    let len = fs::metadata(path)
        .with_context(|| format!("{}: cannot read", path.display()))?
        .len();
    if len > MAX_PATTERN_FILE_BYTES {
        bail!("{}: {len} bytes, too large to embed", path.display());
    }
    fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))
}

/// Writes `files` into `out_dir/folder/` and points `topology`'s canonical references at
/// them (`folder/NAME`); built-in names stay. A reference that is neither is an error.
pub fn restore(
    mut topology: Topology,
    files: &[(String, String)],
    out_dir: &Path,
    folder: &str,
) -> Result<Topology> {
    let mut used = Vec::new();
    for r in references(&mut topology) {
        if r.starts_with(BUILTIN_PREFIX) {
            continue;
        }
        if !files.iter().any(|(n, _)| n == r) {
            bail!("the embedded topology names `{r}`, which the graph does not carry");
        }
        used.push(r.clone());
        *r = format!("{folder}/{r}");
    }
    if files.is_empty() {
        return Ok(topology);
    }
    let dir = out_dir.join(folder);
    fs::create_dir_all(&dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    for (name, text) in files {
        if name.contains('/') || name.contains('\\') || name.starts_with('.') {
            bail!("embedded file name `{name}` is not a plain file name");
        }
        crate::output::atomic_write(&dir.join(name), text.as_bytes())?;
    }
    Ok(topology)
}
