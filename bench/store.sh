#!/usr/bin/env bash
# Storage benchmark: the Yagura store against ClickHouse's engine (chdb: MergeTree, ZSTD) on the
# same events, generated from the real samples in ../shared/data (timestamps shifted over 30
# days ending 2026-11-30, 500 hosts, 5,000 users). Prints indexing rate, bytes on disk per event
# against the raw NDJSON, and p50/p99 latency of an exact-field filter over the whole range, a
# full-text phrase and a 24-hour `stats count() by host.name`, side by side, with the targets.
#
# Events are generated and loaded in chunks (YAGURA_BENCH_CHUNK, default 5,000,000) that are
# deleted after loading, so disk use stays bounded. Yagura loads with fsync off (a bulk load).
#
# Usage: bash bench/store.sh [--quick]   (50,000,000 events; --quick: 200,000;
#        YAGURA_BENCH_EVENTS, YAGURA_BENCH_CHUNK, YAGURA_BENCH_RUNS override; needs `pip install chdb`)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QUICK=0; [ "${1:-}" = "--quick" ] && QUICK=1
EVENTS=50000000; [ $QUICK = 1 ] && EVENTS=200000
EVENTS=${YAGURA_BENCH_EVENTS:-$EVENTS}
CHUNK=${YAGURA_BENCH_CHUNK:-5000000}
RUNS=${YAGURA_BENCH_RUNS:-20}
DAYS=30
# The last 24 hours of the generated range (it ends at 2026-12-01T00:00:00Z, exclusive).
FROM=2026-11-30T00:00:00Z; TO=2026-12-01T00:00:00Z
export SHARED="${SHARED:-../shared/data}"
[ -d "$SHARED" ] || { echo "store.sh: samples folder $SHARED not found" >&2; exit 1; }
python3 -c 'import chdb' 2>/dev/null || { echo "store.sh: python package chdb missing (pip install chdb)" >&2; exit 1; }

CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release -q -p yagura-store --examples
GEN=target/release/examples/gen_events
SB=target/release/examples/store_bench
W=target/bench-store
rm -rf "$W"; mkdir -p "$W"
trap 'rm -f "$W"/chunk-*.ndjson' EXIT

# Disk: one chunk of NDJSON (~1.3 KB/event) plus both stores (~0.3 KB/event together at 1M
# events and more; 450 B counted for headroom) must fit.
AVAIL_KB=$(df -Pk "$W" | awk 'NR==2{print $4}')
C=$(( CHUNK < EVENTS ? CHUNK : EVENTS ))
NEED_KB=$(( (C * 1400 + EVENTS * 450) / 1024 ))
echo "machine: $(nproc) cores; events: $EVENTS in chunks of $C; disk: need ~$((NEED_KB / 1024)) MiB, $((AVAIL_KB / 1024)) MiB free"
[ "$AVAIL_KB" -gt "$NEED_KB" ] || { echo "store.sh: not enough disk space" >&2; exit 1; }

YEV=0; YSECS=0; CEV=0; CSECS=0; RAW=0; GSECS=0; YDISK=0
SKIP=0
while [ "$SKIP" -lt "$EVENTS" ]; do
    F="$W/chunk-$SKIP.ndjson"
    T0=$(date +%s.%N)
    "$GEN" --events "$EVENTS" --days "$DAYS" --skip "$SKIP" --count "$CHUNK" --out "$F" 2> "$W/gen.err" \
        || { cat "$W/gen.err" >&2; exit 1; }
    GSECS=$(echo "$GSECS + $(date +%s.%N) - $T0" | bc -l)
    YL=$("$SB" load --data-dir "$W/yagura" "$F")
    CL=$(python3 bench/store_chdb.py load "$W/chdb" "$F")
    kv() { tr ' ' '\n' <<< "$1" | awk -F= -v k="$2" '$1==k{print $2}'; }
    YEV=$(( YEV + $(kv "$YL" events) )); YSECS=$(echo "$YSECS + $(kv "$YL" secs)" | bc -l)
    RAW=$(( RAW + $(kv "$YL" raw_bytes) )); YDISK=$(kv "$YL" disk_bytes)
    CEV=$(( CEV + $(kv "$CL" events) )); CSECS=$(echo "$CSECS + $(kv "$CL" secs)" | bc -l)
    echo "chunk $SKIP: yagura $(kv "$YL" events_per_s) events/s; chdb $(kv "$CL" events) events in $(kv "$CL" secs) s"
    rm -f "$F"
    SKIP=$(( SKIP + CHUNK ))
done
[ "$YEV" -eq "$EVENTS" ] || { echo "store.sh: yagura stored $YEV of $EVENTS events" >&2; exit 1; }
[ "$CEV" -eq "$EVENTS" ] || { echo "store.sh: chdb stored $CEV of $EVENTS events" >&2; exit 1; }
echo "generated $EVENTS events in $(printf %.1f "$GSECS") s; raw NDJSON $RAW bytes"

Q_EXACT='user.name == "user-01234" | head 100'
Q_TEXT='"Accepted password" | head 100'
Q_STATS='| stats count() by host.name'
YQ_EXACT=$("$SB" query --data-dir "$W/yagura" --runs "$RUNS" "$Q_EXACT")
YQ_TEXT=$("$SB" query --data-dir "$W/yagura" --runs "$RUNS" "$Q_TEXT")
YQ_STATS=$("$SB" query --data-dir "$W/yagura" --runs "$RUNS" --from "$FROM" --to "$TO" "$Q_STATS")
CQ=$(python3 bench/store_chdb.py query "$W/chdb" "$RUNS" "$FROM" "$TO")
CDISK=$(awk '$1=="chdb"{split($2,a,"="); if (a[1]=="disk_bytes") print a[2]}' <<< "$CQ")
cq() { awk -v n="$1" '$1=="chdb" && $2==n' <<< "$CQ"; }
kv() { tr ' ' '\n' <<< "$1" | awk -F= -v k="$2" '$1==k{print $2}'; }

python3 - "$EVENTS" "$RAW" "$YSECS" "$YDISK" "$CSECS" "$CDISK" "$RUNS" \
    "$YQ_EXACT" "$YQ_TEXT" "$YQ_STATS" "$(cq exact)" "$(cq fulltext)" "$(cq stats24h)" <<'PY'
import sys
ev, raw, ysecs, ydisk, csecs, cdisk, runs = sys.argv[1:8]
ev, raw, ydisk, cdisk, runs = int(ev), int(raw), int(ydisk), int(cdisk), int(runs)
ysecs, csecs = float(ysecs), float(csecs)
def kv(s):
    return dict(x.split("=", 1) for x in s.split() if "=" in x)
yq = [kv(s) for s in sys.argv[8:11]]
cq = [kv(s) for s in sys.argv[11:14]]
rows = []
def row(name, y, c, target, ok):
    rows.append((name, y, c, target, "n/a" if ok is None else ("met" if ok else "NOT met")))
yr, cr = ev / ysecs, ev / csecs
row("indexing events/s", f"{yr:,.0f}", f"{cr:,.0f}", ">= 100,000", yr >= 100_000)
row("bytes on disk / event", f"{ydisk / ev:.1f}", f"{cdisk / ev:.1f}", "<= 1.5x chdb", ydisk <= 1.5 * cdisk)
row("raw JSON / stored", f"{raw / ydisk:.2f}x", f"{raw / cdisk:.2f}x", ">= 8x", raw / ydisk >= 8)
names = ["exact filter (user.name)", "full-text 'Accepted password'", "24h stats count() by host"]
for i, n in enumerate(names):
    y50, y99, c50, c99 = (float(yq[i]["p50_ms"]), float(yq[i]["p99_ms"]),
                          float(cq[i]["p50_ms"]), float(cq[i]["p99_ms"]))
    if i == 0:
        t, ok = "< 200 ms and <= chdb", y50 < 200 and y50 <= c50
    elif i == 1:
        t, ok = "(none)", None
    else:
        t, ok = "< 500 ms", y50 < 500
    row(f"{n} p50 ms", f"{y50:.1f}", f"{c50:.1f}", t, ok)
    row(f"{n} p99 ms", f"{y99:.1f}", f"{c99:.1f}", "", None)
    row(f"{n} rows", yq[i]["rows"], cq[i]["rows"], "", None)
print(f"\n{ev:,} events, raw NDJSON {raw / ev:.1f} bytes/event; {runs} runs per query "
      f"(p99 of {runs} runs is about the maximum)")
w = [max(len(r[k]) for r in rows + [("", "yagura", "chdb", "target", "")]) for k in range(5)]
w[0] = max(w[0], len("measure"))
hdr = ("measure", "yagura", "chdb", "target", "")
for r in [hdr] + rows:
    print(f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:>{w[2]}}  {r[3]:<{w[3]}}  {r[4]}")
PY
