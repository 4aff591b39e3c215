/*
 * test_hub_deid.c - what of a case may reach a hub of centres (proto/sk_deid.h), the HUB_PUSH /
 * HUB_ACK codec (proto/sk_hubmsg.h) and the hub's store of cases (storage/sk_hub.h), on a real
 * LMDB store in a temp dir:
 *  - the allowlist is exactly the documented table; a full case loses name, phone, block,
 *    village, age, date of birth, marital status, children, every text, consent details, the
 *    people and device, the case number and every entry; keeps district, category, age band,
 *    minor, statuses, services (with their stamps coarsened to 30 minutes) and capture time;
 *  - the pseudonym is keyed: stable for one key, different for another, never the id;
 *  - age band from age, else from date of birth at capture; a tombstone keeps no field;
 *  - the hub refuses a case holding a field off the table, an entry, or a past value of
 *    another field, before writing anything; a push sent again stores nothing new; an older
 *    version never replaces a newer one; the hub's figures are those of the centre's records.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_deid.h"
#include "sk_err.h"
#include "sk_hub.h"
#include "sk_hubmsg.h"
#include "sk_msg.h"
#include "sk_proc.h"
#include "sk_report.h"
#include "sk_store.h"
#include "sk_testval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1787999400000ull /* 2026-08-29, on a 30-minute boundary */
#define MIN_MS 60000ull

static const uint8_t k_key[SK_DEID_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t k_key2[SK_DEID_KEY_LEN] = {9, 8, 7};

/* Field key set to the packed value v (then freed), stamped hlc at version ver. */
static void set_val(sk_record *r, uint32_t key, sk_tval *v, sk_hlc hlc, uint64_t ver)
{
    assert_false(v->b.oom);
    assert_int_equal(sk_record_set(r, key, v->b.data, (uint32_t)v->b.len, hlc, ver), 0);
    sk_buf_free(&v->b);
}

static void set_uint(sk_record *r, uint32_t key, uint64_t x, uint64_t ms, uint64_t ver)
{
    sk_tval v;
    sk_tval_uint(&v, x);
    set_val(r, key, &v, SK_HLC_MAKE(ms, 7), ver);
}

static void set_str(sk_record *r, uint32_t key, const char *s, uint64_t ms, uint64_t ver)
{
    sk_tval v;
    sk_tval_str(&v, s);
    set_val(r, key, &v, SK_HLC_MAKE(ms, 1), ver);
}

/* A case as a centre holds it: every kind of field, an entry, accepted then given legal aid. */
static void full_case(sk_record *r)
{
    sk_record_init(r);
    assert_int_equal(sk_id_new(&r->id, T0), 0);
    r->version = 9;
    r->created_ver = 3;
    r->created = SK_HLC_MAKE(T0 + 7 * MIN_MS, 3);
    r->updated = SK_HLC_MAKE(T0 + 95 * MIN_MS, 2);
    r->flags = SK_REC_REVIEW;
    set_uint(r, SK_F_SCHEMA, 1, T0, 3);
    set_uint(r, SK_F_CREATED_AT, T0 + 7 * MIN_MS, T0, 3);
    set_uint(r, SK_F_DEVICE, 4, T0, 3);
    set_str(r, SK_F_WORKER, "asha-dolma", T0, 3);
    set_str(r, SK_F_CASE_NO, "LEH-2026-000123", T0, 5);
    set_uint(r, SK_F_DISTRICT, SK_DISTRICT_LEH, T0, 3);
    set_str(r, SK_F_BLOCK, "Nubra", T0, 3);
    set_str(r, SK_F_VILLAGE, "Diskit", T0, 3);
    set_uint(r, SK_F_TAKEN_AT, SK_TAKEN_ANGANWADI, T0, 3);
    set_str(r, SK_F_NAME, "Padma Angmo", T0, 3);
    set_uint(r, SK_F_AGE, 15, T0, 3);
    set_str(r, SK_F_PHONE, "+919419012345", T0, 3);
    set_uint(r, SK_F_MARITAL, SK_MARITAL_MARRIED, T0, 3);
    set_uint(r, SK_F_CHILDREN, 2, T0, 3);
    set_str(r, SK_F_NOTES, "husband beats her", T0, 3);
    set_str(r, SK_F_DOB, "2011-02-03", T0, 3);
    set_uint(r, SK_F_URGENCY, SK_URGENCY_URGENT, T0, 3);
    set_uint(r, SK_F_SOURCE, SK_SOURCE_FRONTLINE, T0, 3);
    set_uint(r, SK_F_STATUS, SK_STATUS_ACCEPTED, T0 + 40 * MIN_MS, 5);
    set_str(r, SK_F_STATUS_REASON, "seen by counsellor Tsering", T0, 5);
    set_str(r, SK_F_OWNER, "st-tsering", T0, 5);
    set_uint(r, SK_F_SERVICE_LEGAL, SK_SVC_GIVEN, T0 + 95 * MIN_MS, 9);
    set_uint(r, 60, 1, T0, 3); /* a field a newer schema may add: stays home */
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    sk_pack_cstr(&pk, "visited her at home");
    sk_id eid;
    assert_int_equal(sk_id_new(&eid, T0), 0);
    assert_int_equal(
        sk_record_add_entry(r, &eid, SK_LIST_FOLLOWUP, b.data, (uint32_t)b.len, r->created, 4), 0);
    sk_buf_free(&b);
}

static void test_keeps_exactly_the_table(void **state)
{
    (void)state;
    static const uint32_t kept[] = {
        SK_F_SCHEMA,          SK_F_CREATED_AT,     SK_F_DISTRICT,
        SK_F_TAKEN_AT,        SK_F_AGE_BAND,       SK_F_MINOR,
        SK_F_CONCERNS,        SK_F_URGENCY,        SK_F_SOURCE,
        SK_F_STATUS,          SK_F_DECLINE_REASON, SK_F_REFERRED_TO,
        SK_F_SHELTER_START,   SK_F_SHELTER_DAYS,   SK_F_SERVICE_LEGAL,
        SK_F_SERVICE_MEDICAL, SK_F_SERVICE_POLICE, SK_F_SERVICE_COUNSELLING,
        SK_F_SERVICE_SHELTER};
    for (uint32_t k = 0; k < 200; k++) {
        int want = 0;
        for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
            want |= kept[i] == k;
        if (sk_deid_keeps(k) != want)
            fail_msg("field %u: keeps %d, the table says %d", k, sk_deid_keeps(k), want);
    }
}

static void test_full_case_loses_identity(void **state)
{
    (void)state;
    sk_record in, out;
    uint64_t u;
    int b;
    uint32_t bad = 0;
    full_case(&in);
    sk_record_init(&out);
    assert_int_equal(sk_deid_record(&out, &in, k_key), 0);
    /* exactly these fields, no entry */
    static const uint32_t want[] = {SK_F_SCHEMA,   SK_F_CREATED_AT,   SK_F_DISTRICT, SK_F_TAKEN_AT,
                                    SK_F_AGE_BAND, SK_F_MINOR,        SK_F_URGENCY,  SK_F_SOURCE,
                                    SK_F_STATUS,   SK_F_SERVICE_LEGAL};
    assert_int_equal(out.nfields, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(out.fields[i].key, want[i]);
    assert_int_equal(out.nentries, 0);
    assert_int_equal(sk_deid_check(&out, &bad), 0);
    /* the centre's record is refused as it is: its first field off the table is the device */
    assert_int_equal(sk_deid_check(&in, &bad), -SK_E_FORBIDDEN);
    assert_int_equal(bad, SK_F_DEVICE);
    /* derived: age 15 is the 12-17 band and a minor */
    assert_int_equal(sk_case_get_uint(&out, SK_F_AGE_BAND, &u), 0);
    assert_int_equal(u, SK_AGE_12_17);
    assert_int_equal(sk_case_get_bool(&out, SK_F_MINOR, &b), 0);
    assert_int_equal(b, 1);
    /* header kept, stamps coarsened to 30 minutes, counters dropped */
    assert_int_equal(out.version, 9);
    assert_int_equal(out.created_ver, 3);
    assert_int_equal(out.flags, SK_REC_REVIEW);
    assert_int_equal(out.created, SK_HLC_MAKE(T0, 0));
    assert_int_equal(out.updated, SK_HLC_MAKE(T0 + 90 * MIN_MS, 0));
    assert_int_equal(sk_case_get_uint(&out, SK_F_CREATED_AT, &u), 0);
    assert_int_equal(u, T0);
    const sk_field *f = sk_record_field(&out, SK_F_SERVICE_LEGAL);
    assert_non_null(f);
    assert_int_equal(f->hlc, SK_HLC_MAKE(T0 + 90 * MIN_MS, 0));
    assert_int_equal(f->ver, 9);
    /* the pseudonym: keyed, stable, never the id */
    sk_id p1, p2;
    assert_int_equal(sk_deid_pid(&p1, k_key, &in.id), 0);
    assert_int_equal(sk_deid_pid(&p2, k_key2, &in.id), 0);
    assert_memory_equal(out.id.b, p1.b, 16);
    assert_memory_not_equal(p1.b, p2.b, 16);
    assert_memory_not_equal(p1.b, in.id.b, 16);
    /* nothing of the identifying values anywhere in the wire form */
    sk_buf w = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &w);
    assert_int_equal(sk_record_pack(&pk, &out), 0);
    static const char *const secrets[] = {"Padma",      "9419012345", "Diskit",     "Nubra",
                                          "husband",    "Tsering",    "asha-dolma", "LEH-2026",
                                          "2011-02-03", "visited"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        assert_null(memmem(w.data, w.len, secrets[i], strlen(secrets[i])));
    assert_null(memmem(w.data, w.len, in.id.b, 16));
    sk_buf_free(&w);
    sk_record_free(&in);
    sk_record_free(&out);
}

static void test_band_from_dob_and_tombstone(void **state)
{
    (void)state;
    sk_record in, out;
    uint64_t u;
    int b;
    full_case(&in);
    sk_record_unset(&in, SK_F_AGE);
    sk_record_unset(&in, SK_F_DOB);
    set_str(&in, SK_F_DOB, "1990-01-01", T0, 3); /* 36 at capture */
    sk_record_init(&out);
    assert_int_equal(sk_deid_record(&out, &in, k_key), 0);
    assert_int_equal(sk_case_get_uint(&out, SK_F_AGE_BAND, &u), 0);
    assert_int_equal(u, SK_AGE_30_44);
    assert_int_equal(sk_case_get_bool(&out, SK_F_MINOR, &b), 0);
    assert_int_equal(b, 0);
    assert_null(sk_record_field(&out, SK_F_DOB));
    in.flags |= SK_REC_TOMBSTONE;
    assert_int_equal(sk_deid_record(&out, &in, k_key), 0);
    assert_int_equal(out.nfields, 0);
    assert_int_equal(out.flags, SK_REC_TOMBSTONE | SK_REC_REVIEW);
    sk_record_free(&in);
    sk_record_free(&out);
}

/* ---- the codec ------------------------------------------------------------------------------ */

/* One HUB_PUSH frame body of the given records (each with one past status value). */
static void push_body(sk_buf *frame, const sk_record *recs, uint32_t n, uint64_t after,
                      uint64_t upto, uint32_t past_key)
{
    sk_buf items = SK_BUF_INIT, rec = SK_BUF_INIT;
    msgpack_packer ipk, rpk;
    sk_packer_init(&ipk, &items);
    sk_packer_init(&rpk, &rec);
    for (uint32_t i = 0; i < n; i++) {
        sk_hub_past past = {past_key, 3, SK_HLC_MAKE(T0, 0), SK_STATUS_RECEIVED};
        rec.len = 0;
        assert_int_equal(sk_record_pack(&rpk, &recs[i]), 0);
        sk_hub_item_pack(&ipk, rec.data, rec.len, &past, 1);
    }
    sk_hub_push p = {after, upto, 77, items.data, items.len, n, T0};
    assert_int_equal(sk_hub_push_encode(frame, 5, &p), 0);
    sk_buf_free(&items);
    sk_buf_free(&rec);
}

static void test_codec(void **state)
{
    (void)state;
    sk_record in, out;
    full_case(&in);
    sk_record_init(&out);
    assert_int_equal(sk_deid_record(&out, &in, k_key), 0);
    sk_buf f = SK_BUF_INIT;
    push_body(&f, &out, 1, 4, 9, SK_F_STATUS);
    sk_hub_push p;
    uint32_t rid = 0;
    assert_int_equal(sk_hub_push_decode(f.data + 4, f.len - 4, &rid, &p), 0);
    assert_int_equal(rid, 5);
    assert_int_equal(p.after, 4);
    assert_int_equal(p.upto, 9);
    assert_int_equal(p.epoch, 77);
    assert_int_equal(p.nitems, 1);
    sk_mp m, pm;
    sk_hub_item it;
    sk_hub_past pv;
    sk_hub_items_begin(&m, &p);
    assert_int_equal(sk_hub_items_next(&m, &it), 0);
    assert_int_equal(it.npast, 1);
    sk_hub_past_begin(&pm, &it);
    assert_int_equal(sk_hub_past_next(&pm, &pv), 0);
    assert_int_equal(pv.key, SK_F_STATUS);
    assert_int_equal(pv.code, SK_STATUS_RECEIVED);
    /* another type is not a HUB_PUSH; a cursor going back is refused */
    uint32_t r2;
    sk_hub_ack a = {9, 1, T0}, a2;
    sk_buf af = SK_BUF_INIT;
    assert_int_equal(sk_hub_ack_encode(&af, 6, &a), 0);
    assert_int_equal(sk_hub_push_decode(af.data + 4, af.len - 4, &r2, &p), -SK_E_UNKNOWN_TYPE);
    assert_int_equal(sk_hub_ack_decode(af.data + 4, af.len - 4, &r2, &a2), 0);
    assert_int_equal(r2, 6);
    assert_int_equal(a2.upto, 9);
    assert_int_equal(a2.stored, 1);
    sk_buf bad = SK_BUF_INIT;
    push_body(&bad, &out, 1, 4, 9, SK_F_STATUS);
    /* patch "after" (4, a fixint right after key 1) to 10 > upto */
    uint8_t *k1 = memchr(bad.data + 4, 0x01, bad.len - 4);
    while (k1 && k1[1] != 0x04)
        k1 = memchr(k1 + 1, 0x01, (size_t)(bad.data + bad.len - k1 - 1));
    assert_non_null(k1);
    k1[1] = 0x0a;
    assert_int_equal(sk_hub_push_decode(bad.data + 4, bad.len - 4, &r2, &p), -SK_E_BAD_VALUE);
    sk_buf_free(&bad);
    sk_buf_free(&af);
    sk_buf_free(&f);
    sk_record_free(&in);
    sk_record_free(&out);
}

/* ---- the hub's store -------------------------------------------------------------------------- */

static char g_dir[256];
static sk_store *g_st;

static int store_setup(void **state)
{
    (void)state;
    if (sk_tmpdir_make(g_dir, sizeof(g_dir), "sakhi-hubdeid"))
        return -1;
    char data[300];
    snprintf(data, sizeof(data), "%s/data", g_dir);
    return sk_store_open(&g_st, data, 0) ? -1 : 0;
}

static int store_teardown(void **state)
{
    (void)state;
    sk_store_close(g_st);
    g_st = NULL;
    sk_tmpdir_remove(g_dir);
    return 0;
}

/* Store the push in f as centre: the code; *stored, *bad_item, *bad_key filled. */
static int store_push(const sk_buf *f, const char *centre, uint32_t *stored, uint32_t *bad_item,
                      uint32_t *bad_key)
{
    sk_hub_push p;
    uint32_t rid;
    MDB_txn *txn;
    assert_int_equal(sk_hub_push_decode(f->data + 4, f->len - 4, &rid, &p), 0);
    assert_int_equal(sk_store_write_begin(g_st, &txn), 0);
    int rc = sk_hub_store_txn(g_st, txn, centre, &p, T0, stored, bad_item, bad_key);
    assert_int_equal(sk_store_write_commit(g_st, txn), 0);
    return rc;
}

static uint64_t held_cases(const char *centre)
{
    sk_report rp;
    MDB_txn *txn;
    sk_report_init(&rp, 0, UINT64_MAX);
    assert_int_equal(mdb_txn_begin(sk_store_env(g_st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_hub_report_txn(g_st, txn, centre, &rp), 0);
    mdb_txn_abort(txn);
    return rp.captured.total;
}

static void test_store_refuses_and_is_idempotent(void **state)
{
    (void)state;
    sk_record in, d[2];
    uint32_t stored, bad_item, bad_key;
    full_case(&in);
    sk_record_init(&d[0]);
    sk_record_init(&d[1]);
    assert_int_equal(sk_deid_record(&d[0], &in, k_key), 0);
    in.id.b[15] ^= 1;
    assert_int_equal(sk_deid_record(&d[1], &in, k_key), 0);
    sk_buf f = SK_BUF_INIT;
    /* a name in the second case: the whole push is refused, nothing written */
    sk_record_free(&in); /* in keeps the de-identified case, to put back below */
    sk_record_init(&in);
    assert_int_equal(sk_record_copy(&in, &d[1]), 0);
    set_str(&d[1], SK_F_NAME, "Padma Angmo", T0, 3);
    push_body(&f, d, 2, 0, 9, SK_F_STATUS);
    assert_int_equal(store_push(&f, "leh", &stored, &bad_item, &bad_key), -SK_E_FORBIDDEN);
    assert_int_equal(bad_item, 1);
    assert_int_equal(bad_key, SK_F_NAME);
    assert_int_equal(held_cases("leh"), 0);
    /* a past value of a field the figures do not count is refused too */
    sk_record_free(&d[1]);
    sk_record_init(&d[1]);
    assert_int_equal(sk_record_copy(&d[1], &in), 0);
    f.len = 0;
    push_body(&f, d, 2, 0, 9, SK_F_NAME);
    assert_int_equal(store_push(&f, "leh", &stored, &bad_item, &bad_key), -SK_E_FORBIDDEN);
    assert_int_equal(held_cases("leh"), 0);
    /* stored once; the same push again stores nothing; another centre's cases are its own */
    f.len = 0;
    push_body(&f, d, 2, 0, 9, SK_F_STATUS);
    assert_int_equal(store_push(&f, "leh", &stored, &bad_item, &bad_key), 0);
    assert_int_equal(stored, 2);
    assert_int_equal(store_push(&f, "leh", &stored, &bad_item, &bad_key), 0);
    assert_int_equal(stored, 0);
    assert_int_equal(held_cases("leh"), 2);
    assert_int_equal(held_cases("kargil"), 0);
    assert_int_equal(held_cases(NULL), 2);
    /* an older version of a case never replaces a newer one; a newer one does */
    d[0].version = 8;
    f.len = 0;
    push_body(&f, d, 1, 0, 9, SK_F_STATUS);
    assert_int_equal(store_push(&f, "leh", &stored, &bad_item, &bad_key), 0);
    assert_int_equal(stored, 0);
    d[0].version = 12;
    d[0].flags |= SK_REC_TOMBSTONE; /* deleted at the centre: no longer counted */
    f.len = 0;
    push_body(&f, d, 1, 9, 12, SK_F_STATUS);
    assert_int_equal(store_push(&f, "leh", &stored, &bad_item, &bad_key), 0);
    assert_int_equal(stored, 1);
    assert_int_equal(held_cases("leh"), 1);
    sk_buf_free(&f);
    sk_record_free(&in);
    sk_record_free(&d[0]);
    sk_record_free(&d[1]);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_keeps_exactly_the_table),
    cmocka_unit_test(test_full_case_loses_identity),
    cmocka_unit_test(test_band_from_dob_and_tombstone),
    cmocka_unit_test(test_codec),
    cmocka_unit_test_setup_teardown(test_store_refuses_and_is_idempotent, store_setup,
                                    store_teardown),
})
