/*
 * admin.c - what every sakhi-admin command shares: the small option parser, failing with a
 * message and an exit status, opening the store, naming the actor and finding the keys folder.
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

static const sk_admin_opt *find_opt(const sk_admin_opt *opts, const char *name, size_t n)
{
    for (const sk_admin_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

int sk_admin_parse(sk_admin *a, int argc, char **argv, const sk_admin_opt *opts, const char **pos,
                   size_t minpos, size_t maxpos, size_t *npos, const char *help)
{
    int json = 0;
    const sk_admin_opt globals[] = {
        {"data", 1, &a->data, NULL}, {"json", 0, NULL, &json}, {NULL, 0, NULL, NULL}};
    size_t np = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            fputs(help, stdout);
            return -1;
        }
        if (!only_pos && arg[0] == '-' && arg[1] == '-' && arg[2]) {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            const sk_admin_opt *o = find_opt(opts, name, n);
            if (!o)
                o = find_opt(globals, name, n);
            if (!o)
                return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown option --%.*s (see --help)",
                                     (int)n, name);
            if (o->has_arg) {
                const char *v;
                if (eq)
                    v = eq + 1;
                else if (i + 1 < argc)
                    v = argv[++i];
                else
                    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "option --%s needs a value",
                                         o->name);
                *o->val = v;
            } else {
                if (eq)
                    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "option --%s takes no value",
                                         o->name);
                *o->flag = 1;
            }
            continue;
        }
        if (!only_pos && arg[0] == '-' && arg[1] && arg[1] != '-')
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown option %s (see --help)", arg);
        if (np >= maxpos)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unexpected argument '%s' (see --help)",
                                 arg);
        pos[np++] = arg;
    }
    if (json)
        a->json = 1;
    if (np < minpos)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "missing argument (see --help)");
    if (!a->data || !a->data[0])
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--data needs a directory");
    if (npos)
        *npos = np;
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

int sk_admin_keys_dir(const sk_admin *a, char *out, size_t cap)
{
    return sk_store_keys_dir(out, cap, a->data, a->keys);
}
