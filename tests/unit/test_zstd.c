/*
 * test_zstd.c - unit tests of the compression wrapper (proto/sk_zstd.c, PROTOCOL.md section 10):
 * a CHANGES frame of 50 records survives wrap and unwrap byte for byte and shrinks; every
 * rejection is -SK_E_DECOMPRESS: a bomb (a few hundred bytes that expand past max_frame) is
 * refused before any large allocation, a declared size that differs from the zstd header's, a
 * frame without a content size, truncated data, a wrapper inside a wrapper, garbage, a wrong
 * envelope. Wrappers are written out byte by byte here, independently of sk_zframe_wrap.
 *
 * The test binary is linked with -Wl,--wrap=malloc: every malloc that proto code makes goes
 * through __wrap_malloc below, which remembers the largest request, so "rejected before
 * allocation" is checked exactly and not only through mallinfo2.
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
#include <zstd.h>

#include "msg_fixtures.h"
#include "sk_buf.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_msg.h"
#include "sk_zstd.h"

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
static size_t largest_malloc;

void *__wrap_malloc(size_t n)
{
    if (n > largest_malloc)
        largest_malloc = n;
    return __real_malloc(n);
}

#define MAX_FRAME (1024u * 1024u)

/* A CHANGES frame of 50 records: the two golden-vector records (Hindi and Tibetan text, stamps,
 * entries) repeated with distinct ids and versions, the shape a 50-referral pull answers with. */
static void changes50(sk_buf *out)
{
    fx_msg f;
    assert_int_equal(fx_build_named("changes", &f), 0);
    sk_record recs[50];
    for (size_t i = 0; i < 50; i++) {
        recs[i] = f.m.u.changes.records[i % 2]; /* shallow: the fixture owns the parts */
        recs[i].id.b[15] = (uint8_t)i;
        recs[i].id.b[14] = 0xa5;
        recs[i].version = 101 + i;
    }
    sk_msg m;
    sk_msg_init(&m, SK_MSG_CHANGES, 7);
    m.u.changes.records = recs;
    m.u.changes.nrecords = 50;
    m.u.changes.next = 150;
    assert_int_equal(sk_msg_encode(out, &m), 0);
    fx_free(&f);
}

/* Wrapper envelope [0, 0, {1: size, 2: bin(data)}] written by hand (uint32 size, bin32). */
static void envelope(sk_buf *b, uint64_t size, const void *data, size_t dlen)
{
    uint8_t h[16] = {0x93, 0x00, 0x00, 0x82, 0x01, 0xce, 0, 0, 0, 0, 0x02, 0xc6};
    sk_be32_put(h + 6, (uint32_t)size);
    sk_be32_put(h + 12, (uint32_t)dlen);
    assert_int_equal(sk_buf_append(b, h, sizeof(h)), 0);
    assert_int_equal(sk_buf_append(b, data, dlen), 0);
}

/* zstd-compress src; content size in the header only when with_size. Caller frees. */
static uint8_t *zcompress(const void *src, size_t n, int with_size, size_t *zn)
{
    size_t bound = ZSTD_compressBound(n);
    uint8_t *z = malloc(bound);
    assert_non_null(z);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(cc);
    assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, with_size)));
    size_t r = ZSTD_compress2(cc, z, bound, src, n);
    assert_false(ZSTD_isError(r));
    ZSTD_freeCCtx(cc);
    *zn = r;
    return z;
}

/* A body of n bytes (head, then fill to the end), its zstd compression (content size in the
 * header only when with_size) and an empty buffer for the envelopes built around it. */
typedef struct {
    uint8_t body[3000];
    size_t n;
    uint8_t *z;
    size_t zn;
    sk_buf b;
} zbody;

static void zbody_init(zbody *f, size_t n, uint8_t fill, const char *head, int with_size)
{
    assert_true(n <= sizeof(f->body));
    f->n = n;
    memset(f->body, fill, n);
    memcpy(f->body, head, strlen(head));
    f->z = zcompress(f->body, n, with_size, &f->zn);
    sk_buf_init(&f->b);
}

static void zbody_free(zbody *f)
{
    free(f->z);
    sk_buf_free(&f->b);
}

static void expect_unwrap(int line, int code, const uint8_t *b, size_t n, uint32_t max)
{
    uint8_t *out = (uint8_t *)"untouched";
    size_t olen = 77;
    int rc = sk_zframe_unwrap(b, n, max, &out, &olen);
    if (rc != code)
        fail_msg("line %d: unwrap gave %d %s, expected %d %s", line, rc, sk_err_name(rc), code,
                 sk_err_name(code));
    if (rc) {
        assert_string_equal((const char *)out, "untouched");
        assert_int_equal(olen, 77);
    } else {
        free(out);
    }
}
#define UNWRAP(code, b, n, max) expect_unwrap(__LINE__, (code), (b), (n), (max))

/* b emptied and refilled with the envelope of size and data, which must unwrap (as a frame of at
 * most MAX_FRAME) with code; b keeps the envelope for more checks. */
static void expect_envelope(int line, int code, sk_buf *b, uint64_t size, const void *data,
                            size_t dlen)
{
    sk_buf_reset(b);
    envelope(b, size, data, dlen);
    expect_unwrap(line, code, b->data, b->len, MAX_FRAME);
}
#define UNWRAP_ENVELOPE(code, b, size, data, dlen)                                                 \
    expect_envelope(__LINE__, (code), (b), (size), (data), (dlen))

static void test_round_trip_changes(void **state)
{
    (void)state;
    sk_buf plain = SK_BUF_INIT, z = SK_BUF_INIT;
    changes50(&plain);
    size_t blen = plain.len - SK_FRAME_HDR;
    assert_true(blen > 10000);
    assert_int_equal(sk_zframe_wrap(&z, plain.data + SK_FRAME_HDR, blen), 0);
    /* A complete frame: header equals the body length, body is a wrapper. */
    uint32_t hl = (uint32_t)z.data[0] << 24 | (uint32_t)z.data[1] << 16 | (uint32_t)z.data[2] << 8 |
                  z.data[3];
    assert_int_equal(hl, z.len - SK_FRAME_HDR);
    assert_int_equal(sk_zframe_is_wrapper(z.data + 4, z.len - 4), 1);
    assert_int_equal(sk_zframe_is_wrapper(plain.data + 4, blen), 0);
    /* The repeated records compress well below half. */
    assert_true(z.len * 2 < plain.len);
    print_message("CHANGES of 50: %zu bytes plain, %zu compressed (%.1f%%)\n", plain.len, z.len,
                  100.0 * (double)z.len / (double)plain.len);
    uint8_t *out = NULL;
    size_t olen = 0;
    largest_malloc = 0;
    assert_int_equal(sk_zframe_unwrap(z.data + 4, z.len - 4, MAX_FRAME, &out, &olen), 0);
    assert_int_equal(largest_malloc, blen); /* the wrapper sees the proto code's allocations */
    assert_int_equal(olen, blen);
    assert_memory_equal(out, plain.data + 4, blen);
    sk_msg m;
    assert_int_equal(sk_msg_decode(out, olen, &m, NULL), 0);
    assert_int_equal(m.type, SK_MSG_CHANGES);
    assert_int_equal(m.u.changes.nrecords, 50);
    assert_int_equal(m.u.changes.records[49].version, 150);
    sk_msg_free(&m);
    free(out);
    /* The size limit is inclusive: exactly blen passes, one less fails. */
    UNWRAP(0, z.data + 4, z.len - 4, (uint32_t)blen);
    UNWRAP(-SK_E_DECOMPRESS, z.data + 4, z.len - 4, (uint32_t)blen - 1);

    /* In place: the buffer's last frame is replaced by the wrapper, an earlier one kept. */
    sk_buf two = SK_BUF_INIT;
    assert_int_equal(sk_buf_append(&two, "\0\0\0\1\xc0", 5), 0);
    assert_int_equal(sk_buf_append(&two, plain.data, plain.len), 0);
    assert_int_equal(sk_zframe_compress_frame(&two, 5), 1);
    assert_int_equal(two.len, 5 + z.len);
    assert_memory_equal(two.data, "\0\0\0\1\xc0", 5);
    assert_memory_equal(two.data + 5, z.data, z.len);
    assert_int_equal(sk_zframe_compress_frame(&two, 6), -SK_E_BAD_FRAME);
    sk_buf_free(&two);
    sk_buf_free(&plain);
    sk_buf_free(&z);
}

static void test_small_not_compressed(void **state)
{
    (void)state;
    uint8_t body[SK_ZFRAME_MIN];
    memset(body, 'a', sizeof(body));
    body[0] = 0x91; /* not that it matters: a body is bytes here */
    sk_buf z = SK_BUF_INIT;
    assert_int_equal(sk_zframe_wrap(&z, body, sizeof(body) - 1), SK_ZFRAME_PLAIN);
    assert_int_equal(z.len, 0);
    assert_int_equal(sk_zframe_wrap(&z, body, sizeof(body)), 0); /* 1 KiB of 'a': compresses */
    assert_true(z.len < 64);
    /* Random bytes do not get smaller: plain. */
    sk_buf r = SK_BUF_INIT;
    uint32_t x = 12345;
    uint8_t rnd[4096];
    for (size_t i = 0; i < sizeof(rnd); i++) {
        x = x * 1103515245u + 12345u;
        rnd[i] = (uint8_t)(x >> 16);
    }
    assert_int_equal(sk_zframe_wrap(&r, rnd, sizeof(rnd)), SK_ZFRAME_PLAIN);
    assert_int_equal(r.len, 0);
    /* In place: a small frame and an incompressible one are left exactly as they were. */
    uint8_t fr[SK_FRAME_HDR + sizeof(rnd)];
    sk_frame_put_header(fr, sizeof(rnd));
    memcpy(fr + SK_FRAME_HDR, rnd, sizeof(rnd));
    assert_int_equal(sk_buf_append(&r, fr, sizeof(fr)), 0);
    assert_int_equal(sk_zframe_compress_frame(&r, 0), 0);
    assert_int_equal(r.len, sizeof(fr));
    assert_memory_equal(r.data, fr, sizeof(fr));
    sk_buf_reset(&r);
    assert_int_equal(sk_buf_append(&r, "\0\0\0\2\x91\x01", 6), 0);
    assert_int_equal(sk_zframe_compress_frame(&r, 0), 0);
    assert_int_equal(r.len, 6);
    sk_buf_free(&r);
    sk_buf_free(&z);
}

static void test_bomb_rejected_before_allocation(void **state)
{
    (void)state;
    /* 64 MiB of zeros compress to a few kilobytes. */
    size_t big = 64u * 1024u * 1024u;
    uint8_t *zeros = calloc(1, big);
    assert_non_null(zeros);
    size_t zn;
    uint8_t *z = zcompress(zeros, big, 1, &zn);
    free(zeros);
    assert_true(zn < 8192);
    sk_buf b = SK_BUF_INIT;
    struct mallinfo2 before = mallinfo2();

    /* Envelope honest about 64 MiB: above max_frame. */
    envelope(&b, big, z, zn);
    largest_malloc = 0;
    UNWRAP(-SK_E_DECOMPRESS, b.data, b.len, MAX_FRAME);
    assert_true(largest_malloc < 65536);
    /* Envelope claims max_frame exactly; the zstd header says 64 MiB. */
    sk_buf_reset(&b);
    envelope(&b, MAX_FRAME, z, zn);
    largest_malloc = 0;
    UNWRAP(-SK_E_DECOMPRESS, b.data, b.len, MAX_FRAME);
    assert_true(largest_malloc < 65536);
    /* Same without a content size in the zstd header (a streaming frame). */
    free(z);
    zeros = calloc(1, 4u * MAX_FRAME);
    assert_non_null(zeros);
    z = zcompress(zeros, 4u * MAX_FRAME, 0, &zn);
    free(zeros);
    sk_buf_reset(&b);
    envelope(&b, MAX_FRAME, z, zn);
    largest_malloc = 0;
    UNWRAP(-SK_E_DECOMPRESS, b.data, b.len, MAX_FRAME);
    assert_true(largest_malloc < 65536);

    struct mallinfo2 after = mallinfo2();
    size_t grew = after.uordblks > before.uordblks ? after.uordblks - before.uordblks : 0;
    assert_true(grew < 65536);
    free(z);
    sk_buf_free(&b);
}

static void test_declared_size_mismatch(void **state)
{
    (void)state;
    zbody f;
    zbody_init(&f, 3000, 0x41, "\x93\x08", 1);
    UNWRAP_ENVELOPE(0, &f.b, f.n, f.z, f.zn);
    UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, &f.b, f.n - 1, f.z, f.zn);
    UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, &f.b, f.n + 1, f.z, f.zn);
    UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, &f.b, 0, f.z, f.zn);
    zbody_free(&f);
}

static void test_unknown_content_size(void **state)
{
    (void)state;
    zbody f;
    zbody_init(&f, 3000, 0x42, "", 0);
    assert_int_equal(ZSTD_getFrameContentSize(f.z, f.zn), ZSTD_CONTENTSIZE_UNKNOWN);
    UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, &f.b, f.n, f.z, f.zn);
    zbody_free(&f);
}

static void test_truncated_and_trailing(void **state)
{
    (void)state;
    sk_buf plain = SK_BUF_INIT;
    changes50(&plain);
    size_t blen = plain.len - SK_FRAME_HDR;
    size_t zn;
    uint8_t *z = zcompress(plain.data + 4, blen, 1, &zn);
    sk_buf b = SK_BUF_INIT;
    /* The zstd frame cut at several points (the bin length honest about the cut). */
    size_t cuts[] = {0, 1, 4, 6, zn / 2, zn - 4, zn - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, &b, blen, z, cuts[i]);
    }
    /* The wrapper itself cut short (bin length past the end). */
    UNWRAP_ENVELOPE(0, &b, blen, z, zn);
    for (size_t cut = 0; cut < 40; cut++)
        UNWRAP(-SK_E_DECOMPRESS, b.data, cut, MAX_FRAME);
    UNWRAP(-SK_E_DECOMPRESS, b.data, b.len - 1, MAX_FRAME);
    /* Two zstd frames back to back, or a byte after the frame. */
    uint8_t *two = malloc(2 * zn);
    assert_non_null(two);
    memcpy(two, z, zn);
    memcpy(two + zn, z, zn);
    UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, &b, blen, two, 2 * zn);
    UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, &b, blen, two, zn + 1);
    /* Corrupt block content (checksum-less frame: the decoder or the size check catches it). */
    memcpy(two, z, zn);
    for (size_t i = 12; i < zn; i += 7)
        two[i] ^= 0x5a;
    sk_buf_reset(&b);
    envelope(&b, blen, two, zn);
    uint8_t *out = NULL;
    size_t olen = 0;
    int rc = sk_zframe_unwrap(b.data, b.len, MAX_FRAME, &out, &olen);
    if (rc == 0) { /* zstd cannot always tell; then the bytes differ and the decoder judges */
        assert_int_equal(olen, blen);
        free(out);
    } else {
        assert_int_equal(rc, -SK_E_DECOMPRESS);
    }
    free(two);
    free(z);
    sk_buf_free(&b);
    sk_buf_free(&plain);
}

static void test_nested_wrapper(void **state)
{
    (void)state;
    sk_buf plain = SK_BUF_INIT, inner = SK_BUF_INIT, outer = SK_BUF_INIT;
    changes50(&plain);
    assert_int_equal(sk_zframe_wrap(&inner, plain.data + 4, plain.len - 4), 0);
    /* The inner wrapper's body compressed by hand into an outer wrapper: valid in every other
     * respect, refused because what comes out is a wrapper again. */
    sk_buf body = SK_BUF_INIT;
    assert_int_equal(sk_buf_append(&body, inner.data + 4, inner.len - 4), 0);
    size_t zn;
    uint8_t *z = zcompress(body.data, body.len, 1, &zn);
    envelope(&outer, body.len, z, zn);
    UNWRAP(-SK_E_DECOMPRESS, outer.data, outer.len, MAX_FRAME);
    /* A body whose type is 0 in a longer integer encoding is a wrapper too. */
    sk_buf t = SK_BUF_INIT;
    assert_int_equal(sk_buf_append(&t, "\x93\xcc\x00\x00\x80", 5), 0);
    assert_int_equal(sk_zframe_is_wrapper(t.data, t.len), 1);
    assert_int_equal(sk_zframe_is_wrapper((const uint8_t *)"\x93\x01", 2), 0);
    assert_int_equal(sk_zframe_is_wrapper((const uint8_t *)"\x93", 1), 0);
    assert_int_equal(sk_zframe_is_wrapper((const uint8_t *)"\x00", 1), 0);
    assert_int_equal(sk_zframe_is_wrapper(NULL, 0), 0);
    sk_buf_free(&t);
    free(z);
    sk_buf_free(&body);
    sk_buf_free(&plain);
    sk_buf_free(&inner);
    sk_buf_free(&outer);
}

static void test_garbage_and_bad_envelope(void **state)
{
    (void)state;
    zbody f;
    zbody_init(&f, 2000, 0x43, "", 1);
    sk_buf *b = &f.b;
    /* Not a zstd frame at all. */
    UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, b, f.n, f.body, 100);
    /* A valid envelope around nothing. */
    UNWRAP_ENVELOPE(-SK_E_DECOMPRESS, b, f.n, f.z, 0);
    /* Not MessagePack. */
    UNWRAP(-SK_E_DECOMPRESS, (const uint8_t *)"\x93\x00\x00\xc1", 4, MAX_FRAME);
    UNWRAP(-SK_E_DECOMPRESS, (const uint8_t *)"", 0, MAX_FRAME);
    /* Envelope variants built from the good one. */
    UNWRAP_ENVELOPE(0, b, f.n, f.z, f.zn);
    uint8_t *v = malloc(b->len + 8);
    assert_non_null(v);
    static const struct {
        int line;
        size_t at;
        uint8_t byte;
    } one_byte_off[] = {
        {__LINE__, 2, 0x05},  /* rid 5 */
        {__LINE__, 0, 0x94},  /* 4 elements */
        {__LINE__, 4, 0x03},  /* key 3 instead of 1: size missing */
        {__LINE__, 10, 0x01}, /* key 1 twice, data missing (key 1's bin is the wrong type) */
        {__LINE__, 11, 0xdb}, /* data as str32 */
    };
    for (size_t i = 0; i < sizeof(one_byte_off) / sizeof(one_byte_off[0]); i++) {
        memcpy(v, b->data, b->len);
        v[one_byte_off[i].at] = one_byte_off[i].byte;
        expect_unwrap(one_byte_off[i].line, -SK_E_DECOMPRESS, v, b->len, MAX_FRAME);
    }
    /* An unknown key with a small value is skipped (forward compatibility). */
    static const uint8_t three_keys[] = {0x93, 0x00, 0x00, 0x83, 0x09, 0xc0};
    memcpy(v, three_keys, sizeof(three_keys));
    memcpy(v + sizeof(three_keys), b->data + 4, b->len - 4);
    UNWRAP(0, v, b->len + 2, MAX_FRAME);
    free(v);
    zbody_free(&f);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_round_trip_changes),
    cmocka_unit_test(test_small_not_compressed),
    cmocka_unit_test(test_bomb_rejected_before_allocation),
    cmocka_unit_test(test_declared_size_mismatch),
    cmocka_unit_test(test_unknown_content_size),
    cmocka_unit_test(test_truncated_and_trailing),
    cmocka_unit_test(test_nested_wrapper),
    cmocka_unit_test(test_garbage_and_bad_envelope),
})
