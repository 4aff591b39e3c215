/*
 * sk_buf.c - growable byte buffer used by all encoders (see sk_buf.h).
 */
#include "sk_buf.h"

#include "sk_err.h"

#include <string.h>

void sk_buf_init(sk_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void sk_buf_init_alloc(sk_buf *b, const sk_allocator *a)
{
    memset(b, 0, sizeof(*b));
    b->alloc = a;
}

void sk_buf_free(sk_buf *b)
{
    const sk_allocator *a = b->alloc;
    sk_afree(a, b->data);
    sk_buf_init_alloc(b, a);
}

void sk_buf_reset(sk_buf *b)
{
    b->len = 0;
    b->oom = 0;
}

int sk_buf_reserve(sk_buf *b, size_t extra)
{
    if (b->oom)
        return -SK_E_NOMEM;
    if (extra > SIZE_MAX - b->len)
        goto fail;
    size_t need = b->len + extra;
    if (b->limit && need > b->limit)
        goto fail;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    if (b->limit && cap > b->limit)
        cap = b->limit;
    uint8_t *p = sk_arealloc(b->alloc, b->data, cap);
    if (!p)
        goto fail;
    b->data = p;
    b->cap = cap;
    return 0;
fail:
    b->oom = 1;
    return -SK_E_NOMEM;
}

int sk_grow(void *arrp, size_t *cap, size_t need, size_t elem, size_t first)
{
    return sk_agrow(NULL, arrp, cap, need, elem, first);
}

int sk_agrow(const sk_allocator *a, void *arrp, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : (first ? first : 1);
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return -SK_E_NOMEM;
        nc *= 2;
    }
    if (elem && nc > SIZE_MAX / elem)
        return -SK_E_NOMEM;
    void *arr;
    memcpy(&arr, arrp, sizeof(arr)); /* T * and void * share a representation (POSIX) */
    void *p = sk_arealloc(a, arr, nc * elem);
    if (!p)
        return -SK_E_NOMEM;
    memcpy(arrp, &p, sizeof(p));
    *cap = nc;
    return 0;
}

int sk_buf_append(sk_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return b->oom ? -SK_E_NOMEM : 0;
    int rc = sk_buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

uint8_t *sk_buf_steal(sk_buf *b, size_t *len_out)
{
    uint8_t *p = b->data;
    *len_out = b->len;
    sk_buf_init_alloc(b, b->alloc);
    return p;
}

int sk_buf_pack_write(void *data, const char *buf, size_t len)
{
    sk_buf *b = data;
    if (len <= b->cap - b->len && !b->oom && (!b->limit || b->len + len <= b->limit)) {
        memcpy(b->data + b->len, buf, len); /* the packer's many small writes: no call */
        b->len += len;
        return 0;
    }
    return sk_buf_append(b, buf, len) ? -1 : 0;
}

void sk_packer_init(msgpack_packer *pk, sk_buf *b)
{
    msgpack_packer_init(pk, b, sk_buf_pack_write);
}

int sk_pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    if (msgpack_pack_str(pk, n))
        return -1;
    return msgpack_pack_str_body(pk, s, n);
}

int sk_pack_cstr(msgpack_packer *pk, const char *s)
{
    if (!s)
        return msgpack_pack_nil(pk);
    return sk_pack_str(pk, s, strlen(s));
}

int sk_pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
    if (msgpack_pack_bin(pk, n))
        return -1;
    return msgpack_pack_bin_body(pk, p, n);
}

int sk_pack_bool(msgpack_packer *pk, int v)
{
    return v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

void sk_pack_kv_uint(msgpack_packer *pk, uint32_t key, uint64_t v)
{
    msgpack_pack_uint32(pk, key);
    msgpack_pack_uint64(pk, v);
}

void sk_pack_opt_uint(msgpack_packer *pk, uint32_t key, uint64_t v)
{
    if (v)
        sk_pack_kv_uint(pk, key, v);
}

void sk_pack_opt_bin(msgpack_packer *pk, uint32_t key, const void *p, size_t n)
{
    if (p) {
        msgpack_pack_uint32(pk, key);
        sk_pack_bin(pk, p, n);
    }
}

size_t sk_pack_uint_min(uint8_t out[9], uint64_t v)
{
    size_t n;
    if (v < 128) {
        out[0] = (uint8_t)v;
        return 1;
    }
    if (v <= UINT8_MAX)
        out[0] = 0xcc, n = 1;
    else if (v <= UINT16_MAX)
        out[0] = 0xcd, n = 2;
    else if (v <= UINT32_MAX)
        out[0] = 0xce, n = 4;
    else
        out[0] = 0xcf, n = 8;
    for (size_t i = 0; i < n; i++)
        out[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return 1 + n;
}

size_t sk_pack_uint_fixed(uint8_t out[9], uint64_t v)
{
    if (v < 128) {
        out[0] = (uint8_t)v;
        return 1;
    }
    out[0] = 0xcf;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (uint8_t)(v >> (56 - 8 * i));
    return 9;
}

void sk_be32_put(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

uint32_t sk_be32_get(const uint8_t in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

void sk_be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

uint64_t sk_be64_get(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}
