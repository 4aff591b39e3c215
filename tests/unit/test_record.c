/*
 * test_record.c - unit tests for ids, the hybrid logical clock, and the record/change containers
 * and their wire codec (sk_record.h, docs/PROTOCOL.md section 3).
 *
 * Encoding must be deterministic (pack -> unpack -> pack gives identical bytes, including
 * Devanagari and Tibetan text and the largest allowed sizes), and the decoders must refuse every
 * malformed or out-of-range input with its exact code and leave nothing allocated behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <stdlib.h>
#include <string.h>

#include "sk_buf.h"
#include "sk_err.h"
#include "sk_mp.h"
#include "sk_record.h"

#include "record_fixtures.h"

/* Limits wide enough for the largest legal record (values up to SK_MAX_VALUE). */
static const sk_mp_limits k_lim = {
    .max_depth = 16, .max_str = 65536, .max_bin = 65536, .max_items = 100000};

static sk_id id_from(uint8_t seed)
{
    sk_id id;
    for (int i = 0; i < 16; i++)
        id.b[i] = (uint8_t)(seed + i);
    return id;
}

/* ---- ids ---------------------------------------------------------------------------------- */

static void test_id_new_layout(void **state)
{
    (void)state;
    const uint64_t ms = 0x0123456789abull;
    sk_id a, b;
    assert_int_equal(sk_id_new(&a, ms), 0);
    assert_int_equal(sk_id_new(&b, ms), 0);
    const uint8_t want_ms[6] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab};
    assert_memory_equal(a.b, want_ms, 6);
    assert_int_equal(a.b[6] >> 4, 7);           /* version 7 */
    assert_int_equal(a.b[8] >> 6, 2);           /* variant 10 */
    assert_int_not_equal(sk_id_cmp(&a, &b), 0); /* 74 random bits differ */
    assert_false(sk_id_is_zero(&a));
    sk_id z;
    memset(&z, 0, sizeof(z));
    assert_true(sk_id_is_zero(&z));
}

static void test_id_time_order(void **state)
{
    (void)state;
    sk_id prev;
    assert_int_equal(sk_id_new(&prev, 1767225600000ull), 0);
    for (uint64_t i = 1; i <= 200; i++) {
        sk_id next;
        assert_int_equal(sk_id_new(&next, 1767225600000ull + i), 0);
        assert_int_equal(sk_id_cmp(&prev, &next), -1);
        assert_int_equal(sk_id_cmp(&next, &prev), 1);
        assert_int_equal(sk_id_cmp(&next, &next), 0);
        prev = next;
    }
}

static void test_id_str(void **state)
{
    (void)state;
    sk_id id = id_from(0xf0);
    char s[37];
    sk_id_to_str(&id, s);
    assert_string_equal(s, "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff");
    sk_id back;
    assert_int_equal(sk_id_from_str(&back, s), 0);
    assert_int_equal(sk_id_cmp(&id, &back), 0);
    assert_int_equal(sk_id_from_str(&back, "F0F1F2F3-F4F5-F6F7-F8F9-FAFBFCFDFEFF"), 0);
    assert_int_equal(sk_id_cmp(&id, &back), 0);
    assert_int_equal(sk_id_from_str(&back, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), 0);
    assert_int_equal(sk_id_cmp(&id, &back), 0);

    for (int i = 0; i < 50; i++) {
        sk_id r, p;
        assert_int_equal(sk_id_new(&r, 1767225600000ull + (uint64_t)i), 0);
        sk_id_to_str(&r, s);
        assert_int_equal(strlen(s), 36);
        assert_int_equal(sk_id_from_str(&p, s), 0);
        assert_int_equal(sk_id_cmp(&r, &p), 0);
    }
}

static void test_id_parse_errors(void **state)
{
    (void)state;
    sk_id out = id_from(1), keep = id_from(1);
    const char *bad[] = {
        "",
        "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfef",   /* 35 */
        "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff0", /* 37 */
        "g0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff",  /* not hex */
        "f0f1f2f3f-4f5-f6f7-f8f9-fafbfcfdfeff",  /* hyphen moved */
        "f0f1f2f3-f4f5-f6f7-f8f9+fafbfcfdfeff",  /* not a hyphen */
        "f0f1f2f3-f4f5f6f7f8f9fafbfcfdfeff",     /* some hyphens only (33) */
        "f0f1f2f3f4f5f6f7f8f9fafbfcfdfef-",      /* 32 with a hyphen */
        " 0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sk_id_from_str(&out, bad[i]), -SK_E_BAD_VALUE);
        assert_int_equal(sk_id_cmp(&out, &keep), 0); /* untouched on error */
    }
    assert_int_equal(sk_id_from_str(&out, NULL), -SK_E_BAD_VALUE);
}

/* ---- HLC ---------------------------------------------------------------------------------- */

static void test_hlc_monotonic(void **state)
{
    (void)state;
    sk_clock c = {0, 0};
    sk_hlc h1 = sk_clock_now(&c, 1000);
    assert_true(h1 == SK_HLC_MAKE(1000, 0));
    sk_hlc h2 = sk_clock_now(&c, 1000); /* same ms: counter */
    assert_true(h2 == SK_HLC_MAKE(1000, 1));
    sk_hlc h3 = sk_clock_now(&c, 400); /* wall clock jumped back */
    assert_true(h3 == SK_HLC_MAKE(1000, 2));
    sk_hlc h4 = sk_clock_now(&c, 1001);
    assert_true(h4 == SK_HLC_MAKE(1001, 0));

    /* Counter overflow carries into the milliseconds. */
    c.last = SK_HLC_MAKE(5000, 0xfffe);
    assert_true(sk_clock_now(&c, 10) == SK_HLC_MAKE(5000, 0xffff));
    assert_true(sk_clock_now(&c, 10) == SK_HLC_MAKE(5001, 0));
    assert_true(sk_clock_now(&c, 5001) == SK_HLC_MAKE(5001, 1));

    /* A long run with a clock going backwards stays strictly increasing. */
    sk_clock d = {0, 0};
    sk_hlc prev = 0;
    for (uint64_t i = 0; i < 100000; i++) {
        uint64_t wall = 2000000 - (i % 7 == 0 ? i : 0);
        sk_hlc h = sk_clock_now(&d, wall);
        assert_true(h > prev);
        prev = h;
    }
}

static void test_hlc_observe(void **state)
{
    (void)state;
    sk_clock c = {0, 0};
    sk_clock_now(&c, 1000);
    sk_clock_observe(&c, SK_HLC_MAKE(9000, 7));
    assert_true(c.last == SK_HLC_MAKE(9000, 7));
    assert_true(sk_clock_now(&c, 1001) == SK_HLC_MAKE(9000, 8));
    sk_clock_observe(&c, SK_HLC_MAKE(10, 0)); /* older: no effect */
    assert_true(c.last == SK_HLC_MAKE(9000, 8));
    assert_true(sk_clock_now(&c, 9500) == SK_HLC_MAKE(9500, 0));
}

static void test_hlc_server_offset(void **state)
{
    (void)state;
    /* A phone three days ahead is pulled back to server time at its handshake. */
    const uint64_t server = 1767225600000ull, phone = server + 3ull * 86400000ull;
    sk_clock c = {0, 0};
    sk_clock_set_server_time(&c, server, phone);
    assert_true(c.offset_ms == -(int64_t)(3ull * 86400000ull));
    assert_true(sk_clock_now(&c, phone + 5) == SK_HLC_MAKE(server + 5, 0));

    /* A phone behind is moved forward. */
    sk_clock d = {0, 0};
    sk_clock_set_server_time(&d, server, server - 60000);
    assert_true(d.offset_ms == 60000);
    assert_true(sk_clock_now(&d, server - 60000 + 1) == SK_HLC_MAKE(server + 1, 0));

    /* An offset larger than the wall clock cannot produce a wrapped, negative time. */
    sk_clock e = {0, 0};
    sk_clock_set_server_time(&e, 10, 1000);
    assert_true(sk_clock_now(&e, 5) == SK_HLC_MAKE(0, 0) || SK_HLC_MS(e.last) == 0);
    sk_hlc prev = e.last;
    assert_true(sk_clock_now(&e, 5) > prev);
}

/* ---- containers --------------------------------------------------------------------------- */

static void test_record_set_and_lookup(void **state)
{
    (void)state;
    sk_record r;
    sk_record_init(&r);
    sk_buf a = rf_str("a"), bb = rf_str("bb");
    assert_int_equal(sk_record_set(&r, 30, a.data, (uint32_t)a.len, 5, 1), 0);
    assert_int_equal(sk_record_set(&r, 10, bb.data, (uint32_t)bb.len, 6, 2), 0);
    assert_int_equal(sk_record_set(&r, 20, a.data, (uint32_t)a.len, 7, 3), 0);
    assert_int_equal(r.nfields, 3);
    assert_int_equal(r.fields[0].key, 10);
    assert_int_equal(r.fields[1].key, 20);
    assert_int_equal(r.fields[2].key, 30);
    assert_int_equal(sk_record_set(&r, 20, bb.data, (uint32_t)bb.len, 8, 4), 0);
    assert_int_equal(r.nfields, 3);
    const sk_field *f = sk_record_field(&r, 20);
    assert_non_null(f);
    assert_int_equal(f->len, bb.len);
    assert_memory_equal(f->val, bb.data, bb.len);
    assert_true(f->hlc == 8 && f->ver == 4);
    assert_null(sk_record_field(&r, 21));

    assert_int_equal(sk_record_set(&r, 0, a.data, (uint32_t)a.len, 1, 1), -SK_E_BAD_VALUE);
    assert_int_equal(sk_record_set(&r, SK_MAX_FIELD_KEY + 1, a.data, (uint32_t)a.len, 1, 1),
                     -SK_E_BAD_VALUE);
    const uint8_t not_one_value[] = {0x01, 0x02};
    assert_int_equal(sk_record_set(&r, 5, not_one_value, 2, 1, 1), -SK_E_BAD_VALUE);
    assert_int_equal(sk_record_set(&r, 5, a.data, 0, 1, 1), -SK_E_BAD_VALUE);
    /* Values may nest 8 deep (so any change built locally can be pushed), not 9. */
    const uint8_t deep8[] = {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x00};
    const uint8_t deep9[] = {0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x91, 0x00};
    assert_int_equal(sk_record_set(&r, 5, deep9, sizeof(deep9), 1, 1), -SK_E_BAD_VALUE);
    assert_int_equal(r.nfields, 3);
    assert_int_equal(sk_record_set(&r, 5, deep8, sizeof(deep8), 1, 1), 0);
    assert_int_equal(sk_record_unset(&r, 5), 0);
    assert_int_equal(r.nfields, 3);

    assert_int_equal(sk_record_unset(&r, 10), 0);
    assert_int_equal(sk_record_unset(&r, 10), 0);
    assert_int_equal(r.nfields, 2);
    assert_int_equal(r.fields[0].key, 20);

    sk_id e1 = id_from(1), e2 = id_from(2);
    assert_int_equal(sk_record_add_entry(&r, &e2, 1, a.data, (uint32_t)a.len, 50, 2), 0);
    assert_int_equal(sk_record_add_entry(&r, &e1, 1, a.data, (uint32_t)a.len, 60, 3), 0);
    assert_int_equal(sk_record_add_entry(&r, &e1, 2, bb.data, (uint32_t)bb.len, 70, 4), 1);
    assert_int_equal(r.nentries, 2);
    /* Sorted by (list, hlc, id): e2 (hlc 50) before e1 (hlc 60). */
    assert_int_equal(sk_id_cmp(&r.entries[0].id, &e2), 0);

    sk_record copy;
    assert_int_equal(sk_record_copy(&copy, &r), 0);
    assert_ptr_not_equal(copy.fields[0].val, r.fields[0].val);
    assert_memory_equal(copy.fields[0].val, r.fields[0].val, r.fields[0].len);
    sk_record_free(&r);
    assert_int_equal(copy.nentries, 2);
    sk_record_free(&copy);
    sk_buf_free(&a);
    sk_buf_free(&bb);
}

static void test_change_builders(void **state)
{
    (void)state;
    sk_change c;
    sk_change_init(&c);
    sk_buf v = rf_str("v");
    for (uint32_t k = 1; k <= SK_MAX_FIELDS; k++)
        assert_int_equal(sk_change_set(&c, k * 3, v.data, (uint32_t)v.len), 0);
    assert_int_equal(sk_change_set(&c, 1, v.data, (uint32_t)v.len), -SK_E_TOO_LONG);
    assert_int_equal(sk_change_set(&c, 3, v.data, (uint32_t)v.len), 0); /* replace is fine */
    assert_int_equal(c.nfields, SK_MAX_FIELDS);
    sk_id e = id_from(9);
    assert_int_equal(sk_change_add_entry(&c, &e, 1, v.data, (uint32_t)v.len), 0);
    assert_int_equal(sk_change_add_entry(&c, &e, 2, v.data, (uint32_t)v.len), -SK_E_BAD_VALUE);
    uint8_t *big = malloc(SK_MAX_VALUE + 1);
    assert_non_null(big);
    big[0] = 0xc6; /* bin32 */
    uint32_t blen = SK_MAX_VALUE + 1 - 5;
    big[1] = (uint8_t)(blen >> 24);
    big[2] = (uint8_t)(blen >> 16);
    big[3] = (uint8_t)(blen >> 8);
    big[4] = (uint8_t)blen;
    memset(big + 5, 0x11, blen);
    sk_id e2 = id_from(10);
    assert_int_equal(sk_change_add_entry(&c, &e2, 1, big, SK_MAX_VALUE + 1), -SK_E_TOO_LONG);
    free(big);

    sk_change d;
    assert_int_equal(sk_change_copy(&d, &c), 0);
    assert_int_equal(d.nfields, c.nfields);
    assert_ptr_not_equal(d.entries[0].val, c.entries[0].val);
    sk_change_free(&c);
    sk_change_free(&d);
    sk_buf_free(&v);
}

/* ---- codec round trips -------------------------------------------------------------------- */

/* What a record and a change both carry, so that one check compares either. */
typedef struct content {
    const sk_id *id;
    const sk_field *fields;
    uint32_t nfields;
    const sk_entry *entries;
    uint32_t nentries;
} content;
#define CONTENT_OF(x) ((content){&(x)->id, (x)->fields, (x)->nfields, (x)->entries, (x)->nentries})

/* A decoded copy has the id, the field keys and the entry ids of the original, in its order,
 * with the same stamps. */
static void assert_same_content(content back, content orig)
{
    assert_int_equal(sk_id_cmp(back.id, orig.id), 0);
    assert_int_equal(back.nfields, orig.nfields);
    assert_int_equal(back.nentries, orig.nentries);
    for (uint32_t i = 0; i < orig.nfields; i++) {
        assert_int_equal(back.fields[i].key, orig.fields[i].key);
        assert_true(back.fields[i].hlc == orig.fields[i].hlc);
        assert_true(back.fields[i].ver == orig.fields[i].ver);
    }
    for (uint32_t i = 0; i < orig.nentries; i++) {
        assert_int_equal(sk_id_cmp(&back.entries[i].id, &orig.entries[i].id), 0);
        assert_true(back.entries[i].hlc == orig.entries[i].hlc);
        assert_true(back.entries[i].ver == orig.entries[i].ver);
    }
}

/* Pack r or c (the one given) and decode the bytes: a valid encoding, read to its end, giving
 * the same header and content, which packs again to the same bytes. */
static void round_trip(const sk_record *r, const sk_change *c)
{
    sk_buf a = r ? rf_pack_record(r) : rf_pack_change(c);
    assert_int_equal(sk_mp_check(a.data, a.len, &k_lim), 0);
    sk_mp m;
    sk_mp_init(&m, a.data, a.len);
    sk_record rb;
    sk_change cb;
    sk_record_init(&rb);
    sk_change_init(&cb);
    assert_int_equal(r ? sk_record_unpack(&m, &rb) : sk_change_unpack(&m, &cb), 0);
    assert_true(sk_mp_at_end(&m));
    if (r)
        assert_true(rb.version == r->version && rb.flags == r->flags && rb.created == r->created &&
                    rb.created_ver == r->created_ver && rb.updated == r->updated);
    else
        assert_true(cb.op == c->op && cb.base == c->base && cb.hlc == c->hlc && cb.kind == c->kind);
    assert_same_content(r ? CONTENT_OF(&rb) : CONTENT_OF(&cb), r ? CONTENT_OF(r) : CONTENT_OF(c));
    sk_buf b = r ? rf_pack_record(&rb) : rf_pack_change(&cb);
    sk_record_free(&rb);
    sk_change_free(&cb);
    assert_int_equal(b.len, a.len);
    assert_memory_equal(b.data, a.data, a.len);
    sk_buf_free(&a);
    sk_buf_free(&b);
}

static const char k_hindi[] = "पीड़िता का नाम: सखी वन स्टॉप सेंटर, लेह";
static const char k_tibetan[] = "བོད་ཡིག་ལ་དཔེ་ཞིག ལེ་སྟག";

static void test_change_exact_bytes(void **state)
{
    (void)state;
    sk_change c;
    sk_change_init(&c);
    c.id = id_from(0);
    c.op = 1;
    c.base = 0;
    c.hlc = SK_HLC_MAKE(1, 0);
    c.kind = SK_CHANGE_UPSERT;
    sk_buf a = rf_str("a");
    assert_int_equal(sk_change_set(&c, 1, a.data, (uint32_t)a.len), 0);
    sk_id e = id_from(0x10);
    assert_int_equal(sk_change_add_entry(&c, &e, 2, a.data, (uint32_t)a.len), 0);
    sk_buf b = rf_pack_change(&c);
    const uint8_t want[] = {
        0x97, 0xc4, 0x10, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
        0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x01, 0x00, 0xce, 0x00, 0x01, 0x00, 0x00, 0x00, 0x81,
        0x01, 0xa1, 0x61, 0x91, 0x93, 0xc4, 0x10, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
        0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x02, 0xa1, 0x61,
    };
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    sk_buf_free(&b);
    sk_buf_free(&a);
    sk_change_free(&c);
}

static void test_record_exact_bytes(void **state)
{
    (void)state;
    sk_record r;
    sk_record_init(&r);
    r.id = id_from(0);
    r.version = 7;
    r.flags = SK_REC_REVIEW;
    r.created = 100;
    r.created_ver = 3;
    r.updated = 200;
    sk_buf a = rf_str("a");
    assert_int_equal(sk_record_set(&r, 2, a.data, (uint32_t)a.len, 100, 3), 0);
    assert_int_equal(sk_record_set(&r, 1, a.data, (uint32_t)a.len, 200, 7), 0);
    sk_id e1 = id_from(0x20), e2 = id_from(0x30);
    assert_int_equal(sk_record_add_entry(&r, &e1, 1, a.data, (uint32_t)a.len, 100, 3), 0);
    assert_int_equal(sk_record_add_entry(&r, &e2, 1, a.data, (uint32_t)a.len, 200, 7), 0);
    sk_buf b = rf_pack_record(&r);
    uint8_t want[128];
    size_t n = 0;
    const uint8_t head[] = {0x99, 0xc4, 0x10};
    memcpy(want + n, head, 3);
    n += 3;
    memcpy(want + n, r.id.b, 16);
    n += 16;
    /* version 7, flags 4, created 100, created_ver 3, updated 0xcc c8,
     * fields {1:"a", 2:"a"}, stamps {1: [200, 7]} */
    const uint8_t mid[] = {0x07, 0x04, 0x64, 0x03, 0xcc, 0xc8, 0x82, 0x01, 0xa1, 0x61, 0x02, 0xa1,
                           0x61, 0x81, 0x01, 0x92, 0xcc, 0xc8, 0x07, 0x92, 0x93, 0xc4, 0x10};
    memcpy(want + n, mid, sizeof(mid));
    n += sizeof(mid);
    memcpy(want + n, e1.b, 16);
    n += 16;
    const uint8_t e1tail[] = {0x01, 0xa1, 0x61, 0x95, 0xc4, 0x10};
    memcpy(want + n, e1tail, sizeof(e1tail));
    n += sizeof(e1tail);
    memcpy(want + n, e2.b, 16);
    n += 16;
    const uint8_t e2tail[] = {0x01, 0xa1, 0x61, 0xcc, 0xc8, 0x07};
    memcpy(want + n, e2tail, sizeof(e2tail));
    n += sizeof(e2tail);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, want, n);
    round_trip(&r, NULL);
    sk_buf_free(&b);
    sk_buf_free(&a);
    sk_record_free(&r);
}

static void test_round_trip_text_and_empty(void **state)
{
    (void)state;
    /* Empty record and change. */
    sk_record r;
    sk_record_init(&r);
    round_trip(&r, NULL);
    sk_change c;
    sk_change_init(&c);
    round_trip(NULL, &c);

    r.id = id_from(3);
    r.version = 1234567;
    r.flags = SK_REC_TOMBSTONE | 0x100; /* an unknown bit from a newer peer is kept */
    r.created = SK_HLC_MAKE(1767225600000ull, 3);
    r.created_ver = 1234560;
    r.updated = SK_HLC_MAKE(1767225600999ull, 0);
    sk_buf hi = rf_str(k_hindi), bo = rf_str(k_tibetan);
    assert_int_equal(sk_record_set(&r, 1, hi.data, (uint32_t)hi.len, r.created, r.created_ver), 0);
    assert_int_equal(sk_record_set(&r, 65535, bo.data, (uint32_t)bo.len, r.updated, r.version), 0);
    /* A nested value (a map with a list) kept raw. */
    const uint8_t nested[] = {0x82, 0x01, 0x92, 0xa1, 'x',  0xc3, 0x02, 0xcb,
                              0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18};
    assert_int_equal(sk_record_set(&r, 7, nested, sizeof(nested), 1, 1), 0);
    sk_id e1 = id_from(0x40), e2 = id_from(0x50);
    assert_int_equal(
        sk_record_add_entry(&r, &e1, 2, bo.data, (uint32_t)bo.len, r.created, r.created_ver), 0);
    assert_int_equal(sk_record_add_entry(&r, &e2, 1, hi.data, (uint32_t)hi.len, 5, 0), 0);
    round_trip(&r, NULL);

    sk_mp m;
    sk_buf packed = rf_pack_record(&r);
    sk_mp_init(&m, packed.data, packed.len);
    sk_record back;
    assert_int_equal(sk_record_unpack(&m, &back), 0);
    assert_int_equal(back.flags, SK_REC_TOMBSTONE | 0x100);
    const sk_field *f = sk_record_field(&back, 1);
    assert_non_null(f);
    assert_memory_equal(f->val, hi.data, hi.len);
    f = sk_record_field(&back, 65535);
    assert_non_null(f);
    assert_memory_equal(f->val, bo.data, bo.len);
    sk_record_free(&back);
    sk_buf_free(&packed);

    c.id = r.id;
    c.op = UINT64_MAX;
    c.base = 99;
    c.hlc = UINT64_MAX;
    c.kind = SK_CHANGE_ERASE;
    round_trip(NULL, &c);
    c.kind = SK_CHANGE_UPSERT;
    assert_int_equal(sk_change_set(&c, 2, bo.data, (uint32_t)bo.len), 0);
    assert_int_equal(sk_change_set(&c, 1, hi.data, (uint32_t)hi.len), 0);
    assert_int_equal(sk_change_add_entry(&c, &e2, 9, hi.data, (uint32_t)hi.len), 0);
    assert_int_equal(sk_change_add_entry(&c, &e1, 3, bo.data, (uint32_t)bo.len), 0);
    round_trip(NULL, &c);
    sk_change_free(&c);
    sk_record_free(&r);
    sk_buf_free(&hi);
    sk_buf_free(&bo);
}

/* A str value of exactly total bytes (header included). */
static uint8_t *value_of_size(uint32_t total)
{
    uint8_t *v = malloc(total);
    assert_non_null(v);
    uint32_t body = total - 3;
    v[0] = 0xda; /* str16 */
    v[1] = (uint8_t)(body >> 8);
    v[2] = (uint8_t)body;
    for (uint32_t i = 0; i < body; i++)
        v[3 + i] = (uint8_t)('a' + i % 26);
    return v;
}

static void test_round_trip_max_sizes(void **state)
{
    (void)state;
    uint8_t *big = value_of_size(SK_MAX_VALUE);
    sk_record r;
    sk_record_init(&r);
    r.id = id_from(7);
    r.version = 5;
    r.created = 9;
    r.created_ver = 5;
    r.updated = 9;
    for (uint32_t k = 1; k <= SK_MAX_FIELDS; k++)
        assert_int_equal(
            sk_record_set(&r, SK_MAX_FIELD_KEY + 1 - k, big, SK_MAX_VALUE, k % 2 ? 9 : k, 5), 0);
    const uint8_t small[] = {0x05};
    for (uint32_t i = 0; i < SK_MAX_ENTRIES; i++) {
        sk_id e;
        memset(&e, 0, sizeof(e));
        e.b[0] = (uint8_t)(i >> 8);
        e.b[1] = (uint8_t)i;
        e.b[15] = 1;
        uint8_t *val = i == 0 ? big : (uint8_t *)small;
        uint32_t len = i == 0 ? SK_MAX_VALUE : 1;
        assert_int_equal(sk_record_add_entry(&r, &e, i % 3, val, len, i % 5 ? 9 : i, 5), 0);
    }
    round_trip(&r, NULL);

    sk_change c;
    sk_change_init(&c);
    c.id = r.id;
    for (uint32_t k = 1; k <= SK_MAX_FIELDS; k++)
        assert_int_equal(sk_change_set(&c, k, big, SK_MAX_VALUE), 0);
    for (uint32_t i = 0; i < SK_MAX_ENTRIES; i++)
        assert_int_equal(sk_change_add_entry(&c, &r.entries[i].id, 1, small, 1), 0);
    round_trip(NULL, &c);
    sk_change_free(&c);
    sk_record_free(&r);
    free(big);
}

/* ---- decoder rejections ------------------------------------------------------------------- */

enum {
    M_NONE,
    M_NOT_ARRAY,
    M_SHORT,
    M_ID_LEN,
    M_ID_STR,
    M_OP_NEG,
    M_OP_STR,
    M_BASE_NIL,
    M_KIND_3,
    M_FIELDS_ARRAY,
    M_KEY_0,
    M_KEY_BIG,
    M_KEY_STR,
    M_KEY_DUP,
    M_VALUE_BIG,
    M_VALUE_MAX,
    M_FIELDS_MANY,
    M_ENTRIES_MAP,
    M_ENTRY_SHORT,
    M_ENTRY_NOT_ARRAY,
    M_ENTRY_ID_LEN,
    M_ENTRY_LIST_BIG,
    M_ENTRY_DUP,
    M_ENTRIES_MANY,
    M_EXTRA,
    M_ENTRY_EXTRA,
    M_UNSORTED,
    M_COUNT
};

static void pack_id_bytes(msgpack_packer *pk, uint8_t seed, size_t len)
{
    uint8_t b[32];
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)(seed + i);
    sk_pack_bin(pk, b, len);
}

/* A change on the wire, with one mutation. */
static void build_change(sk_buf *b, int mut)
{
    msgpack_packer pk;
    sk_packer_init(&pk, b);
    if (mut == M_NOT_ARRAY) {
        msgpack_pack_map(&pk, 0);
        return;
    }
    msgpack_pack_array(&pk, mut == M_SHORT ? 6 : mut == M_EXTRA ? 9 : 7);
    if (mut == M_ID_STR)
        sk_pack_str(&pk, "0123456789abcdef", 16);
    else
        pack_id_bytes(&pk, 0, mut == M_ID_LEN ? 15 : 16);
    if (mut == M_OP_NEG)
        msgpack_pack_int64(&pk, -1);
    else if (mut == M_OP_STR)
        sk_pack_cstr(&pk, "1");
    else
        msgpack_pack_uint64(&pk, 3);
    if (mut == M_BASE_NIL)
        msgpack_pack_nil(&pk);
    else
        msgpack_pack_uint64(&pk, 2);
    msgpack_pack_uint64(&pk, SK_HLC_MAKE(1767225600000ull, 1));
    msgpack_pack_uint64(&pk, mut == M_KIND_3 ? 3 : 0);
    /* fields */
    if (mut == M_FIELDS_ARRAY) {
        msgpack_pack_array(&pk, 0);
    } else if (mut == M_FIELDS_MANY) {
        msgpack_pack_map(&pk, SK_MAX_FIELDS + 1);
        for (uint32_t k = 1; k <= SK_MAX_FIELDS + 1; k++) {
            msgpack_pack_uint32(&pk, k);
            msgpack_pack_nil(&pk);
        }
    } else if (mut == M_SHORT) {
        msgpack_pack_map(&pk, 0);
        return; /* entries missing */
    } else {
        msgpack_pack_map(&pk, 2);
        if (mut == M_KEY_0)
            msgpack_pack_uint32(&pk, 0);
        else if (mut == M_KEY_BIG)
            msgpack_pack_uint32(&pk, SK_MAX_FIELD_KEY + 1);
        else if (mut == M_KEY_STR)
            sk_pack_cstr(&pk, "5");
        else if (mut == M_UNSORTED)
            msgpack_pack_uint32(&pk, 9);
        else
            msgpack_pack_uint32(&pk, 5);
        if (mut == M_VALUE_BIG || mut == M_VALUE_MAX) {
            uint32_t total = mut == M_VALUE_BIG ? SK_MAX_VALUE + 1 : SK_MAX_VALUE;
            uint8_t *v = value_of_size(total);
            sk_buf_append(b, v, total);
            free(v);
        } else {
            sk_pack_cstr(&pk, k_hindi);
        }
        msgpack_pack_uint32(&pk, mut == M_KEY_DUP ? 5 : 6);
        sk_pack_cstr(&pk, k_tibetan);
    }
    /* entries */
    if (mut == M_ENTRIES_MAP) {
        msgpack_pack_map(&pk, 0);
    } else if (mut == M_ENTRIES_MANY) {
        msgpack_pack_array(&pk, SK_MAX_ENTRIES + 1);
        for (uint32_t i = 0; i <= SK_MAX_ENTRIES; i++) {
            msgpack_pack_array(&pk, 3);
            uint8_t id[16] = {0};
            id[0] = (uint8_t)(i >> 8);
            id[1] = (uint8_t)i;
            sk_pack_bin(&pk, id, 16);
            msgpack_pack_uint32(&pk, 1);
            msgpack_pack_nil(&pk);
        }
    } else {
        msgpack_pack_array(&pk, 2);
        for (int i = 0; i < 2; i++) {
            if (i == 1 && mut == M_ENTRY_NOT_ARRAY) {
                msgpack_pack_uint32(&pk, 1);
                continue;
            }
            int n = 3;
            if (i == 1 && mut == M_ENTRY_SHORT)
                n = 2;
            if (i == 1 && mut == M_ENTRY_EXTRA)
                n = 5;
            msgpack_pack_array(&pk, (size_t)n);
            pack_id_bytes(&pk, (uint8_t)(mut == M_ENTRY_DUP ? 0x40 : 0x40 + i * 0x10),
                          i == 1 && mut == M_ENTRY_ID_LEN ? 17 : 16);
            if (i == 1 && mut == M_ENTRY_LIST_BIG)
                msgpack_pack_uint64(&pk, 0x100000000ull);
            else
                msgpack_pack_uint32(&pk, 1);
            if (n > 2)
                sk_pack_cstr(&pk, "note");
            if (n == 5) {
                msgpack_pack_array(&pk, 1); /* future element: skipped */
                msgpack_pack_nil(&pk);
                sk_pack_cstr(&pk, "future");
            }
        }
    }
    if (mut == M_EXTRA) {
        msgpack_pack_map(&pk, 1); /* two future elements, skipped */
        msgpack_pack_uint32(&pk, 1);
        msgpack_pack_nil(&pk);
        msgpack_pack_false(&pk);
    }
}

static void test_change_decoder_rejections(void **state)
{
    (void)state;
    int want[M_COUNT];
    for (int i = 0; i < M_COUNT; i++)
        want[i] = 0x7fff;
    want[M_NONE] = 0;
    want[M_NOT_ARRAY] = -SK_E_BAD_TYPE;
    want[M_SHORT] = -SK_E_MISSING_FIELD;
    want[M_ID_LEN] = -SK_E_BAD_VALUE;
    want[M_ID_STR] = -SK_E_BAD_TYPE;
    want[M_OP_NEG] = -SK_E_BAD_VALUE;
    want[M_OP_STR] = -SK_E_BAD_TYPE;
    want[M_BASE_NIL] = -SK_E_BAD_TYPE;
    want[M_KIND_3] = -SK_E_BAD_VALUE;
    want[M_FIELDS_ARRAY] = -SK_E_BAD_TYPE;
    want[M_KEY_0] = -SK_E_BAD_VALUE;
    want[M_KEY_BIG] = -SK_E_BAD_VALUE;
    want[M_KEY_STR] = -SK_E_BAD_TYPE;
    want[M_KEY_DUP] = -SK_E_BAD_VALUE;
    want[M_VALUE_BIG] = -SK_E_TOO_LONG;
    want[M_VALUE_MAX] = 0;
    want[M_FIELDS_MANY] = -SK_E_TOO_LONG;
    want[M_ENTRIES_MAP] = -SK_E_BAD_TYPE;
    want[M_ENTRY_SHORT] = -SK_E_MISSING_FIELD;
    want[M_ENTRY_NOT_ARRAY] = -SK_E_BAD_TYPE;
    want[M_ENTRY_ID_LEN] = -SK_E_BAD_VALUE;
    want[M_ENTRY_LIST_BIG] = -SK_E_BAD_VALUE;
    want[M_ENTRY_DUP] = -SK_E_BAD_VALUE;
    want[M_ENTRIES_MANY] = -SK_E_TOO_LONG;
    want[M_EXTRA] = 0;
    want[M_ENTRY_EXTRA] = 0;
    want[M_UNSORTED] = 0;
    for (int mut = 0; mut < M_COUNT; mut++) {
        assert_int_not_equal(want[mut], 0x7fff);
        sk_buf b = SK_BUF_INIT;
        build_change(&b, mut);
        assert_false(b.oom);
        assert_int_equal(sk_mp_check(b.data, b.len, &k_lim), 0);
        sk_mp m;
        sk_mp_init(&m, b.data, b.len);
        sk_change c;
        memset(&c, 0xab, sizeof(c)); /* garbage in: the decoder initialises */
        int rc = sk_change_unpack(&m, &c);
        if (rc != want[mut])
            fail_msg("mutation %d: got %d want %d", mut, rc, want[mut]);
        if (rc) {
            assert_int_equal(c.nfields, 0);
            assert_null(c.fields);
            assert_int_equal(c.nentries, 0);
            assert_null(c.entries);
        } else {
            assert_true(sk_mp_at_end(&m));
            assert_int_equal(c.op, 3);
            assert_int_equal(c.base, 2);
            assert_int_equal(c.nfields, 2);
            assert_true(c.fields[0].key < c.fields[1].key); /* stored sorted */
            assert_int_equal(c.nentries, 2);
            if (mut == M_UNSORTED) {
                assert_int_equal(c.fields[0].key, 6);
                assert_int_equal(c.fields[1].key, 9);
            }
            if (mut == M_VALUE_MAX)
                assert_int_equal(c.fields[0].len, SK_MAX_VALUE);
        }
        sk_change_free(&c);
        sk_buf_free(&b);
    }
}

enum {
    R_NONE,
    R_SHORT,
    R_FLAGS_BIG,
    R_FLAGS_UNKNOWN,
    R_VERSION_STR,
    R_STAMP_UNKNOWN_KEY,
    R_STAMP_DUP,
    R_STAMP_SHORT,
    R_STAMP_NOT_ARRAY,
    R_STAMPS_TOO_MANY,
    R_STAMPS_ARRAY,
    R_ENTRY_4,
    R_ENTRY_6,
    R_ENTRY_HLC_STR,
    R_ENTRY_DUP,
    R_EXTRA,
    R_STAMP_EXTRA,
    R_COUNT
};

static void build_record(sk_buf *b, int mut)
{
    msgpack_packer pk;
    sk_packer_init(&pk, b);
    msgpack_pack_array(&pk, mut == R_SHORT ? 8 : mut == R_EXTRA ? 10 : 9);
    pack_id_bytes(&pk, 0, 16);
    if (mut == R_VERSION_STR)
        sk_pack_cstr(&pk, "9");
    else
        msgpack_pack_uint64(&pk, 9);
    if (mut == R_FLAGS_BIG)
        msgpack_pack_uint64(&pk, 0x100000000ull);
    else
        msgpack_pack_uint32(&pk, mut == R_FLAGS_UNKNOWN ? 0x80000001u : 0);
    msgpack_pack_uint64(&pk, 100); /* created */
    msgpack_pack_uint64(&pk, 4);   /* created_ver */
    msgpack_pack_uint64(&pk, 300); /* updated */
    msgpack_pack_map(&pk, 2);
    msgpack_pack_uint32(&pk, 8);
    sk_pack_cstr(&pk, k_tibetan);
    msgpack_pack_uint32(&pk, 3);
    sk_pack_cstr(&pk, k_hindi);
    if (mut == R_STAMPS_ARRAY) {
        msgpack_pack_array(&pk, 0);
    } else {
        uint32_t n = mut == R_STAMP_DUP ? 2 : mut == R_STAMPS_TOO_MANY ? 3 : 1;
        msgpack_pack_map(&pk, n);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t key = i == 1 && mut != R_STAMP_DUP ? 3 : 8;
            msgpack_pack_uint32(&pk, mut == R_STAMP_UNKNOWN_KEY ? 4 : key);
            if (mut == R_STAMP_NOT_ARRAY) {
                msgpack_pack_uint32(&pk, 300);
                continue;
            }
            uint32_t k = mut == R_STAMP_SHORT ? 1 : mut == R_STAMP_EXTRA ? 3 : 2;
            msgpack_pack_array(&pk, k);
            msgpack_pack_uint64(&pk, 300);
            if (k > 1)
                msgpack_pack_uint64(&pk, 9);
            if (k > 2)
                sk_pack_cstr(&pk, "future");
        }
    }
    if (mut == R_SHORT)
        return; /* entries missing */
    msgpack_pack_array(&pk, 2);
    /* entry 1: created stamp (3 elements) */
    msgpack_pack_array(&pk, 3);
    pack_id_bytes(&pk, 0x70, 16);
    msgpack_pack_uint32(&pk, 2);
    sk_pack_cstr(&pk, "first");
    /* entry 2: own stamp */
    uint32_t k = mut == R_ENTRY_4 ? 4 : mut == R_ENTRY_6 ? 6 : 5;
    msgpack_pack_array(&pk, k);
    pack_id_bytes(&pk, mut == R_ENTRY_DUP ? 0x70 : 0x10, 16);
    msgpack_pack_uint32(&pk, 1);
    sk_pack_cstr(&pk, "second");
    if (mut == R_ENTRY_HLC_STR)
        sk_pack_cstr(&pk, "300");
    else
        msgpack_pack_uint64(&pk, 300);
    if (k >= 5)
        msgpack_pack_uint64(&pk, 9);
    if (k >= 6)
        msgpack_pack_nil(&pk);
    if (mut == R_EXTRA)
        sk_pack_cstr(&pk, "future");
}

static void test_record_decoder_rejections(void **state)
{
    (void)state;
    int want[R_COUNT];
    for (int i = 0; i < R_COUNT; i++)
        want[i] = 0x7fff;
    want[R_NONE] = 0;
    want[R_SHORT] = -SK_E_MISSING_FIELD;
    want[R_FLAGS_BIG] = -SK_E_BAD_VALUE;
    want[R_FLAGS_UNKNOWN] = 0;
    want[R_VERSION_STR] = -SK_E_BAD_TYPE;
    want[R_STAMP_UNKNOWN_KEY] = -SK_E_BAD_VALUE;
    want[R_STAMP_DUP] = -SK_E_BAD_VALUE;
    want[R_STAMP_SHORT] = -SK_E_MISSING_FIELD;
    want[R_STAMP_NOT_ARRAY] = -SK_E_BAD_TYPE;
    want[R_STAMPS_TOO_MANY] = -SK_E_BAD_VALUE;
    want[R_STAMPS_ARRAY] = -SK_E_BAD_TYPE;
    want[R_ENTRY_4] = -SK_E_MISSING_FIELD;
    want[R_ENTRY_6] = 0;
    want[R_ENTRY_HLC_STR] = -SK_E_BAD_TYPE;
    want[R_ENTRY_DUP] = -SK_E_BAD_VALUE;
    want[R_EXTRA] = 0;
    want[R_STAMP_EXTRA] = 0;
    for (int mut = 0; mut < R_COUNT; mut++) {
        assert_int_not_equal(want[mut], 0x7fff);
        sk_buf b = SK_BUF_INIT;
        build_record(&b, mut);
        assert_false(b.oom);
        assert_int_equal(sk_mp_check(b.data, b.len, &k_lim), 0);
        sk_mp m;
        sk_mp_init(&m, b.data, b.len);
        sk_record r;
        memset(&r, 0xab, sizeof(r));
        int rc = sk_record_unpack(&m, &r);
        if (rc != want[mut])
            fail_msg("mutation %d: got %d want %d", mut, rc, want[mut]);
        if (rc) {
            assert_int_equal(r.nfields, 0);
            assert_null(r.fields);
            assert_int_equal(r.nentries, 0);
            assert_null(r.entries);
        } else {
            assert_true(sk_mp_at_end(&m));
            assert_int_equal(r.nfields, 2);
            assert_int_equal(r.fields[0].key, 3);
            assert_true(r.fields[0].hlc == 100 && r.fields[0].ver == 4); /* created stamp */
            assert_true(r.fields[1].hlc == 300 && r.fields[1].ver == 9); /* own stamp */
            assert_int_equal(r.nentries, 2);
            /* Sorted by (list, hlc, id): list 1 first. */
            assert_int_equal(r.entries[0].list, 1);
            assert_true(r.entries[0].hlc == 300 && r.entries[0].ver == 9);
            assert_true(r.entries[1].hlc == 100 && r.entries[1].ver == 4);
            if (mut == R_FLAGS_UNKNOWN)
                assert_int_equal(r.flags, 0x80000001u);
        }
        sk_record_free(&r);
        sk_buf_free(&b);
    }
}

/* Unvalidated bytes cut anywhere: the decoders still stop with an error, never read past. */
static void test_decoders_on_truncated_input(void **state)
{
    (void)state;
    sk_buf b = SK_BUF_INIT;
    build_record(&b, R_NONE);
    for (size_t k = 0; k < b.len; k++) {
        uint8_t *p = malloc(k ? k : 1);
        assert_non_null(p);
        memcpy(p, b.data, k);
        sk_mp m;
        sk_mp_init(&m, p, k);
        sk_record r;
        int rc = sk_record_unpack(&m, &r);
        assert_true(rc == -SK_E_TRUNCATED || rc == -SK_E_MISSING_FIELD);
        assert_null(r.fields);
        free(p);
    }
    sk_buf_free(&b);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_id_new_layout),
    cmocka_unit_test(test_id_time_order),
    cmocka_unit_test(test_id_str),
    cmocka_unit_test(test_id_parse_errors),
    cmocka_unit_test(test_hlc_monotonic),
    cmocka_unit_test(test_hlc_observe),
    cmocka_unit_test(test_hlc_server_offset),
    cmocka_unit_test(test_record_set_and_lookup),
    cmocka_unit_test(test_change_builders),
    cmocka_unit_test(test_change_exact_bytes),
    cmocka_unit_test(test_record_exact_bytes),
    cmocka_unit_test(test_round_trip_text_and_empty),
    cmocka_unit_test(test_round_trip_max_sizes),
    cmocka_unit_test(test_change_decoder_rejections),
    cmocka_unit_test(test_record_decoder_rejections),
    cmocka_unit_test(test_decoders_on_truncated_input),
})
