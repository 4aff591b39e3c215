/*
 * sk_record.h - the record and version model shared by server and client (DESIGN section 3,
 * docs/PROTOCOL.md "Records, versions and merge").
 *
 * A record is generic: a set of fields keyed by small integers, each holding one encoded
 * MessagePack value with the HLC stamp and server version of its last change, plus append-only
 * lists whose elements are identified by their own 128-bit id. The case model (sk_case.h) gives
 * the keys their meaning; this layer never interprets values, which is why a device keeps fields
 * and enumeration codes from a newer schema instead of dropping them.
 *
 * sk_merge_apply() is the single merge function: the server calls it to apply a pushed change,
 * the client calls it to show local edits on top of the server's state. It is pure (no I/O,
 * no clock): given the same record and change it produces the same result on every machine.
 *
 * Ownership: an sk_record owns its arrays and value bytes; sk_record_free releases them. Records,
 * changes and merge results allocate from their member alloc (sk_alloc.h; NULL: the C library),
 * set by the _alloc initialisers or the decoder, kept by free, passed on by copy and merge.
 * Functions returning int give 0 or a negative SK_E_* code.
 */
#ifndef SK_RECORD_H
#define SK_RECORD_H

#include "sk_alloc.h"
#include "sk_buf.h"
#include "sk_mp.h"

#include <stddef.h>
#include <stdint.h>

/* ---- ids ---------------------------------------------------------------------------------- */

/* 128-bit id made on the device: 48-bit big-endian Unix milliseconds, then 80 random bits
 * (the UUIDv7 layout with version/variant bits set), so ids sort by creation time. */
typedef struct sk_id {
    uint8_t b[16];
} sk_id;

/* Make a new id from wall-clock milliseconds and the OS random source. 0 or -SK_E_INTERNAL. */
int sk_id_new(sk_id *out, uint64_t wall_ms);
int sk_id_cmp(const sk_id *a, const sk_id *b);
int sk_id_is_zero(const sk_id *a);
/* Canonical text form: 36 chars "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" + NUL. */
void sk_id_to_str(const sk_id *id, char out[37]);
/* Parse the canonical form (hyphens optional, hex case-insensitive). 0 or -SK_E_BAD_VALUE. */
int sk_id_from_str(sk_id *out, const char *s);

/* ---- hybrid logical clock ----------------------------------------------------------------- */

/* An HLC stamp: (physical ms << 16) | logical counter. Compare as plain integers. */
typedef uint64_t sk_hlc;
#define SK_HLC_MS(h) ((h) >> 16)
#define SK_HLC_MAKE(ms, ctr) (((uint64_t)(ms) << 16) | ((uint64_t)(ctr)&0xffffu))

typedef struct sk_clock {
    sk_hlc last;       /* highest stamp issued or seen */
    int64_t offset_ms; /* server time minus local wall clock, learnt at each handshake */
} sk_clock;

/* Issue a stamp for a local event at local wall time wall_ms (offset applied here). */
sk_hlc sk_clock_now(sk_clock *c, uint64_t wall_ms);
/* Merge a stamp received from elsewhere, so later local stamps order after it. */
void sk_clock_observe(sk_clock *c, sk_hlc remote);
/* Record the server's time at handshake: offset = server_ms - local_ms. */
void sk_clock_set_server_time(sk_clock *c, uint64_t server_ms, uint64_t local_ms);

/* ---- records ------------------------------------------------------------------------------ */

/* One scalar field: key -> one encoded MessagePack value. */
typedef struct sk_field {
    uint32_t key;
    sk_hlc hlc;   /* stamp of the change that set it */
    uint64_t ver; /* server version (seq) of that change; 0 while only local */
    uint8_t *val; /* encoded MessagePack value, owned */
    uint32_t len;
} sk_field;

/* One element of an append-only list (follow-ups, case notes). Never edited in place. */
typedef struct sk_entry {
    sk_id id;
    uint32_t list; /* which list (sk_case.h: SK_LIST_*) */
    sk_hlc hlc;
    uint64_t ver;
    uint8_t *val; /* encoded MessagePack value, owned */
    uint32_t len;
} sk_entry;

enum {
    SK_REC_TOMBSTONE = 1u << 0, /* deleted: syncs as a tombstone */
    SK_REC_ERASED = 1u << 1,    /* content wiped everywhere; only the tombstone remains */
    SK_REC_REVIEW = 1u << 2     /* a concurrent edit overwrote a value: staff should review */
};
#define SK_REC_FLAGS_KNOWN 0x7u

typedef struct sk_record {
    sk_id id;
    uint64_t version;     /* seq of the latest change applied on the server; 0 = never synced */
    uint32_t flags;       /* SK_REC_* */
    sk_hlc created;       /* HLC of the creating change */
    uint64_t created_ver; /* version of the creating change (0 while only local) */
    sk_hlc updated;       /* highest HLC of any applied change */
    sk_field *fields;     /* sorted by key, unique keys */
    uint32_t nfields;
    sk_entry *entries; /* sorted by (list, hlc, id), unique ids */
    uint32_t nentries;
    const sk_allocator *alloc; /* of fields, entries and values; NULL: the C library */
} sk_record;

void sk_record_init(sk_record *r);
void sk_record_init_alloc(sk_record *r, const sk_allocator *a);
/* Frees the content; r stays initialised with its allocator. */
void sk_record_free(sk_record *r);
/* dst (treated as uninitialised) gets a deep copy made with src's allocator. */
int sk_record_copy(sk_record *dst, const sk_record *src);
/* Field lookup; NULL if absent. */
const sk_field *sk_record_field(const sk_record *r, uint32_t key);
/* Set (replace or insert) a field, copying val; keeps fields sorted. */
int sk_record_set(sk_record *r, uint32_t key, const void *val, uint32_t len, sk_hlc hlc,
                  uint64_t ver);
int sk_record_unset(sk_record *r, uint32_t key);
/* Add an entry unless one with the same id exists (returns 1 then, 0 if added). */
int sk_record_add_entry(sk_record *r, const sk_id *id, uint32_t list, const void *val, uint32_t len,
                        sk_hlc hlc, uint64_t ver);

/* ---- changes ------------------------------------------------------------------------------ */

typedef enum sk_change_kind {
    SK_CHANGE_UPSERT = 0, /* create (base 0) or edit */
    SK_CHANGE_DELETE = 1, /* tombstone */
    SK_CHANGE_ERASE = 2   /* wipe content, keep tombstone */
} sk_change_kind;

/* What a device pushes: one edit of one record. Fields and entries carry the change's hlc. */
typedef struct sk_change {
    sk_id id;         /* record id */
    uint64_t op;      /* per-device operation number, strictly increasing, from 1 */
    uint64_t base;    /* version the device edited; 0 = creating the record */
    sk_hlc hlc;       /* stamp of the edit */
    uint32_t kind;    /* sk_change_kind */
    sk_field *fields; /* hlc/ver members ignored on the wire; sorted by key, unique */
    uint32_t nfields;
    sk_entry *entries; /* hlc/ver members ignored on the wire */
    uint32_t nentries;
    const sk_allocator *alloc; /* of fields, entries and values; NULL: the C library */
} sk_change;

void sk_change_init(sk_change *c);
void sk_change_init_alloc(sk_change *c, const sk_allocator *a);
/* Frees the content; c stays initialised with its allocator. */
void sk_change_free(sk_change *c);
int sk_change_copy(sk_change *dst, const sk_change *src);
int sk_change_set(sk_change *c, uint32_t key, const void *val, uint32_t len);
int sk_change_add_entry(sk_change *c, const sk_id *id, uint32_t list, const void *val,
                        uint32_t len);

/* ---- merge -------------------------------------------------------------------------------- */

/* A value displaced by a merge (overwritten, or an incoming value that lost). */
typedef struct sk_displaced {
    uint32_t key;
    sk_hlc hlc;
    uint64_t ver;      /* version at which it had been set (0 for a losing incoming value) */
    int lost_incoming; /* 1: the incoming value lost; 0: the stored value was overwritten */
    uint8_t *val;      /* owned */
    uint32_t len;
    /* Added: a list entry refused because its id was already present with other content
     * (entries are never edited, so this is a misbehaving device) has key 0, and: */
    sk_id entry;   /* that entry's id (all zero for a field) */
    uint32_t list; /* and its list */
} sk_displaced;

typedef struct sk_merge_result {
    int created;             /* the change created the record */
    int conflict;            /* a concurrent edit disagreed on some field (REVIEW flag set) */
    uint32_t nchanged;       /* fields or entries that changed the record */
    sk_displaced *displaced; /* every value that is no longer current: goes to history */
    uint32_t ndisplaced;
    const sk_allocator *alloc; /* the merged record's allocator, set by sk_merge_apply */
} sk_merge_result;

void sk_merge_result_free(sk_merge_result *m);

/*
 * Apply change c to record r (which may be empty, i.e. r->version == 0 and no fields, when
 * c->base == 0), stamping everything it changes with version new_ver. The rule, normative in
 * docs/PROTOCOL.md:
 *  - a field whose stored ver <= c->base was seen by the editor: the incoming value wins;
 *  - otherwise the edits are concurrent: the higher (hlc, then value bytes compared as unsigned
 *    bytes, shorter first) wins, and if the values differ the record gets SK_REC_REVIEW;
 *  - every value that stops being current is reported in out->displaced (never silently lost);
 *  - entries are unioned by id (an id already present is ignored);
 *  - DELETE sets SK_REC_TOMBSTONE; ERASE wipes fields and entries and sets both flags;
 *    an UPSERT on a tombstoned record fails with -SK_E_GONE.
 * Errors: -SK_E_NOT_FOUND (base > 0 on an empty record), -SK_E_BAD_BASE (base > r->version),
 * -SK_E_GONE, -SK_E_NOMEM. On error r is unchanged.
 */
int sk_merge_apply(sk_record *r, const sk_change *c, uint64_t new_ver, sk_merge_result *out);

/* ---- encoding (wire and storage share one form; docs/PROTOCOL.md "Record") --------------- */

int sk_record_pack(msgpack_packer *pk, const sk_record *r);
/* Decode from a validated cursor; values are copied (r owns them). r is treated as
 * uninitialised; the _alloc forms allocate from a, the others from the C library. */
int sk_record_unpack(sk_mp *m, sk_record *r);
int sk_record_unpack_alloc(sk_mp *m, sk_record *r, const sk_allocator *a);
int sk_change_pack(msgpack_packer *pk, const sk_change *c);
int sk_change_unpack(sk_mp *m, sk_change *c);
int sk_change_unpack_alloc(sk_mp *m, sk_change *c, const sk_allocator *a);

/* Limits enforced by the decoders (docs/PROTOCOL.md "Limits"). */
#define SK_MAX_FIELDS 256
#define SK_MAX_ENTRIES 1024
#define SK_MAX_VALUE 16384 /* bytes of one encoded field or entry value */
#define SK_MAX_FIELD_KEY 65535

#endif
