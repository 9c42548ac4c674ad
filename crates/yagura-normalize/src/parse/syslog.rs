//! The syslog envelope: RFC 3164 (`<PRI>Mmm dd hh:mm:ss host prog[pid]: msg`, also without
//! PRI as in `/var/log/auth.log`, with rsyslog's ISO 8601 timestamps, and the BSD `<fac.sev>`
//! token), RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`) and RFC 6587 octet
//! counting (`123 <PRI>...`).

use yagura_event::{Kind, Record};

use super::out;
use super::time::{clock, digits, iso_prefix, month, to_ms, year_of};

/// The parts of a syslog line.
#[derive(Debug, Default)]
pub(crate) struct Header<'a> {
    pub pri: Option<u16>,
    pub version: Option<&'a str>,
    pub ts: Option<i64>,
    pub host: Option<&'a str>,
    pub app: Option<&'a str>,
    pub pid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    pub sd: Option<&'a str>,
    pub msg: &'a str,
    /// The timestamp had no year (RFC 3164): it was inferred.
    pub yearless: bool,
}

/// True when `line` starts like a syslog record (cheap: a few bytes).
pub(crate) fn looks_like(line: &str) -> bool {
    let b = line.as_bytes();
    match b.first() {
        Some(b'<') => b.get(1).is_some_and(u8::is_ascii_digit),
        Some(c) if c.is_ascii_digit() => {
            // ISO date or octet count before `<`.
            (b.len() > 19 && b[4] == b'-' && b[7] == b'-' && matches!(b[10], b'T' | b' '))
                || b.iter()
                    .take(6)
                    .position(|&c| c == b' ')
                    .is_some_and(|sp| b.get(sp + 1) == Some(&b'<'))
        }
        Some(_) => month(b).is_some() && b.get(3) == Some(&b' '),
        None => false,
    }
}

/// Splits a syslog line. `received_ms` supplies the year of RFC 3164 timestamps.
#[cfg(test)]
pub(crate) fn parse(line: &str, received_ms: i64) -> Option<Header<'_>> {
    parse_near(line, received_ms, None)
}

/// [`parse`], where a year-less (RFC 3164) date takes the year that puts it nearest `anchor`
/// when given: the date of the stream's previous year-less line. A stream's lines then stay
/// in order across New Year (`Dec 31` then `Jan  1` is the next year), and a replayed file
/// whose dates run past a week ahead of reception is not split across two years. Without an
/// anchor the date is placed in the year of reception, or the year before when that would be
/// more than a week ahead of it.
pub(crate) fn parse_near(line: &str, received_ms: i64, anchor: Option<i64>) -> Option<Header<'_>> {
    let mut s = line;
    // RFC 6587 octet counting: `<len> <PRI>...`.
    if let Some(sp) = s.as_bytes().iter().take(6).position(|&c| c == b' ') {
        if sp > 0
            && s.as_bytes()[..sp].iter().all(u8::is_ascii_digit)
            && s.as_bytes().get(sp + 1) == Some(&b'<')
        {
            s = &s[sp + 1..];
        }
    }
    let mut h = Header::default();
    if let Some(rest) = s.strip_prefix('<') {
        let end = rest.bytes().take(4).position(|c| c == b'>')?;
        let pri: u16 = rest[..end].parse().ok()?;
        if pri > 191 {
            return None;
        }
        h.pri = Some(pri);
        s = &rest[end + 1..];
        // RFC 5424: a version digit, then a space.
        let b = s.as_bytes();
        if b.first().is_some_and(|c| c.is_ascii_digit() && *c != b'0')
            && b.get(1) == Some(&b' ')
            && (b.get(2) == Some(&b'-') || b.get(6) == Some(&b'-'))
        {
            return rfc5424(h, s);
        }
    }
    rfc3164(h, s, received_ms, anchor)
}

fn rfc5424<'a>(mut h: Header<'a>, s: &'a str) -> Option<Header<'a>> {
    let (version, rest) = s.split_once(' ')?;
    h.version = Some(version);
    let (ts, rest) = rest.split_once(' ')?;
    if ts != "-" {
        let (ms, used) = iso_prefix(ts)?;
        if used != ts.len() {
            return None;
        }
        h.ts = Some(ms);
    }
    let mut rest = rest;
    let mut field = || -> Option<Option<&'a str>> {
        let (v, r) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = r;
        Some((v != "-").then_some(v))
    };
    h.host = field()?;
    h.app = field()?;
    h.pid = field()?;
    h.msgid = field()?;
    // Structured data: `-` or `[id k="v" ...]...`.
    if let Some(r) = rest.strip_prefix('-') {
        h.msg = r.strip_prefix(' ').unwrap_or(r);
    } else if rest.starts_with('[') {
        let end = sd_end(rest)?;
        h.sd = Some(&rest[..end]);
        let r = &rest[end..];
        h.msg = r.strip_prefix(' ').unwrap_or(r);
    } else {
        h.msg = rest;
    }
    h.msg = h.msg.strip_prefix('\u{feff}').unwrap_or(h.msg);
    Some(h)
}

/// End (exclusive) of the structured-data elements at the start of `s`.
fn sd_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut in_quotes = false;
        i += 1;
        loop {
            match *b.get(i)? {
                b'\\' if in_quotes => i += 1,
                b'"' => in_quotes = !in_quotes,
                b']' if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    Some(i)
}

fn rfc3164<'a>(
    mut h: Header<'a>,
    s: &'a str,
    received_ms: i64,
    anchor: Option<i64>,
) -> Option<Header<'a>> {
    let b = s.as_bytes();
    let mut i;
    let month_name = month(b);
    if let Some(m) = month_name {
        if b.get(3) != Some(&b' ') {
            return None;
        }
        i = 4;
        if b.get(i) == Some(&b' ') {
            i += 1;
        }
        let day = if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 2;
            digits(b, i - 2, 2)?
        } else {
            i += 1;
            digits(b, i - 1, 1)?
        };
        if b.get(i) != Some(&b' ') {
            return None;
        }
        let (day_ms, len) = clock(b, i + 1)?;
        i += 1 + len;
        // An optional year after the time (`Jun 21 16:47:48 2005`).
        let mut year = None;
        if b.get(i) == Some(&b' ') && b.get(i + 5) == Some(&b' ') {
            if let Some(y) = digits(b, i + 1, 4) {
                year = Some(y);
                i += 5;
            }
        }
        let ts = match year {
            Some(y) => to_ms(y, m, day, day_ms, 0)?,
            None => {
                h.yearless = true;
                let y = year_of(received_ms);
                match anchor {
                    Some(a) => (y - 1..=y + 1)
                        .filter_map(|y| to_ms(y, m, day, day_ms, 0))
                        .min_by_key(|ts| ts.abs_diff(a))?,
                    None => {
                        let ts = to_ms(y, m, day, day_ms, 0)?;
                        // A date more than a week ahead of reception is last year's.
                        if ts > received_ms + 7 * 86_400_000 {
                            to_ms(y - 1, m, day, day_ms, 0)?
                        } else {
                            ts
                        }
                    }
                }
            }
        };
        h.ts = Some(ts);
    } else {
        let (ts, used) = iso_prefix(s)?;
        h.ts = Some(ts);
        i = used;
    }
    let mut rest = s.get(i..)?;
    if !rest.starts_with(' ') {
        return None;
    }
    rest = rest.trim_start_matches(' ');
    // BSD `syslogd -v`: `<4.3>` or `<auth.info>` after the time.
    if rest.starts_with('<') {
        if let Some(end) = rest.find("> ") {
            if end < 24 {
                rest = rest[end + 2..].trim_start_matches(' ');
            }
        }
    }
    let iso = month_name.is_none();
    // `prog[pid]: msg` right after the time (no host), else `host prog[pid]: msg`.
    if let Some((app, pid, msg)) = tag(rest) {
        h.app = Some(app);
        h.pid = pid;
        h.msg = msg;
        return Some(h);
    }
    let (host, after) = rest.split_once(' ').unwrap_or((rest, ""));
    if host.is_empty() {
        return None;
    }
    h.host = Some(host);
    match tag(after) {
        Some((app, pid, msg)) => {
            h.app = Some(app);
            h.pid = pid;
            h.msg = msg;
        }
        // An ISO time without a program is too weak a sign of syslog.
        None if iso => return None,
        None => h.msg = after,
    }
    Some(h)
}

/// `host prog[pid]: msg` without a time (journal exports without timestamps). The `[pid]` is
/// required: without a time, anything weaker is too common in free text.
pub(crate) fn parse_untimed(line: &str) -> Option<Header<'_>> {
    let (host, after) = line.split_once(' ')?;
    if host.is_empty() || host.contains([':', '[', '=', '"']) {
        return None;
    }
    let (app, pid, msg) = tag(after)?;
    pid?;
    Some(Header {
        host: Some(host),
        app: Some(app),
        pid,
        msg,
        ..Header::default()
    })
}

/// `prog[pid]: msg` / `prog: msg` at the start of `s`.
fn tag(s: &str) -> Option<(&str, Option<&str>, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && i < 64 {
        match b[i] {
            b'[' | b':' => break,
            b' ' | b'=' | b'"' | b',' | b'\'' | b'<' => return None,
            _ => i += 1,
        }
    }
    // Stopped by the length limit, not by `[` or `:`: no tag (and `i` may be inside a
    // character of binary or non-ASCII text).
    if i == 0 || !matches!(b.get(i), Some(b'[' | b':')) {
        return None;
    }
    let app = &s[..i];
    let mut pid = None;
    if b[i] == b'[' {
        let close = s[i..].find(']')? + i;
        pid = Some(&s[i + 1..close]);
        i = close + 1;
    }
    if b.get(i) != Some(&b':') {
        return None;
    }
    let msg = &s[i + 1..];
    Some((app, pid, msg.strip_prefix(' ').unwrap_or(msg)))
}

/// Pushes the envelope fields (`log.syslog.*`, `host.hostname`, `process.name`, `process.pid`,
/// structured data), with `unescaped` as scratch for SD values.
pub(crate) fn push(h: &Header<'_>, rec: &mut Record, unescaped: &mut String) {
    if let Some(pri) = h.pri {
        rec.push_fmt("log.syslog.priority", Kind::Num, format_args!("{pri}"));
        rec.push_fmt(
            "log.syslog.facility.code",
            Kind::Num,
            format_args!("{}", pri / 8),
        );
        rec.push_fmt(
            "log.syslog.severity.code",
            Kind::Num,
            format_args!("{}", pri % 8),
        );
    }
    if let Some(v) = h.version {
        out::int(rec, "log.syslog.version", v);
    }
    if let Some(host) = h.host {
        rec.push("host.hostname", Kind::Str, host);
    }
    if let Some(app) = h.app {
        rec.push("process.name", Kind::Str, app);
        if h.version.is_some() {
            rec.push("log.syslog.appname", Kind::Str, app);
        }
    }
    if let Some(pid) = h.pid {
        if out::is_int(pid) {
            rec.push("process.pid", Kind::Num, pid);
        } else if h.version.is_some() {
            rec.push("log.syslog.procid", Kind::Str, pid);
        }
    }
    if let Some(id) = h.msgid {
        rec.push("log.syslog.msgid", Kind::Str, id);
    }
    if let Some(sd) = h.sd {
        structured_data(sd, rec, unescaped);
    }
}

/// `[id k="v" ...]` elements as `log.syslog.structured_data.<id>.<k>`.
fn structured_data(sd: &str, rec: &mut Record, unescaped: &mut String) {
    let mut s = sd;
    while let Some(body) = s.strip_prefix('[') {
        let (id, mut rest) = match body.find([' ', ']']) {
            Some(p) => (&body[..p], &body[p..]),
            None => return,
        };
        loop {
            rest = rest.trim_start_matches(' ');
            if let Some(r) = rest.strip_prefix(']') {
                s = r;
                break;
            }
            let Some(eq) = rest.find("=\"") else { return };
            let name = &rest[..eq];
            let vb = rest.as_bytes();
            let mut j = eq + 2;
            unescaped.clear();
            let mut from = j;
            while j < vb.len() && vb[j] != b'"' {
                if vb[j] == b'\\' && j + 1 < vb.len() && matches!(vb[j + 1], b'"' | b'\\' | b']') {
                    unescaped.push_str(&rest[from..j]);
                    from = j + 1;
                    j += 2;
                    continue;
                }
                j += 1;
            }
            if j >= vb.len() {
                return;
            }
            unescaped.push_str(&rest[from..j]);
            rec.push_parts(
                &["log.syslog.structured_data.", id, ".", name],
                Kind::Str,
                unescaped,
            );
            rest = &rest[j + 1..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECV: i64 = 1_718_000_000_000; // 2024-06-10

    #[test]
    fn a_long_tag_candidate_ending_inside_a_character_is_no_tag() {
        // 63 ASCII bytes, then a 3-byte character across byte 64: no `[` or `:` within the
        // limit, so the message has no tag (this sliced inside the character and panicked).
        let long = format!("{}日本語: rest", "x".repeat(63));
        assert_eq!(tag(&long), None);
        let line = format!("Feb 12 14:10:21 host {long}");
        let h = parse(&line, RECV).unwrap();
        assert_eq!((h.host, h.app), (Some("host"), None));
        assert_eq!(tag("sshd[1]: ok"), Some(("sshd", Some("1"), "ok")));
    }

    #[test]
    fn bsd_and_variants() {
        let h = parse(
            "Feb 12 14:10:21 sd-126005 sshd[16378]: Invalid user pascal",
            RECV,
        )
        .unwrap();
        assert_eq!(
            (h.host, h.app, h.pid),
            (Some("sd-126005"), Some("sshd"), Some("16378"))
        );
        assert_eq!(h.msg, "Invalid user pascal");
        let h = parse("Nov 2 15:40:14 workshop sshd[28179]: x", RECV).unwrap();
        assert_eq!(h.host, Some("workshop"));
        let h = parse("Aug  8 18:53:23 dnsmasq[1]: started", RECV).unwrap();
        assert_eq!((h.host, h.app), (None, Some("dnsmasq")));
        let h = parse(
            "<34>Feb  4 11:14:27 1.2.3.4 apache_server: test message",
            RECV,
        )
        .unwrap();
        assert_eq!(
            (h.pri, h.host, h.msg),
            (Some(34), Some("1.2.3.4"), "test message")
        );
        let h = parse("Apr  2 17:51:27 <4.3> pancake sshd[55624]: error: x", RECV).unwrap();
        assert_eq!(h.host, Some("pancake"));
        let h = parse("2021-01-12T10:00:00.123456+01:00 web1 sudo: x", RECV).unwrap();
        assert_eq!(h.ts, Some(1_610_442_000_123));
        let h = parse(
            "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure;",
            RECV,
        )
        .unwrap();
        assert_eq!(h.app, Some("sshd(pam_unix)"));
        // December lines read in June of the next year stay in their year.
        let h = parse("Dec 31 23:59:59 h p: m", RECV).unwrap();
        assert_eq!(super::super::time::year_of(h.ts.unwrap()), 2023);
        assert!(parse("2020-04-16T05:13:40.861934Z 344 [Note] Access denied", RECV).is_none());
    }

    #[test]
    fn rfc5424_with_structured_data() {
        let line = r#"215 <86>1 2015-08-05T21:58:59.693Z 192.168.2.132 SecureAuth0 23108 ID52020 [SecureAuth@27389 UserHostAddress="192.168.2.132" Realm="Secure\"Auth0"] Found the user"#;
        let h = parse(line, RECV).unwrap();
        assert_eq!(h.version, Some("1"));
        assert_eq!(
            (h.app, h.pid, h.msgid),
            (Some("SecureAuth0"), Some("23108"), Some("ID52020"))
        );
        assert_eq!(h.msg, "Found the user");
        let mut rec = Record::new();
        push(&h, &mut rec, &mut String::new());
        assert_eq!(
            rec.get("log.syslog.structured_data.SecureAuth@27389.Realm")
                .unwrap()
                .value,
            "Secure\"Auth0"
        );
        assert_eq!(rec.get("log.syslog.facility.code").unwrap().value, "10");
        let h = parse(
            "<134>1 2025-11-06T11:32:42.868451+00:00 firewall.lan filterlog 92653 - - 7,,,",
            RECV,
        )
        .unwrap();
        assert_eq!((h.host, h.msg), (Some("firewall.lan"), "7,,,"));
    }
}
