//! Records as the listeners received them, to ECS: the protocol envelopes (Splunk HEC's
//! `{"event":…}`, OTLP log records) are opened, the record goes through [`crate::parse`], and
//! where and when it arrived is added (`event.ingested`, `input.type`, `log.source.address`,
//! `log.file.path`, `log.offset`, and `host.name` when the record names none).
//!
//! One [`Normalizer`] serves one consumer of the write-ahead log; it keeps a [`Parser`] per
//! stream (a tailed file, a sender) so that stream state such as a Zeek `#fields` header
//! carries from one line to the next.

use crate::parse::{Outcome, Parser, SourceType};
use serde_json::Value;
use std::collections::HashMap;
use yagura_event::{Kind, Record};

/// Where and when a record arrived (the log's envelope, without depending on its crate).
#[derive(Clone, Copy, Debug)]
pub struct Arrival<'a> {
    /// Listener (`syslog-udp`, `syslog-tcp`, `syslog-tls`, `http`, `hec`, `bulk`, `otlp`, `tail`).
    pub listener: &'a str,
    /// Configured source type, or a HEC `sourcetype`, or `auto`.
    pub source_type: &'a str,
    /// Sender address.
    pub peer: &'a str,
    /// Host the sender named.
    pub host: &'a str,
    /// Tailed file, HEC channel, `_bulk` index.
    pub stream: &'a str,
    /// For tailed files, the offset after the record.
    pub offset: u64,
    /// Arrival time, Unix ms.
    pub received_ms: i64,
    /// The data is one JSON document (else one line of text).
    pub json: bool,
}

/// Splunk source types, and other names senders use, for Yagura's source types.
pub fn source_type_alias(name: &str) -> SourceType {
    if let Some(t) = SourceType::parse_name(name) {
        return t;
    }
    match name.to_ascii_lowercase().as_str() {
        "linux_secure" | "linux:auth" | "auth" | "secure" | "sshd" => SourceType::LinuxAuth,
        "syslog" | "linux_messages_syslog" | "rfc5424_syslog" => SourceType::Syslog,
        "access_combined"
        | "access_common"
        | "access_combined_wcookie"
        | "nginx:plus:access"
        | "nginx" => SourceType::NginxAccess,
        "apache:access" | "apache_access" => SourceType::ApacheAccess,
        "apache_error" | "apache:error" => SourceType::ApacheError,
        "nginx:error" => SourceType::NginxError,
        "aws:cloudtrail" | "cloudtrail" => SourceType::CloudTrail,
        "okta:im2:log" | "okta" | "okta:im:log" => SourceType::Okta,
        "suricata" | "suricata:eve" => SourceType::SuricataEve,
        "bro:dns:json" | "zeek:dns:json" | "bro_dns" | "zeek:dns" => SourceType::ZeekDns,
        "bro:conn:json" | "zeek:conn:json" | "zeek:conn" => SourceType::ZeekConn,
        "xmlwineventlog" | "wineventlog" | "winlogbeat" | "windows" => SourceType::Windows,
        "_json" | "json" => SourceType::Json,
        "iptables" | "linux:iptables" | "netfilter" => SourceType::Iptables,
        "isc:bind:query" | "named" | "bind" => SourceType::BindQuery,
        "dnsmasq" => SourceType::Dnsmasq,
        _ => SourceType::Auto,
    }
}

/// Turns arrivals into ECS records.
#[derive(Default)]
pub struct Normalizer {
    parsers: Vec<Parser>,
    index: HashMap<(String, String, SourceType), usize>,
    last: Option<(String, String, SourceType)>,
    last_idx: usize,
    scratch: String,
    line: Record,
    merged: Record,
}

/// Parsers kept at most (one per stream); beyond, the map is cleared (stream state is only
/// needed for Zeek headers, which are re-read per file).
const MAX_STREAMS: usize = 4096;

impl Normalizer {
    /// A normalizer with no stream state yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn parser(&mut self, a: &Arrival<'_>, hint: SourceType) -> &mut Parser {
        let stream = if a.stream.is_empty() {
            a.peer
        } else {
            a.stream
        };
        // Consecutive records mostly come from the same stream: compare before building a key.
        let same = self
            .last
            .as_ref()
            .is_some_and(|(l, s, h)| l == a.listener && s == stream && *h == hint);
        if !same || self.parsers.is_empty() {
            if self.parsers.len() >= MAX_STREAMS {
                self.parsers.clear();
                self.index.clear();
            }
            let key = (a.listener.to_owned(), stream.to_owned(), hint);
            let idx = match self.index.get(&key) {
                Some(&i) => i,
                None => {
                    self.parsers.push(Parser::new(hint));
                    self.index.insert(key.clone(), self.parsers.len() - 1);
                    self.parsers.len() - 1
                }
            };
            self.last = Some(key);
            self.last_idx = idx;
        }
        &mut self.parsers[self.last_idx]
    }

    /// Normalizes one record into `rec` (cleared first). `Outcome::Skip` means there is no
    /// event (a Zeek header line, an empty HEC event).
    pub fn normalize(&mut self, a: &Arrival<'_>, data: &str, rec: &mut Record) -> Outcome {
        let hint = source_type_alias(a.source_type);
        let outcome = if a.listener == "hec" && a.json {
            self.hec(a, hint, data, rec)
        } else if a.json && (a.listener == "otlp" || a.source_type == "otlp") {
            otlp(data, a.received_ms, rec)
        } else if a.json {
            match serde_json::from_str::<Value>(data) {
                Ok(doc) => {
                    let o = self
                        .parser(a, hint)
                        .parse_json(&doc, data, a.received_ms, rec);
                    self.wrapped_line(a, &doc, data, o, rec)
                }
                Err(_) => self.parser(a, hint).parse(data, a.received_ms, rec),
            }
        } else {
            self.parser(a, hint).parse(data, a.received_ms, rec)
        };
        if matches!(outcome, Outcome::Event { .. }) {
            self.arrival_fields(a, rec);
        }
        outcome
    }

    /// A shipper's wrapped line: Filebeat, Fluent Bit, Vector and Logstash send a text log line
    /// as `{"@timestamp":…, "message":"<the line>", "host":{…}, "log":{"file":{…}}}`. When such a
    /// generic document's `message` is a line a text parser understands, the event gets that
    /// parser's fields (they win, `@timestamp` included, as Filebeat's ingest pipelines do), plus
    /// the document's other fields; `event.original` stays the document as received.
    fn wrapped_line(
        &mut self,
        a: &Arrival<'_>,
        doc: &Value,
        data: &str,
        outcome: Outcome,
        rec: &mut Record,
    ) -> Outcome {
        let Outcome::Event {
            source: SourceType::Json,
            ..
        } = outcome
        else {
            return outcome;
        };
        let Some(Value::String(line)) = doc.get("message") else {
            return outcome;
        };
        let mut parsed = std::mem::take(&mut self.line);
        let received = match outcome {
            Outcome::Event { timestamp_ms, .. } => timestamp_ms,
            Outcome::Skip => a.received_ms,
        };
        let text_outcome = self
            .parser(a, SourceType::Auto)
            .parse(line, received, &mut parsed);
        let result = match text_outcome {
            Outcome::Event {
                parsed: true,
                source,
                timestamp_ms,
            } => {
                let mut merged = std::mem::take(&mut self.merged);
                merged.clear();
                merged.push("event.original", Kind::Str, data);
                for f in parsed.fields().filter(|f| f.key != "event.original") {
                    merged.push(f.key, f.kind, f.value);
                }
                for f in rec.fields() {
                    if f.key != "event.original"
                        && f.key != "message"
                        && parsed.get(f.key).is_none()
                    {
                        merged.push(f.key, f.kind, f.value);
                    }
                }
                std::mem::swap(rec, &mut merged);
                self.merged = merged;
                Outcome::Event {
                    source,
                    parsed: true,
                    timestamp_ms,
                }
            }
            _ => outcome,
        };
        self.line = parsed;
        result
    }

    /// HEC: `{"event": "text" | {...}, "time": 1700000000.5, "host": "h", "fields": {...}}`.
    fn hec(&mut self, a: &Arrival<'_>, hint: SourceType, data: &str, rec: &mut Record) -> Outcome {
        let Ok(Value::Object(env)) = serde_json::from_str::<Value>(data) else {
            return self.parser(a, hint).parse(data, a.received_ms, rec);
        };
        let received = env
            .get("time")
            .and_then(|t| match t {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse::<f64>().ok(),
                _ => None,
            })
            .map_or(a.received_ms, |secs| (secs * 1000.0) as i64);
        let outcome = match env.get("event") {
            Some(Value::String(s)) => {
                let s = s.clone();
                self.parser(a, hint).parse(&s, received, rec)
            }
            Some(doc @ Value::Object(_)) => {
                self.scratch.clear();
                self.scratch.push_str(&doc.to_string());
                let raw = std::mem::take(&mut self.scratch);
                let o = self.parser(a, hint).parse_json(doc, &raw, received, rec);
                self.scratch = raw;
                o
            }
            Some(other) => {
                let s = other.to_string();
                self.parser(a, hint).parse(&s, received, rec)
            }
            None => Outcome::Skip,
        };
        if matches!(outcome, Outcome::Event { .. }) {
            if let Some(Value::Object(fields)) = env.get("fields") {
                for (k, v) in fields {
                    push_under(rec, "labels.", k, v);
                }
            }
            for (k, ecs) in [
                ("source", "log.file.path"),
                ("index", "splunk.index"),
                ("sourcetype", "splunk.sourcetype"),
            ] {
                if let Some(Value::String(s)) = env.get(k) {
                    if rec.get(ecs).is_none() {
                        rec.push(ecs, Kind::Str, s);
                    }
                }
            }
        }
        outcome
    }

    fn arrival_fields(&self, a: &Arrival<'_>, rec: &mut Record) {
        rec.push_fmt(
            "event.ingested",
            Kind::Str,
            format_args!("{}", crate::parse::Rfc3339(a.received_ms)),
        );
        rec.push("input.type", Kind::Str, a.listener);
        if !a.peer.is_empty() {
            rec.push("log.source.address", Kind::Str, a.peer);
        }
        if a.listener == "tail" {
            rec.push("log.file.path", Kind::Str, a.stream);
            rec.push_fmt("log.offset", Kind::Num, format_args!("{}", a.offset));
        } else if a.listener == "bulk" && !a.stream.is_empty() {
            rec.push("data_stream.dataset", Kind::Str, a.stream);
        }
        if !a.host.is_empty() && rec.get("host.name").is_none() {
            rec.push("host.name", Kind::Str, a.host);
        }
    }
}

/// Flattens `v` under the name `prefix` + `key` (objects as dotted names, arrays repeated), in
/// the crate's reusable key buffer.
fn push_under(rec: &mut Record, prefix: &str, key: &str, v: &Value) {
    crate::value::with_key_buffer(|path| {
        path.push_str(prefix);
        path.push_str(key);
        crate::value::push_dotted(rec, path, v);
    });
}

/// An OTLP log record (the document shape `yagura-collect` stores) to ECS: `message` (the
/// body), `@timestamp`, `log.level`, `event.severity`, `trace.id`, `span.id`, resource
/// attributes under their own (semantic-convention) names, record attributes under
/// `attributes.*`, the scope as `otel.scope.*`.
pub fn otlp(data: &str, received_ms: i64, rec: &mut Record) -> Outcome {
    rec.clear();
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(data) else {
        return Outcome::Skip;
    };
    let nanos = |k: &str| {
        doc.get(k)
            .and_then(|v| match v {
                Value::String(s) => s.parse::<u64>().ok(),
                Value::Number(n) => n.as_u64(),
                _ => None,
            })
            .filter(|n| *n > 0)
    };
    let ts = nanos("timeUnixNano")
        .or_else(|| nanos("observedTimeUnixNano"))
        .map_or(received_ms, |n| (n / 1_000_000) as i64);
    rec.push_fmt(
        "@timestamp",
        Kind::Str,
        format_args!("{}", crate::parse::Rfc3339(ts)),
    );
    rec.push("event.original", Kind::Str, data);
    rec.push("event.kind", Kind::Str, "event");
    rec.push("event.module", Kind::Str, "otel");
    rec.push("event.dataset", Kind::Str, "otel.logs");
    match doc.get("body") {
        Some(Value::String(s)) => rec.push("message", Kind::Str, s),
        Some(Value::Null) | None => {}
        Some(other) => {
            rec.push("message", Kind::Str, &other.to_string());
            push_under(rec, "otel.body", "", other);
        }
    }
    if let Some(Value::String(s)) = doc.get("severityText") {
        rec.push("log.level", Kind::Str, &s.to_ascii_lowercase());
    }
    if let Some(Value::Number(n)) = doc.get("severityNumber") {
        rec.push_fmt("event.severity", Kind::Num, format_args!("{n}"));
    }
    for (k, ecs) in [("traceId", "trace.id"), ("spanId", "span.id")] {
        if let Some(Value::String(s)) = doc.get(k) {
            rec.push(ecs, Kind::Str, s);
        }
    }
    if let Some(Value::Object(res)) = doc.get("resource") {
        for (k, v) in res {
            push_under(rec, "", k, v);
        }
    }
    if let Some(Value::Object(attrs)) = doc.get("attributes") {
        for (k, v) in attrs {
            push_under(rec, "attributes.", k, v);
        }
    }
    if let Some(Value::Object(scope)) = doc.get("scope") {
        for (k, v) in scope {
            push_under(rec, "otel.scope.", k, v);
        }
    }
    Outcome::Event {
        source: SourceType::Json,
        parsed: true,
        timestamp_ms: ts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(json: bool) -> Arrival<'static> {
        Arrival {
            listener: "bulk",
            source_type: "auto",
            peer: "127.0.0.1:9",
            host: "",
            stream: "filebeat-8",
            offset: 0,
            received_ms: 1_764_000_000_000,
            json,
        }
    }

    #[test]
    fn a_shippers_wrapped_line_is_parsed_and_keeps_the_documents_fields() {
        let doc = r#"{"@timestamp":"2026-12-01T10:00:00Z","message":"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186","host":{"name":"web-1"},"log":{"file":{"path":"/var/log/auth.log"}}}"#;
        let mut n = Normalizer::new();
        let mut rec = Record::new();
        let o = n.normalize(&arrival(true), doc, &mut rec);
        assert!(
            matches!(
                o,
                Outcome::Event {
                    parsed: true,
                    source: SourceType::LinuxAuth,
                    ..
                }
            ),
            "{o:?}"
        );
        assert_eq!(rec.get("event.original").unwrap().value, doc);
        assert_eq!(rec.get("source.ip").unwrap().value, "173.234.31.186");
        assert_eq!(rec.get("user.name").unwrap().value, "webmaster");
        assert_eq!(rec.get("host.name").unwrap().value, "web-1");
        assert_eq!(rec.get("log.file.path").unwrap().value, "/var/log/auth.log");
        assert_eq!(rec.get_all("message").count(), 1);
        assert_eq!(rec.get_all("event.original").count(), 1);
        // A generic document whose message is free text stays as it is.
        let doc = r#"{"message":"user clicked the button","app":"shop"}"#;
        let o = n.normalize(&arrival(true), doc, &mut rec);
        assert!(
            matches!(
                o,
                Outcome::Event {
                    source: SourceType::Json,
                    ..
                }
            ),
            "{o:?}"
        );
        assert_eq!(rec.get("app").unwrap().value, "shop");
    }

    #[test]
    fn otlp_records_map_to_ecs() {
        let doc = r#"{"resource":{"service.name":"api","host.name":"h1"},"timeUnixNano":"1700000000123000000","severityText":"WARN","severityNumber":13,"body":"disk full","attributes":{"path":"/var"},"traceId":"ab"}"#;
        let mut rec = Record::new();
        let o = otlp(doc, 0, &mut rec);
        assert!(matches!(
            o,
            Outcome::Event {
                timestamp_ms: 1_700_000_000_123,
                ..
            }
        ));
        assert_eq!(rec.get("message").unwrap().value, "disk full");
        assert_eq!(rec.get("log.level").unwrap().value, "warn");
        assert_eq!(rec.get("service.name").unwrap().value, "api");
        assert_eq!(rec.get("attributes.path").unwrap().value, "/var");
        assert_eq!(rec.get("trace.id").unwrap().value, "ab");
    }
}
