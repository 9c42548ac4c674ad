//! Storage benchmark driver (`bench/store.sh` runs it).
//!
//! `store_bench load --data-dir DIR FILE.ndjson...`: appends every line (an ECS object) to the
//! store in DIR (created or extended), closes it (flush, index commit, merges) and prints
//! `load events=… secs=… events_per_s=… raw_bytes=… disk_bytes=… bytes_per_event=… ratio=…`.
//! `fsync` is off: a bulk load, durability at close is not what is measured.
//!
//! `store_bench query --data-dir DIR [--runs 20] [--from T] [--to T] 'QUERY'`: opens the reader
//! once, runs the query `--runs` times and prints `query p50_ms=… p99_ms=… rows=…`.
/// The allocator `yagura` itself runs with (glibc malloc took a fifth of a load in locks).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde_json::Value;
use std::error::Error;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Instant;
use yagura_store::query;
use yagura_store::search::{Reader, SearchOptions};
use yagura_store::store::{dir_size, Store, StoreConfig};

type Res<T> = Result<T, Box<dyn Error>>;

struct Args {
    data_dir: Option<PathBuf>,
    runs: usize,
    from: Option<String>,
    to: Option<String>,
    rest: Vec<String>,
}

fn parse_args(args: &[String]) -> Res<Args> {
    let mut a = Args {
        data_dir: None,
        runs: 20,
        from: None,
        to: None,
        rest: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(s) = it.next() {
        let mut val = || it.next().cloned().ok_or(format!("{s} needs a value"));
        match s.as_str() {
            "--data-dir" => a.data_dir = Some(PathBuf::from(val()?)),
            "--runs" => a.runs = val()?.parse().map_err(|_| "--runs: not a number")?,
            "--from" => a.from = Some(val()?),
            "--to" => a.to = Some(val()?),
            _ => a.rest.push(s.clone()),
        }
    }
    Ok(a)
}

fn load(a: &Args) -> Res<()> {
    let dir = a.data_dir.as_ref().ok_or("--data-dir DIR is required")?;
    if a.rest.is_empty() {
        return Err("load: no NDJSON files given".into());
    }
    let cfg = StoreConfig {
        fsync: false,
        ..StoreConfig::bulk()
    };
    let t = Instant::now();
    let mut store = Store::open(dir, cfg)?;
    let (mut events, mut raw_bytes, mut bad) = (0u64, 0u64, 0u64);
    let mut line = String::new();
    for f in &a.rest {
        let mut r =
            BufReader::with_capacity(1 << 20, File::open(f).map_err(|e| format!("{f}: {e}"))?);
        loop {
            line.clear();
            let n = r.read_line(&mut line)?;
            if n == 0 {
                break;
            }
            raw_bytes += n as u64;
            let l = line.trim_end();
            match serde_json::from_str::<Value>(l) {
                Ok(Value::Object(doc)) => {
                    store.append_parsed(None, l.as_bytes(), doc)?;
                    events += 1;
                }
                _ => bad += 1,
            }
        }
    }
    let appended = t.elapsed().as_secs_f64();
    store.close()?;
    let secs = t.elapsed().as_secs_f64();
    eprintln!("store_bench: appended in {appended:.3} s, closed (last flush, index commit and merges) in {:.3} s", secs - appended);
    let disk = dir_size(dir);
    if bad > 0 {
        eprintln!("store_bench: {bad} lines were not JSON objects (skipped)");
    }
    let per = |b: u64| b as f64 / events.max(1) as f64;
    println!(
        "load events={events} secs={secs:.3} events_per_s={:.0} raw_bytes={raw_bytes} disk_bytes={disk} bytes_per_event={:.1} raw_bytes_per_event={:.1} ratio={:.2}",
        events as f64 / secs.max(1e-9),
        per(disk),
        per(raw_bytes),
        raw_bytes as f64 / disk.max(1) as f64
    );
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn run_query(a: &Args) -> Res<()> {
    let dir = a.data_dir.as_ref().ok_or("--data-dir DIR is required")?;
    let src = match a.rest.as_slice() {
        [q] => q,
        _ => return Err("query: give exactly one query string".into()),
    };
    let q = query::parse(src).map_err(|e| format!("query {src:?}: {e}"))?;
    let time = |s: &Option<String>| -> Res<Option<i64>> {
        match s {
            None => Ok(None),
            Some(s) => Ok(Some(query::parse_time(s).ok_or(format!("bad time {s:?}"))?)),
        }
    };
    let o = SearchOptions {
        from_ms: time(&a.from)?,
        to_ms: time(&a.to)?,
    };
    let reader = Reader::open(dir)?;
    let mut ms = Vec::with_capacity(a.runs);
    let mut rows = 0;
    for _ in 0..a.runs.max(1) {
        let t = Instant::now();
        let (table, _) = reader.run(&q, &o, None)?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        rows = table.rows.len();
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "query p50_ms={:.2} p99_ms={:.2} rows={rows} runs={}",
        percentile(&ms, 0.50),
        percentile(&ms, 0.99),
        ms.len()
    );
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cmd, rest) = args
        .split_first()
        .ok_or("usage: store_bench load|query --data-dir DIR ...")?;
    let a = parse_args(rest)?;
    match cmd.as_str() {
        "load" => load(&a),
        "query" => run_query(&a),
        c => Err(format!("unknown command {c:?} (load | query)").into()),
    }
}
