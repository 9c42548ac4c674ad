#!/usr/bin/env python3
"""ClickHouse's engine (chdb) on the same NDJSON as the Yagura store benchmark.

  store_chdb.py load  SESSION_DIR FILE.ndjson...   -> load events=N secs=S disk_bytes=B
  store_chdb.py query SESSION_DIR RUNS FROM TO     -> one line per query:
      chdb <name> p50_ms=.. p99_ms=.. rows=..

Table: MergeTree, every column CODEC(ZSTD(3)), ORDER BY (event_module, ts); `raw` keeps the
whole JSON line. FROM/TO: the 24-hour window (RFC 3339) of the stats query.
"""
import math
import os
import sys
import time

from chdb import session as chs

DDL = """
CREATE TABLE IF NOT EXISTS bench.events (
    ts DateTime64(3, 'UTC') CODEC(ZSTD(3)),
    host_name LowCardinality(String) CODEC(ZSTD(3)),
    user_name String CODEC(ZSTD(3)),
    source_ip String CODEC(ZSTD(3)),
    event_module LowCardinality(String) CODEC(ZSTD(3)),
    message String CODEC(ZSTD(3)),
    raw String CODEC(ZSTD(3))
) ENGINE = MergeTree ORDER BY (event_module, ts)
"""

QUERIES = {
    "exact": "SELECT ts, raw FROM bench.events WHERE user_name = 'user-01234' "
    "ORDER BY ts DESC LIMIT 100",
    "fulltext": "SELECT ts, raw FROM bench.events "
    "WHERE positionCaseInsensitive(message, 'Accepted password') > 0 "
    "ORDER BY ts DESC LIMIT 100",
    "stats24h": "SELECT host_name, count() FROM bench.events "
    "WHERE ts >= parseDateTime64BestEffort('{frm}', 3, 'UTC') "
    "AND ts < parseDateTime64BestEffort('{to}', 3, 'UTC') "
    "GROUP BY host_name ORDER BY host_name",
}


def open_session(d):
    s = chs.Session(d)
    s.query("CREATE DATABASE IF NOT EXISTS bench")
    s.query(DDL)
    return s


def disk_bytes(s):
    r = s.query(
        "SELECT sum(bytes_on_disk) FROM system.parts "
        "WHERE database = 'bench' AND table = 'events' AND active",
        "CSV",
    )
    return int(float(r.bytes().decode().strip() or 0))


def load(d, files):
    s = open_session(d)
    t = time.perf_counter()
    before = int(s.query("SELECT count() FROM bench.events", "CSV").bytes().decode().strip())
    for f in files:
        path = os.path.abspath(f).replace("'", "\\'")
        s.query(
            "INSERT INTO bench.events SELECT "
            "parseDateTime64BestEffort(JSONExtractString(json, '@timestamp'), 3, 'UTC'), "
            "JSONExtractString(json, 'host.name'), JSONExtractString(json, 'user.name'), "
            "JSONExtractString(json, 'source.ip'), JSONExtractString(json, 'event.module'), "
            "JSONExtractString(json, 'message'), json "
            f"FROM file('{path}', JSONAsString)"
        )
    secs = time.perf_counter() - t
    after = int(s.query("SELECT count() FROM bench.events", "CSV").bytes().decode().strip())
    print(f"load events={after - before} secs={secs:.3f} disk_bytes={disk_bytes(s)}")
    s.close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[max(1, min(len(xs), math.ceil(p * len(xs)))) - 1]


def query(d, runs, frm, to):
    s = open_session(d)
    # Merge what the chunked inserts left, as a long-running server would have in time.
    s.query("OPTIMIZE TABLE bench.events FINAL")
    print(f"chdb disk_bytes={disk_bytes(s)} (after OPTIMIZE FINAL)")
    for name, sql in QUERIES.items():
        sql = sql.format(frm=frm, to=to)
        ms = []
        rows = 0
        for _ in range(runs):
            t = time.perf_counter()
            r = s.query(sql, "CSV")
            ms.append((time.perf_counter() - t) * 1e3)
            rows = len([x for x in r.bytes().split(b"\n") if x])
        print(f"chdb {name} p50_ms={pct(ms, 0.5):.2f} p99_ms={pct(ms, 0.99):.2f} rows={rows}")
    s.close()


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 6 and sys.argv[1] == "query":
        query(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
