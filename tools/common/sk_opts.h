/*
 * sk_opts.h - the one command-line option parser of the tools, and their exit statuses.
 *
 * Long options, as `--name value` or `--name=value`; a table entry with a one-letter name is
 * written `-x` instead (a short alias, e.g. sakhi-netem's `-v` beside `--verbose`); `--` ends
 * the options; `-h`/`--help` prints the command's help. Names must match in full (no abbreviations, unlike getopt_long: a
 * tool that erases records must not guess which option was meant), and the parser keeps no
 * global state (a tool with subcommands parses several argument lists). Every tool exits with
 * SK_EXIT_OK, SK_EXIT_FAIL or SK_EXIT_USAGE (docs/TOOLS.md, "Exit statuses").
 */
#ifndef SK_OPTS_H
#define SK_OPTS_H

#include <stddef.h>

#define SK_EXIT_OK 0    /* the operation succeeded */
#define SK_EXIT_FAIL 1  /* the operation failed (message on stderr) */
#define SK_EXIT_USAGE 2 /* the command line was wrong, or input could not be read at all */

/* Option kinds. */
enum { SK_OPT_FLAG = 1, SK_OPT_VALUE = 2, SK_OPT_MULTI = 3 };

#define SK_OPT_MULTI_MAX 16
typedef struct sk_opt_multi {
    const char *v[SK_OPT_MULTI_MAX];
    size_t n;
} sk_opt_multi;

typedef struct sk_opt {
    const char *name; /* without the dashes; a {NULL} entry ends a table */
    int kind;         /* SK_OPT_FLAG: dst is int* (set to 1); VALUE: const char **; MULTI:
                         sk_opt_multi* (each occurrence appended) */
    void *dst;
} sk_opt;

/* What sk_opts_parse found. */
enum { SK_OPTS_OK = 0, SK_OPTS_HELP = 1, SK_OPTS_USAGE = 2 };

/*
 * Parse argv[1..argc) against opts, then globals (either may be NULL). Other arguments go to
 * pos[] (at most maxpos; at least minpos). An argument that starts with '-' and a digit is a
 * positional argument when digits_positional is set (a negative number), else an unknown option.
 * Returns SK_OPTS_OK with *npos set; SK_OPTS_HELP after writing help to stdout; or SK_OPTS_USAGE
 * with the reason in err ("unknown option --x (see --help)", ...). Nothing is printed to stderr.
 */
int sk_opts_parse(int argc, char **argv, const sk_opt *opts, const sk_opt *globals,
                  const char **pos, size_t minpos, size_t maxpos, size_t *npos,
                  int digits_positional, const char *help, char *err, size_t errcap);

#endif
