//! Normalizing real documents from the shared data set.

use std::path::{Path, PathBuf};

use serde_json::Value;
use yagura_event::{Kind, Record};
use yagura_ingest::{InputFile, InputKind, Item, ReadOptions};
use yagura_normalize::{detect_shape, flatten, flatten_windows, EventMeta, Shape};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

fn shared(rel: &str) -> PathBuf {
    Path::new(SHARED).join(rel)
}

/// Every document of a file, read with `yagura-ingest`.
fn docs(path: PathBuf, kind: InputKind) -> Vec<Value> {
    let mut out = Vec::new();
    InputFile { path, kind }.read(&ReadOptions::default(), &mut |item| match item {
        Item::Doc { doc, .. } => out.push(doc.clone()),
        Item::Error(e) => panic!("{e}"),
    });
    out
}

fn value<'a>(rec: &'a Record, key: &str) -> (&'a str, Kind) {
    let f = rec
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {rec:?}"));
    (f.value, f.kind)
}

const SYSMON_SAMPLE: &str = "sigma/regression/samples/0022869c-49f7-4ff2-ba03-85ac42ddac58";

#[test]
fn sysmon_sample_json_gets_sigma_names() {
    let docs = docs(shared(&format!("{SYSMON_SAMPLE}.json")), InputKind::Json);
    let mut rec = Record::new();
    let (shape, meta) = flatten(&docs[0], &mut rec).unwrap();
    assert_eq!(shape, Shape::EvtxXml);
    assert_eq!(
        value(&rec, "Image"),
        (r"C:\Windows\System32\reg.exe", Kind::Str)
    );
    assert!(value(&rec, "CommandLine").0.starts_with("reg  query"));
    assert_eq!(value(&rec, "EventID"), ("1", Kind::Num));
    assert_eq!(
        value(&rec, "Channel").0,
        "Microsoft-Windows-Sysmon/Operational"
    );
    assert_eq!(value(&rec, "Computer").0, "ar-win-dc.attackrange.local");
    assert_eq!(value(&rec, "Provider_Name").0, "Microsoft-Windows-Sysmon");
    assert_eq!(
        value(&rec, "Provider_Guid").0,
        "5770385F-C22A-43E0-BF4C-06F5698FFBD9"
    );
    assert_eq!(value(&rec, "Security_UserID").0, "S-1-5-18");
    assert_eq!(value(&rec, "Execution_ProcessID"), ("3308", Kind::Num));
    assert_eq!(value(&rec, "Execution_ThreadID"), ("4008", Kind::Num));
    assert_eq!(
        value(&rec, "TimeCreated_SystemTime").0,
        "2025-10-25T13:44:33.440907Z"
    );
    assert_eq!(value(&rec, "EventRecordID"), ("8999629", Kind::Num));
    assert_eq!(value(&rec, "ProcessId"), ("7112", Kind::Num));
    assert_eq!(value(&rec, "Keywords").0, "0x8000000000000000");
    assert!(rec.get("xmlns").is_none() && rec.get("Event").is_none());
    assert_eq!(
        meta,
        EventMeta {
            timestamp: Some(1_761_399_873_440),
            computer: "ar-win-dc.attackrange.local".into(),
            channel: "Microsoft-Windows-Sysmon/Operational".into(),
            event_id: Some(1),
            record_id: Some(8_999_629),
        }
    );
}

#[test]
fn evtx_records_and_their_json_twins_give_the_same_names() {
    let from_evtx = docs(shared(&format!("{SYSMON_SAMPLE}.evtx")), InputKind::Evtx);
    let from_json = docs(shared(&format!("{SYSMON_SAMPLE}.json")), InputKind::Json);
    let (mut a, mut b) = (Record::new(), Record::new());
    let (_, meta_a) = flatten(&from_evtx[0], &mut a).unwrap();
    let (_, meta_b) = flatten(&from_json[0], &mut b).unwrap();
    let keys = |r: &Record| {
        r.fields()
            .map(|f| (f.key.to_owned(), f.kind))
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(value(&a, "Image"), value(&b, "Image"));
    assert_eq!(meta_a.event_id, meta_b.event_id);
    assert_eq!(meta_a.timestamp, meta_b.timestamp); // 7-digit vs 6-digit fraction, same ms
}

#[test]
fn defender_threat_name_loses_its_space() {
    let docs = docs(
        shared("sigma/regression/samples/a7c3e5f2-8b1d-4e9a-b6c2-3d7f5e8a9b4c.json"),
        InputKind::Json,
    );
    let mut rec = Record::new();
    flatten(&docs[0], &mut rec).unwrap();
    assert_eq!(value(&rec, "ThreatName").0, "Tool:Win32/EICAR_Test_File");
    assert_eq!(value(&rec, "SeverityName").0, "Severe");
    assert!(rec.fields().all(|f| !f.key.contains(' ')), "{rec:?}");
}

#[test]
fn user_data_is_flattened_by_leaf_names() {
    let docs = docs(
        shared("sigma/regression/samples/d4f1a2b3-7c8e-4d5f-b6a9-1e0c2d3f4e5b.json"),
        InputKind::Json,
    );
    let mut rec = Record::new();
    flatten(&docs[0], &mut rec).unwrap();
    assert_eq!(value(&rec, "ClientMachine").0, "SWACHCHHANDA");
    assert_eq!(value(&rec, "ClientProcessId"), ("25920", Kind::Num));
    assert!(value(&rec, "Operation").0.ends_with("::cleareventlog"));
    assert!(rec.get("xmlns").is_none());
}

#[test]
fn otrf_nxlog_lines_get_the_same_names() {
    let path = shared(
        "data/otrf/datasets/atomic/windows/discovery/host/cmd_discover_iexplorer_version_registry.zip",
    );
    let docs = docs(path, InputKind::Zip);
    let mut rec = Record::new();
    let mut sysmon_1 = 0;
    for doc in &docs {
        assert_eq!(detect_shape(doc), Shape::Nxlog);
        let (_, meta) = flatten(doc, &mut rec).unwrap();
        assert!(meta.timestamp.is_some());
        assert!(!meta.computer.is_empty());
        assert_eq!(value(&rec, "Computer").0, meta.computer);
        assert_eq!(value(&rec, "EventID").1, Kind::Num);
        assert!(rec.get("Hostname").is_none() && rec.get("SourceName").is_none());
        if meta.channel == "Microsoft-Windows-Sysmon/Operational" && meta.event_id == Some(1) {
            sysmon_1 += 1;
            assert_eq!(value(&rec, "Provider_Name").0, "Microsoft-Windows-Sysmon");
            assert!(value(&rec, "Image").0.ends_with(".exe"));
            assert!(!value(&rec, "CommandLine").0.is_empty());
            assert_eq!(value(&rec, "Channel").0, meta.channel);
        }
    }
    assert!(sysmon_1 > 0, "the data set has Sysmon process creations");
}

#[test]
fn otrf_nxlog_system_fields_are_renamed() {
    // This data set's lines carry NXLog's System fields (RecordNumber, ExecutionProcessID, ..).
    let path = shared("data/otrf/datasets/atomic/windows/collection/host/msf_record_mic.zip");
    let mut rec = Record::new();
    let mut checked = 0;
    InputFile {
        path,
        kind: InputKind::Zip,
    }
    .read(&ReadOptions::default(), &mut |item| {
        let Item::Doc { doc, .. } = item else {
            panic!("{item:?}")
        };
        if checked >= 50 || doc.get("RecordNumber").is_none() {
            return;
        }
        let (shape, meta) = flatten(doc, &mut rec).unwrap();
        assert_eq!(shape, Shape::Nxlog);
        assert_eq!(
            Some(value(&rec, "EventRecordID").0.parse().unwrap()),
            meta.record_id
        );
        assert_eq!(value(&rec, "Execution_ProcessID").1, Kind::Num);
        assert!(rec.get("Provider_Guid").is_some());
        assert!(rec.get("RecordNumber").is_none() && rec.get("ExecutionProcessID").is_none());
        // @timestamp (UTC) wins over NXLog's EventTime (the host's local time).
        assert_eq!(
            meta.timestamp,
            doc["@timestamp"]
                .as_str()
                .and_then(yagura_normalize::parse_timestamp)
        );
        checked += 1;
    });
    assert_eq!(checked, 50);
}

#[test]
fn nxlog_event_time_is_read_as_utc_when_there_is_no_timestamp() {
    let doc = serde_json::json!({
        "EventID": "4688", "Hostname": "WS1", "Channel": "Security",
        "EventTime": "2020-06-09 22:50:54", "New Process Name": "C:\\x.exe",
        "RecordNumber": 7
    });
    let mut rec = Record::new();
    let (shape, meta) = flatten(&doc, &mut rec).unwrap();
    assert_eq!(shape, Shape::Nxlog);
    assert_eq!(meta.timestamp, Some(1_591_743_054_000));
    assert_eq!((meta.event_id, meta.record_id), (Some(4688), Some(7)));
    assert_eq!(value(&rec, "EventID"), ("4688", Kind::Num));
    assert_eq!(value(&rec, "NewProcessName").0, "C:\\x.exe");
    assert_eq!(value(&rec, "EventRecordID"), ("7", Kind::Num));
}

#[test]
fn winlogbeat_maps_to_the_same_names() {
    let doc = serde_json::json!({
        "@timestamp": "2023-03-01T10:00:00.123Z",
        "host": {"name": "ws1.corp"},
        "event": {"code": "1", "kind": "event"},
        "winlog": {
            "event_id": "1", "channel": "Microsoft-Windows-Sysmon/Operational",
            "computer_name": "WS1.corp.local", "provider_name": "Microsoft-Windows-Sysmon",
            "provider_guid": "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}", "record_id": 1234,
            "process": {"pid": 3308, "thread": {"id": 4008}},
            "user": {"identifier": "S-1-5-18", "name": "SYSTEM"},
            "api": "wineventlog",
            "event_data": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami",
                           "Threat Name": "x"}
        }
    });
    let mut rec = Record::new();
    let (shape, meta) = flatten(&doc, &mut rec).unwrap();
    assert_eq!(shape, Shape::Winlogbeat);
    assert_eq!(value(&rec, "EventID"), ("1", Kind::Num));
    assert_eq!(value(&rec, "Image").0, "C:\\Windows\\System32\\cmd.exe");
    assert_eq!(value(&rec, "CommandLine").0, "cmd /c whoami");
    assert_eq!(value(&rec, "ThreatName").0, "x");
    assert_eq!(value(&rec, "Computer").0, "WS1.corp.local");
    assert_eq!(value(&rec, "Provider_Name").0, "Microsoft-Windows-Sysmon");
    assert_eq!(value(&rec, "EventRecordID"), ("1234", Kind::Num));
    assert_eq!(value(&rec, "Execution_ProcessID"), ("3308", Kind::Num));
    assert_eq!(value(&rec, "Execution_ThreadID"), ("4008", Kind::Num));
    assert_eq!(value(&rec, "Security_UserID").0, "S-1-5-18");
    assert_eq!(value(&rec, "winlog.user.name").0, "SYSTEM");
    assert_eq!(value(&rec, "winlog.api").0, "wineventlog");
    assert_eq!(value(&rec, "host.name").0, "ws1.corp");
    assert_eq!(meta.timestamp, Some(1_677_664_800_123));
    assert_eq!(meta.computer, "WS1.corp.local");
    assert_eq!(meta.event_id, Some(1));
}

#[test]
fn unnamed_event_data_and_qualified_event_ids() {
    let doc = serde_json::json!({"Event": {"System": {
        "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7036},
        "Channel": "System", "Computer": "PC"},
        "EventData": {"Data": ["Windows Update", "running"], "Binary": "00FF"}}});
    let mut rec = Record::new();
    let meta = flatten_windows(&doc, Shape::EvtxXml, &mut rec).unwrap();
    assert_eq!(value(&rec, "EventID"), ("7036", Kind::Num));
    assert_eq!(value(&rec, "EventID_Qualifiers"), ("16384", Kind::Num));
    let data: Vec<_> = rec.get_all("Data").map(|f| f.value).collect();
    assert_eq!(data, ["Windows Update", "running"]);
    assert_eq!(value(&rec, "Binary").0, "00FF");
    assert_eq!(meta.event_id, Some(7036));

    let doc = serde_json::json!({"Event": {"System": {"EventID": 1},
        "EventData": {"Data": {"#text": "only text"}}}});
    flatten(&doc, &mut rec).unwrap();
    assert_eq!(value(&rec, "Data").0, "only text");
    assert_eq!(
        flatten(&serde_json::json!({"Event": {"System": 3}}), &mut rec).map(|_| ()),
        Err(yagura_normalize::NormalizeError::Malformed {
            shape: Shape::EvtxXml,
            what: "`Event.System` is not an object"
        })
    );
}

#[test]
fn every_regression_sample_normalizes_with_event_id_and_time() {
    let dir = shared("sigma/regression/samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 202);
    let mut rec = Record::new();
    let mut events = 0;
    for path in files {
        for doc in docs(path.clone(), InputKind::Json) {
            let (shape, meta) = flatten(&doc, &mut rec).unwrap();
            assert_eq!(shape, Shape::EvtxXml, "{}", path.display());
            assert!(
                meta.event_id.is_some() && meta.timestamp.is_some(),
                "{}",
                path.display()
            );
            assert_eq!(value(&rec, "EventID").1, Kind::Num, "{}", path.display());
            assert!(rec.fields().all(|f| !f.key.contains(' ')));
            events += 1;
        }
    }
    assert!(events >= 202);
}
