/*
 * case_fixtures.h - what the case-model unit tests (test_case, test_casework) build their
 * records from: one field set from a packed value, and the fields of a valid referral as a field
 * worker in Leh captures it. Every field is stamped at HLC 1 and the server version ver (0 while
 * the record is only local, as a device holds it). Asserts with cmocka.
 */
#ifndef CASE_FIXTURES_H
#define CASE_FIXTURES_H

#include "sk_record.h"
#include "sk_testval.h"

#include <stdint.h>

/* Field key of r set to the packed value v (v is freed). */
void cf_set(sk_record *r, uint32_t key, sk_tval *v, uint64_t ver);
/* Field key of r set to an unsigned integer, a string or a boolean. */
void cf_set_uint(sk_record *r, uint32_t key, uint64_t x, uint64_t ver);
void cf_set_str(sk_record *r, uint32_t key, const char *s, uint64_t ver);
void cf_set_bool(sk_record *r, uint32_t key, int x, uint64_t ver);

/* The fields of a valid referral at status: schema 1, created at, district Leh, block Nubra,
 * village Diskit, taken at a home visit, "Test Person" aged 34 (not a minor), domestic violence,
 * urgent, from source, consent to share given by worker-1 at created_at. The id, the device and
 * the worker are the caller's. */
void cf_referral(sk_record *r, uint64_t created_at, uint64_t source, uint64_t status, uint64_t ver);

/* r validates (the model's message printed when it does not). */
void cf_expect_valid(const sk_record *r);
/* r is refused by validation as INVALID, naming field, with exactly msg. */
void cf_expect_invalid(const sk_record *r, uint32_t field, const char *msg);

#endif
