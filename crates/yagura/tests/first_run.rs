//! `yagura hunt` as a new user meets it: grouped input errors, a table that fits the terminal,
//! diagnostics in the chosen language, usage errors with exit status 2, file recognition, JSON
//! `fields`, and the built-in pack as the docs count it. One test (or two) per item of the
//! first-run issue.

mod common;

use common::{shared, stderr, stdout, stored_gzip, write, CHUNK, HEADER, MANY};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_yagura");
const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs");
const TEST_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/rule-cache");

fn yagura_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("COLUMNS")
        .env("YAGURA_CACHE_DIR", TEST_CACHE);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

fn yagura(args: &[&str]) -> Output {
    yagura_env(args, &[])
}

/// A rule matching every Application event, one matching `whoami` process creations, and a
/// low-level correlation over the latter (two in a minute on one host).
const RULES: &str = r#"
title: Any application event
id: 5c2c7a5e-0000-4000-8000-000000000001
level: low
logsource: {product: windows, service: application}
detection:
    selection: {Channel: Application}
    condition: selection
---
title: Whoami run
id: 5c2c7a5e-0000-4000-8000-000000000002
name: whoami_run
level: high
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
    selection: {CommandLine|contains: whoami}
    condition: selection
---
title: Whoami twice
id: 5c2c7a5e-0000-4000-8000-000000000003
level: low
correlation:
    type: event_count
    rules: [whoami_run]
    group-by: [Computer]
    timespan: 1m
    condition: {gte: 2}
    generate: true
"#;

/// NDJSON lines in the `evtx_dump` shape: process creations running `cmd` on HOST1.
fn ndjson_events(cmds: &[&str]) -> String {
    let lines: Vec<String> = cmds
        .iter()
        .enumerate()
        .map(|(i, cmd)| {
            serde_json::json!({"Event": {
                "System": {"EventID": 4688, "Channel": "Security", "Computer": "HOST1",
                           "EventRecordID": i + 1,
                           "TimeCreated": {"#attributes":
                               {"SystemTime": format!("2024-01-01T00:00:0{i}Z")}}},
                "EventData": {"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
                              "CommandLine": cmd}}})
            .to_string()
        })
        .collect();
    lines.join("\n") + "\n"
}

/// A folder with the rules above; returns (folder, rules folder path).
fn rules_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules.yml", RULES);
    let p = dir.path().to_str().unwrap().to_owned();
    (dir, p)
}

fn hunt_with(rules: &str, extra: &[&str], inputs: &[&Path], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["hunt", "--no-builtin", "--rules", rules];
    args.extend_from_slice(extra);
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    yagura_env(&args, env)
}

/// Many-events Application log with chunks 1, 2 and 3 damaged.
fn damaged_evtx(dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(shared(MANY)).unwrap();
    for k in 1..=3 {
        let at = HEADER + k * CHUNK;
        bytes[at..at + 8].fill(0);
    }
    let p = dir.join("bad-chunks.evtx");
    std::fs::write(&p, bytes).unwrap();
    p
}

fn input_error_lines(err: &str, prefix: &str) -> usize {
    err.lines().filter(|l| l.starts_with(prefix)).count()
}

// 1. Input errors: one line per damaged file, every one with -v.
#[test]
fn item1_input_errors_are_grouped_per_file_and_listed_with_verbose() {
    let (_r, rules) = rules_dir();
    let dir = tempfile::tempdir().unwrap();
    let bad = damaged_evtx(dir.path());
    let o = hunt_with(&rules, &["--format", "csv"], &[&bad], &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(input_error_lines(&err, "input error:"), 1, "{err}");
    assert!(
        err.contains("bad-chunks.evtx") && err.contains("(+2 more in this file; -v lists them)"),
        "{err}"
    );
    assert!(!err.contains("found `["), "no byte dumps: {err}");
    assert!(
        err.contains(
            "1 damaged files: what could be read of them is in the timeline; exit status 1"
        ),
        "{err}"
    );
    // The diagnostics come after the timeline, with the summary.
    let (diag, summary) = (err.find("input error:"), err.find("── Summary ──"));
    assert!(diag < summary, "{err}");

    let v = hunt_with(&rules, &["--format", "csv", "-v"], &[&bad], &[]);
    assert_eq!(v.status.code(), Some(1));
    assert_eq!(
        input_error_lines(&stderr(&v), "input error:"),
        3,
        "{}",
        stderr(&v)
    );

    // The JSON summary lists every error with its full reason.
    let json_path = dir.path().join("summary.json");
    let j = hunt_with(
        &rules,
        &[
            "--format",
            "csv",
            "--summary-json",
            json_path.to_str().unwrap(),
        ],
        &[&bad],
        &[],
    );
    assert_eq!(j.status.code(), Some(1));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(summary["input_errors"], 3, "{summary}");
    assert_eq!(summary["damaged_files"], 1, "{summary}");
    let errors = summary["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{summary}");
    assert!(errors
        .iter()
        .all(|e| e["file"].as_str().unwrap().ends_with("bad-chunks.evtx")));
    assert!(
        errors[0]["reason"].as_str().unwrap().contains("chunk"),
        "{summary}"
    );
    assert!(
        summary["by_level"]["low"].as_u64().unwrap() > 0,
        "{summary}"
    );
}

// 2. The table: fitted to the width, columns in CSV order, rule id shown when there is room,
//    file:record never clipped.
#[test]
fn item2_table_fits_the_width_in_csv_column_order() {
    let (_r, rules) = rules_dir();
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "events.json",
        &ndjson_events(&["whoami /all", "whoami", "cmd /c whoami /priv"]),
    );
    let wide = hunt_with(
        &rules,
        &["--format", "table", "--no-pager"],
        &[&input],
        &[("COLUMNS", "250")],
    );
    assert_eq!(wide.status.code(), Some(0), "{}", stderr(&wide));
    let out = stdout(&wide);
    let header = out.lines().next().unwrap();
    let csv_order = [
        "Timestamp",
        "Computer",
        "Channel",
        "EventID",
        "Rule",
        "Level",
        "ATT&CK",
        "RuleID",
        "File:Record",
        "Details",
    ];
    let at: Vec<usize> = csv_order
        .iter()
        .map(|h| header.find(h).unwrap_or_else(|| panic!("{h} in {header}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{header}");
    assert!(
        out.contains("5c2c7a5e-0000-4000-8000-000000000002"),
        "{out}"
    );
    assert!(out.lines().all(|l| l.chars().count() <= 250), "{out}");

    for cols in [100usize, 60] {
        let o = hunt_with(
            &rules,
            &["--format", "table", "--no-pager"],
            &[&input],
            &[("COLUMNS", &cols.to_string())],
        );
        let out = stdout(&o);
        for line in out.lines() {
            assert!(line.chars().count() <= cols, "{cols}: {line}");
        }
        for record in 1..=3 {
            assert!(out.contains(&format!("events.json:{record}")), "{out}");
        }
        assert!(
            !out.contains("RuleID"),
            "dropped before Rule and Level: {out}"
        );
        assert!(out.lines().next().unwrap().contains("Level"), "{out}");
    }
}

// 3. The correlation line is -v only, and counts the alerts shown.
#[test]
fn item3_correlation_stats_only_with_verbose_and_match_the_alerts_shown() {
    let (_r, rules) = rules_dir();
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "events.json",
        &ndjson_events(&["whoami /all", "whoami", "cmd /c whoami /priv"]),
    );
    let quiet = hunt_with(&rules, &["--format", "jsonl"], &[&input], &[]);
    assert!(
        !stderr(&quiet).contains("correlation:"),
        "{}",
        stderr(&quiet)
    );

    let v = hunt_with(&rules, &["--format", "jsonl", "-v"], &[&input], &[]);
    let alerts = stdout(&v)
        .lines()
        .filter(|l| l.contains("5c2c7a5e-0000-4000-8000-000000000003"))
        .count();
    assert!(alerts > 0, "{}", stdout(&v));
    assert!(
        stderr(&v).contains(&format!("correlation: {alerts} alerts;")),
        "{}",
        stderr(&v)
    );

    // The correlation is low: --min-level high shows none of its alerts, and says so.
    let high = hunt_with(
        &rules,
        &["--format", "jsonl", "-v", "--min-level", "high"],
        &[&input],
        &[],
    );
    assert!(!stdout(&high).contains("5c2c7a5e-0000-4000-8000-000000000003"));
    assert!(
        stderr(&high).contains("correlation: 0 alerts;"),
        "{}",
        stderr(&high)
    );
}

// 4. Japanese: levels and diagnostics translated, headers whole; CSV and JSONL keys English.
#[test]
fn item4_japanese_levels_and_diagnostics_with_english_csv_and_jsonl_keys() {
    let (_r, rules) = rules_dir();
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "events.json", &ndjson_events(&["whoami"]));
    let bad = damaged_evtx(dir.path());
    let o = hunt_with(
        &rules,
        &["--format", "table", "--no-pager"],
        &[&input, &bad],
        &[("COLUMNS", "100"), ("LANG", "ja_JP.UTF-8")],
    );
    let (out, err) = (stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{err}");
    let header = out.lines().next().unwrap();
    for h in ["日時", "ルール", "レベル", "ファイル:レコード"] {
        assert!(header.contains(h), "{header}");
    }
    assert!(!header.contains('…'), "no header clipped: {header}");
    assert!(out.lines().any(|l| l.contains("  高  ")), "{out}");
    assert!(out.lines().any(|l| l.contains("  低  ")), "{out}");
    assert!(err.contains("入力エラー: "), "{err}");
    assert!(err.contains("このファイルにほか 2 件"), "{err}");
    assert!(err.contains("破損したファイル 1 件"), "{err}");
    assert!(err.contains("レベル別検知数: 重大=0 高=1"), "{err}");
    assert!(!err.contains("input error"), "{err}");

    let csv = hunt_with(&rules, &["--lang", "ja", "--format", "csv"], &[&input], &[]);
    assert!(stdout(&csv).starts_with("Timestamp,Computer,Channel,EventID,Rule,Level,"));
    assert!(
        stdout(&csv).contains(",high,"),
        "levels stay English in CSV"
    );
    let jsonl = hunt_with(
        &rules,
        &["--lang", "ja", "--format", "jsonl"],
        &[&input],
        &[],
    );
    let d: serde_json::Value =
        serde_json::from_str(stdout(&jsonl).lines().next().unwrap()).unwrap();
    assert_eq!(d["level"], "high");
    assert!(d["rule_title"].is_string() && d["rule_id"].is_string());
    // A rule cache that cannot be written: a warning in Japanese too.
    let cache = hunt_with(
        &rules,
        &["--lang", "ja", "--format", "csv"],
        &[&input],
        &[("YAGURA_CACHE_DIR", "/dev/null/cache")],
    );
    assert!(
        stderr(&cache).contains("警告: ルールキャッシュ /dev/null/cache/"),
        "{}",
        stderr(&cache)
    );
}

/// Exit status 2 and exactly one line on stderr, containing `what`.
fn usage_error(o: &Output, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(what), "{err}");
}

// 5. Usage errors: exit 2 and one clear line.
#[test]
fn item5_usage_errors_exit_2_with_one_clear_line() {
    usage_error(
        &yagura(&["hunt", "/nonexistent/logs"]),
        "error: /nonexistent/logs: no such file or folder",
    );
    usage_error(
        &yagura(&["rules", "lint", "/nonexistent/rules"]),
        "error: /nonexistent/rules: no such file or folder",
    );
    let manifest = shared("sigma/regression/manifest.jsonl");
    usage_error(
        &yagura(&[
            "rules",
            "test",
            manifest.to_str().unwrap(),
            "--sigma-root",
            "/nonexistent/sigma",
        ]),
        "--sigma-root /nonexistent/sigma: no such folder",
    );
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "events.json", &ndjson_events(&["whoami"]));
    usage_error(
        &yagura(&[
            "hunt",
            "--from",
            "2024-02-01",
            "--to",
            "2024-01-01",
            input.to_str().unwrap(),
        ]),
        "error: --from is after --to",
    );
    let empty = tempfile::tempdir().unwrap();
    usage_error(
        &yagura(&["hunt", empty.path().to_str().unwrap()]),
        "error: no log files found in the inputs",
    );
    usage_error(
        &yagura(&["hunt", "--lang", "ja", "/nonexistent/logs"]),
        "エラー: /nonexistent/logs: そのようなファイルもフォルダもありません",
    );
}

// 6. File recognition: `[`-starting text .log, gzip of a text log, logs kept as .txt/.csv.
#[test]
fn item6_file_recognition_of_bracketed_logs_gzip_text_and_txt_csv_logs() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "odd_error.log",
        "[Sun Dec 04 04:47:44 2005] [notice] something this parser has never seen\n\
         [Sun Dec 04 04:47:45 2005] [error] and another odd line\n",
    );
    let ssh =
        std::fs::read_to_string(shared("data/linux-auth/loghub/OpenSSH/OpenSSH_2k.log")).unwrap();
    write(dir.path(), "auth.txt", &ssh);
    write(
        dir.path(),
        "ssh.csv",
        "LineId,Date,Time,Component,Content\n1,Dec 10,06:55:46,sshd,Failed password\n",
    );
    write(dir.path(), "notes.txt", "just some notes\nnothing to see\n");
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    write(&plain, "sshd.log", &ssh);
    let gz = dir.path().join("gz");
    std::fs::create_dir(&gz).unwrap();
    let enc = stored_gzip(ssh.as_bytes());
    std::fs::File::create(gz.join("sshd.log.gz"))
        .unwrap()
        .write_all(&enc)
        .unwrap();

    let o = yagura(&["hunt", "--format", "jsonl", dir.path().to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("input error"), "{err}");
    assert!(
        err.contains("auth.txt: a log in a .txt/.csv/.tsv file"),
        "{err}"
    );
    assert!(
        err.contains("ssh.csv: a log in a .txt/.csv/.tsv file"),
        "{err}"
    );
    assert!(!err.contains("notes.txt"), "prose still ignored: {err}");

    let rules_of = |p: &Path| -> Vec<String> {
        let o = yagura(&["hunt", "--format", "jsonl", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut v: Vec<String> = stdout(&o)
            .lines()
            .map(|l| {
                let d: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{} {}", d["rule_id"], d["record"])
            })
            .collect();
        v.sort();
        v
    };
    let (a, b) = (rules_of(&plain), rules_of(&gz));
    assert!(!a.is_empty());
    assert_eq!(a, b, "gzip of a text log is read like the plain file");
    // Named on the command line, a .txt log is read.
    let named = yagura(&[
        "hunt",
        "--format",
        "jsonl",
        dir.path().join("auth.txt").to_str().unwrap(),
    ]);
    assert_eq!(named.status.code(), Some(0));
    assert_eq!(stdout(&named).lines().count(), a.len());
}

// 7. JSONL `fields` is an object.
#[test]
fn item7_jsonl_fields_is_a_json_object() {
    let (_r, rules) = rules_dir();
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "events.json",
        &ndjson_events(&["whoami /all", "whoami"]),
    );
    let o = hunt_with(&rules, &["--format", "jsonl"], &[&input], &[]);
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hit = lines
        .iter()
        .find(|d| d["rule_id"] == "5c2c7a5e-0000-4000-8000-000000000002")
        .unwrap();
    assert_eq!(hit["fields"]["CommandLine"], "whoami /all", "{hit}");
    let alert = lines
        .iter()
        .find(|d| d["rule_id"] == "5c2c7a5e-0000-4000-8000-000000000003")
        .unwrap();
    assert_eq!(alert["fields"]["correlation"], "EventCount", "{alert}");
    assert_eq!(alert["fields"]["Computer"], "HOST1", "{alert}");
    // The CSV keeps the `k=v k=v` text.
    let csv = hunt_with(&rules, &["--format", "csv"], &[&input], &[]);
    assert!(
        stdout(&csv).contains("CommandLine=whoami /all"),
        "{}",
        stdout(&csv)
    );
}

// 8. docs/builtin-rules.md counts the pack as it is, and says correlation alerts carry file and
//    record.
#[test]
fn item8_builtin_rules_doc_counts_the_pack_as_it_is() {
    let lint = yagura(&[
        "rules",
        "lint",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../yagura-sigma/rules"),
    ]);
    let out = stdout(&lint);
    let correlations = out.lines().filter(|l| l.ends_with("(correlation)")).count();
    let loaded = out.lines().filter(|l| l.starts_with("loaded\t")).count();
    let doc = std::fs::read_to_string(Path::new(DOCS).join("builtin-rules.md")).unwrap();
    let expected = format!(
        "`{loaded} loaded, 0 rejected` ({} detection rules and {correlations} correlations)",
        loaded - correlations
    );
    assert!(
        doc.contains(&expected),
        "docs/builtin-rules.md should say {expected}"
    );
    assert!(
        !doc.contains("Correlation alerts carry no file name"),
        "stale limit"
    );
}

// 1 and 7: the README explains the first run (damaged samples, exit 1, compile time) with its
// first two command lines unchanged; hunt outputs are ignored by git.
#[test]
fn item1_item7_readme_explains_the_first_run_and_git_ignores_outputs() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let readme = std::fs::read_to_string(Path::new(root).join("README.md")).unwrap();
    let commands: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("```sh"))
        .skip(1)
        .take(2)
        .collect();
    assert!(commands[0].starts_with(
        "cargo run --release -- hunt ../shared/data/evtx --rules ../shared/sigma/rules"
    ));
    assert!(commands[1].starts_with("cargo test --workspace"));
    for phrase in [
        "deliberately damaged",
        "exit\nstatus 1",
        "two minutes",
        "--no-builtin",
    ] {
        assert!(readme.contains(phrase), "README: {phrase}");
    }
    let ignore = std::fs::read_to_string(Path::new(root).join(".gitignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "detections*.jsonl"), "{ignore}");
}

/// `script` runs `command` on a 40x100 pseudo-terminal, typing `keys` after 3 s; its output.
fn on_terminal(command: &str, keys: &str) -> Option<String> {
    let found = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !(found("script") && found("less") && found("stty")) {
        eprintln!("script, less or stty missing: pager test skipped");
        return None;
    }
    let shell = format!(
        "(sleep 3; printf '{keys}') | script -qec 'stty rows 40 cols 100; {command}; echo EXIT=$?' /dev/null"
    );
    let o = Command::new("sh")
        .args(["-c", &shell])
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("COLUMNS")
        .env("YAGURA_CACHE_DIR", TEST_CACHE)
        .output()
        .expect("sh runs");
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

// 2. On a terminal the table is paged through `less -FRX` (quitting after the first screen
//    ends the hunt quietly); `--no-pager` writes it all.
#[test]
fn item2_table_is_paged_on_a_terminal_and_not_with_no_pager() {
    let (_r, rules) = rules_dir();
    let hunt = format!(
        "{BIN} hunt --no-builtin --rules {rules} {}",
        shared(MANY).display()
    );
    let Some(paged) = on_terminal(&hunt, "q") else {
        return;
    };
    let rows = paged.matches("many-events-application.evtx:").count();
    assert!(rows > 10 && rows < 40, "one screen: {rows} rows\n{paged}");
    assert!(paged.contains("EXIT=0"), "{paged}");
    // Quitting at the first screen still shows the summary (it follows the pager).
    assert!(
        paged.contains("Detections: 2216"),
        "summary after q:\n{paged}"
    );
    let Some(all) = on_terminal(&format!("{hunt} --no-pager"), "") else {
        return;
    };
    assert_eq!(all.matches("many-events-application.evtx:").count(), 2216);
    assert!(all.contains("EXIT=0") && all.contains("Detections: 2216"));
}
