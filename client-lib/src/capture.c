/*
 * capture.c - referral drafts and saving: typed setters, enumeration names, raw extension
 * fields, validation with the shared case model, durable save into record + outbox, follow-ups,
 * and discarding a rejected change.
 *
 * A draft is an sk_change held in memory; saving turns it into one outbox change (with the next
 * operation number and an HLC stamp) and the new local view of the record, in one LMDB write
 * transaction committed with fsync before the call returns. Owns drafts. It must never save a
 * record that fails the case model's validation, never lose the content of a rejected change
 * (it is folded into the next save of the record), and never log field values.
 */
#include "sk_client.h"

#include "sk_err.h"
#include "sk_text.h"

#include <stdlib.h>
#include <string.h>

struct sakhi_referral {
    sakhi_client *c;
    sk_id id;
    char idstr[SAKHI_ID_STRLEN];
    int is_new;
    sk_change ch; /* the fields and entries set on the draft */
};

/* ---- drafts --------------------------------------------------------------------------------- */

static sakhi_referral *draft_new(sakhi_client *c, const sk_id *id, int is_new)
{
    sakhi_referral *r = sk_client_calloc(c, sizeof(*r));
    if (!r)
        return NULL;
    r->c = c;
    r->id = *id;
    r->is_new = is_new;
    sk_id_to_str(id, r->idstr);
    sk_change_init_alloc(&r->ch, &c->alloc);
    r->ch.id = *id;
    return r;
}

/* Start a call that writes the store or reports on a save: a revoked device is refused, else the
 * handle's mutex is taken and its last error cleared. 0 with the mutex held (the caller unlocks
 * it), or SAKHI_EREVOKED without it. */
static int begin_change(sakhi_client *c)
{
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    pthread_mutex_lock(&c->mu);
    sk_client_clear_err(c);
    return 0;
}

/* The stored state of record id into rs, read in a read-only transaction of its own; a record
 * this device does not have fails with SAKHI_ENOTFOUND and "no such record". Called with the
 * mutex held. */
static int read_rstate(sakhi_client *c, const sk_id *id, sk_rstate *rs)
{
    MDB_txn *txn = NULL;
    int rc = sk_lstore_txn(c, 1, &txn);
    if (rc)
        return rc;
    rc = sk_lstore_rstate_get(c, txn, id, rs);
    mdb_txn_abort(txn);
    return rc == SAKHI_ENOTFOUND ? sk_client_fail(c, rc, NULL, "no such record") : rc;
}

int sakhi_referral_new(sakhi_referral **out, sakhi_client *c)
{
    sk_id id;
    if (!out || !c)
        return SAKHI_EINVAL;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    if (sk_id_new(&id, sk_client_wall_ms(c)))
        return sk_client_fail(c, SAKHI_EIO, NULL, "random source failed");
    /* Ids of one handle increase, even within one millisecond, so lists show capture order. */
    pthread_mutex_lock(&c->mu);
    if (sk_id_cmp(&id, &c->last_id) <= 0) {
        id = c->last_id;
        for (int i = 15; i >= 9 && ++id.b[i] == 0; i--)
            ;
    }
    c->last_id = id;
    pthread_mutex_unlock(&c->mu);
    sakhi_referral *r = draft_new(c, &id, 1);
    if (!r)
        return SAKHI_ENOMEM;
    *out = r;
    return 0;
}

int sakhi_referral_edit(sakhi_referral **out, sakhi_client *c, const char *idtext)
{
    sk_id id;
    sk_rstate rs;
    int rc;
    if (!out || !c || !idtext || sk_id_from_str(&id, idtext) != 0)
        return SAKHI_EINVAL;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    sk_rstate_init(&rs, &c->alloc);
    pthread_mutex_lock(&c->mu);
    if ((rc = read_rstate(c, &id, &rs)))
        goto out;
    if (rs.stub || (rs.view.flags & SK_REC_TOMBSTONE)) {
        rc = sk_client_fail(c, SAKHI_ESTATE, NULL,
                            rs.stub ? "only a stub of this record is kept on this device"
                                    : "the record was deleted");
        goto out;
    }
    sakhi_referral *r = draft_new(c, &id, 0);
    if (!r) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    *out = r;
out:
    pthread_mutex_unlock(&c->mu);
    sk_rstate_free(&rs);
    return rc;
}

void sakhi_referral_free(sakhi_referral *r)
{
    if (!r)
        return;
    sk_change_free(&r->ch);
    sk_client_dealloc(r->c, r);
}

const char *sakhi_referral_id(const sakhi_referral *r)
{
    return r ? r->idstr : "";
}

/* ---- setters -------------------------------------------------------------------------------- */

static int utf8_ok(const char *s, size_t n)
{
    return sk_utf8_chars(s, n) >= 0;
}

static int set_packed(sakhi_referral *r, uint32_t key, sk_buf *b)
{
    int rc;
    if (b->oom)
        rc = SAKHI_ENOMEM;
    else if (b->len > SK_MAX_VALUE)
        rc = sk_client_fail(r->c, SAKHI_EINVAL,
                            sk_case_field_info(key) ? sk_case_field_info(key)->name : NULL,
                            "value longer than %u bytes", (unsigned)SK_MAX_VALUE);
    else
        rc = sk_client_err_from_sk(sk_change_set(&r->ch, key, b->data, (uint32_t)b->len));
    sk_buf_free(b);
    return rc;
}

/* Field key of ch set to the uint v or the bool v: values of a fixed, small size, packed without
 * a buffer (so they cannot run out of memory or over SK_MAX_VALUE before the change takes
 * them). Used for drafts and for the defaults a save adds. */
static int add_uint(sk_change *ch, uint32_t key, uint64_t v)
{
    uint8_t b[9];
    return sk_client_err_from_sk(sk_change_set(ch, key, b, (uint32_t)sk_pack_uint_min(b, v)));
}

static int add_bool(sk_change *ch, uint32_t key, int v)
{
    const uint8_t b = v ? 0xc3 : 0xc2; /* MessagePack true, false: what sk_pack_bool writes */
    return sk_client_err_from_sk(sk_change_set(ch, key, &b, 1));
}

static int set_uint(sakhi_referral *r, uint32_t key, uint64_t v)
{
    return r ? add_uint(&r->ch, key, v) : SAKHI_EINVAL;
}

static int set_bool(sakhi_referral *r, uint32_t key, int v)
{
    return r ? add_bool(&r->ch, key, v) : SAKHI_EINVAL;
}

static int set_str(sakhi_referral *r, uint32_t key, const char *s)
{
    sk_buf b = SK_BUF_INIT_A(r ? &r->c->alloc : NULL);
    msgpack_packer pk;
    if (!r)
        return SAKHI_EINVAL;
    sk_packer_init(&pk, &b);
    if (!s) {
        msgpack_pack_nil(&pk);
    } else {
        size_t n = strlen(s);
        const sk_field_info *fi = sk_case_field_info(key);
        if (!utf8_ok(s, n))
            return sk_client_fail(r->c, SAKHI_EINVAL, fi ? fi->name : NULL,
                                  "%s: must be valid UTF-8", fi ? fi->name : "field");
        if (n > SK_MAX_VALUE - 5)
            return sk_client_fail(r->c, SAKHI_EINVAL, fi ? fi->name : NULL, "%s: too long",
                                  fi ? fi->name : "field");
        /* Free text as typed: white space around it is dropped (a name pasted with a trailing
         * space is the same name), and a required text of white space only is refused. */
        size_t start, len;
        sk_text_trim(s, n, &start, &len);
        if (len == 0 && key != SK_F_NOTES)
            return sk_client_fail(r->c, SAKHI_EINVAL, fi ? fi->name : NULL, "%s: must not be blank",
                                  fi ? fi->name : "field");
        sk_pack_str(&pk, s + start, len);
    }
    return set_packed(r, key, &b);
}

/* The phone as typed, stored in E.164 (sk_phone_normalise); NULL stores nil (no phone). */
static int set_phone(sakhi_referral *r, const char *s)
{
    char e164[SK_PHONE_E164_MAX + 1];
    if (!r)
        return SAKHI_EINVAL;
    if (!s)
        return set_str(r, SK_F_PHONE, NULL);
    size_t n = strlen(s);
    if (!utf8_ok(s, n))
        return sk_client_fail(r->c, SAKHI_EINVAL, "phone", "phone: must be valid UTF-8");
    if (sk_phone_normalise(e164, s, n))
        return sk_client_fail(r->c, SAKHI_EINVAL, "phone",
                              "phone: not a phone number (10 digits, or with 0, +91 or another "
                              "country code in front)");
    return set_str(r, SK_F_PHONE, e164);
}

static int set_enum(sakhi_referral *r, uint32_t key, sk_enum_id e, int code)
{
    if (!r)
        return SAKHI_EINVAL;
    if (code < 1 || (uint32_t)code > sk_enum_max(e)) {
        const sk_field_info *fi = sk_case_field_info(key);
        return sk_client_fail(r->c, SAKHI_EINVAL, fi ? fi->name : NULL, "%s: unknown code %d",
                              fi ? fi->name : "field", code);
    }
    return set_uint(r, key, (uint64_t)code);
}

int sakhi_referral_set_district(sakhi_referral *r, int v)
{
    if (!r)
        return SAKHI_EINVAL;
    int rc = sk_districts_check(r->c, v); /* the centre's list, as the server sent it */
    return rc ? rc : set_uint(r, SK_F_DISTRICT, (uint64_t)v);
}
int sakhi_referral_set_block(sakhi_referral *r, const char *s)
{
    return s ? set_str(r, SK_F_BLOCK, s) : SAKHI_EINVAL;
}
int sakhi_referral_set_village(sakhi_referral *r, const char *s)
{
    return s ? set_str(r, SK_F_VILLAGE, s) : SAKHI_EINVAL;
}
int sakhi_referral_set_taken_at(sakhi_referral *r, int v)
{
    return set_enum(r, SK_F_TAKEN_AT, SK_ENUM_TAKEN_AT, v);
}
int sakhi_referral_set_name(sakhi_referral *r, const char *s)
{
    return s ? set_str(r, SK_F_NAME, s) : SAKHI_EINVAL;
}
int sakhi_referral_set_age(sakhi_referral *r, unsigned int age)
{
    if (r && age > 120)
        return sk_client_fail(r->c, SAKHI_EINVAL, "age", "age: must be between 0 and 120");
    return set_uint(r, SK_F_AGE, age);
}
int sakhi_referral_set_age_band(sakhi_referral *r, int v)
{
    return set_enum(r, SK_F_AGE_BAND, SK_ENUM_AGE_BAND, v);
}
int sakhi_referral_set_minor(sakhi_referral *r, int v)
{
    return set_bool(r, SK_F_MINOR, v);
}
int sakhi_referral_set_phone(sakhi_referral *r, const char *s)
{
    return set_phone(r, s);
}
int sakhi_referral_set_safe_to_call(sakhi_referral *r, int v)
{
    return set_bool(r, SK_F_SAFE_TO_CALL, v);
}
int sakhi_referral_set_marital(sakhi_referral *r, int v)
{
    return set_enum(r, SK_F_MARITAL, SK_ENUM_MARITAL, v);
}
int sakhi_referral_set_children(sakhi_referral *r, unsigned int n)
{
    if (r && n > 20)
        return sk_client_fail(r->c, SAKHI_EINVAL, "children", "children: must be between 0 and 20");
    return set_uint(r, SK_F_CHILDREN, n);
}
int sakhi_referral_set_concern_other(sakhi_referral *r, const char *s)
{
    return s ? set_str(r, SK_F_CONCERN_OTHER, s) : SAKHI_EINVAL;
}
int sakhi_referral_set_urgency(sakhi_referral *r, int v)
{
    return set_enum(r, SK_F_URGENCY, SK_ENUM_URGENCY, v);
}
int sakhi_referral_set_source(sakhi_referral *r, int v)
{
    return set_enum(r, SK_F_SOURCE, SK_ENUM_SOURCE, v);
}
int sakhi_referral_set_notes(sakhi_referral *r, const char *s)
{
    return s ? set_str(r, SK_F_NOTES, s) : SAKHI_EINVAL;
}
int sakhi_referral_set_status(sakhi_referral *r, int v)
{
    return set_enum(r, SK_F_STATUS, SK_ENUM_STATUS, v);
}
int sakhi_referral_set_consent(sakhi_referral *r, int share, int contact)
{
    int rc = set_bool(r, SK_F_CONSENT_SHARE, share);
    return rc ? rc : set_bool(r, SK_F_CONSENT_CONTACT, contact);
}
int sakhi_referral_set_service(sakhi_referral *r, int service, int status)
{
    if (!r || service < 1 || service > SK_SERVICE_COUNT)
        return r ? sk_client_fail(r->c, SAKHI_EINVAL, NULL, "service: unknown code %d", service)
                 : SAKHI_EINVAL;
    return set_enum(r, (uint32_t)(SK_F_SERVICE_BASE + service), SK_ENUM_SERVICE_STATUS, status);
}

/* The record's current view (for edits that extend a list field). */
static int current_view(sakhi_referral *r, sk_record *out)
{
    MDB_txn *txn = NULL;
    sk_rstate rs;
    int rc;
    sk_rstate_init(&rs, &r->c->alloc);
    pthread_mutex_lock(&r->c->mu);
    if (!(rc = sk_lstore_txn(r->c, 1, &txn))) {
        rc = sk_lstore_rstate_get(r->c, txn, &r->id, &rs);
        mdb_txn_abort(txn);
    }
    pthread_mutex_unlock(&r->c->mu);
    if (!rc) {
        *out = rs.view;
        sk_record_init_alloc(&rs.view, &r->c->alloc);
    }
    sk_rstate_free(&rs);
    return rc;
}

int sakhi_referral_add_concern(sakhi_referral *r, int concern)
{
    uint64_t codes[16];
    uint32_t n = 0;
    int rc;
    if (!r)
        return SAKHI_EINVAL;
    if (concern < 1 || (uint32_t)concern > sk_enum_max(SK_ENUM_CONCERN))
        return sk_client_fail(r->c, SAKHI_EINVAL, "concerns", "concerns: unknown code %d", concern);

    const uint8_t *val = NULL;
    uint32_t len = 0;
    sk_record cur;
    int have_cur = 0;
    for (uint32_t i = 0; i < r->ch.nfields; i++)
        if (r->ch.fields[i].key == SK_F_CONCERNS) {
            val = r->ch.fields[i].val;
            len = r->ch.fields[i].len;
        }
    if (!val && !r->is_new && current_view(r, &cur) == 0) {
        have_cur = 1;
        const sk_field *f = sk_record_field(&cur, SK_F_CONCERNS);
        if (f) {
            val = f->val;
            len = f->len;
        }
    }
    if (val) {
        sk_mp m;
        uint32_t cnt;
        sk_mp_init(&m, val, len);
        if (sk_mp_read_array(&m, &cnt) == 0) {
            for (uint32_t i = 0; i < cnt && n < 16; i++)
                if (sk_mp_read_uint(&m, &codes[n]) == 0)
                    n++;
        }
    }
    int present = 0;
    for (uint32_t i = 0; i < n; i++)
        if (codes[i] == (uint64_t)concern)
            present = 1;
    if (!present && n < 16)
        codes[n++] = (uint64_t)concern;
    if (have_cur)
        sk_record_free(&cur);
    sk_buf b = SK_BUF_INIT_A(&r->c->alloc);
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_uint64(&pk, codes[i]);
    rc = set_packed(r, SK_F_CONCERNS, &b);
    return rc;
}

int sakhi_referral_set_enum(sakhi_referral *r, const char *field, const char *value)
{
    if (!r || !field || !value)
        return SAKHI_EINVAL;
    const sk_field_info *fi = sk_case_field_by_name(field);
    if (!fi && strcmp(field, "marital") == 0)
        fi = sk_case_field_info(SK_F_MARITAL);
    if (!fi && strcmp(field, "source") == 0)
        fi = sk_case_field_info(SK_F_SOURCE);
    if (!fi || fi->enumeration < 0 || (fi->type != SK_FT_ENUM && fi->type != SK_FT_ENUM_ARRAY))
        return sk_client_fail(r->c, SAKHI_EINVAL, field, "%s: not an enumeration field",
                              fi ? fi->name : "field");
    if (fi->key == SK_F_DISTRICT) { /* the centre's list, not the schema's */
        int d;
        int rc = sk_districts_code(r->c, value, &d);
        return rc ? rc : sakhi_referral_set_district(r, d);
    }
    uint32_t code = sk_enum_code((sk_enum_id)fi->enumeration, value);
    if (code == 0)
        return sk_client_fail(r->c, SAKHI_EINVAL, fi->name, "%s: unknown name", fi->name);
    if (fi->type == SK_FT_ENUM_ARRAY)
        return sakhi_referral_add_concern(r, (int)code);
    return set_uint(r, fi->key, code);
}

int sakhi_referral_set_raw(sakhi_referral *r, unsigned int key, const void *msgpack, size_t len)
{
    if (!r || !msgpack || key < 1 || key > SK_MAX_FIELD_KEY)
        return SAKHI_EINVAL;
    if (key == SK_F_DEVICE || key == SK_F_WORKER)
        return sk_client_fail(r->c, SAKHI_EINVAL, sk_case_field_info(key)->name,
                              "%s: set by the server", sk_case_field_info(key)->name);
    if (len == 0 || len > SK_MAX_VALUE || sk_mp_check(msgpack, len, &sk_mp_default_limits) != 0)
        return sk_client_fail(r->c, SAKHI_EINVAL, NULL,
                              "value must be one MessagePack value of at most %u bytes",
                              (unsigned)SK_MAX_VALUE);
    return sk_client_err_from_sk(sk_change_set(&r->ch, key, msgpack, (uint32_t)len));
}

/* ---- saving --------------------------------------------------------------------------------- */

static int change_has(const sk_change *ch, uint32_t key)
{
    for (uint32_t i = 0; i < ch->nfields; i++)
        if (ch->fields[i].key == key)
            return 1;
    return 0;
}

static int add_str(sk_change *ch, uint32_t key, const char *s)
{
    sk_buf b = SK_BUF_INIT_A(ch->alloc);
    msgpack_packer pk;
    sk_packer_init(&pk, &b);
    sk_pack_cstr(&pk, s);
    int rc = b.oom ? -SK_E_NOMEM : sk_change_set(ch, key, b.data, (uint32_t)b.len);
    sk_buf_free(&b);
    return sk_client_err_from_sk(rc);
}

static const char *worker_or_device(sakhi_client *c)
{
    return c->worker[0] ? c->worker : "this-device";
}

/* Defaults of a new referral: schema, capture time, status new, consent stamp. */
static int fill_defaults(sakhi_client *c, sk_change *ch, uint64_t now_ms)
{
    int rc = 0, share = 0;
    if (!change_has(ch, SK_F_SCHEMA) && (rc = add_uint(ch, SK_F_SCHEMA, SK_SCHEMA_VERSION)))
        return rc;
    if (!change_has(ch, SK_F_CREATED_AT) && (rc = add_uint(ch, SK_F_CREATED_AT, now_ms)))
        return rc;
    if (!change_has(ch, SK_F_STATUS) && (rc = add_uint(ch, SK_F_STATUS, SK_STATUS_NEW)))
        return rc;
    for (uint32_t i = 0; i < ch->nfields; i++)
        if (ch->fields[i].key == SK_F_CONSENT_SHARE && ch->fields[i].len == 1 &&
            ch->fields[i].val[0] == 0xc3)
            share = 1;
    if (share && !change_has(ch, SK_F_CONSENT_BY) &&
        (rc = add_str(ch, SK_F_CONSENT_BY, worker_or_device(c))))
        return rc;
    if (share && !change_has(ch, SK_F_CONSENT_AT) && (rc = add_uint(ch, SK_F_CONSENT_AT, now_ms)))
        return rc;
    return 0;
}

/* Fold the fields and entries of a rejected change that the new change does not set into it,
 * so fixing a rejected referral re-sends everything the server never applied. */
static int fold_rejected(sk_change *ch, const sk_change *rej)
{
    int rc;
    for (uint32_t i = 0; i < rej->nfields; i++)
        if (!change_has(ch, rej->fields[i].key) &&
            (rc = sk_change_set(ch, rej->fields[i].key, rej->fields[i].val, rej->fields[i].len)))
            return sk_client_err_from_sk(rc);
    for (uint32_t i = 0; i < rej->nentries; i++) {
        int dup = 0;
        for (uint32_t j = 0; j < ch->nentries; j++)
            if (sk_id_cmp(&ch->entries[j].id, &rej->entries[i].id) == 0)
                dup = 1;
        if (!dup && (rc = sk_change_add_entry(ch, &rej->entries[i].id, rej->entries[i].list,
                                              rej->entries[i].val, rej->entries[i].len)))
            return sk_client_err_from_sk(rc);
    }
    return 0;
}

static int validation_error(sakhi_client *c, const sk_case_error *err, int rc)
{
    const sk_field_info *fi = err->field ? sk_case_field_info(err->field) : NULL;
    int code = (err->code == -SK_E_FORBIDDEN || err->code == -SK_E_TRANSITION) ? SAKHI_EFORBIDDEN
                                                                               : SAKHI_EVALIDATION;
    if (!err->code && rc)
        code = sk_client_err_from_sk(rc);
    return sk_client_fail(c, code, fi ? fi->name : NULL, "%s",
                          err->msg[0] ? err->msg : "record is not valid");
}

/*
 * Build the change of draft d (or of a bare change `add` for follow-ups) against the stored
 * state, check it, and when commit is set write it durably. Called with the mutex held.
 */
/* Is the change only task updates (what a worker may save on a stub)? */
static int only_task_updates(const sk_change *ch)
{
    if (ch->nfields || !ch->nentries)
        return 0;
    for (uint32_t i = 0; i < ch->nentries; i++)
        if (ch->entries[i].list != SK_LIST_TASK_UPDATE)
            return 0;
    return 1;
}

static int save_locked(sakhi_client *c, const sk_id *id, int is_new, const sk_change *draft,
                       int commit)
{
    MDB_txn *txn = NULL;
    sk_rstate rs;
    sk_change ch;
    sk_case_error err;
    sk_clock saved_clock = c->clock;
    int rc;

    sk_rstate_init(&rs, &c->alloc);
    sk_change_init_alloc(&ch, &c->alloc);
    memset(&err, 0, sizeof(err));
    if ((rc = sk_lstore_txn(c, !commit, &txn)))
        goto out;
    rc = sk_lstore_rstate_get(c, txn, id, &rs);
    if (rc == SAKHI_ENOTFOUND && is_new) {
        rc = 0;
    } else if (rc == SAKHI_ENOTFOUND) {
        rc = sk_client_fail(c, rc, NULL, "no such record");
        goto out;
    } else if (rc) {
        goto out;
    } else {
        is_new = 0;
        if ((rs.stub && !only_task_updates(draft)) || (rs.view.flags & SK_REC_TOMBSTONE) ||
            (rs.base.flags & SK_REC_TOMBSTONE)) {
            rc = sk_client_fail(c, SAKHI_ESTATE, NULL,
                                rs.stub ? "only a stub of this record is kept on this device"
                                        : "the record was deleted");
            goto out;
        }
    }
    if ((rc = sk_client_err_from_sk(sk_change_copy(&ch, draft))))
        goto out;
    ch.id = *id;
    ch.op = c->next_op;
    /* The version this edit saw: the pulled one, or the one our own applied change made. */
    ch.base = rs.base.version;
    ch.kind = SK_CHANGE_UPSERT;
    uint64_t wall = sk_client_wall_ms(c);
    ch.hlc = sk_clock_now(&c->clock, wall);
    if (is_new && (rc = fill_defaults(c, &ch, SK_HLC_MS(ch.hlc))))
        goto out;
    if (rs.has_rejected) {
        if ((rc = fold_rejected(&ch, &rs.rejected)))
            goto out;
    }
    if (c->enrolled) {
        sk_actor actor = {c->role, c->worker, c->district};
        if (sk_case_check_change(&actor, &rs.base, &ch, &err)) {
            rc = validation_error(c, &err, 0);
            goto out;
        }
    }
    if ((rc = sk_lstore_rebuild(c, txn, &rs, &ch)))
        goto out;
    /* A stub lacks the fields validation requires: a task update on it was judged by the
     * permission check above (the task is hers and on the record); the server validates the
     * whole record. */
    if (!(rs.view.flags & SK_REC_TOMBSTONE) && !rs.stub) {
        int vrc = sk_case_validate_flags(&rs.view, SK_VALIDATE_KEEP_UNKNOWN, &err);
        if (vrc && err.field == SK_F_CASE_NO && !sk_record_field(&rs.view, SK_F_CASE_NO) &&
            change_has(&ch, SK_F_STATUS)) {
            /* Accepting: the server assigns the case number; judge the rest with a stand-in. */
            sk_record tmp;
            char no[40];
            sk_record_init_alloc(&tmp, &c->alloc);
            if (sk_record_copy(&tmp, &rs.view) == 0 &&
                sk_case_number_format(no, sizeof(no), "XX", 2026, 1) == 0) {
                sk_buf b = SK_BUF_INIT_A(&c->alloc);
                msgpack_packer pk;
                sk_packer_init(&pk, &b);
                sk_pack_cstr(&pk, no);
                if (!b.oom && sk_record_set(&tmp, SK_F_CASE_NO, b.data, (uint32_t)b.len, 0, 0) == 0)
                    vrc = sk_case_validate_flags(&tmp, SK_VALIDATE_KEEP_UNKNOWN, &err);
                sk_buf_free(&b);
            }
            sk_record_free(&tmp);
        }
        if (vrc) {
            rc = validation_error(c, &err, vrc);
            goto out;
        }
    }
    if (!commit)
        goto out;

    if ((rc = sk_outbox_put(c, txn, &ch)) || (rc = sk_rstate_pending_add(&rs, ch.op)))
        goto out;
    if (rs.has_rejected)
        sk_rstate_clear_rejected(&rs);
    if ((rc = sk_lstore_rebuild(c, txn, &rs, NULL)) || (rc = sk_lstore_rstate_put(c, txn, &rs)))
        goto out;
    c->next_op++;
    if ((rc = sk_lstore_counters_put(c, txn))) {
        c->next_op--;
        goto out;
    }
    rc = sk_lstore_commit(c, txn);
    txn = NULL;
    if (rc) {
        c->next_op--;
        goto out;
    }
    saved_clock = c->clock; /* the stamp is used: keep the clock where it is */
out:
    if (txn && commit)
        sk_lstore_abort(c, txn);
    else if (txn)
        mdb_txn_abort(txn); /* read-only: a validation */
    if (rc || !commit)
        c->clock = saved_clock;
    sk_change_free(&ch);
    sk_rstate_free(&rs);
    return rc;
}

int sakhi_referral_validate(sakhi_referral *r)
{
    if (!r)
        return SAKHI_EINVAL;
    sakhi_client *c = r->c;
    int rc = begin_change(c);
    if (rc)
        return rc;
    rc = save_locked(c, &r->id, r->is_new, &r->ch, 0);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sakhi_referral_save(char *id_out, sakhi_client *c, sakhi_referral *r)
{
    int rc;
    if (!c || !r || r->c != c)
        return SAKHI_EINVAL;
    if ((rc = begin_change(c)))
        return rc;
    if (r->is_new || r->ch.nfields || r->ch.nentries)
        rc = save_locked(c, &r->id, r->is_new, &r->ch, 1);
    pthread_mutex_unlock(&c->mu);
    if (rc)
        return rc;
    sk_change_free(&r->ch);
    sk_change_init_alloc(&r->ch, &c->alloc);
    r->ch.id = r->id;
    r->is_new = 0;
    if (id_out)
        memcpy(id_out, r->idstr, SAKHI_ID_STRLEN);
    return 0;
}

/* Open the map of a list entry with n ? 3 : 2 pairs plus extra: who wrote it, its text (when n
 * is not 0) and when; the caller packs the extra pairs. */
static void pack_entry_head(msgpack_packer *pk, sakhi_client *c, uint32_t extra, const char *text,
                            size_t n)
{
    msgpack_pack_map(pk, (n ? 3 : 2) + extra);
    msgpack_pack_uint32(pk, SK_ENTRY_BY);
    sk_pack_cstr(pk, worker_or_device(c));
    if (n) {
        msgpack_pack_uint32(pk, SK_ENTRY_TEXT);
        sk_pack_str(pk, text, n);
    }
    msgpack_pack_uint32(pk, SK_ENTRY_AT);
    msgpack_pack_uint64(pk, (uint64_t)((int64_t)sk_client_wall_ms(c) + c->clock.offset_ms));
}

/* Save the packed entry b, under a new entry id, on list `list` of record id: one change that
 * adds only it. Called with the mutex held. */
static int save_entry(sakhi_client *c, const sk_id *id, uint32_t list, const sk_buf *b)
{
    sk_id eid;
    sk_change ch;
    int rc;
    if (b->oom)
        return SAKHI_ENOMEM;
    if (sk_id_new(&eid, sk_client_wall_ms(c)))
        return SAKHI_EIO;
    sk_change_init_alloc(&ch, &c->alloc);
    ch.id = *id;
    rc = sk_client_err_from_sk(sk_change_add_entry(&ch, &eid, list, b->data, (uint32_t)b->len));
    if (!rc)
        rc = save_locked(c, id, 0, &ch, 1);
    sk_change_free(&ch);
    return rc;
}

int sakhi_followup_add(sakhi_client *c, const char *idtext, const char *text)
{
    sk_id id;
    sk_buf b = SK_BUF_INIT_A(&c->alloc);
    msgpack_packer pk;
    int rc;
    if (!c || !idtext || !text || sk_id_from_str(&id, idtext) != 0)
        return SAKHI_EINVAL;
    size_t n = strlen(text), start, len;
    if (!utf8_ok(text, n))
        return sk_client_fail(c, SAKHI_EINVAL, NULL, "follow_up: text must be valid UTF-8");
    sk_text_trim(text, n, &start, &len);
    text += start;
    n = len;
    if (n == 0 || sk_utf8_chars(text, n) > 4000)
        return sk_client_fail(c, SAKHI_EINVAL, NULL,
                              "follow_up: text must be 1 to 4000 characters, not blank");
    if ((rc = begin_change(c)))
        return rc;
    sk_packer_init(&pk, &b);
    pack_entry_head(&pk, c, 0, text, n);
    rc = save_entry(c, &id, SK_LIST_FOLLOWUP, &b);
    pthread_mutex_unlock(&c->mu);
    sk_vault_buf_wipe(&b);
    return rc;
}

int sakhi_task_set(sakhi_client *c, const char *idtext, const char *tasktext, int state,
                   const char *note)
{
    sk_id id, tid;
    sk_buf b = SK_BUF_INIT_A(&c->alloc);
    msgpack_packer pk;
    sk_rstate rs;
    int rc;
    if (!c || !idtext || !tasktext || sk_id_from_str(&id, idtext) != 0 ||
        sk_id_from_str(&tid, tasktext) != 0 ||
        (state != SAKHI_TASK_OPEN && state != SAKHI_TASK_DONE && state != SAKHI_TASK_CANCELLED))
        return SAKHI_EINVAL;
    size_t n = note ? strlen(note) : 0;
    if (n > 4000 || (n && !utf8_ok(note, n)))
        return sk_client_fail(c, SAKHI_EINVAL, NULL,
                              "task_update: note must be 0 to 4000 bytes of UTF-8");
    if ((rc = begin_change(c)))
        return rc;
    sk_rstate_init(&rs, &c->alloc);
    /* The task must be on the record as this device sees it, in another state. */
    if ((rc = read_rstate(c, &id, &rs)))
        goto out;
    sk_task_view tv[64];
    size_t nt = 0, found = (size_t)-1;
    (void)sk_case_tasks(&rs.view, tv, 64, &nt);
    for (size_t i = 0; i < nt && i < 64; i++)
        if (sk_id_cmp(&tv[i].id, &tid) == 0)
            found = i;
    if (found == (size_t)-1) {
        rc = sk_client_fail(c, SAKHI_ENOTFOUND, NULL, "task: no such task on this case");
        goto out;
    }
    if ((int)tv[found].state == state) {
        rc = sk_client_fail(c, SAKHI_ESTATE, NULL, "task: already in that state");
        goto out;
    }
    sk_packer_init(&pk, &b);
    pack_entry_head(&pk, c, 2, note, n);
    msgpack_pack_uint32(&pk, SK_ENTRY_TASK);
    msgpack_pack_bin(&pk, 16);
    msgpack_pack_bin_body(&pk, tid.b, 16);
    msgpack_pack_uint32(&pk, SK_ENTRY_STATE);
    msgpack_pack_uint32(&pk, (uint32_t)state);
    rc = save_entry(c, &id, SK_LIST_TASK_UPDATE, &b);
out:
    pthread_mutex_unlock(&c->mu);
    sk_rstate_free(&rs);
    sk_vault_buf_wipe(&b);
    return rc;
}

int sakhi_discard_change(sakhi_client *c, const char *idtext)
{
    sk_id id;
    MDB_txn *txn = NULL;
    sk_rstate rs;
    int rc;
    if (!c || !idtext || sk_id_from_str(&id, idtext) != 0)
        return SAKHI_EINVAL;
    if ((rc = begin_change(c)))
        return rc;
    sk_rstate_init(&rs, &c->alloc);
    if ((rc = sk_lstore_txn(c, 0, &txn)))
        goto out;
    if ((rc = sk_lstore_rstate_get(c, txn, &id, &rs)))
        goto out;
    if (!rs.has_rejected) {
        rc = sk_client_fail(c, SAKHI_ESTATE, NULL, "the record has no rejected change");
        goto out;
    }
    sk_rstate_clear_rejected(&rs);
    if (rs.base.version == 0 && rs.acked_ver == 0 && rs.npending == 0)
        rc = sk_lstore_rstate_del(c, txn, &id);
    else if (!(rc = sk_lstore_rebuild(c, txn, &rs, NULL)))
        rc = sk_lstore_rstate_put(c, txn, &rs);
out:
    if (txn)
        rc = sk_lstore_end(c, txn, rc);
    pthread_mutex_unlock(&c->mu);
    sk_rstate_free(&rs);
    return rc;
}
