//! The alert database: alerts, the open alert of each rule and entity set, and the streaming
//! detector's checkpoint, in one redb file (`DATA_DIR/alerts.redb`).
//!
//! New occurrences and the checkpoint they lead to are written in one transaction
//! ([`AlertDb::record`]): after a crash either both are there or neither is, so a replay from
//! the checkpoint raises each alert once. redb holds a lock on the file while it is open: a
//! second process (the CLI while `serve` runs) gets [`DbError::Busy`] and goes through the
//! server's API instead.

use crate::alert::{now_ms, Alert, Entities, Kind, Note, Severity, Status, MAX_EVENTS};
use crate::exception::{Exception, ExceptionError, Subject};
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");
const OPEN: TableDefinition<&str, u64> = TableDefinition::new("open");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const EXCEPTIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("exceptions");
/// The streaming detector's captures waiting for the watermark, by (event sequence number,
/// rule key): written as they come and removed as they are released, with the checkpoint, so
/// that a checkpoint costs what changed, not everything that waits.
const WAITING: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("waiting");

/// How the captures waiting for the watermark changed since the last checkpoint.
#[derive(Debug, Default)]
pub struct WaitingChanges {
    /// New captures: (sequence number, rule key, bytes).
    pub add: Vec<(u64, String, Vec<u8>)>,
    /// Captures released, that an earlier checkpoint wrote: (sequence number, rule key).
    pub remove: Vec<(u64, String)>,
}

impl WaitingChanges {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// Forgets the changes (after they were written).
    pub fn clear(&mut self) {
        self.add.clear();
        self.remove.clear();
    }
}

/// Errors of the alert database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Another process has the file open (`yagura serve`).
    #[error("{0}: the alert database is in use by another process (is `yagura serve` running?)")]
    Busy(PathBuf),
    /// redb failed.
    #[error("{path}: {source}")]
    Redb {
        /// The file.
        path: PathBuf,
        /// What failed (boxed: redb's error is large).
        source: Box<redb::Error>,
    },
    /// A stored alert could not be decoded.
    #[error("{path}: alert {id}: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The alert.
        id: u64,
        /// Why.
        reason: String,
    },
    /// No such alert.
    #[error("no alert {0}")]
    NotFound(u64),
    /// No such exception.
    #[error("no exception {0}")]
    NoException(u64),
    /// An exception that cannot be saved.
    #[error(transparent)]
    Exception(#[from] ExceptionError),
    /// An inventory row that cannot be saved.
    #[error(transparent)]
    Asset(#[from] crate::asset::AssetError),
}

/// One match (or correlation firing) on its way to an alert.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Occurrence {
    /// The rule's id (else title).
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// Severity after asset context.
    pub severity: Severity,
    /// Detection or correlation.
    pub kind: Kind,
    /// Who and what.
    pub entities: Entities,
    /// Event time (ms).
    pub ts_ms: i64,
    /// For a correlation: the time of the first event of its window.
    pub first_ts_ms: i64,
    /// The store id of the matching (or deciding) event.
    pub seq: u64,
    /// ATT&CK techniques.
    pub techniques: Vec<String>,
    /// Other tags.
    pub tags: Vec<String>,
    /// The rule's description.
    pub description: String,
    /// Correlation group-by values.
    pub group: Vec<(String, String)>,
}

/// The key of the open alert of a rule on a set of entities (and a correlation's group), as
/// the `open` table holds it.
fn dedup_key(kind: Kind, rule_id: &str, entities: &Entities, group: &[(String, String)]) -> String {
    let kind = match kind {
        Kind::Detection => "d",
        Kind::Correlation => "c",
    };
    let mut k = format!("{kind}|{rule_id}|{}", entities.key());
    for (f, v) in group {
        k.push('|');
        k.push_str(f);
        k.push('=');
        k.push_str(v);
    }
    k
}

impl Occurrence {
    fn subject(&self) -> Subject<'_> {
        Subject {
            rule_id: &self.rule_id,
            title: &self.title,
            severity: self.severity,
            kind: self.kind.as_str(),
            entities: &self.entities,
            group: &self.group,
            tags: &self.tags,
            techniques: &self.techniques,
        }
    }

    /// The deduplication key: one open alert per rule and entity set (and correlation group).
    pub fn key(&self) -> String {
        dedup_key(self.kind, &self.rule_id, &self.entities, &self.group)
    }
}

/// Which alerts to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only these statuses (empty: all).
    pub statuses: Vec<Status>,
    /// Only rules whose id or title contains this (case-insensitive).
    pub rule: Option<String>,
    /// Only this severity or above.
    pub min_severity: Option<Severity>,
    /// Only alerts last seen at or after this event time (ms).
    pub since_ms: Option<i64>,
    /// At most this many, newest first (0: all).
    pub limit: usize,
}

impl Filter {
    fn accepts(&self, a: &Alert) -> bool {
        if !self.statuses.is_empty() && !self.statuses.contains(&a.status) {
            return false;
        }
        if let Some(r) = &self.rule {
            let r = r.to_lowercase();
            if !a.rule_id.to_lowercase().contains(&r) && !a.title.to_lowercase().contains(&r) {
                return false;
            }
        }
        if self.min_severity.is_some_and(|m| a.severity < m) {
            return false;
        }
        if self.since_ms.is_some_and(|s| a.last_seen_ms < s) {
            return false;
        }
        true
    }
}

/// A change an analyst makes to an alert.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// New status.
    #[serde(default)]
    pub status: Option<Status>,
    /// A note to add.
    #[serde(default)]
    pub note: Option<String>,
    /// New assignee (empty string: none).
    #[serde(default)]
    pub assignee: Option<String>,
}

/// Volume and verdicts of one rule's alerts: how noisy it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleStats {
    /// The rule's id (else title).
    pub rule_id: String,
    /// Its title.
    pub title: String,
    /// Alerts raised.
    pub alerts: u64,
    /// Occurrences counted in them.
    pub occurrences: u64,
    /// Still open.
    pub open: u64,
    /// Closed as true positive.
    pub true_positive: u64,
    /// Closed as false positive.
    pub false_positive: u64,
    /// Closed as benign.
    pub benign: u64,
    /// False positives among closed alerts (0 to 1; none closed: 0).
    pub false_positive_rate: f64,
}

/// The alert database.
pub struct AlertDb {
    db: Database,
    path: PathBuf,
    /// The exceptions, read at every batch of occurrences (changed through this type only).
    exceptions: std::sync::RwLock<Vec<Exception>>,
    /// The asset inventory, likewise.
    assets: std::sync::RwLock<Vec<crate::asset::Asset>>,
}

/// What [`AlertDb::preview`] finds.
#[derive(Clone, Debug, Serialize)]
pub struct Preview {
    /// Alerts (raised or grown since `since_ms`) the exception would have hidden.
    pub would_hide: usize,
    /// Their occurrences.
    pub occurrences: u64,
    /// The first 100 of them, newest first.
    pub alerts: Vec<Alert>,
    /// The start of the period looked at (ms).
    pub since_ms: i64,
}

impl AlertDb {
    /// Opens (or creates) `path`.
    pub fn open(path: &Path) -> Result<AlertDb, DbError> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let db = match Database::create(path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(DbError::Busy(path.to_owned()))
            }
            Err(e) => {
                return Err(DbError::Redb {
                    path: path.to_owned(),
                    source: Box::new(e.into()),
                })
            }
        };
        let me = AlertDb {
            db,
            path: path.to_owned(),
            exceptions: std::sync::RwLock::new(Vec::new()),
            assets: std::sync::RwLock::new(Vec::new()),
        };
        // Create the tables, so that readers never meet a missing one.
        let txn = me.db.begin_write().map_err(|e| me.err(e))?;
        {
            txn.open_table(ALERTS).map_err(|e| me.err(e))?;
            txn.open_table(OPEN).map_err(|e| me.err(e))?;
            txn.open_table(META).map_err(|e| me.err(e))?;
            txn.open_table(EXCEPTIONS).map_err(|e| me.err(e))?;
            txn.open_table(WAITING).map_err(|e| me.err(e))?;
        }
        txn.commit().map_err(|e| me.err(e))?;
        let all = me.read_exceptions()?;
        if let Ok(mut g) = me.exceptions.write() {
            *g = all;
        }
        let assets = {
            let r = me.db.begin_read().map_err(|e| me.err(e))?;
            let t = r.open_table(META).map_err(|e| me.err(e))?;
            let v = t.get("assets").map_err(|e| me.err(e))?;
            match v {
                Some(b) => serde_json::from_slice(b.value()).unwrap_or_else(|e| {
                    tracing::error!("{}: asset inventory unreadable: {e}", path.display());
                    Vec::new()
                }),
                None => Vec::new(),
            }
        };
        if let Ok(mut g) = me.assets.write() {
            *g = assets;
        }
        Ok(me)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl Into<redb::Error>) -> DbError {
        DbError::Redb {
            path: self.path.clone(),
            source: Box::new(e.into()),
        }
    }

    fn decode(&self, id: u64, bytes: &[u8]) -> Result<Alert, DbError> {
        serde_json::from_slice(bytes).map_err(|e| DbError::Corrupt {
            path: self.path.clone(),
            id,
            reason: e.to_string(),
        })
    }

    /// The streaming detector's checkpoint, if one was written.
    pub fn checkpoint(&self) -> Result<Option<Vec<u8>>, DbError> {
        let r = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = r.open_table(META).map_err(|e| self.err(e))?;
        Ok(t.get("checkpoint")
            .map_err(|e| self.err(e))?
            .map(|v| v.value().to_vec()))
    }

    /// The captures waiting for the watermark that the last checkpoint holds (their bytes, in
    /// sequence order).
    pub fn waiting(&self) -> Result<Vec<Vec<u8>>, DbError> {
        let r = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = r.open_table(WAITING).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in t.iter().map_err(|e| self.err(e))? {
            let (_, v) = item.map_err(|e| self.err(e))?;
            out.push(v.value().to_vec());
        }
        Ok(out)
    }

    /// Folds `occurrences` into alerts (one open alert per key; a new one when the open one
    /// was last seen more than `dedup_window_ms` before) and stores `checkpoint`, in one
    /// transaction, with the `waiting` captures' changes. Returns the alerts created or grown,
    /// and which of them are new.
    pub fn record(
        &self,
        occurrences: &[Occurrence],
        checkpoint: &[u8],
        waiting: &WaitingChanges,
        dedup_window_ms: i64,
    ) -> Result<Vec<(Alert, bool)>, DbError> {
        let now = now_ms();
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let mut changed: Vec<(Alert, bool)> = Vec::new();
        {
            let mut alerts = txn.open_table(ALERTS).map_err(|e| self.err(e))?;
            let mut open = txn.open_table(OPEN).map_err(|e| self.err(e))?;
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            let mut next_id = match meta.get("next_id").map_err(|e| self.err(e))? {
                Some(v) => {
                    let b = v.value();
                    u64::from_le_bytes(b.try_into().unwrap_or([0; 8])).max(1)
                }
                None => 1,
            };
            // Alerts touched in this batch, by key, so each is decoded and written once.
            let mut by_key: FxHashMap<String, usize> = FxHashMap::default();
            let mut exceptions = self.exceptions.write().map_err(|_| DbError::Corrupt {
                path: self.path.clone(),
                id: 0,
                reason: "exception list poisoned".into(),
            })?;
            let mut hid: Vec<usize> = Vec::new();
            let inventory = self.assets.read().map_err(|_| DbError::Corrupt {
                path: self.path.clone(),
                id: 0,
                reason: "asset inventory poisoned".into(),
            })?;
            for o in occurrences {
                let assets = crate::asset::matching(&inventory, &o.entities, &o.group);
                let severity = match assets.iter().map(|a| a.criticality).max() {
                    Some(c) => c.adjust(o.severity),
                    None => o.severity,
                };
                let subject = o.subject();
                let hidden = exceptions
                    .iter()
                    .position(|x| x.active(now) && x.matches(&subject));
                if let Some(i) = hidden {
                    exceptions[i].hidden += 1;
                    exceptions[i].last_hidden_ms = Some(now);
                    if !hid.contains(&i) {
                        hid.push(i);
                    }
                    continue;
                }
                let key = o.key();
                let mut slot = by_key.get(&key).copied();
                if slot.is_none() {
                    let id = open.get(key.as_str()).map_err(|e| self.err(e))?;
                    if let Some(id) = id.map(|v| v.value()) {
                        let bytes = alerts.get(id).map_err(|e| self.err(e))?;
                        if let Some(b) = bytes {
                            let a = self.decode(id, b.value())?;
                            if !a.status.is_closed() {
                                changed.push((a, false));
                                slot = Some(changed.len() - 1);
                            }
                        }
                    }
                }
                if let Some(i) = slot {
                    let a = &mut changed[i].0;
                    let near = o.ts_ms >= a.first_seen_ms - dedup_window_ms
                        && o.ts_ms <= a.last_seen_ms + dedup_window_ms;
                    if near {
                        a.count += 1;
                        a.first_seen_ms = a.first_seen_ms.min(o.first_ts_ms.min(o.ts_ms));
                        a.last_seen_ms = a.last_seen_ms.max(o.ts_ms);
                        a.updated_ms = now;
                        a.severity = a.severity.max(severity);
                        if a.events.len() < MAX_EVENTS && !a.events.contains(&o.seq) {
                            a.events.push(o.seq);
                        }
                        by_key.insert(key, i);
                        continue;
                    }
                }
                let a = Alert {
                    id: next_id,
                    rule_id: o.rule_id.clone(),
                    title: o.title.clone(),
                    severity,
                    kind: o.kind,
                    status: Status::New,
                    entities: o.entities.clone(),
                    count: 1,
                    first_seen_ms: o.first_ts_ms.min(o.ts_ms),
                    last_seen_ms: o.ts_ms,
                    created_ms: now,
                    updated_ms: now,
                    events: vec![o.seq],
                    techniques: o.techniques.clone(),
                    tags: o.tags.clone(),
                    description: o.description.clone(),
                    group: o.group.clone(),
                    assignee: None,
                    notes: Vec::new(),
                    rule_severity: (severity != o.severity).then_some(o.severity),
                    assets: assets.into_iter().cloned().collect(),
                };
                next_id += 1;
                changed.push((a, true));
                by_key.insert(key, changed.len() - 1);
            }
            // Every alert touched (an older one of a key may have grown before a newer one
            // took its place), and each key's newest as its open alert.
            for (a, _) in &changed {
                let bytes = serde_json::to_vec(a).unwrap_or_default();
                alerts
                    .insert(a.id, bytes.as_slice())
                    .map_err(|e| self.err(e))?;
            }
            for (key, &i) in &by_key {
                open.insert(key.as_str(), changed[i].0.id)
                    .map_err(|e| self.err(e))?;
            }
            if !hid.is_empty() {
                let mut xt = txn.open_table(EXCEPTIONS).map_err(|e| self.err(e))?;
                for &i in &hid {
                    let x = &exceptions[i];
                    let bytes = serde_json::to_vec(x).unwrap_or_default();
                    xt.insert(x.id, bytes.as_slice()).map_err(|e| self.err(e))?;
                }
            }
            meta.insert("next_id", next_id.to_le_bytes().as_slice())
                .map_err(|e| self.err(e))?;
            meta.insert("checkpoint", checkpoint)
                .map_err(|e| self.err(e))?;
            if !waiting.is_empty() {
                let mut wt = txn.open_table(WAITING).map_err(|e| self.err(e))?;
                for (seq, rule, bytes) in &waiting.add {
                    wt.insert((*seq, rule.as_str()), bytes.as_slice())
                        .map_err(|e| self.err(e))?;
                }
                for (seq, rule) in &waiting.remove {
                    wt.remove((*seq, rule.as_str())).map_err(|e| self.err(e))?;
                }
            }
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(changed)
    }

    /// One alert.
    pub fn get(&self, id: u64) -> Result<Alert, DbError> {
        let r = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = r.open_table(ALERTS).map_err(|e| self.err(e))?;
        let v = t.get(id).map_err(|e| self.err(e))?;
        match v {
            Some(b) => self.decode(id, b.value()),
            None => Err(DbError::NotFound(id)),
        }
    }

    /// Alerts that `filter` accepts, newest first.
    pub fn list(&self, filter: &Filter) -> Result<Vec<Alert>, DbError> {
        let mut out = Vec::new();
        self.for_each(|a| {
            if filter.accepts(&a) {
                out.push(a);
            }
            filter.limit == 0 || out.len() < filter.limit
        })?;
        Ok(out)
    }

    /// Every alert, newest first, until `f` returns false.
    pub fn for_each(&self, mut f: impl FnMut(Alert) -> bool) -> Result<(), DbError> {
        let r = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = r.open_table(ALERTS).map_err(|e| self.err(e))?;
        for item in t.iter().map_err(|e| self.err(e))?.rev() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            match self.decode(k.value(), v.value()) {
                Ok(a) => {
                    if !f(a) {
                        break;
                    }
                }
                // One damaged alert does not hide the others.
                Err(e) => tracing::error!("{e}; skipped"),
            }
        }
        Ok(())
    }

    /// Number of alerts.
    pub fn len(&self) -> Result<u64, DbError> {
        let r = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = r.open_table(ALERTS).map_err(|e| self.err(e))?;
        t.len().map_err(|e| self.err(e))
    }

    /// True when there is no alert.
    pub fn is_empty(&self) -> Result<bool, DbError> {
        Ok(self.len()? == 0)
    }

    /// Applies an analyst's change; `by` names them in the note. A closed alert stops taking
    /// occurrences: the next one opens a new alert.
    pub fn update(&self, id: u64, change: &Update, by: &str) -> Result<Alert, DbError> {
        let now = now_ms();
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let alert = {
            let mut alerts = txn.open_table(ALERTS).map_err(|e| self.err(e))?;
            let mut open = txn.open_table(OPEN).map_err(|e| self.err(e))?;
            let current = match alerts.get(id).map_err(|e| self.err(e))? {
                Some(b) => Some(self.decode(id, b.value())?),
                None => None,
            };
            let Some(mut a) = current else {
                return Err(DbError::NotFound(id));
            };
            if let Some(s) = change.status {
                a.status = s;
            }
            if let Some(who) = &change.assignee {
                a.assignee = (!who.trim().is_empty()).then(|| who.trim().to_owned());
            }
            let text = change.note.as_deref().unwrap_or("").trim();
            if !text.is_empty() || change.status.is_some() {
                a.notes.push(Note {
                    at_ms: now,
                    by: by.to_owned(),
                    text: text.to_owned(),
                    status: change.status,
                });
            }
            a.updated_ms = now;
            let bytes = serde_json::to_vec(&a).unwrap_or_default();
            alerts
                .insert(id, bytes.as_slice())
                .map_err(|e| self.err(e))?;
            if a.status.is_closed() {
                let key = dedup_key(a.kind, &a.rule_id, &a.entities, &a.group);
                let points_here = open
                    .get(key.as_str())
                    .map_err(|e| self.err(e))?
                    .is_some_and(|v| v.value() == id);
                if points_here {
                    open.remove(key.as_str()).map_err(|e| self.err(e))?;
                }
            }
            a
        };
        txn.commit().map_err(|e| self.err(e))?;
        Ok(alert)
    }

    fn read_exceptions(&self) -> Result<Vec<Exception>, DbError> {
        let r = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = r.open_table(EXCEPTIONS).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in t.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            match serde_json::from_slice::<Exception>(v.value()) {
                Ok(x) => out.push(x),
                Err(e) => tracing::error!(
                    "{}: exception {}: {e}; skipped",
                    self.path.display(),
                    k.value()
                ),
            }
        }
        Ok(out)
    }

    /// The exceptions, oldest first.
    pub fn exceptions(&self) -> Vec<Exception> {
        self.exceptions
            .read()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    /// The alerts active since `since_ms` (wall clock: raised or grown since) that `x` would
    /// have hidden.
    pub fn preview(&self, x: &Exception, since_ms: i64) -> Result<Preview, DbError> {
        x.validate()?;
        let mut p = Preview {
            would_hide: 0,
            occurrences: 0,
            alerts: Vec::new(),
            since_ms,
        };
        self.for_each(|a| {
            if a.updated_ms >= since_ms && x.matches(&Subject::of_alert(&a)) {
                p.would_hide += 1;
                p.occurrences += a.count;
                if p.alerts.len() < 100 {
                    p.alerts.push(a);
                }
            }
            true
        })?;
        Ok(p)
    }

    /// Saves a new exception (it applies from the next batch of occurrences on).
    pub fn add_exception(&self, mut x: Exception, by: &str) -> Result<Exception, DbError> {
        x.validate()?;
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut t = txn.open_table(EXCEPTIONS).map_err(|e| self.err(e))?;
            let last = t
                .last()
                .map_err(|e| self.err(e))?
                .map_or(0, |(k, _)| k.value());
            x.id = last + 1;
            x.created_ms = now_ms();
            x.created_by = by.to_owned();
            x.hidden = 0;
            x.last_hidden_ms = None;
            let bytes = serde_json::to_vec(&x).unwrap_or_default();
            t.insert(x.id, bytes.as_slice()).map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        if let Ok(mut g) = self.exceptions.write() {
            g.push(x.clone());
        }
        Ok(x)
    }

    /// Removes an exception.
    pub fn remove_exception(&self, id: u64) -> Result<Exception, DbError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        let removed = {
            let mut t = txn.open_table(EXCEPTIONS).map_err(|e| self.err(e))?;
            let old = t.remove(id).map_err(|e| self.err(e))?;
            match old {
                Some(v) => serde_json::from_slice::<Exception>(v.value()).ok(),
                None => None,
            }
        };
        let Some(x) = removed else {
            return Err(DbError::NoException(id));
        };
        txn.commit().map_err(|e| self.err(e))?;
        if let Ok(mut g) = self.exceptions.write() {
            g.retain(|e| e.id != id);
        }
        Ok(x)
    }

    /// The asset inventory.
    pub fn assets(&self) -> Vec<crate::asset::Asset> {
        self.assets.read().map(|g| g.clone()).unwrap_or_default()
    }

    /// Replaces the asset inventory (it applies from the next batch of occurrences on).
    pub fn set_assets(&self, assets: Vec<crate::asset::Asset>) -> Result<usize, DbError> {
        for (i, a) in assets.iter().enumerate() {
            a.validate(i + 1)?;
        }
        let bytes = serde_json::to_vec(&assets).unwrap_or_default();
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| self.err(e))?;
            meta.insert("assets", bytes.as_slice())
                .map_err(|e| self.err(e))?;
        }
        txn.commit().map_err(|e| self.err(e))?;
        let n = assets.len();
        if let Ok(mut g) = self.assets.write() {
            *g = assets;
        }
        Ok(n)
    }

    /// Volume and false-positive rate per rule, noisiest first.
    pub fn rule_stats(&self) -> Result<Vec<RuleStats>, DbError> {
        let mut by_rule: FxHashMap<String, RuleStats> = FxHashMap::default();
        self.for_each(|a| {
            let s = by_rule
                .entry(a.rule_id.clone())
                .or_insert_with(|| RuleStats {
                    rule_id: a.rule_id.clone(),
                    title: a.title.clone(),
                    ..RuleStats::default()
                });
            s.alerts += 1;
            s.occurrences += a.count;
            match a.status {
                Status::ClosedTruePositive => s.true_positive += 1,
                Status::ClosedFalsePositive => s.false_positive += 1,
                Status::ClosedBenign => s.benign += 1,
                _ => s.open += 1,
            }
            true
        })?;
        let mut v: Vec<RuleStats> = by_rule.into_values().collect();
        for s in &mut v {
            let closed = s.true_positive + s.false_positive + s.benign;
            if closed > 0 {
                s.false_positive_rate = s.false_positive as f64 / closed as f64;
            }
        }
        v.sort_by(|a, b| {
            b.occurrences
                .cmp(&a.occurrences)
                .then(a.rule_id.cmp(&b.rule_id))
        });
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occ(rule: &str, ip: &str, ts: i64, seq: u64) -> Occurrence {
        let mut entities = Entities::default();
        Entities::add(&mut entities.ips, ip);
        Occurrence {
            rule_id: rule.into(),
            title: format!("title of {rule}"),
            severity: Severity::High,
            kind: Kind::Detection,
            entities,
            ts_ms: ts,
            first_ts_ms: ts,
            seq,
            techniques: vec!["T1110".into()],
            tags: Vec::new(),
            description: String::new(),
            group: Vec::new(),
        }
    }

    #[test]
    fn occurrences_fold_per_rule_and_entity_and_closing_opens_a_new_alert() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.redb");
        let db = AlertDb::open(&path).unwrap();
        let hour = 3_600_000;
        let got = db
            .record(
                &[
                    occ("r1", "10.0.0.1", 1000, 1),
                    occ("r1", "10.0.0.1", 2000, 2),
                    occ("r1", "10.0.0.2", 2000, 3),
                ],
                b"cp1",
                &WaitingChanges::default(),
                hour,
            )
            .unwrap();
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(_, new)| *new));
        // Later: grows the open alert; far later: a new one.
        db.record(
            &[occ("r1", "10.0.0.1", 5000, 4)],
            b"cp2",
            &WaitingChanges::default(),
            hour,
        )
        .unwrap();
        db.record(
            &[occ("r1", "10.0.0.1", 5000 + 2 * hour, 5)],
            b"cp3",
            &WaitingChanges::default(),
            hour,
        )
        .unwrap();
        let all = db.list(&Filter::default()).unwrap();
        assert_eq!(all.len(), 3);
        let first = db.get(1).unwrap();
        assert_eq!((first.count, first.events.clone()), (3, vec![1, 2, 4]));
        assert_eq!((first.first_seen_ms, first.last_seen_ms), (1000, 5000));
        assert_eq!(db.checkpoint().unwrap().unwrap(), b"cp3");
        // Close alert 3 as a false positive: the next occurrence opens alert 4.
        let closed = db
            .update(
                3,
                &Update {
                    status: Some(Status::ClosedFalsePositive),
                    note: Some("scanner".into()),
                    assignee: Some("aiko".into()),
                },
                "aiko",
            )
            .unwrap();
        assert_eq!(closed.notes.len(), 1);
        let got = db
            .record(
                &[occ("r1", "10.0.0.1", 6000 + 2 * hour, 6)],
                b"cp4",
                &WaitingChanges::default(),
                hour,
            )
            .unwrap();
        assert_eq!((got[0].0.id, got[0].1), (4, true));
        let stats = db.rule_stats().unwrap();
        assert_eq!(stats[0].alerts, 4);
        assert_eq!(stats[0].false_positive, 1);
        assert!((stats[0].false_positive_rate - 1.0).abs() < 1e-9);
        // Filters.
        let open = db
            .list(&Filter {
                statuses: vec![Status::New],
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(open.len(), 3);
        assert!(matches!(db.get(99), Err(DbError::NotFound(99))));
        // Durable: reopened, everything is there; a second open while held is Busy.
        assert!(matches!(AlertDb::open(&path), Err(DbError::Busy(_))));
        drop(db);
        let db = AlertDb::open(&path).unwrap();
        assert_eq!(db.len().unwrap(), 4);
        assert_eq!(db.get(3).unwrap().status, Status::ClosedFalsePositive);
    }

    #[test]
    fn a_batch_that_grows_an_alert_then_opens_a_newer_one_keeps_both() {
        let dir = tempfile::tempdir().unwrap();
        let db = AlertDb::open(&dir.path().join("alerts.redb")).unwrap();
        let hour = 3_600_000;
        // In one batch: an alert that grows, then a newer one of the same key.
        let got = db
            .record(
                &[
                    occ("r2", "10.0.0.9", 0, 10),
                    occ("r2", "10.0.0.9", 10, 11),
                    occ("r2", "10.0.0.9", 3 * hour, 12),
                ],
                b"cp",
                &WaitingChanges::default(),
                hour,
            )
            .unwrap();
        assert_eq!(got.len(), 2);
        let ids: Vec<u64> = got.iter().map(|(a, _)| a.id).collect();
        assert_eq!(db.get(ids[0]).unwrap().count, 2);
        assert_eq!(db.get(ids[1]).unwrap().count, 1);
    }

    #[test]
    fn exceptions_preview_exactly_what_they_then_hide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.redb");
        let db = AlertDb::open(&path).unwrap();
        let hour = 3_600_000;
        db.record(
            &[
                occ("r1", "10.0.0.1", 1000, 1),
                occ("r1", "10.0.0.1", 2000, 2),
                occ("r1", "10.0.0.2", 3000, 3),
                occ("r2", "10.0.0.1", 3000, 4),
            ],
            b"cp",
            &WaitingChanges::default(),
            hour,
        )
        .unwrap();
        let x: crate::Exception = serde_json::from_value(serde_json::json!({
            "name": "scanner", "reason": "our vulnerability scanner",
            "rule": "r1", "ips": ["10.0.0.0/31"]
        }))
        .unwrap();
        // Preview: alert 1 only (r1 on 10.0.0.1, two occurrences); 10.0.0.2 is outside /31.
        let p = db.preview(&x, 0).unwrap();
        assert_eq!((p.would_hide, p.occurrences), (1, 2));
        assert_eq!(p.alerts[0].entities.ips, ["10.0.0.1"]);
        let saved = db.add_exception(x, "aiko").unwrap();
        assert_eq!(saved.id, 1);
        // From now on: r1 on 10.0.0.1 is hidden, r2 on it and r1 elsewhere are not.
        let got = db
            .record(
                &[
                    occ("r1", "10.0.0.1", 4000, 5),
                    occ("r2", "10.0.0.1", 4000, 6),
                    occ("r1", "10.0.0.2", 4000, 7),
                ],
                b"cp",
                &WaitingChanges::default(),
                hour,
            )
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            db.get(1).unwrap().count,
            2,
            "the hidden occurrence is not counted"
        );
        assert_eq!(db.exceptions()[0].hidden, 1);
        // Kept across a reopen, with its count; a snooze that ended hides nothing.
        drop(db);
        let db = AlertDb::open(&path).unwrap();
        assert_eq!(db.exceptions()[0].hidden, 1);
        db.remove_exception(1).unwrap();
        assert!(matches!(
            db.remove_exception(1),
            Err(DbError::NoException(1))
        ));
        let mut snooze: crate::Exception =
            serde_json::from_value(serde_json::json!({"name": "old", "rule": "r1"})).unwrap();
        snooze.until_ms = Some(1);
        db.add_exception(snooze, "aiko").unwrap();
        db.record(
            &[occ("r1", "10.0.0.1", 5000, 8)],
            b"cp",
            &WaitingChanges::default(),
            hour,
        )
        .unwrap();
        assert_eq!(db.get(1).unwrap().count, 3);
    }

    #[test]
    fn asset_criticality_sets_the_severity_of_new_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.redb");
        let db = AlertDb::open(&path).unwrap();
        let inv = crate::asset::parse_csv(
            "kind,name,criticality,tags\nip,10.9.0.0/16,critical,crown-jewels\nip,10.0.0.7,low,lab\n",
        )
        .unwrap();
        assert_eq!(db.set_assets(inv).unwrap(), 2);
        let mut medium = occ("r1", "10.9.1.1", 0, 1);
        medium.severity = Severity::Medium;
        let mut lab = occ("r1", "10.0.0.7", 0, 2);
        lab.severity = Severity::Medium;
        let got = db
            .record(&[medium, lab], b"cp", &WaitingChanges::default(), 1000)
            .unwrap();
        let a = &got[0].0;
        assert_eq!(
            (a.severity, a.rule_severity),
            (Severity::Critical, Some(Severity::Medium))
        );
        assert_eq!(a.assets[0].tags, ["crown-jewels"]);
        assert_eq!(got[1].0.severity, Severity::Low);
        drop(db);
        let db = AlertDb::open(&path).unwrap();
        assert_eq!(db.assets().len(), 2, "kept across a reopen");
    }
}
