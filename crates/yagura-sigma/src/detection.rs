//! The detection section [RS Detection]: search identifiers, field items with modifiers,
//! keyword lists, and the condition, turned into a boolean expression over leaf predicates.

use crate::condition::{self, Cond};
use crate::matcher::{CmpOp, Matcher, RefMode, TimePart};
use crate::modifier::{self, Modifier};
use crate::pattern::Pattern;
use crate::RuleError;
use serde_yaml::{Mapping, Value};

use crate::lazy_regex::LazyRegex;
use std::collections::HashMap;

/// A leaf predicate: one matcher applied to one field (or, for keywords, to every value).
#[derive(Clone, Debug)]
pub struct Leaf {
    /// Field name as written in the rule; `None` for keyword searches.
    pub field: Option<String>,
    /// The comparison.
    pub matcher: Matcher,
}

/// A boolean expression over leaf predicates.
#[derive(Clone, Debug)]
pub enum Expr {
    /// All must hold (empty: true).
    And(Vec<Expr>),
    /// One must hold (empty: false).
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A predicate.
    Leaf(Leaf),
}

impl Expr {
    /// Visits every leaf.
    pub fn for_each_leaf<'a>(&'a self, f: &mut impl FnMut(&'a Leaf)) {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.for_each_leaf(f)),
            Expr::Not(e) => e.for_each_leaf(f),
            Expr::Leaf(l) => f(l),
        }
    }

    /// Rewrites every leaf (field mapping); a leaf may become a sub-expression.
    pub fn map_leaves(&self, f: &mut impl FnMut(&Leaf) -> Expr) -> Expr {
        match self {
            Expr::And(v) => Expr::And(v.iter().map(|e| e.map_leaves(f)).collect()),
            Expr::Or(v) => Expr::Or(v.iter().map(|e| e.map_leaves(f)).collect()),
            Expr::Not(e) => Expr::Not(Box::new(e.map_leaves(f))),
            Expr::Leaf(l) => f(l),
        }
    }
}

/// Values a placeholder (`%name%`, with `|expand`) resolves to.
pub type Placeholders = HashMap<String, Vec<String>>;

/// A parsed detection section.
#[derive(Clone, Debug)]
pub struct Detection {
    /// Search identifiers in document order.
    pub searches: Vec<(String, Expr)>,
    /// The condition; a list of conditions is ORed.
    pub condition: Expr,
}

/// Parses a `detection` (or filter `filter`) mapping. `skip` names keys that are not searches.
pub fn parse_detection(
    map: &Mapping,
    skip: &[&str],
    placeholders: &Placeholders,
) -> Result<Detection, RuleError> {
    let mut searches = Vec::new();
    let mut conditions = Vec::new();
    for (k, v) in map {
        let name = k
            .as_str()
            .ok_or_else(|| RuleError::Structure("detection keys must be strings".into()))?;
        if name == "condition" {
            match v {
                Value::String(s) => conditions.push(s.clone()),
                Value::Sequence(seq) => {
                    for c in seq {
                        conditions.push(
                            c.as_str()
                                .ok_or_else(|| {
                                    RuleError::Condition("conditions must be strings".into())
                                })?
                                .to_string(),
                        );
                    }
                }
                _ => {
                    return Err(RuleError::Condition(
                        "condition must be a string or a list".into(),
                    ))
                }
            }
            continue;
        }
        if skip.contains(&name) {
            continue;
        }
        if name == "timeframe" {
            return Err(RuleError::Structure(
                "'timeframe' belongs to Sigma v1 aggregations; v2 uses correlation rules".into(),
            ));
        }
        searches.push((name.to_string(), search(v, placeholders)?));
    }
    if conditions.is_empty() {
        return Err(RuleError::Condition("missing 'condition'".into()));
    }
    let mut ors = Vec::new();
    for c in &conditions {
        let cond = condition::parse(c).map_err(RuleError::Condition)?;
        ors.push(resolve(&cond, &searches)?);
    }
    let condition = if ors.len() == 1 {
        ors.remove(0)
    } else {
        Expr::Or(ors)
    };
    Ok(Detection {
        searches,
        condition,
    })
}

fn resolve(c: &Cond, searches: &[(String, Expr)]) -> Result<Expr, RuleError> {
    let find = |name: &str| {
        searches
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| e.clone())
            .ok_or_else(|| RuleError::Condition(format!("unknown search identifier '{name}'")))
    };
    let pick = |pat: &str| -> Result<Vec<Expr>, RuleError> {
        let names = condition::select(pat, searches.iter().map(|(n, _)| n.as_str()));
        if names.is_empty() {
            return Err(RuleError::Condition(format!(
                "pattern '{pat}' matches no search identifier"
            )));
        }
        names.into_iter().map(find).collect()
    };
    Ok(match c {
        Cond::Ident(n) => find(n)?,
        Cond::OneOf(p) => Expr::Or(pick(p)?),
        Cond::AllOf(p) => Expr::And(pick(p)?),
        Cond::And(a, b) => Expr::And(vec![resolve(a, searches)?, resolve(b, searches)?]),
        Cond::Or(a, b) => Expr::Or(vec![resolve(a, searches)?, resolve(b, searches)?]),
        Cond::Not(a) => Expr::Not(Box::new(resolve(a, searches)?)),
    })
}

fn search(v: &Value, ph: &Placeholders) -> Result<Expr, RuleError> {
    match v {
        Value::Mapping(m) => {
            let mut items = Vec::with_capacity(m.len());
            for (k, val) in m {
                let key = match k {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err(RuleError::Structure("field names must be strings".into())),
                };
                items.push(item(&key, val, ph)?);
            }
            Ok(Expr::And(items))
        }
        Value::Sequence(seq) if seq.iter().all(|x| !x.is_mapping() && !x.is_sequence()) => {
            // A plain list is a keyword search; its items are ORed.
            item("", v, ph)
        }
        Value::Sequence(seq) => Ok(Expr::Or(
            seq.iter()
                .map(|x| search(x, ph))
                .collect::<Result<_, _>>()?,
        )),
        Value::Null => Err(RuleError::Structure("a search identifier is empty".into())),
        scalar => item("", scalar, ph),
    }
}

/// A scalar rule value.
#[derive(Clone, Debug)]
enum Scalar {
    Str(String),
    Num(String, f64),
    Bool(bool),
    Null,
}

fn scalars(v: &Value) -> Result<Vec<Scalar>, String> {
    let one = |x: &Value| -> Result<Scalar, String> {
        Ok(match x {
            Value::String(s) => Scalar::Str(s.clone()),
            Value::Number(n) => Scalar::Num(n.to_string(), n.as_f64().unwrap_or(f64::NAN)),
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Null => Scalar::Null,
            Value::Tagged(t) => return Err(format!("YAML tag {} is not a Sigma value", t.tag)),
            _ => return Err("a value must be a scalar or a list of scalars".into()),
        })
    };
    match v {
        Value::Sequence(seq) if seq.is_empty() => Ok(vec![Scalar::Null]),
        Value::Sequence(seq) => seq.iter().map(one).collect(),
        x => Ok(vec![one(x)?]),
    }
}

fn item(key: &str, v: &Value, ph: &Placeholders) -> Result<Expr, RuleError> {
    let err = |reason: String| RuleError::Modifier {
        field: key.to_string(),
        reason,
    };
    let (field, mods) = modifier::parse_key(key).map_err(err)?;
    let values = scalars(v).map_err(err)?;
    let field = (!field.is_empty()).then(|| field.to_string());
    build_item(field, &mods, &values, ph).map_err(|e| match e {
        ItemError::Reason(r) => err(r),
        ItemError::Regex(r) => RuleError::Regex {
            field: key.to_string(),
            reason: r,
        },
        ItemError::Placeholder(p) => RuleError::Placeholder(p),
    })
}

enum ItemError {
    Reason(String),
    Regex(String),
    Placeholder(String),
}

impl From<String> for ItemError {
    fn from(s: String) -> Self {
        ItemError::Reason(s)
    }
}

fn leaf(field: &Option<String>, matcher: Matcher) -> Expr {
    Expr::Leaf(Leaf {
        field: field.clone(),
        matcher,
    })
}

fn build_item(
    field: Option<String>,
    mods: &[Modifier],
    values: &[Scalar],
    ph: &Placeholders,
) -> Result<Expr, ItemError> {
    use Modifier::*;
    let has = |m: Modifier| mods.contains(&m);
    let all = has(All);
    let neq = has(Neq);
    let cased = has(Cased);
    let wrap = |leaves: Vec<Expr>| -> Expr {
        let e = if all {
            Expr::And(leaves)
        } else {
            Expr::Or(leaves)
        };
        if neq {
            Expr::Not(Box::new(e))
        } else {
            e
        }
    };
    let only = |allowed: &[Modifier], what: &str| -> Result<(), ItemError> {
        match mods.iter().find(|m| !allowed.contains(m)) {
            Some(m) => Err(format!("modifier {m:?} cannot be combined with {what}").into()),
            None => Ok(()),
        }
    };
    let is_null = values.iter().any(|v| matches!(v, Scalar::Null));
    if is_null {
        if values.len() > 1 {
            return Err(
                "null must not share a list with other values [RS Special Field Values]"
                    .to_string()
                    .into(),
            );
        }
        if field.is_none() {
            return Err("null must be bound to a field".to_string().into());
        }
        only(&[Neq], "a null value")?;
        return Ok(wrap(vec![leaf(&field, Matcher::Null)]));
    }

    if has(Exists) {
        if mods.len() != 1 {
            return Err("exists must be the only modifier".to_string().into());
        }
        if field.is_none() {
            return Err("exists needs a field".to_string().into());
        }
        return match values {
            [Scalar::Bool(b)] => Ok(leaf(&field, Matcher::Exists(*b))),
            _ => Err("exists takes one boolean value (true or false)"
                .to_string()
                .into()),
        };
    }

    if has(Re) {
        only(&[Re, ReIgnoreCase, ReMultiline, ReDotAll, All, Neq], "re")?;
        let mut leaves = Vec::new();
        for v in values {
            let Scalar::Str(s) = v else {
                return Err("re needs a string value".to_string().into());
            };
            // Flags go into the pattern text so that equal regexes deduplicate exactly.
            let mut flags = String::new();
            for (m, f) in [(ReIgnoreCase, 'i'), (ReMultiline, 'm'), (ReDotAll, 's')] {
                if has(m) {
                    flags.push(f);
                }
            }
            let text = if flags.is_empty() {
                s.clone()
            } else {
                format!("(?{flags}){s}")
            };
            let re = LazyRegex::new(text).map_err(ItemError::Regex)?;
            leaves.push(leaf(&field, Matcher::Regex(re)));
        }
        return Ok(wrap(leaves));
    }
    if let Some(m) = mods
        .iter()
        .find(|m| matches!(m, ReIgnoreCase | ReMultiline | ReDotAll))
    {
        return Err(format!("{m:?} is a sub-modifier of re").into());
    }

    if has(Cidr) {
        only(&[Cidr, All, Neq], "cidr")?;
        let mut leaves = Vec::new();
        for v in values {
            let Scalar::Str(s) = v else {
                return Err("cidr needs a network such as 10.0.0.0/8".to_string().into());
            };
            leaves.push(leaf(&field, Matcher::Cidr(crate::matcher::Cidr::parse(s)?)));
        }
        return Ok(wrap(leaves));
    }

    let cmp = mods.iter().find_map(|m| match m {
        Lt => Some(CmpOp::Lt),
        Lte => Some(CmpOp::Lte),
        Gt => Some(CmpOp::Gt),
        Gte => Some(CmpOp::Gte),
        _ => None,
    });
    let part = mods.iter().find_map(|m| match m {
        Minute => Some(TimePart::Minute),
        Hour => Some(TimePart::Hour),
        Day => Some(TimePart::Day),
        Week => Some(TimePart::Week),
        Month => Some(TimePart::Month),
        Year => Some(TimePart::Year),
        _ => None,
    });
    if cmp.is_some() || part.is_some() {
        only(
            &[
                Lt, Lte, Gt, Gte, Minute, Hour, Day, Week, Month, Year, All, Neq,
            ],
            "numeric comparison",
        )?;
        let mut leaves = Vec::new();
        for v in values {
            let Scalar::Num(_, n) = v else {
                return Err(
                    "lt/lte/gt/gte and time-part modifiers need a number (not a quoted string)"
                        .to_string()
                        .into(),
                );
            };
            let m = match part {
                Some(p) => Matcher::TimePart(p, cmp.unwrap_or(CmpOp::Eq), *n),
                None => Matcher::Cmp(cmp.unwrap_or(CmpOp::Eq), *n),
            };
            leaves.push(leaf(&field, m));
        }
        return Ok(wrap(leaves));
    }

    if has(FieldRef) {
        only(
            &[FieldRef, Contains, StartsWith, EndsWith, Cased, All, Neq],
            "fieldref",
        )?;
        let mode = if has(Contains) {
            RefMode::Contains
        } else if has(StartsWith) {
            RefMode::StartsWith
        } else if has(EndsWith) {
            RefMode::EndsWith
        } else {
            RefMode::Equals
        };
        let mut leaves = Vec::new();
        for v in values {
            let Scalar::Str(s) = v else {
                return Err("fieldref needs a field name".to_string().into());
            };
            leaves.push(leaf(
                &field,
                Matcher::FieldRef {
                    field: s.clone(),
                    mode,
                    cased,
                },
            ));
        }
        return Ok(wrap(leaves));
    }

    // String matching with transformation modifiers applied left to right.
    let mut leaves = Vec::new();
    for v in values {
        let texts: Vec<String> = match v {
            Scalar::Str(s) if has(Expand) => expand(s, ph)?,
            Scalar::Str(s) => vec![s.clone()],
            Scalar::Num(t, _) => vec![t.clone()],
            Scalar::Bool(b) => vec![b.to_string()],
            Scalar::Null => {
                return Err("null must not share a list with other values"
                    .to_string()
                    .into())
            }
        };
        let mut pats: Vec<Pattern> = texts
            .iter()
            .map(|t| match v {
                Scalar::Str(_) => Pattern::parse(t),
                _ => Pattern::literal(t),
            })
            .collect();
        for m in mods {
            pats = modifier::transform(*m, pats)?;
        }
        for p in pats {
            let pat = if cased { p } else { p.to_lowercase() };
            leaves.push(leaf(&field, Matcher::Str { pat, cased }));
        }
    }
    if field.is_none() {
        // Keywords match anywhere in a value (substring), as full-text search does.
        for l in &mut leaves {
            if let Expr::Leaf(Leaf {
                matcher: Matcher::Str { pat, .. },
                ..
            }) = l
            {
                *pat = std::mem::take(pat).contains();
            }
        }
    }
    Ok(wrap(leaves))
}

/// Resolves `%name%` placeholders (unescaped) into every combination of configured values.
fn expand(s: &str, ph: &Placeholders) -> Result<Vec<String>, ItemError> {
    let mut outs = vec![String::new()];
    let mut rest = s;
    while let Some(start) = find_unescaped_percent(rest) {
        let after = &rest[start + 1..];
        let Some(end) = after.find('%') else { break };
        let name = &after[..end];
        let vals = ph
            .get(name)
            .ok_or_else(|| ItemError::Placeholder(name.to_string()))?;
        let prefix = rest[..start].replace("\\%", "%");
        let mut next = Vec::with_capacity(outs.len() * vals.len());
        for o in &outs {
            for v in vals {
                next.push(format!("{o}{prefix}{v}"));
            }
        }
        outs = next;
        rest = &after[end + 1..];
    }
    let tail = rest.replace("\\%", "%");
    Ok(outs.into_iter().map(|o| o + &tail).collect())
}

fn find_unescaped_percent(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len()).find(|&i| b[i] == b'%' && (i == 0 || b[i - 1] != b'\\'))
}
