#!/bin/sh
# abi-dump.sh [BUILD_DIR]: write the ABI of BUILD_DIR's libsakhi.so (default build/) to
# client-lib/abi/libsakhi.abi, the baseline tests/install/abi-check.sh compares against. Run it
# when a release is made, and in the commit that makes a deliberate ABI break (with the
# SOVERSION bump): docs/CLIENT-API.md, "ABI and SONAME".
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
test -e "$build/client-lib/libsakhi.so" || { echo "abi-dump: no libsakhi.so in $build/client-lib (build it first)"; exit 1; }
lib=$(readlink -f "$build/client-lib/libsakhi.so")
abidw --headers-dir "$root/client-lib/include/sakhi" --no-corpus-path --no-comp-dir-path \
      --no-show-locs --drop-private-types --drop-undefined-syms --out-file "$root/client-lib/abi/libsakhi.abi" "$lib"
# compilation units named relative to the repository, so the dump holds no machine's paths
sed -i "s|path='$root/|path='|g" "$root/client-lib/abi/libsakhi.abi"
echo "abi-dump: wrote client-lib/abi/libsakhi.abi from $(basename "$lib")"
