//! Zeek logs, TSV (with the `#separator`/`#fields`/`#types` header, kept as stream state) and
//! JSON (`LogAscii::use_json`): ECS fields for the common columns, every other column kept as
//! `zeek.<log>.<column>`. Zeek's unset field (`-`) is omitted, its empty field (`(empty)`) is an
//! empty value (an empty set: no value), sets and vectors are repeated values.

use std::fmt::Write as _;

use serde_json::Value;
use yagura_event::{Kind, Record};

use super::{dns, out, time, web, SourceType};

/// The header of a Zeek TSV stream.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    sep: String,
    set_sep: String,
    empty: String,
    unset: String,
    pub path: String,
    fields: Vec<String>,
    types: Vec<String>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            sep: "\t".into(),
            set_sep: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            path: String::new(),
            fields: Vec::new(),
            types: Vec::new(),
        }
    }
}

/// Reads `\x09`-style escapes of header values.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find("\\x") {
        out.push_str(&rest[..p]);
        match rest
            .get(p + 2..p + 4)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[p + 4..];
            }
            None => {
                out.push_str("\\x");
                rest = &rest[p + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Header {
    /// True when the stream has a `#fields` line.
    pub fn ready(&self) -> bool {
        !self.fields.is_empty()
    }

    /// Reads a `#` header line. Returns false when `line` is not one.
    pub fn read(&mut self, line: &str) -> bool {
        let Some(body) = line.strip_prefix('#') else {
            return false;
        };
        if let Some(v) = body.strip_prefix("separator ") {
            *self = Header::default();
            self.sep = unescape(v.trim());
            return true;
        }
        let (name, value) = body.split_once(self.sep.as_str()).unwrap_or((body, ""));
        match name {
            "set_separator" => self.set_sep = unescape(value),
            "empty_field" => self.empty = value.to_string(),
            "unset_field" => self.unset = value.to_string(),
            "path" => self.path = value.to_string(),
            "fields" => self.fields = value.split(self.sep.as_str()).map(str::to_string).collect(),
            "types" => self.types = value.split(self.sep.as_str()).map(str::to_string).collect(),
            "open" | "close" => {}
            _ => return false,
        }
        true
    }
}

/// The source type of a Zeek log name.
pub(crate) fn source_of(log: &str) -> SourceType {
    match log {
        "dns" => SourceType::ZeekDns,
        "conn" => SourceType::ZeekConn,
        "ssh" => SourceType::ZeekSsh,
        "rdp" => SourceType::ZeekRdp,
        "http" => SourceType::ZeekHttp,
        _ => SourceType::Zeek,
    }
}

/// Parses one TSV data row. `None` when the row does not fit the header.
pub(crate) fn tsv_row(
    h: &Header,
    line: &str,
    received_ms: i64,
    rec: &mut Record,
) -> Option<(SourceType, i64)> {
    // One pass counts the columns and picks out the `ts` one.
    let ts_col = h.fields.iter().position(|f| f == "ts");
    let mut n = 0;
    let mut ts_text = None;
    for v in line.split(h.sep.as_str()) {
        if Some(n) == ts_col {
            ts_text = Some(v);
        }
        n += 1;
    }
    if n != h.fields.len() {
        return None;
    }
    let log = if h.path.is_empty() {
        "zeek"
    } else {
        h.path.as_str()
    };
    let ts = ts_text
        .and_then(|v| time::epoch_secs(v).or_else(|| time::lenient(v)))
        .unwrap_or(received_ms);
    out::head(rec, ts, line);
    rec.push("message", Kind::Str, line);
    start(rec, log);
    for (i, (col, val)) in h.fields.iter().zip(line.split(h.sep.as_str())).enumerate() {
        if val == h.unset || col == "ts" {
            continue;
        }
        let ty = h.types.get(i).map_or("string", String::as_str);
        let container = ty.starts_with("set[") || ty.starts_with("vector[");
        if val == h.empty {
            if !container {
                column(rec, log, col, "", Kind::Str);
            }
            continue;
        }
        let kind = match ty
            .strip_prefix("set[")
            .or_else(|| ty.strip_prefix("vector["))
            .unwrap_or(ty)
            .trim_end_matches(']')
        {
            "count" | "int" | "port" | "double" | "interval" | "time" => Kind::Num,
            "bool" => Kind::Bool,
            _ => Kind::Str,
        };
        if container {
            for item in val.split(h.set_sep.as_str()) {
                value(rec, log, col, item, kind);
            }
        } else {
            value(rec, log, col, val, kind);
        }
    }
    Some((source_of(log), ts))
}

fn value(rec: &mut Record, log: &str, col: &str, v: &str, kind: Kind) {
    match kind {
        Kind::Bool => column(
            rec,
            log,
            col,
            if v == "T" { "true" } else { "false" },
            Kind::Bool,
        ),
        Kind::Num => {
            // `60.000000` -> `60.0`: the text serde_json writes for the same number.
            let t = match v.find('.') {
                Some(dot) => {
                    let t = v.trim_end_matches('0');
                    if t.len() == dot + 1 {
                        &v[..dot + 2]
                    } else {
                        t
                    }
                }
                None => v,
            };
            let kind = if out::is_canonical_number(t) {
                Kind::Num
            } else {
                Kind::Str
            };
            column(rec, log, col, if kind == Kind::Num { t } else { v }, kind)
        }
        _ => column(rec, log, col, v, Kind::Str),
    }
}

/// The Zeek log a JSON document comes from: `_path`, else guessed from its columns.
pub(crate) fn json_log(obj: &serde_json::Map<String, Value>) -> &str {
    if let Some(Value::String(p)) = obj.get("_path") {
        return p;
    }
    let has = |k: &str| obj.contains_key(k);
    if has("query") || has("qtype_name") || has("rcode_name") {
        "dns"
    } else if has("conn_state") || has("history") || has("orig_pkts") {
        "conn"
    } else if has("auth_success") || has("auth_attempts") || has("host_key") {
        "ssh"
    } else if has("cookie") || has("security_protocol") || has("keyboard_layout") {
        "rdp"
    } else if has("method") || has("status_code") || has("user_agent") {
        "http"
    } else {
        "zeek"
    }
}

/// Parses a Zeek JSON document.
pub(crate) fn json(
    obj: &serde_json::Map<String, Value>,
    raw: &str,
    received_ms: i64,
    rec: &mut Record,
    buf: &mut String,
) -> (SourceType, i64) {
    let log = json_log(obj);
    let ts = match obj.get("ts") {
        Some(Value::Number(n)) => n.as_f64().map(|f| (f * 1000.0) as i64),
        Some(Value::String(s)) => time::lenient(s).or_else(|| time::epoch_secs(s)),
        _ => None,
    }
    .unwrap_or(received_ms);
    out::head(rec, ts, raw);
    start(rec, log);
    for (col, v) in obj {
        if col == "ts" || col == "_path" || col == "_write_ts" {
            continue;
        }
        json_value(rec, log, col, v, buf);
    }
    (source_of(log), ts)
}

fn json_value(rec: &mut Record, log: &str, col: &str, v: &Value, buf: &mut String) {
    match v {
        Value::String(s) => column(rec, log, col, s, Kind::Str),
        Value::Number(n) => {
            buf.clear();
            let _ = write!(buf, "{n}");
            column(rec, log, col, buf, Kind::Num);
        }
        Value::Bool(b) => column(rec, log, col, if *b { "true" } else { "false" }, Kind::Bool),
        Value::Array(items) => {
            for item in items {
                json_value(rec, log, col, item, buf);
            }
        }
        Value::Null => {}
        Value::Object(o) => {
            // Nested records (`id: {orig_h: ..}`) as dotted columns.
            for (k, child) in o {
                let mut name = String::with_capacity(col.len() + k.len() + 1);
                name.push_str(col);
                name.push('.');
                name.push_str(k);
                json_value(rec, log, &name, child, buf);
            }
        }
    }
}

fn start(rec: &mut Record, log: &str) {
    rec.push("event.kind", Kind::Str, "event");
    rec.push("event.module", Kind::Str, "zeek");
    rec.push_fmt("event.dataset", Kind::Str, format_args!("zeek.{log}"));
    rec.push("event.category", Kind::Str, "network");
}

/// One column: its ECS field(s), and the native `zeek.<log>.<column>` unless ECS took it.
fn column(rec: &mut Record, log: &str, col: &str, v: &str, kind: Kind) {
    let ecs: Option<&str> = match col {
        "id.orig_h" => Some("source.ip"),
        "id.orig_p" => Some("source.port"),
        "id.resp_h" => Some("destination.ip"),
        "id.resp_p" => Some("destination.port"),
        "uid" => Some("zeek.session_id"),
        _ => None,
    };
    if let Some(key) = ecs {
        rec.push(key, kind, v);
        return;
    }
    rec.push_parts(&["zeek.", log, ".", col], kind, v);
    match (log, col) {
        (_, "proto") => rec.push("network.transport", Kind::Str, v),
        ("dns", "query") => dns::question_name(rec, v),
        ("dns", "qtype_name") => rec.push("dns.question.type", Kind::Str, v),
        ("dns", "qclass_name") => rec.push("dns.question.class", Kind::Str, v),
        ("dns", "rcode_name") => rec.push("dns.response_code", Kind::Str, v),
        ("dns", "answers") => rec.push("dns.answers.data", Kind::Str, v),
        ("dns", "trans_id") => rec.push("dns.id", kind, v),
        ("conn", "service") => rec.push("network.protocol", Kind::Str, v),
        ("conn", "orig_ip_bytes") => rec.push("source.bytes", kind, v),
        ("conn", "resp_ip_bytes") => rec.push("destination.bytes", kind, v),
        ("conn", "orig_pkts") => rec.push("source.packets", kind, v),
        ("conn", "resp_pkts") => rec.push("destination.packets", kind, v),
        ("http", "method") => rec.push("http.request.method", Kind::Str, v),
        ("http", "host") => rec.push("url.domain", Kind::Str, v),
        ("http", "uri") => web::url(v, rec),
        ("http", "referrer") => rec.push("http.request.referrer", Kind::Str, v),
        ("http", "version") => rec.push("http.version", Kind::Str, v),
        ("http", "user_agent") => rec.push("user_agent.original", Kind::Str, v),
        ("http", "status_code") => rec.push("http.response.status_code", kind, v),
        ("http", "request_body_len") => rec.push("http.request.body.bytes", kind, v),
        ("http", "response_body_len") => rec.push("http.response.body.bytes", kind, v),
        ("http" | "ftp", "username" | "user") => rec.push("user.name", Kind::Str, v),
        ("ssh", "auth_success") => rec.push(
            "event.outcome",
            Kind::Str,
            if v == "true" { "success" } else { "failure" },
        ),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_stream() {
        let mut h = Header::default();
        for line in [
            "#separator \\x09",
            "#set_separator\t,",
            "#empty_field\t(empty)",
            "#unset_field\t-",
            "#path\tdns",
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tqtype_name\trcode_name\tanswers\tTTLs\trejected",
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tstring\tvector[string]\tvector[interval]\tbool",
        ] {
            assert!(h.read(line), "{line}");
        }
        let mut rec = Record::new();
        let row = "1521911799.739898\tCx\t10.0.0.1\t5353\t10.0.0.53\t53\tudp\twww.example.co.uk\tA\tNOERROR\t1.2.3.4,5.6.7.8\t60.000000,60.0\tF";
        let (st, ts) = tsv_row(&h, row, 0, &mut rec).unwrap();
        assert_eq!((st, ts), (SourceType::ZeekDns, 1_521_911_799_739));
        let get = |k| rec.get(k).map(|f| f.value);
        assert_eq!(get("source.ip"), Some("10.0.0.1"));
        assert_eq!(get("dns.question.registered_domain"), Some("example.co.uk"));
        assert_eq!(rec.get_all("dns.answers.data").count(), 2);
        assert_eq!(get("zeek.dns.rejected"), Some("false"));
        assert_eq!(
            rec.get_all("zeek.dns.TTLs")
                .map(|f| f.value)
                .collect::<Vec<_>>(),
            ["60.0", "60.0"]
        );
        assert!(tsv_row(&h, "a\tb", 0, &mut rec).is_none());
    }
}
