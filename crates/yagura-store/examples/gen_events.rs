//! Benchmark event generator: reads the real samples under `../shared/data` once, normalizes
//! each record to an ECS object, then emits events by cycling through them with timestamps
//! spread uniformly (and monotonically) over `--days` days ending 2026-11-30, `host.name` set to
//! one of 500 hosts, `user.name` (when present) to one of 5,000 users, and `source.ip` (IPv4,
//! when present) varied over 10.20.0.0/16. The same names are replaced inside `message` and
//! `event.original`. Deterministic: event `i` depends only on `i`, `--events` and `--days`, so
//! chunks (`--skip`, `--count`) concatenate to the same stream as one run.
//!
//! `cargo run --release -p yagura-store --example gen_events -- --events N --days D
//!  [--skip S --count C] [--out FILE.ndjson]` (no `--out`: stdout). `SHARED` overrides the
//! samples folder.
use serde_json::{Map, Value};
use std::error::Error;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use yagura_event::Record;
use yagura_normalize::parse::{cloudtrail_records, write_json, Outcome, Parser, SourceType};
use yagura_store::query::format_time;

/// 2026-12-01T00:00:00Z: the generated range ends just before it (its last day: 2026-11-30).
const END_MS: i64 = 1_796_083_200_000;
const HOSTS: u64 = 500;
const USERS: u64 = 5_000;
const SEED: u64 = 0x5941_4755_5241_0001;

type Res<T> = Result<T, Box<dyn Error>>;

struct Base {
    doc: Map<String, Value>,
    host: Option<String>,
    user: Option<String>,
    has_ipv4: bool,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn files_under(dir: &Path, pred: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, pred, out);
        } else if pred(&p) {
            out.push(p);
        }
    }
}

fn ext_is(p: &Path, exts: &[&str]) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    exts.iter().any(|e| name.ends_with(e))
}

fn push_record(rec: &Record, buf: &mut Vec<u8>, base: &mut Vec<Base>) {
    buf.clear();
    write_json(rec, buf);
    let Ok(Value::Object(mut doc)) = serde_json::from_slice::<Value>(buf) else {
        return;
    };
    if !doc.contains_key("event.module") {
        doc.insert("event.module".into(), Value::String("unknown".into()));
    }
    let host = doc
        .get("host.name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let user = doc
        .get("user.name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let has_ipv4 = doc
        .get("source.ip")
        .and_then(Value::as_str)
        .is_some_and(|s| s.parse::<std::net::Ipv4Addr>().is_ok());
    base.push(Base {
        doc,
        host,
        user,
        has_ipv4,
    });
}

/// Every sample record, normalized once.
fn load_base(shared: &Path) -> Res<Vec<Base>> {
    let mut base = Vec::new();
    let mut rec = Record::new();
    let mut buf = Vec::new();
    let received = END_MS - 86_400_000;
    // Text logs, one parser per file (Zeek TSV headers are per file).
    let mut text = Vec::new();
    let log = |p: &Path| {
        ext_is(
            p,
            &[".log", ".log.0", ".log.1", "access_log.0", "access_log.1"],
        )
    };
    for d in ["linux-auth", "web-access", "misc/zeek-btest-baselines"] {
        files_under(&shared.join(d), &log, &mut text);
    }
    text.push(shared.join("dns/normal/zeek-wrccdc2018/dns.first5000.log"));
    for p in &text {
        let Ok(t) = fs::read(p) else { continue };
        let t = String::from_utf8_lossy(&t);
        let mut parser = Parser::new(SourceType::Auto);
        for line in t.lines() {
            if let Outcome::Event { .. } = parser.parse(line, received, &mut rec) {
                push_record(&rec, &mut buf, &mut base);
            }
        }
    }
    // JSON lines: Suricata EVE, DNS.
    let mut jsonl = Vec::new();
    files_under(
        &shared.join("misc/suricata-eve-verify"),
        &|_: &Path| true,
        &mut jsonl,
    );
    files_under(
        &shared.join("dns"),
        &|p: &Path| ext_is(p, &[".jsonl"]),
        &mut jsonl,
    );
    for p in &jsonl {
        let Ok(t) = fs::read_to_string(p) else {
            continue;
        };
        let mut parser = Parser::new(SourceType::Auto);
        for line in t.lines().filter(|l| l.trim_start().starts_with('{')) {
            if let Outcome::Event { .. } = parser.parse(line, received, &mut rec) {
                push_record(&rec, &mut buf, &mut base);
            }
        }
    }
    // Panther test cases: the record is under "event".
    for (d, hint) in [
        ("panther-tests/AWS.CloudTrail", SourceType::CloudTrail),
        ("panther-tests/Okta.SystemLog", SourceType::Okta),
    ] {
        let mut files = Vec::new();
        files_under(
            &shared.join(d),
            &|p: &Path| ext_is(p, &[".json"]),
            &mut files,
        );
        let mut parser = Parser::new(hint);
        for p in &files {
            let Ok(t) = fs::read_to_string(p) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<Value>(&t) else {
                continue;
            };
            let Some(ev) = v.get("event") else { continue };
            let records: Vec<&Value> = match cloudtrail_records(ev) {
                Some(rs) => rs.iter().collect(),
                None => vec![ev],
            };
            for r in records {
                let raw = serde_json::to_string(r)?;
                if let Outcome::Event { .. } = parser.parse_json(r, &raw, received, &mut rec) {
                    push_record(&rec, &mut buf, &mut base);
                }
            }
        }
    }
    Ok(base)
}

fn replace_in(doc: &mut Map<String, Value>, key: &str, from: &str, to: &str) {
    if from.len() < 3 {
        return;
    }
    if let Some(Value::String(s)) = doc.get_mut(key) {
        if s.contains(from) {
            *s = s.replace(from, to);
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Res<Option<T>> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => {
            let v = args.get(i + 1).ok_or(format!("{name} needs a value"))?;
            let v = v.parse().map_err(|_| format!("{name}: bad value {v:?}"))?;
            Ok(Some(v))
        }
    }
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let events: u64 = arg(&args, "--events")?.ok_or("--events N is required")?;
    let days: u64 = arg(&args, "--days")?.unwrap_or(30);
    let skip: u64 = arg(&args, "--skip")?.unwrap_or(0);
    let count: u64 = arg(&args, "--count")?.unwrap_or(events.saturating_sub(skip));
    let out: Option<String> = arg(&args, "--out")?;
    let shared = PathBuf::from(std::env::var("SHARED").unwrap_or_else(|_| "../shared/data".into()));
    if days == 0 || events == 0 {
        return Err("--events and --days must be > 0".into());
    }
    let base = load_base(&shared)?;
    if base.is_empty() {
        return Err(format!("no sample records under {}", shared.display()).into());
    }
    let with_user = base.iter().filter(|b| b.user.is_some()).count();
    eprintln!(
        "gen_events: {} base records ({} with user.name) from {}",
        base.len(),
        with_user,
        shared.display()
    );
    let span = (days * 86_400_000) as i128;
    let start = END_MS as i128 - span;
    let sink: Box<dyn Write> = match &out {
        Some(p) => Box::new(fs::File::create(p).map_err(|e| format!("{p}: {e}"))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = BufWriter::with_capacity(1 << 20, sink);
    // Shuffle the order of base records once (fixed seed) so formats are interleaved.
    let mut order: Vec<usize> = (0..base.len()).collect();
    for i in (1..order.len()).rev() {
        let j = (splitmix(SEED ^ i as u64) % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let end = skip.saturating_add(count).min(events);
    for i in skip..end {
        let b = &base[order[(i % base.len() as u64) as usize]];
        let r = splitmix(SEED.wrapping_add(i));
        let ts = (start + span * i as i128 / events as i128) as i64;
        let mut doc = b.doc.clone();
        doc.insert("@timestamp".into(), Value::String(format_time(ts)));
        let host = format!("host-{:04}", r % HOSTS + 1);
        if let Some(h) = &b.host {
            for k in ["message", "event.original"] {
                replace_in(&mut doc, k, h, &host);
            }
        }
        doc.insert("host.name".into(), Value::String(host));
        if let Some(u) = &b.user {
            let user = format!("user-{:05}", (r >> 16) % USERS + 1);
            for k in ["message", "event.original"] {
                replace_in(&mut doc, k, u, &user);
            }
            doc.insert("user.name".into(), Value::String(user));
        }
        if b.has_ipv4 {
            let ip = format!("10.20.{}.{}", (r >> 32) & 0xff, (r >> 40) & 0xff);
            doc.insert("source.ip".into(), Value::String(ip));
        }
        serde_json::to_writer(&mut w, &doc)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}
