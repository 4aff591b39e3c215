/*
 * test_campaign_server_crash.c - campaign 1 of issue 9: SIGKILL the server at seeded random
 * moments while devices push and pull, restart it, and let the devices reconnect and finish.
 *
 * Each device is a thread with a blocking protocol client (sk_testclient). It pushes batches
 * of 1..5 new referrals with consecutive op numbers; when a push fails (the server died), it
 * reconnects, authenticates and re-sends the same batch with the same ops until it is
 * acknowledged, as a real outbox does. Between batches it sometimes pulls. The main thread kills
 * and restarts the server K times (50 in CI; SAKHI_CAMPAIGN_LONG=1: 1,000; CP_KILLS overrides),
 * with the kill moment drawn from a seeded PRNG (CP_SEED).
 *
 * Checked at the end: every change any device saw acknowledged is on the server at its acked
 * version; the change log is gap-free (seq 1..last, each record once, no orphans) and holds
 * exactly as many records as changes were created (nothing twice); every device's pending
 * batch is empty; and a final pull by each device returns each record once and all of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "cp_check.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_testclient.h"
#include "sk_testserver.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { DEVICES = 4, MAX_BATCH = 5 };

typedef struct dev {
    sk_tc c;
    int index;
    uint64_t rng;
    /* every change this device created, and what was acked */
    sk_ts_acked *acks;
    size_t nacks, cap;
    uint64_t created;
    uint64_t resends; /* batches sent again after a failure */
    uint64_t reconnects;
    uint64_t pulls_ok;
    int pending; /* a batch not yet acknowledged */
    int fail;    /* a non-retryable outcome (message in why) */
    char why[160];
} dev;

/* What the main thread tells the devices: the restarted server's port, and to stop. */
static _Atomic uint16_t g_port;
static atomic_int g_stop;

/* Connect and authenticate, retrying while the server is down (bounded: 60 s). */
static int reconnect(dev *d)
{
    uint64_t end = sk_mono_ms() + 60000;
    while (sk_mono_ms() < end) {
        if (sk_tc_connect(&d->c, atomic_load(&g_port)) == 0 && sk_tc_auth(&d->c) == 0) {
            d->reconnects++;
            return 0;
        }
        sk_tc_close(&d->c);
        sk_sleep_ms(5);
    }
    return -1;
}

static int count_cb(const sk_record *r, void *payload)
{
    (void)r;
    (*(uint64_t *)payload)++;
    return 0;
}

static int is_retryable(int rc)
{
    return rc == SK_TC_EOF || rc == -SK_E_TIMEOUT || rc == -SK_E_SHUTDOWN || rc == -SK_E_STORE_IO ||
           rc == -SK_E_BUSY;
}

static void *device_main(void *arg)
{
    dev *d = arg;
    uint64_t op = 1;
    sk_change batch[MAX_BATCH];
    sk_ack acks[MAX_BATCH];
    d->c.timeout_ms = 10000;
    if (reconnect(d)) {
        snprintf(d->why, sizeof(d->why), "first connect failed");
        d->fail = 1;
        return NULL;
    }
    while (!atomic_load(&g_stop)) {
        uint32_t n = (uint32_t)cp_range(&d->rng, 1, MAX_BATCH);
        uint64_t now = sk_ts_now_ms();
        for (uint32_t i = 0; i < n; i++)
            sk_tc_make_referral(&batch[i], op + i, now + i, "crash");
        d->created += n;
        d->pending = 1;
        int sent = 0;
        for (;;) {
            int rc = sk_tc_push(&d->c, batch, n, acks);
            sent++;
            if (rc == 0)
                break;
            if (!is_retryable(rc)) {
                snprintf(d->why, sizeof(d->why), "push op %llu: %d", (unsigned long long)op, rc);
                d->fail = 1;
                goto out;
            }
            if (reconnect(d)) {
                snprintf(d->why, sizeof(d->why), "no reconnect in 60 s");
                d->fail = 1;
                goto out;
            }
        }
        if (sent > 1)
            d->resends++;
        for (uint32_t i = 0; i < n; i++) {
            if (acks[i].op != op + i || acks[i].status != SK_ACK_APPLIED) {
                snprintf(d->why, sizeof(d->why), "ack %u: op %llu status %u code %u", i,
                         (unsigned long long)acks[i].op, acks[i].status, acks[i].code);
                d->fail = 1;
                goto out;
            }
            if (d->nacks == d->cap) {
                size_t nc = d->cap ? d->cap * 2 : 256;
                sk_ts_acked *t = realloc(d->acks, nc * sizeof(sk_ts_acked));
                if (!t) {
                    d->fail = 1;
                    goto out;
                }
                d->acks = t;
                d->cap = nc;
            }
            d->acks[d->nacks].id = batch[i].id;
            d->acks[d->nacks].version = acks[i].version;
            d->nacks++;
            sk_change_free(&batch[i]);
        }
        d->pending = 0;
        op += n;
        if (cp_range(&d->rng, 0, 3) == 0) {
            uint64_t got = 0;
            if (sk_tc_pull(&d->c, 0, 100, count_cb, &got, NULL, NULL, NULL) == 0)
                d->pulls_ok++;
            else if (reconnect(d)) {
                d->fail = 1;
                snprintf(d->why, sizeof(d->why), "no reconnect after a pull");
                return NULL;
            }
        }
    }
    return NULL;
out:
    return NULL;
}

static void test_server_crash_campaign(void **state)
{
    (void)state;
    uint64_t kills = cp_env_u64("CP_KILLS", cp_long() ? 1000 : 50);
    uint64_t seed = cp_env_u64("CP_SEED", 1);
    uint64_t rng = seed;
    sk_ts ts;
    char codes[DEVICES][SK_ENROLL_CODE_LEN + 1];
    dev *devs = calloc(DEVICES, sizeof(dev));
    assert_non_null(devs);
    assert_int_equal(sk_ts_setup(&ts, "sk-cp1"), 0);
    assert_int_equal(sk_ts_field_workers(&ts, DEVICES, 600000, codes), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    atomic_store(&g_port, ts.port);
    atomic_store(&g_stop, 0);
    for (int i = 0; i < DEVICES; i++) {
        sk_tc_init(&devs[i].c);
        devs[i].index = i;
        devs[i].rng = seed * 1000003u + (uint64_t)i;
        assert_int_equal(sk_tc_connect(&devs[i].c, ts.port), 0);
        assert_int_equal(sk_tc_enroll(&devs[i].c, codes[i], "cp1"), 0);
    }
    pthread_t th[DEVICES];
    for (int i = 0; i < DEVICES; i++)
        assert_int_equal(pthread_create(&th[i], NULL, device_main, &devs[i]), 0);

    uint64_t t0 = sk_mono_ms();
    for (uint64_t k = 0; k < kills; k++) {
        /* a kill moment: mostly while batches are in flight, sometimes right after start */
        sk_sleep_ms((int)cp_range(&rng, 0, 4) == 0 ? (int)cp_range(&rng, 0, 10)
                                                   : (int)cp_range(&rng, 20, 250));
        sk_ts_kill(&ts);
        ts.proc.pid = 0;
        int rc = sk_ts_start(&ts, NULL);
        if (rc)
            fail_msg("restart %llu failed (seed %llu)", (unsigned long long)k,
                     (unsigned long long)seed);
        atomic_store(&g_port, ts.port);
    }
    /* some calm so every device acks its batch after the last restart */
    sk_sleep_ms(300);
    atomic_store(&g_stop, 1);
    for (int i = 0; i < DEVICES; i++)
        pthread_join(th[i], NULL);
    uint64_t elapsed = sk_mono_ms() - t0;

    uint64_t created = 0, nacked = 0, resends = 0, reconnects = 0, pulls = 0;
    for (int i = 0; i < DEVICES; i++) {
        if (devs[i].fail)
            fail_msg("device %d: %s (seed %llu)", i, devs[i].why, (unsigned long long)seed);
        assert_int_equal(devs[i].pending, 0);
        assert_int_equal(devs[i].nacks, devs[i].created);
        created += devs[i].created;
        nacked += devs[i].nacks;
        resends += devs[i].resends;
        reconnects += devs[i].reconnects;
        pulls += devs[i].pulls_ok;
    }

    /* the server's store: every acked change at its acked version, log gap-free */
    sk_store *st = NULL;
    assert_int_equal(sk_ts_store(&ts, &st), 0);
    for (int i = 0; i < DEVICES; i++) {
        size_t j = sk_ts_acked_missing(st, devs[i].acks, devs[i].nacks);
        if (j < devs[i].nacks)
            fail_msg("device %d change %zu acked at %llu is lost or at another version (seed %llu)",
                     i, j, (unsigned long long)devs[i].acks[j].version, (unsigned long long)seed);
    }
    cp_log_stats ls;
    assert_int_equal(cp_store_walk(st, &ls), 0);
    sk_store_close(st);
    char why[256];
    if (cp_log_exact(&ls, created, why, sizeof(why)) != 0)
        fail_msg("%s", why);

    /* final pull by each device: each record once, all its own records there */
    for (int i = 0; i < DEVICES; i++) {
        sk_tc_ids p = {0};
        int rc = sk_tc_pull_ids(&devs[i].c, 1000, &p);
        if (rc == SK_TC_EOF || rc == -SK_E_TIMEOUT) {
            /* the session ended while the store was checked: pull it all on a new one */
            free(p.ids);
            memset(&p, 0, sizeof(p));
            assert_int_equal(reconnect(&devs[i]), 0);
            rc = sk_tc_pull_ids(&devs[i].c, 1000, &p);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(cp_ids_sort_dups(p.ids, p.n), 0);
        for (size_t j = 0; j < devs[i].nacks; j++)
            assert_true(cp_ids_has(p.ids, p.n, &devs[i].acks[j].id));
        free(p.ids);
    }
    print_message(
        "campaign 1: seed=%llu kills=%llu devices=%d changes=%llu acked=%llu "
        "batches_resent=%llu reconnects=%llu pulls=%llu last_seq=%llu elapsed_ms=%llu\n",
        (unsigned long long)seed, (unsigned long long)kills, DEVICES, (unsigned long long)created,
        (unsigned long long)nacked, (unsigned long long)resends, (unsigned long long)reconnects,
        (unsigned long long)pulls, (unsigned long long)ls.last_seq, (unsigned long long)elapsed);
    for (int i = 0; i < DEVICES; i++) {
        sk_tc_free(&devs[i].c);
        free(devs[i].acks);
    }
    assert_int_equal(sk_ts_stop(&ts, 20000), 0);
    sk_ts_teardown(&ts);
    free(devs);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_server_crash_campaign),
})
