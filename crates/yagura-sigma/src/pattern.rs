//! Sigma string values with wildcards ([RS String Wildcard, Escape Character]).
//!
//! A value is a sequence of [`Piece`]s: literal text, `*` (any run of characters, including none)
//! and `?` (exactly one character). A pattern must match the **whole** field value.

use std::fmt;

/// One element of a wildcard pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters, including none.
    AnyRun,
    /// `?`: exactly one character.
    AnyOne,
}

/// A Sigma string value: literal text with `*`/`?` wildcards.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Pattern {
    pieces: Vec<Piece>,
}

/// How a pattern anchors its single literal, used to feed literals into multi-pattern automata.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// The value equals the literal.
    Exact,
    /// The value starts with the literal.
    Prefix,
    /// The value ends with the literal.
    Suffix,
    /// The value contains the literal.
    Contains,
}

impl Pattern {
    /// Parses a rule value with the specification's escaping: `\*`, `\?` and `\\` are literals;
    /// a backslash before any other character (or at the end) is itself literal.
    pub fn parse(s: &str) -> Pattern {
        let mut p = Pattern::default();
        let mut lit = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        lit.push(n);
                        chars.next();
                    }
                    _ => lit.push('\\'),
                },
                '*' => {
                    p.flush(&mut lit);
                    p.push_any_run();
                }
                '?' => {
                    p.flush(&mut lit);
                    p.pieces.push(Piece::AnyOne);
                }
                c => lit.push(c),
            }
        }
        p.flush(&mut lit);
        p
    }

    /// A pattern that is exactly `s`, without wildcard interpretation.
    pub fn literal(s: &str) -> Pattern {
        let mut p = Pattern::default();
        if !s.is_empty() {
            p.pieces.push(Piece::Lit(s.to_string()));
        }
        p
    }

    fn flush(&mut self, lit: &mut String) {
        if !lit.is_empty() {
            self.pieces.push(Piece::Lit(std::mem::take(lit)));
        }
    }

    fn push_any_run(&mut self) {
        if self.pieces.last() != Some(&Piece::AnyRun) {
            self.pieces.push(Piece::AnyRun);
        }
    }

    /// The pieces of the pattern.
    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// True if the pattern holds a `*` or `?`.
    pub fn has_wildcards(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Lit(_)))
    }

    /// `contains`: a `*` on each side unless one is already there.
    pub fn contains(mut self) -> Self {
        self = self.startswith();
        self.endswith()
    }

    /// `startswith`: a trailing `*` unless already there.
    pub fn startswith(mut self) -> Self {
        self.push_any_run();
        self
    }

    /// `endswith`: a leading `*` unless already there.
    pub fn endswith(mut self) -> Self {
        if self.pieces.first() != Some(&Piece::AnyRun) {
            self.pieces.insert(0, Piece::AnyRun);
        }
        self
    }

    /// Rewrites every literal piece (wildcards are kept), e.g. for UTF-16 encodings.
    pub fn map_literals(&self, f: impl Fn(&str) -> String) -> Pattern {
        Pattern {
            pieces: self
                .pieces
                .iter()
                .map(|p| match p {
                    Piece::Lit(s) => Piece::Lit(f(s)),
                    other => other.clone(),
                })
                .collect(),
        }
    }

    /// The whole text when the pattern has no wildcard.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Lower-cases the literal pieces (Unicode-aware) for case-insensitive matching.
    pub fn to_lowercase(&self) -> Pattern {
        self.map_literals(|s| s.to_lowercase())
    }

    /// The single literal and its anchoring when the pattern is `lit`, `lit*`, `*lit` or `*lit*`.
    pub fn simple(&self) -> Option<(&str, Anchor)> {
        match self.pieces.as_slice() {
            [] => Some(("", Anchor::Exact)),
            [Piece::Lit(s)] => Some((s, Anchor::Exact)),
            [Piece::Lit(s), Piece::AnyRun] => Some((s, Anchor::Prefix)),
            [Piece::AnyRun, Piece::Lit(s)] => Some((s, Anchor::Suffix)),
            [Piece::AnyRun, Piece::Lit(s), Piece::AnyRun] => Some((s, Anchor::Contains)),
            _ => None,
        }
    }

    /// The longest literal piece; every match must contain it (used as a pre-filter).
    pub fn longest_literal(&self) -> Option<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Lit(s) => Some(s.as_str()),
                _ => None,
            })
            .max_by_key(|s| s.len())
    }

    /// Matches `value` against the pattern. Both must already be in the same case form.
    /// Cost: linear for `*`-only patterns, backtracking only across `?`.
    pub fn matches(&self, value: &str) -> bool {
        match_pieces(&self.pieces, value)
    }
}

fn match_pieces(pieces: &[Piece], value: &str) -> bool {
    match pieces.split_first() {
        None => value.is_empty(),
        Some((Piece::Lit(s), rest)) => value
            .strip_prefix(s.as_str())
            .is_some_and(|v| match_pieces(rest, v)),
        Some((Piece::AnyOne, rest)) => {
            let mut chars = value.chars();
            chars.next().is_some() && match_pieces(rest, chars.as_str())
        }
        Some((Piece::AnyRun, rest)) => match rest.first() {
            None => true,
            Some(Piece::Lit(s)) if !rest.contains(&Piece::AnyOne) => {
                // `*`-only remainder: greedy leftmost search is exact.
                if rest.len() == 1 {
                    return value.ends_with(s.as_str());
                }
                let mut from = 0;
                while let Some(pos) = memchr::memmem::find(&value.as_bytes()[from..], s.as_bytes())
                {
                    let at = from + pos;
                    if match_pieces(&rest[1..], &value[at + s.len()..]) {
                        return true;
                    }
                    // With only `*` and literals following, the first occurrence is the best one.
                    if !rest[1..].contains(&Piece::AnyOne) {
                        return false;
                    }
                    from = at + value[at..].chars().next().map_or(1, char::len_utf8);
                }
                false
            }
            _ => value
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(value.len()))
                .any(|i| match_pieces(rest, &value[i..])),
        },
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => {
                    // Runs of plain text in one write (a write per character made this the
                    // largest cost of compiling a plan: it is the predicates' dedup key).
                    let mut rest = s.as_str();
                    while let Some(i) = rest.find(['*', '?', '\\']) {
                        f.write_str(&rest[..i])?;
                        f.write_str("\\")?;
                        f.write_str(&rest[i..=i])?;
                        rest = &rest[i + 1..];
                    }
                    f.write_str(rest)?;
                }
                Piece::AnyRun => f.write_str("*")?,
                Piece::AnyOne => f.write_str("?")?,
            }
        }
        Ok(())
    }
}

/// Lower-cases `value` fully into `scratch` (ASCII and Unicode).
pub fn lowercase_into<'a>(value: &str, scratch: &'a mut String) -> &'a str {
    scratch.clear();
    push_lowercase(scratch, value);
    scratch.as_str()
}

/// Appends `value` lower-cased to `out`, one character at a time (no context rules), so that a
/// lower-cased literal is found in the lower-cased text whenever the literal occurs.
pub fn push_lowercase(out: &mut String, value: &str) {
    if value.is_ascii() {
        let start = out.len();
        out.push_str(value);
        out[start..].make_ascii_lowercase();
    } else {
        for c in value.chars() {
            out.extend(c.to_lowercase());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, v: &str) -> bool {
        Pattern::parse(p).matches(v)
    }

    #[test]
    fn escaping_follows_the_spec() {
        // [RS Escape Character]
        assert_eq!(
            Pattern::parse(r"C:\Windows").as_literal().unwrap(),
            r"C:\Windows"
        );
        assert_eq!(
            Pattern::parse(r"C:\\Windows").as_literal().unwrap(),
            r"C:\Windows"
        );
        assert_eq!(Pattern::parse(r"a\*b").as_literal().unwrap(), "a*b");
        assert_eq!(Pattern::parse(r"a\?").as_literal().unwrap(), "a?");
        assert_eq!(Pattern::parse(r"\\\\").as_literal().unwrap(), r"\\");
        assert_eq!(Pattern::parse(r"\\\*").as_literal().unwrap(), r"\*");
        assert!(m(r"\\*", r"\anything"));
        assert!(!m(r"\\*", "anything"));
        assert_eq!(Pattern::parse("end\\").as_literal().unwrap(), "end\\");
    }

    #[test]
    fn wildcards() {
        assert!(m("a*c", "abbbc"));
        assert!(m("a*c", "ac"));
        assert!(!m("a*c", "acb"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("?", "é"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
        assert!(m("*ab*?c", "zabqc"));
        assert!(m("*x.exe", "c:\\x.exe.x.exe"));
    }
}
