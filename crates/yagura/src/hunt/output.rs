//! Writing the timeline: an aligned table for a terminal, CSV, or JSON lines.

use serde::Serialize;
use std::io::{self, Write};

use super::detection::{Detection, RuleCatalog};
use super::labels::Labels;
use super::time::format_utc;

/// Timeline format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for reading on a terminal (long values clipped).
    Table,
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per detection.
    Jsonl,
}

/// Writes detections one after another in one format.
pub struct TimelineWriter<'a, W: Write> {
    out: W,
    format: Format,
    catalog: &'a RuleCatalog,
    labels: &'static Labels,
    line: String,
}

/// One detection as a JSON line.
#[derive(Serialize)]
struct JsonLine<'a> {
    timestamp: Option<String>,
    computer: &'a str,
    channel: &'a str,
    event_id: Option<u32>,
    rule_title: &'a str,
    level: &'a str,
    tags: &'a [String],
    rule_id: &'a str,
    file: &'a str,
    record: u64,
    fields: &'a str,
}

/// Table column widths (characters); the last column is not clipped.
const TABLE_WIDTHS: [usize; 8] = [24, 18, 22, 7, 13, 48, 18, 30];

impl<'a, W: Write> TimelineWriter<'a, W> {
    /// A writer; call [`Self::header`] first.
    pub fn new(out: W, format: Format, catalog: &'a RuleCatalog, labels: &'static Labels) -> Self {
        Self {
            out,
            format,
            catalog,
            labels,
            line: String::new(),
        }
    }

    /// Writes the header row (nothing for JSON lines).
    pub fn header(&mut self) -> io::Result<()> {
        let l = self.labels;
        match self.format {
            Format::Jsonl => Ok(()),
            Format::Csv => {
                let cols = [
                    l.timestamp,
                    l.computer,
                    l.channel,
                    l.event_id,
                    l.title,
                    l.level,
                    l.tags,
                    l.rule_id,
                    l.file,
                    l.record,
                    l.fields,
                ];
                self.csv_row(&cols)
            }
            Format::Table => {
                let file_record = format!("{}:{}", l.file, l.record);
                let cols = [
                    l.timestamp,
                    l.computer,
                    l.channel,
                    l.event_id,
                    l.level,
                    l.title,
                    l.tags,
                    &file_record,
                    l.fields,
                ];
                self.table_row(&cols)
            }
        }
    }

    /// Writes one detection.
    pub fn write(&mut self, d: &Detection) -> io::Result<()> {
        let rule = self.catalog.get(d.rule);
        let ts = d.ts.map(format_utc);
        let event_id = d.event_id.map(|e| e.to_string()).unwrap_or_default();
        match self.format {
            Format::Jsonl => {
                let line = JsonLine {
                    timestamp: ts,
                    computer: &d.computer,
                    channel: &d.channel,
                    event_id: d.event_id,
                    rule_title: &rule.title,
                    level: rule.level.as_str(),
                    tags: &rule.attack_tags,
                    rule_id: &rule.id,
                    file: &d.file,
                    record: d.record,
                    fields: &d.fields,
                };
                serde_json::to_writer(&mut self.out, &line)?;
                self.out.write_all(b"\n")
            }
            Format::Csv => {
                let tags = rule.attack_tags.join(" ");
                let record = d.record.to_string();
                let cols = [
                    ts.as_deref().unwrap_or(""),
                    &d.computer,
                    &d.channel,
                    &event_id,
                    &rule.title,
                    rule.level.as_str(),
                    &tags,
                    &rule.id,
                    &d.file,
                    &record,
                    &d.fields,
                ];
                self.csv_row(&cols)
            }
            Format::Table => {
                let tags = technique_ids(&rule.attack_tags);
                let file_record = format!("{}:{}", short_name(&d.file), d.record);
                let channel = d
                    .channel
                    .strip_prefix("Microsoft-Windows-")
                    .unwrap_or(&d.channel);
                let cols = [
                    ts.as_deref().unwrap_or("-"),
                    &d.computer,
                    channel,
                    &event_id,
                    rule.level.as_str(),
                    &rule.title,
                    &tags,
                    &file_record,
                    &d.fields,
                ];
                self.table_row(&cols)
            }
        }
    }

    /// Flushes the output.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn csv_row(&mut self, cols: &[&str]) -> io::Result<()> {
        self.line.clear();
        for (i, c) in cols.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            if c.contains([',', '"', '\n', '\r']) {
                self.line.push('"');
                self.line.push_str(&c.replace('"', "\"\""));
                self.line.push('"');
            } else {
                self.line.push_str(c);
            }
        }
        self.line.push_str("\r\n");
        self.out.write_all(self.line.as_bytes())
    }

    fn table_row(&mut self, cols: &[&str]) -> io::Result<()> {
        self.line.clear();
        for (i, c) in cols.iter().enumerate() {
            match TABLE_WIDTHS.get(i) {
                Some(&w) => {
                    push_padded(&mut self.line, c, w);
                    self.line.push_str("  ");
                }
                None => self.line.push_str(c),
            }
        }
        let trimmed = self.line.trim_end().len();
        self.line.truncate(trimmed);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }
}

/// `T1059.001,T1105` from the `attack.t…` tags (the table has no room for tactics).
fn technique_ids(tags: &[String]) -> String {
    let ids: Vec<String> = tags
        .iter()
        .filter_map(|t| t.strip_prefix("attack.t"))
        .filter(|id| id.starts_with(|c: char| c.is_ascii_digit()))
        .map(|id| format!("T{id}"))
        .collect();
    ids.join(",")
}

/// The file name without its folders (the table has no room for paths).
fn short_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Appends `text` clipped or padded to `width` display columns (CJK characters count as two).
fn push_padded(out: &mut String, text: &str, width: usize) {
    let mut used = 0;
    let total: usize = text.chars().map(char_width).sum();
    for c in text.chars() {
        let w = char_width(c);
        if total > width && used + w > width.saturating_sub(1) {
            out.push('…');
            used += 1;
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
        used += w;
    }
    for _ in used..width {
        out.push(' ');
    }
}

/// Terminal columns of `c`: two for East Asian wide characters, one otherwise.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_and_clipping() {
        let mut s = String::new();
        push_padded(&mut s, "abcdef", 4);
        assert_eq!(s, "abc…");
        s.clear();
        push_padded(&mut s, "日時", 6);
        assert_eq!(s, "日時  ");
        assert_eq!(short_name("a/b\\c.evtx"), "c.evtx");
        let tags = ["attack.execution".to_owned(), "attack.t1059.001".to_owned()];
        assert_eq!(technique_ids(&tags), "T1059.001");
    }
}
