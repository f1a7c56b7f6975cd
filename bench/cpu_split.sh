#!/usr/bin/env bash
# Where a warm invoke's CPU goes: runs wrk against a Node.js no-op on one hotrod binary and prints
# requests/s and the CPU per invoke (us) of each server thread (the event loop is the thread
# whose id is the process id; the activation-log writer is the next busiest) and of all
# instances together, from /proc/<pid>/task/<tid>/stat around the run.
#
# Usage: bench/cpu_split.sh BIN [CONNECTIONS=32] [SECONDS=5] [MEMORY_MB=256]
#        SERVE_ARGS="--max-per-action 4" adds `hotrod serve` options.
# Alternate binaries or settings in one loop and compare within it: timings on a shared machine
# move between minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$1; C=${2:-32}; S=${3:-5}; MEMORY_MB=${4:-256}
export MEMORY_MB
source "$ROOT/bench/ab_common.sh"
start_server s "$BIN"
SPID=${PIDS[0]}
URL="http://127.0.0.1:$PORT_s/api/v1/namespaces/_/actions/noop?blocking=true"
export WRK_METHOD=POST WRK_AUTH_B64=$(printf %s "$AUTH" | base64 -w0) WRK_BODY='{}'
wrk -t1 -c"$C" -d1s -s "$ROOT/bench/wrk_invoke.lua" "$URL" >/dev/null  # warm: instances exist
ticks() {  # "<name> <utime+stime ticks>" per server thread and per instance thread
  for t in /proc/"$SPID"/task/*; do echo "server-thread-$(basename "$t") $(awk '{print $14+$15}' "$t/stat")"; done
  for p in $(pgrep -P "$SPID") $(for q in $(pgrep -P "$SPID"); do pgrep -P "$q"; done); do
    for t in /proc/"$p"/task/*; do echo "instances $(awk '{print $14+$15}' "$t/stat" 2>/dev/null || echo 0)"; done
  done
}
ticks >"$WORK/before"
wrk -t1 -c"$C" -d"${S}s" -s "$ROOT/bench/wrk_invoke.lua" "$URL" >"$WORK/wrk"
ticks >"$WORK/after"
tail -1 "$WORK/wrk"
python3 - "$WORK/before" "$WORK/after" "$WORK/wrk" "$(getconf CLK_TCK)" <<'PY'
import collections, json, sys
def load(path):
    d = collections.Counter()
    for line in open(path):
        name, ticks = line.split()
        d[name] += int(ticks)
    return d
before, after = load(sys.argv[1]), load(sys.argv[2])
count = json.loads(open(sys.argv[3]).read().strip().splitlines()[-1])["count"]
us_per_tick = 1e6 / int(sys.argv[4])
for name in sorted(after):
    us = (after[name] - before.get(name, 0)) * us_per_tick / count
    if us >= 0.5:
        print(f"{name:28s} {us:7.1f} us/invoke")
PY
echo "instance processes (with stem cells and their launchers): $(pgrep -P "$SPID" | wc -l)"
