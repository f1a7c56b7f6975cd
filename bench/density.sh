#!/usr/bin/env bash
# Density: idle memory of a warm instance beyond the interpreter's own (bench/density.sh). Settings from the environment: see bench/density.py.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
run_python_bench density.py "$@"
