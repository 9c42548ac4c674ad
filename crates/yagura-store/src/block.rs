//! Blocks: the unit the store writes, compresses, hashes and signs.
//!
//! A partition's `blocks.dat` is a sequence of blocks, appended and never rewritten:
//!
//! ```text
//! "YBK1"                      magic
//! u32 BE  leaf length, then the leaf (merkle::Leaf::encode of the block's BlockLeaf)
//! u32 BE  event count n, then n × 8 bytes: the first 8 bytes of each event's leaf hash
//! u64 BE  payload length, then the payload: one zstd frame of the records, each ending in '\n'
//! u32 BE  CRC-32 of everything above (a block torn by a crash is found and cut on open)
//! ```
//!
//! The leaf (signed, through the Merkle tree) names the block's partition, first sequence
//! number, count, time range, the BLAKE3 hash of the compressed payload and the Merkle root of
//! its events; so every byte of a block is covered either by the CRC (framing only) or by the
//! signature. The 8-byte hash prefixes are not trusted: they only let `verify` name the first
//! altered record inside a block whose root no longer matches.

use crate::merkle::{self, BlockLeaf, Hash, Leaf};
use crate::{io, StoreError};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"YBK1";
/// zstd level for block payloads: level 3 is zstd's default; higher levels cost more CPU at
/// indexing than they save on disk for log data (bench/store.sh).
pub const ZSTD_LEVEL: i32 = 3;

/// Where a block lies in its partition's file, and what its leaf says.
#[derive(Debug, Clone)]
pub struct BlockMeta {
    /// Byte offset of the block's magic.
    pub offset: u64,
    /// Total length on disk.
    pub len: u64,
    /// The block's leaf, as decoded from the file.
    pub leaf: BlockLeaf,
    /// The leaf's encoding (as hashed into the tree).
    pub leaf_bytes: Vec<u8>,
}

/// A block read back: its records and what the file claims.
pub struct BlockData {
    /// The records, back to back, each ending in `\n`.
    pub payload: Vec<u8>,
    /// The compressed payload, as stored.
    pub compressed: Vec<u8>,
    /// The stored 8-byte hash prefixes.
    pub prefixes: Vec<[u8; 8]>,
}

impl BlockData {
    /// The records, without their newlines.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        let p = &self.payload[..];
        let p = p.strip_suffix(b"\n").unwrap_or(p);
        p.split(|&b| b == b'\n')
            .filter(move |_| !self.payload.is_empty())
    }
}

/// Builds the bytes of one block from its records (each without a newline). Adding a record
/// only copies it; hashing and compressing wait for [`BlockBuilder::finish`], which the store
/// runs off its appending thread.
pub struct BlockBuilder {
    raw: Vec<u8>,
    /// End of each record in `raw` (before its newline).
    ends: Vec<usize>,
    first_seq: u64,
    min_ts: i64,
    max_ts: i64,
}

impl Default for BlockBuilder {
    fn default() -> Self {
        Self {
            raw: Vec::new(),
            ends: Vec::new(),
            first_seq: 0,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
        }
    }
}

impl BlockBuilder {
    /// Adds one record.
    pub fn push(&mut self, seq: u64, ts_ms: i64, record: &[u8]) {
        if self.ends.is_empty() {
            self.first_seq = seq;
        }
        self.raw.extend_from_slice(record);
        self.ends.push(self.raw.len());
        self.raw.push(b'\n');
        self.min_ts = self.min_ts.min(ts_ms);
        self.max_ts = self.max_ts.max(ts_ms);
    }

    /// Records added so far.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Bytes of the records added so far.
    pub fn bytes(&self) -> usize {
        self.raw.len()
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Compresses and frames the block; returns its bytes and leaf. Leaves the builder empty.
    pub fn finish(&mut self, partition: &str) -> Result<(Vec<u8>, BlockLeaf), StoreError> {
        let mut start = 0;
        let hashes: Vec<Hash> = self
            .ends
            .iter()
            .map(|&end| {
                let h = merkle::event_leaf(&self.raw[start..end]);
                start = end + 1;
                h
            })
            .collect();
        let compressed = compress(&self.raw).map_err(|e| {
            StoreError::Corrupt(format!("{partition}: zstd failed to compress a block: {e}"))
        })?;
        let leaf = BlockLeaf {
            partition: partition.to_owned(),
            first_seq: self.first_seq,
            count: hashes.len() as u32,
            min_ts_ms: self.min_ts,
            max_ts_ms: self.max_ts,
            payload_hash: *blake3::hash(&compressed).as_bytes(),
            events_root: merkle::root(&hashes),
        };
        let leaf_bytes = Leaf::Block(leaf.clone()).encode();
        let mut out = Vec::with_capacity(compressed.len() + leaf_bytes.len() + 24 + 8 * self.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(leaf_bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&leaf_bytes);
        out.extend_from_slice(&(hashes.len() as u32).to_be_bytes());
        for h in &hashes {
            out.extend_from_slice(&h[..8]);
        }
        out.extend_from_slice(&(compressed.len() as u64).to_be_bytes());
        out.extend_from_slice(&compressed);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        self.raw.clear();
        self.ends.clear();
        self.min_ts = i64::MAX;
        self.max_ts = i64::MIN;
        Ok((out, leaf))
    }
}

/// zstd window for blocks (2^27 = 128 MiB) with long-distance matching: log records repeat
/// their templates far apart, which the default window (a few MiB at level 3) does not see.
const WINDOW_LOG: u32 = 27;

fn compress(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = zstd::stream::Encoder::new(Vec::with_capacity(raw.len() / 8), ZSTD_LEVEL)?;
    enc.long_distance_matching(true)?;
    enc.window_log(WINDOW_LOG)?;
    enc.include_checksum(false)?;
    // The window then fits the block (a 128 MiB window for a small block costs more to set up
    // than to compress).
    enc.set_pledged_src_size(Some(raw.len() as u64))?;
    enc.write_all(raw)?;
    enc.finish()
}

fn decompress(compressed: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut dec = zstd::stream::Decoder::new(compressed)?;
    dec.window_log_max(WINDOW_LOG)?;
    let mut out = Vec::new();
    dec.read_to_end(&mut out)?;
    Ok(out)
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// What a scan of a blocks file found.
pub struct Scan {
    /// Whole, well-framed blocks in file order.
    pub blocks: Vec<BlockMeta>,
    /// Offset where the well-framed blocks end.
    pub good_len: u64,
    /// File length.
    pub file_len: u64,
    /// Why the scan stopped before the end, if it did.
    pub stopped: Option<String>,
}

/// Parses the frame of the block at the start of `b`: `(total length, leaf bytes)`, or why not.
fn frame(b: &[u8]) -> Result<(usize, &[u8]), String> {
    if b.len() < 4 {
        return Err("truncated block magic".into());
    }
    if &b[..4] != MAGIC {
        return Err("no block magic".into());
    }
    let leaf_len = be_u32(b, 4).ok_or("truncated leaf length")? as usize;
    let leaf_end = 8usize
        .checked_add(leaf_len)
        .filter(|&e| e <= b.len())
        .ok_or("truncated leaf")?;
    let n = be_u32(b, leaf_end).ok_or("truncated event count")? as usize;
    let hashes_end = (leaf_end + 4)
        .checked_add(n.checked_mul(8).ok_or("event count overflows")?)
        .filter(|&e| e <= b.len())
        .ok_or("truncated hash prefixes")?;
    let plen = be_u64(b, hashes_end).ok_or("truncated payload length")? as usize;
    let payload_end = (hashes_end + 8)
        .checked_add(plen)
        .filter(|&e| e <= b.len())
        .ok_or("truncated payload")?;
    let crc = be_u32(b, payload_end).ok_or("truncated checksum")?;
    if crc32fast::hash(&b[..payload_end]) != crc {
        return Err("checksum mismatch".into());
    }
    Ok((payload_end + 4, &b[8..leaf_end]))
}

/// Reads the frame of every block of a blocks file (leaves decoded; payloads skipped, not
/// read, and checksums not checked: a block is trusted only when its leaf matches the log's).
pub fn scan(path: &Path) -> Result<Scan, StoreError> {
    let mut f = match File::open(path) {
        Ok(f) => std::io::BufReader::with_capacity(64 << 10, f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Scan {
                blocks: Vec::new(),
                good_len: 0,
                file_len: 0,
                stopped: None,
            })
        }
        Err(e) => return Err(io(path)(e)),
    };
    let file_len = f.get_ref().metadata().map_err(io(path))?.len();
    let mut blocks = Vec::new();
    let mut at = 0u64;
    let mut stopped = None;
    while at < file_len {
        match frame_at(&mut f, at, file_len) {
            Ok((len, leaf_bytes)) => match Leaf::decode(&leaf_bytes) {
                Ok(Leaf::Block(leaf)) => {
                    blocks.push(BlockMeta {
                        offset: at,
                        len,
                        leaf,
                        leaf_bytes,
                    });
                    at += len;
                }
                Ok(_) => {
                    stopped = Some(format!("offset {at}: a non-block leaf in a block"));
                    break;
                }
                Err(e) => {
                    stopped = Some(format!("offset {at}: leaf cannot be decoded: {e}"));
                    break;
                }
            },
            Err(why) => {
                stopped = Some(format!("offset {at}: {why}"));
                break;
            }
        }
    }
    Ok(Scan {
        blocks,
        good_len: at,
        file_len,
        stopped,
    })
}

/// Reads the header of the block at `at`: its total length and leaf bytes.
fn frame_at(
    f: &mut std::io::BufReader<File>,
    at: u64,
    file_len: u64,
) -> Result<(u64, Vec<u8>), String> {
    let e = |e: std::io::Error| e.to_string();
    f.seek(SeekFrom::Start(at)).map_err(e)?;
    let mut head = [0u8; 8];
    f.read_exact(&mut head)
        .map_err(|_| "truncated block header")?;
    if &head[..4] != MAGIC {
        return Err("no block magic".into());
    }
    let leaf_len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as u64;
    if at + 8 + leaf_len > file_len {
        return Err("truncated leaf".into());
    }
    let mut leaf = vec![0u8; leaf_len as usize];
    f.read_exact(&mut leaf).map_err(|_| "truncated leaf")?;
    let mut n = [0u8; 4];
    f.read_exact(&mut n).map_err(|_| "truncated event count")?;
    let n = u32::from_be_bytes(n) as u64;
    f.seek_relative((n * 8) as i64).map_err(e)?;
    let mut plen = [0u8; 8];
    f.read_exact(&mut plen)
        .map_err(|_| "truncated payload length")?;
    let plen = u64::from_be_bytes(plen);
    let len = 8 + leaf_len + 4 + n * 8 + 8 + plen + 4;
    if at.checked_add(len).is_none_or(|end| end > file_len) {
        return Err("truncated payload".into());
    }
    Ok((len, leaf))
}

/// Reads the block at `offset` (of `len` bytes) and decompresses its payload.
pub fn read(file: &mut File, path: &Path, offset: u64, len: u64) -> Result<BlockData, StoreError> {
    let mut b = vec![0u8; len as usize];
    file.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    file.read_exact(&mut b).map_err(io(path))?;
    decode(&b)
        .map_err(|why| StoreError::Corrupt(format!("{}: offset {offset}: {why}", path.display())))
}

/// Decodes one whole block's bytes.
pub fn decode(b: &[u8]) -> Result<BlockData, String> {
    let (_, leaf_bytes) = frame(b)?;
    let leaf_end = 8 + leaf_bytes.len();
    let n = be_u32(b, leaf_end).ok_or("truncated")? as usize;
    let mut prefixes = Vec::with_capacity(n);
    for i in 0..n {
        let at = leaf_end + 4 + i * 8;
        let mut p = [0u8; 8];
        p.copy_from_slice(b.get(at..at + 8).ok_or("truncated")?);
        prefixes.push(p);
    }
    let hashes_end = leaf_end + 4 + n * 8;
    let plen = be_u64(b, hashes_end).ok_or("truncated")? as usize;
    let compressed = b
        .get(hashes_end + 8..hashes_end + 8 + plen)
        .ok_or("truncated")?
        .to_vec();
    let payload =
        decompress(&compressed).map_err(|e| format!("payload cannot be decompressed: {e}"))?;
    Ok(BlockData {
        payload,
        compressed,
        prefixes,
    })
}

/// An open blocks file, appended to.
pub struct BlockFile {
    /// Its path.
    pub path: PathBuf,
    file: File,
    /// Its length.
    pub len: u64,
}

impl BlockFile {
    /// Opens for appending, cutting the file to `good_len` (a torn or uncommitted tail).
    pub fn open(path: &Path, good_len: u64) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        if len > good_len {
            tracing::warn!(
                "{}: cut {} bytes written by a commit that did not finish",
                path.display(),
                len - good_len
            );
            file.set_len(good_len).map_err(io(path))?;
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            len: good_len,
        })
    }

    /// Appends one block's bytes; returns its offset.
    pub fn append(&mut self, bytes: &[u8]) -> Result<u64, StoreError> {
        let at = self.len;
        self.file
            .seek(SeekFrom::Start(at))
            .map_err(io(&self.path))?;
        self.file.write_all(bytes).map_err(io(&self.path))?;
        self.len += bytes.len() as u64;
        Ok(at)
    }

    /// fdatasync.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(io(&self.path))
    }
}

/// The `yagura.seq` a stored record (or journal line) starts with.
pub fn record_seq(rec: &[u8]) -> Option<u64> {
    let rest = rec.strip_prefix(b"{\"yagura.seq\":")?;
    let end = rest.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}
