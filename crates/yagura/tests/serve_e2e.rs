//! End-to-end tests of `yagura serve` through real sockets with real clients: util-linux
//! `logger` (UDP, TCP, octet counting), rsyslog and syslog-ng forwarding (plain and TLS), curl
//! to the NDJSON and HEC endpoints (with indexer acknowledgement), the official Python
//! `elasticsearch` client's `helpers.bulk`, and the OpenTelemetry Python SDK's OTLP/HTTP log
//! exporter. Each test reads back what was stored (`yagura dump`) and checks the count and a
//! checksum of the sent records.
//!
//! The clients are installed by `scripts/setup-debian.sh` (and `.ci/run`); a missing client
//! fails its test with that advice rather than passing.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::server::{need, text_of, Server, BIN};

/// Count and checksum: every sent id appears exactly once among the stored events.
fn assert_exactly_once(events: &[Value], tag: &str, ids: std::ops::Range<usize>) {
    let mut seen = BTreeMap::<usize, usize>::new();
    for e in events {
        let t = text_of(e);
        if let Some(pos) = t.find(tag) {
            let rest = &t[pos + tag.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(id) = digits.parse::<usize>() {
                *seen.entry(id).or_default() += 1;
            }
        }
    }
    let missing: Vec<usize> = ids.clone().filter(|i| !seen.contains_key(i)).collect();
    let dups: Vec<(&usize, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        missing.is_empty(),
        "{tag}: {} of {} missing, first {:?}",
        missing.len(),
        ids.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        dups.is_empty(),
        "{tag}: duplicated {:?}",
        &dups[..dups.len().min(10)]
    );
    assert_eq!(seen.len(), ids.len(), "{tag}: ids outside the sent range");
    // Checksum of the sorted originals, recomputed from what was stored, must be stable
    // against the order of arrival (printed for the closing note).
    let mut originals: Vec<String> = events
        .iter()
        .map(text_of)
        .filter(|t| t.contains(tag))
        .collect();
    originals.sort();
    let sum = blake3::hash(originals.join("\n").as_bytes());
    eprintln!(
        "{tag}: {} events stored, exactly once; blake3 of sorted originals {}",
        originals.len(),
        &sum.to_hex()[..16]
    );
}

/// Every id of `ids` stored exactly once, and the stored messages are exactly `expected`.
fn assert_stored(
    events: &[Value],
    tag: &str,
    ids: std::ops::Range<usize>,
    expected: impl IntoIterator<Item = String>,
) {
    assert_exactly_once(events, tag, ids);
    assert_messages(events, tag, expected);
}

/// Content checksum: BLAKE3 of the sorted stored `message` values equals that of the messages
/// sent (so every byte of every message arrived, not only its id).
fn assert_messages(events: &[Value], tag: &str, expected: impl IntoIterator<Item = String>) {
    let sum = |mut v: Vec<String>| {
        v.sort();
        blake3::hash(v.join("\n").as_bytes()).to_hex()[..16].to_owned()
    };
    let stored: Vec<String> = events
        .iter()
        .filter_map(|e| e["message"].as_str())
        .filter(|m| m.contains(tag))
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = expected.into_iter().collect();
    let (a, b) = (sum(stored.clone()), sum(expected.clone()));
    assert_eq!(stored.len(), expected.len(), "{tag}: message count");
    assert_eq!(
        a,
        b,
        "{tag}: stored messages differ from those sent, e.g. {:?} vs {:?}",
        stored.first(),
        expected.first()
    );
    eprintln!(
        "{tag}: {} messages, content checksum {a} = sent {b}",
        stored.len()
    );
}

#[test]
fn logger_udp_tcp_and_octet_counting() {
    let logger = need("logger");
    let srv = Server::start(&[]);
    let n = 200;
    for (mode, tag) in [
        ("--udp", "udp-msg-"),
        ("--tcp", "tcp-msg-"),
        ("--octet-count", "octet-msg-"),
    ] {
        let input: String = (0..n)
            .map(|i| format!("{tag}{i} user=alice action=login\n"))
            .collect();
        let port = if mode == "--udp" {
            srv.addr("syslog-udp").port()
        } else {
            srv.addr("syslog-tcp").port()
        };
        let mut args = vec!["--server", "127.0.0.1", "--port"];
        let port_s = port.to_string();
        args.push(&port_s);
        args.extend(["-t", "yagtest", "--rfc5424"]);
        if mode == "--octet-count" {
            args.extend(["--tcp", "--octet-count"]);
        } else {
            args.push(mode);
        }
        let mut child = Command::new(&logger)
            .args(&args)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "logger {mode} failed");
        if mode == "--udp" {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for tag in ["udp-msg-", "tcp-msg-", "octet-msg-"] {
        let evs = srv.wait_for(tag, n, Duration::from_secs(20));
        assert_stored(
            &evs,
            tag,
            0..n,
            (0..n).map(|i| format!("{tag}{i} user=alice action=login")),
        );
        // RFC 5424 header parsed: the app name is the process name.
        assert!(
            evs.iter().all(|e| e["process.name"] == "yagtest"),
            "{tag}: {}",
            evs[0]
        );
    }
    srv.stop();
}

#[test]
fn curl_ndjson_and_hec_with_acks() {
    let curl = need("curl");
    let srv = Server::start(&[]);
    let http = srv.addr("http");
    let body: String = (0..500)
        .map(|i| {
            format!(
                "{{\"message\":\"ndjson-msg-{i}\",\"source\":{{\"ip\":\"10.0.0.{}\"}}}}\n",
                i % 250
            )
        })
        .chain(["{not json\n".to_owned()])
        .collect();
    let out = Command::new(&curl)
        .args([
            "-sS",
            "-X",
            "POST",
            "--data-binary",
            "@-",
            "-H",
            "Content-Type: application/x-ndjson",
        ])
        .arg(format!("http://{http}/api/v1/ingest"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["accepted"], 500, "{reply}");
    assert_eq!(reply["rejected"], 1);
    // HEC, with a channel: the answer carries an ackId that turns true once durable.
    let hec: String = (0..300)
        .map(|i| format!("{{\"event\":\"hec-msg-{i} sshd[1]: Failed password for root from 10.1.1.1 port 22 ssh2\",\"host\":\"web-{}\",\"sourcetype\":\"linux_secure\",\"time\":1700000000.{i:03}}}", i % 3))
        .collect();
    let out = Command::new(&curl)
        .args([
            "-sS",
            "-X",
            "POST",
            "-H",
            "Authorization: Splunk test-token",
            "-H",
            "X-Splunk-Request-Channel: 11111111-2222-3333-4444-555555555555",
            "--data-binary",
            &hec,
        ])
        .arg(format!("http://{http}/services/collector/event"))
        .output()
        .unwrap();
    let reply: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["code"], 0, "{reply}");
    let ack_id = reply["ackId"].as_u64().unwrap();
    let mut acked = false;
    for _ in 0..50 {
        let out = Command::new(&curl)
            .args([
                "-sS",
                "-X",
                "POST",
                "-H",
                "Authorization: Splunk test-token",
                "-H",
                "X-Splunk-Request-Channel: 11111111-2222-3333-4444-555555555555",
            ])
            .arg("--data-binary")
            .arg(format!("{{\"acks\":[{ack_id}]}}"))
            .arg(format!("http://{http}/services/collector/ack"))
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        if r["acks"][ack_id.to_string()] == true {
            acked = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(acked, "HEC ack never turned true");
    // HEC raw, and a request without a token.
    let raw: String = (0..100)
        .map(|i| format!("hec-raw-{i} plain text line\n"))
        .collect();
    let out = Command::new(&curl)
        .args([
            "-sS",
            "-X",
            "POST",
            "-H",
            "Authorization: Splunk t",
            "--data-binary",
            &raw,
        ])
        .arg(format!(
            "http://{http}/services/collector/raw?sourcetype=syslog"
        ))
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["code"],
        0
    );
    let out = Command::new(&curl)
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "--data-binary",
            "{\"event\":\"x\"}",
        ])
        .arg(format!("http://{http}/services/collector/event"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    let evs = srv.wait_for("ndjson-msg-", 500, Duration::from_secs(20));
    assert_stored(
        &evs,
        "ndjson-msg-",
        0..500,
        (0..500).map(|i| format!("ndjson-msg-{i}")),
    );
    let evs = srv.wait_for("hec-msg-", 300, Duration::from_secs(20));
    assert_exactly_once(&evs, "hec-msg-", 0..300);
    // The HEC host and sourcetype route the event: an sshd failure from web-N.
    assert!(
        evs.iter()
            .all(|e| e["host.name"].as_str().unwrap_or("").starts_with("web-")),
        "{}",
        evs[0]
    );
    assert!(
        evs.iter().all(|e| e["event.outcome"] == "failure"),
        "{}",
        evs[0]
    );
    let evs = srv.wait_for("hec-raw-", 100, Duration::from_secs(20));
    assert_exactly_once(&evs, "hec-raw-", 0..100);
    // Metrics per listener and source: counts, the refused line, and the event-time lag (the
    // last HEC records are raw lines without a time of their own: lag under a minute).
    let out = Command::new(&curl)
        .args(["-sS", &format!("http://{http}/metrics")])
        .output()
        .unwrap();
    let metrics = String::from_utf8_lossy(&out.stdout);
    assert!(
        metrics.contains(r#"yagura_events_received_total{listener="http",source="127.0.0.1"} 500"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"yagura_errors_total{listener="http",source="127.0.0.1"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"yagura_dead_letters_total{listener="http",source="127.0.0.1"} 1"#),
        "{metrics}"
    );
    let hec_lag: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"yagura_source_lag_seconds{listener="hec",source="127.0.0.1"} "#)
        })
        .and_then(|v| v.parse().ok())
        .expect("a lag for the HEC source");
    assert!((0.0..60.0).contains(&hec_lag), "hec lag {hec_lag}");
    // The invalid NDJSON line is a dead letter.
    let dir = srv.stop();
    let out = Command::new(BIN)
        .args(["deadletter", "list", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("invalid JSON") && text.contains("{not json"),
        "{text}"
    );
}

fn python(script: &str, args: &[String]) -> std::process::Output {
    Command::new(need("python3"))
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn python_elasticsearch_helpers_bulk() {
    let srv = Server::start(&[]);
    let http = srv.addr("http");
    let script = r#"
import sys
from elasticsearch import Elasticsearch, helpers
es = Elasticsearch(sys.argv[1], request_timeout=30)
info = es.info()
assert info["version"]["number"].startswith("8."), info
actions = ({"_index": "logs-test", "_source": {"message": f"bulk-msg-{i}", "host": {"name": "db-1"}, "event": {"code": 4625}}} for i in range(1000))
ok, errors = helpers.bulk(es, actions, chunk_size=250)
print(ok, len(errors) if isinstance(errors, list) else errors)
"#;
    let out = python(script, &[format!("http://{http}")]);
    assert!(
        out.status.success(),
        "python elasticsearch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1000 0");
    let evs = srv.wait_for("bulk-msg-", 1000, Duration::from_secs(20));
    assert_stored(
        &evs,
        "bulk-msg-",
        0..1000,
        (0..1000).map(|i| format!("bulk-msg-{i}")),
    );
    assert!(evs.iter().all(|e| e["host.name"] == "db-1"));
    srv.stop();
}

#[test]
fn python_opentelemetry_otlp_http_exporter() {
    let srv = Server::start(&[]);
    let http = srv.addr("http");
    let script = r#"
import sys, logging
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk.resources import Resource
provider = LoggerProvider(resource=Resource.create({"service.name": "checkout", "host.name": "app-7"}))
provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(endpoint=sys.argv[1])))
log = logging.getLogger("e2e")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))
for i in range(400):
    log.warning("otlp-msg-%d payment declined", i, extra={"user.id": f"u{i}"})
provider.force_flush()
provider.shutdown()
"#;
    let out = python(script, &[format!("http://{http}/v1/logs")]);
    assert!(
        out.status.success(),
        "python otlp failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs = srv.wait_for("otlp-msg-", 400, Duration::from_secs(20));
    assert_stored(
        &evs,
        "otlp-msg-",
        0..400,
        (0..400).map(|i| format!("otlp-msg-{i} payment declined")),
    );
    let e = &evs[0];
    assert_eq!(e["service.name"], "checkout", "{e}");
    assert_eq!(e["host.name"], "app-7", "{e}");
    assert_eq!(e["log.level"], "warn", "{e}");
    srv.stop();
}

/// Writes `n` sshd messages tagged `tag` to a file a shipper reads (and wraps in its own
/// syslog header, with `sshd` as the program).
fn input_file(dir: &Path, tag: &str, n: usize) -> PathBuf {
    let p = dir.join(format!("{tag}input.log"));
    let text: String = sent_lines(tag, n).map(|l| l + "\n").collect();
    std::fs::write(&p, text).unwrap();
    p
}

fn sent_lines(tag: &str, n: usize) -> impl Iterator<Item = String> + '_ {
    (0..n).map(move |i| {
        format!(
            "Failed password for invalid user admin from 192.0.2.{} port 5{i:04} ssh2 {tag}{i}",
            i % 200
        )
    })
}

fn run_shipper(mut child: Child, srv: &Server, tag: &str, n: usize) -> Vec<Value> {
    let evs = srv.wait_for(tag, n, Duration::from_secs(30));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    if evs.len() < n {
        panic!(
            "{tag}: {} of {n} arrived; shipper said: {}",
            evs.len(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    evs
}

#[test]
fn rsyslog_forwarding_plain_and_tls() {
    let rsyslogd = need("rsyslogd");
    let srv = Server::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let n = 300;
    for (tls, tag) in [(false, "rsyslog-plain-"), (true, "rsyslog-tls-")] {
        let input = input_file(work.path(), tag, n);
        let port = if tls {
            srv.addr("syslog-tls").port()
        } else {
            srv.addr("syslog-tcp").port()
        };
        let state = work.path().join(format!("{tag}state"));
        std::fs::create_dir_all(&state).unwrap();
        let tls_conf = if tls {
            format!(
                "global(DefaultNetstreamDriver=\"gtls\" DefaultNetstreamDriverCAFile=\"{}\")\n",
                srv.dir.path().join("cert.pem").display()
            )
        } else {
            String::new()
        };
        let driver = if tls {
            " StreamDriver=\"gtls\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"anon\""
        } else {
            ""
        };
        let conf = format!(
            "{tls_conf}global(workDirectory=\"{state}\")\nmodule(load=\"imfile\")\ninput(type=\"imfile\" File=\"{input}\" Tag=\"sshd\" readMode=\"0\")\naction(type=\"omfwd\" target=\"127.0.0.1\" port=\"{port}\" protocol=\"tcp\" TCP_Framing=\"octet-counted\" template=\"RSYSLOG_SyslogProtocol23Format\"{driver})\n",
            state = state.display(),
            input = input.display(),
        );
        let conf_path = work.path().join(format!("{tag}rsyslog.conf"));
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(&rsyslogd)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(work.path().join(format!("{tag}pid")))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let evs = run_shipper(child, &srv, tag, n);
        assert_stored(&evs, tag, 0..n, sent_lines(tag, n));
        assert!(
            evs.iter().all(|e| e["event.outcome"] == "failure"),
            "{}",
            evs[0]
        );
    }
    srv.stop();
}

#[test]
fn syslog_ng_forwarding_plain_and_tls() {
    let sng = need("syslog-ng");
    let srv = Server::start(&[]);
    let work = tempfile::tempdir().unwrap();
    let n = 300;
    for (tls, tag) in [(false, "sng-plain-"), (true, "sng-tls-")] {
        let input = input_file(work.path(), tag, n);
        let port = if tls {
            srv.addr("syslog-tls").port()
        } else {
            srv.addr("syslog-tcp").port()
        };
        let transport = if tls {
            format!(
                "transport(\"tls\") tls(peer-verify(optional-untrusted) ca-file(\"{}\"))",
                srv.dir.path().join("cert.pem").display()
            )
        } else {
            "transport(\"tcp\")".to_owned()
        };
        let conf = format!(
            "@version: 3.38\nsource s_in {{ file(\"{input}\" follow-freq(1) flags(no-parse) program-override(\"sshd\")); }};\ndestination d_y {{ syslog(\"127.0.0.1\" port({port}) {transport}); }};\nlog {{ source(s_in); destination(d_y); }};\n",
            input = input.display(),
        );
        let conf_path = work.path().join(format!("{tag}syslog-ng.conf"));
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(&sng)
            .args(["-F", "--no-caps", "-f"])
            .arg(&conf_path)
            .arg(format!(
                "--persist-file={}",
                work.path().join(format!("{tag}persist")).display()
            ))
            .arg(format!(
                "--pidfile={}",
                work.path().join(format!("{tag}pid")).display()
            ))
            .arg(format!(
                "--control={}",
                work.path().join(format!("{tag}ctl")).display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let evs = run_shipper(child, &srv, tag, n);
        assert_stored(&evs, tag, 0..n, sent_lines(tag, n));
    }
    srv.stop();
}

#[test]
fn restart_recovers_without_duplicates() {
    let curl = need("curl");
    let srv = Server::start(&[]);
    let http = srv.addr("http");
    let body: String = (0..300)
        .map(|i| format!("{{\"message\":\"restart-msg-{i}\"}}\n"))
        .collect();
    let st = Command::new(&curl)
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "--data-binary",
            &body,
        ])
        .arg(format!("http://{http}/api/v1/ingest"))
        .status()
        .unwrap();
    assert!(st.success());
    let dir = srv.stop();
    // A second start over the same data: nothing indexed twice, new events follow.
    let srv = Server::start_in(dir, &[]);
    let http = srv.addr("http");
    let body: String = (300..400)
        .map(|i| format!("{{\"message\":\"restart-msg-{i}\"}}\n"))
        .collect();
    Command::new(&curl)
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "--data-binary",
            &body,
        ])
        .arg(format!("http://{http}/api/v1/ingest"))
        .status()
        .unwrap();
    let evs = srv.wait_for("restart-msg-", 400, Duration::from_secs(20));
    assert_exactly_once(&evs, "restart-msg-", 0..400);
    srv.stop();
}

#[test]
fn file_tailing_across_rotation_and_restart() {
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("auth.log");
    let line = |i: usize| {
        format!("Dec  2 10:00:00 gw sshd[42]: Failed password for root from 198.51.100.7 port {i} ssh2 tail-msg-{i}\n")
    };
    let append = |from: usize, to: usize| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        for i in from..to {
            f.write_all(line(i).as_bytes()).unwrap();
        }
    };
    append(0, 100);
    let conf = work.path().join("yagura.toml");
    std::fs::write(
        &conf,
        format!(
            "tail_poll_ms = 50\n[[tail]]\npath = \"{}\"\nsource_type = \"linux_auth\"\n",
            log.display()
        ),
    )
    .unwrap();
    let conf_arg = conf.display().to_string();
    let srv = Server::start(&["--config", &conf_arg]);
    srv.wait_for("tail-msg-", 100, Duration::from_secs(20));
    // A line written in two parts is one record, once its newline arrives.
    {
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let l = line(100);
        f.write_all(&l.as_bytes()[..20]).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        f.write_all(&l.as_bytes()[20..]).unwrap();
    }
    append(101, 150);
    srv.wait_for("tail-msg-", 150, Duration::from_secs(20));
    // Rotation by rename: the old file gets a last line, then a new file appears.
    let rotated = work.path().join("auth.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&rotated)
            .unwrap();
        f.write_all(line(150).as_bytes()).unwrap();
    }
    append(151, 200);
    srv.wait_for("tail-msg-", 200, Duration::from_secs(20));
    let dir = srv.stop();
    // Lines written while serve is down are read after the restart, once.
    append(200, 250);
    let srv = Server::start_in(dir, &["--config", &conf_arg]);
    let evs = srv.wait_for("tail-msg-", 250, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    let evs = if evs.len() == 250 {
        srv.wait_for("tail-msg-", 250, Duration::from_secs(1))
    } else {
        evs
    };
    assert_stored(
        &evs,
        "tail-msg-",
        0..250,
        (0..250).map(|i| {
            format!("Failed password for root from 198.51.100.7 port {i} ssh2 tail-msg-{i}")
        }),
    );
    assert!(
        evs.iter()
            .all(|e| e["log.file.path"] == log.display().to_string().as_str()),
        "{}",
        evs[0]
    );
    assert!(evs
        .iter()
        .all(|e| e["source.ip"] == "198.51.100.7" && e["event.outcome"] == "failure"));
    srv.stop();
}

#[test]
fn dead_letters_replay_into_the_store() {
    let curl = need("curl");
    let srv = Server::start(&[]);
    let http = srv.addr("http");
    let st = Command::new(&curl)
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "--data-binary",
            "{\"message\":\"ok\"}\n{broken deadletter-msg-0\n",
        ])
        .arg(format!("http://{http}/api/v1/ingest"))
        .status()
        .unwrap();
    assert!(st.success());
    srv.wait_for("\"ok\"", 1, Duration::from_secs(10));
    let dir = srv.stop();
    let data = dir.path().join("data");
    let out = Command::new(BIN)
        .args(["deadletter", "replay", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 dead letters replayed"));
    let srv = Server::start_in(dir, &[]);
    let evs = srv.wait_for("deadletter-msg-", 1, Duration::from_secs(10));
    assert_exactly_once(&evs, "deadletter-msg-", 0..1);
    assert_eq!(evs[0]["input.type"], "replay");
    let dir = srv.stop();
    let out = Command::new(BIN)
        .args(["deadletter", "list", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 dead letters"));
}

/// Events sent to `serve` are searchable through its API, and the store they land in verifies.
#[test]
fn search_api_and_verify_on_served_events() {
    let curl = need("curl");
    let srv = Server::start(&[]);
    let http = srv.addr("http");
    let body: String = (0..300)
        .map(|i| {
            format!(
                "{{\"message\":\"api-msg-{i} Failed password for user{} from 10.9.0.{} port 22\"}}\n",
                i % 7,
                i % 50
            )
        })
        .collect();
    let post = Command::new(&curl)
        .args(["-sS", "-X", "POST", "--data-binary", "@-"])
        .arg(format!("http://{http}/api/v1/ingest"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(body.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(post.status.success());
    srv.wait_for("api-msg-", 300, Duration::from_secs(30));
    let get = |q: &str| -> String {
        let out = Command::new(&curl)
            .args(["-sS", "-G", "--data-urlencode"])
            .arg(format!("q={q}"))
            .arg(format!("http://{http}/api/v1/search"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    // The index commits within a few seconds of the flush.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let t: Value = serde_json::from_str(&get("\"Failed password\" | stats count()")).unwrap();
        if t["rows"][0][0] == 300 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{t}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Streamed events, newest first, paged.
    let lines = get("\"api-msg-17\"");
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{lines}");
    assert!(events[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("api-msg-17 "));
    // A bad query names the column.
    let err: Value = serde_json::from_str(&get("user.name ==")).unwrap();
    assert_eq!(err["column"], 13, "{err}");
    // The public key served checks the store's proofs.
    let out = Command::new(&curl)
        .arg("-sS")
        .arg(format!("http://{http}/api/v1/store/public-key"))
        .output()
        .unwrap();
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    let proof = Command::new(&curl)
        .arg("-sS")
        .arg(format!("http://{http}/api/v1/store/proof/5"))
        .output()
        .unwrap();
    let pf = srv.dir.path().join("proof.json");
    std::fs::write(&pf, &proof.stdout).unwrap();
    let v = Command::new(BIN)
        .arg("verify-proof")
        .arg(&pf)
        .arg("--public-key")
        .arg(key["public_key"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    // And another tool checks it from the documented format alone (docs/integrity.md).
    let py = Command::new(need("python3"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/verify-proof.py"))
        .arg(&pf)
        .arg(key["public_key"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}{}",
        String::from_utf8_lossy(&py.stdout),
        String::from_utf8_lossy(&py.stderr)
    );
    assert!(String::from_utf8_lossy(&py.stdout).contains("yagura.seq 5)"));
    let v = Command::new(BIN)
        .args(["verify", "--data-dir"])
        .arg(srv.data())
        .output()
        .unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}
