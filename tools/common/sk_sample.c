/*
 * sk_sample.c - sample referrals as case-model changes, and records as named JSON
 * (contract in sk_sample.h; the field mapping is documented in docs/CASE-MODEL.md).
 *
 * It is the one place that knows the sample file's member names; everything after it speaks
 * case-model keys. It owns the changes it builds (released by sk_sample_free) and the JSON text
 * it returns. It never prints a referral's content and never writes to disk: callers decide
 * where output goes. Values it cannot map are an error naming the referral index and the member.
 */
#include "sk_sample.h"
#include "sk_text.h"

#include "sk_date.h"
#include "sk_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int emsg(char *errbuf, size_t cap, int rc, const char *fmt, ...)
{
    if (errbuf && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* ---- time --------------------------------------------------------------------------------- */

static int digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int sk_sample_parse_time(const char *s, uint64_t *ms_out)
{
    unsigned y, mo, d, h, mi, se, ms = 0;
    if (!s || strlen(s) < 20)
        return -SK_E_BAD_VALUE;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return -SK_E_BAD_VALUE;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        unsigned scale = 100, nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd++ < 3) {
                ms += (unsigned)(*p - '0') * scale;
                scale /= 10;
            }
            p++;
        }
        if (nd == 0)
            return -SK_E_BAD_VALUE;
    }
    int64_t off_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        unsigned oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -SK_E_BAD_VALUE;
        off_min = (int64_t)(oh * 60 + om) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -SK_E_BAD_VALUE;
    }
    if (*p || y < 1970 || !sk_date_valid(y, mo, d) || h > 23 || mi > 59 || se > 60)
        return -SK_E_BAD_VALUE;
    int64_t secs = sk_date_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
                   (se > 59 ? 59 : se) - off_min * 60;
    if (secs < 0)
        return -SK_E_BAD_VALUE;
    *ms_out = (uint64_t)secs * 1000 + ms;
    return 0;
}

void sk_sample_format_time(uint64_t ms, char out[32])
{
    if (ms > 253402300799999ull) /* after 9999-12-31: keep the text in 24 characters */
        ms = 253402300799999ull;
    int64_t secs = (int64_t)(ms / 1000);
    int64_t days = secs / 86400, rem = secs % 86400;
    int64_t y;
    unsigned m, d;
    sk_date_civil_from_days(days, &y, &m, &d);
    snprintf(out, 32, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", (int)(y % 10000), m % 13, d % 32,
             (unsigned)(rem / 3600) % 24, (unsigned)(rem / 60 % 60), (unsigned)(rem % 60),
             (unsigned)(ms % 1000));
}

/* ---- building values ---------------------------------------------------------------------- */

typedef struct mapper {
    sk_change *c;
    sk_buf b;
    msgpack_packer pk;
    size_t index;
    char *errbuf;
    size_t errcap;
} mapper;

static int commit_value(mapper *mp, uint32_t key)
{
    if (mp->b.oom)
        return -SK_E_NOMEM;
    int rc = sk_change_set(mp->c, key, mp->b.data, (uint32_t)mp->b.len);
    sk_buf_reset(&mp->b);
    return rc;
}

static int set_uint(mapper *mp, uint32_t key, uint64_t v)
{
    msgpack_pack_uint64(&mp->pk, v);
    return commit_value(mp, key);
}

static int set_bool(mapper *mp, uint32_t key, int v)
{
    sk_pack_bool(&mp->pk, v);
    return commit_value(mp, key);
}

static int set_str(mapper *mp, uint32_t key, const char *s, size_t n)
{
    sk_pack_str(&mp->pk, s, n);
    return commit_value(mp, key);
}

static int bad(mapper *mp, const char *member, const char *why)
{
    return emsg(mp->errbuf, mp->errcap, -SK_E_INVALID, "referral %zu: %s: %s", mp->index, member,
                why);
}

static const sk_json *member(const sk_json *o, const char *k)
{
    return sk_json_get(o, k);
}

/* Copy a string member into a field (absent or null: skipped unless required). */
static int map_str(mapper *mp, const sk_json *o, const char *k, const char *label, uint32_t key,
                   int required)
{
    const sk_json *v = member(o, k);
    if (!v || v->type == SK_JSON_NULL)
        return required ? bad(mp, label, "missing") : 0;
    if (v->type != SK_JSON_STRING)
        return bad(mp, label, "must be a string");
    if (key == SK_F_PHONE) { /* stored in one form, E.164, as a device's capture stores it */
        char e164[SK_PHONE_E164_MAX + 1];
        if (sk_phone_normalise(e164, v->str, v->len))
            return bad(mp, label, "not a phone number");
        return set_str(mp, key, e164, strlen(e164));
    }
    return set_str(mp, key, v->str, v->len);
}

static int map_enum(mapper *mp, const sk_json *o, const char *k, const char *label, uint32_t key,
                    sk_enum_id e, int required)
{
    const sk_json *v = member(o, k);
    if (!v || v->type == SK_JSON_NULL)
        return required ? bad(mp, label, "missing") : 0;
    if (v->type != SK_JSON_STRING)
        return bad(mp, label, "must be a string");
    uint32_t code = sk_enum_code(e, v->str);
    if (!code)
        return bad(mp, label, "unknown name");
    return set_uint(mp, key, code);
}

static int map_bool(mapper *mp, const sk_json *o, const char *k, const char *label, uint32_t key,
                    int *out)
{
    const sk_json *v = member(o, k);
    if (!v || v->type == SK_JSON_NULL)
        return 0;
    if (v->type != SK_JSON_BOOL)
        return bad(mp, label, "must be true or false");
    if (out)
        *out = v->boolean;
    return set_bool(mp, key, v->boolean);
}

static int map_uint(mapper *mp, const sk_json *o, const char *k, const char *label, uint32_t key)
{
    const sk_json *v = member(o, k);
    if (!v || v->type == SK_JSON_NULL)
        return 0;
    if (v->type != SK_JSON_NUMBER || !v->is_int || v->i < 0)
        return bad(mp, label, "must be a non-negative integer");
    return set_uint(mp, key, (uint64_t)v->i);
}

static int map_followups(mapper *mp, const sk_json *arr)
{
    if (!arr || arr->type == SK_JSON_NULL)
        return 0;
    if (arr->type != SK_JSON_ARRAY)
        return bad(mp, "follow_ups", "must be an array");
    for (size_t i = 0; i < arr->n; i++) {
        const sk_json *f = &arr->items[i];
        const char *id = sk_json_get_str(f, "id"), *at = sk_json_get_str(f, "at");
        const sk_json *by = member(f, "by"), *text = member(f, "text");
        sk_id eid;
        uint64_t ms;
        if (!id || sk_id_from_str(&eid, id) != 0)
            return bad(mp, "follow_ups.id", "must be a UUID");
        if (!at || sk_sample_parse_time(at, &ms) != 0)
            return bad(mp, "follow_ups.at", "must be an ISO-8601 time");
        if (!by || by->type != SK_JSON_STRING || !text || text->type != SK_JSON_STRING)
            return bad(mp, "follow_ups", "by and text must be strings");
        msgpack_pack_map(&mp->pk, 3);
        msgpack_pack_uint32(&mp->pk, SK_ENTRY_BY);
        sk_pack_str(&mp->pk, by->str, by->len);
        msgpack_pack_uint32(&mp->pk, SK_ENTRY_TEXT);
        sk_pack_str(&mp->pk, text->str, text->len);
        msgpack_pack_uint32(&mp->pk, SK_ENTRY_AT);
        msgpack_pack_uint64(&mp->pk, ms);
        if (mp->b.oom)
            return -SK_E_NOMEM;
        int rc =
            sk_change_add_entry(mp->c, &eid, SK_LIST_FOLLOWUP, mp->b.data, (uint32_t)mp->b.len);
        sk_buf_reset(&mp->b);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int map_ref(mapper *mp, sk_sample_ref *out, const sk_json *ref)
{
    int rc;
    if (!ref || ref->type != SK_JSON_OBJECT)
        return bad(mp, "referral", "must be an object");
    const sk_json *person = member(ref, "person"), *consent = member(ref, "consent");
    if (!person || person->type != SK_JSON_OBJECT)
        return bad(mp, "person", "must be an object");
    if (consent && consent->type != SK_JSON_OBJECT)
        return bad(mp, "consent", "must be an object");

    const char *id = sk_json_get_str(ref, "id");
    if (!id || sk_id_from_str(&mp->c->id, id) != 0)
        return bad(mp, "id", "must be a UUID");
    const char *created = sk_json_get_str(ref, "created_at");
    if (!created || sk_sample_parse_time(created, &out->created_ms) != 0)
        return bad(mp, "created_at", "must be an ISO-8601 time");
    mp->c->hlc = SK_HLC_MAKE(out->created_ms, 0);
    mp->c->base = 0;
    mp->c->kind = SK_CHANGE_UPSERT;

    const char *worker = sk_json_get_str(ref, "worker_id");
    const char *device = sk_json_get_str(ref, "device_id");
    if (!worker || strlen(worker) >= sizeof(out->worker) || !worker[0])
        return bad(mp, "worker_id", "must be a string of 1 to 64 bytes");
    if (device && strlen(device) >= sizeof(out->device))
        return bad(mp, "device_id", "longer than 64 bytes");
    snprintf(out->worker, sizeof(out->worker), "%s", worker);
    snprintf(out->device, sizeof(out->device), "%s", device ? device : "");

    const char *status = sk_json_get_str(ref, "status");
    out->status = status ? sk_enum_code(SK_ENUM_STATUS, status) : SK_STATUS_NEW;
    if (!out->status)
        return bad(mp, "status", "unknown name");

    int64_t schema = SK_SCHEMA_VERSION;
    if (member(ref, "schema_version") && sk_json_get_int(ref, "schema_version", &schema) != 0)
        return bad(mp, "schema_version", "must be an integer");
    if (schema < 1)
        return bad(mp, "schema_version", "must be at least 1");

    /* consent decides which identifying details may travel (docs/CASE-MODEL.md) */
    int share = 0;
    const sk_json *sv = consent ? member(consent, "share_with_centre") : NULL;
    if (!sv || sv->type != SK_JSON_BOOL)
        return bad(mp, "consent.share_with_centre", "must be true or false");
    share = sv->boolean;

    if ((rc = set_uint(mp, SK_F_SCHEMA, (uint64_t)schema)) ||
        (rc = set_uint(mp, SK_F_CREATED_AT, out->created_ms)) ||
        (rc = map_enum(mp, ref, "district", "district", SK_F_DISTRICT, SK_ENUM_DISTRICT, 1)) ||
        (rc = map_str(mp, ref, "block", "block", SK_F_BLOCK, 1)) ||
        (rc = map_str(mp, ref, "village", "village", SK_F_VILLAGE, 1)) ||
        (rc = map_enum(mp, ref, "taken_at", "taken_at", SK_F_TAKEN_AT, SK_ENUM_TAKEN_AT, 1)))
        return rc;

    if (share) {
        if ((rc = map_str(mp, person, "name", "person.name", SK_F_NAME, 1)) ||
            (rc = map_str(mp, person, "phone", "person.phone", SK_F_PHONE, 0)) ||
            (rc = map_str(mp, ref, "notes", "notes", SK_F_NOTES, 0)))
            return rc;
    } else if ((rc = set_str(mp, SK_F_NAME, "withheld", 8))) {
        return rc;
    }
    if ((rc = map_uint(mp, person, "age", "person.age", SK_F_AGE)) ||
        (rc = map_enum(mp, person, "age_band", "person.age_band", SK_F_AGE_BAND, SK_ENUM_AGE_BAND,
                       0)) ||
        (rc = map_bool(mp, person, "minor", "person.minor", SK_F_MINOR, NULL)) ||
        (rc = map_bool(mp, person, "safe_to_call", "person.safe_to_call", SK_F_SAFE_TO_CALL,
                       NULL)) ||
        (rc = map_enum(mp, person, "marital_status", "person.marital_status", SK_F_MARITAL,
                       SK_ENUM_MARITAL, 0)) ||
        (rc = map_uint(mp, person, "children", "person.children", SK_F_CHILDREN)))
        return rc;

    /* concerns */
    const sk_json *cs = member(ref, "concerns");
    if (!cs || cs->type != SK_JSON_ARRAY)
        return bad(mp, "concerns", "must be an array");
    msgpack_pack_array(&mp->pk, (uint32_t)cs->n);
    for (size_t i = 0; i < cs->n; i++) {
        uint32_t code = cs->items[i].type == SK_JSON_STRING
                            ? sk_enum_code(SK_ENUM_CONCERN, cs->items[i].str)
                            : 0;
        if (!code) {
            sk_buf_reset(&mp->b);
            return bad(mp, "concerns", "unknown name");
        }
        msgpack_pack_uint32(&mp->pk, code);
    }
    if ((rc = commit_value(mp, SK_F_CONCERNS)))
        return rc;
    if ((rc = map_str(mp, ref, "concern_other", "concern_other", SK_F_CONCERN_OTHER, 0)) ||
        (rc = map_enum(mp, ref, "urgency", "urgency", SK_F_URGENCY, SK_ENUM_URGENCY, 1)) ||
        (rc = map_enum(mp, ref, "referral_source", "referral_source", SK_F_SOURCE, SK_ENUM_SOURCE,
                       1)))
        return rc;

    /* services needed: one field per service, status needed */
    const sk_json *svc = member(ref, "services_needed");
    if (svc && svc->type != SK_JSON_NULL) {
        if (svc->type != SK_JSON_ARRAY)
            return bad(mp, "services_needed", "must be an array");
        for (size_t i = 0; i < svc->n; i++) {
            uint32_t code = svc->items[i].type == SK_JSON_STRING
                                ? sk_enum_code(SK_ENUM_SERVICE, svc->items[i].str)
                                : 0;
            if (!code)
                return bad(mp, "services_needed", "unknown name");
            if ((rc = set_uint(mp, SK_F_SERVICE_BASE + code, SK_SVC_NEEDED)))
                return rc;
        }
    }

    /* consent: recorded by the capturing worker at capture time */
    if ((rc = set_bool(mp, SK_F_CONSENT_SHARE, share)) ||
        (rc = map_bool(mp, consent, "contact", "consent.contact", SK_F_CONSENT_CONTACT, NULL)) ||
        (rc = set_str(mp, SK_F_CONSENT_BY, worker, strlen(worker))) ||
        (rc = set_uint(mp, SK_F_CONSENT_AT, out->created_ms)))
        return rc;

    if ((rc = set_uint(mp, SK_F_STATUS, SK_STATUS_NEW)))
        return rc;
    return map_followups(mp, member(ref, "follow_ups"));
}

int sk_sample_map(sk_sample_ref *out, const sk_json *ref, uint64_t op, char *errbuf, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    sk_change_init(&out->change);
    out->change.op = op;
    mapper mp = {&out->change, SK_BUF_INIT, {0}, op ? op - 1 : 0, errbuf, errcap};
    sk_packer_init(&mp.pk, &mp.b);
    int rc = map_ref(&mp, out, ref);
    if (rc == -SK_E_NOMEM)
        emsg(errbuf, errcap, rc, "referral %zu: out of memory", mp.index);
    else if (rc < 0 && errbuf && errcap && !errbuf[0])
        emsg(errbuf, errcap, rc, "referral %zu: %s", mp.index, sk_err_text(rc));
    sk_buf_free(&mp.b);
    if (rc < 0) {
        sk_change_free(&out->change);
        return rc;
    }
    return 0;
}

int sk_sample_captured(uint32_t key)
{
    return key != SK_F_DEVICE && key != SK_F_WORKER && key != SK_F_CASE_NO &&
           key != SK_F_CONSENT_BY && key != SK_F_CONSENT_AT;
}

void sk_sample_free(sk_sample *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        sk_change_free(&s->refs[i].change);
    free(s->refs);
    s->refs = NULL;
    s->n = 0;
}

int sk_sample_parse(sk_sample *out, const char *text, size_t len, char *errbuf, size_t errcap)
{
    sk_json *root = NULL;
    sk_json_error jerr;
    sk_sample s = {NULL, 0};
    int rc;
    if (errbuf && errcap)
        errbuf[0] = '\0';
    rc = sk_json_parse(&root, text, len, &jerr);
    if (rc) {
        emsg(errbuf, errcap, rc, "JSON at byte %zu: %s", jerr.offset, jerr.msg);
        goto out;
    }
    if (root->type != SK_JSON_ARRAY) {
        rc = emsg(errbuf, errcap, -SK_E_INVALID, "sample: top level must be an array");
        goto out;
    }
    if (root->n) {
        s.refs = calloc(root->n, sizeof(*s.refs));
        if (!s.refs) {
            rc = emsg(errbuf, errcap, -SK_E_NOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < root->n; i++) {
        if (errbuf && errcap)
            errbuf[0] = '\0';
        rc = sk_sample_map(&s.refs[i], &root->items[i], i + 1, errbuf, errcap);
        if (rc)
            goto out;
        s.n++;
    }
    *out = s;
    s.refs = NULL;
    s.n = 0;
    rc = 0;
out:
    sk_sample_free(&s);
    sk_json_free(root);
    return rc;
}

int sk_sample_load(sk_sample *out, const char *path, char *errbuf, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc;
    if (!f)
        return emsg(errbuf, errcap, -SK_E_NOT_FOUND, "cannot open the sample file");
    for (;;) {
        if (len == cap) {
            if (cap > ((size_t)64 << 20)) {
                rc = emsg(errbuf, errcap, -SK_E_TOO_LONG, "sample file larger than 64 MiB");
                goto out;
            }
            size_t nc = cap ? cap * 2 : 65536;
            char *t = realloc(text, nc);
            if (!t) {
                rc = emsg(errbuf, errcap, -SK_E_NOMEM, "out of memory");
                goto out;
            }
            text = t;
            cap = nc;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = emsg(errbuf, errcap, -SK_E_STORE_IO, "cannot read the sample file");
                goto out;
            }
            break;
        }
    }
    rc = sk_sample_parse(out, text ? text : "", len, errbuf, errcap);
out:
    free(text);
    fclose(f);
    return rc;
}

/* ---- record -> JSON ----------------------------------------------------------------------- */

/* Any MessagePack value as JSON (bin as hex text, map keys as text); depth-bounded. */
static int generic(sk_jw *w, sk_mp *m, int depth)
{
    const char *s;
    uint32_t n;
    uint64_t u;
    int64_t i;
    double d;
    int b;
    if (depth > 16)
        return sk_mp_fail(m, -SK_E_TOO_DEEP);
    switch (sk_mp_peek(m)) {
    case SK_MP_NIL: sk_jw_null(w); return sk_mp_read_nil(m);
    case SK_MP_BOOL:
        if (sk_mp_read_bool(m, &b))
            return m->err;
        sk_jw_bool(w, b);
        return 0;
    case SK_MP_UINT:
        if (sk_mp_read_uint(m, &u))
            return m->err;
        sk_jw_uint(w, u);
        return 0;
    case SK_MP_INT:
        if (sk_mp_read_int(m, &i))
            return m->err;
        sk_jw_int(w, i);
        return 0;
    case SK_MP_FLOAT:
        if (sk_mp_read_double(m, &d))
            return m->err;
        sk_jw_double(w, d);
        return 0;
    case SK_MP_STR:
        if (sk_mp_read_str(m, &s, &n))
            return m->err;
        sk_jw_str(w, s, n);
        return 0;
    case SK_MP_BIN: {
        const uint8_t *p;
        if (sk_mp_read_bin(m, &p, &n))
            return m->err;
        static const char hex[] = "0123456789abcdef";
        sk_buf t = SK_BUF_INIT;
        for (uint32_t k = 0; k < n; k++) {
            char h[2] = {hex[p[k] >> 4], hex[p[k] & 15]};
            sk_buf_append(&t, h, 2);
        }
        if (t.oom) {
            sk_buf_free(&t);
            return -SK_E_NOMEM;
        }
        sk_jw_str(w, (const char *)t.data, t.len);
        sk_buf_free(&t);
        return 0;
    }
    case SK_MP_ARRAY:
        if (sk_mp_read_array(m, &n))
            return m->err;
        sk_jw_arr_begin(w);
        for (uint32_t k = 0; k < n; k++)
            if (generic(w, m, depth + 1))
                return m->err ? m->err : -SK_E_BAD_FRAME;
        sk_jw_arr_end(w);
        return 0;
    case SK_MP_MAP:
        if (sk_mp_read_map(m, &n))
            return m->err;
        sk_jw_obj_begin(w);
        for (uint32_t k = 0; k < n; k++) {
            char key[32];
            if (sk_mp_peek(m) == SK_MP_UINT) {
                if (sk_mp_read_uint(m, &u))
                    return m->err;
                snprintf(key, sizeof(key), "%llu", (unsigned long long)u);
                sk_jw_key(w, key);
            } else if (sk_mp_peek(m) == SK_MP_STR) {
                if (sk_mp_read_str(m, &s, &n))
                    return m->err;
                sk_buf t = SK_BUF_INIT;
                sk_buf_append(&t, s, n);
                sk_buf_append(&t, "", 1);
                if (t.oom) {
                    sk_buf_free(&t);
                    return -SK_E_NOMEM;
                }
                sk_jw_key(w, (const char *)t.data);
                sk_buf_free(&t);
            } else {
                return sk_mp_fail(m, -SK_E_BAD_TYPE);
            }
            if (generic(w, m, depth + 1))
                return m->err ? m->err : -SK_E_BAD_FRAME;
        }
        sk_jw_obj_end(w);
        return 0;
    default: return sk_mp_fail(m, -SK_E_BAD_TYPE);
    }
}

static void write_code(sk_jw *w, int e, uint64_t code)
{
    const char *name = e >= 0 ? sk_enum_name((sk_enum_id)e, code) : NULL;
    if (name) {
        sk_jw_cstr(w, name);
    } else {
        char t[40];
        snprintf(t, sizeof(t), "unknown(%llu)", (unsigned long long)code);
        sk_jw_cstr(w, t);
    }
}

/* Render v with a scratch writer at depth 0 (no separators) into tmp; 0 if it rendered. */
static int render_enum_array(sk_buf *tmp, const sk_field_info *fi, const uint8_t *val, uint32_t len)
{
    sk_mp m;
    sk_jw tw;
    uint32_t n;
    uint64_t u;
    sk_mp_init(&m, val, len);
    sk_jw_init(&tw, tmp, 0);
    if (sk_mp_peek(&m) != SK_MP_ARRAY || sk_mp_read_array(&m, &n))
        return -1;
    sk_jw_arr_begin(&tw);
    for (uint32_t k = 0; k < n; k++) {
        if (sk_mp_peek(&m) != SK_MP_UINT || sk_mp_read_uint(&m, &u))
            return -1;
        write_code(&tw, fi->enumeration, u);
    }
    sk_jw_arr_end(&tw);
    return sk_mp_at_end(&m) && !tmp->oom ? 0 : -1;
}

static int render_generic(sk_buf *tmp, const uint8_t *val, uint32_t len)
{
    sk_mp m;
    sk_jw tw;
    sk_mp_init(&m, val, len);
    sk_jw_init(&tw, tmp, 0);
    if (generic(&tw, &m, 0) || !sk_mp_at_end(&m) || tmp->oom)
        return -1;
    return 0;
}

/* Typed rendering of a known field; falls back to the generic form when the type differs. */
static void write_field(sk_jw *w, const sk_field_info *fi, const uint8_t *val, uint32_t len)
{
    sk_mp m;
    uint64_t u;
    sk_mp_init(&m, val, len);
    if (fi && (fi->type == SK_FT_ENUM || fi->type == SK_FT_TIME) && sk_mp_peek(&m) == SK_MP_UINT &&
        sk_mp_read_uint(&m, &u) == 0 && sk_mp_at_end(&m)) {
        if (fi->type == SK_FT_ENUM) {
            write_code(w, fi->enumeration, u);
        } else {
            char t[32];
            sk_sample_format_time(u, t);
            sk_jw_cstr(w, t);
        }
        return;
    }
    sk_buf tmp = SK_BUF_INIT;
    int ok = fi && fi->type == SK_FT_ENUM_ARRAY && render_enum_array(&tmp, fi, val, len) == 0;
    if (!ok) {
        sk_buf_reset(&tmp);
        ok = render_generic(&tmp, val, len) == 0;
    }
    if (ok)
        sk_jw_raw(w, (const char *)tmp.data, tmp.len);
    else
        sk_jw_cstr(w, "(malformed)");
    sk_buf_free(&tmp);
}

static void write_entries(sk_jw *w, const sk_record *r, uint32_t list, const char *name)
{
    int any = 0;
    for (uint32_t i = 0; i < r->nentries; i++)
        any |= r->entries[i].list == list;
    if (!any)
        return;
    sk_jw_key(w, name);
    sk_jw_arr_begin(w);
    for (uint32_t i = 0; i < r->nentries; i++) {
        const sk_entry *e = &r->entries[i];
        if (e->list != list)
            continue;
        char id[37];
        sk_id_to_str(&e->id, id);
        sk_jw_obj_begin(w);
        sk_jw_kcstr(w, "id", id);
        sk_mp m;
        uint32_t pairs;
        sk_mp_init(&m, e->val, e->len);
        if (sk_mp_peek(&m) == SK_MP_MAP && sk_mp_read_map(&m, &pairs) == 0) {
            for (uint32_t k = 0; k < pairs; k++) {
                uint64_t key;
                const uint8_t *raw;
                size_t rl;
                if (sk_mp_read_uint(&m, &key) || sk_mp_raw(&m, &raw, &rl))
                    break;
                static const sk_field_info at_info = {0, "at", 0, SK_FT_TIME, -1};
                const char *kn = key == SK_ENTRY_BY     ? "by"
                                 : key == SK_ENTRY_TEXT ? "text"
                                 : key == SK_ENTRY_AT   ? "at"
                                                        : NULL;
                char kb[32];
                if (!kn) {
                    snprintf(kb, sizeof(kb), "%llu", (unsigned long long)key);
                    kn = kb;
                }
                sk_jw_key(w, kn);
                write_field(w, key == SK_ENTRY_AT ? &at_info : NULL, raw, (uint32_t)rl);
            }
        } else {
            sk_jw_key(w, "value");
            write_field(w, NULL, e->val, e->len);
        }
        sk_jw_obj_end(w);
    }
    sk_jw_arr_end(w);
}

char *sk_sample_to_json(const sk_record *r)
{
    sk_buf b = SK_BUF_INIT;
    sk_jw w;
    char id[37];
    if (!r)
        return NULL;
    sk_jw_init(&w, &b, 1);
    sk_id_to_str(&r->id, id);
    sk_jw_obj_begin(&w);
    sk_jw_kcstr(&w, "id", id);
    sk_jw_kuint(&w, "version", r->version);
    sk_jw_kuint(&w, "flags", r->flags);
    sk_jw_kuint(&w, "created", r->created);
    sk_jw_kuint(&w, "updated", r->updated);
    sk_jw_key(&w, "fields");
    sk_jw_obj_begin(&w);
    for (uint32_t i = 0; i < r->nfields; i++) {
        const sk_field *f = &r->fields[i];
        const sk_field_info *fi = sk_case_field_info(f->key);
        char kb[32];
        if (fi) {
            sk_jw_key(&w, fi->name);
        } else {
            snprintf(kb, sizeof(kb), "field.%u", (unsigned)f->key);
            sk_jw_key(&w, kb);
        }
        write_field(&w, fi, f->val, f->len);
    }
    sk_jw_obj_end(&w);
    write_entries(&w, r, SK_LIST_FOLLOWUP, "follow_ups");
    write_entries(&w, r, SK_LIST_CASENOTE, "case_notes");
    for (uint32_t i = 0; i < r->nentries; i++) {
        uint32_t l = r->entries[i].list;
        if (l != SK_LIST_FOLLOWUP && l != SK_LIST_CASENOTE) {
            char kb[32];
            snprintf(kb, sizeof(kb), "list.%u", (unsigned)l);
            int seen = 0;
            for (uint32_t j = 0; j < i; j++)
                seen |= r->entries[j].list == l;
            if (!seen)
                write_entries(&w, r, l, kb);
        }
    }
    sk_jw_obj_end(&w);
    sk_buf_append(&b, "\n", 1);
    sk_buf_append(&b, "", 1);
    if (b.oom) {
        sk_buf_free(&b);
        return NULL;
    }
    size_t len;
    return (char *)sk_buf_steal(&b, &len);
}
