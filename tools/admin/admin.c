/*
 * admin.c - sakhi-admin's command line: global options, the command table, a small option
 * parser shared by every command, and the helpers to open the store and name the actor.
 *
 * sakhi-admin is the centre administrator's tool. It opens the server's data directory
 * directly (LMDB lets it run beside a live server) and goes through the server's own store and
 * apply code, so an action taken here follows exactly the rules a pushed change follows. It
 * owns only the process's command-line state. It must never print a referral's content except
 * where the command is asked to show or export it (show, export), and then only after redaction
 * for minors unless an administrator is named.
 */
#include "admin.h"

#include "sk_err.h"

#include <ctype.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *g_cmd = NULL; /* current command, for messages */

static const char k_usage[] =
    "usage: sakhi-admin [--data DIR] [--keys DIR] [--json] COMMAND [ARGS...]\n"
    "\n"
    "Centre administration on a Sakhi Sync server's data directory (also while the server\n"
    "runs). --data DIR selects the directory (default ./sakhi-data); --keys DIR the directory\n"
    "of keys kept apart from it, the master key among them (default: the data directory's\n"
    "path + .keys); --json gives machine-readable output where a script would read it.\n"
    "Every action is recorded as the Unix account that runs sakhi-admin.\n"
    "\n"
    "Setup and people:\n"
    "  init                              create the data directory and store\n"
    "  worker add ID --role field|staff|admin [--district leh|kargil]\n"
    "  worker list | worker disable ID\n"
    "  enroll-code WORKER [--ttl 24h]    one-time device enrollment code\n"
    "  device list | device revoke ID  (also: revoke ID)\n"
    "  tls-cert --cn NAME --out DIR      self-signed certificate for the centre\n"
    "  staff add NAME --role admin|counsellor|caseworker   desk account, one-time setup link\n"
    "  staff link NAME | staff list | staff disable NAME\n"
    "Cases:\n"
    "  list [--status S]                 records (no personal fields)\n"
    "  cases [--status S --urgent --assigned-to W --review --overdue --district D\n"
    "         --since DATE --utc]        the case list with filters (no personal fields)\n"
    "  tasks [--for W] [--window DAYS]   open tasks, most urgent first, then by due time\n"
    "  alerts --for STAFF [--since DATE] what others changed on the cases STAFF owns\n"
    "  show ID [--identifying]\n"
    "  accept ID                         received -> accepted (gives the case number)\n"
    "  decline ID --reason CODE          new|received -> declined (the sender learns why)\n"
    "  start ID                          accepted -> in_service\n"
    "  assign ID [--owner STAFF] [--field-worker W|--no-field-worker]\n"
    "  service ID --service NAME --status STATUS\n"
    "  shelter ID [--start DATE] | shelter ID --extend DAYS\n"
    "  refer ID --to DEST [--detail TEXT] [--reason TEXT] [--override REASON]\n"
    "  close ID --reason TEXT            (a request when closure approval is on)\n"
    "  reopen ID --reason TEXT           closed|referred -> in_service\n"
    "  task add ID --for W --due DATE TEXT | task done|cancel|open ID TASK [--note T]\n"
    "  config [NAME [VALUE]]             centre settings (close_approval, rules)\n"
    "  history ID [--utc]                who changed which field when, what it displaced\n"
    "  review [list [ID]] | review resolve ID (--keep | --field F (--take N | --value V))\n"
    "  followup ID TEXT | note ID TEXT   add a follow-up / a case note\n"
    "  erase ID --reason REASON          erase a record for good (administrators)\n"
    "Figures and exports:\n"
    "  export --format csv|jsonl [--from DATE --to DATE --status S --concern C]\n"
    "         [--identifying] [--out FILE]\n"
    "  report --month YYYY-MM [--csv]    the month's transitions, open cases, services given,\n"
    "                                    by concern, source, district, GBVIMS type; minors\n"
    "  stats                             records, devices, last sync, store size and map use\n"
    "Safekeeping:\n"
    "  backup DEST [--unencrypted]       compacted copy, sealed to the backup public key\n"
    "  verify BACKUP [--backup-key FILE] check a backup opens and every record decodes\n"
    "  restore BACKUP DIR --backup-key FILE\n"
    "                                    write a backup back as a data directory\n"
    "  audit [--limit N] | audit --verify\n"
    "\n"
    "Run `sakhi-admin COMMAND --help` for a command's options. Exit status: 0 success,\n"
    "1 failure, 2 usage error.\n";

int sk_admin_fail(const sk_admin *a, int status, const char *fmt, ...)
{
    va_list ap;
    (void)a;
    fprintf(stderr, "sakhi-admin: %s%s", g_cmd ? g_cmd : "", g_cmd ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

static const sk_admin_opt *find_opt(const sk_admin_opt *opts, const char *name, size_t n)
{
    for (const sk_admin_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

int sk_admin_parse(sk_admin *a, int argc, char **argv, const sk_admin_opt *opts, const char **pos,
                   size_t minpos, size_t maxpos, size_t *npos, const char *help)
{
    int json = 0;
    const sk_admin_opt globals[] = {
        {"data", 1, &a->data, NULL}, {"json", 0, NULL, &json}, {NULL, 0, NULL, NULL}};
    size_t np = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            fputs(help, stdout);
            return -1;
        }
        if (!only_pos && arg[0] == '-' && arg[1] == '-' && arg[2]) {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            const sk_admin_opt *o = find_opt(opts, name, n);
            if (!o)
                o = find_opt(globals, name, n);
            if (!o)
                return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown option --%.*s (see --help)",
                                     (int)n, name);
            if (o->has_arg) {
                const char *v;
                if (eq)
                    v = eq + 1;
                else if (i + 1 < argc)
                    v = argv[++i];
                else
                    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "option --%s needs a value",
                                         o->name);
                *o->val = v;
            } else {
                if (eq)
                    return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "option --%s takes no value",
                                         o->name);
                *o->flag = 1;
            }
            continue;
        }
        if (!only_pos && arg[0] == '-' && arg[1] && arg[1] != '-')
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unknown option %s (see --help)", arg);
        if (np >= maxpos)
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "unexpected argument '%s' (see --help)",
                                 arg);
        pos[np++] = arg;
    }
    if (json)
        a->json = 1;
    if (np < minpos)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "missing argument (see --help)");
    if (!a->data || !a->data[0])
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "--data needs a directory");
    if (npos)
        *npos = np;
    return 0;
}

int sk_admin_open(sk_admin *a, int must_exist)
{
    if (a->store)
        return 0;
    if (must_exist) {
        char path[4096];
        struct stat st;
        int n = snprintf(path, sizeof(path), "%s/data.mdb", a->data);
        if (n < 0 || (size_t)n >= sizeof(path))
            return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE, "data directory path too long");
        if (stat(path, &st) != 0)
            return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL,
                                 "no store in %s (create one with `sakhi-admin init`, or give "
                                 "--data DIR)",
                                 a->data);
    }
    return sk_admin_store_open(a, 0);
}

int sk_admin_store_open(sk_admin *a, uint64_t map_size)
{
    sk_store_opts so = SK_STORE_OPTS_INIT;
    so.keys_dir = a->keys && a->keys[0] ? a->keys : NULL;
    int rc = sk_store_open_opts(&a->store, a->data, map_size, &so);
    if (rc) {
        a->store = NULL;
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "%s",
                             sk_store_open_error()[0] ? sk_store_open_error() : sk_err_text(rc));
    }
    const char *from, *to;
    if (sk_store_master_moved(a->store, &from, &to))
        fprintf(stderr, "sakhi-admin: moved the master key out of the data directory: %s -> %s\n",
                from, to);
    return 0;
}

void sk_admin_close(sk_admin *a)
{
    sk_store_close(a->store);
    a->store = NULL;
}

uint64_t sk_admin_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sk_admin_actor(sk_admin *a, const char *name, sk_actor *actor, sk_worker *wbuf)
{
    memset(wbuf, 0, sizeof(*wbuf));
    if (name)
        return sk_admin_fail(a, SK_ADMIN_EXIT_USAGE,
                             "--as is refused: sakhi-admin acts as the Unix account that runs it "
                             "(%s); run it under your own account",
                             a->operator_name);
    memcpy(wbuf->id, a->operator_name, sizeof(a->operator_name));
    wbuf->role = SK_ROLE_ADMIN;
    wbuf->district = 0;
    actor->role = wbuf->role;
    actor->worker = wbuf->id;
    actor->district = wbuf->district;
    return 0;
}

int sk_admin_keys_dir(const sk_admin *a, char *out, size_t cap)
{
    return sk_store_keys_dir(out, cap, a->data, a->keys);
}

/* "unix:<account>" for the effective uid; the account name is a login name, but it is checked
 * so that nothing but [A-Za-z0-9._-] reaches an audit entry. */
static void set_operator(sk_admin *a)
{
    uid_t uid = geteuid();
    struct passwd *pw = getpwuid(uid);
    /* "unix:" + the name must fit a worker id (SK_MAX_NAME) */
    int ok = pw && pw->pw_name && pw->pw_name[0] && strlen(pw->pw_name) <= SK_MAX_NAME - 5;
    for (const char *p = ok ? pw->pw_name : ""; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-';
    if (ok)
        snprintf(a->operator_name, sizeof(a->operator_name), "unix:%s", pw->pw_name);
    else
        snprintf(a->operator_name, sizeof(a->operator_name), "unix:uid%lu", (unsigned long)uid);
}

typedef struct cmd {
    const char *name;
    int (*fn)(sk_admin *a, int argc, char **argv);
} cmd;

static const cmd k_cmds[] = {
    {"init", sk_admin_cmd_init},
    {"worker", sk_admin_cmd_worker},
    {"enroll-code", sk_admin_cmd_enroll_code},
    {"device", sk_admin_cmd_device},
    {"revoke", sk_admin_cmd_revoke},
    {"stats", sk_admin_cmd_stats},
    {"tls-cert", sk_admin_cmd_tls_cert},
    {"staff", sk_admin_cmd_staff},
    {"list", sk_admin_cmd_list},
    {"cases", sk_admin_cmd_cases},
    {"tasks", sk_admin_cmd_tasks},
    {"alerts", sk_admin_cmd_alerts},
    {"show", sk_admin_cmd_show},
    {"accept", sk_admin_cmd_accept},
    {"service", sk_admin_cmd_service},
    {"close", sk_admin_cmd_close},
    {"followup", sk_admin_cmd_followup},
    {"note", sk_admin_cmd_note},
    {"erase", sk_admin_cmd_erase},
    {"start", sk_admin_cmd_start},
    {"assign", sk_admin_cmd_assign},
    {"refer", sk_admin_cmd_refer},
    {"decline", sk_admin_cmd_decline},
    {"reopen", sk_admin_cmd_reopen},
    {"shelter", sk_admin_cmd_shelter},
    {"task", sk_admin_cmd_task},
    {"config", sk_admin_cmd_config},
    {"history", sk_admin_cmd_history},
    {"review", sk_admin_cmd_review},
    {"export", sk_admin_cmd_export},
    {"report", sk_admin_cmd_report},
    {"backup", sk_admin_cmd_backup},
    {"verify", sk_admin_cmd_verify},
    {"restore", sk_admin_cmd_restore},
    {"audit", sk_admin_cmd_audit},
};

int main(int argc, char **argv)
{
    sk_admin a;
    memset(&a, 0, sizeof(a));
    a.prog = "sakhi-admin";
    a.data = getenv("SAKHI_DATA");
    if (!a.data || !a.data[0])
        a.data = "./sakhi-data";
    a.keys = getenv("SAKHI_KEYS");
    a.tty = isatty(STDOUT_FILENO);
    set_operator(&a);
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(k_usage, stdout);
            return 0;
        } else if (strcmp(arg, "--version") == 0) {
            printf("sakhi-admin (storage format %d, protocol %d)\n", SK_STORE_FORMAT,
                   SK_PROTO_VERSION);
            return 0;
        } else if (strcmp(arg, "--json") == 0) {
            a.json = 1;
            i++;
        } else if (strcmp(arg, "--data") == 0 && i + 1 < argc) {
            a.data = argv[i + 1];
            i += 2;
        } else if (strncmp(arg, "--data=", 7) == 0) {
            a.data = arg + 7;
            i++;
        } else if (strcmp(arg, "--data") == 0) {
            return sk_admin_fail(&a, SK_ADMIN_EXIT_USAGE, "option --data needs a value");
        } else if (strcmp(arg, "--keys") == 0 && i + 1 < argc) {
            a.keys = argv[i + 1];
            i += 2;
        } else if (strncmp(arg, "--keys=", 7) == 0) {
            a.keys = arg + 7;
            i++;
        } else if (strcmp(arg, "--keys") == 0) {
            return sk_admin_fail(&a, SK_ADMIN_EXIT_USAGE, "option --keys needs a value");
        } else {
            return sk_admin_fail(&a, SK_ADMIN_EXIT_USAGE, "unknown option %s (see --help)", arg);
        }
    }
    if (i >= argc) {
        fputs(k_usage, stderr);
        return SK_ADMIN_EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof(k_cmds) / sizeof(k_cmds[0]); c++) {
        if (strcmp(argv[i], k_cmds[c].name) == 0) {
            g_cmd = k_cmds[c].name;
            int rc = k_cmds[c].fn(&a, argc - i, argv + i);
            sk_admin_close(&a);
            if (fflush(stdout) != 0 && rc == 0) {
                g_cmd = NULL;
                return sk_admin_fail(&a, SK_ADMIN_EXIT_FAIL, "cannot write output");
            }
            return rc < 0 ? 0 : rc;
        }
    }
    return sk_admin_fail(&a, SK_ADMIN_EXIT_USAGE, "unknown command '%s' (see --help)", argv[i]);
}
