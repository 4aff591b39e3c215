#!/usr/bin/env bash
# demo.sh [--no-build] [build-dir] - the README's first command: install missing dependencies,
# build (scripts/build.sh), then run the demo: a sakhi-server on 127.0.0.1 with a fresh data
# folder and a TLS key of its own, three field devices (enrolled with one-time codes and the key's
# pin; the first from one scan of the enrollment URI's QR code) capturing the sample referrals offline, then syncing (one on a
# clean link, two through sakhi-netem's 2g and flaky links), the centre accepting some and adding
# a follow-up, a second sync, a staff account on the centre desk (its password set through its
# one-time link, as a browser would), and an account of what went where.
#
# --no-build skips the dependency and build steps (the ctest test that runs the demo uses it).
# --standby also starts a standby server that follows the centre (docs/REPLICATION.md) and, at
# the end, shows a failover: the centre is killed, the standby is promoted and holds every
# referral, case number and follow-up the centre had.
# The demo itself lives in run_demo(). If a program it needs is not built it says which and
# exits non-zero; it never pretends a sync happened: every number it prints comes from the
# programs' own --json output, and it checks that the centre holds exactly what was sent and
# that each case number reached the device that captured the referral.
# Safe to run twice: the demo's data folder (demo-data/, or $SAKHI_DEMO_DIR) is recreated on
# every run, ports are picked by the kernel, and everything it starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NO_BUILD=0
STANDBY=0
while [[ "${1:-}" == --* ]]; do
    case "$1" in
    --no-build) NO_BUILD=1 ;;
    --standby) STANDBY=1 ;;
    *) echo "demo: unknown option '$1'" >&2; exit 2 ;;
    esac
    shift
done
BUILD=${1:-$ROOT/build}
BUILD=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)
DEMO_DIR=${SAKHI_DEMO_DIR:-$ROOT/demo-data}
SAMPLES=$ROOT/tests/data/sample-referrals.json
# Seeds of the two shaped links (sakhi-netem --seed): the same seeds replay the same stalls and
# cuts for the same bytes.
SEED_2G=${SAKHI_DEMO_SEED_2G:-7}
SEED_FLAKY=${SAKHI_DEMO_SEED_FLAKY:-21}

# Programs the demo runs, relative to the build directory.
NEEDED=(server/sakhi-server tools/cli/sakhi tools/admin/sakhi-admin tools/netem/sakhi-netem)
for tool in curl openssl; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "demo: $tool is needed (scripts/setup-deps.sh installs it)" >&2
        exit 1
    }
done

missing_parts()
{
    local p
    for p in "${NEEDED[@]}"; do
        [[ -x "$BUILD/$p" ]] || echo "$p"
    done
}

# ---- helpers for run_demo ------------------------------------------------------------------

PIDS=()
stop_all()
{
    local pid
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]:-}"; do
        [[ -n "$pid" ]] || continue
        # bounded wait, then force
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

die()
{
    echo "demo: FAILED: $*" >&2
    [[ -f "${DEMO_DIR}/server.log" ]] && echo "demo: server log: ${DEMO_DIR}/server.log" >&2
    exit 1
}

# Wait (bounded) for a port file written by a program we started; print the port.
wait_port_file()
{
    local file=$1 pid=$2 what=$3
    for _ in $(seq 100); do
        if [[ -s "$file" ]]; then
            cat "$file"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || die "$what exited before listening"
        sleep 0.1
    done
    die "$what did not start listening within 10 s"
}

# json_num KEY JSON: the number after "KEY": in a flat JSON object.
json_num()
{
    local v
    v=$(grep -o "\"$1\":[0-9]*" <<<"$2" | head -n1 | cut -d: -f2)
    echo "${v:-0}"
}

human_bytes()
{
    local n=$1
    if ((n < 1000)); then echo "$n B"; else awk -v n="$n" 'BEGIN { printf "%.1f KB", n / 1000 }'; fi
}

now_ms() { date +%s%3N; }
# Milliseconds as seconds with one decimal: "1.2 s".
secs() { awk -v m="$1" 'BEGIN { printf "%.1f s", m / 1000 }'; }

# device_sync D WHICH: sync device D through its link (run_demo's VIA), as a worker would; its
# JSON report in SYNC_OUT and the time it took, in ms, in SYNC_MS. WHICH names the sync in the
# message when it does not finish.
device_sync()
{
    local d=$1 t0
    t0=$(now_ms)
    SYNC_OUT=$("$SAKHI" --store "$DEMO_DIR/device-$d" --pin-file "$PIN" --json sync \
        --via "${VIA[$d]}" --retry 20 --timeout 20) ||
        die "device $d's $2 sync did not finish: $SYNC_OUT"
    SYNC_MS=$(($(now_ms) - t0))
}

run_demo()
{
    local missing
    missing=$(missing_parts)
    if [[ -n "$missing" ]]; then
        echo "demo: the demo cannot run; these programs are not built in $BUILD:"
        sed 's/^/  /' <<<"$missing"
        echo "demo: nothing was synced."
        return 1
    fi
    [[ -r "$SAMPLES" ]] || die "sample referrals not found: $SAMPLES"

    local SERVER=$BUILD/server/sakhi-server SAKHI=$BUILD/tools/cli/sakhi
    local ADMIN=$BUILD/tools/admin/sakhi-admin NETEM=$BUILD/tools/netem/sakhi-netem
    local t_start
    t_start=$(now_ms)

    rm -rf "$DEMO_DIR"
    mkdir -p "$DEMO_DIR"
    chmod 700 "$DEMO_DIR"
    trap stop_all EXIT
    trap 'exit 130' INT TERM
    local DATA=$DEMO_DIR/centre-data PIN=$DEMO_DIR/pin
    umask 077
    # At least 6 digits and not a common pattern (sakhi init refuses 123456, 121212, 147258...).
    echo "580317" >"$PIN"

    # -- the centre ----------------------------------------------------------------------------
    echo "1. The centre: a fresh data folder, three field workers and one staff member"
    "$ADMIN" --data "$DATA" init >/dev/null || die "sakhi-admin init"
    for w in 1 2 3; do
        "$ADMIN" --data "$DATA" worker add "field-$w" --role field --district leh >/dev/null ||
            die "sakhi-admin worker add field-$w"
    done
    "$ADMIN" --data "$DATA" worker add staff-1 --role staff --district leh >/dev/null ||
        die "sakhi-admin worker add staff-1"
    # The centre's TLS key; devices are given its pin with their enrollment code.
    local tls SPIN
    tls=$("$ADMIN" --data "$DATA" --json tls-cert --cn "Sakhi demo centre" --out "$DEMO_DIR/tls") ||
        die "sakhi-admin tls-cert"
    SPIN=$(grep -o '"pin":"[0-9a-fA-F]*"' <<<"$tls" | cut -d'"' -f4)
    [[ ${#SPIN} -eq 64 ]] || die "sakhi-admin tls-cert gave no pin: $tls"
    "$SERVER" --tls-cert "$DEMO_DIR/tls/server.crt" --tls-key "$DEMO_DIR/tls/server.key" \
        --listen 127.0.0.1 --port 0 --port-file "$DEMO_DIR/server.port" \
        --desk --desk-port 0 --desk-port-file "$DEMO_DIR/desk.port" \
        --data "$DATA" --log-file "$DEMO_DIR/server.log" &
    PIDS+=($!)
    local PORT
    PORT=$(wait_port_file "$DEMO_DIR/server.port" "${PIDS[0]}" sakhi-server)
    echo "   sakhi-server listening on 127.0.0.1:$PORT, TLS 1.3, key pin ${SPIN:0:16}..."
    local SB=$DEMO_DIR/standby-data SBPID=
    if [[ $STANDBY -eq 1 ]]; then
        # A standby with the centre's TLS key (devices pin one key) and a master key of its own,
        # enrolled once from a replica URI; it follows everything the centre writes.
        local ruri
        ruri=$("$ADMIN" --data "$DATA" --json enroll-code --replica --addr "127.0.0.1:$PORT" \
            --tls-cert "$DEMO_DIR/tls/server.crt" | grep -o '"uri":"[^"]*"' | cut -d'"' -f4)
        [[ -n "$ruri" ]] || die "sakhi-admin enroll-code --replica"
        "$SERVER" --tls-cert "$DEMO_DIR/tls/server.crt" --tls-key "$DEMO_DIR/tls/server.key" \
            --listen 127.0.0.1 --port 0 --port-file "$DEMO_DIR/standby.port" \
            --data "$SB" --log-file "$DEMO_DIR/standby.log" --standby-of "$ruri" &
        SBPID=$!
        PIDS+=("$SBPID")
        wait_port_file "$DEMO_DIR/standby.port" "$SBPID" "the standby" >/dev/null
        echo "   a standby server follows it (data in $SB, log $DEMO_DIR/standby.log)"
    fi

    # -- three devices, enrolled with one-time codes ---------------------------------------------
    echo "2. Three field devices, each enrolled with a one-time code and the centre's key pin"
    local d code uri
    for d in 1 2 3; do
        # Argon2id measured for 200 ms per unlock to keep the demo quick (a phone's default is 1 s).
        "$SAKHI" --store "$DEMO_DIR/device-$d" --pin-file "$PIN" --quiet init --kdf-target-ms 200 ||
            die "sakhi init (device $d)"
        if [[ $d -eq 1 ]]; then
            # Device 1 enrolls from one scan: the enrollment URI (server address, code and key
            # pin in one string), also written as a QR code a phone's camera reads.
            uri=$("$ADMIN" --data "$DATA" --json enroll-code "field-$d" --ttl 1h \
                --addr "127.0.0.1:$PORT" --tls-cert "$DEMO_DIR/tls/server.crt" \
                --qr-png "$DEMO_DIR/enroll-device-1.png" | grep -o '"uri":"[^"]*"' | cut -d'"' -f4)
            [[ $uri == sakhi:enroll\?* ]] || die "sakhi-admin enroll-code gave no URI"
            echo "   device 1 scans the QR code ($DEMO_DIR/enroll-device-1.png): ${uri:0:48}..."
            printf '%s\n' "$uri" | "$SAKHI" --store "$DEMO_DIR/device-$d" --pin-file "$PIN" \
                enroll --uri - --label "demo phone $d" | sed 's/^/   /' ||
                die "sakhi enroll --uri (device $d)"
            continue
        fi
        code=$("$ADMIN" --data "$DATA" enroll-code "field-$d" --ttl 1h) ||
            die "sakhi-admin enroll-code field-$d"
        "$SAKHI" --store "$DEMO_DIR/device-$d" --pin-file "$PIN" enroll \
            --server "127.0.0.1:$PORT" --code "$code" --server-pin "$SPIN" \
            --label "demo phone $d" | sed 's/^/   /' ||
            die "sakhi enroll (device $d)"
    done

    # -- capture offline -------------------------------------------------------------------------
    # Device 2 is on 2G (30 kbit/s): it gets a small batch.
    local -A RANGE=([1]=0-14 [2]=15-19 [3]=20-29) COUNT=([1]=15 [2]=5 [3]=10)
    echo "3. Offline capture of the sample referrals (no server involved)"
    for d in 1 2 3; do
        "$SAKHI" --store "$DEMO_DIR/device-$d" --pin-file "$PIN" capture \
            --from-sample "$SAMPLES" --index "${RANGE[$d]}" >"$DEMO_DIR/device-$d.ids" ||
            die "sakhi capture (device $d)"
        local n
        n=$(wc -l <"$DEMO_DIR/device-$d.ids")
        [[ "$n" -eq "${COUNT[$d]}" ]] || die "device $d captured $n referrals, expected ${COUNT[$d]}"
        echo "   device $d (field-$d): captured $n referrals (samples ${RANGE[$d]}), all pending"
    done

    # -- the links -------------------------------------------------------------------------------
    local -A VIA=([1]="127.0.0.1:$PORT")
    local preset seed
    for d in 2 3; do
        if [[ $d -eq 2 ]]; then preset=2g seed=$SEED_2G; else preset=flaky seed=$SEED_FLAKY; fi
        "$NETEM" --listen 0 --upstream "127.0.0.1:$PORT" --preset "$preset" --seed "$seed" \
            --port-file "$DEMO_DIR/netem-$preset.port" \
            --stats-json "$DEMO_DIR/netem-$preset.json" 2>"$DEMO_DIR/netem-$preset.log" &
        PIDS+=($!)
        VIA[$d]="127.0.0.1:$(wait_port_file "$DEMO_DIR/netem-$preset.port" "$!" "sakhi-netem $preset")"
    done
    local -A LINK=([1]="clean link" [2]="2g link (sakhi-netem, seed $SEED_2G)"
        [3]="flaky link (sakhi-netem, seed $SEED_FLAKY)")

    # -- first sync ------------------------------------------------------------------------------
    echo "4. First sync: device 1 on a clean link, devices 2 and 3 through sakhi-netem"
    local -A S1 S2 T1 T2
    local out
    for d in 1 2 3; do
        device_sync "$d" first
        out=$SYNC_OUT
        S1[$d]=$out
        T1[$d]=$SYNC_MS
        [[ "$(json_num applied "$out")" -eq "${COUNT[$d]}" ]] ||
            die "device $d: ${COUNT[$d]} captured but the server applied $(json_num applied "$out")"
        local tries cut=""
        tries=$(json_num attempts "$out")
        ((tries > 1)) && cut="; the connection was lost $((tries - 1)) time(s) and the sync resumed"
        printf '   device %s over the %s: sent %s referrals, %s acknowledged, %s, %s up / %s down%s\n' \
            "$d" "${LINK[$d]}" "$(json_num pushed "$out")" "$(json_num applied "$out")" \
            "$(secs "${T1[$d]}")" \
            "$(human_bytes "$(json_num bytes_sent "$out")")" \
            "$(human_bytes "$(json_num bytes_received "$out")")" "$cut"
    done

    # -- the centre: what arrived, accept some, add follow-ups -----------------------------------
    echo "5. The centre: what arrived; it accepts two referrals per device and follows up a third"
    local total
    total=$(json_num records "$("$ADMIN" --data "$DATA" --json stats)")
    [[ "$total" -eq 30 ]] || die "the centre holds $total records, expected 30"
    echo "   the centre holds $total referrals (15 + 5 + 10), each once"
    local -A CASES FOLLOWED
    local id cn
    for d in 1 2 3; do
        CASES[$d]=""
        for id in $(head -n 2 "$DEMO_DIR/device-$d.ids"); do
            cn=$("$ADMIN" --data "$DATA" accept "$id") || die "sakhi-admin accept $id"
            CASES[$d]+="$id=$cn "
            echo "   accepted ${id:0:13}... from device $d: case $cn"
        done
        # A referral not accepted yet stays in full on the worker's device, so the centre's
        # follow-up on it reaches her; an accepted case stays at the centre (the device keeps a
        # stub with the case number: data minimisation).
        id=$(sed -n 3p "$DEMO_DIR/device-$d.ids")
        "$ADMIN" --data "$DATA" followup "$id" \
            "Centre called her; she will come with her sister on Monday." >/dev/null ||
            die "sakhi-admin followup $id"
        FOLLOWED[$d]=$id
        echo "   follow-up added to ${id:0:13}... from device $d (not accepted yet)"
    done

    # -- second sync -----------------------------------------------------------------------------
    echo "6. Second sync: the case numbers and follow-ups flow back to the devices"
    for d in 1 2 3; do
        device_sync "$d" second
        out=$SYNC_OUT
        S2[$d]=$out
        T2[$d]=$SYNC_MS
        printf '   device %s: received %s updated records in %s (%s down)\n' "$d" \
            "$(json_num pulled "$out")" \
            "$(secs "${T2[$d]}")" \
            "$(human_bytes "$(json_num bytes_received "$out")")"
    done

    # Each accepted referral's case number must now be on the device that captured it, and the
    # follow-up on the device whose referral it follows.
    local pair show
    local -A STUBS
    for d in 1 2 3; do
        STUBS[$d]=0
        for pair in ${CASES[$d]}; do
            id=${pair%%=*} cn=${pair#*=}
            show=$("$SAKHI" --store "$DEMO_DIR/device-$d" --pin-file "$PIN" --json show "$id") ||
                die "sakhi show $id on device $d"
            grep -q "\"case_no\":\"$cn\"" <<<"$show" ||
                die "case number $cn did not reach device $d"
            grep -q '"stub":true' <<<"$show" && STUBS[$d]=$((STUBS[$d] + 1))
        done
        show=$("$SAKHI" --store "$DEMO_DIR/device-$d" --pin-file "$PIN" --json show \
            "${FOLLOWED[$d]}") || die "sakhi show ${FOLLOWED[$d]} on device $d"
        grep -q 'she will come with her sister' <<<"$show" ||
            die "the centre's follow-up did not reach device $d"
    done

    # -- the centre desk: a staff account, its password set through its one-time link -----------
    echo "7. The centre desk: an administrator's account, its password set through its setup link"
    local DPORT link pw pre code
    DPORT=$(wait_port_file "$DEMO_DIR/desk.port" "${PIDS[0]}" "the desk")
    link=$("$ADMIN" --data "$DATA" staff add demo-admin --role admin \
        --url "https://127.0.0.1:$DPORT") || die "sakhi-admin staff add"
    pw=$(openssl rand -hex 8) || die "openssl rand"
    # What a browser does with the link: open the form (it sets a pre-login cookie and carries
    # the same token), post the password twice.
    pre=$(curl -sk -c "$DEMO_DIR/desk.cookies" "$link" |
        grep -o 'name="csrf" value="[A-Za-z0-9_-]*"' | cut -d'"' -f4) || die "open the setup link"
    [[ ${#pre} -eq 43 ]] || die "the desk's setup page has no form token"
    code=$(curl -sk -o /dev/null -w '%{http_code}' -b "$DEMO_DIR/desk.cookies" \
        --data-urlencode "csrf=$pre" --data-urlencode "u=demo-admin" \
        --data-urlencode "t=${link##*t=}" --data-urlencode "password=demo-desk-$pw" \
        --data-urlencode "password2=demo-desk-$pw" "https://127.0.0.1:$DPORT/setup") ||
        die "post the setup form"
    [[ "$code" == 200 ]] || die "the desk refused the setup form ($code)"
    rm -f "$DEMO_DIR/desk.cookies"
    printf 'name: demo-admin\npassword: demo-desk-%s\n' "$pw" >"$DEMO_DIR/desk-login"
    echo "   desk account demo-admin set up at https://127.0.0.1:$DPORT (login saved in $DEMO_DIR/desk-login)"

    if [[ $STANDBY -eq 1 ]]; then
        echo "8. Failover: the centre's server is killed, the standby is promoted"
        local head applied st i
        head=$("$ADMIN" --data "$DATA" --json stats | grep -o '"log_head":[0-9]*' | cut -d: -f2)
        for i in $(seq 300); do
            st=$("$ADMIN" --data "$SB" --json stats)
            applied=$(grep -o '"applied":[0-9]*' <<<"$st" | head -n1 | cut -d: -f2)
            [[ -n "$applied" && "$applied" -ge "$head" ]] && break
            sleep 0.1
        done
        [[ -n "$applied" && "$applied" -ge "$head" ]] || die "the standby did not catch up"
        kill -KILL "${PIDS[0]}" 2>/dev/null || true
        wait "${PIDS[0]}" 2>/dev/null || true
        "$ADMIN" --data "$SB" promote | sed 's/^/   /' || die "sakhi-admin promote"
        local before after
        before=$("$ADMIN" --data "$DATA" --json stats | grep -o '"records":[0-9]*' | head -n1 |
            cut -d: -f2)
        after=$("$ADMIN" --data "$SB" --json stats | grep -o '"records":[0-9]*' | head -n1 |
            cut -d: -f2)
        [[ "$before" == "$after" ]] || die "the promoted standby holds $after records, the centre $before"
        for d in 1 2 3; do
            for pair in ${CASES[$d]}; do
                "$ADMIN" --data "$SB" --json show "${pair%%=*}" | grep -q "\"${pair#*=}\"" ||
                    die "case ${pair#*=} is not on the promoted standby"
            done
        done
        "$ADMIN" --data "$SB" audit --verify >/dev/null || die "the standby's audit chain"
        echo "   the promoted standby holds all $after records, every case number and its audit chain verifies;"
        echo "   devices that reach it see a new epoch and give back anything it lacked"
    fi

    stop_all
    trap - EXIT

    # -- the account -----------------------------------------------------------------------------
    local t_total=$(($(now_ms) - t_start)) up=0 down=0
    echo
    echo "=== What happened ==="
    for d in 1 2 3; do
        local s1=${S1[$d]} s2=${S2[$d]}
        up=$((up + $(json_num bytes_sent "$s1") + $(json_num bytes_sent "$s2")))
        down=$((down + $(json_num bytes_received "$s1") + $(json_num bytes_received "$s2")))
        echo "device $d (worker field-$d, ${LINK[$d]}):"
        echo "  sent     ${COUNT[$d]} referrals captured offline; the server acknowledged $(json_num applied "$s1") (merged $(json_num merged "$s1"), rejected $(json_num rejected "$s1"))"
        echo "  cases    $(for pair in ${CASES[$d]}; do printf '%s ' "${pair#*=}"; done)accepted; the device shows the case numbers and keeps ${STUBS[$d]} of the 2 as stubs (data minimisation)"
        echo "  back     $(json_num pulled "$s2") records changed by the centre: 2 accepted, 1 with the centre's follow-up, now readable on the device"
        echo "  wire     $(human_bytes $(($(json_num bytes_sent "$s1") + $(json_num bytes_sent "$s2")))) up, $(human_bytes $(($(json_num bytes_received "$s1") + $(json_num bytes_received "$s2")))) down; sync took $(awk -v a="${T1[$d]}" -v b="${T2[$d]}" 'BEGIN { printf "%.1f s + %.1f s", a / 1000, b / 1000 }'); $(json_num attempts "$s1")+$(json_num attempts "$s2") connection(s)"
    done
    local p
    for p in 2g flaky; do
        if [[ -s "$DEMO_DIR/netem-$p.json" ]]; then
            local js
            js=$(cat "$DEMO_DIR/netem-$p.json")
            echo "link $p: $(json_num connections "$js") connections, $(json_num cuts "$js") cut(s), $(json_num stalls "$js") stall(s), $(human_bytes "$(json_num bytes_up "$js")") up / $(human_bytes "$(json_num bytes_down "$js")") down through the proxy"
        fi
    done
    echo "centre:  received 30 referrals, each exactly once; accepted 6 and gave them case numbers;"
    echo "         every case number and follow-up reached the device that captured the referral."
    echo "total:   $(human_bytes "$up") up, $(human_bytes "$down") down on the devices' side; demo took $(secs "$t_total")"
    echo "data:    $DEMO_DIR (devices device-1..3, centre-data, server.log); PIN for the devices in $PIN"
    echo "try:     $SAKHI --store $DEMO_DIR/device-1 --pin-file $PIN list"
    echo "desk:    start the centre again with its desk:"
    echo "           $SERVER --data $DATA --tls-cert $DEMO_DIR/tls/server.crt --tls-key $DEMO_DIR/tls/server.key --desk --desk-port 7443"
    echo "         then open https://127.0.0.1:7443 (the demo's own certificate: accept it once)"
    echo "         and log in as demo-admin, password demo-desk-$pw (also in $DEMO_DIR/desk-login)"
    return 0
}

if [[ $NO_BUILD -eq 0 ]]; then
    "$ROOT/scripts/build.sh" "$BUILD"
fi
echo
echo "=== Sakhi Sync demo ==="
run_demo
