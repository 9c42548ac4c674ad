//! The correlator: consumes detection matches in time order and emits correlation alerts.
//!
//! Windows are sliding for conditions that only grow towards their threshold (`gt`, `gte`): the
//! alert fires on the event that reaches it, and the group's window restarts. Conditions with an
//! upper bound (`lt`, `lte`, `eq`, `neq`, ranges) can only be decided when a window is over, so
//! they use a window that opens at a group's first event and closes `timespan` later (when a later
//! event arrives or at [`Correlator::flush`]). Memory is bounded per window and per correlation
//! (oldest entries and expired groups go first) and counted in [`CorrelatorStats`].

use super::rule::{CorrelationRule, CorrelationType};
use crate::pipeline::Pipeline;
use crate::plan::RuleId;
use crate::ruleset::{RuleRef, RuleSet};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use yagura_event::Record;

/// Limits that bound correlation memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most entries kept in one group's window (oldest dropped first).
    pub max_window_entries: usize,
    /// Most open groups per correlation rule (expired groups are purged first; beyond that new
    /// groups are refused and counted).
    pub max_groups: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_window_entries: 65_536,
            max_groups: 100_000,
        }
    }
}

/// The field values a correlation needs from one matched event, taken when it matched.
#[derive(Clone, Debug)]
pub struct Capture {
    /// The detection rule that matched.
    pub rule: RuleId,
    /// (Sigma field name, value) pairs.
    pub values: Vec<(String, String)>,
    /// An opaque number the caller may set (e.g. an index into its own table of event
    /// locations); alerts carry the tag of the event that decided them.
    pub tag: u64,
}

impl Capture {
    fn get(&self, field: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }
}

/// A correlation that fired.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationAlert {
    /// Index in [`RuleSet::correlations`].
    pub correlation: u32,
    /// Time of the event that decided the alert (ms).
    pub ts_ms: i64,
    /// Time of the first event in the window (ms).
    pub first_ts_ms: i64,
    /// Group-by field values.
    pub group: Vec<(String, String)>,
    /// The measured value (count, distinct count, sum, average, percentile…).
    pub value: f64,
    /// Events in the window.
    pub events: usize,
    /// False when a parent correlation has `generate: false` for it (used only for chaining).
    pub reported: bool,
    /// The [`Capture::tag`] of the event that decided the alert (the newest in the window).
    pub tag: u64,
}

/// Memory and work counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CorrelatorStats {
    /// Open group windows now.
    pub open_windows: usize,
    /// Entries held in all windows now.
    pub entries: usize,
    /// Approximate bytes held by windows and group keys.
    pub bytes: usize,
    /// Entries dropped because a window was full.
    pub dropped_entries: u64,
    /// Groups refused because a correlation had too many open groups.
    pub refused_groups: u64,
    /// Alerts emitted.
    pub alerts: u64,
    /// Most open windows seen (sampled every 4,096 matches and before flushing).
    pub peak_windows: usize,
    /// Most approximate bytes seen (sampled likewise).
    pub peak_bytes: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    ts: i64,
    pos: usize,
    value: Option<String>,
    tag: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Window {
    entries: VecDeque<Entry>,
    first_ts: i64,
}

#[derive(Debug)]
struct State {
    rule: CorrelationRule,
    /// Name/id of each referenced rule, for aliases.
    ref_names: Vec<Vec<String>>,
    groups: FxHashMap<Vec<String>, Window>,
    reported: bool,
}

/// What correlations need from matched events: the values to take from a match of each rule
/// they reference, and which rules are reported only through correlations. It holds no windows,
/// so evaluation workers can share one while a [`Correlator`] runs the correlations.
#[derive(Debug, Default)]
pub struct CaptureSpec {
    /// Per referenced rule, the Sigma field names correlations read from its matches.
    needs: FxHashMap<RuleId, Vec<String>>,
    /// Per Sigma field name, the event field names it maps to.
    field_names: FxHashMap<String, Vec<String>>,
    suppressed: FxHashSet<RuleId>,
}

impl CaptureSpec {
    /// The captures of the correlations of `set`; Sigma field names are mapped to event fields
    /// with `pipeline`'s global mapping.
    pub fn new(set: &RuleSet, pipeline: &Pipeline) -> CaptureSpec {
        let mut spec = CaptureSpec::default();
        let mut generating: FxHashSet<RuleId> = FxHashSet::default();
        for lc in &set.correlations {
            for (pos, r) in lc.refs.iter().enumerate() {
                let RuleRef::Rule(id) = *r else { continue };
                let fields = needed_fields(&lc.rule, &ref_names(set, lc, pos));
                let need = spec.needs.entry(id).or_default();
                for f in fields {
                    if !need.contains(&f) {
                        need.push(f);
                    }
                }
                if lc.rule.generate {
                    generating.insert(id);
                } else {
                    spec.suppressed.insert(id);
                }
            }
        }
        spec.suppressed.retain(|r| !generating.contains(r));
        let names: Vec<String> = spec.needs.values().flatten().cloned().collect();
        for n in names {
            let mut all = pipeline.map_field(None, &n);
            if !all.contains(&n) {
                all.push(n.clone());
            }
            spec.field_names.insert(n, all);
        }
        spec
    }

    /// True when the rule is referenced only by correlations with `generate: false`: its matches
    /// feed correlations but are not reported on their own.
    pub fn suppressed(&self, rule: RuleId) -> bool {
        self.suppressed.contains(&rule)
    }

    /// Takes the values correlations need from a matched event. `None` when no correlation
    /// references the rule.
    pub fn capture(&self, rule: RuleId, rec: &Record) -> Option<Capture> {
        let need = self.needs.get(&rule)?;
        let mut values = Vec::new();
        for f in need {
            let names = self.field_names.get(f);
            // An explicit null is no value (as SQL's NULL): the event lacks the field.
            let found = names.into_iter().flatten().find_map(|n| {
                rec.get_all(n)
                    .find(|x| x.kind != yagura_event::Kind::Null)
                    .map(|x| x.value.to_string())
            });
            if let Some(v) = found {
                values.push((f.clone(), v));
            }
        }
        Some(Capture {
            rule,
            values,
            tag: 0,
        })
    }
}

/// The names a correlation's `pos`-th reference answers to: as written, then the id and the name
/// of the rule or correlation it resolved to.
fn ref_names(set: &RuleSet, lc: &crate::LoadedCorrelation, pos: usize) -> Vec<String> {
    let meta = match lc.refs[pos] {
        RuleRef::Rule(id) => &set.rules[id as usize].rule.meta,
        RuleRef::Correlation(id) => &set.correlations[id as usize].rule.meta,
    };
    let mut names = vec![lc.rule.rules[pos].clone()];
    names.extend(meta.id.clone());
    names.extend(meta.name.clone());
    names
}

/// Correlates detection matches over time. Feed it with matches in timestamp order.
#[derive(Debug)]
pub struct Correlator {
    states: Vec<State>,
    by_rule: FxHashMap<RuleId, Vec<(usize, usize)>>,
    by_corr: Vec<Vec<(usize, usize)>>,
    spec: CaptureSpec,
    limits: Limits,
    stats: CorrelatorStats,
    observed: u64,
    /// Match count at which the next sweep (peak sampling and expiry) runs.
    next_sweep: u64,
}

/// Matches between two sweeps of the open windows (at least).
const SWEEP_EVERY: u64 = 4096;

impl Correlator {
    /// Builds a correlator for the correlations of `set`; Sigma field names are mapped to event
    /// fields with `pipeline`'s global mapping.
    pub fn new(set: &RuleSet, pipeline: &Pipeline) -> Correlator {
        Self::with_limits(set, pipeline, Limits::default())
    }

    /// As [`Correlator::new`] with explicit limits.
    pub fn with_limits(set: &RuleSet, pipeline: &Pipeline, limits: Limits) -> Correlator {
        let mut c = Correlator {
            states: Vec::new(),
            by_rule: FxHashMap::default(),
            by_corr: vec![Vec::new(); set.correlations.len()],
            spec: CaptureSpec::new(set, pipeline),
            limits,
            stats: CorrelatorStats::default(),
            observed: 0,
            next_sweep: SWEEP_EVERY,
        };
        let mut silent_corr = vec![false; set.correlations.len()];
        for (ci, lc) in set.correlations.iter().enumerate() {
            let mut names = Vec::new();
            for (pos, r) in lc.refs.iter().enumerate() {
                names.push(ref_names(set, lc, pos));
                match *r {
                    RuleRef::Rule(id) => c.by_rule.entry(id).or_default().push((ci, pos)),
                    RuleRef::Correlation(id) => {
                        c.by_corr[id as usize].push((ci, pos));
                        if !lc.rule.generate {
                            silent_corr[id as usize] = true;
                        }
                    }
                }
            }
            c.states.push(State {
                rule: lc.rule.clone(),
                ref_names: names,
                groups: FxHashMap::default(),
                reported: true,
            });
        }
        for (i, silent) in silent_corr.into_iter().enumerate() {
            c.states[i].reported = !silent;
        }
        c
    }

    /// True when there is no correlation rule.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// See [`CaptureSpec::suppressed`].
    pub fn suppressed(&self, rule: RuleId) -> bool {
        self.spec.suppressed(rule)
    }

    /// See [`CaptureSpec::capture`].
    pub fn capture(&self, rule: RuleId, rec: &Record) -> Option<Capture> {
        self.spec.capture(rule, rec)
    }

    /// Feeds one match (in timestamp order) and appends the alerts it completes.
    pub fn observe(&mut self, cap: &Capture, ts_ms: i64, out: &mut Vec<CorrelationAlert>) {
        self.observed += 1;
        if self.observed >= self.next_sweep {
            // A sweep walks every open window: spacing sweeps by at least the number of open
            // windows keeps their cost constant per match however many windows are open.
            self.sample_peaks();
            self.purge(ts_ms, out);
            let open: usize = self.states.iter().map(|st| st.groups.len()).sum();
            self.next_sweep = self.observed + SWEEP_EVERY.max(open as u64);
        }
        let targets = self.by_rule.get(&cap.rule).cloned().unwrap_or_default();
        for (ci, pos) in targets {
            let lookup = |f: &str| cap.get(f).map(str::to_string);
            self.feed(ci, pos, ts_ms, cap.tag, &lookup, out);
        }
    }

    /// The open windows, as bytes that [`Correlator::restore`] takes back (a checkpoint).
    /// Each correlation is named by its id (else its title), so that a checkpoint still
    /// applies after rules were added, removed or reordered.
    pub fn snapshot(&self) -> Vec<u8> {
        let states: Vec<SnapState<'_>> = self
            .states
            .iter()
            .filter(|st| !st.groups.is_empty())
            .map(|st| SnapState {
                key: state_key(&st.rule),
                groups: st.groups.iter().collect(),
            })
            .collect();
        // Serializing plain data into a Vec cannot fail.
        rmp_serde::to_vec(&Snap { states }).unwrap_or_default()
    }

    /// Reopens the windows of a [`Correlator::snapshot`]; windows of correlations that no
    /// longer exist are dropped. Returns the number of windows reopened.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<usize, String> {
        let snap: SnapOwned = rmp_serde::from_slice(bytes).map_err(|e| e.to_string())?;
        let mut n = 0;
        for s in snap.states {
            let Some(st) = self
                .states
                .iter_mut()
                .find(|st| state_key(&st.rule) == s.key)
            else {
                continue;
            };
            for (k, w) in s.groups {
                // A window of another rule version (different reference list) is dropped.
                if w.entries.iter().all(|e| e.pos < st.rule.rules.len()) {
                    st.groups.insert(k, w);
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Event time has reached `now_ms` (a stream's watermark): closes the windows that ended
    /// before it and appends the alerts they complete (those of bounded conditions such as
    /// `lt`), as a later event would.
    pub fn advance(&mut self, now_ms: i64, out: &mut Vec<CorrelationAlert>) {
        self.purge(now_ms, out);
    }

    /// Closes every open window (end of stream) and appends the alerts they complete.
    pub fn flush(&mut self, out: &mut Vec<CorrelationAlert>) {
        self.sample_peaks();
        for ci in 0..self.states.len() {
            let keys: Vec<Vec<String>> = self.states[ci].groups.keys().cloned().collect();
            for key in keys {
                if let Some(w) = self.states[ci].groups.remove(&key) {
                    self.close(ci, &key, &w, out);
                }
            }
        }
    }

    fn sample_peaks(&mut self) {
        let now = self.stats();
        self.stats.peak_windows = self.stats.peak_windows.max(now.open_windows);
        self.stats.peak_bytes = self.stats.peak_bytes.max(now.bytes);
    }

    /// Current counters.
    pub fn stats(&self) -> CorrelatorStats {
        let mut s = self.stats.clone();
        s.open_windows = self.states.iter().map(|st| st.groups.len()).sum();
        s.entries = 0;
        s.bytes = 0;
        for st in &self.states {
            for (k, w) in &st.groups {
                s.entries += w.entries.len();
                s.bytes += std::mem::size_of::<Window>()
                    + k.iter().map(|x| x.len() + 24).sum::<usize>()
                    + w.entries.capacity() * std::mem::size_of::<Entry>()
                    + w.entries
                        .iter()
                        .map(|e| e.value.as_ref().map_or(0, String::len))
                        .sum::<usize>();
            }
        }
        s
    }

    fn feed(
        &mut self,
        ci: usize,
        pos: usize,
        ts: i64,
        tag: u64,
        lookup: &dyn Fn(&str) -> Option<String>,
        out: &mut Vec<CorrelationAlert>,
    ) {
        let st = &self.states[ci];
        let span = st.rule.timespan_ms;
        let sliding = st.rule.condition.decides_on_arrival();
        let names = &st.ref_names[pos];
        // An event that lacks a group-by field belongs to no group (pySigma's SQL); an explicit
        // empty string is a value of its own.
        let Some(key) = st
            .rule
            .group_by
            .iter()
            .map(|g| lookup(&resolve_alias(&st.rule, g, names)))
            .collect::<Option<Vec<String>>>()
        else {
            return;
        };
        let value = st
            .rule
            .condition
            .fields
            .iter()
            .map(|f| lookup(f).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\u{1f}");
        let has_value = !st.rule.condition.fields.is_empty();
        // A fixed window that is over is decided before this event opens a new one.
        if !sliding {
            let over = st.groups.get(&key).is_some_and(|w| ts > w.first_ts + span);
            if over {
                if let Some(w) = self.states[ci].groups.remove(&key) {
                    self.close(ci, &key, &w, out);
                }
            }
        }
        let limits = self.limits;
        if !self.states[ci].groups.contains_key(&key)
            && self.states[ci].groups.len() >= limits.max_groups
        {
            self.purge(ts, out);
            if self.states[ci].groups.len() >= limits.max_groups {
                self.stats.refused_groups += 1;
                return;
            }
        }
        let st = &mut self.states[ci];
        let w = st.groups.entry(key.clone()).or_default();
        if sliding {
            while w.entries.front().is_some_and(|e| e.ts < ts - span) {
                w.entries.pop_front();
            }
        }
        if w.entries.is_empty() {
            w.first_ts = ts;
        }
        if w.entries.len() >= limits.max_window_entries {
            w.entries.pop_front();
            self.stats.dropped_entries += 1;
        }
        w.entries.push_back(Entry {
            ts,
            pos,
            value: has_value.then_some(value),
            tag,
        });
        if sliding {
            let v = measure(&st.rule, w);
            if st.rule.condition.test(v) {
                let w = st.groups.remove(&key).unwrap_or_default();
                self.emit(ci, &key, &w, v, ts, out);
            }
        }
    }

    fn close(&mut self, ci: usize, key: &[String], w: &Window, out: &mut Vec<CorrelationAlert>) {
        let st = &self.states[ci];
        if st.rule.condition.decides_on_arrival() || w.entries.is_empty() {
            return;
        }
        let v = measure(&st.rule, w);
        if st.rule.condition.test(v) {
            let ts = w.entries.back().map_or(w.first_ts, |e| e.ts);
            self.emit(ci, key, w, v, ts, out);
        }
    }

    fn emit(
        &mut self,
        ci: usize,
        key: &[String],
        w: &Window,
        v: f64,
        ts: i64,
        out: &mut Vec<CorrelationAlert>,
    ) {
        let st = &self.states[ci];
        let group: Vec<(String, String)> = st
            .rule
            .group_by
            .iter()
            .cloned()
            .zip(key.iter().cloned())
            .collect();
        let alert = CorrelationAlert {
            correlation: ci as u32,
            ts_ms: ts,
            first_ts_ms: w.first_ts,
            group: group.clone(),
            value: v,
            events: w.entries.len(),
            reported: st.reported,
            tag: w.entries.back().map_or(0, |e| e.tag),
        };
        let tag = alert.tag;
        self.stats.alerts += 1;
        out.push(alert);
        // Chaining: this alert is an event for the correlations that reference this one.
        for (parent, pos) in self.by_corr[ci].clone() {
            let g = group.clone();
            let lookup = move |f: &str| g.iter().find(|(k, _)| k == f).map(|(_, v)| v.clone());
            self.feed(parent, pos, ts, tag, &lookup, out);
        }
    }

    fn purge(&mut self, now: i64, out: &mut Vec<CorrelationAlert>) {
        for ci in 0..self.states.len() {
            let span = self.states[ci].rule.timespan_ms;
            let expired: Vec<Vec<String>> = self.states[ci]
                .groups
                .iter()
                .filter(|(_, w)| {
                    let last = w.entries.back().map_or(w.first_ts, |e| e.ts);
                    last < now - span && w.first_ts + span < now
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in expired {
                if let Some(w) = self.states[ci].groups.remove(&k) {
                    self.close(ci, &k, &w, out);
                }
            }
        }
    }
}

/// The name of a correlation in a snapshot.
fn state_key(rule: &CorrelationRule) -> String {
    rule.meta
        .id
        .clone()
        .unwrap_or_else(|| rule.meta.title.clone())
}

#[derive(Serialize)]
struct Snap<'a> {
    states: Vec<SnapState<'a>>,
}

#[derive(Serialize)]
struct SnapState<'a> {
    key: String,
    groups: Vec<(&'a Vec<String>, &'a Window)>,
}

#[derive(Deserialize)]
struct SnapOwned {
    states: Vec<SnapStateOwned>,
}

#[derive(Deserialize)]
struct SnapStateOwned {
    key: String,
    groups: Vec<(Vec<String>, Window)>,
}

fn resolve_alias(rule: &CorrelationRule, group_field: &str, names: &[String]) -> String {
    rule.aliases
        .iter()
        .find(|a| a.name == group_field)
        .and_then(|a| {
            a.fields
                .iter()
                .find(|(r, _)| names.contains(r))
                .map(|(_, f)| f.clone())
        })
        .unwrap_or_else(|| group_field.to_string())
}

fn needed_fields(rule: &CorrelationRule, names: &[String]) -> Vec<String> {
    let mut v: Vec<String> = rule
        .group_by
        .iter()
        .map(|g| resolve_alias(rule, g, names))
        .collect();
    v.extend(rule.condition.fields.iter().cloned());
    v
}

fn numbers(w: &Window) -> Vec<f64> {
    w.entries
        .iter()
        .filter_map(|e| e.value.as_deref().and_then(crate::matcher::parse_number))
        .collect()
}

/// The quantity the condition compares, per correlation type.
fn measure(rule: &CorrelationRule, w: &Window) -> f64 {
    match rule.kind {
        CorrelationType::EventCount => w.entries.len() as f64,
        CorrelationType::ValueCount => {
            let distinct: FxHashSet<&str> = w
                .entries
                .iter()
                .filter_map(|e| e.value.as_deref())
                .filter(|v| !v.is_empty())
                .collect();
            distinct.len() as f64
        }
        CorrelationType::Temporal => {
            let distinct: FxHashSet<usize> = w.entries.iter().map(|e| e.pos).collect();
            distinct.len() as f64
        }
        CorrelationType::TemporalOrdered => {
            // Length of the longest prefix of `rules` seen in order within the window.
            let mut need = 0;
            for e in &w.entries {
                if e.pos == need {
                    need += 1;
                }
            }
            need as f64
        }
        CorrelationType::ValueSum => numbers(w).iter().sum(),
        CorrelationType::ValueAvg => {
            let n = numbers(w);
            if n.is_empty() {
                0.0
            } else {
                n.iter().sum::<f64>() / n.len() as f64
            }
        }
        CorrelationType::ValuePercentile => match rule.condition.percentile {
            Some(p) => {
                let mut n = numbers(w);
                if n.is_empty() {
                    return f64::NAN;
                }
                n.sort_by(f64::total_cmp);
                percentile(&n, p)
            }
            None => {
                // Spec example: how rare the newest value is, as the percentage of the group's
                // events in the window that carry it.
                let Some(last) = w.entries.back().and_then(|e| e.value.as_deref()) else {
                    return f64::NAN;
                };
                let same = w
                    .entries
                    .iter()
                    .filter(|e| e.value.as_deref() == Some(last))
                    .count();
                100.0 * same as f64 / w.entries.len() as f64
            }
        },
    }
}

/// The `p`-th percentile (0–100) of sorted values, interpolated linearly between the closest
/// ranks (numpy's default, Excel's `PERCENTILE.INC`): rank `p/100·(n−1)`, so the median of
/// [10, 90] is 50. `NaN` for no values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let rank = (p / 100.0).clamp(0.0, 1.0) * last as f64;
    let lo = (rank.floor() as usize).min(last);
    let hi = (rank.ceil() as usize).min(last);
    let frac = rank - lo as f64;
    if lo == hi || frac == 0.0 {
        return sorted[lo];
    }
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_interpolates_between_closest_ranks() {
        // Even count: the median lies halfway between the middle two values.
        assert_eq!(percentile(&[10.0, 90.0], 50.0), 50.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.5);
        assert!((percentile(&[1.0, 2.0, 3.0, 4.0], 90.0) - 3.7).abs() < 1e-9);
        // Odd count: the median is the middle value.
        assert_eq!(percentile(&[1.0, 5.0, 100.0], 50.0), 5.0);
        assert_eq!(percentile(&[1.0, 5.0, 100.0], 75.0), 52.5);
        // Ends and out-of-range percentiles.
        assert_eq!(percentile(&[3.0, 7.0], 0.0), 3.0);
        assert_eq!(percentile(&[3.0, 7.0], 100.0), 7.0);
        assert_eq!(percentile(&[4.0], 37.0), 4.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
