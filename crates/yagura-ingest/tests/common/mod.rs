//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use yagura_ingest::{IngestError, InputFile, InputKind, Item, ReadOptions};

/// `/work/shared` beside the repository (CI lays it out the same way).
pub const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

pub fn shared(rel: &str) -> PathBuf {
    Path::new(SHARED).join(rel)
}

/// Everything one input yields.
#[derive(Default)]
pub struct Read {
    /// (location file, record, document)
    pub docs: Vec<(String, u64, serde_json::Value)>,
    pub errors: Vec<IngestError>,
}

pub fn read_file(path: &Path, kind: InputKind, threads: usize) -> Read {
    let file = InputFile {
        path: path.to_path_buf(),
        kind,
    };
    let mut out = Read::default();
    let opts = ReadOptions {
        evtx_threads: threads,
    };
    file.read(&opts, &mut |item| match item {
        Item::Doc { loc, doc } => out.docs.push((loc.file.clone(), loc.record, doc.clone())),
        Item::Error(e) => out.errors.push(e),
    });
    out
}

/// Counts only (for big files).
pub fn count(path: &Path, kind: InputKind) -> (u64, Vec<IngestError>) {
    let file = InputFile {
        path: path.to_path_buf(),
        kind,
    };
    let (mut n, mut errors) = (0, Vec::new());
    file.read(&ReadOptions { evtx_threads: 2 }, &mut |item| match item {
        Item::Doc { .. } => n += 1,
        Item::Error(e) => errors.push(e),
    });
    (n, errors)
}
