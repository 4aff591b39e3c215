/*
 * admin_review.c - sakhi-admin history and review: who changed which field of a record when and
 * what each change displaced, and the records flagged REVIEW with the competing values of each
 * field in conflict, resolved by choosing one or typing a new value.
 *
 * Reads the store's journal (who made each change, which keys, which conflicted) and history
 * (the displaced values, opened by the store); a resolution is the casework API's resolve
 * operation, so it goes through the one write path and syncs like any change. Scoped like the
 * record: --as staff see their district's records only; for a minor's case the values of
 * identifying fields are withheld unless the actor may see them (an administrator, or the case's
 * owner). Owns nothing between calls.
 */
#include "admin.h"

#include "sk_caseops.h"
#include "sk_err.h"
#include "sk_json.h"
#include "sk_review.h"
#include "sk_sample.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- shared helpers ----------------------------------------------------------------------- */

/* A value as JSON (enumeration codes stay numbers: the field says which enumeration). */
static void value_json(sk_buf *b, const uint8_t *val, uint32_t len, int withheld)
{
    sk_buf_reset(b);
    if (withheld) {
        sk_buf_append(b, "\"(withheld)\"", 12);
    } else if (!len) {
        sk_buf_append(b, "null", 4);
    } else if (sk_msg_mp_to_json(b, val, len) != 0) {
        sk_buf_reset(b);
        sk_buf_append(b, "\"(undecodable)\"", 15);
    }
    sk_buf_append(b, "", 1);
}

/* The value value_json rendered into b, as member "value" of w's object. */
static void jw_value(sk_jw *w, const sk_buf *b)
{
    sk_jw_key(w, "value");
    sk_jw_raw(w, (const char *)b->data, b->len - 1); /* without value_json's terminating NUL */
}

/* Read-only view of one record for the actor: 0, or an exit status (message printed). Records
 * the actor may not see are "no record" (the same answer as a missing one). */
static int load_for(sk_admin *a, MDB_txn *txn, const char *text, const sk_actor *actor,
                    sk_record *r)
{
    int rc = sk_admin_find_record(a, txn, text, r);
    if (rc)
        return rc;
    if (!sk_case_may_see(actor, r)) {
        sk_record_free(r);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "no record %s", text);
    }
    return 0;
}

static int withheld(const sk_actor *actor, const sk_record *r, uint32_t key)
{
    const sk_field_info *fi = sk_case_field_info(key);
    return fi && fi->identifying && sk_case_is_minor(r) &&
           !sk_case_may_see_identifying_rec(actor, r);
}

/* ---- history ------------------------------------------------------------------------------ */

typedef struct hist_ctx {
    sk_admin *a;
    MDB_txn *txn;
    const sk_actor *actor;
    const sk_record *r;
    int utc;
    sk_buf *b;
} hist_ctx;

/* One change's displaced values: w is the writer of its --json line (NULL for text). */
typedef struct disp_ctx {
    hist_ctx *h;
    sk_jw *w;
    uint64_t seq;
} disp_ctx;

static int print_displaced(const sk_history_item *it, void *p)
{
    disp_ctx *d = p;
    hist_ctx *h = d->h;
    char fb[24], t[32], who[SK_MAX_NAME + 16] = "unknown";
    if (it->seq != d->seq)
        return 0;
    if (it->key == 0)
        return 0; /* a refused duplicate entry: listed by the audit, never content here */
    sk_journal_entry *e = malloc(sizeof(*e));
    if (!e)
        return -SK_E_NOMEM;
    /* who had set the displaced value: the author of its change (or of this one, for an incoming
     * value that lost) */
    uint64_t by_seq = it->lost_incoming ? it->seq : it->ver;
    if (by_seq && sk_store_journal_get_txn(h->a->store, h->txn, &h->r->id, by_seq, e) == 0)
        snprintf(who, sizeof(who), "%s", e->by);
    free(e);
    sk_admin_fmt_time(SK_HLC_MS(it->hlc), h->utc, 1, t);
    value_json(h->b, it->val, it->len, withheld(h->actor, h->r, it->key));
    if (d->w) {
        sk_jw_obj_begin(d->w);
        sk_jw_kcstr(d->w, "field", sk_admin_field_name(it->key, fb));
        jw_value(d->w, h->b);
        sk_jw_kcstr(d->w, "by", who);
        sk_jw_kcstr(d->w, "at", t);
        sk_jw_kbool(d->w, "lost", it->lost_incoming);
        sk_jw_obj_end(d->w);
    } else {
        printf("    displaced %s = %s (%s by %s at %s)\n", sk_admin_field_name(it->key, fb),
               (const char *)h->b->data, it->lost_incoming ? "offered" : "set", who, t);
    }
    return 0;
}

/* keys[0..n) as member key of w's object, an array of field names. */
static void jw_field_names(sk_jw *w, const char *key, const uint32_t *keys, uint32_t n)
{
    char fb[24];
    sk_jw_key(w, key);
    sk_jw_arr_begin(w);
    for (uint32_t i = 0; i < n; i++)
        sk_jw_cstr(w, sk_admin_field_name(keys[i], fb));
    sk_jw_arr_end(w);
}

static int print_change(const sk_journal_entry *e, void *p)
{
    hist_ctx *h = p;
    char t[32], fb[24];
    sk_admin_json j;
    disp_ctx d = {h, NULL, e->seq};
    sk_admin_fmt_time(SK_HLC_MS(e->hlc), h->utc, 1, t);
    if (h->a->json) {
        d.w = sk_jline_begin(&j);
        sk_jw_kuint(d.w, "seq", e->seq);
        sk_jw_kcstr(d.w, "by", e->by);
        sk_jw_kuint(d.w, "device", e->device);
        sk_jw_kcstr(d.w, "at", t);
        jw_field_names(d.w, "fields", e->keys, e->nkeys);
        sk_jw_kuint(d.w, "entries", e->nentries);
        jw_field_names(d.w, "conflicts", e->conflict, e->nconflict);
        sk_jw_key(d.w, "displaced");
        sk_jw_arr_begin(d.w);
    } else {
        printf("%s  seq %" PRIu64 "  %s (device %" PRIu64 ")%s%s\n", t, e->seq, e->by, e->device,
               e->kind == SK_CHANGE_DELETE  ? "  deleted"
               : e->kind == SK_CHANGE_ERASE ? "  erased"
                                            : "",
               e->nconflict ? "  CONFLICT" : "");
        if (e->nkeys) {
            printf("    set:");
            for (uint32_t i = 0; i < e->nkeys; i++)
                printf(" %s", sk_admin_field_name(e->keys[i], fb));
            printf("\n");
        }
        if (e->nentries)
            printf("    added %u entr%s\n", (unsigned)e->nentries, e->nentries == 1 ? "y" : "ies");
    }
    int rc = sk_store_history_list(h->a->store, &h->r->id, print_displaced, &d);
    if (!d.w)
        return rc;
    if (rc) {
        sk_buf_free(&j.b); /* a change is listed whole or not at all */
        return rc;
    }
    sk_jw_arr_end(d.w);
    return sk_jline_print(&j) ? -SK_E_NOMEM : 0;
}

static const char k_history_help[] =
    "usage: sakhi-admin history ID [--utc] [--json]\n"
    "\n"
    "Every applied change of a record, oldest first: when (IST, or UTC with --utc), its seq, who\n"
    "made it on which device (0: the centre's own operations), which fields it set, how many\n"
    "entries it added, where it met a concurrent edit (CONFLICT), and each value it displaced\n"
    "with who had set it. The viewer is the operator (admin role: every record). The same view\n"
    "for other roles (the desk) withholds a minor's identifying values unless the viewer is an\n"
    "administrator or the case's owner. Changes made before the journal existed are not listed.\n";

int sk_admin_cmd_history(sk_admin *a, int argc, char **argv)
{
    const char *pos[1], *as = NULL;
    int utc = 0;
    const sk_admin_opt opts[] = {
        {"as", 1, &as, NULL}, {"utc", 0, NULL, &utc}, {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, 1, 1, NULL, k_history_help);
    if (rc)
        return rc;
    sk_actor actor;
    sk_worker wb;
    if ((rc = sk_admin_open_as(a, as, &actor, &wb)))
        return rc;
    MDB_txn *txn;
    sk_record r;
    sk_buf b = SK_BUF_INIT;
    if ((rc = sk_admin_read_begin(a, &txn)))
        return rc;
    if ((rc = load_for(a, txn, pos[0], &actor, &r))) {
        mdb_txn_abort(txn);
        return rc;
    }
    hist_ctx h = {a, txn, &actor, &r, utc, &b};
    rc = sk_store_journal_list_txn(a->store, txn, &r.id, print_change, &h);
    mdb_txn_abort(txn);
    sk_record_free(&r);
    sk_buf_free(&b);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the history: %s", sk_err_text(rc));
    return 0;
}

/* ---- review ------------------------------------------------------------------------------- */

/* The conflict review is storage's (sk_review.h), the same the desk's case page shows. */
typedef struct conflicts {
    sk_review_keys keys;
    sk_review_field f;
} conflicts;
static int print_review(sk_admin *a, MDB_txn *txn, const sk_actor *actor, const sk_record *r,
                        int utc, sk_buf *b)
{
    conflicts *cf = calloc(1, sizeof(*cf));
    char idt[37], no[40] = "", t[32], fb[24];
    sk_admin_json j;
    sk_jw *w = NULL; /* the writer of the record's --json line */
    int rc;
    if (!cf)
        return -SK_E_NOMEM;
    if ((rc = sk_review_keys_txn(a->store, txn, &r->id, &cf->keys)))
        goto out;
    sk_id_to_str(&r->id, idt);
    (void)sk_case_get_str(r, SK_F_CASE_NO, no, sizeof(no));
    if (a->json) {
        w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "id", idt);
        sk_jw_kcstr(w, "case_no", no[0] ? no : NULL);
        sk_jw_key(w, "fields");
        sk_jw_arr_begin(w);
    } else {
        printf("%s %s\n", idt, no);
    }
    for (uint32_t k = 0; k < cf->keys.n; k++) {
        uint32_t key = cf->keys.keys[k];
        if ((rc = sk_review_candidates_txn(a->store, txn, r, key, cf->keys.since, 0, &cf->f)))
            goto out;
        int hide = withheld(actor, r, key);
        if (w) {
            sk_jw_obj_begin(w);
            sk_jw_kcstr(w, "field", sk_admin_field_name(key, fb));
            sk_jw_key(w, "values");
            sk_jw_arr_begin(w);
        } else {
            printf("  %s:\n", sk_admin_field_name(key, fb));
        }
        for (uint32_t i = 0; i < cf->f.n; i++) {
            const sk_review_candidate *c = &cf->f.c[i];
            const char *by = c->by[0] ? c->by : "unknown";
            sk_admin_fmt_time(SK_HLC_MS(c->hlc), utc, 1, t);
            value_json(b, c->val, c->len, hide);
            if (w) {
                sk_jw_obj_begin(w);
                sk_jw_kuint(w, "choice", i + 1);
                jw_value(w, b);
                sk_jw_kcstr(w, "by", by);
                sk_jw_kcstr(w, "at", t);
                sk_jw_kbool(w, "current", c->current);
                sk_jw_obj_end(w);
            } else {
                printf("    %u) %s  by %s at %s%s\n", (unsigned)(i + 1), (const char *)b->data, by,
                       t, c->current ? "  (current)" : "");
            }
        }
        if (w) {
            sk_jw_arr_end(w);
            sk_jw_obj_end(w);
        }
    }
    if (w) {
        sk_jw_arr_end(w);
        w = NULL;
        rc = sk_jline_print(&j) ? -SK_E_NOMEM : 0;
    }
out:
    if (w)
        sk_buf_free(&j.b); /* a record is listed whole or not at all */
    sk_review_field_free(&cf->f);
    free(cf);
    return rc;
}

typedef struct review_list_ctx {
    sk_admin *a;
    MDB_txn *txn;
    const sk_actor *actor;
    int utc;
    sk_buf *b;
    size_t n;
} review_list_ctx;

static int review_row(const sk_record *r, void *p)
{
    review_list_ctx *c = p;
    if (!(r->flags & SK_REC_REVIEW) || (r->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED)) ||
        !sk_case_may_see(c->actor, r))
        return 0;
    c->n++;
    return print_review(c->a, c->txn, c->actor, r, c->utc, c->b);
}

/* Encode text as the value of field fi (its type decides). 0 or -1. */
static int encode_value(const sk_field_info *fi, const char *text, sk_buf *b)
{
    msgpack_packer pk;
    char *end;
    sk_packer_init(&pk, b);
    switch (fi->type) {
    case SK_FT_STR: sk_pack_cstr(&pk, text); break;
    case SK_FT_UINT:
    case SK_FT_TIME: {
        if (!text[0] || text[0] == '-')
            return -1;
        unsigned long long v = strtoull(text, &end, 10);
        if (*end)
            return -1;
        msgpack_pack_uint64(&pk, v);
        break;
    }
    case SK_FT_BOOL:
        if (strcmp(text, "true") == 0)
            msgpack_pack_true(&pk);
        else if (strcmp(text, "false") == 0)
            msgpack_pack_false(&pk);
        else
            return -1;
        break;
    case SK_FT_ENUM: {
        uint32_t code = sk_enum_code((sk_enum_id)fi->enumeration, text);
        if (!code)
            return -1;
        msgpack_pack_uint32(&pk, code);
        break;
    }
    default: return -1; /* arrays: choose one of the competing values with --take */
    }
    return b->oom ? -1 : 0;
}

static const char k_review_help[] =
    "usage: sakhi-admin review [list [ID]] [--utc] [--json]\n"
    "       sakhi-admin review resolve ID (--keep | --field NAME (--take N | --value V))\n"
    "       [--json]\n"
    "\n"
    "Records flagged REVIEW (two devices changed the same field concurrently): for each field in\n"
    "conflict since the last resolution, the competing values numbered 1, 2, ... (1 is the\n"
    "current one), who wrote each and when. `resolve` sets the field to value N (--take) or to a\n"
    "typed value (--value, for text, number, true/false and enumeration fields), or keeps the\n"
    "current values (--keep), and clears the flag; the values it replaces go to the field's\n"
    "history. States: any status; the record must be flagged. Resolution is a staff operation\n"
    "through the server's write path: it syncs like any change and is audited under the\n"
    "operator (the Unix account; --as is refused).\n";

int sk_admin_cmd_review(sk_admin *a, int argc, char **argv)
{
    int sub_resolve = argc >= 2 && strcmp(argv[1], "resolve") == 0;
    int sub_list = argc >= 2 && strcmp(argv[1], "list") == 0;
    if (sub_resolve || sub_list) {
        argc--;
        argv++;
    }
    const char *pos[1] = {NULL}, *as = NULL, *field = NULL, *take = NULL, *value = NULL;
    int utc = 0, keep = 0;
    size_t npos = 0;
    const sk_admin_opt opts[] = {{"as", 1, &as, NULL},       {"utc", 0, NULL, &utc},
                                 {"field", 1, &field, NULL}, {"take", 1, &take, NULL},
                                 {"value", 1, &value, NULL}, {"keep", 0, NULL, &keep},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, sub_resolve ? 1 : 0, 1, &npos, k_review_help);
    if (rc)
        return rc;
    if (!sub_resolve && (field || take || value || keep))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--field, --take, --value and --keep are "
                             "for `review resolve`");
    sk_actor actor;
    sk_worker wb;
    if ((rc = sk_admin_open_as(a, as, &actor, &wb)))
        return rc;
    if (actor.role != SK_ROLE_STAFF && actor.role != SK_ROLE_ADMIN)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                             "worker '%s' is a field worker; review is for staff", as);
    sk_buf b = SK_BUF_INIT;
    if (!sub_resolve) {
        MDB_txn *txn;
        if ((rc = sk_admin_read_begin(a, &txn)))
            return rc;
        if (npos) {
            sk_record r;
            if ((rc = load_for(a, txn, pos[0], &actor, &r))) {
                mdb_txn_abort(txn);
                return rc;
            }
            if (!(r.flags & SK_REC_REVIEW) && !a->json)
                printf("%s: not flagged for review\n", pos[0]);
            else
                rc = print_review(a, txn, &actor, &r, utc, &b);
            sk_record_free(&r);
        } else {
            review_list_ctx c = {a, txn, &actor, utc, &b, 0};
            rc = sk_store_records_each_txn(a->store, txn, review_row, &c);
        }
        mdb_txn_abort(txn);
        sk_buf_free(&b);
        if (rc)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot list: %s", sk_err_text(rc));
        return 0;
    }

    /* resolve */
    if (keep == (field != NULL) || (field && (take != NULL) == (value != NULL)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "resolve needs --keep, or --field NAME with --take N or --value V");
    const sk_field_info *fi = field ? sk_case_field_by_name(field) : NULL;
    if (field && !fi)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown field '%s'", field);
    sk_admin_wtxn wt;
    sk_record r;
    conflicts *cf = calloc(1, sizeof(*cf));
    int status = SK_ADMIN_EXIT_FAIL;
    if (!cf)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "out of memory");
    sk_record_init(&r);
    if ((rc = sk_admin_wtxn_begin(a, &wt))) {
        free(cf);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write: %s", sk_err_text(rc));
    }
    if ((status = load_for(a, wt.txn, pos[0], &actor, &r)))
        goto out;
    status = SK_ADMIN_EXIT_FAIL;
    sk_cw_field chosen;
    sk_cw_op op;
    memset(&op, 0, sizeof(op));
    op.kind = SK_CW_RESOLVE;
    op.record = r.id;
    if (fi) {
        chosen.key = fi->key;
        if (take) {
            char *end;
            unsigned long n = strtoul(take, &end, 10);
            if ((rc = sk_review_keys_txn(a->store, wt.txn, &r.id, &cf->keys)) ||
                (rc = sk_review_candidates_txn(a->store, wt.txn, &r, fi->key, cf->keys.since, 0,
                                               &cf->f))) {
                sk_admin_fail(a, status, "cannot read the history: %s", sk_err_text(rc));
                goto out;
            }
            if (!take[0] || *end || n < 1 || n > cf->f.n) {
                status = sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                       "--take must be 1 to %u (see `review list %s`)",
                                       (unsigned)cf->f.n, pos[0]);
                goto out;
            }
            chosen.val = cf->f.c[n - 1].val;
            chosen.len = cf->f.c[n - 1].len;
            if (!chosen.len) {
                static const uint8_t nil = 0xc0;
                chosen.val = &nil;
                chosen.len = 1;
            }
        } else {
            if (encode_value(fi, value, &b)) {
                status =
                    sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                  "--value does not fit field %s (use --take for lists)", fi->name);
                goto out;
            }
            chosen.val = b.data;
            chosen.len = (uint32_t)b.len;
        }
        op.resolve = &chosen;
        op.nresolve = 1;
    }
    sk_caseops_result res;
    if ((rc = sk_admin_caseops_commit(a, &wt, &actor, &op, &res))) {
        status = rc;
        goto out;
    }
    char idt[37];
    sk_id_to_str(&r.id, idt);
    if (a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "id", idt);
        sk_jw_kuint(w, "version", res.version);
        sk_jw_kbool(w, "review", res.merged);
        status = sk_admin_json_end(a, &j);
        goto out;
    }
    if (a->tty)
        printf("%s resolved: version %" PRIu64 "\n", idt, res.version);
    status = SK_ADMIN_EXIT_OK;
out:
    sk_admin_wtxn_abort(a, &wt);
    sk_review_field_free(&cf->f);
    free(cf);
    sk_record_free(&r);
    sk_buf_free(&b);
    return status;
}
