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
 *
 * or, shorter, the fixture is given once and each test by its name alone:
 *
 *     SK_TEST_MAIN_SETS(SK_TESTS(setup, teardown, test_one_thing, test_another))
 *
 * SK_TESTS(setup, teardown, test, ...) is a set of tests that share one per-test fixture (NULL,
 * NULL for none); SK_TEST_MAIN_SETS(set, ...) defines main() to run the sets, in the order
 * given, as one group named "tests", each test under its function's name, as cmocka_unit_test()
 * names it. A program that writes its own main() (a filter, work before or after the run) runs
 * the same sets with SK_TEST_RUN(set, ...), which returns what cmocka_run_group_tests() does:
 *
 *     int rc = SK_TEST_RUN(SK_TESTS(setup, teardown, test_one_thing),
 *                          SK_TESTS(setup_other, teardown, test_another));
 */
#ifndef SK_TESTMAIN_H
#define SK_TESTMAIN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Tests that share one per-test fixture: their functions and, as written, their names ("a, b,
 * c": the preprocessor folds the white space between them to one space), in the same order. */
struct sk_test_set {
    const CMUnitTestFunction *funcs;
    size_t n;
    const char *names;
    CMFixtureFunction setup;
    CMFixtureFunction teardown;
};

/* how many elements of type the initializer list ... has */
#define SK_TEST_COUNT_(type, ...) (sizeof((type[]){__VA_ARGS__}) / sizeof(type))

#define SK_TESTS(setup, teardown, ...)                                                             \
    {                                                                                              \
        (const CMUnitTestFunction[]){__VA_ARGS__},                                                 \
            SK_TEST_COUNT_(const CMUnitTestFunction, __VA_ARGS__), #__VA_ARGS__, setup, teardown   \
    }

#define SK_TEST_RUN(...)                                                                           \
    sk_test_run_sets((const struct sk_test_set[]){__VA_ARGS__},                                    \
                     SK_TEST_COUNT_(const struct sk_test_set, __VA_ARGS__))

#define SK_TEST_MAIN_SETS(...)                                                                     \
    int main(void)                                                                                 \
    {                                                                                              \
        return SK_TEST_RUN(__VA_ARGS__);                                                           \
    }

/* Runs the tests of sets[0..nsets) as one cmocka group; a name list that does not match its
 * functions (a name that is not a plain function name) fails the run before any test. */
static inline int sk_test_run_sets(const struct sk_test_set *sets, size_t nsets)
{
    size_t total = 0;
    for (size_t s = 0; s < nsets; s++)
        total += sets[s].n;
    struct CMUnitTest *tests = calloc(total ? total : 1, sizeof(*tests));
    char **names = calloc(nsets ? nsets : 1, sizeof(*names));
    int rc = 1;
    if (!tests || !names)
        goto out;
    size_t t = 0;
    for (size_t s = 0; s < nsets; s++) {
        names[s] = strdup(sets[s].names);
        if (!names[s])
            goto out;
        size_t i = 0;
        char *save = NULL;
        for (char *name = strtok_r(names[s], ", ", &save); name;
             name = strtok_r(NULL, ", ", &save), i++) {
            if (i < sets[s].n)
                tests[t + i] = (struct CMUnitTest){name, sets[s].funcs[i], sets[s].setup,
                                                   sets[s].teardown, NULL};
        }
        if (i != sets[s].n) {
            fprintf(stderr, "SK_TESTS: the names \"%s\" do not match %zu functions\n",
                    sets[s].names, sets[s].n);
            goto out;
        }
        t += i;
    }
    /* cmocka_run_group_tests(tests, ...) without the array's size known at compile time */
    rc = _cmocka_run_group_tests("tests", tests, total, NULL, NULL);
out:
    for (size_t s = 0; names && s < nsets; s++)
        free(names[s]);
    free(names);
    free(tests);
    return rc;
}

#endif
