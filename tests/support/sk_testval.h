/*
 * sk_testval.h - one MessagePack value a test builds (a field of a change or a record): a
 * growing buffer and a packer writing into it. Header only, for unit tests and the harness.
 */
#ifndef SK_TESTVAL_H
#define SK_TESTVAL_H

#include "sk_buf.h"

#include <msgpack.h>

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

#endif
