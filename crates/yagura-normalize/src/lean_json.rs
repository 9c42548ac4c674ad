//! A serde `Deserializer` for the compact JSON the `evtx` crate writes, used by the streaming
//! EVTX flattener. It reads objects, arrays, strings with the usual escapes, integers, `true`,
//! `false` and `null` itself; other numbers (fractions, exponents, `-0`, beyond 64 bits) are
//! parsed by `serde_json` one at a time, so they come out exactly as `serde_json` reads them. It
//! gives up on a `\u` surrogate, a control character in a string and invalid JSON: the flattener
//! then reads the record with `serde_json` into a `Value`, so that too is read exactly.
//!
//! Why not `serde_json::Deserializer`: parsing was half of flattening (700 M of 1,400 M
//! instructions over the shared EVTX corpus, callgrind); this reader finds string ends eight
//! bytes at a time and keeps one unescape buffer per record instead of allocating per string.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;

/// The reader gave up: the caller falls back to `serde_json`.
#[derive(Debug)]
pub(crate) struct GiveUp;

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not read by the lean JSON reader")
    }
}

impl std::error::Error for GiveUp {}

impl de::Error for GiveUp {
    fn custom<T: fmt::Display>(_: T) -> Self {
        GiveUp
    }
}

type Result<T> = std::result::Result<T, GiveUp>;

/// Compact JSON text being read.
pub(crate) struct Lean<'de> {
    text: &'de str,
    pos: usize,
    /// Unescaped text of the last string that held escapes.
    scratch: String,
    /// Objects and arrays open; past [`MAX_DEPTH`] the reader gives up (serde_json, which then
    /// reads the record, stops at the same depth with an error) instead of growing the stack.
    depth: u32,
}

/// Nesting the reader follows (serde_json's recursion limit).
const MAX_DEPTH: u32 = 128;

/// Where the last string is: in the input, or unescaped in `scratch`.
enum Str<'de> {
    Input(&'de str),
    Scratch,
}

impl<'de> Lean<'de> {
    /// A reader of `text` that unescapes strings into `scratch` (its old content is dropped),
    /// which [`Lean::into_scratch`] gives back for the next text.
    pub(crate) fn new(text: &'de str, scratch: String) -> Self {
        Self {
            text,
            pos: 0,
            scratch,
            depth: 0,
        }
    }

    pub(crate) fn into_scratch(self) -> String {
        self.scratch
    }

    /// Succeeds when only whitespace is left.
    pub(crate) fn end(&mut self) -> Result<()> {
        self.skip_ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    fn bytes(&self) -> &'de [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, b: u8) -> Result<()> {
        self.skip_ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// Before each member of an object or array whose opening bracket was read: false (and the
    /// bracket consumed) at its `close`, else true, with the `,` between members consumed.
    fn next_member(&mut self, close: u8, first: &mut bool) -> Result<bool> {
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(false);
        }
        if !std::mem::take(first) {
            self.expect(b',')?;
            self.skip_ws();
        }
        Ok(true)
    }

    /// Reads the string at `pos` and hands it to `visitor`.
    fn visit_string<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.string()? {
            Str::Input(s) => visitor.visit_borrowed_str(s),
            Str::Scratch => visitor.visit_str(&self.scratch),
        }
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    /// Reads a string whose opening quote is at `pos`.
    fn string(&mut self) -> Result<Str<'de>> {
        self.pos += 1;
        let start = self.pos;
        let bytes = self.bytes();
        let mut stop = special(bytes, start).ok_or(GiveUp)?;
        if bytes[stop] == b'"' {
            self.pos = stop + 1;
            return Ok(Str::Input(&self.text[start..stop]));
        }
        self.scratch.clear();
        let mut at = start;
        loop {
            self.scratch.push_str(&self.text[at..stop]);
            match bytes[stop] {
                b'"' => {
                    self.pos = stop + 1;
                    return Ok(Str::Scratch);
                }
                b'\\' => {}
                _ => return Err(GiveUp), // a raw control character
            }
            let unescaped = match bytes.get(stop + 1) {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => {
                    let hex = self.text.get(stop + 2..stop + 6).ok_or(GiveUp)?;
                    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(GiveUp);
                    }
                    let code = u32::from_str_radix(hex, 16).map_err(|_| GiveUp)?;
                    // Surrogates (pairs or not) are left to serde_json.
                    self.scratch.push(char::from_u32(code).ok_or(GiveUp)?);
                    at = stop + 6;
                    stop = special(bytes, at).ok_or(GiveUp)?;
                    continue;
                }
                _ => return Err(GiveUp),
            };
            self.scratch.push(unescaped);
            at = stop + 2;
            stop = special(bytes, at).ok_or(GiveUp)?;
        }
    }

    /// Reads a number at `pos`: a plain integer here, any other number through `serde_json`.
    fn number<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let bytes = self.bytes();
        let negative = bytes[self.pos] == b'-';
        let start = self.pos + usize::from(negative);
        let digits = bytes[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = start + digits;
        let plain = digits > 0
            && (digits == 1 || bytes[start] != b'0')
            && !matches!(bytes.get(end), Some(b'.' | b'e' | b'E'));
        if plain {
            if let Ok(n) = self.text[start..end].parse::<u64>() {
                if !negative {
                    self.pos = end;
                    return visitor.visit_u64(n);
                }
                if let Some(n) = i64::try_from(n).ok().filter(|&n| n != 0) {
                    self.pos = end;
                    return visitor.visit_i64(-n);
                }
            }
        }
        let len = bytes[self.pos..]
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        let token = &self.text[self.pos..self.pos + len];
        let n: serde_json::Number = serde_json::from_str(token).map_err(|_| GiveUp)?;
        self.pos += len;
        if let Some(u) = n.as_u64() {
            visitor.visit_u64(u)
        } else if let Some(i) = n.as_i64() {
            visitor.visit_i64(i)
        } else {
            visitor.visit_f64(n.as_f64().ok_or(GiveUp)?)
        }
    }
}

/// The position of the first byte from `at` that ends or interrupts a string's text: `"`, `\\`,
/// or a control character (not allowed raw in JSON). Eight bytes at a time: EVTX strings are
/// short, and `memchr`'s set-up per call cost more than it saved on them (callgrind).
fn special(bytes: &[u8], mut at: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `x` that is below `n` (exact for the lowest such byte, which
    // is the one used).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let hits = below(w, 0x20)
            | below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1);
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes
        .get(at..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

impl<'de> de::Deserializer<'de> for &mut Lean<'de> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip_ws();
        match self.peek().ok_or(GiveUp)? {
            b'{' | b'[' if self.depth >= MAX_DEPTH => Err(GiveUp),
            b'{' => {
                self.pos += 1;
                self.depth += 1;
                let v = visitor.visit_map(Entries {
                    de: &mut *self,
                    first: true,
                });
                self.depth -= 1;
                v
            }
            b'[' => {
                self.pos += 1;
                self.depth += 1;
                let v = visitor.visit_seq(Items {
                    de: &mut *self,
                    first: true,
                });
                self.depth -= 1;
                v
            }
            b'"' => self.visit_string(visitor),
            b'-' | b'0'..=b'9' => self.number(visitor),
            b't' => {
                self.literal("true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.literal("false")?;
                visitor.visit_bool(false)
            }
            b'n' => {
                self.literal("null")?;
                visitor.visit_unit()
            }
            _ => Err(GiveUp),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// The entries of an object whose `{` was read.
struct Entries<'a, 'de> {
    de: &'a mut Lean<'de>,
    first: bool,
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = GiveUp;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if !self.de.next_member(b'}', &mut self.first)? {
            return Ok(None);
        }
        if self.de.peek() != Some(b'"') {
            return Err(GiveUp);
        }
        seed.deserialize(Key { de: &mut *self.de }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        self.de.expect(b':')?;
        seed.deserialize(&mut *self.de)
    }
}

/// The items of an array whose `[` was read.
struct Items<'a, 'de> {
    de: &'a mut Lean<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = GiveUp;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if !self.de.next_member(b']', &mut self.first)? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

/// An object key (a string whose opening quote is next).
struct Key<'a, 'de> {
    de: &'a mut Lean<'de>,
}

impl<'de> de::Deserializer<'de> for Key<'_, 'de> {
    type Error = GiveUp;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.de.visit_string(visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::Value;

    fn lean(text: &str) -> Option<Value> {
        let mut de = Lean::new(text, String::new());
        let v = Value::deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(v)
    }

    #[test]
    fn reads_what_it_accepts_exactly_as_serde_json() {
        for text in [
            r#"{"a":1,"b":[true,false,null,"x"],"c":{"d":-5,"e":""}}"#,
            r#" { "k" : "C:\\Windows\\System32\\cmd.exe /c \"x\" \/ \t\n" } "#,
            r#"{"u":"\u00e9\u0041\u001f","n":18446744073709551615,"m":-9223372036854775808}"#,
            r#"{"emoji":"🐉 山","empty":{},"list":[]}"#,
            "[1,[2,[3]],{\"a\":[]}]",
            r#"{"f":1.5,"e":1e3,"g":-2.5E-3,"z":-0,"big":18446744073709551616,"tiny":5e-324}"#,
            r#"{"x":0.30000000000000004,"y":-9223372036854775809}"#,
        ] {
            let ours = lean(text).unwrap_or_else(|| panic!("gave up on {text}"));
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn special_bytes_are_found_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                for b in [b'"', b'\\', 0u8, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    // Bytes that must not count: 0x20, 0x7f, 0x80+ and a 0x22/0x5c look-alike.
                    if at + 1 < len {
                        bytes[at + 1] = 0x80;
                    }
                    if at > 0 {
                        bytes[at - 1] = [0x20, 0x7f, 0xa2, 0xdc][at % 4];
                    }
                    assert_eq!(special(&bytes, 0), Some(at), "len {len} at {at} byte {b}");
                }
            }
            assert_eq!(special(&vec![b'x'; len], 0), None);
        }
    }

    #[test]
    fn gives_up_on_surrogates_controls_and_invalid_json() {
        for text in [
            r#"{"z":01}"#,
            r#"{"z":1.}"#,
            r#"{"z":--1}"#,
            r#"{"s":"\ud83d\udc09"}"#,
            "{\"c\":\"a\u{1}b\"}",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":1} x"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"open"#,
            "",
        ] {
            assert!(lean(text).is_none(), "{text}");
        }
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(
            lean(&deep).is_none(),
            "deep nesting is left to serde_json's limit"
        );
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert!(lean(&ok).is_some());
    }
}
