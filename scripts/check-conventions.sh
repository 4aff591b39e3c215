#!/usr/bin/env bash
# check-conventions.sh [--root DIR] - fail on C that the project's conventions rule out
# (docs/DEVELOPING.md, "Conventions"), listing every place:
#   - strcpy, strcat, sprintf, vsprintf and gets anywhere in the C sources (proto/, server/,
#     client-lib/, tools/, tests/, bench/): they write without knowing the destination's size.
#     Copy with memcpy after a length check, or snprintf(dst, sizeof(dst), "%s", src).
#   - file or socket I/O in proto/, the layer both sides share (docs/ARCHITECTURE.md): no
#     open, read, write, fopen, fsync, flock, socket, connect, ... there, nor OpenSSL's file
#     loaders. Files belong to storage/, sockets to the server and the client library.
#   - the C library's allocator (malloc, calloc, realloc, reallocarray, free, strdup, strndup,
#     aligned_alloc, posix_memalign, memalign, valloc) in proto/ and client-lib/src outside
#     proto/sk_alloc.c: everything there allocates through an sk_allocator (sk_alloc.h), so a
#     libsakhi handle opened with allocator hooks uses nothing else (docs/CLIENT-API.md, Memory).
#   - libuv in the server's session logic (the sources of sakhi_session, server/CMakeLists.txt,
#     and their headers): no #include <uv.h> and no uv_ call. Sessions are fed bytes and the
#     time; the loop is sk_conn.c's and sk_server.c's (docs/ARCHITECTURE.md).
#   - a clock read in the session (server/sk_session.c): no sk_now_ms, gettimeofday,
#     clock_gettime or time call. Its driver gives it the loop time with each input and the
#     wall clock through sk_session_io.wall_ms, so a test can set both.
# Comments and string literals are not read, so a comment may name a banned call.
# Exit status: 0 clean, 1 something found (listed as file:line: text), 2 usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ "${1:-}" == "--root" && -n "${2:-}" ]]; then
    ROOT=$(cd "$2" && pwd)
elif [[ $# -ne 0 ]]; then
    echo "usage: check-conventions.sh [--root DIR]" >&2
    exit 2
fi

# Print file:line: code for each match of the regex $1 in code with comments and strings blanked.
scan()
{
    local re=$1
    shift
    python3 - "$ROOT" "$re" "$@" <<'PY'
import os, re, sys
root, pattern = sys.argv[1], re.compile(sys.argv[2])
dirs = [d for d in sys.argv[3:] if not d.startswith("!")]
skip = {d[1:] for d in sys.argv[3:] if d.startswith("!")}  # "!path": a file not read

def blank(text):
    """Comments and string/char literals replaced by spaces (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text[i] in "\"'":
            q, j = text[i], i + 1
            while j < n and text[j] != q and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(q + " " * (j - i - 2) + q if j - i >= 2 else text[i:j])
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)

found = 0
for d in dirs:
    base = os.path.join(root, d)
    if os.path.isfile(base):  # a file named on its own
        tree = [(os.path.dirname(base), [], [os.path.basename(base)])]
    else:
        tree = os.walk(base)
    for dp, dns, fns in tree:
        dns.sort()
        for fn in sorted(fns):
            if not fn.endswith((".c", ".h")):
                continue
            path = os.path.join(dp, fn)
            if os.path.relpath(path, root) in skip:
                continue
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
            lines = text.split("\n")
            for no, line in enumerate(blank(text).split("\n"), 1):
                if pattern.search(line):
                    print("%s:%d: %s" % (os.path.relpath(path, root), no, lines[no - 1].strip()))
                    found += 1
sys.exit(1 if found else 0)
PY
}

bad=0
echo "check-conventions: unbounded string writes (strcpy, strcat, sprintf, vsprintf, gets)"
scan '(?<![\w.>])(strcpy|strcat|sprintf|vsprintf|gets)\s*\(' \
    proto server client-lib tools tests bench || bad=1

echo "check-conventions: file or socket I/O in proto/"
scan '(?<![\w.>])(open|openat|creat|fopen|fdopen|freopen|read|write|pread|pwrite|readv|writev|close|fclose|fread|fwrite|fgets|fputs|fprintf|fscanf|getline|fsync|fdatasync|flock|fcntl|ftruncate|truncate|unlink|rename|mkdir|rmdir|opendir|stat|fstat|lstat|socket|connect|bind|listen|accept|accept4|send|recv|sendto|recvfrom|sendmsg|recvmsg|poll|select|epoll_wait|BIO_new_file|BIO_new_fd|BIO_new_socket|SSL_CTX_use_certificate_chain_file|SSL_CTX_use_certificate_file|SSL_CTX_use_PrivateKey_file|SSL_CTX_load_verify_locations)\s*\(' \
    proto || bad=1

echo "check-conventions: the C library's allocator in proto/ or client-lib/src (use sk_alloc.h)"
scan '(?<![\w.>])(malloc|calloc|realloc|reallocarray|free|strdup|strndup|aligned_alloc|posix_memalign|memalign|valloc)\s*\(' \
    proto client-lib/src '!proto/sk_alloc.c' || bad=1

echo "check-conventions: libuv in the session logic"
session_logic=()
for m in sk_config sk_context sk_ratelimit sk_session sk_transport sk_tls_transport sk_wreq; do
    session_logic+=("server/$m.c" "server/$m.h")
done
scan '#\s*include\s*[<"]uv\.h[>"]|(?<![\w.>])uv_\w+\s*\(' "${session_logic[@]}" || bad=1

echo "check-conventions: a clock read in the session (use its driver's wall_ms)"
scan '(?<![\w.>])(sk_now_ms|gettimeofday|clock_gettime|time)\s*\(' server/sk_session.c || bad=1

if [[ $bad -ne 0 ]]; then
    echo "check-conventions: FAILED (see docs/DEVELOPING.md, Conventions)"
    exit 1
fi
echo "check-conventions: clean"
