/*
 * admin_staff.c - sakhi-admin's desk accounts: `staff add`, `staff link`, `staff list`,
 * `staff disable` (docs/DESK.md).
 *
 * A desk account is a worker (role staff or admin, a district) plus a login (server/
 * sk_desk_staff.h). `staff add` makes both and prints a one-time setup link: the person opens
 * it in a browser and chooses her password there, so no password ever passes through the shell,
 * and only the SHA-256 of the link's token is stored. `staff link` makes a new link (a forgotten
 * password; the old password stops working once the new one is set). Every change is audited.
 */
#include "admin.h"

#include "sk_desk_staff.h"
#include "sk_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char k_staff_help[] =
    "usage: sakhi-admin staff add NAME --role admin|counsellor|caseworker [--district leh|kargil]\n"
    "                         [--url BASE] [--ttl DURATION]\n"
    "       sakhi-admin staff link NAME [--url BASE] [--ttl DURATION]\n"
    "       sakhi-admin staff list | staff disable NAME\n"
    "\n"
    "Desk accounts for the centre's staff. add creates the account (and its worker, with the\n"
    "sync role staff, or admin for an administrator) and prints a one-time link where the person\n"
    "sets her own password; link prints a new one (e.g. for a forgotten password). --url is the\n"
    "desk's address as staff reach it (default https://127.0.0.1:7443); --ttl how long the link\n"
    "works (default 24h; e.g. 30m, 24h, 7d; at most 7d). --district limits the account to one\n"
    "district (default: all). disable ends the account's logins (and disables its worker).\n";

static int parse_ttl(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t unit;
    if (end == s || v == 0 || end[0] == '\0' || end[1] != '\0')
        return -1;
    switch (end[0]) {
    case 'm': unit = 60000u; break;
    case 'h': unit = 3600000u; break;
    case 'd': unit = 86400000u; break;
    default: return -1;
    }
    if (v > 7u * 86400000u / unit)
        return -1;
    *out = v * unit;
    return 0;
}

static int print_link(sk_admin *a, const char *name, const char *url, const char *token,
                      uint64_t expires_ms)
{
    char link[512];
    int n = snprintf(link, sizeof(link), "%s/setup?u=%s&t=%s", url, name, token);
    if (n < 0 || (size_t)n >= sizeof(link))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "the desk address is too long");
    if (!a->json) {
        printf("%s\n", link);
        return 0;
    }
    const sk_admin_kv kv[] = {{"name", name, 0, SK_ADMIN_KV_STR},
                              {"link", link, 0, SK_ADMIN_KV_STR},
                              {"expires_ms", NULL, expires_ms, SK_ADMIN_KV_UINT}};
    return sk_admin_json_result(a, kv, 3);
}

/* Write s (and, for add, its worker w) in one transaction with the audit entry. */
static int write_staff(sk_admin *a, const sk_staff *s, const sk_worker *w, const char *event,
                       const char *detail)
{
    sk_admin_wtxn wt;
    int rc = sk_admin_wtxn_begin(a, &wt);
    if (rc)
        return rc;
    if ((rc = sk_staff_put_txn(a->store, wt.txn, s)) ||
        (rc = sk_admin_audit_txn(a, wt.txn, event, s->name, detail))) {
        sk_admin_wtxn_abort(a, &wt);
        return rc;
    }
    if ((rc = sk_admin_wtxn_commit(a, &wt)))
        return rc;
    /* the worker goes through the store's own call, which also wakes the server's re-check */
    return w ? sk_store_worker_put(a->store, w) : 0;
}

static int staff_row(const sk_staff *s, void *p)
{
    sk_admin_rows *c = p;
    const char *state = s->disabled ? "disabled" : s->pwhash[0] ? "active" : "awaiting setup";
    if (c->a->json) {
        sk_jw_obj_begin(&c->w);
        sk_jw_kcstr(&c->w, "name", s->name);
        sk_jw_kcstr(&c->w, "role", sk_desk_role_name(s->role));
        sk_jw_kbool(&c->w, "totp", s->has_totp);
        sk_jw_kcstr(&c->w, "state", state);
        sk_jw_obj_end(&c->w);
    } else
        printf("%-24s %-11s %-5s %s\n", s->name, sk_desk_role_name(s->role),
               s->has_totp ? "totp" : "-", state);
    c->n++;
    return 0;
}

static int list_staff(sk_admin_rows *c)
{
    return sk_staff_list(c->a->store, staff_row, c);
}

int sk_admin_cmd_staff(sk_admin *a, int argc, char **argv)
{
    const char *role_s = NULL, *district_s = NULL, *url = "https://127.0.0.1:7443", *ttl_s = "24h",
               *pos[2];
    size_t np;
    const sk_admin_opt opts[] = {{"role", 1, &role_s, NULL},
                                 {"district", 1, &district_s, NULL},
                                 {"url", 1, &url, NULL},
                                 {"ttl", 1, &ttl_s, NULL},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, 1, 2, &np, k_staff_help);
    if (rc)
        return rc;
    const char *verb = pos[0];
    if (strcmp(verb, "list") == 0) {
        if (np != 1)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "staff list takes no arguments");
        return sk_admin_print_rows(a, list_staff, NULL);
    }
    if (strcmp(verb, "add") && strcmp(verb, "link") && strcmp(verb, "disable"))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "unknown staff action '%s' (add, link, list, disable)", verb);
    if (np != 2 || !sk_admin_valid_name(pos[1]))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "staff %s needs a NAME: 1 to 64 of letters, digits, . _ - @", verb);
    const char *name = pos[1];
    uint64_t ttl = 0, now = sk_admin_now_ms();
    if (parse_ttl(ttl_s, &ttl))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --ttl '%s' (e.g. 30m, 24h, 7d)", ttl_s);
    if (strncmp(url, "https://", 8) != 0 || strlen(url) > 200 || strchr(url, '"'))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --url '%s' (https://HOST:PORT)", url);
    size_t ul = strlen(url);
    char base[256];
    snprintf(base, sizeof(base), "%.*s", (int)(ul && url[ul - 1] == '/' ? ul - 1 : ul), url);
    sk_staff s;
    sk_worker w;
    MDB_txn *txn;
    if ((rc = sk_admin_open_read(a, &txn)))
        return rc;
    int have = sk_staff_get_txn(a->store, txn, name, &s);
    int have_w = sk_store_worker_get_txn(a->store, txn, name, strlen(name), &w);
    mdb_txn_abort(txn);
    if (have != 0 && have != -SK_E_NOT_FOUND)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read: %s", sk_err_text(have));
    char token[SK_SETUP_TOKEN_LEN + 1], detail[96];
    if (strcmp(verb, "add") == 0) {
        uint32_t role = role_s ? sk_desk_role_code(role_s) : 0;
        if (!role)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                 "staff add needs --role admin, counsellor or caseworker");
        if (have == 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "staff account '%s' already exists", name);
        if (have_w == 0 && w.role == SK_ROLE_FIELD)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                                 "'%s' is a field worker; a desk account needs its own name", name);
        memset(&w, 0, sizeof(w));
        snprintf(w.id, sizeof(w.id), "%s", name);
        w.role = sk_desk_role_sync(role);
        if (district_s && (rc = sk_admin_district_code(a, district_s, &w.district)))
            return rc;
        memset(&s, 0, sizeof(s));
        snprintf(s.name, sizeof(s.name), "%s", name);
        s.role = role;
        s.created_ms = now;
        if ((rc = sk_staff_setup_new(&s, now, ttl, token)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "no randomness: %s", sk_err_text(rc));
        snprintf(detail, sizeof(detail), "role=%s district=%u", role_s, w.district);
        if ((rc = write_staff(a, &s, &w, "staff_add", detail)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write: %s", sk_err_text(rc));
        return print_link(a, name, base, token, now + ttl);
    }
    if (have == -SK_E_NOT_FOUND)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "no staff account '%s'", name);
    if (role_s || district_s)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "staff %s takes no --role or --district",
                             verb);
    if (strcmp(verb, "link") == 0) {
        if (s.disabled)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "staff account '%s' is disabled", name);
        if ((rc = sk_staff_setup_new(&s, now, ttl, token)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "no randomness: %s", sk_err_text(rc));
        if ((rc = write_staff(a, &s, NULL, "staff_link", "")))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write: %s", sk_err_text(rc));
        return print_link(a, name, base, token, now + ttl);
    }
    s.disabled = 1;
    s.has_setup = 0;
    if (have_w == 0)
        w.disabled = 1;
    if ((rc = write_staff(a, &s, have_w == 0 ? &w : NULL, "staff_disable", "")))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write: %s", sk_err_text(rc));
    if (a->tty && !a->json)
        printf("disabled staff account %s\n", name);
    return 0;
}
