//! Reading real logs from the shared data set.

mod common;

use common::{count, read_file, shared};
use yagura_ingest::{discover, InputKind};

/// `records.tsv` lists, per EVTX file, the records and parse errors `evtx_dump` 0.15.1 reports.
fn reference() -> Vec<(String, u64, u64)> {
    let tsv = std::fs::read_to_string(shared("data/evtx/records.tsv")).unwrap();
    tsv.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (
                cols[0].to_string(),
                cols[2].parse().unwrap(),
                cols[4].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn evtx_record_and_error_counts_match_the_reference() {
    // All 596 files: clean ones, and dirty ones (bad chunk magic, bad records, zero-size event).
    let picked = reference();
    assert_eq!(picked.len(), 596);
    let mut with_errors = 0;
    for (rel, records, parse_errors) in picked {
        let path = shared(&format!("data/evtx/{rel}"));
        let (n, errors) = count(&path, InputKind::Evtx);
        assert_eq!(n, records, "{rel}: records");
        assert_eq!(errors.len() as u64, parse_errors, "{rel}: {errors:#?}");
        for e in &errors {
            assert_eq!(e.file, path.display().to_string());
            assert!(!e.reason.is_empty());
        }
        with_errors += usize::from(parse_errors > 0);
    }
    assert!(with_errors >= 4);
}

#[test]
fn evtx_bad_chunk_and_bad_records_are_located() {
    let path = shared("data/evtx/omerbenamram-evtx/samples/sample_with_a_bad_chunk_magic.evtx");
    let read = read_file(&path, InputKind::Evtx, 1);
    assert_eq!(read.docs.len(), 301);
    let text: Vec<String> = read.errors.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("chunk")),
        "a chunk-level error names the chunk: {text:#?}"
    );
    let sysmon = shared("data/evtx/omerbenamram-evtx/samples/sysmon.evtx");
    let read = read_file(&sysmon, InputKind::Evtx, 1);
    assert_eq!(read.docs.len(), 358);
    assert_eq!(read.errors.len(), 8);
    // Its last chunks are overwritten: each is reported by number, no record is invented.
    for (e, chunk) in read.errors.iter().zip(9..) {
        assert_eq!(e.record, None);
        assert!(e.reason.contains(&format!("chunk number {chunk}")), "{e}");
    }
}

#[test]
fn evtx_records_equal_their_evtx_dump_json_twins() {
    let dir = shared("sigma/regression/samples");
    let found = discover(&[dir]);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert!(found.skipped.is_empty(), "{:?}", found.skipped);
    let evtx: Vec<_> = found
        .files
        .iter()
        .filter(|f| f.kind == InputKind::Evtx)
        .collect();
    let json: Vec<_> = found
        .files
        .iter()
        .filter(|f| f.kind == InputKind::Json)
        .collect();
    assert_eq!((evtx.len(), json.len()), (202, 202));
    let mut events = 0;
    for file in evtx {
        let from_evtx = read_file(&file.path, InputKind::Evtx, 1);
        let twin = file.path.with_extension("json");
        let from_json = read_file(&twin, InputKind::Json, 1);
        assert!(from_evtx.errors.is_empty(), "{:?}", from_evtx.errors);
        assert!(from_json.errors.is_empty(), "{:?}", from_json.errors);
        assert_eq!(
            from_evtx.docs.len(),
            from_json.docs.len(),
            "{}",
            twin.display()
        );
        // SigmaHQ's twins are evtx_dump output lightly edited (GUID case and braces, trailing
        // spaces, 6-digit fractions): the same tree of keys and value types, same System values.
        for (a, b) in from_evtx.docs.iter().zip(&from_json.docs) {
            assert_eq!(
                shape(&a.2),
                shape(&b.2),
                "{} record {}",
                twin.display(),
                a.1
            );
            for key in ["EventID", "EventRecordID", "Channel", "Computer"] {
                assert_eq!(
                    a.2["Event"]["System"][key],
                    b.2["Event"]["System"][key],
                    "{} record {} {key}",
                    twin.display(),
                    a.1
                );
            }
        }
        // JSON objects are numbered from 1; the exported EVTX files renumber records from 1.
        let numbers: Vec<u64> = from_json.docs.iter().map(|d| d.1).collect();
        assert_eq!(numbers, (1..=numbers.len() as u64).collect::<Vec<_>>());
        events += from_json.docs.len();
    }
    assert!(events >= 202);
}

/// Every key path of `v` with the type of its value.
fn shape(v: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, child) in m {
                    walk(child, &format!("{path}/{k}"), out);
                }
            }
            serde_json::Value::Array(items) => {
                for child in items {
                    walk(child, &format!("{path}[]"), out);
                }
            }
            serde_json::Value::Null => out.push(format!("{path}=null")),
            serde_json::Value::Bool(_) => out.push(format!("{path}=bool")),
            serde_json::Value::Number(_) => out.push(format!("{path}=num")),
            serde_json::Value::String(_) => out.push(format!("{path}=str")),
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out.sort();
    out
}

#[test]
fn otrf_zip_entries_are_read_as_ndjson() {
    let path = shared(
        "data/otrf/datasets/atomic/windows/discovery/host/cmd_discover_iexplorer_version_registry.zip",
    );
    let read = read_file(&path, InputKind::Zip, 1);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert_eq!(read.docs.len(), 68);
    let (file, record, doc) = &read.docs[0];
    assert_eq!(
        *file,
        format!(
            "{}!cmd_discover_iexplorer_version_registry_2020-10-2123281491.json",
            path.display()
        )
    );
    assert_eq!(*record, 1);
    assert!(doc.get("EventID").is_some() && doc.get("Hostname").is_some());
    assert_eq!(read.docs[67].1, 68);
}

#[test]
fn discovery_finds_zips_by_magic_and_ignores_docs() {
    let dir = shared("data/otrf/datasets/compound/GoldenSAMLADFSMailAccess");
    let found = discover(std::slice::from_ref(&dir));
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let zips: Vec<_> = found
        .files
        .iter()
        .filter(|f| f.kind == InputKind::Zip)
        .collect();
    assert_eq!(zips.len(), 4, "the four .Zip files: {:?}", found.files);
    let mut sorted = found.files.clone();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    assert_eq!(sorted, found.files, "walk order is name order");
    let windows = dir.join("WindowsEvents.Zip");
    let read = read_file(&windows, InputKind::Zip, 1);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert_eq!(read.docs.len(), 38);

    // The EVTX folder holds .evtx files, READMEs, LICENSEs and a .tsv: only the logs are kept.
    let found = discover(&[shared("data/evtx/DeepBlueCLI")]);
    assert!(found.errors.is_empty() && found.skipped.is_empty());
    assert_eq!(found.files.len(), 23);
    assert!(found.files.iter().all(|f| f.kind == InputKind::Evtx));
}

#[test]
fn discovery_reports_missing_and_unsupported_named_files() {
    let found = discover(&[shared("no/such/file.evtx"), shared("data/evtx/records.tsv")]);
    assert!(found.files.is_empty());
    assert_eq!(found.errors.len(), 2, "{:?}", found.errors);
    assert!(found.errors[0].reason.starts_with("cannot open"));
    assert!(found.errors[1].reason.contains("supported"));
}
