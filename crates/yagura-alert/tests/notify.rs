//! Notification delivery against real receivers on 127.0.0.1: a small HTTP/1.1 server on a
//! std `TcpListener` (webhook, Slack, Teams, failures and recovery, restarts), Python's
//! `http.server` behind TLS (HTTPS with a private CA), Python's `aiosmtpd` (e-mail, with AUTH,
//! STARTTLS and a server that starts late), and UDP/TCP syslog sockets. Every receiver binds a
//! port of its own and stops with its test.
//!
//! The SMTP and TLS tests need `python3` with `aiosmtpd` and the `openssl` command
//! (`scripts/setup-debian.sh` installs them); without them they fail, they are not skipped.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use yagura_alert::notify::{ChannelConfig, Notice, Notifier, RetryConfig};

fn notice(alert_id: u64, severity: &str) -> Notice {
    Notice {
        alert_id,
        rule_id: "win_bruteforce_admin".into(),
        title: "Brute force against admin".into(),
        severity: severity.into(),
        status: "new".into(),
        kind: "correlation".into(),
        users: vec!["alice".into(), "admin".into()],
        hosts: vec!["dc01.corp.example".into()],
        ips: vec!["203.0.113.7".into()],
        count: 42,
        first_seen_ms: 1_764_756_000_000,
        last_seen_ms: 1_764_756_995_123,
        techniques: vec!["T1110".into(), "T1110.001".into()],
        description: "Many failed logons for one account, then a success.".into(),
        url: Some("https://yagura.example/alerts/7".into()),
    }
}

/// Short backoffs, so that retries take milliseconds.
fn fast_retry(max_attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts,
        initial_backoff_ms: 20,
        max_backoff_ms: 100,
        timeout_ms: 3_000,
    }
}

fn http_channel(name: &str, kind: &str, url: String) -> ChannelConfig {
    ChannelConfig {
        name: name.into(),
        kind: kind.into(),
        url: Some(url),
        retry: fast_retry(10),
        ..Default::default()
    }
}

/// Polls `cond` every 10 ms for at most `timeout`.
fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// A port nobody listens on (bound, then released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

// ---------------------------------------------------------------------------------------
// A real HTTP/1.1 receiver on a std TcpListener.

#[derive(Clone, Debug)]
struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The status it was answered with.
    status: u16,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn id(&self) -> String {
        self.header("X-Yagura-Notice-Id")
            .expect("id header")
            .to_string()
    }
}

type Answer = Arc<dyn Fn(usize) -> u16 + Send + Sync>;

struct HttpReceiver {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpReceiver {
    /// Answers request `n` (0-based) with `answer(n)`.
    fn start(listener: TcpListener, answer: Answer) -> Self {
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let count = AtomicUsize::new(0);
            for stream in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                if let Some(req) =
                    serve_one(stream, &|| answer(count.fetch_add(1, Ordering::SeqCst)))
                {
                    r.lock().unwrap().push(req);
                }
            }
        });
        Self {
            addr,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn ok() -> Self {
        Self::start(TcpListener::bind("127.0.0.1:0").unwrap(), Arc::new(|_| 200))
    }

    fn on_port(port: u16, answer: Answer) -> Self {
        Self::start(
            TcpListener::bind(("127.0.0.1", port)).expect("rebind the port"),
            answer,
        )
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn all(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn delivered(&self) -> Vec<Request> {
        self.all().into_iter().filter(|r| r.status == 200).collect()
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request, answers it and closes the connection.
fn serve_one(mut stream: TcpStream, answer: &dyn Fn() -> u16) -> Option<Request> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    assert_eq!(method, "POST");
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let status = answer();
    let text = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let reply = if status == 200 {
        "ok"
    } else {
        "receiver says no"
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.flush();
    Some(Request {
        path,
        headers,
        body,
        status,
    })
}

// ---------------------------------------------------------------------------------------
// 1. Webhook, Slack and Teams payloads.

#[test]
fn http_channels_post_their_json_with_the_notice_id() {
    let rx = HttpReceiver::ok();
    let dir = tempfile::tempdir().unwrap();
    let mut hook = http_channel("hook", "webhook", rx.url("/hook"));
    hook.headers
        .insert("Authorization".into(), "Bearer t0ken".into());
    let mut card = http_channel("card", "teams", rx.url("/card"));
    card.format = Some("messagecard".into());
    let mut pager = http_channel("pager", "webhook", rx.url("/pager"));
    pager.min_severity = "critical".into();
    let channels = vec![
        hook,
        http_channel("slack", "slack", rx.url("/slack")),
        http_channel("teams", "teams", rx.url("/teams")),
        card,
        pager,
    ];
    let n = notifier(dir.path(), channels);
    let high = notice(7, "high");
    n.send(&high).unwrap();
    // Below every channel's min_severity (low by default): goes nowhere.
    n.send(&notice(8, "informational")).unwrap();
    assert!(n.flush(Duration::from_secs(10)), "{:?}", n.stats());

    let got = rx.delivered();
    assert_eq!(got.len(), 4, "{got:?}");
    let by_path = |p: &str| {
        got.iter()
            .find(|r| r.path == p)
            .unwrap_or_else(|| panic!("no POST to {p}"))
    };

    let hook = by_path("/hook");
    assert_eq!(hook.json(), serde_json::to_value(&high).unwrap());
    assert_eq!(hook.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(hook.header("content-type"), Some("application/json"));
    for (path, name) in [
        ("/hook", "hook"),
        ("/slack", "slack"),
        ("/teams", "teams"),
        ("/card", "card"),
    ] {
        let id = by_path(path).id();
        let rest = id
            .strip_prefix(&format!("7-{name}-"))
            .unwrap_or_else(|| panic!("id {id:?}"));
        rest.parse::<u64>().unwrap_or_else(|_| panic!("id {id:?}"));
    }

    let slack = by_path("/slack").json();
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("[HIGH] Brute force against admin"), "{text}");
    assert!(
        text.contains("win_bruteforce_admin") && text.contains("alert 7"),
        "{text}"
    );
    let blocks = slack["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    let all = slack.to_string();
    for want in [
        "alice, admin",
        "dc01.corp.example",
        "203.0.113.7",
        "*Severity*\\nhigh",
        "<https://attack.mitre.org/techniques/T1110/001/|T1110.001>",
        "https://yagura.example/alerts/7",
    ] {
        assert!(all.contains(want), "Slack payload lacks {want:?}: {all}");
    }

    let teams = by_path("/teams").json();
    assert_eq!(teams["type"], "message");
    let content = &teams["attachments"][0]["content"];
    assert_eq!(
        teams["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(content["type"], "AdaptiveCard");
    let facts = content["body"][1]["facts"].as_array().unwrap();
    let fact = |t: &str| {
        facts
            .iter()
            .find(|f| f["title"] == t)
            .and_then(|f| f["value"].as_str())
            .unwrap_or_else(|| panic!("no fact {t}"))
            .to_string()
    };
    assert_eq!(fact("Severity"), "high");
    assert_eq!(fact("Rule"), "win_bruteforce_admin");
    assert_eq!(fact("Users"), "alice, admin");
    assert_eq!(fact("Alert id"), "7");
    assert_eq!(
        content["actions"][0]["url"],
        "https://yagura.example/alerts/7"
    );

    let card = by_path("/card").json();
    assert_eq!(card["@type"], "MessageCard");
    assert!(card.to_string().contains("203.0.113.7"));

    // The critical-only channel gets the critical notice only.
    n.send(&notice(9, "critical")).unwrap();
    assert!(n.flush(Duration::from_secs(10)));
    let pager: Vec<Request> = rx
        .delivered()
        .into_iter()
        .filter(|r| r.path == "/pager")
        .collect();
    assert_eq!(pager.len(), 1);
    assert_eq!(pager[0].json()["alert_id"], 9);

    for s in n.stats() {
        assert_eq!(s.pending, 0, "{s:?}");
        assert_eq!(s.failed_attempts, 0, "{s:?}");
        assert_eq!(s.sent, if s.name == "pager" { 1 } else { 2 }, "{s:?}");
    }
    assert!(files_in(&dir.path().join("pending")).is_empty());
    n.shutdown();
}

/// The serve process shares one notifier between its tasks.
#[allow(dead_code)]
fn notifier_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Notifier>();
}

fn notifier(dir: &Path, channels: Vec<ChannelConfig>) -> Notifier {
    Notifier::open(dir, channels).expect("open the notifier")
}

// ---------------------------------------------------------------------------------------
// 2. Failures, then recovery; exhausted and refused messages.

#[test]
fn http_500_is_retried_until_the_receiver_recovers() {
    let rx = HttpReceiver::start(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        Arc::new(|n| if n < 3 { 500 } else { 200 }),
    );
    let dir = tempfile::tempdir().unwrap();
    let n = notifier(
        dir.path(),
        vec![http_channel("hook", "webhook", rx.url("/"))],
    );
    n.send(&notice(1, "medium")).unwrap();
    assert!(n.flush(Duration::from_secs(10)), "{:?}", n.stats());

    let all = rx.all();
    assert_eq!(all.len(), 4, "3 refusals then the delivery: {all:?}");
    assert_eq!(all.iter().filter(|r| r.status == 500).count(), 3);
    assert_eq!(
        rx.delivered().len(),
        1,
        "delivered exactly once after recovery"
    );
    assert!(
        all.iter().all(|r| r.id() == all[0].id()),
        "one message, one id"
    );
    let s = &n.stats()[0];
    assert_eq!(
        (s.sent, s.failed_attempts, s.pending, s.given_up),
        (1, 3, 0, 0),
        "{s:?}"
    );
    let err = s.last_error.as_deref().unwrap();
    assert!(
        err.contains("500") && err.contains("receiver says no"),
        "{err}"
    );
    assert!(s.last_error_ms.is_some());
    assert!(files_in(&dir.path().join("failed")).is_empty());
}

#[test]
fn connection_refused_is_retried_until_the_receiver_starts() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/late");
    let n = notifier(dir.path(), vec![http_channel("late", "webhook", url)]);
    let sent = notice(2, "high");
    n.send(&sent).unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || n.stats()[0].failed_attempts >= 2),
        "{:?}",
        n.stats()
    );
    let s = n.stats()[0].clone();
    assert_eq!((s.sent, s.pending), (0, 1));
    assert!(s.last_error.is_some(), "{s:?}");

    let rx = HttpReceiver::on_port(port, Arc::new(|_| 200));
    assert!(n.flush(Duration::from_secs(10)), "{:?}", n.stats());
    let got = rx.delivered();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json(), serde_json::to_value(&sent).unwrap());
    let s = &n.stats()[0];
    assert_eq!((s.sent, s.pending, s.given_up), (1, 0, 0));
    assert!(s.failed_attempts >= 2);
}

#[test]
fn exhausted_or_refused_messages_move_to_failed_with_their_error() {
    let always_500 =
        HttpReceiver::start(TcpListener::bind("127.0.0.1:0").unwrap(), Arc::new(|_| 500));
    let gone = HttpReceiver::start(TcpListener::bind("127.0.0.1:0").unwrap(), Arc::new(|_| 404));
    let dir = tempfile::tempdir().unwrap();
    let mut down = http_channel("down", "webhook", always_500.url("/"));
    down.retry = fast_retry(3);
    let n = notifier(
        dir.path(),
        vec![down, http_channel("gone", "slack", gone.url("/"))],
    );
    n.send(&notice(3, "high")).unwrap();
    assert!(n.flush(Duration::from_secs(10)), "{:?}", n.stats());

    let stats = n.stats();
    let (down, gone_s) = (&stats[0], &stats[1]);
    assert_eq!(
        (down.sent, down.failed_attempts, down.given_up, down.pending),
        (0, 3, 1, 0)
    );
    // A 404 will not get better: given up at the first attempt, not retried ten times.
    assert_eq!(
        (gone_s.sent, gone_s.failed_attempts, gone_s.given_up),
        (0, 1, 1)
    );
    assert_eq!(gone.all().len(), 1);
    assert!(gone_s.last_error.as_deref().unwrap().contains("404"));

    let failed = files_in(&dir.path().join("failed"));
    assert_eq!(failed.len(), 2, "{failed:?}");
    let mut kept: Vec<Value> = failed
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    kept.sort_by_key(|v| v["channel"].as_str().unwrap().to_string());
    assert_eq!(kept[0]["channel"], "down");
    assert_eq!(kept[0]["attempts"], 3);
    assert!(kept[0]["last_error"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(
        kept[0]["notice"],
        serde_json::to_value(notice(3, "high")).unwrap()
    );
    assert_eq!(kept[1]["channel"], "gone");
    assert_eq!(kept[1]["attempts"], 1);
    assert!(files_in(&dir.path().join("pending")).is_empty());
}

// ---------------------------------------------------------------------------------------
// 5. Restart: what is pending is delivered by the next Notifier, once.

#[test]
fn pending_messages_survive_a_restart_and_are_delivered_once() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let channel = || {
        let mut c = http_channel("hook", "webhook", format!("http://127.0.0.1:{port}/"));
        c.retry.initial_backoff_ms = 50;
        c
    };
    let first = notifier(dir.path(), vec![channel()]);
    first.send(&notice(5, "high")).unwrap();
    assert!(wait_until(Duration::from_secs(5), || first.stats()[0]
        .failed_attempts
        >= 1));
    // One notifier per outbox at a time.
    let e = Notifier::open(dir.path(), vec![channel()])
        .err()
        .expect("outbox locked");
    assert!(e.to_string().contains("in use"), "{e}");
    first.shutdown();
    let pending = files_in(&dir.path().join("pending"));
    assert_eq!(pending.len(), 1, "{pending:?}");

    let rx = HttpReceiver::on_port(port, Arc::new(|_| 200));
    let second = notifier(dir.path(), vec![channel()]);
    assert_eq!(second.stats()[0].pending, 1);
    assert!(
        second.flush(Duration::from_secs(10)),
        "{:?}",
        second.stats()
    );
    let got = rx.delivered();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].json()["alert_id"], 5);
    let id = got[0].id();
    assert!(id.starts_with("5-hook-"), "{id}");
    assert!(files_in(&dir.path().join("pending")).is_empty());

    // Sequence numbers are not reused after the restart.
    second.send(&notice(5, "high")).unwrap();
    assert!(second.flush(Duration::from_secs(10)));
    let got = rx.delivered();
    assert_eq!(got.len(), 2);
    assert_ne!(got[1].id(), id);
    second.shutdown();

    // A third start finds nothing to send.
    let third = notifier(dir.path(), vec![channel()]);
    assert_eq!(third.stats()[0].pending, 0);
    assert!(third.flush(Duration::from_secs(1)));
    assert_eq!(rx.all().len(), 2);
}

// ---------------------------------------------------------------------------------------
// 4. Syslog over UDP and TCP.

/// Splits `<PRI>1 TS HOST APP PROCID MSGID [SD] MSG` into its parts.
fn rfc5424(line: &str) -> (u32, Vec<String>, String, String) {
    let rest = line.strip_prefix('<').expect("<PRI>");
    let (pri, rest) = rest.split_once('>').expect("PRI>");
    let pri: u32 = pri.parse().expect("PRI number");
    let rest = rest.strip_prefix("1 ").expect("version 1");
    let mut fields = Vec::new();
    let mut rest = rest;
    for _ in 0..5 {
        let (f, r) = rest.split_once(' ').expect("header field");
        fields.push(f.to_string());
        rest = r;
    }
    assert!(rest.starts_with('['), "structured data: {rest}");
    // The SD element ends at the first `]` not escaped by a backslash.
    let bytes = rest.as_bytes();
    let mut end = 1;
    while !(bytes[end] == b']' && bytes[end - 1] != b'\\') {
        end += 1;
    }
    let sd = rest[..=end].to_string();
    let msg = rest[end + 1..]
        .strip_prefix(' ')
        .expect("SP before MSG")
        .to_string();
    (pri, fields, sd, msg)
}

fn check_header(fields: &[String]) {
    let ts = &fields[0];
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
    assert!(!fields[1].is_empty() && fields[1].is_ascii());
    assert_eq!(fields[2], "yagura");
    assert_eq!(fields[3], std::process::id().to_string());
    assert_eq!(fields[4], "alert");
}

#[test]
fn syslog_over_udp_is_rfc5424_with_the_notice_as_json() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = ChannelConfig {
        name: "siem".into(),
        kind: "syslog".into(),
        address: Some(format!("udp://{}", sock.local_addr().unwrap())),
        retry: fast_retry(3),
        ..Default::default()
    };
    let n = notifier(dir.path(), vec![c]);
    let sent = notice(11, "high");
    n.send(&sent).unwrap();
    let mut buf = vec![0u8; 65536];
    let (len, _) = sock.recv_from(&mut buf).expect("a datagram");
    let line = std::str::from_utf8(&buf[..len]).unwrap();
    let (pri, fields, sd, msg) = rfc5424(line);
    assert_eq!(pri, 4 * 8 + 3, "facility auth, severity err: {line}");
    check_header(&fields);
    assert!(sd.starts_with("[yagura@32473 notice_id=\"11-siem-"), "{sd}");
    assert!(
        sd.contains("alert_id=\"11\"") && sd.contains("severity=\"high\""),
        "{sd}"
    );
    let json: Value = serde_json::from_str(&msg).expect("MSG is JSON");
    assert_eq!(json, serde_json::to_value(&sent).unwrap());

    // A huge notice still arrives as one whole datagram, shortened.
    let mut huge = notice(13, "low");
    huge.description = "x".repeat(20_000);
    huge.users = (0..500).map(|i| format!("user{i}")).collect();
    n.send(&huge).unwrap();
    let (len, _) = sock.recv_from(&mut buf).expect("a datagram");
    assert!(len <= 8192, "{len}");
    let line = std::str::from_utf8(&buf[..len]).unwrap();
    let (pri, _, _, msg) = rfc5424(line);
    assert_eq!(pri, 4 * 8 + 5);
    let json: Value = serde_json::from_str(&msg).expect("MSG is whole JSON");
    assert_eq!(json["users"].as_array().unwrap().len(), 20);
    assert!(json["description"].as_str().unwrap().ends_with('…'));
    assert!(n.flush(Duration::from_secs(5)));
    assert_eq!(n.stats()[0].sent, 2);
}

#[test]
fn syslog_over_tcp_is_octet_counted_rfc5424_with_cef() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let reader = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut s = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("no syslog connection: {e}"),
            }
        };
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        String::from_utf8(all).unwrap()
    });
    let dir = tempfile::tempdir().unwrap();
    let c = ChannelConfig {
        name: "siem-tcp".into(),
        kind: "syslog".into(),
        address: Some(format!("tcp://{addr}")),
        format: Some("cef".into()),
        facility: Some(16),
        hostname: Some("yagura-test".into()),
        retry: fast_retry(3),
        ..Default::default()
    };
    let n = notifier(dir.path(), vec![c]);
    let mut sent = notice(12, "critical");
    sent.rule_id = "rule \"x\"]".into();
    sent.description = "a=b\nsecond line".into();
    n.send(&sent).unwrap();
    let frame = reader.join().unwrap();
    let (len, msg) = frame.split_once(' ').expect("LEN SP MSG");
    assert_eq!(
        len.parse::<usize>().unwrap(),
        msg.len(),
        "octet count: {frame}"
    );
    let (pri, fields, sd, body) = rfc5424(msg);
    assert_eq!(pri, 16 * 8 + 2, "local0, crit");
    check_header(&fields);
    assert_eq!(fields[1], "yagura-test");
    assert!(
        sd.contains(r#"rule_id="rule \"x\"\]""#),
        "escaped SD value: {sd}"
    );
    assert!(
        body.starts_with(&format!(
            "CEF:0|Yagura|Yagura|{}|rule \"x\"]|Brute force against admin|10|",
            env!("CARGO_PKG_VERSION")
        )),
        "{body}"
    );
    for want in [
        "externalId=12",
        "suser=alice,admin",
        "shost=dc01.corp.example",
        "src=203.0.113.7",
        "cs3=T1110,T1110.001",
        "cnt=42",
        r"msg=a\=b\nsecond line",
    ] {
        assert!(body.contains(want), "CEF lacks {want:?}: {body}");
    }
    assert!(n.flush(Duration::from_secs(5)));
}

// ---------------------------------------------------------------------------------------
// 3. SMTP against aiosmtpd.

const SMTPD: &str = r#"
import email, email.policy, json, ssl, sys
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

out, port = sys.argv[1], int(sys.argv[2])
cert, key = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)

class Handler:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        rec = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "message_id": str(msg["message-id"]),
            "notice_id": str(msg["x-yagura-notice-id"]),
            "content_type": msg.get_content_type(),
            "body": msg.get_content().replace("\r\n", "\n"),
            "login": session.auth_data,
            "tls": session.ssl is not None,
        }
        with open(out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return "250 OK"

def auth(server, session, envelope, mechanism, data):
    ok = data.login == b"soc" and data.password == b"s3cret"
    return AuthResult(success=ok, handled=False, auth_data=data.login.decode() if ok else None)

kw = dict(hostname="127.0.0.1", port=port, authenticator=auth, auth_require_tls=False)
if cert:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    kw.update(tls_context=ctx, require_starttls=True)
c = Controller(Handler(), **kw)
c.start()
print("ready", flush=True)
sys.stdin.read()  # until the test closes our stdin (or exits)
c.stop()
"#;

const HTTPSD: &str = r#"
import http.server, json, ssl, sys, threading

out, cert, key = sys.argv[1], sys.argv[2], sys.argv[3]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        with open(out, "a") as f:
            f.write(json.dumps({"path": self.path, "id": self.headers["x-yagura-notice-id"],
                                "body": json.loads(body)}) + "\n")
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
print(srv.server_address[1], flush=True)
sys.stdin.read()
"#;

fn require_aiosmtpd() {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the SMTP tests need python3 with aiosmtpd (they are not skipped): run scripts/setup-debian.sh"
    );
}

/// A Python receiver (aiosmtpd, or http.server with TLS), writing one JSON line per message
/// to `out`; it prints one line when ready, and stops when the test closes its stdin.
struct PyServer {
    child: Child,
    out: PathBuf,
    /// What it printed when ready.
    ready: String,
}

impl PyServer {
    fn start(name: &str, source: &str, dir: &Path, args: &[&std::ffi::OsStr]) -> PyServer {
        let script = dir.join(format!("{name}.py"));
        std::fs::write(&script, source).unwrap();
        let out = dir.join(format!("{name}.jsonl"));
        let log_path = dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&out)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("python3 (run scripts/setup-debian.sh)");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let ready = rx.recv_timeout(Duration::from_secs(15)).unwrap_or_default();
        if ready.trim().is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            panic!("{name} did not start: {log}");
        }
        PyServer {
            child,
            out,
            ready: ready.trim().to_string(),
        }
    }

    /// aiosmtpd on 127.0.0.1:`port` (STARTTLS required when `tls` is given).
    fn smtpd(port: u16, dir: &Path, tls: Option<(&Path, &Path)>) -> PyServer {
        require_aiosmtpd();
        let port = port.to_string();
        let mut args = vec![std::ffi::OsStr::new(&port)];
        if let Some((cert, key)) = tls {
            args.push(cert.as_os_str());
            args.push(key.as_os_str());
        }
        Self::start("smtpd", SMTPD, dir, &args)
    }

    /// The messages received so far.
    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn mails(&self) -> Vec<Value> {
        self.records()
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        if !wait_until(Duration::from_secs(3), || {
            self.child.try_wait().ok().flatten().is_some()
        }) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn smtp_channel(name: &str, port: u16) -> ChannelConfig {
    ChannelConfig {
        name: name.into(),
        kind: "smtp".into(),
        host: Some("127.0.0.1".into()),
        port: Some(port),
        from: Some("Yagura SOC <yagura@example.com>".into()),
        to: vec![
            "soc@example.com".into(),
            "On call <oncall@example.com>".into(),
        ],
        retry: fast_retry(20),
        ..Default::default()
    }
}

fn check_mail(mail: &Value, sent: &Notice, channel: &str) {
    assert_eq!(mail["mail_from"], "yagura@example.com");
    assert_eq!(
        mail["rcpt_tos"],
        serde_json::json!(["soc@example.com", "oncall@example.com"])
    );
    assert_eq!(mail["from"], "Yagura SOC <yagura@example.com>");
    assert!(
        mail["to"]
            .as_str()
            .unwrap()
            .contains("On call <oncall@example.com>"),
        "{mail}"
    );
    assert_eq!(
        mail["subject"],
        format!("[Yagura] [{}] {}", sent.severity.to_uppercase(), sent.title)
    );
    let id = mail["notice_id"].as_str().unwrap();
    assert!(
        id.starts_with(&format!("{}-{channel}-", sent.alert_id)),
        "{id}"
    );
    assert_eq!(mail["message_id"], format!("<{id}@example.com>"));
    assert_eq!(mail["content_type"], "text/plain");
    let body = mail["body"].as_str().unwrap();
    for want in [
        sent.description.as_str(),
        "alice, admin",
        "dc01.corp.example",
        "win_bruteforce_admin",
        "T1110, T1110.001",
        "https://yagura.example/alerts/7",
    ] {
        assert!(body.contains(want), "body lacks {want:?}: {body}");
    }
}

#[test]
fn smtp_delivers_to_aiosmtpd_with_auth() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = PyServer::smtpd(port, dir.path(), None);
    let mut c = smtp_channel("mail", port);
    c.username = Some("soc".into());
    c.password = Some("s3cret".into());
    let n = notifier(&dir.path().join("outbox"), vec![c]);
    let mut sent = notice(21, "high");
    // Non-ASCII subject (RFC 2047), and lines that need dot-stuffing and quoted-printable.
    sent.title = "Brute force against admin — 東京 office".into();
    sent.description = "Many failed logons.\n.\n.hidden line\nx=y and a long line: ".to_string()
        + &"word ".repeat(40);
    n.send(&sent).unwrap();
    assert!(n.flush(Duration::from_secs(15)), "{:?}", n.stats());
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mut expect = sent.clone();
    expect.description = expect.description.trim_end().to_string();
    check_mail(&mails[0], &expect, "mail");
    assert_eq!(mails[0]["login"], "soc");
    assert!(mails[0]["body"]
        .as_str()
        .unwrap()
        .contains("\n.\n.hidden line\n"));
    assert_eq!(n.stats()[0].sent, 1);
}

#[test]
fn smtp_wrong_password_is_given_up_with_the_server_reply() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = PyServer::smtpd(port, dir.path(), None);
    let mut c = smtp_channel("mail", port);
    c.username = Some("soc".into());
    c.password = Some("wrong".into());
    let n = notifier(&dir.path().join("outbox"), vec![c]);
    n.send(&notice(22, "high")).unwrap();
    assert!(n.flush(Duration::from_secs(15)), "{:?}", n.stats());
    let s = &n.stats()[0];
    assert_eq!(
        (s.sent, s.given_up, s.failed_attempts),
        (0, 1, 1),
        "5xx is permanent: {s:?}"
    );
    assert!(s.last_error.as_deref().unwrap().contains("535"), "{s:?}");
    assert!(server.mails().is_empty());
    assert_eq!(files_in(&dir.path().join("outbox/failed")).len(), 1);
}

#[test]
fn smtp_server_down_at_first_gets_the_mail_once_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    require_aiosmtpd();
    let port = free_port();
    let n = notifier(&dir.path().join("outbox"), vec![smtp_channel("mail", port)]);
    let sent = notice(23, "medium");
    n.send(&sent).unwrap();
    assert!(wait_until(Duration::from_secs(5), || n.stats()[0]
        .failed_attempts
        >= 1));
    let err = n.stats()[0].last_error.clone().unwrap();
    assert!(err.contains("connect"), "{err}");
    let server = PyServer::smtpd(port, dir.path(), None);
    assert!(n.flush(Duration::from_secs(15)), "{:?}", n.stats());
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    check_mail(&mails[0], &sent, "mail");
    assert_eq!(n.stats()[0].sent, 1);
}

#[test]
fn https_webhook_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certs(dir.path());
    let server = PyServer::start(
        "httpsd",
        HTTPSD,
        dir.path(),
        &[cert.as_os_str(), key.as_os_str()],
    );
    let url = format!("https://127.0.0.1:{}/tls", server.ready);
    let mut trusted = http_channel("trusted", "webhook", url.clone());
    trusted.ca_file = Some(ca);
    let mut untrusted = http_channel("untrusted", "webhook", url);
    untrusted.retry = fast_retry(1);
    let n = notifier(&dir.path().join("outbox"), vec![trusted, untrusted]);
    let sent = notice(31, "high");
    n.send(&sent).unwrap();
    assert!(n.flush(Duration::from_secs(15)), "{:?}", n.stats());
    let got = server.records();
    assert_eq!(
        got.len(),
        1,
        "only the channel that trusts the CA delivers: {got:?}"
    );
    assert_eq!(got[0]["body"], serde_json::to_value(&sent).unwrap());
    assert!(got[0]["id"].as_str().unwrap().starts_with("31-trusted-"));
    let stats = n.stats();
    assert_eq!((stats[0].sent, stats[1].sent, stats[1].given_up), (1, 0, 1));
    let err = stats[1].last_error.as_deref().unwrap();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

/// A CA and a server certificate for 127.0.0.1, made with the openssl command.
fn test_certs(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command (run scripts/setup-debian.sh)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Yagura test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

#[test]
fn smtp_starttls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certs(dir.path());
    let port = free_port();
    let server = PyServer::smtpd(port, dir.path(), Some((&cert, &key)));
    let mut c = smtp_channel("tls", port);
    c.starttls = true;
    c.ca_file = Some(ca);
    c.username = Some("soc".into());
    c.password = Some("s3cret".into());
    let n = notifier(&dir.path().join("outbox"), vec![c]);
    let sent = notice(24, "critical");
    n.send(&sent).unwrap();
    assert!(n.flush(Duration::from_secs(15)), "{:?}", n.stats());
    let mails = server.mails();
    assert_eq!(mails.len(), 1, "{:?}", n.stats());
    check_mail(&mails[0], &sent, "tls");
    assert_eq!(mails[0]["tls"], true);
    assert_eq!(mails[0]["login"], "soc");

    // Without the CA the certificate is not trusted: the attempt fails, nothing is sent.
    let mut untrusted = smtp_channel("untrusted", port);
    untrusted.starttls = true;
    untrusted.retry = fast_retry(1);
    let n2 = notifier(&dir.path().join("outbox2"), vec![untrusted]);
    n2.send(&sent).unwrap();
    assert!(n2.flush(Duration::from_secs(15)));
    let s = &n2.stats()[0];
    assert_eq!((s.sent, s.given_up), (0, 1));
    assert!(s.last_error.as_deref().unwrap().contains("TLS"), "{s:?}");
    assert_eq!(server.mails().len(), 1);
}

// ---------------------------------------------------------------------------------------
// 6. Bad configuration.

fn open_err(channels: Vec<ChannelConfig>) -> String {
    let dir = tempfile::tempdir().unwrap();
    match Notifier::open(dir.path(), channels) {
        Ok(_) => panic!("accepted a bad configuration"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_configurations_are_refused_naming_channel_and_field() {
    let base = |name: &str, kind: &str| ChannelConfig {
        name: name.into(),
        kind: kind.into(),
        ..Default::default()
    };
    let e = open_err(vec![base("pagerduty", "pager")]);
    assert!(
        e.contains("\"pagerduty\"") && e.contains("kind") && e.contains("pager"),
        "{e}"
    );
    let e = open_err(vec![base("hook-1", "webhook")]);
    assert!(e.contains("\"hook-1\"") && e.contains("url"), "{e}");
    let e = open_err(vec![ChannelConfig {
        url: Some("ftp://x/".into()),
        ..base("h", "slack")
    }]);
    assert!(e.contains("\"h\"") && e.contains("url"), "{e}");
    let e = open_err(vec![ChannelConfig {
        url: Some("http://127.0.0.1:1/".into()),
        to: vec!["a@b.c".into()],
        ..base("hook", "webhook")
    }]);
    assert!(
        e.contains("\"hook\"") && e.contains("to") && e.contains("not used"),
        "{e}"
    );
    let e = open_err(vec![ChannelConfig {
        host: Some("mx".into()),
        from: Some("a@b.c".into()),
        ..base("mail", "smtp")
    }]);
    assert!(e.contains("\"mail\"") && e.contains("to"), "{e}");
    let e = open_err(vec![ChannelConfig {
        address: Some("127.0.0.1:514".into()),
        ..base("sys", "syslog")
    }]);
    assert!(e.contains("\"sys\"") && e.contains("address"), "{e}");
    let e = open_err(vec![ChannelConfig {
        url: Some("http://127.0.0.1:1/".into()),
        min_severity: "urgent".into(),
        ..base("hook", "webhook")
    }]);
    assert!(e.contains("min_severity") && e.contains("urgent"), "{e}");
    let ok = ChannelConfig {
        url: Some("http://127.0.0.1:1/".into()),
        ..base("twice", "webhook")
    };
    let e = open_err(vec![ok.clone(), ok]);
    assert!(e.contains("\"twice\"") && e.contains("name"), "{e}");
    let e = open_err(vec![ChannelConfig {
        host: Some("mail.example.com".into()),
        from: Some("a@example.com".into()),
        to: vec!["b@example.com".into()],
        username: Some("u".into()),
        password: Some("p".into()),
        ..base("clear", "smtp")
    }]);
    assert!(e.contains("\"clear\"") && e.contains("starttls"), "{e}");
    let e = open_err(vec![base("bad name", "webhook")]);
    assert!(e.contains("name"), "{e}");

    // TOML: unknown fields are refused by the parser.
    #[derive(serde::Deserialize)]
    struct File {
        #[allow(dead_code)]
        notify: Vec<ChannelConfig>,
    }
    let e = toml::from_str::<File>(
        "[[notify]]\nname = \"x\"\nkind = \"webhook\"\nurl = \"http://h/\"\nuri = 1\n",
    )
    .err()
    .expect("unknown field refused")
    .to_string();
    assert!(e.contains("uri"), "{e}");
}

/// Every `[[notify]]` example of docs/notifications.md parses and validates.
#[test]
fn the_documented_examples_are_valid() {
    #[derive(serde::Deserialize)]
    struct File {
        notify: Vec<ChannelConfig>,
    }
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/notifications.md"
    ))
    .expect("docs/notifications.md");
    let mut examples = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for block in doc.split("```toml").skip(1) {
        let toml_text = block.split("```").next().unwrap();
        if !toml_text.contains("[[notify]]") {
            continue;
        }
        let file: File = toml::from_str(toml_text).unwrap_or_else(|e| panic!("{e}\n{toml_text}"));
        for c in &file.notify {
            c.validate().unwrap_or_else(|e| panic!("{e}\n{toml_text}"));
            kinds.insert(c.kind.clone());
            examples += 1;
        }
    }
    assert!(examples >= 5, "{examples}");
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["slack", "smtp", "syslog", "teams", "webhook"]
    );
}
