#!/usr/bin/env bash
# Ingest benchmark of `yagura serve`: sustained events/s for TCP syslog and for HTTP NDJSON,
# parsed to ECS and durable in the write-ahead log (fsync per group commit) and stored, with
# peak RSS; rsyslog receiving the same TCP stream into a file in the same run, side by side;
# then RSS sampled while HTTP is offered twice the sustained rate (10 minutes; --quick: 20 s).
# The collect stage alone is printed too: TCP lines received and durable in the log, HTTP
# batches acknowledged (parsing and storing follow the log, on the indexer's lanes).
#
# Usage: bash bench/ingest.sh [--quick]   (YAGURA_BENCH_EVENTS, YAGURA_BENCH_OVERLOAD_SECS override)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QUICK=0; [ "${1:-}" = "--quick" ] && QUICK=1
EVENTS=2000000; OVER_SECS=600
[ $QUICK = 1 ] && { EVENTS=200000; OVER_SECS=20; }
# EVENTS=… OVER_SECS=… override both (e.g. full rates with a short overload run).
EVENTS=${YAGURA_BENCH_EVENTS:-$EVENTS}; OVER_SECS=${YAGURA_BENCH_OVERLOAD_SECS:-$OVER_SECS}
export SHARED="${SHARED:-../shared/data}"
cargo build --release -q -p yagura
Y=target/release/yagura
W=$(mktemp -d /tmp/yagura-ingest.XXXXXX)
cleanup() { kill "${YPID:-}" "${RPID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

start_yagura() {
    rm -rf "$W/data"
    $Y serve --data-dir "$W/data" --http 127.0.0.1:0 --syslog-udp off --syslog-tcp 127.0.0.1:0 --syslog-tls off \
        > "$W/y.out" 2> "$W/y.err" &
    YPID=$!
    for _ in $(seq 100); do grep -q '^ready' "$W/y.out" 2>/dev/null && break; sleep 0.1; done
    HTTP=$(awk '$2=="http"{print $3}' "$W/y.out")
    TCP=$(awk '$2=="syslog-tcp"{print $3}' "$W/y.out")
}
stop_yagura() { kill -TERM "$YPID"; wait "$YPID" || true; }

echo "machine: $(nproc) cores; events per run: $EVENTS"
start_yagura
python3 bench/ingest_load.py tcp "$TCP" "$HTTP" "$YPID" "$EVENTS" | tee "$W/tcp.txt"
stop_yagura

# rsyslog: imtcp into omfile, the same stream.
RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$W/rsyslog.conf" <<CONF
global(workDirectory="$W")
module(load="imtcp")
input(type="imtcp" port="$RPORT" address="127.0.0.1")
action(type="omfile" file="$W/rsyslog-out.log")
CONF
rsyslogd -n -f "$W/rsyslog.conf" -i "$W/rsyslog.pid" 2> "$W/rsyslog.err" &
RPID=$!
sleep 1
python3 bench/ingest_load.py rsyslog "127.0.0.1:$RPORT" "$W/rsyslog-out.log" "$RPID" "$EVENTS" | tee "$W/rsyslog.txt"
kill "$RPID"; wait "$RPID" 2>/dev/null || true; RPID=

start_yagura
python3 bench/ingest_load.py ndjson "$HTTP" "$YPID" "$EVENTS" | tee "$W/ndjson.txt"
RATE=$(grep -o '= [0-9,]* events/s' "$W/ndjson.txt" | tr -dc '0-9')
stop_yagura

start_yagura
python3 bench/ingest_load.py overload "$HTTP" "$YPID" $((RATE * 2)) "$OVER_SECS"
stop_yagura
