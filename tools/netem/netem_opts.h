/*
 * netem_opts.h - sakhi-netem's command line: the link model's parameters, the presets, and the
 * parser that fills them. Kept apart from the proxy so the numbers and their checks are in one
 * place (and docs/TOOLS.md can point at it).
 */
#ifndef NETEM_OPTS_H
#define NETEM_OPTS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define NETEM_NO_LIMIT UINT64_MAX

typedef struct sk_netem_opts {
    char listen_host[64]; /* loopback only (checked) */
    unsigned listen_port; /* 0 = let the kernel choose (see port_file) */
    char upstream_host[256];
    unsigned upstream_port;
    const char *preset;       /* NULL, "2g", "vsat", "flaky" */
    uint64_t rate_up;         /* bytes/s client -> upstream, 0 = unlimited */
    uint64_t rate_down;       /* bytes/s upstream -> client, 0 = unlimited */
    uint64_t latency_ms;      /* one-way delay added in each direction */
    uint64_t jitter_ms;       /* uniform +-jitter around latency, order kept */
    double stall_rate;        /* chance of a stall per KiB forwarded, per direction */
    uint64_t stall_ms;        /* length of one stall */
    uint64_t cut_after;       /* close both sides after this many bytes (both ways), or no limit */
    double cut_rate;          /* chance of a cut per KiB forwarded (both ways) */
    uint64_t blackhole_after; /* stop forwarding after this many bytes, or no limit */
    uint64_t seed;
    uint64_t max_conns;     /* 0 = no cap */
    uint64_t duration_s;    /* 0 = run until a signal */
    const char *stats_json; /* file for the JSON summary, or NULL */
    const char *port_file;  /* file that receives the listening port once ready, or NULL */
    int verbose;
} sk_netem_opts;

/* Parse argv into o with the tools' option parser (tools/common/sk_opts.h): defaults first,
 * then the preset, then the explicit flags, so a flag given with --preset overrides that one
 * number. Returns 0 on success, 1 when --help was printed (exit SK_EXIT_OK), or -1 after
 * printing a message to stderr (exit SK_EXIT_USAGE). */
int sk_netem_opts_parse(sk_netem_opts *o, int argc, char **argv);

#endif
