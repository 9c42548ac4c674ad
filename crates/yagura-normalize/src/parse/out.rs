//! Writing fields: numbers, IP checks, timestamps, and the stored JSON form ([`write_json`]).

use std::fmt::Write as _;

use yagura_event::{Kind, Record};

use super::time::Rfc3339;

/// Pushes the fields every event has first: `@timestamp` and `event.original`.
pub(crate) fn head(rec: &mut Record, ts: i64, raw: &str) {
    rec.push_fmt("@timestamp", Kind::Str, format_args!("{}", Rfc3339(ts)));
    rec.push("event.original", Kind::Str, raw);
}

/// `event.kind`, `event.module`, `event.dataset`.
pub(crate) fn dataset(rec: &mut Record, module: &str, dataset: &str) {
    rec.push("event.kind", Kind::Str, "event");
    rec.push("event.module", Kind::Str, module);
    rec.push("event.dataset", Kind::Str, dataset);
}

/// True for an unsigned decimal integer in its canonical JSON form (`0`, `42`, no leading zero),
/// optionally negative.
pub(crate) fn is_int(s: &str) -> bool {
    let d = s.strip_prefix('-').unwrap_or(s).as_bytes();
    !d.is_empty()
        && d.len() <= 18
        && d.iter().all(u8::is_ascii_digit)
        && (d.len() == 1 || d[0] != b'0')
}

thread_local! {
    static NUM_BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// True when `s` is a JSON number that `serde_json` writes back as the same text (so the
/// stored form reads back to the same [`Record`]).
pub(crate) fn is_canonical_number(s: &str) -> bool {
    if is_int(s) {
        return true;
    }
    let b = s.as_bytes();
    if b.is_empty()
        || !b
            .iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'e' | b'E' | b'+'))
    {
        return false;
    }
    let Ok(n) = serde_json::from_str::<serde_json::Number>(s) else {
        return false;
    };
    NUM_BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        let _ = write!(buf, "{n}");
        *buf == s
    })
}

/// Pushes an integer as a number (leading zeros dropped), or nothing when `value` is not one
/// (`-`, empty).
pub(crate) fn int(rec: &mut Record, key: &str, value: &str) {
    if is_int(value) {
        rec.push(key, Kind::Num, value);
        return;
    }
    let v = value.as_bytes();
    if !v.is_empty() && v.len() <= 18 && v.iter().all(u8::is_ascii_digit) {
        let t = value.trim_start_matches('0');
        rec.push(key, Kind::Num, if t.is_empty() { "0" } else { t });
    }
}

/// Pushes text unless it is empty or `-` (the "no value" of most text logs).
pub(crate) fn text(rec: &mut Record, key: &str, value: &str) {
    if !value.is_empty() && value != "-" {
        rec.push(key, Kind::Str, value);
    }
}

/// True when `s` is an IPv4 or IPv6 address.
pub(crate) fn is_ip(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_hexdigit() || *c == b':' => s.parse::<std::net::IpAddr>().is_ok(),
        _ => false,
    }
}

/// `source.ip` for an address, `source.domain` for a host name (`prefix` = `source`).
/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) are written as IPv4.
pub(crate) fn addr(rec: &mut Record, prefix: &str, value: &str) {
    if value.is_empty() || value == "-" {
        return;
    }
    let value = match value.strip_prefix("::ffff:") {
        Some(v4) if v4.contains('.') => v4,
        _ => value,
    };
    if is_ip(value) {
        rec.push_parts(&[prefix, ".ip"], Kind::Str, value);
    } else {
        rec.push_parts(&[prefix, ".domain"], Kind::Str, value);
    }
}

/// Writes `rec` as one JSON object with dotted keys: `{"source.ip":"1.2.3.4",...}`. A repeated
/// key becomes one key with a JSON array of its values (in record order, at the place of its
/// first occurrence); [`Kind::Num`] values are written as numbers, [`Kind::Bool`] and
/// [`Kind::Null`] as such. Appends to `out`.
///
/// [`crate::flatten_ecs`] of the written text gives back the same fields (the same multiset of
/// `(key, kind, value)`; `serde_json` objects are sorted by key, so the order between different
/// keys is not kept).
#[allow(clippy::needless_range_loop)] // `i` indexes the record and three parallel tables.
pub fn write_json(rec: &Record, out: &mut Vec<u8>) {
    // Repeated keys are found with a small open-addressing table of key hashes, reused across
    // records: O(n), and no allocation per record once the thread's buffers have grown.
    GROUPS.with(|g| {
        let mut g = g.borrow_mut();
        let Groups {
            table,
            next,
            tail,
            follower,
        } = &mut *g;
        let n = rec.len();
        let size = (n * 2).next_power_of_two().max(16);
        let mask = size - 1;
        table.clear();
        table.resize(size, u32::MAX);
        next.clear();
        next.resize(n, u32::MAX);
        tail.clear();
        tail.extend(0..n as u32);
        follower.clear();
        follower.resize(n, false);
        for i in 0..n {
            let key = key_at(rec, i);
            let mut h = (hash(key) as usize) & mask;
            loop {
                let j = table[h];
                if j == u32::MAX {
                    table[h] = i as u32;
                    break;
                }
                if key_at(rec, j as usize) == key {
                    let t = tail[j as usize] as usize;
                    next[t] = i as u32;
                    tail[j as usize] = i as u32;
                    follower[i] = true;
                    break;
                }
                h = (h + 1) & mask;
            }
        }
        out.push(b'{');
        let mut first = true;
        for i in 0..n {
            if follower[i] {
                continue;
            }
            let Some(f) = rec.at(i) else { continue };
            if !first {
                out.push(b',');
            }
            first = false;
            json_str(f.key, out);
            out.push(b':');
            if next[i] == u32::MAX {
                json_value(f.value, f.kind, out);
                continue;
            }
            out.push(b'[');
            json_value(f.value, f.kind, out);
            let mut j = next[i];
            while j != u32::MAX {
                if let Some(g) = rec.at(j as usize) {
                    out.push(b',');
                    json_value(g.value, g.kind, out);
                }
                j = next[j as usize];
            }
            out.push(b']');
        }
        out.push(b'}');
    });
}

#[derive(Default)]
struct Groups {
    /// Hash slot → index of the first field with that key (`u32::MAX`: empty).
    table: Vec<u32>,
    /// Field → next field with the same key.
    next: Vec<u32>,
    /// First field of a key → last field with that key so far.
    tail: Vec<u32>,
    /// Field repeats an earlier key.
    follower: Vec<bool>,
}

thread_local! {
    static GROUPS: std::cell::RefCell<Groups> = std::cell::RefCell::new(Groups::default());
}

/// FNV-1a: field names are short, and this runs once per field.
fn hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn key_at(rec: &Record, i: usize) -> &str {
    rec.at(i).map_or("", |f| f.key)
}

/// A field's value as [`write_json`] writes it: what a reader of the stored JSON finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaf<'a> {
    /// A JSON string.
    Str(&'a str),
    /// A JSON number, in its text (canonical: `serde_json` writes it back the same).
    Num(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// How [`write_json`] writes a value of `kind`: a number or a boolean that is not one in JSON
/// (`Kind::Num` of `"0x1F"`) is written as a string.
pub fn leaf(value: &str, kind: Kind) -> Leaf<'_> {
    match kind {
        Kind::Num if is_canonical_number(value) => Leaf::Num(value),
        Kind::Bool if value == "true" => Leaf::Bool(true),
        Kind::Bool if value == "false" => Leaf::Bool(false),
        Kind::Null => Leaf::Null,
        _ => Leaf::Str(value),
    }
}

fn json_value(value: &str, kind: Kind, out: &mut Vec<u8>) {
    match leaf(value, kind) {
        Leaf::Num(n) => out.extend_from_slice(n.as_bytes()),
        Leaf::Bool(true) => out.extend_from_slice(b"true"),
        Leaf::Bool(false) => out.extend_from_slice(b"false"),
        Leaf::Null => out.extend_from_slice(b"null"),
        Leaf::Str(s) => json_str(s, out),
    }
}

/// Writes `s` as a JSON string.
pub(crate) fn json_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        // Eight bytes at a time while none needs escaping (`"`, `\`, or a control byte): most
        // text, `event.original` above all, has long runs without one.
        if let Some(chunk) = b.get(i..i + 8) {
            let w = u64::from_le_bytes([
                chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
            ]);
            if !needs_escape_swar(w) {
                i += 8;
                continue;
            }
        }
        let c = b[i];
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&b[start..i]);
                let _ = write!(HexSink(out), "\\u{:04x}", c);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[start..i]);
        out.extend_from_slice(esc);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// True when one of the 8 bytes of `w` is `"`, `\` or below 0x20 (may be true for a byte
/// >= 0x80 next to one of them; the byte loop decides then).
#[inline]
fn needs_escape_swar(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (has_zero(w ^ (ONES * b'"' as u64)) | has_zero(w ^ (ONES * b'\\' as u64)) | below_space) != 0
}

struct HexSink<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for HexSink<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_round_trip() {
        assert!(is_int("0") && is_int("42") && !is_int("042") && !is_int(""));
        assert!(is_canonical_number("0.000435") && !is_canonical_number("3.10"));
        let mut rec = Record::new();
        rec.push("a.b", Kind::Str, "x\"y\n\u{1}");
        rec.push("n", Kind::Num, "12");
        rec.push("t", Kind::Str, "1");
        rec.push("t", Kind::Str, "2");
        rec.push("b", Kind::Bool, "true");
        rec.push("z", Kind::Null, "");
        let mut out = Vec::new();
        write_json(&rec, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"a.b":"x\"y\n\u0001","n":12,"t":["1","2"],"b":true,"z":null}"#
        );
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut back = Record::new();
        crate::flatten_ecs(&doc, &mut back).unwrap();
        let sorted = |r: &Record| {
            let mut v: Vec<_> = r
                .fields()
                .map(|f| (f.key.to_string(), f.kind, f.value.to_string()))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        assert_eq!(sorted(&rec), sorted(&back));
    }

    #[test]
    fn interleaved_repeats_keep_record_order_at_the_first_place() {
        let mut rec = Record::new();
        for (k, v) in [
            ("a", "1"),
            ("b", "2"),
            ("a", "3"),
            ("c", "4"),
            ("b", "5"),
            ("a", "6"),
        ] {
            rec.push(k, Kind::Str, v);
        }
        // Many distinct keys: the hash table fills and probes.
        for i in 0..100 {
            rec.push(&format!("k{i}"), Kind::Num, &i.to_string());
        }
        rec.push("k7", Kind::Num, "700");
        let mut out = Vec::new();
        write_json(&rec, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(r#"{"a":["1","3","6"],"b":["2","5"],"c":"4","k0":0,"#),
            "{text}"
        );
        assert!(text.contains(r#""k7":[7,700]"#), "{text}");
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc.as_object().unwrap().len(), 103);
    }

    #[test]
    fn json_str_escapes_at_every_offset() {
        for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "櫓"] {
            for pos in 0..20 {
                let text = format!("{}{special}{}", "a".repeat(pos), "b".repeat(20 - pos));
                let mut out = Vec::new();
                json_str(&text, &mut out);
                let back: String = serde_json::from_slice(&out).unwrap();
                assert_eq!(back, text, "{special:?} at {pos}");
            }
        }
    }
}
