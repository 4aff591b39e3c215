/*
 * test_server_load.c - 200 concurrent sessions (one thread each, bounded work) enroll, push
 * batches and pull at once. Checked: every push acknowledged as applied; each worker pulls
 * exactly her own records, each once, with cursors that only move forward and end at the last
 * seq; staff pulls every record exactly once in pages whose cursors chain without gaps; the
 * versions given are exactly 1..N (the change log has no hole and no seq was used twice).
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SESSIONS = 200, BATCHES = 3, PER_BATCH = 5, PER_SESSION = BATCHES * PER_BATCH };

typedef struct job {
    uint16_t port;
    int index;
    char code[SK_ENROLL_CODE_LEN + 1];
    sk_id ids[PER_SESSION];
    uint64_t versions[PER_SESSION];
    int failed; /* first failing step, 0 = fine */
    int rc;
    uint32_t pulled; /* own records seen in the final pull */
    uint32_t dup;    /* seen twice */
} job;

static int own_cb(const sk_record *r, void *payload)
{
    job *j = payload;
    for (int i = 0; i < PER_SESSION; i++) {
        if (sk_id_cmp(&r->id, &j->ids[i]) == 0) {
            if (j->versions[i] == UINT64_MAX)
                j->dup++;
            else if (r->version == j->versions[i])
                j->pulled++;
            j->versions[i] = UINT64_MAX; /* mark seen */
            return 0;
        }
    }
    j->dup += 1000; /* a record that is not hers: scoping failed */
    return 0;
}

static void *run_job(void *arg)
{
    job *j = arg;
    sk_tc c;
    sk_tc_init(&c);
    c.timeout_ms = 60000;
    int rc;
    if ((rc = sk_tc_connect(&c, j->port)) || (rc = sk_tc_enroll(&c, j->code, "load"))) {
        j->failed = 1;
        j->rc = rc;
        goto out;
    }
    uint64_t now = sk_ts_now_ms();
    for (int b = 0; b < BATCHES; b++) {
        sk_change ch[PER_BATCH];
        sk_ack acks[PER_BATCH];
        char tag[32];
        snprintf(tag, sizeof(tag), "load-%d", j->index);
        for (int i = 0; i < PER_BATCH; i++) {
            int k = b * PER_BATCH + i;
            sk_tc_make_referral(&ch[i], (uint64_t)k + 1, now + (uint64_t)k, tag);
            j->ids[k] = ch[i].id;
        }
        rc = sk_tc_push(&c, ch, PER_BATCH, acks);
        for (int i = 0; i < PER_BATCH; i++) {
            if (rc == 0 && acks[i].status != SK_ACK_APPLIED)
                rc = -1000 - (int)acks[i].code;
            if (rc == 0)
                j->versions[b * PER_BATCH + i] = acks[i].version;
            sk_change_free(&ch[i]);
        }
        if (rc) {
            j->failed = 2;
            j->rc = rc;
            goto out;
        }
        /* A pipelined-style pull between pushes (small pages). */
        if ((rc = sk_tc_pull(&c, 0, 7, NULL, NULL, NULL, NULL, NULL))) {
            j->failed = 3;
            j->rc = rc;
            goto out;
        }
    }
    /* Final: pull everything she may see, page by page; cursors must only move forward. */
    uint64_t cursor = 0, next = 0;
    int more = 1;
    for (int guard = 0; more && guard < 10000; guard++) {
        if ((rc = sk_tc_pull(&c, cursor, 10, own_cb, j, &next, &more, NULL))) {
            j->failed = 4;
            j->rc = rc;
            goto out;
        }
        if (next < cursor) {
            j->failed = 5;
            goto out;
        }
        cursor = next;
    }
out:
    sk_tc_free(&c);
    return NULL;
}

typedef struct all {
    uint64_t *versions;
    uint32_t n, cap;
} all;

static int all_cb(const sk_record *r, void *payload)
{
    all *a = payload;
    if (a->n < a->cap)
        a->versions[a->n] = r->version;
    a->n++;
    return 0;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void test_200_sessions(void **state)
{
    (void)state;
    sk_ts ts;
    assert_int_equal(sk_ts_setup(&ts, "sk-load"), 0);
    job *jobs = calloc(SESSIONS, sizeof(job));
    assert_non_null(jobs);
    sk_store *st;
    assert_int_equal(sk_ts_store(&ts, &st), 0);
    sk_worker w;
    memset(&w, 0, sizeof(w));
    snprintf(w.id, sizeof(w.id), "%s", "staff");
    w.role = SK_ROLE_STAFF;
    w.district = SK_DISTRICT_LEH;
    assert_int_equal(sk_store_worker_put(st, &w), 0);
    for (int i = 0; i < SESSIONS; i++) {
        snprintf(w.id, sizeof(w.id), "fw%03d", i);
        w.role = SK_ROLE_FIELD;
        assert_int_equal(sk_store_worker_put(st, &w), 0);
        assert_int_equal(sk_store_enroll_code_new(st, w.id, 600000, sk_ts_now_ms(), jobs[i].code),
                         0);
    }
    char staff_code[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_store_enroll_code_new(st, "staff", 600000, sk_ts_now_ms(), staff_code), 0);
    sk_store_close(st);
    const char *extra[] = {"--max-conn", "400", NULL};
    assert_int_equal(sk_ts_start(&ts, extra), 0);

    pthread_t th[SESSIONS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < SESSIONS; i++) {
        jobs[i].port = ts.port;
        jobs[i].index = i;
        assert_int_equal(pthread_create(&th[i], &attr, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < SESSIONS; i++)
        pthread_join(th[i], NULL);
    pthread_attr_destroy(&attr);
    for (int i = 0; i < SESSIONS; i++) {
        if (jobs[i].failed)
            fail_msg("session %d failed at step %d rc %d", i, jobs[i].failed, jobs[i].rc);
        assert_int_equal(jobs[i].dup, 0);
        assert_int_equal(jobs[i].pulled, PER_SESSION);
    }

    /* Staff pulls the whole district: every record once, versions exactly 1..N, and the pages'
     * cursors chain (each page starts where the last ended). */
    const uint32_t N = SESSIONS * PER_SESSION;
    all a = {calloc(N + 16, sizeof(uint64_t)), 0, N + 16};
    assert_non_null(a.versions);
    sk_tc c;
    sk_tc_init(&c);
    assert_int_equal(sk_tc_connect(&c, ts.port), 0);
    assert_int_equal(sk_tc_enroll(&c, staff_code, "staff"), 0);
    uint64_t cursor = 0, next;
    int more = 1;
    uint32_t pages = 0;
    while (more) {
        assert_int_equal(sk_tc_pull(&c, cursor, 333, all_cb, &a, &next, &more, NULL), 0);
        assert_true(next > cursor || !more);
        cursor = next;
        assert_true(++pages < 1000);
    }
    assert_int_equal(a.n, N);
    assert_int_equal(cursor, N);
    qsort(a.versions, N, sizeof(uint64_t), cmp_u64);
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(a.versions[i], i + 1);
    sk_tc_free(&c);
    free(a.versions);
    free(jobs);
    assert_int_equal(sk_ts_stop(&ts, 20000), 0);
    sk_ts_teardown(&ts);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_200_sessions),
})
