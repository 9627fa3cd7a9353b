//! Probe records streamed to disk with a fixed memory cost, written out in canonical order.
//!
//! A [`Spool`] takes records in batches as an executor hands them over (each component's
//! records in its handling order, components interleaved in any way). It holds at most
//! [`Spool::RUN_RECORDS`] in memory; a full buffer is sorted (stably) into canonical order
//! and written as one *run*: a file of compact records (time u64, component u32, kind u16,
//! index u32, value f64: 26 bytes; kinds interned). [`Spool::write_csv`] merges the runs
//! (a k-way merge whose ties go to the earlier run) into the CSV of
//! [`crate::engine::probe::to_csv`].
//!
//! The merged order is the stable canonical sort of every record in arrival order: two
//! records with equal keys `(time, component, kind, index)` belong to one component, so
//! the earlier run holds the one it made first. So the CSV is byte-identical to sorting
//! everything in memory, on every executor and worker count. At most
//! [`Spool::MAX_RUNS`] runs are kept: reaching it, they are merged into one.

use crate::engine::event::CompId;
use crate::engine::probe::{canonical_sort, Record};
use serde::{Deserialize, Serialize};
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Bytes of one record in a run file.
const RECORD_BYTES: usize = 26;

/// Probe records spooled to run files in a folder of their own.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    kinds: Vec<&'static str>,
    buffer: Vec<Record>,
    runs: Vec<PathBuf>,
    next_run: u64,
    records: u64,
    run_records: usize,
}

/// Where a spool stands, for a checkpoint: its run files (by name) and counters. The runs
/// are immutable once written, so a checkpoint links them rather than copying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpoolState {
    /// The record kinds, in the order of their ids in the run files.
    pub kinds: Vec<String>,
    /// The run files' names, oldest first.
    pub runs: Vec<String>,
    /// The number of the last run file made.
    pub next_run: u64,
    /// Records taken so far.
    pub records: u64,
}

/// One record of a run, compact.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Packed {
    time: u64,
    comp: u32,
    kind: u16,
    index: u32,
    value: f64,
}

impl Packed {
    fn write(&self, w: &mut impl Write) -> io::Result<()> {
        let mut b = [0u8; RECORD_BYTES];
        b[0..8].copy_from_slice(&self.time.to_le_bytes());
        b[8..12].copy_from_slice(&self.comp.to_le_bytes());
        b[12..14].copy_from_slice(&self.kind.to_le_bytes());
        b[14..18].copy_from_slice(&self.index.to_le_bytes());
        b[18..26].copy_from_slice(&self.value.to_le_bytes());
        w.write_all(&b)
    }

    fn read(r: &mut impl Read) -> io::Result<Option<Packed>> {
        let mut b = [0u8; RECORD_BYTES];
        match r.read_exact(&mut b) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        Ok(Some(Packed {
            time: u64_at(0),
            comp: u32_at(8),
            kind: u16::from_le_bytes([b[12], b[13]]),
            index: u32_at(14),
            value: f64::from_bits(u64_at(18)),
        }))
    }
}

/// A run being merged: its next record and its reader.
struct Head {
    rec: Packed,
    /// The kind's rank in string order (the canonical order compares kinds as strings).
    kind_rank: u16,
    run: usize,
}

impl Head {
    fn key(&self) -> (u64, u32, u16, u32, usize) {
        (
            self.rec.time,
            self.rec.comp,
            self.kind_rank,
            self.rec.index,
            self.run,
        )
    }
}

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    fn cmp(&self, o: &Self) -> Ordering {
        self.key().cmp(&o.key())
    }
}

impl Spool {
    /// Records held in memory before a run is written (~40 bytes each).
    pub const RUN_RECORDS: usize = 1 << 16;
    /// Runs kept before they are merged into one (each open with a 64 KiB buffer while
    /// merging).
    pub const MAX_RUNS: usize = 64;

    /// A spool writing its runs into `dir` (created; removed with the spool).
    pub fn new(dir: &Path) -> io::Result<Spool> {
        Self::with_run_records(dir, Self::RUN_RECORDS)
    }

    /// [`Spool::new`] holding at most `run_records` (≥ 1) records in memory.
    pub fn with_run_records(dir: &Path, run_records: usize) -> io::Result<Spool> {
        fs::create_dir_all(dir)?;
        let run_records = run_records.max(1);
        Ok(Spool {
            dir: dir.to_path_buf(),
            kinds: Vec::new(),
            buffer: Vec::with_capacity(run_records),
            runs: Vec::new(),
            next_run: 0,
            records: 0,
            run_records,
        })
    }

    /// Writes the records held in memory as a run and returns where the spool stands
    /// with the paths of its run files (for a checkpoint; the merged CSV does not depend
    /// on where runs begin and end).
    pub fn save_state(&mut self) -> io::Result<(SpoolState, Vec<PathBuf>)> {
        self.spill()?;
        let runs = self
            .runs
            .iter()
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| io::Error::other("a run file without a name"))
            })
            .collect::<io::Result<_>>()?;
        let state = SpoolState {
            kinds: self.kinds.iter().map(|k| k.to_string()).collect(),
            runs,
            next_run: self.next_run,
            records: self.records,
        };
        Ok((state, self.runs.clone()))
    }

    /// A spool in `dir` (created) standing where `state` says, its run files taken from
    /// the folder `from` (hard-linked, or copied where links are not possible).
    ///
    /// Record kinds are `&'static str` (components name them with literals); a resumed
    /// spool's kinds are leaked once, a few bytes each.
    pub fn resume(
        dir: &Path,
        run_records: usize,
        state: &SpoolState,
        from: &Path,
    ) -> io::Result<Spool> {
        let mut spool = Spool::with_run_records(dir, run_records)?;
        for name in &state.runs {
            let (src, dst) = (from.join(name), dir.join(name));
            if name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(io::Error::other(format!(
                    "{}: not a run file name",
                    src.display()
                )));
            }
            if fs::hard_link(&src, &dst).is_err() {
                fs::copy(&src, &dst)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", src.display())))?;
            }
            spool.runs.push(dst);
        }
        spool.kinds = state
            .kinds
            .iter()
            .map(|k| &*Box::leak(k.clone().into_boxed_str()))
            .collect();
        spool.next_run = state.next_run;
        spool.records = state.records;
        Ok(spool)
    }

    /// Run files on disk now (at most [`Spool::MAX_RUNS`]).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Records taken so far.
    pub fn len(&self) -> u64 {
        self.records
    }

    /// Whether no record was taken.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Takes a batch of records (each component's in the order it made them).
    pub fn push(&mut self, records: Vec<Record>) -> io::Result<()> {
        self.records += records.len() as u64;
        for r in records {
            self.buffer.push(r);
            if self.buffer.len() >= self.run_records {
                self.spill()?;
            }
        }
        Ok(())
    }

    fn kind_id(&mut self, kind: &'static str) -> io::Result<u16> {
        if let Some(i) = self.kinds.iter().position(|k| *k == kind) {
            return Ok(i as u16);
        }
        let id = u16::try_from(self.kinds.len())
            .map_err(|_| io::Error::other("more than 65536 probe record kinds"))?;
        self.kinds.push(kind);
        Ok(id)
    }

    fn new_run_path(&mut self) -> PathBuf {
        self.next_run += 1;
        self.dir.join(format!("run-{:06}.bin", self.next_run))
    }

    /// Sorts the buffer and writes it as a run.
    fn spill(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        if self.runs.len() >= Self::MAX_RUNS {
            self.compact()?;
        }
        canonical_sort(&mut self.buffer);
        let path = self.new_run_path();
        let mut w = BufWriter::with_capacity(1 << 16, File::create(&path)?);
        let buffer = std::mem::take(&mut self.buffer);
        for r in &buffer {
            let kind = self.kind_id(r.kind)?;
            Packed {
                time: r.time,
                comp: r.comp,
                kind,
                index: r.index,
                value: r.value,
            }
            .write(&mut w)?;
        }
        w.flush()?;
        self.buffer = buffer;
        self.buffer.clear();
        self.runs.push(path);
        Ok(())
    }

    /// Merges every run into one.
    fn compact(&mut self) -> io::Result<()> {
        let path = self.new_run_path();
        let mut w = BufWriter::with_capacity(1 << 16, File::create(&path)?);
        self.merge(|p, _| p.write(&mut w))?;
        w.flush()?;
        for r in std::mem::take(&mut self.runs) {
            let _ = fs::remove_file(r);
        }
        self.runs.push(path);
        Ok(())
    }

    /// Calls `each` with every spooled record in canonical order (and its kind).
    fn merge(
        &self,
        mut each: impl FnMut(&Packed, &'static str) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut order: Vec<u16> = (0..self.kinds.len() as u16).collect();
        order.sort_by_key(|&k| self.kinds[k as usize]);
        let mut rank = vec![0u16; self.kinds.len()];
        for (r, &k) in order.iter().enumerate() {
            rank[k as usize] = r as u16;
        }
        let mut readers = Vec::with_capacity(self.runs.len());
        let mut heap = BinaryHeap::with_capacity(self.runs.len());
        for (run, path) in self.runs.iter().enumerate() {
            let mut r = BufReader::with_capacity(1 << 16, File::open(path)?);
            if let Some(rec) = Packed::read(&mut r)? {
                heap.push(Reverse(Head {
                    rec,
                    kind_rank: rank[rec.kind as usize],
                    run,
                }));
            }
            readers.push(r);
        }
        while let Some(Reverse(h)) = heap.pop() {
            each(&h.rec, self.kinds[h.rec.kind as usize])?;
            if let Some(rec) = Packed::read(&mut readers[h.run])? {
                heap.push(Reverse(Head {
                    rec,
                    kind_rank: rank[rec.kind as usize],
                    run: h.run,
                }));
            }
        }
        Ok(())
    }

    /// Writes every record taken so far as CSV (`t_ns,component,kind,index,value`, the
    /// format of [`crate::engine::probe::to_csv`]) in canonical order, component names
    /// resolved by `name`; returns the number of records. The spool keeps them (it can be
    /// written again, or take more).
    pub fn write_csv(
        &mut self,
        out: &mut impl Write,
        name: impl Fn(CompId) -> String,
    ) -> io::Result<u64> {
        self.spill()?;
        out.write_all(b"t_ns,component,kind,index,value\n")?;
        let mut n = 0u64;
        self.merge(|r, kind| {
            n += 1;
            writeln!(
                out,
                "{},{},{},{},{:e}",
                r.time,
                name(r.comp),
                kind,
                r.index,
                r.value
            )
        })?;
        Ok(n)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::probe::to_csv;
    use proptest::prelude::*;

    const KINDS: [&str; 4] = ["spike", "g", "fire", "v_node1"];

    fn records() -> impl Strategy<Value = Vec<Record>> {
        // Few distinct times, components and indices: many equal keys, whose order must be
        // the order they came in.
        prop::collection::vec((0u64..6, 0u32..3, 0usize..4, 0u32..2), 0..300).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (time, comp, k, index))| Record {
                    time,
                    comp,
                    kind: KINDS[k],
                    index,
                    value: i as f64 * 0.5 - 3.0,
                })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Pushed in any batches with any run size, the spool writes what a stable sort of
        /// everything in arrival order writes.
        #[test]
        fn the_merge_is_the_stable_canonical_sort(
            recs in records(),
            run in 1usize..40,
            cut in 1usize..50,
        ) {
            let dir = std::env::temp_dir().join(format!(
                "memsnn-spool-{}-{run}-{cut}-{}", std::process::id(), recs.len()
            ));
            let mut spool = Spool::with_run_records(&dir, run).unwrap();
            for batch in recs.chunks(cut) {
                spool.push(batch.to_vec()).unwrap();
            }
            prop_assert!(spool.runs() <= Spool::MAX_RUNS);
            let name = |c: CompId| format!("c{c}");
            let mut got = Vec::new();
            let n = spool.write_csv(&mut got, name).unwrap();
            let mut all = recs.clone();
            canonical_sort(&mut all);
            prop_assert_eq!(n as usize, recs.len());
            prop_assert_eq!(String::from_utf8(got).unwrap(), to_csv(&all, name));
            drop(spool);
            prop_assert!(!dir.exists());
        }
    }
}
