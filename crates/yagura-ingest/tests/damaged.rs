//! Damaged inputs, made at test time from real files: every error is located and the rest of the
//! input is still read.

mod common;

use std::io::{Read as _, Write as _};
use std::path::Path;

use common::{read_file, shared};
use yagura_ingest::{discover, discover_with, Discovery, InputKind, Item, ReadOptions, TextItem};

const MANY: &str = "data/evtx/DeepBlueCLI/evtx/many-events-application.evtx";
const HEADER: usize = 4096;
const CHUNK: usize = 65536;

fn record_ids(read: &common::Read) -> Vec<u64> {
    read.docs.iter().map(|d| d.1).collect()
}

/// First and last record id a chunk header names.
fn chunk_range(bytes: &[u8], chunk: usize) -> (u64, u64) {
    let at = HEADER + chunk * CHUNK;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[at + o..at + o + 8].try_into().unwrap());
    (u64_at(8), u64_at(16))
}

/// The first `n` NDJSON lines of a real OTRF (NXLog) data set.
fn otrf_lines(n: usize) -> Vec<String> {
    let path = shared(
        "data/otrf/datasets/atomic/windows/discovery/host/cmd_discover_iexplorer_version_registry.zip",
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    archive
        .by_index(0)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text.lines().take(n).map(str::to_owned).collect()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn truncated_evtx_keeps_the_whole_chunks_and_reports_the_cut() {
    let full_path = shared(MANY);
    let full = read_file(&full_path, InputKind::Evtx, 1);
    assert_eq!(full.docs.len(), 2216);
    let bytes = std::fs::read(&full_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.evtx");
    std::fs::write(&cut, &bytes[..HEADER + 3 * CHUNK + 30_000]).unwrap();

    let read = read_file(&cut, InputKind::Evtx, 2);
    let shown = cut.display().to_string();
    assert!(!read.errors.is_empty());
    assert!(read.errors.iter().all(|e| e.file == shown));
    assert!(
        read.errors[0].reason.contains("truncated") && read.errors[0].reason.contains("chunk 3"),
        "{}",
        read.errors[0]
    );
    // All the records of the three whole chunks, then those of chunk 3 that fit in 30000 bytes,
    // in the same order and with the same content as in the whole file.
    let (_, last_of_chunk_2) = chunk_range(&bytes, 2);
    let (first_of_3, last_of_3) = chunk_range(&bytes, 3);
    let ids = record_ids(&read);
    let whole = full
        .docs
        .iter()
        .take_while(|d| d.1 <= last_of_chunk_2)
        .count();
    assert!(ids.len() > whole, "some records of the cut chunk are kept");
    assert!(*ids.last().unwrap() < last_of_3, "not all of them");
    assert_eq!(ids, record_ids(&full)[..ids.len()]);
    assert_eq!(read.docs[ids.len() - 1].2, full.docs[ids.len() - 1].2);
    assert!(ids.contains(&first_of_3));
    // The record that straddles the cut is reported by id, not produced half-zeroed.
    let straddling = ids.last().unwrap() + 1;
    assert!(
        read.errors
            .iter()
            .any(|e| e.record == Some(straddling) && e.reason.contains("cut off")),
        "{:#?}",
        read.errors
    );
}

#[test]
fn corrupted_chunk_is_reported_and_the_other_chunks_are_read() {
    let full_path = shared(MANY);
    let full = read_file(&full_path, InputKind::Evtx, 1);
    let mut bytes = std::fs::read(&full_path).unwrap();
    // Garbage over the middle of chunk 1's records.
    let start = HEADER + CHUNK + 0x3000;
    for (i, b) in bytes[start..start + 0x1000].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5a;
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-chunk.evtx");
    std::fs::write(&bad, &bytes).unwrap();

    let read = read_file(&bad, InputKind::Evtx, 2);
    let (first, last) = chunk_range(&bytes, 1);
    assert!(!read.errors.is_empty());
    for e in &read.errors {
        assert_eq!(e.file, bad.display().to_string());
        match e.record {
            Some(r) => assert!((first..=last).contains(&r), "{e}"),
            None => assert!(e.reason.contains("chunk 1"), "{e}"),
        }
    }
    // Every record outside chunk 1 is still there, identical.
    let got: std::collections::HashMap<u64, &serde_json::Value> =
        read.docs.iter().map(|d| (d.1, &d.2)).collect();
    let mut outside = 0;
    for (_, id, doc) in &full.docs {
        if !(first..=last).contains(id) {
            assert_eq!(got.get(id), Some(&doc), "record {id}");
            outside += 1;
        }
    }
    assert!(outside > 2000);
    let lost = full.docs.len() - read.docs.len();
    assert!(lost > 0 && lost < 100, "lost {lost}");
}

#[test]
fn ndjson_bad_line_is_reported_and_the_next_lines_read() {
    let mut lines = otrf_lines(20);
    lines[6] = r#"{"EventID": 4688, "CommandLine": "cut"#.to_owned();
    lines.insert(10, String::new()); // a blank line is no record
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    std::fs::write(&path, lines.join("\n")).unwrap();

    let read = read_file(&path, InputKind::Json, 1);
    assert_eq!(read.errors.len(), 1, "{:?}", read.errors);
    let err = &read.errors[0];
    assert_eq!(
        (err.file.as_str(), err.record),
        (path.to_str().unwrap(), Some(7))
    );
    assert!(err.reason.contains("EOF"), "serde's reason: {err}");
    assert!(
        err.to_string().contains(": record 7: invalid JSON"),
        "{err}"
    );
    let expected: Vec<u64> = (1..=21).filter(|n| *n != 7 && *n != 11).collect();
    assert_eq!(record_ids(&read), expected);
    assert!(read.docs.iter().all(|d| d.2.get("Hostname").is_some()));
}

#[test]
fn gzip_of_ndjson_and_a_truncated_gzip() {
    let lines = otrf_lines(30).join("\n") + "\n";
    let gz = gzip(lines.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json.gz");
    std::fs::write(&path, &gz).unwrap();
    let found = discover(&[dir.path().to_path_buf()]);
    assert_eq!(found.files.len(), 1);
    assert_eq!(found.files[0].kind, InputKind::Gzip);
    let read = read_file(&path, InputKind::Gzip, 1);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert_eq!(record_ids(&read), (1..=30).collect::<Vec<u64>>());
    assert_eq!(read.docs[0].0, path.display().to_string());

    // Cut the compressed stream: the lines before the cut come out, then one error.
    let cut = dir.path().join("cut.json.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let read = read_file(&cut, InputKind::Gzip, 1);
    assert!(!read.docs.is_empty() && read.docs.len() < 30);
    assert_eq!(
        record_ids(&read),
        (1..=read.docs.len() as u64).collect::<Vec<_>>()
    );
    assert_eq!(read.errors.len(), 1, "{:?}", read.errors);
    assert_eq!(read.errors[0].file, cut.display().to_string());
}

#[test]
fn zip_with_a_non_json_entry_reads_the_other_entries() {
    let lines = otrf_lines(5).join("\n");
    let evtx = std::fs::read(shared("data/evtx/DeepBlueCLI/evtx/new-user-security.evtx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.zip");
    let mut zw = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zw.add_directory("logs/", opts).unwrap();
    zw.start_file("logs/a.json", opts).unwrap();
    zw.write_all(lines.as_bytes()).unwrap();
    zw.start_file("__MACOSX/logs/._a.json", opts).unwrap();
    zw.write_all(b"\x00\x05\x16\x07 mac resource fork").unwrap();
    zw.start_file("logs/notes.bin", opts).unwrap();
    zw.write_all(b"\x00\x01binary, not a log").unwrap();
    zw.start_file("logs/b.evtx", opts).unwrap();
    zw.write_all(&evtx).unwrap();
    zw.start_file("logs/c.ndjson.gz", opts).unwrap();
    zw.write_all(&gzip(lines.as_bytes())).unwrap();
    zw.finish().unwrap();

    let found = discover(std::slice::from_ref(&path));
    assert_eq!(found.files.len(), 1);
    assert_eq!(found.files[0].kind, InputKind::Zip);
    let read = read_file(&path, InputKind::Zip, 1);
    let shown = path.display().to_string();
    assert_eq!(read.errors.len(), 1, "{:?}", read.errors);
    assert_eq!(read.errors[0].file, format!("{shown}!logs/notes.bin"));
    assert!(read.errors[0].reason.contains("neither JSON nor EVTX"));
    let per_entry = |entry: &str| {
        read.docs
            .iter()
            .filter(|d| d.0 == format!("{shown}!{entry}"))
            .count()
    };
    assert_eq!(per_entry("logs/a.json"), 5);
    assert_eq!(per_entry("logs/b.evtx"), 4);
    assert_eq!(per_entry("logs/c.ndjson.gz"), 5);
    assert_eq!(read.docs.len(), 14);
}

#[test]
fn discovery_by_magic_bytes_and_extension() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let evtx = std::fs::read(shared("data/evtx/DeepBlueCLI/evtx/new-user-security.evtx")).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = d.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    write("b/renamed.bin", &evtx); // EVTX by magic
    write("a/app.log", b"{\"a\":1}\n"); // JSON .log
    write("a/syslog.log", b"Oct 11 22:14:15 host sshd[1]: hi\n"); // text .log
    write("a/notes", b"some words\n"); // text, not a log (no sniffer): skipped
    write("a/README.md", b"# notes"); // ignored silently
    write("a/rules.yaml", b"title: x"); // ignored silently
    write("a/LICENSE", b"MIT"); // ignored silently
    write("a/blob.dat", b"\x00\x01"); // unknown: skipped
    write("c/x.jsonl", b"{\"a\":1}\n");
    write(".git/config.json", b"{}"); // hidden folder: not entered
    let found = discover(&[d.to_path_buf()]);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let files = kinds(d, &found);
    assert_eq!(
        files,
        [
            ("a/app.log".to_owned(), InputKind::Json),
            ("a/syslog.log".to_owned(), InputKind::Text),
            ("b/renamed.bin".to_owned(), InputKind::Evtx),
            ("c/x.jsonl".to_owned(), InputKind::Json),
        ]
    );
    let skipped: Vec<String> = found.skipped.iter().map(|s| rel(d, &s.path)).collect();
    assert_eq!(skipped, ["a/blob.dat", "a/notes"]);
    assert!(found.skipped[1].reason.contains("no log parser"));

    // Reading the renamed EVTX works like any EVTX, through the documented callback API.
    let mut n = 0;
    found.files[2].read(&ReadOptions::default(), &mut |item| match item {
        Item::Doc { loc, doc } => {
            n += 1;
            assert_eq!(loc.record, n);
            assert!(doc["Event"]["System"]["EventID"].is_number());
        }
        Item::Error(e) => panic!("{e}"),
    });
    assert_eq!(n, 4);
}

#[test]
fn text_logs_by_sniffer_and_inside_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let auth = b"Oct 11 22:14:15 host sshd[1]: hi\nOct 11 22:14:16 host sshd[1]: bye\n";
    std::fs::write(d.join("auth.log.1"), auth).unwrap();
    std::fs::write(d.join("auth.log.2.gz"), gzip(auth)).unwrap();
    std::fs::write(d.join("words"), b"hello\n").unwrap();
    let sniffer = |head: &str| head.starts_with("Oct ");
    let found = discover_with(&[d.to_path_buf()], &sniffer);
    let files = kinds(d, &found);
    assert_eq!(
        files,
        [
            ("auth.log.1".to_owned(), InputKind::Text),
            ("auth.log.2.gz".to_owned(), InputKind::GzipText),
        ]
    );
    assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
    // Named directly, unrecognised text is read all the same.
    let named = discover_with(&[d.join("words")], &sniffer);
    assert!(named.errors.is_empty(), "{:?}", named.errors);
    assert_eq!(named.files[0].kind, InputKind::Text);
    for f in &found.files {
        let mut lines = Vec::new();
        f.read_text(&mut |item| match item {
            TextItem::Line { loc, line } => lines.push((loc.record, line.to_owned())),
            TextItem::Error(e) => panic!("{e}"),
        });
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[1],
            (2, "Oct 11 22:14:16 host sshd[1]: bye".to_owned())
        );
    }
}

/// The found files as (path relative to `base`, kind).
fn kinds(base: &Path, found: &Discovery) -> Vec<(String, InputKind)> {
    found
        .files
        .iter()
        .map(|f| (rel(base, &f.path), f.kind))
        .collect()
}

fn rel(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap().display().to_string()
}
