//! The plain-scan evaluator, the full-text tokenizer, time parsing and value ordering.

use super::{CmpOp, Doc, Expr, Lit};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;

/// Looks a field up: the exact (dotted) key first, then, if absent, nested objects
/// along the dots (`a.b` → `{"a":{"b":..}}`).
pub(super) fn lookup<'a>(doc: &'a Doc, field: &str) -> Option<&'a Value> {
    if let Some(v) = doc.get(field) {
        return Some(v);
    }
    if !field.contains('.') {
        return None;
    }
    let mut parts = field.split('.');
    let mut cur = doc.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// Applies `f` to a scalar, or to each element of an array.
fn any_elem(v: &Value, f: &mut impl FnMut(&Value) -> bool) -> bool {
    match v {
        Value::Array(a) => a.iter().any(|e| any_elem(e, f)),
        other => f(other),
    }
}

/// Calls `f` for a scalar or each element of a (nested) array.
pub(super) fn for_each_elem<'a>(v: &'a Value, f: &mut impl FnMut(&'a Value)) {
    match v {
        Value::Array(a) => a.iter().for_each(|e| for_each_elem(e, f)),
        other => f(other),
    }
}

fn field_any(doc: &Doc, field: &str, mut f: impl FnMut(&Value) -> bool) -> bool {
    lookup(doc, field).is_some_and(|v| any_elem(v, &mut f))
}

/// The plain-scan evaluator: does `doc` satisfy `expr`? See `docs/query.md` for the rules.
pub fn matches(expr: &Expr, doc: &Doc) -> bool {
    match expr {
        Expr::And(v) => v.iter().all(|e| matches(e, doc)),
        Expr::Or(v) => v.iter().any(|e| matches(e, doc)),
        Expr::Not(e) => !matches(e, doc),
        Expr::Cmp { field, op, value } => match op {
            CmpOp::Eq => field_any(doc, field, |x| lit_eq(x, value)),
            CmpOp::Ne => !field_any(doc, field, |x| lit_eq(x, value)),
            CmpOp::EqNoCase => field_any(doc, field, |x| lit_eq_nocase(x, value)),
            CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => field_any(doc, field, |x| {
                cmp_lit(field, x, value).is_some_and(|o| match op {
                    CmpOp::Lt => o == Ordering::Less,
                    CmpOp::Le => o != Ordering::Greater,
                    CmpOp::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                })
            }),
        },
        Expr::In { field, values } => {
            field_any(doc, field, |x| values.iter().any(|l| lit_eq(x, l)))
        }
        Expr::Contains { field, value } => {
            let needle = value.to_lowercase();
            field_any(doc, field, |x| {
                text_of(x).is_some_and(|t| t.to_lowercase().contains(&needle))
            })
        }
        Expr::StartsWith { field, value } => {
            let needle = value.to_lowercase();
            field_any(doc, field, |x| {
                text_of(x).is_some_and(|t| t.to_lowercase().starts_with(&needle))
            })
        }
        Expr::EndsWith { field, value } => {
            let needle = value.to_lowercase();
            field_any(doc, field, |x| {
                text_of(x).is_some_and(|t| t.to_lowercase().ends_with(&needle))
            })
        }
        Expr::Regex { field, re, .. } => {
            field_any(doc, field, |x| text_of(x).is_some_and(|t| re.is_match(&t)))
        }
        Expr::Cidr { field, net } => field_any(doc, field, |x| {
            ip_of(x).is_some_and(|ip| {
                net.contains(&ip)
                    || match ip {
                        IpAddr::V6(v6) => v6
                            .to_ipv4_mapped()
                            .is_some_and(|v4| net.contains(&IpAddr::V4(v4))),
                        IpAddr::V4(_) => false,
                    }
            })
        }),
        Expr::Exists { field } => lookup(doc, field).is_some_and(|v| !v.is_null()),
        Expr::Text { tokens, .. } => {
            if tokens.is_empty() {
                return false;
            }
            let Some(t) = event_text(doc) else {
                return false;
            };
            let mut hay = Vec::new();
            text_tokens(t, &mut hay);
            hay.windows(tokens.len()).any(|w| w == tokens.as_slice())
        }
    }
}

/// The event's full text: `message` if it is a string, else `event.original` if it is.
pub fn event_text(doc: &Doc) -> Option<&str> {
    match doc.get("message") {
        Some(Value::String(s)) => Some(s),
        _ => match doc.get("event.original") {
            Some(Value::String(s)) => Some(s),
            _ => None,
        },
    }
}

/// Is `c` Han, Hiragana, Katakana (incl. ー) or Hangul?
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3005 | 0x3007 | 0x3021..=0x3029 // 々 〇 Hangzhou numerals
        | 0x3041..=0x309F                 // Hiragana
        | 0x30A1..=0x30FA | 0x30FC..=0x30FF // Katakana (incl. ー, without ・)
        | 0x31F0..=0x31FF                 // Katakana phonetic extensions
        | 0xFF66..=0xFF9F                 // halfwidth Katakana
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF // Han
        | 0x20000..=0x2FA1F | 0x30000..=0x323AF               // Han supplementary
        | 0x1100..=0x11FF | 0x3131..=0x318E | 0xA960..=0xA97F | 0xAC00..=0xD7A3 | 0xD7B0..=0xD7FF)
    // Hangul
}

/// THE full-text tokenizer (the index uses it too); appends the tokens of `s` to `out`.
///
/// Lowercases; each run of alphanumeric characters or `_` is one token, except that runs
/// of CJK characters (Han, Hiragana, Katakana, Hangul) yield overlapping bigrams
/// (`東京都` → `東京`, `京都`; a lone CJK character yields itself). A change between CJK
/// and non-CJK splits tokens; every other character separates tokens.
pub fn text_tokens(s: &str, out: &mut Vec<String>) {
    let mut buf = String::new();
    let mut spans = Vec::new();
    text_token_spans(s, &mut buf, &mut spans);
    out.extend(spans.iter().map(|&(a, b)| buf[a..b].to_owned()));
}

/// Ends a word at the end of `buf`.
fn end_word(buf: &str, spans: &mut Vec<(usize, usize)>, start: &mut usize) {
    if buf.len() > *start {
        spans.push((*start, buf.len()));
    }
    *start = buf.len();
}

/// Ends a CJK run: a run of one character is a token of its own.
fn end_cjk(
    prev: &mut Option<char>,
    lone: bool,
    buf: &mut String,
    spans: &mut Vec<(usize, usize)>,
    start: &mut usize,
) {
    if let Some(p) = prev.take() {
        if lone {
            buf.push(p);
            spans.push((*start, buf.len()));
            *start = buf.len();
        }
    }
}

/// [`text_tokens`] without an allocation per token: the tokens are written back to back into
/// `buf`, their `(start, end)` byte ranges appended to `spans`. Hot path of indexing (every
/// text field of every stored event): ASCII goes without case tables, and the caller reuses
/// the buffers (measured: building one `String` per token, char by char, was ~15% of the
/// indexing profile under `bench/stream.sh`).
pub fn text_token_spans(s: &str, buf: &mut String, spans: &mut Vec<(usize, usize)>) {
    let mut start = buf.len();
    // The CJK run so far: its last character, and whether it is the only one.
    let mut prev: Option<char> = None;
    let mut lone = false;
    for c in s.chars() {
        if c.is_ascii() {
            end_cjk(&mut prev, lone, buf, spans, &mut start);
            if c.is_ascii_alphanumeric() || c == '_' {
                buf.push(c.to_ascii_lowercase());
            } else {
                end_word(buf, spans, &mut start);
            }
        } else if is_cjk(c) {
            end_word(buf, spans, &mut start);
            match prev {
                Some(p) => {
                    buf.push(p);
                    buf.push(c);
                    spans.push((start, buf.len()));
                    start = buf.len();
                    lone = false;
                }
                None => lone = true,
            }
            prev = Some(c);
        } else {
            end_cjk(&mut prev, lone, buf, spans, &mut start);
            if c.is_alphanumeric() {
                buf.extend(c.to_lowercase());
            } else {
                end_word(buf, spans, &mut start);
            }
        }
    }
    end_cjk(&mut prev, lone, buf, spans, &mut start);
    end_word(buf, spans, &mut start);
}

/// A number in a value: exact integer or float.
#[derive(Debug, Clone, Copy)]
pub(super) enum Num {
    I(i64),
    F(f64),
}

impl Num {
    pub(super) fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }

    pub(super) fn cmp(self, o: Num) -> Option<Ordering> {
        match (self, o) {
            (Num::I(a), Num::I(b)) => Some(a.cmp(&b)),
            (a, b) => a.f().partial_cmp(&b.f()),
        }
    }

    pub(super) fn to_value(self) -> Value {
        match self {
            Num::I(i) => Value::from(i),
            Num::F(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        }
    }
}

/// Parses a decimal number (`12`, `-3.5`, `1e3`); not `inf`/`nan`/empty.
pub(super) fn parse_num_str(s: &str) -> Option<f64> {
    let first = s.chars().next()?;
    let second = s.chars().nth(1);
    let ok_start = first.is_ascii_digit()
        || (matches!(first, '-' | '+' | '.')
            && second.is_some_and(|c| c.is_ascii_digit() || c == '.'));
    if !ok_start {
        return None;
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn str_num(s: &str) -> Option<Num> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Num::I(i));
    }
    parse_num_str(s).map(Num::F)
}

/// The numeric value of a JSON number or of a string that parses as one.
pub(super) fn num_of(v: &Value) -> Option<Num> {
    match v {
        Value::Number(n) => n.as_i64().map(Num::I).or_else(|| n.as_f64().map(Num::F)),
        Value::String(s) => str_num(s),
        _ => None,
    }
}

fn lit_num(l: &Lit) -> Option<Num> {
    match l {
        Lit::Int(i) => Some(Num::I(*i)),
        Lit::Float(f) => Some(Num::F(*f)),
        Lit::Str(s) => str_num(s),
        _ => None,
    }
}

/// Text of a string or number value.
pub(super) fn text_of(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn lit_eq(v: &Value, l: &Lit) -> bool {
    match (l, v) {
        (Lit::Str(s), Value::String(x)) => x == s,
        (Lit::Str(s), Value::Number(n)) => n.to_string() == *s,
        (Lit::Int(_) | Lit::Float(_), Value::Number(_) | Value::String(_)) => {
            match (num_of(v), lit_num(l)) {
                (Some(a), Some(b)) => a.cmp(b) == Some(Ordering::Equal),
                _ => false,
            }
        }
        (Lit::Bool(b), Value::Bool(x)) => x == b,
        (Lit::Null, Value::Null) => true,
        _ => false,
    }
}

fn lit_eq_nocase(v: &Value, l: &Lit) -> bool {
    match (l, v) {
        (Lit::Str(s), Value::String(x)) => x.to_lowercase() == s.to_lowercase(),
        (Lit::Str(s), Value::Number(n)) => n.to_string().to_lowercase() == s.to_lowercase(),
        _ => lit_eq(v, l),
    }
}

fn cmp_lit(field: &str, v: &Value, l: &Lit) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (num_of(v), lit_num(l)) {
        return a.cmp(b);
    }
    let is_ts = field == "@timestamp";
    let vt = match v {
        Value::String(s) => parse_time(s),
        Value::Number(n) if is_ts => n.as_i64(),
        _ => None,
    };
    let lt = match l {
        Lit::Str(s) => parse_time(s),
        Lit::Int(i) if is_ts => Some(*i),
        _ => None,
    };
    if let (Some(a), Some(b)) = (vt, lt) {
        return Some(a.cmp(&b));
    }
    let lt: Cow<'_, str> = match l {
        Lit::Str(s) => Cow::Borrowed(s),
        Lit::Int(i) => Cow::Owned(i.to_string()),
        Lit::Float(f) => Cow::Owned(f.to_string()),
        _ => return None,
    };
    text_of(v).map(|t| t.as_ref().cmp(lt.as_ref()))
}

fn ip_of(v: &Value) -> Option<IpAddr> {
    let s = v.as_str()?.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(s);
    let s = s.split('%').next().unwrap_or(s); // IPv6 zone
    s.parse().ok()
}

// ---- time (the one RFC 3339 reader and writer: yagura_normalize's) ----

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

fn digits(b: &[u8], i: usize, n: usize) -> Option<i64> {
    let s = b.get(i..i + n)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, &d| a * 10 + i64::from(d - b'0')))
}

/// Parses an absolute time to epoch milliseconds: RFC 3339 (`2026-03-01T10:00:00.123Z`,
/// `+09:00` offsets), `2026-03-01`, `2026-03-01 10:00`, `2026-03-01T10:00:00` (no offset
/// = UTC). Fractions beyond milliseconds are truncated.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = s.trim();
    let b = t.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if b.len() == 10 {
        return yagura_normalize::parse_timestamp(&format!("{t}T00:00:00Z"));
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (h, mi) = (digits(b, 11, 2)?, digits(b, 14, 2)?);
    if b.get(13) != Some(&b':') || h > 23 || mi > 59 {
        return None;
    }
    // `HH:MM` without seconds: the reader wants them.
    let full = if b.get(16) == Some(&b':') {
        let sec = digits(b, 17, 2)?;
        if sec > 60 {
            return None;
        }
        t.to_owned()
    } else {
        format!("{}:00{}", &t[..16], &t[16..])
    };
    let fb = full.as_bytes();
    // What follows the seconds: a fraction, then nothing, `Z` or an offset.
    let mut i = 19;
    if matches!(fb.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while fb.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let rest = &full[i.min(full.len())..];
    let ok = rest.is_empty()
        || rest.eq_ignore_ascii_case("z")
        || (rest.len() >= 5
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && digits(rest.as_bytes(), 1, 2).is_some_and(|oh| oh <= 23)
            && {
                let r = rest.as_bytes();
                let m = if r.get(3) == Some(&b':') { 4 } else { 3 };
                r.len() == m + 2 && digits(r, m, 2).is_some_and(|om| om <= 59)
            });
    if !ok {
        return None;
    }
    yagura_normalize::parse_timestamp(&full)
}

/// Formats epoch milliseconds as RFC 3339 UTC with milliseconds: `2026-03-01T10:00:00.000Z`.
pub fn format_time(ms: i64) -> String {
    yagura_normalize::Rfc3339(ms).to_string()
}

// ---- ordering used by sort, stats output and values() ----

fn rank(v: Option<&Value>) -> u8 {
    match v {
        Some(x) if num_of(x).is_some() => 0,
        Some(Value::String(_)) => 1,
        Some(Value::Bool(_)) => 2,
        Some(Value::Array(_) | Value::Object(_)) => 3,
        _ => 4,
    }
}

/// Sort order: numbers (incl. numeric strings) first, then strings, bools, other values;
/// null/missing last. `desc` reverses the order within each kind only, so null/missing
/// stay last in both directions.
pub(super) fn sort_cmp(a: Option<&Value>, b: Option<&Value>, desc: bool) -> Ordering {
    let (ra, rb) = (rank(a), rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    let o = match (a, b) {
        (Some(x), Some(y)) => match ra {
            0 => match (num_of(x), num_of(y)) {
                (Some(p), Some(q)) => p.cmp(q).unwrap_or(Ordering::Equal),
                _ => Ordering::Equal,
            },
            1 => x.as_str().cmp(&y.as_str()),
            2 => x.as_bool().cmp(&y.as_bool()),
            3 => x.to_string().cmp(&y.to_string()),
            _ => Ordering::Equal,
        },
        _ => Ordering::Equal,
    };
    if desc {
        o.reverse()
    } else {
        o
    }
}

/// The value a row is sorted by: the field, or the first element if it is an array.
pub(super) fn sort_value<'a>(doc: &'a Doc, field: &str) -> Option<&'a Value> {
    match lookup(doc, field) {
        Some(Value::Array(a)) => a.first(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    /// The tokenizer as it was before `text_token_spans` (one `String` per token), kept to check
    /// that the index and the queries still cut text the same way.
    fn reference_tokens(s: &str, out: &mut Vec<String>) {
        fn flush_word(word: &mut String, out: &mut Vec<String>) {
            if !word.is_empty() {
                out.push(std::mem::take(word));
            }
        }
        fn flush_cjk(run: &mut Vec<char>, out: &mut Vec<String>) {
            if let [c] = run.as_slice() {
                out.push(c.to_string());
            } else {
                out.extend(run.windows(2).map(|w| w.iter().collect::<String>()));
            }
            run.clear();
        }
        let mut word = String::new();
        let mut run: Vec<char> = Vec::new();
        for c in s.chars() {
            if is_cjk(c) {
                flush_word(&mut word, out);
                run.push(c);
            } else if c.is_alphanumeric() || c == '_' {
                flush_cjk(&mut run, out);
                word.extend(c.to_lowercase());
            } else {
                flush_word(&mut word, out);
                flush_cjk(&mut run, out);
            }
        }
        flush_word(&mut word, out);
        flush_cjk(&mut run, out);
    }

    #[test]
    fn token_spans_cut_text_as_the_reference_tokenizer() {
        let samples = [
            "Failed password for invalid user admin from 192.0.2.1 port 22 ssh2",
            "東京都の新宿区でログイン失敗 user=山田 ip=10.0.0.1",
            "ｶﾀｶﾅ ﾛｸﾞ and ÉCOLE Straße İstanbul ǅ",
            "a東b京都c 한국어 텍스트_x __init__ C:\\Windows\\System32\\cmd.exe /c whoami",
            "",
            " ",
            "東",
            "x東",
            "東x",
            "東京",
            "日本語123日本",
            "Ⅻ ① ½ ٣",
        ];
        for s in samples {
            let mut a = Vec::new();
            reference_tokens(s, &mut a);
            let mut b = Vec::new();
            text_tokens(s, &mut b);
            assert_eq!(a, b, "{s:?}");
        }
        // Every character of real samples, in one pass.
        for rel in [
            "linux-auth/loghub/OpenSSH/OpenSSH_2k.log",
            "web-access/README.md",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data")
                .join(rel);
            let text = std::fs::read_to_string(&path).unwrap();
            let mut a = Vec::new();
            reference_tokens(&text, &mut a);
            let mut b = Vec::new();
            text_tokens(&text, &mut b);
            assert_eq!(a, b, "{rel}");
        }
    }
    use serde_json::json;

    fn doc(v: Value) -> Doc {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn m(q: &str, d: &Value) -> bool {
        let q = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        matches(&q.filter.unwrap(), &doc(d.clone()))
    }

    fn sample() -> Value {
        json!({"@timestamp":"2026-03-01T10:00:00.123Z","source.ip":"10.0.0.5","event.code":"4625",
               "user.name":"bob","host.name":"web1","message":"Failed password for bob",
               "related.ip":["10.0.0.5","10.0.0.9"],"bytes":1500,"ratio":0.5,"ok":false,"gone":null,
               "dst":{"port":443}})
    }

    #[test]
    fn equality_rules() {
        let d = sample();
        assert!(m("user.name == \"bob\"", &d));
        assert!(!m("user.name == \"Bob\"", &d));
        assert!(m("user.name =~ \"BOB\"", &d));
        assert!(m("event.code == 4625", &d));
        assert!(m("event.code == \"4625\"", &d));
        assert!(m("bytes == \"1500\"", &d));
        assert!(m("bytes == 1500", &d));
        assert!(m("bytes == 1500.0", &d));
        assert!(m("ratio == 0.5", &d));
        assert!(m("ok == false", &d));
        assert!(!m("ok == \"false\"", &d));
        assert!(m("gone == null", &d));
        assert!(!m("missing == null", &d));
        assert!(m("dst.port == 443", &d));
        assert!(m("event.code in (4624, 4625)", &d));
        assert!(!m("event.code not in (4624, 4625)", &d));
    }

    #[test]
    fn arrays_and_missing_fields() {
        let d = sample();
        assert!(m("related.ip == \"10.0.0.9\"", &d));
        assert!(!m("related.ip != \"10.0.0.9\"", &d));
        assert!(m("related.ip != \"10.0.0.7\"", &d));
        assert!(m("missing != 1", &d));
        assert!(!m("missing == 1", &d));
        assert!(!m("missing < 1", &d));
        assert!(!m("missing contains \"a\"", &d));
        assert!(!m("missing in (1)", &d));
        assert!(!m("missing cidr \"0.0.0.0/0\"", &d));
        assert!(!m("missing matches \".\"", &d));
        assert!(m("not exists(missing)", &d));
        assert!(!m("exists(gone)", &d));
        assert!(m("exists(user.name)", &d));
        assert!(m("related.ip startswith \"10.0.0.9\"", &d));
    }

    #[test]
    fn ordering_rules() {
        let d = sample();
        assert!(m("bytes > 1000", &d));
        assert!(m("bytes >= 1500 and bytes <= 1500", &d));
        assert!(!m("bytes < 1500", &d));
        assert!(m("event.code > 999", &d)); // numeric, not lexicographic
        assert!(m("event.code > \"999\"", &d)); // both numeric
        assert!(m("user.name > \"alice\" and user.name < \"carol\"", &d));
        assert!(m("@timestamp >= \"2026-03-01\"", &d));
        assert!(m("@timestamp < \"2026-03-01T10:00:01Z\"", &d));
        assert!(m("@timestamp > \"2026-03-01T19:00:00+09:00\"", &d));
        assert!(!m("@timestamp > \"2026-03-01 10:01\"", &d));
        assert!(m("@timestamp > 1772359200000", &d)); // epoch ms literal
        let d2 = json!({"seen":"2026-02-28T23:00:00Z"});
        assert!(m("seen < \"2026-03-01\"", &d2)); // both parse as time
        assert!(!m("ok < 1", &d));
    }

    #[test]
    fn string_matching_rules() {
        let d = sample();
        assert!(m("message contains \"PASSWORD\"", &d));
        assert!(m("message startswith \"failed\"", &d));
        assert!(m("message endswith \"BOB\"", &d));
        assert!(m("bytes contains \"50\"", &d));
        assert!(m("message matches \"pass\\\\w+\"", &d));
        assert!(m("message matches \"p.ss\"", &d));
        assert!(!m("message matches \"FAILED\"", &d));
        assert!(m("message matches \"(?i)FAILED\"", &d));
        let d2 = json!({"x":"ÄRGER"});
        assert!(m("x contains \"ärger\"", &d2));
    }

    #[test]
    fn cidr_rules() {
        let d = sample();
        assert!(m("source.ip cidr \"10.0.0.0/8\"", &d));
        assert!(!m("source.ip cidr \"192.168.0.0/16\"", &d));
        assert!(m("related.ip cidr \"10.0.0.9/32\"", &d));
        assert!(m("source.ip cidr \"10.0.0.5\"", &d));
        let v6 =
            json!({"a":"2001:db8::1","b":"[fe80::1%eth0]","c":"::ffff:10.1.2.3","d":"nonsense"});
        assert!(m("a cidr \"2001:db8::/32\"", &v6));
        assert!(!m("a cidr \"2001:db9::/32\"", &v6));
        assert!(!m("a cidr \"10.0.0.0/8\"", &v6));
        assert!(m("b cidr \"fe80::/10\"", &v6));
        assert!(m("c cidr \"10.0.0.0/8\"", &v6));
        assert!(!m("d cidr \"0.0.0.0/0\"", &v6));
    }

    fn toks(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        text_tokens(s, &mut v);
        v
    }

    #[test]
    fn tokenizer() {
        assert_eq!(
            toks("Failed password for BOB"),
            ["failed", "password", "for", "bob"]
        );
        assert_eq!(
            toks("a_b-c.d 10.0.0.5"),
            ["a_b", "c", "d", "10", "0", "0", "5"]
        );
        assert_eq!(toks("東京都"), ["東京", "京都"]);
        assert_eq!(toks("東"), ["東"]);
        assert_eq!(
            toks("ログイン失敗 user=太郎"),
            ["ログ", "グイ", "イン", "ン失", "失敗", "user", "太郎"]
        );
        assert_eq!(toks("abc日本def"), ["abc", "日本", "def"]);
        assert_eq!(toks("サーバー・ログ"), ["サー", "ーバ", "バー", "ログ"]);
        assert_eq!(toks("한국어 ok"), ["한국", "국어", "ok"]);
        assert_eq!(toks("ÉCOLE Straße"), ["école", "straße"]);
        assert!(toks("--- !!").is_empty());
        let mut v = vec!["keep".to_string()];
        text_tokens("x", &mut v);
        assert_eq!(v, ["keep", "x"]);
    }

    #[test]
    fn full_text_rules() {
        let d = sample();
        assert!(m("failed", &d));
        assert!(m("\"failed password\"", &d));
        assert!(!m("\"password failed\"", &d));
        assert!(m("FAILED bob", &d));
        assert!(!m("\"---\"", &d)); // no tokens never matches
        let jp = json!({"message":"ログイン失敗 user=太郎"});
        assert!(m("ログイン", &jp));
        assert!(m("\"ログイン失敗\"", &jp));
        assert!(m("\"失敗 user\"", &jp));
        assert!(m("太郎", &jp));
        assert!(m("\"失敗 user=太郎\"", &jp));
        assert!(m("\"ログイン失敗 user=太郎\"", &jp));
        assert!(!m("\"user 失敗\"", &jp));
        assert!(m("ログイン失敗 not ログアウト", &jp));
        assert!(!m("失", &jp)); // a lone CJK char only matches a lone CJK char
        assert!(!m("ログアウト", &jp));
        let orig = json!({"event.original":"raw line here","message":5});
        assert!(m("\"line here\"", &orig));
        assert!(!m("x", &json!({})));
    }

    #[test]
    fn event_text_prefers_message() {
        let d = doc(json!({"message":"a","event.original":"b"}));
        assert_eq!(event_text(&d), Some("a"));
        let d = doc(json!({"message":1,"event.original":"b"}));
        assert_eq!(event_text(&d), Some("b"));
        assert_eq!(event_text(&doc(json!({}))), None);
    }

    #[test]
    fn time_parsing() {
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(
            parse_time("2026-03-01T10:00:00.123Z"),
            Some(1_772_359_200_123)
        );
        assert_eq!(parse_time("2026-03-01 10:00"), Some(1_772_359_200_000));
        assert_eq!(parse_time("2026-03-01T10:00:00"), Some(1_772_359_200_000));
        assert_eq!(
            parse_time("2026-03-01T19:00:00+09:00"),
            Some(1_772_359_200_000)
        );
        assert_eq!(
            parse_time("2026-03-01T05:00:00-0500"),
            Some(1_772_359_200_000)
        );
        assert_eq!(
            parse_time("2026-03-01T10:00:00.1234567Z"),
            Some(1_772_359_200_123)
        );
        assert_eq!(
            parse_time("2026-03-01T10:00:00.5Z"),
            Some(1_772_359_200_500)
        );
        assert_eq!(parse_time("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(parse_time("2025-02-29"), None);
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(parse_time("2026-03-01T25:00"), None);
        assert_eq!(parse_time("2026-03-01X"), None);
        assert_eq!(parse_time("4625"), None);
        assert_eq!(parse_time("-24h"), None);
        assert_eq!(parse_time(""), None);
        assert_eq!(parse_time("2026-03-01T10:00:00.Z"), None);
    }

    #[test]
    fn time_formatting() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_time(1_772_359_200_123), "2026-03-01T10:00:00.123Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_time(1_709_164_800_000), "2024-02-29T00:00:00.000Z");
        for ms in [0i64, 951_782_400_000, 4_102_444_800_000, -86_400_000 * 365] {
            assert_eq!(parse_time(&format_time(ms)), Some(ms));
        }
    }
}
