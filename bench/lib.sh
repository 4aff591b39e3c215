# shellcheck shell=bash
# bench/lib.sh - what the benchmark scripts share, sourced by them after `set -euo pipefail`
# with BENCH set to the script's name (for messages): the tree and the build directory
# (ROOT, BUILD: $SAKHI_BUILD or ./build), the Python that reads the reports (PY), the
# processes a script starts (PIDS, stopped by pid with stop_all), waiting for a file a
# process writes, and one value of a JSON report.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SAKHI_BUILD:-$ROOT/build}
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
PIDS=()

die() { echo "$BENCH: $*" >&2; exit 1; }

# stop_all: stop every process in PIDS (each by its pid) and forget them
stop_all() {
    local p
    for p in "${PIDS[@]:-}"; do
        if [[ -n $p ]]; then kill -TERM "$p" 2>/dev/null || true; fi
    done
    for p in "${PIDS[@]:-}"; do
        if [[ -n $p ]]; then wait "$p" 2>/dev/null || true; fi
    done
    PIDS=()
}

# wait_file FILE SECONDS: until FILE is not empty; fails after SECONDS
wait_file() {
    local i
    for ((i = 0; i < $2 * 50; i++)); do [[ -s $1 ]] && return 0; sleep 0.02; done
    return 1
}

# j FILE a.b.c: one value of a JSON report
j() { "$PY" -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"; }

# need_built -x|-f FILE...: exit 2 unless every FILE is there (-x: and executable)
need_built() {
    local op=$1 b; shift
    for b in "$@"; do
        test "$op" "$b" || { echo "$BENCH: $b not built (cmake --build $BUILD)" >&2; exit 2; }
    done
}
