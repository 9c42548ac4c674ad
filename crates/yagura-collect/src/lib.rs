//! Collection from the network and from files, into the write-ahead log.
//!
//! **Owns:** the listeners — syslog over UDP, TCP and TLS ([`syslog`], framing in
//! [`framing`]), HTTP NDJSON, Splunk HEC, Elasticsearch `_bulk` and OTLP/HTTP logs on one port
//! ([`http`], [`otlp`]), file tailing ([`tail`]) — the write-ahead log they append to
//! ([`wal`]: the [`Wal`](wal::Wal) trait and its embedded [`FileWal`](wal::FileWal)),
//! backpressure, dead letters ([`deadletter`]) and the per-source counters ([`metrics`]).
//! A record is acknowledged to its sender only once the log holds it durably.
//!
//! **Must not:** parse or rename what senders send. Records are kept exactly as received, with
//! an [`Envelope`](raw::Envelope) saying where and when they arrived; `yagura-normalize` turns
//! them into ECS later, reading from the log. Nothing here knows a field name beyond the
//! protocols' own (HEC's `event`, `_bulk`'s action lines, OTLP's messages).
//!
//! ```no_run
//! # async fn f() -> Result<(), yagura_collect::CollectError> {
//! let cfg = yagura_collect::config::CollectConfig::default();
//! let collector = yagura_collect::start(&cfg, "yagura-data".as_ref(), std::sync::Arc::new(Vec::new)).await?;
//! for (name, addr) in &collector.addrs { println!("{name} listening on {addr}"); }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod deadletter;
pub mod framing;
pub mod http;
pub mod intake;
pub mod metrics;
pub mod otlp;
pub mod raw;
pub mod syslog;
pub mod tail;
pub mod wal;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Why collection could not start.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A listener could not bind.
    #[error("{listener}: cannot listen on {addr}: {source}")]
    Bind {
        /// Listener name.
        listener: &'static str,
        /// Address.
        addr: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The TLS certificate or key is unusable.
    #[error("syslog-tls: {0}")]
    Tls(String),
    /// The log could not open.
    #[error(transparent)]
    Wal(#[from] wal::WalError),
    /// The data folder is in use by another Yagura.
    #[error("{0} is in use by another yagura process (lock held on {0}/LOCK)")]
    Locked(PathBuf),
    /// Another I/O error.
    #[error("{path}: {source}")]
    Io {
        /// File or folder.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
}

/// A running collector.
pub struct Collector {
    /// The log.
    pub wal: Arc<wal::FileWal>,
    /// What the listeners share.
    pub intake: Arc<intake::Intake>,
    /// Listener names and the addresses they are bound to.
    pub addrs: Vec<(&'static str, SocketAddr)>,
    /// What the log found when it opened.
    pub recovery: wal::Recovery,
    tasks: Vec<JoinHandle<()>>,
    _lock: std::fs::File,
}

impl Collector {
    /// Stops every listener (connections in flight end), then closes the log after writing
    /// what is queued.
    pub fn shutdown(self) {
        for t in &self.tasks {
            t.abort();
        }
        self.wal.close();
    }
}

/// Locks `data_dir` for this process (released when the returned file is dropped).
pub fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, CollectError> {
    std::fs::create_dir_all(data_dir).map_err(|source| CollectError::Io {
        path: data_dir.to_owned(),
        source,
    })?;
    let path = data_dir.join("LOCK");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| CollectError::Io {
            path: path.clone(),
            source,
        })?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(_) => Err(CollectError::Locked(data_dir.to_owned())),
    }
}

async fn bind_tcp(
    listener: &'static str,
    addr: &str,
) -> Result<tokio::net::TcpListener, CollectError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| CollectError::Bind {
            listener,
            addr: addr.to_owned(),
            source,
        })
}

/// Opens the log in `data_dir/wal`, binds every configured listener and starts serving.
/// `gauges` adds lines to `/metrics` (the consumer's lag, for instance).
pub async fn start(
    cfg: &config::CollectConfig,
    data_dir: &Path,
    gauges: http::HealthExtra,
) -> Result<Collector, CollectError> {
    start_with_routes(cfg, data_dir, gauges, axum::Router::new()).await
}

/// [`start`], with more routes served on the HTTP listeners (the binary adds the API's; this
/// crate knows nothing of them).
pub async fn start_with_routes(
    cfg: &config::CollectConfig,
    data_dir: &Path,
    gauges: http::HealthExtra,
    extra: axum::Router,
) -> Result<Collector, CollectError> {
    let lock = lock_data_dir(data_dir)?;
    let positions = Arc::new(tail::Positions::load(&data_dir.join("tail")));
    let (wal, recovery) = {
        let positions = positions.clone();
        wal::FileWal::open(
            &data_dir.join("wal"),
            cfg.wal.options(),
            &mut |_, payload| {
                // The log says how far each tailed file was read (see `tail`).
                if let Ok(r) = raw::decode(payload) {
                    if r.envelope.listener == "tail" {
                        positions.observe(
                            r.envelope.stream,
                            tail::Position {
                                file_id: r.envelope.file_id,
                                offset: r.envelope.offset,
                            },
                        );
                    }
                }
            },
        )?
    };
    let wal = Arc::new(wal);
    let metrics = Arc::new(metrics::Metrics::new(cfg.quiet_after_secs as i64 * 1000));
    let intake = Arc::new(intake::Intake {
        wal: wal.clone(),
        metrics: metrics.clone(),
        dead: Arc::new(deadletter::DeadLetters::new(&data_dir.join("deadletter"))),
        max_record_bytes: cfg.max_record_kib.max(1) << 10,
    });
    let mut addrs = Vec::new();
    let mut tasks = Vec::new();
    let route = |listener: &str| syslog::Route {
        listener: listener.into(),
        source_type: cfg.syslog.source_type.as_str().into(),
    };
    if !cfg.syslog.udp.is_empty() {
        let sock = tokio::net::UdpSocket::bind(&cfg.syslog.udp)
            .await
            .map_err(|source| CollectError::Bind {
                listener: "syslog-udp",
                addr: cfg.syslog.udp.clone(),
                source,
            })?;
        let addr = sock.local_addr().map_err(|source| CollectError::Io {
            path: PathBuf::from(&cfg.syslog.udp),
            source,
        })?;
        addrs.push(("syslog-udp", addr));
        tasks.push(tokio::spawn(syslog::serve_udp(
            sock,
            route("syslog-udp"),
            intake.clone(),
        )));
        let m = metrics.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                m.set_kernel_drops("syslog-udp", syslog::kernel_udp_drops(addr.port()));
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }));
    }
    if !cfg.syslog.tcp.is_empty() {
        let l = bind_tcp("syslog-tcp", &cfg.syslog.tcp).await?;
        if let Ok(a) = l.local_addr() {
            addrs.push(("syslog-tcp", a));
        }
        tasks.push(tokio::spawn(syslog::serve_tcp(
            l,
            route("syslog-tcp"),
            intake.clone(),
            None,
        )));
    }
    if !cfg.syslog.tls.is_empty() {
        match (&cfg.syslog.tls_cert, &cfg.syslog.tls_key) {
            (Some(cert), Some(key)) => {
                let acceptor = syslog::tls_acceptor(cert, key).map_err(CollectError::Tls)?;
                let l = bind_tcp("syslog-tls", &cfg.syslog.tls).await?;
                if let Ok(a) = l.local_addr() {
                    addrs.push(("syslog-tls", a));
                }
                tasks.push(tokio::spawn(syslog::serve_tcp(
                    l,
                    route("syslog-tls"),
                    intake.clone(),
                    Some(acceptor),
                )));
            }
            _ => tracing::info!("syslog-tls: off (set syslog.tls_cert and syslog.tls_key)"),
        }
    }
    if cfg.hec.tokens.is_empty() && !cfg.http.listen.is_empty() {
        tracing::warn!("hec: no tokens configured; any token is accepted");
    }
    let opts = http::HttpOptions {
        max_body_bytes: cfg.http.max_body_mib.max(1) << 20,
        hec_tokens: cfg.hec.tokens.clone(),
        source_types: http::SourceTypes {
            ndjson: cfg.http.ndjson_source_type.clone(),
            hec: cfg.hec.source_type.clone().unwrap_or_else(|| "auto".into()),
            bulk: cfg.http.bulk_source_type.clone(),
            otlp: cfg.http.otlp_source_type.clone(),
        },
    };
    for addr in &cfg.http.listen {
        let l = bind_tcp("http", addr).await?;
        if let Ok(a) = l.local_addr() {
            addrs.push(("http", a));
        }
        let app = extra
            .clone()
            .merge(http::router(intake.clone(), opts.clone(), gauges.clone()))
            .into_make_service_with_connect_info::<SocketAddr>();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!("http: {e}");
            }
        }));
    }
    for spec in &cfg.tail {
        tasks.push(tokio::spawn(tail::tail(
            spec.clone(),
            intake.clone(),
            positions.clone(),
            Duration::from_millis(cfg.tail_poll_ms.max(10)),
        )));
    }
    {
        let m = metrics.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                m.sample();
            }
        }));
    }
    Ok(Collector {
        wal,
        intake,
        addrs,
        recovery,
        tasks,
        _lock: lock,
    })
}
