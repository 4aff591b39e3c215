#!/usr/bin/env bash
# test-tool-links.sh BUILD_DIR - the offline tools do not link the server core: sakhi-admin,
# sakhi-dump and sakhi-load are linked without libsakhi_server_core.a (the link line CMake
# wrote), and hold no symbol of sessions, the listener, the writer thread or the transports;
# sakhi-admin and sakhi-dump use no libuv at all (no uv_ symbol, no libuv in NEEDED).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
BUILD=${1:?usage: test-tool-links.sh BUILD_DIR}

check()
{
    local tool=$1 dir=$2 no_uv=$3
    local bin="$BUILD/tools/$dir/$tool" link="$BUILD/tools/$dir/CMakeFiles/$tool.dir/link.txt"
    [[ -x "$bin" ]] || { fail "$bin not built"; return; }
    [[ -f "$link" ]] || { fail "$link missing"; return; }
    if grep -q "libsakhi_server_core\.a" "$link"; then
        fail "$tool is linked with the server core: $(grep -o '[^ ]*libsakhi_server_core\.a' "$link")"
    fi
    local core
    core=$(nm "$bin" | grep -E ' [TtDdBb] (sk_session_|sk_server_|sk_writer_|sk_transport_)' || true)
    [[ -z "$core" ]] || fail "$tool holds server core symbols: $(head -3 <<<"$core")"
    if [[ $no_uv == 1 ]]; then
        local uv
        uv=$(nm "$bin" | grep -E ' [A-Za-z] uv_' || true)
        [[ -z "$uv" ]] || fail "$tool uses libuv: $(head -3 <<<"$uv")"
        if readelf -d "$bin" | grep -q 'NEEDED.*libuv'; then
            fail "$tool needs libuv at run time"
        fi
    fi
}

check sakhi-admin admin 1
check sakhi-dump dump 1
check sakhi-load load 0

finish "tool links: sakhi-admin, sakhi-dump and sakhi-load do not link the server core"
