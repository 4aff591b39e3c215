/*
 * record_fixtures.c - see record_fixtures.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "record_fixtures.h"

/* A fresh buffer holding s, r or c (the one given) as the codec packs it. */
static sk_buf pack(const char *s, const sk_record *r, const sk_change *c)
{
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    if (s)
        sk_pack_cstr(&pk, s);
    else
        assert_int_equal(r ? sk_record_pack(&pk, r) : sk_change_pack(&pk, c), 0);
    assert_false(b.oom);
    return b;
}

sk_buf rf_str(const char *s)
{
    return pack(s, NULL, NULL);
}

sk_buf rf_pack_record(const sk_record *r)
{
    return pack(NULL, r, NULL);
}

sk_buf rf_pack_change(const sk_change *c)
{
    return pack(NULL, NULL, c);
}
