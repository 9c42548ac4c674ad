//! Text logs and vendor JSON in a hunt: lines and documents through
//! `yagura_normalize::parse::Parser` into ECS records, evaluated on the ECS plan.

use serde_json::Value;
use yagura_event::Record;
use yagura_normalize::parse::Outcome;
pub use yagura_normalize::parse::{file_mtime_ms as mtime_ms, is_text_log};
use yagura_normalize::EventMeta;

/// True when `doc` is a record of a vendor format the JSON parsers give ECS fields (CloudTrail,
/// Okta, Suricata EVE, Zeek JSON): the same key checks as the parsers' own detection, cheap
/// enough for every document. Windows and other JSON keep the flattening path.
pub fn is_vendor_json(doc: &Value) -> bool {
    let Some(o) = doc.as_object() else {
        return false;
    };
    let has = |k: &str| o.contains_key(k);
    (has("eventSource") && has("eventName"))
        || (has("eventType") && has("actor") && (has("uuid") || has("published")))
        || (has("event_type") && (has("src_ip") || has("flow_id")))
        || (has("ts") && (has("id.orig_h") || (has("uid") && has("id"))))
}

/// The meta of a parsed record: time, host and dataset (shown as the channel).
pub fn meta_of(rec: &Record, outcome: Outcome) -> EventMeta {
    let timestamp = match outcome {
        Outcome::Event { timestamp_ms, .. } => Some(timestamp_ms),
        Outcome::Skip => None,
    };
    meta_at(rec, timestamp)
}

/// The meta of an ECS record whose time is `timestamp` (Unix ms): host and dataset (shown as
/// the channel), as [`meta_of`] gives them.
pub fn meta_at(rec: &Record, timestamp: Option<i64>) -> EventMeta {
    let text = |k: &str| rec.get(k).map(|f| f.value.to_string());
    EventMeta {
        timestamp,
        computer: text("host.name")
            .or_else(|| text("host.hostname"))
            .or_else(|| text("observer.hostname"))
            .unwrap_or_default(),
        channel: text("event.dataset").unwrap_or_default(),
        event_id: None,
        record_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_json() {
        let ct: Value = serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": "x"});
        assert!(is_vendor_json(&ct));
        let win: Value = serde_json::json!({"Event": {"System": {}}});
        assert!(!is_vendor_json(&win));
    }
}
