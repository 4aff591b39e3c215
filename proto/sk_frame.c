/*
 * sk_frame.c - incremental frame reader (see sk_frame.h). Owns one body buffer of at most
 * max_frame bytes; never trusts a length before comparing it with the limit.
 */
#include "sk_frame.h"

#include "sk_buf.h"

#include "sk_err.h"

/* Bytes a reader keeps between frames once it has grown past them. */
#define SK_FRAME_KEEP (16u * 1024u)

#include <string.h>

void sk_frame_reader_init(sk_frame_reader *r, uint32_t max_frame)
{
    sk_frame_reader_init_alloc(r, max_frame, NULL);
}

void sk_frame_reader_init_alloc(sk_frame_reader *r, uint32_t max_frame, const sk_allocator *a)
{
    memset(r, 0, sizeof(*r));
    r->max_frame = max_frame;
    r->alloc = a;
}

void sk_frame_reader_free(sk_frame_reader *r)
{
    sk_afree(r->alloc, r->body);
    r->body = NULL;
    r->cap = 0;
}

void sk_frame_reader_set_max(sk_frame_reader *r, uint32_t max_frame)
{
    if (r->hdr_have == 0 && r->want == 0)
        r->max_frame = max_frame;
}

int sk_frame_reader_partial(const sk_frame_reader *r)
{
    return r->hdr_have > 0 || r->want > 0;
}

void sk_frame_reader_trim(sk_frame_reader *r)
{
    if (sk_frame_reader_partial(r))
        return;
    sk_afree(r->alloc, r->body);
    r->body = NULL;
    r->cap = 0;
}

void sk_frame_put_header(uint8_t out[SK_FRAME_HDR], uint32_t len)
{
    sk_be32_put(out, len);
}

int sk_frame_feed(sk_frame_reader *r, const uint8_t *data, size_t len, size_t *used,
                  const uint8_t **frame, uint32_t *frame_len)
{
    size_t off = 0;
    *used = 0;
    if (r->err)
        return r->err;

    while (off < len) {
        if (r->want == 0) {
            while (r->hdr_have < SK_FRAME_HDR && off < len)
                r->hdr[r->hdr_have++] = data[off++];
            if (r->hdr_have < SK_FRAME_HDR)
                break;
            uint32_t n = sk_be32_get(r->hdr);
            if (n == 0) {
                r->err = -SK_E_BAD_FRAME;
                *used = off;
                return r->err;
            }
            if (n > r->max_frame) {
                r->err = -SK_E_FRAME_TOO_BIG;
                *used = off;
                return r->err;
            }
            /* A buffer grown for a large frame is given back when a small one follows, so a
             * session that once pushed a big batch does not keep a megabyte while idle. */
            if (r->cap > SK_FRAME_KEEP && n <= SK_FRAME_KEEP) {
                uint8_t *p = sk_arealloc(r->alloc, r->body, SK_FRAME_KEEP);
                if (p) {
                    r->body = p;
                    r->cap = SK_FRAME_KEEP;
                }
            }
            r->want = n;
            r->have = 0;
        }
        if (off == len)
            break; /* the header ended the input; no body bytes to place yet */
        size_t take = r->want - r->have;
        if (take > len - off)
            take = len - off;
        if (r->have + take > r->cap) {
            /* Grow by doubling, never past this frame's length (itself <= max_frame). */
            size_t cap = r->cap ? r->cap : 256;
            while (cap < r->have + take)
                cap *= 2;
            if (cap > r->want)
                cap = r->want;
            uint8_t *p = sk_arealloc(r->alloc, r->body, cap);
            if (!p) {
                r->err = -SK_E_NOMEM;
                *used = off;
                return r->err;
            }
            r->body = p;
            r->cap = (uint32_t)cap;
        }
        memcpy(r->body + r->have, data + off, take);
        r->have += (uint32_t)take;
        off += take;
        if (r->have == r->want) {
            *frame = r->body;
            *frame_len = r->want;
            r->want = 0;
            r->hdr_have = 0;
            r->have = 0;
            *used = off;
            return 1;
        }
    }
    *used = off;
    return 0;
}
