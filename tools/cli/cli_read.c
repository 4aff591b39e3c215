/*
 * cli_read.c - `sakhi list`, `sakhi show` and `sakhi status`: what is on this device, and where
 * each record stands with the centre (pending, received, accepted with its case number).
 *
 * Lists come from the library's plain index (no personal fields), plus the case number read
 * from each record; `show` is the one command that prints a referral's content, because the
 * worker asked for it. This file owns only formatting. It must never write to the store.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sk_case.h"
#include "sk_json.h"
#include "sk_term.h"

static const char *enum_name(sk_enum_id e, int code)
{
    const char *n = code > 0 ? sk_enum_name(e, (uint64_t)code) : NULL;
    return n ? n : "-";
}

static const char *role_name(int role)
{
    switch (role) {
    case SAKHI_ROLE_FIELD: return "field";
    case SAKHI_ROLE_STAFF: return "staff";
    case SAKHI_ROLE_ADMIN: return "admin";
    default: return "none";
    }
}

/* ---- list ------------------------------------------------------------------------------------ */

static const char k_list_help[] =
    "usage: sakhi list [--pending] [--status S] [--sync STATE] [--from DATE] [--to DATE] [--json]\n"
    "\n"
    "Records on this device in the order they were captured here: id, capture time (UTC),\n"
    "status, urgency, sync state and case number. No personal fields are shown.\n"
    "  --pending       only records with changes not yet acknowledged by the server\n"
    "  --status S      new, received, accepted, in_service, closed, referred\n"
    "  --sync STATE    pending, sent, received, accepted, rejected, conflict\n"
    "  --from DATE     captured on or after DATE (YYYY-MM-DD, UTC, or an ISO-8601 time)\n"
    "  --to DATE       captured on or before DATE (a whole day when given as YYYY-MM-DD)\n"
    "  --json          one JSON array of {id, captured, captured_ms, status, urgency, sync, stub,\n"
    "                  case_no}\n";

static int sync_code(const char *name)
{
    for (int s = SAKHI_SYNC_PENDING; s <= SAKHI_SYNC_CONFLICT; s++)
        if (strcmp(sakhi_sync_state_name(s), name) == 0)
            return s;
    return 0;
}

int sk_cli_cmd_list(sk_cli *cli, int argc, char **argv)
{
    const char *status = NULL, *sync = NULL, *from = NULL, *to = NULL;
    int pending = 0, rc;
    sakhi_list_filter f = SAKHI_LIST_FILTER_INIT;
    const sk_cli_opt opts[] = {
        {"pending", SK_CLI_FLAG, &pending}, {"status", SK_CLI_VALUE, &status},
        {"sync", SK_CLI_VALUE, &sync},      {"from", SK_CLI_VALUE, &from},
        {"to", SK_CLI_VALUE, &to},          {NULL, 0, NULL}};
    rc = sk_cli_parse(cli, argc, argv, opts, NULL, 0, 0, NULL, k_list_help);
    if (rc)
        return rc < 0 ? SK_CLI_OK : rc;
    f.pending_only = pending;
    if (status && !(f.status = (int)sk_enum_code(SK_ENUM_STATUS, status)))
        return sk_cli_fail(cli, SK_CLI_USAGE,
                           "--status %s: expected new, received, accepted, "
                           "in_service, closed or referred",
                           status);
    if (sync && !(f.sync_state = sync_code(sync)))
        return sk_cli_fail(cli, SK_CLI_USAGE,
                           "--sync %s: expected pending, sent, received, "
                           "accepted, rejected or conflict",
                           sync);
    if (from && sk_cli_parse_date(from, 0, &f.from_ms))
        return sk_cli_fail(cli, SK_CLI_USAGE,
                           "--from %s: expected YYYY-MM-DD or an ISO-8601 "
                           "time",
                           from);
    if (to && sk_cli_parse_date(to, 1, &f.to_ms))
        return sk_cli_fail(cli, SK_CLI_USAGE, "--to %s: expected YYYY-MM-DD or an ISO-8601 time",
                           to);
    if (f.from_ms && f.to_ms && f.to_ms <= f.from_ms)
        return sk_cli_fail(cli, SK_CLI_USAGE, "--to is before --from");
    if ((rc = sk_cli_open(cli)))
        return rc;

    sakhi_list_item items[128];
    char cursor[SAKHI_ID_STRLEN] = "";
    size_t n, total = 0;
    sk_buf b = SK_BUF_INIT;
    sk_jw w;
    sk_jw_init(&w, &b, 0);
    if (cli->json)
        sk_jw_arr_begin(&w);
    else
        printf("%-36s  %-16s  %-10s  %-16s  %-9s  %s\n", "ID", "CAPTURED (UTC)", "STATUS",
               "URGENCY", "SYNC", "CASE");
    do {
        f.after = cursor[0] ? cursor : NULL;
        if ((rc = sakhi_list(items, 128, &n, cursor, cli->c, &f))) {
            sk_buf_free(&b);
            return sk_cli_lib_fail(cli, rc, "cannot list records");
        }
        for (size_t i = 0; i < n; i++) {
            const sakhi_list_item *it = &items[i];
            sakhi_record *rec = NULL;
            const char *case_no = NULL;
            char when[32];
            if (sakhi_record_get(&rec, cli->c, it->id) == 0 &&
                sakhi_record_get_str(&case_no, rec, "case_no") != 0)
                case_no = NULL;
            sk_cli_fmt_time(it->created_ms, when);
            if (cli->json) {
                sk_jw_obj_begin(&w);
                sk_jw_kcstr(&w, "id", it->id);
                sk_jw_kcstr(&w, "captured", when);
                sk_jw_kuint(&w, "captured_ms", it->created_ms);
                sk_jw_kcstr(&w, "status", enum_name(SK_ENUM_STATUS, it->status));
                sk_jw_kcstr(&w, "urgency", enum_name(SK_ENUM_URGENCY, it->urgency));
                sk_jw_kcstr(&w, "sync", sakhi_sync_state_name(it->sync_state));
                sk_jw_kbool(&w, "stub", it->stub);
                sk_jw_kcstr(&w, "case_no", case_no);
                sk_jw_obj_end(&w);
            } else {
                printf("%-36s  %-16s  %-10s  %-16s  %-9s  %s\n", it->id, when,
                       enum_name(SK_ENUM_STATUS, it->status),
                       enum_name(SK_ENUM_URGENCY, it->urgency),
                       sakhi_sync_state_name(it->sync_state), case_no ? case_no : "-");
            }
            sakhi_record_free(rec);
            total++;
        }
    } while (cursor[0]);
    if (cli->json) {
        sk_jw_arr_end(&w);
        return sk_cli_json_out(cli, &b);
    }
    sk_buf_free(&b);
    if (!cli->quiet)
        printf("%zu record%s\n", total, total == 1 ? "" : "s");
    return SK_CLI_OK;
}

/* ---- show ------------------------------------------------------------------------------------ */

static const char k_show_help[] =
    "usage: sakhi show ID [--json]\n"
    "\n"
    "One record in full, decrypted: its sync state, case number, every field and its\n"
    "follow-ups, and the server's reason when it rejected the last change. ID is a record id, a\n"
    "unique prefix of one, or a case number. --json prints the library's JSON form: {id,\n"
    "version, sync_state, stub, deleted, review, fields: {name: value}, followups: [...],\n"
    "reject?: {code, field, reason}}.\n";

static void print_value(const sk_json *v)
{
    switch (v->type) {
    case SK_JSON_NULL: printf("none"); break;
    case SK_JSON_BOOL: printf("%s", v->boolean ? "yes" : "no"); break;
    case SK_JSON_NUMBER:
        if (v->is_int)
            printf("%lld", (long long)v->i);
        else
            printf("%g", v->num);
        break;
    /* text typed by people or sent by the server: shown as text, never as terminal codes */
    case SK_JSON_STRING: sk_term_write(stdout, v->str, strlen(v->str)); break;
    case SK_JSON_ARRAY:
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                printf(", ");
            print_value(&v->items[i]);
        }
        break;
    case SK_JSON_OBJECT:
        for (size_t i = 0; i < v->n; i++) {
            printf("%s%s=", i ? " " : "", v->items[i].key);
            print_value(&v->items[i]);
        }
        break;
    }
}

/* A followup entry from the JSON: {"by","text","at"} or the raw map {"1","2","3"}. */
static const sk_json *member2(const sk_json *o, const char *a, const char *b)
{
    const sk_json *v = sk_json_get(o, a);
    return v ? v : sk_json_get(o, b);
}

int sk_cli_cmd_show(sk_cli *cli, int argc, char **argv)
{
    const char *pos[1];
    char id[SAKHI_ID_STRLEN], *text = NULL;
    sk_json *doc = NULL;
    sk_json_error jerr;
    int rc = sk_cli_parse(cli, argc, argv, NULL, pos, 1, 1, NULL, k_show_help), status;
    if (rc)
        return rc < 0 ? SK_CLI_OK : rc;
    if ((rc = sk_cli_open(cli)) || (rc = sk_cli_resolve(cli, pos[0], id)))
        return rc;
    if ((rc = sakhi_record_json(&text, cli->c, id))) {
        if (rc == SAKHI_ENOTFOUND)
            return sk_cli_fail(cli, SK_CLI_FAIL, "no record %s on this device", id);
        return sk_cli_lib_fail(cli, rc, "cannot read the record");
    }
    if (cli->json) {
        printf("%s\n", text);
        sakhi_free(cli->c, text);
        return SK_CLI_OK;
    }
    if (sk_json_parse(&doc, text, strlen(text), &jerr) != 0) {
        status = sk_cli_fail(cli, SK_CLI_FAIL, "the library's JSON did not parse at byte %zu: %s",
                             jerr.offset, jerr.msg);
        goto out;
    }
    const sk_json *fields = sk_json_get(doc, "fields"), *fus = sk_json_get(doc, "followups");
    const sk_json *v;
    int64_t ver = 0;
    sk_json_get_int(doc, "version", &ver);
    printf("id            %s\n", id);
    v = sk_json_get(fields, "case_no");
    printf("case number   %s\n", v && v->type == SK_JSON_STRING ? v->str : "- (not accepted yet)");
    printf("sync          %s (server version %lld)\n",
           sk_json_get_str(doc, "sync_state") ? sk_json_get_str(doc, "sync_state") : "?",
           (long long)ver);
    if ((v = sk_json_get(doc, "stub")) && v->type == SK_JSON_BOOL && v->boolean)
        printf("stub          only a stub is kept on this device (the centre holds the case)\n");
    if ((v = sk_json_get(doc, "review")) && v->type == SK_JSON_BOOL && v->boolean)
        printf("review        a concurrent edit was merged; the centre will review it\n");
    if ((v = sk_json_get(doc, "reject")) && v->type == SK_JSON_OBJECT) {
        printf("REJECTED      ");
        print_value(v);
        printf("\n");
    }
    printf("fields:\n");
    for (size_t i = 0; fields && i < fields->n; i++) {
        const sk_json *fv = &fields->items[i];
        if (!strcmp(fv->key, "created_at") || !strcmp(fv->key, "consent_at")) {
            char when[32];
            sk_cli_fmt_time(fv->is_int ? (uint64_t)fv->i : 0, when);
            printf("  %-28s %s UTC\n", fv->key, when);
            continue;
        }
        printf("  %-28s ", fv->key);
        print_value(fv);
        printf("\n");
    }
    printf("follow-ups:%s\n", fus && fus->n ? "" : " none");
    for (size_t i = 0; fus && i < fus->n; i++) {
        const sk_json *e = &fus->items[i];
        const sk_json *by = member2(e, "by", "1"), *tx = member2(e, "text", "2"),
                      *at = member2(e, "at", "3");
        char when[32];
        sk_cli_fmt_time(at && at->is_int ? (uint64_t)at->i : 0, when);
        char bysafe[4 * 65 + 1];
        printf("  %s  %s: ", when,
               by && by->type == SK_JSON_STRING ? sk_term_cstr(bysafe, sizeof(bysafe), by->str)
                                                : "?");
        if (tx && tx->type == SK_JSON_STRING)
            sk_term_write(stdout, tx->str, strlen(tx->str));
        putchar('\n');
    }
    status = SK_CLI_OK;
out:
    sk_json_free(doc);
    sakhi_free(cli->c, text);
    return status;
}

/* ---- status ---------------------------------------------------------------------------------- */

static const char k_status_help[] =
    "usage: sakhi status [--json]\n"
    "\n"
    "This device: its enrollment (device id, worker, role, server), records held, changes\n"
    "waiting to be sent, rejected records, and the time of the last complete sync.\n"
    "--json: {store, enrolled, device_id, worker, role, district, server, records, pending,\n"
    "rejected, last_sync_ms, last_sync, cursor, tls, server_pin, districts: [{code, name,\n"
    "prefix, label}]}. The districts are the centre's, as its server sent them (the names\n"
    "`sakhi capture --district` takes).\n";

/* The name of the worker's district from the centre's list ("all" for none, the code when the
 * device has no list yet). */
static const char *district_of(sk_cli *cli, unsigned code, char *buf, size_t cap)
{
    sakhi_district d = SAKHI_DISTRICT_INIT;
    if (!code)
        return "all";
    size_t n = sakhi_district_count(cli->c); /* each count reads the store */
    for (size_t i = 0; i < n; i++)
        if (sakhi_district_get(cli->c, i, NULL, &d) == 0 && d.code == code)
            return snprintf(buf, cap, "%s", d.slug) < 0 ? "?" : buf;
    snprintf(buf, cap, "%u", code);
    return buf;
}

int sk_cli_cmd_status(sk_cli *cli, int argc, char **argv)
{
    sakhi_status s = SAKHI_STATUS_INIT;
    sakhi_district d = SAKHI_DISTRICT_INIT;
    char server[300], when[32], dname[32];
    int rc = sk_cli_parse(cli, argc, argv, NULL, NULL, 0, 0, NULL, k_status_help);
    if (rc)
        return rc < 0 ? SK_CLI_OK : rc;
    if ((rc = sk_cli_open(cli)))
        return rc;
    if ((rc = sakhi_status_get(&s, cli->c)))
        return sk_cli_lib_fail(cli, rc, "cannot read the device status");
    if (s.server_host[0])
        snprintf(server, sizeof(server), "%s:%u", s.server_host, (unsigned)s.server_port);
    else
        server[0] = 0;
    sk_cli_fmt_time(s.last_sync_ms, when);
    if (cli->json) {
        sk_cli_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "store", cli->store);
        sk_jw_kbool(w, "enrolled", s.enrolled);
        sk_jw_kuint(w, "device_id", s.device_id);
        sk_jw_kcstr(w, "worker", s.worker[0] ? s.worker : NULL);
        sk_jw_kcstr(w, "role", role_name(s.role));
        sk_jw_kcstr(w, "district", district_of(cli, s.district, dname, sizeof(dname)));
        sk_jw_kcstr(w, "server", server[0] ? server : NULL);
        sk_jw_kuint(w, "records", s.records);
        sk_jw_kuint(w, "pending", s.pending);
        sk_jw_kuint(w, "rejected", s.rejected);
        sk_jw_kuint(w, "last_sync_ms", s.last_sync_ms);
        sk_jw_kcstr(w, "last_sync", s.last_sync_ms ? when : NULL);
        sk_jw_kuint(w, "cursor", s.cursor);
        sk_jw_kbool(w, "tls", s.enrolled && !s.plaintext);
        sk_jw_kcstr(w, "server_pin", s.server_pin[0] ? s.server_pin : NULL);
        sk_jw_key(w, "districts");
        sk_jw_arr_begin(w);
        for (size_t i = 0, n = sakhi_district_count(cli->c); i < n; i++) {
            if (sakhi_district_get(cli->c, i, sk_cli_lang(), &d) != 0)
                break;
            sk_jw_obj_begin(w);
            sk_jw_kuint(w, "code", d.code);
            sk_jw_kcstr(w, "name", d.slug);
            sk_jw_kcstr(w, "prefix", d.prefix);
            sk_jw_kcstr(w, "label", d.name);
            sk_jw_obj_end(w);
        }
        sk_jw_arr_end(w);
        return sk_cli_json_end(cli, &j);
    }
    printf("store       %s\n", cli->store);
    if (s.enrolled)
        printf("device      %llu (worker %s, %s, district %s)\n", (unsigned long long)s.device_id,
               s.worker, role_name(s.role), district_of(cli, s.district, dname, sizeof(dname)));
    else
        printf("device      not enrolled (sakhi enroll --server HOST:PORT --code CODE)\n");
    if (!s.enrolled)
        printf("server      -\n");
    else if (s.plaintext)
        printf("server      %s (plaintext, loopback only)\n", server);
    else
        printf("server      %s (TLS 1.3, key pinned %.16s...)\n", server, s.server_pin);
    printf("records     %llu (%llu rejected)\n", (unsigned long long)s.records,
           (unsigned long long)s.rejected);
    printf("pending     %llu change%s waiting to be sent\n", (unsigned long long)s.pending,
           s.pending == 1 ? "" : "s");
    printf("last sync   %s%s\n", s.last_sync_ms ? when : "never", s.last_sync_ms ? " UTC" : "");
    for (size_t i = 0, n = sakhi_district_count(cli->c); i < n; i++)
        if (sakhi_district_get(cli->c, i, sk_cli_lang(), &d) == 0)
            printf("%-11s %s: %s (case numbers %s-)\n", i ? "" : "districts", d.slug, d.name,
                   d.prefix);
    return SK_CLI_OK;
}
