/*
 * admin_audit.c - the audit log as sakhi-admin sees it: appending entries, listing them, and
 * checking the hash chain (`audit --verify`).
 *
 * The store owns the log and its chain (server/sk_store.h: sk_store_audit_txn chains every
 * entry as it is written, sk_store_audit_verify walks the chain from the first entry kept after
 * retention pruning). This module only calls those: it never hashes, seals or rewrites an
 * entry itself, so there is one implementation of the chain. It owns no state.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_json.h"
#include "sk_sample.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sk_admin_audit_last_txn(sk_admin *a, MDB_txn *txn, uint64_t *last_out)
{
    MDB_dbi meta;
    MDB_val k = {5, (void *)"audit"}, v;
    (void)a;
    int rc = sk_store_mdb_err(mdb_dbi_open(txn, "meta", 0, &meta));
    if (!rc)
        rc = sk_store_mdb_err(mdb_get(txn, meta, &k, &v));
    if (rc == -SK_E_NOT_FOUND) {
        *last_out = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (v.mv_size != 8)
        return -SK_E_STORE_IO;
    *last_out = sk_be64_get(v.mv_data);
    return 0;
}

int sk_admin_audit_txn(sk_admin *a, MDB_txn *txn, const char *event, const char *worker,
                       const char *detail)
{
    return sk_store_audit_txn(a->store, txn, sk_admin_now_ms(), event, worker, SK_ADMIN_DEVICE,
                              detail);
}

int sk_admin_wtxn_begin(sk_admin *a, sk_admin_wtxn *w)
{
    w->txn = NULL;
    int rc = sk_store_mdb_err(sk_store_write_begin(a->store, &w->txn));
    if (rc)
        w->txn = NULL;
    return rc;
}

int sk_admin_wtxn_commit(sk_admin *a, sk_admin_wtxn *w)
{
    int rc = sk_store_mdb_err(sk_store_write_commit(a->store, w->txn));
    w->txn = NULL;
    /* An erasure in this transaction marked its record's key: shred it now that the
     * tombstone is committed (docs/SECURITY.md, "Erasure"). */
    if (!rc && sk_store_shred_needed(a->store))
        rc = sk_store_shred_pending(a->store);
    return rc;
}

void sk_admin_wtxn_abort(sk_admin *a, sk_admin_wtxn *w)
{
    if (w->txn)
        sk_store_write_abort(a->store, w->txn);
    w->txn = NULL;
}

int sk_admin_audit_now(sk_admin *a, const char *event, const char *worker, const char *detail)
{
    sk_admin_wtxn w;
    int rc = sk_admin_wtxn_begin(a, &w);
    if (rc)
        return rc;
    if ((rc = sk_admin_audit_txn(a, w.txn, event, worker, detail))) {
        sk_admin_wtxn_abort(a, &w);
        return rc;
    }
    return sk_admin_wtxn_commit(a, &w);
}

/* ---- audit command ------------------------------------------------------------------------ */

static const char k_help[] =
    "usage: sakhi-admin audit [--limit N] [--json]\n"
    "       sakhi-admin audit --verify [--json]\n"
    "\n"
    "Lists the audit log (newest last): seq, time, event, worker, device, detail. With --limit N\n"
    "only the last N entries. Entries name record ids and codes, never referral content.\n"
    "--verify checks the store's hash chain: seqs contiguous from the first entry kept after\n"
    "retention pruning, each entry's prev_hash the SHA-256 of the entry before it, and the\n"
    "recorded head matching the last entry. Exit 0 when the whole log verifies; 1 with the first\n"
    "bad seq when an entry was altered, removed or inserted.\n";

typedef struct list_ctx {
    sk_admin *a;
    sk_buf b;
    sk_jw w;
} list_ctx;

static int is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int print_entry(const sk_audit_entry *e, void *p)
{
    list_ctx *c = p;
    char t[32];
    sk_sample_format_time(e->ts_ms, t);
    if (c->a->json) {
        sk_buf_reset(&c->b);
        sk_jw_init(&c->w, &c->b, 0);
        sk_jw_obj_begin(&c->w);
        sk_jw_key(&c->w, "seq");
        sk_jw_uint(&c->w, e->seq);
        sk_jw_key(&c->w, "time");
        sk_jw_cstr(&c->w, t);
        sk_jw_key(&c->w, "event");
        sk_jw_str(&c->w, e->event, e->event_len);
        sk_jw_key(&c->w, "worker");
        sk_jw_str(&c->w, e->worker, e->worker_len);
        sk_jw_key(&c->w, "device");
        sk_jw_uint(&c->w, e->device);
        sk_jw_key(&c->w, "detail");
        sk_jw_str(&c->w, e->detail, e->detail_len);
        sk_jw_key(&c->w, "chained");
        sk_jw_bool(&c->w, e->seq == 1 || !is_zero(e->prev_hash, sizeof(e->prev_hash)));
        sk_jw_obj_end(&c->w);
        if (!c->b.oom)
            printf("%.*s\n", (int)c->b.len, (const char *)c->b.data);
    } else {
        printf("%6llu  %s  %-12.*s %-16.*s dev=%-4llu %.*s\n", (unsigned long long)e->seq, t,
               (int)e->event_len, e->event, (int)e->worker_len, e->worker,
               (unsigned long long)e->device, (int)e->detail_len, e->detail);
    }
    return 0;
}

static int cmd_verify(sk_admin *a)
{
    uint64_t count = 0, bad = 0;
    int rc = sk_store_audit_verify(a->store, &count, &bad);
    if (rc && rc != -SK_E_INVALID)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the audit log: %s",
                             sk_err_text(rc));
    char problem[200] = "";
    if (rc)
        snprintf(problem, sizeof(problem),
                 "the chain breaks at entry %llu (it or the entry before it was altered, "
                 "removed or inserted)",
                 (unsigned long long)bad);
    if (a->json) {
        sk_buf b = SK_BUF_INIT;
        sk_jw w;
        sk_jw_init(&w, &b, 0);
        sk_jw_obj_begin(&w);
        sk_jw_key(&w, "ok");
        sk_jw_bool(&w, rc == 0);
        sk_jw_key(&w, "entries");
        sk_jw_uint(&w, count);
        sk_jw_key(&w, "problem");
        sk_jw_cstr(&w, rc ? problem : NULL);
        sk_jw_key(&w, "seq");
        if (rc)
            sk_jw_uint(&w, bad);
        else
            sk_jw_null(&w);
        sk_jw_obj_end(&w);
        if (!b.oom)
            printf("%.*s\n", (int)b.len, (const char *)b.data);
        sk_buf_free(&b);
    }
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "TAMPERED: %s", problem);
    if (!a->json)
        printf("audit log verified: %llu entries, chain intact\n", (unsigned long long)count);
    return SK_ADMIN_EXIT_OK;
}

int sk_admin_cmd_audit(sk_admin *a, int argc, char **argv)
{
    const char *limit_s = NULL;
    int verify = 0;
    const sk_admin_opt opts[] = {
        {"limit", 1, &limit_s, NULL}, {"verify", 0, NULL, &verify}, {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_help);
    if (rc)
        return rc;
    uint64_t limit = 0;
    if (limit_s) {
        char *end;
        unsigned long long l = strtoull(limit_s, &end, 10);
        if (!limit_s[0] || *end || limit_s[0] == '-' || l == 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--limit needs a positive number");
        limit = l;
    }
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    if (verify)
        return cmd_verify(a);
    uint64_t last = 0;
    MDB_txn *txn;
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn))))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the store: %s", sk_err_text(rc));
    rc = sk_admin_audit_last_txn(a, txn, &last);
    mdb_txn_abort(txn);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the audit log: %s",
                             sk_err_text(rc));
    list_ctx c = {.a = a, .b = SK_BUF_INIT};
    rc = sk_store_audit_list(a->store, (limit && last > limit) ? last - limit + 1 : 0, print_entry,
                             &c);
    sk_buf_free(&c.b);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                             "cannot read the audit log: %s (run audit --verify)", sk_err_text(rc));
    return SK_ADMIN_EXIT_OK;
}
