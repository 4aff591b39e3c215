/*
 * sk_jw.h - the one JSON writer of the project: the tools' --json output, sakhi-dump's
 * rendering of messages, the desk and libsakhi's record JSON.
 *
 * Why our own and not json-c or cJSON: what is needed is only writing, into the sk_buf the
 * callers already use (whose allocation failure flag makes every write checkable once, at the
 * end); the library must allocate only through its hooks, and cJSON's hooks are process-wide
 * while json-c allocates a tree per value. A writer is a page of code; its string escaping is
 * the part that matters, and it is here once.
 *
 * Strings are written as valid UTF-8 JSON: quote and backslash escaped, \n \t \r as such, the
 * other C0 controls, DEL and the C1 controls (U+0080..U+009F) as \u00XX (a terminal showing the
 * output must not act on them), valid UTF-8 kept as is, each byte of an invalid sequence
 * written as \ufffd (U+FFFD, escaped so a replaced byte stays visible). Commas are tracked; pretty mode indents by two spaces.
 * Owns nothing; no I/O. Check b->oom after writing.
 */
#ifndef SK_JW_H
#define SK_JW_H

#include "sk_buf.h"

#include <stddef.h>
#include <stdint.h>

#define SK_JW_MAX_DEPTH 64

/* Appends compact or indented JSON to an sk_buf; tracks commas. Check b->oom at the end. */
typedef struct sk_jw {
    sk_buf *b;
    int pretty;
    int depth;
    uint8_t count[SK_JW_MAX_DEPTH]; /* 0: nothing written yet at this level */
    int after_key;
} sk_jw;

void sk_jw_init(sk_jw *w, sk_buf *b, int pretty);
void sk_jw_obj_begin(sk_jw *w);
void sk_jw_obj_end(sk_jw *w);
void sk_jw_arr_begin(sk_jw *w);
void sk_jw_arr_end(sk_jw *w);
void sk_jw_key(sk_jw *w, const char *key);
void sk_jw_str(sk_jw *w, const char *s, size_t n); /* escaped as above */
void sk_jw_cstr(sk_jw *w, const char *s);          /* NULL writes null */
void sk_jw_uint(sk_jw *w, uint64_t v);
void sk_jw_int(sk_jw *w, int64_t v);
void sk_jw_double(sk_jw *w, double v); /* not finite: null */
void sk_jw_bool(sk_jw *w, int v);
void sk_jw_null(sk_jw *w);
/* A key and its value in one call. */
void sk_jw_kcstr(sk_jw *w, const char *key, const char *s); /* NULL writes null */
void sk_jw_kuint(sk_jw *w, const char *key, uint64_t v);
void sk_jw_kbool(sk_jw *w, const char *key, int v);
/* A value already rendered as JSON text by another writer (inserted as is). */
void sk_jw_raw(sk_jw *w, const char *json, size_t n);

/* s[0..n) as one JSON string, quotes included, appended to b (for writers that place their own
 * commas, such as sk_msg's rendering). */
void sk_jw_escape(sk_buf *b, const char *s, size_t n);

#endif
