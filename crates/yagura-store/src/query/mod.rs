//! The pipe query language used to hunt through stored events.
//!
//! A query is an optional filter expression followed by `|`-separated stages:
//!
//! ```text
//! source.ip == "10.0.0.5" and event.code == 4625 | stats count() by user.name | sort count desc | head 10
//! ```
//!
//! * [`parse`] turns the text into a [`Query`] (or a [`ParseError`] that says what was
//!   expected where).
//! * [`matches()`] is the plain-scan evaluator of a filter [`Expr`]; it defines the semantics.
//! * [`run_stages`] streams rows that passed the filter through the stages and builds a [`Table`].
//! * [`text_tokens`] is the one tokenizer for full-text search (the index uses it too).
//!
//! The user reference is `docs/query.md`.

mod eval;
mod lexer;
mod parse;
mod stages;

pub use eval::{event_text, format_time, matches, parse_time, text_token_spans, text_tokens};
pub use parse::parse;
pub use stages::{run_stages, run_stages_on_table};

/// One stored event: a flat JSON object with dotted ECS keys.
pub type Doc = serde_json::Map<String, serde_json::Value>;

/// A parsed query: an optional filter and the stages that follow it.
#[derive(Debug, Clone)]
pub struct Query {
    /// The expression before the first `|`; `None` means "all events".
    pub filter: Option<Expr>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// A boolean filter expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// All must hold (`a and b`, or `a b`).
    And(Vec<Expr>),
    /// Any must hold (`a or b`).
    Or(Vec<Expr>),
    /// Negation (`not a`).
    Not(Box<Expr>),
    /// `field op value`.
    Cmp {
        /// The field compared.
        field: String,
        /// The operator.
        op: CmpOp,
        /// The literal compared with.
        value: Lit,
    },
    /// `field in (v1, v2, ...)`: equal to any value.
    In {
        /// The field compared.
        field: String,
        /// The candidate values.
        values: Vec<Lit>,
    },
    /// `field contains "s"`: case-insensitive substring.
    Contains {
        /// The field searched.
        field: String,
        /// The substring, as written.
        value: String,
    },
    /// `field startswith "s"`: case-insensitive prefix.
    StartsWith {
        /// The field searched.
        field: String,
        /// The prefix, as written.
        value: String,
    },
    /// `field endswith "s"`: case-insensitive suffix.
    EndsWith {
        /// The field searched.
        field: String,
        /// The suffix, as written.
        value: String,
    },
    /// `field matches "re"`: unanchored regular expression, case-sensitive unless `(?i)`.
    Regex {
        /// The field searched.
        field: String,
        /// The pattern as written.
        pattern: String,
        /// The compiled pattern.
        re: regex::Regex,
    },
    /// `field cidr "net"`: the value is an IP address inside `net`.
    Cidr {
        /// The field holding addresses.
        field: String,
        /// The network.
        net: ipnet::IpNet,
    },
    /// `exists(field)`: the field is present and not null.
    Exists {
        /// The field tested.
        field: String,
    },
    /// Full-text phrase over [`event_text`].
    Text {
        /// The phrase as written.
        phrase: String,
        /// `text_tokens(phrase)`; they must occur consecutively. Empty never matches.
        tokens: Vec<String>,
    },
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==` (also `=`)
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=~` case-insensitive equality
    EqNoCase,
}

impl CmpOp {
    /// The operator as written in a query.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::EqNoCase => "=~",
        }
    }
}

/// A literal value in a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// A quoted string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// One pipeline stage.
#[derive(Debug, Clone)]
pub enum Stage {
    /// `where expr`: keep matching rows.
    Where(Expr),
    /// `stats aggs [by fields]`.
    Stats {
        /// The aggregations, in output order.
        aggs: Vec<Agg>,
        /// The group-by fields (empty: one group).
        by: Vec<String>,
    },
    /// `timechart [span=D] aggs [by field]`.
    Timechart {
        /// Bucket width in milliseconds (default one hour).
        span_ms: i64,
        /// The aggregations, in output order.
        aggs: Vec<Agg>,
        /// The optional split field.
        by: Option<String>,
    },
    /// `sort keys`.
    Sort(Vec<SortKey>),
    /// `head [n]` (default 10).
    Head(usize),
    /// `fields f1, f2`.
    Fields(Vec<String>),
}

/// One key of a `sort` stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The field sorted by.
    pub field: String,
    /// Descending (`desc`) instead of ascending.
    pub desc: bool,
}

/// Aggregation functions of `stats` / `timechart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// `count()` rows, or `count(f)` rows where `f` is present and not null.
    Count,
    /// `dc(f)` distinct values.
    Dc,
    /// `min(f)` smallest number (or string if there are no numbers).
    Min,
    /// `max(f)` largest number (or string if there are no numbers).
    Max,
    /// `avg(f)` mean of numeric values.
    Avg,
    /// `sum(f)` sum of numeric values.
    Sum,
    /// `values(f)` sorted distinct values (at most 100).
    Values,
}

impl AggFunc {
    /// The function name as written in a query.
    pub fn as_str(self) -> &'static str {
        match self {
            AggFunc::Count => "count",
            AggFunc::Dc => "dc",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::Avg => "avg",
            AggFunc::Sum => "sum",
            AggFunc::Values => "values",
        }
    }
}

/// One aggregation of `stats` / `timechart`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agg {
    /// The function.
    pub func: AggFunc,
    /// Its field (`None` only for `count()`).
    pub field: Option<String>,
    /// The output column name (`as name`, or `count`, `dc(user.name)`, ...).
    pub name: String,
}

/// The result of [`run_stages`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each with one value per column (null when absent).
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// A query that does not parse. `pos` is a byte offset into the query text, `column` the
/// 1-based character index of the same place (what `Display` shows).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: expected {expected}, found {found}")]
pub struct ParseError {
    /// Byte offset of the error in the query text.
    pub pos: usize,
    /// 1-based character column of `pos`.
    pub column: usize,
    /// What was expected there, e.g. "a value after `==`".
    pub expected: String,
    /// What was found, e.g. "end of query" or "`foo`".
    pub found: String,
}

impl ParseError {
    fn at(src: &str, pos: usize, expected: impl Into<String>, found: impl Into<String>) -> Self {
        let pos = floor_boundary(src, pos);
        ParseError {
            pos,
            column: column_of(src, pos),
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// The line of `src` that holds the error, and a `^` under the error position.
    pub fn caret(&self, src: &str) -> String {
        let pos = floor_boundary(src, self.pos);
        let line_start = src[..pos].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
        let mut pad = String::new();
        for c in src[line_start..pos].chars() {
            if c == '\t' {
                pad.push('\t');
            } else if is_wide(c) {
                pad.push_str("  ");
            } else {
                pad.push(' ');
            }
        }
        format!("{}\n{}^", &src[line_start..line_end], pad)
    }
}

fn floor_boundary(src: &str, pos: usize) -> usize {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    pos
}

/// 1-based character column of byte offset `pos`.
fn column_of(src: &str, pos: usize) -> usize {
    src[..floor_boundary(src, pos)].chars().count() + 1
}

/// East-Asian wide characters take two terminal cells.
fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD)
}

/// Run-time errors of [`run_stages`]. Data never causes one; only stage combinations that
/// cannot be executed (which the parser never produces).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `stats`/`timechart` stage (named) without aggregations.
    #[error("`{0}` needs at least one aggregation")]
    NoAggregations(&'static str),
    /// A `timechart` span that is not positive.
    #[error("timechart span must be positive, got {0} ms")]
    BadSpan(i64),
    /// Two output columns of a stage (named) with the same name.
    #[error("column `{0}` appears twice in the output of `{1}`; rename one with `as`")]
    DuplicateColumn(String, &'static str),
}

/// Every field the query's filter and stages read from events (deduplicated, in order of
/// first use), so a caller can fetch only those. Full-text predicates read `message` and
/// `event.original`; `timechart` reads `@timestamp`. Fields named after the first
/// `stats`/`timechart` refer to its output, not to events, and are not listed.
///
/// When [`needs_whole_events`] is true the output is the events themselves, so the caller
/// must fetch whole documents regardless of this list.
pub fn fields_used(q: &Query) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(f) = &q.filter {
        expr_fields(f, &mut out);
    }
    for s in &q.stages {
        match s {
            Stage::Where(e) => expr_fields(e, &mut out),
            Stage::Stats { aggs, by } => {
                out.extend(by.iter().cloned());
                out.extend(aggs.iter().filter_map(|a| a.field.clone()));
                break;
            }
            Stage::Timechart { aggs, by, .. } => {
                out.push("@timestamp".to_string());
                out.extend(by.iter().cloned());
                out.extend(aggs.iter().filter_map(|a| a.field.clone()));
                break;
            }
            Stage::Sort(keys) => out.extend(keys.iter().map(|k| k.field.clone())),
            Stage::Head(_) => {}
            Stage::Fields(fs) => out.extend(fs.iter().cloned()),
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert(f.clone()));
    out
}

/// True when the query outputs raw events with all their keys (no `stats`, `timechart`
/// or `fields` stage), i.e. the caller must fetch whole documents.
pub fn needs_whole_events(q: &Query) -> bool {
    !q.stages.iter().any(|s| {
        matches!(
            s,
            Stage::Stats { .. } | Stage::Timechart { .. } | Stage::Fields(_)
        )
    })
}

impl Expr {
    /// The field a predicate tests (`None` for `and`/`or`/`not` and full-text terms).
    pub fn field(&self) -> Option<&str> {
        match self {
            Expr::Cmp { field, .. }
            | Expr::In { field, .. }
            | Expr::Contains { field, .. }
            | Expr::StartsWith { field, .. }
            | Expr::EndsWith { field, .. }
            | Expr::Regex { field, .. }
            | Expr::Cidr { field, .. }
            | Expr::Exists { field } => Some(field),
            Expr::And(_) | Expr::Or(_) | Expr::Not(_) | Expr::Text { .. } => None,
        }
    }
}

fn expr_fields(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|x| expr_fields(x, out)),
        Expr::Not(x) => expr_fields(x, out),
        Expr::Text { .. } => {
            out.push("message".to_string());
            out.push("event.original".to_string());
        }
        _ => out.extend(e.field().map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caret_points_at_position() {
        let src = "source.ip == ";
        let e = parse(src).unwrap_err();
        assert_eq!(e.caret(src), "source.ip == \n             ^");
        let src = "x == \"東京\" and";
        let e = parse(src).unwrap_err();
        assert_eq!(e.column, 14);
        assert_eq!(e.pos, src.len());
        assert_eq!(e.caret(src), format!("{src}\n{}^", " ".repeat(15)));
    }

    #[test]
    fn caret_multiline() {
        let src = "a == 1\n| foo";
        let e = parse(src).unwrap_err();
        assert_eq!(e.caret(src), "| foo\n  ^");
    }

    #[test]
    fn fields_used_lists_filter_and_stage_fields() {
        let q = parse(
            r#"source.ip == "1.2.3.4" and failed | where user.name != "x" | sort host.name | stats count() by user.name, host.name | sort count"#,
        )
        .unwrap();
        assert_eq!(
            fields_used(&q),
            vec![
                "source.ip",
                "message",
                "event.original",
                "user.name",
                "host.name"
            ]
        );
        assert!(!needs_whole_events(&q));
        let q = parse("| timechart span=5m dc(user.name) by host.name").unwrap();
        assert_eq!(
            fields_used(&q),
            vec!["@timestamp", "host.name", "user.name"]
        );
        let q = parse("x == 1 | head 5").unwrap();
        assert_eq!(fields_used(&q), vec!["x"]);
        assert!(needs_whole_events(&q));
    }

    #[test]
    fn example_query_end_to_end() {
        let q = parse(r#"source.ip == "10.0.0.5" and event.code == 4625 | stats count() by user.name | sort count desc | head 10"#).unwrap();
        let docs: Vec<Doc> = [
            r#"{"@timestamp":"2026-03-01T10:00:00Z","source.ip":"10.0.0.5","event.code":"4625","user.name":"bob"}"#,
            r#"{"@timestamp":"2026-03-01T10:00:01Z","source.ip":"10.0.0.5","event.code":4625,"user.name":"alice"}"#,
            r#"{"@timestamp":"2026-03-01T10:00:02Z","source.ip":"10.0.0.5","event.code":"4625","user.name":"bob"}"#,
            r#"{"@timestamp":"2026-03-01T10:00:03Z","source.ip":"10.0.0.6","event.code":"4625","user.name":"bob"}"#,
            r#"{"@timestamp":"2026-03-01T10:00:04Z","source.ip":"10.0.0.5","event.code":"4624","user.name":"bob"}"#,
            r#"{"@timestamp":"2026-03-01T10:00:05Z","source.ip":"10.0.0.5","event.code":"4625","user.name":"carol"}"#,
            r#"{"@timestamp":"2026-03-01T10:00:06Z","source.ip":"10.0.0.5","event.code":"4625","user.name":"bob"}"#,
            r#"{"@timestamp":"2026-03-01T10:00:07Z","source.ip":"10.0.0.5","event.code":"4625"}"#,
        ]
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
        let filter = q.filter.clone().unwrap();
        let passed = docs.into_iter().filter(|d| matches(&filter, d));
        let t = run_stages(&q.stages, passed).unwrap();
        assert_eq!(t.columns, vec!["user.name", "count"]);
        assert_eq!(
            t.rows,
            vec![
                vec![serde_json::json!("bob"), serde_json::json!(3)],
                vec![serde_json::json!("alice"), serde_json::json!(1)],
                vec![serde_json::json!("carol"), serde_json::json!(1)],
            ]
        );
    }

    #[test]
    fn parse_error_display() {
        let e = ParseError::at("abc", 3, "x", "end of query");
        assert_eq!(e.to_string(), "column 4: expected x, found end of query");
    }
}
