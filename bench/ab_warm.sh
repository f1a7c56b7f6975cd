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
source "$ROOT/bench/ab_common.sh"
start_server old "$OLD_BIN"
start_server new "$NEW_BIN"
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
