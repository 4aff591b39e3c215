/*
 * admin_casework.c - sakhi-admin's workflow commands: accept, start, assign, service, refer,
 * decline, close, reopen, shelter, task and config, each one call of the server's casework API
 * (storage/sk_caseops.h) inside one write transaction of the data directory.
 *
 * The API applies the operation through the server's one write path (sk_apply_change), so a
 * command here is judged, merged, versioned, kept in history, audited and synced exactly as the
 * same step taken on the desk or pushed by a staff device; a refusal prints the model's message
 * and writes nothing. The actor is resolved by sk_admin_action_setup (admin_records.c). Each
 * command's --help names the states it starts from and goes to. Owns nothing between calls;
 * prints ids, codes and states, never a referral's content.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* timegm */
#endif
#include "admin.h"

#include "sk_caseops.h"
#include "sk_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The centre's casework settings (the store must be open): 0 or an exit status. */
static int load_config(sk_admin *a, sk_cw_config *cfg)
{
    MDB_txn *txn;
    int rc = sk_admin_read_begin(a, &txn);
    if (rc)
        return rc;
    rc = sk_caseops_config_load(a->store, txn, cfg);
    mdb_txn_abort(txn);
    return rc ? sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read: %s", sk_err_text(rc)) : 0;
}

#define ACTOR_HELP                                                                                 \
    "The step is the operator's (the Unix account running sakhi-admin, admin role; --as is\n"      \
    "refused). It goes through the server's one write path (workflow, permissions, validation,\n"  \
    "history) and the audit log; a refused step prints the model's reason and changes nothing.\n"  \
    "Exit status 0 done, 1 refused or failed, 2 usage.\n"

/* Apply op on record `text` as actor in one write transaction; print the outcome. */
static int run_op(sk_admin *a, const sk_actor *actor, const char *text, sk_cw_op *op)
{
    sk_admin_wtxn wt;
    sk_record cur;
    sk_caseops_result res;
    char idt[37];
    int rc, status = SK_ADMIN_EXIT_FAIL;
    if ((status = sk_admin_wtxn_find(a, &wt, text, &cur)))
        goto out;
    status = SK_ADMIN_EXIT_FAIL;
    op->record = cur.id;
    sk_id_to_str(&cur.id, idt);
    /* Accepting twice is a person's mistake: say what the case already is. */
    uint64_t st = 0;
    char no[40] = "";
    if (op->kind == SK_CW_ACCEPT && sk_case_get_uint(&cur, SK_F_STATUS, &st) == 0 &&
        st >= SK_STATUS_ACCEPTED && st <= SK_STATUS_REFERRED) {
        (void)sk_case_get_str(&cur, SK_F_CASE_NO, no, sizeof(no));
        sk_admin_fail(a, status, "refused: already %s%s%s (TRANSITION)",
                      sk_enum_name(SK_ENUM_STATUS, st), no[0] ? " as " : "", no);
        goto out;
    }
    if ((rc = sk_admin_caseops_commit(a, &wt, actor, op, &res))) {
        status = rc;
        goto out;
    }
    const char *sname = sk_enum_name(SK_ENUM_STATUS, res.status);
    const char *outcome = res.outcome == SK_CW_CLOSE_REQUESTED  ? "close_requested"
                          : res.outcome == SK_CW_CLOSE_APPROVED ? "close_approved"
                                                                : "done";
    status = SK_ADMIN_EXIT_OK;
    if (!a->json && res.outcome == SK_CW_CLOSE_REQUESTED)
        printf("%s: closure requested; another staff member approves it with `close`\n", idt);
    else
        status = sk_admin_print_change(a, idt, sk_cw_kind_name(op->kind), res.version, res.merged,
                                       sname ? sname : "unknown", res.case_no, outcome);
out:
    sk_admin_wtxn_abort(a, &wt);
    sk_record_free(&cur);
    return status;
}

/* ---- status steps ------------------------------------------------------------------------- */

static const char k_accept_help[] =
    "usage: sakhi-admin accept ID [--json]\n"
    "\n"
    "States: received -> accepted. The store gives the case the district's next case number\n"
    "of the year (LEH-2026-000123), which is printed.\n" ACTOR_HELP;

static const char k_start_help[] =
    "usage: sakhi-admin start ID [--json]\n"
    "\n"
    "States: accepted -> in_service (a service recorded as in_progress or given does this\n"
    "too).\n" ACTOR_HELP;

/* What a step's command line gave: the record (pos[0]) and, for a task's state, the task
 * (pos[1]); up to four option values (v[0..3], in the order of step.opt) and one flag (fl). */
typedef struct step_args {
    const char *pos[2];
    const char *v[4];
    int fl;
} step_args;

/* One step of the tables below: its help, how many positional arguments it takes, its value
 * options and flag, the operation (and a task's new state) and how the arguments fill it; fill
 * returns 0 or an exit status after a usage message. */
typedef struct step {
    const char *help;
    size_t npos;
    const char *opt[4];
    const char *flag;
    uint32_t kind;
    uint32_t task_state;
    int (*fill)(sk_admin *a, const step_args *g, sk_cw_op *op);
} step;

/* Parse a step's command line, fill its operation and run it: every step the same way. */
static int run_step(sk_admin *a, int argc, char **argv, const step *st)
{
    step_args g;
    memset(&g, 0, sizeof(g));
    sk_admin_opt extra[5];
    size_t n = 0;
    for (size_t i = 0; i < 4 && st->opt[i]; i++)
        extra[n++] = (sk_admin_opt){st->opt[i], 1, &g.v[i], NULL};
    if (st->flag)
        extra[n++] = (sk_admin_opt){st->flag, 0, NULL, &g.fl};
    sk_actor actor;
    sk_worker wb;
    int rc = sk_admin_action_setup(a, argc, argv, extra, n, g.pos, st->npos, st->help, &actor, &wb);
    if (rc)
        return rc;
    sk_cw_op op;
    memset(&op, 0, sizeof(op));
    op.kind = st->kind;
    op.task_state = st->task_state;
    if (st->fill && (rc = st->fill(a, &g, &op)))
        return rc;
    return run_op(a, &actor, g.pos[0], &op);
}

static const char k_decline_help[] =
    "usage: sakhi-admin decline ID --reason duplicate|outside_district|not_osc_matter\n"
    "       [--note TEXT] [--json]\n"
    "\n"
    "States: new or received -> declined. The reason code syncs to the worker who sent the\n"
    "referral (her device keeps status and reason, nothing else); --note adds a reason text\n"
    "for the centre (1 to 256 bytes).\n" ACTOR_HELP;

static const char k_close_help[] =
    "usage: sakhi-admin close ID --reason TEXT [--json]\n"
    "\n"
    "States: accepted or in_service -> closed, with a reason (1 to 256 bytes).\n"
    "When the centre turns on closure approval (`sakhi-admin config close_approval on`), a\n"
    "staff member's close records a closure request; a second staff member's close approves it\n"
    "(--reason may then be left out: the requested reason is used). The one who asked cannot\n"
    "approve; an administrator (so sakhi-admin's operator) closes directly.\n" ACTOR_HELP;

static const char k_reopen_help[] =
    "usage: sakhi-admin reopen ID --reason TEXT [--json]\n"
    "\n"
    "States: closed or referred -> in_service, with a reason (1 to 256 bytes).\n" ACTOR_HELP;

static const char k_refer_help[] =
    "usage: sakhi-admin refer ID --to DEST [--detail TEXT] [--reason TEXT]\n"
    "       [--override REASON] [--json]\n"
    "\n"
    "States: accepted or in_service -> referred. DEST: police_station, hospital, court,\n"
    "protection_officer, legal_services_authority, shelter_home, ngo, other_osc; --detail names\n"
    "the place (up to 200 bytes). Referral onward needs the woman's recorded consent to share;\n"
    "without it, --override gives the reason (kept on the record, audited). The worker who\n"
    "brought the case gets a follow-up visit task (7 days later by default; `sakhi-admin config\n"
    "referral_visit_days N`, 0 turns it off).\n" ACTOR_HELP;

static const char k_assign_help[] =
    "usage: sakhi-admin assign ID [--owner STAFF] [--field-worker WORKER | --no-field-worker]\n"
    "       [--json]\n"
    "\n"
    "States: any but declined; the status does not change. --owner makes an enabled staff\n"
    "member of the case's district responsible (the counsellor: she alone of the staff sees an\n"
    "assigned minor's identity); --field-worker assigns the field worker who follows the case\n"
    "(replacing the previous one, whose devices keep only the minimised form), and\n"
    "--no-field-worker removes her.\n" ACTOR_HELP;

static const char k_service_help[] =
    "usage: sakhi-admin service ID --service NAME --status STATUS [--json]\n"
    "\n"
    "States: accepted or in_service (an accepted case goes to in_service when a service is\n"
    "in_progress or given). NAME: legal_aid, medical_assistance, police_facilitation,\n"
    "counselling, shelter (for temporary shelter with its day limit use `shelter`). STATUS:\n"
    "needed, in_progress, given, declined, not_needed.\n" ACTOR_HELP;

static const char k_shelter_help[] =
    "usage: sakhi-admin shelter ID [--start YYYY-MM-DD] [--json]\n"
    "       sakhi-admin shelter ID --extend DAYS [--json]\n"
    "\n"
    "States: accepted or in_service (an accepted case goes to in_service). Temporary shelter\n"
    "starts on --start (a date in IST; default now) for 5 days; the case's owner (else the\n"
    "actor) gets a task due the day before it runs out. --extend sets 6 to 10 days in all\n"
    "(the scheme's limit) and moves the task.\n" ACTOR_HELP;

static int fill_decline(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    if (!g->v[0] || !(op->decline_reason = sk_enum_code(SK_ENUM_DECLINE_REASON, g->v[0])))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--reason must be duplicate, outside_district or not_osc_matter");
    op->reason = g->v[1];
    return 0;
}

static int fill_close(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    op->reason = g->v[0] && g->v[0][0] ? g->v[0] : NULL;
    /* Without approval pending a close needs its reason: a usage error before any lookup. */
    if (!op->reason) {
        sk_cw_config cfg;
        int rc = load_config(a, &cfg);
        if (rc)
            return rc;
        if (!cfg.policy.close_approval)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "close needs --reason TEXT");
    }
    return 0;
}

static int fill_reopen(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    if (!g->v[0] || !g->v[0][0])
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "reopen needs --reason TEXT");
    op->reason = g->v[0];
    return 0;
}

static int fill_refer(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    if (!g->v[0] || !(op->destination = sk_enum_code(SK_ENUM_DESTINATION, g->v[0])))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--to must be police_station, hospital, court, protection_officer, "
                             "legal_services_authority, shelter_home, ngo or other_osc");
    op->detail = g->v[1];
    op->reason = g->v[2];
    op->override_reason = g->v[3];
    return 0;
}

static int fill_assign(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    if (g->v[1] && g->fl)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--field-worker and --no-field-worker exclude each other");
    if (!g->v[0] && !g->v[1] && !g->fl)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "assign needs --owner, --field-worker or --no-field-worker");
    op->owner = g->v[0];
    op->field_worker = g->fl ? "" : g->v[1];
    return 0;
}

static int fill_service(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    if (!g->v[0] || !g->v[1])
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "service needs --service NAME and --status S");
    if (!(op->service = sk_enum_code(SK_ENUM_SERVICE, g->v[0])))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown service '%s'", g->v[0]);
    if (!(op->service_status = sk_enum_code(SK_ENUM_SERVICE_STATUS, g->v[1])))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown service status '%s'", g->v[1]);
    return 0;
}

static int fill_shelter(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    const char *start = g->v[0], *extend = g->v[1];
    if (start && extend)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--start and --extend exclude each other");
    uint64_t d;
    if (extend) {
        if (sk_admin_parse_uint(extend, 1, 100, &d))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--extend needs a number of days");
        op->kind = SK_CW_SHELTER_EXTEND;
        op->days = (uint32_t)d;
    } else if (start && sk_admin_parse_day(start, 0, 0, &op->start_ms)) {
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--start needs a date like 2026-06-19");
    }
    return 0;
}

/* A step by the name that selects it. */
typedef struct named_step {
    const char *name;
    step st;
} named_step;

/* The step of table t[0..n) that name selects; NULL when none does. */
static const step *find_step(const named_step *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, t[i].name) == 0)
            return &t[i].st;
    return NULL;
}

/* The status steps by command name (sakhi-admin's command table sends each of these names to
 * sk_admin_cmd_step). */
static const named_step k_steps[] = {
    {"accept", {k_accept_help, 1, {NULL}, NULL, SK_CW_ACCEPT, 0, NULL}},
    {"start", {k_start_help, 1, {NULL}, NULL, SK_CW_START, 0, NULL}},
    {"decline", {k_decline_help, 1, {"reason", "note"}, NULL, SK_CW_DECLINE, 0, fill_decline}},
    {"close", {k_close_help, 1, {"reason"}, NULL, SK_CW_CLOSE, 0, fill_close}},
    {"reopen", {k_reopen_help, 1, {"reason"}, NULL, SK_CW_REOPEN, 0, fill_reopen}},
    {"refer",
     {k_refer_help, 1, {"to", "detail", "reason", "override"}, NULL, SK_CW_REFER, 0, fill_refer}},
    {"assign",
     {k_assign_help,
      1,
      {"owner", "field-worker"},
      "no-field-worker",
      SK_CW_ASSIGN,
      0,
      fill_assign}},
    {"service", {k_service_help, 1, {"service", "status"}, NULL, SK_CW_SERVICE, 0, fill_service}},
    {"shelter",
     {k_shelter_help, 1, {"start", "extend"}, NULL, SK_CW_SHELTER_START, 0, fill_shelter}},
};

int sk_admin_cmd_step(sk_admin *a, int argc, char **argv)
{
    const step *st = find_step(k_steps, sizeof(k_steps) / sizeof(k_steps[0]), argv[0]);
    if (st)
        return run_step(a, argc, argv, st);
    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown command '%s' (see --help)", argv[0]);
}

/* ---- tasks -------------------------------------------------------------------------------- */

static const char k_task_help[] =
    "usage: sakhi-admin task add ID --for WORKER (--due YYYY-MM-DD | --in-days N) TEXT\n"
    "       sakhi-admin task done|cancel|open ID TASK [--note TEXT]\n"
    "       (each with [--json])\n"
    "\n"
    "A follow-up task on a case (any status but declined): what to do, for whom (a staff\n"
    "member, or a field worker who can see the case: its creator or its assigned field\n"
    "worker), due at the end of a day in IST or N days from now. It syncs to that worker's\n"
    "devices, which list and complete it offline. done, cancel and open set a task's state\n"
    "(TASK is the task id `sakhi-admin show` lists), with an optional note.\n" ACTOR_HELP;

static int fill_task_add(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    const char *for_w = g->v[0], *due = g->v[1], *in_days = g->v[2];
    if (!for_w || (!due == !in_days))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "task add needs --for WORKER and one of --due or --in-days");
    if (due && sk_admin_parse_day(due, 0, 1, &op->due_ms))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--due needs a date like 2026-06-19");
    uint64_t d;
    if (in_days) {
        if (sk_admin_parse_uint(in_days, 0, 3650, &d))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--in-days needs 0 to 3650");
        op->due_ms = sk_admin_now_ms() + d * SK_ADMIN_DAY_MS;
    }
    op->for_worker = for_w;
    op->text = g->pos[1];
    return 0;
}

static int fill_task_set(sk_admin *a, const step_args *g, sk_cw_op *op)
{
    if (sk_id_from_str(&op->task, g->pos[1]))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad task id '%s'", g->pos[1]);
    op->text = g->v[0];
    return 0;
}

/* task's subcommands, each a step of its own. */
static const named_step k_task_steps[] = {
    {"add", {k_task_help, 2, {"for", "due", "in-days"}, NULL, SK_CW_TASK_ADD, 0, fill_task_add}},
    {"done", {k_task_help, 2, {"note"}, NULL, SK_CW_TASK_SET, SK_TASK_DONE, fill_task_set}},
    {"cancel", {k_task_help, 2, {"note"}, NULL, SK_CW_TASK_SET, SK_TASK_CANCELLED, fill_task_set}},
    {"open", {k_task_help, 2, {"note"}, NULL, SK_CW_TASK_SET, SK_TASK_OPEN, fill_task_set}},
};

int sk_admin_cmd_task(sk_admin *a, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(k_task_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? SK_ADMIN_EXIT_USAGE : -1;
    }
    const step *st =
        find_step(k_task_steps, sizeof(k_task_steps) / sizeof(k_task_steps[0]), argv[1]);
    if (st)
        return run_step(a, argc - 1, argv + 1, st);
    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                         "unknown task command '%s' (add, done, cancel, open)", argv[1]);
}

/* ---- settings ----------------------------------------------------------------------------- */

static const char k_config_help[] =
    "usage: sakhi-admin config [NAME [VALUE]] [--json]\n"
    "\n"
    "Shows or sets the centre's casework settings (each change is audited):\n"
    "  close_approval on|off        closing a case needs a second staff member (default off)\n"
    "  referral_visit_days N        follow-up visit task N days after a referral onward, for\n"
    "                               the worker who brought the case (default 7; 0 = off)\n"
    "  urgent_wait_min N            an urgent referral not accepted within N minutes of its\n"
    "                               capture makes a task for the duty counsellor (default 120)\n"
    "  duty_counsellor STAFF        who gets that task (unset: the rule is off)\n";

int sk_admin_cmd_config(sk_admin *a, int argc, char **argv)
{
    const char *pos[2];
    size_t npos = 0;
    int rc = sk_admin_parse(a, argc, argv, NULL, pos, 0, 2, &npos, k_config_help);
    if (rc)
        return rc;
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    if (npos == 2) {
        sk_admin_wtxn wt;
        char msg[160] = "", detail[160];
        if ((rc = sk_admin_wtxn_begin(a, &wt)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write: %s", sk_err_text(rc));
        rc = sk_caseops_config_set(a->store, wt.txn, pos[0], pos[1], msg, sizeof(msg));
        if (rc == -SK_E_BAD_VALUE) {
            sk_admin_wtxn_abort(a, &wt);
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "%s", msg);
        }
        snprintf(detail, sizeof(detail), "%s=%s", pos[0], pos[1]);
        if (rc || (rc = sk_admin_audit_txn(a, wt.txn, "config", SK_ADMIN_ACTOR, detail)) ||
            (rc = sk_admin_wtxn_commit(a, &wt))) {
            sk_admin_wtxn_abort(a, &wt);
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot set: %s", sk_err_text(rc));
        }
        return 0;
    }
    sk_cw_config cfg;
    if ((rc = load_config(a, &cfg)))
        return rc;
    char vals[4][80];
    static const char *const names[] = {"close_approval", "referral_visit_days", "urgent_wait_min",
                                        "duty_counsellor"};
    snprintf(vals[0], sizeof(vals[0]), "%s", cfg.policy.close_approval ? "on" : "off");
    snprintf(vals[1], sizeof(vals[1]), "%u", (unsigned)cfg.referral_visit_days);
    snprintf(vals[2], sizeof(vals[2]), "%u", (unsigned)cfg.urgent_wait_min);
    snprintf(vals[3], sizeof(vals[3]), "%s", cfg.duty_counsellor);
    int shown = 0;
    sk_admin_json j;
    sk_jw *w = a->json ? sk_jline_begin(&j) : NULL;
    for (size_t i = 0; i < 4; i++) {
        if (npos == 1 && strcmp(pos[0], names[i]) != 0)
            continue;
        if (w)
            sk_jw_kcstr(w, names[i], vals[i]);
        else if (npos == 1)
            printf("%s\n", vals[i]);
        else
            printf("%-20s %s\n", names[i], vals[i]);
        shown++;
    }
    if (w && shown)
        return sk_admin_json_end(a, &j);
    if (w)
        sk_buf_free(&j.b);
    if (!shown)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown setting '%s' (see --help)", pos[0]);
    return 0;
}
