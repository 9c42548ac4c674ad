//! Normalization stage: turns one collected JSON document into a flat [`Record`] with the field
//! names detection rules expect, plus the [`EventMeta`] every later stage needs.
//!
//! **Owns:** recognising the document's [`Shape`] (EVTX/`evtx_dump` JSON, Winlogbeat, NXLog,
//! anything else as ECS-style JSON), the Sigma Windows field names (`EventData` children by name,
//! `System` attributes as `Tag_Attribute`, spaces removed), parsing event timestamps, and
//! [`parse`]: raw log records (syslog, Linux auth, web access/error, iptables, DNS servers,
//! Zeek, Suricata EVE, CloudTrail, Okta, Windows and other JSON) to flat ECS records, with
//! source-type detection and the stored JSON form.
//!
//! **Must not:** read files or archives (that is `yagura-ingest`), evaluate rules or decide what
//! a value means (that is `yagura-sigma`), or change values: text stays text, numbers keep their
//! decimal text with [`yagura_event::Kind::Num`].
//!
//! ```
//! use yagura_event::{Kind, Record};
//! let doc = serde_json::json!({"Event": {
//!     "System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
//!                "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
//!                "TimeCreated": {"#attributes": {"SystemTime": "2025-10-25T13:44:33.440907Z"}}},
//!     "EventData": {"Image": "C:\\Windows\\System32\\reg.exe"}}});
//! let mut rec = Record::new();
//! let (shape, meta) = yagura_normalize::flatten(&doc, &mut rec).unwrap();
//! assert_eq!(shape, yagura_normalize::Shape::EvtxXml);
//! assert_eq!(rec.get("Provider_Name").unwrap().value, "Microsoft-Windows-Sysmon");
//! assert_eq!(rec.get("EventID").unwrap().kind, Kind::Num);
//! assert_eq!(meta.event_id, Some(1));
//! assert_eq!(meta.timestamp, Some(1_761_399_873_440));
//! ```

#![warn(missing_docs)]

pub mod arrival;
mod ecs;
mod evtx_json;
mod lean_json;
mod meta;
pub mod parse;
mod shape;
mod time;
mod value;
mod windows;

pub use ecs::flatten_ecs;
#[doc(hidden)]
pub use evtx_json::stream_evtx_json;
pub use evtx_json::{flatten_evtx_json, flatten_evtx_json_bytes};
pub use meta::EventMeta;
pub use shape::{detect_shape, Shape};
pub use time::{parse_timestamp, Rfc3339};
pub use windows::flatten_windows;

use serde_json::Value;
use yagura_event::Record;

/// Why a document could not be normalized.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// Documents are JSON objects.
    #[error("document is not a JSON object")]
    NotAnObject,
    /// A part the shape requires has the wrong type.
    #[error("malformed {shape:?} document: {what}")]
    Malformed {
        /// The shape the document was read as.
        shape: Shape,
        /// What is wrong.
        what: &'static str,
    },
    /// The document text is not JSON ([`flatten_evtx_json`]).
    #[error("invalid JSON: {0}")]
    Json(String),
}

/// The document a Windows event was normalized from, flattened into `rec` as [`flatten`]
/// flattens the file it came from; `module` and `original` are the event's `event.module`
/// and `event.original`. Detection evaluates this document, not the event's ECS form (whose
/// `winlog.*` names the Windows pipeline does not read), so that `serve` (on arrival) and
/// `hunt` (files, or the store) find the same on the same event. `None`: not a Windows event
/// (`event.module` is not `windows`), or no original was kept; the ECS form is what is
/// evaluated then.
pub fn flatten_original(
    module: Option<&str>,
    original: Option<&str>,
    rec: &mut Record,
) -> Option<Result<(Shape, EventMeta), NormalizeError>> {
    if module != Some("windows") {
        return None;
    }
    Some(flatten_evtx_json(original?, rec))
}

/// Detects the shape of `doc` and flattens it into `rec` (which is cleared first).
pub fn flatten(doc: &Value, rec: &mut Record) -> Result<(Shape, EventMeta), NormalizeError> {
    rec.clear();
    let shape = detect_shape(doc);
    let meta = match shape {
        Shape::Ecs => {
            flatten_ecs(doc, rec)?;
            meta::ecs_meta(doc)
        }
        windows_shape => flatten_windows(doc, windows_shape, rec)?,
    };
    Ok((shape, meta))
}
