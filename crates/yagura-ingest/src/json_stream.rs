//! Streaming JSON readers: NDJSON, one JSON array, or JSON objects one after another.
//!
//! The layout is chosen from the start of the stream:
//! - `[` — a JSON array; its elements are documents, numbered from 1.
//! - a first line that is a whole JSON value — NDJSON, read line by line: a bad line is reported
//!   with its line number and the next lines are still read. Blank lines are ignored.
//! - a first line that is the start of a value (`{` of a pretty-printed object) — objects one
//!   after another, numbered from 1.
//!
//! In an array or a run of objects, a damaged value is reported (its number, the line it starts
//! on, serde's reason) and reading goes on with the next one (see `json_split`).
//!
//! Documents must be JSON objects; any other value is reported and skipped.

use std::io::{BufRead, Cursor, Read};

use serde_json::Value;

use crate::json_split::{split, Layout, Piece};
use crate::sniff::UTF8_BOM;
use crate::{IngestError, Item, Location};

/// Reads every document of the JSON stream `reader`, whose display name is `file`: UTF-8, or
/// UTF-16 with a byte order mark.
pub(crate) fn read_json<R: BufRead>(file: &str, mut reader: R, on_item: &mut dyn FnMut(Item<'_>)) {
    let utf16 = reader
        .fill_buf()
        .map(|head| crate::utf16::utf16_bom(head).is_some())
        .unwrap_or(false);
    if utf16 {
        let decoded = std::io::BufReader::new(crate::utf16::Utf16Reader::new(reader));
        read_utf8_json(file, decoded, on_item);
    } else {
        read_utf8_json(file, reader, on_item);
    }
}

fn read_utf8_json<R: BufRead>(file: &str, mut reader: R, on_item: &mut dyn FnMut(Item<'_>)) {
    let mut loc = Location {
        file: file.to_owned(),
        record: 0,
    };
    match skip_blank_start(&mut reader) {
        Ok(Some((b'[', skipped_lines))) => {
            read_values(&mut loc, reader, Layout::Array, skipped_lines + 1, on_item);
        }
        Ok(Some((_, skipped_lines))) => {
            read_lines_or_objects(&mut loc, skipped_lines, reader, on_item)
        }
        Ok(None) => {} // empty or blank: nothing to read
        Err(e) => on_item(Item::Error(IngestError::file(
            file,
            format!("read failed: {e}"),
        ))),
    }
}

/// Skips a BOM, whitespace and blank lines; returns the first other byte (not consumed) and how
/// many line breaks were skipped, or `None` at the end of the stream.
fn skip_blank_start<R: BufRead>(reader: &mut R) -> std::io::Result<Option<(u8, u64)>> {
    let mut lines = 0;
    let mut at_start = true;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        if at_start {
            at_start = false;
            if buf.starts_with(UTF8_BOM) {
                reader.consume(UTF8_BOM.len());
                continue;
            }
        }
        let blank = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        lines += buf[..blank].iter().filter(|&&b| b == b'\n').count() as u64;
        if blank < buf.len() {
            let first = buf[blank];
            reader.consume(blank);
            return Ok(Some((first, lines)));
        }
        let len = buf.len();
        reader.consume(len);
    }
}

/// Hands `doc` on if it is an object, reports it otherwise.
fn emit(loc: &Location, doc: &Value, on_item: &mut dyn FnMut(Item<'_>)) {
    if doc.is_object() {
        on_item(Item::Doc { loc, doc });
    } else {
        on_item(Item::Error(IngestError::record(
            loc.file.as_str(),
            loc.record,
            format!("expected a JSON object, found {}", type_name(doc)),
        )));
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// NDJSON when the first line is a whole value, otherwise objects one after another.
fn read_lines_or_objects<R: BufRead>(
    loc: &mut Location,
    skipped_lines: u64,
    mut reader: R,
    on_item: &mut dyn FnMut(Item<'_>),
) {
    let mut line = Vec::new();
    if let Err(e) = reader.read_until(b'\n', &mut line) {
        let err = IngestError::record(loc.file.as_str(), skipped_lines + 1, e.to_string());
        on_item(Item::Error(err));
        return;
    }
    match serde_json::from_slice::<Value>(trim_line_end(&line)) {
        Err(e) if e.is_eof() => {
            let stream = Cursor::new(line).chain(reader);
            read_values(loc, stream, Layout::Values, skipped_lines + 1, on_item);
        }
        first => read_ndjson(loc, skipped_lines + 1, first, line, reader, on_item),
    }
}

/// `line` without its `\n` or `\r\n`, so serde's positions and reasons stay on the line.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// NDJSON: one document per line; `first` is the parse result of `line`, line number `number`.
fn read_ndjson<R: BufRead>(
    loc: &mut Location,
    mut number: u64,
    mut parsed: serde_json::Result<Value>,
    mut line: Vec<u8>,
    mut reader: R,
    on_item: &mut dyn FnMut(Item<'_>),
) {
    loop {
        loc.record = number;
        match parsed {
            Ok(doc) => emit(loc, &doc, on_item),
            Err(e) => on_item(Item::Error(IngestError::record(
                loc.file.as_str(),
                number,
                format!("invalid JSON: {e}"),
            ))),
        }
        // Next non-blank line.
        loop {
            line.clear();
            number += 1;
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(_) => break,
                Err(e) => {
                    let err = IngestError::record(loc.file.as_str(), number, e.to_string());
                    on_item(Item::Error(err));
                    return;
                }
            }
        }
        parsed = serde_json::from_slice(trim_line_end(&line));
    }
}

/// The values of an array, or values one after another (pretty-printed objects), numbered from
/// 1; `first_line` is the line number of the stream's first line.
fn read_values<R: BufRead>(
    loc: &mut Location,
    reader: R,
    layout: Layout,
    first_line: u64,
    on_item: &mut dyn FnMut(Item<'_>),
) {
    let file = loc.file.clone();
    let result = split(reader, layout, first_line, &mut |piece| match piece {
        Piece::Value { number, line, text } => {
            loc.record = number;
            match serde_json::from_slice::<Value>(text) {
                Ok(doc) => emit(loc, &doc, on_item),
                Err(e) => on_item(Item::Error(IngestError::record(
                    file.as_str(),
                    number,
                    format!("invalid JSON (value from line {line}): {e}"),
                ))),
            }
        }
        Piece::Damage {
            number,
            line,
            reason,
        } => on_item(Item::Error(IngestError::record(
            file.as_str(),
            number,
            format!("{reason} (line {line})"),
        ))),
    });
    if let Err(e) = result {
        let reason = format!("read failed: {e}");
        on_item(Item::Error(IngestError::record(
            file.as_str(),
            loc.record + 1,
            reason,
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<(u64, Value)>, Vec<IngestError>) {
        let (mut docs, mut errs) = (Vec::new(), Vec::new());
        read_json("t.json", text.as_bytes(), &mut |item| match item {
            Item::Doc { loc, doc } => docs.push((loc.record, doc.clone())),
            Item::Error(e) => errs.push(e),
        });
        (docs, errs)
    }

    #[test]
    fn ndjson_with_blank_and_bad_lines() {
        let (docs, errs) = read("\n{\"a\":1}\n\n{bad\n{\"a\":2}\r\n42\n");
        assert_eq!(docs.iter().map(|d| d.0).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(docs[1].1["a"], 2);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].record, Some(4));
        assert!(errs[0].reason.starts_with("invalid JSON"), "{}", errs[0]);
        assert_eq!(errs[1].record, Some(6));
        assert!(errs[1].reason.contains("found a number"));
    }

    #[test]
    fn pretty_objects_back_to_back() {
        let (docs, errs) = read("\u{feff}{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[1].0, &docs[1].1["a"]), (2, &Value::from(2)));
    }

    #[test]
    fn array_of_objects_and_broken_array() {
        let (docs, errs) = read(" [ {\"a\":1}, {\"a\":2} ]\n");
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(docs.len(), 2);
        let (docs, errs) = read("[{\"a\":1}, {\"a\":");
        assert_eq!(docs.len(), 1);
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!(errs[0].record, Some(2));
        assert!(errs[0]
            .reason
            .starts_with("invalid JSON (value from line 1)"));
        assert!(errs[1].reason.contains("not closed"), "{}", errs[1]);
    }

    #[test]
    fn a_damaged_value_is_skipped_and_the_next_ones_read() {
        // Pretty array: element 2 has a syntax error, element 3 lacks its closing brace.
        let text = "[\n  {\"a\": 1},\n  {\"a\": 2,},\n  {\"a\": {\"x\": 3},\n  {\"a\": 4}\n]\n";
        let (docs, errs) = read(text);
        let got: Vec<_> = docs.iter().map(|d| (d.0, d.1["a"].clone())).collect();
        assert_eq!(got, [(1, Value::from(1)), (4, Value::from(4))]);
        assert_eq!(
            errs.iter().map(|e| e.record).collect::<Vec<_>>(),
            [Some(2), Some(3)]
        );
        assert!(errs[0].reason.contains("value from line 3"), "{}", errs[0]);
        // Back-to-back pretty objects: the second is cut off in a string.
        let text = "{\n  \"a\": 1\n}\n{\n  \"a\": \"cut\n{\n  \"a\": 3\n}\n";
        let (docs, errs) = read(text);
        let got: Vec<_> = docs.iter().map(|d| (d.0, d.1["a"].clone())).collect();
        assert_eq!(got, [(1, Value::from(1)), (3, Value::from(3))]);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].record, Some(2));
        assert!(errs[0].reason.contains("value from line 4"), "{}", errs[0]);
    }

    #[test]
    fn utf16_json_is_decoded() {
        let mut bytes = vec![0xff, 0xfe];
        for u in "[\r\n {\"a\": \"山\"},\r\n {\"a\": 2}\r\n]".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let (mut docs, mut errs) = (Vec::new(), Vec::new());
        read_json("t.json", &bytes[..], &mut |item| match item {
            Item::Doc { loc, doc } => docs.push((loc.record, doc.clone())),
            Item::Error(e) => errs.push(e),
        });
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].1["a"], "山");
    }

    #[test]
    fn empty_input_yields_nothing() {
        let (docs, errs) = read(" \n\n");
        assert!(docs.is_empty() && errs.is_empty());
    }
}
