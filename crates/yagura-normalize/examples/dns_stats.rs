//! Computed DNS fields of every query in DNS logs, one TSV row per query: for calibrating the
//! DNS tunnelling rules (`crates/yagura-sigma/rules/command_and_control/dns_*.yml`).
//!
//! ```text
//! cargo run -p yagura-normalize --example dns_stats -- FILE... > stats.tsv
//! ```
//!
//! Columns: file, line, `event.dataset`, `dns.question.type`, `dns.question.registered_domain`,
//! `yagura.dns.subdomain_length`, `.subdomain_labels`, `.longest_label_length`,
//! `.subdomain_entropy`, `dns.question.name`. Files ending in `.gz` are gunzipped. Lines without
//! the computed fields (answers, forwarding lines, start-up lines) are left out.

use std::io::{BufRead, BufReader, Read, Write};

use yagura_event::Record;
use yagura_normalize::parse::{Parser, SourceType};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    let mut rec = Record::new();
    for path in std::env::args().skip(1) {
        let file = std::fs::File::open(&path)?;
        let reader: Box<dyn Read> = if path.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut parser = Parser::new(SourceType::Auto);
        for (i, line) in BufReader::new(reader).lines().enumerate() {
            let line = line?;
            parser.parse(&line, 0, &mut rec);
            let Some(h) = rec.get("yagura.dns.subdomain_entropy") else {
                continue;
            };
            let get = |k: &str| rec.get(k).map_or("-", |f| f.value);
            writeln!(
                out,
                "{path}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                i + 1,
                get("event.dataset"),
                get("dns.question.type"),
                get("dns.question.registered_domain"),
                get("yagura.dns.subdomain_length"),
                get("yagura.dns.subdomain_labels"),
                get("yagura.dns.longest_label_length"),
                h.value,
                get("dns.question.name"),
            )?;
        }
    }
    Ok(())
}
