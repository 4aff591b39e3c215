/*
 * admin_audit.c - the audit log as sakhi-admin sees it: appending entries, listing them, and
 * checking the hash chain (`audit --verify`).
 *
 * The store owns the log and its chain (storage/sk_store.h: sk_store_audit_txn chains every
 * entry as it is written, sk_store_audit_verify walks the chain from the first entry kept after
 * retention pruning). This module only calls those: it never hashes, seals or rewrites an
 * entry itself, so there is one implementation of the chain. It owns no state.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_json.h"
#include "sk_sample.h"
#include "sk_term.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
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
    "       sakhi-admin audit --verify [--public-key FILE [--max-age SECONDS]] [--json]\n"
    "       sakhi-admin audit --sign [--key FILE]\n"
    "\n"
    "Lists the audit log (newest last): seq, time, event, worker, device, detail. With --limit N\n"
    "only the last N entries. Entries name record ids and codes, never referral content.\n"
    "--verify checks the store's hash chain: seqs contiguous from the first entry kept after\n"
    "retention pruning, each entry's prev_hash the SHA-256 of the entry before it, and the\n"
    "recorded head matching the last entry. Exit 0 when the whole log verifies; 1 with the first\n"
    "bad seq when an entry was altered, removed or inserted.\n"
    "With --public-key (audit-sign.pub, kept off the machine) it also checks every signed head\n"
    "stored in the data directory against the chain: a chain rewritten consistently by someone\n"
    "who could write the data directory, but not sign, fails; so does a log with no signed head,\n"
    "and with --max-age one whose newest signed head is older than SECONDS.\n"
    "--sign signs the chain's head with the private key (default KEYS/audit-sign.key, mode\n"
    "0600, made by init), after checking that the chain still leads from the last signed head:\n"
    "run it at intervals (a timer, docs/SERVER.md).\n";

#define SIG_PREFIX "audit_sig/"
#define SIG_LEN (8 + 32 + 8 + 64) /* seq, hash, time, Ed25519 signature */

typedef struct sighead {
    uint64_t seq, ts_ms;
    uint8_t hash[32], sig[64];
} sighead;

/* Every signed head stored in meta, oldest seq first, into heads (at most cap; *n total). */
static int sig_list(sk_admin *a, sighead *heads, size_t cap, size_t *n)
{
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_cursor *cur = NULL;
    size_t pl = strlen(SIG_PREFIX), count = 0;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn));
    if (rc)
        return rc;
    if ((rc = sk_store_mdb_err(mdb_dbi_open(txn, "meta", 0, &meta))) ||
        (rc = sk_store_mdb_err(mdb_cursor_open(txn, meta, &cur))))
        goto out;
    MDB_val k = {pl, (void *)SIG_PREFIX}, v;
    int mrc;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < pl || memcmp(k.mv_data, SIG_PREFIX, pl) != 0)
            break;
        if (v.mv_size != SIG_LEN) {
            rc = -SK_E_STORE_IO;
            goto out;
        }
        if (count < cap) {
            const uint8_t *p = v.mv_data;
            sighead *h = &heads[count];
            h->seq = sk_be64_get(p);
            memcpy(h->hash, p + 8, 32);
            h->ts_ms = sk_be64_get(p + 40);
            memcpy(h->sig, p + 48, 64);
        }
        count++;
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND)
        rc = sk_store_mdb_err(mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    *n = count;
    return rc;
}

/* Check every stored signed head against key and the chain. 0 when all hold, 1 with problem
 * set when one does not; a negative code on a read error. *newest gets the newest valid one. */
static int heads_check(sk_admin *a, EVP_PKEY *key, sighead *newest, size_t *checked, char *problem,
                       size_t cap)
{
    static sighead heads[4096];
    size_t n = 0;
    int rc = sig_list(a, heads, sizeof(heads) / sizeof(heads[0]), &n);
    memset(newest, 0, sizeof(*newest));
    *checked = 0;
    if (rc)
        return rc;
    if (n > sizeof(heads) / sizeof(heads[0]))
        n = sizeof(heads) / sizeof(heads[0]); /* keys sort by seq: these are the oldest */
    for (size_t i = 0; i < n; i++) {
        uint8_t h[32];
        if (sk_admin_head_verify(heads[i].sig, key, heads[i].seq, heads[i].hash, heads[i].ts_ms)) {
            snprintf(problem, cap,
                     "the signed head at entry %llu does not verify with this public key "
                     "(forged, or signed with another key)",
                     (unsigned long long)heads[i].seq);
            return 1;
        }
        rc = sk_store_audit_hash_at(a->store, heads[i].seq, h);
        if (rc == -SK_E_NOT_FOUND)
            continue; /* pruned by retention since it was signed */
        if (rc)
            return rc;
        if (CRYPTO_memcmp(h, heads[i].hash, 32) != 0) {
            snprintf(problem, cap,
                     "entry %llu is not the entry that was signed: the chain was rewritten up "
                     "to it",
                     (unsigned long long)heads[i].seq);
            return 1;
        }
        (*checked)++;
        if (heads[i].seq >= newest->seq)
            *newest = heads[i];
    }
    return 0;
}

static int cmd_sign(sk_admin *a, const char *key_path)
{
    char path[4200], err[400], problem[300] = "";
    uint64_t count = 0, bad = 0, seq = 0;
    uint8_t hash[32], sig[64];
    if (!key_path) {
        char dir[4096];
        if (sk_admin_keys_dir(a, dir, sizeof(dir)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "keys directory path too long");
        snprintf(path, sizeof(path), "%s/%s", dir, SK_ADMIN_SIGNKEY);
        key_path = path;
    }
    EVP_PKEY *key = sk_admin_signkey_load(key_path, 1, err, sizeof(err));
    if (!key)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
    int rc = sk_store_audit_verify(a->store, &count, &bad);
    if (rc == -SK_E_INVALID) {
        EVP_PKEY_free(key);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                             "TAMPERED: the chain breaks at entry %llu; nothing was signed",
                             (unsigned long long)bad);
    }
    sighead newest;
    size_t checked = 0;
    if (!rc)
        rc = heads_check(a, key, &newest, &checked, problem, sizeof(problem));
    if (rc == 1) {
        EVP_PKEY_free(key);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "TAMPERED: %s; nothing was signed", problem);
    }
    if (!rc)
        rc = sk_store_audit_head(a->store, &seq, hash);
    if (rc) {
        EVP_PKEY_free(key);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the audit log: %s",
                             sk_err_text(rc));
    }
    if (seq == 0) {
        EVP_PKEY_free(key);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "the audit log is empty: nothing to sign");
    }
    uint64_t now = sk_admin_now_ms();
    rc = sk_admin_head_sign(sig, key, seq, hash, now);
    EVP_PKEY_free(key);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot sign the head");
    uint8_t val[SIG_LEN];
    char k[40];
    sk_be64_put(val, seq);
    memcpy(val + 8, hash, 32);
    sk_be64_put(val + 40, now);
    memcpy(val + 48, sig, 64);
    snprintf(k, sizeof(k), SIG_PREFIX "%016llx", (unsigned long long)seq);
    sk_admin_wtxn w;
    MDB_dbi meta;
    if ((rc = sk_admin_wtxn_begin(a, &w)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write the store: %s", sk_err_text(rc));
    MDB_val mk = {strlen(k), k}, mv = {sizeof(val), val};
    if ((rc = sk_store_mdb_err(mdb_dbi_open(w.txn, "meta", 0, &meta))) ||
        (rc = sk_store_mdb_err(mdb_put(w.txn, meta, &mk, &mv, 0)))) {
        sk_admin_wtxn_abort(a, &w);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write the store: %s", sk_err_text(rc));
    }
    if ((rc = sk_admin_wtxn_commit(a, &w)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write the store: %s", sk_err_text(rc));
    if (a->json) {
        sk_admin_json j;
        sk_jw_kuint(sk_jline_begin(&j), "signed", seq);
        return sk_admin_json_end(a, &j);
    }
    printf("signed the audit head at entry %llu\n", (unsigned long long)seq);
    return SK_ADMIN_EXIT_OK;
}

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
        sk_jw_kuint(&c->w, "seq", e->seq);
        sk_jw_kcstr(&c->w, "time", t);
        sk_jw_key(&c->w, "event");
        sk_jw_str(&c->w, e->event, e->event_len);
        sk_jw_key(&c->w, "worker");
        sk_jw_str(&c->w, e->worker, e->worker_len);
        sk_jw_kuint(&c->w, "device", e->device);
        sk_jw_key(&c->w, "detail");
        sk_jw_str(&c->w, e->detail, e->detail_len);
        sk_jw_kbool(&c->w, "chained", e->seq == 1 || !is_zero(e->prev_hash, sizeof(e->prev_hash)));
        sk_jw_obj_end(&c->w);
        if (!c->b.oom)
            printf("%.*s\n", (int)c->b.len, (const char *)c->b.data);
    } else {
        /* details carry device labels and names typed elsewhere: escaped for the terminal */
        char ev[4 * 64 + 1], wk[4 * 96 + 1];
        printf("%6llu  %s  %-12s %-16s dev=%-4llu ", (unsigned long long)e->seq, t,
               sk_term_safe(ev, sizeof(ev), e->event, e->event_len),
               sk_term_safe(wk, sizeof(wk), e->worker, e->worker_len),
               (unsigned long long)e->device);
        sk_term_write(stdout, e->detail, e->detail_len);
        putchar('\n');
    }
    return 0;
}

static int cmd_verify(sk_admin *a, const char *pub_path, uint64_t max_age_s)
{
    uint64_t count = 0, bad = 0;
    sighead newest;
    size_t checked = 0;
    int rc = sk_store_audit_verify(a->store, &count, &bad);
    if (rc && rc != -SK_E_INVALID)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the audit log: %s",
                             sk_err_text(rc));
    char problem[300] = "";
    if (rc)
        snprintf(problem, sizeof(problem),
                 "the chain breaks at entry %llu (it or the entry before it was altered, "
                 "removed or inserted)",
                 (unsigned long long)bad);
    memset(&newest, 0, sizeof(newest));
    if (!rc && pub_path) {
        char err[400];
        EVP_PKEY *key = sk_admin_signkey_load(pub_path, 0, err, sizeof(err));
        if (!key)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
        int hrc = heads_check(a, key, &newest, &checked, problem, sizeof(problem));
        EVP_PKEY_free(key);
        if (hrc < 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the signed heads: %s",
                                 sk_err_text(hrc));
        if (hrc == 0 && count > 0 && checked == 0)
            snprintf(problem, sizeof(problem),
                     "no signed head: nothing shows the chain was not rewritten (run audit "
                     "--sign at intervals)");
        else if (hrc == 0 && max_age_s && sk_admin_now_ms() > newest.ts_ms &&
                 (sk_admin_now_ms() - newest.ts_ms) / 1000u > max_age_s)
            snprintf(problem, sizeof(problem),
                     "the newest signed head (entry %llu) is %llu s old, more than --max-age %llu",
                     (unsigned long long)newest.seq,
                     (unsigned long long)((sk_admin_now_ms() - newest.ts_ms) / 1000u),
                     (unsigned long long)max_age_s);
        if (problem[0]) {
            rc = -SK_E_INVALID;
            bad = newest.seq;
        }
    }
    if (a->json) {
        sk_buf b = SK_BUF_INIT;
        sk_jw w;
        sk_jw_init(&w, &b, 0);
        sk_jw_obj_begin(&w);
        sk_jw_kbool(&w, "ok", rc == 0);
        sk_jw_kuint(&w, "entries", count);
        sk_jw_kcstr(&w, "problem", rc ? problem : NULL);
        sk_jw_key(&w, "seq");
        if (rc)
            sk_jw_uint(&w, bad);
        else
            sk_jw_null(&w);
        if (pub_path) {
            sk_jw_kuint(&w, "signed_heads", checked);
            sk_jw_kuint(&w, "newest_signed", newest.seq);
        }
        sk_jw_obj_end(&w);
        if (!b.oom)
            printf("%.*s\n", (int)b.len, (const char *)b.data);
        sk_buf_free(&b);
    }
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "TAMPERED: %s", problem);
    if (!a->json && pub_path) {
        uint64_t last = 0;
        uint8_t h[32];
        if (sk_store_audit_head(a->store, &last, h) != 0 || last < newest.seq)
            last = newest.seq;
        printf("audit log verified: %llu entries, chain intact, %zu signed heads hold, the newest "
               "at entry %llu (%llu entries after it not signed yet)\n",
               (unsigned long long)count, checked, (unsigned long long)newest.seq,
               (unsigned long long)(last - newest.seq));
    } else if (!a->json)
        printf("audit log verified: %llu entries, chain intact\n", (unsigned long long)count);
    return SK_ADMIN_EXIT_OK;
}

int sk_admin_cmd_audit(sk_admin *a, int argc, char **argv)
{
    const char *limit_s = NULL, *pub = NULL, *key = NULL, *max_age_s = NULL;
    int verify = 0, sign = 0;
    const sk_admin_opt opts[] = {{"limit", 1, &limit_s, NULL}, {"verify", 0, NULL, &verify},
                                 {"sign", 0, NULL, &sign},     {"public-key", 1, &pub, NULL},
                                 {"key", 1, &key, NULL},       {"max-age", 1, &max_age_s, NULL},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_help);
    if (rc)
        return rc;
    uint64_t limit = 0, max_age = 0;
    if (limit_s && sk_admin_parse_uint(limit_s, 1, UINT64_MAX, &limit))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--limit needs a positive number");
    if (max_age_s && sk_admin_parse_uint(max_age_s, 1, UINT64_MAX, &max_age))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--max-age needs a positive number");
    if (sign && verify)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "give --sign or --verify, not both");
    if ((pub || max_age_s) && !verify)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--public-key and --max-age go with --verify");
    if (max_age_s && !pub)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--max-age needs --public-key");
    if (key && !sign)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--key goes with --sign");
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    if (verify)
        return cmd_verify(a, pub, max_age);
    if (sign)
        return cmd_sign(a, key);
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
