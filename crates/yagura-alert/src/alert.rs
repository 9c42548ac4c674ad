//! What an analyst triages: an alert, its status workflow, and the entities it is about.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an alert is in triage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not looked at yet.
    New,
    /// Seen by an analyst.
    Acknowledged,
    /// Being investigated.
    InProgress,
    /// Closed: a real threat.
    ClosedTruePositive,
    /// Closed: the rule was wrong about it.
    ClosedFalsePositive,
    /// Closed: real activity, but expected (an admin, a scanner, a test).
    ClosedBenign,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 6] = [
        Status::New,
        Status::Acknowledged,
        Status::InProgress,
        Status::ClosedTruePositive,
        Status::ClosedFalsePositive,
        Status::ClosedBenign,
    ];

    /// The name used in the API, the CLI and the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Acknowledged => "acknowledged",
            Status::InProgress => "in_progress",
            Status::ClosedTruePositive => "closed_true_positive",
            Status::ClosedFalsePositive => "closed_false_positive",
            Status::ClosedBenign => "closed_benign",
        }
    }

    /// Parses a status name; also takes `tp`, `fp`, `benign`, `ack`, `open` (every open status is
    /// not a single status, so `open` is refused here and handled by filters).
    pub fn parse(s: &str) -> Option<Status> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Some(match s.as_str() {
            "new" => Status::New,
            "acknowledged" | "ack" => Status::Acknowledged,
            "in_progress" | "investigating" => Status::InProgress,
            "closed_true_positive" | "true_positive" | "tp" => Status::ClosedTruePositive,
            "closed_false_positive" | "false_positive" | "fp" => Status::ClosedFalsePositive,
            "closed_benign" | "benign" => Status::ClosedBenign,
            _ => return None,
        })
    }

    /// True for the three closed statuses: a closed alert takes no more occurrences (a new
    /// one opens instead).
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            Status::ClosedTruePositive | Status::ClosedFalsePositive | Status::ClosedBenign
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity of an alert: the rule's Sigma level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// `informational`.
    Informational,
    /// `low`.
    Low,
    /// `medium`.
    Medium,
    /// `high`.
    High,
    /// `critical`.
    Critical,
}

impl Severity {
    /// The Sigma level name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "informational",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a level name.
    pub fn parse(s: &str) -> Option<Severity> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "informational" | "info" => Severity::Informational,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// From the rule's level (none counts as informational).
    pub fn of(level: Option<yagura_sigma::rule::Level>) -> Severity {
        use yagura_sigma::rule::Level;
        match level {
            None | Some(Level::Informational) => Severity::Informational,
            Some(Level::Low) => Severity::Low,
            Some(Level::Medium) => Severity::Medium,
            Some(Level::High) => Severity::High,
            Some(Level::Critical) => Severity::Critical,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether one event matched, or a correlation decided over several.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A detection rule matched an event.
    Detection,
    /// A correlation rule's condition was met over a window of matches.
    Correlation,
}

impl Kind {
    /// `detection` or `correlation`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Detection => "detection",
            Kind::Correlation => "correlation",
        }
    }
}

/// Who and what an alert is about, each list sorted and without repeats.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entities {
    /// User names.
    #[serde(default)]
    pub users: Vec<String>,
    /// Host names.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// IP addresses.
    #[serde(default)]
    pub ips: Vec<String>,
}

impl Entities {
    /// True when nothing is known.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.hosts.is_empty() && self.ips.is_empty()
    }

    /// Adds a value (ignoring empty values and `-`), keeping the list sorted.
    pub fn add(list: &mut Vec<String>, value: &str) {
        let v = value.trim();
        if v.is_empty() || v == "-" || list.len() >= 16 {
            return;
        }
        if let Err(i) = list.binary_search_by(|x| x.as_str().cmp(v)) {
            list.insert(i, v.to_owned());
        }
    }

    /// The grouping part of an alert's key: `u=a,b;h=c;i=d`.
    pub fn key(&self) -> String {
        format!(
            "u={};h={};i={}",
            self.users.join(","),
            self.hosts.join(","),
            self.ips.join(",")
        )
    }

    /// One line for tables: `user@host ip`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.users.is_empty() {
            parts.push(format!("user={}", self.users.join(",")));
        }
        if !self.hosts.is_empty() {
            parts.push(format!("host={}", self.hosts.join(",")));
        }
        if !self.ips.is_empty() {
            parts.push(format!("ip={}", self.ips.join(",")));
        }
        parts.join(" ")
    }
}

/// Most event links kept per alert (the count goes on).
pub const MAX_EVENTS: usize = 100;

/// An alert: one rule on one set of entities, with every occurrence within the deduplication
/// window counted in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Number, from 1.
    pub id: u64,
    /// The rule's `id` (else its title).
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// The rule's level (raised or lowered by asset context).
    pub severity: Severity,
    /// Detection or correlation.
    pub kind: Kind,
    /// Triage status.
    pub status: Status,
    /// Who and what.
    pub entities: Entities,
    /// Occurrences (matching events, or correlation firings).
    pub count: u64,
    /// Event time of the first occurrence (ms since the epoch).
    pub first_seen_ms: i64,
    /// Event time of the last occurrence.
    pub last_seen_ms: i64,
    /// When the alert was raised (wall clock, ms).
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// The matching events' store ids (`yagura.seq`), the first [`MAX_EVENTS`].
    pub events: Vec<u64>,
    /// ATT&CK techniques (`T1110.001`) from the rule's `attack.t*` tags.
    pub techniques: Vec<String>,
    /// The rule's other tags.
    pub tags: Vec<String>,
    /// The rule's description.
    #[serde(default)]
    pub description: String,
    /// For correlations: the group-by values (`source.ip=192.0.2.1`).
    #[serde(default)]
    pub group: Vec<(String, String)>,
    /// Who works on it.
    #[serde(default)]
    pub assignee: Option<String>,
    /// The analysts' notes, oldest first.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// The rule's own level, when asset context changed `severity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_severity: Option<Severity>,
    /// The inventory entries of the alert's entities (docs/alerts.md, asset context).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assets: Vec<crate::asset::Asset>,
}

/// A note on an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// When (ms).
    pub at_ms: i64,
    /// Who (the API user, or the CLI's `$USER`).
    pub by: String,
    /// What.
    pub text: String,
    /// The status set with the note, if any.
    #[serde(default)]
    pub status: Option<Status>,
}

impl Alert {
    /// What notification channels send about this alert.
    pub fn notice(&self, console: Option<&str>) -> crate::notify::Notice {
        crate::notify::Notice {
            alert_id: self.id,
            rule_id: self.rule_id.clone(),
            title: self.title.clone(),
            severity: self.severity.as_str().to_owned(),
            status: self.status.as_str().to_owned(),
            kind: self.kind.as_str().to_owned(),
            users: self.entities.users.clone(),
            hosts: self.entities.hosts.clone(),
            ips: self.entities.ips.clone(),
            count: self.count,
            first_seen_ms: self.first_seen_ms,
            last_seen_ms: self.last_seen_ms,
            techniques: self.techniques.clone(),
            description: self.description.clone(),
            url: console.map(|base| format!("{}/alerts/{}", base.trim_end_matches('/'), self.id)),
        }
    }
}

/// Splits a rule's tags into ATT&CK techniques (`attack.t1110.001` → `T1110.001`) and the rest.
pub fn split_tags(tags: &[String]) -> (Vec<String>, Vec<String>) {
    let mut techniques = Vec::new();
    let mut other = Vec::new();
    for t in tags {
        let lower = t.to_ascii_lowercase();
        match lower.strip_prefix("attack.t") {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => {
                techniques.push(format!("T{}", rest.to_ascii_uppercase()));
            }
            _ => other.push(t.clone()),
        }
    }
    (techniques, other)
}

/// Wall-clock time in ms (the collector's clock, which stamps `received_ms`).
pub use yagura_collect::raw::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_closed_ones_are_closed() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("FP"), Some(Status::ClosedFalsePositive));
        assert_eq!(Status::parse("in-progress"), Some(Status::InProgress));
        assert_eq!(Status::parse("done"), None);
        assert!(Status::ClosedBenign.is_closed() && !Status::InProgress.is_closed());
    }

    #[test]
    fn attack_tags_become_techniques() {
        let tags: Vec<String> = [
            "attack.credential_access",
            "attack.t1110.001",
            "attack.t1078",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (t, o) = split_tags(&tags);
        assert_eq!(t, ["T1110.001", "T1078"]);
        assert_eq!(o, ["attack.credential_access"]);
    }

    #[test]
    fn entities_stay_sorted_and_skip_placeholders() {
        let mut e = Entities::default();
        Entities::add(&mut e.ips, "10.0.0.2");
        Entities::add(&mut e.ips, "-");
        Entities::add(&mut e.ips, "10.0.0.1");
        Entities::add(&mut e.ips, "10.0.0.2");
        assert_eq!(e.ips, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(e.key(), "u=;h=;i=10.0.0.1,10.0.0.2");
    }
}
