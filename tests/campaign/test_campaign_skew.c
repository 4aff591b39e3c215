/*
 * test_campaign_skew.c - issue 9, campaign 5: clock skew. Two devices of one field worker, with
 * wall clocks days ahead of and behind the server (libsakhi's test hook sk_client_test_clock), hold the
 * same record at the same version and edit the same field offline, one after the other in real
 * time; then both sync, in a seeded order. docs/PROTOCOL.md 5.3 corrects each device's stamps
 * by the server time at its handshake, so the rule of 5.5 (higher (hlc, bytes) wins a
 * concurrent edit) must pick the edit made LATER in real time, whatever the devices' clocks
 * say: the device days ahead must not win because of its clock. Checked per round: the
 * server's value and its stamp (near server time, not days off), the REVIEW flag, the acks
 * (the first sync APPLIED, the second MERGED), two history entries read back through the
 * store API with their values (the overwritten original, then the losing edit, each with its
 * version and whether it was the incoming value), and both devices converged on the winner
 * after another sync.
 *
 * Owns only its temp directories; uses the public libsakhi API against a real sakhi-server
 * (--plaintext on 127.0.0.1) and the server's store API to read the server side. The sleeps
 * pace the two edits apart in real time; readiness is never waited for by sleeping.
 */
#include "sk_testfixture.h"

#include <sakhi/sakhi.h>

#include "sk_client_test.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)
/* Real time between the two offline edits: well above the handshake's offset error. */
#define EDIT_GAP_MS 40
/* How far the winning stamp may be from the server's clock (it must not be days off). */
#define STAMP_SLACK_MS 60000ULL

typedef struct fx {
    sk_ts ts;
    int ndev;
} fx;

static int setup(void **state)
{
    return sk_fx_start(state, sizeof(fx), "sk-skew", "fw1", NULL);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Device n's store, opened with its wall clock clock_offset_ms off. */
static sakhi_client *open_dev(fx *f, int n, int64_t clock_offset_ms)
{
    sakhi_client *c = NULL;
    assert_int_equal(sk_td_open_skewed(&c, &f->ts, n, NULL, clock_offset_ms), 0);
    return c;
}

/* A new enrolled device; *n_out gets its number for open_dev. */
static sakhi_client *device(fx *f, int64_t clock_offset_ms, int *n_out)
{
    *n_out = f->ndev++;
    sakhi_client *c = open_dev(f, *n_out, clock_offset_ms);
    int rc = sk_td_enroll(c, &f->ts, "fw1", "skew-test", NULL, NULL);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
    return c;
}

/* A routine referral (sk_td_referral's fields, name withheld) saved on c as id. */
static void capture(sakhi_client *c, char id[SAKHI_ID_STRLEN])
{
    sk_fx_capture(id, c, "withheld", SAKHI_URGENCY_ROUTINE);
}

static void edit_village(sakhi_client *c, const char *id, const char *village)
{
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_edit(&r, c, id), 0);
    assert_int_equal(sakhi_referral_set_village(r, village), 0);
    int rc = sakhi_referral_save(NULL, c, r);
    if (rc)
        fail_msg("edit: %d %s: %s", rc, sakhi_errfield(c), sakhi_errmsg(c));
    sakhi_referral_free(r);
}

/* The device's view: village (copied into out), version, review flag. */
static void dev_view(sakhi_client *c, const char *id, char *out, size_t cap, uint64_t *version,
                     int *review)
{
    sakhi_record *rec = NULL;
    const char *v = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_int_equal(sakhi_record_get_str(&v, rec, "village"), 0);
    assert_non_null(v);
    snprintf(out, cap, "%s", v);
    *version = sakhi_record_version(rec);
    *review = sakhi_record_needs_review(rec);
    sakhi_record_free(rec);
}

static uint64_t pending(sakhi_client *c)
{
    uint64_t n = 0;
    assert_int_equal(sakhi_pending_count(&n, c), 0);
    return n;
}

/* The record's history as the store API decodes it (sk_store_history_list). */
typedef struct hist {
    sk_history_item it[4];
    char val[4][40]; /* the value, decoded from its fixstr */
    int n, bad;
} hist;

static int hist_cb(const sk_history_item *h, void *payload)
{
    hist *hs = payload;
    if (hs->n >= 4) {
        hs->bad = 1;
        return 1;
    }
    hs->it[hs->n] = *h;
    hs->it[hs->n].val = NULL; /* valid during the call only */
    if (h->len < 1 || (h->val[0] & 0xe0) != 0xa0 || (uint32_t)(h->val[0] & 0x1f) != h->len - 1 ||
        h->len - 1 >= sizeof(hs->val[0]))
        hs->bad = 1; /* not a short string: village values here always are */
    else
        memcpy(hs->val[hs->n], h->val + 1, h->len - 1);
    hs->n++;
    return 0;
}

/* A distinct short village name (fixstr when encoded). */
static void make_value(uint64_t *rng, const char *tag, char out[32])
{
    snprintf(out, 32, "%s-%08llx", tag, (unsigned long long)(rng_next(rng) & 0xffffffffULL));
}

/*
 * One round: devices a and b with clock offsets off_a and off_b (ms), both synced (so both are
 * skew-corrected) and holding the record at one version. The first editor (a when a_first) edits
 * the village offline; EDIT_GAP_MS later the second does. jump_ms > 0 first moves the first
 * editor's clock by that much after its last handshake (the phone's clock changed while offline:
 * PROTOCOL 5.3 corrects it only at the next handshake, so its stamp is jump_ms ahead and it
 * wins). The seed picks the values and which device syncs first.
 */
static void round_run(fx *f, uint64_t seed, int64_t off_a, int64_t off_b, int a_first,
                      int64_t jump_ms)
{
    uint64_t rng = seed * 0x9e3779b97f4a7c15ULL + 1;
    char id[SAKHI_ID_STRLEN], va[32], vb[32], got[64];
    uint64_t ver_a, ver_b;
    int rev, na, nb;

    sakhi_client *a = device(f, off_a, &na);
    sakhi_client *b = device(f, off_b, &nb);
    /* A handshake first, so the creation itself carries a corrected stamp. */
    sk_fx_sync(a, f->ts.port, NULL);
    capture(a, id);
    sk_fx_sync(a, f->ts.port, NULL);
    sk_fx_sync(b, f->ts.port, NULL);
    dev_view(a, id, got, sizeof(got), &ver_a, &rev);
    assert_string_equal(got, "Diskit");
    assert_int_equal(rev, 0);
    dev_view(b, id, got, sizeof(got), &ver_b, &rev);
    assert_string_equal(got, "Diskit");
    assert_int_equal(rev, 0);
    assert_true(ver_a > 0);
    assert_int_equal(ver_a, ver_b);

    make_value(&rng, "a", va);
    make_value(&rng, "b", vb);
    int a_syncs_first = (int)(rng_next(&rng) & 1);
    if (jump_ms) {
        /* Reopen the first editor with its clock moved (no handshake in between). */
        if (a_first) {
            sakhi_close(a);
            a = open_dev(f, na, off_a + jump_ms);
        } else {
            sakhi_close(b);
            b = open_dev(f, nb, off_b + jump_ms);
        }
    }
    sakhi_client *first = a_first ? a : b, *second = a_first ? b : a;
    const char *v_first = a_first ? va : vb, *v_second = a_first ? vb : va;
    /* The rule's winner: the higher stamp. Corrected stamps follow real time, so the later
     * edit, unless the first editor's clock jumped ahead after its handshake. */
    int first_wins = jump_ms > EDIT_GAP_MS;
    const char *v_win = first_wins ? v_first : v_second;
    int64_t win_shift = first_wins ? jump_ms : 0;

    uint64_t t0 = sk_ts_now_ms();
    edit_village(first, id, v_first);
    sk_sleep_ms(EDIT_GAP_MS);
    edit_village(second, id, v_second);
    uint64_t t1 = sk_ts_now_ms();
    assert_int_equal(pending(a), 1);
    assert_int_equal(pending(b), 1);

    sakhi_sync_result r1 = SAKHI_SYNC_RESULT_INIT, r2 = SAKHI_SYNC_RESULT_INIT;
    sakhi_client *s1 = a_syncs_first ? a : b, *s2 = a_syncs_first ? b : a;
    sk_fx_sync(s1, f->ts.port, &r1);
    sk_fx_sync(s2, f->ts.port, &r2);
    /* The first to sync edited what it saw (base = current version): APPLIED. The second met a
     * concurrent, different value: MERGED, whichever value won. */
    assert_int_equal(r1.pushed, 1);
    assert_int_equal(r1.applied, 1);
    assert_int_equal(r1.merged, 0);
    assert_int_equal(r2.pushed, 1);
    assert_int_equal(r2.applied, 0);
    assert_int_equal(r2.merged, 1);

    /* The server: the rule's winner, stamped near server time (+ any jump), not days off. */
    sk_store *s = NULL;
    sk_id rid;
    sk_record rec;
    uint32_t nhist = 0;
    hist hs;
    memset(&hs, 0, sizeof(hs));
    assert_int_equal(sk_id_from_str(&rid, id), 0);
    assert_int_equal(sk_ts_store(&f->ts, &s), 0);
    assert_int_equal(sk_store_record_get(s, &rid, &rec), 0);
    assert_int_equal(sk_store_history_count(s, &rid, &nhist), 0);
    assert_int_equal(sk_store_history_list(s, &rid, hist_cb, &hs), 0);
    sk_store_close(s);
    const sk_field *fv = sk_record_field(&rec, SK_F_VILLAGE);
    assert_non_null(fv);
    size_t wl = strlen(v_win);
    assert_int_equal(fv->len, wl + 1);
    assert_int_equal(fv->val[0], 0xa0 | wl);
    if (memcmp(fv->val + 1, v_win, wl) != 0)
        fail_msg("seed %llu offsets %lld/%lld jump %lld: server kept the %s edit",
                 (unsigned long long)seed, (long long)off_a, (long long)off_b, (long long)jump_ms,
                 first_wins ? "later" : "earlier");
    int64_t phys = (int64_t)(fv->hlc >> 16) - win_shift;
    if (phys + (int64_t)STAMP_SLACK_MS < (int64_t)t0 || phys > (int64_t)(t1 + STAMP_SLACK_MS))
        fail_msg("winning stamp %lld ms (less the jump) is not near server time %llu..%llu",
                 (long long)phys, (unsigned long long)t0, (unsigned long long)t1);
    assert_int_equal(rec.flags & SK_REC_REVIEW, SK_REC_REVIEW);
    assert_int_equal(rec.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED), 0);
    /* History: "Diskit" overwritten by the first sync, and the loser of the merge. */
    assert_int_equal(nhist, 2);
    assert_int_equal(hs.n, 2);
    assert_int_equal(hs.bad, 0);
    uint64_t server_ver = rec.version;
    /* 1: the first sync's change displaced the original, set when the record was created */
    assert_int_equal(hs.it[0].key, SK_F_VILLAGE);
    assert_string_equal(hs.val[0], "Diskit");
    assert_int_equal(hs.it[0].lost_incoming, 0);
    assert_int_equal(hs.it[0].ver, ver_a);
    assert_true(hs.it[0].seq > ver_a && hs.it[0].seq < hs.it[1].seq);
    /* 2: the merge (the record's latest change) kept the losing edit: the incoming value when
     * the loser synced second, else the first syncer's value it overwrote */
    const char *v_lose = first_wins ? v_second : v_first;
    const char *v_s2 = a_syncs_first ? vb : va;
    int incoming_lost = strcmp(v_s2, v_lose) == 0;
    assert_int_equal(hs.it[1].key, SK_F_VILLAGE);
    assert_int_equal(hs.it[1].seq, server_ver);
    if (strcmp(hs.val[1], v_lose) != 0)
        fail_msg("seed %llu: history keeps '%s', the losing edit was '%s'",
                 (unsigned long long)seed, hs.val[1], v_lose);
    assert_int_equal(hs.it[1].lost_incoming, incoming_lost);
    assert_int_equal(hs.it[1].ver, incoming_lost ? 0 : hs.it[0].seq);
    assert_true(hs.it[1].hlc <= fv->hlc); /* the loser's stamp is not above the winner's */
    sk_record_free(&rec);

    /* Both devices converge on the server's value after another sync. */
    sk_fx_sync(a, f->ts.port, NULL);
    sk_fx_sync(b, f->ts.port, NULL);
    dev_view(a, id, got, sizeof(got), &ver_a, &rev);
    assert_string_equal(got, v_win);
    assert_int_equal(rev, 1);
    dev_view(b, id, got, sizeof(got), &ver_b, &rev);
    assert_string_equal(got, v_win);
    assert_int_equal(rev, 1);
    assert_int_equal(ver_a, server_ver);
    assert_int_equal(ver_b, server_ver);
    assert_int_equal(pending(a), 0);
    assert_int_equal(pending(b), 0);
    printf("skew seed=%llu off_a=%lldd off_b=%lldd jump=%lldd first_edit=%s first_sync=%s "
           "winner=%s\n",
           (unsigned long long)seed, (long long)(off_a / DAY_MS), (long long)(off_b / DAY_MS),
           (long long)(jump_ms / DAY_MS), a_first ? "a" : "b", a_syncs_first ? "a" : "b",
           first_wins ? "earlier(jumped)" : "later");
    sakhi_close(a);
    sakhi_close(b);
}

static const int64_t offs[][2] = {
    {5 * DAY_MS, -3 * DAY_MS},  {5 * DAY_MS, 0}, {0, -3 * DAY_MS}, {30 * DAY_MS, -30 * DAY_MS},
    {-3 * DAY_MS, -3 * DAY_MS},
};

static uint64_t seed_base(void)
{
    const char *e = getenv("SAKHI_SKEW_SEED");
    return e ? strtoull(e, NULL, 10) : 1;
}

/* Skew-corrected devices: the later edit in real time wins, whichever clock is ahead and
 * whichever device edits or syncs first. */
static void test_skew_corrected_later_edit_wins(void **state)
{
    fx *f = *state;
    uint64_t seed = seed_base();
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
        for (int a_first = 0; a_first < 2; a_first++)
            round_run(f, seed++, offs[i][0], offs[i][1], a_first, 0);
}

/* A clock moved forward after the last handshake is not corrected until the next one: by the
 * rule the device whose clock jumped wins even though it edited first. The test tells the two
 * outcomes apart. One round per server: a jumped stamp, once pulled, lifts every device's HLC
 * (observe), which would blur a later round. */
static void test_clock_jump_ahead_edits_first(void **state)
{
    round_run(*state, seed_base() + 1000, 5 * DAY_MS, -3 * DAY_MS, 1, 2 * DAY_MS);
}

static void test_clock_jump_behind_device_edits_first(void **state)
{
    round_run(*state, seed_base() + 1001, 5 * DAY_MS, -3 * DAY_MS, 0, 1 * DAY_MS);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_skew_corrected_later_edit_wins),
    cmocka_unit_test(test_clock_jump_ahead_edits_first),
    cmocka_unit_test(test_clock_jump_behind_device_edits_first),
};

SK_TEST_MAIN_EACH(tests, setup, sk_fx_free)
