/*
 * test_campaign_link.c - campaign 4 of issue 9: link faults between a libsakhi device and a real
 * sakhi-server, made by sakhi-netem (cuts, stalls, blackholes, 2g, vsat) and by an in-test
 * proxy that forwards one byte per write (fragmentation).
 *
 *  - cut sweep: a scripted session of three batches (three referrals, batch size 1, then the
 *    pull) is cut after byte N by `sakhi-netem --cut-after N`, for N from 1 past the session's
 *    length in a stride (CI: about 120 offsets; SAKHI_CAMPAIGN_LONG=1: every offset, stride 1);
 *    after each cut a direct sync must complete; at the end the server holds every captured
 *    referral exactly once (change log gap-free) and the device has nothing pending.
 *  - fragmentation, stalls, blackholes, 2g and vsat: every sync eventually completes, exactly
 *    once; and no server session is still open 30 s after the last fault (the server's debug log:
 *    as many conn_close as conn_open lines).
 *  - soak: per seed, three devices of one worker sync in threads through their own netem (random
 *    cuts, blackholes, stalls) while the main thread kills the server or pauses it (SIGSTOP) at
 *    random moments; afterwards every device converges (nothing pending, every record on every
 *    device, server change log exact) in every seed (CI: 5 seeds; long: 50).
 */
#include "sk_testfixture.h"
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <sakhi/sakhi.h>

#include "sk_client_test.h"
#include "cp_check.h"
#include "sk_relay.h"
#include "sk_testtext.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const k_server_flags[] = {
    "--log-level", "debug", "--idle-timeout", "3", "--handshake-timeout", "3", NULL};

typedef struct fx {
    sk_ts ts;
    int ndev;
    uint64_t captured;
    size_t log_off; /* the current server's part of the log starts here */
} fx;

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(fx), "sk-cp4", "fw1", k_server_flags);
}

/* A new device of fw1: its own store in the server's temp dir, enrolled over plaintext. */
static sakhi_client *device(fx *f)
{
    sakhi_client *c = NULL;
    assert_int_equal(sk_td_open(&c, &f->ts, f->ndev++, NULL), 0);
    int rc = sk_td_enroll(c, &f->ts, "fw1", "cp4", NULL, NULL);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
    return c;
}

/* A routine referral (sk_td_referral's fields, name withheld) saved on c. */
static void capture(sakhi_client *c)
{
    char id[SAKHI_ID_STRLEN];
    int rc = sk_td_capture(id, c, "withheld", SAKHI_URGENCY_ROUTINE, 0);
    if (rc)
        fail_msg("save: %d %s", rc, sakhi_errmsg(c));
}

static uint64_t pending(sakhi_client *c)
{
    uint64_t n = 0;
    assert_int_equal(sakhi_pending_count(&n, c), 0);
    return n;
}

/* One sync to port (0: the server directly) with short timeouts; returns sakhi_sync's code. */
static int sync_via(sakhi_client *c, uint16_t port, uint16_t server_port, unsigned io_ms,
                    sakhi_sync_result *res_out)
{
    sakhi_sync_options o = SAKHI_SYNC_OPTIONS_INIT;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    o.batch_size = 1;
    o.host = "127.0.0.1";
    o.port = port ? port : server_port;
    o.connect_timeout_ms = 3000;
    o.io_timeout_ms = io_ms;
    o.stall_timeout_ms = io_ms * 4;
    res.version = SAKHI_SYNC_RESULT_VERSION;
    int rc = sakhi_sync(&res, c, &o);
    if (res_out)
        *res_out = res;
    if (rc == 0 && !res.complete)
        return 1;
    return rc;
}

/* Sync directly until complete (bounded). */
static void sync_until_done(sakhi_client *c, uint16_t server_port)
{
    int rc = -1;
    for (int i = 0; i < 20 && rc != 0; i++) {
        rc = sync_via(c, 0, server_port, 5000, NULL);
        if (rc)
            sk_sleep_ms(100);
    }
    if (rc)
        fail_msg("sync never completed: %d %s", rc, sakhi_errmsg(c));
    assert_int_equal(pending(c), 0);
}

/* ---- sakhi-netem ----------------------------------------------------------------------------- */

typedef struct netem {
    sk_proc p;
    uint16_t port;
    char portfile[700];
    char stats[700];
} netem;

static void netem_start(netem *n, const char *dir, int tag, uint16_t upstream,
                        const char *const *extra)
{
    char log[700];
    snprintf(n->portfile, sizeof(n->portfile), "%s/netem-%d.port", dir, tag);
    snprintf(n->stats, sizeof(n->stats), "%s/netem-%d.json", dir, tag);
    snprintf(log, sizeof(log), "%s/netem.log", dir);
    n->port =
        sk_proc_start_netem(&n->p, SAKHI_NETEM_BIN, upstream, n->portfile, n->stats, log, extra);
    assert_true(n->port > 0);
}

static void netem_stop(netem *n)
{
    sk_proc_stop(&n->p, 3000);
}

/* A number from the netem stats JSON ("key":N). */
static uint64_t netem_stat(netem *n, const char *key)
{
    char *txt = NULL, pat[64];
    if (sk_read_file(n->stats, &txt, NULL))
        return 0;
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    char *p = strstr(txt, pat);
    uint64_t v = p ? strtoull(p + strlen(pat), NULL, 10) : 0;
    free(txt);
    return v;
}

/* ---- checks ---------------------------------------------------------------------------------- */

static size_t count_lines(const char *path, size_t off, const char *needle)
{
    char *txt = NULL;
    size_t len = 0;
    if (sk_read_file(path, &txt, &len))
        return 0;
    if (off > len)
        off = len;
    size_t n = sk_text_count(txt + off, needle);
    free(txt);
    return n;
}

/* Every connection the server opened has been closed, within 30 s. */
static void no_session_left(fx *f)
{
    uint64_t end = sk_mono_ms() + 30000;
    size_t o = 0, c = 0;
    while (sk_mono_ms() < end) {
        o = count_lines(f->ts.log, f->log_off, "event=conn_open");
        c = count_lines(f->ts.log, f->log_off, "event=conn_close");
        if (o == c)
            break;
        sk_sleep_ms(100);
    }
    if (o != c)
        fail_msg("%zu sessions opened, %zu closed 30 s after the last fault", o, c);
}

static void server_exact(fx *f)
{
    sk_store *st = NULL;
    cp_log_stats ls;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(cp_store_walk(st, &ls), 0);
    sk_store_close(st);
    if (ls.records != f->captured || ls.last_seq != f->captured || ls.gaps || ls.dup_ids ||
        ls.orphans)
        fail_msg("server: records=%llu last_seq=%llu gaps=%llu dups=%llu orphans=%llu, "
                 "captured %llu",
                 (unsigned long long)ls.records, (unsigned long long)ls.last_seq,
                 (unsigned long long)ls.gaps, (unsigned long long)ls.dup_ids,
                 (unsigned long long)ls.orphans, (unsigned long long)f->captured);
}

/* ---- cut sweep --------------------------------------------------------------------------------- */

static void three(fx *f, sakhi_client *c)
{
    for (int i = 0; i < 3; i++)
        capture(c);
    f->captured += 3;
}

/* Leaves three new referrals on c and syncs them through a proxy (left running) that applies
 * flag (--cut-after, --blackhole-after) at byte at; returns what the sync returned. */
static int sync_three_faulted(fx *f, sakhi_client *c, netem *n, int tag, const char *flag,
                              uint64_t at, unsigned io_ms)
{
    char v[24];
    snprintf(v, sizeof(v), "%llu", (unsigned long long)at);
    const char *extra[] = {flag, v, NULL};
    three(f, c);
    netem_start(n, f->ts.dir, tag, f->ts.port, extra);
    return sync_via(c, n->port, f->ts.port, io_ms, NULL);
}

static void test_cut_sweep(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f);
    netem n;
    /* the session's length, measured through a fault-free netem */
    three(f, c);
    netem_start(&n, f->ts.dir, 0, f->ts.port, NULL);
    assert_int_equal(sync_via(c, n.port, f->ts.port, 5000, NULL), 0);
    netem_stop(&n);
    uint64_t len = netem_stat(&n, "bytes_up") + netem_stat(&n, "bytes_down");
    assert_true(len > 100);
    uint64_t stride = cp_env_u64("CP_STRIDE", cp_long() ? 1 : (len / 250 ? len / 250 : 1));
    uint64_t offsets = 0, cut_syncs = 0, whole = 0, last_cut = 0;
    uint64_t t0 = sk_mono_ms();
    /* past the measured length until three offsets in a row let the whole session through */
    for (uint64_t at = 1, run = 0; run < 3 && at <= 4 * len; at += stride) {
        int rc = sync_three_faulted(f, c, &n, 1, "--cut-after", at, 3000);
        netem_stop(&n);
        if (rc) {
            cut_syncs++;
            last_cut = at;
            run = 0;
        } else {
            whole++;
            run++;
        }
        sync_until_done(c, f->ts.port);
        offsets++;
    }
    server_exact(f);
    no_session_left(f);
    assert_true(whole >= 3);
    print_message("cut sweep: first session=%llu bytes, last offset that failed a sync=%llu, "
                  "stride=%llu offsets=%llu cut=%llu whole=%llu referrals=%llu elapsed_ms=%llu\n",
                  (unsigned long long)len, (unsigned long long)last_cut, (unsigned long long)stride,
                  (unsigned long long)offsets, (unsigned long long)cut_syncs,
                  (unsigned long long)whole, (unsigned long long)f->captured,
                  (unsigned long long)(sk_mono_ms() - t0));
    sakhi_close(c);
}

/* ---- one byte per write ------------------------------------------------------------------------ */

/* One byte per read and write, both ways; ctx counts the writes. */
static void frag_conn(sk_relay *r, int a, int b)
{
    while (sk_relay_step(r, a, b, 1, UINT64_MAX, r->ctx))
        ;
}

static void test_fragmentation_stalls_blackholes_slow_links(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f);
    uint64_t t0 = sk_mono_ms();

    /* one byte per write, both ways */
    sk_relay p;
    uint64_t writes = 0;
    assert_int_equal(sk_relay_start(&p, f->ts.port, 1, frag_conn, &writes), 0);
    three(f, c);
    sakhi_sync_result fr;
    assert_int_equal(sync_via(c, p.port, f->ts.port, 10000, &fr), 0);
    assert_int_equal(pending(c), 0);
    sk_relay_stop(&p);
    /* every byte of the sync went through the proxy in a write of its own */
    assert_true(fr.bytes_sent + fr.bytes_received > 500);
    assert_true(writes >= fr.bytes_sent + fr.bytes_received);

    /* stalls: 90 % of the KiBs pause 300 ms */
    netem n;
    const char *stall[] = {"--stall-rate", "0.9", "--stall-ms", "300", "--seed", "3", NULL};
    for (int i = 0; i < 4; i++)
        three(f, c); /* more than 1 KiB each way: stalls are drawn per KiB */
    netem_start(&n, f->ts.dir, 2, f->ts.port, stall);
    assert_int_equal(sync_via(c, n.port, f->ts.port, 5000, NULL), 0);
    netem_stop(&n);
    assert_true(netem_stat(&n, "stalls") > 0);

    /* blackholes at several points: the sync times out, a later one completes */
    uint64_t holes = 0;
    /* six points inside a session of three referrals (its size: the fragmented sync's) */
    uint64_t whole = fr.bytes_sent + fr.bytes_received, step = (whole - 80) / 5;
    for (uint64_t at = 40; at <= 40 + 5 * step; at += step) {
        int rc = sync_three_faulted(f, c, &n, 3, "--blackhole-after", at, 1000);
        holes += rc != 0;
        sync_until_done(c, f->ts.port);
        /* the proxy stays up with both sockets silent: the server must close its side itself */
        no_session_left(f);
        netem_stop(&n);
    }
    assert_int_equal(holes, 6);

    /* slow links */
    const char *presets[] = {"2g", "vsat"};
    for (int i = 0; i < 2; i++) {
        const char *pr[] = {"--preset", presets[i], "--seed", "5", NULL};
        three(f, c);
        netem_start(&n, f->ts.dir, 4 + i, f->ts.port, pr);
        int rc = -1;
        for (int k = 0; k < 5 && rc; k++)
            rc = sync_via(c, n.port, f->ts.port, 15000, NULL);
        assert_int_equal(rc, 0);
        netem_stop(&n);
        assert_int_equal(pending(c), 0);
    }
    server_exact(f);
    no_session_left(f);
    print_message("faults: fragmented writes=%llu blackholes that failed a sync=%llu "
                  "referrals=%llu elapsed_ms=%llu\n",
                  (unsigned long long)writes, (unsigned long long)holes,
                  (unsigned long long)f->captured, (unsigned long long)(sk_mono_ms() - t0));
    sakhi_close(c);
}

/* ---- soak ------------------------------------------------------------------------------------ */

enum { SOAK_DEVICES = 3 };

typedef struct soak_dev {
    sakhi_client *c;
    uint16_t port;
    int rc;
} soak_dev;

static void *soak_sync(void *arg)
{
    soak_dev *d = arg;
    d->rc = sync_via(d->c, d->port, 0, 1200, NULL);
    return NULL;
}

static void soak_one(uint64_t seed, int rounds, uint64_t *faults)
{
    fx f = {0};
    uint64_t faults0 = *faults, t0 = sk_mono_ms();
    uint64_t rng = seed;
    assert_int_equal(sk_ts_setup(&f.ts, "sk-cp4soak"), 0);
    assert_int_equal(sk_ts_worker(&f.ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&f.ts, k_server_flags), 0);
    soak_dev d[SOAK_DEVICES];
    for (int i = 0; i < SOAK_DEVICES; i++)
        d[i].c = device(&f);
    for (int r = 0; r < rounds; r++) {
        netem n[SOAK_DEVICES];
        pthread_t th[SOAK_DEVICES];
        for (int i = 0; i < SOAK_DEVICES; i++) {
            int k = (int)cp_range(&rng, 1, 3);
            for (int j = 0; j < k; j++)
                capture(d[i].c);
            f.captured += (uint64_t)k;
            char s[24], v[24];
            snprintf(s, sizeof(s), "%llu", (unsigned long long)cp_rand(&rng));
            const char *extra[8] = {"--seed", s, NULL};
            /* none, or one network fault: a cut or a black hole after so many bytes, or the
             * flaky preset */
            static const char *const fault_flag[] = {"--cut-after", "--blackhole-after",
                                                     "--preset"};
            uint64_t fault = cp_range(&rng, 0, 3);
            if (fault != 0) {
                if (fault == 3)
                    snprintf(v, sizeof(v), "flaky");
                else
                    snprintf(v, sizeof(v), "%llu", (unsigned long long)cp_range(&rng, 1, 3000));
                extra[2] = fault_flag[fault - 1];
                extra[3] = v;
                extra[4] = NULL;
                (*faults)++;
            }
            netem_start(&n[i], f.ts.dir, 10 + i, f.ts.port, extra);
            d[i].port = n[i].port;
            assert_int_equal(pthread_create(&th[i], NULL, soak_sync, &d[i]), 0);
        }
        uint64_t what = cp_range(&rng, 0, 3);
        sk_sleep_ms((int)cp_range(&rng, 0, 300));
        if (what == 0) { /* kill and restart */
            sk_ts_kill(&f.ts);
            f.ts.proc.pid = 0;
            char *lt = NULL;
            size_t ll = 0;
            if (sk_read_file(f.ts.log, &lt, &ll) == 0)
                f.log_off = ll; /* a killed server never logs its sessions' ends */
            free(lt);
            (*faults)++;
        } else if (what == 1) { /* pause */
            sk_proc_signal(&f.ts.proc, SIGSTOP);
            sk_sleep_ms((int)cp_range(&rng, 200, 2500));
            sk_proc_signal(&f.ts.proc, SIGCONT);
            (*faults)++;
        }
        for (int i = 0; i < SOAK_DEVICES; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < SOAK_DEVICES; i++)
            netem_stop(&n[i]);
        if (what == 0)
            assert_int_equal(sk_ts_start(&f.ts, k_server_flags), 0);
    }
    /* calm: everything reaches the server, then everything reaches every device */
    for (int i = 0; i < SOAK_DEVICES; i++)
        sync_until_done(d[i].c, f.ts.port);
    for (int i = 0; i < SOAK_DEVICES; i++)
        sync_until_done(d[i].c, f.ts.port);
    for (int i = 0; i < SOAK_DEVICES; i++) {
        size_t have = sk_fx_list(d[i].c, NULL, 0);
        if (have != f.captured)
            fail_msg("seed %llu: device %d has %zu records of %llu", (unsigned long long)seed, i,
                     have, (unsigned long long)f.captured);
        sakhi_close(d[i].c);
    }
    server_exact(&f);
    no_session_left(&f);
    assert_int_equal(sk_ts_stop(&f.ts, 20000), 0);
    sk_ts_teardown(&f.ts);
    /* one line per seed, so a long soak stopped early still says how far it got */
    print_message("soak: seed=%llu converged referrals=%llu faults=%llu elapsed_ms=%llu\n",
                  (unsigned long long)seed, (unsigned long long)f.captured,
                  (unsigned long long)(*faults - faults0), (unsigned long long)(sk_mono_ms() - t0));
}

static void test_soak(void **state)
{
    (void)state;
    uint64_t seeds = cp_env_u64("CP_SEEDS", cp_long() ? 50 : 5);
    uint64_t first = cp_env_u64("CP_SEED", 1);
    int rounds = (int)cp_env_u64("CP_ROUNDS", 6);
    uint64_t faults = 0, t0 = sk_mono_ms();
    for (uint64_t s = first; s < first + seeds; s++)
        soak_one(s, rounds, &faults);
    print_message("soak: seeds=%llu converged=%llu rounds=%d devices=%d faults=%llu "
                  "elapsed_ms=%llu\n",
                  (unsigned long long)seeds, (unsigned long long)seeds, rounds, SOAK_DEVICES,
                  (unsigned long long)faults, (unsigned long long)(sk_mono_ms() - t0));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cut_sweep, setup, sk_fx_free),
        cmocka_unit_test_setup_teardown(test_fragmentation_stalls_blackholes_slow_links, setup,
                                        sk_fx_free),
        cmocka_unit_test(test_soak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
