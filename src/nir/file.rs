//! Reading and writing `.nir` files (HDF5, through `nir-rs` and libhdf5): bounded reads,
//! errors that name the file, and writes that replace the file whole.

use crate::output::{commit_temp, temp_path_for};
use anyhow::{bail, Context, Result};
use nir_rs::io::{ReadOptions, WriteOptions};
use nir_rs::NirGraph;
use std::fs;
use std::path::Path;

/// Largest `.nir` file read, bytes (a 784×6400 layer's weights and conductances, `f32`,
/// are ~40 MB).
pub const MAX_NIR_FILE_BYTES: u64 = 4 << 30;
/// Largest decoded allocation while reading one file, bytes (what `nir-rs` charges for
/// datasets and strings).
pub const MAX_DECODED_BYTES: usize = 8 << 30;

/// Turns off libhdf5's advisory file locks (`HDF5_USE_FILE_LOCKING=FALSE`, unless the
/// environment says otherwise): with them, libhdf5 1.10 refuses to open a file that was
/// just written while other threads of the process work on other files ("unable to
/// lock file", seen with parallel tests), and memsnn never has one file open twice.
fn no_file_locks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("HDF5_USE_FILE_LOCKING").is_none() {
            std::env::set_var("HDF5_USE_FILE_LOCKING", "FALSE");
        }
    });
}

/// Reads the NIR graph in `path`: a missing, oversized, non-HDF5, truncated or malformed
/// file is an error that names the file and what `nir-rs` found wrong (the group or
/// dataset where it has one).
pub fn read(path: &Path) -> Result<NirGraph> {
    let meta = fs::metadata(path).with_context(|| format!("{}: cannot read", path.display()))?;
    if !meta.is_file() {
        bail!("{}: not a file", path.display());
    }
    if meta.len() > MAX_NIR_FILE_BYTES {
        bail!(
            "{}: {} bytes, more than the {} bytes a .nir file may have",
            path.display(),
            meta.len(),
            MAX_NIR_FILE_BYTES
        );
    }
    let mut head = [0u8; 8];
    let is_hdf5 = fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .map(|()| head == *b"\x89HDF\r\n\x1a\n")
        .unwrap_or(false);
    if !is_hdf5 {
        bail!(
            "{}: not a NIR file (no HDF5 signature at its start; a .nir file is HDF5, as \
             `nir.write` writes it)",
            path.display()
        );
    }
    no_file_locks();
    let opts = ReadOptions::default().with_max_bytes(Some(MAX_DECODED_BYTES));
    nir_rs::io::read_with(path, &opts).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a readable NIR graph: {e} (truncated or not written by `nir.write`?)",
            path.display()
        )
    })
}

/// Writes `graph` to `path` (gzip-compressed datasets, as `nir.write` does), through a
/// temporary file beside it and a rename: the file is replaced whole or not at all.
pub fn write(path: &Path, graph: &NirGraph) -> Result<()> {
    no_file_locks();
    let (tmp, dir) = temp_path_for(path, ".nir")?;
    let opts = WriteOptions::default();
    if let Err(e) = nir_rs::io::write_with(&tmp, graph, &opts) {
        let _ = fs::remove_file(&tmp);
        bail!("{}: cannot write the NIR graph: {e}", path.display());
    }
    commit_temp(&tmp, &dir, path)
}

/// Checks, before any work, that `out` can be written as a file: not a folder; its folder
/// created if missing.
pub fn prepare_output(out: &Path) -> Result<()> {
    if out.is_dir() {
        bail!("{}: is a folder; name a file to write", out.display());
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    Ok(())
}
