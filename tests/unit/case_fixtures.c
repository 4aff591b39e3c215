/*
 * case_fixtures.c - see case_fixtures.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "case_fixtures.h"
#include "sk_case.h"
#include "sk_err.h"

#include <string.h>

void cf_set(sk_record *r, uint32_t key, sk_tval *v, uint64_t ver)
{
    assert_false(v->b.oom);
    assert_int_equal(sk_record_set(r, key, v->b.data, (uint32_t)v->b.len, 1, ver), 0);
    sk_buf_free(&v->b);
}

void cf_set_uint(sk_record *r, uint32_t key, uint64_t x, uint64_t ver)
{
    sk_tval v;
    sk_tval_uint(&v, x);
    cf_set(r, key, &v, ver);
}

void cf_set_str(sk_record *r, uint32_t key, const char *s, uint64_t ver)
{
    sk_tval v;
    sk_tval_str(&v, s);
    cf_set(r, key, &v, ver);
}

void cf_set_bool(sk_record *r, uint32_t key, int x, uint64_t ver)
{
    sk_tval v;
    sk_tval_bool(&v, x);
    cf_set(r, key, &v, ver);
}

void cf_referral(sk_record *r, uint64_t created_at, uint64_t source, uint64_t status, uint64_t ver)
{
    static const uint64_t concerns[] = {SK_CONCERN_DOMESTIC_VIOLENCE};
    sk_tval v;
    cf_set_uint(r, SK_F_SCHEMA, 1, ver);
    cf_set_uint(r, SK_F_CREATED_AT, created_at, ver);
    cf_set_uint(r, SK_F_DISTRICT, SK_DISTRICT_LEH, ver);
    cf_set_str(r, SK_F_BLOCK, "Nubra", ver);
    cf_set_str(r, SK_F_VILLAGE, "Diskit", ver);
    cf_set_uint(r, SK_F_TAKEN_AT, SK_TAKEN_HOME_VISIT, ver);
    cf_set_str(r, SK_F_NAME, "Test Person", ver);
    cf_set_uint(r, SK_F_AGE, 34, ver);
    cf_set_bool(r, SK_F_MINOR, 0, ver);
    sk_tval_codes(&v, concerns, 1);
    cf_set(r, SK_F_CONCERNS, &v, ver);
    cf_set_uint(r, SK_F_URGENCY, SK_URGENCY_URGENT, ver);
    cf_set_uint(r, SK_F_SOURCE, source, ver);
    cf_set_bool(r, SK_F_CONSENT_SHARE, 1, ver);
    cf_set_str(r, SK_F_CONSENT_BY, "worker-1", ver);
    cf_set_uint(r, SK_F_CONSENT_AT, created_at, ver);
    cf_set_uint(r, SK_F_STATUS, status, ver);
}

void cf_expect_valid(const sk_record *r)
{
    sk_case_error e;
    int rc = sk_case_validate(r, &e);
    if (rc)
        print_error("unexpected: %s\n", e.msg);
    assert_int_equal(rc, 0);
}

void cf_expect_invalid(const sk_record *r, uint32_t field, const char *msg)
{
    sk_case_error e;
    int rc = sk_case_validate(r, &e);
    if (rc != -SK_E_INVALID || strcmp(e.msg, msg) != 0)
        print_error("got rc %d msg \"%s\", want \"%s\"\n", rc, e.msg, msg);
    assert_int_equal(rc, -SK_E_INVALID);
    assert_int_equal(e.code, -SK_E_INVALID);
    assert_string_equal(e.msg, msg);
    assert_int_equal(e.field, field);
}
