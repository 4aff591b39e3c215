/*
 * sk_districts.c - the centre's district list in the store (sk_districts.h).
 */
#include "sk_districts.h"

#include "sk_case.h"
#include "sk_err.h"

#include <string.h>

#define META_KEY "districts"

static const sk_district_def k_defaults[] = {
    {SK_DISTRICT_LEH, "leh", "LEH", {"Leh", "लेह", "لیہ", "གླེ།"}},
    {SK_DISTRICT_KARGIL, "kargil", "KGL", {"Kargil", "कारगिल", "کرگل", ""}},
};

static int read_raw(sk_store *s, MDB_txn *txn, MDB_val *v, int *found)
{
    MDB_val k = {sizeof(META_KEY) - 1, (void *)META_KEY};
    int mrc = mdb_get(txn, sk_store_dbi_meta(s), &k, v);
    *found = mrc == 0;
    return mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
}

int sk_store_districts_get_txn(sk_store *s, MDB_txn *txn, sk_district_def *out, size_t cap,
                               size_t *n_out)
{
    MDB_val v;
    int found, rc = read_raw(s, txn, &v, &found);
    if (rc)
        return rc;
    if (!found) {
        size_t n = sizeof(k_defaults) / sizeof(k_defaults[0]);
        if (cap < n)
            return -SK_E_TOO_LONG;
        memcpy(out, k_defaults, sizeof(k_defaults));
        *n_out = n;
        return 0;
    }
    return sk_district_unpack(v.mv_data, v.mv_size, out, cap, n_out) ? -SK_E_STORE_IO : 0;
}

int sk_store_districts_wire_txn(sk_store *s, MDB_txn *txn, sk_buf *out)
{
    MDB_val v;
    int found, rc = read_raw(s, txn, &v, &found);
    if (rc)
        return rc;
    if (found)
        return sk_buf_append(out, v.mv_data, v.mv_size);
    msgpack_packer pk;
    sk_packer_init(&pk, out);
    rc = sk_district_pack(&pk, k_defaults, sizeof(k_defaults) / sizeof(k_defaults[0]));
    return rc ? rc : (out->oom ? -SK_E_NOMEM : 0);
}

int sk_store_districts_put_txn(sk_store *s, MDB_txn *txn, const sk_district_def *d, size_t n,
                               char *err, size_t errcap)
{
    int rc = sk_district_list_check(d, n, err, errcap);
    if (rc)
        return rc;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    rc = sk_district_pack(&pk, d, n);
    if (rc == 0 && b.oom)
        rc = -SK_E_NOMEM;
    if (rc == 0) {
        MDB_val k = {sizeof(META_KEY) - 1, (void *)META_KEY}, v = {b.len, b.data};
        rc = sk_store_mdb_err(mdb_put(txn, sk_store_dbi_meta(s), &k, &v, 0));
    }
    sk_buf_free(&b);
    return rc;
}

int sk_store_district_prefix_txn(sk_store *s, MDB_txn *txn, uint32_t code,
                                 char prefix_out[SK_DISTRICT_PREFIX_MAX + 1])
{
    MDB_val v;
    int found, rc = read_raw(s, txn, &v, &found);
    if (rc)
        return rc;
    if (found) {
        rc = sk_district_wire_prefix(v.mv_data, v.mv_size, code, prefix_out);
        return rc == 0 || rc == -SK_E_NOT_FOUND ? rc : -SK_E_STORE_IO;
    }
    for (size_t i = 0; i < sizeof(k_defaults) / sizeof(k_defaults[0]); i++) {
        if (k_defaults[i].code == code) {
            memcpy(prefix_out, k_defaults[i].prefix, sizeof(k_defaults[i].prefix));
            return 0;
        }
    }
    return -SK_E_NOT_FOUND;
}
