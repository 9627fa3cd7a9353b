//! Helpers shared by the integration tests that read image data.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use memsnn::data::idx::write_idx;

/// The shipped 300/100-digit MNIST fixture.
pub fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mnist-small")
}

/// A fresh, empty folder `group/name` under the test target's temporary folder.
pub fn scratch(group: &str, name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An IDX file's bytes.
pub fn idx(sizes: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    write_idx(&mut v, sizes, data).unwrap();
    v
}

/// `bytes` gzip-compressed.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}
