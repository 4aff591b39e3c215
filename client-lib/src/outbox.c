/*
 * outbox.c - the outbox: changes saved on the device and not yet acknowledged by the server.
 *
 * Key: the change's operation number as u64 big-endian (so LMDB order is op order); value: the
 * record id (16), the record's key slot (u64 BE) and the sk_change in its wire form sealed
 * under that record's key (lstore.c), so erasing a record shreds its unsent changes too. An
 * entry is written in the same transaction as the record it changes and deleted only in the
 * transaction that records the server's acknowledgement, so a crash or a cut connection can
 * neither lose a change nor make it leave twice. Owns nothing beyond the calls; must never
 * delete an entry on any path other than an ack, an erasure of its record (lstore.c) or a wipe.
 */
#include "sk_client.h"

#include "sk_err.h"

#include <openssl/crypto.h>

#include <string.h>

static void op_key(uint8_t k[8], uint64_t op)
{
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t)(op >> (56 - 8 * i));
}

/* An LMDB failure on the outbox or the sent journal, as the client's error. */
static int lmdb_fail(sakhi_client *c, int mrc)
{
    return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "outbox: %s", mdb_strerror(mrc));
}

int sk_outbox_put(sakhi_client *c, MDB_txn *txn, const sk_change *ch)
{
    sk_buf pt = SK_BUF_INIT_A(&c->alloc), blob = SK_BUF_INIT_A(&c->alloc);
    msgpack_packer pk;
    uint8_t k[8], aad[32], rkey[SK_DEK_LEN], slot8[8];
    uint64_t slot;
    int rc;

    op_key(k, ch->op);
    sk_packer_init(&pk, &pt);
    if ((rc = sk_change_pack(&pk, ch))) {
        rc = sk_client_err_from_sk(rc);
        goto out;
    }
    if (pt.oom) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    if ((rc = sk_lstore_rkey(c, txn, &ch->id, 1, &slot, rkey)))
        goto out;
    op_key(slot8, slot);
    size_t an = sk_vault_aad(aad, sizeof(aad), "outbox", k, 8);
    if (sk_buf_append(&blob, ch->id.b, 16) || sk_buf_append(&blob, slot8, 8)) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    if ((rc = sk_vault_seal(&blob, rkey, aad, an, pt.data, pt.len)))
        goto out;
    MDB_val key = {8, k}, val = {blob.len, blob.data};
    int mrc = mdb_put(txn, c->dbi_outbox, &key, &val, 0);
    if (mrc)
        rc = lmdb_fail(c, mrc);
out:
    OPENSSL_cleanse(rkey, sizeof(rkey));
    sk_vault_buf_wipe(&pt);
    sk_buf_free(&blob);
    return rc;
}

/* How many entries dbi holds. */
static int entries(sakhi_client *c, MDB_txn *txn, MDB_dbi dbi, uint64_t *out)
{
    MDB_stat st;
    int mrc = mdb_stat(txn, dbi, &st);
    if (mrc)
        return lmdb_fail(c, mrc);
    *out = st.ms_entries;
    return 0;
}

/* Every entry of dbi in key order through fn(c, key, value, ctx), until fn returns non-zero
 * (returned as it is). 0, or the LMDB failure. */
static int each_entry(sakhi_client *c, MDB_txn *txn, MDB_dbi dbi,
                      int (*fn)(sakhi_client *c, const MDB_val *k, const MDB_val *v, void *ctx),
                      void *ctx)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = 0, mrc;
    if ((mrc = mdb_cursor_open(txn, dbi, &cur)))
        return lmdb_fail(c, mrc);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = fn(c, &k, &v, ctx)))
            break;
    if (!rc && mrc && mrc != MDB_NOTFOUND)
        rc = lmdb_fail(c, mrc);
    mdb_cursor_close(cur);
    return rc;
}

static int decode(sakhi_client *c, const uint8_t *k, const MDB_val *v, sk_change *out)
{
    sk_buf pt = SK_BUF_INIT_A(&c->alloc);
    uint8_t aad[32], key[SK_DEK_LEN];
    const uint8_t *b = v->mv_data;
    sk_id id;
    uint64_t slot = 0;
    sk_mp m;
    if (v->mv_size < 24)
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "outbox entry damaged");
    memcpy(id.b, b, 16);
    for (int i = 0; i < 8; i++)
        slot = (slot << 8) | b[16 + i];
    int rc = sk_lstore_slot_key(c, slot, &id, key);
    if (rc)
        return rc;
    size_t an = sk_vault_aad(aad, sizeof(aad), "outbox", k, 8);
    rc = sk_vault_open(&pt, key, aad, an, b + 24, v->mv_size - 24);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc) {
        sk_vault_buf_wipe(&pt);
        return sk_client_fail(c, rc, NULL, "outbox entry failed authentication");
    }
    sk_mp_init(&m, pt.data, pt.len);
    rc = sk_change_unpack_alloc(&m, out, &c->alloc);
    sk_vault_buf_wipe(&pt);
    if (rc)
        return sk_client_fail(c, rc == -SK_E_NOMEM ? SAKHI_ENOMEM : SAKHI_EFORMAT, NULL,
                              "outbox entry damaged");
    if (sk_id_cmp(&out->id, &id) != 0) {
        sk_change_free(out);
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "outbox entry damaged");
    }
    return 0;
}

int sk_outbox_get(sakhi_client *c, MDB_txn *txn, uint64_t op, sk_change *out)
{
    uint8_t k[8];
    op_key(k, op);
    MDB_val key = {8, k}, val;
    int mrc = mdb_get(txn, c->dbi_outbox, &key, &val);
    if (mrc == MDB_NOTFOUND)
        return SAKHI_ENOTFOUND;
    if (mrc)
        return lmdb_fail(c, mrc);
    return decode(c, k, &val, out);
}

int sk_outbox_del(sakhi_client *c, MDB_txn *txn, uint64_t op)
{
    uint8_t k[8];
    op_key(k, op);
    MDB_val key = {8, k};
    int mrc = mdb_del(txn, c->dbi_outbox, &key, NULL);
    if (mrc == MDB_NOTFOUND)
        return SAKHI_ENOTFOUND;
    if (mrc)
        return lmdb_fail(c, mrc);
    return 0;
}

int sk_outbox_count(sakhi_client *c, MDB_txn *txn, uint64_t *out)
{
    return entries(c, txn, c->dbi_outbox, out);
}

typedef struct outbox_walk {
    int (*cb)(const sk_change *ch, void *payload);
    void *payload;
} outbox_walk;

static int outbox_entry(sakhi_client *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
    outbox_walk *w = ctx;
    sk_change ch;
    if (k->mv_size != 8)
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "outbox key damaged");
    int rc = decode(c, k->mv_data, v, &ch);
    if (rc)
        return rc;
    rc = w->cb(&ch, w->payload);
    sk_change_free(&ch);
    return rc;
}

int sk_outbox_each(sakhi_client *c, MDB_txn *txn, int (*cb)(const sk_change *ch, void *payload),
                   void *payload)
{
    outbox_walk w = {cb, payload};
    return each_entry(c, txn, c->dbi_outbox, outbox_entry, &w);
}

/* ---- the sent journal --------------------------------------------------------------------
 *
 * A server restored from a backup has lost what it acknowledged after the backup was taken,
 * and only the devices still hold it (docs/PROTOCOL.md section 5.6). So an acknowledged change
 * is not forgotten with its outbox entry: the same sealed value moves to "sent" (key: its op;
 * value: the outbox value || the ack time || the acknowledged version, u64 BE), in the
 * transaction that records its ack.
 * When the device sees that its centre lost history, every change of the journal goes back to
 * the outbox under its op, and the server's per-op memory makes the resend idempotent.
 * Bounded: entries older than SK_SENT_KEEP_MS after their ack, and the oldest beyond
 * SK_SENT_MAX entries, are dropped as new ones come in. An erased record's entries go with it
 * (lstore.c), and they are sealed under its key like the outbox. */

int sk_outbox_retire(sakhi_client *c, MDB_txn *txn, uint64_t op, uint64_t now_ms, uint64_t version)
{
    uint8_t k[8], t[16];
    sk_buf v2 = SK_BUF_INIT_A(&c->alloc);
    MDB_cursor *cur = NULL;
    int rc = 0, mrc;
    op_key(k, op);
    op_key(t, now_ms);
    op_key(t + 8, version);
    MDB_val key = {8, k}, val;
    if ((mrc = mdb_get(txn, c->dbi_outbox, &key, &val)))
        goto mdb_fail;
    if (sk_buf_append(&v2, val.mv_data, val.mv_size) || sk_buf_append(&v2, t, 16)) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    MDB_val sv = {v2.len, v2.data};
    if ((mrc = mdb_put(txn, c->dbi_sent, &key, &sv, 0)) ||
        (mrc = mdb_del(txn, c->dbi_outbox, &key, NULL)))
        goto mdb_fail;
    /* Prune from the oldest op: past the age limit or beyond the count. */
    MDB_stat st;
    if ((mrc = mdb_stat(txn, c->dbi_sent, &st)) || (mrc = mdb_cursor_open(txn, c->dbi_sent, &cur)))
        goto mdb_fail;
    size_t n = st.ms_entries;
    MDB_val ok, ov;
    for (mrc = mdb_cursor_get(cur, &ok, &ov, MDB_FIRST); mrc == 0 && n > 1;
         mrc = mdb_cursor_get(cur, &ok, &ov, MDB_NEXT)) {
        uint64_t at = 0;
        if (ov.mv_size >= 16)
            for (int i = 0; i < 8; i++)
                at = (at << 8) | ((const uint8_t *)ov.mv_data)[ov.mv_size - 16 + (size_t)i];
        if (n <= SK_SENT_MAX && at + SK_SENT_KEEP_MS >= now_ms)
            break;
        if ((mrc = mdb_cursor_del(cur, 0)))
            goto mdb_fail;
        n--;
    }
    if (mrc && mrc != MDB_NOTFOUND)
        goto mdb_fail;
    goto out;
mdb_fail:
    rc = lmdb_fail(c, mrc);
out:
    if (cur)
        mdb_cursor_close(cur);
    sk_buf_free(&v2);
    return rc;
}

typedef struct sent_walk {
    int (*cb)(sk_change *ch, uint64_t version, void *payload);
    void *payload;
    uint64_t *unreadable;
} sent_walk;

static int sent_entry(sakhi_client *c, const MDB_val *k, const MDB_val *v, void *ctx)
{
    sent_walk *w = ctx;
    sk_change ch;
    if (k->mv_size != 8 || v->mv_size < 40) {
        (*w->unreadable)++;
        return 0;
    }
    uint64_t version = 0;
    for (int i = 0; i < 8; i++)
        version = (version << 8) | ((const uint8_t *)v->mv_data)[v->mv_size - 8 + (size_t)i];
    MDB_val inner = {v->mv_size - 16, v->mv_data};
    if (decode(c, k->mv_data, &inner, &ch) != 0) {
        /* its record was erased (key slot shredded) or the entry is damaged: nothing to
         * give back */
        (*w->unreadable)++;
        return 0;
    }
    int rc = w->cb(&ch, version, w->payload);
    sk_change_free(&ch);
    return rc;
}

int sk_sent_each(sakhi_client *c, MDB_txn *txn,
                 int (*cb)(sk_change *ch, uint64_t version, void *payload), void *payload,
                 uint64_t *unreadable_out)
{
    sent_walk w = {cb, payload, unreadable_out};
    *unreadable_out = 0;
    return each_entry(c, txn, c->dbi_sent, sent_entry, &w);
}

int sk_sent_count(sakhi_client *c, MDB_txn *txn, uint64_t *out)
{
    return entries(c, txn, c->dbi_sent, out);
}

int sk_outbox_first_op(sakhi_client *c, MDB_txn *txn, uint64_t *out)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int mrc = mdb_cursor_open(txn, c->dbi_outbox, &cur);
    *out = 0;
    if (mrc == 0) {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (mrc == 0 && k.mv_size == 8)
            for (int i = 0; i < 8; i++)
                *out = (*out << 8) | ((const uint8_t *)k.mv_data)[i];
        mdb_cursor_close(cur);
    }
    if (mrc && mrc != MDB_NOTFOUND)
        return lmdb_fail(c, mrc);
    return 0;
}
