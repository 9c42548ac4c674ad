//! Compressed inputs: zip archives and gzip streams, whose contents are recognised by their
//! first bytes.

use std::io::{BufRead, BufReader, Cursor, Read, Seek};

use flate2::read::MultiGzDecoder;

use crate::error::error_chain;
use crate::evtx_file::read_evtx;
use crate::json_stream::read_json;
use crate::sniff::{content_of, Content};
use crate::{IngestError, RawItem, ReadOptions};

/// How many gzip layers are unwrapped inside one another (`x.json.gz.gz`).
const MAX_GZIP_DEPTH: u8 = 2;

/// Reads every JSON / EVTX entry of the zip archive `data`, whose display name is `file`.
/// Entries show as `file!entry/name.json`. Directories and `__MACOSX/` entries are skipped;
/// an entry that is neither JSON nor EVTX (nor gzip of those) is reported.
pub(crate) fn read_zip<R: Read + Seek>(
    file: &str,
    data: R,
    opts: &ReadOptions,
    raw_json: bool,
    on_item: &mut dyn FnMut(RawItem<'_>),
) {
    let mut archive = match zip::ZipArchive::new(data) {
        Ok(a) => a,
        Err(e) => {
            let reason = format!("not a readable zip archive: {}", error_chain(&e));
            on_item(RawItem::Error(IngestError::file(file, reason)));
            return;
        }
    };
    for index in 0..archive.len() {
        let entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                let reason = format!("entry #{index} unreadable: {}", error_chain(&e));
                on_item(RawItem::Error(IngestError::file(file, reason)));
                continue;
            }
        };
        let name = entry.name().to_owned();
        if entry.is_dir() || name.starts_with("__MACOSX/") || name.contains("/__MACOSX/") {
            continue;
        }
        let display = format!("{file}!{name}");
        read_sniffed(
            &display,
            &mut BufReader::new(entry),
            0,
            opts,
            raw_json,
            on_item,
        );
    }
}

/// Reads a gzip stream (all its members), whose display name is `file`.
pub(crate) fn read_gzip<R: BufRead>(
    file: &str,
    data: R,
    opts: &ReadOptions,
    raw_json: bool,
    on_item: &mut dyn FnMut(RawItem<'_>),
) {
    let mut inner = BufReader::new(MultiGzDecoder::new(data));
    read_sniffed(file, &mut inner, 1, opts, raw_json, on_item);
}

/// Reads a stream whose format is told by its first bytes: JSON, EVTX or gzip of those.
/// An EVTX stream is read into memory first (the parser needs to seek).
fn read_sniffed(
    file: &str,
    data: &mut dyn BufRead,
    gzip_depth: u8,
    opts: &ReadOptions,
    raw_json: bool,
    on_item: &mut dyn FnMut(RawItem<'_>),
) {
    let head = match data.fill_buf() {
        Ok(head) => head,
        Err(e) => {
            let reason = format!("read failed: {}", error_chain(&e));
            on_item(RawItem::Error(IngestError::file(file, reason)));
            return;
        }
    };
    match content_of(head) {
        Content::Json => read_json(file, data, &mut |item| on_item(item.into())),
        Content::Evtx => {
            let mut bytes = Vec::new();
            if let Err(e) = data.read_to_end(&mut bytes) {
                // Read what could be decompressed: the EVTX reader reports the missing part.
                let reason = format!(
                    "read failed after {} bytes: {}",
                    bytes.len(),
                    error_chain(&e)
                );
                on_item(RawItem::Error(IngestError::file(file, reason)));
            }
            let len = bytes.len() as u64;
            read_evtx(file, Cursor::new(bytes), len, opts, raw_json, on_item);
        }
        Content::Gzip if gzip_depth < MAX_GZIP_DEPTH => {
            let mut inner = BufReader::new(MultiGzDecoder::new(data));
            read_sniffed(file, &mut inner, gzip_depth + 1, opts, raw_json, on_item);
        }
        Content::Other if head.is_empty() => {} // an empty entry holds no event
        content => {
            let what = match content {
                Content::Zip => "a zip archive inside an archive (not read)",
                Content::Gzip => "gzip nested too deep (not read)",
                _ => "neither JSON nor EVTX (not read)",
            };
            on_item(RawItem::Error(IngestError::file(file, what)));
        }
    }
}
