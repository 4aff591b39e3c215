/*
 * sk_desk_form.c - form, query and cookie parsing for the desk (see sk_desk_form.h).
 *
 * Owns nothing: the decoded bytes live in the caller's sk_form. Never allocates, never trusts a
 * length it did not check, and refuses rather than repairs: a form that does not decode cleanly
 * is not half-used.
 */
#include "sk_desk_form.h"
#include "sk_text.h"

#include "sk_err.h"

#include <stdint.h>
#include <string.h>

int sk_text_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (len - i < n)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* overlong forms, surrogates, beyond Unicode, C1 controls */
        if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
            (cp >= 0x80 && cp <= 0x9f))
            return 0;
        i += n;
    }
    return 1;
}

/* Decode s[0..len) into out (room checked by the caller: decoding never grows). Returns the
 * decoded length or -1 on a bad escape. */
static long decode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            if (len - i < 3)
                return -1;
            int h = sk_hex_digit(s[i + 1]), l = sk_hex_digit(s[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    return (long)o;
}

int sk_form_parse(sk_form *f, const char *s, size_t len)
{
    f->n = 0;
    if (len > SK_FORM_MAX_BYTES)
        return -SK_E_TOO_LONG;
    size_t used = 0, i = 0;
    int rc = 0;
    while (i < len) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t kend = eq ? (size_t)(eq - s) : end;
            size_t vbeg = eq ? kend + 1 : end;
            if (f->n == SK_FORM_MAX_FIELDS) {
                rc = -SK_E_TOO_LONG;
                goto out;
            }
            /* key, NUL, value, NUL: never more than the pair's own bytes plus two */
            char *k = f->buf + used;
            long kl = decode(s + i, kend - i, k);
            if (kl < 0) {
                rc = -SK_E_BAD_VALUE;
                goto out;
            }
            k[kl] = '\0';
            char *v = k + kl + 1;
            long vl = decode(s + vbeg, end - vbeg, v);
            if (vl < 0) {
                rc = -SK_E_BAD_VALUE;
                goto out;
            }
            v[vl] = '\0';
            if (!sk_text_ok(k, (size_t)kl) || !sk_text_ok(v, (size_t)vl)) {
                rc = -SK_E_BAD_VALUE;
                goto out;
            }
            f->f[f->n++] = (sk_form_field){k, v, (size_t)kl, (size_t)vl};
            used += (size_t)kl + (size_t)vl + 2;
        }
        i = end + 1;
    }
out:
    if (rc)
        f->n = 0;
    return rc;
}

const char *sk_form_get(const sk_form *f, const char *key)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->f[i].key, key) == 0)
            return f->f[i].val;
    return NULL;
}

static int token_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

int sk_cookie_get(const char *hdr, size_t hdr_len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name), i = 0;
    if (cap == 0)
        return -1;
    while (i < hdr_len) {
        while (i < hdr_len && (hdr[i] == ' ' || hdr[i] == ';' || hdr[i] == '\t'))
            i++;
        size_t b = i;
        while (i < hdr_len && hdr[i] != ';')
            i++;
        /* pair [b, i) */
        if (i - b > nl && memcmp(hdr + b, name, nl) == 0 && hdr[b + nl] == '=') {
            size_t vb = b + nl + 1, vl = i - vb;
            while (vl && (hdr[vb + vl - 1] == ' ' || hdr[vb + vl - 1] == '\t'))
                vl--;
            if (vl == 0 || vl >= cap)
                return -1;
            for (size_t k = 0; k < vl; k++)
                if (!token_char(hdr[vb + k]))
                    return -1;
            memcpy(out, hdr + vb, vl);
            out[vl] = '\0';
            return 0;
        }
    }
    return -1;
}
