//! JSON records: Suricata EVE, AWS CloudTrail, Okta System Log, Windows events (evtx_dump,
//! Winlogbeat, NXLog and flat exports) and any other JSON. Vendor formats get their ECS
//! fields plus the document kept under a prefix (`suricata.eve.*`, `aws.cloudtrail.*`,
//! `okta.*`); Windows events take the Winlogbeat form; other JSON is kept as it is.

use serde_json::{Map, Value};
use yagura_event::{Kind, Record};

use super::{dns, out, time, web, zeek, SourceType};
use crate::value::{push_dotted, push_value};

/// Recognises a JSON document's source type from its keys.
pub(crate) fn detect(doc: &Value) -> SourceType {
    let Some(o) = doc.as_object() else {
        return SourceType::Json;
    };
    let has = |k: &str| o.contains_key(k);
    if has("eventSource") && has("eventName") {
        SourceType::CloudTrail
    } else if has("eventType") && has("actor") && (has("uuid") || has("published")) {
        SourceType::Okta
    } else if has("event_type") && (has("src_ip") || has("flow_id")) {
        SourceType::SuricataEve
    } else if has("ts") && (has("id.orig_h") || (has("uid") && has("id"))) {
        zeek::source_of(zeek::json_log(o))
    } else if crate::detect_shape(doc) != crate::Shape::Ecs
        || (has("EventID") && (has("Computer") || has("ProviderName")))
    {
        SourceType::Windows
    } else {
        SourceType::Json
    }
}

/// Scratch space of the JSON parsers.
#[derive(Default)]
pub(crate) struct Scratch {
    pub key: String,
    pub num: String,
    pub win: Record,
}

/// Parses `doc` as `source` (as [`detect`] gave it, or a hint that fits). Returns the
/// timestamp.
pub(crate) fn parse(
    source: SourceType,
    doc: &Value,
    raw: &str,
    received_ms: i64,
    rec: &mut Record,
    s: &mut Scratch,
) -> Option<(SourceType, i64)> {
    let o = doc.as_object()?;
    match source {
        SourceType::CloudTrail => Some((source, cloudtrail(o, raw, received_ms, rec, s))),
        SourceType::Okta => Some((source, okta(o, raw, received_ms, rec, s))),
        SourceType::SuricataEve => Some((source, suricata(o, raw, received_ms, rec, s))),
        SourceType::Windows => windows(doc, raw, received_ms, rec, s).map(|ts| (source, ts)),
        SourceType::Zeek
        | SourceType::ZeekDns
        | SourceType::ZeekConn
        | SourceType::ZeekSsh
        | SourceType::ZeekRdp
        | SourceType::ZeekHttp => Some(zeek::json(o, raw, received_ms, rec, &mut s.num)),
        _ => Some((SourceType::Json, generic(o, raw, received_ms, rec, s))),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

fn ts_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::String(s) => time::lenient(s),
        Value::Number(n) => {
            let f = n.as_f64()?;
            // Seconds or milliseconds since the epoch.
            Some(if f > 1e11 {
                f as i64
            } else {
                (f * 1000.0) as i64
            })
        }
        _ => None,
    }
}

/// Every member of `o` under `prefix.` (dotted), except `skip`.
fn keep(rec: &mut Record, key: &mut String, prefix: &str, o: &Map<String, Value>, skip: &[&str]) {
    for (k, v) in o {
        if skip.contains(&k.as_str()) {
            continue;
        }
        key.clear();
        if !prefix.is_empty() {
            key.push_str(prefix);
            key.push('.');
        }
        key.push_str(k);
        push_dotted(rec, key, v);
    }
}

fn text(rec: &mut Record, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        if !v.is_empty() {
            rec.push(key, Kind::Str, v);
        }
    }
}

fn source_ip(rec: &mut Record, prefix: &str, v: Option<&str>) {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return;
    };
    if out::is_ip(v) {
        rec.push_parts(&[prefix, ".ip"], Kind::Str, v);
    } else {
        rec.push_parts(&[prefix, ".address"], Kind::Str, v);
    }
}

fn cloudtrail(
    o: &Map<String, Value>,
    raw: &str,
    received_ms: i64,
    rec: &mut Record,
    s: &mut Scratch,
) -> i64 {
    let get = |k: &str| o.get(k);
    let ts = ts_of(get("eventTime")).unwrap_or(received_ms);
    out::head(rec, ts, raw);
    out::dataset(rec, "aws", "aws.cloudtrail");
    let name = get("eventName").and_then(Value::as_str);
    let provider = get("eventSource").and_then(Value::as_str);
    text(rec, "event.action", name);
    text(rec, "event.provider", provider);
    text(rec, "event.id", get("eventID").and_then(Value::as_str));
    let category = match provider {
        Some("signin.amazonaws.com") => Some("authentication"),
        Some("sts.amazonaws.com")
            if name.is_some_and(|n| n.starts_with("AssumeRole") || n == "GetSessionToken") =>
        {
            Some("authentication")
        }
        Some("iam.amazonaws.com")
        | Some("sso.amazonaws.com")
        | Some("identitystore.amazonaws.com") => Some("iam"),
        _ => None,
    };
    text(rec, "event.category", category);
    let error = get("errorCode").is_some_and(|e| !e.is_null());
    let console_failed = o
        .get("responseElements")
        .and_then(|r| r.get("ConsoleLogin"))
        .and_then(Value::as_str)
        == Some("Failure");
    rec.push(
        "event.outcome",
        Kind::Str,
        if error || console_failed {
            "failure"
        } else {
            "success"
        },
    );
    source_ip(
        rec,
        "source",
        get("sourceIPAddress").and_then(Value::as_str),
    );
    text(
        rec,
        "user_agent.original",
        get("userAgent").and_then(Value::as_str),
    );
    rec.push("cloud.provider", Kind::Str, "aws");
    text(
        rec,
        "cloud.region",
        get("awsRegion").and_then(Value::as_str),
    );
    let identity = get("userIdentity");
    let account = get("recipientAccountId")
        .and_then(Value::as_str)
        .or_else(|| {
            identity
                .and_then(|i| i.get("accountId"))
                .and_then(Value::as_str)
        });
    text(rec, "cloud.account.id", account);
    if let Some(id) = identity {
        let user = str_at(id, &["userName"])
            .or_else(|| str_at(id, &["sessionContext", "sessionIssuer", "userName"]))
            .or_else(|| str_at(id, &["arn"]).and_then(|a| a.rsplit('/').next()))
            .or_else(|| (str_at(id, &["type"]) == Some("Root")).then_some("root"));
        text(rec, "user.name", user);
        text(rec, "user.id", str_at(id, &["principalId"]));
    }
    if let Some(code) = get("errorCode").and_then(Value::as_str) {
        rec.push("error.code", Kind::Str, code);
    }
    if let Some(msg) = get("errorMessage").and_then(Value::as_str) {
        rec.push("error.message", Kind::Str, msg);
    }
    keep(rec, &mut s.key, "aws.cloudtrail", o, &[]);
    ts
}

fn okta(
    o: &Map<String, Value>,
    raw: &str,
    received_ms: i64,
    rec: &mut Record,
    s: &mut Scratch,
) -> i64 {
    let get = |k: &str| o.get(k);
    let ts = ts_of(get("published")).unwrap_or(received_ms);
    out::head(rec, ts, raw);
    text(
        rec,
        "message",
        get("displayMessage").and_then(Value::as_str),
    );
    out::dataset(rec, "okta", "okta.system");
    let action = get("eventType").and_then(Value::as_str);
    text(rec, "event.action", action);
    text(rec, "event.id", get("uuid").and_then(Value::as_str));
    let category = action.and_then(|a| {
        if a.starts_with("user.authentication")
            || a.starts_with("user.session")
            || a.starts_with("user.mfa")
            || a.starts_with("policy.evaluate_sign_on")
        {
            Some("authentication")
        } else if a.starts_with("user.account")
            || a.starts_with("group.")
            || a.starts_with("user.lifecycle")
            || a.starts_with("application.user_membership")
            || a.starts_with("system.api_token")
            || a.starts_with("user.mfa.factor")
        {
            Some("iam")
        } else {
            None
        }
    });
    text(rec, "event.category", category);
    let outcome = o
        .get("outcome")
        .and_then(|x| x.get("result"))
        .and_then(Value::as_str);
    match outcome {
        Some("SUCCESS") | Some("ALLOW") => rec.push("event.outcome", Kind::Str, "success"),
        Some("FAILURE") | Some("DENY") => rec.push("event.outcome", Kind::Str, "failure"),
        Some(_) => rec.push("event.outcome", Kind::Str, "unknown"),
        None => {}
    }
    if let Some(client) = get("client") {
        source_ip(rec, "source", str_at(client, &["ipAddress"]));
        text(
            rec,
            "user_agent.original",
            str_at(client, &["userAgent", "rawUserAgent"]),
        );
    }
    if let Some(actor) = get("actor") {
        text(rec, "user.name", str_at(actor, &["alternateId"]));
        text(rec, "user.full_name", str_at(actor, &["displayName"]));
        text(rec, "user.id", str_at(actor, &["id"]));
    }
    if let Some(Value::Array(targets)) = get("target") {
        for t in targets {
            if str_at(t, &["type"]) == Some("User") {
                text(rec, "user.target.name", str_at(t, &["alternateId"]));
                text(rec, "user.target.full_name", str_at(t, &["displayName"]));
            }
        }
    }
    keep(rec, &mut s.key, "okta", o, &[]);
    ts
}

fn suricata(
    o: &Map<String, Value>,
    raw: &str,
    received_ms: i64,
    rec: &mut Record,
    s: &mut Scratch,
) -> i64 {
    let get = |k: &str| o.get(k);
    let ts = ts_of(get("timestamp")).unwrap_or(received_ms);
    out::head(rec, ts, raw);
    let etype = get("event_type").and_then(Value::as_str).unwrap_or("");
    let alert = etype == "alert";
    rec.push(
        "event.kind",
        Kind::Str,
        if alert { "alert" } else { "event" },
    );
    rec.push("event.module", Kind::Str, "suricata");
    rec.push("event.dataset", Kind::Str, "suricata.eve");
    text(rec, "event.action", Some(etype));
    rec.push("event.category", Kind::Str, "network");
    if alert {
        rec.push("event.category", Kind::Str, "intrusion_detection");
    }
    let num = |rec: &mut Record, key: &str, v: Option<&Value>| {
        if let Some(v @ Value::Number(_)) = v {
            push_value(rec, key, v);
        }
    };
    source_ip(rec, "source", get("src_ip").and_then(Value::as_str));
    num(rec, "source.port", get("src_port"));
    source_ip(rec, "destination", get("dest_ip").and_then(Value::as_str));
    num(rec, "destination.port", get("dest_port"));
    if let Some(p) = get("proto").and_then(Value::as_str) {
        s.num.clear();
        s.num.push_str(p);
        s.num.make_ascii_lowercase();
        rec.push("network.transport", Kind::Str, &s.num);
    }
    text(
        rec,
        "network.community_id",
        get("community_id").and_then(Value::as_str),
    );
    text(
        rec,
        "observer.ingress.interface.name",
        get("in_iface").and_then(Value::as_str),
    );
    if let Some(a) = get("alert") {
        let action = str_at(a, &["action"]);
        match action {
            Some("allowed") => rec.push("event.type", Kind::Str, "allowed"),
            Some("blocked") => rec.push("event.type", Kind::Str, "denied"),
            _ => {}
        }
        num(rec, "rule.id", a.get("signature_id"));
        text(rec, "rule.name", str_at(a, &["signature"]));
        text(rec, "rule.category", str_at(a, &["category"]));
        num(rec, "event.severity", a.get("severity"));
    }
    if let Some(d) = get("dns") {
        text(rec, "dns.type", str_at(d, &["type"]));
        let name = str_at(d, &["rrname"]).or_else(|| {
            d.get("queries")
                .and_then(|q| q.get(0))
                .and_then(|q| q.get("rrname"))
                .and_then(Value::as_str)
        });
        match name {
            Some(n) if str_at(d, &["type"]) == Some("answer") => dns::answer_name(rec, n),
            Some(n) => dns::question_name(rec, n),
            None => {}
        }
        let qtype = str_at(d, &["rrtype"]).or_else(|| {
            d.get("queries")
                .and_then(|q| q.get(0))
                .and_then(|q| q.get("rrtype"))
                .and_then(Value::as_str)
        });
        text(rec, "dns.question.type", qtype);
        text(rec, "dns.response_code", str_at(d, &["rcode"]));
        num(rec, "dns.id", d.get("id"));
        if let Some(Value::Array(answers)) = d.get("answers") {
            for a in answers {
                text(rec, "dns.answers.data", str_at(a, &["rdata"]));
            }
        }
        if let Some(r) = str_at(d, &["rdata"]) {
            rec.push("dns.answers.data", Kind::Str, r);
        }
    }
    if let Some(h) = get("http") {
        text(rec, "url.domain", str_at(h, &["hostname"]));
        if let Some(u) = str_at(h, &["url"]) {
            web::url(u, rec);
        }
        text(rec, "http.request.method", str_at(h, &["http_method"]));
        num(rec, "http.response.status_code", h.get("status"));
        text(rec, "user_agent.original", str_at(h, &["http_user_agent"]));
        text(rec, "http.request.referrer", str_at(h, &["http_refer"]));
        num(rec, "http.response.body.bytes", h.get("length"));
        text(
            rec,
            "http.version",
            str_at(h, &["protocol"]).map(|p| p.trim_start_matches("HTTP/")),
        );
    }
    if let Some(t) = get("tls") {
        text(rec, "tls.client.server_name", str_at(t, &["sni"]));
        text(rec, "tls.server.subject", str_at(t, &["subject"]));
        text(rec, "tls.server.issuer", str_at(t, &["issuerdn"]));
        text(rec, "tls.server.ja3s", str_at(t, &["ja3s", "hash"]));
        text(rec, "tls.client.ja3", str_at(t, &["ja3", "hash"]));
    }
    if let Some(f) = get("flow") {
        num(rec, "source.packets", f.get("pkts_toserver"));
        num(rec, "destination.packets", f.get("pkts_toclient"));
        num(rec, "source.bytes", f.get("bytes_toserver"));
        num(rec, "destination.bytes", f.get("bytes_toclient"));
    }
    keep(rec, &mut s.key, "suricata.eve", o, &[]);
    ts
}

/// Generic JSON: every member kept as it is (nested objects as dotted names), `@timestamp`
/// normalised.
fn generic(
    o: &Map<String, Value>,
    raw: &str,
    received_ms: i64,
    rec: &mut Record,
    s: &mut Scratch,
) -> i64 {
    let ts = [
        "@timestamp",
        "timestamp",
        "time",
        "ts",
        "eventTime",
        "published",
        "date",
        "datetime",
        "EventTime",
        "TimeCreated",
    ]
    .iter()
    .find_map(|k| ts_of(o.get(*k)))
    .unwrap_or(received_ms);
    out::head(rec, ts, raw);
    keep(rec, &mut s.key, "", o, &["@timestamp", "event.original"]);
    ts
}

/// Windows events in the Winlogbeat form: `winlog.*`, `winlog.event_data.<Name>`, `event.code`,
/// `host.name` and the ECS fields Winlogbeat derives.
fn windows(
    doc: &Value,
    raw: &str,
    received_ms: i64,
    rec: &mut Record,
    s: &mut Scratch,
) -> Option<i64> {
    let shape = crate::detect_shape(doc);
    if shape == crate::Shape::Winlogbeat {
        // Already the Winlogbeat form: keep it, add what is missing.
        let o = doc.as_object()?;
        let ts = ts_of(o.get("@timestamp")).unwrap_or(received_ms);
        out::head(rec, ts, raw);
        keep(rec, &mut s.key, "", o, &["@timestamp", "event.original"]);
        return Some(ts);
    }
    s.win.clear();
    let meta = crate::flatten_windows(doc, shape, &mut s.win).ok()?;
    let w = &s.win;
    let ts = meta.timestamp.or_else(|| {
        [
            "TimeCreated",
            "EventTime",
            "@timestamp",
            "TimeCreated_SystemTime",
            "UtcTime",
        ]
        .iter()
        .find_map(|k| w.get(k).and_then(|f| time::lenient(f.value)))
    });
    let ts = ts.unwrap_or(received_ms);
    out::head(rec, ts, raw);
    if let Some(m) = w.get("Message") {
        rec.push("message", Kind::Str, m.value);
    }
    let channel = if meta.channel.is_empty() {
        w.get("Channel").map_or("", |f| f.value)
    } else {
        meta.channel.as_str()
    };
    rec.push("event.kind", Kind::Str, "event");
    rec.push("event.module", Kind::Str, "windows");
    dataset_of(rec, channel);
    let event_id = meta
        .event_id
        .or_else(|| w.get("EventID").and_then(|f| f.value.parse().ok()));
    if let Some(id) = event_id {
        rec.push_fmt("event.code", Kind::Str, format_args!("{id}"));
        rec.push_fmt("winlog.event_id", Kind::Num, format_args!("{id}"));
    }
    if !channel.is_empty() {
        rec.push("winlog.channel", Kind::Str, channel);
    }
    let host = if meta.computer.is_empty() {
        w.get("Computer").map_or("", |f| f.value)
    } else {
        meta.computer.as_str()
    };
    if !host.is_empty() {
        rec.push("host.name", Kind::Str, host);
        rec.push("winlog.computer_name", Kind::Str, host);
    }
    for f in w.fields() {
        let key = match f.key {
            "EventID"
            | "Channel"
            | "Computer"
            | "Message"
            | "TimeCreated_SystemTime"
            | "EventID_Qualifiers"
            | "Hostname" => continue,
            "Provider_Name" | "ProviderName" => "winlog.provider_name",
            "Provider_Guid" | "ProviderGuid" => "winlog.provider_guid",
            "Provider_EventSourceName" => "winlog.event_source_name",
            "EventRecordID" | "RecordNumber" => "winlog.record_id",
            "Execution_ProcessID" => "winlog.process.pid",
            "Execution_ThreadID" | "ThreadID" => "winlog.process.thread.id",
            "Security_UserID" | "UserID" => "winlog.user.identifier",
            "Correlation_ActivityID" | "ActivityID" => "winlog.activity_id",
            "Correlation_RelatedActivityID" => "winlog.related_activity_id",
            "Level" => "winlog.level",
            "Task" => "winlog.task",
            "Opcode" => "winlog.opcode",
            "Keywords" => "winlog.keywords",
            "Version" => "winlog.version",
            "Severity" => "log.level",
            // NXLog / export metadata.
            "EventTime" | "EventReceivedTime" | "SourceModuleName" | "SourceModuleType"
            | "SeverityValue" | "EventType" | "OpcodeValue" | "@timestamp" | "@version"
            | "host" | "port" | "tags" | "Category" | "MessageTitle" | "TimeCreated"
            | "AccountName" | "AccountType" | "Domain" | "EventTypeOrignal" | "RecordId" => {
                rec.push_parts(&["winlog.", f.key], f.kind, f.value);
                continue;
            }
            name => {
                let name = name
                    .strip_prefix("ExtraEventData.")
                    .or_else(|| name.strip_prefix("EventData."))
                    .unwrap_or(name);
                rec.push_parts(&["winlog.event_data.", name], f.kind, f.value);
                continue;
            }
        };
        let kind =
            if key == "winlog.record_id" || key.ends_with(".pid") || key.ends_with("thread.id") {
                if out::is_int(f.value) {
                    Kind::Num
                } else {
                    f.kind
                }
            } else {
                f.kind
            };
        rec.push(key, kind, f.value);
    }
    derive_ecs(rec, channel, event_id.unwrap_or(0), &s.win);
    Some(ts)
}

/// `event.dataset` from the channel: `Security` -> `windows.security`,
/// `Microsoft-Windows-Sysmon/Operational` -> `windows.sysmon_operational`.
fn dataset_of(rec: &mut Record, channel: &str) {
    let name = channel
        .strip_prefix("Microsoft-Windows-")
        .unwrap_or(channel);
    let mut buf = [0u8; 96];
    let mut n = 0;
    for c in name.bytes() {
        if n == buf.len() {
            break;
        }
        buf[n] = if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            b'_'
        };
        n += 1;
    }
    let slug = std::str::from_utf8(&buf[..n]).unwrap_or("unknown");
    let slug = if slug.is_empty() { "unknown" } else { slug };
    rec.push_fmt("event.dataset", Kind::Str, format_args!("windows.{slug}"));
}

/// The common ECS fields Winlogbeat's ingest pipelines derive from event data.
fn derive_ecs(rec: &mut Record, channel: &str, id: u32, w: &Record) {
    // Exports that nest event data (`ExtraEventData.X`) are looked up by their suffix.
    let nested = w
        .keys()
        .any(|k| k.starts_with("ExtraEventData.") || k.starts_with("EventData."));
    let data = |name: &str| -> Option<&str> {
        w.get(name)
            .or_else(|| {
                if !nested {
                    return None;
                }
                w.fields().find(|f| {
                    f.key
                        .strip_prefix("ExtraEventData.")
                        .or_else(|| f.key.strip_prefix("EventData."))
                        == Some(name)
                })
            })
            .map(|f| f.value)
            .filter(|v| !v.is_empty() && *v != "-")
    };
    let push = |rec: &mut Record, key: &str, v: Option<&str>| {
        if let Some(v) = v {
            rec.push(key, Kind::Str, v);
        }
    };
    let pid = |rec: &mut Record, key: &str, v: Option<&str>| {
        let Some(v) = v else { return };
        if let Some(hex) = v.strip_prefix("0x") {
            if let Ok(n) = u64::from_str_radix(hex, 16) {
                rec.push_fmt(key, Kind::Num, format_args!("{n}"));
            }
        } else {
            out::int(rec, key, v);
        }
    };
    let user = |rec: &mut Record, v: Option<&str>, domain: Option<&str>| {
        let Some(v) = v else { return };
        match v.split_once('\\') {
            Some((d, u)) => {
                rec.push("user.name", Kind::Str, u);
                rec.push("user.domain", Kind::Str, d);
            }
            None => {
                rec.push("user.name", Kind::Str, v);
                push(rec, "user.domain", domain);
            }
        }
    };
    let exe_name = |rec: &mut Record, key: &str, v: Option<&str>| {
        if let Some(v) = v {
            let name = v.rsplit(['\\', '/']).next().unwrap_or(v);
            rec.push(key, Kind::Str, name);
        }
    };
    if channel == "Microsoft-Windows-Sysmon/Operational" {
        rec.push(
            "event.category",
            Kind::Str,
            match id {
                1 | 5 | 8 | 10 | 25 => "process",
                3 | 22 => "network",
                11 | 23 | 26 | 2 | 15 => "file",
                12..=14 => "registry",
                6 | 7 => "library",
                _ => "host",
            },
        );
        let image = data("Image");
        push(rec, "process.executable", image);
        exe_name(rec, "process.name", image);
        push(rec, "process.command_line", data("CommandLine"));
        pid(rec, "process.pid", data("ProcessId"));
        push(rec, "process.entity_id", data("ProcessGuid"));
        push(rec, "process.working_directory", data("CurrentDirectory"));
        let parent_image = data("ParentImage");
        push(rec, "process.parent.executable", parent_image);
        exe_name(rec, "process.parent.name", parent_image);
        push(
            rec,
            "process.parent.command_line",
            data("ParentCommandLine"),
        );
        pid(rec, "process.parent.pid", data("ParentProcessId"));
        push(
            rec,
            "process.pe.original_file_name",
            data("OriginalFileName"),
        );
        push(rec, "process.pe.product", data("Product"));
        push(rec, "process.pe.company", data("Company"));
        push(rec, "process.pe.description", data("Description"));
        if let Some(h) = data("Hashes") {
            for item in h.split(',') {
                if let Some((alg, v)) = item.split_once('=') {
                    let key = match alg {
                        "SHA256" => "process.hash.sha256",
                        "SHA1" => "process.hash.sha1",
                        "MD5" => "process.hash.md5",
                        "IMPHASH" => "process.pe.imphash",
                        _ => continue,
                    };
                    rec.push(key, Kind::Str, v);
                }
            }
        }
        user(rec, data("User"), None);
        match id {
            3 => {
                push(rec, "source.ip", data("SourceIp"));
                pid(rec, "source.port", data("SourcePort"));
                push(rec, "source.domain", data("SourceHostname"));
                push(rec, "destination.ip", data("DestinationIp"));
                pid(rec, "destination.port", data("DestinationPort"));
                push(rec, "destination.domain", data("DestinationHostname"));
                if let Some(p) = data("Protocol") {
                    rec.push("network.transport", Kind::Str, p);
                }
                if let Some(i) = data("Initiated") {
                    rec.push(
                        "network.direction",
                        Kind::Str,
                        if i == "true" { "egress" } else { "ingress" },
                    );
                }
            }
            22 => {
                if let Some(q) = data("QueryName") {
                    dns::question_name(rec, q);
                }
                if let Some(r) = data("QueryResults") {
                    for a in r.split(';').map(str::trim).filter(|a| !a.is_empty()) {
                        let a = a.strip_prefix("::ffff:").unwrap_or(a);
                        rec.push("dns.answers.data", Kind::Str, a);
                    }
                }
            }
            6 | 7 => push(rec, "file.path", data("ImageLoaded")),
            2 | 11 | 15 | 23 | 26 => push(rec, "file.path", data("TargetFilename")),
            12..=14 => {
                push(rec, "registry.path", data("TargetObject"));
                push(rec, "registry.data.strings", data("Details"));
            }
            _ => {}
        }
    } else if channel == "Security" {
        match id {
            4624 | 4625 | 4634 | 4647 | 4648 | 4672 | 4776 | 4768 | 4769 | 4771 => {
                rec.push("event.category", Kind::Str, "authentication");
                let (action, outcome) = match id {
                    4624 => ("logged-in", "success"),
                    4625 => ("logon-failed", "failure"),
                    4634 | 4647 => ("logged-out", "success"),
                    4648 => ("logged-in-explicit", "success"),
                    4672 => ("logged-in-special", "success"),
                    4771 => ("kerberos-preauth-failed", "failure"),
                    _ => (
                        "credential-validation",
                        if data("Status").is_some_and(|s| s != "0x0") {
                            "failure"
                        } else {
                            "success"
                        },
                    ),
                };
                rec.push("event.action", Kind::Str, action);
                rec.push("event.outcome", Kind::Str, outcome);
                user(rec, data("TargetUserName"), data("TargetDomainName"));
                if let Some(ip) = data("IpAddress").filter(|ip| out::is_ip(ip)) {
                    let ip = ip.strip_prefix("::ffff:").unwrap_or(ip);
                    rec.push("source.ip", Kind::Str, ip);
                }
                pid(rec, "source.port", data("IpPort").filter(|p| *p != "0"));
                push(rec, "source.domain", data("WorkstationName"));
                push(rec, "winlog.logon.type", data("LogonType"));
            }
            4688 | 4689 => {
                rec.push("event.category", Kind::Str, "process");
                rec.push(
                    "event.type",
                    Kind::Str,
                    if id == 4688 { "start" } else { "end" },
                );
                let exe = data("NewProcessName").or_else(|| data("ProcessName"));
                push(rec, "process.executable", exe);
                exe_name(rec, "process.name", exe);
                push(rec, "process.command_line", data("CommandLine"));
                pid(
                    rec,
                    "process.pid",
                    data("NewProcessId").or_else(|| data("ProcessId")),
                );
                if id == 4688 {
                    let parent = data("ParentProcessName");
                    push(rec, "process.parent.executable", parent);
                    exe_name(rec, "process.parent.name", parent);
                    pid(rec, "process.parent.pid", data("ProcessId"));
                }
                user(rec, data("SubjectUserName"), data("SubjectDomainName"));
            }
            _ => {
                if let Some(u) = data("SubjectUserName") {
                    user(rec, Some(u), data("SubjectDomainName"));
                }
            }
        }
    } else if id == 4104 || id == 4103 {
        push(
            rec,
            "powershell.file.script_block_text",
            data("ScriptBlockText"),
        );
        push(
            rec,
            "powershell.file.script_block_id",
            data("ScriptBlockId"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &Value) -> (SourceType, Record) {
        let mut rec = Record::new();
        let mut s = Scratch::default();
        let st = detect(doc);
        parse(st, doc, "{}", 0, &mut rec, &mut s).unwrap();
        (st, rec)
    }

    #[test]
    fn cloudtrail_okta_suricata() {
        let (st, rec) = run(
            &serde_json::json!({"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accountId":"123","userName":"bob"},
            "eventTime":"2023-04-11T15:24:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1",
            "sourceIPAddress":"1.2.3.4","responseElements":{"ConsoleLogin":"Failure"},"requestParameters":{"bucketName":"b"}}),
        );
        assert_eq!(st, SourceType::CloudTrail);
        let get = |k| rec.get(k).map(|f| f.value);
        assert_eq!(get("event.action"), Some("ConsoleLogin"));
        assert_eq!(get("event.outcome"), Some("failure"));
        assert_eq!(get("user.name"), Some("bob"));
        assert_eq!(get("cloud.account.id"), Some("123"));
        assert_eq!(
            get("aws.cloudtrail.requestParameters.bucketName"),
            Some("b")
        );
        assert_eq!(get("@timestamp"), Some("2023-04-11T15:24:00.000Z"));

        let (st, rec) = run(
            &serde_json::json!({"uuid":"u","published":"2021-01-08 21:28:34.875","eventType":"user.session.start",
            "actor":{"alternateId":"user@example.com","displayName":"Test User"},"outcome":{"result":"FAILURE"},
            "client":{"ipAddress":"5.6.7.8","userAgent":{"rawUserAgent":"UA"}},"displayMessage":"User login to Okta"}),
        );
        assert_eq!(st, SourceType::Okta);
        let get = |k| rec.get(k).map(|f| f.value);
        assert_eq!(get("user.name"), Some("user@example.com"));
        assert_eq!(get("source.ip"), Some("5.6.7.8"));
        assert_eq!(get("event.outcome"), Some("failure"));
        assert_eq!(get("message"), Some("User login to Okta"));
        assert_eq!(get("okta.actor.displayName"), Some("Test User"));

        let (st, rec) = run(
            &serde_json::json!({"timestamp":"2022-07-10T23:50:05.533101+0000","flow_id":1,"event_type":"alert",
            "src_ip":"1.2.3.4","src_port":52812,"dest_ip":"127.0.0.1","dest_port":80,"proto":"TCP",
            "alert":{"action":"allowed","signature_id":2024468,"signature":"ET X","severity":1}}),
        );
        assert_eq!(st, SourceType::SuricataEve);
        let get = |k| rec.get(k).map(|f| f.value);
        assert_eq!(get("event.kind"), Some("alert"));
        assert_eq!(get("rule.id"), Some("2024468"));
        assert_eq!(get("network.transport"), Some("tcp"));
        assert_eq!(get("suricata.eve.alert.signature"), Some("ET X"));
    }

    #[test]
    fn windows_forms() {
        let (st, rec) = run(&serde_json::json!({"Event": {
            "System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws1",
                       "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventRecordID": 7,
                       "TimeCreated": {"#attributes": {"SystemTime": "2025-10-25T13:44:33.440907Z"}}},
            "EventData": {"Image": "C:\\Windows\\System32\\reg.exe", "CommandLine": "reg add x", "User": "CORP\\bob", "ProcessId": 42}}}));
        assert_eq!(st, SourceType::Windows);
        let get = |k| rec.get(k).map(|f| f.value);
        assert_eq!(get("event.code"), Some("1"));
        assert_eq!(
            get("winlog.channel"),
            Some("Microsoft-Windows-Sysmon/Operational")
        );
        assert_eq!(
            get("winlog.provider_name"),
            Some("Microsoft-Windows-Sysmon")
        );
        assert_eq!(get("winlog.record_id"), Some("7"));
        assert_eq!(
            get("winlog.event_data.Image"),
            Some("C:\\Windows\\System32\\reg.exe")
        );
        assert_eq!(
            get("process.executable"),
            Some("C:\\Windows\\System32\\reg.exe")
        );
        assert_eq!(get("process.name"), Some("reg.exe"));
        assert_eq!(get("user.name"), Some("bob"));
        assert_eq!(get("host.name"), Some("ws1"));
        assert_eq!(get("event.dataset"), Some("windows.sysmon_operational"));

        let (st, rec) = run(
            &serde_json::json!({"EventID": "4625", "ProviderName": "Microsoft-Windows-Security-Auditing",
            "TimeCreated": "2024-01-15 10:30:45 +0000", "Computer": "WIN-1", "Channel": "Security",
            "ExtraEventData": {"TargetUserName": "admin", "IpAddress": "10.1.2.3", "LogonType": "3"}}),
        );
        assert_eq!(st, SourceType::Windows);
        let get = |k| rec.get(k).map(|f| f.value);
        assert_eq!(get("event.outcome"), Some("failure"));
        assert_eq!(get("source.ip"), Some("10.1.2.3"));
        assert_eq!(get("user.name"), Some("admin"));
        assert_eq!(get("winlog.event_data.LogonType"), Some("3"));
        assert_eq!(get("@timestamp"), Some("2024-01-15T10:30:45.000Z"));
    }
}
