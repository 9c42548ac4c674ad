//! `yagura rules lint DIR...`: every rule loaded or rejected, with file, rule id and reason.

use anyhow::Result;
use clap::Args;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use yagura_sigma::rule::Meta;
use yagura_sigma::{Pipeline, Plan, RuleSet};

use yagura_sigma::activity::{inactive_rules, per_logsource, Activity};

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
    /// Print only the rejections and the totals (default: a line for every document).
    #[arg(long, short)]
    quiet: bool,
    /// Also count as served the logsources of this pipeline (YAML, see docs/pipelines.md;
    /// repeatable; `passthrough` serves every rule).
    #[arg(long = "pipeline", value_name = "FILE")]
    pipelines: Vec<String>,
}

/// Runs the lint; exit status 1 when a rule was rejected.
pub fn run(a: LintArgs) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    super::hunt::check_inputs(&a.paths, "no such file or folder")?;
    let mut set = RuleSet::new();
    let opts = super::load_options(a.placeholders.as_deref())?;
    set.load_paths(&a.paths, &opts);
    set.compile_regexes();
    set.finish();
    // One line per document, in file order: `loaded` with its id and title, `rejected` with
    // its id (or title) and the reason.
    let mut lines: Vec<(&std::path::Path, String)> = Vec::new();
    let id = |id: Option<&String>| id.map_or("-", String::as_str).to_owned();
    if !a.quiet {
        let loaded = |file: &std::path::Path, meta: &Meta, kind: &str| {
            let (id, title) = (id(meta.id.as_ref()), &meta.title);
            format!("loaded\t{}\t{id}\t{title}{kind}", file.display())
        };
        for r in &set.rules {
            lines.push((&r.file, loaded(&r.file, &r.rule.meta, "")));
        }
        for c in &set.correlations {
            lines.push((&c.file, loaded(&c.file, &c.rule.meta, " (correlation)")));
        }
        for (f, file) in &set.filters {
            lines.push((file, loaded(file, &f.meta, " (filter)")));
        }
    }
    for e in &set.errors {
        lines.push((
            &e.file,
            format!(
                "rejected\t{}\t{}\t{}",
                e.file.display(),
                id(e.id.as_ref()),
                e.error
            ),
        ));
    }
    // Rules no pipeline serves can never fire: `inactive` lines, and a count per logsource.
    let user = super::hunt::load_pipelines(&a.pipelines)?;
    let mut pipelines: Vec<(&Pipeline, Option<&Activity>)> =
        vec![(Pipeline::windows(), None), (Pipeline::ecs(), None)];
    pipelines.extend(user.iter().map(|p| (p, None)));
    let inactive = inactive_rules(&set, &pipelines);
    if !a.quiet {
        for i in &inactive {
            let file = if i.correlation {
                &set.correlations[i.rule].file
            } else {
                &set.rules[i.rule].file
            };
            let (ls, id, title, shown) = i.describe(&set);
            let why = if i.correlation {
                "its rules can never fire".to_owned()
            } else {
                format!("no pipeline serves {ls}")
            };
            lines.push((file, format!("inactive\t{shown}\t{id}\t{title}\t{why}")));
        }
    }
    lines.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = std::io::stdout().lock();
    for (_, line) in &lines {
        writeln!(out, "{line}")?;
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
    writeln!(
        out,
        "{} files; {} rules, {} correlations, {} filters; active on Windows event logs: {} rules; on ECS documents: {} rules",
        set.files,
        set.rules.len(),
        set.correlations.len(),
        set.filters.len(),
        win.stats().active_rules,
        ecs.stats().active_rules
    )?;
    if !inactive.is_empty() {
        writeln!(
            out,
            "{} rules never active (no pipeline serves their logsource):",
            inactive.len()
        )?;
        for (ls, n) in per_logsource(&set, &inactive) {
            writeln!(out, "  {n:>6}  {ls}")?;
        }
    }
    writeln!(
        out,
        "{} loaded, {} rejected",
        set.loaded(),
        set.errors.len()
    )?;
    Ok(if set.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
