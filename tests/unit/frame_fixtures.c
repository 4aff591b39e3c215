/*
 * frame_fixtures.c - see frame_fixtures.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "frame_fixtures.h"
#include "sk_err.h"

void ff_init(ff_feeder *f, uint32_t max)
{
    memset(f, 0, sizeof(*f));
    sk_frame_reader_init(&f->r, max);
}

int ff_feed(ff_feeder *f, const uint8_t *b, size_t n)
{
    f->used = SIZE_MAX;
    f->frame = NULL;
    f->flen = 0;
    return sk_frame_feed(&f->r, b, n, &f->used, &f->frame, &f->flen);
}

void ff_expect_zero_length_sticky(const uint8_t *wire, size_t n)
{
    ff_feeder f;
    ff_init(&f, SK_FRAME_MIN_MAX);
    assert_int_equal(ff_feed(&f, wire, n), -SK_E_BAD_FRAME);
    assert_int_equal(f.used, SK_FRAME_HDR);
    assert_int_equal(ff_feed(&f, wire + SK_FRAME_HDR, n - SK_FRAME_HDR), -SK_E_BAD_FRAME);
    assert_int_equal(f.used, 0);
    sk_frame_reader_free(&f.r);
}
