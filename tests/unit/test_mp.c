/*
 * test_mp.c - unit tests for the bounded MessagePack validator and in-place reader (sk_mp.h).
 *
 * The validator stands between the network and every decoder, so each rejection is checked with
 * its exact code: the reserved byte, ext types, lengths that promise more than the frame holds,
 * lengths over the limits, nesting one level past the limit, every truncation point of a
 * complex value, and trailing bytes. The reader's type errors are sticky and exact.
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
#include "sk_testval.h"

static const sk_mp_limits *dl = &sk_mp_default_limits;

/* Build [nil, false, true, 0, 127, -1, -32, u8, u16, u32, u64, i8, i16, i32, i64, f32, f64,
 *        fixstr, str8, str16, str32, bin8, bin16, bin32, fixarray, array16, array32, fixmap,
 *        map16, map32] into b, with every length/size form written explicitly. */
static size_t build_all(uint8_t *b)
{
    size_t n = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        const uint8_t t_[] = {__VA_ARGS__};                                                        \
        memcpy(b + n, t_, sizeof(t_));                                                             \
        n += sizeof(t_);                                                                           \
    } while (0)
    PUT(0xdc, 0x00, 30); /* array16 of 30 */
    PUT(0xc0);
    PUT(0xc2);
    PUT(0xc3);
    PUT(0x00);
    PUT(0x7f);
    PUT(0xff);
    PUT(0xe0);
    PUT(0xcc, 0xff);
    PUT(0xcd, 0xff, 0xff);
    PUT(0xce, 0xff, 0xff, 0xff, 0xff);
    PUT(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    PUT(0xd0, 0x80);
    PUT(0xd1, 0x80, 0x00);
    PUT(0xd2, 0x80, 0x00, 0x00, 0x00);
    PUT(0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00);
    PUT(0xca, 0x3f, 0xc0, 0x00, 0x00);                         /* 1.5f */
    PUT(0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18); /* pi */
    PUT(0xa3, 'a', 'b', 'c');
    PUT(0xd9, 0x02, 'h', 'i');
    PUT(0xda, 0x00, 0x01, 'x');
    PUT(0xdb, 0x00, 0x00, 0x00, 0x00);
    PUT(0xc4, 0x01, 0x00);
    PUT(0xc5, 0x00, 0x02, 0x01, 0x02);
    PUT(0xc6, 0x00, 0x00, 0x00, 0x01, 0x09);
    PUT(0x92, 0x01, 0x02);
    PUT(0xdc, 0x00, 0x01, 0xc0);
    PUT(0xdd, 0x00, 0x00, 0x00, 0x00);
    PUT(0x81, 0x01, 0xa1, 'v');
    PUT(0xde, 0x00, 0x01, 0x02, 0x03);
    PUT(0xdf, 0x00, 0x00, 0x00, 0x01, 0xa0, 0x90);
#undef PUT
    return n;
}

static void test_accepts_all_types(void **state)
{
    (void)state;

    uint8_t b[256];
    size_t n = build_all(b);
    assert_int_equal(sk_mp_check(b, n, dl), 0);

    /* Each element alone is a valid value too: walk them with the reader's skip. */
    sk_mp m;
    sk_mp_init(&m, b, n);
    uint32_t count = 0;
    assert_int_equal(sk_mp_read_array(&m, &count), 0);
    assert_int_equal(count, 30);
    const sk_mp_type want[30] = {
        SK_MP_NIL,   SK_MP_BOOL,  SK_MP_BOOL,  SK_MP_UINT,  SK_MP_UINT,  SK_MP_INT,
        SK_MP_INT,   SK_MP_UINT,  SK_MP_UINT,  SK_MP_UINT,  SK_MP_UINT,  SK_MP_INT,
        SK_MP_INT,   SK_MP_INT,   SK_MP_INT,   SK_MP_FLOAT, SK_MP_FLOAT, SK_MP_STR,
        SK_MP_STR,   SK_MP_STR,   SK_MP_STR,   SK_MP_BIN,   SK_MP_BIN,   SK_MP_BIN,
        SK_MP_ARRAY, SK_MP_ARRAY, SK_MP_ARRAY, SK_MP_MAP,   SK_MP_MAP,   SK_MP_MAP,
    };
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(sk_mp_peek(&m), want[i]);
        const uint8_t *raw;
        size_t rawlen;
        assert_int_equal(sk_mp_raw(&m, &raw, &rawlen), 0);
        assert_int_equal(sk_mp_check(raw, rawlen, dl), 0);
    }
    assert_true(sk_mp_at_end(&m));
    assert_int_equal(sk_mp_peek(&m), SK_MP_NONE);
}

static void test_reserved_byte(void **state)
{
    (void)state;
    const uint8_t alone[] = {0xc1};
    assert_int_equal(sk_mp_check(alone, 1, dl), -SK_E_BAD_FRAME);
    const uint8_t inside[] = {0x92, 0x01, 0xc1};
    assert_int_equal(sk_mp_check(inside, sizeof(inside), dl), -SK_E_BAD_FRAME);
    const uint8_t as_key[] = {0x81, 0xc1, 0x01};
    assert_int_equal(sk_mp_check(as_key, sizeof(as_key), dl), -SK_E_BAD_FRAME);
}

static void test_ext_rejected(void **state)
{
    (void)state;
    const uint8_t cases[][20] = {
        {0xd4, 0x01, 0x00},
        {0xd5, 0x01, 0x00, 0x00},
        {0xd6, 0x01, 0, 0, 0, 0},
        {0xd7, 0xff, 0, 0, 0, 0, 0, 0, 0, 0},
        {0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
        {0xc7, 0x01, 0x05, 0x00},
        {0xc8, 0x00, 0x01, 0x05, 0x00},
        {0xc9, 0x00, 0x00, 0x00, 0x01, 0x05, 0x00},
    };
    const size_t lens[] = {3, 4, 6, 10, 18, 4, 5, 7};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        assert_int_equal(sk_mp_check(cases[i], lens[i], dl), -SK_E_BAD_TYPE);
    /* Inside a container as well, and ext8 with a huge length is still a type error first. */
    const uint8_t nested[] = {0x91, 0xd4, 0x01, 0x00};
    assert_int_equal(sk_mp_check(nested, sizeof(nested), dl), -SK_E_BAD_TYPE);
}

/* An array32/map32 header declaring 2^28 elements with nothing after it. sk_mp.h: a count above
 * max_items is TOO_LONG; a count the remaining bytes cannot hold is TRUNCATED. */
static void test_huge_container_counts(void **state)
{
    (void)state;
    const uint8_t arr[] = {0xdd, 0x10, 0x00, 0x00, 0x00};
    const uint8_t map[] = {0xdf, 0x10, 0x00, 0x00, 0x00};
    assert_int_equal(sk_mp_check(arr, sizeof(arr), dl), -SK_E_TOO_LONG);
    assert_int_equal(sk_mp_check(map, sizeof(map), dl), -SK_E_TOO_LONG);

    sk_mp_limits wide = *dl;
    wide.max_items = UINT32_MAX;
    assert_int_equal(sk_mp_check(arr, sizeof(arr), &wide), -SK_E_TRUNCATED);
    assert_int_equal(sk_mp_check(map, sizeof(map), &wide), -SK_E_TRUNCATED);

    /* The reader, used without the validator, refuses the same count without trusting it. */
    sk_mp m;
    uint32_t count = 0;
    sk_mp_init(&m, arr, sizeof(arr));
    assert_int_equal(sk_mp_read_array(&m, &count), -SK_E_TRUNCATED);
    sk_mp_init(&m, map, sizeof(map));
    assert_int_equal(sk_mp_read_map(&m, &count), -SK_E_TRUNCATED);
    sk_mp_init(&m, map, sizeof(map));
    assert_int_equal(sk_mp_skip(&m), -SK_E_TRUNCATED);
}

static void test_item_limit_exact(void **state)
{
    (void)state;
    sk_mp_limits lim = *dl;
    lim.max_items = 3;
    const uint8_t a3[] = {0x93, 1, 2, 3};
    const uint8_t a4[] = {0x94, 1, 2, 3, 4};
    const uint8_t m3[] = {0x83, 1, 1, 2, 2, 3, 3};
    const uint8_t m4[] = {0x84, 1, 1, 2, 2, 3, 3, 4, 4};
    assert_int_equal(sk_mp_check(a3, sizeof(a3), &lim), 0);
    assert_int_equal(sk_mp_check(a4, sizeof(a4), &lim), -SK_E_TOO_LONG);
    assert_int_equal(sk_mp_check(m3, sizeof(m3), &lim), 0);
    assert_int_equal(sk_mp_check(m4, sizeof(m4), &lim), -SK_E_TOO_LONG);
}

static void test_huge_str_bin(void **state)
{
    (void)state;
    const uint8_t str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    const uint8_t bin[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 'a'};
    assert_int_equal(sk_mp_check(str, sizeof(str), dl), -SK_E_TOO_LONG);
    assert_int_equal(sk_mp_check(bin, sizeof(bin), dl), -SK_E_TOO_LONG);
    sk_mp_limits wide = *dl;
    wide.max_str = UINT32_MAX;
    wide.max_bin = UINT32_MAX;
    assert_int_equal(sk_mp_check(str, sizeof(str), &wide), -SK_E_TRUNCATED);
    assert_int_equal(sk_mp_check(bin, sizeof(bin), &wide), -SK_E_TRUNCATED);

    sk_mp m;
    const char *s;
    uint32_t len;
    sk_mp_init(&m, str, sizeof(str));
    assert_int_equal(sk_mp_read_str(&m, &s, &len), -SK_E_TRUNCATED);
}

static void test_str_bin_limit_exact(void **state)
{
    (void)state;
    sk_mp_limits lim = *dl;
    lim.max_str = 4;
    lim.max_bin = 2;
    const uint8_t s4[] = {0xa4, 'a', 'b', 'c', 'd'};
    const uint8_t s5[] = {0xa5, 'a', 'b', 'c', 'd', 'e'};
    const uint8_t b2[] = {0xc4, 2, 1, 2};
    const uint8_t b3[] = {0xc4, 3, 1, 2, 3};
    assert_int_equal(sk_mp_check(s4, sizeof(s4), &lim), 0);
    assert_int_equal(sk_mp_check(s5, sizeof(s5), &lim), -SK_E_TOO_LONG);
    assert_int_equal(sk_mp_check(b2, sizeof(b2), &lim), 0);
    assert_int_equal(sk_mp_check(b3, sizeof(b3), &lim), -SK_E_TOO_LONG);
}

/* depth nested one-element containers, the innermost holding a 0 (or being empty). */
static size_t nest(uint8_t *b, uint32_t depth, int empty_innermost, int maps)
{
    size_t n = 0;
    for (uint32_t i = 0; i < depth; i++) {
        int last = i + 1 == depth;
        if (maps) {
            b[n++] = last && empty_innermost ? 0x80 : 0x81;
            if (!(last && empty_innermost))
                b[n++] = 0x01; /* key */
        } else {
            b[n++] = last && empty_innermost ? 0x90 : 0x91;
        }
    }
    if (!empty_innermost)
        b[n++] = 0x00;
    return n;
}

static void test_depth_limit(void **state)
{
    (void)state;
    uint8_t b[256];
    const uint32_t lim = dl->max_depth; /* 16: sk_mp.h says top level = 1 */
    for (int maps = 0; maps <= 1; maps++) {
        for (int empty = 0; empty <= 1; empty++) {
            size_t n = nest(b, lim, empty, maps);
            assert_int_equal(sk_mp_check(b, n, dl), 0);
            n = nest(b, lim + 1, empty, maps);
            assert_int_equal(sk_mp_check(b, n, dl), -SK_E_TOO_DEEP);
        }
    }
    /* A small custom limit: 1 allows a flat array, not an array inside it. */
    sk_mp_limits one = *dl;
    one.max_depth = 1;
    const uint8_t flat[] = {0x92, 1, 2};
    const uint8_t inner[] = {0x92, 1, 0x90};
    assert_int_equal(sk_mp_check(flat, sizeof(flat), &one), 0);
    assert_int_equal(sk_mp_check(inner, sizeof(inner), &one), -SK_E_TOO_DEEP);
    /* Scalars need no depth at all. */
    one.max_depth = 0;
    const uint8_t scalar[] = {0x05};
    assert_int_equal(sk_mp_check(scalar, 1, &one), 0);
    assert_int_equal(sk_mp_check(flat, sizeof(flat), &one), -SK_E_TOO_DEEP);

    /* A limit above the validator's hard cap (64) is capped, not trusted. */
    sk_mp_limits big = *dl;
    big.max_depth = 1000;
    size_t n = nest(b, 64, 0, 0);
    assert_int_equal(sk_mp_check(b, n, &big), 0);
    n = nest(b, 65, 0, 0);
    assert_int_equal(sk_mp_check(b, n, &big), -SK_E_TOO_DEEP);
}

/* A value with a bit of everything; every strict prefix must be TRUNCATED. */
static size_t build_complex(uint8_t *b)
{
    /* Everything wrapped: {1: <all>, 2: [{"k": [nil, 300]}], 3: bin8} */
    b[0] = 0x83;
    b[1] = 0x01;
    size_t n = 2 + build_all(b + 2);
    const uint8_t tail[] = {0x02, 0x91, 0x81, 0xa1, 'k',  0x92, 0xc0, 0xcd,
                            0x01, 0x2c, 0x03, 0xc4, 0x03, 0xde, 0xad, 0xbe};
    memcpy(b + n, tail, sizeof(tail));
    return n + sizeof(tail);
}

static void test_truncation_every_offset(void **state)
{
    (void)state;
    uint8_t b[256];
    size_t n = build_complex(b);
    assert_int_equal(sk_mp_check(b, n, dl), 0);
    for (size_t k = 0; k < n; k++) {
        /* Copy the prefix into an exact-size heap block so a read past it would be caught by
         * a sanitizer build. */
        uint8_t *p = malloc(k ? k : 1);
        assert_non_null(p);
        memcpy(p, b, k);
        assert_int_equal(sk_mp_check(p, k, dl), -SK_E_TRUNCATED);
        sk_mp m;
        sk_mp_init(&m, p, k);
        assert_int_equal(sk_mp_skip(&m), -SK_E_TRUNCATED);
        free(p);
    }
}

static void test_trailing(void **state)
{
    (void)state;
    uint8_t b[260];
    size_t n = build_complex(b);
    b[n] = 0x00;
    assert_int_equal(sk_mp_check(b, n + 1, dl), -SK_E_TRAILING);
    const uint8_t two[] = {0x01, 0x02};
    assert_int_equal(sk_mp_check(two, 2, dl), -SK_E_TRAILING);
    /* An empty input holds no value at all. */
    assert_int_equal(sk_mp_check(two, 0, dl), -SK_E_TRUNCATED);
}

static void test_reader_scalars(void **state)
{
    (void)state;
    const uint8_t b[] = {
        0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* u64 max */
        0xd3, 0x80, 0,    0,    0,    0,    0,    0,    0,    /* i64 min */
        0xd0, 0x05,                                           /* int8 5: a uint too */
        0xe0,                                                 /* -32 */
        0xca, 0x3f, 0xc0, 0x00, 0x00,                         /* 1.5f */
        0x07,                                                 /* int read as double */
        0xc3, 0xc0, 0xa2, 'o',  'k',  0xc4, 0x02, 0xaa, 0xbb,
    };
    sk_mp m;
    sk_mp_init(&m, b, sizeof(b));
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    int flag = 0;
    assert_int_equal(sk_mp_read_uint(&m, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(sk_mp_read_int(&m, &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(sk_mp_read_uint(&m, &u), 0);
    assert_int_equal(u, 5);
    assert_int_equal(sk_mp_read_int(&m, &i), 0);
    assert_int_equal(i, -32);
    assert_int_equal(sk_mp_read_double(&m, &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(sk_mp_read_double(&m, &d), 0);
    assert_true(d == 7.0);
    assert_int_equal(sk_mp_read_bool(&m, &flag), 0);
    assert_int_equal(flag, 1);
    assert_int_equal(sk_mp_try_nil(&m), 1);
    assert_int_equal(sk_mp_try_nil(&m), 0); /* a str is next: not consumed */
    const char *s;
    uint32_t len;
    assert_int_equal(sk_mp_read_str(&m, &s, &len), 0);
    assert_int_equal(len, 2);
    assert_memory_equal(s, "ok", 2);
    uint8_t two[2];
    assert_int_equal(sk_mp_read_bin_exact(&m, two, 2), 0);
    assert_int_equal(two[0], 0xaa);
    assert_true(sk_mp_at_end(&m));
    assert_int_equal(sk_mp_offset(&m), sizeof(b));
    /* Past the end: truncated. */
    assert_int_equal(sk_mp_read_uint(&m, &u), -SK_E_TRUNCATED);
}

/* A str as a C string: it fits with its NUL or is refused, and never carries a NUL inside. */
static void test_read_cstr(void **state)
{
    (void)state;
    const uint8_t b[] = {0xa3, 'l', 'e', 'h', 0xa3, 'l', 'e', 'h', 0xa3, 'a', 0, 'b', 0x01};
    char out[4] = "xyz";
    sk_mp m;
    sk_mp_init(&m, b, sizeof(b));
    assert_int_equal(sk_mp_read_cstr(&m, out, 4), 0);
    assert_string_equal(out, "leh");
    assert_int_equal(sk_mp_read_cstr(&m, out, 3), -SK_E_TOO_LONG); /* no room for the NUL */
    assert_string_equal(out, "");
    assert_int_equal(sk_mp_read_cstr(&m, out, 4), -SK_E_BAD_VALUE);
    assert_string_equal(out, "");
    assert_int_equal(sk_mp_read_cstr(&m, out, 4), -SK_E_BAD_TYPE); /* an int */
}

static void test_reader_type_errors(void **state)
{
    (void)state;
    const uint8_t str[] = {0xa1, 'x'};
    sk_mp m;
    uint64_t u = 42;
    int64_t i = 42;
    sk_mp_init(&m, str, sizeof(str));
    assert_int_equal(sk_mp_read_uint(&m, &u), -SK_E_BAD_TYPE);
    assert_int_equal(u, 42);               /* output untouched */
    assert_int_equal(sk_mp_offset(&m), 0); /* cursor stays at the error */
    /* Sticky: even a read that would match now fails with the first code. */
    const char *s;
    uint32_t len;
    assert_int_equal(sk_mp_read_str(&m, &s, &len), -SK_E_BAD_TYPE);
    assert_int_equal(sk_mp_skip(&m), -SK_E_BAD_TYPE);
    assert_int_equal(sk_mp_try_nil(&m), -SK_E_BAD_TYPE);
    assert_int_equal(sk_mp_peek(&m), SK_MP_NONE);

    const uint8_t neg[] = {0xff};
    sk_mp_init(&m, neg, 1);
    assert_int_equal(sk_mp_read_uint(&m, &u), -SK_E_BAD_VALUE);

    const uint8_t big[] = {0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0};
    sk_mp_init(&m, big, sizeof(big));
    assert_int_equal(sk_mp_read_int(&m, &i), -SK_E_BAD_VALUE);

    const uint8_t ten[] = {0x0a};
    sk_mp_init(&m, ten, 1);
    assert_int_equal(sk_mp_read_uint_max(&m, 9, &u), -SK_E_BAD_VALUE);
    sk_mp_init(&m, ten, 1);
    assert_int_equal(sk_mp_read_uint_max(&m, 10, &u), 0);
    assert_int_equal(u, 10);

    const uint8_t bin3[] = {0xc4, 0x03, 1, 2, 3};
    uint8_t out[4];
    sk_mp_init(&m, bin3, sizeof(bin3));
    assert_int_equal(sk_mp_read_bin_exact(&m, out, 4), -SK_E_BAD_VALUE);
    sk_mp_init(&m, bin3, sizeof(bin3));
    assert_int_equal(sk_mp_read_str(&m, &s, &len), -SK_E_BAD_TYPE);

    const uint8_t map[] = {0x80};
    uint32_t count;
    int flag;
    double d;
    sk_mp_init(&m, map, 1);
    assert_int_equal(sk_mp_read_array(&m, &count), -SK_E_BAD_TYPE);
    sk_mp_init(&m, map, 1);
    assert_int_equal(sk_mp_read_bool(&m, &flag), -SK_E_BAD_TYPE);
    sk_mp_init(&m, map, 1);
    assert_int_equal(sk_mp_read_nil(&m), -SK_E_BAD_TYPE);
    sk_mp_init(&m, map, 1);
    assert_int_equal(sk_mp_read_double(&m, &d), -SK_E_BAD_TYPE);
    sk_mp_init(&m, map, 1);
    assert_int_equal(sk_mp_read_map(&m, &count), 0);
    assert_int_equal(count, 0);

    /* A decoder's semantic failure is recorded once and sticks. */
    sk_mp_init(&m, ten, 1);
    assert_int_equal(sk_mp_fail(&m, -SK_E_MISSING_FIELD), -SK_E_MISSING_FIELD);
    assert_int_equal(sk_mp_fail(&m, -SK_E_BAD_VALUE), -SK_E_MISSING_FIELD);
    assert_int_equal(sk_mp_read_uint(&m, &u), -SK_E_MISSING_FIELD);
}

/* The validator agrees with msgpack-c's own packer output (what every encoder here uses). */
/* An item of the array below: a uint up to 9. */
static int check_small(sk_mp *m)
{
    uint64_t v;
    return sk_mp_read_uint_max(m, 9, &v);
}

static void test_tuples_and_items(void **state)
{
    (void)state;
    /* [[1, 2, 3], [4, 5, 6, 7]]: tuples of at least 3, the rest skipped; then items */
    static const uint8_t t[] = {0x92, 0x93, 0x01, 0x02, 0x03, 0x94, 0x04, 0x05, 0x06, 0x07};
    sk_mp m;
    uint32_t n, k;
    uint64_t v;
    sk_mp_init(&m, t, sizeof(t));
    assert_int_equal(sk_mp_read_array(&m, &n), 0);
    assert_int_equal(sk_mp_read_tuple(&m, 3, &k), 0);
    assert_int_equal(k, 3);
    assert_int_equal(sk_mp_skip_rest(&m, k, 0), 0);
    assert_int_equal(sk_mp_read_tuple(&m, 3, &k), 0);
    assert_int_equal(k, 4);
    assert_int_equal(sk_mp_read_uint(&m, &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(sk_mp_skip_rest(&m, k, 1), 0);
    assert_true(sk_mp_at_end(&m));

    sk_mp_init(&m, t + 5, sizeof(t) - 5);
    assert_int_equal(sk_mp_read_tuple(&m, 5, &k), -SK_E_BAD_VALUE);

    const uint8_t *raw = NULL;
    size_t len = 0;
    sk_mp_init(&m, t + 5, sizeof(t) - 5);
    assert_int_equal(sk_mp_read_items(&m, 4, check_small, &n, &raw, &len), 0);
    assert_int_equal(n, 4);
    assert_ptr_equal(raw, t + 6);
    assert_int_equal(len, 4);
    assert_true(sk_mp_at_end(&m));
    sk_mp_init(&m, t + 5, sizeof(t) - 5);
    assert_int_equal(sk_mp_read_items(&m, 3, check_small, &n, &raw, &len), -SK_E_TOO_LONG);
    static const uint8_t big[] = {0x92, 0x01, 0x0a}; /* [1, 10]: 10 fails the item check */
    sk_mp_init(&m, big, sizeof(big));
    assert_int_equal(sk_mp_read_items(&m, 4, check_small, &n, &raw, &len), -SK_E_BAD_VALUE);
}

static void test_packer_output_valid(void **state)
{
    (void)state;
    sk_tval v;
    sk_tval_start(&v);
    msgpack_pack_array(&v.pk, 4);
    msgpack_pack_uint64(&v.pk, UINT64_MAX);
    msgpack_pack_int64(&v.pk, INT64_MIN);
    sk_pack_cstr(&v.pk, "सखी");
    msgpack_pack_map(&v.pk, 1);
    msgpack_pack_uint32(&v.pk, 70000);
    sk_pack_bin(&v.pk, "\x00\x01", 2);
    assert_false(v.b.oom);
    assert_int_equal(sk_mp_check(v.b.data, v.b.len, dl), 0);
    sk_buf_free(&v.b);
}

/* sk_pack_uint_min writes the bytes msgpack-c's packer writes, at every width's edges. */
static void test_pack_uint_min(void **state)
{
    (void)state;
    static const uint64_t vals[] = {0,          1,          127,        128,
                                    255,        256,        65535,      65536,
                                    UINT32_MAX, 1ull << 32, UINT64_MAX, 1234567890123ull};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        sk_tval v;
        uint8_t b[9];
        sk_tval_start(&v);
        msgpack_pack_uint64(&v.pk, vals[i]);
        size_t n = sk_pack_uint_min(b, vals[i]);
        assert_false(v.b.oom);
        assert_int_equal(n, v.b.len);
        assert_memory_equal(b, v.b.data, n);
        sk_buf_free(&v.b);
    }
}

/* The pair helpers every encoder uses: what each writes, byte for byte. */
static void test_pack_pairs(void **state)
{
    (void)state;
    static const uint8_t want[] = {
        0xc3, 0xc2, 0xc3,       /* sk_pack_bool 1, 0, 7 */
        0x01, 0x00,             /* kv_uint 1: 0 (written: the field is required) */
        0x03, 0xcd, 0x03, 0xe8, /* opt_uint 3: 1000 (opt_uint 4: 0 writes nothing) */
        0x05, 0xc4, 0x01, 0x2a, /* opt_bin 5: one byte (opt_bin 6: NULL writes nothing) */
        0x07, 0xc4, 0x00,       /* opt_bin 7: an empty one is still a value */
    };
    sk_tval v;
    sk_tval_start(&v);
    sk_pack_bool(&v.pk, 1);
    sk_pack_bool(&v.pk, 0);
    sk_pack_bool(&v.pk, 7);
    sk_pack_kv_uint(&v.pk, 1, 0);
    sk_pack_opt_uint(&v.pk, 3, 1000);
    sk_pack_opt_uint(&v.pk, 4, 0);
    sk_pack_opt_bin(&v.pk, 5, "\x2a", 1);
    sk_pack_opt_bin(&v.pk, 6, NULL, 0);
    sk_pack_opt_bin(&v.pk, 7, "", 0);
    assert_false(v.b.oom);
    assert_int_equal(v.b.len, sizeof(want));
    assert_memory_equal(v.b.data, want, sizeof(want));
    sk_buf_free(&v.b);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_accepts_all_types),
    cmocka_unit_test(test_reserved_byte),
    cmocka_unit_test(test_ext_rejected),
    cmocka_unit_test(test_huge_container_counts),
    cmocka_unit_test(test_item_limit_exact),
    cmocka_unit_test(test_huge_str_bin),
    cmocka_unit_test(test_str_bin_limit_exact),
    cmocka_unit_test(test_depth_limit),
    cmocka_unit_test(test_truncation_every_offset),
    cmocka_unit_test(test_trailing),
    cmocka_unit_test(test_reader_scalars),
    cmocka_unit_test(test_read_cstr),
    cmocka_unit_test(test_reader_type_errors),
    cmocka_unit_test(test_tuples_and_items),
    cmocka_unit_test(test_packer_output_valid),
    cmocka_unit_test(test_pack_uint_min),
    cmocka_unit_test(test_pack_pairs),
})
