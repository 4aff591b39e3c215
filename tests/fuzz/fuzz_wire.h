/*
 * fuzz_wire.h - the wire as the network fuzzers' own peers handle it (fuzz_client's fake
 * server, fuzz_session's fake devices): whole frames out of the bytes a peer received, and a
 * message sent as one encoded frame. Header only, because each fuzzer is a program of its own.
 */
#ifndef FUZZ_WIRE_H
#define FUZZ_WIRE_H

#include "sk_buf.h"
#include "sk_frame.h"
#include "sk_msg.h"

#include <stddef.h>
#include <stdint.h>

/* Feed buf[*off..n) to the reader rd up to the end of the next frame and move *off past what it
 * took. 1 with *frame and *len set to a whole frame, 0 when the bytes ran out inside one. Bytes
 * that are not framed are a finding: die(why), which does not return. */
static inline int fz_next_frame(sk_frame_reader *rd, const uint8_t *buf, size_t n, size_t *off,
                                const uint8_t **frame, uint32_t *len, void (*die)(const char *),
                                const char *why)
{
    size_t used = 0;
    int rc = sk_frame_feed(rd, buf + *off, n - *off, &used, frame, len);
    if (rc < 0)
        die(why);
    *off += used;
    return rc == 1;
}

/* m encoded and its bytes handed to send(ctx, bytes, n) at once: sk_msg_encode's error (nothing
 * sent), or what send returned. */
static inline int fz_send_msg(const sk_msg *m, int (*send)(void *ctx, const uint8_t *b, size_t n),
                              void *ctx)
{
    sk_buf b = SK_BUF_INIT;
    int rc = sk_msg_encode(&b, m);
    if (rc == 0)
        rc = send(ctx, b.data, b.len);
    sk_buf_free(&b);
    return rc;
}

#endif
