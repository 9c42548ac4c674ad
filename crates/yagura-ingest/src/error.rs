//! The one error type of the crate: what could not be read, and where.

/// Something that could not be read: a file, an archive entry, a chunk or a record.
///
/// Displayed as `path/to/file.evtx: record 17: <reason>` (or `path: <reason>` when no single
/// record is at fault, e.g. a whole chunk or an unreadable file).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{reason}", record_prefix(*.record))]
pub struct IngestError {
    /// Display path of the file; `archive.zip!entry.json` inside an archive.
    pub file: String,
    /// EVTX record id, or 1-based line / object number in a JSON file, when known.
    pub record: Option<u64>,
    /// What went wrong.
    pub reason: String,
}

fn record_prefix(record: Option<u64>) -> String {
    match record {
        Some(r) => format!("record {r}: "),
        None => String::new(),
    }
}

impl IngestError {
    /// An error about `file` as a whole (or a part of it that has no record number).
    pub fn file(file: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            record: None,
            reason: reason.into(),
        }
    }

    /// An error about one record of `file`.
    pub fn record(file: impl Into<String>, record: u64, reason: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            record: Some(record),
            reason: reason.into(),
        }
    }
}

/// `err` and all its sources, joined with `: ` (library errors often hide the cause in `source`).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
