/*
 * test_revoke_admin.c - a device revoked by the real `sakhi-admin device revoke`, run as its own
 * process on the live data directory, loses its open session within 1 second even though it
 * sends nothing: the server notices the revocation counter the admin's write raised
 * (docs/SECURITY.md "Revocation and disabling on live sessions"), sends WIPE {REVOKED} and
 * closes. Measured over several revocations; the slowest is printed. A second device that is
 * not revoked keeps its session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_admin_run.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_testdevice.h"
#include "sk_testfixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 5
#define BOUND_MS 1000u

static void test_admin_revoke_cuts_idle_session(void **state)
{
    (void)state;
    sk_ts ts;
    sk_tc keep;
    uint64_t worst = 0, total = 0;
    assert_int_equal(sk_ts_setup(&ts, "sk-revadm"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw2", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    assert_int_equal(sk_td_tc(&keep, &ts, "fw2", "kept"), 0);
    for (int i = 0; i < ROUNDS; i++) {
        sk_tc a;
        char id[24];
        sk_msg r;
        assert_int_equal(sk_td_tc(&a, &ts, "fw1", "lost"), 0);
        snprintf(id, sizeof(id), "%llu", (unsigned long long)a.device);
        const char *args[] = {"device", "revoke", id, NULL};
        /* The admin process has committed when it exits; the device sends nothing. */
        sk_admin_ts_ok(&ts, args);
        uint64_t t0 = sk_mono_ms();
        assert_int_equal(sk_tc_recv(&a, &r, 5000), 0);
        uint64_t dt = sk_mono_ms() - t0;
        assert_int_equal(r.type, SK_MSG_WIPE);
        assert_int_equal(r.rid, 0);
        assert_int_equal(r.u.error.code, SK_E_REVOKED);
        sk_msg_free(&r);
        assert_int_equal(sk_tc_wait_close(&a, 5000), 0);
        assert_true(dt < BOUND_MS);
        if (dt > worst)
            worst = dt;
        total += dt;
        /* A new connection of the revoked device gets WIPE instead of WELCOME. */
        assert_int_equal(sk_tc_connect(&a, ts.port), 0);
        assert_int_equal(sk_tc_auth(&a), -SK_E_REVOKED);
        sk_tc_free(&a);
    }
    printf("revocation reached an idle session in %llu ms on average, %llu ms at worst "
           "(%d rounds)\n",
           (unsigned long long)(total / ROUNDS), (unsigned long long)worst, ROUNDS);
    /* The other worker's idle session was never touched. */
    sk_fx_ping_ok(&keep, 42);
    sk_tc_free(&keep);
    assert_int_equal(sk_file_contains(ts.log, "event=session_revoked"), 1);
    assert_int_equal(sk_ts_stop(&ts, 10000), 0);
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_admin_revoke_cuts_idle_session),
})
