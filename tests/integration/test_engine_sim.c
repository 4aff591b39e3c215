/*
 * test_engine_sim.c - the sync engine (proto/sk_engine.h) against a real sakhi-server over a
 * simulated bad link, seed by seed: does a device converge, with nothing lost and nothing
 * applied twice?
 *
 * The device is the test's own, in memory (no LMDB): referrals and follow-ups captured between
 * sessions go to an outbox; the engine's callbacks take acknowledged changes out of it and keep
 * what pulls bring. Each session runs over a link that a seeded generator makes bad, in the ways
 * a TCP connection can be bad: bytes arrive in pieces of any size, late (past the read timeout
 * sometimes), or not at all from some byte on in either direction (the connection is cut, the
 * outbox is sent again in the next session: duplicates); a cut connection may also be left
 * half open and deliver the rest of what the device had sent after the next session has begun
 * (a stale connection's frames reordered behind the new session's). After the bad sessions,
 * clean ones run until the engine completes.
 *
 * Checked per seed: the outbox is empty; the server's log of changes grew by exactly the number
 * of changes made and its record count by the number of referrals (each applied once: a lost
 * change makes it fewer, one applied twice more); an independent pull of everything (the test
 * client, sk_testclient.h) finds each referral once with every follow-up, at the version the
 * device holds. The seed is printed on failure; SAKHI_SIM_SEED=n runs one seed,
 * SAKHI_SIM_SEEDS=n sets how many (default 12). Every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_engine.h"
#include "sk_err.h"
#include "sk_testclient.h"
#include "sk_testserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECS 64
#define MAX_OPS 256
#define ROUNDS 6
#define SESSION_MS 4000u /* most one session over the bad link may take */
#define IO_TIMEOUT_MS 400u
/* A clean session only has to finish: on a loaded machine (parallel builds, sanitizers, an
 * emulator) the server may not answer within the bad link's short timeouts. */
#define CLEAN_SESSION_MS 20000u
#define CLEAN_IO_TIMEOUT_MS 5000u

static unsigned g_seed;
/* what the link did, over all seeds (the test fails if a kind of fault never happened) */
static struct {
    unsigned sessions, cut_up, cut_down, stale, held, failed, changes;
} g_st;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            print_error("seed %u: %s (%s:%d)\n", g_seed, #cond, __FILE__, __LINE__);               \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* ---- randomness -------------------------------------------------------------------------------- */

static uint64_t g_rng;

static uint32_t rnd(uint32_t n) /* 0..n-1 */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return n ? (uint32_t)(g_rng % n) : 0;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the device, in memory --------------------------------------------------------------------- */

typedef struct rec {
    sk_id id;
    uint32_t followups; /* made on the device */
    uint64_t acked;     /* highest version an ack gave */
    uint64_t pulled;    /* version of the last pulled copy, 0 = none */
    uint32_t pulled_fu; /* follow-ups in it */
} rec;

typedef struct pending {
    uint64_t op;
    sk_change ch;
} pending;

typedef struct device {
    uint64_t id;
    uint8_t priv[SK_PRIVKEY_LEN];
    rec recs[MAX_RECS];
    size_t nrecs;
    pending out[MAX_OPS];
    size_t nout;
    uint64_t next_op, cursor, made;
    int rejected;
    sk_engine_item items[MAX_OPS];
} device;

static rec *find_rec(device *d, const sk_id *id)
{
    for (size_t i = 0; i < d->nrecs; i++)
        if (sk_id_cmp(&d->recs[i].id, id) == 0)
            return &d->recs[i];
    return NULL;
}

static void capture(device *d)
{
    sk_change ch;
    CHECK(d->nrecs < MAX_RECS && d->nout < MAX_OPS);
    uint64_t op = d->next_op++;
    CHECK(sk_tc_make_referral(&ch, op, (uint64_t)time(NULL) * 1000u + op, "sim") == 0);
    rec *r = &d->recs[d->nrecs++];
    memset(r, 0, sizeof(*r));
    r->id = ch.id;
    d->out[d->nout++] = (pending){op, ch};
    d->made++;
}

static void followup(device *d, rec *r)
{
    sk_change ch;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_id eid;
    CHECK(d->nout < MAX_OPS);
    uint64_t op = d->next_op++;
    uint64_t now = (uint64_t)time(NULL) * 1000u + op;
    CHECK(sk_id_new(&eid, now) == 0);
    sk_change_init(&ch);
    ch.id = r->id;
    ch.op = op;
    ch.base = r->pulled > r->acked ? r->pulled : r->acked;
    ch.hlc = SK_HLC_MAKE(now, 0);
    ch.kind = SK_CHANGE_UPSERT;
    sk_packer_init(&pk, &b);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_uint32(&pk, SK_ENTRY_BY);
    sk_pack_cstr(&pk, "sim");
    msgpack_pack_uint32(&pk, SK_ENTRY_TEXT);
    sk_pack_cstr(&pk, "visited again");
    msgpack_pack_uint32(&pk, SK_ENTRY_AT);
    msgpack_pack_uint64(&pk, now);
    CHECK(!b.oom);
    CHECK(sk_change_add_entry(&ch, &eid, SK_LIST_FOLLOWUP, b.data, (uint32_t)b.len) == 0);
    sk_buf_free(&b);
    d->out[d->nout++] = (pending){op, ch};
    r->followups++;
    d->made++;
}

static int cb_load(void *p, const sk_engine_item *items, size_t n, sk_change *outv, uint32_t *got)
{
    device *d = p;
    *got = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d->nout; j++)
            if (d->out[j].op == items[i].op) {
                if (sk_change_copy(&outv[*got], &d->out[j].ch))
                    return -1;
                (*got)++;
                break;
            }
    return 0;
}

static int cb_acks(void *p, sk_engine *e, const sk_msg *m)
{
    device *d = p;
    for (uint32_t i = 0; i < m->u.push_ack.nacks; i++) {
        const sk_ack *a = &m->u.push_ack.acks[i];
        for (size_t j = 0; j < d->nout; j++) {
            if (d->out[j].op != a->op)
                continue;
            if (a->status == SK_ACK_REJECTED && sk_err_advice((int)a->code) == SK_ADVICE_RETRY) {
                sk_engine_stop_push(e);
                break;
            }
            if (a->status == SK_ACK_REJECTED)
                d->rejected++;
            rec *r = find_rec(d, &d->out[j].ch.id);
            if (r && a->version > r->acked)
                r->acked = a->version;
            sk_change_free(&d->out[j].ch);
            d->out[j] = d->out[--d->nout];
            sk_engine_count_ack(e);
            break;
        }
    }
    return 0;
}

static int cb_records(void *p, sk_engine *e, const sk_msg *m)
{
    device *d = p;
    (void)e;
    for (uint32_t i = 0; i < m->u.changes.nrecords; i++) {
        const sk_record *sr = &m->u.changes.records[i];
        rec *r = find_rec(d, &sr->id);
        if (!r || sr->version < r->pulled)
            continue;
        r->pulled = sr->version;
        r->pulled_fu = 0;
        for (uint32_t k = 0; k < sr->nentries; k++)
            r->pulled_fu += sr->entries[k].list == SK_LIST_FOLLOWUP;
    }
    d->cursor = m->u.changes.next; /* in the same step as the records, as a store does */
    return 0;
}

/* ---- the link -------------------------------------------------------------------------------- */

typedef struct stale {
    int fd;
    uint8_t *rest; /* what the device had sent that the cut held back */
    size_t n;
} stale;

static int connect_to(uint16_t port)
{
    int fd = sk_connect_loopback(port);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the server closed it: what is left is lost, as on a real link */
        p += w;
        n -= (size_t)w;
    }
}

/* One session over a link bad in the ways the seed picks. Returns the engine's status. */
static int session(device *d, uint16_t port, int faults, stale *st)
{
    static const sk_engine_ops ops = {.load = cb_load, .acks = cb_acks, .records = cb_records};
    sk_engine e;
    sk_engine_config ec;
    /* the outbox in op order, as the library sends it */
    for (size_t i = 0; i < d->nout; i++)
        for (size_t j = i + 1; j < d->nout; j++)
            if (d->out[j].op < d->out[i].op) {
                pending t = d->out[i];
                d->out[i] = d->out[j];
                d->out[j] = t;
            }
    for (size_t i = 0; i < d->nout; i++)
        d->items[i] = (sk_engine_item){d->out[i].op, 0, 400};
    memset(&ec, 0, sizeof(ec));
    ec.mode = SK_ENGINE_SYNC;
    ec.device = d->id;
    ec.priv = d->priv;
    ec.app = "engine-sim";
    ec.early = 1;
    ec.io_timeout_ms = faults ? IO_TIMEOUT_MS : CLEAN_IO_TIMEOUT_MS;
    ec.stall_timeout_ms = faults ? 2000 : 2 * CLEAN_IO_TIMEOUT_MS;
    ec.batch_size = faults ? 1 + rnd(8) : 2; /* small batches: many requests in flight */
    ec.pull_limit = 1 + rnd(5);
    ec.cursor = d->cursor;
    ec.items = d->items;
    ec.nitems = d->nout;
    assert_int_equal(sk_engine_init(&e, &ec, &ops, d), 0);

    /* the bad link: cut after this many bytes up / down (SIZE_MAX: never), pieces, delays */
    size_t up_cut = SIZE_MAX, down_cut = SIZE_MAX, up = 0, down = 0;
    if (faults && rnd(2) == 0)
        up_cut = rnd(700);
    if (faults && rnd(2) == 0)
        down_cut = rnd(700);
    int keep_stale = faults && up_cut != SIZE_MAX && rnd(3) != 0;
    int fd = connect_to(port);
    uint64_t t0 = mono_ms();
    int st_ = sk_engine_start(&e, t0);
    int stale_sent = 0;
    uint8_t buf[4096];
    uint64_t limit = faults ? SESSION_MS : CLEAN_SESSION_MS;
    while (mono_ms() - t0 < limit) {
        /* send what the engine queued, up to the cut */
        const uint8_t *p;
        size_t n;
        sk_engine_output(&e, &p, &n);
        if (n > 0) {
            size_t allow = up_cut - up < n ? up_cut - up : n;
            send_all(fd, p, allow);
            up += allow;
            if (allow < n && keep_stale && !st->rest && st->fd < 0) {
                /* the rest is held by the link and turns up later on this connection */
                st->rest = malloc(n - allow);
                assert_non_null(st->rest);
                memcpy(st->rest, p + allow, n - allow);
                st->n = n - allow;
                st->fd = fd;
                fd = -1;
            }
            sk_engine_consume(&e, n);
            if (allow < n) {
                g_st.cut_up++;
                break; /* cut */
            }
        }
        /* a stale connection of an earlier session delivers its rest after this one began */
        if (!stale_sent && st->fd >= 0 && sk_engine_welcomed(&e)) {
            send_all(st->fd, st->rest, st->n);
            stale_sent = 1;
            g_st.stale++;
        }
        if (st_ != SK_ENGINE_RUNNING)
            break;
        uint64_t now = mono_ms();
        if ((st_ = sk_engine_tick(&e, now)) != SK_ENGINE_RUNNING)
            break;
        /* late bytes: sometimes the link holds everything for a while */
        int hold = 0;
        if (faults && rnd(25) == 0) /* past the read timeout half the time */
            hold = rnd(2) ? (int)IO_TIMEOUT_MS + 100 : (int)rnd(IO_TIMEOUT_MS / 2);
        if (hold > 0) {
            g_st.held++;
            struct pollfd none = {-1, 0, 0};
            (void)poll(&none, 1, hold); /* a link delay, not a wait for readiness */
            if ((st_ = sk_engine_tick(&e, mono_ms())) != SK_ENGINE_RUNNING)
                break;
        }
        uint64_t w = sk_engine_wait_ms(&e, mono_ms());
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(w > 200 ? 200 : w));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        size_t want = faults ? 1 + rnd(sizeof(buf)) : sizeof(buf);
        ssize_t r = recv(fd, buf, want, 0);
        if (r <= 0)
            break; /* the server closed the connection */
        size_t give = (size_t)r;
        if (down_cut - down < give)
            give = down_cut - down;
        down += give;
        for (size_t off = 0; off < give && st_ == SK_ENGINE_RUNNING;) {
            size_t used = 0;
            st_ = sk_engine_feed(&e, buf + off, give - off, &used, mono_ms());
            off += used;
            sk_engine_output(&e, &p, &n);
            if (n > 0 && up_cut - up >= n) { /* what it answered leaves now (cuts: above) */
                send_all(fd, p, n);
                up += n;
                sk_engine_consume(&e, n);
            }
        }
        if (give < (size_t)r) {
            g_st.cut_down++;
            break; /* cut */
        }
    }
    if (st_ == SK_ENGINE_DONE) {
        (void)sk_engine_bye(&e);
        const uint8_t *p;
        size_t n;
        sk_engine_output(&e, &p, &n);
        send_all(fd, p, n);
    }
    if (fd >= 0)
        close(fd);
    if (stale_sent) {
        close(st->fd);
        free(st->rest);
        st->fd = -1;
        st->rest = NULL;
    }
    int complete = sk_engine_complete(&e);
    g_st.sessions++;
    g_st.failed += st_ == SK_ENGINE_FAILED;
    sk_engine_free(&e);
    return complete;
}

/* ---- the check: an independent pull of everything ---------------------------------------------- */

typedef struct seen {
    device *d;
    size_t n;
    int dup;
} seen;

static int on_server_record(const sk_record *r, void *payload)
{
    seen *s = payload;
    device *d = s->d;
    rec *x = find_rec(d, &r->id);
    CHECK(x != NULL); /* nothing the device did not make */
    uint32_t fu = 0;
    for (uint32_t k = 0; k < r->nentries; k++)
        fu += r->entries[k].list == SK_LIST_FOLLOWUP;
    CHECK(fu == x->followups);      /* every follow-up, once */
    CHECK(r->version == x->pulled); /* the device converged on the server's version */
    CHECK(x->pulled_fu == x->followups);
    s->n++;
    return 0;
}

static void run_seed(sk_ts *ts, unsigned seed)
{
    char worker[32], code[SK_ENROLL_CODE_LEN + 1];
    device *d = calloc(1, sizeof(*d));
    sk_tc tc;
    stale st = {-1, NULL, 0};
    uint64_t recs0, seq0, recs1, seq1;
    assert_non_null(d);
    g_seed = seed;
    g_rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed * 0x100000001b3ull);
    snprintf(worker, sizeof(worker), "sim-%u", seed);
    CHECK(sk_ts_worker(ts, worker, SK_ROLE_FIELD, SK_DISTRICT_LEH) == 0);
    CHECK(sk_ts_code(ts, worker, 600000, code) == 0);
    sk_tc_init(&tc);
    CHECK(sk_tc_connect(&tc, ts->port) == 0);
    CHECK(sk_tc_enroll(&tc, code, "sim") == 0);
    d->id = tc.device;
    memcpy(d->priv, tc.priv, SK_PRIVKEY_LEN);
    sk_tc_close(&tc);
    d->next_op = 1;
    CHECK(sk_ts_stats(ts, &recs0, &seq0) == 0);

    for (int round = 0; round < ROUNDS; round++) {
        uint32_t nc = rnd(4), nf = d->nrecs ? rnd(4) : 0;
        for (uint32_t i = 0; i < nc; i++)
            capture(d);
        for (uint32_t i = 0; i < nf; i++)
            followup(d, &d->recs[rnd((uint32_t)d->nrecs)]);
        (void)session(d, ts->port, 1, &st);
    }
    /* the last captures go in a clean session of several batches: its pulls must still end
     * with what its last PUSH changed */
    capture(d);
    for (int i = 0; i < 6; i++)
        followup(d, &d->recs[rnd((uint32_t)d->nrecs)]);
    int complete = 0;
    for (int i = 0; i < 6 && !complete; i++)
        complete = session(d, ts->port, 0, &st);
    CHECK(complete);
    CHECK(st.fd < 0);
    CHECK(d->nout == 0);
    CHECK(d->rejected == 0);

    /* exactly once: one change log entry per change made, one record per referral */
    CHECK(sk_ts_stats(ts, &recs1, &seq1) == 0);
    CHECK(recs1 - recs0 == d->nrecs);
    CHECK(seq1 - seq0 == d->made);

    seen s = {d, 0, 0};
    sk_tc_init(&tc);
    tc.device = d->id;
    memcpy(tc.priv, d->priv, SK_PRIVKEY_LEN);
    CHECK(sk_tc_connect(&tc, ts->port) == 0);
    CHECK(sk_tc_auth(&tc) == 0);
    CHECK(sk_tc_pull(&tc, 0, 1000, on_server_record, &s, NULL, NULL, NULL) == 0);
    CHECK(s.n == d->nrecs);
    g_st.changes += (unsigned)d->made;
    sk_tc_free(&tc);
    for (size_t i = 0; i < d->nout; i++)
        sk_change_free(&d->out[i].ch);
    free(d);
}

/* The server lives in setup/teardown, so a failed check still stops it. */
static int setup(void **state)
{
    sk_ts *ts = calloc(1, sizeof(*ts));
    assert_non_null(ts);
    assert_int_equal(sk_ts_setup(ts, "sk-sim"), 0);
    assert_int_equal(sk_ts_start(ts, (const char *const[]){"--max-inflight", "4", NULL}), 0);
    *state = ts;
    return 0;
}

static int teardown(void **state)
{
    sk_ts *ts = *state;
    sk_ts_teardown(ts);
    free(ts);
    return 0;
}

static void test_converges_over_a_bad_link(void **state)
{
    sk_ts *ts = *state;
    const char *one = getenv("SAKHI_SIM_SEED");
    const char *count = getenv("SAKHI_SIM_SEEDS");
    unsigned first = one ? (unsigned)strtoul(one, NULL, 10) : 1;
    unsigned n = one ? 1 : count ? (unsigned)strtoul(count, NULL, 10) : 12;
    uint64_t t0 = mono_ms();
    for (unsigned s = first; s < first + n; s++)
        run_seed(ts, s);
    print_message("engine simulation: %u seeds in %llu ms: %u changes, %u sessions (%u failed), "
                  "%u cut upstream, %u cut downstream, %u stale deliveries, %u delays\n",
                  n, (unsigned long long)(mono_ms() - t0), g_st.changes, g_st.sessions, g_st.failed,
                  g_st.cut_up, g_st.cut_down, g_st.stale, g_st.held);
    if (!one) { /* the faults did happen */
        assert_true(g_st.cut_up > 0 && g_st.cut_down > 0 && g_st.stale > 0 && g_st.held > 0);
        assert_true(g_st.failed > 0);
    }
    assert_int_equal(sk_ts_stop(ts, 10000), 0);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_converges_over_a_bad_link),
};

SK_TEST_MAIN_EACH(tests, setup, teardown)
