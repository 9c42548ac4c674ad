//! The built-in pack's brute-force cases beyond one log: web logins (an nginx access log), and
//! the cross-device case (a firewall lets an address through, then a host logs a burst of SSH
//! failures from it), through `yagura hunt` and through `yagura serve`. Built from real lines:
//! CrowdSec's WordPress brute-force fixture, a Proxmox firewall ACCEPT line and loghub's
//! OpenSSH sample; the composition (which address, which minute) is the test's.

mod common;

use common::server::{Server, BIN};
use common::shared;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const CROSS: &str =
    "Connection Allowed By The Firewall, Then An SSH Failure Burst From The Same Address";

fn hunt(file: &Path) -> BTreeMap<String, u64> {
    let out = Command::new(BIN)
        .arg("hunt")
        .arg(file)
        .args(["--format", "jsonl", "--min-level", "low", "--no-rule-cache"])
        .output()
        .unwrap();
    let mut m = BTreeMap::new();
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let d: Value = serde_json::from_str(l).unwrap();
        *m.entry(d["rule_title"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    m
}

/// The WordPress fixture's 9 failed logins, two of them again 12 s later (10 and 11 within
/// five minutes), then the same client redirected after a POST: a login that worked.
fn wordpress(success: bool) -> Vec<String> {
    let text = std::fs::read_to_string(shared(
        "data/crowdsec-tests/http-bf-wordpress-bf/http-bf-wordpress-bf.log",
    ))
    .unwrap();
    let src: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(src.len(), 9);
    let mut lines: Vec<String> = src.iter().map(|l| l.to_string()).collect();
    lines.push(src[0].replace("16:13:46", "16:13:58"));
    lines.push(src[1].replace("16:13:46", "16:13:59"));
    if success {
        lines.push(
            src[0]
                .replace("16:13:46", "16:14:30")
                .replace("\" 200 5364", "\" 302 0"),
        );
    }
    lines
}

#[test]
fn web_login_brute_force_then_success() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("access.log");
    // The fixture alone, and one more: 10 failures are not more than 10.
    let fixture = wordpress(false)[..10].join("\n") + "\n";
    std::fs::write(&f, fixture).unwrap();
    assert!(hunt(&f).is_empty());
    std::fs::write(&f, wordpress(false).join("\n") + "\n").unwrap();
    let got = hunt(&f);
    assert_eq!(
        got.get("Many Failed Web Logins From One Source Address"),
        Some(&1)
    );
    assert_eq!(got.len(), 1, "{got:?}");
    std::fs::write(&f, wordpress(true).join("\n") + "\n").unwrap();
    let got = hunt(&f);
    assert_eq!(
        got.get("Successful Web Login After Brute Force From The Same Address"),
        Some(&1),
        "{got:?}"
    );
}

/// The OpenSSH sample's lines from 183.62.140.253 between 10:54 and 10:59 as RFC 5424 records
/// (with their year), preceded, when `firewall`, by a firewall ACCEPT of that address a minute
/// earlier on another device.
fn cross_device(firewall: bool) -> Vec<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut out = Vec::new();
    if firewall {
        let fw = std::fs::read_to_string(shared(
            "data/crowdsec-tests/proxmox-iptables-logs/proxmox-iptables.log",
        ))
        .unwrap();
        let accept = fw.lines().find(|l| l.contains("ACCEPT")).unwrap();
        let accept = accept
            .replace("SRC=10.3.95.34", "SRC=183.62.140.253")
            .replace("DST=10.3.94.12", "DST=10.0.0.5");
        out.push(format!(
            "<4>1 2015-12-10T10:53:00Z pve kernel - - - {accept}"
        ));
    }
    let ssh =
        std::fs::read_to_string(shared("data/linux-auth/loghub/OpenSSH/OpenSSH_2k.log")).unwrap();
    for l in ssh.lines() {
        let time = &l[7..15];
        if !l.contains("183.62.140.253") || !("10:54:00".."10:59:00").contains(&time) {
            continue;
        }
        let month = MONTHS.iter().position(|m| l.starts_with(m)).unwrap() + 1;
        let day: u32 = l[4..6].trim().parse().unwrap();
        let (head, msg) = l.split_once("]: ").unwrap();
        let pid = head.rsplit_once('[').unwrap().1;
        out.push(format!(
            "<38>1 2015-{month:02}-{day:02}T{time}Z LabSZ sshd {pid} - - {msg}"
        ));
    }
    out
}

#[test]
fn firewall_allow_then_ssh_burst_across_devices() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mixed.log");
    std::fs::write(&f, cross_device(false).join("\n") + "\n").unwrap();
    assert_eq!(
        hunt(&f).get(CROSS),
        None,
        "no firewall line, no cross-device alert"
    );
    let lines = cross_device(true);
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    assert_eq!(hunt(&f).get(CROSS), Some(&1));
    // Streaming: the firewall line over UDP syslog from "the firewall", the sshd lines over TCP
    // from "the host".
    let cfg = dir.path().join("yagura.toml");
    std::fs::write(&cfg, "[detect]\nlateness_secs = 1\n").unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    let srv = Server::start_in(dir, &["--config", &cfg]);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(lines[0].as_bytes(), srv.addr("syslog-udp"))
        .unwrap();
    assert_eq!(srv.wait_for("PVEFW", 1, Duration::from_secs(20)).len(), 1);
    let mut tcp = std::net::TcpStream::connect(srv.addr("syslog-tcp")).unwrap();
    for l in &lines[1..] {
        tcp.write_all(l.as_bytes()).unwrap();
        tcp.write_all(b"\n").unwrap();
    }
    drop(tcp);
    assert!(srv.wait_detected(lines.len() as u64, Duration::from_secs(30)));
    let out = Command::new(BIN)
        .args([
            "alerts",
            "list",
            "--format",
            "jsonl",
            "--rule",
            CROSS,
            "--data-dir",
        ])
        .arg(srv.data())
        .output()
        .unwrap();
    let alerts: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["count"], 1);
    assert_eq!(alerts[0]["severity"], "high");
    assert_eq!(alerts[0]["entities"]["ips"][0], "183.62.140.253");
}
