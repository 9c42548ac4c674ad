//! The streaming EVTX JSON flattener against the `Value` path, on every record of the shared
//! EVTX files.

use std::path::{Path, PathBuf};

use yagura_event::{Kind, Record};
use yagura_ingest::{discover, RawItem, ReadOptions};
use yagura_normalize::{flatten, flatten_evtx_json, stream_evtx_json, EventMeta, Shape};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared");

fn fields(rec: &Record) -> Vec<(String, Kind, String)> {
    rec.fields()
        .map(|f| (f.key.to_owned(), f.kind, f.value.to_owned()))
        .collect()
}

#[derive(Default, Debug)]
struct Tally {
    files: usize,
    records: usize,
    streamed: usize,
    fell_back: usize,
    fields: usize,
}

/// Flattens `json` both ways and panics on any difference.
fn compare(json: &str, what: &str, tally: &mut Tally, a: &mut Record, b: &mut Record) {
    let doc: serde_json::Value = serde_json::from_str(json).expect("evtx renders valid JSON");
    let expected: (Shape, EventMeta) = flatten(&doc, a).expect("Value path flattens");
    let want = fields(a);
    match stream_evtx_json(json, b) {
        Some(meta) => {
            tally.streamed += 1;
            assert_eq!(
                expected.0,
                Shape::EvtxXml,
                "{what}: streamed a non-EVTX shape"
            );
            assert_eq!(fields(b), want, "{what}: fields differ\n{json}");
            assert_eq!(meta, expected.1, "{what}: meta differs\n{json}");
        }
        None => {
            tally.fell_back += 1;
            assert!(b.is_empty(), "{what}: record not cleared after fallback");
        }
    }
    // The public entry point, whichever way it goes.
    let got = flatten_evtx_json(json, b).expect("flattens");
    assert_eq!(got, expected, "{what}: shape/meta differ\n{json}");
    assert_eq!(fields(b), want, "{what}: fields differ\n{json}");
    tally.records += 1;
    tally.fields += want.len();
}

fn evtx_files() -> Vec<PathBuf> {
    let shared = Path::new(SHARED);
    let mut paths = vec![shared.join("data/evtx")];
    let samples = shared.join("sigma/regression/samples");
    let mut evtx: Vec<PathBuf> = std::fs::read_dir(&samples)
        .expect("shared samples")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "evtx"))
        .collect();
    evtx.sort();
    paths.extend(evtx);
    paths
}

#[test]
fn streaming_flattener_equals_value_path_on_every_shared_evtx_record() {
    let found = discover(&evtx_files());
    let mut tally = Tally::default();
    let (mut a, mut b) = (Record::new(), Record::new());
    let opts = ReadOptions { evtx_threads: 2 };
    for file in &found.files {
        let mut any = false;
        file.read_raw(&opts, &mut |item| {
            if let RawItem::Json { loc, json } = item {
                any = true;
                compare(json, &loc.to_string(), &mut tally, &mut a, &mut b);
            }
        });
        tally.files += usize::from(any);
    }
    eprintln!(
        "evtx files: {}, records compared: {}, streamed: {}, fell back to the Value path: {}, \
         fields: {}",
        tally.files, tally.records, tally.streamed, tally.fell_back, tally.fields
    );
    assert!(tally.files > 700, "{tally:?}");
    assert!(tally.records > 35_000, "{tally:?}");
    // The fast path must be the common one.
    assert!(tally.fell_back * 100 < tally.records, "{tally:?}");
}

/// Hand-written documents for the rules real files rarely exercise; each one is compared, and
/// `streams` says whether it must take the fast path.
#[test]
fn streaming_flattener_equals_value_path_on_edge_cases() {
    let cases: &[(&str, bool)] = &[
        // EventID with Qualifiers: `#text` first, then the attributes.
        (
            r##"{"Event":{"#attributes":{"xmlns":"x"},"System":{"Provider":{"#attributes":{"Name":"P","Guid":"{G}"}},"EventID":{"#attributes":{"Qualifiers":16384},"#text":7036},"Version":0,"Level":4,"Keywords":"0x80","TimeCreated":{"#attributes":{"SystemTime":"2020-06-10T02:50:56.537Z"}},"EventRecordID":42,"Correlation":null,"Execution":{"#attributes":{"ProcessID":4,"ThreadID":8}},"Channel":"System","Computer":"pc","Security":{"#attributes":{"UserID":"S-1-5-18"}}},"EventData":{"param1":"a b","Binary":null,"Count":3,"Ratio":1.5,"Neg":-2,"Flag":true}}}"##,
            true,
        ),
        // Text digits as EventID, spaces in names, children besides `#text`/`#attributes`.
        (
            r##"{"Event":{"System":{"EventID":"4624","Time Created":{"#attributes":{"System Time":"x"}},"Odd":{"Child":[1,"2",{"x":1}],"#attributes":{"A":"b"},"#text":"07"},"EventRecordID":" 12 ","Computer":7},"EventData":{"Threat Name":"T","Data":[{"#attributes":{"Name":"Target User"},"#text":"bob"},{"#attributes":{"Name":"Empty"}},"loose",null,{"#text":["a","b"]},[1,[2]]]}}}"##,
            true,
        ),
        // Unnamed data and UserData with attributes and namespaces.
        (
            r##"{"Event":{"System":{"EventID":1},"EventData":{"Data":{"#text":["x","y"]},"Binary":"00"},"UserData":{"Log":{"#attributes":{"xmlns":"u","xmlns:a":"v","Kind":"k"},"Name":{"#text":"n","#attributes":{"Lang":"en"}},"Items":[{"Item":1},{"Item":2}]}}}}"##,
            true,
        ),
        // EventData as text, as an array, as null; System null.
        (r##"{"Event":{"System":null,"EventData":"text"}}"##, true),
        (r##"{"Event":{"EventData":[1,{"a":2}]}}"##, true),
        (r##"{"Event":{"EventData":null,"UserData":{"A":1}}}"##, true),
        // Escapes in keys and values.
        (
            r##"{"Event":{"System":{"Chan\u006eel":"a\"b","Computer":"c\\d"},"EventData":{"K\u00e9y":"v\u00e9"}}}"##,
            true,
        ),
        // Repeated keys: a parsed document keeps the last value (at the first key's place).
        (
            r##"{"Event":{"System":{"EventID":1,"EventID":2},"EventData":{"A":1}}}"##,
            false,
        ),
        (r##"{"Event":{"EventData":{"A":1,"B":2,"A":3}}}"##, false),
        // System after EventData: the parsed path reads System first.
        (
            r##"{"Event":{"EventData":{"A":1},"System":{"EventID":5}}}"##,
            false,
        ),
        // A Data element with more attributes than a name, or the name after the text.
        (
            r##"{"Event":{"EventData":{"Data":{"#attributes":{"Name":"N","Type":"t"},"#text":"v"}}}}"##,
            false,
        ),
        (
            r##"{"Event":{"EventData":{"Data":{"#text":"v","#attributes":{"Name":"N"}}}}}"##,
            false,
        ),
        // `#text` that is an object.
        (
            r##"{"Event":{"System":{"EventID":{"#text":{"#text":"5"}}}}}"##,
            false,
        ),
        // Not EVTX-shaped: Winlogbeat, ECS, an Event without System/EventData/UserData.
        (
            r##"{"winlog":{"event_id":4688,"channel":"Security"},"@timestamp":"2020-06-09 22:50:54"}"##,
            false,
        ),
        (r##"{"Event":{"Other":1},"host":{"name":"h"}}"##, false),
        (r##"{"Event":{"System":{"EventID":1}},"extra":1}"##, false),
    ];
    let (mut a, mut b) = (Record::new(), Record::new());
    let mut tally = Tally::default();
    for (i, (json, streams)) in cases.iter().enumerate() {
        let before = tally.streamed;
        compare(json, &format!("case {i}"), &mut tally, &mut a, &mut b);
        assert_eq!(tally.streamed > before, *streams, "case {i}: {json}");
    }
    // Invalid JSON is an error, with the record left empty.
    b.push("stale", Kind::Str, "x");
    assert!(flatten_evtx_json(r#"{"Event":{"System":"#, &mut b).is_err());
    assert!(b.is_empty());
}
