/*
 * test_admin_operator.c - who did it, in sakhi-admin (docs/SECURITY.md, "Who did it"): every
 * entry it writes names the Unix account that ran it, --as is refused, and the audit chain's
 * head signed with a key kept outside the data directory shows a chain that someone who could
 * write only the data directory rewrote consistently.
 *
 * The attack: the test, holding only the data directory, changes an entry, recomputes every
 * later entry's prev_hash and the recorded head exactly as the store would (SHA-256 of the 8-byte
 * key and the value), so the chain alone verifies again; then it deletes the signed heads, and
 * then it signs with a key of its own. The real sakhi-admin, given the public half of the key
 * made by init, must refuse all three.
 */
#define _GNU_SOURCE

#include "sk_admin_run.h"
#include "sk_err.h"
#include "sk_store.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "sk_testmain.h"

static sk_admin_run g;

/* run("cmd", ..., NULL): sakhi-admin --data g.data with those arguments; its exit status, with
 * g.o / g.e holding stdout / stderr. Each test gets a fresh g (its cmocka prestate). */
#define run(...) sk_admin_check(&g, __VA_ARGS__)
#define ADMIN_TEST(t)                                                                              \
    cmocka_unit_test_prestate_setup_teardown(t, sk_admin_fx_setup, sk_admin_fx_teardown, &g)

static char g_keys[600], g_pub[700], g_key[700];

static void init_centre(void)
{
    snprintf(g_keys, sizeof(g_keys), "%s.keys", g.data);
    snprintf(g_pub, sizeof(g_pub), "%s/audit-sign.pub", g_keys);
    snprintf(g_key, sizeof(g_key), "%s/audit-sign.key", g_keys);
    assert_int_equal(run("init", NULL), 0);
    assert_non_null(strstr(g.o, "audit signing key in"));
    struct stat st;
    assert_int_equal(stat(g_key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(g_keys, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* the key is not in the data directory */
    char p[700];
    snprintf(p, sizeof(p), "%s/audit-sign.key", g.data);
    assert_int_not_equal(stat(p, &st), 0);
    assert_int_equal(run("worker", "add", "asha1", "--role", "field", NULL), 0);
    assert_int_equal(run("worker", "add", "asha2", "--role", "field", NULL), 0);
    assert_int_equal(run("worker", "add", "staff1", "--role", "staff", NULL), 0);
}

static const char *me(void)
{
    static char b[96];
    struct passwd *pw = getpwuid(geteuid());
    assert_non_null(pw);
    snprintf(b, sizeof(b), "unix:%s", pw->pw_name);
    return b;
}

/* ---- the operator ------------------------------------------------------------------------- */

static void test_operator_is_the_unix_account(void **state)
{
    (void)state;
    init_centre();
    assert_int_equal(run("--json", "audit", NULL), 0);
    /* init and both worker_add entries name the account, the subject is in the detail */
    char want[200];
    snprintf(want, sizeof(want),
             "\"event\":\"worker_add\",\"worker\":\"%s\",\"device\":0,"
             "\"detail\":\"worker=asha1 role=field",
             me());
    if (!strstr(g.o, want))
        fail_msg("no '%s' in:\n%s", want, g.o);
    snprintf(want, sizeof(want), "\"event\":\"init\",\"worker\":\"%s\"", me());
    assert_non_null(strstr(g.o, want));
    /* --as is a claim, not a login: refused, nothing done */
    assert_int_equal(run("export", "--format", "csv", "--as", "staff1", NULL), 2);
    assert_non_null(strstr(g.e, "--as is refused: sakhi-admin acts as the Unix account"));
    assert_non_null(strstr(g.e, me()));
    assert_int_equal(run("show", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "--as", "staff1", NULL),
                     2);
    assert_int_equal(run("accept", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "--as", "staff1", NULL),
                     2);
    /* an export is audited under the account */
    assert_int_equal(run("export", "--format", "csv", NULL), 0);
    assert_int_equal(run("--json", "audit", "--limit", "1", NULL), 0);
    snprintf(want, sizeof(want), "\"event\":\"export\",\"worker\":\"%s\"", me());
    if (!strstr(g.o, want))
        fail_msg("no '%s' in:\n%s", want, g.o);
}

/* ---- signed heads --------------------------------------------------------------------------- */

static void sha256_2(const void *a, size_t an, const void *b, size_t bn, uint8_t out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 0;
    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(c, a, an), 1);
    assert_int_equal(EVP_DigestUpdate(c, b, bn), 1);
    assert_int_equal(EVP_DigestFinal_ex(c, out, &n), 1);
    EVP_MD_CTX_free(c);
}

/* With only the data directory: flip one byte of entry seq's detail and rechain every entry
 * after it and the head, as the store writes them. */
static void rewrite_chain(uint64_t seq)
{
    sk_store *st;
    MDB_txn *txn;
    MDB_dbi audit, meta;
    assert_int_equal(sk_store_open(&st, g.data, 0), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "audit", 0, &audit), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val lk = {5, (void *)"audit"}, lv;
    assert_int_equal(mdb_get(txn, meta, &lk, &lv), 0);
    uint64_t last = sk_be64_get(lv.mv_data);
    assert_true(last > seq);
    uint8_t prev[32];
    for (uint64_t n = seq; n <= last; n++) {
        uint8_t key[8];
        sk_be64_put(key, n);
        MDB_val k = {8, key}, v;
        assert_int_equal(mdb_get(txn, audit, &k, &v), 0);
        uint8_t *val = malloc(v.mv_size);
        assert_non_null(val);
        memcpy(val, v.mv_data, v.mv_size);
        /* the value ends with prev_hash as bin 32: c4 20 + 32 bytes */
        assert_true(v.mv_size > 34 && val[v.mv_size - 34] == 0xc4 && val[v.mv_size - 33] == 32);
        if (n == seq)
            val[v.mv_size - 36] ^= 0x01; /* the last byte of the detail string */
        else
            memcpy(val + v.mv_size - 32, prev, 32);
        MDB_val nv = {v.mv_size, val};
        assert_int_equal(mdb_put(txn, audit, &k, &nv, 0), 0);
        sha256_2(key, 8, val, v.mv_size, prev);
        free(val);
    }
    uint8_t head[40];
    sk_be64_put(head, last);
    memcpy(head + 8, prev, 32);
    MDB_val hk = {10, (void *)"audit_head"}, hv = {40, head};
    assert_int_equal(mdb_put(txn, meta, &hk, &hv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(st);
}

static void delete_signed_heads(void)
{
    sk_store *st;
    MDB_txn *txn;
    MDB_dbi meta;
    MDB_cursor *cur;
    assert_int_equal(sk_store_open(&st, g.data, 0), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_cursor_open(txn, meta, &cur), 0);
    MDB_val k = {10, (void *)"audit_sig/"}, v;
    int n = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size >= 10 && memcmp(k.mv_data, "audit_sig/", 10) == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) {
        assert_int_equal(mdb_cursor_del(cur, 0), 0);
        n++;
        k.mv_size = 10;
        k.mv_data = (void *)"audit_sig/";
    }
    assert_true(n >= 1);
    mdb_cursor_close(cur);
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(st);
}

static void test_signed_head_catches_rewritten_chain(void **state)
{
    (void)state;
    init_centre();
    assert_int_equal(run("audit", "--verify", "--public-key", g_pub, NULL), 1);
    assert_non_null(strstr(g.e, "TAMPERED: no signed head"));
    assert_int_equal(run("audit", "--sign", NULL), 0);
    assert_non_null(strstr(g.o, "signed the audit head at entry 4"));
    assert_int_equal(run("worker", "add", "asha3", "--role", "field", NULL), 0);
    assert_int_equal(run("worker", "disable", "asha2", NULL), 0);
    assert_int_equal(run("audit", "--sign", NULL), 0);
    assert_non_null(strstr(g.o, "signed the audit head at entry 6"));
    assert_int_equal(run("worker", "add", "asha4", "--role", "field", NULL), 0);
    assert_int_equal(run("audit", "--verify", "--public-key", g_pub, NULL), 0);
    assert_non_null(strstr(g.o, "2 signed heads hold, the newest at entry 6 (1 entries after "
                                "it not signed yet)"));
    assert_int_equal(run("--json", "audit", "--verify", "--public-key", g_pub, NULL), 0);
    assert_non_null(strstr(g.o, "\"ok\":true,\"entries\":7"));

    /* The attack: entry 5 (asha3 added) changed and the chain made consistent again. */
    rewrite_chain(5);
    assert_int_equal(run("audit", "--verify", NULL), 0); /* the chain alone cannot tell */
    assert_int_equal(run("audit", "--verify", "--public-key", g_pub, NULL), 1);
    assert_non_null(strstr(g.e, "TAMPERED: entry 6 is not the entry that was signed"));
    assert_int_equal(run("--json", "audit", "--verify", "--public-key", g_pub, NULL), 1);
    assert_non_null(strstr(g.o, "\"ok\":false"));
    /* and the operator's next signing run refuses to bless the rewritten chain */
    assert_int_equal(run("audit", "--sign", NULL), 1);
    assert_non_null(strstr(g.e, "TAMPERED: entry 6 is not the entry that was signed"));

    /* Removing the signed heads does not help: no signed head is a failure. */
    delete_signed_heads();
    assert_int_equal(run("audit", "--verify", "--public-key", g_pub, NULL), 1);
    assert_non_null(strstr(g.e, "TAMPERED: no signed head"));

    /* Nor does signing with a key of one's own: it does not verify with the centre's. */
    char own_key[700], own_pub[700];
    snprintf(own_key, sizeof(own_key), "%s/own.key", g.dir);
    snprintf(own_pub, sizeof(own_pub), "%s/own.pub", g.dir);
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    FILE *f = fopen(own_key, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    chmod(own_key, 0600);
    EVP_PKEY_free(k);
    assert_int_equal(run("audit", "--sign", "--key", own_key, NULL), 0);
    assert_int_equal(run("audit", "--verify", "--public-key", g_pub, NULL), 1);
    assert_non_null(strstr(g.e, "does not verify with this public key"));
    (void)own_pub;
}

static void test_sign_key_checks(void **state)
{
    (void)state;
    init_centre();
    /* a data directory of the previous version (no keys directory, the master key inside the
     * data directory): init makes the key (and moves the master key out) */
    char mk_from[700], mk_to[700], bk[700];
    assert_int_equal(unlink(g_key), 0);
    assert_int_equal(unlink(g_pub), 0);
    snprintf(mk_from, sizeof(mk_from), "%s/master.key", g_keys);
    snprintf(mk_to, sizeof(mk_to), "%s/master.key", g.data);
    assert_int_equal(rename(mk_from, mk_to), 0);
    snprintf(bk, sizeof(bk), "%s/backup.pub", g_keys);
    assert_int_equal(unlink(bk), 0);
    snprintf(bk, sizeof(bk), "%s/backup-restore.key", g_keys);
    assert_int_equal(unlink(bk), 0);
    assert_int_equal(rmdir(g_keys), 0);
    assert_int_equal(run("audit", "--sign", NULL), 1);
    assert_non_null(strstr(g.e, "cannot read"));
    assert_int_equal(run("init", NULL), 0);
    assert_non_null(strstr(g.o, "audit signing key in"));
    /* a signing key readable by others is refused, with the fix */
    assert_int_equal(chmod(g_key, 0644), 0);
    assert_int_equal(run("audit", "--sign", NULL), 1);
    assert_non_null(strstr(g.e, "has mode 0644: refused (a key must be 0600: chmod 600"));
    assert_int_equal(chmod(g_key, 0600), 0);
    assert_int_equal(run("audit", "--sign", NULL), 0);
    assert_int_equal(run("audit", "--verify", "--public-key", g_pub, NULL), 0);
    /* --max-age: a fresh signed head passes; usage errors */
    assert_int_equal(run("audit", "--verify", "--public-key", g_pub, "--max-age", "3600", NULL), 0);
    assert_int_equal(run("audit", "--verify", "--max-age", "3600", NULL), 2);
    assert_int_equal(run("audit", "--sign", "--verify", NULL), 2);
    /* init again on an existing centre keeps the key */
    struct stat a1, a2;
    assert_int_equal(stat(g_key, &a1), 0);
    assert_int_equal(run("init", NULL), 0);
    assert_int_equal(stat(g_key, &a2), 0);
    assert_int_equal(a1.st_ino, a2.st_ino);
    assert_null(strstr(g.o, "audit signing key in"));
}

SK_TEST_MAIN({
    ADMIN_TEST(test_operator_is_the_unix_account),
    ADMIN_TEST(test_signed_head_catches_rewritten_chain),
    ADMIN_TEST(test_sign_key_checks),
})
