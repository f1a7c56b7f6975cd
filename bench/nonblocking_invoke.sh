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
WORK=$(mktemp -d /tmp/hotrod-nb-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
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
    --data '{"exec":{"kind":"nodejs:20","code":"function main(){return {}}"},"limits":{"memory":1024}}'
  curl -sS -o /dev/null -u "$AUTH" -X POST "http://127.0.0.1:$port/api/v1/namespaces/_/actions/noop?blocking=true" -d '{}'
  printf -v "PORT_$name" '%s' "$port"
}
start old "$OLD_BIN"
start new "$NEW_BIN"
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
