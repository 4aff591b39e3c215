/*
 * sk_json.h - a small strict JSON reader (RFC 8259) with a DOM for the tools; writing is
 * sk_jw.h's (included here).
 *
 * Reader: objects, arrays, strings (escapes incl. \uXXXX and surrogate pairs, decoded to UTF-8;
 * raw bytes must be valid UTF-8), numbers, true, false, null. Strict: no comments, no trailing
 * commas, no leading zeros, no duplicate keys in an object, no lone surrogates, only one value
 * with optional whitespace around it. Nesting is bounded (SK_JSON_MAX_DEPTH). On error the
 * parser reports the byte offset and a short reason.
 *
 * Ownership: sk_json_parse returns a tree the caller frees with sk_json_free; nodes and their
 * strings belong to the tree. Strings are NUL-terminated and also carry their length (a string
 * may contain "\u0000"). Not thread-safe per tree for writes; reads are pure.
 * Numbers are converted with strtod: call it in the "C" numeric locale (the tools never call
 * setlocale), or a decimal comma would change what "2.5" means.
 */
#ifndef SK_JSON_H
#define SK_JSON_H

#include "sk_buf.h"
#include "sk_jw.h"

#include <stddef.h>
#include <stdint.h>

#define SK_JSON_MAX_DEPTH 64

typedef enum sk_json_type {
    SK_JSON_NULL = 1,
    SK_JSON_BOOL,
    SK_JSON_NUMBER,
    SK_JSON_STRING,
    SK_JSON_ARRAY,
    SK_JSON_OBJECT
} sk_json_type;

typedef struct sk_json sk_json;
struct sk_json {
    sk_json_type type;
    char *key; /* member name when this node is an object member, else NULL */
    size_t key_len;
    size_t offset; /* byte offset in the input of this value (of its name, for members) */
    int boolean;   /* SK_JSON_BOOL */
    double num;    /* SK_JSON_NUMBER */
    int is_int;    /* number written without fraction/exponent and fits int64 */
    int64_t i;     /* its value when is_int */
    char *str;     /* SK_JSON_STRING, NUL-terminated */
    size_t len;
    sk_json *items; /* SK_JSON_ARRAY elements / SK_JSON_OBJECT members, in order */
    size_t n;
};

typedef struct sk_json_error {
    size_t offset; /* byte offset of the problem in the input */
    char msg[96];
} sk_json_error;

/* Parse text[0..len). 0 with *out set, or -SK_E_BAD_VALUE (syntax), -SK_E_TOO_DEEP, -SK_E_NOMEM
 * with err filled (err may be NULL). */
int sk_json_parse(sk_json **out, const char *text, size_t len, sk_json_error *err);
void sk_json_free(sk_json *v);

/* Member of an object by key (NULL if v is not an object or has no such key). */
const sk_json *sk_json_get(const sk_json *v, const char *key);
/* Element i of an array or object (NULL when out of range). */
const sk_json *sk_json_at(const sk_json *v, size_t i);
/* Number of elements/members; 0 for scalars. */
size_t sk_json_count(const sk_json *v);
/* Typed member helpers: NULL/0 when absent or of another type. */
const char *sk_json_get_str(const sk_json *v, const char *key);
int sk_json_get_int(const sk_json *v, const char *key, int64_t *out); /* 0 or -SK_E_BAD_TYPE */

/* The writer is proto's sk_jw (sk_jw.h), shared with the desk and the library. */

#endif
