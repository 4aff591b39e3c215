/*
 * sk_report.c - the centre's figures (contract in sk_report.h): a record's status and service
 * timelines rebuilt from its current fields and kept history, counted into a period's rows.
 *
 * Owns nothing between calls. Reads enumeration codes only; never reads, copies or logs text.
 */
#include "sk_report.h"

#include "sk_date.h"
#include "sk_districts.h"
#include "sk_err.h"
#include "sk_mp.h"
#include "sk_worklist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const k_measures[SK_RPT_NMEASURES] = {
    "received", "accepted", "referred",    "closed",
    "reopened", "declined", "open_at_end", "services_given",
};

const char *sk_report_measure_name(uint32_t m)
{
    return m < SK_RPT_NMEASURES ? k_measures[m] : NULL;
}

static const char *const k_gbvims[SK_GBVIMS_COUNT + 1] = {
    "none",
    "rape",
    "sexual_assault",
    "physical_assault",
    "forced_marriage",
    "denial_of_resources",
    "psychological_abuse",
};

const char *sk_report_gbvims_name(uint32_t type)
{
    return type <= SK_GBVIMS_COUNT ? k_gbvims[type] : NULL;
}

/* docs/CASE-MODEL.md section 10 is the table this implements; keep them together. */
sk_gbvims sk_report_gbvims_of(uint64_t concern)
{
    switch (concern) {
    case SK_CONCERN_DOMESTIC_VIOLENCE: return SK_GBVIMS_PHYSICAL_ASSAULT;
    case SK_CONCERN_FINANCIAL_ABUSE: return SK_GBVIMS_DENIAL;
    case SK_CONCERN_CYBER_BULLYING: return SK_GBVIMS_PSYCHOLOGICAL;
    case SK_CONCERN_ABANDONMENT: return SK_GBVIMS_DENIAL;
    case SK_CONCERN_CHILD_MARRIAGE: return SK_GBVIMS_FORCED_MARRIAGE;
    case SK_CONCERN_POCSO: return SK_GBVIMS_SEXUAL_ASSAULT;
    default: return SK_GBVIMS_NONE; /* drug abuse, other, unknown codes */
    }
}

void sk_report_init(sk_report *rp, uint64_t from_ms, uint64_t to_ms)
{
    memset(rp, 0, sizeof(*rp));
    rp->from_ms = from_ms;
    rp->to_ms = to_ms;
}

/* ---- months ------------------------------------------------------------------------------- */

#define DAY_MS 86400000ll
#define IST_OFFSET_MS (330ll * 60 * 1000) /* midnight IST is 18:30 UTC the day before */

/* The start of month m of year y in the zone (ms since the epoch; negative before 1970). */
static int64_t month_start(int64_t y, unsigned m, int utc)
{
    return sk_date_days_from_civil(y, m, 1) * DAY_MS - (utc ? 0 : IST_OFFSET_MS);
}

int sk_report_parse_month(const char *s, unsigned *year, unsigned *month)
{
    if (!s || strlen(s) != 7 || s[4] != '-')
        return -SK_E_BAD_VALUE;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return -SK_E_BAD_VALUE;
    unsigned y =
        (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    if (y < 1970 || m < 1 || m > 12)
        return -SK_E_BAD_VALUE;
    *year = y;
    *month = m;
    return 0;
}

int sk_report_init_month(sk_report *rp, unsigned year, unsigned month, int utc)
{
    if (year < 1970 || year > 9999 || month < 1 || month > 12)
        return -SK_E_BAD_VALUE;
    int64_t from = month_start(year, month, utc);
    int64_t to =
        month == 12 ? month_start((int64_t)year + 1, 1, utc) : month_start(year, month + 1, utc);
    if (from < 0)
        return -SK_E_BAD_VALUE;
    sk_report_init(rp, (uint64_t)from, (uint64_t)to);
    snprintf(rp->month, sizeof(rp->month), "%04u-%02u", year, month);
    for (int i = 0; i < SK_REPORT_TREND; i++) {
        int64_t y = year, m = (int64_t)month - (SK_REPORT_TREND - 1 - i);
        while (m < 1) {
            m += 12;
            y--;
        }
        int64_t t = month_start(y, (unsigned)m, utc);
        rp->trend_from_ms[i] = t > 0 ? (uint64_t)t : 0;
        snprintf(rp->trend_month[i], sizeof(rp->trend_month[i]), "%04u-%02u", (unsigned)(y % 10000),
                 (unsigned)m);
    }
    return 0;
}

void sk_report_month_of(uint64_t now_ms, unsigned *year, unsigned *month)
{
    int64_t y;
    unsigned d; /* the civil date of the IST day */
    sk_date_civil_from_days((int64_t)((now_ms + (uint64_t)IST_OFFSET_MS) / (uint64_t)DAY_MS), &y,
                            month, &d);
    *year = (unsigned)y;
}

/* One value in a field's timeline. */
typedef struct point {
    uint64_t ver, ms, code; /* code 0: not an unsigned integer */
} point;

static int cmp_point(const void *a, const void *b)
{
    const point *x = a, *y = b;
    return x->ver < y->ver ? -1 : x->ver > y->ver;
}

static uint64_t code_of(const uint8_t *val, uint32_t len)
{
    sk_mp m;
    uint64_t v;
    if (!len)
        return 0;
    sk_mp_init(&m, val, len);
    return sk_mp_read_uint(&m, &v) == 0 ? v : 0;
}

/* The values field key held, oldest first: past ones and the current one (pts has room for
 * npast + 1). Returns how many. */
static size_t timeline(const sk_record *r, uint32_t key, const sk_report_value *past, size_t npast,
                       point *pts)
{
    size_t n = 0;
    for (size_t i = 0; i < npast; i++)
        if (past[i].key == key)
            pts[n++] =
                (point){past[i].ver, SK_HLC_MS(past[i].hlc), code_of(past[i].val, past[i].len)};
    const sk_field *f = sk_record_field(r, key);
    if (f)
        pts[n++] = (point){f->ver, SK_HLC_MS(f->hlc), code_of(f->val, f->len)};
    qsort(pts, n, sizeof(*pts), cmp_point);
    return n;
}

static int is_open(uint64_t st)
{
    return st == SK_STATUS_NEW || st == SK_STATUS_RECEIVED || st == SK_STATUS_ACCEPTED ||
           st == SK_STATUS_IN_SERVICE;
}

static void row_add(sk_report_row *dst, const sk_report_row *src)
{
    for (int m = 0; m < SK_RPT_NMEASURES; m++)
        dst->n[m] += src->n[m];
}

static int row_any(const sk_report_row *row)
{
    for (int m = 0; m < SK_RPT_NMEASURES; m++)
        if (row->n[m])
            return 1;
    return 0;
}

static uint32_t slot(uint64_t code, sk_enum_id e)
{
    return code == 0 || code > sk_enum_max(e) || code >= SK_RPT_CODES ? 0 : (uint32_t)code;
}

static void bump(uint64_t *arr, sk_enum_id e, uint64_t code)
{
    arr[slot(code, e)]++;
}

void sk_report_set_districts(sk_report *rp, const sk_district_def *d, size_t n)
{
    rp->ndistricts = n < SK_DISTRICTS_MAX ? n : SK_DISTRICTS_MAX;
    for (size_t i = 0; i < rp->ndistricts; i++) {
        rp->districts[i].code = d[i].code;
        snprintf(rp->districts[i].slug, sizeof(rp->districts[i].slug), "%s", d[i].slug);
    }
}

int sk_report_districts_txn(sk_report *rp, sk_store *s, MDB_txn *txn)
{
    size_t nd = 0;
    sk_district_def *dl = malloc(SK_DISTRICTS_MAX * sizeof(*dl));
    if (!dl)
        return -SK_E_NOMEM;
    int rc = sk_store_districts_get_txn(s, txn, dl, SK_DISTRICTS_MAX, &nd);
    if (!rc)
        sk_report_set_districts(rp, dl, nd);
    free(dl);
    return rc;
}

uint32_t sk_report_district_slot(const sk_report *rp, uint64_t code)
{
    for (size_t i = 0; i < rp->ndistricts; i++)
        if (rp->districts[i].code == code)
            return (uint32_t)i + 1;
    return 0;
}

/* The captured counts and the trend: the case as it is now, by when it was captured. */
static void add_captured(sk_report *rp, const sk_record *r)
{
    uint64_t t = sk_case_captured_ms(r), v;
    for (int i = 0; i < SK_REPORT_TREND; i++) {
        uint64_t end = i == SK_REPORT_TREND - 1 ? rp->to_ms : rp->trend_from_ms[i + 1];
        if (rp->trend_from_ms[i] < end && t >= rp->trend_from_ms[i] && t < end)
            rp->trend[i]++;
    }
    if (t < rp->from_ms || t >= rp->to_ms)
        return;
    sk_report_captured *c = &rp->captured;
    c->total++;
    if (sk_case_is_minor(r))
        c->minors++;
    if (r->flags & SK_REC_REVIEW)
        c->review++;
    if (sk_case_get_uint(r, SK_F_STATUS, &v) == 0)
        bump(c->status, SK_ENUM_STATUS, v);
    if (sk_case_get_uint(r, SK_F_SOURCE, &v) == 0)
        bump(c->source, SK_ENUM_SOURCE, v);
    if (sk_case_get_uint(r, SK_F_DISTRICT, &v) == 0)
        c->district[sk_report_district_slot(rp, v)]++;
    for (uint32_t k = 1; k <= sk_enum_max(SK_ENUM_CONCERN) && k < SK_RPT_CODES; k++)
        if (sk_case_has_concern(r, k))
            c->concern[k]++;
    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++)
        if (sk_case_get_uint(r, SK_F_SERVICE_BASE + s, &v) == 0)
            bump(c->service[s], SK_ENUM_SERVICE_STATUS, v);
}

int sk_report_add(sk_report *rp, const sk_record *r, const sk_report_value *past, size_t npast)
{
    if (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0;
    add_captured(rp, r);
    if (npast > SIZE_MAX / sizeof(point) - 1)
        return -SK_E_NOMEM;
    point *pts = malloc((npast + 1) * sizeof(*pts));
    if (!pts)
        return -SK_E_NOMEM;
    sk_report_row row;
    memset(&row, 0, sizeof(row));
    uint64_t given[SK_SERVICE_COUNT + 1] = {0};

    size_t n = timeline(r, SK_F_STATUS, past, npast, pts);
    uint64_t prev = 0, at_end = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t st = pts[i].code;
        if (pts[i].ms < rp->to_ms)
            at_end = st;
        if (st == prev)
            continue; /* restated: not a transition */
        if (pts[i].ms >= rp->from_ms && pts[i].ms < rp->to_ms) {
            switch (st) {
            case SK_STATUS_RECEIVED: row.n[SK_RPT_RECEIVED]++; break;
            case SK_STATUS_ACCEPTED: row.n[SK_RPT_ACCEPTED]++; break;
            case SK_STATUS_REFERRED: row.n[SK_RPT_REFERRED]++; break;
            case SK_STATUS_CLOSED: row.n[SK_RPT_CLOSED]++; break;
            case SK_STATUS_DECLINED: row.n[SK_RPT_DECLINED]++; break;
            case SK_STATUS_IN_SERVICE:
                if (prev == SK_STATUS_CLOSED || prev == SK_STATUS_REFERRED)
                    row.n[SK_RPT_REOPENED]++;
                break;
            default: break;
            }
        }
        prev = st;
    }
    if (is_open(at_end))
        row.n[SK_RPT_OPEN_AT_END] = 1;

    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++) {
        n = timeline(r, SK_F_SERVICE_BASE + s, past, npast, pts);
        prev = 0;
        for (size_t i = 0; i < n; i++) {
            if (pts[i].code != prev && pts[i].code == SK_SVC_GIVEN && pts[i].ms >= rp->from_ms &&
                pts[i].ms < rp->to_ms)
                given[s] = 1; /* a service counts once per case in a period */
            prev = pts[i].code;
        }
        row.n[SK_RPT_SERVICES] += given[s];
    }
    free(pts);

    if (!row_any(&row))
        return 0;
    rp->cases++;
    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++)
        rp->service_given[s] += given[s];
    row_add(&rp->all, &row);
    if (sk_case_is_minor(r))
        row_add(&rp->minors, &row);
    uint64_t v;
    if (sk_case_get_uint(r, SK_F_SOURCE, &v) == 0)
        row_add(&rp->source[slot(v, SK_ENUM_SOURCE)], &row);
    if (sk_case_get_uint(r, SK_F_DISTRICT, &v) == 0)
        row_add(&rp->district[sk_report_district_slot(rp, v)], &row);
    const sk_field *f = sk_record_field(r, SK_F_CONCERNS);
    if (f) {
        sk_mp m;
        uint32_t cnt;
        int seen_c[SK_RPT_CODES] = {0}, seen_g[SK_GBVIMS_COUNT + 1] = {0};
        sk_mp_init(&m, f->val, f->len);
        if (sk_mp_read_array(&m, &cnt) == 0)
            for (uint32_t i = 0; i < cnt && sk_mp_read_uint(&m, &v) == 0; i++) {
                uint32_t c = slot(v, SK_ENUM_CONCERN);
                uint32_t g = (uint32_t)sk_report_gbvims_of(v);
                if (!seen_c[c]++)
                    row_add(&rp->concern[c], &row);
                if (g && !seen_g[g]++)
                    row_add(&rp->gbvims[g], &row);
            }
    }
    return 0;
}

/* ---- over the store ----------------------------------------------------------------------- */

typedef struct past_buf {
    sk_report_value *v;
    size_t n, cap;
    sk_buf bytes; /* the values' bytes, appended (offsets in v[i].val until resolved) */
} past_buf;

int sk_report_past_key(uint32_t key)
{
    return key == SK_F_STATUS ||
           (key > SK_F_SERVICE_BASE && key <= SK_F_SERVICE_BASE + SK_SERVICE_COUNT);
}

static int collect_past(const sk_history_item *it, void *p)
{
    past_buf *pb = p;
    /* an incoming value that lost never was the record's value */
    if (it->lost_incoming || !sk_report_past_key(it->key))
        return 0;
    if (sk_grow(&pb->v, &pb->cap, pb->n + 1, sizeof(*pb->v), 16))
        return -SK_E_NOMEM;
    size_t off = pb->bytes.len;
    if (it->len && sk_buf_append(&pb->bytes, it->val, it->len) != 0)
        return -SK_E_NOMEM;
    pb->v[pb->n++] =
        (sk_report_value){it->key, it->ver, it->hlc, (const uint8_t *)(uintptr_t)off, it->len};
    return 0;
}

int sk_report_run_txn(sk_store *s, MDB_txn *txn, sk_report *rp)
{
    return sk_report_run_for_txn(s, txn, NULL, rp);
}

typedef struct run_ctx {
    sk_store *s;
    MDB_txn *txn;
    const sk_actor *viewer;
    sk_report *rp;
    past_buf pb; /* reused for each record */
} run_ctx;

/* Count one record the viewer may see, with the earlier values its history kept. */
static int count_record(const sk_record *r, void *payload)
{
    run_ctx *c = payload;
    past_buf *pb = &c->pb;
    int rc = 0;
    if (c->viewer && !sk_case_may_see(c->viewer, r))
        return 0;
    pb->n = 0;
    pb->bytes.len = 0;
    if (!(r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)))
        rc = sk_store_history_list_txn(c->s, c->txn, &r->id, collect_past, pb);
    if (!rc && pb->bytes.oom)
        rc = -SK_E_NOMEM;
    if (rc)
        return rc;
    for (size_t i = 0; i < pb->n; i++)
        pb->v[i].val = pb->v[i].len ? pb->bytes.data + (uintptr_t)pb->v[i].val : NULL;
    return sk_report_add(c->rp, r, pb->v, pb->n);
}

int sk_report_run_for_txn(sk_store *s, MDB_txn *txn, const sk_actor *viewer, sk_report *rp)
{
    run_ctx c = {s, txn, viewer, rp, {NULL, 0, 0, SK_BUF_INIT}};
    int rc = sk_report_districts_txn(rp, s, txn);
    if (!rc)
        rc = sk_store_records_each_txn(s, txn, count_record, &c);
    free(c.pb.v);
    sk_buf_free(&c.pb.bytes);
    return rc;
}

/* ---- CSV ---------------------------------------------------------------------------------- */

static void csv_row(sk_buf *b, const char *group, const char *name, const sk_report_row *row)
{
    char line[160];
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++) {
        int n = snprintf(line, sizeof(line), "%s,%s,%s,%" PRIu64 "\n", group, name,
                         sk_report_measure_name(m), row->n[m]);
        if (n > 0 && (size_t)n < sizeof(line))
            (void)sk_buf_append(b, line, (size_t)n); /* a failure sets b->oom */
        else
            b->oom = 1;
    }
}

static void csv_rows(sk_buf *b, const char *group, sk_enum_id e, const sk_report_row *rows)
{
    for (uint32_t c = 1; c <= sk_enum_max(e) && c < SK_RPT_CODES; c++)
        csv_row(b, group, sk_enum_name(e, c), &rows[c]);
}

int sk_report_csv(sk_buf *b, const sk_report *rp)
{
    static const char k_head[] = "group,name,measure,count\n";
    (void)sk_buf_append(b, k_head, sizeof(k_head) - 1);
    csv_row(b, "all", "all", &rp->all);
    csv_row(b, "minors", "minors", &rp->minors);
    csv_rows(b, "concern", SK_ENUM_CONCERN, rp->concern);
    csv_rows(b, "source", SK_ENUM_SOURCE, rp->source);
    for (size_t i = 0; i < rp->ndistricts; i++)
        csv_row(b, "district", rp->districts[i].slug, &rp->district[i + 1]);
    if (row_any(&rp->district[0]))
        csv_row(b, "district", "unknown", &rp->district[0]);
    for (uint32_t g = 1; g <= SK_GBVIMS_COUNT; g++)
        csv_row(b, "gbvims", sk_report_gbvims_name(g), &rp->gbvims[g]);
    for (uint32_t sv = 1; sv <= SK_SERVICE_COUNT; sv++) {
        char line[120];
        int n = snprintf(line, sizeof(line), "service,%s,given,%" PRIu64 "\n",
                         sk_enum_name(SK_ENUM_SERVICE, sv), rp->service_given[sv]);
        if (n > 0 && (size_t)n < sizeof(line))
            (void)sk_buf_append(b, line, (size_t)n);
        else
            b->oom = 1;
    }
    return b->oom ? -SK_E_NOMEM : 0;
}
