//! Leaf predicates: how one rule value is compared with one event value.
//!
//! Strings are compared case-insensitively (Unicode-aware) unless `cased`; regexes are
//! case-sensitive unless `|i`. Numbers from the rule compare equal to their decimal text.

use crate::lazy_regex::LazyRegex;
use crate::pattern::{lowercase_into, Pattern};
use std::net::IpAddr;
use yagura_event::Kind;

/// Numeric comparison operator (`lt`, `lte`, `gt`, `gte`, or equality for time parts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum CmpOp {
    Lt,
    Lte,
    Gt,
    Gte,
    Eq,
}

impl CmpOp {
    /// Applies the operator.
    pub fn test(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Lte => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Gte => a >= b,
            CmpOp::Eq => a == b,
        }
    }
}

/// Part of a timestamp selected by the `minute`…`year` modifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// An IPv4 or IPv6 network for `cidr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8` or `fe80::/10`; host bits must be zero (as pySigma's strict parse).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a,
                p.parse::<u8>()
                    .map_err(|_| format!("invalid prefix in '{s}'"))?,
            ),
            None => (s, if s.contains(':') { 128 } else { 32 }),
        };
        let net: IpAddr = addr.parse().map_err(|_| format!("invalid network '{s}'"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(format!("prefix /{prefix} too long in '{s}'"));
        }
        let c = Cidr { net, prefix };
        if c.masked(net) != Some(bits(net)) {
            return Err(format!("'{s}' has host bits set"));
        }
        Ok(c)
    }

    fn masked(&self, ip: IpAddr) -> Option<u128> {
        let (max, v) = match (self.net, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) => (32u32, bits(ip)),
            (IpAddr::V6(_), IpAddr::V6(_)) => (128u32, bits(ip)),
            _ => return None,
        };
        let host = max - u32::from(self.prefix);
        Some(if host >= 128 { 0 } else { (v >> host) << host })
    }

    /// True when `ip` (text) is inside the network.
    pub fn contains(&self, ip: &str) -> bool {
        let ip = ip.trim();
        let ip = ip
            .strip_prefix("::ffff:")
            .filter(|_| self.net.is_ipv4())
            .unwrap_or(ip);
        match ip.parse::<IpAddr>() {
            Ok(a) => self.masked(a) == Some(bits(self.net)),
            Err(_) => false,
        }
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// How a `fieldref` compares the two fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum RefMode {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// One comparison of a rule against a field's value.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Wildcard pattern; literals are lower-cased unless `cased`.
    Str {
        /// The pattern (lower-cased when not cased).
        pat: Pattern,
        /// Case-sensitive comparison.
        cased: bool,
    },
    /// `re`, with flags folded into the regex.
    Regex(LazyRegex),
    /// `cidr`.
    Cidr(Cidr),
    /// `lt`/`lte`/`gt`/`gte`.
    Cmp(CmpOp, f64),
    /// `minute`…`year`, optionally combined with a comparison.
    TimePart(TimePart, CmpOp, f64),
    /// `exists: true/false`.
    Exists(bool),
    /// `null`: the field is missing or null.
    Null,
    /// `fieldref`: compare with another field of the same event.
    FieldRef {
        /// The other field (after field mapping).
        field: String,
        /// Comparison mode.
        mode: RefMode,
        /// Case-sensitive.
        cased: bool,
    },
}

impl Matcher {
    /// A key that identifies equal matchers, used to deduplicate predicates across rules.
    pub fn dedup_key(&self) -> String {
        match self {
            Matcher::Str { pat, cased } => format!("s{}{pat}", u8::from(*cased)),
            Matcher::Regex(r) => format!("r{}", r.as_str()),
            other => format!("{other:?}"),
        }
    }

    /// Tests one value. `scratch` is reused for case folding.
    pub fn matches_value(&self, value: &str, kind: Kind, scratch: &mut String) -> bool {
        match self {
            Matcher::Str { pat, cased: true } => kind != Kind::Null && pat.matches(value),
            Matcher::Str { pat, cased: false } => {
                kind != Kind::Null && pat.matches(lowercase_into(value, scratch))
            }
            Matcher::Regex(r) => kind != Kind::Null && r.is_match(value),
            Matcher::Cidr(c) => c.contains(value),
            Matcher::Cmp(op, n) => parse_number(value).is_some_and(|v| op.test(v, *n)),
            Matcher::TimePart(part, op, n) => {
                time_part(value, *part).is_some_and(|v| op.test(v as f64, *n))
            }
            Matcher::Exists(_) | Matcher::Null | Matcher::FieldRef { .. } => false,
        }
    }

    /// `fieldref` comparison of two values.
    pub fn matches_ref(mode: RefMode, cased: bool, value: &str, other: &str) -> bool {
        let (v, o);
        if cased {
            (v, o) = (value.to_string(), other.to_string());
        } else {
            (v, o) = (value.to_lowercase(), other.to_lowercase());
        }
        match mode {
            RefMode::Equals => v == o,
            RefMode::Contains => v.contains(&o),
            RefMode::StartsWith => v.starts_with(&o),
            RefMode::EndsWith => v.ends_with(&o),
        }
    }
}

/// Parses a decimal (or `0x` hexadecimal) number from event text.
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Extracts a part of a timestamp written `YYYY-MM-DD[T ]HH:MM[:SS…]` (no time zone conversion).
pub fn time_part(s: &str, part: TimePart) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let d = b.get(from..from + len)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(d).ok()?.parse().ok()
    };
    let year = num(0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = num(5, 2)?;
    let day = num(8, 2)?;
    Some(match part {
        TimePart::Year => year,
        TimePart::Month => month,
        TimePart::Day => day,
        TimePart::Hour => num(11, 2)?,
        TimePart::Minute => num(14, 2)?,
        TimePart::Week => iso_week(year, month, day)?,
    })
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn iso_week(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let weekday = (days + 3).rem_euclid(7) + 1; // 1 = Monday
    let ordinal = days - days_from_civil(y, 1, 1) + 1;
    let week = (ordinal - weekday + 10) / 7;
    if week < 1 {
        let prev = days_from_civil(y - 1, 12, 28);
        let pw = (prev + 3).rem_euclid(7) + 1;
        let po = prev - days_from_civil(y - 1, 1, 1) + 1;
        return Some((po - pw + 10) / 7);
    }
    if week == 53 {
        let dec28 = days_from_civil(y, 12, 28);
        let last =
            (dec28 - days_from_civil(y, 1, 1) + 1 - ((dec28 + 3).rem_euclid(7) + 1) + 10) / 7;
        if week > last {
            return Some(1);
        }
    }
    Some(week)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_v4_v6_and_strictness() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.1.2.3"));
        assert!(!c.contains("11.0.0.1"));
        assert!(!c.contains("not an ip"));
        assert!(Cidr::parse("10.0.0.1/8").is_err());
        let c6 = Cidr::parse("fe80::/10").unwrap();
        assert!(c6.contains("fe80::1"));
        assert!(!c6.contains("2001:db8::1"));
        assert!(!c6.contains("10.0.0.1"));
        assert!(Cidr::parse("::/0").unwrap().contains("::1"));
    }

    #[test]
    fn time_parts() {
        let t = "2024-12-30T23:15:00Z";
        assert_eq!(time_part(t, TimePart::Year), Some(2024));
        assert_eq!(time_part(t, TimePart::Hour), Some(23));
        assert_eq!(time_part(t, TimePart::Minute), Some(15));
        assert_eq!(time_part(t, TimePart::Week), Some(1)); // ISO week 1 of 2025
        assert_eq!(time_part("2025-06-15 08:00:00", TimePart::Week), Some(24));
        assert_eq!(time_part("2021-01-03", TimePart::Week), Some(53));
    }
}
