/*
 * cli_capture.c - `sakhi capture` and `sakhi followup`: a referral from field flags, from
 * prompts on a terminal, or from the sample referrals file; a follow-up on an existing record.
 *
 * Every value goes through the library's setters and every referral through its validation
 * (sakhi_referral_save), so the CLI accepts exactly what an app embedding libsakhi accepts, and
 * an invalid value is reported with the case-model name of its field and the library's reason.
 * This file owns only the mapping from flags and prompts to setter calls. It must never print a
 * value the worker typed (names, phones, notes) in a message: messages name fields, not content.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sk_case.h"
#include "sk_sample.h"

/* How a flag's value reaches the draft. */
enum {
    K_ENUM = 1, /* sakhi_referral_set_enum(field, value) */
    K_STR,      /* string setter */
    K_UINT,     /* age, children */
    K_BOOL,     /* minor, safe_to_call */
    K_PHONE,    /* phone ("none" = no phone) */
    K_CONCERNS, /* one or more concerns, comma-separated, flag repeatable */
    K_SERVICES, /* services needed, comma-separated, flag repeatable */
    K_CONSENT   /* consent_share / consent_contact (one setter for both) */
};

typedef struct cap_field {
    const char *flag;  /* --flag */
    const char *field; /* case-model name */
    int kind;
    const char *prompt; /* interactive prompt */
} cap_field;

static const cap_field k_fields[] = {
    {"district", "district", K_ENUM, "District"},
    {"block", "block", K_STR, "Block"},
    {"village", "village", K_STR, "Village"},
    {"taken-at", "taken_at", K_ENUM, "Where was it taken"},
    {"name", "name", K_STR, "Her name (or withheld)"},
    {"age", "age", K_UINT, "Age in years (empty if unknown)"},
    {"age-band", "age_band", K_ENUM, "Age band (if the age is unknown)"},
    {"minor", "minor", K_BOOL, "Under 18 (yes/no)"},
    {"phone", "phone", K_PHONE, "Phone (none if none)"},
    {"safe-to-call", "safe_to_call", K_BOOL, "Safe to call (yes/no)"},
    {"marital", "marital_status", K_ENUM, "Marital status"},
    {"children", "children", K_UINT, "Accompanying children"},
    {"concern", "concerns", K_CONCERNS, "Concerns (comma-separated)"},
    {"concern-other", "concern_other", K_STR, "Other concern, in words"},
    {"urgency", "urgency", K_ENUM, "Urgency"},
    {"source", "referral_source", K_ENUM, "Referred by"},
    {"consent-share", "consent_share", K_CONSENT, "Consents to share with the centre (yes/no)"},
    {"consent-contact", "consent_contact", K_CONSENT, "Consents to be contacted (yes/no)"},
    {"service", "services", K_SERVICES, "Services needed (comma-separated)"},
    {"notes", "notes", K_STR, "Notes"},
};
#define NFIELDS (sizeof(k_fields) / sizeof(k_fields[0]))

static const char k_capture_help[] =
    "usage: sakhi capture [FIELD FLAGS...]\n"
    "       sakhi capture --from-sample FILE (--index SPEC | --all)\n"
    "\n"
    "Capture a referral on this device, offline. It is saved encrypted and durably before the\n"
    "command returns, and waits in the outbox for the next `sakhi sync`. Prints the new record's\n"
    "id (with --json: {\"count\":N,\"ids\":[...]}).\n"
    "\n"
    "Field flags (names as in docs/CASE-MODEL.md; enumeration values by name; districts by the\n"
    "names the centre's server sends, listed by `sakhi status`):\n"
    "  --district NAME               --block TEXT             --village TEXT\n"
    "  --taken-at home_visit|anganwadi_centre|health_centre|police_station|phone|osc\n"
    "  --name TEXT|withheld          --age N                  --age-band under_12|12_17|18_29|\n"
    "                                                           30_44|45_59|60_plus\n"
    "  --minor yes|no                --phone NUMBER|none      --safe-to-call yes|no\n"
    "  --marital unmarried|married|separated|divorced|widowed --children N\n"
    "  --concern C[,C..]             (repeatable) domestic_violence, financial_abuse,\n"
    "                                cyber_bullying, abandonment, drug_abuse, child_marriage,\n"
    "                                sexual_offence_minor, other\n"
    "  --concern-other TEXT          --urgency immediate_danger|urgent|routine\n"
    "  --source self|helpline_181|police|hospital|court|government_department|ngo|family|\n"
    "           community|frontline_worker\n"
    "  --consent-share yes|no        --consent-contact yes|no\n"
    "  --service S[,S..]             services needed (repeatable): legal_aid,\n"
    "                                medical_assistance, police_facilitation, counselling, "
    "shelter\n"
    "  --notes TEXT\n"
    "Without field flags, on a terminal, each field is asked for in turn (empty skips it); a\n"
    "value the case model refuses is explained and asked again. The prompts come from the\n"
    "library's schema, labelled in the worker's language (SAKHI_LANG, else LANG: en, hi, ur,\n"
    "lbj); a field the referral still needs that is left empty when asked again ends the\n"
    "capture with nothing saved, so a prompt never repeats forever.\n"
    "\n"
    "Sample referrals (demos and tests):\n"
    "  --from-sample FILE   a JSON array of referrals (tests/data/sample-referrals.json)\n"
    "  --index SPEC         which ones, counted from 0: N, N-M, or a list N,N-M,...\n"
    "  --all                every one\n"
    "The sample's server-set fields (worker, device, case number) and consent stamp are left to\n"
    "this device and the server; its follow-ups are not captured.\n";

/* Messages never include the value: it may be a name or a phone number. */
static int bad_value(sk_cli *cli, const cap_field *f, const char *why)
{
    return sk_cli_fail(cli, SK_CLI_FAIL, "invalid value for field %s (--%s): %s", f->field, f->flag,
                       why);
}

/* A value the library refused: its message for the refusal, else fallback. */
static int refused_value(sk_cli *cli, const cap_field *f, const char *fallback)
{
    const char *msg = sakhi_errmsg(cli->c);
    return bad_value(cli, f, msg[0] ? msg : fallback);
}

/* Enumeration names for a message: "leh, kargil". */
/* The value names of enumeration e ("service"), from the library's schema. */
static void enum_names_of(const char *e, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < sakhi_schema_enum_count(e); i++) {
        const char *n = NULL;
        if (sakhi_schema_enum_value(NULL, &n, e, i) != 0)
            break;
        int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", n);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

/* The value names of the enumeration of field (case-model name), from the library's schema. */
static void enum_names(sk_cli *cli, const char *field, char *out, size_t cap)
{
    sakhi_field_info fi = SAKHI_FIELD_INFO_INIT;
    size_t used = 0;
    out[0] = 0;
    if (strcmp(field, "district") == 0) { /* the centre's list, as its server sent it */
        sakhi_district d = SAKHI_DISTRICT_INIT;
        size_t n = cli->c ? sakhi_district_count(cli->c) : 0; /* each count reads the store */
        for (size_t i = 0; i < n; i++) {
            if (sakhi_district_get(cli->c, i, NULL, &d) != 0)
                break;
            int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", d.slug);
            if (w < 0 || (size_t)w >= cap - used)
                break;
            used += (size_t)w;
        }
        return;
    }
    if (sakhi_schema_field_by_name(&fi, field) != 0 || !fi.enumeration)
        return;
    for (size_t i = 0; i < sakhi_schema_enum_count(fi.enumeration); i++) {
        const char *n = NULL;
        if (sakhi_schema_enum_value(NULL, &n, fi.enumeration, i) != 0)
            break;
        int w = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", n);
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

static int parse_bool(const char *v, int *out)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "y") || !strcasecmp(v, "true") || !strcmp(v, "1")) {
        *out = 1;
        return 0;
    }
    if (!strcasecmp(v, "no") || !strcasecmp(v, "n") || !strcasecmp(v, "false") || !strcmp(v, "0")) {
        *out = 0;
        return 0;
    }
    return -1;
}

typedef struct capture_state {
    int share;   /* -1 unset */
    int contact; /* -1 unset */
} capture_state;

/* Apply each comma-separated element of v as an enumeration value of field (prefix for
 * services). */
static int apply_list(sk_cli *cli, sakhi_referral *r, const cap_field *f, const char *v)
{
    char item[128], names[512], field[160];
    const char *p = v;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n && *p == ' ') {
            p++;
            n--;
        }
        while (n && p[n - 1] == ' ')
            n--;
        if (n == 0 || n >= sizeof(item))
            return bad_value(cli, f, "an empty or overlong list element");
        memcpy(item, p, n);
        item[n] = 0;
        int rc;
        if (f->kind == K_CONCERNS) {
            rc = sakhi_referral_set_enum(r, "concerns", item);
        } else {
            snprintf(field, sizeof(field), "service.%s", item);
            for (char *q = field; *q; q++)
                if (*q >= 'A' && *q <= 'Z')
                    *q = (char)(*q - 'A' + 'a');
            rc = sk_case_field_by_name(field) ? sakhi_referral_set_enum(r, field, "needed")
                                              : SAKHI_EINVAL;
        }
        if (rc == SAKHI_ENOMEM)
            return sk_cli_fail(cli, SK_CLI_FAIL, "out of memory");
        if (rc) {
            char why[700];
            if (f->kind == K_CONCERNS) {
                enum_names(cli, "concerns", names, sizeof(names));
            } else {
                /* the service names, from the service enumeration */
                size_t used = 0;
                names[0] = 0;
                for (uint32_t code = 1; code <= sk_enum_max(SK_ENUM_SERVICE); code++) {
                    int w = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
                                     sk_enum_name(SK_ENUM_SERVICE, code));
                    if (w < 0 || (size_t)w >= sizeof(names) - used)
                        break;
                    used += (size_t)w;
                }
            }
            snprintf(why, sizeof(why), "'%s' is not one of: %s", item, names);
            return bad_value(cli, f, why);
        }
        p = comma ? comma + 1 : p + strlen(p);
    }
    return 0;
}

/* Apply one flag value to the draft. 0, or SK_CLI_FAIL after a message naming the field. */
static int apply(sk_cli *cli, sakhi_referral *r, capture_state *st, const cap_field *f,
                 const char *v)
{
    int rc = 0, b;
    uint64_t n;
    char names[512], why[700];
    switch (f->kind) {
    case K_ENUM:
        rc = sakhi_referral_set_enum(r, f->field, v);
        if (rc == SAKHI_EINVAL) {
            enum_names(cli, f->field, names, sizeof(names));
            /* enumeration names are not personal content: echoing them helps */
            snprintf(why, sizeof(why), "'%.64s' is not one of: %s", v, names);
            return bad_value(cli, f, why);
        }
        break;
    case K_STR:
        if (!strcmp(f->field, "block"))
            rc = sakhi_referral_set_block(r, v);
        else if (!strcmp(f->field, "village"))
            rc = sakhi_referral_set_village(r, v);
        else if (!strcmp(f->field, "name"))
            rc = sakhi_referral_set_name(r, v);
        else if (!strcmp(f->field, "concern_other"))
            rc = sakhi_referral_set_concern_other(r, v);
        else
            rc = sakhi_referral_set_notes(r, v);
        if (rc == SAKHI_EINVAL)
            return refused_value(cli, f, "not valid UTF-8, or too long");
        break;
    case K_UINT:
        if (sk_cli_parse_uint(v, 1000000, &n) != 0)
            return bad_value(cli, f, "must be a whole number");
        rc = !strcmp(f->field, "age") ? sakhi_referral_set_age(r, (unsigned)n)
                                      : sakhi_referral_set_children(r, (unsigned)n);
        if (rc == SAKHI_EINVAL)
            return refused_value(cli, f, "out of range");
        break;
    case K_BOOL:
        if (parse_bool(v, &b) != 0)
            return bad_value(cli, f, "must be yes or no");
        rc = !strcmp(f->field, "minor") ? sakhi_referral_set_minor(r, b)
                                        : sakhi_referral_set_safe_to_call(r, b);
        break;
    case K_PHONE:
        rc = sakhi_referral_set_phone(r, !strcasecmp(v, "none") ? NULL : v);
        if (rc == SAKHI_EINVAL)
            return refused_value(cli, f, "not a valid phone number");
        break;
    case K_CONCERNS:
    case K_SERVICES: return apply_list(cli, r, f, v);
    case K_CONSENT:
        if (parse_bool(v, &b) != 0)
            return bad_value(cli, f, "must be yes or no");
        if (!strcmp(f->field, "consent_share"))
            st->share = b;
        else
            st->contact = b;
        rc = sakhi_referral_set_consent(r, st->share > 0, st->contact > 0);
        break;
    default: return bad_value(cli, f, "unsupported");
    }
    if (rc == SAKHI_ENOMEM)
        return sk_cli_fail(cli, SK_CLI_FAIL, "out of memory");
    if (rc)
        return bad_value(cli, f, sakhi_strerror(rc));
    return 0;
}

static const cap_field *field_by_name(const char *name)
{
    for (size_t i = 0; i < NFIELDS; i++)
        if (!strcmp(k_fields[i].field, name))
            return &k_fields[i];
    if (!strncmp(name, "service.", 8))
        return field_by_name("services");
    return NULL;
}

/* The library's validation message, naming the field. */
static int invalid_referral(sk_cli *cli)
{
    const char *field = sakhi_errfield(cli->c), *msg = sakhi_errmsg(cli->c);
    const cap_field *f = field[0] ? field_by_name(field) : NULL;
    if (f)
        return sk_cli_fail(cli, SK_CLI_FAIL, "invalid referral: field %s (--%s): %s", field,
                           f->flag, msg);
    if (field[0])
        return sk_cli_fail(cli, SK_CLI_FAIL, "invalid referral: field %s: %s", field, msg);
    return sk_cli_fail(cli, SK_CLI_FAIL, "invalid referral: %s", msg);
}

/* ---- output ---------------------------------------------------------------------------------- */

typedef struct saved {
    char (*ids)[SAKHI_ID_STRLEN];
    size_t n, cap;
} saved;

static int saved_add(saved *s, const char *id)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        void *p = realloc(s->ids, nc * sizeof(*s->ids));
        if (!p)
            return -1;
        s->ids = p;
        s->cap = nc;
    }
    memcpy(s->ids[s->n++], id, SAKHI_ID_STRLEN);
    return 0;
}

static int print_saved(sk_cli *cli, const saved *s)
{
    if (cli->json) {
        sk_cli_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kuint(w, "count", s->n);
        sk_jw_key(w, "ids");
        sk_jw_arr_begin(w);
        for (size_t i = 0; i < s->n; i++)
            sk_jw_cstr(w, s->ids[i]);
        sk_jw_arr_end(w);
        return sk_cli_json_end(cli, &j);
    }
    for (size_t i = 0; i < s->n; i++)
        printf("%s\n", s->ids[i]);
    return SK_CLI_OK;
}

/* ---- interactive ----------------------------------------------------------------------------- */

/* One line from stdin without its newline; NULL at end of input. Caller frees. */
static char *read_line(const char *prompt)
{
    char *line = NULL;
    size_t cap = 0;
    fputs(prompt, stderr);
    fflush(stderr);
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    return line;
}

/* The prompt for f, built from the library's schema: the field's label in the worker's
 * language, "required" when the form needs it, and the names an enumeration takes. */
static void make_prompt(sk_cli *cli, const cap_field *f, char *prompt, size_t cap)
{
    const char *lang = sk_cli_lang();
    char names[512];
    sakhi_field_info fi = SAKHI_FIELD_INFO_INIT;
    const char *field = f->kind == K_SERVICES ? "service.legal_aid" : f->field;
    int known = sakhi_schema_field_by_name(&fi, field) == 0;
    const char *label = f->kind == K_SERVICES ? f->prompt : sakhi_label(lang, f->field);
    const char *req = known && fi.required == SAKHI_REQUIRED_YES && f->kind != K_CONSENT
                          ? sakhi_label(lang, "ui.required")
                          : NULL;
    if (f->kind == K_SERVICES)
        enum_names_of("service", names, sizeof(names));
    else
        enum_names(cli, f->field, names, sizeof(names));
    snprintf(prompt, cap, "%s%s%s%s%s%s%s: ", label, req ? " (" : "", req ? req : "",
             req ? ")" : "", names[0] ? " [" : "", names, names[0] ? "]" : "");
}

/* Ask for field f until a value is accepted or the input is left empty. 0 accepted, 2 left
 * empty, 1 at the end of input or after 10 refused values (bounded: never an endless prompt). */
static int ask(sk_cli *cli, sakhi_referral *r, capture_state *st, const cap_field *f)
{
    char prompt[1024];
    make_prompt(cli, f, prompt, sizeof(prompt));
    for (int tries = 0; tries < 10; tries++) {
        char *v = read_line(prompt);
        if (!v)
            return 1;
        if (!v[0]) {
            free(v);
            return 2;
        }
        int rc = apply(cli, r, st, f, v);
        free(v);
        if (rc == 0)
            return 0;
    }
    return 1;
}

static int capture_interactive(sk_cli *cli, saved *out)
{
    sakhi_referral *r = NULL;
    capture_state st = {-1, -1};
    char id[SAKHI_ID_STRLEN];
    int rc, status = SK_CLI_FAIL;
    if ((rc = sakhi_referral_new(&r, cli->c)))
        return sk_cli_lib_fail(cli, rc, "cannot start a referral");
    fprintf(stderr, "New referral (empty input skips a field; Ctrl-D abandons it).\n");
    for (size_t i = 0; i < NFIELDS; i++)
        if (ask(cli, r, &st, &k_fields[i]) == 1) {
            status = sk_cli_fail(cli, SK_CLI_FAIL, "input ended; nothing was saved");
            goto out;
        }
    for (int round = 0; round < 20; round++) {
        rc = sakhi_referral_save(id, cli->c, r);
        if (rc == 0) {
            status =
                saved_add(out, id) ? sk_cli_fail(cli, SK_CLI_FAIL, "out of memory") : SK_CLI_OK;
            goto out;
        }
        if (rc != SAKHI_EVALIDATION) {
            status = sk_cli_lib_fail(cli, rc, "cannot save the referral");
            goto out;
        }
        invalid_referral(cli);
        const cap_field *f = field_by_name(sakhi_errfield(cli->c));
        int asked = f ? ask(cli, r, &st, f) : 1;
        if (asked == 2) /* left empty again: asking once more would loop */
            status =
                sk_cli_fail(cli, SK_CLI_FAIL, "%s was left empty; nothing was saved", f->field);
        if (asked) {
            if (asked != 2)
                status = sk_cli_fail(cli, SK_CLI_FAIL, "nothing was saved");
            goto out;
        }
    }
    status = sk_cli_fail(cli, SK_CLI_FAIL, "too many attempts; nothing was saved");
out:
    sakhi_referral_free(r);
    return status;
}

/* ---- from the sample file -------------------------------------------------------------------- */

/* Parse "3", "0-4", "1,5-7" into a selection over n referrals. 0 or -1. */
static int parse_indexes(const char *spec, size_t n, unsigned char *sel)
{
    const char *p = spec;
    if (!*p)
        return -1;
    while (*p) {
        char part[64];
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        uint64_t a, b;
        if (len == 0 || len >= sizeof(part))
            return -1;
        memcpy(part, p, len);
        part[len] = 0;
        char *dash = strchr(part, '-');
        if (dash) {
            *dash = 0;
            if (sk_cli_parse_uint(part, UINT32_MAX, &a) ||
                sk_cli_parse_uint(dash + 1, UINT32_MAX, &b))
                return -1;
        } else {
            if (sk_cli_parse_uint(part, UINT32_MAX, &a))
                return -1;
            b = a;
        }
        if (a > b || b >= n)
            return -1;
        for (uint64_t i = a; i <= b; i++)
            sel[i] = 1;
        p = comma ? comma + 1 : p + len;
    }
    return 0;
}

static int capture_sample(sk_cli *cli, const char *file, const char *index, int all, saved *out)
{
    sk_sample s = {NULL, 0};
    char err[256], id[SAKHI_ID_STRLEN];
    unsigned char *sel = NULL;
    int rc, status = SK_CLI_FAIL;
    if (sk_sample_load(&s, file, err, sizeof(err)) != 0)
        return sk_cli_fail(cli, SK_CLI_USAGE, "cannot use sample file %s: %s", file, err);
    if (!(sel = calloc(s.n ? s.n : 1, 1))) {
        status = sk_cli_fail(cli, SK_CLI_FAIL, "out of memory");
        goto out;
    }
    if (all) {
        memset(sel, 1, s.n);
    } else if (parse_indexes(index, s.n, sel) != 0) {
        status = sk_cli_fail(cli, SK_CLI_USAGE,
                             "--index %s: expected N, N-M or a comma list within 0..%zu", index,
                             s.n ? s.n - 1 : 0);
        goto out;
    }
    for (size_t i = 0; i < s.n; i++) {
        sakhi_referral *r = NULL;
        const sk_change *ch = &s.refs[i].change;
        if (!sel[i])
            continue;
        if ((rc = sakhi_referral_new(&r, cli->c))) {
            status = sk_cli_lib_fail(cli, rc, "cannot start a referral");
            goto out;
        }
        for (uint32_t k = 0; k < ch->nfields && rc == 0; k++) {
            uint32_t key = ch->fields[k].key;
            if (!sk_sample_captured(key))
                continue;
            rc = sakhi_referral_set_raw(r, key, ch->fields[k].val, ch->fields[k].len);
        }
        if (rc == 0)
            rc = sakhi_referral_save(id, cli->c, r);
        sakhi_referral_free(r);
        if (rc == SAKHI_EVALIDATION) {
            fprintf(stderr, "sakhi capture: sample referral %zu is not valid\n", i);
            status = invalid_referral(cli);
            goto out;
        }
        if (rc) {
            char what[64];
            snprintf(what, sizeof(what), "cannot save sample referral %zu", i);
            status = sk_cli_lib_fail(cli, rc, what);
            goto out;
        }
        if (saved_add(out, id)) {
            status = sk_cli_fail(cli, SK_CLI_FAIL, "out of memory");
            goto out;
        }
    }
    status = SK_CLI_OK;
out:
    if (status != SK_CLI_OK && out->n)
        fprintf(stderr, "sakhi capture: %zu referral(s) captured before the failure stay saved\n",
                out->n);
    free(sel);
    sk_sample_free(&s);
    return status;
}

/* ---- the command ----------------------------------------------------------------------------- */

int sk_cli_cmd_capture(sk_cli *cli, int argc, char **argv)
{
    const char *vals[NFIELDS];
    sk_cli_multi multi[NFIELDS];
    sk_cli_opt opts[NFIELDS + 4];
    const char *sample = NULL, *index = NULL;
    int all = 0, rc, status = SK_CLI_FAIL, any = 0;
    saved out = {NULL, 0, 0};
    sakhi_referral *r = NULL;
    capture_state st = {-1, -1};
    char id[SAKHI_ID_STRLEN];

    memset(vals, 0, sizeof(vals));
    memset(multi, 0, sizeof(multi));
    for (size_t i = 0; i < NFIELDS; i++) {
        int m = k_fields[i].kind == K_CONCERNS || k_fields[i].kind == K_SERVICES;
        opts[i].name = k_fields[i].flag;
        opts[i].kind = m ? SK_CLI_MULTI : SK_CLI_VALUE;
        opts[i].dst = m ? (void *)&multi[i] : (void *)&vals[i];
    }
    opts[NFIELDS] = (sk_cli_opt){"from-sample", SK_CLI_VALUE, &sample};
    opts[NFIELDS + 1] = (sk_cli_opt){"index", SK_CLI_VALUE, &index};
    opts[NFIELDS + 2] = (sk_cli_opt){"all", SK_CLI_FLAG, &all};
    opts[NFIELDS + 3] = (sk_cli_opt){NULL, 0, NULL};
    rc = sk_cli_parse(cli, argc, argv, opts, NULL, 0, 0, NULL, k_capture_help);
    if (rc)
        return rc < 0 ? SK_CLI_OK : rc;
    for (size_t i = 0; i < NFIELDS; i++)
        any |= vals[i] != NULL || multi[i].n > 0;

    if (sample) {
        if (any)
            return sk_cli_fail(cli, SK_CLI_USAGE,
                               "--from-sample cannot be combined with field "
                               "flags");
        if (all == (index != NULL))
            return sk_cli_fail(cli, SK_CLI_USAGE,
                               "--from-sample needs exactly one of --index "
                               "SPEC or --all");
    } else if (index || all) {
        return sk_cli_fail(cli, SK_CLI_USAGE, "--index and --all go with --from-sample FILE");
    } else if (!any && !sk_cli_tty_in()) {
        return sk_cli_fail(cli, SK_CLI_USAGE,
                           "no fields given: use the field flags (see --help), "
                           "--from-sample, or run on a terminal to be asked");
    }
    if ((rc = sk_cli_open(cli)))
        return rc;

    if (sample) {
        status = capture_sample(cli, sample, index, all, &out);
    } else if (!any) {
        status = capture_interactive(cli, &out);
    } else {
        if ((rc = sakhi_referral_new(&r, cli->c))) {
            status = sk_cli_lib_fail(cli, rc, "cannot start a referral");
            goto out;
        }
        for (size_t i = 0; i < NFIELDS; i++) {
            if (vals[i] && (rc = apply(cli, r, &st, &k_fields[i], vals[i])))
                goto out;
            for (size_t j = 0; j < multi[i].n; j++)
                if ((rc = apply(cli, r, &st, &k_fields[i], multi[i].v[j])))
                    goto out;
        }
        rc = sakhi_referral_save(id, cli->c, r);
        if (rc == SAKHI_EVALIDATION) {
            status = invalid_referral(cli);
            goto out;
        }
        if (rc) {
            status = sk_cli_lib_fail(cli, rc, "cannot save the referral");
            goto out;
        }
        if (saved_add(&out, id)) {
            status = sk_cli_fail(cli, SK_CLI_FAIL, "out of memory");
            goto out;
        }
        status = SK_CLI_OK;
    }
    if (status == SK_CLI_OK)
        status = print_saved(cli, &out);
out:
    sakhi_referral_free(r);
    free(out.ids);
    return status;
}

static const char k_followup_help[] =
    "usage: sakhi followup ID TEXT\n"
    "\n"
    "Add a follow-up (free text, up to 4000 bytes) to record ID on this device; it is saved\n"
    "durably and sent with the next `sakhi sync`. ID is a record id, a unique prefix of one, or\n"
    "a case number.\n";

int sk_cli_cmd_followup(sk_cli *cli, int argc, char **argv)
{
    const char *pos[2];
    char id[SAKHI_ID_STRLEN];
    int rc = sk_cli_parse(cli, argc, argv, NULL, pos, 2, 2, NULL, k_followup_help);
    if (rc)
        return rc < 0 ? SK_CLI_OK : rc;
    if (!pos[1][0])
        return sk_cli_fail(cli, SK_CLI_USAGE, "the follow-up text is empty");
    if ((rc = sk_cli_open(cli)) || (rc = sk_cli_resolve(cli, pos[0], id)))
        return rc;
    rc = sakhi_followup_add(cli->c, id, pos[1]);
    if (rc == SAKHI_ESTATE)
        return sk_cli_fail(cli, SK_CLI_FAIL,
                           "record %s is only a stub on this device (or "
                           "deleted): follow-ups go through the centre",
                           id);
    if (rc == SAKHI_ENOTFOUND)
        return sk_cli_fail(cli, SK_CLI_FAIL, "no record %s on this device", id);
    if (rc)
        return sk_cli_lib_fail(cli, rc, "cannot add the follow-up");
    if (cli->json) {
        sk_cli_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "id", id);
        sk_jw_kbool(w, "followup", 1);
        return sk_cli_json_end(cli, &j);
    }
    if (!cli->quiet)
        printf("follow-up added to %s; it goes to the centre with the next sync\n", id);
    return SK_CLI_OK;
}
