//! DNS server logs: BIND `named` query log and security lines, dnsmasq query log; and the
//! registered-domain split of query names.

use yagura_event::{Kind, Record};

use super::out;
use super::time::{clock, digits, month, to_ms};

/// Second-level suffixes under which the registered domain has three labels (`example.co.uk`).
const TWO_LEVEL_SUFFIXES: &[&str] = &[
    "co.uk", "org.uk", "ac.uk", "gov.uk", "me.uk", "net.uk", "ltd.uk", "plc.uk", "co.jp", "ne.jp",
    "or.jp", "ac.jp", "go.jp", "com.au", "net.au", "org.au", "edu.au", "gov.au", "co.nz", "org.nz",
    "net.nz", "com.br", "net.br", "org.br", "gov.br", "com.cn", "net.cn", "org.cn", "gov.cn",
    "com.tw", "com.hk", "com.sg", "com.my", "co.in", "net.in", "org.in", "co.kr", "or.kr", "co.za",
    "org.za", "com.mx", "com.ar", "com.tr", "com.ua", "co.il", "com.pl", "co.id", "com.vn",
    "com.ru", "co.th", "in.th", "ac.th", "com.sa", "com.eg", "com.ng", "com.pk",
];

/// Pushes `dns.question.name` and its `registered_domain`, `subdomain`, `top_level_domain`.
pub(crate) fn question_name(rec: &mut Record, name: &str) {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return;
    }
    rec.push("dns.question.name", Kind::Str, name);
    let Some(last_dot) = name.rfind('.') else {
        return;
    };
    let tld = &name[last_dot + 1..];
    let Some(second_dot) = name[..last_dot].rfind('.') else {
        rec.push("dns.question.registered_domain", Kind::Str, name);
        rec.push("dns.question.top_level_domain", Kind::Str, tld);
        return;
    };
    let last_two = &name[second_dot + 1..];
    let (registered, tld) = if TWO_LEVEL_SUFFIXES
        .iter()
        .any(|s| s.eq_ignore_ascii_case(last_two))
    {
        match name[..second_dot].rfind('.') {
            Some(third) => (&name[third + 1..], last_two),
            None => (name, last_two),
        }
    } else {
        (last_two, tld)
    };
    rec.push("dns.question.registered_domain", Kind::Str, registered);
    rec.push("dns.question.top_level_domain", Kind::Str, tld);
    if registered.len() < name.len() {
        let sub = &name[..name.len() - registered.len() - 1];
        rec.push("dns.question.subdomain", Kind::Str, sub);
    }
}

/// A BIND line: optional `dd-Mon-yyyy hh:mm:ss.mmm ` time, optional `category: severity: `,
/// then `client [@0x...] ip#port (name): ...`.
pub(crate) struct Bind<'a> {
    pub ts: Option<i64>,
    level: Option<&'a str>,
    category: Option<&'a str>,
    ip: &'a str,
    port: &'a str,
    /// After `(name): `.
    body: &'a str,
    view: Option<&'a str>,
}

/// Cheap test for a BIND client line.
pub(crate) fn looks_like_bind(line: &str) -> bool {
    let b = line.as_bytes();
    (b.len() > 24 && b[2] == b'-' && b[6] == b'-' && b[11] == b' ' && b[0].is_ascii_digit())
        || line.starts_with("client ")
        || line.contains(" client ")
}

pub(crate) fn bind(line: &str) -> Option<Bind<'_>> {
    let b = line.as_bytes();
    let mut rest = line;
    let mut ts = None;
    if b.len() > 24 && b[2] == b'-' && b[6] == b'-' && b[11] == b' ' {
        if let (Some(d), Some(m), Some(y)) = (digits(b, 0, 2), month(&b[3..]), digits(b, 7, 4)) {
            let (day_ms, len) = clock(b, 12)?;
            ts = Some(to_ms(y, m, d, day_ms, 0)?);
            rest = line.get(12 + len..)?.trim_start();
        }
    }
    let at = if rest.starts_with("client ") {
        0
    } else {
        rest.find(" client ")? + 1
    };
    // `queries: info: ` / `security: error: ` before the client.
    let mut category = None;
    let mut level = None;
    let pre = rest[..at].trim_end();
    let mut parts = pre
        .split(": ")
        .map(|p| p.trim_end_matches(':'))
        .filter(|p| !p.is_empty());
    if let Some(first) = parts.next() {
        match parts.next() {
            Some(second) => {
                category = Some(first);
                level = Some(second);
            }
            None if matches!(
                first,
                "info" | "error" | "warning" | "notice" | "debug" | "critical"
            ) =>
            {
                level = Some(first)
            }
            None => category = Some(first),
        }
    }
    let mut c = &rest[at + 7..];
    if let Some(r) = c.strip_prefix('@') {
        c = r.split_once(' ')?.1;
    }
    let (addr, after) = c.split_once(' ')?;
    // Old BIND: `client 1.2.3.4#1036: query (cache) denied`.
    let (addr, after) = match addr.strip_suffix(':') {
        Some(a) => (a, after),
        None => (addr, after),
    };
    let (ip, port) = addr.rsplit_once('#')?;
    if !out::is_ip(ip) {
        return None;
    }
    let after = match after.strip_prefix('(') {
        Some(r) => r.split_once("): ")?.1,
        None => after.strip_prefix(": ").unwrap_or(after),
    };
    let (view, body) = match after.strip_prefix("view ") {
        Some(v) => {
            let (name, body) = v.split_once(": ")?;
            (Some(name), body)
        }
        None => (None, after),
    };
    Some(Bind {
        ts,
        level,
        category,
        ip,
        port,
        body,
        view,
    })
}

/// Pushes a BIND line; `false` (nothing pushed) when the body is not a known kind.
pub(crate) fn push_bind(l: &Bind<'_>, rec: &mut Record) -> bool {
    let body = l.body;
    // `query: example.com IN A +E(0)K (192.0.2.1)`
    if let Some(q) = body.strip_prefix("query: ") {
        let mut it = q.split(' ');
        let (Some(name), Some(class), Some(qtype)) = (it.next(), it.next(), it.next()) else {
            return false;
        };
        out::dataset(rec, "bind", "bind.query");
        rec.push("event.category", Kind::Str, "network");
        rec.push("event.type", Kind::Str, "protocol");
        rec.push("event.action", Kind::Str, "query");
        common(l, rec);
        question_name(rec, name);
        rec.push("dns.question.class", Kind::Str, class);
        rec.push("dns.question.type", Kind::Str, qtype);
        rec.push("dns.type", Kind::Str, "query");
        if let Some(flags) = it.next() {
            rec.push("bind.query.flags", Kind::Str, flags);
        }
        if let Some(server) = it.next() {
            let server = server.trim_start_matches('(').trim_end_matches(')');
            out::addr(rec, "destination", server);
        }
        return true;
    }
    // `query (cache) 'example.com/ANY/IN' denied`, `zone transfer 'example.com/AXFR/IN' denied`,
    // `bad zone transfer request: 'example.com/IN': non-authoritative zone (NOTAUTH)`,
    // `update 'zone/IN' denied`, `query failed (REFUSED) for name/IN/A at query.c:1`.
    let (action, quoted) =
        if body.starts_with("query (cache) denied") || body.starts_with("query denied") {
            ("query_denied", false)
        } else if body.starts_with("query (cache) '") || body.starts_with("query '") {
            ("query_denied", true)
        } else if body.starts_with("zone transfer '") {
            ("zone_transfer_denied", true)
        } else if body.starts_with("bad zone transfer request: '") {
            ("bad_zone_transfer", true)
        } else if body.starts_with("update '") || body.starts_with("update forwarding '") {
            ("update_denied", true)
        } else if body.starts_with("query failed (") {
            ("query_failed", false)
        } else if body.starts_with("notify ") || body.starts_with("received notify") {
            ("notify", false)
        } else if body.starts_with("transfer of '") {
            ("zone_transfer", true)
        } else {
            return false;
        };
    out::dataset(rec, "bind", "bind.security");
    rec.push("event.category", Kind::Str, "network");
    rec.push(
        "event.type",
        Kind::Str,
        if body.contains("denied") || action.ends_with("failed") {
            "denied"
        } else {
            "info"
        },
    );
    rec.push("event.action", Kind::Str, action);
    if body.contains("denied") || body.contains("failed") || body.contains("bad ") {
        rec.push("event.outcome", Kind::Str, "failure");
    }
    common(l, rec);
    if quoted {
        if let Some(q) = body.split('\'').nth(1) {
            let mut parts = q.split('/');
            let name = parts.next().unwrap_or("");
            question_name(rec, name);
            let (a, b) = (parts.next(), parts.next());
            match (a, b) {
                (Some(t), Some(c)) => {
                    rec.push("dns.question.type", Kind::Str, t);
                    rec.push("dns.question.class", Kind::Str, c);
                }
                (Some(c), None) => rec.push("dns.question.class", Kind::Str, c),
                _ => {}
            }
        }
    } else if let Some(for_at) = body.find(" for ") {
        let q = body[for_at + 5..].split(' ').next().unwrap_or("");
        let mut parts = q.split('/');
        question_name(rec, parts.next().unwrap_or(""));
        if let (Some(c), Some(t)) = (parts.next(), parts.next()) {
            rec.push("dns.question.class", Kind::Str, c);
            rec.push("dns.question.type", Kind::Str, t);
        }
        if let Some(code) = body
            .strip_prefix("query failed (")
            .and_then(|r| r.split(')').next())
        {
            rec.push("dns.response_code", Kind::Str, code);
        }
    }
    true
}

fn common(l: &Bind<'_>, rec: &mut Record) {
    rec.push("source.ip", Kind::Str, l.ip);
    out::int(rec, "source.port", l.port);
    if let Some(lv) = l.level {
        rec.push("log.level", Kind::Str, lv);
    }
    if let Some(c) = l.category {
        rec.push("bind.category", Kind::Str, c);
    }
    if let Some(v) = l.view {
        rec.push("bind.view", Kind::Str, v);
    }
}

/// dnsmasq messages: `query[A] name from 1.2.3.4`, `forwarded name to 8.8.8.8`,
/// `reply name is 1.2.3.4`, `cached name is <CNAME>`, plus start-up and upstream lines.
/// Returns `false` (nothing pushed) for other messages.
pub(crate) fn dnsmasq(msg: &str, rec: &mut Record) -> bool {
    // `log-queries=extra`: `21745 10.10.10.33/59490 query[A] ...`.
    let mut msg = msg;
    if msg.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let mut it = msg.splitn(3, ' ');
        if let (Some(serial), Some(peer), Some(rest)) = (it.next(), it.next(), it.next()) {
            if serial.bytes().all(|c| c.is_ascii_digit()) && peer.contains('/') {
                msg = rest;
            }
        }
    }
    if let Some(r) = msg.strip_prefix("query[") {
        let Some((qtype, r)) = r.split_once("] ") else {
            return false;
        };
        let Some((name, from)) = r.split_once(" from ") else {
            return false;
        };
        head(rec, "query", "protocol");
        question_name(rec, name);
        rec.push("dns.question.type", Kind::Str, qtype);
        rec.push("dns.type", Kind::Str, "query");
        out::addr(rec, "source", from.trim());
        return true;
    }
    for (lead, action, sep, key) in [
        ("forwarded ", "forwarded", " to ", "destination"),
        ("reply ", "reply", " is ", "answer"),
        ("cached ", "cached", " is ", "answer"),
        ("config ", "config", " is ", "answer"),
        ("/etc/hosts ", "hosts", " is ", "answer"),
        ("validation ", "validation", " is ", "answer"),
        ("dnssec-query[", "dnssec_query", " to ", "destination"),
    ] {
        let Some(r) = msg.strip_prefix(lead) else {
            continue;
        };
        let Some((name, value)) = r.split_once(sep) else {
            continue;
        };
        head(rec, action, "protocol");
        let name = name.rsplit("] ").next().unwrap_or(name);
        question_name(rec, name);
        if key == "destination" {
            out::addr(rec, "destination", value.trim());
        } else {
            rec.push("dns.type", Kind::Str, "answer");
            match value {
                "NXDOMAIN" | "NODATA" | "NODATA-IPv4" | "NODATA-IPv6" | "SERVFAIL" | "REFUSED" => {
                    rec.push("dns.response_code", Kind::Str, value)
                }
                _ => rec.push("dns.answers.data", Kind::Str, value),
            }
        }
        return true;
    }
    let info = [
        ("started, version ", "started"),
        ("compile time options: ", "config"),
        ("using nameserver ", "config"),
        ("using local addresses only", "config"),
        ("read ", "config"),
        ("reading ", "config"),
        ("cleared cache", "config"),
        ("exiting on receipt of", "stopped"),
        ("nameserver ", "upstream_error"),
        (
            "Maximum number of concurrent DNS queries reached",
            "limit_reached",
        ),
        ("failed to access", "error"),
        ("cache size ", "stats"),
        ("queries forwarded ", "stats"),
        ("server ", "stats"),
    ];
    for (lead, action) in info {
        if msg.starts_with(lead) {
            head(rec, action, "info");
            return true;
        }
    }
    false
}

fn head(rec: &mut Record, action: &str, kind: &str) {
    out::dataset(rec, "dnsmasq", "dnsmasq.log");
    rec.push("event.category", Kind::Str, "network");
    rec.push("event.type", Kind::Str, kind);
    rec.push("event.action", Kind::Str, action);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(rec: &'a Record, k: &str) -> Option<&'a str> {
        rec.get(k).map(|f| f.value)
    }

    #[test]
    fn registered_domain() {
        let mut rec = Record::new();
        question_name(&mut rec, "a.b.example.co.uk.");
        assert_eq!(
            get(&rec, "dns.question.registered_domain"),
            Some("example.co.uk")
        );
        assert_eq!(get(&rec, "dns.question.subdomain"), Some("a.b"));
        assert_eq!(get(&rec, "dns.question.top_level_domain"), Some("co.uk"));
        rec.clear();
        question_name(&mut rec, "vaaaakardli.pirate.sea");
        assert_eq!(
            get(&rec, "dns.question.registered_domain"),
            Some("pirate.sea")
        );
        assert_eq!(get(&rec, "dns.question.subdomain"), Some("vaaaakardli"));
    }

    #[test]
    fn bind_lines() {
        let mut rec = Record::new();
        let l = bind("client @0x7f1c4c00a1b0 192.0.2.1#5353 (www.example.com): query: www.example.com IN A +E(0)K (192.0.2.53)").unwrap();
        assert!(push_bind(&l, &mut rec));
        assert_eq!(get(&rec, "dns.question.type"), Some("A"));
        assert_eq!(get(&rec, "source.port"), Some("5353"));
        assert_eq!(get(&rec, "destination.ip"), Some("192.0.2.53"));
        rec.clear();
        let l = bind("03-Nov-2022 13:34:52.235 security: error: client @0x7fb04c007328 ::1#62449 (example.com): zone transfer 'example.com/AXFR/IN' denied").unwrap();
        assert!(l.ts.is_some());
        assert!(push_bind(&l, &mut rec));
        assert_eq!(get(&rec, "event.action"), Some("zone_transfer_denied"));
        assert_eq!(get(&rec, "source.ip"), Some("::1"));
        assert_eq!(get(&rec, "dns.question.type"), Some("AXFR"));
    }

    #[test]
    fn dnsmasq_lines() {
        let mut rec = Record::new();
        assert!(dnsmasq(
            "query[NULL] yrbqlj.example.attack from 172.18.0.3",
            &mut rec
        ));
        assert_eq!(get(&rec, "dns.question.type"), Some("NULL"));
        assert_eq!(get(&rec, "source.ip"), Some("172.18.0.3"));
        assert_eq!(
            get(&rec, "dns.question.registered_domain"),
            Some("example.attack")
        );
        rec.clear();
        assert!(dnsmasq("reply www.example.com is 93.184.216.34", &mut rec));
        assert_eq!(get(&rec, "dns.answers.data"), Some("93.184.216.34"));
    }
}
