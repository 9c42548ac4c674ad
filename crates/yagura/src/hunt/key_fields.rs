//! A short `k=v` summary (pairs separated by `FIELD_SEP`) of the fields an analyst looks at first.

use rustc_hash::FxHashMap;
use std::sync::OnceLock;
use yagura_event::Record;

use super::detection::FIELD_SEP;

/// Fields shown when present, in this order (Windows names first, then ECS names).
const KEY_FIELDS: &[&str] = &[
    "Image",
    "CommandLine",
    "ParentImage",
    "ParentCommandLine",
    "TargetFilename",
    "TargetObject",
    "Details",
    "ImageLoaded",
    "TargetImage",
    "SourceImage",
    "GrantedAccess",
    "QueryName",
    "DestinationIp",
    "DestinationPort",
    "DestinationHostname",
    "SourceIp",
    "User",
    "SubjectUserName",
    "TargetUserName",
    "TargetDomainName",
    "LogonType",
    "IpAddress",
    "WorkstationName",
    "ServiceName",
    "ImagePath",
    "ServiceFileName",
    "ProcessName",
    "ShareName",
    "RelativeTargetName",
    "ObjectName",
    "ScriptBlockText",
    "Path",
    "ThreatName",
    "process.command_line",
    "process.executable",
    "process.parent.executable",
    "user.name",
    "source.ip",
    "destination.ip",
    "destination.port",
    "url.original",
    "file.path",
    "dns.question.name",
    "event.action",
];

/// Longest value shown, in characters.
const MAX_VALUE_CHARS: usize = 160;
/// Most fields shown.
const MAX_FIELDS: usize = 8;

/// `Image=C:\x.exe CommandLine=x /y …` for the key fields `rec` holds (non-empty values only).
pub fn summarize(rec: &Record) -> String {
    // One pass over the record (a look-up per key field would walk it 46 times per detection).
    let slots = slot_of();
    let mut first: [Option<&str>; KEY_FIELDS.len()] = [None; KEY_FIELDS.len()];
    for f in rec.fields() {
        if let Some(&i) = slots.get(f.key) {
            first[i].get_or_insert(f.value);
        }
    }
    let mut out = String::new();
    let mut shown = 0;
    for (name, value) in KEY_FIELDS.iter().zip(first) {
        let Some(value) = value.map(str::trim) else {
            continue;
        };
        if value.is_empty() || value == "-" {
            continue;
        }
        if !out.is_empty() {
            out.push(FIELD_SEP);
        }
        out.push_str(name);
        out.push('=');
        push_clipped(&mut out, value);
        shown += 1;
        if shown == MAX_FIELDS {
            break;
        }
    }
    out
}

/// Key field name -> its position in [`KEY_FIELDS`].
fn slot_of() -> &'static FxHashMap<&'static str, usize> {
    static SLOTS: OnceLock<FxHashMap<&'static str, usize>> = OnceLock::new();
    SLOTS.get_or_init(|| {
        KEY_FIELDS
            .iter()
            .enumerate()
            .map(|(i, k)| (*k, i))
            .collect()
    })
}

/// Appends `value` with control characters as spaces, clipped to [`MAX_VALUE_CHARS`].
fn push_clipped(out: &mut String, value: &str) {
    for (i, c) in value.chars().enumerate() {
        if i == MAX_VALUE_CHARS {
            out.push('…');
            return;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yagura_event::Kind;

    #[test]
    fn picks_present_fields_in_order() {
        let mut r = Record::new();
        r.push("CommandLine", Kind::Str, "whoami\t/all");
        r.push("Image", Kind::Str, r"C:\Windows\System32\whoami.exe");
        r.push("IpAddress", Kind::Str, "-");
        assert_eq!(
            super::super::detection::fields_text(&summarize(&r)),
            r"Image=C:\Windows\System32\whoami.exe CommandLine=whoami /all"
        );
    }
}
