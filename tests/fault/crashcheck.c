/*
 * crashcheck.c - see crashcheck.h.
 */
#include "crashcheck.h"

#include <stdio.h>
#include <string.h>

int cc_walk_dbi(MDB_txn *txn, MDB_dbi dbi, size_t *count)
{
    MDB_cursor *c = NULL;
    MDB_val k, v, pk = {0, NULL};
    MDB_stat st;
    size_t n = 0;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return rc;
    while ((rc = mdb_cursor_get(c, &k, &v, n ? MDB_NEXT : MDB_FIRST)) == 0) {
        if (n && mdb_cmp(txn, dbi, &pk, &k) >= 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        pk = k;
        n++;
        volatile unsigned char sum = 0;
        for (size_t i = 0; i < v.mv_size; i++)
            sum ^= ((const unsigned char *)v.mv_data)[i];
        (void)sum;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return rc ? rc : MDB_CORRUPTED;
    if ((rc = mdb_stat(txn, dbi, &st)))
        return rc;
    if (st.ms_entries != n)
        return MDB_CORRUPTED;
    if (count)
        *count = n;
    return 0;
}

int cc_walk_all(MDB_env *env, char *why, size_t cap)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_dbi main_dbi;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc || (rc = cc_walk_dbi(txn, 0, NULL)) || (rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) ||
        (rc = cc_walk_dbi(txn, main_dbi, NULL)) || (rc = mdb_cursor_open(txn, main_dbi, &c))) {
        snprintf(why, cap, "walk: %s", mdb_strerror(rc));
        goto out;
    }
    MDB_val k, v;
    int first = 1;
    while ((rc = mdb_cursor_get(c, &k, &v, first ? MDB_FIRST : MDB_NEXT)) == 0) {
        char name[128];
        MDB_dbi d;
        first = 0;
        if (k.mv_size == 0 || k.mv_size >= sizeof name)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        int orc = mdb_dbi_open(txn, name, 0, &d);
        if (orc == MDB_INCOMPATIBLE)
            continue; /* a plain key in the main DB */
        if (orc || (orc = cc_walk_dbi(txn, d, NULL))) {
            snprintf(why, cap, "db %s: %s", name, mdb_strerror(orc));
            rc = orc;
            goto out;
        }
    }
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    if (rc)
        snprintf(why, cap, "main walk: %s", mdb_strerror(rc));
out:
    cc_end(txn, c);
    return rc;
}

void cc_end(MDB_txn *txn, MDB_cursor *c)
{
    if (c)
        mdb_cursor_close(c);
    if (txn)
        mdb_txn_abort(txn);
}

void cc_verdict(int ret, const char *why)
{
    printf("%s\n", ret == 0 ? "ok" : ret == 1 ? "LOST" : "CORRUPT");
    if (ret)
        printf("  why: %s\n", why);
}
