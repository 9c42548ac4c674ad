//! The condition grammar [RS Condition]:
//!
//! ```text
//! cond  := or ; or := and ("or" and)* ; and := not ("and" not)* ; not := "not" not | atom
//! atom  := "(" cond ")" | ("1" | "any" | "all") "of" (pattern | "them") | identifier
//! ```
//! Binding from loosest to tightest: `or`, `and`, `not`, `x of`, parentheses. Operators are
//! lower case, as pySigma. Identifiers starting with `_` are left out of `them` and of every
//! pattern that does not itself start with `_` (pySigma).

/// A parsed condition before identifiers are resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// A search identifier.
    Ident(String),
    /// `1 of pattern` (`them` is the pattern `*`).
    OneOf(String),
    /// `all of pattern`.
    AllOf(String),
    /// Conjunction.
    And(Box<Cond>, Box<Cond>),
    /// Disjunction.
    Or(Box<Cond>, Box<Cond>),
    /// Negation.
    Not(Box<Cond>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        match c {
            '(' | ')' | ' ' | '\t' | '\n' | '\r' => {
                if !word.is_empty() {
                    out.push(Tok::Word(std::mem::take(&mut word)));
                }
                match c {
                    '(' => out.push(Tok::LParen),
                    ')' => out.push(Tok::RParen),
                    _ => {}
                }
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*' | '.') => word.push(c),
            '|' => return Err(
                "the '|' aggregation syntax of Sigma v1 is not part of v2; use a correlation rule"
                    .into(),
            ),
            c => return Err(format!("unexpected character '{c}'")),
        }
    }
    if !word.is_empty() {
        out.push(Tok::Word(word));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Cond, String> {
        self.chain("or", Self::and, Cond::Or)
    }

    fn and(&mut self) -> Result<Cond, String> {
        self.chain("and", Self::not, Cond::And)
    }

    /// `operand (op operand)*`, left-associative.
    fn chain(
        &mut self,
        op: &str,
        operand: fn(&mut Self) -> Result<Cond, String>,
        join: fn(Box<Cond>, Box<Cond>) -> Cond,
    ) -> Result<Cond, String> {
        let mut left = operand(self)?;
        while self.peek_word() == Some(op) {
            self.pos += 1;
            left = join(Box::new(left), Box::new(operand(self)?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek_word() == Some("not") {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::LParen) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.toks.get(self.pos) != Some(&Tok::RParen) {
                    return Err("missing ')'".into());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                if matches!(w.as_str(), "1" | "any" | "all") && self.peek_word() == Some("of") {
                    self.pos += 1;
                    let pat = match self.toks.get(self.pos) {
                        Some(Tok::Word(p)) if !is_keyword(p) => p.clone(),
                        _ => {
                            return Err(format!("'{w} of' must be followed by a pattern or 'them'"))
                        }
                    };
                    self.pos += 1;
                    let pat = if pat == "them" { "*".to_string() } else { pat };
                    return Ok(if w == "all" {
                        Cond::AllOf(pat)
                    } else {
                        Cond::OneOf(pat)
                    });
                }
                if is_keyword(&w) {
                    return Err(format!("unexpected '{w}'"));
                }
                if w.contains('*') {
                    return Err(format!(
                        "wildcard identifier '{w}' is only allowed after '1 of' or 'all of'"
                    ));
                }
                Ok(Cond::Ident(w))
            }
            Some(Tok::RParen) => Err("unexpected ')'".into()),
            None => Err("unexpected end of condition".into()),
        }
    }
}

fn is_keyword(w: &str) -> bool {
    matches!(w, "and" | "or" | "not" | "of")
}

/// Parses one condition string.
pub fn parse(s: &str) -> Result<Cond, String> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let c = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected token after position {}: {:?}",
            p.pos, p.toks[p.pos]
        ));
    }
    Ok(c)
}

/// Identifiers selected by a `x of` pattern: `*` matches any run; `_`-prefixed identifiers
/// are excluded unless the pattern itself starts with `_`.
pub fn select<'a>(pattern: &str, idents: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    idents
        .filter(|id| pattern.starts_with('_') || !id.starts_with('_'))
        .filter(|id| glob(pattern, id))
        .collect()
}

fn glob(pattern: &str, s: &str) -> bool {
    let p = crate::pattern::Pattern::parse(&pattern.replace('?', "\\?"));
    p.matches(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_not_binds_tighter_than_and_than_or() {
        // [RS Condition] operator precedence
        let c = parse("a or b and not c").unwrap();
        assert_eq!(
            c,
            Cond::Or(
                Box::new(Cond::Ident("a".into())),
                Box::new(Cond::And(
                    Box::new(Cond::Ident("b".into())),
                    Box::new(Cond::Not(Box::new(Cond::Ident("c".into()))))
                ))
            )
        );
        assert!(parse("a and (b").is_err());
        assert!(parse("a b").is_err());
        assert!(parse("sel | count() > 5").is_err());
        assert_eq!(parse("1 of them").unwrap(), Cond::OneOf("*".into()));
        assert_eq!(parse("all of sel_*").unwrap(), Cond::AllOf("sel_*".into()));
    }

    #[test]
    fn underscore_identifiers_leave_patterns() {
        let ids = ["sel1", "sel2", "_aux", "filter"];
        assert_eq!(select("*", ids.iter().copied()), ["sel1", "sel2", "filter"]);
        assert_eq!(select("sel*", ids.iter().copied()), ["sel1", "sel2"]);
        assert_eq!(select("_*", ids.iter().copied()), ["_aux"]);
    }
}
