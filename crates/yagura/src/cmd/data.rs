//! `yagura dump` (the stored events) and `yagura deadletter list|replay` (refused records).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use yagura_collect::deadletter;
use yagura_collect::raw::{now_ms, Batch, Envelope, Format};
use yagura_collect::wal::{FileWal, Wal};

/// Arguments of `dump`.
#[derive(Args)]
pub struct DumpArgs {
    /// Data folder.
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
}

/// Prints every stored event as one JSON line, in arrival order.
pub fn dump(a: DumpArgs) -> Result<ExitCode> {
    let dir = a.data_dir.join("store");
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut err = None;
    let mut write = |line: &[u8]| {
        if err.is_none() {
            if let Err(e) = out.write_all(line).and_then(|_| out.write_all(b"\n")) {
                err = Some(e);
            }
        }
    };
    // The indexed store; a data folder of an older version keeps its journal.
    let journal = dir.join("journal");
    let mut n = yagura_store::store::for_each_event(&dir, &mut write)?;
    if journal.exists() {
        n += yagura_store::read_events(&journal, |l| write(l.as_bytes()))?;
    }
    if let Some(e) = err {
        return Err(e.into());
    }
    out.flush()?;
    eprintln!("{n} events");
    Ok(ExitCode::SUCCESS)
}

/// `deadletter` subcommands.
#[derive(Subcommand)]
pub enum DeadletterCommand {
    /// List dead letters: time, listener, source, reason, and the start of the data.
    List(DeadletterArgs),
    /// Send dead letters back through the write-ahead log as text records (serve must be
    /// stopped: the data folder is locked while it runs). Replayed letters leave the file.
    Replay(ReplayArgs),
}

/// Arguments of `deadletter list`.
#[derive(Args)]
pub struct DeadletterArgs {
    /// Data folder.
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
    /// Print each dead letter as its JSON line.
    #[arg(long)]
    json: bool,
}

/// Arguments of `deadletter replay`.
#[derive(Args)]
pub struct ReplayArgs {
    /// Data folder.
    #[arg(long, value_name = "DIR", default_value = "yagura-data")]
    data_dir: PathBuf,
    /// Only dead letters from this listener.
    #[arg(long, value_name = "NAME")]
    listener: Option<String>,
    /// Source type to give the replayed records.
    #[arg(long, value_name = "TYPE", default_value = "auto")]
    source_type: String,
}

fn file(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("deadletter").join("deadletter.ndjson")
}

/// Runs a `deadletter` subcommand.
pub fn deadletter(cmd: DeadletterCommand) -> Result<ExitCode> {
    match cmd {
        DeadletterCommand::List(a) => {
            let path = file(&a.data_dir);
            let all = deadletter::read_all(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut bad = 0;
            let mut per_source = std::collections::BTreeMap::<(String, String), u64>::new();
            for l in &all {
                match l {
                    Ok(l) => {
                        *per_source
                            .entry((l.listener.clone(), l.source.clone()))
                            .or_default() += 1;
                        if a.json {
                            writeln!(out, "{}", serde_json::to_string(l)?)?;
                        } else {
                            let data = String::from_utf8_lossy(&l.bytes())
                                .replace(['\n', '\r', '\t'], " ");
                            let head: String = data.chars().take(60).collect();
                            writeln!(
                                out,
                                "{}\t{}\t{}\t{}\t{head}",
                                crate::hunt::time::format_utc(l.time_ms),
                                l.listener,
                                l.source,
                                l.reason
                            )?;
                        }
                    }
                    Err(e) => {
                        bad += 1;
                        eprintln!("damaged dead letter: {e}");
                    }
                }
            }
            out.flush()?;
            for ((listener, source), n) in &per_source {
                eprintln!("{n} dead letters from {source} on {listener}");
            }
            eprintln!("{} dead letters", all.len() - bad);
            Ok(if bad > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        DeadletterCommand::Replay(a) => {
            let path = file(&a.data_dir);
            let all = deadletter::read_all(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let _lock = yagura_collect::lock_data_dir(&a.data_dir)
                .context("stop `yagura serve` before replaying dead letters")?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (wal, _) = FileWal::open(
                &a.data_dir.join("wal"),
                yagura_collect::wal::WalOptions::default(),
                &mut |_, _| {},
            )?;
            let mut batch = Batch::new();
            let mut keep = Vec::new();
            let now = now_ms();
            for l in all.into_iter().flatten() {
                if a.listener.as_ref().is_some_and(|x| *x != l.listener) {
                    keep.push(l);
                    continue;
                }
                let bytes = l.bytes();
                let text = String::from_utf8_lossy(&bytes);
                batch.push(
                    &Envelope::received(
                        "replay",
                        &a.source_type,
                        &l.source,
                        "",
                        &l.listener,
                        now,
                        Format::Text,
                    ),
                    text.as_bytes(),
                );
            }
            let n = batch.len();
            if n > 0 {
                let ticket = wal
                    .try_append(batch)
                    .map_err(|_| anyhow::anyhow!("the write-ahead log refused the batch"))?;
                rt.block_on(ticket)
                    .context("writer stopped")?
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            wal.close();
            deadletter::rewrite(&path, &keep)?;
            eprintln!("{n} dead letters replayed, {} kept", keep.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}
