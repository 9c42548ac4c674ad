//! Streaming detection end to end: real logs replayed through `yagura serve`'s listeners, the
//! alerts read back with `yagura alerts` (through the server's API while it runs, from the file
//! once it stopped) and compared with what `yagura hunt` finds on the same records.

mod common;

use common::server::{alerts_list as alerts, jsonl_of, to_rfc5424, Server, BIN};
use common::shared;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CONFIG: &str = "[detect]\nlateness_secs = 1\n";

/// The built-in pack's SSH brute-force correlation (> 10 failures in 5 minutes).
const MANY: &str = "Many Failed SSH Logons From One Source Address";

fn start(dir: tempfile::TempDir) -> Server {
    start_with(dir, "")
}

fn start_with(dir: tempfile::TempDir, more: &str) -> Server {
    start_cfg(dir, more, "")
}

/// A server with `top` (top-level keys, `[[notify]]` tables) and `detect` (more `[detect]`
/// keys) in its configuration.
fn start_cfg(dir: tempfile::TempDir, top: &str, detect: &str) -> Server {
    let cfg = dir.path().join("yagura.toml");
    std::fs::write(&cfg, format!("{top}\n{CONFIG}{detect}\n")).unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    Server::start_in(dir, &["--config", &cfg])
}

fn send_tcp(srv: &Server, lines: &[String]) {
    let mut s = std::net::TcpStream::connect(srv.addr("syslog-tcp")).unwrap();
    for l in lines {
        s.write_all(l.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
    }
    s.flush().unwrap();
}

/// `yagura hunt FILE --format jsonl` detections.
fn hunt(file: &Path) -> Vec<Value> {
    let out = Command::new(BIN)
        .arg("hunt")
        .arg(file)
        .args(["--format", "jsonl", "--min-level", "low", "--no-rule-cache"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Occurrences per (rule title, source IP) in alerts.
fn alert_counts(alerts: &[Value]) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for a in alerts {
        let ip = a["entities"]["ips"][0].as_str().unwrap_or("").to_owned();
        let title = a["title"].as_str().unwrap().to_owned();
        *m.entry((title, ip)).or_default() += a["count"].as_u64().unwrap();
    }
    m
}

/// Detections per (rule title, source IP) in a hunt.
fn hunt_counts(found: &[Value]) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for d in found {
        let ip = d["fields"]["source.ip"].as_str().unwrap_or("").to_owned();
        let title = d["rule_title"].as_str().unwrap().to_owned();
        *m.entry((title, ip)).or_default() += 1;
    }
    m
}

/// `yagura alerts exception list`.
fn except_list(data: &Path) -> Vec<Value> {
    jsonl_of(&["alerts", "exception", "list"], data)
}

/// A webhook receiver on 127.0.0.1 (HTTP/1.1, keep-alive): the bodies it was sent.
fn webhook_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut out = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    if let Ok(v) = serde_json::from_slice(&body) {
                        seen.lock().unwrap().push(v);
                    }
                    let _ = out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                }
            });
        }
    });
    (url, got)
}

fn openssh_lines() -> Vec<String> {
    let text =
        std::fs::read_to_string(shared("data/linux-auth/loghub/OpenSSH/OpenSSH_2k.log")).unwrap();
    let lines: Vec<String> = text.lines().filter_map(|l| to_rfc5424(l, 2015)).collect();
    assert_eq!(lines.len(), 2000, "every line of the sample converts");
    lines
}

/// The loghub OpenSSH sample over TCP syslog: the built-in brute-force correlation fires on
/// the stream exactly as often, per source address, as `hunt` finds on the same records,
/// folded into one alert per address and dedup window; the analyst's verdict goes through
/// the running server and stays after a restart.
#[test]
fn linux_auth_brute_force_over_tcp_syslog_equals_hunt() {
    let lines = openssh_lines();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openssh.log");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let expected = hunt_counts(&hunt(&file));
    let total: u64 = expected
        .iter()
        .filter(|((t, _), _)| t == MANY)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(total, 44, "hunt on the sample: {expected:?}");

    let (hook, delivered) = webhook_receiver();
    let notify = format!(
        "[[notify]]\nname = \"soar\"\nkind = \"webhook\"\nurl = \"{hook}\"\nmin_severity = \"medium\"\n"
    );
    let srv = start_with(dir, &notify);
    send_tcp(&srv, &lines);
    assert!(
        srv.wait_detected(2000, Duration::from_secs(60)),
        "detection did not catch up"
    );
    let got = alerts(&srv.data());
    assert_eq!(alert_counts(&got), expected);
    // Each new alert reached the webhook once, with its rule, severity and address.
    let start = std::time::Instant::now();
    let medium_up: Vec<u64> = got
        .iter()
        .filter(|a| a["severity"] != "low" && a["severity"] != "informational")
        .map(|a| a["id"].as_u64().unwrap())
        .collect();
    while delivered.lock().unwrap().len() < medium_up.len()
        && start.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut ids: Vec<u64> = delivered
        .lock()
        .unwrap()
        .iter()
        .map(|n| {
            assert!(n["severity"] == "medium" || n["severity"] == "high", "{n}");
            assert_eq!(n["kind"], "correlation");
            assert_eq!(n["ips"].as_array().unwrap().len(), 1);
            n["alert_id"].as_u64().unwrap()
        })
        .collect();
    ids.sort_unstable();
    let mut want = medium_up;
    want.sort_unstable();
    assert_eq!(ids, want);
    // Every alert: the rule, its severity and ATT&CK techniques, links to stored events.
    for a in &got {
        assert_eq!(a["kind"], "correlation");
        assert_eq!(a["status"], "new");
        assert!(a["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "T1110.001"));
        assert!(!a["events"].as_array().unwrap().is_empty());
        assert!(a["first_seen"].as_str().unwrap().starts_with("2015-12-10T"));
        assert!(a["first_seen_ms"].as_i64() <= a["last_seen_ms"].as_i64());
    }
    // Dedup: 183.62.140.253 fired 26 times within an hour: one alert.
    let busiest: Vec<&Value> = got
        .iter()
        .filter(|a| a["entities"]["ips"][0] == "183.62.140.253" && a["title"] == MANY)
        .collect();
    assert_eq!(busiest.len(), 1);
    assert_eq!(busiest[0]["count"], 26);
    // Triage through the server's API (it holds the database).
    let id = busiest[0]["id"].as_u64().unwrap().to_string();
    let out = Command::new(BIN)
        .args([
            "alerts",
            "set",
            &id,
            "--status",
            "tp",
            "--note",
            "blocked at the edge",
        ])
        .arg("--data-dir")
        .arg(srv.data())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An exception for the address, previewed then saved through the server: the same lines
    // sent again add to every other address's alert, and nothing to this one.
    let except = |verb: &str| {
        let out = Command::new(BIN)
            .args(["alerts", "exception", verb, "--name", "red team"])
            .args(["--ip", "183.62.140.0/24", "--data-dir"])
            .arg(srv.data())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let of = |list: &[Value], ip: &str| -> (usize, u64) {
        let mine: Vec<&Value> = list
            .iter()
            .filter(|a| a["entities"]["ips"][0] == ip)
            .collect();
        (
            mine.len(),
            mine.iter().map(|a| a["count"].as_u64().unwrap()).sum(),
        )
    };
    let hidden_before = of(&got, "183.62.140.253");
    let preview = except("preview");
    let want = format!(
        "would have hidden {} alerts ({} occurrences) in the last 30 days",
        hidden_before.0, hidden_before.1
    );
    assert!(preview.contains(&want), "{preview}\nwanted: {want}");
    assert!(except("add").contains("saved exception 1"));
    let before = srv.metric("yagura_detect_events_total") as u64;
    send_tcp(&srv, &lines);
    assert!(srv.wait_detected(before + 2000, Duration::from_secs(60)));
    let again = alerts(&srv.data());
    // The replayed lines are late (their event time is behind the watermark) and fold into
    // the other addresses' alerts or open new ones; the excepted address gets nothing.
    assert_eq!(
        of(&again, "183.62.140.253"),
        hidden_before,
        "hidden by the exception"
    );
    let others = |list: &[Value]| -> u64 {
        list.iter()
            .filter(|a| a["entities"]["ips"][0] != "183.62.140.253")
            .map(|a| a["count"].as_u64().unwrap())
            .sum()
    };
    assert!(others(&again) > others(&got), "the others still alert");
    let listed = except_list(&srv.data());
    assert!(listed[0]["hidden"].as_u64().unwrap() >= 1, "{listed:?}");
    let dir = srv.stop();
    // Stopped: the CLI reads the file itself; the verdict and note are there.
    let after = alerts(&dir.path().join("data"));
    let a = after
        .iter()
        .find(|a| a["id"].as_u64().map(|n| n.to_string()) == Some(id.clone()))
        .unwrap();
    assert_eq!(a["status"], "closed_true_positive");
    assert_eq!(a["notes"][0]["text"], "blocked at the edge");
    assert_eq!(after.len(), again.len());
}

/// kill -9 in the middle of a correlation window (8 of the 11 failures needed sent), restart,
/// the rest sent: the correlation fires exactly as often as `hunt` finds on all the lines,
/// and another kill -9 and restart raise nothing again.
#[test]
fn kill_9_mid_window_fires_exactly_once() {
    // The first 14 failed passwords from one address, as the sample has them.
    let lines: Vec<String> = openssh_lines()
        .into_iter()
        .filter(|l| l.contains("Failed password") && l.contains("183.62.140.253"))
        .take(14)
        .collect();
    assert_eq!(lines.len(), 14);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("burst.log");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let expected = hunt_counts(&hunt(&file));
    let many: u64 = expected
        .iter()
        .filter(|((t, _), _)| t == MANY)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(many, 1, "{expected:?}");

    let srv = start(dir);
    send_tcp(&srv, &lines[..8]);
    srv.wait_for("Failed password", 8, Duration::from_secs(30));
    let dir = srv.kill9();
    let srv = start(dir);
    send_tcp(&srv, &lines[8..]);
    srv.wait_for("Failed password", 14, Duration::from_secs(30));
    assert!(srv.wait_detected(0, Duration::from_secs(30)));
    let got = alerts(&srv.data());
    assert_eq!(alert_counts(&got), expected, "{got:?}");
    let dir = srv.kill9();
    let srv = start(dir);
    std::thread::sleep(Duration::from_secs(3));
    assert!(srv.wait_detected(0, Duration::from_secs(30)));
    let again = alerts(&srv.data());
    assert_eq!(alert_counts(&again), expected, "{again:?}");
    assert_eq!(again.len(), got.len(), "nothing raised again");
}

/// OTRF Windows events (NXLog JSON) posted to the NDJSON endpoint: the alerts count, per rule,
/// exactly the detections `yagura hunt` finds in the same zips, with the host as entity.
#[test]
fn otrf_over_http_ndjson_alerts_equal_hunt() {
    let zips = [
        "data/otrf/datasets/atomic/windows/credential_access/host/psh_lsass_memory_dump_comsvcs.zip",
        "data/otrf/datasets/atomic/windows/credential_access/host/cmd_psexec_lsa_secrets_dump.zip",
    ];
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for z in zips {
        for d in hunt(&shared(z)) {
            *expected
                .entry(d["rule_title"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    assert!(
        expected.values().sum::<u64>() >= 5,
        "hunt finds detections in the samples: {expected:?}"
    );
    // Asset context: the workstation is critical, so its alerts go up two levels.
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("assets.csv");
    std::fs::write(
        &inventory,
        "kind,name,criticality,tags\nhost,workstation5*,critical,finance\n",
    )
    .unwrap();
    let detect = format!("assets = {:?}\n", inventory.to_str().unwrap());
    let srv = start_cfg(dir, "", &detect);
    let mut total = 0u64;
    for z in zips {
        let mut archive = zip::ZipArchive::new(std::fs::File::open(shared(z)).unwrap()).unwrap();
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).unwrap();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut body).unwrap();
            total += body
                .split(|&b| b == b'\n')
                .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
                .count() as u64;
            let url = format!("http://{}/api/v1/ingest", srv.addr("http"));
            let resp = ureq::post(&url).send(&body[..]).unwrap();
            assert!(resp.status().is_success());
        }
    }
    assert!(
        srv.wait_detected(total, Duration::from_secs(120)),
        "detection did not catch up"
    );
    let got = alerts(&srv.data());
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for a in &got {
        *counts
            .entry(a["title"].as_str().unwrap().to_owned())
            .or_default() += a["count"].as_u64().unwrap();
        assert_eq!(a["kind"], "detection");
        // Every alert here is on the critical workstation: its level is raised two steps.
        let rule = a["rule_severity"].as_str().expect("severity adjusted");
        let order = ["informational", "low", "medium", "high", "critical"];
        let from = order.iter().position(|l| *l == rule).unwrap();
        assert_eq!(a["severity"], order[(from + 2).min(4)], "{a}");
        assert_eq!(a["assets"][0]["tags"][0], "finance");
        assert!(
            !a["entities"]["hosts"].as_array().unwrap().is_empty(),
            "{a}"
        );
    }
    assert_eq!(counts, expected);
}

/// A Windows brute force (DeepBlueCLI's SMB password guessing, ~3,500 failed logons 4625) read
/// from its EVTX file and posted as JSON records: the built-in Windows correlation fires on the
/// stream exactly as often, per source address, as `hunt` finds in the EVTX file.
#[test]
fn windows_brute_force_from_evtx_records_equals_hunt() {
    let evtx = shared("data/evtx/DeepBlueCLI/evtx/smb-password-guessing-security.evtx");
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    for d in hunt(&evtx) {
        let ip = d["fields"]["IpAddress"].as_str().unwrap_or("").to_owned();
        *expected
            .entry((d["rule_title"].as_str().unwrap().to_owned(), ip))
            .or_default() += 1;
    }
    let many = "Many Failed Logons From One Source Address";
    assert!(
        expected.iter().any(|((t, _), n)| t == many && *n > 100),
        "{expected:?}"
    );
    // The records as JSON lines, as a Windows shipper that renders EVTX would post them.
    let found = yagura_ingest::discover(std::slice::from_ref(&evtx));
    let mut body = Vec::new();
    let mut n = 0u64;
    for f in &found.files {
        f.read(&yagura_ingest::ReadOptions::default(), &mut |item| {
            if let yagura_ingest::Item::Doc { doc, .. } = item {
                serde_json::to_writer(&mut body, doc).unwrap();
                body.push(b'\n');
                n += 1;
            }
        });
    }
    let srv = start(tempfile::tempdir().unwrap());
    let url = format!("http://{}/api/v1/ingest", srv.addr("http"));
    for chunk in body
        .split_inclusive(|&b| b == b'\n')
        .collect::<Vec<_>>()
        .chunks(1000)
    {
        let part: Vec<u8> = chunk.concat();
        assert!(ureq::post(&url)
            .send(&part[..])
            .unwrap()
            .status()
            .is_success());
    }
    assert!(
        srv.wait_detected(n, Duration::from_secs(120)),
        "detection did not catch up"
    );
    let got = alerts(&srv.data());
    assert_eq!(alert_counts(&got), expected);
}

/// Every OTRF sample (120 zips, ~965,000 Windows events) posted to the NDJSON endpoint: the
/// alerts count, per rule, exactly the detections `yagura hunt` finds in the zips. Release
/// build, in `.ci/run`'s ignored suite: `cargo test --release -p yagura --test stream_e2e -- --ignored`.
#[test]
#[ignore = "a few minutes: run with --release -- --ignored"]
fn all_otrf_samples_alert_as_hunt_finds() {
    let root = shared("data/otrf");
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for d in hunt(&root) {
        *expected
            .entry(d["rule_title"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(expected.values().sum::<u64>() > 100, "{expected:?}");
    let srv = start(tempfile::tempdir().unwrap());
    let url = format!("http://{}/api/v1/ingest", srv.addr("http"));
    let found = yagura_ingest::discover(std::slice::from_ref(&root));
    let mut n = 0u64;
    let mut body = Vec::new();
    let post = |body: &mut Vec<u8>| {
        if body.is_empty() {
            return;
        }
        loop {
            let r = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent()
                .post(&url)
                .send(&body[..])
                .unwrap();
            if r.status().is_success() {
                break;
            }
            assert_eq!(r.status().as_u16(), 429, "ingest refused");
            std::thread::sleep(Duration::from_millis(100));
        }
        body.clear();
    };
    for f in &found.files {
        f.read(&yagura_ingest::ReadOptions::default(), &mut |item| {
            if let yagura_ingest::Item::Doc { doc, .. } = item {
                serde_json::to_writer(&mut body, doc).unwrap();
                body.push(b'\n');
                n += 1;
                if body.len() > 4 << 20 {
                    post(&mut body);
                }
            }
        });
    }
    post(&mut body);
    assert!(n > 900_000, "{n} events read");
    assert!(
        srv.wait_detected(n, Duration::from_secs(900)),
        "detection did not catch up"
    );
    let got = alerts(&srv.data());
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for a in &got {
        *counts
            .entry(a["title"].as_str().unwrap().to_owned())
            .or_default() += a["count"].as_u64().unwrap();
    }
    eprintln!("{n} events; per rule: {counts:?}");
    assert_eq!(counts, expected);
}
