#!/usr/bin/env bash
# test-session-links.sh TEST_BIN SESSION_LIB LINK_TXT CORE_LIB - the server's session logic
# builds and runs without libuv: the library sakhi_session calls no uv_ function (no undefined
# uv_ symbol in its archive), and the unit test that drives it (test_session_logic) is linked
# without libuv and without the server core (its link line) and needs no libuv at run time.
# The same symbol check finds libuv in the server core (CORE_LIB), so it can fail.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bin=${1:?usage: test-session-links.sh TEST_BIN SESSION_LIB LINK_TXT CORE_LIB}
lib=${2:?} link=${3:?} core=${4:?}

# The uv_ functions an archive's objects call (undefined symbols).
uv_calls()
{
    nm -u "$1" 2>/dev/null | awk '$1 == "U" && $2 ~ /^uv_/ { print $2 }' | sort -u
}

[[ -x "$bin" ]] || fail "$bin not built"
[[ -f "$lib" ]] || fail "$lib not built"
[[ -f "$link" ]] || fail "$link missing"
[[ -f "$core" ]] || fail "$core not built"
if ((fails == 0)); then
    calls=$(uv_calls "$lib")
    [[ -z "$calls" ]] || fail "sakhi_session calls libuv: $(head -3 <<<"$calls" | tr '\n' ' ')"
    [[ -n "$(uv_calls "$core")" ]] || fail "the check finds no uv_ call in the server core either"
    if grep -qE 'libuv|-luv\b|libsakhi_server_core\.a' "$link"; then
        fail "test_session_logic links libuv or the server core: $(grep -oE '[^ ]*(libuv|-luv|libsakhi_server_core\.a)[^ ]*' "$link" | head -3 | tr '\n' ' ')"
    fi
    if readelf -d "$bin" | grep -q 'NEEDED.*libuv'; then
        fail "test_session_logic needs libuv at run time"
    fi
    uv=$(nm "$bin" | grep -E ' [A-Za-z] uv_' || true)
    [[ -z "$uv" ]] || fail "test_session_logic holds libuv symbols: $(head -3 <<<"$uv")"
fi

finish "session links: sakhi_session and its unit test use no libuv"
