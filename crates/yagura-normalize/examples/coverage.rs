//! Parser coverage over the shared reference logs.
//!
//! ```text
//! cargo run --release -p yagura-normalize --example coverage -- /work/shared/data [-v] [--files] [--all]
//! ```
//!
//! Walks `linux-auth`, `web-access`, `dns`, `crowdsec-tests`, `panther-tests`, `misc` and the
//! `.zip` archives of `otrf`, parses every record with `SourceType::Auto` (or the hint of the
//! table below), and prints, per source type the parser reported: files, records, share parsed
//! and records/s. Then a throughput run on the hot formats (syslog+sshd, nginx access) without
//! per-record timers, with heap allocations per line counted.
//!
//! How files are read (formats that cannot be told apart from the record alone):
//!
//! | files | read as |
//! | --- | --- |
//! | `crowdsec-tests/<t>/` | the `log_file` of `config.yaml`; hint from `log_type`: `syslog` → syslog, `nginx` → nginx_access, `apache2` → apache_access, `named` → bind_query, `aws-cloudtrail` → cloudtrail, `suricata-evelogs` → suricata_eve; other log types → auto |
//! | `panther-tests/<LogType>/*.json` | the `event` member; `AWS.CloudTrail` → cloudtrail, `Okta.SystemLog` → okta, `Windows.EventLogs` → windows, others → auto (generic JSON) |
//! | `*.ini` (Wazuh, OSSEC rule tests) | the text after `log N pass = ` / `log N fail = ` |
//! | `fail2ban-testlogs/*` | lines starting with `#` (their `failJSON` annotations) skipped |
//! | `*.gz` | gunzipped, then line by line |
//! | `otrf/**/*.zip` | every NDJSON entry, at most 5,000 records per archive (`--all`: every record) |
//! | a `.json` file whose first line is not a JSON document | the whole file as one document (`{"Records":[...]}` split into its records) |
//! | skipped | `README*`, `LICENSE*`, `COPYING*`, `SOURCES*`, `*.md`, `*.csv`, `*.pcap`, `*.yaml`, `*.assert`, `tshark.capture`, `*_structured.csv` |

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use yagura_event::Record;
use yagura_normalize::parse::{cloudtrail_records, Outcome, Parser, SourceType};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded to the system allocator with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc` / `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Default)]
struct Row {
    files: std::collections::BTreeSet<String>,
    records: u64,
    parsed: u64,
    time: Duration,
}

struct Run {
    verbose: bool,
    rows: BTreeMap<&'static str, Row>,
    skipped_files: u64,
    rec: Record,
    now_ms: i64,
    unparsed_shown: u64,
}

impl Run {
    fn record(
        &mut self,
        parser: &mut Parser,
        file: &str,
        line_no: usize,
        raw: &str,
        doc: Option<&Value>,
    ) {
        let t = Instant::now();
        let out = match doc {
            Some(d) => parser.parse_json(d, raw, self.now_ms, &mut self.rec),
            None => parser.parse(raw, self.now_ms, &mut self.rec),
        };
        let dt = t.elapsed();
        let Outcome::Event { source, parsed, .. } = out else {
            return;
        };
        let row = self.rows.entry(source.as_str()).or_default();
        if !row.files.contains(file) {
            row.files.insert(file.to_string());
        }
        row.records += 1;
        row.parsed += u64::from(parsed);
        row.time += dt;
        if !parsed && self.verbose {
            self.unparsed_shown += 1;
            let shown: String = raw.chars().take(220).collect();
            println!("unparsed [{source}] {file}:{line_no}: {shown}");
        }
    }

    fn lines(&mut self, hint: SourceType, file: &str, text: &str, skip_hash: bool) {
        let mut parser = Parser::new(hint);
        let json_file = file.ends_with(".json") || file.ends_with(".jsonl");
        if json_file && text.trim_start().starts_with('{') {
            let first = text.lines().next().unwrap_or("");
            if serde_json::from_str::<Value>(first).is_err() {
                if let Ok(doc) = serde_json::from_str::<Value>(text) {
                    self.document(&mut parser, file, &doc);
                    return;
                }
            }
        }
        for (i, line) in text.lines().enumerate() {
            if skip_hash && line.starts_with('#') {
                continue;
            }
            self.record(&mut parser, file, i + 1, line, None);
        }
    }

    fn document(&mut self, parser: &mut Parser, file: &str, doc: &Value) {
        if let Some(records) = cloudtrail_records(doc) {
            for (i, r) in records.iter().enumerate() {
                let raw = r.to_string();
                self.record(parser, file, i + 1, &raw, Some(r));
            }
        } else {
            let raw = doc.to_string();
            self.record(parser, file, 1, &raw, Some(doc));
        }
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn skipped(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["readme", "license", "copying", "sources"]
        .iter()
        .any(|p| lower.starts_with(p))
        || [".md", ".csv", ".pcap", ".yaml", ".yml", ".assert", ".evtx"]
            .iter()
            .any(|e| lower.ends_with(e))
        || lower == "tshark.capture"
        || lower == "res"
}

fn crowdsec_hint(log_type: &str) -> SourceType {
    match log_type {
        "syslog" => SourceType::Syslog,
        "nginx" => SourceType::NginxAccess,
        "apache2" => SourceType::ApacheAccess,
        "named" => SourceType::BindQuery,
        "aws-cloudtrail" => SourceType::CloudTrail,
        "suricata-evelogs" => SourceType::SuricataEve,
        _ => SourceType::Auto,
    }
}

fn ini_logs(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("log ") else {
            continue;
        };
        let Some((_, log)) = rest.split_once(" = ") else {
            continue;
        };
        out.push_str(log);
        out.push('\n');
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let per_file = args.iter().any(|a| a == "--files");
    let all = args.iter().any(|a| a == "--all");
    let root = PathBuf::from(
        args.iter()
            .find(|a| !a.starts_with('-'))
            .map_or("../shared/data", String::as_str),
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut run = Run {
        verbose,
        rows: BTreeMap::new(),
        skipped_files: 0,
        rec: Record::new(),
        now_ms,
        unparsed_shown: 0,
    };
    let started = Instant::now();
    for top in [
        "linux-auth",
        "web-access",
        "dns",
        "crowdsec-tests",
        "panther-tests",
        "misc",
        "otrf",
    ] {
        let mut files = Vec::new();
        files_under(&root.join(top), &mut files);
        for path in files {
            let rel = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let before: u64 = run.rows.values().map(|r| r.records).sum();
            let before_parsed: u64 = run.rows.values().map(|r| r.parsed).sum();
            read_file(&mut run, top, &path, &rel, &name, all);
            if per_file {
                let after: u64 = run.rows.values().map(|r| r.records).sum();
                let after_parsed: u64 = run.rows.values().map(|r| r.parsed).sum();
                if after > before {
                    println!(
                        "file {rel}: {} records, {} parsed",
                        after - before,
                        after_parsed - before_parsed
                    );
                }
            }
        }
    }
    let wall = started.elapsed();
    println!("\n| source type | files | records | parsed | parsed % | records/s |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let (mut total, mut total_parsed) = (0u64, 0u64);
    let mut rows: Vec<_> = run.rows.iter().collect();
    rows.sort_by_key(|(name, _)| {
        SourceType::parse_name(name).map_or(99, |st| {
            SourceType::ALL.iter().position(|s| *s == st).unwrap_or(99)
        })
    });
    for (name, row) in rows {
        total += row.records;
        total_parsed += row.parsed;
        let rate = row.records as f64 / row.time.as_secs_f64().max(1e-9);
        println!(
            "| {name} | {} | {} | {} | {:.1} | {:.0} |",
            row.files.len(),
            row.records,
            row.parsed,
            100.0 * row.parsed as f64 / row.records.max(1) as f64,
            rate
        );
    }
    println!(
        "| **all** | | {total} | {total_parsed} | {:.1} | |",
        100.0 * total_parsed as f64 / total.max(1) as f64
    );
    println!(
        "\n{} files skipped (README/LICENSE/csv/pcap/yaml/assert); wall time {:.1}s",
        run.skipped_files,
        wall.as_secs_f64()
    );
    throughput(&root, now_ms);
}

fn read_file(run: &mut Run, top: &str, path: &Path, rel: &str, name: &str, all: bool) {
    if skipped(name) {
        run.skipped_files += 1;
        return;
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".zip") {
        read_zip(run, path, rel, all);
        return;
    }
    if top == "crowdsec-tests" {
        // Only the config's log file, with its log type.
        let Some(dir) = path.parent() else { return };
        let Ok(config) = std::fs::read_to_string(dir.join("config.yaml")) else {
            return;
        };
        let field = |k: &str| {
            config
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix(k)
                        .map(|v| v.trim().trim_matches('"').to_string())
                })
                .unwrap_or_default()
        };
        if field("log_file:") != name {
            run.skipped_files += 1;
            return;
        }
        let hint = crowdsec_hint(&field("log_type:"));
        if let Ok(text) = std::fs::read_to_string(path) {
            run.lines(hint, rel, &text, false);
        }
        return;
    }
    if top == "panther-tests" {
        let log_type = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let hint = match log_type.as_str() {
            "AWS.CloudTrail" => SourceType::CloudTrail,
            "Okta.SystemLog" => SourceType::Okta,
            "Windows.EventLogs" => SourceType::Windows,
            _ => SourceType::Auto,
        };
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let Ok(test) = serde_json::from_str::<Value>(&text) else {
            return;
        };
        if let Some(event) = test.get("event") {
            let mut parser = Parser::new(hint);
            run.document(&mut parser, rel, event);
        }
        return;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(_) => return,
    };
    let bytes = if lower.ends_with(".gz") {
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .is_err()
        {
            return;
        }
        out
    } else {
        bytes
    };
    let text = String::from_utf8_lossy(&bytes);
    if lower.ends_with(".ini") {
        let logs = ini_logs(&text);
        run.lines(SourceType::Auto, rel, &logs, false);
        return;
    }
    run.lines(
        SourceType::Auto,
        rel,
        &text,
        rel.contains("fail2ban-testlogs"),
    );
}

fn read_zip(run: &mut Run, path: &Path, rel: &str, all: bool) {
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    let Ok(mut archive) = zip::ZipArchive::new(file) else {
        return;
    };
    let mut budget: usize = if all { usize::MAX } else { 5_000 };
    for i in 0..archive.len() {
        let Ok(mut entry) = archive.by_index(i) else {
            continue;
        };
        if entry.is_dir() {
            continue;
        }
        let mut parser = Parser::new(SourceType::Auto);
        let reader = std::io::BufReader::new(&mut entry);
        for (n, line) in std::io::BufRead::lines(reader).enumerate() {
            let Ok(line) = line else { break };
            if budget == 0 {
                return;
            }
            if line.trim().is_empty() {
                continue;
            }
            budget -= 1;
            run.record(&mut parser, rel, n + 1, &line, None);
        }
    }
}

/// Records/s and heap allocations per record on the hot text paths, without per-record timers.
fn throughput(root: &Path, now_ms: i64) {
    println!("\n| throughput (one core) | lines | lines/s | MB/s | allocations/line |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (label, rel, hint, reps) in [
        (
            "syslog + sshd (auto)",
            "linux-auth/loghub/OpenSSH/OpenSSH_2k.log",
            SourceType::Auto,
            200,
        ),
        (
            "syslog + sshd (hint linux_auth)",
            "linux-auth/loghub/OpenSSH/OpenSSH_2k.log",
            SourceType::LinuxAuth,
            200,
        ),
        (
            "nginx access (auto)",
            "web-access/lnav-tests/logfile_shop_access_log.0",
            SourceType::Auto,
            200,
        ),
        (
            "nginx access (hint nginx_access)",
            "web-access/lnav-tests/logfile_shop_access_log.0",
            SourceType::NginxAccess,
            200,
        ),
        (
            "syslog, mixed programs (auto)",
            "linux-auth/loghub/Linux/Linux_2k.log",
            SourceType::Auto,
            200,
        ),
        (
            "zeek dns TSV (auto)",
            "dns/normal/zeek-wrccdc2018/dns.first5000.log",
            SourceType::Auto,
            20,
        ),
    ] {
        let Ok(text) = std::fs::read_to_string(root.join(rel)) else {
            println!("| {label} | missing {rel} | | | |");
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let mut parser = Parser::new(hint);
        let mut rec = Record::new();
        // Warm-up: buffers grow to the largest record.
        for l in &lines {
            parser.parse(l, now_ms, &mut rec);
        }
        let allocs_before = ALLOCS.load(Ordering::Relaxed);
        let t = Instant::now();
        let mut n = 0u64;
        for _ in 0..reps {
            for l in &lines {
                let out = parser.parse(l, now_ms, &mut rec);
                std::hint::black_box(&out);
                n += 1;
            }
        }
        let dt = t.elapsed().as_secs_f64();
        let allocs = ALLOCS.load(Ordering::Relaxed) - allocs_before;
        let bytes = text.len() as f64 * reps as f64;
        println!(
            "| {label} | {} | {:.0} | {:.0} | {:.3} |",
            n,
            n as f64 / dt,
            bytes / dt / 1e6,
            allocs as f64 / n as f64
        );
    }
}
