//! The raw record as the write-ahead log keeps it: the bytes a sender sent, plus the envelope
//! of where and when they arrived. Nothing here is parsed; `yagura-normalize` does that later.
//!
//! Encoding of one record (little endian): `version u8 (1)`, `format u8`, `received_ms i64`,
//! `offset u64`, `file_id u64`, then five `u16`-length-prefixed UTF-8 strings (`listener`, `source_type`,
//! `peer`, `host`, `stream`), then the data to the end of the record.

/// What the data of a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One line of text (a syslog message, a tailed line, a HEC raw line).
    Text,
    /// One JSON document's text (NDJSON line, HEC event, `_bulk` source, OTLP log record).
    Json,
}

/// Where and when a record arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Arrival time, Unix milliseconds.
    pub received_ms: i64,
    /// Listener name (`syslog-udp`, `syslog-tcp`, `http`, `hec`, `bulk`, `otlp`, `tail`).
    pub listener: &'a str,
    /// Source type the route configures (`auto` to detect).
    pub source_type: &'a str,
    /// Sender address (`127.0.0.1:50514`), or empty.
    pub peer: &'a str,
    /// Host the sender named (HEC `host`, `_bulk` index, OTLP `host.name`), or empty.
    pub host: &'a str,
    /// Stream within the listener: tailed file path, HEC channel, `_bulk` index; or empty.
    pub stream: &'a str,
    /// For tailed files: the byte offset just after this record in the file.
    pub offset: u64,
    /// For tailed files: the file's identity (inode), so a position survives rotation.
    pub file_id: u64,
    /// What the data is.
    pub format: Format,
}

impl<'a> Envelope<'a> {
    /// The envelope of a record received over the network (no file position).
    pub fn received(
        listener: &'a str,
        source_type: &'a str,
        peer: &'a str,
        host: &'a str,
        stream: &'a str,
        received_ms: i64,
        format: Format,
    ) -> Self {
        Self {
            received_ms,
            listener,
            source_type,
            peer,
            host,
            stream,
            offset: 0,
            file_id: 0,
            format,
        }
    }
}

/// One decoded record, borrowed from the log's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// Its envelope.
    pub envelope: Envelope<'a>,
    /// The data exactly as received.
    pub data: &'a [u8],
}

/// Why bytes are not a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed WAL record: {0}")]
pub struct DecodeError(&'static str);

const VERSION: u8 = 1;

/// Many records encoded back to back in one buffer: the unit a listener hands to the log, so
/// that a batch costs two allocations however many records it holds.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    buf: Vec<u8>,
    ends: Vec<u32>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a record. Envelope strings longer than 65,535 bytes are cut (at a char boundary).
    pub fn push(&mut self, env: &Envelope<'_>, data: &[u8]) {
        let b = &mut self.buf;
        b.push(VERSION);
        b.push(match env.format {
            Format::Text => 0,
            Format::Json => 1,
        });
        b.extend_from_slice(&env.received_ms.to_le_bytes());
        b.extend_from_slice(&env.offset.to_le_bytes());
        b.extend_from_slice(&env.file_id.to_le_bytes());
        for s in [
            env.listener,
            env.source_type,
            env.peer,
            env.host,
            env.stream,
        ] {
            let s = cut(s, u16::MAX as usize);
            b.extend_from_slice(&(s.len() as u16).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
        }
        b.extend_from_slice(data);
        self.ends.push(self.buf.len() as u32);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Total encoded bytes.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// The encoded records, in order.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&end| {
            let r = &self.buf[start..end as usize];
            start = end as usize;
            r
        })
    }

    /// Removes every record, keeping the buffers.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decodes one encoded record.
pub fn decode(bytes: &[u8]) -> Result<RawRecord<'_>, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    if r.u8()? != VERSION {
        return Err(DecodeError("unknown version"));
    }
    let format = match r.u8()? {
        0 => Format::Text,
        1 => Format::Json,
        _ => return Err(DecodeError("unknown format")),
    };
    let received_ms = i64::from_le_bytes(r.take(8)?.try_into().map_err(|_| DecodeError("short"))?);
    let offset = u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| DecodeError("short"))?);
    let file_id = u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| DecodeError("short"))?);
    let listener = r.string()?;
    let source_type = r.string()?;
    let peer = r.string()?;
    let host = r.string()?;
    let stream = r.string()?;
    Ok(RawRecord {
        envelope: Envelope {
            received_ms,
            listener,
            source_type,
            peer,
            host,
            stream,
            offset,
            file_id,
            format,
        },
        data: &bytes[r.pos..],
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError("short"))?;
        let s = self
            .bytes
            .get(self.pos..end)
            .ok_or(DecodeError("record ends inside its envelope"))?;
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn string(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.take(2)?;
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError("envelope text is not UTF-8"))
    }
}

/// Current time, Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = Batch::new();
        let env = Envelope {
            received_ms: 1_700_000_000_123,
            listener: "syslog-tcp",
            source_type: "auto",
            peer: "127.0.0.1:5000",
            host: "",
            stream: "",
            offset: 42,
            file_id: 7,
            format: Format::Text,
        };
        b.push(&env, b"<13>Oct 11 22:14:15 host sshd[1]: hello");
        b.push(
            &Envelope {
                format: Format::Json,
                ..env
            },
            b"{}",
        );
        let recs: Vec<_> = b.records().map(|r| decode(r).unwrap()).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].envelope, env);
        assert_eq!(recs[0].data, b"<13>Oct 11 22:14:15 host sshd[1]: hello");
        assert_eq!(recs[1].envelope.format, Format::Json);
        assert!(decode(&[1, 0, 0]).is_err());
        assert!(decode(&[9]).is_err());
    }

    #[test]
    fn long_envelope_strings_are_cut_on_char_boundaries() {
        let long = "櫓".repeat(30_000); // 90,000 bytes
        let mut b = Batch::new();
        let env = Envelope {
            received_ms: 0,
            listener: "x",
            source_type: "auto",
            peer: "",
            host: &long,
            stream: "",
            offset: 0,
            file_id: 0,
            format: Format::Text,
        };
        b.push(&env, b"d");
        let rec = decode(b.records().next().unwrap()).unwrap();
        assert!(rec.envelope.host.len() <= 65_535);
        assert!(rec.envelope.host.chars().all(|c| c == '櫓'));
        assert_eq!(rec.data, b"d");
    }
}
