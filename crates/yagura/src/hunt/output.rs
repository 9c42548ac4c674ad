//! Writing the timeline: an aligned table for a terminal, CSV, or JSON lines.

use serde::Serialize;
use std::io::{self, Write};

use super::detection::{fields_pairs, fields_text, Detection, RuleCatalog};
use super::labels::Labels;
use super::time::format_utc;

/// Timeline format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns fitted to the terminal width (long values clipped, `file:record` never).
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
    layout: TableLayout,
    line: String,
}

/// One detection as a JSON line. Keys are English whatever `--lang` (they are for scripts).
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
    fields: serde_json::Map<String, serde_json::Value>,
}

/// The CSV header: English whatever `--lang` (the columns are for scripts).
const CSV_HEADER: [&str; 11] = [
    "Timestamp",
    "Computer",
    "Channel",
    "EventID",
    "Rule",
    "Level",
    "ATT&CK",
    "RuleID",
    "File",
    "Record",
    "Details",
];

/// Table columns, in the order of the CSV columns (File and Record as one `file:record`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Col {
    Timestamp,
    Computer,
    Channel,
    EventId,
    Rule,
    Level,
    Tags,
    RuleId,
    FileRecord,
    Details,
}

const COLS: [Col; 10] = [
    Col::Timestamp,
    Col::Computer,
    Col::Channel,
    Col::EventId,
    Col::Rule,
    Col::Level,
    Col::Tags,
    Col::RuleId,
    Col::FileRecord,
    Col::Details,
];

/// Widest `file:record` cell the table makes room for; longer ones are written whole (never
/// clipped) and push the rest of their row right.
const MAX_FILE_RECORD: usize = 40;
/// Narrowest Details column worth showing.
const MIN_DETAILS: usize = 20;

/// The table's column widths for a terminal width: `None` for a dropped column; the Details
/// column, when shown, takes what is left (unclipped when the width is unknown).
///
/// When the preferred widths do not fit, in this order (see docs/hunt.md): Details is narrowed
/// (to 20 columns), then dropped; RuleID is dropped; ATT&CK is dropped; Channel is dropped;
/// EventID is dropped; Rule is narrowed to 24; Computer is narrowed to 10, then dropped; Rule is
/// narrowed to its header. Timestamp, Level and file:record are never narrowed, and no column
/// is narrower than its header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableLayout {
    widths: [Option<usize>; 10],
    /// Details width when it is the last column and the terminal width is known.
    details: Option<usize>,
}

impl TableLayout {
    /// The layout for `terminal` columns (`None`: unknown, every column at its preferred
    /// width) whose `file:record` cells are at most `file_record` wide.
    pub fn fit(terminal: Option<usize>, file_record: usize, labels: &Labels) -> Self {
        let header = |c: Col| text_width(&header_of(c, labels));
        let level = labels
            .table_levels
            .iter()
            .map(|l| text_width(l))
            .max()
            .unwrap_or(0);
        let pref = |c: Col| -> usize {
            let w = match c {
                Col::Timestamp => 24,
                Col::Computer => 18,
                Col::Channel => 22,
                Col::EventId => 5,
                Col::Rule => 48,
                Col::Level => level,
                Col::Tags => 18,
                Col::RuleId => 36,
                Col::FileRecord => file_record.min(MAX_FILE_RECORD),
                Col::Details => MIN_DETAILS,
            };
            w.max(header(c))
        };
        let mut widths = COLS.map(|c| Some(pref(c)));
        let Some(width) = terminal else {
            return Self {
                widths,
                details: None,
            };
        };
        // Width of the columns before Details, with their gaps.
        let used = |w: &[Option<usize>; 10]| -> usize {
            let shown: Vec<usize> = w[..9].iter().flatten().copied().collect();
            shown.iter().sum::<usize>() + 2 * shown.len().saturating_sub(1)
        };
        let fits = |w: &[Option<usize>; 10]| used(w) <= width;
        let idx = |c: Col| COLS.iter().position(|x| *x == c).unwrap_or(0);
        let left = width.saturating_sub(used(&widths) + 2);
        if left >= MIN_DETAILS.max(header(Col::Details)) {
            return Self {
                widths,
                details: Some(left),
            };
        }
        widths[idx(Col::Details)] = None;
        enum Step {
            Drop(Col),
            Narrow(Col, usize),
        }
        let steps = [
            Step::Drop(Col::RuleId),
            Step::Drop(Col::Tags),
            Step::Drop(Col::Channel),
            Step::Drop(Col::EventId),
            Step::Narrow(Col::Rule, 24),
            Step::Narrow(Col::Computer, 10),
            Step::Drop(Col::Computer),
            Step::Narrow(Col::Rule, 0),
        ];
        for step in steps {
            if fits(&widths) {
                break;
            }
            match step {
                Step::Drop(c) => widths[idx(c)] = None,
                Step::Narrow(c, to) => {
                    let i = idx(c);
                    if let Some(w) = widths[i] {
                        let over = used(&widths) - width;
                        let floor = to.max(header(c));
                        widths[i] = Some(w.saturating_sub(over).max(floor).min(w));
                    }
                }
            }
        }
        Self {
            widths,
            details: None,
        }
    }

    /// Whether column `c` is shown.
    #[cfg(test)]
    fn shows(&self, c: Col) -> bool {
        COLS.iter()
            .position(|x| *x == c)
            .and_then(|i| self.widths[i])
            .is_some()
    }
}

/// The header of a table column.
fn header_of(c: Col, l: &Labels) -> String {
    match c {
        Col::Timestamp => l.timestamp.into(),
        Col::Computer => l.computer.into(),
        Col::Channel => l.channel.into(),
        Col::EventId => l.event_id.into(),
        Col::Rule => l.title.into(),
        Col::Level => l.level.into(),
        Col::Tags => l.tags.into(),
        Col::RuleId => l.rule_id.into(),
        Col::FileRecord => format!("{}:{}", l.file, l.record),
        Col::Details => l.fields.into(),
    }
}

impl<'a, W: Write> TimelineWriter<'a, W> {
    /// A writer; call [`Self::header`] first. `layout` is used by the table only.
    pub fn new(
        out: W,
        format: Format,
        catalog: &'a RuleCatalog,
        labels: &'static Labels,
        layout: TableLayout,
    ) -> Self {
        Self {
            out,
            format,
            catalog,
            labels,
            layout,
            line: String::new(),
        }
    }

    /// Writes the header row (nothing for JSON lines).
    pub fn header(&mut self) -> io::Result<()> {
        match self.format {
            Format::Jsonl => Ok(()),
            Format::Csv => self.csv_row(&CSV_HEADER),
            Format::Table => {
                let cols = COLS.map(|c| header_of(c, self.labels));
                self.table_row(&cols.each_ref().map(String::as_str))
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
                let fields = fields_pairs(&d.fields)
                    .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
                    .collect();
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
                    fields,
                };
                serde_json::to_writer(&mut self.out, &line)?;
                self.out.write_all(b"\n")
            }
            Format::Csv => {
                let tags = rule.attack_tags.join(" ");
                let record = d.record.to_string();
                let fields = fields_text(&d.fields);
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
                    &fields,
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
                let fields = fields_text(&d.fields);
                let cols = [
                    ts.as_deref().unwrap_or("-"),
                    &d.computer,
                    channel,
                    &event_id,
                    &rule.title,
                    self.labels.table_level(rule.level),
                    &tags,
                    &rule.id,
                    &file_record,
                    &fields,
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

    /// One table row of the 10 columns: the dropped ones left out, `file:record` never clipped.
    fn table_row(&mut self, cols: &[&str; 10]) -> io::Result<()> {
        self.line.clear();
        let mut first = true;
        // Columns a long file:record pushed right: taken back from the padding that follows.
        let mut debt = 0usize;
        for ((c, text), width) in COLS.iter().zip(cols).zip(self.layout.widths) {
            let Some(width) = width else { continue };
            if !first {
                self.line.push_str("  ");
            }
            first = false;
            if *c == Col::Details {
                match self.layout.details {
                    Some(w) => push_padded(&mut self.line, text, w.saturating_sub(debt)),
                    None => push_plain(&mut self.line, text),
                }
                continue;
            }
            if *c == Col::FileRecord {
                let w = text_width(text);
                push_plain(&mut self.line, text);
                for _ in w..width {
                    self.line.push(' ');
                }
                debt += w.saturating_sub(width);
                continue;
            }
            let w = width.saturating_sub(debt).max(1.min(width));
            debt -= width - w;
            push_padded(&mut self.line, text, w);
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

/// Terminal columns of the table's `file:record` cell of `d`.
pub fn file_record_width(d: &Detection) -> usize {
    let mut digits = 1;
    let mut r = d.record;
    while r >= 10 {
        digits += 1;
        r /= 10;
    }
    text_width(short_name(&d.file)) + 1 + digits
}

/// The file name without its folders (the table has no room for paths).
pub fn short_name(path: &str) -> &str {
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

/// Appends `text` whole, control characters as spaces.
fn push_plain(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
}

/// Terminal columns of `text`.
pub fn text_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
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

    #[test]
    fn layout_drops_columns_in_the_documented_order() {
        let en = crate::hunt::labels::Lang::En.labels();
        let wide = TableLayout::fit(Some(300), 30, en);
        assert!(COLS.iter().all(|c| wide.shows(*c)));
        assert!(wide.details.is_some());
        let narrow = TableLayout::fit(Some(100), 30, en);
        for c in [Col::Details, Col::RuleId, Col::Tags, Col::Channel] {
            assert!(!narrow.shows(c), "{c:?}");
        }
        for c in [Col::Timestamp, Col::Rule, Col::Level, Col::FileRecord] {
            assert!(narrow.shows(c), "{c:?}");
        }
        let unknown = TableLayout::fit(None, 30, en);
        assert!(COLS.iter().all(|c| unknown.shows(*c)) && unknown.details.is_none());
    }
}
