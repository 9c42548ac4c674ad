//! Writing JSON values into a record, with field names built in one reusable buffer.

use serde_json::Value;
use yagura_event::{Kind, Record};

/// Pushes scalar `v` under `key`; arrays push every element under the same `key`. Objects are
/// not scalars: returns `false` for them (and for objects inside arrays) without pushing.
pub(crate) fn push_value(rec: &mut Record, key: &str, v: &Value) -> bool {
    match v {
        Value::String(s) => rec.push(key, Kind::Str, s),
        Value::Number(n) => rec.push_fmt(key, Kind::Num, format_args!("{n}")),
        Value::Bool(b) => rec.push(key, Kind::Bool, if *b { "true" } else { "false" }),
        Value::Null => rec.push(key, Kind::Null, ""),
        Value::Array(items) => {
            let mut all = true;
            for item in items {
                all &= push_value(rec, key, item);
            }
            return all;
        }
        Value::Object(_) => return false,
    }
    true
}

/// Like [`push_value`], but a string of decimal digits is pushed as a number (event ids that
/// some shippers write as text).
pub(crate) fn push_number_like(rec: &mut Record, key: &str, v: &Value) {
    match v {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            rec.push(key, Kind::Num, s)
        }
        Value::Object(o) if o.contains_key("#text") => {
            if let Some(text) = o.get("#text") {
                push_number_like(rec, key, text)
            }
        }
        _ => {
            push_value(rec, key, v);
        }
    }
}

/// Sets `key` to `name` with its spaces removed (`Threat Name` -> `ThreatName`).
pub(crate) fn set_key(key: &mut String, name: &str) {
    key.clear();
    push_no_spaces(key, name);
}

/// Appends `name` to `key` without its spaces.
pub(crate) fn push_no_spaces(key: &mut String, name: &str) {
    if name.contains(' ') {
        key.extend(name.chars().filter(|c| *c != ' '));
    } else {
        key.push_str(name);
    }
}

/// Flattens `v` under the dotted path in `path` (`process.command_line`); arrays repeat the path.
/// `path` is restored before returning.
pub(crate) fn push_dotted(rec: &mut Record, path: &mut String, v: &Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let len = path.len();
                if len > 0 {
                    path.push('.');
                }
                path.push_str(k);
                push_dotted(rec, path, child);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for item in items {
                push_dotted(rec, path, item);
            }
        }
        scalar => {
            push_value(rec, path, scalar);
        }
    }
}

thread_local! {
    static KEY: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

/// Runs `f` with this thread's reusable key buffer, so flattening event after event allocates
/// no field name once the buffer has grown.
pub(crate) fn with_key_buffer<T>(f: impl FnOnce(&mut String) -> T) -> T {
    let mut key = KEY.with(|k| k.take());
    key.clear();
    let out = f(&mut key);
    KEY.with(|k| k.set(key));
    out
}
