/*
 * sk_desk_report.c - the desk's monthly report and the administrator's audit trail.
 *
 * The report is storage/sk_report.h's, the one `sakhi-admin report` prints: the month in IST,
 * the transitions read from each case's history (all cases, minors, by concern, source,
 * district and GBVIMS type; services given), the cases captured in the month by their current
 * values, and the twelve-month trend; here drawn as tables and server-drawn SVG bar charts,
 * inside the person's scope (an administrator's figures are sakhi-admin's exactly). The CSV
 * download is sk_report_csv, byte for byte `sakhi-admin report --csv`.
 *
 * Runs on libuv's thread pool with read transactions only. The report holds counts, never a
 * field's content.
 */
#include "sk_desk_int.h"

#include "sk_desk_html.h"
#include "sk_err.h"
#include "sk_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_ROWS 100

/* The month asked for (?month=YYYY-MM; the current IST month by default). 0 or -1. */
static int month_of(const sk_form *q, uint64_t now_ms, unsigned *y, unsigned *m)
{
    const char *s = sk_form_get(q, "month");
    if (!s || !s[0]) {
        sk_report_month_of(now_ms, y, m);
        return 0;
    }
    return sk_report_parse_month(s, y, m) ? -1 : 0;
}

/* The report of the month asked for, inside who's scope. 0, -SK_E_BAD_VALUE for a bad month,
 * or a store code. */
static int compute(sk_report *rp, sk_store *st, const sk_desk_who *who, const sk_form *q,
                   uint64_t now_ms)
{
    MDB_txn *txn = NULL;
    sk_actor actor;
    unsigned y, m;
    int rc;
    if (month_of(q, now_ms, &y, &m) || sk_report_init_month(rp, y, m, 0))
        return -SK_E_BAD_VALUE;
    sk_desk_actor(who, &actor);
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn))))
        return rc;
    rc = sk_report_run_for_txn(st, txn, &actor, rp);
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

/* A group's rows 1..n: what each shows in data-code (the enumeration's or district's name) and
 * its label in the page's language. Row 0 counts codes the group does not know ("unknown"). */
typedef struct rowset {
    const char *code[SK_RPT_DISTRICTS];
    const char *label[SK_RPT_DISTRICTS];
    uint32_t n;
} rowset;

static const rowset *enum_rows(rowset *rs, int lang, sk_enum_id e)
{
    rs->n = 0;
    for (uint32_t c = 1; c <= sk_enum_max(e) && c < SK_RPT_CODES; c++) {
        rs->code[++rs->n] = sk_enum_name(e, c);
        rs->label[rs->n] = sk_t_enum(lang, e, c);
    }
    return rs;
}

/* The report's districts, named from the centre's list (dl, read for this page). */
static const rowset *district_rows(rowset *rs, int lang, const sk_report *rp,
                                   const sk_desk_dlist *dl)
{
    rs->n = 0;
    for (size_t i = 0; i < rp->ndistricts; i++) {
        const char *name = sk_desk_dlist_find(dl, lang, rp->districts[i].code);
        rs->code[++rs->n] = rp->districts[i].slug;
        rs->label[rs->n] = name ? name : rp->districts[i].slug;
    }
    return rs;
}

static void counts_chart(sk_buf *b, const char *id, const rowset *rs, const uint64_t *arr)
{
    const char *labels[SK_RPT_DISTRICTS];
    uint64_t vals[SK_RPT_DISTRICTS];
    size_t n = 0;
    for (uint32_t c = 1; c <= rs->n; c++) {
        labels[n] = rs->label[c];
        vals[n++] = arr[c];
    }
    if (arr[0]) {
        labels[n] = "?";
        vals[n++] = arr[0];
    }
    hbars(b, id, labels, vals, n);
}

/* A counts row's start: its CSV group (when group is not NULL) and code as data attributes,
 * then its label as the row's heading cell. */
static void row_head(sk_buf *b, const char *group, const char *code, const char *label)
{
    sk_h(b, "<tr");
    if (group) {
        sk_h(b, " data-group=\"");
        sk_h_esc(b, group);
        sk_h(b, "\"");
    }
    sk_h(b, " data-code=\"");
    sk_h_esc(b, code);
    sk_h(b, "\"><th>");
    sk_h_esc(b, label);
    sk_h(b, "</th>");
}

static void counts_table(sk_buf *b, const char *id, const rowset *rs, const uint64_t *arr)
{
    sk_h(b, "<table class=\"counts\" id=\"");
    sk_h(b, id);
    sk_h(b, "\"><tbody>");
    for (uint32_t c = 1; c <= rs->n; c++) {
        row_head(b, NULL, rs->code[c], rs->label[c]);
        sk_h_fmt(b, "<td>%llu</td></tr>", (unsigned long long)arr[c]);
    }
    if (arr[0])
        sk_h_fmt(b, "<tr data-code=\"unknown\"><th>?</th><td>%llu</td></tr>",
                 (unsigned long long)arr[0]);
    sk_h(b, "</tbody></table>");
}

static void trend_chart(sk_buf *b, const sk_report *rp)
{
    uint64_t max = 1;
    for (int i = 0; i < SK_REPORT_TREND; i++)
        if (rp->trend[i] > max)
            max = rp->trend[i];
    sk_h(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"trend\" "
            "viewBox=\"0 0 600 200\" width=\"600\" height=\"200\" role=\"img\">");
    for (int i = 0; i < SK_REPORT_TREND; i++) {
        unsigned h = (unsigned)(rp->trend[i] * 150u / max);
        unsigned x = (unsigned)i * 50u;
        sk_h_fmt(b,
                 "<rect x=\"%u\" y=\"%u\" width=\"40\" height=\"%u\" fill=\"#5b2a6e\" "
                 "data-month=\"%s\" data-count=\"%llu\"/><text x=\"%u\" y=\"%u\" "
                 "font-size=\"11\">%llu</text><text x=\"%u\" y=\"196\" font-size=\"10\">%s"
                 "</text>",
                 x, 170 - h, h, rp->trend_month[i], (unsigned long long)rp->trend[i], x + 4,
                 165 - h, (unsigned long long)rp->trend[i], x, rp->trend_month[i] + 2);
    }
    sk_h(b, "</svg>");
}

/* The transition measures' labels, in sk_report_measure order. */
static const sk_desk_msg k_measure_label[SK_RPT_NMEASURES] = {
    T_M_RECEIVED, T_M_ACCEPTED, T_M_REFERRED,    T_M_CLOSED,
    T_M_REOPENED, T_M_DECLINED, T_M_OPEN_AT_END, T_M_SERVICES,
};
static const sk_desk_msg k_gbvims_label[SK_GBVIMS_COUNT + 1] = {
    T_GBVIMS,   T_G_RAPE,          T_G_SEXUAL_ASSAULT, T_G_PHYSICAL_ASSAULT, T_G_FORCED_MARRIAGE,
    T_G_DENIAL, T_G_PSYCHOLOGICAL,
};

/* One row of the transitions table: its CSV group and name as data attributes, each measure's
 * count in a cell named for it. */
static void transition_row(sk_buf *b, const char *group, const char *name, const char *label,
                           const sk_report_row *row)
{
    row_head(b, group, name, label);
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++)
        sk_h_fmt(b, "<td data-measure=\"%s\">%llu</td>", sk_report_measure_name(m),
                 (unsigned long long)row->n[m]);
    sk_h(b, "</tr>");
}

static void transition_group(sk_buf *b, int lang, sk_desk_msg title, const char *group,
                             const rowset *rs, const sk_report_row *rows)
{
    sk_h_fmt(b, "<tr class=\"group\"><th colspan=\"%d\">", SK_RPT_NMEASURES + 1);
    sk_h_esc(b, sk_t(lang, title));
    sk_h(b, "</th></tr>");
    for (uint32_t c = 1; c <= rs->n; c++)
        transition_row(b, group, rs->code[c], rs->label[c], &rows[c]);
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++)
        if (rows[0].n[m]) {
            transition_row(b, group, "unknown", "?", &rows[0]);
            break;
        }
}

static void transitions(sk_buf *b, int lang, const sk_report *rp, const sk_desk_dlist *dl)
{
    rowset rs;
    sk_h(b, "<h2>");
    sk_h_esc(b, sk_t(lang, T_TRANSITIONS));
    sk_h(b, "</h2><p class=\"hint\">");
    sk_h_esc(b, sk_t(lang, T_TRANSITIONS_HINT));
    sk_h(b, "</p><table class=\"counts\" id=\"transitions\"><thead><tr><th></th>");
    sk_desk_th_cells(b, lang, k_measure_label, SK_RPT_NMEASURES);
    sk_h(b, "</tr></thead><tbody>");
    transition_row(b, "all", "all", sk_t(lang, T_ALL_CASES), &rp->all);
    transition_row(b, "minors", "minors", sk_t(lang, T_MINOR), &rp->minors);
    transition_group(b, lang, T_CONCERNS, "concern", enum_rows(&rs, lang, SK_ENUM_CONCERN),
                     rp->concern);
    transition_group(b, lang, T_SOURCE, "source", enum_rows(&rs, lang, SK_ENUM_SOURCE), rp->source);
    transition_group(b, lang, T_DISTRICT, "district", district_rows(&rs, lang, rp, dl),
                     rp->district);
    sk_h_fmt(b, "<tr class=\"group\"><th colspan=\"%d\">", SK_RPT_NMEASURES + 1);
    sk_h_esc(b, sk_t(lang, T_GBVIMS));
    sk_h(b, "</th></tr>");
    for (uint32_t g = 1; g <= SK_GBVIMS_COUNT; g++)
        transition_row(b, "gbvims", sk_report_gbvims_name(g), sk_t(lang, k_gbvims_label[g]),
                       &rp->gbvims[g]);
    sk_h(b, "</tbody></table>");
    const char *labels[SK_RPT_NMEASURES];
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++)
        labels[m] = sk_t(lang, k_measure_label[m]);
    hbars(b, "chart-transitions", labels, rp->all.n, SK_RPT_NMEASURES);
    sk_h(b, "<h2>");
    sk_h_esc(b, sk_t(lang, T_SERVICES_GIVEN));
    sk_h(b, "</h2>");
    counts_table(b, "services-given", enum_rows(&rs, lang, SK_ENUM_SERVICE), rp->service_given);
}

static void captured(sk_buf *b, int lang, const sk_report *rp, const sk_desk_dlist *dl)
{
    rowset rs;
    const sk_report_captured *c = &rp->captured;
    sk_h(b, "<h2>");
    sk_h_esc(b, sk_t(lang, T_CAPTURED_MONTH));
    sk_h_fmt(b,
             "</h2><table class=\"counts\" id=\"totals\"><tbody><tr data-code=\"total\"><th>%s"
             "</th><td>%llu</td></tr>",
             sk_t(lang, T_CASES), (unsigned long long)c->total);
    sk_h_fmt(b, "<tr data-code=\"minors\"><th>%s</th><td>%llu</td></tr>", sk_t(lang, T_MINOR),
             (unsigned long long)c->minors);
    sk_h_fmt(b, "<tr data-code=\"review\"><th>%s</th><td>%llu</td></tr></tbody></table>",
             sk_t(lang, T_REVIEW), (unsigned long long)c->review);
    sk_h(b, "<h2>");
    sk_h_esc(b, sk_t(lang, T_TREND));
    sk_h(b, "</h2>");
    trend_chart(b, rp);
    static const struct {
        sk_desk_msg title;
        sk_enum_id e; /* SK_ENUM_DISTRICT: rows from the centre's list */
        const char *id;
    } k_parts[] = {{T_STATUS, SK_ENUM_STATUS, "status"},
                   {T_CONCERNS, SK_ENUM_CONCERN, "concern"},
                   {T_SOURCE, SK_ENUM_SOURCE, "source"},
                   {T_DISTRICT, SK_ENUM_DISTRICT, "district"}};
    const uint64_t *arrs[] = {c->status, c->concern, c->source, c->district};
    for (size_t i = 0; i < sizeof(k_parts) / sizeof(k_parts[0]); i++) {
        char cid[24];
        const rowset *parts = k_parts[i].e == SK_ENUM_DISTRICT ? district_rows(&rs, lang, rp, dl)
                                                               : enum_rows(&rs, lang, k_parts[i].e);
        snprintf(cid, sizeof(cid), "chart-%s", k_parts[i].id);
        sk_h(b, "<h2>");
        sk_h_esc(b, sk_t(lang, k_parts[i].title));
        sk_h(b, "</h2><div class=\"part\">");
        counts_table(b, k_parts[i].id, parts, arrs[i]);
        counts_chart(b, cid, parts, arrs[i]);
        sk_h(b, "</div>");
    }
    sk_h(b, "<h2>");
    sk_h_esc(b, sk_t(lang, T_SERVICES));
    sk_h(b, "</h2><table class=\"counts\" id=\"services\"><thead><tr><th></th>");
    for (uint32_t s = 1; s <= sk_enum_max(SK_ENUM_SERVICE_STATUS); s++) {
        sk_h(b, "<th>");
        sk_h_esc(b, sk_t_enum(lang, SK_ENUM_SERVICE_STATUS, s));
        sk_h(b, "</th>");
    }
    sk_h(b, "</tr></thead><tbody>");
    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++) {
        row_head(b, NULL, sk_enum_name(SK_ENUM_SERVICE, s), sk_t_enum(lang, SK_ENUM_SERVICE, s));
        for (uint32_t x = 1; x <= sk_enum_max(SK_ENUM_SERVICE_STATUS); x++)
            sk_h_fmt(b, "<td>%llu</td>", (unsigned long long)c->service[s][x]);
        sk_h(b, "</tr>");
    }
    sk_h(b, "</tbody></table>");
}

int sk_desk_page_report(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                        uint64_t now_ms)
{
    int lang = who->lang, rc;
    sk_desk_dlist dl = {0};
    sk_report *rp = malloc(sizeof(*rp));
    if (!rp) {
        rc = -SK_E_NOMEM;
        goto fail;
    }
    if ((rc = compute(rp, st, who, q, now_ms)) == -SK_E_BAD_VALUE) {
        free(rp);
        sk_desk_page_message(out, lang, sk_t(lang, T_REPORT), sk_t(lang, T_BAD_FORM));
        return 400;
    }
    if (rc || (rc = sk_desk_dlist_load(&dl, st, NULL)))
        goto fail;
    sk_desk_top_h1(out, who, T_REPORT);
    sk_h_fmt(out, " <span id=\"month\">%s</span></h1>", rp->month);
    sk_h(out, "<form method=\"get\" action=\"/report\" id=\"f-month\"><input name=\"month\" "
              "id=\"report-month\" type=\"month\" value=\"");
    sk_h(out, rp->month);
    sk_h(out, "\"> <button>");
    sk_h_esc(out, sk_t(lang, T_FILTER));
    sk_h(out, "</button> <a id=\"csv\" href=\"/report.csv?month=");
    sk_h(out, rp->month);
    sk_h(out, "\">CSV</a></form><p class=\"hint\">");
    sk_h_esc(out, sk_t(lang, T_REPORT_HINT));
    sk_h(out, "</p>");
    transitions(out, lang, rp, &dl);
    captured(out, lang, rp, &dl);
    sk_desk_bottom(out);
    sk_desk_dlist_free(&dl);
    free(rp);
    return 200;
fail:
    sk_desk_dlist_free(&dl);
    free(rp);
    return sk_desk_page_failed(out, lang, T_REPORT, rc);
}

int sk_desk_report_csv(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                       uint64_t now_ms, char month_out[8])
{
    int rc;
    sk_report *rp = malloc(sizeof(*rp));
    if (!rp)
        return -SK_E_NOMEM;
    if (!(rc = compute(rp, st, who, q, now_ms))) {
        memcpy(month_out, rp->month, sizeof(rp->month));
        rc = sk_report_csv(out, rp);
    }
    free(rp);
    return rc;
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
    sk_desk_top_h1(out, who, T_AUDIT);
    static const sk_desk_msg cols[] = {T_WHEN, T_WHAT, T_WHO, T_DEVICE};
    sk_h(out, "</h1><table id=\"audit\"><thead><tr><th>seq</th>");
    sk_desk_th_cells(out, lang, cols, sizeof(cols) / sizeof(cols[0]));
    sk_h(out, "<th></th></tr></thead><tbody>");
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
    return sk_desk_page_failed(out, lang, T_AUDIT, rc);
}
