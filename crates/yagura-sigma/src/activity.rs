//! Which logsource entries of a pipeline the input events select, so that a hunt can name the
//! rules that could never fire on its inputs (no event of their logsource), and `rules lint`
//! the rules no pipeline serves at all.
//!
//! An entry is active once one event satisfies all its conditions (the same case-insensitive
//! equality the plan applies). Entries already active are not looked at again, and the event
//! fields the conditions name are found in one pass over the record, so the check costs little
//! next to the evaluation.

use crate::correlation::rule::CorrelationType;
use crate::rule::Logsource;
use crate::{Pipeline, RuleRef, RuleSet};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use yagura_event::Record;

/// The conditions of a pipeline's entries, with what the events showed so far (shared by the
/// workers).
pub struct Activity {
    /// Event field names the conditions name.
    fields: Vec<String>,
    /// Per entry (in `Pipeline::logsources` order): conditions as (field index, values).
    entries: Vec<Vec<(u16, Vec<String>)>>,
    /// Per entry: an event satisfied it.
    active: Vec<AtomicBool>,
    /// Entries not active yet.
    remaining: AtomicUsize,
    /// An event went through the pipeline (for its catch-all entry).
    any: AtomicBool,
}

/// A worker's reusable buffer: (field index, record index) of the condition fields of the
/// current event.
#[derive(Default)]
pub struct ActivityScratch {
    found: Vec<(u16, u32)>,
}

impl Activity {
    /// The entries of `p`, none active yet.
    pub fn new(p: &Pipeline) -> Self {
        let mut fields: Vec<String> = Vec::new();
        let entries = p
            .logsources
            .iter()
            .map(|e| {
                e.conditions
                    .iter()
                    .map(|(field, values)| {
                        let i = match fields.iter().position(|f| f == field) {
                            Some(i) => i,
                            None => {
                                fields.push(field.clone());
                                fields.len() - 1
                            }
                        };
                        (u16::try_from(i).unwrap_or(u16::MAX), values.texts())
                    })
                    .collect()
            })
            .collect::<Vec<_>>();
        Activity {
            active: entries.iter().map(|_| AtomicBool::new(false)).collect(),
            remaining: AtomicUsize::new(entries.len()),
            fields,
            entries,
            any: AtomicBool::new(false),
        }
    }

    /// Marks the entries that `rec` satisfies.
    pub fn observe(&self, rec: &Record, s: &mut ActivityScratch) {
        if !self.any.load(Ordering::Relaxed) {
            self.any.store(true, Ordering::Relaxed);
        }
        if self.remaining.load(Ordering::Relaxed) == 0 {
            return;
        }
        s.found.clear();
        for (i, f) in rec.fields().enumerate() {
            if let Some(fi) = self.fields.iter().position(|n| n == f.key) {
                s.found
                    .push((fi as u16, u32::try_from(i).unwrap_or(u32::MAX)));
            }
        }
        for (e, conditions) in self.entries.iter().enumerate() {
            if self.active[e].load(Ordering::Relaxed) {
                continue;
            }
            let holds = conditions.iter().all(|(fi, values)| {
                s.found.iter().any(|&(f, at)| {
                    f == *fi
                        && rec.value_at(at as usize).is_some_and(|(v, _)| {
                            values.iter().any(|want| want.eq_ignore_ascii_case(v))
                        })
                })
            });
            if holds && !self.active[e].swap(true, Ordering::Relaxed) {
                self.remaining.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// True when an event selected one of the entries of `p` (the pipeline this was made from)
    /// that serve `ls`.
    pub fn serves(&self, p: &Pipeline, ls: &Logsource) -> bool {
        p.entries_for(ls).iter().any(|e| {
            match p.logsources.iter().position(|x| std::ptr::eq(x, *e)) {
                Some(i) => self.active[i].load(Ordering::Relaxed),
                // The catch-all entry: any event.
                None => self.any.load(Ordering::Relaxed),
            }
        })
    }
}

/// `category/product/service` of a logsource, `-` for each one not set.
pub fn logsource_key(ls: &Logsource) -> String {
    let part = |s: &Option<String>| s.as_deref().unwrap_or("-").to_owned();
    format!(
        "product={} category={} service={}",
        part(&ls.product),
        part(&ls.category),
        part(&ls.service)
    )
}

/// A rule that cannot fire.
pub struct Inactive {
    /// Index in `RuleSet::rules`, or in `RuleSet::correlations` when `correlation`.
    pub rule: usize,
    /// A correlation: the rules it needs cannot fire (all of them for `temporal` kinds, where
    /// every rule must match; none of them can for the others).
    pub correlation: bool,
    /// True when no pipeline serves its logsource at all (else: no input event was of it). For a
    /// correlation: no pipeline serves any rule it refers to.
    pub unserved: bool,
}

impl Inactive {
    /// Logsource (`product=… category=… service=…`, or `correlation`), id, title and file.
    pub fn describe(&self, set: &RuleSet) -> (String, String, String, String) {
        let (ls, meta, file) = if self.correlation {
            let c = &set.correlations[self.rule];
            ("correlation".to_owned(), &c.rule.meta, &c.file)
        } else {
            let r = &set.rules[self.rule];
            (logsource_key(&r.rule.logsource), &r.rule.meta, &r.file)
        };
        (
            ls,
            meta.id.clone().unwrap_or_else(|| "-".to_owned()),
            meta.title.clone(),
            file.display().to_string(),
        )
    }
}

/// The detection rules of `set` that `pipelines` do not serve at all (`activity` `None`), or
/// whose serving entries no event selected.
pub fn inactive_rules(
    set: &RuleSet,
    pipelines: &[(&Pipeline, Option<&Activity>)],
) -> Vec<Inactive> {
    let mut out = Vec::new();
    for (i, r) in set.rules.iter().enumerate() {
        let ls = &r.rule.logsource;
        let served = pipelines.iter().any(|(p, _)| !p.entries_for(ls).is_empty());
        let active = served
            && pipelines.iter().any(|(p, a)| match a {
                Some(a) => a.serves(p, ls),
                None => !p.entries_for(ls).is_empty(),
            });
        if !active {
            out.push(Inactive {
                rule: i,
                correlation: false,
                unserved: !served,
            });
        }
    }
    inactive_correlations(set, &mut out);
    out
}

/// Appends the correlations that cannot fire, given the detection rules in `out` that cannot.
fn inactive_correlations(set: &RuleSet, out: &mut Vec<Inactive>) {
    let mut rule_ok = vec![true; set.rules.len()];
    let mut rule_served = vec![true; set.rules.len()];
    for i in out.iter() {
        rule_ok[i.rule] = false;
        rule_served[i.rule] = !i.unserved;
    }
    // Correlations may refer to correlations: grow the active set until it stays the same.
    let mut corr_ok = vec![false; set.correlations.len()];
    loop {
        let mut changed = false;
        for (c, lc) in set.correlations.iter().enumerate() {
            if corr_ok[c] {
                continue;
            }
            let ok = |r: &RuleRef| match *r {
                RuleRef::Rule(i) => rule_ok.get(i as usize).copied().unwrap_or(false),
                RuleRef::Correlation(i) => corr_ok.get(i as usize).copied().unwrap_or(false),
            };
            let needs_all = matches!(
                lc.rule.kind,
                CorrelationType::Temporal | CorrelationType::TemporalOrdered
            );
            let active = if needs_all {
                !lc.refs.is_empty() && lc.refs.iter().all(ok)
            } else {
                lc.refs.iter().any(ok)
            };
            if active {
                corr_ok[c] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (c, lc) in set.correlations.iter().enumerate() {
        if !corr_ok[c] {
            let unserved = lc.refs.iter().all(|r| match *r {
                RuleRef::Rule(i) => !rule_served.get(i as usize).copied().unwrap_or(true),
                RuleRef::Correlation(_) => false,
            });
            out.push(Inactive {
                rule: c,
                correlation: true,
                unserved,
            });
        }
    }
}

/// Counts of inactive rules per logsource, largest first (ties by name).
pub fn per_logsource(set: &RuleSet, inactive: &[Inactive]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in inactive {
        let key = if i.correlation {
            "correlation".to_owned()
        } else {
            logsource_key(&set.rules[i.rule].rule.logsource)
        };
        *counts.entry(key).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use yagura_event::Kind;

    #[test]
    fn entries_become_active_on_matching_events() {
        let p = Pipeline::ecs();
        let a = Activity::new(p);
        let mut s = ActivityScratch::default();
        let sshd = Logsource {
            product: Some("linux".into()),
            service: Some("sshd".into()),
            ..Default::default()
        };
        let zeek = Logsource {
            product: Some("zeek".into()),
            service: Some("dns".into()),
            ..Default::default()
        };
        assert!(!a.serves(p, &sshd));
        let mut rec = Record::new();
        rec.push("event.dataset", Kind::Str, "system.auth");
        rec.push("process.name", Kind::Str, "SSHD");
        a.observe(&rec, &mut s);
        assert!(a.serves(p, &sshd));
        assert!(!a.serves(p, &zeek));
    }
}
