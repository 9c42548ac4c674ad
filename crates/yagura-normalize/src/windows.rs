//! Windows events, whatever shipped them, under the Sigma Windows field names.
//!
//! - `EventData` children by their name; unnamed data (`{"Data": [..]}`) as repeated `Data`.
//! - `UserData` (and other `Event` children) flattened by their leaf names.
//! - `System` elements by tag (`EventID`, `Channel`, `Computer`, ..), `System` attributes as
//!   `Tag_Attribute` (`Provider_Name`, `Execution_ProcessID`, `TimeCreated_SystemTime`).
//! - Spaces removed from names (`Threat Name` -> `ThreatName`).
//!
//! Winlogbeat and NXLog documents map to the same names; their other fields keep their own
//! names (nested objects as dotted names).

use serde_json::{Map, Value};
use yagura_event::Record;

use crate::meta::{as_text, as_u64, first_timestamp};
use crate::value::{
    push_dotted, push_no_spaces, push_number_like, push_value, set_key, with_key_buffer,
};
use crate::{EventMeta, NormalizeError, Shape};

/// Flattens a Windows event of shape `shape` ([`Shape::EvtxXml`], [`Shape::Winlogbeat`] or
/// [`Shape::Nxlog`]; [`Shape::Ecs`] is read as NXLog-like flat fields) into `rec`.
pub fn flatten_windows(
    doc: &Value,
    shape: Shape,
    rec: &mut Record,
) -> Result<EventMeta, NormalizeError> {
    let obj = doc.as_object().ok_or(NormalizeError::NotAnObject)?;
    with_key_buffer(|key| match shape {
        Shape::EvtxXml => evtx_xml(obj, key, rec),
        Shape::Winlogbeat => winlogbeat(obj, key, rec),
        Shape::Nxlog | Shape::Ecs => Ok(nxlog(obj, key, rec)),
    })
}

fn evtx_xml(
    obj: &Map<String, Value>,
    key: &mut String,
    rec: &mut Record,
) -> Result<EventMeta, NormalizeError> {
    let malformed = |what| NormalizeError::Malformed {
        shape: Shape::EvtxXml,
        what,
    };
    let event = obj
        .get("Event")
        .and_then(Value::as_object)
        .ok_or(malformed("`Event` is not an object"))?;
    let system = match event.get("System") {
        Some(Value::Object(system)) => Some(system),
        None | Some(Value::Null) => None,
        Some(_) => return Err(malformed("`Event.System` is not an object")),
    };
    if let Some(system) = system {
        for (tag, v) in system {
            system_element(tag, v, key, rec);
        }
    }
    for (name, part) in event {
        match name.as_str() {
            "System" | "#attributes" | "RenderingInfo" => {}
            "EventData" => event_data(part, key, rec),
            _ => leaves(name, part, key, rec),
        }
    }
    let sys = |k: &str| system.and_then(|s| s.get(k));
    let time_created = sys("TimeCreated")
        .and_then(|t| t.get("#attributes"))
        .and_then(|a| a.get("SystemTime"));
    Ok(EventMeta {
        timestamp: first_timestamp([time_created]),
        computer: as_text(sys("Computer")),
        channel: as_text(sys("Channel")),
        event_id: as_u64(sys("EventID")).and_then(|n| u32::try_from(n).ok()),
        record_id: as_u64(sys("EventRecordID")),
    })
}

/// A `System` element: its text under its tag, its attributes as `Tag_Attribute`.
fn system_element(tag: &str, v: &Value, key: &mut String, rec: &mut Record) {
    let Value::Object(element) = v else {
        set_key(key, tag);
        if tag == "EventID" {
            push_number_like(rec, key, v);
        } else {
            push_value(rec, key, v);
        }
        return;
    };
    if let Some(text) = element.get("#text") {
        set_key(key, tag);
        push_number_like(rec, key, text);
    }
    if let Some(Value::Object(attrs)) = element.get("#attributes") {
        for (attr, av) in attrs {
            set_key(key, tag);
            key.push('_');
            push_no_spaces(key, attr);
            push_value(rec, key, av);
        }
    }
    for (child, cv) in element {
        if child != "#text" && child != "#attributes" {
            set_key(key, tag);
            key.push('_');
            push_no_spaces(key, child);
            push_value(rec, key, cv);
        }
    }
}

/// `EventData`: children by name; unnamed `Data` values as repeated `Data`.
fn event_data(v: &Value, key: &mut String, rec: &mut Record) {
    match v {
        Value::Object(fields) => {
            for (name, value) in fields {
                if name == "Data" {
                    data_items(value, key, rec);
                } else if name != "#attributes" {
                    leaves(name, value, key, rec);
                }
            }
        }
        Value::Null => {}
        other => leaves("Data", other, key, rec),
    }
}

/// `Data` elements: `{"#attributes": {"Name": n}, "#text": v}` is field `n`; others are `Data`.
fn data_items(v: &Value, key: &mut String, rec: &mut Record) {
    match v {
        Value::Array(items) => {
            for item in items {
                data_items(item, key, rec);
            }
        }
        Value::Object(o) => {
            let name = o
                .get("#attributes")
                .and_then(|a| a.get("Name"))
                .and_then(Value::as_str);
            match (name, o.get("#text")) {
                (Some(name), Some(text)) => leaves(name, text, key, rec),
                (Some(name), None) => {
                    set_key(key, name);
                    rec.push(key, yagura_event::Kind::Null, "");
                }
                (None, _) => leaves("Data", v, key, rec),
            }
        }
        scalar => leaves("Data", scalar, key, rec),
    }
}

/// Flattens `v` by leaf names: an element's text under its own name, nested elements and
/// attributes under theirs (namespace declarations are dropped).
fn leaves(name: &str, v: &Value, key: &mut String, rec: &mut Record) {
    match v {
        Value::Object(o) => {
            for (child, cv) in o {
                match child.as_str() {
                    "#text" => leaves(name, cv, key, rec),
                    "#attributes" => {
                        if let Value::Object(attrs) = cv {
                            for (attr, av) in attrs {
                                if !attr.starts_with("xmlns") {
                                    leaves(attr, av, key, rec);
                                }
                            }
                        }
                    }
                    _ => leaves(child, cv, key, rec),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                leaves(name, item, key, rec);
            }
        }
        scalar => {
            set_key(key, name);
            push_value(rec, key, scalar);
        }
    }
}

/// Winlogbeat `winlog.*` fields and their Sigma names.
const WINLOG_NAMES: &[(&str, &str)] = &[
    ("event_id", "EventID"),
    ("channel", "Channel"),
    ("computer_name", "Computer"),
    ("provider_name", "Provider_Name"),
    ("provider_guid", "Provider_Guid"),
    ("record_id", "EventRecordID"),
    ("opcode", "Opcode"),
    ("task", "Task"),
    ("keywords", "Keywords"),
    ("version", "Version"),
];

fn winlogbeat(
    obj: &Map<String, Value>,
    key: &mut String,
    rec: &mut Record,
) -> Result<EventMeta, NormalizeError> {
    let winlog = obj
        .get("winlog")
        .and_then(Value::as_object)
        .ok_or(NormalizeError::Malformed {
            shape: Shape::Winlogbeat,
            what: "`winlog` is not an object",
        })?;
    for (name, v) in winlog {
        if let Some((_, sigma)) = WINLOG_NAMES.iter().find(|(w, _)| w == name) {
            set_key(key, sigma);
            push_number_like(rec, key, v);
            continue;
        }
        match (name.as_str(), v) {
            ("event_data", _) => event_data(v, key, rec),
            ("user_data", _) => leaves("Data", v, key, rec),
            ("process", Value::Object(p)) => {
                if let Some(pid) = p.get("pid") {
                    push_number_like(rec, "Execution_ProcessID", pid);
                }
                if let Some(tid) = p.get("thread").and_then(|t| t.get("id")) {
                    push_number_like(rec, "Execution_ThreadID", tid);
                }
            }
            ("user", Value::Object(u)) if u.contains_key("identifier") => {
                if let Some(sid) = u.get("identifier") {
                    push_value(rec, "Security_UserID", sid);
                }
                for (k, uv) in u.iter().filter(|(k, _)| *k != "identifier") {
                    key.clear();
                    key.push_str("winlog.user.");
                    key.push_str(k);
                    push_dotted(rec, key, uv);
                }
            }
            _ => {
                key.clear();
                key.push_str("winlog.");
                key.push_str(name);
                push_dotted(rec, key, v);
            }
        }
    }
    for (name, v) in obj.iter().filter(|(k, _)| *k != "winlog") {
        key.clear();
        key.push_str(name);
        push_dotted(rec, key, v);
    }
    let host_name = obj.get("host").and_then(|h| h.get("name"));
    Ok(EventMeta {
        timestamp: first_timestamp([obj.get("@timestamp")]),
        computer: as_text(winlog.get("computer_name").or(host_name)),
        channel: as_text(winlog.get("channel")),
        event_id: as_u64(winlog.get("event_id"))
            .or_else(|| as_u64(obj.get("event").and_then(|e| e.get("code"))))
            .and_then(|n| u32::try_from(n).ok()),
        record_id: as_u64(winlog.get("record_id")),
    })
}

/// NXLog top-level names and their Sigma names; every other name is kept.
const NXLOG_NAMES: &[(&str, &str)] = &[
    ("Hostname", "Computer"),
    ("SourceName", "Provider_Name"),
    ("ProviderGuid", "Provider_Guid"),
    ("RecordNumber", "EventRecordID"),
    ("ExecutionProcessID", "Execution_ProcessID"),
    ("ExecutionThreadID", "Execution_ThreadID"),
];

fn nxlog(obj: &Map<String, Value>, key: &mut String, rec: &mut Record) -> EventMeta {
    for (name, v) in obj {
        let sigma = NXLOG_NAMES
            .iter()
            .find(|(n, _)| n == name)
            .map_or(name.as_str(), |(_, s)| s);
        set_key(key, sigma);
        if sigma == "EventID" {
            push_number_like(rec, key, v);
        } else {
            push_dotted(rec, key, v);
        }
    }
    EventMeta {
        timestamp: first_timestamp([
            obj.get("@timestamp"),
            obj.get("EventTime"),
            obj.get("TimeCreated"),
            obj.get("TimeGenerated"),
        ]),
        computer: as_text(obj.get("Hostname").or_else(|| obj.get("Computer"))),
        channel: as_text(obj.get("Channel")),
        event_id: as_u64(obj.get("EventID")).and_then(|n| u32::try_from(n).ok()),
        record_id: as_u64(obj.get("RecordNumber").or_else(|| obj.get("EventRecordID"))),
    }
}
