#!/bin/sh
# install-test.sh BUILD_DIR SOURCE_DIR: install the build into a temporary prefix, then build
# the example (client-lib/examples/capture_sync.c) as an outside program twice, with
# `pkg-config --cflags --libs sakhi` and with find_package(sakhi) (shared and static), and run
# each build once against a fresh store. Then install everything (tools too) into a second
# prefix and run the installed `sakhi` CLI with no LD_LIBRARY_PATH: it must find the installed
# libsakhi through its RUNPATH ($ORIGIN/../lib). Fails on the first step that fails.
set -eu
build=$1
src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sakhi-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" --component libsakhi >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
libdir=$(ls -d "$prefix"/lib*/pkgconfig | head -1 | xargs dirname)
test -f "$prefix/include/sakhi/sakhi.h"
test -f "$libdir/libsakhi.a"
soname=$(readelf -d "$build/client-lib/libsakhi.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case $soname in libsakhi.so.[0-9]*) ;; *) echo "unexpected SONAME '$soname'"; exit 1 ;; esac
test -L "$libdir/$soname" || test -f "$libdir/$soname"
test -f "$libdir/cmake/sakhi/sakhiConfig.cmake"
test -f "$libdir/cmake/sakhi/sakhiConfigVersion.cmake"
# The internal headers and protocol headers are not part of the install.
if ls "$prefix/include" | grep -v '^sakhi$' | grep -q 'sk_'; then echo "internal headers installed"; exit 1; fi
example=$src/client-lib/examples/capture_sync.c
run() {
    SAKHI_EXAMPLE_FAST_KDF=1 LD_LIBRARY_PATH=$libdir "$1" "$tmp/store-$2" 583920 >"$tmp/out-$2"
    grep -q '^1 records, 1 pending$' "$tmp/out-$2" || { echo "$2: unexpected output"; cat "$tmp/out-$2"; exit 1; }
}
# 1. pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc -std=c17 -Wall -Wextra -Werror -o "$tmp/ex-pc" "$example" $(pkg-config --cflags --libs sakhi)
run "$tmp/ex-pc" pc
# 2. find_package(sakhi): shared and static, from the outside project in consumer/
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
      -DSAKHI_EXAMPLE="$example" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$tmp/cfg.log" 2>&1 ||
    { cat "$tmp/cfg.log"; exit 1; }
cmake --build "$tmp/consumer" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
run "$tmp/consumer/consumer_shared" shared
run "$tmp/consumer/consumer_static" static
# the static build must not need the shared library
if ldd "$tmp/consumer/consumer_static" | grep -q libsakhi; then echo "static consumer uses libsakhi.so"; exit 1; fi

# 3. The whole install, somewhere no loader path points: the CLI runs from its own RUNPATH.
full=$tmp/full
cmake --install "$build" --prefix "$full" >"$tmp/install-full.log" 2>&1 || { cat "$tmp/install-full.log"; exit 1; }
readelf -d "$full/bin/sakhi" | grep -E '\((RUNPATH|RPATH)\).*\$ORIGIN/' >/dev/null ||
    { echo "installed sakhi has no \$ORIGIN RUNPATH:"; readelf -d "$full/bin/sakhi" | grep -E 'PATH'; exit 1; }
# Move the prefix after installing: a relative RUNPATH must not care where the prefix is.
mv "$full" "$tmp/moved"
full=$tmp/moved
out=$(env -u LD_LIBRARY_PATH "$full/bin/sakhi" --version 2>&1) || { echo "installed sakhi does not run: $out"; exit 1; }
case $out in "sakhi "*"(libsakhi "*")") ;; *) echo "installed sakhi --version said: $out"; exit 1 ;; esac
# ... and it loaded the installed copy, not the build tree's.
env -u LD_LIBRARY_PATH ldd "$full/bin/sakhi" | grep -q "=> $full/bin/\.\./lib[^ ]*/$soname" ||
    { echo "installed sakhi does not load $full's libsakhi:"; env -u LD_LIBRARY_PATH ldd "$full/bin/sakhi"; exit 1; }
echo 583920 >"$tmp/pin"
env -u LD_LIBRARY_PATH "$full/bin/sakhi" --store "$tmp/cli-store" --pin-file "$tmp/pin" --quiet init ||
    { echo "installed sakhi cannot create a store"; exit 1; }
echo "install test passed"
