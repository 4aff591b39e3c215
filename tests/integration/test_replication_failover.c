/*
 * test_replication_failover.c - a warm standby and its promotion, with real processes over TLS
 * (docs/REPLICATION.md):
 *  - follows: a standby enrolled from `sakhi-admin enroll-code --replica`'s URI seeds from the
 *    primary (records pushed before it started) and follows the change stream (pushes after,
 *    an erasure by the administrator): once caught up it holds exactly what the primary holds,
 *    item by item, its audit chain verifies and ends at the primary's head; a device that
 *    reaches the standby gets ERROR NOT_PRIMARY; `stats` shows the lag on both sides; its data
 *    directory refuses to start without --standby-of.
 *  - start refusals: --standby-of HOST:PORT before any URI gave the pin, and a data directory
 *    that holds records, are refused (exit 2, the reason said) and leave the store as it was.
 *  - promote refuses when the standby knows the primary had written entries it has not applied,
 *    then promotes: a new epoch, the old one as its predecessor; the promoted server serves the
 *    device (same key pin) with every record once; a demoted old primary refuses devices.
 *  - synchronous mode under load, the primary killed with SIGKILL at a random moment (3 seeds;
 *    CP_ROUNDS and CP_SEED set them, SAKHI_CAMPAIGN_LONG=1 runs 100 and nothing else): after
 *    promotion every referral the primary acknowledged is on the standby, and once the device
 *    has sent everything again (same ops) each referral is there exactly once.
 *  - synchronous mode with a partition (sakhi-netem between primary and standby, killed): the
 *    primary cannot acknowledge a push without the standby (ERROR NOT_REPLICATED), the standby
 *    is promoted, the device gives the unacknowledged referral to it and it is there exactly
 *    once; the old primary, still running and cut off, acknowledges nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_admin_run.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_testclient.h"
#include "sk_testrepl.h"
#include "sk_testserver.h"
#include "sk_testdevice.h"
#include "sk_teststore.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 30000

/* A number after "key": in JSON text (the first occurrence at or after from). */
static uint64_t json_u64(const char *text, const char *key, const char *from)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(from ? strstr(text, from) : text, pat);
    assert_non_null(p);
    return strtoull(p + strlen(pat), NULL, 10);
}

static void push_n(sk_tc *c, uint64_t first_op, int n, sk_id *ids)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(sk_td_push_referral(c, first_op + (uint64_t)i, "rp", ids ? ids + i : NULL),
                         SK_ACK_APPLIED);
}

typedef struct items {
    sk_buf b;
} items;

static int collect(void *payload, uint64_t seq, uint32_t idx, const sk_repl_op *op)
{
    items *it = payload;
    uint8_t h[2] = {(uint8_t)op->kind, (uint8_t)op->db};
    uint8_t l[8];
    (void)seq;
    (void)idx;
    sk_be64_put(l, ((uint64_t)op->klen << 32) | op->vlen);
    if (sk_buf_append(&it->b, h, 2) || sk_buf_append(&it->b, l, 8) ||
        sk_buf_append(&it->b, op->key, op->klen) ||
        (op->vlen && sk_buf_append(&it->b, op->val, op->vlen)))
        return -SK_E_NOMEM;
    return 0;
}

/* Every replicated item of a stopped server's store, and its audit head. */
static void dump(const char *data, sk_buf *out, uint64_t *aseq, uint8_t ahash[32], int verify)
{
    sk_store *st;
    MDB_txn *txn;
    items it = {SK_BUF_INIT};
    assert_int_equal(sk_store_open(&st, data, 0), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_store_repl_snap_txn(st, txn, SK_REPL_DB_META, NULL, 0, collect, &it), 0);
    mdb_txn_abort(txn);
    assert_int_equal(sk_store_audit_head(st, aseq, ahash), 0);
    if (verify) {
        uint64_t n = 0, bad = 0;
        assert_int_equal(sk_store_audit_verify(st, &n, &bad), 0);
        assert_true(n > 0);
    }
    sk_store_close(st);
    *out = it.b;
}

static void set_local_u64(const char *data, const char *name, uint64_t v)
{
    sk_store *st;
    MDB_txn *txn;
    uint8_t b[8];
    sk_be64_put(b, v);
    assert_int_equal(sk_store_open(&st, data, 0), 0);
    assert_int_equal(sk_store_write_begin(st, &txn), 0);
    assert_int_equal(sk_store_local_put_txn(st, txn, name, b, 8), 0);
    assert_int_equal(sk_store_write_commit(st, txn), 0);
    sk_store_close(st);
}

typedef struct tally {
    uint32_t live, erased;
} tally;

static int count_rec(const sk_record *r, void *payload)
{
    tally *t = payload;
    if (r->flags & SK_REC_ERASED)
        t->erased++;
    else
        t->live++;
    return 0;
}

static void pull_all(sk_tc *c, tally *t)
{
    uint64_t next = 0;
    int more = 1;
    memset(t, 0, sizeof(*t));
    for (int i = 0; more && i < 100; i++)
        assert_int_equal(sk_tc_pull(c, next, 100, count_rec, t, &next, &more, NULL), 0);
    assert_int_equal(more, 0);
}

/* A start of s that must be refused: the server exits with code and says why in its output. */
static void start_refused(sk_ts *s, const char *const *args, int code, const char *why)
{
    char out[700];
    assert_int_not_equal(sk_ts_start(s, args), 0);
    assert_int_equal(sk_proc_wait(&s->proc, 10000), 0);
    assert_int_equal(sk_proc_exit_code(&s->proc), code);
    snprintf(out, sizeof(out), "%s/server.out", s->dir);
    if (!sk_file_contains(out, why))
        fail_msg("the refused start does not say '%s'", why);
}

static void test_replication_standby_follows_and_promotes(void **state)
{
    (void)state;
    sk_ts p, s;
    sk_tc dev;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
    sk_id ids[7];
    char *out = NULL;
    /* the standby serves with the centre's certificate: devices' one pin fits both */
    assert_int_equal(sk_trepl_pair(&p, &s, "sk-replp", "sk-repls", pin, pin_hex), 0);
    assert_int_equal(sk_ts_start(&p, NULL), 0);
    assert_int_equal(sk_trepl_device(&dev, &p, pin, 0), 0);
    push_n(&dev, 1, 3, ids); /* before the standby exists: it gets these from its seed */

    assert_int_equal(sk_trepl_start_standby(&s, &p, pin_hex, p.port), 0);
    push_n(&dev, 4, 4, ids + 3); /* these from the log */
    char idt[40];
    sk_id_to_str(&ids[1], idt);
    const char *erase[] = {"erase", idt, "--reason", "entered_in_error", NULL};
    assert_int_equal(sk_admin_ts(&p, NULL, erase, NULL), 0);
    assert_int_equal(sk_trepl_wait_caught_up(&p, &s, WAIT_MS), 0);
    assert_true(sk_file_contains(s.log, "event=repl_seeded"));

    /* a device that reaches the standby is sent on */
    assert_int_equal(sk_trepl_hello_answer(s.port, pin), SK_E_NOT_PRIMARY);
    const char *stats_args[] = {"stats", NULL};
    assert_int_equal(sk_admin_ts(&s, NULL, stats_args, &out), 0);
    assert_non_null(strstr(out, "role=standby"));
    assert_non_null(strstr(out, "behind=0 entries"));
    free(out);

    /* the same data, item by item, and the same audit chain */
    sk_tc_close(&dev);
    assert_int_equal(sk_ts_stop(&s, 10000), 0);
    assert_int_equal(sk_ts_stop(&p, 10000), 0);
    sk_buf dp, ds;
    uint64_t ap, as;
    uint8_t hp[32], hs[32];
    dump(p.data, &dp, &ap, hp, 1);
    dump(s.data, &ds, &as, hs, 1);
    assert_true(dp.len > 1000);
    assert_int_equal(dp.len, ds.len);
    assert_memory_equal(dp.data, ds.data, dp.len);
    assert_int_equal(ap, as);
    assert_memory_equal(hp, hs, 32);
    sk_buf_free(&dp);
    sk_buf_free(&ds);
    /* a standby's data directory does not start as a primary by mistake */
    start_refused(&s, NULL, 2, "this data directory is a standby: start it with --standby-of");

    /* promotion refuses when the standby knows of entries it has not applied */
    uint64_t head = 0;
    {
        const char *args[] = {"--json", "stats", NULL};
        assert_int_equal(sk_admin_ts(&s, NULL, args, &out), 0);
        head = json_u64(out, "primary_head", "\"replication\"");
        free(out);
    }
    set_local_u64(s.data, "primary_head", head + 3);
    const char *promote[] = {"promote", NULL};
    assert_int_equal(sk_admin_ts(&s, NULL, promote, &out), 1);
    assert_non_null(strstr(out, "3 entries this standby has not applied"));
    free(out);
    set_local_u64(s.data, "primary_head", head);
    const char *jpromote[] = {"--json", "promote", NULL};
    assert_int_equal(sk_admin_ts(&s, NULL, jpromote, &out), 0);
    assert_non_null(strstr(out, "\"promoted\":true"));
    free(out);
    /* a promoted store starts as a primary; the device follows it with the same pin */
    assert_int_equal(sk_ts_start(&s, NULL), 0);
    assert_int_equal(sk_tc_connect(&dev, s.port), 0);
    uint64_t old_epoch = dev.epoch;
    assert_int_equal(sk_tc_auth(&dev), 0);
    assert_int_not_equal(dev.epoch, 0);
    assert_int_not_equal(dev.epoch, old_epoch);
    tally t;
    pull_all(&dev, &t);
    assert_int_equal(t.live, 6);
    assert_int_equal(t.erased, 1);
    sk_tc_close(&dev);
    /* the old primary, demoted, sends devices on */
    const char *demote[] = {"demote", NULL};
    assert_int_equal(sk_admin_ts(&p, NULL, demote, NULL), 0);
    assert_int_equal(sk_ts_start(&p, NULL), 0);
    assert_int_equal(sk_trepl_hello_answer(p.port, pin), SK_E_NOT_PRIMARY);
    sk_tc_free(&dev);
    sk_ts_teardown(&s);
    sk_ts_teardown(&p);
}

/* A standby takes everything from the primary, so it starts only from an empty data directory,
 * and only once it knows the primary's pin; a store that holds records is left as it was. */
static void test_replication_standby_start_refusals(void **state)
{
    (void)state;
    sk_ts p, s;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1], uri[512];
    assert_int_equal(sk_trepl_pair(&p, &s, "sk-replp", "sk-repls", pin, pin_hex), 0);

    /* HOST:PORT alone: no pin was kept, because no enrollment URI was ever given */
    const char *bare[] = {"--standby-of", "127.0.0.1:9", NULL};
    start_refused(&s, bare, 2, "no pin of the primary's key yet");

    /* a data directory that holds a referral does not become a standby */
    sk_store *st;
    sk_id id;
    uint64_t seq = 0, recs = 0, last = 0;
    assert_int_equal(sk_ts_store(&s, &st), 0);
    assert_int_equal(sk_id_new(&id, 1700000000000ULL), 0);
    (void)sk_tst_village(st, &id, &seq, 0, 1000ULL << 16, "Diskit", SK_CHANGE_UPSERT, 1);
    sk_store_close(st);
    assert_int_equal(sk_trepl_replica_uri(&p, pin_hex, 9, uri, sizeof(uri)), 0);
    const char *with_uri[] = {"--standby-of", uri, NULL};
    start_refused(&s, with_uri, 2, "with 1 records: a standby starts from an empty data directory");
    assert_int_equal(sk_ts_stats(&s, &recs, &last), 0);
    assert_int_equal(recs, 1);
    assert_int_equal(last, 1);
    /* and it is still a primary: it starts as one */
    assert_int_equal(sk_ts_start(&s, NULL), 0);
    assert_int_equal(sk_ts_stop(&s, 10000), 0);
    sk_ts_teardown(&s);
    sk_ts_teardown(&p);
}

typedef struct killer {
    pid_t pid;
    int delay_ms;
} killer;

static void *kill_later(void *arg)
{
    killer *k = arg;
    sk_sleep_ms(k->delay_ms); /* the random moment of the crash */
    kill(k->pid, SIGKILL);
    return NULL;
}

#define LOAD_MAX 4000
#define LOAD_BATCH 4

typedef struct kill_totals {
    uint64_t pushed, acked, forced;
} kill_totals;

static void kill_round(unsigned seed, kill_totals *tot)
{
    sk_ts p, s;
    sk_tc dev;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
    char *out = NULL;
    sk_change *chs = calloc(LOAD_MAX, sizeof(*chs));
    uint8_t *acked = calloc(LOAD_MAX, 1);
    sk_tc_ids ids = {0};
    assert_non_null(chs);
    assert_non_null(acked);
    assert_int_equal(sk_trepl_pair(&p, &s, "sk-killp", "sk-kills", pin, pin_hex), 0);
    const char *pargs[] = {"--repl-sync", "refuse", "--repl-sync-timeout", "5", NULL};
    assert_int_equal(sk_ts_start(&p, pargs), 0);
    assert_int_equal(sk_trepl_start_standby(&s, &p, pin_hex, p.port), 0);
    assert_int_equal(sk_trepl_device(&dev, &p, pin, 8000), 0);
    push_n(&dev, 1, 1, NULL); /* the standby is following (sync: this waited for it) */

    /* load until the primary dies at a random moment */
    srand(seed);
    killer k = {p.proc.pid, 150 + rand() % 600};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, kill_later, &k), 0);
    uint32_t n = 0;
    uint64_t end = sk_mono_ms() + WAIT_MS;
    while (n + LOAD_BATCH <= LOAD_MAX && sk_mono_ms() < end) {
        sk_ack acks[LOAD_BATCH];
        for (uint32_t i = 0; i < LOAD_BATCH; i++)
            assert_int_equal(sk_tc_make_referral(&chs[n + i], 2 + n + i, sk_ts_now_ms(), "kl"), 0);
        int rc = sk_tc_push(&dev, chs + n, LOAD_BATCH, acks);
        if (rc == 0)
            for (uint32_t i = 0; i < LOAD_BATCH; i++) {
                assert_int_equal(acks[i].status, SK_ACK_APPLIED);
                acked[n + i] = 1;
            }
        n += LOAD_BATCH;
        if (rc)
            break; /* the primary is gone (this batch may or may not have been committed) */
    }
    pthread_join(th, NULL);
    (void)sk_proc_wait(&p.proc, 10000);
    sk_tc_close(&dev);
    uint32_t nacked = 0;
    for (uint32_t i = 0; i < n; i++)
        nacked += acked[i];
    assert_true(nacked > 0);

    /* promote; a standby that knows of entries it lacks (none acknowledged in sync mode) is
     * promoted anyway, the devices give those back */
    const char *promote[] = {"promote", NULL};
    if (sk_admin_ts(&s, NULL, promote, &out) != 0) {
        assert_non_null(strstr(out, "has not applied"));
        free(out);
        const char *force[] = {"promote", "--force", NULL};
        assert_int_equal(sk_admin_ts(&s, NULL, force, &out), 0);
        tot->forced++;
    }
    free(out);
    assert_int_equal(sk_trepl_wait_serving(s.port, pin, WAIT_MS), 0);
    assert_int_equal(sk_tc_connect(&dev, s.port), 0);
    assert_int_equal(sk_tc_auth(&dev), 0);
    assert_int_equal(sk_tc_pull_ids(&dev, 1000, &ids), 0);
    assert_int_equal(sk_tc_ids_dups(&ids), 0);
    for (uint32_t i = 0; i < n; i++)
        if (acked[i])
            assert_true(sk_tc_ids_has(&ids, &chs[i].id)); /* no acknowledged referral lost */
    /* the device sends everything again under the same ops: each is there once */
    for (uint32_t i = 0; i < n; i += LOAD_BATCH) {
        sk_ack acks[LOAD_BATCH];
        assert_int_equal(sk_tc_push(&dev, chs + i, LOAD_BATCH, acks), 0);
        for (uint32_t j = 0; j < LOAD_BATCH; j++)
            assert_int_equal(acks[j].status, SK_ACK_APPLIED);
    }
    ids.n = 0;
    assert_int_equal(sk_tc_pull_ids(&dev, 1000, &ids), 0);
    assert_int_equal(sk_tc_ids_dups(&ids), 0);
    assert_int_equal(ids.n, n + 1);
    print_message("seed %u: killed after %d ms, %u pushed, %u acknowledged, all on the standby\n",
                  seed, k.delay_ms, n, nacked);
    tot->pushed += n;
    tot->acked += nacked;
    for (uint32_t i = 0; i < n; i++)
        sk_change_free(&chs[i]);
    free(chs);
    free(acked);
    free(ids.ids);
    sk_tc_free(&dev);
    sk_ts_teardown(&s);
    sk_ts_teardown(&p);
}

/* A number from the environment, else def. */
static unsigned env_uint(const char *name, unsigned def)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 10) : def;
}

/* The reliability campaign's form of the kill (docs/RELIABILITY.md): CP_ROUNDS rounds from
 * seed CP_SEED; 3 in CI, 100 with SAKHI_CAMPAIGN_LONG=1 (test_replication_failover_long). */
static void test_failover_kill_under_load(void **state)
{
    (void)state;
    int long_form = getenv("SAKHI_CAMPAIGN_LONG") != NULL;
    unsigned rounds = env_uint("CP_ROUNDS", long_form ? 100 : 3), first = env_uint("CP_SEED", 1);
    kill_totals tot = {0, 0, 0};
    uint64_t t0 = sk_mono_ms();
    for (unsigned seed = first; seed < first + rounds; seed++)
        kill_round(seed, &tot);
    print_message("failover campaign: %u primaries killed (seeds %u..%u), %llu referrals pushed, "
                  "%llu acknowledged: every acknowledged one on the promoted standby, each "
                  "exactly once after the resend; %llu promotions needed --force; %llu s\n",
                  rounds, first, first + rounds - 1, (unsigned long long)tot.pushed,
                  (unsigned long long)tot.acked, (unsigned long long)tot.forced,
                  (unsigned long long)((sk_mono_ms() - t0) / 1000));
}

static void test_failover_sync_partition(void **state)
{
    (void)state;
    sk_ts p, s;
    sk_tc dev;
    sk_proc netem;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
    char up[32], portfile[700], nout[700];
    char *out = NULL;
    assert_int_equal(sk_trepl_pair(&p, &s, "sk-syncp", "sk-syncs", pin, pin_hex), 0);
    const char *pargs[] = {"--repl-sync", "refuse", "--repl-sync-timeout", "1", NULL};
    assert_int_equal(sk_ts_start(&p, pargs), 0);
    /* the link between the two runs through the proxy, so it can be cut */
    snprintf(up, sizeof(up), "127.0.0.1:%u", (unsigned)p.port);
    snprintf(portfile, sizeof(portfile), "%s/netem.port", s.dir);
    snprintf(nout, sizeof(nout), "%s/netem.out", s.dir);
    char *nargv[] = {SAKHI_NETEM_BIN, "--listen", "127.0.0.1:0", "--upstream", up,
                     "--port-file",   portfile,   NULL};
    assert_int_equal(sk_proc_start(&netem, nargv, nout), 0);
    assert_int_equal(sk_wait_file(portfile, 10000), 0);
    char *pt = NULL;
    assert_int_equal(sk_read_file(portfile, &pt, NULL), 0);
    uint16_t nport = (uint16_t)atoi(pt);
    free(pt);
    assert_int_equal(sk_trepl_start_standby(&s, &p, pin_hex, nport), 0);

    assert_int_equal(sk_trepl_device(&dev, &p, pin, 0), 0);
    /* acknowledged only once the standby applied it */
    push_n(&dev, 1, 1, NULL);

    /* partition: the primary can no longer acknowledge anything */
    assert_int_equal(sk_proc_signal(&netem, SIGKILL), 0);
    (void)sk_proc_wait(&netem, 5000); /* reaped; its exit status is the signal */
    sk_change ch;
    sk_ack ack;
    assert_int_equal(sk_tc_make_referral(&ch, 2, sk_ts_now_ms(), "rp"), 0);
    uint64_t t0 = sk_mono_ms();
    assert_int_equal(sk_tc_push(&dev, &ch, 1, &ack), -SK_E_NOT_REPLICATED);
    assert_true(sk_mono_ms() - t0 < 10000);

    /* the standby is promoted (it knows of nothing it lacks: the refused push never reached
     * it) and the device gives the referral to it: there once */
    const char *promote[] = {"promote", NULL};
    assert_int_equal(sk_admin_ts(&s, NULL, promote, &out), 0);
    free(out);
    assert_int_equal(sk_trepl_wait_serving(s.port, pin, WAIT_MS), 0);
    sk_tc_close(&dev);
    assert_int_equal(sk_tc_connect(&dev, s.port), 0);
    assert_int_equal(sk_tc_auth(&dev), 0);
    assert_int_equal(sk_tc_push(&dev, &ch, 1, &ack), 0);
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    assert_int_equal(sk_tc_push(&dev, &ch, 1, &ack), 0); /* again: the same ack, applied once */
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    tally t;
    pull_all(&dev, &t);
    assert_int_equal(t.live, 2);
    sk_tc_close(&dev);
    sk_change_free(&ch);

    /* the old primary, still up and cut off, acknowledges nothing */
    assert_int_equal(sk_tc_connect(&dev, p.port), 0);
    assert_int_equal(sk_tc_auth(&dev), 0);
    assert_int_equal(sk_td_push_referral(&dev, 3, "rp", NULL), -SK_E_NOT_REPLICATED);
    assert_true(sk_file_contains(s.log, "event=repl_promoted"));
    sk_tc_free(&dev);
    sk_ts_teardown(&s);
    sk_ts_teardown(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replication_standby_follows_and_promotes),
        cmocka_unit_test(test_replication_standby_start_refusals),
        cmocka_unit_test(test_failover_kill_under_load),
        cmocka_unit_test(test_failover_sync_partition),
    };
    const struct CMUnitTest campaign[] = {
        cmocka_unit_test(test_failover_kill_under_load),
    };
    if (getenv("SAKHI_CAMPAIGN_LONG")) /* the long form runs the campaign alone */
        return cmocka_run_group_tests(campaign, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
