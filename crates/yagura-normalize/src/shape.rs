//! Recognising which producer a document comes from.

use serde_json::Value;

/// The layout of a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// EVTX rendered as JSON (`evtx` crate / `evtx_dump`): `{"Event": {"System": .., "EventData": ..}}`.
    EvtxXml,
    /// Elastic Winlogbeat: Windows fields under `winlog` (`winlog.event_data.*`, `winlog.event_id`).
    Winlogbeat,
    /// NXLog `im_msvistalog` and alike (OTRF Security-Datasets): flat Windows fields
    /// (`EventID`, `Channel`, `Hostname`, `SourceName`, event data at the top level).
    Nxlog,
    /// Anything else: nested objects flattened to dotted names (`process.command_line`).
    Ecs,
}

impl Shape {
    /// True for the Windows layouts (EVTX, Winlogbeat, NXLog), flattened to Windows names.
    pub fn is_windows(self) -> bool {
        self != Shape::Ecs
    }
}

/// Top-level names that, next to `EventID`, mark a flat Windows event.
const FLAT_WINDOWS_MARKERS: &[&str] = &["Channel", "SourceName", "Hostname", "ProviderGuid"];

/// Recognises the shape of `doc`.
pub fn detect_shape(doc: &Value) -> Shape {
    let Some(obj) = doc.as_object() else {
        return Shape::Ecs;
    };
    if let Some(Value::Object(event)) = obj.get("Event") {
        if ["System", "EventData", "UserData"]
            .iter()
            .any(|k| event.contains_key(*k))
        {
            return Shape::EvtxXml;
        }
    }
    if matches!(obj.get("winlog"), Some(Value::Object(_))) {
        return Shape::Winlogbeat;
    }
    if obj.contains_key("EventID") && FLAT_WINDOWS_MARKERS.iter().any(|k| obj.contains_key(*k)) {
        return Shape::Nxlog;
    }
    Shape::Ecs
}
