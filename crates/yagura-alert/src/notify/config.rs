//! `[[notify]]` tables: what an operator writes ([`ChannelConfig`]) and what the delivery
//! thread runs ([`Channel`], checked once by [`ChannelConfig::build`]).

use super::http::{HttpChannel, Style};
use super::smtp::SmtpChannel;
use super::syslog::{SyslogChannel, SyslogFormat, Transport};
use super::{severity_rank, NotifyError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One `[[notify]]` table of the serve configuration: where alerts go, which ones, and how
/// hard to try. Which fields apply depends on `kind` (see `docs/notifications.md`); a field
/// that does not apply to the kind is an error rather than silently ignored.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Unique name: letters, digits, `_` and `-`, at most 64 (it is part of every notice id
    /// and of the outbox file names).
    pub name: String,
    /// `webhook` (the [`Notice`](super::Notice) as JSON), `slack` (incoming webhook),
    /// `teams` (incoming webhook / workflow), `smtp` (e-mail) or `syslog` (RFC 5424).
    pub kind: String,
    /// webhook, slack, teams: the URL to POST to (`http://` or `https://`).
    #[serde(default)]
    pub url: Option<String>,
    /// webhook, slack, teams: extra request headers (e.g. `Authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// teams: `adaptive` (Adaptive Card, default) or `messagecard` (legacy connector);
    /// syslog: `json` (the notice as JSON, default) or `cef`.
    #[serde(default)]
    pub format: Option<String>,
    /// webhook, slack, teams, smtp: PEM file of the certificate authorities to trust instead
    /// of the built-in Mozilla roots (a private CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// smtp: server host name or address.
    #[serde(default)]
    pub host: Option<String>,
    /// smtp: server port (default 25, or 587 with `starttls`).
    #[serde(default)]
    pub port: Option<u16>,
    /// smtp: sender, `soc@example.com` or `Yagura <soc@example.com>`.
    #[serde(default)]
    pub from: Option<String>,
    /// smtp: recipients (at least one), same forms as `from`.
    #[serde(default)]
    pub to: Vec<String>,
    /// smtp: upgrade the connection with STARTTLS (required when the server does not offer
    /// it: the message is then not sent in clear).
    #[serde(default)]
    pub starttls: bool,
    /// smtp: user for AUTH PLAIN (or LOGIN); needs `password`.
    #[serde(default)]
    pub username: Option<String>,
    /// smtp: password for AUTH; sent only over STARTTLS unless the server is on loopback.
    #[serde(default)]
    pub password: Option<String>,
    /// syslog: `udp://host:port` or `tcp://host:port`.
    #[serde(default)]
    pub address: Option<String>,
    /// syslog: facility number 0–23 (default 4, security/authorization).
    #[serde(default)]
    pub facility: Option<u8>,
    /// syslog: HOSTNAME field (default: this machine's host name).
    #[serde(default)]
    pub hostname: Option<String>,
    /// Least severity delivered: `informational`, `low` (default), `medium`, `high`,
    /// `critical`.
    #[serde(default = "default_min_severity")]
    pub min_severity: String,
    /// Attempts, backoff and timeout.
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_min_severity() -> String {
    "low".into()
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            kind: String::new(),
            url: None,
            headers: BTreeMap::new(),
            format: None,
            ca_file: None,
            host: None,
            port: None,
            from: None,
            to: Vec::new(),
            starttls: false,
            username: None,
            password: None,
            address: None,
            facility: None,
            hostname: None,
            min_severity: default_min_severity(),
            retry: RetryConfig::default(),
        }
    }
}

/// Secrets (password, header values, the URL, which for Slack and Teams is the credential)
/// are not printed.
impl fmt::Debug for ChannelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("ChannelConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &redacted(&self.url))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("format", &self.format)
            .field("ca_file", &self.ca_file)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("to", &self.to)
            .field("starttls", &self.starttls)
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("address", &self.address)
            .field("facility", &self.facility)
            .field("hostname", &self.hostname)
            .field("min_severity", &self.min_severity)
            .field("retry", &self.retry)
            .finish()
    }
}

/// `retry = { ... }` of a channel. Attempt `n` that fails waits
/// `min(max_backoff, initial_backoff · 2^(n-1))`, jittered to 50–100 % of that, before
/// attempt `n + 1`; after `max_attempts` the message moves to the outbox's `failed/` folder.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per message, the first included (default 8).
    pub max_attempts: u32,
    /// Wait after the first failed attempt, ms (default 1,000).
    pub initial_backoff_ms: u64,
    /// Longest wait between attempts, ms (default 300,000: 5 minutes).
    pub max_backoff_ms: u64,
    /// Time allowed for one attempt (connect, send, answer), ms (default 10,000).
    pub timeout_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff_ms: 1_000,
            max_backoff_ms: 300_000,
            timeout_ms: 10_000,
        }
    }
}

/// A checked channel, ready to deliver.
pub(crate) struct Channel {
    pub name: String,
    pub kind: String,
    pub min_rank: u8,
    pub retry: Retry,
    pub sink: Sink,
}

/// Retry settings as durations.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retry {
    pub max_attempts: u32,
    pub initial: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

/// Where a channel's messages go.
pub(crate) enum Sink {
    Http(HttpChannel),
    Smtp(Box<SmtpChannel>),
    Syslog(SyslogChannel),
}

const KINDS: &str = "webhook, slack, teams, smtp or syslog";

impl ChannelConfig {
    /// Checks the table as [`Notifier::open`](super::Notifier::open) does (names, kind,
    /// required and inapplicable fields, addresses, the CA file), so that a configuration
    /// can be rejected before anything starts.
    pub fn validate(&self) -> Result<(), NotifyError> {
        self.build().map(|_| ())
    }

    fn err(&self, field: &str, reason: impl Into<String>) -> NotifyError {
        NotifyError::Config {
            channel: self.name.clone(),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    /// Checks the table and prepares the channel (HTTP agent, TLS roots, parsed addresses).
    pub(crate) fn build(&self) -> Result<Channel, NotifyError> {
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(self.err(
                "name",
                "must be 1 to 64 letters, digits, '_' or '-' (it is part of notice ids and file names)",
            ));
        }
        let min_rank = severity_rank(&self.min_severity).ok_or_else(|| {
            self.err(
                "min_severity",
                format!(
                    "unknown severity {:?} (informational, low, medium, high or critical)",
                    self.min_severity
                ),
            )
        })?;
        let r = &self.retry;
        if r.max_attempts == 0 {
            return Err(self.err("retry.max_attempts", "must be at least 1"));
        }
        if r.initial_backoff_ms == 0 {
            return Err(self.err("retry.initial_backoff_ms", "must be at least 1"));
        }
        if r.max_backoff_ms < r.initial_backoff_ms {
            return Err(self.err(
                "retry.max_backoff_ms",
                "must not be less than retry.initial_backoff_ms",
            ));
        }
        if r.timeout_ms == 0 {
            return Err(self.err("retry.timeout_ms", "must be at least 1"));
        }
        let retry = Retry {
            max_attempts: r.max_attempts,
            initial: Duration::from_millis(r.initial_backoff_ms),
            max: Duration::from_millis(r.max_backoff_ms),
            timeout: Duration::from_millis(r.timeout_ms),
        };
        let sink = match self.kind.as_str() {
            "webhook" | "slack" | "teams" => {
                let style = match (self.kind.as_str(), self.format.as_deref()) {
                    ("webhook", None) => Style::Webhook,
                    ("slack", None) => Style::Slack,
                    ("teams", None | Some("adaptive")) => Style::TeamsAdaptive,
                    ("teams", Some("messagecard")) => Style::TeamsMessageCard,
                    ("teams", Some(other)) => {
                        return Err(self.err(
                            "format",
                            format!("unknown Teams format {other:?} (adaptive or messagecard)"),
                        ))
                    }
                    _ => return Err(self.err("format", format!("not used by kind {}", self.kind))),
                };
                self.only(&["url", "headers", "ca_file", "format"])?;
                let url = self
                    .url
                    .as_deref()
                    .ok_or_else(|| self.err("url", format!("required for kind {}", self.kind)))?;
                let roots = self.roots()?;
                Sink::Http(
                    HttpChannel::new(style, url, &self.headers, roots, retry.timeout)
                        .map_err(|(field, reason)| self.err(field, reason))?,
                )
            }
            "smtp" => {
                self.only(&[
                    "host", "port", "from", "to", "starttls", "username", "password", "ca_file",
                ])?;
                let host = self
                    .host
                    .as_deref()
                    .filter(|h| !h.is_empty())
                    .ok_or_else(|| self.err("host", "required for kind smtp"))?;
                let from = self
                    .from
                    .as_deref()
                    .ok_or_else(|| self.err("from", "required for kind smtp"))?;
                if self.to.is_empty() {
                    return Err(self.err("to", "at least one recipient is required"));
                }
                let auth = match (&self.username, &self.password) {
                    (Some(u), Some(p)) => Some((u.clone(), p.clone())),
                    (None, None) => None,
                    (Some(_), None) => return Err(self.err("password", "required with username")),
                    (None, Some(_)) => return Err(self.err("username", "required with password")),
                };
                let port = self.port.unwrap_or(if self.starttls { 587 } else { 25 });
                if auth.is_some() && !self.starttls && !is_loopback(host) {
                    return Err(self.err(
                        "starttls",
                        "a password is only sent encrypted: set starttls = true (or use a server on loopback)",
                    ));
                }
                let roots = self.roots()?;
                let smtp = SmtpChannel::new(
                    host,
                    port,
                    from,
                    &self.to,
                    self.starttls,
                    auth,
                    roots,
                    retry.timeout,
                )
                .map_err(|(field, reason)| self.err(field, reason))?;
                Sink::Smtp(Box::new(smtp))
            }
            "syslog" => {
                self.only(&["address", "format", "facility", "hostname"])?;
                let address = self
                    .address
                    .as_deref()
                    .ok_or_else(|| self.err("address", "required for kind syslog"))?;
                let (transport, target) = if let Some(t) = address.strip_prefix("udp://") {
                    (Transport::Udp, t)
                } else if let Some(t) = address.strip_prefix("tcp://") {
                    (Transport::Tcp, t)
                } else {
                    return Err(self.err(
                        "address",
                        format!("{address:?}: expected udp://host:port or tcp://host:port"),
                    ));
                };
                let port_ok = target
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
                if !port_ok {
                    return Err(self.err(
                        "address",
                        format!("{address:?}: expected udp://host:port or tcp://host:port"),
                    ));
                }
                let format = match self.format.as_deref() {
                    None | Some("json") => SyslogFormat::Json,
                    Some("cef") => SyslogFormat::Cef,
                    Some(other) => {
                        return Err(self.err(
                            "format",
                            format!("unknown syslog format {other:?} (json or cef)"),
                        ))
                    }
                };
                let facility = self.facility.unwrap_or(4);
                if facility > 23 {
                    return Err(self.err("facility", "must be 0 to 23"));
                }
                Sink::Syslog(SyslogChannel::new(
                    transport,
                    target,
                    format,
                    facility,
                    self.hostname.as_deref(),
                    retry.timeout,
                ))
            }
            "" => return Err(self.err("kind", format!("required ({KINDS})"))),
            other => return Err(self.err("kind", format!("unknown kind {other:?} ({KINDS})"))),
        };
        Ok(Channel {
            name: self.name.clone(),
            kind: self.kind.clone(),
            min_rank,
            retry,
            sink,
        })
    }

    /// Fails on a field that is set but does not apply to the kind.
    fn only(&self, allowed: &[&str]) -> Result<(), NotifyError> {
        let set = [
            ("url", self.url.is_some()),
            ("headers", !self.headers.is_empty()),
            ("format", self.format.is_some()),
            ("ca_file", self.ca_file.is_some()),
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("from", self.from.is_some()),
            ("to", !self.to.is_empty()),
            ("starttls", self.starttls),
            ("username", self.username.is_some()),
            ("password", self.password.is_some()),
            ("address", self.address.is_some()),
            ("facility", self.facility.is_some()),
            ("hostname", self.hostname.is_some()),
        ];
        match set.iter().find(|(f, on)| *on && !allowed.contains(f)) {
            Some((field, _)) => Err(self.err(field, format!("not used by kind {}", self.kind))),
            None => Ok(()),
        }
    }

    /// The certificates of `ca_file`, if set.
    fn roots(&self) -> Result<Option<Vec<CertificateDer<'static>>>, NotifyError> {
        let Some(path) = &self.ca_file else {
            return Ok(None);
        };
        read_certs(path)
            .map(Some)
            .map_err(|reason| self.err("ca_file", format!("{}: {reason}", path.display())))
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certs)
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
