//! `yagura hunt --store`: retro hunting the events `yagura import` stored gives the same
//! detections, rule by rule, as hunting the files they came from (text logs through the ECS
//! plan, EVTX records through the Windows plan), each naming its stored event (`store:SEQ`);
//! `--from/--to` restrict the hunted events.

mod common;

use common::{shared, stderr};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_yagura");
const TEST_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/rule-cache");

/// A fresh temp folder for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hunt_store-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(args: &[&str], paths: &[&Path]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .args(paths)
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env("YAGURA_CACHE_DIR", TEST_CACHE)
        .output()
        .expect("the binary runs")
}

/// `yagura import --data-dir DATA PATHS`.
fn import(data: &Path, paths: &[&Path]) {
    let out = run(&["import", "--data-dir", data.to_str().unwrap()], paths);
    assert!(out.status.success(), "import: {}", stderr(&out));
}

/// `yagura hunt ARGS PATHS --rules ../shared/sigma/rules --summary-json ...`: the summary
/// JSON and the timeline (JSON lines).
fn hunt(dir: &Path, tag: &str, args: &[&str], paths: &[&Path]) -> (serde_json::Value, Vec<String>) {
    let summary = dir.join(format!("{tag}.summary.json"));
    let timeline = dir.join(format!("{tag}.jsonl"));
    let rules = shared("sigma/rules");
    let mut all = vec!["hunt"];
    all.extend_from_slice(args);
    all.extend_from_slice(&[
        "--rules",
        rules.to_str().unwrap(),
        "--no-pager",
        "--summary-json",
        summary.to_str().unwrap(),
        "--output",
        timeline.to_str().unwrap(),
    ]);
    let out = run(&all, paths);
    assert!(out.status.success(), "hunt {tag}: {}", stderr(&out));
    let json = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let lines = std::fs::read_to_string(&timeline)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    (json, lines)
}

/// Detections per rule (`id title` → count) of a summary JSON.
fn per_rule(summary: &serde_json::Value) -> BTreeMap<String, u64> {
    summary["by_rule"]
        .as_array()
        .expect("by_rule")
        .iter()
        .map(|r| {
            (
                format!(
                    "{} {}",
                    r["id"].as_str().unwrap(),
                    r["rule"].as_str().unwrap()
                ),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The timeline lines without where the event is (file, record), sorted.
fn without_location(lines: &[String]) -> Vec<String> {
    let mut v: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut o: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(l).unwrap();
            o.remove("file");
            o.remove("record");
            serde_json::Value::Object(o).to_string()
        })
        .collect();
    v.sort();
    v
}

/// Hunts `paths` as files and, imported, as a store: the same detections, rule by rule and
/// event by event (but for their location). Returns the store hunt's summary.
fn same_as_files(name: &str, paths: &[&Path]) -> serde_json::Value {
    let dir = temp_dir(name);
    let data = dir.join("data");
    import(&data, paths);
    let (files, files_timeline) = hunt(&dir, "files", &[], paths);
    let (store, store_timeline) = hunt(&dir, "store", &["--store", data.to_str().unwrap()], &[]);
    let (a, b) = (per_rule(&files), per_rule(&store));
    assert!(!a.is_empty(), "{name}: the file hunt detects something");
    assert_eq!(a, b, "{name}: per-rule counts, files vs store");
    assert_eq!(files["detections"], store["detections"]);
    assert_eq!(files["by_level"], store["by_level"]);
    assert_eq!(files["events"], store["events"], "{name}: events hunted");
    assert_eq!(
        without_location(&files_timeline),
        without_location(&store_timeline),
        "{name}: timelines"
    );
    for l in &store_timeline {
        let d: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(d["file"], "store", "{l}");
        assert!(d["record"].as_u64().is_some_and(|seq| seq > 0), "{l}");
    }
    store
}

#[test]
fn text_logs_from_the_store_as_from_files() {
    let auth = shared("data/linux-auth");
    let web = shared("data/web-access");
    same_as_files("text", &[&auth, &web]);
}

#[test]
fn evtx_from_the_store_as_from_files() {
    let uac =
        shared("data/evtx/EVTX-ATTACK-SAMPLES/Defense Evasion/DE_UAC_Disabled_Sysmon_12_13.evtx");
    let msxsl = shared("data/evtx/EVTX-ATTACK-SAMPLES/Execution/exec_msxsl_xsl_sysmon_1_7.evtx");
    let store = same_as_files("evtx", &[&uac, &msxsl]);
    let rules = per_rule(&store);
    assert!(
        rules.keys().any(|k| k.ends_with(" UAC Disabled")),
        "{rules:?}"
    );
    assert!(
        rules.keys().any(|k| k.ends_with(" Msxsl.EXE Execution")),
        "{rules:?}"
    );
}

#[test]
fn from_and_to_restrict_the_stored_events() {
    let dir = temp_dir("range");
    let data = dir.join("data");
    let auth = shared("data/linux-auth");
    import(&data, &[&auth]);
    let store = ["--store", data.to_str().unwrap()];
    let (all, _) = hunt(&dir, "all", &store, &[]);
    assert!(all["detections"].as_u64().unwrap() > 0);
    assert!(all["events"].as_u64().unwrap() > 0);

    // Long before and long after every sample: nothing read, nothing detected.
    for (tag, from, to) in [
        ("before", "1990-01-01", "1990-12-31"),
        ("after", "2090-01-01", "2090-12-31"),
    ] {
        let mut args = store.to_vec();
        args.extend_from_slice(&["--from", from, "--to", to]);
        let (none, timeline) = hunt(&dir, tag, &args, &[]);
        assert_eq!(none["detections"], 0, "{tag}");
        assert_eq!(none["events"], 0, "{tag}");
        assert!(timeline.is_empty(), "{tag}");
    }

    // One day of the timeline: only that day's detections, and fewer events.
    let (_, timeline) = hunt(&dir, "all-again", &store, &[]);
    let day = timeline
        .iter()
        .filter_map(|l| {
            let d: serde_json::Value = serde_json::from_str(l).ok()?;
            Some(d["timestamp"].as_str()?.get(..10)?.to_owned())
        })
        .next()
        .expect("a detection with a time");
    let mut args = store.to_vec();
    args.extend_from_slice(&["--from", &day, "--to", &day]);
    let (one_day, timeline) = hunt(&dir, "one-day", &args, &[]);
    assert!(one_day["events"].as_u64().unwrap() < all["events"].as_u64().unwrap());
    assert!(!timeline.is_empty());
    for l in &timeline {
        let d: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(d["timestamp"].as_str().unwrap().starts_with(&day), "{l}");
    }
}

#[test]
fn store_and_paths_are_exclusive_and_a_missing_store_is_a_usage_error() {
    let dir = temp_dir("usage");
    let auth = shared("data/linux-auth");
    let out = run(
        &["hunt", "--store", dir.to_str().unwrap(), "--no-pager"],
        &[&auth],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let missing = dir.join("nothing-here");
    let out = run(
        &["hunt", "--store", missing.to_str().unwrap(), "--no-pager"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
