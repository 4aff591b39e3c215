/*
 * sk_testserver.c - start/stop a real sakhi-server around a test (see sk_testserver.h).
 *
 * Owns the temp directory it creates and the child process. The server binary's path comes
 * from SAKHI_SERVER_BIN (compile definition, overridable by the environment variable of the
 * same name). Never leaves a server running after sk_ts_teardown.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "sk_testserver.h"

#include "sk_case.h"
#include "sk_tlsfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef SAKHI_SERVER_BIN
#define SAKHI_SERVER_BIN "sakhi-server"
#endif

uint64_t sk_ts_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

const char *sk_ts_server_bin(void)
{
    const char *e = getenv("SAKHI_SERVER_BIN");
    return e && *e ? e : SAKHI_SERVER_BIN;
}

int sk_ts_setup(sk_ts *t, const char *prefix)
{
    memset(t, 0, sizeof(*t));
    if (sk_tmpdir_make(t->dir, sizeof(t->dir), prefix))
        return -1;
    snprintf(t->data, sizeof(t->data), "%s/data", t->dir);
    snprintf(t->log, sizeof(t->log), "%s/server.log", t->dir);
    snprintf(t->portfile, sizeof(t->portfile), "%s/port", t->dir);
    return 0;
}

int sk_ts_store(sk_ts *t, sk_store **out)
{
    return sk_store_open(out, t->data, 0);
}

int sk_ts_stats(sk_ts *t, uint64_t *records, uint64_t *seq)
{
    sk_store *s;
    int rc = sk_ts_store(t, &s);
    if (rc)
        return rc;
    rc = sk_store_stats(s, records, seq);
    sk_store_close(s);
    return rc;
}

int sk_ts_worker(sk_ts *t, const char *id, uint32_t role, uint32_t district)
{
    sk_store *s;
    int rc = sk_ts_store(t, &s);
    if (rc)
        return rc;
    sk_worker w;
    memset(&w, 0, sizeof(w));
    snprintf(w.id, sizeof(w.id), "%s", id);
    w.role = role;
    w.district = district;
    rc = sk_store_worker_put(s, &w);
    sk_store_close(s);
    return rc;
}

int sk_ts_code(sk_ts *t, const char *worker, uint64_t ttl_ms, char code[SK_ENROLL_CODE_LEN + 1])
{
    sk_store *s;
    int rc = sk_ts_store(t, &s);
    if (rc)
        return rc;
    rc = sk_store_enroll_code_new(s, worker, ttl_ms, sk_ts_now_ms(), code);
    sk_store_close(s);
    return rc;
}

int sk_ts_field_workers(sk_ts *t, int n, uint64_t ttl_ms, char (*codes)[SK_ENROLL_CODE_LEN + 1])
{
    for (int i = 0; i < n; i++) {
        char w[16];
        snprintf(w, sizeof(w), "fw%d", i);
        int rc = sk_ts_worker(t, w, SK_ROLE_FIELD, SK_DISTRICT_LEH);
        if (rc == 0)
            rc = sk_ts_code(t, w, ttl_ms, codes[i]);
        if (rc)
            return rc;
    }
    return 0;
}

size_t sk_ts_acked_missing(sk_store *st, const sk_ts_acked *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sk_record r;
        if (sk_store_record_get(st, &a[i].id, &r) != 0)
            return i;
        uint64_t version = r.version;
        sk_record_free(&r);
        if (version != a[i].version)
            return i;
    }
    return n;
}

int sk_ts_tls(sk_ts *t, uint8_t pin_out[SK_TLS_PIN_LEN])
{
    char err[256];
    snprintf(t->cert, sizeof(t->cert), "%s/centre.crt", t->dir);
    snprintf(t->key, sizeof(t->key), "%s/centre.key", t->dir);
    int rc = sk_tls_make_self_signed(t->cert, t->key, "test centre", 30, err, sizeof(err));
    if (rc == 0 && pin_out)
        rc = sk_tls_pin_from_cert_file(pin_out, t->cert, err, sizeof(err));
    return rc;
}

int sk_ts_start(sk_ts *t, const char *const *extra)
{
    const char *const tls[] = {"--tls-cert", t->cert, "--tls-key", t->key, NULL};
    const char *const plaintext[] = {"--plaintext", NULL};
    const char *const files[] = {"--port", "0",           "--data",    t->data, "--log-file",
                                 t->log,   "--port-file", t->portfile, NULL};
    char *argv[64];
    int n = 0;
    argv[n++] = (char *)sk_ts_server_bin();
    sk_proc_argv_add(argv, &n, 62, t->cert[0] ? tls : plaintext);
    sk_proc_argv_add(argv, &n, 62, files);
    sk_proc_argv_add(argv, &n, 62, extra);
    remove(t->portfile);
    char out[700];
    snprintf(out, sizeof(out), "%s/server.out", t->dir);
    if (sk_proc_start(&t->proc, argv, out))
        return -1;
    uint64_t end = sk_mono_ms() + 10000;
    while (sk_mono_ms() < end) {
        if (sk_wait_file(t->portfile, 20) == 0) {
            char *txt;
            if (sk_read_file(t->portfile, &txt, NULL) == 0) {
                t->port = (uint16_t)atoi(txt);
                free(txt);
                if (t->port)
                    return 0;
            }
        }
        if (!sk_proc_alive(&t->proc))
            return -1;
    }
    return -1;
}

/* <dir>/name into out. */
static void dir_path(const sk_ts *t, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", t->dir, name);
}

int sk_ts_start_fault(sk_ts *t, const char *lib, const char *kind, unsigned n,
                      const char *const *extra)
{
    static const char *const names[] = {
        "LD_PRELOAD",        "SK_IOFAULT_ONLY",  "SK_IOFAULT_REPORT",
        "SK_MALLOCFAIL_ARM", "SK_MALLOCFAIL_AT", "SK_IOFAULT",
        "SK_IOFAULT_OP",     "SK_IOFAULT_AT",    "SK_IOFAULT_ARM"};
    char report[700], arm[700], num[16], err[16], op[16];
    dir_path(t, "report", report, sizeof(report));
    dir_path(t, "arm", arm, sizeof(arm));
    snprintf(num, sizeof(num), "%u", n);
    setenv("LD_PRELOAD", lib, 1);
    setenv("SK_IOFAULT_ONLY", "sakhi-server", 1);
    setenv("SK_IOFAULT_REPORT", report, 1);
    if (strcmp(kind, "malloc") == 0) {
        setenv("SK_MALLOCFAIL_ARM", arm, 1);
        setenv("SK_MALLOCFAIL_AT", num, 1);
    } else if (sscanf(kind, "%15[^-]-%15s", err, op) == 2) {
        setenv("SK_IOFAULT", err, 1);
        setenv("SK_IOFAULT_OP", op, 1);
        setenv("SK_IOFAULT_AT", num, 1);
        setenv("SK_IOFAULT_ARM", arm, 1);
    }
    int rc = sk_ts_start(t, extra);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        unsetenv(names[i]);
    return rc;
}

int sk_ts_fault_arm(const sk_ts *t)
{
    char arm[700];
    dir_path(t, "arm", arm, sizeof(arm));
    FILE *f = fopen(arm, "w");
    if (!f)
        return -1;
    return fclose(f) == 0 ? 0 : -1;
}

int sk_ts_fault_fired(const sk_ts *t)
{
    char report[700];
    dir_path(t, "report", report, sizeof(report));
    return access(report, F_OK) == 0;
}

int sk_ts_stop(sk_ts *t, int timeout_ms)
{
    int rc = sk_proc_stop(&t->proc, timeout_ms);
    memset(&t->proc, 0, sizeof(t->proc));
    return rc;
}

void sk_ts_kill(sk_ts *t)
{
    if (t->proc.pid > 0 && !t->proc.reaped) {
        sk_proc_signal(&t->proc, 9);
        sk_proc_wait(&t->proc, 10000);
    }
    memset(&t->proc, 0, sizeof(t->proc));
}

void sk_ts_teardown(sk_ts *t)
{
    sk_ts_kill(t);
    if (t->dir[0] && !getenv("SAKHI_KEEP_TMP"))
        sk_tmpdir_remove(t->dir);
}
