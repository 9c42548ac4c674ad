//! Evaluates the Windows plan (all SigmaHQ rule folders) over the first N events of
//! `../shared/data/evtx/` a few times; for instruction-level profiling with callgrind:
//! `valgrind --tool=callgrind --toggle-collect='*evaluate*' target/release/examples/eval_loop 10000`

use std::path::PathBuf;
use yagura_event::Record;
use yagura_ingest::{discover, Item, ReadOptions};
use yagura_sigma::{LoadOptions, Pipeline, Plan, RuleSet};

fn main() {
    let limit: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(usize::MAX);
    let mut set = RuleSet::new();
    for d in [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-compliance",
    ] {
        set.load_path(
            &PathBuf::from("../shared/sigma").join(d),
            &LoadOptions::default(),
        );
    }
    set.finish();
    let plan = Plan::compile(&set, Pipeline::windows());
    let d = discover(&[PathBuf::from("../shared/data/evtx")]);
    let mut evs = Vec::new();
    'files: for f in &d.files {
        let mut done = false;
        f.read(&ReadOptions { evtx_threads: 1 }, &mut |it| {
            if let Item::Doc { doc, .. } = it {
                let mut r = Record::new();
                if evs.len() < limit && yagura_normalize::flatten(doc, &mut r).is_ok() {
                    evs.push(r);
                }
                done = evs.len() >= limit;
            }
        });
        if done {
            break 'files;
        }
    }
    plan.warm();
    let mut s = plan.scratch();
    let mut out = Vec::new();
    let mut n = 0;
    let t = std::time::Instant::now();
    for _ in 0..3 {
        for r in &evs {
            out.clear();
            plan.evaluate(r, &mut s, &mut out);
            n += out.len();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} events x3, {n} matches, {:.0} events/s",
        evs.len(),
        3.0 * evs.len() as f64 / secs
    );
}
