/*
 * frame_fixtures.c - see frame_fixtures.h.
 */
#include <stdint.h>
#include <string.h>

#include "frame_fixtures.h"

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
