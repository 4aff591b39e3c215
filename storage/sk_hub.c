/*
 * sk_hub.c - a hub's cases and a centre's batches for it (contract in sk_hub.h).
 *
 * Owns nothing between calls. Never logs; never reads a field that sk_deid_record does not
 * keep into anything it returns.
 */
#include "sk_hub.h"

#include "sk_case.h"
#include "sk_err.h"

#include <stdlib.h>
#include <string.h>

#define HUB_DB "hub"
#define KEY_MAX (2 + SK_MAX_NAME + 16)

/* ---- centre: collecting a batch ----------------------------------------------------------- */

typedef struct past_set {
    sk_hub_past v[SK_HUB_MAX_PAST];
    uint32_t n;
} past_set;

static int collect_past(const sk_history_item *it, void *p)
{
    past_set *ps = p;
    uint64_t code = 0;
    /* an incoming value that lost never was the record's value */
    if (it->lost_incoming || !sk_report_past_key(it->key))
        return 0;
    if (ps->n == SK_HUB_MAX_PAST)
        return 0; /* a case with more changes of status than this keeps its latest counted */
    if (it->len) {
        sk_mp m;
        sk_mp_init(&m, it->val, it->len);
        if (sk_mp_read_uint(&m, &code))
            code = 0;
    }
    ps->v[ps->n++] = (sk_hub_past){it->key, it->ver, sk_deid_hlc(it->hlc), code};
    return 0;
}

int sk_hub_collect_txn(sk_store *s, MDB_txn *txn, uint64_t after,
                       const uint8_t key[SK_DEID_KEY_LEN], uint32_t max_items, size_t max_bytes,
                       sk_buf *items, uint32_t *nitems, uint64_t *upto)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint8_t kb[8];
    past_set *ps = malloc(sizeof(*ps));
    sk_buf rec = SK_BUF_INIT;
    msgpack_packer ipk, rpk;
    int rc, mrc;
    *nitems = 0;
    *upto = after;
    if (!ps)
        return -SK_E_NOMEM;
    if (after == UINT64_MAX)
        goto done;
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_changes(s), &cur))))
        goto out;
    sk_packer_init(&ipk, items);
    sk_packer_init(&rpk, &rec);
    sk_be64_put(kb, after + 1);
    k.mv_size = 8;
    k.mv_data = kb;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && *nitems < max_items && items->len < max_bytes;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_id id;
        sk_record r, d;
        if (k.mv_size != 8 || v.mv_size != 16) {
            rc = -SK_E_STORE_IO;
            goto out;
        }
        memcpy(id.b, v.mv_data, 16);
        sk_record_init(&r);
        sk_record_init(&d);
        ps->n = 0;
        rc = sk_store_record_get_txn(s, txn, &id, &r);
        if (rc == 0 && !(r.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)))
            rc = sk_store_history_list_txn(s, txn, &id, collect_past, ps);
        if (rc == 0)
            rc = sk_deid_record(&d, &r, key);
        if (rc == 0) {
            rec.len = 0;
            if ((rc = sk_record_pack(&rpk, &d)) == 0 && rec.oom)
                rc = -SK_E_NOMEM;
            if (rc == 0 && rec.len > SK_HUB_MAX_REC)
                rc = -SK_E_TOO_LONG;
        }
        if (rc == 0)
            sk_hub_item_pack(&ipk, rec.data, rec.len, ps->v, ps->n);
        sk_record_free(&r);
        sk_record_free(&d);
        if (rc)
            goto out;
        if (items->oom) {
            rc = -SK_E_NOMEM;
            goto out;
        }
        (*nitems)++;
        *upto = sk_be64_get(k.mv_data);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = sk_store_mdb_err(mrc);
        goto out;
    }
done:
    rc = 0;
out:
    if (cur)
        mdb_cursor_close(cur);
    sk_buf_free(&rec);
    free(ps);
    return rc;
}

/* ---- hub: the cases it holds -------------------------------------------------------------- */

static int hub_dbi(MDB_txn *txn, int create, MDB_dbi *dbi)
{
    int mrc = mdb_dbi_open(txn, HUB_DB, create ? MDB_CREATE : 0, dbi);
    if (mrc == MDB_NOTFOUND)
        return -SK_E_NOT_FOUND;
    return mrc ? sk_store_mdb_err(mrc) : 0;
}

static size_t centre_key(uint8_t *out, const char *centre)
{
    size_t n = strnlen(centre, SK_MAX_NAME);
    out[0] = 'c';
    memcpy(out + 1, centre, n);
    return n + 1;
}

static size_t case_key(uint8_t *out, const char *centre, const sk_id *pid)
{
    size_t n = strnlen(centre, SK_MAX_NAME);
    out[0] = 'r';
    memcpy(out + 1, centre, n);
    out[n + 1] = 0;
    memcpy(out + n + 2, pid->b, 16);
    return n + 18;
}

/* Decode an item's record, checked against the protocol's limits first. */
static int item_record(const sk_hub_item *it, sk_record *r)
{
    sk_mp m;
    int rc = sk_mp_check(it->rec, it->rec_len, &sk_mp_default_limits);
    if (rc)
        return -SK_E_BAD_VALUE;
    sk_mp_init(&m, it->rec, it->rec_len);
    return sk_record_unpack(&m, r) ? -SK_E_BAD_VALUE : 0;
}

/* The whole push is acceptable: every record decodes and is de-identified, every past value
 * is one the figures count. */
static int check_push(const sk_hub_push *p, uint32_t *bad_item, uint32_t *bad_key)
{
    sk_mp m, pm;
    sk_hub_item it;
    sk_hub_past pv;
    int rc = 0;
    sk_hub_items_begin(&m, p);
    for (uint32_t i = 0; i < p->nitems && rc == 0; i++) {
        sk_record r;
        *bad_item = i;
        if ((rc = sk_hub_items_next(&m, &it)))
            return -SK_E_BAD_VALUE;
        sk_record_init(&r);
        if ((rc = item_record(&it, &r)) == 0 && (rc = sk_deid_check(&r, bad_key)) == 0 &&
            r.version == 0)
            rc = -SK_E_BAD_VALUE;
        sk_record_free(&r);
        sk_hub_past_begin(&pm, &it);
        for (uint32_t j = 0; rc == 0 && j < it.npast; j++)
            if ((rc = sk_hub_past_next(&pm, &pv)) == 0 && !sk_report_past_key(pv.key))
                rc = -SK_E_FORBIDDEN;
    }
    return rc;
}

int sk_hub_store_txn(sk_store *s, MDB_txn *txn, const char *centre, const sk_hub_push *p,
                     uint64_t now_ms, uint32_t *stored, uint32_t *bad_item, uint32_t *bad_key)
{
    MDB_dbi dbi;
    sk_mp m;
    sk_hub_item it;
    sk_buf val = SK_BUF_INIT;
    uint8_t kb[KEY_MAX];
    int rc;
    (void)s;
    *stored = 0;
    *bad_item = 0;
    *bad_key = 0;
    if (!centre[0] || strlen(centre) > SK_MAX_NAME)
        return -SK_E_BAD_VALUE;
    if ((rc = check_push(p, bad_item, bad_key)))
        return rc;
    *bad_item = 0;
    if ((rc = hub_dbi(txn, 1, &dbi)))
        return rc;
    sk_hub_items_begin(&m, p);
    for (uint32_t i = 0; i < p->nitems; i++) {
        sk_record r;
        MDB_val k, v;
        if ((rc = sk_hub_items_next(&m, &it)))
            goto out;
        sk_record_init(&r);
        rc = item_record(&it, &r);
        k.mv_data = kb;
        k.mv_size = case_key(kb, centre, &r.id);
        uint64_t ver = r.version;
        sk_record_free(&r);
        if (rc)
            goto out;
        int mrc = mdb_get(txn, dbi, &k, &v);
        if (mrc == 0 && v.mv_size >= 8 && sk_be64_get(v.mv_data) >= ver)
            continue; /* held already, or something newer */
        if (mrc && mrc != MDB_NOTFOUND) {
            rc = sk_store_mdb_err(mrc);
            goto out;
        }
        /* the item as received: [record, past] */
        val.len = 0;
        uint8_t vb[8];
        sk_be64_put(vb, ver);
        msgpack_packer pk;
        sk_packer_init(&pk, &val);
        sk_buf_append(&val, vb, 8);
        msgpack_pack_array(&pk, 2);
        sk_pack_bin(&pk, it.rec, it.rec_len);
        msgpack_pack_array(&pk, it.npast);
        sk_buf_append(&val, it.past, it.past_len);
        if (val.oom) {
            rc = -SK_E_NOMEM;
            goto out;
        }
        v.mv_data = val.data;
        v.mv_size = val.len;
        if ((rc = sk_store_mdb_err(mdb_put(txn, dbi, &k, &v, 0))))
            goto out;
        (*stored)++;
    }
    {
        MDB_val k = {centre_key(kb, centre), kb}, v;
        uint64_t upto = p->upto;
        int mrc = mdb_get(txn, dbi, &k, &v);
        if (mrc == 0 && v.mv_size == 24 && sk_be64_get(v.mv_data) > upto &&
            sk_be64_get((const uint8_t *)v.mv_data + 8) == p->epoch)
            upto = sk_be64_get(v.mv_data); /* an old batch again: the cursor does not go back */
        uint8_t st[24];
        sk_be64_put(st, upto);
        sk_be64_put(st + 8, p->epoch);
        sk_be64_put(st + 16, now_ms);
        v.mv_data = st;
        v.mv_size = sizeof(st);
        rc = sk_store_mdb_err(mdb_put(txn, dbi, &k, &v, 0));
    }
out:
    sk_buf_free(&val);
    return rc;
}

/* A stored case: its record and past values, ready for sk_report_add. */
typedef struct held {
    sk_record r;
    sk_report_value past[SK_HUB_MAX_PAST];
    uint8_t codes[SK_HUB_MAX_PAST][9];
    size_t npast;
} held;

static int held_decode(const MDB_val *v, held *h)
{
    sk_mp m, pm;
    sk_hub_item it;
    sk_hub_past pv;
    int rc;
    h->npast = 0;
    if (v->mv_size <= 8)
        return -SK_E_STORE_IO;
    sk_mp_init(&m, (const uint8_t *)v->mv_data + 8, v->mv_size - 8);
    if (sk_hub_items_next(&m, &it) || item_record(&it, &h->r))
        return -SK_E_STORE_IO;
    sk_hub_past_begin(&pm, &it);
    for (uint32_t j = 0; j < it.npast; j++) {
        if ((rc = sk_hub_past_next(&pm, &pv)))
            return -SK_E_STORE_IO;
        uint8_t *c = h->codes[h->npast];
        uint32_t len = 0;
        if (pv.code) { /* a MessagePack uint 64, as the centre's history holds it */
            c[0] = 0xcf;
            sk_be64_put(c + 1, pv.code);
            len = 9;
        }
        h->past[h->npast++] = (sk_report_value){pv.key, pv.ver, pv.hlc, len ? c : NULL, len};
    }
    return 0;
}

int sk_hub_cases_txn(sk_store *s, MDB_txn *txn, const char *centre, sk_hub_case_cb cb,
                     void *payload)
{
    MDB_dbi dbi;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    uint8_t kb[KEY_MAX];
    char name[SK_MAX_NAME + 1];
    size_t plen;
    held *h = malloc(sizeof(*h));
    int rc, mrc;
    (void)s;
    if (!h)
        return -SK_E_NOMEM;
    if ((rc = hub_dbi(txn, 0, &dbi))) {
        free(h);
        return rc == -SK_E_NOT_FOUND ? 0 : rc;
    }
    if (centre) {
        plen = case_key(kb, centre, &(sk_id){{0}}) - 16;
    } else {
        kb[0] = 'r';
        plen = 1;
    }
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, dbi, &cur))))
        goto out;
    k.mv_data = kb;
    k.mv_size = plen;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && k.mv_size >= plen && memcmp(k.mv_data, kb, plen) == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        size_t nl = k.mv_size - 18; /* 'r' + name + 0 + pseudonym */
        if (k.mv_size < 19 || nl > SK_MAX_NAME) {
            rc = -SK_E_STORE_IO;
            goto out;
        }
        memcpy(name, (const uint8_t *)k.mv_data + 1, nl);
        name[nl] = '\0';
        sk_record_init(&h->r);
        rc = held_decode(&v, h);
        if (rc == 0)
            rc = cb(payload, name, &h->r, h->past, h->npast);
        sk_record_free(&h->r);
        if (rc)
            goto out;
    }
    rc = mrc == 0 || mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    free(h);
    return rc;
}

static int report_case(void *payload, const char *centre, const sk_record *r,
                       const sk_report_value *past, size_t npast)
{
    (void)centre;
    return sk_report_add(payload, r, past, npast);
}

int sk_hub_report_txn(sk_store *s, MDB_txn *txn, const char *centre, sk_report *rp)
{
    /* the districts are the hub's own list (sakhi-admin district on the hub) */
    int rc = sk_report_districts_txn(rp, s, txn);
    return rc ? rc : sk_hub_cases_txn(s, txn, centre, report_case, rp);
}

/* The cases (tombstones included) the hub holds of centre, through cursor cases. */
static int count_cases(MDB_cursor *cases, const char *centre, uint64_t *n)
{
    uint8_t kb[KEY_MAX];
    size_t plen = case_key(kb, centre, &(sk_id){{0}}) - 16;
    MDB_val k = {plen, kb}, v;
    int mrc;
    for (mrc = mdb_cursor_get(cases, &k, &v, MDB_SET_RANGE);
         mrc == 0 && k.mv_size >= plen && memcmp(k.mv_data, kb, plen) == 0;
         mrc = mdb_cursor_get(cases, &k, &v, MDB_NEXT))
        (*n)++;
    return mrc == 0 || mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
}

int sk_hub_centres_txn(sk_store *s, MDB_txn *txn, int (*cb)(const sk_hub_centre *c, void *payload),
                       void *payload)
{
    MDB_dbi dbi;
    MDB_cursor *cur = NULL, *cases = NULL;
    MDB_val k, v;
    int rc, mrc;
    (void)s;
    if ((rc = hub_dbi(txn, 0, &dbi)))
        return rc == -SK_E_NOT_FOUND ? 0 : rc;
    if ((rc = sk_store_mdb_err(mdb_cursor_open(txn, dbi, &cur))) ||
        (rc = sk_store_mdb_err(mdb_cursor_open(txn, dbi, &cases))))
        goto out;
    k.mv_data = (void *)"c";
    k.mv_size = 1;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         mrc == 0 && k.mv_size > 1 && ((const uint8_t *)k.mv_data)[0] == 'c';
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_hub_centre c;
        memset(&c, 0, sizeof(c));
        if (k.mv_size - 1 > SK_MAX_NAME || v.mv_size != 24) {
            rc = -SK_E_STORE_IO;
            goto out;
        }
        memcpy(c.name, (const uint8_t *)k.mv_data + 1, k.mv_size - 1);
        c.upto = sk_be64_get(v.mv_data);
        c.epoch = sk_be64_get((const uint8_t *)v.mv_data + 8);
        c.last_ms = sk_be64_get((const uint8_t *)v.mv_data + 16);
        if ((rc = count_cases(cases, c.name, &c.cases)) || (rc = cb(&c, payload)))
            goto out;
    }
    rc = mrc == 0 || mrc == MDB_NOTFOUND ? 0 : sk_store_mdb_err(mrc);
out:
    if (cases)
        mdb_cursor_close(cases);
    if (cur)
        mdb_cursor_close(cur);
    return rc;
}
