#!/usr/bin/env bash
# Non-blocking invoke latency (202 path) of two hotrod binaries in the same run: the 202 now waits
# for the activation journal's group commit (docs/operations.md, "Durable activations"), so this
# measures what that costs against a binary without the journal. Cases alternate over ROUNDS;
# percentiles come from the merged samples of all rounds (hotrod_loadgen --merge).
#
# Usage: OLD_BIN=/path/to/old/hotrod bench/nonblocking_invoke.sh  (NEW_BIN, LOADGEN_BIN, ROUNDS,
#        REQUESTS, CONNS from the environment). Prints one JSON line per binary and connection count.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NEW_BIN=${NEW_BIN:-$ROOT/build/hotrod}
OLD_BIN=${OLD_BIN:?set OLD_BIN to the hotrod binary to compare against}
LOADGEN=${LOADGEN_BIN:-$ROOT/build/hotrod_loadgen}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-1500}  # per round; a bounded count, since every 202 queues a real activation
CONNS=${CONNS:-"1 8"}
source "$ROOT/bench/ab_common.sh"
start_server old "$OLD_BIN"
start_server new "$NEW_BIN"
for c in $CONNS; do
  for ((r = 0; r < ROUNDS; r++)); do
    for name in old new; do
      port_var=PORT_$name
      "$LOADGEN" --url "http://127.0.0.1:${!port_var}/api/v1/namespaces/_/actions/noop" --method POST --body '{}' \
        --auth "$AUTH" --connections "$c" --requests "$REQUESTS" \
        --samples-out "$WORK/s-$name-$c-$r" --json >/dev/null
      sleep 3  # let the queued activations drain before the other binary's round
    done
  done
  for name in old new; do
    files=(); for ((r = 0; r < ROUNDS; r++)); do files+=(--merge "$WORK/s-$name-$c-$r"); done
    printf '{"binary":"%s","connections":%s,"result":%s}\n' "$name" "$c" "$("$LOADGEN" "${files[@]}" --json)"
  done
done
