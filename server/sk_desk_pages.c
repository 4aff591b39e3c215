/*
 * sk_desk_pages.c - the desk's pages, rendered on the server as plain HTML.
 *
 * Runs on libuv's thread pool: reads the store through its own read transactions, never
 * writes, never touches the loop's state (it gets a copy of the person, sk_desk_who). Every
 * string from the store or the request is escaped (sk_h_esc); the scope and redaction rules are
 * sk_case.c's, the same as sync's. Identifying fields are shown only when the person asked to
 * see them (an audited operation) and her role allows it. Pages stay small: at most
 * PAGE_ROWS rows per list.
 */
#include "sk_desk_int.h"

#include "sk_desk_html.h"
#include "sk_err.h"
#include "sk_mp.h"
#include "sk_worklist.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_ROWS 100

/* A list's heading: its label and how many it holds, "Inbox (3)". */
static void h2_count(sk_buf *b, int lang, sk_desk_msg label, size_t n)
{
    sk_h(b, "<h2>");
    sk_h_esc(b, sk_t(lang, label));
    sk_h_fmt(b, " (%zu)</h2>", n);
}

/* ---- chrome ------------------------------------------------------------------------------- */

void sk_desk_head(sk_buf *b, int lang, const char *title)
{
    sk_h(b, lang == SK_LANG_HI ? "<!doctype html><html lang=\"hi\">"
                               : "<!doctype html><html lang=\"en\">");
    sk_h(b, "<head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            "content=\"width=device-width,initial-scale=1\"><title>");
    sk_h_esc(b, title);
    sk_h(b, " - ");
    sk_h_esc(b, sk_t(lang, T_TITLE));
    sk_h(b, "</title><link rel=\"stylesheet\" href=\"/static/desk.css\">"
            "<script src=\"/static/desk.js\" defer></script></head><body>");
}

/* The page's one message for her (a flash), marked bad when it reports a refusal. */
static void flash(sk_buf *b, const char *msg, int bad)
{
    sk_h(b, bad ? "<p class=\"flash bad\" id=\"flash\">" : "<p class=\"flash\" id=\"flash\">");
    sk_h_esc(b, msg);
    sk_h(b, "</p>");
}

/* The link that shows the desk in the other language. */
static void lang_link(sk_buf *b, int lang)
{
    sk_h(b, lang == SK_LANG_HI ? "<a href=\"/lang?to=en\">" : "<a href=\"/lang?to=hi\">");
    sk_h_esc(b, sk_t(lang, T_LANGUAGE));
    sk_h(b, "</a>");
}

/* The navigation's links, in order: the page (its path /page, its id nav-page), its label, and
 * whether only administrators see it. */
static const struct nav_link {
    const char *page;
    sk_desk_msg label;
    int admin_only;
} k_nav[] = {
    {"worklist", T_WORKLIST, 0}, {"tasks", T_TASKS, 0},   {"alerts", T_ALERTS, 0},
    {"search", T_SEARCH, 0},     {"report", T_REPORT, 0}, {"devices", T_DEVICES, 1},
    {"audit", T_AUDIT, 1},
};

void sk_desk_top(sk_buf *b, const sk_desk_who *who, const char *title)
{
    int lang = who->lang;
    sk_desk_head(b, lang, title);
    sk_h(b, "<header><strong>");
    sk_h_esc(b, sk_t(lang, T_TITLE));
    sk_h(b, "</strong><nav>");
    for (size_t i = 0; i < sizeof(k_nav) / sizeof(k_nav[0]); i++) {
        if (k_nav[i].admin_only && who->role != SK_DESK_ADMIN)
            continue;
        sk_h_fmt(b, "%s<a href=\"/%s\" id=\"nav-%s\">", i ? " " : "", k_nav[i].page, k_nav[i].page);
        sk_h_esc(b, sk_t(lang, k_nav[i].label));
        sk_h(b, "</a>");
    }
    sk_h(b, "</nav><span class=\"who\">");
    sk_h_esc(b, sk_t(lang, T_SIGNED_IN_AS));
    sk_h(b, " <b id=\"me\">");
    sk_h_esc(b, who->user);
    sk_h(b, "</b> (");
    sk_h_esc(b, sk_desk_role_name(who->role));
    sk_h(b, ")</span> ");
    lang_link(b, lang);
    sk_h(b, "<form method=\"post\" action=\"/logout\" class=\"inline\">");
    sk_desk_hidden_csrf(b, who->csrf);
    sk_h(b, "<button id=\"logout\">");
    sk_h_esc(b, sk_t(lang, T_LOGOUT));
    sk_h(b, "</button></form></header><main>");
    if (who->flash[0])
        flash(b, who->flash, who->flash_bad);
}

void sk_desk_top_h1(sk_buf *b, const sk_desk_who *who, sk_desk_msg title)
{
    sk_desk_top(b, who, sk_t(who->lang, title));
    sk_h(b, "<h1>");
    sk_h_esc(b, sk_t(who->lang, title));
}

void sk_desk_bottom(sk_buf *b)
{
    sk_h(b, "</main></body></html>\n");
}

void sk_desk_hidden_csrf(sk_buf *b, const char *csrf)
{
    sk_h(b, "<input type=\"hidden\" name=\"csrf\" value=\"");
    sk_h_esc(b, csrf);
    sk_h(b, "\">");
}

int sk_desk_page_message(sk_buf *out, int lang, const char *title, const char *msg)
{
    sk_desk_head(out, lang, title);
    sk_h(out, "<main class=\"narrow\"><h1>");
    sk_h_esc(out, title);
    sk_h(out, "</h1><p id=\"message\">");
    sk_h_esc(out, msg);
    sk_h(out, "</p><p><a href=\"/login\">");
    sk_h_esc(out, sk_t(lang, T_LOGIN));
    sk_h(out, "</a></p>");
    sk_desk_bottom(out);
    return 200;
}

int sk_desk_page_failed(sk_buf *out, int lang, sk_desk_msg title, int rc)
{
    sk_buf_reset(out);
    sk_desk_page_message(out, lang, sk_t(lang, title), sk_err_text(rc));
    return 503;
}

int sk_desk_page_login(sk_buf *out, int lang, const char *csrf_login, const char *msg, int bad)
{
    sk_desk_head(out, lang, sk_t(lang, T_LOGIN));
    sk_h(out, "<main class=\"narrow\"><h1>");
    sk_h_esc(out, sk_t(lang, T_TITLE));
    sk_h(out, "</h1>");
    if (msg)
        flash(out, msg, bad);
    sk_h(out, "<form method=\"post\" action=\"/login\" id=\"login\">");
    sk_desk_hidden_csrf(out, csrf_login);
    sk_h(out, "<label>");
    sk_h_esc(out, sk_t(lang, T_NAME));
    sk_h(out, "<input name=\"user\" id=\"user\" autocomplete=\"username\" required "
              "maxlength=\"64\"></label><label>");
    sk_h_esc(out, sk_t(lang, T_PASSWORD));
    sk_h(out, "<input name=\"password\" id=\"password\" type=\"password\" "
              "autocomplete=\"current-password\" required maxlength=\"256\"></label><label>");
    sk_h_esc(out, sk_t(lang, T_TOTP));
    sk_h(out,
         "<input name=\"code\" id=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" "
         "maxlength=\"6\"></label><button id=\"submit\">");
    sk_h_esc(out, sk_t(lang, T_LOGIN));
    sk_h(out, "</button></form><p>");
    lang_link(out, lang);
    sk_h(out, "</p>");
    sk_desk_bottom(out);
    return 200;
}

int sk_desk_page_setup(sk_buf *out, int lang, const char *user, const char *token, const char *pre,
                       const char *msg)
{
    sk_desk_head(out, lang, sk_t(lang, T_SETUP));
    sk_h(out, "<main class=\"narrow\"><h1>");
    sk_h_esc(out, sk_t(lang, T_SETUP));
    sk_h(out, "</h1><p>");
    sk_h_esc(out, user);
    sk_h(out, "</p>");
    if (msg)
        flash(out, msg, 1);
    sk_h(out, "<form method=\"post\" action=\"/setup\" id=\"setup\">");
    sk_desk_hidden_csrf(out, pre ? pre : "");
    sk_h(out, "<input type=\"hidden\" name=\"u\" value=\"");
    sk_h_esc(out, user);
    sk_h(out, "\"><input type=\"hidden\" name=\"t\" value=\"");
    sk_h_esc(out, token);
    sk_h(out, "\"><label>");
    sk_h_esc(out, sk_t(lang, T_PASSWORD));
    sk_h(out, "<input name=\"password\" id=\"password\" type=\"password\" "
              "autocomplete=\"new-password\" required minlength=\"10\" maxlength=\"256\"></label>"
              "<label>");
    sk_h_esc(out, sk_t(lang, T_PASSWORD_AGAIN));
    sk_h(out, "<input name=\"password2\" id=\"password2\" type=\"password\" "
              "autocomplete=\"new-password\" required minlength=\"10\" maxlength=\"256\"></label>"
              "<p class=\"hint\">");
    sk_h_esc(out, sk_t(lang, T_PW_RULES));
    sk_h(out, "</p><button id=\"submit\">");
    sk_h_esc(out, sk_t(lang, T_SAVE));
    sk_h(out, "</button></form>");
    sk_desk_bottom(out);
    return 200;
}

/* ---- worklist ----------------------------------------------------------------------------- */

/* One record as the worklist needs it: what the table shows, plus a small record holding the
 * fields sync's scope rule reads (district, creating worker, assignees), so visibility is
 * decided by sk_case_may_see itself, never by a copy of its logic. */
typedef struct row {
    sk_id id;
    char case_no[40];
    char worker[SK_MAX_NAME + 1];
    char block[64];
    uint64_t status, urgency, district, created;
    int review, minor, gone;
    sk_record scope;
} row;

/* The worklist index: every record's row, kept up to date by reading only the records whose
 * change-log seq is above the last one seen (the change log holds each record once, at its
 * latest seq). A click costs the changes since the previous click, not a decryption of the
 * whole store. Used by one page render at a time (DESK_MAX_RENDER in sk_desk.c is 1: the
 * thread pool hands it from render to render with uv_queue_work's ordering). */
struct sk_desk_index {
    uint64_t seq;
    row *rows;
    size_t n, cap;
    uint32_t *slots; /* open addressing: row index + 1, 0 = empty */
    size_t nslots;   /* power of two, at least twice n */
};

sk_desk_index *sk_desk_index_new(void)
{
    return calloc(1, sizeof(sk_desk_index));
}

void sk_desk_index_free(sk_desk_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->n; i++)
        sk_record_free(&ix->rows[i].scope);
    free(ix->rows);
    free(ix->slots);
    free(ix);
}

static size_t id_hash(const sk_id *id)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof(id->b); i++)
        h = (h ^ id->b[i]) * 1099511628211ull;
    return (size_t)h;
}

static int index_grow(sk_desk_index *ix)
{
    if (ix->n == ix->cap) {
        if (ix->cap > UINT32_MAX / 2 - 1 ||
            sk_grow(&ix->rows, &ix->cap, ix->n + 1, sizeof(*ix->rows), 256))
            return -SK_E_NOMEM;
    }
    if ((ix->n + 1) * 2 > ix->nslots) {
        size_t ns = ix->nslots ? ix->nslots * 2 : 512;
        if (ns > SIZE_MAX / sizeof(uint32_t))
            return -SK_E_NOMEM;
        uint32_t *sl = calloc(ns, sizeof(uint32_t));
        if (!sl)
            return -SK_E_NOMEM;
        for (size_t i = 0; i < ix->n; i++) {
            size_t h = id_hash(&ix->rows[i].id) & (ns - 1);
            while (sl[h])
                h = (h + 1) & (ns - 1);
            sl[h] = (uint32_t)(i + 1);
        }
        free(ix->slots);
        ix->slots = sl;
        ix->nslots = ns;
    }
    return 0;
}

/* The row of id, made (empty) when new. NULL on no memory. */
static row *index_row(sk_desk_index *ix, const sk_id *id)
{
    if (index_grow(ix))
        return NULL;
    size_t h = id_hash(id) & (ix->nslots - 1);
    while (ix->slots[h]) {
        row *r = &ix->rows[ix->slots[h] - 1];
        if (memcmp(r->id.b, id->b, sizeof(id->b)) == 0)
            return r;
        h = (h + 1) & (ix->nslots - 1);
    }
    row *r = &ix->rows[ix->n];
    memset(r, 0, sizeof(*r));
    sk_record_init(&r->scope);
    r->id = *id;
    ix->slots[h] = (uint32_t)(++ix->n);
    return r;
}

static int row_fill(row *x, const sk_record *r)
{
    static const uint32_t scope_keys[] = {SK_F_DISTRICT, SK_F_WORKER, SK_F_ASSIGNED};
    sk_record_free(&x->scope);
    sk_record_init(&x->scope);
    x->scope.id = r->id;
    x->scope.flags = r->flags;
    for (size_t i = 0; i < sizeof(scope_keys) / sizeof(scope_keys[0]); i++) {
        const sk_field *f = sk_record_field(r, scope_keys[i]);
        if (f && sk_record_set(&x->scope, f->key, f->val, f->len, f->hlc, f->ver))
            return -SK_E_NOMEM;
    }
    x->status = x->urgency = x->district = 0;
    x->case_no[0] = x->worker[0] = x->block[0] = '\0';
    (void)sk_case_get_uint(r, SK_F_STATUS, &x->status);
    (void)sk_case_get_uint(r, SK_F_URGENCY, &x->urgency);
    (void)sk_case_get_uint(r, SK_F_DISTRICT, &x->district);
    (void)sk_case_get_str(r, SK_F_CASE_NO, x->case_no, sizeof(x->case_no));
    (void)sk_case_get_str(r, SK_F_WORKER, x->worker, sizeof(x->worker));
    (void)sk_case_get_str(r, SK_F_BLOCK, x->block, sizeof(x->block));
    x->created = sk_case_captured_ms(r);
    x->review = (r->flags & SK_REC_REVIEW) != 0;
    x->minor = sk_case_is_minor(r);
    x->gone = (r->flags & SK_REC_TOMBSTONE) != 0;
    return 0;
}

/* Bring the index up to the store's change log inside txn. */
static int index_update(sk_desk_index *ix, sk_store *st, MDB_txn *txn)
{
    MDB_cursor *cur;
    uint8_t kb[8];
    MDB_val k = {8, kb}, v;
    int rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_changes(st), &cur));
    if (rc)
        return rc;
    sk_be64_put(kb, ix->seq + 1);
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && rc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || v.mv_size != 16)
            continue;
        uint64_t seq = sk_be64_get(k.mv_data);
        sk_id id;
        sk_record r;
        memcpy(id.b, v.mv_data, 16);
        sk_record_init(&r);
        int grc = sk_store_record_get_txn(st, txn, &id, &r);
        if (grc == 0) {
            row *x = index_row(ix, &id);
            rc = x ? row_fill(x, &r) : -SK_E_NOMEM;
        } else if (grc != -SK_E_NOT_FOUND && grc != -SK_E_GONE && grc != -SK_E_STORE_IO) {
            rc = grc; /* an unreadable record is the store's problem; others stop the page */
        }
        sk_record_free(&r);
        if (rc == 0)
            ix->seq = seq;
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
    mdb_cursor_close(cur);
    return rc;
}

typedef struct rows {
    const row **r;
    size_t n, cap;
} rows;

static int rows_add(rows *rs, const row *x)
{
    if (sk_grow(&rs->r, &rs->cap, rs->n + 1, sizeof(*rs->r), 64))
        return -SK_E_NOMEM;
    rs->r[rs->n++] = x;
    return 0;
}

static int row_cmp(const void *a, const void *b)
{
    const row *x = *(const row *const *)a, *y = *(const row *const *)b;
    uint64_t ux = x->urgency ? x->urgency : 9, uy = y->urgency ? y->urgency : 9;
    if (ux != uy)
        return ux < uy ? -1 : 1;
    if (x->created != y->created)
        return x->created < y->created ? -1 : 1; /* longest waiting first */
    return memcmp(x->id.b, y->id.b, sizeof(x->id.b));
}

void sk_desk_status_cell(sk_buf *b, int lang, uint64_t st)
{
    sk_h(b, "<span class=\"st st");
    sk_h_fmt(b, "%llu", (unsigned long long)st);
    sk_h(b, "\">");
    sk_h_esc(b, sk_t_enum(lang, SK_ENUM_STATUS, st));
    sk_h(b, "</span>");
}

void sk_desk_option(sk_buf *b, const char *value, const char *label, int selected)
{
    sk_h(b, "<option value=\"");
    sk_h_esc(b, value);
    sk_h(b, selected ? "\" selected>" : "\">");
    sk_h_esc(b, label);
    sk_h(b, "</option>");
}

void sk_desk_select_open(sk_buf *b, int lang, sk_desk_msg label, const char *name, const char *id)
{
    sk_h(b, "<label>");
    sk_h_esc(b, sk_t(lang, label));
    sk_h(b, " <select name=\"");
    sk_h(b, name);
    if (id) {
        sk_h(b, "\" id=\"");
        sk_h(b, id);
    }
    sk_h(b, "\">");
}

void sk_desk_none(sk_buf *b, int lang)
{
    sk_h(b, "<p class=\"none\">");
    sk_h_esc(b, sk_t(lang, T_NONE));
    sk_h(b, "</p>");
}

void sk_desk_th_cells(sk_buf *b, int lang, const sk_desk_msg *labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *text = sk_t(lang, labels[i]);
        sk_desk_th_texts(b, &text, 1);
    }
}

void sk_desk_th_texts(sk_buf *b, const char *const *texts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sk_h(b, "<th>");
        sk_h_esc(b, texts[i]);
        sk_h(b, "</th>");
    }
}

void sk_desk_enum_options(sk_buf *b, int lang, sk_enum_id e, uint64_t sel)
{
    for (uint32_t c = 1; c <= sk_enum_max(e); c++) {
        const char *n = sk_enum_name(e, c);
        if (n)
            sk_desk_option(b, n, sk_t_enum(lang, e, c), c == sel);
    }
}

/* ---- the centre's districts ----------------------------------------------------------- */

int sk_desk_dlist_load(sk_desk_dlist *l, sk_store *st, MDB_txn *txn)
{
    MDB_txn *own = NULL;
    int rc = 0;
    l->n = 0;
    if (!(l->d = calloc(SK_DISTRICTS_MAX, sizeof(*l->d))))
        return -SK_E_NOMEM;
    if (!txn && (rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &own))))
        goto out;
    rc = sk_store_districts_get_txn(st, txn ? txn : own, l->d, SK_DISTRICTS_MAX, &l->n);
out:
    if (own)
        mdb_txn_abort(own);
    if (rc)
        sk_desk_dlist_free(l);
    return rc;
}

void sk_desk_dlist_free(sk_desk_dlist *l)
{
    free(l->d);
    l->d = NULL;
    l->n = 0;
}

const char *sk_desk_dlist_find(const sk_desk_dlist *l, int lang, uint64_t code)
{
    const sk_district_def *d =
        code <= UINT32_MAX ? sk_district_find(l->d, l->n, (uint32_t)code) : NULL;
    return d ? sk_district_name(d, lang == SK_LANG_HI ? "hi" : "en") : NULL;
}

const char *sk_desk_dlist_name(const sk_desk_dlist *l, int lang, uint64_t code, char *buf,
                               size_t cap)
{
    const char *name = sk_desk_dlist_find(l, lang, code);
    if (name)
        return name;
    snprintf(buf, cap, "%llu", (unsigned long long)code);
    return buf;
}

static void table(sk_buf *b, const sk_desk_who *who, const sk_desk_dlist *dl, const char *id,
                  rows *rs, int inbox, uint64_t now)
{
    int lang = who->lang;
    if (rs->n == 0) {
        sk_desk_none(b, lang);
        return;
    }
    sk_h(b, "<table id=\"");
    sk_h(b, id);
    const sk_desk_msg cols[] = {
        T_URGENCY, inbox ? T_WAITING : T_CASE_NO, T_STATUS, T_DISTRICT, T_WORKER, T_CAPTURED};
    sk_h(b, "\"><thead><tr>");
    sk_desk_th_cells(b, lang, cols, sizeof(cols) / sizeof(cols[0]));
    sk_h(b, "<th></th></tr></thead><tbody>");
    size_t n = rs->n < PAGE_ROWS ? rs->n : PAGE_ROWS;
    for (size_t i = 0; i < n; i++) {
        const row *r = rs->r[i];
        char idt[37];
        sk_id_to_str(&r->id, idt);
        sk_h(b, "<tr data-id=\"");
        sk_h(b, idt);
        sk_h(b, r->urgency == SK_URGENCY_IMMEDIATE ? "\" class=\"u1\"><td>" : "\"><td>");
        sk_h_esc(b, sk_t_enum(lang, SK_ENUM_URGENCY, r->urgency));
        sk_h(b, "</td><td>");
        if (inbox)
            sk_h_duration(b, now > r->created ? now - r->created : 0);
        else
            sk_h_esc(b, r->case_no);
        sk_h(b, "</td><td>");
        sk_desk_status_cell(b, lang, r->status);
        if (r->review) {
            sk_h(b, " <span class=\"tag\">");
            sk_h_esc(b, sk_t(lang, T_REVIEW));
            sk_h(b, "</span>");
        }
        if (r->minor) {
            sk_h(b, " <span class=\"tag\">");
            sk_h_esc(b, sk_t(lang, T_MINOR));
            sk_h(b, "</span>");
        }
        sk_h(b, "</td><td>");
        char dbuf[24];
        sk_h_esc(b, sk_desk_dlist_name(dl, lang, r->district, dbuf, sizeof(dbuf)));
        if (r->block[0]) {
            sk_h(b, " / ");
            sk_h_esc(b, r->block);
        }
        sk_h(b, "</td><td>");
        sk_h_esc(b, r->worker);
        sk_h(b, "</td><td>");
        sk_h_time_ist(b, r->created);
        sk_h(b, "</td><td><a href=\"/case?id=");
        sk_h(b, idt);
        sk_h(b, "\">");
        sk_h_esc(b, sk_t(lang, T_OPEN));
        sk_h(b, "</a></td></tr>");
    }
    sk_h(b, "</tbody></table>");
    if (rs->n > n)
        sk_h_fmt(b, "<p class=\"more\">+ %zu</p>", rs->n - n);
}

/* One of the worklist's yes/no filters: " <label>" and its checkbox, ticked when the query
 * has a value for name. */
static void filter_checkbox(sk_buf *b, int lang, const char *name, const char *value,
                            sk_desk_msg label)
{
    sk_h(b, " <label><input type=\"checkbox\" name=\"");
    sk_h(b, name);
    sk_h(b, value && value[0] ? "\" value=\"1\" checked>" : "\" value=\"1\">");
    sk_h_esc(b, sk_t(lang, label));
    sk_h(b, "</label>");
}

int sk_desk_page_worklist(sk_buf *out, sk_store *st, sk_desk_index *ix, const sk_desk_who *who,
                          const sk_form *q, uint64_t now_ms)
{
    int lang = who->lang, rc = 0;
    MDB_txn *txn = NULL;
    rows inbox = {0}, open = {0};
    sk_desk_dlist dl = {0};
    sk_actor actor;
    uint64_t seq = 0;
    sk_desk_actor(who, &actor);
    const char *f_urgent = sk_form_get(q, "urgent"), *f_status = sk_form_get(q, "status");
    const char *f_review = sk_form_get(q, "review");
    uint32_t want_status = f_status && f_status[0] ? sk_enum_code(SK_ENUM_STATUS, f_status) : 0;
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn))))
        goto out;
    (void)sk_store_seq_get_txn(st, txn, &seq);
    if ((rc = index_update(ix, st, txn)) || (rc = sk_desk_dlist_load(&dl, st, txn)))
        goto out;
    for (size_t i = 0; i < ix->n && rc == 0; i++) {
        const row *x = &ix->rows[i];
        if (x->gone || !sk_case_may_see(&actor, &x->scope))
            continue;
        int keep = (!want_status || x->status == want_status) &&
                   (!f_urgent || !f_urgent[0] || (x->urgency && x->urgency <= SK_URGENCY_URGENT)) &&
                   (!f_review || !f_review[0] || x->review);
        if (keep && (x->status == SK_STATUS_NEW || x->status == SK_STATUS_RECEIVED))
            rc = rows_add(&inbox, x);
        else if (keep && (x->status != SK_STATUS_CLOSED || want_status == SK_STATUS_CLOSED))
            rc = rows_add(&open, x);
    }
    if (rc)
        goto out;
    if (inbox.n > 1) /* qsort's array must not be NULL, even for no elements */
        qsort(inbox.r, inbox.n, sizeof(*inbox.r), row_cmp);
    if (open.n > 1)
        qsort(open.r, open.n, sizeof(*open.r), row_cmp);
    sk_desk_top(out, who, sk_t(lang, T_WORKLIST));
    /* filters, as in the CLI */
    sk_h(out, "<form method=\"get\" action=\"/worklist\" class=\"filters\" id=\"filters\">");
    sk_desk_select_open(out, lang, T_STATUS, "status", NULL);
    sk_desk_option(out, "", sk_t(lang, T_ALL), 0);
    sk_desk_enum_options(out, lang, SK_ENUM_STATUS, want_status);
    sk_h(out, "</select></label>");
    filter_checkbox(out, lang, "urgent", f_urgent, T_URGENT_ONLY);
    filter_checkbox(out, lang, "review", f_review, T_REVIEW);
    sk_h(out, " <button>");
    sk_h_esc(out, sk_t(lang, T_FILTER));
    sk_h(out, "</button></form>");
    /* the page reloads itself when the store's sequence moves (desk.js) */
    sk_h_fmt(out, "<div id=\"live\" data-seq=\"%llu\"></div>", (unsigned long long)seq);
    h2_count(out, lang, T_INBOX, inbox.n);
    table(out, who, &dl, "inbox", &inbox, 1, now_ms);
    h2_count(out, lang, T_OPEN_CASES, open.n);
    table(out, who, &dl, "open", &open, 0, now_ms);
    sk_desk_bottom(out);
out:
    if (txn)
        mdb_txn_abort(txn);
    free(inbox.r);
    free(open.r);
    sk_desk_dlist_free(&dl);
    if (rc)
        return sk_desk_page_failed(out, lang, T_WORKLIST, rc);
    return 200;
}

/* ---- tasks and alerts --------------------------------------------------------------------- */

#define DAY_MS (24ull * 3600 * 1000)
#define ALERT_DAYS 7 /* a change by someone else stays an alert this long */
#define SOON_DAYS 7  /* a task due within this is due soon */

/* The open tasks for who among the records she may see, most urgent first (storage's
 * worklist, as `sakhi-admin tasks --for`); *out is allocated, free it with free(). */
static int my_tasks(sk_store *st, const sk_desk_who *who, uint64_t now, sk_worklist_task **out,
                    size_t *n_out)
{
    MDB_txn *txn = NULL;
    sk_actor actor;
    sk_desk_actor(who, &actor);
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    rc = sk_worklist_tasks_txn(st, txn, &actor, who->user, now, SOON_DAYS * DAY_MS, out, n_out);
    mdb_txn_abort(txn);
    return rc;
}

static void case_link_id(sk_buf *b, const sk_id *id, const char *case_no)
{
    char idt[37];
    sk_id_to_str(id, idt);
    sk_h(b, "<a href=\"/case?id=");
    sk_h(b, idt);
    sk_h(b, "\">");
    sk_h_esc(b, case_no[0] ? case_no : idt);
    sk_h(b, "</a>");
}

/* A task's text, or the word that says it is withheld from her role. */
static void task_text(sk_buf *b, int lang, const sk_worklist_task *t)
{
    if (t->withheld) {
        sk_h(b, "<i class=\"withheld\">");
        sk_h_esc(b, sk_t(lang, T_HIDDEN));
        sk_h(b, "</i>");
    } else {
        sk_h_esc(b, t->text);
    }
}

static const sk_desk_msg k_urg_label[] = {T_LATER, T_DUE_SOON, T_DUE_TODAY, T_OVERDUE};

int sk_desk_page_tasks(sk_buf *out, sk_store *st, const sk_desk_who *who, uint64_t now_ms)
{
    int lang = who->lang, rc;
    sk_worklist_task *v = NULL;
    size_t n = 0;
    if ((rc = my_tasks(st, who, now_ms, &v, &n)))
        return sk_desk_page_failed(out, lang, T_TASKS, rc);
    sk_desk_top(out, who, sk_t(lang, T_TASKS));
    sk_h(out, "<h1>");
    sk_h_esc(out, sk_t(lang, T_MY_TASKS));
    sk_h_fmt(out, " (%zu)</h1>", n);
    if (n == 0) {
        sk_desk_none(out, lang);
    } else {
        const char *cols[] = {sk_t(lang, T_DUE), "", sk_t(lang, T_TASK), sk_t(lang, T_CASE)};
        sk_h(out, "<table id=\"my-tasks\"><thead><tr>");
        sk_desk_th_texts(out, cols, sizeof(cols) / sizeof(cols[0]));
        sk_h(out, "</tr></thead><tbody>");
        for (size_t i = 0; i < n && i < PAGE_ROWS; i++) {
            char tid[37];
            sk_id_to_str(&v[i].task, tid);
            sk_h(out, "<tr data-task=\"");
            sk_h(out, tid);
            sk_h_fmt(out, "\" class=\"task u%d\"><td>", v[i].urgency);
            sk_h_time_ist(out, v[i].due_ms);
            sk_h(out, "</td><td class=\"urg\">");
            sk_h_esc(out, sk_t(lang, k_urg_label[v[i].urgency & 3]));
            sk_h(out, "</td><td>");
            task_text(out, lang, &v[i]);
            sk_h(out, "</td><td>");
            case_link_id(out, &v[i].record, v[i].case_no);
            sk_h(out, "</td></tr>");
        }
        sk_h(out, "</tbody></table>");
        if (n > PAGE_ROWS)
            sk_h_fmt(out, "<p class=\"more\">+ %zu</p>", n - PAGE_ROWS);
    }
    sk_desk_bottom(out);
    free(v);
    return 200;
}

/* The cases of hers someone else changed: storage's alerts (sk_alerts_for_txn), one line per
 * case with its latest such change. */
typedef struct changed {
    sk_alert *a;
    size_t n, cap;
} changed;

static int changed_add(const sk_alert *al, void *p)
{
    changed *c = p;
    if (c->n && memcmp(c->a[c->n - 1].record.b, al->record.b, sizeof(al->record.b)) == 0) {
        c->a[c->n - 1] = *al; /* a later change of the same case (they come oldest first) */
        return 0;
    }
    if (sk_grow(&c->a, &c->cap, c->n + 1, sizeof(*c->a), 16))
        return -SK_E_NOMEM;
    c->a[c->n++] = *al;
    return 0;
}

static int changed_cmp(const void *a, const void *b)
{
    const sk_alert *x = a, *y = b;
    if (x->at_ms != y->at_ms)
        return x->at_ms > y->at_ms ? -1 : 1;
    return memcmp(x->record.b, y->record.b, sizeof(x->record.b));
}

int sk_desk_page_alerts(sk_buf *out, sk_store *st, const sk_desk_who *who, uint64_t now_ms)
{
    int lang = who->lang, rc;
    sk_worklist_task *v = NULL;
    size_t n = 0;
    changed ch = {NULL, 0, 0};
    MDB_txn *txn = NULL;
    uint64_t since = now_ms > ALERT_DAYS * DAY_MS ? now_ms - ALERT_DAYS * DAY_MS : 1;
    if ((rc = my_tasks(st, who, now_ms, &v, &n)) ||
        (rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn))))
        goto fail;
    rc = sk_alerts_for_txn(st, txn, who->user, since, changed_add, &ch);
    mdb_txn_abort(txn);
    if (rc)
        goto fail;
    if (ch.n > 1)
        qsort(ch.a, ch.n, sizeof(*ch.a), changed_cmp);
    size_t overdue = 0;
    while (overdue < n && v[overdue].urgency == 3)
        overdue++;
    sk_desk_top_h1(out, who, T_ALERTS);
    sk_h(out, "</h1>");
    h2_count(out, lang, T_CHANGED_BY, ch.n);
    sk_h(out, "<ul id=\"alerts-changed\">");
    for (size_t i = 0; i < ch.n && i < PAGE_ROWS; i++) {
        sk_h(out, "<li>");
        case_link_id(out, &ch.a[i].record, ch.a[i].case_no);
        sk_h(out, " <span class=\"when\">");
        sk_h_time_ist(out, ch.a[i].at_ms);
        sk_h(out, "</span> ");
        sk_h_esc(out, sk_t(lang, T_BY));
        sk_h(out, " <b>");
        sk_h_esc(out, ch.a[i].by);
        sk_h(out, "</b></li>");
    }
    sk_h(out, "</ul>");
    h2_count(out, lang, T_TASK_OVERDUE, overdue);
    sk_h(out, "<ul id=\"alerts-overdue\">");
    for (size_t i = 0; i < overdue && i < PAGE_ROWS; i++) {
        sk_h(out, "<li>");
        case_link_id(out, &v[i].record, v[i].case_no);
        sk_h(out, " ");
        task_text(out, lang, &v[i]);
        sk_h(out, " <span class=\"when\">");
        sk_h_time_ist(out, v[i].due_ms);
        sk_h(out, "</span></li>");
    }
    sk_h(out, "</ul>");
    sk_desk_bottom(out);
    free(v);
    free(ch.a);
    return 200;
fail:
    free(v);
    free(ch.a);
    return sk_desk_page_failed(out, lang, T_ALERTS, rc);
}

/* ---- search ------------------------------------------------------------------------------- */

#define SEARCH_MAX_RECORDS 100000u /* records read by one search at most */
#define SEARCH_ROWS 50

/* The string value of field key of r: 0, or -1 when r has no such string. */
static int field_str(const sk_record *r, uint32_t key, const char **s, uint32_t *n)
{
    const sk_field *f = sk_record_field(r, key);
    sk_mp m;
    if (!f)
        return -1;
    sk_mp_init(&m, f->val, f->len);
    return sk_mp_peek(&m) == SK_MP_STR && sk_mp_read_str(&m, s, n) == 0 ? 0 : -1;
}

/* Does the string field key of r contain q (ASCII letters compared without case)? */
static int field_has(const sk_record *r, uint32_t key, const char *q, size_t qn)
{
    const char *s;
    uint32_t n;
    if (field_str(r, key, &s, &n) != 0 || n < qn)
        return 0;
    for (size_t i = 0; i + qn <= n; i++) {
        size_t k = 0;
        while (k < qn) {
            char a = s[i + k], b = q[k];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            if (a != b)
                break;
            k++;
        }
        if (k == qn)
            return 1;
    }
    return 0;
}

static void field_text(sk_buf *b, const sk_record *r, uint32_t key)
{
    const char *s;
    uint32_t n;
    if (field_str(r, key, &s, &n) == 0)
        sk_h_escn(b, s, n);
}

int sk_desk_page_search(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                        uint64_t now_ms, int *searched, size_t *found_out)
{
    int lang = who->lang, rc = 0, mrc;
    const char *term = sk_form_get(q, "q");
    size_t tn = term ? strlen(term) : 0, found = 0, seen = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    sk_actor actor;
    sk_buf res = SK_BUF_INIT;
    (void)now_ms;
    *searched = 0;
    *found_out = 0;
    sk_desk_actor(who, &actor);
    int run = tn >= 2 && tn <= 64;
    if (run) {
        if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn))) ||
            (rc = sk_store_mdb_err(mdb_cursor_open(txn, sk_store_dbi_records(st), &cur))))
            goto out;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && seen < SEARCH_MAX_RECORDS;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), seen++) {
            sk_record r;
            sk_record_init(&r);
            if (sk_store_record_decode(st, &k, &v, &r) != 0 ||
                (r.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) || !sk_case_may_see(&actor, &r)) {
                sk_record_free(&r);
                continue;
            }
            /* what she may not see cannot be found either (a caseworker never sees a minor's
             * identity, whoever the case is assigned to) */
            sk_case_redact(&actor, &r);
            int ident = !(who->role == SK_DESK_CASEWORKER && sk_case_is_minor(&r));
            if ((ident &&
                 (field_has(&r, SK_F_NAME, term, tn) || field_has(&r, SK_F_PHONE, term, tn) ||
                  field_has(&r, SK_F_VILLAGE, term, tn))) ||
                field_has(&r, SK_F_CASE_NO, term, tn)) {
                found++;
                if (found <= SEARCH_ROWS) {
                    char idt[37], no[40] = "";
                    uint64_t status = 0;
                    sk_id_to_str(&r.id, idt);
                    (void)sk_case_get_str(&r, SK_F_CASE_NO, no, sizeof(no));
                    (void)sk_case_get_uint(&r, SK_F_STATUS, &status);
                    sk_h(&res, "<tr data-id=\"");
                    sk_h(&res, idt);
                    sk_h(&res, "\"><td><a href=\"/case?id=");
                    sk_h(&res, idt);
                    sk_h(&res, "\">");
                    sk_h_esc(&res, no[0] ? no : idt);
                    sk_h(&res, "</a></td><td>");
                    sk_desk_status_cell(&res, lang, status);
                    sk_h(&res, "</td><td>");
                    if (ident)
                        field_text(&res, &r, SK_F_NAME);
                    sk_h(&res, "</td><td>");
                    if (ident)
                        field_text(&res, &r, SK_F_VILLAGE);
                    sk_h(&res, "</td></tr>");
                }
            }
            sk_record_free(&r);
        }
        if (mrc != 0 && mrc != MDB_NOTFOUND)
            rc = sk_store_mdb_err(mrc);
        if (rc)
            goto out;
        *searched = 1;
        *found_out = found;
    }
    sk_desk_top_h1(out, who, T_SEARCH);
    sk_h(out, "</h1><form method=\"get\" action=\"/search\" id=\"search\"><input name=\"q\" "
              "id=\"q\" minlength=\"2\" maxlength=\"64\" required value=\"");
    sk_h_esc(out, term ? term : "");
    sk_h(out, "\"> <button id=\"search-go\">");
    sk_h_esc(out, sk_t(lang, T_SEARCH));
    sk_h(out, "</button><p class=\"hint\">");
    sk_h_esc(out, sk_t(lang, T_SEARCH_HINT));
    sk_h(out, "</p></form>");
    if (run) {
        h2_count(out, lang, T_RESULTS, found);
        sk_h(out, "<table id=\"results\"><tbody>");
        sk_buf_append(out, res.data, res.len);
        sk_h(out, "</tbody></table>");
        if (found > SEARCH_ROWS)
            sk_h_fmt(out, "<p class=\"more\">+ %zu</p>", found - SEARCH_ROWS);
    }
    sk_desk_bottom(out);
    if (res.oom)
        out->oom = 1;
out:
    sk_store_txn_drop(txn, cur);
    sk_buf_free(&res);
    if (rc) {
        *searched = 0;
        return sk_desk_page_failed(out, lang, T_SEARCH, rc);
    }
    return 200;
}

/* ---- static files ------------------------------------------------------------------------- */

/* The worklist reloads itself within a few seconds of any change (a device's sync, another
 * person's action): it asks for the store's sequence every second, which costs one read. The
 * poll does not keep the session alive; once the session has ended the page reloads (to the
 * login page). */
const char sk_desk_js[] =
    "'use strict';\n"
    "(function () {\n"
    "  var live = document.getElementById('live');\n"
    "  if (!live) return;\n"
    "  var seq = live.getAttribute('data-seq');\n"
    "  function poll() {\n"
    "    fetch('/api/version', {credentials: 'same-origin', cache: 'no-store'})\n"
    "      .then(function (r) {\n"
    "        if (r.status === 401) { location.reload(); return null; }\n"
    "        return r.ok ? r.json() : null;\n"
    "      })\n"
    "      .then(function (j) {\n"
    "        if (j && String(j.seq) !== seq) { location.reload(); return; }\n"
    "        setTimeout(poll, 1000);\n"
    "      })\n"
    "      .catch(function () { setTimeout(poll, 5000); });\n"
    "  }\n"
    "  setTimeout(poll, 1000);\n"
    "})();\n";

const char sk_desk_css[] =
    "body{font-family:sans-serif;margin:0;color:#222;background:#fafafa}\n"
    "header{display:flex;gap:1em;align-items:center;flex-wrap:wrap;padding:.5em 1em;"
    "background:#5b2a6e;color:#fff}\n"
    "header a{color:#fff}header nav{flex:1}\n"
    "main{padding:1em;max-width:70em}main.narrow{max-width:26em;margin:auto}\n"
    "label{display:block;margin:.5em 0}input,select,button{font-size:1em;padding:.3em}\n"
    "form.inline{display:inline}form.action{display:inline-block;margin:.2em .5em .2em 0}\n"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;"
    "padding:.3em;text-align:left;vertical-align:top}\n"
    "tr.u1 td:first-child{color:#b00;font-weight:bold}\n"
    ".flash{padding:.5em;background:#e6f4e6}.flash.bad{background:#fbe3e3}\n"
    ".tag{font-size:.8em;background:#fde9b6;padding:0 .3em}\n"
    ".hidden{color:#888;font-style:italic}.id{color:#888;font-size:.8em}\n"
    "ul#entries{padding-left:1em}.when{color:#666}\n";
