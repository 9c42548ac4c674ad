//! Finding input files and telling their kind.
//!
//! Rules, in order, for each file:
//! 1. Magic bytes win: `ElfFile\0` is EVTX and `1f 8b` is gzip whatever the name; `PK` is a zip
//!    archive when the name ends in `.zip` (any case) — other zip-based files (`.docx`, `.jar`)
//!    are skipped.
//! 2. Otherwise the extension (any case): `.evtx`, `.gz` and `.zip` keep their kind, so a
//!    damaged file is reported when read; `.json`, `.jsonl` and `.ndjson` are JSON; `.log` is JSON
//!    when it starts with `{` or `[`.
//! 3. Files that are clearly not logs are ignored silently: documentation and code extensions
//!    (`.md`, `.yaml`, `.txt`, `.rs`, …), names such as `LICENSE*` / `README*`, and hidden files.
//!    Any other file is listed in [`Discovery::skipped`] with the reason.
//!
//! Folders are walked recursively in name order (hidden folders such as `.git` are not entered),
//! so the same tree always gives the same list. A file named directly in `paths` that is not a
//! supported log is an error rather than a skip: it was asked for.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use crate::archive::{read_gzip, read_zip};
use crate::error::error_chain;
use crate::evtx_file::read_evtx;
use crate::json_stream::read_json;
use crate::sniff::{content_of, Content};
use crate::{IngestError, Item, RawItem, ReadOptions};

/// Extensions of files that are never logs: ignored without a word when met in a folder.
const NOT_LOG_EXTENSIONS: &[&str] = &[
    "md", "markdown", "rst", "txt", "yaml", "yml", "toml", "ini", "cfg", "csv", "tsv", "rs", "py",
    "sh", "ps1", "psm1", "go", "js", "ts", "html", "htm", "css", "xml", "pdf", "png", "jpg",
    "jpeg", "gif", "svg", "ico", "lock", "bat", "cmd", "exe", "dll",
];
/// File name prefixes (upper-cased) of project files that are never logs.
const NOT_LOG_NAMES: &[&str] = &[
    "LICENSE",
    "LICENCE",
    "README",
    "COPYING",
    "NOTICE",
    "CHANGELOG",
    "AUTHORS",
    "MAKEFILE",
];

/// The format of an input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// Windows XML event log.
    Evtx,
    /// NDJSON, a JSON array of objects, or JSON objects one after another.
    Json,
    /// A gzip stream holding JSON (or EVTX).
    Gzip,
    /// A zip archive of JSON / EVTX entries.
    Zip,
}

/// A file to read, with its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    /// Path as found (relative paths stay relative).
    pub path: PathBuf,
    /// Its format.
    pub kind: InputKind,
}

/// A file met in a folder and not read, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it is not read.
    pub reason: String,
}

/// What [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Files to read, in walk order (folders in name order).
    pub files: Vec<InputFile>,
    /// Files met in folders that look like no supported format.
    pub skipped: Vec<Skipped>,
    /// Paths that could not be looked at (missing, unreadable), and files named directly that
    /// are not a supported format.
    pub errors: Vec<IngestError>,
}

/// Finds the input files among `paths` (files, and folders walked recursively).
pub fn discover(paths: &[PathBuf]) -> Discovery {
    let mut walk = Walk {
        found: Discovery::default(),
        seen: HashSet::new(),
    };
    for path in paths {
        walk.visit(path, true);
    }
    walk.found
}

struct Walk {
    found: Discovery,
    /// Canonical paths already visited: a file named twice, or a folder link loop, is read once.
    seen: HashSet<PathBuf>,
}

impl Walk {
    fn error(&mut self, path: &Path, reason: String) {
        self.found
            .errors
            .push(IngestError::file(path.display().to_string(), reason));
    }

    fn visit(&mut self, path: &Path, named: bool) {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return self.error(path, format!("cannot open: {}", error_chain(&e))),
        };
        if let Ok(canonical) = path.canonicalize() {
            if !self.seen.insert(canonical) {
                return;
            }
        }
        if meta.is_dir() {
            self.visit_dir(path);
        } else if meta.is_file() {
            self.visit_file(path, named);
        } else if named {
            self.error(path, "not a file or folder".into());
        }
    }

    fn visit_dir(&mut self, dir: &Path) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => return self.error(dir, format!("cannot list: {}", error_chain(&e))),
        };
        let mut paths = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => paths.push(entry.path()),
                Err(e) => self.error(dir, format!("cannot list: {}", error_chain(&e))),
            }
        }
        paths.sort();
        for path in paths {
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if !hidden {
                self.visit(&path, false);
            }
        }
    }

    fn visit_file(&mut self, path: &Path, named: bool) {
        let mut head = [0u8; 512];
        let head_len = match File::open(path).and_then(|mut f| read_head(&mut f, &mut head)) {
            Ok(n) => n,
            Err(e) => return self.error(path, format!("cannot read: {}", error_chain(&e))),
        };
        const SUPPORTED: &str = "supported: EVTX, JSON, NDJSON, gzip, zip";
        match (classify(path, &head[..head_len]), named) {
            (Class::Input(kind), _) => self.found.files.push(InputFile {
                path: path.to_path_buf(),
                kind,
            }),
            (Class::NotLog, false) => {}
            (Class::NotLog, true) => self.error(path, format!("not a log file; {SUPPORTED}")),
            (Class::Unknown(reason), true) => self.error(path, format!("{reason}; {SUPPORTED}")),
            (Class::Unknown(reason), false) => self.found.skipped.push(Skipped {
                path: path.to_path_buf(),
                reason,
            }),
        }
    }
}

/// Reads up to `head.len()` first bytes.
fn read_head(f: &mut File, head: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

enum Class {
    Input(InputKind),
    /// Clearly not a log: ignored silently in folders.
    NotLog,
    /// Unknown format, or probably not a log: skipped with the reason.
    Unknown(String),
}

fn classify(path: &Path, head: &[u8]) -> Class {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let content = content_of(head);
    match content {
        Content::Evtx => return Class::Input(InputKind::Evtx),
        Content::Gzip => return Class::Input(InputKind::Gzip),
        Content::Zip if ext == "zip" => return Class::Input(InputKind::Zip),
        Content::Zip => {
            return Class::Unknown(format!("zip-based file without a .zip extension (.{ext})"))
        }
        Content::Json | Content::Other => {}
    }
    match ext.as_str() {
        "evtx" => Class::Input(InputKind::Evtx),
        "gz" => Class::Input(InputKind::Gzip),
        "zip" => Class::Input(InputKind::Zip),
        "json" | "jsonl" | "ndjson" => Class::Input(InputKind::Json),
        "log" if content == Content::Json => Class::Input(InputKind::Json),
        "log" => Class::Unknown("a .log file that is not JSON (text logs are not read yet)".into()),
        _ if is_clearly_not_log(path, &ext) => Class::NotLog,
        _ => Class::Unknown(format!("unknown format (extension {ext:?})")),
    }
}

fn is_clearly_not_log(path: &Path, ext: &str) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_uppercase())
        .unwrap_or_default();
    name.starts_with('.')
        || NOT_LOG_EXTENSIONS.contains(&ext)
        || NOT_LOG_NAMES.iter().any(|p| name.starts_with(p))
}

impl InputFile {
    /// The path as shown in [`crate::Location`]s and errors.
    pub fn display(&self) -> String {
        self.path.display().to_string()
    }

    /// Reads the file, calling `on_item` for every document and every error, in file order.
    /// Never stops at the first error: damaged parts are reported and the rest is still read.
    pub fn read(&self, opts: &ReadOptions, on_item: &mut dyn FnMut(Item<'_>)) {
        self.read_items(opts, false, &mut |item| match item {
            RawItem::Doc { loc, doc } => on_item(Item::Doc { loc, doc }),
            RawItem::Error(e) => on_item(Item::Error(e)),
            // Not produced without `raw_json`; parsed all the same should that change.
            RawItem::Json { loc, json } => match serde_json::from_str(json) {
                Ok(doc) => on_item(Item::Doc { loc, doc: &doc }),
                Err(e) => on_item(Item::Error(IngestError::record(
                    &loc.file,
                    loc.record,
                    e.to_string(),
                ))),
            },
        });
    }

    /// Like [`Self::read`], but EVTX records (files, and EVTX inside gzip / zip) come as their
    /// JSON text ([`RawItem::Json`]) instead of parsed documents; JSON inputs give
    /// [`RawItem::Doc`]. Errors are the same as [`Self::read`]'s.
    pub fn read_raw(&self, opts: &ReadOptions, on_item: &mut dyn FnMut(RawItem<'_>)) {
        self.read_items(opts, true, on_item);
    }

    fn read_items(&self, opts: &ReadOptions, raw_json: bool, on_item: &mut dyn FnMut(RawItem<'_>)) {
        let display = self.display();
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) => {
                let reason = format!("cannot open: {}", error_chain(&e));
                return on_item(RawItem::Error(IngestError::file(display, reason)));
            }
        };
        match self.kind {
            InputKind::Evtx => match file.metadata() {
                Ok(meta) => read_evtx(&display, file, meta.len(), opts, raw_json, on_item),
                Err(e) => {
                    let reason = format!("cannot read: {}", error_chain(&e));
                    on_item(RawItem::Error(IngestError::file(display, reason)));
                }
            },
            InputKind::Json => read_json(&display, BufReader::new(file), &mut |item| {
                on_item(item.into())
            }),
            InputKind::Gzip => read_gzip(&display, BufReader::new(file), opts, raw_json, on_item),
            InputKind::Zip => read_zip(&display, BufReader::new(file), opts, raw_json, on_item),
        }
    }
}
