#!/bin/sh
# valgrind.sh - campaign 8 of issue 9: run the unit tests and a server round trip under
# Valgrind memcheck (--leak-check=full --error-exitcode=1) and report each result.
# Usage: tests/campaign/valgrind.sh BUILD_DIR  (a plain, non-sanitizer build; exit 0 = all clean)
# test_server_sync runs twice: once itself under memcheck (the client side and the store API),
# once with every sakhi-server it starts under memcheck (SAKHI_SERVER_BIN names a wrapper).
set -u
B=${1:?usage: valgrind.sh BUILD_DIR}
VG="valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=1 --track-fds=no"
command -v valgrind >/dev/null 2>&1 || { echo "valgrind.sh: valgrind not installed" >&2; exit 77; }
fail=0
run() {
    name=$1; shift
    t0=$(date +%s)
    if $VG "$@" >"$B/vg-$name.log" 2>&1; then r=clean; else r=FAILED; fail=1; fi
    echo "valgrind: $name $r ($(( $(date +%s) - t0 )) s, log $B/vg-$name.log)"
}
for t in test_mp test_frame test_record test_msg test_case test_auth test_merge test_vectors test_frame_and_errors; do
    exe=$(find "$B" -name "$t" -type f -perm -u+x | head -1)
    [ -n "$exe" ] && run "$t" "$exe"
done
exe=$(find "$B" -name test_client_store -type f -perm -u+x | head -1)
[ -n "$exe" ] && run test_client_store "$exe"
exe=$(find "$B" -name test_server_sync -type f -perm -u+x | head -1)
[ -n "$exe" ] && run test_server_sync "$exe"
# the server itself: test_server_sync's round trips against sakhi-server under memcheck, through
# a wrapper named by SAKHI_SERVER_BIN (the harness runs that instead of the built server)
srv=$(find "$B" -name sakhi-server -type f -perm -u+x | head -1)
exe=$(find "$B" -name test_server_sync -type f -perm -u+x | head -1)
if [ -n "$srv" ] && [ -n "$exe" ]; then
    rm -f "$B"/vg-server.*.log
    printf '#!/bin/sh\nexec %s --log-file=%s/vg-server.%%p.log %s "$@"\n' "$VG" "$B" "$srv" >"$B/vg-server.sh"
    chmod +x "$B/vg-server.sh"
    t0=$(date +%s)
    SAKHI_SERVER_BIN="$B/vg-server.sh" "$exe" >"$B/vg-roundtrip.log" 2>&1; rc=$?
    errs=$(cat "$B"/vg-server.*.log 2>/dev/null | grep -c 'ERROR SUMMARY: [1-9]\|definitely lost\|Invalid')
    n=$(ls "$B"/vg-server.*.log 2>/dev/null | wc -l)
    if [ $rc -eq 0 ] && [ "$errs" -eq 0 ]; then r=clean; else r="FAILED (test rc $rc, $errs error lines)"; fail=1; fi
    echo "valgrind: sakhi-server under test_server_sync ($n server runs) $r ($(( $(date +%s) - t0 )) s)"
fi
exit $fail
