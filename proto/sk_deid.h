/*
 * sk_deid.h - de-identification of a case before it leaves its centre for a hub
 * (docs/REPLICATION.md, "Hub of centres"; docs/SECURITY.md, "A hub compromised").
 *
 * One function decides what of a referral a hub may hold: sk_deid_record makes, from a centre's
 * record, the record the hub receives. It works from an allowlist (sk_deid_keeps): a field is
 * left behind unless the table names it, so a field added to the case model later stays at the
 * centre until someone decides otherwise. Kept: district, where the referral was taken (a kind of
 * place, never the place), age band (derived from age or date of birth, which stay), whether a
 * minor, concerns, urgency, source, status, decline reason and onward destination (codes), the
 * services and their statuses, shelter start and days, and the capture time. Left behind: name,
 * phone, block, village, age, date of birth, marital status, children, every free text (notes,
 * reasons, other-concern text, destination names), consent details, the staff and workers who
 * touched it, the device, the case number, and every list entry (follow-ups, notes, tasks).
 * Times are coarsened to SK_DEID_TIME_MS; the record's id is replaced by a pseudonym keyed with
 * a secret the centre keeps (sk_deid_pid), so the hub cannot link a case to a device's id.
 *
 * sk_deid_check is the hub's side of the same table: it refuses a record holding anything the
 * table does not allow. Pure functions; no I/O.
 */
#ifndef SK_DEID_H
#define SK_DEID_H

#include "sk_record.h"

#include <stddef.h>
#include <stdint.h>

#define SK_DEID_KEY_LEN 32
/* Granularity of every time that leaves (30 minutes): a month starts at midnight UTC or IST
 * (UTC+5:30), both multiples of it, so a coarsened time falls in the same month as the exact
 * one and monthly figures computed from it are exactly the centre's own. */
#define SK_DEID_TIME_MS 1800000ull

/* 1 when field key may leave the centre, else 0 (unknown keys: 0). */
int sk_deid_keeps(uint32_t key);
/* ms rounded down to SK_DEID_TIME_MS; an HLC stamp likewise (its counter dropped). */
uint64_t sk_deid_time(uint64_t ms);
sk_hlc sk_deid_hlc(sk_hlc h);
/* The pseudonym of record id: the first 16 bytes of HMAC-SHA256(key, "sakhi-hub-pid-v1" || id).
 * 0 or -SK_E_INTERNAL. */
int sk_deid_pid(sk_id *out, const uint8_t key[SK_DEID_KEY_LEN], const sk_id *id);
/* Make out (initialised by the caller, emptied first) the de-identified form of in: its id the
 * pseudonym, its version, creation version and flags (tombstone, erased, review) kept, its
 * stamps coarsened, the kept fields copied with coarsened stamps, age band and minor derived,
 * capture time always set (from the id's time when the record has none). A tombstone or erased
 * record keeps no field at all. 0, -SK_E_NOMEM or -SK_E_INTERNAL (out is then empty). */
int sk_deid_record(sk_record *out, const sk_record *in, const uint8_t key[SK_DEID_KEY_LEN]);
/* 0 when r holds only what sk_deid_record keeps (no entries, only kept fields, flags within
 * the known ones), else -SK_E_FORBIDDEN with the first offending field key in *bad (0 for an
 * entry). */
int sk_deid_check(const sk_record *r, uint32_t *bad);

#endif
