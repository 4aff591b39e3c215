/*
 * test_casework_note.c - the case-note operation of the casework model (SK_CW_NOTE in
 * proto/sk_casework.c), the one way the desk and sakhi-admin add a note: a staff member's note
 * becomes one case-note entry naming her, an empty or overlong note and a note on a declined
 * referral get the model's message, and a field worker may not write one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_buf.h"
#include "sk_case.h"
#include "sk_casework.h"
#include "sk_err.h"
#include "sk_mp.h"
#include "sk_msg.h"
#include "sk_testtext.h"
#include "sk_testval.h"

#include <stdlib.h>
#include <string.h>

#define NOW 1781911140000ull /* 2026-06-19 */

static const sk_actor k_staff = {SK_ROLE_STAFF, "counsellor-a", SK_DISTRICT_LEH};
static const sk_actor k_field = {SK_ROLE_FIELD, "worker-1", SK_DISTRICT_LEH};

/* Field key set to the unsigned integer x, or to the string s when it is given. */
static void rset(sk_record *r, uint32_t key, uint64_t x, const char *s)
{
    sk_tval v;
    if (s)
        sk_tval_str(&v, s);
    else
        sk_tval_uint(&v, x);
    assert_false(v.b.oom);
    assert_int_equal(sk_record_set(r, key, v.b.data, (uint32_t)v.b.len, 1, 1), 0);
    sk_buf_free(&v.b);
}

static void record_at(sk_record *r, uint64_t status)
{
    sk_record_init(r);
    memset(&r->id, 0, sizeof(r->id));
    r->id.b[0] = 7;
    r->version = 3;
    r->created = r->updated = SK_HLC_MAKE(NOW - 1000, 0);
    rset(r, SK_F_SCHEMA, 1, NULL);
    rset(r, SK_F_WORKER, 0, "worker-1");
    rset(r, SK_F_DISTRICT, SK_DISTRICT_LEH, NULL);
    rset(r, SK_F_STATUS, status, NULL);
}

static int build(const sk_actor *a, const sk_record *cur, const char *text, sk_change *c,
                 sk_case_error *e)
{
    sk_cw_op op;
    memset(&op, 0, sizeof(op));
    op.kind = SK_CW_NOTE;
    op.record = cur->id;
    op.text = text;
    sk_change_init(c);
    c->id = cur->id;
    c->op = 1;
    c->base = cur->version;
    c->hlc = SK_HLC_MAKE(NOW, 0);
    return sk_cw_build(&op, a, cur, NULL, NOW, c, NULL, e);
}

static void test_note_is_one_casenote_entry(void **state)
{
    (void)state;
    sk_record r;
    sk_change c;
    sk_case_error e;
    record_at(&r, SK_STATUS_IN_SERVICE);
    assert_int_equal(build(&k_staff, &r, "Called her; safe at her sister's", &c, &e), 0);
    assert_int_equal(c.nfields, 0);
    assert_int_equal(c.nentries, 1);
    assert_int_equal(c.entries[0].list, SK_LIST_CASENOTE);
    sk_mp m;
    uint32_t n;
    const char *by = NULL, *text = NULL;
    uint32_t by_len = 0, text_len = 0;
    uint64_t at = 0;
    sk_mp_init(&m, c.entries[0].val, c.entries[0].len);
    assert_int_equal(sk_mp_read_map(&m, &n), 0);
    assert_int_equal(n, 3);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t key;
        assert_int_equal(sk_mp_read_uint(&m, &key), 0);
        if (key == SK_ENTRY_BY)
            assert_int_equal(sk_mp_read_str(&m, &by, &by_len), 0);
        else if (key == SK_ENTRY_TEXT)
            assert_int_equal(sk_mp_read_str(&m, &text, &text_len), 0);
        else if (key == SK_ENTRY_AT)
            assert_int_equal(sk_mp_read_uint(&m, &at), 0);
        else
            fail_msg("unexpected entry key %llu", (unsigned long long)key);
    }
    assert_int_equal(by_len, strlen("counsellor-a"));
    assert_memory_equal(by, "counsellor-a", by_len);
    assert_int_equal(text_len, strlen("Called her; safe at her sister's"));
    assert_memory_equal(text, "Called her; safe at her sister's", text_len);
    assert_int_equal(at, NOW);
    assert_string_equal(sk_cw_kind_name(SK_CW_NOTE), "note");
    sk_change_free(&c);
    sk_record_free(&r);
}

/* Each refused note: who writes it, the record's status, the text, the error and its message
 * (NULL: not checked). */
static void test_note_refusals(void **state)
{
    (void)state;
    char *big = sk_text_repeat("x", 4001);
    assert_non_null(big);
    const struct {
        const sk_actor *a;
        uint64_t status;
        const char *text;
        int rc;
        const char *msg;
    } refused[] = {
        {&k_staff, SK_STATUS_ACCEPTED, "", -SK_E_INVALID, "note: text: is required"},
        {&k_staff, SK_STATUS_ACCEPTED, big, -SK_E_INVALID, "note: text: longer than 4000 bytes"},
        {&k_field, SK_STATUS_ACCEPTED, "a note", -SK_E_FORBIDDEN, NULL},
        {&k_staff, SK_STATUS_DECLINED, "a note", -SK_E_TRANSITION,
         "note: a declined referral takes no case notes"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        sk_record r;
        sk_change c;
        sk_case_error e;
        record_at(&r, refused[i].status);
        assert_int_equal(build(refused[i].a, &r, refused[i].text, &c, &e), refused[i].rc);
        if (refused[i].msg)
            assert_string_equal(e.msg, refused[i].msg);
        sk_change_free(&c);
        sk_record_free(&r);
    }
    free(big);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_note_is_one_casenote_entry),
    cmocka_unit_test(test_note_refusals),
})
