//! `yagura serve`: the listeners, the write-ahead log and the indexer that feeds the store,
//! in one process. Configuration: TOML (`--config`), overridden by flags.

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use yagura_collect::config::CollectConfig;
use yagura_collect::wal::{Fsync, Wal};
use yagura_store::{Indexer, Store};

const AFTER_HELP: &str = "\
With no configuration, Yagura keeps its data in ./yagura-data and listens on 127.0.0.1:
  HTTP 8088   POST /api/v1/ingest (NDJSON), Splunk HEC (/services/collector/event, /raw, /ack),
              Elasticsearch _bulk (/_bulk), OTLP/HTTP logs (/v1/logs), /metrics, /healthz
  syslog      UDP 5514, TCP 5514 (newline or octet counted), TLS 6514 (with --tls-cert/--tls-key)
A listener address of \"off\" turns it off. Every bound address is printed on stdout as
`listening <name> <address>` once the server is ready. See docs/serve.md.";

/// Arguments of `serve`.
#[derive(Args)]
#[command(after_help = AFTER_HELP)]
pub struct ServeArgs {
    /// TOML configuration file (docs/serve.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data folder (write-ahead log, store, dead letters).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP address (every HTTP endpoint), or "off".
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// Syslog UDP address, or "off".
    #[arg(long, value_name = "ADDR")]
    syslog_udp: Option<String>,
    /// Syslog TCP address, or "off".
    #[arg(long, value_name = "ADDR")]
    syslog_tcp: Option<String>,
    /// Syslog TLS address, or "off".
    #[arg(long, value_name = "ADDR")]
    syslog_tls: Option<String>,
    /// PEM certificate chain for syslog TLS.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for syslog TLS.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Write-ahead log sync policy: always (default), interval, never.
    #[arg(long, value_name = "POLICY", value_parser = parse_fsync)]
    fsync: Option<Fsync>,
}

fn parse_fsync(s: &str) -> Result<Fsync, String> {
    match s {
        "always" => Ok(Fsync::Always),
        "interval" => Ok(Fsync::Interval),
        "never" => Ok(Fsync::Never),
        _ => Err("expected always, interval or never".into()),
    }
}

/// The whole configuration file: `data_dir`, `[store]`, and collection's sections.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    data_dir: Option<PathBuf>,
    #[serde(default)]
    store: StoreConfig,
    #[serde(default)]
    wal: yagura_collect::config::WalConfig,
    #[serde(default)]
    http: yagura_collect::config::HttpConfig,
    #[serde(default)]
    hec: yagura_collect::config::HecConfig,
    #[serde(default)]
    syslog: yagura_collect::config::SyslogConfig,
    #[serde(default)]
    tail: Vec<yagura_collect::tail::TailSpec>,
    max_record_kib: Option<usize>,
    quiet_after_secs: Option<u64>,
    tail_poll_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct StoreConfig {
    /// Accepted for older configurations; the store is synced at every flush.
    fsync: bool,
    /// Retention of every source without its own (`{ days = 90 }`, `{ bytes = 50_000_000_000 }`).
    retention: yagura_store::Limit,
    /// Retention per source (`event.module`: `system`, `windows`, `nginx`, …).
    retention_by_source: std::collections::BTreeMap<String, yagura_store::Limit>,
}

fn off(addr: String) -> String {
    if addr.eq_ignore_ascii_case("off") {
        String::new()
    } else {
        addr
    }
}

/// Loads the file and applies the flags.
fn configure(a: ServeArgs) -> Result<(PathBuf, CollectConfig, StoreConfig)> {
    let file: Config = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read configuration {}", p.display()))?;
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
        }
        None => Config::default(),
    };
    let d = CollectConfig::default();
    let mut c = CollectConfig {
        wal: file.wal,
        http: file.http,
        hec: file.hec,
        syslog: file.syslog,
        tail: file.tail,
        max_record_kib: file.max_record_kib.unwrap_or(d.max_record_kib),
        quiet_after_secs: file.quiet_after_secs.unwrap_or(d.quiet_after_secs),
        tail_poll_ms: file.tail_poll_ms.unwrap_or(d.tail_poll_ms),
    };
    if let Some(h) = a.http {
        let h = off(h);
        c.http.listen = if h.is_empty() { Vec::new() } else { vec![h] };
    }
    if let Some(s) = a.syslog_udp {
        c.syslog.udp = off(s);
    }
    if let Some(s) = a.syslog_tcp {
        c.syslog.tcp = off(s);
    }
    if let Some(s) = a.syslog_tls {
        c.syslog.tls = off(s);
    }
    if a.tls_cert.is_some() {
        c.syslog.tls_cert = a.tls_cert;
    }
    if a.tls_key.is_some() {
        c.syslog.tls_key = a.tls_key;
    }
    if let Some(f) = a.fsync {
        c.wal.fsync = f;
    }
    let data_dir = a
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("yagura-data"));
    Ok((data_dir, c, file.store))
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(a: ServeArgs) -> Result<ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("YAGURA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let (data_dir, cfg, store_cfg) = configure(a)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("yagura-io")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async move {
        let _ = store_cfg.fsync;
        let store = Store::open(
            &data_dir.join("store"),
            yagura_store::StoreConfig {
                retention: store_cfg.retention.clone(),
                retention_by_source: store_cfg.retention_by_source.clone(),
                ..yagura_store::StoreConfig::default()
            },
        )
        .context("cannot open the store")?;
        let stats = Arc::new(yagura_store::IndexerStats::default());
        let gauges = {
            let s = stats.clone();
            Arc::new(move || {
                vec![
                    (
                        "yagura_store_events_total",
                        "Events stored",
                        s.events.load(Ordering::Relaxed) as f64,
                    ),
                    (
                        "yagura_store_unparsed_total",
                        "Stored events no parser understood",
                        s.unparsed.load(Ordering::Relaxed) as f64,
                    ),
                    (
                        "yagura_store_last_seq",
                        "Log sequence number of the last stored event",
                        s.last_seq.load(Ordering::Relaxed) as f64,
                    ),
                    (
                        "yagura_store_damaged_total",
                        "Log records lost to damage (undecodable, or in a damaged segment)",
                        (s.damaged.load(Ordering::Relaxed) + s.wal_skipped.load(Ordering::Relaxed))
                            as f64,
                    ),
                ]
            })
        };
        let api = yagura_api::router(yagura_api::Api::new(data_dir.join("store")));
        let collector = yagura_collect::start_with_routes(&cfg, &data_dir, gauges, api)
            .await
            .context("cannot start collection")?;
        let rec = &collector.recovery;
        tracing::info!(
            "write-ahead log: {} records kept, durable up to {}{}",
            rec.records,
            collector.wal.durable(),
            if rec.torn_bytes > 0 {
                format!(", {} torn bytes cut", rec.torn_bytes)
            } else {
                String::new()
            }
        );
        for d in &rec.damaged {
            tracing::error!("write-ahead log damage: {d}");
        }
        let wal: Arc<dyn Wal> = collector.wal.clone();
        let indexer = Indexer::new(wal, store)
            .with_stats(stats)
            .with_metrics(collector.intake.metrics.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let indexer_thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("yagura-indexer".into())
                .spawn(move || indexer.run(stop))
                .context("cannot start the indexer")?
        };
        {
            let mut out = std::io::stdout().lock();
            for (name, addr) in &collector.addrs {
                writeln!(out, "listening {name} {addr}")?;
            }
            writeln!(out, "ready data-dir {}", data_dir.display())?;
            out.flush()?;
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot watch SIGTERM")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping: closing listeners, writing what is queued");
        collector.shutdown();
        stop.store(true, Ordering::SeqCst);
        match indexer_thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("indexer: {e}"),
            Err(_) => tracing::error!("indexer panicked"),
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration example in docs/serve.md parses, and flags override it.
    #[test]
    fn documented_configuration_parses_and_flags_override_it() {
        let doc = include_str!("../../../../docs/serve.md");
        let start = doc.find("```toml\n").expect("a toml block") + 8;
        let end = start + doc[start..].find("```").expect("end of the block");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("yagura.toml");
        std::fs::write(&path, &doc[start..end]).unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            data_dir: None,
            http: Some("off".into()),
            syslog_udp: None,
            syslog_tcp: Some("127.0.0.1:1514".into()),
            syslog_tls: None,
            tls_cert: None,
            tls_key: None,
            fsync: Some(Fsync::Interval),
        };
        let (data_dir, c, store) = configure(args).unwrap();
        assert_eq!(data_dir, PathBuf::from("/var/lib/yagura"));
        assert!(c.http.listen.is_empty());
        assert_eq!(c.syslog.tcp, "127.0.0.1:1514");
        assert_eq!(c.syslog.udp, "127.0.0.1:5514");
        assert_eq!(c.wal.fsync, Fsync::Interval);
        assert_eq!(c.tail.len(), 1);
        assert_eq!(c.tail[0].source_type, "linux_auth");
        assert_eq!(c.hec.tokens.len(), 1);
        assert!(!store.fsync);
        // A misspelt key is an error naming the file.
        std::fs::write(&path, "[syslog]\nudpp = \"x\"\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            data_dir: None,
            http: None,
            syslog_udp: None,
            syslog_tcp: None,
            syslog_tls: None,
            tls_cert: None,
            tls_key: None,
            fsync: None,
        };
        let err = configure(args).err().unwrap().to_string();
        assert!(err.contains("yagura.toml") && err.contains("udpp"), "{err}");
    }
}
