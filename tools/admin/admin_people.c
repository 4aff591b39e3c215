/*
 * admin_people.c - sakhi-admin's setup commands: init, workers, enrollment codes, devices,
 * stats and the centre's TLS certificate.
 *
 * Works through the server's store API (storage/sk_store.h). Owns nothing between calls. It
 * prints enrollment codes (they are meant for the person enrolling a device) but never keeps
 * them: the store holds only their SHA-256. A device is revoked here in one write transaction
 * with its audit entry, so the revocation and its record cannot be separated.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_json.h"
#include "sk_term.h"
#include "sk_sample.h"
#include "sk_tls.h"
#include "sk_tlsfile.h"
#include "sk_uri.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void print_json(sk_buf *b)
{
    if (!b->oom)
        printf("%.*s\n", (int)b->len, (const char *)b->data);
    sk_buf_free(b);
}

/* ---- init ------------------------------------------------------------------------------ */

static const char k_init_help[] =
    "usage: sakhi-admin [--data DIR] [--keys KEYDIR] init [--map-size MB]\n"
    "                   [--backup-key-out FILE] [--json]\n"
    "\n"
    "Creates the data directory (mode 0700) and an empty store in it, with an LMDB map of MB\n"
    "MiB (default 1024, as sakhi-server; the server's --map-size wins when it starts), and the\n"
    "keys directory beside it (DIR.keys, mode 0700, or --keys KEYDIR), which holds what must\n"
    "not travel with a copy of the data directory:\n"
    "  master.key          the record-key master (0600)\n"
    "  audit-sign.key      the Ed25519 key that signs the audit chain's head (0600; copy\n"
    "                      audit-sign.pub off the machine)\n"
    "  backup.pub          the X25519 public key backups are sealed to\n"
    "The private half of the backup key, which restore needs, is written once to\n"
    "KEYDIR/backup-restore.key (or --backup-key-out FILE), 0600: copy it to offline media and\n"
    "remove it from the server. Running init on an existing store changes nothing but making a\n"
    "key that is missing (and moving a master key found in the data directory itself into the\n"
    "keys directory), and succeeds.\n";

int sk_admin_cmd_init(sk_admin *a, int argc, char **argv)
{
    const char *map_s = "1024", *bpriv_out = NULL;
    const sk_admin_opt opts[] = {{"map-size", 1, &map_s, NULL},
                                 {"backup-key-out", 1, &bpriv_out, NULL},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_init_help);
    if (rc)
        return rc;
    uint64_t mb;
    if (sk_admin_parse_uint(map_s, 1, 1ull << 24, &mb))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --map-size '%s' (MiB, 1 or more)", map_s);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/data.mdb", a->data);
    int existed = stat(path, &st) == 0;
    if ((rc = sk_admin_store_open(a, existed ? 0 : (uint64_t)mb << 20)))
        return rc;
    if (!existed && (rc = sk_admin_audit_now(a, "init", a->operator_name, "")))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write the audit log: %s",
                             sk_err_text(rc));
    /* The audit signing key, outside the data directory; made once, also for a data directory
     * of an older version (running init again is its upgrade step). */
    char kdir[4096], kpath[4200], ppath[4200], err[400];
    int key_made = 0;
    if (sk_admin_keys_mkdir(a, kdir, sizeof(kdir), err, sizeof(err)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
    snprintf(kpath, sizeof(kpath), "%s/%s", kdir, SK_ADMIN_SIGNKEY);
    snprintf(ppath, sizeof(ppath), "%s/%s", kdir, SK_ADMIN_SIGNPUB);
    if (stat(kpath, &st) != 0) {
        if (sk_admin_signkey_make(kpath, ppath, err, sizeof(err)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
        key_made = 1;
    } else if (sk_admin_key_file_check(kpath, err, sizeof(err))) {
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
    }
    /* The backup key pair: the public half stays here, the private half is for offline. */
    char bpub[4200], bpriv[4200];
    int bkey_made = 0;
    snprintf(bpub, sizeof(bpub), "%s/%s", kdir, SK_ADMIN_BACKUPPUB);
    if (bpriv_out)
        snprintf(bpriv, sizeof(bpriv), "%s", bpriv_out);
    else
        snprintf(bpriv, sizeof(bpriv), "%s/%s", kdir, SK_ADMIN_BACKUPPRIV);
    if (stat(bpub, &st) != 0) {
        if (sk_admin_backupkey_make(bpriv, bpub, err, sizeof(err)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err);
        bkey_made = 1;
    } else if (bpriv_out) {
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                             "%s exists: the backup key pair was made before (its private half "
                             "was written once)",
                             bpub);
    }
    if (a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "data", a->data);
        sk_jw_kbool(w, "created", !existed);
        sk_jw_kcstr(w, "keys", kdir);
        sk_jw_kbool(w, "audit_key_created", key_made);
        sk_jw_kbool(w, "backup_key_created", bkey_made);
        sk_jw_kcstr(w, "backup_private_key", bkey_made ? bpriv : NULL);
        return sk_admin_json_end(a, &j);
    } else {
        if (a->tty || !existed)
            printf("%s store in %s\n", existed ? "existing" : "created", a->data);
        if (key_made)
            printf("audit signing key in %s; copy %s off this machine (audit --verify "
                   "--public-key)\n",
                   kpath, ppath);
        if (bkey_made)
            printf("backups are sealed to %s. The private half, which every restore needs, is\n"
                   "%s (0600): copy it to offline media kept apart from the backups\n"
                   "(two copies in separate places), then remove it from this machine\n"
                   "(shred -u FILE). It is written once and cannot be made again.\n",
                   bpub, bpriv);
    }
    return 0;
}

/* ---- workers ----------------------------------------------------------------------------- */

static const char k_worker_help[] =
    "usage: sakhi-admin worker add ID --role field|staff|admin [--district leh|kargil]\n"
    "       sakhi-admin worker list [--json]\n"
    "       sakhi-admin worker disable ID\n"
    "\n"
    "Workers are the people who use devices. ID is 1 to 64 characters of letters, digits,\n"
    "'.', '_', '-' or '@'. --district limits staff to one district (default: all districts).\n"
    "A disabled worker's devices can no longer authenticate or enroll.\n";

static const char *role_name(uint32_t r)
{
    switch (r) {
    case SK_ROLE_FIELD: return "field";
    case SK_ROLE_STAFF: return "staff";
    case SK_ROLE_ADMIN: return "admin";
    case SK_ROLE_REPLICA: return "replica";
    case SK_ROLE_CENTRE: return "centre";
    default: return "none";
    }
}

static int worker_row(const sk_worker *wk, void *p)
{
    sk_admin_rows *c = p;
    char dbuf[32];
    const char *d =
        wk->district ? sk_admin_district_name(c->a, wk->district, dbuf, sizeof(dbuf)) : "all";
    if (c->a->json) {
        sk_jw_obj_begin(&c->w);
        sk_jw_kcstr(&c->w, "id", wk->id);
        sk_jw_kcstr(&c->w, "role", role_name(wk->role));
        sk_jw_kcstr(&c->w, "district", d ? d : "unknown");
        sk_jw_kbool(&c->w, "disabled", wk->disabled);
        sk_jw_obj_end(&c->w);
    } else {
        if (c->n == 0 && c->a->tty)
            printf("%-24s %-6s %-8s %s\n", "WORKER", "ROLE", "DISTRICT", "STATE");
        char idsafe[4 * 65 + 1];
        printf("%-24s %-6s %-8s %s\n", sk_term_cstr(idsafe, sizeof(idsafe), wk->id),
               role_name(wk->role), d ? d : "unknown", wk->disabled ? "disabled" : "active");
    }
    c->n++;
    return 0;
}

static int list_workers(sk_admin_rows *c)
{
    return sk_store_worker_list(c->a->store, worker_row, c);
}

/* "worker=ID" for an audit detail (static buffer: one call per command). */
static const char *detail_id(const char *id)
{
    static char b[96];
    snprintf(b, sizeof(b), "worker=%s", id);
    return b;
}

int sk_admin_cmd_worker(sk_admin *a, int argc, char **argv)
{
    const char *role_s = NULL, *district_s = NULL, *pos[2];
    size_t np;
    const sk_admin_opt opts[] = {
        {"role", 1, &role_s, NULL}, {"district", 1, &district_s, NULL}, {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, 1, 2, &np, k_worker_help);
    if (rc)
        return rc;
    const char *verb = pos[0];
    if (strcmp(verb, "list") == 0) {
        if (np != 1 || role_s || district_s)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "list takes no arguments");
        return sk_admin_print_rows(a, list_workers, "workers");
    }
    if (strcmp(verb, "add") != 0 && strcmp(verb, "disable") != 0)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "unknown worker action '%s' (add, list, disable)", verb);
    if (np != 2)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "worker %s needs a worker ID", verb);
    const char *id = pos[1];
    if (!sk_admin_valid_name(id))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "bad worker ID '%s': 1 to 64 of letters, digits, . _ - @", id);
    sk_worker w;
    memset(&w, 0, sizeof(w));
    if (strcmp(verb, "add") == 0) {
        if (!role_s)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                 "worker add needs --role field|staff|admin");
        if (strcmp(role_s, "field") == 0)
            w.role = SK_ROLE_FIELD;
        else if (strcmp(role_s, "staff") == 0)
            w.role = SK_ROLE_STAFF;
        else if (strcmp(role_s, "admin") == 0)
            w.role = SK_ROLE_ADMIN;
        else
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --role '%s' (field, staff or admin)",
                                 role_s);
        if (district_s && (rc = sk_admin_district_code(a, district_s, &w.district)))
            return rc;
        snprintf(w.id, sizeof(w.id), "%s", id);
        if ((rc = sk_admin_open(a, 1)))
            return rc;
        sk_worker old;
        rc = sk_store_worker_get(a->store, id, &old);
        if (rc == 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "worker '%s' already exists", id);
        if (rc != -SK_E_NOT_FOUND)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read workers: %s", sk_err_text(rc));
        if ((rc = sk_store_worker_put(a->store, &w)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot add worker: %s", sk_err_text(rc));
        char detail[160];
        snprintf(detail, sizeof(detail), "worker=%s role=%s district=%u", id, role_s, w.district);
        if ((rc = sk_admin_audit_now(a, "worker_add", a->operator_name, detail)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write the audit log: %s",
                                 sk_err_text(rc));
        if (a->json) {
            const sk_admin_kv kv[] = {{"id", id, 0, SK_ADMIN_KV_STR},
                                      {"role", role_s, 0, SK_ADMIN_KV_STR},
                                      {"district", NULL, w.district, SK_ADMIN_KV_UINT}};
            return sk_admin_json_result(a, kv, 3);
        } else if (a->tty)
            printf("added worker %s (%s)\n", id, role_s);
        return 0;
    }
    /* disable */
    if (role_s || district_s)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "worker disable takes only an ID");
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    rc = sk_store_worker_get(a->store, id, &w);
    if (rc == -SK_E_NOT_FOUND)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "unknown worker '%s'", id);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read worker: %s", sk_err_text(rc));
    if (!w.disabled) {
        w.disabled = 1;
        if ((rc = sk_store_worker_put(a->store, &w)) ||
            (rc = sk_admin_audit_now(a, "worker_disable", a->operator_name, detail_id(id))))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot disable worker: %s",
                                 sk_err_text(rc));
    }
    if (a->json) {
        const sk_admin_kv kv[] = {{"id", id, 0, SK_ADMIN_KV_STR},
                                  {"disabled", NULL, 1, SK_ADMIN_KV_BOOL}};
        return sk_admin_json_result(a, kv, 2);
    } else if (a->tty)
        printf("worker %s disabled\n", id);
    return 0;
}

/* ---- enrollment codes ----------------------------------------------------------------------- */

static const char k_code_help[] =
    "usage: sakhi-admin enroll-code WORKER [--ttl DURATION] [--json]\n"
    "       sakhi-admin enroll-code --replica [NAME] [...]\n"
    "       sakhi-admin enroll-code --centre NAME [...]   (on a hub)\n"
    "           [--addr HOST:PORT[,HOST:PORT...] (--tls-cert FILE[,FILE...] | --pin HEX[,HEX...])\n"
    "            [--qr-png FILE] [--qr]]\n"
    "\n"
    "Prints a one-time enrollment code for WORKER (who must exist and be active). The device\n"
    "trades it for its identity at enrollment; it works once, until it expires. DURATION is a\n"
    "number with s, m, h or d (default 24h, at most 30d). Only the code's SHA-256 is stored:\n"
    "a lost code cannot be shown again; issue a new one. A code also dies when the server has\n"
    "seen 5 wrong codes that begin with its first 3 symbols (someone guessing it): issue a new\n"
    "one then too (sakhi-server --enroll-code-tries).\n"
    "\n"
    "With --addr, also prints the enrollment URI (sakhi:enroll?v=1&addr=...&code=...&pin=...),\n"
    "which holds everything a device needs (`sakhi enroll --uri`, sakhi_enroll_uri): the\n"
    "server's addresses as devices reach them (the primary first; a standby may follow), the\n"
    "code and the pin of the centre's TLS key, taken from --tls-cert (the server's certificate)\n"
    "or given as --pin (64 hex digits, from tls-cert). A standby with a TLS key of its own gets\n"
    "its own pin: give one --tls-cert or --pin per address, in --addr's order.\n"
    "  --qr-png FILE  also write the URI as a QR code to FILE (PNG, mode 0600: it holds the code)\n"
    "  --qr           draw the QR code on the terminal (the default when output is a terminal)\n"
    "  --replica      a code for a standby server (sakhi-server --standby-of URI): NAME (default\n"
    "                 replica) is made a worker of the replica role, which sees no records but\n"
    "                 follows the whole change stream, and the replication log is switched on\n"
    "                 (docs/REPLICATION.md)\n"
    "  --centre NAME  on a hub (sakhi-server --hub): a code for the server of centre NAME\n"
    "                 (sakhi-server --to-hub URI there): NAME is made a worker of the centre\n"
    "                 role, which sees no records and may only send its own de-identified cases\n"
    "                 (docs/REPLICATION.md, \"Hub of centres\")\n";

/* "90s", "15m", "24h", "7d" -> ms. 0 or -1. */
static int parse_duration(const char *s, uint64_t *ms)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || s[0] == '-' || errno || end == s || v == 0)
        return -1;
    uint64_t unit;
    if (strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else
        return -1;
    if (v > 30ull * 86400000ull / unit)
        return -1;
    *ms = v * unit;
    return 0;
}

/* "HOST:PORT[,HOST:PORT...]" -> u->addrs. 0 or a usage exit status. */
static int parse_addrs(sk_admin *a, const char *list, sk_enroll_uri *u)
{
    const char *p = list;
    u->naddrs = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char one[SK_URI_MAX_HOST + 16];
        if (u->naddrs == SK_URI_MAX_ADDRS)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--addr: at most %d addresses",
                                 SK_URI_MAX_ADDRS);
        if (n == 0 || n >= sizeof(one))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--addr: an empty or overlong address");
        memcpy(one, p, n);
        one[n] = '\0';
        if (sk_uri_addr_parse(&u->addrs[u->naddrs], one))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                 "--addr '%s': expected HOST:PORT ([ADDRESS]:PORT for IPv6)", one);
        u->naddrs++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* --tls-cert FILE[,FILE...] or --pin HEX[,HEX...]: one for every address (the centre's key,
 * which a standby serves too), or one per address of --addr in its order (a standby with a key
 * of its own). Fills u->pin (the first) and each address's pin. 0 or an exit status. */
static int parse_pins(sk_admin *a, const char *cert_s, const char *pin_s, sk_enroll_uri *u)
{
    const char *opt = cert_s ? "--tls-cert" : "--pin", *p = cert_s ? cert_s : pin_s;
    size_t n = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char one[1024], err[256] = "";
        if (n == u->naddrs)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                 "%s: more values than --addr has addresses (%zu)", opt, u->naddrs);
        if (len == 0 || len >= sizeof(one))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "%s: an empty or overlong value", opt);
        memcpy(one, p, len);
        one[len] = '\0';
        if (cert_s && sk_tls_pin_from_cert_file(u->addrs[n].pin, one, err, sizeof(err)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "--tls-cert %s: %s", one,
                                 err[0] ? err : "cannot read the certificate");
        if (!cert_s && sk_tls_pin_parse(u->addrs[n].pin, one))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                 "--pin: expected 64 hex digits (sakhi-admin tls-cert prints it)");
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (n != 1 && n != u->naddrs)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "%s: give one for all addresses or one for each of the %zu", opt,
                             u->naddrs);
    for (size_t i = 1; i < u->naddrs && n == 1; i++)
        memcpy(u->addrs[i].pin, u->addrs[0].pin, SK_TLS_PIN_LEN);
    memcpy(u->pin, u->addrs[0].pin, SK_TLS_PIN_LEN);
    return 0;
}

int sk_admin_cmd_enroll_code(sk_admin *a, int argc, char **argv)
{
    const char *ttl_s = "24h", *pos[1], *addr_s = NULL, *cert_s = NULL, *pin_s = NULL;
    const char *png_s = NULL, *centre = NULL;
    int qr_flag = 0, replica = 0;
    size_t npos = 0;
    const sk_admin_opt opts[] = {{"ttl", 1, &ttl_s, NULL},       {"addr", 1, &addr_s, NULL},
                                 {"tls-cert", 1, &cert_s, NULL}, {"pin", 1, &pin_s, NULL},
                                 {"qr-png", 1, &png_s, NULL},    {"qr", 0, NULL, &qr_flag},
                                 {"replica", 0, NULL, &replica}, {"centre", 1, &centre, NULL},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, pos, 0, 1, &npos, k_code_help);
    if (rc)
        return rc;
    if (centre && (npos || replica))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--centre NAME names the worker: no WORKER, no --replica");
    if (!npos && !replica && !centre)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "missing argument: WORKER (or --replica, or --centre NAME)");
    if (!npos)
        pos[0] = centre ? centre : "replica";
    /* a server enrolling here in a role of its own: a standby, or a centre sending to its hub */
    uint32_t server_role = replica ? SK_ROLE_REPLICA : centre ? SK_ROLE_CENTRE : SK_ROLE_NONE;
    uint64_t ttl;
    if (parse_duration(ttl_s, &ttl))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "bad --ttl '%s' (e.g. 30m, 24h, 7d; at most 30d)", ttl_s);
    /* Everything the URI needs is checked before a code is made, so a typo spends nothing. */
    sk_enroll_uri uri;
    memset(&uri, 0, sizeof(uri));
    if (!addr_s && (cert_s || pin_s || png_s || qr_flag))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--tls-cert, --pin, --qr-png and --qr need --addr HOST:PORT");
    if (addr_s) {
        if ((rc = parse_addrs(a, addr_s, &uri)))
            return rc;
        if (!cert_s == !pin_s)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                                 "give the server key's pin: --tls-cert FILE (the server's "
                                 "certificate) or --pin HEX");
        if ((rc = parse_pins(a, cert_s, pin_s, &uri)))
            return rc;
    }
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    sk_worker w;
    rc = sk_store_worker_get(a->store, pos[0], &w);
    const char *rname = role_name(server_role);
    if (server_role && rc == -SK_E_NOT_FOUND) {
        char detail[32];
        memset(&w, 0, sizeof(w));
        snprintf(w.id, sizeof(w.id), "%s", pos[0]);
        w.role = server_role;
        snprintf(detail, sizeof(detail), "role=%s", rname);
        if ((rc = sk_store_worker_put(a->store, &w)) == 0)
            rc = sk_admin_audit_now(a, "worker_add", pos[0], detail);
        if (rc)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot add the %s: %s", rname,
                                 sk_err_text(rc));
    }
    if (server_role && rc == 0 && w.role != server_role)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "worker '%s' exists and is not a %s", pos[0],
                             rname);
    if (replica && rc == 0 && (rc = sk_store_repl_enable(a->store, 1)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot switch the replication log on: %s",
                             sk_err_text(rc));
    if (rc == -SK_E_NOT_FOUND)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "unknown worker '%s'", pos[0]);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read worker: %s", sk_err_text(rc));
    if (w.disabled)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "worker '%s' is disabled", pos[0]);
    char code[SK_ENROLL_CODE_LEN + 1];
    uint64_t now = sk_admin_now_ms();
    if ((rc = sk_store_enroll_code_new(a->store, pos[0], ttl, now, code)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot make a code: %s", sk_err_text(rc));
    char exp[32];
    sk_sample_format_time(now + ttl, exp);
    /* the --json result: the URI and the PNG's path only with --addr (and --qr-png) */
    sk_admin_kv kv[] = {{"worker", pos[0], 0, SK_ADMIN_KV_STR},
                        {"code", code, 0, SK_ADMIN_KV_STR},
                        {"expires", exp, 0, SK_ADMIN_KV_STR},
                        {"uri", NULL, 0, SK_ADMIN_KV_STR},
                        {"qr_png", png_s, 0, SK_ADMIN_KV_STR}};
    if (!addr_s) {
        if (a->json)
            return sk_admin_json_result(a, kv, 3);
        else if (a->tty)
            printf("%s\n(one-time enrollment code for %s, valid until %s)\n", code, pos[0], exp);
        else
            printf("%s\n", code);
        return 0;
    }
    sk_buf ub = SK_BUF_INIT;
    snprintf(uri.code, sizeof(uri.code), "%s", code);
    if ((rc = sk_uri_format(&ub, &uri)) || (rc = sk_buf_append(&ub, "", 1))) {
        sk_buf_free(&ub);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot make the URI: %s", sk_err_text(rc));
    }
    const char *text = (const char *)ub.data;
    char err[256] = "";
    if (png_s && sk_admin_qr_png(text, png_s, err, sizeof(err))) {
        sk_buf_free(&ub);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "the code %s was made, but %s", code, err);
    }
    int status = 0;
    if (a->json) {
        kv[3].s = text;
        status = sk_admin_json_result(a, kv, png_s ? 5 : 4);
    } else if (a->tty) {
        printf("%s\n(one-time enrollment code for %s, valid until %s)\n%s\n", code, pos[0], exp,
               text);
    } else {
        printf("%s\n%s\n", code, text);
    }
    if (qr_flag || (a->tty && !a->json)) {
        fflush(stdout);
        if (sk_admin_qr_terminal(stdout, text)) {
            sk_buf_free(&ub);
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot draw the QR code");
        }
    }
    sk_buf_free(&ub);
    return status;
}

/* ---- devices ----------------------------------------------------------------------------- */

static const char k_device_help[] =
    "usage: sakhi-admin device list [--json]\n"
    "       sakhi-admin device revoke ID\n"
    "\n"
    "list shows every enrolled device: id, worker, label, state, last seen (last sync) and the\n"
    "highest operation applied. revoke marks the device revoked: a running server notices within\n"
    "0.25 s, even when the device is idle, sends WIPE on its open session and closes it; a later\n"
    "connection gets WIPE instead of WELCOME. On WIPE the device erases its local data; changes\n"
    "it had not pushed are lost by design.\n";

static int device_row(const sk_device_info *d, void *p)
{
    sk_admin_rows *c = p;
    char seen[32], made[32];
    sk_sample_format_time(d->last_seen_ms, seen);
    sk_sample_format_time(d->created_ms, made);
    if (c->a->json) {
        sk_jw_obj_begin(&c->w);
        sk_jw_kuint(&c->w, "id", d->id);
        sk_jw_kcstr(&c->w, "worker", d->worker);
        sk_jw_kcstr(&c->w, "label", d->label);
        sk_jw_kbool(&c->w, "revoked", d->revoked);
        sk_jw_kcstr(&c->w, "last_seen", seen);
        sk_jw_kcstr(&c->w, "created", made);
        sk_jw_kuint(&c->w, "max_op", d->max_op);
        sk_jw_obj_end(&c->w);
    } else {
        if (c->n == 0 && c->a->tty)
            printf("%-6s %-20s %-20s %-8s %-25s %s\n", "DEVICE", "WORKER", "LABEL", "STATE",
                   "LAST SEEN", "MAX OP");
        /* the label comes from the device: shown as text, never as terminal codes */
        char wsafe[4 * 65 + 1], lsafe[4 * 65 + 1];
        printf("%-6" PRIu64 " %-20s %-20s %-8s %-25s %" PRIu64 "\n", d->id,
               sk_term_cstr(wsafe, sizeof(wsafe), d->worker),
               d->label[0] ? sk_term_cstr(lsafe, sizeof(lsafe), d->label) : "-",
               d->revoked ? "revoked" : "active", seen, d->max_op);
    }
    c->n++;
    return 0;
}

static int list_devices(sk_admin_rows *c)
{
    return sk_store_device_list(c->a->store, device_row, c);
}

int sk_admin_cmd_device(sk_admin *a, int argc, char **argv)
{
    const char *pos[2];
    size_t np;
    int rc = sk_admin_parse(a, argc, argv, NULL, pos, 1, 2, &np, k_device_help);
    if (rc)
        return rc;
    if (strcmp(pos[0], "list") == 0) {
        if (np != 1)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "device list takes no arguments");
        return sk_admin_print_rows(a, list_devices, "devices");
    }
    if (strcmp(pos[0], "revoke") != 0)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown device action '%s' (list, revoke)",
                             pos[0]);
    if (np != 2)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "device revoke needs a device ID");
    uint64_t id;
    if (sk_admin_parse_uint(pos[1], 1, UINT64_MAX, &id))
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad device ID '%s' (a number from 1)",
                             pos[1]);
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    sk_admin_wtxn wt;
    sk_device_info d;
    if ((rc = sk_admin_wtxn_begin(a, &wt)))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot write: %s", sk_err_text(rc));
    rc = sk_store_device_get_txn(a->store, wt.txn, id, &d);
    if (rc == -SK_E_NOT_FOUND) {
        sk_admin_wtxn_abort(a, &wt);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "unknown device %" PRIu64, id);
    }
    int was = d.revoked;
    if (rc == 0 && !was) {
        char detail[64];
        d.revoked = 1;
        snprintf(detail, sizeof(detail), "device=%" PRIu64, id);
        if ((rc = sk_store_device_put_txn(a->store, wt.txn, &d)) == 0)
            rc = sk_store_audit_txn(a->store, wt.txn, sk_admin_now_ms(), "revoke", d.worker, id,
                                    detail);
    }
    if (rc || (rc = sk_admin_wtxn_commit(a, &wt))) {
        sk_admin_wtxn_abort(a, &wt);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot revoke: %s", sk_err_text(rc));
    }
    if (a->json) {
        sk_admin_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kuint(w, "device", id);
        sk_jw_kbool(w, "revoked", 1);
        sk_jw_kbool(w, "already", was);
        return sk_admin_json_end(a, &j);
    } else if (a->tty)
        printf("device %" PRIu64 " (%s) %s\n", id, d.worker,
               was ? "was already revoked" : "revoked");
    return 0;
}

int sk_admin_cmd_revoke(sk_admin *a, int argc, char **argv)
{
    /* `revoke ID` is `device revoke ID` (the name issue 8 and the security docs use). */
    char *args[64];
    int n = 0;
    args[n++] = (char *)"device";
    args[n++] = (char *)"revoke";
    for (int i = 1; i < argc && n < 63; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    if (argc >= 62)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "too many arguments");
    return sk_admin_cmd_device(a, n, args);
}

/* ---- stats ------------------------------------------------------------------------------- */

static const char k_stats_help[] =
    "usage: sakhi-admin stats [--json]\n"
    "\n"
    "Records, last change seq, workers, devices (active, revoked) with each device's last sync,\n"
    "entries per database, the data file's size, the map size and how much of it is in use.\n"
    "\n"
    "The store's epoch: after a restore (or a copy started as a store) the changes lost (from\n"
    "the backup's last change to the highest one a device reports having seen), and for each\n"
    "active device whether it has given back what it had since (and how many changes), synced\n"
    "with nothing to give back, or not reported yet.\n";

typedef struct st_ctx {
    uint64_t workers, devices, revoked;
} st_ctx;

/* ---- the epoch part of stats: what a restore lost and who gave it back ------------------- */

/* What the devices reported in the current epoch (sk_store_resyncs). */
typedef struct rs_ctx {
    sk_store_resync *r;
    size_t n;
} rs_ctx;

typedef struct ep_ctx {
    sk_admin *a;
    sk_jw *w;
    const sk_store_epoch *e;
    const rs_ctx *rs;
    uint64_t reported, missing;
} ep_ctx;

static int epoch_device_row(const sk_device_info *d, void *p)
{
    ep_ctx *c = p;
    const sk_store_resync *r = NULL;
    const char *state;
    if (d->revoked)
        return 0;
    for (size_t i = 0; i < c->rs->n; i++)
        if (c->rs->r[i].device == d->id)
            r = &c->rs->r[i];
    if (r)
        state = "gave_back";
    else if (d->last_seen_ms >= c->e->since_ms)
        state = "synced";
    else
        state = "not_reported";
    if (r || d->last_seen_ms >= c->e->since_ms)
        c->reported++;
    else
        c->missing++;
    if (c->a->json) {
        sk_jw_obj_begin(c->w);
        sk_jw_kuint(c->w, "device", d->id);
        sk_jw_kcstr(c->w, "worker", d->worker);
        sk_jw_kcstr(c->w, "state", state);
        sk_jw_kuint(c->w, "given_back", r ? r->given : 0);
        sk_jw_kuint(c->w, "seen_seq", r ? r->seen : 0);
        sk_jw_obj_end(c->w);
    } else if (r) {
        char t[32];
        sk_sample_format_time(r->last_ms, t);
        printf("  device %-6" PRIu64 " %-20s gave back %" PRIu64 " changes (had seen up to %" PRIu64
               ", last %s)\n",
               d->id, d->worker, r->given, r->seen, t);
    } else {
        printf("  device %-6" PRIu64 " %-20s %s\n", d->id, d->worker,
               d->last_seen_ms >= c->e->since_ms ? "synced since, nothing to give back"
                                                 : "NOT REPORTED YET");
    }
    return 0;
}

/* After a restore or a copy (the epoch has a predecessor): the changes lost, and per active
 * device what it has done since. In JSON, an "epoch" member of the stats object. */
static int stats_epoch(sk_admin *a, sk_jw *w)
{
    sk_store_epoch e;
    rs_ctx rs;
    int rc = sk_store_epoch_get(a->store, &e);
    if (rc)
        return rc;
    if ((rc = sk_store_resyncs(a->store, &rs.r, &rs.n)))
        return rc;
    uint64_t lost_to = e.since_seq;
    for (size_t i = 0; i < rs.n; i++)
        if (rs.r[i].seen > lost_to)
            lost_to = rs.r[i].seen;
    char since[32], id[33];
    sk_sample_format_time(e.since_ms, since);
    for (int i = 0; i < 16; i++)
        snprintf(id + 2 * i, 3, "%02x", e.id[i]);
    ep_ctx c = {a, w, &e, &rs, 0, 0};
    if (a->json) {
        sk_jw_key(w, "epoch");
        sk_jw_obj_begin(w);
        char hex[17];
        sk_jw_kcstr(w, "store_id", id);
        snprintf(hex, sizeof(hex), "%016" PRIx64, e.epoch);
        sk_jw_kcstr(w, "epoch", hex);
        snprintf(hex, sizeof(hex), "%016" PRIx64, e.prev);
        sk_jw_kcstr(w, "prev_epoch", e.prev ? hex : "");
        sk_jw_kuint(w, "since_seq", e.since_seq);
        sk_jw_kcstr(w, "since", since);
        if (e.prev) {
            sk_jw_kuint(w, "lost_from_seq", e.since_seq + 1);
            sk_jw_kuint(w, "lost_to_seq", lost_to);
            sk_jw_key(w, "devices");
            sk_jw_arr_begin(w);
            rc = sk_store_device_list(a->store, epoch_device_row, &c);
            sk_jw_arr_end(w);
        }
        sk_jw_obj_end(w);
    } else {
        printf("store          %s, epoch %016" PRIx64 "\n", id, e.epoch);
        if (e.prev) {
            printf("restored       %s: epoch %016" PRIx64 " replaced %016" PRIx64
                   ", history kept up to change %" PRIu64 "\n",
                   since, e.epoch, e.prev, e.since_seq);
            if (lost_to > e.since_seq)
                printf("lost           changes %" PRIu64 " to %" PRIu64
                       " at least (the highest a device reports having seen)\n",
                       e.since_seq + 1, lost_to);
            else
                printf("lost           changes after %" PRIu64
                       " (how many: no device has reported yet)\n",
                       e.since_seq);
            printf("devices since the restore:\n");
            rc = sk_store_device_list(a->store, epoch_device_row, &c);
            printf("  %" PRIu64 " reported, %" PRIu64 " not yet. Staff edits made after the backup "
                   "cannot come back from devices.\n",
                   c.reported, c.missing);
        }
    }
    free(rs.r);
    return rc;
}

static int count_worker(const sk_worker *w, void *p)
{
    (void)w;
    ((st_ctx *)p)->workers++;
    return 0;
}

static int count_device(const sk_device_info *d, void *p)
{
    st_ctx *c = p;
    c->devices++;
    if (d->revoked)
        c->revoked++;
    return 0;
}

int sk_admin_cmd_stats(sk_admin *a, int argc, char **argv)
{
    static const char *const k_dbs[] = {"records", "changes", "history", "devices", "ops",
                                        "workers", "enroll",  "audit",   "meta"};
    int rc = sk_admin_parse(a, argc, argv, NULL, NULL, 0, 0, NULL, k_stats_help);
    if (rc)
        return rc;
    if ((rc = sk_admin_open(a, 1)))
        return rc;
    uint64_t records = 0, last_seq = 0;
    st_ctx c = {0, 0, 0};
    MDB_env *env = sk_store_env(a->store);
    MDB_envinfo info;
    MDB_stat est;
    MDB_txn *txn = NULL;
    uint64_t entries[sizeof(k_dbs) / sizeof(k_dbs[0])];
    if ((rc = sk_store_stats(a->store, &records, &last_seq)) ||
        (rc = sk_store_worker_list(a->store, count_worker, &c)) ||
        (rc = sk_store_device_list(a->store, count_device, &c)) ||
        (rc = sk_store_mdb_err(mdb_env_info(env, &info))) ||
        (rc = sk_store_mdb_err(mdb_env_stat(env, &est))) ||
        (rc = sk_store_mdb_err(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the store: %s", sk_err_text(rc));
    for (size_t i = 0; i < sizeof(k_dbs) / sizeof(k_dbs[0]); i++) {
        MDB_dbi dbi;
        MDB_stat s;
        entries[i] = 0;
        if (mdb_dbi_open(txn, k_dbs[i], 0, &dbi) == 0 && mdb_stat(txn, dbi, &s) == 0)
            entries[i] = s.ms_entries;
    }
    mdb_txn_abort(txn);
    char path[4096];
    struct stat fst;
    uint64_t file_size = 0;
    snprintf(path, sizeof(path), "%s/data.mdb", a->data);
    if (stat(path, &fst) == 0)
        file_size = (uint64_t)fst.st_size;
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * est.ms_psize;
    double pct = info.me_mapsize ? 100.0 * (double)used / (double)info.me_mapsize : 0.0;

    sk_buf b = SK_BUF_INIT;
    sk_jw w;
    sk_jw_init(&w, &b, 0);
    if (a->json) {
        sk_jw_obj_begin(&w);
        sk_jw_kuint(&w, "records", records);
        sk_jw_kuint(&w, "last_seq", last_seq);
        sk_jw_kuint(&w, "workers", c.workers);
        sk_jw_kuint(&w, "devices", c.devices);
        sk_jw_kuint(&w, "devices_revoked", c.revoked);
        sk_jw_kuint(&w, "file_bytes", file_size);
        sk_jw_kuint(&w, "map_bytes", info.me_mapsize);
        sk_jw_kuint(&w, "used_bytes", used);
        sk_jw_key(&w, "map_used_percent");
        sk_jw_double(&w, pct);
        sk_jw_kuint(&w, "page_size", est.ms_psize);
        sk_jw_kuint(&w, "readers", info.me_numreaders);
        sk_jw_key(&w, "databases");
        sk_jw_obj_begin(&w);
        for (size_t i = 0; i < sizeof(k_dbs) / sizeof(k_dbs[0]); i++) {
            sk_jw_key(&w, k_dbs[i]);
            sk_jw_uint(&w, entries[i]);
        }
        sk_jw_obj_end(&w);
        if ((rc = stats_epoch(a, &w)) || (rc = sk_admin_stats_repl(a, &w))) {
            sk_buf_free(&b);
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the epoch: %s",
                                 sk_err_text(rc));
        }
        sk_jw_key(&w, "last_sync");
        sk_jw_arr_begin(&w);
    } else {
        printf("records        %" PRIu64 "\n", records);
        printf("last seq       %" PRIu64 "\n", last_seq);
        printf("workers        %" PRIu64 "\n", c.workers);
        printf("devices        %" PRIu64 " (%" PRIu64 " revoked)\n", c.devices, c.revoked);
        printf("data file      %" PRIu64 " bytes\n", file_size);
        printf("map            %" PRIu64 " of %" PRIu64 " bytes in use (%.1f%%)\n", used,
               (uint64_t)info.me_mapsize, pct);
        printf("readers        %u\n", info.me_numreaders);
        printf("databases     ");
        for (size_t i = 0; i < sizeof(k_dbs) / sizeof(k_dbs[0]); i++)
            printf(" %s=%" PRIu64, k_dbs[i], entries[i]);
        printf("\n");
        if ((rc = stats_epoch(a, &w)) || (rc = sk_admin_stats_repl(a, &w)))
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read the epoch: %s",
                                 sk_err_text(rc));
        printf("last sync per device:\n");
    }
    sk_admin_rows dc;
    memset(&dc, 0, sizeof(dc));
    dc.a = a;
    dc.w = w;
    if (!a->json)
        dc.n = 1; /* no second header */
    rc = sk_store_device_list(a->store, device_row, &dc);
    if (a->json) {
        sk_jw_arr_end(&dc.w);
        sk_jw_obj_end(&dc.w);
        print_json(&b);
    }
    sk_buf_free(&b);
    if (rc)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot list devices: %s", sk_err_text(rc));
    return 0;
}

/* ---- tls-cert ---------------------------------------------------------------------------- */

static const char k_tls_help[] =
    "usage: sakhi-admin tls-cert --cn NAME --out DIR [--days N] [--json]\n"
    "\n"
    "Makes the centre's TLS key and self-signed certificate: DIR/server.key (mode 0600) and\n"
    "DIR/server.crt, for sakhi-server --tls-cert/--tls-key, and prints the pin (SHA-256 of the\n"
    "public key) that devices are given at enrollment. Refuses to overwrite existing files:\n"
    "devices pin the key, so replacing it locks every enrolled device out. Default 3650 days\n"
    "(devices do not check the dates; the pin is what counts).\n";

int sk_admin_cmd_tls_cert(sk_admin *a, int argc, char **argv)
{
    const char *cn = NULL, *out = NULL, *days_s = "3650";
    const sk_admin_opt opts[] = {{"cn", 1, &cn, NULL},
                                 {"out", 1, &out, NULL},
                                 {"days", 1, &days_s, NULL},
                                 {NULL, 0, NULL, NULL}};
    int rc = sk_admin_parse(a, argc, argv, opts, NULL, 0, 0, NULL, k_tls_help);
    if (rc)
        return rc;
    if (!cn || !cn[0] || !out || !out[0])
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "tls-cert needs --cn NAME and --out DIR");
    char *end;
    long days = strtol(days_s, &end, 10);
    if (!days_s[0] || *end || days < 1 || days > 36500)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "bad --days '%s' (1 to 36500)", days_s);
    if (mkdir(out, 0700) != 0 && errno != EEXIST)
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot create %s: %s", out, strerror(errno));
    char cert[4096], key[4096], err[256] = "";
    snprintf(cert, sizeof(cert), "%s/server.crt", out);
    snprintf(key, sizeof(key), "%s/server.key", out);
    if ((rc = sk_tls_make_self_signed(cert, key, cn, (int)days, err, sizeof(err))))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err[0] ? err : sk_err_text(rc));
    uint8_t pin[SK_TLS_PIN_LEN];
    char hex[SK_TLS_PIN_HEX_LEN + 1];
    if ((rc = sk_tls_pin_from_cert_file(pin, cert, err, sizeof(err))))
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s", err[0] ? err : sk_err_text(rc));
    sk_tls_pin_format(hex, pin);
    if (a->json) {
        const sk_admin_kv kv[] = {{"cert", cert, 0, SK_ADMIN_KV_STR},
                                  {"key", key, 0, SK_ADMIN_KV_STR},
                                  {"pin", hex, 0, SK_ADMIN_KV_STR}};
        return sk_admin_json_result(a, kv, 3);
    } else if (a->tty)
        printf("certificate %s\nkey         %s\npin         %s\n", cert, key, hex);
    else
        printf("%s\n", hex);
    return 0;
}
