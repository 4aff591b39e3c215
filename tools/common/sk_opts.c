/*
 * sk_opts.c - the tools' option parser (see sk_opts.h).
 *
 * Owns nothing: options are written through the table's pointers, positional arguments point
 * into argv. It must never print anything but the help it is asked for, and never accept an
 * option name that is not in a table in full.
 */
#include "sk_opts.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int usage(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err && cap) {
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return SK_OPTS_USAGE;
}

static const sk_opt *find_opt(const sk_opt *opts, const char *name, size_t n)
{
    for (const sk_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

int sk_opts_parse(int argc, char **argv, const sk_opt *opts, const sk_opt *globals,
                  const char **pos, size_t minpos, size_t maxpos, size_t *npos,
                  int digits_positional, const char *help, char *err, size_t errcap)
{
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
            return SK_OPTS_HELP;
        }
        /* "-x": a one-letter option (a short alias a table names "x") */
        int letter = !only_pos && arg[0] == '-' && arg[1] && arg[1] != '-' && !arg[2] &&
                     !(digits_positional && isdigit((unsigned char)arg[1]));
        if (letter || (!only_pos && arg[0] == '-' && arg[1] == '-' && arg[2])) {
            const char *name = arg + (letter ? 1 : 2), *eq = letter ? NULL : strchr(name, '=');
            size_t n = eq ? (size_t)(eq - name) : strlen(name);
            /* a one-letter name only as -x, a longer one only as --name */
            const sk_opt *o = (n == 1) == letter ? find_opt(opts, name, n) : NULL;
            if (!o && (n == 1) == letter)
                o = find_opt(globals, name, n);
            if (!o && letter)
                return usage(err, errcap, "unknown option %s (see --help)", arg);
            if (!o)
                return usage(err, errcap, "unknown option --%.*s (see --help)", (int)n, name);
            if (o->kind == SK_OPT_FLAG) {
                if (eq)
                    return usage(err, errcap, "option --%s takes no value", o->name);
                *(int *)o->dst = 1;
                continue;
            }
            const char *v;
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                return usage(err, errcap, "option --%s needs a value", o->name);
            if (o->kind == SK_OPT_VALUE) {
                *(const char **)o->dst = v;
            } else {
                sk_opt_multi *m = o->dst;
                if (m->n >= SK_OPT_MULTI_MAX)
                    return usage(err, errcap, "option --%s given too often", o->name);
                m->v[m->n++] = v;
            }
            continue;
        }
        if (!only_pos && arg[0] == '-' && arg[1] &&
            !(digits_positional && isdigit((unsigned char)arg[1])))
            return usage(err, errcap, "unknown option %s (see --help)", arg);
        if (np >= maxpos)
            return usage(err, errcap, "unexpected argument '%s' (see --help)", arg);
        pos[np++] = arg;
    }
    if (np < minpos)
        return usage(err, errcap, "missing argument (see --help)");
    if (npos)
        *npos = np;
    return SK_OPTS_OK;
}
