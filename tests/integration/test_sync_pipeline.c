/*
 * test_sync_pipeline.c - round trips of a sync and what early requests may do (PROTOCOL.md
 * section 4.1 "Early requests", section 6), and WELCOME.seq (section 3.4).
 *
 * - libsakhi syncs 10 pending referrals in 2 round trips after the TLS handshake (counted by a
 *   relay on 127.0.0.1 as the number of times the server starts talking after the client did),
 *   plaintext and TLS, and a sync with nothing pending takes 2 as well;
 * - early requests over the limits WELCOME announces (a server with --max-inflight 1 and
 *   --max-batch 2) are refused one by one and sent again in order: nothing is rejected, lost or
 *   applied twice, and a follow-up never overtakes the referral it belongs to;
 * - the server answers AUTH before any early request, serves a PULL only after the PUSHes sent
 *   before it (read-your-writes), and never processes a PUSH that follows a failed AUTH;
 * - a device with an EMPTY outbox whose cursor is above the server's WELCOME.seq (the server was
 *   restored from an older backup) pulls again from 0 and reports it, so it does not miss the
 *   changes the restored server numbers below its old cursor.
 *
 * Real sakhi-server processes, the public libsakhi API, and the protocol test client.
 */
#include "sk_testfixture.h"

#include <sakhi/sakhi.h>

#include "sk_buf.h"
#include "sk_relay.h"
#include "sk_testmain.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a relay that counts round trips ------------------------------------------------------ */

typedef struct relay {
    sk_relay r;
    atomic_int server_flights; /* times the server started sending after the client had */
} relay;

/* Copy one connection both ways until either side closes; count the server's flights. */
static void relay_conn(sk_relay *sr, int cfd, int ufd)
{
    relay *r = sr->ctx;
    int last = 0; /* 1: client spoke last, 2: server spoke last */
    char buf[65536];
    for (int idle = 0; !sk_relay_stopping(sr) && idle < 600;) {
        struct pollfd p[2] = {{cfd, POLLIN, 0}, {ufd, POLLIN, 0}};
        int n = poll(p, 2, 50);
        if (n <= 0) {
            idle++;
            continue;
        }
        idle = 0;
        int done = 0;
        for (int i = 0; i < 2 && !done; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(p[i].fd, buf, sizeof(buf));
            if (got <= 0) {
                done = 1;
                break;
            }
            int dir = i == 0 ? 1 : 2;
            /* A TLS 1.3 client in middlebox-compatibility mode may send its dummy
             * ChangeCipherSpec record as soon as it reads the ServerHello, in the middle of the
             * server's first flight: that record alone is not a request. */
            static const uint8_t ccs[6] = {0x14, 0x03, 0x03, 0x00, 0x01, 0x01};
            int ccs_only = dir == 1 && got == 6 && memcmp(buf, ccs, 6) == 0;
            if (dir == 2 && last != 2)
                atomic_fetch_add(&r->server_flights, 1);
            if (!ccs_only)
                last = dir;
            if (getenv("PIPE_TRACE"))
                fprintf(stderr, "relay: %s %zd bytes\n", dir == 1 ? "c->s" : "s->c", got);
            if (sk_relay_write_all(i == 0 ? ufd : cfd, buf, (size_t)got) != 0)
                done = 1;
        }
        if (done)
            break;
    }
}

static void relay_start(relay *r, uint16_t upstream)
{
    atomic_init(&r->server_flights, 0);
    assert_int_equal(sk_relay_start(&r->r, upstream, 0, relay_conn, r), 0);
}

/* ---- fixture ------------------------------------------------------------------------------ */

typedef struct fx {
    sk_ts ts;
    int ndev;
    int tls;
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
} fx;

static int setup_common(void **state, int tls)
{
    fx *f = sk_fx_new(sizeof(fx), "sk-pipe", "fw1");
    f->tls = tls;
    if (tls) {
        uint8_t pin[SK_TLS_PIN_LEN];
        assert_int_equal(sk_ts_tls(&f->ts, pin), 0);
        sk_tls_pin_format(f->pin_hex, pin);
    }
    *state = f;
    return 0;
}

static int setup_plain(void **state)
{
    return setup_common(state, 0);
}

static int setup_tls(void **state)
{
    return setup_common(state, 1);
}

/* Counts the library's early_refused events (an early request over the server's limits). */
static atomic_int early_refused;

static void log_cb(int level, const char *msg, void *payload)
{
    (void)level;
    (void)payload;
    if (strstr(msg, "event=early_refused"))
        atomic_fetch_add(&early_refused, 1);
}

static sakhi_client *device(fx *f, const char *worker)
{
    sakhi_options o = sk_td_options();
    sakhi_client *c = NULL;
    o.log_fn = log_cb;
    o.log_level = SAKHI_LOG_INFO;
    int rc = sk_td_device(&c, &f->ts, f->ndev++, &o, worker, "pipeline-test",
                          f->tls ? f->pin_hex : NULL);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
    return c;
}

static void capture(sakhi_client *c, char id[SAKHI_ID_STRLEN])
{
    sk_fx_capture(id, c, "withheld", SAKHI_URGENCY_ROUTINE);
}

/* The relay's count when the sync has everything it asked for (before BYE and TLS's
 * close_notify, which the server may answer after the sync returned). */
typedef struct done_count {
    relay *r;
    int flights;
} done_count;

static int at_done(const sakhi_progress *p, void *payload)
{
    done_count *d = payload;
    if (p->phase == SAKHI_PHASE_DONE && d->r)
        d->flights = atomic_load(&d->r->server_flights);
    return 0;
}

static int sync_port_count(sakhi_client *c, uint16_t port, sakhi_sync_result *res, done_count *dc)
{
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.host = "127.0.0.1";
    so.port = port;
    if (dc) {
        so.progress = at_done;
        so.progress_payload = dc;
    }
    *res = (sakhi_sync_result)SAKHI_SYNC_RESULT_INIT;
    int rc = sakhi_sync(res, c, &so);
    if (rc)
        fail_msg("sync: %d %s", rc, sakhi_errmsg(c));
    return rc;
}

static int sync_port(sakhi_client *c, uint16_t port, sakhi_sync_result *res)
{
    return sync_port_count(c, port, res, NULL);
}

/* ---- round trips -------------------------------------------------------------------------- */

/* 10 pending referrals, synced through the relay: the server's flights are the round trips. */
static void round_trips(fx *f, int handshake_flights)
{
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sakhi_client *c = device(f, "fw1");
    char ids[10][SAKHI_ID_STRLEN];
    for (int i = 0; i < 10; i++)
        capture(c, ids[i]);
    relay r;
    relay_start(&r, f->ts.port);
    sakhi_sync_result res;
    done_count d1 = {&r, -1};
    sync_port_count(c, r.r.port, &res, &d1);
    assert_int_equal(res.pushed, 10);
    sk_relay_stop(&r.r);
    int first = d1.flights;
    relay_start(&r, f->ts.port);
    done_count d2 = {&r, -1};
    sync_port_count(c, r.r.port, &res, &d2); /* nothing pending: HELLO, then AUTH with a PULL */
    int second = d2.flights;
    sk_relay_stop(&r.r);
    printf("FIGURE round_trips tls=%d first_sync=%d empty_sync=%d (handshake %d)\n", f->tls, first,
           second, handshake_flights);
    assert_int_equal(atomic_load(&r.r.conns), 1);
    assert_int_equal(first, handshake_flights + 2);
    assert_int_equal(second, handshake_flights + 2);
    assert_int_equal(sk_td_pending(c), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(sk_td_state(c, ids[i]), SAKHI_SYNC_RECEIVED);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 10);
    assert_int_equal(seq, 10);
    sakhi_close(c);
}

static void test_two_round_trips_plaintext(void **state)
{
    round_trips(*state, 0);
}

/* TLS 1.3: one round trip for the handshake (no tickets, so nothing follows the client's
 * Finished), then the same two. */
static void test_two_round_trips_tls(void **state)
{
    round_trips(*state, 1);
}

/* ---- early requests over the server's limits ---------------------------------------------- */

/* One device, 3 referrals and a follow-up of the first, against a server started with args:
 * everything applied once, in order (a follow-up that overtook its referral would be
 * rejected), after `refusals` early requests were refused and sent again. */
static void early_over_limits(fx *f, const char *const *args, int refusals)
{
    assert_int_equal(sk_ts_start(&f->ts, args), 0);
    sakhi_client *c = device(f, "fw1");
    char ids[3][SAKHI_ID_STRLEN];
    for (int i = 0; i < 3; i++)
        capture(c, ids[i]);
    assert_int_equal(sakhi_followup_add(c, ids[0], "visited again"), 0);
    assert_int_equal(sk_td_pending(c), 4);
    sakhi_sync_result res;
    atomic_store(&early_refused, 0);
    sync_port(c, f->ts.port, &res);
    assert_int_equal(atomic_load(&early_refused), refusals);
    assert_int_equal(res.pushed, 4);
    assert_int_equal(res.applied, 4);
    assert_int_equal(res.rejected, 0);
    assert_true(res.complete);
    assert_int_equal(sk_td_pending(c), 0);
    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, ids[0]), 0);
    assert_int_equal(sakhi_record_followup_count(rec), 1);
    sakhi_record_free(rec);
    for (int i = 0; i < 3; i++)
        assert_int_equal(sk_td_state(c, ids[i]), SAKHI_SYNC_RECEIVED);
    sakhi_close(c);
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
}

static void test_early_requests_over_limits(void **state)
{
    fx *f = *state;
    /* the early PUSH of 4 changes is over --max-batch 2: refused, sent again as 2 + 2 */
    early_over_limits(f, (const char *const[]){"--max-batch", "2", NULL}, 1);
    /* the early PULL is a second request over --max-inflight 1: refused, sent again */
    early_over_limits(f, (const char *const[]){"--max-inflight", "1", NULL}, 1);
    /* both at once */
    early_over_limits(f, (const char *const[]){"--max-inflight", "1", "--max-batch", "3", NULL}, 1);
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 9);
    assert_int_equal(seq, 12);
}

/* ---- the server's side of early requests, on the wire ------------------------------------- */

static void hello(sk_tc *tc, uint16_t port, sk_msg *challenge)
{
    assert_int_equal(sk_tc_connect(tc, port), 0);
    assert_int_equal(sk_tc_send_hello(tc, sk_tc_rid(tc), tc->device, NULL), 0);
    assert_int_equal(sk_tc_recv(tc, challenge, -1), 0);
    assert_int_equal(challenge->type, SK_MSG_CHALLENGE);
}

/* Makes *ch a new referral (note: its note), connects tc to port and says HELLO, then sends
 * AUTH (good or forged), a PUSH of *ch and a PULL in one write. */
static void send_auth_push_pull(sk_tc *tc, uint16_t port, int forge, const char *note,
                                sk_change *ch, uint32_t rids[3])
{
    assert_int_equal(sk_tc_make_referral(ch, 1, sk_ts_now_ms(), note), 0);
    sk_msg challenge;
    hello(tc, port, &challenge);
    sk_buf b = SK_BUF_INIT;
    sk_msg m;
    rids[0] = sk_tc_rid(tc);
    sk_msg_init(&m, SK_MSG_AUTH, rids[0]);
    assert_int_equal(sk_auth_sign(m.u.auth.sig, tc->priv, challenge.u.challenge.nonce, tc->device,
                                  challenge.u.challenge.server_ms),
                     0);
    sk_msg_free(&challenge);
    if (forge)
        m.u.auth.sig[5] ^= 0x40;
    assert_int_equal(sk_msg_encode(&b, &m), 0);
    rids[1] = sk_tc_rid(tc);
    sk_msg_init(&m, SK_MSG_PUSH, rids[1]);
    m.u.push.changes = ch;
    m.u.push.nchanges = 1;
    assert_int_equal(sk_msg_encode(&b, &m), 0);
    rids[2] = sk_tc_rid(tc);
    sk_msg_init(&m, SK_MSG_PULL, rids[2]);
    m.u.pull.cursor = 0;
    m.u.pull.limit = 100;
    assert_int_equal(sk_msg_encode(&b, &m), 0);
    assert_int_equal(sk_tc_send_raw(tc, b.data, b.len), 0);
    sk_buf_free(&b);
}

static void test_server_orders_early_requests(void **state)
{
    fx *f = *state;
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    char code[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, code), 0);
    sk_tc tc;
    sk_tc_init(&tc);
    assert_int_equal(sk_tc_connect(&tc, f->ts.port), 0);
    assert_int_equal(sk_tc_enroll(&tc, code, "raw"), 0);
    sk_tc_close(&tc);

    /* 1. a forged AUTH with a PUSH behind it: AUTH_FAILED, closed, the PUSH never applied */
    sk_change bad;
    sk_msg m;
    uint32_t rids[3];
    send_auth_push_pull(&tc, f->ts.port, 1, "behind-forged-auth", &bad, rids);
    assert_int_equal(sk_tc_recv(&tc, &m, -1), 0);
    assert_int_equal(m.type, SK_MSG_ERROR);
    assert_int_equal(m.rid, rids[0]);
    assert_int_equal(m.u.error.code, SK_E_AUTH_FAILED);
    sk_msg_free(&m);
    assert_int_equal(sk_tc_wait_close(&tc, 5000), 0); /* nothing else was answered */
    uint64_t nrec, seq;
    assert_int_equal(sk_ts_stats(&f->ts, &nrec, &seq), 0);
    assert_int_equal(nrec, 0);
    assert_int_equal(seq, 0);

    /* 2. a good AUTH with a PUSH and a PULL behind it: WELCOME first (seq 0), then the ack,
     * then CHANGES that already hold the pushed record (read-your-writes) */
    sk_change good;
    send_auth_push_pull(&tc, f->ts.port, 0, "behind-good-auth", &good, rids);
    assert_int_equal(sk_tc_recv(&tc, &m, -1), 0);
    assert_int_equal(m.type, SK_MSG_WELCOME);
    assert_int_equal(m.rid, rids[0]);
    assert_true(m.u.welcome.has_seq);
    assert_int_equal(m.u.welcome.seq, 0);
    sk_msg_free(&m);
    assert_int_equal(sk_tc_recv(&tc, &m, -1), 0);
    assert_int_equal(m.type, SK_MSG_PUSH_ACK);
    assert_int_equal(m.rid, rids[1]);
    assert_int_equal(m.u.push_ack.nacks, 1);
    assert_int_equal(m.u.push_ack.acks[0].status, SK_ACK_APPLIED);
    assert_int_equal(m.u.push_ack.acks[0].version, 1);
    sk_msg_free(&m);
    assert_int_equal(sk_tc_recv(&tc, &m, -1), 0);
    assert_int_equal(m.type, SK_MSG_CHANGES);
    assert_int_equal(m.rid, rids[2]);
    assert_int_equal(m.u.changes.nrecords, 1);
    assert_int_equal(sk_id_cmp(&m.u.changes.records[0].id, &good.id), 0);
    assert_int_equal(m.u.changes.records[0].version, 1);
    sk_msg_free(&m);
    sk_tc_close(&tc);

    /* the forged session's record is nowhere; the next WELCOME says seq 1 */
    assert_int_equal(sk_tc_connect(&tc, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&tc), 0);
    sk_tc_ids got = {0};
    assert_int_equal(sk_tc_pull(&tc, 0, 100, sk_tc_ids_add, &got, NULL, NULL, NULL), 0);
    assert_int_equal(sk_tc_ids_has(&got, &bad.id), 0);
    assert_int_equal(sk_tc_ids_has(&got, &good.id), 1);
    free(got.ids);
    sk_tc_free(&tc);
    sk_change_free(&bad);
    sk_change_free(&good);
}

/* ---- WELCOME.seq and epoch: a restored server found with an empty outbox ------------------ */

/* A new store epoch, as sakhi-admin restore begins one (a copy over the live files may reuse
 * their inode numbers, which the server's own copy check cannot see). */
static void begin_epoch(const char *data)
{
    sk_store *st;
    assert_int_equal(sk_store_open(&st, data, 0), 0);
    assert_int_equal(sk_store_epoch_begin(st, sk_ts_now_ms(), "restore", NULL), 0);
    sk_store_close(st);
}

static void test_restore_found_with_empty_outbox(void **state)
{
    fx *f = *state;
    char backup[700];
    snprintf(backup, sizeof(backup), "%s/backup", f->ts.dir);
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sakhi_client *a = device(f, "fw1");
    char ids[6][SAKHI_ID_STRLEN];
    sakhi_sync_result res;
    for (int i = 0; i < 2; i++)
        capture(a, ids[i]);
    sync_port(a, f->ts.port, &res);

    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0); /* the backup, at seq 2 */
    assert_int_equal(sk_copy_tree(f->ts.data, backup), 0);
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    for (int i = 2; i < 6; i++)
        capture(a, ids[i]);
    sync_port(a, f->ts.port, &res);
    assert_int_equal(res.server_behind, 0);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, a), 0);
    assert_int_equal(st.cursor, 6);
    assert_int_equal(sk_td_pending(a), 0); /* nothing to push: only WELCOME can tell */

    /* restored from the backup (seq 2); another device then writes seq 3 */
    assert_int_equal(sk_ts_stop(&f->ts, 10000), 0);
    assert_int_equal(sk_copy_tree(backup, f->ts.data), 0);
    begin_epoch(f->ts.data); /* as sakhi-admin restore does */
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sakhi_client *b = device(f, "fw1");
    char bid[SAKHI_ID_STRLEN];
    capture(b, bid);
    sync_port(b, f->ts.port, &res);

    /* device A: a pull from 6 would never see seq 3; WELCOME says 3 < 6 (and, the directory
     * being a copy, a new epoch kept up to change 2), so it pulls from 0 and gives back from
     * its sent journal the 4 acknowledged changes the restore lost; the 2 the backup held stay
     * put (PROTOCOL.md section 5.6) */
    sync_port(a, f->ts.port, &res);
    assert_int_equal(res.server_behind, 1);
    assert_int_equal(res.server_seq, 3);
    assert_int_equal(res.pushed, 4);
    assert_int_equal(res.rejected, 0);
    assert_int_equal(sk_td_state(a, bid), SAKHI_SYNC_RECEIVED);
    assert_int_equal(sakhi_status_get(&st, a), 0);
    assert_int_equal(st.cursor, 7);
    for (int i = 0; i < 6; i++)
        assert_int_equal(sk_td_state(a, ids[i]), SAKHI_SYNC_RECEIVED);
    uint64_t records = 0, seq = 0;
    assert_int_equal(sk_ts_stats(&f->ts, &records, &seq), 0);
    assert_int_equal(records, 7);
    assert_int_equal(seq, 7);
    /* and the next sync is an ordinary one */
    sync_port(a, f->ts.port, &res);
    assert_int_equal(res.server_behind, 0);
    assert_int_equal(res.pushed, 0);
    sakhi_close(a);
    sakhi_close(b);
}

/* ---- a referral acknowledged, its pull cut: still the worker's own ------------------------ */

static void test_followup_after_ack_without_pull(void **state)
{
    fx *f = *state;
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sakhi_client *c = device(f, "fw1");
    char id[SAKHI_ID_STRLEN];
    capture(c, id);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.host = "127.0.0.1";
    so.port = f->ts.port;
    so.progress = sk_fx_stop_at_first_ack;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&res, c, &so), SAKHI_ECANCELED);
    assert_int_equal(res.pushed, 1);
    assert_int_equal(res.pulled, 0);
    /* the device knows the server's copy only from the ack: the server made it hers */
    int rc = sakhi_followup_add(c, id, "second visit");
    if (rc)
        fail_msg("follow-up on her own acknowledged referral: %d %s", rc, sakhi_errmsg(c));
    sync_port(c, f->ts.port, &res);
    assert_int_equal(res.applied, 1);
    assert_int_equal(res.rejected, 0);
    assert_int_equal(sk_td_state(c, id), SAKHI_SYNC_RECEIVED);
    sakhi_close(c);
}

SK_TEST_MAIN_SETS(SK_TESTS(setup_plain, sk_fx_free, test_two_round_trips_plaintext),
                  SK_TESTS(setup_tls, sk_fx_free, test_two_round_trips_tls),
                  SK_TESTS(setup_plain, sk_fx_free, test_early_requests_over_limits,
                           test_server_orders_early_requests, test_restore_found_with_empty_outbox,
                           test_followup_after_ack_without_pull))
