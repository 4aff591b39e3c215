/*
 * admin_districts.c - `sakhi-admin district`: the districts the centre serves (storage/
 * sk_districts.h). The list is data the server sends to devices at every sync; a district's
 * prefix names its case numbers. A district is added or renamed, never removed or recoded:
 * records and case numbers keep naming it. It also gives the code columns of the case
 * listings (district, status, urgency), the district's name being its part.
 */
#include "admin.h"

#include "sk_districts.h"
#include "sk_err.h"
#include "sk_json.h"
#include "sk_term.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char k_district_help[] =
    "usage: sakhi-admin district list\n"
    "       sakhi-admin district add CODE NAME PREFIX --en TEXT [--hi TEXT] [--ur TEXT]\n"
    "                                                       [--lbj TEXT]\n"
    "       sakhi-admin district rename NAME [--en TEXT] [--hi TEXT] [--ur TEXT] [--lbj TEXT]\n"
    "\n"
    "The districts the centre serves. Devices receive the list at every sync (their district\n"
    "picker and the names `sakhi capture --district` takes); the server refuses a referral from\n"
    "a district not in it, and a case number starts with its district's PREFIX\n"
    "(LEH-2026-000123). A new store has leh (1, LEH) and kargil (2, KGL).\n"
    "  CODE    1 to 65535, the value records carry\n"
    "  NAME    1 to 24 of a-z, 0-9 and _, starting with a letter (\"zanskar\")\n"
    "  PREFIX  2 to 5 capital letters (\"ZSK\")\n"
    "  --en, --hi, --ur, --lbj   the name shown in English (required), Hindi, Urdu, Ladakhi;\n"
    "                            up to 48 characters; a language left out shows English\n"
    "Districts are never removed or given another code or prefix: records and case numbers\n"
    "keep naming them. Each change is in the audit log (district_add, district_rename).\n";

/* The store's list into a heap array of SK_DISTRICTS_MAX entries. */
static int load(sk_admin *a, MDB_txn *txn, sk_district_def **out, size_t *n)
{
    *out = calloc(SK_DISTRICTS_MAX, sizeof(**out));
    if (!*out)
        return -SK_E_NOMEM;
    int rc = sk_store_districts_get_txn(a->store, txn, *out, SK_DISTRICTS_MAX, n);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

int sk_admin_district_code(sk_admin *a, const char *name, uint32_t *code)
{
    sk_district_def *d = NULL;
    size_t n = 0;
    MDB_txn *txn;
    int rc = sk_admin_open(a, 1);
    if (rc)
        return rc;
    if ((rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn))) ||
        (rc = load(a, txn, &d, &n))) {
        if (txn)
            mdb_txn_abort(txn);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the districts: %s",
                             sk_err_text(rc));
    }
    mdb_txn_abort(txn);
    const sk_district_def *hit = sk_district_by_slug(d, n, name);
    char *end;
    errno = 0;
    unsigned long v = strtoul(name, &end, 10);
    if (!hit && !errno && end != name && !*end && v <= SK_DISTRICT_CODE_MAX)
        hit = sk_district_find(d, n, (uint32_t)v);
    if (hit)
        *code = hit->code;
    else {
        char safe[80], names[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < n; i++) {
            int w = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", d[i].slug);
            if (w < 0 || (size_t)w >= sizeof(names) - used)
                break;
            used += (size_t)w;
        }
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "no district '%s' (the centre's: %s)",
                           sk_term_cstr(safe, sizeof(safe), name), names);
    }
    free(d);
    return hit ? 0 : rc;
}

const char *sk_admin_district_name(sk_admin *a, uint64_t code, char *buf, size_t cap)
{
    /* this process's copy of the list: sakhi-admin runs one command and exits */
    static sk_district_def *cache;
    static size_t ncache;
    static int loaded;
    if (!loaded && a->store) {
        MDB_txn *txn;
        loaded = 1;
        if (mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn) == 0) {
            if (load(a, txn, &cache, &ncache))
                ncache = 0;
            mdb_txn_abort(txn);
        }
    }
    const sk_district_def *d =
        code <= UINT32_MAX ? sk_district_find(cache, ncache, (uint32_t)code) : NULL;
    if (d)
        return d->slug;
    snprintf(buf, cap, "unknown(%llu)", (unsigned long long)code);
    return buf;
}

void sk_admin_case_codes_get(sk_admin *a, const sk_record *r, sk_admin_case_codes *out)
{
    uint64_t dc;
    out->district = sk_case_get_uint(r, SK_F_DISTRICT, &dc) != 0
                        ? "-"
                        : sk_admin_district_name(a, dc, out->buf[0], sizeof(out->buf[0]));
    out->status =
        sk_admin_enum_text(SK_ENUM_STATUS, r, SK_F_STATUS, out->buf[1], sizeof(out->buf[1]));
    out->urgency =
        sk_admin_enum_text(SK_ENUM_URGENCY, r, SK_F_URGENCY, out->buf[2], sizeof(out->buf[2]));
}

static int list(sk_admin *a)
{
    sk_district_def *d = NULL;
    size_t n = 0;
    MDB_txn *txn = NULL;
    int rc = sk_store_mdb_err(mdb_txn_begin(sk_store_env(a->store), NULL, MDB_RDONLY, &txn));
    if (rc == 0)
        rc = load(a, txn, &d, &n);
    if (txn)
        mdb_txn_abort(txn);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the districts: %s",
                             sk_err_text(rc));
    static const char *const langs[SK_DLANG_COUNT] = {"en", "hi", "ur", "lbj"};
    if (a->json) {
        sk_buf b = SK_BUF_INIT;
        sk_jw w;
        sk_jw_init(&w, &b, 0);
        sk_jw_arr_begin(&w);
        for (size_t i = 0; i < n; i++) {
            sk_jw_obj_begin(&w);
            sk_jw_kuint(&w, "code", d[i].code);
            sk_jw_kcstr(&w, "name", d[i].slug);
            sk_jw_kcstr(&w, "prefix", d[i].prefix);
            for (int l = 0; l < SK_DLANG_COUNT; l++) {
                if (!d[i].name[l][0])
                    continue;
                sk_jw_key(&w, langs[l]);
                sk_jw_cstr(&w, d[i].name[l]);
            }
            sk_jw_obj_end(&w);
        }
        sk_jw_arr_end(&w);
        if (!b.oom)
            printf("%.*s\n", (int)b.len, (const char *)b.data);
        sk_buf_free(&b);
    } else {
        printf("code  name                      prefix  names\n");
        for (size_t i = 0; i < n; i++) {
            char safe[SK_DISTRICT_NAME_BYTES * 2];
            printf("%-5u %-25s %-7s", d[i].code, d[i].slug, d[i].prefix);
            for (int l = 0; l < SK_DLANG_COUNT; l++)
                if (d[i].name[l][0])
                    printf(" %s=%s", langs[l], sk_term_cstr(safe, sizeof(safe), d[i].name[l]));
            printf("\n");
        }
    }
    free(d);
    return 0;
}

static int set_names(sk_admin *a, sk_district_def *d, const char *const names[SK_DLANG_COUNT])
{
    for (int l = 0; l < SK_DLANG_COUNT; l++) {
        if (!names[l])
            continue;
        if (strlen(names[l]) > SK_DISTRICT_NAME_BYTES)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "a name has at most 48 characters");
        snprintf(d->name[l], sizeof(d->name[l]), "%s", names[l]);
    }
    return 0;
}

int sk_admin_cmd_district(sk_admin *a, int argc, char **argv)
{
    const char *names[SK_DLANG_COUNT] = {NULL, NULL, NULL, NULL};
    const char *pos[4];
    size_t np = 0;
    const sk_admin_opt opts[] = {{"en", 1, &names[SK_DLANG_EN], NULL},
                                 {"hi", 1, &names[SK_DLANG_HI], NULL},
                                 {"ur", 1, &names[SK_DLANG_UR], NULL},
                                 {"lbj", 1, &names[SK_DLANG_LBJ], NULL},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, 1, 4, &np, k_district_help);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *verb = pos[0];
    int add = strcmp(verb, "add") == 0, rename = strcmp(verb, "rename") == 0;
    if (!add && !rename && strcmp(verb, "list") != 0)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "unknown district action '%s' (list, add, rename)", verb);
    if ((add && np != 4) || (rename && np != 2) || (!add && !rename && np != 1))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             add      ? "district add needs CODE NAME PREFIX --en TEXT"
                             : rename ? "district rename needs NAME"
                                      : "district list takes "
                                        "no arguments");
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    if (!add && !rename)
        return list(a);

    sk_district_def *d = NULL, *t;
    size_t n = 0;
    char err[128], detail[160];
    sk_admin_wtxn w;
    if ((rc = sk_admin_wtxn_begin(a, &w)) || (rc = load(a, w.txn, &d, &n))) {
        sk_admin_wtxn_abort(a, &w);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the districts: %s",
                             sk_err_text(rc));
    }
    if (add) {
        char *end;
        errno = 0;
        unsigned long code = strtoul(pos[1], &end, 10);
        if (n == SK_DISTRICTS_MAX) {
            rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "the centre has %d districts, the most",
                               SK_DISTRICTS_MAX);
            goto out;
        }
        t = &d[n];
        memset(t, 0, sizeof(*t));
        t->code =
            errno || end == pos[1] || *end || code > SK_DISTRICT_CODE_MAX ? 0 : (uint32_t)code;
        snprintf(t->slug, sizeof(t->slug), "%.*s", (int)sizeof(t->slug) - 1, pos[2]);
        snprintf(t->prefix, sizeof(t->prefix), "%.*s", (int)sizeof(t->prefix) - 1, pos[3]);
        if (strlen(pos[2]) >= sizeof(t->slug) || strlen(pos[3]) >= sizeof(t->prefix))
            t->code = 0; /* refused below with the rule */
        if (!names[SK_DLANG_EN]) {
            rc = sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "district add needs --en TEXT");
            goto out;
        }
        n++;
    } else {
        t = (sk_district_def *)sk_district_by_slug(d, n, pos[1]);
        if (!t) {
            char safe[80];
            rc = sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "no district '%s'",
                               sk_term_cstr(safe, sizeof(safe), pos[1]));
            goto out;
        }
    }
    if ((rc = set_names(a, t, names)))
        goto out;
    if ((rc = sk_store_districts_put_txn(a->store, w.txn, d, n, err, sizeof(err)))) {
        rc = rc == -SK_E_BAD_VALUE
                 ? sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "refused: %s", err)
                 : sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot store: %s", sk_err_text(rc));
        goto out;
    }
    snprintf(detail, sizeof(detail), "district=%s code=%u prefix=%s", t->slug, t->code, t->prefix);
    if ((rc = sk_admin_audit_txn(a, w.txn, add ? "district_add" : "district_rename",
                                 a->operator_name, detail)) ||
        (rc = sk_admin_wtxn_commit(a, &w))) {
        rc = sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot store: %s", sk_err_text(rc));
        goto out;
    }
    if (a->tty && !a->json)
        printf("%s district %s (%u, case numbers %s-...); devices get it at their next sync\n",
               add ? "added" : "renamed", t->slug, t->code, t->prefix);
    rc = 0;
out:
    sk_admin_wtxn_abort(a, &w);
    free(d);
    return rc;
}
