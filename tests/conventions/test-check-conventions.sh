#!/usr/bin/env bash
# scripts/check-conventions.sh lists each unbounded string write in code (and nothing in
# comments, strings or longer names), each file or socket call in proto/ (and none in other
# parts), each call of the C library's allocator in proto/ or client-lib/src outside
# proto/sk_alloc.c, each use of libuv in the server's session logic (and none in its driver)
# and each clock the session reads itself (and none in its driver), and passes the real tree.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check="$ROOT/scripts/check-conventions.sh"

mkdir -p "$tmp/server" "$tmp/tests"
cat >"$tmp/server/a.c" <<'C'
/* strcpy(x, y) in a comment is fine */
static void f(char *d, const char *s, struct t *o)
{
    const char *m = "strcpy(d, s) in a string is fine";
    snprintf(d, 8, "%s", s);
    my_strcpy(d, s);
    o->strcat(d, s);
    strcpy(d, s);
    (void)m;
}
C
printf 'void g(char *b)\n{\n    sprintf(b, "%%d", 1);\n}\n' >"$tmp/tests/b.c"
mkdir -p "$tmp/proto"
cat >"$tmp/proto/p.c" <<'C'
static int h(const char *path, struct r *r)
{
    int fd = open(path, 0);
    sk_frame_read(r);
    r->read(r);
    return fd;
}
C
printf 'int s(const char *p)\n{\n    return open(p, 0);\n}\n' >"$tmp/server/io.c"
mkdir -p "$tmp/client-lib/src"
cat >"$tmp/client-lib/src/c.c" <<'C'
static void k(struct a *a, EVP_PKEY *key, char *s)
{
    void *p = sk_amalloc(a, 8); /* malloc(8) in a comment is fine */
    EVP_PKEY_free(key);
    a->free_fn(p, a->payload);
    char *d = strdup(s);
    free(d);
}
C
printf 'void *m(size_t n)\n{\n    return calloc(1, n);\n}\n' >"$tmp/proto/q.c"
printf 'void *sk_amalloc(size_t n)\n{\n    return malloc(n);\n}\n' >"$tmp/proto/sk_alloc.c"
printf 'void *n(size_t n)\n{\n    return malloc(n);\n}\n' >"$tmp/server/m.c"
cat >"$tmp/server/sk_session.c" <<'C'
/* uv_now(loop) in a comment is fine */
#include <uv.h>
static uint64_t now(struct sk_session *s)
{
    return uv_now(s->srv->loop) + s->uv_ms;
}
static uint64_t stamp(void)
{
    return sk_now_ms() + s->time_ms;
}
C
printf '#include <uv.h>\nvoid c(uv_loop_t *l)\n{\n    uv_run(l, 0);\n}\n' >"$tmp/server/sk_conn.c"
printf 'uint64_t w(void)\n{\n    return sk_now_ms();\n}\n' >>"$tmp/server/sk_conn.c"
check_root "$tmp" 1 "banned calls"
want=$'check-conventions: unbounded string writes (strcpy, strcat, sprintf, vsprintf, gets)\nserver/a.c:8: strcpy(d, s);\ntests/b.c:3: sprintf(b, "%d", 1);\ncheck-conventions: file or socket I/O in proto/\nproto/p.c:3: int fd = open(path, 0);\ncheck-conventions: the C library\'s allocator in proto/ or client-lib/src (use sk_alloc.h)\nproto/q.c:3: return calloc(1, n);\nclient-lib/src/c.c:6: char *d = strdup(s);\nclient-lib/src/c.c:7: free(d);\ncheck-conventions: libuv in the session logic\nserver/sk_session.c:2: #include <uv.h>\nserver/sk_session.c:5: return uv_now(s->srv->loop) + s->uv_ms;\ncheck-conventions: a clock read in the session (use its driver\'s wall_ms)\nserver/sk_session.c:9: return sk_now_ms() + s->time_ms;\ncheck-conventions: FAILED (see docs/DEVELOPING.md, Conventions)'
[[ "$out" == "$want" ]] || fail "listing: got
$out"

check_root "$ROOT" 0 "the tree breaks a convention"

finish "check-conventions: all cases behave"
