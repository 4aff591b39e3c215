/*
 * sk_district.c - the centre's district list: its rules, its wire form (sk_district.h).
 */
#include "sk_district.h"

#include "sk_buf.h"
#include "sk_err.h"
#include "sk_mp.h"
#include "sk_text.h"

#include <stdio.h>
#include <string.h>

static const char *const k_lang[SK_DLANG_COUNT] = {"en", "hi", "ur", "lbj"};

int sk_district_lang(const char *lang)
{
    if (!lang)
        return -1;
    size_t n = strcspn(lang, "-_");
    for (int i = 0; i < SK_DLANG_COUNT; i++)
        if (strlen(k_lang[i]) == n && strncmp(lang, k_lang[i], n) == 0)
            return i;
    return -1;
}

static int fail(char *err, size_t cap, const char *msg)
{
    if (err && cap)
        snprintf(err, cap, "%s", msg);
    return -SK_E_BAD_VALUE;
}

static int slug_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > SK_DISTRICT_SLUG_MAX || s[0] < 'a' || s[0] > 'z')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static int prefix_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > SK_DISTRICT_PREFIX_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return 1;
}

static int name_ok(const char *s, int required)
{
    size_t n = strlen(s);
    if (n == 0)
        return !required;
    long chars = sk_utf8_chars(s, n);
    size_t start, len;
    sk_text_trim(s, n, &start, &len);
    return chars >= 1 && chars <= SK_DISTRICT_NAME_CHARS && start == 0 && len == n;
}

int sk_district_check(const sk_district_def *d, char *err, size_t errcap)
{
    if (d->code < 1 || d->code > SK_DISTRICT_CODE_MAX)
        return fail(err, errcap, "code: must be 1 to 65535");
    if (!slug_ok(d->slug))
        return fail(err, errcap,
                    "slug: 1 to 24 of a-z, 0-9 and _, starting with a letter (\"leh\")");
    if (!prefix_ok(d->prefix))
        return fail(err, errcap, "prefix: 2 to 5 capital letters A-Z (\"LEH\")");
    for (int i = 0; i < SK_DLANG_COUNT; i++)
        if (!name_ok(d->name[i], i == SK_DLANG_EN))
            return fail(err, errcap,
                        i == SK_DLANG_EN ? "name: required, 1 to 48 characters, no outer spaces"
                                         : "name: 1 to 48 characters, no outer spaces");
    return 0;
}

int sk_district_list_check(const sk_district_def *d, size_t n, char *err, size_t errcap)
{
    if (n > SK_DISTRICTS_MAX)
        return fail(err, errcap, "districts: at most 64");
    for (size_t i = 0; i < n; i++) {
        int rc = sk_district_check(&d[i], err, errcap);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (d[j].code == d[i].code)
                return fail(err, errcap, "code: already used by another district");
            if (strcmp(d[j].slug, d[i].slug) == 0)
                return fail(err, errcap, "slug: already used by another district");
            if (strcmp(d[j].prefix, d[i].prefix) == 0)
                return fail(err, errcap, "prefix: already used by another district");
        }
    }
    return 0;
}

int sk_district_pack(msgpack_packer *pk, const sk_district_def *d, size_t n)
{
    int rc = sk_district_list_check(d, n, NULL, 0);
    if (rc)
        return rc;
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t names = 0;
        for (int l = 0; l < SK_DLANG_COUNT; l++)
            names += d[i].name[l][0] != '\0';
        msgpack_pack_array(pk, 4);
        msgpack_pack_uint32(pk, d[i].code);
        sk_pack_cstr(pk, d[i].slug);
        sk_pack_cstr(pk, d[i].prefix);
        msgpack_pack_map(pk, names);
        for (int l = 0; l < SK_DLANG_COUNT; l++) {
            if (!d[i].name[l][0])
                continue;
            sk_pack_cstr(pk, k_lang[l]);
            sk_pack_cstr(pk, d[i].name[l]);
        }
    }
    return 0;
}

int sk_district_unpack(const uint8_t *p, size_t len, sk_district_def *out, size_t cap,
                       size_t *n_out)
{
    struct {
        uint32_t code;
        char slug[SK_DISTRICT_SLUG_MAX + 1];
        char prefix[SK_DISTRICT_PREFIX_MAX + 1];
    } seen[SK_DISTRICTS_MAX];
    sk_district_def d;
    sk_mp m;
    uint32_t count, fields, names;
    uint64_t code;
    int rc;

    sk_mp_init(&m, p, len);
    if ((rc = sk_mp_read_array(&m, &count)))
        return rc;
    if (count > SK_DISTRICTS_MAX || (out && count > cap))
        return -SK_E_TOO_LONG;
    for (uint32_t i = 0; i < count; i++) {
        memset(&d, 0, sizeof(d));
        if ((rc = sk_mp_read_array(&m, &fields)))
            return rc;
        if (fields < 4)
            return -SK_E_BAD_VALUE;
        if ((rc = sk_mp_read_uint_max(&m, SK_DISTRICT_CODE_MAX, &code)))
            return rc;
        d.code = (uint32_t)code;
        if ((rc = sk_mp_read_cstr(&m, d.slug, sizeof(d.slug))) ||
            (rc = sk_mp_read_cstr(&m, d.prefix, sizeof(d.prefix))) ||
            (rc = sk_mp_read_map(&m, &names)))
            return rc;
        if (names > 16)
            return -SK_E_TOO_LONG;
        for (uint32_t k = 0; k < names; k++) {
            char lang[16];
            if ((rc = sk_mp_read_cstr(&m, lang, sizeof(lang))))
                return rc;
            int l = sk_district_lang(lang);
            if (l < 0 || strcmp(lang, k_lang[l]) != 0) { /* a language without a slot */
                if ((rc = sk_mp_skip(&m)))
                    return rc;
                continue;
            }
            if (d.name[l][0])
                return -SK_E_BAD_VALUE; /* the same language twice */
            if ((rc = sk_mp_read_cstr(&m, d.name[l], sizeof(d.name[l]))))
                return rc;
        }
        for (uint32_t k = 4; k < fields; k++) /* fields a later version adds */
            if ((rc = sk_mp_skip(&m)))
                return rc;
        if (sk_district_check(&d, NULL, 0))
            return -SK_E_BAD_VALUE;
        for (uint32_t j = 0; j < i; j++)
            if (seen[j].code == d.code || strcmp(seen[j].slug, d.slug) == 0 ||
                strcmp(seen[j].prefix, d.prefix) == 0)
                return -SK_E_BAD_VALUE;
        seen[i].code = d.code;
        memcpy(seen[i].slug, d.slug, sizeof(d.slug));
        memcpy(seen[i].prefix, d.prefix, sizeof(d.prefix));
        if (out)
            out[i] = d;
    }
    if (!sk_mp_at_end(&m))
        return -SK_E_TRAILING;
    *n_out = count;
    return 0;
}

int sk_district_wire_prefix(const uint8_t *p, size_t len, uint32_t code,
                            char prefix_out[SK_DISTRICT_PREFIX_MAX + 1])
{
    sk_mp m;
    uint32_t count, fields;
    uint64_t c;
    char slug[SK_DISTRICT_SLUG_MAX + 1];
    int rc;

    sk_mp_init(&m, p, len);
    if ((rc = sk_mp_read_array(&m, &count)))
        return rc;
    for (uint32_t i = 0; i < count; i++) {
        if ((rc = sk_mp_read_array(&m, &fields)))
            return rc;
        if (fields < 4)
            return -SK_E_BAD_VALUE;
        if ((rc = sk_mp_read_uint_max(&m, SK_DISTRICT_CODE_MAX, &c)) ||
            (rc = sk_mp_read_cstr(&m, slug, sizeof(slug))) ||
            (rc = sk_mp_read_cstr(&m, prefix_out, SK_DISTRICT_PREFIX_MAX + 1)))
            return rc;
        if (c == code)
            return 0;
        for (uint32_t k = 3; k < fields; k++)
            if ((rc = sk_mp_skip(&m)))
                return rc;
    }
    prefix_out[0] = '\0';
    return -SK_E_NOT_FOUND;
}

const sk_district_def *sk_district_find(const sk_district_def *d, size_t n, uint32_t code)
{
    for (size_t i = 0; i < n; i++)
        if (d[i].code == code)
            return &d[i];
    return NULL;
}

const sk_district_def *sk_district_by_slug(const sk_district_def *d, size_t n, const char *slug)
{
    if (!slug)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        const char *a = d[i].slug;
        while (a[k] && slug[k] &&
               (a[k] == (slug[k] >= 'A' && slug[k] <= 'Z' ? slug[k] + 32 : slug[k])))
            k++;
        if (!a[k] && !slug[k])
            return &d[i];
    }
    return NULL;
}

const char *sk_district_name(const sk_district_def *d, const char *lang)
{
    int l = sk_district_lang(lang);
    if (l >= 0 && d->name[l][0])
        return d->name[l];
    return d->name[SK_DLANG_EN];
}
