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

/// What [`crate::InputFile::read_raw`] yields: like [`Item`], but EVTX records come as the
/// JSON text the `evtx` crate renders ([`RawItem::Json`]), not parsed, for callers that flatten
/// the text themselves. JSON inputs still give [`RawItem::Doc`].
#[derive(Debug)]
pub enum RawItem<'a> {
    /// A JSON document read from a JSON input.
    Doc {
        /// Where it comes from.
        loc: &'a Location,
        /// The document as the source holds it.
        doc: &'a serde_json::Value,
    },
    /// An EVTX record rendered as compact JSON text (valid UTF-8; the same text that
    /// [`Item::Doc`] holds parsed).
    Json {
        /// Where it comes from.
        loc: &'a Location,
        /// The record as JSON text: `{"Event": {..}}`.
        json: &'a str,
    },
    /// A part of the input that could not be read.
    Error(IngestError),
}

impl<'a> From<Item<'a>> for RawItem<'a> {
    fn from(item: Item<'a>) -> Self {
        match item {
            Item::Doc { loc, doc } => RawItem::Doc { loc, doc },
            Item::Error(e) => RawItem::Error(e),
        }
    }
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
