/*
 * sk_record.c - record ids, the hybrid logical clock, the record and change containers, their
 * wire encoding, and the one merge function (sk_merge_apply) that server and client share.
 *
 * It owns the memory of records, changes and merge results (every value is copied in and freed
 * by the matching *_free). It is pure: no I/O, no clock reads, no logging; the only outside input
 * is sk_random() for new ids. It must never interpret a field's value (the case model does that),
 * never drop a value silently (anything a merge overwrites or refuses is handed back in the merge
 * result for the history), and never leave a record half-changed when it returns an error.
 *
 * ---- Hybrid logical clock (text for docs/PROTOCOL.md) --------------------------------------
 * A stamp is a uint64: (physical milliseconds << 16) | counter, compared as a plain integer.
 * Each device keeps `last` (the highest stamp it issued or saw) and `offset` (server time minus
 * its wall clock, learnt at every handshake from WELCOME.server_ms).
 *   now(wall):   p = wall + offset (clamped to [0, 2^48 - 1]).
 *                If p > ms(last): last = (p << 16) | 0.
 *                Otherwise:       last = last + 1, i.e. the counter goes up by one; a counter at
 *                                 0xffff wraps to 0 and carries into the milliseconds, so the
 *                                 stamp runs at most 1 ms ahead per 65536 events.
 *                The new `last` is the stamp. Stamps from one clock strictly increase even when
 *                the wall clock jumps backwards.
 *   observe(s):  last = max(last, s). A device observes every stamp it receives (record
 *                `updated` values in CHANGES), so its next edit orders after what it has seen.
 *   set_server_time(server_ms, local_ms): offset = server_ms - local_ms. A phone whose clock is
 *                days ahead therefore stamps near server time after its first handshake and
 *                cannot win every concurrent merge.
 *
 * ---- Merge (text for docs/PROTOCOL.md "Records, versions and merge") ------------------------
 * sk_merge_apply(record, change, new_ver):
 *  1. Existence. A record "exists" unless it is empty: version 0, created 0, flags 0, no fields
 *     and no entries. On an empty record only an UPSERT with base 0 is accepted (it creates the
 *     record: id, created = change hlc, created_ver = new_ver); any other change is NOT_FOUND.
 *     On an existing record the change's id must equal the record's (else INVALID) and base must
 *     not exceed the record's version (else BAD_BASE).
 *  2. Tombstones. UPSERT or DELETE on a deleted record, and anything on an erased record, is GONE.
 *     ERASE on a deleted (not yet erased) record is applied: erasure is a right that a prior
 *     delete must not block.
 *  3. DELETE sets the TOMBSTONE flag and keeps the content (it stays readable for audit until
 *     erased). ERASE wipes every field and entry (their bytes are overwritten before being
 *     freed), sets TOMBSTONE and ERASED and clears REVIEW (nothing is left to review). Erased
 *     content is NOT reported as displaced: erasure must not keep copies anywhere, so the history
 *     of the record must be wiped by the store as well. DELETE and ERASE must carry no fields or
 *     entries (INVALID otherwise: a value in them would otherwise be dropped unseen).
 *  4. UPSERT on an existing record, field by field in key order. Let s be the stored field with
 *     the same key:
 *      - absent: the incoming value is set;
 *      - s.ver <= base (the editor saw s): the incoming value wins whatever the stamps say;
 *      - s.ver > base (concurrent): the higher of (hlc, value bytes) wins, bytes compared as
 *        unsigned with memcmp over the shorter length and the shorter value lower when that is
 *        equal. If the two values differ the record gets REVIEW and the loser is displaced; if
 *        they are byte-identical there is no conflict and nothing is displaced (nothing is lost)
 *        and the stored field keeps its stamp unless the incoming stamp is higher.
 *     A winning incoming value is stamped (change hlc, new_ver), even when its bytes equal the
 *     stored ones: the stamp records that this change saw and confirmed the value, which is what
 *     makes the result independent of the order in which concurrent changes arrive.
 *     A re-create (UPSERT with base 0 on an existing record: a device re-sending a creation whose
 *     ack it lost) is simply this rule with base 0: every field set by the server (ver >= 1) is
 *     concurrent; fields only ever set locally (ver 0) count as seen.
 *  5. Entries are unioned by id, stamped (change hlc, new_ver) and kept sorted by
 *     (list, hlc, id). An entry id already present is ignored; if its list or bytes differ (a
 *     misbehaving device: entries are never edited), the incoming entry is displaced and REVIEW
 *     is set.
 *  6. Every applied change, even one that changes no value, sets version = max(version, new_ver)
 *     and updated = max(updated, hlc): every accepted change gets its own seq. new_ver 0 is the
 *     client showing a local, not yet pushed edit: version does not move and the fields it sets
 *     carry ver 0.
 *  7. A result with more than SK_MAX_FIELDS fields or SK_MAX_ENTRIES entries is refused with
 *     TOO_LONG, so the store never holds a record that peers cannot decode.
 * Wire form (docs/PROTOCOL.md section 3): encoders write field maps in ascending key order and
 * a record's entries in (list, hlc, id) order, so equal records give equal bytes; a change's
 * entries keep the order they were added. Decoders accept field keys in any order and store
 * them sorted, refuse duplicates (BAD_VALUE), keys outside 1..SK_MAX_FIELD_KEY (BAD_VALUE),
 * values over SK_MAX_VALUE bytes and more than SK_MAX_FIELDS / SK_MAX_ENTRIES (TOO_LONG), a
 * stamp for a field that is not there (BAD_VALUE), and a record entry of 4 elements
 * (MISSING_FIELD); they keep unknown flag bits and skip elements past the known ones in a
 * change, record, entry or stamp (room for later versions).
 * Convergence: when stamps respect causality (a device that saw a value stamps its later edit
 * higher, which observe() ensures), the winner of every field is the maximum of (hlc, bytes)
 * over all values offered for it, so concurrent changes give the same values and stamps in any
 * order; only the ver numbers (which change came first) and the displaced lists differ.
 */
#include "sk_record.h"
#include "sk_text.h"

#include "sk_crypto.h"
#include "sk_err.h"

#include <openssl/crypto.h>

#include <stdlib.h>
#include <string.h>

/* ---- ids ---------------------------------------------------------------------------------- */

int sk_id_new(sk_id *out, uint64_t wall_ms)
{
    sk_id id;
    if (sk_random(id.b + 6, 10))
        return -SK_E_INTERNAL;
    wall_ms &= 0xffffffffffffull; /* 48 bits: good until the year 10889 */
    for (int i = 5; i >= 0; i--) {
        id.b[i] = (uint8_t)wall_ms;
        wall_ms >>= 8;
    }
    id.b[6] = (uint8_t)((id.b[6] & 0x0f) | 0x70); /* version 7 */
    id.b[8] = (uint8_t)((id.b[8] & 0x3f) | 0x80); /* variant 10 */
    *out = id;
    return 0;
}

int sk_id_cmp(const sk_id *a, const sk_id *b)
{
    int c = memcmp(a->b, b->b, sizeof(a->b));
    return (c > 0) - (c < 0);
}

int sk_id_is_zero(const sk_id *a)
{
    for (size_t i = 0; i < sizeof(a->b); i++)
        if (a->b[i])
            return 0;
    return 1;
}

void sk_id_to_str(const sk_id *id, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[id->b[i] >> 4];
        out[o++] = hex[id->b[i] & 0x0f];
    }
    out[o] = '\0';
}

/* Accepts exactly the canonical 36-char form, or the same 32 hex digits with no hyphens. */
int sk_id_from_str(sk_id *out, const char *s)
{
    if (!s)
        return -SK_E_BAD_VALUE;
    size_t n = 0;
    while (n < 37 && s[n])
        n++;
    int hyphens;
    if (n == 36)
        hyphens = 1;
    else if (n == 32)
        hyphens = 0;
    else
        return -SK_E_BAD_VALUE;
    sk_id id;
    size_t pos = 0;
    for (size_t i = 0; i < 16; i++) {
        if (hyphens && (i == 4 || i == 6 || i == 8 || i == 10)) {
            if (s[pos] != '-')
                return -SK_E_BAD_VALUE;
            pos++;
        }
        int hi = sk_hex_digit(s[pos]), lo = sk_hex_digit(s[pos + 1]);
        if (hi < 0 || lo < 0)
            return -SK_E_BAD_VALUE;
        id.b[i] = (uint8_t)((hi << 4) | lo);
        pos += 2;
    }
    *out = id;
    return 0;
}

/* ---- hybrid logical clock ----------------------------------------------------------------- */

#define SK_HLC_MS_MAX 0xffffffffffffull

sk_hlc sk_clock_now(sk_clock *c, uint64_t wall_ms)
{
    uint64_t p;
    if (c->offset_ms < 0) {
        uint64_t back = (uint64_t)(-(c->offset_ms + 1)) + 1; /* no overflow at INT64_MIN */
        p = wall_ms > back ? wall_ms - back : 0;
    } else {
        uint64_t fwd = (uint64_t)c->offset_ms;
        p = wall_ms > UINT64_MAX - fwd ? UINT64_MAX : wall_ms + fwd;
    }
    if (p > SK_HLC_MS_MAX)
        p = SK_HLC_MS_MAX;
    if (p > SK_HLC_MS(c->last))
        c->last = SK_HLC_MAKE(p, 0);
    else if (c->last != UINT64_MAX)
        c->last++; /* counter + 1; 0xffff carries into the milliseconds */
    return c->last;
}

void sk_clock_observe(sk_clock *c, sk_hlc remote)
{
    if (remote > c->last)
        c->last = remote;
}

void sk_clock_set_server_time(sk_clock *c, uint64_t server_ms, uint64_t local_ms)
{
    /* Two's-complement difference, clamped to the int64 range. */
    if (server_ms >= local_ms) {
        uint64_t d = server_ms - local_ms;
        c->offset_ms = d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
    } else {
        uint64_t d = local_ms - server_ms;
        c->offset_ms = d > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)d;
    }
}

/* ---- values ------------------------------------------------------------------------------- */

/* What sk_record_set / sk_change_set accept as a value: exactly one well-formed MessagePack
 * value. Depth 8 because a change's entry value starts at nesting level 7 of a PUSH frame
 * (envelope, body, changes, change, entries, entry) and frames may nest 16 deep: a deeper value
 * built locally could never be pushed. */
static const sk_mp_limits k_value_limits = {
    .max_depth = 8,
    .max_str = SK_MAX_VALUE,
    .max_bin = SK_MAX_VALUE,
    .max_items = SK_MAX_VALUE,
};

static int check_value(const void *val, uint32_t len)
{
    if (!val || len == 0)
        return -SK_E_BAD_VALUE;
    if (len > SK_MAX_VALUE)
        return -SK_E_TOO_LONG;
    int rc = sk_mp_check(val, len, &k_value_limits);
    return rc ? -SK_E_BAD_VALUE : 0;
}

static uint8_t *dup_bytes(const sk_allocator *a, const void *p, uint32_t len)
{
    return sk_amemdup(a, p, len);
}

/* Order of two values as the merge tie-break sees them: memcmp, then shorter first. */
static int value_cmp(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    uint32_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return (c > 0) - (c < 0);
    return (alen > blen) - (alen < blen);
}

static int value_eq(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* The array arr of n elements of size bytes grown by one, with a copy of val in *copy: what
 * adding a field, an entry or a displaced value needs. NULL when out of memory (arr is then
 * unchanged and nothing is allocated). */
static void *grow_by_one(const sk_allocator *a, void *arr, uint32_t n, size_t size, const void *val,
                         uint32_t len, uint8_t **copy)
{
    if (n >= UINT32_MAX / 2 || !(*copy = dup_bytes(a, val, len)))
        return NULL;
    void *grown = sk_areallocarray(a, arr, (size_t)n + 1, size);
    if (!grown)
        sk_afree(a, *copy);
    return grown;
}

/* ---- sorted arrays of fields and entries -------------------------------------------------- */

/* Index of key in the sorted array, or the insertion point with *found = 0. */
static uint32_t field_find(const sk_field *f, uint32_t n, uint32_t key, int *found)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (f[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < n && f[lo].key == key;
    return lo;
}

/* Insert or replace; value copied. 0 or -SK_E_NOMEM. Leaves the array unchanged on error. */
static int fields_put(const sk_allocator *a, sk_field **arr, uint32_t *n, uint32_t key,
                      const void *val, uint32_t len, sk_hlc hlc, uint64_t ver)
{
    int found;
    uint32_t i = field_find(*arr, *n, key, &found);
    uint8_t *copy;
    if (found) {
        if (!(copy = dup_bytes(a, val, len)))
            return -SK_E_NOMEM;
        sk_afree(a, (*arr)[i].val);
    } else {
        sk_field *grown = grow_by_one(a, *arr, *n, sizeof(**arr), val, len, &copy);
        if (!grown)
            return -SK_E_NOMEM;
        *arr = grown;
        memmove(grown + i + 1, grown + i, ((size_t)*n - i) * sizeof(*grown));
        (*n)++;
    }
    sk_field *f = &(*arr)[i];
    f->key = key;
    f->hlc = hlc;
    f->ver = ver;
    f->val = copy;
    f->len = len;
    return 0;
}

static int entry_order(const sk_entry *a, const sk_entry *b)
{
    if (a->list != b->list)
        return a->list < b->list ? -1 : 1;
    if (a->hlc != b->hlc)
        return a->hlc < b->hlc ? -1 : 1;
    return sk_id_cmp(&a->id, &b->id);
}

static const sk_entry *entry_by_id(const sk_entry *e, uint32_t n, const sk_id *id)
{
    for (uint32_t i = 0; i < n; i++)
        if (sk_id_cmp(&e[i].id, id) == 0)
            return &e[i];
    return NULL;
}

/* Append an entry (value copied); sorted keeps (list, hlc, id) order, else insertion order. */
static int entries_add(const sk_allocator *a, sk_entry **arr, uint32_t *n, const sk_id *id,
                       uint32_t list, const void *val, uint32_t len, sk_hlc hlc, uint64_t ver,
                       int sorted)
{
    uint8_t *copy;
    sk_entry *grown = grow_by_one(a, *arr, *n, sizeof(**arr), val, len, &copy);
    if (!grown)
        return -SK_E_NOMEM;
    *arr = grown;
    sk_entry e = {.id = *id, .list = list, .hlc = hlc, .ver = ver, .val = copy, .len = len};
    uint32_t i = *n;
    if (sorted) {
        uint32_t lo = 0, hi = *n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (entry_order(&grown[mid], &e) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        i = lo;
        memmove(grown + i + 1, grown + i, ((size_t)*n - i) * sizeof(*grown));
    }
    grown[i] = e;
    (*n)++;
    return 0;
}

/* A record's or a change's content: the values of fields [0, nf) and entries [0, ne), then
 * both arrays (either may be NULL). */
static void content_free(const sk_allocator *a, sk_field *f, uint32_t nf, sk_entry *e, uint32_t ne)
{
    for (uint32_t i = 0; i < nf; i++)
        sk_afree(a, f[i].val);
    for (uint32_t i = 0; i < ne; i++)
        sk_afree(a, e[i].val);
    sk_afree(a, f);
    sk_afree(a, e);
}

/* A record's or a change's fields and entries, [*f, nf) and [*e, ne), replaced by deep copies
 * from a: both or, on -SK_E_NOMEM, neither (*f and *e are then NULL). */
static int content_dup(const sk_allocator *a, sk_field **f, uint32_t nf, sk_entry **e, uint32_t ne)
{
    const sk_field *sf = *f;
    const sk_entry *se = *e;
    sk_field *df = nf ? sk_acalloc(a, nf, sizeof(*df)) : NULL;
    sk_entry *de = ne ? sk_acalloc(a, ne, sizeof(*de)) : NULL;
    uint32_t i = 0, j = 0;
    *f = NULL;
    *e = NULL;
    if ((nf && !df) || (ne && !de))
        goto fail;
    for (; i < nf; i++) {
        df[i] = sf[i];
        if (!(df[i].val = dup_bytes(a, sf[i].val, sf[i].len)))
            goto fail;
    }
    for (; j < ne; j++) {
        de[j] = se[j];
        if (!(de[j].val = dup_bytes(a, se[j].val, se[j].len)))
            goto fail;
    }
    *f = df;
    *e = de;
    return 0;
fail:
    content_free(a, df, i, de, j);
    return -SK_E_NOMEM;
}

/* ---- records ------------------------------------------------------------------------------ */

void sk_record_init(sk_record *r)
{
    sk_record_init_alloc(r, NULL);
}

void sk_record_init_alloc(sk_record *r, const sk_allocator *a)
{
    memset(r, 0, sizeof(*r));
    r->alloc = a;
}

void sk_record_free(sk_record *r)
{
    if (!r)
        return;
    const sk_allocator *a = r->alloc;
    content_free(a, r->fields, r->nfields, r->entries, r->nentries);
    sk_record_init_alloc(r, a);
}

/* dst is treated as uninitialised: its previous content is not released. On error dst is an
 * empty, initialised record. */
int sk_record_copy(sk_record *dst, const sk_record *src)
{
    sk_record t = *src;
    sk_record_init_alloc(dst, src->alloc);
    if (content_dup(t.alloc, &t.fields, t.nfields, &t.entries, t.nentries))
        return -SK_E_NOMEM;
    *dst = t;
    return 0;
}

const sk_field *sk_record_field(const sk_record *r, uint32_t key)
{
    int found;
    uint32_t i = field_find(r->fields, r->nfields, key, &found);
    return found ? &r->fields[i] : NULL;
}

/* val must be one well-formed MessagePack value of at most SK_MAX_VALUE bytes
 * (-SK_E_BAD_VALUE / -SK_E_TOO_LONG); key 1..SK_MAX_FIELD_KEY. */
int sk_record_set(sk_record *r, uint32_t key, const void *val, uint32_t len, sk_hlc hlc,
                  uint64_t ver)
{
    if (key == 0 || key > SK_MAX_FIELD_KEY)
        return -SK_E_BAD_VALUE;
    int rc = check_value(val, len);
    if (rc)
        return rc;
    return fields_put(r->alloc, &r->fields, &r->nfields, key, val, len, hlc, ver);
}

/* Removes the field if present (0 either way). */
int sk_record_unset(sk_record *r, uint32_t key)
{
    int found;
    uint32_t i = field_find(r->fields, r->nfields, key, &found);
    if (!found)
        return 0;
    sk_afree(r->alloc, r->fields[i].val);
    memmove(r->fields + i, r->fields + i + 1, ((size_t)r->nfields - i - 1) * sizeof(sk_field));
    r->nfields--;
    if (r->nfields == 0) {
        sk_afree(r->alloc, r->fields);
        r->fields = NULL;
    }
    return 0;
}

int sk_record_add_entry(sk_record *r, const sk_id *id, uint32_t list, const void *val, uint32_t len,
                        sk_hlc hlc, uint64_t ver)
{
    int rc = check_value(val, len);
    if (rc)
        return rc;
    if (entry_by_id(r->entries, r->nentries, id))
        return 1;
    return entries_add(r->alloc, &r->entries, &r->nentries, id, list, val, len, hlc, ver, 1);
}

/* ---- changes ------------------------------------------------------------------------------ */

void sk_change_init(sk_change *c)
{
    sk_change_init_alloc(c, NULL);
}

void sk_change_init_alloc(sk_change *c, const sk_allocator *a)
{
    memset(c, 0, sizeof(*c));
    c->alloc = a;
}

void sk_change_free(sk_change *c)
{
    if (!c)
        return;
    const sk_allocator *a = c->alloc;
    content_free(a, c->fields, c->nfields, c->entries, c->nentries);
    sk_change_init_alloc(c, a);
}

/* As sk_record_copy: dst is treated as uninitialised. */
int sk_change_copy(sk_change *dst, const sk_change *src)
{
    sk_change t = *src;
    sk_change_init_alloc(dst, src->alloc);
    if (content_dup(t.alloc, &t.fields, t.nfields, &t.entries, t.nentries))
        return -SK_E_NOMEM;
    *dst = t;
    return 0;
}

/* Set (or replace) field key in the change. Same value rules as sk_record_set; more than
 * SK_MAX_FIELDS distinct keys is -SK_E_TOO_LONG (the peer would refuse the change). */
int sk_change_set(sk_change *c, uint32_t key, const void *val, uint32_t len)
{
    if (key == 0 || key > SK_MAX_FIELD_KEY)
        return -SK_E_BAD_VALUE;
    int rc = check_value(val, len);
    if (rc)
        return rc;
    int found;
    (void)field_find(c->fields, c->nfields, key, &found);
    if (!found && c->nfields >= SK_MAX_FIELDS)
        return -SK_E_TOO_LONG;
    return fields_put(c->alloc, &c->fields, &c->nfields, key, val, len, 0, 0);
}

/* Append an entry to the change (insertion order is kept on the wire). An id already in the
 * change is -SK_E_BAD_VALUE (the decoder would refuse it); more than SK_MAX_ENTRIES is
 * -SK_E_TOO_LONG. */
int sk_change_add_entry(sk_change *c, const sk_id *id, uint32_t list, const void *val, uint32_t len)
{
    int rc = check_value(val, len);
    if (rc)
        return rc;
    if (entry_by_id(c->entries, c->nentries, id))
        return -SK_E_BAD_VALUE;
    if (c->nentries >= SK_MAX_ENTRIES)
        return -SK_E_TOO_LONG;
    return entries_add(c->alloc, &c->entries, &c->nentries, id, list, val, len, 0, 0, 0);
}

/* ---- merge -------------------------------------------------------------------------------- */

void sk_merge_result_free(sk_merge_result *m)
{
    if (!m)
        return;
    const sk_allocator *a = m->alloc;
    for (uint32_t i = 0; i < m->ndisplaced; i++)
        sk_afree(a, m->displaced[i].val);
    sk_afree(a, m->displaced);
    memset(m, 0, sizeof(*m));
    m->alloc = a;
}

static int displace(sk_merge_result *m, uint32_t key, sk_hlc hlc, uint64_t ver, int incoming,
                    const uint8_t *val, uint32_t len)
{
    uint8_t *copy;
    sk_displaced *grown =
        grow_by_one(m->alloc, m->displaced, m->ndisplaced, sizeof(*grown), val, len, &copy);
    if (!grown)
        return -SK_E_NOMEM;
    m->displaced = grown;
    sk_displaced *d = &grown[m->ndisplaced++];
    memset(d, 0, sizeof(*d));
    d->key = key;
    d->hlc = hlc;
    d->ver = ver;
    d->lost_incoming = incoming;
    d->val = copy;
    d->len = len;
    return 0;
}

static int record_is_empty(const sk_record *r)
{
    return r->version == 0 && r->created == 0 && r->flags == 0 && r->nfields == 0 &&
           r->nentries == 0;
}

static void wipe_record_content(sk_record *r)
{
    for (uint32_t i = 0; i < r->nfields; i++)
        OPENSSL_cleanse(r->fields[i].val, r->fields[i].len);
    for (uint32_t i = 0; i < r->nentries; i++)
        OPENSSL_cleanse(r->entries[i].val, r->entries[i].len);
    content_free(r->alloc, r->fields, r->nfields, r->entries, r->nentries);
    r->fields = NULL;
    r->nfields = 0;
    r->entries = NULL;
    r->nentries = 0;
}

/* A record's first fields, straight from a change whose keys are strictly increasing (as
 * sk_change_set and the decoder keep them): one allocation instead of one growth per field.
 * 1 when done, 0 when the keys are not in order (the caller inserts one by one), or -errno. */
static int fields_from_change(sk_record *t, const sk_change *c, uint64_t new_ver)
{
    for (uint32_t i = 1; i < c->nfields; i++)
        if (c->fields[i - 1].key >= c->fields[i].key)
            return 0;
    sk_field *f = sk_acalloc(t->alloc, c->nfields, sizeof(*f));
    if (!f)
        return -SK_E_NOMEM;
    for (uint32_t i = 0; i < c->nfields; i++) {
        f[i].key = c->fields[i].key;
        f[i].hlc = c->hlc;
        f[i].ver = new_ver;
        f[i].len = c->fields[i].len;
        if (!(f[i].val = dup_bytes(t->alloc, c->fields[i].val, c->fields[i].len))) {
            content_free(t->alloc, f, i, NULL, 0);
            return -SK_E_NOMEM;
        }
    }
    t->fields = f;
    t->nfields = c->nfields;
    return 1;
}

/* The UPSERT rule (steps 4 and 5 of the comment at the top) applied to t, a private copy. */
static int merge_upsert(sk_record *t, const sk_change *c, uint64_t new_ver, sk_merge_result *out)
{
    int rc;
    uint32_t first = 0;
    if (t->nfields == 0 && c->nfields > 0) {
        /* Nothing to merge with (a new record): every field of the change goes in. */
        if ((rc = fields_from_change(t, c, new_ver)) < 0)
            return rc;
        if (rc == 1) {
            out->nchanged += c->nfields;
            first = c->nfields;
        }
    }
    for (uint32_t i = first; i < c->nfields; i++) {
        const sk_field *in = &c->fields[i];
        const sk_field *s = sk_record_field(t, in->key);
        if (s && s->ver > c->base) {
            /* Concurrent: the higher (hlc, bytes) wins. */
            int same = value_eq(in->val, in->len, s->val, s->len);
            int cmp = c->hlc != s->hlc ? (c->hlc > s->hlc ? 1 : -1)
                                       : value_cmp(in->val, in->len, s->val, s->len);
            if (cmp <= 0) {
                if (!same) {
                    out->conflict = 1;
                    rc = displace(out, in->key, c->hlc, 0, 1, in->val, in->len);
                    if (rc)
                        return rc;
                }
                continue;
            }
            if (!same) {
                out->conflict = 1;
                rc = displace(out, s->key, s->hlc, s->ver, 0, s->val, s->len);
                if (rc)
                    return rc;
            }
        } else if (s && !value_eq(in->val, in->len, s->val, s->len)) {
            /* Seen by the editor: overwritten, and the old value goes to history. */
            rc = displace(out, s->key, s->hlc, s->ver, 0, s->val, s->len);
            if (rc)
                return rc;
        }
        rc = fields_put(t->alloc, &t->fields, &t->nfields, in->key, in->val, in->len, c->hlc,
                        new_ver);
        if (rc)
            return rc;
        out->nchanged++;
    }
    for (uint32_t i = 0; i < c->nentries; i++) {
        const sk_entry *in = &c->entries[i];
        const sk_entry *s = entry_by_id(t->entries, t->nentries, &in->id);
        if (s) {
            if (s->list != in->list || !value_eq(in->val, in->len, s->val, s->len)) {
                out->conflict = 1;
                rc = displace(out, 0, c->hlc, 0, 1, in->val, in->len);
                if (rc)
                    return rc;
                out->displaced[out->ndisplaced - 1].entry = in->id;
                out->displaced[out->ndisplaced - 1].list = in->list;
            }
            continue;
        }
        rc = entries_add(t->alloc, &t->entries, &t->nentries, &in->id, in->list, in->val, in->len,
                         c->hlc, new_ver, 1);
        if (rc)
            return rc;
        out->nchanged++;
    }
    if (t->nfields > SK_MAX_FIELDS || t->nentries > SK_MAX_ENTRIES)
        return -SK_E_TOO_LONG;
    if (out->conflict)
        t->flags |= SK_REC_REVIEW;
    return 0;
}

int sk_merge_apply(sk_record *r, const sk_change *c, uint64_t new_ver, sk_merge_result *out)
{
    int rc;
    memset(out, 0, sizeof(*out));
    out->alloc = r->alloc; /* displaced values are copied with the record's allocator */

    if (c->kind > SK_CHANGE_ERASE)
        return -SK_E_BAD_VALUE;
    if (c->kind != SK_CHANGE_UPSERT && (c->nfields || c->nentries))
        return -SK_E_INVALID;

    if (record_is_empty(r)) {
        if (c->base != 0 || c->kind != SK_CHANGE_UPSERT)
            return -SK_E_NOT_FOUND;
        sk_record t;
        sk_record_init_alloc(&t, r->alloc);
        t.id = c->id;
        t.created = c->hlc;
        t.created_ver = new_ver;
        rc = merge_upsert(&t, c, new_ver, out);
        if (rc) {
            sk_record_free(&t);
            sk_merge_result_free(out);
            return rc;
        }
        t.version = new_ver;
        t.updated = c->hlc;
        out->created = 1;
        sk_record_free(r);
        *r = t;
        return 0;
    }

    if (sk_id_cmp(&r->id, &c->id) != 0)
        return -SK_E_INVALID;
    if (c->base > r->version)
        return -SK_E_BAD_BASE;
    if (r->flags & SK_REC_ERASED)
        return -SK_E_GONE;
    if ((r->flags & SK_REC_TOMBSTONE) && c->kind != SK_CHANGE_ERASE)
        return -SK_E_GONE;

    if (c->kind == SK_CHANGE_DELETE) {
        r->flags |= SK_REC_TOMBSTONE;
        out->nchanged = 1;
    } else if (c->kind == SK_CHANGE_ERASE) {
        out->nchanged = r->nfields + r->nentries;
        if (out->nchanged == 0)
            out->nchanged = 1; /* the flags changed */
        wipe_record_content(r);
        r->flags |= SK_REC_TOMBSTONE | SK_REC_ERASED;
        r->flags &= ~(uint32_t)SK_REC_REVIEW;
    } else {
        sk_record t;
        rc = sk_record_copy(&t, r);
        if (rc)
            return rc;
        rc = merge_upsert(&t, c, new_ver, out);
        if (rc) {
            sk_record_free(&t);
            sk_merge_result_free(out);
            return rc;
        }
        sk_record_free(r);
        *r = t;
    }
    if (new_ver > r->version)
        r->version = new_ver;
    if (c->hlc > r->updated)
        r->updated = c->hlc;
    return 0;
}

/* ---- encoding ----------------------------------------------------------------------------- */

static int pack_raw(msgpack_packer *pk, const uint8_t *p, uint32_t n)
{
    return pk->callback(pk->data, (const char *)p, n);
}

static int pack_id(msgpack_packer *pk, const sk_id *id)
{
    return sk_pack_bin(pk, id->b, sizeof(id->b));
}

/* The fields map {key: raw value} that records and changes both carry. */
static int pack_fields(msgpack_packer *pk, const sk_field *f, uint32_t n)
{
    int bad = msgpack_pack_map(pk, n);
    for (uint32_t i = 0; i < n; i++) {
        bad |= msgpack_pack_uint32(pk, f[i].key);
        bad |= pack_raw(pk, f[i].val, f[i].len);
    }
    return bad;
}

/* An entry array of nelems elements, up to its first three: id, list, raw value. */
static int pack_entry_head(msgpack_packer *pk, const sk_entry *e, uint32_t nelems)
{
    int bad = msgpack_pack_array(pk, nelems);
    bad |= pack_id(pk, &e->id);
    bad |= msgpack_pack_uint32(pk, e->list);
    bad |= pack_raw(pk, e->val, e->len);
    return bad;
}

int sk_change_pack(msgpack_packer *pk, const sk_change *c)
{
    int bad = 0;
    bad |= msgpack_pack_array(pk, 7);
    bad |= pack_id(pk, &c->id);
    bad |= msgpack_pack_uint64(pk, c->op);
    bad |= msgpack_pack_uint64(pk, c->base);
    bad |= msgpack_pack_uint64(pk, c->hlc);
    bad |= msgpack_pack_uint32(pk, c->kind);
    bad |= pack_fields(pk, c->fields, c->nfields);
    bad |= msgpack_pack_array(pk, c->nentries);
    for (uint32_t i = 0; i < c->nentries; i++)
        bad |= pack_entry_head(pk, &c->entries[i], 3);
    return bad ? -SK_E_NOMEM : 0;
}

int sk_record_pack(msgpack_packer *pk, const sk_record *r)
{
    int bad = 0;
    uint32_t nstamps = 0;
    for (uint32_t i = 0; i < r->nfields; i++)
        if (r->fields[i].hlc != r->created || r->fields[i].ver != r->created_ver)
            nstamps++;

    bad |= msgpack_pack_array(pk, 9);
    bad |= pack_id(pk, &r->id);
    bad |= msgpack_pack_uint64(pk, r->version);
    bad |= msgpack_pack_uint32(pk, r->flags);
    bad |= msgpack_pack_uint64(pk, r->created);
    bad |= msgpack_pack_uint64(pk, r->created_ver);
    bad |= msgpack_pack_uint64(pk, r->updated);
    bad |= pack_fields(pk, r->fields, r->nfields);
    bad |= msgpack_pack_map(pk, nstamps);
    for (uint32_t i = 0; i < r->nfields; i++) {
        const sk_field *f = &r->fields[i];
        if (f->hlc == r->created && f->ver == r->created_ver)
            continue;
        bad |= msgpack_pack_uint32(pk, f->key);
        bad |= msgpack_pack_array(pk, 2);
        bad |= msgpack_pack_uint64(pk, f->hlc);
        bad |= msgpack_pack_uint64(pk, f->ver);
    }
    bad |= msgpack_pack_array(pk, r->nentries);
    for (uint32_t i = 0; i < r->nentries; i++) {
        const sk_entry *e = &r->entries[i];
        int own = e->hlc != r->created || e->ver != r->created_ver;
        bad |= pack_entry_head(pk, e, own ? 5 : 3);
        if (own) {
            bad |= msgpack_pack_uint64(pk, e->hlc);
            bad |= msgpack_pack_uint64(pk, e->ver);
        }
    }
    return bad ? -SK_E_NOMEM : 0;
}

/* ---- decoding ----------------------------------------------------------------------------- */

/* Read "count elements follow, at least need of them": fewer is MISSING_FIELD. */
static int read_array_min(sk_mp *m, uint32_t need, uint32_t *count)
{
    int rc = sk_mp_read_array(m, count);
    if (rc)
        return rc;
    if (*count < need)
        return sk_mp_fail(m, -SK_E_MISSING_FIELD);
    return 0;
}

static int skip_n(sk_mp *m, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = sk_mp_skip(m);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_value(sk_mp *m, const uint8_t **val, uint32_t *len)
{
    size_t n;
    int rc = sk_mp_raw(m, val, &n);
    if (rc)
        return rc;
    if (n > SK_MAX_VALUE)
        return sk_mp_fail(m, -SK_E_TOO_LONG);
    *len = (uint32_t)n;
    return 0;
}

static int field_key_cmp(const void *a, const void *b)
{
    uint32_t x = ((const sk_field *)a)->key, y = ((const sk_field *)b)->key;
    return (x > y) - (x < y);
}

static int entry_sort_cmp(const void *a, const void *b)
{
    return entry_order(a, b);
}

/* Read the fields map {key: raw value} into a sorted, owned array with unique keys. */
static int read_fields(const sk_allocator *a, sk_mp *m, sk_field **out, uint32_t *nout)
{
    uint32_t n;
    void *arr;
    int rc = sk_mp_read_alloc(m, SK_MP_MAP, SK_MAX_FIELDS, -SK_E_TOO_LONG, a, sizeof(sk_field),
                              &arr, &n);
    if (rc || !arr)
        return rc;
    sk_field *f = arr;
    *out = f;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t key;
        const uint8_t *val = NULL;
        uint32_t len = 0;
        rc = sk_mp_read_uint(m, &key);
        if (rc)
            return rc;
        if (key == 0 || key > SK_MAX_FIELD_KEY)
            return sk_mp_fail(m, -SK_E_BAD_VALUE);
        rc = read_value(m, &val, &len);
        if (rc)
            return rc;
        f[i].val = dup_bytes(a, val, len);
        if (!f[i].val)
            return sk_mp_fail(m, -SK_E_NOMEM);
        f[i].key = (uint32_t)key;
        f[i].len = len;
        (*nout)++;
    }
    qsort(f, n, sizeof(*f), field_key_cmp);
    for (uint32_t i = 1; i < n; i++)
        if (f[i].key == f[i - 1].key)
            return sk_mp_fail(m, -SK_E_BAD_VALUE);
    return 0;
}

/* Read one entry array; with_stamps: the record form ([id, list, value] or 5 elements). */
static int read_entry(const sk_allocator *a, sk_mp *m, sk_entry *e, int with_stamps, sk_hlc def_hlc,
                      uint64_t def_ver)
{
    uint32_t k;
    int rc = read_array_min(m, 3, &k);
    if (rc)
        return rc;
    uint64_t list;
    const uint8_t *val = NULL;
    uint32_t len = 0;
    if ((rc = sk_mp_read_bin_exact(m, e->id.b, 16)) ||
        (rc = sk_mp_read_uint_max(m, UINT32_MAX, &list)) || (rc = read_value(m, &val, &len)))
        return rc;
    e->list = (uint32_t)list;
    e->hlc = def_hlc;
    e->ver = def_ver;
    uint32_t used = 3;
    if (with_stamps && k > 3) {
        if (k < 5)
            return sk_mp_fail(m, -SK_E_MISSING_FIELD);
        if ((rc = sk_mp_read_uint(m, &e->hlc)) || (rc = sk_mp_read_uint(m, &e->ver)))
            return rc;
        used = 5;
    }
    if ((rc = skip_n(m, k - used)))
        return rc;
    e->val = dup_bytes(a, val, len);
    if (!e->val)
        return sk_mp_fail(m, -SK_E_NOMEM);
    e->len = len;
    return 0;
}

static int read_entries(const sk_allocator *a, sk_mp *m, sk_entry **out, uint32_t *nout,
                        int with_stamps, sk_hlc hlc, uint64_t ver)
{
    uint32_t n;
    void *arr;
    int rc = sk_mp_read_alloc(m, SK_MP_ARRAY, SK_MAX_ENTRIES, -SK_E_TOO_LONG, a, sizeof(sk_entry),
                              &arr, &n);
    if (rc || !arr)
        return rc;
    sk_entry *e = arr;
    *out = e;
    for (uint32_t i = 0; i < n; i++) {
        rc = read_entry(a, m, &e[i], with_stamps, hlc, ver);
        if (rc)
            return rc;
        (*nout)++;
        if (entry_by_id(e, i, &e[i].id))
            return sk_mp_fail(m, -SK_E_BAD_VALUE);
    }
    return 0;
}

int sk_change_unpack(sk_mp *m, sk_change *c)
{
    return sk_change_unpack_alloc(m, c, NULL);
}

int sk_change_unpack_alloc(sk_mp *m, sk_change *c, const sk_allocator *a)
{
    uint32_t n;
    uint64_t kind;
    int rc;
    sk_change_init_alloc(c, a);
    if ((rc = read_array_min(m, 7, &n)) || (rc = sk_mp_read_bin_exact(m, c->id.b, 16)) ||
        (rc = sk_mp_read_uint(m, &c->op)) || (rc = sk_mp_read_uint(m, &c->base)) ||
        (rc = sk_mp_read_uint(m, &c->hlc)) || (rc = sk_mp_read_uint_max(m, SK_CHANGE_ERASE, &kind)))
        goto fail;
    c->kind = (uint32_t)kind;
    if ((rc = read_fields(a, m, &c->fields, &c->nfields)) ||
        (rc = read_entries(a, m, &c->entries, &c->nentries, 0, 0, 0)) || (rc = skip_n(m, n - 7)))
        goto fail;
    return 0;
fail:
    sk_change_free(c);
    return rc;
}

int sk_record_unpack(sk_mp *m, sk_record *r)
{
    return sk_record_unpack_alloc(m, r, NULL);
}

int sk_record_unpack_alloc(sk_mp *m, sk_record *r, const sk_allocator *a)
{
    uint32_t n, nstamps;
    uint64_t flags;
    uint8_t *seen = NULL; /* which fields already had a stamp */
    int rc;
    sk_record_init_alloc(r, a);
    if ((rc = read_array_min(m, 9, &n)) || (rc = sk_mp_read_bin_exact(m, r->id.b, 16)) ||
        (rc = sk_mp_read_uint(m, &r->version)) ||
        (rc = sk_mp_read_uint_max(m, UINT32_MAX, &flags)) ||
        (rc = sk_mp_read_uint(m, &r->created)) || (rc = sk_mp_read_uint(m, &r->created_ver)) ||
        (rc = sk_mp_read_uint(m, &r->updated)) || (rc = read_fields(a, m, &r->fields, &r->nfields)))
        goto fail;
    r->flags = (uint32_t)flags; /* unknown bits are kept: a newer peer may define them */
    for (uint32_t i = 0; i < r->nfields; i++) {
        r->fields[i].hlc = r->created;
        r->fields[i].ver = r->created_ver;
    }

    /* stamps {key: [hlc, ver]}: each key must name a field, at most once. A stamp equal to the
     * record's creation stamp is accepted although encoders never write one. */
    if ((rc = sk_mp_read_map(m, &nstamps)))
        goto fail;
    if (nstamps > r->nfields) {
        rc = sk_mp_fail(m, -SK_E_BAD_VALUE);
        goto fail;
    }
    if (nstamps) {
        seen = sk_acalloc(a, r->nfields, 1);
        if (!seen) {
            rc = sk_mp_fail(m, -SK_E_NOMEM);
            goto fail;
        }
    }
    for (uint32_t i = 0; i < nstamps; i++) {
        uint64_t key, hlc, ver;
        uint32_t k;
        if ((rc = sk_mp_read_uint(m, &key)) || (rc = read_array_min(m, 2, &k)) ||
            (rc = sk_mp_read_uint(m, &hlc)) || (rc = sk_mp_read_uint(m, &ver)) ||
            (rc = skip_n(m, k - 2)))
            break;
        int found = 0;
        uint32_t at =
            key <= SK_MAX_FIELD_KEY ? field_find(r->fields, r->nfields, (uint32_t)key, &found) : 0;
        if (!found || seen[at]) {
            rc = sk_mp_fail(m, -SK_E_BAD_VALUE);
            break;
        }
        seen[at] = 1;
        r->fields[at].hlc = hlc;
        r->fields[at].ver = ver;
    }
    sk_afree(a, seen);
    if (rc)
        goto fail;

    if ((rc = read_entries(a, m, &r->entries, &r->nentries, 1, r->created, r->created_ver)) ||
        (rc = skip_n(m, n - 9)))
        goto fail;
    if (r->nentries > 1)
        qsort(r->entries, r->nentries, sizeof(*r->entries), entry_sort_cmp);
    return 0;
fail:
    sk_record_free(r);
    return rc;
}
