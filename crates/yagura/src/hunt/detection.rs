//! One detection: a rule that matched one event, with what the timeline shows about the event.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use yagura_sigma::rule::{Level, Meta};
use yagura_sigma::RuleSet;

/// A rule matched an event. Rule facts live in the [`RuleCatalog`] (`rule` indexes it), so a
/// detection stays small while it waits to be sorted (in memory or in a spilled run).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Detection {
    /// Event time, Unix milliseconds UTC.
    pub ts: Option<i64>,
    /// Index into the [`RuleCatalog`].
    pub rule: u32,
    /// Host.
    pub computer: String,
    /// Windows channel.
    pub channel: String,
    /// Windows event id.
    pub event_id: Option<u32>,
    /// Source file (`archive.zip!entry.json` inside an archive).
    pub file: String,
    /// Record number in the file (EVTX record id, JSON line or object number).
    pub record: u64,
    /// Key fields of the event, `k=v` pairs separated by [`FIELD_SEP`] (values hold no control
    /// characters, keys no `=`): [`fields_text`] for the table and CSV, [`fields_pairs`] for
    /// the JSON object of JSON lines.
    pub fields: String,
}

/// Separates the `k=v` pairs of [`Detection::fields`] (a control character: values never hold
/// one, they are replaced by spaces).
pub const FIELD_SEP: char = '\u{1f}';

/// Appends one `k=v` pair to `fields`; control characters of the value become spaces.
pub fn push_field(fields: &mut String, key: &str, value: &str) {
    if !fields.is_empty() {
        fields.push(FIELD_SEP);
    }
    fields.push_str(key);
    fields.push('=');
    fields.extend(value.chars().map(|c| if c.is_control() { ' ' } else { c }));
}

/// `k=v k=v`: the fields as the table and CSV show them.
pub fn fields_text(fields: &str) -> String {
    fields.replace(FIELD_SEP, " ")
}

/// The `(k, v)` pairs of [`Detection::fields`], in order.
pub fn fields_pairs(fields: &str) -> impl Iterator<Item = (&str, &str)> {
    fields
        .split(FIELD_SEP)
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

impl Detection {
    /// Timeline order: time (events without a time first), then file, record and rule, so the
    /// output is the same whatever the thread count.
    pub fn timeline_cmp(&self, other: &Self) -> Ordering {
        self.ts
            .cmp(&other.ts)
            .then_with(|| self.file.cmp(&other.file))
            .then_with(|| self.record.cmp(&other.record))
            .then_with(|| self.rule.cmp(&other.rule))
    }
}

/// What the timeline shows about a rule.
#[derive(Clone, Debug)]
pub struct RuleInfo {
    /// Title.
    pub title: String,
    /// Rule id (or empty).
    pub id: String,
    /// Level; rules without one count as informational.
    pub level: Level,
    /// ATT&CK tags (`attack.*`).
    pub attack_tags: Vec<String>,
}

impl RuleInfo {
    fn of(meta: &Meta) -> Self {
        RuleInfo {
            title: meta.title.clone(),
            id: meta.id.clone().unwrap_or_default(),
            level: meta.level.unwrap_or(Level::Informational),
            attack_tags: meta
                .tags
                .iter()
                .filter(|t| t.starts_with("attack."))
                .cloned()
                .collect(),
        }
    }
}

/// Every rule that can produce a detection, indexed by [`Detection::rule`]. Detection rules come
/// first with their `RuleId`; correlation rules follow (index `rules.len() + correlation`).
#[derive(Clone, Debug, Default)]
pub struct RuleCatalog {
    /// Indexed by detection rule index.
    pub rules: Vec<RuleInfo>,
}

impl RuleCatalog {
    /// The catalog of `set.rules` then `set.correlations`, in order.
    pub fn of(set: &RuleSet) -> Self {
        let detections = set.rules.iter().map(|r| RuleInfo::of(&r.rule.meta));
        let correlations = set.correlations.iter().map(|c| RuleInfo::of(&c.rule.meta));
        Self {
            rules: detections.chain(correlations).collect(),
        }
    }

    /// The rule at `index`, or a placeholder when out of range.
    pub fn get(&self, index: u32) -> &RuleInfo {
        static UNKNOWN: std::sync::OnceLock<RuleInfo> = std::sync::OnceLock::new();
        self.rules.get(index as usize).unwrap_or_else(|| {
            UNKNOWN.get_or_init(|| RuleInfo {
                title: "(unknown rule)".into(),
                id: String::new(),
                level: Level::Informational,
                attack_tags: Vec::new(),
            })
        })
    }
}
