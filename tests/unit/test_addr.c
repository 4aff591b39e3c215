/*
 * test_addr.c - is an address loopback (proto/sk_addr.h): address literals and names as the
 * server's and netem's listen checks read them, and as the client library's plaintext check
 * reads resolved addresses (IPv4-mapped IPv6 counted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_addr.h"

static const struct {
    const char *addr;
    int loopback; /* flags 0 */
    int v4mapped; /* flags SK_ADDR_V4MAPPED */
} k_cases[] = {
    {"127.0.0.1", 1, 1},
    {"127.255.255.254", 1, 1},
    {"127.1.2.3", 1, 1},
    {"128.0.0.1", 0, 0},
    {"126.255.255.255", 0, 0},
    {"0.0.0.0", 0, 0},
    {"10.0.0.1", 0, 0},
    {"::1", 1, 1},
    {"0:0:0:0:0:0:0:1", 1, 1},
    {"::", 0, 0},
    {"::2", 0, 0},
    {"fe80::1", 0, 0},
    {"::ffff:127.0.0.1", 0, 1},
    {"::ffff:127.9.9.9", 0, 1},
    {"::ffff:10.0.0.1", 0, 0},
    {"::127.0.0.1", 0, 0}, /* IPv4-compatible, not mapped */
    {"localhost", 1, 1},
    {"LOCALHOST", 0, 0}, /* names are not looked up, and only "localhost" exactly counts */
    {"localhost.", 0, 0},
    {"ip6-localhost", 0, 0},
    {"example.org", 0, 0},
    {"", 0, 0},
    {"127.0.0.1 ", 0, 0},
    {"127.0.0", 0, 0},
    {"127.0.0.256", 0, 0},
    {"[::1]", 0, 0},
    {"127.0.0.1:80", 0, 0},
    {"not an address", 0, 0},
};

static void test_literals_and_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(k_cases) / sizeof(k_cases[0]); i++) {
        int got = sk_addr_is_loopback(k_cases[i].addr, 0);
        int got_mapped = sk_addr_is_loopback(k_cases[i].addr, SK_ADDR_V4MAPPED);
        if (got != k_cases[i].loopback || got_mapped != k_cases[i].v4mapped)
            fail_msg("'%s': loopback %d (want %d), with v4-mapped %d (want %d)", k_cases[i].addr,
                     got, k_cases[i].loopback, got_mapped, k_cases[i].v4mapped);
    }
    assert_int_equal(sk_addr_is_loopback(NULL, 0), 0);
    assert_int_equal(sk_addr_is_loopback(NULL, SK_ADDR_V4MAPPED), 0);
}

static void test_bytes(void **state)
{
    (void)state;
    static const uint8_t v4_lo[4] = {127, 0, 0, 1}, v4_other[4] = {192, 168, 1, 1};
    static const uint8_t v6_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t v6_mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    static const uint8_t v6_mapped_other[16] = {0, 0, 0,    0,    0, 0, 0, 0,
                                                0, 0, 0xff, 0xff, 8, 8, 8, 8};
    assert_int_equal(sk_addr_ip_is_loopback(v4_lo, 4, 0), 1);
    assert_int_equal(sk_addr_ip_is_loopback(v4_other, 4, SK_ADDR_V4MAPPED), 0);
    assert_int_equal(sk_addr_ip_is_loopback(v6_lo, 16, 0), 1);
    assert_int_equal(sk_addr_ip_is_loopback(v6_mapped, 16, 0), 0);
    assert_int_equal(sk_addr_ip_is_loopback(v6_mapped, 16, SK_ADDR_V4MAPPED), 1);
    assert_int_equal(sk_addr_ip_is_loopback(v6_mapped_other, 16, SK_ADDR_V4MAPPED), 0);
    assert_int_equal(sk_addr_ip_is_loopback(v4_lo, 3, 0), 0); /* neither IPv4 nor IPv6 */
    assert_int_equal(sk_addr_ip_is_loopback(v6_lo, 15, 0), 0);
    assert_int_equal(sk_addr_ip_is_loopback(NULL, 4, 0), 0);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_literals_and_names),
    cmocka_unit_test(test_bytes),
})
