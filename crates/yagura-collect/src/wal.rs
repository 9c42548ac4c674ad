//! The write-ahead log: where a record must be before its sender is told it was accepted.
//!
//! [`Wal`] is the small interface the listeners and the consumers use; [`FileWal`] is the
//! embedded default (segment files on local disk). A NATS JetStream stream can implement the
//! same trait for multi-node deployments.
//!
//! ## On disk
//!
//! `DIR/<first seq, 20 digits>.wal` segments of frames: `len u32 | crc32 u32 | seq u64 | payload`
//! (little endian; the CRC covers the sequence number and the payload). Sequence numbers start
//! at 1 and have no gaps. A segment is closed at [`WalOptions::segment_bytes`] and deleted once
//! every consumer has [released](Wal::release) all of it.
//!
//! ## Durability
//!
//! One writer thread takes every queued batch, writes them with one `write` per batch, and
//! (under [`Fsync::Always`]) one `fdatasync` for the whole group, then completes their tickets:
//! group commit, so a thousand concurrent senders cost one sync. A ticket completes only after
//! its batch is durable under the policy; that is when a listener may acknowledge.
//!
//! On open, every segment is checked frame by frame. A torn frame at the end of the last
//! segment (the process died in the middle of a write) is cut off: its batch was never
//! acknowledged. A damaged frame elsewhere is reported in [`Recovery::damaged`] and the segment
//! is read up to it.

use crate::raw::Batch;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch, Notify};

const HEADER: usize = 16;
/// A frame larger than this is damage, not data.
const MAX_FRAME: u32 = 256 << 20;

/// When a written batch counts as durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fsync {
    /// `fdatasync` before acknowledging (group commit). Survives power loss. The default.
    Always,
    /// Acknowledge after `write`; `fdatasync` every [`WalOptions::fsync_interval`]. Survives a
    /// crash of the process, not of the machine.
    Interval,
    /// Acknowledge after `write`; leave syncing to the OS.
    Never,
}

/// Options of [`FileWal`].
#[derive(Clone, Debug)]
pub struct WalOptions {
    /// Sync policy.
    pub fsync: Fsync,
    /// Sync period under [`Fsync::Interval`].
    pub fsync_interval: Duration,
    /// Segment size at which a new segment starts.
    pub segment_bytes: u64,
    /// Bytes queued for writing at most; [`Wal::try_append`] refuses beyond (backpressure).
    pub max_queued_bytes: usize,
    /// Records written but not yet released by the consumer at most; beyond, appends are
    /// refused until the consumer catches up (the downstream has fallen behind).
    pub max_lag_records: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            fsync: Fsync::Always,
            fsync_interval: Duration::from_millis(100),
            segment_bytes: 64 << 20,
            max_queued_bytes: 64 << 20,
            max_lag_records: 2_000_000,
        }
    }
}

/// Errors of the log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// Disk I/O failed.
    #[error("write-ahead log {path}: {source}")]
    Io {
        /// File or folder.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The writer has stopped (after an I/O error, or at shutdown).
    #[error("write-ahead log is closed")]
    Closed,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> WalError + '_ {
    move |source| WalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Sequence numbers given to one batch: `first..=last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqRange {
    /// First record's number.
    pub first: u64,
    /// Last record's number.
    pub last: u64,
}

/// Completes when the batch is durable.
pub type Ticket = oneshot::Receiver<Result<SeqRange, Arc<WalError>>>;

/// Why a batch was not queued.
#[derive(Debug)]
pub enum Refused {
    /// The queue or the consumer lag is at its bound: try again later (the batch is handed back).
    Full(Batch),
    /// The log is closed.
    Closed,
}

/// What the log found when it opened.
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    /// Records in the log.
    pub records: u64,
    /// Bytes of a torn last frame that were cut off.
    pub torn_bytes: u64,
    /// Damaged frames found (segment, byte offset, reason).
    pub damaged: Vec<String>,
}

/// The write-ahead log as listeners and consumers see it.
pub trait Wal: Send + Sync + 'static {
    /// Queues `batch` for writing; the ticket completes when it is durable.
    fn try_append(&self, batch: Batch) -> Result<Ticket, Refused>;
    /// Resolves when [`Wal::try_append`] may succeed again (room in the queue, or the consumer
    /// caught up); resolves at once when there is room.
    fn room(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>>;
    /// The highest durable sequence number (0 when empty).
    fn durable(&self) -> u64;
    /// Watches [`Wal::durable`].
    fn subscribe(&self) -> watch::Receiver<u64>;
    /// Reads records from `from` (inclusive) on, up to `max`, only durable ones.
    fn cursor(&self, from: u64) -> Result<Box<dyn WalCursor>, WalError>;
    /// The consumer is done with every record up to `upto`: their space may be reclaimed.
    fn release(&self, upto: u64);
    /// Records durable but not yet released.
    fn lag(&self) -> u64;
    /// True when a batch of `bytes` would be refused now (queue or consumer lag at its
    /// bound): what `try_append` refuses, `room` waits for, and health checks report.
    fn at_bound(&self, bytes: usize) -> bool;
}

/// Records read by a cursor, back to back in one buffer (no allocation per record once the
/// buffers have grown).
#[derive(Debug, Default)]
pub struct Records {
    data: Vec<u8>,
    items: Vec<(u64, usize, usize)>,
}

impl Records {
    /// Removes every record, keeping the buffers.
    pub fn clear(&mut self) {
        self.data.clear();
        self.items.clear();
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `(seq, payload)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> + '_ {
        self.items
            .iter()
            .map(|&(seq, start, end)| (seq, &self.data[start..end]))
    }
}

/// Reads records in sequence order.
pub trait WalCursor: Send {
    /// Appends up to `max` records to `out`; returns how many. Zero means nothing durable is
    /// left for now.
    fn read(&mut self, max: usize, out: &mut Records) -> Result<usize, WalError>;
    /// Records skipped so far because their segment was damaged (each is logged).
    fn skipped(&self) -> u64 {
        0
    }
}

struct Request {
    batch: Batch,
    done: oneshot::Sender<Result<SeqRange, Arc<WalError>>>,
}

struct Shared {
    dir: PathBuf,
    opts: WalOptions,
    queue: Mutex<VecDeque<Request>>,
    wake_writer: Condvar,
    queued_bytes: AtomicUsize,
    room: Notify,
    durable: watch::Sender<u64>,
    released: AtomicU64,
    closed: std::sync::atomic::AtomicBool,
    /// First sequence number of every segment, ascending.
    segments: Mutex<Vec<u64>>,
}

/// The embedded write-ahead log: segment files in one folder.
pub struct FileWal {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

fn segment_path(dir: &Path, first: u64) -> PathBuf {
    dir.join(format!("{first:020}.wal"))
}

fn list_segments(dir: &Path) -> Result<Vec<u64>, WalError> {
    let mut firsts = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(".wal") {
            if let Ok(first) = stem.parse::<u64>() {
                firsts.push(first);
            }
        }
    }
    firsts.sort_unstable();
    Ok(firsts)
}

/// Checks one segment frame by frame; returns the last good sequence number and the length of
/// its good prefix. `on_record` sees every good record.
fn scan_segment(
    path: &Path,
    first: u64,
    damaged: &mut Vec<String>,
    on_record: &mut dyn FnMut(u64, &[u8]),
) -> Result<(u64, u64), WalError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut pos = 0u64;
    let mut expect = first;
    let mut header = [0u8; HEADER];
    let mut payload = Vec::new();
    loop {
        if pos == len {
            break;
        }
        if len - pos < HEADER as u64 {
            damaged.push(format!(
                "{}: offset {pos}: frame header cut short",
                path.display()
            ));
            break;
        }
        r.read_exact(&mut header).map_err(io_err(path))?;
        let plen = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let seq = u64::from_le_bytes(header[8..16].try_into().unwrap_or([0; 8]));
        if plen > MAX_FRAME || len - pos - (HEADER as u64) < plen as u64 {
            damaged.push(format!(
                "{}: offset {pos}: frame length {plen} runs past the end",
                path.display()
            ));
            break;
        }
        payload.resize(plen as usize, 0);
        r.read_exact(&mut payload).map_err(io_err(path))?;
        let mut h = crc32fast::Hasher::new();
        h.update(&header[8..16]);
        h.update(&payload);
        if h.finalize() != crc {
            damaged.push(format!(
                "{}: offset {pos}: checksum mismatch",
                path.display()
            ));
            break;
        }
        if seq != expect {
            damaged.push(format!(
                "{}: offset {pos}: sequence {seq} where {expect} was expected",
                path.display()
            ));
            break;
        }
        on_record(seq, &payload);
        expect += 1;
        pos += HEADER as u64 + plen as u64;
    }
    Ok((expect - 1, pos))
}

impl FileWal {
    /// Opens (or creates) the log in `dir`, checks it, and starts its writer thread.
    /// `on_record` sees every record found (so a tailer can recover its read positions).
    pub fn open(
        dir: &Path,
        opts: WalOptions,
        on_record: &mut dyn FnMut(u64, &[u8]),
    ) -> Result<(Self, Recovery), WalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut segments = list_segments(dir)?;
        let mut recovery = Recovery::default();
        let mut last_seq = 0u64;
        let mut lowest = None;
        let count = segments.len();
        for (i, &first) in segments.iter().enumerate() {
            let path = segment_path(dir, first);
            if lowest.is_none() {
                lowest = Some(first);
            }
            let before = recovery.damaged.len();
            let (last, good) = scan_segment(&path, first, &mut recovery.damaged, on_record)?;
            let damaged_here = recovery.damaged.len() > before;
            if i + 1 == count {
                let len = fs::metadata(&path).map_err(io_err(&path))?.len();
                if good < len {
                    // A torn write at the end: never acknowledged. Cut it off so appends follow
                    // the last good frame.
                    recovery.torn_bytes = len - good;
                    if damaged_here {
                        recovery.damaged.pop();
                    }
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io_err(&path))?;
                    f.set_len(good).map_err(io_err(&path))?;
                    f.sync_all().map_err(io_err(&path))?;
                }
            }
            // An empty segment gives `first - 1`: numbering continues from its name.
            last_seq = last_seq.max(last);
        }
        recovery.records = match lowest {
            Some(low) if last_seq >= low => last_seq - low + 1,
            _ => 0,
        };
        // The active segment: the last one, or a new one.
        let active_first = match segments.last() {
            Some(&f) => f,
            None => {
                segments.push(last_seq + 1);
                last_seq + 1
            }
        };
        let active_path = segment_path(dir, active_first);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&active_path)
            .map_err(io_err(&active_path))?;
        sync_dir(dir);
        let (durable, _) = watch::channel(last_seq);
        let released = segments.first().map_or(0, |&f| f.saturating_sub(1));
        let shared = Arc::new(Shared {
            dir: dir.to_owned(),
            opts,
            queue: Mutex::new(VecDeque::new()),
            wake_writer: Condvar::new(),
            queued_bytes: AtomicUsize::new(0),
            room: Notify::new(),
            durable,
            released: AtomicU64::new(released),
            closed: std::sync::atomic::AtomicBool::new(false),
            segments: Mutex::new(segments),
        });
        let writer = Writer {
            shared: shared.clone(),
            file,
            path: active_path.clone(),
            size: fs::metadata(&active_path)
                .map_err(io_err(&active_path))?
                .len(),
            next_seq: last_seq + 1,
            buf: Vec::new(),
            last_sync: Instant::now(),
            dirty: false,
        };
        let handle = std::thread::Builder::new()
            .name("yagura-wal".into())
            .spawn(move || writer.run())
            .map_err(io_err(dir))?;
        Ok((
            Self {
                shared,
                writer: Mutex::new(Some(handle)),
            },
            recovery,
        ))
    }

    /// Stops accepting batches, writes and syncs what is queued, and joins the writer.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake_writer.notify_all();
        let handle = self.writer.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// The log's folder.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
}

impl Drop for FileWal {
    fn drop(&mut self) {
        self.close();
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl Wal for FileWal {
    fn try_append(&self, batch: Batch) -> Result<Ticket, Refused> {
        let s = &self.shared;
        if s.closed.load(Ordering::SeqCst) {
            return Err(Refused::Closed);
        }
        let bytes = batch.bytes();
        if self.at_bound(bytes) {
            return Err(Refused::Full(batch));
        }
        let (done, ticket) = oneshot::channel();
        s.queued_bytes.fetch_add(bytes, Ordering::AcqRel);
        match s.queue.lock() {
            Ok(mut q) => q.push_back(Request { batch, done }),
            Err(_) => return Err(Refused::Closed),
        }
        s.wake_writer.notify_one();
        Ok(ticket)
    }

    fn room(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            loop {
                let s = &self.shared;
                let notified = s.room.notified();
                if !self.at_bound(1) || s.closed.load(Ordering::SeqCst) {
                    return;
                }
                // Lag falls when the consumer releases; poll as well as wait for the writer.
                let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
            }
        })
    }

    fn at_bound(&self, bytes: usize) -> bool {
        let s = &self.shared;
        let queued = s.queued_bytes.load(Ordering::Acquire);
        // A batch is always accepted into an empty queue, however large, so that it can pass.
        (queued > 0 && queued + bytes > s.opts.max_queued_bytes)
            || self.lag() >= s.opts.max_lag_records
    }

    fn durable(&self) -> u64 {
        *self.shared.durable.borrow()
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.durable.subscribe()
    }

    fn cursor(&self, from: u64) -> Result<Box<dyn WalCursor>, WalError> {
        Ok(Box::new(FileCursor {
            shared: self.shared.clone(),
            next: from.max(1),
            file: None,
            skipped: 0,
        }))
    }

    fn release(&self, upto: u64) {
        let s = &self.shared;
        let prev = s.released.fetch_max(upto, Ordering::AcqRel);
        if upto <= prev {
            return;
        }
        s.room.notify_waiters();
        // Delete segments every record of which is released (never the active one).
        let doomed: Vec<u64> = match s.segments.lock() {
            Ok(mut segs) => {
                let mut doomed = Vec::new();
                while segs.len() > 1 && segs[1] <= upto + 1 {
                    doomed.push(segs.remove(0));
                }
                doomed
            }
            Err(_) => Vec::new(),
        };
        for first in doomed {
            let _ = fs::remove_file(segment_path(&s.dir, first));
        }
    }

    fn lag(&self) -> u64 {
        self.durable()
            .saturating_sub(self.shared.released.load(Ordering::Acquire))
    }
}

struct Writer {
    shared: Arc<Shared>,
    file: File,
    path: PathBuf,
    size: u64,
    next_seq: u64,
    buf: Vec<u8>,
    last_sync: Instant,
    dirty: bool,
}

impl Writer {
    fn run(mut self) {
        let mut group: Vec<Request> = Vec::new();
        loop {
            {
                let Ok(mut q) = self.shared.queue.lock() else {
                    return;
                };
                while q.is_empty() && !self.shared.closed.load(Ordering::SeqCst) {
                    let wait = match self.shared.opts.fsync {
                        Fsync::Interval if self.dirty => self.shared.opts.fsync_interval,
                        _ => Duration::from_secs(3600),
                    };
                    let Ok((guard, timeout)) = self.shared.wake_writer.wait_timeout(q, wait) else {
                        return;
                    };
                    q = guard;
                    if timeout.timed_out() && q.is_empty() {
                        break;
                    }
                }
                // Group commit: everything queued goes into this write and this sync.
                group.extend(q.drain(..));
            }
            if group.is_empty() {
                if self.shared.closed.load(Ordering::SeqCst) {
                    let _ = self.file.sync_data();
                    return;
                }
                if self.dirty && self.last_sync.elapsed() >= self.shared.opts.fsync_interval {
                    let _ = self.file.sync_data();
                    self.dirty = false;
                    self.last_sync = Instant::now();
                }
                continue;
            }
            let result = self.write_group(&group);
            let mut freed = 0;
            for (i, req) in group.drain(..).enumerate() {
                freed += req.batch.bytes();
                let _ = req.done.send(match &result {
                    Ok(ranges) => Ok(ranges[i]),
                    Err(e) => Err(e.clone()),
                });
            }
            self.shared.queued_bytes.fetch_sub(freed, Ordering::AcqRel);
            self.shared.room.notify_waiters();
            if result.is_err() {
                // The disk refused a write: stop rather than acknowledge anything not written.
                self.shared.closed.store(true, Ordering::SeqCst);
                if let Ok(mut q) = self.shared.queue.lock() {
                    for req in q.drain(..) {
                        let _ = req.done.send(Err(Arc::new(WalError::Closed)));
                    }
                }
                return;
            }
        }
    }

    /// Writes a group (one range per request), then syncs under [`Fsync::Always`].
    fn write_group(&mut self, group: &[Request]) -> Result<Vec<SeqRange>, Arc<WalError>> {
        let mut ranges = Vec::with_capacity(group.len());
        let first_of_group = self.next_seq;
        for req in group {
            if req.batch.is_empty() {
                ranges.push(SeqRange {
                    first: self.next_seq,
                    last: self.next_seq - 1,
                });
                continue;
            }
            if self.size >= self.shared.opts.segment_bytes {
                if let Err(e) = self.roll() {
                    return Err(Arc::new(e));
                }
            }
            self.buf.clear();
            let first = self.next_seq;
            for payload in req.batch.records() {
                let seq = self.next_seq;
                self.next_seq += 1;
                let mut h = crc32fast::Hasher::new();
                h.update(&seq.to_le_bytes());
                h.update(payload);
                self.buf
                    .extend_from_slice(&(payload.len() as u32).to_le_bytes());
                self.buf.extend_from_slice(&h.finalize().to_le_bytes());
                self.buf.extend_from_slice(&seq.to_le_bytes());
                self.buf.extend_from_slice(payload);
            }
            if let Err(e) = self.file.write_all(&self.buf) {
                return Err(Arc::new(WalError::Io {
                    path: self.path.clone(),
                    source: e,
                }));
            }
            self.size += self.buf.len() as u64;
            ranges.push(SeqRange {
                first,
                last: self.next_seq - 1,
            });
        }
        self.dirty = true;
        if self.shared.opts.fsync == Fsync::Always {
            if let Err(e) = self.file.sync_data() {
                return Err(Arc::new(WalError::Io {
                    path: self.path.clone(),
                    source: e,
                }));
            }
            self.dirty = false;
        } else if self.shared.opts.fsync == Fsync::Interval
            && self.last_sync.elapsed() >= self.shared.opts.fsync_interval
        {
            let _ = self.file.sync_data();
            self.dirty = false;
            self.last_sync = Instant::now();
        }
        if self.next_seq > first_of_group {
            self.shared.durable.send_replace(self.next_seq - 1);
        }
        Ok(ranges)
    }

    fn roll(&mut self) -> Result<(), WalError> {
        self.file.sync_data().map_err(io_err(&self.path))?;
        let first = self.next_seq;
        let path = segment_path(&self.shared.dir, first);
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        sync_dir(&self.shared.dir);
        self.path = path;
        self.size = 0;
        if let Ok(mut segs) = self.shared.segments.lock() {
            segs.push(first);
        }
        Ok(())
    }
}

struct FileCursor {
    shared: Arc<Shared>,
    next: u64,
    file: Option<(BufReader<File>, u64)>,
    /// Records skipped because their segment was damaged.
    skipped: u64,
}

/// Reads one frame into `out` and checks it: length, checksum, and that its number is `expect`.
fn read_frame(r: &mut BufReader<File>, expect: u64, out: &mut Vec<u8>) -> Result<(), String> {
    let mut header = [0u8; HEADER];
    r.read_exact(&mut header)
        .map_err(|e| format!("frame header: {e}"))?;
    let plen = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let seq = u64::from_le_bytes(header[8..16].try_into().unwrap_or([0; 8]));
    if plen > MAX_FRAME {
        return Err(format!("frame length {plen} is not plausible"));
    }
    let start = out.len();
    out.resize(start + plen as usize, 0);
    r.read_exact(&mut out[start..])
        .map_err(|e| format!("frame of {plen} bytes: {e}"))?;
    let mut h = crc32fast::Hasher::new();
    h.update(&header[8..16]);
    h.update(&out[start..]);
    if h.finalize() != crc {
        return Err("checksum mismatch".into());
    }
    if seq != expect {
        return Err(format!("sequence {seq} where {expect} was expected"));
    }
    Ok(())
}

impl FileCursor {
    /// Opens the segment holding `self.next` and skips to it.
    fn open(&mut self) -> Result<(), WalError> {
        let first = {
            let segs = self.shared.segments.lock().map_err(|_| WalError::Closed)?;
            let idx = segs.partition_point(|&f| f <= self.next);
            if idx == 0 {
                // Released and deleted: continue from the oldest kept record.
                match segs.first() {
                    Some(&f) => {
                        self.next = f;
                        f
                    }
                    None => return Ok(()),
                }
            } else {
                segs[idx - 1]
            }
        };
        let path = segment_path(&self.shared.dir, first);
        let file = File::open(&path).map_err(io_err(&path))?;
        let mut r = BufReader::with_capacity(256 << 10, file);
        let mut seq = first;
        let mut scratch = Vec::new();
        while seq < self.next {
            scratch.clear();
            if let Err(reason) = read_frame(&mut r, seq, &mut scratch) {
                // Damage before the position: go on with the next segment, if any.
                let later = {
                    let segs = self.shared.segments.lock().map_err(|_| WalError::Closed)?;
                    segs.iter().copied().find(|&f| f > first)
                };
                return match later {
                    Some(f) => {
                        tracing::error!(
                            "write-ahead log {}: segment {first}: record {seq}: {reason}; records {}..{} are skipped",
                            self.shared.dir.display(),
                            self.next,
                            f - 1
                        );
                        self.skipped += f.saturating_sub(self.next);
                        self.next = f;
                        self.open()
                    }
                    None => Err(WalError::Io {
                        path,
                        source: io::Error::new(io::ErrorKind::InvalidData, reason),
                    }),
                };
            }
            seq += 1;
        }
        self.file = Some((r, first));
        Ok(())
    }
}

impl WalCursor for FileCursor {
    fn skipped(&self) -> u64 {
        self.skipped
    }

    fn read(&mut self, max: usize, out: &mut Records) -> Result<usize, WalError> {
        let durable = *self.shared.durable.borrow();
        let mut n = 0;
        // The first record of the segment after the current one. Looked up once per call and
        // per segment: records past `durable` are not read in this call, and a segment that
        // holds records up to `durable` was listed before `durable` was published.
        let mut next_first: Option<Option<u64>> = None;
        while n < max && self.next <= durable {
            if self.file.is_none() {
                self.open()?;
                if self.file.is_none() {
                    break;
                }
                next_first = None;
            }
            let nf = match next_first {
                Some(nf) => nf,
                None => {
                    let segs = self.shared.segments.lock().map_err(|_| WalError::Closed)?;
                    let cur = self.file.as_ref().map_or(0, |f| f.1);
                    let nf = segs.iter().copied().find(|&f| f > cur);
                    next_first = Some(nf);
                    nf
                }
            };
            if nf.is_some_and(|f| self.next >= f) {
                self.file = None;
                continue;
            }
            let Some((r, _)) = self.file.as_mut() else {
                break;
            };
            let start = out.data.len();
            match read_frame(r, self.next, &mut out.data) {
                Ok(()) => {}
                Err(reason) => {
                    out.data.truncate(start);
                    // A damaged frame (found here, or at open, which reads every segment)
                    // hides where the next frame starts: the rest of its segment is skipped,
                    // and reading goes on with the next segment.
                    match nf {
                        Some(f) => {
                            tracing::error!(
                                "write-ahead log {}: segment {}: record {}: {reason}; records {}..{} are skipped",
                                self.shared.dir.display(),
                                self.file.as_ref().map_or(0, |x| x.1),
                                self.next,
                                self.next,
                                f - 1
                            );
                            self.skipped += f - self.next;
                            self.next = f;
                            self.file = None;
                            continue;
                        }
                        None => {
                            return Err(WalError::Io {
                                path: self.shared.dir.clone(),
                                source: io::Error::new(io::ErrorKind::InvalidData, reason),
                            })
                        }
                    }
                }
            }
            let seq = self.next;
            let plen = out.data.len() - start;
            out.items.push((seq, start, start + plen));
            self.next += 1;
            n += 1;
        }
        // A reader positioned at the end of a file must see later appends: BufReader keeps no
        // stale data past what it returned, but reset the buffer to be safe.
        if n == 0 {
            if let Some((r, _)) = self.file.as_mut() {
                let _ = r.stream_position();
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::{Envelope, Format};

    fn batch(n: usize, tag: &str) -> Batch {
        let mut b = Batch::new();
        for i in 0..n {
            b.push(
                &Envelope {
                    received_ms: i as i64,
                    listener: "test",
                    source_type: "auto",
                    peer: "",
                    host: "",
                    stream: "",
                    offset: 0,
                    file_id: 0,
                    format: Format::Text,
                },
                format!("{tag}-{i}").as_bytes(),
            );
        }
        b
    }

    fn read_all(wal: &FileWal, from: u64) -> Vec<(u64, String)> {
        let mut c = wal.cursor(from).unwrap();
        let mut out = Records::default();
        while c.read(1000, &mut out).unwrap() > 0 {}
        out.iter()
            .map(|(s, p)| {
                let r = crate::raw::decode(p).unwrap();
                (s, String::from_utf8(r.data.to_vec()).unwrap())
            })
            .collect()
    }

    #[tokio::test]
    async fn append_read_reopen_and_roll() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            segment_bytes: 2_000,
            ..Default::default()
        };
        {
            let (wal, rec) = FileWal::open(dir.path(), opts.clone(), &mut |_, _| {}).unwrap();
            assert_eq!(rec.records, 0);
            for k in 0..10 {
                let t = wal.try_append(batch(20, &format!("b{k}"))).unwrap();
                let r = t.await.unwrap().unwrap();
                assert_eq!(r.first, k * 20 + 1);
                assert_eq!(r.last, k * 20 + 20);
            }
            assert_eq!(wal.durable(), 200);
            let all = read_all(&wal, 1);
            assert_eq!(all.len(), 200);
            assert_eq!(all[0], (1, "b0-0".to_owned()));
            assert_eq!(all[199], (200, "b9-19".to_owned()));
            assert_eq!(read_all(&wal, 150)[0], (150, "b7-9".to_owned()));
            assert!(list_segments(dir.path()).unwrap().len() > 2);
        }
        let mut seen = 0;
        let (wal, rec) = FileWal::open(dir.path(), opts, &mut |_, _| seen += 1).unwrap();
        assert_eq!(rec.records, 200);
        assert_eq!(seen, 200);
        assert!(rec.damaged.is_empty());
        let r = wal
            .try_append(batch(1, "after"))
            .unwrap()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.first, 201);
        // Releasing deletes whole segments, never the active one, and reading goes on.
        wal.release(150);
        let segs = list_segments(dir.path()).unwrap();
        assert!(!segs.is_empty() && segs[0] <= 151);
        assert_eq!(read_all(&wal, 151).len(), 51);
    }

    #[tokio::test]
    async fn torn_tail_is_cut_and_numbering_continues() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) =
                FileWal::open(dir.path(), WalOptions::default(), &mut |_, _| {}).unwrap();
            wal.try_append(batch(5, "a"))
                .unwrap()
                .await
                .unwrap()
                .unwrap();
        }
        let seg = segment_path(dir.path(), 1);
        let len = fs::metadata(&seg).unwrap().len();
        // Half a frame, as a kill -9 in the middle of a write leaves.
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 6, 0]).unwrap();
        drop(f);
        let (wal, rec) = FileWal::open(dir.path(), WalOptions::default(), &mut |_, _| {}).unwrap();
        assert_eq!(rec.records, 5);
        assert_eq!(rec.torn_bytes, 10);
        assert_eq!(fs::metadata(&seg).unwrap().len(), len);
        let r = wal
            .try_append(batch(1, "b"))
            .unwrap()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.first, 6);
        assert_eq!(read_all(&wal, 1).len(), 6);
    }

    #[tokio::test]
    async fn flipped_byte_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) =
                FileWal::open(dir.path(), WalOptions::default(), &mut |_, _| {}).unwrap();
            wal.try_append(batch(3, "a"))
                .unwrap()
                .await
                .unwrap()
                .unwrap();
        }
        let seg = segment_path(dir.path(), 1);
        let mut bytes = fs::read(&seg).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x20;
        fs::write(&seg, &bytes).unwrap();
        let (_, rec) = FileWal::open(dir.path(), WalOptions::default(), &mut |_, _| {}).unwrap();
        // The last frame fails its checksum: it is the torn tail of the last segment.
        assert_eq!(rec.records, 2);
        assert!(rec.torn_bytes > 0);
    }

    #[tokio::test]
    async fn queue_bound_refuses_and_room_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            max_lag_records: 10,
            ..Default::default()
        };
        let (wal, _) = FileWal::open(dir.path(), opts, &mut |_, _| {}).unwrap();
        wal.try_append(batch(10, "a"))
            .unwrap()
            .await
            .unwrap()
            .unwrap();
        assert_eq!(wal.lag(), 10);
        assert!(matches!(
            wal.try_append(batch(1, "b")),
            Err(Refused::Full(_))
        ));
        wal.release(5);
        wal.room().await;
        wal.try_append(batch(1, "b"))
            .unwrap()
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_damaged_middle_segment_is_skipped_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WalOptions {
            segment_bytes: 1_000,
            ..Default::default()
        };
        {
            let (wal, _) = FileWal::open(dir.path(), opts.clone(), &mut |_, _| {}).unwrap();
            for k in 0..6 {
                wal.try_append(batch(20, &format!("b{k}")))
                    .unwrap()
                    .await
                    .unwrap()
                    .unwrap();
            }
        }
        let segs = list_segments(dir.path()).unwrap();
        assert!(segs.len() >= 3, "{segs:?}");
        // Flip a byte in the middle of the first segment.
        let first = segment_path(dir.path(), segs[0]);
        let mut bytes = fs::read(&first).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        fs::write(&first, &bytes).unwrap();
        let (wal, rec) = FileWal::open(dir.path(), opts, &mut |_, _| {}).unwrap();
        assert_eq!(rec.damaged.len(), 1, "{:?}", rec.damaged);
        let all = read_all(&wal, 1);
        // Everything from the second segment on is read; the first segment up to the damage.
        let second = segs[1];
        assert!(all.iter().any(|(s, _)| *s == second));
        assert_eq!(all.last().unwrap().0, 120);
        assert!(all.len() < 120 && all.len() as u64 > 120 - second);
        assert!(all.windows(2).all(|w| w[0].0 < w[1].0));
        // A cursor that starts inside the damaged part also goes on with the next segment.
        let from_mid = read_all(&wal, second - 1);
        assert_eq!(from_mid.first().unwrap().0, second);
    }
}
