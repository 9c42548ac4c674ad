#!/usr/bin/env bash
# Streaming detection benchmark of `yagura serve`: events/s from the HTTP listener through
# parsing to ECS, the write-ahead log, the store, every SigmaHQ rule (../shared/sigma/rules*)
# plus the built-in pack's correlations, to alerts; beside the same server with detection off
# (the collection and store floor), in the same run. Then event-to-alert latency p50/p99 at
# half the measured rate (probes that the built-in exfiltration rule alerts on).
#
# Usage: bash bench/stream.sh [--quick]     (YAGURA_BENCH_EVENTS, YAGURA_BENCH_LATENCY_SECS override)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QUICK=0; [ "${1:-}" = "--quick" ] && QUICK=1
EVENTS=1000000; LAT_SECS=60
[ $QUICK = 1 ] && { EVENTS=50000; LAT_SECS=10; }
EVENTS=${YAGURA_BENCH_EVENTS:-$EVENTS}; LAT_SECS=${YAGURA_BENCH_LATENCY_SECS:-$LAT_SECS}
export SHARED="${SHARED:-../shared/data}"
SIGMA=../shared/sigma
cargo build --release -q -p yagura
Y=target/release/yagura
W=$(mktemp -d /tmp/yagura-stream.XXXXXX)
cleanup() { kill "${YPID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

RULES=()
for d in "$SIGMA"/rules "$SIGMA"/rules-threat-hunting "$SIGMA"/rules-emerging-threats; do
    [ -d "$d" ] && RULES+=(--rules "$d")
done
start_yagura() {
    rm -rf "$W/data"
    $Y serve --data-dir "$W/data" --http 127.0.0.1:0 --syslog-udp off --syslog-tcp off --syslog-tls off \
        "$@" > "$W/y.out" 2> "$W/y.err" &
    YPID=$!
    for _ in $(seq 600); do grep -q '^ready' "$W/y.out" 2>/dev/null && break; sleep 0.1; done
    grep -q '^ready' "$W/y.out" || { cat "$W/y.err"; exit 1; }
    HTTP=$(awk '$2=="http"{print $3}' "$W/y.out")
}
stop_yagura() { kill -TERM "$YPID"; wait "$YPID" || true; YPID=; }

echo "machine: $(nproc) cores; events per run: $EVENTS"
start_yagura "${RULES[@]}"
grep -o 'streaming detection: .*' "$W/y.err" | head -1
LABEL="yagura serve, detection on" python3 bench/stream_load.py throughput "$HTTP" "$YPID" "$EVENTS" | tee "$W/on.txt"
stop_yagura
start_yagura --no-detect
LABEL="yagura serve, detection off (floor)" DETECT=0 python3 bench/stream_load.py throughput "$HTTP" "$YPID" "$EVENTS"
stop_yagura

RATE=$(grep -o '= [0-9,]* events/s' "$W/on.txt" | tr -dc '0-9')
start_yagura "${RULES[@]}"
LABEL="yagura serve" python3 bench/stream_load.py latency "$HTTP" "$YPID" $((RATE / 2)) "$LAT_SECS"
stop_yagura
