/*
 * sk_desk_opform.c - a casework form of the desk turned into the casework API's operation
 * (sk_cw_op of proto/sk_casework.h), before anything reaches the writer.
 *
 * Runs on the loop thread on a decoded form (sk_desk_form.c). Checks only what the form itself
 * must carry (a known choice, a date, a length that fits the buffers); every rule of the case
 * model is the casework code's, applied by the writer (sk_desk_ops.c), so the desk and
 * sakhi-admin refuse the same things with the same words. Pure: no I/O, no allocation; fuzzed
 * with the form parser (tests/fuzz/fuzz_desk_form.c).
 */
#include "sk_desk_int.h"
#include "sk_date.h"
#include "sk_text.h"

#include "sk_err.h"

#include <stdio.h>
#include <string.h>

#define DAY_MS (24ull * 3600 * 1000)
#define IST_MS (330ull * 60 * 1000)

/* Copy s (NULL or "" when absent) into out of cap bytes; -1 when it does not fit. */
static int copy(char *out, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        return -1;
    memcpy(out, s ? s : "", n);
    out[n] = '\0';
    return 0;
}

static int enum_of(sk_enum_id e, const char *s, uint32_t *out)
{
    *out = s && s[0] ? sk_enum_code(e, s) : 0;
    return *out ? 0 : -1;
}

int sk_desk_date_ist(const char *s, uint64_t *start_ms)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    unsigned y =
        (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    if (y < 2000 || y > 2200 || !sk_date_valid(y, m, d))
        return -1;
    *start_ms = (uint64_t)sk_date_days_from_civil(y, m, d) * DAY_MS - IST_MS;
    return 0;
}

int sk_desk_case_op_parse(sk_desk_op *op, const char *name, const sk_form *f)
{
    const char *text = sk_form_get(f, "text"), *reason = sk_form_get(f, "reason");
    uint32_t kind = 0;
    for (uint32_t k = 1; k < 64 && !kind; k++) {
        const char *n = sk_cw_kind_name(k);
        if (n && name && strcmp(n, name) == 0)
            kind = k;
    }
    memset(&op->cw, 0, sizeof(op->cw));
    op->cw.kind = kind;
    op->cw.record = op->id;
    op->text[0] = op->detail[0] = op->override[0] = op->owner[0] = op->worker[0] = '\0';
    if (copy(op->text, sizeof(op->text), text ? text : reason))
        return -SK_E_BAD_VALUE;
    switch (kind) {
    case SK_CW_ACCEPT:
    case SK_CW_START: return 0;
    case SK_CW_NOTE: op->cw.text = op->text; return 0;
    case SK_CW_CLOSE:
    case SK_CW_REOPEN: op->cw.reason = op->text; return 0;
    case SK_CW_DECLINE:
        op->cw.reason = op->text[0] ? op->text : NULL;
        return enum_of(SK_ENUM_DECLINE_REASON, sk_form_get(f, "decline_reason"),
                       &op->cw.decline_reason)
                   ? -SK_E_BAD_VALUE
                   : 0;
    case SK_CW_ASSIGN: {
        /* owner: "" keeps the owner; field_worker: "" keeps, "-" removes */
        const char *ow = sk_form_get(f, "owner"), *fw = sk_form_get(f, "field_worker");
        if (copy(op->owner, sizeof(op->owner), ow) || copy(op->worker, sizeof(op->worker), fw))
            return -SK_E_BAD_VALUE;
        op->cw.owner = op->owner[0] ? op->owner : NULL;
        if (strcmp(op->worker, "-") == 0)
            op->worker[0] = '\0', op->cw.field_worker = op->worker;
        else
            op->cw.field_worker = op->worker[0] ? op->worker : NULL;
        return 0;
    }
    case SK_CW_SERVICE:
        if (enum_of(SK_ENUM_SERVICE, sk_form_get(f, "service"), &op->cw.service) ||
            enum_of(SK_ENUM_SERVICE_STATUS, sk_form_get(f, "service_status"),
                    &op->cw.service_status))
            return -SK_E_BAD_VALUE;
        return 0;
    case SK_CW_SHELTER_START: {
        const char *from = sk_form_get(f, "start");
        if (from && from[0] && sk_desk_date_ist(from, &op->cw.start_ms))
            return -SK_E_BAD_VALUE;
        return 0; /* no date: from now */
    }
    case SK_CW_SHELTER_EXTEND: {
        const char *d = sk_form_get(f, "days");
        if (!d || strlen(d) < 1 || strlen(d) > 2 || d[0] < '0' || d[0] > '9' ||
            (d[1] && (d[1] < '0' || d[1] > '9')))
            return -SK_E_BAD_VALUE;
        op->cw.days = (uint32_t)(d[1] ? (d[0] - '0') * 10 + (d[1] - '0') : d[0] - '0');
        return 0;
    }
    case SK_CW_REFER:
        if (enum_of(SK_ENUM_DESTINATION, sk_form_get(f, "destination"), &op->cw.destination) ||
            copy(op->detail, sizeof(op->detail), sk_form_get(f, "detail")) ||
            copy(op->override, sizeof(op->override), sk_form_get(f, "override")))
            return -SK_E_BAD_VALUE;
        op->cw.reason = op->text[0] ? op->text : NULL;
        op->cw.detail = op->detail[0] ? op->detail : NULL;
        op->cw.override_reason = op->override[0] ? op->override : NULL;
        return 0;
    case SK_CW_TASK_ADD: {
        uint64_t day;
        if (copy(op->worker, sizeof(op->worker), sk_form_get(f, "for")) ||
            sk_desk_date_ist(sk_form_get(f, "due"), &day))
            return -SK_E_BAD_VALUE;
        op->cw.text = op->text;
        op->cw.for_worker = op->worker;
        op->cw.due_ms = day + DAY_MS - 1; /* due by the end of that day in the centre */
        return 0;
    }
    case SK_CW_TASK_SET: {
        const char *t = sk_form_get(f, "task");
        if (!t || sk_id_from_str(&op->cw.task, t) != 0 ||
            enum_of(SK_ENUM_TASK_STATE, sk_form_get(f, "state"), &op->cw.task_state))
            return -SK_E_BAD_VALUE;
        op->cw.text = op->text[0] ? op->text : NULL;
        return 0;
    }
    case SK_CW_RESOLVE: {
        /* keep: clear the flag keeping every current value; else field + the chosen value's
         * MessagePack bytes in lowercase hex */
        const char *keep = sk_form_get(f, "keep"), *fn = sk_form_get(f, "field");
        const char *hex = sk_form_get(f, "value");
        if (keep && keep[0])
            return 0;
        const sk_field_info *fi = fn ? sk_case_field_by_name(fn) : NULL;
        size_t n = hex ? strlen(hex) : 0;
        if (!fi || n == 0 || n % 2 || n / 2 > sizeof(op->value))
            return -SK_E_BAD_VALUE;
        for (size_t i = 0; i < n / 2; i++) {
            int hi = sk_hex_digit(hex[2 * i]), lo = sk_hex_digit(hex[2 * i + 1]);
            if (hi < 0 || lo < 0)
                return -SK_E_BAD_VALUE;
            op->value[i] = (uint8_t)(hi << 4 | lo);
        }
        op->field.key = fi->key;
        op->field.val = op->value;
        op->field.len = (uint32_t)(n / 2);
        op->cw.resolve = &op->field;
        op->cw.nresolve = 1;
        return 0;
    }
    default: return -SK_E_BAD_VALUE;
    }
}
