/*
 * sk_testmain.h - the one main() of a cmocka test program.
 *
 * A test file ends with the list of its tests and nothing else:
 *
 *     SK_TEST_MAIN({
 *         cmocka_unit_test(test_one_thing),
 *         cmocka_unit_test_setup_teardown(test_another, setup, teardown),
 *     })
 *
 * which defines main() to run them as one group without group fixtures (a program that needs
 * group fixtures, a test filter or work after the run writes its own main()). The braced list
 * is passed through as the initializer, so it keeps one test a line and a trailing comma.
 *
 * Where every test of a program runs with the same per-test fixture, the list names each test
 * once and the fixture is given once, to the array:
 *
 *     static struct CMUnitTest tests[] = {
 *         cmocka_unit_test(test_one_thing),
 *         cmocka_unit_test(test_another),
 *     };
 *
 *     SK_TEST_MAIN_EACH(tests, setup, teardown)
 */
#ifndef SK_TESTMAIN_H
#define SK_TESTMAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define SK_TEST_MAIN(...)                                                                          \
    int main(void)                                                                                 \
    {                                                                                              \
        const struct CMUnitTest tests[] = __VA_ARGS__;                                             \
        return cmocka_run_group_tests(tests, NULL, NULL);                                          \
    }

#define SK_TEST_MAIN_EACH(list, setup, teardown)                                                   \
    int main(void)                                                                                 \
    {                                                                                              \
        for (size_t i_ = 0; i_ < sizeof(list) / sizeof(list[0]); i_++) {                           \
            list[i_].setup_func = setup;                                                           \
            list[i_].teardown_func = teardown;                                                     \
        }                                                                                          \
        return cmocka_run_group_tests(list, NULL, NULL);                                           \
    }

#endif
