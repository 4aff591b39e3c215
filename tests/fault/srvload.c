/*
 * srvload.c - sk-fault-srvload, the sakhi-server side of the simulated power-loss campaign: the
 * init, run and check commands that sk-powerloss drives (see docs/RELIABILITY.md).
 *
 *   init DIR WORK           make a store in DIR (a field worker and an enrollment code), start
 *                           sakhi-server on it, enroll one device and keep its identity in
 *                           WORK/client.id, stop the server (unrecorded)
 *   run DIR WORK BATCHES    start sakhi-server on DIR (the recorder preloaded into it only, via
 *                           SK_IOFAULT_ONLY) and push BATCHES batches of new referrals, one
 *                           batch at a time; every change's op and id go to WORK/intent before
 *                           it is sent, every ack to WORK/acks; then stop the server
 *   check IMG LOG CUT WORK  the images of data.mdb and keys.db in IMG (the master key from the
 *                           keys directory beside WORK/data, as init made it): decode
 *                           the PUSH_ACK frames the server wrote to its socket before CUT
 *                           (socket markers in LOG), then require the store to open, every
 *                           database to walk cleanly, every committed record to open with its
 *                           key from keys.db (a record whose key did not survive is lost), every
 *                           acked change's record at (at least) its acked version, the device's
 *                           highest op at least the highest acked, and new commits to succeed:
 *                           a plain one and one that adds a record key after the crash's tail.
 *                           Exit 0 ok, 1 loss, 2 corrupt.
 * Test infrastructure only; it must never be shipped. It prints no record content.
 */
#define _GNU_SOURCE
#include "sk_iolog.h"
#include "crashcheck.h"
#include "sk_case.h"
#include "sk_proc.h"
#include "sk_store.h"
#include "sk_testclient.h"
#include "sk_testserver.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CHANGES 8
#define MAX_OPS 20000

typedef struct ident {
    uint64_t device;
    uint8_t priv[SK_PRIVKEY_LEN];
    uint8_t pub[SK_PUBKEY_LEN];
} ident;

static int start_server(sk_proc *p, const char *dir, const char *work, uint16_t *port)
{
    char log[600], pf[600], out[600];
    snprintf(log, sizeof log, "%s/server.log", work);
    snprintf(pf, sizeof pf, "%s/port", work);
    snprintf(out, sizeof out, "%s/server.out", work);
    char *argv[] = {(char *)sk_ts_server_bin(),
                    "--plaintext",
                    "--port",
                    "0",
                    "--data",
                    (char *)dir,
                    "--log-file",
                    log,
                    "--port-file",
                    pf,
                    NULL};
    remove(pf);
    if (sk_proc_start(p, argv, out) != 0)
        return -1;
    uint64_t end = sk_mono_ms() + 10000;
    while (sk_mono_ms() < end) {
        char *txt;
        if (sk_wait_file(pf, 20) == 0 && sk_read_file(pf, &txt, NULL) == 0) {
            *port = (uint16_t)atoi(txt);
            free(txt);
            if (*port)
                return 0;
        }
        if (!sk_proc_alive(p))
            break;
    }
    fprintf(stderr, "srvload: server did not start\n");
    return -1;
}

static int ident_path(char *out, size_t cap, const char *work)
{
    return snprintf(out, cap, "%s/client.id", work) < (int)cap ? 0 : -1;
}

static int cmd_init(const char *dir, const char *work)
{
    sk_store *s = NULL;
    sk_worker w;
    char code[SK_ENROLL_CODE_LEN + 1], idp[600];
    sk_proc p = {0};
    sk_tc c;
    uint16_t port;
    int ret = 2;
    sk_tc_init(&c);
    if (sk_store_open(&s, dir, 0) != 0) {
        fprintf(stderr, "srvload: store: %s\n", sk_store_open_error());
        return 2;
    }
    memset(&w, 0, sizeof w);
    snprintf(w.id, sizeof w.id, "fw-fault");
    w.role = SK_ROLE_FIELD;
    w.district = SK_DISTRICT_LEH;
    int rc = sk_store_worker_put(s, &w);
    if (!rc)
        rc = sk_store_enroll_code_new(s, w.id, 3600000, sk_ts_now_ms(), code);
    sk_store_close(s);
    if (rc || start_server(&p, dir, work, &port) != 0)
        goto out;
    if (sk_tc_connect(&c, port) != 0 || (rc = sk_tc_enroll(&c, code, "fault")) != 0) {
        fprintf(stderr, "srvload: enroll failed (%d)\n", rc);
        goto out;
    }
    ident id = {c.device, {0}, {0}};
    memcpy(id.priv, c.priv, sizeof id.priv);
    memcpy(id.pub, c.pub, sizeof id.pub);
    if (ident_path(idp, sizeof idp, work) != 0 ||
        sk_iolog_write_file(idp, (const unsigned char *)&id, sizeof id) != 0)
        goto out;
    ret = 0;
out:
    sk_tc_free(&c);
    if (p.pid > 0 && sk_proc_stop(&p, 10000) != 0)
        ret = 2;
    return ret;
}

static int load_ident(const char *work, ident *id)
{
    char idp[600];
    unsigned char *b = NULL;
    size_t n = 0;
    if (ident_path(idp, sizeof idp, work) != 0 || sk_iolog_read_file(idp, 0, &b, &n) != 0)
        return -1;
    int ok = n == sizeof *id;
    if (ok)
        memcpy(id, b, sizeof *id);
    free(b);
    return ok ? 0 : -1;
}

static int cmd_run(const char *dir, const char *work, unsigned batches)
{
    ident id;
    sk_proc p = {0};
    sk_tc c;
    uint16_t port;
    char path[600];
    FILE *intent = NULL, *acks = NULL;
    int ret = 2, rc;
    uint64_t op = 1;
    sk_tc_init(&c);
    if (load_ident(work, &id) != 0) {
        fprintf(stderr, "srvload: no identity in %s\n", work);
        return 2;
    }
    snprintf(path, sizeof path, "%s/intent", work);
    intent = fopen(path, "w");
    snprintf(path, sizeof path, "%s/acks", work);
    acks = fopen(path, "w");
    if (!intent || !acks || start_server(&p, dir, work, &port) != 0)
        goto out;
    c.device = id.device;
    memcpy(c.priv, id.priv, sizeof c.priv);
    memcpy(c.pub, id.pub, sizeof c.pub);
    c.timeout_ms = 30000;
    if (sk_tc_connect(&c, port) != 0 || (rc = sk_tc_auth(&c)) != 0) {
        fprintf(stderr, "srvload: auth failed\n");
        goto out;
    }
    for (unsigned b = 1; b <= batches; b++) {
        sk_change ch[MAX_CHANGES];
        sk_ack ak[MAX_CHANGES];
        unsigned n = 1 + b % 5;
        uint64_t now = sk_ts_now_ms();
        for (unsigned i = 0; i < n; i++) {
            char ids[37];
            if (sk_tc_make_referral(&ch[i], op + i, now + i, "fault") != 0) {
                for (unsigned j = 0; j < i; j++)
                    sk_change_free(&ch[j]);
                goto out;
            }
            sk_id_to_str(&ch[i].id, ids);
            fprintf(intent, "%llu %s\n", (unsigned long long)(op + i), ids);
        }
        fflush(intent);
        rc = sk_tc_push(&c, ch, n, ak);
        for (unsigned i = 0; i < n; i++)
            sk_change_free(&ch[i]);
        if (rc != 0) {
            fprintf(stderr, "srvload: push %u failed (%d)\n", b, rc);
            ret = 3;
            goto out;
        }
        for (unsigned i = 0; i < n; i++) {
            if (ak[i].status != SK_ACK_APPLIED || ak[i].op != op + i) {
                fprintf(stderr, "srvload: batch %u change %u not applied\n", b, i);
                ret = 3;
                goto out;
            }
            fprintf(acks, "%llu %llu %llu\n", (unsigned long long)sk_mono_ms(),
                    (unsigned long long)ak[i].op, (unsigned long long)ak[i].version);
        }
        op += n;
    }
    ret = 0;
out:
    sk_tc_free(&c);
    if (intent)
        fclose(intent);
    if (acks)
        fclose(acks);
    if (p.pid > 0) {
        int code = sk_proc_stop(&p, 10000);
        if (code != 0) {
            fprintf(stderr, "srvload: server exit code %d\n", code);
            ret = 2;
        }
    }
    return ret;
}

/* ---- check ------------------------------------------------------------------------------- */

typedef struct acked {
    uint64_t op, version;
} acked;

/* The PUSH_ACKs in the socket markers before cut. One stream per fd. */
static int acks_before(const sk_iolog *log, size_t cut, acked *out, size_t cap, size_t *n_out)
{
    enum { MAXFD = 64 };
    sk_frame_reader rd[MAXFD];
    int used_fd[MAXFD] = {0};
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < cut && i < log->n && rc == 0; i++) {
        const sk_iolog_rec *r = &log->recs[i];
        if (r->type != SK_IOLOG_MARKER || !(r->flags & SK_IOLOG_F_SOCKET) || r->fd < 0 ||
            r->fd >= MAXFD)
            continue;
        if (!used_fd[r->fd]) {
            sk_frame_reader_init(&rd[r->fd], SK_FRAME_DEFAULT_MAX * 16);
            used_fd[r->fd] = 1;
        }
        const uint8_t *p = r->data;
        size_t left = (size_t)r->len;
        while (left > 0) {
            size_t used = 0;
            const uint8_t *body;
            uint32_t blen;
            int fr = sk_frame_feed(&rd[r->fd], p, left, &used, &body, &blen);
            if (fr < 0) {
                rc = -1;
                break;
            }
            p += used;
            left -= used;
            if (fr == 0)
                break;
            sk_msg m;
            if (sk_msg_decode(body, blen, &m, NULL) != 0)
                continue; /* not ours to judge here */
            if (m.type == SK_MSG_PUSH_ACK) {
                for (uint32_t k = 0; k < m.u.push_ack.nacks; k++) {
                    const sk_ack *a = &m.u.push_ack.acks[k];
                    if (a->status == SK_ACK_REJECTED || n == cap)
                        continue;
                    out[n].op = a->op;
                    out[n].version = a->version;
                    n++;
                }
            }
            sk_msg_free(&m);
        }
    }
    for (int f = 0; f < MAXFD; f++)
        if (used_fd[f])
            sk_frame_reader_free(&rd[f]);
    *n_out = n;
    return rc;
}

/* Every committed record must open: its key slot must have been durable before the commit
 * that refers to it (storage/sk_keyring.c). Returns 0, or 1 with why set. */
static int open_all_records(sk_store *s, char *why, size_t cap)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_dbi recs;
    MDB_val k, v;
    size_t n = 0;
    int rc = mdb_txn_begin(sk_store_env(s), NULL, MDB_RDONLY, &txn);
    if (rc || (rc = mdb_dbi_open(txn, "records", 0, &recs)) ||
        (rc = mdb_cursor_open(txn, recs, &c))) {
        snprintf(why, cap, "records: %s", mdb_strerror(rc));
        rc = 1;
        goto out;
    }
    while ((rc = mdb_cursor_get(c, &k, &v, n ? MDB_NEXT : MDB_FIRST)) == 0) {
        sk_record r;
        n++;
        int drc = sk_store_record_decode(s, &k, &v, &r);
        sk_record_free(&r);
        if (drc != 0) {
            snprintf(why, cap, "committed record %zu does not open (key lost?): rc=%d", n, drc);
            rc = 1;
            goto out;
        }
    }
    rc = 0;
out:
    cc_end(txn, c);
    return rc;
}

/* A new record, sealed under a new key appended after whatever tail the crash left, must
 * commit and read back. Returns 0, or 2 with why set. */
static int probe_new_key(sk_store *s, char *why, size_t cap)
{
    sk_record r, back;
    MDB_txn *txn;
    sk_record_init(&r);
    sk_record_init(&back);
    memset(r.id.b, 0xa5, sizeof r.id.b);
    r.version = 1u << 30;
    int rc = sk_store_write_begin(s, &txn);
    if (rc) {
        snprintf(why, cap, "probe key txn: %s", mdb_strerror(rc));
        return 2;
    }
    if ((rc = sk_store_record_put_txn(s, txn, &r, 0)) != 0) {
        sk_store_write_abort(s, txn);
        snprintf(why, cap, "probe record put: rc=%d", rc);
        return 2;
    }
    if ((rc = sk_store_write_commit(s, txn)) != 0) {
        snprintf(why, cap, "probe record commit: %s", mdb_strerror(rc));
        return 2;
    }
    rc = sk_store_record_get(s, &r.id, &back);
    uint64_t ver = back.version;
    sk_record_free(&back);
    if (rc != 0 || ver != r.version) {
        snprintf(why, cap, "probe record does not read back: rc=%d", rc);
        return 2;
    }
    return 0;
}

/* op -> id from WORK/intent */
static int load_intent(const char *work, sk_id *ids, size_t cap)
{
    char path[600], line[128], ids_s[64];
    snprintf(path, sizeof path, "%s/intent", work);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long long op;
        if (sscanf(line, "%llu %63s", &op, ids_s) != 2 || op >= cap ||
            sk_id_from_str(&ids[op], ids_s) != 0) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static int cmd_check(const char *img, const char *logp, size_t cut, const char *work)
{
    static sk_id ids[MAX_OPS];
    static acked ak[MAX_OPS];
    sk_iolog log;
    ident id;
    sk_store *s = NULL;
    size_t nak = 0;
    uint64_t max_op = 0;
    char why[256] = "";
    int ret = 2;
    memset(ids, 0, sizeof ids);
    if (load_ident(work, &id) != 0 || load_intent(work, ids, MAX_OPS) != 0) {
        printf("cannot read identity or intent\n");
        return 2;
    }
    if (sk_iolog_load(&log, logp) != 0) {
        printf("cannot load log\n");
        return 2;
    }
    int arc = acks_before(&log, cut, ak, MAX_OPS, &nak);
    sk_iolog_free(&log);
    if (arc != 0) {
        printf("bad frame stream in the socket markers\n");
        return 2;
    }
    /* The master key stays in the keys directory beside the live data directory ({WORK}/data,
     * as sk-powerloss lays it out): written once by init, never by the recorded run. */
    char kdir[700];
    snprintf(kdir, sizeof kdir, "%s/data.keys", work);
    sk_store_opts so = SK_STORE_OPTS_INIT;
    so.keys_dir = kdir;
    int rc = sk_store_open_opts(&s, img, 0, &so);
    if (rc) {
        snprintf(why, sizeof why, "open: %s", sk_store_open_error());
        goto out;
    }
    if (cc_walk_all(sk_store_env(s), why, sizeof why) != 0)
        goto out;
    ret = 1;
    if (open_all_records(s, why, sizeof why) != 0)
        goto out;
    for (size_t i = 0; i < nak; i++) {
        sk_record r;
        if (ak[i].op >= MAX_OPS || sk_id_is_zero(&ids[ak[i].op])) {
            ret = 2;
            snprintf(why, sizeof why, "acked op %llu was never sent", (unsigned long long)ak[i].op);
            goto out;
        }
        sk_record_init(&r);
        rc = sk_store_record_get(s, &ids[ak[i].op], &r);
        uint64_t have = r.version;
        sk_record_free(&r);
        if (rc != 0 || have < ak[i].version) {
            snprintf(why, sizeof why, "acked op %llu (version %llu) missing: rc=%d version=%llu",
                     (unsigned long long)ak[i].op, (unsigned long long)ak[i].version, rc,
                     (unsigned long long)have);
            goto out;
        }
        if (ak[i].op > max_op)
            max_op = ak[i].op;
    }
    sk_device_info dev;
    if ((rc = sk_store_device_get(s, id.device, &dev)) != 0 || dev.max_op < max_op) {
        snprintf(why, sizeof why, "device max_op %llu < acked %llu (rc=%d)",
                 (unsigned long long)(rc ? 0 : dev.max_op), (unsigned long long)max_op, rc);
        goto out;
    }
    /* the store must take a new commit (a torn free list shows only when pages are reused) */
    ret = 2;
    MDB_txn *txn = NULL;
    MDB_dbi main_dbi;
    MDB_val k = {11, "fault-probe"}, v = {4, "test"};
    MDB_env *env = sk_store_env(s);
    if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) || (rc = mdb_dbi_open(txn, NULL, 0, &main_dbi)) ||
        (rc = mdb_put(txn, main_dbi, &k, &v, 0))) {
        if (txn)
            mdb_txn_abort(txn);
        snprintf(why, sizeof why, "probe txn: %s", mdb_strerror(rc));
        goto out;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        snprintf(why, sizeof why, "probe commit: %s", mdb_strerror(rc));
        goto out;
    }
    if (probe_new_key(s, why, sizeof why) != 0)
        goto out;
    ret = cc_walk_all(env, why, sizeof why) == 0 ? 0 : 2;
out:
    if (s)
        sk_store_close(s);
    printf("cut=%zu acked_changes=%zu max_op=%llu ", cut, nak, (unsigned long long)max_op);
    cc_verdict(ret, why);
    return ret;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "init") == 0)
        return cmd_init(argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv[2], argv[3], (unsigned)strtoul(argv[4], NULL, 10));
    if (argc == 6 && strcmp(argv[1], "check") == 0)
        return cmd_check(argv[2], argv[3], (size_t)strtoull(argv[4], NULL, 10), argv[5]);
    fprintf(stderr, "usage: sk-fault-srvload init DIR WORK | run DIR WORK BATCHES | "
                    "check IMG LOG CUT WORK\n");
    return 2;
}
