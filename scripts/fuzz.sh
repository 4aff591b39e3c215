#!/usr/bin/env bash
# fuzz.sh [seconds] - build the libFuzzer targets with clang under ASan+UBSan and run each one
# for a bounded time on its seed corpus (tests/fuzz/corpus/, corpus_engine/, corpus_session/,
# corpus_client/, corpus_desk_form/, corpus_xfer/), with the protocol dictionary
# tests/fuzz/sakhi.dict. The targets and how each is built are in tests/fuzz/CMakeLists.txt.
#
# Environment:
#   SAKHI_FUZZ_SECONDS  seconds per target when no argument is given (default 60)
#   SAKHI_FUZZ_BUILD    build directory (default build-fuzz at the top of the tree)
# New interesting inputs go to $SAKHI_FUZZ_BUILD/corpus-<target>/ (never into the tree); a crash
# is saved under $SAKHI_FUZZ_BUILD/findings/ and fails the script. Copy each finding into
# tests/fuzz/corpus/ once fixed: the fuzz-smoke ctest test replays that folder in every build.
# Exit status: non-zero when the build fails or a target finds a crash, leak, timeout or OOM.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SAKHI_FUZZ_BUILD:-$ROOT/build-fuzz}
SECS=${1:-${SAKHI_FUZZ_SECONDS:-60}}
TARGETS=(fuzz_frame fuzz_engine fuzz_session fuzz_client fuzz_desk_form fuzz_xfer)

if ! command -v clang >/dev/null 2>&1; then
    echo "fuzz.sh: clang not found (scripts/setup-deps.sh installs it)" >&2
    exit 2
fi

CC=clang cmake -S "$ROOT" -B "$BUILD" -DSAKHI_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSAKHI_BUILD_SERVER=ON -DSAKHI_BUILD_TOOLS=OFF -DSAKHI_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD" --target "${TARGETS[@]}" -j "${SAKHI_JOBS:-2}"

mkdir -p "$BUILD/findings"
status=0
for t in "${TARGETS[@]}"; do
    work="$BUILD/corpus-$t"
    case $t in # seed corpus of each target (replayed by ctest, label fuzz-smoke)
    fuzz_engine) seeds="$ROOT/tests/fuzz/corpus_engine" ;;
    fuzz_session) seeds="$ROOT/tests/fuzz/corpus_session" ;;
    fuzz_client) seeds="$ROOT/tests/fuzz/corpus_client" ;;
    fuzz_desk_form) seeds="$ROOT/tests/fuzz/corpus_desk_form" ;;
    fuzz_xfer) seeds="$ROOT/tests/fuzz/corpus_xfer" ;;
    *) seeds="$ROOT/tests/fuzz/corpus" ;;
    esac
    mkdir -p "$work"
    echo "fuzz.sh: $t for ${SECS}s"
    if ! "$BUILD/tests/$t" -max_total_time="$SECS" -rss_limit_mb=512 -malloc_limit_mb=64 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$BUILD/findings/$t-" \
        -dict="$ROOT/tests/fuzz/sakhi.dict" "$work" "$seeds"; then
        echo "fuzz.sh: $t FAILED; inputs in $BUILD/findings/" >&2
        status=1
    fi
done
exit $status
