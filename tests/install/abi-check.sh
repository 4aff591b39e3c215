#!/bin/sh
# abi-check.sh LIBRARY HEADER_DIR BASELINE SUPPRESSIONS: compare the ABI of the built
# libsakhi.so against the committed dump of the last release (client-lib/abi/libsakhi.abi) with
# abidiff (Debian's abigail-tools), and fail on any change that is not an addition:
#   - a removed or renamed function, a changed parameter or return type, a changed SONAME;
#   - a changed layout of a public struct, except members appended to a versioned struct (the
#     ones with a `version` member, listed in SUPPRESSIONS), which old callers never read.
# New functions are allowed (an app built against the last release still finds everything it
# used). A deliberate break bumps the SOVERSION in client-lib/CMakeLists.txt and regenerates the
# dump (scripts/abi-dump.sh) in the same commit: docs/CLIENT-API.md, "ABI and SONAME".
set -eu
lib=$1; headers=$2; baseline=$3; supp=$4
for t in abidw abidiff; do
    command -v "$t" >/dev/null 2>&1 || { echo "abi-check: $t not found (apt-get install abigail-tools)"; exit 1; }
done
test -r "$baseline" || { echo "abi-check: no baseline dump $baseline"; exit 1; }
# Without DWARF abidw sees only symbol names and the check would pass on a changed struct.
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
    echo "abi-check: $lib has no debug info; build with -g (RelWithDebInfo or Debug)"
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sakhi-abi-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
abidw --headers-dir "$headers" --no-corpus-path --no-comp-dir-path --no-show-locs --drop-private-types \
      --drop-undefined-syms --out-file "$tmp/current.abi" "$lib"
set +e
abidiff --no-added-syms --suppressions "$supp" "$baseline" "$tmp/current.abi" >"$tmp/report" 2>&1
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    echo "abi-check: libsakhi's ABI differs from the last release's (abidiff status $rc):"
    cat "$tmp/report"
    echo
    echo "abi-check: if this break is deliberate, bump SAKHI_SOVERSION in client-lib/CMakeLists.txt"
    echo "abi-check: and run scripts/abi-dump.sh BUILD_DIR, then commit both with the change."
    exit 1
fi
# Members appended to a versioned struct were let through above; check they were only appended.
python3 "$(dirname "$0")/abi-versioned.py" "$baseline" "$tmp/current.abi" || {
    echo "abi-check: a versioned struct changed other than by appending (see above)"
    exit 1
}
# Report additions, for the reviewer (they do not fail the check).
abidiff --suppressions "$supp" "$baseline" "$tmp/current.abi" | grep -E 'Added|\[A\]' || true
echo "abi-check: no incompatible change against $(basename "$baseline")"
