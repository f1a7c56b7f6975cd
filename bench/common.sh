# Sourced by the Python-driven benchmark scripts: resolves BUILD_DIR, builds hotrod unless
# SKIP_BUILD=1, and runs the named Python benchmark with the system interpreter (a pyenv shim
# would add tens of ms to every interpreter start the cold-start baseline times).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-build}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
export BUILD_DIR
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  type_arg=(); [[ -f $BUILD_DIR/CMakeCache.txt ]] || type_arg=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  cmake -S "$ROOT" -B "$BUILD_DIR" "${type_arg[@]}" >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target hotrod ${BENCH_TARGETS:-} >/dev/null
fi
run_python_bench() { exec /usr/bin/python3 "$ROOT/bench/$1" "${@:2}"; }
