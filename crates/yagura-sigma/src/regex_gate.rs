//! A literal that every match of a regular expression must contain, so that the engine can skip
//! the regex for events whose field does not contain it (found by the field automaton).

use regex_syntax::hir::{Class, Hir, HirKind};

/// The most selective literal (lower-cased, at least 2 bytes; longer first, then with more
/// punctuation, which is rarer in logs than letters) that every match of the parsed regex `hir`
/// contains, compared case-insensitively. `None` when there is none. Computed once per regex,
/// when it is syntax-checked (see [`crate::lazy_regex`]).
pub fn required_literal(hir: &Hir) -> Option<String> {
    let best = required(hir)?;
    (best.len() >= 2).then_some(best)
}

/// A single character the node matches, lower-cased (a literal char, or a class whose members
/// are case variants of one letter, as `(?i)` produces).
fn one_char(h: &Hir) -> Option<char> {
    match h.kind() {
        HirKind::Literal(lit) => {
            let s = std::str::from_utf8(&lit.0).ok()?;
            let mut chars = s.chars();
            let c = chars.next()?;
            chars.next().is_none().then(|| lower(c))
        }
        HirKind::Class(Class::Unicode(cls)) => {
            let mut folded = None;
            for r in cls.ranges() {
                for c in r.start()..=r.end() {
                    let l = lower(c);
                    match folded {
                        None => folded = Some(l),
                        Some(f) if f == l => {}
                        _ => return None,
                    }
                }
            }
            folded
        }
        _ => None,
    }
}

fn lower(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

fn selectivity(s: &str) -> (usize, usize) {
    (s.len(), s.chars().filter(|c| !c.is_alphanumeric()).count())
}

fn longer(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if selectivity(&b) > selectivity(&a) {
            b
        } else {
            a
        }),
        (a, b) => a.or(b),
    }
}

fn required(h: &Hir) -> Option<String> {
    match h.kind() {
        HirKind::Literal(lit) => std::str::from_utf8(&lit.0)
            .ok()
            .map(|s| s.chars().map(lower).collect()),
        HirKind::Capture(c) => required(&c.sub),
        HirKind::Repetition(r) if r.min >= 1 => required(&r.sub),
        HirKind::Concat(items) => {
            let mut best = None;
            let mut run = String::new();
            for item in items {
                if let Some(c) = one_char(item) {
                    run.push(c);
                    continue;
                }
                if let HirKind::Literal(_) = item.kind() {
                    if let Some(s) = required(item) {
                        run.push_str(&s);
                        continue;
                    }
                }
                best = longer(best, (!run.is_empty()).then(|| std::mem::take(&mut run)));
                best = longer(best, required(item));
            }
            longer(best, (!run.is_empty()).then_some(run))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    /// The required literal of `pattern`, parsed.
    fn required_literal(pattern: &str) -> Option<String> {
        super::required_literal(&regex_syntax::parse(pattern).ok()?)
    }

    #[test]
    fn finds_required_literals() {
        assert_eq!(
            required_literal(r"\s['\x22]?C:\\Windows\\(?:System32|SysWOW64)").as_deref(),
            Some(r"c:\windows\")
        );
        // Under (?i), `s` also matches U+017F (long s), which lower-cases to itself: the run is
        // cut there so the gate stays exact against lower-cased event text.
        assert_eq!(
            required_literal(r"(?i)^.*NTUSER\.DAT$").as_deref(),
            Some("er.dat")
        );
        assert_eq!(
            required_literal(r"(?i)MIMIKATZ").as_deref(),
            Some("mimikatz")
        );
        assert_eq!(required_literal(r"(abc|xyz)defg+").as_deref(), Some("def"));
        assert_eq!(required_literal(r"a|b"), None);
        assert_eq!(required_literal(r"(foo)?bar.*").as_deref(), Some("bar"));
        assert_eq!(required_literal(r"(foo)?ba.*").as_deref(), Some("ba"));
        assert_eq!(required_literal(r"(foo)?b.*"), None);
        // Equal length: the punctuation is rarer than letters.
        assert_eq!(
            required_literal(r"(?i)set.*&&\s?set").as_deref(),
            Some("&&")
        );
        assert_eq!(required_literal(r"x{0,3}"), None);
    }
}
