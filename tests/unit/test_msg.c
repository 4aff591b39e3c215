/*
 * test_msg.c - unit tests of the message codec (proto/sk_msg.c): round trips with edge values,
 * every rejection path with its exact code, adversarial frames (huge declared lengths, nesting
 * one over the limit, the reserved byte, truncation at every offset), the memory a decode may
 * take, and the JSON rendering. Frames are written out byte by byte here, independently of the
 * encoder, so an encoder bug cannot hide a decoder bug.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "msg_fixtures.h"
#include "sk_err.h"
#include "sk_jw.h"
#include "sk_frame.h"
#include "sk_msg.h"

/* Decode bytes and require exactly code (0 = success); the message is freed. */
static void expect_dec(int line, int code, const uint8_t *b, size_t n)
{
    sk_msg m;
    size_t off = 12345;
    int rc = sk_msg_decode(b, n, &m, &off);
    if (rc != code)
        fail_msg("line %d: decode gave %d %s, expected %d %s", line, rc, sk_err_name(rc), code,
                 sk_err_name(code));
    assert_true(off <= n);
    if (rc)
        assert_null(m.u.push.changes); /* nothing left to free after an error */
    sk_msg_free(&m);
}
#define DEC(code, ...)                                                                             \
    do {                                                                                           \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        expect_dec(__LINE__, (code), b_, sizeof(b_));                                              \
    } while (0)

/* Encode m, decode the body, encode again: both encodings identical. Returns the frame in out. */
static void round_trip(const sk_msg *m, sk_buf *out, sk_msg *decoded)
{
    int rc = sk_msg_encode(out, m);
    if (rc)
        fail_msg("encode %s: %s", sk_msg_type_name(m->type), sk_err_name(rc));
    assert_true(out->len > SK_FRAME_HDR);
    uint32_t n = ((uint32_t)out->data[0] << 24) | ((uint32_t)out->data[1] << 16) |
                 ((uint32_t)out->data[2] << 8) | out->data[3];
    assert_int_equal(n, out->len - SK_FRAME_HDR);
    assert_int_equal(sk_msg_decode(out->data + 4, out->len - 4, decoded, NULL), 0);
    assert_int_equal(decoded->type, m->type);
    assert_int_equal(decoded->rid, m->rid);
    sk_buf again = SK_BUF_INIT;
    assert_int_equal(sk_msg_encode(&again, decoded), 0);
    assert_int_equal(again.len, out->len);
    assert_memory_equal(again.data, out->data, out->len);
    sk_buf_free(&again);
}

/* sk_grow, the one way arrays grow: doubling from first, never shrinking, refusing sizes that
 * overflow and leaving the array as it was. */
static void test_grow(void **state)
{
    (void)state;
    uint64_t *a = NULL;
    size_t cap = 0;
    assert_int_equal(sk_grow(&a, &cap, 1, sizeof(*a), 4), 0);
    assert_non_null(a);
    assert_int_equal(cap, 4);
    a[3] = 77;
    assert_int_equal(sk_grow(&a, &cap, 4, sizeof(*a), 4), 0); /* fits: unchanged */
    assert_int_equal(cap, 4);
    assert_int_equal(sk_grow(&a, &cap, 9, sizeof(*a), 4), 0);
    assert_int_equal(cap, 16);
    assert_int_equal(a[3], 77);
    uint64_t *before = a;
    assert_int_equal(sk_grow(&a, &cap, SIZE_MAX / 2, sizeof(*a), 4), -SK_E_NOMEM);
    assert_int_equal(sk_grow(&a, &cap, SIZE_MAX, 1, 4), -SK_E_NOMEM);
    assert_ptr_equal(a, before);
    assert_int_equal(cap, 16);
    free(a);
}

static void test_all_fixtures_round_trip(void **state)
{
    (void)state;
    for (size_t i = 0; i < fx_count(); i++) {
        fx_msg f;
        assert_int_equal(fx_build(i, &f), 0);
        sk_buf b = SK_BUF_INIT;
        sk_msg d;
        round_trip(&f.m, &b, &d);
        sk_msg_free(&d);
        sk_buf_free(&b);
        fx_free(&f);
    }
}

static void test_hello_fields_and_defaults(void **state)
{
    (void)state;
    /* [1, 1, {1: [1]}]: only the required field; the rest take their defaults. */
    static const uint8_t b[] = {0x93, 0x01, 0x01, 0x81, 0x01, 0x91, 0x01};
    sk_msg m;
    assert_int_equal(sk_msg_decode(b, sizeof(b), &m, NULL), 0);
    assert_int_equal(m.type, SK_MSG_HELLO);
    assert_int_equal(m.u.hello.nversions, 1);
    assert_int_equal(m.u.hello.versions[0], 1);
    assert_int_equal(m.u.hello.device, 0);
    assert_int_equal(m.u.hello.app.n, 0);
    assert_int_equal(m.u.hello.caps, 0);
    assert_int_equal(m.u.hello.max_frame, SK_FRAME_DEFAULT_MAX);
    /* Canonical encoding of that message is the same 7 bytes. */
    sk_buf out = SK_BUF_INIT;
    assert_int_equal(sk_msg_encode(&out, &m), 0);
    assert_int_equal(out.len, 4 + sizeof(b));
    assert_memory_equal(out.data + 4, b, sizeof(b));
    sk_buf_free(&out);

    /* Non-default values survive a round trip. */
    sk_msg h, d;
    sk_msg_init(&h, SK_MSG_HELLO, 77);
    h.u.hello.nversions = SK_MAX_VERSIONS;
    for (uint32_t i = 0; i < SK_MAX_VERSIONS; i++)
        h.u.hello.versions[i] = 1000 + i;
    h.u.hello.device = UINT64_MAX;
    h.u.hello.app = SK_STR("a");
    h.u.hello.caps = 0xffffffffu;
    h.u.hello.max_frame = SK_FRAME_MIN_MAX;
    round_trip(&h, &out, &d);
    assert_int_equal(d.u.hello.nversions, SK_MAX_VERSIONS);
    assert_int_equal(d.u.hello.versions[7], 1007);
    assert_true(d.u.hello.device == UINT64_MAX);
    assert_true(sk_str_eq(d.u.hello.app, "a"));
    assert_int_equal(d.u.hello.caps, 0xffffffffu);
    assert_int_equal(d.u.hello.max_frame, SK_FRAME_MIN_MAX);
    sk_buf_free(&out);
}

static void test_max_strings(void **state)
{
    (void)state;
    char name[SK_MAX_NAME + 2], text[SK_MAX_MESSAGE + 2];
    memset(name, 'n', sizeof(name));
    memset(text, 't', sizeof(text));
    sk_msg m, d;
    sk_buf out = SK_BUF_INIT;

    sk_msg_init(&m, SK_MSG_ERROR, 3);
    m.u.error.code = SK_E_STORE_FULL;
    m.u.error.msg = (sk_str){text, SK_MAX_MESSAGE};
    round_trip(&m, &out, &d);
    assert_int_equal(d.u.error.msg.n, SK_MAX_MESSAGE);
    assert_memory_equal(d.u.error.msg.p, text, SK_MAX_MESSAGE);
    sk_buf_free(&out);
    m.u.error.msg.n = SK_MAX_MESSAGE + 1;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_TOO_LONG);
    assert_int_equal(out.len, 0); /* nothing written on failure */

    sk_msg_init(&m, SK_MSG_WELCOME, 2);
    m.u.welcome.max_frame = SK_FRAME_DEFAULT_MAX;
    m.u.welcome.max_batch = SK_MAX_BATCH;
    m.u.welcome.max_inflight = 1;
    m.u.welcome.role = SK_ROLE_ADMIN;
    m.u.welcome.worker = (sk_str){name, SK_MAX_NAME};
    round_trip(&m, &out, &d);
    assert_int_equal(d.u.welcome.worker.n, SK_MAX_NAME);
    assert_int_equal(d.u.welcome.role, SK_ROLE_ADMIN);
    assert_int_equal(d.u.welcome.max_batch, SK_MAX_BATCH);
    sk_buf_free(&out);
    m.u.welcome.worker.n = SK_MAX_NAME + 1;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_TOO_LONG);

    /* The decoder says the same about a 65-byte name: [4,2,{...8: str(65)}]. */
    uint8_t b[128];
    size_t k = 0;
    const uint8_t head[] = {0x93, 0x04, 0x02, 0x87, 0x01, 0x01, 0x02, 0x01, 0x03, 0xcd,
                            0x04, 0x00, 0x04, 0x01, 0x05, 0x01, 0x07, 0x01, 0x08, 0xd9};
    memcpy(b, head, sizeof(head));
    k = sizeof(head);
    b[k++] = SK_MAX_NAME + 1;
    memset(b + k, 'w', SK_MAX_NAME + 1);
    k += SK_MAX_NAME + 1;
    expect_dec(__LINE__, -SK_E_TOO_LONG, b, k);
    b[sizeof(head)] = SK_MAX_NAME; /* 64 bytes: accepted (one trailing byte less) */
    expect_dec(__LINE__, 0, b, k - 1);
    sk_buf_free(&out);
}

/* PUSH with an empty batch, one change, and the maximum batch; one over is refused both ways. */
static void test_push_batch_sizes(void **state)
{
    (void)state;
    sk_msg m, d;
    sk_buf out = SK_BUF_INIT;
    sk_msg_init(&m, SK_MSG_PUSH, 1);
    round_trip(&m, &out, &d);
    assert_int_equal(d.u.push.nchanges, 0);
    assert_null(d.u.push.changes);
    sk_buf_free(&out);

    sk_change *c = calloc(SK_MAX_BATCH + 1, sizeof(*c));
    assert_non_null(c);
    for (uint32_t i = 0; i <= SK_MAX_BATCH; i++) {
        sk_change_init(&c[i]);
        c[i].id.b[0] = 1;
        c[i].id.b[15] = (uint8_t)i;
        c[i].id.b[14] = (uint8_t)(i >> 8);
        c[i].op = i + 1;
        c[i].hlc = SK_HLC_MAKE(1000 + i, 0);
        const uint8_t v = 0x05;
        assert_int_equal(sk_change_set(&c[i], 20, &v, 1), 0);
    }
    m.u.push.changes = c;
    m.u.push.nchanges = SK_MAX_BATCH;
    round_trip(&m, &out, &d);
    assert_int_equal(d.u.push.nchanges, SK_MAX_BATCH);
    assert_int_equal(d.u.push.changes[SK_MAX_BATCH - 1].op, SK_MAX_BATCH);
    assert_int_equal(d.u.push.changes[10].nfields, 1);
    assert_int_equal(d.u.push.changes[10].fields[0].key, 20);
    sk_msg_free(&d);

    /* 257 changes: the encoder refuses; hand-patch the array header to make the decoder see
     * 257 and give it one more change: BATCH_TOO_BIG. */
    m.u.push.nchanges = SK_MAX_BATCH + 1;
    size_t before = out.len;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BATCH_TOO_BIG);
    assert_int_equal(out.len, before);
    /* body: 93 05 01 81 01 dc 01 00 <changes>: array16 header at offset 5 of the body */
    assert_int_equal(out.data[4 + 5], 0xdc);
    sk_buf big = SK_BUF_INIT;
    sk_buf_append(&big, out.data + 4, out.len - 4);
    big.data[6] = 0x01;
    big.data[7] = 0x01; /* 257 */
    msgpack_packer pk;
    sk_packer_init(&pk, &big);
    assert_int_equal(sk_change_pack(&pk, &c[SK_MAX_BATCH]), 0);
    expect_dec(__LINE__, -SK_E_BATCH_TOO_BIG, big.data, big.len);
    sk_buf_free(&big);

    for (uint32_t i = 0; i <= SK_MAX_BATCH; i++)
        sk_change_free(&c[i]);
    free(c);
    sk_buf_free(&out);
}

static void test_pull_limits(void **state)
{
    (void)state;
    sk_msg m, d;
    sk_buf out = SK_BUF_INIT;
    sk_msg_init(&m, SK_MSG_PULL, 5);
    assert_int_equal(m.u.pull.limit, 100);
    m.u.pull.cursor = UINT64_MAX;
    m.u.pull.limit = SK_MAX_PULL;
    round_trip(&m, &out, &d);
    assert_true(d.u.pull.cursor == UINT64_MAX);
    assert_int_equal(d.u.pull.limit, SK_MAX_PULL);
    m.u.pull.limit = SK_MAX_PULL + 1;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    m.u.pull.limit = 0;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    sk_buf_free(&out);

    DEC(0, 0x93, 0x07, 0x01, 0x82, 0x01, 0x00, 0x02, 0xcd, 0x03, 0xe8); /* limit 1000 */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x07, 0x01, 0x82, 0x01, 0x00, 0x02, 0xcd, 0x03, 0xe9);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x07, 0x01, 0x82, 0x01, 0x00, 0x02, 0x00);
    DEC(-SK_E_MISSING_FIELD, 0x93, 0x07, 0x01, 0x81, 0x02, 0x05);
}

static void test_changes_raw_matches(void **state)
{
    (void)state;
    fx_msg f;
    assert_int_equal(fx_build_named("changes_partial", &f), 0);
    sk_buf want = SK_BUF_INIT, recs = SK_BUF_INIT, got = SK_BUF_INIT;
    assert_int_equal(sk_msg_encode(&want, &f.m), 0);
    msgpack_packer pk;
    sk_packer_init(&pk, &recs);
    for (uint32_t k = 0; k < f.m.u.changes.nrecords; k++)
        assert_int_equal(sk_record_pack(&pk, &f.m.u.changes.records[k]), 0);
    assert_int_equal(sk_msg_encode_changes_raw(&got, f.m.rid, recs.data, recs.len,
                                               f.m.u.changes.nrecords, f.m.u.changes.next,
                                               f.m.u.changes.more, f.m.u.changes.last),
                     0);
    assert_int_equal(got.len, want.len);
    assert_memory_equal(got.data, want.data, want.len);
    assert_int_equal(
        sk_msg_encode_changes_raw(&got, 1, recs.data, recs.len, SK_MAX_PULL + 1, 0, 0, 1),
        -SK_E_BATCH_TOO_BIG);
    assert_int_equal(got.len, want.len);

    /* Empty reply: a few bytes, as the protocol promises. */
    sk_buf_reset(&got);
    assert_int_equal(sk_msg_encode_changes_raw(&got, 4, NULL, 0, 0, 104, 0, 1), 0);
    const uint8_t empty[] = {0, 0, 0, 8, 0x93, 0x08, 0x04, 0x82, 0x01, 0x90, 0x02, 0x68};
    assert_int_equal(got.len, sizeof(empty));
    assert_memory_equal(got.data, empty, sizeof(empty));
    sk_buf_free(&want);
    sk_buf_free(&recs);
    sk_buf_free(&got);
    fx_free(&f);
}

/* ---- rejection paths ---------------------------------------------------------------------- */

static void test_envelope_rejections(void **state)
{
    (void)state;
    expect_dec(__LINE__, -SK_E_BAD_FRAME, (const uint8_t *)"", 0);
    DEC(-SK_E_BAD_TYPE, 0x81, 0x01, 0x01);                                /* map, not array */
    DEC(-SK_E_BAD_TYPE, 0x09);                                            /* a bare integer */
    DEC(-SK_E_BAD_FRAME, 0x92, 0x09, 0x01);                               /* array of 2 */
    DEC(-SK_E_BAD_FRAME, 0x94, 0x09, 0x01, 0x80, 0x00);                   /* array of 4 */
    DEC(-SK_E_BAD_TYPE, 0x93, 0xa1, 0x41, 0x01, 0x80);                    /* type is a string */
    DEC(-SK_E_BAD_TYPE, 0x93, 0xff, 0x01, 0x80);                          /* type -1 */
    DEC(-SK_E_BAD_TYPE, 0x93, 0x09, 0xc0, 0x80);                          /* rid nil */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x09, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0x80); /* rid 2^32 */
    DEC(-SK_E_BAD_VALUE, 0x93, 0xcf, 0, 0, 0, 1, 0, 0, 0, 1, 0x01, 0x80); /* type > u32 */
    DEC(-SK_E_BAD_TYPE, 0x93, 0x09, 0x01, 0x90);                          /* body is an array */
    DEC(-SK_E_BAD_TYPE, 0x93, 0x09, 0x01, 0x81, 0xa1, 0x61, 0x01);        /* str key */
    DEC(-SK_E_BAD_TYPE, 0x93, 0x09, 0x01, 0x81, 0xff, 0x01);              /* negative key */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x09, 0x01, 0x82, 0x01, 0x01, 0x01, 0x02); /* duplicate key */
    DEC(-SK_E_TRAILING, 0x93, 0x09, 0x01, 0x80, 0x00);                    /* a byte after */
    DEC(-SK_E_BAD_FRAME, 0x93, 0x09, 0x01, 0xc1);                         /* reserved byte */
    DEC(-SK_E_BAD_TYPE, 0x93, 0x09, 0x01, 0x81, 0x01, 0xd4, 0x01, 0x00);  /* ext value */
    DEC(-SK_E_TRUNCATED, 0x93, 0x09, 0x01);

    /* Unknown type: the code, with type and rid filled so the receiver can answer the rid. */
    static const uint8_t unk[] = {0x93, 0xcc, 0x99, 0xce, 0x12, 0x34, 0x56, 0x78, 0x81, 0x01, 0x02};
    sk_msg m;
    size_t off = 0;
    assert_int_equal(sk_msg_decode(unk, sizeof(unk), &m, &off), -SK_E_UNKNOWN_TYPE);
    assert_int_equal(m.type, 0x99);
    assert_int_equal(m.rid, 0x12345678);
    assert_int_equal(off, 1);
    DEC(-SK_E_UNKNOWN_TYPE, 0x93, 0x00, 0x01, 0x80); /* type 0 */
    DEC(-SK_E_UNKNOWN_TYPE, 0x93, 0x12, 0x01, 0x90); /* type 18 (body not even looked at) */

    /* Unknown keys are skipped, whatever their value; known keys still read. */
    static const uint8_t skip[] = {0x93, 0x09, 0x05, 0x84, 0x32, 0x92, 0x01, 0xa1, 0x78, 0x01,
                                   0x2a, 0xcd, 0x01, 0x00, 0xc0, 0x3f, 0x81, 0x01, 0x02};
    assert_int_equal(sk_msg_decode(skip, sizeof(skip), &m, &off), 0);
    assert_int_equal(m.type, SK_MSG_PING);
    assert_int_equal(m.rid, 5);
    assert_int_equal(m.u.ping.ms, 42);
    assert_int_equal(off, 0);

    /* The error offset points at the offending value: [9, 1, {1: "x"}] -> offset 5. */
    static const uint8_t badms[] = {0x93, 0x09, 0x01, 0x81, 0x01, 0xa1, 0x78};
    assert_int_equal(sk_msg_decode(badms, sizeof(badms), &m, &off), -SK_E_BAD_TYPE);
    assert_int_equal(off, 5);
    assert_int_equal(m.type, SK_MSG_PING);
    assert_int_equal(m.rid, 1);
}

static void test_body_rejections(void **state)
{
    (void)state;
    /* HELLO */
    DEC(-SK_E_MISSING_FIELD, 0x93, 0x01, 0x01, 0x81, 0x02, 0x07);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x01, 0x01, 0x81, 0x01, 0x90);       /* no versions */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x01, 0x01, 0x81, 0x01, 0x91, 0x00); /* version 0 */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x01, 0x01, 0x81, 0x01, 0x99, 1, 2, 3, 4, 5, 6, 7, 8, 9);
    DEC(0, 0x93, 0x01, 0x01, 0x81, 0x01, 0x98, 1, 2, 3, 4, 5, 6, 7, 8);
    DEC(-SK_E_BAD_TYPE, 0x93, 0x01, 0x01, 0x81, 0x01, 0x01); /* versions not array */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x01, 0x01, 0x82, 0x01, 0x91, 0x01, 0x05, 0xcd, 0x03, 0xff);
    DEC(0, 0x93, 0x01, 0x01, 0x82, 0x01, 0x91, 0x01, 0x05, 0xcd, 0x04, 0x00);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x01, 0x01, 0x82, 0x01, 0x91, 0x01, 0x03, 0xa2, 0xc3, 0x28);
    DEC(-SK_E_BAD_TYPE, 0x93, 0x01, 0x01, 0x82, 0x01, 0x91, 0x01, 0x02, 0xcb, 0, 0, 0, 0, 0, 0, 0,
        0); /* device as a float */
    /* CHALLENGE: nonce 31 bytes, nonce as str, version 0, missing server_ms */
    {
        uint8_t b[64] = {0x93, 0x02, 0x01, 0x83, 0x01, 0xc4, 32};
        size_t k = 7 + 32;
        b[k++] = 0x02;
        b[k++] = 0x05;
        b[k++] = 0x03;
        b[k++] = 0x01;
        expect_dec(__LINE__, 0, b, k);
        b[k - 1] = 0x00;
        expect_dec(__LINE__, -SK_E_BAD_VALUE, b, k);
        b[k - 1] = 0x01;
        uint8_t s31[64];
        memcpy(s31, b, 7 + 31);
        memcpy(s31 + 7 + 31, b + 7 + 32, 4);
        s31[6] = 31; /* a 31-byte nonce */
        expect_dec(__LINE__, -SK_E_BAD_VALUE, s31, k - 1);
        b[5] = 0xd9; /* str8 */
        expect_dec(__LINE__, -SK_E_BAD_TYPE, b, k);
        b[5] = 0xc4;
        b[3] = 0x82;
        expect_dec(__LINE__, -SK_E_MISSING_FIELD, b, k - 2);
    }
    /* AUTH: signature of 63 bytes */
    {
        uint8_t b[80] = {0x93, 0x03, 0x02, 0x81, 0x01, 0xc4, 63};
        expect_dec(__LINE__, -SK_E_BAD_VALUE, b, 7 + 63);
        b[6] = 64;
        expect_dec(__LINE__, 0, b, 7 + 64);
        expect_dec(__LINE__, -SK_E_MISSING_FIELD, (const uint8_t[]){0x93, 0x03, 0x02, 0x80}, 4);
    }
    /* WELCOME: role 6, max_batch 257, max_inflight 0, max_frame 1023, missing worker */
    {
        uint8_t b[] = {0x93, 0x04, 0x02, 0x87, 0x01, 0x01, 0x02, 0x01, 0x03, 0xcd, 0x04,
                       0x00, 0x04, 0x40, 0x05, 0x04, 0x07, 0x01, 0x08, 0xa1, 0x77};
        expect_dec(__LINE__, 0, b, sizeof(b));
        b[17] = 0x06; /* 4 replica, 5 centre: the last roles (PROTOCOL.md 3.17, 3.18) */
        expect_dec(__LINE__, -SK_E_BAD_VALUE, b, sizeof(b));
        b[17] = 0x05;
        expect_dec(__LINE__, 0, b, sizeof(b));
        b[17] = 0x03;
        expect_dec(__LINE__, 0, b, sizeof(b));
        b[15] = 0x00;
        expect_dec(__LINE__, -SK_E_BAD_VALUE, b, sizeof(b));
        b[15] = 0x04;
        b[10] = 0x03;
        b[11] = 0xff;
        expect_dec(__LINE__, -SK_E_BAD_VALUE, b, sizeof(b));
        b[10] = 0x04;
        b[11] = 0x00;
        b[3] = 0x86;
        expect_dec(__LINE__, -SK_E_MISSING_FIELD, b, sizeof(b) - 3);
        DEC(-SK_E_BAD_VALUE, 0x93, 0x04, 0x02, 0x81, 0x04, 0xcd, 0x01, 0x01); /* batch 257 */
    }
    /* PUSH_ACK */
    DEC(0, 0x93, 0x06, 0x03, 0x81, 0x01, 0x92, 0x93, 0x01, 0x00, 0x65, 0x96, 0x02, 0x02, 0x00, 0x28,
        0x0b, 0xa0);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x93, 0x01, 0x03, 0x65); /* st 3 */
    /* 4 elements: an applied ack with the server's fields (SK_CAP_ECHO), which are a map */
    DEC(-SK_E_BAD_TYPE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x94, 0x01, 0x00, 0x65, 0x00);
    DEC(0, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x94, 0x01, 0x00, 0x65, 0x81, 0x1a, 0x02);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x94, 0x01, 0x01, 0x65, 0x80);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x94, 0x01, 0x00, 0x65, 0x81, 0x00,
        0x02); /* field key 0 */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x94, 0x01, 0x00, 0x65, 0x82, 0x1a,
        0x02, 0x1a, 0x03); /* a key twice */
    DEC(-SK_E_BAD_TYPE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x94, 0x01, 0x00, 0x65, 0x81, 0xa1,
        0x61, 0x02); /* a key that is not a uint */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x93, 0x01, 0x02, 0x00);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x96, 0x01, 0x00, 0x65, 0x28, 0x00,
        0xa0); /* applied with 6 elements */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x96, 0x01, 0x02, 0x05, 0x28, 0x00,
        0xa0); /* rejected with a version */
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x96, 0x01, 0x02, 0x00, 0x00, 0x00,
        0xa0); /* rejected without a code */
    DEC(-SK_E_BAD_TYPE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x01);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x06, 0x03, 0x81, 0x01, 0x91, 0x96, 0x01, 0x02, 0x00, 0x28, 0x00,
        0xa1, 0xff); /* invalid UTF-8 */
    /* CHANGES: bool fields must be booleans; next required */
    DEC(0, 0x93, 0x08, 0x04, 0x84, 0x01, 0x90, 0x02, 0x05, 0x03, 0xc3, 0x04, 0xc2);
    DEC(-SK_E_BAD_TYPE, 0x93, 0x08, 0x04, 0x83, 0x01, 0x90, 0x02, 0x05, 0x03, 0x01);
    DEC(-SK_E_MISSING_FIELD, 0x93, 0x08, 0x04, 0x81, 0x01, 0x90);
    DEC(-SK_E_BAD_TYPE, 0x93, 0x08, 0x04, 0x82, 0x01, 0x80, 0x02, 0x05);
    /* CHANGES: a bare version stands for a record (SK_CAP_ECHO); version 0 or another scalar
     * is refused */
    DEC(0, 0x93, 0x08, 0x04, 0x82, 0x01, 0x92, 0x65, 0xcd, 0x01, 0x00, 0x02, 0xcd, 0x01, 0x00);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x08, 0x04, 0x82, 0x01, 0x91, 0x00, 0x02, 0x05);
    DEC(-SK_E_BAD_TYPE, 0x93, 0x08, 0x04, 0x82, 0x01, 0x91, 0xa1, 0x61, 0x02, 0x05);
    /* PUSH: a change with 6 elements (record layer's MISSING_FIELD), a change that is not an
     * array, a kind out of range */
    DEC(-SK_E_MISSING_FIELD, 0x93, 0x05, 0x03, 0x81, 0x01, 0x91, 0x96, 0xc4, 0x10, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x00, 0x01, 0x00, 0x80);
    DEC(-SK_E_BAD_TYPE, 0x93, 0x05, 0x03, 0x81, 0x01, 0x91, 0x05);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x05, 0x03, 0x81, 0x01, 0x91, 0x97, 0xc4, 0x10, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 1, 0x01, 0x00, 0x01, 0x07, 0x80, 0x90);
    DEC(0, 0x93, 0x05, 0x03, 0x81, 0x01, 0x91, 0x97, 0xc4, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 1, 0x01, 0x00, 0x01, 0x01, 0x80, 0x90);
    /* ERROR / BYE / WIPE */
    DEC(-SK_E_MISSING_FIELD, 0x93, 0x0c, 0x00, 0x81, 0x02, 0xa0);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x0c, 0x00, 0x81, 0x01, 0x00);
    DEC(0, 0x93, 0x0b, 0x00, 0x80);
    DEC(0, 0x93, 0x0b, 0x00, 0x81, 0x03, 0x05); /* retry_ms is not a BYE key: skipped */
    DEC(0, 0x93, 0x0f, 0x00, 0x82, 0x01, 0x17, 0x02, 0xa1, 0x78);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x0c, 0x00, 0x82, 0x01, 0x01, 0x02, 0xa2, 0xc0, 0x80);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x0c, 0x00, 0x82, 0x01, 0x01, 0x02, 0xa3, 0xed, 0xa0, 0x80);
    DEC(0, 0x93, 0x0c, 0x00, 0x82, 0x01, 0x01, 0x02, 0xa3, 0xe0, 0xa4, 0x85);
    /* ENROLL: empty code, 65-byte code, 31-byte key, no key */
    {
        uint8_t b[128] = {0x93, 0x0d, 0x02, 0x82, 0x01, 0xa1, 0x43, 0x02, 0xc4, 32};
        expect_dec(__LINE__, 0, b, 10 + 32);
        b[9] = 31;
        expect_dec(__LINE__, -SK_E_BAD_VALUE, b, 10 + 31);
        b[9] = 32;
        b[5] = 0xa0; /* empty code; everything shifts by one byte */
        memmove(b + 6, b + 7, 3 + 32);
        expect_dec(__LINE__, -SK_E_BAD_VALUE, b, 9 + 32);
        DEC(-SK_E_MISSING_FIELD, 0x93, 0x0d, 0x02, 0x81, 0x01, 0xa1, 0x43);
        uint8_t c[128] = {0x93, 0x0d, 0x02, 0x81, 0x01, 0xd9, SK_MAX_NAME + 1};
        memset(c + 7, 'c', SK_MAX_NAME + 1);
        expect_dec(__LINE__, -SK_E_TOO_LONG, c, 7 + SK_MAX_NAME + 1);
    }
    /* ENROLLED: device 0, role 6 (5, the centre role, is the last) */
    DEC(0, 0x93, 0x0e, 0x02, 0x83, 0x01, 0x07, 0x02, 0xa1, 0x77, 0x03, 0x01);
    DEC(0, 0x93, 0x0e, 0x02, 0x83, 0x01, 0x07, 0x02, 0xa1, 0x77, 0x03, 0x04);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x0e, 0x02, 0x83, 0x01, 0x00, 0x02, 0xa1, 0x77, 0x03, 0x01);
    DEC(0, 0x93, 0x0e, 0x02, 0x83, 0x01, 0x07, 0x02, 0xa1, 0x77, 0x03, 0x05);
    DEC(-SK_E_BAD_VALUE, 0x93, 0x0e, 0x02, 0x83, 0x01, 0x07, 0x02, 0xa1, 0x77, 0x03, 0x06);
    DEC(-SK_E_MISSING_FIELD, 0x93, 0x0e, 0x02, 0x82, 0x01, 0x07, 0x02, 0xa1, 0x77);
}

static void test_encoder_rejections(void **state)
{
    (void)state;
    sk_buf out = SK_BUF_INIT;
    sk_buf_append(&out, "xy", 2); /* pre-existing content must survive a failed encode */
    sk_msg m;
    sk_msg_init(&m, SK_MSG_HELLO, 1);
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE); /* no versions */
    m.u.hello.nversions = SK_MAX_VERSIONS + 1;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    m.u.hello.nversions = 1;
    m.u.hello.versions[0] = 1;
    m.u.hello.max_frame = SK_FRAME_MIN_MAX - 1;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    m.u.hello.max_frame = SK_FRAME_DEFAULT_MAX;
    m.u.hello.app = (sk_str){"\xc3\x28", 2}; /* invalid UTF-8 */
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    sk_msg_init(&m, SK_MSG_CHALLENGE, 1);
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE); /* version 0 */
    sk_msg_init(&m, SK_MSG_ERROR, 1);
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE); /* code 0 */
    sk_msg_init(&m, SK_MSG_ENROLLED, 1);
    m.u.enrolled.device = 1;
    m.u.enrolled.role = 6;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    sk_msg_init(&m, SK_MSG_ENROLL, 1);
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE); /* empty code */
    sk_ack a = {.op = 1, .status = SK_ACK_REJECTED, .code = 0};
    sk_msg_init(&m, SK_MSG_PUSH_ACK, 1);
    m.u.push_ack.acks = &a;
    m.u.push_ack.nacks = 1;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    a.status = 3;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    /* An ack's field map: only on an applied change, present, and a valid map. */
    static const uint8_t not_a_map[] = {0x01};
    a = (sk_ack){.op = 1,
                 .status = SK_ACK_MERGED,
                 .version = 2,
                 .has_fields = 1,
                 .fields = not_a_map,
                 .fields_len = sizeof(not_a_map)};
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    a.status = SK_ACK_APPLIED;
    a.fields = NULL;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    a.fields = not_a_map;
    assert_int_equal(sk_msg_encode(&out, &m), sk_ack_fields_check(not_a_map, sizeof(not_a_map)));
    assert_true(sk_ack_fields_check(not_a_map, sizeof(not_a_map)) < 0);
    /* HISTORY_OF: its changes must be there and be a valid history. */
    sk_msg_init(&m, SK_MSG_HISTORY_OF, 1);
    m.u.history_of.next = 1;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BAD_VALUE);
    m.u.history_of.changes = not_a_map;
    m.u.history_of.changes_len = sizeof(not_a_map);
    uint32_t hn;
    int hrc = sk_history_check(not_a_map, sizeof(not_a_map), &hn);
    assert_true(hrc < 0);
    assert_int_equal(sk_msg_encode(&out, &m), hrc);
    sk_msg_init(&m, SK_MSG_PUSH_ACK, 1);
    m.u.push_ack.acks = &a;
    m.u.push_ack.nacks = SK_MAX_BATCH + 1;
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_BATCH_TOO_BIG);
    sk_msg_init(&m, SK_MSG_TYPE_MAX + 1, 1);
    assert_int_equal(sk_msg_encode(&out, &m), -SK_E_UNKNOWN_TYPE);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "xy", 2);

    /* A buffer with a limit: encoding a PUSH that does not fit is NOMEM, nothing half-written. */
    fx_msg f;
    assert_int_equal(fx_build_named("push", &f), 0);
    sk_buf small = SK_BUF_INIT;
    small.limit = 300;
    assert_int_equal(sk_msg_encode(&small, &f.m), -SK_E_NOMEM);
    assert_int_equal(small.len, 0);
    sk_buf_free(&small);
    fx_free(&f);
    sk_buf_free(&out);
}

/* ---- adversarial frames ------------------------------------------------------------------- */

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void test_adversarial(void **state)
{
    (void)state;
    size_t before = heap_in_use();
    for (int round = 0; round < 200; round++) {
        /* array32 claiming 2^28 elements (as the envelope and inside the body) */
        DEC(-SK_E_TOO_LONG, 0xdd, 0x10, 0x00, 0x00, 0x00, 0x01, 0x01, 0x80);
        DEC(-SK_E_TOO_LONG, 0x93, 0x05, 0x01, 0x81, 0x01, 0xdd, 0x10, 0x00, 0x00, 0x00);
        /* the same within the item limit but beyond the bytes present */
        DEC(-SK_E_TRUNCATED, 0x93, 0x05, 0x01, 0x81, 0x01, 0xdd, 0x00, 0x01, 0x00, 0x00, 0x00);
        /* map32 claiming 2^28 pairs */
        DEC(-SK_E_TOO_LONG, 0x93, 0x05, 0x01, 0xdf, 0x10, 0x00, 0x00, 0x00);
        /* str32 and bin32 of 4 GiB - 1 */
        DEC(-SK_E_TOO_LONG, 0x93, 0x01, 0x01, 0x81, 0x03, 0xdb, 0xff, 0xff, 0xff, 0xff);
        DEC(-SK_E_TOO_LONG, 0x93, 0x03, 0x01, 0x81, 0x01, 0xc6, 0xff, 0xff, 0xff, 0xff);
        /* str of 64 KiB + 1 declared, with only a few bytes */
        DEC(-SK_E_TOO_LONG, 0x93, 0x01, 0x01, 0x81, 0x03, 0xdb, 0x00, 0x01, 0x00, 0x01, 0x41);
        DEC(-SK_E_TRUNCATED, 0x93, 0x01, 0x01, 0x81, 0x03, 0xda, 0x01, 0x00, 0x41);
        /* the reserved byte anywhere */
        DEC(-SK_E_BAD_FRAME, 0xc1);
        DEC(-SK_E_BAD_FRAME, 0x93, 0x01, 0x01, 0x81, 0x01, 0x91, 0xc1);
    }
    size_t after = heap_in_use();
    assert_true(after < before + 1024 * 1024);
    assert_true(after <= before + 4096); /* nothing kept: these are rejected before allocation */
}

/* Nesting: the limit (16 levels, envelope = 1) passes; one more is TOO_DEEP. An unknown key
 * carries the nest so the decoder accepts the frame once the validator has. */
static void test_depth_limit(void **state)
{
    (void)state;
    uint8_t b[64];
    for (uint32_t depth = 14; depth <= 18; depth++) {
        size_t k = 0;
        b[k++] = 0x93; /* level 1 */
        b[k++] = 0x09;
        b[k++] = 0x01;
        b[k++] = 0x81; /* level 2 */
        b[k++] = 0x3f;
        for (uint32_t d = 3; d <= depth; d++)
            b[k++] = 0x91;
        b[k++] = 0x00;
        int want = depth <= sk_mp_default_limits.max_depth ? 0 : -SK_E_TOO_DEEP;
        expect_dec(__LINE__, want, b, k);
    }
}

/* A valid PUSH frame cut at every offset: every prefix is TRUNCATED (BAD_FRAME when empty),
 * and fed through the frame reader a prefix never yields a frame. */
static void test_truncation_everywhere(void **state)
{
    (void)state;
    fx_msg f;
    assert_int_equal(fx_build_named("push", &f), 0);
    sk_buf out = SK_BUF_INIT;
    assert_int_equal(sk_msg_encode(&out, &f.m), 0);
    const uint8_t *body = out.data + 4;
    size_t n = out.len - 4;
    size_t before = heap_in_use();
    for (size_t cut = 0; cut < n; cut++)
        expect_dec(__LINE__, cut == 0 ? -SK_E_BAD_FRAME : -SK_E_TRUNCATED, body, cut);
    expect_dec(__LINE__, 0, body, n);
    assert_true(heap_in_use() <= before + 4096);

    for (size_t cut = 0; cut < out.len; cut++) {
        sk_frame_reader r;
        sk_frame_reader_init(&r, SK_FRAME_DEFAULT_MAX);
        size_t used = 0;
        const uint8_t *fr = NULL;
        uint32_t flen = 0;
        assert_int_equal(sk_frame_feed(&r, out.data, cut, &used, &fr, &flen), 0);
        assert_int_equal(used, cut);
        assert_int_equal(sk_frame_feed(&r, out.data + cut, out.len - cut, &used, &fr, &flen), 1);
        assert_int_equal(flen, n);
        assert_memory_equal(fr, body, n);
        sk_frame_reader_free(&r);
    }
    sk_buf_free(&out);
    fx_free(&f);
}

/* Length prefixes 0, limit + 1 and 2^32 - 1 are refused from the header alone. */
static void test_frame_lengths(void **state)
{
    (void)state;
    static const struct {
        uint32_t len;
        int code;
    } cases[] = {{0, -SK_E_BAD_FRAME},
                 {64 * 1024 + 1, -SK_E_FRAME_TOO_BIG},
                 {UINT32_MAX, -SK_E_FRAME_TOO_BIG}};
    size_t before = heap_in_use();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t hdr[SK_FRAME_HDR + 1];
        sk_frame_put_header(hdr, cases[i].len);
        hdr[4] = 0x93;
        sk_frame_reader r;
        sk_frame_reader_init(&r, 64 * 1024);
        size_t used;
        const uint8_t *fr;
        uint32_t flen;
        assert_int_equal(sk_frame_feed(&r, hdr, sizeof(hdr), &used, &fr, &flen), cases[i].code);
        assert_int_equal(used, SK_FRAME_HDR);
        assert_null(r.body);
        sk_frame_reader_free(&r);
    }
    assert_true(heap_in_use() < before + 1024 * 1024);
}

/* The worst case for decode memory: one-byte field values, as many as a frame can hold. What
 * the decoded message holds stays under 48 times the frame size (docs/PROTOCOL.md "Limits"). */
static void test_decode_memory_bound(void **state)
{
    (void)state;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint32(&pk, SK_MSG_PUSH);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_uint32(&pk, 1);
    msgpack_pack_array(&pk, 64);
    for (uint32_t c = 0; c < 64; c++) {
        uint8_t id[16] = {1, (uint8_t)c};
        msgpack_pack_array(&pk, 7);
        sk_pack_bin(&pk, id, 16);
        msgpack_pack_uint32(&pk, c + 1);
        msgpack_pack_uint32(&pk, 0);
        msgpack_pack_uint32(&pk, 1);
        msgpack_pack_uint32(&pk, 0);
        msgpack_pack_map(&pk, SK_MAX_FIELDS);
        for (uint32_t k = 1; k <= SK_MAX_FIELDS; k++) {
            msgpack_pack_uint32(&pk, k);
            msgpack_pack_uint32(&pk, 1);
        }
        msgpack_pack_array(&pk, 0);
    }
    assert_false(b.oom);
    size_t before = heap_in_use();
    sk_msg m;
    assert_int_equal(sk_msg_decode(b.data, b.len, &m, NULL), 0);
    size_t held = heap_in_use() - before;
    assert_int_equal(m.u.push.nchanges, 64);
    assert_int_equal(m.u.push.changes[63].nfields, SK_MAX_FIELDS);
    assert_true(held < 48 * b.len);
    sk_msg_free(&m);
    assert_true(heap_in_use() <= before + 4096);
    sk_buf_free(&b);
}

/* ---- JSON and helpers --------------------------------------------------------------------- */

static void test_json_rendering(void **state)
{
    (void)state;
    sk_msg m;
    sk_msg_init(&m, SK_MSG_ERROR, 9);
    m.u.error.code = SK_E_TOO_MANY_INFLIGHT;
    static const char text[] = "q\"b\\s\n\t\x01\x7f é ཚེ";
    m.u.error.msg = (sk_str){text, sizeof(text) - 1};
    sk_buf j = SK_BUF_INIT;
    assert_int_equal(sk_msg_to_json(&j, &m), 0);
    sk_buf_append(&j, "", 1);
    assert_string_equal((const char *)j.data,
                        "{\"type\":\"ERROR\",\"type_code\":12,\"rid\":9,\"code\":26,"
                        "\"error\":\"TOO_MANY_INFLIGHT\",\"msg\":\"q\\\"b\\\\s\\n\\t\\u0001\\u007f"
                        " é ཚེ\",\"retry_ms\":0}");

    /* Generic rendering: bin as hex, maps keyed by decimal ints or strings, invalid UTF-8 in
     * a str shown as U+FFFD, negative ints, floats, nil, nested keys as JSON text. */
    static const uint8_t v[] = {0x87, 0x01, 0xc4, 0x02, 0xab, 0xcd, 0xa1, 0x6b, 0xa2, 0xff, 0x41,
                                0x02, 0xd0, 0x80, 0x03, 0xcb, 0x3f, 0xf8, 0,    0,    0,    0,
                                0,    0,    0x04, 0xc0, 0x91, 0x01, 0xc3, 0xff, 0x80};
    sk_buf_reset(&j);
    assert_int_equal(sk_msg_mp_to_json(&j, v, sizeof(v)), 0);
    sk_buf_append(&j, "", 1);
    assert_string_equal((const char *)j.data, "{\"1\":\"abcd\",\"k\":\"\\ufffdA\",\"2\":-128,"
                                              "\"3\":1.5,\"4\":null,\"[1]\":true,\"-1\":{}}");
    sk_buf_reset(&j);
    assert_int_equal(sk_msg_mp_to_json(&j, v, sizeof(v) - 1), -SK_E_TRUNCATED);
    assert_int_equal(j.len, 0);
    sk_buf_free(&j);
}

/* Every JSON the project writes escapes through one writer (proto/sk_jw.c): a message's
 * rendering is byte for byte what sk_jw_escape gives. \b and \f as \u00XX, the C1 control
 * U+0085 escaped (a terminal could act on it), a no-break space kept as UTF-8. */
static void test_json_one_writer(void **state)
{
    (void)state;
    static const uint8_t v[] = {0xa6, 0x08, 0x0c, 0xc2, 0x85, 0xc2, 0xa0};
    static const char want[] = "\"\\u0008\\u000c\\u0085\xc2\xa0\"";
    sk_buf j = SK_BUF_INIT, e = SK_BUF_INIT;
    assert_int_equal(sk_msg_mp_to_json(&j, v, sizeof(v)), 0);
    sk_jw_escape(&e, (const char *)v + 1, sizeof(v) - 1);
    assert_int_equal(j.len, sizeof(want) - 1);
    assert_memory_equal(j.data, want, sizeof(want) - 1);
    assert_int_equal(e.len, j.len);
    assert_memory_equal(e.data, j.data, j.len);
    sk_buf_free(&j);
    sk_buf_free(&e);
}

static void test_helpers(void **state)
{
    (void)state;
    assert_string_equal(sk_msg_type_name(SK_MSG_HELLO), "HELLO");
    assert_string_equal(sk_msg_type_name(SK_MSG_PUSH_ACK), "PUSH_ACK");
    assert_string_equal(sk_msg_type_name(SK_MSG_WIPE), "WIPE");
    assert_string_equal(sk_msg_type_name(0), "UNKNOWN");
    assert_string_equal(sk_msg_type_name(SK_MSG_REPL_PULL), "REPL_PULL"); /* own codec */
    assert_string_equal(sk_msg_type_name(SK_MSG_HUB_PUSH), "HUB_PUSH");   /* own codec */
    assert_string_equal(sk_msg_type_name(SK_MSG_HUB_ACK + 1), "UNKNOWN");
    sk_str s = sk_str_c("worker-004");
    assert_int_equal(s.n, 10);
    assert_true(sk_str_eq(s, "worker-004"));
    assert_false(sk_str_eq(s, "worker-00"));
    assert_false(sk_str_eq(s, "worker-0045"));
    sk_str e = sk_str_c(NULL);
    assert_int_equal(e.n, 0);
    assert_true(sk_str_eq(e, ""));
    assert_true(sk_str_eq(e, NULL));
    assert_true(sk_str_eq(SK_STR(""), NULL));

    sk_msg m;
    sk_msg_init(&m, SK_MSG_CHANGES, 3);
    assert_int_equal(m.u.changes.last, 1);
    assert_int_equal(m.u.changes.more, 0);
    sk_msg_init(&m, SK_MSG_HELLO, 3);
    assert_int_equal(m.u.hello.max_frame, SK_FRAME_DEFAULT_MAX);
    sk_msg_free(&m);
    sk_msg_free(NULL);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_grow),
    cmocka_unit_test(test_all_fixtures_round_trip),
    cmocka_unit_test(test_hello_fields_and_defaults),
    cmocka_unit_test(test_max_strings),
    cmocka_unit_test(test_push_batch_sizes),
    cmocka_unit_test(test_pull_limits),
    cmocka_unit_test(test_changes_raw_matches),
    cmocka_unit_test(test_envelope_rejections),
    cmocka_unit_test(test_body_rejections),
    cmocka_unit_test(test_encoder_rejections),
    cmocka_unit_test(test_adversarial),
    cmocka_unit_test(test_depth_limit),
    cmocka_unit_test(test_truncation_everywhere),
    cmocka_unit_test(test_frame_lengths),
    cmocka_unit_test(test_decode_memory_bound),
    cmocka_unit_test(test_json_rendering),
    cmocka_unit_test(test_json_one_writer),
    cmocka_unit_test(test_helpers),
})
