/*
 * test_enroll_uri.c - the enrollment URI (proto/sk_uri.c): the exact text sakhi-admin prints
 * for one and two addresses (IPv6 bracketed and percent-encoded), parsing it back to the same
 * addresses, code and pin, the forms a scan may bring (trailing newline, upper-case scheme,
 * unknown parameters of a later version), and every refusal with its message: wrong scheme,
 * unknown version, missing or doubled parts, a bad address or pin, too many addresses, an
 * over-long URI, a bad percent escape; the message never contains the code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_err.h"
#include "sk_uri.h"

#include <stdio.h>
#include <string.h>

#define PIN_HEX "07656c5346f3519bdb54cf9af19303d26b72b43eb14cbe57f3e4b9682687ae73"

static void make(sk_enroll_uri *u)
{
    memset(u, 0, sizeof(*u));
    assert_int_equal(sk_tls_pin_parse(u->pin, PIN_HEX), 0);
    snprintf(u->code, sizeof(u->code), "CUF9PEJRQX");
    snprintf(u->addrs[0].host, sizeof(u->addrs[0].host), "osc-leh.example");
    u->addrs[0].port = 7447;
    u->naddrs = 1;
}

static char *format(const sk_enroll_uri *u, sk_buf *b)
{
    sk_buf_init(b);
    assert_int_equal(sk_uri_format(b, u), 0);
    assert_int_equal(sk_buf_append(b, "", 1), 0);
    return (char *)b->data;
}

static void test_format_exact(void **state)
{
    (void)state;
    sk_enroll_uri u;
    sk_buf b;
    make(&u);
    assert_string_equal(format(&u, &b), "sakhi:enroll?v=1&addr=osc-leh.example:7447"
                                        "&code=CUF9PEJRQX&pin=" PIN_HEX);
    sk_buf_free(&b);
    snprintf(u.addrs[1].host, sizeof(u.addrs[1].host), "2001:db8::7");
    u.addrs[1].port = 7448;
    u.naddrs = 2;
    assert_string_equal(format(&u, &b),
                        "sakhi:enroll?v=1&addr=osc-leh.example:7447"
                        "&addr=%5B2001:db8::7%5D:7448&code=CUF9PEJRQX&pin=" PIN_HEX);
    sk_buf_free(&b);
}

static void test_roundtrip(void **state)
{
    (void)state;
    sk_enroll_uri u, back;
    sk_buf b;
    char err[160];
    make(&u);
    snprintf(u.addrs[1].host, sizeof(u.addrs[1].host), "::1");
    u.addrs[1].port = 1;
    snprintf(u.addrs[2].host, sizeof(u.addrs[2].host), "10.0.0.5");
    u.addrs[2].port = 65535;
    u.naddrs = 3;
    const char *text = format(&u, &b);
    memset(&back, 0xaa, sizeof(back));
    assert_int_equal(sk_uri_parse(&back, text, err, sizeof(err)), 0);
    assert_int_equal(back.naddrs, 3);
    assert_string_equal(back.addrs[0].host, "osc-leh.example");
    assert_int_equal(back.addrs[0].port, 7447);
    assert_string_equal(back.addrs[1].host, "::1");
    assert_int_equal(back.addrs[1].port, 1);
    assert_string_equal(back.addrs[2].host, "10.0.0.5");
    assert_int_equal(back.addrs[2].port, 65535);
    assert_string_equal(back.code, "CUF9PEJRQX");
    assert_memory_equal(back.pin, u.pin, SK_TLS_PIN_LEN);
    sk_buf_free(&b);
}

#define PIN2_HEX "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

/* A standby with a key of its own: each address followed by its own pin, exact bytes; parsed
 * back to each address's pin; a 1.0 URI's one pin is every address's. */
static void test_pin_per_address(void **state)
{
    (void)state;
    sk_enroll_uri u, back;
    sk_buf b;
    char err[160];
    uint8_t pin1[SK_TLS_PIN_LEN], pin2[SK_TLS_PIN_LEN];
    assert_int_equal(sk_tls_pin_parse(pin1, PIN_HEX), 0);
    assert_int_equal(sk_tls_pin_parse(pin2, PIN2_HEX), 0);
    make(&u);
    snprintf(u.addrs[1].host, sizeof(u.addrs[1].host), "10.0.0.5");
    u.addrs[1].port = 7448;
    u.naddrs = 2;
    /* both pins the centre's (or unset): the 1.0 form, byte for byte */
    memcpy(u.addrs[1].pin, pin1, SK_TLS_PIN_LEN);
    assert_string_equal(format(&u, &b), "sakhi:enroll?v=1&addr=osc-leh.example:7447"
                                        "&addr=10.0.0.5:7448&code=CUF9PEJRQX&pin=" PIN_HEX);
    sk_buf_free(&b);
    memcpy(u.addrs[1].pin, pin2, SK_TLS_PIN_LEN);
    const char *text = format(&u, &b);
    assert_string_equal(text, "sakhi:enroll?v=1&addr=osc-leh.example:7447&pin=" PIN_HEX
                              "&addr=10.0.0.5:7448&pin=" PIN2_HEX "&code=CUF9PEJRQX");
    memset(&back, 0xaa, sizeof(back));
    assert_int_equal(sk_uri_parse(&back, text, err, sizeof(err)), 0);
    assert_int_equal(back.naddrs, 2);
    assert_memory_equal(back.addrs[0].pin, pin1, SK_TLS_PIN_LEN);
    assert_memory_equal(back.addrs[1].pin, pin2, SK_TLS_PIN_LEN);
    assert_memory_equal(back.pin, pin1, SK_TLS_PIN_LEN);
    sk_buf_free(&b);

    /* 1.0: one pin, wherever it stands, for every address */
    assert_int_equal(sk_uri_parse(&back,
                                  "sakhi:enroll?v=1&pin=" PIN2_HEX "&addr=a:1&addr=b:2&code=X", err,
                                  sizeof(err)),
                     0);
    assert_memory_equal(back.addrs[0].pin, pin2, SK_TLS_PIN_LEN);
    assert_memory_equal(back.addrs[1].pin, pin2, SK_TLS_PIN_LEN);
    assert_int_equal(sk_uri_parse(&back,
                                  "sakhi:enroll?v=1&addr=a:1&pin=" PIN2_HEX "&addr=b:2&code=X", err,
                                  sizeof(err)),
                     0);
    assert_memory_equal(back.addrs[1].pin, pin2, SK_TLS_PIN_LEN);
}

static void test_scan_forms(void **state)
{
    (void)state;
    sk_enroll_uri u;
    char err[160];
    /* a scanner's trailing newline, an upper-case scheme, raw brackets, an unknown parameter,
     * an upper-case pin, an empty parameter */
    assert_int_equal(
        sk_uri_parse(&u,
                     "SAKHI:ENROLL?v=1&addr=[fe80::1]:7447&&future=yes&code=AB%43"
                     "&pin=07656C5346F3519BDB54CF9AF19303D26B72B43EB14CBE57F3E4B9682687AE73\r\n",
                     err, sizeof(err)),
        0);
    assert_string_equal(u.addrs[0].host, "fe80::1");
    assert_string_equal(u.code, "ABC");
    uint8_t pin[SK_TLS_PIN_LEN];
    assert_int_equal(sk_tls_pin_parse(pin, PIN_HEX), 0);
    assert_memory_equal(u.pin, pin, sizeof(pin));
}

static void refused(const char *text, const char *msg)
{
    sk_enroll_uri u;
    char err[160] = "";
    memset(&u, 0x5a, sizeof(u));
    sk_enroll_uri before = u;
    int rc = sk_uri_parse(&u, text, err, sizeof(err));
    if (rc != -SK_E_BAD_VALUE || strcmp(err, msg) != 0)
        fail_msg("\"%s\": %d \"%s\", not %d \"%s\"", text, rc, err, -SK_E_BAD_VALUE, msg);
    assert_null(strstr(err, "SECRETCODE"));
    assert_memory_equal(&u, &before, sizeof(u)); /* out untouched */
}

/* Each URI a scan may bring and the message it is refused with (P is the pin parameter). */
#define P "&pin=" PIN_HEX
static const struct {
    const char *uri, *msg;
} k_refusals[] = {
    {"https://osc/enroll?code=SECRETCODE",
     "not a Sakhi enrollment URI (it must start with sakhi:enroll?)"},
    {"sakhi:enroll?v=2&addr=a:1&code=SECRETCODE" P,
     "the URI is of a version this library does not know (v=1 is expected)"},
    {"sakhi:enroll?addr=a:1&code=SECRETCODE" P, "the URI has no version (v=1)"},
    {"sakhi:enroll?v=1&code=SECRETCODE" P, "the URI has no server address"},
    {"sakhi:enroll?v=1&addr=a:1" P, "the URI has no enrollment code"},
    {"sakhi:enroll?v=1&addr=a:1&code=SECRETCODE", "the URI has no server key pin"},
    {"sakhi:enroll?v=1&addr=a:1&code=SECRETCODE&code=X" P, "the URI has two codes"},
    {"sakhi:enroll?v=1&addr=a:1&code=SECRETCODE" P P, "the URI has two pins for server address 1"},
    {"sakhi:enroll?v=1&addr=a:1" P "&addr=b:2&code=X&pin=" PIN2_HEX P,
     "the URI has two pins for server address 2"},
    {"sakhi:enroll?v=1" P "&addr=a:1&addr=b:2&pin=" PIN2_HEX "&code=X",
     "the URI has a pin before its first server address"},
    {"sakhi:enroll?v=1&addr=a:1&addr=b:2" P "&addr=c:3&pin=" PIN2_HEX "&code=X",
     "server address 1 of the URI has no pin of its own (with more than one pin, each address "
     "is followed by its own)"},
    {"sakhi:enroll?v=1&addr=a:0&code=SECRETCODE" P, "server address 1 of the URI is not HOST:PORT"},
    {"sakhi:enroll?v=1&addr=a:1&addr=b_c:2&code=SECRETCODE" P,
     "server address 2 of the URI is not HOST:PORT"},
    {"sakhi:enroll?v=1&addr=a:70000&code=SECRETCODE" P,
     "server address 1 of the URI is not HOST:PORT"},
    {"sakhi:enroll?v=1&addr=::1:7447&code=SECRETCODE" P,
     "server address 1 of the URI is not HOST:PORT"},
    {"sakhi:enroll?v=1&addr=a:1&addr=a:2&addr=a:3&addr=a:4&addr=a:5&code=SECRETCODE" P,
     "the URI lists more than 4 server addresses"},
    {"sakhi:enroll?v=1&addr=a:1&code=SECRETCODE&pin=0765", "the URI's pin is not 64 hex digits"},
    {"sakhi:enroll?v=1&addr=a:1&code=SECRET%2" P, "the URI's code is empty or too long"},
    {"sakhi:enroll?v=1&addr=a:1&code=SECRET%00CODE" P, "the URI's code is empty or too long"},
    {"sakhi:enroll?v=1&addr=a:1&code=" P, "the URI's code is empty or too long"},
    {"sakhi:enroll?v=1&addr=a:1&code=SECRETCODE&junk" P, "the URI has a parameter without a value"},
    {"", "not a Sakhi enrollment URI (it must start with sakhi:enroll?)"},
};
#undef P

static void test_refusals(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_refusals) / sizeof(k_refusals[0]); i++)
        refused(k_refusals[i].uri, k_refusals[i].msg);
    char t[2048];
    memset(t, 'x', sizeof(t));
    memcpy(t, "sakhi:enroll?v=1&", 17);
    t[1030] = '\0';
    refused(t, "the URI is longer than 1024 characters");
}

static void test_format_refuses(void **state)
{
    (void)state;
    sk_enroll_uri u;
    sk_buf b = SK_BUF_INIT;
    make(&u);
    u.naddrs = 0;
    assert_int_equal(sk_uri_format(&b, &u), -SK_E_BAD_VALUE);
    make(&u);
    u.code[0] = '\0';
    assert_int_equal(sk_uri_format(&b, &u), -SK_E_BAD_VALUE);
    make(&u);
    snprintf(u.addrs[0].host, sizeof(u.addrs[0].host), "bad host");
    assert_int_equal(sk_uri_format(&b, &u), -SK_E_BAD_VALUE);
    sk_buf_free(&b);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_format_exact),
    cmocka_unit_test(test_roundtrip),
    cmocka_unit_test(test_scan_forms),
    cmocka_unit_test(test_refusals),
    cmocka_unit_test(test_format_refuses),
    cmocka_unit_test(test_pin_per_address),
})
