//! Recursive-descent parser for the query language.

use super::lexer::{lex, OpTok, Tok, Token};
use super::{
    column_of, text_tokens, Agg, AggFunc, CmpOp, Expr, Lit, ParseError, Query, SortKey, Stage,
};

const STAGES: &str = "a stage (where, stats, timechart, sort, head, fields)";
const AGGS: &str = "an aggregation (count, dc, min, max, avg, sum, values)";
static EOF: Tok = Tok::Eof;

/// Parses a query. See `docs/query.md` for the grammar.
pub fn parse(src: &str) -> Result<Query, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        i: 0,
        depth: 0,
    };
    p.query()
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    i: usize,
    /// Nesting of `not` / `(` (bounded so deep input cannot overflow the stack).
    depth: usize,
}

/// Deepest nesting of `not` and parentheses accepted.
const MAX_DEPTH: usize = 128;

/// Is `s` a valid bare field name: `[A-Za-z_@][A-Za-z0-9_.@-]*`?
fn is_field_name(s: &str) -> bool {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '@' => {}
        _ => return false,
    }
    cs.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'))
}

fn word_lit(w: &str) -> Option<Lit> {
    if w.eq_ignore_ascii_case("true") {
        return Some(Lit::Bool(true));
    }
    if w.eq_ignore_ascii_case("false") {
        return Some(Lit::Bool(false));
    }
    if w.eq_ignore_ascii_case("null") {
        return Some(Lit::Null);
    }
    if let Ok(i) = w.parse::<i64>() {
        return Some(Lit::Int(i));
    }
    super::eval::parse_num_str(w).map(Lit::Float)
}

/// `30s`, `5m`, `1h`, `1d`, `1w`, `500ms` → milliseconds (positive).
fn parse_duration(w: &str) -> Option<i64> {
    let w = w.to_ascii_lowercase();
    let split = w.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = w.split_at(split);
    let n: i64 = n.parse().ok()?;
    let mult = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 604_800_000,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&v| v > 0)
}

impl Parser<'_> {
    fn peek_at(&self, k: usize) -> &Tok {
        self.toks.get(self.i + k).map_or(&EOF, |t| &t.tok)
    }

    fn peek(&self) -> &Tok {
        self.peek_at(0)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.src.len(), |t| t.start)
    }

    fn bump(&mut self) {
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
    }

    /// The text of the current token, for messages.
    fn cur_text(&self) -> &str {
        self.toks
            .get(self.i)
            .map_or("", |t| self.src.get(t.start..t.end).unwrap_or(""))
    }

    fn found(&self) -> String {
        if matches!(self.peek(), Tok::Eof) {
            return "end of query".to_string();
        }
        let t = self.cur_text();
        if t.chars().count() > 40 {
            let short: String = t.chars().take(37).collect();
            format!("`{short}...`")
        } else {
            format!("`{t}`")
        }
    }

    fn err(&self, expected: impl Into<String>) -> ParseError {
        ParseError::at(self.src, self.pos(), expected, self.found())
    }

    fn is_kw_at(&self, k: usize, kw: &str) -> bool {
        matches!(self.peek_at(k), Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.is_kw_at(0, kw)
    }

    fn expect(&mut self, tok: Tok, expected: impl Into<String>) -> Result<(), ParseError> {
        if *self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.err(expected))
        }
    }

    fn query(&mut self) -> Result<Query, ParseError> {
        let mut filter = None;
        if !matches!(self.peek(), Tok::Pipe | Tok::Eof) {
            filter = Some(self.expr()?);
        }
        let mut stages = Vec::new();
        loop {
            match self.peek() {
                Tok::Eof => break,
                Tok::Pipe => {
                    self.bump();
                    stages.push(self.stage()?);
                }
                _ => return Err(self.err("`|` or end of query")),
            }
        }
        Ok(Query { filter, stages })
    }

    fn starts_unary(&self) -> bool {
        match self.peek() {
            Tok::Word(w) => !w.eq_ignore_ascii_case("or") && !w.eq_ignore_ascii_case("and"),
            Tok::Str(_) | Tok::Field(_) | Tok::LParen => true,
            _ => false,
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.and()?];
        while self.is_kw("or") {
            self.bump();
            if !self.starts_unary() {
                return Err(self.err("a condition after `or`"));
            }
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut parts = vec![self.unary()?];
        loop {
            if self.is_kw("and") {
                self.bump();
                if !self.starts_unary() {
                    return Err(self.err("a condition after `and`"));
                }
                parts.push(self.unary()?);
            } else if self.starts_unary() {
                parts.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    /// Does the token after the current one begin a predicate (an operator or keyword)?
    fn predicate_follows(&self) -> bool {
        match self.peek_at(1) {
            Tok::Op(_) => true,
            Tok::Word(w) => {
                let w = w.to_ascii_lowercase();
                match w.as_str() {
                    "contains" | "startswith" | "endswith" | "matches" | "cidr" => true,
                    "in" => matches!(self.peek_at(2), Tok::LParen),
                    "not" => self.is_kw_at(2, "in"),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(format!("at most {MAX_DEPTH} nested `not`/`(`")));
        }
        self.depth += 1;
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Word(w)
                if w.eq_ignore_ascii_case("not") && !matches!(self.peek_at(1), Tok::Op(_)) =>
            {
                self.bump();
                if !self.starts_unary() {
                    return Err(self.err("a condition after `not`"));
                }
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Tok::LParen => {
                let open = self.pos();
                self.bump();
                if !self.starts_unary() {
                    return Err(self.err("a condition after `(`"));
                }
                let e = self.expr()?;
                self.expect(
                    Tok::RParen,
                    format!(
                        "`)` to close the `(` opened at column {}",
                        column_of(self.src, open)
                    ),
                )?;
                Ok(e)
            }
            Tok::Word(w)
                if w.eq_ignore_ascii_case("exists") && matches!(self.peek_at(1), Tok::LParen) =>
            {
                self.bump();
                self.bump();
                let field = self.field("a field name after `exists(`")?;
                self.expect(Tok::RParen, "`)` to close `exists(`")?;
                Ok(Expr::Exists { field })
            }
            Tok::Str(s) => {
                self.bump();
                Ok(text(s))
            }
            Tok::Field(_) | Tok::Word(_) if self.predicate_follows() => self.predicate(),
            Tok::Word(w) => {
                self.bump();
                Ok(text(w))
            }
            Tok::Field(_) => {
                self.bump();
                Err(self.err(
                    "an operator (==, !=, <, <=, >, >=, =~, in, contains, startswith, endswith, matches, cidr) after the field name",
                ))
            }
            _ => Err(self.err("a condition")),
        }
    }

    fn field(&mut self, expected: &str) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Word(w) if is_field_name(&w) => {
                self.bump();
                Ok(w)
            }
            Tok::Field(f) => {
                self.bump();
                Ok(f)
            }
            _ => Err(self.err(expected)),
        }
    }

    fn lit(&mut self, expected: &str) -> Result<Lit, ParseError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.bump();
                Ok(Lit::Str(s))
            }
            Tok::Word(w) => match word_lit(&w) {
                Some(l) => {
                    self.bump();
                    Ok(l)
                }
                None => {
                    let mut e = self.err(expected);
                    e.found = format!("{} (quote text values: \"{w}\")", e.found);
                    Err(e)
                }
            },
            _ => Err(self.err(expected)),
        }
    }

    /// A quoted string, or a bare word taken literally.
    fn string_arg(&mut self, expected: &str) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Str(s) | Tok::Word(s) => {
                self.bump();
                Ok(s)
            }
            _ => Err(self.err(expected)),
        }
    }

    fn predicate(&mut self) -> Result<Expr, ParseError> {
        let field = self.field("a field name")?;
        let kw = match self.peek().clone() {
            Tok::Op(op) => {
                let op_text = self.cur_text().to_string();
                self.bump();
                let value = self.lit(&format!("a value after `{op_text}`"))?;
                let op = match op {
                    OpTok::Eq | OpTok::Assign => CmpOp::Eq,
                    OpTok::Ne => CmpOp::Ne,
                    OpTok::Lt => CmpOp::Lt,
                    OpTok::Le => CmpOp::Le,
                    OpTok::Gt => CmpOp::Gt,
                    OpTok::Ge => CmpOp::Ge,
                    OpTok::EqNoCase => CmpOp::EqNoCase,
                };
                return Ok(Expr::Cmp { field, op, value });
            }
            Tok::Word(w) => w.to_ascii_lowercase(),
            _ => return Err(self.err("an operator")),
        };
        self.bump();
        match kw.as_str() {
            "not" | "in" => {
                let negated = kw == "not";
                if negated {
                    self.bump(); // `in`, checked by predicate_follows
                }
                let open = self.pos();
                self.expect(Tok::LParen, "`(` after `in`")?;
                let mut values = vec![self.lit("a value in the `in (...)` list")?];
                loop {
                    match self.peek() {
                        Tok::Comma => {
                            self.bump();
                            values.push(self.lit("a value after `,` in the `in (...)` list")?);
                        }
                        Tok::RParen => {
                            self.bump();
                            break;
                        }
                        _ => {
                            return Err(self.err(format!(
                                "`,` or `)` in the `in` list opened at column {}",
                                column_of(self.src, open)
                            )))
                        }
                    }
                }
                let e = Expr::In { field, values };
                Ok(if negated { Expr::Not(Box::new(e)) } else { e })
            }
            "contains" => Ok(Expr::Contains {
                field,
                value: self.string_arg("a quoted string after `contains`")?,
            }),
            "startswith" => Ok(Expr::StartsWith {
                field,
                value: self.string_arg("a quoted string after `startswith`")?,
            }),
            "endswith" => Ok(Expr::EndsWith {
                field,
                value: self.string_arg("a quoted string after `endswith`")?,
            }),
            "matches" => {
                let at = self.pos();
                let pattern = self.string_arg("a quoted regular expression after `matches`")?;
                match regex::RegexBuilder::new(&pattern)
                    .size_limit(1 << 20)
                    .build()
                {
                    Ok(re) => Ok(Expr::Regex { field, pattern, re }),
                    Err(e) => {
                        let msg = e.to_string();
                        let last = msg
                            .lines()
                            .rev()
                            .find(|l| !l.trim().is_empty())
                            .unwrap_or("");
                        Err(ParseError::at(
                            self.src,
                            at,
                            "a valid regular expression after `matches`",
                            format!("{:?} ({})", pattern, last.trim()),
                        ))
                    }
                }
            }
            "cidr" => {
                let at = self.pos();
                let s = self.string_arg("a quoted CIDR network after `cidr`")?;
                let net = s
                    .parse::<ipnet::IpNet>()
                    .ok()
                    .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from));
                match net {
                    Some(net) => Ok(Expr::Cidr { field, net }),
                    None => Err(ParseError::at(
                        self.src,
                        at,
                        "a CIDR network like \"10.0.0.0/8\" or \"2001:db8::/32\" after `cidr`",
                        format!("{s:?}"),
                    )),
                }
            }
            _ => Err(self.err("an operator")),
        }
    }

    fn stage(&mut self) -> Result<Stage, ParseError> {
        let name = match self.peek() {
            Tok::Word(w) => w.to_ascii_lowercase(),
            _ => return Err(self.err(STAGES)),
        };
        match name.as_str() {
            "where" => {
                self.bump();
                if !self.starts_unary() {
                    return Err(self.err("a condition after `where`"));
                }
                Ok(Stage::Where(self.expr()?))
            }
            "stats" => {
                self.bump();
                let aggs = self.aggs("stats")?;
                let mut by = Vec::new();
                if self.is_kw("by") {
                    self.bump();
                    by = self.field_list("a field name after `by`")?;
                }
                Ok(Stage::Stats { aggs, by })
            }
            "timechart" => {
                self.bump();
                let mut span_ms = 3_600_000;
                if self.is_kw("span")
                    && matches!(self.peek_at(1), Tok::Op(OpTok::Assign | OpTok::Eq))
                {
                    self.bump();
                    self.bump();
                    let expected = "a duration like 30s, 5m, 1h or 1d after `span=`";
                    span_ms = match self.peek() {
                        Tok::Word(w) => parse_duration(w).ok_or_else(|| self.err(expected))?,
                        _ => return Err(self.err(expected)),
                    };
                    self.bump();
                }
                let aggs = self.aggs("timechart")?;
                let mut by = None;
                if self.is_kw("by") {
                    self.bump();
                    by = Some(self.field("a field name after `by`")?);
                    if matches!(self.peek(), Tok::Comma) {
                        return Err(
                            self.err("`|` or end of query (timechart takes one `by` field)")
                        );
                    }
                }
                Ok(Stage::Timechart { span_ms, aggs, by })
            }
            "sort" => {
                self.bump();
                let mut keys = Vec::new();
                let mut expected = "a field name after `sort`";
                loop {
                    let field = self.field(expected)?;
                    let mut desc = false;
                    if self.is_kw("desc") {
                        desc = true;
                        self.bump();
                    } else if self.is_kw("asc") {
                        self.bump();
                    }
                    keys.push(SortKey { field, desc });
                    if !matches!(self.peek(), Tok::Comma) {
                        break;
                    }
                    self.bump();
                    expected = "a field name after `,`";
                }
                Ok(Stage::Sort(keys))
            }
            "head" => {
                self.bump();
                let mut n = 10;
                match self.peek() {
                    Tok::Word(w) => match w.parse::<usize>() {
                        Ok(v) => {
                            n = v;
                            self.bump();
                        }
                        Err(_) => return Err(self.err("a number of rows after `head`")),
                    },
                    Tok::Pipe | Tok::Eof => {}
                    _ => return Err(self.err("a number of rows after `head`")),
                }
                Ok(Stage::Head(n))
            }
            "fields" => {
                self.bump();
                Ok(Stage::Fields(
                    self.field_list("a field name after `fields`")?,
                ))
            }
            _ => Err(self.err(STAGES)),
        }
    }

    fn field_list(&mut self, first: &str) -> Result<Vec<String>, ParseError> {
        let mut out = vec![self.field(first)?];
        while matches!(self.peek(), Tok::Comma) {
            self.bump();
            out.push(self.field("a field name after `,`")?);
        }
        Ok(out)
    }

    fn aggs(&mut self, stage: &str) -> Result<Vec<Agg>, ParseError> {
        let mut out = vec![self.agg(&format!("{AGGS} after `{stage}`"))?];
        while matches!(self.peek(), Tok::Comma) {
            self.bump();
            out.push(self.agg(&format!("{AGGS} after `,`"))?);
        }
        Ok(out)
    }

    fn agg(&mut self, expected: &str) -> Result<Agg, ParseError> {
        let func = match self.peek() {
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "count" => AggFunc::Count,
                "dc" => AggFunc::Dc,
                "min" => AggFunc::Min,
                "max" => AggFunc::Max,
                "avg" => AggFunc::Avg,
                "sum" => AggFunc::Sum,
                "values" => AggFunc::Values,
                _ => return Err(self.err(expected)),
            },
            _ => return Err(self.err(expected)),
        };
        let fname = func.as_str();
        self.bump();
        let mut field = None;
        if matches!(self.peek(), Tok::LParen) {
            let open = self.pos();
            self.bump();
            if !(func == AggFunc::Count && matches!(self.peek(), Tok::RParen)) {
                field = Some(self.field(&format!("a field name inside `{fname}(`"))?);
            }
            self.expect(
                Tok::RParen,
                format!(
                    "`)` to close the `{fname}(` opened at column {}",
                    column_of(self.src, open)
                ),
            )?;
        } else if func != AggFunc::Count {
            return Err(self.err(format!("`(` after `{fname}`")));
        }
        let mut name = match &field {
            Some(f) => format!("{fname}({f})"),
            None => fname.to_string(),
        };
        if self.is_kw("as") {
            self.bump();
            name = match self.peek().clone() {
                Tok::Word(w) | Tok::Str(w) | Tok::Field(w) => {
                    self.bump();
                    w
                }
                _ => return Err(self.err("a column name after `as`")),
            };
        }
        Ok(Agg { func, field, name })
    }
}

fn text(phrase: String) -> Expr {
    let mut tokens = Vec::new();
    text_tokens(&phrase, &mut tokens);
    Expr::Text { phrase, tokens }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Query {
        match parse(s) {
            Ok(q) => q,
            Err(e) => panic!("{s}: {e}\n{}", e.caret(s)),
        }
    }

    fn f(s: &str) -> String {
        format!("{:?}", p(s).filter.unwrap())
    }

    fn err(s: &str) -> String {
        parse(s).unwrap_err().to_string()
    }

    #[test]
    fn empty_and_pipe_only_queries() {
        let q = p("");
        assert!(q.filter.is_none() && q.stages.is_empty());
        let q = p("   ");
        assert!(q.filter.is_none());
        let q = p("| head 3");
        assert!(q.filter.is_none());
        assert!(matches!(q.stages[..], [Stage::Head(3)]));
    }

    #[test]
    fn comparisons() {
        for (src, op) in [
            ("a == 1", CmpOp::Eq),
            ("a = 1", CmpOp::Eq),
            ("a != 1", CmpOp::Ne),
            ("a < 1", CmpOp::Lt),
            ("a <= 1", CmpOp::Le),
            ("a > 1", CmpOp::Gt),
            ("a >= 1", CmpOp::Ge),
            ("a =~ 1", CmpOp::EqNoCase),
        ] {
            match p(src).filter {
                Some(Expr::Cmp {
                    field,
                    op: o,
                    value,
                }) => {
                    assert_eq!(field, "a");
                    assert_eq!(o, op, "{src}");
                    assert_eq!(value, Lit::Int(1));
                }
                other => panic!("{src}: {other:?}"),
            }
        }
    }

    #[test]
    fn literals() {
        let lit = |s: &str| match p(&format!("x == {s}")).filter {
            Some(Expr::Cmp { value, .. }) => value,
            other => panic!("{other:?}"),
        };
        assert_eq!(lit("\"a b\""), Lit::Str("a b".into()));
        assert_eq!(lit("'a\\'b'"), Lit::Str("a'b".into()));
        assert_eq!(lit("-42"), Lit::Int(-42));
        assert_eq!(lit("1.5"), Lit::Float(1.5));
        assert_eq!(lit("1e3"), Lit::Float(1000.0));
        assert_eq!(lit("TRUE"), Lit::Bool(true));
        assert_eq!(lit("false"), Lit::Bool(false));
        assert_eq!(lit("null"), Lit::Null);
        assert_eq!(lit("\"\\u65e5\""), Lit::Str("日".into()));
    }

    #[test]
    fn bare_text_value_is_an_error_with_hint() {
        let e = parse("user.name == bob").unwrap_err();
        assert_eq!(e.column, 14);
        assert_eq!(e.expected, "a value after `==`");
        assert_eq!(e.found, "`bob` (quote text values: \"bob\")");
        let e = parse("x == inf").unwrap_err();
        assert_eq!(e.expected, "a value after `==`");
    }

    #[test]
    fn boolean_structure_and_precedence() {
        assert_eq!(
            f("a == 1 b == 2 or c == 3"),
            f("(a == 1 AND b == 2) OR c == 3")
        );
        let q = p("not a == 1 and (b == 2 or c == 3)");
        match q.filter {
            Some(Expr::And(v)) => {
                assert!(matches!(v[0], Expr::Not(_)));
                assert!(matches!(&v[1], Expr::Or(o) if o.len() == 2));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(p("NOT NOT a == 1").filter, Some(Expr::Not(_))));
    }

    #[test]
    fn in_and_not_in() {
        match p("event.code in (4624, \"4625\", 1.5, null)").filter {
            Some(Expr::In { field, values }) => {
                assert_eq!(field, "event.code");
                assert_eq!(
                    values,
                    vec![
                        Lit::Int(4624),
                        Lit::Str("4625".into()),
                        Lit::Float(1.5),
                        Lit::Null
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        match p("user.name NOT IN ('root')").filter {
            Some(Expr::Not(inner)) => assert!(matches!(*inner, Expr::In { .. })),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn string_predicates() {
        assert!(matches!(p("message contains \"fail\"").filter,
            Some(Expr::Contains { ref field, ref value }) if field == "message" && value == "fail"));
        assert!(matches!(p("process.name StartsWith 'power'").filter,
            Some(Expr::StartsWith { ref value, .. }) if value == "power"));
        assert!(matches!(p("file.path endswith .exe").filter,
            Some(Expr::EndsWith { ref value, .. }) if value == ".exe"));
        match p(r#"url.path matches "^/admin/\d+""#).filter {
            Some(Expr::Regex { pattern, re, .. }) => {
                assert_eq!(pattern, r"^/admin/\d+");
                assert!(re.is_match("/admin/42"));
            }
            other => panic!("{other:?}"),
        }
        match p("source.ip cidr 10.0.0.0/8").filter {
            Some(Expr::Cidr { net, .. }) => assert_eq!(net.to_string(), "10.0.0.0/8"),
            other => panic!("{other:?}"),
        }
        match p("source.ip cidr \"2001:db8::/32\"").filter {
            Some(Expr::Cidr { net, .. }) => assert_eq!(net.to_string(), "2001:db8::/32"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(p("exists(user.name)").filter,
            Some(Expr::Exists { ref field }) if field == "user.name"));
        assert!(matches!(p("`odd field!` == 1").filter,
            Some(Expr::Cmp { ref field, .. }) if field == "odd field!"));
    }

    #[test]
    fn text_terms() {
        match p("\"Failed password\" sshd").filter {
            Some(Expr::And(v)) => {
                assert!(
                    matches!(&v[0], Expr::Text { phrase, tokens } if phrase == "Failed password" && tokens == &["failed", "password"])
                );
                assert!(matches!(&v[1], Expr::Text { phrase, .. } if phrase == "sshd"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(p("ログイン失敗").filter,
            Some(Expr::Text { ref tokens, .. }) if tokens == &["ログ", "グイ", "イン", "ン失", "失敗"]));
        match p("ログイン失敗 user.name == \"x\"").filter {
            Some(Expr::And(v)) => {
                assert!(matches!(&v[0], Expr::Text { phrase, .. } if phrase == "ログイン失敗"));
                assert!(matches!(&v[1], Expr::Cmp { .. }));
            }
            other => panic!("{other:?}"),
        }
        // `in` not followed by `(` is just a word.
        assert!(matches!(p("logged in").filter, Some(Expr::And(ref v)) if v.len() == 2));
    }

    #[test]
    fn stages_all() {
        let q = p("| where a > 1 | stats count(), dc(user.name), min(x), max(x), avg(x), sum(x) as total, values(h) by host.name, user.name | timechart span=5m count() by host.name | sort a desc, b asc, c | head | head 5 | fields a, b");
        assert_eq!(q.stages.len(), 7);
        assert!(matches!(q.stages[0], Stage::Where(Expr::Cmp { .. })));
        match &q.stages[1] {
            Stage::Stats { aggs, by } => {
                let names: Vec<&str> = aggs.iter().map(|a| a.name.as_str()).collect();
                assert_eq!(
                    names,
                    [
                        "count",
                        "dc(user.name)",
                        "min(x)",
                        "max(x)",
                        "avg(x)",
                        "total",
                        "values(h)"
                    ]
                );
                assert_eq!(aggs[0].field, None);
                assert_eq!(aggs[1].func, AggFunc::Dc);
                assert_eq!(by, &["host.name", "user.name"]);
            }
            other => panic!("{other:?}"),
        }
        match &q.stages[2] {
            Stage::Timechart { span_ms, aggs, by } => {
                assert_eq!(*span_ms, 300_000);
                assert_eq!(aggs.len(), 1);
                assert_eq!(by.as_deref(), Some("host.name"));
            }
            other => panic!("{other:?}"),
        }
        match &q.stages[3] {
            Stage::Sort(k) => assert_eq!(
                k,
                &[
                    SortKey {
                        field: "a".into(),
                        desc: true
                    },
                    SortKey {
                        field: "b".into(),
                        desc: false
                    },
                    SortKey {
                        field: "c".into(),
                        desc: false
                    }
                ]
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(q.stages[4], Stage::Head(10)));
        assert!(matches!(q.stages[5], Stage::Head(5)));
        assert!(matches!(&q.stages[6], Stage::Fields(v) if v == &["a", "b"]));
    }

    #[test]
    fn stage_keywords_case_insensitive_and_defaults() {
        let q = p("x == 1 | STATS COUNT BY host.name | Timechart Count() | SORT count DESC");
        assert!(matches!(&q.stages[0], Stage::Stats { aggs, .. } if aggs[0].name == "count"));
        assert!(matches!(
            q.stages[1],
            Stage::Timechart {
                span_ms: 3_600_000,
                by: None,
                ..
            }
        ));
        assert!(matches!(&q.stages[2], Stage::Sort(k) if k[0].desc));
        for (d, ms) in [
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("1d", 86_400_000),
        ] {
            let q = p(&format!("| timechart span = {d} count() as n"));
            assert!(
                matches!(&q.stages[0], Stage::Timechart { span_ms, aggs, .. } if *span_ms == ms && aggs[0].name == "n")
            );
        }
        let q = p("| stats count(user.name)");
        assert!(
            matches!(&q.stages[0], Stage::Stats { aggs, .. } if aggs[0].name == "count(user.name)" && aggs[0].field.as_deref() == Some("user.name"))
        );
    }

    #[test]
    fn error_value_after_op() {
        let e = parse("source.ip == ").unwrap_err();
        assert_eq!(e.column, 14);
        assert_eq!(e.pos, 13);
        assert_eq!(
            e.to_string(),
            "column 14: expected a value after `==`, found end of query"
        );
        assert_eq!(
            err("a >= |"),
            "column 6: expected a value after `>=`, found `|`"
        );
    }

    #[test]
    fn error_by_field() {
        assert_eq!(
            err("| stats count() by"),
            "column 19: expected a field name after `by`, found end of query"
        );
        assert_eq!(
            err("| timechart count() by ,"),
            "column 24: expected a field name after `by`, found `,`"
        );
    }

    #[test]
    fn error_unknown_stage() {
        assert_eq!(
            err("| foo"),
            "column 3: expected a stage (where, stats, timechart, sort, head, fields), found `foo`"
        );
        assert_eq!(
            err("a == 1 |"),
            "column 9: expected a stage (where, stats, timechart, sort, head, fields), found end of query"
        );
    }

    #[test]
    fn error_unclosed_paren_and_quote() {
        assert_eq!(
            err("(a == 1 or b == 2"),
            "column 18: expected `)` to close the `(` opened at column 1, found end of query"
        );
        assert_eq!(
            err("x in (1, 2"),
            "column 11: expected `,` or `)` in the `in` list opened at column 6, found end of query"
        );
        assert_eq!(
            err("x == 'abc"),
            "column 10: expected a closing `'` for the string opened at column 6, found end of query"
        );
        assert_eq!(
            err("| stats dc(user.name"),
            "column 21: expected `)` to close the `dc(` opened at column 11, found end of query"
        );
    }

    #[test]
    fn error_regex_and_cidr() {
        let e = parse("x matches \"a(b\"").unwrap_err();
        assert_eq!(e.column, 11);
        assert_eq!(e.expected, "a valid regular expression after `matches`");
        assert!(e.found.starts_with("\"a(b\""), "{}", e.found);
        let e = parse("ip cidr \"10.0.0.0/33\"").unwrap_err();
        assert_eq!(e.column, 9);
        assert!(e.expected.starts_with("a CIDR network"));
        assert_eq!(
            err("ip cidr \"10.0.0.0/33\""),
            "column 9: expected a CIDR network like \"10.0.0.0/8\" or \"2001:db8::/32\" after `cidr`, found \"10.0.0.0/33\""
        );
        assert_eq!(
            err("x matches \"a(b\""),
            "column 11: expected a valid regular expression after `matches`, found \"a(b\" (error: unclosed group)"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let src = format!("{}a == 1{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = parse(&src).unwrap_err();
        assert_eq!(e.column, MAX_DEPTH + 1);
        let src = format!("{}a == 1", "not ".repeat(10_000));
        assert!(parse(&src).is_err());
        let src = format!("{}a == 1{}", "(".repeat(50), ")".repeat(50));
        assert!(parse(&src).is_ok());
    }

    #[test]
    fn error_misc() {
        assert_eq!(
            err("a == 1 )"),
            "column 8: expected `|` or end of query, found `)`"
        );
        assert_eq!(
            err("a == 1 and"),
            "column 11: expected a condition after `and`, found end of query"
        );
        assert_eq!(
            err("a == 1 or |"),
            "column 11: expected a condition after `or`, found `|`"
        );
        assert_eq!(
            err("not"),
            "column 4: expected a condition after `not`, found end of query"
        );
        assert_eq!(
            err("| where"),
            "column 8: expected a condition after `where`, found end of query"
        );
        assert_eq!(
            err("| stats"),
            "column 8: expected an aggregation (count, dc, min, max, avg, sum, values) after `stats`, found end of query"
        );
        assert_eq!(
            err("| stats dc"),
            "column 11: expected `(` after `dc`, found end of query"
        );
        assert_eq!(
            err("| stats count() as"),
            "column 19: expected a column name after `as`, found end of query"
        );
        assert_eq!(
            err("| timechart span=5x count()"),
            "column 18: expected a duration like 30s, 5m, 1h or 1d after `span=`, found `5x`"
        );
        assert_eq!(
            err("| head x"),
            "column 8: expected a number of rows after `head`, found `x`"
        );
        assert_eq!(
            err("| sort"),
            "column 7: expected a field name after `sort`, found end of query"
        );
        assert_eq!(
            err("| fields a,"),
            "column 12: expected a field name after `,`, found end of query"
        );
        assert_eq!(
            err("exists(1x)"),
            "column 8: expected a field name after `exists(`, found `1x`"
        );
        assert_eq!(
            err("1x == 2"),
            "column 1: expected a field name, found `1x`"
        );
        assert_eq!(
            err("() "),
            "column 2: expected a condition after `(`, found `)`"
        );
    }
}
