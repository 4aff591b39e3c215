/*
 * test_xfer_seal.c - the parts of a case transfer that need no process (proto/sk_xfer.h):
 *  - a sealed case opens with the receiver's key to exactly the bytes sealed, and does not
 *    open (BAD_VALUE, nothing given back) with another key, under another transfer id or pair
 *    of centres, with any one byte changed, or cut short;
 *  - HUB_XFER and HUB_XFER_OF round-trip exactly; a request missing what its op needs, an op
 *    out of range, a bad centre name or a key of the wrong length is refused by the decoder;
 *  - the hub's state machine: every (state, step, side) gives the documented next state or
 *    refusal: only in order, only by the side the step belongs to, a step sent again changes
 *    nothing;
 *  - the payload keeps the record, its earlier values, the case number and the reason.
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

#include "sk_err.h"
#include "sk_msg.h"
#include "sk_xfer.h"

#include <string.h>

static const uint8_t k_id[SK_XFER_ID_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static void test_seal_opens_only_as_sealed(void **state)
{
    (void)state;
    uint8_t priv[32], pub[32], priv2[32], pub2[32], pub3[32], id2[SK_XFER_ID_LEN];
    uint8_t plain[300];
    for (size_t i = 0; i < sizeof(plain); i++)
        plain[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(sk_xfer_keygen(priv, pub), 0);
    assert_int_equal(sk_xfer_keygen(priv2, pub2), 0);
    assert_int_equal(sk_xfer_pub_of(priv, pub3), 0);
    assert_memory_equal(pub, pub3, 32);
    sk_buf s = SK_BUF_INIT, o = SK_BUF_INIT;
    assert_int_equal(sk_xfer_seal(&s, pub, k_id, "leh", "kargil", plain, sizeof(plain)), 0);
    assert_int_equal(s.len, sizeof(plain) + SK_XFER_SEAL_OVERHEAD);
    assert_memory_equal(s.data, "SKX1", 4);
    assert_null(memmem(s.data, s.len, plain, 16)); /* not in the clear */
    assert_int_equal(sk_xfer_open(&o, priv, k_id, "leh", "kargil", s.data, s.len), 0);
    assert_int_equal(o.len, sizeof(plain));
    assert_memory_equal(o.data, plain, sizeof(plain));
    /* a second seal of the same bytes differs (fresh key and nonce) */
    sk_buf s2 = SK_BUF_INIT;
    assert_int_equal(sk_xfer_seal(&s2, pub, k_id, "leh", "kargil", plain, sizeof(plain)), 0);
    assert_int_equal(s2.len, s.len);
    assert_memory_not_equal(s2.data, s.data, s.len);
    /* another key, transfer or pair of centres: does not open */
    o.len = 0;
    assert_int_equal(sk_xfer_open(&o, priv2, k_id, "leh", "kargil", s.data, s.len),
                     -SK_E_BAD_VALUE);
    memcpy(id2, k_id, sizeof(id2));
    id2[15] ^= 1;
    assert_int_equal(sk_xfer_open(&o, priv, id2, "leh", "kargil", s.data, s.len), -SK_E_BAD_VALUE);
    assert_int_equal(sk_xfer_open(&o, priv, k_id, "nubra", "kargil", s.data, s.len),
                     -SK_E_BAD_VALUE);
    assert_int_equal(sk_xfer_open(&o, priv, k_id, "leh", "kargi", s.data, s.len), -SK_E_BAD_VALUE);
    assert_int_equal(o.len, 0);
    /* every single byte changed: does not open, nothing given back */
    for (size_t i = 0; i < s.len; i++) {
        s.data[i] ^= 0x40;
        assert_int_equal(sk_xfer_open(&o, priv, k_id, "leh", "kargil", s.data, s.len),
                         -SK_E_BAD_VALUE);
        assert_int_equal(o.len, 0);
        s.data[i] ^= 0x40;
    }
    /* cut short, or grown */
    for (size_t n = 0; n < s.len; n += 17)
        assert_int_equal(sk_xfer_open(&o, priv, k_id, "leh", "kargil", s.data, n), -SK_E_BAD_VALUE);
    assert_int_equal(sk_buf_append(&s, "x", 1), 0);
    assert_int_equal(sk_xfer_open(&o, priv, k_id, "leh", "kargil", s.data, s.len), -SK_E_BAD_VALUE);
    /* too big to seal */
    sk_buf big = SK_BUF_INIT;
    assert_int_equal(sk_xfer_seal(&big, pub, k_id, "leh", "kargil", plain, SK_XFER_MAX_SEALED),
                     -SK_E_TOO_LONG);
    assert_int_equal(big.len, 0);
    sk_buf_free(&s);
    sk_buf_free(&s2);
    sk_buf_free(&o);
}

/* Encode rq, decode it back (the body after the 4-byte length). */
static int roundtrip(const sk_xfer_req *rq, sk_xfer_req *back, sk_buf *f)
{
    uint32_t rid = 0;
    f->len = 0;
    assert_int_equal(sk_xfer_req_encode(f, 77, rq), 0);
    int rc = sk_xfer_req_decode(f->data + 4, f->len - 4, &rid, back);
    assert_int_equal(rid, 77);
    return rc;
}

static void test_messages_roundtrip_and_refuse(void **state)
{
    (void)state;
    sk_buf f = SK_BUF_INIT;
    sk_xfer_req rq, back;
    uint8_t blob[100];
    memset(blob, 0xab, sizeof(blob));
    memset(&rq, 0, sizeof(rq));
    rq.op = SK_XFER_OFFER;
    rq.has_id = 1;
    memcpy(rq.id, k_id, sizeof(k_id));
    snprintf(rq.to, sizeof(rq.to), "%s", "kargil");
    assert_int_equal(roundtrip(&rq, &back, &f), 0);
    assert_int_equal(back.op, SK_XFER_OFFER);
    assert_memory_equal(back.id, k_id, sizeof(k_id));
    assert_string_equal(back.to, "kargil");
    rq.op = SK_XFER_SEAL;
    rq.to[0] = '\0';
    rq.sealed = blob;
    rq.sealed_len = sizeof(blob);
    assert_int_equal(roundtrip(&rq, &back, &f), 0);
    assert_int_equal(back.sealed_len, sizeof(blob));
    assert_memory_equal(back.sealed, blob, sizeof(blob));
    rq.sealed = NULL;
    rq.sealed_len = 0;
    rq.op = SK_XFER_ACCEPT;
    rq.has_key = 1;
    memset(rq.key, 0x5a, sizeof(rq.key));
    assert_int_equal(roundtrip(&rq, &back, &f), 0);
    assert_int_equal(back.has_key, 1);
    assert_memory_equal(back.key, rq.key, 32);
    /* the encoder refuses what the decoder would */
    sk_xfer_req bad = {.op = SK_XFER_OFFER, .has_id = 1};
    assert_int_equal(sk_xfer_req_encode(&f, 1, &bad), -SK_E_BAD_VALUE); /* no `to` */
    bad.op = 9;
    assert_int_equal(sk_xfer_req_encode(&f, 1, &bad), -SK_E_BAD_VALUE);
    bad.op = SK_XFER_OFFER;
    snprintf(bad.to, sizeof(bad.to), "%s", "Kargil"); /* capitals are no centre name */
    assert_int_equal(sk_xfer_req_encode(&f, 1, &bad), -SK_E_BAD_VALUE);
    /* hand-made bodies the decoder refuses */
    static const uint8_t no_id[] = {0x93, 22, 1, 0x81, 1, SK_XFER_FETCH};
    static const uint8_t op_big[] = {0x93, 22, 1, 0x81, 1, 9};
    static const uint8_t short_key[] = {0x93, 22, 1,  0x83, 1,  2, 2,    0xc4, 16, 1,
                                        2,    3,  4,  5,    6,  7, 8,    9,    10, 11,
                                        12,   13, 14, 15,   16, 4, 0xc4, 1,    0};
    static const uint8_t list[] = {0x93, 22, 1, 0x81, 1, SK_XFER_LIST};
    uint32_t rid;
    assert_int_equal(sk_xfer_req_decode(no_id, sizeof(no_id), &rid, &back), -SK_E_MISSING_FIELD);
    assert_int_equal(sk_xfer_req_decode(op_big, sizeof(op_big), &rid, &back), -SK_E_BAD_VALUE);
    assert_int_not_equal(sk_xfer_req_decode(short_key, sizeof(short_key), &rid, &back), 0);
    assert_int_equal(sk_xfer_req_decode(list, sizeof(list), &rid, &back), 0);
    assert_int_equal(back.op, SK_XFER_LIST);
    /* HUB_XFER_OF: two items, one with a key and sealed bytes */
    sk_buf items = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &items);
    sk_xfer_item it = {0}, got;
    memcpy(it.id, k_id, sizeof(k_id));
    snprintf(it.from, sizeof(it.from), "%s", "leh");
    snprintf(it.to, sizeof(it.to), "%s", "kargil");
    it.state = SK_XFER_S_OFFERED;
    sk_xfer_item_pack(&pk, &it);
    it.state = SK_XFER_S_SEALED;
    it.has_key = 1;
    memset(it.key, 7, 32);
    it.sealed = blob;
    it.sealed_len = sizeof(blob);
    sk_xfer_item_pack(&pk, &it);
    f.len = 0;
    assert_int_equal(sk_xfer_of_encode(&f, 5, items.data, items.len, 2), 0);
    sk_xfer_of of;
    sk_mp m;
    assert_int_equal(sk_xfer_of_decode(f.data + 4, f.len - 4, &rid, &of), 0);
    assert_int_equal(rid, 5);
    assert_int_equal(of.nitems, 2);
    sk_xfer_items_begin(&m, &of);
    assert_int_equal(sk_xfer_items_next(&m, &got), 0);
    assert_int_equal(got.state, SK_XFER_S_OFFERED);
    assert_int_equal(got.has_key, 0);
    assert_int_equal(got.sealed_len, 0);
    assert_string_equal(got.from, "leh");
    assert_int_equal(sk_xfer_items_next(&m, &got), 0);
    assert_int_equal(got.state, SK_XFER_S_SEALED);
    assert_int_equal(got.has_key, 1);
    assert_memory_equal(got.key, it.key, 32);
    assert_int_equal(got.sealed_len, sizeof(blob));
    assert_memory_equal(got.sealed, blob, sizeof(blob));
    /* the other type is not this one */
    assert_int_equal(sk_xfer_req_decode(f.data + 4, f.len - 4, &rid, &back), -SK_E_UNKNOWN_TYPE);
    sk_buf_free(&items);
    sk_buf_free(&f);
}

static void test_hub_state_machine(void **state)
{
    (void)state;
    enum { F = SK_XFER_FROM, T = SK_XFER_TO, O = SK_XFER_OTHER };
    enum {
        N = SK_XFER_NONE,
        OF = SK_XFER_S_OFFERED,
        AC = SK_XFER_S_ACCEPTED,
        DE = SK_XFER_S_DECLINED,
        SE = SK_XFER_S_SEALED,
        AP = SK_XFER_S_APPLIED,
        CL = SK_XFER_S_CLOSED
    };
    static const struct {
        uint32_t cur, op, side;
        int rc;
        uint32_t next;
    } rows[] = {
        {N, SK_XFER_OFFER, F, 0, OF},
        {OF, SK_XFER_OFFER, F, 0, OF}, /* sent again */
        {OF, SK_XFER_OFFER, T, -SK_E_NOT_FOUND, OF},
        {N, SK_XFER_ACCEPT, T, -SK_E_NOT_FOUND, N},
        {OF, SK_XFER_ACCEPT, O, -SK_E_NOT_FOUND, OF}, /* a third centre learns nothing */
        {OF, SK_XFER_ACCEPT, F, -SK_E_FORBIDDEN, OF}, /* the sender cannot accept for it */
        {OF, SK_XFER_ACCEPT, T, 0, AC},
        {AC, SK_XFER_ACCEPT, T, 0, AC},
        {DE, SK_XFER_ACCEPT, T, -SK_E_STATE, DE},
        {OF, SK_XFER_DECLINE, T, 0, DE},
        {AC, SK_XFER_DECLINE, T, -SK_E_STATE, AC},
        {OF, SK_XFER_SEAL, F, -SK_E_STATE, OF}, /* not approved by the receiver yet */
        {DE, SK_XFER_SEAL, F, -SK_E_STATE, DE},
        {AC, SK_XFER_SEAL, T, -SK_E_FORBIDDEN, AC},
        {AC, SK_XFER_SEAL, F, 0, SE},
        {SE, SK_XFER_SEAL, F, 0, SE},
        {AC, SK_XFER_APPLIED, T, -SK_E_STATE, AC},
        {SE, SK_XFER_APPLIED, F, -SK_E_FORBIDDEN, SE},
        {SE, SK_XFER_APPLIED, T, 0, AP},
        {AP, SK_XFER_APPLIED, T, 0, AP},
        {SE, SK_XFER_CLOSE, F, -SK_E_STATE, SE}, /* not before the receiver applied it */
        {AP, SK_XFER_CLOSE, T, -SK_E_FORBIDDEN, AP},
        {AP, SK_XFER_CLOSE, F, 0, CL},
        {DE, SK_XFER_CLOSE, F, 0, CL},
        {CL, SK_XFER_CLOSE, F, 0, CL},
        {SE, SK_XFER_FETCH, T, 0, SE},
        {SE, SK_XFER_FETCH, O, -SK_E_NOT_FOUND, SE},
        {N, SK_XFER_FETCH, T, -SK_E_NOT_FOUND, N},
        {OF, 0, F, -SK_E_BAD_VALUE, OF},
        {OF, 9, F, -SK_E_BAD_VALUE, OF},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint32_t next = 99;
        int rc = sk_xfer_hub_step(rows[i].cur, rows[i].op, rows[i].side, &next);
        if (rc != rows[i].rc || next != rows[i].next)
            fail_msg("row %zu (%s, %s): rc %d next %u", i, sk_xfer_state_name(rows[i].cur),
                     sk_xfer_op_name(rows[i].op), rc, next);
    }
}

static void test_payload_roundtrip(void **state)
{
    (void)state;
    uint8_t rec[] = {0x91, 0x01}, v1[] = {0xa3, 'L', 'E', 'H'}, v2[] = {0x03};
    sk_xfer_past past[2] = {{5, 100, 3, v1, sizeof(v1)}, {26, 200, 4, v2, sizeof(v2)}};
    sk_buf b = SK_BUF_INIT;
    sk_xfer_payload pl;
    sk_xfer_past p;
    sk_mp m;
    assert_int_equal(
        sk_xfer_payload_pack(&b, rec, sizeof(rec), past, 2, "LEH-2026-000001", "moved"), 0);
    assert_int_equal(sk_xfer_payload_decode(b.data, b.len, &pl), 0);
    assert_int_equal(pl.rec_len, sizeof(rec));
    assert_memory_equal(pl.rec, rec, sizeof(rec));
    assert_string_equal(pl.case_no, "LEH-2026-000001");
    assert_string_equal(pl.reason, "moved");
    assert_int_equal(pl.npast, 2);
    sk_xfer_past_begin(&m, &pl);
    assert_int_equal(sk_xfer_past_next(&m, &p), 0);
    assert_int_equal(p.key, 5);
    assert_int_equal(p.hlc, 100);
    assert_int_equal(p.ver, 3);
    assert_memory_equal(p.val, v1, sizeof(v1));
    assert_int_equal(sk_xfer_past_next(&m, &p), 0);
    assert_int_equal(p.key, 26);
    /* cut anywhere: refused */
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(sk_xfer_payload_decode(b.data, n, &pl), 0);
    sk_buf_free(&b);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_seal_opens_only_as_sealed),
    cmocka_unit_test(test_messages_roundtrip_and_refuse),
    cmocka_unit_test(test_hub_state_machine),
    cmocka_unit_test(test_payload_roundtrip),
})
