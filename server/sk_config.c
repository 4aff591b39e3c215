/*
 * sk_config.c - defaults, flag and file parsing, and sanity checks for sakhi-server.
 *
 * Owns nothing beyond the sk_config it fills. One table (k_opts) describes every setting once:
 * its flag, file key, kind, limits and help text, so --help, the file reader and the flag parser
 * cannot drift apart. Never starts anything: main.c decides what to do with the result.
 */
#include "sk_config.h"

#include "sk_addr.h"
#include "sk_frame.h"
#include "sk_log.h"
#include "sk_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum opt_kind { K_STR, K_UINT, K_SECONDS, K_BOOL, K_LEVEL };

typedef struct opt {
    const char *name; /* flag without dashes = file key */
    enum opt_kind kind;
    size_t off;
    size_t size;     /* for K_STR: buffer size; for K_UINT: sizeof the integer */
    uint64_t lo, hi; /* K_UINT bounds */
    const char *arg;
    const char *help;
} opt;

#define O(f) offsetof(sk_config, f), sizeof(((sk_config *)0)->f)
static const opt k_opts[] = {
    {"listen", K_STR, O(listen), 0, 0, "ADDR",
     "address to listen on (default 127.0.0.1; IPv4 or IPv6 literal)"},
    {"port", K_UINT, O(port), 0, 65535, "N", "TCP port (default 7400; 0 picks a free port)"},
    {"data", K_STR, O(data_dir), 0, 0, "DIR",
     "data directory holding the LMDB store (default ./sakhi-data; created if missing)"},
    {"keys", K_STR, O(keys_dir), 0, 0, "DIR",
     "keys directory holding the master key, outside the data directory (default: the data "
     "directory's path + .keys; mode 0700)"},
    {"group", K_STR, O(group), 0, 0, "NAME",
     "make the log and data files 0640 and the data directory 0750 for this group (name or "
     "number; the server's user must belong to it); default: 0600, only the server's user"},
    {"map-size", K_UINT, O(map_size_mb), 1, 1u << 24, "MB",
     "LMDB map size in MiB: the most the store may hold (default 1024); grow it by restarting "
     "with a larger value"},
    {"store-reserve", K_UINT, O(store_reserve_mb), 0, 1u << 24, "MB",
     "the last MiB of the map kept for pushes and staff work: audit entries of pulls and "
     "last-seen times are not written into it (default 0 = a sixteenth of --map-size)"},
    {"max-conn", K_UINT, O(max_conn), 1, 1000000, "N",
     "most connections at once; more are answered ERROR BUSY and closed (default 1024)"},
    {"max-unauth", K_UINT, O(max_unauth), 1, 1000000, "N",
     "most connections not yet authenticated; the rest of --max-conn is kept for devices "
     "that are (default 512)"},
    {"max-unauth-per-addr", K_UINT, O(max_unauth_per_addr), 1, 1000000, "N",
     "most connections not yet authenticated from one address, IPv6 /64 (default 256)"},
    {"frame-budget", K_UINT, O(frame_budget), 65536, 1ull << 40, "BYTES",
     "memory for frames being received, all sessions together; over it the most stalled "
     "senders are cut (default 67108864)"},
    {"max-frame", K_UINT, O(max_frame), SK_FRAME_MIN_MAX, 16u << 20, "BYTES",
     "largest frame after the handshake (default 1048576)"},
    {"max-batch", K_UINT, O(max_batch), 1, SK_MAX_BATCH, "N",
     "most changes in one PUSH (default 256)"},
    {"max-inflight", K_UINT, O(max_inflight), 1, 1024, "N",
     "most requests outstanding on one session (default 8)"},
    {"idle-timeout", K_SECONDS, O(idle_timeout_ms), 0, 0, "S",
     "close a session silent this long, in seconds, fractions allowed (default 300)"},
    {"handshake-timeout", K_SECONDS, O(handshake_timeout_ms), 0, 0, "S",
     "close a session not authenticated this long after connecting (default 10)"},
    {"shutdown-timeout", K_SECONDS, O(shutdown_timeout_ms), 0, 0, "S",
     "on SIGTERM, longest wait for in-flight work before closing sessions (default 10)"},
    {"out-budget", K_UINT, O(out_budget), 4096, 1u << 30, "BYTES",
     "unsent bytes per session before the server stops reading it (default 1048576)"},
    {"log-level", K_LEVEL, O(log_level), 0, 0, "LEVEL",
     "debug, info, warn or error (default info)"},
    {"log-file", K_STR, O(log_file), 0, 0, "FILE",
     "append the log here (default stderr); SIGHUP reopens it"},
    {"log-max-size", K_UINT, O(log_max_bytes), 0, 1ull << 40, "BYTES",
     "rotate the log file once it holds this many bytes: FILE becomes FILE.1 and so on (default "
     "67108864; 0 = never, for an outside rotation tool with SIGHUP)"},
    {"log-keep", K_UINT, O(log_keep), 0, 1000, "N",
     "rotated log files kept, FILE.1 to FILE.N; older ones are deleted (default 5)"},
    {"log-summary-interval", K_SECONDS, O(log_summary_ms), 0, 0, "S",
     "what unauthenticated peers did (failed AUTH and ENROLL, timeouts, bad input) is counted "
     "and logged as one line this often, in seconds (default 60)"},
    {"port-file", K_STR, O(port_file), 0, 0, "FILE",
     "write the bound port number here once listening (for scripts and tests)"},
    {"plaintext", K_BOOL, O(plaintext), 0, 0, NULL,
     "serve without TLS; allowed only on a loopback address (tests)"},
    {"tls-cert", K_STR, O(tls_cert), 0, 0, "FILE", "TLS certificate (PEM)"},
    {"tls-key", K_STR, O(tls_key), 0, 0, "FILE", "TLS private key (PEM)"},
    {"auth-fail-limit", K_UINT, O(auth_fail_limit), 0, 1000000, "N",
     "obsolete, accepted and ignored: a failed AUTH never locks a device"},
    {"auth-fail-limit-addr", K_UINT, O(auth_fail_limit_addr), 0, 1000000, "N",
     "failed AUTH/ENROLL attempts from one address before it backs off (default 10; 0 = no "
     "limit); a signature that verifies is never refused"},
    {"auth-backoff-max", K_SECONDS, O(auth_backoff_max_ms), 0, 0, "S",
     "longest back-off of an address, in seconds; it doubles from 1 s with each failure past "
     "the limit (default 600)"},
    {"auth-fail-window", K_SECONDS, O(auth_fail_window_ms), 0, 0, "S",
     "an address quiet this long after its back-off is forgotten, in seconds (default 86400)"},
    {"enroll-code-tries", K_UINT, O(enroll_code_tries), 0, 1000, "N",
     "wrong codes tried against one code id before that code dies (default 5; 0 = never)"},
    {"audit-retention-days", K_UINT, O(audit_retention_days), 0, 36500, "DAYS",
     "audit entries older than this are pruned, the chain kept verifiable (default 400; 0 = "
     "keep forever)"},
    {"desk", K_BOOL, O(desk), 0, 0, NULL,
     "serve the centre desk (staff pages over HTTPS; needs --tls-cert and --tls-key)"},
    {"desk-port", K_UINT, O(desk_port), 0, 65535, "N",
     "the desk's TCP port (default 7443; 0 picks a free port)"},
    {"desk-port-file", K_STR, O(desk_port_file), 0, 0, "FILE",
     "write the desk's bound port number here once listening"},
    {"desk-idle-timeout", K_SECONDS, O(desk_idle_ms), 0, 0, "S",
     "end a desk session unused this long, in seconds (default 1800)"},
    {"desk-session-max", K_SECONDS, O(desk_session_ms), 0, 0, "S",
     "end a desk session this long after its login, in seconds (default 43200)"},
    {"desk-login-limit", K_UINT, O(desk_login_limit), 0, 1000000, "N",
     "failed desk logins of one name from one address before each further failure backs off "
     "(1 min doubling to 10 min; default 5)"},
    {"desk-login-limit-addr", K_UINT, O(desk_login_limit_addr), 0, 1000000, "N",
     "failed desk logins from one address before it backs off (default 30)"},
    {"desk-max-conn", K_UINT, O(desk_max_conn), 1, 100000, "N",
     "most desk connections at once (default 256)"},
    {"standby-of", K_STR, O(standby_of), 0, 0, "PRIMARY",
     "run as a standby of the primary at HOST:PORT; on the first start give the enrollment "
     "URI of sakhi-admin enroll-code --replica (docs/REPLICATION.md)"},
    {"standby-plaintext", K_BOOL, O(standby_plaintext), 0, 0, NULL,
     "reach the primary without TLS (a primary on loopback only; for tests)"},
    {"repl-sync", K_STR, O(repl_sync), 0, 0, "MODE",
     "off (default): acknowledge pushes at once; refuse: only once a standby has them, else "
     "ERROR NOT_REPLICATED after --repl-sync-timeout; degrade: then acknowledge anyway and log "
     "repl_sync_degraded until the standby catches up"},
    {"repl-sync-timeout", K_SECONDS, O(repl_sync_timeout_ms), 0, 0, "S",
     "how long a push waits for the standby in synchronous mode (default 5)"},
    {"repl-keep", K_UINT, O(repl_keep), 1000, 1ull << 40, "N",
     "log entries kept for a standby that is behind; one further behind seeds again (default "
     "1000000)"},
    {"hub", K_BOOL, O(hub), 0, 0, NULL,
     "run as a hub of centres: centres enrolled with sakhi-admin enroll-code --centre send "
     "their de-identified cases here (docs/REPLICATION.md)"},
    {"to-hub", K_STR, O(to_hub), 0, 0, "HUB",
     "send this centre's de-identified cases to the hub at HOST:PORT; on the first start give "
     "the enrollment URI of sakhi-admin enroll-code --centre on the hub"},
    {"to-hub-plaintext", K_BOOL, O(to_hub_plaintext), 0, 0, NULL,
     "reach the hub without TLS (a hub on loopback only; for tests)"},
    {"hub-interval", K_SECONDS, O(hub_interval_ms), 0, 0, "S",
     "how often a centre looks for changes to send its hub (default 2)"},
};
#undef O
#define NOPTS (sizeof(k_opts) / sizeof(k_opts[0]))

void sk_config_defaults(sk_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen, sizeof(c->listen), "%s", "127.0.0.1");
    c->port = 7400;
    snprintf(c->data_dir, sizeof(c->data_dir), "%s", "./sakhi-data");
    c->map_size_mb = 1024;
    c->max_conn = 1024;
    c->max_unauth = 512;
    c->max_unauth_per_addr = 256;
    c->frame_budget = 64u * 1024u * 1024u;
    c->max_frame = SK_FRAME_DEFAULT_MAX;
    c->max_batch = SK_MAX_BATCH;
    c->max_inflight = 8;
    c->idle_timeout_ms = 300000;
    c->handshake_timeout_ms = 10000;
    c->shutdown_timeout_ms = 10000;
    c->out_budget = 1024 * 1024;
    c->log_level = SK_LOG_INFO;
    c->auth_fail_limit = 5;
    c->auth_fail_limit_addr = 10;
    c->auth_backoff_max_ms = 600000;
    c->auth_fail_window_ms = 86400000;
    c->enroll_code_tries = 5;
    c->log_summary_ms = 60000;
    c->log_max_bytes = 64u * 1024u * 1024u;
    c->log_keep = 5;
    c->audit_retention_days = 400;
    c->desk_port = 7443;
    c->desk_idle_ms = 1800000;
    c->desk_session_ms = 43200000;
    c->desk_login_limit = 5;
    c->desk_login_limit_addr = 30;
    c->desk_max_conn = 256;
    snprintf(c->repl_sync, sizeof(c->repl_sync), "off");
    c->repl_sync_timeout_ms = 5000;
    c->repl_keep = 1000000;
    c->hub_interval_ms = 2000;
    c->gid = -1;
}

static int resolve_group(sk_config *c, char *err, size_t errcap);
static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(err, cap, fmt, ap);
#pragma GCC diagnostic pop
    va_end(ap);
    return -1;
}

static const opt *find_opt(const char *name, size_t n)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(k_opts[i].name) == n && strncmp(k_opts[i].name, name, n) == 0)
            return &k_opts[i];
    return NULL;
}

static int set_opt(sk_config *c, const opt *o, const char *val, char *err, size_t cap)
{
    char *base = (char *)c + o->off;
    switch (o->kind) {
    case K_STR: {
        size_t n = strlen(val);
        if (n >= o->size)
            return fail(err, cap, "%s: value too long", o->name);
        memcpy(base, val, n + 1);
        return 0;
    }
    case K_BOOL:
        if (!strcasecmp(val, "true") || !strcmp(val, "1") || !strcasecmp(val, "yes"))
            *(int *)base = 1;
        else if (!strcasecmp(val, "false") || !strcmp(val, "0") || !strcasecmp(val, "no"))
            *(int *)base = 0;
        else
            return fail(err, cap, "%s: expected true or false, got '%s'", o->name, val);
        return 0;
    case K_LEVEL: {
        int l = sk_log_level_parse(val);
        if (l < 0)
            return fail(err, cap, "%s: expected debug, info, warn or error, got '%s'", o->name,
                        val);
        *(int *)base = l;
        return 0;
    }
    case K_SECONDS: {
        char *end;
        errno = 0;
        double d = strtod(val, &end);
        if (errno || end == val || *end || !(d >= 0) || d > 86400.0 * 365)
            return fail(err, cap, "%s: expected seconds (e.g. 30 or 0.5), got '%s'", o->name, val);
        *(uint64_t *)base = (uint64_t)llround(d * 1000.0);
        return 0;
    }
    case K_UINT: {
        char *end;
        errno = 0;
        if (!*val || *val == '-')
            return fail(err, cap, "%s: expected a number, got '%s'", o->name, val);
        unsigned long long v = strtoull(val, &end, 10);
        if (errno || end == val || *end)
            return fail(err, cap, "%s: expected a number, got '%s'", o->name, val);
        if (v < o->lo || v > o->hi)
            return fail(err, cap, "%s: %llu out of range %llu..%llu", o->name, v,
                        (unsigned long long)o->lo, (unsigned long long)o->hi);
        if (o->size == sizeof(uint64_t))
            *(uint64_t *)base = v;
        else
            *(uint32_t *)base = (uint32_t)v;
        return 0;
    }
    }
    return fail(err, cap, "%s: internal error", o->name);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int sk_config_load_file(sk_config *c, const char *path, char *err, size_t errcap)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return fail(err, errcap, "cannot read config file %s: %s", path, strerror(errno));
    char line[2048];
    unsigned lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), fp)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = fail(err, errcap, "%s:%u: expected key = value", path, lineno);
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        const opt *o = find_opt(key, strlen(key));
        if (!o) {
            rc = fail(err, errcap, "%s:%u: unknown setting '%s'", path, lineno, key);
            break;
        }
        char sub[512];
        if (set_opt(c, o, val, sub, sizeof(sub))) {
            rc = fail(err, errcap, "%s:%u: %s", path, lineno, sub);
            break;
        }
    }
    fclose(fp);
    return rc;
}

int sk_config_parse(sk_config *c, int argc, char **argv, char *err, size_t errcap)
{
    /* The config file first, so flags override it. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") || !strncmp(argv[i], "--config=", 9)) {
            const char *path =
                argv[i][8] == '=' ? argv[i] + 9 : (i + 1 < argc ? argv[i + 1] : NULL);
            if (!path)
                return fail(err, errcap, "--config needs a value");
            if (sk_config_load_file(c, path, err, errcap))
                return -1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            sk_config_usage(stdout);
            return 1;
        }
        if (!strcmp(a, "--version")) {
            printf("sakhi-server protocol %d\n", SK_PROTO_VERSION);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0)
            return fail(err, errcap, "unexpected argument '%s' (see --help)", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        if (nlen == 6 && !strncmp(name, "config", 6)) {
            if (!eq)
                i++;
            continue;
        }
        const opt *o = find_opt(name, nlen);
        if (!o)
            return fail(err, errcap, "unknown flag '%s' (see --help)", a);
        const char *val;
        if (o->kind == K_BOOL && !eq) {
            val = "true";
        } else if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc)
                return fail(err, errcap, "--%s needs a value", o->name);
            val = argv[++i];
        }
        char sub[512];
        if (set_opt(c, o, val, sub, sizeof(sub)))
            return fail(err, errcap, "--%s", sub);
    }
    if (sk_config_check(c, err, errcap))
        return -1;
    return resolve_group(c, err, errcap);
}

/* --group NAME or number -> c->gid. */
static int resolve_group(sk_config *c, char *err, size_t errcap)
{
    c->gid = -1;
    if (!c->group[0])
        return 0;
    struct group *g = getgrnam(c->group);
    if (g) {
        c->gid = (long)g->gr_gid;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long n = strtoul(c->group, &end, 10);
    if (c->group[0] >= '0' && c->group[0] <= '9' && !*end && !errno && n < 0x7fffffffUL) {
        c->gid = (long)n;
        return 0;
    }
    return fail(err, errcap, "--group: no group named '%s'", c->group);
}

int sk_config_is_loopback(const char *addr)
{
    return sk_addr_is_loopback(addr, 0);
}

int sk_config_check(const sk_config *c, char *err, size_t errcap)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, c->listen, &a4) != 1 && inet_pton(AF_INET6, c->listen, &a6) != 1)
        return fail(err, errcap, "--listen: '%s' is not an IPv4 or IPv6 address", c->listen);
    if (!c->data_dir[0])
        return fail(err, errcap, "--data: must not be empty");
    if (!c->plaintext) {
        if (!c->tls_cert[0] || !c->tls_key[0])
            return fail(err, errcap,
                        "no TLS certificate and key given (--tls-cert, --tls-key); refusing to "
                        "serve in plaintext without --plaintext");
    } else if (c->tls_cert[0] || c->tls_key[0]) {
        return fail(err, errcap,
                    "--plaintext and --tls-cert/--tls-key together: choose one transport");
    } else if (!sk_config_is_loopback(c->listen))
        return fail(err, errcap, "--plaintext is only allowed on a loopback address, not '%s'",
                    c->listen);
    if (c->handshake_timeout_ms == 0)
        return fail(err, errcap, "--handshake-timeout: must be above 0");
    if (c->store_reserve_mb >= c->map_size_mb)
        return fail(err, errcap, "--store-reserve: must be below --map-size");
    if (c->log_max_bytes && c->log_max_bytes < 4096)
        return fail(err, errcap, "--log-max-size: 0 or at least 4096");
    if (c->log_summary_ms < 100)
        return fail(err, errcap, "--log-summary-interval: must be at least 0.1");
    if (c->desk && c->plaintext)
        return fail(err, errcap,
                    "--desk needs --tls-cert and --tls-key: the desk is served over HTTPS only");
    if (c->desk && c->desk_port != 0 && c->desk_port == c->port)
        return fail(err, errcap, "--desk-port: %u is the sync port; choose another", c->desk_port);
    if (c->desk && (c->desk_idle_ms == 0 || c->desk_session_ms == 0))
        return fail(err, errcap, "--desk-idle-timeout and --desk-session-max must be above 0");
    if (strcmp(c->repl_sync, "off") != 0 && strcmp(c->repl_sync, "refuse") != 0 &&
        strcmp(c->repl_sync, "degrade") != 0)
        return fail(err, errcap, "--repl-sync: 'off', 'refuse' or 'degrade', not '%s'",
                    c->repl_sync);
    if (strcmp(c->repl_sync, "off") != 0 && c->repl_sync_timeout_ms == 0)
        return fail(err, errcap, "--repl-sync-timeout: must be above 0");
    if (c->standby_plaintext && !c->standby_of[0])
        return fail(err, errcap, "--standby-plaintext needs --standby-of");
    if (c->desk && c->standby_of[0])
        return fail(err, errcap, "--desk and --standby-of together: a standby serves no one");
    if (c->hub && (c->to_hub[0] || c->standby_of[0]))
        return fail(err, errcap, "--hub: a hub neither sends to a hub nor follows a primary");
    if (c->to_hub[0] && c->standby_of[0])
        return fail(err, errcap,
                    "--to-hub and --standby-of together: the primary sends the centre's cases");
    if (c->to_hub_plaintext && !c->to_hub[0])
        return fail(err, errcap, "--to-hub-plaintext needs --to-hub");
    if (c->to_hub[0] && c->hub_interval_ms == 0)
        return fail(err, errcap, "--hub-interval: must be above 0");
    return 0;
}

void sk_config_usage(FILE *fp)
{
    fprintf(fp, "usage: sakhi-server [--config FILE] [flags]\n\n"
                "Sakhi Sync server: receives referrals from field devices and serves their "
                "changes back.\n"
                "Every flag can also be set in the config file as `name = value`.\n\n"
                "  --config FILE            read settings from FILE first (flags override it)\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", k_opts[i].name, k_opts[i].arg ? " " : "",
                 k_opts[i].arg ? k_opts[i].arg : "");
        fprintf(fp, "  %-24s %s\n", left, k_opts[i].help);
    }
    fprintf(fp, "  --help                   show this text\n"
                "  --version                show the protocol version\n\n"
                "Signals: SIGTERM/SIGINT drain in-flight commits and exit 0; SIGHUP reopens the "
                "log file.\n");
}
