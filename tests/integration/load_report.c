/*
 * load_report.c - sakhi-load runs and its --json report for the load tests (load_report.h).
 * Owns nothing past each call; reads only the output file it is given.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "load_report.h"

#include "sk_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SAKHI_LOAD_BIN
#define SAKHI_LOAD_BIN "sakhi-load"
#endif

int lr_run(const char *out, const char *const *args)
{
    int rc = sk_proc_run(SAKHI_LOAD_BIN, args, out, 60000);
    assert_true(rc >= 0); /* started, and exited within a minute */
    return rc;
}

void lr_dump(const char *path)
{
    char *t = NULL;
    size_t n;
    if (sk_read_file(path, &t, &n) == 0)
        fprintf(stderr, "sakhi-load output:\n%s\n", t);
    free(t);
}

void lr_refuses(const char *out, const lr_refusal *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = lr_run(out, cases[i].args);
        int said = sk_file_contains(out, cases[i].msg);
        if (rc != 2 || said != 1) {
            fprintf(stderr, "case %zu: rc %d\n", i, rc);
            lr_dump(out);
        }
        assert_int_equal(rc, 2);
        assert_int_equal(said, 1);
    }
}

sk_json *lr_report(const char *path)
{
    char *text;
    size_t len;
    assert_int_equal(sk_read_file(path, &text, &len), 0);
    char *nl = strchr(text, '\n');
    size_t n = nl ? (size_t)(nl - text) : len;
    sk_json *j = NULL;
    sk_json_error err;
    int rc = sk_json_parse(&j, text, n, &err);
    if (rc)
        fprintf(stderr, "not JSON at %zu: %s\n%s\n", err.offset, err.msg, text);
    free(text);
    assert_int_equal(rc, 0);
    return j;
}

const sk_json *lr_get(const sk_json *j, const char *obj, const char *key)
{
    const sk_json *o = obj ? sk_json_get(j, obj) : j;
    assert_non_null(o);
    const sk_json *v = sk_json_get(o, key);
    assert_non_null(v);
    return v;
}

int64_t lr_int(const sk_json *j, const char *obj, const char *key)
{
    const sk_json *v = lr_get(j, obj, key);
    assert_int_equal(v->type, SK_JSON_NUMBER);
    return (int64_t)v->num;
}

int lr_bool(const sk_json *j, const char *obj, const char *key)
{
    const sk_json *v = lr_get(j, obj, key);
    assert_int_equal(v->type, SK_JSON_BOOL);
    return v->boolean;
}
