/*
 * test_server_durability.c - nothing acknowledged is ever lost, nothing is applied twice.
 *  - SIGKILL while 16 devices push: restart; every change any client saw acknowledged is
 *    there at its acknowledged version; the batches cut mid-flight, re-sent, are applied once.
 *  - SIGTERM under the same load: exit status 0, in-flight batches answered (ack, or a
 *    retryable SHUTDOWN error) before BYE, and again every acknowledged change is there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_testclient.h"
#include "sk_testserver.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEVICES = 16, BATCH = 5, MAX_BATCHES = 400, MAX_ACKED = DEVICES * MAX_BATCHES * BATCH };

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static sk_ts_acked *g_acked;
static uint32_t g_nacked;

typedef struct dev {
    sk_tc c;
    const char *code;
    uint16_t port;
    int index;
    sk_change pending[BATCH]; /* the batch in flight when the connection ended */
    int has_pending;
    int end_rc;
    int enrolled;
} dev;

static void *pusher(void *arg)
{
    dev *d = arg;
    d->c.timeout_ms = 30000;
    if (sk_tc_connect(&d->c, d->port) || sk_tc_enroll(&d->c, d->code, "dur")) {
        d->end_rc = -1;
        return NULL;
    }
    d->enrolled = 1;
    uint64_t op = 1;
    for (int b = 0; b < MAX_BATCHES; b++) {
        sk_ack acks[BATCH];
        uint64_t now = sk_ts_now_ms();
        for (int i = 0; i < BATCH; i++)
            sk_tc_make_referral(&d->pending[i], op + i, now + op + i, "dur");
        d->has_pending = 1;
        int rc = sk_tc_push(&d->c, d->pending, BATCH, acks);
        if (rc) {
            d->end_rc = rc;
            return NULL; /* keep the batch: it is re-sent after the restart */
        }
        pthread_mutex_lock(&g_mu);
        for (int i = 0; i < BATCH; i++) {
            if (acks[i].status == SK_ACK_APPLIED && g_nacked < MAX_ACKED) {
                g_acked[g_nacked].id = d->pending[i].id;
                g_acked[g_nacked].version = acks[i].version;
                g_nacked++;
            }
        }
        pthread_mutex_unlock(&g_mu);
        sk_tc_changes_free(d->pending, BATCH);
        d->has_pending = 0;
        op += BATCH;
    }
    return NULL;
}

static uint32_t nacked(void)
{
    pthread_mutex_lock(&g_mu);
    uint32_t n = g_nacked;
    pthread_mutex_unlock(&g_mu);
    return n;
}

static void run(int sig)
{
    sk_ts ts;
    char codes[DEVICES][SK_ENROLL_CODE_LEN + 1];
    dev *devs = calloc(DEVICES, sizeof(dev));
    g_acked = calloc(MAX_ACKED, sizeof(sk_ts_acked));
    g_nacked = 0;
    assert_non_null(devs);
    assert_non_null(g_acked);
    assert_int_equal(sk_ts_setup(&ts, "sk-dur"), 0);
    assert_int_equal(sk_ts_field_workers(&ts, DEVICES, 600000, codes), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    pthread_t th[DEVICES];
    for (int i = 0; i < DEVICES; i++) {
        sk_tc_init(&devs[i].c);
        devs[i].code = codes[i];
        devs[i].port = ts.port;
        devs[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, pusher, &devs[i]), 0);
    }
    /* Let acknowledgements accumulate, then hit the server while batches are in flight. */
    uint64_t end = sk_mono_ms() + 60000;
    while (nacked() < 400 && sk_mono_ms() < end)
        sk_sleep_ms(2);
    assert_true(nacked() >= 400);
    if (sig == SIGKILL) {
        sk_ts_kill(&ts);
    } else {
        assert_int_equal(sk_proc_signal(&ts.proc, SIGTERM), 0);
        assert_int_equal(sk_proc_wait(&ts.proc, 20000), 0);
        assert_int_equal(sk_proc_exit_code(&ts.proc), 0);
    }
    for (int i = 0; i < DEVICES; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < DEVICES; i++) {
        assert_int_equal(devs[i].enrolled, 1);
        /* Cut, or told to come back later: never a non-retryable error. */
        assert_true(devs[i].end_rc == SK_TC_EOF || devs[i].end_rc == -SK_E_SHUTDOWN ||
                    devs[i].end_rc == 0);
    }
    if (sig == SIGTERM)
        assert_int_equal(sk_file_contains(ts.log, "event=stopped exit=0"), 1);

    /* Every acknowledged change survived, at its acknowledged version. */
    uint32_t n = nacked();
    int cut = 0;
    for (int i = 0; i < DEVICES; i++)
        cut += devs[i].has_pending;
    print_message("signal %d: %u changes acknowledged, %d batches cut in flight\n", sig, n, cut);
    sk_store *st;
    assert_int_equal(sk_ts_store(&ts, &st), 0);
    size_t lost = sk_ts_acked_missing(st, g_acked, n);
    if (lost < n)
        fail_msg("acknowledged change %zu of %u lost or at another version", lost, n);
    sk_store_close(st);

    /* Restart; each device re-sends the batch that was cut: applied exactly once. */
    ts.proc.pid = 0;
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    for (int i = 0; i < DEVICES; i++) {
        if (!devs[i].has_pending)
            continue;
        sk_ack acks[BATCH];
        assert_int_equal(sk_tc_connect(&devs[i].c, ts.port), 0);
        assert_int_equal(sk_tc_auth(&devs[i].c), 0);
        assert_int_equal(sk_tc_push(&devs[i].c, devs[i].pending, BATCH, acks), 0);
        for (int k = 0; k < BATCH; k++) {
            assert_int_equal(acks[k].status, SK_ACK_APPLIED);
            sk_change_free(&devs[i].pending[k]);
        }
    }
    uint64_t nrec, last;
    assert_int_equal(sk_ts_store(&ts, &st), 0);
    assert_int_equal(sk_store_stats(st, &nrec, &last), 0);
    sk_store_close(st);
    assert_true(nrec >= n);
    assert_int_equal(last, nrec); /* one seq per record: nothing was applied twice */
    for (int i = 0; i < DEVICES; i++)
        sk_tc_free(&devs[i].c);
    assert_int_equal(sk_ts_stop(&ts, 20000), 0);
    sk_ts_teardown(&ts);
    free(devs);
    free(g_acked);
    g_acked = NULL;
}

static void test_sigkill_after_acks(void **state)
{
    (void)state;
    run(SIGKILL);
}

static void test_sigterm_under_load(void **state)
{
    (void)state;
    run(SIGTERM);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_sigkill_after_acks),
    cmocka_unit_test(test_sigterm_under_load),
})
