//! `yagura_normalize::parse` on lines of the shared reference logs (read at test time), and the
//! stored form: `flatten_ecs(write_json(rec))` gives back the same fields for every record.

use std::path::Path;

use yagura_event::{Kind, Record};
use yagura_normalize::parse::{write_json, Outcome, Parser, SourceType};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data");
const RECV: i64 = 1_718_000_000_000;

fn lines(rel: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(Path::new(DATA).join(rel)).ok()?;
    Some(text.lines().map(str::to_string).collect())
}

fn get<'a>(rec: &'a Record, k: &str) -> Option<&'a str> {
    rec.get(k).map(|f| f.value)
}

/// The first line of `rel` containing `needle`, parsed with `hint`.
fn parse_line(rel: &str, needle: &str, hint: SourceType) -> Option<(Record, Outcome)> {
    let mut parser = Parser::new(hint);
    let mut rec = Record::new();
    for l in lines(rel)? {
        let out = parser.parse(&l, RECV, &mut rec);
        if l.contains(needle) {
            assert_eq!(get(&rec, "event.original"), Some(l.as_str()));
            return Some((rec, out));
        }
    }
    panic!("no line with {needle:?} in {rel}");
}

fn parsed_as(out: Outcome, st: SourceType) {
    assert!(
        matches!(out, Outcome::Event { source, parsed: true, .. } if source == st),
        "{out:?}"
    );
}

#[test]
fn sshd_sudo_pam_from_sample_files() {
    let Some((rec, out)) = parse_line(
        "linux-auth/loghub/OpenSSH/OpenSSH_2k.log",
        "Failed password for invalid user",
        SourceType::Auto,
    ) else {
        return;
    };
    parsed_as(out, SourceType::LinuxAuth);
    assert_eq!(get(&rec, "event.action"), Some("ssh_login"));
    assert_eq!(get(&rec, "event.outcome"), Some("failure"));
    assert_eq!(get(&rec, "host.hostname"), Some("LabSZ"));
    assert_eq!(get(&rec, "process.name"), Some("sshd"));
    assert_eq!(rec.get("source.port").unwrap().kind, Kind::Num);
    assert_eq!(get(&rec, "system.auth.ssh.invalid_user"), Some("true"));
    let (rec, _) = parse_line(
        "linux-auth/elastic-beats-filebeat-tests/system-auth-test.log",
        "COMMAND=/bin/cat",
        SourceType::Auto,
    )
    .unwrap();
    assert_eq!(get(&rec, "user.name"), Some("vagrant"));
    assert_eq!(
        get(&rec, "system.auth.sudo.command"),
        Some("/bin/cat /var/log/secure")
    );
    assert_eq!(get(&rec, "system.auth.sudo.tty"), Some("pts/1"));
    assert_eq!(get(&rec, "system.auth.sudo.pwd"), Some("/home/vagrant"));
    assert_eq!(get(&rec, "system.auth.sudo.user"), Some("root"));
    let (rec, _) = parse_line(
        "linux-auth/elastic-beats-filebeat-tests/system-auth-test.log",
        "Accepted publickey",
        SourceType::LinuxAuth,
    )
    .unwrap();
    assert_eq!(get(&rec, "event.outcome"), Some("success"));
    assert_eq!(get(&rec, "system.auth.ssh.method"), Some("publickey"));
    let (rec, out) = parse_line(
        "linux-auth/loghub/Linux/Linux_2k.log",
        "sshd(pam_unix)",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::LinuxAuth);
    assert_eq!(get(&rec, "system.auth.pam.module"), Some("pam_unix"));
    assert!(get(&rec, "source.ip").is_some() || get(&rec, "source.domain").is_some());
}

#[test]
fn web_iptables_dns_zeek_from_sample_files() {
    let Some((rec, out)) = parse_line(
        "web-access/elastic-beats-filebeat-tests/apache-access-test.log",
        "vhost1.domaine.fr",
        SourceType::ApacheAccess,
    ) else {
        return;
    };
    parsed_as(out, SourceType::ApacheAccess);
    assert_eq!(get(&rec, "url.domain"), Some("vhost1.domaine.fr"));
    assert_eq!(get(&rec, "source.ip"), Some("123.123.123.123"));
    assert_eq!(get(&rec, "http.response.status_code"), Some("200"));
    assert_eq!(get(&rec, "event.dataset"), Some("apache.access"));
    let (rec, out) = parse_line(
        "web-access/elastic-beats-filebeat-tests/nginx-error.log",
        "favicon.ico",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::NginxError);
    assert_eq!(get(&rec, "log.level"), Some("error"));
    assert_eq!(get(&rec, "source.ip"), Some("127.0.0.1"));
    assert_eq!(get(&rec, "url.original"), Some("/favicon.ico"));
    let (rec, out) = parse_line(
        "web-access/loghub-apache-error/Apache/Apache_2k.log",
        "[client ",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::ApacheError);
    assert!(get(&rec, "source.ip").is_some());
    let (rec, out) = parse_line(
        "crowdsec-tests/iptables-logs/iptables-logs.log",
        "IPTABLES-DROP",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::Iptables);
    assert_eq!(get(&rec, "iptables.prefix"), Some("IPTABLES-DROP:"));
    assert_eq!(get(&rec, "destination.port"), Some("53"));
    let (rec, out) = parse_line(
        "dns/tunneling/iodine-dnsmasq-korving/dnsmasq.log",
        "query[NULL]",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::Dnsmasq);
    assert_eq!(
        get(&rec, "dns.question.registered_domain"),
        Some("example.attack")
    );
    let (rec, out) = parse_line(
        "crowdsec-tests/bind9-logs/bind9-logs.log",
        "zone transfer",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::BindQuery);
    assert_eq!(get(&rec, "dns.question.type"), Some("AXFR"));
    let (rec, out) = parse_line(
        "dns/normal/zeek-wrccdc2018/dns.first5000.log",
        "wrccdc",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::ZeekDns);
    assert!(get(&rec, "source.ip").is_some() && get(&rec, "dns.question.name").is_some());
    assert!(get(&rec, "zeek.session_id").is_some());
    let (rec, out) =
        parse_line("misc/zeek-wrccdc2018/ssh.log", "SSH-2.0", SourceType::Auto).unwrap();
    parsed_as(out, SourceType::ZeekSsh);
    assert_eq!(get(&rec, "zeek.ssh.auth_success"), Some("true"));
    assert_eq!(get(&rec, "event.outcome"), Some("success"));
    let (rec, out) = parse_line(
        "dns/normal/jsonl/zeek-traces_wikipedia.dns.jsonl",
        "NXDOMAIN",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::ZeekDns);
    assert_eq!(get(&rec, "dns.response_code"), Some("NXDOMAIN"));
    let (rec, out) = parse_line(
        "misc/suricata-eve-verify/alert-testmyids__eve.json",
        "\"alert\"",
        SourceType::Auto,
    )
    .unwrap();
    parsed_as(out, SourceType::SuricataEve);
    assert_eq!(get(&rec, "event.kind"), Some("alert"));
    assert!(get(&rec, "rule.name").is_some());
    let (rec, out) = parse_line(
        "misc/syslog-rfc5424-rfc3164/RFC5424.txt",
        "SecureAuth",
        SourceType::Auto,
    )
    .unwrap();
    assert!(matches!(
        out,
        Outcome::Event {
            source: SourceType::Syslog,
            parsed: false,
            ..
        }
    ));
    assert_eq!(
        get(&rec, "log.syslog.structured_data.SecureAuth@27389.UserID"),
        Some("Tester2")
    );
    assert_eq!(get(&rec, "log.syslog.msgid"), Some("ID52020"));
}

#[test]
fn stored_form_reads_back_for_every_sample_record() {
    let mut checked = 0;
    for rel in [
        "linux-auth/loghub/OpenSSH/OpenSSH_2k.log",
        "linux-auth/loghub/Linux/Linux_2k.log",
        "web-access/lnav-tests/logfile_shop_access_log.0",
        "crowdsec-tests/iptables-logs/iptables-logs.log",
        "misc/zeek-wrccdc2018/rdp.first3000.log",
        "dns/normal/jsonl/zeek-traces_dns-edns-ecs.dns.jsonl",
        "misc/suricata-eve-verify/dnp3__eve.json",
        "crowdsec-tests/aws-cloudtrail/aws-cloudtrail.log",
        "misc/syslog-rfc5424-rfc3164/RFC5424.txt",
    ] {
        let Some(ls) = lines(rel) else { return };
        let mut parser = Parser::new(SourceType::Auto);
        let mut rec = Record::new();
        let mut out = Vec::new();
        let mut back = Record::new();
        for l in ls {
            if parser.parse(&l, RECV, &mut rec) == Outcome::Skip {
                continue;
            }
            out.clear();
            write_json(&rec, &mut out);
            let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
            back.clear();
            yagura_normalize::flatten_ecs(&doc, &mut back).unwrap();
            let sorted = |r: &Record| {
                let mut v: Vec<_> = r
                    .fields()
                    .map(|f| (f.key.to_string(), f.kind, f.value.to_string()))
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            };
            assert_eq!(sorted(&rec), sorted(&back), "{rel}: {l}");
            assert!(rec
                .get("@timestamp")
                .is_some_and(|f| f.value.len() == 24 && f.value.ends_with('Z')));
            checked += 1;
        }
    }
    assert!(checked > 5000);
}

#[test]
fn source_type_names() {
    for st in SourceType::ALL {
        assert_eq!(SourceType::parse_name(st.as_str()), Some(*st));
        assert_eq!(st.as_str().parse::<SourceType>().ok(), Some(*st));
    }
    assert_eq!(
        SourceType::parse_name("Nginx-Access"),
        Some(SourceType::NginxAccess)
    );
    assert!("nope".parse::<SourceType>().is_err());
}

#[test]
fn hint_that_does_not_fit_falls_back() {
    let mut p = Parser::new(SourceType::NginxAccess);
    let mut rec = Record::new();
    let out = p.parse(
        "Feb 12 14:10:21 h sshd[1]: Invalid user x from 1.2.3.4",
        RECV,
        &mut rec,
    );
    parsed_as(out, SourceType::LinuxAuth);
    let out = p.parse("nothing to see", RECV, &mut rec);
    assert!(
        matches!(out, Outcome::Event { source: SourceType::Unknown, parsed: false, timestamp_ms } if timestamp_ms == RECV)
    );
    assert_eq!(get(&rec, "message"), Some("nothing to see"));
    assert_eq!(p.parse("", RECV, &mut rec), Outcome::Skip);
}
