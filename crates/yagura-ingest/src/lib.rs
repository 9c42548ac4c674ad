//! Collection stage: finds log files and reads them into documents.
//!
//! **Owns:** finding input files ([`discover`]), telling their format apart by extension and
//! magic bytes ([`InputKind`]), and streaming them — EVTX, JSON / NDJSON, gzip and zip archives —
//! into JSON documents, each with its [`Location`] (file and record number), plus an
//! [`IngestError`] for every part that could not be read, after which reading goes on.
//!
//! **Must not:** rename, add or drop fields, guess what a document means, or know anything about
//! detection. Documents come out exactly as the source holds them (EVTX records as the `evtx`
//! crate renders them, the same JSON shape as `evtx_dump`); `yagura-normalize` names the fields.
//!
//! ```no_run
//! use yagura_ingest::{discover, Item, ReadOptions};
//! let found = discover(&["logs/".into()]);
//! for file in &found.files {
//!     file.read(&ReadOptions::default(), &mut |item| match item {
//!         Item::Doc { loc, doc } => println!("{loc}: {doc}"),
//!         Item::Error(err) => eprintln!("{err}"),
//!     });
//! }
//! ```

#![warn(missing_docs)]

mod archive;
mod discover;
mod error;
mod evtx_file;
mod item;
mod json_split;
mod json_stream;
mod sniff;
mod text;
mod utf16;

pub use discover::{discover, discover_with, Discovery, InputFile, InputKind, Skipped};
pub use error::IngestError;
pub use item::{Item, Location, RawItem, ReadOptions};
pub use text::{TextItem, MAX_LINE};
