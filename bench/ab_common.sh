# Sourced by the scripts that compare two hotrod binaries in one run (ab_warm.sh,
# nonblocking_invoke.sh): a scratch directory, one guest key, and start_server, which starts a
# binary on a free port with a warm Node.js no-op action `noop` of MEMORY_MB (default 1024);
# SERVE_ARGS adds `hotrod serve` options.
WORK=$(mktemp -d /tmp/hotrod-ab-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$WORK"; }
trap cleanup EXIT

AUTH=$(cat /proc/sys/kernel/random/uuid):$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
start_server() {  # start_server NAME BIN -> sets PORT_<NAME>
  local name=$1 bin=$2 port=""
  HOTROD_GUEST_KEY=$AUTH "$bin" serve --listen 127.0.0.1:0 --data-dir "$WORK/$name" --log-level warn ${SERVE_ARGS:-} \
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
    --data "{\"exec\":{\"kind\":\"nodejs:20\",\"code\":\"function main(){return {}}\"},\"limits\":{\"memory\":${MEMORY_MB:-1024}}}"
  curl -sS -o /dev/null -u "$AUTH" -X POST "http://127.0.0.1:$port/api/v1/namespaces/_/actions/noop?blocking=true" -d '{}'
  printf -v "PORT_$name" '%s' "$port"
}
