/*
 * sk_json.c - strict JSON reader for the tools (contract in sk_json.h; the writer is sk_jw.c).
 *
 * The tools read JSON written by people and other programs (sample data, exports, import files),
 * so the reader is strict and bounded: recursion depth is capped, every length is checked before
 * it is used, and every error names a byte offset. It owns only the trees it builds. It must
 * never be used on the server's or the library's wire path (MessagePack is the wire format) and
 * never prints what it parses.
 */
#include "sk_json.h"

#include "sk_err.h"
#include "sk_text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t n;
    size_t pos;
    sk_json_error *err;
    int rc;
} parser;

static int perr(parser *p, int rc, size_t at, const char *fmt, ...)
{
    if (p->rc)
        return p->rc;
    p->rc = rc;
    if (p->err) {
        va_list ap;
        p->err->offset = at;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

#define SYNTAX(p, at, ...) perr(p, -SK_E_BAD_VALUE, at, __VA_ARGS__)

static void skip_ws(parser *p)
{
    while (p->pos < p->n) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static void node_clear(sk_json *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        node_clear(&v->items[i]);
    free(v->items);
    free(v->str);
    free(v->key);
}

void sk_json_free(sk_json *v)
{
    node_clear(v);
    free(v);
}

/* ---- strings ------------------------------------------------------------------------------ */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static int sb_put(sbuf *b, const void *src, size_t n)
{
    if (n > SIZE_MAX - b->len - 1)
        return -SK_E_NOMEM;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1)
            cap = cap > SIZE_MAX / 2 ? b->len + n + 1 : cap * 2;
        char *q = realloc(b->p, cap);
        if (!q)
            return -SK_E_NOMEM;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static size_t utf8_put(char out[4], uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(parser *p, size_t at, uint32_t *out)
{
    if (p->n - at < 4)
        return SYNTAX(p, at, "truncated \\u escape");
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        char c = p->s[at + i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return SYNTAX(p, at + i, "bad hex digit in \\u escape");
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* At an opening quote: decode the string into out and len_out (malloc'd, NUL-terminated). */
static int parse_string(parser *p, char **out, size_t *len_out)
{
    sbuf b = {0};
    int rc = 0;
    size_t start = p->pos;
    p->pos++; /* the quote */
    for (;;) {
        if (p->pos >= p->n) {
            rc = SYNTAX(p, start, "unterminated string");
            goto out;
        }
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            rc = SYNTAX(p, p->pos, "control character in string");
            goto out;
        }
        if (c != '\\') {
            uint32_t cp;
            size_t k = sk_utf8_next(p->s, p->n, p->pos, &cp);
            if (!k) {
                rc = SYNTAX(p, p->pos, "invalid UTF-8 in string");
                goto out;
            }
            if ((rc = sb_put(&b, p->s + p->pos, k)))
                goto nomem;
            p->pos += k;
            continue;
        }
        size_t esc = p->pos;
        if (p->pos + 1 >= p->n) {
            rc = SYNTAX(p, esc, "unterminated escape");
            goto out;
        }
        char e = p->s[p->pos + 1], ch;
        p->pos += 2;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if ((rc = hex4(p, p->pos, &cp)))
                goto out;
            p->pos += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff) {
                rc = SYNTAX(p, esc, "lone low surrogate");
                goto out;
            }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (p->n - p->pos < 6 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                    rc = SYNTAX(p, esc, "high surrogate without low surrogate");
                    goto out;
                }
                if ((rc = hex4(p, p->pos + 2, &lo)))
                    goto out;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    rc = SYNTAX(p, esc, "high surrogate without low surrogate");
                    goto out;
                }
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            char u[4];
            if ((rc = sb_put(&b, u, utf8_put(u, cp))))
                goto nomem;
            continue;
        }
        default: rc = SYNTAX(p, esc, "unknown escape"); goto out;
        }
        if ((rc = sb_put(&b, &ch, 1)))
            goto nomem;
    }
    if (!b.p && (rc = sb_put(&b, "", 0)))
        goto nomem;
    *out = b.p;
    *len_out = b.len;
    return 0;
nomem:
    rc = perr(p, -SK_E_NOMEM, p->pos, "out of memory");
out:
    free(b.p);
    return rc;
}

/* ---- numbers ------------------------------------------------------------------------------ */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(parser *p, sk_json *v)
{
    size_t start = p->pos, i = p->pos;
    int integral = 1;
    if (i < p->n && p->s[i] == '-')
        i++;
    if (i >= p->n || !is_digit(p->s[i]))
        return SYNTAX(p, i, "expected a digit");
    if (p->s[i] == '0') {
        i++;
        if (i < p->n && is_digit(p->s[i]))
            return SYNTAX(p, i, "leading zero in number");
    } else {
        while (i < p->n && is_digit(p->s[i]))
            i++;
    }
    if (i < p->n && p->s[i] == '.') {
        integral = 0;
        i++;
        if (i >= p->n || !is_digit(p->s[i]))
            return SYNTAX(p, i, "expected a digit after the decimal point");
        while (i < p->n && is_digit(p->s[i]))
            i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        integral = 0;
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->n || !is_digit(p->s[i]))
            return SYNTAX(p, i, "expected a digit in the exponent");
        while (i < p->n && is_digit(p->s[i]))
            i++;
    }
    char tmp[64];
    size_t len = i - start;
    if (len >= sizeof(tmp))
        return SYNTAX(p, start, "number too long");
    memcpy(tmp, p->s + start, len);
    tmp[len] = '\0';
    v->type = SK_JSON_NUMBER;
    v->num = strtod(tmp, NULL);
    if (!isfinite(v->num))
        return SYNTAX(p, start, "number out of range");
    if (integral) {
        errno = 0;
        long long ll = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            v->is_int = 1;
            v->i = ll;
        }
    }
    p->pos = i;
    return 0;
}

/* ---- values ------------------------------------------------------------------------------- */

static int parse_value(parser *p, sk_json *v, int depth);

static int push_item(parser *p, sk_json *parent, size_t *cap, sk_json **slot)
{
    if (sk_grow(&parent->items, cap, parent->n + 1, sizeof(*parent->items), 4))
        return perr(p, -SK_E_NOMEM, p->pos, "out of memory");
    *slot = &parent->items[parent->n];
    memset(*slot, 0, sizeof(**slot));
    parent->n++;
    return 0;
}

static int literal(parser *p, const char *word)
{
    size_t k = strlen(word);
    if (p->n - p->pos < k || memcmp(p->s + p->pos, word, k) != 0)
        return SYNTAX(p, p->pos, "unexpected character");
    p->pos += k;
    return 0;
}

static int key_order(const void *a, const void *b)
{
    const sk_json *x = *(const sk_json *const *)a, *y = *(const sk_json *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Duplicate member names, found by sorting (a pairwise check would let one large object stall a
 * tool); the error names the later occurrence that comes first in the input. */
static int check_duplicates(parser *p, const sk_json *v)
{
    if (v->n < 2)
        return 0;
    const sk_json **idx = malloc(v->n * sizeof(*idx));
    if (!idx)
        return perr(p, -SK_E_NOMEM, p->pos, "out of memory");
    for (size_t i = 0; i < v->n; i++)
        idx[i] = &v->items[i];
    qsort(idx, v->n, sizeof(*idx), key_order);
    size_t dup = SIZE_MAX;
    for (size_t i = 1; i < v->n; i++)
        if (idx[i]->key_len == idx[i - 1]->key_len &&
            memcmp(idx[i]->key, idx[i - 1]->key, idx[i]->key_len) == 0 && idx[i]->offset < dup)
            dup = idx[i]->offset;
    free(idx);
    return dup == SIZE_MAX ? 0 : SYNTAX(p, dup, "duplicate member name");
}

static int parse_container(parser *p, sk_json *v, int depth, int object)
{
    size_t cap = 0;
    char close = object ? '}' : ']';
    v->type = object ? SK_JSON_OBJECT : SK_JSON_ARRAY;
    if (depth > SK_JSON_MAX_DEPTH)
        return perr(p, -SK_E_TOO_DEEP, p->pos, "nesting deeper than %d", SK_JSON_MAX_DEPTH);
    p->pos++;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == close) {
        p->pos++;
        return 0;
    }
    for (;;) {
        sk_json *item = NULL;
        int rc = push_item(p, v, &cap, &item);
        if (rc)
            return rc;
        skip_ws(p);
        if (object) {
            item->offset = p->pos;
            if (p->pos >= p->n || p->s[p->pos] != '"')
                return SYNTAX(p, p->pos, "expected a member name");
            if ((rc = parse_string(p, &item->key, &item->key_len)))
                return rc;
            skip_ws(p);
            if (p->pos >= p->n || p->s[p->pos] != ':')
                return SYNTAX(p, p->pos, "expected ':'");
            p->pos++;
            skip_ws(p);
        }
        if ((rc = parse_value(p, item, depth)))
            return rc;
        skip_ws(p);
        if (p->pos >= p->n)
            return SYNTAX(p, p->pos, "unexpected end of input");
        char c = p->s[p->pos];
        if (c == ',') {
            p->pos++;
            skip_ws(p);
            if (p->pos < p->n && p->s[p->pos] == close)
                return SYNTAX(p, p->pos, "trailing comma");
            continue;
        }
        if (c == close) {
            p->pos++;
            return object ? check_duplicates(p, v) : 0;
        }
        return SYNTAX(p, p->pos, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static int parse_value(parser *p, sk_json *v, int depth)
{
    if (!v->key)
        v->offset = p->pos;
    if (p->pos >= p->n)
        return SYNTAX(p, p->pos, "unexpected end of input");
    char c = p->s[p->pos];
    switch (c) {
    case '{': return parse_container(p, v, depth + 1, 1);
    case '[': return parse_container(p, v, depth + 1, 0);
    case '"': v->type = SK_JSON_STRING; return parse_string(p, &v->str, &v->len);
    case 't':
        v->type = SK_JSON_BOOL;
        v->boolean = 1;
        return literal(p, "true");
    case 'f': v->type = SK_JSON_BOOL; return literal(p, "false");
    case 'n': v->type = SK_JSON_NULL; return literal(p, "null");
    default:
        if (c == '-' || is_digit(c))
            return parse_number(p, v);
        return SYNTAX(p, p->pos, "unexpected character");
    }
}

int sk_json_parse(sk_json **out, const char *text, size_t len, sk_json_error *err)
{
    parser p = {text, len, 0, err, 0};
    sk_json *root = calloc(1, sizeof(*root));
    if (err) {
        err->offset = 0;
        err->msg[0] = '\0';
    }
    if (!root)
        return perr(&p, -SK_E_NOMEM, 0, "out of memory");
    skip_ws(&p);
    int rc = parse_value(&p, root, 0);
    if (!rc) {
        skip_ws(&p);
        if (p.pos != p.n)
            rc = SYNTAX(&p, p.pos, "data after the JSON value");
    }
    if (rc) {
        sk_json_free(root);
        return rc;
    }
    *out = root;
    return 0;
}

/* ---- lookup ------------------------------------------------------------------------------- */

const sk_json *sk_json_get(const sk_json *v, const char *key)
{
    if (!v || v->type != SK_JSON_OBJECT || !key)
        return NULL;
    size_t kl = strlen(key);
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i].key_len == kl && memcmp(v->items[i].key, key, kl) == 0)
            return &v->items[i];
    return NULL;
}

const sk_json *sk_json_at(const sk_json *v, size_t i)
{
    if (!v || (v->type != SK_JSON_ARRAY && v->type != SK_JSON_OBJECT) || i >= v->n)
        return NULL;
    return &v->items[i];
}

size_t sk_json_count(const sk_json *v)
{
    return v && (v->type == SK_JSON_ARRAY || v->type == SK_JSON_OBJECT) ? v->n : 0;
}

const char *sk_json_get_str(const sk_json *v, const char *key)
{
    const sk_json *m = sk_json_get(v, key);
    return m && m->type == SK_JSON_STRING ? m->str : NULL;
}

int sk_json_get_int(const sk_json *v, const char *key, int64_t *out)
{
    const sk_json *m = sk_json_get(v, key);
    if (!m || m->type != SK_JSON_NUMBER || !m->is_int)
        return -SK_E_BAD_TYPE;
    *out = m->i;
    return 0;
}
