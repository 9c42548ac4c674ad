//! Engine-only benchmark: every SigmaHQ rule folder loaded, the Windows plan evaluated on events
//! decoded from the EVTX files of `../shared/data/evtx/` (decoding is done before timing).
//!
//! Groups:
//! - `engine/bind_floor`: touching every field of every record once (the floor any evaluator
//!   pays to look at an event);
//! - `engine/evaluate`: the full plan (bucket lookup, automata, rule programs).
//!
//! Run: `cargo bench -p yagura-sigma --bench engine` (single-threaded: one core).
//! `bench/engine.sh` runs it and prints events/s and peak memory.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::{Path, PathBuf};
use std::time::Instant;
use yagura_event::Record;
use yagura_ingest::{discover, Item, ReadOptions};
use yagura_sigma::{LoadOptions, Pipeline, Plan, RuleSet};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn load_events() -> Vec<Record> {
    let d = discover(&[shared().join("data/evtx")]);
    let mut out = Vec::new();
    let opts = ReadOptions { evtx_threads: 1 };
    for f in &d.files {
        f.read(&opts, &mut |item| {
            if let Item::Doc { doc, .. } = item {
                let mut r = Record::new();
                if yagura_normalize::flatten(doc, &mut r).is_ok() {
                    out.push(r);
                }
            }
        });
    }
    out
}

fn load_rules() -> RuleSet {
    let mut set = RuleSet::new();
    let root = shared().join("sigma");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|p| {
        p.is_dir()
            && p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("rules"))
    });
    dirs.sort();
    for d in dirs {
        set.load_path(&d, &LoadOptions::default());
    }
    set.finish();
    set
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let set = load_rules();
    let plan = Plan::compile(&set, Pipeline::windows());
    let automata = plan.warm();
    let startup = t.elapsed();
    let events = load_events();
    let mut scratch = plan.scratch();
    let mut hits = Vec::new();
    let mut detections = 0usize;
    for r in &events {
        hits.clear();
        plan.evaluate(r, &mut scratch, &mut hits);
        detections += hits.len();
    }
    eprintln!(
        "engine: {} rules loaded ({} rejected), {} active on Windows events; {} events; {} detections; startup {:?}; automata {} KiB",
        set.loaded(),
        set.errors.len(),
        plan.stats().active_rules,
        events.len(),
        detections,
        startup,
        automata / 1024
    );

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    g.bench_function("bind_floor", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &events {
                for f in r.fields() {
                    n += f.key.len() ^ f.value.len();
                }
            }
            n
        })
    });
    g.bench_function("evaluate", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &events {
                hits.clear();
                plan.evaluate(r, &mut scratch, &mut hits);
                n += hits.len();
            }
            n
        })
    });
    g.finish();
    eprintln!(
        "engine: peak RSS {} MiB (rules, plan, automata and the decoded events)",
        peak_rss_kib() / 1024
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
