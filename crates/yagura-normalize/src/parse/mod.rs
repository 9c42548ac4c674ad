//! Parsers from raw log records (text lines and JSON documents) to flat ECS [`Record`]s.
//!
//! One [`Parser`] per stream (a TCP connection, a file, an HTTP request): it keeps the stream's
//! state (a Zeek TSV `#fields` header) and reusable buffers. [`Parser::parse`] reads one record
//! (a text line without its newline, or one JSON document's text); [`Parser::parse_json`] reads
//! an already-decoded JSON document (HTTP NDJSON, HEC `event` objects, `_bulk` documents). Both
//! clear the [`Record`] first and return an [`Outcome`]: which parser understood the record, and
//! its timestamp. [`write_json`] writes a record in its stored form (one JSON object, dotted
//! keys); [`cloudtrail_records`] opens `{"Records":[...]}` CloudTrail files.
//!
//! **Fields.** Every event has `@timestamp` (RFC 3339 UTC, milliseconds; the record's own time,
//! else `received_ms`), `event.original` (the raw record, exactly) and, for text formats,
//! `message` (the syslog MSG, an error log's text, else the whole line). Parsed events add
//! `event.kind`, `event.module`, `event.dataset` and, where meaningful, `event.category`,
//! `event.type`, `event.outcome`, `event.action`, then the ECS fields of their format and, for
//! vendor formats, the native fields under a prefix (`zeek.<log>.*`, `suricata.eve.*`,
//! `aws.cloudtrail.*`, `okta.*`, `winlog.*`). Numbers are [`yagura_event::Kind::Num`]. The field
//! list per format is in `docs/parsers.md`.
//!
//! **Detection.** With [`SourceType::Auto`] each record is recognised from its first bytes: `{`
//! = JSON (then its keys: CloudTrail, Okta, Suricata EVE, Zeek JSON, Windows shapes, else generic
//! JSON); `<PRI>`, a month name or an ISO date = syslog (then the program name or the message
//! picks sshd / PAM / sudo / su / iptables / named / dnsmasq / nginx and Apache); `yyyy/mm/dd
//! hh:mm:ss [` = nginx error; `[Www Mmm` = Apache error; `dd-Mon-yyyy` or `client ` = BIND; a
//! ` [dd/Mon/yyyy:` bracket = access log; `#separator` = Zeek TSV header. A hint is tried
//! first; a record it does not fit falls back to detection, then to an unparsed event.
//!
//! **Unknown records** are kept: `@timestamp`, `event.original`, `message`, the syslog envelope
//! if there is one, and [`Outcome::Event`] with `parsed: false`.
//!
//! ```
//! use yagura_event::Record;
//! use yagura_normalize::parse::{Outcome, Parser, SourceType};
//! let mut parser = Parser::new(SourceType::Auto);
//! let mut rec = Record::new();
//! let line = "Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal from 35.188.49.176 port 53502";
//! let out = parser.parse(line, 1_718_000_000_000, &mut rec);
//! assert!(matches!(out, Outcome::Event { source: SourceType::LinuxAuth, parsed: true, .. }));
//! assert_eq!(rec.get("source.ip").unwrap().value, "35.188.49.176");
//! assert_eq!(rec.get("user.name").unwrap().value, "pascal");
//! assert_eq!(rec.get("event.outcome").unwrap().value, "failure");
//! assert_eq!(rec.get("@timestamp").unwrap().value, "2024-02-12T14:10:21.000Z");
//! ```

mod auth;
mod dns;
mod json;
mod netfilter;
mod out;
mod pattern;
mod sniff;
mod syslog;
mod time;
mod web;
mod zeek;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;
use yagura_event::{Kind, Record};

pub use out::{leaf, write_json, Leaf};
pub use sniff::{file_mtime_ms, is_text_log};
pub(crate) use time::Rfc3339;

/// Source types. The names ([`SourceType::as_str`]) are what users write in configuration:
/// `source_type = "nginx_access"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceType {
    /// Detect per record.
    Auto,
    /// Syslog (RFC 3164 / 5424); the program parsers below are chosen per message.
    Syslog,
    /// sshd, PAM, sudo, su, account tools (`system.auth`).
    LinuxAuth,
    /// nginx access log (combined format).
    NginxAccess,
    /// Apache access log (common / combined format).
    ApacheAccess,
    /// nginx error log.
    NginxError,
    /// Apache error log.
    ApacheError,
    /// iptables / nftables `LOG` kernel lines.
    Iptables,
    /// Zeek `dns.log`.
    ZeekDns,
    /// Zeek `conn.log`.
    ZeekConn,
    /// Zeek `ssh.log`.
    ZeekSsh,
    /// Zeek `rdp.log`.
    ZeekRdp,
    /// Zeek `http.log`.
    ZeekHttp,
    /// Any other Zeek log: native fields kept.
    Zeek,
    /// BIND `named` query log and security lines.
    BindQuery,
    /// dnsmasq query log.
    Dnsmasq,
    /// Suricata EVE JSON.
    SuricataEve,
    /// AWS CloudTrail records.
    CloudTrail,
    /// Okta System Log events.
    Okta,
    /// Windows events as JSON (evtx_dump, Winlogbeat, NXLog).
    Windows,
    /// Any other JSON: fields kept as they are.
    Json,
    /// Not recognised.
    Unknown,
}

impl SourceType {
    /// Every source type.
    pub const ALL: &'static [SourceType] = &[
        SourceType::Auto,
        SourceType::Syslog,
        SourceType::LinuxAuth,
        SourceType::NginxAccess,
        SourceType::ApacheAccess,
        SourceType::NginxError,
        SourceType::ApacheError,
        SourceType::Iptables,
        SourceType::ZeekDns,
        SourceType::ZeekConn,
        SourceType::ZeekSsh,
        SourceType::ZeekRdp,
        SourceType::ZeekHttp,
        SourceType::Zeek,
        SourceType::BindQuery,
        SourceType::Dnsmasq,
        SourceType::SuricataEve,
        SourceType::CloudTrail,
        SourceType::Okta,
        SourceType::Windows,
        SourceType::Json,
        SourceType::Unknown,
    ];

    /// The configuration name (`nginx_access`).
    pub fn as_str(&self) -> &'static str {
        match self {
            SourceType::Auto => "auto",
            SourceType::Syslog => "syslog",
            SourceType::LinuxAuth => "linux_auth",
            SourceType::NginxAccess => "nginx_access",
            SourceType::ApacheAccess => "apache_access",
            SourceType::NginxError => "nginx_error",
            SourceType::ApacheError => "apache_error",
            SourceType::Iptables => "iptables",
            SourceType::ZeekDns => "zeek_dns",
            SourceType::ZeekConn => "zeek_conn",
            SourceType::ZeekSsh => "zeek_ssh",
            SourceType::ZeekRdp => "zeek_rdp",
            SourceType::ZeekHttp => "zeek_http",
            SourceType::Zeek => "zeek",
            SourceType::BindQuery => "bind_query",
            SourceType::Dnsmasq => "dnsmasq",
            SourceType::SuricataEve => "suricata_eve",
            SourceType::CloudTrail => "cloudtrail",
            SourceType::Okta => "okta",
            SourceType::Windows => "windows",
            SourceType::Json => "json",
            SourceType::Unknown => "unknown",
        }
    }

    /// The source type of a configuration name ([`SourceType::as_str`], any case, `-` for `_`;
    /// also a few aliases: `auth`, `nginx`, `apache`, `apache2`, `named`, `bind`, `suricata`,
    /// `eve`, `aws_cloudtrail`, `okta_system`, `winlogbeat`, `evtx`, `ndjson`).
    pub fn parse_name(s: &str) -> Option<Self> {
        let mut buf = [0u8; 32];
        let b = s.trim().as_bytes();
        if b.len() > buf.len() {
            return None;
        }
        for (i, c) in b.iter().enumerate() {
            buf[i] = if *c == b'-' {
                b'_'
            } else {
                c.to_ascii_lowercase()
            };
        }
        let name = std::str::from_utf8(&buf[..b.len()]).ok()?;
        if let Some(st) = Self::ALL.iter().find(|st| st.as_str() == name) {
            return Some(*st);
        }
        Some(match name {
            "auth" | "system_auth" | "sshd" => SourceType::LinuxAuth,
            "nginx" => SourceType::NginxAccess,
            "apache" | "apache2" | "httpd" => SourceType::ApacheAccess,
            "named" | "bind" | "bind9" => SourceType::BindQuery,
            "suricata" | "eve" => SourceType::SuricataEve,
            "aws_cloudtrail" => SourceType::CloudTrail,
            "okta_system" | "okta_systemlog" => SourceType::Okta,
            "winlogbeat" | "evtx" | "nxlog" => SourceType::Windows,
            "ndjson" => SourceType::Json,
            _ => return None,
        })
    }

    fn is_zeek(self) -> bool {
        matches!(
            self,
            SourceType::Zeek
                | SourceType::ZeekDns
                | SourceType::ZeekConn
                | SourceType::ZeekSsh
                | SourceType::ZeekRdp
                | SourceType::ZeekHttp
        )
    }
}

impl fmt::Display for SourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source type name that [`SourceType::parse_name`] does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown source type `{0}`")]
pub struct UnknownSourceType(pub String);

impl FromStr for SourceType {
    type Err = UnknownSourceType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SourceType::parse_name(s).ok_or_else(|| UnknownSourceType(s.to_string()))
    }
}

/// What [`Parser::parse`] made of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An event: which parser understood it (the most specific one: `LinuxAuth` for an sshd
    /// line inside syslog; `Syslog` when only the envelope was read; `Unknown` for nothing),
    /// whether that parser understood the whole record, and its timestamp (Unix ms).
    Event {
        /// The parser that read the record.
        source: SourceType,
        /// `false`: kept with `message`, `event.original` and the envelope only.
        parsed: bool,
        /// `@timestamp`, Unix milliseconds.
        timestamp_ms: i64,
    },
    /// Not an event (a Zeek `#` header line, an empty line): nothing to store.
    Skip,
}

/// `{"Records":[...]}` CloudTrail files: the records inside, else `None`. Parse each record
/// with [`Parser::parse_json`] (its `raw` text: the record serialised, e.g. with
/// `serde_json::to_string`).
pub fn cloudtrail_records(doc: &Value) -> Option<&[Value]> {
    let o = doc.as_object()?;
    match o.get("Records")? {
        Value::Array(items)
            if items
                .iter()
                .all(|r| r.get("eventName").is_some() || r.get("eventSource").is_some()) =>
        {
            Some(items.as_slice())
        }
        _ => None,
    }
}

/// How long a stream's last year-less date decides the year of the next ones (30 days of
/// reception time).
const ANCHOR_FOR_MS: u64 = 30 * 86_400_000;

/// A parser for one stream of records.
pub struct Parser {
    hint: SourceType,
    /// The date and reception time of the stream's last year-less syslog line
    /// ([`syslog::parse_near`]).
    year_anchor: Option<(i64, i64)>,
    zeek: zeek::Header,
    unescaped: String,
    json: json::Scratch,
}

impl Parser {
    /// A parser for a stream of `hint` records ([`SourceType::Auto`]: detect per record).
    pub fn new(hint: SourceType) -> Self {
        Parser {
            hint,
            year_anchor: None,
            zeek: zeek::Header::default(),
            unescaped: String::new(),
            json: json::Scratch::default(),
        }
    }

    /// The stream's source type hint.
    pub fn hint(&self) -> SourceType {
        self.hint
    }

    /// Parses one raw record (a text line without its newline, or one JSON document's text)
    /// into `rec` (cleared first). `received_ms` (Unix ms) supplies the year of RFC 3164
    /// timestamps and is the `@timestamp` when the record has none.
    pub fn parse(&mut self, raw: &str, received_ms: i64, rec: &mut Record) -> Outcome {
        rec.clear();
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.trim_end().is_empty() {
            return Outcome::Skip;
        }
        if trimmed.starts_with('{')
            && !matches!(self.hint, SourceType::Syslog | SourceType::LinuxAuth)
        {
            if let Ok(doc) = serde_json::from_str::<Value>(trimmed) {
                return self.parse_json(&doc, raw, received_ms, rec);
            }
        }
        let zeek_ok =
            self.hint.is_zeek() || matches!(self.hint, SourceType::Auto | SourceType::Unknown);
        if zeek_ok && line.starts_with('#') && self.zeek.read(line) {
            return Outcome::Skip;
        }
        if zeek_ok && self.zeek.ready() {
            if let Some((source, ts)) = zeek::tsv_row(&self.zeek, line, received_ms, rec) {
                return event(source, true, ts);
            }
            rec.clear();
        }
        if let Some(o) = self.text_as(self.hint, line, raw, received_ms, rec) {
            return o;
        }
        rec.clear();
        if let Some(o) = self.detect_text(line, raw, received_ms, rec) {
            return o;
        }
        rec.clear();
        out::head(rec, received_ms, raw);
        rec.push("message", Kind::Str, line);
        event(SourceType::Unknown, false, received_ms)
    }

    /// Same as [`Parser::parse`] for an already-decoded JSON document; `raw` is its text (kept
    /// as `event.original`). A document that is not an object is kept unparsed.
    pub fn parse_json(
        &mut self,
        doc: &Value,
        raw: &str,
        received_ms: i64,
        rec: &mut Record,
    ) -> Outcome {
        rec.clear();
        let mut detected = match self.hint {
            SourceType::Json => SourceType::Json,
            _ => json::detect(doc),
        };
        // A hint helps where the keys say nothing (a Zeek log without `id.orig_h`).
        if detected == SourceType::Json
            && (self.hint.is_zeek()
                || matches!(
                    self.hint,
                    SourceType::CloudTrail
                        | SourceType::Okta
                        | SourceType::SuricataEve
                        | SourceType::Windows
                ))
        {
            detected = self.hint;
        }
        if let Some((source, ts)) =
            json::parse(detected, doc, raw, received_ms, rec, &mut self.json)
        {
            return event(source, true, ts);
        }
        rec.clear();
        // Generic JSON fails only where every parser does (not an object): no second try then.
        let generic = match detected {
            SourceType::Json => None,
            _ => json::parse(SourceType::Json, doc, raw, received_ms, rec, &mut self.json),
        };
        match generic {
            Some((source, ts)) => event(source, true, ts),
            None => {
                rec.clear();
                out::head(rec, received_ms, raw);
                rec.push("message", Kind::Str, raw);
                event(SourceType::Unknown, false, received_ms)
            }
        }
    }

    /// Parses `line` as the text format `st`; `None` when it does not fit.
    fn text_as(
        &mut self,
        st: SourceType,
        line: &str,
        raw: &str,
        received_ms: i64,
        rec: &mut Record,
    ) -> Option<Outcome> {
        match st {
            SourceType::Syslog
            | SourceType::LinuxAuth
            | SourceType::Iptables
            | SourceType::Dnsmasq => self.syslog(line, raw, received_ms, rec),
            SourceType::NginxAccess | SourceType::ApacheAccess => {
                let a = web::access(line)?;
                out::head(rec, a.ts, raw);
                rec.push("message", Kind::Str, line);
                web::push_access(
                    &a,
                    if st == SourceType::ApacheAccess {
                        "apache"
                    } else {
                        "nginx"
                    },
                    rec,
                );
                Some(event(st, true, a.ts))
            }
            SourceType::NginxError => {
                let e = web::nginx_error(line)?;
                out::head(rec, e.ts, raw);
                rec.push("message", Kind::Str, e.text);
                web::push_nginx_error(&e, rec);
                Some(event(st, true, e.ts))
            }
            SourceType::ApacheError => {
                let e = web::apache_error(line)?;
                // An untimed line (`[error] [client ..] ..`) takes the reception time.
                let ts = if e.ts == 0 { received_ms } else { e.ts };
                out::head(rec, ts, raw);
                rec.push("message", Kind::Str, e.text);
                web::push_apache_error(&e, rec);
                Some(event(st, true, ts))
            }
            SourceType::BindQuery => {
                let l = dns::bind(line)?;
                let ts = l.ts.unwrap_or(received_ms);
                out::head(rec, ts, raw);
                rec.push("message", Kind::Str, line);
                if !dns::push_bind(&l, rec) {
                    rec.clear();
                    return self.syslog(line, raw, received_ms, rec);
                }
                Some(event(st, true, ts))
            }
            _ => None,
        }
    }

    /// Auto-detection of text lines, cheapest checks first.
    fn detect_text(
        &mut self,
        line: &str,
        raw: &str,
        received_ms: i64,
        rec: &mut Record,
    ) -> Option<Outcome> {
        if syslog::looks_like(line) {
            if let Some(o) = self.syslog(line, raw, received_ms, rec) {
                return Some(o);
            }
            rec.clear();
        }
        // Each check runs only when the ones before it did not give an event.
        type Fits = fn(&str) -> bool;
        let candidates: [(Fits, SourceType); 4] = [
            (web::looks_like_nginx_error, SourceType::NginxError),
            (
                |l| web::looks_like_apache_error(l) || web::looks_like_untimed_apache_error(l),
                SourceType::ApacheError,
            ),
            (dns::looks_like_bind, SourceType::BindQuery),
            (web::looks_like_access, SourceType::NginxAccess),
        ];
        for (fits, st) in candidates {
            if fits(line) && st != self.hint {
                // An access line inside an Apache-hinted stream stays Apache.
                let st = match (st, self.hint) {
                    (SourceType::NginxAccess, SourceType::ApacheError) => SourceType::ApacheAccess,
                    _ => st,
                };
                if let Some(o) = self.text_as(st, line, raw, received_ms, rec) {
                    return Some(o);
                }
                rec.clear();
            }
        }
        // Bare messages (no syslog header): iptables, dnsmasq, sshd-like lines `host prog[pid]: msg`.
        if let Some(at) = netfilter::find(line) {
            out::head(rec, received_ms, raw);
            rec.push("message", Kind::Str, line);
            netfilter::push(line, at, rec);
            return Some(event(SourceType::Iptables, true, received_ms));
        }
        if let Some(h) = syslog::parse_untimed(line) {
            return Some(self.syslog_event(&h, received_ms, raw, rec));
        }
        None
    }

    /// A syslog line: envelope, then the program parser.
    fn syslog(
        &mut self,
        line: &str,
        raw: &str,
        received_ms: i64,
        rec: &mut Record,
    ) -> Option<Outcome> {
        // The stream's previous year-less date decides the year, unless it was received long
        // before this line (a stream quiet for months starts afresh from the reception time).
        let anchor = self
            .year_anchor
            .filter(|&(_, r)| r.abs_diff(received_ms) <= ANCHOR_FOR_MS)
            .map(|(ts, _)| ts);
        let h = syslog::parse_near(line, received_ms, anchor)?;
        if let (true, Some(ts)) = (h.yearless, h.ts) {
            self.year_anchor = Some((ts, received_ms));
        }
        Some(self.syslog_event(&h, h.ts.unwrap_or(received_ms), raw, rec))
    }

    /// The event of a syslog header `h` at `ts`: envelope, MSG, then the program parser.
    fn syslog_event(
        &mut self,
        h: &syslog::Header<'_>,
        ts: i64,
        raw: &str,
        rec: &mut Record,
    ) -> Outcome {
        out::head(rec, ts, raw);
        rec.push("message", Kind::Str, h.msg);
        syslog::push(h, rec, &mut self.unescaped);
        let (source, parsed) = self.program(h.app, h.msg, rec);
        if !parsed {
            out::dataset(rec, "system", "system.syslog");
        }
        event(source, parsed, ts)
    }

    /// The parser of a syslog MSG, from the program name or the message.
    fn program(&mut self, app: Option<&str>, msg: &str, rec: &mut Record) -> (SourceType, bool) {
        let name = app.unwrap_or("");
        let auth_program = auth::is_auth_program(name);
        if auth_program || msg.starts_with("pam_") {
            if auth::program(app, msg, rec) {
                return (SourceType::LinuxAuth, true);
            }
            if auth_program {
                return (SourceType::LinuxAuth, false);
            }
        }
        if let Some(at) = netfilter::find(msg) {
            netfilter::push(msg, at, rec);
            return (SourceType::Iptables, true);
        }
        match name {
            "named" | "bind" => {
                // Only client lines are BIND query / security records; other named messages
                // (zone loading, notify) stay plain syslog.
                return match dns::bind(msg) {
                    Some(l) if dns::push_bind(&l, rec) => (SourceType::BindQuery, true),
                    Some(_) => (SourceType::BindQuery, false),
                    None => (SourceType::Syslog, false),
                };
            }
            "dnsmasq" | "dnsmasq-dhcp" => {
                return (SourceType::Dnsmasq, dns::dnsmasq(msg, rec));
            }
            _ => {}
        }
        let webish = matches!(
            name,
            "nginx"
                | "apache"
                | "apache2"
                | "httpd"
                | "apache-access"
                | "apache-error"
                | "nginx-access"
                | "nginx-error"
        );
        if webish || web::looks_like_access(msg) {
            let module = if name.starts_with("apache") || name == "httpd" {
                "apache"
            } else {
                "nginx"
            };
            if let Some(a) = web::access(msg) {
                web::push_access(&a, module, rec);
                return (
                    if module == "apache" {
                        SourceType::ApacheAccess
                    } else {
                        SourceType::NginxAccess
                    },
                    true,
                );
            }
            if let Some(e) = web::nginx_error(msg) {
                web::push_nginx_error(&e, rec);
                return (SourceType::NginxError, true);
            }
            if let Some(e) = web::apache_error(msg) {
                web::push_apache_error(&e, rec);
                return (SourceType::ApacheError, true);
            }
        }
        (SourceType::Syslog, false)
    }
}

fn event(source: SourceType, parsed: bool, timestamp_ms: i64) -> Outcome {
    Outcome::Event {
        source,
        parsed,
        timestamp_ms,
    }
}

#[cfg(test)]
mod year_tests {
    use super::time::to_ms;
    use super::*;

    fn ts_of(p: &mut Parser, line: &str, received_ms: i64) -> i64 {
        let mut rec = Record::new();
        match p.parse(line, received_ms, &mut rec) {
            Outcome::Event { timestamp_ms, .. } => timestamp_ms,
            Outcome::Skip => panic!("{line}: skipped"),
        }
    }

    fn at(y: i64, m: i64, d: i64, h: i64) -> i64 {
        to_ms(y, m, d, h * 3_600_000, 0).unwrap()
    }

    /// A replayed file whose dates run from before to more than a week after reception stays
    /// in one year, in order; a lone line with no stream before it still takes last year.
    #[test]
    fn a_streams_year_less_dates_stay_in_order() {
        let received = at(2026, 12, 4, 12);
        let mut p = Parser::new(SourceType::Syslog);
        let mut last = i64::MIN;
        for d in 1..=20 {
            let line = format!("<38>Dec {d:2} 10:00:00 gw sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2");
            let ts = ts_of(&mut p, &line, received);
            assert_eq!(ts, at(2026, 12, d, 10), "{line}");
            assert!(ts > last);
            last = ts;
        }
        let mut fresh = Parser::new(SourceType::Syslog);
        let ts = ts_of(&mut fresh, "<38>Dec 20 10:00:00 gw sshd[1]: x", received);
        assert_eq!(ts, at(2025, 12, 20, 10));
    }

    /// New Year on a live stream: `Jan  1` after `Dec 31` is the next year, also when the
    /// sender's clock runs a little ahead of the receiver's.
    #[test]
    fn new_year_moves_a_stream_to_the_next_year() {
        let mut p = Parser::new(SourceType::Syslog);
        let received = at(2026, 12, 31, 23);
        assert_eq!(
            ts_of(&mut p, "<38>Dec 31 23:59:00 gw cron[1]: tick", received),
            to_ms(2026, 12, 31, 86_340_000, 0).unwrap()
        );
        assert_eq!(
            ts_of(
                &mut p,
                "<38>Jan  1 00:00:30 gw cron[1]: tick",
                received + 60_000
            ),
            to_ms(2027, 1, 1, 30_000, 0).unwrap()
        );
    }

    /// A stream quiet for more than 30 days is dated from reception again.
    #[test]
    fn a_stale_anchor_is_not_used() {
        let mut p = Parser::new(SourceType::Syslog);
        let jan = at(2026, 1, 10, 12);
        assert_eq!(
            ts_of(&mut p, "<38>Jan 10 10:00:00 gw a[1]: x", jan),
            at(2026, 1, 10, 10)
        );
        let dec = at(2026, 12, 2, 12);
        // Nearest the January anchor would be December 2025.
        assert_eq!(
            ts_of(&mut p, "<38>Dec  2 10:00:00 gw a[1]: x", dec),
            at(2026, 12, 2, 10)
        );
    }
}
