/*
 * read.c - reading the local store: one record (decrypted) with typed getters and a JSON
 * rendering, lists from the plain index with filters and a cursor, counters and status.
 *
 * Lists read only the index database, so they never decrypt a record and use memory
 * independent of the store's size. Owns sakhi_record objects. It must never render a field it
 * cannot attribute (values are rendered generically, never interpreted beyond the case model)
 * and never log what it renders.
 */
#include "sk_client.h"

#include "sk_err.h"
#include "sk_jw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sakhi_record {
    sakhi_client *c;
    char idstr[SAKHI_ID_STRLEN];
    sk_record view;
    uint32_t state;
    int stub;
    uint32_t rej_code;
    char rej_field[48];
    char rej_msg[SK_MAX_MESSAGE + 1];
    char **strs; /* NUL-terminated copies handed out by getters */
    size_t nstrs;
};

const char *sakhi_sync_state_name(int state)
{
    switch (state) {
    case SAKHI_SYNC_PENDING: return "pending";
    case SAKHI_SYNC_SENT: return "sent";
    case SAKHI_SYNC_RECEIVED: return "received";
    case SAKHI_SYNC_ACCEPTED: return "accepted";
    case SAKHI_SYNC_REJECTED: return "rejected";
    case SAKHI_SYNC_CONFLICT: return "conflict";
    default: return "unknown";
    }
}

static int load(sakhi_client *c, const char *idtext, sk_rstate *rs)
{
    sk_id id;
    MDB_txn *txn = NULL;
    int rc;
    if (!c || !idtext || sk_id_from_str(&id, idtext) != 0)
        return SAKHI_EINVAL;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    pthread_mutex_lock(&c->mu);
    sk_client_clear_err(c);
    if (!(rc = sk_lstore_txn(c, 1, &txn))) {
        rc = sk_lstore_rstate_get(c, txn, &id, rs);
        mdb_txn_abort(txn);
    }
    if (rc == SAKHI_ENOTFOUND)
        sk_client_fail(c, rc, NULL, "no such record");
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sakhi_record_get(sakhi_record **out, sakhi_client *c, const char *idtext)
{
    sk_rstate rs;
    if (!out)
        return SAKHI_EINVAL;
    sk_rstate_init(&rs, &c->alloc);
    int rc = load(c, idtext, &rs);
    if (rc) {
        sk_rstate_free(&rs);
        return rc;
    }
    sakhi_record *rec = sk_client_calloc(c, sizeof(*rec));
    if (!rec) {
        sk_rstate_free(&rs);
        return SAKHI_ENOMEM;
    }
    rec->c = c;
    rec->view = rs.view;
    sk_record_init_alloc(&rs.view, &c->alloc);
    sk_id_to_str(&rec->view.id, rec->idstr);
    rec->state = rs.state;
    rec->stub = rs.stub;
    if (rs.has_rejected) {
        const sk_field_info *fi = rs.rej_field ? sk_case_field_info(rs.rej_field) : NULL;
        rec->rej_code = rs.rej_code;
        snprintf(rec->rej_field, sizeof(rec->rej_field), "%s", fi ? fi->name : "");
        snprintf(rec->rej_msg, sizeof(rec->rej_msg), "%s", rs.rej_msg);
    }
    sk_rstate_free(&rs);
    *out = rec;
    return 0;
}

void sakhi_record_free(sakhi_record *rec)
{
    if (!rec)
        return;
    for (size_t i = 0; i < rec->nstrs; i++)
        sk_client_dealloc(rec->c, rec->strs[i]);
    sk_client_dealloc(rec->c, rec->strs);
    sk_record_free(&rec->view);
    sk_client_dealloc(rec->c, rec);
}

const char *sakhi_record_id(const sakhi_record *rec)
{
    return rec ? rec->idstr : "";
}
int sakhi_record_sync_state(const sakhi_record *rec)
{
    return rec ? (int)rec->state : 0;
}
uint64_t sakhi_record_version(const sakhi_record *rec)
{
    return rec ? rec->view.version : 0;
}
int sakhi_record_is_stub(const sakhi_record *rec)
{
    return rec ? rec->stub : 0;
}
int sakhi_record_is_deleted(const sakhi_record *rec)
{
    return rec ? (rec->view.flags & SK_REC_TOMBSTONE) != 0 : 0;
}
int sakhi_record_needs_review(const sakhi_record *rec)
{
    return rec ? (rec->view.flags & SK_REC_REVIEW) != 0 || rec->state == SAKHI_SYNC_CONFLICT : 0;
}
int sakhi_record_reject_code(const sakhi_record *rec)
{
    return rec ? (int)rec->rej_code : 0;
}
const char *sakhi_record_reject_field(const sakhi_record *rec)
{
    return rec ? rec->rej_field : "";
}
const char *sakhi_record_reject_reason(const sakhi_record *rec)
{
    return rec ? rec->rej_msg : "";
}

static const sk_field_info *field_named(const char *name)
{
    const sk_field_info *fi = sk_case_field_by_name(name);
    if (!fi && strcmp(name, "marital") == 0)
        fi = sk_case_field_info(SK_F_MARITAL);
    if (!fi && strcmp(name, "source") == 0)
        fi = sk_case_field_info(SK_F_SOURCE);
    return fi;
}

/* Keep a NUL-terminated copy owned by rec. */
static const char *keep_str(sakhi_record *rec, const char *p, size_t n)
{
    char **strs =
        sk_areallocarray(&rec->c->alloc, rec->strs, (size_t)rec->nstrs + 1, sizeof(char *));
    if (!strs)
        return NULL;
    rec->strs = strs;
    char *s = sk_client_alloc(rec->c, n + 1);
    if (!s)
        return NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    rec->strs[rec->nstrs++] = s;
    return s;
}

/* A reader at the value of rec's field named field, for a getter writing to out: 0,
 * SAKHI_EINVAL for a NULL argument or no such field name, SAKHI_ENOTFOUND when the record has
 * no value for it. */
static int field_value(const void *out, const sakhi_record *rec, const char *field, sk_mp *m)
{
    if (!out || !rec || !field)
        return SAKHI_EINVAL;
    const sk_field_info *fi = field_named(field);
    if (!fi)
        return SAKHI_EINVAL;
    const sk_field *f = sk_record_field(&rec->view, fi->key);
    if (!f)
        return SAKHI_ENOTFOUND;
    sk_mp_init(m, f->val, f->len);
    return sk_mp_peek(m) == SK_MP_NIL ? SAKHI_ENOTFOUND : 0;
}

int sakhi_record_get_str(const char **out, sakhi_record *rec, const char *field)
{
    sk_mp m;
    const char *p;
    uint32_t n;
    int rc = field_value(out, rec, field, &m);
    if (rc)
        return rc;
    if (sk_mp_read_str(&m, &p, &n))
        return SAKHI_EINVAL;
    const char *s = keep_str(rec, p, n);
    if (!s)
        return SAKHI_ENOMEM;
    *out = s;
    return 0;
}

int sakhi_record_get_uint(uint64_t *out, const sakhi_record *rec, const char *field)
{
    sk_mp m;
    int rc = field_value(out, rec, field, &m);
    return rc ? rc : sk_mp_read_uint(&m, out) ? SAKHI_EINVAL : 0;
}

int sakhi_record_get_bool(int *out, const sakhi_record *rec, const char *field)
{
    sk_mp m;
    int rc = field_value(out, rec, field, &m);
    return rc ? rc : sk_mp_read_bool(&m, out) ? SAKHI_EINVAL : 0;
}

size_t sakhi_record_followup_count(const sakhi_record *rec)
{
    size_t n = 0;
    if (!rec)
        return 0;
    for (uint32_t i = 0; i < rec->view.nentries; i++)
        if (rec->view.entries[i].list == SK_LIST_FOLLOWUP)
            n++;
    return n;
}

/* Read key k of an entry value map as a string. */
static int entry_str(const sk_entry *e, uint64_t want, const char **p, uint32_t *n)
{
    sk_mp m;
    uint32_t cnt;
    sk_mp_init(&m, e->val, e->len);
    if (sk_mp_read_map(&m, &cnt))
        return -1;
    for (uint32_t i = 0; i < cnt; i++) {
        uint64_t k;
        if (sk_mp_read_uint(&m, &k))
            return -1;
        if (k == want && sk_mp_peek(&m) == SK_MP_STR)
            return sk_mp_read_str(&m, p, n) ? -1 : 0;
        if (sk_mp_skip(&m))
            return -1;
    }
    return -1;
}

const char *sakhi_record_followup_text(sakhi_record *rec, size_t idx)
{
    size_t n = 0;
    if (!rec)
        return NULL;
    for (uint32_t i = 0; i < rec->view.nentries; i++) {
        const sk_entry *e = &rec->view.entries[i];
        if (e->list != SK_LIST_FOLLOWUP)
            continue;
        if (n++ == idx) {
            const char *p;
            uint32_t len;
            if (entry_str(e, SK_ENTRY_TEXT, &p, &len))
                return NULL;
            return keep_str(rec, p, len);
        }
    }
    return NULL;
}

size_t sakhi_record_task_count(const sakhi_record *rec)
{
    size_t n = 0;
    sk_task_view tv;
    if (!rec || sk_case_tasks(&rec->view, &tv, 0, &n) != 0)
        return 0;
    return n;
}

int sakhi_record_task(sakhi_task *out, sakhi_record *rec, size_t idx, uint64_t now_ms)
{
    sk_task_view *tv;
    size_t n = 0;
    int rc = SAKHI_EINVAL;
    if (!out || !rec || sk_case_tasks(&rec->view, NULL, 0, &n) != 0 || idx >= n)
        return SAKHI_EINVAL;
    if (!(tv = sk_client_calloc(rec->c, n * sizeof(*tv))))
        return SAKHI_ENOMEM;
    if (sk_case_tasks(&rec->view, tv, n, &n) != 0 || idx >= n)
        goto out;
    const sk_task_view *t = &tv[idx];
    memset(out, 0, sizeof(*out));
    sk_id_to_str(&t->id, out->id);
    out->text = keep_str(rec, t->text, t->text_len);
    out->for_worker = keep_str(rec, t->for_worker, t->for_len);
    out->note = t->note ? keep_str(rec, t->note, t->note_len) : NULL;
    if (!out->text || !out->for_worker || (t->note && !out->note)) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    out->due_ms = t->due;
    out->state = (int)t->state;
    out->urgency = sk_task_urgency(t, now_ms, 7ull * 24 * 3600 * 1000);
    rc = 0;
out:
    sk_client_dealloc(rec->c, tv);
    return rc;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static void json_str(sk_buf *b, const char *s)
{
    sk_jw_escape(b, s, strlen(s));
}

static void json_enum_value(sk_buf *b, const sk_field_info *fi, const uint8_t *val, uint32_t len)
{
    sk_mp m;
    uint64_t code;
    uint32_t cnt;
    sk_mp_init(&m, val, len);
    if (fi->type == SK_FT_ENUM && sk_mp_read_uint(&m, &code) == 0) {
        const char *name = sk_enum_name((sk_enum_id)fi->enumeration, code);
        if (name) {
            json_str(b, name);
            return;
        }
    } else if (fi->type == SK_FT_ENUM_ARRAY && sk_mp_read_array(&m, &cnt) == 0) {
        sk_buf tmp = SK_BUF_INIT_A(b->alloc);
        int ok = 1;
        sk_buf_append(&tmp, "[", 1);
        for (uint32_t i = 0; i < cnt && ok; i++) {
            const char *name;
            if (sk_mp_read_uint(&m, &code) ||
                !(name = sk_enum_name((sk_enum_id)fi->enumeration, code)))
                ok = 0;
            else {
                if (i)
                    sk_buf_append(&tmp, ",", 1);
                json_str(&tmp, name);
            }
        }
        sk_buf_append(&tmp, "]", 1);
        if (ok && !tmp.oom) {
            sk_buf_append(b, tmp.data, tmp.len);
            sk_vault_buf_wipe(&tmp);
            return;
        }
        sk_vault_buf_wipe(&tmp);
    }
    if (sk_msg_mp_to_json(b, val, len))
        sk_buf_append(b, "null", 4);
}

int sakhi_record_json(char **out, sakhi_client *c, const char *idtext)
{
    sk_rstate rs;
    sk_buf b = SK_BUF_INIT_A(&c->alloc);
    char num[64], idstr[37];
    int rc;
    if (!out)
        return SAKHI_EINVAL;
    sk_rstate_init(&rs, &c->alloc);
    if ((rc = load(c, idtext, &rs)))
        goto out;
    const sk_record *v = &rs.view;
    sk_id_to_str(&v->id, idstr);
    sk_buf_append(&b, "{\"id\":", 6);
    json_str(&b, idstr);
    snprintf(num, sizeof(num), ",\"version\":%llu,\"sync_state\":", (unsigned long long)v->version);
    sk_buf_append(&b, num, strlen(num));
    json_str(&b, sakhi_sync_state_name((int)rs.state));
    snprintf(num, sizeof(num), ",\"stub\":%s,\"deleted\":%s,\"review\":%s,\"fields\":{",
             rs.stub ? "true" : "false", (v->flags & SK_REC_TOMBSTONE) ? "true" : "false",
             (v->flags & SK_REC_REVIEW) ? "true" : "false");
    sk_buf_append(&b, num, strlen(num));
    for (uint32_t i = 0; i < v->nfields; i++) {
        const sk_field *f = &v->fields[i];
        const sk_field_info *fi = sk_case_field_info(f->key);
        if (i)
            sk_buf_append(&b, ",", 1);
        if (fi) {
            json_str(&b, fi->name);
        } else {
            snprintf(num, sizeof(num), "%u", (unsigned)f->key);
            json_str(&b, num);
        }
        sk_buf_append(&b, ":", 1);
        if (fi && fi->enumeration >= 0)
            json_enum_value(&b, fi, f->val, f->len);
        else if (sk_msg_mp_to_json(&b, f->val, f->len))
            sk_buf_append(&b, "null", 4);
    }
    sk_buf_append(&b, "},\"followups\":[", 15);
    int first = 1;
    for (uint32_t i = 0; i < v->nentries; i++) {
        const sk_entry *e = &v->entries[i];
        if (e->list != SK_LIST_FOLLOWUP)
            continue;
        if (!first)
            sk_buf_append(&b, ",", 1);
        first = 0;
        if (sk_msg_mp_to_json(&b, e->val, e->len))
            sk_buf_append(&b, "null", 4);
    }
    sk_buf_append(&b, "]", 1);
    if (rs.has_rejected) {
        const sk_field_info *fi = rs.rej_field ? sk_case_field_info(rs.rej_field) : NULL;
        snprintf(num, sizeof(num), ",\"reject\":{\"code\":%u,\"field\":", (unsigned)rs.rej_code);
        sk_buf_append(&b, num, strlen(num));
        json_str(&b, fi ? fi->name : "");
        sk_buf_append(&b, ",\"reason\":", 10);
        json_str(&b, rs.rej_msg);
        sk_buf_append(&b, "}", 1);
    }
    sk_buf_append(&b, "}", 2); /* with the NUL */
    if (b.oom) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    char *s = sk_client_alloc(c, b.len);
    if (!s) {
        rc = SAKHI_ENOMEM;
        goto out;
    }
    memcpy(s, b.data, b.len);
    *out = s;
out:
    sk_vault_buf_wipe(&b);
    sk_rstate_free(&rs);
    return rc;
}

/* ---- lists ---------------------------------------------------------------------------------- */

static int matches(const sk_index_row *row, const sakhi_list_filter *f)
{
    if (!f)
        return 1;
    if (f->status && row->status != f->status)
        return 0;
    if (f->sync_state && row->state != f->sync_state)
        return 0;
    if (f->pending_only && !row->pending)
        return 0;
    if (f->from_ms && row->created_ms < f->from_ms)
        return 0;
    if (f->to_ms && row->created_ms >= f->to_ms)
        return 0;
    return 1;
}

int sakhi_list(sakhi_list_item *items, size_t cap, size_t *count_out, char *next_cursor,
               sakhi_client *c, const sakhi_list_filter *filter)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    sk_id after;
    size_t n = 0;
    int rc = 0, mrc;

    if (!c || !count_out || (cap && !items))
        return SAKHI_EINVAL;
    if (filter && (filter->version < 1 || filter->version > SAKHI_LIST_FILTER_VERSION))
        return SAKHI_EINVAL;
    int has_after = filter && filter->after && filter->after[0];
    if (has_after && sk_id_from_str(&after, filter->after))
        return SAKHI_EINVAL; /* parsed first: next_cursor may be the same buffer */
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    if (next_cursor)
        next_cursor[0] = '\0';
    pthread_mutex_lock(&c->mu);
    sk_client_clear_err(c);
    if ((rc = sk_lstore_txn(c, 1, &txn)))
        goto out;
    if ((mrc = mdb_cursor_open(txn, c->dbi_index, &cur))) {
        rc = sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "index: %s", mdb_strerror(mrc));
        goto out;
    }
    if (has_after) {
        k.mv_data = after.b;
        k.mv_size = 16;
        mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (mrc == 0 && k.mv_size == 16 && memcmp(k.mv_data, after.b, 16) == 0)
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    } else {
        mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    for (; mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        sk_index_row row;
        if (k.mv_size != 16)
            continue;
        sk_lstore_index_decode(v.mv_data, v.mv_size, &row);
        if (!matches(&row, filter))
            continue;
        if (n == cap) {
            /* one more matching row exists: the page is full */
            if (next_cursor && n > 0)
                memcpy(next_cursor, items[n - 1].id, SAKHI_ID_STRLEN);
            break;
        }
        sakhi_list_item *it = &items[n++];
        sk_id id;
        memcpy(id.b, k.mv_data, 16);
        sk_id_to_str(&id, it->id);
        it->status = row.status;
        it->urgency = row.urgency;
        it->sync_state = row.state;
        it->created_ms = row.created_ms;
        it->stub = row.stub;
    }
    if (mrc && mrc != MDB_NOTFOUND)
        rc = sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "index: %s", mdb_strerror(mrc));
    else
        *count_out = n;
out:
    if (cur)
        mdb_cursor_close(cur);
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sakhi_pending_count(uint64_t *out, sakhi_client *c)
{
    MDB_txn *txn = NULL;
    int rc;
    if (!out || !c)
        return SAKHI_EINVAL;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    pthread_mutex_lock(&c->mu);
    if (!(rc = sk_lstore_txn(c, 1, &txn))) {
        rc = sk_outbox_count(c, txn, out);
        mdb_txn_abort(txn);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

size_t sakhi_server_count(sakhi_client *c)
{
    size_t n;
    if (!c || c->wiped)
        return 0;
    pthread_mutex_lock(&c->mu);
    n = c->enrolled ? c->nservers : 0;
    pthread_mutex_unlock(&c->mu);
    return n;
}

int sakhi_server_get(sakhi_client *c, size_t i, sakhi_server *out)
{
    if (!c || !out || out->version < 1 || out->version > SAKHI_SERVER_VERSION)
        return SAKHI_EINVAL;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    pthread_mutex_lock(&c->mu);
    int rc = !c->enrolled || i >= c->nservers ? SAKHI_ENOTFOUND : 0;
    if (rc == 0) {
        const sk_server_addr *sa = &c->servers[i];
        snprintf(out->host, sizeof(out->host), "%s", sa->host);
        out->port = sa->port;
        out->pin[0] = '\0';
        if (!c->plaintext)
            sk_tls_pin_format(out->pin, sa->pin);
        out->primary = strcmp(sa->host, c->host) == 0 && sa->port == c->port &&
                       memcmp(sa->pin, c->pin, sizeof(c->pin)) == 0;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int sakhi_status_get(sakhi_status *out, sakhi_client *c)
{
    MDB_txn *txn = NULL;
    MDB_stat st;
    int rc;
    if (!out || !c || out->version < 1 || out->version > SAKHI_STATUS_VERSION)
        return SAKHI_EINVAL;
    unsigned int version = out->version;
    /* A version-1 caller's struct ends before the version-2 members. */
    memset(out, 0, version >= 2 ? sizeof(*out) : offsetof(sakhi_status, plaintext));
    out->version = version;
    if (c->wiped)
        return sk_client_fail(c, SAKHI_EREVOKED, NULL, "device revoked");
    pthread_mutex_lock(&c->mu);
    if (version >= 2) {
        out->plaintext = c->enrolled && c->plaintext;
        if (c->enrolled && !c->plaintext)
            sk_tls_pin_format(out->server_pin, c->pin);
    }
    out->enrolled = c->enrolled;
    out->device_id = c->device;
    snprintf(out->worker, sizeof(out->worker), "%s", c->worker);
    out->role = (int)c->role;
    out->district = c->district;
    snprintf(out->server_host, sizeof(out->server_host), "%s", c->host);
    out->server_port = c->port;
    if ((rc = sk_lstore_txn(c, 1, &txn)))
        goto out;
    if ((rc = sk_outbox_count(c, txn, &out->pending)) ||
        (rc = sk_lstore_meta_get_u64(c, txn, "lastsync", &out->last_sync_ms)) ||
        (rc = sk_lstore_meta_get_u64(c, txn, "cursor", &out->cursor)))
        goto out;
    int mrc = mdb_stat(txn, c->dbi_index, &st);
    if (mrc) {
        rc = sk_client_fail(c, sk_client_err_from_mdb(mrc), NULL, "index: %s", mdb_strerror(mrc));
        goto out;
    }
    out->records = st.ms_entries;
    /* rejected records: walk the index (plain, small rows) */
    MDB_cursor *cur;
    MDB_val k, v;
    if (mdb_cursor_open(txn, c->dbi_index, &cur) == 0) {
        for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            sk_index_row row;
            sk_lstore_index_decode(v.mv_data, v.mv_size, &row);
            if (row.state == SAKHI_SYNC_REJECTED)
                out->rejected++;
        }
        mdb_cursor_close(cur);
    }
out:
    if (txn)
        mdb_txn_abort(txn);
    pthread_mutex_unlock(&c->mu);
    return rc;
}
