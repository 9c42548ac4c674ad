//! OTLP/HTTP logs (`ExportLogsServiceRequest`, opentelemetry-proto `logs/v1`), protobuf and JSON.
//!
//! The messages are declared here with `prost` (the subset of fields logs use; unknown fields
//! are skipped by protobuf rules). Each log record becomes one JSON document in the OTLP JSON
//! shape of a single record, with its resource's and scope's attributes beside it:
//! `{"resource":{"service.name":"api"},"scope":{"name":"app"},"timeUnixNano":"…",
//! "observedTimeUnixNano":"…","severityNumber":9,"severityText":"INFO","body":"…",
//! "attributes":{"k":"v"},"traceId":"hex","spanId":"hex"}`. Attribute values keep their type.

use prost::Message;
use serde_json::{Map, Value};

/// `ExportLogsServiceRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct ExportLogsServiceRequest {
    /// Records grouped by resource.
    #[prost(message, repeated, tag = "1")]
    pub resource_logs: Vec<ResourceLogs>,
}

/// `ResourceLogs`.
#[derive(Clone, PartialEq, Message)]
pub struct ResourceLogs {
    /// The resource.
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// Records grouped by scope.
    #[prost(message, repeated, tag = "2")]
    pub scope_logs: Vec<ScopeLogs>,
}

/// `Resource`.
#[derive(Clone, PartialEq, Message)]
pub struct Resource {
    /// Attributes.
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

/// `ScopeLogs`.
#[derive(Clone, PartialEq, Message)]
pub struct ScopeLogs {
    /// Instrumentation scope.
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    /// Records.
    #[prost(message, repeated, tag = "2")]
    pub log_records: Vec<LogRecord>,
}

/// `InstrumentationScope`.
#[derive(Clone, PartialEq, Message)]
pub struct InstrumentationScope {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Version.
    #[prost(string, tag = "2")]
    pub version: String,
    /// Attributes.
    #[prost(message, repeated, tag = "3")]
    pub attributes: Vec<KeyValue>,
}

/// `LogRecord`.
#[derive(Clone, PartialEq, Message)]
pub struct LogRecord {
    /// Event time.
    #[prost(fixed64, tag = "1")]
    pub time_unix_nano: u64,
    /// Observed time.
    #[prost(fixed64, tag = "11")]
    pub observed_time_unix_nano: u64,
    /// Severity number.
    #[prost(int32, tag = "2")]
    pub severity_number: i32,
    /// Severity text.
    #[prost(string, tag = "3")]
    pub severity_text: String,
    /// Body.
    #[prost(message, optional, tag = "5")]
    pub body: Option<AnyValue>,
    /// Attributes.
    #[prost(message, repeated, tag = "6")]
    pub attributes: Vec<KeyValue>,
    /// Flags.
    #[prost(fixed32, tag = "8")]
    pub flags: u32,
    /// Trace id (16 bytes).
    #[prost(bytes = "vec", tag = "9")]
    pub trace_id: Vec<u8>,
    /// Span id (8 bytes).
    #[prost(bytes = "vec", tag = "10")]
    pub span_id: Vec<u8>,
    /// Event name.
    #[prost(string, tag = "12")]
    pub event_name: String,
}

/// `KeyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    /// Key.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Value.
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `AnyValue`.
#[derive(Clone, PartialEq, Message)]
pub struct AnyValue {
    /// The value.
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 5, 6, 7")]
    pub value: Option<any_value::Value>,
}

/// `AnyValue`'s cases.
pub mod any_value {
    /// One of.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        /// String.
        #[prost(string, tag = "1")]
        StringValue(String),
        /// Bool.
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        /// Int.
        #[prost(int64, tag = "3")]
        IntValue(i64),
        /// Double.
        #[prost(double, tag = "4")]
        DoubleValue(f64),
        /// Array.
        #[prost(message, tag = "5")]
        ArrayValue(super::ArrayValue),
        /// Key-value list.
        #[prost(message, tag = "6")]
        KvlistValue(super::KeyValueList),
        /// Bytes.
        #[prost(bytes, tag = "7")]
        BytesValue(Vec<u8>),
    }
}

/// `ArrayValue`.
#[derive(Clone, PartialEq, Message)]
pub struct ArrayValue {
    /// Values.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<AnyValue>,
}

/// `KeyValueList`.
#[derive(Clone, PartialEq, Message)]
pub struct KeyValueList {
    /// Values.
    #[prost(message, repeated, tag = "1")]
    pub values: Vec<KeyValue>,
}

/// `google.rpc.Status`, the body of an OTLP error answer.
#[derive(Clone, PartialEq, Message)]
pub struct Status {
    /// gRPC code (3: invalid argument).
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// Message.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The protobuf body of an error answer.
pub fn status_protobuf(message: &str) -> Vec<u8> {
    Status {
        code: 3,
        message: message.to_owned(),
    }
    .encode_to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn any_to_json(v: &AnyValue) -> Value {
    use any_value::Value as V;
    match &v.value {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s.clone()),
        Some(V::BoolValue(b)) => Value::Bool(*b),
        Some(V::IntValue(i)) => Value::from(*i),
        Some(V::DoubleValue(d)) => {
            serde_json::Number::from_f64(*d).map_or(Value::Null, Value::Number)
        }
        Some(V::ArrayValue(a)) => Value::Array(a.values.iter().map(any_to_json).collect()),
        Some(V::KvlistValue(kv)) => Value::Object(attrs(&kv.values)),
        Some(V::BytesValue(b)) => {
            use base64::Engine as _;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}

fn attrs(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map_or(Value::Null, any_to_json),
            )
        })
        .collect()
}

/// Each record of a protobuf request as `(host.name of its resource, JSON document)`.
pub fn records_from_protobuf(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let req = ExportLogsServiceRequest::decode(body)
        .map_err(|e| format!("invalid OTLP protobuf: {e}"))?;
    let mut out = Vec::new();
    for rl in &req.resource_logs {
        let resource = rl
            .resource
            .as_ref()
            .map(|r| attrs(&r.attributes))
            .unwrap_or_default();
        let host = resource
            .get("host.name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        for sl in &rl.scope_logs {
            let mut scope = Map::new();
            if let Some(s) = &sl.scope {
                if !s.name.is_empty() {
                    scope.insert("name".into(), Value::String(s.name.clone()));
                }
                if !s.version.is_empty() {
                    scope.insert("version".into(), Value::String(s.version.clone()));
                }
                if !s.attributes.is_empty() {
                    scope.insert("attributes".into(), Value::Object(attrs(&s.attributes)));
                }
            }
            for r in &sl.log_records {
                let mut doc = Map::new();
                doc.insert("resource".into(), Value::Object(resource.clone()));
                if !scope.is_empty() {
                    doc.insert("scope".into(), Value::Object(scope.clone()));
                }
                if r.time_unix_nano != 0 {
                    doc.insert(
                        "timeUnixNano".into(),
                        Value::String(r.time_unix_nano.to_string()),
                    );
                }
                if r.observed_time_unix_nano != 0 {
                    doc.insert(
                        "observedTimeUnixNano".into(),
                        Value::String(r.observed_time_unix_nano.to_string()),
                    );
                }
                if r.severity_number != 0 {
                    doc.insert("severityNumber".into(), Value::from(r.severity_number));
                }
                if !r.severity_text.is_empty() {
                    doc.insert(
                        "severityText".into(),
                        Value::String(r.severity_text.clone()),
                    );
                }
                if let Some(b) = &r.body {
                    doc.insert("body".into(), any_to_json(b));
                }
                if !r.attributes.is_empty() {
                    doc.insert("attributes".into(), Value::Object(attrs(&r.attributes)));
                }
                if !r.trace_id.is_empty() {
                    doc.insert("traceId".into(), Value::String(hex(&r.trace_id)));
                }
                if !r.span_id.is_empty() {
                    doc.insert("spanId".into(), Value::String(hex(&r.span_id)));
                }
                if !r.event_name.is_empty() {
                    doc.insert("eventName".into(), Value::String(r.event_name.clone()));
                }
                out.push((host.clone(), Value::Object(doc).to_string()));
            }
        }
    }
    Ok(out)
}

/// OTLP JSON `AnyValue` (`{"stringValue":"x"}`, `{"intValue":"5"}` …) as plain JSON.
fn json_any(v: &Value) -> Value {
    let Some(o) = v.as_object() else {
        return v.clone();
    };
    if let Some(s) = o.get("stringValue") {
        return s.clone();
    }
    if let Some(b) = o.get("boolValue") {
        return b.clone();
    }
    if let Some(i) = o.get("intValue") {
        return match i {
            Value::String(s) => s.parse::<i64>().map_or_else(|_| i.clone(), Value::from),
            other => other.clone(),
        };
    }
    if let Some(d) = o.get("doubleValue") {
        return d.clone();
    }
    if let Some(a) = o.get("arrayValue") {
        return Value::Array(
            a.get("values")
                .and_then(Value::as_array)
                .map(|vs| vs.iter().map(json_any).collect())
                .unwrap_or_default(),
        );
    }
    if let Some(kv) = o.get("kvlistValue") {
        return Value::Object(json_attrs(kv.get("values")));
    }
    if let Some(b) = o.get("bytesValue") {
        return b.clone();
    }
    Value::Null
}

fn json_attrs(list: Option<&Value>) -> Map<String, Value> {
    list.and_then(Value::as_array)
        .map(|kvs| {
            kvs.iter()
                .filter_map(|kv| {
                    let k = kv.get("key")?.as_str()?;
                    Some((k.to_owned(), kv.get("value").map_or(Value::Null, json_any)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Each record of a JSON request (OTLP's JSON mapping), in the same document shape.
pub fn records_from_json(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let req: Value = serde_json::from_slice(body).map_err(|e| format!("invalid OTLP JSON: {e}"))?;
    let mut out = Vec::new();
    let rls = req
        .get("resourceLogs")
        .and_then(Value::as_array)
        .ok_or("invalid OTLP JSON: no resourceLogs array")?;
    for rl in rls {
        let resource = json_attrs(rl.get("resource").and_then(|r| r.get("attributes")));
        let host = resource
            .get("host.name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        for sl in rl
            .get("scopeLogs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut scope = Map::new();
            if let Some(s) = sl.get("scope") {
                for k in ["name", "version"] {
                    if let Some(v) = s
                        .get(k)
                        .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                    {
                        scope.insert(k.into(), v.clone());
                    }
                }
                let a = json_attrs(s.get("attributes"));
                if !a.is_empty() {
                    scope.insert("attributes".into(), Value::Object(a));
                }
            }
            for r in sl
                .get("logRecords")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut doc = Map::new();
                doc.insert("resource".into(), Value::Object(resource.clone()));
                if !scope.is_empty() {
                    doc.insert("scope".into(), Value::Object(scope.clone()));
                }
                for k in [
                    "timeUnixNano",
                    "observedTimeUnixNano",
                    "severityNumber",
                    "severityText",
                    "traceId",
                    "spanId",
                    "eventName",
                ] {
                    if let Some(v) = r.get(k) {
                        let v = match (k, v) {
                            ("timeUnixNano" | "observedTimeUnixNano", Value::Number(n)) => {
                                Value::String(n.to_string())
                            }
                            _ => v.clone(),
                        };
                        doc.insert(k.into(), v);
                    }
                }
                if let Some(b) = r.get("body") {
                    doc.insert("body".into(), json_any(b));
                }
                let a = json_attrs(r.get("attributes"));
                if !a.is_empty() {
                    doc.insert("attributes".into(), Value::Object(a));
                }
                out.push((host.clone(), Value::Object(doc).to_string()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
        }
    }

    #[test]
    fn protobuf_and_json_give_the_same_documents() {
        use any_value::Value as V;
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", V::StringValue("api".into())),
                        kv("host.name", V::StringValue("web-1".into())),
                    ],
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "app".into(),
                        ..Default::default()
                    }),
                    log_records: vec![LogRecord {
                        time_unix_nano: 1_700_000_000_123_000_000,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: Some(AnyValue {
                            value: Some(V::StringValue("user alice logged in".into())),
                        }),
                        attributes: vec![
                            kv("user", V::StringValue("alice".into())),
                            kv("n", V::IntValue(5)),
                        ],
                        trace_id: vec![0xab; 16],
                        ..Default::default()
                    }],
                }],
            }],
        };
        let pb = records_from_protobuf(&req.encode_to_vec()).unwrap();
        let json_req = serde_json::json!({"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "api"}},
            {"key": "host.name", "value": {"stringValue": "web-1"}}]},
            "scopeLogs": [{"scope": {"name": "app"}, "logRecords": [{
                "timeUnixNano": "1700000000123000000", "severityNumber": 9, "severityText": "INFO",
                "body": {"stringValue": "user alice logged in"},
                "attributes": [{"key": "user", "value": {"stringValue": "alice"}}, {"key": "n", "value": {"intValue": "5"}}],
                "traceId": "abababababababababababababababab"}]}]}]});
        let js = records_from_json(json_req.to_string().as_bytes()).unwrap();
        assert_eq!(pb.len(), 1);
        assert_eq!(pb[0].0, "web-1");
        let a: Value = serde_json::from_str(&pb[0].1).unwrap();
        let b: Value = serde_json::from_str(&js[0].1).unwrap();
        assert_eq!(a, b);
        assert_eq!(a["body"], "user alice logged in");
        assert_eq!(a["attributes"]["n"], 5);
        assert!(records_from_protobuf(b"\xff\xff\xff").is_err());
        assert!(records_from_json(b"{}").is_err());
    }
}
