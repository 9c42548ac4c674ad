//! Errors of rule loading and compilation. Every rejection carries a reason a user can act on.

use std::path::PathBuf;

/// Why one rule (or one document of a rule file) cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum RuleError {
    /// The YAML itself is broken.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A required key is missing or has the wrong type.
    #[error("{0}")]
    Structure(String),
    /// A value modifier is unknown or used in a way the specification forbids.
    #[error("field '{field}': {reason}")]
    Modifier {
        /// Field (with modifiers) the error is about.
        field: String,
        /// Explanation.
        reason: String,
    },
    /// The condition expression cannot be parsed or names an unknown identifier.
    #[error("condition: {0}")]
    Condition(String),
    /// A `|re` value is not a valid regular expression.
    #[error("field '{field}': invalid regular expression: {reason}")]
    Regex {
        /// Field the regex applies to.
        field: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// A placeholder used with `|expand` has no value in the configuration (spec: must reject).
    #[error("placeholder %{0}% is not defined in the configuration (rules using |expand need every placeholder resolved)")]
    Placeholder(String),
    /// A correlation rule is malformed or references a rule that does not exist.
    #[error("correlation: {0}")]
    Correlation(String),
    /// A filter is malformed.
    #[error("filter: {0}")]
    Filter(String),
}

/// A rule that could not be loaded, with where it came from.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("{}: {}{}", file.display(), id.as_deref().map(|i| format!("rule {i}: ")).unwrap_or_default(), error)]
pub struct LoadError {
    /// File the rule came from.
    pub file: PathBuf,
    /// Rule id (or title when there is no id), if it could be read.
    pub id: Option<String>,
    /// Index of the YAML document inside the file (0-based).
    pub document: usize,
    /// The reason.
    pub error: RuleError,
}

/// Errors of pipeline (logsource and field mapping) files.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline YAML is invalid.
    #[error("pipeline {name}: {reason}")]
    Invalid {
        /// Pipeline file or built-in name.
        name: String,
        /// Explanation.
        reason: String,
    },
}
