#!/bin/sh
# tsan.sh - the ThreadSanitizer half of campaign 8 (issue 9, docs/RELIABILITY.md): build the
# server and the tests that exercise threads with -DSAKHI_SANITIZE=thread in a build directory
# of their own, run them, and report each run and every data race TSan found.
#
# Usage: scripts/tsan.sh [BUILD_DIR]   (default build-tsan beside the sources; exit 0 = no report)
# Env:   TSAN_JOBS (build parallelism, default 2), TSAN_NO_BUILD=1 (use the build as it is),
#        TSAN_TIMEOUT (seconds per test run, default 900), TSAN_TESTS (a space-separated subset
#        of the runs below, e.g. TSAN_TESTS=test_client_sync).
# Runs: test_server_sync (the server's writer thread behind the libuv loop, and every
# sakhi-server it starts, also built with TSan), test_server_load (200 concurrent sessions),
# test_client_sync (capture during sync, cancel from another thread), and
# test_campaign_server_crash (four device threads, server killed 10 times: CP_KILLS=10).
# Every TSan report of every process goes to BUILD_DIR/tsan-logs/tsan.<pid> (TSAN_OPTIONS
# log_path), so reports from servers the tests start are counted too.
# Not a ctest test: it needs a whole sanitizer build, which CI has no time for.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$SRC/build-tsan}
JOBS=${TSAN_JOBS:-2}
TMO=${TSAN_TIMEOUT:-900}
TARGETS="sakhi-server test_server_sync test_server_load test_client_sync test_campaign_server_crash"

if [ "${TSAN_NO_BUILD:-0}" != 1 ]; then
    mkdir -p "$B"
    cmake -S "$SRC" -B "$B" -DSAKHI_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSAKHI_WERROR=ON >"$B/tsan-configure.log" 2>&1 ||
        { echo "tsan: configure failed ($B/tsan-configure.log)"; exit 2; }
    for t in $TARGETS; do
        cmake --build "$B" -j"$JOBS" --target "$t" >>"$B/tsan-build.log" 2>&1 ||
            { echo "tsan: build of $t failed ($B/tsan-build.log)"; exit 2; }
    done
fi

LOGS="$B/tsan-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
# second_deadlock_stack: lock-order reports show both stacks; exitcode 66 tells a TSan
# failure from a test failure; halt_on_error=0 collects every report of a run.
export TSAN_OPTIONS="log_path=$LOGS/tsan second_deadlock_stack=1 exitcode=66 halt_on_error=0 history_size=4"
export CP_KILLS=${CP_KILLS:-10}

fail=0
for t in ${TSAN_TESTS:-test_server_sync test_server_load test_client_sync test_campaign_server_crash}; do
    exe=$(find "$B" -name "$t" -type f -perm -u+x | head -1)
    if [ -z "$exe" ]; then
        echo "tsan: $t not built"; fail=1; continue
    fi
    before=$(ls "$LOGS" | wc -l)
    t0=$(date +%s)
    timeout "$TMO" "$exe" >"$B/tsan-$t.out" 2>&1
    rc=$?
    after=$(ls "$LOGS" | wc -l)
    files=$((after - before))
    if [ $rc -eq 0 ] && [ $files -eq 0 ]; then r=clean; else r="FAILED (exit $rc, $files report files)"; fail=1; fi
    echo "tsan: $t $r ($(( $(date +%s) - t0 )) s, output $B/tsan-$t.out)"
done

# One line per distinct report: its kind and the first frame of each of its two stacks in
# project code, so the same race seen in many processes is listed once.
if [ -n "$(ls "$LOGS")" ]; then
    echo "tsan: reports (kind | first project frames), count:"
    for f in "$LOGS"/tsan.*; do
        awk -v f="$f" '
            /^WARNING: ThreadSanitizer:/ { if (kind != "") print kind " | " frames; kind = $0; sub(/^WARNING: ThreadSanitizer: /, "", kind); sub(/ \(pid=.*$/, "", kind); frames = ""; n = 0; want = 1; next }
            /^  (Write|Read|Previous|Atomic|Mutex|Thread|Location)/ { want = 1 }
            /^    #[0-9]+ / && want && $0 ~ /\/(server|client-lib|proto|tools|tests)\// {
                loc = $3; sub(/.*\//, "", loc); frames = frames (n++ ? " ; " : "") $2 " " loc; want = 0 }
            END { if (kind != "") print kind " | " frames }' "$f"
    done | sort | uniq -c | sort -rn
fi
exit $fail
