/*
 * sk_desk_form.h - the desk's input parsers: application/x-www-form-urlencoded bodies and query
 * strings, and one cookie out of a Cookie header.
 *
 * HTTP itself (request line, headers, chunking) is libh2o's; these parse only the payloads a
 * form or a link carries. Everything is bounded: a form holds at most SK_FORM_MAX_FIELDS fields
 * and SK_FORM_MAX_BYTES of input, decoded into the sk_form itself (no allocation), so an
 * unauthenticated request costs a fixed amount of memory. Values are NUL-terminated, valid
 * UTF-8 and free of control characters other than tab, newline and carriage return; anything
 * else refuses the whole input. Pure functions; no I/O.
 */
#ifndef SK_DESK_FORM_H
#define SK_DESK_FORM_H

#include <stddef.h>

#define SK_FORM_MAX_FIELDS 32
#define SK_FORM_MAX_BYTES 8192

typedef struct sk_form_field {
    const char *key; /* NUL-terminated, inside sk_form.buf */
    const char *val;
    size_t key_len, val_len;
} sk_form_field;

typedef struct sk_form {
    size_t n;
    sk_form_field f[SK_FORM_MAX_FIELDS];
    char buf[SK_FORM_MAX_BYTES + SK_FORM_MAX_FIELDS * 2];
} sk_form;

/* Parse "a=1&b=x%20y" (a '+' is a space). Empty pairs ("&&") are skipped; a pair without '='
 * has an empty value. Returns 0, or -SK_E_TOO_LONG (more than SK_FORM_MAX_BYTES or
 * SK_FORM_MAX_FIELDS) or -SK_E_BAD_VALUE (a bad %-escape, invalid UTF-8, a control character);
 * f is then empty. */
int sk_form_parse(sk_form *f, const char *s, size_t len);

/* The first value of key, or NULL. */
const char *sk_form_get(const sk_form *f, const char *key);

/* Copy the value of cookie `name` from a Cookie header ("a=b; c=d") into out (NUL-terminated).
 * Only values of [A-Za-z0-9_-] up to cap-1 bytes are taken. 0 when found, -1 otherwise. */
int sk_cookie_get(const char *hdr, size_t hdr_len, const char *name, char *out, size_t cap);

/* Is s (len bytes) valid UTF-8 without NUL or control characters (tab, LF, CR allowed)? */
int sk_text_ok(const char *s, size_t len);

#endif
