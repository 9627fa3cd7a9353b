//! An executor whose probe records go to a [`Spool`] while it runs, so that a long protocol
//! holds a bounded number of records in memory.
//!
//! [`Streaming`] wraps any executor: it splits every `run_until` into chunks of simulated
//! time and hands the records of each chunk to the spool. Processing every event before
//! `t₁` and then every event before `t₂` is processing every event before `t₂` (events are
//! handled in their `(time, delta, dst, src, seq)` order and numbered independently of how
//! a run is split), so the results are those of the unsplit run. The chunk adapts to keep
//! about [`Spool::RUN_RECORDS`] records per chunk, never shorter than one CLK period.

use crate::engine::event::{CompId, Payload, Port};
use crate::engine::exec::{ExecError, Executor};
use crate::engine::network::Network;
use crate::engine::probe::Record;
use crate::engine::time::Ns;
use crate::model::spool::Spool;
use crate::model::topology::ProbeSelection;

/// Longest chunk, in CLK periods.
const MAX_CHUNK_PERIODS: u64 = 1 << 20;

/// An executor streaming its probe records into a spool (see the module documentation).
pub struct Streaming<'a> {
    inner: &'a mut dyn Executor,
    spool: &'a mut Spool,
    selection: &'a ProbeSelection,
    chunk_ns: Ns,
    period_ns: Ns,
    error: Option<std::io::Error>,
}

impl<'a> Streaming<'a> {
    /// Wraps `inner`; records the `selection` keeps go to `spool`.
    pub fn new(
        inner: &'a mut dyn Executor,
        spool: &'a mut Spool,
        selection: &'a ProbeSelection,
    ) -> Self {
        let period_ns = inner.clock().period_ns.max(1);
        Streaming {
            inner,
            spool,
            selection,
            chunk_ns: period_ns.saturating_mul(64),
            period_ns,
            error: None,
        }
    }

    /// Hands the records so far to the spool; returns how many.
    fn drain(&mut self) -> usize {
        let records = self.selection.filter(self.inner.take_records());
        let n = records.len();
        if n > 0 && self.error.is_none() {
            if let Err(e) = self.spool.push(records) {
                self.error = Some(e);
            }
        }
        n
    }

    /// The first error writing the spool, if any (records after it were dropped).
    pub fn finish(mut self) -> Result<(), std::io::Error> {
        self.drain();
        self.error.map_or(Ok(()), Err)
    }
}

impl Executor for Streaming<'_> {
    fn now(&self) -> Ns {
        self.inner.now()
    }

    fn inject(&mut self, at: Ns, dst: CompId, port: Port, payload: Payload) {
        self.inner.inject(at, dst, port, payload);
    }

    fn run_until(&mut self, until: Ns) {
        loop {
            let now = self.inner.now();
            if now >= until || self.inner.halted().is_some() {
                break;
            }
            let end = until.min(now.saturating_add(self.chunk_ns));
            self.inner.run_until(end);
            let n = self.drain();
            let max = self.period_ns.saturating_mul(MAX_CHUNK_PERIODS);
            if n > Spool::RUN_RECORDS {
                self.chunk_ns = (self.chunk_ns / 2).max(self.period_ns);
            } else if n < Spool::RUN_RECORDS / 8 && end - now == self.chunk_ns {
                self.chunk_ns = self.chunk_ns.saturating_mul(2).min(max);
            }
            if self.inner.now() < end {
                break; // stopped for good
            }
        }
    }

    fn run_instant(&mut self) {
        self.inner.run_instant();
        self.drain();
    }

    fn network(&self) -> &Network {
        self.inner.network()
    }

    fn network_of(&mut self, ids: &[CompId]) -> &Network {
        self.inner.network_of(ids)
    }

    fn clock(&self) -> crate::engine::time::Clock {
        self.inner.clock()
    }

    fn round_stats(&self) -> Option<crate::engine::exec::RoundStats> {
        self.inner.round_stats()
    }

    /// Records go to the spool: nothing is left to take.
    fn take_records(&mut self) -> Vec<Record> {
        self.drain();
        Vec::new()
    }

    fn handled_events(&self) -> u64 {
        self.inner.handled_events()
    }

    fn halted(&self) -> Option<&ExecError> {
        self.inner.halted()
    }
}
