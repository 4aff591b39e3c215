#!/usr/bin/env bash
# demo.sh [build-dir] - the README's first command: install missing dependencies, build
# (scripts/build.sh), then run the demo: a sakhi-server on 127.0.0.1 with a fresh data folder,
# simulated field devices capturing the sample referrals offline, then syncing, and an account of
# what reached the centre.
#
# The demo itself lives in run_demo(). While the parts it needs are not built yet it says which
# ones are missing and exits 0; it never pretends a sync happened.
# Safe to run twice: the demo's data folder (demo-data/) is recreated on every run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-$ROOT/build}
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)
DEMO_DIR=${SAKHI_DEMO_DIR:-$ROOT/demo-data}
SAMPLES=$ROOT/tests/data/sample-referrals.json

# Programs the demo runs, relative to the build directory.
NEEDED=(server/sakhi-server tools/sakhi tools/sakhi-admin tools/sakhi-netem)

missing_parts()
{
    local p
    for p in "${NEEDED[@]}"; do
        [[ -x "$BUILD/$p" ]] || echo "$p"
    done
}

run_demo()
{
    local missing
    missing=$(missing_parts)
    if [[ -n "$missing" ]]; then
        echo "demo: the demo cannot run yet; these programs are not built:"
        sed 's/^/  /' <<<"$missing"
        echo "demo: nothing was synced. Run ./scripts/test.sh to see what the finished parts do."
        return 0
    fi
    # All programs exist, but the demo's steps (enroll devices, capture the samples offline,
    # sync through sakhi-netem, accept on the centre side, sync back) are not written yet.
    echo "demo: all programs are built, but the demo steps are not written yet; nothing was synced."
    echo "demo: sample referrals that the demo will use: $SAMPLES"
    echo "demo: data folder it will use: $DEMO_DIR"
    return 0
}

"$ROOT/scripts/build.sh" "$BUILD"
echo
echo "=== Sakhi Sync demo ==="
run_demo
