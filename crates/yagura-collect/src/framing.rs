//! Splitting a syslog byte stream into records: newline-delimited (RFC 6587 non-transparent
//! framing) and octet counting (`LEN SP MSG`, RFC 6587 3.4.1 / RFC 5425), told apart per frame.

/// A piece cut from the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// One record.
    Record(&'a [u8]),
    /// A record over the size limit: its first `limit` bytes, and its full length.
    Oversized(&'a [u8], usize),
}

/// Stream state between reads.
#[derive(Debug)]
pub struct Framer {
    max: usize,
    /// Bytes of an oversized record still to skip.
    skip: usize,
    /// Skipping an oversized newline-delimited record up to its newline.
    skip_line: bool,
}

/// Length prefix at the start of `b`: `Some((len, header_len))` when `b` starts with 1–10
/// digits, a space and `<` (a syslog PRI). `None` means "not octet counted"; `Some((0, 0))`
/// means "can't tell yet" (the prefix is not complete).
fn octet_prefix(b: &[u8]) -> Option<(usize, usize)> {
    let digits = b.iter().take(11).take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 10 || b[0] == b'0' {
        return None;
    }
    match (b.get(digits), b.get(digits + 1)) {
        (None, _) | (Some(b' '), None) => Some((0, 0)),
        (Some(b' '), Some(b'<')) => {
            let len = std::str::from_utf8(&b[..digits]).ok()?.parse().ok()?;
            Some((len, digits + 1))
        }
        _ => None,
    }
}

impl Framer {
    /// A framer refusing records over `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            skip: 0,
            skip_line: false,
        }
    }

    /// Cuts every complete frame from the front of `buf`, removes them from it, and leaves a
    /// partial frame in place. At `eof`, the rest is a last record.
    pub fn split(&mut self, buf: &mut Vec<u8>, eof: bool, mut f: impl FnMut(Frame<'_>)) {
        let mut pos = 0;
        loop {
            if self.skip > 0 {
                let n = self.skip.min(buf.len() - pos);
                self.skip -= n;
                pos += n;
                if self.skip > 0 {
                    break;
                }
            }
            if self.skip_line {
                match memchr::memchr(b'\n', &buf[pos..]) {
                    Some(i) => {
                        pos += i + 1;
                        self.skip_line = false;
                    }
                    None => {
                        pos = buf.len();
                        break;
                    }
                }
            }
            // Newlines and NULs between frames are padding.
            while pos < buf.len() && matches!(buf[pos], b'\n' | b'\r' | b'\0') {
                pos += 1;
            }
            if pos >= buf.len() {
                break;
            }
            let rest = &buf[pos..];
            match octet_prefix(rest) {
                Some((0, 0)) if !eof => break,
                Some((len, header)) if header > 0 => {
                    if len > self.max {
                        let have = (rest.len() - header).min(self.max);
                        f(Frame::Oversized(&rest[header..header + have], len));
                        let avail = rest.len() - header;
                        if avail >= len {
                            pos += header + len;
                        } else {
                            self.skip = len - avail;
                            pos = buf.len();
                        }
                        continue;
                    }
                    if rest.len() - header < len {
                        if eof {
                            f(Frame::Record(trim_end(&rest[header..])));
                            pos = buf.len();
                        }
                        break;
                    }
                    f(Frame::Record(trim_end(&rest[header..header + len])));
                    pos += header + len;
                }
                _ => match memchr::memchr(b'\n', rest) {
                    Some(i) if i <= self.max => {
                        f(Frame::Record(trim_end(&rest[..i])));
                        pos += i + 1;
                    }
                    Some(i) => {
                        f(Frame::Oversized(&rest[..self.max], i));
                        pos += i + 1;
                    }
                    None if rest.len() > self.max => {
                        f(Frame::Oversized(&rest[..self.max], rest.len()));
                        self.skip_line = true;
                        pos = buf.len();
                    }
                    None => {
                        if eof {
                            f(Frame::Record(trim_end(rest)));
                            pos = buf.len();
                        }
                        break;
                    }
                },
            }
        }
        buf.drain(..pos);
    }
}

fn trim_end(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\r' | b'\n' | b'\0') {
        end -= 1;
    }
    &b[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[&[u8]], max: usize) -> Vec<String> {
        let mut fr = Framer::new(max);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for (i, chunk) in input.iter().enumerate() {
            buf.extend_from_slice(chunk);
            fr.split(&mut buf, i + 1 == input.len(), |f| {
                out.push(match f {
                    Frame::Record(r) => String::from_utf8_lossy(r).into_owned(),
                    Frame::Oversized(r, n) => {
                        format!("OVERSIZED({n}):{}", String::from_utf8_lossy(r))
                    }
                })
            });
        }
        out
    }

    #[test]
    fn newline_framing_across_reads() {
        assert_eq!(
            frames(&[b"<13>a b\n<13>c", b" d\r\n\n<14>e"], 100),
            ["<13>a b", "<13>c d", "<14>e"]
        );
    }

    #[test]
    fn octet_counting_and_mixed() {
        let m1 = b"<165>1 2003-10-11T22:14:15.003Z host app - ID47 - hi\nthere";
        let mut s = format!("{} ", m1.len()).into_bytes();
        s.extend_from_slice(m1);
        s.extend_from_slice(b"<13>plain line\n");
        // Split inside the length prefix and inside the message.
        let (a, b) = s.split_at(1);
        let (b, c) = b.split_at(10);
        let out = frames(&[a, b, c], 1000);
        assert_eq!(out[0], String::from_utf8_lossy(m1));
        assert_eq!(out[1], "<13>plain line");
        // A line starting with digits that is not octet counted.
        assert_eq!(frames(&[b"123 not counted\n"], 100), ["123 not counted"]);
    }

    #[test]
    fn oversized_records_are_cut_and_skipped() {
        let out = frames(&[b"<13>aaaaaaaaaa", b"aaaa\n<13>ok\n"], 8);
        assert_eq!(out, ["OVERSIZED(14):<13>aaaa", "<13>ok"]);
        let out = frames(&[b"20 <13>aaaaaaa", b"aaaaaaaaa<13>ok\n"], 8);
        assert_eq!(out, ["OVERSIZED(20):<13>aaaa", "<13>ok"]);
    }
}
