/*
 * test_frame_and_errors.c - the frame header's exact bytes and the error-code table; also the
 * proof that the cmocka harness is wired into ctest and can fail.
 *
 * It checks exact bytes and exact codes of two small proto/ pieces that everything else relies
 * on: the frame header and incremental frame reader (sk_frame.h), and the error-code table
 * (sk_err.h: every code has a name, a text and a piece of advice). It never touches the network
 * or the disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <string.h>

#include "sk_err.h"
#include "sk_frame.h"

#include "frame_fixtures.h"

/* MessagePack [1, 0, {}]: a minimal envelope (HELLO, rid 0, empty body). */
static const uint8_t k_body[] = {0x93, 0x01, 0x00, 0x80};

static void test_frame_header_bytes(void **state)
{
    (void)state;
    uint8_t hdr[SK_FRAME_HDR];
    sk_frame_put_header(hdr, 0x01020304u);
    const uint8_t want[SK_FRAME_HDR] = {0x01, 0x02, 0x03, 0x04};
    assert_memory_equal(hdr, want, sizeof(want));

    sk_frame_put_header(hdr, 4);
    const uint8_t want4[SK_FRAME_HDR] = {0x00, 0x00, 0x00, 0x04};
    assert_memory_equal(hdr, want4, sizeof(want4));
}

/* One frame fed a byte at a time comes out whole, exactly once, on the last byte. */
static void test_frame_round_trip_bytewise(void **state)
{
    (void)state;
    uint8_t wire[SK_FRAME_HDR + sizeof(k_body)];
    sk_frame_put_header(wire, (uint32_t)sizeof(k_body));
    memcpy(wire + SK_FRAME_HDR, k_body, sizeof(k_body));

    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    int frames = 0;
    for (size_t i = 0; i < sizeof(wire); i++) {
        int rc = ff_feed(&f, wire + i, 1);
        assert_int_equal(f.used, 1);
        if (i + 1 < sizeof(wire)) {
            assert_int_equal(rc, 0);
            assert_true(sk_frame_reader_partial(&f.r));
        } else {
            assert_int_equal(rc, 1);
            assert_int_equal(f.flen, sizeof(k_body));
            assert_memory_equal(f.frame, k_body, sizeof(k_body));
            frames++;
        }
    }
    assert_int_equal(frames, 1);
    assert_false(sk_frame_reader_partial(&f.r));
    sk_frame_reader_free(&f.r);
}

/* Two frames in one buffer: the first feed stops after frame one and says how much it used. */
static void test_frame_two_in_one_buffer(void **state)
{
    (void)state;
    uint8_t wire[2 * (SK_FRAME_HDR + sizeof(k_body))];
    size_t one = SK_FRAME_HDR + sizeof(k_body);
    for (size_t k = 0; k < 2; k++) {
        sk_frame_put_header(wire + k * one, (uint32_t)sizeof(k_body));
        memcpy(wire + k * one + SK_FRAME_HDR, k_body, sizeof(k_body));
    }

    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, wire, sizeof(wire)), 1);
    assert_int_equal(f.used, one);
    assert_int_equal(f.flen, sizeof(k_body));
    assert_memory_equal(f.frame, k_body, sizeof(k_body));

    size_t used = f.used;
    assert_int_equal(ff_feed(&f, wire + used, sizeof(wire) - used), 1);
    assert_int_equal(f.used, one);
    assert_memory_equal(f.frame, k_body, sizeof(k_body));
    sk_frame_reader_free(&f.r);
}

/* A zero length is BAD_FRAME, and the error is sticky: the stream cannot be resynchronised. */
static void test_frame_zero_length(void **state)
{
    (void)state;
    const uint8_t wire[] = {0, 0, 0, 0, 0x93};
    ff_expect_zero_length_sticky(wire, sizeof(wire));
}

/* A length one over the maximum is refused from the header alone, before any body byte. */
static void test_frame_too_big(void **state)
{
    (void)state;
    uint8_t wire[SK_FRAME_HDR + 1];
    sk_frame_put_header(wire, SK_FRAME_MIN_MAX + 1);
    wire[SK_FRAME_HDR] = 0xc0;
    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, wire, sizeof(wire)), -SK_E_FRAME_TOO_BIG);
    assert_int_equal(f.used, SK_FRAME_HDR);
    assert_null(f.r.body);
    sk_frame_reader_free(&f.r);

    /* Exactly the maximum is allowed. */
    ff_init(&f, SK_FRAME_MIN_MAX);
    sk_frame_put_header(wire, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, wire, sizeof(wire)), 0);
    assert_int_equal(f.used, sizeof(wire));
    sk_frame_reader_free(&f.r);
}

/* Every code in the table has a name, a text and real advice; lookups accept negated codes. */
static void test_err_table_complete(void **state)
{
    (void)state;
    static const struct {
        int num;
        const char *name;
    } codes[] = {
#define SK_SMOKE_ROW(num, name, advice, text) {num, #name},
        SK_ERR_LIST(SK_SMOKE_ROW)
#undef SK_SMOKE_ROW
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        int c = codes[i].num;
        assert_true(c > 0);
        assert_string_equal(sk_err_name(c), codes[i].name);
        assert_string_equal(sk_err_name(-c), codes[i].name);
        assert_string_not_equal(sk_err_text(c), "unknown error");
        assert_true(strlen(sk_err_text(c)) > 0);
        assert_string_equal(sk_err_text(-c), sk_err_text(c));
        sk_advice a = sk_err_advice(c);
        assert_true(a >= SK_ADVICE_FIX && a <= SK_ADVICE_STOP);
        assert_int_equal(sk_err_advice(-c), a);
        if (i > 0)
            assert_true(codes[i - 1].num < c); /* the table is kept in ascending order */
    }
}

/* Exact values the protocol text promises (docs/PROTOCOL.md and sk_err.h). */
static void test_err_known_values(void **state)
{
    (void)state;
    assert_int_equal(SK_E_BAD_FRAME, 1);
    assert_int_equal(SK_E_FRAME_TOO_BIG, 2);
    assert_int_equal(SK_E_VERSION, 20);
    assert_int_equal(SK_E_INVALID, 40);
    assert_int_equal(SK_E_NOMEM, 61);

    assert_string_equal(sk_err_name(-SK_E_FRAME_TOO_BIG), "FRAME_TOO_BIG");
    assert_string_equal(sk_err_text(SK_E_FRAME_TOO_BIG),
                        "frame longer than the negotiated maximum");
    assert_int_equal(sk_err_advice(-SK_E_REVOKED), SK_ADVICE_STOP);
    assert_int_equal(sk_err_advice(SK_E_AUTH_FAILED), SK_ADVICE_REAUTH);
    assert_int_equal(sk_err_advice(SK_E_STORE_FULL), SK_ADVICE_RETRY);
    assert_int_equal(sk_err_advice(SK_E_INVALID), SK_ADVICE_FIX);

    assert_string_equal(sk_err_name(SK_OK), "OK");
    assert_string_equal(sk_err_text(SK_OK), "success");
    assert_int_equal(sk_err_advice(SK_OK), SK_ADVICE_NONE);

    assert_string_equal(sk_err_name(999), "UNKNOWN");
    assert_string_equal(sk_err_text(-999), "unknown error");
    assert_int_equal(sk_err_advice(999), SK_ADVICE_FIX);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_frame_header_bytes),
    cmocka_unit_test(test_frame_round_trip_bytewise),
    cmocka_unit_test(test_frame_two_in_one_buffer),
    cmocka_unit_test(test_frame_zero_length),
    cmocka_unit_test(test_frame_too_big),
    cmocka_unit_test(test_err_table_complete),
    cmocka_unit_test(test_err_known_values),
})
