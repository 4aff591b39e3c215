/*
 * fuzz_desk_form.c - libFuzzer target for the desk's own parsers (server/sk_desk_form.c): form
 * bodies and query strings, one cookie out of a Cookie header, and the HTML escaper fed what
 * they decode.
 *
 * Invariants checked on every input: the parser never reads or writes outside its input and
 * its sk_form; an accepted form has at most SK_FORM_MAX_FIELDS fields, each key and value
 * NUL-terminated at its stated length and passing sk_text_ok; a refused one is empty; a cookie
 * value found is made only of [A-Za-z0-9_-]; escaped text holds no '<', '>', '"' or '\''.
 */
#include "sk_buf.h"
#include "sk_desk_form.h"
#include "sk_desk_html.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sk_form f;
    int rc = sk_form_parse(&f, (const char *)data, size);
    if (rc != 0 && f.n != 0)
        abort();
    if (f.n > SK_FORM_MAX_FIELDS)
        abort();
    for (size_t i = 0; i < f.n; i++) {
        const sk_form_field *x = &f.f[i];
        if (strlen(x->key) != x->key_len || strlen(x->val) != x->val_len ||
            !sk_text_ok(x->key, x->key_len) || !sk_text_ok(x->val, x->val_len))
            abort();
        if (sk_form_get(&f, x->key) == NULL)
            abort();
        sk_buf b = SK_BUF_INIT;
        sk_h_esc(&b, x->val);
        for (size_t k = 0; k < b.len; k++)
            if (b.data[k] == '<' || b.data[k] == '>' || b.data[k] == '"' || b.data[k] == '\'')
                abort();
        sk_buf_free(&b);
    }
    char v[48];
    if (sk_cookie_get((const char *)data, size, "__Host-sakhi", v, sizeof(v)) == 0) {
        size_t n = strlen(v);
        if (n == 0 || n >= sizeof(v))
            abort();
        for (size_t k = 0; k < n; k++) {
            char c = v[k];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-'))
                abort();
        }
    }
    return 0;
}
