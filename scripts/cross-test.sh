#!/usr/bin/env bash
# cross-test.sh [aarch64|armhf] [build-dir] - build the client library, the protocol code and
# their tests for an ARM phone architecture with Debian's cross compiler and multiarch -dev
# packages, and run the tests under qemu-user (ctest, through the toolchain file's emulator).
#
# The server, the tools and the benchmarks are not cross-built (phones only embed libsakhi).
# Tests run: labels "unit" and "fuzz-smoke". Tests that start other built programs (fault
# injection, install test, server tests) are not run: without binfmt_misc, which a container
# cannot register, a program under qemu-user cannot exec another ARM program.
#
# Idempotent: adds the dpkg architecture and installs packages only when missing, so a second
# run needs no network. Needs root only when something must be installed. Never downgrades an
# installed amd64 package to match a foreign one: multiarch -dev packages must have the same
# version for both architectures, and when the archive does not serve it the script says which
# package and stops. If apt-get update fails for an architecture this script has just added, it
# removes that architecture again so that apt keeps working for everything else.
#
# Environment:
#   SAKHI_SKIP_DEPS=1  do not check or install packages
#   SAKHI_JOBS         parallel build and test jobs (default 2)
# Exit status: 0 when every selected test passed; 1 on a build or test failure; 2 when the
# Debian archive cannot provide matching packages (nothing about the project was tested).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARCH=${1:-aarch64}
JOBS=${SAKHI_JOBS:-2}
START=$SECONDS

case "$ARCH" in
aarch64 | arm64)
    ARCH=aarch64 DEB_ARCH=arm64 QEMU=qemu-aarch64 ELF_MACHINE=AArch64
    ;;
armhf | arm)
    ARCH=armhf DEB_ARCH=armhf QEMU=qemu-arm ELF_MACHINE=ARM
    ;;
*)
    echo "usage: $0 [aarch64|armhf] [build-dir]" >&2
    exit 64
    ;;
esac
BUILD=${2:-$ROOT/build-cross-$ARCH}
TOOLCHAIN=$ROOT/cmake/toolchain-$ARCH.cmake

say() { echo "cross-test[$ARCH]: $*"; }

# Packages: the cross toolchain and emulator (native), and the -dev packages of what libsakhi,
# sakhi_proto and the tests link (foreign). libuv is not needed: the top-level CMakeLists.txt looks
# it up only when the server or tools are built. Package versions are compared per architecture
# (pkg:amd64), since once arm64 is added dpkg reports multiarch packages once per architecture.
HOST_PACKAGES=("crossbuild-essential-$DEB_ARCH" qemu-user cmake pkg-config python3 python3-msgpack)
DEV_PACKAGES=(libmsgpack-dev liblmdb-dev libssl-dev libcmocka-dev libzstd-dev libargon2-dev)

installed_version() # package[:arch] -> version, empty when not installed
{
    dpkg-query -W -f='${db:Status-Status} ${Version}' "$1" 2>/dev/null |
        awk '$1 == "installed" {print $2}'
}

ensure_packages()
{
    local missing=() p added_arch=0
    if ! dpkg --print-foreign-architectures | grep -qx "$DEB_ARCH"; then
        [[ $(id -u) -eq 0 ]] || { say "dpkg architecture $DEB_ARCH missing and not root" >&2; exit 1; }
        say "dpkg --add-architecture $DEB_ARCH"
        dpkg --add-architecture "$DEB_ARCH"
        added_arch=1
    fi
    for p in "${HOST_PACKAGES[@]}"; do
        [[ -n $(installed_version "$p") ]] || missing+=("$p")
    done
    for p in "${DEV_PACKAGES[@]}"; do
        [[ -n $(installed_version "$p:$DEB_ARCH") ]] || missing+=("$p:$DEB_ARCH")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        say "all packages present"
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || { say "missing ${missing[*]} and not root" >&2; exit 1; }
    say "missing: ${missing[*]}"

    local log
    log=$(mktemp)
    if ! apt-get update >"$log" 2>&1 || grep -q '^[EW]: Failed to fetch' "$log"; then
        grep -E '^(E|W|Err):' "$log" >&2 || true
        if grep -q "binary-$DEB_ARCH" "$log"; then
            say "the archive's $DEB_ARCH index could not be fetched (above): without it apt" >&2
            say "cannot see the $DEB_ARCH packages that match the installed amd64 versions." >&2
            if [[ $added_arch == 1 ]]; then
                dpkg --remove-architecture "$DEB_ARCH"
                apt-get update >/dev/null 2>&1 || true
                say "removed architecture $DEB_ARCH again so apt keeps working" >&2
            fi
            rm -f "$log"
            exit 2
        fi
        rm -f "$log"
        say "apt-get update failed" >&2
        exit 1
    fi
    rm -f "$log"

    # Multi-Arch: same packages must have one version for all architectures. apt upgrades the
    # amd64 package when the foreign candidate is newer; when it is older, stop: never downgrade.
    local native cand bad=0
    for p in "${DEV_PACKAGES[@]}"; do
        native=$(installed_version "$p:$(dpkg --print-architecture)")
        cand=$(apt-cache policy "$p:$DEB_ARCH" | awk '/Candidate:/ {print $2}')
        if [[ -z "$cand" || "$cand" == "(none)" ]]; then
            say "$p:$DEB_ARCH: the archive serves no version" >&2
            bad=1
        elif [[ -n "$native" ]] && dpkg --compare-versions "$cand" lt "$native"; then
            say "$p:$DEB_ARCH: archive serves $cand, older than the installed $p $native;" >&2
            say "  co-installing would downgrade $p (not done)" >&2
            bad=1
        fi
    done
    if [[ $bad == 1 ]]; then
        exit 2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

if [[ "${SAKHI_SKIP_DEPS:-0}" == 1 ]]; then
    say "SAKHI_SKIP_DEPS=1, not checking packages"
else
    ensure_packages
fi
DEPS_DONE=$SECONDS

say "configure $BUILD with $TOOLCHAIN"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DSAKHI_WERROR=ON \
    -DSAKHI_BUILD_SERVER=OFF -DSAKHI_BUILD_TOOLS=OFF -DSAKHI_BUILD_BENCH=OFF
cmake --build "$BUILD" -j "$JOBS"
BUILD_DONE=$SECONDS

# The binaries must really be for the target: a native build would pass the tests vacuously.
for f in "$BUILD/client-lib/libsakhi.so" "$BUILD/tests/test_client_store" "$BUILD/tests/test_frame_and_errors"; do
    machine=$(readelf -h "$f" | awk -F: '/Machine:/ {gsub(/^ +/, "", $2); print $2}')
    if [[ "$machine" != "$ELF_MACHINE" ]]; then
        say "$f is built for '$machine', expected $ELF_MACHINE" >&2
        exit 1
    fi
done
say "binaries are $ELF_MACHINE; tests run under $QEMU"

rc=0
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error -j "$JOBS" \
    -L '^(unit|fuzz-smoke)$' || rc=$?
say "timing: packages $((DEPS_DONE - START))s, configure+build $((BUILD_DONE - DEPS_DONE))s," \
    "tests $((SECONDS - BUILD_DONE))s, total $((SECONDS - START))s"
exit $rc
