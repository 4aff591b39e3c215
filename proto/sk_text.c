/*
 * sk_text.c - field input (sk_text.h): UTF-8 with character counts, trimming, and phone numbers
 * brought to E.164. It owns nothing and allocates nothing; it never logs what it reads.
 */
#include "sk_text.h"

#include "sk_err.h"

#include <string.h>

int sk_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t sk_utf8_next(const char *s, size_t n, size_t i, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[i];
    size_t len;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2;
        v = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        v = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if (len > n - i)
        return 0;
    for (size_t j = 1; j < len; j++) {
        if ((p[i + j] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (p[i + j] & 0x3f);
    }
    if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
        v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

long sk_utf8_chars(const char *s, size_t n)
{
    long count = 0;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t l = sk_utf8_next(s, n, i, &cp);
        if (!l)
            return -1;
        i += l;
        count++;
    }
    return count;
}

static int is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200b) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
}

void sk_text_trim(const char *s, size_t n, size_t *start, size_t *len)
{
    size_t i = 0, first = n, end = 0;
    uint32_t cp;
    while (i < n) {
        size_t l = sk_utf8_next(s, n, i, &cp);
        if (!l)
            l = 1; /* not UTF-8: the caller has refused it already; count it as text */
        if (l == 1 && cp > 0x7f)
            cp = 0x7f;
        if (!is_space(cp)) {
            if (first == n)
                first = i;
            end = i + l;
        }
        i += l;
    }
    *start = first == n ? 0 : first;
    *len = first == n ? 0 : end - first;
}

/* Zero of each block of decimal digits (Unicode category Nd) a worker in the region may type. */
static const uint32_t k_zeros[] = {
    0x0660, /* Arabic-Indic */
    0x06f0, /* Extended Arabic-Indic (Urdu) */
    0x0966, /* Devanagari */
    0x09e6, /* Bengali */
    0x0a66, /* Gurmukhi */
    0x0ae6, /* Gujarati */
    0x0b66, /* Oriya */
    0x0be6, /* Tamil */
    0x0c66, /* Telugu */
    0x0ce6, /* Kannada */
    0x0d66, /* Malayalam */
    0x0de6, /* Sinhala */
    0x0e50, /* Thai */
    0x0ed0, /* Lao */
    0x0f20, /* Tibetan */
    0x1040, /* Myanmar */
    0x17e0, /* Khmer */
    0x1810, /* Mongolian */
    0xff10, /* full-width */
};

/* The digit value of cp, or -1. */
static int digit_of(uint32_t cp)
{
    if (cp >= '0' && cp <= '9')
        return (int)(cp - '0');
    for (size_t i = 0; i < sizeof(k_zeros) / sizeof(k_zeros[0]); i++)
        if (cp >= k_zeros[i] && cp <= k_zeros[i] + 9)
            return (int)(cp - k_zeros[i]);
    return -1;
}

static int is_separator(uint32_t cp)
{
    return is_space(cp) || cp == '-' || cp == '.' || cp == '/' || cp == '(' || cp == ')' ||
           (cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xfe63 || cp == 0xff0d;
}

int sk_phone_normalise(char out[SK_PHONE_E164_MAX + 1], const char *s, size_t n)
{
    char d[24];
    size_t nd = 0;
    int plus = 0, seen = 0;
    uint32_t cp;

    if (!s || n > 64)
        return -SK_E_BAD_VALUE;
    for (size_t i = 0; i < n;) {
        size_t l = sk_utf8_next(s, n, i, &cp);
        if (!l)
            return -SK_E_BAD_VALUE;
        i += l;
        int dv = digit_of(cp);
        if (dv >= 0) {
            if (nd == sizeof(d))
                return -SK_E_BAD_VALUE;
            d[nd++] = (char)('0' + dv);
            seen = 1;
        } else if ((cp == '+' || cp == 0xff0b) && !seen && !plus) {
            plus = 1;
            seen = 1;
        } else if (!is_separator(cp)) {
            return -SK_E_BAD_VALUE;
        }
    }
    const char *num = d; /* digits after the country code's '+' */
    size_t nn = nd;
    if (!plus && nd >= 2 && d[0] == '0' && d[1] == '0') { /* international prefix */
        plus = 1;
        num += 2;
        nn -= 2;
    }
    char e[SK_PHONE_E164_MAX + 1];
    if (plus) {
        if (nn < 8 || nn > 15) /* E.164: at most 15 digits; check before copying into e */
            return -SK_E_BAD_VALUE;
        memcpy(e + 1, num, nn);
        e[0] = '+';
        e[nn + 1] = '\0';
    } else if (nd == 10 && d[0] != '0') {
        memcpy(e, "+91", 3);
        memcpy(e + 3, d, 10);
        e[13] = '\0';
    } else if (nd == 11 && d[0] == '0') {
        memcpy(e, "+91", 3);
        memcpy(e + 3, d + 1, 10);
        e[13] = '\0';
    } else if (nd == 12 && d[0] == '9' && d[1] == '1') {
        e[0] = '+';
        memcpy(e + 1, d, 12);
        e[13] = '\0';
    } else {
        return -SK_E_BAD_VALUE;
    }
    if (!sk_phone_is_e164(e, strlen(e)))
        return -SK_E_BAD_VALUE;
    memcpy(out, e, strlen(e) + 1);
    return 0;
}

int sk_phone_is_e164(const char *s, size_t n)
{
    if (n < 9 || n > SK_PHONE_E164_MAX || s[0] != '+' || s[1] == '0')
        return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    /* India: +91 and exactly 10 national digits, the first not 0 */
    if (s[1] == '9' && s[2] == '1')
        return n == 13 && s[3] != '0';
    return 1;
}
