//! Totals of a hunt, printed after the timeline.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::Duration;
use yagura_sigma::rule::Level;

use super::detection::{Detection, RuleCatalog};
use super::labels::Labels;

/// How many rules, hosts… the summary lists at most.
const TOP: usize = 10;

/// Counters of one hunt.
#[derive(Default)]
pub struct Summary {
    /// Rules loaded.
    pub rules_loaded: usize,
    /// Rules rejected.
    pub rules_rejected: usize,
    /// Input files found.
    pub files: usize,
    /// Files met in folders and not read.
    pub skipped: usize,
    /// Events read.
    pub events: u64,
    /// Input errors (files, chunks, records, documents).
    pub errors: u64,
    /// Detections reported.
    pub detections: u64,
    /// Rules that could not fire on the inputs, per logsource (largest first).
    pub never_active: Vec<(String, usize)>,
    /// With `-v`: one line per such rule.
    pub never_active_list: Vec<String>,
    /// Widest `file:record` table cell of the detections.
    pub file_record_width: usize,
    by_level: [u64; 5],
    by_rule: HashMap<u32, u64>,
    by_host: HashMap<String, u64>,
}

fn level_index(l: Level) -> usize {
    match l {
        Level::Informational => 0,
        Level::Low => 1,
        Level::Medium => 2,
        Level::High => 3,
        Level::Critical => 4,
    }
}

const LEVELS: [Level; 5] = [
    Level::Informational,
    Level::Low,
    Level::Medium,
    Level::High,
    Level::Critical,
];

impl Summary {
    /// Counts one detection.
    pub fn count(&mut self, d: &Detection, catalog: &RuleCatalog) {
        self.detections += 1;
        self.file_record_width = self
            .file_record_width
            .max(super::output::file_record_width(d));
        self.by_level[level_index(catalog.get(d.rule).level)] += 1;
        *self.by_rule.entry(d.rule).or_default() += 1;
        match self.by_host.get_mut(d.computer.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.by_host.insert(d.computer.clone(), 1);
            }
        }
    }

    /// Detections per level, English level names (for `--summary-json`).
    pub fn by_level_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = LEVELS
            .iter()
            .rev()
            .map(|l| (l.as_str().to_owned(), self.by_level[level_index(*l)].into()))
            .collect();
        map.into()
    }

    /// Detections per rule (for `--summary-json`): `[{"rule", "id", "level", "count"}]`, most
    /// detections first, then by title.
    pub fn by_rule_json(&self, catalog: &RuleCatalog) -> serde_json::Value {
        let mut rules: Vec<(&u32, &u64)> = self.by_rule.iter().collect();
        rules.sort_by(|a, b| {
            b.1.cmp(a.1)
                .then_with(|| catalog.get(*a.0).title.cmp(&catalog.get(*b.0).title))
                .then_with(|| a.0.cmp(b.0))
        });
        rules
            .into_iter()
            .map(|(rule, n)| {
                let r = catalog.get(*rule);
                serde_json::json!({
                    "rule": r.title,
                    "id": r.id,
                    "level": r.level.as_str(),
                    "count": n,
                })
            })
            .collect::<Vec<_>>()
            .into()
    }

    /// Prints the summary.
    pub fn print(
        &self,
        out: &mut dyn Write,
        l: &Labels,
        catalog: &RuleCatalog,
        elapsed: Duration,
    ) -> io::Result<()> {
        writeln!(out, "── {} ──", l.summary)?;
        writeln!(out, "{}: {}", l.detections, self.detections)?;
        write!(out, "{}:", l.by_level)?;
        for level in LEVELS.iter().rev() {
            write!(
                out,
                " {}={}",
                l.level(*level),
                self.by_level[level_index(*level)]
            )?;
        }
        writeln!(out)?;
        if !self.by_rule.is_empty() {
            writeln!(out, "{} ({}):", l.by_rule, self.by_rule.len())?;
            for (rule, n) in top(&self.by_rule) {
                let r = catalog.get(*rule);
                let level = l.level(r.level);
                let pad = 13usize.saturating_sub(crate::hunt::output::text_width(level));
                writeln!(out, "  {n:>8}  {level}{:pad$} {}", "", r.title)?;
            }
        }
        if !self.by_host.is_empty() {
            writeln!(out, "{} ({}):", l.by_host, self.by_host.len())?;
            for (host, n) in top(&self.by_host) {
                let host = if host.is_empty() { "-" } else { host.as_str() };
                writeln!(out, "  {n:>8}  {host}")?;
            }
        }
        writeln!(
            out,
            "{}: {}  {}: {}",
            l.rules_loaded, self.rules_loaded, l.rules_rejected, self.rules_rejected
        )?;
        let never: usize = self.never_active.iter().map(|(_, n)| n).sum();
        if never > 0 {
            writeln!(out, "{}: {never} ({})", l.never_active, l.never_active_hint)?;
            for (ls, n) in self.never_active.iter().take(TOP) {
                writeln!(out, "  {n:>8}  {ls}")?;
            }
            if self.never_active.len() > TOP {
                let rest: usize = self.never_active[TOP..].iter().map(|(_, n)| n).sum();
                writeln!(
                    out,
                    "  {rest:>8}  ({} {})",
                    self.never_active.len() - TOP,
                    l.more_logsources
                )?;
            }
            for line in &self.never_active_list {
                writeln!(out, "    {line}")?;
            }
        }
        writeln!(
            out,
            "{}: {}  {}: {}  {}: {}  {}: {}",
            l.files_read,
            self.files,
            l.files_skipped,
            self.skipped,
            l.records,
            self.events,
            l.input_errors,
            self.errors
        )?;
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.events as f64 / secs
        } else {
            0.0
        };
        writeln!(
            out,
            "{}: {secs:.2}s  {}: {rate:.0}",
            l.elapsed, l.events_per_sec
        )
    }
}

/// The `TOP` largest counts, largest first (ties by key, so the order is stable).
fn top<K: Ord>(counts: &HashMap<K, u64>) -> Vec<(&K, u64)> {
    let mut v: Vec<_> = counts.iter().map(|(k, n)| (k, *n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.truncate(TOP);
    v
}
