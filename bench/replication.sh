#!/usr/bin/env bash
# bench/replication.sh - what a standby costs the primary, and how far behind it is: the same
# ingest (sakhi-load: DEVICES devices x REFERRALS referrals, batches of 50, plaintext loopback)
# into a primary without a standby (the baseline of this run), with a standby following it
# asynchronously and synchronously (--repl-sync refuse), on loopback and with the link between
# primary and standby through sakhi-netem's VSAT preset. Per row: referrals/s and its ratio to
# the baseline, the ack latency (p50/p99), and the catch-up lag: how long after the last ack the
# standby had applied everything (sakhi-admin stats, polled every 20 ms).
#
#   bench/replication.sh [--build DIR] [--devices N] [--referrals N] [--conns N]
#
# Prints Markdown rows for docs/PERFORMANCE.md. Every process is on 127.0.0.1; the work
# directory is removed at the end.
set -euo pipefail
BENCH=replication.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DEV=20
REF=100
CONNS=10
while [[ $# -gt 0 ]]; do
    case "$1" in
    --build) BUILD=${2:?--build needs a directory}; shift ;;
    --devices) DEV=${2:?}; shift ;;
    --referrals) REF=${2:?}; shift ;;
    --conns) CONNS=${2:?}; shift ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "replication.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
SERVER=$BUILD/server/sakhi-server
ADMIN=$BUILD/tools/admin/sakhi-admin
LOAD=$BUILD/tools/load/sakhi-load
NETEM=$BUILD/tools/netem/sakhi-netem
need_built -x "$SERVER" "$ADMIN" "$LOAD" "$NETEM"
WORK=$(mktemp -d /tmp/sakhi-repl-bench.XXXXXX)
cleanup() {
    stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

# replication values from sakhi-admin stats --json of a data directory
rstat() { "$ADMIN" --data "$1" --json stats | "$PY" -c 'import json,sys
r=json.load(sys.stdin)["replication"]
print(r.get(sys.argv[1], 0))' "$2"; }

# run NAME MODE LINK: MODE none|async|sync, LINK loopback|vsat. Prints one row.
run() {
    local name=$1 mode=$2 link=$3 D=$WORK/$1
    mkdir -p "$D"
    "$LOAD" --prepare-data "$D/p" --codes-out "$D/codes" --devices "$DEV" >/dev/null
    local sync=off
    [[ $mode == sync ]] && sync=refuse
    "$SERVER" --plaintext --port 0 --port-file "$D/p.port" --data "$D/p" --log-file "$D/p.log" \
        --max-conn $((CONNS * 2 + 16)) --repl-sync "$sync" --repl-sync-timeout 30 &
    local ppid=$!
    PIDS+=("$ppid")
    wait_file "$D/p.port" 20 || die "$name: the primary did not start"
    local pport
    pport=$(cat "$D/p.port")
    if [[ $mode != none ]]; then
        local target=127.0.0.1:$pport
        if [[ $link == vsat ]]; then
            "$NETEM" --listen 127.0.0.1:0 --upstream "$target" --preset vsat \
                --port-file "$D/n.port" 2>"$D/netem.log" &
            PIDS+=("$!")
            wait_file "$D/n.port" 20 || die "$name: sakhi-netem did not start"
            target=127.0.0.1:$(cat "$D/n.port")
        fi
        local uri
        uri=$("$ADMIN" --data "$D/p" --json enroll-code --replica --addr "$target" \
            --pin "$(printf '0%.0s' {1..64})" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["uri"])')
        "$SERVER" --plaintext --port 0 --port-file "$D/s.port" --data "$D/s" --log-file "$D/s.log" \
            --standby-of "$uri" --standby-plaintext &
        PIDS+=("$!")
        local i
        for ((i = 0; i < 3000; i++)); do
            [[ $(rstat "$D/s" seeded 2>/dev/null || echo False) == True ]] && break
            sleep 0.02
        done
        [[ $(rstat "$D/s" seeded) == True ]] || die "$name: the standby did not seed"
    fi
    "$LOAD" --json --port "$pport" --codes "$D/codes" --devices "$DEV" --referrals "$REF" \
        --conns "$CONNS" --batch 50 --duration 600 >"$D/load.json" 2>"$D/load.err" ||
        { cat "$D/load.err" >&2; die "$name: sakhi-load failed"; }
    local t_end lag="" head applied
    t_end=$(now_ms)
    if [[ $mode != none ]]; then
        head=$(rstat "$D/p" log_head)
        for ((i = 0; i < 30000; i++)); do
            applied=$(rstat "$D/s" applied)
            [[ $applied -ge $head ]] && break
            sleep 0.02
        done
        [[ $applied -ge $head ]] || die "$name: the standby did not catch up"
        lag=$(($(now_ms) - t_end))
    fi
    local rps p50 p99
    rps=$(j "$D/load.json" ingest.referrals_per_s)
    p50=$(j "$D/load.json" ack_latency_ms.p50)
    p99=$(j "$D/load.json" ack_latency_ms.p99)
    [[ $name == baseline ]] && BASE=$rps
    "$PY" - "$name" "$mode" "$link" "$rps" "$BASE" "$p50" "$p99" "$lag" <<'PYEOF'
import sys
name, mode, link, rps, base, p50, p99, lag = sys.argv[1:]
what = {"none": "no standby (baseline)", "async": "standby, asynchronous",
        "sync": "standby, synchronous (--repl-sync refuse)"}[mode]
link = "" if mode == "none" else (" over loopback" if link == "loopback" else " through sakhi-netem --preset vsat")
lag = "" if not lag else f"{int(lag)} ms"
print(f"| {what}{link} | {float(rps):,.0f} referrals/s | {100*float(rps)/float(base):.0f}% | "
      f"p50 {float(p50):.1f} ms, p99 {float(p99):.1f} ms | {lag} |")
PYEOF
    stop_all
}

echo "ingest of $DEV devices x $REF referrals, $CONNS connections, batches of 50 (plaintext loopback), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| primary | ingest | of baseline | ack latency | standby caught up after the last ack |"
echo "|---|---:|---:|---|---:|"
BASE=0
run baseline none loopback
run async async loopback
run sync sync loopback
run async_vsat async vsat
run sync_vsat sync vsat
