//! Text logs and vendor JSON in a hunt: lines and documents through
//! `yagura_normalize::parse::Parser` into ECS records, evaluated on the ECS plan.

use serde_json::Value;
use yagura_event::Record;
use yagura_normalize::parse::{Outcome, Parser, SourceType};
use yagura_normalize::EventMeta;

/// Lines of a file's head looked at to tell whether it is a text log.
const SNIFF_LINES: usize = 32;

/// Whether the first complete lines of a text file are a log: the first one or a third of them
/// are recognised by the parsers (a Zeek TSV header counts at once). Comment lines (`#`, as in
/// test logs that annotate every line) do not count.
pub fn is_text_log(head: &str) -> bool {
    let mut parser = Parser::new(SourceType::Auto);
    let mut rec = Record::new();
    let (mut seen, mut known, mut first_known) = (0usize, 0usize, false);
    for line in head.lines().take(SNIFF_LINES) {
        if line.starts_with("#separator") || line.starts_with("#fields") {
            return true;
        }
        if line.starts_with('#') {
            continue;
        }
        match parser.parse(line, 0, &mut rec) {
            Outcome::Skip => {}
            Outcome::Event { source, .. } => {
                seen += 1;
                if !matches!(source, SourceType::Unknown | SourceType::Json) {
                    known += 1;
                    first_known |= seen == 1;
                }
            }
        }
    }
    // Multi-line messages (indented continuations) are not recognised on their own: a first
    // line that is, or a third of the lines, will do.
    first_known || (known > 0 && known * 3 >= seen)
}

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

/// A file's modification time, Unix ms (the year of RFC 3164 timestamps, and the time of
/// records without one); now when unknown.
pub fn mtime_ms(path: &std::path::Path) -> i64 {
    let t = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| std::time::SystemTime::now());
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_text_logs() {
        assert!(is_text_log(
            "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo\n"
        ));
        assert!(is_text_log(
            "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\n"
        ));
        assert!(is_text_log("#separator \\x09\n#fields\tts\n"));
        assert!(!is_text_log("hello world\nthis is prose\n"));
    }

    #[test]
    fn vendor_json() {
        let ct: Value = serde_json::json!({"eventSource": "s3.amazonaws.com", "eventName": "x"});
        assert!(is_vendor_json(&ct));
        let win: Value = serde_json::json!({"Event": {"System": {}}});
        assert!(!is_vendor_json(&win));
    }
}
