/*
 * sk_buf.h - a growable byte buffer, and the msgpack-c writer bound to it.
 *
 * Every encoder in proto/ writes into an sk_buf through msgpack-c's packer. The buffer owns its
 * bytes; sk_buf_free releases them. Growth is checked for overflow; on allocation failure the
 * buffer records the failure (b->oom) and further writes are ignored, so an encoder can write a
 * whole message and check once at the end (the pattern of Redis's sds and curl's dynbuf).
 */
#ifndef SK_BUF_H
#define SK_BUF_H

#include "sk_alloc.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sk_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int oom;                   /* set once an allocation failed; the content is then incomplete */
    size_t limit;              /* 0 = unlimited; otherwise growth past it sets oom */
    const sk_allocator *alloc; /* NULL: the C library (sk_alloc.h); kept by free and reset */
} sk_buf;

#define SK_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0, 0, NULL                                                                     \
    }

/* An empty buffer allocating from a (an sk_allocator *, NULL: the C library). */
#define SK_BUF_INIT_A(a)                                                                           \
    {                                                                                              \
        NULL, 0, 0, 0, 0, (a)                                                                      \
    }

void sk_buf_init(sk_buf *b);
/* An empty buffer whose bytes come from a (NULL: the C library). */
void sk_buf_init_alloc(sk_buf *b, const sk_allocator *a);
void sk_buf_free(sk_buf *b);
void sk_buf_reset(sk_buf *b);                          /* len = 0, keeps memory, clears oom */
int sk_buf_reserve(sk_buf *b, size_t extra);           /* 0 or -SK_E_NOMEM */
int sk_buf_append(sk_buf *b, const void *p, size_t n); /* 0 or -SK_E_NOMEM */
/* Detach the bytes: the caller frees them with sk_afree(b->alloc, p); the buffer is reset to
 * empty and keeps its allocator. */
uint8_t *sk_buf_steal(sk_buf *b, size_t *len_out);

/* Make room in the array *arrp (any T *, passed as &arr) of *cap elements of elem bytes for at
 * least need: the capacity doubles, from first, realloc'd, overflow checked. 0, or
 * -SK_E_NOMEM with the array and *cap unchanged (still the caller's to free). sk_grow uses the
 * C library, sk_agrow the allocator a. */
int sk_grow(void *arrp, size_t *cap, size_t need, size_t elem, size_t first);
int sk_agrow(const sk_allocator *a, void *arrp, size_t *cap, size_t need, size_t elem,
             size_t first);

/* msgpack-c write callback for msgpack_packer_init(pk, buf, sk_buf_pack_write). */
int sk_buf_pack_write(void *data, const char *buf, size_t len);
/* Convenience: initialise packer pk writing into b. */
void sk_packer_init(msgpack_packer *pk, sk_buf *b);

/* Pack helpers used by every encoder. */
int sk_pack_str(msgpack_packer *pk, const char *s, size_t n);
int sk_pack_cstr(msgpack_packer *pk, const char *s); /* NULL packs nil */
int sk_pack_bin(msgpack_packer *pk, const void *p, size_t n);
int sk_pack_bool(msgpack_packer *pk, int v); /* true when v is not 0, else false */
/* One pair of a body map {key: value}: the key, then the uint v; the _opt form packs the pair
 * only when v is not 0 (an optional field at its default is omitted). */
void sk_pack_kv_uint(msgpack_packer *pk, uint32_t key, uint64_t v);
void sk_pack_opt_uint(msgpack_packer *pk, uint32_t key, uint64_t v);
/* One pair {key: bin of p's n bytes}, packed only when p is not NULL. */
void sk_pack_opt_bin(msgpack_packer *pk, uint32_t key, const void *p, size_t n);
/* A uint in its shortest MessagePack form, as msgpack_pack_uint64 writes it (1, 2, 3, 5 or 9
 * bytes to out); returns how many. For a value packed on its own, without a packer. */
size_t sk_pack_uint_min(uint8_t out[9], uint64_t v);
/* A uint in the fixed form a server-set field value takes: a positive fixint below 128, else a
 * full uint 64 (0xcf, then 8 bytes big-endian). Writes 1 or 9 bytes to out; returns how many. */
size_t sk_pack_uint_fixed(uint8_t out[9], uint64_t v);

/* Big-endian (network order) unsigned integers, as the frame header, store keys and file
 * headers hold them. */
void sk_be32_put(uint8_t out[4], uint32_t v);
uint32_t sk_be32_get(const uint8_t in[4]);
void sk_be64_put(uint8_t out[8], uint64_t v);
uint64_t sk_be64_get(const uint8_t in[8]);

#endif
