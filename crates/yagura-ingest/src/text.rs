//! Text logs: one event per line (syslog, auth.log, access logs, Zeek TSV…), plain or gzip.
//!
//! Lines are read into one reused buffer; a line is handed out without its `\n` (a `\r` before
//! it is kept: the parsers strip it). Invalid UTF-8 is replaced (U+FFFD) rather than dropped.
//! Lines longer than [`MAX_LINE`] are cut there and the rest of the line is skipped, with an
//! error naming the line.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;

use crate::error::error_chain;
use crate::{IngestError, Location};

/// Longest line handed out, in bytes.
pub const MAX_LINE: usize = 1 << 20;

/// What [`crate::InputFile::read_text`] yields.
#[derive(Debug)]
pub enum TextItem<'a> {
    /// One line of a text log.
    Line {
        /// File and 1-based line number.
        loc: &'a Location,
        /// The line, without its newline.
        line: &'a str,
    },
    /// A part of the input that could not be read.
    Error(IngestError),
}

/// Reads the lines of a gzip stream of text.
pub(crate) fn read_gzip_text<R: BufRead>(
    file: &str,
    data: R,
    on_item: &mut dyn FnMut(TextItem<'_>),
) {
    read_lines(file, BufReader::new(MultiGzDecoder::new(data)), on_item);
}

/// Reads the lines of `data`, whose display name is `file`.
pub(crate) fn read_lines<R: BufRead>(
    file: &str,
    mut data: R,
    on_item: &mut dyn FnMut(TextItem<'_>),
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut lossy = String::new();
    let mut loc = Location {
        file: file.to_string(),
        record: 0,
    };
    loop {
        buf.clear();
        let n = match (&mut data)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(n) => n,
            Err(e) => {
                let reason = format!("read failed: {}", error_chain(&e));
                on_item(TextItem::Error(IngestError::record(
                    file,
                    loc.record + 1,
                    reason,
                )));
                return;
            }
        };
        if n == 0 {
            return;
        }
        loc.record += 1;
        let mut line = &buf[..];
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        } else if line.len() > MAX_LINE {
            line = &line[..MAX_LINE];
            on_item(TextItem::Error(IngestError::record(
                file,
                loc.record,
                format!("line longer than {MAX_LINE} bytes: cut there"),
            )));
            if let Err(e) = skip_line(&mut data) {
                let reason = format!("read failed: {}", error_chain(&e));
                on_item(TextItem::Error(IngestError::record(
                    file, loc.record, reason,
                )));
                return;
            }
        }
        let text = match std::str::from_utf8(line) {
            Ok(s) => s,
            Err(_) => {
                lossy.clear();
                lossy.push_str(&String::from_utf8_lossy(line));
                &lossy
            }
        };
        on_item(TextItem::Line {
            loc: &loc,
            line: text,
        });
    }
}

/// Skips to just after the next newline.
fn skip_line<R: BufRead>(data: &mut R) -> std::io::Result<()> {
    loop {
        let (done, used) = {
            let chunk = data.fill_buf()?;
            if chunk.is_empty() {
                return Ok(());
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (true, i + 1),
                None => (false, chunk.len()),
            }
        };
        data.consume(used);
        if done {
            return Ok(());
        }
    }
}

/// The complete lines at the start of `head` as text, when `head` looks like text: no NUL, few
/// control characters. Invalid UTF-8 (Latin-1 text) is replaced, as the reader does; a
/// character cut at the end of `head` is dropped. `whole`: `head` is the whole file, so its last
/// line counts even without a newline.
pub(crate) fn text_head(head: &[u8], whole: bool) -> Option<Cow<'_, str>> {
    let head = head.strip_prefix(crate::sniff::UTF8_BOM).unwrap_or(head);
    if head.is_empty() || head.contains(&0) {
        return None;
    }
    let controls = head
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x1b | 0x0c))
        .count();
    if controls * 100 > head.len() {
        return None;
    }
    let end = if whole {
        head.len()
    } else {
        head.iter()
            .rposition(|&b| b == b'\n')
            .map_or(head.len(), |i| i + 1)
    };
    let lines = &head[..end];
    match std::str::from_utf8(lines) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(e) if e.error_len().is_none() => {
            let valid = &lines[..e.valid_up_to()];
            std::str::from_utf8(valid)
                .ok()
                .filter(|s| !s.is_empty())
                .map(Cow::Borrowed)
        }
        // Latin-1 and other 8-bit text: still text, read with replacement characters.
        Err(_) => Some(String::from_utf8_lossy(lines)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8]) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        read_lines("f", data, &mut |item| match item {
            TextItem::Line { loc, line } => out.push((loc.record, line.to_string())),
            TextItem::Error(e) => out.push((0, e.to_string())),
        });
        out
    }

    #[test]
    fn reads_lines_with_numbers() {
        let got = lines(b"a\r\n\nb\xffc\nlast");
        assert_eq!(
            got,
            [
                (1, "a\r".to_string()),
                (2, String::new()),
                (3, "b\u{fffd}c".to_string()),
                (4, "last".to_string())
            ]
        );
    }

    #[test]
    fn text_heads() {
        let t = |h: &'static [u8], whole| text_head(h, whole).map(|c| c.into_owned());
        assert_eq!(t(b"Oct 1 a\nOct 2 b", false).as_deref(), Some("Oct 1 a\n"));
        assert_eq!(
            t(b"Oct 1 a\nOct 2 b", true).as_deref(),
            Some("Oct 1 a\nOct 2 b")
        );
        // Latin-1: text, with replacement characters; a UTF-8 character cut at the end: dropped.
        assert_eq!(t(b"caf\xe9\n", true).as_deref(), Some("caf\u{fffd}\n"));
        assert_eq!(t(b"caf\xc3", true).as_deref(), Some("caf"));
        assert_eq!(t(b"a\0b\n", false), None);
        assert_eq!(t(b"", true), None);
    }
}
