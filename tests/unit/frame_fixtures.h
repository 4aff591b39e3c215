/*
 * frame_fixtures.h - what the frame reader's unit tests (test_frame, test_frame_and_errors) feed
 * it through: a reader together with what its last feed used and gave, so a test states the bytes
 * it feeds and what must come out.
 */
#ifndef FRAME_FIXTURES_H
#define FRAME_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "sk_frame.h"

/* A frame reader and what its last ff_feed gave. */
typedef struct ff_feeder {
    sk_frame_reader r;
    size_t used;
    const uint8_t *frame;
    uint32_t flen;
} ff_feeder;

/* A new reader of frames up to max bytes (freed with sk_frame_reader_free(&f->r)). */
void ff_init(ff_feeder *f, uint32_t max);
/* Feed n bytes at b: sk_frame_feed's result, with what it used and the frame it gave left in f.
 * used starts out at a value no feed gives, so a feed that does not set it is seen. */
int ff_feed(ff_feeder *f, const uint8_t *b, size_t n);

/* The n bytes at wire start with a header of length zero: a new reader refuses them with
 * BAD_FRAME once it has read that header, and the error is sticky: the bytes after the header,
 * whatever they are, are refused again with nothing used. Asserts with cmocka. */
void ff_expect_zero_length_sticky(const uint8_t *wire, size_t n);

#endif
