/*
 * test_desk_form.c - the desk's pure parts: form and cookie parsing, HTML escaping, IST dates,
 * TOTP (RFC 6238's own test vectors, SHA-1), base32/base64url, setup tokens and Argon2id hashes.
 */
#include "sk_buf.h"
#include "sk_desk_form.h"
#include "sk_desk_html.h"
#include "sk_desk_int.h"
#include "sk_desk_staff.h"
#include "sk_err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sk_testmain.h"

static sk_form g_f;

static void test_form_decodes(void **state)
{
    (void)state;
    const char *s = "user=boss&password=correct+horse%21&empty=&flag&&x=%E0%A4%B8";
    assert_int_equal(sk_form_parse(&g_f, s, strlen(s)), 0);
    assert_int_equal(g_f.n, 5);
    assert_string_equal(sk_form_get(&g_f, "user"), "boss");
    assert_string_equal(sk_form_get(&g_f, "password"), "correct horse!");
    assert_string_equal(sk_form_get(&g_f, "empty"), "");
    assert_string_equal(sk_form_get(&g_f, "flag"), "");
    assert_string_equal(sk_form_get(&g_f, "x"), "\xe0\xa4\xb8");
    assert_null(sk_form_get(&g_f, "missing"));
}

static void test_form_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {"a=%zz",    "a=%4",  "a=%00",  "a=%C0%80", "a=%ED%A0%80",
                                      "a=%C2%85", "a=%FF", "a=\x01", "a=%7F"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sk_form_parse(&g_f, bad[i], strlen(bad[i])), -SK_E_BAD_VALUE);
        assert_int_equal(g_f.n, 0);
    }
    char big[SK_FORM_MAX_BYTES + 2];
    memset(big, 'a', sizeof(big));
    assert_int_equal(sk_form_parse(&g_f, big, sizeof(big)), -SK_E_TOO_LONG);
    char many[4 * (SK_FORM_MAX_FIELDS + 1) + 1];
    size_t n = 0;
    for (int i = 0; i <= SK_FORM_MAX_FIELDS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "a=%d&", i % 10);
    assert_int_equal(sk_form_parse(&g_f, many, n), -SK_E_TOO_LONG);
    /* the most fields, each as long as fits: still decoded */
    n = 0;
    for (int i = 0; i < SK_FORM_MAX_FIELDS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "a=%d&", i % 10);
    assert_int_equal(sk_form_parse(&g_f, many, n), 0);
    assert_int_equal(g_f.n, SK_FORM_MAX_FIELDS);
}

static void test_cookie(void **state)
{
    (void)state;
    char v[48];
    const char *h = "__Host-sakhi-pre=PRE; __Host-sakhi=Tok_en-1 ; lang=hi";
    assert_int_equal(sk_cookie_get(h, strlen(h), "__Host-sakhi", v, sizeof(v)), 0);
    assert_string_equal(v, "Tok_en-1");
    assert_int_equal(sk_cookie_get(h, strlen(h), "__Host-sakhi-pre", v, sizeof(v)), 0);
    assert_string_equal(v, "PRE");
    assert_int_equal(sk_cookie_get(h, strlen(h), "lang", v, sizeof(v)), 0);
    assert_string_equal(v, "hi");
    assert_int_equal(sk_cookie_get(h, strlen(h), "nope", v, sizeof(v)), -1);
    const char *evil = "__Host-sakhi=a\"b";
    assert_int_equal(sk_cookie_get(evil, strlen(evil), "__Host-sakhi", v, sizeof(v)), -1);
    assert_int_equal(sk_cookie_get(h, strlen(h), "__Host-sakhi", v, 4), -1); /* too long */
}

static void test_escape_and_time(void **state)
{
    (void)state;
    sk_buf b = SK_BUF_INIT;
    sk_h_esc(&b, "<script>\"a\" & 'b'</script>");
    assert_int_equal(b.len, strlen("&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"));
    assert_memory_equal(b.data, "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;",
                        b.len);
    sk_buf_reset(&b);
    sk_h_time_ist(&b, 1765000000000ull); /* 2025-12-06T05:46:40Z */
    assert_int_equal(b.len, strlen("2025-12-06 11:16 IST"));
    assert_memory_equal(b.data, "2025-12-06 11:16 IST", b.len);
    sk_buf_reset(&b);
    sk_h_duration(&b, (3u * 3600u + 12u * 60u) * 1000u);
    assert_memory_equal(b.data, "3 h 12 min", b.len);
    sk_buf_free(&b);
}

/* A date typed in a form (a shelter's start) is the start of that day in India Standard Time;
 * anything that is not a real date from 2000 to 2200 in the form YYYY-MM-DD is refused. */
static void test_ist_date(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint64_t ms; /* 0: refused */
    } cases[] = {
        {"2026-06-01", 1780252200000ull}, /* 2026-05-31T18:30Z */
        {"2024-02-29", 1709145000000ull}, /* a leap day */
        {"2000-01-01", 946665000000ull},
        {"2200-12-31", 7289548200000ull},
        {"2025-02-29", 0},
        {"2100-02-29", 0}, /* not leap years */
        {"2026-13-01", 0},
        {"2026-00-10", 0},
        {"2026-04-31", 0},
        {"2026-06-00", 0},
        {"1999-12-31", 0},
        {"2201-01-01", 0},
        {"2026-6-01", 0},
        {"2026/06/01", 0},
        {"2026-06-0a", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ms = 0;
        int rc = sk_desk_date_ist(cases[i].s, &ms);
        if (cases[i].ms ? rc != 0 || ms != cases[i].ms : rc == 0)
            fail_msg("'%s': rc %d, %llu ms (want %llu)", cases[i].s, rc, (unsigned long long)ms,
                     (unsigned long long)cases[i].ms);
    }
    assert_int_equal(sk_desk_date_ist(NULL, &(uint64_t){0}), -1);
}

static void test_totp_rfc6238(void **state)
{
    (void)state;
    /* RFC 6238 appendix B, SHA-1 key "12345678901234567890": the last 6 digits */
    const uint8_t *key = (const uint8_t *)"12345678901234567890";
    assert_int_equal(sk_totp_code(key, 20, 59 / 30), 287082);
    assert_int_equal(sk_totp_code(key, 20, 1111111109 / 30), 81804);
    assert_int_equal(sk_totp_code(key, 20, 1234567890 / 30), 5924);
    assert_int_equal(sk_totp_code(key, 20, 2000000000 / 30), 279037);
    assert_int_equal(sk_totp_check(key, 20, 1111111109000ull, "081804"), 1111111109 / 30);
    assert_int_equal(sk_totp_check(key, 20, 1111111109000ull + 30000, "081804"),
                     1111111109 / 30); /* one step late is still accepted */
    assert_int_equal(sk_totp_check(key, 20, 1111111109000ull + 90000, "081804"), 0);
    assert_int_equal(sk_totp_check(key, 20, 1111111109000ull, "81804"), 0);
    assert_int_equal(sk_totp_check(key, 20, 1111111109000ull, "08180x"), 0);
}

static void test_encodings(void **state)
{
    (void)state;
    char out[64];
    sk_base32((const uint8_t *)"foobar", 6, out, sizeof(out));
    assert_string_equal(out, "MZXW6YTBOI"); /* RFC 4648 section 10, unpadded */
    sk_b64url((const uint8_t *)"\xfb\xff", 2, out, sizeof(out));
    assert_string_equal(out, "-_8");
}

static void test_setup_token(void **state)
{
    (void)state;
    sk_staff s;
    char tok[SK_SETUP_TOKEN_LEN + 1];
    memset(&s, 0, sizeof(s));
    assert_int_equal(sk_staff_setup_new(&s, 1000, 5000, tok), 0);
    assert_int_equal(strlen(tok), SK_SETUP_TOKEN_LEN);
    assert_true(sk_staff_setup_matches(&s, tok, 5999));
    assert_false(sk_staff_setup_matches(&s, tok, 6000)); /* expired */
    tok[0] = tok[0] == 'A' ? 'B' : 'A';
    assert_false(sk_staff_setup_matches(&s, tok, 2000));
    s.disabled = 1;
    tok[0] = tok[0] == 'A' ? 'B' : 'A';
    assert_false(sk_staff_setup_matches(&s, tok, 2000));
}

static void test_password_hash(void **state)
{
    (void)state;
    char h[SK_PWHASH_MAX], h2[SK_PWHASH_MAX];
    /* a small cost here: the cost itself is Argon2's business, the wiring is ours */
    assert_int_equal(sk_pw_hash_cost("correct horse", 13, 1, 1024, h), 0);
    assert_memory_equal(h, "$argon2id$v=19$m=1024,t=1,p=1$", 30);
    assert_true(sk_pw_verify(h, "correct horse", 13));
    assert_false(sk_pw_verify(h, "correct horsf", 13));
    assert_false(sk_pw_verify("", "correct horse", 13));
    assert_int_equal(sk_pw_hash_cost("correct horse", 13, 1, 1024, h2), 0);
    assert_string_not_equal(h, h2); /* a fresh salt each time */
    assert_int_equal(sk_pw_hash_cost("short", 5, 1, 1024, h), -SK_E_BAD_VALUE);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_form_decodes),
    cmocka_unit_test(test_form_refuses),
    cmocka_unit_test(test_cookie),
    cmocka_unit_test(test_escape_and_time),
    cmocka_unit_test(test_ist_date),
    cmocka_unit_test(test_totp_rfc6238),
    cmocka_unit_test(test_encodings),
    cmocka_unit_test(test_setup_token),
    cmocka_unit_test(test_password_hash),
})
