/*
 * sk_deid.c - de-identification for the hub (contract and field table in sk_deid.h; the same
 * table in prose in docs/REPLICATION.md). Pure: no I/O, no logging of any value.
 */
#include "sk_deid.h"

#include "sk_case.h"
#include "sk_err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

int sk_deid_keeps(uint32_t key)
{
    switch (key) {
    case SK_F_SCHEMA:
    case SK_F_CREATED_AT:
    case SK_F_DISTRICT:
    case SK_F_TAKEN_AT:
    case SK_F_AGE_BAND:
    case SK_F_MINOR:
    case SK_F_CONCERNS:
    case SK_F_URGENCY:
    case SK_F_SOURCE:
    case SK_F_STATUS:
    case SK_F_DECLINE_REASON:
    case SK_F_REFERRED_TO:
    case SK_F_SHELTER_START:
    case SK_F_SHELTER_DAYS: return 1;
    default: return key > SK_F_SERVICE_BASE && key <= SK_F_SERVICE_BASE + SK_SERVICE_COUNT;
    }
}

uint64_t sk_deid_time(uint64_t ms)
{
    return ms - ms % SK_DEID_TIME_MS;
}

sk_hlc sk_deid_hlc(sk_hlc h)
{
    return SK_HLC_MAKE(sk_deid_time(SK_HLC_MS(h)), 0);
}

int sk_deid_pid(sk_id *out, const uint8_t key[SK_DEID_KEY_LEN], const sk_id *id)
{
    static const char label[] = "sakhi-hub-pid-v1";
    uint8_t in[sizeof(label) - 1 + 16], mac[32];
    size_t n = 0;
    memcpy(in, label, sizeof(label) - 1);
    memcpy(in + sizeof(label) - 1, id->b, 16);
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, SK_DEID_KEY_LEN, in, sizeof(in), mac,
                   sizeof(mac), &n) ||
        n != sizeof(mac))
        return -SK_E_INTERNAL;
    memcpy(out->b, mac, 16);
    OPENSSL_cleanse(mac, sizeof(mac));
    return 0;
}

static int set_uint(sk_record *r, uint32_t key, uint64_t v, sk_hlc hlc, uint64_t ver)
{
    uint8_t b[9];
    return sk_record_set(r, key, b, (uint32_t)sk_pack_uint_min(b, v), hlc, ver);
}

/* The age band: from age, else from the date of birth at capture, else as recorded; and the
 * stamp of the field it came from. 0 when none is known. */
static uint64_t age_band(const sk_record *in, const sk_field **from)
{
    uint64_t u;
    char dob[16];
    *from = NULL;
    if (sk_case_get_uint(in, SK_F_AGE, &u) == 0) {
        *from = sk_record_field(in, SK_F_AGE);
        return sk_case_age_band_of(u);
    }
    if (sk_case_get_str(in, SK_F_DOB, dob, sizeof(dob)) == 0) {
        int age = sk_case_age_from_dob(dob, strlen(dob), sk_case_captured_ms(in));
        if (age >= 0) {
            *from = sk_record_field(in, SK_F_DOB);
            return sk_case_age_band_of((uint64_t)age);
        }
    }
    if (sk_case_get_uint(in, SK_F_AGE_BAND, &u) == 0) {
        *from = sk_record_field(in, SK_F_AGE_BAND);
        return u;
    }
    return 0;
}

int sk_deid_record(sk_record *out, const sk_record *in, const uint8_t key[SK_DEID_KEY_LEN])
{
    int rc;
    sk_record_free(out);
    sk_record_init(out);
    if ((rc = sk_deid_pid(&out->id, key, &in->id)))
        goto fail;
    out->version = in->version;
    out->flags = in->flags & SK_REC_FLAGS_KNOWN;
    out->created = sk_deid_hlc(in->created);
    out->created_ver = in->created_ver;
    out->updated = sk_deid_hlc(in->updated);
    if (in->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0; /* the hub learns that it is gone, nothing else */
    for (uint32_t i = 0; i < in->nfields; i++) {
        const sk_field *f = &in->fields[i];
        if (!sk_deid_keeps(f->key) || f->key == SK_F_AGE_BAND || f->key == SK_F_MINOR ||
            f->key == SK_F_CREATED_AT || f->key == SK_F_SHELTER_START)
            continue; /* derived or coarsened below */
        if ((rc = sk_record_set(out, f->key, f->val, f->len, sk_deid_hlc(f->hlc), f->ver)))
            goto fail;
    }
    const sk_field *f = sk_record_field(in, SK_F_CREATED_AT);
    if ((rc = set_uint(out, SK_F_CREATED_AT, sk_deid_time(sk_case_captured_ms(in)),
                       f ? sk_deid_hlc(f->hlc) : out->created, f ? f->ver : in->created_ver)))
        goto fail;
    uint64_t start;
    f = sk_record_field(in, SK_F_SHELTER_START);
    if (f && sk_case_get_uint(in, SK_F_SHELTER_START, &start) == 0 &&
        (rc = set_uint(out, SK_F_SHELTER_START, sk_deid_time(start), sk_deid_hlc(f->hlc), f->ver)))
        goto fail;
    uint64_t band = age_band(in, &f);
    if (band && (rc = set_uint(out, SK_F_AGE_BAND, band, sk_deid_hlc(f->hlc), f->ver)))
        goto fail;
    /* minor as the centre counts it (flag, age, date of birth, band or concern), so the hub's
     * minors' figures are the centre's; stamped like the record's creation */
    static const uint8_t k_true = 0xc3, k_false = 0xc2;
    if ((rc = sk_record_set(out, SK_F_MINOR, sk_case_is_minor(in) ? &k_true : &k_false, 1,
                            out->created, in->created_ver)))
        goto fail;
    return 0;
fail:
    sk_record_free(out);
    sk_record_init(out);
    return rc;
}

int sk_deid_check(const sk_record *r, uint32_t *bad)
{
    *bad = 0;
    for (uint32_t i = 0; i < r->nfields; i++)
        if (!sk_deid_keeps(r->fields[i].key)) {
            *bad = r->fields[i].key;
            return -SK_E_FORBIDDEN;
        }
    return r->nentries || (r->flags & ~(uint32_t)SK_REC_FLAGS_KNOWN) ? -SK_E_FORBIDDEN : 0;
}
