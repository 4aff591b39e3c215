/*
 * sk_config.h - sakhi-server settings: defaults, command-line flags and a `key = value` file.
 *
 * Every flag --name VALUE has a file key `name = VALUE` (same name without the dashes); flags
 * given on the command line override the file named by --config. Boolean flags (--plaintext)
 * take no value on the command line and `true`/`false` in the file. docs/SERVER.md lists them.
 */
#ifndef SK_CONFIG_H
#define SK_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SK_CONFIG_PATH_MAX 1024

typedef struct sk_config {
    char listen[64]; /* IPv4 or IPv6 literal */
    unsigned port;   /* 0 = any free port (see port_file) */
    char data_dir[SK_CONFIG_PATH_MAX];
    char keys_dir[SK_CONFIG_PATH_MAX]; /* holds master.key; empty = data_dir + ".keys" */
    char group[64];                    /* log and data files 0640 to this group; empty = 0600 */
    long gid;                          /* group resolved by sk_config_check; -1 = none */
    uint64_t map_size_mb;              /* LMDB map size */
    uint64_t store_reserve_mb; /* kept for pushes and staff work; 0 = a sixteenth of the map */
    unsigned max_conn;
    unsigned max_unauth;          /* connections not yet authenticated, in all */
    unsigned max_unauth_per_addr; /* ... from one address (IPv6: one /64) */
    uint64_t frame_budget;        /* bytes of frame buffers of all sessions together */
    uint32_t max_frame;           /* after the handshake; before it 64 KiB */
    uint32_t max_batch;           /* changes per PUSH */
    uint32_t max_inflight;        /* outstanding requests per session */
    uint64_t idle_timeout_ms;
    uint64_t handshake_timeout_ms;
    uint64_t shutdown_timeout_ms;       /* longest graceful drain before sessions are cut */
    size_t out_budget;                  /* unsent bytes per session before reading pauses */
    int log_level;                      /* SK_LOG_* */
    char log_file[SK_CONFIG_PATH_MAX];  /* empty = stderr */
    uint64_t log_max_bytes;             /* rotate the log file at this size (0 = never) */
    uint32_t log_keep;                  /* rotated log files kept */
    char port_file[SK_CONFIG_PATH_MAX]; /* if set, the bound port is written here */
    int plaintext;
    char tls_cert[SK_CONFIG_PATH_MAX];
    char tls_key[SK_CONFIG_PATH_MAX];
    uint32_t auth_fail_limit;      /* obsolete (devices are never locked); parsed, unused */
    uint32_t auth_fail_limit_addr; /* failed AUTH/ENROLL per address before back-off (0 = off) */
    uint64_t auth_backoff_max_ms;  /* back-off doubles from 1 s up to this */
    uint64_t auth_fail_window_ms;  /* an address quiet this long after its back-off is forgotten */
    uint64_t log_summary_ms;       /* interval of the unauth_summary line */
    uint32_t enroll_code_tries;    /* wrong codes per code id before the code dies (0 = never) */
    uint32_t audit_retention_days; /* audit entries older are pruned; 0 = keep forever */
    /* the centre desk (server/sk_desk.c, docs/DESK.md) */
    int desk;                                /* serve the desk */
    unsigned desk_port;                      /* 0 = any free port (see desk_port_file) */
    char desk_port_file[SK_CONFIG_PATH_MAX]; /* if set, the desk's bound port is written here */
    uint64_t desk_idle_ms;                   /* a desk session unused this long ends */
    uint64_t desk_session_ms;                /* a desk session ends this long after login */
    uint32_t desk_login_limit;               /* failed logins per (name, address) per window */
    uint32_t desk_login_limit_addr;          /* failed logins per address per window */
    unsigned desk_max_conn;                  /* most desk connections at once */
    /* replication (server/sk_repl.c, docs/REPLICATION.md) */
    char standby_of[SK_CONFIG_PATH_MAX]; /* follow this primary (HOST:PORT or enrollment URI) */
    int standby_plaintext;               /* ... without TLS (loopback only, for tests) */
    char repl_sync[16];                  /* "off", "refuse" or "degrade" */
    uint64_t repl_sync_timeout_ms;       /* a PUSH waits this long for a replica's ack */
    uint64_t repl_keep;                  /* log entries kept for a replica that is behind */
    /* a hub of centres (server/sk_hub.c, docs/REPLICATION.md "Hub of centres") */
    int hub;                         /* this server is a hub: centres send it their cases */
    char to_hub[SK_CONFIG_PATH_MAX]; /* send this centre's cases to the hub (HOST:PORT or URI) */
    int to_hub_plaintext;            /* ... without TLS (loopback only, for tests) */
    uint64_t hub_interval_ms;        /* how often the centre looks for changes to send */
} sk_config;

void sk_config_defaults(sk_config *c);

/*
 * Parse argv (after defaults): --config FILE is read first, then the other flags override it.
 * Returns 0 to run, 1 when --help or --version was printed (exit 0), or -1 with a one-line
 * message in err (exit non-zero).
 */
int sk_config_parse(sk_config *c, int argc, char **argv, char *err, size_t errcap);

/* Read a `key = value` file ('#' starts a comment). 0 or -1 with err filled. */
int sk_config_load_file(sk_config *c, const char *path, char *err, size_t errcap);

/* Cross-setting checks (plaintext vs TLS vs address). 0 or -1 with err filled. */
int sk_config_check(const sk_config *c, char *err, size_t errcap);

/* Is addr a loopback address (127.0.0.0/8, ::1, localhost)? */
int sk_config_is_loopback(const char *addr);

void sk_config_usage(FILE *fp);

#endif
