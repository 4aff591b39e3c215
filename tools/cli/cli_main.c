/*
 * cli_main.c - `sakhi`'s entry point: the command table, the global options and `sakhi init`
 * (each other command lives in the cli_*.c file of its subject; what they share is cli.c).
 *
 * Owns only the process's command-line state. It must never write the PIN anywhere.
 */
#include "cli.h"

#include "sk_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char k_usage[] =
    "usage: sakhi [--store DIR] COMMAND [OPTIONS] [ARGS...]\n"
    "\n"
    "The field worker's Sakhi Sync device: capture referrals offline in an encrypted local\n"
    "store, sync them with the centre's server when a link is there, and see what came back.\n"
    "\n"
    "Commands:\n"
    "  init                         create the local store and set its PIN\n"
    "  enroll --server HOST:PORT --code CODE [--label L]\n"
    "                               enroll this device with the centre (one-time code)\n"
    "  capture [FIELD FLAGS]        capture a referral (prompts on a terminal without flags)\n"
    "  capture --from-sample FILE (--index N[-M][,..] | --all)\n"
    "                               capture referrals from a sample file (demos, tests)\n"
    "  followup ID TEXT             add a follow-up to a record\n"
    "  list [--pending] [--status S] [--from DATE] [--to DATE]\n"
    "  show ID                      one record in full\n"
    "  status                       pending changes, last sync, server\n"
    "  sync [--via HOST:PORT] [--retry N]\n"
    "                               send pending changes, receive the centre's\n"
    "\n"
    "Options for every command:\n"
    "  --store DIR      the local store (default ./sakhi-device)\n"
    "  --pin-file F     read the PIN from the first line of F\n"
    "  --pin PIN        the PIN on the command line (for tests only: it stays in shell history)\n"
    "                   Without these, SAKHI_PIN from the environment, else a prompt on the\n"
    "                   terminal that does not echo.\n"
    "  --json           machine-readable output (list, show, status, sync, enroll, capture)\n"
    "  --quiet          no progress or summary lines\n"
    "\n"
    "ID is a record id, a unique prefix of one (at least 4 characters), or a case number.\n"
    "Run `sakhi COMMAND --help` for a command's options. Exit status: 0 success, 1 failure,\n"
    "2 usage error.\n";

/* ---- commands -------------------------------------------------------------------------------- */

static const char k_init_help[] =
    "usage: sakhi init [--store DIR] [--pin-file F] [--kdf-target-ms MS] [--kdf-memory-kib K]\n"
    "\n"
    "Create the local store in DIR (default ./sakhi-device) protected by the worker's PIN.\n"
    "On a terminal the PIN is asked twice without echo. Fails if a store is already there.\n"
    "The PIN needs at least 6 digits and must not be a common pattern (123456, 121212,\n"
    "123321, 112233, 147258, ...). The PIN is stretched with Argon2id, its cost measured\n"
    "here so that one try takes about MS milliseconds (default 1000) with K KiB of memory\n"
    "(default 65536); every later command pays that once. Lower values make a copied\n"
    "store cheaper to crack (docs/SECURITY.md).\n"
    "Next: `sakhi enroll --server HOST:PORT --code CODE`.\n";

int sk_cli_cmd_init(sk_cli *cli, int argc, char **argv)
{
    char pin[258];
    const char *target = NULL, *memory = NULL, *why = "";
    uint64_t v;
    sakhi_options o = SAKHI_OPTIONS_INIT;
    const sk_cli_opt opts[] = {{"kdf-target-ms", SK_CLI_VALUE, &target},
                               {"kdf-memory-kib", SK_CLI_VALUE, &memory},
                               {NULL, 0, NULL}};
    int rc = sk_cli_parse(cli, argc, argv, opts, NULL, 0, 0, NULL, k_init_help);
    if (rc)
        return rc < 0 ? SK_CLI_OK : rc;
    if (target) {
        if (sk_cli_parse_uint(target, 600000, &v) || v == 0)
            return sk_cli_fail(cli, SK_CLI_USAGE, "--kdf-target-ms %s: expected 1..600000", target);
        o.kdf_target_ms = (unsigned)v;
    }
    if (memory) {
        if (sk_cli_parse_uint(memory, 1024 * 1024, &v) || v < 8)
            return sk_cli_fail(cli, SK_CLI_USAGE, "--kdf-memory-kib %s: expected 8..1048576",
                               memory);
        o.kdf_memory_kib = (unsigned)v;
    }
    if (sk_cli_store_exists(cli))
        return sk_cli_fail(cli, SK_CLI_FAIL, "a store already exists in %s; nothing was changed",
                           cli->store);
    if ((rc = sk_cli_get_pin(cli, pin, 1)))
        return rc;
    if (sakhi_pin_check(pin, &why)) {
        memset(pin, 0, sizeof(pin));
        return sk_cli_fail(cli, SK_CLI_FAIL, "PIN refused: %s; nothing was created", why);
    }
    o.app = "sakhi-cli/" SAKHI_VERSION_STRING;
    rc = sakhi_open(&cli->c, cli->store, pin, &o);
    memset(pin, 0, sizeof(pin));
    if (rc) {
        cli->c = NULL;
        return sk_cli_lib_fail(cli, rc, "cannot create the store");
    }
    if (cli->json) {
        sk_cli_json j;
        sk_jw *w = sk_jline_begin(&j);
        sk_jw_kcstr(w, "store", cli->store);
        sk_jw_kbool(w, "created", 1);
        return sk_cli_json_end(cli, &j);
    }
    if (!cli->quiet)
        printf("created a store in %s; next, enroll it: sakhi enroll --server HOST:PORT --code "
               "CODE\n",
               cli->store);
    return SK_CLI_OK;
}

typedef struct command {
    const char *name;
    int (*fn)(sk_cli *cli, int argc, char **argv);
} command;

static const command k_commands[] = {{"init", sk_cli_cmd_init},
                                     {"enroll", sk_cli_cmd_enroll},
                                     {"capture", sk_cli_cmd_capture},
                                     {"followup", sk_cli_cmd_followup},
                                     {"list", sk_cli_cmd_list},
                                     {"show", sk_cli_cmd_show},
                                     {"status", sk_cli_cmd_status},
                                     {"sync", sk_cli_cmd_sync},
                                     {NULL, NULL}};

int main(int argc, char **argv)
{
    sk_cli cli;
    memset(&cli, 0, sizeof(cli));
    cli.store = "./sakhi-device";
    int i = 1;
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(k_usage, stdout);
            return SK_CLI_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf("sakhi %s (libsakhi %s)\n", SAKHI_VERSION_STRING, sakhi_version());
            return SK_CLI_OK;
        }
        if (strcmp(a, "--json") == 0) {
            cli.json = 1;
            i++;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            cli.quiet = 1;
            i++;
            continue;
        }
        const char **dst = NULL;
        const char *name = a + 2, *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        if (strncmp(a, "--", 2) == 0 && n == 5 && strncmp(name, "store", 5) == 0)
            dst = &cli.store;
        else if (strncmp(a, "--", 2) == 0 && n == 8 && strncmp(name, "pin-file", 8) == 0)
            dst = &cli.pin_file;
        else if (strncmp(a, "--", 2) == 0 && n == 3 && strncmp(name, "pin", 3) == 0)
            dst = &cli.pin;
        if (!dst)
            return sk_cli_fail(NULL, SK_CLI_USAGE, "unknown option %s (see sakhi --help)", a);
        if (eq) {
            *dst = eq + 1;
            i++;
        } else if (i + 1 < argc) {
            *dst = argv[i + 1];
            i += 2;
        } else {
            return sk_cli_fail(NULL, SK_CLI_USAGE, "option %s needs a value", a);
        }
    }
    if (i >= argc) {
        fputs(k_usage, stderr);
        return SK_CLI_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        fputs(k_usage, stdout);
        return SK_CLI_OK;
    }
    for (const command *c = k_commands; c->name; c++) {
        if (strcmp(c->name, argv[i]) == 0) {
            cli.cmd = c->name;
            int rc = c->fn(&cli, argc - i, argv + i);
            sakhi_close(cli.c);
            fflush(stdout);
            if (ferror(stdout) && rc == 0)
                rc = sk_cli_fail(&cli, SK_CLI_FAIL, "could not write the output");
            return rc;
        }
    }
    return sk_cli_fail(NULL, SK_CLI_USAGE, "unknown command '%s' (see sakhi --help)", argv[i]);
}
