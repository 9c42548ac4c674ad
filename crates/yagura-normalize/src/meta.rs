//! What every stage needs to know about an event, whatever its fields.

use serde_json::Value;

use crate::time::parse_timestamp;

/// Facts about one event, taken from its document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventMeta {
    /// When the event happened: Unix milliseconds, UTC.
    pub timestamp: Option<i64>,
    /// Host the event was logged on (empty when unknown).
    pub computer: String,
    /// Windows channel, e.g. `Security` (empty when unknown).
    pub channel: String,
    /// Windows event id.
    pub event_id: Option<u32>,
    /// Record number in the source log.
    pub record_id: Option<u64>,
}

/// `v` as an unsigned integer: a JSON number or a string of digits.
pub(crate) fn as_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => as_u64(o.get("#text")),
        _ => None,
    }
}

/// `v` as text: a string, or a number's decimal text.
pub(crate) fn as_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Object(o)) => as_text(o.get("#text")),
        _ => String::new(),
    }
}

/// A timestamp from the first of `candidates` that parses.
pub(crate) fn first_timestamp<'a>(
    candidates: impl IntoIterator<Item = Option<&'a Value>>,
) -> Option<i64> {
    candidates
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(parse_timestamp)
}

/// Meta of an ECS / generic document: `@timestamp`, `host.name`, `event.code`.
pub(crate) fn ecs_meta(doc: &Value) -> EventMeta {
    let host = doc.get("host");
    let computer = host
        .and_then(|h| h.get("name").or_else(|| h.get("hostname")))
        .or_else(|| doc.get("host.name"));
    EventMeta {
        timestamp: first_timestamp([doc.get("@timestamp"), doc.get("timestamp")]),
        computer: as_text(computer),
        channel: String::new(),
        event_id: as_u64(doc.get("event").and_then(|e| e.get("code")))
            .and_then(|n| u32::try_from(n).ok()),
        record_id: None,
    }
}
