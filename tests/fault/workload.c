/*
 * workload.c - sk-fault-workload, a small program that commits to LMDB the way sakhi-server does
 * (one durable write transaction per batch, then an acknowledgement), so the power-loss and
 * I/O-fault harnesses can be proved on something simple before they are pointed at the server.
 *
 *   init DIR                  create the store (DBIs "records", "log", "meta"), synced
 *   run DIR LAST [nosync]     commit batches last+1..LAST; after each commit returns 0, write
 *                             "ack <b>\n" to stdout with write(2) (so the iofault recorder sees
 *                             it as a marker). A failed commit prints "fail <b> <rc>" to stderr
 *                             and exits 3, never acking that batch. "nosync" opens with
 *                             MDB_NOSYNC (acks then are NOT durable: the harness must see loss).
 *   verify DIR ACKED          exit 0 iff the store walks cleanly and holds exactly batches
 *                             1..ACKED (exact model contents); 1 on a mismatch, 2 if corrupt
 *   check IMGDIR LOG CUT      power-loss checker: ACKED = the highest "ack" marker in LOG
 *                             before CUT; the image must walk cleanly, hold a batch prefix 1..m
 *                             with m >= ACKED and exact contents, and take one more commit.
 *                             Exit 0 ok, 1 loss, 2 corrupt. Prints one line.
 *
 * The store's contents are a pure function of the number of batches applied (model below), so
 * every check is exact. Test infrastructure only; it must never be shipped.
 */
#define _GNU_SOURCE
#include "sk_iolog.h"
#include "crashcheck.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 400u
#define MAX_VAL 6100u
#define MAX_BATCH 100000u

/* ---- the model --------------------------------------------------------------------------- */

typedef struct op {
    unsigned slot;
    unsigned len; /* 0 = delete */
} op;

/* The operations of batch b (1-based): 4..19 puts and deletes over SLOTS slots. Some values are
 * larger than a page, so batches also write overflow pages. Returns the count. */
static unsigned batch_ops(unsigned b, op *ops)
{
    uint64_t rng = 0x5eedull * b + 17;
    unsigned n = 4 + (unsigned)(sk_iolog_rand(&rng) % 16);
    for (unsigned i = 0; i < n; i++) {
        ops[i].slot = (unsigned)(sk_iolog_rand(&rng) % SLOTS);
        uint64_t r = sk_iolog_rand(&rng);
        if (r % 5 == 0)
            ops[i].len = 0;
        else if (r % 11 == 1)
            ops[i].len = 4097 + (unsigned)(sk_iolog_rand(&rng) % 2000);
        else
            ops[i].len = 8 + (unsigned)(sk_iolog_rand(&rng) % 700);
    }
    return n;
}

static void value_bytes(unsigned b, unsigned slot, unsigned len, unsigned char *out)
{
    uint64_t rng = ((uint64_t)b << 20) ^ slot ^ ((uint64_t)len << 40);
    /* the first 8 bytes say who wrote it: a stale page shows as a wrong batch number */
    for (unsigned j = 0; j < len; j++) {
        if (j < 4)
            out[j] = (unsigned char)(b >> (8 * j));
        else if (j < 8)
            out[j] = (unsigned char)(slot >> (8 * (j - 4)));
        else
            out[j] = (unsigned char)sk_iolog_rand(&rng);
    }
}

typedef struct state {
    unsigned b[SLOTS]; /* batch that last wrote the slot, 0 = absent */
    unsigned len[SLOTS];
} state;

static void model_apply(state *s, unsigned b)
{
    op ops[32];
    unsigned n = batch_ops(b, ops);
    for (unsigned i = 0; i < n; i++) {
        s->b[ops[i].slot] = ops[i].len ? b : 0;
        s->len[ops[i].slot] = ops[i].len;
    }
}

/* ---- store access ------------------------------------------------------------------------ */

static void slot_key(unsigned slot, char *k)
{
    snprintf(k, 8, "s%05u", slot);
}

static void be64(uint64_t v, unsigned char *p)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static int env_open(MDB_env **out, const char *dir, unsigned flags)
{
    MDB_env *env = NULL;
    int rc = mdb_env_create(&env);
    if (rc)
        return rc;
    if ((rc = mdb_env_set_maxdbs(env, 8)) || (rc = mdb_env_set_mapsize(env, 64u << 20)) ||
        (rc = mdb_env_open(env, dir, flags | MDB_NOTLS, 0600))) {
        mdb_env_close(env);
        return rc;
    }
    *out = env;
    return 0;
}

typedef struct dbis {
    MDB_dbi records, log, meta;
} dbis;

static int open_dbis(MDB_txn *txn, unsigned flags, dbis *d)
{
    int rc;
    if ((rc = mdb_dbi_open(txn, "records", flags, &d->records)) ||
        (rc = mdb_dbi_open(txn, "log", flags, &d->log)) ||
        (rc = mdb_dbi_open(txn, "meta", flags, &d->meta)))
        return rc;
    return 0;
}

static int read_last(MDB_txn *txn, const dbis *d, unsigned *out)
{
    MDB_val k = {4, "last"}, v;
    int rc = mdb_get(txn, d->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (v.mv_size != 4)
        return MDB_CORRUPTED;
    unsigned x;
    memcpy(&x, v.mv_data, 4);
    *out = x;
    return 0;
}

/* One batch inside an open write transaction. */
static int apply_batch(MDB_txn *txn, const dbis *d, unsigned b)
{
    static unsigned char val[MAX_VAL];
    op ops[32];
    unsigned n = batch_ops(b, ops);
    int rc;
    for (unsigned i = 0; i < n; i++) {
        char kb[8];
        slot_key(ops[i].slot, kb);
        MDB_val k = {6, kb};
        if (ops[i].len == 0) {
            rc = mdb_del(txn, d->records, &k, NULL);
            if (rc && rc != MDB_NOTFOUND)
                return rc;
            continue;
        }
        value_bytes(b, ops[i].slot, ops[i].len, val);
        MDB_val v = {ops[i].len, val};
        if ((rc = mdb_put(txn, d->records, &k, &v, 0)))
            return rc;
    }
    unsigned char lk[8];
    be64(b, lk);
    char lv[24];
    int lvn = snprintf(lv, sizeof lv, "batch %u", b);
    MDB_val k = {8, lk}, v = {(size_t)lvn, lv};
    if ((rc = mdb_put(txn, d->log, &k, &v, MDB_NOOVERWRITE)))
        return rc;
    MDB_val mk = {4, "last"}, mv = {4, &b};
    return mdb_put(txn, d->meta, &mk, &mv, 0);
}

static void say(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t r = write(fd, s, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;
        s += r;
        n -= (size_t)r;
    }
}

static int cmd_init(const char *dir)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    dbis d;
    int rc = env_open(&env, dir, 0);
    if (rc)
        goto out;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = open_dbis(txn, MDB_CREATE, &d)))
        goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (!rc)
        rc = mdb_env_sync(env, 1);
out:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    if (rc)
        fprintf(stderr, "init: %s\n", mdb_strerror(rc));
    return rc ? 2 : 0;
}

static int cmd_run(const char *dir, unsigned last, int nosync)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    dbis d;
    unsigned have = 0;
    char line[64];
    int rc = env_open(&env, dir, nosync ? MDB_NOSYNC : 0), ret = 2;
    if (rc)
        goto out;
    if ((rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn)) || (rc = open_dbis(txn, 0, &d)) ||
        (rc = read_last(txn, &d, &have)))
        goto out;
    rc = mdb_txn_commit(txn); /* commit, not abort: an aborted txn closes the DBI handles */
    txn = NULL;
    if (rc)
        goto out;
    for (unsigned b = have + 1; b <= last; b++) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = apply_batch(txn, &d, b))) {
            snprintf(line, sizeof line, "fail %u %d\n", b, rc);
            say(2, line);
            ret = 3;
            goto out;
        }
        rc = mdb_txn_commit(txn); /* frees txn whatever the result */
        txn = NULL;
        if (rc) {
            snprintf(line, sizeof line, "fail %u %d\n", b, rc);
            say(2, line);
            ret = 3;
            goto out;
        }
        snprintf(line, sizeof line, "ack %u\n", b);
        say(1, line);
    }
    ret = 0;
out:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    if (rc && ret == 2)
        fprintf(stderr, "run: %s\n", mdb_strerror(rc));
    return ret;
}

/* Walk the free list, the main DB and every named DB, then compare with the model.
 * Returns 0 ok with *have set, 1 contents differ from every prefix, 2 corrupt (message set). */
static int verify_store(MDB_env *env, unsigned *have, char *why, size_t whylen)
{
    static state s;
    static unsigned char val[MAX_VAL];
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    dbis d;
    size_t n;
    int ret = 2;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc)
        goto out;
    if ((rc = cc_walk_dbi(txn, 0, &n))) { /* FREE_DBI */
        snprintf(why, whylen, "free list: %s", mdb_strerror(rc));
        goto out;
    }
    MDB_dbi main_dbi;
    if ((rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) || (rc = cc_walk_dbi(txn, main_dbi, &n))) {
        snprintf(why, whylen, "main db: %s", mdb_strerror(rc));
        goto out;
    }
    if ((rc = open_dbis(txn, 0, &d))) {
        snprintf(why, whylen, "open dbis: %s", mdb_strerror(rc));
        goto out;
    }
    size_t nrec, nlog, nmeta;
    if ((rc = cc_walk_dbi(txn, d.records, &nrec)) || (rc = cc_walk_dbi(txn, d.log, &nlog)) ||
        (rc = cc_walk_dbi(txn, d.meta, &nmeta)) || (rc = read_last(txn, &d, have))) {
        snprintf(why, whylen, "walk: %s", mdb_strerror(rc));
        goto out;
    }
    ret = 1;
    if (*have > MAX_BATCH || nlog != *have) {
        snprintf(why, whylen, "log has %zu entries, last=%u", nlog, *have);
        goto out;
    }
    memset(&s, 0, sizeof s);
    for (unsigned b = 1; b <= *have; b++)
        model_apply(&s, b);
    size_t want = 0;
    for (unsigned slot = 0; slot < SLOTS; slot++) {
        char kb[8];
        slot_key(slot, kb);
        MDB_val k = {6, kb}, v;
        rc = mdb_get(txn, d.records, &k, &v);
        if (s.b[slot] == 0) {
            if (rc != MDB_NOTFOUND) {
                snprintf(why, whylen, "slot %u present, model says deleted", slot);
                goto out;
            }
            continue;
        }
        want++;
        if (rc) {
            snprintf(why, whylen, "slot %u: %s", slot, mdb_strerror(rc));
            goto out;
        }
        value_bytes(s.b[slot], slot, s.len[slot], val);
        if (v.mv_size != s.len[slot] || memcmp(v.mv_data, val, v.mv_size) != 0) {
            snprintf(why, whylen, "slot %u value differs from batch %u's", slot, s.b[slot]);
            goto out;
        }
    }
    if (want != nrec) {
        snprintf(why, whylen, "records has %zu entries, model %zu", nrec, want);
        goto out;
    }
    rc = mdb_cursor_open(txn, d.log, &c);
    for (unsigned b = 1; rc == 0 && b <= *have; b++) {
        MDB_val k, v;
        unsigned char lk[8];
        be64(b, lk);
        rc = mdb_cursor_get(c, &k, &v, b == 1 ? MDB_FIRST : MDB_NEXT);
        if (rc == 0 && (k.mv_size != 8 || memcmp(k.mv_data, lk, 8) != 0)) {
            snprintf(why, whylen, "log entry %u missing", b);
            goto out;
        }
    }
    if (rc) {
        snprintf(why, whylen, "log walk: %s", mdb_strerror(rc));
        goto out;
    }
    ret = 0;
out:
    if (c)
        mdb_cursor_close(c);
    if (txn)
        mdb_txn_abort(txn);
    if (ret == 2 && !why[0])
        snprintf(why, whylen, "%s", mdb_strerror(rc));
    return ret;
}

static int cmd_verify(const char *dir, unsigned acked)
{
    MDB_env *env = NULL;
    unsigned have = 0;
    char why[160] = "";
    int rc = env_open(&env, dir, 0);
    if (rc) {
        printf("corrupt open: %s\n", mdb_strerror(rc));
        return 2;
    }
    int ret = verify_store(env, &have, why, sizeof why);
    mdb_env_close(env);
    if (ret == 0 && have != acked) {
        printf("have=%u acked=%u: mismatch\n", have, acked);
        return 1;
    }
    printf("have=%u acked=%u %s\n", have, acked, ret ? why : "ok");
    return ret;
}

/* Highest "ack N" in the stdout markers before cut. */
static unsigned acked_before(const sk_iolog *log, size_t cut)
{
    unsigned best = 0;
    for (size_t i = 0; i < cut && i < log->n; i++) {
        const sk_iolog_rec *r = &log->recs[i];
        if (r->type != SK_IOLOG_MARKER || !(r->flags & SK_IOLOG_F_STDOUT))
            continue;
        /* each ack is one write of "ack N\n" (see cmd_run) */
        char line[32];
        size_t l = r->len < sizeof line - 1 ? (size_t)r->len : sizeof line - 1;
        memcpy(line, r->data, l);
        line[l] = '\0';
        unsigned b;
        if (sscanf(line, "ack %u", &b) == 1 && b > best)
            best = b;
    }
    return best;
}

static int cmd_check(const char *dir, const char *logpath, size_t cut)
{
    sk_iolog log;
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    dbis d;
    char why[160] = "";
    unsigned have = 0, have2 = 0;
    int ret = 2;
    if (sk_iolog_load(&log, logpath) != 0) {
        printf("cannot load log\n");
        return 2;
    }
    unsigned acked = acked_before(&log, cut);
    sk_iolog_free(&log);
    int rc = env_open(&env, dir, 0);
    if (rc) {
        snprintf(why, sizeof why, "open: %s", mdb_strerror(rc));
        goto out;
    }
    ret = verify_store(env, &have, why, sizeof why);
    if (ret)
        goto out;
    if (have < acked) {
        ret = 1;
        snprintf(why, sizeof why, "lost batches %u..%u", have + 1, acked);
        goto out;
    }
    /* the store must also take a new commit (a torn free list shows only when reused) */
    ret = 2;
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = open_dbis(txn, 0, &d)) ||
        (rc = apply_batch(txn, &d, have + 1))) {
        snprintf(why, sizeof why, "new batch: %s", mdb_strerror(rc));
        goto out;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        snprintf(why, sizeof why, "commit after recovery: %s", mdb_strerror(rc));
        goto out;
    }
    ret = verify_store(env, &have2, why, sizeof why);
    if (ret == 0 && have2 != have + 1) {
        ret = 2;
        snprintf(why, sizeof why, "after recovery commit have=%u", have2);
    }
out:
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    printf("cut=%zu acked=%u have=%u ", cut, acked, have);
    cc_verdict(ret, why);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "init") == 0)
        return cmd_init(argv[2]);
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "run") == 0) {
        unsigned last = (unsigned)strtoul(argv[3], NULL, 10);
        if (last > MAX_BATCH)
            return 2;
        return cmd_run(argv[2], last, argc == 5 && strcmp(argv[4], "nosync") == 0);
    }
    if (argc == 4 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argv[2], (unsigned)strtoul(argv[3], NULL, 10));
    if (argc == 5 && strcmp(argv[1], "check") == 0)
        return cmd_check(argv[2], argv[3], (size_t)strtoull(argv[4], NULL, 10));
    fprintf(stderr, "usage: sk-fault-workload init DIR | run DIR LAST [nosync] | verify DIR ACKED"
                    " | check IMGDIR LOG CUT\n");
    return 2;
}
