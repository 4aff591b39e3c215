/*
 * lstore_keys.c - the local store's record keys: which key slot of keys.db a record uses, and
 * the key in it (lstore.c describes the file layout and the shredding that these slots allow).
 *
 * A record's slot number is the first 8 bytes of its value in "records"; a record first stored
 * in the current write transaction has a new slot kept in the handle (c->newslots) until
 * sk_lstore_commit syncs keys.db and commits. Owns nothing beyond the handle's list of new
 * slots. It must never hand out a key for a slot that another record owns or that was shredded
 * (the keyring checks both), and never make a slot outside a write transaction.
 */
#include "sk_client.h"

#include "sk_err.h"
#include "sk_keyring.h"

#include <stdlib.h>

int sk_lstore_key_fail(sakhi_client *c, int krc)
{
    if (krc == -SK_E_GONE)
        return sk_client_fail(c, SAKHI_EFORMAT, NULL, "record key erased");
    if (krc == -SK_E_NOMEM)
        return sk_client_fail(c, SAKHI_ENOMEM, NULL, "out of memory");
    return sk_client_fail(c, SAKHI_EIO, NULL, "record key file: cannot read or write a slot");
}

int sk_lstore_slot_key(sakhi_client *c, uint64_t slot, const sk_id *id, uint8_t key[SK_DEK_LEN])
{
    if (!c->kr)
        return sk_client_fail(c, SAKHI_EIO, NULL, "record key file not open");
    int krc = sk_keyring_get(c->kr, slot, id, key);
    return krc ? sk_lstore_key_fail(c, krc) : 0;
}

int sk_lstore_rkey(sakhi_client *c, MDB_txn *txn, const sk_id *id, int create, uint64_t *slot_out,
                   uint8_t key[SK_DEK_LEN])
{
    MDB_val k = {16, (void *)id->b}, v;
    uint64_t slot;
    int rc, mrc = mdb_get(txn, c->dbi_records, &k, &v);
    if (mrc == 0) {
        if (v.mv_size < 8)
            return sk_client_fail(c, SAKHI_EFORMAT, NULL, "record state damaged");
        slot = sk_lstore_be64(v.mv_data);
    } else if (mrc != MDB_NOTFOUND) {
        return sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "store: %s", mdb_strerror(mrc));
    } else {
        size_t i = 0;
        while (i < c->nnew && sk_id_cmp(&c->newslots[i].id, id) != 0)
            i++;
        if (i == c->nnew) {
            if (!create)
                return SAKHI_ENOTFOUND;
            if (!c->kr_batch)
                return sk_client_fail(c, SAKHI_EINVAL, NULL, "record key outside a write");
            sk_newslot *p = sk_client_grow(c, c->newslots, c->nnew, &c->capnew, sizeof(*p), 16);
            if (!p)
                return SAKHI_ENOMEM;
            c->newslots = p;
            int krc = sk_keyring_new(c->kr, id, &slot, key);
            if (krc)
                return sk_lstore_key_fail(c, krc);
            c->newslots[c->nnew].id = *id;
            c->newslots[c->nnew++].slot = slot;
            *slot_out = slot;
            return 0;
        }
        slot = c->newslots[i].slot;
    }
    if ((rc = sk_lstore_slot_key(c, slot, id, key)))
        return rc;
    *slot_out = slot;
    return 0;
}
