//! Loads rule folders, compiles the Windows plan and prints timings and plan statistics.
//!
//! `cargo run --release -p yagura-sigma --example plan_stats -- ../shared/sigma/rules`

use std::path::PathBuf;
use std::time::Instant;
use yagura_sigma::{LoadOptions, Pipeline, Plan, RuleSet};

fn main() {
    let t0 = Instant::now();
    let mut set = RuleSet::new();
    for p in std::env::args().skip(1) {
        set.load_path(&PathBuf::from(p), &LoadOptions::default());
    }
    set.finish();
    let t1 = t0.elapsed();
    let plan = Plan::compile(&set, Pipeline::windows());
    let t2 = t0.elapsed();
    let bytes = plan.warm();
    let t3 = t0.elapsed();
    println!(
        "rules loaded {} rejected {}",
        set.loaded(),
        set.errors.len()
    );
    println!(
        "load {:?}  compile {:?}  build all automata {:?} ({} KiB)",
        t1,
        t2 - t1,
        t3 - t2,
        bytes / 1024
    );
    println!("{:#?}", plan.stats());
}
