/*
 * sk_err.c - text, names and advice for the protocol's error codes (table in sk_err.h).
 * Pure lookup; no state.
 */
#include "sk_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *sk_err_text(int code)
{
    switch (abs(code)) {
    case 0: return "success";
#define SK_ERR_TEXT(num, name, advice, text)                                                       \
    case num: return text;
        SK_ERR_LIST(SK_ERR_TEXT)
#undef SK_ERR_TEXT
    default: return "unknown error";
    }
}

const char *sk_err_name(int code)
{
    switch (abs(code)) {
    case 0: return "OK";
#define SK_ERR_NAME(num, name, advice, text)                                                       \
    case num: return #name;
        SK_ERR_LIST(SK_ERR_NAME)
#undef SK_ERR_NAME
    default: return "UNKNOWN";
    }
}

sk_advice sk_err_advice(int code)
{
    switch (abs(code)) {
    case 0: return SK_ADVICE_NONE;
#define SK_ERR_ADV(num, name, advice, text)                                                        \
    case num: return SK_ADVICE_##advice;
        SK_ERR_LIST(SK_ERR_ADV)
#undef SK_ERR_ADV
    default: return SK_ADVICE_FIX;
    }
}

void sk_err_printf(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errcap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
}
