/*
 * admin.c - what every sakhi-admin command shares: the small option parser, failing with a
 * message and an exit status, opening the store, printing a result or a listing, naming the
 * actor and finding the keys folder.
 * The global options and the command table are admin_main.c.
 *
 * sakhi-admin is the centre administrator's tool. It opens the server's data directory
 * directly (LMDB lets it run beside a live server) and goes through the server's own store and
 * apply code, so an action taken here follows exactly the rules a pushed change follows. It
 * owns only the process's command-line state. It must never print a referral's content except
 * where the command is asked to show or export it (show, export), and then only after redaction
 * for minors unless an administrator is named.
 */
#include "admin.h"

#include "sk_err.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int sk_admin_fail(const sk_admin *a, int status, const char *fmt, ...)
{
    va_list ap;
    (void)a;
    fprintf(stderr, "sakhi-admin: %s%s", a->cmd ? a->cmd : "", a->cmd ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

void sk_admin_jw_new_epoch(sk_jw *w, const sk_store_epoch *ep)
{
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64, ep->epoch);
    sk_jw_kcstr(w, "epoch", hex);
    snprintf(hex, sizeof(hex), "%016" PRIx64, ep->prev);
    sk_jw_kcstr(w, "prev_epoch", hex);
}

sk_jw *sk_admin_json_list_begin(const sk_admin *a, sk_admin_json *j, const char *key)
{
    sk_jw *w = sk_jline_begin(j);
    if (a->json) {
        sk_jw_key(w, key);
        sk_jw_arr_begin(w);
    }
    return w;
}

int sk_admin_json_end(const sk_admin *a, sk_admin_json *j)
{
    return sk_jline_print(j) ? sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "out of memory") : 0;
}

int sk_admin_json_result(const sk_admin *a, const sk_admin_kv *kv, size_t n)
{
    sk_admin_json j;
    sk_jw *w = sk_jline_begin(&j);
    for (size_t i = 0; i < n; i++) {
        if (kv[i].kind == SK_ADMIN_KV_UINT)
            sk_jw_kuint(w, kv[i].key, kv[i].u);
        else if (kv[i].kind == SK_ADMIN_KV_BOOL)
            sk_jw_kbool(w, kv[i].key, (int)kv[i].u);
        else
            sk_jw_kcstr(w, kv[i].key, kv[i].s);
    }
    return sk_admin_json_end(a, &j);
}

int sk_admin_print_rows(sk_admin *a, int (*list)(sk_admin_rows *c), const char *what)
{
    sk_admin_rows c;
    sk_buf b = SK_BUF_INIT;
    int rc = sk_admin_open(a, 1);
    if (rc)
        return rc;
    memset(&c, 0, sizeof(c));
    c.a = a;
    sk_jw_init(&c.w, &b, 0);
    if (a->json)
        sk_jw_arr_begin(&c.w);
    rc = list(&c);
    if (a->json) {
        sk_jw_arr_end(&c.w);
        if (!b.oom)
            printf("%.*s\n", (int)b.len, (const char *)b.data);
    }
    sk_buf_free(&b);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot list%s%s: %s", what ? " " : "",
                             what ? what : "", sk_err_text(rc));
    return 0;
}

int sk_admin_print_change(const sk_admin *a, const char *idt, const char *event, uint64_t version,
                          int merged, const char *status, const char *case_no, const char *outcome)
{
    if (a->json) {
        const sk_admin_kv kv[] = {{"id", idt, 0, SK_ADMIN_KV_STR},
                                  {"version", NULL, version, SK_ADMIN_KV_UINT},
                                  {"merged", NULL, (uint64_t)merged, SK_ADMIN_KV_BOOL},
                                  {"status", status, 0, SK_ADMIN_KV_STR},
                                  {"case_no", case_no[0] ? case_no : NULL, 0, SK_ADMIN_KV_STR},
                                  {"outcome", outcome, 0, SK_ADMIN_KV_STR}};
        return sk_admin_json_result(a, kv, outcome ? 6 : 5);
    }
    if (strcmp(event, "accept") == 0)
        printf("%s\n", case_no);
    else if (a->tty)
        printf("%s %s: version %" PRIu64 ", status %s%s%s\n", idt, event, version, status,
               case_no[0] ? ", case " : "", case_no);
    return 0;
}

/* The longest option table a command has, plus room to spare. */
#define ADMIN_MAX_OPTS 48

int sk_admin_parse(sk_admin *a, int argc, char **argv, const sk_admin_opt *opts, const char **pos,
                   size_t minpos, size_t maxpos, size_t *npos, const char *help)
{
    int json = 0;
    const sk_opt globals[] = {
        {"data", SK_OPT_VALUE, &a->data}, {"json", SK_OPT_FLAG, &json}, {NULL, 0, NULL}};
    sk_opt conv[ADMIN_MAX_OPTS + 1];
    size_t n = 0;
    char err[160];
    /* The commands' tables say has_arg/val/flag; the parser's say kind/dst. */
    for (const sk_admin_opt *o = opts; o && o->name; o++) {
        if (n == ADMIN_MAX_OPTS)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "too many options in one table");
        conv[n].name = o->name;
        conv[n].kind = o->has_arg ? SK_OPT_VALUE : SK_OPT_FLAG;
        conv[n].dst = o->has_arg ? (void *)o->val : (void *)o->flag;
        n++;
    }
    conv[n].name = NULL;
    int rc = sk_opts_parse(argc, argv, conv, globals, pos, minpos, maxpos, npos, 0, help, err,
                           sizeof(err));
    if (rc == SK_OPTS_HELP)
        return -1;
    if (rc != SK_OPTS_OK)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "%s", err);
    if (json)
        a->json = 1;
    if (!a->data || !a->data[0])
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--data needs a directory");
    return 0;
}

int sk_admin_open(sk_admin *a, int must_exist)
{
    if (a->store)
        return 0;
    if (must_exist) {
        char path[4096];
        struct stat st;
        int n = snprintf(path, sizeof(path), "%s/data.mdb", a->data);
        if (n < 0 || (size_t)n >= sizeof(path))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "data directory path too long");
        if (stat(path, &st) != 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                                 "no store in %s (create one with `sakhi-admin init`, or give "
                                 "--data DIR)",
                                 a->data);
    }
    return sk_admin_store_open(a, 0);
}

int sk_admin_store_open(sk_admin *a, uint64_t map_size)
{
    sk_store_opts so = SK_STORE_OPTS_INIT;
    so.keys_dir = a->keys && a->keys[0] ? a->keys : NULL;
    int rc = sk_store_open_opts(&a->store, a->data, map_size, &so);
    if (rc) {
        a->store = NULL;
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s",
                             sk_store_open_error()[0] ? sk_store_open_error() : sk_err_text(rc));
    }
    /* A standby's copy takes writes only from its primary, and a demoted primary's none at
     * all: refuse every write of this process, so it stays a faithful copy. promote and demote
     * change the role itself. Reads go on as usual. */
    if (!a->cmd || (strcmp(a->cmd, "promote") != 0 && strcmp(a->cmd, "demote") != 0)) {
        MDB_txn *txn;
        char role[16] = "";
        size_t len = 0;
        if ((rc = sk_store_mdb_err(
                 mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn))) == 0) {
            rc = sk_store_local_get_txn(a->store, txn, "role", role, sizeof(role) - 1, &len);
            mdb_txn_abort(txn);
        }
        if (rc && rc != -SK_E_NOT_FOUND) {
            sk_store_close(a->store);
            a->store = NULL;
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the replication role: %s",
                                 sk_err_text(rc));
        }
        role[rc ? 0 : len] = '\0';
        if (strcmp(role, "standby") == 0 || strcmp(role, "demoted") == 0) {
            snprintf(a->refuse_role, sizeof(a->refuse_role), "%s", role);
            sk_store_refuse_writes(a->store, -SK_E_NOT_PRIMARY);
        }
    }
    const char *from, *to;
    if (sk_store_master_moved(a->store, &from, &to))
        fprintf(stderr, "sakhi-admin: moved the master key out of the data directory: %s -> %s\n",
                from, to);
    return 0;
}

void sk_admin_close(sk_admin *a)
{
    sk_store_close(a->store);
    a->store = NULL;
}

uint64_t sk_admin_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sk_admin_actor(sk_admin *a, const char *name, sk_actor *actor, sk_worker *wbuf)
{
    memset(wbuf, 0, sizeof(*wbuf));
    if (name)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--as is refused: sakhi-admin acts as the Unix account that runs it "
                             "(%s); run it under your own account",
                             a->operator_name);
    memcpy(wbuf->id, a->operator_name, sizeof(a->operator_name));
    wbuf->role = SK_ROLE_ADMIN;
    wbuf->district = 0;
    actor->role = wbuf->role;
    actor->worker = wbuf->id;
    actor->district = wbuf->district;
    return 0;
}

int sk_admin_open_as(sk_admin *a, const char *name, sk_actor *actor, sk_worker *wbuf)
{
    int rc = sk_admin_open(a, 1);
    return rc ? rc : sk_admin_actor(a, name, actor, wbuf);
}

int sk_admin_keys_dir(const sk_admin *a, char *out, size_t cap)
{
    return sk_store_keys_dir(out, cap, a->data, a->keys);
}

int sk_admin_parse_day(const char *s, int utc, int end_of_day, uint64_t *out)
{
    struct tm tm;
    int y, m, d;
    char tail;
    memset(&tm, 0, sizeof(tm));
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
        sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 2000 || m < 1 || m > 12 ||
        d < 1 || d > 31)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm);
    if (t < 0 || tm.tm_mday != d) /* timegm normalised an impossible day (2026-02-30) */
        return -1;
    uint64_t ms = (uint64_t)t * 1000u - (utc ? 0 : SK_ADMIN_IST_MS); /* year 2000 on: no wrap */
    *out = end_of_day ? ms + SK_ADMIN_DAY_MS - 1 : ms;
    return 0;
}

void sk_admin_fmt_time(uint64_t ms, int utc, int zone, char out[32])
{
    time_t t = (time_t)((ms + (utc ? 0 : SK_ADMIN_IST_MS)) / 1000);
    struct tm tm;
    size_t n = gmtime_r(&t, &tm) ? strftime(out, 32, "%Y-%m-%d %H:%M", &tm) : 0;
    if (n == 0)
        n = (size_t)snprintf(out, 32, "-");
    if (zone)
        snprintf(out + n, 32 - n, " %s", utc ? "UTC" : "IST");
}

int sk_admin_read_begin(sk_admin *a, MDB_txn **txn)
{
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, txn));
    return rc ? sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read: %s", sk_err_text(rc)) : 0;
}

int sk_admin_valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SK_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@'))
            return 0;
    }
    return 1;
}

int sk_admin_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || s[0] == '-' || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int sk_admin_open_read(sk_admin *a, MDB_txn **txn)
{
    int rc = sk_admin_open(a, 1);
    return rc ? rc : sk_admin_read_begin(a, txn);
}

int sk_admin_list_records(sk_admin *a, MDB_txn *txn, int (*row)(const sk_record *r, void *p),
                          void *p, const char *what)
{
    int rc = sk_store_records_each_txn(a->store, txn, row, p);
    mdb_txn_abort(txn);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot list %s: %s", what, sk_err_text(rc));
    return 0;
}

const char *sk_admin_field_name(uint32_t key, char buf[24])
{
    const sk_field_info *fi = sk_case_field_info(key);
    if (fi)
        return fi->name;
    snprintf(buf, 24, "field.%u", (unsigned)key);
    return buf;
}

const char *sk_admin_enum_text(sk_enum_id e, const sk_record *r, uint32_t key, char *buf,
                               size_t cap)
{
    uint64_t v;
    if (sk_case_get_uint(r, key, &v) != 0)
        return "-";
    const char *n = sk_enum_name(e, v);
    if (n)
        return n;
    snprintf(buf, cap, "unknown(%" PRIu64 ")", v);
    return buf;
}
