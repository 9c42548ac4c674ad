//! `yagura rules lint DIR...`: every rule loaded or rejected, with file, rule id and reason.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use yagura_sigma::{Pipeline, Plan, RuleSet};

/// Arguments of `rules lint`.
#[derive(Args)]
pub struct LintArgs {
    /// Rule files or folders.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// YAML file of placeholder values for `|expand` (name: [values]); rules using placeholders
    /// that are not defined are rejected.
    #[arg(long, value_name = "FILE")]
    placeholders: Option<PathBuf>,
    /// Print one line per loaded rule too (default: only rejections and totals).
    #[arg(long, short)]
    verbose: bool,
}

/// Runs the lint; exit status 1 when a rule was rejected.
pub fn run(a: LintArgs) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let mut set = RuleSet::new();
    let opts = super::load_options(a.placeholders.as_deref())?;
    set.load_paths(&a.paths, &opts);
    set.compile_regexes();
    set.finish();
    if a.verbose {
        for r in &set.rules {
            println!(
                "loaded\t{}\t{}\t{}",
                r.file.display(),
                r.rule.meta.id.as_deref().unwrap_or("-"),
                r.rule.meta.title
            );
        }
    }
    for e in &set.errors {
        println!(
            "rejected\t{}\t{}\t{}",
            e.file.display(),
            e.id.as_deref().unwrap_or("-"),
            e.error
        );
    }
    let t1 = t0.elapsed();
    let win = Plan::compile(&set, Pipeline::windows());
    let t2 = t0.elapsed();
    let ecs = Plan::compile(&set, Pipeline::ecs());
    if std::env::var_os("YAGURA_TIMING").is_some() {
        eprintln!(
            "load {t1:?} windows plan {:?} ecs plan {:?}",
            t2 - t1,
            t0.elapsed() - t2
        );
    }
    println!(
        "{} files; {} rules, {} correlations, {} filters; active on Windows event logs: {} rules; on ECS documents: {} rules",
        set.files,
        set.rules.len(),
        set.correlations.len(),
        set.filters.len(),
        win.stats().active_rules,
        ecs.stats().active_rules
    );
    println!("{} loaded, {} rejected", set.loaded(), set.errors.len());
    Ok(if set.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
