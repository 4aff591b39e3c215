/*
 * districts.c - the centre's districts as the server sent them (WELCOME key 13, PROTOCOL.md
 * section 3.6), kept in the device store's meta "districts" in their wire form
 * (proto/sk_district.h). The list is the centre's data, not the library's: a district picker and
 * the check of a referral's district read it from here.
 */
#include "sk_client.h"

#include "sk_case.h"
#include "sk_district.h"
#include "sk_err.h"

#include <string.h>

#define META_KEY "districts"

int sk_districts_keep(sakhi_client *c, MDB_txn *txn, const void *wire, size_t n)
{
    MDB_val v;
    int rc = sk_lstore_meta_get_raw(c, txn, META_KEY, &v);
    if (rc == 0 && v.mv_size == n && memcmp(v.mv_data, wire, n) == 0)
        return 0;
    if (rc && rc != SAKHI_ENOTFOUND)
        return rc;
    return sk_lstore_meta_put_raw(c, txn, META_KEY, wire, n);
}

/* The stored list into a buffer from the allocator hooks (*out NULL and *n 0 when the device has
 * none yet). Called with c->mu held. */
static int load(sakhi_client *c, sk_district_def **out, size_t *n)
{
    MDB_txn *txn;
    MDB_val v;
    *out = NULL;
    *n = 0;
    int rc = sk_lstore_txn(c, 1, &txn);
    if (rc)
        return rc;
    rc = sk_lstore_meta_get_raw(c, txn, META_KEY, &v);
    if (rc == SAKHI_ENOTFOUND) {
        rc = 0;
    } else if (rc == 0) {
        sk_district_def *d = sk_client_alloc(c, SK_DISTRICTS_MAX * sizeof(*d));
        if (!d)
            rc = sk_client_fail(c, SAKHI_ENOMEM, NULL, "no memory for the district list");
        else if (sk_district_unpack(v.mv_data, v.mv_size, d, SK_DISTRICTS_MAX, n))
            rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: district list damaged");
        if (rc)
            sk_client_dealloc(c, d);
        else
            *out = d;
    }
    mdb_txn_abort(txn);
    return rc;
}

size_t sakhi_district_count(sakhi_client *c)
{
    sk_district_def *d;
    size_t n = 0;
    if (!c || c->wiped)
        return 0;
    pthread_mutex_lock(&c->mu);
    if (load(c, &d, &n) == 0)
        sk_client_dealloc(c, d);
    else
        n = 0;
    pthread_mutex_unlock(&c->mu);
    return n;
}

int sakhi_district_get(sakhi_client *c, size_t i, const char *lang, sakhi_district *out)
{
    sk_district_def *d;
    size_t n;
    if (!c || !out || out->version < 1)
        return SAKHI_EINVAL;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    pthread_mutex_lock(&c->mu);
    int rc = load(c, &d, &n);
    if (rc == 0 && i >= n)
        rc = SAKHI_ENOTFOUND;
    if (rc == 0) {
        out->code = d[i].code;
        snprintf(out->slug, sizeof(out->slug), "%s", d[i].slug);
        snprintf(out->prefix, sizeof(out->prefix), "%s", d[i].prefix);
        snprintf(out->name, sizeof(out->name), "%s", sk_district_name(&d[i], lang));
    }
    sk_client_dealloc(c, d);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sk_districts_check(sakhi_client *c, int code)
{
    sk_district_def *d;
    size_t n;
    if (code < 1 || (unsigned)code > SK_DISTRICT_CODE_MAX)
        return sk_client_fail(c, SAKHI_EINVAL, "district", "district: unknown code %d", code);
    pthread_mutex_lock(&c->mu);
    int rc = load(c, &d, &n);
    if (rc == 0 && d && !sk_district_find(d, n, (uint32_t)code))
        rc = sk_client_fail(c, SAKHI_EINVAL, "district",
                            "district: not a district of this centre (code %d)", code);
    sk_client_dealloc(c, d);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sk_districts_code(sakhi_client *c, const char *name, int *code)
{
    sk_district_def *d;
    size_t n;
    const sk_district_def *hit = NULL;
    pthread_mutex_lock(&c->mu);
    int rc = load(c, &d, &n);
    if (rc == 0 && d)
        hit = sk_district_by_slug(d, n, name);
    if (hit)
        *code = (int)hit->code;
    else if (rc == 0 && !d && sk_enum_code(SK_ENUM_DISTRICT, name))
        *code = (int)sk_enum_code(SK_ENUM_DISTRICT, name); /* no list yet: a new centre's */
    else if (rc == 0)
        rc = sk_client_fail(c, SAKHI_EINVAL, "district", "district: not a district of this centre");
    sk_client_dealloc(c, d);
    pthread_mutex_unlock(&c->mu);
    return rc;
}
