/*
 * sk_desk_case.c - the desk's case page: the record's fields, its workflow's next steps as
 * forms (every one a casework API operation, sk_caseops.h), tasks, the conflict review with
 * "keep this value" choices, the entries, who changed which field (the store's journal) and
 * who viewed or changed the record (the audit chain), and the displaced values.
 *
 * Runs on libuv's thread pool with read transactions only (sk_desk_pages.c says why). Every
 * string from the store is escaped; a minor's identifying values are withheld from a role that
 * may not see them (sk_case_may_see_identifying_rec, the same rule as sync and sakhi-admin) and
 * every other identifying value stays hidden until the person asks to see it (audited). The
 * page is bounded: at most PAGE_ROWS rows per list, the audit read over its newest
 * AUDIT_WINDOW entries.
 */
#include "sk_desk_int.h"

#include "sk_desk_html.h"
#include "sk_err.h"
#include "sk_mp.h"
#include "sk_review.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_ROWS 100
#define VIEW_ROWS 30
#define AUDIT_WINDOW 20000u
#define MAX_PEOPLE 64
#define MAX_CANDIDATES 16
#define MAX_TASKS 64
#define DAY_MS (24ull * 3600 * 1000)

static void value_cell(sk_buf *b, int lang, const sk_field_info *fi, const sk_field *f)
{
    sk_mp m;
    sk_mp_init(&m, f->val, f->len);
    switch (fi->type) {
    case SK_FT_UINT: {
        uint64_t u;
        if (sk_mp_read_uint(&m, &u) == 0)
            sk_h_fmt(b, "%llu", (unsigned long long)u);
        return;
    }
    case SK_FT_TIME: {
        uint64_t u;
        if (sk_mp_read_uint(&m, &u) == 0)
            sk_h_time_ist(b, u);
        return;
    }
    case SK_FT_BOOL: {
        int x;
        if (sk_mp_read_bool(&m, &x) == 0)
            sk_h(b, x ? "&#10003;" : "&#10007;");
        return;
    }
    case SK_FT_ENUM: {
        uint64_t u;
        if (sk_mp_read_uint(&m, &u) == 0)
            sk_h_esc(b, sk_t_enum(lang, (sk_enum_id)fi->enumeration, u));
        return;
    }
    case SK_FT_STR: {
        const char *s;
        uint32_t n;
        if (sk_mp_peek(&m) == SK_MP_STR && sk_mp_read_str(&m, &s, &n) == 0)
            sk_h_escn(b, s, n);
        return;
    }
    case SK_FT_ENUM_ARRAY:
    case SK_FT_STR_ARRAY: {
        uint32_t n;
        if (sk_mp_read_array(&m, &n))
            return;
        for (uint32_t i = 0; i < n && i < 64; i++) {
            if (i)
                sk_h(b, ", ");
            if (fi->type == SK_FT_ENUM_ARRAY) {
                uint64_t u;
                if (sk_mp_read_uint(&m, &u))
                    return;
                sk_h_esc(b, sk_t_enum(lang, (sk_enum_id)fi->enumeration, u));
            } else {
                const char *s;
                uint32_t sl;
                if (sk_mp_read_str(&m, &s, &sl))
                    return;
                sk_h_escn(b, s, sl);
            }
        }
        return;
    }
    default: return;
    }
}

static void entry_row(sk_buf *b, const sk_entry *e)
{
    sk_mp m;
    uint32_t n;
    const char *by = "", *text = "";
    uint32_t by_len = 0, text_len = 0;
    uint64_t at = 0;
    sk_mp_init(&m, e->val, e->len);
    if (sk_mp_read_map(&m, &n))
        return;
    for (uint32_t i = 0; i < n && i < 16; i++) {
        uint64_t key;
        if (sk_mp_read_uint(&m, &key))
            return;
        if (key == SK_ENTRY_BY && sk_mp_peek(&m) == SK_MP_STR)
            sk_mp_read_str(&m, &by, &by_len);
        else if (key == SK_ENTRY_TEXT && sk_mp_peek(&m) == SK_MP_STR)
            sk_mp_read_str(&m, &text, &text_len);
        else if (key == SK_ENTRY_AT && sk_mp_peek(&m) == SK_MP_UINT)
            sk_mp_read_uint(&m, &at);
        else if (sk_mp_skip(&m))
            return;
    }
    sk_h(b, "<li><span class=\"when\">");
    sk_h_time_ist(b, at ? at : SK_HLC_MS(e->hlc));
    sk_h(b, "</span> <b>");
    sk_h_escn(b, by, by_len);
    sk_h(b, e->list == SK_LIST_CASENOTE ? "</b> (note) " : "</b> ");
    sk_h_escn(b, text, text_len);
    sk_h(b, "</li>");
}

typedef struct hist_ctx {
    sk_buf *b;
    int lang, show_identity;
    unsigned n;
} hist_ctx;
static int hist_row(const sk_history_item *h, void *p)
{
    hist_ctx *c = p;
    if (c->n++ >= PAGE_ROWS)
        return 1;
    const sk_field_info *fi = sk_case_field_info(h->key);
    sk_h(c->b, "<tr><td>");
    sk_h_time_ist(c->b, SK_HLC_MS(h->hlc));
    sk_h_fmt(c->b, "</td><td>%llu</td><td>", (unsigned long long)h->seq);
    sk_h_esc(c->b, fi ? fi->name : h->key ? "?" : "entry");
    sk_h(c->b, "</td><td>");
    if (fi && (!fi->identifying || c->show_identity) && h->len) {
        sk_field f = {.key = h->key, .val = (uint8_t *)h->val, .len = h->len};
        value_cell(c->b, c->lang, fi, &f);
    } else if (fi && h->len) {
        sk_h_esc(c->b, sk_t(c->lang, T_HIDDEN));
    }
    sk_h(c->b, h->lost_incoming ? " (lost)</td></tr>" : "</td></tr>");
    return 0;
}

/* ---- people the forms offer --------------------------------------------------------------- */

typedef struct people {
    uint32_t district; /* the case's */
    char staff[MAX_PEOPLE][SK_MAX_NAME + 1];
    char field[MAX_PEOPLE][SK_MAX_NAME + 1];
    size_t nstaff, nfield;
} people;

static int people_cb(const sk_worker *w, void *p)
{
    people *pp = p;
    if (w->disabled || (w->district != 0 && w->district != pp->district))
        return 0;
    if ((w->role == SK_ROLE_STAFF || w->role == SK_ROLE_ADMIN) && pp->nstaff < MAX_PEOPLE)
        memcpy(pp->staff[pp->nstaff++], w->id, sizeof(pp->staff[0]));
    else if (w->role == SK_ROLE_FIELD && pp->nfield < MAX_PEOPLE)
        memcpy(pp->field[pp->nfield++], w->id, sizeof(pp->field[0]));
    return 0;
}

static void options(sk_buf *b, char (*ids)[SK_MAX_NAME + 1], size_t n, const char *sel)
{
    for (size_t i = 0; i < n; i++)
        sk_desk_option(b, ids[i], ids[i], sel && strcmp(sel, ids[i]) == 0);
}

/* ---- forms -------------------------------------------------------------------------------- */

static void form_open(sk_buf *b, const sk_desk_who *who, const char *idt, const char *op,
                      const char *form_id)
{
    sk_h(b, "<form method=\"post\" action=\"/case/");
    sk_h(b, op);
    sk_h(b, "\" class=\"action\" id=\"");
    sk_h(b, form_id);
    sk_h(b, "\">");
    sk_desk_hidden_csrf(b, who->csrf);
    sk_h(b, "<input type=\"hidden\" name=\"id\" value=\"");
    sk_h(b, idt);
    sk_h(b, "\">");
}

static void form_close(sk_buf *b, int lang, const char *button_id, sk_desk_msg label)
{
    sk_h(b, "<button id=\"");
    sk_h(b, button_id);
    sk_h(b, "\">");
    sk_h_esc(b, sk_t(lang, label));
    sk_h(b, "</button></form>");
}

static void text_input(sk_buf *b, int lang, const char *name, const char *id, sk_desk_msg label,
                       int required)
{
    sk_h(b, "<label>");
    sk_h_esc(b, sk_t(lang, label));
    sk_h(b, " <input name=\"");
    sk_h(b, name);
    sk_h(b, "\" id=\"");
    sk_h(b, id);
    sk_h(b, required ? "\" required maxlength=\"256\"></label>" : "\" maxlength=\"256\"></label>");
}

/* A form with one button and, if label_text, one text field named field. */
static void simple_form(sk_buf *b, const sk_desk_who *who, const char *idt, const char *op,
                        sk_desk_msg button, const char *field, int required)
{
    char fid[48], tid[56];
    snprintf(fid, sizeof(fid), "f-%s", op);
    snprintf(tid, sizeof(tid), "%s-text", op);
    form_open(b, who, idt, op, fid);
    if (field) {
        sk_h(b, "<input name=\"");
        sk_h(b, field);
        sk_h(b, "\" id=\"");
        sk_h(b, tid);
        sk_h(b, required ? "\" required maxlength=\"1000\">" : "\" maxlength=\"1000\">");
    }
    form_close(b, who->lang, op, button);
}

static void actions(sk_buf *b, const sk_desk_who *who, const char *idt, const sk_record *r,
                    const people *pp)
{
    int lang = who->lang;
    uint64_t st = 0, svc = 0;
    int consent = 0;
    (void)sk_case_get_uint(r, SK_F_STATUS, &st);
    if (sk_case_get_bool(r, SK_F_CONSENT_SHARE, &consent) != 0)
        consent = 0;
    int live = st == SK_STATUS_ACCEPTED || st == SK_STATUS_IN_SERVICE;
    sk_h(b, "<section class=\"actions\" id=\"actions\"><h2>");
    sk_h_esc(b, sk_t(lang, T_ACTIONS));
    sk_h(b, "</h2>");
    if (st == SK_STATUS_RECEIVED)
        simple_form(b, who, idt, "accept", T_ACCEPT, NULL, 0);
    if (st == SK_STATUS_NEW || st == SK_STATUS_RECEIVED) {
        form_open(b, who, idt, "decline", "f-decline");
        sk_h(b, "<select name=\"decline_reason\" id=\"decline-reason\">");
        sk_desk_enum_options(b, lang, SK_ENUM_DECLINE_REASON, 0);
        sk_h(b, "</select>");
        text_input(b, lang, "reason", "decline-text", T_REASON, 0);
        form_close(b, lang, "decline", T_DECLINE);
    }
    if (st == SK_STATUS_ACCEPTED)
        simple_form(b, who, idt, "start", T_START_SERVICE, NULL, 0);
    if (live) {
        form_open(b, who, idt, "service", "f-service");
        sk_h(b, "<select name=\"service\" id=\"service-name\">");
        sk_desk_enum_options(b, lang, SK_ENUM_SERVICE, 0);
        sk_h(b, "</select><select name=\"service_status\" id=\"service-status\">");
        sk_desk_enum_options(b, lang, SK_ENUM_SERVICE_STATUS, 0);
        sk_h(b, "</select>");
        form_close(b, lang, "service", T_SET_SERVICE);
        if (sk_case_get_uint(r, SK_F_SERVICE_SHELTER, &svc) == 0 && svc == SK_SVC_IN_PROGRESS &&
            sk_record_field(r, SK_F_SHELTER_START)) {
            form_open(b, who, idt, "shelter-extend", "f-shelter-extend");
            sk_h(b, "<input name=\"days\" id=\"shelter-days\" type=\"number\" min=\"6\" "
                    "max=\"10\" required>");
            form_close(b, lang, "shelter-extend", T_SHELTER_EXTEND);
        } else {
            form_open(b, who, idt, "shelter", "f-shelter");
            sk_h(b, "<label>");
            sk_h_esc(b, sk_t(lang, T_FROM_DATE));
            sk_h(b, " <input name=\"start\" id=\"shelter-start\" type=\"date\"></label>");
            form_close(b, lang, "shelter", T_SHELTER_START);
        }
        form_open(b, who, idt, "refer", "f-refer");
        sk_h(b, "<select name=\"destination\" id=\"refer-destination\">");
        sk_desk_enum_options(b, lang, SK_ENUM_DESTINATION, 0);
        sk_h(b, "</select>");
        text_input(b, lang, "detail", "refer-detail", T_DETAIL, 0);
        text_input(b, lang, "reason", "refer-reason", T_REASON, 0);
        if (!consent) {
            sk_h(b, "<p class=\"hint\">");
            sk_h_esc(b, sk_t(lang, T_NO_CONSENT));
            sk_h(b, "</p>");
            text_input(b, lang, "override", "refer-override", T_OVERRIDE, 0);
        }
        form_close(b, lang, "refer", T_REFER);
        simple_form(b, who, idt, "close", T_CLOSE_CASE, "reason", 1);
    }
    if (st == SK_STATUS_CLOSED || st == SK_STATUS_REFERRED)
        simple_form(b, who, idt, "reopen", T_REOPEN, "reason", 1);
    if (st != SK_STATUS_DECLINED) {
        char owner[SK_MAX_NAME + 1] = "";
        (void)sk_case_get_str(r, SK_F_OWNER, owner, sizeof(owner));
        form_open(b, who, idt, "assign", "f-assign");
        sk_desk_select_open(b, lang, T_OWNER, "owner", "assign-owner");
        sk_desk_option(b, "", sk_t(lang, T_KEEP), 0);
        options(b, (char(*)[SK_MAX_NAME + 1]) pp->staff, pp->nstaff, NULL);
        sk_h(b, "</select></label>");
        sk_desk_select_open(b, lang, T_WORKER, "field_worker", "assign-worker");
        sk_desk_option(b, "", sk_t(lang, T_KEEP), 0);
        sk_desk_option(b, "-", sk_t(lang, T_NOBODY), 0);
        options(b, (char(*)[SK_MAX_NAME + 1]) pp->field, pp->nfield, NULL);
        sk_h(b, "</select></label>");
        form_close(b, lang, "assign", T_ASSIGN);

        form_open(b, who, idt, "task-add", "f-task-add");
        text_input(b, lang, "text", "task-text", T_TASK, 1);
        sk_desk_select_open(b, lang, T_FOR, "for", "task-for");
        options(b, (char(*)[SK_MAX_NAME + 1]) pp->staff, pp->nstaff, who->user);
        options(b, (char(*)[SK_MAX_NAME + 1]) pp->field, pp->nfield, NULL);
        sk_h(b, "</select></label><label>");
        sk_h_esc(b, sk_t(lang, T_DUE));
        sk_h(b, " <input name=\"due\" id=\"task-due\" type=\"date\" required></label>");
        form_close(b, lang, "task-add", T_ADD_TASK);

        simple_form(b, who, idt, "note", T_ADD_NOTE, "text", 1);
    }
    sk_h(b, "</section>");
}

/* ---- tasks -------------------------------------------------------------------------------- */

static void tasks_section(sk_buf *b, const sk_desk_who *who, const char *idt, const sk_record *r,
                          uint64_t now_ms)
{
    int lang = who->lang;
    sk_task_view *tv = malloc(MAX_TASKS * sizeof(*tv));
    size_t nt = 0;
    if (!tv) {
        b->oom = 1;
        return;
    }
    if (sk_case_tasks(r, tv, MAX_TASKS, &nt) != 0)
        nt = 0;
    if (nt > MAX_TASKS)
        nt = MAX_TASKS;
    sk_h(b, "<h2>");
    sk_h_esc(b, sk_t(lang, T_TASKS));
    sk_h(b, "</h2>");
    if (nt == 0) {
        sk_desk_none(b, lang);
        free(tv);
        return;
    }
    static const sk_desk_msg cols[] = {T_TASK, T_FOR, T_DUE, T_STATUS};
    sk_h(b, "<table id=\"tasks\"><thead><tr>");
    sk_desk_th_cells(b, lang, cols, sizeof(cols) / sizeof(cols[0]));
    sk_h(b, "<th></th></tr></thead><tbody>");
    for (size_t i = 0; i < nt; i++) {
        const sk_task_view *t = &tv[i];
        char tid[37];
        sk_id_to_str(&t->id, tid);
        int urg = sk_task_urgency(t, now_ms, 7 * DAY_MS);
        sk_h(b, "<tr data-task=\"");
        sk_h(b, tid);
        sk_h_fmt(b, "\" class=\"task u%d\"><td>", urg);
        sk_h_escn(b, t->text, t->text_len);
        sk_h(b, "</td><td>");
        sk_h_escn(b, t->for_worker, t->for_len);
        sk_h(b, "</td><td>");
        sk_h_time_ist(b, t->due);
        sk_h(b, "</td><td class=\"state\">");
        sk_h_esc(b, sk_t_enum(lang, SK_ENUM_TASK_STATE, t->state));
        if (t->note_len) {
            sk_h(b, ": ");
            sk_h_escn(b, t->note, t->note_len);
        }
        sk_h(b, "</td><td>");
        static const struct {
            uint32_t state;
            const char *name, *cls;
            sk_desk_msg label;
        } k_steps[] = {{SK_TASK_DONE, "done", "task-done", T_DONE_BTN},
                       {SK_TASK_CANCELLED, "cancelled", "task-cancel", T_CANCEL_BTN},
                       {SK_TASK_OPEN, "open", "task-open", T_REOPEN_TASK}};
        for (size_t k = 0; k < 3; k++) {
            if ((t->state == SK_TASK_OPEN) != (k_steps[k].state != SK_TASK_OPEN))
                continue;
            sk_h(b, "<form method=\"post\" action=\"/case/task-set\" class=\"action\">");
            sk_desk_hidden_csrf(b, who->csrf);
            sk_h(b, "<input type=\"hidden\" name=\"id\" value=\"");
            sk_h(b, idt);
            sk_h(b, "\"><input type=\"hidden\" name=\"task\" value=\"");
            sk_h(b, tid);
            sk_h(b, "\"><input type=\"hidden\" name=\"state\" value=\"");
            sk_h(b, k_steps[k].name);
            sk_h(b, "\">");
            if (k_steps[k].state == SK_TASK_DONE)
                sk_h(b, "<input name=\"text\" class=\"task-note\" maxlength=\"1000\">");
            sk_h(b, "<button class=\"");
            sk_h(b, k_steps[k].cls);
            sk_h(b, "\">");
            sk_h_esc(b, sk_t(lang, k_steps[k].label));
            sk_h(b, "</button></form>");
        }
        sk_h(b, "</td></tr>");
    }
    sk_h(b, "</tbody></table>");
    free(tv);
}

/* ---- who changed what (the store's journal) ----------------------------------------------- */

typedef struct journal_ctx {
    sk_buf *b;
    unsigned n;
    sk_review_keys keys; /* the review: keys in conflict since the last resolution */
} journal_ctx;

static int journal_row(const sk_journal_entry *e, void *p)
{
    journal_ctx *c = p;
    sk_review_keys_add(&c->keys, e);
    if (c->n++ >= PAGE_ROWS)
        return 0;
    sk_buf *b = c->b;
    sk_h(b, "<tr><td>");
    sk_h_time_ist(b, SK_HLC_MS(e->hlc));
    sk_h_fmt(b, "</td><td>%llu</td><td>", (unsigned long long)e->seq);
    sk_h_esc(b, e->by);
    sk_h_fmt(b, " (%s %llu)</td><td>", e->device ? "device" : "centre",
             (unsigned long long)e->device);
    for (uint32_t i = 0; i < e->nkeys && i < 32; i++) {
        const sk_field_info *fi = sk_case_field_info(e->keys[i]);
        if (i)
            sk_h(b, ", ");
        sk_h_esc(b, fi ? fi->name : "?");
    }
    if (e->nentries)
        sk_h_fmt(b, "%s+%u", e->nkeys ? ", " : "", (unsigned)e->nentries);
    sk_h(b, e->nconflict ? " <span class=\"tag\">conflict</span></td></tr>" : "</td></tr>");
    return 0;
}

/* ---- who viewed or changed it (the audit chain) ------------------------------------------ */

typedef struct views_ctx {
    char needle[48]; /* "record=<id>" */
    size_t nlen;
    struct {
        uint64_t ts;
        char event[32], worker[SK_MAX_NAME + 1];
    } ring[VIEW_ROWS];
    size_t n; /* total matches; the ring holds the newest VIEW_ROWS */
} views_ctx;

static int views_cb(const sk_audit_entry *e, void *p)
{
    views_ctx *v = p;
    if (e->detail_len < v->nlen || memcmp(e->detail, v->needle, v->nlen) != 0 ||
        (e->detail_len > v->nlen && e->detail[v->nlen] != ' '))
        return 0;
    size_t k = v->n++ % VIEW_ROWS;
    v->ring[k].ts = e->ts_ms;
    snprintf(v->ring[k].event, sizeof(v->ring[k].event), "%.*s", (int)e->event_len, e->event);
    snprintf(v->ring[k].worker, sizeof(v->ring[k].worker), "%.*s", (int)e->worker_len, e->worker);
    return 0;
}

static int views_section(sk_buf *b, sk_store *st, int lang, const char *idt)
{
    views_ctx *v = calloc(1, sizeof(*v));
    uint64_t head = 0;
    uint8_t hash[32];
    int rc;
    if (!v)
        return -SK_E_NOMEM;
    v->nlen = (size_t)snprintf(v->needle, sizeof(v->needle), "record=%s", idt);
    if ((rc = sk_store_audit_head(st, &head, hash)) == 0)
        rc = sk_store_audit_list(st, head > AUDIT_WINDOW ? head - AUDIT_WINDOW : 0, views_cb, v);
    if (rc) {
        free(v);
        return rc;
    }
    sk_h(b, "<h2>");
    sk_h_esc(b, sk_t(lang, T_VIEWED_BY));
    sk_h(b, "</h2><table id=\"viewers\"><tbody>");
    size_t shown = v->n < VIEW_ROWS ? v->n : VIEW_ROWS;
    for (size_t i = 0; i < shown; i++) { /* newest first */
        size_t k = (v->n - 1 - i) % VIEW_ROWS;
        sk_h(b, "<tr><td>");
        sk_h_time_ist(b, v->ring[k].ts);
        sk_h(b, "</td><td>");
        sk_h_esc(b, v->ring[k].worker);
        sk_h(b, "</td><td>");
        sk_h_esc(b, v->ring[k].event);
        sk_h(b, "</td></tr>");
    }
    sk_h(b, "</tbody></table>");
    free(v);
    return 0;
}

/* ---- conflict review ---------------------------------------------------------------------- */

/* The competing values are storage's (sk_review.h), the same `sakhi-admin review` lists. */
typedef struct review_ctx {
    sk_store *st;
    MDB_txn *txn;
    const sk_record *r;
    sk_review_field f;
} review_ctx;

static int review_section(sk_buf *b, const sk_desk_who *who, const char *idt, review_ctx *rv,
                          const journal_ctx *jc, int show_identity)
{
    int lang = who->lang, rc = 0;
    sk_h(b, "<section id=\"review\"><h2>");
    sk_h_esc(b, sk_t(lang, T_CONFLICTS));
    sk_h(b, "</h2>");
    for (uint32_t k = 0; k < jc->keys.n && rc == 0; k++) {
        const sk_field_info *fi = sk_case_field_info(jc->keys.keys[k]);
        if (!fi)
            continue;
        if ((rc = sk_review_candidates_txn(rv->st, rv->txn, rv->r, fi->key, jc->keys.since,
                                           SK_DESK_VALUE_MAX, &rv->f)))
            break;
        int hide = fi->identifying && !show_identity;
        sk_h(b, "<h3>");
        sk_h_esc(b, fi->name);
        sk_h(b, "</h3><ul class=\"candidates\" data-field=\"");
        sk_h_esc(b, fi->name);
        sk_h(b, "\">");
        for (uint32_t i = 0; i < rv->f.n && i < MAX_CANDIDATES; i++) {
            const sk_review_candidate *c = &rv->f.c[i];
            sk_h(b, "<li>");
            if (hide) {
                sk_h_esc(b, sk_t(lang, T_HIDDEN));
            } else if (c->len) {
                sk_field fv = {.key = fi->key, .val = c->val, .len = c->len};
                sk_h(b, "<span class=\"value\">");
                value_cell(b, lang, fi, &fv);
                sk_h(b, "</span>");
            } else {
                sk_h(b, "&#8212;");
            }
            sk_h(b, " <span class=\"when\">");
            sk_h_esc(b, sk_t(lang, T_BY));
            sk_h(b, " ");
            sk_h_esc(b, c->by[0] ? c->by : "?");
            sk_h(b, ", ");
            sk_h_time_ist(b, SK_HLC_MS(c->hlc));
            if (c->current) {
                sk_h(b, " (");
                sk_h_esc(b, sk_t(lang, T_CURRENT));
                sk_h(b, ")");
            }
            sk_h(b, "</span>");
            if (!hide) {
                sk_h(b, "<form method=\"post\" action=\"/case/resolve\" class=\"action\">");
                sk_desk_hidden_csrf(b, who->csrf);
                sk_h(b, "<input type=\"hidden\" name=\"id\" value=\"");
                sk_h(b, idt);
                sk_h(b, "\"><input type=\"hidden\" name=\"field\" value=\"");
                sk_h_esc(b, fi->name);
                sk_h(b, "\"><input type=\"hidden\" name=\"value\" value=\"");
                if (c->len)
                    for (uint32_t j = 0; j < c->len; j++)
                        sk_h_fmt(b, "%02x", c->val[j]);
                else
                    sk_h(b, "c0"); /* no value: nil leaves the field empty */
                sk_h(b, "\"><button class=\"keep\">");
                sk_h_esc(b, sk_t(lang, T_KEEP_VALUE));
                sk_h(b, "</button></form>");
            }
            sk_h(b, "</li>");
        }
        sk_h(b, "</ul>");
    }
    sk_review_field_free(&rv->f);
    form_open(b, who, idt, "resolve", "f-resolve-keep");
    sk_h(b, "<input type=\"hidden\" name=\"keep\" value=\"1\">");
    form_close(b, lang, "resolve-keep", T_KEEP_ALL);
    sk_h(b, "</section>");
    return rc;
}

/* ---- the page ----------------------------------------------------------------------------- */

int sk_desk_page_case(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                      uint64_t now_ms, sk_id *viewed_out, int *viewed)
{
    int lang = who->lang, rc;
    sk_record r;
    sk_actor actor;
    sk_id id;
    MDB_txn *txn = NULL;
    char idt[37];
    people *pp = NULL;
    review_ctx *rv = NULL;
    journal_ctx jc;
    sk_buf jb = SK_BUF_INIT;
    *viewed = 0;
    sk_record_init(&r);
    sk_desk_actor(who, &actor);
    const char *ids = sk_form_get(q, "id");
    if (!ids || sk_id_from_str(&id, ids) != 0) {
        sk_desk_page_message(out, lang, sk_t(lang, T_CASE), sk_t(lang, T_NOT_FOUND));
        return 404;
    }
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn))))
        goto fail;
    rc = sk_store_record_get_txn(st, txn, &id, &r);
    /* a record out of her scope does not exist for her (same answer as a missing one) */
    if (rc == -SK_E_NOT_FOUND || (rc == 0 && !sk_case_may_see(&actor, &r))) {
        mdb_txn_abort(txn);
        sk_record_free(&r);
        sk_desk_page_message(out, lang, sk_t(lang, T_CASE), sk_t(lang, T_NOT_FOUND));
        return 404;
    }
    if (rc)
        goto fail;
    if (!(pp = calloc(1, sizeof(*pp))) || !(rv = calloc(1, sizeof(*rv)))) {
        rc = -SK_E_NOMEM;
        goto fail;
    }
    sk_id_to_str(&r.id, idt);
    /* the casework rule: an administrator or the counsellor the case is assigned to; a
     * caseworker never (her sync role is staff, so the desk adds this) */
    int minor_hidden = sk_case_is_minor(&r) && (who->role == SK_DESK_CASEWORKER ||
                                                !sk_case_may_see_identifying_rec(&actor, &r));
    sk_case_redact(&actor, &r);
    int revealed = !minor_hidden && who->reveal_until_ms > now_ms &&
                   memcmp(who->reveal.b, r.id.b, sizeof(r.id.b)) == 0;
    char no[40] = "";
    uint64_t status = 0, district = 0;
    (void)sk_case_get_str(&r, SK_F_CASE_NO, no, sizeof(no));
    (void)sk_case_get_uint(&r, SK_F_STATUS, &status);
    (void)sk_case_get_uint(&r, SK_F_DISTRICT, &district);
    pp->district = (uint32_t)district;
    if ((rc = sk_store_worker_list(st, people_cb, pp)))
        goto fail;
    /* the journal first: its rows, and the keys the review lists */
    memset(&jc, 0, sizeof(jc));
    jc.b = &jb;
    if ((rc = sk_store_journal_list_txn(st, txn, &r.id, journal_row, &jc)))
        goto fail;
    if (jb.oom) {
        rc = -SK_E_NOMEM;
        goto fail;
    }

    sk_desk_top(out, who, no[0] ? no : sk_t(lang, T_CASE));
    sk_h(out, "<h1 id=\"case-title\">");
    sk_h_esc(out, sk_t(lang, T_CASE));
    sk_h(out, " ");
    sk_h_esc(out, no[0] ? no : idt);
    sk_h(out, "</h1><p>");
    sk_desk_status_cell(out, lang, status);
    if (r.flags & SK_REC_REVIEW) {
        sk_h(out, " <span class=\"tag\" id=\"review-tag\">");
        sk_h_esc(out, sk_t(lang, T_REVIEW));
        sk_h(out, "</span>");
    }
    sk_h(out, " <span class=\"id\">");
    sk_h(out, idt);
    sk_h_fmt(out, "</span> v%llu</p>", (unsigned long long)r.version);
    actions(out, who, idt, &r, pp);
    if (r.flags & SK_REC_REVIEW) {
        rv->st = st;
        rv->txn = txn;
        rv->r = &r;
        if ((rc = review_section(out, who, idt, rv, &jc, revealed)))
            goto fail;
    }
    /* identity: hidden until asked for (audited), never for a role that may not see it */
    sk_h(out, "<section id=\"identity\"><h2>");
    sk_h_esc(out, sk_t(lang, T_IDENTITY));
    sk_h(out, "</h2>");
    if (minor_hidden) {
        sk_h(out, "<p id=\"no-identity\">");
        sk_h_esc(out, sk_t(lang, T_NO_IDENTITY));
        sk_h(out, "</p>");
    } else if (!revealed) {
        form_open(out, who, idt, "reveal", "f-reveal");
        form_close(out, lang, "reveal", T_SHOW_IDENTITY);
    }
    sk_h(out, "</section><h2>");
    sk_h_esc(out, sk_t(lang, T_CASE));
    sk_h(out, "</h2><table id=\"fields\"><tbody>");
    for (uint32_t i = 0; i < r.nfields; i++) {
        const sk_field_info *fi = sk_case_field_info(r.fields[i].key);
        if (!fi)
            continue;
        sk_h(out, "<tr data-field=\"");
        sk_h_esc(out, fi->name);
        sk_h(out, "\"><th>");
        sk_h_esc(out, fi->name);
        sk_h(out, "</th><td");
        if (fi->identifying && !revealed) {
            sk_h(out, " class=\"hidden\">");
            sk_h_esc(out, sk_t(lang, T_HIDDEN));
        } else {
            sk_h(out, fi->identifying ? " class=\"identifying\">" : ">");
            value_cell(out, lang, fi, &r.fields[i]);
        }
        sk_h(out, "</td></tr>");
    }
    sk_h(out, "</tbody></table>");
    tasks_section(out, who, idt, &r, now_ms);
    sk_h(out, "<h2>");
    sk_h_esc(out, sk_t(lang, T_ENTRIES));
    sk_h(out, "</h2><ul id=\"entries\">");
    for (uint32_t i = 0, shown = 0; i < r.nentries && shown < PAGE_ROWS; i++)
        if (r.entries[i].list == SK_LIST_FOLLOWUP || r.entries[i].list == SK_LIST_CASENOTE) {
            entry_row(out, &r.entries[i]);
            shown++;
        }
    sk_h(out, "</ul><h2>");
    sk_h_esc(out, sk_t(lang, T_CHANGES));
    sk_h(out, "</h2><table id=\"changes\"><tbody>");
    sk_buf_append(out, jb.data, jb.len);
    sk_h(out, "</tbody></table>");
    if ((rc = views_section(out, st, lang, idt)))
        goto fail;
    sk_h(out, "<h2>");
    sk_h_esc(out, sk_t(lang, T_HISTORY));
    sk_h(out, "</h2><table id=\"history\"><thead><tr>");
    const char *hcols[] = {sk_t(lang, T_WHEN), "seq", sk_t(lang, T_WHAT), ""};
    sk_desk_th_texts(out, hcols, sizeof(hcols) / sizeof(hcols[0]));
    sk_h(out, "</tr></thead><tbody>");
    hist_ctx hc = {out, lang, revealed, 0};
    if (!minor_hidden)
        (void)sk_store_history_list(st, &r.id, hist_row, &hc);
    sk_h(out, "</tbody></table>");
    sk_desk_bottom(out);
    mdb_txn_abort(txn);
    *viewed_out = r.id;
    *viewed = 1;
    sk_record_free(&r);
    sk_buf_free(&jb);
    free(pp);
    free(rv);
    return 200;
fail:
    if (txn)
        mdb_txn_abort(txn);
    sk_record_free(&r);
    sk_buf_free(&jb);
    free(pp);
    free(rv);
    return sk_desk_page_failed(out, lang, T_CASE, rc);
}
