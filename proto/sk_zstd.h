/*
 * sk_zstd.h - the negotiated frame compression of docs/PROTOCOL.md section 10.
 *
 * A compressed frame's body is the wrapper envelope [0, 0, {1: size, 2: data}]: type 0, rid 0,
 * `size` the exact length of the plain body, `data` one zstd frame declaring that content size.
 * sk_zframe_wrap builds such a frame from a plain body (or says it is not worth it);
 * sk_zframe_unwrap checks a received wrapper completely, with size against the negotiated
 * max_frame and the zstd frame's declared content size against size, all BEFORE allocating or
 * decompressing, so a small frame can never make the receiver allocate more than max_frame.
 * Whether compression was negotiated (SK_CAP_ZSTD in both HELLO.caps and WELCOME.caps) is the
 * caller's business: these functions hold no state.
 */
#ifndef SK_ZSTD_H
#define SK_ZSTD_H

#include "sk_buf.h"
#include "sk_zdict_data.h"

#include <stddef.h>
#include <stdint.h>

#define SK_ZFRAME_MIN 1024u /* plain bodies shorter than this are never compressed */
#define SK_ZFRAME_LEVEL 3   /* zstd compression level */
#define SK_ZFRAME_PLAIN 1   /* sk_zframe_wrap: not worth it, send the plain frame */

/*
 * The referral dictionary (SK_CAP_ZDICT, PROTOCOL.md section 10): a zstd dictionary trained on
 * referrals, proto/dict/referrals-1.zdict, compiled in as sk_zdict_referrals (sk_zdict_data.c,
 * both made by scripts/make-zdict.sh). With it a frame of one referral shrinks to about 40% of
 * its size instead of not at all, so frames from SK_ZFRAME_MIN_DICT bytes are worth it.
 * A wrapper compressed with it says so in key 3 (the dictionary's id, SK_ZDICT_ID).
 */
#define SK_ZDICT_ID 1293612472u
#define SK_ZFRAME_MIN_DICT 128u
enum { SK_ZF_DICT = 1u << 0 }; /* flags: use (wrap) or accept (unwrap) the referral dictionary */

/*
 * Append to out one complete frame (4-byte header + wrapper envelope) carrying body (a plain
 * frame body, without its header) compressed at SK_ZFRAME_LEVEL.
 * Returns 0 when written; SK_ZFRAME_PLAIN (positive) when body is under SK_ZFRAME_MIN bytes or
 * the compressed frame would not be smaller than the plain one, so the caller sends the plain
 * frame; -SK_E_NOMEM or -SK_E_INTERNAL (zstd failed). On any non-zero return out is unchanged
 * in length (an allocation failure stays recorded in out->oom).
 */
int sk_zframe_wrap(sk_buf *out, const uint8_t *body, size_t len);
/* The same with flags: SK_ZF_DICT compresses with the referral dictionary (from
 * SK_ZFRAME_MIN_DICT bytes on) and writes its id in the wrapper. Without a dictionary context
 * (no memory) it answers SK_ZFRAME_PLAIN: the plain frame is always correct. */
int sk_zframe_wrap_ex(sk_buf *out, const uint8_t *body, size_t len, unsigned flags);

/*
 * Replace the one complete plain frame (header + body) that b holds from offset start to its end
 * by its compressed form when sk_zframe_wrap finds it worth it; otherwise leave it as it is.
 * Returns 1 when replaced, 0 when left plain (also when compression failed for lack of memory:
 * the plain frame is always a correct fallback), -SK_E_NOMEM when b->oom was already set or
 * -SK_E_BAD_FRAME when [start, len) is not one frame (nothing changed in either case).
 */
int sk_zframe_compress_frame(sk_buf *b, size_t start);
int sk_zframe_compress_frame_ex(sk_buf *b, size_t start, unsigned flags);

/* Pack the wrapper envelope [0, 0, {1: size, 2: data[, 3: dict_id]}] around zn bytes of zstd
 * data z, key 3 only when with_id. No check: sk_zframe_wrap_ex packs what it made with it, and
 * the tests pack wrappers that disagree with their data. */
void sk_zframe_pack_wrapper(msgpack_packer *pk, uint64_t size, const void *z, size_t zn,
                            int with_id, uint32_t dict_id);

/* True (1) when a frame body is a compression wrapper, i.e. an array whose first element, the
 * message type, is 0; 0 otherwise. Reads at most the first few bytes; does not validate. */
int sk_zframe_is_wrapper(const uint8_t *body, size_t len);

/*
 * Check and decompress a received wrapper body. On success *out (from the C library's malloc
 * here, from a with sk_zframe_unwrap_alloc: the caller frees it there) holds the plain frame body of *out_len == size bytes, with 1 <= size <= max_frame.
 * Errors, with nothing allocated: -SK_E_DECOMPRESS for anything wrong with the wrapper (not one
 * valid MessagePack value, type or rid not 0, size or data missing, duplicated or of the wrong
 * type, size 0 or above max_frame, data not exactly one zstd frame, a frame without a declared
 * content size or one different from size, corrupt data, output other than size bytes, a result
 * that is itself a wrapper); -SK_E_NOMEM when the buffer or the zstd context cannot be had.
 */
int sk_zframe_unwrap(const uint8_t *frame_body, size_t len, uint32_t max_frame, uint8_t **out,
                     size_t *out_len);
/* The same with flags: SK_ZF_DICT accepts a wrapper whose key 3 names the referral dictionary
 * (and whose zstd frame was made with it). Without the flag such a wrapper, a key 3 naming
 * another dictionary, or a zstd frame that needs a dictionary the wrapper does not name, is
 * -SK_E_DECOMPRESS. */
int sk_zframe_unwrap_ex(const uint8_t *frame_body, size_t len, uint32_t max_frame, unsigned flags,
                        uint8_t **out, size_t *out_len);
/* The same with the output and zstd's context allocated from a (NULL: the C library). */
int sk_zframe_unwrap_alloc(const uint8_t *frame_body, size_t len, uint32_t max_frame,
                           unsigned flags, const sk_allocator *a, uint8_t **out, size_t *out_len);

#endif
