/*
 * admin_transfer.c - sakhi-admin transfer: moving a case to another centre through the hub
 * (docs/REPLICATION.md, "Case transfer between centres"). The administrators' approvals, on
 * each centre's own data directory: send (the sender's), accept or decline (the receiver's),
 * and list on both. The centre's server (--to-hub) takes the steps at the hub; nothing here
 * talks to the network. Every approval is audited under the operator.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_json.h"
#include "sk_xferstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char k_transfer_help[] =
    "usage: sakhi-admin transfer send CASE --to CENTRE --reason TEXT [--json]\n"
    "       sakhi-admin transfer accept ID [--district CODE] [--json]\n"
    "       sakhi-admin transfer decline ID [--json]\n"
    "       sakhi-admin transfer list [--json]\n"
    "\n"
    "Moves a case with its history to another centre of the same hub, once the administrators\n"
    "of both centres approved it. On the sending centre, `send` approves sending CASE (an id\n"
    "or a case number; accepted or in service) to CENTRE (its name at the hub), with a reason\n"
    "(1 to 256 bytes); it prints the transfer's id. The centre's server offers it at the hub.\n"
    "On the receiving centre the offer shows in `list` as pending; `accept` approves it (the\n"
    "case is filed under district CODE, which may be left out when the centre has only one\n"
    "district), `decline` refuses it.\n"
    "Only then the sender seals the case to the receiver's key; the hub relays bytes it cannot\n"
    "read; the receiver makes it a case of its own (its own case number, the history kept) and\n"
    "the sender's case is closed as referred to the other centre. `list` shows each transfer,\n"
    "its direction, state and what went wrong, if anything.\n"
    "The approval is the operator's (the Unix account running sakhi-admin) and is audited.\n";

static int print_row(const sk_xrow *r, void *p)
{
    sk_admin *a = ((void **)p)[0];
    sk_jw *w = ((void **)p)[1];
    size_t *n = ((void **)p)[2];
    char hex[2 * SK_XFER_ID_LEN + 1], rid[37] = "", when[32];
    sk_xfer_id_hex(r->id, hex);
    if (r->record.b[0] || memcmp(r->record.b, r->record.b + 1, 15) != 0)
        sk_id_to_str(&r->record, rid);
    sk_admin_fmt_time(r->updated_ms, 0, 0, when);
    const char *dir = r->kind == SK_XROW_OUT ? "out" : "in";
    const char *peer = r->kind == SK_XROW_OUT ? r->to : r->from;
    const char *state = sk_xrow_state_name(r->kind, r->state);
    if (a->json) {
        sk_jw_obj_begin(w);
        sk_jw_kcstr(w, "id", hex);
        sk_jw_kcstr(w, "direction", dir);
        sk_jw_kcstr(w, "centre", peer);
        sk_jw_kcstr(w, "state", state);
        sk_jw_kcstr(w, "record", rid);
        sk_jw_kcstr(w, "case_no", r->case_no);
        sk_jw_kcstr(w, "by", r->by);
        sk_jw_kcstr(w, "message", r->msg);
        sk_jw_obj_end(w);
    } else {
        if (*n == 0)
            printf("%-32s %-3s %-16s %-9s %-20s %s\n", "ID", "DIR", "CENTRE", "STATE", "CASE",
                   "UPDATED");
        printf("%-32s %-3s %-16s %-9s %-20s %s%s%s\n", hex, dir, peer, state,
               r->case_no[0] ? r->case_no : "-", when, r->msg[0] ? "  " : "", r->msg);
    }
    (*n)++;
    return 0;
}

static int cmd_list(sk_admin *a, int argc, char **argv)
{
    int rc = sk_admin_parse(a, argc, argv, NULL, NULL, 0, 0, NULL, k_transfer_help);
    if (rc)
        return rc;
    MDB_txn *txn;
    if ((rc = sk_admin_open_read(a, &txn)))
        return rc;
    sk_admin_json j;
    sk_jw *w = sk_admin_json_list_begin(a, &j, "transfers");
    size_t n = 0;
    void *arg[3] = {a, w, &n};
    rc = sk_xrows_txn(a->store, txn, SK_XROW_OUT, print_row, arg);
    if (rc == 0)
        rc = sk_xrows_txn(a->store, txn, SK_XROW_IN, print_row, arg);
    mdb_txn_abort(txn);
    if (rc) {
        sk_buf_free(&j.b);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read: %s", sk_err_text(rc));
    }
    if (a->json) {
        sk_jw_arr_end(w);
        return sk_admin_json_end(a, &j);
    }
    if (n == 0)
        printf("no transfers\n");
    sk_buf_free(&j.b);
    return 0;
}

/* Print the result of an approval: the transfer id. */
static int done(sk_admin *a, const uint8_t id[SK_XFER_ID_LEN], const char *what)
{
    char hex[2 * SK_XFER_ID_LEN + 1];
    sk_xfer_id_hex(id, hex);
    if (a->json) {
        const sk_admin_kv kv[] = {{"id", hex, 0, SK_ADMIN_KV_STR},
                                  {"state", what, 0, SK_ADMIN_KV_STR}};
        return sk_admin_json_result(a, kv, 2);
    }
    printf("transfer %s %s\n", hex, what);
    return 0;
}

static int refused(sk_admin *a, int rc, const char *msg)
{
    return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "refused: %s (%s)", msg[0] ? msg : sk_err_text(rc),
                         sk_err_name(rc));
}

static int cmd_send(sk_admin *a, int argc, char **argv)
{
    const char *pos[1], *to = NULL, *reason = NULL;
    sk_admin_opt extra[] = {{"to", 1, &to, NULL}, {"reason", 1, &reason, NULL}};
    sk_actor actor;
    sk_worker wb;
    sk_admin_wtxn wt;
    sk_record rec;
    uint8_t id[SK_XFER_ID_LEN];
    char msg[200] = "";
    int rc = sk_admin_action_setup(a, argc, argv, extra, 2, pos, 1, k_transfer_help, &actor, &wb);
    if (rc)
        return rc;
    if (!to || !reason)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "transfer send needs --to and --reason");
    int status = sk_admin_wtxn_find(a, &wt, pos[0], &rec);
    if (status == 0) {
        rc = sk_xferstore_send_txn(a->store, wt.txn, &rec.id, to, reason, actor.worker,
                                   sk_admin_now_ms(), id, msg, sizeof(msg));
        if (rc)
            status = rc == -SK_E_BAD_VALUE && !strncmp(msg, "--", 2)
                         ? sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "%s", msg)
                         : refused(a, rc, msg);
        else if ((rc = sk_admin_wtxn_commit(a, &wt)))
            status = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot commit: %s", sk_err_text(rc));
        else
            wt.txn = NULL;
    }
    if (wt.txn)
        sk_admin_wtxn_abort(a, &wt);
    sk_record_free(&rec);
    return status ? status : done(a, id, "approved: the centre's server offers it at the hub");
}

static int cmd_decide(sk_admin *a, int argc, char **argv, int accept)
{
    const char *pos[1], *district = NULL;
    sk_admin_opt extra[] = {{"district", 1, &district, NULL}};
    sk_actor actor;
    sk_worker wb;
    sk_admin_wtxn wt;
    uint8_t id[SK_XFER_ID_LEN];
    char msg[200] = "";
    uint64_t code = 0;
    int rc = sk_admin_action_setup(a, argc, argv, extra, accept ? 1 : 0, pos, 1, k_transfer_help,
                                   &actor, &wb);
    if (rc)
        return rc;
    if (sk_xfer_id_parse(pos[0], id))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "ID: the transfer's 32 hex digits "
                             "(sakhi-admin transfer list)");
    if (district && sk_admin_parse_uint(district, 1, UINT32_MAX, &code))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--district: a district's code");
    if ((rc = sk_admin_wtxn_begin(a, &wt)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write: %s", sk_err_text(rc));
    rc = sk_xferstore_decide_txn(a->store, wt.txn, id, accept, (uint32_t)code, actor.worker,
                                 sk_admin_now_ms(), msg, sizeof(msg));
    if (rc) {
        sk_admin_wtxn_abort(a, &wt);
        if (rc == -SK_E_BAD_VALUE && !strncmp(msg, "--", 2))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "%s", msg);
        return refused(a, rc, msg);
    }
    if ((rc = sk_admin_wtxn_commit(a, &wt)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot commit: %s", sk_err_text(rc));
    return done(
        a, id, accept ? "accepted: the case arrives once the sending centre seals it" : "declined");
}

int sk_admin_cmd_transfer(sk_admin *a, int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(k_transfer_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? SK_ADMIN_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "send"))
        return cmd_send(a, argc - 1, argv + 1);
    if (!strcmp(sub, "accept"))
        return cmd_decide(a, argc - 1, argv + 1, 1);
    if (!strcmp(sub, "decline"))
        return cmd_decide(a, argc - 1, argv + 1, 0);
    if (!strcmp(sub, "list"))
        return cmd_list(a, argc - 1, argv + 1);
    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                         "transfer: unknown step '%s' (send, accept, "
                         "decline, list)",
                         sub);
}
