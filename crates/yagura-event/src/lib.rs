//! The flat event record that every Yagura stage exchanges.
//!
//! **Owns:** [`Record`], an event flattened to `(field name, kind, value text)` entries stored in
//! one reusable text buffer, so a worker decodes event after event without a heap allocation per
//! field or per event once the buffers have grown.
//!
//! **Must not:** know any log format, field naming convention or detection logic. Decoders in
//! `yagura-normalize` decide the field names; `yagura-sigma` decides what the values mean.
//!
//! ```
//! use yagura_event::{Kind, Record};
//! let mut rec = Record::new();
//! rec.push("EventID", Kind::Num, "4688");
//! rec.push("CommandLine", Kind::Str, "whoami /all");
//! assert_eq!(rec.get("EventID").map(|f| f.value), Some("4688"));
//! rec.clear(); // keeps its buffers for the next event
//! assert!(rec.is_empty());
//! ```

use std::fmt::Write as _;

/// What a value was in its source document. Numbers keep their decimal text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text.
    Str,
    /// A number, kept as its decimal text (`"4688"`, `"-1.5"`).
    Num,
    /// `true` or `false`.
    Bool,
    /// An explicit null (the field is present, its value is null).
    Null,
}

#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: Span,
    value: Span,
    kind: Kind,
}

/// One field of a [`Record`], borrowed from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// Field name, e.g. `CommandLine` or `process.command_line`.
    pub key: &'a str,
    /// Value text; empty for [`Kind::Null`].
    pub value: &'a str,
    /// Kind of the value in its source document.
    pub kind: Kind,
}

/// A flattened event: an ordered list of fields. A field name may repeat (array values).
#[derive(Clone, Debug, Default)]
pub struct Record {
    buf: String,
    entries: Vec<Entry>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every field, keeping the allocated buffers.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the record has no field.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn span_of(&mut self, text: &str) -> Span {
        let start = self.buf.len() as u32;
        self.buf.push_str(text);
        Span {
            start,
            end: self.buf.len() as u32,
        }
    }

    /// Appends a field.
    pub fn push(&mut self, key: &str, kind: Kind, value: &str) {
        let key = self.span_of(key);
        let value = self.span_of(value);
        self.entries.push(Entry { key, value, kind });
    }

    /// Appends a field whose name is the concatenation of `key_parts` (`["Provider", "_", "Name"]`),
    /// without building the name in a temporary string.
    pub fn push_parts(&mut self, key_parts: &[&str], kind: Kind, value: &str) {
        let start = self.buf.len() as u32;
        for part in key_parts {
            self.buf.push_str(part);
        }
        let key = Span {
            start,
            end: self.buf.len() as u32,
        };
        let value = self.span_of(value);
        self.entries.push(Entry { key, value, kind });
    }

    /// Appends a field whose value is formatted in place (numbers, for example).
    pub fn push_fmt(&mut self, key: &str, kind: Kind, value: std::fmt::Arguments<'_>) {
        let key = self.span_of(key);
        let start = self.buf.len() as u32;
        // Writing into a String cannot fail.
        let _ = self.buf.write_fmt(value);
        let value = Span {
            start,
            end: self.buf.len() as u32,
        };
        self.entries.push(Entry { key, value, kind });
    }

    /// Every key and value of the record, back to back in one buffer. A search here finds a
    /// superset of what a search over the values finds: prefilters use it to rule out a whole
    /// event in one pass.
    pub fn all_text(&self) -> &str {
        &self.buf
    }

    fn text(&self, span: Span) -> &str {
        &self.buf[span.start as usize..span.end as usize]
    }

    fn field(&self, e: &Entry) -> Field<'_> {
        Field {
            key: self.text(e.key),
            value: self.text(e.value),
            kind: e.kind,
        }
    }

    /// The `index`-th field.
    pub fn at(&self, index: usize) -> Option<Field<'_>> {
        self.entries.get(index).map(|e| self.field(e))
    }

    /// The value and kind of the `index`-th field (cheaper than [`Record::at`] when the name is
    /// not needed).
    #[inline]
    pub fn value_at(&self, index: usize) -> Option<(&str, Kind)> {
        self.entries
            .get(index)
            .map(|e| (self.text(e.value), e.kind))
    }

    /// Field names in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|e| self.text(e.key))
    }

    /// All fields in insertion order.
    pub fn fields(&self) -> impl Iterator<Item = Field<'_>> + '_ {
        self.entries.iter().map(|e| self.field(e))
    }

    /// First field named `key` (linear scan; evaluators that look up many fields index the record
    /// once instead).
    pub fn get(&self, key: &str) -> Option<Field<'_>> {
        self.entries
            .iter()
            .find(|e| self.text(e.key) == key)
            .map(|e| self.field(e))
    }

    /// Every field named `key` (arrays flatten to repeated names).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Field<'a>> + 'a {
        self.entries
            .iter()
            .filter(move |e| self.text(e.key) == key)
            .map(|e| self.field(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_and_reuse() {
        let mut r = Record::new();
        r.push_parts(
            &["Provider", "_", "Name"],
            Kind::Str,
            "Microsoft-Windows-Sysmon",
        );
        r.push_fmt("EventID", Kind::Num, format_args!("{}", 1));
        r.push("Tag", Kind::Str, "a");
        r.push("Tag", Kind::Str, "b");
        assert_eq!(
            r.get("Provider_Name").unwrap().value,
            "Microsoft-Windows-Sysmon"
        );
        assert_eq!(r.get("EventID").unwrap().kind, Kind::Num);
        assert_eq!(
            r.get_all("Tag").map(|f| f.value).collect::<Vec<_>>(),
            ["a", "b"]
        );
        r.clear();
        assert!(r.get("EventID").is_none());
    }
}
