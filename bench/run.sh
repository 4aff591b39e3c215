#!/usr/bin/env bash
# bench/run.sh - run every Sakhi Sync benchmark and print one markdown table; the full run also
# writes it into docs/PERFORMANCE.md between the "bench" markers.
#
#   bench/run.sh [--quick] [--build DIR] [--no-doc] [--keep]
#
# --quick   tiny sizes, no timing judgement: CI checks that every benchmark runs (ctest test
#           bench_quick). Never writes the document.
# --build   the build directory holding sakhi-server, sakhi-load, sakhi-netem, bench_ceiling
#           (default: $SAKHI_BUILD or ./build).
# --no-doc  print the table only.
# --keep    keep the work directory (data dirs, logs, JSON reports) and print where it is.
#
# Every process it starts (servers, proxies) is stopped by its pid on exit. Figures come from
# sakhi-load's --json report, the server's /proc entries and log, and bench_ceiling; each is
# compared with a baseline measured in the same run (the raw LMDB ceiling, the same referrals
# as compact JSON). The machine is shared with whatever else runs on it: the load average at
# start and end is printed with the table, so a figure taken on a busy machine can be seen as such.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SAKHI_BUILD:-$ROOT/build}
QUICK=0
DOC=1
KEEP=0
while [[ $# -gt 0 ]]; do
    case "$1" in
    --quick) QUICK=1; DOC=0 ;;
    --build) BUILD=${2:?--build needs a directory}; shift ;;
    --build=*) BUILD=${1#--build=} ;;
    --no-doc) DOC=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

SERVER=$BUILD/server/sakhi-server
LOAD=$BUILD/tools/load/sakhi-load
NETEM=$BUILD/tools/netem/sakhi-netem
CEIL=$BUILD/bench/bench_ceiling
for b in "$SERVER" "$LOAD" "$NETEM" "$CEIL"; do
    [[ -x $b ]] || { echo "run.sh: $b not built (cmake --build $BUILD)" >&2; exit 2; }
done
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
SAMPLE=$ROOT/tests/data/sample-referrals.json

if [[ $QUICK == 1 ]]; then
    DEV=20; REF=10; CONNS=5; IDLE=50; IDLE_DEV=5; SYNC=10; SLOW=3
    NETEM_FAST=(--latency 5 --jitter 0 --stall-rate 0)
else
    DEV=1000; REF=100; CONNS=100; IDLE=10000; IDLE_DEV=50; SYNC=10; SLOW=50
    NETEM_FAST=()
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sakhi-bench-XXXXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do
        [[ -n $p ]] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    if [[ $KEEP == 1 ]]; then echo "run.sh: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# A server may hold many sockets (the idle benchmark): raise our soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

die() { echo "run.sh: $*" >&2; exit 1; }

wait_file() { # file, seconds
    local i
    for ((i = 0; i < $2 * 20; i++)); do [[ -s $1 ]] && return 0; sleep 0.05; done
    return 1
}

# start_server DIR [flags...]: sets SPID and SPORT
start_server() {
    local dir=$1; shift
    mkdir -p "$dir"
    rm -f "$dir/port"
    "$SERVER" --plaintext --port 0 --port-file "$dir/port" --data "$dir/data" \
        --log-file "$dir/server.log" "$@" &
    SPID=$!
    PIDS+=("$SPID")
    wait_file "$dir/port" 20 || die "server in $dir did not start (see $dir/server.log)"
    SPORT=$(cat "$dir/port")
}

stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# start_netem DIR UPSTREAM_PORT [flags...]: sets NPID and NPORT
start_netem() {
    local dir=$1 up=$2; shift 2
    rm -f "$dir/netem.port"
    "$NETEM" --listen 127.0.0.1:0 --upstream "127.0.0.1:$up" --port-file "$dir/netem.port" \
        --seed 1 "$@" 2>>"$dir/netem.log" &
    NPID=$!
    PIDS+=("$NPID")
    wait_file "$dir/netem.port" 20 || die "sakhi-netem did not start (see $dir/netem.log)"
    NPORT=$(cat "$dir/netem.port")
}

# j FILE a.b.c: one value of a JSON report
j() { "$PY" -c 'import json,sys
v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$1" "$2"; }

# fmt EXPR: a Python expression rendered as a number with a thousands separator
fmt() { "$PY" -c "v=($1); print(f'{v:,.0f}' if abs(v) >= 100 else f'{v:.3g}')"; }

# run_load NAME ARGS...: sakhi-load --json into $WORK/NAME.json; fails the bench on a failed check
run_load() {
    local name=$1; shift
    if ! "$LOAD" --json "$@" >"$WORK/$name.json" 2>"$WORK/$name.err"; then
        cat "$WORK/$name.err" >&2
        die "sakhi-load failed in benchmark '$name' (report: $WORK/$name.json)"
    fi
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)

# ---- 1+2+3: ingest (and the initial pull of everything by a fresh admin device) -------------
D=$WORK/ingest
mkdir -p "$D"
"$LOAD" --prepare-data "$D/data" --codes-out "$D/codes" --devices "$DEV" >/dev/null
start_server "$D" --max-conn $((CONNS * 2 + 16))
run_load ingest --port "$SPORT" --codes "$D/codes" --devices "$DEV" --referrals "$REF" \
    --conns "$CONNS" --batch 50 --server-pid "$SPID" --duration 1200
stop_pid "$SPID"
COMMITS=$(sed -n 's/.*event=stopped.* commits=\([0-9]*\).*/\1/p' "$D/server.log" | tail -1)
[[ -n $COMMITS && $COMMITS -gt 0 ]] || die "no commit count in $D/server.log"
NREF=$(j "$WORK/ingest.json" ingest.referrals)
PER_COMMIT=$(( (NREF + COMMITS - 1) / COMMITS ))

# ---- 1: the storage ceiling with the same records and commit size ----------------------------
# Values the size of a stored record: its wire form (the initial pull's bytes per record) plus
# the sealing (nonce, tag, key slot number). Two ceilings: LMDB alone, and LMDB with what the
# per-record keys need at the least (a key slot appended per new record, one fdatasync of the
# key file per commit) and one audit entry per PUSH of 50.
VALUE=$(( $(j "$WORK/ingest.json" verify.bytes) / $(j "$WORK/ingest.json" verify.records) + 32 ))
ceiling() {
    mkdir -p "$WORK/ceiling"
    "$CEIL" --records "$NREF" --commit "$PER_COMMIT" --value "$VALUE" --dir "$WORK/ceiling" "$@"
    rm -rf "$WORK/ceiling"
}
CEIL_RAW_OUT=$(ceiling)
CEIL_OUT=$(ceiling --keyfile --audit-every 50)
CEIL_RAW_RPS=$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' <<<"$CEIL_RAW_OUT")
CEIL_RPS=$(sed -n 's/.*records_per_s=\([0-9]*\).*/\1/p' <<<"$CEIL_OUT")

# ---- 4+5: a sync of pending referrals through sakhi-netem (a fresh server for each) -----------
netem_sync() { # name preset referrals [netem flags...]
    local name=$1 preset=$2 n=$3; shift 3
    local D=$WORK/$name
    start_server "$D"
    start_netem "$D" "$SPORT" --preset "$preset" "$@"
    run_load "$name" --port "$NPORT" --prepare-data "$D/data" --devices 1 --referrals "$n" \
        --conns 1 --batch 50 --pull --retries 50 --timeout 60 --duration 600
    stop_pid "$NPID"
    stop_pid "$SPID"
}
netem_sync sync10_2g 2g "$SYNC" "${NETEM_FAST[@]}"
netem_sync slow_2g 2g "$SLOW" "${NETEM_FAST[@]}"
netem_sync slow_vsat vsat "$SLOW" "${NETEM_FAST[@]}"
netem_sync slow_flaky flaky "$SLOW" "${NETEM_FAST[@]}"

# ---- 6: memory per idle session ----------------------------------------------------------------
D=$WORK/idle
mkdir -p "$D"
"$LOAD" --prepare-data "$D/data" --codes-out "$D/codes" --devices "$IDLE_DEV" >/dev/null
start_server "$D" --max-conn $((IDLE + 64))
run_load idle --port "$SPORT" --codes "$D/codes" --devices "$IDLE_DEV" --referrals 0 \
    --conns 10 --idle "$IDLE" --hold 2 --server-pid "$SPID" --no-verify --duration 600
stop_pid "$SPID"

# ---- JSON baseline: the same referrals as compact JSON -------------------------------------------
JSON_AVG=$("$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(sum(len(json.dumps(x,separators=(",",":"),ensure_ascii=False).encode()) for x in d)/len(d))' "$SAMPLE")

T1=$(date +%s)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table ----------------------------------------------------------------------------------
I=$WORK/ingest.json
ING_RPS=$(j "$I" ingest.referrals_per_s)
RATIO=$("$PY" -c "print(f'{100*$ING_RPS/$CEIL_RPS:.0f}%')")
PUSH_UP=$(j "$I" bytes.push_up_per_referral)
PUSH_ALL=$(j "$I" bytes.push_per_referral)
VREC=$(j "$I" verify.records)
VBYTES=$(j "$I" verify.bytes)
S10=$WORK/sync10_2g.json
IDLE_N=$(j "$WORK/idle.json" server.idle_sessions)
IDLE_B=$(j "$WORK/idle.json" server.bytes_per_idle_session)
mark() { "$PY" -c "print('met' if ($1) else '**missed**')"; }

TABLE=$(
cat <<EOF
Command: \`bench/run.sh$([[ $QUICK == 1 ]] && echo " --quick")\` ($(date -u +%Y-%m-%d), $(( T1 - T0 )) s).
Machine: $(uname -srm), $(nproc) x $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, data on $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}'); load average $LOAD0 at start, $LOAD1 at end (shared machine).

| # | benchmark | figure | baseline in the same run | ratio / target |
|---|---|---|---|---|
| 1 | storage ceiling, LMDB alone: $NREF puts of $VALUE B records with the server's key layout (records, changes, ops, devices), $PER_COMMIT per durable commit (the server's average: $NREF referrals in $COMMITS commits) | $(fmt "$CEIL_RAW_RPS") referrals/s | | |
| 1 | storage ceiling, the server's layout: the same plus a key slot per record in keys.db (one fdatasync per commit) and an audit entry per PUSH | $(fmt "$CEIL_RPS") referrals/s | LMDB alone $(fmt "$CEIL_RAW_RPS")/s | $("$PY" -c "print(f'{100*$CEIL_RPS/$CEIL_RAW_RPS:.0f}%')") of LMDB alone |
| 1 | server ingest through the protocol, durable acks | $(fmt "$ING_RPS") referrals/s | ceiling (server's layout) $(fmt "$CEIL_RPS")/s | $RATIO of the ceiling (target >= 50%: $(mark "$ING_RPS >= 0.5*$CEIL_RPS")) |
| 2 | ingest, plaintext: $DEV devices x $REF referrals over $CONNS connections, batches of 50 | $(fmt "$ING_RPS") referrals/s | | target >= 20,000/s: $(mark "$ING_RPS >= 20000") |
| 2 | ack latency (PUSH written to PUSH_ACK read) | p50 $(fmt "$(j "$I" ack_latency_ms.p50)") ms, p99 $(fmt "$(j "$I" ack_latency_ms.p99)") ms, max $(fmt "$(j "$I" ack_latency_ms.max)") ms | | |
| 2 | server CPU per 1,000 referrals (user + system, all threads) | $(fmt "$(j "$I" server.cpu_s_per_1000_referrals)") s | | |
| 2 | server peak RSS (VmHWM, includes the LMDB map pages read) / heap at the end (RssAnon) | $(fmt "$(j "$I" server.vm_hwm_kib)/1024") MiB / $(fmt "$(j "$I" server.rss_anon_kib)/1024") MiB | | |
| 2 | ingest over TLS | not measured yet: sakhi-load has no TLS transport (its --tls hook is reserved) | | |
| 3 | initial pull by a fresh admin device | $(fmt "$VREC") records in $(fmt "$(j "$I" verify.seconds)") s: $(fmt "$(j "$I" verify.records_per_s)") records/s, $(fmt "$VBYTES/1048576") MiB ($(fmt "$VBYTES/max($VREC,1)") B/record) | | |
| 4 | bytes on the wire per referral, push (PUSH + its share of PUSH_ACK) | $(fmt "$PUSH_ALL") B ($(fmt "$PUSH_UP") B up) | the same referrals as compact JSON: $(fmt "$JSON_AVG") B | $("$PY" -c "print(f'{100*$PUSH_UP/$JSON_AVG:.0f}%')") of JSON (target <= 50%: $(mark "$PUSH_UP <= 0.5*$JSON_AVG")) |
| 4 | bytes on the wire per record, pull (PULL + CHANGES) | $(fmt "$(j "$S10" bytes.pull_per_record)") B | compact JSON $(fmt "$JSON_AVG") B | $("$PY" -c "print(f'{100*$(j "$S10" bytes.pull_per_record)/$JSON_AVG:.0f}%')") of JSON |
| 4 | sync of $SYNC pending referrals by an enrolled device through sakhi-netem --preset 2g (connect, HELLO, AUTH, PUSH, PULL) | $(j "$S10" round_trips.per_sync) round trips, $(fmt "$(j "$S10" bytes.sync_total)") bytes both ways, $(fmt "$(j "$S10" ingest.seconds)") s | target: 2 round trips after the TLS handshake | $(mark "$(j "$S10" round_trips.per_sync) <= 2") (HELLO and AUTH are 2 round trips before any data) |
| 5 | sync of $SLOW referrals on 2g | $(fmt "$(j "$WORK/slow_2g.json" ingest.seconds)") s, $(j "$WORK/slow_2g.json" ingest.resent) changes re-sent | | |
| 5 | sync of $SLOW referrals on vsat | $(fmt "$(j "$WORK/slow_vsat.json" ingest.seconds)") s, $(j "$WORK/slow_vsat.json" ingest.resent) changes re-sent | | |
| 5 | sync of $SLOW referrals on flaky (cuts) | $(fmt "$(j "$WORK/slow_flaky.json" ingest.seconds)") s, $(j "$WORK/slow_flaky.json" ingest.resent) changes re-sent after cuts, $(j "$WORK/slow_flaky.json" errors.dropped) connections cut | | |
| 6 | server memory per idle authenticated session ($IDLE_N sessions) | $(fmt "$IDLE_B") B | | target < 16 KiB: $(mark "$IDLE_B < 16384") |
| 7 | client: capture latency, device-side sync throughput, library size | not measured yet (libsakhi in progress) | | |
EOF
)
[[ $QUICK == 1 ]] && [[ "$IDLE_N" != "$IDLE" ]] && die "only $IDLE_N of $IDLE idle sessions came up"

echo "$TABLE"
if [[ $DOC == 1 ]]; then
    DOCF=$ROOT/docs/PERFORMANCE.md
    [[ -f $DOCF ]] || die "$DOCF missing"
    grep -q '<!-- BEGIN bench -->' "$DOCF" || die "$DOCF has no <!-- BEGIN bench --> marker"
    "$PY" - "$DOCF" "$TABLE" <<'PYEOF'
import sys
path, table = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
a = text.index("<!-- BEGIN bench -->") + len("<!-- BEGIN bench -->")
b = text.index("<!-- END bench -->")
open(path, "w", encoding="utf-8").write(text[:a] + "\n" + table + "\n" + text[b:])
PYEOF
    echo "run.sh: table written to docs/PERFORMANCE.md" >&2
fi
