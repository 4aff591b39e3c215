/*
 * cli.c - what every `sakhi` command shares: the option parser, getting the worker's PIN,
 * opening the local store, resolving record arguments, and formatting helpers. The command
 * table and `sakhi init` are cli_main.c.
 *
 * `sakhi` is a thin front end on libsakhi and the reference app for embedders: every action goes
 * through the public API (sakhi.h), exactly as an Android app would call it. It owns only the
 * process's command-line state. It must never print a referral's content except where the
 * worker asks to see it (`show`), never write the PIN anywhere, and never echo it.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "sk_sample.h"

/* ---- messages -------------------------------------------------------------------------------- */

int sk_cli_fail(const sk_cli *cli, int status, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "sakhi%s%s: ", cli && cli->cmd ? " " : "", cli && cli->cmd ? cli->cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return status;
}

int sk_cli_lib_fail(const sk_cli *cli, int rc, const char *what)
{
    const char *detail = cli->c ? sakhi_errmsg(cli->c) : "";
    const char *base = sakhi_strerror(rc);
    if (detail[0] && strcmp(detail, base) != 0)
        return sk_cli_fail(cli, SK_CLI_FAIL, "%s: %s: %s", what, base, detail);
    return sk_cli_fail(cli, SK_CLI_FAIL, "%s: %s", what, base);
}

/* ---- option parsing -------------------------------------------------------------------------- */

int sk_cli_parse(sk_cli *cli, int argc, char **argv, const sk_cli_opt *opts, const char **pos,
                 size_t minpos, size_t maxpos, size_t *npos, const char *help)
{
    const sk_cli_opt globals[] = {
        {"store", SK_CLI_VALUE, &cli->store}, {"pin-file", SK_CLI_VALUE, &cli->pin_file},
        {"pin", SK_CLI_VALUE, &cli->pin},     {"json", SK_CLI_FLAG, &cli->json},
        {"quiet", SK_CLI_FLAG, &cli->quiet},  {NULL, 0, NULL}};
    char err[160];
    int rc = sk_opts_parse(argc, argv, opts, globals, pos, minpos, maxpos, npos, 1, help, err,
                           sizeof(err));
    if (rc == SK_OPTS_HELP) {
        cli->help = 1;
        return -1;
    }
    if (rc != SK_OPTS_OK)
        return sk_cli_fail(cli, SK_CLI_USAGE, "%s", err);
    if (!cli->store || !cli->store[0])
        return sk_cli_fail(cli, SK_CLI_USAGE, "--store needs a directory");
    return 0;
}

/* ---- the store and the PIN ------------------------------------------------------------------- */

int sk_cli_store_exists(const sk_cli *cli)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/data.mdb", cli->store);
    if (n < 0 || (size_t)n >= sizeof(path))
        return 0;
    return stat(path, &st) == 0;
}

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
}

/* Read one line from the terminal without echo. 0, or -1 when there is no terminal. */
static int prompt_noecho(const char *prompt, char *out, size_t cap)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return -1;
    FILE *tty = fdopen(fd, "r+");
    if (!tty) {
        close(fd);
        return -1;
    }
    struct termios old, quiet;
    int restored = 0;
    if (tcgetattr(fd, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        if (tcsetattr(fd, TCSAFLUSH, &quiet) == 0)
            restored = 1;
    }
    fputs(prompt, tty);
    fflush(tty);
    int rc = fgets(out, (int)cap, tty) ? 0 : -1;
    if (restored)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputc('\n', tty);
    fclose(tty);
    if (rc == 0)
        chomp(out);
    return rc;
}

int sk_cli_get_pin(sk_cli *cli, char pin[258], int confirm)
{
    pin[0] = 0;
    if (cli->pin_file) {
        FILE *f = fopen(cli->pin_file, "r");
        if (!f)
            return sk_cli_fail(cli, SK_CLI_USAGE, "cannot read PIN file %s: %s", cli->pin_file,
                               strerror(errno));
        if (!fgets(pin, 258, f))
            pin[0] = 0;
        fclose(f);
        chomp(pin);
    } else if (cli->pin) {
        snprintf(pin, 258, "%s", cli->pin);
    } else if (getenv("SAKHI_PIN")) {
        snprintf(pin, 258, "%s", getenv("SAKHI_PIN"));
    } else {
        char again[258];
        if (!isatty(STDIN_FILENO) || prompt_noecho("PIN: ", pin, 258) != 0)
            return sk_cli_fail(cli, SK_CLI_USAGE,
                               "no PIN given: use --pin-file FILE or SAKHI_PIN, or run on a "
                               "terminal to be asked");
        if (confirm) {
            if (prompt_noecho("PIN again: ", again, sizeof(again)) != 0 ||
                strcmp(again, pin) != 0) {
                memset(again, 0, sizeof(again));
                memset(pin, 0, 258);
                return sk_cli_fail(cli, SK_CLI_FAIL, "the two PINs differ; nothing was created");
            }
            memset(again, 0, sizeof(again));
        }
    }
    if (strlen(pin) > 256)
        return sk_cli_fail(cli, SK_CLI_USAGE, "the PIN is longer than 256 bytes");
    if (!pin[0])
        return sk_cli_fail(cli, SK_CLI_USAGE, "the PIN is empty");
    return 0;
}

int sk_cli_open(sk_cli *cli)
{
    char pin[258];
    sakhi_options o = SAKHI_OPTIONS_INIT;
    int rc;
    if (cli->c)
        return 0;
    if (!sk_cli_store_exists(cli))
        return sk_cli_fail(cli, SK_CLI_FAIL,
                           "no store in %s (create one with `sakhi init`, or "
                           "give --store DIR)",
                           cli->store);
    if ((rc = sk_cli_get_pin(cli, pin, 0)))
        return rc;
    o.app = "sakhi-cli/" SAKHI_VERSION_STRING;
    rc = sakhi_open(&cli->c, cli->store, pin, &o);
    memset(pin, 0, sizeof(pin));
    if (rc == SAKHI_EPIN)
        return sk_cli_fail(cli, SK_CLI_FAIL,
                           "wrong PIN (the attempt was counted; too many in a "
                           "row lock the store)");
    if (rc == SAKHI_ELOCKED)
        return sk_cli_fail(cli, SK_CLI_FAIL,
                           "the store is locked after too many wrong PINs; "
                           "the device must be enrolled again");
    if (rc) {
        cli->c = NULL;
        return sk_cli_lib_fail(cli, rc, "cannot open the store");
    }
    return 0;
}

/* ---- record arguments ------------------------------------------------------------------------ */

static int looks_like_case_no(const char *s)
{
    /* LEH-2026-000123: letters, a dash, digits, a dash, digits */
    size_t i = 0;
    while (isalpha((unsigned char)s[i]))
        i++;
    return i > 0 && s[i] == '-' && isdigit((unsigned char)s[i + 1]);
}

int sk_cli_resolve(sk_cli *cli, const char *arg, char id[SAKHI_ID_STRLEN])
{
    sakhi_list_item items[64];
    sakhi_list_filter f = SAKHI_LIST_FILTER_INIT;
    char cursor[SAKHI_ID_STRLEN] = "";
    size_t n, found = 0, arglen = strlen(arg);
    int by_case = looks_like_case_no(arg), rc;
    if (arglen == SAKHI_ID_STRLEN - 1 && !by_case) {
        snprintf(id, SAKHI_ID_STRLEN, "%s", arg);
        return 0;
    }
    if (!by_case && arglen < 4)
        return sk_cli_fail(cli, SK_CLI_USAGE,
                           "'%s' is too short to name a record (give at least "
                           "4 characters of its id, or its case number)",
                           arg);
    do {
        f.after = cursor[0] ? cursor : NULL;
        if ((rc = sakhi_list(items, 64, &n, cursor, cli->c, &f)))
            return sk_cli_lib_fail(cli, rc, "cannot list records");
        for (size_t i = 0; i < n; i++) {
            int match = 0;
            if (by_case) {
                sakhi_record *rec = NULL;
                const char *cn;
                if (sakhi_record_get(&rec, cli->c, items[i].id) == 0 &&
                    sakhi_record_get_str(&cn, rec, "case_no") == 0 && strcasecmp(cn, arg) == 0)
                    match = 1;
                sakhi_record_free(rec);
            } else {
                match = strncasecmp(items[i].id, arg, arglen) == 0;
            }
            if (match) {
                if (found++)
                    return sk_cli_fail(cli, SK_CLI_USAGE,
                                       "'%s' matches more than one record; give more of the id",
                                       arg);
                memcpy(id, items[i].id, SAKHI_ID_STRLEN);
            }
        }
    } while (cursor[0]);
    if (!found)
        return sk_cli_fail(cli, SK_CLI_FAIL, "no record %s on this device", arg);
    return 0;
}

/* ---- small helpers --------------------------------------------------------------------------- */

void sk_cli_fmt_time(uint64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;
    if (!ms || !gmtime_r(&t, &tm)) {
        snprintf(out, 32, "-");
        return;
    }
    strftime(out, 32, "%Y-%m-%d %H:%M", &tm);
}

void sk_cli_fmt_bytes(uint64_t n, char out[32])
{
    if (n < 1000)
        snprintf(out, 32, "%llu B", (unsigned long long)n);
    else if (n < 1000000)
        snprintf(out, 32, "%.1f KB", (double)n / 1000.0);
    else
        snprintf(out, 32, "%.1f MB", (double)n / 1000000.0);
}

int sk_cli_parse_date(const char *s, int end_of_day, uint64_t *ms_out)
{
    char buf[64];
    uint64_t ms;
    size_t n = strlen(s);
    if (n == 10) {
        if (snprintf(buf, sizeof(buf), "%sT00:00:00Z", s) >= (int)sizeof(buf))
            return -1;
        if (sk_sample_parse_time(buf, &ms) != 0)
            return -1;
        if (end_of_day)
            ms += 86400000u;
    } else if (sk_sample_parse_time(s, &ms) != 0) {
        return -1;
    }
    *ms_out = ms;
    return 0;
}

int sk_cli_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

int sk_cli_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    uint64_t p;
    if (!colon || colon == s || (size_t)(colon - s) >= cap)
        return -1;
    if (sk_cli_parse_uint(colon + 1, 65535, &p) != 0 || p == 0)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    /* [::1]:7400 */
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    *port = (uint16_t)p;
    return 0;
}

int sk_cli_tty_in(void)
{
    return isatty(STDIN_FILENO);
}

int sk_cli_tty_err(void)
{
    return isatty(STDERR_FILENO);
}

int sk_cli_tty_out(void)
{
    return isatty(STDOUT_FILENO);
}

uint64_t sk_cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sk_cli_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sk_cli_json_out(const sk_cli *cli, sk_buf *b)
{
    int rc = SK_CLI_OK;
    if (b->oom)
        rc = sk_cli_fail(cli, SK_CLI_FAIL, "out of memory");
    else
        printf("%.*s\n", (int)b->len, b->data ? (const char *)b->data : "");
    sk_buf_free(b);
    return rc;
}

int sk_cli_json_end(const sk_cli *cli, sk_cli_json *j)
{
    return sk_jline_print(j) ? sk_cli_fail(cli, SK_CLI_FAIL, "out of memory") : SK_CLI_OK;
}

/* The worker's language for labels: SAKHI_LANG, else the locale's (LC_ALL, LC_MESSAGES, LANG:
 * "hi_IN.UTF-8" gives "hi"); the library falls back to English for anything else. */
const char *sk_cli_lang(void)
{
    static const char *const vars[] = {"SAKHI_LANG", "LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v && v[0])
            return v;
    }
    return "en";
}
