/*
 * test_ratelimit.c - unit tests for sk_ratelimit (failed-attempt back-off per address) and
 * sk_codeguard (wrong tries per enrollment-code id).
 *
 * Checked: a key fails `free` times without delay, then its back-off doubles from base up to
 * the cap, counted from each failure, with the exact milliseconds left; a key quiet for
 * forget_ms after its back-off is forgotten and starts again from nothing; other keys are not
 * touched; clear forgets; free = 0 turns limiting off; keys that differ only past the stored
 * length are one key; a flood of 100,000 new keys through a small table neither allocates nor
 * breaks it, and a key counted after the flood still backs off; every key of a table filled to
 * its size is found again. A code id dies at exactly `tries` wrong tries, kills only codes
 * made before it died, and wrong tries more than a day apart do not add up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <stdio.h>
#include <string.h>

#include "sk_ratelimit.h"

#define FORGET 600000u

/* A limiter forgetting after FORGET; every test needs one, so a failed allocation fails here. */
static sk_ratelimit *limiter(uint32_t free, uint64_t base_ms, uint64_t max_ms, size_t cap)
{
    sk_ratelimit *rl = sk_ratelimit_new(free, base_ms, max_ms, FORGET, cap);
    assert_non_null(rl);
    return rl;
}

static void test_backoff_doubles_to_cap(void **state)
{
    (void)state;
    sk_ratelimit *rl = limiter(3, 1000, 8000, 64);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sk_ratelimit_fail(rl, "10.0.0.7", 100), 0);
        assert_int_equal(sk_ratelimit_check(rl, "10.0.0.7", 100), 0);
    }
    assert_int_equal(sk_ratelimit_count(rl, "10.0.0.7", 100), 3);
    const uint64_t want[] = {1000, 2000, 4000, 8000, 8000, 8000};
    uint64_t t = 1000;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(sk_ratelimit_fail(rl, "10.0.0.7", t), want[i]);
        assert_int_equal(sk_ratelimit_check(rl, "10.0.0.7", t), want[i]);
        assert_int_equal(sk_ratelimit_check(rl, "10.0.0.7", t + want[i] - 1), 1);
        assert_int_equal(sk_ratelimit_check(rl, "10.0.0.7", t + want[i]), 0);
        t += want[i];
    }
    assert_int_equal(sk_ratelimit_check(rl, "10.0.0.8", t - 1), 0); /* other keys untouched */
    /* Forgotten forget_ms after the back-off ended: the count starts again. */
    assert_int_equal(sk_ratelimit_count(rl, "10.0.0.7", t - 8000 + 8000 + FORGET - 1), 9);
    assert_int_equal(sk_ratelimit_count(rl, "10.0.0.7", t + FORGET), 0);
    assert_int_equal(sk_ratelimit_fail(rl, "10.0.0.7", t + FORGET), 0);
    assert_int_equal(sk_ratelimit_count(rl, "10.0.0.7", t + FORGET), 1);
    sk_ratelimit_free(rl);
}

static void test_huge_cap_no_overflow(void **state)
{
    (void)state;
    sk_ratelimit *rl = limiter(1, 1000, UINT64_MAX / 4, 64);
    uint64_t b = 0;
    for (int i = 0; i < 200; i++)
        b = sk_ratelimit_fail(rl, "k", 5);
    assert_int_equal(b, UINT64_MAX / 4);
    sk_ratelimit_free(rl);
}

static void test_clear_and_off(void **state)
{
    (void)state;
    sk_ratelimit *rl = limiter(1, 1000, 60000, 64);
    sk_ratelimit_fail(rl, "10.0.0.1", 10);
    sk_ratelimit_fail(rl, "10.0.0.1", 20);
    sk_ratelimit_fail(rl, "10.0.0.2", 20);
    sk_ratelimit_fail(rl, "10.0.0.2", 20);
    assert_int_equal(sk_ratelimit_check(rl, "10.0.0.1", 30), 990);
    sk_ratelimit_clear(rl, "10.0.0.1");
    assert_int_equal(sk_ratelimit_check(rl, "10.0.0.1", 30), 0);
    assert_int_equal(sk_ratelimit_count(rl, "10.0.0.1", 30), 0);
    assert_int_equal(sk_ratelimit_check(rl, "10.0.0.2", 30), 990); /* the other is kept */
    sk_ratelimit_free(rl);

    sk_ratelimit *off = limiter(0, 1000, 60000, 64);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sk_ratelimit_fail(off, "10.0.0.1", 5), 0);
    assert_int_equal(sk_ratelimit_check(off, "10.0.0.1", 5), 0);
    sk_ratelimit_clear(off, "10.0.0.1");
    sk_ratelimit_free(off);
    sk_ratelimit_free(NULL);
}

static void test_long_keys(void **state)
{
    (void)state;
    char a[200], b[200];
    memset(a, 'k', sizeof(a) - 1);
    a[sizeof(a) - 1] = 0;
    memcpy(b, a, sizeof(b));
    b[150] = 'x'; /* differs only past what is stored */
    sk_ratelimit *rl = limiter(1, 1000, 60000, 64);
    sk_ratelimit_fail(rl, a, 1);
    sk_ratelimit_fail(rl, a, 1);
    assert_int_equal(sk_ratelimit_check(rl, a, 2), 999);
    assert_int_equal(sk_ratelimit_check(rl, b, 2), 999);
    sk_ratelimit_free(rl);
}

/* key, counted once, fails again at t: backed off by the 1 s base, 999 ms left a millisecond on. */
static void second_failure_backs_off(sk_ratelimit *rl, const char *key, uint64_t t)
{
    assert_int_equal(sk_ratelimit_fail(rl, key, t), 1000);
    assert_int_equal(sk_ratelimit_check(rl, key, t + 1), 999);
}

static void test_flood(void **state)
{
    (void)state;
    sk_ratelimit *rl = limiter(1, 1000, 60000, 256);
    size_t bytes = sk_ratelimit_bytes(rl);
    char key[64];
    for (unsigned i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "flood-%u", i);
        sk_ratelimit_fail(rl, key, 100 + i / 1000);
    }
    assert_int_equal(sk_ratelimit_bytes(rl), bytes);
    /* Still counts after the flood (the flood's keys are at count 1, not backing off). */
    sk_ratelimit_fail(rl, "10.9.9.9", 500);
    second_failure_backs_off(rl, "10.9.9.9", 501);
    snprintf(key, sizeof(key), "flood-%u", 99999u);
    second_failure_backs_off(rl, key, 502);
    sk_ratelimit_free(rl);
}

static void test_full_table_finds_all(void **state)
{
    (void)state;
    /* cap 1024 keys, 1024 counted: every key must still be found at its count. */
    sk_ratelimit *rl = limiter(1, 1000, 60000, 1024);
    char key[32];
    unsigned found = 0;
    for (unsigned i = 0; i < 1024; i++) {
        snprintf(key, sizeof(key), "10.1.%u.%u", i / 256, i % 256);
        sk_ratelimit_fail(rl, key, 10);
        sk_ratelimit_fail(rl, key, 11);
    }
    for (unsigned i = 0; i < 1024; i++) {
        snprintf(key, sizeof(key), "10.1.%u.%u", i / 256, i % 256);
        found += sk_ratelimit_check(rl, key, 12) == 999;
    }
    assert_int_equal(found, 1024);
    sk_ratelimit_free(rl);
}

#define DAY (24ull * 3600ull * 1000ull)

static void test_code_dies_after_tries(void **state)
{
    (void)state;
    sk_codeguard *g = sk_codeguard_new(5, 15625);
    assert_non_null(g);
    uint64_t made = 1000;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sk_codeguard_fail(g, 42, 2000 + (uint64_t)i), 0);
        assert_int_equal(sk_codeguard_dead(g, 42, made), 0);
    }
    assert_int_equal(sk_codeguard_fail(g, 42, 3000), 1);
    assert_int_equal(sk_codeguard_dead(g, 42, made), 1);
    assert_int_equal(sk_codeguard_dead(g, 42, 0), 1);    /* a code made before the field */
    assert_int_equal(sk_codeguard_dead(g, 42, 3001), 0); /* a code made after the death lives */
    assert_int_equal(sk_codeguard_dead(g, 43, made), 0); /* other ids untouched */
    /* Out of range and -1 (not a code) are ignored. */
    assert_int_equal(sk_codeguard_fail(g, -1, 5), 0);
    assert_int_equal(sk_codeguard_fail(g, 15625, 5), 0);
    assert_int_equal(sk_codeguard_dead(g, -1, 0), 0);
    /* Wrong tries more than a day apart do not add up. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(sk_codeguard_fail(g, 7, (uint64_t)i * (DAY + 1) + 10), 0);
    assert_int_equal(sk_codeguard_fail(g, 7, 4 * (DAY + 1) + 10), 0);
    assert_int_equal(sk_codeguard_dead(g, 7, 0), 0);
    sk_codeguard_free(g);
    sk_codeguard *off = sk_codeguard_new(0, 15625);
    assert_non_null(off);
    for (int i = 0; i < 100; i++)
        assert_int_equal(sk_codeguard_fail(off, 1, 5), 0);
    assert_int_equal(sk_codeguard_dead(off, 1, 0), 0);
    sk_codeguard_free(off);
    sk_codeguard_free(NULL);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_backoff_doubles_to_cap),
    cmocka_unit_test(test_huge_cap_no_overflow),
    cmocka_unit_test(test_clear_and_off),
    cmocka_unit_test(test_long_keys),
    cmocka_unit_test(test_flood),
    cmocka_unit_test(test_full_table_finds_all),
    cmocka_unit_test(test_code_dies_after_tries),
})
