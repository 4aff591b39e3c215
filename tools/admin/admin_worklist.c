/*
 * admin_worklist.c - sakhi-admin cases, tasks and alerts: the centre's worklists, printed from
 * storage/sk_worklist.h (the same functions the desk calls), so a filter or an order means the
 * same on every screen.
 *
 * Tables have a header row and show times in the centre's zone (IST) unless --utc is given;
 * --json prints one object per line. No personal field of a case is printed: cases show ids,
 * codes, worker ids and times; tasks show their text, withheld for a minor's case the viewer may
 * not see identifying data of. The viewer is the operator (the Unix account running
 * sakhi-admin, with the admin role). Owns nothing between calls; writes nothing.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_json.h"
#include "sk_term.h"
#include "sk_worklist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *zone(int utc)
{
    return utc ? "UTC" : "IST";
}

/* ---- cases -------------------------------------------------------------------------------- */

static const char k_cases_help[] =
    "usage: sakhi-admin cases [--status S] [--urgent] [--assigned-to W] [--review] [--overdue]\n"
    "                         [--district D] [--since YYYY-MM-DD] [--utc] [--json]\n"
    "\n"
    "The centre's case list, one line per case under a header row: case number, record id,\n"
    "district, status, urgency, owner, capture time (IST, or UTC with --utc), open and overdue\n"
    "tasks, and flags (review, minor). No personal field is printed. Filters combine:\n"
    "  --status S        new, received, accepted, in_service, closed, referred, declined\n"
    "  --urgent          urgency immediate_danger or urgent\n"
    "  --assigned-to W   W owns the case or is its assigned field worker\n"
    "  --review          flagged for review (a concurrent edit to resolve)\n"
    "  --overdue         has an open task past its due time\n"
    "  --district D      leh or kargil\n"
    "  --since DATE      captured on or after that day (IST, or UTC with --utc)\n"
    "Deleted cases are not listed.\n";

typedef struct cases_ctx {
    sk_admin *a;
    sk_case_filter f;
    uint64_t now;
    int utc;
    size_t n;
} cases_ctx;

static int cases_row(const sk_record *r, void *p)
{
    cases_ctx *c = p;
    if (!sk_case_filter_match(&c->f, r, c->now))
        return 0;
    char idt[37], no[40] = "", owner[SK_MAX_NAME + 1] = "", t[32];
    sk_id_to_str(&r->id, idt);
    (void)sk_case_get_str(r, SK_F_CASE_NO, no, sizeof(no));
    (void)sk_case_get_str(r, SK_F_OWNER, owner, sizeof(owner));
    sk_admin_fmt_time(sk_case_captured_ms(r), c->utc, 0, t);
    sk_admin_case_codes cc;
    sk_admin_case_codes_get(c->a, r, &cc);
    sk_task_view tv[64];
    size_t nt = 0, open = 0;
    if (sk_case_tasks(r, tv, 64, &nt) == 0)
        for (size_t i = 0; i < nt && i < 64; i++)
            open += tv[i].state == SK_TASK_OPEN;
    size_t overdue = sk_case_overdue_tasks(r, c->now);
    int minor = sk_case_is_minor(r), review = (r->flags & SK_REC_REVIEW) != 0;
    if (c->a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "case_no", no[0] ? no : NULL);
        sk_jw_kcstr(w, "id", idt);
        sk_jw_kcstr(w, "district", cc.district);
        sk_jw_kcstr(w, "status", cc.status);
        sk_jw_kcstr(w, "urgency", cc.urgency);
        sk_jw_kcstr(w, "owner", owner[0] ? owner : NULL);
        sk_jw_kcstr(w, "captured", t);
        sk_jw_kcstr(w, "zone", zone(c->utc));
        sk_jw_kuint(w, "open_tasks", open);
        sk_jw_kuint(w, "overdue_tasks", overdue);
        sk_jw_kbool(w, "review", review);
        sk_jw_kbool(w, "minor", minor);
        if (sk_jline_print(&j))
            return -SK_E_NOMEM;
    } else {
        char ob[3 * SK_MAX_NAME + 8];
        printf("%-16s %-36s %-7s %-10s %-16s %-16s %-16s %5zu %7zu %s%s\n", no[0] ? no : "-", idt,
               cc.district, cc.status, cc.urgency,
               owner[0] ? sk_term_cstr(ob, sizeof(ob), owner) : "-", t, open, overdue,
               review ? "review " : "", minor ? "minor" : "");
    }
    c->n++;
    return 0;
}

int sk_admin_cmd_cases(sk_admin *a, int argc, char **argv)
{
    const char *status = NULL, *who = NULL, *district = NULL, *since = NULL;
    int urgent = 0, review = 0, overdue = 0, utc = 0;
    const sk_admin_opt opts[] = {{"status", 1, &status, NULL},   {"urgent", 0, NULL, &urgent},
                                 {"assigned-to", 1, &who, NULL}, {"review", 0, NULL, &review},
                                 {"overdue", 0, NULL, &overdue}, {"district", 1, &district, NULL},
                                 {"since", 1, &since, NULL},     {"utc", 0, NULL, &utc},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_cases_help);
    if (rc)
        return rc;
    cases_ctx c;
    memset(&c, 0, sizeof(c));
    c.a = a;
    c.utc = utc;
    c.now = sk_admin_now_ms();
    c.f.urgent = urgent;
    c.f.review = review;
    c.f.overdue = overdue;
    c.f.who = who;
    if (status && !(c.f.status = sk_enum_code(SK_ENUM_STATUS, status)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --status '%s'", status);
    if (district && (rc = sk_admin_district_code(a, district, &c.f.district)))
        return rc;
    if (who && (!who[0] || strlen(who) > SK_MAX_NAME))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--assigned-to needs a worker id");
    if (since && sk_admin_parse_day(since, utc, 0, &c.f.since_ms))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--since needs a date like 2026-06-19");
    MDB_txn *txn;
    if ((rc = sk_admin_open_read(a, &txn)))
        return rc;
    if (!a->json)
        printf("%-16s %-36s %-7s %-10s %-16s %-16s %-16s %5s %7s %s\n", "CASE", "ID", "DISTR.",
               "STATUS", "URGENCY", "OWNER", utc ? "CAPTURED (UTC)" : "CAPTURED (IST)", "TASKS",
               "OVERDUE", "FLAGS");
    return sk_admin_list_records(a, txn, cases_row, &c, "cases");
}

/* ---- tasks -------------------------------------------------------------------------------- */

static const char k_tasks_help[] =
    "usage: sakhi-admin tasks [--for W] [--window DAYS] [--utc] [--json]\n"
    "\n"
    "The worklist: every open task, most urgent first (overdue, due within 24 hours, due within\n"
    "the window, later), then by due time (IST, or UTC with --utc). --for keeps the tasks of\n"
    "one worker; --window sets the due-soon window (default 7 days). A minor's task text is\n"
    "withheld from viewers who may not see her identifying data.\n";

static const char *const k_urgency[] = {"later", "due soon", "due", "overdue"};

int sk_admin_cmd_tasks(sk_admin *a, int argc, char **argv)
{
    const char *for_w = NULL, *window = NULL;
    int utc = 0;
    const sk_admin_opt opts[] = {{"for", 1, &for_w, NULL},
                                 {"window", 1, &window, NULL},
                                 {"utc", 0, NULL, &utc},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_tasks_help);
    if (rc)
        return rc;
    uint64_t win_days = 7;
    if (window && sk_admin_parse_uint(window, 0, 365, &win_days))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--window needs 0 to 365 days");
    sk_actor viewer;
    sk_worker wb;
    MDB_txn *txn;
    if ((rc = sk_admin_open_read(a, &txn)))
        return rc;
    if ((rc = sk_admin_actor(a, NULL, &viewer, &wb))) {
        mdb_txn_abort(txn);
        return rc;
    }
    sk_worklist_task *list = NULL;
    size_t n = 0;
    uint64_t now = sk_admin_now_ms();
    rc = sk_worklist_tasks_txn(a->store, txn, &viewer, for_w, now, win_days * SK_ADMIN_DAY_MS,
                               &list, &n);
    mdb_txn_abort(txn);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read tasks: %s", sk_err_text(rc));
    if (!a->json)
        printf("%-9s %-16s %-16s %-16s %-15s %-36s %s\n", "URGENCY",
               utc ? "DUE (UTC)" : "DUE (IST)", "CASE", "FOR", "KIND", "TASK", "TEXT");
    for (size_t i = 0; i < n && !rc; i++) {
        const sk_worklist_task *t = &list[i];
        char due[32], tid[37], rid[37], kb[24];
        const char *kind = sk_enum_name(SK_ENUM_TASK_KIND, t->kind ? t->kind : SK_TASK_MANUAL);
        if (!kind) {
            snprintf(kb, sizeof(kb), "unknown(%u)", (unsigned)t->kind);
            kind = kb;
        }
        sk_admin_fmt_time(t->due_ms, utc, 0, due);
        sk_id_to_str(&t->task, tid);
        sk_id_to_str(&t->record, rid);
        if (a->json) {
            sk_admin_json j;
            sk_jw *w = sk_jline_begin(&j);
            sk_jw_kcstr(w, "urgency", k_urgency[t->urgency & 3]);
            sk_jw_kcstr(w, "due", due);
            sk_jw_kcstr(w, "zone", zone(utc));
            sk_jw_kcstr(w, "case_no", t->case_no[0] ? t->case_no : NULL);
            sk_jw_kcstr(w, "record", rid);
            sk_jw_kcstr(w, "for", t->for_worker);
            sk_jw_kcstr(w, "kind", kind);
            sk_jw_kcstr(w, "task", tid);
            sk_jw_kcstr(w, "text", t->withheld ? NULL : t->text);
            sk_jw_kbool(w, "withheld", t->withheld);
            rc = sk_admin_json_end(a, &j);
        } else {
            char fb[3 * SK_MAX_NAME + 8], tb[3 * SK_WORKLIST_TEXT + 8];
            printf("%-9s %-16s %-16s %-16s %-15s %-36s %s\n", k_urgency[t->urgency & 3], due,
                   t->case_no[0] ? t->case_no : rid, sk_term_cstr(fb, sizeof(fb), t->for_worker),
                   kind, tid, t->withheld ? "(withheld)" : sk_term_cstr(tb, sizeof(tb), t->text));
        }
    }
    free(list);
    return rc;
}

/* ---- alerts ------------------------------------------------------------------------------- */

static const char k_alerts_help[] =
    "usage: sakhi-admin alerts --for STAFF [--since YYYY-MM-DD] [--utc] [--json]\n"
    "\n"
    "What others changed on the cases STAFF owns: each change made by someone else (a field\n"
    "worker's device, another staff member, an administrator, the server's rules) since she\n"
    "became the owner, with who, when (IST, or UTC with --utc), which case, and what it set or\n"
    "added (field names, entry counts; never values). An alert is cleared when the owner next\n"
    "changes that case herself; a case's alerts go when it gets another owner or is deleted\n"
    "(docs/CASE-MODEL.md, section 9).\n";

typedef struct alerts_ctx {
    sk_admin *a;
    int utc;
} alerts_ctx;

static int alert_row(const sk_alert *al, void *p)
{
    alerts_ctx *c = p;
    char t[32], rid[37], fb[24], wb[3 * SK_MAX_NAME + 8];
    const char *what = al->kind == SK_CHANGE_DELETE  ? "deleted"
                       : al->kind == SK_CHANGE_ERASE ? "erased"
                                                     : "changed";
    sk_admin_fmt_time(al->at_ms, c->utc, 0, t);
    sk_id_to_str(&al->record, rid);
    if (c->a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "at", t);
        sk_jw_kcstr(w, "zone", zone(c->utc));
        sk_jw_kcstr(w, "case_no", al->case_no[0] ? al->case_no : NULL);
        sk_jw_kcstr(w, "record", rid);
        sk_jw_kuint(w, "seq", al->seq);
        sk_jw_kcstr(w, "by", al->by);
        sk_jw_kuint(w, "device", al->device);
        sk_jw_kcstr(w, "change", what);
        sk_jw_key(w, "fields");
        sk_jw_arr_begin(w);
        for (uint32_t i = 0; i < al->nkeys && i < 16; i++)
            sk_jw_cstr(w, sk_admin_field_name(al->keys[i], fb));
        sk_jw_arr_end(w);
        sk_jw_kuint(w, "entries", al->nentries);
        return sk_jline_print(&j) ? -SK_E_NOMEM : 0;
    }
    printf("%-16s %-16s %-16s %-7s", t, al->case_no[0] ? al->case_no : rid,
           sk_term_cstr(wb, sizeof(wb), al->by), what);
    for (uint32_t i = 0; i < al->nkeys && i < 16; i++)
        printf(" %s", sk_admin_field_name(al->keys[i], fb));
    if (al->nkeys > 16)
        printf(" ...");
    if (al->nentries)
        printf(" +%u entr%s", (unsigned)al->nentries, al->nentries == 1 ? "y" : "ies");
    printf("\n");
    return 0;
}

int sk_admin_cmd_alerts(sk_admin *a, int argc, char **argv)
{
    const char *for_w = NULL, *since = NULL;
    int utc = 0;
    const sk_admin_opt opts[] = {{"for", 1, &for_w, NULL},
                                 {"since", 1, &since, NULL},
                                 {"utc", 0, NULL, &utc},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_alerts_help);
    if (rc)
        return rc;
    if (!for_w || !for_w[0] || strlen(for_w) > SK_MAX_NAME)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "alerts needs --for STAFF");
    uint64_t since_ms = 0;
    if (since && sk_admin_parse_day(since, utc, 0, &since_ms))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--since needs a date like 2026-06-19");
    MDB_txn *txn;
    if ((rc = sk_admin_open_read(a, &txn)))
        return rc;
    alerts_ctx c = {a, utc};
    if (!a->json)
        printf("%-16s %-16s %-16s %-7s %s\n", utc ? "WHEN (UTC)" : "WHEN (IST)", "CASE", "BY",
               "CHANGE", "WHAT");
    rc = sk_alerts_for_txn(a->store, txn, for_w, since_ms, alert_row, &c);
    mdb_txn_abort(txn);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read alerts: %s", sk_err_text(rc));
    return 0;
}
