//! The embedded store: time partitions per source, blocks signed into one Merkle log, a
//! tantivy index per partition.
//!
//! ```text
//! DIR/parts/<source>/<YYYY-MM-DD>/blocks.dat   blocks (crate::block), append-only
//! DIR/parts/<source>/<YYYY-MM-DD>/index/       tantivy index of the partition
//! DIR/log/leaves.dat                           flush groups of Merkle leaves (below)
//! DIR/log/heads.dat                            signed tree heads, 112 bytes each
//! DIR/keys/signing.key, signing.pub            the installation's ed25519 key
//! ```
//!
//! **Flush.** Appended events wait in memory, per partition, until a flush (at 64 Ki events, 32
//! MiB, or when the oldest is 2 s old). A flush writes one block per partition, then appends one
//! *group* to `leaves.dat` — `u32 length | u32 leaf count | (u32 length | leaf)… | u64 watermark |
//! u64 last event id | u32 CRC-32` — then signs a tree head. The group is the commit point: on
//! open, a group torn by a crash is cut, and so is every block that no logged leaf names. The
//! watermark is the last write-ahead log sequence number the group completes, which the indexer
//! resumes after; so a crash anywhere loses nothing the log still holds and duplicates nothing.
//!
//! **Event ids.** Every stored event gets the store's own sequence number, `yagura.seq` (1, 2,
//! 3… in storage order), whether it came from the log or from `yagura import`.

use crate::block::{self, BlockBuilder, BlockFile, BlockMeta};
use crate::index::{self, Fields};
use crate::merkle::{DeletionLeaf, Leaf, Tree};
use crate::proof::{SignedTreeHead, Signer, TreeHead};
use crate::{io, EventStore, StoreError};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tantivy::{IndexWriter, TantivyDocument};
use yagura_event::Record;

/// Retention of one source: whole partitions older than `days`, or beyond `bytes`, are dropped.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Days of data kept (by event time, whole UTC days).
    pub days: Option<u32>,
    /// Bytes kept on disk for the source (oldest partitions dropped first).
    pub bytes: Option<u64>,
}

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// fdatasync blocks and the log at every sync.
    pub fsync: bool,
    /// Events per flush at most.
    pub flush_events: usize,
    /// Events per block at most: fetching one event decompresses its whole block, so blocks
    /// stay small enough for that to take milliseconds, large enough to compress well (4,096:
    /// bench/store.sh measured 16,384 at 2.5× the fetch time for 11% less disk).
    pub block_events: usize,
    /// Uncompressed bytes per block at most (a block is sealed, hashed and compressed on a
    /// thread of its own, once full by events or by bytes: large events, a Windows fleet's,
    /// fill a flush's bytes long before a block's events, and a flush then waited on sealing
    /// all of it).
    pub block_bytes: usize,
    /// Uncompressed bytes per flush at most.
    pub flush_bytes: usize,
    /// Oldest pending event's age that triggers a flush.
    pub flush_age: Duration,
    /// Index commit interval (search sees events after it).
    pub index_commit: Duration,
    /// Memory for each open index writer (shared by its threads).
    pub writer_memory: usize,
    /// Indexing threads of each open index writer: with one, a partition that takes most of
    /// the events (a Windows fleet's) is indexed by one core while the other waits.
    pub writer_threads: usize,
    /// Open index writers at most (least recently used are closed).
    pub max_writers: usize,
    /// Retention for sources without their own.
    pub retention: Limit,
    /// Per source (`event.module`) retention.
    pub retention_by_source: BTreeMap<String, Limit>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            fsync: true,
            flush_events: 64 << 10,
            block_events: 4096,
            block_bytes: 4 << 20,
            flush_bytes: 32 << 20,
            flush_age: Duration::from_secs(2),
            index_commit: Duration::from_secs(2),
            // Bounded memory while serving: at most 6 × 32 MiB of index buffers.
            writer_memory: 32 << 20,
            writer_threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            max_writers: 6,
            retention: Limit::default(),
            retention_by_source: BTreeMap::new(),
        }
    }
}

impl StoreConfig {
    /// For loading files (`yagura import`): rarer index commits, so the index is written in
    /// fewer, larger segments (faster, and smaller on disk). Flushes stay at 32 Ki events: the
    /// events held until a flush are parsed objects (~4 KB each), and 256 Ki of them (2.1 GB
    /// RSS) cost a sixth of the load in page faults (`store_bench load` on 500 k generated events:
    /// 23.1 k → 26.8 k events/s, 2.1 GB → 0.75 GB peak RSS).
    pub fn bulk() -> Self {
        Self {
            flush_events: 32 << 10,
            flush_bytes: 256 << 20,
            flush_age: Duration::from_secs(30),
            index_commit: Duration::from_secs(60),
            writer_memory: 128 << 20,
            max_writers: 16,
            ..Self::default()
        }
    }
}

fn tv(what: &str) -> impl FnOnce(tantivy::TantivyError) -> StoreError + '_ {
    move |e| StoreError::Index(format!("{what}: {e}"))
}

/// The partition source name of an event: its `event.module`, made safe as a folder name.
pub fn source_of(doc: &Map<String, Value>) -> String {
    source_named(doc.get("event.module").and_then(Value::as_str))
}

/// [`source_of`] of an `event.module` value.
fn source_named(module: Option<&str>) -> String {
    let s: String = module
        .unwrap_or("unknown")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() || s.starts_with('.') {
        "unknown".into()
    } else {
        s
    }
}

/// `YYYY-MM-DD` of epoch milliseconds.
pub fn day_of(ms: i64) -> String {
    let s = yagura_normalize::Rfc3339(ms).to_string();
    s[..10].to_owned()
}

/// Epoch ms of the start of a `YYYY-MM-DD` day.
pub fn day_start(day: &str) -> Option<i64> {
    yagura_normalize::parse_timestamp(&format!("{day}T00:00:00Z"))
}

/// The time of an event: its `@timestamp`.
pub fn time_of(doc: &Map<String, Value>) -> Option<i64> {
    match doc.get("@timestamp")? {
        Value::String(s) => yagura_normalize::parse_timestamp(s),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// One flush group read from the log.
pub struct Group {
    /// Its leaves' encodings.
    pub leaves: Vec<Vec<u8>>,
    /// Last write-ahead log sequence number complete after it.
    pub watermark: u64,
    /// Last event id stored by it (or before it).
    pub last_id: u64,
}

/// Reads the flush groups of `leaves.dat`: the whole ones, and the offset where they end.
pub fn read_groups(path: &Path) -> Result<(Vec<Group>, u64, Option<String>), StoreError> {
    let mut data = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut data).map_err(io(path))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path)(e)),
    }
    let mut groups = Vec::new();
    let mut at = 0usize;
    let mut stopped = None;
    while at < data.len() {
        match parse_group(&data[at..]) {
            Ok((len, g)) => {
                groups.push(g);
                at += len;
            }
            Err(why) => {
                stopped = Some(format!("{}: offset {at}: {why}", path.display()));
                break;
            }
        }
    }
    Ok((groups, at as u64, stopped))
}

fn parse_group(b: &[u8]) -> Result<(usize, Group), String> {
    let u32_at = |at: usize| -> Result<u32, String> {
        b.get(at..at + 4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(|| "truncated group".to_string())
    };
    let len = u32_at(0)? as usize;
    let end = 4usize.checked_add(len).ok_or("bad length")?;
    if end + 4 > b.len() || len < 20 {
        return Err("truncated group".into());
    }
    let crc = u32_at(end)?;
    if crc32fast::hash(&b[..end]) != crc {
        return Err("group checksum mismatch".into());
    }
    let n = u32_at(4)? as usize;
    let mut at = 8;
    let mut leaves = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let l = u32_at(at)? as usize;
        let leaf = b
            .get(at + 4..at + 4 + l)
            .filter(|_| at + 4 + l <= end)
            .ok_or("truncated leaf")?;
        leaves.push(leaf.to_vec());
        at += 4 + l;
    }
    if at + 16 != end {
        return Err("group length does not match its leaves".into());
    }
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&b[at + 8..at + 16]);
    Ok((
        end + 4,
        Group {
            leaves,
            watermark: u64::from_be_bytes(w),
            last_id: u64::from_be_bytes(id),
        },
    ))
}

fn encode_group(leaves: &[Vec<u8>], watermark: u64, last_id: u64) -> Vec<u8> {
    let body: usize = leaves.iter().map(|l| 4 + l.len()).sum::<usize>() + 4 + 16;
    let mut out = Vec::with_capacity(body + 8);
    out.extend_from_slice(&(body as u32).to_be_bytes());
    out.extend_from_slice(&(leaves.len() as u32).to_be_bytes());
    for l in leaves {
        out.extend_from_slice(&(l.len() as u32).to_be_bytes());
        out.extend_from_slice(l);
    }
    out.extend_from_slice(&watermark.to_be_bytes());
    out.extend_from_slice(&last_id.to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Reads the signed heads of `heads.dat` (whole records only).
pub fn read_heads(path: &Path) -> Result<Vec<SignedTreeHead>, StoreError> {
    let data = match fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(path)(e)),
    };
    let mut out = Vec::new();
    for (i, c) in data
        .chunks_exact(crate::proof::SIGNED_TREE_HEAD_LEN)
        .enumerate()
    {
        out.push(
            SignedTreeHead::decode(c)
                .map_err(|e| StoreError::Corrupt(format!("{}: head {i}: {e}", path.display())))?,
        );
    }
    Ok(out)
}

/// A partition being written.
struct Part {
    dir: PathBuf,
    file: BlockFile,
    /// Blocks with their global leaf index.
    blocks: Vec<(BlockMeta, u64)>,
    writer: Option<IndexWriter<TantivyDocument>>,
    /// Blocks the index holds (committed), and added since the last commit.
    indexed: usize,
    staged: usize,
    last_used: Instant,
    synced: bool,
}

/// Events waiting for the next flush, per partition.
#[derive(Default)]
struct Pending {
    builder: BlockBuilder,
    /// The block being hashed and compressed on a thread of its own once full (or at flush).
    sealing: Option<Sealing>,
    /// Their index documents (without block location).
    docs: Vec<TantivyDocument>,
}

/// A block's bytes and leaf, being made by [`BlockBuilder::finish`] on another thread.
type Sealing = std::thread::JoinHandle<Result<(Vec<u8>, crate::merkle::BlockLeaf), StoreError>>;

/// Hashes and compresses `builder`'s block on a thread of its own: appending goes on meanwhile
/// (hashing and compressing were a third of the appending thread's time, `store_bench load`).
fn seal(key: &str, mut builder: BlockBuilder) -> Result<Sealing, StoreError> {
    let k = key.to_owned();
    std::thread::Builder::new()
        .name("yagura-seal".into())
        .spawn(move || builder.finish(&k))
        .map_err(|e| StoreError::Io {
            path: PathBuf::from(key),
            source: e,
        })
}

/// The bytes and leaf of a sealed block.
fn sealed(key: &str, s: Sealing) -> Result<(Vec<u8>, crate::merkle::BlockLeaf), StoreError> {
    s.join().unwrap_or_else(|_| {
        Err(StoreError::Corrupt(format!(
            "{key}: the thread sealing a block panicked"
        )))
    })
}

/// An event made ready for the store by [`prepare`], which needs no store state (the
/// indexer runs it on its normalizing lanes): its partition, time and index document, and its
/// bytes when the given ones cannot be stored as they are.
pub struct Prepared {
    key: String,
    ts: i64,
    doc: TantivyDocument,
    body: Option<Vec<u8>>,
}

/// Prepares `doc`, parsed from `raw` when given (see [`Store::append_parsed`]).
fn prepare(
    fields: &Fields,
    raw: Option<&[u8]>,
    mut doc: Map<String, Value>,
) -> Result<Prepared, StoreError> {
    let ts = time_of(&doc).unwrap_or_else(now_ms);
    let key = format!("{}/{}", source_of(&doc), day_of(ts));
    let own_id = doc.shift_remove("yagura.seq").is_some();
    let body = match raw {
        Some(r) if !own_id && r.first() == Some(&b'{') && r.last() == Some(&b'}') => None,
        _ => Some(serde_json::to_vec(&doc).map_err(|e| StoreError::Corrupt(e.to_string()))?),
    };
    Ok(Prepared {
        key,
        ts,
        doc: index::document(fields, doc, ts),
        body,
    })
}

/// [`prepare`] of a normalized record, `json` being what
/// [`yagura_normalize::parse::write_json`] wrote of it: read from the record, not parsed back.
fn prepare_record(fields: &Fields, rec: &Record, json: &[u8]) -> Result<Prepared, StoreError> {
    use yagura_normalize::parse::Leaf;
    let (mut doc, head) = index::record_document(fields, rec);
    // The store's own id in a record (an exported event sent back in) is replaced: the
    // stored text has to be written again without it, which the JSON path does.
    if head.has_seq || json.first() != Some(&b'{') {
        let m = serde_json::from_slice::<Map<String, Value>>(json)
            .map_err(|e| StoreError::Rejected(format!("not a JSON object ({e})")))?;
        return prepare(fields, Some(json), m);
    }
    let ts = match head.timestamp {
        Some(Leaf::Str(s)) => yagura_normalize::parse_timestamp(s),
        Some(Leaf::Num(n)) => n.parse::<i64>().ok(),
        _ => None,
    }
    .unwrap_or_else(now_ms);
    index::set_ts(fields, &mut doc, ts);
    Ok(Prepared {
        key: format!("{}/{}", source_named(head.module), day_of(ts)),
        ts,
        doc,
        body: None,
    })
}

/// The embedded event store.
pub struct Store {
    dir: PathBuf,
    cfg: StoreConfig,
    fields: Fields,
    signer: Signer,
    tree: Tree,
    leaves_file: File,
    heads_file: File,
    parts: HashMap<String, Part>,
    /// Per partition, blocks of at most `block_events` events.
    pending: BTreeMap<String, Vec<Pending>>,
    pending_events: usize,
    pending_bytes: usize,
    oldest_pending: Option<Instant>,
    /// Last sequence number flushed (and, after sync, durable).
    flushed_seq: u64,
    durable_seq: u64,
    pending_seq: u64,
    /// Last event id assigned (stored or pending), and the last one flushed.
    next_id: u64,
    flushed_id: u64,
    durable_id: u64,
    last_index_commit: Instant,
    /// Index documents added since the last commit of the indexes.
    index_dirty: bool,
    record: Vec<u8>,
}

impl Store {
    /// Opens (or creates) the store in `dir`, recovering from a crash: torn groups and blocks
    /// no logged leaf names are cut; blocks not yet in a partition's index are indexed again.
    pub fn open(dir: &Path, cfg: StoreConfig) -> Result<Self, StoreError> {
        let log_dir = dir.join("log");
        fs::create_dir_all(&log_dir).map_err(io(&log_dir))?;
        fs::create_dir_all(dir.join("parts")).map_err(io(dir))?;
        let signer = Signer::load_or_create(&dir.join("keys"))
            .map_err(|e| StoreError::Corrupt(format!("signing key: {e}")))?;
        let leaves_path = log_dir.join("leaves.dat");
        let (groups, good, stopped) = read_groups(&leaves_path)?;
        let leaves_file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&leaves_path)
            .map_err(io(&leaves_path))?;
        let len = leaves_file.metadata().map_err(io(&leaves_path))?.len();
        if good < len {
            tracing::warn!(
                "{}: cut {} bytes of a flush torn by a crash{}",
                leaves_path.display(),
                len - good,
                stopped.map(|s| format!(" ({s})")).unwrap_or_default()
            );
            leaves_file.set_len(good).map_err(io(&leaves_path))?;
        }
        let mut tree = Tree::new();
        let mut by_part: HashMap<String, Vec<(Vec<u8>, u64)>> = HashMap::new();
        let mut deleted: HashMap<String, ()> = HashMap::new();
        let mut watermark = 0;
        let mut last_id = 0;
        for g in &groups {
            for l in &g.leaves {
                let idx = tree.len() as u64;
                tree.push(crate::merkle::leaf_hash(l));
                match Leaf::decode(l) {
                    Ok(Leaf::Block(b)) => by_part
                        .entry(b.partition.clone())
                        .or_default()
                        .push((l.clone(), idx)),
                    Ok(Leaf::Deletion(d)) => {
                        by_part.remove(&d.partition);
                        deleted.insert(d.partition.clone(), ());
                    }
                    Err(e) => {
                        return Err(StoreError::Corrupt(format!(
                            "{}: leaf {idx} cannot be decoded: {e}",
                            leaves_path.display()
                        )))
                    }
                }
            }
            watermark = g.watermark;
            last_id = g.last_id;
        }
        let heads_path = log_dir.join("heads.dat");
        let heads_file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&heads_path)
            .map_err(io(&heads_path))?;
        let hlen = heads_file.metadata().map_err(io(&heads_path))?.len();
        let whole = hlen - hlen % crate::proof::SIGNED_TREE_HEAD_LEN as u64;
        if whole < hlen {
            heads_file.set_len(whole).map_err(io(&heads_path))?;
        }
        let heads = read_heads(&heads_path)?;
        let mut store = Self {
            dir: dir.to_owned(),
            fields: Fields::new(),
            signer,
            tree,
            leaves_file,
            heads_file,
            parts: HashMap::new(),
            pending: BTreeMap::new(),
            pending_events: 0,
            pending_bytes: 0,
            oldest_pending: None,
            flushed_seq: watermark,
            durable_seq: watermark,
            pending_seq: watermark,
            next_id: last_id,
            flushed_id: last_id,
            durable_id: last_id,
            last_index_commit: Instant::now(),
            index_dirty: false,
            record: Vec::new(),
            cfg,
        };
        // Partitions: keep the blocks the log names, cut the rest, catch the index up.
        let mut keys: Vec<String> = by_part.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let logged = by_part.remove(&key).unwrap_or_default();
            store.recover_part(&key, &logged)?;
        }
        if heads.last().map_or(0, |h| h.head.size) < store.tree.len() as u64 {
            store.sign_head()?;
        }
        Ok(store)
    }

    fn part_dir(&self, key: &str) -> PathBuf {
        self.dir.join("parts").join(key)
    }

    fn recover_part(&mut self, key: &str, logged: &[(Vec<u8>, u64)]) -> Result<(), StoreError> {
        let dir = self.part_dir(key);
        let path = dir.join("blocks.dat");
        let scan = block::scan(&path)?;
        let mut blocks = Vec::new();
        let mut good = 0;
        for (meta, (leaf, idx)) in scan.blocks.into_iter().zip(logged) {
            if &meta.leaf_bytes != leaf {
                break;
            }
            good = meta.offset + meta.len;
            blocks.push((meta, *idx));
        }
        if blocks.len() < logged.len() {
            tracing::error!(
                "{}: {} of the {} blocks the log names are missing or altered; `yagura verify` names them",
                path.display(),
                logged.len() - blocks.len(),
                logged.len()
            );
            // Keep what is there; never cut logged data.
            good = scan.file_len.max(good);
        }
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let file = BlockFile::open(&path, good)?;
        let mut part = Part {
            dir,
            file,
            blocks,
            writer: None,
            indexed: 0,
            staged: 0,
            last_used: Instant::now(),
            synced: true,
        };
        let index = index::open(&part.dir.join("index"), &self.fields).map_err(tv(key))?;
        let metas = index.load_metas().map_err(tv(key))?;
        let indexed: usize = metas
            .payload
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        part.indexed = indexed.min(part.blocks.len());
        part.staged = part.indexed;
        if indexed > part.blocks.len() {
            tracing::warn!("{key}: the index holds blocks the log does not; rebuilding it");
            part.indexed = 0;
            part.staged = 0;
            drop(index);
            let idir = part.dir.join("index");
            fs::remove_dir_all(&idir).map_err(io(&idir))?;
        }
        if part.indexed < part.blocks.len() {
            tracing::info!(
                "{key}: indexing {} blocks the index had not committed",
                part.blocks.len() - part.indexed
            );
            self.parts.insert(key.to_owned(), part);
            self.reindex_tail(key)?;
        } else {
            self.parts.insert(key.to_owned(), part);
        }
        Ok(())
    }

    /// Indexes the blocks of `key` the index lacks, from the blocks file.
    fn reindex_tail(&mut self, key: &str) -> Result<(), StoreError> {
        self.ensure_writer(key)?;
        let fields = self.fields.clone();
        let Some(part) = self.parts.get_mut(key) else {
            return Ok(());
        };
        let mut f = File::open(&part.file.path).map_err(io(&part.file.path))?;
        for bi in part.staged..part.blocks.len() {
            let meta = &part.blocks[bi].0;
            let data = block::read(&mut f, &part.file.path, meta.offset, meta.len)?;
            let Some(w) = part.writer.as_mut() else {
                break;
            };
            for (pos, rec) in data.records().enumerate() {
                let Ok(doc) = serde_json::from_slice::<Map<String, Value>>(rec) else {
                    continue;
                };
                let seq = doc.get("yagura.seq").and_then(Value::as_u64).unwrap_or(0);
                let ts = time_of(&doc).unwrap_or(0);
                let mut d = index::document(&fields, doc, ts);
                index::set_seq(&fields, &mut d, seq);
                index::set_loc(&fields, &mut d, bi, pos);
                w.add_document(d).map_err(tv(key))?;
            }
        }
        part.staged = part.blocks.len();
        self.commit_index(key)
    }

    fn ensure_writer(&mut self, key: &str) -> Result<(), StoreError> {
        if self.parts.get(key).is_some_and(|p| p.writer.is_some()) {
            if let Some(p) = self.parts.get_mut(key) {
                p.last_used = Instant::now();
            }
            return Ok(());
        }
        // Close the least recently used writers beyond the limit.
        loop {
            let open: Vec<(&String, Instant)> = self
                .parts
                .iter()
                .filter(|(_, p)| p.writer.is_some())
                .map(|(k, p)| (k, p.last_used))
                .collect();
            if open.len() < self.cfg.max_writers.max(1) {
                break;
            }
            let Some(oldest) = open
                .iter()
                .min_by_key(|(_, t)| *t)
                .map(|(k, _)| (*k).clone())
            else {
                break;
            };
            self.commit_index(&oldest)?;
            if let Some(p) = self.parts.get_mut(&oldest) {
                if let Some(w) = p.writer.take() {
                    w.wait_merging_threads().map_err(tv(&oldest))?;
                }
            }
        }
        let fields = self.fields.clone();
        let mem = self.cfg.writer_memory;
        let threads = self.cfg.writer_threads.max(1);
        let Some(part) = self.parts.get_mut(key) else {
            return Ok(());
        };
        let index = index::open(&part.dir.join("index"), &fields).map_err(tv(key))?;
        let writer = index
            .writer_with_num_threads(threads, mem.max(threads * (15 << 20)))
            .map_err(tv(key))?;
        part.writer = Some(writer);
        part.last_used = Instant::now();
        Ok(())
    }

    fn commit_index(&mut self, key: &str) -> Result<(), StoreError> {
        let Some(part) = self.parts.get_mut(key) else {
            return Ok(());
        };
        if part.staged == part.indexed {
            return Ok(());
        }
        if let Some(w) = part.writer.as_mut() {
            let mut c = w.prepare_commit().map_err(tv(key))?;
            c.set_payload(&part.staged.to_string());
            c.commit().map_err(tv(key))?;
            part.indexed = part.staged;
        }
        Ok(())
    }

    fn sign_head(&mut self) -> Result<(), StoreError> {
        let head = TreeHead {
            size: self.tree.len() as u64,
            root: self.tree.root(),
            timestamp_ms: now_ms(),
        };
        let signed = self.signer.sign_head(&head);
        let path = self.dir.join("log").join("heads.dat");
        self.heads_file
            .write_all(&signed.encode())
            .map_err(io(&path))?;
        Ok(())
    }

    /// The installation's public key, hex.
    pub fn public_key_hex(&self) -> String {
        self.signer.public_key_hex()
    }

    /// Writes every pending event: one block per partition, one log group, one signed head.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        // Seal the blocks not yet full, all at once; then take every block in order.
        let mut blocks = Vec::with_capacity(pending.len());
        for (key, ps) in pending {
            for mut p in ps {
                let s = match p.sealing.take() {
                    Some(s) => s,
                    None => seal(&key, std::mem::take(&mut p.builder))?,
                };
                blocks.push((key.clone(), s, p.docs));
            }
        }
        let mut leaves = Vec::with_capacity(blocks.len());
        let mut touched = Vec::with_capacity(blocks.len());
        let fields = self.fields.clone();
        for (key, s, docs) in blocks {
            if !self.parts.contains_key(&key) {
                self.recover_part(&key, &[])?;
            }
            let (bytes, leaf) = sealed(&key, s)?;
            let leaf_bytes = Leaf::Block(leaf.clone()).encode();
            let Some(part) = self.parts.get_mut(&key) else {
                continue;
            };
            let offset = part.file.append(&bytes)?;
            part.synced = false;
            let idx = (self.tree.len() + leaves.len()) as u64;
            part.blocks.push((
                BlockMeta {
                    offset,
                    len: bytes.len() as u64,
                    leaf,
                    leaf_bytes: leaf_bytes.clone(),
                },
                idx,
            ));
            leaves.push(leaf_bytes);
            let bi = part.blocks.len() - 1;
            touched.push((key, bi, docs));
        }
        // The commit point.
        let group = encode_group(&leaves, self.pending_seq, self.next_id);
        let lpath = self.dir.join("log").join("leaves.dat");
        self.leaves_file.write_all(&group).map_err(io(&lpath))?;
        for l in &leaves {
            self.tree.push(crate::merkle::leaf_hash(l));
        }
        self.flushed_seq = self.pending_seq;
        self.flushed_id = self.next_id;
        self.sign_head()?;
        self.pending_events = 0;
        self.pending_bytes = 0;
        self.oldest_pending = None;
        // Index the new blocks.
        for (key, bi, docs) in touched {
            self.ensure_writer(&key)?;
            let Some(part) = self.parts.get_mut(&key) else {
                continue;
            };
            if part.staged > bi {
                continue; // indexed by a catch-up below
            }
            if part.staged != bi {
                // The index lags (a writer was closed with uncommitted blocks): catch up first.
                self.reindex_tail(&key)?;
                continue;
            }
            if let Some(w) = part.writer.as_mut() {
                for (pos, mut d) in docs.into_iter().enumerate() {
                    index::set_loc(&fields, &mut d, bi, pos);
                    w.add_document(d).map_err(tv(&key))?;
                }
            }
            part.staged = bi + 1;
            self.index_dirty = true;
        }
        if self.last_index_commit.elapsed() >= self.cfg.index_commit {
            self.commit_all_indexes()?;
        }
        Ok(())
    }

    /// Commits every partition's index (search sees everything flushed).
    pub fn commit_all_indexes(&mut self) -> Result<(), StoreError> {
        let keys: Vec<String> = self.parts.keys().cloned().collect();
        for k in keys {
            self.commit_index(&k)?;
        }
        self.index_dirty = false;
        self.last_index_commit = Instant::now();
        Ok(())
    }

    /// Flushes, commits every index and closes the writers (waits for their merges).
    pub fn close(mut self) -> Result<(), StoreError> {
        self.flush()?;
        self.sync_files()?;
        self.commit_all_indexes()?;
        for (k, p) in self.parts.iter_mut() {
            if let Some(w) = p.writer.take() {
                w.wait_merging_threads().map_err(tv(k))?;
            }
        }
        Ok(())
    }

    fn sync_files(&mut self) -> Result<(), StoreError> {
        if !self.cfg.fsync {
            return Ok(());
        }
        for p in self.parts.values_mut() {
            if !p.synced {
                p.file.sync()?;
                p.synced = true;
            }
        }
        let lpath = self.dir.join("log");
        self.leaves_file.sync_data().map_err(io(&lpath))?;
        self.heads_file.sync_data().map_err(io(&lpath))?;
        sync_dir(&self.dir.join("parts"));
        sync_dir(&lpath);
        Ok(())
    }

    /// Appends one event given as a JSON object already parsed; `wal_seq`: its write-ahead log
    /// sequence number, if it came from the log. Returns the event's id (`yagura.seq`).
    pub fn append_doc(
        &mut self,
        wal_seq: Option<u64>,
        doc: Map<String, Value>,
    ) -> Result<u64, StoreError> {
        let p = prepare(&self.fields, None, doc)?;
        self.place(wal_seq, None, p)
    }

    /// [`Store::append_doc`] for an object parsed from `raw`, its compact JSON: `raw` is stored
    /// as it is (after the id) instead of being serialized again, unless it carries a
    /// `yagura.seq` of its own (replaced by the store's). `raw` must be what `doc` was parsed
    /// from: with duplicate keys, the stored bytes would keep both while the index sees one.
    pub fn append_parsed(
        &mut self,
        wal_seq: Option<u64>,
        raw: &[u8],
        doc: Map<String, Value>,
    ) -> Result<u64, StoreError> {
        let p = prepare(&self.fields, Some(raw), doc)?;
        self.place(wal_seq, Some(raw), p)
    }

    /// Appends an event [`prepare`]d from `raw` (the same `raw`).
    fn place(
        &mut self,
        wal_seq: Option<u64>,
        raw: Option<&[u8]>,
        prepared: Prepared,
    ) -> Result<u64, StoreError> {
        let Prepared {
            key,
            ts,
            mut doc,
            body,
        } = prepared;
        self.next_id += 1;
        let seq = self.next_id;
        self.record.clear();
        self.record.extend_from_slice(b"{\"yagura.seq\":");
        // Writing to a Vec cannot fail.
        let _ = write!(self.record, "{seq}");
        let body = body.as_deref().or(raw).unwrap_or(b"{}");
        match body.strip_prefix(b"{") {
            Some(rest) if rest.first() != Some(&b'}') => {
                self.record.push(b',');
                self.record.extend_from_slice(rest);
            }
            _ => self.record.push(b'}'),
        }
        // The key is copied only when a partition gets its first pending event; an event is
        // never dropped without an error.
        if !self.pending.contains_key(&key) {
            self.pending.insert(key.clone(), Vec::new());
        }
        let blocks = self
            .pending
            .get_mut(&key)
            .ok_or_else(|| StoreError::Corrupt(format!("{key}: pending partition vanished")))?;
        let max = self.cfg.block_events.max(1);
        if let Some(b) = blocks.last_mut().filter(|b| {
            b.sealing.is_none()
                && (b.builder.len() >= max || b.builder.bytes() >= self.cfg.block_bytes)
        }) {
            b.sealing = Some(seal(&key, std::mem::take(&mut b.builder))?);
        }
        if blocks.last().is_none_or(|b| b.sealing.is_some()) {
            blocks.push(Pending::default());
        }
        let p = blocks
            .last_mut()
            .ok_or_else(|| StoreError::Corrupt(format!("{key}: no open block after push")))?;
        p.builder.push(seq, ts, &self.record);
        self.pending_bytes += self.record.len();
        index::set_seq(&self.fields, &mut doc, seq);
        p.docs.push(doc);
        self.pending_events += 1;
        if let Some(w) = wal_seq {
            self.pending_seq = w;
        }
        self.oldest_pending.get_or_insert_with(Instant::now);
        if self.pending_events >= self.cfg.flush_events
            || self.pending_bytes >= self.cfg.flush_bytes
        {
            self.flush()?;
        }
        Ok(seq)
    }

    /// The id of the last event flushed.
    pub fn last_id(&self) -> u64 {
        self.flushed_id
    }

    /// Drops partitions beyond their source's retention (whole partitions; each drop is a
    /// signed deletion leaf). `today`: epoch ms of now. Returns the partitions dropped.
    pub fn enforce_retention(&mut self, now: i64) -> Result<Vec<String>, StoreError> {
        self.flush()?;
        let mut by_source: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
        for (key, p) in &self.parts {
            let Some((source, _)) = key.split_once('/') else {
                continue;
            };
            by_source
                .entry(source.to_owned())
                .or_default()
                .push((key.clone(), p.file.len + dir_size(&p.dir.join("index"))));
        }
        let mut drop_keys = Vec::new();
        for (source, mut parts) in by_source {
            let limit = self
                .cfg
                .retention_by_source
                .get(&source)
                .unwrap_or(&self.cfg.retention)
                .clone();
            parts.sort();
            if let Some(days) = limit.days {
                let keep_from = now - days as i64 * 86_400_000;
                let keep_day = day_of(keep_from);
                for (k, _) in &parts {
                    if k.split_once('/')
                        .is_some_and(|(_, d)| d < keep_day.as_str())
                    {
                        drop_keys.push((k.clone(), format!("retention: {days} days")));
                    }
                }
            }
            if let Some(max) = limit.bytes {
                let mut total: u64 = parts.iter().map(|(_, b)| b).sum();
                for (k, b) in &parts {
                    if total <= max {
                        break;
                    }
                    if !drop_keys.iter().any(|(d, _)| d == k) {
                        drop_keys.push((k.clone(), format!("retention: {max} bytes")));
                    }
                    total -= b;
                }
            }
        }
        let mut dropped = Vec::new();
        for (key, reason) in drop_keys {
            self.drop_partition(&key, &reason, now)?;
            dropped.push(key);
        }
        Ok(dropped)
    }

    fn drop_partition(&mut self, key: &str, reason: &str, now: i64) -> Result<(), StoreError> {
        let Some(mut part) = self.parts.remove(key) else {
            return Ok(());
        };
        if let Some(w) = part.writer.take() {
            drop(w);
        }
        let leaf = Leaf::Deletion(DeletionLeaf {
            partition: key.to_owned(),
            leaf_indices: part.blocks.iter().map(|(_, i)| *i).collect(),
            events: part.blocks.iter().map(|(m, _)| m.leaf.count as u64).sum(),
            reason: reason.to_owned(),
            at_ms: now,
        })
        .encode();
        // Record the deletion (signed) before removing anything.
        let group = encode_group(
            std::slice::from_ref(&leaf),
            self.flushed_seq,
            self.flushed_id,
        );
        let lpath = self.dir.join("log").join("leaves.dat");
        self.leaves_file.write_all(&group).map_err(io(&lpath))?;
        self.tree.push(crate::merkle::leaf_hash(&leaf));
        self.sign_head()?;
        self.sync_files_force()?;
        fs::remove_dir_all(&part.dir).map_err(io(&part.dir))?;
        if let Some(parent) = part.dir.parent() {
            let _ = fs::remove_dir(parent);
        }
        tracing::info!("dropped partition {key} ({reason})");
        Ok(())
    }

    fn sync_files_force(&mut self) -> Result<(), StoreError> {
        let lpath = self.dir.join("log");
        self.leaves_file.sync_data().map_err(io(&lpath))?;
        self.heads_file.sync_data().map_err(io(&lpath))?;
        Ok(())
    }

    /// Partitions held and their block counts (for tests and reports).
    pub fn partitions(&self) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = self
            .parts
            .iter()
            .map(|(k, p)| (k.clone(), p.blocks.len()))
            .collect();
        v.sort();
        v
    }

    /// Leaves in the Merkle log.
    pub fn tree_size(&self) -> usize {
        self.tree.len()
    }

    /// The store's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Total size of the files under `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => n += dir_size(&e.path()),
                Ok(m) => n += m.len(),
                Err(_) => {}
            }
        }
    }
    n
}

fn sync_dir(d: &Path) {
    if let Ok(f) = File::open(d) {
        let _ = f.sync_all();
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl EventStore for Store {
    type Prepared = Prepared;

    fn prepare(&self, doc: &[u8]) -> Result<Prepared, StoreError> {
        let m = serde_json::from_slice::<Map<String, Value>>(doc)
            .map_err(|e| StoreError::Rejected(format!("not a JSON object ({e})")))?;
        prepare(&self.fields, Some(doc), m)
    }

    fn prepare_record(&self, rec: &Record, doc: &[u8]) -> Result<Prepared, StoreError> {
        prepare_record(&self.fields, rec, doc)
    }

    fn append(&mut self, seq: u64, doc: &[u8], prepared: Prepared) -> Result<(), StoreError> {
        self.place(Some(seq), Some(doc), prepared).map(|_| ())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        if self
            .oldest_pending
            .is_some_and(|t| t.elapsed() >= self.cfg.flush_age)
        {
            self.flush()?;
        }
        // Blocks flushed but not yet searchable: commit the indexes once the interval is up,
        // also when nothing more arrives.
        if self.index_dirty && self.last_index_commit.elapsed() >= self.cfg.index_commit {
            self.commit_all_indexes()?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<u64, StoreError> {
        self.commit()?;
        if self.durable_seq != self.flushed_seq || self.durable_id != self.flushed_id {
            self.sync_files()?;
            self.durable_id = self.flushed_id;
        }
        if self.last_index_commit.elapsed() >= self.cfg.index_commit {
            self.commit_all_indexes()?;
        }
        self.durable_seq = self.flushed_seq;
        Ok(self.durable_seq)
    }

    fn last_seq(&self) -> u64 {
        self.durable_seq
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Store::flush(self)?;
        self.commit_all_indexes()
    }

    fn maintain(&mut self) -> Result<(), StoreError> {
        self.enforce_retention(now_ms()).map(|_| ())
    }
}

/// Calls `f` with every stored record (`{"yagura.seq":N,…}`), in storage order (ascending
/// `yagura.seq`). Reads the log's groups in order and each group's blocks, so memory is one
/// flush group's records at most. Returns the count.
pub fn for_each_event(dir: &Path, mut f: impl FnMut(&[u8])) -> Result<u64, StoreError> {
    let (groups, _, _) = read_groups(&dir.join("log").join("leaves.dat"))?;
    let mut per_part: HashMap<String, usize> = HashMap::new();
    let mut scans: HashMap<String, (Vec<BlockMeta>, File)> = HashMap::new();
    let mut n = 0;
    let mut recs: Vec<(u64, Vec<u8>)> = Vec::new();
    for g in &groups {
        recs.clear();
        for l in &g.leaves {
            let Ok(Leaf::Block(b)) = Leaf::decode(l) else {
                if let Ok(Leaf::Deletion(d)) = Leaf::decode(l) {
                    scans.remove(&d.partition);
                    per_part.insert(d.partition, usize::MAX);
                }
                continue;
            };
            let bi = per_part.entry(b.partition.clone()).or_default();
            if *bi == usize::MAX {
                continue;
            }
            let i = *bi;
            *bi += 1;
            if !scans.contains_key(&b.partition) {
                let path = dir.join("parts").join(&b.partition).join("blocks.dat");
                let Ok(file) = File::open(&path) else {
                    continue; // dropped by retention later
                };
                let scan = block::scan(&path)?;
                scans.insert(b.partition.clone(), (scan.blocks, file));
            }
            let Some((metas, file)) = scans.get_mut(&b.partition) else {
                continue;
            };
            let Some(meta) = metas.get(i) else {
                continue;
            };
            let path = dir.join("parts").join(&b.partition).join("blocks.dat");
            let data = block::read(file, &path, meta.offset, meta.len)?;
            for r in data.records() {
                recs.push((block::record_seq(r).unwrap_or(0), r.to_vec()));
            }
        }
        recs.sort_by_key(|(s, _)| *s);
        for (_, r) in &recs {
            f(r);
            n += 1;
        }
    }
    Ok(n)
}

/// Disk use of one source.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct SourceUsage {
    /// The source (`event.module`).
    pub source: String,
    /// Partitions (days) held.
    pub partitions: usize,
    /// Events held.
    pub events: u64,
    /// Bytes of blocks (the events, compressed).
    pub block_bytes: u64,
    /// Bytes of the partitions' indexes.
    pub index_bytes: u64,
    /// First and last day held.
    pub first_day: String,
    /// Last day held.
    pub last_day: String,
    /// Partitions dropped by retention so far (signed deletions in the log).
    pub dropped_partitions: usize,
    /// Events in them.
    pub dropped_events: u64,
}

/// Disk use per source, from the log (events) and the files (bytes).
pub fn usage(dir: &Path) -> Result<Vec<SourceUsage>, StoreError> {
    let (groups, _, _) = read_groups(&dir.join("log").join("leaves.dat"))?;
    let mut events: BTreeMap<String, u64> = BTreeMap::new();
    let mut by: BTreeMap<String, SourceUsage> = BTreeMap::new();
    for g in &groups {
        for l in &g.leaves {
            match Leaf::decode(l) {
                Ok(Leaf::Block(b)) => *events.entry(b.partition).or_default() += b.count as u64,
                Ok(Leaf::Deletion(d)) => {
                    events.remove(&d.partition);
                    if let Some((src, _)) = d.partition.split_once('/') {
                        let u = by.entry(src.to_owned()).or_default();
                        u.dropped_partitions += 1;
                        u.dropped_events += d.events;
                    }
                }
                Err(_) => {}
            }
        }
    }
    for (key, n) in events {
        let Some((src, day)) = key.split_once('/') else {
            continue;
        };
        let u = by.entry(src.to_owned()).or_default();
        let pdir = dir.join("parts").join(&key);
        u.partitions += 1;
        u.events += n;
        u.block_bytes += fs::metadata(pdir.join("blocks.dat")).map_or(0, |m| m.len());
        u.index_bytes += dir_size(&pdir.join("index"));
        if u.first_day.is_empty() || day < u.first_day.as_str() {
            u.first_day = day.to_owned();
        }
        if day > u.last_day.as_str() {
            u.last_day = day.to_owned();
        }
    }
    Ok(by
        .into_iter()
        .map(|(source, mut u)| {
            u.source = source;
            u
        })
        .collect())
}

#[cfg(test)]
mod record_tests {
    use super::*;
    use tantivy::schema::document::ReferenceValue;
    use yagura_normalize::arrival::{Arrival, Normalizer};
    use yagura_normalize::parse::{write_json, Outcome};

    /// Every index entry of a document: (field, JSON path, value), sorted.
    fn entries(d: &TantivyDocument) -> Vec<(u32, String, String)> {
        fn walk<'a, V: tantivy::schema::Value<'a>>(
            f: u32,
            path: &str,
            v: V,
            out: &mut Vec<(u32, String, String)>,
        ) {
            match v.as_value() {
                ReferenceValue::Leaf(l) => out.push((f, path.to_owned(), format!("{l:?}"))),
                ReferenceValue::Array(a) => a.for_each(|e| walk(f, path, e, out)),
                ReferenceValue::Object(o) => {
                    for (k, e) in o {
                        walk(f, &format!("{path}/{k}"), e, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (field, v) in d.field_values() {
            walk(field.field_id(), "", v, &mut out);
        }
        out.sort();
        out
    }

    fn lines(dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                lines(&p, out);
            } else if let Ok(bytes) = fs::read(&p) {
                let text = String::from_utf8_lossy(&bytes);
                let name = p.display().to_string();
                out.extend(
                    text.lines()
                        .take(2000)
                        .map(|l| (name.clone(), l.to_owned())),
                );
            }
        }
    }

    #[test]
    fn record_documents_equal_json_documents() {
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        let mut all = Vec::new();
        for d in [
            "linux-auth",
            "web-access",
            "dns",
            "misc/suricata-eve-verify",
            "misc/zeek-wrccdc2018",
            "misc/syslog-rfc5424-rfc3164",
            "panther-tests",
            "crowdsec-tests",
        ] {
            lines(&shared.join(d), &mut all);
        }
        assert!(all.len() > 20_000, "only {} sample lines", all.len());
        let fields = Fields::new();
        let mut norm = Normalizer::new();
        let mut rec = Record::new();
        let mut json = Vec::new();
        let (mut events, mut repeated, mut ips, mut numbers) = (0, 0, 0, 0);
        for (file, line) in &all {
            let a = Arrival {
                listener: "tail",
                source_type: "auto",
                peer: "",
                host: "test-host",
                stream: file,
                offset: 0,
                received_ms: 1_764_000_000_000,
                json: line.starts_with('{'),
            };
            let Outcome::Event { .. } = norm.normalize(&a, line, &mut rec) else {
                continue;
            };
            json.clear();
            write_json(&rec, &mut json);
            let parsed: Map<String, Value> = serde_json::from_slice(&json).unwrap();
            repeated += parsed.values().any(Value::is_array) as usize;
            numbers += parsed.values().any(Value::is_f64) as usize;
            ips += parsed
                .keys()
                .any(|k| index::IP_FIELDS.contains(&k.as_str())) as usize;
            let want = prepare(&fields, Some(&json), parsed).unwrap();
            let got = prepare_record(&fields, &rec, &json).unwrap();
            assert_eq!(got.key, want.key, "{file}: {line}");
            assert_eq!(got.ts, want.ts, "{file}: {line}");
            assert_eq!(got.body, want.body, "{file}: {line}");
            assert_eq!(entries(&got.doc), entries(&want.doc), "{file}: {line}");
            events += 1;
        }
        assert!(events > 20_000, "{events} events");
        assert!(
            repeated > 100 && ips > 1_000 && numbers > 100,
            "{repeated} {ips} {numbers}"
        );
    }
}
