//! Web server logs: access lines in the common / combined format (nginx and Apache; also
//! vhost-prefixed and `X-Forwarded-For`-prefixed variants) and the nginx and Apache error logs.

use yagura_event::{Kind, Record};

use super::out;
use super::pattern::{self, Caps, MAX_CAPS};
use super::time::{clock, digits, month, to_ms, zone};

/// The parts of an access line.
pub(crate) struct Access<'a> {
    pub ts: i64,
    vhost: Option<&'a str>,
    /// `X-Forwarded-For`-style list before the client (`a, b, c`).
    forwarded: Option<&'a str>,
    client: &'a str,
    user: &'a str,
    request: &'a str,
    status: &'a str,
    bytes: &'a str,
    referrer: Option<&'a str>,
    agent: Option<&'a str>,
}

/// Cheap test: a `[dd/Mon/yyyy:` bracket after some text.
pub(crate) fn looks_like_access(line: &str) -> bool {
    find_time(line).is_some()
}

fn find_time(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let mut from = 0;
    while let Some(p) = line[from..].find(" [") {
        let at = from + p + 2;
        if b.len() > at + 12
            && b[at].is_ascii_digit()
            && b[at + 1].is_ascii_digit()
            && b[at + 2] == b'/'
            && b[at + 6] == b'/'
        {
            return Some(at - 1);
        }
        from = at;
        if from > 400 {
            return None;
        }
    }
    None
}

/// `dd/Mon/yyyy:HH:MM:SS[.fff] +zzzz` at `b[at..]`: (ms, bytes consumed).
fn clf_time(b: &[u8], at: usize) -> Option<(i64, usize)> {
    let d = digits(b, at, 2)?;
    let m = month(b.get(at + 3..)?)?;
    let y = digits(b, at + 7, 4)?;
    if b.get(at + 11) != Some(&b':') {
        return None;
    }
    let (day_ms, len) = clock(b, at + 12)?;
    let mut i = at + 12 + len;
    let mut off = 0;
    if b.get(i) == Some(&b' ') {
        let (o, zl) = zone(b, i + 1)?;
        off = o;
        i += 1 + zl;
    }
    Some((to_ms(y, m, d, day_ms, off)?, i - at))
}

/// End (exclusive, the closing quote) of a quoted field starting after `"` at `from`.
fn quoted_end(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Parses an access line.
pub(crate) fn access(line: &str) -> Option<Access<'_>> {
    let open = find_time(line)?;
    let b = line.as_bytes();
    let (ts, tlen) = clf_time(b, open + 1)?;
    let close = open + 1 + tlen;
    if b.get(close) != Some(&b']') {
        return None;
    }
    // Before the time: [vhost] [forwarded] client ident user
    let before = line[..open].trim_end();
    let (rest, user) = before.rsplit_once(' ').unwrap_or((before, "-"));
    let (vhost, forwarded, client) = match rest.rsplit_once(' ') {
        Some((prefix, _ident)) if !prefix.trim().is_empty() => clients(prefix.trim_end())?,
        _ => (None, None, rest),
    };
    // After the time: "request" status bytes ["referrer" "agent" ...]
    let mut i = close + 1;
    if b.get(i) != Some(&b' ') || b.get(i + 1) != Some(&b'"') {
        return None;
    }
    let req_end = quoted_end(b, i + 2)?;
    let request = &line[i + 2..req_end];
    i = req_end + 1;
    let tail = line.get(i..)?.trim_start();
    let mut parts = tail.splitn(3, ' ');
    let status = parts.next()?;
    if status.len() != 3 || !status.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let bytes = parts.next().unwrap_or("-");
    if bytes != "-" && !bytes.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut referrer = None;
    let mut agent = None;
    if let Some(more) = parts.next() {
        let mb = more.as_bytes();
        if mb.first() == Some(&b'"') {
            let e = quoted_end(mb, 1)?;
            referrer = Some(&more[1..e]);
            let after = &more[e + 1..];
            if let Some(a) = after.strip_prefix(" \"") {
                let ab = a.as_bytes();
                if let Some(e2) = quoted_end(ab, 0) {
                    agent = Some(&a[..e2]);
                }
            }
        }
    }
    Some(Access {
        ts,
        vhost,
        forwarded,
        client,
        user,
        request,
        status,
        bytes,
        referrer,
        agent,
    })
}

/// Splits the text before `ident user`: `client`, `vhost client`, `a, b, c`, `"a, b" client`.
#[allow(clippy::type_complexity)]
fn clients(prefix: &str) -> Option<(Option<&str>, Option<&str>, &str)> {
    if let Some(q) = prefix.strip_prefix('"') {
        let (list, rest) = q.split_once('"')?;
        let client = rest.trim();
        return Some((
            None,
            Some(list),
            if client.is_empty() { list } else { client },
        ));
    }
    // The last space not preceded by a comma separates the client from what comes before.
    let b = prefix.as_bytes();
    let split = (1..b.len())
        .rev()
        .find(|&i| b[i] == b' ' && b[i - 1] != b',');
    match split {
        None => {
            if prefix.contains(',') {
                let first = prefix.split(',').next().unwrap_or(prefix).trim();
                Some((None, Some(prefix), first))
            } else {
                Some((None, None, prefix))
            }
        }
        Some(at) => {
            let (first, client) = (prefix[..at].trim(), prefix[at + 1..].trim());
            if first.contains(',') || out::is_ip(first) {
                Some((None, Some(first), client))
            } else {
                Some((Some(first), None, client))
            }
        }
    }
}

/// Pushes the fields of an access line (`module`: `nginx` or `apache`).
pub(crate) fn push_access(a: &Access<'_>, module: &str, rec: &mut Record) {
    let dataset = if module == "apache" {
        "apache.access"
    } else {
        "nginx.access"
    };
    out::dataset(rec, module, dataset);
    rec.push("event.category", Kind::Str, "web");
    rec.push("event.type", Kind::Str, "access");
    let status_ok = a.status.as_bytes().first().is_some_and(|c| *c < b'4');
    rec.push(
        "event.outcome",
        Kind::Str,
        if status_ok { "success" } else { "failure" },
    );
    // The original client: the first address of a forwarded list, else the peer.
    match a.forwarded {
        Some(list) => {
            let first = list.split(',').next().unwrap_or(list).trim();
            out::addr(rec, "source", first);
            let key = if module == "apache" {
                "apache.access.remote_ip_list"
            } else {
                "nginx.access.remote_ip_list"
            };
            for ip in list.split(',') {
                out::text(rec, key, ip.trim());
            }
            if a.client != first {
                out::text(rec, key, a.client);
            }
        }
        None => out::addr(rec, "source", a.client),
    }
    if let Some(vhost) = a.vhost {
        match vhost.rsplit_once(':') {
            Some((host, port)) if out::is_int(port) => {
                rec.push("url.domain", Kind::Str, host);
                rec.push("url.port", Kind::Num, port);
            }
            _ => rec.push("url.domain", Kind::Str, vhost),
        }
    }
    out::text(rec, "user.name", a.user);
    request(a.request, rec);
    rec.push(
        "http.response.status_code",
        Kind::Num,
        a.status.trim_start_matches('0'),
    );
    out::int(rec, "http.response.body.bytes", a.bytes);
    if let Some(r) = a.referrer {
        out::text(rec, "http.request.referrer", r);
    }
    if let Some(ua) = a.agent {
        out::text(rec, "user_agent.original", ua);
    }
}

/// `GET /a?b HTTP/1.1` -> method, url.original/path/query, http.version.
fn request(req: &str, rec: &mut Record) {
    let mut it = req.splitn(3, ' ');
    let (Some(method), Some(target)) = (it.next(), it.next()) else {
        return;
    };
    if method.is_empty()
        || !method
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'_' || c == b'-')
    {
        return;
    }
    let version = it.next();
    if let Some(v) = version {
        if !v.starts_with("HTTP/") {
            return;
        }
    }
    rec.push("http.request.method", Kind::Str, method);
    url(target, rec);
    if let Some(v) = version {
        rec.push("http.version", Kind::Str, &v[5..]);
    }
}

/// `url.original`, `url.path`, `url.query` of a request target.
pub(crate) fn url(target: &str, rec: &mut Record) {
    rec.push("url.original", Kind::Str, target);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    // Absolute-form targets (proxies): `http://host/path`.
    let path = match path.split_once("://") {
        Some((_, after)) => after.find('/').map_or("/", |p| &after[p..]),
        None => path,
    };
    rec.push("url.path", Kind::Str, path);
    if let Some(q) = query {
        if !q.is_empty() {
            rec.push("url.query", Kind::Str, q);
        }
    }
}

/// The parts of an nginx error line: `2016/10/25 14:49:34 [error] 54053#0: *1 text, client: ...`.
pub(crate) struct NginxError<'a> {
    pub ts: i64,
    level: &'a str,
    pid: &'a str,
    tid: &'a str,
    cid: Option<&'a str>,
    /// Free text (before `, client: `).
    pub text: &'a str,
    /// `, client: 1.2.3.4, server: x, request: "GET / HTTP/1.1", host: "h"`.
    kv: &'a str,
}

pub(crate) fn looks_like_nginx_error(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 22
        && b[4] == b'/'
        && b[7] == b'/'
        && b[10] == b' '
        && b[20] == b'['
        && b[0].is_ascii_digit()
}

pub(crate) fn nginx_error(line: &str) -> Option<NginxError<'_>> {
    let b = line.as_bytes();
    if !looks_like_nginx_error(line) {
        return None;
    }
    let (y, m, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (day_ms, _) = clock(b, 11)?;
    let ts = to_ms(y, m, d, day_ms, 0)?;
    let rest = &line[21..];
    let (level, rest) = rest.split_once("] ")?;
    let (pidtid, rest) = rest.split_once(": ").unwrap_or((rest, ""));
    let (pid, tid) = pidtid.split_once('#')?;
    if !out::is_int(pid) {
        return None;
    }
    let (cid, rest) = match rest.strip_prefix('*') {
        Some(r) => {
            let (c, r) = r.split_once(' ').unwrap_or((r, ""));
            (Some(c), r)
        }
        None => (None, rest),
    };
    let (text, kv) = match rest.find(", client: ") {
        Some(p) => (&rest[..p], &rest[p..]),
        None => (rest, ""),
    };
    Some(NginxError {
        ts,
        level,
        pid,
        tid,
        cid,
        text,
        kv,
    })
}

/// The fields every web server error event starts with.
fn error_head(rec: &mut Record, module: &str, dataset: &str, level: &str) {
    out::dataset(rec, module, dataset);
    rec.push("event.category", Kind::Str, "web");
    rec.push("event.type", Kind::Str, "error");
    rec.push("log.level", Kind::Str, level);
}

pub(crate) fn push_nginx_error(e: &NginxError<'_>, rec: &mut Record) {
    error_head(rec, "nginx", "nginx.error", e.level);
    out::int(rec, "process.pid", e.pid);
    out::int(rec, "process.thread.id", e.tid);
    if let Some(c) = e.cid {
        out::int(rec, "nginx.error.connection_id", c);
    }
    // `, key: value` items; values may be quoted.
    let mut s = e.kv;
    while let Some(r) = s.strip_prefix(", ") {
        let Some((key, r)) = r.split_once(": ") else {
            break;
        };
        let (value, r) = if let Some(q) = r.strip_prefix('"') {
            match quoted_end(q.as_bytes(), 0) {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match r.find(", ") {
                Some(p) => (&r[..p], &r[p..]),
                None => (r, ""),
            }
        };
        match key {
            "client" => out::addr(rec, "source", value),
            "server" => out::text(rec, "nginx.error.server", value),
            "request" => request(value, rec),
            "host" => match value.rsplit_once(':') {
                Some((h, p)) if out::is_int(p) => {
                    rec.push("url.domain", Kind::Str, h);
                    rec.push("url.port", Kind::Num, p);
                }
                _ => out::text(rec, "url.domain", value),
            },
            "referrer" => out::text(rec, "http.request.referrer", value),
            "upstream" => out::text(rec, "nginx.error.upstream", value),
            _ => {}
        }
        s = r;
    }
}

/// The parts of an Apache error line: `[Thu Oct 13 12:24:49.880562 2022] [auth_basic:error]
/// [pid 10:tid 14012] [client 31.33.58.75:50229] AH01618: user sss not found: /`.
pub(crate) struct ApacheError<'a> {
    pub ts: i64,
    module: Option<&'a str>,
    level: &'a str,
    pid: Option<&'a str>,
    tid: Option<&'a str>,
    client: Option<&'a str>,
    code: Option<&'a str>,
    /// The message text (without the `AHnnnnn: ` code).
    pub text: &'a str,
}

pub(crate) fn looks_like_apache_error(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 26 && b[0] == b'[' && b[4] == b' ' && month(&b[5..]).is_some()
}

/// An Apache error line without its time (`[error] [client 1.2.3.4] ...`, and the MSG of
/// `httpd[1]: [authz_core:error] [pid 1] ...` syslog lines); `ts` is 0, the caller's time applies.
pub(crate) fn looks_like_untimed_apache_error(line: &str) -> bool {
    let Some(r) = line.strip_prefix('[') else {
        return false;
    };
    let Some((lvl, rest)) = r.split_once("] ") else {
        return false;
    };
    let level = lvl.rsplit(':').next().unwrap_or(lvl);
    lvl.len() < 40
        && rest.starts_with('[')
        && matches!(
            level,
            "emerg" | "alert" | "crit" | "error" | "warn" | "notice" | "info" | "debug"
        )
        || (lvl.len() < 40
            && matches!(
                level,
                "emerg" | "alert" | "crit" | "error" | "warn" | "notice"
            ))
}

pub(crate) fn apache_error(line: &str) -> Option<ApacheError<'_>> {
    if !looks_like_apache_error(line) {
        if looks_like_untimed_apache_error(line) {
            return apache_error_body(0, line);
        }
        return None;
    }
    let b = line.as_bytes();
    let m = month(&b[5..])?;
    let d = if b[9] == b' ' {
        digits(b, 10, 1)?
    } else {
        digits(b, 9, 2)?
    };
    if b[8] != b' ' || b[11] != b' ' {
        return None;
    }
    let (day_ms, clen) = clock(b, 12)?;
    let yat = 12 + clen + 1;
    let y = digits(b, yat, 4)?;
    if b.get(yat + 4) != Some(&b']') {
        return None;
    }
    let ts = to_ms(y, m, d, day_ms, 0)?;
    apache_error_body(ts, line.get(yat + 5..)?.trim_start())
}

fn apache_error_body(ts: i64, rest: &str) -> Option<ApacheError<'_>> {
    let lv = rest.strip_prefix('[')?;
    let (lvl, mut rest) = lv.split_once(']')?;
    let (module, level) = match lvl.split_once(':') {
        Some((m, l)) => (Some(m), l),
        None => (None, lvl),
    };
    let (mut pid, mut tid, mut client) = (None, None, None);
    loop {
        let r = rest.trim_start();
        if let Some(p) = r.strip_prefix("[pid ") {
            let (inner, after) = p.split_once(']')?;
            match inner.split_once(":tid ") {
                Some((p, t)) => {
                    pid = Some(p);
                    tid = Some(t);
                }
                None => pid = Some(inner),
            }
            rest = after;
        } else if let Some(c) = r
            .strip_prefix("[client ")
            .or_else(|| r.strip_prefix("[remote "))
        {
            let (inner, after) = c.split_once(']')?;
            client = Some(inner);
            rest = after;
        } else {
            rest = r;
            break;
        }
    }
    // `(70014)End of file found: [client 1.2.3.4:1] AH02006: ...`
    if client.is_none() {
        if let Some(p) = rest.find("[client ") {
            if let Some(end) = rest[p..].find(']') {
                client = Some(&rest[p + 8..p + end]);
                rest = rest[p + end + 1..].trim_start();
            }
        }
    }
    let rb = rest.as_bytes();
    let (code, text) = if rb.len() > 9
        && rb.starts_with(b"AH")
        && rb[2..7].iter().all(u8::is_ascii_digit)
        && rb[7] == b':'
    {
        (Some(&rest[..7]), rest[8..].trim_start())
    } else {
        (None, rest)
    };
    Some(ApacheError {
        ts,
        module,
        level,
        pid,
        tid,
        client,
        code,
        text,
    })
}

pub(crate) fn push_apache_error(e: &ApacheError<'_>, rec: &mut Record) {
    error_head(rec, "apache", "apache.error", e.level);
    if let Some(m) = e.module {
        rec.push("apache.error.module", Kind::Str, m);
    }
    if let Some(p) = e.pid {
        out::int(rec, "process.pid", p);
    }
    if let Some(t) = e.tid {
        out::int(rec, "process.thread.id", t);
    }
    if let Some(c) = e.client {
        if out::is_ip(c) {
            rec.push("source.ip", Kind::Str, c);
        } else if let Some((ip, port)) = c.rsplit_once(':') {
            out::addr(rec, "source", ip);
            out::int(rec, "source.port", port);
        } else {
            out::addr(rec, "source", c);
        }
    }
    if let Some(code) = e.code {
        rec.push("error.code", Kind::Str, code);
    }
    apache_message(e.text, rec);
}

/// Apache error messages about a user or a path (authentication, access control, missing
/// files): `(template, is an authentication failure)`.
const APACHE_MESSAGES: &[(&str, bool)] = &[
    ("user {user.name} not found: {url}", true),
    (
        "user {user.name}: authentication failure for \"{url}\"",
        true,
    ),
    (
        "user {user.name}: authorization failure for \"{url}\"",
        true,
    ),
    ("user {user.name}: password mismatch: {url}", true),
    (
        "Authorization of user {user.name} to access {url} failed",
        true,
    ),
    ("client used wrong authentication scheme: {url}", true),
    ("client denied by server configuration: {url}", false),
    ("File does not exist: {url}", false),
    ("Directory index forbidden by rule: {url}", false),
    ("script '{url}' not found or unable to stat", false),
    ("Invalid URI in request {url}", false),
];

fn apache_message(text: &str, rec: &mut Record) {
    let mut caps: Caps = [("", ""); MAX_CAPS];
    for (tmpl, auth) in APACHE_MESSAGES {
        if !text.starts_with(pattern::lead(tmpl)) {
            continue;
        }
        let Some(n) = pattern::matches(tmpl, text, &mut caps) else {
            continue;
        };
        if *auth {
            rec.push("event.category", Kind::Str, "authentication");
        }
        rec.push("event.outcome", Kind::Str, "failure");
        for &(name, value) in &caps[..n] {
            match name {
                "url" if !value.is_empty() => url(value, rec),
                _ => out::text(rec, name, value),
            }
        }
        return;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(rec: &'a Record, k: &str) -> Option<&'a str> {
        rec.get(k).map(|f| f.value)
    }

    #[test]
    fn access_variants() {
        let mut rec = Record::new();
        let a = access(r#"vhost1.domaine.fr 123.123.123.123 - - [04/Jul/2019:09:20:46 +0200] "GET /a?b=1 HTTP/1.1" 200 32953 "-" "Mozilla/5.0""#).unwrap();
        push_access(&a, "nginx", &mut rec);
        assert_eq!(get(&rec, "url.domain"), Some("vhost1.domaine.fr"));
        assert_eq!(get(&rec, "source.ip"), Some("123.123.123.123"));
        assert_eq!(get(&rec, "url.path"), Some("/a"));
        assert_eq!(get(&rec, "url.query"), Some("b=1"));
        assert_eq!(get(&rec, "http.version"), Some("1.1"));
        assert_eq!(get(&rec, "user_agent.original"), Some("Mozilla/5.0"));
        assert_eq!(a.ts, 1_562_224_846_000);
        rec.clear();
        let a = access(r#"10.0.0.2, 10.0.0.1, 127.0.0.1 - - [07/Dec/2016:11:05:07 +0100] "GET /ocelot HTTP/1.1" 200 571 "-" "Mozilla""#).unwrap();
        push_access(&a, "nginx", &mut rec);
        assert_eq!(get(&rec, "source.ip"), Some("10.0.0.2"));
        assert_eq!(rec.get_all("nginx.access.remote_ip_list").count(), 3);
        rec.clear();
        let a = access(r#"::1 - - [26/Dec/2016:16:16:48 +0200] "-" 408 -"#).unwrap();
        push_access(&a, "apache", &mut rec);
        assert_eq!(get(&rec, "source.ip"), Some("::1"));
        assert!(rec.get("http.request.method").is_none());
        rec.clear();
        let a = access(r#"192.168.1.1 - user123 [08/Jun/2020:08:04:43 +0000] "GET /api/login HTTP/1.1" 200 150 "-" "curl/7.68.0""#).unwrap();
        push_access(&a, "nginx", &mut rec);
        assert_eq!(get(&rec, "user.name"), Some("user123"));
        rec.clear();
        let a = access(r#"192.168.1.1 - [08/Jun/2020:08:04:43 +0000] "GET /api/test HTTP/1.1" 200 100 "-" "curl/7.68.0""#).unwrap();
        push_access(&a, "nginx", &mut rec);
        assert_eq!(get(&rec, "source.ip"), Some("192.168.1.1"));
        assert!(access("no time here").is_none());
    }

    #[test]
    fn error_logs() {
        let mut rec = Record::new();
        let e = nginx_error(r#"2021/12/02 11:53:15 [error] 4065777#4065777: *42952950 limiting requests, excess: 5.428 by zone "default_root_zone", client: ::1, server: , request: "GET / HTTP/1.1", host: "la03.d.sb""#).unwrap();
        assert_eq!(
            e.text,
            r#"limiting requests, excess: 5.428 by zone "default_root_zone""#
        );
        push_nginx_error(&e, &mut rec);
        assert_eq!(get(&rec, "source.ip"), Some("::1"));
        assert_eq!(get(&rec, "http.request.method"), Some("GET"));
        assert_eq!(get(&rec, "url.domain"), Some("la03.d.sb"));
        rec.clear();
        let e = apache_error("[Thu Oct 13 12:24:49.880562 2022] [auth_basic:error] [pid 10:tid 140120579262208] [client 31.33.58.75:50229] AH01618: user sss not found: /").unwrap();
        assert_eq!(e.text, "user sss not found: /");
        push_apache_error(&e, &mut rec);
        assert_eq!(get(&rec, "source.ip"), Some("31.33.58.75"));
        assert_eq!(get(&rec, "source.port"), Some("50229"));
        assert_eq!(get(&rec, "log.level"), Some("error"));
        assert_eq!(get(&rec, "apache.error.module"), Some("auth_basic"));
        let e = apache_error("[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] Directory index forbidden by rule: /var/www/html/").unwrap();
        assert_eq!(e.text, "Directory index forbidden by rule: /var/www/html/");
    }
}
