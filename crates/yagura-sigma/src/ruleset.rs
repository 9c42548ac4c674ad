//! Loading rule files and folders into a [`RuleSet`]: detection rules, correlations and filters,
//! with every rejection recorded (file, rule id, reason). Nothing is skipped silently.

use crate::correlation::rule::CorrelationRule;
use crate::detection::{Expr, Placeholders};
use crate::rule::{parse_documents, parse_file, yaml_documents, Document, Filter, Rule};
use crate::rule_cache::RuleCache;
use crate::{LoadError, RuleError};
use std::path::{Path, PathBuf};

/// Options for loading rules.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Values for `%placeholder%`s used with `|expand`. A rule using an undefined placeholder is
    /// rejected, as the specification requires.
    pub placeholders: Placeholders,
    /// Cached YAML of rule files (see [`RuleCache`]); `None` parses every file.
    pub cache: Option<std::sync::Arc<RuleCache>>,
}

impl LoadOptions {
    /// Reads placeholder values from YAML: a map from placeholder name (without `%`) to a value
    /// or a list of values, e.g. `Admins_Workstations: [ws-adm-01, ws-adm-02]`.
    pub fn with_placeholders_yaml(mut self, text: &str) -> Result<Self, String> {
        let map: std::collections::BTreeMap<String, crate::pipeline::OneOrMany> =
            serde_yaml::from_str(text).map_err(|e| format!("placeholders: {e}"))?;
        for (name, values) in map {
            self.placeholders.insert(name, values.texts());
        }
        Ok(self)
    }
}

/// A detection rule ready to compile.
#[derive(Clone, Debug)]
pub struct LoadedRule {
    /// The parsed rule. Its `detection.condition` is the condition to evaluate: the filters that
    /// apply to the rule are ANDed into it when the set is finished.
    pub rule: Rule,
    /// Its file.
    pub file: PathBuf,
    /// Titles of the filters applied to this rule.
    pub filters: Vec<String>,
}

/// What a correlation refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleRef {
    /// A detection rule (index in [`RuleSet::rules`]).
    Rule(u32),
    /// Another correlation (index in [`RuleSet::correlations`]).
    Correlation(u32),
}

/// A correlation rule with its references resolved.
#[derive(Clone, Debug)]
pub struct LoadedCorrelation {
    /// The parsed correlation.
    pub rule: CorrelationRule,
    /// Its file.
    pub file: PathBuf,
    /// `rules`, resolved in order.
    pub refs: Vec<RuleRef>,
}

/// Rules loaded from files, with every rejection.
#[derive(Debug, Default)]
pub struct RuleSet {
    /// Detection rules.
    pub rules: Vec<LoadedRule>,
    /// Correlation rules (resolved by [`RuleSet::finish`]).
    pub correlations: Vec<LoadedCorrelation>,
    /// Filters.
    pub filters: Vec<(Filter, PathBuf)>,
    /// Rejected documents.
    pub errors: Vec<LoadError>,
    /// Rule files read.
    pub files: usize,
    pending: Vec<(CorrelationRule, PathBuf, usize)>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Documents loaded (rules, correlations and filters).
    pub fn loaded(&self) -> usize {
        self.rules.len() + self.correlations.len() + self.filters.len()
    }

    /// Loads a rule file, or every `.yml`/`.yaml` file under a folder (sorted, recursively).
    pub fn load_path(&mut self, path: &Path, opts: &LoadOptions) {
        self.load_paths(&[path], opts);
    }

    /// [`RuleSet::load_path`] for several files and folders, parsed in one parallel pass (one
    /// pass per folder left a core idle at the end of each).
    pub fn load_paths<P: AsRef<Path>>(&mut self, paths: &[P], opts: &LoadOptions) {
        let mut files = Vec::new();
        for path in paths {
            let path = path.as_ref();
            if path.is_dir() {
                let start = files.len();
                collect_yaml(path, &mut files, &mut self.errors);
                files[start..].sort();
            } else {
                files.push(path.to_path_buf());
            }
        }
        // Parse in parallel, then add in order so rule ids are deterministic.
        use rayon::prelude::*;
        let parsed: Vec<_> = files
            .par_iter()
            .map(|f| (f, read_and_parse(f, opts)))
            .collect();
        for (f, result) in parsed {
            self.add_result(f, result);
        }
    }

    /// Loads one rule file (all its YAML documents).
    pub fn load_file(&mut self, path: &Path, opts: &LoadOptions) {
        self.add_result(path, read_and_parse(path, opts));
    }

    fn add_result(&mut self, file: &Path, result: Result<ParsedFile, LoadError>) {
        match result {
            Ok(docs) => self.add_parsed(file, docs),
            Err(e) => self.errors.push(e),
        }
    }

    /// Adds the documents of one YAML text (`file` is used in reports).
    pub fn add_yaml(&mut self, file: &Path, text: &str, opts: &LoadOptions) {
        self.add_parsed(file, parse_file(text, &opts.placeholders));
    }

    fn add_parsed(&mut self, file: &Path, docs: ParsedFile) {
        self.files += 1;
        for (doc, (id, result)) in docs.into_iter().enumerate() {
            match result {
                Ok(Document::Rule(r)) => self.rules.push(LoadedRule {
                    rule: *r,
                    file: file.to_path_buf(),
                    filters: Vec::new(),
                }),
                Ok(Document::Correlation(c)) => self.pending.push((*c, file.to_path_buf(), doc)),
                Ok(Document::Filter(f)) => self.filters.push((*f, file.to_path_buf())),
                Err(error) => self.errors.push(LoadError {
                    file: file.to_path_buf(),
                    id,
                    document: doc,
                    error,
                }),
            }
        }
    }

    /// Compiles every `re` value now (loading only checks their syntax, see
    /// [`crate::lazy_regex`]) and rejects the rules and filters holding one that does not
    /// compile. `rules lint` calls it; a hunt leaves regexes to compile on first use. Call
    /// before [`RuleSet::finish`].
    pub fn compile_regexes(&mut self) {
        let rules = std::mem::take(&mut self.rules);
        for r in rules {
            match regex_error(&r.rule.detection) {
                None => self.rules.push(r),
                Some(error) => self.errors.push(LoadError {
                    id: r
                        .rule
                        .meta
                        .id
                        .clone()
                        .or_else(|| Some(r.rule.meta.title.clone())),
                    file: r.file,
                    document: 0,
                    error,
                }),
            }
        }
        let filters = std::mem::take(&mut self.filters);
        for (f, file) in filters {
            match regex_error(&f.detection) {
                None => self.filters.push((f, file)),
                Some(error) => self.errors.push(LoadError {
                    id: f.meta.id.clone().or_else(|| Some(f.meta.title.clone())),
                    file,
                    document: 0,
                    error,
                }),
            }
        }
    }

    /// Finds a detection rule or correlation by id, then by name (as pySigma).
    pub fn resolve(&self, reference: &str) -> Option<RuleRef> {
        let by = |f: &dyn Fn(&crate::rule::Meta) -> Option<&String>| {
            self.rules
                .iter()
                .position(|r| f(&r.rule.meta).is_some_and(|x| x == reference))
                .map(|i| RuleRef::Rule(i as u32))
                .or_else(|| {
                    self.correlations
                        .iter()
                        .position(|c| f(&c.rule.meta).is_some_and(|x| x == reference))
                        .map(|i| RuleRef::Correlation(i as u32))
                })
        };
        by(&|m| m.id.as_ref()).or_else(|| by(&|m| m.name.as_ref()))
    }

    /// Applies filters to the rules they name and resolves correlation references. Call once
    /// after loading everything; correlations that reference unknown rules, or form a cycle, are
    /// rejected.
    pub fn finish(&mut self) {
        self.apply_filters();
        let mut pending = std::mem::take(&mut self.pending);
        // Correlations may reference correlations defined later: resolve until no progress.
        loop {
            let before = pending.len();
            let mut rest = Vec::new();
            for (c, file, doc) in pending {
                let refs: Option<Vec<RuleRef>> = c.rules.iter().map(|r| self.resolve(r)).collect();
                match refs {
                    Some(refs) => self.correlations.push(LoadedCorrelation {
                        rule: c,
                        file,
                        refs,
                    }),
                    None => rest.push((c, file, doc)),
                }
            }
            pending = rest;
            if pending.is_empty() || pending.len() == before {
                break;
            }
        }
        for (c, file, doc) in pending {
            let missing: Vec<&str> = c
                .rules
                .iter()
                .filter(|r| self.resolve(r).is_none())
                .map(String::as_str)
                .collect();
            self.errors.push(LoadError {
                file,
                id: c.meta.id.clone().or(Some(c.meta.title.clone())),
                document: doc,
                error: RuleError::Correlation(format!(
                    "references unknown rule(s) (or a reference cycle): {}",
                    missing.join(", ")
                )),
            });
        }
    }

    fn apply_filters(&mut self) {
        for (f, _) in &self.filters {
            for r in &mut self.rules {
                let listed = f.rules.is_empty()
                    || f.rules.iter().any(|x| {
                        Some(x) == r.rule.meta.id.as_ref() || Some(x) == r.rule.meta.name.as_ref()
                    });
                // pySigma: a filter applies when the rule's logsource is within the filter's.
                if listed && f.logsource.is_within(&r.rule.logsource) {
                    // Filter polarity follows pySigma and the v2.2 draft: the rule keeps events
                    // where the filter condition holds, `(rule) and (filter)`; exclusions are
                    // written `condition: not selection`. See docs/rules.md.
                    let cond = &mut r.rule.detection.condition;
                    let own = std::mem::replace(cond, Expr::And(Vec::new()));
                    *cond = Expr::And(vec![own, f.detection.condition.clone()]);
                    r.filters.push(f.meta.title.clone());
                }
            }
        }
    }
}

/// The documents of one rule file: (id or title when readable, parse result).
type ParsedFile = Vec<(Option<String>, Result<Document, RuleError>)>;

fn read_and_parse(path: &Path, opts: &LoadOptions) -> Result<ParsedFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoadError {
        file: path.to_path_buf(),
        id: None,
        document: 0,
        error: RuleError::Yaml(format!("cannot read file: {e}")),
    })?;
    let docs = match &opts.cache {
        Some(cache) => cache.documents(&text),
        None => yaml_documents(&text),
    };
    Ok(parse_documents(docs, &opts.placeholders))
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(LoadError {
                file: dir.to_path_buf(),
                id: None,
                document: 0,
                error: RuleError::Yaml(format!("cannot read folder: {e}")),
            });
            return;
        }
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_yaml(&p, out, errors);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yml" | "yaml")) {
            out.push(p);
        }
    }
}

/// The first `re` value of `detection` that does not compile, as a rejection reason.
fn regex_error(detection: &crate::detection::Detection) -> Option<RuleError> {
    let mut error = None;
    for (_, search) in &detection.searches {
        search.for_each_leaf(&mut |leaf| {
            if let (None, crate::matcher::Matcher::Regex(re)) = (&error, &leaf.matcher) {
                if let Err(reason) = re.compile() {
                    error = Some(RuleError::Regex {
                        field: leaf.field.clone().unwrap_or_default(),
                        reason: reason.to_string(),
                    });
                }
            }
        });
    }
    error
}
