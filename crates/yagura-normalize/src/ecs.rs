//! ECS / generic JSON: nested objects become dotted names.

use serde_json::Value;
use yagura_event::Record;

use crate::value::{push_dotted, with_key_buffer};
use crate::NormalizeError;

/// Flattens any JSON object into `rec`: nested objects as dotted names (`process.command_line`),
/// arrays as repeated names, scalars with their kind. Names are kept as they are.
pub fn flatten_ecs(doc: &Value, rec: &mut Record) -> Result<(), NormalizeError> {
    if !doc.is_object() {
        return Err(NormalizeError::NotAnObject);
    }
    with_key_buffer(|path| push_dotted(rec, path, doc));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yagura_event::Kind;

    #[test]
    fn dotted_names_and_repeated_arrays() {
        let doc = serde_json::json!({
            "@timestamp": "2024-01-01T00:00:00Z",
            "process": {"command_line": "whoami /all", "pid": 42, "args": ["whoami", "/all"]},
            "tags": [{"k": 1}, {"k": 2}],
            "ok": true, "none": null, "empty": {}
        });
        let mut rec = Record::new();
        flatten_ecs(&doc, &mut rec).unwrap();
        assert_eq!(
            rec.get("process.command_line").unwrap().value,
            "whoami /all"
        );
        assert_eq!(rec.get("process.pid").unwrap().kind, Kind::Num);
        let args: Vec<_> = rec.get_all("process.args").map(|f| f.value).collect();
        assert_eq!(args, ["whoami", "/all"]);
        assert_eq!(rec.get_all("tags.k").count(), 2);
        assert_eq!(rec.get("ok").unwrap().kind, Kind::Bool);
        assert_eq!(rec.get("none").unwrap().kind, Kind::Null);
        assert!(rec.get("empty").is_none());
        assert_eq!(
            flatten_ecs(&serde_json::json!([1]), &mut rec),
            Err(NormalizeError::NotAnObject)
        );
    }
}
