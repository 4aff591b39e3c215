/*
 * load.h - sakhi-load's shared state: options, the simulated devices and the records they
 * create, the statistics, and the functions that pass between the command line (load_main.c),
 * the libuv engine (load_run.c) and the end-of-run check (load_verify.c).
 *
 * Everything here is the tool's own model of what it sent; the server's answer is compared
 * against it at the end. Referral content lives only in the sample (tools/common/sk_sample.h)
 * and in frames; nothing in this tool prints it.
 */
#ifndef SK_LOAD_H
#define SK_LOAD_H

#include "sk_msg.h"
#include "sk_record.h"
#include "sk_sample.h"
#include "sk_tls.h"

#include <stddef.h>
#include <stdint.h>

#define LD_MAX_INFLIGHT 64
#define LD_ERR_CODES 128 /* error code counters 0..127 (protocol codes are < 70) */

typedef struct ld_opts {
    const char *host;
    unsigned port;
    unsigned devices;      /* field devices */
    unsigned referrals;    /* referrals per device */
    unsigned conns;        /* concurrent connections */
    unsigned batch;        /* changes per PUSH (capped by WELCOME.max_batch) */
    unsigned inflight;     /* PUSHes outstanding per connection (capped by WELCOME.max_inflight) */
    double edit_ratio;     /* share of each device's referrals that get a follow-up */
    double conflict_ratio; /* share that two devices of one worker edit concurrently */
    int pull;              /* each device pulls after pushing */
    int verify;            /* pull everything at the end as an admin device and compare */
    int json;
    int quiet;
    int tls; /* TLS 1.3 to the server, its key checked against tls_pin */
    uint8_t tls_pin[SK_TLS_PIN_LEN];
    const char *tls_pin_from; /* where the pin came from, for messages */
    double duration_s;        /* cap on the whole run */
    double timeout_s;         /* silence on one connection before it is given up */
    unsigned retries;         /* reconnects per device session before it is given up */
    const char *sample_path;
    const char *prepare_dir; /* make workers and codes in this data directory */
    const char *codes_path;  /* read codes from here ... */
    const char *codes_out;   /* ... or write the prepared ones here */
    int server_pid;          /* read CPU time and peak RSS of this process */
    unsigned idle;           /* open this many idle sessions at the end and measure memory */
    double hold_s;           /* how long to hold them */
    uint64_t seed;
} ld_opts;

/* What a work item does to its record. */
enum { LD_W_CREATE = 1, LD_W_FOLLOWUP = 2, LD_W_CONFLICT = 3 };

typedef struct ld_work {
    uint32_t rec; /* index into ld_run.recs */
    uint8_t what; /* LD_W_* */
    uint8_t slot; /* LD_W_CONFLICT: 0 = the creating device's edit, 1 = its partner's */
    uint8_t done; /* acknowledged (applied, merged or rejected) */
    uint8_t sent; /* sent at least once (a second send is a resend after a cut) */
    uint64_t op;
} ld_work;

/* Record flags in ld_rec.flags. */
enum {
    LD_R_CREATED = 1u << 0,  /* creation acknowledged APPLIED/MERGED */
    LD_R_FOLLOWUP = 1u << 1, /* gets a follow-up in the edit round */
    LD_R_CONFLICT = 1u << 2, /* gets two concurrent edits in the edit round */
    LD_R_FU_ACKED = 1u << 3, /* the follow-up was acknowledged */
    LD_R_REJECTED = 1u << 4, /* a change of it was rejected */
    LD_R_SEEN = 1u << 5      /* seen by the verifying pull */
};

typedef struct ld_rec {
    sk_id id;
    uint64_t version; /* highest version acknowledged for it */
    uint64_t base;    /* version the edit round edits (creation's version) */
    uint32_t dev;     /* creating device */
    uint32_t sample;  /* sample referral it was built from */
    uint32_t flags;   /* LD_R_* */
    uint8_t cval[2];  /* urgency set by the conflicting edits */
    uint8_t cacked;   /* bit per conflicting edit acknowledged */
    uint8_t merged;   /* MERGED acks received */
    sk_hlc chlc[2];   /* their stamps */
} ld_rec;

typedef struct ld_dev {
    uint32_t idx;
    uint64_t id; /* device id from ENROLLED, 0 before */
    uint8_t priv[32], pub[32];
    char code[65];
    char worker[SK_MAX_NAME + 1]; /* from ENROLLED */
    uint32_t role;
    int admin;        /* the verifying device */
    uint64_t next_op; /* next operation number to give */
    uint64_t cursor;  /* pull cursor, kept across sessions */
    ld_work *work;    /* this round's changes, in op order */
    uint32_t nwork;
    uint32_t attempts; /* failed sessions in this round */
    int done;          /* finished this round */
    int failed;        /* gave up in this round */
} ld_dev;

typedef struct ld_stats {
    uint64_t up[5], down[5]; /* bytes by class LD_B_* */
    uint64_t changes_acked, referrals_acked, followups_acked, conflict_acked, merged;
    uint64_t rejected;
    uint64_t resent; /* changes sent again after a cut */
    uint64_t errors[LD_ERR_CODES];
    uint64_t connect_failures, dropped, gave_up;
    uint64_t round_trips, sessions, push_sessions;
    uint64_t create_round_trips, create_sessions; /* the create round alone: one sync each */
    uint64_t create_bytes; /* all bytes of the create round's sessions, both ways */
    uint64_t pushes;
    uint64_t *lat_us; /* ack latency of each PUSH, microseconds */
    size_t nlat, caplat;
    uint64_t pulled_records;   /* by field devices */
    uint64_t tls_handshakes;   /* TLS handshakes completed (the pin matched) */
    uint64_t tls_up, tls_down; /* TLS bytes on the socket, both ways (records and handshakes) */
} ld_stats;

enum { LD_B_HANDSHAKE = 0, LD_B_PUSH = 1, LD_B_PULL = 2, LD_B_VERIFY = 3, LD_B_OTHER = 4 };

typedef struct ld_verify {
    int ran;
    uint64_t expected, seen, missing, extra, duplicate, mismatch;
    uint64_t bytes;
    double seconds;
    char first_problem[160]; /* ids and field keys only */
} ld_verify;

typedef struct ld_run {
    ld_opts o;
    sk_sample sample;
    ld_dev *devs; /* devices [0, o.devices) are field devices; devs[o.devices] is the admin */
    uint32_t ndevs;
    ld_rec *recs; /* devices * referrals, device d owns [d*R, (d+1)*R) */
    uint32_t nrecs;
    uint32_t *index; /* open-addressing table of record indexes by id (verification) */
    uint32_t index_cap;
    ld_stats st;
    ld_verify vf;
    /* phase timings, seconds */
    double t_enroll, t_create, t_edit, t_total;
    uint64_t create_push_up, create_push_down; /* push bytes of the create round */
    /* server figures */
    double server_cpu_s; /* during the create and edit rounds */
    uint64_t server_hwm_kib;
    uint64_t server_anon_kib; /* RssAnon after the edit round: heap, without the LMDB map */
    uint64_t idle_rss_before_kib, idle_rss_after_kib;
    unsigned idle_ready;
    char last_error[200]; /* last connection-level failure, for the message on stderr */
    int timed_out;
    int fatal; /* the run could not be carried out (e.g. nothing reachable) */
    char fatal_msg[320];
} ld_run;

/* load_run.c: run every round on a libuv loop. 0 when every round completed, -1 otherwise
 * (details in r->fatal_msg, r->timed_out, r->st). */
int sk_load_run(ld_run *r);

/* load_verify.c */
/* Build the id index over the created records. 0 or -SK_E_NOMEM. */
int sk_load_index_build(ld_run *r);
/* Check one record of the verifying pull against what was sent. */
void sk_load_verify_record(ld_run *r, const sk_record *rec);
/* After the pull: count what was never seen. */
void sk_load_verify_finish(ld_run *r);
/* Build the change a work item sends (deterministic, so a resend is byte-identical).
 * 0 or a negative SK_E_* code; the caller frees c with sk_change_free. */
int sk_load_build_change(const ld_run *r, const ld_dev *d, const ld_work *w, sk_change *c);

/* Monotonic seconds. */
double sk_load_now(void);
/* CPU seconds (user + system) of pid, -1 when unreadable. */
double sk_load_proc_cpu(int pid);
/* A "VmHWM"/"VmRSS" line of /proc/pid/status in KiB, 0 when unreadable. */
uint64_t sk_load_proc_kib(int pid, const char *field);

#endif
