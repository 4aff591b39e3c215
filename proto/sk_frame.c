/*
 * sk_frame.c - incremental frame reader (see sk_frame.h). Owns one body buffer of at most
 * max_frame bytes; never trusts a length before comparing it with the limit.
 */
#include "sk_frame.h"

#include "sk_err.h"

#include <stdlib.h>
#include <string.h>

void sk_frame_reader_init(sk_frame_reader *r, uint32_t max_frame)
{
    memset(r, 0, sizeof(*r));
    r->max_frame = max_frame;
}

void sk_frame_reader_free(sk_frame_reader *r)
{
    free(r->body);
    r->body = NULL;
}

void sk_frame_reader_set_max(sk_frame_reader *r, uint32_t max_frame)
{
    if (r->hdr_have == 0 && r->want == 0) {
        if (max_frame > r->max_frame) {
            free(r->body);
            r->body = NULL;
        }
        r->max_frame = max_frame;
    }
}

int sk_frame_reader_partial(const sk_frame_reader *r)
{
    return r->hdr_have > 0 || r->want > 0;
}

void sk_frame_put_header(uint8_t out[SK_FRAME_HDR], uint32_t len)
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
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
            uint32_t n = ((uint32_t)r->hdr[0] << 24) | ((uint32_t)r->hdr[1] << 16) |
                         ((uint32_t)r->hdr[2] << 8) | r->hdr[3];
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
            if (!r->body) {
                r->body = malloc(r->max_frame);
                if (!r->body) {
                    r->err = -SK_E_NOMEM;
                    *used = off;
                    return r->err;
                }
            }
            r->want = n;
            r->have = 0;
        }
        size_t take = r->want - r->have;
        if (take > len - off)
            take = len - off;
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
