/*
 * sk_testtext.h - text a test builds to size: n copies of a unit (a letter of some script, a
 * byte); and how often a needle occurs in text a test reads (a log, a tool's output). Header
 * only, so the unit tests that link no harness use it too.
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

#endif
