/*
 * admin.h - sakhi-admin's internal interface between its modules (not installed, not a library).
 *
 * sakhi-admin works directly on a server's data directory through the server's store
 * (storage/sk_store.h) and apply path (storage/sk_apply.h). The modules:
 *   admin.c          command line: global options, dispatch, option parser, output helpers
 *   admin_people.c   init, workers, enrollment codes, devices, stats, tls-cert
 *   admin_records.c  list, show, followup, note, erase
 *   admin_casework.c the workflow operations through storage/sk_caseops.h (accept, start, assign,
 *                    service, refer, decline, close, reopen, shelter, task, config)
 *   admin_review.c   history (who changed what, what it displaced) and conflict review
 *   admin_worklist.c cases (filtered case list), tasks (the sorted worklist), alerts (owner)
 *   admin_export.c   export (CSV, JSON Lines) and the monthly report
 *   admin_backup.c   backup (compacting copy, optionally AES-256-GCM encrypted), verify, restore
 *   admin_audit.c    the audit log: appends, listing, chain verification (the store's), signed
 *                    heads (--sign, --verify --public-key)
 *   admin_keys.c     keys kept outside the data directory: making, permission checks, Ed25519
 *   admin_staff.c    desk accounts of the centre's staff and their setup links
 *   admin_repl.c     replication: stats lines, promote, demote
 *   admin_hub.c      a hub of centres: the centres it heard from, a centre's feed to it
 *   admin_transfer.c a case moved between centres: the administrators' approvals
 *   admin_districts.c the districts the centre serves (sent to devices)
 * Command functions return the process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef SK_ADMIN_H
#define SK_ADMIN_H

#include "sk_apply.h"
#include "sk_case.h"
#include "sk_caseops.h"
#include "sk_opts.h"
#include "sk_jline.h"
#include "sk_json.h"
#include "sk_store.h"
#include "sk_worklist.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define SK_ADMIN_EXIT_OK SK_EXIT_OK
#define SK_ADMIN_EXIT_FAIL SK_EXIT_FAIL
#define SK_ADMIN_EXIT_USAGE SK_EXIT_USAGE

/* Device id 0 is never given to an enrolled device (enrollment counts from 1): sakhi-admin's
 * changes go through sk_apply_change as device 0, with op = highest op stored for device 0 + 1. */
#define SK_ADMIN_DEVICE 0u
/* Fallback operator name when the Unix account cannot be resolved (sk_admin_operator). */
#define SK_ADMIN_ACTOR "sakhi-admin"

typedef struct sk_admin {
    const char *data; /* data directory (--data, default ./sakhi-data) */
    const char *keys; /* keys directory (--keys; NULL = the data directory's name + ".keys") */
    /* Who runs this: "unix:<account>" from the process's effective uid, recorded in every audit
     * entry and change this process makes (docs/SECURITY.md, "Who did it"). */
    char operator_name[SK_MAX_NAME + 1];
    int json;         /* --json: machine-readable output on stdout */
    int tty;          /* stdout is a terminal: human hints allowed */
    const char *prog; /* "sakhi-admin" */
    const char *cmd;  /* the command running, for messages (NULL before it is known) */
    sk_store *store;  /* opened by sk_admin_open */
    /* "standby" or "demoted" when the store is one: its writes are refused (sk_admin_open) */
    char refuse_role[16];
} sk_admin;

/* ---- option parsing (admin.c) -------------------------------------------------------------- */
typedef struct sk_admin_opt {
    const char *name; /* long name without "--" */
    int has_arg;      /* 1: takes a value ("--name V" or "--name=V") */
    const char **val; /* where the value goes (has_arg) */
    int *flag;        /* set to 1 when present (!has_arg) */
} sk_admin_opt;

/* Parse argv[1..argc) of a command against opts (terminated by a {NULL} entry). Positional
 * arguments go to pos (at most maxpos; more is a usage error). --help prints help and returns
 * -1 (caller exits 0); a usage error prints a message and returns SK_ADMIN_EXIT_USAGE. The global
 * options --data and --json are accepted by every command. Returns 0 on success. */
int sk_admin_parse(sk_admin *a, int argc, char **argv, const sk_admin_opt *opts, const char **pos,
                   size_t minpos, size_t maxpos, size_t *npos, const char *help);

/* --json output of a command that reports one result: sk_jline_begin opens an object written
 * with sk_jw (every string escaped); sk_admin_json_end closes it and prints it on one line of
 * stdout. End returns 0, or SK_ADMIN_EXIT_FAIL after saying why (out of memory). A listing's
 * row is printed with sk_jline_print. */
typedef sk_jline sk_admin_json;
/* A listing's --json output, one object holding an array under key: the object is always
 * opened, the array only with --json; the caller adds rows to it, closes it and prints with
 * sk_admin_json_end (or frees j->b when there is no JSON to print). */
sk_jw *sk_admin_json_list_begin(const sk_admin *a, sk_admin_json *j, const char *key);
/* The epoch a command began (restore, promote) as JSON: "epoch" and the one it replaced,
 * "prev_epoch", 16 hex digits each, as the tools print them. */
void sk_admin_jw_new_epoch(sk_jw *w, const sk_store_epoch *ep);
int sk_admin_json_end(const sk_admin *a, sk_admin_json *j);
/* One field of a one-line --json result: a string s (NULL writes null), or with kind
 * SK_ADMIN_KV_UINT or SK_ADMIN_KV_BOOL the number u. */
enum { SK_ADMIN_KV_STR = 0, SK_ADMIN_KV_UINT = 1, SK_ADMIN_KV_BOOL = 2 };
typedef struct sk_admin_kv {
    const char *key;
    const char *s;
    uint64_t u;
    int kind;
} sk_admin_kv;
/* Print the result object of fields kv[0..n) on one line of stdout, as sk_admin_json_end. */
int sk_admin_json_result(const sk_admin *a, const sk_admin_kv *kv, size_t n);

/* A listing printed as a row per item or (--json) one JSON array (workers, devices, staff
 * accounts): the command, the array's writer and the rows given so far (a table prints its
 * header before the first). */
typedef struct sk_admin_rows {
    sk_admin *a;
    sk_jw w;
    size_t n;
} sk_admin_rows;
/* Open the existing store and print what list gives, as text rows or (--json) one array on a
 * line of stdout; what names the items in an error ("cannot list WHAT: reason", or "cannot
 * list: reason" when NULL). 0 or an exit status (message printed). */
int sk_admin_print_rows(sk_admin *a, int (*list)(sk_admin_rows *c), const char *what);

/* What a command that changed case idt prints: with --json {id, version, merged, status,
 * case_no (null when none), outcome (when not NULL)}; else the case number alone after an
 * accept (for scripts), or one line on a terminal. 0 or SK_ADMIN_EXIT_FAIL. */
int sk_admin_print_change(const sk_admin *a, const char *idt, const char *event, uint64_t version,
                          int merged, const char *status, const char *case_no, const char *outcome);

/* Print "sakhi-admin: <cmd>: message" to stderr; returns the given exit status. */
int sk_admin_fail(const sk_admin *a, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open the store in a->data. With must_exist, a directory without a store is an error (run
 * init first). Returns 0 or an exit status (message printed). */
int sk_admin_open(sk_admin *a, int must_exist);
void sk_admin_close(sk_admin *a);
/* Open the store in a->data with its keys directory (--keys) into a->store, map_size as
 * sk_store_open; says so on stderr when the master key was moved out of the data directory.
 * 0 or an exit status (message printed). */
int sk_admin_store_open(sk_admin *a, uint64_t map_size);

/* A whole decimal number from min to max, as an option's value: 0, or -1 for text that is not
 * one (empty, signed, trailing characters, too large) or is out of range. */
int sk_admin_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* 1 when s is a worker's or staff account's name: 1 to SK_MAX_NAME characters of letters,
 * digits, '.', '_', '-' or '@'; else 0. */
int sk_admin_valid_name(const char *s);
/* Current wall clock, Unix milliseconds. */
uint64_t sk_admin_now_ms(void);
/* Begin a read transaction on the open store: 0, or the exit status after "cannot read". */
int sk_admin_read_begin(sk_admin *a, MDB_txn **txn);
/* Open the existing store (sk_admin_open) and begin a read transaction on it: 0, or the exit
 * status (message printed). */
int sk_admin_open_read(sk_admin *a, MDB_txn **txn);
/* A listing command's walk: row(r, p) for every record inside txn, then txn ends. 0, or the
 * exit status after "cannot list WHAT" (a non-zero row return or a record that does not
 * decode). */
int sk_admin_list_records(sk_admin *a, MDB_txn *txn, int (*row)(const sk_record *r, void *p),
                          void *p, const char *what);
/* The name of enumeration e in field key of r: "-" when absent, else "unknown(CODE)" in buf for
 * a code the enumeration lacks. */
const char *sk_admin_enum_text(sk_enum_id e, const sk_record *r, uint32_t key, char *buf,
                               size_t cap);
/* The name of case field key, else "field.KEY" in buf. */
const char *sk_admin_field_name(uint32_t key, char buf[24]);
/* The centre's zone, India Standard Time (UTC+05:30), and a day, in ms. */
#define SK_ADMIN_IST_MS (330ull * 60 * 1000)
#define SK_ADMIN_DAY_MS (24ull * 3600 * 1000)
/* "YYYY-MM-DD" (year 2000 on, a day that exists) as Unix ms at that day's start in IST, or in
 * UTC with utc; end_of_day: its last ms instead. 0 or -1. */
int sk_admin_parse_day(const char *s, int utc, int end_of_day, uint64_t *out);
/* Unix ms as "2026-06-19 14:05" in IST (or UTC), with " IST"/" UTC" after it when zone is set. */
void sk_admin_fmt_time(uint64_t ms, int utc, int zone, char out[32]);

/* Resolve the acting worker: NULL name -> the operator (the Unix account running sakhi-admin,
 * admin role, all districts). A name (the old --as flag) is refused: a flag is a claim, not a
 * login. 0 or an exit status (message printed). worker_buf receives the id (actor->worker
 * points at it). */
int sk_admin_actor(sk_admin *a, const char *name, sk_actor *actor, sk_worker *wbuf);
/* Open the existing store (sk_admin_open), then resolve the acting worker (sk_admin_actor). 0 or
 * an exit status (message printed). */
int sk_admin_open_as(sk_admin *a, const char *name, sk_actor *actor, sk_worker *wbuf);

/* The keys directory: a->keys, or a->data's real path plus ".keys" (outside the data
 * directory, so a copy of the data directory does not carry it; sk_store_keys_dir). 0 or -1
 * (too long). */
int sk_admin_keys_dir(const sk_admin *a, char *out, size_t cap);

/* ---- keys kept apart (admin_keys.c) ---------------------------------------------------- */
typedef struct evp_pkey_st EVP_PKEY;
#define SK_ADMIN_SIGNKEY "audit-sign.key" /* in the keys directory: Ed25519, PEM, 0600 */
#define SK_ADMIN_SIGNPUB "audit-sign.pub" /* its public half (copy it off the machine) */
/* 0 when path is a regular file owned by this user with no group/other bits; else -1 with the
 * reason and the fix in err. */
int sk_admin_key_file_check(const char *path, char *err, size_t errcap);
/* The keys directory into dir, created 0700 when missing; -1 with err when it is not a 0700
 * directory of this user. */
int sk_admin_keys_mkdir(const sk_admin *a, char *dir, size_t cap, char *err, size_t errcap);
/* A new Ed25519 pair: private PEM at priv_path (0600, never overwritten), public at pub_path. */
int sk_admin_signkey_make(const char *priv_path, const char *pub_path, char *err, size_t errcap);
/* The backup key pair (X25519): backups are sealed to the public half, which stays on the
 * server; the private half, which restore needs, is for the operator to keep offline. */
#define SK_ADMIN_BACKUPPUB "backup.pub"
#define SK_ADMIN_BACKUPPRIV "backup-restore.key" /* where init leaves it to be taken away */
int sk_admin_backupkey_make(const char *priv_path, const char *pub_path, char *err, size_t errcap);
/* Write key's public half as PEM at pub_path (0644, never overwritten). 0 or -1 with err. */
int sk_admin_pubkey_write(EVP_PKEY *key, const char *pub_path, char *err, size_t errcap);
/* Load a PEM key of EVP type `type` (EVP_PKEY_X25519, EVP_PKEY_ED25519), no mode check. */
EVP_PKEY *sk_admin_pkey_load(const char *path, int priv, int type, char *err, size_t errcap);
/* Load an Ed25519 key (private: after sk_admin_key_file_check). NULL with err on failure. */
EVP_PKEY *sk_admin_signkey_load(const char *path, int priv, char *err, size_t errcap);
/* Sign / check the head (seq, hash) of the audit chain at ts_ms. 0 or -1. */
int sk_admin_head_sign(uint8_t sig[64], EVP_PKEY *key, uint64_t seq, const uint8_t hash[32],
                       uint64_t ts_ms);
int sk_admin_head_verify(const uint8_t sig[64], EVP_PKEY *key, uint64_t seq, const uint8_t hash[32],
                         uint64_t ts_ms);

/* ---- commands -------------------------------------------------------------------------- */
int sk_admin_cmd_init(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_worker(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_enroll_code(sk_admin *a, int argc, char **argv);
/* admin_qr.c: the enrollment URI as a QR code, a PNG file (mode 0600) or blocks on a terminal.
 * 0, or -1 (the PNG writer puts a reason in err). */
int sk_admin_qr_png(const char *text, const char *path, char *err, size_t errcap);
int sk_admin_qr_terminal(FILE *out, const char *text);
int sk_admin_cmd_device(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_revoke(sk_admin *a, int argc, char **argv); /* = device revoke */
int sk_admin_cmd_stats(sk_admin *a, int argc, char **argv);
/* admin_repl.c: replication (docs/REPLICATION.md) */
int sk_admin_cmd_promote(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_demote(sk_admin *a, int argc, char **argv);
/* The replication lines of stats: into w (--json) or printed. 0 or a store code. */
int sk_admin_stats_repl(sk_admin *a, sk_jw *w);
int sk_admin_cmd_tls_cert(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_staff(sk_admin *a, int argc, char **argv); /* admin_staff.c: desk accounts */
/* admin_districts.c: the centre's districts */
int sk_admin_cmd_district(sk_admin *a, int argc, char **argv);
/* The code of the district named name (its name, or its code) in the store's list; opens the
 * store. 0, or an exit status after a message listing the centre's districts. */
int sk_admin_district_code(sk_admin *a, const char *name, uint32_t *code);
/* The name of district code in the store's list (a->store open), else "unknown(CODE)" in buf. */
const char *sk_admin_district_name(sk_admin *a, uint64_t code, char *buf, size_t cap);
/* The district (name), status and urgency of case r as the listings show them: "-" when absent, the
 * code as "unknown(CODE)" (in buf) when the list or enumeration lacks it. */
typedef struct sk_admin_case_codes {
    const char *district, *status, *urgency;
    char buf[3][24];
} sk_admin_case_codes;
void sk_admin_case_codes_get(sk_admin *a, const sk_record *r, sk_admin_case_codes *out);

int sk_admin_cmd_list(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_show(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_followup(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_note(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_erase(sk_admin *a, int argc, char **argv);

/* workflow operations through the casework API (admin_casework.c) */
/* The status steps accept, start, decline, close, reopen, refer, assign, service and shelter:
 * argv[0] names the step. */
int sk_admin_cmd_step(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_task(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_config(sk_admin *a, int argc, char **argv);
/* history and conflict review (admin_review.c) */
int sk_admin_cmd_history(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_review(sk_admin *a, int argc, char **argv);

/* worklists through storage/sk_worklist.h (admin_worklist.c) */
int sk_admin_cmd_cases(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_tasks(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_alerts(sk_admin *a, int argc, char **argv);

int sk_admin_cmd_export(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_report(sk_admin *a, int argc, char **argv);
/* admin_hub.c */
int sk_admin_cmd_hub(sk_admin *a, int argc, char **argv);
/* admin_transfer.c */
int sk_admin_cmd_transfer(sk_admin *a, int argc, char **argv);

int sk_admin_cmd_backup(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_verify(sk_admin *a, int argc, char **argv);
int sk_admin_cmd_restore(sk_admin *a, int argc, char **argv);

int sk_admin_cmd_audit(sk_admin *a, int argc, char **argv);

/* ---- records (admin_records.c) --------------------------------------------------------------- */
/* Find a record by id text or case number inside txn. 0, or an exit status (message printed):
 * usage for text that is neither, failure when no such record. */
int sk_admin_find_record(sk_admin *a, MDB_txn *txn, const char *text, sk_record *out);

/* Common front of the action commands (admin_records.c): parse argv against extra (at most 6
 * options) plus --as, require exactly npos_need positional arguments, open the store and resolve
 * the acting staff or admin worker into actor. 0 or an exit status (message printed). */
int sk_admin_action_setup(sk_admin *a, int argc, char **argv, sk_admin_opt *extra, size_t nextra,
                          const char **pos, size_t npos_need, const char *help, sk_actor *actor,
                          sk_worker *wb);

/* ---- audit (admin_audit.c) --------------------------------------------------------------- */
/* Last audit seq (meta "audit") inside txn. */
int sk_admin_audit_last_txn(sk_admin *a, MDB_txn *txn, uint64_t *last_out);
/* Append an entry (through sk_store_audit_txn). */
int sk_admin_audit_txn(sk_admin *a, MDB_txn *txn, const char *event, const char *worker,
                       const char *detail);
/* Write one audit entry in a transaction of its own (the store chains it). 0 or negative
 * SK_E_*. */
int sk_admin_audit_now(sk_admin *a, const char *event, const char *worker, const char *detail);

/* A write transaction through the store's key batch (sk_store_write_begin); commit also
 * shreds the keys of records erased in it (sk_store_shred_pending). */
typedef struct sk_admin_wtxn {
    MDB_txn *txn;
} sk_admin_wtxn;
int sk_admin_wtxn_begin(sk_admin *a, sk_admin_wtxn *w);
int sk_admin_wtxn_commit(sk_admin *a, sk_admin_wtxn *w); /* aborts on failure */
void sk_admin_wtxn_abort(sk_admin *a, sk_admin_wtxn *w);
/* Begin a write transaction and find record `text` in it (sk_admin_find_record), as every
 * command that changes one record does: 0, or the exit status (message printed: "cannot write"
 * or why the record was not found). out is initialised either way; wt is the caller's to commit
 * or abort either way (its txn is NULL when the write could not begin). */
int sk_admin_wtxn_find(sk_admin *a, sk_admin_wtxn *wt, const char *text, sk_record *out);

/* Apply a casework operation (sk_caseops_apply) as actor inside wt and commit it: 0 with *res
 * filled, or the exit status after the message ("store error", "refused: why (CODE)", "cannot
 * commit"); wt is left to the caller to abort. */
int sk_admin_caseops_commit(sk_admin *a, sk_admin_wtxn *wt, const sk_actor *actor,
                            const sk_cw_op *op, sk_caseops_result *res);

#endif
