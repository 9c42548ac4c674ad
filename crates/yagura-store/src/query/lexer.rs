//! Tokens of the query language.

use super::{column_of, ParseError};

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// A bare word: field name, keyword, number, duration or full-text word.
    Word(String),
    /// A quoted string, escapes already decoded.
    Str(String),
    /// A `backquoted` field name.
    Field(String),
    Pipe,
    LParen,
    RParen,
    Comma,
    Op(OpTok),
    Eof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpTok {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    EqNoCase,
    /// A single `=` (used by `span=`, and accepted as `==` in predicates).
    Assign,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

fn is_special(c: char) -> bool {
    matches!(
        c,
        '|' | '(' | ')' | ',' | '"' | '\'' | '`' | '=' | '!' | '<' | '>'
    )
}

/// Splits `src` into tokens; the last token is always `Eof` at `src.len()`.
pub(super) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    let mut it = src.char_indices().peekable();
    while let Some(&(start, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        let single = |tok: Tok| Token {
            tok,
            start,
            end: start + c.len_utf8(),
        };
        match c {
            '|' => {
                it.next();
                out.push(single(Tok::Pipe));
            }
            '(' => {
                it.next();
                out.push(single(Tok::LParen));
            }
            ')' => {
                it.next();
                out.push(single(Tok::RParen));
            }
            ',' => {
                it.next();
                out.push(single(Tok::Comma));
            }
            '=' | '!' | '<' | '>' => {
                it.next();
                let next = it.peek().map(|&(_, n)| n);
                let (op, len) = match (c, next) {
                    ('=', Some('=')) => (OpTok::Eq, 2),
                    ('=', Some('~')) => (OpTok::EqNoCase, 2),
                    ('=', _) => (OpTok::Assign, 1),
                    ('!', Some('=')) => (OpTok::Ne, 2),
                    ('<', Some('=')) => (OpTok::Le, 2),
                    ('<', _) => (OpTok::Lt, 1),
                    ('>', Some('=')) => (OpTok::Ge, 2),
                    ('>', _) => (OpTok::Gt, 1),
                    _ => {
                        return Err(ParseError::at(
                            src,
                            start,
                            "`!=` (use `not` to negate a condition)",
                            "`!`",
                        ))
                    }
                };
                if len == 2 {
                    it.next();
                }
                out.push(Token {
                    tok: Tok::Op(op),
                    start,
                    end: start + len,
                });
            }
            '"' | '\'' => {
                it.next();
                let mut s = String::new();
                let mut closed = None;
                while let Some((i, ch)) = it.next() {
                    if ch == c {
                        closed = Some(i + 1);
                        break;
                    }
                    if ch != '\\' {
                        s.push(ch);
                        continue;
                    }
                    match it.next() {
                        None => break,
                        Some((_, 'n')) => s.push('\n'),
                        Some((_, 't')) => s.push('\t'),
                        Some((_, 'r')) => s.push('\r'),
                        Some((_, '\\')) => s.push('\\'),
                        Some((_, '"')) => s.push('"'),
                        Some((_, '\'')) => s.push('\''),
                        Some((_, 'u')) => s.push(unicode_escape(src, i, &mut it)?),
                        // Unknown escapes are kept as written, so regexes like "\d+" work.
                        Some((_, other)) => {
                            s.push('\\');
                            s.push(other);
                        }
                    }
                }
                let Some(end) = closed else {
                    return Err(ParseError::at(
                        src,
                        src.len(),
                        format!(
                            "a closing `{c}` for the string opened at column {}",
                            column_of(src, start)
                        ),
                        "end of query",
                    ));
                };
                out.push(Token {
                    tok: Tok::Str(s),
                    start,
                    end,
                });
            }
            '`' => {
                it.next();
                let mut s = String::new();
                let mut closed = None;
                for (i, ch) in it.by_ref() {
                    if ch == '`' {
                        closed = Some(i + 1);
                        break;
                    }
                    s.push(ch);
                }
                let Some(end) = closed else {
                    return Err(ParseError::at(
                        src,
                        src.len(),
                        format!(
                            "a closing ` for the field name opened at column {}",
                            column_of(src, start)
                        ),
                        "end of query",
                    ));
                };
                if s.is_empty() {
                    return Err(ParseError::at(src, start, "a field name", "``"));
                }
                out.push(Token {
                    tok: Tok::Field(s),
                    start,
                    end,
                });
            }
            _ => {
                let mut end = start;
                while let Some(&(i, ch)) = it.peek() {
                    if ch.is_whitespace() || is_special(ch) {
                        break;
                    }
                    end = i + ch.len_utf8();
                    it.next();
                }
                out.push(Token {
                    tok: Tok::Word(src[start..end].to_string()),
                    start,
                    end,
                });
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

fn hex4(
    src: &str,
    at: usize,
    it: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<u32, ParseError> {
    let mut v = 0u32;
    for _ in 0..4 {
        match it.next() {
            Some((_, h)) if h.is_ascii_hexdigit() => v = v * 16 + h.to_digit(16).unwrap_or(0),
            Some((i, h)) => {
                return Err(ParseError::at(
                    src,
                    i,
                    "four hex digits after `\\u`",
                    format!("`{h}`"),
                ))
            }
            None => {
                return Err(ParseError::at(
                    src,
                    at,
                    "four hex digits after `\\u`",
                    "end of query",
                ))
            }
        }
    }
    Ok(v)
}

/// Decodes the `XXXX` of `\uXXXX` (the backslash is at byte `at`), joining surrogate pairs.
fn unicode_escape(
    src: &str,
    at: usize,
    it: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<char, ParseError> {
    let hi = hex4(src, at, it)?;
    let bad = || ParseError::at(src, at, "a valid `\\uXXXX` escape", "an invalid code point");
    if (0xD800..0xDC00).contains(&hi) {
        // Needs a low surrogate `\uDC00`..`\uDFFF` right after.
        if it.next().map(|(_, c)| c) != Some('\\') || it.next().map(|(_, c)| c) != Some('u') {
            return Err(bad());
        }
        let lo = hex4(src, at, it)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return Err(bad());
        }
        let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
        return char::from_u32(cp).ok_or_else(bad);
    }
    char::from_u32(hi).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_operators_and_words() {
        assert_eq!(
            toks("a==1 b!=x c<2 d<=3 e>4 f>=5 g=~h i=j"),
            vec![
                Tok::Word("a".into()),
                Tok::Op(OpTok::Eq),
                Tok::Word("1".into()),
                Tok::Word("b".into()),
                Tok::Op(OpTok::Ne),
                Tok::Word("x".into()),
                Tok::Word("c".into()),
                Tok::Op(OpTok::Lt),
                Tok::Word("2".into()),
                Tok::Word("d".into()),
                Tok::Op(OpTok::Le),
                Tok::Word("3".into()),
                Tok::Word("e".into()),
                Tok::Op(OpTok::Gt),
                Tok::Word("4".into()),
                Tok::Word("f".into()),
                Tok::Op(OpTok::Ge),
                Tok::Word("5".into()),
                Tok::Word("g".into()),
                Tok::Op(OpTok::EqNoCase),
                Tok::Word("h".into()),
                Tok::Word("i".into()),
                Tok::Op(OpTok::Assign),
                Tok::Word("j".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn lexes_strings_with_escapes() {
        assert_eq!(
            toks(r#""a\"b\\c\n\t\u00e9\ud83d\ude00" 'it\'s' "\d+""#),
            vec![
                Tok::Str("a\"b\\c\n\té😀".into()),
                Tok::Str("it's".into()),
                Tok::Str("\\d+".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn lexes_punctuation_and_backquotes() {
        assert_eq!(
            toks("| ( ) , `my field`"),
            vec![
                Tok::Pipe,
                Tok::LParen,
                Tok::RParen,
                Tok::Comma,
                Tok::Field("my field".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn unclosed_string_names_opening_column() {
        let e = lex(r#"message == "abc"#).unwrap_err();
        assert_eq!(e.column, 16);
        assert_eq!(
            e.to_string(),
            "column 16: expected a closing `\"` for the string opened at column 12, found end of query"
        );
        let e = lex("`abc").unwrap_err();
        assert_eq!(
            e.to_string(),
            "column 5: expected a closing ` for the field name opened at column 1, found end of query"
        );
    }

    #[test]
    fn bad_escapes_and_bang() {
        let e = lex(r#""\u12""#).unwrap_err();
        assert_eq!(e.expected, "four hex digits after `\\u`");
        let e = lex("a ! b").unwrap_err();
        assert_eq!(e.column, 3);
        assert_eq!(e.found, "`!`");
    }
}
