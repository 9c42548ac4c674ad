//! DNS server logs: BIND `named` query log and security lines, dnsmasq query log; and the
//! registered-domain split of query names.

use yagura_event::{Kind, Record};

use super::out;
use super::time::{clock, digits, month, to_ms};

/// Pushes `dns.question.name`, its public-suffix split (`registered_domain`, `subdomain`,
/// `top_level_domain`) and the computed `yagura.dns.*` fields of a **query** (see
/// [`NameStats`]): BIND query and denied-query lines, dnsmasq `query[T]`, Zeek dns, EVE dns
/// queries, Sysmon 22.
pub(crate) fn question_name(rec: &mut Record, name: &str) {
    if let Some(sub) = name_fields(rec, name) {
        let stats = NameStats::of(sub);
        stats.push(rec);
    }
}

/// As [`question_name`] without the computed fields: the name of an answer or a forwarding
/// line (dnsmasq `reply` / `forwarded` / `cached`, EVE dns answers), so that one query counts
/// once in rules that select on the computed fields.
pub(crate) fn answer_name(rec: &mut Record, name: &str) {
    let _ = name_fields(rec, name);
}

/// Pushes the name and its split; returns the subdomain (`""` when there is none) for a name
/// that has a registered domain, `None` otherwise.
///
/// The split uses the Public Suffix List, ICANN and private sections, through the `psl` crate:
/// the list is compiled into the crate (no file to load at run time, no allocation, `no_std`),
/// and the crate is re-released whenever the upstream list changes. `publicsuffix` (the other
/// maintained choice) parses the list at run time from a file or a string the caller supplies.
/// Names under a suffix the list does not know (`pirate.sea`, `example.attack`, `corp.local`)
/// follow the list's default rule `*`: the last label is the suffix.
fn name_fields<'a>(rec: &mut Record, name: &'a str) -> Option<&'a str> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return None;
    }
    rec.push("dns.question.name", Kind::Str, name);
    if !name.contains('.') {
        return None;
    }
    // The list is lower case; names with upper case (dns2tcp's base64 labels) are looked up
    // through a lower-case copy in a reused buffer, whose byte offsets are the same.
    let (suffix_len, domain_len) = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        LOWER.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            buf.push_str(name);
            buf.make_ascii_lowercase();
            split_lengths(&buf)
        })
    } else {
        split_lengths(name)
    };
    let suffix_len = suffix_len?;
    let tld = name.get(name.len() - suffix_len..)?;
    rec.push("dns.question.top_level_domain", Kind::Str, tld);
    let registered = name.get(name.len() - domain_len?..)?;
    rec.push("dns.question.registered_domain", Kind::Str, registered);
    if registered.len() < name.len() {
        let sub = name.get(..name.len() - registered.len() - 1)?;
        rec.push("dns.question.subdomain", Kind::Str, sub);
        return Some(sub);
    }
    Some("")
}

thread_local! {
    static LOWER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Byte lengths of the public suffix and of the registered domain of a lower-case name.
fn split_lengths(name: &str) -> (Option<usize>, Option<usize>) {
    let suffix = psl::suffix(name.as_bytes()).map(|s| s.trim().as_bytes().len());
    let domain = psl::domain(name.as_bytes()).map(|d| d.trim().as_bytes().len());
    (suffix, domain)
}

/// Computed fields of a query name's subdomain (the labels left of the registered domain),
/// for tunnelling and DGA rules, which Sigma cannot compute:
///
/// - `yagura.dns.subdomain_length`: bytes of `dns.question.subdomain`, dots included;
/// - `yagura.dns.subdomain_labels`: its number of labels;
/// - `yagura.dns.longest_label_length`: bytes of its longest label;
/// - `yagura.dns.subdomain_entropy`: Shannon entropy in bits per byte of the subdomain with
///   the dots left out (0 for an empty or one-symbol string; at most 8), rounded to 3 decimals.
///
/// All are numbers (`Kind::Num`) and are 0 for a name that is its registered domain.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NameStats {
    pub subdomain_length: usize,
    pub subdomain_labels: usize,
    pub longest_label_length: usize,
    pub subdomain_entropy: f64,
}

impl NameStats {
    pub(crate) fn of(sub: &str) -> NameStats {
        let mut counts = [0u32; 256];
        let mut total = 0u32;
        let (mut labels, mut longest) = (0usize, 0usize);
        if !sub.is_empty() {
            for label in sub.split('.') {
                labels += 1;
                longest = longest.max(label.len());
            }
            for b in sub.bytes().filter(|&b| b != b'.') {
                counts[b as usize] += 1;
                total += 1;
            }
        }
        NameStats {
            subdomain_length: sub.len(),
            subdomain_labels: labels,
            longest_label_length: longest,
            subdomain_entropy: round3(shannon(&counts, total)),
        }
    }

    fn push(&self, rec: &mut Record) {
        let n = Kind::Num;
        rec.push_fmt(
            "yagura.dns.subdomain_length",
            n,
            format_args!("{}", self.subdomain_length),
        );
        rec.push_fmt(
            "yagura.dns.subdomain_labels",
            n,
            format_args!("{}", self.subdomain_labels),
        );
        rec.push_fmt(
            "yagura.dns.longest_label_length",
            n,
            format_args!("{}", self.longest_label_length),
        );
        // `{}` of an f64 is its shortest round-trip text (`3.25`, `4`): the text serde_json
        // writes back for the same number, so the stored form reads back the same.
        rec.push_fmt(
            "yagura.dns.subdomain_entropy",
            n,
            format_args!("{}", self.subdomain_entropy),
        );
    }
}

/// Shannon entropy (bits per symbol) of a byte histogram with `total` symbols.
fn shannon(counts: &[u32; 256], total: u32) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let t = f64::from(total);
    let h: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / t;
            -p * p.log2()
        })
        .sum();
    // A single symbol sums to -0.0, which would be written `-0`.
    if h > 0.0 {
        h
    } else {
        0.0
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
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
        answer_name(rec, name);
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

    fn num(rec: &Record, k: &str) -> f64 {
        let f = rec.get(k).unwrap_or_else(|| panic!("{k} missing"));
        assert_eq!(f.kind, Kind::Num, "{k}");
        f.value.parse().unwrap()
    }

    #[test]
    fn entropy_of_known_strings() {
        // Four symbols, equally often: exactly 2 bits.
        assert_eq!(NameStats::of("abcd").subdomain_entropy, 2.0);
        assert_eq!(NameStats::of("aabbccdd").subdomain_entropy, 2.0);
        // One symbol: 0 (not -0); empty: 0.
        assert_eq!(NameStats::of("aaaa").subdomain_entropy, 0.0);
        assert_eq!(NameStats::of("").subdomain_entropy, 0.0);
        // "google": g 2, o 2, l 1, e 1 -> 1.918 bits; dots are left out.
        assert_eq!(NameStats::of("google").subdomain_entropy, 1.918);
        assert_eq!(NameStats::of("go.og.le").subdomain_entropy, 1.918);
        // 64 distinct symbols once each: 6 bits.
        let b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        assert_eq!(NameStats::of(b64).subdomain_entropy, 6.0);
    }

    #[test]
    fn label_lengths() {
        let s = NameStats::of("a.bcd.ef");
        assert_eq!(s.subdomain_length, 8);
        assert_eq!(s.subdomain_labels, 3);
        assert_eq!(s.longest_label_length, 3);
        let s = NameStats::of("");
        assert_eq!((s.subdomain_length, s.subdomain_labels), (0, 0));
        let mut rec = Record::new();
        question_name(&mut rec, "laegpumiplhhpz12ynd1efljwlkjcgwy.x.pirate.sea");
        assert_eq!(
            get(&rec, "dns.question.subdomain"),
            Some("laegpumiplhhpz12ynd1efljwlkjcgwy.x")
        );
        assert_eq!(num(&rec, "yagura.dns.subdomain_length"), 34.0);
        assert_eq!(num(&rec, "yagura.dns.subdomain_labels"), 2.0);
        assert_eq!(num(&rec, "yagura.dns.longest_label_length"), 32.0);
        assert!(num(&rec, "yagura.dns.subdomain_entropy") > 4.0);
        // A name that is its registered domain: zeros.
        rec.clear();
        question_name(&mut rec, "example.com");
        assert_eq!(get(&rec, "dns.question.subdomain"), None);
        assert_eq!(num(&rec, "yagura.dns.subdomain_length"), 0.0);
        assert_eq!(get(&rec, "yagura.dns.subdomain_entropy"), Some("0"));
        // Answers and forwarding lines carry the name, not the computed fields.
        rec.clear();
        answer_name(&mut rec, "abc.example.com");
        assert_eq!(get(&rec, "dns.question.subdomain"), Some("abc"));
        assert_eq!(get(&rec, "yagura.dns.subdomain_length"), None);
    }

    #[test]
    fn computed_numbers_are_canonical_json() {
        // The stored form must read back to the same record (`tests/parse_samples.rs`).
        for sub in [
            "abcd",
            "google",
            "q+Z8AnwaBA",
            "zi05aAbBcCdDeEfFgGhH",
            "a",
            "",
        ] {
            let mut rec = Record::new();
            question_name(&mut rec, &format!("{sub}.example.org"));
            let h = rec.get("yagura.dns.subdomain_entropy").unwrap().value;
            assert!(super::out::is_canonical_number(h), "{sub}: {h}");
        }
    }

    #[test]
    fn registered_domain_uses_the_public_suffix_list() {
        let mut rec = Record::new();
        for (name, registered, sub, tld) in [
            ("a.b.example.co.uk", "example.co.uk", Some("a.b"), "co.uk"),
            (
                "www.example.com.au",
                "example.com.au",
                Some("www"),
                "com.au",
            ),
            (
                "x.y.example.org.nz",
                "example.org.nz",
                Some("x.y"),
                "org.nz",
            ),
            // Wildcard and exception rules of the list: `*.ck`, `!www.ck`.
            ("a.b.example.ck", "b.example.ck", Some("a"), "example.ck"),
            ("a.www.ck", "www.ck", Some("a"), "ck"),
            // Three-part suffixes.
            (
                "host.city.kawasaki.jp",
                "city.kawasaki.jp",
                Some("host"),
                "kawasaki.jp",
            ),
            (
                "a.b.c.d.e.k12.ca.us",
                "e.k12.ca.us",
                Some("a.b.c.d"),
                "k12.ca.us",
            ),
            // Private section: each github.io site is its own registered domain.
            (
                "www.someone.github.io",
                "someone.github.io",
                Some("www"),
                "github.io",
            ),
            // Upper case is looked up in lower case; the name keeps its case.
            (
                "Q+Z8AnwaBA.HideMyself.ORG",
                "HideMyself.ORG",
                Some("Q+Z8AnwaBA"),
                "ORG",
            ),
            // Unknown suffixes: the default rule (the last label).
            (
                "vaaaakardli.pirate.sea",
                "pirate.sea",
                Some("vaaaakardli"),
                "sea",
            ),
            (
                "yrbqlj.example.attack",
                "example.attack",
                Some("yrbqlj"),
                "attack",
            ),
            (
                "1.2.3.4.in-addr.arpa",
                "4.in-addr.arpa",
                Some("1.2.3"),
                "in-addr.arpa",
            ),
            ("example.com", "example.com", None, "com"),
        ] {
            rec.clear();
            question_name(&mut rec, name);
            assert_eq!(
                get(&rec, "dns.question.registered_domain"),
                Some(registered),
                "{name}"
            );
            assert_eq!(get(&rec, "dns.question.subdomain"), sub, "{name}");
            assert_eq!(
                get(&rec, "dns.question.top_level_domain"),
                Some(tld),
                "{name}"
            );
        }
        // A suffix alone and a single label: the name only.
        for name in ["co.uk", "localhost"] {
            rec.clear();
            question_name(&mut rec, name);
            assert_eq!(get(&rec, "dns.question.name"), Some(name));
            assert_eq!(get(&rec, "dns.question.registered_domain"), None, "{name}");
            assert_eq!(get(&rec, "yagura.dns.subdomain_length"), None, "{name}");
        }
    }

    /// The thresholds of the built-in DNS tunnelling rules (`rules/command_and_control/
    /// dns_tunnel_*.yml`) over netrack's name lists (`label,qname`): the popular names never
    /// reach them, each tunnel tool's names do.
    #[test]
    fn calibration_on_netrack_name_lists() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/dns");
        // (file, names at least, share of names past the long-label rule, of the base rule).
        let lists: [(&str, usize, f64, f64); 4] = [
            ("normal/netrack-learn-csv/plain_names.csv", 8000, 0.0, 0.0),
            (
                "tunneling/netrack-learn-csv/dns2tcp_names.csv",
                4000,
                0.6,
                0.6,
            ),
            (
                "tunneling/netrack-learn-csv/iodine_names.csv",
                6000,
                0.2,
                0.9,
            ),
            (
                "tunneling/netrack-learn-csv/dnscapy_names.csv",
                13000,
                0.9,
                0.9,
            ),
        ];
        let mut rec = Record::new();
        for (file, at_least, long_share, base_share) in lists {
            let text = std::fs::read_to_string(format!("{dir}/{file}"))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let (mut n, mut long_rule, mut base_rule) = (0usize, 0usize, 0usize);
            let (mut max_h, mut max_label) = (0f64, 0f64);
            for line in text.lines().skip(1) {
                let Some((_, qname)) = line.split_once(',') else {
                    continue;
                };
                rec.clear();
                question_name(&mut rec, qname);
                if rec.get("yagura.dns.subdomain_length").is_none() {
                    continue;
                }
                n += 1;
                let h = num(&rec, "yagura.dns.subdomain_entropy");
                let label = num(&rec, "yagura.dns.longest_label_length");
                let len = num(&rec, "yagura.dns.subdomain_length");
                max_h = max_h.max(h);
                max_label = max_label.max(label);
                // "DNS Query With A Very Long, High-Entropy Label".
                long_rule += usize::from(label >= 40.0 && h >= 4.5);
                // The base rule of the volume correlation.
                base_rule += usize::from(len >= 30.0 && h >= 3.5);
            }
            assert!(n >= at_least, "{file}: {n} names");
            let share = |k: usize| k as f64 / n as f64;
            if long_share == 0.0 {
                assert_eq!((long_rule, base_rule), (0, 0), "{file}");
                // The margin: popular names stay far from either threshold.
                assert!(
                    max_h < 4.0 && max_label < 30.0,
                    "{file}: {max_h} {max_label}"
                );
            } else {
                assert!(share(long_rule) >= long_share, "{file}: {long_rule}/{n}");
                assert!(share(base_rule) >= base_share, "{file}: {base_rule}/{n}");
            }
        }
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
