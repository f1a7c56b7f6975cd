#!/usr/bin/env bash
# Warm blocking invoke of a Node.js no-op, and the authenticated GET, on two hotrod binaries in
# the same run: a regression check of the whole warm path (e.g. a release against the previous
# one). Cases alternate over ROUNDS; percentiles come from the merged samples of all rounds.
#
# Usage: OLD_BIN=/path/to/old/hotrod bench/ab_warm.sh  (NEW_BIN, LOADGEN_BIN, ROUNDS, RUN_S,
#        CONNS, MEMORY_MB from the environment). Prints one JSON line per binary, case and
#        connection count.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NEW_BIN=${NEW_BIN:-$ROOT/build/hotrod}
OLD_BIN=${OLD_BIN:?set OLD_BIN to the hotrod binary to compare against}
LOADGEN=${LOADGEN_BIN:-$ROOT/build/hotrod_loadgen}
ROUNDS=${ROUNDS:-3}
RUN_S=${RUN_S:-5}
CONNS=${CONNS:-"1 32"}
MEMORY_MB=${MEMORY_MB:-2048}  # large enough that the CPU share never throttles the instance
WORK=$(mktemp -d /tmp/hotrod-ab-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$WORK"; }
trap cleanup EXIT

AUTH=$(cat /proc/sys/kernel/random/uuid):$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
start() {  # start NAME BIN -> sets PORT_<NAME>
  local name=$1 bin=$2 port=""
  HOTROD_GUEST_KEY=$AUTH "$bin" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name" --log-level warn \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    port=$(sed -n 's|^hotrod listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/$name.log")
    [[ -n $port ]] && break
    sleep 0.1
  done
  [[ -n $port ]] || { echo "server $name did not start" >&2; exit 1; }
  curl -sS -o /dev/null -u "$AUTH" -X PUT -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/api/v1/namespaces/_/actions/noop" \
    --data "{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"function main(){return {}}\"},\"limits\":{\"memory\":$MEMORY_MB}}"
  curl -sS -o /dev/null -u "$AUTH" -X POST "http://127.0.0.1:$port/api/v1/namespaces/_/actions/noop?blocking=true" -d '{}'
  printf -v "PORT_$name" '%s' "$port"
}
start old "$OLD_BIN"
start new "$NEW_BIN"
run() {  # run NAME CASE CONNS ROUND
  local name=$1 case=$2 c=$3 r=$4 port_var=PORT_$1 args
  if [[ $case = invoke ]]; then
    args=(--url "http://127.0.0.1:${!port_var}/api/v1/namespaces/_/actions/noop?blocking=true" --method POST --body '{}')
  else
    args=(--url "http://127.0.0.1:${!port_var}/api/v1/namespaces")
  fi
  "$LOADGEN" "${args[@]}" --auth "$AUTH" --connections "$c" --duration-s "$RUN_S" --warmup-s 1 \
    --samples-out "$WORK/s-$name-$case-$c-$r" --json >/dev/null
}
for c in $CONNS; do
  for ((r = 0; r < ROUNDS; r++)); do
    # Rotate the order each round so neither binary always runs first.
    if ((r % 2 == 0)); then order=(old new); else order=(new old); fi
    for name in "${order[@]}"; do
      run "$name" get "$c" "$r"
      run "$name" invoke "$c" "$r"
    done
  done
  for name in old new; do
    for case in get invoke; do
      files=(); for ((r = 0; r < ROUNDS; r++)); do files+=(--merge "$WORK/s-$name-$case-$c-$r"); done
      printf '{"binary":"%s","case":"%s","connections":%s,"result":%s}\n' "$name" "$case" "$c" \
        "$("$LOADGEN" "${files[@]}" --json)"
    done
  done
done
