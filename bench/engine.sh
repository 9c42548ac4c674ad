#!/usr/bin/env bash
# Benchmark of the detection engine alone (crates/yagura-sigma/benches/engine.rs): every
# ../shared/sigma/rules* folder loaded, the Windows plan evaluated on one core over the events
# decoded (before timing) from ../shared/data/evtx/. Prints events/s beside the floor of merely
# touching every field of every event, and the peak memory of the benchmark process.
#
# Usage: bench/engine.sh [--quick]   (--quick: one pass per benchmark, no statistics; for CI)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
LOG="$(mktemp "${TMPDIR:-/tmp}/yagura-engine.XXXXXX")"
trap 'rm -f "$LOG"' EXIT

if [[ "${1:-}" == "--quick" ]]; then
    # Release profile without LTO, each benchmark run once (criterion's test mode).
    cargo test --release -q -p yagura-sigma --bench engine 2>&1 | tee "$LOG"
    grep -q "engine: peak RSS" "$LOG"
    echo "engine benchmark smoke run: ok"
    exit 0
fi

cargo bench -q -p yagura-sigma --bench engine 2>&1 | tee "$LOG"

thrpt() { # median throughput (elements/s) of a benchmark id, from criterion's output
    awk -v id="$1" '
        $1 == id { found = 1 }
        found && /thrpt:/ { v = $4; u = $5;
            m = (u ~ /^M/) ? 1e6 : (u ~ /^K/) ? 1e3 : 1; printf "%.0f", v * m; exit }' "$LOG"
}
EVAL=$(thrpt engine/evaluate)
FLOOR=$(thrpt engine/bind_floor)
RSS=$(sed -n 's/.*peak RSS \([0-9]*\) MiB.*/\1/p' "$LOG")
INFO=$(grep '^engine: [0-9]' "$LOG" | head -1)
echo
echo "$INFO"
printf '%-34s %14s\n' "measure (one core)" "events/s"
printf '%-34s %14s\n' "floor: touch every field" "$FLOOR"
printf '%-34s %14s\n' "yagura-sigma: evaluate plan" "$EVAL"
printf '%-34s %14s\n' "target" "200000"
echo "peak RSS of the benchmark process: ${RSS} MiB (rules, plan, automata, decoded events)"
