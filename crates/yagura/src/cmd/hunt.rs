//! `yagura hunt PATH...`: every event of the inputs through the rules, a timeline of detections
//! sorted by time, then a summary.

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use yagura_ingest::{discover_with, IngestError};
use yagura_sigma::rule::Level;
use yagura_sigma::{Pipeline, RuleSet};

use yagura_sigma::activity::{per_logsource, Inactive};

use crate::hunt::correlate::CaptureLog;
use crate::hunt::detection::{Detection, RuleCatalog};
use crate::hunt::labels::{CorrelationStats, Labels, Lang};
use crate::hunt::output::{Format, TableLayout, TimelineWriter};
use crate::hunt::scan::{scan, scan_store, Message, ScanFilter};
use crate::hunt::sorter::Sorter;
use crate::hunt::summary::Summary;
use crate::hunt::time::{parse_bound, Bound};
use yagura_sigma::load::{cache_dir, load_rules};
use yagura_sigma::Detector;

const AFTER_HELP: &str = "\
Output: a table fitted to the terminal width and paged through `less -FRX` when stdout is a
terminal (--no-pager: not paged); otherwise CSV, or JSON lines when --output ends in
.jsonl/.ndjson/.json; --format overrides. The summary goes to stderr when the timeline goes to
stdout (after the pager quits, when the table is paged), to stdout when the timeline goes to
--output.

Damaged input (a truncated or corrupt EVTX chunk or record, a malformed JSON line, an unreadable
archive entry) is skipped; the hunt goes on. Before the summary, one line per damaged file gives
its first reason and how many more it has (-v: every error, as met). Rules that fail to load are
listed there too (file, rule id, reason) and counted; the hunt goes on with the others.

Exit status:
  0  no input errors (whether or not anything was detected)
  1  some input could not be read (the results of everything else are still printed)
  2  usage error (bad option, missing input path or rules folder, --from after --to, no log
     files found, unwritable output)";

/// Arguments of `hunt`.
#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub struct HuntArgs {
    /// Log files and folders (walked recursively): EVTX, JSON/NDJSON, text logs (syslog, auth.log,
    /// access logs, Zeek), gzip, zip.
    #[arg(required_unless_present = "store", value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Hunt the events of the store in DATA_DIR (`yagura import`, `yagura serve`; default
    /// yagura-data) instead of files, over --from/--to. Detections name the stored event
    /// (`store:SEQ`, its `yagura.seq`; `yagura prove SEQ`).
    #[arg(
        long,
        value_name = "DATA_DIR",
        num_args = 0..=1,
        default_missing_value = "yagura-data",
        conflicts_with = "paths"
    )]
    store: Option<PathBuf>,
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
    /// Every input error (default: the first of each damaged file, and how many more), how the
    /// correlations ran, and every rule that could not fire on these inputs (the summary counts
    /// them per logsource).
    #[arg(long, short)]
    verbose: bool,
    /// Do not page the table through `less -FRX` on a terminal.
    #[arg(long)]
    no_pager: bool,
    /// Also write the summary as one JSON object to FILE, with every input error (file,
    /// record, reason), skipped file and rejected rule.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
    /// Detections kept in memory before sorted runs are spilled to temp files.
    #[arg(long, value_name = "N", default_value_t = 100_000, hide = true)]
    sort_buffer: usize,
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(&s.to_ascii_lowercase())
        .ok_or_else(|| "expected informational, low, medium, high or critical".to_owned())
}

/// Runs a hunt. Fatal errors are printed here (in the language of the labels) with exit
/// status 2.
pub fn run(a: HuntArgs) -> Result<ExitCode> {
    let labels = a.lang.unwrap_or_else(Lang::from_env).labels();
    match hunt(a, labels) {
        Err(e) if !is_broken_pipe(&e) => {
            eprintln!("{}: {e:#}", labels.error);
            Ok(ExitCode::from(2))
        }
        other => other,
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Input errors listed in `--summary-json` at most (the count beyond is given).
const MAX_LISTED_ERRORS: usize = 100_000;

/// Input errors grouped per file, in the order first met; each one too for `--summary-json`.
#[derive(Default)]
struct ErrorGroups {
    files: Vec<(String, String, u64)>,
    index: HashMap<String, usize>,
    /// With `--summary-json`: every error (up to [`MAX_LISTED_ERRORS`]).
    listed: Option<Vec<IngestError>>,
    unlisted: u64,
}

impl ErrorGroups {
    fn list(&mut self, e: &IngestError) {
        if let Some(all) = &mut self.listed {
            if all.len() < MAX_LISTED_ERRORS {
                all.push(e.clone());
            } else {
                self.unlisted += 1;
            }
        }
    }

    fn add(&mut self, e: IngestError) {
        match self.index.get(&e.file) {
            Some(&i) => {
                if let Some(g) = self.files.get_mut(i) {
                    g.2 += 1;
                }
            }
            None => {
                let reason = short_reason(&e.reason);
                let reason = match e.record {
                    Some(r) => format!("record {r}: {reason}"),
                    None => reason.to_owned(),
                };
                self.index.insert(e.file.clone(), self.files.len());
                self.files.push((e.file, reason, 1));
            }
        }
    }

    /// One line per damaged file (by path): its first error, and how many more it has; then
    /// what exit status 1 means.
    fn lines(&self, labels: &Labels) -> Vec<String> {
        let mut files: Vec<_> = self.files.iter().collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        let mut lines: Vec<String> = files
            .into_iter()
            .map(|(file, reason, n)| {
                let more = if *n > 1 {
                    format!(" {}", (labels.more_errors)(n - 1))
                } else {
                    String::new()
                };
                format!("{}: {file}: {reason}{more}", labels.input_error)
            })
            .collect();
        if !self.files.is_empty() {
            lines.push((labels.damaged_files)(self.files.len()));
        }
        lines
    }
}

/// The reason of an input error without the byte dumps that follow `found` in EVTX errors.
fn short_reason(reason: &str) -> &str {
    match reason.find(", found `") {
        Some(i) => &reason[..i],
        None => reason,
    }
}

fn hunt(a: HuntArgs, labels: &'static Labels) -> Result<ExitCode> {
    let started = Instant::now();
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
    if let (Some(from), Some(to)) = (filter.from, filter.to) {
        if from > to {
            bail!("{}", labels.from_after_to);
        }
    }
    let input = match &a.store {
        Some(data_dir) => Input::Store(open_store(data_dir, labels)?),
        None => {
            check_inputs(&a.paths, labels.missing_input)?;
            Input::Files
        }
    };
    for dir in &a.rules {
        if !dir.exists() {
            bail!("--rules {}: {}", dir.display(), labels.missing_input);
        }
    }
    let format = output_format(&a);
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let opts = super::load_options(a.placeholders.as_deref())?;
    let user_pipelines = load_pipelines(&a.pipelines)?;
    let found = match &input {
        Input::Files => discover_with(&a.paths, &crate::hunt::text::is_text_log),
        Input::Store(_) => yagura_ingest::Discovery::default(),
    };
    if matches!(input, Input::Files) && found.files.is_empty() && found.errors.is_empty() {
        for s in &found.skipped {
            eprintln!("{}: {}: {}", labels.skipped, s.path.display(), s.reason);
        }
        let paths: Vec<String> = a.paths.iter().map(|p| p.display().to_string()).collect();
        bail!("{}: {}", labels.no_files, paths.join(" "));
    }
    let out = open_output(&a)?;

    // Diagnostics are printed after the timeline, next to the summary (and in the pager with
    // them), so that the first screen is the timeline; `-v` prints input errors as they come.
    let mut diag: Vec<String> = Vec::new();
    let cache = if a.no_rule_cache { None } else { cache_dir() };
    let set = load_rules(
        !a.no_builtin,
        &a.rules,
        &opts,
        cache.as_deref(),
        |file, e| {
            eprintln!(
                "{}",
                (labels.cache_not_written)(&file.display().to_string(), e)
            );
        },
    );
    for e in &set.errors {
        diag.push(format!("{}: {e}", labels.rule_rejected));
    }
    if set.rules.is_empty() {
        diag.push(labels.no_rules.to_owned());
    }
    let catalog = RuleCatalog::of(&set);
    let levels: Vec<Level> = catalog.rules.iter().map(|r| r.level).collect();
    let detector = Detector::with_pipelines(&set, user_pipelines);
    let mut summary = Summary::default();
    summary.rules_loaded = set.rules.len() + set.correlations.len();
    summary.rules_rejected = set.errors.len();

    summary.files = match &input {
        Input::Files => found.files.len(),
        Input::Store(reader) => reader.partitions().len(),
    };
    summary.skipped = found.skipped.len();
    for s in &found.skipped {
        diag.push(format!(
            "{}: {}: {}",
            labels.skipped,
            s.path.display(),
            s.reason
        ));
    }
    let mut errors = ErrorGroups {
        listed: a.summary_json.as_ref().map(|_| Vec::new()),
        ..ErrorGroups::default()
    };
    let verbose = a.verbose;
    let mut report_error = |e: IngestError, progress: &ProgressBar| {
        errors.list(&e);
        if verbose {
            progress.suspend(|| eprintln!("{}: {e}", labels.input_error));
        } else {
            errors.add(e);
        }
    };
    for e in &found.errors {
        summary.errors += 1;
        report_error(e.clone(), &ProgressBar::hidden());
    }

    let progress = match &input {
        Input::Files => progress_bar(&found.files),
        Input::Store(reader) => store_progress_bar(reader),
    };
    let mut live_events = 0u64;
    let mut sorter = Sorter::new(a.sort_buffer, Detection::timeline_cmp);
    let mut captures = CaptureLog::default();
    let mut sort_error = None;
    let collect = |m| match m {
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
        Message::Error(e) => {
            summary.errors += 1;
            report_error(e, &progress);
        }
        Message::Events(n) => {
            live_events += n;
            progress.set_message(format!("{live_events} {}", labels.progress_events));
        }
        Message::FileDone { events, bytes } => {
            summary.events += events;
            live_events = live_events.max(summary.events);
            progress.set_message(format!("{live_events} {}", labels.progress_events));
            progress.inc(bytes);
        }
    };
    let read = match &input {
        Input::Files => {
            scan(&found.files, &detector, &levels, &filter, threads, collect);
            Ok(())
        }
        Input::Store(reader) => scan_store(reader, &detector, &levels, &filter, threads, collect),
    };
    progress.finish_and_clear();
    read.context("cannot read the store")?;
    if let Some(e) = sort_error {
        return Err(e);
    }
    let mut verbose_lines = Vec::new();
    if !captures.is_empty() {
        let (runs, origins) = captures.spilled();
        if runs > 0 {
            verbose_lines.push((labels.correlation_spilled)(runs, origins));
        }
        let (alerts, stats) = captures.correlate(&set)?;
        let mut shown = 0usize;
        for d in alerts {
            if catalog.get(d.rule).level >= a.min_level {
                summary.count(&d, &catalog);
                sorter.push(d)?;
                shown += 1;
            }
        }
        verbose_lines.push((labels.correlation_stats)(&CorrelationStats {
            alerts: shown,
            peak_windows: stats.peak_windows,
            peak_kib: stats.peak_bytes / 1024,
            dropped: stats.dropped_entries,
            refused: stats.refused_groups,
        }));
    }
    diag.extend(errors.lines(labels));
    let summary_json = a.summary_json.as_ref().map(|path| {
        let json = serde_json::json!({
            "detections": summary.detections,
            "by_level": summary.by_level_json(),
            "by_rule": summary.by_rule_json(&catalog),
            "rules_loaded": summary.rules_loaded,
            "rules_rejected": set.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
            "files": summary.files,
            "skipped": found.skipped.iter().map(|s| serde_json::json!({
                "path": s.path.display().to_string(),
                "reason": s.reason,
            })).collect::<Vec<_>>(),
            "events": summary.events,
            "input_errors": summary.errors,
            "damaged_files": errors.files.len(),
            "errors": errors.listed.iter().flatten().map(|e| serde_json::json!({
                "file": e.file,
                "record": e.record,
                "reason": e.reason,
            })).collect::<Vec<_>>(),
            "errors_not_listed": errors.unlisted,
        });
        (path.clone(), json)
    });
    if a.verbose {
        diag.extend(verbose_lines);
    }

    let inactive = detector.inactive();
    summary.never_active = per_logsource(&set, &inactive);
    if a.verbose {
        summary.never_active_list = inactive
            .iter()
            .map(|i| describe_inactive(&set, i, labels))
            .collect();
    }

    let to_stdout = a.output.is_none();
    let layout = TableLayout::fit(terminal_width(to_stdout), summary.file_record_width, labels);
    let pager = match (&out, format) {
        (Output::Stdout, Format::Table) if !a.no_pager && io::stdout().is_terminal() => {
            Pager::start()
        }
        _ => None,
    };
    let print_summary = |summary: &Summary, out: &mut dyn Write, took| -> io::Result<()> {
        for line in &diag {
            writeln!(out, "{line}")?;
        }
        summary.print(out, labels, &catalog, took)
    };
    if let Some(mut pager) = pager {
        // The summary is printed once the pager has quit, so that a user who quits at the
        // first screen still sees it. The time the user spends reading is not the hunt's.
        let took = started.elapsed();
        let result = write_timeline(&mut pager.input, format, &catalog, labels, layout, sorter);
        pager.wait();
        print_summary(&summary, &mut io::stderr().lock(), took)?;
        // Quitting the pager early closes its input: not an error.
        if let Err(e) = result {
            if !is_broken_pipe(&e) {
                return Err(e);
            }
        }
    } else {
        let mut writer: Box<dyn Write> = match out {
            Output::File(f) => Box::new(f),
            Output::Stdout => Box::new(BufWriter::new(io::stdout().lock())),
        };
        match write_timeline(&mut writer, format, &catalog, labels, layout, sorter) {
            Err(e) if is_broken_pipe(&e) => {}
            other => other.context("cannot write the timeline")?,
        }
        drop(writer);
        if to_stdout {
            print_summary(&summary, &mut io::stderr().lock(), started.elapsed())?;
        } else {
            print_summary(&summary, &mut io::stdout().lock(), started.elapsed())?;
        }
    }
    if let Some((path, mut json)) = summary_json {
        json["elapsed_s"] = started.elapsed().as_secs_f64().into();
        let text = serde_json::to_string_pretty(&json)?;
        std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
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

/// `less -FRX` fed the table: it exits at once when the output fits the screen.
struct Pager {
    child: std::process::Child,
    input: BufWriter<std::process::ChildStdin>,
}

impl Pager {
    /// The pager, or `None` when `less` cannot be started (the table is then written as is).
    fn start() -> Option<Self> {
        let mut child = std::process::Command::new("less")
            .arg("-FRX")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        Some(Self {
            child,
            input: BufWriter::new(stdin),
        })
    }

    /// Closes the pager's input and waits for the user to quit it.
    fn wait(self) {
        let Self { mut child, input } = self;
        drop(input);
        let _ = child.wait();
    }
}

/// Terminal columns for the table: `$COLUMNS`, else the terminal's width when the timeline
/// goes to a terminal, else unknown (no fitting).
fn terminal_width(to_stdout: bool) -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return Some(n);
    }
    if !to_stdout || !io::stdout().is_terminal() {
        return None;
    }
    let tty = File::open("/dev/tty").ok()?;
    let out = std::process::Command::new("stty")
        .arg("size")
        .stdin(tty)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|n| *n > 0)
}

/// What a hunt reads: files (`PATH...`) or a store (`--store`).
enum Input {
    Files,
    Store(yagura_store::search::Reader),
}

/// The store of `data_dir` (`DATA_DIR/store`), open for reading.
fn open_store(data_dir: &Path, labels: &Labels) -> Result<yagura_store::search::Reader> {
    let dir = data_dir.join("store");
    if !dir.is_dir() {
        bail!("--store {}: {}", data_dir.display(), labels.missing_input);
    }
    yagura_store::search::Reader::open(&dir)
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))
}

/// A progress bar over the store's events (the partitions' totals) when stderr is a terminal;
/// hidden otherwise.
fn store_progress_bar(reader: &yagura_store::search::Reader) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let total: u64 = reader.partitions().iter().map(|(_, n)| n).sum();
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg} ({per_sec}, {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Fails on the first of `paths` that does not exist; `missing` says so.
pub(crate) fn check_inputs(paths: &[PathBuf], missing: &str) -> Result<()> {
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            bail!("{}: {missing}", p.display());
        }
    }
    Ok(())
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
pub(crate) fn describe_inactive(set: &RuleSet, i: &Inactive, labels: &Labels) -> String {
    let (ls, id, title, file) = i.describe(set);
    let [unserved, unseen, unserved_counted, counted_unseen] = labels.inactive_reasons;
    let why = match (i.correlation, i.unserved) {
        (false, true) => unserved,
        (false, false) => unseen,
        (true, true) => unserved_counted,
        (true, false) => counted_unseen,
    };
    format!("{ls}  {id}  {title}  ({file}; {why})")
}

/// Where the timeline goes.
enum Output {
    File(BufWriter<File>),
    Stdout,
}

/// The timeline format: `--format`, else from the `--output` extension, else a table on a
/// terminal and CSV otherwise.
fn output_format(a: &HuntArgs) -> Format {
    if let Some(f) = a.format {
        return f;
    }
    match &a.output {
        Some(path) => {
            let ext = path
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            match ext.as_str() {
                "jsonl" | "ndjson" | "json" => Format::Jsonl,
                _ => Format::Csv,
            }
        }
        None if io::stdout().is_terminal() => Format::Table,
        None => Format::Csv,
    }
}

/// The timeline destination.
fn open_output(a: &HuntArgs) -> Result<Output> {
    match &a.output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create output file {}", path.display()))?;
            Ok(Output::File(BufWriter::new(file)))
        }
        None => Ok(Output::Stdout),
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

/// Writes the sorted timeline.
fn write_timeline(
    out: &mut dyn Write,
    format: Format,
    catalog: &RuleCatalog,
    labels: &'static Labels,
    layout: TableLayout,
    sorter: Sorter<Detection>,
) -> Result<()> {
    let mut writer = TimelineWriter::new(out, format, catalog, labels, layout);
    writer.header()?;
    for d in sorter.finish()? {
        writer.write(&d?)?;
    }
    Ok(writer.finish()?)
}
