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
    /// Sigma rules folder or file for streaming detection (repeatable; added to `[detect]
    /// rules` and the built-in pack).
    #[arg(long, value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// No streaming detection (collection and store only).
    #[arg(long)]
    no_detect: bool,
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
    #[serde(default)]
    detect: DetectConfig,
    /// Notification channels (docs/notifications.md).
    #[serde(default)]
    notify: Vec<yagura_alert::notify::ChannelConfig>,
    /// The console's address, for links in notifications (`https://yagura.example`).
    console_url: Option<String>,
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

/// `[detect]`: streaming detection (docs/alerts.md).
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Evaluate every event on arrival (default true).
    pub enabled: bool,
    /// The built-in rule pack (default true).
    pub builtin: bool,
    /// Sigma rule folders or files.
    pub rules: Vec<PathBuf>,
    /// User pipelines (`passthrough` or YAML files), as `hunt --pipeline`.
    pub pipelines: Vec<String>,
    /// Placeholder values (YAML), as `hunt --placeholders`.
    pub placeholders: Option<PathBuf>,
    /// How late an event may arrive and still correlate (seconds, default 60).
    pub lateness_secs: u64,
    /// The same rule on the same entities within this long is one alert (seconds, default 3600).
    pub dedup_window_secs: u64,
    /// Detection rules below this level raise no alert (default `low`).
    pub min_level: String,
    /// Asset inventory CSV (`kind,name,criticality,tags,owner`), loaded at start (it replaces
    /// the inventory kept in the alert database; without it, the kept one stays).
    pub assets: Option<PathBuf>,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            enabled: true,
            builtin: true,
            rules: Vec::new(),
            pipelines: Vec::new(),
            placeholders: None,
            lateness_secs: 60,
            dedup_window_secs: 3600,
            min_level: "low".into(),
            assets: None,
        }
    }
}

fn off(addr: String) -> String {
    if addr.eq_ignore_ascii_case("off") {
        String::new()
    } else {
        addr
    }
}

/// Loads the file and applies the flags.
/// What `configure` gives `run`.
struct Setup {
    data_dir: PathBuf,
    collect: CollectConfig,
    store: StoreConfig,
    detect: DetectConfig,
    notify: Vec<yagura_alert::notify::ChannelConfig>,
    console_url: Option<String>,
}

fn configure(a: ServeArgs) -> Result<Setup> {
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
    let mut detect = file.detect;
    detect.rules.extend(a.rules);
    if a.no_detect {
        detect.enabled = false;
    }
    if yagura_alert::Severity::parse(&detect.min_level).is_none() {
        anyhow::bail!(
            "[detect] min_level: `{}` is not a level (informational, low, medium, high, critical)",
            detect.min_level
        );
    }
    let data_dir = a
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("yagura-data"));
    Ok(Setup {
        data_dir,
        collect: c,
        store: file.store,
        detect,
        notify: file.notify,
        console_url: file.console_url,
    })
}

/// Loads the rules of `[detect]` and opens the streaming detector over `DATA/alerts.redb`.
fn open_stream(
    detect: &DetectConfig,
    db: Arc<yagura_alert::AlertDb>,
) -> Result<yagura_alert::Stream> {
    super::hunt::check_inputs(&detect.rules, "rules")?;
    let opts = super::load_options(detect.placeholders.as_deref())?;
    let cache = yagura_sigma::load::cache_dir();
    let set = yagura_sigma::load::load_rules(
        detect.builtin,
        &detect.rules,
        &opts,
        cache.as_deref(),
        |file, e| tracing::warn!("rule cache not written to {}: {e}", file.display()),
    );
    for e in &set.errors {
        tracing::warn!("rule rejected: {e}");
    }
    tracing::info!(
        "streaming detection: {} rules and {} correlations loaded, {} rejected",
        set.rules.len(),
        set.correlations.len(),
        set.errors.len()
    );
    let pipelines = super::hunt::load_pipelines(&detect.pipelines)?;
    let cfg = yagura_alert::StreamConfig {
        lateness: std::time::Duration::from_secs(detect.lateness_secs),
        dedup_window: std::time::Duration::from_secs(detect.dedup_window_secs),
        min_severity: yagura_alert::Severity::parse(&detect.min_level)
            .unwrap_or(yagura_alert::Severity::Low),
        ..yagura_alert::StreamConfig::default()
    };
    Ok(yagura_alert::Stream::new(set, pipelines, db, cfg)?)
}

/// The file that tells other commands (`yagura alerts`) where this server listens.
pub const SERVE_FILE: &str = "serve.json";

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
    let Setup {
        data_dir,
        collect: cfg,
        store: store_cfg,
        detect,
        notify,
        console_url,
    } = configure(a)?;
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
        let alerts = Arc::new(
            yagura_alert::AlertDb::open(&data_dir.join("alerts.redb"))
                .context("cannot open the alert database")?,
        );
        if let Some(p) = &detect.assets {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the asset inventory {}", p.display()))?;
            let rows = yagura_alert::asset::parse_csv(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            let n = alerts.set_assets(rows)?;
            tracing::info!("asset inventory: {n} entries from {}", p.display());
        }
        let stream_stats = Arc::new(yagura_alert::StreamStats::default());
        let notifier = if notify.is_empty() {
            None
        } else {
            Some(Arc::new(
                yagura_alert::notify::Notifier::open(&data_dir.join("notify"), notify)
                    .context("cannot start notifications")?,
            ))
        };
        let stream = if detect.enabled {
            let mut s = open_stream(&detect, alerts.clone())?.with_stats(stream_stats.clone());
            if let Some(n) = &notifier {
                let n = n.clone();
                s = s.on_alert(Box::new(move |alert, new| {
                    // A new alert is announced; its later occurrences only count in it.
                    if new {
                        if let Err(e) = n.send(&alert.notice(console_url.as_deref())) {
                            tracing::error!("alert {}: notification not queued: {e}", alert.id);
                        }
                    }
                }));
            }
            Some(s)
        } else {
            None
        };
        let gauges = {
            let s = stream_stats.clone();
            Arc::new(move || {
                let mut g = gauges();
                let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
                g.extend([
                    (
                        "yagura_detect_events_total",
                        "Events evaluated by streaming detection",
                        load(&s.events),
                    ),
                    (
                        "yagura_detect_matches_total",
                        "Rule matches",
                        load(&s.matches),
                    ),
                    (
                        "yagura_detect_correlations_total",
                        "Correlation firings",
                        load(&s.correlations),
                    ),
                    (
                        "yagura_alerts_created_total",
                        "Alerts created",
                        load(&s.alerts),
                    ),
                    (
                        "yagura_alert_occurrences_total",
                        "Occurrences counted into alerts",
                        load(&s.occurrences),
                    ),
                    (
                        "yagura_detect_waiting",
                        "Captures waiting for the watermark, and alert occurrences not yet written",
                        load(&s.waiting),
                    ),
                    (
                        "yagura_detect_late_total",
                        "Captures that arrived behind the watermark",
                        load(&s.late),
                    ),
                    (
                        "yagura_detect_future_total",
                        "Captures stamped beyond the wall clock plus the lateness, correlated at that bound",
                        load(&s.future),
                    ),
                    (
                        "yagura_detect_errors_total",
                        "Windows events whose original could not be evaluated",
                        load(&s.errors),
                    ),
                    (
                        "yagura_detect_position",
                        "Log position the detection checkpoint covers",
                        load(&s.position),
                    ),
                    (
                        "yagura_detect_latency_ms",
                        "Wall time from a match to its alert being durable (last write)",
                        load(&s.last_latency_ms),
                    ),
                ]);
                g
            })
        };
        let api = yagura_api::router(yagura_api::Api::new(data_dir.join("store")))
            .merge(yagura_api::alerts::router(alerts.clone()));
        let api = match &notifier {
            Some(n) => api.merge(yagura_api::alerts::notify_router(n.clone())),
            None => api,
        };
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
            let run = move || match stream {
                Some(stream) => indexer.with_tap(stream).run(stop),
                None => indexer.run(stop),
            };
            std::thread::Builder::new()
                .name("yagura-indexer".into())
                .spawn(run)
                .context("cannot start the indexer")?
        };
        let serve_file = data_dir.join(SERVE_FILE);
        let listening: serde_json::Map<String, serde_json::Value> = collector
            .addrs
            .iter()
            .map(|(n, a)| (n.to_string(), serde_json::Value::String(a.to_string())))
            .collect();
        std::fs::write(
            &serve_file,
            serde_json::json!({ "pid": std::process::id(), "listening": listening }).to_string(),
        )
        .with_context(|| format!("cannot write {}", serve_file.display()))?;
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
        let _ = std::fs::remove_file(&serve_file);
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
            rules: Vec::new(),
            no_detect: false,
        };
        let Setup {
            data_dir,
            collect: c,
            store,
            detect,
            notify,
            ..
        } = configure(args).unwrap();
        assert!(detect.enabled);
        assert!(notify.is_empty());
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
            rules: Vec::new(),
            no_detect: false,
        };
        let err = configure(args).err().unwrap().to_string();
        assert!(err.contains("yagura.toml") && err.contains("udpp"), "{err}");
    }

    /// The `[detect]` example in docs/alerts.md parses.
    #[test]
    fn documented_detect_configuration_parses() {
        let doc = include_str!("../../../../docs/alerts.md");
        let start = doc.find("```toml\n").expect("a toml block") + 8;
        let end = start + doc[start..].find("```").expect("end of the block");
        let c: Config = toml::from_str(&doc[start..end]).unwrap();
        assert_eq!(c.detect.rules.len(), 1);
        assert_eq!(c.detect.lateness_secs, 60);
        assert_eq!(c.console_url.as_deref(), Some("https://yagura.example.org"));
    }
}
