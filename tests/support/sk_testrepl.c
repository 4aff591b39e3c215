/*
 * sk_testrepl.c - see sk_testrepl.h.
 */
#include "sk_testrepl.h"

#include "sk_case.h"
#include "sk_testclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sk_trepl_admin_on(sk_admin_run *g, const sk_ts *t)
{
    memset(g, 0, sizeof(*g));
    /* sk_ts's paths are longer arrays than sk_admin_run's: refuse one that does not fit */
    if (snprintf(g->dir, sizeof(g->dir), "%s", t->dir) >= (int)sizeof(g->dir) ||
        snprintf(g->data, sizeof(g->data), "%s", t->data) >= (int)sizeof(g->data) ||
        snprintf(g->out, sizeof(g->out), "%s/admin.out", t->dir) >= (int)sizeof(g->out) ||
        snprintf(g->err, sizeof(g->err), "%s/admin.err", t->dir) >= (int)sizeof(g->err))
        return -1;
    return 0;
}

void sk_trepl_admin_done(sk_admin_run *g)
{
    free(g->o);
    free(g->e);
    g->o = g->e = NULL;
}

int sk_trepl_replica_uri(const sk_ts *p, const char *pin_hex, uint16_t port, char *uri, size_t cap)
{
    sk_admin_run g;
    char addr[32];
    int rc = -1;
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
    const char *args[] = {"--json", "enroll-code", "--replica", "--addr",
                          addr,     "--pin",       pin_hex,     NULL};
    if (sk_trepl_admin_on(&g, p) == 0 && sk_admin_runv(&g, args) == 0)
        rc = sk_admin_json_str(g.o, "uri", uri, cap);
    sk_trepl_admin_done(&g);
    return rc;
}

int sk_trepl_pair(sk_ts *p, sk_ts *s, const char *pname, const char *sname,
                  uint8_t pin[SK_TLS_PIN_LEN], char pin_hex[SK_TLS_PIN_HEX_LEN + 1])
{
    if (sk_ts_setup(p, pname) || sk_ts_setup(s, sname) || sk_ts_tls(p, pin))
        return -1;
    sk_tls_pin_format(pin_hex, pin);
    if (snprintf(s->cert, sizeof(s->cert), "%s", p->cert) >= (int)sizeof(s->cert) ||
        snprintf(s->key, sizeof(s->key), "%s", p->key) >= (int)sizeof(s->key))
        return -1;
    return sk_ts_worker(p, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH) ? -1 : 0;
}

int sk_trepl_start_standby(sk_ts *s, const sk_ts *p, const char *pin_hex, uint16_t port)
{
    char uri[512];
    if (sk_trepl_replica_uri(p, pin_hex, port, uri, sizeof(uri)))
        return -1;
    const char *sargs[] = {"--standby-of", uri, NULL};
    return sk_ts_start(s, sargs) ? -1 : 0;
}

int sk_trepl_device(sk_tc *dev, sk_ts *p, const uint8_t pin[SK_TLS_PIN_LEN], int timeout_ms)
{
    char code[SK_ENROLL_CODE_LEN + 1];
    sk_tc_init(dev);
    if (timeout_ms > 0)
        dev->timeout_ms = timeout_ms;
    if (sk_ts_code(p, "fw1", 3600000, code) || sk_tc_use_tls(dev, pin) ||
        sk_tc_connect(dev, p->port) || sk_tc_enroll(dev, code, "phone"))
        return -1;
    return 0;
}

/* The number after "key": in JSON text, looked for after the first `from`; 0 with *ok = 0 when
 * absent. */
static uint64_t json_u64(const char *text, const char *key, const char *from, int *ok)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *f = strstr(text, from);
    const char *p = f ? strstr(f, pat) : NULL;
    if (!p) {
        *ok = 0;
        return 0;
    }
    return strtoull(p + strlen(pat), NULL, 10);
}

int sk_trepl_wait_caught_up(const sk_ts *p, const sk_ts *s, int timeout_ms)
{
    const char *args[] = {"--json", "stats", NULL};
    uint64_t end = sk_mono_ms() + (uint64_t)timeout_ms;
    sk_admin_run gp, gs;
    int rc = -1;
    if (sk_trepl_admin_on(&gp, p) || sk_trepl_admin_on(&gs, s))
        return -1;
    for (;;) {
        int ok = 1;
        if (sk_admin_runv(&gp, args) != 0 || sk_admin_runv(&gs, args) != 0)
            break;
        uint64_t head = json_u64(gp.o, "log_head", "\"replication\"", &ok);
        uint64_t applied = json_u64(gs.o, "applied", "\"replication\"", &ok);
        uint64_t behind = json_u64(gs.o, "behind_entries", "\"replication\"", &ok);
        int seeded = strstr(gs.o, "\"seeded\":true") != NULL;
        if (ok && seeded && head > 0 && applied == head && behind == 0) {
            rc = 0;
            break;
        }
        if (sk_mono_ms() >= end)
            break;
        sk_sleep_ms(50); /* polling another process's progress, bounded above */
    }
    sk_trepl_admin_done(&gp);
    sk_trepl_admin_done(&gs);
    return rc;
}

int sk_trepl_hello_answer(uint16_t port, const uint8_t pin[SK_TLS_PIN_LEN])
{
    sk_tc c;
    sk_msg r;
    int code = -1;
    sk_tc_init(&c);
    if (sk_tc_use_tls(&c, pin) || sk_tc_connect(&c, port))
        goto out;
    if (sk_tc_send_hello(&c, sk_tc_rid(&c), 0, NULL) || sk_tc_recv(&c, &r, 5000))
        goto out;
    code = r.type == SK_MSG_ERROR ? (int)r.u.error.code : r.type == SK_MSG_CHALLENGE ? 0 : -1;
    sk_msg_free(&r);
out:
    sk_tc_free(&c);
    return code;
}

int sk_trepl_wait_serving(uint16_t port, const uint8_t pin[SK_TLS_PIN_LEN], int timeout_ms)
{
    uint64_t end = sk_mono_ms() + (uint64_t)timeout_ms;
    while (sk_trepl_hello_answer(port, pin) != 0) {
        if (sk_mono_ms() >= end)
            return -1;
        sk_sleep_ms(50); /* the server is starting or being promoted: bounded above */
    }
    return 0;
}
