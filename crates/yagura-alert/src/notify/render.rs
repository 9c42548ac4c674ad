//! What the human-facing channels (Slack, Teams, e-mail) say about a notice, and the two time
//! formats they need (RFC 3339 for people and syslog, RFC 5322 for the mail `Date:`).

use super::Notice;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Broken-down UTC time: (year, month, day, hour, minute, second, millisecond, weekday with
/// 0 = Sunday).
fn civil(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32, u32) {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 4).rem_euclid(7) as u32;
    let secs = (rem / 1000) as u32;
    (
        year,
        month,
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        (rem % 1000) as u32,
        weekday,
    )
}

/// `2026-12-03T10:16:35.123Z`.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    let (y, mo, d, h, mi, s, milli, _) = civil(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `Thu, 03 Dec 2026 10:16:35 +0000`.
pub(crate) fn rfc5322(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, _, wd) = civil(ms);
    let day = DAYS.get(wd as usize).copied().unwrap_or("Sun");
    let month = MONTHS.get(mo as usize - 1).copied().unwrap_or("Jan");
    format!("{day}, {d:02} {month} {y:04} {h:02}:{mi:02}:{s:02} +0000")
}

/// `[HIGH] title`, on one line.
pub(crate) fn headline(n: &Notice) -> String {
    one_line(&format!("[{}] {}", n.severity.to_uppercase(), n.title))
}

/// Control characters (line breaks included) replaced by spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// At most `max` characters, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `a, b, c` with at most 10 items, then `(+N more)`.
pub(crate) fn list(items: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut out = items
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        out.push_str(&format!(" (+{} more)", items.len() - SHOWN));
    }
    out
}

/// The facts shown as fields, in order; empty lists are left out.
pub(crate) fn facts(n: &Notice) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("Severity", n.severity.clone()),
        ("Status", n.status.clone()),
        ("Rule", n.rule_id.clone()),
        ("Kind", n.kind.clone()),
        ("Count", n.count.to_string()),
        ("First seen", rfc3339_ms(n.first_seen_ms)),
        ("Last seen", rfc3339_ms(n.last_seen_ms)),
    ];
    for (name, items) in [
        ("Users", &n.users),
        ("Hosts", &n.hosts),
        ("IPs", &n.ips),
        ("Techniques", &n.techniques),
    ] {
        if !items.is_empty() {
            f.push((name, list(items)));
        }
    }
    f.push(("Alert id", n.alert_id.to_string()));
    f
}

/// The plain-text body of the e-mail.
pub(crate) fn plain_text(n: &Notice, notice_id: &str) -> String {
    let mut out = headline(n);
    out.push_str("\n\n");
    for (name, value) in facts(n) {
        out.push_str(&format!("{name:<11} {}\n", one_line(&value)));
    }
    if !n.description.is_empty() {
        out.push('\n');
        out.push_str(&n.description);
        out.push('\n');
    }
    if let Some(url) = &n.url {
        out.push_str(&format!("\nOpen in the console: {}\n", one_line(url)));
    }
    out.push_str(&format!("\n-- \nYagura, notice {notice_id}\n"));
    out
}

/// The MITRE ATT&CK page of `T1110` or `T1110.001`, if `t` is such an id.
pub(crate) fn attack_url(t: &str) -> Option<String> {
    let b = t.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let ok = b.len() >= 5
        && b[0] == b'T'
        && digits(&b[1..5])
        && (b.len() == 5 || (b.len() == 9 && b[5] == b'.' && digits(&b[6..9])));
    ok.then(|| {
        format!(
            "https://attack.mitre.org/techniques/{}/",
            t.replace('.', "/")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_764_756_995_123), "2025-12-03T10:16:35.123Z");
        assert_eq!(
            rfc5322(1_764_756_995_123),
            "Wed, 03 Dec 2025 10:16:35 +0000"
        );
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc5322(0), "Thu, 01 Jan 1970 00:00:00 +0000");
    }

    #[test]
    fn attack() {
        assert_eq!(
            attack_url("T1110.001").as_deref(),
            Some("https://attack.mitre.org/techniques/T1110/001/")
        );
        assert!(attack_url("T11").is_none());
        assert!(attack_url("T1110.1").is_none());
    }
}
