/*
 * sk_case.c - the referral case model, schema version 1: field table, enumeration names,
 * validation, workflow and permissions (contract in sk_case.h, prose in docs/CASE-MODEL.md).
 *
 * This is the one place that knows what the generic record fields of sk_record.h mean. Server
 * (at push), client library (at capture) and tools call it, so a referral is judged the same way
 * everywhere. It reads the raw MessagePack values stored in records with the bounded sk_mp
 * cursor and never trusts them: any value may come from a newer schema or a hostile sender.
 * It owns nothing but static tables; it never does I/O, never logs, and never copies a field's
 * content into an error message (messages name the field and the rule, not the value).
 */
#include "sk_case.h"

#include "sk_err.h"
#include "sk_date.h"
#include "sk_district.h"
#include "sk_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- limits ------------------------------------------------------------------------------- */

#define LIM_NAME 128
#define LIM_PLACE 64
#define LIM_NOTES 4000
#define LIM_OTHER 200
#define LIM_WORKER 64
#define LIM_REASON 256
#define LIM_CASE_NO 32
#define LIM_AGE 120
#define LIM_CHILDREN 20
#define LIM_CONCERNS 8
#define LIM_ASSIGNED 16

/* ---- enumerations ------------------------------------------------------------------------- */

static const char *const k_district[] = {NULL, "leh", "kargil"};
static const char *const k_taken_at[] = {
    NULL, "home_visit", "anganwadi_centre", "health_centre", "police_station", "phone", "osc"};
static const char *const k_age_band[] = {NULL,    "under_12", "12_17",  "18_29",
                                         "30_44", "45_59",    "60_plus"};
static const char *const k_marital[] = {NULL,        "unmarried", "married",
                                        "separated", "divorced",  "widowed"};
static const char *const k_concern[] = {
    NULL,         "domestic_violence", "financial_abuse",      "cyber_bullying", "abandonment",
    "drug_abuse", "child_marriage",    "sexual_offence_minor", "other"};
static const char *const k_urgency[] = {NULL, "immediate_danger", "urgent", "routine"};
static const char *const k_service[] = {
    NULL, "legal_aid", "medical_assistance", "police_facilitation", "counselling", "shelter"};
static const char *const k_svc_status[] = {NULL,    "needed",   "in_progress",
                                           "given", "declined", "not_needed"};
static const char *const k_source[] = {NULL,       "self",      "helpline_181",          "police",
                                       "hospital", "court",     "government_department", "ngo",
                                       "family",   "community", "frontline_worker"};
static const char *const k_status[] = {NULL,         "new",    "received", "accepted",
                                       "in_service", "closed", "referred", "declined"};
static const char *const k_decline[] = {NULL, "duplicate", "outside_district", "not_osc_matter"};
static const char *const k_destination[] = {NULL,
                                            "police_station",
                                            "hospital",
                                            "court",
                                            "protection_officer",
                                            "legal_services_authority",
                                            "shelter_home",
                                            "ngo",
                                            "other_osc"};
static const char *const k_task_state[] = {NULL, "open", "done", "cancelled"};
static const char *const k_task_kind[] = {NULL, "manual", "urgent_waiting", "referral_visit",
                                          "shelter_ending"};

#define TABLE(t)                                                                                   \
    {                                                                                              \
        t, sizeof(t) / sizeof(t[0]) - 1                                                            \
    }
static const struct {
    const char *const *names;
    uint32_t max;
} k_enums[SK_ENUM_COUNT] = {
    [SK_ENUM_DISTRICT] = TABLE(k_district),      [SK_ENUM_TAKEN_AT] = TABLE(k_taken_at),
    [SK_ENUM_AGE_BAND] = TABLE(k_age_band),      [SK_ENUM_MARITAL] = TABLE(k_marital),
    [SK_ENUM_CONCERN] = TABLE(k_concern),        [SK_ENUM_URGENCY] = TABLE(k_urgency),
    [SK_ENUM_SERVICE] = TABLE(k_service),        [SK_ENUM_SERVICE_STATUS] = TABLE(k_svc_status),
    [SK_ENUM_SOURCE] = TABLE(k_source),          [SK_ENUM_STATUS] = TABLE(k_status),
    [SK_ENUM_DECLINE_REASON] = TABLE(k_decline), [SK_ENUM_DESTINATION] = TABLE(k_destination),
    [SK_ENUM_TASK_STATE] = TABLE(k_task_state),  [SK_ENUM_TASK_KIND] = TABLE(k_task_kind),
};

const char *sk_enum_name(sk_enum_id e, uint64_t code)
{
    if ((unsigned)e >= SK_ENUM_COUNT || code == 0 || code > k_enums[e].max)
        return NULL;
    return k_enums[e].names[code];
}

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

uint32_t sk_enum_code(sk_enum_id e, const char *name)
{
    if ((unsigned)e >= SK_ENUM_COUNT || !name)
        return 0;
    for (uint32_t code = 1; code <= k_enums[e].max; code++) {
        const char *a = k_enums[e].names[code], *b = name;
        while (*a && ascii_lower((unsigned char)*b) == *a) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return code;
    }
    return 0;
}

uint32_t sk_enum_max(sk_enum_id e)
{
    return (unsigned)e < SK_ENUM_COUNT ? k_enums[e].max : 0;
}

/* ---- fields ------------------------------------------------------------------------------- */

#define F(key, name, ident, type, en)                                                              \
    {                                                                                              \
        key, name, ident, type, en                                                                 \
    }
static const sk_field_info k_fields[] = {
    F(SK_F_SCHEMA, "schema", 0, SK_FT_UINT, -1),
    F(SK_F_CREATED_AT, "created_at", 0, SK_FT_TIME, -1),
    F(SK_F_DEVICE, "device", 0, SK_FT_UINT, -1),
    F(SK_F_WORKER, "worker", 0, SK_FT_STR, -1),
    F(SK_F_CASE_NO, "case_no", 0, SK_FT_STR, -1),
    F(SK_F_DISTRICT, "district", 0, SK_FT_ENUM, SK_ENUM_DISTRICT),
    F(SK_F_BLOCK, "block", 0, SK_FT_STR, -1),
    F(SK_F_VILLAGE, "village", 1, SK_FT_STR, -1),
    F(SK_F_TAKEN_AT, "taken_at", 0, SK_FT_ENUM, SK_ENUM_TAKEN_AT),
    F(SK_F_NAME, "name", 1, SK_FT_STR, -1),
    F(SK_F_AGE, "age", 0, SK_FT_UINT, -1),
    F(SK_F_AGE_BAND, "age_band", 0, SK_FT_ENUM, SK_ENUM_AGE_BAND),
    F(SK_F_MINOR, "minor", 0, SK_FT_BOOL, -1),
    F(SK_F_PHONE, "phone", 1, SK_FT_STR, -1),
    F(SK_F_SAFE_TO_CALL, "safe_to_call", 0, SK_FT_BOOL, -1),
    F(SK_F_MARITAL, "marital_status", 0, SK_FT_ENUM, SK_ENUM_MARITAL),
    F(SK_F_CHILDREN, "children", 0, SK_FT_UINT, -1),
    F(SK_F_CONCERNS, "concerns", 0, SK_FT_ENUM_ARRAY, SK_ENUM_CONCERN),
    F(SK_F_CONCERN_OTHER, "concern_other", 1, SK_FT_STR, -1),
    F(SK_F_URGENCY, "urgency", 0, SK_FT_ENUM, SK_ENUM_URGENCY),
    F(SK_F_SOURCE, "referral_source", 0, SK_FT_ENUM, SK_ENUM_SOURCE),
    F(SK_F_CONSENT_SHARE, "consent_share", 0, SK_FT_BOOL, -1),
    F(SK_F_CONSENT_CONTACT, "consent_contact", 0, SK_FT_BOOL, -1),
    F(SK_F_CONSENT_BY, "consent_by", 0, SK_FT_STR, -1),
    F(SK_F_CONSENT_AT, "consent_at", 0, SK_FT_TIME, -1),
    F(SK_F_STATUS, "status", 0, SK_FT_ENUM, SK_ENUM_STATUS),
    F(SK_F_STATUS_REASON, "status_reason", 0, SK_FT_STR, -1),
    F(SK_F_NOTES, "notes", 1, SK_FT_STR, -1),
    F(SK_F_ASSIGNED, "assigned_to", 0, SK_FT_STR_ARRAY, -1),
    F(SK_F_DOB, "dob", 1, SK_FT_STR, -1),
    F(SK_F_DECLINE_REASON, "decline_reason", 0, SK_FT_ENUM, SK_ENUM_DECLINE_REASON),
    F(SK_F_REFERRED_TO, "referred_to", 0, SK_FT_ENUM, SK_ENUM_DESTINATION),
    F(SK_F_REFERRED_TO_DETAIL, "referred_to_detail", 0, SK_FT_STR, -1),
    F(SK_F_CONSENT_OVERRIDE, "consent_override", 1, SK_FT_STR, -1),
    F(SK_F_OWNER, "owner", 0, SK_FT_STR, -1),
    F(SK_F_CLOSE_REQUESTED_BY, "close_requested_by", 0, SK_FT_STR, -1),
    F(SK_F_CLOSE_REQUEST_REASON, "close_request_reason", 0, SK_FT_STR, -1),
    F(SK_F_SHELTER_START, "shelter_start", 0, SK_FT_TIME, -1),
    F(SK_F_SHELTER_DAYS, "shelter_days", 0, SK_FT_UINT, -1),
    F(SK_F_SERVICE_LEGAL, "service.legal_aid", 0, SK_FT_ENUM, SK_ENUM_SERVICE_STATUS),
    F(SK_F_SERVICE_MEDICAL, "service.medical_assistance", 0, SK_FT_ENUM, SK_ENUM_SERVICE_STATUS),
    F(SK_F_SERVICE_POLICE, "service.police_facilitation", 0, SK_FT_ENUM, SK_ENUM_SERVICE_STATUS),
    F(SK_F_SERVICE_COUNSELLING, "service.counselling", 0, SK_FT_ENUM, SK_ENUM_SERVICE_STATUS),
    F(SK_F_SERVICE_SHELTER, "service.shelter", 0, SK_FT_ENUM, SK_ENUM_SERVICE_STATUS),
    F(SK_F_REVIEW_RESOLVED, "review_resolved", 0, SK_FT_TIME, -1),
};
#define NFIELDS (sizeof(k_fields) / sizeof(k_fields[0]))

const sk_field_info *sk_case_field_info(uint32_t key)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (k_fields[i].key == key)
            return &k_fields[i];
    return NULL;
}

const sk_field_info *sk_case_field_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < NFIELDS; i++)
        if (strcmp(k_fields[i].name, name) == 0)
            return &k_fields[i];
    return NULL;
}

static const char *fname(uint32_t key)
{
    const sk_field_info *fi = sk_case_field_info(key);
    return fi ? fi->name : "field";
}

/* ---- reading values ----------------------------------------------------------------------- */

/* Position a cursor on field key's value. 1 if present and not nil, 0 otherwise. */
static int field_cursor(const sk_record *r, uint32_t key, sk_mp *m)
{
    const sk_field *f = r ? sk_record_field(r, key) : NULL;
    if (!f || !f->val || f->len == 0)
        return 0;
    sk_mp_init(m, f->val, f->len);
    if (f->len == 1 && f->val[0] == 0xc0)
        return 0;
    return 1;
}

/* A value must be exactly one item of the expected type: read_rc is the reading of that item
 * from m; 0, or -SK_E_BAD_TYPE for anything else. */
static int whole_value(const sk_mp *m, int read_rc)
{
    return read_rc || !sk_mp_at_end(m) ? -SK_E_BAD_TYPE : 0;
}

static int read_uint_value(const uint8_t *p, size_t n, uint64_t *out)
{
    sk_mp m;
    sk_mp_init(&m, p, n);
    return whole_value(&m, sk_mp_read_uint(&m, out));
}

/* A cursor on field key's value: -SK_E_NOT_FOUND when the record has no such field. */
static int value_cursor(const sk_record *r, uint32_t key, sk_mp *m)
{
    const sk_field *f = r ? sk_record_field(r, key) : NULL;
    if (!f)
        return -SK_E_NOT_FOUND;
    sk_mp_init(m, f->val, f->len);
    return 0;
}

int sk_case_get_uint(const sk_record *r, uint32_t key, uint64_t *out)
{
    sk_mp m;
    uint64_t v;
    int rc = value_cursor(r, key, &m);
    if (rc == 0 && (rc = whole_value(&m, sk_mp_read_uint(&m, &v))) == 0)
        *out = v;
    return rc;
}

uint64_t sk_case_captured_ms(const sk_record *r)
{
    uint64_t t;
    if (sk_case_get_uint(r, SK_F_CREATED_AT, &t) == 0)
        return t;
    t = 0;
    for (int i = 0; i < 6; i++)
        t = (t << 8) | r->id.b[i];
    return t;
}

int sk_case_get_bool(const sk_record *r, uint32_t key, int *out)
{
    sk_mp m;
    int v;
    int rc = value_cursor(r, key, &m);
    if (rc == 0 && (rc = whole_value(&m, sk_mp_read_bool(&m, &v))) == 0)
        *out = v;
    return rc;
}

int sk_case_get_str(const sk_record *r, uint32_t key, char *out, size_t cap)
{
    sk_mp m;
    const char *s;
    uint32_t n;
    int rc = value_cursor(r, key, &m);
    if (rc || (rc = whole_value(&m, sk_mp_read_str(&m, &s, &n))))
        return rc;
    if (out && cap) {
        size_t k = n < cap - 1 ? n : cap - 1;
        memcpy(out, s, k);
        out[k] = '\0';
    }
    return 0;
}

/* Does the str value of key equal s exactly? */
static int str_field_eq(const sk_record *r, uint32_t key, const char *s)
{
    sk_mp m;
    const char *p;
    uint32_t n;
    if (!field_cursor(r, key, &m))
        return 0;
    if (whole_value(&m, sk_mp_read_str(&m, &p, &n)))
        return 0;
    return s && strlen(s) == n && memcmp(p, s, n) == 0;
}

/* Is worker among the strings of the array field key? */
static int str_array_contains(const sk_record *r, uint32_t key, const char *worker)
{
    sk_mp m;
    uint32_t count;
    if (!worker || !field_cursor(r, key, &m))
        return 0;
    if (sk_mp_read_array(&m, &count))
        return 0;
    size_t wl = strlen(worker);
    for (uint32_t i = 0; i < count; i++) {
        const char *p;
        uint32_t n;
        if (sk_mp_read_str(&m, &p, &n))
            return 0;
        if (n == wl && memcmp(p, worker, n) == 0)
            return 1;
    }
    return 0;
}

/* ---- validation --------------------------------------------------------------------------- */

int sk_case_fail(sk_case_error *err, int code, uint32_t field, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->field = field;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

#define INVALID(err, key, ...) sk_case_fail(err, -SK_E_INVALID, key, __VA_ARGS__)

/* Each checker: 0 when absent (*present = 0) or valid (*present = 1), else -SK_E_INVALID. */

/* A cursor on field key's value for a checker: 1 when present, 0 when absent (nil is absent)
 * and not required, -SK_E_INVALID when required and absent. */
static int check_open(const sk_record *r, uint32_t key, int required, sk_mp *m, sk_case_error *err)
{
    if (field_cursor(r, key, m))
        return 1;
    return required ? INVALID(err, key, "%s: is required", fname(key)) : 0;
}

/* Whether v is a code enumeration e accepts: one it names, or with SK_VALIDATE_KEEP_UNKNOWN in
 * flags any code but 0 (a newer schema's code is kept, never dropped). */
static int code_known(sk_enum_id e, uint64_t v, unsigned flags)
{
    return sk_enum_name(e, v) || ((flags & SK_VALIDATE_KEEP_UNKNOWN) && v != 0);
}

/* A uint field: in [lo, hi], or for an enumeration (e >= 0) a code e accepts (code_known). */
static int check_number(const sk_record *r, uint32_t key, int required, int e, unsigned flags,
                        uint64_t lo, uint64_t hi, uint64_t *out, int *present, sk_case_error *err)
{
    sk_mp m;
    uint64_t v;
    *present = 0;
    int rc = check_open(r, key, required, &m, err);
    if (rc <= 0)
        return rc;
    if (sk_mp_peek(&m) != SK_MP_UINT || sk_mp_read_uint(&m, &v) || !sk_mp_at_end(&m))
        return INVALID(err, key, "%s: must be %s", fname(key),
                       e < 0 ? "an unsigned integer" : "an unsigned integer code");
    if (e < 0 && (v < lo || v > hi))
        return INVALID(err, key, "%s: must be between %llu and %llu", fname(key),
                       (unsigned long long)lo, (unsigned long long)hi);
    if (e >= 0 && !code_known((sk_enum_id)e, v, flags))
        return INVALID(err, key, "%s: unknown code %llu", fname(key), (unsigned long long)v);
    *out = v;
    *present = 1;
    return 0;
}

static int check_uint(const sk_record *r, uint32_t key, uint64_t lo, uint64_t hi, int required,
                      uint64_t *out, int *present, sk_case_error *err)
{
    return check_number(r, key, required, -1, 0, lo, hi, out, present, err);
}

static int check_enum(const sk_record *r, uint32_t key, sk_enum_id e, int required, unsigned flags,
                      uint64_t *out, int *present, sk_case_error *err)
{
    return check_number(r, key, required, (int)e, flags, 0, 0, out, present, err);
}

static int check_bool(const sk_record *r, uint32_t key, int required, int *out, int *present,
                      sk_case_error *err)
{
    sk_mp m;
    int v;
    *present = 0;
    int rc = check_open(r, key, required, &m, err);
    if (rc <= 0)
        return rc;
    if (sk_mp_peek(&m) != SK_MP_BOOL || sk_mp_read_bool(&m, &v) || !sk_mp_at_end(&m))
        return INVALID(err, key, "%s: must be true or false", fname(key));
    *out = v;
    *present = 1;
    return 0;
}

/* Fields holding identifiers (worker ids, case numbers) whose limit is in bytes: they travel in
 * protocol fields limited in bytes. Every other text is limited in characters, so a name or a
 * note in Devanagari or Tibetan (3 bytes a character) gets as much room as one in English. */
static int limit_in_bytes(uint32_t key)
{
    return key == SK_F_WORKER || key == SK_F_CONSENT_BY || key == SK_F_CASE_NO;
}

/* A text value: UTF-8, 1..max characters (0..max when allow_empty; bytes for identifiers). A
 * text that must not be empty must not be blank either (white space only). */
static int check_text(const char *p, uint32_t n, uint32_t key, const char *what, size_t max,
                      int allow_empty, sk_case_error *err)
{
    long chars = sk_utf8_chars(p, n);
    if (chars < 0)
        return INVALID(err, key, "%s: must be valid UTF-8", what);
    if (n == 0 && !allow_empty)
        return INVALID(err, key, "%s: must not be empty", what);
    if (limit_in_bytes(key) ? n > max : (size_t)chars > max)
        return INVALID(err, key, "%s: longer than %zu %s", what, max,
                       limit_in_bytes(key) ? "bytes" : "characters");
    if (!allow_empty) {
        size_t start, len;
        sk_text_trim(p, n, &start, &len);
        if (len == 0)
            return INVALID(err, key, "%s: must not be blank", what);
    }
    return 0;
}

static int check_str(const sk_record *r, uint32_t key, size_t max, int required, int allow_empty,
                     const char **out, uint32_t *len_out, int *present, sk_case_error *err)
{
    sk_mp m;
    const char *p;
    uint32_t n;
    *present = 0;
    int rc = check_open(r, key, required, &m, err);
    if (rc <= 0)
        return rc;
    if (sk_mp_peek(&m) != SK_MP_STR || sk_mp_read_str(&m, &p, &n) || !sk_mp_at_end(&m))
        return INVALID(err, key, "%s: must be a string", fname(key));
    rc = check_text(p, n, key, fname(key), max, allow_empty, err);
    if (rc)
        return rc;
    if (out)
        *out = p;
    if (len_out)
        *len_out = n;
    *present = 1;
    return 0;
}

/* "LEH-2026-000123": the district's prefix (2 to 5 capital letters, sk_district.h), a 4-digit
 * year, at least 6 digits of serial. */
static int case_no_ok(const char *p, uint32_t n)
{
    uint32_t k = 0;
    while (k < n && k <= SK_DISTRICT_PREFIX_MAX && p[k] >= 'A' && p[k] <= 'Z')
        k++;
    if (k < 2 || k > SK_DISTRICT_PREFIX_MAX || n < k + 12 || n > LIM_CASE_NO || p[k] != '-')
        return 0;
    for (uint32_t i = k + 1; i < n; i++) {
        int digit = p[i] >= '0' && p[i] <= '9';
        if (i == k + 5 ? p[i] != '-' : !digit)
            return 0;
    }
    return 1;
}

static int check_concerns(const sk_record *r, unsigned flags, int *has_other, int *has_pocso,
                          int *has_child_marriage, sk_case_error *err)
{
    sk_mp m;
    uint32_t count;
    uint64_t seen[LIM_CONCERNS];
    *has_other = *has_pocso = *has_child_marriage = 0;
    if (!field_cursor(r, SK_F_CONCERNS, &m))
        return INVALID(err, SK_F_CONCERNS, "concerns: is required");
    if (sk_mp_peek(&m) != SK_MP_ARRAY || sk_mp_read_array(&m, &count))
        return INVALID(err, SK_F_CONCERNS, "concerns: must be an array of codes");
    if (count < 1 || count > LIM_CONCERNS)
        return INVALID(err, SK_F_CONCERNS, "concerns: must list 1 to %d concerns", LIM_CONCERNS);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t v;
        if (sk_mp_peek(&m) != SK_MP_UINT || sk_mp_read_uint(&m, &v))
            return INVALID(err, SK_F_CONCERNS, "concerns: must be an array of codes");
        if (!code_known(SK_ENUM_CONCERN, v, flags))
            return INVALID(err, SK_F_CONCERNS, "concerns: unknown code %llu",
                           (unsigned long long)v);
        for (uint32_t j = 0; j < i; j++)
            if (seen[j] == v)
                return INVALID(err, SK_F_CONCERNS, "concerns: code %llu listed twice",
                               (unsigned long long)v);
        seen[i] = v;
        *has_other |= v == SK_CONCERN_OTHER;
        *has_pocso |= v == SK_CONCERN_POCSO;
        *has_child_marriage |= v == SK_CONCERN_CHILD_MARRIAGE;
    }
    if (!sk_mp_at_end(&m))
        return INVALID(err, SK_F_CONCERNS, "concerns: must be an array of codes");
    return 0;
}

static int check_assigned(const sk_record *r, sk_case_error *err)
{
    sk_mp m;
    uint32_t count;
    if (!field_cursor(r, SK_F_ASSIGNED, &m))
        return 0;
    if (sk_mp_peek(&m) != SK_MP_ARRAY || sk_mp_read_array(&m, &count))
        return INVALID(err, SK_F_ASSIGNED, "assigned_to: must be an array of worker ids");
    if (count > LIM_ASSIGNED)
        return INVALID(err, SK_F_ASSIGNED, "assigned_to: at most %d workers", LIM_ASSIGNED);
    for (uint32_t i = 0; i < count; i++) {
        const char *p;
        uint32_t n;
        if (sk_mp_peek(&m) != SK_MP_STR || sk_mp_read_str(&m, &p, &n))
            return INVALID(err, SK_F_ASSIGNED, "assigned_to: must be an array of worker ids");
        if (n == 0 || n > LIM_WORKER || sk_utf8_chars(p, n) < 0)
            return INVALID(err, SK_F_ASSIGNED, "assigned_to: worker id must be 1 to %d bytes",
                           LIM_WORKER);
    }
    if (!sk_mp_at_end(&m))
        return INVALID(err, SK_F_ASSIGNED, "assigned_to: must be an array of worker ids");
    return 0;
}

static const char *list_name(uint32_t list)
{
    switch (list) {
    case SK_LIST_CASENOTE: return "case_note";
    case SK_LIST_TASK: return "task";
    case SK_LIST_TASK_UPDATE: return "task_update";
    default: return "follow_up";
    }
}

/* One entry value, decoded (strings point into the value bytes). */
typedef struct entry_val {
    const char *by, *text, *for_w;
    uint32_t by_len, text_len, for_len;
    uint64_t at, due, kind, state;
    int has_by, has_text, has_at, has_for, has_due, has_kind, has_task, has_state;
    sk_id task;
} entry_val;

/* An entry member, which may appear only once, read as a string (member_str) or an unsigned
 * integer (member_uint): nonzero when it appeared before or has another type. */
static int member_str(sk_mp *m, int *has, const char **p, uint32_t *n)
{
    return (*has)++ || sk_mp_peek(m) != SK_MP_STR || sk_mp_read_str(m, p, n);
}

static int member_uint(sk_mp *m, int *has, uint64_t *out)
{
    return (*has)++ || sk_mp_peek(m) != SK_MP_UINT || sk_mp_read_uint(m, out);
}

/* Decode and check an entry of a known list. Follow-ups and case notes: {1 by, 2 text, 3 at};
 * tasks add {4 for, 5 due, 6 kind}; task updates are {1 by, 3 at, 7 task, 8 state} with an
 * optional note in 2. Other keys are skipped (newer schema). flags: SK_VALIDATE_KEEP_UNKNOWN
 * accepts an unknown kind or state code. */
static int decode_entry(uint32_t list, const uint8_t *val, uint32_t len, unsigned flags,
                        entry_val *ev, sk_case_error *err)
{
    const char *what = list_name(list);
    sk_mp m;
    uint32_t pairs;
    memset(ev, 0, sizeof(*ev));
    sk_mp_init(&m, val, len);
    if (sk_mp_peek(&m) != SK_MP_MAP || sk_mp_read_map(&m, &pairs))
        return INVALID(err, 0, "%s: must be a map", what);
    for (uint32_t i = 0; i < pairs; i++) {
        uint64_t k;
        if (sk_mp_peek(&m) != SK_MP_UINT || sk_mp_read_uint(&m, &k))
            return INVALID(err, 0, "%s: keys must be unsigned integers", what);
        const char *p;
        uint32_t n;
        int is_task = list == SK_LIST_TASK, is_upd = list == SK_LIST_TASK_UPDATE;
        switch (k) {
        case SK_ENTRY_BY:
            if (member_str(&m, &ev->has_by, &p, &n))
                return INVALID(err, 0, "%s: by must be a string", what);
            if (n == 0 || n > LIM_WORKER || sk_utf8_chars(p, n) < 0)
                return INVALID(err, 0, "%s: by must be 1 to %d bytes", what, LIM_WORKER);
            ev->by = p, ev->by_len = n;
            break;
        case SK_ENTRY_TEXT:
            if (member_str(&m, &ev->has_text, &p, &n))
                return INVALID(err, 0, "%s: text must be a string", what);
            if (sk_utf8_chars(p, n) < 0)
                return INVALID(err, 0, "%s: text must be valid UTF-8", what);
            if (n == 0)
                return INVALID(err, 0, "%s: text must not be empty", what);
            if (sk_utf8_chars(p, n) > LIM_NOTES)
                return INVALID(err, 0, "%s: text longer than %d characters", what, LIM_NOTES);
            ev->text = p, ev->text_len = n;
            break;
        case SK_ENTRY_AT:
            if (member_uint(&m, &ev->has_at, &ev->at))
                return INVALID(err, 0, "%s: at must be an unsigned integer", what);
            break;
        case SK_ENTRY_FOR:
            if (!is_task)
                goto skip;
            if (member_str(&m, &ev->has_for, &p, &n))
                return INVALID(err, 0, "task: for must be a string");
            if (n == 0 || n > LIM_WORKER || sk_utf8_chars(p, n) < 0)
                return INVALID(err, 0, "task: for must be 1 to %d bytes", LIM_WORKER);
            ev->for_w = p, ev->for_len = n;
            break;
        case SK_ENTRY_DUE:
            if (!is_task)
                goto skip;
            if (member_uint(&m, &ev->has_due, &ev->due))
                return INVALID(err, 0, "task: due must be an unsigned integer");
            break;
        case SK_ENTRY_KIND:
            if (!is_task)
                goto skip;
            if (member_uint(&m, &ev->has_kind, &ev->kind))
                return INVALID(err, 0, "task: kind must be an unsigned integer code");
            if (!code_known(SK_ENUM_TASK_KIND, ev->kind, flags))
                return INVALID(err, 0, "task: unknown kind %llu", (unsigned long long)ev->kind);
            break;
        case SK_ENTRY_TASK:
            if (!is_upd)
                goto skip;
            if (ev->has_task++ || sk_mp_peek(&m) != SK_MP_BIN ||
                sk_mp_read_bin_exact(&m, ev->task.b, 16))
                return INVALID(err, 0, "task_update: task must be a 16-byte task id");
            break;
        case SK_ENTRY_STATE:
            if (!is_upd)
                goto skip;
            if (member_uint(&m, &ev->has_state, &ev->state))
                return INVALID(err, 0, "task_update: state must be an unsigned integer code");
            if (!code_known(SK_ENUM_TASK_STATE, ev->state, flags))
                return INVALID(err, 0, "task_update: unknown state %llu",
                               (unsigned long long)ev->state);
            break;
        default:
        skip:
            if (sk_mp_skip(&m))
                return INVALID(err, 0, "%s: malformed value", what);
        }
    }
    if (!sk_mp_at_end(&m))
        return INVALID(err, 0, "%s: malformed value", what);
    if (!ev->has_by)
        return INVALID(err, 0, "%s: by is required", what);
    if (!ev->has_text && list != SK_LIST_TASK_UPDATE)
        return INVALID(err, 0, "%s: text is required", what);
    if (!ev->has_at)
        return INVALID(err, 0, "%s: at is required", what);
    if (list == SK_LIST_TASK) {
        if (!ev->has_for)
            return INVALID(err, 0, "task: for is required");
        if (!ev->has_due)
            return INVALID(err, 0, "task: due is required");
        if (!ev->has_kind)
            ev->kind = SK_TASK_MANUAL;
    }
    if (list == SK_LIST_TASK_UPDATE) {
        if (!ev->has_task)
            return INVALID(err, 0, "task_update: task is required");
        if (!ev->has_state)
            return INVALID(err, 0, "task_update: state is required");
    }
    return 0;
}

static int check_entry_value(uint32_t list, const uint8_t *val, uint32_t len, unsigned flags,
                             sk_case_error *err)
{
    entry_val ev;
    return decode_entry(list, val, len, flags, &ev, err);
}

/* The task entry with id in r, or NULL. */
static const sk_entry *find_task(const sk_record *r, const sk_id *id)
{
    for (uint32_t i = 0; r && i < r->nentries; i++)
        if (r->entries[i].list == SK_LIST_TASK && sk_id_cmp(&r->entries[i].id, id) == 0)
            return &r->entries[i];
    return NULL;
}

/* ---- dates -------------------------------------------------------------------------------- */

/* Parse "YYYY-MM-DD" (a real date, year 1900..9999). 0 or -1. */
static int parse_date(const char *s, size_t n, int64_t *y, unsigned *m, unsigned *d)
{
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (size_t i = 0; i < n; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int64_t yy = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned mm = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned dd = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (yy < 1900 || !sk_date_valid(yy, mm, dd))
        return -1;
    *y = yy, *m = mm, *d = dd;
    return 0;
}

int sk_case_age_from_dob(const char *dob, size_t len, uint64_t ms)
{
    int64_t by, y;
    unsigned bm, bd, m, d;
    if (!dob || parse_date(dob, len, &by, &bm, &bd))
        return -1;
    sk_date_civil_from_days((int64_t)(ms / 86400000u), &y, &m, &d);
    if (sk_date_days_from_civil(by, bm, bd) > (int64_t)(ms / 86400000u))
        return -1;
    int64_t age = y - by - ((m < bm || (m == bm && d < bd)) ? 1 : 0);
    return age > 200 ? -1 : (int)age;
}

/* Which age bands are under 18, and the band an age falls in. */
static int band_is_minor(uint64_t band)
{
    return band == SK_AGE_UNDER_12 || band == SK_AGE_12_17;
}

static uint64_t band_of_age(uint64_t age)
{
    if (age < 12)
        return SK_AGE_UNDER_12;
    if (age < 18)
        return SK_AGE_12_17;
    if (age < 30)
        return SK_AGE_18_29;
    if (age < 45)
        return SK_AGE_30_44;
    if (age < 60)
        return SK_AGE_45_59;
    return SK_AGE_60_PLUS;
}

uint32_t sk_case_age_band_of(uint64_t age)
{
    return (uint32_t)band_of_age(age);
}

int sk_case_validate_flags(const sk_record *r, unsigned flags, sk_case_error *err)
{
    uint64_t u, age = 0, band = 0, status = 0;
    int b, minor = 0, consent = 0;
    int p_age, p_band, p_minor, p_consent, p, p_status;
    const char *s;
    uint32_t n;

    if (err) {
        err->code = 0;
        err->field = 0;
        err->msg[0] = '\0';
    }
    if (!r)
        return INVALID(err, 0, "record: missing");
    if (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0; /* a tombstone has no content to judge */

    /* identity (server-set fields are optional until the server has set them) */
    SK_TRY(check_uint(r, SK_F_SCHEMA, 1, UINT32_MAX, 0, &u, &p, err));
    SK_TRY(check_uint(r, SK_F_CREATED_AT, 0, UINT64_MAX, 0, &u, &p, err));
    SK_TRY(check_uint(r, SK_F_DEVICE, 0, UINT64_MAX, 0, &u, &p, err));
    SK_TRY(check_str(r, SK_F_WORKER, LIM_WORKER, 0, 0, NULL, NULL, &p, err));

    /* where */
    /* The centre's districts are data (sk_district.h, sent in WELCOME): any code in range is a
     * well-formed district here; the server checks it against its list. */
    SK_TRY(check_enum(r, SK_F_DISTRICT, SK_ENUM_DISTRICT, 1, flags | SK_VALIDATE_KEEP_UNKNOWN, &u,
                      &p, err));
    if (u > SK_DISTRICT_CODE_MAX)
        return INVALID(err, SK_F_DISTRICT, "district: unknown code %llu", (unsigned long long)u);
    SK_TRY(check_str(r, SK_F_BLOCK, LIM_PLACE, 1, 0, NULL, NULL, &p, err));
    SK_TRY(check_str(r, SK_F_VILLAGE, LIM_PLACE, 1, 0, NULL, NULL, &p, err));
    SK_TRY(check_enum(r, SK_F_TAKEN_AT, SK_ENUM_TAKEN_AT, 1, flags, &u, &p, err));

    /* consent first: it decides which identifying details may be present */
    SK_TRY(check_bool(r, SK_F_CONSENT_SHARE, 1, &consent, &p_consent, err));
    SK_TRY(check_bool(r, SK_F_CONSENT_CONTACT, 0, &b, &p, err));
    SK_TRY(check_str(r, SK_F_CONSENT_BY, LIM_WORKER, 0, 0, NULL, NULL, &p, err));
    if (consent && !p)
        return INVALID(err, SK_F_CONSENT_BY, "consent_by: is required when consent_share is true");
    SK_TRY(check_uint(r, SK_F_CONSENT_AT, 0, UINT64_MAX, 0, &u, &p, err));
    if (consent && !p)
        return INVALID(err, SK_F_CONSENT_AT, "consent_at: is required when consent_share is true");

    /* the person */
    SK_TRY(check_str(r, SK_F_NAME, LIM_NAME, 1, 0, &s, &n, &p, err));
    if (!consent && !(n == 8 && memcmp(s, "withheld", 8) == 0))
        return INVALID(err, SK_F_NAME, "name: must be \"withheld\" without consent to share");
    SK_TRY(check_uint(r, SK_F_AGE, 0, LIM_AGE, 0, &age, &p_age, err));
    SK_TRY(check_enum(r, SK_F_AGE_BAND, SK_ENUM_AGE_BAND, 0, flags, &band, &p_band, err));
    int p_dob, dob_age = -1;
    SK_TRY(check_str(r, SK_F_DOB, 10, 0, 0, &s, &n, &p_dob, err));
    if (p_dob) {
        int64_t yy;
        unsigned mm, dd;
        uint64_t at;
        if (parse_date(s, n, &yy, &mm, &dd))
            return INVALID(err, SK_F_DOB, "dob: must be a date like 1990-04-23");
        if (sk_case_get_uint(r, SK_F_CREATED_AT, &at) == 0) {
            dob_age = sk_case_age_from_dob(s, n, at);
            if (dob_age < 0 || dob_age > LIM_AGE)
                return INVALID(err, SK_F_DOB, "dob: must be a date before the capture");
        }
    }
    if (!p_age && !p_band && !p_dob)
        return INVALID(err, SK_F_AGE, "age: age or age_band is required");
    if (p_age && dob_age >= 0 && (uint64_t)dob_age != age)
        return INVALID(err, SK_F_AGE, "age: does not agree with dob");
    if (p_age && p_band && sk_enum_name(SK_ENUM_AGE_BAND, band) && band_of_age(age) != band)
        return INVALID(err, SK_F_AGE_BAND, "age_band: does not agree with age");
    SK_TRY(check_bool(r, SK_F_MINOR, 0, &minor, &p_minor, err));
    if (p_minor && p_age && minor != (age < 18))
        return INVALID(err, SK_F_MINOR, "minor: does not agree with age");
    if (p_minor && p_band && sk_enum_name(SK_ENUM_AGE_BAND, band) && minor != band_is_minor(band))
        return INVALID(err, SK_F_MINOR, "minor: does not agree with age_band");
    if (p_minor && dob_age >= 0 && minor != (dob_age < 18))
        return INVALID(err, SK_F_MINOR, "minor: does not agree with dob");
    if (p_band && dob_age >= 0 && sk_enum_name(SK_ENUM_AGE_BAND, band) &&
        band_of_age((uint64_t)dob_age) != band)
        return INVALID(err, SK_F_AGE_BAND, "age_band: does not agree with dob");
    {
        sk_mp m;
        if (field_cursor(r, SK_F_PHONE, &m)) {
            if (!consent)
                return INVALID(err, SK_F_PHONE, "phone: not allowed without consent to share");
            SK_TRY(check_str(r, SK_F_PHONE, LIM_PLACE, 0, 0, &s, &n, &p, err));
            /* stored as E.164 by this library; a client that predates it (protocol 1.0, and
             * the annotated session of PROTOCOL.md section 11) sends the number as typed,
             * which is kept as sent when it reads as a phone number */
            char e164[SK_PHONE_E164_MAX + 1];
            if (!sk_phone_is_e164(s, n) && sk_phone_normalise(e164, s, n) != 0)
                return INVALID(err, SK_F_PHONE,
                               "phone: not a phone number (10 digits, or with 0, "
                               "+91 or another country code in front)");
        }
    }
    SK_TRY(check_bool(r, SK_F_SAFE_TO_CALL, 0, &b, &p, err));
    SK_TRY(check_enum(r, SK_F_MARITAL, SK_ENUM_MARITAL, 0, flags, &u, &p, err));
    SK_TRY(check_uint(r, SK_F_CHILDREN, 0, LIM_CHILDREN, 0, &u, &p, err));

    /* concerns */
    int has_other, has_pocso, has_cm;
    SK_TRY(check_concerns(r, flags, &has_other, &has_pocso, &has_cm, err));
    (void)has_cm;
    SK_TRY(check_str(r, SK_F_CONCERN_OTHER, LIM_OTHER, 0, 0, NULL, NULL, &p, err));
    if (has_other && !p)
        return INVALID(err, SK_F_CONCERN_OTHER,
                       "concern_other: is required when concerns lists other");
    if (!has_other && p)
        return INVALID(err, SK_F_CONCERN_OTHER,
                       "concern_other: only allowed when concerns lists other");
    if (has_pocso && !(p_minor && minor))
        return INVALID(err, SK_F_MINOR,
                       "minor: must be true when concerns lists sexual_offence_minor");
    SK_TRY(check_enum(r, SK_F_URGENCY, SK_ENUM_URGENCY, 1, flags, &u, &p, err));
    SK_TRY(check_enum(r, SK_F_SOURCE, SK_ENUM_SOURCE, 1, flags, &u, &p, err));

    /* services */
    for (uint32_t k = SK_F_SERVICE_LEGAL; k <= SK_F_SERVICE_SHELTER; k++)
        SK_TRY(check_enum(r, k, SK_ENUM_SERVICE_STATUS, 0, flags, &u, &p, err));

    /* notes */
    SK_TRY(check_str(r, SK_F_NOTES, LIM_NOTES, 0, 1, NULL, NULL, &p, err));
    if (p && !consent)
        return INVALID(err, SK_F_NOTES, "notes: not allowed without consent to share");

    /* workflow */
    SK_TRY(check_enum(r, SK_F_STATUS, SK_ENUM_STATUS, 1, flags, &status, &p_status, err));
    SK_TRY(check_str(r, SK_F_CASE_NO, LIM_CASE_NO, 0, 0, &s, &n, &p, err));
    if (p && !case_no_ok(s, n))
        return INVALID(err, SK_F_CASE_NO, "case_no: must look like LEH-2026-000123");
    if (!p && status >= SK_STATUS_ACCEPTED && status <= SK_STATUS_REFERRED)
        return INVALID(err, SK_F_CASE_NO, "case_no: is required once the case is accepted");
    SK_TRY(check_str(r, SK_F_STATUS_REASON, LIM_REASON, 0, 0, NULL, NULL, &p, err));
    if (!p && (status == SK_STATUS_CLOSED || status == SK_STATUS_REFERRED))
        return INVALID(err, SK_F_STATUS_REASON,
                       "status_reason: is required when status is closed or referred");
    SK_TRY(check_assigned(r, err));

    /* casework: decline, referral onward, owner, closure request, shelter, review */
    SK_TRY(check_enum(r, SK_F_DECLINE_REASON, SK_ENUM_DECLINE_REASON, 0, flags, &u, &p, err));
    if (!p && status == SK_STATUS_DECLINED)
        return INVALID(err, SK_F_DECLINE_REASON,
                       "decline_reason: is required when status is declined");
    SK_TRY(check_enum(r, SK_F_REFERRED_TO, SK_ENUM_DESTINATION, 0, flags, &u, &p, err));
    SK_TRY(check_str(r, SK_F_REFERRED_TO_DETAIL, LIM_OTHER, 0, 0, NULL, NULL, &p, err));
    SK_TRY(check_str(r, SK_F_CONSENT_OVERRIDE, LIM_REASON, 0, 0, NULL, NULL, &p, err));
    SK_TRY(check_str(r, SK_F_OWNER, LIM_WORKER, 0, 0, NULL, NULL, &p, err));
    int p_req;
    SK_TRY(check_str(r, SK_F_CLOSE_REQUESTED_BY, LIM_WORKER, 0, 0, NULL, NULL, &p_req, err));
    SK_TRY(check_str(r, SK_F_CLOSE_REQUEST_REASON, LIM_REASON, 0, 0, NULL, NULL, &p, err));
    if (p_req && !p)
        return INVALID(err, SK_F_CLOSE_REQUEST_REASON,
                       "close_request_reason: is required with close_requested_by");
    int p_start;
    SK_TRY(check_uint(r, SK_F_SHELTER_START, 0, UINT64_MAX, 0, &u, &p_start, err));
    SK_TRY(check_uint(r, SK_F_SHELTER_DAYS, 1, SK_SHELTER_DAYS_MAX, 0, &u, &p, err));
    if (p != p_start)
        return INVALID(err, p ? SK_F_SHELTER_START : SK_F_SHELTER_DAYS,
                       "shelter_days: shelter_start and shelter_days go together");
    SK_TRY(check_uint(r, SK_F_REVIEW_RESOLVED, 0, UINT64_MAX, 0, &u, &p, err));

    /* entries: known lists are checked; entries of unknown lists are a newer schema's */
    for (uint32_t i = 0; i < r->nentries; i++) {
        const sk_entry *e = &r->entries[i];
        if (e->list == SK_LIST_FOLLOWUP || e->list == SK_LIST_CASENOTE || e->list == SK_LIST_TASK)
            SK_TRY(check_entry_value(e->list, e->val, e->len, flags, err));
        if (e->list == SK_LIST_TASK_UPDATE) {
            entry_val ev;
            SK_TRY(decode_entry(e->list, e->val, e->len, flags, &ev, err));
            if (!find_task(r, &ev.task))
                return INVALID(err, 0, "task_update: no such task on this case");
        }
    }
    (void)p_consent;
    (void)p_status;
    return 0;
}

int sk_case_validate(const sk_record *r, sk_case_error *err)
{
    return sk_case_validate_flags(r, 0, err);
}

/* ---- minors, visibility, redaction -------------------------------------------------------- */

int sk_case_is_minor(const sk_record *r)
{
    uint64_t u;
    int b;
    sk_mp m;
    uint32_t count;
    if (sk_case_get_bool(r, SK_F_MINOR, &b) == 0 && b)
        return 1;
    if (sk_case_get_uint(r, SK_F_AGE, &u) == 0 && u < 18)
        return 1;
    if (sk_case_get_uint(r, SK_F_AGE_BAND, &u) == 0 && band_is_minor(u))
        return 1;
    if (field_cursor(r, SK_F_CONCERNS, &m) && sk_mp_read_array(&m, &count) == 0) {
        for (uint32_t i = 0; i < count; i++) {
            if (sk_mp_peek(&m) != SK_MP_UINT) {
                if (sk_mp_skip(&m))
                    break;
                continue;
            }
            if (sk_mp_read_uint(&m, &u))
                break;
            if (u == SK_CONCERN_POCSO || u == SK_CONCERN_CHILD_MARRIAGE)
                return 1;
        }
    }
    return 0;
}

static int is_staff(const sk_actor *a)
{
    return a && (a->role == SK_ROLE_STAFF || a->role == SK_ROLE_ADMIN);
}

static int owns(const sk_actor *a, const sk_record *r)
{
    return a->worker && a->worker[0] && str_field_eq(r, SK_F_WORKER, a->worker);
}

static int assigned(const sk_actor *a, const sk_record *r)
{
    return a->worker && a->worker[0] && str_array_contains(r, SK_F_ASSIGNED, a->worker);
}

/* Staff limited to a district see a record of that district only; a record without a readable
 * district is outside every district (only unrestricted staff and admins see it). */
static int in_district(const sk_actor *a, const sk_record *r)
{
    uint64_t d;
    if (a->role == SK_ROLE_ADMIN || a->district == 0)
        return 1;
    return sk_case_get_uint(r, SK_F_DISTRICT, &d) == 0 && d == a->district;
}

int sk_case_may_see(const sk_actor *actor, const sk_record *r)
{
    if (!actor || !r)
        return 0;
    switch (actor->role) {
    case SK_ROLE_FIELD: return owns(actor, r) || assigned(actor, r);
    case SK_ROLE_STAFF: return in_district(actor, r);
    case SK_ROLE_ADMIN: return 1;
    default: return 0;
    }
}

int sk_case_may_see_identifying(const sk_actor *actor)
{
    return actor && actor->role == SK_ROLE_ADMIN;
}

int sk_case_may_see_identifying_rec(const sk_actor *actor, const sk_record *r)
{
    if (sk_case_may_see_identifying(actor))
        return 1;
    return actor && r && actor->role == SK_ROLE_STAFF && actor->worker && actor->worker[0] &&
           in_district(actor, r) && str_field_eq(r, SK_F_OWNER, actor->worker);
}

static void drop_entries(sk_record *r)
{
    for (uint32_t i = 0; i < r->nentries; i++) {
        sk_afree(r->alloc, r->entries[i].val);
        r->entries[i].val = NULL;
        r->entries[i].len = 0;
    }
    sk_afree(r->alloc, r->entries);
    r->entries = NULL;
    r->nentries = 0;
}

void sk_case_redact(const sk_actor *actor, sk_record *r)
{
    if (!r || sk_case_may_see_identifying_rec(actor, r) || !sk_case_is_minor(r))
        return;
    for (size_t i = 0; i < NFIELDS; i++)
        if (k_fields[i].identifying)
            (void)sk_record_unset(r, k_fields[i].key);
    drop_entries(r);
}

int sk_case_stub_only(const sk_actor *actor, const sk_record *r)
{
    uint64_t st;
    if (!actor || !r || actor->role != SK_ROLE_FIELD)
        return 0;
    if (sk_case_get_uint(r, SK_F_STATUS, &st) || st < SK_STATUS_ACCEPTED)
        return 0;
    return !assigned(actor, r);
}

static void sk_case_make_stub_fields(sk_record *r);

void sk_case_make_stub(sk_record *r)
{
    if (!r)
        return;
    drop_entries(r);
    sk_case_make_stub_fields(r);
}

static void sk_case_make_stub_fields(sk_record *r)
{
    static const uint32_t keep[] = {SK_F_SCHEMA,        SK_F_CREATED_AT, SK_F_WORKER,
                                    SK_F_CASE_NO,       SK_F_DISTRICT,   SK_F_STATUS,
                                    SK_F_DECLINE_REASON};
    if (!r)
        return;
    uint32_t i = 0;
    while (i < r->nfields) {
        uint32_t key = r->fields[i].key;
        int k = 0;
        for (size_t j = 0; j < sizeof(keep) / sizeof(keep[0]); j++)
            k |= keep[j] == key;
        if (k || sk_record_unset(r, key) != 0)
            i++;
    }
}

/* Is entry e (of r) a task for worker, or an update of such a task? */
static int task_entry_for(const sk_record *r, const sk_entry *e, const char *worker, size_t wl)
{
    entry_val ev;
    if (e->list == SK_LIST_TASK_UPDATE) {
        if (decode_entry(e->list, e->val, e->len, SK_VALIDATE_KEEP_UNKNOWN, &ev, NULL))
            return 0;
        e = find_task(r, &ev.task);
        if (!e)
            return 0;
    }
    if (e->list != SK_LIST_TASK ||
        decode_entry(e->list, e->val, e->len, SK_VALIDATE_KEEP_UNKNOWN, &ev, NULL))
        return 0;
    return ev.for_len == wl && memcmp(ev.for_w, worker, wl) == 0;
}

void sk_case_make_stub_for(const sk_actor *actor, sk_record *r)
{
    if (!r)
        return;
    const char *w = actor ? actor->worker : NULL;
    size_t wl = w ? strlen(w) : 0;
    uint32_t keep = 0;
    /* Mark every entry that is not one of the worker's tasks or their updates (list 0, which no
     * entry has: tasks sort before updates, so an update of another's task finds no task),
     * then drop the marked ones in place. */
    for (uint32_t i = 0; i < r->nentries; i++)
        if (!wl || !task_entry_for(r, &r->entries[i], w, wl))
            r->entries[i].list = 0;
    for (uint32_t i = 0; i < r->nentries; i++) {
        if (r->entries[i].list)
            r->entries[keep++] = r->entries[i];
        else
            sk_afree(r->alloc, r->entries[i].val);
    }
    r->nentries = keep;
    if (keep == 0) {
        sk_afree(r->alloc, r->entries);
        r->entries = NULL;
    }
    sk_case_make_stub_fields(r);
}

int sk_case_tasks(const sk_record *r, sk_task_view *out, size_t cap, size_t *n_out)
{
    size_t n = 0;
    for (uint32_t i = 0; r && i < r->nentries; i++) {
        const sk_entry *e = &r->entries[i];
        entry_val ev;
        if (e->list != SK_LIST_TASK ||
            decode_entry(e->list, e->val, e->len, SK_VALIDATE_KEEP_UNKNOWN, &ev, NULL))
            continue;
        if (n < cap) {
            sk_task_view *t = &out[n];
            memset(t, 0, sizeof(*t));
            t->id = e->id;
            t->by = ev.by, t->by_len = ev.by_len;
            t->text = ev.text, t->text_len = ev.text_len;
            t->for_worker = ev.for_w, t->for_len = ev.for_len;
            t->at = ev.at, t->due = ev.due;
            t->kind = (uint32_t)ev.kind;
            t->state = SK_TASK_OPEN;
            /* Updates sort by (list, hlc, id): the last one that names this task wins. */
            for (uint32_t j = 0; j < r->nentries; j++) {
                const sk_entry *u = &r->entries[j];
                entry_val uv;
                if (u->list != SK_LIST_TASK_UPDATE ||
                    decode_entry(u->list, u->val, u->len, SK_VALIDATE_KEEP_UNKNOWN, &uv, NULL) ||
                    sk_id_cmp(&uv.task, &e->id) != 0)
                    continue;
                t->state = (uint32_t)uv.state;
                t->note = uv.has_text ? uv.text : NULL;
                t->note_len = uv.has_text ? uv.text_len : 0;
                t->state_by = uv.by, t->state_by_len = uv.by_len;
                t->state_at = uv.at;
            }
        }
        n++;
    }
    *n_out = n;
    return 0;
}

int sk_task_urgency(const sk_task_view *t, uint64_t now_ms, uint64_t window_ms)
{
    if (!t || t->state != SK_TASK_OPEN)
        return 0;
    if (t->due < now_ms)
        return 3;
    if (t->due - now_ms <= 24ull * 3600 * 1000)
        return 2;
    if (t->due - now_ms <= window_ms)
        return 1;
    return 0;
}

/* Is the band, age or date of birth that r gives a minor's? -1 when r gives none. */
static int derived_minor(const sk_record *r, uint64_t at_ms)
{
    uint64_t u;
    char dob[16];
    if (sk_case_get_uint(r, SK_F_AGE, &u) == 0)
        return u < 18;
    if (sk_case_get_str(r, SK_F_DOB, dob, sizeof(dob)) == 0) {
        uint64_t at = at_ms;
        (void)sk_case_get_uint(r, SK_F_CREATED_AT, &at);
        int age = sk_case_age_from_dob(dob, strlen(dob), at);
        if (age >= 0)
            return age < 18;
    }
    if (sk_case_get_uint(r, SK_F_AGE_BAND, &u) == 0 && sk_enum_name(SK_ENUM_AGE_BAND, u))
        return band_is_minor(u);
    return -1;
}

int sk_case_derive_minor(sk_record *r, uint64_t at_ms, sk_hlc hlc, uint64_t ver)
{
    int want = r ? derived_minor(r, at_ms) : -1, have;
    if (want < 0)
        return 0;
    if (sk_case_get_bool(r, SK_F_MINOR, &have) == 0 && have == want)
        return 0;
    uint8_t b = want ? 0xc3 : 0xc2;
    int rc = sk_record_set(r, SK_F_MINOR, &b, 1, hlc, ver);
    return rc ? rc : 1;
}

/* ---- permissions and workflow ------------------------------------------------------------- */

#define FORBID(err, key, ...) sk_case_fail(err, -SK_E_FORBIDDEN, key, __VA_ARGS__)
#define BAD_STEP(err, key, ...) sk_case_fail(err, -SK_E_TRANSITION, key, __VA_ARGS__)

static const sk_field *change_field(const sk_change *c, uint32_t key)
{
    for (uint32_t i = 0; i < c->nfields; i++)
        if (c->fields[i].key == key)
            return &c->fields[i];
    return NULL;
}

/* Read a uint field of a change; 1 if present as uint, 0 if absent or nil, -1 if another type. */
static int change_uint(const sk_change *c, uint32_t key, uint64_t *out)
{
    const sk_field *f = change_field(c, key);
    if (!f || (f->len == 1 && f->val[0] == 0xc0))
        return 0;
    return read_uint_value(f->val, f->len, out) == 0 ? 1 : -1;
}

static int change_has(const sk_change *c, uint32_t key)
{
    return change_field(c, key) != NULL;
}

/* Workflow table (docs/CASE-MODEL.md). */
static int step_allowed(uint64_t from, uint64_t to)
{
    switch (from) {
    case SK_STATUS_NEW: return to == SK_STATUS_RECEIVED || to == SK_STATUS_DECLINED;
    case SK_STATUS_RECEIVED: return to == SK_STATUS_ACCEPTED || to == SK_STATUS_DECLINED;
    case SK_STATUS_ACCEPTED:
        return to == SK_STATUS_IN_SERVICE || to == SK_STATUS_CLOSED || to == SK_STATUS_REFERRED;
    case SK_STATUS_IN_SERVICE: return to == SK_STATUS_CLOSED || to == SK_STATUS_REFERRED;
    case SK_STATUS_CLOSED:
    case SK_STATUS_REFERRED: return to == SK_STATUS_IN_SERVICE;
    default: return 0;
    }
}

static const char *status_name(uint64_t s)
{
    const char *n = sk_enum_name(SK_ENUM_STATUS, s);
    return n ? n : "unknown";
}

/* The rules that apply to what a field worker writes into fields (create or edit). */
static int field_worker_fields(const sk_change *c, uint64_t cur_status, sk_case_error *err)
{
    static const uint32_t staff_only[] = {SK_F_CASE_NO,
                                          SK_F_ASSIGNED,
                                          SK_F_STATUS_REASON,
                                          SK_F_DECLINE_REASON,
                                          SK_F_REFERRED_TO,
                                          SK_F_REFERRED_TO_DETAIL,
                                          SK_F_CONSENT_OVERRIDE,
                                          SK_F_OWNER,
                                          SK_F_CLOSE_REQUESTED_BY,
                                          SK_F_CLOSE_REQUEST_REASON,
                                          SK_F_SHELTER_START,
                                          SK_F_SHELTER_DAYS,
                                          SK_F_REVIEW_RESOLVED};
    for (size_t i = 0; i < sizeof(staff_only) / sizeof(staff_only[0]); i++)
        if (change_has(c, staff_only[i]))
            return FORBID(err, staff_only[i], "%s: only centre staff may set it",
                          fname(staff_only[i]));
    uint64_t v;
    int rc = change_uint(c, SK_F_STATUS, &v);
    if (rc < 0)
        return INVALID(err, SK_F_STATUS, "status: must be an unsigned integer code");
    if (rc > 0 && v != cur_status)
        return FORBID(err, SK_F_STATUS, "status: only centre staff may change the status");
    for (uint32_t k = SK_F_SERVICE_LEGAL; k <= SK_F_SERVICE_SHELTER; k++) {
        rc = change_uint(c, k, &v);
        if (rc < 0 || (rc > 0 && v != SK_SVC_NEEDED))
            return FORBID(err, k, "%s: a field worker may only mark a service as needed", fname(k));
    }
    return 0;
}

static int check_entries(const sk_actor *a, const sk_record *cur, const sk_change *c,
                         sk_case_error *err)
{
    for (uint32_t i = 0; i < c->nentries; i++) {
        const sk_entry *e = &c->entries[i];
        uint32_t list = e->list;
        if (list == SK_LIST_CASENOTE && !is_staff(a))
            return FORBID(err, 0, "case_note: only centre staff may add case notes");
        if (list == SK_LIST_TASK && !is_staff(a))
            return FORBID(err, 0, "task: only centre staff may add tasks");
        if (list == SK_LIST_TASK_UPDATE && !is_staff(a)) {
            /* A field worker completes or reopens only her own tasks. */
            entry_val ev;
            const sk_entry *t;
            size_t wl = a->worker ? strlen(a->worker) : 0;
            if (decode_entry(list, e->val, e->len, 0, &ev, err))
                return err ? err->code : -SK_E_INVALID;
            if (!(t = find_task(cur, &ev.task)) || !wl || !task_entry_for(cur, t, a->worker, wl))
                return FORBID(err, 0, "task_update: not a task of yours");
            if (ev.state == SK_TASK_CANCELLED)
                return FORBID(err, 0, "task_update: only centre staff may cancel a task");
        }
        if (list < SK_LIST_FOLLOWUP || list > SK_LIST_TASK_UPDATE)
            return FORBID(err, 0, "entries: unknown list %u", (unsigned)list);
    }
    return 0;
}

/* A bool field as the change leaves it: the change's value, else cur's; 0 when absent. */
static int bool_after(const sk_record *cur, const sk_change *c, uint32_t key)
{
    const sk_field *f = change_field(c, key);
    int v = 0;
    if (f) {
        sk_mp m;
        sk_mp_init(&m, f->val, f->len);
        return sk_mp_read_bool(&m, &v) == 0 && sk_mp_at_end(&m) && v;
    }
    return sk_case_get_bool(cur, key, &v) == 0 && v;
}

/* Does the change carry a non-nil value for key? */
static int change_sets(const sk_change *c, uint32_t key)
{
    const sk_field *f = change_field(c, key);
    return f && !(f->len == 1 && f->val[0] == 0xc0);
}

static int check_staff_district(const sk_actor *a, const sk_record *cur, const sk_change *c,
                                int creating, sk_case_error *err)
{
    if (a->role == SK_ROLE_ADMIN || a->district == 0)
        return 0;
    uint64_t d;
    if (!creating && !in_district(a, cur))
        return FORBID(err, SK_F_DISTRICT, "district: record is outside your district");
    int rc = change_uint(c, SK_F_DISTRICT, &d);
    if (rc < 0 || (rc > 0 && d != a->district))
        return FORBID(err, SK_F_DISTRICT, "district: record is outside your district");
    if (creating && rc == 0)
        return FORBID(err, SK_F_DISTRICT, "district: record is outside your district");
    return 0;
}

int sk_case_check_change(const sk_actor *actor, const sk_record *cur, const sk_change *c,
                         sk_case_error *err)
{
    if (err) {
        err->code = 0;
        err->field = 0;
        err->msg[0] = '\0';
    }
    if (!actor || !c)
        return FORBID(err, 0, "record: no actor");
    if (actor->role != SK_ROLE_FIELD && !is_staff(actor))
        return FORBID(err, 0, "record: this role may not change records");

    int creating = !cur || cur->version == 0;
    uint64_t cur_status = 0;
    if (!creating && sk_case_get_uint(cur, SK_F_STATUS, &cur_status) != 0)
        cur_status = 0;

    /* device and worker come from the authenticated session: the server sets them */
    if (change_has(c, SK_F_DEVICE))
        return FORBID(err, SK_F_DEVICE, "device: set by the server");
    if (change_has(c, SK_F_WORKER))
        return FORBID(err, SK_F_WORKER, "worker: set by the server");

    if (c->kind == SK_CHANGE_ERASE) {
        if (actor->role != SK_ROLE_ADMIN)
            return FORBID(err, 0, "record: only an administrator may erase a record");
        return 0;
    }
    if (c->kind != SK_CHANGE_UPSERT && c->kind != SK_CHANGE_DELETE)
        return INVALID(err, 0, "record: unknown change kind %u", (unsigned)c->kind);

    if (actor->role == SK_ROLE_FIELD) {
        if (creating) {
            if (c->kind == SK_CHANGE_DELETE)
                return 0; /* deleting a referral that never reached the server */
            uint64_t v;
            int rc = change_uint(c, SK_F_STATUS, &v);
            if (rc < 0 || (rc > 0 && v != SK_STATUS_NEW))
                return FORBID(err, SK_F_STATUS, "status: a field worker creates referrals as new");
            SK_TRY(field_worker_fields(c, rc > 0 ? SK_STATUS_NEW : 0, err));
            return check_entries(actor, cur, c, err);
        }
        int own = owns(actor, cur), asg = assigned(actor, cur);
        if (!own && !asg)
            return FORBID(err, 0, "record: not your referral");
        int early = cur_status == SK_STATUS_NEW || cur_status == SK_STATUS_RECEIVED;
        if (c->kind == SK_CHANGE_DELETE) {
            if (own && early)
                return 0;
            return FORBID(err, 0, "record: only centre staff may delete an accepted case");
        }
        if (c->nfields > 0) {
            if (!own)
                return FORBID(err, 0,
                              "record: an assigned worker may only add follow-ups and update "
                              "her tasks");
            if (!early)
                return FORBID(err, 0,
                              "record: fields can be edited only until the centre accepts it");
            SK_TRY(field_worker_fields(c, cur_status, err));
        }
        return check_entries(actor, cur, c, err);
    }

    /* staff and admin */
    SK_TRY(check_staff_district(actor, cur, c, creating, err));
    if (c->kind == SK_CHANGE_DELETE)
        return 0;
    SK_TRY(check_entries(actor, cur, c, err));
    uint64_t to;
    int rc = change_uint(c, SK_F_STATUS, &to);
    if (rc < 0)
        return INVALID(err, SK_F_STATUS, "status: must be an unsigned integer code");
    if (creating) {
        if (rc > 0 && to != SK_STATUS_NEW && to != SK_STATUS_RECEIVED)
            return BAD_STEP(err, SK_F_STATUS, "status: a new record starts as new or received");
        return 0;
    }
    if (rc == 0 || to == cur_status)
        return 0;
    if (!step_allowed(cur_status, to))
        return BAD_STEP(err, SK_F_STATUS, "status: cannot go from %s to %s",
                        status_name(cur_status), status_name(to));
    if ((to == SK_STATUS_CLOSED || to == SK_STATUS_REFERRED) && !change_has(c, SK_F_STATUS_REASON))
        return BAD_STEP(err, SK_F_STATUS_REASON, "status_reason: %s needs a reason",
                        to == SK_STATUS_CLOSED ? "closing" : "referring");
    if ((cur_status == SK_STATUS_CLOSED || cur_status == SK_STATUS_REFERRED) &&
        !change_has(c, SK_F_STATUS_REASON))
        return BAD_STEP(err, SK_F_STATUS_REASON, "status_reason: reopening needs a reason");
    if (to == SK_STATUS_DECLINED && !change_sets(c, SK_F_DECLINE_REASON))
        return BAD_STEP(err, SK_F_DECLINE_REASON, "decline_reason: declining needs a reason code");
    if (to == SK_STATUS_REFERRED) {
        if (!change_sets(c, SK_F_REFERRED_TO))
            return BAD_STEP(err, SK_F_REFERRED_TO,
                            "referred_to: referring onward needs a destination");
        if (!bool_after(cur, c, SK_F_CONSENT_SHARE) && !change_sets(c, SK_F_CONSENT_OVERRIDE))
            return BAD_STEP(err, SK_F_CONSENT_OVERRIDE,
                            "consent_override: referring onward without consent to share needs "
                            "an override reason");
    }
    return 0;
}

int sk_case_check_change_policy(const sk_actor *actor, const sk_record *cur, const sk_change *c,
                                const sk_case_policy *pol, sk_case_error *err)
{
    SK_TRY(sk_case_check_change(actor, cur, c, err));
    if (!pol || !pol->close_approval || actor->role == SK_ROLE_ADMIN || !cur || cur->version == 0)
        return 0;
    uint64_t to, from = 0;
    if (change_uint(c, SK_F_STATUS, &to) <= 0 || to != SK_STATUS_CLOSED)
        return 0;
    if (sk_case_get_uint(cur, SK_F_STATUS, &from) == 0 && from == SK_STATUS_CLOSED)
        return 0;
    char by[LIM_WORKER + 1];
    if (sk_case_get_str(cur, SK_F_CLOSE_REQUESTED_BY, by, sizeof(by)) != 0)
        return BAD_STEP(err, SK_F_CLOSE_REQUESTED_BY,
                        "status: closing needs a second staff member's approval: request it first");
    if (actor->worker && strcmp(by, actor->worker) == 0)
        return BAD_STEP(err, SK_F_CLOSE_REQUESTED_BY,
                        "status: the closure must be approved by another staff member than the "
                        "one who asked for it");
    return 0;
}

/* ---- case numbers ------------------------------------------------------------------------- */

int sk_case_number_format(char *out, size_t cap, const char *prefix, unsigned year, uint64_t serial)
{
    size_t pn = prefix ? strlen(prefix) : 0;
    if (pn < 2 || pn > SK_DISTRICT_PREFIX_MAX || strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != pn)
        return -SK_E_BAD_VALUE;
    if (year < 1000 || year > 9999 || serial > 999999999999ull)
        return -SK_E_BAD_VALUE;
    int n = snprintf(out, cap, "%s-%04u-%06llu", prefix, year, (unsigned long long)serial);
    if (n < 0 || (size_t)n >= cap)
        return -SK_E_TOO_LONG;
    return 0;
}

/* ---- limits, for forms ------------------------------------------------------------------- */

int sk_case_field_limits(uint32_t key, uint64_t *min, uint64_t *max)
{
    uint64_t lo = 1, hi;
    switch (key) {
    case SK_F_SCHEMA: hi = UINT32_MAX; break;
    case SK_F_WORKER:
    case SK_F_CONSENT_BY: hi = LIM_WORKER; break;
    case SK_F_CASE_NO:
        lo = 15;
        hi = LIM_CASE_NO;
        break;
    case SK_F_BLOCK:
    case SK_F_VILLAGE: hi = LIM_PLACE; break;
    case SK_F_NAME: hi = LIM_NAME; break;
    case SK_F_AGE:
        lo = 0;
        hi = LIM_AGE;
        break;
    case SK_F_PHONE: /* digits of an E.164 number, as stored */
        lo = 8;
        hi = 15;
        break;
    case SK_F_CHILDREN:
        lo = 0;
        hi = LIM_CHILDREN;
        break;
    case SK_F_CONCERNS: hi = LIM_CONCERNS; break;
    case SK_F_CONCERN_OTHER: hi = LIM_OTHER; break;
    case SK_F_STATUS_REASON: hi = LIM_REASON; break;
    case SK_F_NOTES:
        lo = 0;
        hi = LIM_NOTES;
        break;
    case SK_F_ASSIGNED:
        lo = 0;
        hi = LIM_ASSIGNED;
        break;
    default: return -SK_E_NOT_FOUND;
    }
    *min = lo;
    *max = hi;
    return 0;
}
