/*
 * admin_main.c - sakhi-admin's entry point: the global options, the operator's name and the
 * command table (each command lives in the admin_*.c file of its subject; what they share is
 * admin.c).
 *
 * Owns only the process's command-line state. It must never print a referral's content.
 */
#include "admin.h"

#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    "  worker add ID --role field|staff|admin [--district NAME]\n"
    "  worker list | worker disable ID\n"
    "  enroll-code WORKER [--ttl 24h]    one-time device enrollment code\n"
    "  enroll-code --replica [NAME]      enrollment code for a standby server (replication)\n"
    "  device list | device revoke ID  (also: revoke ID)\n"
    "  tls-cert --cn NAME --out DIR      self-signed certificate for the centre\n"
    "  staff add NAME --role admin|counsellor|caseworker   desk account, one-time setup link\n"
    "  staff link NAME | staff list | staff disable NAME\n"
    "  district list | district add CODE NAME PREFIX --en TEXT | district rename NAME --en TEXT\n"
    "                                    the districts the centre serves (sent to devices)\n"
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
    "  hub                               a hub's centres, or a centre's feed to its hub\n"
    "Safekeeping:\n"
    "  backup DEST [--unencrypted]       compacted copy, sealed to the backup public key\n"
    "  verify BACKUP [--backup-key FILE] check a backup opens and every record decodes\n"
    "  restore BACKUP DIR --backup-key FILE\n"
    "                                    write a backup back as a data directory\n"
    "  audit [--limit N] | audit --verify\n"
    "  promote [--force] | demote        make a standby the primary / stop a primary "
    "(replication)\n"
    "\n"
    "Run `sakhi-admin COMMAND --help` for a command's options. Exit status: 0 success,\n"
    "1 failure, 2 usage error.\n";

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

/* A global option with a value, NAME VALUE or NAME=VALUE, at argv[*i]: 1 with *dst set and *i
 * past it; 0 when argv[*i] is not NAME; -1 when NAME is last, without its value. */
static int global_value(const char *name, int argc, char **argv, int *i, const char **dst)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *dst = arg + n + 1;
        (*i)++;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *dst = argv[*i + 1];
    *i += 2;
    return 1;
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
    {"promote", sk_admin_cmd_promote},
    {"demote", sk_admin_cmd_demote},
    {"tls-cert", sk_admin_cmd_tls_cert},
    {"staff", sk_admin_cmd_staff},
    {"district", sk_admin_cmd_district},
    {"list", sk_admin_cmd_list},
    {"cases", sk_admin_cmd_cases},
    {"tasks", sk_admin_cmd_tasks},
    {"alerts", sk_admin_cmd_alerts},
    {"show", sk_admin_cmd_show},
    {"accept", sk_admin_cmd_step},
    {"service", sk_admin_cmd_step},
    {"close", sk_admin_cmd_step},
    {"followup", sk_admin_cmd_followup},
    {"note", sk_admin_cmd_note},
    {"erase", sk_admin_cmd_erase},
    {"start", sk_admin_cmd_step},
    {"assign", sk_admin_cmd_step},
    {"refer", sk_admin_cmd_step},
    {"decline", sk_admin_cmd_step},
    {"reopen", sk_admin_cmd_step},
    {"shelter", sk_admin_cmd_step},
    {"task", sk_admin_cmd_task},
    {"config", sk_admin_cmd_config},
    {"history", sk_admin_cmd_history},
    {"review", sk_admin_cmd_review},
    {"export", sk_admin_cmd_export},
    {"report", sk_admin_cmd_report},
    {"hub", sk_admin_cmd_hub},
    {"transfer", sk_admin_cmd_transfer},
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
        } else {
            const struct {
                const char *name;
                const char **dst;
            } vals[] = {{"--data", &a.data}, {"--keys", &a.keys}};
            int got = 0;
            for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]) && !got; v++) {
                got = global_value(vals[v].name, argc, argv, &i, vals[v].dst);
                if (got < 0)
                    return sk_admin_fail(&a, SK_ADMIN_EXIT_USAGE, "option %s needs a value",
                                         vals[v].name);
            }
            if (!got)
                return sk_admin_fail(&a, SK_ADMIN_EXIT_USAGE, "unknown option %s (see --help)",
                                     arg);
        }
    }
    if (i >= argc) {
        fputs(k_usage, stderr);
        return SK_ADMIN_EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof(k_cmds) / sizeof(k_cmds[0]); c++) {
        if (strcmp(argv[i], k_cmds[c].name) == 0) {
            a.cmd = k_cmds[c].name;
            int rc = k_cmds[c].fn(&a, argc - i, argv + i);
            if (rc > 0 && a.store && sk_store_writes_refused(a.store))
                sk_admin_fail(&a, SK_ADMIN_EXIT_FAIL,
                              "refused: this data directory is a %s; it takes no writes but its "
                              "primary's (run the command on the primary%s)",
                              a.refuse_role,
                              strcmp(a.refuse_role, "standby") == 0
                                  ? ", or promote this standby first with sakhi-admin promote"
                                  : "");
            sk_admin_close(&a);
            if (fflush(stdout) != 0 && rc == 0) {
                a.cmd = NULL;
                return sk_admin_fail(&a, SK_ADMIN_EXIT_FAIL, "cannot write output");
            }
            return rc < 0 ? 0 : rc;
        }
    }
    return sk_admin_fail(&a, SK_ADMIN_EXIT_USAGE, "unknown command '%s' (see --help)", argv[i]);
}
