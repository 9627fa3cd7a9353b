//! The shipped 30×10×10 network made long enough to be stopped in the middle, for the
//! tests of checkpoints and resumes (one process and MPI ranks).

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// The shipped topologies.
pub fn topologies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies")
}

/// The shipped 30×10×10 network with `repeats` more inference presentations (40 ms each,
/// noisy digits) and node voltages probed too: hundreds of steps and millions of probe
/// records, long enough to be killed in the middle.
pub fn long_msnn(dir: &Path, repeats: usize, amplitude: &str) -> PathBuf {
    let text = fs::read_to_string(topologies().join("msnn_30x10x10.ron")).unwrap();
    let last =
        "        Present(input: \"pixels\", pattern: \"0\", flips: 2, duration_us: 40000),\n";
    let more: String = (0..repeats)
        .map(|i| {
            format!(
                "        Rest(duration_us: 2000),\n        Present(input: \"pixels\", pattern: \
                 \"{}\", flips: 2, duration_us: 40000),\n",
                ["0", "1", "7"][i % 3]
            )
        })
        .collect();
    let edited = with_absolute_patterns(&text)
        .replace(
            "(target: \"hidden\", signals: [Spikes, Gates])",
            "(target: \"hidden\", signals: [Spikes, Gates, Node])",
        )
        .replace(last, &format!("{last}{more}"))
        .replace("amplitude_volts: 1.6", amplitude);
    assert!(edited.contains(&more) && edited.contains("Node"));
    let path = dir.join(format!("long-{repeats}.ron"));
    fs::write(&path, edited).unwrap();
    path
}

/// A copy of the shipped 30×10×10 text that can live in another folder: its pattern file
/// named by absolute path.
pub fn with_absolute_patterns(text: &str) -> String {
    let patterns = topologies().join("patterns/digits_6x5.ron");
    text.replace(
        "\"patterns/digits_6x5.ron\"",
        &format!("{:?}", patterns.display().to_string()),
    )
}
