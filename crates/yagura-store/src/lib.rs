//! Storage: where normalized events are kept, and the loop that feeds it from the
//! write-ahead log.
//!
//! **Owns:** the [`EventStore`] trait (append with the log's sequence number, commit, the last
//! committed number); its embedded default [`Store`] (time partitions per source of zstd blocks,
//! each block a leaf of a BLAKE3 Merkle log whose heads are signed with ed25519, and a tantivy
//! index per partition; see `store.rs`), the query language ([`query`]) and its execution
//! ([`search`]), `import`, `verify` and `prove`; the older [`Journal`] (NDJSON segments, still
//! read by `yagura dump`); and [`Indexer`], which reads the log from the store's last committed number,
//! normalizes each record and appends it. Because the store keeps each event's sequence
//! number and resumes after the last one it holds, a restart at any point neither loses nor
//! duplicates an event: exactly once from log to store.
//!
//! **Must not:** listen to the network (that is `yagura-collect`) or parse records (that is
//! `yagura-normalize`), or hold more than one flush of events in memory.

#![warn(missing_docs)]

pub mod block;
pub mod import;
pub mod index;
mod indexer;
mod journal;
pub mod merkle;
pub mod proof;
pub mod query;
pub mod search;
pub mod store;
pub mod verify;

pub use indexer::{Indexer, IndexerStats, NoTap, Tap};
pub use journal::{read_events, Journal};
pub use search::{Reader, SearchOptions, SearchStats};
pub use store::{Limit, Store, StoreConfig};

/// Maps an I/O error on `path` to [`StoreError::Io`].
pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Errors of a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Disk I/O failed.
    #[error("{path}: {source}")]
    Io {
        /// File or folder.
        path: std::path::PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The log could not be read.
    #[error(transparent)]
    Wal(#[from] yagura_collect::wal::WalError),
    /// Stored data is damaged or inconsistent.
    #[error("{0}")]
    Corrupt(String),
    /// The index failed.
    #[error("index: {0}")]
    Index(String),
    /// A query could not be run.
    #[error("query: {0}")]
    Query(String),
    /// The store cannot take an event (its document is not a JSON object); the event is
    /// reported and skipped, the others go on.
    #[error("{0}")]
    Rejected(String),
    /// A [`Tap`] (a second consumer of the indexer's events) failed.
    #[error("{0}")]
    Tap(String),
}

/// Where normalized events go.
pub trait EventStore: Send + Sync {
    /// What [`EventStore::prepare`] makes of an event before it is appended.
    type Prepared: Send;
    /// The part of storing an event that needs no store state (for the embedded store:
    /// parsing the document, its partition, its index entry). The indexer runs it on its
    /// normalizing lanes, in parallel, so that [`EventStore::append`], which runs in sequence
    /// order on one thread, only places the event. [`StoreError::Rejected`]: the store cannot
    /// take `doc`.
    fn prepare(&self, doc: &[u8]) -> Result<Self::Prepared, StoreError>;
    /// [`EventStore::prepare`] of a normalized event, given as its record and as the JSON
    /// that [`yagura_normalize::parse::write_json`] wrote of it (`doc`, what is appended). A
    /// store that can read the record need not parse `doc` back.
    fn prepare_record(
        &self,
        rec: &yagura_event::Record,
        doc: &[u8],
    ) -> Result<Self::Prepared, StoreError> {
        let _ = rec;
        self.prepare(doc)
    }
    /// Appends one event (`doc`: a JSON object with dotted ECS keys, `prepared`: what
    /// [`EventStore::prepare`] made of it) with its log sequence number. Not durable until
    /// [`EventStore::commit`].
    fn append(&mut self, seq: u64, doc: &[u8], prepared: Self::Prepared) -> Result<(), StoreError>;
    /// Writes every appended event (readable, and kept if the process dies; kept across a
    /// power loss only once [`EventStore::sync`] has returned, or when the store syncs on commit).
    fn commit(&mut self) -> Result<(), StoreError>;
    /// Makes every committed event durable on disk; returns the last durable sequence number.
    /// The indexer releases the log only up to it, so a power loss cannot take events that
    /// the log no longer holds.
    fn sync(&mut self) -> Result<u64, StoreError>;
    /// The sequence number of the last durable event (0 when empty); the log is read from the
    /// next one.
    fn last_seq(&self) -> u64;
    /// Writes whatever the store holds back (at shutdown).
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Periodic upkeep (retention), called about once a minute.
    fn maintain(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
