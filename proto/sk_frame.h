/*
 * sk_frame.h - length-prefixed framing: a 4-byte big-endian length, then one MessagePack value.
 *
 * sk_frame_reader accepts bytes in arbitrary pieces (one byte at a time, or many frames in one
 * buffer) as TCP delivers them, and yields complete frame bodies. The declared length is checked
 * against the maximum before any byte of the body is buffered: a frame over the limit, or a
 * zero-length frame, is an error and the stream is then unusable (the session sends ERROR and
 * closes). Memory follows the bytes that actually arrive, not the length a header declares: the
 * buffer grows (doubling) as body bytes come in, so a peer that announces a 1 MiB frame and sends
 * ten bytes costs ten bytes' worth, and a buffer grown for a large frame is given back when a
 * small one follows. The reader never holds more than max_frame bytes.
 */
#ifndef SK_FRAME_H
#define SK_FRAME_H

#include "sk_alloc.h"

#include <stddef.h>
#include <stdint.h>

#define SK_FRAME_HDR 4
#define SK_FRAME_MIN_MAX 1024u               /* smallest maximum a peer may announce */
#define SK_FRAME_DEFAULT_MAX (1024u * 1024u) /* 1 MiB */

typedef struct sk_frame_reader {
    uint32_t max_frame;
    uint8_t hdr[SK_FRAME_HDR];
    uint32_t hdr_have;
    uint32_t want; /* body length of the current frame, 0 while reading the header */
    uint8_t *body; /* grows with the bytes that actually arrive, up to the frame's length */
    uint32_t cap;  /* bytes allocated at body */
    uint32_t have; /* body bytes buffered */
    int err;       /* sticky negative code */
    const sk_allocator *alloc; /* the body's allocator; NULL: the C library */
} sk_frame_reader;

void sk_frame_reader_init(sk_frame_reader *r, uint32_t max_frame);
/* As sk_frame_reader_init, with the body allocated from a (NULL: the C library). */
void sk_frame_reader_init_alloc(sk_frame_reader *r, uint32_t max_frame, const sk_allocator *a);
void sk_frame_reader_free(sk_frame_reader *r);
/* Change the limit (after the handshake negotiates it); only between frames. */
void sk_frame_reader_set_max(sk_frame_reader *r, uint32_t max_frame);

/*
 * Feed bytes. Consumes from data until either all bytes are used or one frame is complete.
 *   returns 1: a frame is complete; *frame and *frame_len point at its body (valid until the next
 *              call); *used tells how many input bytes were consumed (call again with the rest).
 *   returns 0: all input consumed, no complete frame yet.
 *   returns <0: -SK_E_FRAME_TOO_BIG (length > max), -SK_E_BAD_FRAME (length 0), -SK_E_NOMEM.
 */
int sk_frame_feed(sk_frame_reader *r, const uint8_t *data, size_t len, size_t *used,
                  const uint8_t **frame, uint32_t *frame_len);

/* Write the 4-byte header for a body of len bytes. */
void sk_frame_put_header(uint8_t out[SK_FRAME_HDR], uint32_t len);

/* True when a frame is partly received (for idle/stall accounting). */
int sk_frame_reader_partial(const sk_frame_reader *r);
/* Give back the buffer kept between frames (no-op while a frame is partly received). */
void sk_frame_reader_trim(sk_frame_reader *r);

#endif
