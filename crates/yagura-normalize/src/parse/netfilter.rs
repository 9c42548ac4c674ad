//! iptables / nftables `LOG` lines (kernel messages): `[uptime] PREFIX IN=eth0 OUT= MAC=...
//! SRC=1.2.3.4 DST=5.6.7.8 LEN=40 ... PROTO=TCP SPT=1 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0`.

use yagura_event::{Kind, Record};

use super::out;

/// The start of the `IN=` item in a kernel message, if it is a netfilter LOG line.
pub(crate) fn find(msg: &str) -> Option<usize> {
    let at = if msg.starts_with("IN=") {
        0
    } else {
        msg.find(" IN=")? + 1
    };
    msg[at..].contains(" SRC=").then_some(at)
}

/// Pushes the fields of a netfilter line whose `IN=` item starts at `at`.
pub(crate) fn push(msg: &str, at: usize, rec: &mut Record) {
    let mut prefix = msg[..at].trim();
    // Kernel uptime `[  203.842973]`.
    if let Some(r) = prefix.strip_prefix('[') {
        if let Some(end) = r.find(']') {
            if r[..end]
                .trim()
                .bytes()
                .all(|c| c.is_ascii_digit() || c == b'.')
            {
                prefix = r[end + 1..].trim();
            }
        }
    }
    out::dataset(rec, "iptables", "iptables.log");
    rec.push("event.category", Kind::Str, "network");
    let upper = |s: &str, pat: &str| {
        s.as_bytes()
            .windows(pat.len())
            .any(|w| w.eq_ignore_ascii_case(pat.as_bytes()))
    };
    let denied = ["DROP", "BLOCK", "REJECT", "DENY"]
        .iter()
        .any(|p| upper(prefix, p));
    let allowed = ["ACCEPT", "ALLOW", "PASS"].iter().any(|p| upper(prefix, p));
    rec.push("event.type", Kind::Str, "connection");
    if denied {
        rec.push("event.type", Kind::Str, "denied");
    } else if allowed {
        rec.push("event.type", Kind::Str, "allowed");
    }
    let action = prefix.trim_matches(|c: char| c == '[' || c == ']' || c == ':' || c == ' ');
    if !prefix.is_empty() {
        rec.push("iptables.prefix", Kind::Str, prefix);
    }
    rec.push(
        "event.action",
        Kind::Str,
        if action.is_empty() { "log" } else { action },
    );
    let mut seen_len = false;
    for tok in msg[at..].split(' ') {
        let Some((k, v)) = tok.split_once('=') else {
            match tok {
                "" => {}
                "DF" | "MF" | "CE" => rec.push("iptables.fragment_flags", Kind::Str, tok),
                _ if tok.bytes().all(|c| c.is_ascii_uppercase()) => {
                    rec.push("iptables.tcp.flags", Kind::Str, tok)
                }
                _ => {}
            }
            continue;
        };
        match k {
            "IN" => out::text(rec, "observer.ingress.interface.name", v),
            "OUT" => out::text(rec, "observer.egress.interface.name", v),
            "PHYSIN" => out::text(rec, "iptables.physical.in", v),
            "PHYSOUT" => out::text(rec, "iptables.physical.out", v),
            "MAC" => mac(rec, v),
            "SRC" => out::addr(rec, "source", v),
            "DST" => out::addr(rec, "destination", v),
            "SPT" => out::int(rec, "source.port", v),
            "DPT" => out::int(rec, "destination.port", v),
            "PROTO" => {
                let mut buf = [0u8; 16];
                let n = v.len().min(16);
                buf[..n].copy_from_slice(&v.as_bytes()[..n]);
                buf[..n].make_ascii_lowercase();
                if let Ok(lower) = std::str::from_utf8(&buf[..n]) {
                    rec.push("network.transport", Kind::Str, lower);
                }
            }
            // The first LEN is the IP length, a second one (UDP) the payload's.
            "LEN" if !seen_len => {
                seen_len = true;
                out::int(rec, "iptables.length", v);
            }
            "LEN" => out::int(rec, "iptables.udp.length", v),
            "TOS" => out::text(rec, "iptables.tos", v),
            "PREC" => out::text(rec, "iptables.precedence_bits", v),
            "TTL" => out::int(rec, "iptables.ttl", v),
            "ID" => out::int(rec, "iptables.id", v),
            "WINDOW" => out::int(rec, "iptables.tcp.window", v),
            "RES" => out::text(rec, "iptables.tcp.reserved_bits", v),
            "URGP" => {}
            "TYPE" => out::int(rec, "iptables.icmp.type", v),
            "CODE" => out::int(rec, "iptables.icmp.code", v),
            "MARK" => out::text(rec, "iptables.mark", v),
            "SEQ" | "ACK" => {}
            _ => {}
        }
    }
}

/// `MAC=dd:dd:dd:dd:dd:dd:ss:ss:ss:ss:ss:ss:tt:tt` -> destination.mac, source.mac (ECS form
/// `AA-BB-CC-DD-EE-FF`).
fn mac(rec: &mut Record, v: &str) {
    if v.is_empty() {
        return;
    }
    rec.push("iptables.mac", Kind::Str, v);
    let b = v.as_bytes();
    if b.len() < 35 {
        return;
    }
    for (key, from) in [("destination.mac", 0), ("source.mac", 18)] {
        let mut m = [0u8; 17];
        for (i, c) in b[from..from + 17].iter().enumerate() {
            m[i] = if *c == b':' {
                b'-'
            } else {
                c.to_ascii_uppercase()
            };
        }
        if let Ok(s) = std::str::from_utf8(&m) {
            rec.push(key, Kind::Str, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line() {
        let msg = "[  203.842973] IPTABLES-DROP: IN=lo OUT= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 SRC=127.0.0.1 DST=127.0.0.53 LEN=76 TOS=0x00 PREC=0x00 TTL=64 ID=25029 DF PROTO=UDP SPT=49007 DPT=53 LEN=56 ";
        let at = find(msg).unwrap();
        let mut rec = Record::new();
        push(msg, at, &mut rec);
        let get = |k| rec.get(k).map(|f| f.value);
        assert_eq!(get("event.action"), Some("IPTABLES-DROP"));
        assert_eq!(get("source.ip"), Some("127.0.0.1"));
        assert_eq!(get("destination.port"), Some("53"));
        assert_eq!(get("network.transport"), Some("udp"));
        assert_eq!(get("observer.ingress.interface.name"), Some("lo"));
        assert_eq!(get("iptables.length"), Some("76"));
        assert_eq!(get("source.mac"), Some("00-00-00-00-00-00"));
        assert!(rec.get_all("event.type").any(|f| f.value == "denied"));
        assert!(find("XX=enp1s0 OUT= SRC=1.2.3.4").is_none());
    }
}
