//! Single-thread cost of the indexer's per-record work on real sample lines: normalize to ECS
//! and write the stored JSON. `cargo run --release -p yagura-store --example normalize_rate`
use std::time::Instant;
use yagura_event::Record;
use yagura_normalize::arrival::{Arrival, Normalizer};
use yagura_normalize::parse::write_json;

fn main() {
    let shared = std::env::var("SHARED").unwrap_or_else(|_| "../shared/data".into());
    let ssh: Vec<String> =
        std::fs::read_to_string(format!("{shared}/linux-auth/loghub/OpenSSH/OpenSSH_2k.log"))
            .expect("OpenSSH_2k.log")
            .lines()
            .map(|l| format!("<38>{l}"))
            .collect();
    let mut eve = Vec::new();
    for e in std::fs::read_dir(format!("{shared}/misc/suricata-eve-verify"))
        .expect("eve dir")
        .flatten()
    {
        if let Ok(t) = std::fs::read_to_string(e.path()) {
            eve.extend(t.lines().filter(|l| l.starts_with('{')).map(str::to_owned));
        }
    }
    let only = std::env::var("ONLY").unwrap_or_default();
    for (name, lines, json) in [
        ("sshd syslog", &ssh, false),
        ("Suricata EVE JSON", &eve, true),
    ] {
        if !only.is_empty() && !name.contains(only.as_str()) {
            continue;
        }
        let mut n = Normalizer::new();
        let mut rec = Record::new();
        let mut out = Vec::new();
        let a = Arrival {
            listener: "bench",
            source_type: "auto",
            peer: "127.0.0.1:1",
            host: "",
            stream: "",
            offset: 0,
            received_ms: 1_700_000_000_000,
            json,
        };
        let rounds = 200_000 / lines.len().max(1) + 1;
        let t = Instant::now();
        let mut bytes = 0;
        for _ in 0..rounds {
            for l in lines.iter() {
                n.normalize(&a, l, &mut rec);
                out.clear();
                write_json(&rec, &mut out);
                bytes += out.len();
            }
        }
        let total = rounds * lines.len();
        let dt = t.elapsed().as_secs_f64();
        println!("{name}: {total} records, {:.2} µs each, {:.0} records/s on one thread, {} stored bytes each", dt * 1e6 / total as f64, total as f64 / dt, bytes / total);
    }
}
