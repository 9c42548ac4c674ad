//! Finding input files and telling their kind.
//!
//! Rules, in order, for each file:
//! 1. Magic bytes win: `ElfFile\0` is EVTX and `1f 8b` is gzip whatever the name; `PK` is a zip
//!    archive when the name ends in `.zip` (any case) — other zip-based files (`.docx`, `.jar`)
//!    are skipped.
//! 2. Otherwise the extension (any case): `.evtx`, `.gz` and `.zip` keep their kind, so a
//!    damaged file is reported when read; `.json`, `.jsonl` and `.ndjson` are JSON; `.log` is JSON
//!    when it starts with `{` or `[`.
//! 3. Text logs: a file whose first bytes are text (no NUL, valid UTF-8) is [`InputKind::Text`]
//!    when it is named `*.log`, or when the caller's sniffer ([`discover_with`]) recognises its
//!    first lines (extension-less or rotated files: `auth.log.1`, `access_log.0`, `messages`).
//!    A gzip stream holding such text is [`InputKind::GzipText`] (the name without `.gz` counts).
//!    A text file named directly in `paths` is read as text whatever its lines look like.
//! 4. Files that are clearly not logs are ignored silently: documentation and code extensions
//!    (`.md`, `.yaml`, `.txt`, `.rs`, …), names such as `LICENSE*` / `README*`, and hidden files.
//!    A `.txt`, `.csv` or `.tsv` file that holds a log (its first lines recognised, or a table
//!    with a time column) is listed in [`Discovery::skipped`] instead, and read as text when
//!    named. Any other file is listed in [`Discovery::skipped`] with the reason.
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
use crate::text::{read_gzip_text, read_lines, text_head, TextItem};
use crate::{IngestError, Item, Location, RawItem, ReadOptions};

/// Bytes read from the start of a file to tell its kind.
const HEAD_LEN: usize = 8192;

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
    /// A text log: one event per line.
    Text,
    /// A gzip stream holding a text log.
    GzipText,
}

impl InputKind {
    /// True for text logs (read with [`InputFile::read_text`]).
    pub fn is_text(self) -> bool {
        matches!(self, InputKind::Text | InputKind::GzipText)
    }
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

/// Finds the input files among `paths` (files, and folders walked recursively). Text logs are
/// found by name only (`*.log`); see [`discover_with`].
pub fn discover(paths: &[PathBuf]) -> Discovery {
    discover_with(paths, &|_| false)
}

/// [`discover`], with `is_text_log` telling whether the first complete lines of a text file
/// that is not named `*.log` are a log (the caller's parsers decide; this crate knows no
/// formats of text logs).
pub fn discover_with(paths: &[PathBuf], is_text_log: &dyn Fn(&str) -> bool) -> Discovery {
    let mut walk = Walk {
        found: Discovery::default(),
        seen: HashSet::new(),
        is_text_log,
    };
    for path in paths {
        walk.visit(path, true);
    }
    walk.found
}

struct Walk<'a> {
    found: Discovery,
    is_text_log: &'a dyn Fn(&str) -> bool,
    /// Canonical paths already visited: a file named twice, or a folder link loop, is read once.
    seen: HashSet<PathBuf>,
}

impl Walk<'_> {
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
        let mut head = vec![0u8; HEAD_LEN];
        let head_len = match File::open(path).and_then(|mut f| read_head(&mut f, &mut head)) {
            Ok(n) => n,
            Err(e) => return self.error(path, format!("cannot read: {}", error_chain(&e))),
        };
        const SUPPORTED: &str = "supported: EVTX, JSON, NDJSON, text logs, gzip, zip";
        let head = &head[..head_len];
        let mut class = classify(path, head, head_len < HEAD_LEN, self.is_text_log);
        if let Class::Input(InputKind::Gzip) = class {
            if let Some(text) = self.gzip_text(path, named) {
                class = text;
            }
        }
        match (class, named) {
            (Class::Input(kind), _) => self.found.files.push(InputFile {
                path: path.to_path_buf(),
                kind,
            }),
            // Asked for by name: read as text (lines no parser knows are still events).
            (Class::UnknownText | Class::LogAsDocument, true) => self.found.files.push(InputFile {
                path: path.to_path_buf(),
                kind: InputKind::Text,
            }),
            (Class::UnknownText, false) => self.found.skipped.push(Skipped {
                path: path.to_path_buf(),
                reason: "text that no log parser recognises".into(),
            }),
            (Class::LogAsDocument, false) => self.found.skipped.push(Skipped {
                path: path.to_path_buf(),
                reason:
                    "a log in a .txt/.csv/.tsv file: not read in folders; name the file to read it"
                        .into(),
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

impl Walk<'_> {
    /// `Some(GzipText)` when the gzip file `path` holds a text log (decided on its first
    /// decompressed bytes, the name without `.gz`; any text when the file was `named`);
    /// `None`: leave it to the gzip reader.
    fn gzip_text(&self, path: &Path, named: bool) -> Option<Class> {
        let mut head = vec![0u8; HEAD_LEN];
        let file = File::open(path).ok()?;
        let mut decoder = flate2::read::MultiGzDecoder::new(BufReader::new(file));
        let n = read_head(&mut decoder, &mut head).unwrap_or(0);
        let head = &head[..n];
        if content_of(head) != Content::Other {
            return None;
        }
        let inner = path.file_stem().map(Path::new)?;
        match classify(inner, head, n < HEAD_LEN, self.is_text_log) {
            Class::Input(InputKind::Text) => Some(Class::Input(InputKind::GzipText)),
            Class::UnknownText if named => Some(Class::Input(InputKind::GzipText)),
            _ => None,
        }
    }
}

/// Reads up to `head.len()` first bytes.
fn read_head(f: &mut dyn Read, head: &mut [u8]) -> std::io::Result<usize> {
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
    /// Text whose first lines no parser recognises: read when named, skipped in folders.
    UnknownText,
    /// Clearly not a log: ignored silently in folders.
    NotLog,
    /// A log in a document-like file (`.txt`, `.csv`, `.tsv`): skipped with the reason in
    /// folders, read as text when named.
    LogAsDocument,
    /// Unknown format, or probably not a log: skipped with the reason.
    Unknown(String),
}

/// `whole`: `head` is the whole file.
fn classify(path: &Path, head: &[u8], whole: bool, is_text_log: &dyn Fn(&str) -> bool) -> Class {
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
    // `[Sun Dec 04 04:47:44 2005] [error] …` (Apache error log) starts like a JSON array.
    if content == Content::Json && crate::sniff::first_json_byte(head) == Some(b'[') {
        if let Some(lines) = text_head(head, whole) {
            if !matches!(ext.as_str(), "json" | "jsonl" | "ndjson") && is_text_log(&lines) {
                return Class::Input(InputKind::Text);
            }
        }
    }
    match ext.as_str() {
        "evtx" => Class::Input(InputKind::Evtx),
        "gz" => Class::Input(InputKind::Gzip),
        "zip" => Class::Input(InputKind::Zip),
        "json" | "jsonl" | "ndjson" => Class::Input(InputKind::Json),
        "log" if content == Content::Json && !text_in_brackets(head) => {
            Class::Input(InputKind::Json)
        }
        // A log kept as `.txt`, `.csv` or `.tsv`: named in the skipped list, read when asked for.
        "txt" | "csv" | "tsv" => match text_head(head, whole) {
            Some(lines) if is_text_log(&lines) || is_table_log(&lines) => Class::LogAsDocument,
            _ => Class::NotLog,
        },
        // Rotated JSON logs: `events.json.1`, `app.ndjson.0`, `eve.json.3`.
        _ if content == Content::Json && is_rotation(&ext) => Class::Input(InputKind::Json),
        _ if is_clearly_not_log(path, &ext) => Class::NotLog,
        _ => match text_head(head, whole) {
            Some(_) if ext == "log" => Class::Input(InputKind::Text),
            Some(lines) if is_text_log(&lines) => Class::Input(InputKind::Text),
            Some(_) => Class::UnknownText,
            None if ext == "log" => Class::Unknown("a .log file that is not text".into()),
            None => Class::Unknown(format!("unknown format (extension {ext:?})")),
        },
    }
}

/// `[Sun Dec 04 …] [error] …`: a `[` followed by what cannot start a JSON value.
fn text_in_brackets(head: &[u8]) -> bool {
    if crate::sniff::first_json_byte(head) != Some(b'[') {
        return false;
    }
    let after = head
        .iter()
        .skip_while(|b| **b != b'[')
        .skip(1)
        .find(|b| !b.is_ascii_whitespace());
    match after {
        None => false,
        Some(b) => !matches!(
            b,
            b'{' | b'[' | b']' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
        ),
    }
}

/// A table of log records: a header of three or more comma- or tab-separated columns, one of
/// them a time (`Time`, `timestamp`, `Date`, …).
fn is_table_log(lines: &str) -> bool {
    let Some(header) = lines.lines().next() else {
        return false;
    };
    let sep = if header.contains('\t') { '\t' } else { ',' };
    let cols: Vec<String> = header
        .split(sep)
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    cols.len() >= 3 && cols.iter().any(|c| c.contains("time") || c == "date")
}

/// A rotation suffix: `1`, `0`, `20241201`.
fn is_rotation(ext: &str) -> bool {
    !ext.is_empty() && ext.bytes().all(|b| b.is_ascii_digit())
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

    /// Opens the file; the error names it as `display`.
    fn open(&self, display: &str) -> Result<File, IngestError> {
        File::open(&self.path)
            .map_err(|e| IngestError::file(display, format!("cannot open: {}", error_chain(&e))))
    }

    /// Reads a text log ([`InputKind::is_text`]) line by line, in file order. For other kinds,
    /// one error saying so.
    pub fn read_text(&self, on_item: &mut dyn FnMut(TextItem<'_>)) {
        let display = self.display();
        let file = match self.open(&display) {
            Ok(f) => f,
            Err(e) => return on_item(TextItem::Error(e)),
        };
        match self.kind {
            InputKind::Text => read_lines(&display, BufReader::new(file), on_item),
            InputKind::GzipText => read_gzip_text(&display, BufReader::new(file), on_item),
            _ => on_item(TextItem::Error(IngestError::file(
                display,
                "not a text log (read it with read / read_raw)",
            ))),
        }
    }

    /// Like [`Self::read`], but EVTX records (files, and EVTX inside gzip / zip) come as their
    /// JSON text ([`RawItem::Json`]) instead of parsed documents; JSON inputs give
    /// [`RawItem::Doc`]. Errors are the same as [`Self::read`]'s.
    pub fn read_raw(&self, opts: &ReadOptions, on_item: &mut dyn FnMut(RawItem<'_>)) {
        self.read_items(opts, true, on_item);
    }

    fn read_items(&self, opts: &ReadOptions, raw_json: bool, on_item: &mut dyn FnMut(RawItem<'_>)) {
        let display = self.display();
        let file = match self.open(&display) {
            Ok(f) => f,
            Err(e) => return on_item(RawItem::Error(e)),
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
            // Callers that want documents get each line as `{"message": line}`.
            InputKind::Text | InputKind::GzipText => self.read_text(&mut |item| match item {
                TextItem::Line { loc, line } => {
                    let doc = serde_json::json!({ "message": line });
                    let loc: &Location = loc;
                    on_item(RawItem::Doc { loc, doc: &doc })
                }
                TextItem::Error(e) => on_item(RawItem::Error(e)),
            }),
        }
    }
}
