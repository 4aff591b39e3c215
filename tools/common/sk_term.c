/*
 * sk_term.c - escaping untrusted text for a terminal (see sk_term.h). No state, no allocation.
 */
#include "sk_term.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at p (at most n bytes) that is printable (not a C1
 * control), or 0. */
static size_t printable_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t k;
    unsigned cp;
    if (c >= 0x20 && c < 0x7f)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
        return 0;
    return k;
}

/* One piece of output for the bytes at p: either k bytes passed as they are (*pass = 1) or the
 * escape of one byte written to esc. Returns the bytes consumed. */
static size_t next_piece(const unsigned char *p, size_t n, char esc[5], size_t *esclen, int *pass)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = p[0] == '\\' ? 0 : printable_seq(p, n);
    if (k) {
        *pass = 1;
        return k;
    }
    *pass = 0;
    if (p[0] == '\\') {
        esc[0] = esc[1] = '\\';
        *esclen = 2;
    } else {
        esc[0] = '\\';
        esc[1] = 'x';
        esc[2] = hex[p[0] >> 4];
        esc[3] = hex[p[0] & 15];
        *esclen = 4;
    }
    return 1;
}

void sk_term_write(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    while (n > 0) {
        char esc[5];
        size_t el = 0;
        int pass;
        size_t k = next_piece(p, n, esc, &el, &pass);
        if (pass)
            fwrite(p, 1, k, f);
        else
            fwrite(esc, 1, el, f);
        p += k;
        n -= k;
    }
}

const char *sk_term_safe(char *buf, size_t cap, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (n > 0) {
        char esc[5];
        size_t el = 0;
        int pass;
        size_t k = next_piece(p, n, esc, &el, &pass);
        size_t w = pass ? k : el;
        if (o + w + 1 > cap)
            break;
        memcpy(buf + o, pass ? (const char *)p : esc, w);
        o += w;
        p += k;
        n -= k;
    }
    buf[o] = '\0';
    return buf;
}

const char *sk_term_cstr(char *buf, size_t cap, const char *s)
{
    return sk_term_safe(buf, cap, s, strlen(s));
}
