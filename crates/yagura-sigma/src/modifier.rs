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

/// `windash`: every `-` or `/` that starts an option (a non-word character or the start before
/// it, a word character after it) becomes each of `-`, `/`, `–`, `—`, `―` (pySigma's `\B[-/]\b`).
pub fn windash(p: &Pattern) -> Vec<Pattern> {
    const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    // Work on the escaped text so wildcards survive; a wildcard counts as a non-word character.
    let chars: Vec<char> = p.to_string().chars().collect();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut variants: Vec<String> = vec![String::new()];
    for (i, &c) in chars.iter().enumerate() {
        let before_ok = i == 0 || !is_word(chars[i - 1]);
        let after_ok = chars.get(i + 1).is_some_and(|&n| is_word(n));
        let escaped = i >= 1 && chars[i - 1] == '\\' && (i < 2 || chars[i - 2] != '\\');
        if (c == '-' || c == '/') && before_ok && after_ok && !escaped && variants.len() < 3125 {
            variants = variants
                .iter()
                .flat_map(|v| {
                    DASHES.iter().map(move |d| {
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
    variants.iter().map(|v| Pattern::parse(v)).collect()
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
            Windash => out.extend(windash(&v)),
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
    fn windash_expands_option_dashes_only() {
        let v = windash(&Pattern::parse(" -exec a-b"));
        assert_eq!(v.len(), 5);
        assert!(v.iter().any(|p| p.as_literal().unwrap() == " /exec a-b"));
        assert!(v
            .iter()
            .any(|p| p.as_literal().unwrap() == " \u{2015}exec a-b"));
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
