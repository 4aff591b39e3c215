#!/usr/bin/env bash
# setup-deps.sh - install the Debian 12 packages Sakhi Sync needs to build, test and demo.
#
# Idempotent: asks dpkg which packages are installed and touches apt only when one is missing,
# so a second run (or a run on a prepared machine) does nothing and needs no network.
# Needs root (or passwordless sudo) only when something must be installed.
# SAKHI_SKIP_DEPS=1 skips the check entirely (for machines managed some other way).
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config
    libuv1-dev libmsgpack-dev liblmdb-dev libssl-dev libcmocka-dev libzstd-dev libargon2-dev
    python3 python3-msgpack
    clang clang-format
    lmdb-utils openssl valgrind iproute2 curl
    default-jdk-headless junit5
    libh2o-dev libargon2-dev chromium chromium-driver python3-selenium
    abigail-tools libqrencode-dev libpng-dev zbar-tools
)

if [[ "${SAKHI_SKIP_DEPS:-0}" == 1 ]]; then
    echo "setup-deps: SAKHI_SKIP_DEPS=1, not checking packages"
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup-deps: dpkg-query not found; this script supports Debian 12 (bookworm) only." >&2
    echo "setup-deps: install the equivalents of: ${PACKAGES[*]}" >&2
    echo "setup-deps: then run again with SAKHI_SKIP_DEPS=1" >&2
    exit 1
fi

# Ask about the native architecture only: once a foreign one is added (scripts/cross-test.sh adds
# arm64), dpkg-query reports one status per architecture for multiarch -dev packages.
native=$(dpkg --print-architecture)
pkg_status()
{
    local s
    s=$(dpkg-query -W -f='${db:Status-Status}' "$1:$native" 2>/dev/null) ||
        s=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || s=
    printf '%s' "$s"
}

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(pkg_status "$p")
    if [[ "$status" != installed ]]; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup-deps: all ${#PACKAGES[@]} packages present"
    exit 0
fi

echo "setup-deps: missing packages: ${missing[*]}"

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "setup-deps: not root and no passwordless sudo: cannot install packages." >&2
    echo "setup-deps: as root run: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

# Confirm: a package apt could not provide must stop the build here, not later in cmake.
still=()
for p in "${missing[@]}"; do
    [[ "$(pkg_status "$p")" == installed ]] || still+=("$p")
done
if [[ ${#still[@]} -ne 0 ]]; then
    echo "setup-deps: still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi
echo "setup-deps: installed ${missing[*]}"
