//! Correlation: captures from matched events, collected during the scan, are fed to the
//! correlator in time order at the end; the alerts become detections of correlation rules.

use std::fmt::Write as _;
use yagura_sigma::correlation::{Capture, CorrelationAlert, Correlator, CorrelatorStats};
use yagura_sigma::{Pipeline, RuleSet};

use super::detection::Detection;
use super::scan::Origin;
use super::time::format_utc;

/// Most captures kept for correlation (a few hundred bytes each): beyond it, matches of
/// correlated rules are counted and reported instead of kept, so memory stays bounded.
pub const MAX_CAPTURES: usize = 2_000_000;

/// Captures waiting for the end of the scan.
#[derive(Default)]
pub struct CaptureLog {
    captures: Vec<(i64, u64, Capture)>,
    origins: Vec<Origin>,
    dropped: u64,
}

impl CaptureLog {
    /// Keeps one capture (arrival order breaks time ties, so runs are reproducible per file).
    pub fn push(&mut self, ts: i64, mut capture: Capture, origin: Origin) {
        if self.captures.len() >= MAX_CAPTURES {
            self.dropped += 1;
            return;
        }
        let seq = self.captures.len() as u64;
        capture.tag = seq;
        self.captures.push((ts, seq, capture));
        self.origins.push(origin);
    }

    /// Matches not kept because the log was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// True when no capture was kept.
    pub fn is_empty(&self) -> bool {
        self.captures.is_empty()
    }

    /// Feeds every capture in time order and returns the reported alerts as detections.
    /// Correlation `c` of `set` is detection rule `set.rules.len() + c`.
    pub fn correlate(mut self, set: &RuleSet) -> (Vec<Detection>, CorrelatorStats) {
        if set.correlations.is_empty() {
            return (Vec::new(), CorrelatorStats::default());
        }
        self.captures
            .sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut correlator = Correlator::new(set, Pipeline::windows());
        let mut alerts = Vec::new();
        for (ts, _, capture) in &self.captures {
            correlator.observe(capture, *ts, &mut alerts);
        }
        correlator.flush(&mut alerts);
        let first_correlation = set.rules.len() as u32;
        let detections = alerts
            .iter()
            .filter(|a| a.reported)
            .map(|a| alert_detection(a, first_correlation, set, self.origins.get(a.tag as usize)))
            .collect();
        (detections, correlator.stats())
    }
}

/// A correlation alert as a timeline row; file, record, channel and event id are those of the
/// event that decided the alert.
fn alert_detection(
    a: &CorrelationAlert,
    first_correlation: u32,
    set: &RuleSet,
    origin: Option<&Origin>,
) -> Detection {
    let kind = set
        .correlations
        .get(a.correlation as usize)
        .map(|c| format!("{:?}", c.rule.kind))
        .unwrap_or_default();
    let mut fields = format!(
        "correlation={kind} value={} events={} first={}",
        a.value,
        a.events,
        format_utc(a.first_ts_ms)
    );
    for (k, v) in &a.group {
        let _ = write!(fields, " {k}={v}");
    }
    let computer = a
        .group
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Computer") || k == "host.name")
        .map(|(_, v)| v.clone())
        .or_else(|| origin.map(|o| o.computer.clone()))
        .unwrap_or_default();
    Detection {
        ts: Some(a.ts_ms),
        rule: first_correlation + a.correlation,
        computer,
        channel: origin.map(|o| o.channel.clone()).unwrap_or_default(),
        event_id: origin.and_then(|o| o.event_id),
        file: origin.map(|o| o.file.clone()).unwrap_or_default(),
        record: origin.map_or(0, |o| o.record),
        fields,
    }
}
