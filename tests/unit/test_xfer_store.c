/*
 * test_xfer_store.c - the store's steps of a case transfer (storage/sk_xferstore.h) on three
 * real LMDB stores in temp dirs, a hub and two centres, without a server process:
 *  - the hub takes each step from its own centre only and in order: an offer to an unknown or
 *    disabled centre is NOT_FOUND, the receiver's seal FORBIDDEN, a seal before the accept
 *    STATE, a third centre sees nothing (NOT_FOUND, an empty list), a step repeated changes
 *    nothing; the sealed bytes are dropped once applied;
 *  - the sender refuses an unknown case, a case not open, a case already in a transfer;
 *  - the receiver applies a case exactly once (a second apply of the same transfer makes no
 *    second record), as a case of its own with its own case number, the sender's entries and
 *    its case number in history; a payload that does not decode applies nothing;
 *  - the sender's case ends referred to other_osc, once, without the onward-visit task.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_caseops.h"
#include "sk_err.h"
#include "sk_teststore.h"
#include "sk_xferstore.h"

#include <stdio.h>
#include <string.h>

#define NOW 1780000000000ull /* 2026-05-28 */

static const uint8_t k_concerns[] = {0x91, SK_CONCERN_DOMESTIC_VIOLENCE};
static const sk_actor k_admin = {SK_ROLE_ADMIN, "admin1", 0};

/* A hub step by centre: its rc; *items the answer's first item when there is one. */
static int hub(sk_tst *h, const char *centre, uint32_t op, const uint8_t *id, const char *to,
               const uint8_t *key, const uint8_t *sealed, size_t sealed_len, sk_xfer_item *item,
               uint32_t *n)
{
    sk_xfer_req rq = {.op = op, .has_id = id != NULL};
    MDB_txn *txn;
    sk_buf items = SK_BUF_INIT;
    const char *why = NULL;
    uint32_t nitems = 0;
    if (id)
        memcpy(rq.id, id, SK_XFER_ID_LEN);
    if (to)
        snprintf(rq.to, sizeof(rq.to), "%s", to);
    if (key) {
        memcpy(rq.key, key, SK_XFER_KEY_LEN);
        rq.has_key = 1;
    }
    rq.sealed = sealed;
    rq.sealed_len = (uint32_t)sealed_len;
    assert_int_equal(sk_store_write_begin(h->s, &txn), 0);
    int rc = sk_xferstore_hub_txn(h->s, txn, centre, &rq, NOW, &items, &nitems, &why);
    if (rc == 0) {
        assert_int_equal(sk_store_write_commit(h->s, txn), 0);
    } else {
        assert_non_null(why);
        sk_store_write_abort(h->s, txn);
    }
    if (n)
        *n = nitems;
    if (item && nitems) {
        static uint8_t keep[SK_XFER_MAX_SEALED];
        sk_mp m;
        sk_xfer_of of = {items.data, items.len, nitems};
        sk_xfer_items_begin(&m, &of);
        assert_int_equal(sk_xfer_items_next(&m, item), 0);
        if (item->sealed_len) { /* the answer's buffer goes: keep the bytes */
            memcpy(keep, item->sealed, item->sealed_len);
            item->sealed = keep;
        }
    }
    sk_buf_free(&items);
    return rc;
}

/* Run one step of a centre in a write transaction of its own; commit only on 0. */
#define CENTRE_TXN(t, call)                                                                        \
    do {                                                                                           \
        MDB_txn *txn;                                                                              \
        assert_int_equal(sk_store_write_begin((t)->s, &txn), 0);                                   \
        rc = (call);                                                                               \
        if (rc == 0)                                                                               \
            assert_int_equal(sk_store_write_commit((t)->s, txn), 0);                               \
        else                                                                                       \
            sk_store_write_abort((t)->s, txn);                                                     \
    } while (0)

static uint64_t records(sk_tst *t)
{
    uint64_t n = 0, seq = 0;
    assert_int_equal(sk_store_stats(t->s, &n, &seq), 0);
    return n;
}

typedef struct hist_find {
    const char *needle;
    int found;
} hist_find;

static int hist_one(const sk_history_item *h, void *p)
{
    hist_find *f = p;
    f->found |= h->len && memmem(h->val, h->len, f->needle, strlen(f->needle)) != NULL;
    return 0;
}

static void test_transfer_steps_on_stores(void **state)
{
    (void)state;
    sk_tst hub_s, leh, kgl;
    sk_change c;
    sk_caseops_result res;
    uint8_t id[SK_XFER_ID_LEN], other[SK_XFER_ID_LEN], priv[32], pub[32];
    char msg[200], lehno[40];
    sk_xfer_item it;
    uint32_t n;
    int rc;
    sk_tst_open(&hub_s, "sk-xfer-hub");
    sk_tst_open(&leh, "sk-xfer-leh");
    sk_tst_open(&kgl, "sk-xfer-kgl");
    sk_tst_worker(&hub_s, "leh", SK_ROLE_CENTRE, 0);
    sk_tst_worker(&hub_s, "kargil", SK_ROLE_CENTRE, 0);
    sk_tst_worker(&hub_s, "nubra", SK_ROLE_CENTRE, 0);
    sk_tst_worker(&hub_s, "fw1", SK_ROLE_FIELD, 0);
    sk_tst_worker(&leh, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH);
    sk_tst_worker(&leh, "admin1", SK_ROLE_ADMIN, 0);
    const sk_actor fw = {SK_ROLE_FIELD, "fw1", SK_DISTRICT_LEH};

    /* a case at Leh, accepted, with a note; and one that is only received */
    sk_tst_referral(&c, NOW, SK_DISTRICT_LEH);
    sk_tst_uint(&c, SK_F_AGE, 30);
    assert_int_equal(sk_change_set(&c, SK_F_CONCERNS, k_concerns, 2), 0);
    sk_tst_str(&c, SK_F_PHONE, "+919419100888");
    sk_tst_referral_end(&c, NOW, "fw1", 1);
    assert_int_equal(sk_tst_push(&leh, 1, &fw, &c, NOW).status, SK_ACK_APPLIED);
    sk_id rec = c.id;
    sk_change_free(&c);
    sk_tst_referral(&c, NOW, SK_DISTRICT_LEH);
    sk_tst_uint(&c, SK_F_AGE, 31);
    assert_int_equal(sk_change_set(&c, SK_F_CONCERNS, k_concerns, 2), 0);
    sk_tst_referral_end(&c, NOW, "fw1", 1);
    assert_int_equal(sk_tst_push(&leh, 1, &fw, &c, NOW).status, SK_ACK_APPLIED);
    sk_id received = c.id;
    sk_change_free(&c);
    {
        MDB_txn *txn;
        assert_int_equal(sk_store_write_begin(leh.s, &txn), 0);
        sk_caseops_ctx ctx = {leh.s, txn, &k_admin, NOW, 0};
        assert_int_equal(sk_caseops_accept(&ctx, &rec, &res), 0);
        snprintf(lehno, sizeof(lehno), "%s", res.case_no);
        assert_int_equal(sk_caseops_note(&ctx, &rec, "Spoke with her sister", &res), 0);
        assert_int_equal(sk_store_write_commit(leh.s, txn), 0);
    }

    /* the sender's refusals */
    sk_id nope;
    assert_int_equal(sk_id_new(&nope, NOW), 0);
    CENTRE_TXN(&leh, sk_xferstore_send_txn(leh.s, txn, &nope, "kargil", "moved", "admin1", NOW, id,
                                           msg, sizeof(msg)));
    assert_int_equal(rc, -SK_E_NOT_FOUND);
    CENTRE_TXN(&leh, sk_xferstore_send_txn(leh.s, txn, &received, "kargil", "moved", "admin1", NOW,
                                           id, msg, sizeof(msg)));
    assert_int_equal(rc, -SK_E_STATE);
    CENTRE_TXN(&leh, sk_xferstore_send_txn(leh.s, txn, &rec, "Kargil!", "moved", "admin1", NOW, id,
                                           msg, sizeof(msg)));
    assert_int_equal(rc, -SK_E_BAD_VALUE);
    CENTRE_TXN(&leh, sk_xferstore_send_txn(leh.s, txn, &rec, "kargil", "she moved", "admin1", NOW,
                                           id, msg, sizeof(msg)));
    assert_int_equal(rc, 0);
    CENTRE_TXN(&leh, sk_xferstore_send_txn(leh.s, txn, &rec, "kargil", "again", "admin1", NOW,
                                           other, msg, sizeof(msg)));
    assert_int_equal(rc, -SK_E_STATE);

    /* the hub */
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_OFFER, id, "zanskar", NULL, NULL, 0, NULL, NULL),
                     -SK_E_NOT_FOUND);
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_OFFER, id, "fw1", NULL, NULL, 0, NULL, NULL),
                     -SK_E_NOT_FOUND); /* a worker, not a centre */
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_OFFER, id, "leh", NULL, NULL, 0, NULL, NULL),
                     -SK_E_BAD_VALUE);
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_OFFER, id, "kargil", NULL, NULL, 0, &it, &n), 0);
    assert_int_equal(it.state, SK_XFER_S_OFFERED);
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_OFFER, id, "kargil", NULL, NULL, 0, &it, &n), 0);
    assert_int_equal(it.state, SK_XFER_S_OFFERED);
    assert_int_equal(hub(&hub_s, "nubra", SK_XFER_OFFER, id, "kargil", NULL, NULL, 0, NULL, NULL),
                     -SK_E_STATE); /* another centre's id */
    assert_int_equal(hub(&hub_s, "nubra", SK_XFER_LIST, NULL, NULL, NULL, NULL, 0, NULL, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(hub(&hub_s, "nubra", SK_XFER_FETCH, id, NULL, NULL, NULL, 0, NULL, NULL),
                     -SK_E_NOT_FOUND);
    uint8_t blob[200];
    memset(blob, 0x5c, sizeof(blob));
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_SEAL, id, NULL, NULL, blob, 100, NULL, NULL),
                     -SK_E_STATE); /* not accepted yet */
    assert_int_equal(hub(&hub_s, "kargil", SK_XFER_LIST, NULL, NULL, NULL, NULL, 0, &it, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(it.from, "leh");

    /* Kargil learns of it, its administrator accepts it */
    assert_int_equal(sk_xfer_keygen(priv, pub), 0);
    sk_xrow in;
    memset(&in, 0, sizeof(in));
    memcpy(in.id, id, SK_XFER_ID_LEN);
    in.kind = SK_XROW_IN;
    in.state = SK_XIN_PENDING;
    snprintf(in.from, sizeof(in.from), "leh");
    snprintf(in.to, sizeof(in.to), "kargil");
    CENTRE_TXN(&kgl, sk_xrow_put_txn(kgl.s, txn, &in));
    assert_int_equal(rc, 0);
    CENTRE_TXN(&kgl,
               sk_xferstore_decide_txn(kgl.s, txn, id, 1, 99, "admin9", NOW, msg, sizeof(msg)));
    assert_int_equal(rc, -SK_E_BAD_VALUE); /* no such district here */
    CENTRE_TXN(&kgl, sk_xferstore_decide_txn(kgl.s, txn, id, 1, SK_DISTRICT_KARGIL, "admin9", NOW,
                                             msg, sizeof(msg)));
    assert_int_equal(rc, 0);
    CENTRE_TXN(&kgl,
               sk_xferstore_decide_txn(kgl.s, txn, id, 0, 0, "admin9", NOW, msg, sizeof(msg)));
    assert_int_equal(rc, -SK_E_STATE); /* decided already */
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_ACCEPT, id, NULL, pub, NULL, 0, NULL, NULL),
                     -SK_E_FORBIDDEN);
    assert_int_equal(hub(&hub_s, "kargil", SK_XFER_ACCEPT, id, NULL, pub, NULL, 0, &it, &n), 0);
    assert_int_equal(it.state, SK_XFER_S_ACCEPTED);
    assert_memory_equal(it.key, pub, 32);

    /* Leh seals its case to that key */
    sk_xrow out;
    sk_buf plain = SK_BUF_INIT, sealed = SK_BUF_INIT, opened = SK_BUF_INIT;
    MDB_txn *rtxn;
    assert_int_equal(mdb_txn_begin(sk_store_env(leh.s), NULL, MDB_RDONLY, &rtxn), 0);
    assert_int_equal(sk_xrow_get_txn(leh.s, rtxn, SK_XROW_OUT, id, &out), 0);
    assert_int_equal(sk_xferstore_payload_txn(leh.s, rtxn, &out, &plain), 0);
    mdb_txn_abort(rtxn);
    assert_int_equal(sk_xfer_seal(&sealed, it.key, id, "leh", "kargil", plain.data, plain.len), 0);
    assert_int_equal(
        hub(&hub_s, "kargil", SK_XFER_SEAL, id, NULL, NULL, sealed.data, sealed.len, NULL, NULL),
        -SK_E_FORBIDDEN);
    assert_int_equal(
        hub(&hub_s, "leh", SK_XFER_SEAL, id, NULL, NULL, sealed.data, sealed.len, &it, &n), 0);
    assert_int_equal(it.state, SK_XFER_S_SEALED);
    assert_int_equal(it.sealed_len, 0); /* only a fetch carries the bytes */
    assert_int_equal(hub(&hub_s, "kargil", SK_XFER_FETCH, id, NULL, NULL, NULL, 0, &it, &n), 0);
    assert_int_equal(it.sealed_len, sealed.len);
    assert_memory_equal(it.sealed, sealed.data, sealed.len);
    assert_int_equal(sk_xfer_open(&opened, priv, id, "leh", "kargil", it.sealed, it.sealed_len), 0);

    /* Kargil applies it: a payload that does not decode applies nothing, the real one once */
    uint64_t before = records(&kgl);
    static const uint8_t junk[] = {0x81, 0x09, 0x01};
    CENTRE_TXN(&kgl,
               sk_xferstore_apply_txn(kgl.s, txn, id, junk, sizeof(junk), NOW, msg, sizeof(msg)));
    assert_int_not_equal(rc, 0);
    assert_int_equal(records(&kgl), before);
    CENTRE_TXN(&kgl, sk_xferstore_apply_txn(kgl.s, txn, id, opened.data, opened.len, NOW, msg,
                                            sizeof(msg)));
    assert_int_equal(rc, 0);
    CENTRE_TXN(&kgl, sk_xferstore_apply_txn(kgl.s, txn, id, opened.data, opened.len, NOW, msg,
                                            sizeof(msg)));
    assert_int_equal(rc, 0);
    assert_int_equal(records(&kgl), before + 1);
    assert_int_equal(mdb_txn_begin(sk_store_env(kgl.s), NULL, MDB_RDONLY, &rtxn), 0);
    assert_int_equal(sk_xrow_get_txn(kgl.s, rtxn, SK_XROW_IN, id, &in), 0);
    mdb_txn_abort(rtxn);
    assert_int_equal(in.state, SK_XIN_APPLIED);
    assert_int_equal(strncmp(in.case_no, "KGL-2026-", 9), 0);
    sk_record made;
    char got[64];
    uint64_t v = 0;
    sk_record_init(&made);
    assert_int_equal(sk_store_record_get(kgl.s, &in.record, &made), 0);
    assert_memory_not_equal(made.id.b, rec.b, 16); /* a case of its own */
    assert_int_equal(sk_case_get_str(&made, SK_F_PHONE, got, sizeof(got)), 0);
    assert_string_equal(got, "+919419100888");
    assert_int_equal(sk_case_get_uint(&made, SK_F_DISTRICT, &v), 0);
    assert_int_equal(v, SK_DISTRICT_KARGIL);
    assert_int_equal(sk_case_get_uint(&made, SK_F_STATUS, &v), 0);
    assert_int_equal(v, SK_STATUS_ACCEPTED);
    int notes = 0;
    for (uint32_t i = 0; i < made.nentries; i++)
        notes += made.entries[i].list == SK_LIST_CASENOTE &&
                 memmem(made.entries[i].val, made.entries[i].len, "Spoke with her sister", 21);
    assert_int_equal(notes, 1);
    sk_record_free(&made);
    hist_find hf = {lehno, 0};
    assert_int_equal(sk_store_history_list(kgl.s, &in.record, hist_one, &hf), 0);
    assert_int_equal(hf.found, 1);

    /* the hub: applied (the bytes go), then Leh closes its case, once */
    assert_int_equal(hub(&hub_s, "kargil", SK_XFER_APPLIED, id, NULL, NULL, NULL, 0, &it, &n), 0);
    assert_int_equal(it.state, SK_XFER_S_APPLIED);
    assert_int_equal(hub(&hub_s, "kargil", SK_XFER_FETCH, id, NULL, NULL, NULL, 0, &it, &n), 0);
    assert_int_equal(it.sealed_len, 0);
    CENTRE_TXN(&leh, sk_xferstore_finish_txn(leh.s, txn, id, NOW, msg, sizeof(msg)));
    assert_int_equal(rc, 0);
    sk_record lr;
    sk_record_init(&lr);
    assert_int_equal(sk_store_record_get(leh.s, &rec, &lr), 0);
    uint64_t ver = lr.version;
    uint32_t tasks = 0;
    assert_int_equal(sk_case_get_uint(&lr, SK_F_STATUS, &v), 0);
    assert_int_equal(v, SK_STATUS_REFERRED);
    assert_int_equal(sk_case_get_uint(&lr, SK_F_REFERRED_TO, &v), 0);
    assert_int_equal(v, SK_DEST_OTHER_OSC);
    for (uint32_t i = 0; i < lr.nentries; i++)
        tasks += lr.entries[i].list == SK_LIST_TASK;
    assert_int_equal(tasks, 0); /* no visit to a woman who moved away */
    sk_record_free(&lr);
    CENTRE_TXN(&leh, sk_xferstore_finish_txn(leh.s, txn, id, NOW, msg, sizeof(msg)));
    assert_int_equal(rc, 0);
    sk_record_init(&lr);
    assert_int_equal(sk_store_record_get(leh.s, &rec, &lr), 0);
    assert_int_equal(lr.version, ver);
    sk_record_free(&lr);
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_CLOSE, id, NULL, NULL, NULL, 0, &it, &n), 0);
    assert_int_equal(it.state, SK_XFER_S_CLOSED);
    assert_int_equal(hub(&hub_s, "leh", SK_XFER_LIST, NULL, NULL, NULL, NULL, 0, NULL, &n), 0);
    assert_int_equal(n, 0);
    /* and sending it again is refused: it was transferred */
    CENTRE_TXN(&leh, sk_xferstore_send_txn(leh.s, txn, &rec, "kargil", "again", "admin1", NOW,
                                           other, msg, sizeof(msg)));
    assert_int_equal(rc, -SK_E_STATE);

    sk_buf_free(&plain);
    sk_buf_free(&sealed);
    sk_buf_free(&opened);
    sk_tst_close(&hub_s);
    sk_tst_close(&leh);
    sk_tst_close(&kgl);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_transfer_steps_on_stores),
})
