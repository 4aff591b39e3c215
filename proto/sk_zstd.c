/*
 * sk_zstd.c - compression wrapper frames (see sk_zstd.h) over libzstd's one-shot API.
 *
 * Owns nothing between calls: each call creates and frees its own zstd context, allocated (as
 * the buffers are) from the caller's allocator through zstd's custom-memory interface. The receive side
 * never lets the peer choose an allocation: the declared size is checked against max_frame and
 * against the zstd frame header before the output buffer of exactly that size is allocated, and
 * decompression into that buffer cannot write past it (more output is an error). It must never
 * decompress a frame of unknown content size, never accept a wrapper inside a wrapper, and never
 * log what it carries.
 */
#include "sk_zstd.h"

#include "sk_err.h"
#include "sk_frame.h"
#include "sk_mp.h"

#include <pthread.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_customMem: contexts from our allocator */
#include <zstd.h>
#include <zstd_errors.h>

/* The referral dictionary's contexts: made once per process, read-only after (zstd allows one
 * CDict/DDict to be used by many contexts at once), never freed. */
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;
static ZSTD_CDict *dict_c;
static ZSTD_DDict *dict_d;

static void dict_init(void)
{
    dict_c = ZSTD_createCDict(sk_zdict_referrals, sk_zdict_referrals_len, SK_ZFRAME_LEVEL);
    dict_d = ZSTD_createDDict(sk_zdict_referrals, sk_zdict_referrals_len);
}

static int dict_ready(void)
{
    return pthread_once(&dict_once, dict_init) == 0 && dict_c && dict_d;
}

static void *zmem_alloc(void *opaque, size_t n)
{
    return sk_amalloc(opaque, n);
}

static void zmem_free(void *opaque, void *p)
{
    sk_afree(opaque, p);
}

/* zstd's contexts with the allocator a (the C library's when a has no hooks). */
static ZSTD_CCtx *cctx_new(const sk_allocator *a)
{
    if (!a || !a->malloc_fn)
        return ZSTD_createCCtx();
    ZSTD_customMem mem = {zmem_alloc, zmem_free, (void *)(uintptr_t)a};
    return ZSTD_createCCtx_advanced(mem);
}

static ZSTD_DCtx *dctx_new(const sk_allocator *a)
{
    if (!a || !a->malloc_fn)
        return ZSTD_createDCtx();
    ZSTD_customMem mem = {zmem_alloc, zmem_free, (void *)(uintptr_t)a};
    return ZSTD_createDCtx_advanced(mem);
}

/* The wrapper holds one bin as long as the frame allows and nothing nested. */
static const sk_mp_limits wrapper_limits = {
    .max_depth = 2,
    .max_str = 256,
    .max_bin = UINT32_MAX,
    .max_items = 8,
};

int sk_zframe_is_wrapper(const uint8_t *body, size_t len)
{
    sk_mp m;
    uint32_t n;
    uint64_t type;
    sk_mp_init(&m, body, len);
    if (sk_mp_peek(&m) != SK_MP_ARRAY || sk_mp_read_array(&m, &n) || n < 1)
        return 0;
    if (sk_mp_peek(&m) != SK_MP_UINT || sk_mp_read_uint(&m, &type))
        return 0;
    return type == 0;
}

int sk_zframe_wrap(sk_buf *out, const uint8_t *body, size_t len)
{
    return sk_zframe_wrap_ex(out, body, len, 0);
}

void sk_zframe_pack_wrapper(msgpack_packer *pk, uint64_t size, const void *z, size_t zn,
                            int with_id, uint32_t dict_id)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, 0);
    msgpack_pack_uint32(pk, 0);
    msgpack_pack_map(pk, with_id ? 3 : 2);
    sk_pack_kv_uint(pk, 1, size);
    msgpack_pack_uint32(pk, 2);
    sk_pack_bin(pk, z, zn);
    if (with_id)
        sk_pack_kv_uint(pk, 3, dict_id);
}

int sk_zframe_wrap_ex(sk_buf *out, const uint8_t *body, size_t len, unsigned flags)
{
    int dict = (flags & SK_ZF_DICT) != 0;
    if (len < (dict ? SK_ZFRAME_MIN_DICT : SK_ZFRAME_MIN) || len > UINT32_MAX)
        return SK_ZFRAME_PLAIN;
    if (dict && !dict_ready())
        return SK_ZFRAME_PLAIN;
    size_t bound = ZSTD_compressBound(len);
    if (ZSTD_isError(bound))
        return SK_ZFRAME_PLAIN;
    uint8_t *z = sk_amalloc(out->alloc, bound);
    ZSTD_CCtx *cctx = cctx_new(out->alloc);
    int rc;
    size_t start = out->len;
    if (!z || !cctx) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    size_t zn = dict ? ZSTD_compress_usingCDict(cctx, z, bound, body, len, dict_c)
                     : ZSTD_compressCCtx(cctx, z, bound, body, len, SK_ZFRAME_LEVEL);
    if (ZSTD_isError(zn)) {
        rc = ZSTD_getErrorCode(zn) == ZSTD_error_memory_allocation ? -SK_E_NOMEM : -SK_E_INTERNAL;
        goto out;
    }
    /* Envelope overhead: array, type, rid, map, key 1, uint32 (at most 5), key 2, bin32 header
     * (and key 3 with the dictionary id, at most 6). Compare the largest it can be, so
     * "smaller" is never an overestimate. */
    if (zn + (dict ? 21 : 15) >= len) {
        rc = SK_ZFRAME_PLAIN;
        goto out;
    }
    if ((rc = sk_buf_append(out, "\0\0\0\0", SK_FRAME_HDR)))
        goto out;
    msgpack_packer pk;
    sk_packer_init(&pk, out);
    sk_zframe_pack_wrapper(&pk, len, z, zn, dict, SK_ZDICT_ID);
    if (out->oom) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    sk_frame_put_header(out->data + start, (uint32_t)(out->len - start - SK_FRAME_HDR));
    rc = 0;
out:
    if (rc)
        out->len = start;
    ZSTD_freeCCtx(cctx);
    sk_afree(out->alloc, z);
    return rc;
}

int sk_zframe_compress_frame(sk_buf *b, size_t start)
{
    return sk_zframe_compress_frame_ex(b, start, 0);
}

int sk_zframe_compress_frame_ex(sk_buf *b, size_t start, unsigned flags)
{
    if (b->oom)
        return -SK_E_NOMEM;
    if (start > b->len || b->len - start < SK_FRAME_HDR)
        return -SK_E_BAD_FRAME;
    const uint8_t *h = b->data + start;
    size_t blen = b->len - start - SK_FRAME_HDR;
    uint32_t declared = sk_be32_get(h);
    if (declared != blen)
        return -SK_E_BAD_FRAME;
    if (blen < ((flags & SK_ZF_DICT) ? SK_ZFRAME_MIN_DICT : SK_ZFRAME_MIN))
        return 0;
    sk_buf z;
    sk_buf_init_alloc(&z, b->alloc);
    int rc = sk_zframe_wrap_ex(&z, b->data + start + SK_FRAME_HDR, blen, flags);
    if (rc == 0) {
        /* The wrapped frame is shorter than the plain one: it fits where the plain one was. */
        memcpy(b->data + start, z.data, z.len);
        b->len = start + z.len;
    }
    sk_buf_free(&z);
    return rc == 0 ? 1 : 0;
}

int sk_zframe_unwrap(const uint8_t *frame_body, size_t len, uint32_t max_frame, uint8_t **out,
                     size_t *out_len)
{
    return sk_zframe_unwrap_ex(frame_body, len, max_frame, 0, out, out_len);
}

int sk_zframe_unwrap_ex(const uint8_t *frame_body, size_t len, uint32_t max_frame, unsigned flags,
                        uint8_t **out, size_t *out_len)
{
    return sk_zframe_unwrap_alloc(frame_body, len, max_frame, flags, NULL, out, out_len);
}

int sk_zframe_unwrap_alloc(const uint8_t *frame_body, size_t len, uint32_t max_frame,
                           unsigned flags, const sk_allocator *a, uint8_t **out, size_t *out_len)
{
    sk_mp m;
    uint32_t n, i;
    uint64_t v, size = 0, dict = 0;
    const uint8_t *data = NULL;
    uint32_t dlen = 0;
    int have_size = 0, have_data = 0, have_dict = 0;
    uint8_t *buf = NULL;
    ZSTD_DCtx *dctx = NULL;
    int rc = -SK_E_DECOMPRESS;

    if (sk_mp_check(frame_body, len, &wrapper_limits))
        goto out;
    sk_mp_init(&m, frame_body, len);
    if (sk_mp_read_array(&m, &n) || n != 3)
        goto out;
    if (sk_mp_read_uint(&m, &v) || v != 0) /* type */
        goto out;
    if (sk_mp_read_uint(&m, &v) || v != 0) /* rid */
        goto out;
    if (sk_mp_peek(&m) != SK_MP_MAP || sk_mp_read_map(&m, &n))
        goto out;
    for (i = 0; i < n; i++) {
        if (sk_mp_peek(&m) != SK_MP_UINT || sk_mp_read_uint(&m, &v))
            goto out;
        if (v == 1) {
            if (have_size || sk_mp_peek(&m) != SK_MP_UINT ||
                sk_mp_read_uint_max(&m, UINT32_MAX, &size))
                goto out;
            have_size = 1;
        } else if (v == 2) {
            if (have_data || sk_mp_peek(&m) != SK_MP_BIN || sk_mp_read_bin(&m, &data, &dlen))
                goto out;
            have_data = 1;
        } else if (v == 3) {
            if (have_dict || sk_mp_peek(&m) != SK_MP_UINT ||
                sk_mp_read_uint_max(&m, UINT32_MAX, &dict))
                goto out;
            have_dict = 1;
        } else if (sk_mp_skip(&m)) { /* unknown keys are skipped, as in every body */
            goto out;
        }
    }
    if (!have_size || !have_data || !sk_mp_at_end(&m))
        goto out;
    if (size == 0 || size > max_frame)
        goto out;
    /* Exactly one zstd frame, and its header declares exactly size: checked before any
     * allocation, so neither the envelope nor the zstd header can ask for more memory. */
    size_t fsz = ZSTD_findFrameCompressedSize(data, dlen);
    if (ZSTD_isError(fsz) || fsz != dlen)
        goto out;
    unsigned long long csize = ZSTD_getFrameContentSize(data, dlen);
    if (csize == ZSTD_CONTENTSIZE_UNKNOWN || csize == ZSTD_CONTENTSIZE_ERROR || csize != size)
        goto out;
    /* The dictionary: named by the wrapper, agreed, ours, and the one the zstd frame was made
     * with; a frame that needs a dictionary the wrapper does not name is refused. */
    unsigned fid = ZSTD_getDictID_fromFrame(data, dlen);
    if (have_dict ? (!(flags & SK_ZF_DICT) || dict != SK_ZDICT_ID || fid != SK_ZDICT_ID) : fid != 0)
        goto out;
    if (have_dict && !dict_ready()) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    buf = sk_amalloc(a, (size_t)size);
    dctx = dctx_new(a);
    if (!buf || !dctx) {
        rc = -SK_E_NOMEM;
        goto out;
    }
    size_t got = have_dict ? ZSTD_decompress_usingDDict(dctx, buf, (size_t)size, data, dlen, dict_d)
                           : ZSTD_decompressDCtx(dctx, buf, (size_t)size, data, dlen);
    if (ZSTD_isError(got)) {
        if (ZSTD_getErrorCode(got) == ZSTD_error_memory_allocation)
            rc = -SK_E_NOMEM;
        goto out;
    }
    if (got != size || sk_zframe_is_wrapper(buf, got))
        goto out;
    *out = buf;
    *out_len = got;
    buf = NULL;
    rc = 0;
out:
    ZSTD_freeDCtx(dctx);
    sk_afree(a, buf);
    return rc;
}
