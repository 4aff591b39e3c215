/*
 * test_downlink.c - what comes down the link after a push (PROTOCOL.md 3.6, 3.8, SK_CAP_ECHO),
 * against real sakhi-server processes on 127.0.0.1.
 *
 * - At the protocol level (sk_tc): with SK_CAP_ECHO the ack of a creation carries the fields
 *   the server set, the change plus those fields is byte for byte the record another device
 *   pulls in full, and the same session's pull sends the record as its bare version unless
 *   someone else changed it since (then in full). A device that does not offer the bit gets
 *   3-element acks and full records, as in protocol 1.0.
 * - Through libsakhi: a sync that pushes 50 new referrals (varied ones, from
 *   scripts/gen-referrals.py) receives a bounded number of bytes
 *   (the client's own counters), far fewer than the same sync without the bit, and the device
 *   then holds exactly the records a second device of the same worker pulls in full.
 *
 * - An initial pull of 200 varied referrals (with their follow-ups) by a fresh administrator's
 *   device stays under 200 bytes a record, and the referral dictionary (SK_CAP_ZDICT) makes
 *   small pulls (PULLs of 5) at least a quarter smaller than zstd alone.
 *
 * Links the static library to reach its test hook and local store (internal header).
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_client.h"
#include "sk_err.h"
#include "sk_sample.h"
#include "sk_testclient.h"
#include "sk_testdevice.h"
#include "sk_testserver.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NREF 50

/* ---- protocol level ---------------------------------------------------------------------- */

static void tc_device(sk_tc *c, sk_ts *ts, const char *worker, const char *label, uint32_t caps)
{
    char code[SK_ENROLL_CODE_LEN + 1];
    sk_tc_init(c);
    c->hello_caps = caps;
    assert_int_equal(sk_ts_code(ts, worker, SK_TD_CODE_TTL_MS, code), 0);
    assert_int_equal(sk_tc_connect(c, ts->port), 0);
    assert_int_equal(sk_tc_enroll(c, code, label), 0);
}

/* Send PUSH, return its PUSH_ACK in *m (the caller frees it). */
static void push_raw(sk_tc *c, const sk_change *chs, uint32_t n, sk_msg *m)
{
    sk_msg p;
    sk_msg_init(&p, SK_MSG_PUSH, sk_tc_rid(c));
    p.u.push.changes = (sk_change *)chs;
    p.u.push.nchanges = n;
    assert_int_equal(sk_tc_send(c, &p), 0);
    assert_int_equal(sk_tc_recv(c, m, 5000), 0);
    assert_int_equal(m->type, SK_MSG_PUSH_ACK);
    assert_int_equal(m->rid, p.rid);
    assert_int_equal(m->u.push_ack.nacks, n);
}

/* PULL from cursor 0 expecting one CHANGES frame; *m is kept for the caller (who frees it). */
static void pull_raw(sk_tc *c, sk_msg *m)
{
    sk_msg p;
    sk_msg_init(&p, SK_MSG_PULL, sk_tc_rid(c));
    p.u.pull.cursor = 0;
    p.u.pull.limit = 1000;
    assert_int_equal(sk_tc_send(c, &p), 0);
    assert_int_equal(sk_tc_recv(c, m, 5000), 0);
    assert_int_equal(m->type, SK_MSG_CHANGES);
    assert_int_equal(m->u.changes.last, 1);
}

static void pack_record(const sk_record *r, sk_buf *out)
{
    msgpack_packer pk;
    sk_buf_init(out);
    sk_packer_init(&pk, out);
    assert_int_equal(sk_record_pack(&pk, r), 0);
    assert_false(out->oom);
}

/* The record the device builds from its change and the ack's fields (what libsakhi does). */
static void rebuild(const sk_change *ch, const sk_ack *a, sk_buf *out)
{
    sk_record r;
    sk_merge_result mr;
    sk_mp fm;
    uint32_t n;
    sk_record_init(&r);
    assert_int_equal(sk_merge_apply(&r, ch, a->version, &mr), 0);
    sk_merge_result_free(&mr);
    sk_mp_init(&fm, a->fields, a->fields_len);
    assert_int_equal(sk_mp_read_map(&fm, &n), 0);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t key;
        const uint8_t *raw;
        size_t len;
        assert_int_equal(sk_mp_read_uint(&fm, &key), 0);
        assert_int_equal(sk_mp_raw(&fm, &raw, &len), 0);
        assert_int_equal(sk_record_set(&r, (uint32_t)key, raw, (uint32_t)len, ch->hlc, a->version),
                         0);
    }
    pack_record(&r, out);
    sk_record_free(&r);
}

/* The record of id in m in full (*version_only 0), or the version-only element at version v
 * (*version_only 1: a bare version carries no id); NULL if neither is there. */
static const sk_record *find(const sk_msg *m, const sk_id *id, uint64_t v, int *version_only)
{
    for (uint32_t i = 0; i < m->u.changes.nrecords; i++) {
        int vo = m->u.changes.version_only && m->u.changes.version_only[i];
        const sk_record *r = &m->u.changes.records[i];
        if (vo ? r->version == v : sk_id_cmp(&r->id, id) == 0) {
            *version_only = vo;
            return r;
        }
    }
    return NULL;
}

static void test_ack_fields_and_version_only(void **state)
{
    (void)state;
    sk_ts ts;
    sk_tc a, b, staff;
    sk_change ch[3];
    sk_msg ack, other_ack, edit_ack, pa, pb;
    assert_int_equal(sk_ts_setup(&ts, "sk-downlink"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&ts, "st1", SK_ROLE_STAFF, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    tc_device(&a, &ts, "fw1", "echo-device", SK_CAP_ECHO);
    tc_device(&b, &ts, "fw1", "v1.0-device", 0);
    tc_device(&staff, &ts, "st1", "desk", 0);

    uint64_t now = sk_ts_now_ms();
    for (int i = 0; i < 3; i++) {
        char tag[16];
        snprintf(tag, sizeof(tag), "ref%d", i);
        assert_int_equal(sk_tc_make_referral(&ch[i], (uint64_t)i + 1, now + (uint64_t)i, tag), 0);
    }
    push_raw(&a, ch, 3, &ack);
    /* the acks' fields point into the frame: keep copies past the next receive */
    uint8_t fcopy[3][128];
    for (int i = 0; i < 3; i++) {
        sk_ack *k = &ack.u.push_ack.acks[i];
        assert_true(k->fields_len <= sizeof(fcopy[i]));
        memcpy(fcopy[i], k->fields, k->fields_len);
        k->fields = fcopy[i];
        k->msg = (sk_str){NULL, 0};
    }
    for (int i = 0; i < 3; i++) {
        const sk_ack *k = &ack.u.push_ack.acks[i];
        assert_int_equal(k->status, SK_ACK_APPLIED);
        assert_int_equal(k->has_fields, 1);
        /* exactly the four fields the server sets on a new adult's referral, in key order:
         * minor is derived from the age */
        sk_mp fm;
        uint32_t n;
        uint64_t key, v;
        const char *s;
        uint32_t slen;
        sk_mp_init(&fm, k->fields, k->fields_len);
        assert_int_equal(sk_mp_read_map(&fm, &n), 0);
        assert_int_equal(n, 4);
        assert_int_equal(sk_mp_read_uint(&fm, &key), 0);
        assert_int_equal(key, SK_F_DEVICE);
        assert_int_equal(sk_mp_read_uint(&fm, &v), 0);
        assert_int_equal(v, a.device);
        assert_int_equal(sk_mp_read_uint(&fm, &key), 0);
        assert_int_equal(key, SK_F_WORKER);
        assert_int_equal(sk_mp_read_str(&fm, &s, &slen), 0);
        assert_int_equal(slen, 3);
        assert_memory_equal(s, "fw1", 3);
        assert_int_equal(sk_mp_read_uint(&fm, &key), 0);
        assert_int_equal(key, SK_F_MINOR);
        int minor = 1;
        assert_int_equal(sk_mp_read_bool(&fm, &minor), 0);
        assert_false(minor);
        assert_int_equal(sk_mp_read_uint(&fm, &key), 0);
        assert_int_equal(key, SK_F_STATUS);
        assert_int_equal(sk_mp_read_uint(&fm, &v), 0);
        assert_int_equal(v, SK_STATUS_RECEIVED);
    }
    /* Staff changes referral 2 (another connection) before the device pulls. */
    sk_change e;
    assert_int_equal(sk_tc_make_edit_uint(&e, &ch[1].id, 1, ack.u.push_ack.acks[1].version,
                                          ch[1].hlc + (1u << 16), SK_F_URGENCY, SK_URGENCY_URGENT),
                     0);
    push_raw(&staff, &e, 1, &edit_ack);
    assert_int_equal(edit_ack.u.push_ack.acks[0].status, SK_ACK_APPLIED);
    assert_int_equal(edit_ack.u.push_ack.acks[0].has_fields, 0); /* no caps, and not a creation */

    /* The device's pull: referrals 1 and 3 as their versions alone; referral 2 in full. */
    pull_raw(&a, &pa);
    assert_int_equal(pa.u.changes.nrecords, 3);
    assert_non_null(pa.u.changes.version_only);
    int vo;
    const sk_record *r = find(&pa, &ch[0].id, ack.u.push_ack.acks[0].version, &vo);
    assert_non_null(r);
    assert_int_equal(vo, 1);
    assert_true(sk_id_is_zero(&r->id));
    r = find(&pa, &ch[2].id, ack.u.push_ack.acks[2].version, &vo);
    assert_non_null(r);
    assert_int_equal(vo, 1);
    int nvo = 0;
    for (uint32_t i = 0; i < pa.u.changes.nrecords; i++)
        nvo += pa.u.changes.version_only[i];
    assert_int_equal(nvo, 2);
    r = find(&pa, &ch[1].id, 0, &vo);
    assert_non_null(r);
    assert_int_equal(vo, 0);
    assert_int_equal(r->version, edit_ack.u.push_ack.acks[0].version);

    /* A device without the bit (same worker) pulls everything in full; the records of 1 and 3
     * are byte for byte what the echo device built from its changes and the acks. */
    pull_raw(&b, &pb);
    assert_int_equal(pb.u.changes.nrecords, 3);
    assert_null(pb.u.changes.version_only);
    for (int i = 0; i < 3; i += 2) {
        sk_buf built, full;
        r = find(&pb, &ch[i].id, 0, &vo);
        assert_non_null(r);
        assert_int_equal(vo, 0);
        rebuild(&ch[i], &ack.u.push_ack.acks[i], &built);
        pack_record(r, &full);
        assert_int_equal(built.len, full.len);
        assert_memory_equal(built.data, full.data, full.len);
        sk_buf_free(&built);
        sk_buf_free(&full);
    }
    sk_msg_free(&pb);

    /* ...and its own creation is acked with three elements and comes back in full. */
    sk_change nb;
    assert_int_equal(sk_tc_make_referral(&nb, 1, now + 10, "old"), 0);
    push_raw(&b, &nb, 1, &other_ack);
    assert_int_equal(other_ack.u.push_ack.acks[0].status, SK_ACK_APPLIED);
    assert_int_equal(other_ack.u.push_ack.acks[0].has_fields, 0);
    pull_raw(&b, &pb);
    assert_int_equal(pb.u.changes.nrecords, 4);
    assert_null(pb.u.changes.version_only);
    sk_msg_free(&pb);

    /* The echo device's next session starts afresh: everything in full. */
    sk_tc_close(&a);
    assert_int_equal(sk_tc_connect(&a, ts.port), 0);
    assert_int_equal(sk_tc_auth(&a), 0);
    sk_msg_free(&pa);
    pull_raw(&a, &pa);
    assert_int_equal(pa.u.changes.nrecords, 4);
    assert_null(pa.u.changes.version_only);

    sk_msg_free(&pa);
    sk_msg_free(&ack);
    sk_msg_free(&other_ack);
    sk_msg_free(&edit_ack);
    for (int i = 0; i < 3; i++)
        sk_change_free(&ch[i]);
    sk_change_free(&e);
    sk_change_free(&nb);
    sk_tc_free(&a);
    sk_tc_free(&b);
    sk_tc_free(&staff);
    sk_ts_teardown(&ts);
}

/* ---- libsakhi ------------------------------------------------------------------------------ */

/* The varied referrals (scripts/gen-referrals.py, made by the build): captured field by field
 * as `sakhi capture --sample` does, without the fields the server sets. */
static sk_sample g_sample;

static void capture(sakhi_client *c, const sk_change *ch, char id[SAKHI_ID_STRLEN])
{
    sakhi_referral *r = NULL;
    int rc = sakhi_referral_new(&r, c);
    for (uint32_t k = 0; k < ch->nfields && !rc; k++) {
        uint32_t key = ch->fields[k].key;
        if (sk_sample_captured(key))
            rc = sakhi_referral_set_raw(r, key, ch->fields[k].val, ch->fields[k].len);
    }
    if (!rc)
        rc = sakhi_referral_save(id, c, r);
    if (rc)
        fail_msg("capture: %d %s: %s", rc, sakhi_errfield(c), sakhi_errmsg(c));
    sakhi_referral_free(r);
}

typedef struct sync_out {
    uint64_t received, pulled;
} sync_out;

static void packed_base(sakhi_client *c, const char *idtext, sk_buf *out)
{
    sk_id id;
    MDB_txn *txn = NULL;
    sk_rstate rs;
    assert_int_equal(sk_id_from_str(&id, idtext), 0);
    sk_rstate_init(&rs, &c->alloc);
    pthread_mutex_lock(&c->mu);
    assert_int_equal(sk_lstore_txn(c, 1, &txn), 0);
    assert_int_equal(sk_lstore_rstate_get(c, txn, &id, &rs), 0);
    mdb_txn_abort(txn);
    pthread_mutex_unlock(&c->mu);
    pack_record(&rs.base, out);
    sk_rstate_free(&rs);
}

/* One device of fw1 captures NREF referrals and syncs (with or without SK_CAP_ECHO); a second
 * device of fw1 (without it) pulls them in full and must hold the same records. */
static void push_sync(uint32_t caps_off, sync_out *out)
{
    sk_ts ts;
    char ids[NREF][SAKHI_ID_STRLEN];
    assert_int_equal(sk_ts_setup(&ts, "sk-downlink"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    sakhi_client *a = NULL, *b = NULL;
    assert_int_equal(sk_td_open(&a, &ts, 0, NULL), 0);
    a->test_caps_off = caps_off;
    int rc = sk_td_enroll(a, &ts, "fw1", "pusher", NULL, NULL);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(a));
    for (int i = 0; i < NREF; i++)
        capture(a, &g_sample.refs[i].change, ids[i]);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    if ((rc = sakhi_sync(&res, a, NULL)))
        fail_msg("sync: %d %s", rc, sakhi_errmsg(a));
    assert_int_equal(res.complete, 1);
    assert_int_equal(res.pushed, NREF);
    assert_int_equal(res.applied, NREF);
    assert_int_equal(res.pulled, NREF); /* the version-only records count as pulled */
    out->received = res.bytes_received;
    out->pulled = res.pulled;
    for (int i = 0; i < NREF; i++) {
        int st = sk_td_state(a, ids[i]);
        if (st != SAKHI_SYNC_RECEIVED)
            fail_msg("record %d: sync state %d", i, st);
    }

    assert_int_equal(sk_td_open(&b, &ts, 1, NULL), 0);
    b->test_caps_off = SK_CAP_ECHO;
    if ((rc = sk_td_enroll(b, &ts, "fw1", "second", NULL, NULL)))
        fail_msg("enroll b: %d %s", rc, sakhi_errmsg(b));
    sakhi_sync_result rb = SAKHI_SYNC_RESULT_INIT;
    if ((rc = sakhi_sync(&rb, b, NULL)))
        fail_msg("sync b: %d %s", rc, sakhi_errmsg(b));
    assert_int_equal(rb.pulled, NREF);
    for (int i = 0; i < NREF; i++) {
        sk_buf x, y;
        packed_base(a, ids[i], &x);
        packed_base(b, ids[i], &y);
        assert_int_equal(x.len, y.len);
        assert_memory_equal(x.data, y.data, x.len);
        sk_buf_free(&x);
        sk_buf_free(&y);
    }
    /* A sync with nothing new receives no record at all. */
    sakhi_sync_result again = SAKHI_SYNC_RESULT_INIT;
    assert_int_equal(sakhi_sync(&again, a, NULL), 0);
    assert_int_equal(again.pulled, 0);
    sakhi_close(b);
    sakhi_close(a);
    sk_ts_teardown(&ts);
}

static void test_push_sync_downlink(void **state)
{
    (void)state;
    sync_out before = {0}, after = {0};
    push_sync(SK_CAP_ECHO | SK_CAP_ZDICT, &before); /* a 1.0 device: zstd alone */
    push_sync(0, &after);
    print_message("sync pushing %d new referrals: %llu bytes received as a 1.0 device, "
                  "%llu with it (%.1f%%)\n",
                  NREF, (unsigned long long)before.received, (unsigned long long)after.received,
                  100.0 * (double)after.received / (double)before.received);
    /* The handshake, 50 acks with their fields and 50 bare versions, compressed with the
     * dictionary: about 560 bytes (about 900 without it). Each record coming back whole would
     * add a hundred bytes or more, compressed. */
    assert_true(after.received <= 800);
    assert_true(after.received * 4 < before.received);
}

/* ---- initial pull ------------------------------------------------------------------------ */

#define NPULL 200

/* A fresh administrator's device pulls every record; bytes received per record. */
static double initial_pull(sk_ts *ts, int n, int no_zstd, uint32_t caps_off, uint32_t limit)
{
    sakhi_client *c = NULL;
    char label[32];
    snprintf(label, sizeof(label), "desk-%d", n);
    assert_int_equal(sk_td_open(&c, ts, n, NULL), 0);
    c->test_no_zstd = no_zstd;
    c->test_caps_off = caps_off;
    int rc = sk_td_enroll(c, ts, "ad1", label, NULL, NULL);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
    sakhi_sync_options o = SAKHI_SYNC_OPTIONS_INIT;
    o.pull_limit = limit;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    if ((rc = sakhi_sync(&res, c, &o)))
        fail_msg("sync: %d %s", rc, sakhi_errmsg(c));
    assert_int_equal(res.pulled, NPULL);
    sakhi_close(c);
    return (double)res.bytes_received / NPULL;
}

static void test_initial_pull_bytes(void **state)
{
    (void)state;
    sk_ts ts;
    sk_tc t;
    assert_int_equal(sk_ts_setup(&ts, "sk-downlink"), 0);
    assert_int_equal(sk_ts_worker(&ts, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&ts, "ad1", SK_ROLE_ADMIN, 0), 0);
    assert_int_equal(sk_ts_start(&ts, NULL), 0);
    /* 200 varied referrals with their follow-ups, pushed as sakhi-load pushes the sample */
    tc_device(&t, &ts, "fw1", "field", 0);
    for (int first = NREF; first < NREF + NPULL; first += 50) {
        sk_change chs[50];
        sk_msg ack;
        for (int i = 0; i < 50; i++) {
            chs[i] = g_sample.refs[first + i].change;
            chs[i].op = (uint64_t)(first + i + 1);
        }
        push_raw(&t, chs, 50, &ack);
        for (int i = 0; i < 50; i++)
            assert_int_equal(ack.u.push_ack.acks[i].status, SK_ACK_APPLIED);
        sk_msg_free(&ack);
    }
    sk_tc_free(&t);
    double plain = initial_pull(&ts, 0, 1, 0, 200);
    double zstd = initial_pull(&ts, 1, 0, SK_CAP_ZDICT, 200);
    double dict = initial_pull(&ts, 2, 0, 0, 200);
    double zstd5 = initial_pull(&ts, 3, 0, SK_CAP_ZDICT, 5);
    double dict5 = initial_pull(&ts, 4, 0, 0, 5);
    print_message("initial pull of %d varied referrals, bytes received per record: plain %.1f, "
                  "zstd %.1f, zstd with the dictionary %.1f; in PULLs of 5: zstd %.1f, with the "
                  "dictionary %.1f\n",
                  NPULL, plain, zstd, dict, zstd5, dict5);
    assert_true(dict <= 200.0);
    assert_true(dict < zstd && zstd < plain);
    assert_true(dict5 <= 200.0);
    assert_true(dict5 < zstd5 * 0.75);
    sk_ts_teardown(&ts);
}

int main(void)
{
    char err[256];
    if (sk_sample_load(&g_sample, SAKHI_VARIED_SAMPLE, err, sizeof(err)) ||
        g_sample.n < NREF + NPULL) {
        fprintf(stderr, "test_downlink: cannot load %s: %s\n", SAKHI_VARIED_SAMPLE, err);
        return 1;
    }
    int rc = SK_TEST_RUN(SK_TESTS(NULL, NULL, test_ack_fields_and_version_only,
                                  test_push_sync_downlink, test_initial_pull_bytes));
    sk_sample_free(&g_sample);
    return rc;
}
