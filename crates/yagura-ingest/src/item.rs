//! What reading a file yields: documents with their location, and errors.

use crate::IngestError;

/// Where a document comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// Display path of the file; `archive.zip!entry.json` for an archive entry.
    pub file: String,
    /// EVTX: the event record id from the record header. JSON: the 1-based line number (NDJSON)
    /// or object number (a JSON array, or pretty-printed objects one after another).
    pub record: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: record {}", self.file, self.record)
    }
}

/// One thing read from an input: a document, or an error after which reading goes on.
#[derive(Debug)]
pub enum Item<'a> {
    /// A JSON document (an EVTX record rendered as JSON, or one object of a JSON file).
    Doc {
        /// Where it comes from.
        loc: &'a Location,
        /// The document as the source holds it.
        doc: &'a serde_json::Value,
    },
    /// A part of the input that could not be read.
    Error(IngestError),
}

/// How to read inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Threads the `evtx` crate uses to parse the chunks of one file (0: one per core).
    pub evtx_threads: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self { evtx_threads: 1 }
    }
}
