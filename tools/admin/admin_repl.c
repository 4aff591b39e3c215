/*
 * admin_repl.c - replication from the administrator's side (docs/REPLICATION.md): the
 * replication lines of `stats`, `promote` (a standby becomes the centre's primary) and
 * `demote` (a primary that must take no more writes). The state read here is the store's own
 * (meta "repl/...", written by server/sk_repl.c), so these work while the server runs.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_json.h"
#include "sk_sample.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct repl_view {
    char role[16];
    int log_on;
    uint64_t head, first;  /* this store's own log */
    uint64_t pos_seq;      /* standby: last entry applied */
    uint32_t pos_idx;      /* ... and op in it (0xffffffff: whole) */
    uint64_t primary_head; /* standby: the primary's head when last heard from */
    uint64_t contact_ms, seeded_ms;
    int seeding; /* a seed is under way */
    uint64_t rep_dev[8], rep_need[8];
    size_t nrep;
} repl_view;

static int get_u64(sk_store *st, MDB_txn *txn, const char *name, uint64_t *out)
{
    uint8_t b[8];
    size_t n = 0;
    int rc = sk_store_local_get_txn(st, txn, name, b, sizeof(b), &n);
    *out = 0;
    if (rc == -SK_E_NOT_FOUND)
        return 0;
    if (rc == 0 && n == 8)
        *out = sk_be64_get(b);
    return rc;
}

static int view_read(sk_store *st, MDB_txn *txn, repl_view *v)
{
    size_t n = 0;
    uint8_t buf[64];
    memset(v, 0, sizeof(*v));
    int rc = sk_store_local_get_txn(st, txn, "role", v->role, sizeof(v->role) - 1, &n);
    if (rc == -SK_E_NOT_FOUND || rc == -SK_E_TOO_LONG)
        snprintf(v->role, sizeof(v->role), "primary");
    else if (rc)
        return rc;
    if ((rc = sk_store_repl_state_txn(st, txn, &v->log_on, &v->head, &v->first)))
        return rc;
    rc = sk_store_local_get_txn(st, txn, "pos", buf, sizeof(buf), &n);
    if (rc == 0 && n == 12) {
        v->pos_seq = sk_be64_get(buf);
        v->pos_idx = sk_be32_get(buf + 8);
    } else if (rc && rc != -SK_E_NOT_FOUND) {
        return rc;
    }
    rc = sk_store_local_get_txn(st, txn, "snap", buf, 2, &n);
    v->seeding = rc == 0 || rc == -SK_E_TOO_LONG;
    if ((rc = get_u64(st, txn, "primary_head", &v->primary_head)) ||
        (rc = get_u64(st, txn, "contact_ms", &v->contact_ms)) ||
        (rc = get_u64(st, txn, "seeded", &v->seeded_ms)))
        return rc;
    uint8_t list[64];
    rc = sk_store_local_get_txn(st, txn, "replicas", list, sizeof(list), &n);
    if (rc == -SK_E_NOT_FOUND)
        return 0;
    if (rc)
        return rc;
    for (size_t i = 0; i + 8 <= n && v->nrep < 8; i += 8) {
        char name[48];
        v->rep_dev[v->nrep] = sk_be64_get(list + i);
        snprintf(name, sizeof(name), "ack/%016" PRIx64, v->rep_dev[v->nrep]);
        if ((rc = get_u64(st, txn, name, &v->rep_need[v->nrep])))
            return rc;
        v->nrep++;
    }
    return 0;
}

/* Entries the standby has not applied of those the primary had when last heard from. */
static uint64_t behind(const repl_view *v)
{
    uint64_t done = v->pos_idx == 0xffffffffu ? v->pos_seq : (v->pos_seq ? v->pos_seq - 1 : 0);
    return v->primary_head > done ? v->primary_head - done : 0;
}

int sk_admin_stats_repl(sk_admin *a, sk_jw *w)
{
    MDB_txn *txn;
    repl_view v;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    rc = view_read(a->store, txn, &v);
    mdb_txn_abort(txn);
    if (rc)
        return rc;
    uint64_t now = sk_admin_now_ms();
    uint64_t age = v.contact_ms && now > v.contact_ms ? now - v.contact_ms : 0;
    int standby = strcmp(v.role, "standby") == 0;
    if (a->json) {
        sk_jw_key(w, "replication");
        sk_jw_obj_begin(w);
        sk_jw_kcstr(w, "role", v.role);
        sk_jw_kbool(w, "log", v.log_on);
        sk_jw_kuint(w, "log_head", v.head);
        sk_jw_kuint(w, "log_first", v.first);
        if (standby) {
            sk_jw_kuint(w, "applied", v.pos_seq);
            sk_jw_kuint(w, "primary_head", v.primary_head);
            sk_jw_kuint(w, "behind_entries", behind(&v));
            sk_jw_kuint(w, "contact_age_ms", age);
            sk_jw_kbool(w, "seeded", v.seeded_ms != 0 && !v.seeding);
        }
        sk_jw_key(w, "replicas");
        sk_jw_arr_begin(w);
        for (size_t i = 0; i < v.nrep; i++) {
            sk_jw_obj_begin(w);
            sk_jw_kuint(w, "device", v.rep_dev[i]);
            sk_jw_kuint(w, "applied", v.rep_need[i]);
            sk_jw_kuint(w, "behind_entries", v.head > v.rep_need[i] ? v.head - v.rep_need[i] : 0);
            sk_jw_obj_end(w);
        }
        sk_jw_arr_end(w);
        sk_jw_obj_end(w);
        return 0;
    }
    printf("replication    role=%s log=%s head=%" PRIu64 " first=%" PRIu64 "\n", v.role,
           v.log_on ? "on" : "off", v.head, v.first);
    if (standby)
        printf("  standby      applied=%" PRIu64 " primary_head=%" PRIu64 " behind=%" PRIu64
               " entries, last contact %" PRIu64 " ms ago%s\n",
               v.pos_seq, v.primary_head, behind(&v), age,
               v.seeded_ms && !v.seeding ? "" : " (seeding)");
    for (size_t i = 0; i < v.nrep; i++)
        printf("  replica      device=%" PRIu64 " applied=%" PRIu64 " behind=%" PRIu64
               " entries (as of its last acknowledgement)\n",
               v.rep_dev[i], v.rep_need[i], v.head > v.rep_need[i] ? v.head - v.rep_need[i] : 0);
    return 0;
}

/* ---- promote / demote ------------------------------------------------------------------------ */

static const char k_promote_help[] =
    "usage: sakhi-admin promote [--force] [--json]\n"
    "\n"
    "Makes this standby the centre's primary: a new store epoch begins (devices then give back\n"
    "anything the standby lacks, docs/PROTOCOL.md section 5.6) and, once its server sees it\n"
    "(within a second), it stops following and serves devices. Stop the old primary first, or\n"
    "run it with --repl-sync refuse so it cannot acknowledge anything alone.\n"
    "Refused when the standby is still seeding (it does not hold the centre's data) or when it\n"
    "knows the primary had written entries it has not applied (its last contact said so):\n"
    "those may be acknowledged referrals or staff edits. --force promotes anyway; what the\n"
    "devices still hold comes back, staff edits in those entries do not.\n";

static int promote_fn(sk_admin *a, int force, repl_view *v, sk_store_epoch *ep, int *refused)
{
    MDB_txn *txn;
    int rc = sk_store_mdb_err(sk_store_write_begin(a->store, &txn));
    if (rc)
        return rc;
    if ((rc = view_read(a->store, txn, v)))
        goto abort;
    *refused = 0;
    if (strcmp(v->role, "standby") != 0) {
        *refused = 1;
        goto abort;
    }
    if (v->seeding || !v->seeded_ms) {
        *refused = 2;
        goto abort;
    }
    if (behind(v) && !force) {
        *refused = 3;
        goto abort;
    }
    if ((rc = sk_store_epoch_begin_txn(a->store, txn, sk_admin_now_ms(), "promote", ep)))
        goto abort;
    char detail[160];
    snprintf(detail, sizeof(detail),
             "applied=%" PRIu64 " primary_head=%" PRIu64 " behind=%" PRIu64 " forced=%d",
             v->pos_seq, v->primary_head, behind(v), force);
    if ((rc = sk_store_audit_txn(a->store, txn, sk_admin_now_ms(), "promote", a->operator_name, 0,
                                 detail)) ||
        (rc = sk_store_local_put_txn(a->store, txn, "role", "primary", 7)))
        goto abort;
    return sk_store_mdb_err(sk_store_write_commit(a->store, txn));
abort:
    sk_store_write_abort(a->store, txn);
    return rc;
}

int sk_admin_cmd_promote(sk_admin *a, int argc, char **argv)
{
    int force = 0;
    const sk_admin_opt opts[] = {{"force", 0, NULL, &force}, {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_promote_help);
    if (rc)
        return rc;
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    repl_view v;
    sk_store_epoch ep;
    int refused = 0;
    if ((rc = promote_fn(a, force, &v, &ep, &refused)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot promote: %s", sk_err_text(rc));
    if (refused == 1)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "this store is not a standby (role %s)",
                             v.role);
    if (refused == 2)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                             "refused: this standby has not finished seeding from its primary "
                             "and does not hold the centre's data");
    if (refused == 3)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                             "refused: the primary had written %" PRIu64
                             " entries this standby has not applied (applied %" PRIu64
                             ", primary at %" PRIu64
                             " when last heard from); they may hold acknowledged data. Let it "
                             "catch up, or --force",
                             behind(&v), v.pos_seq, v.primary_head);
    if (a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kbool(w, "promoted", 1);
        sk_admin_jw_new_epoch(w, &ep);
        sk_jw_kuint(w, "applied", v.pos_seq);
        sk_jw_kuint(w, "behind", behind(&v));
        return sk_admin_json_end(a, &j);
    } else
        printf("promoted: this store is the centre's primary, epoch %016" PRIx64 " (was %016" PRIx64
               "); %" PRIu64 " entries behind the old primary\n",
               ep.epoch, ep.prev, behind(&v));
    return 0;
}

static const char k_demote_help[] =
    "usage: sakhi-admin demote [--json]\n"
    "\n"
    "Marks this primary as no longer the centre's: its server (at its next start) answers every\n"
    "device with NOT_PRIMARY, so devices go to their next address, and takes no writes. Use it\n"
    "on an old primary after a standby was promoted. To follow the new primary, start a fresh\n"
    "standby from an empty data directory (docs/REPLICATION.md).\n";

int sk_admin_cmd_demote(sk_admin *a, int argc, char **argv)
{
    int rc = sk_admin_parse(a, argc, argv, NULL, NULL, 0, 0, NULL, k_demote_help);
    if (rc)
        return rc;
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    MDB_txn *txn;
    if ((rc = sk_store_mdb_err(sk_store_write_begin(a->store, &txn))))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot demote: %s", sk_err_text(rc));
    if ((rc = sk_store_audit_txn(a->store, txn, sk_admin_now_ms(), "demote", a->operator_name, 0,
                                 "")) ||
        (rc = sk_store_local_put_txn(a->store, txn, "role", "demoted", 7))) {
        sk_store_write_abort(a->store, txn);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot demote: %s", sk_err_text(rc));
    }
    if ((rc = sk_store_mdb_err(sk_store_write_commit(a->store, txn))))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot demote: %s", sk_err_text(rc));
    printf(a->json ? "{\"demoted\":true}\n" : "demoted: this server takes no more writes\n");
    return 0;
}
