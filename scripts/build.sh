#!/usr/bin/env bash
# build.sh [build-dir] - install missing dependencies, configure and build; the shared first half
# of scripts/test.sh and scripts/demo.sh, so the two README commands build the same way.
#
# Environment:
#   SAKHI_CMAKE_ARGS  extra cmake arguments (e.g. "-DSAKHI_SANITIZE=address,undefined"); they
#                     come last, so they override the defaults below
#   SAKHI_JOBS        parallel build jobs (default 2)
# The build directory defaults to build/ at the top of the tree.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
JOBS=${SAKHI_JOBS:-2}

"$ROOT/scripts/setup-deps.sh"

# Defaults first, caller's arguments last: on the cmake command line the last -D for a name wins.
# Sanitizers and fuzzing are reset explicitly so a reused build directory cannot keep them.
read -r -a extra_cmake <<<"${SAKHI_CMAKE_ARGS:-}"
echo "build.sh: configuring $BUILD"
cmake -S "$ROOT" -B "$BUILD" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSAKHI_WERROR=ON \
    -DSAKHI_SANITIZE= \
    -DSAKHI_FUZZ=OFF \
    "${extra_cmake[@]}"

echo "build.sh: building $BUILD (-j$JOBS)"
cmake --build "$BUILD" -j "$JOBS"
