/*
 * sk_sample.h - the sample referrals (tests/data/sample-referrals.json) as case-model changes,
 * and a record rendered back as JSON with field names (tools' `show --json`).
 *
 * Each sample referral becomes one creating change (base 0, kind upsert, op = index + 1, hlc
 * from created_at) whose fields use the case-model keys of sk_case.h. The mapping is written
 * down in docs/CASE-MODEL.md ("Mapping from the sample data"). What the sample holds that a
 * capture change must not carry is kept beside the change: the creating worker and device
 * (server-set fields) and the centre's later status (a capture is always status new).
 *
 * Ownership: sk_sample_load fills an sk_sample the caller releases with sk_sample_free.
 * sk_sample_to_json returns a malloc'd NUL-terminated string the caller frees with free().
 */
#ifndef SK_SAMPLE_H
#define SK_SAMPLE_H

#include "sk_case.h"
#include "sk_json.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sk_sample_ref {
    sk_change change;    /* the creating change (status new) */
    char worker[65];     /* sample "worker_id": who captured it (server sets SK_F_WORKER) */
    char device[65];     /* sample "device_id" text */
    uint32_t status;     /* the centre's later status from the sample (sk_status) */
    uint64_t created_ms; /* created_at, Unix ms */
} sk_sample_ref;

typedef struct sk_sample {
    sk_sample_ref *refs;
    size_t n;
} sk_sample;

/* Load and map a sample file. 0, or a negative SK_E_* code with a message in errbuf (which
 * names the referral index and JSON member, never a value). */
int sk_sample_load(sk_sample *out, const char *path, char *errbuf, size_t errcap);
/* Same, from text already in memory. */
int sk_sample_parse(sk_sample *out, const char *text, size_t len, char *errbuf, size_t errcap);
void sk_sample_free(sk_sample *s);

/* Whether a device capturing a sample change sets field key itself: not the fields the server
 * or the save sets (device, worker, case number, who recorded consent and when). */
int sk_sample_captured(uint32_t key);

/* Map one JSON referral object to a creating change (what sk_sample_parse does per element). */
int sk_sample_map(sk_sample_ref *out, const sk_json *ref, uint64_t op, char *errbuf, size_t errcap);

/* "2026-06-19T23:19:00Z" (also fractional seconds and +hh:mm offsets) -> Unix ms.
 * 0 or -SK_E_BAD_VALUE. */
int sk_sample_parse_time(const char *s, uint64_t *ms_out);
/* Unix ms -> "2026-06-19T23:19:00.000Z" (25 bytes with NUL). */
void sk_sample_format_time(uint64_t ms, char out[32]);

/* Render a record as JSON: {"id", "version", "flags", "created", "updated", "fields": {name:
 * value, enumerations by name or "unknown(N)", times as ISO-8601, unknown keys as "field.N"},
 * "follow_ups": [...], "case_notes": [...]}. NULL on allocation failure. */
char *sk_sample_to_json(const sk_record *r);

#endif
