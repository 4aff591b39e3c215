/*
 * test_client_servers.c - the centre's servers a device keeps (client-lib/src/lstore.c,
 * "ident"): an identity written before devices kept a list (10 elements: one host, port and
 * pin) opens as a list of that one server, marked as the primary, and is rewritten in the new
 * form at that open; a damaged list refuses the open (SAKHI_EFORMAT) instead of guessing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <stdio.h>
#include <string.h>

#include "sk_client.h"
#include "sk_client_test.h"
#include "sk_proc.h"

static sk_tmpdir_fx g_tmp = {"sakhi-servers", ""}; /* each test's temp dir */

static const char *store_path(const char *name)
{
    static char p[300];
    snprintf(p, sizeof(p), "%s/%s", g_tmp.path, name);
    return p;
}

static sakhi_client *open_store(const char *name, int expect)
{
    sakhi_client *c = NULL;
    sakhi_options o = SAKHI_OPTIONS_INIT;
    assert_int_equal(sk_client_test_kdf(10), 0);
    assert_int_equal(sakhi_open(&c, store_path(name), "246813", &o), expect);
    return c;
}

/* Write an identity as a library of the given shape wrote it: 10 elements (no server list), or
 * 11 with a list of one server whose port is port. */
static void put_ident(sakhi_client *c, int elements, uint64_t port)
{
    sk_buf b = SK_BUF_INIT, blob = SK_BUF_INIT;
    msgpack_packer pk;
    uint8_t priv[32], pin[SK_TLS_PIN_LEN], aad[96];
    MDB_txn *txn;
    memset(priv, 0x11, sizeof(priv));
    memset(pin, 0xab, sizeof(pin));
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, (size_t)elements);
    msgpack_pack_uint64(&pk, 1); /* enrolled */
    msgpack_pack_uint64(&pk, 7); /* device */
    sk_pack_cstr(&pk, "fw1");
    msgpack_pack_uint32(&pk, SAKHI_ROLE_FIELD);
    msgpack_pack_uint32(&pk, 1);
    sk_pack_cstr(&pk, "osc-leh.example");
    msgpack_pack_uint16(&pk, 7447);
    sk_pack_bin(&pk, priv, sizeof(priv));
    msgpack_pack_uint64(&pk, 0); /* TLS */
    sk_pack_bin(&pk, pin, sizeof(pin));
    if (elements == 11) {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 3);
        sk_pack_cstr(&pk, "osc-leh.example");
        msgpack_pack_uint64(&pk, port);
        sk_pack_bin(&pk, pin, sizeof(pin));
    }
    assert_false(b.oom);
    size_t an = sk_vault_aad(aad, sizeof(aad), "meta", "ident", 5);
    assert_int_equal(sk_vault_seal(&blob, c->dek, aad, an, b.data, b.len), 0);
    assert_int_equal(sk_lstore_txn(c, 0, &txn), 0);
    MDB_val k = {5, (void *)"ident"}, v = {blob.len, blob.data};
    assert_int_equal(mdb_put(txn, c->dbi_meta, &k, &v, 0), 0);
    assert_int_equal(sk_lstore_commit(c, txn), 0);
    sk_buf_free(&b);
    sk_buf_free(&blob);
}

/* The number of elements of the stored identity (its first byte: a fixarray). */
static int ident_elements(sakhi_client *c)
{
    MDB_txn *txn;
    MDB_val k = {5, (void *)"ident"}, v;
    sk_buf pt = SK_BUF_INIT;
    uint8_t aad[96];
    assert_int_equal(sk_lstore_txn(c, 1, &txn), 0);
    assert_int_equal(mdb_get(txn, c->dbi_meta, &k, &v), 0);
    size_t an = sk_vault_aad(aad, sizeof(aad), "meta", "ident", 5);
    assert_int_equal(sk_vault_open(&pt, c->dek, aad, an, v.mv_data, v.mv_size), 0);
    mdb_txn_abort(txn);
    assert_true(pt.len > 0 && (pt.data[0] & 0xf0) == 0x90);
    int n = pt.data[0] & 0x0f;
    sk_vault_buf_wipe(&pt);
    return n;
}

static void test_server_list_from_an_older_identity(void **state)
{
    (void)state;
    sakhi_client *c = open_store("old", 0);
    assert_int_equal(sakhi_server_count(c), 0); /* not enrolled */
    put_ident(c, 10, 0);
    sakhi_close(c);

    c = open_store("old", 0);
    assert_int_equal(sakhi_server_count(c), 1);
    sakhi_server sv = SAKHI_SERVER_INIT;
    assert_int_equal(sakhi_server_get(c, 0, &sv), 0);
    assert_string_equal(sv.host, "osc-leh.example");
    assert_int_equal(sv.port, 7447);
    assert_string_equal(sv.pin, "abababababababababababababababababababababababababababababababab");
    assert_int_equal(sv.primary, 1);
    assert_int_equal(sakhi_server_get(c, 1, &sv), SAKHI_ENOTFOUND);
    sakhi_server bad = {0};
    assert_int_equal(sakhi_server_get(c, 0, &bad), SAKHI_EINVAL);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_string_equal(st.server_host, "osc-leh.example");
    assert_int_equal(st.server_port, 7447);
    assert_int_equal(ident_elements(c), 11); /* rewritten in the new form at the open */
    sakhi_close(c);

    c = open_store("old", 0);
    assert_int_equal(sakhi_server_count(c), 1);
    assert_int_equal(ident_elements(c), 11);
    sakhi_close(c);
}

static void test_server_list_damaged(void **state)
{
    (void)state;
    sakhi_client *c = open_store("bad", 0);
    put_ident(c, 11, 0); /* a server without a port */
    sakhi_close(c);
    assert_null(open_store("bad", SAKHI_EFORMAT));
    c = open_store("good", 0);
    put_ident(c, 11, 7448);
    sakhi_close(c);
    c = open_store("good", 0);
    sakhi_server sv = SAKHI_SERVER_INIT;
    assert_int_equal(sakhi_server_get(c, 0, &sv), 0);
    assert_int_equal(sv.port, 7448);
    assert_int_equal(sv.primary, 0); /* not the one the identity names */
    sakhi_close(c);
}

SK_TEST_MAIN({
    SK_TMPDIR_TEST(test_server_list_from_an_older_identity, &g_tmp),
    SK_TMPDIR_TEST(test_server_list_damaged, &g_tmp),
})
