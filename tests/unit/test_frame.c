/*
 * test_frame.c - unit tests for the incremental frame reader (sk_frame.h).
 *
 * TCP delivers bytes in arbitrary pieces, so every way of cutting the stream must give the same
 * frames: one byte at a time, many frames in one buffer, headers split across reads. Limits are
 * checked on the header alone, before any body byte is accepted, and errors are sticky.
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
#include "sk_frame.h"

#include "frame_fixtures.h"

/* Append a frame with body len bytes of pattern (seed + i) to buf at *off. */
static void put_frame(uint8_t *buf, size_t *off, uint32_t len, uint8_t seed)
{
    sk_frame_put_header(buf + *off, len);
    *off += SK_FRAME_HDR;
    for (uint32_t i = 0; i < len; i++)
        buf[(*off)++] = (uint8_t)(seed + i);
}

static void check_body(const uint8_t *frame, uint32_t len, uint32_t want_len, uint8_t seed)
{
    assert_int_equal(len, want_len);
    for (uint32_t i = 0; i < len; i++)
        assert_int_equal(frame[i], (uint8_t)(seed + i));
}

static const uint32_t k_lens[] = {1, 2, 3, 4, 5, 17, 255, 256, 1000, 1024};
#define NFRAMES (sizeof(k_lens) / sizeof(k_lens[0]))

static size_t build_stream(uint8_t *buf)
{
    size_t off = 0;
    for (size_t i = 0; i < NFRAMES; i++)
        put_frame(buf, &off, k_lens[i], (uint8_t)(i * 31));
    return off;
}

static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    size_t n = build_stream(buf);
    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = ff_feed(&f, buf + i, 1);
        assert_int_equal(f.used, 1);
        if (rc == 1) {
            assert_true(got < NFRAMES);
            check_body(f.frame, f.flen, k_lens[got], (uint8_t)(got * 31));
            got++;
            assert_false(sk_frame_reader_partial(&f.r));
        } else {
            assert_int_equal(rc, 0);
            assert_true(sk_frame_reader_partial(&f.r));
        }
    }
    assert_int_equal(got, NFRAMES);
    sk_frame_reader_free(&f.r);
}

static void test_many_frames_one_buffer(void **state)
{
    (void)state;
    static uint8_t buf[8192];
    size_t n = build_stream(buf);
    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    size_t off = 0, got = 0;
    for (int guard = 0; guard < 100 && off < n; guard++) {
        /* every call ends exactly at a frame boundary */
        assert_int_equal(ff_feed(&f, buf + off, n - off), 1);
        off += f.used;
        check_body(f.frame, f.flen, k_lens[got], (uint8_t)(got * 31));
        got++;
    }
    assert_int_equal(got, NFRAMES);
    assert_int_equal(off, n);
    /* Nothing left: an empty feed is 0 with nothing used. */
    assert_int_equal(ff_feed(&f, buf, 0), 0);
    assert_int_equal(f.used, 0);
    assert_false(sk_frame_reader_partial(&f.r));
    sk_frame_reader_free(&f.r);
}

/* Every two-piece cut of a two-frame stream gives the same two frames. */
static void test_every_split_point(void **state)
{
    (void)state;
    uint8_t buf[64];
    size_t n = 0;
    put_frame(buf, &n, 5, 0x10);
    put_frame(buf, &n, 9, 0x40);
    for (size_t cut = 0; cut <= n; cut++) {
        ff_feeder f;
        ff_init(&f, SK_FRAME_MIN_MAX);
        size_t got = 0;
        const size_t starts[2] = {0, cut}, ends[2] = {cut, n};
        for (int piece = 0; piece < 2; piece++) {
            size_t off = starts[piece];
            for (int guard = 0; guard < 10; guard++) {
                int rc = ff_feed(&f, buf + off, ends[piece] - off);
                assert_true(rc == 0 || rc == 1);
                off += f.used;
                if (rc == 1) {
                    check_body(f.frame, f.flen, got == 0 ? 5 : 9, got == 0 ? 0x10 : 0x40);
                    got++;
                } else {
                    assert_int_equal(off, ends[piece]);
                    break;
                }
            }
        }
        assert_int_equal(got, 2);
        sk_frame_reader_free(&f.r);
    }
}

static void test_header_split(void **state)
{
    (void)state;
    uint8_t buf[16];
    size_t n = 0;
    put_frame(buf, &n, 3, 0x61);
    for (size_t cut = 1; cut < SK_FRAME_HDR; cut++) {
        ff_feeder f;
        ff_init(&f, SK_FRAME_MIN_MAX);
        assert_int_equal(ff_feed(&f, buf, cut), 0);
        assert_int_equal(f.used, cut);
        assert_true(sk_frame_reader_partial(&f.r));
        assert_int_equal(ff_feed(&f, buf + cut, n - cut), 1);
        assert_int_equal(f.used, n - cut);
        check_body(f.frame, f.flen, 3, 0x61);
        sk_frame_reader_free(&f.r);
    }
}

static void test_zero_length(void **state)
{
    (void)state;
    /* A zero length, then a whole frame of one byte: refused all the same (sticky). */
    const uint8_t buf[] = {0, 0, 0, 0, 0, 0, 0, 1, 0x2a};
    ff_expect_zero_length_sticky(buf, sizeof(buf));
}

static void test_limit_exact_ok(void **state)
{
    (void)state;
    static uint8_t buf[SK_FRAME_MIN_MAX + SK_FRAME_HDR];
    size_t n = 0;
    put_frame(buf, &n, SK_FRAME_MIN_MAX, 7);
    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, buf, n), 1);
    assert_int_equal(f.used, n);
    check_body(f.frame, f.flen, SK_FRAME_MIN_MAX, 7);
    sk_frame_reader_free(&f.r);
}

static void too_big_case(uint32_t declared)
{
    uint8_t buf[SK_FRAME_HDR + 8];
    sk_frame_put_header(buf, declared);
    memset(buf + SK_FRAME_HDR, 0x55, 8);
    /* Header alone: refused before any body byte arrives. */
    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, buf, SK_FRAME_HDR), -SK_E_FRAME_TOO_BIG);
    assert_int_equal(f.used, SK_FRAME_HDR);
    assert_null(f.r.body); /* nothing was buffered for it */
    assert_int_equal(ff_feed(&f, buf + 4, 8), -SK_E_FRAME_TOO_BIG);
    assert_int_equal(f.used, 0);
    sk_frame_reader_free(&f.r);

    /* Header with body bytes in the same buffer: only the header is consumed. */
    ff_init(&f, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, buf, sizeof(buf)), -SK_E_FRAME_TOO_BIG);
    assert_int_equal(f.used, SK_FRAME_HDR);
    sk_frame_reader_free(&f.r);
}

static void test_limit_plus_one(void **state)
{
    (void)state;
    too_big_case(SK_FRAME_MIN_MAX + 1);
}

static void test_length_all_ones(void **state)
{
    (void)state;
    too_big_case(0xffffffffu);
}

static void test_set_max_between_frames(void **state)
{
    (void)state;
    static uint8_t buf[4096];
    size_t n = 0;
    put_frame(buf, &n, 10, 1);
    size_t second = n;
    put_frame(buf, &n, 2000, 2);
    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, buf, n), 1);
    assert_int_equal(f.used, second);
    sk_frame_reader_set_max(&f.r, 4000);
    assert_int_equal(ff_feed(&f, buf + second, n - second), 1);
    check_body(f.frame, f.flen, 2000, 2);
    sk_frame_reader_free(&f.r);

    /* Lowering the limit applies to the next header. */
    ff_init(&f, 4000);
    sk_frame_reader_set_max(&f.r, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, buf + second, n - second), -SK_E_FRAME_TOO_BIG);
    sk_frame_reader_free(&f.r);
}

static void test_header_bytes(void **state)
{
    (void)state;
    uint8_t h[SK_FRAME_HDR];
    sk_frame_put_header(h, 0xffffffffu);
    const uint8_t ones[SK_FRAME_HDR] = {0xff, 0xff, 0xff, 0xff};
    assert_memory_equal(h, ones, SK_FRAME_HDR);
    sk_frame_put_header(h, 0x00010000u);
    const uint8_t b[SK_FRAME_HDR] = {0x00, 0x01, 0x00, 0x00};
    assert_memory_equal(h, b, SK_FRAME_HDR);
}

/* The byte-order helpers the header, store keys and file headers share: most significant byte
 * first, and back. */
static void test_big_endian(void **state)
{
    (void)state;
    uint8_t b4[4], b8[8];
    const uint8_t w4[4] = {0x01, 0x02, 0x03, 0xfe};
    const uint8_t w8[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xfe};
    sk_be32_put(b4, 0x010203feu);
    assert_memory_equal(b4, w4, 4);
    assert_int_equal(sk_be32_get(w4), 0x010203feu);
    sk_be64_put(b8, 0x01020304050607feull);
    assert_memory_equal(b8, w8, 8);
    assert_int_equal(sk_be64_get(w8), 0x01020304050607feull);
    uint8_t h[SK_FRAME_HDR];
    sk_frame_put_header(h, 0x010203feu);
    assert_memory_equal(h, w4, SK_FRAME_HDR);
}

/* Memory follows the bytes that arrive, not the length a header claims; a buffer grown for a big
 * frame is given back when a small frame follows. */
static void test_memory_follows_bytes(void **state)
{
    (void)state;
    ff_feeder f;
    ff_init(&f, 1u << 20);
    uint8_t hdr[SK_FRAME_HDR];
    sk_frame_put_header(hdr, 1u << 20);
    assert_int_equal(ff_feed(&f, hdr, sizeof(hdr)), 0);
    assert_int_equal(f.r.cap, 0); /* nothing allocated for a header alone */
    static uint8_t big[1u << 20];
    memset(big, 0x90, sizeof(big));
    assert_int_equal(ff_feed(&f, big, 10), 0);
    assert_true(f.r.cap <= 256);
    assert_int_equal(ff_feed(&f, big + 10, sizeof(big) - 10), 1);
    assert_int_equal(f.flen, 1u << 20);
    assert_int_equal(f.r.cap, 1u << 20);
    /* A small frame next: the megabyte is given back. */
    uint8_t small[SK_FRAME_HDR + 1];
    sk_frame_put_header(small, 1);
    small[SK_FRAME_HDR] = 0xc0;
    assert_int_equal(ff_feed(&f, small, sizeof(small)), 1);
    assert_int_equal(f.flen, 1);
    assert_int_equal(f.frame[0], 0xc0);
    assert_true(f.r.cap <= 16u * 1024u);
    sk_frame_reader_free(&f.r);
}

/* trim gives back the buffer kept between frames, and keeps a partly received frame whole. */
static void test_trim(void **state)
{
    (void)state;
    ff_feeder f;
    ff_init(&f, 1u << 16);
    uint8_t buf[4 + 3000];
    sk_frame_put_header(buf, 3000);
    memset(buf + 4, 0x90, 3000);
    assert_int_equal(ff_feed(&f, buf, sizeof(buf)), 1);
    assert_true(f.r.cap >= 3000);
    sk_frame_reader_trim(&f.r);
    assert_int_equal(f.r.cap, 0);
    assert_null(f.r.body);
    /* Half a frame: trimming must not drop it, and the rest completes it. */
    assert_int_equal(ff_feed(&f, buf, 1500), 0);
    uint32_t cap = f.r.cap;
    sk_frame_reader_trim(&f.r);
    assert_int_equal(f.r.cap, cap);
    assert_int_equal(ff_feed(&f, buf + 1500, sizeof(buf) - 1500), 1);
    assert_int_equal(f.flen, 3000);
    assert_int_equal(f.frame[2999], 0x90);
    sk_frame_reader_free(&f.r);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_memory_follows_bytes),
    cmocka_unit_test(test_one_byte_at_a_time),
    cmocka_unit_test(test_many_frames_one_buffer),
    cmocka_unit_test(test_every_split_point),
    cmocka_unit_test(test_header_split),
    cmocka_unit_test(test_zero_length),
    cmocka_unit_test(test_limit_exact_ok),
    cmocka_unit_test(test_limit_plus_one),
    cmocka_unit_test(test_length_all_ones),
    cmocka_unit_test(test_set_max_between_frames),
    cmocka_unit_test(test_header_bytes),
    cmocka_unit_test(test_big_endian),
    cmocka_unit_test(test_trim),
})
