#!/usr/bin/env bash
# bench/run.sh - run every Sakhi Sync benchmark and print one markdown table; the full run also
# writes it into docs/PERFORMANCE.md between the "bench" markers.
#
#   bench/run.sh [--quick] [--only LIST] [--build DIR] [--no-doc] [--keep]
#
# --quick   tiny sizes, no timing judgement: CI checks that every benchmark runs (ctest test
#           bench_quick). Never writes the document.
# --only    comma-separated benchmarks to run: ingest (plaintext, with the initial pull and the
#           bytes per referral), ceiling (needs ingest's commit size: runs it too), tls (the
#           same ingest over TLS), netem (sync and slow links), idle, client (libsakhi on the
#           device: capture, sync, library size). Prints the table only, never the document.
# --build   the build directory holding sakhi-server, sakhi-load, sakhi-netem, sakhi-admin,
#           bench_ceiling, bench_client (default: $SAKHI_BUILD or ./build).
# --no-doc  print the table only.
# --keep    keep the work directory (data dirs, logs, JSON reports) and print where it is.
#
# Every process it starts (servers, proxies) is stopped by its pid on exit. Figures come from
# sakhi-load's --json report, the server's /proc entries and log, and bench_ceiling; each is
# compared with a baseline measured in the same run (the raw LMDB ceiling, the same referrals
# as compact JSON). The machine is shared with whatever else runs on it: the load average at
# start and end is printed with the table, so a figure taken on a busy machine can be seen as such.
set -euo pipefail

BENCH=run.sh
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
QUICK=0
DOC=1
KEEP=0
ALL="ingest,ceiling,tls,netem,idle,client"
ONLY=
while [[ $# -gt 0 ]]; do
    case "$1" in
    --quick) QUICK=1; DOC=0 ;;
    --only) ONLY=${2:?--only needs a list, e.g. ingest,tls}; DOC=0; shift ;;
    --only=*) ONLY=${1#--only=}; DOC=0 ;;
    --build) BUILD=${2:?--build needs a directory}; shift ;;
    --build=*) BUILD=${1#--build=} ;;
    --no-doc) DOC=0 ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

# The benchmarks to run: SEL holds ",name," for each.
SEL=,${ONLY:-$ALL},
for b in ${SEL//,/ }; do
    [[ ,$ALL, == *,$b,* ]] || { echo "run.sh: --only: unknown benchmark '$b' (of $ALL)" >&2; exit 2; }
done
want() { [[ $SEL == *,$1,* ]]; }
if want ceiling && ! want ingest; then
    echo "run.sh: ceiling uses the ingest's commit size: running ingest too" >&2
    SEL+=ingest,
fi

SERVER=$BUILD/server/sakhi-server
LOAD=$BUILD/tools/load/sakhi-load
NETEM=$BUILD/tools/netem/sakhi-netem
ADMIN=$BUILD/tools/admin/sakhi-admin
CEIL=$BUILD/bench/bench_ceiling
CLIENT=$BUILD/bench/bench_client
LIBSO=$BUILD/client-lib/libsakhi.so
LIBA=$BUILD/client-lib/libsakhi.a
NEED=("$SERVER" "$LOAD")
want ceiling && NEED+=("$CEIL")
want netem && NEED+=("$NETEM")
want tls && NEED+=("$ADMIN")
want client && NEED+=("$ADMIN" "$CLIENT")
need_built -x "${NEED[@]}"
if want client; then
    need_built -f "$LIBSO" "$LIBA"
    command -v size >/dev/null || { echo "run.sh: 'size' (binutils) is needed for the library size" >&2; exit 2; }
fi
SAMPLE=$ROOT/tests/data/sample-referrals.json

if [[ $QUICK == 1 ]]; then
    DEV=20; REF=10; CONNS=5; IDLE=50; IDLE_DEV=5; SYNC=10; SLOW=3; CLIENT_N=20
    NETEM_FAST=(--latency 5 --jitter 0 --stall-rate 0)
else
    DEV=1000; REF=100; CONNS=100; IDLE=10000; IDLE_DEV=50; SYNC=10; SLOW=50; CLIENT_N=1000
    NETEM_FAST=()
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sakhi-bench-XXXXXX")
cleanup() {
    stop_all
    if [[ $KEEP == 1 ]]; then echo "run.sh: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# A server may hold many sockets (the idle benchmark): raise our soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# start_server DIR [flags...]: sets SPID and SPORT. Plaintext, or TLS with TRANSPORT set to
# (--tls-cert FILE --tls-key FILE).
TRANSPORT=(--plaintext)
start_server() {
    local dir=$1; shift
    mkdir -p "$dir"
    rm -f "$dir/port"
    "$SERVER" "${TRANSPORT[@]}" --port 0 --port-file "$dir/port" --data "$dir/data" \
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

# The centre certificate of the TLS benchmarks (made once, as sakhi-admin makes it for a centre).
TLS_PIN=
if want tls || want client; then
    "$ADMIN" tls-cert --cn bench-centre --out "$WORK/tls" --json >"$WORK/tls.json" ||
        die "sakhi-admin tls-cert failed"
    TLS_PIN=$(j "$WORK/tls.json" pin)
    TLS_FLAGS=(--tls-cert "$WORK/tls/server.crt" --tls-key "$WORK/tls/server.key")
fi

# ingest NAME [sakhi-load flags...]: prepare DEV devices, start a server, run the ingest with the
# server's CPU and memory; sets COMMITS (the server's group commits) from its log.
ingest() {
    local name=$1; shift
    local D=$WORK/$name
    mkdir -p "$D"
    "$LOAD" --prepare-data "$D/data" --codes-out "$D/codes" --devices "$DEV" >/dev/null
    start_server "$D" --max-conn $((CONNS * 2 + 16))
    run_load "$name" --port "$SPORT" --codes "$D/codes" --devices "$DEV" --referrals "$REF" \
        --conns "$CONNS" --batch 50 --server-pid "$SPID" --duration 1200 "$@"
    stop_pid "$SPID"
    COMMITS=$(sed -n 's/.*event=stopped.* commits=\([0-9]*\).*/\1/p' "$D/server.log" | tail -1)
    [[ -n $COMMITS && $COMMITS -gt 0 ]] || die "no commit count in $D/server.log"
}

# ---- 1+2+3: ingest (and the initial pull of everything by a fresh admin device) -------------
if want ingest; then
    ingest ingest
    NREF=$(j "$WORK/ingest.json" ingest.referrals)
    PER_COMMIT=$(( (NREF + COMMITS - 1) / COMMITS ))
fi

# ---- 1: the storage ceiling with the same records and commit size ----------------------------
# Values the size of a stored record: its wire form (the initial pull's bytes per record) plus
# the sealing (nonce, tag, key slot number). Two ceilings: LMDB alone, and LMDB with what the
# per-record keys need at the least (a key slot per new record, prepared ahead in runs of up to
# 4096 with one write and one fdatasync each, as the server's key pool does) and one audit
# entry per PUSH of 50.
if want ceiling; then
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
fi

# ---- 2: the same ingest over TLS 1.3 (sakhi-load pins the centre certificate) ------------------
if want tls; then
    TRANSPORT=("${TLS_FLAGS[@]}")
    ingest ingest_tls --tls --tls-cert "$WORK/tls/server.crt"
    TRANSPORT=(--plaintext)
    [[ $(j "$WORK/ingest_tls.json" tls.handshakes) -gt 0 ]] || die "the TLS ingest made no handshake"
fi

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
if want netem; then
    netem_sync sync10_2g 2g "$SYNC" "${NETEM_FAST[@]}"
    netem_sync slow_2g 2g "$SLOW" "${NETEM_FAST[@]}"
    netem_sync slow_vsat vsat "$SLOW" "${NETEM_FAST[@]}"
    netem_sync slow_flaky flaky "$SLOW" "${NETEM_FAST[@]}"
fi

# ---- 6: memory per idle session ----------------------------------------------------------------
if want idle; then
    D=$WORK/idle
    mkdir -p "$D"
    "$LOAD" --prepare-data "$D/data" --codes-out "$D/codes" --devices "$IDLE_DEV" >/dev/null
    start_server "$D" --max-conn $((IDLE + 64))
    run_load idle --port "$SPORT" --codes "$D/codes" --devices "$IDLE_DEV" --referrals 0 \
        --conns 10 --idle "$IDLE" --hold 2 --server-pid "$SPID" --no-verify --duration 600
    stop_pid "$SPID"
fi

# ---- 7: the device side (libsakhi) against a TLS server; the library's size -------------------
if want client; then
    D=$WORK/client
    mkdir -p "$D/device"
    # a field worker's code and an administrator's, as sakhi-load prepares them
    "$LOAD" --prepare-data "$D/data" --codes-out "$D/codes" --devices 1 >/dev/null
    TRANSPORT=("${TLS_FLAGS[@]}")
    start_server "$D"
    TRANSPORT=(--plaintext)
    if ! "$CLIENT" --port "$SPORT" --server-pin "$TLS_PIN" --referrals "$CLIENT_N" --dir "$D/device" \
        --code "$(awk '$1 == "field" {print $2; exit}' "$D/codes")" \
        --admin-code "$(awk '$1 == "admin" {print $2; exit}' "$D/codes")" \
        >"$WORK/client.json" 2>"$WORK/client.err"; then
        cat "$WORK/client.err" >&2
        die "bench_client failed (see $D/server.log)"
    fi
    stop_pid "$SPID"
    # text + data as `size` counts them (what a stripped library loads), and the files
    LIBSO_TD=$(size "$LIBSO" | awk 'NR==2 {print $1 + $2}')
    strip -o "$WORK/libsakhi.stripped.so" "$LIBSO" 2>/dev/null || cp "$LIBSO" "$WORK/libsakhi.stripped.so"
    LIBSO_FILE=$(stat -L -c %s "$WORK/libsakhi.stripped.so")
    LIBA_TD=$(size -t "$LIBA" | awk '$NF == "(TOTALS)" {print $1 + $2}')
    LIBA_FILE=$(stat -L -c %s "$LIBA")
fi

# ---- JSON baseline: the same referrals as compact JSON -------------------------------------------
JSON_AVG=$("$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
print(sum(len(json.dumps(x,separators=(",",":"),ensure_ascii=False).encode()) for x in d)/len(d))' "$SAMPLE")

T1=$(date +%s)
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table: one row per figure of the benchmarks that ran ------------------------------------
mark() { "$PY" -c "print('met' if ($1) else '**missed**')"; }
pc() { "$PY" -c "print(f'{100*($1):.0f}%')"; } # a ratio as a percentage
ROWS=
row() { ROWS+="| $1 |"$'\n'; }

if want ceiling; then
    row "1 | storage ceiling, LMDB alone: $NREF puts of $VALUE B records with the server's key layout (records, changes, ops, devices), $PER_COMMIT per durable commit (the server's average: $NREF referrals in $COMMITS commits) | $(fmt "$CEIL_RAW_RPS") referrals/s | |"
    row "1 | storage ceiling, the server's layout: the same plus a key slot per record in keys.db (prepared in runs of up to 4096, one fdatasync per run) and an audit entry per PUSH | $(fmt "$CEIL_RPS") referrals/s | LMDB alone $(fmt "$CEIL_RAW_RPS")/s | $(pc "$CEIL_RPS/$CEIL_RAW_RPS") of LMDB alone"
fi
if want ingest; then
    I=$WORK/ingest.json
    ING_RPS=$(j "$I" ingest.referrals_per_s)
    PUSH_UP=$(j "$I" bytes.push_up_per_referral)
    PUSH_ALL=$(j "$I" bytes.push_per_referral)
    VREC=$(j "$I" verify.records)
    VBYTES=$(j "$I" verify.bytes)
    if want ceiling; then
        row "1 | server ingest through the protocol, durable acks | $(fmt "$ING_RPS") referrals/s | ceiling (server's layout) $(fmt "$CEIL_RPS")/s | $(pc "$ING_RPS/$CEIL_RPS") of the ceiling (target >= 50%: $(mark "$ING_RPS >= 0.5*$CEIL_RPS"))"
    fi
    row "2 | ingest, plaintext: $DEV devices x $REF referrals over $CONNS connections, batches of 50 | $(fmt "$ING_RPS") referrals/s | | target >= 20,000/s: $(mark "$ING_RPS >= 20000")"
    row "2 | ack latency (PUSH written to PUSH_ACK read) | p50 $(fmt "$(j "$I" ack_latency_ms.p50)") ms, p99 $(fmt "$(j "$I" ack_latency_ms.p99)") ms, max $(fmt "$(j "$I" ack_latency_ms.max)") ms | |"
    row "2 | server CPU per 1,000 referrals (user + system, all threads) | $(fmt "$(j "$I" server.cpu_s_per_1000_referrals)") s | |"
    row "2 | server peak RSS (VmHWM, includes the LMDB map pages read) / heap at the end (RssAnon) | $(fmt "$(j "$I" server.vm_hwm_kib)/1024") MiB / $(fmt "$(j "$I" server.rss_anon_kib)/1024") MiB | |"
fi
if want tls; then
    IT=$WORK/ingest_tls.json
    TLS_RPS=$(j "$IT" ingest.referrals_per_s)
    TLS_CPU=$(j "$IT" server.cpu_s_per_1000_referrals)
    TLS_P50=$(j "$IT" ack_latency_ms.p50)
    if want ingest; then
        PLAIN_CPU=$(j "$I" server.cpu_s_per_1000_referrals)
        PLAIN_P50=$(j "$I" ack_latency_ms.p50)
        VS_RPS="plaintext $(fmt "$ING_RPS")/s | TLS/plaintext $(pc "$TLS_RPS/$ING_RPS")"
        VS_LAT="plaintext p50 $(fmt "$PLAIN_P50") ms, p99 $(fmt "$(j "$I" ack_latency_ms.p99)") ms | TLS/plaintext p50 $(pc "$TLS_P50/max($PLAIN_P50,1e-9)")"
        VS_CPU="plaintext $(fmt "$PLAIN_CPU") s | TLS/plaintext $(pc "$TLS_CPU/max($PLAIN_CPU,1e-9)")"
    else
        VS_RPS="(plaintext ingest not run) |"
        VS_LAT="|"
        VS_CPU="|"
    fi
    row "2 | ingest over TLS 1.3: the same $DEV devices x $REF referrals over $CONNS connections, the server's key pinned, a full handshake per device session ($(j "$IT" tls.handshakes) in the run) | $(fmt "$TLS_RPS") referrals/s | $VS_RPS"
    row "2 | TLS ack latency (PUSH written to PUSH_ACK read) | p50 $(fmt "$TLS_P50") ms, p99 $(fmt "$(j "$IT" ack_latency_ms.p99)") ms, max $(fmt "$(j "$IT" ack_latency_ms.max)") ms | $VS_LAT"
    row "2 | TLS server CPU per 1,000 referrals (user + system, all threads, handshakes included) | $(fmt "$TLS_CPU") s | $VS_CPU"
fi
if want ingest; then
    row "3 | initial pull by a fresh admin device | $(fmt "$VREC") records in $(fmt "$(j "$I" verify.seconds)") s: $(fmt "$(j "$I" verify.records_per_s)") records/s, $(fmt "$VBYTES/1048576") MiB ($(fmt "$VBYTES/max($VREC,1)") B/record) | |"
    row "4 | bytes on the wire per referral, push (PUSH + its share of PUSH_ACK) | $(fmt "$PUSH_ALL") B ($(fmt "$PUSH_UP") B up) | the same referrals as compact JSON: $(fmt "$JSON_AVG") B | $(pc "$PUSH_UP/$JSON_AVG") of JSON (target <= 50%: $(mark "$PUSH_UP <= 0.5*$JSON_AVG"))"
fi
if want netem; then
    S10=$WORK/sync10_2g.json
    row "4 | bytes on the wire per record, pull (PULL + CHANGES) | $(fmt "$(j "$S10" bytes.pull_per_record)") B | compact JSON $(fmt "$JSON_AVG") B | $(pc "$(j "$S10" bytes.pull_per_record)/$JSON_AVG") of JSON"
    row "4 | sync of $SYNC pending referrals by an enrolled device through sakhi-netem --preset 2g (connect; HELLO; AUTH with the PUSH and the PULL behind it) | $(j "$S10" round_trips.per_sync) round trips, $(fmt "$(j "$S10" bytes.sync_total)") bytes both ways, $(fmt "$(j "$S10" ingest.seconds)") s | target: 2 round trips after the TLS handshake | $(mark "$(j "$S10" round_trips.per_sync) <= 2") (HELLO, then AUTH with early PUSH and PULL: PROTOCOL.md section 4.1)"
    row "5 | sync of $SLOW referrals on 2g | $(fmt "$(j "$WORK/slow_2g.json" ingest.seconds)") s, $(j "$WORK/slow_2g.json" ingest.resent) changes re-sent | |"
    row "5 | sync of $SLOW referrals on vsat | $(fmt "$(j "$WORK/slow_vsat.json" ingest.seconds)") s, $(j "$WORK/slow_vsat.json" ingest.resent) changes re-sent | |"
    row "5 | sync of $SLOW referrals on flaky (cuts) | $(fmt "$(j "$WORK/slow_flaky.json" ingest.seconds)") s, $(j "$WORK/slow_flaky.json" ingest.resent) changes re-sent after cuts, $(j "$WORK/slow_flaky.json" errors.dropped) connections cut | |"
fi
if want idle; then
    IDLE_N=$(j "$WORK/idle.json" server.idle_sessions)
    IDLE_B=$(j "$WORK/idle.json" server.bytes_per_idle_session)
    row "6 | server memory per idle authenticated session ($IDLE_N sessions) | $(fmt "$IDLE_B") B | | target < 16 KiB: $(mark "$IDLE_B < 16384")"
    if [[ $QUICK == 1 && "$IDLE_N" != "$IDLE" ]]; then
        die "only $IDLE_N of $IDLE idle sessions came up"
    fi
fi
if want client; then
    C=$WORK/client.json
    CAP50=$(j "$C" capture.p50_ms)
    RAW50=$(j "$C" baseline.p50_ms)
    row "7 | client: capture latency, one durable save (sakhi_referral_save: validate, seal, commit with fsync) of each of $CLIENT_N sample referrals | p50 $(fmt "$CAP50") ms, p99 $(fmt "$(j "$C" capture.p99_ms)") ms, max $(fmt "$(j "$C" capture.max_ms)") ms; client CPU $(fmt "$(j "$C" capture.cpu_ms_per_referral)") ms per referral | raw LMDB durable commit of the same writes at the least (2 puts of $(j "$C" baseline.value_bytes) B) in the same process: p50 $(fmt "$RAW50") ms, p99 $(fmt "$(j "$C" baseline.p99_ms)") ms | p50 $("$PY" -c "print(f'{$CAP50/max($RAW50,1e-9):.1f}')") x the raw commit"
    row "7 | client: push of those referrals by the field device (sakhi_sync over TLS, to the last PUSH_ACK) | $(fmt "$(j "$C" push.per_s)") referrals/s ($(fmt "$(j "$C" push.seconds)") s, $(fmt "$(j "$C" push.bytes_sent)/$CLIENT_N") B sent per referral over the whole sync); client CPU $(fmt "$(j "$C" push.cpu_s_per_1000)") s per 1,000 (the whole sync) | |"
    row "7 | client: pull by a fresh administrator's device (sakhi_sync over TLS: every record received and stored sealed) | $(fmt "$(j "$C" pull.per_s)") records/s ($(j "$C" pull.records) records in $(fmt "$(j "$C" pull.seconds)") s); client CPU $(fmt "$(j "$C" pull.cpu_s_per_1000)") s per 1,000 | |"
    row "7 | libsakhi size: text + data (\`size\`) of the shared library, and of the static archive (which also carries the protocol objects) | libsakhi.so $(fmt "$LIBSO_TD/1024") KiB (stripped file $(fmt "$LIBSO_FILE/1024") KiB); libsakhi.a $(fmt "$LIBA_TD/1024") KiB (file $(fmt "$LIBA_FILE/1024") KiB, with debug information) | |"
fi

CMD=bench/run.sh
[[ $QUICK == 1 ]] && CMD+=" --quick"
[[ -n $ONLY ]] && CMD+=" --only $ONLY"
TABLE=$(
cat <<EOF
Command: \`$CMD\` ($(date -u +%Y-%m-%d), $(( T1 - T0 )) s).
Machine: $(uname -srm), $(nproc) x $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, data on $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}'); load average $LOAD0 at start, $LOAD1 at end (shared machine).

| # | benchmark | figure | baseline in the same run | ratio / target |
|---|---|---|---|---|
${ROWS%$'\n'}
EOF
)

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
