/*
 * test_security_revoke.c - revocation and disabling reach live sessions (docs/SECURITY.md):
 * a device revoked through the store API from another process (as sakhi-admin does) gets WIPE
 * on its next request and its session is closed; an idle session of a revoked device is cut
 * without sending anything; a reconnect gets WIPE instead of WELCOME; a disabled worker's live
 * session gets ERROR AUTH_FAILED and its reconnect too; other devices carry on untouched.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(sk_fx), "sk-secrev", "fw1 fw2", NULL);
}

static void revoke(sk_fx *f, uint64_t device)
{
    sk_store *st;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_device_revoke(st, device, sk_ts_now_ms()), 0);
    sk_store_close(st);
}

static void set_disabled(sk_fx *f, const char *worker, int disabled)
{
    sk_store *st;
    sk_worker w;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_worker_get(st, worker, &w), 0);
    w.disabled = disabled;
    assert_int_equal(sk_store_worker_put(st, &w), 0);
    sk_store_close(st);
}

static void push_one(sk_tc *c, uint64_t op)
{
    assert_int_equal(sk_td_push_referral(c, op, "rv", NULL), SK_ACK_APPLIED);
}

static void test_revoke_mid_session(void **state)
{
    sk_fx *f = *state;
    sk_tc a, b;
    sk_fx_tc(&f->ts, &a, "fw1");
    sk_fx_tc(&f->ts, &b, "fw2");
    push_one(&a, 1);
    push_one(&b, 1);
    revoke(f, a.device);
    /* The next request of the revoked device gets WIPE (REVOKED), never CHANGES. */
    sk_msg m, r;
    sk_msg_init(&m, SK_MSG_PULL, sk_tc_rid(&a));
    m.u.pull.cursor = 0;
    m.u.pull.limit = 100;
    sk_tc_send(&a, &m); /* may fail if the poll already closed it: the WIPE is still read */
    assert_int_equal(sk_tc_recv(&a, &r, 5000), 0);
    assert_int_equal(r.type, SK_MSG_WIPE);
    assert_int_equal(r.u.error.code, SK_E_REVOKED);
    sk_msg_free(&r);
    assert_int_equal(sk_tc_wait_close(&a, 5000), 0);
    /* Reconnecting: WIPE instead of WELCOME. */
    assert_int_equal(sk_tc_connect(&a, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&a), -SK_E_REVOKED);
    assert_int_equal(a.last_code, SK_E_REVOKED);
    /* The other worker's device is untouched. */
    uint64_t next = 0;
    assert_int_equal(sk_tc_pull(&b, 0, 100, NULL, NULL, &next, NULL, NULL), 0);
    push_one(&b, 2);
    sk_tc_free(&a);
    sk_tc_free(&b);
    assert_int_equal(sk_file_contains(f->ts.log, "event=session_revoked"), 1);
}

static void test_revoke_idle_session_cut(void **state)
{
    sk_fx *f = *state;
    sk_tc a;
    sk_fx_tc(&f->ts, &a, "fw1");
    revoke(f, a.device);
    /* Nothing sent: the server notices the revocation by itself and wipes. */
    uint64_t t0 = sk_mono_ms();
    sk_msg r;
    assert_int_equal(sk_tc_recv(&a, &r, 5000), 0);
    assert_int_equal(r.type, SK_MSG_WIPE);
    assert_int_equal(r.u.error.code, SK_E_REVOKED);
    sk_msg_free(&r);
    assert_int_equal(sk_tc_wait_close(&a, 5000), 0);
    assert_true(sk_mono_ms() - t0 < 3000);
    sk_tc_free(&a);
}

static void test_disabled_worker_mid_session(void **state)
{
    sk_fx *f = *state;
    sk_tc a;
    sk_fx_tc(&f->ts, &a, "fw1");
    push_one(&a, 1);
    set_disabled(f, "fw1", 1);
    sk_change ch;
    sk_ack ack;
    assert_int_equal(sk_tc_make_referral(&ch, 2, sk_ts_now_ms(), "rv"), 0);
    assert_int_equal(sk_tc_push(&a, &ch, 1, &ack), -SK_E_AUTH_FAILED);
    assert_int_equal(sk_tc_wait_close(&a, 5000), 0);
    assert_int_equal(sk_tc_connect(&a, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&a), -SK_E_AUTH_FAILED);
    /* Enabled again: the same device works (disabling is not revocation). */
    set_disabled(f, "fw1", 0);
    assert_int_equal(sk_tc_connect(&a, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&a), 0);
    assert_int_equal(sk_tc_push(&a, &ch, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    sk_change_free(&ch);
    sk_tc_free(&a);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_revoke_mid_session),
    cmocka_unit_test(test_revoke_idle_session_cut),
    cmocka_unit_test(test_disabled_worker_mid_session),
};

SK_TEST_MAIN_EACH(tests, setup, sk_fx_stop)
