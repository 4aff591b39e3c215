/*
 * fuzz_frame.c - libFuzzer target for the receive path: bytes -> frame reader -> decoder.
 *
 * The input is cut into pieces of pseudo-random sizes (derived from a hash of the input, so a
 * run is reproducible) and fed through sk_frame_feed as TCP would deliver it. Every complete
 * frame goes to sk_msg_decode; a frame that decodes must re-encode, decode again and re-encode
 * to the same bytes (the canonical form is a fixed point), and must render as JSON. A decode
 * error must be one of the protocol's codes. Anything else aborts, which the fuzzer reports.
 * Built with -DSAKHI_FUZZ=ON under ASan+UBSan; tests/fuzz/replay_main.c runs the same function
 * over the corpus in every build.
 */
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void one_frame(const uint8_t *body, uint32_t len)
{
    sk_msg m;
    size_t off = 0;
    int rc = sk_msg_decode(body, len, &m, &off);
    if (rc) {
        check(rc < 0 && strcmp(sk_err_name(rc), "UNKNOWN") != 0);
        check(off <= len);
        if (rc != -SK_E_UNKNOWN_TYPE)
            check(m.u.push.changes == NULL); /* nothing left allocated */
        return;
    }
    sk_buf a = SK_BUF_INIT, b = SK_BUF_INIT, j = SK_BUF_INIT;
    check(sk_msg_encode(&a, &m) == 0);
    check(a.len > SK_FRAME_HDR);
    sk_msg m2;
    check(sk_msg_decode(a.data + SK_FRAME_HDR, a.len - SK_FRAME_HDR, &m2, NULL) == 0);
    check(m2.type == m.type && m2.rid == m.rid);
    check(sk_msg_encode(&b, &m2) == 0);
    check(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    check(a.len - SK_FRAME_HDR <= (size_t)len + 64); /* canonical form is never much longer */
    check(sk_msg_to_json(&j, &m) == 0);
    sk_buf_reset(&j);
    check(sk_msg_mp_to_json(&j, body, len) == 0);
    sk_msg_free(&m2);
    sk_msg_free(&m);
    sk_buf_free(&a);
    sk_buf_free(&b);
    sk_buf_free(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u; /* FNV-1a of the input picks the piece sizes */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    sk_frame_reader r;
    sk_frame_reader_init(&r, 64 * 1024);
    size_t off = 0;
    int dead = 0;
    while (off < size && !dead) {
        h = h * 1103515245u + 12345u;
        size_t piece = 1 + (h >> 16) % 97;
        if (piece > size - off)
            piece = size - off;
        size_t done = 0;
        while (done < piece) {
            size_t used = 0;
            const uint8_t *frame = NULL;
            uint32_t flen = 0;
            int rc = sk_frame_feed(&r, data + off + done, piece - done, &used, &frame, &flen);
            check(used <= piece - done);
            done += used;
            if (rc < 0) {
                check(rc == -SK_E_BAD_FRAME || rc == -SK_E_FRAME_TOO_BIG);
                dead = 1; /* the stream cannot be resynchronised */
                break;
            }
            if (rc == 1)
                one_frame(frame, flen);
            else
                check(done == piece);
        }
        off += done;
    }
    /* The whole input as one frame body too: the decoder alone, without the reader. */
    if (size <= 64 * 1024)
        one_frame(data, (uint32_t)size);
    sk_frame_reader_free(&r);
    return 0;
}
