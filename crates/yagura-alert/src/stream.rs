//! Streaming detection: every normalized event evaluated on arrival, as a [`Tap`] of the
//! indexer.
//!
//! **On the lanes** (parallel, [`Tap::inspect`]): the event is evaluated with the plans `hunt`
//! uses: a Windows event (`event.module: windows`) is flattened again from `event.original`
//! and evaluated on the Windows plan, anything else on the ECS plan straight from the
//! normalized record, exactly as `hunt` evaluates a stored event. A match keeps its rule, its
//! entities and, for rules that correlations reference, the values they need. Cost per event:
//! the plan evaluation; a Windows event also pays one JSON parse of its original.
//!
//! **On commit** (serial, after the store's): matches are merged in log order; detections
//! become occurrences; captures wait in an event-time buffer and reach the correlator once the
//! watermark (the newest event time seen, never beyond the wall clock plus the lateness; moved
//! on by the wall clock when the stream is idle) has passed them by the lateness allowance, so
//! an event that arrives up to that late still correlates. Occurrences and the checkpoint
//! (position, watermark, waiting captures, open windows) are written to the alert database in
//! one transaction, at most every [`StreamConfig::commit_every`]: after a crash the indexer
//! replays the log from the checkpoint's position and every alert is raised once.

use crate::alert::{split_tags, Entities, Kind, Severity};
use crate::db::{AlertDb, Occurrence, WaitingChanges};
use crate::Alert;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use yagura_event::Record;
use yagura_sigma::correlation::{Capture, CorrelationAlert, Correlator};
use yagura_sigma::{Detector, DetectorWorker, Family, Pipeline, RuleId, RuleSet};
use yagura_store::{StoreError, Tap};

/// Settings of streaming detection (`[detect]` in the serve configuration).
#[derive(Clone, Debug)]
pub struct StreamConfig {
    /// How late (in event time) an event may arrive and still correlate.
    pub lateness: Duration,
    /// The same rule on the same entities within this much event time is one alert.
    pub dedup_window: Duration,
    /// Detection rules below this level raise no alert (they still feed correlations).
    pub min_severity: Severity,
    /// Most time between two writes of alerts and checkpoint while events flow.
    pub commit_every: Duration,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            lateness: Duration::from_secs(60),
            dedup_window: Duration::from_secs(3600),
            min_severity: Severity::Low,
            commit_every: Duration::from_millis(200),
        }
    }
}

/// Counters of the stream, readable while it runs.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Events evaluated.
    pub events: AtomicU64,
    /// Rule matches (detections, including those only correlations use).
    pub matches: AtomicU64,
    /// Occurrences written to alerts (detections and correlations).
    pub occurrences: AtomicU64,
    /// Alerts created.
    pub alerts: AtomicU64,
    /// Correlation firings.
    pub correlations: AtomicU64,
    /// Captures waiting for the watermark, plus alert occurrences not yet written: 0 once
    /// everything inspected so far is an alert or nothing (what tests and operators wait for).
    pub waiting: AtomicU64,
    /// Captures that arrived behind the watermark (fed anyway, in arrival order).
    pub late: AtomicU64,
    /// Captures of events stamped beyond the wall clock plus the lateness (a clock ahead, or
    /// a year-less date read as this year's): correlated at that bound, their arrival, rather
    /// than waiting until the wall clock reaches them.
    pub future: AtomicU64,
    /// Windows events whose `event.original` could not be evaluated.
    pub errors: AtomicU64,
    /// The log position the checkpoint covers.
    pub position: AtomicU64,
    /// Event-to-alert latency of the last write: wall time from the newest event's arrival in
    /// the indexer to the alert being durable (ms).
    pub last_latency_ms: AtomicU64,
}

/// What an alert shows about its rule.
struct RuleInfo {
    rule_id: String,
    /// What names the rule in the checkpoint ([`Waiting::rule`]): its id (else title), with
    /// its file when another loaded rule has the same.
    key: String,
    title: String,
    severity: Severity,
    techniques: Vec<String>,
    tags: Vec<String>,
    description: String,
}

impl RuleInfo {
    fn of(meta: &yagura_sigma::rule::Meta) -> RuleInfo {
        let (techniques, tags) = split_tags(&meta.tags);
        RuleInfo {
            rule_id: meta.id.clone().unwrap_or_else(|| meta.title.clone()),
            key: String::new(),
            title: meta.title.clone(),
            severity: Severity::of(meta.level),
            techniques,
            tags,
            description: meta.description.clone().unwrap_or_default(),
        }
    }
}

/// One match on a lane.
struct Hit {
    seq: u64,
    ts: i64,
    rule: RuleId,
    /// Set when the match raises an alert of its own.
    entities: Option<Entities>,
    capture: Option<Capture>,
}

/// A lane's detector and its matches since the last commit.
pub struct StreamLane {
    worker: DetectorWorker<'static, 'static>,
    hits: Vec<Hit>,
    max_ts: i64,
    events: u64,
    errors: u64,
}

/// A capture waiting for the watermark.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Waiting {
    ts: i64,
    seq: u64,
    /// The rule's [`RuleInfo::key`]: rule indexes change when rules are edited.
    rule: String,
    values: Vec<(String, String)>,
}

/// What is written with each batch of alerts.
#[derive(Serialize, Deserialize, Default)]
struct Checkpoint {
    position: u64,
    watermark: i64,
    /// Empty since the waiting captures have a table of their own ([`AlertDb::waiting`]);
    /// read from checkpoints written before.
    waiting: Vec<Waiting>,
    windows: Vec<u8>,
}

/// Called with every alert created (`true`) or grown (`false`) once it is durable.
pub type OnAlert = Box<dyn Fn(&Alert, bool) + Send + Sync>;

/// Sets each detection rule's [`RuleInfo::key`] (`info` starts with the rules, in order).
fn assign_keys(info: &mut [RuleInfo], rules: &[yagura_sigma::LoadedRule]) {
    let mut seen: rustc_hash::FxHashMap<&str, usize> = Default::default();
    for r in info.iter().take(rules.len()) {
        *seen.entry(r.rule_id.as_str()).or_default() += 1;
    }
    let shared: Vec<bool> = info
        .iter()
        .take(rules.len())
        .map(|r| seen.get(r.rule_id.as_str()).is_some_and(|&n| n > 1))
        .collect();
    for ((r, loaded), shared) in info.iter_mut().zip(rules).zip(shared) {
        r.key = if shared {
            format!("{}@{}", r.rule_id, loaded.file.display())
        } else {
            r.rule_id.clone()
        };
    }
}

/// Streaming detection over the indexer's events, into an [`AlertDb`].
pub struct Stream {
    detector: &'static Detector<'static>,
    rules: &'static RuleSet,
    info: Vec<RuleInfo>,
    by_name: rustc_hash::FxHashMap<String, RuleId>,
    correlator: Correlator,
    db: Arc<AlertDb>,
    cfg: StreamConfig,
    stats: Arc<StreamStats>,
    on_alert: Option<OnAlert>,
    position: u64,
    /// Newest event time seen, capped at wall clock + lateness.
    watermark: i64,
    /// Where the watermark was when events last arrived, and when that was.
    idle_from: Option<(i64, Instant)>,
    waiting: BinaryHeap<Reverse<Waiting>>,
    /// How `waiting` changed since the last write (its removals; additions are found at the
    /// write: the captures of events after the last checkpoint's position).
    changes: WaitingChanges,
    /// Every waiting capture is written at the next write (after reading an old checkpoint).
    save_all: bool,
    occurrences: Vec<Occurrence>,
    fired: Vec<CorrelationAlert>,
    durable: u64,
    dirty: bool,
    last_write: Instant,
    /// Wall time the oldest unwritten occurrence was found.
    oldest_unwritten: Option<Instant>,
    restored: Option<Checkpoint>,
    last_idle: Instant,
}

/// How often idle time moves the watermark on.
const IDLE_EVERY: Duration = Duration::from_millis(100);

/// Errors of opening a stream.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The alert database.
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
    /// The checkpoint could not be read: `serve` refuses to start rather than lose open
    /// windows silently.
    #[error("alert checkpoint: {0}")]
    Checkpoint(String),
}

impl Stream {
    /// Streaming detection of `rules` into `db`. The rules and their compiled plans live as
    /// long as the process (the lanes' workers borrow them from any thread).
    pub fn new(
        rules: RuleSet,
        pipelines: Vec<Pipeline>,
        db: Arc<AlertDb>,
        cfg: StreamConfig,
    ) -> Result<Stream, StreamError> {
        let rules: &'static RuleSet = Box::leak(Box::new(rules));
        let detector: &'static Detector<'static> =
            Box::leak(Box::new(Detector::with_pipelines(rules, pipelines)));
        let mut info: Vec<RuleInfo> = rules
            .rules
            .iter()
            .map(|r| RuleInfo::of(&r.rule.meta))
            .chain(
                rules
                    .correlations
                    .iter()
                    .map(|c| RuleInfo::of(&c.rule.meta)),
            )
            .collect();
        assign_keys(&mut info, &rules.rules);
        let by_name = info
            .iter()
            .take(rules.rules.len())
            .enumerate()
            .map(|(i, r)| (r.key.clone(), i as RuleId))
            .collect();
        let mut correlator = Correlator::new(rules, Pipeline::windows());
        let mut restored = None;
        let mut save_all = false;
        if let Some(bytes) = db.checkpoint()? {
            match rmp_serde::from_slice::<Checkpoint>(&bytes) {
                Ok(mut cp) => {
                    correlator
                        .restore(&cp.windows)
                        .map_err(StreamError::Checkpoint)?;
                    // A checkpoint of an earlier version holds its captures itself.
                    save_all = !cp.waiting.is_empty();
                    for b in db.waiting()? {
                        let w = rmp_serde::from_slice::<Waiting>(&b).map_err(|e| {
                            StreamError::Checkpoint(format!("waiting capture: {e}"))
                        })?;
                        cp.waiting.push(w);
                    }
                    restored = Some(cp);
                }
                Err(e) => return Err(StreamError::Checkpoint(e.to_string())),
            }
        }
        Ok(Stream {
            detector,
            rules,
            info,
            by_name,
            correlator,
            db,
            cfg,
            stats: Arc::new(StreamStats::default()),
            on_alert: None,
            position: 0,
            watermark: i64::MIN,
            idle_from: None,
            waiting: BinaryHeap::new(),
            changes: WaitingChanges::default(),
            save_all,
            occurrences: Vec::new(),
            fired: Vec::new(),
            durable: 0,
            dirty: false,
            last_write: Instant::now(),
            oldest_unwritten: None,
            restored,
            last_idle: Instant::now(),
        })
    }

    /// Keeps the counters in `stats`.
    pub fn with_stats(mut self, stats: Arc<StreamStats>) -> Self {
        self.stats = stats;
        self
    }

    /// Calls `f` with every alert created or grown, once durable (notifications).
    pub fn on_alert(mut self, f: OnAlert) -> Self {
        self.on_alert = Some(f);
        self
    }

    /// The rules.
    pub fn rules(&self) -> &'static RuleSet {
        self.rules
    }

    /// The counters.
    pub fn stats(&self) -> Arc<StreamStats> {
        self.stats.clone()
    }

    fn lateness_ms(&self) -> i64 {
        self.cfg.lateness.as_millis() as i64
    }

    /// Feeds the captures the watermark has passed, then closes the windows it ended.
    fn release(&mut self) {
        let until = self.watermark.saturating_sub(self.lateness_ms());
        while let Some(Reverse(w)) = self.waiting.peek() {
            if w.ts > until {
                break;
            }
            let Some(Reverse(w)) = self.waiting.pop() else {
                break;
            };
            if w.seq <= self.durable && !self.save_all {
                // Written by an earlier checkpoint.
                self.changes.remove.push((w.seq, w.rule.clone()));
            }
            if let Some(&rule) = self.by_name.get(&w.rule) {
                let cap = Capture {
                    rule,
                    values: w.values,
                    tag: w.seq,
                };
                self.correlator.observe(&cap, w.ts, &mut self.fired);
            }
        }
        if !self.correlator.is_empty() {
            self.correlator.advance(until, &mut self.fired);
        }
        let first_corr = self.rules.rules.len();
        for a in self.fired.drain(..) {
            if !a.reported {
                continue;
            }
            let Some(info) = self.info.get(first_corr + a.correlation as usize) else {
                continue;
            };
            self.stats.correlations.fetch_add(1, Ordering::Relaxed);
            let mut entities = Entities::default();
            for (field, value) in &a.group {
                match entity_kind(field) {
                    Some(EntityKind::User) => Entities::add(&mut entities.users, value),
                    Some(EntityKind::Host) => Entities::add(&mut entities.hosts, value),
                    Some(EntityKind::Ip) => Entities::add(&mut entities.ips, value),
                    None => {}
                }
            }
            self.occurrences.push(Occurrence {
                rule_id: info.rule_id.clone(),
                title: info.title.clone(),
                severity: info.severity,
                kind: Kind::Correlation,
                entities,
                ts_ms: a.ts_ms,
                first_ts_ms: a.first_ts_ms,
                seq: a.tag,
                techniques: info.techniques.clone(),
                tags: info.tags.clone(),
                description: info.description.clone(),
                group: a.group,
            });
            self.oldest_unwritten.get_or_insert_with(Instant::now);
            self.dirty = true;
        }
        self.stats.waiting.store(
            (self.waiting.len() + self.occurrences.len()) as u64,
            Ordering::Relaxed,
        );
    }

    /// Writes occurrences and checkpoint when due (or `force`).
    fn write(&mut self, force: bool) -> Result<(), StoreError> {
        if !self.dirty {
            return Ok(());
        }
        let due = self.last_write.elapsed() >= self.cfg.commit_every;
        if !force && !due {
            return Ok(());
        }
        let cp = Checkpoint {
            position: self.position,
            watermark: self.watermark,
            waiting: Vec::new(),
            windows: self.correlator.snapshot(),
        };
        let bytes = rmp_serde::to_vec(&cp).map_err(|e| StoreError::Tap(e.to_string()))?;
        // The captures of events since the last checkpoint that still wait.
        for Reverse(w) in &self.waiting {
            if w.seq > self.durable || self.save_all {
                let b = rmp_serde::to_vec(w).map_err(|e| StoreError::Tap(e.to_string()))?;
                self.changes.add.push((w.seq, w.rule.clone(), b));
            }
        }
        let changed = self
            .db
            .record(
                &self.occurrences,
                &bytes,
                &self.changes,
                self.cfg.dedup_window.as_millis() as i64,
            )
            .map_err(|e| StoreError::Tap(e.to_string()))?;
        self.changes.clear();
        self.save_all = false;
        if let Some(t) = self.oldest_unwritten.take() {
            self.stats
                .last_latency_ms
                .store(t.elapsed().as_millis() as u64, Ordering::Relaxed);
        }
        self.stats
            .occurrences
            .fetch_add(self.occurrences.len() as u64, Ordering::Relaxed);
        self.occurrences.clear();
        self.stats
            .waiting
            .store(self.waiting.len() as u64, Ordering::Relaxed);
        self.durable = self.position;
        self.stats.position.store(self.position, Ordering::Relaxed);
        self.dirty = false;
        self.last_write = Instant::now();
        for (alert, new) in &changed {
            if *new {
                self.stats.alerts.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(f) = &self.on_alert {
                f(alert, *new);
            }
        }
        Ok(())
    }
}

/// The names entities are read from, per family of field names.
const USER_FIELDS: &[&str] = &[
    "user.name",
    "user.target.name",
    "source.user.name",
    "destination.user.name",
    "TargetUserName",
    "SubjectUserName",
    "User",
    "AccountName",
];
const HOST_FIELDS: &[&str] = &["host.name", "host.hostname", "Computer", "WorkstationName"];
const IP_FIELDS: &[&str] = &[
    "source.ip",
    "client.ip",
    "destination.ip",
    "server.ip",
    "IpAddress",
    "SourceIp",
    "DestinationIp",
    "SourceAddress",
    "DestAddress",
];

fn entities_of(rec: &Record) -> Entities {
    let mut e = Entities::default();
    for (fields, list) in [
        (USER_FIELDS, &mut e.users),
        (HOST_FIELDS, &mut e.hosts),
        (IP_FIELDS, &mut e.ips),
    ] {
        for f in fields {
            for v in rec.get_all(f) {
                Entities::add(list, v.value);
            }
        }
    }
    // A machine account logging on is its host, not a user to watch.
    e.users.retain(|u| !u.ends_with('$'));
    e
}

enum EntityKind {
    User,
    Host,
    Ip,
}

/// What a correlation's group-by field names (by its Sigma name).
fn entity_kind(field: &str) -> Option<EntityKind> {
    let f = field.to_ascii_lowercase();
    if f.contains("user") || f.contains("account") {
        Some(EntityKind::User)
    } else if f.ends_with("ip") || f.contains("ipaddress") || f.ends_with("address") {
        Some(EntityKind::Ip)
    } else if f.contains("host") || f.contains("computer") || f.contains("workstation") {
        Some(EntityKind::Host)
    } else {
        None
    }
}

impl Tap for Stream {
    type Lane = StreamLane;

    fn lane(&self) -> StreamLane {
        StreamLane {
            worker: self.detector.worker(),
            hits: Vec::new(),
            max_ts: i64::MIN,
            events: 0,
            errors: 0,
        }
    }

    fn resume_after(&mut self, store_last: u64) -> u64 {
        let fresh = self.restored.is_none();
        let (position, watermark, waiting) = match self.restored.take() {
            Some(cp) => (cp.position, cp.watermark, cp.waiting),
            // No checkpoint: detection starts with the next event (history is for `hunt`).
            None => (store_last, i64::MIN, Vec::new()),
        };
        self.position = position;
        self.durable = position;
        self.watermark = watermark;
        self.waiting = waiting.into_iter().map(Reverse).collect();
        self.stats.position.store(position, Ordering::Relaxed);
        if fresh {
            // The starting point is a checkpoint too: events stored from now on are replayed
            // from it after a crash, even before the first alert is written.
            self.dirty = true;
            if let Err(e) = self.write(true) {
                tracing::error!("alert checkpoint not written: {e}");
            }
        }
        position
    }

    fn inspect(&self, lane: &mut StreamLane, seq: u64, rec: &Record, timestamp_ms: i64) {
        lane.events += 1;
        lane.max_ts = lane.max_ts.max(timestamp_ms);
        let own = match yagura_normalize::flatten_original(
            rec.get("event.module").map(|f| f.value),
            rec.get("event.original").map(|f| f.value),
            &mut lane.worker.record,
        ) {
            Some(Ok((shape, _))) => {
                lane.worker.evaluate_record(Family::of(shape.is_windows()));
                true
            }
            Some(Err(e)) => {
                lane.errors += 1;
                tracing::warn!("event {seq}: event.original not evaluated: {e}");
                false
            }
            None => false,
        };
        if !own {
            lane.worker.evaluate_other(rec, Family::Ecs);
        }
        if lane.worker.hits().is_empty() {
            return;
        }
        let StreamLane { worker, hits, .. } = lane;
        let source = if own { &worker.record } else { rec };
        let mut entities: Option<Entities> = None;
        for &rule in worker.hits() {
            let alone = !worker.suppressed(rule)
                && self
                    .info
                    .get(rule as usize)
                    .is_some_and(|i| i.severity >= self.cfg.min_severity);
            hits.push(Hit {
                seq,
                ts: timestamp_ms,
                rule,
                entities: alone
                    .then(|| entities.get_or_insert_with(|| entities_of(source)).clone()),
                capture: worker.capture_in(rule, source),
            });
        }
    }

    fn commit(&mut self, lanes: &mut [&mut StreamLane], last: u64) -> Result<(), StoreError> {
        let mut hits: Vec<Hit> = Vec::new();
        let now = crate::alert::now_ms();
        let mut max_ts = i64::MIN;
        let mut events = 0;
        for lane in lanes.iter_mut() {
            hits.append(&mut lane.hits);
            max_ts = max_ts.max(lane.max_ts);
            lane.max_ts = i64::MIN;
            events += std::mem::take(&mut lane.events);
            let errors = std::mem::take(&mut lane.errors);
            self.stats.errors.fetch_add(errors, Ordering::Relaxed);
        }
        self.stats.events.fetch_add(events, Ordering::Relaxed);
        self.stats
            .matches
            .fetch_add(hits.len() as u64, Ordering::Relaxed);
        hits.sort_by_key(|h| h.seq);
        let lateness = self.lateness_ms();
        let floor = self.watermark.saturating_sub(lateness);
        // The watermark never passes this: a capture stamped beyond it would wait until the
        // wall clock reaches its time (days, for a clock set ahead), so it is taken at its
        // arrival.
        let cap = now.saturating_add(lateness);
        for h in hits {
            let info = self.info.get(h.rule as usize);
            if let (Some(entities), Some(info)) = (h.entities, info) {
                self.occurrences.push(Occurrence {
                    rule_id: info.rule_id.clone(),
                    title: info.title.clone(),
                    severity: info.severity,
                    kind: Kind::Detection,
                    entities,
                    ts_ms: h.ts,
                    first_ts_ms: h.ts,
                    seq: h.seq,
                    techniques: info.techniques.clone(),
                    tags: info.tags.clone(),
                    description: info.description.clone(),
                    group: Vec::new(),
                });
                self.oldest_unwritten.get_or_insert_with(Instant::now);
            }
            if let (Some(capture), Some(info)) = (h.capture, info) {
                if h.ts < floor {
                    self.stats.late.fetch_add(1, Ordering::Relaxed);
                }
                let ts = if h.ts > cap {
                    self.stats.future.fetch_add(1, Ordering::Relaxed);
                    now
                } else {
                    h.ts
                };
                self.waiting.push(Reverse(Waiting {
                    ts,
                    seq: h.seq,
                    rule: info.key.clone(),
                    values: capture.values,
                }));
            }
        }
        if max_ts > i64::MIN {
            // An event stamped in the future does not close everyone's windows.
            self.watermark = self.watermark.max(max_ts.min(cap));
            self.idle_from = Some((self.watermark, Instant::now()));
        }
        self.position = last;
        self.dirty = true;
        self.release();
        self.write(false)
    }

    fn idle(&mut self) -> Result<(), StoreError> {
        // No events: event time moves on with the wall clock, so the last captures of a burst
        // are correlated (and bounded windows closed) once the lateness has passed.
        if self.last_idle.elapsed() < IDLE_EVERY {
            return Ok(());
        }
        self.last_idle = Instant::now();
        if let Some((mark, since)) = self.idle_from {
            if !self.waiting.is_empty() || !self.correlator.is_empty() {
                let moved = mark.saturating_add(since.elapsed().as_millis() as i64);
                if moved > self.watermark {
                    self.watermark = moved;
                    let before = (self.occurrences.len(), self.waiting.len());
                    self.release();
                    if (self.occurrences.len(), self.waiting.len()) != before {
                        self.dirty = true;
                    }
                }
            }
        }
        self.write(false)
    }

    fn durable(&self) -> u64 {
        self.durable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use yagura_sigma::{LoadOptions, RuleSet};

    /// Two rules without ids and with one title are told apart in the checkpoint (by file);
    /// a rule with an id of its own is named by it.
    #[test]
    fn checkpoint_keys_are_unique_per_rule() {
        let mut set = RuleSet::new();
        let rule = |id: &str| {
            format!(
                "title: Failed login\n{id}logsource: {{product: linux, service: auth}}\n\
                 detection:\n    sel: {{event.outcome: failure}}\n    condition: sel\n"
            )
        };
        let opts = LoadOptions::default();
        set.add_yaml(Path::new("a/failed.yml"), &rule(""), &opts);
        set.add_yaml(Path::new("b/failed.yml"), &rule(""), &opts);
        set.add_yaml(
            Path::new("c/failed.yml"),
            &rule("id: 0e95725d-7320-415d-80f7-004da920fc11\n"),
            &opts,
        );
        set.finish();
        assert_eq!(set.rules.len(), 3);
        let mut info: Vec<RuleInfo> = set
            .rules
            .iter()
            .map(|r| RuleInfo::of(&r.rule.meta))
            .collect();
        assign_keys(&mut info, &set.rules);
        let mut keys: Vec<&str> = info.iter().map(|r| r.key.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "0e95725d-7320-415d-80f7-004da920fc11",
                "Failed login@a/failed.yml",
                "Failed login@b/failed.yml",
            ]
        );
    }

    /// The built-in pack over a fresh alert database in `dir`.
    fn builtin_stream(db: &Arc<AlertDb>, lateness: Duration) -> Stream {
        let set =
            yagura_sigma::load::load_rules(true, &[], &LoadOptions::default(), None, |_, _| {});
        let cfg = StreamConfig {
            lateness,
            commit_every: Duration::ZERO,
            ..StreamConfig::default()
        };
        Stream::new(set, Vec::new(), db.clone(), cfg).unwrap()
    }

    /// Shows `stream` the sshd line "Failed password … from `ip`" stamped `ts_ms`, as log
    /// record `seq`, through the normalizer serve uses.
    fn failed_ssh(stream: &Stream, lane: &mut StreamLane, seq: u64, ip: &str, ts_ms: i64) {
        let stamp = yagura_normalize::Rfc3339(ts_ms);
        let line = format!(
            "<38>1 {stamp} web1 sshd 4242 - - Failed password for root from {ip} port 52683 ssh2"
        );
        let arrival = yagura_normalize::arrival::Arrival {
            listener: "syslog-tcp",
            source_type: "auto",
            peer: "127.0.0.1:5000",
            host: "",
            stream: "",
            offset: 0,
            received_ms: crate::alert::now_ms(),
            json: false,
        };
        let mut rec = Record::default();
        let mut n = yagura_normalize::arrival::Normalizer::default();
        match n.normalize(&arrival, &line, &mut rec) {
            yagura_normalize::parse::Outcome::Event { timestamp_ms, .. } => {
                assert_eq!(timestamp_ms, ts_ms, "{line}");
                stream.inspect(lane, seq, &rec, timestamp_ms);
            }
            other => panic!("{line}: {other:?}"),
        }
    }

    fn waiting_seqs(db: &AlertDb) -> Vec<u64> {
        db.waiting()
            .unwrap()
            .iter()
            .map(|b| rmp_serde::from_slice::<Waiting>(b).unwrap().seq)
            .collect::<std::collections::BTreeSet<u64>>()
            .into_iter()
            .collect()
    }

    /// Events stamped days ahead of the wall clock (a clock set ahead; a year-less date read
    /// as this year's) correlate on arrival instead of waiting, in memory and in every
    /// checkpoint, until the wall clock reaches them.
    #[test]
    fn future_stamped_events_correlate_on_arrival() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(AlertDb::open(&dir.path().join("alerts.redb")).unwrap());
        let mut stream = builtin_stream(&db, Duration::from_secs(60));
        stream.resume_after(0);
        let mut lane = stream.lane();
        let ahead = crate::alert::now_ms() + 6 * 86_400_000;
        for i in 0..8u64 {
            failed_ssh(
                &stream,
                &mut lane,
                i + 1,
                "203.0.113.7",
                ahead + i as i64 * 1000,
            );
        }
        stream.commit(&mut [&mut lane], 8).unwrap();
        // Every event is a capture of each rule the SSH correlations count.
        let future = stream.stats.future.load(Ordering::Relaxed);
        assert!(future >= 8 && future.is_multiple_of(8), "{future}");
        assert!(stream.waiting.is_empty());
        assert!(db.waiting().unwrap().is_empty());
        let alerts = db.list(&crate::db::Filter::default()).unwrap();
        let burst: Vec<_> = alerts
            .iter()
            .filter(|a| a.rule_id == "0f5f3f0e-8d0b-4d51-a0a4-6c1d2a7c3b90")
            .collect();
        assert_eq!(burst.len(), 1, "{alerts:?}");
        assert!(burst[0].entities.ips.iter().any(|ip| ip == "203.0.113.7"));
    }

    /// Each checkpoint writes the captures that arrived since the last one and removes those
    /// released since; a restart reads them back.
    #[test]
    fn waiting_captures_are_checkpointed_by_their_changes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(AlertDb::open(&dir.path().join("alerts.redb")).unwrap());
        let now = crate::alert::now_ms();
        {
            let mut stream = builtin_stream(&db, Duration::from_secs(1));
            stream.resume_after(0);
            let mut lane = stream.lane();
            for seq in 1..=3 {
                failed_ssh(&stream, &mut lane, seq, "198.51.100.9", now - 500);
            }
            stream.commit(&mut [&mut lane], 3).unwrap();
        }
        assert_eq!(waiting_seqs(&db), [1, 2, 3]);
        let per_event = db.waiting().unwrap().len() / 3;
        assert!(per_event >= 1);
        // Restart: the three wait again; four later ones move the watermark past them.
        let mut stream = builtin_stream(&db, Duration::from_secs(1));
        assert_eq!(stream.resume_after(0), 3);
        assert_eq!(stream.waiting.len(), 3 * per_event);
        let mut lane = stream.lane();
        for seq in 4..=7 {
            failed_ssh(&stream, &mut lane, seq, "198.51.100.9", now + 700);
        }
        stream.commit(&mut [&mut lane], 7).unwrap();
        assert_eq!(stream.waiting.len(), 4 * per_event);
        assert_eq!(waiting_seqs(&db), [4, 5, 6, 7]);
        assert_eq!(db.waiting().unwrap().len(), 4 * per_event);
        assert_eq!(stream.stats.future.load(Ordering::Relaxed), 0);
    }
}
