/*
 * sk_clientpeek.c - see sk_clientpeek.h. Reads only: a read transaction on the store's own
 * environment, and the key file as a whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_clientpeek.h"

#include "sk_proc.h"

#include <stdlib.h>
#include <string.h>

uint8_t *sk_peek_record(sakhi_client *c, const sk_id *id, size_t *n)
{
    MDB_txn *txn;
    MDB_val k = {sizeof(id->b), (void *)id->b}, v;
    assert_int_equal(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_get(txn, c->dbi_records, &k, &v), 0);
    uint8_t *out = malloc(v.mv_size);
    assert_non_null(out);
    memcpy(out, v.mv_data, v.mv_size);
    *n = v.mv_size;
    mdb_txn_abort(txn);
    return out;
}

uint64_t sk_peek_slot(const uint8_t *raw)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | raw[i];
    return v;
}

int sk_peek_slot_zero(const char *keys_path, uint64_t slot)
{
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(sk_read_file(keys_path, &buf, &len), 0);
    assert_true(slot < SIZE_MAX / 64 && len >= (slot + 1) * 64);
    int zero = 1;
    for (size_t i = 0; i < 32; i++)
        if (buf[slot * 64 + 16 + i] != 0)
            zero = 0;
    free(buf);
    return zero;
}
