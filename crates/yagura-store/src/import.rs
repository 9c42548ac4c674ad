//! `yagura import`: files (EVTX, JSON, NDJSON, text logs, gzip/zip of them) into the store,
//! through the same readers (`yagura-ingest`) and parsers (`yagura-normalize`) as `hunt` and
//! `serve`. A record that cannot be read is reported with its file and line and skipped; the
//! import goes on.

use crate::store::Store;
use crate::StoreError;
use serde_json::{Map, Value};
use std::path::PathBuf;
use yagura_event::Record;
use yagura_ingest::{discover_with, RawItem, ReadOptions, TextItem};
use yagura_normalize::parse::{
    file_mtime_ms, is_text_log, write_json, Outcome, Parser, SourceType,
};

/// How records become events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Parse every record to ECS (the source type detected, or the one given).
    Normalize(SourceType),
    /// Lines are already ECS documents (NDJSON with `@timestamp`): stored as they are.
    Ecs,
}

/// What an import did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ImportReport {
    /// Files read.
    pub files: usize,
    /// Events stored.
    pub events: u64,
    /// Of those, events no parser understood (kept with `message` and `event.original`).
    pub unparsed: u64,
    /// Records that were not events (headers, comments).
    pub skipped: u64,
    /// Errors (file, record, reason), in order; the import went on after each.
    pub errors: Vec<String>,
    /// Files in folders that are no supported format.
    pub not_logs: Vec<String>,
}

const MAX_ERRORS: usize = 1000;

fn note(r: &mut ImportReport, e: String) {
    if r.errors.len() < MAX_ERRORS {
        r.errors.push(e);
    }
}

/// Imports `paths` into `store`; `progress` is called with the events stored so far.
pub fn import(
    paths: &[PathBuf],
    mode: ImportMode,
    store: &mut Store,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportReport, StoreError> {
    let found = discover_with(paths, &is_text_log);
    let mut r = ImportReport::default();
    for e in found.errors {
        note(&mut r, e.to_string());
    }
    r.not_logs = found
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.path.display(), s.reason))
        .collect();
    let hint = match mode {
        ImportMode::Normalize(st) => st,
        ImportMode::Ecs => SourceType::Json,
    };
    let mut rec = Record::new();
    let mut out = Vec::with_capacity(4096);
    let mut failed: Option<StoreError> = None;
    for file in &found.files {
        r.files += 1;
        let mut parser = Parser::new(hint);
        let mtime = file_mtime_ms(&file.path);
        let mut store_doc = |r: &mut ImportReport, doc: Map<String, Value>| {
            if failed.is_some() {
                return;
            }
            match store.append_doc(None, doc) {
                Ok(_) => {
                    r.events += 1;
                    if r.events.is_multiple_of(65_536) {
                        progress(r.events);
                    }
                }
                Err(e) => failed = Some(e),
            }
        };
        let mut emit = |r: &mut ImportReport,
                        o: Outcome,
                        rec: &Record,
                        where_: &dyn Fn() -> String|
         -> Option<Map<String, Value>> {
            match o {
                Outcome::Skip => {
                    r.skipped += 1;
                    None
                }
                Outcome::Event { parsed, .. } => {
                    if !parsed {
                        r.unparsed += 1;
                    }
                    out.clear();
                    write_json(rec, &mut out);
                    match serde_json::from_slice::<Map<String, Value>>(&out) {
                        Ok(doc) => Some(doc),
                        Err(e) => {
                            note(r, format!("{}: cannot be stored: {e}", where_()));
                            None
                        }
                    }
                }
            }
        };
        if file.kind.is_text() {
            file.read_text(&mut |item| match item {
                TextItem::Line { loc, line } => {
                    if mode == ImportMode::Ecs {
                        ecs_line(
                            &mut r,
                            line,
                            &format!("{}: line {}", loc.file, loc.record),
                            &mut store_doc,
                        );
                        return;
                    }
                    let o = parser.parse(line, mtime, &mut rec);
                    if let Some(d) = emit(&mut r, o, &rec, &|| {
                        format!("{}: line {}", loc.file, loc.record)
                    }) {
                        store_doc(&mut r, d);
                    }
                }
                TextItem::Error(e) => note(&mut r, e.to_string()),
            });
        } else {
            file.read_raw(&ReadOptions::default(), &mut |item| match item {
                RawItem::Doc { loc, doc } => {
                    if mode == ImportMode::Ecs {
                        match doc {
                            Value::Object(o) if o.contains_key("@timestamp") => {
                                store_doc(&mut r, o.clone())
                            }
                            _ => note(
                                &mut r,
                                format!("{loc}: not an ECS document (no @timestamp); skipped"),
                            ),
                        }
                        return;
                    }
                    let raw = doc.to_string();
                    let o = parser.parse_json(doc, &raw, mtime, &mut rec);
                    if let Some(d) = emit(&mut r, o, &rec, &|| loc.to_string()) {
                        store_doc(&mut r, d);
                    }
                }
                RawItem::Json { loc, json } => match serde_json::from_str::<Value>(json) {
                    Ok(doc) => {
                        let o = parser.parse_json(&doc, json, mtime, &mut rec);
                        if let Some(d) = emit(&mut r, o, &rec, &|| loc.to_string()) {
                            store_doc(&mut r, d);
                        }
                    }
                    Err(e) => note(&mut r, format!("{loc}: {e}; skipped")),
                },
                RawItem::Error(e) => note(&mut r, e.to_string()),
            });
        }
        if let Some(e) = failed.take() {
            return Err(e);
        }
    }
    store.flush()?;
    progress(r.events);
    Ok(r)
}

fn ecs_line(
    r: &mut ImportReport,
    line: &str,
    at: &str,
    store_doc: &mut dyn FnMut(&mut ImportReport, Map<String, Value>),
) {
    if line.trim().is_empty() {
        return;
    }
    match serde_json::from_str::<Map<String, Value>>(line) {
        Ok(doc) if doc.contains_key("@timestamp") => store_doc(r, doc),
        Ok(_) => note(
            r,
            format!("{at}: not an ECS document (no @timestamp); skipped"),
        ),
        Err(e) => note(r, format!("{at}: invalid JSON ({e}); skipped")),
    }
}
