/*
 * test_server_auth_nomem.c - an allocation failure while the server checks an AUTH is never
 * answered AUTH_FAILED and never counted as a failed login, and never leaves the device waiting.
 *
 * The iofault preload library (tests/fault) is loaded into the server only and armed just before
 * the device's handshake; for N = 1, 2, ... the Nth allocation after arming fails. With
 * --auth-fail-limit 1, one counted failure would make the next AUTH RATE_LIMITED, so each run
 * checks: the faulty handshake ends in WELCOME, a retryable error (NOMEM, INTERNAL, STORE_IO) or
 * the connection closing - never AUTH_FAILED, never silence until the client's timeout - and
 * the device's next AUTH, with no fault, is WELCOME.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_proc.h"
#include "sk_testclient.h"
#include "sk_testdevice.h"
#include "sk_testserver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_N 400

/* One run with the Nth allocation failing; returns 1 if the fault fired. */
static int one_run(unsigned n)
{
    sk_ts ts;
    sk_tc c;
    assert_int_equal(sk_ts_setup(&ts, "sk-authnomem"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    const char *extra[] = {"--auth-fail-limit", "1", "--auth-fail-limit-addr", "1", NULL};
    assert_int_equal(sk_ts_start_fault(&ts, SK_IOFAULT_LIB, "malloc", n, extra), 0);

    assert_int_equal(sk_td_tc(&c, &ts, "fw1", "nomem"), 0);
    sk_tc_close(&c);
    assert_int_equal(sk_ts_fault_arm(&ts), 0);

    int rc = sk_tc_connect(&c, ts.port);
    if (rc == 0)
        rc = sk_tc_auth(&c);
    sk_tc_close(&c);
    int fired = sk_ts_fault_fired(&ts);
    if (rc == -SK_E_AUTH_FAILED || rc == -SK_E_RATE_LIMITED)
        fail_msg("N=%u: an allocation failure in the handshake was answered %d", n, rc);
    if (rc == -SK_E_TIMEOUT)
        fail_msg("N=%u: the handshake was left unanswered", n);
    if (rc != 0 && rc != -SK_E_NOMEM && rc != -SK_E_INTERNAL && rc != -SK_E_STORE_IO &&
        rc != SK_TC_EOF)
        fail_msg("N=%u: handshake answer %d is not retryable", n, rc);
    if (!fired)
        assert_int_equal(rc, 0);

    /* Not counted: with a limit of 1 a counted failure would refuse this one. */
    if (sk_proc_alive(&ts.proc)) {
        assert_int_equal(sk_tc_connect(&c, ts.port), 0);
        rc = sk_tc_auth(&c);
        if (rc != 0)
            fail_msg("N=%u: the next AUTH after the fault got %d", n, rc);
        sk_tc_close(&c);
        assert_int_equal(sk_ts_stop(&ts, 10000), 0);
    } else {
        fail_msg("N=%u: the server died (exit %d)", n, sk_proc_exit_code(&ts.proc));
    }
    sk_tc_free(&c);
    sk_ts_teardown(&ts);
    return fired;
}

static void test_auth_alloc_failures(void **state)
{
    (void)state;
    unsigned fired = 0, n;
    for (n = 1; n <= MAX_N; n += n < 60 ? 1 : 7) {
        if (!one_run(n))
            break;
        fired++;
    }
    printf("# AUTH with the Nth allocation failing: N swept to %u, %u faults injected, none "
           "answered AUTH_FAILED or left unanswered, none counted\n",
           n, fired);
    assert_true(fired > 0);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_auth_alloc_failures),
})
