/*
 * admin_export.c - sakhi-admin export (CSV or JSON Lines, with filters) and report (the
 * monthly counts a centre sends upward).
 *
 * Exports are the one place case content leaves the centre in bulk, so: every export writes an
 * audit entry (who, format, filters, whether identifying fields were included) before a byte of
 * data is written, and a minor's identifying fields (sk_case_redact) are withheld unless
 * --identifying names a worker with the admin role (a refusal is audited too). Deleted and
 * erased records are never exported or counted. The report holds counts only. This module owns
 * nothing between calls and writes nothing but its output and the audit entry.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_hub.h"
#include "sk_json.h"
#include "sk_report.h"
#include "sk_sample.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- filters ----------------------------------------------------------------------------- */

typedef struct filter {
    uint64_t from_ms, to_ms; /* inclusive bounds on the capture time; to 0 = open */
    uint32_t status, concern;
} filter;

/* "YYYY-MM-DD" (whole day, UTC) or a full ISO-8601 time. end: the day's last ms. */
static int parse_date(const char *s, int end, uint64_t *out)
{
    char buf[64];
    if (strlen(s) == 10) {
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        if (sk_sample_parse_time(buf, out))
            return -1;
        if (end)
            *out += 86400000u - 1;
        return 0;
    }
    return sk_sample_parse_time(s, out) ? -1 : 0;
}

static int filter_match(const filter *f, const sk_record *r)
{
    uint64_t st = 0, t = sk_case_captured_ms(r);
    if (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        return 0;
    if (t < f->from_ms || (f->to_ms && t > f->to_ms))
        return 0;
    if (f->status && (sk_case_get_uint(r, SK_F_STATUS, &st) || st != f->status))
        return 0;
    if (f->concern && !sk_case_has_concern(r, f->concern))
        return 0;
    return 1;
}

/* ---- CSV --------------------------------------------------------------------------------- */

static void csv_text(sk_buf *b, const char *s, size_t n, int allow_sign)
{
    /* A spreadsheet would run a cell starting with = @ (or + - in free text) as a formula. */
    int guard = n && (s[0] == '=' || s[0] == '@' || s[0] == '\t' || s[0] == '\r' ||
                      (!allow_sign && (s[0] == '+' || s[0] == '-')));
    sk_buf_append(b, "\"", 1);
    if (guard)
        sk_buf_append(b, "'", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            sk_buf_append(b, "\"", 1);
        sk_buf_append(b, &s[i], 1);
    }
    sk_buf_append(b, "\"", 1);
}

static void csv_code(sk_buf *b, int e, uint64_t code)
{
    const char *n = sk_enum_name((sk_enum_id)e, code);
    char tmp[32];
    if (!n) {
        snprintf(tmp, sizeof(tmp), "unknown(%" PRIu64 ")", code);
        n = tmp;
    }
    sk_buf_append(b, n, strlen(n));
}

/* One field's value as a CSV cell (empty when absent or nil). */
static void csv_field(sk_buf *b, const sk_field_info *fi, const sk_field *f)
{
    sk_mp m;
    char tmp[40];
    if (!f)
        return;
    sk_mp_init(&m, f->val, f->len);
    if (sk_mp_peek(&m) == SK_MP_NIL)
        return;
    switch (fi->type) {
    case SK_FT_UINT: {
        uint64_t v;
        if (sk_mp_read_uint(&m, &v) == 0) {
            snprintf(tmp, sizeof(tmp), "%" PRIu64, v);
            sk_buf_append(b, tmp, strlen(tmp));
        }
        return;
    }
    case SK_FT_TIME: {
        uint64_t v;
        if (sk_mp_read_uint(&m, &v) == 0) {
            sk_sample_format_time(v, tmp);
            sk_buf_append(b, tmp, strlen(tmp));
        }
        return;
    }
    case SK_FT_BOOL: {
        int v;
        if (sk_mp_read_bool(&m, &v) == 0)
            sk_buf_append(b, v ? "true" : "false", v ? 4 : 5);
        return;
    }
    case SK_FT_STR: {
        const char *s;
        uint32_t n;
        if (sk_mp_read_str(&m, &s, &n) == 0)
            csv_text(b, s, n, fi->key == SK_F_PHONE);
        return;
    }
    case SK_FT_ENUM: {
        uint64_t v;
        if (sk_mp_read_uint(&m, &v) == 0)
            csv_code(b, fi->enumeration, v);
        return;
    }
    case SK_FT_ENUM_ARRAY:
    case SK_FT_STR_ARRAY: {
        uint32_t n;
        sk_buf cell = SK_BUF_INIT;
        if (sk_mp_read_array(&m, &n))
            return;
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                sk_buf_append(&cell, ";", 1);
            if (fi->type == SK_FT_ENUM_ARRAY) {
                uint64_t v;
                if (sk_mp_read_uint(&m, &v))
                    break;
                csv_code(&cell, fi->enumeration, v);
            } else {
                const char *s;
                uint32_t sn;
                if (sk_mp_read_str(&m, &s, &sn))
                    break;
                sk_buf_append(&cell, s, sn);
            }
        }
        csv_text(b, cell.data ? (const char *)cell.data : "", cell.len, 0);
        sk_buf_free(&cell);
        return;
    }
    default: return;
    }
}

/* Append JSON text without the whitespace between tokens: one record, one line. */
static void json_compact(sk_buf *b, const char *js)
{
    int in_str = 0;
    for (const char *p = js; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1]) {
                sk_buf_append(b, p, 2);
                p++;
                continue;
            }
            if (*p == '"')
                in_str = 0;
        } else if (*p == '"') {
            in_str = 1;
        } else if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
            continue;
        }
        sk_buf_append(b, p, 1);
    }
}

#define MAX_CSV_FIELDS 64

typedef struct export_ctx {
    sk_admin *a;
    const filter *f;
    const sk_actor *actor;
    int csv;
    FILE *out;
    const sk_field_info *cols[MAX_CSV_FIELDS];
    size_t ncols;
    uint64_t rows, redacted;
    int werr;
} export_ctx;

static void csv_header(export_ctx *c)
{
    sk_buf b = SK_BUF_INIT;
    sk_buf_append(&b, "id,version,review,redacted", 26);
    for (size_t i = 0; i < c->ncols; i++) {
        sk_buf_append(&b, ",", 1);
        sk_buf_append(&b, c->cols[i]->name, strlen(c->cols[i]->name));
    }
    sk_buf_append(&b, ",follow_ups,case_notes\r\n", 24);
    if (b.oom || fwrite(b.data, 1, b.len, c->out) != b.len)
        c->werr = 1;
    sk_buf_free(&b);
}

static int export_row(const sk_record *rec, void *p)
{
    export_ctx *c = p;
    sk_record r;
    char idt[37], tmp[64];
    if (!filter_match(c->f, rec))
        return 0;
    if (sk_record_copy(&r, rec))
        return -SK_E_NOMEM;
    int minor = sk_case_is_minor(&r);
    int redacted = minor && !sk_case_may_see_identifying(c->actor);
    sk_case_redact(c->actor, &r);
    sk_buf b = SK_BUF_INIT;
    if (c->csv) {
        uint32_t nf = 0, nn = 0;
        sk_id_to_str(&r.id, idt);
        snprintf(tmp, sizeof(tmp), "%s,%" PRIu64 ",%s,%s", idt, r.version,
                 (r.flags & SK_REC_REVIEW) ? "true" : "false", redacted ? "true" : "false");
        sk_buf_append(&b, tmp, strlen(tmp));
        for (size_t i = 0; i < c->ncols; i++) {
            sk_buf_append(&b, ",", 1);
            csv_field(&b, c->cols[i], sk_record_field(&r, c->cols[i]->key));
        }
        for (uint32_t i = 0; i < r.nentries; i++) {
            if (r.entries[i].list == SK_LIST_FOLLOWUP)
                nf++;
            else if (r.entries[i].list == SK_LIST_CASENOTE)
                nn++;
        }
        snprintf(tmp, sizeof(tmp), ",%u,%u\r\n", nf, nn);
        sk_buf_append(&b, tmp, strlen(tmp));
    } else {
        char *js = sk_sample_to_json(&r);
        if (!js) {
            sk_record_free(&r);
            return -SK_E_NOMEM;
        }
        if (redacted)
            sk_buf_append(&b, "{\"redacted\":true,", 17);
        json_compact(&b, redacted ? js + 1 : js);
        sk_buf_append(&b, "\n", 1);
        free(js);
    }
    sk_record_free(&r);
    int rc = 0;
    if (b.oom)
        rc = -SK_E_NOMEM;
    else if (fwrite(b.data, 1, b.len, c->out) != b.len)
        c->werr = 1, rc = -SK_E_STORE_IO;
    sk_buf_free(&b);
    c->rows++;
    if (redacted)
        c->redacted++;
    return rc;
}

static const char k_export_help[] =
    "usage: sakhi-admin export --format csv|jsonl [--from DATE] [--to DATE] [--status S]\n"
    "                          [--concern C] [--identifying] [--out FILE]\n"
    "\n"
    "Writes the matching cases (deleted ones never) to stdout or FILE (created 0600, never\n"
    "overwritten). csv: one row per case, a header row, enumerations by name, lists joined\n"
    "with ';', follow-up and case-note counts; jsonl: one JSON object per case with every\n"
    "field and entry. DATE is YYYY-MM-DD (UTC, inclusive) or an ISO-8601 time, compared with\n"
    "the capture time. A minor's identifying fields (name, phone, village, notes,\n"
    "concern_other, follow-up and note texts) are withheld (the row says redacted) unless\n"
    "--identifying is given. Every export is written to the audit log first, under the Unix\n"
    "account that ran it.\n";

int sk_admin_cmd_export(sk_admin *a, int argc, char **argv)
{
    const char *fmt = NULL, *from = NULL, *to = NULL, *status = NULL, *concern = NULL, *as = NULL,
               *out_path = NULL;
    int identifying = 0;
    const sk_admin_opt opts[] = {
        {"format", 1, &fmt, NULL},      {"from", 1, &from, NULL},
        {"to", 1, &to, NULL},           {"status", 1, &status, NULL},
        {"concern", 1, &concern, NULL}, {"as", 1, &as, NULL},
        {"out", 1, &out_path, NULL},    {"identifying", 0, NULL, &identifying},
        {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_export_help);
    if (rc)
        return rc;
    filter f;
    memset(&f, 0, sizeof(f));
    if (!fmt)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "export needs --format csv|jsonl");
    int csv = strcmp(fmt, "csv") == 0;
    if (!csv && strcmp(fmt, "jsonl") != 0)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --format '%s' (csv or jsonl)", fmt);
    if (from && parse_date(from, 0, &f.from_ms))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --from '%s' (YYYY-MM-DD)", from);
    if (to && parse_date(to, 1, &f.to_ms))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --to '%s' (YYYY-MM-DD)", to);
    if (to && f.to_ms < f.from_ms)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--to is before --from");
    if (status && !(f.status = sk_enum_code(SK_ENUM_STATUS, status)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --status '%s'", status);
    if (concern && !(f.concern = sk_enum_code(SK_ENUM_CONCERN, concern)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --concern '%s'", concern);
    if ((rc = sk_admin_open(a, 1)))
        return rc;

    sk_actor actor;
    sk_worker wb;
    memset(&actor, 0, sizeof(actor));
    if ((rc = sk_admin_actor(a, as, &actor, &wb)))
        return rc;
    /* the operator is the shell administrator: identifying fields only when asked for */
    actor.role = identifying ? SK_ROLE_ADMIN : SK_ROLE_STAFF;

    FILE *out = stdout;
    if (out_path) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot create %s: %s", out_path,
                                 strerror(errno));
        out = fdopen(fd, "w");
        if (!out) {
            close(fd);
            unlink(out_path);
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write %s", out_path);
        }
    }
    char detail[256];
    snprintf(detail, sizeof(detail), "format=%s from=%s to=%s status=%s concern=%s identifying=%d",
             fmt, from ? from : "-", to ? to : "-", status ? status : "-", concern ? concern : "-",
             identifying);
    if ((rc = sk_admin_audit_now(a, "export", actor.worker, detail))) {
        if (out != stdout) {
            fclose(out);
            unlink(out_path);
        }
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                             "cannot write the audit log, so nothing is exported: %s",
                             sk_err_text(rc));
    }
    export_ctx c;
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.f = &f;
    c.actor = &actor;
    c.csv = csv;
    c.out = out;
    for (uint32_t key = 1; key <= 255 && c.ncols < MAX_CSV_FIELDS; key++) {
        const sk_field_info *fi = sk_case_field_info(key);
        if (fi)
            c.cols[c.ncols++] = fi;
    }
    if (csv)
        csv_header(&c);
    MDB_txn *txn = NULL;
    rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn));
    if (!rc) {
        rc = sk_store_records_each_txn(a->store, txn, export_row, &c);
        mdb_txn_abort(txn);
    }
    if (fflush(out) != 0)
        c.werr = 1;
    if (out != stdout && fclose(out) != 0)
        c.werr = 1;
    if (rc || c.werr) {
        if (out_path)
            unlink(out_path);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "export failed: %s",
                             c.werr ? "cannot write output" : sk_err_text(rc));
    }
    if (out_path || a->tty)
        fprintf(stderr,
                "sakhi-admin: exported %" PRIu64 " cases (%" PRIu64
                " minors' cases with identifying fields withheld)\n",
                c.rows, c.redacted);
    return 0;
}

/* ---- report ------------------------------------------------------------------------------ */

/* The names of a group's rows 1..n (row 0: codes the group does not know, "unknown"). */
typedef struct row_names {
    const char *name[SK_RPT_DISTRICTS];
    uint32_t n;
} row_names;

static const row_names *enum_names(row_names *l, sk_enum_id e)
{
    l->n = 0;
    for (uint32_t c = 1; c <= sk_enum_max(e) && c < SK_RPT_CODES; c++)
        l->name[++l->n] = sk_enum_name(e, c);
    return l;
}

static const row_names *district_names(row_names *l, const sk_report *rp)
{
    l->n = 0;
    for (size_t i = 0; i < rp->ndistricts; i++)
        l->name[++l->n] = rp->districts[i].slug;
    return l;
}

static void json_counts(sk_jw *w, const char *key, const row_names *l, const uint64_t *arr)
{
    sk_jw_key(w, key);
    sk_jw_obj_begin(w);
    for (uint32_t c = 1; c <= l->n; c++) {
        sk_jw_key(w, l->name[c]);
        sk_jw_uint(w, arr[c]);
    }
    if (arr[0]) {
        sk_jw_kuint(w, "unknown", arr[0]);
    }
    sk_jw_obj_end(w);
}

static void text_counts(const char *title, const row_names *l, const uint64_t *arr)
{
    printf("\n%s\n", title);
    for (uint32_t c = 1; c <= l->n; c++)
        printf("  %-28s %8" PRIu64 "\n", l->name[c], arr[c]);
    if (arr[0])
        printf("  %-28s %8" PRIu64 "\n", "unknown", arr[0]);
}

static const char k_report_help[] =
    "usage: sakhi-admin report --month YYYY-MM [--utc] [--csv] [--json]\n"
    "\n"
    "The month's figures. The month runs midnight to midnight in the centre's zone (IST), or\n"
    "in UTC with --utc.\n"
    "\n"
    "Transitions in the month, read from each case's history: received, accepted, referred\n"
    "onward, closed, reopened, declined; cases open (new, received, accepted, in_service) at\n"
    "the month's end; services given (a service whose status became given). Shown for all\n"
    "cases, for minors' cases separately, and by concern (a case with two concerns counts under\n"
    "both), referral source, district and GBVIMS incident type (docs/CASE-MODEL.md section 10).\n"
    "\n"
    "Cases captured in the month: total, minors, flagged for review, and by current status,\n"
    "concern, referral source, district (the centre's list: sakhi-admin district list) and\n"
    "per-service status.\n"
    "\n"
    "Counts only: no personal data. --csv prints the transitions as group,name,measure,count\n"
    "rows; --json prints everything as one object.\n"
    "\n"
    "On a hub (sakhi-server --hub) the figures are computed from the de-identified cases the\n"
    "centres sent, exactly as each centre computes its own: first all centres together, then\n"
    "each centre. --json gives {\"centres\": [...], \"all\": {...}, \"by_centre\": {NAME: "
    "{...}}},\n"
    "each object the one a centre's own report prints; --csv gives the totals.\n";

/* ---- transitions (storage/sk_report.h) ------------------------------------------------------ */

static void json_row(sk_jw *w, const char *key, const sk_report_row *row)
{
    sk_jw_key(w, key);
    sk_jw_obj_begin(w);
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++) {
        sk_jw_key(w, sk_report_measure_name(m));
        sk_jw_uint(w, row->n[m]);
    }
    sk_jw_obj_end(w);
}

static void json_rows(sk_jw *w, const char *key, const row_names *l, const sk_report_row *rows)
{
    sk_jw_key(w, key);
    sk_jw_obj_begin(w);
    for (uint32_t c = 1; c <= l->n; c++)
        json_row(w, l->name[c], &rows[c]);
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++)
        if (rows[0].n[m]) {
            json_row(w, "unknown", &rows[0]);
            break;
        }
    sk_jw_obj_end(w);
}

static void json_transitions(sk_jw *w, const sk_report *t)
{
    row_names names;
    sk_jw_key(w, "transitions");
    sk_jw_obj_begin(w);
    sk_jw_kuint(w, "cases", t->cases);
    json_row(w, "all", &t->all);
    json_row(w, "minors", &t->minors);
    json_rows(w, "by_concern", enum_names(&names, SK_ENUM_CONCERN), t->concern);
    json_rows(w, "by_source", enum_names(&names, SK_ENUM_SOURCE), t->source);
    json_rows(w, "by_district", district_names(&names, t), t->district);
    sk_jw_key(w, "by_gbvims");
    sk_jw_obj_begin(w);
    for (uint32_t g = 1; g <= SK_GBVIMS_COUNT; g++)
        json_row(w, sk_report_gbvims_name(g), &t->gbvims[g]);
    sk_jw_obj_end(w);
    sk_jw_key(w, "services_given");
    sk_jw_obj_begin(w);
    for (uint32_t sv = 1; sv <= SK_SERVICE_COUNT; sv++) {
        sk_jw_key(w, sk_enum_name(SK_ENUM_SERVICE, sv));
        sk_jw_uint(w, t->service_given[sv]);
    }
    sk_jw_obj_end(w);
    sk_jw_obj_end(w);
}

static void text_row(const char *name, const sk_report_row *row)
{
    printf("  %-28s", name);
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++)
        printf(" %9" PRIu64, row->n[m]);
    printf("\n");
}

static void text_header(const char *title)
{
    static const char *const k_short[SK_RPT_NMEASURES] = {"received", "accepted", "referred",
                                                          "closed",   "reopened", "declined",
                                                          "open_end", "services"};
    printf("\n%-30s", title);
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++)
        printf(" %9s", k_short[m]);
    printf("\n");
}

static void text_rows(const char *title, const row_names *l, const sk_report_row *rows)
{
    text_header(title);
    for (uint32_t c = 1; c <= l->n; c++)
        text_row(l->name[c], &rows[c]);
    for (uint32_t m = 0; m < SK_RPT_NMEASURES; m++)
        if (rows[0].n[m]) {
            text_row("unknown", &rows[0]);
            break;
        }
}

static void print_transitions(const sk_report *t)
{
    row_names names;
    text_header("Transitions in the month");
    text_row("all cases", &t->all);
    text_row("of which minors", &t->minors);
    text_rows("By concern", enum_names(&names, SK_ENUM_CONCERN), t->concern);
    text_rows("By referral source", enum_names(&names, SK_ENUM_SOURCE), t->source);
    text_rows("By district", district_names(&names, t), t->district);
    text_header("By GBVIMS incident type");
    for (uint32_t g = 1; g <= SK_GBVIMS_COUNT; g++)
        text_row(sk_report_gbvims_name(g), &t->gbvims[g]);
    printf("\nServices given in the month\n");
    for (uint32_t sv = 1; sv <= SK_SERVICE_COUNT; sv++)
        printf("  %-28s %8" PRIu64 "\n", sk_enum_name(SK_ENUM_SERVICE, sv), t->service_given[sv]);
}

/* The report's JSON object (one centre's, or a hub's totals or one of its centres'). */
static void json_report(sk_jw *w, const char *month, int utc, const sk_report *tr)
{
    const sk_report_captured *rp = &tr->captured;
    row_names names;
    sk_jw_obj_begin(w);
    sk_jw_kcstr(w, "month", month);
    sk_jw_kcstr(w, "zone", utc ? "UTC" : "IST");
    sk_jw_kuint(w, "total", rp->total);
    sk_jw_kuint(w, "minors", rp->minors);
    sk_jw_kuint(w, "review", rp->review);
    json_counts(w, "by_status", enum_names(&names, SK_ENUM_STATUS), rp->status);
    json_counts(w, "by_concern", enum_names(&names, SK_ENUM_CONCERN), rp->concern);
    json_counts(w, "by_source", enum_names(&names, SK_ENUM_SOURCE), rp->source);
    json_counts(w, "by_district", district_names(&names, tr), rp->district);
    sk_jw_key(w, "by_service");
    sk_jw_obj_begin(w);
    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++)
        json_counts(w, sk_enum_name(SK_ENUM_SERVICE, s), enum_names(&names, SK_ENUM_SERVICE_STATUS),
                    rp->service[s]);
    sk_jw_obj_end(w);
    json_transitions(w, tr);
    sk_jw_obj_end(w);
}

static void text_report(const char *title, const char *month, int utc, const sk_report *tr)
{
    const sk_report_captured *rp = &tr->captured;
    row_names names;
    printf("%s %s (%s)\n", title, month, utc ? "UTC" : "IST");
    print_transitions(tr);
    printf("\nCases captured in the month\n");
    printf("  %-28s %8" PRIu64 "\n", "cases", rp->total);
    printf("  %-28s %8" PRIu64 "\n", "of which minors", rp->minors);
    printf("  %-28s %8" PRIu64 "\n", "flagged for review", rp->review);
    text_counts("By status", enum_names(&names, SK_ENUM_STATUS), rp->status);
    text_counts("By concern", enum_names(&names, SK_ENUM_CONCERN), rp->concern);
    text_counts("By referral source", enum_names(&names, SK_ENUM_SOURCE), rp->source);
    text_counts("By district", district_names(&names, tr), rp->district);
    printf("\nBy service%-20s", "");
    for (uint32_t st = 1; st <= sk_enum_max(SK_ENUM_SERVICE_STATUS); st++)
        printf(" %11s", sk_enum_name(SK_ENUM_SERVICE_STATUS, st));
    printf("\n");
    for (uint32_t s = 1; s <= SK_SERVICE_COUNT; s++) {
        printf("  %-28s", sk_enum_name(SK_ENUM_SERVICE, s));
        for (uint32_t st = 1; st <= sk_enum_max(SK_ENUM_SERVICE_STATUS); st++)
            printf(" %11" PRIu64, rp->service[s][st]);
        printf("\n");
    }
}

/* ---- a hub's report: every centre's figures from the cases they sent (storage/sk_hub.h) ---- */

typedef struct hub_names {
    char (*name)[SK_MAX_NAME + 1];
    size_t n, cap;
} hub_names;

static int hub_name(const sk_hub_centre *c, void *p)
{
    hub_names *h = p;
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        void *nn = realloc(h->name, cap * sizeof(*h->name));
        if (!nn)
            return -SK_E_NOMEM;
        h->name = nn;
        h->cap = cap;
    }
    snprintf(h->name[h->n++], sizeof(h->name[0]), "%s", c->name);
    return 0;
}

/* A month's report on a hub: totals, then each centre's, all from what they sent. */
static int hub_report(sk_admin *a, MDB_txn *txn, const hub_names *hn, const char *month, unsigned y,
                      unsigned m, int utc, int csv, sk_report *tr)
{
    int rc = sk_hub_report_txn(a->store, txn, NULL, tr);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the centres' cases: %s",
                             sk_err_text(rc));
    sk_report *one = malloc(sizeof(*one));
    if (!one)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "out of memory");
    sk_buf b = SK_BUF_INIT;
    sk_jw w;
    sk_jw_init(&w, &b, 0);
    if (csv) {
        rc = sk_report_csv(&b, tr);
    } else if (a->json) {
        sk_jw_obj_begin(&w);
        sk_jw_key(&w, "centres");
        sk_jw_arr_begin(&w);
        for (size_t i = 0; i < hn->n; i++)
            sk_jw_cstr(&w, hn->name[i]);
        sk_jw_arr_end(&w);
        sk_jw_key(&w, "all");
        json_report(&w, month, utc, tr);
        sk_jw_key(&w, "by_centre");
        sk_jw_obj_begin(&w);
    } else {
        text_report("Monthly report, all centres,", month, utc, tr);
    }
    for (size_t i = 0; rc == 0 && !csv && i < hn->n; i++) {
        (void)sk_report_init_month(one, y, m, utc); /* the month was checked above */
        if ((rc = sk_hub_report_txn(a->store, txn, hn->name[i], one)))
            break;
        if (a->json) {
            sk_jw_key(&w, hn->name[i]);
            json_report(&w, month, utc, one);
        } else {
            char title[SK_MAX_NAME + 40];
            snprintf(title, sizeof(title), "\n\nMonthly report, centre %s,", hn->name[i]);
            text_report(title, month, utc, one);
        }
    }
    if (a->json && !csv) {
        sk_jw_obj_end(&w);
        sk_jw_obj_end(&w);
        sk_buf_append(&b, "\n", 1);
    }
    free(one);
    if (rc == 0 && b.oom)
        rc = -SK_E_NOMEM;
    if (rc == 0 && b.len && fwrite(b.data, 1, b.len, stdout) != b.len)
        rc = -SK_E_STORE_IO;
    sk_buf_free(&b);
    return rc ? sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot make the report: %s", sk_err_text(rc))
              : 0;
}

int sk_admin_cmd_report(sk_admin *a, int argc, char **argv)
{
    const char *month = NULL;
    int utc = 0, csv = 0;
    const sk_admin_opt opts[] = {{"month", 1, &month, NULL},
                                 {"utc", 0, NULL, &utc},
                                 {"csv", 0, NULL, &csv},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_report_help);
    if (rc)
        return rc;
    unsigned y, m;
    if (!month || sk_report_parse_month(month, &y, &m))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "report needs --month YYYY-MM");
    if (csv && a->json)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--csv and --json exclude each other");
    sk_report *tr = malloc(sizeof(*tr));
    if (!tr)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "out of memory");
    if (sk_report_init_month(tr, y, m, utc)) {
        free(tr);
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --month '%s'", month);
    }
    if ((rc = sk_admin_open(a, 1))) {
        free(tr);
        return rc;
    }
    MDB_txn *txn;
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn)))) {
        free(tr);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read: %s", sk_err_text(rc));
    }
    hub_names hn = {NULL, 0, 0};
    rc = sk_hub_centres_txn(a->store, txn, hub_name, &hn);
    if (rc == 0 && hn.n) { /* a hub: the centres' figures, from what they sent */
        rc = hub_report(a, txn, &hn, month, y, m, utc, csv, tr);
        mdb_txn_abort(txn);
        free(hn.name);
        free(tr);
        return rc;
    }
    free(hn.name);
    if (rc == 0)
        rc = sk_report_run_txn(a->store, txn, tr);
    mdb_txn_abort(txn);
    if (rc) {
        free(tr);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read records: %s", sk_err_text(rc));
    }
    if (csv) {
        sk_buf b = SK_BUF_INIT;
        rc = sk_report_csv(&b, tr);
        free(tr);
        if (rc) {
            sk_buf_free(&b);
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "out of memory");
        }
        int ok = fwrite(b.data, 1, b.len, stdout) == b.len;
        sk_buf_free(&b);
        return ok ? 0 : sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write output");
    }
    if (a->json) {
        sk_buf b = SK_BUF_INIT;
        sk_jw w;
        sk_jw_init(&w, &b, 0);
        json_report(&w, month, utc, tr);
        free(tr);
        if (b.oom) {
            sk_buf_free(&b);
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "out of memory");
        }
        printf("%.*s\n", (int)b.len, (const char *)b.data);
        sk_buf_free(&b);
        return 0;
    }
    text_report("Monthly report", month, utc, tr);
    free(tr);
    return 0;
}
