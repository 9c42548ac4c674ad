//! The `[wal]`, `[http]`, `[hec]`, `[syslog]` and `[[tail]]` sections of Yagura's TOML
//! configuration (documented in `docs/serve.md`). Every field has a default, so an empty
//! file (or none) starts every listener on 127.0.0.1.

use crate::tail::TailSpec;
use crate::wal::{Fsync, WalOptions};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Listener and log settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CollectConfig {
    /// Write-ahead log.
    pub wal: WalConfig,
    /// HTTP listeners (NDJSON, HEC, `_bulk`, OTLP, metrics).
    pub http: HttpConfig,
    /// Splunk HEC.
    pub hec: HecConfig,
    /// Syslog listeners.
    pub syslog: SyslogConfig,
    /// Tailed files.
    pub tail: Vec<TailSpec>,
    /// Largest record, in KiB (larger ones are dead letters).
    pub max_record_kib: usize,
    /// A source silent for this many seconds is flagged as quiet.
    pub quiet_after_secs: u64,
    /// How often tailed files are checked, in milliseconds.
    pub tail_poll_ms: u64,
}

impl Default for CollectConfig {
    fn default() -> Self {
        Self {
            wal: WalConfig::default(),
            http: HttpConfig::default(),
            hec: HecConfig::default(),
            syslog: SyslogConfig::default(),
            tail: Vec::new(),
            max_record_kib: 1024,
            quiet_after_secs: 300,
            tail_poll_ms: 250,
        }
    }
}

/// `[wal]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WalConfig {
    /// `always` (default), `interval` or `never`.
    pub fsync: Fsync,
    /// Sync period under `interval`, ms.
    pub fsync_interval_ms: u64,
    /// Segment size, MiB.
    pub segment_mib: u64,
    /// Bytes queued for writing at most, MiB (HTTP gets 429 beyond).
    pub max_queued_mib: usize,
    /// Records not yet taken by the store at most (HTTP gets 429, TCP waits beyond).
    pub max_lag_records: u64,
}

impl Default for WalConfig {
    fn default() -> Self {
        let d = WalOptions::default();
        Self {
            fsync: d.fsync,
            fsync_interval_ms: d.fsync_interval.as_millis() as u64,
            segment_mib: d.segment_bytes >> 20,
            max_queued_mib: d.max_queued_bytes >> 20,
            max_lag_records: d.max_lag_records,
        }
    }
}

impl WalConfig {
    /// As [`WalOptions`].
    pub fn options(&self) -> WalOptions {
        WalOptions {
            fsync: self.fsync,
            fsync_interval: Duration::from_millis(self.fsync_interval_ms.max(1)),
            segment_bytes: self.segment_mib.max(1) << 20,
            max_queued_bytes: self.max_queued_mib.max(1) << 20,
            max_lag_records: self.max_lag_records.max(1),
        }
    }
}

/// `[http]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Addresses to listen on (all endpoints on each). Empty: no HTTP.
    pub listen: Vec<String>,
    /// Largest request body after decompression, MiB.
    pub max_body_mib: usize,
    /// Source type of `/api/v1/ingest` records.
    pub ndjson_source_type: String,
    /// Source type of `_bulk` documents.
    pub bulk_source_type: String,
    /// Source type of OTLP records.
    pub otlp_source_type: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: vec!["127.0.0.1:8088".into()],
            max_body_mib: 64,
            ndjson_source_type: "auto".into(),
            bulk_source_type: "auto".into(),
            otlp_source_type: "otlp".into(),
        }
    }
}

/// `[hec]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HecConfig {
    /// Accepted tokens; empty accepts any token (a warning is logged at start).
    pub tokens: Vec<String>,
    /// Source type of HEC records (`auto`: the event's `sourcetype`, then detection).
    pub source_type: Option<String>,
}

/// `[syslog]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogConfig {
    /// UDP address (empty: off).
    pub udp: String,
    /// TCP address (empty: off).
    pub tcp: String,
    /// TLS address (empty: off; needs `tls_cert` and `tls_key`).
    pub tls: String,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Source type of syslog records.
    pub source_type: String,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        Self {
            udp: "127.0.0.1:5514".into(),
            tcp: "127.0.0.1:5514".into(),
            tls: "127.0.0.1:6514".into(),
            tls_cert: None,
            tls_key: None,
            source_type: "auto".into(),
        }
    }
}
