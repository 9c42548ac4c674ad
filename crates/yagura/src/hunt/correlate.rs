//! Correlation: captures from matched events, collected during the scan, are fed to the
//! correlator in time order at the end; the alerts become detections of correlation rules.

use std::fmt::Write as _;
use yagura_sigma::correlation::{Capture, CorrelationAlert, Correlator, CorrelatorStats};
use yagura_sigma::{Pipeline, RuleSet};

use super::detection::Detection;
use super::time::format_utc;

/// Captures waiting for the end of the scan.
#[derive(Default)]
pub struct CaptureLog {
    captures: Vec<(i64, u64, Capture)>,
}

impl CaptureLog {
    /// Keeps one capture (arrival order breaks time ties, so runs are reproducible per file).
    pub fn push(&mut self, ts: i64, capture: Capture) {
        let seq = self.captures.len() as u64;
        self.captures.push((ts, seq, capture));
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
        let mut correlator = Correlator::new(set, &Pipeline::windows());
        let mut alerts = Vec::new();
        for (ts, _, capture) in &self.captures {
            correlator.observe(capture, *ts, &mut alerts);
        }
        correlator.flush(&mut alerts);
        let first_correlation = set.rules.len() as u32;
        let detections = alerts
            .iter()
            .filter(|a| a.reported)
            .map(|a| alert_detection(a, first_correlation, set))
            .collect();
        (detections, correlator.stats())
    }
}

fn alert_detection(a: &CorrelationAlert, first_correlation: u32, set: &RuleSet) -> Detection {
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
        .unwrap_or_default();
    Detection {
        ts: Some(a.ts_ms),
        rule: first_correlation + a.correlation,
        computer,
        channel: String::new(),
        event_id: None,
        file: String::new(),
        record: 0,
        fields,
    }
}
