/*
 * lstore.c - the device's local store: one LMDB environment with four named databases.
 *
 *   meta     plain: "format" u32 BE, "salt" 16 bytes, "kdf2" Argon2id cost [1, t, m KiB,
 *            lanes, flags] u32 BE each (format 3; formats 1-2 had "kdf" [log2n, r, p] for
 *            scrypt, rewrapped at the next correct open), "pblob" (the key provider's wrapped
 *            secret, when flags has SK_KDF_PROVIDER), "pinfail" u64 BE (unused with a provider),
 *            "cursor", "nextop", "hlc", "offset", "lastsync", "epoch",
 *            "resync_epoch", "resync_seen", "resync_op", "given_epoch", "given_upto" u64 BE
 *            (sync.c: a restored server, PROTOCOL.md section 5.6),
 *            "shred/<slot hex>" (empty: a key slot to overwrite, see below);
 *            sealed: "dek" (the data key under the PIN-derived key, combined with the
 *            provider's secret when there is one: see wrap_dek), "kcv" (a known text under
 *            the data key), "ident" (device id, worker, role, district, server, private key,
 *            plaintext flag, server key pin, and since the server list every server of the
 *            centre as [host, port, pin]: an identity without it gets a list of its one server
 *            at open), "rkm" (the record-key master, under the data key)
 *   records  id16 -> slot u64 BE || record state sealed under the record's key (sk_rstate:
 *            server version, local view, sync state, pending ops, rejected change)
 *   outbox   op u64 BE -> id16 || slot u64 BE || sk_change sealed under the record's key
 *            (outbox.c)
 *   sent     op u64 BE -> the outbox value of an acknowledged change || ack ms u64 BE: kept,
 *            bounded, to give back to a restored server (outbox.c, "The sent journal")
 *   index    id16 -> 16 plain bytes: format, status, urgency, sync state, stub, pending, 0, 0,
 *            capture ms u64 BE. Nothing identifying: codes and a date only.
 * Sealed values use vault.c with AAD = database name + key.
 *
 * Crypto-shredding (docs/SECURITY.md, "Erasure"): LMDB keeps deleted values in free pages, so
 * deleting a record would not erase it. Each record has a key slot in keys.db beside data.mdb
 * (storage/sk_keyring.c: the key is HMAC(master, id || 32 random bytes of the slot), the master
 * being "rkm", so the PIN still protects everything). Erasing a record deletes its values and
 * marks its slot in meta in one transaction; once that commits the slot is overwritten with
 * zeros and synced, then the mark is removed (a crash in between is finished at the next open).
 * New slots of a write transaction are synced once, just before its LMDB commit, so no
 * committed value ever refers to a slot that is not durable.
 *
 * Owns the LMDB environment, the keyring and the unwrapped keys (in the handle). It must never
 * write plaintext of a record, change or identity to the file, never change anything but the
 * failure counter on a wrong PIN, and never commit a record without its index row (one
 * transaction).
 */
#include "sk_client.h"

#include "sk_auth.h"
#include "sk_err.h"
#include "sk_keyring.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KCV_TEXT "sakhi-kcv-1"
#define SHRED_PREFIX "shred/"

static int rstate_unpack(const uint8_t *p, size_t n, sk_rstate *rs);

static void be64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static MDB_val mval(const void *p, size_t n)
{
    MDB_val v;
    v.mv_data = (void *)p;
    v.mv_size = n;
    return v;
}

int sk_lstore_txn(sakhi_client *c, int rdonly, MDB_txn **out)
{
    int rc = mdb_txn_begin(c->env, NULL, rdonly ? MDB_RDONLY : 0, out);
    if (rc)
        return sk_client_fail(c, sk_client_err_from_mdb(rc), NULL, "store: %s", mdb_strerror(rc));
    if (!rdonly && c->kr) {
        /* A batch still open belongs to a write transaction that ended without
         * sk_lstore_commit or sk_lstore_abort (a fallback): its slots were never committed,
         * so they are zeroed and given back. */
        if (c->kr_batch)
            sk_keyring_batch_abort(c->kr);
        c->nnew = c->nshred = 0;
        sk_keyring_batch_begin(c->kr);
        c->kr_batch = 1;
    }
    return 0;
}

void sk_lstore_abort(sakhi_client *c, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    if (c->kr && c->kr_batch)
        sk_keyring_batch_abort(c->kr);
    c->kr_batch = 0;
    c->nnew = c->nshred = 0;
}

static void shred_mark(char *out, size_t cap, uint64_t slot)
{
    snprintf(out, cap, SHRED_PREFIX "%016llx", (unsigned long long)slot);
}

/* After the commit that erased records: overwrite their slots and sync, then drop the marks.
 * A failure leaves the marks, and the next open finishes the work. */
static void shred_committed(sakhi_client *c)
{
    size_t n = c->nshred;
    MDB_txn *txn = NULL;
    int ok = 1;
    c->nshred = 0;
    for (size_t i = 0; i < n; i++)
        if (sk_keyring_shred(c->kr, c->shreds[i]) != 0)
            ok = 0;
    if (!ok) {
        sk_client_log(c, SAKHI_LOG_ERROR, "event=shred_failed slots=%zu", n);
        return;
    }
    if (mdb_txn_begin(c->env, NULL, 0, &txn) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        char mk[32];
        shred_mark(mk, sizeof(mk), c->shreds[i]);
        MDB_val k = mval(mk, strlen(mk));
        (void)mdb_del(txn, c->dbi_meta, &k, NULL);
    }
    if (mdb_txn_commit(txn) != 0)
        sk_client_log(c, SAKHI_LOG_WARN, "event=shred_marks_kept slots=%zu", n);
}

int sk_lstore_commit(sakhi_client *c, MDB_txn *txn)
{
    int batch = c->kr && c->kr_batch;
    if (batch && sk_keyring_batch_commit(c->kr) != 0) {
        sk_lstore_abort(c, txn);
        return sk_client_fail(c, SAKHI_EIO, NULL, "store: cannot sync the key file");
    }
    if (batch) {
        c->kr_batch = 0;
        c->nnew = 0;
    }
    int rc = mdb_txn_commit(txn);
    if (rc) {
        c->nshred = 0; /* if the commit reached the disk, its marks are finished at open */
        return sk_client_fail(c, sk_client_err_from_mdb(rc), NULL, "store commit: %s",
                              mdb_strerror(rc));
    }
    if (batch && c->nshred)
        shred_committed(c);
    return 0;
}

int sk_lstore_end(sakhi_client *c, MDB_txn *txn, int rc)
{
    if (rc) {
        sk_lstore_abort(c, txn);
        return rc;
    }
    return sk_lstore_commit(c, txn);
}

static int put(sakhi_client *c, MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kn, const void *v,
               size_t vn)
{
    MDB_val key = mval(k, kn), val = mval(v, vn);
    int rc = mdb_put(txn, dbi, &key, &val, 0);
    if (rc)
        return sk_client_fail(c, sk_client_err_from_mdb(rc), NULL, "store: %s", mdb_strerror(rc));
    return 0;
}

/* 0, SAKHI_ENOTFOUND or an error; *v points into the map. */
static int get(sakhi_client *c, MDB_txn *txn, MDB_dbi dbi, const void *k, size_t kn, MDB_val *v)
{
    MDB_val key = mval(k, kn);
    int rc = mdb_get(txn, dbi, &key, v);
    if (rc == MDB_NOTFOUND)
        return SAKHI_ENOTFOUND;
    if (rc)
        return sk_client_fail(c, sk_client_err_from_mdb(rc), NULL, "store: %s", mdb_strerror(rc));
    return 0;
}

int sk_lstore_meta_get_u64(sakhi_client *c, MDB_txn *txn, const char *key, uint64_t *out)
{
    MDB_val v;
    int rc = get(c, txn, c->dbi_meta, key, strlen(key), &v);
    if (rc == SAKHI_ENOTFOUND) {
        *out = 0;
        return 0;
    }
    if (rc)
        return rc;
    if (v.mv_size != 8)
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: meta %s damaged", key);
    *out = sk_lstore_be64(v.mv_data);
    return 0;
}

int sk_lstore_meta_put_u64(sakhi_client *c, MDB_txn *txn, const char *key, uint64_t v)
{
    uint8_t b[8];
    be64_put(b, v);
    return put(c, txn, c->dbi_meta, key, strlen(key), b, 8);
}

int sk_lstore_meta_get_raw(sakhi_client *c, MDB_txn *txn, const char *key, MDB_val *out)
{
    return get(c, txn, c->dbi_meta, key, strlen(key), out);
}

int sk_lstore_meta_put_raw(sakhi_client *c, MDB_txn *txn, const char *key, const void *v, size_t n)
{
    return put(c, txn, c->dbi_meta, key, strlen(key), v, n);
}

/* Seal plaintext and store it under (dbi, key). */
static int put_sealed(sakhi_client *c, MDB_txn *txn, MDB_dbi dbi, const char *dbname,
                      const uint8_t key[SK_DEK_LEN], const void *k, size_t kn, const void *pt,
                      size_t n)
{
    uint8_t aad[96];
    sk_buf blob = SK_BUF_INIT_A(&c->alloc);
    size_t an = sk_vault_aad(aad, sizeof(aad), dbname, k, kn);
    int rc = sk_vault_seal(&blob, key, aad, an, pt, n);
    if (!rc)
        rc = put(c, txn, dbi, k, kn, blob.data, blob.len);
    sk_buf_free(&blob);
    return rc;
}

/* Load and open a sealed value; the plaintext is appended to out. */
static int get_sealed(sakhi_client *c, MDB_txn *txn, MDB_dbi dbi, const char *dbname,
                      const uint8_t key[SK_DEK_LEN], const void *k, size_t kn, sk_buf *out)
{
    uint8_t aad[96];
    MDB_val v;
    int rc = get(c, txn, dbi, k, kn, &v);
    if (rc)
        return rc;
    size_t an = sk_vault_aad(aad, sizeof(aad), dbname, k, kn);
    return sk_vault_open(out, key, aad, an, v.mv_data, v.mv_size);
}

/* ---- record keys ----------------------------------------------------------------------------- */

/* Shred slot once txn commits: marked in meta in txn, overwritten by sk_lstore_commit. */
static int shred_later(sakhi_client *c, MDB_txn *txn, uint64_t slot)
{
    char mk[32];
    for (size_t i = 0; i < c->nshred; i++)
        if (c->shreds[i] == slot)
            return 0;
    uint64_t *p = sk_client_grow(c, c->shreds, c->nshred, &c->capshred, sizeof(*p), 8);
    if (!p)
        return SAKHI_ENOMEM;
    c->shreds = p;
    shred_mark(mk, sizeof(mk), slot);
    int rc = put(c, txn, c->dbi_meta, mk, strlen(mk), "", 0);
    if (!rc)
        c->shreds[c->nshred++] = slot;
    return rc;
}

/* At open: finish the shredding of slots whose erasure committed (marks left by a crash or
 * a failed write). */
static int finish_shreds(sakhi_client *c, MDB_txn *txn)
{
    MDB_cursor *cur;
    MDB_val k = mval(SHRED_PREFIX, strlen(SHRED_PREFIX)), v;
    size_t pn = strlen(SHRED_PREFIX);
    int mrc = mdb_cursor_open(txn, c->dbi_meta, &cur);
    if (mrc)
        return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
    int rc = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char hex[17];
        if (k.mv_size != pn + 16 || memcmp(k.mv_data, SHRED_PREFIX, pn) != 0)
            break;
        memcpy(hex, (const char *)k.mv_data + pn, 16);
        hex[16] = '\0';
        uint64_t slot = strtoull(hex, NULL, 16);
        if (sk_keyring_shred(c->kr, slot) != 0) {
            rc = sk_client_fail(c, SAKHI_EIO, NULL, "store: cannot overwrite an erased key");
            break;
        }
        if ((mrc = mdb_cursor_del(cur, 0))) {
            rc = sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s",
                                mdb_strerror(mrc));
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc;
}

/* ---- identity -------------------------------------------------------------------------------- */

int sk_lstore_ident_put(sakhi_client *c, MDB_txn *txn)
{
    sk_buf b = SK_BUF_INIT_A(&c->alloc);
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, 11);
    msgpack_pack_uint64(&pk, c->enrolled ? 1 : 0);
    msgpack_pack_uint64(&pk, c->device);
    sk_pack_cstr(&pk, c->worker);
    msgpack_pack_uint32(&pk, c->role);
    msgpack_pack_uint32(&pk, c->district);
    sk_pack_cstr(&pk, c->host);
    msgpack_pack_uint16(&pk, c->port);
    sk_pack_bin(&pk, c->priv, sizeof(c->priv));
    /* appended for TLS (an older library reads the first 8 and ignores these) */
    msgpack_pack_uint64(&pk, c->plaintext ? 1 : 0);
    sk_pack_bin(&pk, c->pin, sizeof(c->pin));
    /* appended for failover: every server of the centre [[host, port, pin], ...] */
    msgpack_pack_array(&pk, (uint32_t)c->nservers);
    for (size_t i = 0; i < c->nservers; i++) {
        msgpack_pack_array(&pk, 3);
        sk_pack_cstr(&pk, c->servers[i].host);
        msgpack_pack_uint16(&pk, c->servers[i].port);
        sk_pack_bin(&pk, c->servers[i].pin, sizeof(c->servers[i].pin));
    }
    int rc = b.oom ? SAKHI_ENOMEM
                   : put_sealed(c, txn, c->dbi_meta, "meta", c->dek, "ident", 5, b.data, b.len);
    sk_vault_buf_wipe(&b);
    return rc;
}

static int ident_load(sakhi_client *c, MDB_txn *txn)
{
    sk_buf b = SK_BUF_INIT_A(&c->alloc);
    sk_mp m;
    uint32_t n;
    uint64_t enrolled, role, district, port;
    int rc = get_sealed(c, txn, c->dbi_meta, "meta", c->dek, "ident", 5, &b);
    if (rc == SAKHI_ENOTFOUND) {
        c->enrolled = 0;
        return 0;
    }
    if (rc)
        goto out;
    sk_mp_init(&m, b.data, b.len);
    if (sk_mp_read_array(&m, &n) || n < 8 || sk_mp_read_uint(&m, &enrolled) ||
        sk_mp_read_uint(&m, &c->device) || sk_mp_read_cstr(&m, c->worker, sizeof(c->worker)) ||
        sk_mp_read_uint(&m, &role) || sk_mp_read_uint(&m, &district) ||
        sk_mp_read_cstr(&m, c->host, sizeof(c->host)) || sk_mp_read_uint_max(&m, 65535, &port) ||
        sk_mp_read_bin_exact(&m, c->priv, sizeof(c->priv))) {
        rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: identity damaged");
        goto out;
    }
    /* Stores from 0.1 (8 elements) were enrolled in plaintext: keep them plaintext, which
     * reaches loopback only. */
    c->plaintext = 1;
    memset(c->pin, 0, sizeof(c->pin));
    if (n >= 10) {
        uint64_t plain;
        if (sk_mp_read_uint(&m, &plain) || sk_mp_read_bin_exact(&m, c->pin, sizeof(c->pin))) {
            rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: identity damaged");
            goto out;
        }
        c->plaintext = plain != 0;
    }
    c->nservers = 0;
    if (n >= 11) {
        uint32_t ns, ne;
        if (sk_mp_read_array(&m, &ns) || ns > SK_CLIENT_MAX_SERVERS) {
            rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: server list damaged");
            goto out;
        }
        for (uint32_t i = 0; i < ns; i++) {
            sk_server_addr *sa = &c->servers[i];
            uint64_t sport;
            if (sk_mp_read_array(&m, &ne) || ne < 3 ||
                sk_mp_read_cstr(&m, sa->host, sizeof(sa->host)) ||
                sk_mp_read_uint_max(&m, 65535, &sport) ||
                sk_mp_read_bin_exact(&m, sa->pin, sizeof(sa->pin)) || !sa->host[0] || !sport) {
                rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: server list damaged");
                goto out;
            }
            for (uint32_t j = 3; j < ne; j++) /* elements a later version may add */
                if (sk_mp_skip(&m)) {
                    rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: server list damaged");
                    goto out;
                }
            sa->port = (uint16_t)sport;
        }
        c->nservers = ns;
    }
    c->enrolled = enrolled != 0;
    c->role = (uint32_t)role;
    c->district = (uint32_t)district;
    c->port = (uint16_t)port;
    if (c->nservers == 0 && c->enrolled) {
        /* Enrolled before devices kept a list (10 elements): the one server it had is the
         * list; sk_lstore_open writes it back in the new form. */
        snprintf(c->servers[0].host, sizeof(c->servers[0].host), "%s", c->host);
        c->servers[0].port = c->port;
        memcpy(c->servers[0].pin, c->pin, sizeof(c->pin));
        c->nservers = 1;
        c->ident_old = 1;
    }
out:
    sk_vault_buf_wipe(&b);
    return rc;
}

int sk_lstore_counters_put(sakhi_client *c, MDB_txn *txn)
{
    int rc;
    if ((rc = sk_lstore_meta_put_u64(c, txn, "nextop", c->next_op)) ||
        (rc = sk_lstore_meta_put_u64(c, txn, "hlc", c->clock.last)) ||
        (rc = sk_lstore_meta_put_u64(c, txn, "offset", (uint64_t)c->clock.offset_ms)))
        return rc;
    return 0;
}

/* ---- open ------------------------------------------------------------------------------------ */

static int del_meta(sakhi_client *c, MDB_txn *txn, const char *key)
{
    MDB_val k = mval(key, strlen(key));
    int mrc = mdb_del(txn, c->dbi_meta, &k, NULL);
    if (mrc && mrc != MDB_NOTFOUND)
        return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
    return 0;
}

/* The key that wraps the data key: the Argon2id PIN key itself, or with a key provider
 * HMAC(PIN key, "sakhi-kek-v3" || the provider's secret), so that neither half alone opens it. */
static int derive_kek(uint8_t kek[SK_DEK_LEN], const uint8_t pinkey[SK_DEK_LEN], const uint8_t *hw)
{
    if (!hw) {
        memcpy(kek, pinkey, SK_DEK_LEN);
        return 0;
    }
    return sk_vault_hmac(kek, pinkey, "sakhi-kek-v3", hw, 32);
}

/* Wrap c->dek for pin in txn with a fresh salt and the Argon2id cost chosen for cfg (measured
 * here), through cfg's key provider when there is one: writes "salt", "kdf2", "pblob" (or
 * removes it), "dek", resets "pinfail" and removes the legacy "kdf". */
static int wrap_dek(sakhi_client *c, MDB_txn *txn, const char *pin, const sk_kdf_cfg *cfg)
{
    uint8_t salt[SK_SALT_LEN], pinkey[SK_DEK_LEN], kek[SK_DEK_LEN], hw[32], tag[32];
    uint8_t packed[SK_KDF_PARAMS_LEN], blob[SAKHI_KEY_BLOB_MAX];
    size_t bloblen = sizeof(blob);
    sk_kdf_params params;
    const sakhi_key_provider *kp = cfg->provider;
    int rc;
    if ((rc = sk_vault_calibrate(&params, cfg)))
        return sk_client_fail(c, rc, NULL, "could not measure the key derivation cost");
    if (sk_random(salt, sizeof(salt)) || (kp && sk_random(hw, sizeof(hw))))
        return sk_client_fail(c, SAKHI_EIO, NULL, "random source failed");
    if ((rc = sk_vault_argon2id(pinkey, pin, strlen(pin), salt, &params))) {
        rc = sk_client_fail(c, rc, NULL, "key derivation failed");
        goto out;
    }
    if (kp) {
        if ((rc = sk_vault_hmac(tag, pinkey, "sakhi-pin-tag-v1", NULL, 0)))
            goto out;
        int prc = kp->wrap(blob, &bloblen, hw, sizeof(hw), tag, sizeof(tag), kp->payload);
        if (prc || bloblen == 0 || bloblen > sizeof(blob)) {
            rc = sk_client_fail(c, SAKHI_EKEYPROVIDER, NULL,
                                "the key provider could not wrap the store key (%d)", prc);
            goto out;
        }
    }
    if ((rc = derive_kek(kek, pinkey, kp ? hw : NULL)))
        goto out;
    sk_vault_params_pack(packed, &params);
    if ((rc = put(c, txn, c->dbi_meta, "salt", 4, salt, sizeof(salt))) ||
        (rc = put(c, txn, c->dbi_meta, "kdf2", 4, packed, sizeof(packed))) ||
        (rc = kp ? put(c, txn, c->dbi_meta, "pblob", 5, blob, bloblen)
                 : del_meta(c, txn, "pblob")) ||
        (rc = put_sealed(c, txn, c->dbi_meta, "meta", kek, "dek", 3, c->dek, sizeof(c->dek))) ||
        (rc = del_meta(c, txn, "kdf")) || (rc = sk_lstore_meta_put_u64(c, txn, "pinfail", 0)))
        goto out;
    sk_client_log(c, SAKHI_LOG_INFO,
                  "event=store_key_wrapped kdf=argon2id t=%u m_kib=%u provider=%d",
                  (unsigned)params.t_cost, (unsigned)params.m_kib, kp ? 1 : 0);
out:
    OPENSSL_cleanse(pinkey, sizeof(pinkey));
    OPENSSL_cleanse(kek, sizeof(kek));
    OPENSSL_cleanse(hw, sizeof(hw));
    OPENSSL_cleanse(tag, sizeof(tag));
    return rc;
}

static int create_store(sakhi_client *c, MDB_txn *txn, const char *pin, const sk_kdf_cfg *cfg)
{
    const char *why;
    int rc;
    if (sk_pin_check(pin, &why))
        return sk_client_fail(c, SAKHI_EWEAKPIN, NULL, "%s", why);
    if (sk_random(c->dek, sizeof(c->dek)) || sk_random(c->rkm, sizeof(c->rkm)))
        return sk_client_fail(c, SAKHI_EIO, NULL, "random source failed");
    uint8_t fmt[4] = {0, 0, 0, SK_LSTORE_FORMAT};
    if ((rc = wrap_dek(c, txn, pin, cfg)) ||
        (rc = put_sealed(c, txn, c->dbi_meta, "meta", c->dek, "kcv", 3, KCV_TEXT,
                         strlen(KCV_TEXT))) ||
        (rc = put_sealed(c, txn, c->dbi_meta, "meta", c->dek, "rkm", 3, c->rkm, sizeof(c->rkm))) ||
        (rc = sk_lstore_meta_put_u64(c, txn, "nextop", 1)) ||
        (rc = put(c, txn, c->dbi_meta, "format", 6, fmt, 4)))
        return rc;
    c->next_op = 1;
    c->enrolled = 0;
    return 0;
}

/* The key-encryption key of a store wrapped with Argon2id (meta "kdf2"), through the key
 * provider when the store has one. A wrong PIN there is the provider's to count. */
static int unwrap_argon2(sakhi_client *c, MDB_txn *txn, const char *pin, const uint8_t *salt,
                         const MDB_val *kdf2, const sk_kdf_cfg *cfg, uint8_t kek[SK_DEK_LEN])
{
    sk_kdf_params params;
    uint8_t pinkey[SK_DEK_LEN], tag[32], hw[64];
    size_t hwlen = sizeof(hw);
    const sakhi_key_provider *kp = cfg->provider;
    MDB_val v;
    int rc;
    if (sk_vault_params_unpack(&params, kdf2->mv_data, kdf2->mv_size))
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: kdf parameters damaged");
    if ((params.flags & SK_KDF_PROVIDER) && !kp)
        return sk_client_fail(c, SAKHI_EKEYPROVIDER, NULL,
                              "this store opens only with the key provider it was made with");
    if ((rc = sk_vault_argon2id(pinkey, pin, strlen(pin), salt, &params)))
        return sk_client_fail(c, rc, NULL, "key derivation failed");
    if (!(params.flags & SK_KDF_PROVIDER)) {
        rc = derive_kek(kek, pinkey, NULL);
        goto out;
    }
    if ((rc = get(c, txn, c->dbi_meta, "pblob", 5, &v)) || v.mv_size == 0 ||
        v.mv_size > SAKHI_KEY_BLOB_MAX) {
        rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: wrapped provider key missing");
        goto out;
    }
    if ((rc = sk_vault_hmac(tag, pinkey, "sakhi-pin-tag-v1", NULL, 0)))
        goto out;
    rc = kp->unwrap(hw, &hwlen, v.mv_data, v.mv_size, tag, sizeof(tag), kp->payload);
    if (rc == SAKHI_EPIN) {
        rc = sk_client_fail(c, SAKHI_EPIN, NULL, "wrong PIN (counted by the key provider)");
    } else if (rc == SAKHI_ELOCKED) {
        c->provider_locked = 1;
        rc = sk_client_fail(c, SAKHI_ELOCKED, NULL,
                            "the key provider has destroyed the store key after too many wrong "
                            "PINs; the store is wiped");
    } else if (rc) {
        rc = sk_client_fail(c, SAKHI_EKEYPROVIDER, NULL, "the key provider failed (%d)", rc);
    } else if (hwlen != 32) {
        rc = sk_client_fail(c, SAKHI_EKEYPROVIDER, NULL, "the key provider returned %zu bytes",
                            hwlen);
    } else {
        rc = derive_kek(kek, pinkey, hw);
    }
out:
    OPENSSL_cleanse(pinkey, sizeof(pinkey));
    OPENSSL_cleanse(tag, sizeof(tag));
    OPENSSL_cleanse(hw, sizeof(hw));
    return rc;
}

/* Unlock an existing store with pin. On a wrong PIN the failure counter is raised in its own
 * committed transaction (the only write a wrong PIN makes); with a key provider the provider
 * counts instead. *rewrap_out is set when the data key was rewrapped (a legacy scrypt store, or
 * a provider given to a store that had none): the caller compacts the file afterwards so the old
 * wrapped key does not stay in a free page. */
static int unlock_store(sakhi_client *c, MDB_txn **txnp, const char *pin, const sk_kdf_cfg *cfg,
                        uint32_t *fmt_out, int *rewrap_out)
{
    MDB_txn *txn = *txnp;
    MDB_val v;
    uint8_t salt[SK_SALT_LEN], kek[SK_DEK_LEN];
    uint64_t fails = 0;
    sk_buf dek = SK_BUF_INIT_A(&c->alloc), kcv = SK_BUF_INIT_A(&c->alloc);
    int rc, legacy = 0, with_provider = 0;

    if ((rc = get(c, txn, c->dbi_meta, "format", 6, &v)))
        return rc == SAKHI_ENOTFOUND ? sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: no format")
                                     : rc;
    if (v.mv_size != 4)
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: format damaged");
    uint32_t fmt = ((uint32_t)((uint8_t *)v.mv_data)[2] << 8) | ((uint8_t *)v.mv_data)[3];
    *fmt_out = fmt;
    if (fmt > SK_LSTORE_FORMAT)
        return sk_client_fail(c, SAKHI_EFORMAT, NULL,
                              "store: written by a newer library (format %u)", (unsigned)fmt);
    if ((rc = get(c, txn, c->dbi_meta, "salt", 4, &v)) || v.mv_size != SK_SALT_LEN)
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: salt damaged");
    memcpy(salt, v.mv_data, SK_SALT_LEN);
    rc = get(c, txn, c->dbi_meta, "kdf2", 4, &v);
    if (rc && rc != SAKHI_ENOTFOUND)
        return rc;
    legacy = rc == SAKHI_ENOTFOUND;
    if (!legacy && v.mv_size == SK_KDF_PARAMS_LEN)
        with_provider = (((const uint8_t *)v.mv_data)[19] & SK_KDF_PROVIDER) != 0;
    if (!with_provider) {
        /* Without a provider the counter lives here (a copy of the store resets it). */
        if ((rc = sk_lstore_meta_get_u64(c, txn, "pinfail", &fails)))
            return rc;
        if (fails >= c->max_pin_attempts)
            return sk_client_fail(c, SAKHI_ELOCKED, NULL, "store locked after %llu wrong PINs",
                                  (unsigned long long)fails);
    }
    if (!legacy) {
        MDB_val kdf2 = v;
        if ((rc = unwrap_argon2(c, txn, pin, salt, &kdf2, cfg, kek)))
            return rc;
    } else {
        if ((rc = get(c, txn, c->dbi_meta, "kdf", 3, &v)) || v.mv_size != 12)
            return sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: kdf parameters damaged");
        uint32_t params[3];
        for (int i = 0; i < 3; i++) {
            const uint8_t *p = (const uint8_t *)v.mv_data + 4 * i;
            params[i] = sk_be32_get(p);
        }
        if (params[0] < 1 || params[0] > 22 || params[1] < 1 || params[1] > 64 || params[2] < 1 ||
            params[2] > 16)
            return sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: kdf parameters out of range");
        if ((rc = sk_vault_kdf(kek, pin, strlen(pin), salt, params[0], params[1], params[2])))
            return sk_client_fail(c, rc, NULL, "key derivation failed");
    }
    rc = get_sealed(c, txn, c->dbi_meta, "meta", kek, "dek", 3, &dek);
    OPENSSL_cleanse(kek, sizeof(kek));
    if (rc == SAKHI_EFORMAT && with_provider) {
        rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: data key damaged");
        goto out;
    }
    if (rc == SAKHI_EFORMAT) {
        /* Wrong PIN (the tag does not verify). Count it, durably, and change nothing else. */
        mdb_txn_abort(txn);
        *txnp = NULL;
        if ((rc = sk_lstore_txn(c, 0, &txn)))
            goto out;
        if ((rc = sk_lstore_meta_get_u64(c, txn, "pinfail", &fails)) ||
            (rc = sk_lstore_meta_put_u64(c, txn, "pinfail", fails + 1))) {
            sk_lstore_abort(c, txn);
            goto out;
        }
        if ((rc = sk_lstore_commit(c, txn)))
            goto out;
        if (fails + 1 >= c->max_pin_attempts)
            rc = sk_client_fail(c, SAKHI_ELOCKED, NULL, "wrong PIN; the store is now locked");
        else
            rc = sk_client_fail(c, SAKHI_EPIN, NULL, "wrong PIN (%llu of %u attempts)",
                                (unsigned long long)(fails + 1), c->max_pin_attempts);
        goto out;
    }
    if (rc)
        goto out;
    if (dek.len != SK_DEK_LEN) {
        rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: data key damaged");
        goto out;
    }
    memcpy(c->dek, dek.data, SK_DEK_LEN);
    if ((rc = get_sealed(c, txn, c->dbi_meta, "meta", c->dek, "kcv", 3, &kcv)) == SAKHI_ENOMEM)
        goto out; /* short of memory is not a damaged store */
    if (rc || kcv.len != strlen(KCV_TEXT) || memcmp(kcv.data, KCV_TEXT, kcv.len) != 0) {
        rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: key check failed");
        goto out;
    }
    if (fails && (rc = sk_lstore_meta_put_u64(c, txn, "pinfail", 0)))
        goto out;
    if (legacy || (cfg->provider && !with_provider)) {
        /* scrypt (formats 1-2) or no provider yet: rewrap now that the PIN is known good. */
        if ((rc = wrap_dek(c, txn, pin, cfg)))
            goto out;
        *rewrap_out = 1;
        sk_client_log(c, SAKHI_LOG_INFO, "event=store_rewrapped from=%s",
                      legacy ? "scrypt" : "argon2id");
    }
    if (fmt >= 2) {
        sk_buf rkm = SK_BUF_INIT_A(&c->alloc);
        rc = get_sealed(c, txn, c->dbi_meta, "meta", c->dek, "rkm", 3, &rkm);
        if (!rc && rkm.len == SK_RKM_LEN)
            memcpy(c->rkm, rkm.data, SK_RKM_LEN);
        else if (rc != SAKHI_ENOMEM) /* short of memory is not a damaged store */
            rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: record-key master damaged");
        sk_vault_buf_wipe(&rkm);
        if (rc)
            goto out;
    }
    uint64_t offset;
    if ((rc = sk_lstore_meta_get_u64(c, txn, "nextop", &c->next_op)) ||
        (rc = sk_lstore_meta_get_u64(c, txn, "hlc", &c->clock.last)) ||
        (rc = sk_lstore_meta_get_u64(c, txn, "offset", &offset)) || (rc = ident_load(c, txn)))
        goto out;
    c->clock.offset_ms = (int64_t)offset;
    if (c->next_op == 0)
        c->next_op = 1;
out:
    sk_vault_buf_wipe(&dek);
    sk_buf_free(&kcv);
    return rc;
}

/* The keys of every entry of dbi (each klen bytes) into a new array (free it). */
static int collect_keys(sakhi_client *c, MDB_txn *txn, MDB_dbi dbi, size_t klen, uint8_t **out,
                        size_t *n_out)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t *arr = NULL;
    size_t n = 0, cap = 0;
    int rc = 0, mrc = mdb_cursor_open(txn, dbi, &cur);
    if (mrc)
        return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != klen) {
            rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "store: key damaged");
            break;
        }
        uint8_t *p = sk_client_grow(c, arr, n, &cap, klen, 64);
        if (!p) {
            rc = SAKHI_ENOMEM;
            break;
        }
        arr = p;
        memcpy(arr + klen * n++, k.mv_data, klen);
    }
    mdb_cursor_close(cur);
    if (!rc && mrc != MDB_NOTFOUND)
        rc = sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
    if (rc) {
        sk_afree(&c->alloc, arr);
        return rc;
    }
    *out = arr;
    *n_out = n;
    return 0;
}

/* Format 1 -> 2, in the open transaction: every record state and outbox change is re-sealed
 * under a new per-record key (nothing is dropped: a value that does not open fails the open).
 * The format-1 values stay in LMDB's free pages under the data key until the pages are reused;
 * records erased from now on are shredded (docs/SECURITY.md, "Erasure"). */
static int migrate_v1(sakhi_client *c, MDB_txn *txn)
{
    uint8_t *ids = NULL, *ops = NULL;
    size_t nids = 0, nops = 0;
    uint8_t fmt[4] = {0, 0, 0, SK_LSTORE_FORMAT};
    int rc;
    if ((rc = collect_keys(c, txn, c->dbi_records, 16, &ids, &nids)) ||
        (rc = collect_keys(c, txn, c->dbi_outbox, 8, &ops, &nops)) ||
        (rc = put_sealed(c, txn, c->dbi_meta, "meta", c->dek, "rkm", 3, c->rkm, sizeof(c->rkm))))
        goto out;
    for (size_t i = 0; i < nids && !rc; i++) {
        sk_buf pt = SK_BUF_INIT_A(&c->alloc);
        sk_rstate rs;
        MDB_val k = mval(ids + 16 * i, 16);
        sk_rstate_init(&rs, &c->alloc);
        rc = get_sealed(c, txn, c->dbi_records, "records", c->dek, ids + 16 * i, 16, &pt);
        if (!rc)
            rc = rstate_unpack(pt.data, pt.len, &rs);
        sk_vault_buf_wipe(&pt);
        if (rc) {
            rc = sk_client_fail(c, rc, NULL, "store: a record could not be migrated");
        } else {
            /* the state under its own id (an old state may hold it in base or view only) */
            memcpy(rs.view.id.b, ids + 16 * i, 16);
            int mrc = mdb_del(txn, c->dbi_records, &k, NULL);
            rc = mrc ? sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s",
                                      mdb_strerror(mrc))
                     : sk_lstore_rstate_put(c, txn, &rs);
        }
        sk_rstate_free(&rs);
    }
    for (size_t i = 0; i < nops && !rc; i++) {
        sk_buf pt = SK_BUF_INIT_A(&c->alloc);
        sk_change ch;
        sk_mp m;
        MDB_val v;
        uint8_t aad[32];
        sk_change_init_alloc(&ch, &c->alloc);
        if ((rc = get(c, txn, c->dbi_outbox, ops + 8 * i, 8, &v)))
            break;
        size_t an = sk_vault_aad(aad, sizeof(aad), "outbox", ops + 8 * i, 8);
        rc = sk_vault_open(&pt, c->dek, aad, an, v.mv_data, v.mv_size);
        if (!rc) {
            sk_mp_init(&m, pt.data, pt.len);
            rc = sk_change_unpack_alloc(&m, &ch, &c->alloc) || ch.op != sk_lstore_be64(ops + 8 * i)
                     ? SAKHI_EFORMAT
                     : 0;
        }
        sk_vault_buf_wipe(&pt);
        if (rc)
            rc = sk_client_fail(c, rc, NULL, "store: an unsent change could not be migrated");
        else
            rc = sk_outbox_put(c, txn, &ch);
        sk_change_free(&ch);
    }
    if (!rc)
        rc = put(c, txn, c->dbi_meta, "format", 6, fmt, 4);
    if (!rc)
        sk_client_log(c, SAKHI_LOG_INFO,
                      "event=store_migrated from=1 to=%d records=%zu changes=%zu", SK_LSTORE_FORMAT,
                      nids, nops);
out:
    sk_afree(&c->alloc, ids);
    sk_afree(&c->alloc, ops);
    return rc;
}

static void keys_close(sakhi_client *c)
{
    sk_keyring_close(c->kr); /* gives back the slots of a batch still open */
    c->kr = NULL;
    c->kr_batch = 0;
    sk_afree(&c->alloc, c->newslots);
    sk_afree(&c->alloc, c->shreds);
    c->newslots = NULL;
    c->shreds = NULL;
    c->nnew = c->capnew = c->nshred = c->capshred = 0;
    OPENSSL_cleanse(c->rkm, sizeof(c->rkm));
}

/* Open the environment at path and its four databases (committed at once: an aborted
 * transaction would close the handles, as on the wrong-PIN path). */
static int env_open(sakhi_client *c, const char *path, uint64_t map_size)
{
    MDB_txn *txn = NULL;
    int mrc;
    if ((mrc = mdb_env_create(&c->env))) {
        c->env = NULL;
        return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
    }
    if ((mrc = mdb_env_set_maxdbs(c->env, 8)) || (mrc = mdb_env_set_mapsize(c->env, map_size)) ||
        (mrc = mdb_env_open(c->env, path, MDB_NOTLS, 0600)))
        return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store open: %s",
                              mdb_strerror(mrc));
    if ((mrc = mdb_txn_begin(c->env, NULL, 0, &txn)) ||
        (mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &c->dbi_meta)) ||
        (mrc = mdb_dbi_open(txn, "records", MDB_CREATE, &c->dbi_records)) ||
        (mrc = mdb_dbi_open(txn, "outbox", MDB_CREATE, &c->dbi_outbox)) ||
        (mrc = mdb_dbi_open(txn, "sent", MDB_CREATE, &c->dbi_sent)) ||
        (mrc = mdb_dbi_open(txn, "index", MDB_CREATE, &c->dbi_index))) {
        if (txn)
            mdb_txn_abort(txn);
        return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
    }
    if ((mrc = mdb_txn_commit(txn)))
        return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
    return 0;
}

static int zero_fd(int fd)
{
    static const uint8_t zero[65536];
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    for (off_t off = 0; off < st.st_size;) {
        size_t n =
            st.st_size - off > (off_t)sizeof(zero) ? sizeof(zero) : (size_t)(st.st_size - off);
        ssize_t w = pwrite(fd, zero, n, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += w;
    }
    return fsync(fd);
}

/* After a migration: the format-1 values sit in free pages under the data key, which the PIN
 * still opens. Write a compacted copy (live pages only), sync it, put it in place with a
 * rename (a crash leaves either whole file), then overwrite the old file's blocks with zeros
 * and reopen. */
static int compact(sakhi_client *c, const char *path, const char *cpath, uint64_t map_size)
{
    char dpath[4096];
    snprintf(dpath, sizeof(dpath), "%s/data.mdb", path);
    int fd = open(cpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || mdb_env_copyfd2(c->env, fd, MDB_CP_COMPACT) != 0 || fsync(fd) != 0) {
        /* The migrated store stands; only the old pages were not cleared. */
        if (fd >= 0)
            close(fd);
        (void)unlink(cpath);
        sk_client_log(c, SAKHI_LOG_WARN, "event=migrate_compact_failed");
        return 0;
    }
    close(fd);
    mdb_env_close(c->env);
    c->env = NULL;
    int old = open(dpath, O_WRONLY | O_CLOEXEC);
    if (rename(cpath, dpath) != 0) {
        sk_client_log(c, SAKHI_LOG_WARN, "event=migrate_compact_failed");
        (void)unlink(cpath);
    } else {
        int dfd = open(path, O_RDONLY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        if (old >= 0 && zero_fd(old) != 0)
            sk_client_log(c, SAKHI_LOG_WARN, "event=migrate_old_file_not_zeroed");
    }
    if (old >= 0)
        close(old);
    return env_open(c, path, map_size);
}

static void shred_file(const char *dir, const char *name);

int sk_lstore_open(sakhi_client *c, const char *path, const char *pin, uint64_t map_size,
                   const sk_kdf_cfg *kdf)
{
    MDB_txn *txn = NULL;
    MDB_val v;
    uint32_t fmt = SK_LSTORE_FORMAT;
    char kpath[4096], cpath[4096], err[300];
    int rc, rewrapped = 0;

    if (snprintf(kpath, sizeof(kpath), "%s/keys.db", path) >= (int)sizeof(kpath))
        return sk_client_fail(c, SAKHI_EINVAL, NULL, "store path too long");
    /* A compacted copy left by a migration that did not finish is stale: the live file is
     * whole (the copy replaces it only once complete). */
    if (snprintf(cpath, sizeof(cpath), "%s/data.mdb.compact", path) >= (int)sizeof(cpath))
        return sk_client_fail(c, SAKHI_EINVAL, NULL, "store path too long");
    (void)unlink(cpath);
    if ((rc = env_open(c, path, map_size)))
        goto fail;
    if ((rc = sk_lstore_txn(c, 0, &txn)))
        goto fail;
    rc = get(c, txn, c->dbi_meta, "format", 6, &v);
    if (rc == SAKHI_ENOTFOUND)
        rc = create_store(c, txn, pin, kdf);
    else if (rc == 0)
        rc = unlock_store(c, &txn, pin, kdf, &fmt, &rewrapped);
    if (rc)
        goto fail;
    if (fmt < 2 && sk_random(c->rkm, sizeof(c->rkm))) {
        rc = sk_client_fail(c, SAKHI_EIO, NULL, "random source failed");
        goto fail;
    }
    /* The key file, then the batch of this (write) transaction: the migration makes slots. */
    int krc = sk_keyring_open_master_alloc(&c->kr, kpath, c->rkm, &c->alloc, err, sizeof(err));
    if (krc) {
        c->kr = NULL;
        rc = sk_client_fail(c, krc == -SK_E_NOMEM ? SAKHI_ENOMEM : SAKHI_EIO, NULL, "store: %s",
                            err);
        goto fail;
    }
    sk_keyring_batch_begin(c->kr);
    c->kr_batch = 1;
    uint8_t fmtnow[4] = {0, 0, 0, SK_LSTORE_FORMAT};
    if ((fmt < 2 && (rc = migrate_v1(c, txn))) || (rc = finish_shreds(c, txn)) ||
        (c->ident_old && (rc = sk_lstore_ident_put(c, txn))) ||
        (fmt < SK_LSTORE_FORMAT && (rc = put(c, txn, c->dbi_meta, "format", 6, fmtnow, 4))))
        goto fail;
    rc = sk_lstore_commit(c, txn);
    txn = NULL;
    if (!rc && c->ident_old)
        sk_client_log(c, SAKHI_LOG_INFO, "event=store_server_list servers=%zu", c->nservers);
    c->ident_old = 0;
    /* A migration or a rewrap leaves values under the old keys in free pages: compact. */
    if (rc || ((fmt < 2 || rewrapped) && (rc = compact(c, path, cpath, map_size))))
        goto fail;
    return 0;
fail:
    if (txn)
        mdb_txn_abort(txn);
    keys_close(c);
    OPENSSL_cleanse(c->dek, sizeof(c->dek));
    mdb_env_close(c->env);
    c->env = NULL;
    if (c->provider_locked) {
        /* The provider destroyed its key: what is left cannot be opened; remove it. */
        shred_file(path, "data.mdb");
        shred_file(path, "lock.mdb");
        shred_file(path, "keys.db");
    }
    return rc;
}

void sk_lstore_close(sakhi_client *c)
{
    keys_close(c);
    if (c->env)
        mdb_env_close(c->env);
    c->env = NULL;
}

/* Overwrite a file with zeros, sync it and unlink it. */
static void shred_file(const char *dir, const char *name)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) == 0) {
            static const uint8_t zero[65536];
            off_t left = st.st_size;
            while (left > 0) {
                size_t n = left > (off_t)sizeof(zero) ? sizeof(zero) : (size_t)left;
                ssize_t w = write(fd, zero, n);
                if (w <= 0)
                    break;
                left -= w;
            }
            (void)fsync(fd);
        }
        close(fd);
    }
    (void)unlink(path);
}

int sk_lstore_wipe(sakhi_client *c)
{
    MDB_txn *txn = NULL;
    int rc = 0;
    if (c->env && mdb_txn_begin(c->env, NULL, 0, &txn) == 0) {
        mdb_drop(txn, c->dbi_records, 0);
        mdb_drop(txn, c->dbi_outbox, 0);
        mdb_drop(txn, c->dbi_sent, 0);
        mdb_drop(txn, c->dbi_index, 0);
        mdb_drop(txn, c->dbi_meta, 0);
        if (mdb_txn_commit(txn))
            rc = SAKHI_EIO;
    }
    sk_lstore_close(c);
    /* Freed LMDB pages keep old bytes: overwrite the whole file, then remove it. */
    shred_file(c->path, "data.mdb");
    shred_file(c->path, "lock.mdb");
    shred_file(c->path, "keys.db");
    OPENSSL_cleanse(c->dek, sizeof(c->dek));
    OPENSSL_cleanse(c->priv, sizeof(c->priv));
    c->enrolled = 0;
    c->wiped = 1;
    return rc;
}

/* ---- record state ---------------------------------------------------------------------------- */

void sk_rstate_init(sk_rstate *rs, const sk_allocator *a)
{
    memset(rs, 0, sizeof(*rs));
    rs->alloc = a;
    sk_record_init_alloc(&rs->base, a);
    sk_record_init_alloc(&rs->view, a);
    sk_change_init_alloc(&rs->rejected, a);
}

int sk_rstate_pending_add(sk_rstate *rs, uint64_t op)
{
    uint64_t *p =
        sk_areallocarray(rs->alloc, rs->pending, (size_t)rs->npending + 1, sizeof(uint64_t));
    if (!p)
        return SAKHI_ENOMEM;
    rs->pending = p;
    uint32_t at = rs->npending;
    while (at > 0 && rs->pending[at - 1] > op)
        at--;
    memmove(&rs->pending[at + 1], &rs->pending[at], (rs->npending - at) * sizeof(uint64_t));
    rs->pending[at] = op;
    rs->npending++;
    return 0;
}

void sk_rstate_clear_rejected(sk_rstate *rs)
{
    sk_change_free(&rs->rejected);
    sk_change_init_alloc(&rs->rejected, rs->alloc);
    rs->has_rejected = 0;
    rs->rej_code = rs->rej_field = 0;
    rs->rej_msg[0] = '\0';
}

void sk_rstate_free(sk_rstate *rs)
{
    sk_record_free(&rs->base);
    sk_record_free(&rs->view);
    sk_change_free(&rs->rejected);
    sk_afree(rs->alloc, rs->pending);
    rs->pending = NULL;
    rs->npending = 0;
}

static int rstate_pack(sk_buf *b, const sk_rstate *rs)
{
    msgpack_packer pk;
    int rc;
    sk_packer_init(&pk, b);
    msgpack_pack_array(&pk, 9);
    msgpack_pack_uint32(&pk, 1);
    if ((rc = sk_record_pack(&pk, &rs->base)) || (rc = sk_record_pack(&pk, &rs->view)))
        return sk_client_err_from_sk(rc);
    msgpack_pack_uint32(&pk, rs->state);
    msgpack_pack_uint64(&pk, rs->acked_ver);
    msgpack_pack_uint32(&pk, (uint32_t)rs->merged);
    msgpack_pack_uint32(&pk, (uint32_t)rs->stub);
    msgpack_pack_array(&pk, rs->npending);
    for (uint32_t i = 0; i < rs->npending; i++)
        msgpack_pack_uint64(&pk, rs->pending[i]);
    if (rs->has_rejected) {
        msgpack_pack_array(&pk, 4);
        msgpack_pack_uint32(&pk, rs->rej_code);
        msgpack_pack_uint32(&pk, rs->rej_field);
        sk_pack_cstr(&pk, rs->rej_msg);
        if ((rc = sk_change_pack(&pk, &rs->rejected)))
            return sk_client_err_from_sk(rc);
    } else {
        msgpack_pack_nil(&pk);
    }
    return b->oom ? SAKHI_ENOMEM : 0;
}

static int rstate_unpack(const uint8_t *p, size_t n, sk_rstate *rs)
{
    sk_mp m;
    uint32_t cnt, fmt;
    uint64_t v, state, merged, stub;
    int rc;
    sk_mp_init(&m, p, n);
    if (sk_mp_read_array(&m, &cnt) || cnt < 9 || sk_mp_read_uint(&m, &v))
        return SAKHI_EFORMAT;
    fmt = (uint32_t)v;
    if (fmt != 1)
        return SAKHI_EFORMAT;
    sk_record_free(&rs->base);
    sk_record_free(&rs->view);
    if ((rc = sk_record_unpack_alloc(&m, &rs->base, rs->alloc)))
        return rc == -SK_E_NOMEM ? SAKHI_ENOMEM : SAKHI_EFORMAT;
    if ((rc = sk_record_unpack_alloc(&m, &rs->view, rs->alloc)))
        return rc == -SK_E_NOMEM ? SAKHI_ENOMEM : SAKHI_EFORMAT;
    if (sk_mp_read_uint(&m, &state) || sk_mp_read_uint(&m, &rs->acked_ver) ||
        sk_mp_read_uint(&m, &merged) || sk_mp_read_uint(&m, &stub) || sk_mp_read_array(&m, &cnt))
        return SAKHI_EFORMAT;
    rs->state = (uint32_t)state;
    rs->merged = merged != 0;
    rs->stub = stub != 0;
    if (cnt) {
        rs->pending = sk_acalloc(rs->alloc, cnt, sizeof(uint64_t));
        if (!rs->pending)
            return SAKHI_ENOMEM;
        for (uint32_t i = 0; i < cnt; i++)
            if (sk_mp_read_uint(&m, &rs->pending[i]))
                return SAKHI_EFORMAT;
        rs->npending = cnt;
    }
    if (sk_mp_try_nil(&m) == 1) {
        rs->has_rejected = 0;
        return 0;
    }
    uint64_t code, field;
    const char *msg;
    uint32_t msglen;
    if (sk_mp_read_array(&m, &cnt) || cnt < 4 || sk_mp_read_uint(&m, &code) ||
        sk_mp_read_uint(&m, &field) || sk_mp_read_str(&m, &msg, &msglen) || msglen > SK_MAX_MESSAGE)
        return SAKHI_EFORMAT;
    sk_change_free(&rs->rejected);
    if ((rc = sk_change_unpack_alloc(&m, &rs->rejected, rs->alloc)))
        return rc == -SK_E_NOMEM ? SAKHI_ENOMEM : SAKHI_EFORMAT;
    rs->has_rejected = 1;
    rs->rej_code = (uint32_t)code;
    rs->rej_field = (uint32_t)field;
    memcpy(rs->rej_msg, msg, msglen);
    rs->rej_msg[msglen] = '\0';
    return 0;
}

/* Open a records value (slot || sealed state) of id with the key from kr. */
static int open_record_value(sakhi_client *c, sk_keyring *kr, const sk_id *id, const uint8_t *val,
                             size_t n, sk_buf *out)
{
    uint8_t aad[96], key[SK_DEK_LEN];
    if (n < 8)
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "record state damaged");
    int krc = sk_keyring_get(kr, sk_lstore_be64(val), id, key);
    if (krc)
        return sk_lstore_key_fail(c, krc);
    size_t an = sk_vault_aad(aad, sizeof(aad), "records", id->b, 16);
    int rc = sk_vault_open(out, key, aad, an, val + 8, n - 8);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc == SAKHI_EFORMAT)
        rc = sk_client_fail(c, SAKHI_EFORMAT, NULL, "record failed authentication");
    return rc;
}

int sk_lstore_rstate_get(sakhi_client *c, MDB_txn *txn, const sk_id *id, sk_rstate *rs)
{
    sk_buf pt = SK_BUF_INIT_A(&c->alloc);
    MDB_val v;
    int rc = get(c, txn, c->dbi_records, id->b, 16, &v);
    if (!rc && !c->kr)
        rc = sk_client_fail(c, SAKHI_EIO, NULL, "record key file not open");
    if (!rc)
        rc = open_record_value(c, c->kr, id, v.mv_data, v.mv_size, &pt);
    if (!rc) {
        rc = rstate_unpack(pt.data, pt.len, rs);
        if (rc == SAKHI_EFORMAT)
            sk_client_fail(c, rc, NULL, "record state damaged");
    }
    sk_vault_buf_wipe(&pt);
    return rc;
}

int sk_lstore_record_open_raw(sakhi_client *c, const char *keys_path, const sk_id *id,
                              const void *val, size_t n, sk_buf *out)
{
    sk_keyring *kr = c->kr;
    char err[200];
    if (keys_path) {
        int krc = sk_keyring_open_master(&kr, keys_path, c->rkm, err, sizeof(err));
        if (krc)
            return sk_client_fail(c, SAKHI_EIO, NULL, "%s", err);
    }
    int rc = kr ? open_record_value(c, kr, id, val, n, out) : SAKHI_EIO;
    if (keys_path)
        sk_keyring_close(kr);
    return rc;
}

static void index_encode(uint8_t out[SK_INDEX_LEN], const sk_rstate *rs)
{
    uint64_t status = 0, urgency = 0, created = 0;
    memset(out, 0, SK_INDEX_LEN);
    (void)sk_case_get_uint(&rs->view, SK_F_STATUS, &status);
    (void)sk_case_get_uint(&rs->view, SK_F_URGENCY, &urgency);
    if (sk_case_get_uint(&rs->view, SK_F_CREATED_AT, &created) != 0 || created == 0) {
        const sk_id *id = &rs->view.id;
        if (sk_id_is_zero(id))
            id = &rs->base.id;
        for (int i = 0; i < 6; i++)
            created = (created << 8) | id->b[i];
    }
    out[0] = 1;
    out[1] = (uint8_t)(status > 255 ? 255 : status);
    out[2] = (uint8_t)(urgency > 255 ? 255 : urgency);
    out[3] = (uint8_t)rs->state;
    out[4] = (uint8_t)rs->stub;
    out[5] = rs->npending > 0;
    be64_put(out + 8, created);
}

void sk_lstore_index_decode(const uint8_t *v, size_t n, sk_index_row *out)
{
    memset(out, 0, sizeof(*out));
    if (n < SK_INDEX_LEN || v[0] != 1)
        return;
    out->status = v[1];
    out->urgency = v[2];
    out->state = v[3];
    out->stub = v[4];
    out->pending = v[5];
    out->created_ms = sk_lstore_be64(v + 8);
}

int sk_lstore_rstate_put(sakhi_client *c, MDB_txn *txn, const sk_rstate *rs)
{
    sk_buf pt = SK_BUF_INIT_A(&c->alloc), val = SK_BUF_INIT_A(&c->alloc);
    uint8_t row[SK_INDEX_LEN], key[SK_DEK_LEN], aad[96], sb[8];
    uint64_t slot;
    const sk_id *id = sk_id_is_zero(&rs->view.id) ? &rs->base.id : &rs->view.id;
    if (sk_id_is_zero(id))
        return sk_client_fail(c, SAKHI_EINVAL, NULL, "record state without an id");
    if (rs->base.flags & SK_REC_ERASED)
        return sk_lstore_rstate_del(c, txn, id); /* erased on the server: erased here too */
    int rc = rstate_pack(&pt, rs);
    if (rc) {
        sk_vault_buf_wipe(&pt);
        return sk_client_fail(c, rc, NULL, "record state could not be encoded");
    }
    if ((rc = sk_lstore_rkey(c, txn, id, 1, &slot, key)))
        goto out;
    be64_put(sb, slot);
    size_t an = sk_vault_aad(aad, sizeof(aad), "records", id->b, 16);
    if (sk_buf_append(&val, sb, 8)) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    if ((rc = sk_vault_seal(&val, key, aad, an, pt.data, pt.len)) ||
        (rc = put(c, txn, c->dbi_records, id->b, 16, val.data, val.len)))
        goto out;
    index_encode(row, rs);
    rc = put(c, txn, c->dbi_index, id->b, 16, row, sizeof(row));
out:
    OPENSSL_cleanse(key, sizeof(key));
    sk_vault_buf_wipe(&pt);
    sk_buf_free(&val);
    return rc;
}

/* Delete every change of record id from dbi (the outbox or the sent journal: values begin with
 * the record id and its key slot), scheduling each one's key slot for shredding. */
static int drop_changes_of(sakhi_client *c, MDB_txn *txn, MDB_dbi dbi, const sk_id *id)
{
    MDB_cursor *cur = NULL;
    MDB_val ok, ov;
    uint8_t *ops = NULL;
    size_t nops = 0, capops = 0;
    int rc = 0, mrc;
    if ((mrc = mdb_cursor_open(txn, dbi, &cur)))
        goto mdb_fail;
    for (mrc = mdb_cursor_get(cur, &ok, &ov, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &ok, &ov, MDB_NEXT)) {
        if (ok.mv_size != 8 || ov.mv_size < 24 || memcmp(ov.mv_data, id->b, 16) != 0)
            continue;
        if ((rc = shred_later(c, txn, sk_lstore_be64((const uint8_t *)ov.mv_data + 16))))
            break;
        uint8_t *p = sk_client_grow(c, ops, nops, &capops, 8, 8);
        if (!p) {
            rc = SAKHI_ENOMEM;
            break;
        }
        ops = p;
        memcpy(ops + 8 * nops++, ok.mv_data, 8);
    }
    mdb_cursor_close(cur);
    if (rc)
        goto out;
    if (mrc && mrc != MDB_NOTFOUND)
        goto mdb_fail;
    for (size_t i = 0; i < nops; i++) {
        MDB_val dk = mval(ops + 8 * i, 8);
        if ((mrc = mdb_del(txn, dbi, &dk, NULL)))
            goto mdb_fail;
    }
    goto out;
mdb_fail:
    rc = sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
out:
    sk_afree(&c->alloc, ops);
    return rc;
}

int sk_lstore_rstate_del(sakhi_client *c, MDB_txn *txn, const sk_id *id)
{
    MDB_val k = mval(id->b, 16), v;
    int rc = 0, mrc = mdb_get(txn, c->dbi_records, &k, &v);
    if (mrc == 0 && v.mv_size >= 8)
        rc = shred_later(c, txn, sk_lstore_be64(v.mv_data));
    else if (mrc && mrc != MDB_NOTFOUND)
        goto mdb_fail;
    for (size_t i = 0; !rc && i < c->nnew; i++)
        if (sk_id_cmp(&c->newslots[i].id, id) == 0) {
            rc = shred_later(c, txn, c->newslots[i].slot);
            c->newslots[i] = c->newslots[--c->nnew];
            break;
        }
    if (rc)
        return rc;
    /* Every outbox change of the record, and every acknowledged one kept for a restored server
     * (outbox.c, "sent"): sealed under its key, they could never be sent (the server answers
     * GONE for an erased record) nor opened once the slot is zeros. */
    if ((rc = drop_changes_of(c, txn, c->dbi_outbox, id)) ||
        (rc = drop_changes_of(c, txn, c->dbi_sent, id)))
        goto out;
    mrc = mdb_del(txn, c->dbi_records, &k, NULL);
    if (mrc == 0 || mrc == MDB_NOTFOUND)
        mrc = mdb_del(txn, c->dbi_index, &k, NULL);
    if (mrc && mrc != MDB_NOTFOUND)
        goto mdb_fail;
    goto out;
mdb_fail:
    rc = sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
out:
    return rc;
}

/* After the server lost history (PROTOCOL.md section 5.6), versions above since name changes it
 * no longer has (or other ones): every record state that claims one forgets it, so the pull
 * from 0 that follows is taken whatever version the server now gives. */
int sk_lstore_forget_versions(sakhi_client *c, MDB_txn *txn, uint64_t since, uint64_t *n_out)
{
    uint8_t *ids = NULL;
    size_t nids = 0;
    uint64_t n = 0;
    int rc = collect_keys(c, txn, c->dbi_records, 16, &ids, &nids);
    for (size_t i = 0; i < nids && !rc; i++) {
        sk_rstate rs;
        sk_id id;
        memcpy(id.b, ids + 16 * i, 16);
        sk_rstate_init(&rs, &c->alloc);
        rc = sk_lstore_rstate_get(c, txn, &id, &rs);
        if (rc == 0 && (rs.base.version > since || rs.acked_ver > since)) {
            if (rs.base.version > since)
                rs.base.version = 0;
            if (rs.acked_ver > since)
                rs.acked_ver = 0;
            rs.merged = 0;
            n++;
            rc = sk_lstore_rstate_put(c, txn, &rs);
        } else if (rc == SAKHI_ENOTFOUND) {
            rc = 0;
        }
        sk_rstate_free(&rs);
    }
    sk_afree(&c->alloc, ids);
    if (!rc && n_out)
        *n_out = n;
    return rc;
}

/* 0, or SAKHI_ENOMEM: a view short of a change it should show is never kept. */
static int apply_quiet(sk_record *view, const sk_change *ch)
{
    sk_merge_result mr;
    /* A local change that no longer applies (the record was deleted meanwhile) is not shown;
     * it stays in the outbox and the server's answer decides. */
    int rc = sk_merge_apply(view, ch, 0, &mr);
    if (rc == 0)
        sk_merge_result_free(&mr);
    return rc == -SK_E_NOMEM ? SAKHI_ENOMEM : 0;
}

int sk_lstore_rebuild(sakhi_client *c, MDB_txn *txn, sk_rstate *rs, const sk_change *extra)
{
    int rc;
    /* the record's id survives even when neither view nor base holds content yet */
    sk_id id = sk_id_is_zero(&rs->view.id) ? rs->base.id : rs->view.id;
    if (extra && sk_id_is_zero(&id))
        id = extra->id;
    sk_record_free(&rs->view);
    sk_record_init_alloc(&rs->view, &c->alloc);
    if ((rc = sk_record_copy(&rs->view, &rs->base)))
        return sk_client_err_from_sk(rc);
    if (rs->has_rejected && (rc = apply_quiet(&rs->view, &rs->rejected)))
        return rc;
    for (uint32_t i = 0; i < rs->npending; i++) {
        sk_change ch;
        rc = sk_outbox_get(c, txn, rs->pending[i], &ch);
        if (rc == SAKHI_ENOTFOUND)
            continue;
        if (rc)
            return rc;
        rc = apply_quiet(&rs->view, &ch);
        sk_change_free(&ch);
        if (rc)
            return rc;
    }
    if (extra && (rc = apply_quiet(&rs->view, extra)))
        return rc;
    if (sk_id_is_zero(&rs->view.id))
        rs->view.id = id;

    uint64_t status = 0;
    (void)sk_case_get_uint(&rs->base, SK_F_STATUS, &status);
    if (rs->has_rejected)
        rs->state = SAKHI_SYNC_REJECTED;
    else if (rs->npending || extra)
        rs->state = SAKHI_SYNC_PENDING;
    else if (rs->merged || (rs->base.flags & SK_REC_REVIEW))
        rs->state = SAKHI_SYNC_CONFLICT;
    else if (status >= SK_STATUS_ACCEPTED && sk_record_field(&rs->base, SK_F_CASE_NO))
        rs->state = SAKHI_SYNC_ACCEPTED;
    else if (rs->base.version || rs->acked_ver)
        rs->state = SAKHI_SYNC_RECEIVED;
    else
        rs->state = SAKHI_SYNC_PENDING;
    return 0;
}
