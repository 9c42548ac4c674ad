//! Correlation rule documents [CR].

use crate::rule::Meta;
use crate::RuleError;
use serde_yaml::{Mapping, Value};

/// The seven correlation types of Sigma v2.1 [CR Correlation Types].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum CorrelationType {
    EventCount,
    ValueCount,
    Temporal,
    TemporalOrdered,
    ValueSum,
    ValueAvg,
    ValuePercentile,
}

/// A comparison in a correlation condition.
#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum CorrOp {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl CorrOp {
    /// Applies the comparison.
    pub fn test(self, v: f64, n: f64) -> bool {
        match self {
            CorrOp::Gt => v > n,
            CorrOp::Gte => v >= n,
            CorrOp::Lt => v < n,
            CorrOp::Lte => v <= n,
            CorrOp::Eq => v == n,
            CorrOp::Neq => v != n,
        }
    }

    /// True when reaching the threshold can only happen by growing (fire as soon as it holds).
    pub fn is_lower_bound(self) -> bool {
        matches!(self, CorrOp::Gt | CorrOp::Gte)
    }
}

/// A correlation's `condition`: one or two comparisons (a range), plus `field` for value types.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrCondition {
    /// Comparisons, all of which must hold.
    pub ops: Vec<(CorrOp, f64)>,
    /// `field` (a list for value_count).
    pub fields: Vec<String>,
    /// `percentile` (pySigma extension) for value_percentile.
    pub percentile: Option<f64>,
}

impl CorrCondition {
    /// True when the value satisfies every comparison.
    pub fn test(&self, v: f64) -> bool {
        self.ops.iter().all(|(op, n)| op.test(v, *n))
    }

    /// True when every comparison is a lower bound (`gt`/`gte`): the result can be decided as
    /// soon as events arrive. Otherwise it is decided when the window closes.
    pub fn decides_on_arrival(&self) -> bool {
        self.ops.iter().all(|(op, _)| op.is_lower_bound())
    }
}

/// A field alias: one virtual group-by field read from a different field per rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Alias {
    /// The alias name used in `group-by`.
    pub name: String,
    /// (rule id or name, field) pairs.
    pub fields: Vec<(String, String)>,
}

/// A parsed correlation rule.
#[derive(Clone, Debug)]
pub struct CorrelationRule {
    /// Metadata.
    pub meta: Meta,
    /// Type.
    pub kind: CorrelationType,
    /// Referenced rules (ids or names), in order.
    pub rules: Vec<String>,
    /// `group-by` fields (optional; empty means one group).
    pub group_by: Vec<String>,
    /// `timespan` in milliseconds.
    pub timespan_ms: i64,
    /// `condition`.
    pub condition: CorrCondition,
    /// `aliases`.
    pub aliases: Vec<Alias>,
    /// `generate`: the referenced rules also produce their own alerts.
    pub generate: bool,
}

/// Parses a timespan such as `90s`, `5m`, `1h`, `2d` (also pySigma's `w`, `M`, `y`).
pub fn parse_timespan(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("timespan '{s}' has no unit (s, m, h, d)"))?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("timespan '{s}' does not start with a number"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 7 * 86400,
        "M" => 2_629_746,
        "y" => 31_556_952,
        _ => {
            return Err(format!(
                "timespan '{s}': unknown unit '{unit}' (use s, m, h or d)"
            ))
        }
    };
    if n <= 0 {
        return Err(format!("timespan '{s}' must be positive"));
    }
    Ok(n * secs * 1000)
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, RuleError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Sequence(seq) => seq
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| RuleError::Correlation(format!("'{what}' must hold strings")))
            })
            .collect(),
        _ => Err(RuleError::Correlation(format!(
            "'{what}' must be a string or a list"
        ))),
    }
}

/// Parses the `correlation` mapping of a document.
pub fn parse_correlation(meta: Meta, v: &Value) -> Result<CorrelationRule, RuleError> {
    let err = |s: &str| RuleError::Correlation(s.to_string());
    let m: &Mapping = v
        .as_mapping()
        .ok_or_else(|| err("'correlation' must be a mapping"))?;
    let kind = match m.get("type").and_then(Value::as_str) {
        Some("event_count") => CorrelationType::EventCount,
        Some("value_count") => CorrelationType::ValueCount,
        Some("temporal") => CorrelationType::Temporal,
        Some("temporal_ordered") => CorrelationType::TemporalOrdered,
        Some("value_sum") => CorrelationType::ValueSum,
        Some("value_avg") => CorrelationType::ValueAvg,
        Some("value_percentile") => CorrelationType::ValuePercentile,
        Some(t) => {
            return Err(RuleError::Correlation(format!(
                "unknown correlation type '{t}'"
            )))
        }
        None => return Err(err("missing 'type'")),
    };
    let rules = strings(
        m.get("rules").ok_or_else(|| err("missing 'rules'"))?,
        "rules",
    )?;
    if rules.is_empty() {
        return Err(err("'rules' is empty"));
    }
    // The spec titles group-by "mandatory" but its text says "optionally": we accept its absence
    // (one group for all events), as pySigma does.
    let group_by = match m.get("group-by") {
        None | Some(Value::Null) => Vec::new(),
        Some(g) => strings(g, "group-by")?,
    };
    let timespan_ms = match m.get("timespan").or_else(|| m.get("timeframe")) {
        Some(Value::String(s)) => parse_timespan(s).map_err(RuleError::Correlation)?,
        _ => return Err(err("missing 'timespan'")),
    };
    let generate = match m.get("generate") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err("'generate' must be true or false")),
    };
    let mut aliases = Vec::new();
    if let Some(a) = m.get("aliases") {
        let am = a
            .as_mapping()
            .ok_or_else(|| err("'aliases' must be a mapping"))?;
        for (name, per_rule) in am {
            let name = name
                .as_str()
                .ok_or_else(|| err("alias names must be strings"))?;
            let pm = per_rule
                .as_mapping()
                .ok_or_else(|| err("each alias maps rule names to fields"))?;
            let mut fields = Vec::new();
            for (r, f) in pm {
                match (r.as_str(), f.as_str()) {
                    (Some(r), Some(f)) => fields.push((r.to_string(), f.to_string())),
                    _ => return Err(err("alias entries must be 'rule: field' strings")),
                }
            }
            aliases.push(Alias {
                name: name.to_string(),
                fields,
            });
        }
    }
    let condition = parse_condition(kind, m.get("condition"), rules.len())?;
    if matches!(
        kind,
        CorrelationType::ValueCount
            | CorrelationType::ValueSum
            | CorrelationType::ValueAvg
            | CorrelationType::ValuePercentile
    ) && condition.fields.is_empty()
    {
        return Err(err("value_* correlations need 'field' in the condition"));
    }
    Ok(CorrelationRule {
        meta,
        kind,
        rules,
        group_by,
        timespan_ms,
        condition,
        aliases,
        generate,
    })
}

fn parse_condition(
    kind: CorrelationType,
    v: Option<&Value>,
    n_rules: usize,
) -> Result<CorrCondition, RuleError> {
    let err = |s: String| RuleError::Correlation(s);
    let temporal = matches!(
        kind,
        CorrelationType::Temporal | CorrelationType::TemporalOrdered
    );
    let m = match v {
        None if temporal => {
            // Default for temporal types: every referenced rule must have matched.
            return Ok(CorrCondition {
                ops: vec![(CorrOp::Gte, n_rules as f64)],
                fields: Vec::new(),
                percentile: None,
            });
        }
        None => return Err(err("missing 'condition'".into())),
        Some(Value::String(_)) => return Err(err(
            "a boolean string condition (pySigma extension) is not supported; use a condition map"
                .into(),
        )),
        Some(Value::Mapping(m)) => m,
        Some(_) => return Err(err("'condition' must be a mapping".into())),
    };
    let mut cond = CorrCondition {
        ops: Vec::new(),
        fields: Vec::new(),
        percentile: None,
    };
    for (k, val) in m {
        let k = k.as_str().unwrap_or_default();
        let num = || {
            val.as_f64()
                .ok_or_else(|| RuleError::Correlation(format!("condition '{k}' needs a number")))
        };
        match k {
            "gt" => cond.ops.push((CorrOp::Gt, num()?)),
            "gte" => cond.ops.push((CorrOp::Gte, num()?)),
            "lt" => cond.ops.push((CorrOp::Lt, num()?)),
            "lte" => cond.ops.push((CorrOp::Lte, num()?)),
            "eq" => cond.ops.push((CorrOp::Eq, num()?)),
            "neq" => cond.ops.push((CorrOp::Neq, num()?)),
            "field" => cond.fields = strings(val, "field")?,
            "percentile" => cond.percentile = Some(num()?),
            other => return Err(err(format!("unknown condition key '{other}'"))),
        }
    }
    if cond.ops.is_empty() {
        return Err(err(
            "condition needs one of gt, gte, lt, lte, eq, neq".into()
        ));
    }
    if cond.percentile.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
        return Err(err("'percentile' must be between 0 and 100".into()));
    }
    if cond.ops.len() > 2 {
        return Err(err(
            "condition allows at most two comparisons (a range)".into()
        ));
    }
    Ok(cond)
}
