//! `yagura import`, `search`, `verify`, `prove`, `verify-proof`: the store from the command
//! line. Everything here is wiring; the store, its queries and its proofs live in
//! `yagura-store`.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use yagura_normalize::parse::SourceType;
use yagura_store::import::{import, ImportMode};
use yagura_store::proof::{verify_proof, Proof};
use yagura_store::query::{self, Table};
use yagura_store::search::{Reader, SearchOptions};
use yagura_store::store::{Store, StoreConfig};
use yagura_store::verify::{parse_public_key, prove, store_public_key, verify};

fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("store")
}

/// Arguments of `import`.
#[derive(Args)]
pub struct ImportArgs {
    /// Files or folders: EVTX, JSON/NDJSON, text logs, gzip/zip of them.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Data folder (the one `yagura serve` uses; not while it runs).
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
    /// Source type of every record (default: detected per record).
    #[arg(long, value_name = "TYPE")]
    source_type: Option<String>,
    /// The files are ECS documents already (NDJSON with `@timestamp`): stored as they are.
    #[arg(long, conflicts_with = "source_type")]
    ecs: bool,
}

/// Loads files into the store.
pub fn import_cmd(a: ImportArgs) -> Result<ExitCode> {
    let mode = if a.ecs {
        ImportMode::Ecs
    } else {
        let st = match a.source_type.as_deref() {
            None => SourceType::Auto,
            Some(s) => {
                SourceType::parse_name(s).with_context(|| format!("unknown source type `{s}`"))?
            }
        };
        ImportMode::Normalize(st)
    };
    let dir = store_dir(&a.data_dir);
    let mut store = Store::open(&dir, StoreConfig::bulk())
        .with_context(|| format!("cannot open the store in {}", dir.display()))?;
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let t = std::time::Instant::now();
    let report = import(&a.paths, mode, &mut store, &mut |n| {
        bar.set_message(format!("{n} events stored"));
        bar.tick();
    })?;
    store.close()?;
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    for e in &report.errors {
        eprintln!("error: {e}");
    }
    println!(
        "imported {} events from {} files in {:.1} s ({:.0} events/s); {} not understood by any parser, {} errors",
        report.events,
        report.files,
        secs,
        report.events as f64 / secs.max(1e-9),
        report.unparsed,
        report.errors.len()
    );
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Output formats of `search`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated, with a header.
    Csv,
}

/// Arguments of `search`.
#[derive(Args)]
pub struct SearchArgs {
    /// The query, e.g. `source.ip == "10.0.0.5" | stats count() by user.name` (docs/query.md).
    query: String,
    /// Data folder.
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
    /// Events at or after T (RFC 3339, `2026-03-01`, or relative: `-24h`, `-7d`).
    #[arg(long, value_name = "T")]
    from: Option<String>,
    /// Events before T.
    #[arg(long, value_name = "T")]
    to: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Events at most when the query has no `head` (0: all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Parses a time flag: absolute, or relative to now (`-24h`, `-30m`, `-7d`, `now`).
fn time_flag(s: &str) -> Result<i64> {
    let now = yagura_store::store::now_ms();
    if s == "now" {
        return Ok(now);
    }
    if let Some(rel) = s.strip_prefix('-') {
        let (num, unit) = rel.split_at(rel.len().saturating_sub(1));
        let n: i64 = num
            .parse()
            .with_context(|| format!("bad relative time `{s}`"))?;
        let ms = match unit {
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => bail!("bad relative time `{s}` (use s, m, h or d)"),
        };
        return Ok(now - n * ms);
    }
    query::parse_time(s).with_context(|| format!("`{s}` is not a time (RFC 3339 or YYYY-MM-DD)"))
}

fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn print_table(t: &Table, format: Format) -> Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match format {
        Format::Jsonl => {
            for r in &t.rows {
                let obj: serde_json::Map<String, serde_json::Value> = t
                    .columns
                    .iter()
                    .cloned()
                    .zip(r.iter().cloned())
                    .filter(|(_, v)| !v.is_null())
                    .collect();
                writeln!(out, "{}", serde_json::Value::Object(obj))?;
            }
        }
        Format::Csv => {
            let esc = |s: String| {
                if s.contains([',', '"', '\n']) {
                    format!("\"{}\"", s.replace('"', "\"\""))
                } else {
                    s
                }
            };
            writeln!(
                out,
                "{}",
                t.columns
                    .iter()
                    .cloned()
                    .map(esc)
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for r in &t.rows {
                writeln!(
                    out,
                    "{}",
                    r.iter().map(|v| esc(cell(v))).collect::<Vec<_>>().join(",")
                )?;
            }
        }
        Format::Table => {
            const MAX: usize = 60;
            let cells: Vec<Vec<String>> = t
                .rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| {
                            let s = cell(v).replace('\n', " ");
                            if s.chars().count() > MAX {
                                let cut: String = s.chars().take(MAX - 1).collect();
                                format!("{cut}…")
                            } else {
                                s
                            }
                        })
                        .collect()
                })
                .collect();
            let width = |s: &str| s.chars().count();
            let mut w: Vec<usize> = t.columns.iter().map(|c| width(c)).collect();
            for r in &cells {
                for (i, c) in r.iter().enumerate() {
                    if let Some(x) = w.get_mut(i) {
                        *x = (*x).max(width(c));
                    }
                }
            }
            let line = |cols: &[String]| {
                cols.iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let pad = w.get(i).copied().unwrap_or(0).saturating_sub(width(c));
                        format!("{c}{}", " ".repeat(pad))
                    })
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_owned()
            };
            writeln!(out, "{}", line(&t.columns))?;
            for r in &cells {
                writeln!(out, "{}", line(r))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Runs a query over the store.
pub fn search_cmd(a: SearchArgs) -> Result<ExitCode> {
    let q = match query::parse(&a.query) {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: query: {e}\n{}", e.caret(&a.query));
            return Ok(ExitCode::from(2));
        }
    };
    let o = SearchOptions {
        from_ms: a.from.as_deref().map(time_flag).transpose()?,
        to_ms: a.to.as_deref().map(time_flag).transpose()?,
    };
    let dir = store_dir(&a.data_dir);
    if !dir.join("log").exists() {
        bail!(
            "{}: no store here (run `yagura import` or `yagura serve` first)",
            dir.display()
        );
    }
    let reader = Reader::open(&dir)?;
    let t = std::time::Instant::now();
    let limit = (a.limit > 0).then_some(a.limit);
    let (table, stats) = reader.run(&q, &o, limit)?;
    print_table(&table, a.format)?;
    if std::io::stderr().is_terminal() {
        eprintln!(
            "{} rows in {:.0} ms ({} partitions, {} events matched by the index{})",
            table.rows.len(),
            t.elapsed().as_secs_f64() * 1000.0,
            stats.partitions,
            stats.candidates,
            if stats.exact {
                ""
            } else {
                ", then checked one by one"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// Data folder.
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
    /// The public key to trust (hex, or a file holding it); default: the store's own
    /// `store/keys/signing.pub` (keep a copy elsewhere: a store's own key proves nothing to
    /// whoever could rewrite the store).
    #[arg(long, value_name = "HEX|FILE")]
    public_key: Option<String>,
}

fn key_arg(k: Option<&str>, dir: &Path) -> Result<[u8; 32]> {
    match k {
        None => Ok(store_public_key(dir)?),
        Some(s) => {
            let text = if Path::new(s).is_file() {
                std::fs::read_to_string(s).with_context(|| format!("cannot read {s}"))?
            } else {
                s.to_owned()
            };
            parse_public_key(&text).with_context(|| format!("`{s}`: not a hex ed25519 public key"))
        }
    }
}

/// Recomputes every hash and signature of the store.
pub fn verify_cmd(a: VerifyArgs) -> Result<ExitCode> {
    let dir = store_dir(&a.data_dir);
    let key = key_arg(a.public_key.as_deref(), &dir)?;
    let r = verify(&dir, &key)?;
    for p in &r.problems {
        println!("FAIL {p}");
    }
    for n in &r.notes {
        println!("note: {n}");
    }
    println!(
        "{}: {} events in {} blocks, {} log leaves, {} signed heads, {} partitions deleted by retention (signed)",
        if r.ok() { "verified" } else { "VERIFICATION FAILED" },
        r.events,
        r.blocks,
        r.leaves,
        r.heads,
        r.deleted_partitions
    );
    Ok(if r.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Arguments of `prove`.
#[derive(Args)]
pub struct ProveArgs {
    /// The event's id (`yagura.seq`, shown by `search`).
    event: u64,
    /// Data folder.
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
}

/// Prints an event's inclusion proof (JSON, docs/integrity.md).
pub fn prove_cmd(a: ProveArgs) -> Result<ExitCode> {
    let p = prove(&store_dir(&a.data_dir), a.event)?;
    println!("{}", p.to_json());
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `verify-proof`.
#[derive(Args)]
pub struct VerifyProofArgs {
    /// The proof file (`-` for standard input).
    proof: PathBuf,
    /// The installation's public key (hex, or a file holding it).
    #[arg(long, value_name = "HEX|FILE")]
    public_key: String,
}

/// Checks a proof with the public key alone.
pub fn verify_proof_cmd(a: VerifyProofArgs) -> Result<ExitCode> {
    let text = if a.proof.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&a.proof)
            .with_context(|| format!("cannot read {}", a.proof.display()))?
    };
    let key = key_arg(Some(&a.public_key), Path::new(""))?;
    let p = Proof::from_json(&text).context("not a proof")?;
    match verify_proof(&p, &key) {
        Ok(v) => {
            println!(
                "valid: the event is record {} of a block of partition {} (first yagura.seq {}), in a log of {} leaves signed at {}",
                v.event_index,
                v.partition,
                v.first_seq,
                v.tree_size,
                query::format_time(v.timestamp_ms)
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("INVALID: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Arguments of `usage`.
#[derive(Args)]
pub struct UsageArgs {
    /// Data folder.
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Disk use per source.
pub fn usage_cmd(a: UsageArgs) -> Result<ExitCode> {
    let rows = yagura_store::store::usage(&store_dir(&a.data_dir))?;
    let t = Table {
        columns: [
            "source",
            "partitions",
            "events",
            "block_bytes",
            "index_bytes",
            "bytes_per_event",
            "first_day",
            "last_day",
            "dropped_partitions",
            "dropped_events",
        ]
        .map(String::from)
        .to_vec(),
        rows: rows
            .iter()
            .map(|u| {
                let per = (u.block_bytes + u.index_bytes) as f64 / u.events.max(1) as f64;
                vec![
                    u.source.clone().into(),
                    u.partitions.into(),
                    u.events.into(),
                    u.block_bytes.into(),
                    u.index_bytes.into(),
                    ((per * 10.0).round() / 10.0).into(),
                    u.first_day.clone().into(),
                    u.last_day.clone().into(),
                    u.dropped_partitions.into(),
                    u.dropped_events.into(),
                ]
            })
            .collect(),
    };
    print_table(&t, a.format)?;
    Ok(ExitCode::SUCCESS)
}
