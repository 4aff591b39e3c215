/*
 * test_failover_devices.c - libsakhi devices that follow a failover by themselves (the
 * centre's servers in the enrollment URI, each with its own key pin; docs/REPLICATION.md,
 * "Devices and failover"). Real processes over TLS, the primary and the standby each with a TLS
 * key of its own:
 *  - follows: a device enrolled with primary + standby pushes to the primary; the primary is
 *    killed with SIGKILL and the standby promoted; the device's next sync goes to the new
 *    primary by itself and pushes its outbox there, every referral there exactly once; the old
 *    primary, demoted and started again, gets nothing (the device finds it refusing with
 *    NOT_PRIMARY while the new primary is down, and keeps its change for later).
 *  - standby first: a URI that lists the standby first enrolls at the primary (the standby
 *    refuses with NOT_PRIMARY); a primary presenting another key than its pin is reported as
 *    SAKHI_ESERVERKEY, not passed over silently; after a planned switchover (the primary
 *    demoted, the standby promoted) the device skips the demoted one and syncs with the new
 *    primary, which the old one never sees.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_testdevice.h"
#include "sk_testrepl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 30000

typedef struct centre {
    sk_ts p, s;
    uint8_t ppin[SK_TLS_PIN_LEN], spin[SK_TLS_PIN_LEN];
    char ppin_hex[SK_TLS_PIN_HEX_LEN + 1], spin_hex[SK_TLS_PIN_HEX_LEN + 1];
} centre;

/* A primary with worker fw1 and a standby following it, each serving TLS with its own key. */
static void centre_start(centre *k)
{
    char uri[512];
    assert_int_equal(sk_ts_setup(&k->p, "sk-fodp"), 0);
    assert_int_equal(sk_ts_setup(&k->s, "sk-fods"), 0);
    assert_int_equal(sk_ts_tls(&k->p, k->ppin), 0);
    assert_int_equal(sk_ts_tls(&k->s, k->spin), 0);
    assert_memory_not_equal(k->ppin, k->spin, SK_TLS_PIN_LEN);
    sk_tls_pin_format(k->ppin_hex, k->ppin);
    sk_tls_pin_format(k->spin_hex, k->spin);
    assert_int_equal(sk_ts_worker(&k->p, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&k->p, NULL), 0);
    assert_int_equal(sk_trepl_replica_uri(&k->p, k->ppin_hex, k->p.port, uri, sizeof(uri)), 0);
    const char *sargs[] = {"--standby-of", uri, NULL};
    assert_int_equal(sk_ts_start(&k->s, sargs), 0);
    assert_int_equal(sk_trepl_wait_caught_up(&k->p, &k->s, WAIT_MS), 0);
}

static void centre_stop(centre *k)
{
    sk_ts_teardown(&k->s);
    sk_ts_teardown(&k->p);
}

/* Run sakhi-admin on t's data directory: its exit code (output in g). */
static int admin(sk_admin_run *g, const sk_ts *t, const char *first, ...)
{
    va_list ap;
    assert_int_equal(sk_trepl_admin_on(g, t), 0);
    va_start(ap, first);
    int rc = sk_admin_vrun(g, first, ap);
    va_end(ap);
    return rc;
}

/* A device enrollment URI for fw1 from the primary, listing first then second (each with its
 * pin), as `enroll-code --addr A,B --pin PA,PB` prints it. */
static void device_uri(centre *k, const sk_ts *first, const char *first_pin, const sk_ts *second,
                       const char *second_pin, char *uri, size_t cap)
{
    sk_admin_run g;
    char addrs[64], pins[2 * SK_TLS_PIN_HEX_LEN + 2];
    snprintf(addrs, sizeof(addrs), "127.0.0.1:%u,127.0.0.1:%u", (unsigned)first->port,
             (unsigned)second->port);
    snprintf(pins, sizeof(pins), "%s,%s", first_pin, second_pin);
    assert_int_equal(
        admin(&g, &k->p, "--json", "enroll-code", "fw1", "--addr", addrs, "--pin", pins, NULL), 0);
    assert_int_equal(sk_admin_json_str(g.o, "uri", uri, cap), 0);
    sk_trepl_admin_done(&g);
    /* each address with its own pin, the form a 1.0 parser refuses rather than misreads */
    char want[128];
    snprintf(want, sizeof(want), "&addr=127.0.0.1:%u&pin=%s&addr=", (unsigned)first->port,
             first_pin);
    assert_non_null(strstr(uri, want));
}

/* (Re)start t on the port it had, so the address devices keep stays valid. */
static void restart(sk_ts *t)
{
    char port[8];
    uint16_t was = t->port;
    snprintf(port, sizeof(port), "%u", (unsigned)was);
    const char *args[] = {"--port", port, NULL};
    assert_int_equal(sk_ts_start(t, args), 0);
    assert_int_equal(t->port, was);
}

static uint64_t records_of(sk_ts *t)
{
    uint64_t n = 0, seq = 0;
    assert_int_equal(sk_ts_stats(t, &n, &seq), 0);
    return n;
}

/* Server i of the device: its port, and whether it is the one the next sync begins with. */
static void expect_server(sakhi_client *c, size_t i, uint16_t port, const char *pin_hex,
                          int primary)
{
    sakhi_server sv = SAKHI_SERVER_INIT;
    assert_int_equal(sakhi_server_get(c, i, &sv), 0);
    assert_string_equal(sv.host, "127.0.0.1");
    assert_int_equal(sv.port, port);
    assert_string_equal(sv.pin, pin_hex);
    assert_int_equal(sv.primary, primary);
}

static int sync_dev(sakhi_client *c, sakhi_sync_result *res)
{
    sakhi_sync_options o = SAKHI_SYNC_OPTIONS_INIT;
    o.connect_timeout_ms = 5000;
    o.io_timeout_ms = 10000;
    *res = (sakhi_sync_result)SAKHI_SYNC_RESULT_INIT;
    return sakhi_sync(res, c, &o);
}

static void capture(sakhi_client *c, int n)
{
    char id[SAKHI_ID_STRLEN];
    for (int i = 0; i < n; i++)
        assert_int_equal(sk_td_capture(id, c, "Failover Tsering", SAKHI_URGENCY_ROUTINE, 1), 0);
}

static void test_failover_device_follows_promotion(void **state)
{
    (void)state;
    centre k;
    sakhi_client *c = NULL;
    sakhi_sync_result res;
    sakhi_status st = SAKHI_STATUS_INIT;
    sk_admin_run g;
    char uri[700];
    centre_start(&k);
    device_uri(&k, &k.p, k.ppin_hex, &k.s, k.spin_hex, uri, sizeof(uri));
    assert_int_equal(sk_td_open(&c, &k.p, 1, NULL), 0);
    assert_int_equal(sakhi_enroll_uri(c, uri, "phone", NULL), 0);
    assert_int_equal(sakhi_server_count(c), 2);
    expect_server(c, 0, k.p.port, k.ppin_hex, 1);
    expect_server(c, 1, k.s.port, k.spin_hex, 0);

    capture(c, 3);
    assert_int_equal(sync_dev(c, &res), 0);
    assert_int_equal(res.pushed, 3);
    assert_int_equal(sk_trepl_wait_caught_up(&k.p, &k.s, WAIT_MS), 0);

    /* the primary dies; its standby is promoted; the device, with two referrals waiting, syncs
     * as it always does */
    capture(c, 2);
    sk_ts_kill(&k.p);
    assert_int_equal(admin(&g, &k.s, "promote", NULL), 0);
    sk_trepl_admin_done(&g);
    assert_int_equal(sk_trepl_wait_serving(k.s.port, k.spin, WAIT_MS), 0);
    int rc = sync_dev(c, &res);
    if (rc)
        print_message("sync: %d %s\n", rc, sakhi_errmsg(c));
    assert_int_equal(rc, 0);
    assert_int_equal(res.pushed, 2);
    assert_int_equal(res.rejected, 0);
    assert_int_equal(sk_td_pending(c), 0);
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.server_port, k.s.port);
    assert_string_equal(st.server_pin, k.spin_hex);
    expect_server(c, 0, k.p.port, k.ppin_hex, 0);
    expect_server(c, 1, k.s.port, k.spin_hex, 1);
    assert_int_equal(records_of(&k.s), 5); /* each referral once */
    assert_int_equal(sync_dev(c, &res), 0);
    assert_int_equal(res.pushed, 0);

    /* the old primary, demoted and started again, refuses the device, which keeps its change
     * while the new primary is down and gives it to the new primary once it is back */
    assert_int_equal(admin(&g, &k.p, "demote", NULL), 0);
    sk_trepl_admin_done(&g);
    restart(&k.p);
    assert_int_equal(sk_trepl_hello_answer(k.p.port, k.ppin), SK_E_NOT_PRIMARY);
    assert_int_equal(sk_ts_stop(&k.s, 10000), 0);
    capture(c, 1);
    rc = sync_dev(c, &res);
    assert_int_equal(rc, SAKHI_ESERVER);
    assert_non_null(strstr(sakhi_errmsg(c), "none of the centre's 2 servers took the sync"));
    assert_non_null(strstr(sakhi_errmsg(c), "NOT_PRIMARY"));
    assert_int_equal(res.pushed, 0);
    assert_int_equal(sk_td_pending(c), 1);
    restart(&k.s);
    assert_int_equal(sync_dev(c, &res), 0);
    assert_int_equal(res.pushed, 1);
    assert_int_equal(records_of(&k.s), 6);
    assert_int_equal(sk_ts_stop(&k.p, 10000), 0);
    assert_int_equal(records_of(&k.p), 3); /* the demoted primary got nothing after its death */
    sakhi_close(c);
    centre_stop(&k);
}

static void test_failover_standby_first_and_key_mismatch(void **state)
{
    (void)state;
    centre k;
    sk_ts other;
    sakhi_client *c = NULL;
    sakhi_sync_result res;
    sakhi_status st = SAKHI_STATUS_INIT;
    sk_admin_run g;
    char uri[700], cert[640], key[640];
    centre_start(&k);
    device_uri(&k, &k.s, k.spin_hex, &k.p, k.ppin_hex, uri, sizeof(uri));
    assert_int_equal(sk_td_open(&c, &k.p, 1, NULL), 0);
    /* the standby, listed first, refuses with NOT_PRIMARY: enrolled at the primary */
    assert_int_equal(sakhi_enroll_uri(c, uri, "phone", NULL), 0);
    expect_server(c, 0, k.s.port, k.spin_hex, 0);
    expect_server(c, 1, k.p.port, k.ppin_hex, 1);
    capture(c, 1);
    assert_int_equal(sync_dev(c, &res), 0);
    assert_int_equal(res.pushed, 1);

    /* the primary comes back with another key: an attack signal, reported */
    assert_int_equal(sk_ts_stop(&k.p, 10000), 0);
    snprintf(cert, sizeof(cert), "%s", k.p.cert);
    snprintf(key, sizeof(key), "%s", k.p.key);
    assert_int_equal(sk_ts_setup(&other, "sk-fodx"), 0);
    assert_int_equal(sk_ts_tls(&other, NULL), 0);
    snprintf(k.p.cert, sizeof(k.p.cert), "%s", other.cert);
    snprintf(k.p.key, sizeof(k.p.key), "%s", other.key);
    restart(&k.p);
    capture(c, 1);
    assert_int_equal(sync_dev(c, &res), SAKHI_ESERVERKEY);
    assert_non_null(strstr(sakhi_errmsg(c), "server 2 of 2"));
    assert_non_null(strstr(sakhi_errmsg(c), "does not match the pinned key"));
    assert_int_equal(res.pushed, 0);
    assert_int_equal(sk_td_pending(c), 1);
    assert_int_equal(sk_ts_stop(&k.p, 10000), 0);
    snprintf(k.p.cert, sizeof(k.p.cert), "%s", cert);
    snprintf(k.p.key, sizeof(k.p.key), "%s", key);
    restart(&k.p);
    sk_ts_teardown(&other);

    /* a planned switchover: the device finds the demoted primary first and moves on */
    assert_int_equal(sk_trepl_wait_caught_up(&k.p, &k.s, WAIT_MS), 0);
    assert_int_equal(sk_ts_stop(&k.p, 10000), 0);
    assert_int_equal(admin(&g, &k.p, "demote", NULL), 0);
    sk_trepl_admin_done(&g);
    restart(&k.p);
    assert_int_equal(admin(&g, &k.s, "promote", NULL), 0);
    sk_trepl_admin_done(&g);
    assert_int_equal(sk_trepl_wait_serving(k.s.port, k.spin, WAIT_MS), 0);
    assert_int_equal(sync_dev(c, &res), 0);
    assert_int_equal(res.pushed, 1);
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.server_port, k.s.port);
    expect_server(c, 0, k.s.port, k.spin_hex, 1);
    expect_server(c, 1, k.p.port, k.ppin_hex, 0);
    assert_int_equal(records_of(&k.s), 2);
    assert_int_equal(sk_ts_stop(&k.p, 10000), 0);
    assert_int_equal(records_of(&k.p), 1);
    sakhi_close(c);
    centre_stop(&k);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_failover_device_follows_promotion),
    cmocka_unit_test(test_failover_standby_first_and_key_mismatch),
})
