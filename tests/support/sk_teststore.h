/*
 * sk_teststore.h - a real server store (storage/sk_store.h) in a temp dir for cmocka tests that
 * work on the store directly, without a server process: workers, changes built field by field,
 * a device's change applied as the writer applies it, and a referral with every required field.
 * Asserts with cmocka (an object of sakhi_testsupport only tests pull in, like sk_testfixture).
 */
#ifndef SK_TESTSTORE_H
#define SK_TESTSTORE_H

#include "sk_apply.h"
#include "sk_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sk_tst {
    char dir[512]; /* the data directory; its master key lives in <dir>.keys */
    char out[600]; /* <dir>/out.txt: where a test sends a tool's output */
    sk_store *s;
    uint64_t op; /* the next op number of the field devices' changes, from 1 */
} sk_tst;

/* Make the temp dir (prefix names it) and open a 64 MiB store in it. */
void sk_tst_open(sk_tst *t, const char *prefix);
/* Close the store and remove the dir and its keys dir (both kept when SAKHI_KEEP_TMP is set). */
void sk_tst_close(sk_tst *t);
/* Add or replace a worker. */
void sk_tst_worker(sk_tst *t, const char *id, uint32_t role, uint32_t district);
/* sk_tst_worker for each of the n actors: its worker id, role and district. */
void sk_tst_workers(sk_tst *t, const sk_actor *const *who, size_t n);

/* Set one field of c to an unsigned integer, a string or a boolean (MessagePack). */
void sk_tst_uint(sk_change *c, uint32_t key, uint64_t v);
void sk_tst_str(sk_change *c, uint32_t key, const char *s);
void sk_tst_bool(sk_change *c, uint32_t key, int v);

/* The version of record id in the store. */
uint64_t sk_tst_version(sk_tst *t, const sk_id *id);

/* c, its op the next field-device op, applied as device dev of who at at_ms in a write
 * transaction of its own (committed); the ack. A refusal's reason is printed. */
sk_ack sk_tst_push(sk_tst *t, uint64_t dev, const sk_actor *who, sk_change *c, uint64_t at_ms);

/* Two devices (1 and 2) of who change record id's village from the same base, both pushed at
 * at_ms: device 1 to v1 stamped hlc1_ms, applied; then device 2 to v2 stamped hlc2_ms, merged
 * (the record flagged for REVIEW). */
void sk_tst_village_conflict(sk_tst *t, const sk_actor *who, const sk_id *id, uint64_t base,
                             const char *v1, uint64_t hlc1_ms, const char *v2, uint64_t hlc2_ms,
                             uint64_t at_ms);

/* A new referral c (sk_change_init'd here, a new id) captured at at_ms in district: schema,
 * created, district, block Nubra, village Diskit, taken on a home visit, name "Test Person".
 * The caller adds age and concerns, then sk_tst_referral_end. */
void sk_tst_referral(sk_change *c, uint64_t at_ms, uint32_t district);
/* The rest of a referral by worker `by`: urgency, a frontline source, consent to share given
 * by `by` at at_ms, status NEW. */
void sk_tst_referral_end(sk_change *c, uint64_t at_ms, const char *by, uint32_t urgency);

/* A change to record id setting the village to v (NULL: none) of the given kind, with base and
 * stamp hlc, op *seq + 1, merged and stored as the writer stores it under seq *seq + 1: record,
 * history and seq (and one audit entry "push" when audit) in one write transaction; *seq
 * advanced. The merge's conflict flag. */
int sk_tst_village(sk_store *s, const sk_id *id, uint64_t *seq, uint64_t base, sk_hlc hlc,
                   const char *v, uint32_t kind, int audit);

#endif
