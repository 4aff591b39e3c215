/*
 * admin_audit.c - the audit log as sakhi-admin sees it: appending chained entries, listing
 * them, and verifying the hash chain (`audit --verify`).
 *
 * Layout (server/sk_store.h): audit DBI, key = seq u64 BE, value = MessagePack
 * [ts_ms, event, worker, device, detail, prev_hash bin32]; meta "audit" = last seq.
 * The chain (docs/TOOLS.md, "Audit chain"): H(n) = SHA-256(key(n) || value(n)), the 8 key bytes
 * then the stored value bytes exactly; prev_hash(1) = 32 zero bytes; prev_hash(n) = H(n-1).
 * meta "audit_head" = seq u64 BE || H(seq) of the last entry chained by sakhi-admin, so an
 * altered last entry is caught too. Every write transaction of sakhi-admin seals the entries it
 * wrote itself (also those sk_store_audit_txn wrote for it inside the transaction, e.g. "push"
 * from sk_apply_change); it never seals entries written by another process.
 * This module owns no state; it never deletes or rewrites an entry other than filling an
 * all-zero prev_hash of an entry written in the same transaction.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_json.h"
#include "sk_mp.h"
#include "sk_sample.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_HASH_LEN 32

static int open_dbi(MDB_txn *txn, const char *name, MDB_dbi *dbi)
{
    return sk_store_mdb_err(mdb_dbi_open(txn, name, 0, dbi));
}

static int meta_get(MDB_txn *txn, const char *key, MDB_val *v)
{
    MDB_dbi meta;
    int rc = open_dbi(txn, "meta", &meta);
    if (rc)
        return rc;
    MDB_val k = {strlen(key), (void *)key};
    return sk_store_mdb_err(mdb_get(txn, meta, &k, v));
}

int sk_admin_audit_last_txn(sk_admin *a, MDB_txn *txn, uint64_t *last_out)
{
    MDB_val v;
    (void)a;
    int rc = meta_get(txn, "audit", &v);
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

static int entry_hash(uint64_t seq, const MDB_val *v, uint8_t out[AUDIT_HASH_LEN])
{
    uint8_t key[8];
    unsigned int len = 0;
    int ok = 0;
    sk_be64_put(key, seq);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(md, key, 8) == 1 &&
        EVP_DigestUpdate(md, v->mv_data, v->mv_size) == 1 &&
        EVP_DigestFinal_ex(md, out, &len) == 1 && len == AUDIT_HASH_LEN)
        ok = 1;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -SK_E_INTERNAL;
}

/* A decoded entry; strings point into the value. */
typedef struct audit_entry {
    uint64_t ts, device;
    const char *event, *worker, *detail;
    uint32_t nevent, nworker, ndetail;
    uint8_t prev[AUDIT_HASH_LEN];
} audit_entry;

static int entry_decode(const MDB_val *v, audit_entry *e)
{
    sk_mp m;
    uint32_t n;
    memset(e, 0, sizeof(*e));
    sk_mp_init(&m, v->mv_data, v->mv_size);
    if (sk_mp_read_array(&m, &n) || n != 6 || sk_mp_read_uint(&m, &e->ts) ||
        sk_mp_read_str(&m, &e->event, &e->nevent) || sk_mp_read_str(&m, &e->worker, &e->nworker) ||
        sk_mp_read_uint(&m, &e->device) || sk_mp_read_str(&m, &e->detail, &e->ndetail) ||
        sk_mp_read_bin_exact(&m, e->prev, AUDIT_HASH_LEN) || !sk_mp_at_end(&m))
        return -SK_E_BAD_VALUE;
    return 0;
}

static int is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int sk_admin_audit_txn(sk_admin *a, MDB_txn *txn, const char *event, const char *worker,
                       const char *detail)
{
    return sk_store_audit_txn(a->store, txn, sk_admin_now_ms(), event, worker, SK_ADMIN_DEVICE,
                              detail);
}

int sk_admin_audit_seal_txn(sk_admin *a, MDB_txn *txn, uint64_t from)
{
    MDB_dbi audit, meta;
    uint64_t last;
    uint8_t h[AUDIT_HASH_LEN], key[8];
    int rc;
    if ((rc = sk_admin_audit_last_txn(a, txn, &last)) || last <= from)
        return rc;
    if ((rc = open_dbi(txn, "audit", &audit)) || (rc = open_dbi(txn, "meta", &meta)))
        return rc;
    for (uint64_t seq = from + 1; seq <= last; seq++) {
        MDB_val k = {8, key}, v;
        sk_be64_put(key, seq);
        int mrc = mdb_get(txn, audit, &k, &v);
        if (mrc)
            return sk_store_mdb_err(mrc);
        /* The value ends with its prev_hash as bin8 of 32 bytes: c4 20 <32 bytes>. */
        if (v.mv_size < AUDIT_HASH_LEN + 2)
            return -SK_E_STORE_IO;
        const uint8_t *val = v.mv_data;
        size_t off = v.mv_size - AUDIT_HASH_LEN;
        if (val[off - 2] != 0xc4 || val[off - 1] != AUDIT_HASH_LEN)
            return -SK_E_STORE_IO;
        if (seq > 1 && is_zero(val + off, AUDIT_HASH_LEN)) {
            uint8_t pkey[8];
            MDB_val pk = {8, pkey}, pv;
            sk_be64_put(pkey, seq - 1);
            mrc = mdb_get(txn, audit, &pk, &pv);
            if (mrc == 0) {
                if ((rc = entry_hash(seq - 1, &pv, h)))
                    return rc;
                uint8_t *copy = malloc(v.mv_size);
                if (!copy)
                    return -SK_E_NOMEM;
                memcpy(copy, val, v.mv_size);
                memcpy(copy + off, h, AUDIT_HASH_LEN);
                MDB_val nv = {v.mv_size, copy};
                mrc = mdb_put(txn, audit, &k, &nv, 0);
                free(copy);
                if (mrc)
                    return sk_store_mdb_err(mrc);
            } else if (mrc != MDB_NOTFOUND) {
                return sk_store_mdb_err(mrc);
            }
        }
    }
    /* Head: seq and hash of the last entry as it now stands. */
    MDB_val k = {8, key}, v;
    sk_be64_put(key, last);
    int mrc = mdb_get(txn, audit, &k, &v);
    if (mrc)
        return sk_store_mdb_err(mrc);
    if ((rc = entry_hash(last, &v, h)))
        return rc;
    uint8_t head[8 + AUDIT_HASH_LEN];
    sk_be64_put(head, last);
    memcpy(head + 8, h, AUDIT_HASH_LEN);
    MDB_val hk = {10, (void *)"audit_head"}, hv = {sizeof(head), head};
    return sk_store_mdb_err(mdb_put(txn, meta, &hk, &hv, 0));
}

int sk_admin_wtxn_begin(sk_admin *a, sk_admin_wtxn *w)
{
    w->txn = NULL;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, 0, &w->txn));
    if (rc) {
        w->txn = NULL;
        return rc;
    }
    if ((rc = sk_admin_audit_last_txn(a, w->txn, &w->audit_from))) {
        mdb_txn_abort(w->txn);
        w->txn = NULL;
    }
    return rc;
}

int sk_admin_wtxn_commit(sk_admin *a, sk_admin_wtxn *w)
{
    int rc = sk_admin_audit_seal_txn(a, w->txn, w->audit_from);
    if (rc) {
        mdb_txn_abort(w->txn);
        w->txn = NULL;
        return rc;
    }
    rc = sk_store_mdb_err(mdb_txn_commit(w->txn));
    w->txn = NULL;
    return rc;
}

void sk_admin_wtxn_abort(sk_admin_wtxn *w)
{
    if (w->txn)
        mdb_txn_abort(w->txn);
    w->txn = NULL;
}

int sk_admin_audit_now(sk_admin *a, const char *event, const char *worker, const char *detail)
{
    sk_admin_wtxn w;
    int rc = sk_admin_wtxn_begin(a, &w);
    if (rc)
        return rc;
    if ((rc = sk_admin_audit_txn(a, w.txn, event, worker, detail))) {
        sk_admin_wtxn_abort(&w);
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
    "--verify checks the hash chain: every entry decodes, seqs run 1..last without gaps, each\n"
    "entry's prev_hash is the SHA-256 of the entry before it (key and stored value), and the\n"
    "recorded head matches. Exit 0 when the whole log verifies; 1 when an entry was altered,\n"
    "removed, or carries no chain hash (written by a server without chaining), with the seq.\n";

static void print_entry(sk_admin *a, sk_jw *w, sk_buf *b, uint64_t seq, const audit_entry *e)
{
    char t[32];
    sk_sample_format_time(e->ts, t);
    if (a->json) {
        sk_buf_reset(b);
        sk_jw_init(w, b, 0);
        sk_jw_obj_begin(w);
        sk_jw_key(w, "seq");
        sk_jw_uint(w, seq);
        sk_jw_key(w, "time");
        sk_jw_cstr(w, t);
        sk_jw_key(w, "event");
        sk_jw_str(w, e->event, e->nevent);
        sk_jw_key(w, "worker");
        sk_jw_str(w, e->worker, e->nworker);
        sk_jw_key(w, "device");
        sk_jw_uint(w, e->device);
        sk_jw_key(w, "detail");
        sk_jw_str(w, e->detail, e->ndetail);
        sk_jw_key(w, "chained");
        sk_jw_bool(w, seq == 1 || !is_zero(e->prev, AUDIT_HASH_LEN));
        sk_jw_obj_end(w);
        if (!b->oom)
            printf("%.*s\n", (int)b->len, (const char *)b->data);
    } else {
        printf("%6llu  %s  %-12.*s %-16.*s dev=%-4llu %.*s\n", (unsigned long long)seq, t,
               (int)e->nevent, e->event, (int)e->nworker, e->worker, (unsigned long long)e->device,
               (int)e->ndetail, e->detail);
    }
}

typedef struct verify_result {
    uint64_t entries, unchained, last_meta;
    uint64_t bad_seq; /* first problem's seq, 0 if none */
    char problem[200];
} verify_result;

static void problem(verify_result *vr, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void problem(verify_result *vr, uint64_t seq, const char *fmt, ...)
{
    va_list ap;
    if (vr->problem[0])
        return;
    vr->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(vr->problem, sizeof(vr->problem), fmt, ap);
    va_end(ap);
}

static int verify_chain(sk_admin *a, MDB_txn *txn, verify_result *vr)
{
    MDB_dbi audit;
    MDB_cursor *cur = NULL;
    MDB_val k, v, hv;
    uint8_t prev_h[AUDIT_HASH_LEN], head_h[AUDIT_HASH_LEN];
    uint64_t expect = 1, head_seq = 0;
    int have_prev = 0, rc;
    memset(vr, 0, sizeof(*vr));
    if ((rc = sk_admin_audit_last_txn(a, txn, &vr->last_meta)))
        return rc;
    /* Retention may have removed the oldest entries: meta "audit_pruned" = seq || H(seq) of the
     * last one removed, so the chain continues from there. */
    rc = meta_get(txn, "audit_pruned", &hv);
    if (rc == 0 && hv.mv_size == 8 + AUDIT_HASH_LEN) {
        expect = sk_be64_get(hv.mv_data) + 1;
        memcpy(prev_h, (const uint8_t *)hv.mv_data + 8, AUDIT_HASH_LEN);
        have_prev = 1;
    } else if (rc == 0) {
        problem(vr, 0, "audit pruning record is damaged");
    } else if (rc != -SK_E_NOT_FOUND) {
        return rc;
    }
    rc = meta_get(txn, "audit_head", &hv);
    if (rc == 0 && hv.mv_size == 8 + AUDIT_HASH_LEN) {
        head_seq = sk_be64_get(hv.mv_data);
        memcpy(head_h, (const uint8_t *)hv.mv_data + 8, AUDIT_HASH_LEN);
    } else if (rc == 0) {
        problem(vr, 0, "audit head record is damaged");
    } else if (rc != -SK_E_NOT_FOUND) {
        return rc;
    }
    if ((rc = open_dbi(txn, "audit", &audit)) ||
        (rc = sk_store_mdb_err(mdb_cursor_open(txn, audit, &cur))))
        return rc;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        audit_entry e;
        uint8_t h[AUDIT_HASH_LEN];
        if (k.mv_size != 8) {
            problem(vr, expect, "entry with a malformed key after seq %llu",
                    (unsigned long long)(expect - 1));
            break;
        }
        uint64_t seq = sk_be64_get(k.mv_data);
        vr->entries++;
        if (seq != expect) {
            problem(vr, expect, "entry %llu is missing (removed)", (unsigned long long)expect);
            have_prev = 0;
        }
        if ((rc = entry_hash(seq, &v, h)))
            goto out;
        if (entry_decode(&v, &e) != 0) {
            problem(vr, seq, "entry %llu does not decode (altered)", (unsigned long long)seq);
        } else if (seq == 1 && !have_prev) {
            if (!is_zero(e.prev, AUDIT_HASH_LEN))
                problem(vr, 1, "entry 1 has a non-zero prev_hash (altered)");
        } else if (is_zero(e.prev, AUDIT_HASH_LEN)) {
            vr->unchained++;
        } else if (have_prev && memcmp(e.prev, prev_h, AUDIT_HASH_LEN) != 0) {
            problem(vr, seq - 1,
                    "entry %llu was altered (the next entry's prev_hash does not match it)",
                    (unsigned long long)(seq - 1));
        }
        if (head_seq && seq == head_seq && memcmp(h, head_h, AUDIT_HASH_LEN) != 0)
            problem(vr, seq, "entry %llu was altered (it does not match the recorded head)",
                    (unsigned long long)seq);
        memcpy(prev_h, h, AUDIT_HASH_LEN);
        have_prev = 1;
        expect = seq + 1;
    }
    if (mrc != MDB_NOTFOUND && mrc != 0) {
        rc = sk_store_mdb_err(mrc);
        goto out;
    }
    rc = 0;
    if (vr->last_meta != expect - 1) {
        if (vr->last_meta > expect - 1)
            problem(vr, expect, "entries after %llu are missing (removed)",
                    (unsigned long long)(expect - 1));
        else
            problem(vr, expect, "entries past the recorded last seq %llu exist",
                    (unsigned long long)vr->last_meta);
    }
    if (head_seq > expect - 1)
        problem(vr, head_seq, "entry %llu (the recorded head) is missing (removed)",
                (unsigned long long)head_seq);
out:
    mdb_cursor_close(cur);
    return rc;
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
    MDB_txn *txn;
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn))))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the store: %s", sk_err_text(rc));
    int status = SK_ADMIN_EXIT_OK;
    if (verify) {
        verify_result vr;
        if ((rc = verify_chain(a, txn, &vr))) {
            status = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the audit log: %s",
                                   sk_err_text(rc));
            goto out;
        }
        int ok = !vr.problem[0] && vr.unchained == 0;
        if (a->json) {
            sk_buf b = SK_BUF_INIT;
            sk_jw w;
            sk_jw_init(&w, &b, 0);
            sk_jw_obj_begin(&w);
            sk_jw_key(&w, "ok");
            sk_jw_bool(&w, ok);
            sk_jw_key(&w, "entries");
            sk_jw_uint(&w, vr.entries);
            sk_jw_key(&w, "unchained");
            sk_jw_uint(&w, vr.unchained);
            sk_jw_key(&w, "problem");
            sk_jw_cstr(&w, vr.problem[0] ? vr.problem : NULL);
            sk_jw_key(&w, "seq");
            if (vr.problem[0])
                sk_jw_uint(&w, vr.bad_seq);
            else
                sk_jw_null(&w);
            sk_jw_obj_end(&w);
            if (!b.oom)
                printf("%.*s\n", (int)b.len, (const char *)b.data);
            sk_buf_free(&b);
        }
        if (vr.problem[0]) {
            status = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "TAMPERED: %s", vr.problem);
        } else if (vr.unchained) {
            status =
                sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                              "UNVERIFIABLE: %llu of %llu entries carry no chain hash "
                              "(written without chaining); their predecessors are not "
                              "protected",
                              (unsigned long long)vr.unchained, (unsigned long long)vr.entries);
        } else if (!a->json) {
            printf("audit log verified: %llu entries, chain intact\n",
                   (unsigned long long)vr.entries);
        }
        goto out;
    }
    {
        MDB_dbi audit;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        uint64_t last = 0;
        sk_buf b = SK_BUF_INIT;
        sk_jw w;
        if ((rc = sk_admin_audit_last_txn(a, txn, &last)) ||
            (rc = open_dbi(txn, "audit", &audit)) ||
            (rc = sk_store_mdb_err(mdb_cursor_open(txn, audit, &cur)))) {
            status = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the audit log: %s",
                                   sk_err_text(rc));
            goto out;
        }
        uint8_t start[8];
        sk_be64_put(start, (limit && last > limit) ? last - limit + 1 : 0);
        k.mv_size = 8;
        k.mv_data = start;
        int mrc;
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            audit_entry e;
            if (k.mv_size != 8 || entry_decode(&v, &e)) {
                status = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                                       "an audit entry does not decode (run audit --verify)");
                break;
            }
            print_entry(a, &w, &b, sk_be64_get(k.mv_data), &e);
        }
        if (mrc != 0 && mrc != MDB_NOTFOUND && status == 0)
            status = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the audit log: %s",
                                   mdb_strerror(mrc));
        mdb_cursor_close(cur);
        sk_buf_free(&b);
    }
out:
    mdb_txn_abort(txn);
    return status;
}
