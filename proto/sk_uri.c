/*
 * sk_uri.c - the enrollment URI (sk_uri.h): parse and format the `sakhi:enroll?...` string an
 * administrator hands a device as text or a QR code. It owns nothing but its output; it never
 * connects anywhere and never copies the one-time code into an error message.
 */
#include "sk_uri.h"
#include "sk_text.h"

#include "sk_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char k_prefix[] = "sakhi:enroll?";

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -SK_E_BAD_VALUE;
}

/* Percent-decode p[0..n) into out (cap bytes with the NUL). 0, or -1 for a bad escape, a NUL,
 * a control character or a value too long. */
static int pct_decode(char *out, size_t cap, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)p[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = sk_hex_digit(p[i + 1]), lo = sk_hex_digit(p[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (ch < 0x21 || ch == 0x7f)
            return -1;
        if (o + 1 >= cap)
            return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return 0;
}

static int host_char_ok(char ch, int v6)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    if (v6)
        return ch == ':' || ch == '.' || ch == '%';
    return ch == '.' || ch == '-';
}

int sk_uri_addr_parse(sk_uri_addr *a, const char *text)
{
    const char *host = text, *host_end, *colon;
    int v6 = 0;
    if (!text || !text[0])
        return -SK_E_BAD_VALUE;
    if (text[0] == '[') {
        v6 = 1;
        host = text + 1;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':')
            return -SK_E_BAD_VALUE;
        colon = host_end + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon)
            return -SK_E_BAD_VALUE;
        host_end = colon;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl > SK_URI_MAX_HOST)
        return -SK_E_BAD_VALUE;
    for (size_t i = 0; i < hl; i++)
        if (!host_char_ok(host[i], v6))
            return -SK_E_BAD_VALUE;
    const char *ps = colon + 1;
    size_t pl = strlen(ps);
    if (pl == 0 || pl > 5)
        return -SK_E_BAD_VALUE;
    unsigned long port = 0;
    for (size_t i = 0; i < pl; i++) {
        if (ps[i] < '0' || ps[i] > '9')
            return -SK_E_BAD_VALUE;
        port = port * 10 + (unsigned long)(ps[i] - '0');
    }
    if (port == 0 || port > 65535)
        return -SK_E_BAD_VALUE;
    memcpy(a->host, host, hl);
    a->host[hl] = '\0';
    a->port = (uint16_t)port;
    return 0;
}

int sk_uri_parse(sk_enroll_uri *out, const char *text, char *err, size_t errcap)
{
    sk_enroll_uri u;
    int have_v = 0, have_code = 0;
    char val[SK_URI_MAX_HOST + 16];
    /* pins as they come, each with the number of addresses before it */
    uint8_t pins[SK_URI_MAX_ADDRS][SK_TLS_PIN_LEN];
    size_t pin_after[SK_URI_MAX_ADDRS], npins = 0;

    if (err && errcap)
        err[0] = '\0';
    if (!out || !text)
        return fail(err, errcap, "no URI given");
    size_t len = strlen(text);
    /* a scan may end in a newline */
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (len > SK_URI_MAX_LEN)
        return fail(err, errcap, "the URI is longer than %d characters", SK_URI_MAX_LEN);
    if (len < sizeof(k_prefix) - 1 || strncasecmp(text, k_prefix, sizeof(k_prefix) - 1) != 0)
        return fail(err, errcap, "not a Sakhi enrollment URI (it must start with %s)", k_prefix);
    memset(&u, 0, sizeof(u));
    const char *p = text + sizeof(k_prefix) - 1, *end = text + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        if (pe == p) { /* empty parameter ("&&") */
            p = pe + 1;
            continue;
        }
        if (!eq)
            return fail(err, errcap, "the URI has a parameter without a value");
        size_t kl = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vl = (size_t)(pe - v);
        if (kl == 1 && p[0] == 'v') {
            if (have_v++ || pct_decode(val, sizeof(val), v, vl) || strcmp(val, "1") != 0)
                return fail(err, errcap,
                            "the URI is of a version this library does not know "
                            "(v=1 is expected)");
        } else if (kl == 4 && memcmp(p, "addr", 4) == 0) {
            if (u.naddrs == SK_URI_MAX_ADDRS)
                return fail(err, errcap, "the URI lists more than %d server addresses",
                            SK_URI_MAX_ADDRS);
            if (pct_decode(val, sizeof(val), v, vl) || sk_uri_addr_parse(&u.addrs[u.naddrs], val))
                return fail(err, errcap, "server address %zu of the URI is not HOST:PORT",
                            u.naddrs + 1);
            u.naddrs++;
        } else if (kl == 4 && memcmp(p, "code", 4) == 0) {
            if (have_code++)
                return fail(err, errcap, "the URI has two codes");
            if (pct_decode(u.code, sizeof(u.code), v, vl) || !u.code[0])
                return fail(err, errcap, "the URI's code is empty or too long");
        } else if (kl == 3 && memcmp(p, "pin", 3) == 0) {
            if (npins == SK_URI_MAX_ADDRS)
                return fail(err, errcap, "the URI has more than %d pins", SK_URI_MAX_ADDRS);
            if (npins && pin_after[npins - 1] == u.naddrs)
                return fail(err, errcap, "the URI has two pins for server address %zu", u.naddrs);
            if (pct_decode(val, sizeof(val), v, vl) || sk_tls_pin_parse(pins[npins], val))
                return fail(err, errcap, "the URI's pin is not 64 hex digits");
            pin_after[npins++] = u.naddrs;
        } /* unknown parameters: a later version's, ignored */
        p = pe + (amp ? 1 : 0);
    }
    if (!have_v)
        return fail(err, errcap, "the URI has no version (v=1)");
    if (!u.naddrs)
        return fail(err, errcap, "the URI has no server address");
    if (!have_code)
        return fail(err, errcap, "the URI has no enrollment code");
    if (!npins)
        return fail(err, errcap, "the URI has no server key pin");
    if (npins == 1) { /* the 1.0 form: one key for every address */
        for (size_t i = 0; i < u.naddrs; i++)
            memcpy(u.addrs[i].pin, pins[0], SK_TLS_PIN_LEN);
    } else {
        /* each address's own pin follows it (pins come in address order, one per address) */
        if (pin_after[0] == 0)
            return fail(err, errcap, "the URI has a pin before its first server address");
        for (size_t i = 0, k = 0; i < u.naddrs; i++) {
            if (k == npins || pin_after[k] != i + 1)
                return fail(err, errcap,
                            "server address %zu of the URI has no pin of its own (with more "
                            "than one pin, each address is followed by its own)",
                            i + 1);
            memcpy(u.addrs[i].pin, pins[k++], SK_TLS_PIN_LEN);
        }
    }
    memcpy(u.pin, u.addrs[0].pin, SK_TLS_PIN_LEN);
    *out = u;
    return 0;
}

/* Append s percent-encoded: unreserved characters and those listed in keep stay as they are. */
static int pct_append(sk_buf *b, const char *s, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
                    (keep && strchr(keep, ch));
        char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        int rc = plain ? sk_buf_append(b, s, 1) : sk_buf_append(b, e, 3);
        if (rc)
            return rc;
    }
    return 0;
}

int sk_uri_format(sk_buf *b, const sk_enroll_uri *u)
{
    char tmp[SK_URI_MAX_HOST + 16];
    char pin[SK_TLS_PIN_HEX_LEN + 1];
    sk_uri_addr chk;
    int rc;

    if (!b || !u || u->naddrs == 0 || u->naddrs > SK_URI_MAX_ADDRS || !u->code[0] ||
        memchr(u->code, '\0', sizeof(u->code)) == NULL)
        return -SK_E_BAD_VALUE;
    if ((rc = sk_buf_append(b, k_prefix, sizeof(k_prefix) - 1)) ||
        (rc = sk_buf_append(b, "v=1", 3)))
        return rc;
    /* one pin for all (the 1.0 form, byte for byte) unless an address has a key of its own */
    static const uint8_t zero[SK_TLS_PIN_LEN];
    int own = 0;
    for (size_t i = 0; i < u->naddrs; i++)
        if (memcmp(u->addrs[i].pin, zero, SK_TLS_PIN_LEN) != 0 &&
            memcmp(u->addrs[i].pin, u->pin, SK_TLS_PIN_LEN) != 0)
            own = 1;
    for (size_t i = 0; i < u->naddrs; i++) {
        int v6 = strchr(u->addrs[i].host, ':') != NULL;
        snprintf(tmp, sizeof(tmp), v6 ? "[%s]:%u" : "%s:%u", u->addrs[i].host,
                 (unsigned)u->addrs[i].port);
        if (sk_uri_addr_parse(&chk, tmp))
            return -SK_E_BAD_VALUE;
        if ((rc = sk_buf_append(b, "&addr=", 6)) || (rc = pct_append(b, tmp, ":")))
            return rc;
        if (own) {
            const uint8_t *ap =
                memcmp(u->addrs[i].pin, zero, SK_TLS_PIN_LEN) ? u->addrs[i].pin : u->pin;
            sk_tls_pin_format(pin, ap);
            if ((rc = sk_buf_append(b, "&pin=", 5)) ||
                (rc = sk_buf_append(b, pin, SK_TLS_PIN_HEX_LEN)))
                return rc;
        }
    }
    if ((rc = sk_buf_append(b, "&code=", 6)) || (rc = pct_append(b, u->code, NULL)))
        return rc;
    if (!own) {
        sk_tls_pin_format(pin, u->pin);
        if ((rc = sk_buf_append(b, "&pin=", 5)) || (rc = sk_buf_append(b, pin, SK_TLS_PIN_HEX_LEN)))
            return rc;
    }
    return 0;
}
