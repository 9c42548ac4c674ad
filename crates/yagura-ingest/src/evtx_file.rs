//! EVTX files, read chunk by chunk by the `evtx` crate.
//!
//! Damage is reported and reading goes on:
//! - a record that cannot be parsed: one error with its record id; the chunk's other records are
//!   still read (the `evtx` crate resyncs on the next record);
//! - a chunk that cannot be parsed (bad magic, damaged header): one error naming the chunk;
//! - a truncated file (its last chunk shorter than 64 KiB): one error, then the partial chunk is
//!   read as if the missing bytes were zeros, so the records it holds whole are still produced
//!   and the ones cut off are reported.
//!
//! Windows preallocates log files, so many end in chunks that were never written (all zeros):
//! 720 of the 1,806 chunks of `../shared/data/evtx/`. The `evtx` crate reads each and checks it
//! byte by byte before skipping it; the reader here stops before such a tail instead (see
//! [`used_len`]), which gives the same records.

use std::io::{Read, Seek, SeekFrom};

use evtx::err::EvtxError;
use evtx::{EvtxParser, ParserSettings, SerializedEvtxRecord};

use crate::error::error_chain;
use crate::{IngestError, Location, RawItem, ReadOptions};

/// Size of the EVTX file header block.
const FILE_HEADER_SIZE: u64 = 4096;
/// Size of one EVTX chunk.
const CHUNK_SIZE: u64 = 65536;

/// Reads every record of the EVTX stream `data`, `len` bytes long, whose display name is `file`:
/// as JSON text ([`RawItem::Json`]) when `raw_json`, else as parsed documents ([`RawItem::Doc`]).
pub(crate) fn read_evtx<R: Read + Seek>(
    file: &str,
    mut data: R,
    len: u64,
    opts: &ReadOptions,
    raw_json: bool,
    on_item: &mut dyn FnMut(RawItem<'_>),
) {
    let body = len.saturating_sub(FILE_HEADER_SIZE);
    let partial = body % CHUNK_SIZE;
    let whole_chunks = body / CHUNK_SIZE;
    let padded_len = if len > FILE_HEADER_SIZE && partial != 0 {
        on_item(RawItem::Error(IngestError::file(
            file,
            format!(
                "file is truncated: chunk {whole_chunks} holds {partial} of {CHUNK_SIZE} bytes \
                 (reading what it holds)"
            ),
        )));
        len + (CHUNK_SIZE - partial)
    } else {
        len
    };
    let cut = if padded_len > len {
        CutChunk::read(&mut data, whole_chunks, partial)
    } else {
        None
    };
    let (len, padded_len) = if padded_len == len {
        let used = used_len(&mut data, whole_chunks).min(len);
        (used, used)
    } else {
        (len, padded_len)
    };
    if let Err(e) = data.seek(SeekFrom::Start(0)) {
        let reason = format!("cannot read: {}", error_chain(&e));
        on_item(RawItem::Error(IngestError::file(file, reason)));
        return;
    }
    let padded = ZeroPadded::new(data, len, padded_len);
    let parser = match EvtxParser::from_read_seek(padded) {
        Ok(p) => p,
        Err(e) => {
            let reason = format!("not a readable EVTX file: {}", error_chain(&e));
            on_item(RawItem::Error(IngestError::file(file, reason)));
            return;
        }
    };
    let header_chunks = u64::from(parser.header().chunk_count);
    let chunks_present = whole_chunks + u64::from(partial != 0);
    if header_chunks > chunks_present {
        on_item(RawItem::Error(IngestError::file(
            file,
            format!(
                "file is truncated: its header names {header_chunks} chunks, \
                 it holds {chunks_present}"
            ),
        )));
    }
    let settings = ParserSettings::new()
        .num_threads(opts.evtx_threads)
        .separate_json_attributes(false)
        .indent(false);
    let mut parser = parser.with_configuration(settings);
    let mut loc = Location {
        file: file.to_owned(),
        record: 0,
    };
    if raw_json {
        for record in records::<_, String>(&mut parser, cut, |r| r.into_json()) {
            match record {
                Ok(record) => {
                    loc.record = record.event_record_id;
                    on_item(RawItem::Json {
                        loc: &loc,
                        json: &record.data,
                    });
                }
                Err(err) => on_item(RawItem::Error(record_error(file, &err))),
            }
        }
    } else {
        for record in records::<_, serde_json::Value>(&mut parser, cut, |r| r.into_json_value()) {
            match record {
                Ok(record) => {
                    loc.record = record.event_record_id;
                    on_item(RawItem::Doc {
                        loc: &loc,
                        doc: &record.data,
                    });
                }
                Err(err) => on_item(RawItem::Error(record_error(file, &err))),
            }
        }
    }
}

/// The records of `parser` rendered by `render`; a record cut off by the end of a truncated
/// file (in `cut`) is an error.
fn records<R: Read + Seek, U: Send + 'static>(
    parser: &mut EvtxParser<ZeroPadded<R>>,
    cut: Option<CutChunk>,
    render: fn(evtx::EvtxRecord<'_>) -> Result<SerializedEvtxRecord<U>, EvtxError>,
) -> impl Iterator<Item = Result<SerializedEvtxRecord<U>, EvtxError>> + '_ {
    parser.serialized_records(move |record| {
        let record = record?;
        if let Some(cut) = cut {
            if cut.holds_part_of(&record) {
                return Err(EvtxError::FailedToParseRecord {
                    record_id: record.event_record_id,
                    source: Box::new(EvtxError::FailedToCreateRecordModel(
                        "the record is cut off by the end of the truncated file",
                    )),
                });
            }
        }
        render(record)
    })
}

/// The length of an untruncated file of `chunks` chunks without its tail of empty (all-zero)
/// chunks, which the `evtx` crate would skip. A read error keeps the whole length: the parser
/// then reports it.
fn used_len<R: Read + Seek>(data: &mut R, chunks: u64) -> u64 {
    let whole = FILE_HEADER_SIZE + chunks * CHUNK_SIZE;
    let mut buf = Vec::new();
    let mut used = chunks;
    while used > 0 {
        let at = FILE_HEADER_SIZE + (used - 1) * CHUNK_SIZE;
        // A written chunk starts with its magic: most are told apart by their first 8 bytes.
        let mut magic = [0u8; 8];
        if data.seek(SeekFrom::Start(at)).is_err() || data.read_exact(&mut magic).is_err() {
            return whole;
        }
        if magic != [0; 8] {
            break;
        }
        buf.resize(CHUNK_SIZE as usize - magic.len(), 0);
        if data.read_exact(&mut buf).is_err() {
            return whole;
        }
        if !all_zero(&buf) {
            break;
        }
        used -= 1;
    }
    FILE_HEADER_SIZE + used * CHUNK_SIZE
}

/// True when every byte of `bytes` is zero; checks 4 KiB at a time with a fold the compiler
/// vectorises (the `evtx` crate's byte-wise test was 8% of a parse-only hunt, perf).
fn all_zero(bytes: &[u8]) -> bool {
    bytes
        .chunks(4096)
        .all(|block| block.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

/// The last chunk of a truncated file: which records of it are whole.
#[derive(Clone, Copy)]
struct CutChunk {
    first_id: u64,
    last_id: u64,
    /// Bytes of the chunk that are in the file.
    kept: u64,
}

impl CutChunk {
    /// Reads the record id range from the header of chunk `number`, which holds `kept` bytes.
    fn read<R: Read + Seek>(data: &mut R, number: u64, kept: u64) -> Option<Self> {
        let mut header = [0u8; 24];
        data.seek(SeekFrom::Start(FILE_HEADER_SIZE + number * CHUNK_SIZE))
            .ok()?;
        data.read_exact(&mut header).ok()?;
        let id_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&header[o..o + 8]);
            u64::from_le_bytes(b)
        };
        Some(Self {
            first_id: id_at(8),
            last_id: id_at(16),
            kept,
        })
    }

    /// True when `record` is in this chunk and reaches past its end in the file (its bytes
    /// there are the zeros of the padding).
    fn holds_part_of(&self, record: &evtx::EvtxRecord<'_>) -> bool {
        let header = record.chunk.header;
        // A record ends with a 4-byte copy of its size after its BinXML.
        let end = record.binxml_offset + u64::from(record.binxml_size) + 4;
        header.first_event_record_id == self.first_id
            && header.last_event_record_id == self.last_id
            && end > self.kept
    }
}

/// An `evtx` error as an [`IngestError`], with the record id when the error names one.
fn record_error(file: &str, err: &EvtxError) -> IngestError {
    match err {
        EvtxError::FailedToParseRecord { record_id, source } => {
            IngestError::record(file, *record_id, error_chain(source.as_ref()))
        }
        other => IngestError::file(file, error_chain(other)),
    }
}

/// A stream that reads as `inner` followed by zeros up to `padded_len` bytes.
struct ZeroPadded<R> {
    inner: R,
    inner_len: u64,
    padded_len: u64,
    pos: u64,
}

impl<R: Read + Seek> ZeroPadded<R> {
    fn new(inner: R, inner_len: u64, padded_len: u64) -> Self {
        Self {
            inner,
            inner_len,
            padded_len,
            pos: 0,
        }
    }
}

impl<R: Read + Seek> Read for ZeroPadded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos < self.inner_len {
            let room = usize::try_from(self.inner_len - self.pos).unwrap_or(usize::MAX);
            let want = buf.len().min(room);
            let n = self.inner.read(&mut buf[..want])?;
            self.pos += n as u64;
            return Ok(n);
        }
        let room = usize::try_from(self.padded_len.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        buf[..n].fill(0);
        self.pos += n as u64;
        Ok(n)
    }
}

impl<R: Read + Seek> Seek for ZeroPadded<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.padded_len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before start")
        })?;
        self.inner
            .seek(SeekFrom::Start(target.min(self.inner_len)))?;
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn used_len_drops_only_a_tail_of_empty_chunks() {
        let chunk = CHUNK_SIZE as usize;
        let header = FILE_HEADER_SIZE as usize;
        // Chunks: used, empty, used (one byte at its very end), empty, empty.
        let mut file = vec![0u8; header + 5 * chunk];
        file[header] = b'E';
        file[header + 3 * chunk - 1] = 1;
        let mut data = Cursor::new(file);
        assert_eq!(used_len(&mut data, 5), FILE_HEADER_SIZE + 3 * CHUNK_SIZE);
        assert_eq!(used_len(&mut data, 1), FILE_HEADER_SIZE + CHUNK_SIZE);
        assert_eq!(used_len(&mut data, 0), FILE_HEADER_SIZE);
        // A header claiming more chunks than the stream holds keeps the length.
        assert_eq!(used_len(&mut data, 9), FILE_HEADER_SIZE + 9 * CHUNK_SIZE);
        assert!(all_zero(&[0; 5000]));
        assert!(!all_zero(&[0, 0, 0, 0, 0, 2]));
    }

    #[test]
    fn zero_padded_reads_and_seeks() {
        let mut z = ZeroPadded::new(Cursor::new(vec![1u8, 2, 3]), 3, 6);
        let mut all = Vec::new();
        z.read_to_end(&mut all).unwrap();
        assert_eq!(all, [1, 2, 3, 0, 0, 0]);
        assert_eq!(z.seek(SeekFrom::End(-4)).unwrap(), 2);
        let mut two = [9u8; 2];
        z.read_exact(&mut two).unwrap();
        assert_eq!(two, [3, 0]);
    }
}
