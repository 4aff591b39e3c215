/*
 * load_verify.c - what sakhi-load sends and how it checks that the server holds exactly that.
 *
 * Builds each change from its work item alone (the sample referral, the record's id, the op and
 * stamps fixed when the run was planned), so a change sent again after a cut is byte-identical
 * and the server's exactly-once rule can be tested. At the end it compares every record of the
 * verifying pull with the tool's own model: each created record present exactly once, at the
 * version last acknowledged, with the fields and entries sent, the server-set worker and device,
 * and for concurrent edits the REVIEW flag and the winner the merge rule names.
 * It never prints field values: problems are reported by record id and field key.
 */
#include "load.h"

#include "sk_case.h"
#include "sk_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_REC UINT32_MAX

static uint64_t id_hash(const sk_id *id)
{
    uint64_t h = 0;
    for (int i = 8; i < 16; i++)
        h = (h << 8) | id->b[i];
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int sk_load_index_build(ld_run *r)
{
    uint32_t cap = 16;
    while (cap < r->nrecs * 2u + 16u)
        cap <<= 1;
    uint32_t *t = malloc((size_t)cap * sizeof(*t));
    if (!t)
        return -SK_E_NOMEM;
    for (uint32_t i = 0; i < cap; i++)
        t[i] = NO_REC;
    for (uint32_t i = 0; i < r->nrecs; i++) {
        uint32_t h = (uint32_t)id_hash(&r->recs[i].id) & (cap - 1);
        while (t[h] != NO_REC)
            h = (h + 1) & (cap - 1);
        t[h] = i;
    }
    free(r->index);
    r->index = t;
    r->index_cap = cap;
    return 0;
}

static uint32_t index_find(const ld_run *r, const sk_id *id)
{
    if (!r->index)
        return NO_REC;
    uint32_t h = (uint32_t)id_hash(id) & (r->index_cap - 1);
    while (r->index[h] != NO_REC) {
        if (!sk_id_cmp(&r->recs[r->index[h]].id, id))
            return r->index[h];
        h = (h + 1) & (r->index_cap - 1);
    }
    return NO_REC;
}

/* Entry ids of a record are derived from its id: creation entries flip the last byte by their
 * position + 1, the follow-up flips byte 14. Unique within the record, which is all the merge
 * rule needs. */
static sk_id entry_id(const sk_id *rec, uint32_t i)
{
    sk_id e = *rec;
    e.b[15] ^= (uint8_t)(i + 1);
    return e;
}

static sk_id followup_id(const sk_id *rec)
{
    sk_id e = *rec;
    e.b[14] ^= 0xa5;
    return e;
}

static sk_hlc followup_hlc(const ld_run *r, const ld_rec *rec)
{
    /* one second after the capture: later than the creation, fixed for resends */
    return r->sample.refs[rec->sample].change.hlc + SK_HLC_MAKE(1000, 0);
}

int sk_load_build_change(const ld_run *r, const ld_dev *d, const ld_work *w, sk_change *c)
{
    const ld_rec *rec = &r->recs[w->rec];
    int rc = 0;
    sk_change_init(c);
    if (w->what == LD_W_CREATE) {
        const sk_change *src = &r->sample.refs[rec->sample].change;
        if ((rc = sk_change_copy(c, src)))
            return rc;
        c->id = rec->id;
        c->op = w->op;
        c->base = 0;
        for (uint32_t i = 0; i < c->nentries; i++)
            c->entries[i].id = entry_id(&rec->id, i);
        return 0;
    }
    c->id = rec->id;
    c->op = w->op;
    c->base = rec->base;
    c->kind = SK_CHANGE_UPSERT;
    sk_buf b;
    msgpack_packer pk;
    sk_buf_init(&b);
    sk_packer_init(&pk, &b);
    if (w->what == LD_W_FOLLOWUP) {
        static const char text[] = "load test follow-up";
        c->hlc = followup_hlc(r, rec);
        msgpack_pack_map(&pk, 3);
        msgpack_pack_uint32(&pk, SK_ENTRY_BY);
        sk_pack_cstr(&pk, d->worker);
        msgpack_pack_uint32(&pk, SK_ENTRY_TEXT);
        sk_pack_str(&pk, text, sizeof(text) - 1);
        msgpack_pack_uint32(&pk, SK_ENTRY_AT);
        msgpack_pack_uint64(&pk, SK_HLC_MS(c->hlc));
        sk_id eid = followup_id(&rec->id);
        rc = b.oom ? -SK_E_NOMEM
                   : sk_change_add_entry(c, &eid, SK_LIST_FOLLOWUP, b.data, (uint32_t)b.len);
    } else {
        c->hlc = rec->chlc[w->slot];
        msgpack_pack_uint32(&pk, rec->cval[w->slot]);
        rc = b.oom ? -SK_E_NOMEM : sk_change_set(c, SK_F_URGENCY, b.data, (uint32_t)b.len);
    }
    sk_buf_free(&b);
    if (rc)
        sk_change_free(c);
    return rc;
}

/* Keep the run's first problem, "record ID: WHAT", with " (field KEY)" when it is about one
 * field (key is not 0); later ones are only counted. */
static void first_problem(ld_run *r, const sk_id *id, const char *what, uint32_t key)
{
    if (r->vf.first_problem[0])
        return;
    char ids[37], field[24] = "";
    sk_id_to_str(id, ids);
    if (key)
        snprintf(field, sizeof(field), " (field %u)", (unsigned)key);
    snprintf(r->vf.first_problem, sizeof(r->vf.first_problem), "record %s: %s%s", ids, what, field);
}

static void problem(ld_run *r, const sk_id *id, const char *what, uint32_t key)
{
    r->vf.mismatch++;
    first_problem(r, id, what, key);
}

static int value_is(const sk_field *f, const uint8_t *val, uint32_t len)
{
    return f && f->len == len && (len == 0 || !memcmp(f->val, val, len));
}

static int has_entry(const sk_record *rec, const sk_id *id)
{
    for (uint32_t i = 0; i < rec->nentries; i++)
        if (!sk_id_cmp(&rec->entries[i].id, id))
            return 1;
    return 0;
}

void sk_load_verify_record(ld_run *r, const sk_record *got)
{
    uint32_t ix = index_find(r, &got->id);
    if (ix == NO_REC) {
        r->vf.extra++;
        first_problem(r, &got->id, "not sent by this run", 0);
        return;
    }
    ld_rec *rec = &r->recs[ix];
    if (rec->flags & LD_R_SEEN) {
        r->vf.duplicate++;
        first_problem(r, &got->id, "returned twice", 0);
        return;
    }
    rec->flags |= LD_R_SEEN;
    r->vf.seen++;
    if (!(rec->flags & LD_R_CREATED)) {
        r->vf.extra++;
        first_problem(r, &got->id, "present though its creation was never acknowledged", 0);
        return;
    }
    const ld_dev *d = &r->devs[rec->dev];
    if (got->version != rec->version)
        problem(r, &got->id, "version differs from the last acknowledged one", 0);
    if (got->flags & (SK_REC_TOMBSTONE | SK_REC_ERASED))
        problem(r, &got->id, "deleted", 0);
    /* every field sent at creation, byte for byte, unless a later edit of ours replaced it */
    const sk_change *src = &r->sample.refs[rec->sample].change;
    int conflicted = (rec->flags & LD_R_CONFLICT) && rec->cacked;
    for (uint32_t i = 0; i < src->nfields; i++) {
        const sk_field *sf = &src->fields[i];
        if (conflicted && sf->key == SK_F_URGENCY)
            continue;
        if (sf->key == SK_F_STATUS) {
            /* the server marks a new referral received when it arrives */
            uint64_t st;
            if (sk_case_get_uint(got, SK_F_STATUS, &st) || st != SK_STATUS_RECEIVED)
                problem(r, &got->id, "status is not 'received' after arrival", sf->key);
            continue;
        }
        if (!value_is(sk_record_field(got, sf->key), sf->val, sf->len))
            problem(r, &got->id, "field differs from what was sent", sf->key);
    }
    for (uint32_t i = 0; i < src->nentries; i++) {
        sk_id e = entry_id(&rec->id, i);
        if (!has_entry(got, &e))
            problem(r, &got->id, "entry sent at creation missing", 0);
    }
    /* server-set identity of the creator */
    uint8_t wb[80];
    size_t wl = strlen(d->worker);
    if (wl < 31) {
        wb[0] = (uint8_t)(0xa0 | wl);
        memcpy(wb + 1, d->worker, wl);
        if (!value_is(sk_record_field(got, SK_F_WORKER), wb, (uint32_t)wl + 1))
            problem(r, &got->id, "worker is not the creating device's worker", SK_F_WORKER);
    }
    uint64_t dev_id;
    if (sk_case_get_uint(got, SK_F_DEVICE, &dev_id) || dev_id != d->id)
        problem(r, &got->id, "device is not the creating device", SK_F_DEVICE);
    if (rec->flags & LD_R_FU_ACKED) {
        sk_id e = followup_id(&rec->id);
        if (!has_entry(got, &e))
            problem(r, &got->id, "acknowledged follow-up missing", 0);
    }
    if (conflicted) {
        uint64_t urg;
        if (sk_case_get_uint(got, SK_F_URGENCY, &urg))
            problem(r, &got->id, "urgency missing after concurrent edits", SK_F_URGENCY);
        else if (rec->cacked == 3) {
            /* the merge rule: the higher (hlc, value bytes) wins; values differ, so REVIEW */
            int win = rec->chlc[1] > rec->chlc[0] ||
                      (rec->chlc[1] == rec->chlc[0] && rec->cval[1] > rec->cval[0]);
            if (urg != rec->cval[win])
                problem(r, &got->id, "concurrent edit: the wrong value won", SK_F_URGENCY);
            if (!(got->flags & SK_REC_REVIEW))
                problem(r, &got->id, "concurrent edit: REVIEW flag not set", 0);
            if (rec->merged != 1)
                problem(r, &got->id, "concurrent edit: expected exactly one MERGED ack", 0);
        } else if (urg != rec->cval[rec->cacked == 2 ? 1 : 0]) {
            problem(r, &got->id, "edit: acknowledged value not stored", SK_F_URGENCY);
        }
    }
}

void sk_load_verify_finish(ld_run *r)
{
    r->vf.ran = 1;
    for (uint32_t i = 0; i < r->nrecs; i++) {
        ld_rec *rec = &r->recs[i];
        if (!(rec->flags & LD_R_CREATED))
            continue;
        r->vf.expected++;
        if (!(rec->flags & LD_R_SEEN)) {
            r->vf.missing++;
            first_problem(r, &rec->id, "acknowledged but not on the server", 0);
        }
    }
}
