//! Helpers shared by the conformance tests: compile YAML rules, turn JSON objects into records.

#![allow(dead_code)]

use serde_json::Value;
use std::path::Path;
use yagura_event::{Kind, Record};
use yagura_sigma::correlation::{CorrelationAlert, Correlator};
use yagura_sigma::{LoadOptions, Pipeline, Plan, RuleSet};

/// Flat JSON object → record (arrays become repeated fields).
pub fn record(v: &Value) -> Record {
    let mut r = Record::new();
    if let Value::Object(m) = v {
        for (k, x) in m {
            push(&mut r, k, x);
        }
    }
    r
}

fn push(r: &mut Record, k: &str, x: &Value) {
    match x {
        Value::String(s) => r.push(k, Kind::Str, s),
        Value::Number(n) => r.push(k, Kind::Num, &n.to_string()),
        Value::Bool(b) => r.push(k, Kind::Bool, &b.to_string()),
        Value::Null => r.push(k, Kind::Null, ""),
        Value::Array(a) => a.iter().for_each(|y| push(r, k, y)),
        Value::Object(_) => r.push(k, Kind::Str, &x.to_string()),
    }
}

/// Loads YAML (one or more documents); panics with the rejection reasons if any.
pub fn rules(yaml: &str) -> RuleSet {
    let set = try_rules(yaml, &LoadOptions::default());
    assert!(
        set.errors.is_empty(),
        "unexpected rejection: {:?}",
        set.errors
    );
    set
}

/// Loads YAML and returns the set with its rejections.
pub fn try_rules(yaml: &str, opts: &LoadOptions) -> RuleSet {
    let mut set = RuleSet::new();
    set.add_yaml(Path::new("test.yml"), yaml, opts);
    set.finish();
    set
}

/// The first rejection reason of a YAML text.
pub fn rejection(yaml: &str) -> String {
    let set = try_rules(yaml, &LoadOptions::default());
    assert!(!set.errors.is_empty(), "expected a rejection");
    set.errors[0].error.to_string()
}

/// Whether a one-rule YAML matches each event (passthrough pipeline: no logsource mapping).
pub fn matches(yaml: &str, events: &[Value]) -> Vec<bool> {
    let set = rules(yaml);
    let plan = Plan::compile(&set, &Pipeline::passthrough());
    let mut s = plan.scratch();
    events
        .iter()
        .map(|e| {
            let mut out = Vec::new();
            plan.evaluate(&record(e), &mut s, &mut out);
            !out.is_empty()
        })
        .collect()
}

/// Asserts the rule (a detection section under a fixed header) matches `yes` and not `no`.
pub fn check(detection: &str, yes: &[Value], no: &[Value]) {
    let yaml = format!(
        "title: t\nid: 00000000-0000-4000-8000-000000000001\nlogsource: {{product: test}}\ndetection:\n{}\n",
        indent(detection)
    );
    for (e, m) in yes.iter().zip(matches(&yaml, yes)) {
        assert!(m, "must match: {e}\nrule:\n{yaml}");
    }
    for (e, m) in no.iter().zip(matches(&yaml, no)) {
        assert!(!m, "must not match: {e}\nrule:\n{yaml}");
    }
}

/// Rejection reason of a detection section under the fixed header.
pub fn rejects(detection: &str) -> String {
    let yaml = format!(
        "title: t\nlogsource: {{product: test}}\ndetection:\n{}\n",
        indent(detection)
    );
    rejection(&yaml)
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}\n")).collect()
}

/// Runs events (with timestamps in seconds) through detection + correlation; returns alerts.
pub fn correlate(
    yaml: &str,
    events: &[(i64, Value)],
) -> (RuleSet, Vec<CorrelationAlert>, Vec<String>) {
    let set = rules(yaml);
    let plan = Plan::compile(&set, &Pipeline::passthrough());
    let mut corr = Correlator::new(&set, &Pipeline::passthrough());
    let mut s = plan.scratch();
    let mut alerts = Vec::new();
    let mut reported_rules = Vec::new();
    for (i, (t, e)) in events.iter().enumerate() {
        let rec = record(e);
        let mut hits = Vec::new();
        plan.evaluate(&rec, &mut s, &mut hits);
        for h in hits {
            if !corr.suppressed(h) {
                reported_rules.push(set.rules[h as usize].rule.meta.title.clone());
            }
            if let Some(mut c) = corr.capture(h, &rec) {
                c.tag = i as u64;
                corr.observe(&c, t * 1000, &mut alerts);
            }
        }
    }
    corr.flush(&mut alerts);
    (set, alerts, reported_rules)
}
