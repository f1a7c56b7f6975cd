#!/usr/bin/env bash
# Runs every fuzz target for a short fixed time on a copy of its seed corpus, for CI.
#   tests/fuzz/run.sh [build-dir] [seconds per target]     (defaults: build-fuzz, 20)
# Build the targets first with `make fuzz`. A target fails when libFuzzer reports a crash, a
# sanitizer error, a failed check, a leak, a timeout or running out of memory; its reproducer is
# kept under $FUZZ_ARTIFACTS (default: a temporary directory that is printed) and its log tail
# is shown. The repository's corpus is never modified: new inputs go to a temporary copy.
# Last line: "fuzz: N passed, M failed"; exit status 1 when M > 0.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${1:-build-fuzz}
SECONDS_PER_TARGET=${2:-20}
TARGETS=(target_fuzz request_body_fuzz zip_fuzz cloudevent_fuzz cron_fuzz web_fuzz entity_path_fuzz)

work=$(mktemp -d "${TMPDIR:-/tmp}/hotrod-fuzz.XXXXXX")
artifacts=${FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$artifacts"
trap 'rm -rf "$work/corpus" "$work/scratch"' EXIT

passed=0
failed=0
for t in "${TARGETS[@]}"; do
  bin=$BUILD_DIR/tests/fuzz/$t
  if [ ! -x "$bin" ]; then
    echo "fuzz: $t: FAILED: $bin is not built (run make fuzz)"
    failed=$((failed + 1))
    continue
  fi
  corpus=$work/corpus/$t
  mkdir -p "$corpus" "$work/scratch/$t"
  cp -r tests/fuzz/corpus/"$t"/. "$corpus"/ 2>/dev/null || true
  log=$work/$t.log
  # TMPDIR: zip_fuzz extracts every input to disk; tmpfs keeps that cheap when there is one.
  scratch=$work/scratch/$t
  [ -d /dev/shm ] && [ -w /dev/shm ] && scratch=$(mktemp -d /dev/shm/hotrod-fuzz.XXXXXX)
  start=$(date +%s)
  TMPDIR=$scratch "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/$t-" -print_final_stats=1 "$corpus" >"$log" 2>&1
  rc=$?
  [ "$scratch" != "$work/scratch/$t" ] && rm -rf "$scratch"
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  if [ $rc -eq 0 ]; then
    echo "fuzz: $t: ok ($(( $(date +%s) - start )) s, ${runs:-?} runs)"
    passed=$((passed + 1))
  else
    echo "fuzz: $t: FAILED (exit $rc); reproducers in $artifacts:"
    ls "$artifacts" | grep "^$t-" | sed 's/^/  /'
    tail -n 40 "$log" | sed 's/^/  | /'
    failed=$((failed + 1))
  fi
done
[ $failed -eq 0 ] && [ -z "${FUZZ_ARTIFACTS:-}" ] && rm -rf "$work"
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
