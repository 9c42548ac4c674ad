//! Rule documents [RS File Structure]: detection rules, correlation rules [CR] and filters [FR],
//! parsed from (multi-document) YAML.

use crate::correlation::rule::{parse_correlation, CorrelationRule};
use crate::detection::{parse_detection, Detection, Placeholders};
use crate::RuleError;
use serde::Deserialize;
use serde_yaml::{Mapping, Value};

/// `logsource` [RS LogSource]: AND of the attributes that are set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Logsource {
    /// e.g. `process_creation`.
    pub category: Option<String>,
    /// e.g. `windows`.
    pub product: Option<String>,
    /// e.g. `security`.
    pub service: Option<String>,
}

impl Logsource {
    /// True when every attribute set in `self` is equal in `other` (filter containment).
    pub fn is_within(&self, other: &Logsource) -> bool {
        let ok = |a: &Option<String>, b: &Option<String>| a.is_none() || a == b;
        ok(&self.category, &other.category)
            && ok(&self.product, &other.product)
            && ok(&self.service, &other.service)
    }
}

/// Rule severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    /// Parses a level name.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// Descriptive attributes shared by rules and correlations.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// `title`.
    pub title: String,
    /// `id`.
    pub id: Option<String>,
    /// `name`.
    pub name: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `level`.
    pub level: Option<Level>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `description`.
    pub description: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `fields`.
    pub fields: Vec<String>,
}

/// A detection rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Metadata.
    pub meta: Meta,
    /// `logsource`.
    pub logsource: Logsource,
    /// `detection`.
    pub detection: Detection,
}

/// A filter (meta-filter) [FR].
#[derive(Clone, Debug)]
pub struct Filter {
    /// Metadata (title, id, name).
    pub meta: Meta,
    /// The logsource a rule must be within for the filter to apply.
    pub logsource: Logsource,
    /// Rule ids or names; empty (or `any`) means every rule of the logsource.
    pub rules: Vec<String>,
    /// The filter's selections and condition.
    pub detection: Detection,
}

/// One YAML document of a rule file.
#[derive(Clone, Debug)]
pub enum Document {
    /// A detection rule.
    Rule(Box<Rule>),
    /// A correlation rule.
    Correlation(Box<CorrelationRule>),
    /// A filter.
    Filter(Box<Filter>),
}

impl Document {
    /// The document's metadata.
    pub fn meta(&self) -> &Meta {
        match self {
            Document::Rule(r) => &r.meta,
            Document::Correlation(c) => &c.meta,
            Document::Filter(f) => &f.meta,
        }
    }
}

fn get<'a>(m: &'a Mapping, key: &str) -> Option<&'a Value> {
    m.get(key)
}

fn opt_string(m: &Mapping, key: &str) -> Result<Option<String>, RuleError> {
    match get(m, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(RuleError::Structure(format!("'{key}' must be a string"))),
    }
}

fn string_list(m: &Mapping, key: &str) -> Result<Vec<String>, RuleError> {
    match get(m, key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Sequence(seq)) => seq
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(RuleError::Structure(format!(
                    "'{key}' must be a list of strings"
                ))),
            })
            .collect(),
        Some(_) => Err(RuleError::Structure(format!(
            "'{key}' must be a list of strings"
        ))),
    }
}

/// Reads title, id, name, status, level, tags… from a document.
pub fn parse_meta(m: &Mapping) -> Result<Meta, RuleError> {
    let title = opt_string(m, "title")?
        .ok_or_else(|| RuleError::Structure("missing required 'title'".into()))?;
    let level = match opt_string(m, "level")? {
        None => None,
        Some(l) => Some(Level::parse(&l).ok_or_else(|| {
            RuleError::Structure(format!(
                "level '{l}' is not one of informational, low, medium, high, critical"
            ))
        })?),
    };
    let status = opt_string(m, "status")?;
    if let Some(s) = &status {
        if !matches!(
            s.as_str(),
            "stable" | "test" | "experimental" | "deprecated" | "unsupported"
        ) {
            return Err(RuleError::Structure(format!(
                "status '{s}' is not a Sigma status"
            )));
        }
    }
    Ok(Meta {
        title,
        id: opt_string(m, "id")?,
        name: opt_string(m, "name")?,
        status,
        level,
        tags: string_list(m, "tags")?,
        description: opt_string(m, "description")?,
        author: opt_string(m, "author")?,
        falsepositives: string_list(m, "falsepositives")?,
        fields: string_list(m, "fields")?,
    })
}

/// Parses a `logsource` mapping.
pub fn parse_logsource(m: &Mapping) -> Result<Logsource, RuleError> {
    let ls = match get(m, "logsource") {
        Some(Value::Mapping(l)) => l,
        _ => {
            return Err(RuleError::Structure(
                "missing required 'logsource' mapping".into(),
            ))
        }
    };
    Ok(Logsource {
        category: opt_string(ls, "category")?,
        product: opt_string(ls, "product")?,
        service: opt_string(ls, "service")?,
    })
}

/// Parses one YAML document (already split from its file).
pub fn parse_document(v: &Value, ph: &Placeholders) -> Result<Document, RuleError> {
    let m = v
        .as_mapping()
        .ok_or_else(|| RuleError::Structure("a rule document must be a mapping".into()))?;
    if get(m, "action").is_some() {
        return Err(RuleError::Structure(
            "'action' rule collections (global/reset/repeat) are Sigma v1 syntax, not v2.1".into(),
        ));
    }
    if let Some(c) = get(m, "correlation") {
        let meta = parse_meta(m)?;
        return Ok(Document::Correlation(Box::new(parse_correlation(meta, c)?)));
    }
    if let Some(f) = get(m, "filter") {
        let meta = parse_meta(m)?;
        let logsource = parse_logsource(m)?;
        let fm = f
            .as_mapping()
            .ok_or_else(|| RuleError::Filter("'filter' must be a mapping".into()))?;
        let rules = match get(fm, "rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) if s == "any" => Vec::new(),
            Some(_) => string_list(fm, "rules").map_err(|e| RuleError::Filter(e.to_string()))?,
        };
        let detection = parse_detection(fm, &["rules"], ph)?;
        return Ok(Document::Filter(Box::new(Filter {
            meta,
            logsource,
            rules,
            detection,
        })));
    }
    let meta = parse_meta(m)?;
    let logsource = parse_logsource(m)?;
    let det = match get(m, "detection") {
        Some(Value::Mapping(d)) => d,
        _ => {
            return Err(RuleError::Structure(
                "missing required 'detection' mapping".into(),
            ))
        }
    };
    let detection = parse_detection(det, &[], ph)?;
    Ok(Document::Rule(Box::new(Rule {
        meta,
        logsource,
        detection,
    })))
}

/// Splits a file into YAML documents; each is parsed independently so one bad document does not
/// hide the others. Returns, per document, its id/title (if readable) and the result.
pub fn parse_file(
    text: &str,
    ph: &Placeholders,
) -> Vec<(Option<String>, Result<Document, RuleError>)> {
    parse_documents(yaml_documents(text), ph)
}

/// The YAML stage of [`parse_file`]: the file's documents as YAML values (empty ones left out),
/// ending with the syntax error that stopped reading, if any.
pub fn yaml_documents(text: &str) -> Vec<Result<Value, String>> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        match Value::deserialize(doc) {
            Ok(Value::Null) => {}
            Ok(v) => out.push(Ok(v)),
            Err(e) => {
                out.push(Err(e.to_string()));
                // The YAML stream cannot be resynchronised after a syntax error.
                break;
            }
        }
    }
    out
}

/// The Sigma stage of [`parse_file`], on the output of [`yaml_documents`].
pub fn parse_documents(
    docs: Vec<Result<Value, String>>,
    ph: &Placeholders,
) -> Vec<(Option<String>, Result<Document, RuleError>)> {
    docs.into_iter()
        .map(|doc| match doc {
            Ok(v) => {
                let id = v
                    .get("id")
                    .or_else(|| v.get("title"))
                    .and_then(|x| x.as_str())
                    .map(str::to_string);
                (id, parse_document(&v, ph))
            }
            Err(e) => (None, Err(RuleError::Yaml(e))),
        })
        .collect()
}
