#!/usr/bin/env bash
# Warm invoke benchmark: how much a blocking, result-only invoke of a no-op function costs over
# HTTP keep-alive, as a ratio to the cheapest authenticated request the server answers
# (GET /api/v1/namespaces) measured in the same run. The machine is shared and noisy, so the
# cases alternate in rotating order over several short rounds, and each case's percentiles are
# computed over the union of its rounds' samples (hotrod_loadgen --merge).
#
# Usage: bench/warm_invoke.sh   (BUILD_DIR, ROUNDS, RUN_S, WIDE, SKIP_BUILD=1, HOTROD_BIN,
#                                LOADGEN_BIN and RESULTS_DIR from the environment; see below)
# Writes the table to stdout and to bench/results/warm_invoke-<date>.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
ROUNDS=${ROUNDS:-3}          # alternating rounds per case
RUN_S=${RUN_S:-3}            # seconds measured per case and round
WIDE=${WIDE:-32}             # connections of the throughput cases
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
PYTHON=/usr/bin/python3      # the system interpreter: a pyenv shim adds tens of ms per start

log() { printf '[warm_invoke %s] %s\n' "$(date +%T)" "$*" >&2; }

# --- build ---------------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  # Configure every time (a second or two): a tree configured before bench/ had targets
  # would not know hotrod_loadgen.
  type_arg=(); [[ -f $BUILD_DIR/CMakeCache.txt ]] || type_arg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  cmake -S "$ROOT" -B "$BUILD_DIR" "${type_arg[@]}" >/dev/null
  log "building hotrod and hotrod_loadgen in $BUILD_DIR"
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target hotrod hotrod_loadgen >/dev/null
fi
# HOTROD_BIN / LOADGEN_BIN measure given binaries instead (e.g. an older build, to compare).
HOTROD=${HOTROD_BIN:-$BUILD_DIR/hotrod}
LOADGEN=${LOADGEN_BIN:-$BUILD_DIR/hotrod_loadgen}
[[ -x $HOTROD && -x $LOADGEN ]] || { log "missing $HOTROD or $LOADGEN"; exit 1; }

# wrk is the independent cross-check of the throughput figure; the run goes on without it.
if ! command -v wrk >/dev/null 2>&1 && [[ $(id -u) = 0 ]]; then
  log "installing wrk"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null 2>&1 ||
    log "could not install wrk; skipping the cross-check"
fi
HAVE_WRK=0
command -v wrk >/dev/null 2>&1 && HAVE_WRK=1

# --- server ----------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/hotrod-bench.XXXXXX)
SERVER_PID=""
cleanup() {
  local rc=$?
  if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    # SIGTERM drains calls in flight and stops every instance; give it a bounded moment.
    for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
      log "server did not stop on SIGTERM; killing it"
      kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    local server_rc=0
    wait "$SERVER_PID" 2>/dev/null || server_rc=$?
    [[ $server_rc = 0 ]] || log "server exited with status $server_rc after SIGTERM"
  fi
  if [[ $rc != 0 && -f $WORK/server.log ]]; then
    log "failed (exit $rc); server log tail:"
    tail -n 20 "$WORK/server.log" >&2 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

UUID=$(cat /proc/sys/kernel/random/uuid)
KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
AUTH=$UUID:$KEY
HOTROD_GUEST_KEY=$AUTH "$HOTROD" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --log-level warn \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=""
for _ in $(seq 100); do
  PORT=$(sed -n 's|^hotrod listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$WORK/server.log")
  [[ -n $PORT ]] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { log "server exited at start"; exit 1; }
  sleep 0.1
done
[[ -n $PORT ]] || { log "server did not report its port"; exit 1; }
BASE=http://127.0.0.1:$PORT
log "server pid $SERVER_PID on $BASE"

# The actions' memory limit: the sandbox gives CPU in proportion to it (1769 MB = 1 core), so
# at 256 MB a single warm instance is capped at 0.144 core and the figures measure that cap.
MEMORY_MB=${MEMORY_MB:-256}

# PUT an action; fails the run unless the server says 200.
create_action() {
  local name=$1 kind=$2 code=$3 status
  status=$(curl -sS -o "$WORK/put.out" -w '%{http_code}' -u "$AUTH" -X PUT \
    -H 'Content-Type: application/json' "$BASE/api/v1/namespaces/_/actions/$name" \
    --data "{\"exec\": {\"kind\": \"$kind\", \"code\": \"$code\"}, \"limits\": {\"memory\": $MEMORY_MB}}")
  [[ $status = 200 ]] || { log "creating $name: HTTP $status $(cat "$WORK/put.out")"; exit 1; }
}
create_action noop-node nodejs:20 'function main() { return {} }'
create_action noop-python python:3.11 'def main(args):\n    return {}'

GET_URL=$BASE/api/v1/namespaces
NODE_URL="$BASE/api/v1/namespaces/_/actions/noop-node?blocking=true&result=true"
PY_URL="$BASE/api/v1/namespaces/_/actions/noop-python?blocking=true&result=true"

# run_case NAME CONNECTIONS SECONDS WARMUP [SAMPLES]: one loadgen run, its JSON line on stdout.
run_case() {
  local name=$1 conns=$2 secs=$3 warm=$4 samples=${5:-}
  local args=(--auth "$AUTH" --connections "$conns" --duration-s "$secs" --warmup-s "$warm" --json)
  [[ -n $samples ]] && args+=(--samples-out "$samples")
  case $name in
    get) "$LOADGEN" --url "$GET_URL" "${args[@]}" ;;
    node) "$LOADGEN" --url "$NODE_URL" --method POST --body '{}' "${args[@]}" ;;
    python) "$LOADGEN" --url "$PY_URL" --method POST --body '{}' "${args[@]}" ;;
  esac
}

# --- warm-up ---------------------------------------------------------------------------------
# The first call of each action is a cold start; then a wide burst lets the pool grow to what
# the wide cases need, so no measured round pays for a new instance.
for name in node python; do
  url=$NODE_URL; [[ $name = python ]] && url=$PY_URL
  status=$(curl -sS -o "$WORK/first.out" -w '%{http_code}' -u "$AUTH" -X POST \
    -H 'Content-Type: application/json' --data '{}' "$url")
  [[ $status = 200 ]] || { log "first $name invoke: HTTP $status $(cat "$WORK/first.out")"; exit 1; }
done
log "warming up"
for name in get node python; do
  run_case "$name" 1 1 0 >/dev/null
  run_case "$name" "$WIDE" 1.5 0 >/dev/null
done

# --- measured rounds -------------------------------------------------------------------------
CASES=(get node python)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for phase in narrow wide; do
  conns=1; [[ $phase = wide ]] && conns=$WIDE
  for ((r = 0; r < ROUNDS; r++)); do
    for ((i = 0; i < ${#CASES[@]}; i++)); do
      name=${CASES[$(((i + r) % ${#CASES[@]}))]}  # rotate the order every round
      log "$phase round $((r + 1))/$ROUNDS: $name x $conns"
      line=$(run_case "$name" "$conns" "$RUN_S" 0.3 "$WORK/samples-$phase-$name-$r")
      printf '{"phase":"%s","case":"%s","round":%d,"result":%s}\n' "$phase" "$name" "$r" "$line" \
        >>"$WORK/rounds.jsonl"
    done
  done
done
for phase in narrow wide; do
  for name in "${CASES[@]}"; do
    files=()
    for ((r = 0; r < ROUNDS; r++)); do files+=(--merge "$WORK/samples-$phase-$name-$r"); done
    line=$("$LOADGEN" "${files[@]}" --json)
    printf '{"phase":"%s","case":"%s","result":%s}\n' "$phase" "$name" "$line" >>"$WORK/merged.jsonl"
  done
done

# --- wrk cross-check -------------------------------------------------------------------------
: >"$WORK/wrk.jsonl"
if [[ $HAVE_WRK = 1 ]]; then
  AUTH_B64=$(printf '%s' "$AUTH" | base64 -w0)
  for name in get node python; do
    url=$GET_URL method=GET body=""
    [[ $name = node ]] && url=$NODE_URL method=POST body='{}'
    [[ $name = python ]] && url=$PY_URL method=POST body='{}'
    log "wrk: $name x $WIDE"
    # A cross-check only: a failed wrk run is reported and skipped, not fatal.
    out=$(WRK_METHOD=$method WRK_BODY=$body WRK_AUTH_B64=$AUTH_B64 \
      wrk -t1 -c"$WIDE" -d"${RUN_S}s" --timeout 10s -s "$ROOT/bench/wrk_invoke.lua" "$url" 2>&1) ||
      log "wrk failed on $name"
    line=$(grep '^{' <<<"$out" | tail -n1 || true)
    if [[ -n $line ]]; then
      printf '{"case":"%s","result":%s}\n' "$name" "$line" >>"$WORK/wrk.jsonl"
    else
      log "wrk gave no result for $name: $(tail -n2 <<<"$out")"
    fi
  done
fi
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
# How many instances the wide cases made the pool start: context for the throughput figures.
INSTANCES=$(for c in $(pgrep -P "$SERVER_PID" || true); do cat "/proc/$c/comm" 2>/dev/null || true; done |
  sort | uniq -c | awk '{printf "%s%s x %s", sep, $2, $1; sep=", "}')

# --- report ----------------------------------------------------------------------------------
mkdir -p "$RESULTS_DIR"
REPORT=$RESULTS_DIR/warm_invoke-$(date +%Y-%m-%d).md
git_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null) ]] && git_rev="$git_rev (with uncommitted changes)"
# Machine and run facts for the report header (the report script reads BENCH_* variables).
BENCH_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
BENCH_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
BENCH_NODE=$(/usr/bin/node --version 2>/dev/null || echo '?')
BENCH_PYTHON=$(/usr/bin/python3.11 --version 2>/dev/null || echo '?')
BENCH_NPROC=$(nproc)
BENCH_KERNEL=$(uname -r)
export BENCH_DATE BENCH_CPU BENCH_NODE BENCH_PYTHON BENCH_NPROC BENCH_KERNEL
export BENCH_GIT=$git_rev BENCH_LOAD="$LOAD_BEFORE (before) / $LOAD_AFTER (after)"
BENCH_BINARY="$HOTROD (built $(date -r "$HOTROD" +'%Y-%m-%d %H:%M'))"
export BENCH_BINARY
export BENCH_MEMORY_MB=$MEMORY_MB
export BENCH_ROUNDS=$ROUNDS BENCH_RUN_S=$RUN_S BENCH_WIDE=$WIDE BENCH_INSTANCES=${INSTANCES:-none}
"$PYTHON" "$ROOT/bench/warm_invoke_report.py" "$WORK/rounds.jsonl" "$WORK/merged.jsonl" "$WORK/wrk.jsonl" \
  >"$WORK/report.md"
cp "$WORK/report.md" "$REPORT"
cat "$WORK/report.md"
log "wrote $REPORT"
