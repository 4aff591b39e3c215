/*
 * sk_jw.c - the one JSON writer (contract in sk_jw.h): the tools' output, sakhi-dump's
 * rendering of messages, the desk and the library's record JSON all write through it, so every
 * JSON the project prints escapes strings the same way.
 *
 * Appends to an sk_buf (whose failure flag it relies on); owns nothing; no I/O.
 */
#include "sk_jw.h"

#include "sk_text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void put(sk_jw *w, const char *s, size_t n)
{
    (void)sk_buf_append(w->b, s, n);
}

static void puts_(sk_jw *w, const char *s)
{
    put(w, s, strlen(s));
}

static void newline(sk_jw *w)
{
    if (!w->pretty)
        return;
    put(w, "\n", 1);
    for (int i = 0; i < w->depth; i++)
        put(w, "  ", 2);
}

/* Before any value or key: comma and indentation, unless the value follows its key. */
static void before(sk_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0 && w->depth <= SK_JW_MAX_DEPTH) {
        if (w->count[w->depth - 1]) /* a flag: a byte counter wrapped at 256 elements */
            put(w, ",", 1);
        w->count[w->depth - 1] = 1;
        newline(w);
    }
}

void sk_jw_init(sk_jw *w, sk_buf *b, int pretty)
{
    memset(w, 0, sizeof(*w));
    w->b = b;
    w->pretty = pretty;
}

static void open_(sk_jw *w, const char *c)
{
    before(w);
    puts_(w, c);
    if (w->depth < SK_JW_MAX_DEPTH)
        w->count[w->depth] = 0;
    w->depth++;
}

static void close_(sk_jw *w, const char *c)
{
    int had = w->depth > 0 && w->depth <= SK_JW_MAX_DEPTH && w->count[w->depth - 1];
    if (w->depth > 0)
        w->depth--;
    if (had)
        newline(w);
    puts_(w, c);
}

void sk_jw_obj_begin(sk_jw *w)
{
    open_(w, "{");
}

void sk_jw_obj_end(sk_jw *w)
{
    close_(w, "}");
}

void sk_jw_arr_begin(sk_jw *w)
{
    open_(w, "[");
}

void sk_jw_arr_end(sk_jw *w)
{
    close_(w, "]");
}

void sk_jw_escape(sk_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    (void)sk_buf_append(b, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        uint32_t cp = c;
        size_t k = 1;
        if (c >= 0x80 && (k = sk_utf8_next(s, n, i, &cp)) == 0) {
            (void)sk_buf_append(b, "\\ufffd", 6); /* U+FFFD for each invalid byte */
            i++;
            continue;
        }
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            (void)sk_buf_append(b, e, 2);
        } else if (c == '\n' || c == '\t' || c == '\r') {
            char e[2] = {'\\', c == '\n' ? 'n' : c == '\t' ? 't' : 'r'};
            (void)sk_buf_append(b, e, 2);
        } else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            /* C0, DEL and the C1 controls (U+0080-U+009F): legal raw in JSON, but a terminal
             * that shows the output may act on them */
            char e[6] = {'\\', 'u', '0', '0', hex[cp >> 4], hex[cp & 15]};
            (void)sk_buf_append(b, e, 6);
        } else {
            (void)sk_buf_append(b, s + i, k);
        }
        i += k;
    }
    (void)sk_buf_append(b, "\"", 1);
}

static void write_string(sk_jw *w, const char *s, size_t n)
{
    sk_jw_escape(w->b, s, n);
}

void sk_jw_key(sk_jw *w, const char *key)
{
    before(w);
    write_string(w, key, strlen(key));
    put(w, w->pretty ? ": " : ":", w->pretty ? 2 : 1);
    w->after_key = 1;
}

void sk_jw_kcstr(sk_jw *w, const char *key, const char *s)
{
    sk_jw_key(w, key);
    sk_jw_cstr(w, s);
}

void sk_jw_kuint(sk_jw *w, const char *key, uint64_t v)
{
    sk_jw_key(w, key);
    sk_jw_uint(w, v);
}

void sk_jw_kbool(sk_jw *w, const char *key, int v)
{
    sk_jw_key(w, key);
    sk_jw_bool(w, v);
}

void sk_jw_str(sk_jw *w, const char *s, size_t n)
{
    before(w);
    write_string(w, s, n);
}

void sk_jw_cstr(sk_jw *w, const char *s)
{
    if (!s) {
        sk_jw_null(w);
        return;
    }
    sk_jw_str(w, s, strlen(s));
}

void sk_jw_uint(sk_jw *w, uint64_t v)
{
    char t[32];
    before(w);
    int n = snprintf(t, sizeof(t), "%llu", (unsigned long long)v);
    put(w, t, (size_t)n);
}

void sk_jw_int(sk_jw *w, int64_t v)
{
    char t[32];
    before(w);
    int n = snprintf(t, sizeof(t), "%lld", (long long)v);
    put(w, t, (size_t)n);
}

void sk_jw_double(sk_jw *w, double v)
{
    char t[40];
    before(w);
    if (!isfinite(v)) {
        puts_(w, "null");
        return;
    }
    int n = snprintf(t, sizeof(t), "%.17g", v);
    put(w, t, (size_t)n);
}

void sk_jw_bool(sk_jw *w, int v)
{
    before(w);
    puts_(w, v ? "true" : "false");
}

void sk_jw_null(sk_jw *w)
{
    before(w);
    puts_(w, "null");
}

void sk_jw_raw(sk_jw *w, const char *json, size_t n)
{
    before(w);
    put(w, json, n);
}
