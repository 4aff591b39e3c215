/*
 * fuzz_desk_form.c - libFuzzer target for the desk's own parsers (server/sk_desk_form.c): form
 * bodies and query strings, one cookie out of a Cookie header, the HTML escaper fed what they
 * decode, and every casework form handler (server/sk_desk_opform.c: each operation's fields,
 * dates, the chosen value of a conflict review) fed the decoded form.
 *
 * Invariants checked on every input: the parser never reads or writes outside its input and
 * its sk_form; an accepted form has at most SK_FORM_MAX_FIELDS fields, each key and value
 * NUL-terminated at its stated length and passing sk_text_ok; a refused one is empty; a cookie
 * value found is made only of [A-Za-z0-9_-]; escaped text holds no '<', '>', '"' or '\''; a
 * casework form is accepted (0) or refused (-SK_E_BAD_VALUE) and an accepted one's strings lie
 * inside the operation's own buffers, NUL-terminated, its chosen value within
 * SK_DESK_VALUE_MAX bytes; a date accepted is a day start in IST within 2000..2200.
 */
#include "sk_buf.h"
#include "sk_desk_form.h"
#include "sk_desk_html.h"
#include "sk_desk_int.h"
#include "sk_err.h"

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
    static const char *const ops[] = {"accept",   "start",          "note",   "close",
                                      "reopen",   "decline",        "assign", "service",
                                      "shelter",  "shelter-extend", "refer",  "task-add",
                                      "task-set", "resolve",        "nothing"};
    static sk_desk_op op;
    for (size_t k = 0; rc == 0 && k < sizeof(ops) / sizeof(ops[0]); k++) {
        memset(&op, 0, sizeof(op));
        int prc = sk_desk_case_op_parse(&op, ops[k], &f);
        if (prc != 0 && prc != -SK_E_BAD_VALUE)
            abort();
        if (prc)
            continue;
        const char *strs[] = {op.cw.owner,           op.cw.field_worker, op.cw.detail,
                              op.cw.override_reason, op.cw.reason,       op.cw.text,
                              op.cw.for_worker};
        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
            const char *p = strs[i];
            if (!p)
                continue;
            if (p < (const char *)&op || p >= (const char *)(&op + 1) ||
                memchr(p, '\0', (size_t)((const char *)(&op + 1) - p)) == NULL)
                abort();
        }
        if (op.cw.nresolve && (op.cw.nresolve != 1 || op.cw.resolve != &op.field ||
                               op.field.len == 0 || op.field.len > SK_DESK_VALUE_MAX))
            abort();
    }
    for (size_t i = 0; i < f.n; i++) {
        uint64_t day;
        if (sk_desk_date_ist(f.f[i].val, &day) == 0 &&
            (day < 946684800000ull - 19800000ull || day >= 7289654400000ull /* 2201-01-01 */ ||
             (day + 19800000ull) % 86400000ull != 0))
            abort();
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
