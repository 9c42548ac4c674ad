//! The loop from the write-ahead log to the store: read, normalize, append, commit, release.
//!
//! Normalizing is the costly part (parsing, then writing the ECS document), so a batch read
//! from the log is normalized on [`Indexer::lanes`] threads at once, then appended to the store
//! in sequence order. Records of one tailed file always go to the same lane, so stream state
//! (a Zeek `#fields` header) stays with its lines; other records are split by position.
//!
//! A [`Tap`] sees every normalized event on the same lanes (streaming detection runs there),
//! then commits its results after the store's commit. It keeps its own position: the log is
//! released only behind both, and after a restart the indexer reads from the older of the two,
//! storing only what the store lacks.

use crate::{EventStore, StoreError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use yagura_collect::raw::{decode, Format, RawRecord};
use yagura_collect::wal::{Records, Wal};
use yagura_event::Record;
use yagura_normalize::arrival::{Arrival, Normalizer};
use yagura_normalize::parse::{write_json, Outcome};

/// Counters of the indexer, readable while it runs.
#[derive(Debug, Default)]
pub struct IndexerStats {
    /// Events stored.
    pub events: AtomicU64,
    /// Of those, events no parser understood (kept with `message` and `event.original`).
    pub unparsed: AtomicU64,
    /// Records that were not events (Zeek headers, empty HEC events).
    pub skipped: AtomicU64,
    /// Log records that could not be decoded (damage).
    pub damaged: AtomicU64,
    /// Sequence number of the last stored event.
    pub last_seq: AtomicU64,
    /// Log records skipped because their segment was damaged.
    pub wal_skipped: AtomicU64,
}

/// A second consumer of the normalized events, run inside the indexer's loop on the same
/// records: streaming detection (`yagura-alert`). Its results and its position are its own
/// business; the indexer only promises to show it every event after the position it resumes
/// from, in sequence order per lane, and to release the log only behind [`Tap::durable`].
pub trait Tap: Sync {
    /// Per-lane state and output (one per normalizing thread).
    type Lane: Send;
    /// A new lane.
    fn lane(&self) -> Self::Lane;
    /// Where to resume: the last sequence number the tap is done with, given the store's
    /// (a tap without a checkpoint starts where the store is).
    fn resume_after(&mut self, store_last: u64) -> u64;
    /// One normalized event (`rec`, with its event time), on a lane's thread; lanes run in
    /// parallel, each in ascending sequence order.
    fn inspect(&self, lane: &mut Self::Lane, seq: u64, rec: &Record, timestamp_ms: i64);
    /// After a batch, on the indexer's thread: every record up to `last` has been inspected.
    fn commit(&mut self, lanes: &mut [&mut Self::Lane], last: u64) -> Result<(), StoreError>;
    /// The last sequence number whose results are durable: the log is kept after it.
    fn durable(&self) -> u64;
    /// Called each time the log has nothing new (every few milliseconds while idle): time-driven
    /// work, which the tap throttles itself.
    fn idle(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// No tap: the indexer only stores.
pub struct NoTap;

impl Tap for NoTap {
    type Lane = ();
    fn lane(&self) {}
    fn resume_after(&mut self, store_last: u64) -> u64 {
        store_last
    }
    fn inspect(&self, _: &mut (), _: u64, _: &Record, _: i64) {}
    fn commit(&mut self, _: &mut [&mut ()], _: u64) -> Result<(), StoreError> {
        Ok(())
    }
    fn durable(&self) -> u64 {
        u64::MAX
    }
}

/// One normalizing thread's state and output for a batch.
struct Lane<L, P> {
    tap: L,
    normalizer: Normalizer,
    rec: Record,
    /// ECS documents written back to back.
    out: Vec<u8>,
    /// `(seq, start, end)` into `out`, ascending, with what the store prepared of each
    /// (taken when it is appended).
    items: Vec<(u64, usize, usize, Option<P>)>,
    unparsed: u64,
    skipped: u64,
    damaged: u64,
    /// Per `(listener, source)` seen in the batch: arrival minus event time of its last event.
    lags: Vec<(String, String, i64)>,
}

/// The source a metric is kept for: the sender's address without its port (as the listeners
/// count it), or the tailed file.
fn source_of<'a>(listener: &str, peer: &'a str, stream: &'a str) -> &'a str {
    if listener == "tail" {
        return stream;
    }
    let ip = peer.rsplit_once(':').map_or(peer, |(ip, _)| ip);
    ip.trim_start_matches('[').trim_end_matches(']')
}

impl<L, P> Lane<L, P> {
    fn new(tap: L) -> Self {
        Self {
            tap,
            normalizer: Normalizer::default(),
            rec: Record::default(),
            out: Vec::new(),
            items: Vec::new(),
            unparsed: 0,
            skipped: 0,
            damaged: 0,
            lags: Vec::new(),
        }
    }

    /// Normalizes one record, shows it to the tap and, unless `store` is `None` (the store
    /// has the event already: it is re-read for the tap only), writes and prepares it.
    fn normalize<T: Tap<Lane = L>, S: EventStore<Prepared = P>>(
        &mut self,
        tap: &T,
        store: Option<&S>,
        seq: u64,
        raw: Option<&RawRecord<'_>>,
    ) {
        let Some(raw) = raw else {
            self.damaged += 1;
            tracing::error!("write-ahead log record {seq}: cannot be decoded; skipped");
            return;
        };
        let env = raw.envelope;
        let text = String::from_utf8_lossy(raw.data);
        let arrival = Arrival {
            listener: env.listener,
            source_type: env.source_type,
            peer: env.peer,
            host: env.host,
            stream: env.stream,
            offset: env.offset,
            received_ms: env.received_ms,
            json: env.format == Format::Json,
        };
        match self.normalizer.normalize(&arrival, &text, &mut self.rec) {
            Outcome::Event {
                parsed,
                timestamp_ms,
                ..
            } => {
                let source = source_of(env.listener, env.peer, env.stream);
                let lag = env.received_ms - timestamp_ms;
                let known = self
                    .lags
                    .iter()
                    .rposition(|(l, s, _)| l == env.listener && s == source);
                match known {
                    Some(i) => self.lags[i].2 = lag,
                    None if self.lags.len() < 1024 => {
                        self.lags
                            .push((env.listener.to_owned(), source.to_owned(), lag));
                    }
                    None => {}
                }
                tap.inspect(&mut self.tap, seq, &self.rec, timestamp_ms);
                let start = self.out.len();
                let Some(store) = store else {
                    self.items.push((seq, start, start, None));
                    return;
                };
                if !parsed {
                    self.unparsed += 1;
                }
                write_json(&self.rec, &mut self.out);
                match store.prepare_record(&self.rec, &self.out[start..]) {
                    Ok(p) => self.items.push((seq, start, self.out.len(), Some(p))),
                    Err(e) => {
                        self.damaged += 1;
                        tracing::error!("event {seq}: {e}; not stored");
                    }
                }
            }
            Outcome::Skip => self.skipped += 1,
        }
    }

    fn clear(&mut self) {
        self.out.clear();
        self.items.clear();
        self.unparsed = 0;
        self.skipped = 0;
        self.damaged = 0;
        self.lags.clear();
    }
}

/// The lane of a record: a tailed file's records always go to one lane (by its path).
fn lane_of(raw: Option<&RawRecord<'_>>, index: usize, n: usize, lanes: usize) -> usize {
    if let Some(r) = raw {
        if r.envelope.listener == "tail" {
            let h = r
                .envelope
                .stream
                .bytes()
                .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
                });
            return (h % lanes as u64) as usize;
        }
    }
    index * lanes / n.max(1)
}

/// Reads the log from the store's last event on, normalizes, stores (and shows the events to
/// a [`Tap`]).
pub struct Indexer<S: EventStore, T: Tap = NoTap> {
    wal: Arc<dyn Wal>,
    store: S,
    tap: T,
    lanes: Vec<Lane<T::Lane, S::Prepared>>,
    assign: Vec<u8>,
    /// Counters.
    pub stats: Arc<IndexerStats>,
    /// Records read from the log per commit.
    pub batch: usize,
    metrics: Option<Arc<yagura_collect::metrics::Metrics>>,
    /// The last log record processed (stored, or nothing to store).
    processed: u64,
    last_sync: Instant,
    last_maintain: Instant,
    /// Log records before the first event this run stored (never to be re-read).
    released_floor: u64,
    /// Events up to this sequence number are in the store already (re-read for the tap).
    stored_until: u64,
}

/// How often the store is synced (and the log released behind it) while records keep coming.
const SYNC_EVERY: Duration = Duration::from_millis(500);
/// How often the store does its upkeep (retention).
const MAINTAIN_EVERY: Duration = Duration::from_secs(60);

/// Batches smaller than this are normalized on the indexer's own thread.
const PARALLEL_FROM: usize = 1024;

impl<S: EventStore> Indexer<S, NoTap> {
    /// An indexer over `wal` into `store`, normalizing on one lane per core (at most 4).
    pub fn new(wal: Arc<dyn Wal>, store: S) -> Self {
        let stats = Arc::new(IndexerStats::default());
        stats.last_seq.store(store.last_seq(), Ordering::Relaxed);
        let lanes = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let store_last = store.last_seq();
        Self {
            wal,
            store,
            tap: NoTap,
            lanes: (0..lanes).map(|_| Lane::new(())).collect(),
            assign: Vec::new(),
            stats,
            batch: 8192,
            metrics: None,
            // Everything the store holds is done with in the log, once synced (`run` starts so).
            processed: store_last,
            last_sync: Instant::now(),
            last_maintain: Instant::now(),
            released_floor: 0,
            stored_until: 0,
        }
    }

    /// Shows every normalized event to `tap` as well (as many lanes as before).
    pub fn with_tap<T: Tap>(self, tap: T) -> Indexer<S, T> {
        let lanes = self.lanes.len();
        Indexer {
            wal: self.wal,
            store: self.store,
            lanes: (0..lanes).map(|_| Lane::new(tap.lane())).collect(),
            tap,
            assign: self.assign,
            stats: self.stats,
            batch: self.batch,
            metrics: self.metrics,
            processed: self.processed,
            last_sync: self.last_sync,
            last_maintain: self.last_maintain,
            released_floor: self.released_floor,
            stored_until: self.stored_until,
        }
    }
}

impl<S: EventStore, T: Tap> Indexer<S, T> {
    /// Keeps the counters in `stats` (so that they can be read before the indexer exists).
    pub fn with_stats(mut self, stats: Arc<IndexerStats>) -> Self {
        stats.last_seq.store(
            self.stats.last_seq.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.stats = stats;
        self
    }

    /// Reports each source's event lag into the listeners' counters.
    pub fn with_metrics(mut self, metrics: Arc<yagura_collect::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Normalizes on `lanes` threads (1: on this thread only).
    pub fn with_lanes(mut self, lanes: usize) -> Self {
        self.lanes = (0..lanes.max(1))
            .map(|_| Lane::new(self.tap.lane()))
            .collect();
        self
    }

    /// Processes what the log holds now; returns how many records were read.
    fn step(
        &mut self,
        cursor: &mut dyn yagura_collect::wal::WalCursor,
        records: &mut Records,
    ) -> Result<usize, StoreError> {
        records.clear();
        let n = cursor.read(self.batch, records)?;
        if n == 0 {
            return Ok(0);
        }
        for lane in &mut self.lanes {
            lane.clear();
        }
        // Each record is decoded once, for its lane and for its lane's normalizer.
        let decoded: Vec<(u64, Option<RawRecord<'_>>)> = records
            .iter()
            .map(|(seq, payload)| (seq, decode(payload).ok()))
            .collect();
        let last = decoded.last().map_or(0, |d| d.0);
        let lanes = self.lanes.len();
        if n < PARALLEL_FROM || lanes == 1 {
            for (seq, raw) in &decoded {
                let store = (*seq > self.stored_until).then_some(&self.store);
                self.lanes[0].normalize(&self.tap, store, *seq, raw.as_ref());
            }
        } else {
            self.assign.clear();
            self.assign.extend(
                decoded
                    .iter()
                    .enumerate()
                    .map(|(i, (_, raw))| lane_of(raw.as_ref(), i, n, lanes) as u8),
            );
            let assign = &self.assign;
            let decoded = &decoded;
            let tap = &self.tap;
            let store = &self.store;
            let stored_until = self.stored_until;
            let work = move |k: usize, lane: &mut Lane<T::Lane, S::Prepared>| {
                for ((seq, raw), &a) in decoded.iter().zip(assign) {
                    if a as usize == k {
                        let store = (*seq > stored_until).then_some(store);
                        lane.normalize(tap, store, *seq, raw.as_ref());
                    }
                }
            };
            std::thread::scope(|scope| {
                let (first, rest) = self.lanes.split_at_mut(1);
                for (k, lane) in rest.iter_mut().enumerate() {
                    scope.spawn(move || work(k + 1, lane));
                }
                work(0, &mut first[0]);
            });
        }
        // Append in sequence order: merge the lanes' ascending lists.
        let mut pos = vec![0usize; self.lanes.len()];
        // Events appended now (not those the store had already, re-read for the tap).
        let mut events = 0u64;
        loop {
            let mut best: Option<(usize, u64)> = None;
            for (k, lane) in self.lanes.iter().enumerate() {
                if let Some(&(seq, ..)) = lane.items.get(pos[k]) {
                    if best.is_none_or(|(_, s)| seq < s) {
                        best = Some((k, seq));
                    }
                }
            }
            let Some((k, _)) = best else { break };
            let lane = &mut self.lanes[k];
            let (seq, start, end, ref mut prepared) = lane.items[pos[k]];
            let prepared = prepared.take();
            pos[k] += 1;
            if let Some(p) = prepared {
                self.store.append(seq, &lane.out[start..end], p)?;
                events += 1;
            }
        }
        // Every record up to `last` is done: stored, or nothing to store.
        self.store.commit()?;
        let mut taps: Vec<&mut T::Lane> = self.lanes.iter_mut().map(|l| &mut l.tap).collect();
        self.tap.commit(&mut taps, last)?;
        let (mut unparsed, mut skipped, mut damaged) = (0, 0, 0);
        for lane in &self.lanes {
            unparsed += lane.unparsed;
            skipped += lane.skipped;
            damaged += lane.damaged;
        }
        self.stats.events.fetch_add(events, Ordering::Relaxed);
        self.stats.unparsed.fetch_add(unparsed, Ordering::Relaxed);
        self.stats.skipped.fetch_add(skipped, Ordering::Relaxed);
        self.stats.damaged.fetch_add(damaged, Ordering::Relaxed);
        self.stats.last_seq.store(last, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            for lane in &self.lanes {
                for (l, s, lag) in &lane.lags {
                    m.source(l, s).lag_ms.store(*lag, Ordering::Relaxed);
                }
            }
        }
        self.processed = last;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(n)
    }

    /// Syncs the store, then releases the log up to what was processed before the sync.
    fn sync(&mut self) -> Result<(), StoreError> {
        let processed = self.processed;
        // The store may hold events back for a bigger block: release only what it made durable.
        let durable = self.store.sync()?;
        self.last_sync = Instant::now();
        self.wal.release(
            processed
                .min(durable.max(self.released_floor))
                .min(self.tap.durable()),
        );
        if self.last_maintain.elapsed() >= MAINTAIN_EVERY {
            self.store.maintain()?;
            self.last_maintain = Instant::now();
        }
        Ok(())
    }

    /// Runs until `stop` is set and the log is drained.
    pub fn run(mut self, stop: Arc<AtomicBool>) -> Result<(), StoreError> {
        self.stored_until = self.store.last_seq();
        let from = self
            .tap
            .resume_after(self.stored_until)
            .min(self.stored_until);
        self.released_floor = from;
        self.processed = from;
        self.sync()?;
        let mut cursor = self.wal.cursor(from + 1)?;
        let mut records = Records::default();
        loop {
            let n = self.step(cursor.as_mut(), &mut records)?;
            self.stats
                .wal_skipped
                .store(cursor.skipped(), Ordering::Relaxed);
            if n == 0 {
                // Lets the store flush held-back events and commit its index when idle.
                self.store.commit()?;
                self.tap.idle()?;
                if self.wal.lag() > 0 {
                    // Idle: make what was stored durable and free the log behind it.
                    self.sync()?;
                }
                if stop.load(Ordering::SeqCst) {
                    self.store.flush()?;
                    return self.sync();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{read_events, Journal};
    use yagura_collect::raw::{Batch, Envelope};
    use yagura_collect::wal::{FileWal, WalOptions};

    /// Parallel lanes store the same events, in the same order, as one lane; a tailed Zeek
    /// file keeps its header with its lines.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lanes_store_in_sequence_order_and_keep_stream_state() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = FileWal::open(
            &dir.path().join("wal"),
            WalOptions::default(),
            &mut |_, _| {},
        )
        .unwrap();
        let wal = Arc::new(wal);
        let mut b = Batch::new();
        let env = |listener, stream| Envelope {
            received_ms: 1_700_000_000_000,
            listener,
            source_type: "auto",
            peer: "127.0.0.1:1",
            host: "",
            stream,
            offset: 0,
            file_id: 0,
            format: Format::Text,
        };
        let zeek = [
            "#separator \\x09",
            "#path\tdns",
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery",
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring",
        ];
        for z in zeek {
            b.push(&env("tail", "/var/log/zeek/dns.log"), z.as_bytes());
        }
        for i in 0..3000 {
            let line = format!("<38>Nov 30 10:00:00 gw sshd[42]: Failed password for root from 192.0.2.1 port {i} ssh2");
            b.push(&env("syslog-tcp", ""), line.as_bytes());
            if i % 10 == 0 {
                let z = format!(
                    "1700000000.{i:06}\tC{i}\t10.0.0.1\t5353\t10.0.0.2\t53\tudp\tq{i}.example.com"
                );
                b.push(&env("tail", "/var/log/zeek/dns.log"), z.as_bytes());
            }
        }
        let total = b.len();
        wal.try_append(b).unwrap().await.unwrap().unwrap();
        // `stored_until`: what the store holds already (re-read for the tap only).
        let run_from = |lanes: usize, name: &str, stored_until: u64| {
            let jdir = dir.path().join(name);
            let journal = Journal::open(&jdir, false).unwrap();
            let w: Arc<dyn Wal> = wal.clone();
            let mut ix = Indexer::new(w, journal).with_lanes(lanes);
            ix.stored_until = stored_until;
            let mut cursor = ix.wal.cursor(1).unwrap();
            let mut recs = Records::default();
            while ix.step(cursor.as_mut(), &mut recs).unwrap() > 0 {}
            let mut lines = Vec::new();
            read_events(&jdir, |l| lines.push(l.to_owned())).unwrap();
            (lines, ix.stats.events.load(Ordering::Relaxed))
        };
        let run = |lanes: usize, name: &str| {
            let (lines, counted) = run_from(lanes, name, 0);
            assert_eq!(counted, lines.len() as u64);
            lines
        };
        let one = run(1, "one");
        let two = run(2, "two");
        assert_eq!(one.len(), total - zeek.len());
        // Events the store had are not stored again, nor counted as stored.
        let (rest, counted) = run_from(2, "rest", 1000);
        assert_eq!(counted, rest.len() as u64);
        assert_eq!(rest.len(), one.len() - (1000 - zeek.len()));
        let strip = |l: &String| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("event.ingested");
            v
        };
        assert_eq!(
            one.iter().map(strip).collect::<Vec<_>>(),
            two.iter().map(strip).collect::<Vec<_>>()
        );
        let seqs: Vec<u64> = two
            .iter()
            .map(|l| strip(l)["yagura.seq"].as_u64().unwrap())
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        let zeek_events: Vec<_> = two
            .iter()
            .map(strip)
            .filter(|v| v["event.dataset"] == "zeek.dns")
            .collect();
        assert_eq!(zeek_events.len(), 300);
        assert!(zeek_events.iter().all(|v| v["dns.question.name"]
            .as_str()
            .unwrap()
            .ends_with(".example.com")));
    }
}
