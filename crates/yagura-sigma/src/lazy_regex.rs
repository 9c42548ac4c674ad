//! `re` values: checked when a rule loads, compiled when an event first reaches them.
//!
//! Compiling a regex builds several automata (about 1.5 M instructions each on SigmaHQ's 220
//! distinct regexes, 14% of loading every rule folder, callgrind). Most of them never run in a
//! given hunt: their rule's log source is absent, or the field automaton never finds their
//! required literal. Loading therefore only parses the syntax, which rejects every invalid
//! pattern with the regex crate's own message; the one error left for compile time is the size
//! limit. [`LazyRegex::compile`] reports it (`rules lint` calls it for every regex); a regex that
//! fails there matches nothing.

use std::fmt;
use std::sync::{Arc, OnceLock};

/// Compiled size limit of one regex (the regex crate's `size_limit`).
const SIZE_LIMIT: usize = 1 << 24;

/// A regex compiled on first use; clones share the compiled form.
#[derive(Clone)]
pub struct LazyRegex(Arc<Inner>);

struct Inner {
    text: String,
    /// A literal every match contains (see [`crate::regex_gate`]), found from the syntax tree
    /// parsed for the check.
    required: Option<String>,
    compiled: OnceLock<Result<regex::Regex, String>>,
}

impl LazyRegex {
    /// Checks the syntax of `text` as the regex crate reads it; the error is its message.
    pub fn new(text: String) -> Result<Self, String> {
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(&text)
            .map_err(|e| regex::Error::Syntax(e.to_string()).to_string())?;
        Ok(Self(Arc::new(Inner {
            required: crate::regex_gate::required_literal(&hir),
            text,
            compiled: OnceLock::new(),
        })))
    }

    /// A literal (lower-cased) that every match contains, if there is one of 2 bytes or more.
    pub fn required_literal(&self) -> Option<&str> {
        self.0.required.as_deref()
    }

    /// The pattern text (flags folded in as `(?i)` etc.).
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The compiled regex, compiling it now if needed; the error is the regex crate's message.
    pub fn compile(&self) -> Result<&regex::Regex, &str> {
        self.0
            .compiled
            .get_or_init(|| {
                regex::RegexBuilder::new(&self.0.text)
                    .size_limit(SIZE_LIMIT)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// True when `value` matches; false when the regex does not compile.
    pub fn is_match(&self, value: &str) -> bool {
        self.compile().is_ok_and(|r| r.is_match(value))
    }
}

impl fmt::Debug for LazyRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LazyRegex").field(&self.0.text).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_found_at_load_with_the_regex_crate_message() {
        for bad in [
            "a(b",
            "[z-a]",
            r"\p{NoSuchClass}",
            "a{3,1}",
            "(?<n>a)(?<n>b)",
        ] {
            let ours = LazyRegex::new(bad.to_string()).unwrap_err();
            let theirs = regex::Regex::new(bad).unwrap_err().to_string();
            assert_eq!(ours, theirs, "{bad}");
        }
    }

    #[test]
    fn compiles_on_first_use_and_clones_share_it() {
        let re = LazyRegex::new("(?i)mimi[k]atz".to_string()).unwrap();
        let copy = re.clone();
        assert!(re.0.compiled.get().is_none());
        assert!(re.is_match("x MimiKatz.exe"));
        assert!(!re.is_match("mimi"));
        assert!(copy.0.compiled.get().is_some());
    }

    #[test]
    fn a_regex_over_the_size_limit_is_reported_when_compiled_and_matches_nothing() {
        let re = LazyRegex::new(r"\w{1000}\w{1000}".to_string()).unwrap();
        assert!(re.compile().unwrap_err().contains("size limit"));
        assert!(!re.is_match(&"a".repeat(3000)));
    }
}
