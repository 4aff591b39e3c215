/*
 * sk_desk_int.h - what the desk's modules share: who is asking (a copy of the session, safe to
 * hand to a worker thread), the staff operations run by the writer, and the page renderers.
 * Internal to server/sk_desk*.c.
 */
#ifndef SK_DESK_INT_H
#define SK_DESK_INT_H

#include "sk_buf.h"
#include "sk_case.h"
#include "sk_caseops.h"
#include "sk_desk_form.h"
#include "sk_desk_i18n.h"
#include "sk_desk_staff.h"
#include "sk_districts.h"
#include "sk_store.h"
#include "sk_writer.h"

#include <stdint.h>

#define SK_DESK_TOKEN_LEN 43 /* 32 random bytes, base64url */

/* The logged-in person as a page or an operation sees her (copied out of the session). */
typedef struct sk_desk_who {
    char user[SK_MAX_NAME + 1];
    uint32_t role;     /* sk_desk_role */
    uint32_t district; /* 0 = all */
    int lang;
    char csrf[SK_DESK_TOKEN_LEN + 1];
    char flash[320]; /* one message for the next page ("" = none) */
    int flash_bad;
    sk_id reveal; /* the record whose identity she asked to see, until reveal_until_ms */
    uint64_t reveal_until_ms;
} sk_desk_who;

/* The actor of sk_case.h for who (worker points into who). */
void sk_desk_actor(const sk_desk_who *who, sk_actor *out);

/* ---- staff operations, run inside the writer's transaction -------------------------------- */
typedef enum sk_desk_op_kind {
    SK_DESK_OP_CASE = 1,    /* a casework operation (cw) through sk_caseops_apply */
    SK_DESK_OP_REVEAL = 4,  /* audit only: who saw the identity of the record */
    SK_DESK_OP_VIEW = 5,    /* audit only: who opened the record */
    SK_DESK_OP_LOGIN = 6,   /* audit only */
    SK_DESK_OP_LOGOUT = 7,  /* audit only */
    SK_DESK_OP_SETPW = 8,   /* set the password of user if the setup token still opens it */
    SK_DESK_OP_SEARCH = 9,  /* audit only: an identity search (its terms are not kept) */
    SK_DESK_OP_REVOKE = 10, /* revoke device count (administrators) */
    SK_DESK_OP_ENROLL = 11, /* a one-time enrollment code for worker, into text */
    SK_DESK_OP_EXPORT = 12  /* audit only: the report's CSV was downloaded (month in text) */
} sk_desk_op_kind;

#define SK_DESK_TEXT_MAX 1000 /* a reason, note or task text typed on a form */
#define SK_DESK_VALUE_MAX 512 /* a value chosen in a conflict review (MessagePack bytes) */

typedef struct sk_desk_op {
    int kind;
    sk_desk_who who;
    sk_id id;
    /* CASE: the operation; its strings point into the buffers below (sk_desk_case_op_parse) */
    sk_cw_op cw;
    char text[SK_DESK_TEXT_MAX + 1];     /* reason, note, task text */
    char detail[SK_DESK_TEXT_MAX + 1];   /* refer: the place's name */
    char override[SK_DESK_TEXT_MAX + 1]; /* refer: reason to go without consent */
    char owner[SK_MAX_NAME + 1], worker[SK_MAX_NAME + 1];
    uint8_t value[SK_DESK_VALUE_MAX]; /* resolve: the chosen value */
    sk_cw_field field;
    char pwhash[SK_PWHASH_MAX];         /* SETPW */
    char token[SK_SETUP_TOKEN_LEN + 1]; /* SETPW */
    uint64_t now_ms;
    uint64_t count; /* SEARCH: records found */
    /* results */
    int refused;   /* the model or the rules said no: msg says why */
    char msg[200]; /* the model's message when refused */
    char case_no[40];
    int outcome; /* sk_cw_outcome */
} sk_desk_op;

/* Fill op->cw (kind by name: "accept", "decline", ... as sk_cw_kind_name) from a form's fields,
 * copying its strings into op. 0, or -SK_E_BAD_VALUE when a field is missing, too long or not
 * one of its choices (nothing is submitted then). Dates are the centre's (IST) days. */
int sk_desk_case_op_parse(sk_desk_op *op, const char *name, const sk_form *f);
/* The start of day s ("YYYY-MM-DD", 2000..2200) in the centre's zone (IST), Unix ms; -1 when
 * s is not such a date. */
int sk_desk_date_ist(const char *s, uint64_t *start_ms);

/* The writer's call for an sk_wreq of kind SK_WREQ_CALL whose call_arg is an sk_desk_op.
 * Returns 0 or a fatal store code (the transaction is then retried or failed as a whole). */
int sk_desk_op_run(sk_store *st, MDB_txn *txn, sk_wreq *w);

/* The centre's districts for one page (storage/sk_districts.h), named in the page's language;
 * a district not in the list shows its code. */
typedef struct sk_desk_dlist {
    sk_district_def *d;
    size_t n;
} sk_desk_dlist;
int sk_desk_dlist_load(sk_desk_dlist *l, sk_store *st, MDB_txn *txn); /* txn NULL: its own */
void sk_desk_dlist_free(sk_desk_dlist *l);
const char *sk_desk_dlist_name(const sk_desk_dlist *l, int lang, uint64_t code, char *buf,
                               size_t cap);
/* The name of code in lang, or NULL when the list does not have it. */
const char *sk_desk_dlist_find(const sk_desk_dlist *l, int lang, uint64_t code);

/* ---- pages (worker threads: read transactions only) --------------------------------------- */
/* Each renders a whole page into out and returns the HTTP status; out->oom means no page. */
int sk_desk_page_login(sk_buf *out, int lang, const char *csrf_login, const char *msg, int bad);
int sk_desk_page_setup(sk_buf *out, int lang, const char *user, const char *token, const char *pre,
                       const char *msg);
int sk_desk_page_message(sk_buf *out, int lang, const char *title, const char *msg);
/* In place of whatever out holds, the store's error rc under title: returns 503. */
int sk_desk_page_failed(sk_buf *out, int lang, sk_desk_msg title, int rc);
/* The worklist's index of every record (sk_desk_pages.c): one per desk, used by one render
 * at a time. */
typedef struct sk_desk_index sk_desk_index;
sk_desk_index *sk_desk_index_new(void);
void sk_desk_index_free(sk_desk_index *ix);
int sk_desk_page_worklist(sk_buf *out, sk_store *st, sk_desk_index *ix, const sk_desk_who *who,
                          const sk_form *q, uint64_t now_ms);
/* The person's open tasks (mine, due, overdue) and her alerts (changes by someone else, in the
 * last 7 days, to cases she owns that she has not acted on since; her overdue tasks): storage's
 * worklist (sk_worklist.h), the lists `sakhi-admin tasks` and `alerts` print. A minor's task
 * text is withheld unless her role may see the case's identity. */
int sk_desk_page_tasks(sk_buf *out, sk_store *st, const sk_desk_who *who, uint64_t now_ms);
int sk_desk_page_alerts(sk_buf *out, sk_store *st, const sk_desk_who *who, uint64_t now_ms);
/* Records in her scope whose name, phone, village or case number contains q (?q=, 2..64
 * bytes), after the redaction her role gets. *searched = 1 when a search ran (the caller
 * audits it before the page is sent), *found = how many matched. */
int sk_desk_page_search(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                        uint64_t now_ms, int *searched, size_t *found);
/* Devices and workers (administrators), and the answer to an enrollment: the code, the
 * enrollment URI and its QR code (SVG). */
int sk_desk_page_devices(sk_buf *out, sk_store *st, const sk_desk_who *who, uint64_t now_ms);
int sk_desk_page_enrolled(sk_buf *out, const sk_desk_who *who, const char *worker, const char *code,
                          const char *uri);
/* text as a QR code (level M), an inline SVG element, appended to b. */
int sk_desk_qr_svg(sk_buf *b, const char *text);
/* The monthly report (?month=YYYY-MM, the current month by default) inside the person's scope:
 * tables, SVG bar charts and the twelve-month trend; the same as CSV (month_out = the month);
 * the audit trail, newest first (?before=SEQ pages back). */
int sk_desk_page_report(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                        uint64_t now_ms);
int sk_desk_report_csv(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                       uint64_t now_ms, char month_out[8]);
int sk_desk_page_audit(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q);
/* *viewed_out = 1 when a record was shown (the caller audits the view). */
int sk_desk_page_case(sk_buf *out, sk_store *st, const sk_desk_who *who, const sk_form *q,
                      uint64_t now_ms, sk_id *viewed_out, int *viewed);

/* Page chrome shared by the renderers (sk_desk_pages.c). */
void sk_desk_head(sk_buf *b, int lang, const char *title);
void sk_desk_top(sk_buf *b, const sk_desk_who *who, const char *title);
/* sk_desk_top, then the page's <h1> opened with its title: the caller ends the heading. */
void sk_desk_top_h1(sk_buf *b, const sk_desk_who *who, sk_desk_msg title);
void sk_desk_bottom(sk_buf *b);
void sk_desk_hidden_csrf(sk_buf *b, const char *csrf);
void sk_desk_status_cell(sk_buf *b, int lang, uint64_t st);
/* The line an empty list shows instead ("none", in lang). */
void sk_desk_none(sk_buf *b, int lang);
/* A <th> for each of the n labels, in lang. */
void sk_desk_th_cells(sk_buf *b, int lang, const sk_desk_msg *labels, size_t n);
/* A <th> for each of the n texts (escaped; "" for an empty cell). */
void sk_desk_th_texts(sk_buf *b, const char *const *texts, size_t n);
/* An <option> with value (escaped), label (escaped), selected when selected. */
void sk_desk_option(sk_buf *b, const char *value, const char *label, int selected);
/* A <label> with label (in lang) and an open <select name="name" id="id"> (no id when id is
 * NULL): the caller writes the options, then "</select></label>". */
void sk_desk_select_open(sk_buf *b, int lang, sk_desk_msg label, const char *name, const char *id);
/* An <option> for each value of e (its name as the value, its label in lang); sel selected. */
void sk_desk_enum_options(sk_buf *b, int lang, sk_enum_id e, uint64_t sel);

extern const char sk_desk_js[];
extern const char sk_desk_css[];

#endif
