/*
 * sk_desk_report.c - the desk's monthly report (the counts `sakhi-admin report` gives, inside
 * the person's scope: an administrator's match it exactly), as tables, server-drawn SVG bar
 * charts and a twelve-month trend, with a CSV download; and the administrator's audit trail.
 *
 * Runs on libuv's thread pool with read transactions only. The report holds counts, never a
 * field's content; months are the same as sakhi-admin's (by capture time, UTC month bounds).
 */
#include "sk_desk_int.h"

#include "sk_desk_html.h"
#include "sk_err.h"
#include "sk_mp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RPT_MAX 16 /* codes per enumeration counted (0 = unknown bucket) */
#define TREND 12
#define AUDIT_ROWS 100

typedef struct report {
    unsigned year, month;
    uint64_t from, to; /* the month's bounds [from, to) */
    uint64_t total, minors, review;
    uint64_t status[RPT_MAX], concern[RPT_MAX], source[RPT_MAX], district[RPT_MAX];
    uint64_t service[SK_SERVICE_COUNT + 1][RPT_MAX];
    uint64_t trend_from[TREND];  /* month starts, oldest first; the last is the month */
    uint64_t trend_total[TREND]; /* cases captured in each */
    char trend_label[TREND][8];  /* "2026-07" */
} report;

static uint64_t month_start(unsigned y, unsigned m)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (int)y - 1900;
    tm.tm_mon = (int)m - 1;
    tm.tm_mday = 1;
    return (uint64_t)timegm(&tm) * 1000u;
}

static uint64_t record_time(const sk_record *r)
{
    uint64_t t;
    if (sk_case_get_uint(r, SK_F_CREATED_AT, &t) == 0)
        return t;
    t = 0;
    for (int i = 0; i < 6; i++)
        t = (t << 8) | r->id.b[i];
    return t;
}

static int has_concern(const sk_record *r, uint32_t code)
{
    const sk_field *f = sk_record_field(r, SK_F_CONCERNS);
    sk_mp m;
    uint32_t n;
    if (!f)
        return 0;
    sk_mp_init(&m, f->val, f->len);
    if (sk_mp_read_array(&m, &n))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t c;
        if (sk_mp_read_uint(&m, &c))
            return 0;
        if (c == code)
            return 1;
    }
    return 0;
}

static void bump(uint64_t *arr, sk_enum_id e, uint64_t code)
{
    if (code == 0 || code > sk_enum_max(e) || code >= RPT_MAX)
        code = 0;
    arr[code]++;
}

static void count(report *rp, const sk_record *r)
{
    uint64_t t = record_time(r), v;
    for (int i = 0; i < TREND; i++)
        if (t >= rp->trend_from[i] && (i == TREND - 1 ? t < rp->to : t < rp->trend_from[i + 1]))
            rp->trend_total[i]++;
    if (t < rp->from || t >= rp->to)
        return;
    rp->total++;
    if (sk_case_is_minor(r))
        rp->minors++;
    if (r->flags & SK_REC_REVIEW)
        rp->review++;
    if (sk_case_get_uint(r, SK_F_STATUS, &v) == 0)
        bump(rp->status, SK_ENUM_STATUS, v);
    if (sk_case_get_uint(r, SK_F_SOURCE, &v) == 0)
        bump(rp->source, SK_ENUM_SOURCE, v);
    if (sk_case_get_uint(r, SK_F_DISTRICT, &v) == 0)
        bump(rp->district, SK_ENUM_DISTRICT, v);
    for (uint32_t c = 1; c <= sk_enum_max(SK_ENUM_CONCERN) && c < RPT_MAX; c++)
        if (has_concern(r, c))
            rp->concern[c]++;
    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++)
        if (sk_case_get_uint(r, SK_F_SERVICE_BASE + s, &v) == 0)
            bump(rp->service[s], SK_ENUM_SERVICE_STATUS, v);
}

/* The month asked for (?month=YYYY-MM; the current one by default). 0 or -1. */
static int month_of(const sk_form *q, uint64_t now_ms, unsigned *y, unsigned *m)
{
    const char *s = sk_form_get(q, "month");
    if (!s || !s[0]) {
        time_t t = (time_t)(now_ms / 1000u);
        struct tm tm;
        if (!gmtime_r(&t, &tm))
            return -1;
        *y = (unsigned)tm.tm_year + 1900;
        *m = (unsigned)tm.tm_mon + 1;
        return 0;
    }
    if (strlen(s) != 7 || s[4] != '-')
        return -1;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return -1;
    *y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
    *m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    return *y >= 2000 && *y <= 2200 && *m >= 1 && *m <= 12 ? 0 : -1;
}

static int compute(report *rp, sk_store *st, const sk_desk_who *who, unsigned y, unsigned m)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    sk_actor actor;
    int rc, mrc;
    memset(rp, 0, sizeof(*rp));
    rp->year = y;
    rp->month = m;
    rp->from = month_start(y, m);
    rp->to = month_start(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1);
    for (int i = 0; i < TREND; i++) {
        int back = TREND - 1 - i;
        int mm = (int)m - back, yy = (int)y;
        while (mm < 1) {
            mm += 12;
            yy--;
        }
        rp->trend_from[i] = month_start((unsigned)yy, (unsigned)mm);
        snprintf(rp->trend_label[i], sizeof(rp->trend_label[i]), "%04u-%02u", (unsigned)yy % 10000u,
                 (unsigned)mm % 100u);
    }
    sk_desk_actor(who, &actor);
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn))) ||
        (rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_records(st), &cur))))
        goto out;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_record r;
        sk_record_init(&r);
        if (sk_store_record_decode(st, &k, &v, &r) == 0 &&
            !(r.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) && sk_case_may_see(&actor, &r))
            count(rp, &r);
        sk_record_free(&r);
    }
    if (mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

/* ---- drawing ------------------------------------------------------------------------------ */

/* Horizontal bars, one per label, scaled to the largest value. */
static void hbars(sk_buf *b, const char *id, const char *const *labels, const uint64_t *vals,
                  size_t n)
{
    uint64_t max = 1;
    for (size_t i = 0; i < n; i++)
        if (vals[i] > max)
            max = vals[i];
    sk_h_fmt(b,
             "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"%s\" "
             "viewBox=\"0 0 520 %zu\" width=\"520\" height=\"%zu\" role=\"img\">",
             id, n * 22 + 4, n * 22 + 4);
    for (size_t i = 0; i < n; i++) {
        unsigned w = (unsigned)(vals[i] * 260u / max);
        sk_h_fmt(b, "<text x=\"0\" y=\"%zu\" font-size=\"12\">", i * 22 + 16);
        sk_h_esc(b, labels[i]);
        sk_h_fmt(b,
                 "</text><rect x=\"200\" y=\"%zu\" width=\"%u\" height=\"16\" fill=\"#5b2a6e\"/>"
                 "<text x=\"%u\" y=\"%zu\" font-size=\"12\">%llu</text>",
                 i * 22 + 4, w, 206 + w, i * 22 + 16, (unsigned long long)vals[i]);
    }
    sk_h(b, "</svg>");
}

static void enum_chart(sk_buf *b, int lang, const char *id, sk_enum_id e, const uint64_t *arr)
{
    const char *labels[RPT_MAX];
    uint64_t vals[RPT_MAX];
    size_t n = 0;
    for (uint32_t c = 1; c <= sk_enum_max(e) && c < RPT_MAX; c++) {
        labels[n] = sk_t_enum(lang, e, c);
        vals[n++] = arr[c];
    }
    if (arr[0]) {
        labels[n] = "?";
        vals[n++] = arr[0];
    }
    hbars(b, id, labels, vals, n);
}

static void enum_table(sk_buf *b, int lang, const char *id, sk_enum_id e, const uint64_t *arr)
{
    sk_h(b, "<table class=\"counts\" id=\"");
    sk_h(b, id);
    sk_h(b, "\"><tbody>");
    for (uint32_t c = 1; c <= sk_enum_max(e) && c < RPT_MAX; c++) {
        sk_h(b, "<tr data-code=\"");
        sk_h_esc(b, sk_enum_name(e, c));
        sk_h(b, "\"><th>");
        sk_h_esc(b, sk_t_enum(lang, e, c));
        sk_h_fmt(b, "</th><td>%llu</td></tr>", (unsigned long long)arr[c]);
    }
    if (arr[0])
        sk_h_fmt(b, "<tr data-code=\"unknown\"><th>?</th><td>%llu</td></tr>",
                 (unsigned long long)arr[0]);
    sk_h(b, "</tbody></table>");
}

static void trend_chart(sk_buf *b, const report *rp)
{
    uint64_t max = 1;
    for (int i = 0; i < TREND; i++)
        if (rp->trend_total[i] > max)
            max = rp->trend_total[i];
    sk_h(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"trend\" "
            "viewBox=\"0 0 600 200\" width=\"600\" height=\"200\" role=\"img\">");
    for (int i = 0; i < TREND; i++) {
        unsigned h = (unsigned)(rp->trend_total[i] * 150u / max);
        unsigned x = (unsigned)i * 50u;
        sk_h_fmt(b,
                 "<rect x=\"%u\" y=\"%u\" width=\"40\" height=\"%u\" fill=\"#5b2a6e\" "
                 "data-month=\"%s\" data-count=\"%llu\"/><text x=\"%u\" y=\"%u\" "
                 "font-size=\"11\">%llu</text><text x=\"%u\" y=\"196\" font-size=\"10\">%s"
                 "</text>",
                 x, 170 - h, h, rp->trend_label[i], (unsigned long long)rp->trend_total[i], x + 4,
                 165 - h, (unsigned long long)rp->trend_total[i], x, rp->trend_label[i] + 2);
    }
    sk_h(b, "</svg>");
}

int sk_desk_page_report(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                        uint64_t now_ms)
{
    int lang = who->lang, rc;
    unsigned y, m;
    report *rp = malloc(sizeof(*rp));
    if (!rp) {
        rc = -SK_E_NOMEM;
        goto fail;
    }
    if (month_of(q, now_ms, &y, &m)) {
        free(rp);
        sk_desk_page_message(out, lang, sk_t(lang, T_REPORT), sk_t(lang, T_BAD_FORM));
        return 400;
    }
    if ((rc = compute(rp, st, who, y, m)))
        goto fail;
    char month[8];
    snprintf(month, sizeof(month), "%04u-%02u", y % 10000, m);
    sk_desk_top(out, who, sk_t(lang, T_REPORT));
    sk_h(out, "<h1>");
    sk_h_esc(out, sk_t(lang, T_REPORT));
    sk_h_fmt(out, " <span id=\"month\">%s</span></h1>", month);
    sk_h(out, "<form method=\"get\" action=\"/report\" id=\"f-month\"><input name=\"month\" "
              "id=\"report-month\" type=\"month\" value=\"");
    sk_h(out, month);
    sk_h(out, "\"> <button>");
    sk_h_esc(out, sk_t(lang, T_FILTER));
    sk_h(out, "</button> <a id=\"csv\" href=\"/report.csv?month=");
    sk_h(out, month);
    sk_h(out, "\">CSV</a></form><p class=\"hint\">");
    sk_h_esc(out, sk_t(lang, T_REPORT_HINT));
    sk_h_fmt(out,
             "</p><table class=\"counts\" id=\"totals\"><tbody><tr data-code=\"total\"><th>%s"
             "</th><td>%llu</td></tr>",
             sk_t(lang, T_CASES), (unsigned long long)rp->total);
    sk_h_fmt(out, "<tr data-code=\"minors\"><th>%s</th><td>%llu</td></tr>", sk_t(lang, T_MINOR),
             (unsigned long long)rp->minors);
    sk_h_fmt(out, "<tr data-code=\"review\"><th>%s</th><td>%llu</td></tr></tbody></table>",
             sk_t(lang, T_REVIEW), (unsigned long long)rp->review);
    sk_h(out, "<h2>");
    sk_h_esc(out, sk_t(lang, T_TREND));
    sk_h(out, "</h2>");
    trend_chart(out, rp);
    static const struct {
        sk_desk_msg title;
        sk_enum_id e;
        const char *id;
    } k_parts[] = {{T_STATUS, SK_ENUM_STATUS, "status"},
                   {T_CONCERNS, SK_ENUM_CONCERN, "concern"},
                   {T_SOURCE, SK_ENUM_SOURCE, "source"},
                   {T_DISTRICT, SK_ENUM_DISTRICT, "district"}};
    const uint64_t *arrs[] = {rp->status, rp->concern, rp->source, rp->district};
    for (size_t i = 0; i < sizeof(k_parts) / sizeof(k_parts[0]); i++) {
        char cid[24];
        snprintf(cid, sizeof(cid), "chart-%s", k_parts[i].id);
        sk_h(out, "<h2>");
        sk_h_esc(out, sk_t(lang, k_parts[i].title));
        sk_h(out, "</h2><div class=\"part\">");
        enum_table(out, lang, k_parts[i].id, k_parts[i].e, arrs[i]);
        enum_chart(out, lang, cid, k_parts[i].e, arrs[i]);
        sk_h(out, "</div>");
    }
    sk_h(out, "<h2>");
    sk_h_esc(out, sk_t(lang, T_SERVICES));
    sk_h(out, "</h2><table class=\"counts\" id=\"services\"><thead><tr><th></th>");
    for (uint32_t s = 1; s <= sk_enum_max(SK_ENUM_SERVICE_STATUS); s++) {
        sk_h(out, "<th>");
        sk_h_esc(out, sk_t_enum(lang, SK_ENUM_SERVICE_STATUS, s));
        sk_h(out, "</th>");
    }
    sk_h(out, "</tr></thead><tbody>");
    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++) {
        sk_h(out, "<tr data-code=\"");
        sk_h_esc(out, sk_enum_name(SK_ENUM_SERVICE, s));
        sk_h(out, "\"><th>");
        sk_h_esc(out, sk_t_enum(lang, SK_ENUM_SERVICE, s));
        sk_h(out, "</th>");
        for (uint32_t x = 1; x <= sk_enum_max(SK_ENUM_SERVICE_STATUS); x++)
            sk_h_fmt(out, "<td>%llu</td>", (unsigned long long)rp->service[s][x]);
        sk_h(out, "</tr>");
    }
    sk_h(out, "</tbody></table>");
    sk_desk_bottom(out);
    free(rp);
    return 200;
fail:
    free(rp);
    sk_buf_reset(out);
    sk_desk_page_message(out, lang, sk_t(lang, T_REPORT), sk_err_text(rc));
    return 503;
}

static void csv_part(sk_buf *b, const char *part, sk_enum_id e, const uint64_t *arr)
{
    for (uint32_t c = 1; c <= sk_enum_max(e) && c < RPT_MAX; c++)
        sk_h_fmt(b, "%s,%s,%llu\r\n", part, sk_enum_name(e, c), (unsigned long long)arr[c]);
    if (arr[0])
        sk_h_fmt(b, "%s,unknown,%llu\r\n", part, (unsigned long long)arr[0]);
}

int sk_desk_report_csv(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                       uint64_t now_ms, char month_out[8])
{
    unsigned y, m;
    int rc;
    report *rp = malloc(sizeof(*rp));
    if (!rp)
        return -SK_E_NOMEM;
    if (month_of(q, now_ms, &y, &m)) {
        free(rp);
        return -SK_E_BAD_VALUE;
    }
    if ((rc = compute(rp, st, who, y, m))) {
        free(rp);
        return rc;
    }
    snprintf(month_out, 8, "%04u-%02u", y % 10000, m);
    /* names are the enumerations' codes, as sakhi-admin report --json and the CSV export */
    sk_h(out, "section,name,count\r\n");
    sk_h_fmt(out, "month,%s,\r\ntotal,cases,%llu\r\ntotal,minors,%llu\r\ntotal,review,%llu\r\n",
             month_out, (unsigned long long)rp->total, (unsigned long long)rp->minors,
             (unsigned long long)rp->review);
    csv_part(out, "status", SK_ENUM_STATUS, rp->status);
    csv_part(out, "concern", SK_ENUM_CONCERN, rp->concern);
    csv_part(out, "source", SK_ENUM_SOURCE, rp->source);
    csv_part(out, "district", SK_ENUM_DISTRICT, rp->district);
    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++) {
        char part[48];
        snprintf(part, sizeof(part), "service.%s", sk_enum_name(SK_ENUM_SERVICE, s));
        csv_part(out, part, SK_ENUM_SERVICE_STATUS, rp->service[s]);
    }
    for (int i = 0; i < TREND; i++)
        sk_h_fmt(out, "trend,%s,%llu\r\n", rp->trend_label[i],
                 (unsigned long long)rp->trend_total[i]);
    free(rp);
    return out->oom ? -SK_E_NOMEM : 0;
}

/* ---- audit trail -------------------------------------------------------------------------- */

typedef struct audit_ctx {
    sk_buf *b;
    uint64_t until; /* entries with seq <= until */
    struct {
        uint64_t seq, ts, device;
        char event[40], worker[SK_MAX_NAME + 1], detail[200];
    } * e;
    size_t n;
} audit_ctx;

static int audit_cb(const sk_audit_entry *e, void *p)
{
    audit_ctx *c = p;
    if (e->seq > c->until || c->n >= AUDIT_ROWS)
        return 1;
    c->e[c->n].seq = e->seq;
    c->e[c->n].ts = e->ts_ms;
    c->e[c->n].device = e->device;
    snprintf(c->e[c->n].event, sizeof(c->e[c->n].event), "%.*s", (int)e->event_len, e->event);
    snprintf(c->e[c->n].worker, sizeof(c->e[c->n].worker), "%.*s", (int)e->worker_len, e->worker);
    snprintf(c->e[c->n].detail, sizeof(c->e[c->n].detail), "%.*s", (int)e->detail_len, e->detail);
    c->n++;
    return 0;
}

int sk_desk_page_audit(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q)
{
    int lang = who->lang, rc;
    uint64_t head = 0, before = 0;
    uint8_t hash[32];
    audit_ctx c;
    memset(&c, 0, sizeof(c));
    const char *bs = sk_form_get(q, "before");
    if (bs && bs[0]) {
        char *end;
        before = strtoull(bs, &end, 10);
        if (*end || bs[0] < '0' || bs[0] > '9') {
            sk_desk_page_message(out, lang, sk_t(lang, T_AUDIT), sk_t(lang, T_BAD_FORM));
            return 400;
        }
    }
    if (!(c.e = calloc(AUDIT_ROWS, sizeof(*c.e)))) {
        rc = -SK_E_NOMEM;
        goto fail;
    }
    if ((rc = sk_store_audit_head(st, &head, hash)))
        goto fail;
    c.until = before && before - 1 < head ? before - 1 : head;
    uint64_t from = c.until >= AUDIT_ROWS ? c.until - AUDIT_ROWS + 1 : 0;
    rc = sk_store_audit_list(st, from, audit_cb, &c);
    if (rc < 0)
        goto fail;
    sk_desk_top(out, who, sk_t(lang, T_AUDIT));
    sk_h(out, "<h1>");
    sk_h_esc(out, sk_t(lang, T_AUDIT));
    sk_h(out, "</h1><table id=\"audit\"><thead><tr><th>seq</th><th>");
    sk_h_esc(out, sk_t(lang, T_WHEN));
    sk_h(out, "</th><th>");
    sk_h_esc(out, sk_t(lang, T_WHAT));
    sk_h(out, "</th><th>");
    sk_h_esc(out, sk_t(lang, T_WHO));
    sk_h(out, "</th><th>");
    sk_h_esc(out, sk_t(lang, T_DEVICE));
    sk_h(out, "</th><th></th></tr></thead><tbody>");
    for (size_t i = c.n; i-- > 0;) { /* newest first */
        sk_h_fmt(out, "<tr data-seq=\"%llu\"><td>%llu</td><td>", (unsigned long long)c.e[i].seq,
                 (unsigned long long)c.e[i].seq);
        sk_h_time_ist(out, c.e[i].ts);
        sk_h(out, "</td><td class=\"event\">");
        sk_h_esc(out, c.e[i].event);
        sk_h(out, "</td><td class=\"worker\">");
        sk_h_esc(out, c.e[i].worker);
        sk_h_fmt(out, "</td><td>%llu</td><td class=\"detail\">", (unsigned long long)c.e[i].device);
        sk_h_esc(out, c.e[i].detail);
        sk_h(out, "</td></tr>");
    }
    sk_h(out, "</tbody></table>");
    if (c.n && c.e[0].seq > 1)
        sk_h_fmt(out, "<p><a id=\"older\" href=\"/audit?before=%llu\">&#8592;</a></p>",
                 (unsigned long long)c.e[0].seq);
    sk_desk_bottom(out);
    free(c.e);
    return 200;
fail:
    free(c.e);
    sk_buf_reset(out);
    sk_desk_page_message(out, lang, sk_t(lang, T_AUDIT), sk_err_text(rc));
    return 503;
}
