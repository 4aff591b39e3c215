#!/usr/bin/env bash
# test.sh [build-dir] - the one test command: install missing dependencies, configure with
# warnings as errors, build (scripts/build.sh), and run every ctest test, ending with ctest's
# summary line.
#
# The README and CI (.ci/run) both call this script; nothing else spells out these steps.
# Environment (see also scripts/build.sh):
#   SAKHI_CMAKE_ARGS  extra cmake arguments, e.g. "-DSAKHI_SANITIZE=address,undefined"
#   SAKHI_SLOW=1      also run tests labelled "slow" (skipped by default)
#   SAKHI_JOBS        parallel build and test jobs (default 2)
#   SAKHI_CTEST_ARGS  extra ctest arguments, e.g. "-L unit"
# Exit status: non-zero when setup, configure, build or any test fails.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
JOBS=${SAKHI_JOBS:-2}

"$ROOT/scripts/build.sh" "$BUILD"

ctest_args=(--test-dir "$BUILD" --output-on-failure --no-tests=error -j "$JOBS")
if [[ "${SAKHI_SLOW:-0}" != 1 ]]; then
    ctest_args+=(-LE slow)
    echo "test.sh: skipping tests labelled slow (SAKHI_SLOW=1 runs them)"
fi
read -r -a extra_ctest <<<"${SAKHI_CTEST_ARGS:-}"
echo "test.sh: ctest ${ctest_args[*]} ${extra_ctest[*]}"
# exec: ctest's summary is the last thing printed, and its exit status is ours.
exec ctest "${ctest_args[@]}" "${extra_ctest[@]}"
