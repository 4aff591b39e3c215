/*
 * test_client_background_sync.c - sync as a phone runs it (issue 22 point 6), libsakhi against
 * a real sakhi-server on 127.0.0.1:
 *   - a sync bounded by deadline_ms stops at a safe point near it (SAKHI_ETIMEOUT,
 *     deadline_reached), with everything it acknowledged recorded and nothing else lost; the
 *     next sync resumes and the server holds each referral exactly once;
 *   - a network-changed hint drops the connection and the same sakhi_sync call starts over and
 *     completes; counts add up across the two sessions;
 *   - the sync summary an app's home screen shows: last success, last attempt and error (kept
 *     across a reopen of the store), pending count and the oldest pending change's age, the
 *     records whose change was rejected; and each record's own sync state.
 * The slow link is the progress callback holding the syncing thread a fixed time per answer
 * (the sync's clock is real), so how far a deadline gets is bounded both ways.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(sk_fx), "sk-bgsync", "fw1", NULL);
}

static void hold_ms(unsigned ms) /* the slow link: time spent per answer */
{
    struct timespec ts = {0, (long)ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static sakhi_client *device(sk_fx *f, int n)
{
    sakhi_client *c = NULL;
    assert_int_equal(sk_td_device(&c, &f->ts, n, NULL, "fw1", "phone", NULL), 0);
    return c;
}

static void capture_n(sakhi_client *c, int n)
{
    char id[SAKHI_ID_STRLEN];
    for (int i = 0; i < n; i++)
        assert_int_equal(sk_td_capture(id, c, "Dolma", SAKHI_URGENCY_ROUTINE, 1), 0);
}

static uint64_t server_records(sk_fx *f)
{
    uint64_t records = 0, seq = 0;
    assert_int_equal(sk_ts_stats(&f->ts, &records, &seq), 0);
    return records;
}

/* ---- the deadline ------------------------------------------------------------------------ */

static int slow_progress(const sakhi_progress *p, void *payload)
{
    (void)p;
    hold_ms(*(unsigned *)payload);
    return 0;
}

/* sakhi_sync of c in batches of batch (0: the default), every progress report held
 * per_answer_ms, with a deadline of deadline_ms, which it must meet: SAKHI_ETIMEOUT with
 * deadline_reached set. The result into *res; the time it took. */
static uint64_t sync_to_deadline(sakhi_client *c, unsigned batch, unsigned per_answer_ms,
                                 unsigned deadline_ms, sakhi_sync_result *res)
{
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.batch_size = batch;
    so.progress = slow_progress;
    so.progress_payload = &per_answer_ms;
    so.deadline_ms = deadline_ms;
    uint64_t t0 = sk_mono_ms();
    int rc = sakhi_sync(res, c, &so);
    uint64_t took = sk_mono_ms() - t0;
    assert_int_equal(rc, SAKHI_ETIMEOUT);
    assert_int_equal(res->deadline_reached, 1);
    return took;
}

static void test_deadline_stops_at_a_safe_point(void **state)
{
    sk_fx *f = *state;
    sakhi_client *c = device(f, 1);
    capture_n(c, 120);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    /* batches of 4: 30 PUSHes, 1.2 s of answers at the least */
    uint64_t took = sync_to_deadline(c, 4, 40, 500, &res);
    assert_int_equal(res.complete, 0);
    assert_non_null(strstr(sakhi_errmsg(c), "deadline"));
    /* it stopped near the deadline (the drain starts at 450 ms; answers on their way take at
     * most a few more holds), not after the 1.2 s the whole push needs */
    assert_true(took >= 400);
    assert_true(took < 1100);
    /* a safe point: what was acknowledged left the outbox, the rest waits (the server may
     * already hold some of it: acks still on their way when the sync stopped) */
    assert_true(res.pushed > 0 && res.pushed < 120);
    assert_int_equal(sk_td_pending(c), 120 - res.pushed);
    uint64_t held = server_records(f);
    assert_true(held >= res.pushed && held <= 120);
    uint64_t first = res.pushed;
    /* the next sync resumes where it stopped */
    sakhi_sync_options quick = SAKHI_SYNC_OPTIONS_INIT;
    sakhi_sync_result res2 = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&res2, c, &quick), 0);
    assert_int_equal(res2.complete, 1);
    assert_int_equal(res2.deadline_reached, 0);
    assert_int_equal(res2.pushed, 120 - first);
    assert_int_equal(sk_td_pending(c), 0);
    assert_int_equal(server_records(f), 120); /* each exactly once */
    sakhi_close(c);
}

/* A deadline shorter than the connection takes: the sync gives up by it, having lost nothing. */
static void test_deadline_before_welcome(void **state)
{
    sk_fx *f = *state;
    sakhi_client *c = device(f, 2);
    capture_n(c, 2);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    /* the connect report alone holds past the deadline */
    assert_true(sync_to_deadline(c, 0, 300, 200, &res) < 2000);
    assert_int_equal(res.pushed, 0);
    assert_int_equal(sk_td_pending(c), 2);
    sakhi_close(c);
}

/* ---- the network changed ------------------------------------------------------------------- */

typedef struct hint {
    sakhi_client *c;
    int given;
    uint64_t done_at_hint;
} hint;

static int hint_on_first_ack(const sakhi_progress *p, void *payload)
{
    hint *h = payload;
    if (!h->given && p->push_done > 0) {
        h->given = 1;
        h->done_at_hint = p->push_done;
        sakhi_sync_network_changed(h->c); /* as a connectivity callback would, any thread */
    }
    return 0;
}

static char g_log[8192];
static void log_cb(int level, const char *line, void *payload)
{
    (void)level;
    (void)payload;
    size_t have = strlen(g_log);
    snprintf(g_log + have, sizeof(g_log) - have, "%s\n", line);
}

static void test_network_changed_starts_over(void **state)
{
    sk_fx *f = *state;
    sakhi_options o = sk_td_options();
    o.log_fn = log_cb;
    o.log_level = SAKHI_LOG_INFO;
    sakhi_client *c = NULL;
    assert_int_equal(sk_td_device(&c, &f->ts, 3, &o, "fw1", "phone", NULL), 0);
    capture_n(c, 40);
    g_log[0] = '\0';
    hint h = {c, 0, 0};
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    so.batch_size = 4;
    so.progress = hint_on_first_ack;
    so.progress_payload = &h;
    assert_int_equal(sakhi_sync(&res, c, &so), 0);
    assert_int_equal(h.given, 1);
    assert_int_equal(res.complete, 1);
    assert_int_equal(res.pushed, 40); /* both sessions' acks, each change once */
    assert_int_equal(sk_td_pending(c), 0);
    assert_int_equal(server_records(f), 40);
    /* it did start over: one hint, two sessions */
    assert_non_null(strstr(g_log, "event=network_changed"));
    const char *w1 = strstr(g_log, "event=welcome");
    assert_non_null(w1);
    assert_non_null(strstr(w1 + 1, "event=welcome"));
    /* without a sync running the hint does nothing */
    sakhi_sync_network_changed(c);
    sakhi_sync_network_changed(NULL);
    sakhi_sync_result res2 = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&res2, c, NULL), 0);
    assert_int_equal(res2.pushed, 0);
    sakhi_close(c);
}

/* ---- the summary ----------------------------------------------------------------------------- */

static void test_summary_for_the_home_screen(void **state)
{
    sk_fx *f = *state;
    sakhi_client *c = device(f, 4);
    sakhi_sync_summary sum = SAKHI_SYNC_SUMMARY_INIT;
    assert_int_equal(sakhi_sync_summary_get(&sum, c), 0);
    assert_int_equal(sum.last_success_ms, 0);
    assert_int_equal(sum.last_attempt_ms, 0);
    assert_int_equal(sum.last_error, 0);
    assert_int_equal(sum.pending, 0);
    assert_int_equal(sum.oldest_pending_ms, 0);
    assert_int_equal(sum.syncing, 0);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    char id[SAKHI_ID_STRLEN];
    assert_int_equal(sk_td_capture(id, c, "Dolma", SAKHI_URGENCY_ROUTINE, 1), 0);
    capture_n(c, 2);
    assert_int_equal(sk_td_state(c, id), SAKHI_SYNC_PENDING);
    assert_int_equal(sakhi_sync_summary_get(&sum, c), 0);
    assert_int_equal(sum.pending, 3);
    /* the oldest is the first captured: its time, within the device's clock correction */
    assert_true(sum.oldest_pending_ms + 5000 >= before);
    assert_true(sum.oldest_pending_ms <= before + 5000);
    assert_true(sum.oldest_pending_age_ms < 60000);

    /* the server is down: the attempt and its error are kept, success is not */
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.connect_timeout_ms = 2000;
    assert_int_equal(sakhi_sync(NULL, c, &so), SAKHI_ENET);
    assert_int_equal(sakhi_sync_summary_get(&sum, c), 0);
    assert_int_equal(sum.last_error, SAKHI_ENET);
    assert_true(sum.last_attempt_ms >= before);
    assert_int_equal(sum.last_success_ms, 0);
    assert_true(strlen(sum.last_error_msg) > 0);
    assert_int_equal(sum.pending, 3);

    /* the server is back (on another port): success; nothing waits */
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sakhi_sync_options back = SAKHI_SYNC_OPTIONS_INIT;
    back.host = "127.0.0.1";
    back.port = f->ts.port;
    assert_int_equal(sakhi_sync(NULL, c, &back), 0);
    assert_int_equal(sakhi_sync_summary_get(&sum, c), 0);
    assert_int_equal(sum.last_error, 0);
    assert_string_equal(sum.last_error_msg, "");
    assert_true(sum.last_success_ms >= before);
    assert_int_equal(sum.last_success_ms, sum.last_attempt_ms);
    assert_int_equal(sum.pending, 0);
    assert_int_equal(sum.oldest_pending_ms, 0);
    assert_int_equal(sum.oldest_pending_age_ms, 0);
    assert_int_equal(sum.rejected, 0);
    assert_int_equal(sk_td_state(c, id), SAKHI_SYNC_RECEIVED);

    /* a failed attempt after it, then a reopen: times and code kept, the message not */
    uint64_t success = sum.last_success_ms;
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    assert_int_equal(sakhi_sync(NULL, c, &so), SAKHI_ENET);
    sakhi_close(c);
    assert_int_equal(sk_td_open(&c, &f->ts, 4, NULL), 0);
    assert_int_equal(sakhi_sync_summary_get(&sum, c), 0);
    assert_int_equal(sum.last_error, SAKHI_ENET);
    assert_int_equal(sum.last_success_ms, success);
    assert_true(sum.last_attempt_ms >= success);
    assert_string_equal(sum.last_error_msg, "");
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);

    /* bad arguments */
    sakhi_sync_summary bad = SAKHI_SYNC_SUMMARY_INIT;
    bad.version = 99;
    assert_int_equal(sakhi_sync_summary_get(&bad, c), SAKHI_EINVAL);
    assert_int_equal(sakhi_sync_summary_get(NULL, c), SAKHI_EINVAL);
    assert_int_equal(sakhi_sync_summary_get(&sum, NULL), SAKHI_EINVAL);
    sakhi_close(c);
}

SK_TEST_MAIN_SETS(SK_TESTS(setup, sk_fx_free, test_deadline_stops_at_a_safe_point,
                           test_deadline_before_welcome, test_network_changed_starts_over,
                           test_summary_for_the_home_screen))
