//! `yagura hunt` on text logs (auth.log, syslog, access logs, Zeek TSV) and vendor JSON
//! (CloudTrail) from `../shared/data`: found by sniffing (also without a `.log` name and inside
//! gzip), parsed into ECS records, and run through SigmaHQ rules and the built-in SSH
//! brute-force correlations; every detection points at its file and line.

mod common;

use common::{shared, stored_gzip};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_yagura");
const TEST_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/rule-cache");

const MANY_FAILED_SSH: &str = "89f23779-bd6f-435f-90d0-d6c164ab222f";
const SSH_BRUTE_FORCE_THEN_SUCCESS: &str = "ae2a58aa-a5dd-47c7-905b-5764c7c58df1";
/// SSH base rules and the chain stage: referenced by correlations only, never reported.
const SSH_CHAIN_ONLY: &[&str] = &[
    "fb2b59ce-bff7-4ddf-973a-06d38f9c98cd",
    "11a41d45-15ed-4a40-87a3-152e15e77b5c",
    "49a17f05-eec1-4147-a8e8-9acdc7c58228",
];
/// SigmaHQ `lnx_privileged_user_creation.yml`.
const PRIVILEGED_USER_CREATED: &str = "0ac15ec3-d24f-4246-aa2a-3077bb1cf90e";
/// SigmaHQ `lnx_syslog_susp_named.yml`.
const SUSPICIOUS_NAMED_ERROR: &str = "c8e35e96-19ce-4f16-aeb6-fd5588dc5365";
/// SigmaHQ `zeek_dns_susp_zbit_flag.yml`.
const ZEEK_DNS_Z_FLAG: &str = "ede05abc-2c9e-4624-9944-9ff17fdc0bf5";
/// SigmaHQ `web_susp_useragents.yml`.
const RECON_USER_AGENTS: &str = "19aa4f58-94ca-45ff-bc34-92e533c0994a";
/// SigmaHQ `proxy_ua_frameworks.yml` (a proxy rule: never on web server logs).
const PROXY_FRAMEWORK_UA: &str = "fdd1bfb5-f60b-4a35-910e-f36ed3d0b32f";

fn yagura(args: &[&str], paths: &[&Path]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(paths)
        .args(["--format", "jsonl", "--min-level", "informational"])
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env("YAGURA_CACHE_DIR", TEST_CACHE)
        .output()
        .expect("the binary runs")
}

/// One detection: rule id, file, line, key fields.
#[derive(Debug)]
struct Hit {
    rule: String,
    file: String,
    line: u64,
    fields: String,
}

/// `hunt` with `extra` options over `paths`; must succeed without input errors.
fn hunt(extra: &[&str], paths: &[&Path]) -> (Vec<Hit>, String) {
    let mut args = vec!["hunt"];
    args.extend_from_slice(extra);
    let out = yagura(&args, paths);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Input errors: 0"), "{stderr}");
    let hits = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            Hit {
                rule: v["rule_id"].as_str().unwrap_or_default().to_owned(),
                file: v["file"].as_str().unwrap_or_default().to_owned(),
                line: v["record"].as_u64().unwrap_or_default(),
                // `fields` is a JSON object: back to `k=v k=v` for the checks below.
                fields: v["fields"]
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    (hits, stderr)
}

fn of<'a>(hits: &'a [Hit], rule: &str) -> Vec<&'a Hit> {
    hits.iter().filter(|h| h.rule == rule).collect()
}

fn sigma_rules(rel: &str) -> String {
    shared(&format!("sigma/rules/{rel}")).display().to_string()
}

/// The lines of a real sample, 1-based `from..=to`.
fn sample_lines(rel: &str, from: usize, to: usize) -> Vec<String> {
    let text = std::fs::read_to_string(shared(rel)).expect("sample");
    text.lines()
        .skip(from - 1)
        .take(to + 1 - from)
        .map(str::to_owned)
        .collect()
}

#[test]
fn ssh_brute_force_on_real_auth_logs() {
    let openssh = shared("data/linux-auth/loghub/OpenSSH/OpenSSH_2k.log");
    let linux = shared("data/linux-auth/loghub/Linux/Linux_2k.log");
    let (hits, _) = hunt(&[], &[&openssh, &linux]);
    let bursts = of(&hits, MANY_FAILED_SSH);
    let in_file = |f: &Path| {
        bursts
            .iter()
            .filter(|h| h.file == f.display().to_string())
            .count()
    };
    // OpenSSH_2k: sshd's own "Failed password" lines; Linux_2k: old `sshd(pam_unix)` lines.
    assert_eq!(in_file(&openssh), 44, "{bursts:#?}");
    assert_eq!(in_file(&linux), 11, "{bursts:#?}");
    // The first burst: 112.95.230.3, whose 11th "Failed password" is line 68 (lines 35, 38, …).
    let first = bursts
        .iter()
        .find(|h| h.fields.contains("source.ip=112.95.230.3"))
        .expect("a burst from 112.95.230.3");
    assert_eq!(first.line, 68, "{first:?}");
    assert!(first.fields.contains("value=11"), "{first:?}");
    assert_eq!(of(&hits, SSH_BRUTE_FORCE_THEN_SUCCESS).len(), 0);
    for chain in SSH_CHAIN_ONLY {
        assert_eq!(of(&hits, chain).len(), 0, "{chain}");
    }
}

#[test]
fn ssh_brute_force_then_success_in_a_rotated_and_a_gzipped_file() {
    // No recorded sample has a success after the burst: the real burst of 112.95.230.3
    // (OpenSSH_2k lines 34-68, 11 failed passwords) followed by one accepted password.
    let mut lines = sample_lines("data/linux-auth/loghub/OpenSSH/OpenSSH_2k.log", 34, 68);
    lines.push(
        "Dec 10 07:29:30 LabSZ sshd[24300]: Accepted password for root from 112.95.230.3 port 50022 ssh2"
            .to_owned(),
    );
    let text = lines.join("\n") + "\n";
    let dir = tempfile::tempdir().unwrap();
    // `auth.log.1`: no `.log` extension, found by its content; `auth.log.2.gz`: gzip of it.
    let rotated = dir.path().join("auth.log.1");
    std::fs::write(&rotated, &text).unwrap();
    let gz = dir.path().join("auth.log.2.gz");
    let mut enc = gzip_file(&gz);
    enc.write_all(text.as_bytes()).unwrap();
    drop(enc);
    for file in [&rotated, &gz] {
        let (hits, stderr) = hunt(&[], &[file]);
        assert!(stderr.contains("Files read: 1"), "{stderr}");
        let alerts = of(&hits, SSH_BRUTE_FORCE_THEN_SUCCESS);
        assert_eq!(alerts.len(), 1, "{hits:#?}");
        // It points at the success: line 36 of the file.
        assert_eq!(alerts[0].line, 36, "{alerts:?}");
        assert_eq!(alerts[0].file, file.display().to_string());
        assert_eq!(of(&hits, MANY_FAILED_SSH).len(), 1, "{hits:#?}");
    }
    // The same success from another address: only the burst.
    let other = text.replace(
        "root from 112.95.230.3 port 50022",
        "root from 198.51.100.9 port 50022",
    );
    std::fs::write(&rotated, other).unwrap();
    let (hits, _) = hunt(&[], &[&rotated]);
    assert_eq!(of(&hits, SSH_BRUTE_FORCE_THEN_SUCCESS).len(), 0);
    assert_eq!(of(&hits, MANY_FAILED_SSH).len(), 1);
}

/// A gzip file at `path`, written on drop (stored deflate blocks: a valid gzip stream made
/// without a compression library).
fn gzip_file(path: &Path) -> GzFile {
    GzFile {
        path: path.to_path_buf(),
        data: Vec::new(),
    }
}

/// Collects bytes, writes them gzip-compressed (stored blocks) on drop.
struct GzFile {
    path: PathBuf,
    data: Vec<u8>,
}

impl std::io::Write for GzFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for GzFile {
    fn drop(&mut self) {
        std::fs::write(&self.path, stored_gzip(&self.data)).unwrap();
    }
}

#[test]
fn sigmahq_linux_rules_on_real_syslog_files_without_extension() {
    // OSSEC's test logs are files named `log`: found by their syslog lines.
    let adduser = shared("data/misc/ossec-hids-tests/logtesting/24/log");
    let named = shared("data/misc/ossec-hids-tests/logtesting/37/log");
    let rules = sigma_rules("linux");
    let (hits, _) = hunt(&["--no-builtin", "--rules", &rules], &[&adduser, &named]);
    let created = of(&hits, PRIVILEGED_USER_CREATED);
    assert_eq!(created.len(), 1, "{hits:#?}");
    assert_eq!(
        (created[0].file.as_str(), created[0].line),
        (adduser.display().to_string().as_str(), 1)
    );
    let named_hits = of(&hits, SUSPICIOUS_NAMED_ERROR);
    assert_eq!(named_hits.len(), 1, "{hits:#?}");
    assert_eq!(named_hits[0].line, 1);
    // Nothing else: the Linux rules are served on syslog only by their own logsource entries.
    assert_eq!(hits.len(), 2, "{hits:#?}");
}

#[test]
fn sigmahq_web_rules_on_access_logs_and_no_proxy_rules() {
    let bad_ua = shared("data/crowdsec-tests/nginx-bad-user-agent/nginx-bad-user-agent.log");
    let web = shared("data/web-access");
    let rules = sigma_rules("web");
    let (hits, stderr) = hunt(&["--no-builtin", "--rules", &rules], &[&bad_ua, &web]);
    let recon = of(&hits, RECON_USER_AGENTS);
    let lines: Vec<u64> = recon.iter().map(|h| h.line).collect();
    assert_eq!(lines, [1, 2, 3], "{hits:#?}");
    assert!(recon.iter().all(|h| h.file == bad_ua.display().to_string()));
    // Googlebot's user agent is in SigmaHQ's proxy rule "only for proxy logs": web server access
    // logs are not proxy logs.
    assert_eq!(of(&hits, PROXY_FRAMEWORK_UA).len(), 0, "{hits:#?}");
    // Every web-access sample is read: access and error logs, `access_log.0` by content, the
    // Apache error log that starts with `[` like JSON; only lnav's W3C log is not parsed, and
    // loghub's structured CSV copy of the Apache log is named as skipped (a log kept as .csv).
    assert!(stderr.contains("Files skipped: 2"), "{stderr}");
    assert!(
        stderr.contains("Apache_2k.log_structured.csv: a log in a .txt/.csv/.tsv file"),
        "{stderr}"
    );
    assert!(!stderr.contains("Apache_2k.log: "), "{stderr}");
}

#[test]
fn sigmahq_zeek_rule_on_zeek_tsv() {
    let dns =
        shared("data/misc/zeek-btest-baselines/scripts.base.protocols.dns.duplicate-reponses");
    let rules = sigma_rules("network/zeek");
    let (hits, stderr) = hunt(&["--no-builtin", "--rules", &rules], &[&dns]);
    // dns.log line 10 has Z=1; line 11 (Z=0) does not fire. Header lines are no events.
    let z = of(&hits, ZEEK_DNS_Z_FLAG);
    assert_eq!(z.len(), 1, "{hits:#?}");
    assert_eq!(z[0].line, 10);
    assert!(z[0].file.ends_with("dns.log"));
    assert!(
        z[0].fields.contains("dns.question.name=www.cmu.edu"),
        "{z:?}"
    );
    assert!(stderr.contains("Input errors: 0"), "{stderr}");
}

#[test]
fn cloudtrail_records_file_goes_through_the_parser() {
    // crowdsec's CloudTrail sample as one `{"Records":[...]}` file, as CloudTrail writes to S3.
    let ndjson = std::fs::read_to_string(shared(
        "data/crowdsec-tests/aws-cloudtrail/aws-cloudtrail.log",
    ))
    .unwrap();
    let records: Vec<serde_json::Value> = ndjson
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("111122223333_CloudTrail_us-east-1.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&serde_json::json!({ "Records": records })).unwrap(),
    )
    .unwrap();
    let rules = sigma_rules("cloud/aws");
    let (hits, _) = hunt(&["--no-builtin", "--rules", &rules], &[&file]);
    // ConsoleLogin failure (record 1) and GetCallerIdentity by an assumed role (record 2).
    let mut got: Vec<(u64, &str)> = hits
        .iter()
        .map(|h| (h.line, h.fields.split(' ').next_back().unwrap_or("")))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (1, "event.action=ConsoleLogin"),
            (2, "event.action=GetCallerIdentity")
        ],
        "{hits:#?}"
    );
}

#[test]
fn unparsed_lines_are_events_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.log");
    std::fs::write(
        &file,
        "started worker pool\nhello world\n\n\u{1b}[31mred\u{1b}[0m text\n",
    )
    .unwrap();
    let (hits, stderr) = hunt(&[], &[&file]);
    assert!(hits.is_empty());
    // The empty line is no event.
    assert!(stderr.contains("Events: 3"), "{stderr}");
}

const MYAPP_PIPELINE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/examples/myapp-pipeline.yml"
);
const MYAPP_RULE_ID: &str = "5d0c7f5e-0d8e-4b59-9b8c-4f3b7c1c2a01";
const MYAPP_NATIVE_RULE_ID: &str = "5d0c7f5e-0d8e-4b59-9b8c-4f3b7c1c2a02";

/// A folder with two rules for `product: myapp` (one in Sigma's field names, one in myapp's
/// own) and a file of myapp's JSON lines; the admin login failure is line 3.
fn myapp_case() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("myapp.yml"),
        format!(
            "title: MyApp Admin Login Failure
id: {MYAPP_RULE_ID}
logsource: {{product: myapp}}
detection:
  sel: {{action: login_failed, User: admin}}
  condition: sel
level: high
---
title: MyApp Admin Login Failure (native names)
id: {MYAPP_NATIVE_RULE_ID}
logsource: {{product: myapp}}
detection:
  sel: {{event: login_failed, user: admin, client_ip|cidr: 203.0.113.0/24}}
  condition: sel
level: high
"
        ),
    )
    .unwrap();
    let events = [
        r#"{"@timestamp":"2026-12-01T09:00:00Z","app":"myapp","event":"login","user":"bob","client_ip":"198.51.100.4"}"#,
        r#"{"@timestamp":"2026-12-01T09:00:05Z","app":"myapp","event":"login_failed","user":"bob","client_ip":"198.51.100.4"}"#,
        r#"{"@timestamp":"2026-12-01T09:00:09Z","app":"myapp","event":"login_failed","user":"admin","client_ip":"203.0.113.7"}"#,
        r#"{"@timestamp":"2026-12-01T09:00:09Z","app":"other","event":"login_failed","user":"admin","client_ip":"203.0.113.7"}"#,
    ];
    std::fs::write(dir.path().join("myapp.ndjson"), events.join("\n") + "\n").unwrap();
    dir
}

#[test]
fn rules_without_a_pipeline_are_named_and_user_pipelines_serve_them() {
    let dir = myapp_case();
    let rules = dir.path().join("rules").display().to_string();
    let events = dir.path().join("myapp.ndjson");
    // No pipeline serves `product: myapp`: nothing fires, and the summary says so.
    let (hits, stderr) = hunt(&["--no-builtin", "--rules", &rules], &[&events]);
    assert!(hits.is_empty(), "{hits:#?}");
    assert!(
        stderr.contains("Rules never active on these inputs: 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2  product=myapp category=- service=-"),
        "{stderr}"
    );
    assert!(!stderr.contains(MYAPP_RULE_ID), "listed only with -v");
    let (_, verbose) = hunt(&["--no-builtin", "-v", "--rules", &rules], &[&events]);
    assert!(verbose.contains(MYAPP_RULE_ID), "{verbose}");
    assert!(
        verbose.contains("no pipeline serves its logsource"),
        "{verbose}"
    );

    // The example pipeline: line 3 only (line 4 is another app), for both rules (fields no
    // mapping names keep their own names).
    let (hits, stderr) = hunt(
        &[
            "--no-builtin",
            "--rules",
            &rules,
            "--pipeline",
            MYAPP_PIPELINE,
        ],
        &[&events],
    );
    let mut got: Vec<(&str, u64)> = hits.iter().map(|h| (h.rule.as_str(), h.line)).collect();
    got.sort();
    assert_eq!(
        got,
        [(MYAPP_RULE_ID, 3), (MYAPP_NATIVE_RULE_ID, 3)],
        "{stderr}"
    );
    assert!(!stderr.contains("never active"), "{stderr}");

    // passthrough: every rule on every event, names unchanged: the native-names rule fires on
    // lines 3 and 4 (no logsource selection); the Sigma-names one finds no `action` field.
    let (hits, stderr) = hunt(
        &[
            "--no-builtin",
            "--rules",
            &rules,
            "--pipeline",
            "passthrough",
        ],
        &[&events],
    );
    let got: Vec<(&str, u64)> = hits.iter().map(|h| (h.rule.as_str(), h.line)).collect();
    assert_eq!(
        got,
        [(MYAPP_NATIVE_RULE_ID, 3), (MYAPP_NATIVE_RULE_ID, 4)],
        "{stderr}"
    );
    assert!(!stderr.contains("never active"), "{stderr}");
}

#[test]
fn linux_rules_on_windows_only_inputs_are_never_active_and_lint_names_unserved_rules() {
    let auditd = sigma_rules("linux/auditd");
    let sshd = sigma_rules("linux/builtin/sshd");
    let evtx = shared("data/evtx/DeepBlueCLI/evtx/new-user-security.evtx");
    let (hits, stderr) = hunt(
        &["--no-builtin", "--rules", &auditd, "--rules", &sshd],
        &[&evtx],
    );
    assert!(hits.is_empty());
    assert!(
        stderr.contains("product=linux category=- service=auditd"),
        "{stderr}"
    );
    assert!(
        stderr.contains("product=linux category=- service=sshd"),
        "{stderr}"
    );
    // lint: auditd has no logsource entry anywhere; sshd has one.
    let out = Command::new(BIN)
        .args(["rules", "lint", &auditd, &sshd])
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let inactive: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("inactive\t"))
        .collect();
    assert!(!inactive.is_empty(), "{text}");
    assert!(
        inactive.iter().all(|l| l.contains("service=auditd")),
        "{text}"
    );
    assert!(
        text.contains("rules never active (no pipeline serves their logsource):"),
        "{text}"
    );
    let with = Command::new(BIN)
        .args(["rules", "lint", "-q", &auditd, "--pipeline", "passthrough"])
        .output()
        .expect("the binary runs");
    let with = String::from_utf8_lossy(&with.stdout);
    assert!(!with.contains("never active"), "{with}");
}

#[test]
fn windows_correlations_are_never_active_on_linux_logs_and_ssh_ones_are() {
    let openssh = shared("data/linux-auth/loghub/OpenSSH/OpenSSH_2k.log");
    let (_, stderr) = hunt(&["-v"], &[&openssh]);
    // The Windows brute-force correlations count 4625/4624: none on an auth.log.
    let windows_burst = "06961b7a-d015-4ebf-ada2-6a3c2efc05d9";
    let windows_success = "fdecce04-5a0c-4f10-9780-efb4770e0967";
    for id in [windows_burst, windows_success] {
        let line = stderr
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id} not listed: {stderr}"));
        assert!(
            line.contains("the rules it counts could not fire"),
            "{line}"
        );
    }
    for id in [MANY_FAILED_SSH, SSH_BRUTE_FORCE_THEN_SUCCESS] {
        assert!(!stderr.contains(id), "{id} is active: {stderr}");
    }
    assert!(stderr.contains("  correlation\n"), "{stderr}");
}
