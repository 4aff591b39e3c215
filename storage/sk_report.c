/*
 * sk_report.c - the centre's figures (contract in sk_report.h): a record's status and service
 * timelines rebuilt from its current fields and kept history, counted into a period's rows.
 *
 * Owns nothing between calls. Reads enumeration codes only; never reads, copies or logs text.
 */
#include "sk_report.h"

#include "sk_err.h"
#include "sk_mp.h"

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

static uint32_t slot(uint64_t code, sk_enum_id e)
{
    return code == 0 || code > sk_enum_max(e) || code >= SK_RPT_CODES ? 0 : (uint32_t)code;
}

int sk_report_add(sk_report *rp, const sk_record *r, const sk_report_value *past, size_t npast)
{
    if (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0;
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

    int any = 0;
    for (int m = 0; m < SK_RPT_NMEASURES; m++)
        any |= row.n[m] != 0;
    if (!any)
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
        row_add(&rp->district[slot(v, SK_ENUM_DISTRICT)], &row);
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

static int wanted(uint32_t key)
{
    return key == SK_F_STATUS ||
           (key > SK_F_SERVICE_BASE && key <= SK_F_SERVICE_BASE + SK_SERVICE_COUNT);
}

static int collect_past(const sk_history_item *it, void *p)
{
    past_buf *pb = p;
    /* an incoming value that lost never was the record's value */
    if (it->lost_incoming || !wanted(it->key))
        return 0;
    if (pb->n == pb->cap) {
        size_t cap = pb->cap ? pb->cap * 2 : 16;
        if (cap > SIZE_MAX / sizeof(*pb->v))
            return -SK_E_NOMEM;
        sk_report_value *nv = realloc(pb->v, cap * sizeof(*nv));
        if (!nv)
            return -SK_E_NOMEM;
        pb->v = nv;
        pb->cap = cap;
    }
    size_t off = pb->bytes.len;
    if (it->len && sk_buf_append(&pb->bytes, it->val, it->len) != 0)
        return -SK_E_NOMEM;
    pb->v[pb->n++] =
        (sk_report_value){it->key, it->ver, it->hlc, (const uint8_t *)(uintptr_t)off, it->len};
    return 0;
}

int sk_report_run_txn(sk_store *s, MDB_txn *txn, sk_report *rp)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    past_buf pb = {NULL, 0, 0, SK_BUF_INIT};
    int rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_records(s), &cur)), mrc;
    if (rc)
        return rc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_record r;
        sk_record_init(&r);
        if ((rc = sk_store_record_decode(s, &k, &v, &r)))
            goto out;
        pb.n = 0;
        pb.bytes.len = 0;
        if (!(r.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)))
            rc = sk_store_history_list_txn(s, txn, &r.id, collect_past, &pb);
        if (!rc && pb.bytes.oom)
            rc = -SK_E_NOMEM;
        if (!rc) {
            for (size_t i = 0; i < pb.n; i++)
                pb.v[i].val = pb.v[i].len ? pb.bytes.data + (uintptr_t)pb.v[i].val : NULL;
            rc = sk_report_add(rp, &r, pb.v, pb.n);
        }
        sk_record_free(&r);
        if (rc)
            goto out;
    }
    if (mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
out:
    mdb_cursor_close(cur);
    free(pb.v);
    sk_buf_free(&pb.bytes);
    return rc;
}
