//! The worker pool: files are handed out to N threads; each thread reads its file, normalizes
//! and evaluates every event with its own record and scratch, and sends detections and errors
//! to the collecting thread.

use crossbeam_channel::{bounded, Sender};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use yagura_ingest::{IngestError, InputFile, Location, RawItem, ReadOptions, TextItem};
use yagura_normalize::parse::{cloudtrail_records, Outcome, Parser, SourceType};
use yagura_sigma::correlation::Capture;
use yagura_sigma::rule::Level;

use super::detection::Detection;
use super::key_fields::summarize;
use super::text::{is_vendor_json, meta_at, meta_of, mtime_ms};
use yagura_sigma::{Detector, DetectorWorker};

/// Which events and detections to keep.
#[derive(Clone, Debug)]
pub struct ScanFilter {
    /// Lowest rule level reported.
    pub min_level: Level,
    /// Earliest event time (Unix ms, inclusive).
    pub from: Option<i64>,
    /// Latest event time (Unix ms, inclusive).
    pub to: Option<i64>,
}

impl ScanFilter {
    fn time_ok(&self, ts: Option<i64>) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        // With a time range, events without a time cannot be placed in it.
        match ts {
            Some(t) => self.from.unwrap_or(i64::MIN) <= t && t <= self.to.unwrap_or(i64::MAX),
            None => false,
        }
    }
}

/// Where a captured event is.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// Source file (`archive.zip!entry` inside archives).
    pub file: String,
    /// Record id (EVTX) or line/object number (JSON).
    pub record: u64,
    /// Computer of the event.
    pub computer: String,
    /// Channel of the event.
    pub channel: String,
    /// Event id.
    pub event_id: Option<u32>,
}

/// What a worker reports to the collector.
pub enum Message {
    /// A detection.
    Detection(Detection),
    /// Values a correlation needs from a matched event, with the event time and where the event
    /// is (so a correlation alert can point at the event that decided it).
    Capture(i64, Capture, Origin),
    /// An input error (file, record and reason).
    Error(IngestError),
    /// Events read so far in a file still being read (for the progress display of large files).
    Events(u64),
    /// A file is read.
    FileDone {
        /// Events read from it.
        events: u64,
        /// Its size in bytes.
        bytes: u64,
    },
}

/// Scans `files` with `threads` workers, calling `collect` (on the calling thread) for every
/// message. `levels[rule]` is each rule's level.
pub fn scan(
    files: &[InputFile],
    detector: &Detector,
    levels: &[Level],
    filter: &ScanFilter,
    threads: usize,
    mut collect: impl FnMut(Message),
) {
    let threads = threads.max(1);
    // Few files: give each one several EVTX parsing threads; many files: one each.
    let evtx_threads = (threads / files.len().max(1)).max(1);
    let read_opts = ReadOptions { evtx_threads };
    // Largest files first, so a big file does not start last and run alone.
    let mut order: Vec<(u64, &InputFile)> = files
        .iter()
        .map(|f| (std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0), f))
        .collect();
    order.sort_by_key(|&(size, _)| std::cmp::Reverse(size));
    let next = AtomicUsize::new(0);
    let (tx, rx) = bounded::<Message>(8192);
    let scanning = AtomicBool::new(true);
    std::thread::scope(|scope| {
        // On large inputs, automata are built beside the workers instead of by the first event
        // that needs each one while the other workers wait for it (wall time -5% on average on
        // bench/hunt.sh's corpus). Small inputs keep lazy builds: the few automata they need
        // cost less than the builds under way when they end. With `--threads 1` nothing runs
        // beside the one worker.
        let total: u64 = order.iter().map(|(size, _)| size).sum();
        if threads > 1 && total >= WARM_MIN_BYTES {
            let scanning = &scanning;
            scope.spawn(move || detector.warm_while(|| scanning.load(Ordering::Relaxed)));
        }
        for _ in 0..threads.min(order.len()) {
            let tx = tx.clone();
            let (order, next, read_opts) = (&order, &next, &read_opts);
            scope.spawn(move || {
                let mut worker = detector.worker();
                while let Some(&(bytes, file)) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let events = scan_file(file, &mut worker, levels, filter, read_opts, &tx);
                    if tx.send(Message::FileDone { events, bytes }).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        for message in rx {
            collect(message);
        }
        scanning.store(false, Ordering::Relaxed);
    });
}

/// The file name of a stored event's location: detections name stored events
/// `store:SEQ` (`yagura.seq`) where file hunts name `file:record`.
pub const STORE_FILE: &str = "store";

/// Stored events handed from the reading thread to the workers at a time.
const STORE_BATCH: usize = 256;

/// [`scan`] over the events of a store (`yagura import`, `yagura serve`) in `filter`'s time
/// range: the reading thread hands the documents to `threads` workers, which evaluate each with
/// the same plans as a file hunt (see [`evaluate_stored`]) and report through the same
/// [`Message`]s; `Message::FileDone` counts events read (`bytes` = events, for the progress
/// bar over the partitions' event totals). Returns the store's read error, if any.
pub fn scan_store(
    reader: &yagura_store::search::Reader,
    detector: &Detector,
    levels: &[Level],
    filter: &ScanFilter,
    threads: usize,
    mut collect: impl FnMut(Message),
) -> Result<(), yagura_store::StoreError> {
    use yagura_store::search::{SearchOptions, SearchStats};
    type Doc = serde_json::Map<String, serde_json::Value>;
    let threads = threads.max(1);
    let opts = SearchOptions {
        from_ms: filter.from,
        // The store's bound is exclusive, the hunt's inclusive.
        to_ms: filter.to.map(|t| t.saturating_add(1)),
    };
    let (docs_tx, docs_rx) = bounded::<Vec<Doc>>(threads * 4);
    let (tx, rx) = bounded::<Message>(8192);
    let mut read_result = Ok(());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let docs_rx = docs_rx.clone();
            scope.spawn(move || {
                let mut worker = detector.worker();
                for batch in docs_rx {
                    let events = batch.len() as u64;
                    for doc in batch {
                        evaluate_stored(doc, &mut worker, levels, filter, &tx);
                    }
                    let done = Message::FileDone {
                        events,
                        bytes: events,
                    };
                    if tx.send(done).is_err() {
                        return;
                    }
                }
            });
        }
        drop(docs_rx);
        drop(tx);
        let read_result = &mut read_result;
        scope.spawn(move || {
            let mut stats = SearchStats::default();
            let mut batch = Vec::with_capacity(STORE_BATCH);
            *read_result = reader.events(None, &opts, &mut stats, |doc| {
                batch.push(doc);
                if batch.len() < STORE_BATCH {
                    return true;
                }
                let full = std::mem::replace(&mut batch, Vec::with_capacity(STORE_BATCH));
                docs_tx.send(full).is_ok()
            });
            if !batch.is_empty() {
                let _ = docs_tx.send(batch);
            }
        });
        for message in rx {
            collect(message);
        }
    });
    read_result
}

/// Evaluates one stored document as a file hunt evaluates the event it was made from.
///
/// Windows events (`event.module: windows`) keep the EVTX record (or Windows JSON document) in
/// `event.original`: [`yagura_normalize::flatten_original`] flattens it again, and it is
/// evaluated on the Windows plan, exactly as hunting the EVTX file does and as `serve` does on
/// arrival (an original that cannot be read is reported, and the ECS form evaluated). Every other document is the normalizer's record written as JSON
/// (`yagura_normalize::parse::write_json`): [`yagura_normalize::flatten_ecs`] gives the same
/// `(key, kind, value)` fields back (arrays as repeated keys), evaluated on the ECS plan as
/// text logs and vendor JSON are. `yagura.seq`, the store's id, is not part of the event; it
/// names the detection's location (`store:SEQ`).
fn evaluate_stored(
    mut doc: serde_json::Map<String, serde_json::Value>,
    worker: &mut DetectorWorker<'_, '_>,
    levels: &[Level],
    filter: &ScanFilter,
    tx: &Sender<Message>,
) {
    let seq = doc
        .remove("yagura.seq")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let loc = Location {
        file: STORE_FILE.to_owned(),
        record: seq,
    };
    match yagura_normalize::flatten_original(
        doc.get("event.module").and_then(|v| v.as_str()),
        doc.get("event.original").and_then(|v| v.as_str()),
        &mut worker.record,
    ) {
        Some(Ok((shape, meta))) => {
            worker.evaluate_record(yagura_sigma::Family::of(shape.is_windows()));
            if !worker.hits().is_empty() {
                report_hits(worker, meta, &loc, levels, filter, tx);
            }
            return;
        }
        // Reported; the ECS form is evaluated instead, as `serve` does.
        Some(Err(e)) => {
            let _ = tx.send(Message::Error(IngestError::record(
                loc.file.clone(),
                loc.record,
                format!("event.original not evaluated: {e}"),
            )));
        }
        None => {}
    }
    let timestamp = doc
        .get("@timestamp")
        .and_then(|v| v.as_str())
        .and_then(yagura_normalize::parse_timestamp);
    let doc = serde_json::Value::Object(doc);
    worker.record.clear();
    if let Err(e) = yagura_normalize::flatten_ecs(&doc, &mut worker.record) {
        let _ = tx.send(Message::Error(IngestError::record(
            loc.file.clone(),
            loc.record,
            e.to_string(),
        )));
        return;
    }
    worker.evaluate_record(yagura_sigma::Family::Ecs);
    if !worker.hits().is_empty() {
        let meta = meta_at(&worker.record, timestamp);
        report_hits(worker, meta, &loc, levels, filter, tx);
    }
}

/// Input size from which a hunt builds every automaton beside its workers.
const WARM_MIN_BYTES: u64 = 32 << 20;

/// Reads one file; returns the number of events read.
/// How often a worker reports progress inside one file, in events.
const PROGRESS_EVERY: u64 = 8192;

fn scan_file(
    file: &InputFile,
    worker: &mut DetectorWorker<'_, '_>,
    levels: &[Level],
    filter: &ScanFilter,
    read_opts: &ReadOptions,
    tx: &Sender<Message>,
) -> u64 {
    if file.kind.is_text() {
        return scan_text(file, worker, levels, filter, tx);
    }
    let mut events = 0;
    // Vendor JSON (CloudTrail, Okta, Suricata EVE, Zeek) goes through the parsers; made on the
    // first such document.
    let mut vendor: Option<(Parser, String, i64)> = None;
    // EVTX records come as JSON text, flattened without building a `Value` per record.
    file.read_raw(read_opts, &mut |item| {
        let (loc, result) = match item {
            RawItem::Json { loc, json } => (loc, super::evaluate_evtx_json(worker, json)),
            RawItem::Doc { loc, doc }
                if is_vendor_json(doc) || cloudtrail_records(doc).is_some() =>
            {
                let (parser, raw, received_ms) = vendor.get_or_insert_with(|| {
                    (
                        Parser::new(SourceType::Auto),
                        String::new(),
                        mtime_ms(&file.path),
                    )
                });
                let inner = cloudtrail_records(doc);
                let numbered = inner.is_some();
                let records = inner.unwrap_or(std::slice::from_ref(doc));
                for (i, doc) in records.iter().enumerate() {
                    raw.clear();
                    // Writing JSON into a String cannot fail (no I/O, valid UTF-8).
                    let _ = serde_json::to_writer(StringWriter(raw), doc);
                    let outcome = parser.parse_json(doc, raw, *received_ms, &mut worker.record);
                    if outcome == Outcome::Skip {
                        continue;
                    }
                    count_event(&mut events, tx);
                    worker.evaluate_record(yagura_sigma::Family::Ecs);
                    if !worker.hits().is_empty() {
                        let meta = meta_of(&worker.record, outcome);
                        // Records of one `{"Records":[...]}` file are numbered in it.
                        let at;
                        let loc = if numbered {
                            at = Location {
                                file: loc.file.clone(),
                                record: i as u64 + 1,
                            };
                            &at
                        } else {
                            loc
                        };
                        report_hits(worker, meta, loc, levels, filter, tx);
                    }
                }
                return;
            }
            RawItem::Doc { loc, doc } => (loc, super::evaluate_doc(worker, doc)),
            RawItem::Error(e) => {
                let _ = tx.send(Message::Error(e));
                return;
            }
        };
        count_event(&mut events, tx);
        match result {
            Ok(meta) => {
                if !worker.hits().is_empty() {
                    report_hits(worker, meta, loc, levels, filter, tx);
                }
            }
            Err(e) => {
                let _ = tx.send(Message::Error(IngestError::record(
                    loc.file.clone(),
                    loc.record,
                    e.to_string(),
                )));
            }
        }
    });
    events
}

/// Counts one event; every [`PROGRESS_EVERY`] events, tells the progress display.
fn count_event(events: &mut u64, tx: &Sender<Message>) {
    *events += 1;
    if events.is_multiple_of(PROGRESS_EVERY) {
        let _ = tx.send(Message::Events(PROGRESS_EVERY));
    }
}

/// `io::Write` into a reused `String`, for `serde_json::to_writer` (which writes whole UTF-8
/// tokens; anything else is refused, never stored).
struct StringWriter<'a>(&'a mut String);

impl std::io::Write for StringWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let s = std::str::from_utf8(buf)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        self.0.push_str(s);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads a text log line by line through one parser (its Zeek header state is per file), into
/// the worker's one record; returns the number of events (header and empty lines are none).
/// The file's modification time gives RFC 3164 timestamps their year.
fn scan_text(
    file: &InputFile,
    worker: &mut DetectorWorker<'_, '_>,
    levels: &[Level],
    filter: &ScanFilter,
    tx: &Sender<Message>,
) -> u64 {
    let mut events = 0;
    let mut parser = Parser::new(SourceType::Auto);
    let received_ms = mtime_ms(&file.path);
    file.read_text(&mut |item| match item {
        TextItem::Line { loc, line } => {
            let outcome = parser.parse(line, received_ms, &mut worker.record);
            if outcome == Outcome::Skip {
                return;
            }
            count_event(&mut events, tx);
            worker.evaluate_record(yagura_sigma::Family::Ecs);
            if !worker.hits().is_empty() {
                let meta = meta_of(&worker.record, outcome);
                report_hits(worker, meta, loc, levels, filter, tx);
            }
        }
        TextItem::Error(e) => {
            let _ = tx.send(Message::Error(e));
        }
    });
    events
}

fn report_hits(
    worker: &DetectorWorker<'_, '_>,
    meta: yagura_normalize::EventMeta,
    loc: &Location,
    levels: &[Level],
    filter: &ScanFilter,
    tx: &Sender<Message>,
) {
    if !filter.time_ok(meta.timestamp) {
        return;
    }
    if let Some(ts) = meta.timestamp {
        for &rule in worker.hits() {
            if let Some(capture) = worker.capture(rule) {
                let origin = Origin {
                    file: loc.file.clone(),
                    record: loc.record,
                    computer: meta.computer.clone(),
                    channel: meta.channel.clone(),
                    event_id: meta.event_id,
                };
                let _ = tx.send(Message::Capture(ts, capture, origin));
            }
        }
    }
    let reported = |rule: &&u32| {
        levels
            .get(**rule as usize)
            .is_some_and(|l| *l >= filter.min_level)
            && !worker.suppressed(**rule)
    };
    let mut fields: Option<String> = None;
    for &rule in worker.hits().iter().filter(reported) {
        let fields = fields
            .get_or_insert_with(|| summarize(&worker.record))
            .clone();
        let detection = Detection {
            ts: meta.timestamp,
            rule,
            computer: meta.computer.clone(),
            channel: meta.channel.clone(),
            event_id: meta.event_id,
            file: loc.file.clone(),
            record: loc.record,
            fields,
        };
        let _ = tx.send(Message::Detection(detection));
    }
}
