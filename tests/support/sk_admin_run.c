/*
 * sk_admin_run.c - see sk_admin_run.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_admin_run.h"

#include "sk_proc.h"
#include "sk_testserver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define RUN_TIMEOUT_MS 60000

int sk_admin_setup(sk_admin_run *g, const char *prefix)
{
    memset(g, 0, sizeof(*g));
    if (sk_tmpdir_make(g->dir, sizeof(g->dir), prefix) != 0)
        return -1;
    snprintf(g->data, sizeof(g->data), "%s/data", g->dir);
    snprintf(g->out, sizeof(g->out), "%s/stdout", g->dir);
    snprintf(g->err, sizeof(g->err), "%s/stderr", g->dir);
    return 0;
}

void sk_admin_teardown(sk_admin_run *g)
{
    free(g->o);
    free(g->e);
    g->o = g->e = NULL;
    if (g->dir[0])
        sk_tmpdir_remove(g->dir);
}

char *sk_admin_slurp(const char *path, size_t *len_out)
{
    char *s = NULL;
    size_t n = 0;
    if (sk_read_file(path, &s, &n) != 0)
        return strdup("");
    if (len_out)
        *len_out = n;
    return s;
}

int sk_admin_runv(sk_admin_run *g, const char *const *args)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = "--data";
    argv[n++] = g->data;
    for (size_t i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    free(g->o);
    free(g->e);
    g->o = g->e = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = sk_proc_spawn(SAKHI_ADMIN_BIN, argv, g->dir, g->out, g->err, NULL);
    int code = -1;
    if (pid > 0) {
        sk_proc p = {pid, 0, 0};
        if (sk_proc_wait(&p, RUN_TIMEOUT_MS) == 0)
            code = sk_proc_exit_code(&p);
        else
            (void)sk_proc_stop(&p, 1000);
    }
    g->o = sk_admin_slurp(g->out, NULL);
    g->e = sk_admin_slurp(g->err, NULL);
    return code;
}

int sk_admin_vrun(sk_admin_run *g, const char *first, va_list ap)
{
    const char *args[61];
    size_t n = 0;
    for (const char *s = first; s && n < 60; s = va_arg(ap, const char *))
        args[n++] = s;
    args[n] = NULL;
    return sk_admin_runv(g, args);
}

void sk_admin_path(const sk_admin_run *g, char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g->dir, name);
}

int sk_admin_text(char **text, const char *out_path, const char *data, const char *first, ...)
{
    const char *args[61];
    size_t n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 60; a = va_arg(ap, const char *))
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return sk_admin_textv(text, out_path, data, args);
}

int sk_admin_textv(char **text, const char *out_path, const char *data, const char *const *args)
{
    const char *argv[63];
    size_t n = 0;
    if (data) {
        argv[n++] = "--data";
        argv[n++] = data;
    }
    for (size_t i = 0; args[i] && n < 62; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    free(*text);
    *text = NULL;
    int rc = sk_proc_run(SAKHI_ADMIN_BIN, argv, out_path, RUN_TIMEOUT_MS);
    assert_true(rc >= 0);
    assert_int_equal(sk_read_file(out_path, text, NULL), 0);
    return rc;
}

int sk_admin_check(sk_admin_run *g, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    int rc = sk_admin_vrun(g, first, ap);
    va_end(ap);
    assert_true(rc >= 0 && rc < 128); /* ran, and was not killed */
    return rc;
}

int sk_admin_fx_setup(void **state)
{
    return sk_admin_setup(*state, "sakhi-admin");
}

int sk_admin_fx_teardown(void **state)
{
    sk_admin_teardown(*state);
    return 0;
}

int sk_admin_ts(const struct sk_ts *ts, const char *data, const char *const *args, char **text)
{
    char out[sizeof(ts->dir) + 16], *t = NULL;
    snprintf(out, sizeof(out), "%s/admin.out", ts->dir);
    int rc = sk_admin_textv(&t, out, data ? data : ts->data, args);
    if (text)
        *text = t;
    else
        free(t);
    return rc;
}

void sk_admin_ts_ok(const struct sk_ts *ts, const char *const *args)
{
    char *text = NULL;
    int rc = sk_admin_ts(ts, NULL, args, &text);
    if (rc != 0)
        fail_msg("sakhi-admin %s exited %d: %s", args[0], rc, text);
    free(text);
}

int sk_admin_at(sk_admin_run *g, const struct sk_ts *ts, const char *const *args)
{
    free(g->o);
    g->o = NULL;
    return sk_admin_ts(ts, NULL, args, &g->o);
}

int sk_admin_json_str(const char *json, const char *key, char *out, size_t cap)
{
    char pat[64];
    if (snprintf(pat, sizeof(pat), "\"%s\":\"", key) >= (int)sizeof(pat))
        return -1;
    const char *v = strstr(json, pat);
    const char *e = v ? strchr(v + strlen(pat), '"') : NULL;
    if (!e)
        return -1;
    v += strlen(pat);
    if ((size_t)(e - v) >= cap)
        return -1;
    memcpy(out, v, (size_t)(e - v));
    out[e - v] = '\0';
    return 0;
}
