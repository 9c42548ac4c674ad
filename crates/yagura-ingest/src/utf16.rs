//! UTF-16 text (with its byte order mark) read as UTF-8: Windows PowerShell 5.1 writes
//! `ConvertTo-Json | Out-File` and `>` redirections as UTF-16LE, so exported logs often are.
//! Decoding is std's `char::decode_utf16`; an unpaired surrogate becomes U+FFFD, as it would in
//! any other reader of the file.

use std::io::{self, Read};

/// Byte order marks of UTF-16.
const LE_BOM: [u8; 2] = [0xff, 0xfe];
const BE_BOM: [u8; 2] = [0xfe, 0xff];

/// The byte order of `head` if it starts with a UTF-16 byte order mark: `Some(true)` for
/// little-endian.
pub(crate) fn utf16_bom(head: &[u8]) -> Option<bool> {
    if head.starts_with(&LE_BOM) {
        Some(true)
    } else if head.starts_with(&BE_BOM) {
        Some(false)
    } else {
        None
    }
}

/// The first bytes of UTF-16 `head` (after its byte order mark) as UTF-8, for sniffing.
pub(crate) fn decode_head(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(le) = utf16_bom(head) {
        let units = head[2..].chunks_exact(2).map(|p| unit(p, le));
        for c in char::decode_utf16(units) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
    out
}

fn unit(pair: &[u8], le: bool) -> u16 {
    let b = [pair[0], pair[1]];
    if le {
        u16::from_le_bytes(b)
    } else {
        u16::from_be_bytes(b)
    }
}

/// Reads UTF-16 from `inner` (byte order mark included) and gives UTF-8.
pub(crate) struct Utf16Reader<R> {
    inner: R,
    /// `None` until the byte order mark is read.
    le: Option<bool>,
    /// Bytes read and not decoded yet (an odd byte, a high surrogate waiting for its pair).
    raw: Vec<u8>,
    /// Decoded UTF-8 not handed out yet, from `out_at`.
    out: Vec<u8>,
    out_at: usize,
    eof: bool,
}

impl<R: Read> Utf16Reader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            le: None,
            raw: Vec::new(),
            out: Vec::new(),
            out_at: 0,
            eof: false,
        }
    }

    /// Reads and decodes the next block into `out`.
    fn refill(&mut self) -> io::Result<()> {
        let mut block = [0u8; 16 * 1024];
        let n = self.inner.read(&mut block)?;
        self.eof = n == 0;
        self.raw.extend_from_slice(&block[..n]);
        let le = match self.le {
            Some(le) => le,
            None if self.raw.len() >= 2 || self.eof => {
                let le = utf16_bom(&self.raw).unwrap_or(true);
                if utf16_bom(&self.raw).is_some() {
                    self.raw.drain(..2);
                }
                self.le = Some(le);
                le
            }
            None => return Ok(()),
        };
        let mut whole = self.raw.len() / 2 * 2;
        // Keep a trailing high surrogate for its pair, unless the stream has ended.
        if !self.eof && whole >= 2 {
            let last = unit(&self.raw[whole - 2..whole], le);
            if (0xd800..0xdc00).contains(&last) {
                whole -= 2;
            }
        }
        self.out.clear();
        self.out_at = 0;
        let units = self.raw[..whole].chunks_exact(2).map(|p| unit(p, le));
        for c in char::decode_utf16(units) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            self.out
                .extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
        self.raw.drain(..whole);
        if self.eof && !self.raw.is_empty() {
            // An odd byte at the end.
            self.raw.clear();
            self.out.extend_from_slice("\u{fffd}".as_bytes());
        }
        Ok(())
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_at == self.out.len() {
            if self.eof {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.out_at);
        buf[..n].copy_from_slice(&self.out[self.out_at..self.out_at + n]);
        self.out_at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(text: &str, le: bool) -> Vec<u8> {
        let mut out = if le { LE_BOM.to_vec() } else { BE_BOM.to_vec() };
        for u in text.encode_utf16() {
            out.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
        }
        out
    }

    /// Reads `bytes` through the decoder, `step` bytes of input at a time.
    fn decode(bytes: &[u8], step: usize) -> String {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(self.0.len()).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut s = String::new();
        Utf16Reader::new(Trickle(bytes, step))
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn both_byte_orders_and_pairs_split_across_reads() {
        let text = "[{\"CommandLine\": \"whoami /all\", \"User\": \"山田 🐉\"}]\r\n";
        for le in [true, false] {
            for step in [1, 2, 3, 5, 4096] {
                assert_eq!(decode(&utf16(text, le), step), text, "le={le} step={step}");
            }
        }
    }

    #[test]
    fn unpaired_surrogates_and_odd_bytes_become_replacement_characters() {
        let mut bytes = LE_BOM.to_vec();
        bytes.extend_from_slice(&[b'a', 0, 0x00, 0xd8, b'b', 0, 7]);
        assert_eq!(decode(&bytes, 3), "a\u{fffd}b\u{fffd}");
    }

    #[test]
    fn heads_are_decoded_for_sniffing() {
        assert_eq!(decode_head(&utf16(" {\"a\"", true)), b" {\"a\"");
        assert_eq!(utf16_bom(b"{}"), None);
    }
}
