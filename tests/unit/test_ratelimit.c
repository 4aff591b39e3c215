/*
 * test_ratelimit.c - unit tests for sk_ratelimit, the server's failed-authentication counters.
 *
 * Checked: a key is refused once it reaches the limit and only until its window has passed, with
 * retry_ms the time left; other keys are not touched; a success clears the count; a limit of 0
 * turns counting off; keys that differ only past the stored length are one key; a flood of
 * 100,000 new keys through a small table neither allocates nor breaks it, and a key counted
 * after the flood is still refused; every key of a table filled to its size is found again
 * (none lost to probing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sk_ratelimit.h"

#define WIN 600000u

static void test_limit_and_window(void **state)
{
    (void)state;
    sk_ratelimit *rl = sk_ratelimit_new(3, WIN, 64);
    assert_non_null(rl);
    assert_int_equal(sk_ratelimit_check(rl, "device:7", 1000), 0);
    sk_ratelimit_fail(rl, "device:7", 1000);
    sk_ratelimit_fail(rl, "device:7", 2000);
    assert_int_equal(sk_ratelimit_check(rl, "device:7", 2000), 0); /* 2 of 3 */
    sk_ratelimit_fail(rl, "device:7", 3000);
    assert_int_equal(sk_ratelimit_check(rl, "device:7", 3000), WIN - 2000);
    assert_int_equal(sk_ratelimit_check(rl, "device:8", 3000), 0);
    assert_int_equal(sk_ratelimit_check(rl, "device:7", 1000 + WIN - 1), 1);
    assert_int_equal(sk_ratelimit_check(rl, "device:7", 1000 + WIN), 0);
    /* A failure after the window starts a new one with a count of 1. */
    sk_ratelimit_fail(rl, "device:7", 1000 + WIN);
    assert_int_equal(sk_ratelimit_check(rl, "device:7", 1000 + WIN), 0);
    sk_ratelimit_free(rl);
}

static void test_clear_and_off(void **state)
{
    (void)state;
    sk_ratelimit *rl = sk_ratelimit_new(2, WIN, 64);
    assert_non_null(rl);
    sk_ratelimit_fail(rl, "addr:10.0.0.1", 10);
    sk_ratelimit_fail(rl, "addr:10.0.0.1", 20);
    sk_ratelimit_fail(rl, "addr:10.0.0.2", 20);
    sk_ratelimit_fail(rl, "addr:10.0.0.2", 20);
    assert_true(sk_ratelimit_check(rl, "addr:10.0.0.1", 30) > 0);
    sk_ratelimit_clear(rl, "addr:10.0.0.1");
    assert_int_equal(sk_ratelimit_check(rl, "addr:10.0.0.1", 30), 0);
    assert_true(sk_ratelimit_check(rl, "addr:10.0.0.2", 30) > 0); /* the other is kept */
    sk_ratelimit_free(rl);

    sk_ratelimit *off = sk_ratelimit_new(0, WIN, 64);
    assert_non_null(off);
    for (int i = 0; i < 100; i++)
        sk_ratelimit_fail(off, "device:1", 5);
    assert_int_equal(sk_ratelimit_check(off, "device:1", 5), 0);
    sk_ratelimit_clear(off, "device:1");
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
    sk_ratelimit *rl = sk_ratelimit_new(1, WIN, 64);
    assert_non_null(rl);
    sk_ratelimit_fail(rl, a, 1);
    assert_true(sk_ratelimit_check(rl, a, 2) > 0);
    assert_true(sk_ratelimit_check(rl, b, 2) > 0);
    sk_ratelimit_free(rl);
}

static void test_flood(void **state)
{
    (void)state;
    sk_ratelimit *rl = sk_ratelimit_new(2, WIN, 256);
    assert_non_null(rl);
    char key[64];
    for (unsigned i = 0; i < 100000; i++) {
        snprintf(key, sizeof(key), "addr:flood-%u", i);
        sk_ratelimit_fail(rl, key, 100 + i / 1000);
    }
    /* Still counts after the flood (the flood's keys are at count 1, under the limit). */
    sk_ratelimit_fail(rl, "device:42", 500);
    sk_ratelimit_fail(rl, "device:42", 501);
    assert_true(sk_ratelimit_check(rl, "device:42", 502) > 0);
    snprintf(key, sizeof(key), "addr:flood-%u", 99999u);
    sk_ratelimit_fail(rl, key, 502);
    assert_true(sk_ratelimit_check(rl, key, 503) > 0);
    sk_ratelimit_free(rl);
}

static void test_full_table_finds_all(void **state)
{
    (void)state;
    /* cap 1024 keys, 1024 counted: every key must still be found at its count (none lost to
     * probing; with a half-full table of 2048 slots and 64-slot neighbourhoods a loss is a
     * below-one-in-a-million event). */
    sk_ratelimit *rl = sk_ratelimit_new(2, WIN, 1024);
    assert_non_null(rl);
    char key[32];
    unsigned found = 0;
    for (unsigned i = 0; i < 1024; i++) {
        snprintf(key, sizeof(key), "device:%u", i);
        sk_ratelimit_fail(rl, key, 10);
        sk_ratelimit_fail(rl, key, 11);
    }
    for (unsigned i = 0; i < 1024; i++) {
        snprintf(key, sizeof(key), "device:%u", i);
        found += sk_ratelimit_check(rl, key, 12) > 0;
    }
    assert_int_equal(found, 1024);
    sk_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_window),
        cmocka_unit_test(test_clear_and_off),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_flood),
        cmocka_unit_test(test_full_table_finds_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
