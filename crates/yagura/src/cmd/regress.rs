//! `yagura rules test MANIFEST --sigma-root DIR`: the SigmaHQ regression contract
//! (`shared/sigma/regression/README.md`). Each manifest line names a rule and a sample; the rule
//! is loaded alone, the sample read through ingest + normalize, and the number of matching events
//! must equal `match_count`.

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use yagura_ingest::{discover, Item, ReadOptions};
use yagura_sigma::{LoadOptions, RuleSet};

use yagura_sigma::Detector;

/// Arguments of `rules test`.
#[derive(Args)]
#[command(
    after_help = "Exit status: 0 when every test passes, 1 when one fails, \
                        2 on a usage error (unreadable manifest, no --sigma-root folder)."
)]
pub struct TestArgs {
    /// Manifest: JSON lines `{name, rule_id, rule_path, sample, format, match_count}`.
    manifest: PathBuf,
    /// Folder that `rule_path` is relative to.
    #[arg(long)]
    sigma_root: PathBuf,
    /// Print only failures and the totals.
    #[arg(long, short)]
    quiet: bool,
}

/// One manifest line.
#[derive(Deserialize)]
struct TestCase {
    name: String,
    rule_id: String,
    rule_path: PathBuf,
    sample: PathBuf,
    #[serde(default)]
    #[allow(dead_code)] // the reader tells EVTX and JSON apart itself
    format: Option<String>,
    match_count: u64,
}

/// What running one test found.
struct Outcome {
    matches: u64,
    problems: Vec<String>,
}

/// Runs the manifest; exit status 1 when a test fails.
pub fn run(a: TestArgs) -> Result<ExitCode> {
    if !a.sigma_root.is_dir() {
        anyhow::bail!("--sigma-root {}: no such folder", a.sigma_root.display());
    }
    let text = std::fs::read_to_string(&a.manifest)
        .with_context(|| format!("cannot read manifest {}", a.manifest.display()))?;
    let base = a.manifest.parent().unwrap_or(Path::new("."));
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut out = std::io::stdout().lock();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: TestCase = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => {
                writeln!(out, "FAIL line {}: not a test case: {e}", n + 1)?;
                failed += 1;
                continue;
            }
        };
        let outcome = run_case(&case, &a.sigma_root, base);
        if outcome.problems.is_empty() && outcome.matches == case.match_count {
            passed += 1;
            if !a.quiet {
                writeln!(
                    out,
                    "PASS {} ({}/{})",
                    case.name, outcome.matches, case.match_count
                )?;
            }
        } else {
            failed += 1;
            writeln!(
                out,
                "FAIL {}: got {}, expected {}",
                case.name, outcome.matches, case.match_count
            )?;
            for p in &outcome.problems {
                writeln!(out, "    {p}")?;
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_case(case: &TestCase, sigma_root: &Path, base: &Path) -> Outcome {
    let mut problems = Vec::new();
    let mut set = RuleSet::new();
    set.load_file(&sigma_root.join(&case.rule_path), &LoadOptions::default());
    set.finish();
    problems.extend(set.errors.iter().map(|e| format!("rule rejected: {e}")));
    let wanted: Vec<bool> = set
        .rules
        .iter()
        .map(|r| r.rule.meta.id.as_deref() == Some(case.rule_id.as_str()))
        .collect();
    if !wanted.contains(&true) {
        problems.push(format!(
            "rule {} not loaded from {}",
            case.rule_id,
            case.rule_path.display()
        ));
        return Outcome {
            matches: 0,
            problems,
        };
    }
    let detector = Detector::compile(&set);
    let mut worker = detector.worker();
    let found = discover(&[base.join(&case.sample)]);
    problems.extend(found.errors.iter().map(|e| format!("input: {e}")));
    let mut matches = 0;
    for file in &found.files {
        file.read(&ReadOptions::default(), &mut |item| match item {
            Item::Doc { loc, doc } => match crate::hunt::evaluate_doc(&mut worker, doc) {
                Ok(_) => {
                    if worker
                        .hits()
                        .iter()
                        .any(|&h| wanted.get(h as usize) == Some(&true))
                    {
                        matches += 1;
                    }
                }
                Err(e) => problems.push(format!("{loc}: {e}")),
            },
            Item::Error(e) => problems.push(format!("input: {e}")),
        });
    }
    Outcome { matches, problems }
}
