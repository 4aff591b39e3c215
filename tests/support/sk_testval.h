/*
 * sk_testval.h - one MessagePack value a test builds (a field of a change or a record): a
 * growing buffer and a packer writing into it. Header only, for unit tests and the harness.
 */
#ifndef SK_TESTVAL_H
#define SK_TESTVAL_H

#include "sk_buf.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sk_tval {
    sk_buf b;
    msgpack_packer pk;
} sk_tval;

/* An empty value, ready to pack into (free v->b with sk_buf_free). */
static inline void sk_tval_start(sk_tval *v)
{
    sk_buf_init(&v->b);
    sk_packer_init(&v->pk, &v->b);
}

/* A value of one unsigned integer, string, boolean or nil (sk_tval_start, then packed). */
static inline void sk_tval_uint(sk_tval *v, uint64_t x)
{
    sk_tval_start(v);
    msgpack_pack_uint64(&v->pk, x);
}

static inline void sk_tval_str(sk_tval *v, const char *s)
{
    sk_tval_start(v);
    sk_pack_cstr(&v->pk, s);
}

static inline void sk_tval_bool(sk_tval *v, int x)
{
    sk_tval_start(v);
    if (x)
        msgpack_pack_true(&v->pk);
    else
        msgpack_pack_false(&v->pk);
}

static inline void sk_tval_nil(sk_tval *v)
{
    sk_tval_start(v);
    msgpack_pack_nil(&v->pk);
}

/* A value of an array of unsigned integers (a list of codes). */
static inline void sk_tval_codes(sk_tval *v, const uint64_t *codes, size_t n)
{
    sk_tval_start(v);
    msgpack_pack_array(&v->pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_uint64(&v->pk, codes[i]);
}

#endif
