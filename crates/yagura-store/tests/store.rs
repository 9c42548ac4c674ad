//! The store on real samples: queries equal a plain scan; every alteration is caught by verify.

use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use yagura_store::import::{import, ImportMode};
use yagura_store::query::{self, Query};
use yagura_store::search::{Reader, SearchOptions, SearchStats};
use yagura_store::store::{Store, StoreConfig};
use yagura_store::verify::{prove, store_public_key, verify};
use yagura_store::StoreError;

fn shared(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(p)
}

fn cfg() -> StoreConfig {
    StoreConfig {
        fsync: false,
        flush_events: 1000,
        // Several blocks per partition in one flush.
        block_events: 300,
        writer_memory: 16 << 20,
        ..StoreConfig::default()
    }
}

fn build(dir: &Path, paths: &[PathBuf]) -> u64 {
    let mut s = Store::open(dir, cfg()).unwrap();
    let r = import(
        paths,
        ImportMode::Normalize(yagura_normalize::parse::SourceType::Auto),
        &mut s,
        &mut |_| {},
    )
    .unwrap();
    s.close().unwrap();
    assert!(r.events > 0, "{r:?}");
    r.events
}

/// Every stored event, by plain reading of the blocks (no index).
fn all_events(reader: &Reader) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    let mut st = SearchStats::default();
    reader
        .events(None, &SearchOptions::default(), &mut st, |d| {
            out.push(d);
            true
        })
        .unwrap();
    out
}

/// The `blocks.dat` of the first partition found.
fn first_blocks_file(dir: &Path) -> PathBuf {
    let src = std::fs::read_dir(dir.join("parts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let day = std::fs::read_dir(src.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    day.path().join("blocks.dat")
}

fn plain(q: &Query, events: &[Map<String, Value>]) -> query::Table {
    let rows = events
        .iter()
        .filter(|d| q.filter.as_ref().is_none_or(|f| query::matches(f, d)))
        .cloned();
    query::run_stages(&q.stages, rows).unwrap()
}

#[test]
fn queries_equal_a_plain_scan_on_real_logs() {
    let dir = tempfile::tempdir().unwrap();
    let n = build(
        dir.path(),
        &[
            shared("linux-auth/loghub"),
            shared("web-access"),
            shared("panther-tests/AWS.CloudTrail"),
            shared("panther-tests/Okta.SystemLog"),
        ],
    );
    let reader = Reader::open(dir.path()).unwrap();
    let events = all_events(&reader);
    assert_eq!(events.len() as u64, n);
    // Newest first, and ids unique.
    let mut ids: Vec<u64> = events
        .iter()
        .map(|e| e["yagura.seq"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64, n);
    let queries = [
        r#"source.ip == "173.234.31.186""#,
        r#"event.outcome == "failure" | stats count() by source.ip | sort count desc | head 5"#,
        r#"user.name in ("root", "admin") and event.module == "system""#,
        r#"source.ip cidr "10.0.0.0/8" or source.ip cidr "192.168.0.0/16""#,
        r#""Failed password""#,
        r#"authentication failure"#,
        r#"user.name startswith "ad""#,
        r#"url.original contains "admin""#,
        r#"http.response.status_code == 404"#,
        r#"http.response.status_code >= 400 | stats count() by http.response.status_code"#,
        r#"host.name =~ "LABSZ""#,
        r#"process.name matches "^ssh""#,
        r#"not event.outcome == "success" and exists(source.ip) | stats dc(source.ip)"#,
        r#"message contains "session opened""#,
        r#"| stats count() by event.module, event.dataset"#,
        r#"| timechart span=1d count() by event.module"#,
        r#"event.action == "ConsoleLogin" | fields @timestamp, user.name, source.ip"#,
        r#"@timestamp >= "2015-07-29" and @timestamp < "2015-07-30" | stats count()"#,
        // Counted from the index (no `by`), and `count(field)`, which only counts the events
        // holding the field, from the events.
        r#"event.outcome == "failure" | stats count() as n"#,
        r#"user.name == "no-such-user" | stats count()"#,
        r#"| stats count(user.name) by event.module"#,
        r#"| stats count(), count(source.ip)"#,
    ];
    let mut nonempty = 0;
    for text in queries {
        let q = query::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let (got, _) = reader.run(&q, &SearchOptions::default(), None).unwrap();
        let want = plain(&q, &events);
        assert_eq!(got.columns, want.columns, "{text}");
        assert_eq!(got.rows, want.rows, "{text}");
        if !want.rows.is_empty() {
            nonempty += 1;
        }
    }
    assert!(nonempty >= 18, "only {nonempty} queries found anything");
    // A time range cuts partitions and events alike.
    let o = SearchOptions {
        from_ms: query::parse_time("2015-07-29"),
        to_ms: query::parse_time("2015-07-30"),
    };
    let q = query::parse("| stats count()").unwrap();
    let (got, _) = reader.run(&q, &o, None).unwrap();
    let want = events
        .iter()
        .filter(|e| {
            let t = query::parse_time(e["@timestamp"].as_str().unwrap()).unwrap();
            t >= o.from_ms.unwrap() && t < o.to_ms.unwrap()
        })
        .count();
    assert_eq!(got.rows[0][0], Value::from(want as u64));
}

#[test]
fn verify_passes_then_catches_every_flipped_byte() {
    let dir = tempfile::tempdir().unwrap();
    build(
        dir.path(),
        &[shared("linux-auth/fail2ban-testlogs/sshd.log")],
    );
    let key = store_public_key(dir.path()).unwrap();
    let r = verify(dir.path(), &key).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert!(r.events > 10);
    let mut files = vec![
        dir.path().join("log/leaves.dat"),
        dir.path().join("log/heads.dat"),
    ];
    for src in std::fs::read_dir(dir.path().join("parts")).unwrap() {
        for day in std::fs::read_dir(src.unwrap().path()).unwrap() {
            files.push(day.unwrap().path().join("blocks.dat"));
        }
    }
    // Every byte position of every file of the store: the log, the heads, every block.
    let mut flips = 0;
    for f in &files {
        let orig = std::fs::read(f).unwrap();
        for i in 0..orig.len() {
            let mut b = orig.clone();
            b[i] ^= 0x01;
            std::fs::write(f, &b).unwrap();
            let r = verify(dir.path(), &key).unwrap();
            assert!(!r.ok(), "{}: byte {i} flipped, verify passed", f.display());
            flips += 1;
        }
        std::fs::write(f, &orig).unwrap();
        // Cutting the file short is caught too.
        std::fs::write(f, &orig[..orig.len() - 1]).unwrap();
        assert!(!verify(dir.path(), &key).unwrap().ok());
        std::fs::write(f, &orig).unwrap();
    }
    assert!(flips > 1000, "{flips}");
    eprintln!(
        "{flips} single-byte alterations in {} files, every one caught",
        files.len()
    );
    assert!(verify(dir.path(), &key).unwrap().ok());
}

#[test]
fn verify_names_a_removed_or_reordered_record_and_proofs_check() {
    let dir = tempfile::tempdir().unwrap();
    build(
        dir.path(),
        &[shared("linux-auth/loghub/OpenSSH/OpenSSH_2k.log")],
    );
    let key = store_public_key(dir.path()).unwrap();
    assert!(verify(dir.path(), &key).unwrap().ok());
    // A proof for one event verifies with the public key alone, and not when altered.
    let p = prove(dir.path(), 1234).unwrap();
    let json = p.to_json();
    let back = yagura_store::proof::Proof::from_json(&json).unwrap();
    let v = yagura_store::proof::verify_proof(&back, &key).unwrap();
    assert!(v.tree_size >= 1);
    assert!(p.record.starts_with("{\"yagura.seq\":1234,"));
    let forged = json.replacen("\\\"yagura.seq\\\":1234", "\\\"yagura.seq\\\":1235", 1);
    let forged = yagura_store::proof::Proof::from_json(&forged).unwrap();
    assert!(yagura_store::proof::verify_proof(&forged, &key).is_err());

    // Rewrite the first block with two records swapped, then with one removed, keeping its
    // leaf and hash prefixes (an attacker rewriting history with valid framing).
    let path = first_blocks_file(dir.path());
    let orig = std::fs::read(&path).unwrap();
    let scan = yagura_store::block::scan(&path).unwrap();
    let first = &scan.blocks[0];
    let data = yagura_store::block::decode(&orig[..first.len as usize]).unwrap();
    let recs: Vec<Vec<u8>> = data.records().map(<[u8]>::to_vec).collect();
    let craft = |recs: &[Vec<u8>]| -> Vec<u8> {
        let mut payload = Vec::new();
        for r in recs {
            payload.extend_from_slice(r);
            payload.push(b'\n');
        }
        let comp = zstd::bulk::compress(&payload, 3).unwrap();
        let mut out = Vec::new();
        out.extend_from_slice(b"YBK1");
        out.extend_from_slice(&(first.leaf_bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&first.leaf_bytes);
        out.extend_from_slice(&(data.prefixes.len() as u32).to_be_bytes());
        for p in &data.prefixes {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(&(comp.len() as u64).to_be_bytes());
        out.extend_from_slice(&comp);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_be_bytes());
        out.extend_from_slice(&orig[first.len as usize..]);
        out
    };
    let mut swapped = recs.clone();
    swapped.swap(5, 6);
    std::fs::write(&path, craft(&swapped)).unwrap();
    let r = verify(dir.path(), &key).unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("record 5 (yagura.seq")),
        "{:?}",
        r.problems
    );
    let mut removed = recs.clone();
    removed.remove(7);
    std::fs::write(&path, craft(&removed)).unwrap();
    let r = verify(dir.path(), &key).unwrap();
    assert!(
        r.problems
            .iter()
            .any(|p| p.contains("record 7 (yagura.seq")),
        "{:?}",
        r.problems
    );
    std::fs::write(&path, &orig).unwrap();
    assert!(verify(dir.path(), &key).unwrap().ok());
}

#[test]
fn reopen_after_unfinished_flush_keeps_the_logged_blocks_only() {
    let dir = tempfile::tempdir().unwrap();
    build(
        dir.path(),
        &[shared("linux-auth/fail2ban-testlogs/sshd.log")],
    );
    let before = {
        let r = Reader::open(dir.path()).unwrap();
        all_events(&r).len()
    };
    // A flush that wrote its block but died before its log group: the block is cut on open.
    let path = first_blocks_file(dir.path());
    let orig = std::fs::read(&path).unwrap();
    let mut longer = orig.clone();
    longer.extend_from_slice(&orig[..orig.len().min(100)]);
    std::fs::write(&path, &longer).unwrap();
    // And a torn log group.
    let lpath = dir.path().join("log/leaves.dat");
    let mut l = std::fs::read(&lpath).unwrap();
    l.extend_from_slice(&[0, 0, 1, 0, 0, 0]);
    std::fs::write(&lpath, &l).unwrap();
    let s = Store::open(dir.path(), cfg()).unwrap();
    s.close().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), orig);
    let key = store_public_key(dir.path()).unwrap();
    let r = verify(dir.path(), &key).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    let reader = Reader::open(dir.path()).unwrap();
    assert_eq!(all_events(&reader).len(), before);
}

#[test]
fn retention_drops_whole_partitions_as_signed_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.retention.days = Some(30);
    let mut s = Store::open(dir.path(), c).unwrap();
    let r = import(
        &[shared("linux-auth/loghub/OpenSSH/OpenSSH_2k.log")],
        ImportMode::Normalize(yagura_normalize::parse::SourceType::Auto),
        &mut s,
        &mut |_| {},
    )
    .unwrap();
    assert!(r.events > 0);
    let parts = s.partitions();
    assert!(!parts.is_empty());
    // The sample's syslog lines carry no year, so they are placed at most a month ahead of today:
    // a 30-day retention seen from 400 days on drops every partition, whatever the date.
    let later = yagura_store::store::now_ms() + 400 * 86_400_000;
    let dropped = s.enforce_retention(later).unwrap();
    assert_eq!(dropped.len(), parts.len());
    s.close().unwrap();
    let key = store_public_key(dir.path()).unwrap();
    let v = verify(dir.path(), &key).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
    assert_eq!(v.deleted_partitions as usize, parts.len());
    // Disk use per source reports the drops, and nothing left.
    let u = yagura_store::store::usage(dir.path()).unwrap();
    assert_eq!(
        u.iter().map(|s| s.dropped_partitions).sum::<usize>(),
        parts.len()
    );
    assert_eq!(u.iter().map(|s| s.dropped_events).sum::<u64>(), r.events);
    assert_eq!(u.iter().map(|s| s.events).sum::<u64>(), 0);
    let reader = Reader::open(dir.path()).unwrap();
    assert!(all_events(&reader).is_empty());
}

#[test]
fn japanese_full_text_through_the_index_equals_a_plain_scan() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("jp.ndjson");
    let lines = [
        "ユーザー太郎のログイン失敗 (パスワード誤り)",
        "ログインに成功しました user=花子",
        "東京都のサーバーでログイン失敗が続いています",
        "失敗したログイン: 3回",
        "Failed login for 太郎 from 10.0.0.5",
    ];
    let body: String = lines
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "{}\n",
                serde_json::json!({"@timestamp": format!("2026-03-01T10:00:0{i}.000Z"), "event.module": "app", "message": m})
            )
        })
        .collect();
    std::fs::write(&input, body).unwrap();
    let data = dir.path().join("store");
    let mut s = Store::open(&data, cfg()).unwrap();
    let r = import(&[input], ImportMode::Ecs, &mut s, &mut |_| {}).unwrap();
    assert_eq!(r.events, 5, "{r:?}");
    s.close().unwrap();
    let reader = Reader::open(&data).unwrap();
    let events = all_events(&reader);
    let expect = |q: &str, n: usize| {
        let q2 = query::parse(q).unwrap();
        let (got, _) = reader.run(&q2, &SearchOptions::default(), None).unwrap();
        let want = plain(&q2, &events);
        assert_eq!(got.rows, want.rows, "{q}");
        assert_eq!(got.rows.len(), n, "{q}: {:?}", got.rows);
    };
    expect(r#""ログイン失敗""#, 2);
    expect(r#""ログイン""#, 4);
    expect(r#""東京""#, 1);
    expect(r#""太郎""#, 2);
    expect(r#""失敗" and "login""#, 0);
    expect(r#""失敗" | stats count()"#, 1);
}

/// Events from the write-ahead log (`EventStore::append`, what `serve` does) are stored as
/// they came, after the store's own id; one that carries a `yagura.seq` of its own gets the
/// store's instead, never two; bytes that are not a JSON object are refused by `prepare` (the
/// indexer logs and skips them), the rest stored.
#[test]
fn appended_log_records_keep_their_bytes_and_get_the_store_id() {
    use yagura_store::EventStore;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let mut s = Store::open(&dir, cfg()).unwrap();
    let lines: [&[u8]; 4] = [
        br#"{"@timestamp":"2026-11-30T10:00:00Z","event.module":"system","message":"a \u00e9 1.50"}"#,
        br#"{"yagura.seq":999,"@timestamp":"2026-11-30T10:00:01Z","event.module":"system","message":"b"}"#,
        b"not json",
        br#"{"@timestamp":"2026-11-30T10:00:02Z","event.module":"system","n":1.50}"#,
    ];
    for (i, l) in lines.iter().enumerate() {
        match s.prepare(l) {
            Ok(p) => s.append(i as u64 + 1, l, p).unwrap(),
            Err(e) => {
                assert_eq!(*l, b"not json");
                assert!(
                    matches!(&e, StoreError::Rejected(m) if m.starts_with("not a JSON object")),
                    "{e}"
                );
            }
        }
    }
    s.close().unwrap();
    let mut got = Vec::new();
    yagura_store::store::for_each_event(&dir, |r| {
        got.push(String::from_utf8_lossy(r).into_owned())
    })
    .unwrap();
    assert_eq!(
        got,
        [
            r#"{"yagura.seq":1,"@timestamp":"2026-11-30T10:00:00Z","event.module":"system","message":"a \u00e9 1.50"}"#,
            r#"{"yagura.seq":2,"@timestamp":"2026-11-30T10:00:01Z","event.module":"system","message":"b"}"#,
            r#"{"yagura.seq":3,"@timestamp":"2026-11-30T10:00:02Z","event.module":"system","n":1.50}"#,
        ]
    );
    let key = store_public_key(&dir).unwrap();
    let report = verify(&dir, &key).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}
