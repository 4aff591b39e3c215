/*
 * cli.h - the parts of the `sakhi` field-device CLI shared between its files: the process's
 * command-line state, the option parser, opening the local store with the worker's PIN,
 * resolving a record argument (id, id prefix or case number) and small output helpers.
 *
 * Each command lives in its own file (cli_capture.c, cli_read.c, cli_sync.c) and is a function
 * `int sk_cli_cmd_<name>(sk_cli *cli, int argc, char **argv)` returning the process exit status
 * (SK_CLI_OK, SK_CLI_FAIL, SK_CLI_USAGE). The CLI is built only on the public libsakhi API
 * (sakhi.h) plus the tools' helpers (sk_json, sk_sample); it never opens the store itself.
 */
#ifndef SK_CLI_H
#define SK_CLI_H

#include "sakhi/sakhi.h"
#include "sk_jline.h"
#include "sk_json.h"
#include "sk_opts.h"

#include <stddef.h>
#include <stdint.h>

#define SK_CLI_OK SK_EXIT_OK
#define SK_CLI_FAIL SK_EXIT_FAIL
#define SK_CLI_USAGE SK_EXIT_USAGE

typedef struct sk_cli {
    const char *cmd;      /* current command name, for messages */
    const char *store;    /* --store DIR */
    const char *pin_file; /* --pin-file F */
    const char *pin;      /* --pin P (tests) */
    int json;             /* --json */
    int quiet;            /* --quiet */
    int help;             /* --help was given: the command printed its help */
    sakhi_client *c;      /* open store, or NULL */
} sk_cli;

/* Option kinds and tables: the tools' one parser (tools/common/sk_opts.h). */
enum { SK_CLI_FLAG = SK_OPT_FLAG, SK_CLI_VALUE = SK_OPT_VALUE, SK_CLI_MULTI = SK_OPT_MULTI };
#define SK_CLI_MULTI_MAX SK_OPT_MULTI_MAX
typedef sk_opt_multi sk_cli_multi;
typedef sk_opt sk_cli_opt;

/*
 * Parse argv[1..argc) of a command: options from opts (and the global ones: --store, --pin-file,
 * --pin, --json, --quiet, --help) as `--name value` or `--name=value`; other arguments go to
 * pos[] (between minpos and maxpos of them). Returns 0, SK_CLI_USAGE after printing the
 * message, or -1 after printing help (the caller returns SK_CLI_OK).
 */
int sk_cli_parse(sk_cli *cli, int argc, char **argv, const sk_cli_opt *opts, const char **pos,
                 size_t minpos, size_t maxpos, size_t *npos, const char *help);

/* Print "sakhi CMD: message" on stderr and return status. */
int sk_cli_fail(const sk_cli *cli, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same for a library error: "sakhi CMD: what: <strerror>[: <errmsg>]"; returns 1. */
int sk_cli_lib_fail(const sk_cli *cli, int rc, const char *what);

/* Does the store directory hold a store? */
int sk_cli_store_exists(const sk_cli *cli);
/* Get the PIN (pin file, SAKHI_PIN, --pin, or a no-echo prompt on the terminal; confirm asks
 * twice). 0 or SK_CLI_USAGE/SK_CLI_FAIL after a message. pin has room for 257 bytes. */
int sk_cli_get_pin(sk_cli *cli, char pin[258], int confirm);
/* Open the existing store into cli->c. 0 or an exit status after a message. */
int sk_cli_open(sk_cli *cli);
/* Resolve a record argument (full id, unique id prefix of >= 4 characters, or a case number) to a
 * full id. 0 or an exit status after a message. */
int sk_cli_resolve(sk_cli *cli, const char *arg, char id[SAKHI_ID_STRLEN]);

/* "2026-06-19 23:19" (UTC) for Unix ms; "-" for 0. */
void sk_cli_fmt_time(uint64_t ms, char out[32]);
/* Human bytes: "812 B", "12.4 KB", "3.1 MB". */
void sk_cli_fmt_bytes(uint64_t n, char out[32]);
/* Parse "YYYY-MM-DD" (start of that day, UTC; end_of_day adds a day) or an ISO-8601 time. */
int sk_cli_parse_date(const char *s, int end_of_day, uint64_t *ms_out);
/* Parse a decimal unsigned number (no sign, no spaces) <= max. 0 or -1. */
int sk_cli_parse_uint(const char *s, uint64_t max, uint64_t *out);
/* Parse "HOST:PORT" into host (cap bytes) and port. 0 or -1. */
int sk_cli_parse_hostport(const char *s, char *host, size_t cap, uint16_t *port);
/* Is stdin / stderr / stdout a terminal? */
int sk_cli_tty_in(void);
int sk_cli_tty_err(void);
int sk_cli_tty_out(void);
/* Wall clock Unix ms and monotonic ms. */
uint64_t sk_cli_now_ms(void);
uint64_t sk_cli_mono_ms(void);

/* Write the JSON in b and a newline to stdout, free b. 0, or SK_CLI_FAIL when b ran out of
 * memory (after a message). */
int sk_cli_json_out(const sk_cli *cli, sk_buf *b);

/* The one JSON object a command prints: sk_jline_begin opens it, written with sk_jw (every
 * string escaped); sk_cli_json_end closes it and prints it as sk_cli_json_out does. */
typedef sk_jline sk_cli_json;
int sk_cli_json_end(const sk_cli *cli, sk_cli_json *j);

/* Commands. */
int sk_cli_cmd_init(sk_cli *cli, int argc, char **argv);
int sk_cli_cmd_enroll(sk_cli *cli, int argc, char **argv);
int sk_cli_cmd_capture(sk_cli *cli, int argc, char **argv);
int sk_cli_cmd_followup(sk_cli *cli, int argc, char **argv);
int sk_cli_cmd_list(sk_cli *cli, int argc, char **argv);
int sk_cli_cmd_show(sk_cli *cli, int argc, char **argv);
int sk_cli_cmd_status(sk_cli *cli, int argc, char **argv);
int sk_cli_cmd_sync(sk_cli *cli, int argc, char **argv);

/* The worker's language for labels: SAKHI_LANG, else the locale's (LC_ALL, LC_MESSAGES, LANG);
 * the library takes "hi_IN.UTF-8" as "hi" and falls back to English for anything else. */
const char *sk_cli_lang(void);

#endif
