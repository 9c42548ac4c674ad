//! The loop from the write-ahead log to the store: read, normalize, append, commit, release.

use crate::{EventStore, StoreError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use yagura_collect::raw::{decode, Format};
use yagura_collect::wal::Wal;
use yagura_event::Record;
use yagura_normalize::arrival::{Arrival, Normalizer};
use yagura_normalize::parse::{write_json, Outcome};

/// Counters of the indexer, readable while it runs.
#[derive(Debug, Default)]
pub struct IndexerStats {
    /// Events stored.
    pub events: AtomicU64,
    /// Of those, events no parser understood (kept with `message` and `event.original`).
    pub unparsed: AtomicU64,
    /// Records that were not events (Zeek headers, empty HEC events).
    pub skipped: AtomicU64,
    /// Log records that could not be decoded (damage).
    pub damaged: AtomicU64,
    /// Sequence number of the last stored event.
    pub last_seq: AtomicU64,
}

/// Reads the log from the store's last event on, normalizes, stores.
pub struct Indexer<S: EventStore> {
    wal: Arc<dyn Wal>,
    store: S,
    normalizer: Normalizer,
    /// Counters.
    pub stats: Arc<IndexerStats>,
    /// Records read from the log per commit.
    pub batch: usize,
}

impl<S: EventStore> Indexer<S> {
    /// An indexer over `wal` into `store`.
    pub fn new(wal: Arc<dyn Wal>, store: S) -> Self {
        let stats = Arc::new(IndexerStats::default());
        stats.last_seq.store(store.last_seq(), Ordering::Relaxed);
        // Everything the store holds is done with in the log.
        wal.release(store.last_seq());
        Self {
            wal,
            store,
            normalizer: Normalizer::new(),
            stats,
            batch: 8192,
        }
    }

    /// Processes what the log holds now; returns how many records were read.
    pub fn step(
        &mut self,
        cursor: &mut dyn yagura_collect::wal::WalCursor,
        records: &mut yagura_collect::wal::Records,
        rec: &mut Record,
        json: &mut Vec<u8>,
    ) -> Result<usize, StoreError> {
        records.clear();
        let n = cursor.read(self.batch, records)?;
        if n == 0 {
            return Ok(0);
        }
        let mut last = 0;
        for (seq, payload) in records.iter() {
            last = seq;
            let Ok(raw) = decode(payload) else {
                self.stats.damaged.fetch_add(1, Ordering::Relaxed);
                tracing::error!("write-ahead log record {seq}: cannot be decoded; skipped");
                continue;
            };
            let env = raw.envelope;
            let text = String::from_utf8_lossy(raw.data);
            let arrival = Arrival {
                listener: env.listener,
                source_type: env.source_type,
                peer: env.peer,
                host: env.host,
                stream: env.stream,
                offset: env.offset,
                received_ms: env.received_ms,
                json: env.format == Format::Json,
            };
            match self.normalizer.normalize(&arrival, &text, rec) {
                Outcome::Event { parsed, .. } => {
                    if !parsed {
                        self.stats.unparsed.fetch_add(1, Ordering::Relaxed);
                    }
                    json.clear();
                    write_json(rec, json);
                    self.store.append(seq, json)?;
                    self.stats.events.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Skip => {
                    self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        // Every record up to `last` is done: stored, or nothing to store.
        self.store.commit()?;
        self.stats.last_seq.store(last, Ordering::Relaxed);
        self.wal.release(last);
        Ok(n)
    }

    /// Runs until `stop` is set and the log is drained.
    pub fn run(mut self, stop: Arc<AtomicBool>) -> Result<(), StoreError> {
        let mut cursor = self.wal.cursor(self.store.last_seq() + 1)?;
        let mut records = yagura_collect::wal::Records::default();
        let mut rec = Record::new();
        let mut json = Vec::with_capacity(4096);
        loop {
            let n = self.step(cursor.as_mut(), &mut records, &mut rec, &mut json)?;
            if n == 0 {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}
