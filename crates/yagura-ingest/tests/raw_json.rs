//! `InputFile::read_raw`: EVTX records as JSON text, with the same records, locations and
//! errors as `InputFile::read` — also for damaged files and EVTX inside archives.

mod common;

use std::io::Write as _;
use std::path::Path;

use common::shared;
use yagura_ingest::{InputFile, InputKind, Item, RawItem, ReadOptions};

const MANY: &str = "data/evtx/DeepBlueCLI/evtx/many-events-application.evtx";
const HEADER: usize = 4096;
const CHUNK: usize = 65536;

/// One thing read: `(file, record, document)` or an error's text.
type Read = Result<(String, u64, serde_json::Value), String>;

/// What one read yields, in order; plus how many
/// documents came as JSON text.
fn items(path: &Path, kind: InputKind, raw: bool) -> (Vec<Read>, usize) {
    let file = InputFile {
        path: path.to_path_buf(),
        kind,
    };
    let opts = ReadOptions { evtx_threads: 2 };
    let mut out = Vec::new();
    let mut texts = 0;
    if raw {
        file.read_raw(&opts, &mut |item| match item {
            RawItem::Doc { loc, doc } => out.push(Ok((loc.file.clone(), loc.record, doc.clone()))),
            RawItem::Json { loc, json } => {
                texts += 1;
                let doc = serde_json::from_str(json).expect("valid JSON");
                out.push(Ok((loc.file.clone(), loc.record, doc)));
            }
            RawItem::Error(e) => out.push(Err(e.to_string())),
        });
    } else {
        file.read(&opts, &mut |item| match item {
            Item::Doc { loc, doc } => out.push(Ok((loc.file.clone(), loc.record, doc.clone()))),
            Item::Error(e) => out.push(Err(e.to_string())),
        });
    }
    (out, texts)
}

/// `read_raw` gives what `read` gives; returns (documents, errors, documents as JSON text).
fn same(path: &Path, kind: InputKind) -> (usize, usize, usize) {
    let (parsed, _) = items(path, kind, false);
    let (raw, texts) = items(path, kind, true);
    assert_eq!(raw.len(), parsed.len(), "{}", path.display());
    for (r, p) in raw.iter().zip(&parsed) {
        assert_eq!(r, p, "{}", path.display());
    }
    let errors = parsed.iter().filter(|i| i.is_err()).count();
    (parsed.len() - errors, errors, texts)
}

#[test]
fn raw_json_matches_parsed_documents_on_whole_and_damaged_files() {
    // Whole files, and the shared samples with a zero-size record and damaged chunks.
    for rel in [
        MANY,
        "data/evtx/omerbenamram-evtx/samples/sample-with-zero-data-size-event.evtx",
        "data/evtx/omerbenamram-evtx/samples/sysmon.evtx",
    ] {
        let (docs, _, texts) = same(&shared(rel), InputKind::Evtx);
        assert!(docs > 0 && texts == docs, "{rel}");
    }
    let (_, errors, _) = same(
        &shared("data/evtx/omerbenamram-evtx/samples/sysmon.evtx"),
        InputKind::Evtx,
    );
    assert!(errors > 0);

    let bytes = std::fs::read(shared(MANY)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Truncated in the middle of chunk 3.
    let cut = dir.path().join("cut.evtx");
    std::fs::write(&cut, &bytes[..HEADER + 3 * CHUNK + 30_000]).unwrap();
    let (docs, errors, texts) = same(&cut, InputKind::Evtx);
    assert!(docs > 0 && errors >= 2 && texts == docs);
    // Garbage over chunk 1's records.
    let mut bad = bytes.clone();
    let start = HEADER + CHUNK + 0x3000;
    for (i, b) in bad[start..start + 0x1000].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5a;
    }
    let bad_path = dir.path().join("bad-chunk.evtx");
    std::fs::write(&bad_path, &bad).unwrap();
    let (docs, errors, texts) = same(&bad_path, InputKind::Evtx);
    assert!(docs > 2000 && errors > 0 && texts == docs);
    // EVTX inside gzip and zip.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&bytes).unwrap();
    let gz = dir.path().join("many.evtx.gz");
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    let (docs, _, texts) = same(&gz, InputKind::Gzip);
    assert!(docs == 2216 && texts == docs);
    let zip_path = dir.path().join("logs.zip");
    let mut zw = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    let opts = zip::write::SimpleFileOptions::default();
    zw.start_file("a/many.evtx", opts).unwrap();
    zw.write_all(&bytes).unwrap();
    zw.finish().unwrap();
    let (docs, _, texts) = same(&zip_path, InputKind::Zip);
    assert!(docs == 2216 && texts == docs);
}

#[test]
fn raw_reading_keeps_json_inputs_parsed() {
    let json = shared("sigma/regression/samples/0022869c-49f7-4ff2-ba03-85ac42ddac58.json");
    let (docs, errors, texts) = same(&json, InputKind::Json);
    assert!(docs > 0 && errors == 0 && texts == 0);
}
