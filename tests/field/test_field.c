/*
 * test_field.c - field conditions end to end (docs/FIELD.md): a device that last synced months
 * ago sees the deletions made meanwhile; unsent changes survive a sync killed mid-way and a
 * server restored from a backup older than the device's cursor (the device detects the cursor
 * ahead of the server and pulls again from 0); urgent referrals are the first batch on a 2G
 * link; the watchdog ends a sync on a dead link and the next sync makes progress; progress
 * reports bytes and an estimate; a batch on a cut-prone link is never re-sent once acknowledged;
 * big caseloads (sizes scaled by SAKHI_FIELD_SCALE, 1 in CI, 10 for the figures).
 *
 * Uses the public libsakhi API, a real sakhi-server and sakhi-netem on 127.0.0.1, and the
 * server's store API and the protocol test client to load data and check the server side.
 * Prints "FIGURE key=value" lines that docs/FIELD.md quotes. Never logs referral content.
 */
#include "sk_testfixture.h"
#include "sk_testmain.h"
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <sakhi/sakhi.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DAY_MS (24ULL * 3600 * 1000)

typedef struct fx {
    sk_ts ts;
    int ndev;
    sk_proc netem;
    char netem_port_file[700];
} fx;

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(fx), "sk-field", "fw1 st1", NULL);
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->netem.pid)
        sk_proc_stop(&f->netem, 3000);
    return sk_fx_free(state);
}

static sakhi_client *open_dev(fx *f, int n, int64_t clock_offset_ms)
{
    sakhi_options o = sk_td_options();
    sakhi_client *c = NULL;
    o.map_size = 2ULL << 30;
    assert_int_equal(sk_td_open_skewed(&c, &f->ts, n, &o, clock_offset_ms), 0);
    return c;
}

/* A new enrolled device; *n_out (may be NULL) gets its number for open_dev. */
static sakhi_client *device(fx *f, const char *worker, int64_t clock_offset_ms, int *n_out)
{
    int n = f->ndev++;
    sakhi_client *c = open_dev(f, n, clock_offset_ms);
    int rc = sk_td_enroll(c, &f->ts, worker, "field-test", NULL, NULL);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
    if (n_out)
        *n_out = n;
    return c;
}

static void capture(sakhi_client *c, int urgency, char id[SAKHI_ID_STRLEN])
{
    int rc = sk_td_capture(id, c, "withheld", urgency, 0);
    if (rc)
        fail_msg("save: %d %s: %s", rc, sakhi_errfield(c), sakhi_errmsg(c));
}

/* A referral with a follow-up of len letters that do not compress (a long case note): two
 * outbox changes of about len bytes, so that links and cuts see real volume. */
static void capture_big(sakhi_client *c, size_t len, uint64_t *rng, char id[SAKHI_ID_STRLEN])
{
    char *text = malloc(len + 1);
    assert_non_null(text);
    capture(c, SAKHI_URGENCY_ROUTINE, id);
    for (size_t i = 0; i < len; i++) {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        text[i] = (char)('a' + (*rng % 26));
    }
    text[len] = 0;
    assert_int_equal(sakhi_followup_add(c, id, text), 0);
    free(text);
}

static int sync_via(sakhi_client *c, uint16_t port, sakhi_sync_result *res,
                    sakhi_sync_options *so_in)
{
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    if (so_in)
        so = *so_in;
    so.host = "127.0.0.1";
    so.port = port;
    res->version = SAKHI_SYNC_RESULT_VERSION;
    return sakhi_sync(res, c, &so);
}

static unsigned scale(void)
{
    const char *e = getenv("SAKHI_FIELD_SCALE");
    long v = e ? strtol(e, NULL, 10) : 1;
    return v >= 1 && v <= 100 ? (unsigned)v : 1;
}

/* Start sakhi-netem in front of the server with extra flags (NULL-ended); returns its port. */
static uint16_t netem_start(fx *f, const char *const *extra)
{
    char logp[700];
    snprintf(f->netem_port_file, sizeof(f->netem_port_file), "%s/netem.port", f->ts.dir);
    snprintf(logp, sizeof(logp), "%s/netem.log", f->ts.dir);
    uint16_t port = sk_proc_start_netem(&f->netem, SAKHI_BIN_DIR "/tools/netem/sakhi-netem",
                                        f->ts.port, f->netem_port_file, NULL, logp, extra);
    assert_true(port > 0);
    return port;
}

static void netem_stop(fx *f)
{
    sk_proc_stop(&f->netem, 3000);
    memset(&f->netem, 0, sizeof(f->netem));
}

/* ---- 1. months offline ------------------------------------------------------------------- */

/* A staff device through the protocol test client (deletions have no app API). */
static void staff_tc(fx *f, sk_tc *tc)
{
    assert_int_equal(sk_td_tc(tc, &f->ts, "st1", "staff"), 0);
}

static void server_version(fx *f, const char *id_text, uint64_t *version, uint32_t *flags)
{
    sk_store *s = NULL;
    sk_id id;
    sk_record r;
    assert_int_equal(sk_id_from_str(&id, id_text), 0);
    assert_int_equal(sk_ts_store(&f->ts, &s), 0);
    assert_int_equal(sk_store_record_get(s, &id, &r), 0);
    *version = r.version;
    *flags = r.flags;
    sk_record_free(&r);
    sk_store_close(s);
}

static void test_months_offline(void **state)
{
    fx *f = *state;
    const int64_t six_months = -(int64_t)(183 * DAY_MS);
    int n;
    /* the device's clock reads six months ago: its captures and its last sync are that old */
    sakhi_client *c = device(f, "fw1", six_months, &n);
    char ids[6][SAKHI_ID_STRLEN];
    for (int i = 0; i < 6; i++)
        capture(c, SAKHI_URGENCY_ROUTINE, ids[i]);
    sk_fx_sync(c, f->ts.port, NULL);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    uint64_t now = sk_ts_now_ms();
    uint64_t cursor_then = st.cursor;
    assert_true(cursor_then >= 6);
    sakhi_close(c);

    /* meanwhile the centre deletes two of them and edits one */
    sk_tc tc;
    staff_tc(f, &tc);
    sk_change ch[3];
    sk_ack acks[3];
    for (int i = 0; i < 3; i++) {
        uint64_t ver;
        uint32_t flags;
        sk_id id;
        server_version(f, ids[i], &ver, &flags);
        assert_int_equal(sk_id_from_str(&id, ids[i]), 0);
        sk_hlc hlc = SK_HLC_MAKE(now + 1000 + (uint64_t)i, 0);
        if (i < 2) {
            sk_change_init(&ch[i]);
            ch[i].id = id;
            ch[i].op = (uint64_t)i + 1;
            ch[i].base = ver;
            ch[i].hlc = hlc;
            ch[i].kind = SK_CHANGE_DELETE;
        } else {
            assert_int_equal(
                sk_tc_make_edit_str(&ch[i], &id, (uint64_t)i + 1, ver, hlc, SK_F_VILLAGE, "Hunder"),
                0);
        }
    }
    assert_int_equal(sk_tc_push(&tc, ch, 3, acks), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(acks[i].status, SK_ACK_APPLIED);
        sk_change_free(&ch[i]);
    }
    sk_tc_free(&tc);
    /* the server keeps the tombstones (records are never purged) */
    for (int i = 0; i < 2; i++) {
        uint64_t ver;
        uint32_t flags;
        server_version(f, ids[i], &ver, &flags);
        assert_true(flags & SK_REC_TOMBSTONE);
    }

    /* six months later the device syncs with the right clock: no reset, the two deletions
     * and the edit arrive, and only those three records travel */
    c = open_dev(f, n, 0);
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_true(st.last_sync_ms + 180 * DAY_MS < now);
    assert_int_equal(st.cursor, cursor_then);
    char fresh[SAKHI_ID_STRLEN];
    capture(c, SAKHI_URGENCY_URGENT, fresh);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(c, f->ts.port, &res);
    assert_int_equal(res.pushed, 1);
    assert_int_equal(res.pulled, 4); /* 2 deletions + 1 edit + its own new record */
    printf("FIGURE months_offline pulled=%llu bytes_received=%llu\n",
           (unsigned long long)res.pulled, (unsigned long long)res.bytes_received);
    for (int i = 0; i < 6; i++) {
        sakhi_record *rec = NULL;
        assert_int_equal(sakhi_record_get(&rec, c, ids[i]), 0);
        assert_int_equal(sakhi_record_is_deleted(rec), i < 2);
        if (i == 2) {
            const char *v;
            assert_int_equal(sakhi_record_get_str(&v, rec, "village"), 0);
            assert_string_equal(v, "Hunder");
        }
        sakhi_record_free(rec);
    }
    assert_int_equal(sk_td_pending(c), 0);
    sakhi_close(c);
}

/* ---- 2. never drop unsent data ----------------------------------------------------------- */

typedef struct kill_ctx {
    int fd;
    int sent;
} kill_ctx;

static int tell_parent_after_ack(const sakhi_progress *p, void *payload)
{
    kill_ctx *k = payload;
    if (p->push_done > 0 && !k->sent) {
        char b = (char)p->push_done;
        if (write(k->fd, &b, 1) == 1)
            k->sent = 1;
        for (int i = 0; i < 200; i++) /* wait to be killed (bounded) */
            sk_sleep_ms(50);
    }
    return 0;
}

static void test_crash_mid_sync_keeps_outbox(void **state)
{
    fx *f = *state;
    int n;
    sakhi_client *c = device(f, "fw1", 0, &n);
    char ids[20][SAKHI_ID_STRLEN];
    for (int i = 0; i < 20; i++)
        capture(c, SAKHI_URGENCY_ROUTINE, ids[i]);
    sakhi_close(c);

    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pfd[0]);
        sakhi_client *cc = NULL;
        if (sk_td_open(&cc, &f->ts, n, NULL))
            _exit(3);
        kill_ctx k = {pfd[1], 0};
        sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
        so.batch_size = 4;
        so.progress = tell_parent_after_ack;
        so.progress_payload = &k;
        sakhi_sync(NULL, cc, &so);
        _exit(4); /* never reached in a passing run */
    }
    close(pfd[1]);
    struct pollfd pl = {pfd[0], POLLIN, 0};
    assert_int_equal(poll(&pl, 1, 30000), 1);
    char b = 0;
    assert_int_equal(read(pfd[0], &b, 1), 1);
    kill(pid, SIGKILL); /* mid-sync: acks of the first batch are on disk, the rest is not */
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    close(pfd[0]);

    c = open_dev(f, n, 0);
    uint64_t left = sk_td_pending(c);
    assert_int_equal(left, 20 - (uint64_t)b); /* nothing unsent was dropped */
    assert_true(left >= 12);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(c, f->ts.port, &res);
    assert_int_equal(sk_td_pending(c), 0);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 20); /* each exactly once */
    assert_int_equal(seq, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(sk_td_state(c, ids[i]), SAKHI_SYNC_RECEIVED);
    sakhi_close(c);
}

static void test_server_restored_from_older_backup(void **state)
{
    fx *f = *state;
    char backup[700];
    snprintf(backup, sizeof(backup), "%s/backup", f->ts.dir);
    sakhi_client *a = device(f, "fw1", 0, NULL);
    char ids[12][SAKHI_ID_STRLEN];
    for (int i = 0; i < 3; i++)
        capture(a, SAKHI_URGENCY_ROUTINE, ids[i]);
    sk_fx_sync(a, f->ts.port, NULL);

    /* the centre's nightly backup */
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    assert_int_equal(sk_copy_tree(f->ts.data, backup), 0);
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);

    for (int i = 3; i < 6; i++)
        capture(a, SAKHI_URGENCY_ROUTINE, ids[i]);
    sk_fx_sync(a, f->ts.port, NULL);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, a), 0);
    assert_int_equal(st.cursor, 6);
    /* captured offline, not yet sent */
    for (int i = 6; i < 8; i++)
        capture(a, SAKHI_URGENCY_ROUTINE, ids[i]);

    /* the server's disk dies; it is restored from the backup: its last seq is 3, and a new
     * epoch begins as sakhi-admin restore begins one */
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    assert_int_equal(sk_copy_tree(backup, f->ts.data), 0);
    {
        sk_store *store;
        assert_int_equal(sk_store_open(&store, f->ts.data, 0), 0);
        assert_int_equal(sk_store_epoch_begin(store, sk_ts_now_ms(), "restore", NULL), 0);
        sk_store_close(store);
    }
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(seq, 3);

    /* another device of the centre writes first: seq 4, below device A's cursor 6 */
    sakhi_client *b = device(f, "fw1", 0, NULL);
    char bid[SAKHI_ID_STRLEN];
    capture(b, SAKHI_URGENCY_ROUTINE, bid);
    sk_fx_sync(b, f->ts.port, NULL);

    /* device A: WELCOME shows a new epoch (the directory is a copy) that kept the history up
     * to 3, below its cursor 6: it pulls again from 0 and sees B's record, which a pull from 6
     * would have skipped for ever, and gives back the 3 referrals acknowledged after the
     * backup (PROTOCOL.md section 5.6) besides pushing its 2 unsent ones */
    assert_int_equal(sk_td_pending(a), 2);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(a, f->ts.port, &res);
    assert_int_equal(res.server_behind, 1);
    assert_int_equal(res.pushed, 5);
    assert_int_equal(res.applied, 5);
    assert_int_equal(sk_td_pending(a), 0);
    assert_int_equal(sk_td_state(a, bid), SAKHI_SYNC_RECEIVED);
    assert_int_equal(sk_td_state(a, ids[6]), SAKHI_SYNC_RECEIVED);
    assert_int_equal(sk_td_state(a, ids[7]), SAKHI_SYNC_RECEIVED);
    assert_int_equal(sakhi_status_get(&st, a), 0);
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 9); /* every referral of A and B, each once */
    assert_int_equal(seq, 9);
    assert_int_equal(st.cursor, seq);
    for (int i = 0; i < 8; i++)
        assert_int_equal(sk_td_state(a, ids[i]), SAKHI_SYNC_RECEIVED);
    sakhi_close(a);
    sakhi_close(b);
}

/* ---- 4. urgent first on 2G ----------------------------------------------------------------- */

typedef struct first_ack {
    uint64_t t0, t_first;
    uint64_t pushed;
} first_ack;

static int stop_at_first_ack(const sakhi_progress *p, void *payload)
{
    first_ack *fa = payload;
    if (p->push_done > 0 && !fa->t_first) {
        fa->t_first = sk_mono_ms();
        fa->pushed = p->push_done;
        return 1;
    }
    return 0;
}

static void test_urgent_first_on_2g(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 0, NULL);
    char ids[50][SAKHI_ID_STRLEN];
    for (int i = 0; i < 50; i++)
        capture(c, i % 16 == 7 ? SAKHI_URGENCY_IMMEDIATE_DANGER : SAKHI_URGENCY_ROUTINE,
                ids[i]); /* 3 urgent: 7, 23, 39 */
    const char *extra[] = {"--preset", "2g", "--seed", "7", NULL};
    uint16_t port = netem_start(f, extra);
    first_ack fa = {0, 0, 0};
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.progress = stop_at_first_ack;
    so.progress_payload = &fa;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    fa.t0 = sk_mono_ms();
    assert_int_equal(sync_via(c, port, &res, &so), SAKHI_ECANCELED);
    netem_stop(f);
    printf("FIGURE urgent_2g first_ack_ms=%llu first_batch=%llu bytes_sent=%llu\n",
           (unsigned long long)(fa.t_first - fa.t0), (unsigned long long)fa.pushed,
           (unsigned long long)res.bytes_sent);
    /* the first acknowledged batch held exactly the three urgent referrals */
    assert_int_equal(fa.pushed, 3);
    assert_int_equal(res.pushed, 3);
    for (int i = 0; i < 50; i++)
        assert_int_equal(sk_td_state(c, ids[i]),
                         i % 16 == 7 ? SAKHI_SYNC_RECEIVED : SAKHI_SYNC_PENDING);
    assert_true(fa.t_first - fa.t0 < 30000);
    sk_fx_sync(c, f->ts.port, NULL);
    assert_int_equal(sk_td_pending(c), 0);
    sakhi_close(c);
}

/* ---- 5. never stuck: watchdog on a dead link, progress and estimate ------------------------ */

typedef struct prog_log {
    int calls, eta_seen, bad;
    uint64_t last_bytes_done, total_bytes;
} prog_log;

static int check_progress(const sakhi_progress *p, void *payload)
{
    prog_log *l = payload;
    l->calls++;
    if (p->push_remaining != p->push_total - p->push_done)
        l->bad++;
    if (p->push_bytes_done < l->last_bytes_done || p->push_bytes_done > p->push_bytes_total)
        l->bad++;
    l->last_bytes_done = p->push_bytes_done;
    l->total_bytes = p->push_bytes_total;
    if (p->eta_ms > 0)
        l->eta_seen++;
    if (p->push_remaining == 0 && p->eta_ms != 0)
        l->bad++;
    return 0;
}

static void test_watchdog_then_progress(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 0, NULL);
    char ids[30][SAKHI_ID_STRLEN];
    uint64_t rng = 88172645463325252ULL;
    for (int i = 0; i < 30; i++)
        capture_big(c, 1500, &rng, ids[i]);
    /* a radio link that goes silent after the handshake and a little data */
    const char *extra[] = {"--blackhole-after", "4000", NULL};
    uint16_t port = netem_start(f, extra);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.batch_size = 2;
    so.stall_timeout_ms = 1500;
    so.io_timeout_ms = 60000;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    uint64_t t0 = sk_mono_ms();
    int rc = sync_via(c, port, &res, &so);
    uint64_t took = sk_mono_ms() - t0;
    netem_stop(f);
    assert_int_equal(rc, SAKHI_ETIMEOUT);
    assert_non_null(strstr(sakhi_errmsg(c), "watchdog"));
    assert_true(took >= 1500 && took < 10000);
    printf("FIGURE watchdog stall_timeout_ms=1500 ended_after_ms=%llu acked_before=%llu\n",
           (unsigned long long)took, (unsigned long long)res.pushed);
    uint64_t left = sk_td_pending(c);
    assert_int_equal(left, 60 - res.pushed);
    assert_true(left > 40);

    /* the next sync makes progress and reports it */
    prog_log pl;
    memset(&pl, 0, sizeof(pl));
    sakhi_sync_options so2 = SAKHI_SYNC_OPTIONS_INIT;
    so2.batch_size = 2;
    so2.progress = check_progress;
    so2.progress_payload = &pl;
    res.version = SAKHI_SYNC_RESULT_VERSION;
    assert_int_equal(sync_via(c, f->ts.port, &res, &so2), 0);
    assert_int_equal(res.pushed, left);
    assert_int_equal(sk_td_pending(c), 0);
    assert_int_equal(pl.bad, 0);
    assert_true(pl.calls > 3);
    assert_true(pl.total_bytes > 0);
    assert_int_equal(pl.last_bytes_done, pl.total_bytes);
    assert_true(pl.eta_seen > 0);
    sakhi_close(c);
}

/* ---- 7. a large batch on a cut-prone link ------------------------------------------------- */

typedef struct attempt_log {
    uint64_t push_total;
    int seen;
} attempt_log;

static int note_total(const sakhi_progress *p, void *payload)
{
    attempt_log *a = payload;
    if (!a->seen) {
        a->push_total = p->push_total;
        a->seen = 1;
    }
    return 0;
}

static void test_flaky_batch_progresses(void **state)
{
    fx *f = *state;
    const unsigned N = 60 * scale(); /* referrals, each with a 2000-byte note */
    /* reference: the same volume on a clean link */
    sakhi_client *ref = device(f, "fw1", 0, NULL);
    char id[SAKHI_ID_STRLEN];
    uint64_t rng = 88172645463325252ULL;
    for (unsigned i = 0; i < N; i++)
        capture_big(ref, 2000, &rng, id);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.pull_limit = 1; /* keep the pull small: the figure is about the push */
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sync_via(ref, f->ts.port, &res, &so), 0);
    uint64_t clean_sent = res.bytes_sent;
    sakhi_close(ref);

    sakhi_client *c = device(f, "fw1", 0, NULL);
    rng = 88172645463325252ULL; /* the same volume and entropy as the reference */
    for (unsigned i = 0; i < N; i++)
        capture_big(c, 2000, &rng, id);
    const char *extra[] = {"--preset", "flaky", "--seed", "1234", NULL};
    uint16_t port = netem_start(f, extra);
    uint64_t sent = 0, received = 0, acked = 0, pulled = 0, left = 2 * (uint64_t)N;
    int attempts = 0, cuts = 0, complete = 0;
    /* the push and then the pull of all 4 N changes (2 KB each) have to get through a cut
     * every ~20 KiB: the attempts needed grow with the volume */
    const int max_attempts = 200 * (int)scale();
    while (attempts < max_attempts) {
        attempt_log al = {0, 0};
        sakhi_sync_options fo = SAKHI_SYNC_OPTIONS_INIT;
        fo.io_timeout_ms = 5000;
        fo.pull_limit = 8; /* small CHANGES frames too: the cursor moves with each one */
        fo.progress = note_total;
        fo.progress_payload = &al;
        res.version = SAKHI_SYNC_RESULT_VERSION;
        int rc = sync_via(c, port, &res, &fo);
        attempts++;
        sent += res.bytes_sent;
        received += res.bytes_received;
        acked += res.pushed;
        pulled += res.pulled;
        if (getenv("SAKHI_FIELD_TRACE"))
            fprintf(stderr, "attempt %d rc %d pushed %llu pulled %llu sent %llu received %llu\n",
                    attempts, rc, (unsigned long long)res.pushed, (unsigned long long)res.pulled,
                    (unsigned long long)res.bytes_sent, (unsigned long long)res.bytes_received);
        /* what was acknowledged earlier is not in this attempt's outbox */
        if (al.seen)
            assert_int_equal(al.push_total, left);
        left -= res.pushed;
        assert_int_equal(sk_td_pending(c), left);
        if (rc == 0 && res.complete) {
            complete = 1;
            break;
        }
        assert_true(rc == SAKHI_ENET || rc == SAKHI_ETIMEOUT);
        cuts++;
    }
    netem_stop(f);
    assert_int_equal(left, 0);
    assert_true(complete); /* and the pull got through too, within the bound */
    assert_int_equal(acked, 2 * (uint64_t)N);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 2 * (uint64_t)N);
    assert_int_equal(seq, 4 * (uint64_t)N); /* nothing applied twice */
    printf("FIGURE flaky referrals=%u attempts=%d cuts=%d bytes_sent=%llu clean_bytes_sent=%llu "
           "resent_pct=%.1f\n",
           N, attempts, cuts, (unsigned long long)sent, (unsigned long long)clean_sent,
           clean_sent ? 100.0 * ((double)sent - (double)clean_sent) / (double)clean_sent : 0.0);
    assert_true(cuts >= 1);
    sakhi_close(c);
}

/* ---- 6. big caseloads ------------------------------------------------------------------------ */

/* A "Name: <kB> kB" line of /proc/self/status (-1 when missing). */
static long status_kb(const char *name)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(name);
    long v = -1;
    if (!fp)
        return -1;
    while (fgets(line, sizeof(line), fp))
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            v = strtol(line + n + 1, NULL, 10);
            break;
        }
    fclose(fp);
    return v;
}

static long vm_hwm_kb(void)
{
    return status_kb("VmHWM");
}

static void reset_hwm(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd >= 0) {
        if (write(fd, "5", 1) != 1) { /* best effort: older kernels lack it */
        }
        close(fd);
    }
}

/* Load n referrals onto the server as a new device (label) of worker through the protocol
 * client; *op counts that device's operations. */
static void load_server(fx *f, const char *worker, const char *label, unsigned n, uint64_t *op)
{
    sk_tc tc;
    assert_int_equal(sk_td_tc(&tc, &f->ts, worker, label), 0);
    uint32_t per = tc.max_batch < 256 ? tc.max_batch : 256;
    sk_change *chs = calloc(per, sizeof(*chs));
    sk_ack *acks = calloc(per, sizeof(*acks));
    assert_non_null(chs);
    assert_non_null(acks);
    uint64_t now = sk_ts_now_ms();
    for (unsigned done = 0; done < n;) {
        uint32_t k = n - done < per ? n - done : per;
        for (uint32_t i = 0; i < k; i++)
            assert_int_equal(sk_tc_make_referral(&chs[i], ++*op, now + done + i, "load"), 0);
        assert_int_equal(sk_tc_push(&tc, chs, k, acks), 0);
        for (uint32_t i = 0; i < k; i++) {
            assert_int_equal(acks[i].status, SK_ACK_APPLIED);
            sk_change_free(&chs[i]);
        }
        done += k;
    }
    free(chs);
    free(acks);
    sk_tc_free(&tc);
}

static void caseload_run(fx *f, sakhi_client *c, const char *who, unsigned expect)
{
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.pull_limit = 1000;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    reset_hwm();
    uint64_t t0 = sk_mono_ms();
    assert_int_equal(sync_via(c, f->ts.port, &res, &so), 0);
    uint64_t first_ms = sk_mono_ms() - t0;
    long hwm_first = vm_hwm_kb();
    assert_int_equal(res.pulled, expect);
    uint64_t first_bytes = res.bytes_received;

    /* incremental: 20 new captures, then a sync */
    char id[SAKHI_ID_STRLEN];
    for (int i = 0; i < 20; i++)
        capture(c, SAKHI_URGENCY_ROUTINE, id);
    t0 = sk_mono_ms();
    assert_int_equal(sync_via(c, f->ts.port, &res, &so), 0);
    uint64_t inc_ms = sk_mono_ms() - t0;
    assert_int_equal(res.pushed, 20);
    assert_int_equal(res.pulled, 20);
    uint64_t inc_bytes = res.bytes_sent + res.bytes_received;

    /* list everything, page by page */
    sakhi_list_item *items = calloc(500, sizeof(*items));
    assert_non_null(items);
    sakhi_list_filter fl = SAKHI_LIST_FILTER_INIT;
    char next[SAKHI_ID_STRLEN] = "";
    size_t got, total = 0;
    reset_hwm();
    t0 = sk_mono_ms();
    do {
        fl.after = next[0] ? next : NULL;
        assert_int_equal(sakhi_list(items, 500, &got, next, c, &fl), 0);
        total += got;
    } while (next[0]);
    uint64_t list_ms = sk_mono_ms() - t0;
    assert_int_equal(total, expect + 20);
    /* search: the records captured on this device today (pending-only / state filters read
     * the same index); one page of 50 */
    sakhi_list_filter sf = SAKHI_LIST_FILTER_INIT;
    sf.from_ms = sk_ts_now_ms() - 3600 * 1000;
    sf.sync_state = SAKHI_SYNC_RECEIVED;
    t0 = sk_mono_ms();
    assert_int_equal(sakhi_list(items, 50, &got, next, c, &sf), 0);
    uint64_t search_ms = sk_mono_ms() - t0;
    assert_int_equal(got, 50);
    long hwm_list = vm_hwm_kb();
    /* what of it is the heap and what the store's pages mapped from its files (the kernel can
     * drop those under pressure) */
    long rss_anon = status_kb("RssAnon"), rss_file = status_kb("RssFile");
    free(items);
    printf("FIGURE caseload %s records=%u first_sync_ms=%llu first_sync_bytes=%llu "
           "first_sync_hwm_kb=%ld incr_sync_ms=%llu incr_bytes=%llu list_all_ms=%llu "
           "search_page_ms=%llu list_hwm_kb=%ld rss_anon_kb=%ld rss_file_kb=%ld\n",
           who, expect, (unsigned long long)first_ms, (unsigned long long)first_bytes, hwm_first,
           (unsigned long long)inc_ms, (unsigned long long)inc_bytes, (unsigned long long)list_ms,
           (unsigned long long)search_ms, hwm_list, rss_anon, rss_file);
}

static void test_big_caseloads(void **state)
{
    fx *f = *state;
    const unsigned field_n = 1000 * scale(), staff_extra = 9000 * scale();
    uint64_t op = 0;
    /* fw1's own referrals (a field device sees these), then more of the district's that only
     * the centre sees: load them as another field worker of the same district */
    load_server(f, "fw1", "loader", field_n, &op);
    assert_int_equal(sk_ts_worker(&f->ts, "fw2", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    /* the rest of the district's referrals, from fw2 */
    uint64_t op2 = 0;
    load_server(f, "fw2", "loader3", staff_extra, &op2);
    sakhi_client *field = device(f, "fw1", 0, NULL);
    caseload_run(f, field, "field", field_n);
    sakhi_close(field);
    sakhi_client *staff = device(f, "st1", 0, NULL);
    caseload_run(f, staff, "staff", field_n + staff_extra + 20);
    sakhi_close(staff);
}

int main(void)
{
    /* SAKHI_FIELD_ONLY=test_big_caseloads runs one test (a cmocka name pattern) */
    const char *only = getenv("SAKHI_FIELD_ONLY");
    if (only && *only)
        cmocka_set_test_filter(only);
    return SK_TEST_RUN(
        SK_TESTS(setup, teardown, test_months_offline, test_crash_mid_sync_keeps_outbox,
                 test_server_restored_from_older_backup, test_urgent_first_on_2g,
                 test_watchdog_then_progress, test_flaky_batch_progresses, test_big_caseloads));
}
