//! Exceptions: occurrences that analysts decided not to see (a scanner's address, a service
//! account, a noisy rule on one host), managed centrally, optionally time-boxed (a snooze).
//!
//! An exception is matched against what an alert is made of (rule, severity, entities,
//! correlation group, tags), the same way when it hides a new occurrence and when it is
//! previewed against the alerts already raised, so the preview ("would have hidden these N
//! alerts in the last 30 days") is exact.

use crate::alert::{Alert, Entities, Severity};
use serde::{Deserialize, Serialize};

/// How a field condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal, ignoring case.
    #[default]
    Equals,
    /// Contains, ignoring case.
    Contains,
    /// Starts with, ignoring case.
    StartsWith,
    /// Ends with, ignoring case.
    EndsWith,
    /// An IP address inside a CIDR network (`10.0.0.0/8`), or equal to a plain address.
    Cidr,
}

/// One condition on a field of the alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldCondition {
    /// `rule_id`, `title`, `severity`, `kind`, `tag`, `technique`, `user`, `host`, `ip`, or
    /// `group.FIELD` (a correlation's group-by value, e.g. `group.source.ip`).
    pub field: String,
    /// How to compare (default `equals`).
    #[serde(default)]
    pub op: Op,
    /// Values: any of them may match.
    pub values: Vec<String>,
}

/// An exception.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Number, from 1 (set when saved).
    #[serde(default)]
    pub id: u64,
    /// A short name.
    pub name: String,
    /// Why (shown with the exception).
    #[serde(default)]
    pub reason: String,
    /// Only this rule (its id or title, case-insensitive); none: every rule.
    #[serde(default)]
    pub rule: Option<String>,
    /// Entity allow-list: users (`*` matches any run of characters: `svc_*`).
    #[serde(default)]
    pub users: Vec<String>,
    /// Entity allow-list: hosts (`*` wildcards).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Entity allow-list: addresses or CIDR networks.
    #[serde(default)]
    pub ips: Vec<String>,
    /// Further conditions, all of which must hold.
    #[serde(default)]
    pub fields: Vec<FieldCondition>,
    /// A snooze: the exception ends at this time (ms); none: until removed.
    #[serde(default)]
    pub until_ms: Option<i64>,
    /// When it was saved (ms).
    #[serde(default)]
    pub created_ms: i64,
    /// Who saved it.
    #[serde(default)]
    pub created_by: String,
    /// Occurrences it hid since it was saved.
    #[serde(default)]
    pub hidden: u64,
    /// When it last hid one (ms).
    #[serde(default)]
    pub last_hidden_ms: Option<i64>,
}

/// What an exception is matched against: an alert, or an occurrence on its way to one.
pub struct Subject<'a> {
    /// Rule id.
    pub rule_id: &'a str,
    /// Rule title.
    pub title: &'a str,
    /// Severity.
    pub severity: Severity,
    /// `detection` or `correlation`.
    pub kind: &'a str,
    /// Entities.
    pub entities: &'a Entities,
    /// Correlation group.
    pub group: &'a [(String, String)],
    /// Tags.
    pub tags: &'a [String],
    /// Techniques.
    pub techniques: &'a [String],
}

impl<'a> Subject<'a> {
    /// The subject of a stored alert.
    pub fn of_alert(a: &'a Alert) -> Subject<'a> {
        Subject {
            rule_id: &a.rule_id,
            title: &a.title,
            severity: a.severity,
            kind: a.kind.as_str(),
            entities: &a.entities,
            group: &a.group,
            tags: &a.tags,
            techniques: &a.techniques,
        }
    }
}

/// Errors in an exception given by a user.
#[derive(Debug, thiserror::Error)]
pub enum ExceptionError {
    /// The exception would hide everything.
    #[error(
        "exception {0:?}: give a rule, entities or field conditions (it would hide every alert)"
    )]
    Empty(String),
    /// A bad value.
    #[error("exception {name:?}: {what}")]
    Invalid {
        /// The exception.
        name: String,
        /// What is wrong.
        what: String,
    },
}

/// `*` wildcards, case-insensitive.
pub(crate) fn glob(pattern: &str, value: &str) -> bool {
    let p = pattern.to_lowercase();
    let v = value.to_lowercase();
    if !p.contains('*') {
        return p == v;
    }
    let parts: Vec<&str> = p.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !v.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 {
            return v.len() >= pos + part.len() && v[pos..].ends_with(part);
        } else {
            match v[pos..].find(part) {
                Some(at) => pos += at + part.len(),
                None => return false,
            }
        }
    }
    true
}

/// `value` is the address `pattern` names, or inside the CIDR network it names.
pub(crate) fn ip_in(pattern: &str, value: &str) -> bool {
    let Ok(ip) = value.trim().parse::<std::net::IpAddr>() else {
        return false;
    };
    match pattern.parse::<ipnet::IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => pattern.parse::<std::net::IpAddr>().is_ok_and(|p| p == ip),
    }
}

impl FieldCondition {
    fn test(&self, value: &str) -> bool {
        let v = value.to_lowercase();
        self.values.iter().any(|want| {
            let w = want.to_lowercase();
            match self.op {
                Op::Equals => v == w,
                Op::Contains => v.contains(&w),
                Op::StartsWith => v.starts_with(&w),
                Op::EndsWith => v.ends_with(&w),
                Op::Cidr => ip_in(want, value),
            }
        })
    }

    fn matches(&self, s: &Subject<'_>) -> bool {
        let one = |v: &str| self.test(v);
        match self.field.as_str() {
            "rule_id" => one(s.rule_id),
            "title" => one(s.title),
            "severity" => one(s.severity.as_str()),
            "kind" => one(s.kind),
            "tag" => s.tags.iter().any(|t| one(t)),
            "technique" => s.techniques.iter().any(|t| one(t)),
            "user" => s.entities.users.iter().any(|t| one(t)),
            "host" => s.entities.hosts.iter().any(|t| one(t)),
            "ip" => s.entities.ips.iter().any(|t| one(t)),
            f => match f.strip_prefix("group.") {
                Some(g) => s.group.iter().any(|(k, v)| k == g && one(v)),
                None => false,
            },
        }
    }
}

impl Exception {
    /// Checks the exception before it is saved.
    pub fn validate(&self) -> Result<(), ExceptionError> {
        let bad = |what: String| ExceptionError::Invalid {
            name: self.name.clone(),
            what,
        };
        if self.name.trim().is_empty() {
            return Err(bad("a name is required".into()));
        }
        if self.rule.is_none()
            && self.users.is_empty()
            && self.hosts.is_empty()
            && self.ips.is_empty()
            && self.fields.is_empty()
        {
            return Err(ExceptionError::Empty(self.name.clone()));
        }
        for ip in &self.ips {
            let ok = ip.parse::<ipnet::IpNet>().is_ok() || ip.parse::<std::net::IpAddr>().is_ok();
            if !ok {
                return Err(bad(format!(
                    "`{ip}` is neither an address nor a CIDR network"
                )));
            }
        }
        const FIELDS: [&str; 9] = [
            "rule_id",
            "title",
            "severity",
            "kind",
            "tag",
            "technique",
            "user",
            "host",
            "ip",
        ];
        for f in &self.fields {
            if !FIELDS.contains(&f.field.as_str()) && !f.field.starts_with("group.") {
                return Err(bad(format!(
                    "field `{}`: expected one of {} or group.FIELD",
                    f.field,
                    FIELDS.join(", ")
                )));
            }
            if f.values.is_empty() {
                return Err(bad(format!("field `{}`: no values", f.field)));
            }
            if f.op == Op::Cidr {
                for v in &f.values {
                    if v.parse::<ipnet::IpNet>().is_err() && v.parse::<std::net::IpAddr>().is_err()
                    {
                        return Err(bad(format!("field `{}`: `{v}` is not a network", f.field)));
                    }
                }
            }
        }
        Ok(())
    }

    /// True while the exception applies at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.until_ms.is_none_or(|u| now_ms < u)
    }

    /// True when the exception hides `s`.
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        if let Some(r) = &self.rule {
            if !r.eq_ignore_ascii_case(s.rule_id) && !r.eq_ignore_ascii_case(s.title) {
                return false;
            }
        }
        let lists = !self.users.is_empty() || !self.hosts.is_empty() || !self.ips.is_empty();
        if lists {
            let e = s.entities;
            let hit = e.users.iter().any(|u| self.users.iter().any(|p| glob(p, u)))
                || e.hosts.iter().any(|h| self.hosts.iter().any(|p| glob(p, h)))
                || e.ips.iter().any(|i| self.ips.iter().any(|p| ip_in(p, i)))
                // A correlation grouped by an address or user names it in its group too.
                || s.group.iter().any(|(_, v)| {
                    self.ips.iter().any(|p| ip_in(p, v))
                        || self.users.iter().any(|p| glob(p, v))
                        || self.hosts.iter().any(|p| glob(p, v))
                });
            if !hit {
                return false;
            }
        }
        self.fields.iter().all(|f| f.matches(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject<'a>(e: &'a Entities, group: &'a [(String, String)]) -> Subject<'a> {
        Subject {
            rule_id: "89f23779",
            title: "Many Failed SSH Logons From One Source Address",
            severity: Severity::Medium,
            kind: "correlation",
            entities: e,
            group,
            tags: &[],
            techniques: &[],
        }
    }

    fn exception() -> Exception {
        Exception {
            id: 0,
            name: "scanner".into(),
            reason: String::new(),
            rule: None,
            users: Vec::new(),
            hosts: Vec::new(),
            ips: Vec::new(),
            fields: Vec::new(),
            until_ms: None,
            created_ms: 0,
            created_by: String::new(),
            hidden: 0,
            last_hidden_ms: None,
        }
    }

    #[test]
    fn rule_entities_and_fields_all_have_to_match() {
        let mut e = Entities::default();
        Entities::add(&mut e.ips, "192.0.2.7");
        Entities::add(&mut e.users, "svc_backup");
        let group = vec![("source.ip".to_string(), "192.0.2.7".to_string())];
        let s = subject(&e, &group);
        let mut x = exception();
        x.ips = vec!["192.0.2.0/24".into()];
        assert!(x.matches(&s));
        x.rule = Some("many failed ssh logons from one source address".into());
        assert!(x.matches(&s));
        x.rule = Some("other".into());
        assert!(!x.matches(&s));
        let mut x = exception();
        x.users = vec!["svc_*".into()];
        assert!(x.matches(&s));
        x.users = vec!["admin*".into()];
        assert!(!x.matches(&s));
        let mut x = exception();
        x.fields = vec![FieldCondition {
            field: "group.source.ip".into(),
            op: Op::Cidr,
            values: vec!["192.0.2.0/28".into()],
        }];
        assert!(x.matches(&s));
        x.fields.push(FieldCondition {
            field: "severity".into(),
            op: Op::Equals,
            values: vec!["high".into()],
        });
        assert!(!x.matches(&s));
    }

    #[test]
    fn validation_names_the_problem_and_snoozes_end() {
        assert!(matches!(
            exception().validate(),
            Err(ExceptionError::Empty(_))
        ));
        let mut x = exception();
        x.ips = vec!["not-an-ip".into()];
        let e = x.validate().unwrap_err().to_string();
        assert!(e.contains("not-an-ip"), "{e}");
        let mut x = exception();
        x.fields = vec![FieldCondition {
            field: "colour".into(),
            op: Op::Equals,
            values: vec!["red".into()],
        }];
        assert!(x.validate().unwrap_err().to_string().contains("colour"));
        x.until_ms = Some(1000);
        assert!(x.active(999) && !x.active(1000));
    }

    #[test]
    fn globs() {
        assert!(glob("svc_*", "SVC_backup"));
        assert!(glob("*-dc01", "corp-dc01"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("exact", "EXACT"));
    }
}
