/*
 * admin_records.c - sakhi-admin's case commands: list, show, followup, note and erase (the
 * workflow operations are in admin_casework.c).
 *
 * Every action is a change applied through the server's sk_apply_change inside one write
 * transaction, exactly as a pushed change is: permissions (sk_case_check_change), merge, the
 * case number on acceptance, validation, history, change log and audit. sakhi-admin acts as
 * device 0 (never given to an enrolled device), its op = the highest op stored for device 0,
 * plus one; base = the record's current version; HLC = the wall clock, after the record's
 * latest stamp. The actor is the operator, the Unix account running sakhi-admin ("unix:NAME"),
 * with the admin role; --as is refused. `list` never prints personal fields; `show` redacts a
 * minor's identifying fields unless --identifying is given. Owns nothing between calls.
 */
#include "admin.h"

#include "sk_caseops.h"
#include "sk_err.h"
#include "sk_json.h"
#include "sk_sample.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct find_ctx {
    const char *case_no;
    sk_record *out;
    int found;
} find_ctx;

static int find_case(const sk_record *r, void *p)
{
    find_ctx *f = p;
    char no[40];
    if (sk_case_get_str(r, SK_F_CASE_NO, no, sizeof(no)) == 0 && strcmp(no, f->case_no) == 0) {
        if (sk_record_copy(f->out, r))
            return -SK_E_NOMEM;
        f->found = 1;
        return 1;
    }
    return 0;
}

static int looks_like_case_no(const char *s)
{
    /* PFX-YYYY-NNNNNN */
    size_t n = strlen(s);
    return n >= 10 && n <= 32 && s[3] == '-' && s[8] == '-';
}

int sk_admin_find_record(sk_admin *a, MDB_txn *txn, const char *text, sk_record *out)
{
    sk_id id;
    sk_record_init(out);
    if (sk_id_from_str(&id, text) == 0) {
        int rc = sk_store_record_get_txn(a->store, txn, &id, out);
        if (rc == -SK_E_NOT_FOUND)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "no record %s", text);
        if (rc)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read record %s: %s", text,
                                 sk_err_text(rc));
        return 0;
    }
    if (looks_like_case_no(text)) {
        find_ctx f = {text, out, 0};
        int rc = sk_store_records_each_txn(a->store, txn, find_case, &f);
        if (rc < 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read records: %s", sk_err_text(rc));
        if (!f.found)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "no record with case number %s", text);
        return 0;
    }
    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                         "bad record id '%s' (a record id like "
                         "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b, or a case number like "
                         "LEH-2026-000123)",
                         text);
}

int sk_admin_wtxn_find(sk_admin *a, sk_admin_wtxn *wt, const char *text, sk_record *out)
{
    sk_record_init(out);
    int rc = sk_admin_wtxn_begin(a, wt);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write: %s", sk_err_text(rc));
    return sk_admin_find_record(a, wt->txn, text, out);
}

/* ---- list -------------------------------------------------------------------------------- */

static const char k_list_help[] =
    "usage: sakhi-admin list [--status S] [--json]\n"
    "\n"
    "One line per record: id, case number, district, status, urgency, capture time, and flags\n"
    "(review: a concurrent edit needs a look; minor; deleted). No personal field is printed.\n"
    "--status keeps one status (new, received, accepted, in_service, closed, referred).\n";

typedef struct list_ctx {
    sk_admin *a;
    uint32_t status;
    size_t n;
} list_ctx;

static int list_row(const sk_record *r, void *p)
{
    list_ctx *c = p;
    uint64_t st = 0;
    char idt[37], no[40] = "-", t[32];
    (void)sk_case_get_uint(r, SK_F_STATUS, &st);
    if (c->status && st != c->status)
        return 0;
    sk_id_to_str(&r->id, idt);
    (void)sk_case_get_str(r, SK_F_CASE_NO, no, sizeof(no));
    sk_sample_format_time(sk_case_captured_ms(r), t);
    sk_admin_case_codes cc;
    sk_admin_case_codes_get(c->a, r, &cc);
    int minor = sk_case_is_minor(r), review = (r->flags & SK_REC_REVIEW) != 0,
        gone = (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) != 0;
    if (c->a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "id", idt);
        sk_jw_kuint(w, "version", r->version);
        sk_jw_kcstr(w, "case_no", strcmp(no, "-") ? no : NULL);
        sk_jw_kcstr(w, "district", cc.district);
        sk_jw_kcstr(w, "status", cc.status);
        sk_jw_kcstr(w, "urgency", cc.urgency);
        sk_jw_kcstr(w, "created_at", t);
        sk_jw_kbool(w, "minor", minor);
        sk_jw_kbool(w, "review", review);
        sk_jw_kbool(w, "deleted", gone);
        if (sk_jline_print(&j))
            return -SK_E_NOMEM;
    } else {
        if (c->n == 0 && c->a->tty)
            printf("%-36s %-16s %-7s %-10s %-16s %-24s %s\n", "ID", "CASE", "DISTR.", "STATUS",
                   "URGENCY", "CAPTURED", "FLAGS");
        printf("%-36s %-16s %-7s %-10s %-16s %-24s %s%s%s\n", idt, no, cc.district, cc.status,
               cc.urgency, t, minor ? "minor " : "", review ? "review " : "",
               gone ? "deleted" : "");
    }
    c->n++;
    return 0;
}

int sk_admin_cmd_list(sk_admin *a, int argc, char **argv)
{
    const char *status_s = NULL;
    const sk_admin_opt opts[] = {{"status", 1, &status_s, NULL}, {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_list_help);
    if (rc)
        return rc;
    list_ctx c = {a, 0, 0};
    if (status_s && !(c.status = sk_enum_code(SK_ENUM_STATUS, status_s)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --status '%s'", status_s);
    MDB_txn *txn;
    if ((rc = sk_admin_open_read(a, &txn)))
        return rc;
    return sk_admin_list_records(a, txn, list_row, &c, "records");
}

/* ---- show -------------------------------------------------------------------------------- */

static const char k_show_help[] =
    "usage: sakhi-admin show ID [--identifying]\n"
    "\n"
    "Prints one record as JSON with field names (ID is the record id or its case number).\n"
    "For a minor's case the identifying fields (name, phone, village, notes, concern_other,\n"
    "follow-up and case-note texts) are withheld unless --identifying is given; such a view is\n"
    "written to the audit log under the Unix account that ran it.\n";

/* Open the store and resolve the actor used for redaction: the operator (the Unix account
 * running sakhi-admin) with the admin role when --identifying is given, else a staff view of
 * all districts. --as is refused (sk_admin_actor). */
static int redaction_actor(sk_admin *a, int identifying, const char *as, sk_actor *actor,
                           sk_worker *wbuf)
{
    memset(actor, 0, sizeof(*actor));
    int rc = sk_admin_open_as(a, as, actor, wbuf);
    if (rc)
        return rc;
    actor->role = identifying ? SK_ROLE_ADMIN : SK_ROLE_STAFF;
    return 0;
}

int sk_admin_cmd_show(sk_admin *a, int argc, char **argv)
{
    const char *as = NULL, *pos[1];
    int identifying = 0;
    const sk_admin_opt opts[] = {
        {"as", 1, &as, NULL}, {"identifying", 0, NULL, &identifying}, {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, 1, 1, NULL, k_show_help);
    if (rc)
        return rc;
    sk_actor actor;
    sk_worker wb;
    if ((rc = redaction_actor(a, identifying, as, &actor, &wb)))
        return rc;
    MDB_txn *txn;
    sk_record r;
    if ((rc = sk_admin_read_begin(a, &txn)))
        return rc;
    rc = sk_admin_find_record(a, txn, pos[0], &r);
    mdb_txn_abort(txn);
    if (rc)
        return rc;
    int minor = sk_case_is_minor(&r);
    if (minor && identifying) {
        char detail[96], idt[37];
        sk_id_to_str(&r.id, idt);
        snprintf(detail, sizeof(detail), "record=%s identifying=1", idt);
        if ((rc = sk_admin_audit_now(a, "show", actor.worker, detail))) {
            sk_record_free(&r);
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write the audit log: %s",
                                 sk_err_text(rc));
        }
    }
    sk_case_redact(&actor, &r);
    char *js = sk_sample_to_json(&r);
    sk_record_free(&r);
    if (!js)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "out of memory");
    if (minor && !identifying)
        printf("{\"redacted\":true,%s\n", js + 1);
    else
        printf("%s\n", js);
    free(js);
    return 0;
}

/* ---- actions through sk_apply_change ----------------------------------------------------- */

/* Fill change c for the current record cur. A negative SK_E_* refuses (message in msg). */
typedef int (*build_fn)(sk_change *c, const sk_record *cur, const sk_actor *actor, uint64_t now_ms,
                        void *arg, char *msg, size_t cap);

/* Run one change on record `text` as actor; prints the outcome. Returns an exit status. */
static int apply_action(sk_admin *a, const sk_actor *actor, const char *text, const char *event,
                        build_fn build, void *arg)
{
    sk_admin_wtxn wt;
    sk_record cur, after;
    sk_change c;
    sk_ack ack;
    char msg[SK_MAX_MESSAGE + 64], idt[37];
    uint64_t now = sk_admin_now_ms();
    int rc, status = SK_ADMIN_EXIT_FAIL;
    sk_record_init(&after);
    sk_change_init(&c);
    if ((status = sk_admin_wtxn_find(a, &wt, text, &cur)))
        goto out;
    status = SK_ADMIN_EXIT_FAIL;
    sk_id_to_str(&cur.id, idt);
    if ((rc = sk_caseops_change_begin(wt.txn, SK_ADMIN_DEVICE, &cur, now, &c))) {
        sk_admin_fail(a, status, "cannot read the op counter: %s", sk_err_text(rc));
        goto out;
    }
    msg[0] = '\0';
    if ((rc = build(&c, &cur, actor, now, arg, msg, sizeof(msg)))) {
        sk_admin_fail(a, status, "refused: %s", msg[0] ? msg : sk_err_text(rc));
        goto out;
    }
    rc = sk_caseops_change_apply(a->store, wt.txn, SK_ADMIN_DEVICE, actor, now, 0, &c, &ack, msg,
                                 sizeof(msg));
    if (rc) {
        sk_admin_fail(a, status, "store error: %s", sk_err_text(rc));
        goto out;
    }
    if (ack.status == SK_ACK_REJECTED) {
        /* Nothing of a rejected change is kept: abort (the op number is simply reused). */
        sk_admin_fail(a, status, "refused: %.*s (%s)", (int)ack.msg.n, ack.msg.p,
                      sk_err_name((int)ack.code));
        goto out;
    }
    char detail[128];
    snprintf(detail, sizeof(detail), "record=%s seq=%" PRIu64 "%s%s", idt, ack.version,
             c.kind == SK_CHANGE_ERASE ? " reason=" : "",
             c.kind == SK_CHANGE_ERASE ? (const char *)arg : "");
    if ((rc = sk_admin_audit_txn(a, wt.txn, event, actor->worker, detail)) ||
        (rc = sk_store_record_get_txn(a->store, wt.txn, &cur.id, &after))) {
        sk_admin_fail(a, status, "store error: %s", sk_err_text(rc));
        goto out;
    }
    if ((rc = sk_admin_wtxn_commit(a, &wt))) {
        sk_admin_fail(a, status, "cannot commit: %s", sk_err_text(rc));
        goto out;
    }
    char no[40] = "", b1[24];
    (void)sk_case_get_str(&after, SK_F_CASE_NO, no, sizeof(no));
    const char *st = sk_admin_enum_text(SK_ENUM_STATUS, &after, SK_F_STATUS, b1, sizeof(b1));
    status = sk_admin_print_change(a, idt, event, ack.version, ack.status == SK_ACK_MERGED, st, no,
                                   NULL);
out:
    sk_admin_wtxn_abort(a, &wt);
    sk_change_free(&c);
    sk_record_free(&cur);
    sk_record_free(&after);
    return status;
}

typedef struct entry_arg {
    uint32_t list;
    const char *text;
} entry_arg;

static int build_entry(sk_change *c, const sk_record *cur, const sk_actor *actor, uint64_t now,
                       void *arg, char *msg, size_t cap)
{
    entry_arg *e = arg;
    (void)cur;
    (void)msg;
    (void)cap;
    sk_id id;
    sk_buf b = SK_BUF_INIT;
    msgpack_packer pk;
    int rc = sk_id_new(&id, now);
    if (rc)
        return rc;
    sk_packer_init(&pk, &b);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_uint32(&pk, SK_ENTRY_BY);
    sk_pack_cstr(&pk, actor->worker);
    msgpack_pack_uint32(&pk, SK_ENTRY_TEXT);
    sk_pack_cstr(&pk, e->text);
    msgpack_pack_uint32(&pk, SK_ENTRY_AT);
    msgpack_pack_uint64(&pk, now);
    rc = b.oom ? -SK_E_NOMEM : sk_change_add_entry(c, &id, e->list, b.data, (uint32_t)b.len);
    sk_buf_free(&b);
    return rc;
}

/* Common front of the action commands: parse, open, resolve the actor (admin.h). */
int sk_admin_action_setup(sk_admin *a, int argc, char **argv, sk_admin_opt *extra, size_t nextra,
                          const char **pos, size_t npos_need, const char *help, sk_actor *actor,
                          sk_worker *wb)
{
    const char *as = NULL;
    sk_admin_opt opts[8];
    size_t n = 0;
    for (size_t i = 0; i < nextra && n < 6; i++)
        opts[n++] = extra[i];
    opts[n++] = (sk_admin_opt){"as", 1, &as, NULL};
    opts[n] = (sk_admin_opt){NULL, 0, NULL, NULL};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, npos_need, npos_need, NULL, help);
    if (rc)
        return rc;
    return sk_admin_open_as(a, as, actor, wb);
}

#define AS_HELP                                                                                    \
    "The action is the operator's: the Unix account running sakhi-admin, with the admin role\n"    \
    "(--as is refused). Every action goes through the server's rules (workflow, permissions,\n"    \
    "validation) and is written to the audit log under that account.\n"

static const char k_followup_help[] =
    "usage: sakhi-admin followup ID TEXT [--json]\n"
    "\n"
    "Adds a follow-up (1 to 4000 bytes of text) to a case; it syncs to the field worker.\n" AS_HELP;

static const char k_note_help[] =
    "usage: sakhi-admin note ID TEXT [--json]\n"
    "\n"
    "Adds a case note (1 to 4000 bytes; staff and admin only) to a case.\n" AS_HELP;

static int entry_cmd(sk_admin *a, int argc, char **argv, uint32_t list, const char *event,
                     const char *help)
{
    const char *pos[2];
    sk_actor actor;
    sk_worker wb;
    int rc = sk_admin_action_setup(a, argc, argv, NULL, 0, pos, 2, help, &actor, &wb);
    if (rc)
        return rc;
    if (!pos[1][0])
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "the text must not be empty");
    entry_arg e = {list, pos[1]};
    return apply_action(a, &actor, pos[0], event, build_entry, &e);
}

int sk_admin_cmd_followup(sk_admin *a, int argc, char **argv)
{
    return entry_cmd(a, argc, argv, SK_LIST_FOLLOWUP, "followup", k_followup_help);
}

int sk_admin_cmd_note(sk_admin *a, int argc, char **argv)
{
    return entry_cmd(a, argc, argv, SK_LIST_CASENOTE, "note", k_note_help);
}

/* Reasons an administrator may give for an erasure: codes only, since the audit log never
 * holds free text that could carry referral content. */
static const char *const k_erase_reasons[] = {"survivor_request", "court_order", "duplicate",
                                              "entered_in_error", "retention"};

static int build_erase(sk_change *c, const sk_record *cur, const sk_actor *actor, uint64_t now,
                       void *arg, char *msg, size_t cap)
{
    (void)cur;
    (void)actor;
    (void)now;
    (void)arg;
    (void)msg;
    (void)cap;
    c->kind = SK_CHANGE_ERASE;
    return 0;
}

static const char k_erase_help[] =
    "usage: sakhi-admin erase ID --reason REASON [--json]\n"
    "\n"
    "Erases a record for good (administrators only): its content and history are wiped, a\n"
    "tombstone remains so devices drop their copy at their next sync, and the record's key is\n"
    "shredded once the erasure is committed, so no copy of its sealed content (old pages,\n"
    "backups of data.mdb taken before) can be opened again. REASON: survivor_request,\n"
    "court_order, duplicate, entered_in_error, retention (recorded in the audit log).\n"
    "The erasure is recorded under the Unix account running sakhi-admin.\n";

int sk_admin_cmd_erase(sk_admin *a, int argc, char **argv)
{
    const char *pos[1], *reason = NULL;
    sk_admin_opt extra[] = {{"reason", 1, &reason, NULL}};
    sk_actor actor;
    sk_worker wb;
    int rc = sk_admin_action_setup(a, argc, argv, extra, 1, pos, 1, k_erase_help, &actor, &wb);
    if (rc)
        return rc;
    const char *code = NULL;
    for (size_t i = 0; reason && i < sizeof(k_erase_reasons) / sizeof(k_erase_reasons[0]); i++)
        if (strcmp(reason, k_erase_reasons[i]) == 0)
            code = k_erase_reasons[i];
    if (!code)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--reason must be one of survivor_request, court_order, duplicate, "
                             "entered_in_error, retention");
    if (actor.role != SK_ROLE_ADMIN)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "only an administrator may erase a record");
    return apply_action(a, &actor, pos[0], "erase", build_erase, (void *)code);
}

int sk_admin_caseops_commit(sk_admin *a, sk_admin_wtxn *wt, const sk_actor *actor,
                            const sk_cw_op *op, sk_caseops_result *res)
{
    sk_caseops_ctx ctx = {a->store, wt->txn, actor, sk_admin_now_ms(), 0};
    int rc = sk_caseops_apply(&ctx, op, res);
    if (rc == -SK_E_STORE_IO || rc == -SK_E_STORE_FULL || rc == -SK_E_NOMEM || rc == -SK_E_INTERNAL)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "store error: %s", sk_err_text(rc));
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "refused: %s (%s)", res->err.msg,
                             sk_err_name(res->err.code));
    if ((rc = sk_admin_wtxn_commit(a, wt)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot commit: %s", sk_err_text(rc));
    return 0;
}
