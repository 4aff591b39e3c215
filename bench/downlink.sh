#!/usr/bin/env bash
# bench/downlink.sh - what comes down the link, before and after, in one run: the bytes a
# device receives in a sync that pushes 50 new referrals, and per record in an initial pull.
#
#   bench/downlink.sh [--build DIR]
#
# The figures come from test_downlink (tests/integration/test_downlink.c), which runs real
# sakhi-server processes on 127.0.0.1 and libsakhi devices, and counts what the devices' own
# sync results say they received. "Before" is the same client with the new capabilities
# switched off by its test hook, which is what a 1.0 device gets from the server byte for byte:
# without SK_CAP_ECHO (own creations pulled back whole) and without SK_CAP_ZDICT (zstd without
# the dictionary); for the initial pull also without compression at all (what sakhi-load, which
# speaks no zstd, gets: the initial-pull row of bench/run.sh). The referrals are the varied ones of
# scripts/gen-referrals.py, seed 7 (the dictionary is trained on seed 1). Plaintext loopback:
# TLS adds 22 bytes a record of 16 KiB at most.
set -euo pipefail
BENCH=downlink.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
while [[ $# -gt 0 ]]; do
    case "$1" in
    --build) BUILD=${2:?--build needs a directory}; shift ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "downlink.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
T=$BUILD/tests/test_downlink
need_built -x "$T"
OUT=$("$T" 2>&1) || { echo "$OUT" >&2; echo "downlink.sh: test_downlink failed" >&2; exit 1; }
push=$(grep '^sync pushing' <<<"$OUT")
pull=$(grep '^initial pull' <<<"$OUT")
read -r before after <<<"$(sed -E 's/.*: ([0-9]+) bytes received as a 1.0 device, ([0-9]+) with it.*/\1 \2/' <<<"$push")"
read -r plain zstd dict zstd5 dict5 <<<"$(sed -E 's/.*plain ([0-9.]+), zstd ([0-9.]+), zstd with the dictionary ([0-9.]+); in PULLs of 5: zstd ([0-9.]+), with the dictionary ([0-9.]+).*/\1 \2 \3 \4 \5/' <<<"$pull")"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", 100 * a / b }'; }
echo "| what | before | after | after/before |"
echo "|---|---:|---:|---:|"
printf '| bytes received by a sync that pushes 50 new referrals (before: a 1.0 device, zstd; after: SK_CAP_ECHO and SK_CAP_ZDICT) | %s | %s | %s |\n' "$before" "$after" "$(pct "$after" "$before")"
printf '| initial pull of 200 referrals by a fresh device, bytes per record (PULLs of 200): uncompressed / zstd -> zstd with the dictionary | %s / %s | %s | %s / %s |\n' "$plain" "$zstd" "$dict" "$(pct "$dict" "$plain")" "$(pct "$dict" "$zstd")"
printf '| the same pull in PULLs of 5 records (small answers, as a field device catching up gets), bytes per record: zstd -> zstd with the dictionary | %s | %s | %s |\n' "$zstd5" "$dict5" "$(pct "$dict5" "$zstd5")"
