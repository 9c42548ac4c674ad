//! End-to-end tests of `yagura rules test` and `yagura hunt` on real data (`../shared`) and on
//! damaged inputs made at test time.

mod common;

use common::{shared, stderr, stdout, write, CHUNK, HEADER, MANY};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_yagura");
/// Anydesk artefact regression sample: 5 events, 3 match the rule below.
const ANYDESK_ID: &str = "0b9ad457-2554-44c1-82c2-d56a99c42377";

/// Rule caches of the tests: kept out of the user's cache folder.
const TEST_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/rule-cache");

fn yagura(args: &[&str]) -> Output {
    yagura_with_cache(args, Path::new(TEST_CACHE))
}

fn yagura_with_cache(args: &[&str], cache: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env("YAGURA_CACHE_DIR", cache)
        .output()
        .expect("the binary runs")
}

/// The JSON lines of a `--format jsonl` timeline.
fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every timeline line is JSON"))
        .collect()
}

/// Manifest lines of the real regression manifest whose rule id is one of `ids`, with `sample`
/// made absolute (it is relative to the manifest folder).
fn manifest_lines(ids: &[&str], wrong_count: bool) -> String {
    let text = std::fs::read_to_string(shared("sigma/regression/manifest.jsonl")).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if !ids.contains(&v["rule_id"].as_str().unwrap()) {
            continue;
        }
        let sample = shared("sigma/regression").join(v["sample"].as_str().unwrap());
        v["sample"] = sample.display().to_string().into();
        if wrong_count {
            v["match_count"] = (v["match_count"].as_u64().unwrap() + 1).into();
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

const REGRESSION_IDS: &[&str] = &[ANYDESK_ID, "271de298-cc0e-4842-acd8-079a0a99ea65"];

/// `yagura rules test MANIFEST --sigma-root ../shared/sigma`.
fn rules_test(manifest: &Path) -> Output {
    let root = shared("sigma");
    yagura(&[
        "rules",
        "test",
        manifest.to_str().unwrap(),
        "--sigma-root",
        root.to_str().unwrap(),
    ])
}

#[test]
fn rules_test_passes_on_manifest_lines() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(
        dir.path(),
        "m.jsonl",
        &manifest_lines(REGRESSION_IDS, false),
    );
    let o = rules_test(&manifest);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("PASS file_event_win_anydesk_artefact: Positive Detection Test (3/3)"));
    assert!(out.ends_with("4 passed, 0 failed\n"), "{out}");
}

#[test]
fn rules_test_fails_on_a_wrong_count() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write(dir.path(), "m.jsonl", &manifest_lines(&[ANYDESK_ID], true));
    let o = rules_test(&manifest);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(
        "FAIL file_event_win_anydesk_artefact: Positive Detection Test: got 3, expected 4"
    ));
    assert!(out.ends_with("0 passed, 2 failed\n"), "{out}");
}

fn anydesk_hunt(extra: &[&str]) -> Output {
    let sample = shared(&format!("sigma/regression/samples/{ANYDESK_ID}.evtx"));
    let rules = shared("sigma/rules/windows/file/file_event");
    let mut args = vec![
        "hunt",
        "--no-builtin",
        "--rules",
        rules.to_str().unwrap(),
        "--format",
        "jsonl",
        sample.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    yagura(&args)
}

#[test]
fn hunt_finds_the_regression_detections() {
    let o = anydesk_hunt(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let hits: Vec<_> = lines
        .iter()
        .filter(|d| d["rule_id"] == ANYDESK_ID)
        .collect();
    assert_eq!(hits.len(), 3, "{lines:?}");
    let d = hits[0];
    assert_eq!(d["rule_title"], "Anydesk Temporary Artefact");
    assert_eq!(d["level"], "medium");
    assert_eq!(d["event_id"], 11);
    assert_eq!(d["computer"], "ar-win-dc.attackrange.local");
    assert_eq!(d["timestamp"], "2025-10-24T23:34:34.649Z");
    assert!(d["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "attack.t1219.002"));
    assert!(d["fields"]["Image"].as_str().unwrap().ends_with(".exe"));
    assert!(d["file"].as_str().unwrap().ends_with(".evtx"));
    let times: Vec<_> = lines.iter().map(|d| d["timestamp"].to_string()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "sorted by time");
    let err = stderr(&o);
    assert!(
        err.contains("Detections: 3") && err.contains("Events: 5"),
        "{err}"
    );
}

#[test]
fn hunt_reuses_the_rule_cache_and_sees_changed_rules() {
    let cache = tempfile::tempdir().unwrap();
    let rules = tempfile::tempdir().unwrap();
    let rule = "file_event_win_anydesk_artefact.yml";
    let original =
        std::fs::read_to_string(shared("sigma/rules/windows/file/file_event").join(rule)).unwrap();
    let rule_path = write(rules.path(), rule, &original);
    let sample = shared(&format!("sigma/regression/samples/{ANYDESK_ID}.evtx"));
    let hunt = |extra: &[&str]| {
        let mut args = vec!["hunt", "--no-builtin", "--rules"];
        args.push(rules.path().to_str().unwrap());
        args.extend_from_slice(&["--format", "jsonl", sample.to_str().unwrap()]);
        args.extend_from_slice(extra);
        let o = yagura_with_cache(&args, cache.path());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        json_lines(&o)
    };
    let cache_files = || -> Vec<(PathBuf, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect();
        v.sort();
        v
    };

    let cold = hunt(&[]);
    assert_eq!(cold.len(), 3);
    let written = cache_files();
    assert_eq!(written.len(), 1, "one cache file for this rules folder");
    let warm = hunt(&[]);
    assert_eq!(warm, cold, "the cached rule gives the same detections");
    assert_eq!(
        cache_files(),
        written,
        "a fully used cache is not rewritten"
    );

    // An edited rule is parsed again, not served stale from the cache.
    std::fs::write(&rule_path, original.replace("level: medium", "level: high")).unwrap();
    let edited = hunt(&[]);
    assert_eq!(edited.len(), 3);
    assert!(edited.iter().all(|d| d["level"] == "high"), "{edited:?}");
    assert_eq!(hunt(&["--no-rule-cache"]), edited);
    assert_ne!(
        cache_files(),
        written,
        "the cache now holds the edited rule"
    );
}

#[test]
fn hunt_min_level_and_time_range_filter() {
    let high = json_lines(&anydesk_hunt(&["--min-level", "high"]));
    assert!(high
        .iter()
        .all(|d| d["level"] == "high" || d["level"] == "critical"));
    assert!(!high.iter().any(|d| d["rule_id"] == ANYDESK_ID));
    let later = json_lines(&anydesk_hunt(&["--from", "2025-10-24T23:34:34.650Z"]));
    assert_eq!(
        later.iter().filter(|d| d["rule_id"] == ANYDESK_ID).count(),
        2
    );
    let before = json_lines(&anydesk_hunt(&["--to", "2025-10-23"]));
    assert!(before.is_empty());
    let bad = anydesk_hunt(&["--from", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn hunt_csv_and_japanese_labels() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.csv");
    // The output file's .csv extension chooses CSV (the helper asks for jsonl: not used here).
    let sample = shared(&format!("sigma/regression/samples/{ANYDESK_ID}.evtx"));
    let rules = shared("sigma/rules/windows/file/file_event");
    let o = yagura(&[
        "hunt",
        "--no-builtin",
        "--rules",
        rules.to_str().unwrap(),
        "--lang",
        "ja",
        "-o",
        out.to_str().unwrap(),
        sample.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let csv = std::fs::read_to_string(&out).unwrap();
    // CSV columns are for scripts: English whatever the language of the labels.
    assert!(csv.starts_with("Timestamp,Computer,"), "{csv}");
    assert_eq!(csv.lines().filter(|l| l.contains(ANYDESK_ID)).count(), 3);
    assert!(
        stdout(&o).contains("検知数: 3"),
        "summary on stdout when -o is given"
    );
}

#[test]
fn help_documents_exit_status() {
    let o = yagura(&["hunt", "--help"]);
    let help = stdout(&o);
    assert!(help.contains("Exit status") && help.contains("some input could not be read"));
}

/// A rule matching every Application event, and one matching the test NDJSON events.
const BROAD_RULES: &str = r#"
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
level: high
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
    selection: {CommandLine|contains: whoami}
    condition: selection
"#;

fn broad_hunt(input: &Path) -> (Output, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broad.yml", BROAD_RULES);
    let o = yagura(&[
        "hunt",
        "--no-builtin",
        "--rules",
        dir.path().to_str().unwrap(),
        "--format",
        "jsonl",
        input.to_str().unwrap(),
    ]);
    let lines = json_lines(&o);
    (o, lines)
}

/// Writes a damaged copy of a sample, hunts it, asserts exit status 1 (input errors) and returns
/// stderr and the detections.
fn hunt_damaged(name: &str, bytes: &[u8]) -> (String, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let (o, lines) = broad_hunt(&path);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    (err, lines)
}

#[test]
fn truncated_evtx_is_reported_and_the_rest_detected() {
    let bytes = std::fs::read(shared(MANY)).unwrap();
    let (err, lines) = hunt_damaged("cut.evtx", &bytes[..HEADER + 3 * CHUNK + 30_000]);
    assert!(
        err.contains("cut.evtx") && err.contains("truncated"),
        "{err}"
    );
    assert!(lines.len() > 100 && lines.len() < 2216, "{}", lines.len());
    assert!(lines.iter().all(|d| d["channel"] == "Application"));
}

#[test]
fn corrupt_evtx_chunk_is_reported_and_the_other_chunks_detected() {
    let mut bytes = std::fs::read(shared(MANY)).unwrap();
    let at = HEADER + CHUNK;
    bytes[at..at + 8].fill(0); // chunk 1 magic
    let (err, lines) = hunt_damaged("bad-chunk.evtx", &bytes);
    assert!(
        err.contains("bad-chunk.evtx") && err.contains("chunk"),
        "{err}"
    );
    assert!(lines.len() > 1000 && lines.len() < 2216, "{}", lines.len());
}

/// NDJSON lines in the `evtx_dump` shape: process creations running `cmd`.
fn ndjson_events(cmds: &[&str]) -> Vec<String> {
    cmds.iter()
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
        .collect()
}

#[test]
fn malformed_ndjson_line_is_reported_and_the_rest_detected() {
    let mut lines = ndjson_events(&["whoami /all", "dir", "whoami"]);
    lines.insert(1, "{\"Event\": {broken".into());
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "events.ndjson", &(lines.join("\n") + "\n"));
    let (o, found) = broad_hunt(&p);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("events.ndjson: record 2"), "{err}");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|d| d["rule_title"] == "Whoami run"));
    assert_eq!(found[0]["record"], 1);
    assert_eq!(found[1]["record"], 4);
}

/// `events` pretty-printed as a JSON array (or back to back), one value damaged by `damage`.
fn pretty_events(events: &[String], array: bool, damaged: usize, damage: &str) -> String {
    let values: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let v: serde_json::Value = serde_json::from_str(e).unwrap();
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            if i == damaged {
                // Cut the value after `damage`'s first occurrence.
                let at = pretty.find(damage).unwrap() + damage.len();
                pretty[..at].to_owned()
            } else {
                pretty
            }
        })
        .collect();
    if array {
        format!("[\n{}\n]\n", values.join(",\n"))
    } else {
        values.join("\n") + "\n"
    }
}

#[test]
fn damaged_values_in_json_arrays_and_pretty_objects_are_skipped() {
    let events = ndjson_events(&["whoami /all", "whoami /priv", "whoami /groups"]);
    for array in [true, false] {
        // The second value is cut inside its CommandLine string.
        let text = pretty_events(&events, array, 1, "\"CommandLine\": \"who");
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "events.json", &text);
        let (o, found) = broad_hunt(&p);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("events.json: record 2"), "{err}");
        let records: Vec<_> = found.iter().map(|d| d["record"].clone()).collect();
        assert_eq!(records, [1, 3], "array={array}: {found:?}");
    }
}

#[test]
fn zip_with_a_non_json_entry_is_reported_and_the_rest_detected() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("logs.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("notes.json", opts).unwrap();
    zip.write_all(b"this is not JSON at all\n").unwrap();
    zip.start_file("good.json", opts).unwrap();
    zip.write_all(ndjson_events(&["whoami"]).join("\n").as_bytes())
        .unwrap();
    zip.finish().unwrap();
    let (o, found) = broad_hunt(&p);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("logs.zip!notes.json"), "{err}");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("logs.zip!good.json"));
}

#[test]
fn many_detections_are_sorted_through_spilled_runs() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "broad.yml", BROAD_RULES);
    let run = |buffer: &str| {
        yagura(&[
            "hunt",
            "--no-builtin",
            "--rules",
            dir.path().to_str().unwrap(),
            "--format",
            "jsonl",
            "--sort-buffer",
            buffer,
            "--threads",
            "2",
            shared(MANY).to_str().unwrap(),
            shared("data/evtx/DeepBlueCLI/evtx/new-user-security.evtx")
                .to_str()
                .unwrap(),
        ])
    };
    let spilled = run("100");
    let in_memory = run("1000000");
    assert_eq!(spilled.status.code(), Some(0), "{}", stderr(&spilled));
    assert_eq!(stdout(&spilled), stdout(&in_memory));
    let lines = json_lines(&spilled);
    assert_eq!(lines.len(), 2216);
    let times: Vec<_> = lines.iter().map(|d| d["timestamp"].to_string()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

/// The whole regression manifest (404 lines); run in CI with `--release -- --ignored`.
#[test]
#[ignore]
fn full_regression_manifest() {
    let o = yagura(&[
        "rules",
        "test",
        shared("sigma/regression/manifest.jsonl").to_str().unwrap(),
        "--sigma-root",
        shared("sigma").to_str().unwrap(),
        "--quiet",
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.ends_with("404 passed, 0 failed\n"), "{out}");
}

#[test]
fn lint_lists_every_document_loaded_or_rejected_in_file_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a_good.yml",
        "title: Good rule\nid: 6f1c0000-0000-4000-8000-000000000001\nname: good\n\
         logsource: {product: windows, service: security}\n\
         detection:\n  sel: {EventID: 4625}\n  condition: sel\n---\n\
         title: Many goods\nid: 6f1c0000-0000-4000-8000-000000000002\ncorrelation:\n  \
         type: event_count\n  rules: [good]\n  timespan: 1m\n  condition: {gte: 2}\n",
    );
    write(
        dir.path(),
        "b_bad.yml",
        "title: Bad rule\nid: 6f1c0000-0000-4000-8000-000000000003\n\
         logsource: {product: windows}\n\
         detection:\n  sel: {CommandLine|nosuchmodifier: x}\n  condition: sel\n",
    );
    let o = yagura(&["rules", "lint", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a rejection sets exit status 1");
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("loaded\t") && lines[0].contains("a_good.yml"));
    assert!(lines[0].contains("6f1c0000-0000-4000-8000-000000000001\tGood rule"));
    assert!(lines[1].starts_with("loaded\t") && lines[1].contains("Many goods (correlation)"));
    assert!(lines[2].starts_with("rejected\t") && lines[2].contains("b_bad.yml"));
    assert!(lines[2].contains("6f1c0000-0000-4000-8000-000000000003"));
    assert!(lines[2].contains("nosuchmodifier"), "{}", lines[2]);
    assert_eq!(lines.last(), Some(&"2 loaded, 1 rejected"));

    let quiet = stdout(&yagura(&[
        "rules",
        "lint",
        "-q",
        dir.path().to_str().unwrap(),
    ]));
    assert!(!quiet.contains("loaded\t"), "{quiet}");
    assert!(quiet.contains("rejected\t") && quiet.ends_with("2 loaded, 1 rejected\n"));
}
