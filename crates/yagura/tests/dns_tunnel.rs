//! DNS tunnelling detection of the built-in pack (`crates/yagura-sigma/rules/command_and_control/
//! dns_tunnel_*.yml`) on the real captures of `../shared/data/dns/`: every tunnelling capture
//! raises at least one of the DNS rules, the normal ones (the 53,615 WRCCDC 2018 Zeek records
//! among them) none — in `yagura hunt` over the files, and in `yagura serve` with the records
//! arriving on its listeners (Zeek JSON over the NDJSON endpoint, the dnsmasq log over TCP
//! syslog, the Zeek TSV dns.log from a tailed file).

mod common;

use common::server::{alerts_list as alerts, Server, BIN};
use common::shared;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const NULL_LONG_LABEL: &str = "237794cb-3f89-4a13-b32f-da2a139ed8a5";
const LONG_HIGH_ENTROPY_LABEL: &str = "522402ed-7a36-4e31-af76-2ed15eeef786";
const TXT_BASE64: &str = "6be50413-9b27-4869-a25a-fa462a2947ca";
const MANY_ENCODED_QUERIES: &str = "038031b3-51f1-46b1-b2ed-e4459c659bae";
/// The correlation's base rule: never reported on its own.
const BASE_LONG_SUBDOMAIN: &str = "903587cc-5b44-40b3-bcfe-b1af2a04e759";

const DNS_RULES: &[&str] = &[
    NULL_LONG_LABEL,
    LONG_HIGH_ENTROPY_LABEL,
    TXT_BASE64,
    MANY_ENCODED_QUERIES,
    BASE_LONG_SUBDOMAIN,
];

const DNS2TCP: &str = "data/dns/tunneling/jsonl/dns2tcp_netrack-learn.dns.jsonl";
const IODINE: &str = "data/dns/tunneling/jsonl/iodine_elastic-examples.dns.jsonl";
const DNSMASQ: &str = "data/dns/tunneling/iodine-dnsmasq-korving/dnsmasq.log";
const NORMAL_JSONL: &[&str] = &[
    "data/dns/normal/jsonl/zeek-traces_dns-edns-ecs.dns.jsonl",
    "data/dns/normal/jsonl/zeek-traces_var-services-std-ports.dns.jsonl",
    "data/dns/normal/jsonl/zeek-traces_wikipedia.dns.jsonl",
];
const WRCCDC_GZ: &str = "data/dns/normal/zeek-wrccdc2018/dns.log.gz";

/// `yagura hunt PATH --format jsonl --min-level informational` with the built-in pack only:
/// detections per rule id, and the number of events read.
fn hunt(path: &Path) -> (BTreeMap<String, usize>, u64) {
    assert!(path.exists(), "missing sample {}", path.display());
    let summary = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new(BIN)
        .arg("hunt")
        .arg(path)
        .args(["--format", "jsonl", "--min-level", "informational"])
        .args(["--no-rule-cache", "--no-pager", "--summary-json"])
        .arg(summary.path())
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hunt {}: {stderr}", path.display());
    assert!(stderr.contains("Rules rejected: 0"), "{stderr}");
    let mut per_rule = BTreeMap::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        *per_rule
            .entry(v["rule_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let s: Value = serde_json::from_str(&std::fs::read_to_string(summary.path()).unwrap())
        .unwrap_or(Value::Null);
    let events = s["events"].as_u64().unwrap_or(0);
    (per_rule, events)
}

fn dns_only(per_rule: &BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    per_rule
        .iter()
        .filter(|(id, _)| DNS_RULES.contains(&id.as_str()))
        .map(|(id, n)| (id.clone(), *n))
        .collect()
}

#[test]
fn hunt_every_tunnelling_capture_alerts() {
    // dns2tcp: 4,555 TXT queries with Base64 labels, 2,903 of them with 63-byte labels.
    let (d, events) = hunt(&shared(DNS2TCP));
    assert_eq!(events, 4555);
    assert_eq!(d.get(TXT_BASE64), Some(&4555), "{d:?}");
    assert_eq!(d.get(LONG_HIGH_ENTROPY_LABEL), Some(&2903), "{d:?}");
    // 2,903 long queries in < 1 s: the correlation fires (its count restarts after each alert).
    assert_eq!(d.get(MANY_ENCODED_QUERIES), Some(&2), "{d:?}");
    assert_eq!(
        d.get(BASE_LONG_SUBDOMAIN),
        None,
        "base rule reported: {d:?}"
    );
    // iodine: NULL queries with long labels.
    let (d, events) = hunt(&shared(IODINE));
    assert_eq!(events, 222);
    assert_eq!(d.get(NULL_LONG_LABEL), Some(&43), "{d:?}");
    assert_eq!(d.get(LONG_HIGH_ENTROPY_LABEL), Some(&1), "{d:?}");
    assert_eq!(d.get(MANY_ENCODED_QUERIES), None, "only 222 queries: {d:?}");
    // iodine behind dnsmasq (syslog query log): the 32- and 56-byte NULL queries.
    let (d, events) = hunt(&shared(DNSMASQ));
    assert_eq!(events, 88);
    assert_eq!(d.get(NULL_LONG_LABEL), Some(&2), "{d:?}");
    assert_eq!(d.get(LONG_HIGH_ENTROPY_LABEL), Some(&1), "{d:?}");
}

#[test]
fn hunt_normal_captures_raise_nothing() {
    // Every file under normal/: the three Zeek JSON captures, dns.log.gz (gzip of Zeek TSV)
    // and dns.first5000.log; CSVs and pcaps are not logs and are skipped.
    let (d, events) = hunt(&shared("data/dns/normal"));
    assert_eq!(events, 111 + 53_615 + 5_000, "every normal record is read");
    assert_eq!(dns_only(&d), BTreeMap::new());
    // The rules do see these records: the WRCCDC log alone is read as Zeek dns.
    let (_, events) = hunt(&shared(WRCCDC_GZ));
    assert_eq!(events, 53_615);
}

// ---- Streaming -----------------------------------------------------------------------------

/// DNS-rule alerts: (rule id, entities' ips, group) → count.
fn dns_alerts(all: &[Value]) -> BTreeMap<(String, String, String), u64> {
    let mut m = BTreeMap::new();
    for a in all {
        let id = a["rule_id"].as_str().unwrap_or("").to_owned();
        if !DNS_RULES.contains(&id.as_str()) {
            continue;
        }
        let key = (id, a["entities"]["ips"].to_string(), a["group"].to_string());
        *m.entry(key).or_default() += a["count"].as_u64().unwrap_or(0);
    }
    m
}

fn has_alert(all: &[Value], rule: &str, ip: &str) -> bool {
    all.iter().any(|a| {
        a["rule_id"] == rule
            && a["entities"]["ips"]
                .as_array()
                .is_some_and(|ips| ips.iter().any(|i| i == ip))
    })
}

fn post_ndjson(srv: &Server, rel: &str) -> u64 {
    let body = std::fs::read(shared(rel)).unwrap();
    let url = format!("http://{}/api/v1/ingest", srv.addr("http"));
    let resp = ureq::post(&url).send(&body[..]).unwrap();
    assert!(resp.status().is_success(), "{rel}: {}", resp.status());
    body.split(|&b| b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .count() as u64
}

#[test]
fn serve_alerts_on_every_tunnelling_capture_and_not_on_normal_traffic() {
    let dir = tempfile::tempdir().unwrap();
    // The WRCCDC dns.log is tailed from a file that starts empty and is filled after the
    // tunnelling phase.
    let tailed = dir.path().join("wrccdc-dns.log");
    std::fs::write(&tailed, "").unwrap();
    let cfg = dir.path().join("yagura.toml");
    std::fs::write(
        &cfg,
        format!(
            "tail_poll_ms = 100\n[[tail]]\npath = {:?}\nsource_type = \"zeek_dns\"\n\
             read_from = \"beginning\"\n\n[detect]\nlateness_secs = 1\n",
            tailed.to_str().unwrap()
        ),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap().to_owned();
    let srv = Server::start_in(dir, &["--config", &cfg]);
    let t0 = std::time::Instant::now();

    // 1. Tunnels: the Zeek JSON conversions over HTTP NDJSON (auto-detected as Zeek dns), the
    //    dnsmasq log over TCP syslog (its lines have no PRI: `<30>` = daemon.info).
    let mut total = post_ndjson(&srv, DNS2TCP) + post_ndjson(&srv, IODINE);
    let text = std::fs::read_to_string(shared(DNSMASQ)).unwrap();
    let mut s = std::net::TcpStream::connect(srv.addr("syslog-tcp")).unwrap();
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        s.write_all(format!("<30>{l}\n").as_bytes()).unwrap();
        total += 1;
    }
    s.flush().unwrap();
    drop(s);
    assert!(
        srv.wait_detected(total, Duration::from_secs(60)),
        "detection did not catch up with the tunnels"
    );
    let tunnels = alerts(&srv.data());
    // dns2tcp (client 172.17.0.3): TXT Base64 and the long-label rule; the correlation on
    // hidemyself.org.
    assert!(has_alert(&tunnels, TXT_BASE64, "172.17.0.3"), "{tunnels:?}");
    assert!(has_alert(&tunnels, LONG_HIGH_ENTROPY_LABEL, "172.17.0.3"));
    assert!(
        tunnels.iter().any(|a| a["rule_id"] == MANY_ENCODED_QUERIES
            && a["kind"] == "correlation"
            && a["group"].to_string().contains("hidemyself.org")),
        "volume correlation on hidemyself.org: {tunnels:?}"
    );
    // iodine (10.0.2.30) and iodine behind dnsmasq (172.18.0.3): NULL queries.
    assert!(
        has_alert(&tunnels, NULL_LONG_LABEL, "10.0.2.30"),
        "{tunnels:?}"
    );
    assert!(
        has_alert(&tunnels, NULL_LONG_LABEL, "172.18.0.3"),
        "{tunnels:?}"
    );
    assert!(!tunnels.iter().any(|a| a["rule_id"] == BASE_LONG_SUBDOMAIN));
    let before = dns_alerts(&tunnels);
    let unparsed = srv.metric("yagura_store_unparsed_total");

    // 2. Normal traffic: the three Zeek JSON captures over NDJSON, the 53,615 WRCCDC records
    //    appended to the tailed file.
    for rel in NORMAL_JSONL {
        total += post_ndjson(&srv, rel);
    }
    let tsv = Command::new("gzip")
        .arg("-dc")
        .arg(shared(WRCCDC_GZ))
        .output()
        .expect("gzip runs");
    assert!(tsv.status.success());
    let records = tsv
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"#"))
        .count() as u64;
    assert_eq!(records, 53_615);
    total += records;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&tailed)
        .unwrap()
        .write_all(&tsv.stdout)
        .unwrap();
    assert!(
        srv.wait_detected(total, Duration::from_secs(120)),
        "detection did not catch up with the normal traffic"
    );
    eprintln!("normal traffic detected after {:?}", t0.elapsed());
    // Every normal record, the tailed TSV lines among them, was parsed (as Zeek dns: the
    // header gave the columns), none stored as unparsed text.
    assert_eq!(
        srv.metric("yagura_store_unparsed_total"),
        unparsed,
        "normal records stored unparsed"
    );
    assert!(srv.metric("yagura_store_events_total") >= total as f64);
    let after = dns_alerts(&alerts(&srv.data()));
    assert_eq!(after, before, "normal traffic raised or grew a DNS alert");
}
