//! The compiled plan (buckets, tries, automata, lazy scans, triggers) must decide exactly what a
//! plain, obviously-correct interpreter of the rule expressions decides: every SigmaHQ Windows
//! rule, on every event of the SigmaHQ regression samples (real events that fire real rules).

use std::path::{Path, PathBuf};
use yagura_event::{Kind, Record};
use yagura_ingest::{discover, Item, ReadOptions};
use yagura_sigma::detection::{Expr, Leaf};
use yagura_sigma::matcher::Matcher;
use yagura_sigma::{LoadOptions, Pipeline, Plan, RuleSet};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn values<'a>(rec: &'a Record, f: &'a str) -> impl Iterator<Item = (&'a str, Kind)> + 'a {
    rec.get_all(f).map(|x| (x.value, x.kind))
}

/// The reference interpreter: no index, no automata, no caching.
fn eval(e: &Expr, rec: &Record, scratch: &mut String) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|x| eval(x, rec, scratch)),
        Expr::Or(v) => v.iter().any(|x| eval(x, rec, scratch)),
        Expr::Not(x) => !eval(x, rec, scratch),
        Expr::Leaf(Leaf {
            field: None,
            matcher,
        }) => rec
            .fields()
            .any(|f| f.kind != Kind::Null && matcher.matches_value(f.value, f.kind, scratch)),
        Expr::Leaf(Leaf {
            field: Some(name),
            matcher,
        }) => match matcher {
            Matcher::Exists(want) => rec.get(name).is_some() == *want,
            Matcher::Null => {
                rec.get(name).is_none() || values(rec, name).any(|(_, k)| k == Kind::Null)
            }
            Matcher::FieldRef { field, mode, cased } => values(rec, name).any(|(a, _)| {
                values(rec, field).any(|(b, _)| Matcher::matches_ref(*mode, *cased, a, b))
            }),
            m => values(rec, name).any(|(v, k)| k != Kind::Null && m.matches_value(v, k, scratch)),
        },
    }
}

#[test]
fn plan_matches_reference_interpreter_on_real_events() {
    let mut set = RuleSet::new();
    set.load_path(
        &shared().join("sigma/rules/windows"),
        &LoadOptions::default(),
    );
    set.finish();
    assert!(set.rules.len() > 2000);
    let plan = Plan::compile(&set, &Pipeline::passthrough());
    let mut s = plan.scratch();
    let found = discover(&[shared().join("sigma/regression/samples")]);
    let mut records = Vec::new();
    for f in found
        .files
        .iter()
        .filter(|f| f.path.extension().is_some_and(|e| e == "json"))
    {
        f.read(&ReadOptions::default(), &mut |item| {
            if let Item::Doc { doc, .. } = item {
                let mut r = Record::new();
                if yagura_normalize::flatten(doc, &mut r).is_ok() {
                    records.push(r);
                }
            }
        });
    }
    assert!(records.len() > 200, "{} events", records.len());
    let mut scratch = String::new();
    let (mut total, mut mismatches) = (0usize, Vec::new());
    for (i, rec) in records.iter().enumerate() {
        let mut got = Vec::new();
        plan.evaluate(rec, &mut s, &mut got);
        got.sort_unstable();
        let want: Vec<u32> = set
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| eval(&r.rule.detection.condition, rec, &mut scratch))
            .map(|(id, _)| id as u32)
            .collect();
        total += want.len();
        if got != want {
            mismatches.push(format!("event {i}: plan {got:?}, reference {want:?}"));
        }
    }
    assert!(total > 200, "the samples must fire many rules ({total})");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
