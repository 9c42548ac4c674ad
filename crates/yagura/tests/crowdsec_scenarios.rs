//! CrowdSec hub test fixtures (`../shared/data/crowdsec-tests/`) replayed through `yagura serve`
//! over TCP syslog: for every SSH scenario the built-in pack covers, the addresses Yagura alerts
//! on equal the addresses CrowdSec's `scenario.assert` expects, and `yagura hunt` on the same
//! file agrees. Scenarios the pack does not cover (and why) are listed in
//! docs/builtin-rules.md.

mod common;

use common::server::{alerts_list, to_rfc5424, Server, BIN};
use common::shared;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The fixtures of SSH brute-force scenarios the built-in pack covers.
const COVERED: [&str; 6] = [
    "ssh-bf",
    "ssh-slow-bf",
    "sshd-invalid-bf",
    "sshd-bad-keyexchange-bf",
    "sshd_banner_exchange",
    "opnsense-sshd",
];

/// The addresses CrowdSec's scenarios flagged (`"IP" in results[N].Overflow.GetSources()`).
fn crowdsec_sources(dir: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(dir.join("scenario.assert")).unwrap();
    text.lines()
        .filter(|l| l.contains("].Overflow.GetSources()"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect()
}

fn log_file(dir: &Path) -> std::path::PathBuf {
    let cfg = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    let name = cfg
        .lines()
        .find_map(|l| l.strip_prefix("log_file:"))
        .unwrap()
        .trim();
    dir.join(name)
}

/// A BSD-syslog line with its year made explicit (RFC 5424), so that the test does not depend
/// on today's date; RFC 5424 lines are sent as they are.
fn framed(line: &str) -> String {
    if line.starts_with('<') {
        return line.to_owned();
    }
    to_rfc5424(line, 2025).unwrap_or_else(|| format!("<38>{line}"))
}

fn alert_sources(alerts: &[Value]) -> BTreeSet<String> {
    alerts
        .iter()
        .filter(|a| a["kind"] == "correlation")
        .flat_map(|a| a["entities"]["ips"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[test]
fn ssh_scenarios_alert_on_the_addresses_crowdsec_flags() {
    let mut table = Vec::new();
    for name in COVERED {
        let dir = shared(&format!("data/crowdsec-tests/{name}"));
        let expected = crowdsec_sources(&dir);
        assert!(!expected.is_empty(), "{name}: no expected source");
        let text = std::fs::read_to_string(log_file(&dir)).unwrap();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(framed)
            .collect();
        // hunt on the same records.
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join(format!("{name}.log"));
        std::fs::write(&file, lines.join("\n") + "\n").unwrap();
        let out = Command::new(BIN)
            .arg("hunt")
            .arg(&file)
            .args(["--format", "jsonl", "--min-level", "low", "--no-rule-cache"])
            .output()
            .unwrap();
        let hunted: BTreeSet<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|d| d["fields"]["source.ip"].as_str().map(str::to_owned))
            .collect();
        // serve, over TCP syslog.
        let cfg = tmp.path().join("yagura.toml");
        std::fs::write(&cfg, "[detect]\nlateness_secs = 1\n").unwrap();
        let cfg = cfg.to_str().unwrap().to_owned();
        let srv = Server::start_in(tmp, &["--config", &cfg]);
        let mut s = std::net::TcpStream::connect(srv.addr("syslog-tcp")).unwrap();
        for l in &lines {
            s.write_all(l.as_bytes()).unwrap();
            s.write_all(b"\n").unwrap();
        }
        drop(s);
        assert!(
            srv.wait_detected(lines.len() as u64, Duration::from_secs(30)),
            "{name}: detection did not catch up"
        );
        let alerts = alerts_list(&srv.data());
        let streamed = alert_sources(&alerts);
        table.push(format!(
            "{name}: crowdsec {expected:?}, serve {streamed:?}, hunt {hunted:?}"
        ));
        assert_eq!(streamed, expected, "{name}");
        assert_eq!(hunted, expected, "{name}");
    }
    eprintln!("{}", table.join("\n"));
}
