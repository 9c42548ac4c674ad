//! `yagura hunt PATH...`: every event of the inputs through the rules, a timeline of detections
//! sorted by time, then a summary.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use yagura_ingest::discover_with;
use yagura_sigma::rule::Level;
use yagura_sigma::{Pipeline, RuleSet};

use crate::hunt::activity::{per_logsource, Inactive};

use crate::hunt::correlate::CaptureLog;
use crate::hunt::detection::{Detection, RuleCatalog};
use crate::hunt::detector::Detector;
use crate::hunt::labels::Lang;
use crate::hunt::output::{Format, TimelineWriter};
use crate::hunt::rules_source::{cache_dir, load_rules};
use crate::hunt::scan::{scan, Message, ScanFilter};
use crate::hunt::sorter::Sorter;
use crate::hunt::summary::Summary;
use crate::hunt::time::{parse_bound, Bound};

const AFTER_HELP: &str = "\
Output: a table when stdout is a terminal; otherwise CSV, or JSON lines when --output ends in
.jsonl/.ndjson/.json; --format overrides. The summary goes to stderr when the timeline goes to
stdout, to stdout when the timeline goes to --output.

Damaged input (a truncated or corrupt EVTX chunk or record, a malformed JSON line, an unreadable
archive entry) is reported on stderr with file, record and reason, and skipped; the hunt goes on.
Rules that fail to load are reported on stderr (file, rule id, reason) and counted; the hunt goes
on with the others.

Exit status:
  0  no input errors (whether or not anything was detected)
  1  some input could not be read (the results of everything else are still printed)
  2  fatal usage error (bad option, missing rules folder, unwritable output)";

/// Arguments of `hunt`.
#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub struct HuntArgs {
    /// Log files and folders (walked recursively): EVTX, JSON/NDJSON, text logs (syslog, auth.log,
    /// access logs, Zeek), gzip, zip.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Sigma rule folder or file to load (repeatable), next to the built-in pack.
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Do not load the built-in rule pack.
    #[arg(long)]
    no_builtin: bool,
    /// YAML file of placeholder values for `|expand` (name: [values]).
    #[arg(long, value_name = "FILE")]
    placeholders: Option<PathBuf>,
    /// Parse every rule file, without the cache of their YAML (kept in $YAGURA_CACHE_DIR,
    /// else $XDG_CACHE_HOME/yagura, else ~/.cache/yagura).
    #[arg(long)]
    no_rule_cache: bool,
    /// Report only rules of this level or above (informational < low < medium < high < critical).
    #[arg(long, value_name = "LEVEL", value_parser = parse_level, default_value = "informational")]
    min_level: Level,
    /// Only events at or after this time (RFC 3339, or YYYY-MM-DD for the start of that day, UTC).
    #[arg(long, value_name = "T")]
    from: Option<String>,
    /// Only events at or before this time (RFC 3339, or YYYY-MM-DD for the whole day, UTC).
    #[arg(long, value_name = "T")]
    to: Option<String>,
    /// Timeline format.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write the timeline to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, short = 't', value_name = "N")]
    threads: Option<usize>,
    /// Language of the labels (default: Japanese when LC_ALL/LANG starts with "ja").
    #[arg(long, value_enum)]
    lang: Option<Lang>,
    /// Add a processing pipeline (YAML, see docs/pipelines.md; repeatable): its plan runs on
    /// every event next to the built-in ones. `passthrough` runs every rule on every event with
    /// the rule's field names unchanged.
    #[arg(long = "pipeline", value_name = "FILE")]
    pipelines: Vec<String>,
    /// List every rule that could not fire on these inputs (the summary counts them per
    /// logsource).
    #[arg(long, short)]
    verbose: bool,
    /// Detections kept in memory before sorted runs are spilled to temp files.
    #[arg(long, value_name = "N", default_value_t = 100_000, hide = true)]
    sort_buffer: usize,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(&s.to_ascii_lowercase())
        .ok_or_else(|| "expected informational, low, medium, high or critical".to_owned())
}

/// Runs a hunt.
pub fn run(a: HuntArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let labels = a.lang.unwrap_or_else(Lang::from_env).labels();
    let filter = ScanFilter {
        min_level: a.min_level,
        from: a
            .from
            .as_deref()
            .map(|t| parse_bound(t, Bound::Start))
            .transpose()?,
        to: a
            .to
            .as_deref()
            .map(|t| parse_bound(t, Bound::End))
            .transpose()?,
    };
    for dir in &a.rules {
        if !dir.exists() {
            bail!("rules folder {} does not exist", dir.display());
        }
    }
    let (out, format) = open_output(&a)?;
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let opts = super::load_options(a.placeholders.as_deref())?;
    let cache = if a.no_rule_cache { None } else { cache_dir() };
    let set = load_rules(!a.no_builtin, &a.rules, &opts, cache.as_deref());
    for e in &set.errors {
        eprintln!("rule rejected: {e}");
    }
    if set.rules.is_empty() {
        eprintln!("warning: no detection rules loaded (use --rules DIR)");
    }
    let catalog = RuleCatalog::of(&set);
    let levels: Vec<Level> = catalog.rules.iter().map(|r| r.level).collect();
    let user_pipelines = load_pipelines(&a.pipelines)?;
    let detector = Detector::with_pipelines(&set, user_pipelines);
    let mut summary = Summary::default();
    summary.rules_loaded = set.rules.len() + set.correlations.len();
    summary.rules_rejected = set.errors.len();

    let found = discover_with(&a.paths, &crate::hunt::text::is_text_log);
    summary.files = found.files.len();
    summary.skipped = found.skipped.len();
    for s in &found.skipped {
        eprintln!("skipped: {}: {}", s.path.display(), s.reason);
    }
    for e in &found.errors {
        eprintln!("input error: {e}");
        summary.errors += 1;
    }

    let progress = progress_bar(&found.files);
    let mut live_events = 0u64;
    let mut sorter = Sorter::new(a.sort_buffer, Detection::timeline_cmp);
    let mut captures = CaptureLog::default();
    let mut sort_error = None;
    scan(
        &found.files,
        &detector,
        &levels,
        &filter,
        threads,
        |m| match m {
            Message::Detection(d) => {
                summary.count(&d, &catalog);
                if sort_error.is_none() {
                    if let Err(e) = sorter.push(d) {
                        sort_error = Some(e);
                    }
                }
            }
            Message::Capture(ts, capture, origin) => {
                if sort_error.is_none() {
                    if let Err(e) = captures.push(ts, capture, origin) {
                        sort_error = Some(e);
                    }
                }
            }
            Message::Error(text) => {
                summary.errors += 1;
                progress.suspend(|| eprintln!("input error: {text}"));
            }
            Message::Events(n) => {
                live_events += n;
                progress.set_message(format!("{live_events} events"));
            }
            Message::FileDone { events, bytes } => {
                summary.events += events;
                live_events = live_events.max(summary.events);
                progress.set_message(format!("{live_events} events"));
                progress.inc(bytes);
            }
        },
    );
    progress.finish_and_clear();
    if let Some(e) = sort_error {
        return Err(e);
    }
    if !captures.is_empty() {
        let (runs, origins) = captures.spilled();
        if runs > 0 {
            eprintln!(
                "correlation: matches sorted in {runs} runs on disk, {origins} event origins on disk (memory bound)"
            );
        }
        let (alerts, stats) = captures.correlate(&set)?;
        for d in alerts {
            if catalog.get(d.rule).level >= a.min_level {
                summary.count(&d, &catalog);
                sorter.push(d)?;
            }
        }
        eprintln!(
            "correlation: {} alerts; peak {} open windows, ~{} KiB; {} entries dropped, {} groups refused (memory bounds)",
            stats.alerts,
            stats.peak_windows,
            stats.peak_bytes / 1024,
            stats.dropped_entries,
            stats.refused_groups
        );
    }

    let inactive = detector.inactive();
    summary.never_active = per_logsource(&set, &inactive);
    if a.verbose {
        summary.never_active_list = inactive
            .iter()
            .map(|i| describe_inactive(&set, i))
            .collect();
    }

    let to_stdout = a.output.is_none();
    write_timeline(out, format, &catalog, labels, sorter)?;
    let elapsed = started.elapsed();
    if to_stdout {
        summary.print(&mut io::stderr().lock(), labels, &catalog, elapsed)?;
    } else {
        summary.print(&mut io::stdout().lock(), labels, &catalog, elapsed)?;
    }
    // The process ends here: freeing the rules, the plan and its automata one allocation at a
    // time took ~60 ms, for memory the OS takes back at once.
    std::mem::forget(detector);
    std::mem::forget(catalog);
    std::mem::forget(set);
    Ok(if summary.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The pipelines of `--pipeline`: `passthrough`, or YAML files.
pub(crate) fn load_pipelines(names: &[String]) -> Result<Vec<Pipeline>> {
    names
        .iter()
        .map(|name| {
            if name == "passthrough" {
                return Ok(Pipeline::passthrough());
            }
            let text = std::fs::read_to_string(name)
                .with_context(|| format!("cannot read pipeline {name}"))?;
            Ok(Pipeline::from_yaml(name, &text)?)
        })
        .collect()
}

/// One line for a rule that cannot fire: logsource, id, title, file, why.
pub(crate) fn describe_inactive(set: &RuleSet, i: &Inactive) -> String {
    let (ls, id, title, file) = i.describe(set);
    let why = match (i.correlation, i.unserved) {
        (false, true) => "no pipeline serves its logsource",
        (false, false) => "no input event of its logsource",
        (true, true) => "no pipeline serves the rules it counts",
        (true, false) => "the rules it counts could not fire",
    };
    format!("{ls}  {id}  {title}  ({file}; {why})")
}

/// The timeline destination and its format.
fn open_output(a: &HuntArgs) -> Result<(Box<dyn Write>, Format)> {
    match &a.output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?;
            let ext = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            let default = match ext.as_str() {
                "jsonl" | "ndjson" | "json" => Format::Jsonl,
                _ => Format::Csv,
            };
            Ok((Box::new(BufWriter::new(file)), a.format.unwrap_or(default)))
        }
        None => {
            let stdout = io::stdout();
            let default = if stdout.is_terminal() {
                Format::Table
            } else {
                Format::Csv
            };
            Ok((
                Box::new(BufWriter::new(stdout.lock())),
                a.format.unwrap_or(default),
            ))
        }
    }
}

/// A progress bar over input bytes when stderr is a terminal; hidden otherwise.
fn progress_bar(files: &[yagura_ingest::InputFile]) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
        .sum();
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} ({bytes_per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Writes the sorted timeline. A closed pipe (`| head`) ends the output quietly.
fn write_timeline(
    out: Box<dyn Write>,
    format: Format,
    catalog: &RuleCatalog,
    labels: &'static crate::hunt::labels::Labels,
    sorter: Sorter<Detection>,
) -> Result<()> {
    let mut writer = TimelineWriter::new(out, format, catalog, labels);
    let result = (|| -> Result<()> {
        writer.header()?;
        for d in sorter.finish()? {
            writer.write(&d?)?;
        }
        Ok(writer.finish()?)
    })();
    match result {
        Err(e)
            if e.downcast_ref::<io::Error>()
                .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        other => other.context("cannot write the timeline"),
    }
}
