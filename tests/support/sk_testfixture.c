/*
 * sk_testfixture.c - the cmocka fixture server tests share (sk_testfixture.h): make, start,
 * stop and free a fixture that begins with an sk_ts. Owns nothing past the fixture it frees;
 * never leaves a server running after a teardown.
 */
#include "sk_testfixture.h"

#include <stdlib.h>
#include <string.h>

/* Add one worker by its id's convention (sk_testfixture.h). */
static void add_worker(sk_ts *ts, const char *id)
{
    uint32_t role, district = SK_DISTRICT_LEH;
    if (strncmp(id, "fw", 2) == 0) {
        role = SK_ROLE_FIELD;
    } else if (strncmp(id, "st", 2) == 0) {
        role = SK_ROLE_STAFF;
    } else if (strncmp(id, "ad", 2) == 0) {
        role = SK_ROLE_ADMIN;
        district = 0;
    } else {
        fail_msg("sk_fx_new: worker id '%s' is not fw<n>, st<n> or ad<n>", id);
        return;
    }
    assert_int_equal(sk_ts_worker(ts, id, role, district), 0);
}

void *sk_fx_new(size_t size, const char *prefix, const char *workers)
{
    assert_true(size >= sizeof(sk_ts));
    sk_ts *ts = calloc(1, size);
    assert_non_null(ts);
    assert_int_equal(sk_ts_setup(ts, prefix), 0);
    for (const char *p = workers; p && *p;) {
        char id[32];
        size_t n = strcspn(p, " ");
        assert_true(n > 0 && n < sizeof(id));
        memcpy(id, p, n);
        id[n] = '\0';
        add_worker(ts, id);
        p += n;
        p += strspn(p, " ");
    }
    return ts;
}

int sk_fx_start(void **state, size_t size, const char *prefix, const char *workers,
                const char *const *extra)
{
    sk_ts *ts = sk_fx_new(size, prefix, workers);
    *state = ts;
    assert_int_equal(sk_ts_start(ts, extra), 0);
    return 0;
}

void sk_fx_start_tls(sk_ts *ts, uint8_t pin[SK_TLS_PIN_LEN], char pin_hex[SK_TLS_PIN_HEX_LEN + 1])
{
    assert_int_equal(sk_ts_tls(ts, pin), 0);
    sk_tls_pin_format(pin_hex, pin);
    assert_int_equal(sk_ts_start(ts, NULL), 0);
}

int sk_fx_stop(void **state)
{
    return sk_fx_stop_within(state, 10000);
}

int sk_fx_stop_within(void **state, int timeout_ms)
{
    sk_ts *ts = *state;
    int rc = sk_ts_stop(ts, timeout_ms);
    sk_ts_teardown(ts);
    free(ts);
    assert_int_equal(rc, 0); /* a clean shutdown */
    return 0;
}

int sk_fx_stop_any(void **state)
{
    sk_ts *ts = *state;
    if (ts->proc.pid > 0)
        sk_ts_stop(ts, 10000);
    sk_ts_teardown(ts);
    free(ts);
    return 0;
}

int sk_fx_free(void **state)
{
    sk_ts *ts = *state;
    sk_ts_teardown(ts);
    free(ts);
    return 0;
}

int sk_fx_stop_at_first_ack(const sakhi_progress *p, void *payload)
{
    (void)payload;
    return p->push_done > 0;
}

void sk_fx_sync(sakhi_client *c, uint16_t port, sakhi_sync_result *res)
{
    sakhi_sync_result local = SAKHI_SYNC_RESULT_INIT;
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    if (!res)
        res = &local;
    *res = (sakhi_sync_result)SAKHI_SYNC_RESULT_INIT;
    so.host = "127.0.0.1";
    so.port = port;
    int rc = sakhi_sync(res, c, port ? &so : NULL);
    if (rc)
        fail_msg("sync: %d %s", rc, sakhi_errmsg(c));
    assert_int_equal(res->complete, 1);
}

void sk_fx_tc(sk_ts *ts, sk_tc *c, const char *worker)
{
    assert_int_equal(sk_td_tc(c, ts, worker, "dev"), 0);
    assert_true(c->device > 0);
}

void sk_fx_expect_error(sk_tc *c, uint32_t rid, uint32_t code)
{
    sk_msg m;
    assert_int_equal(sk_tc_recv(c, &m, 5000), 0);
    assert_int_equal(m.type, SK_MSG_ERROR);
    assert_int_equal(m.rid, rid);
    assert_int_equal(m.u.error.code, code);
    sk_msg_free(&m);
}

void sk_fx_ping_ok(sk_tc *c, uint64_t ms)
{
    sk_msg m, r;
    uint32_t rid = sk_tc_rid(c);
    sk_msg_init(&m, SK_MSG_PING, rid);
    m.u.ping.ms = ms;
    assert_int_equal(sk_tc_send(c, &m), 0);
    assert_int_equal(sk_tc_recv(c, &r, 5000), 0);
    assert_int_equal(r.type, SK_MSG_PONG);
    assert_int_equal(r.rid, rid);
    assert_int_equal(r.u.ping.ms, ms);
    sk_msg_free(&r);
}

void sk_fx_capture(char id[SAKHI_ID_STRLEN], sakhi_client *c, const char *name, int urgency)
{
    int rc = sk_td_capture(id, c, name, urgency, 0);
    if (rc)
        fail_msg("save: %d %s: %s", rc, sakhi_errfield(c), sakhi_errmsg(c));
}

void sk_fx_capture_contact(char id[SAKHI_ID_STRLEN], sakhi_client *c, const char *name, int urgency,
                           const char *phone, const char *notes)
{
    sakhi_referral *r = NULL;
    int rc = sk_td_referral(&r, c, name, urgency, 1);
    if (!rc && phone)
        rc = sakhi_referral_set_phone(r, phone);
    if (!rc && notes)
        rc = sakhi_referral_set_notes(r, notes);
    if (!rc)
        rc = sakhi_referral_save(id, c, r);
    sakhi_referral_free(r);
    if (rc)
        fail_msg("save: %d %s: %s", rc, sakhi_errfield(c), sakhi_errmsg(c));
}

size_t sk_fx_list(sakhi_client *c, char (*ids)[SAKHI_ID_STRLEN], size_t cap)
{
    sakhi_list_item items[8];
    sakhi_list_filter fl = SAKHI_LIST_FILTER_INIT;
    char next[SAKHI_ID_STRLEN] = "";
    size_t n, total = 0;
    do {
        fl.after = next[0] ? next : NULL;
        assert_int_equal(sakhi_list(items, 8, &n, next, c, &fl), 0);
        for (size_t i = 0; ids && i < n; i++) {
            assert_true(total + i < cap);
            memcpy(ids[total + i], items[i].id, SAKHI_ID_STRLEN);
        }
        total += n;
    } while (next[0]);
    return total;
}
