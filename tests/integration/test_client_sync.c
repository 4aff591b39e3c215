/*
 * test_client_sync.c - libsakhi end to end against a real sakhi-server on 127.0.0.1:
 * enrollment, push and pull, three devices of one worker converging, a cut-sweep through an
 * in-test proxy that closes after N bytes (nothing lost, nothing applied twice), urgent
 * referrals in the first batch, a server rejection kept visible then fixed or discarded,
 * acceptance by staff reducing the field device's copy to a stub, capture while a sync runs on
 * another thread, cancellation from another thread, and the read timeout.
 *
 * Uses the public API only (the shared library) plus the server's store API to check the
 * server side.
 */
#include "sk_testfixture.h"
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <sakhi/sakhi.h>

#include "sk_client_test.h"
#include "sk_relay.h"
#include "sk_testmain.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct fx {
    sk_ts ts;
    char dir[512];
    int ndev;
} fx;

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(fx), "sk-client", "fw1 st1", NULL);
}

/* A new device: its own store under the test's temp dir, enrolled for worker. */
static sakhi_client *device(fx *f, const char *worker, int enroll)
{
    char code[SK_ENROLL_CODE_LEN + 1] = "";
    sakhi_client *c = NULL;
    assert_int_equal(sk_td_open(&c, &f->ts, f->ndev++, NULL), 0);
    if (enroll) {
        int rc = sk_td_enroll(c, &f->ts, worker, "test-device", NULL, code);
        if (rc)
            fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
        /* a code works once */
        assert_int_equal(sk_td_enroll(c, &f->ts, worker, NULL, NULL, code), SAKHI_EENROLLED);
    }
    return c;
}

/* ---- basic ---------------------------------------------------------------------------------- */

static void test_enroll_push_pull(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 1);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.enrolled, 1);
    assert_true(st.device_id >= 1);
    assert_string_equal(st.worker, "fw1");
    assert_int_equal(st.role, SAKHI_ROLE_FIELD);
    assert_int_equal(st.server_port, f->ts.port);

    char ids[3][SAKHI_ID_STRLEN];
    for (int i = 0; i < 3; i++)
        sk_fx_capture(ids[i], c, "withheld", SAKHI_URGENCY_ROUTINE);
    assert_int_equal(sakhi_followup_add(c, ids[0], "called back, safe now"), 0);
    assert_int_equal(sk_td_pending(c), 4);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.pushed, 4);
    /* the follow-up was queued before the create was acked: the server may call it MERGED */
    assert_int_equal(res.applied + res.merged, 4);
    assert_int_equal(res.rejected, 0);
    assert_int_equal(res.pulled, 3);
    assert_true(res.bytes_sent > 0 && res.bytes_received > 0);
    assert_int_equal(sk_td_pending(c), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sk_td_state(c, ids[i]), SAKHI_SYNC_RECEIVED);
    /* the server's fields came back with the pull */
    sakhi_record *rec = NULL;
    const char *w;
    assert_int_equal(sakhi_record_get(&rec, c, ids[0]), 0);
    assert_int_equal(sakhi_record_get_str(&w, rec, "worker"), 0);
    assert_string_equal(w, "fw1");
    assert_true(sakhi_record_version(rec) >= 1);
    assert_int_equal(sakhi_record_followup_count(rec), 1);
    sakhi_record_free(rec);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 3);
    assert_int_equal(seq, 4);
    /* a second sync has nothing to do */
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.pushed, 0);
    assert_int_equal(res.pulled, 0);
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_true(st.last_sync_ms > 0);
    assert_int_equal(st.cursor, 4);
    sakhi_close(c);
}

/* ---- three devices converge ----------------------------------------------------------------- */

static void test_three_devices_converge(void **state)
{
    fx *f = *state;
    sakhi_client *d[3];
    char ids[12][SAKHI_ID_STRLEN];
    for (int i = 0; i < 3; i++)
        d[i] = device(f, "fw1", 1);
    /* offline capture on each */
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            sk_fx_capture(ids[i * 4 + k], d[i], "withheld",
                          k == 3 ? SAKHI_URGENCY_IMMEDIATE_DANGER : SAKHI_URGENCY_URGENT);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 3; i++)
            sk_fx_sync(d[i], 0, NULL);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 12);
    assert_int_equal(seq, 12);
    for (int i = 0; i < 3; i++) {
        char got[16][SAKHI_ID_STRLEN];
        size_t n = sk_fx_list(d[i], got, 16);
        assert_int_equal(n, 12);
        assert_int_equal(sk_td_pending(d[i]), 0);
        for (int k = 0; k < 12; k++) {
            int found = 0;
            for (size_t j = 0; j < n; j++)
                found += strcmp(got[j], ids[k]) == 0;
            assert_int_equal(found, 1);
            assert_int_equal(sk_td_state(d[i], ids[k]), SAKHI_SYNC_RECEIVED);
        }
    }
    /* same content everywhere: compare the JSON renderings */
    for (int k = 0; k < 12; k++) {
        char *j0 = NULL, *j;
        assert_int_equal(sakhi_record_json(&j0, d[0], ids[k]), 0);
        for (int i = 1; i < 3; i++) {
            assert_int_equal(sakhi_record_json(&j, d[i], ids[k]), 0);
            assert_string_equal(j, j0);
            sakhi_free(d[i], j);
        }
        sakhi_free(d[0], j0);
    }
    for (int i = 0; i < 3; i++)
        sakhi_close(d[i]);
}

/* ---- the cutting proxy ---------------------------------------------------------------------- */

typedef struct proxy {
    sk_relay r;
    /* shared with the relay's thread, hence atomic: the test sets cut_after between syncs;
     * the proxy stores last_total after each connection */
    atomic_long cut_after; /* total bytes both ways before closing; <0 = never */
    atomic_long last_total;
} proxy;

static void proxy_conn(sk_relay *r, int a, int b)
{
    proxy *p = r->ctx;
    uint64_t total = 0;
    long limit = atomic_load(&p->cut_after);
    while (sk_relay_step(r, a, b, SIZE_MAX, limit < 0 ? UINT64_MAX : (uint64_t)limit, &total))
        ;
    atomic_store(&p->last_total, (long)total);
}

static void proxy_start(proxy *p, uint16_t target)
{
    atomic_init(&p->cut_after, -1);
    atomic_init(&p->last_total, 0);
    assert_int_equal(sk_relay_start(&p->r, target, 0, proxy_conn, p), 0);
}

static void test_cut_sweep(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 1);
    /* static: when an assertion fails, cmocka jumps out without proxy_stop and the proxy thread
     * runs on; on the stack it would read a frame later tests reuse (TSan reports in libsakhi
     * that are really this test's) */
    static proxy px;
    proxy_start(&px, f->ts.port);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.host = "127.0.0.1";
    so.port = px.r.port;
    so.batch_size = 3;
    so.pull_limit = 4;
    so.io_timeout_ms = 5000;

    /* measure one whole sync's size with 6 records */
    char ids[200][SAKHI_ID_STRLEN];
    int nids = 0, nops = 0;
    for (int i = 0; i < 6; i++, nops++)
        sk_fx_capture(ids[nids++], c, "withheld",
                      i == 4 ? SAKHI_URGENCY_IMMEDIATE_DANGER : SAKHI_URGENCY_ROUTINE);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&res, c, &so), 0);
    long whole = (long)(res.bytes_sent + res.bytes_received);
    assert_true(whole > 200);

    /* then cut every sync at N bytes, N swept over a whole transfer, with new captures and a
     * follow-up each round so there is always something to push and to pull */
    int cuts = 0;
    for (long n = 0; n < whole + 200 && nids < 190; n += 23) {
        sk_fx_capture(ids[nids++], c, "withheld",
                      (n / 23) % 5 == 0 ? SAKHI_URGENCY_IMMEDIATE_DANGER : SAKHI_URGENCY_URGENT);
        nops++;
        assert_int_equal(sakhi_followup_add(c, ids[nids / 2], "round"), 0);
        nops++;
        atomic_store(&px.cut_after, n);
        res.version = SAKHI_SYNC_RESULT_VERSION;
        int rc = sakhi_sync(&res, c, &so);
        if (rc) {
            assert_true(rc == SAKHI_ENET || rc == SAKHI_ETIMEOUT);
            cuts++;
        }
        assert_int_equal(res.rejected, 0);
    }
    assert_true(cuts > 10);
    /* a final clean sync through the proxy, uncut */
    atomic_store(&px.cut_after, -1);
    res.version = SAKHI_SYNC_RESULT_VERSION;
    assert_int_equal(sakhi_sync(&res, c, &so), 0);
    assert_int_equal(res.complete, 1);
    assert_int_equal(sk_td_pending(c), 0);
    sk_relay_stop(&px.r);

    /* nothing missing, nothing applied twice: one seq per op, one record per capture */
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, (uint64_t)nids);
    assert_int_equal(seq, (uint64_t)nops);
    char got[200][SAKHI_ID_STRLEN];
    assert_int_equal(sk_fx_list(c, got, 200), (size_t)nids);
    for (int i = 0; i < nids; i++)
        assert_int_equal(sk_td_state(c, ids[i]), SAKHI_SYNC_RECEIVED);
    /* follow-ups: each round's one, none doubled (entries are unioned by id) */
    size_t fu = 0;
    for (int i = 0; i < nids; i++) {
        sakhi_record *rec = NULL;
        assert_int_equal(sakhi_record_get(&rec, c, ids[i]), 0);
        fu += sakhi_record_followup_count(rec);
        sakhi_record_free(rec);
    }
    assert_int_equal(fu, (size_t)(nops - nids));
    sakhi_close(c);
}

/* ---- urgent first --------------------------------------------------------------------------- */

static void test_urgent_first_batch(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 1);
    char ids[6][SAKHI_ID_STRLEN];
    for (int i = 0; i < 6; i++)
        sk_fx_capture(ids[i], c, "withheld",
                      i >= 4 ? SAKHI_URGENCY_IMMEDIATE_DANGER : SAKHI_URGENCY_ROUTINE);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.progress = sk_fx_stop_at_first_ack;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&res, c, &so), SAKHI_ECANCELED);
    /* the first acknowledged batch held exactly the two urgent referrals, captured last */
    assert_int_equal(res.pushed, 2);
    assert_int_equal(sk_td_state(c, ids[4]), SAKHI_SYNC_RECEIVED);
    assert_int_equal(sk_td_state(c, ids[5]), SAKHI_SYNC_RECEIVED);
    for (int i = 0; i < 4; i++)
        assert_int_equal(sk_td_state(c, ids[i]), SAKHI_SYNC_PENDING);
    assert_int_equal(sk_td_pending(c), 4);
    sk_fx_sync(c, 0, NULL);
    assert_int_equal(sk_td_pending(c), 0);
    sakhi_close(c);
}

/* ---- rejection, fix, discard ---------------------------------------------------------------- */

static void test_rejected_then_fixed_or_discarded(void **state)
{
    fx *f = *state;
    /* captured before enrollment, so the device could not know the worker may not do this */
    sakhi_client *c = device(f, "fw1", 0);
    char bad1[SAKHI_ID_STRLEN], bad2[SAKHI_ID_STRLEN], good[SAKHI_ID_STRLEN];
    for (int i = 0; i < 2; i++) {
        sakhi_referral *r = NULL;
        assert_int_equal(sk_td_referral(&r, c, "withheld", SAKHI_URGENCY_ROUTINE, 1), 0);
        assert_int_equal(sakhi_referral_set_status(r, SAKHI_STATUS_RECEIVED), 0);
        assert_int_equal(sakhi_referral_save(i ? bad2 : bad1, c, r), 0);
        sakhi_referral_free(r);
    }
    assert_int_equal(sk_td_enroll(c, &f->ts, "fw1", NULL, NULL, NULL), 0);
    sk_fx_capture(good, c, "withheld", SAKHI_URGENCY_URGENT);

    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.pushed, 3);
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.rejected, 2);
    assert_int_equal(res.nrejections, 2);
    assert_int_equal(res.rejections[0].code, 41); /* FORBIDDEN */
    assert_string_equal(res.rejections[0].field, "status");
    assert_int_equal(sk_td_pending(c), 0);

    /* visible on the record, with its reason */
    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, bad1), 0);
    assert_int_equal(sakhi_record_sync_state(rec), SAKHI_SYNC_REJECTED);
    assert_int_equal(sakhi_record_reject_code(rec), 41);
    assert_string_equal(sakhi_record_reject_field(rec), "status");
    assert_true(strlen(sakhi_record_reject_reason(rec)) > 0);
    sakhi_record_free(rec);
    sakhi_list_filter fl = SAKHI_LIST_FILTER_INIT;
    sakhi_list_item items[4];
    size_t n;
    fl.sync_state = SAKHI_SYNC_REJECTED;
    assert_int_equal(sakhi_list(items, 4, &n, NULL, c, &fl), 0);
    assert_int_equal(n, 2);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.rejected, 2);

    /* a second sync does not resend or forget it */
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.pushed, 0);
    assert_int_equal(sk_td_state(c, bad1), SAKHI_SYNC_REJECTED);

    /* fix one: the whole referral goes again, as new */
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_edit(&r, c, bad1), 0);
    assert_int_equal(sakhi_referral_set_status(r, SAKHI_STATUS_NEW), 0);
    assert_int_equal(sakhi_referral_save(NULL, c, r), 0);
    sakhi_referral_free(r);
    assert_int_equal(sk_td_state(c, bad1), SAKHI_SYNC_PENDING);
    /* discard the other: it never reached the server, so it goes away */
    assert_int_equal(sakhi_discard_change(c, bad2), 0);
    assert_int_equal(sakhi_record_get(&rec, c, bad2), SAKHI_ENOTFOUND);
    assert_int_equal(sakhi_discard_change(c, good), SAKHI_ESTATE);
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.applied, 1);
    assert_int_equal(sk_td_state(c, bad1), SAKHI_SYNC_RECEIVED);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 2);
    sakhi_close(c);
}

/* ---- acceptance and the stub ---------------------------------------------------------------- */

static void staff_set_status(sakhi_client *s, const char *id, int status)
{
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_edit(&r, s, id), 0);
    assert_int_equal(sakhi_referral_set_status(r, status), 0);
    int rc = sakhi_referral_save(NULL, s, r);
    if (rc)
        fail_msg("staff save: %d %s", rc, sakhi_errmsg(s));
    sakhi_referral_free(r);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(s, 0, &res);
    assert_int_equal(res.rejected, 0);
}

static void test_accept_makes_stub(void **state)
{
    fx *f = *state;
    sakhi_client *fw = device(f, "fw1", 1);
    sakhi_client *st = device(f, "st1", 1);
    char id[SAKHI_ID_STRLEN];
    sk_fx_capture(id, fw, "Canary Stub Name", SAKHI_URGENCY_URGENT);
    sk_fx_sync(fw, 0, NULL);
    sk_fx_sync(st, 0, NULL);
    assert_int_equal(sk_td_state(st, id), SAKHI_SYNC_RECEIVED);
    staff_set_status(st, id, SAKHI_STATUS_RECEIVED);
    staff_set_status(st, id, SAKHI_STATUS_ACCEPTED);
    sakhi_record *rec = NULL;
    const char *cn = NULL;
    char caseno[40];
    assert_int_equal(sakhi_record_get(&rec, st, id), 0);
    assert_int_equal(sakhi_record_get_str(&cn, rec, "case_no"), 0);
    snprintf(caseno, sizeof(caseno), "%s", cn);
    assert_memory_equal(caseno, "LEH-2026-", 9);
    assert_false(sakhi_record_is_stub(rec));
    sakhi_record_free(rec);

    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(fw, 0, &res);
    assert_int_equal(res.stubbed, 1);
    assert_int_equal(sakhi_record_get(&rec, fw, id), 0);
    assert_true(sakhi_record_is_stub(rec));
    assert_int_equal(sakhi_record_sync_state(rec), SAKHI_SYNC_ACCEPTED);
    const char *s;
    assert_int_equal(sakhi_record_get_str(&s, rec, "case_no"), 0);
    assert_string_equal(s, caseno);
    assert_int_equal(sakhi_record_get_str(&s, rec, "name"), SAKHI_ENOTFOUND);
    sakhi_record_free(rec);
    /* a stub cannot be edited here */
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_edit(&r, fw, id), SAKHI_ESTATE);
    sakhi_close(fw);
    sakhi_close(st);
}

/* ---- threads -------------------------------------------------------------------------------- */

/* The sync thread tells the test when it has taken its outbox snapshot (it connects next). */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_connecting;

static int note_phase(const sakhi_progress *p, void *payload)
{
    (void)payload;
    pthread_mutex_lock(&g_mu);
    if (p->phase >= SAKHI_PHASE_CONNECT)
        g_connecting = 1;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
    return 0;
}

typedef struct sync_job {
    sakhi_client *c;
    const sakhi_sync_options *o;
    sakhi_sync_result res;
    int rc;
    volatile int started;
} sync_job;

static void *sync_thread(void *arg)
{
    sync_job *j = arg;
    j->res.version = SAKHI_SYNC_RESULT_VERSION;
    j->started = 1;
    j->rc = sakhi_sync(&j->res, j->c, j->o);
    return NULL;
}

static void test_capture_during_sync(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 1);
    char id[SAKHI_ID_STRLEN];
    for (int i = 0; i < 150; i++)
        sk_fx_capture(id, c, "withheld", SAKHI_URGENCY_ROUTINE);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.batch_size = 5;
    so.progress = note_phase;
    g_connecting = 0;
    sync_job j = {c, &so, SAKHI_SYNC_RESULT_INIT, -99, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sync_thread, &j), 0);
    pthread_mutex_lock(&g_mu);
    while (!g_connecting)
        pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; i < 20; i++) /* these run while the sync pushes and pulls */
        sk_fx_capture(id, c, "withheld", SAKHI_URGENCY_URGENT);
    sakhi_list_item items[4];
    size_t n;
    assert_int_equal(sakhi_list(items, 4, &n, NULL, c, NULL), 0);
    assert_int_equal(n, 4);
    pthread_join(th, NULL);
    assert_int_equal(j.rc, 0);
    assert_int_equal(j.res.pushed, 150);
    assert_int_equal(sk_td_pending(c), 20);
    sk_fx_sync(c, 0, NULL);
    assert_int_equal(sk_td_pending(c), 0);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 170);
    sakhi_close(c);
}

/* A listener that accepts and never answers. */
static int black_hole(uint16_t *port)
{
    int fd = sk_listen_loopback(4, port);
    assert_true(fd >= 0);
    return fd;
}

static void test_cancel_and_timeout(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 1);
    char id[SAKHI_ID_STRLEN];
    sk_fx_capture(id, c, "withheld", SAKHI_URGENCY_URGENT);
    uint16_t port;
    int hole = black_hole(&port);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.host = "127.0.0.1";
    so.port = port;
    so.io_timeout_ms = 60000;

    /* cancel from another thread while the sync waits for the server */
    sync_job j = {c, &so, SAKHI_SYNC_RESULT_INIT, -99, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sync_thread, &j), 0);
    struct pollfd pl = {hole, POLLIN, 0};
    assert_int_equal(poll(&pl, 1, 10000), 1); /* the sync has connected */
    int a = accept(hole, NULL, NULL);
    assert_true(a >= 0);
    sakhi_sync_result dummy = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&dummy, c, NULL), SAKHI_EBUSY);
    uint64_t t0 = sk_ts_now_ms();
    sakhi_sync_cancel(c);
    pthread_join(th, NULL);
    assert_int_equal(j.rc, SAKHI_ECANCELED);
    assert_true(sk_ts_now_ms() - t0 < 2000);
    close(a);
    assert_int_equal(sk_td_pending(c), 1);

    /* the read timeout */
    so.io_timeout_ms = 300;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    t0 = sk_ts_now_ms();
    assert_int_equal(sakhi_sync(&res, c, &so), SAKHI_ETIMEOUT);
    assert_true(sk_ts_now_ms() - t0 < 3000);
    close(hole);
    /* and a refused connection */
    so.port = port;
    assert_int_equal(sakhi_sync(&res, c, &so), SAKHI_ENET);
    /* nothing lost: the real server gets it */
    sk_fx_sync(c, 0, NULL);
    assert_int_equal(sk_td_pending(c), 0);
    sakhi_close(c);
}

/* ---- revocation ----------------------------------------------------------------------------- */

static void test_revoked_device_wipes(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 1);
    char id[SAKHI_ID_STRLEN], path[700];
    sk_fx_capture(id, c, "Canary Revoked Name", SAKHI_URGENCY_URGENT);
    sk_fx_sync(c, 0, NULL);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    sk_store *s = NULL;
    assert_int_equal(sk_ts_store(&f->ts, &s), 0);
    assert_int_equal(sk_store_device_revoke(s, st.device_id, sk_ts_now_ms()), 0);
    sk_store_close(s);
    sk_fx_capture(id, c, "withheld", SAKHI_URGENCY_URGENT); /* lost by design (PROTOCOL.md 4.3) */
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&res, c, NULL), SAKHI_EREVOKED);
    /* the handle refuses everything and the store files are gone */
    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, id), SAKHI_EREVOKED);
    assert_int_equal(sakhi_sync(&res, c, NULL), SAKHI_EREVOKED);
    snprintf(path, sizeof(path), "%s/dev0/data.mdb", f->ts.dir);
    assert_int_equal(access(path, F_OK), -1);
    sakhi_close(c);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_enroll_push_pull),
    cmocka_unit_test(test_three_devices_converge),
    cmocka_unit_test(test_urgent_first_batch),
    cmocka_unit_test(test_rejected_then_fixed_or_discarded),
    cmocka_unit_test(test_accept_makes_stub),
    cmocka_unit_test(test_capture_during_sync),
    cmocka_unit_test(test_cancel_and_timeout),
    cmocka_unit_test(test_cut_sweep),
    cmocka_unit_test(test_revoked_device_wipes),
};

SK_TEST_MAIN_EACH(tests, setup, sk_fx_free)
