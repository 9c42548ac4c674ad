//! Processing pipelines: logsource and field-name mapping, loaded from data files.
//!
//! A pipeline says, for one family of events (EVTX-shaped Windows events, ECS documents…), which
//! event fields select a rule's `logsource` and how Sigma field names become event field names.
//! The built-in pipelines live in `crates/yagura-sigma/pipelines/*.yml`; users can load their own
//! with [`Pipeline::from_yaml`]. See `docs/pipelines.md` for the format.

use crate::rule::Logsource;
use crate::PipelineError;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Field renames: Sigma field → one or more event fields (several are ORed).
pub type FieldMap = BTreeMap<String, OneOrMany>;

/// A YAML scalar or list of scalars.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One value.
    One(Scalar),
    /// Several values (ORed).
    Many(Vec<Scalar>),
}

/// A YAML scalar kept as text.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    /// Integer.
    Int(i64),
    /// Text.
    Str(String),
}

impl Scalar {
    /// The value as text.
    pub fn text(&self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

impl OneOrMany {
    /// All values as text.
    pub fn texts(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.text()],
            OneOrMany::Many(v) => v.iter().map(Scalar::text).collect(),
        }
    }
}

/// Which rules a logsource entry applies to.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogsourceMatch {
    /// Rule `category`.
    pub category: Option<String>,
    /// Rule `product`.
    pub product: Option<String>,
    /// Rule `service`.
    pub service: Option<String>,
}

/// One way a logsource appears in events: the field conditions that select its events and the
/// field renames that apply only to them (e.g. Security 4688's `NewProcessName` for `Image`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsourceEntry {
    /// Short name, shown in plans and errors.
    pub id: String,
    /// The rule logsource this entry serves.
    #[serde(rename = "match")]
    pub match_: LogsourceMatch,
    /// Field conditions (AND; a list of values is ORed) that select the events.
    #[serde(default)]
    pub conditions: BTreeMap<String, OneOrMany>,
    /// Field renames for these events only (applied before the pipeline's global map).
    #[serde(default)]
    pub fieldmappings: FieldMap,
}

/// A processing pipeline.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Name (`windows`, `ecs`).
    pub name: String,
    /// What the pipeline is for.
    #[serde(default)]
    pub description: String,
    /// Up to two event fields the plan indexes rules by (exact values, case-insensitive).
    #[serde(default)]
    pub index_fields: Vec<String>,
    /// Renames for every rule.
    #[serde(default)]
    pub fieldmappings: FieldMap,
    /// Prefix for Sigma fields that no mapping names (e.g. `winlog.event_data.`): such a field is
    /// looked up under its own name and under the prefixed name (an addition, not a
    /// replacement). Empty: unmapped fields keep their names only.
    #[serde(default)]
    pub unmapped_prefix: String,
    /// Logsource entries.
    #[serde(default)]
    pub logsources: Vec<LogsourceEntry>,
    /// Serve rules that no entry serves, with no event condition and no entry mapping (for
    /// events whose source the pipeline cannot tell, and for testing rule semantics alone).
    #[serde(default)]
    pub catch_all: bool,
    #[serde(skip)]
    catch_all_entry: Option<Box<LogsourceEntry>>,
}

/// The built-in pipeline for EVTX-shaped Windows events (Sigma's Windows field names).
pub const WINDOWS: &str = include_str!("../pipelines/windows.yml");
/// The built-in pipeline for ECS-normalized events.
pub const ECS: &str = include_str!("../pipelines/ecs.yml");

impl Pipeline {
    /// Parses a pipeline document.
    pub fn from_yaml(name: &str, text: &str) -> Result<Pipeline, PipelineError> {
        let p: Pipeline = serde_yaml::from_str(text).map_err(|e| PipelineError::Invalid {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        let p = p.ready();
        if p.index_fields.len() > 2 {
            return Err(PipelineError::Invalid {
                name: name.to_string(),
                reason: "at most two index_fields".into(),
            });
        }
        Ok(p)
    }

    /// The built-in Windows (EVTX field names) pipeline, parsed once per process.
    pub fn windows() -> &'static Pipeline {
        static P: OnceLock<Pipeline> = OnceLock::new();
        // The built-in file is tested (`builtin_pipelines_parse`); a broken one is a build bug.
        P.get_or_init(|| {
            Self::from_yaml("windows", WINDOWS).unwrap_or_else(|e| panic!("built-in pipeline: {e}"))
        })
    }

    /// The built-in ECS pipeline, parsed once per process.
    pub fn ecs() -> &'static Pipeline {
        static P: OnceLock<Pipeline> = OnceLock::new();
        P.get_or_init(|| {
            Self::from_yaml("ecs", ECS).unwrap_or_else(|e| panic!("built-in pipeline: {e}"))
        })
    }

    /// The entries that serve a rule's logsource. Empty: the rule does not apply to events of
    /// this pipeline (for example a Linux rule on Windows events).
    pub fn entries_for(&self, ls: &Logsource) -> Vec<&LogsourceEntry> {
        let v: Vec<&LogsourceEntry> = self
            .logsources
            .iter()
            .filter(|e| entry_serves(&e.match_, ls))
            .collect();
        match (&self.catch_all_entry, v.is_empty()) {
            (Some(e), true) => vec![e],
            _ => v,
        }
    }

    /// A pipeline that serves every rule with no condition and no field mapping: rules apply to
    /// every event under their own field names.
    pub fn passthrough() -> Pipeline {
        Pipeline {
            name: "passthrough".into(),
            description: "every rule on every event, field names unchanged".into(),
            index_fields: Vec::new(),
            fieldmappings: FieldMap::new(),
            unmapped_prefix: String::new(),
            logsources: Vec::new(),
            catch_all: true,
            catch_all_entry: None,
        }
        .ready()
    }

    fn ready(mut self) -> Self {
        if self.catch_all {
            self.catch_all_entry = Some(Box::new(LogsourceEntry {
                id: "catch_all".into(),
                match_: LogsourceMatch::default(),
                conditions: BTreeMap::new(),
                fieldmappings: FieldMap::new(),
            }));
        }
        self
    }

    /// Event field names for a Sigma field under an entry (entry map, then global map; a field
    /// neither names keeps its own name and, with an unmapped prefix, also gets the prefixed
    /// name). Several names are ORed.
    pub fn map_field(&self, entry: Option<&LogsourceEntry>, field: &str) -> Vec<String> {
        let mut name = field.to_string();
        let entry_mapped = entry.and_then(|e| e.fieldmappings.get(field));
        if let Some(m) = entry_mapped {
            let t = m.texts();
            if t.len() != 1 {
                return t;
            }
            name = t[0].clone();
        }
        if let Some(m) = self.fieldmappings.get(&name) {
            return m.texts();
        }
        if entry_mapped.is_none() && !self.unmapped_prefix.is_empty() {
            let prefixed = format!("{}{}", self.unmapped_prefix, name);
            return vec![name, prefixed];
        }
        vec![name]
    }
}

fn entry_serves(m: &LogsourceMatch, ls: &Logsource) -> bool {
    // category and service: the entry must name exactly what the rule names.
    let exact = |a: &Option<String>, b: &Option<String>| a.as_deref() == b.as_deref();
    // product: an entry without product serves rules of any product.
    let product_ok = m.product.is_none() || m.product == ls.product;
    exact(&m.category, &ls.category)
        && exact(&m.service, &ls.service)
        && product_ok
        && (m.product.is_some() || m.category.is_some() || m.service.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pipelines_parse() {
        let w = Pipeline::windows();
        let ls = Logsource {
            category: Some("process_creation".into()),
            product: Some("windows".into()),
            service: None,
        };
        let e = w.entries_for(&ls);
        assert_eq!(e.len(), 2, "Sysmon 1 and Security 4688");
        assert_eq!(w.map_field(Some(e[1]), "Image"), ["NewProcessName"]);
        let linux = Logsource {
            product: Some("linux".into()),
            ..Default::default()
        };
        assert!(w.entries_for(&linux).is_empty());
        let ecs = Pipeline::ecs();
        assert!(ecs
            .map_field(None, "CommandLine")
            .contains(&"process.command_line".to_string()));
    }
}
