#!/usr/bin/env bash
# enroll-uri-tools.sh BUILD_DIR SOURCE_DIR - enrollment from one scan, with the tools, against a
# sakhi-server serving TLS 1.3 on 127.0.0.1 exactly as the README starts it:
#   1. sakhi-admin enroll-code --addr --tls-cert --qr-png prints a code and the URI, and the PNG
#      (mode 0600) decodes (zbarimg, an independent QR reader) to exactly that URI;
#   2. the README's device commands: `sakhi init`, `sakhi enroll --uri -` fed the decoded QR, a
#      capture and a TLS sync the server applies;
#   3. the shipped example (client-lib/examples/capture_sync.c) enrolls from a URI and syncs;
#   4. refusals: a URI without a pin, --addr without a pin (no code made), a second enrollment.
# Every wait is bounded; everything started is stopped on exit.
set -euo pipefail
BUILD=$1
SRC=$2
ADMIN=$BUILD/tools/admin/sakhi-admin
SAKHI=$BUILD/tools/cli/sakhi
SERVER=$BUILD/server/sakhi-server
EXAMPLE=$BUILD/client-lib/sakhi-example
T=$(mktemp -d "${TMPDIR:-/tmp}/sakhi-enroll-uri-XXXXXX")
SPID=
cleanup()
{
    if [[ -n "$SPID" ]]; then
        kill -TERM "$SPID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $T/server.log ]] && tail -5 "$T/server.log" >&2; exit 1; }

DATA=$T/centre
"$ADMIN" --data "$DATA" init >/dev/null
"$ADMIN" --data "$DATA" worker add fw1 --role field --district leh >/dev/null
"$ADMIN" --data "$DATA" worker add fw2 --role field --district leh >/dev/null
"$ADMIN" --data "$DATA" tls-cert --cn "test centre" --out "$T/tls" >/dev/null
"$SERVER" --tls-cert "$T/tls/server.crt" --tls-key "$T/tls/server.key" --listen 127.0.0.1 \
    --port 0 --port-file "$T/port" --data "$DATA" --log-file "$T/server.log" &
SPID=$!
for _ in $(seq 100); do [[ -s $T/port ]] && break; kill -0 "$SPID" || fail "server exited"; sleep 0.1; done
[[ -s $T/port ]] || fail "server did not listen within 10 s"
PORT=$(cat "$T/port")
echo 580317 >"$T/pin"

# 1. the code, the URI and the QR code
out=$("$ADMIN" --data "$DATA" enroll-code fw1 --ttl 1h --addr "127.0.0.1:$PORT" \
    --tls-cert "$T/tls/server.crt" --qr-png "$T/enroll.png")
code=$(sed -n 1p <<<"$out")
uri=$(sed -n 2p <<<"$out")
[[ $code =~ ^[A-Z0-9]{10}$ ]] || fail "enroll-code printed no code: $out"
want="sakhi:enroll?v=1&addr=127.0.0.1:$PORT&code=$code&pin=$(openssl x509 -in "$T/tls/server.crt" -noout -pubkey |
    openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)"
[[ $uri == "$want" ]] || fail "URI: got '$uri', want '$want'"
[[ $(stat -c %a "$T/enroll.png") == 600 ]] || fail "the QR PNG is not mode 0600"
scanned=$(zbarimg --raw -q "$T/enroll.png" 2>/dev/null)
[[ $scanned == "$uri" ]] || fail "the QR code decodes to '$scanned', not the URI"
echo "ok: enroll-code printed the URI and its QR code decodes to it"

# 2. the README's device commands, fed the scanned URI
D1=$T/device-1
"$SAKHI" --store "$D1" --pin-file "$T/pin" --quiet init
printf '%s\n' "$scanned" | "$SAKHI" --store "$D1" --pin-file "$T/pin" enroll --uri - --label "phone 1" |
    grep -q "^enrolled as device [0-9]* for worker fw1 (field) with 127.0.0.1:$PORT (TLS, server key pinned)$" ||
    fail "sakhi enroll --uri did not enroll"
"$SAKHI" --store "$D1" --pin-file "$T/pin" capture --from-sample "$SRC/tests/data/sample-referrals.json" \
    --index 0 >/dev/null
sync=$("$SAKHI" --store "$D1" --pin-file "$T/pin" --json sync --timeout 20)
grep -q '"applied":1' <<<"$sync" || fail "sync over TLS did not apply the capture: $sync"
echo "ok: sakhi enroll --uri, capture and a TLS sync"

# 3. the shipped example, enrolling from a URI
uri2=$("$ADMIN" --data "$DATA" --json enroll-code fw2 --ttl 1h --addr "127.0.0.1:$PORT" \
    --tls-cert "$T/tls/server.crt" | grep -o '"uri":"[^"]*"' | cut -d'"' -f4)
[[ $uri2 == sakhi:enroll\?* ]] || fail "enroll-code --json gave no uri"
SAKHI_EXAMPLE_FAST_KDF=1 "$EXAMPLE" "$T/example-store" 583920 "$uri2" >"$T/example.out" ||
    { cat "$T/example.out"; fail "the example did not enroll and sync"; }
grep -q '^sync: pushed 1, rejected 0, pulled [0-9]*$' "$T/example.out" || fail "example: $(cat "$T/example.out")"
grep -q '^1 records, 0 pending$' "$T/example.out" || fail "example: $(cat "$T/example.out")"
records=$("$ADMIN" --data "$DATA" --json stats | grep -o '"records":[0-9]*' | head -n1 | cut -d: -f2)
[[ $records == 2 ]] || fail "the centre holds $records records, expected 2"
echo "ok: the example enrolled from a URI and synced; the centre holds 2 records"

# 4. refusals
"$SAKHI" --store "$T/device-2" --pin-file "$T/pin" --quiet init
set +e
msg=$("$SAKHI" --store "$T/device-2" --pin-file "$T/pin" enroll --uri "sakhi:enroll?v=1&addr=127.0.0.1:$PORT&code=X" 2>&1)
rc=$?
set -e
[[ $rc -ne 0 && $msg == *"the URI has no server key pin"* ]] || fail "a URI without pin: rc $rc, '$msg'"
before=$("$ADMIN" --data "$DATA" --json stats)
set +e
msg=$("$ADMIN" --data "$DATA" enroll-code fw2 --addr "127.0.0.1:$PORT" 2>&1)
rc=$?
set -e
[[ $rc -eq 2 && $msg == *"give the server key's pin"* ]] || fail "--addr without a pin: rc $rc, '$msg'"
set +e
msg=$(printf '%s\n' "$scanned" | "$SAKHI" --store "$D1" --pin-file "$T/pin" enroll --uri - 2>&1)
rc=$?
set -e
[[ $rc -ne 0 && $msg == *"already enrolled"* ]] || fail "second enrollment: rc $rc, '$msg'"
echo "ok: refusals"
echo "enroll-uri-tools: passed"
