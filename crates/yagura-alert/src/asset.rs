//! Asset context: an inventory of hosts, users and networks with their criticality and tags,
//! which raises or lowers the severity of the alerts that involve them (risk-based alerting).
//!
//! The inventory is a CSV file (`kind,name,criticality,tags,owner`) or the same rows through
//! the API; it is kept in the alert database, so that API changes survive restarts. `name` is a
//! host or user name (`*` wildcards, case-insensitive) or, for `kind = ip`, an address or CIDR
//! network. An alert takes the highest criticality among its entities: `critical` raises its
//! severity two levels, `high` one, `medium` none, `low` lowers it one (never below
//! informational, never above critical).

use crate::alert::{Entities, Severity};
use serde::{Deserialize, Serialize};

/// How much an asset matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    /// Lab machines, test accounts: one level down.
    Low,
    /// Ordinary assets: unchanged.
    Medium,
    /// Servers, administrators: one level up.
    High,
    /// Domain controllers, crown jewels: two levels up.
    Critical,
}

impl Criticality {
    fn parse(s: &str) -> Option<Criticality> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "low" => Criticality::Low,
            "medium" | "normal" => Criticality::Medium,
            "high" => Criticality::High,
            "critical" => Criticality::Critical,
            _ => return None,
        })
    }

    /// The severity of an alert on such an asset.
    pub fn adjust(self, s: Severity) -> Severity {
        const LEVELS: [Severity; 5] = [
            Severity::Informational,
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ];
        let i = LEVELS.iter().position(|l| *l == s).unwrap_or(0) as i32;
        let shift = match self {
            Criticality::Low => -1,
            Criticality::Medium => 0,
            Criticality::High => 1,
            Criticality::Critical => 2,
        };
        LEVELS[(i + shift).clamp(0, 4) as usize]
    }
}

/// What an inventory row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssetKind {
    /// A host name.
    Host,
    /// A user name.
    User,
    /// An address or network.
    Ip,
}

/// One row of the inventory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Host, user or ip.
    pub kind: AssetKind,
    /// Name, wildcard pattern, address or CIDR network.
    pub name: String,
    /// How much it matters.
    pub criticality: Criticality,
    /// Free tags (`pci`, `domain-controller`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Who owns it.
    #[serde(default)]
    pub owner: String,
}

/// Errors of an inventory.
#[derive(Debug, thiserror::Error)]
#[error("asset inventory line {line}: {reason}")]
pub struct AssetError {
    /// 1-based line (0: not from a file).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl Asset {
    fn matches(&self, value: &str) -> bool {
        match self.kind {
            AssetKind::Ip => crate::exception::ip_in(&self.name, value),
            _ => crate::exception::glob(&self.name, value),
        }
    }

    /// Checks one row.
    pub fn validate(&self, line: usize) -> Result<(), AssetError> {
        let bad = |reason: String| AssetError { line, reason };
        if self.name.trim().is_empty() {
            return Err(bad("empty name".into()));
        }
        if self.kind == AssetKind::Ip
            && self.name.parse::<ipnet::IpNet>().is_err()
            && self.name.parse::<std::net::IpAddr>().is_err()
        {
            return Err(bad(format!(
                "`{}` is neither an address nor a CIDR network",
                self.name
            )));
        }
        Ok(())
    }
}

/// Parses the CSV inventory: a header line `kind,name,criticality,tags,owner` (tags separated
/// by `;`; `tags` and `owner` optional), `#` comments. Every bad line is an error naming it.
pub fn parse_csv(text: &str) -> Result<Vec<Asset>, AssetError> {
    let mut out = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = l.split(',').map(str::trim).collect();
        let Some(h) = &header else {
            let h: Vec<String> = cols.iter().map(|c| c.to_ascii_lowercase()).collect();
            for need in ["kind", "name", "criticality"] {
                if !h.iter().any(|c| c == need) {
                    return Err(AssetError {
                        line,
                        reason: format!(
                            "the header needs a `{need}` column (kind,name,criticality,tags,owner)"
                        ),
                    });
                }
            }
            header = Some(h);
            continue;
        };
        let get = |name: &str| {
            h.iter()
                .position(|c| c == name)
                .and_then(|i| cols.get(i))
                .copied()
                .unwrap_or("")
        };
        let kind = match get("kind").to_ascii_lowercase().as_str() {
            "host" => AssetKind::Host,
            "user" => AssetKind::User,
            "ip" | "network" => AssetKind::Ip,
            other => {
                return Err(AssetError {
                    line,
                    reason: format!("kind `{other}`: expected host, user or ip"),
                })
            }
        };
        let criticality = Criticality::parse(get("criticality")).ok_or_else(|| AssetError {
            line,
            reason: format!(
                "criticality `{}`: expected low, medium, high or critical",
                get("criticality")
            ),
        })?;
        let a = Asset {
            kind,
            name: get("name").to_owned(),
            criticality,
            tags: get("tags")
                .split(';')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            owner: get("owner").to_owned(),
        };
        a.validate(line)?;
        out.push(a);
    }
    Ok(out)
}

/// The inventory rows that `entities` (and a correlation's group values) name.
pub fn matching<'a>(
    inventory: &'a [Asset],
    entities: &Entities,
    group: &[(String, String)],
) -> Vec<&'a Asset> {
    inventory
        .iter()
        .filter(|a| {
            let list = match a.kind {
                AssetKind::Host => &entities.hosts,
                AssetKind::User => &entities.users,
                AssetKind::Ip => &entities.ips,
            };
            list.iter().any(|v| a.matches(v)) || group.iter().any(|(_, v)| a.matches(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\
# the SOC's inventory
kind,name,criticality,tags,owner
host,dc*,critical,domain-controller;tier0,ad-team
ip,10.20.0.0/16,high,pci,payments
user,lab_*,low,,
";

    #[test]
    fn the_csv_inventory_raises_and_lowers_severity() {
        let inv = parse_csv(CSV).unwrap();
        assert_eq!(inv.len(), 3);
        assert_eq!(inv[0].tags, ["domain-controller", "tier0"]);
        let mut e = Entities::default();
        Entities::add(&mut e.hosts, "DC01");
        Entities::add(&mut e.ips, "10.20.3.4");
        let m = matching(&inv, &e, &[]);
        assert_eq!(m.len(), 2);
        let top = m.iter().map(|a| a.criticality).max().unwrap();
        assert_eq!(top.adjust(Severity::Medium), Severity::Critical);
        assert_eq!(
            Criticality::High.adjust(Severity::Critical),
            Severity::Critical
        );
        assert_eq!(
            Criticality::Low.adjust(Severity::Low),
            Severity::Informational
        );
        let mut lab = Entities::default();
        Entities::add(&mut lab.users, "lab_alice");
        assert_eq!(matching(&inv, &lab, &[])[0].criticality, Criticality::Low);
        // A correlation grouped by address finds the network too.
        let g = vec![("source.ip".to_string(), "10.20.9.9".to_string())];
        assert_eq!(matching(&inv, &Entities::default(), &g).len(), 1);
    }

    #[test]
    fn bad_lines_are_named() {
        let e = parse_csv("kind,name,criticality\nhost,web1,urgent\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("urgent"), "{e}");
        let e = parse_csv("kind,name,criticality\nip,10.0.0.300,high\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(parse_csv("name,criticality\n").is_err());
    }
}
