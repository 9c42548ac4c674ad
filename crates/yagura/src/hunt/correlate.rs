//! Correlation: captures from matched events, collected during the scan, are fed to the
//! correlator in time order at the end; the alerts become detections of correlation rules.
//!
//! Memory stays bounded whatever the number of matches: captures are sorted in runs of
//! [`CAPTURES_IN_MEMORY`] that spill to temp files (merged at the end, see `sorter.rs`), and the
//! origins of captured events beyond [`ORIGINS_IN_MEMORY`] go to a temp file, read back only for
//! the events that decide an alert.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use yagura_sigma::correlation::{Capture, CorrelationAlert, Correlator, CorrelatorStats};
use yagura_sigma::{Pipeline, RuleId, RuleSet};

use super::detection::{push_field, Detection};
use super::scan::Origin;
use super::sorter::Sorter;
use super::time::format_utc;

/// Captures sorted in memory before a run is spilled (a few hundred bytes each).
pub const CAPTURES_IN_MEMORY: usize = 200_000;

/// Origins kept in memory; later ones are written to a temp file.
pub const ORIGINS_IN_MEMORY: usize = 200_000;

/// One capture as it is sorted (and spilled): arrival order (`seq`) breaks time ties, so runs
/// are reproducible per file, and indexes the capture's origin.
#[derive(Serialize, Deserialize)]
struct Kept {
    ts: i64,
    seq: u64,
    rule: RuleId,
    values: Vec<(String, String)>,
}

fn by_time(a: &Kept, b: &Kept) -> std::cmp::Ordering {
    a.ts.cmp(&b.ts).then(a.seq.cmp(&b.seq))
}

/// Captures waiting for the end of the scan.
pub struct CaptureLog {
    captures: Sorter<Kept>,
    origins: OriginStore,
    next: u64,
}

impl Default for CaptureLog {
    fn default() -> Self {
        Self::with_limits(CAPTURES_IN_MEMORY, ORIGINS_IN_MEMORY)
    }
}

impl CaptureLog {
    /// A log keeping at most `captures` captures and `origins` origins in memory.
    pub fn with_limits(captures: usize, origins: usize) -> Self {
        Self {
            captures: Sorter::new(captures, by_time),
            origins: OriginStore::new(origins),
            next: 0,
        }
    }

    /// Keeps one capture; fails only when a temp file cannot be written.
    pub fn push(&mut self, ts: i64, capture: Capture, origin: Origin) -> Result<()> {
        let seq = self.next;
        self.next += 1;
        self.origins.push(origin)?;
        self.captures.push(Kept {
            ts,
            seq,
            rule: capture.rule,
            values: capture.values,
        })
    }

    /// True when no capture was kept.
    pub fn is_empty(&self) -> bool {
        self.next == 0
    }

    /// Sorted runs and origins written to temp files so far.
    pub fn spilled(&self) -> (usize, usize) {
        (self.captures.runs(), self.origins.offsets.len())
    }

    /// Feeds every capture in time order and returns the reported alerts as detections.
    /// Correlation `c` of `set` is detection rule `set.rules.len() + c`.
    pub fn correlate(self, set: &RuleSet) -> Result<(Vec<Detection>, CorrelatorStats)> {
        if set.correlations.is_empty() {
            return Ok((Vec::new(), CorrelatorStats::default()));
        }
        let mut correlator = Correlator::new(set, Pipeline::windows());
        let mut alerts = Vec::new();
        for kept in self.captures.finish()? {
            let kept = kept?;
            let capture = Capture {
                rule: kept.rule,
                values: kept.values,
                tag: kept.seq,
            };
            correlator.observe(&capture, kept.ts, &mut alerts);
        }
        correlator.flush(&mut alerts);
        let first_correlation = set.rules.len() as u32;
        let mut origins = self.origins;
        let mut detections = Vec::new();
        for a in alerts.iter().filter(|a| a.reported) {
            let origin = origins.get(a.tag)?;
            detections.push(alert_detection(a, first_correlation, set, origin.as_ref()));
        }
        Ok((detections, correlator.stats()))
    }
}

/// Origins of captured events by arrival number: the first ones in memory, the others in a temp
/// file of JSON lines with their offsets in memory (8 bytes each).
struct OriginStore {
    memory: Vec<Origin>,
    limit: usize,
    file: Option<BufWriter<File>>,
    offsets: Vec<u64>,
    written: u64,
}

impl OriginStore {
    fn new(limit: usize) -> Self {
        Self {
            memory: Vec::new(),
            limit,
            file: None,
            offsets: Vec::new(),
            written: 0,
        }
    }

    fn push(&mut self, origin: Origin) -> Result<()> {
        if self.memory.len() < self.limit {
            self.memory.push(origin);
            return Ok(());
        }
        if self.file.is_none() {
            let f = tempfile::tempfile().context("cannot create a temp file for correlation")?;
            self.file = Some(BufWriter::new(f));
        }
        let Some(w) = self.file.as_mut() else {
            return Ok(());
        };
        let mut line = serde_json::to_vec(&origin)?;
        line.push(b'\n');
        w.write_all(&line)
            .context("cannot write correlation origins")?;
        self.offsets.push(self.written);
        self.written += line.len() as u64;
        Ok(())
    }

    /// The origin of capture `seq`, if it was kept.
    fn get(&mut self, seq: u64) -> Result<Option<Origin>> {
        let i = usize::try_from(seq).unwrap_or(usize::MAX);
        if let Some(o) = self.memory.get(i) {
            return Ok(Some(o.clone()));
        }
        let (Some(&at), Some(w)) = (self.offsets.get(i - self.memory.len()), self.file.as_mut())
        else {
            return Ok(None);
        };
        w.flush().context("cannot write correlation origins")?;
        let f = w.get_mut();
        f.seek(SeekFrom::Start(at))?;
        let mut line = String::new();
        BufReader::new(&mut *f).read_line(&mut line)?;
        f.seek(SeekFrom::End(0))?;
        Ok(Some(
            serde_json::from_str(&line).context("corrupt correlation origins")?,
        ))
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
    let mut fields = String::new();
    push_field(&mut fields, "correlation", &kind);
    push_field(&mut fields, "value", &a.value.to_string());
    push_field(&mut fields, "events", &a.events.to_string());
    push_field(&mut fields, "first", &format_utc(a.first_ts_ms));
    for (k, v) in &a.group {
        push_field(&mut fields, k, v);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use yagura_sigma::LoadOptions;

    const RULES: &str = "title: Failed logon\nid: 0b3c0000-0000-4000-8000-000000000001\n\
        name: failed_logon\nlogsource: {product: windows, service: security}\n\
        detection:\n  sel: {EventID: 4625}\n  condition: sel\n---\n\
        title: Brute force\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  \
        group-by: [IpAddress]\n  timespan: 60s\n  condition: {gte: 3}\n";

    /// Captures of failed logons: (seconds, address), arriving out of time order.
    const EVENTS: [(i64, &str); 12] = [
        (50, "10.0.0.1"),
        (5, "10.0.0.2"),
        (10, "10.0.0.1"),
        (300, "10.0.0.3"),
        (30, "10.0.0.1"),
        (310, "10.0.0.3"),
        (200, "10.0.0.2"),
        (320, "10.0.0.3"),
        (12, "10.0.0.1"),
        (400, "10.0.0.2"),
        (305, "10.0.0.3"),
        (11, "10.0.0.9"),
    ];

    /// Pushes the first `n` of [`EVENTS`] into `log`.
    fn fill(log: &mut CaptureLog, n: usize) {
        for (i, (secs, ip)) in EVENTS.iter().enumerate().take(n) {
            let capture = Capture {
                rule: 0,
                values: vec![("IpAddress".into(), (*ip).into())],
                tag: 0,
            };
            let origin = Origin {
                file: format!("f{i}.evtx"),
                record: i as u64 + 1,
                computer: "HOST".into(),
                channel: "Security".into(),
                event_id: Some(4625),
            };
            log.push(secs * 1000, capture, origin).unwrap();
        }
    }

    fn correlate(mut log: CaptureLog, set: &RuleSet) -> Vec<Detection> {
        fill(&mut log, EVENTS.len());
        log.correlate(set).unwrap().0
    }

    #[test]
    fn spilled_captures_and_origins_give_the_same_alerts() {
        let mut set = RuleSet::new();
        set.add_yaml(Path::new("r.yml"), RULES, &LoadOptions::default());
        set.finish();
        assert!(set.errors.is_empty(), "{:?}", set.errors);

        let in_memory = correlate(CaptureLog::default(), &set);
        let mut small = CaptureLog::with_limits(2, 3);
        fill(&mut small, 5);
        assert_eq!(
            small.spilled(),
            (2, 2),
            "runs of 2 captures; origins past 3"
        );

        let spilled = correlate(CaptureLog::with_limits(2, 3), &set);
        assert_eq!(spilled, in_memory);
        // 10.0.0.1 (4 failures in 40 s) and 10.0.0.3 (4 in 20 s); 10.0.0.2 is spread out.
        let groups: Vec<_> = in_memory
            .iter()
            .map(|d| {
                crate::hunt::detection::fields_text(&d.fields)
                    .split_whitespace()
                    .last()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            groups,
            ["IpAddress=10.0.0.1", "IpAddress=10.0.0.3"],
            "{in_memory:?}"
        );
        // Each alert names the event that decided it, read back from the spilled origins too.
        assert!(in_memory
            .iter()
            .all(|d| d.file.ends_with(".evtx") && d.record > 0));
        assert!(
            spilled.iter().any(|d| d.record > 3),
            "an origin from the temp file"
        );
    }
}
