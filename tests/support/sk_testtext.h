/*
 * sk_testtext.h - text a test builds to size: n copies of a unit (a letter of some script, a
 * byte); how often a needle occurs in text a test reads (a log, a tool's output), and whether
 * it holds every one of a list. Header only, so the unit tests that link no harness use it too.
 */
#ifndef SK_TESTTEXT_H
#define SK_TESTTEXT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* n copies of unit, NUL-terminated (the caller frees it); NULL when the size overflows or
 * memory runs out. */
static inline char *sk_text_repeat(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    if (u && n > (SIZE_MAX - 1) / u)
        return NULL;
    char *s = malloc(u * n + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        memcpy(s + u * i, unit, u);
    s[u * n] = '\0';
    return s;
}

/* How many times needle occurs in text, overlapping occurrences each counted. */
static inline size_t sk_text_count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* The first of the NULL-ended needles that text does not contain; NULL when it holds them all. */
static inline const char *sk_text_missing(const char *text, const char *const *needles)
{
    for (; *needles; needles++)
        if (!strstr(text, *needles))
            return *needles;
    return NULL;
}

/* Fails the test (cmocka's fail_msg: only where cmocka is included) naming the first of the
 * needles given after text that text does not contain. */
#define SK_ASSERT_TEXT_HAS(text, ...)                                                              \
    do {                                                                                           \
        const char *sk_missing_ =                                                                  \
            sk_text_missing((text), (const char *const[]){__VA_ARGS__, NULL});                     \
        if (sk_missing_)                                                                           \
            fail_msg("the text lacks \"%s\"", sk_missing_);                                        \
    } while (0)

#endif
