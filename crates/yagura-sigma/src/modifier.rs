//! Value modifiers ([MOD], [RS Value Modifiers]): parsing a `field|mod|mod` key and applying
//! the transformation modifiers to values, left to right.

use crate::pattern::Pattern;
use base64::Engine as _;

/// One value modifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Exists,
    Cased,
    Neq,
    Windash,
    Re,
    ReIgnoreCase,
    ReMultiline,
    ReDotAll,
    Base64,
    Base64Offset,
    Utf16Le,
    Utf16Be,
    Utf16,
    Lt,
    Lte,
    Gt,
    Gte,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Cidr,
    Expand,
    FieldRef,
}

impl Modifier {
    /// Parses a modifier name as written in rules.
    pub fn parse(name: &str) -> Option<Modifier> {
        use Modifier::*;
        Some(match name {
            "contains" => Contains,
            "startswith" => StartsWith,
            "endswith" => EndsWith,
            "all" => All,
            "exists" => Exists,
            "cased" => Cased,
            "neq" => Neq,
            "windash" => Windash,
            "re" => Re,
            "i" | "ignorecase" => ReIgnoreCase,
            "m" | "multiline" => ReMultiline,
            "s" | "dotall" => ReDotAll,
            "base64" => Base64,
            "base64offset" => Base64Offset,
            "utf16le" | "wide" => Utf16Le,
            "utf16be" => Utf16Be,
            "utf16" => Utf16,
            "lt" => Lt,
            "lte" => Lte,
            "gt" => Gt,
            "gte" => Gte,
            "minute" => Minute,
            "hour" => Hour,
            "day" => Day,
            "week" => Week,
            "month" => Month,
            "year" => Year,
            "cidr" => Cidr,
            "expand" => Expand,
            "fieldref" => FieldRef,
            _ => return None,
        })
    }
}

/// Splits `field|mod1|mod2` into the field name (empty for keyword lists) and its modifiers.
pub fn parse_key(key: &str) -> Result<(&str, Vec<Modifier>), String> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default();
    let mut mods = Vec::new();
    for name in parts {
        match Modifier::parse(name) {
            Some(m) => mods.push(m),
            None => return Err(format!("unknown value modifier '{name}'")),
        }
    }
    Ok((field, mods))
}

/// The characters `windash` makes interchangeable: `-`, `/`, en dash, em dash, horizontal bar.
pub const WINDASH_CHARS: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Most dash characters one `windash` value may hold: each one multiplies the values by five.
pub const WINDASH_MAX_DASHES: usize = 5;

/// `windash` as the specification defines it: every one of the five [`WINDASH_CHARS`], wherever
/// it appears in the value (also inside a word, also an en dash written in the rule), becomes
/// each of the five; a value with n of them gives 5^n values (ORed). pySigma only expands a `-`
/// or `/` that starts an option (`\B[-/]\b`); see `docs/rules.md`. More than
/// [`WINDASH_MAX_DASHES`] dash characters is an error rather than a partial expansion.
pub fn windash(p: &Pattern) -> Result<Vec<Pattern>, String> {
    // Work on the escaped text so wildcards survive; escaping never involves a dash character.
    let text = p.to_string();
    let dashes = text.chars().filter(|c| WINDASH_CHARS.contains(c)).count();
    if dashes > WINDASH_MAX_DASHES {
        return Err(format!(
            "windash: '{text}' has {dashes} dash characters; at most {WINDASH_MAX_DASHES} \
             (5^{WINDASH_MAX_DASHES} values) are expanded"
        ));
    }
    let mut variants: Vec<String> = vec![String::with_capacity(text.len())];
    for c in text.chars() {
        if WINDASH_CHARS.contains(&c) {
            variants = variants
                .iter()
                .flat_map(|v| {
                    WINDASH_CHARS.iter().map(move |d| {
                        let mut n = v.clone();
                        n.push(*d);
                        n
                    })
                })
                .collect();
        } else {
            for v in &mut variants {
                v.push(c);
            }
        }
    }
    Ok(variants.iter().map(|v| Pattern::parse(v)).collect())
}

fn encode_utf16(s: &str, le: bool, bom: bool) -> Result<String, String> {
    if !s.is_ascii() {
        return Err("utf16/wide modifiers accept ASCII text only (as pySigma)".into());
    }
    let mut out = String::with_capacity(s.len() * 2 + 2);
    if bom {
        // FF FE cannot be held in a Rust string; the BOM is represented by U+FEFF's
        // UTF-16LE bytes only when later encoded to base64 (see `bytes_of`).
        out.push('\u{FEFF}');
    }
    for c in s.chars() {
        if le {
            out.push(c);
            out.push('\0');
        } else {
            out.push('\0');
            out.push(c);
        }
    }
    Ok(out)
}

/// The raw bytes a transformed literal stands for (UTF-16 text is stored one byte per char).
fn bytes_of(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        if c == '\u{FEFF}' {
            out.extend_from_slice(&[0xFF, 0xFE]);
        } else if (c as u32) < 0x80 {
            out.push(c as u8);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Applies one transformation modifier to a list of values.
pub fn transform(m: Modifier, values: Vec<Pattern>) -> Result<Vec<Pattern>, String> {
    use Modifier::*;
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        match m {
            Contains => out.push(v.contains()),
            StartsWith => out.push(v.startswith()),
            EndsWith => out.push(v.endswith()),
            Windash => out.extend(windash(&v)?),
            Utf16Le | Utf16Be | Utf16 => {
                for piece in v.pieces() {
                    if let crate::pattern::Piece::Lit(s) = piece {
                        encode_utf16(s, m != Utf16Be, m == Utf16)?;
                    }
                }
                let p = v.map_literals(|s| {
                    encode_utf16(s, m != Utf16Be, m == Utf16).unwrap_or_default()
                });
                out.push(p);
            }
            Base64 => {
                let lit = v
                    .as_literal()
                    .ok_or("base64 cannot encode a value with wildcards")?;
                out.push(Pattern::literal(&b64(&bytes_of(&lit))));
            }
            Base64Offset => {
                let lit = v
                    .as_literal()
                    .ok_or("base64offset cannot encode a value with wildcards")?;
                let bytes = bytes_of(&lit);
                for shift in 0..3usize {
                    let mut padded = vec![b' '; shift];
                    padded.extend_from_slice(&bytes);
                    // Cut the characters that depend on the neighbouring (unknown) bytes.
                    let start = [0, 2, 3][shift];
                    let end_cut = [0, 3, 2][(bytes.len() + shift) % 3];
                    let full = b64(&padded);
                    let end = full.len().saturating_sub(end_cut).max(start);
                    out.push(Pattern::literal(&full[start..end]));
                }
            }
            _ => out.push(v),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64offset_matches_pysigma_vectors() {
        // [MOD base64offset]: the three shifted encodings of "/bin/bash" (pySigma test vectors)
        let v = transform(Modifier::Base64Offset, vec![Pattern::literal("/bin/bash")]).unwrap();
        let s: Vec<String> = v.iter().map(|p| p.as_literal().unwrap()).collect();
        assert_eq!(s, ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
    }

    #[test]
    fn windash_makes_every_dash_character_interchangeable() {
        let lits = |v: &str| -> Vec<String> {
            windash(&Pattern::parse(v))
                .unwrap()
                .iter()
                .map(|p| p.as_literal().unwrap())
                .collect()
        };
        // An option dash, a dash inside a word: 5 × 5 values.
        let v = lits(" -exec a-b");
        assert_eq!(v.len(), 25);
        assert!(v.contains(&" /exec a-b".to_string()));
        assert!(v.contains(&" \u{2015}exec a\u{2014}b".to_string()));
        // An en dash written in the rule is expanded too.
        let v = lits("\u{2013}enc");
        assert_eq!(
            v,
            ["-enc", "/enc", "\u{2013}enc", "\u{2014}enc", "\u{2015}enc"]
        );
        // Wildcards and escapes survive.
        let v = windash(&Pattern::parse("*\\?-x*")).unwrap();
        assert_eq!(v.len(), 5);
        assert!(v.iter().any(|p| p.to_string() == "*\\?/x*"));
        // No dash: the value itself.
        assert_eq!(lits("abc"), ["abc"]);
        // Too many dash characters: an error, not a partial expansion.
        assert!(windash(&Pattern::parse("-a-b-c-d-e-f"))
            .unwrap_err()
            .contains("6 dash characters"));
        assert_eq!(windash(&Pattern::parse("-a-b-c-d-e")).unwrap().len(), 3125);
    }

    #[test]
    fn utf16_and_base64() {
        let v = transform(Modifier::Utf16Le, vec![Pattern::literal("ab")]).unwrap();
        let v = transform(Modifier::Base64, v).unwrap();
        assert_eq!(v[0].as_literal().unwrap(), "YQBiAA==");
        let v = transform(Modifier::Utf16, vec![Pattern::literal("a")]).unwrap();
        let v = transform(Modifier::Base64, v).unwrap();
        assert_eq!(v[0].as_literal().unwrap(), "//5hAA==");
    }
}
