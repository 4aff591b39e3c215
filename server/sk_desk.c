/*
 * sk_desk.c - the desk's HTTPS front: libh2o on the server's libuv loop, the staff sessions,
 * CSRF, login rate limits, security headers, and the routing of each request to a page (worker
 * thread) or a staff operation (writer thread).
 *
 * Owns the desk listener, the h2o context, the desk's TLS context, the in-memory session table
 * and the login rate limits. HTTP parsing is libh2o's; form and cookie parsing sk_desk_form.c's.
 * Threads: everything here runs on the loop thread, except the page renderers and Argon2id,
 * which run on libuv's thread pool with a copy of what they need (sk_desk_who), reading the
 * store through read transactions. Every change goes to the writer as an SK_WREQ_CALL
 * (sk_desk_ops.c): there is no other write path.
 * Unauthenticated requests cost a bounded amount: a form of at most SK_FORM_MAX_BYTES, at most
 * DESK_MAX_HASHING password checks at once (others get 503), no durable write.
 * Never logs a password, a token, a cookie or a field of a record.
 */
#include "sk_desk.h"

#include "sk_desk_int.h"
#include "sk_err.h"
#include "sk_list.h"
#include "sk_log.h"
#include "sk_ratelimit.h"
#include "sk_conn.h"
#include "sk_context.h"
#include "sk_tls.h"
#include "sk_tlsfile.h"
#include "sk_uri.h"

#define H2O_USE_LIBUV 1
#include <h2o.h>
#include <h2o/socket/uv-binding.h>
#include <openssl/ssl.h>

#include <errno.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DESK_SESSIONS 256
#define DESK_MAX_HASHING 2     /* Argon2id runs at once (19 MiB each) */
#define DESK_REVEAL_MS 600000u /* an identity shown on request stays shown 10 minutes */
#define DESK_MAX_ENTITY 16384  /* largest request body */
/* After the free failures of a login limit, each failure doubles a back-off from 1 minute up
 * to 10 minutes; a key quiet that long after its back-off is forgotten. */
#define DESK_LOGIN_BACKOFF_MS 60000u
#define DESK_LOGIN_BACKOFF_MAX_MS 600000u
#define DESK_MAX_RENDER                                                                            \
    1                      /* pages rendered at once: the desk never takes more than one core from
                           * sync, however many people click */
#define DESK_PAGE_QUEUE 64 /* pages waiting for their turn; more are answered 503 */
_Static_assert(DESK_MAX_RENDER == 1,
               "the worklist index (sk_desk_pages.c) serves one render at a time");
/* The nice value of the thread-pool threads that render pages and hash passwords (only the desk
 * uses the pool in sakhi-server): when sync and the desk want the same core, sync's loop and
 * writer get about ten times the desk's share (docs/PERFORMANCE.md, "The desk beside sync"). */
#ifndef DESK_NICE /* -DDESK_NICE=0 builds a desk at the loop's priority (the benchmark's baseline) */
#define DESK_NICE 10
#endif
#define DESK_COOKIE "__Host-sakhi"
#define DESK_PRE_COOKIE "__Host-sakhi-pre"

typedef struct desk_sess {
    int used;
    char token[SK_DESK_TOKEN_LEN + 1]; /* the cookie's value */
    sk_desk_who who;
    uint64_t created_ms, last_ms;
} desk_sess;

typedef struct desk_handler {
    h2o_handler_t super;
    sk_desk *d;
} desk_handler;

typedef struct desk_conn {
    uv_tcp_t tcp; /* first: h2o's close callback gets this handle */
    sk_desk *d;
    struct desk_conn *prev, *next; /* every open connection (to end idle ones at shutdown) */
} desk_conn;

struct sk_desk {
    sk_server *srv;
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t actx;
    SSL_CTX *ssl;
    uv_tcp_t listener;
    int listener_init, listening, conf_init, ctx_init, closing, freed;
    unsigned nconn;
    desk_conn *conns;
    unsigned hashing;
    unsigned jobs;                      /* pages and operations in flight */
    unsigned rendering;                 /* page jobs on the thread pool */
    sk_desk_index *index;               /* the worklist's rows, used by one render at a time */
    struct desk_job *pq_head, *pq_tail; /* page jobs waiting for a turn */
    unsigned pq_len;
    desk_sess sess[DESK_SESSIONS];
    uint8_t pin[SK_TLS_PIN_LEN]; /* the centre key's pin, for enrollment URIs */
    sk_ratelimit *rl_user;       /* failed logins per (name, address) */
    sk_ratelimit *rl_addr;       /* failed logins per address */
};

/* ---- one request in flight -------------------------------------------------------------- */

enum route {
    R_LOGIN_POST = 1,
    R_SETUP_POST,
    R_WORKLIST,
    R_CASE,
    R_OP,
    R_TASKS,
    R_ALERTS,
    R_SEARCH,
    R_DEVICES,
    R_REPORT,
    R_REPORT_CSV,
    R_AUDIT,
};

typedef struct req_link req_link;

typedef struct desk_job {
    sk_desk *d;
    h2o_req_t *req; /* NULL once h2o has disposed of the request (client gone) */
    req_link *link;
    uv_work_t work;
    int route;
    char sess_token[SK_DESK_TOKEN_LEN + 1];
    char addr[64];
    sk_form form;
    sk_desk_who who;
    uint64_t now_ms;
    /* results */
    int status;
    sk_buf body;
    int ok; /* login: password right */
    sk_id viewed;
    int did_view;
    int did_search;
    size_t found;
    char host[256]; /* the Host the desk was reached at (enrollment: the server's address) */
    char pwhash[SK_PWHASH_MAX];
    sk_desk_op op;
    struct desk_job *qnext; /* page queue link */
} desk_job;

struct req_link {
    desk_job *job;
};

static void link_dispose(void *p)
{
    req_link *l = p;
    if (l->job)
        l->job->req = NULL;
}

static desk_job *job_new(sk_desk *d, h2o_req_t *req, int route)
{
    desk_job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->link = h2o_mem_alloc_shared(&req->pool, sizeof(*j->link), link_dispose);
    j->link->job = j;
    j->d = d;
    j->req = req;
    j->route = route;
    j->now_ms = sk_now_ms();
    sk_buf_init(&j->body);
    j->body.limit = 1u << 20;
    d->jobs++;
    return j;
}

static void desk_maybe_free(sk_desk *d);

static void job_free(desk_job *j)
{
    if (!j)
        return;
    if (j->req)
        j->link->job = NULL;
    sk_desk *d = j->d;
    sk_buf_free(&j->body);
    OPENSSL_cleanse(j->form.buf, sizeof(j->form.buf));
    OPENSSL_cleanse(j->pwhash, sizeof(j->pwhash));
    free(j);
    d->jobs--;
    if (d->jobs == 0 && d->closing && !d->freed)
        sk_server_session_closed(d->srv, NULL); /* the draining server may finish now */
    desk_maybe_free(d);
}

/* ---- responses ---------------------------------------------------------------------------- */

#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src "        \
    "'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

static void add_hdr(h2o_req_t *req, const h2o_token_t *tok, const char *v)
{
    h2o_add_header(&req->pool, &req->res.headers, tok, NULL, v, strlen(v));
}

static void add_hdr_str(h2o_req_t *req, const char *name, const char *v)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, v, strlen(v));
}

static void add_hdr_dup(h2o_req_t *req, const h2o_token_t *tok, const char *v)
{
    size_t n = strlen(v);
    h2o_iovec_t c = h2o_strdup(&req->pool, v, n);
    h2o_add_header(&req->pool, &req->res.headers, tok, NULL, c.base, c.len);
}

/* Every response carries these; nothing the desk serves may be cached but its two static files
 * (which hold no personal data). */
static void security_headers(h2o_req_t *req, int cacheable)
{
    add_hdr(req, H2O_TOKEN_STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    add_hdr_str(req, "content-security-policy", CSP);
    add_hdr_str(req, "x-content-type-options", "nosniff");
    add_hdr_str(req, "x-frame-options", "DENY");
    /* same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on a form post,
     * and the origin check below needs the real one. */
    add_hdr_str(req, "referrer-policy", "same-origin");
    add_hdr_str(req, "cross-origin-opener-policy", "same-origin");
    add_hdr(req, H2O_TOKEN_CACHE_CONTROL, cacheable ? "private, max-age=300" : "no-store");
}

static void send_body(h2o_req_t *req, int status, const char *ctype, const void *body, size_t n)
{
    static const char *const reasons[] = {[200] = "OK",
                                          [303] = "See Other",
                                          [400] = "Bad Request",
                                          [401] = "Unauthorized",
                                          [403] = "Forbidden",
                                          [404] = "Not Found",
                                          [405] = "Method Not Allowed",
                                          [409] = "Conflict",
                                          [413] = "Payload Too Large",
                                          [429] = "Too Many Requests",
                                          [500] = "Internal Server Error",
                                          [503] = "Service Unavailable"};
    req->res.status = status;
    req->res.reason = status < 504 && reasons[status] ? reasons[status] : "Error";
    add_hdr(req, H2O_TOKEN_CONTENT_TYPE, ctype);
    h2o_send_inline(req, body, n);
}

static void send_page(h2o_req_t *req, int status, sk_buf *page)
{
    if (page->oom) {
        static const char msg[] = "The page could not be made (out of memory).\n";
        security_headers(req, 0);
        send_body(req, 500, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
        return;
    }
    security_headers(req, 0);
    send_body(req, status, "text/html; charset=utf-8", page->data, page->len);
}

static void send_message(h2o_req_t *req, int status, int lang, sk_desk_msg title, sk_desk_msg msg)
{
    sk_buf b = SK_BUF_INIT;
    sk_desk_page_message(&b, lang, sk_t(lang, title), sk_t(lang, msg));
    send_page(req, status, &b);
    sk_buf_free(&b);
}

/* job_new, or NULL with the request answered busy (a page under title, in lang). */
static desk_job *job_or_busy(sk_desk *d, h2o_req_t *req, int route, int lang, sk_desk_msg title)
{
    desk_job *j = job_new(d, req, route);
    if (!j)
        send_message(req, 503, lang, title, T_BUSY);
    return j;
}

static void send_redirect(h2o_req_t *req, const char *location)
{
    security_headers(req, 0);
    add_hdr_dup(req, H2O_TOKEN_LOCATION, location);
    send_body(req, 303, "text/plain; charset=utf-8", "", 0);
}

/* ---- sessions ----------------------------------------------------------------------------- */

static int sess_live(const sk_desk *d, const desk_sess *s, uint64_t now)
{
    const sk_config *c = d->srv->cfg;
    return s->used && now - s->last_ms < c->desk_idle_ms &&
           now - s->created_ms < c->desk_session_ms;
}

static int path_is(h2o_req_t *req, const char *p);

static desk_sess *sess_find(sk_desk *d, h2o_req_t *req, uint64_t now)
{
    char tok[SK_DESK_TOKEN_LEN + 1];
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, -1);
    int found = 0;
    /* A request may carry several Cookie headers (HTTP/2 splits them). */
    while (i != -1 && !found) {
        const h2o_iovec_t *v = &req->headers.entries[i].value;
        found = sk_cookie_get(v->base, v->len, DESK_COOKIE, tok, sizeof(tok)) == 0;
        if (!found)
            i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i);
    }
    if (!found || strlen(tok) != SK_DESK_TOKEN_LEN)
        return NULL;
    desk_sess *hit = NULL;
    for (size_t k = 0; k < DESK_SESSIONS; k++) /* every slot compared: constant time */
        if (d->sess[k].used && sk_ct_equal(d->sess[k].token, tok, SK_DESK_TOKEN_LEN))
            hit = &d->sess[k];
    if (hit && !sess_live(d, hit, now)) {
        OPENSSL_cleanse(hit, sizeof(*hit));
        hit = NULL;
    }
    /* the worklist's automatic poll is not the person at work: it never keeps a session alive */
    if (hit && !path_is(req, "/api/version"))
        hit->last_ms = now;
    return hit;
}

static desk_sess *sess_by_token(sk_desk *d, const char *tok, uint64_t now)
{
    for (size_t k = 0; k < DESK_SESSIONS; k++)
        if (d->sess[k].used && strcmp(d->sess[k].token, tok) == 0 && sess_live(d, &d->sess[k], now))
            return &d->sess[k];
    return NULL;
}

static desk_sess *sess_new(sk_desk *d, uint64_t now)
{
    desk_sess *s = NULL, *oldest = NULL;
    for (size_t k = 0; k < DESK_SESSIONS && !s; k++) {
        if (!sess_live(d, &d->sess[k], now))
            s = &d->sess[k];
        else if (!oldest || d->sess[k].last_ms < oldest->last_ms)
            oldest = &d->sess[k];
    }
    if (!s) /* full: the least recently used session ends (only a logged-in person gets here) */
        s = oldest;
    memset(s, 0, sizeof(*s));
    uint8_t raw[32];
    if (sk_desk_random(raw, sizeof(raw)))
        return NULL;
    sk_b64url(raw, sizeof(raw), s->token, sizeof(s->token));
    if (sk_desk_random(raw, sizeof(raw)))
        return NULL;
    sk_b64url(raw, sizeof(raw), s->who.csrf, sizeof(s->who.csrf));
    s->created_ms = s->last_ms = now;
    s->used = 1;
    return s;
}

/* ---- request helpers ---------------------------------------------------------------------- */

static int method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int path_is(h2o_req_t *req, const char *p)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, p, strlen(p));
}

static int parse_query(h2o_req_t *req, sk_form *f)
{
    if (req->query_at == SIZE_MAX) {
        f->n = 0;
        return 0;
    }
    return sk_form_parse(f, req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
}

static int parse_body(h2o_req_t *req, sk_form *f)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    static const char want[] = "application/x-www-form-urlencoded";
    if (i == -1 || req->headers.entries[i].value.len < sizeof(want) - 1 ||
        strncasecmp(req->headers.entries[i].value.base, want, sizeof(want) - 1) != 0)
        return -SK_E_BAD_TYPE;
    return sk_form_parse(f, req->entity.base, req->entity.len);
}

static void peer_addr(h2o_req_t *req, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    snprintf(out, cap, "?");
    socklen_t n = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (n == 0)
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, out, cap);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, out, cap);
}

/* A POST from another site is refused whatever it carries: if the browser names an Origin it
 * must be this desk's own. */
static int origin_ok(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_HOST, -1);
    ssize_t o = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (o == -1)
        return 1;
    const h2o_iovec_t *ov = &req->headers.entries[o].value;
    h2o_iovec_t host = i == -1 ? req->authority : req->headers.entries[i].value;
    return ov->len == 8 + host.len && memcmp(ov->base, "https://", 8) == 0 &&
           memcmp(ov->base + 8, host.base, host.len) == 0;
}

static int lang_of(h2o_req_t *req)
{
    char v[8];
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, -1);
    if (i != -1 && sk_cookie_get(req->headers.entries[i].value.base,
                                 req->headers.entries[i].value.len, "lang", v, sizeof(v)) == 0)
        return strcmp(v, "hi") == 0 ? SK_LANG_HI : SK_LANG_EN;
    return SK_LANG_EN;
}

/* ---- login -------------------------------------------------------------------------------- */

static void send_login(h2o_req_t *req, int status, int lang, const char *msg, int bad)
{
    uint8_t raw[32];
    char pre[SK_DESK_TOKEN_LEN + 1], cookie[160];
    sk_buf b = SK_BUF_INIT;
    if (sk_desk_random(raw, sizeof(raw))) {
        security_headers(req, 0);
        send_body(req, 500, "text/plain; charset=utf-8", "no randomness\n", 14);
        return;
    }
    /* Login CSRF: the form's token must equal this cookie's (double submit). */
    sk_b64url(raw, sizeof(raw), pre, sizeof(pre));
    snprintf(cookie, sizeof(cookie),
             DESK_PRE_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict", pre);
    add_hdr_dup(req, H2O_TOKEN_SET_COOKIE, cookie);
    sk_desk_page_login(&b, lang, pre, msg, bad);
    send_page(req, status, &b);
    sk_buf_free(&b);
}

static int pre_token_ok(h2o_req_t *req, const sk_form *f)
{
    char tok[SK_DESK_TOKEN_LEN + 1];
    const char *v = sk_form_get(f, "csrf");
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, -1);
    if (!v || i == -1 || strlen(v) != SK_DESK_TOKEN_LEN ||
        sk_cookie_get(req->headers.entries[i].value.base, req->headers.entries[i].value.len,
                      DESK_PRE_COOKIE, tok, sizeof(tok)) ||
        strlen(tok) != SK_DESK_TOKEN_LEN)
        return 0;
    return sk_ct_equal(v, tok, SK_DESK_TOKEN_LEN);
}

/* Compared against when the name is unknown, so a wrong name costs what a wrong password does. */
static const char k_dummy_hash[] = "$argon2id$v=19$m=19456,t=2,p=1$c2FraGktZGVzay1kdW1teQ$"
                                   "F5OaQ+tEuVnFe1B79jUmYEVp/IYXSvZavTyTBPSLhMo";

/* Lower this pool thread's priority once (Linux: setpriority on a thread id is per thread). A
 * refusal (a system that does not allow it) leaves it as it was. */
static void desk_thread_background(void)
{
    static __thread int done;
    if (done)
        return;
    done = 1;
    errno = 0;
    int now = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (errno == 0 && now < DESK_NICE)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), DESK_NICE);
}

static void login_work(uv_work_t *w)
{
    desk_thread_background();
    desk_job *j = w->data;
    sk_store *st = j->d->srv->store;
    const char *user = sk_form_get(&j->form, "user"), *pw = sk_form_get(&j->form, "password");
    const char *code = sk_form_get(&j->form, "code");
    sk_staff s;
    sk_worker wk;
    MDB_txn *txn = NULL;
    int have = 0;
    j->ok = 0;
    if (!user || !pw)
        return;
    if (mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn) == 0) {
        have = sk_staff_get_txn(st, txn, user, &s) == 0 && !s.disabled && s.pwhash[0] &&
               sk_store_worker_get_txn(st, txn, user, strlen(user), &wk) == 0 && !wk.disabled;
        mdb_txn_abort(txn);
    }
    int match = sk_pw_verify(have ? s.pwhash : k_dummy_hash, pw, strlen(pw));
    if (!have || !match)
        return;
    if (s.has_totp && !sk_totp_check(s.totp, sizeof(s.totp), j->now_ms, code))
        return;
    j->ok = 1;
    snprintf(j->who.user, sizeof(j->who.user), "%s", user);
    j->who.role = s.role;
    j->who.district = wk.district;
    OPENSSL_cleanse(&s, sizeof(s));
}

static void op_submit(sk_desk *d, desk_job *j, int kind);

static void login_done(uv_work_t *w, int status)
{
    desk_job *j = w->data;
    sk_desk *d = j->d;
    char key[SK_MAX_NAME + 80];
    const char *user = sk_form_get(&j->form, "user");
    (void)status;
    d->hashing--;
    snprintf(key, sizeof(key), "%s@%s", user ? user : "", j->addr);
    if (!j->ok) {
        sk_ratelimit_fail(d->rl_user, key, j->now_ms);
        sk_ratelimit_fail(d->rl_addr, j->addr, j->now_ms);
        sk_log(SK_LOG_INFO, "desk_login_failed", "addr=%s", j->addr);
        if (j->req)
            send_login(j->req, 401, j->who.lang, sk_t(j->who.lang, T_LOGIN_FAILED), 1);
        job_free(j);
        return;
    }
    sk_ratelimit_clear(d->rl_user, key);
    /* a session starts now, not when its password check was queued */
    desk_sess *s = j->req && !d->closing ? sess_new(d, sk_now_ms()) : NULL;
    if (!s) {
        if (j->req)
            send_message(j->req, 503, j->who.lang, T_TITLE, T_BUSY);
        job_free(j);
        return;
    }
    char csrf[SK_DESK_TOKEN_LEN + 1];
    memcpy(csrf, s->who.csrf, sizeof(csrf));
    s->who = j->who;
    memcpy(s->who.csrf, csrf, sizeof(csrf));
    char cookie[200];
    snprintf(cookie, sizeof(cookie), DESK_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict",
             s->token);
    add_hdr_dup(j->req, H2O_TOKEN_SET_COOKIE, cookie);
    send_redirect(j->req, "/worklist");
    sk_log(SK_LOG_INFO, "desk_login", "user=%s addr=%s", j->who.user, j->addr);
    j->req = NULL; /* answered; the audit entry goes on without it */
    j->link->job = NULL;
    op_submit(d, j, SK_DESK_OP_LOGIN);
}

/* Hash j's password on the thread pool (work, then done on the loop, which counts it back),
 * at most DESK_MAX_HASHING at once. -1 when it cannot start now: the caller answers busy. */
static int queue_hashing(sk_desk *d, desk_job *j, uv_work_cb work, uv_after_work_cb done)
{
    if (d->hashing >= DESK_MAX_HASHING)
        return -1;
    j->work.data = j;
    if (uv_queue_work(d->srv->loop, &j->work, work, done))
        return -1;
    d->hashing++;
    return 0;
}

static int on_login_post(sk_desk *d, h2o_req_t *req, uint64_t now)
{
    int lang = lang_of(req);
    desk_job *j = job_or_busy(d, req, R_LOGIN_POST, lang, T_TITLE);
    if (!j)
        return 0;
    j->who.lang = lang;
    peer_addr(req, j->addr, sizeof(j->addr));
    if (parse_body(req, &j->form) || !pre_token_ok(req, &j->form)) {
        send_login(req, 403, lang, sk_t(lang, T_CSRF), 1);
        job_free(j);
        return 0;
    }
    const char *user = sk_form_get(&j->form, "user");
    char key[SK_MAX_NAME + 80];
    snprintf(key, sizeof(key), "%s@%s", user ? user : "", j->addr);
    /* Limits per (name, address) and per address: a stranger's guesses never lock the real
     * person out from her own computer. */
    if (sk_ratelimit_check(d->rl_user, key, now) || sk_ratelimit_check(d->rl_addr, j->addr, now)) {
        sk_log(SK_LOG_INFO, "desk_login_limited", "addr=%s", j->addr);
        send_login(req, 429, lang, sk_t(lang, T_RATE_LIMITED), 1);
        job_free(j);
        return 0;
    }
    if (queue_hashing(d, j, login_work, login_done)) {
        send_login(req, 503, lang, sk_t(lang, T_BUSY), 1);
        job_free(j);
    }
    return 0;
}

/* ---- setup link --------------------------------------------------------------------------- */

static void setup_work(uv_work_t *w)
{
    desk_thread_background();
    desk_job *j = w->data;
    const char *pw = sk_form_get(&j->form, "password");
    j->ok = pw && sk_pw_hash(pw, strlen(pw), j->pwhash) == 0;
}

static void setup_done(uv_work_t *w, int status)
{
    desk_job *j = w->data;
    (void)status;
    j->d->hashing--;
    if (!j->ok) {
        if (j->req)
            send_message(j->req, 500, j->who.lang, T_SETUP, T_BUSY);
        job_free(j);
        return;
    }
    memcpy(j->op.pwhash, j->pwhash, sizeof(j->op.pwhash));
    snprintf(j->op.token, sizeof(j->op.token), "%s", sk_form_get(&j->form, "t"));
    op_submit(j->d, j, SK_DESK_OP_SETPW);
}

static int on_setup_post(sk_desk *d, h2o_req_t *req)
{
    int lang = lang_of(req);
    desk_job *j = job_or_busy(d, req, R_SETUP_POST, lang, T_SETUP);
    if (!j)
        return 0;
    j->who.lang = lang;
    if (parse_body(req, &j->form) || !pre_token_ok(req, &j->form)) {
        sk_log(SK_LOG_INFO, "desk_refused", "reason=setup_form");
        send_message(req, 403, lang, T_SETUP, T_CSRF);
        job_free(j);
        return 0;
    }
    const char *u = sk_form_get(&j->form, "u"), *t = sk_form_get(&j->form, "t");
    const char *p1 = sk_form_get(&j->form, "password"), *p2 = sk_form_get(&j->form, "password2");
    if (!u || !t || strlen(u) > SK_MAX_NAME || strlen(t) != SK_SETUP_TOKEN_LEN) {
        send_message(req, 400, lang, T_SETUP, T_SETUP_BAD);
        job_free(j);
        return 0;
    }
    if (!p1 || !p2 || strcmp(p1, p2) != 0 || strlen(p1) < SK_PW_MIN_LEN ||
        strlen(p1) > SK_PW_MAX_LEN) {
        sk_buf b = SK_BUF_INIT;
        sk_desk_page_setup(&b, lang, u, t, sk_form_get(&j->form, "csrf"), sk_t(lang, T_PW_RULES));
        send_page(req, 400, &b);
        sk_buf_free(&b);
        job_free(j);
        return 0;
    }
    snprintf(j->who.user, sizeof(j->who.user), "%s", u);
    if (queue_hashing(d, j, setup_work, setup_done)) {
        send_message(req, 503, lang, T_SETUP, T_BUSY);
        job_free(j);
    }
    return 0;
}

/* ---- staff operations through the writer ------------------------------------------------- */

/* The answer to an enrollment: the code, the URI (this desk's host, the sync port, the pin)
 * and its QR code. Sent to this POST only (no-store), never kept. */
static void enrolled_page(sk_desk *d, desk_job *j)
{
    sk_buf uri = SK_BUF_INIT, page = SK_BUF_INIT;
    sk_enroll_uri u;
    unsigned port = d->srv->port;
    memset(&u, 0, sizeof(u));
    u.naddrs = 1;
    u.addrs[0].port = (uint16_t)port;
    memcpy(u.pin, d->pin, sizeof(u.pin));
    if (snprintf(u.addrs[0].host, sizeof(u.addrs[0].host), "%s", j->host) <
            (int)sizeof(u.addrs[0].host) &&
        snprintf(u.code, sizeof(u.code), "%s", j->op.text) < (int)sizeof(u.code) &&
        sk_uri_format(&uri, &u) == 0 && sk_buf_append(&uri, "", 1) == 0) {
        int st =
            sk_desk_page_enrolled(&page, &j->who, j->op.worker, j->op.text, (const char *)uri.data);
        send_page(j->req, st, &page);
    } else {
        send_message(j->req, 500, j->who.lang, T_TITLE, T_BUSY);
    }
    OPENSSL_cleanse(&u, sizeof(u));
    OPENSSL_cleanse(uri.data, uri.cap);
    OPENSSL_cleanse(page.data, page.cap);
    sk_buf_free(&uri);
    sk_buf_free(&page);
    OPENSSL_cleanse(j->op.text, sizeof(j->op.text));
}

/* Set the flash a session's next page shows for an op that failed (rc) or was refused (why:
 * the error's text, or op->msg): 1, or 0 with the flash cleared for the caller to fill. */
static int flash_refused(desk_sess *s, int rc, const sk_desk_op *op)
{
    s->who.flash_bad = rc != 0 || op->refused;
    s->who.flash[0] = '\0';
    if (rc || op->refused)
        snprintf(s->who.flash, sizeof(s->who.flash), "%s: %s", sk_t(s->who.lang, T_REFUSED),
                 rc ? sk_err_text(rc) : op->msg);
    return s->who.flash_bad;
}

static void op_done(sk_wreq *w)
{
    sk_desk_op *op = w->call_arg;
    desk_job *j = (desk_job *)(void *)((char *)op - offsetof(desk_job, op));
    sk_desk *d = j->d;
    int rc = w->rc;
    w->call_arg = NULL;
    sk_wreq_free(w);
    if (rc)
        sk_log(SK_LOG_WARN, "desk_op_failed", "op=%d user=%s code=%s", op->kind, op->who.user,
               sk_err_name(rc));
    if (op->kind == SK_DESK_OP_SETPW) {
        if (j->req) {
            int bad = rc || op->refused;
            sk_buf b = SK_BUF_INIT;
            if (bad)
                sk_desk_page_message(&b, j->who.lang, sk_t(j->who.lang, T_SETUP),
                                     rc ? sk_err_text(rc) : op->msg);
            else
                sk_desk_page_login(&b, j->who.lang, "", sk_t(j->who.lang, T_PW_SET), 0);
            if (!bad) { /* the login page needs its own token: send it through send_login */
                sk_buf_free(&b);
                send_login(j->req, 200, j->who.lang, sk_t(j->who.lang, T_PW_SET), 0);
            } else {
                send_page(j->req, rc ? 503 : 400, &b);
                sk_buf_free(&b);
            }
        }
        if (!rc && !op->refused)
            sk_log(SK_LOG_INFO, "desk_password_set", "user=%s", op->who.user);
        job_free(j);
        return;
    }
    if (op->kind == SK_DESK_OP_ENROLL && j->req && rc == 0 && !op->refused) {
        enrolled_page(d, j);
        job_free(j);
        return;
    }
    if (op->kind == SK_DESK_OP_REVOKE || op->kind == SK_DESK_OP_ENROLL) {
        desk_sess *s = sess_by_token(d, j->sess_token, sk_now_ms());
        if (s && !flash_refused(s, rc, op))
            snprintf(s->who.flash, sizeof(s->who.flash), "%s", sk_t(s->who.lang, T_DONE));
        if (j->req)
            send_redirect(j->req, "/devices");
        job_free(j);
        return;
    }
    if (op->kind == SK_DESK_OP_EXPORT) {
        if (j->req && rc == 0) {
            char disp[96];
            snprintf(disp, sizeof(disp), "attachment; filename=\"sakhi-report-%.7s.csv\"",
                     op->text);
            security_headers(j->req, 0);
            add_hdr_dup(j->req, H2O_TOKEN_CONTENT_DISPOSITION, disp);
            send_body(j->req, 200, "text/csv; charset=utf-8", j->body.data, j->body.len);
        } else if (j->req) {
            send_message(j->req, 503, j->who.lang, T_REPORT, T_BUSY);
        }
        job_free(j);
        return;
    }
    if (op->kind == SK_DESK_OP_SEARCH) {
        if (j->req && rc == 0)
            send_page(j->req, j->status, &j->body);
        else if (j->req)
            send_message(j->req, 503, j->who.lang, T_SEARCH, T_BUSY);
        job_free(j);
        return;
    }
    if (op->kind == SK_DESK_OP_CASE || op->kind == SK_DESK_OP_REVEAL) {
        desk_sess *s = sess_by_token(d, j->sess_token, sk_now_ms());
        if (s && !flash_refused(s, rc, op)) {
            int lang = s->who.lang;
            if (op->kind == SK_DESK_OP_CASE && op->outcome == SK_CW_CLOSE_REQUESTED)
                snprintf(s->who.flash, sizeof(s->who.flash), "%s", sk_t(lang, T_CLOSE_REQUESTED));
            else if (op->kind == SK_DESK_OP_CASE && op->cw.kind == SK_CW_ACCEPT)
                snprintf(s->who.flash, sizeof(s->who.flash), "%s %s", sk_t(lang, T_DONE),
                         op->case_no);
            else if (op->kind == SK_DESK_OP_CASE)
                snprintf(s->who.flash, sizeof(s->who.flash), "%s", sk_t(lang, T_DONE));
        }
        if (s && op->kind == SK_DESK_OP_REVEAL && !rc) { /* shown only once the audit is durable */
            s->who.reveal = op->id;
            s->who.reveal_until_ms = sk_now_ms() + DESK_REVEAL_MS;
        }
        if (j->req) {
            char loc[80], idt[37];
            sk_id_to_str(&op->id, idt);
            snprintf(loc, sizeof(loc), "/case?id=%s", idt);
            send_redirect(j->req, loc);
        }
    }
    job_free(j);
}

static void op_submit(sk_desk *d, desk_job *j, int kind)
{
    sk_wreq *w = d->srv->writer && !d->srv->stopped ? sk_wreq_new(SK_WREQ_CALL, 0) : NULL;
    if (!w) {
        if (j->req)
            send_message(j->req, 503, j->who.lang, T_TITLE, T_BUSY);
        job_free(j);
        return;
    }
    j->op.kind = kind;
    j->op.who = j->who;
    j->op.now_ms = sk_now_ms();
    w->now_ms = j->op.now_ms;
    w->call = sk_desk_op_run;
    w->call_done = op_done;
    w->call_arg = &j->op; /* sk_desk_op_run's argument; op_done finds the job around it */
    sk_writer_submit(d->srv->writer, w);
}

/* ---- pages on the thread pool ------------------------------------------------------------- */

static void page_work(uv_work_t *w)
{
    desk_thread_background();
    desk_job *j = w->data;
    sk_store *st = j->d->srv->store;
    switch (j->route) {
    case R_WORKLIST:
        j->status = sk_desk_page_worklist(&j->body, st, j->d->index, &j->who, &j->form, j->now_ms);
        break;
    case R_TASKS: j->status = sk_desk_page_tasks(&j->body, st, &j->who, j->now_ms); break;
    case R_ALERTS: j->status = sk_desk_page_alerts(&j->body, st, &j->who, j->now_ms); break;
    case R_DEVICES: j->status = sk_desk_page_devices(&j->body, st, &j->who, j->now_ms); break;
    case R_REPORT:
        j->status = sk_desk_page_report(&j->body, st, &j->who, &j->form, j->now_ms);
        break;
    case R_REPORT_CSV: {
        char month[8] = "";
        int rc = sk_desk_report_csv(&j->body, st, &j->who, &j->form, j->now_ms, month);
        j->status = rc == 0 ? 200 : rc == -SK_E_BAD_VALUE ? 400 : 503;
        snprintf(j->op.text, sizeof(j->op.text), "%s", month);
        break;
    }
    case R_AUDIT: j->status = sk_desk_page_audit(&j->body, st, &j->who, &j->form); break;
    case R_SEARCH:
        j->status = sk_desk_page_search(&j->body, st, &j->who, &j->form, j->now_ms, &j->did_search,
                                        &j->found);
        break;
    default:
        j->status =
            sk_desk_page_case(&j->body, st, &j->who, &j->form, j->now_ms, &j->viewed, &j->did_view);
    }
}

static void page_work(uv_work_t *w);
static void page_done(uv_work_t *w, int status);

/* Start queued pages while there is room; a page whose client left is dropped unrendered. */
static void pages_pump(sk_desk *d)
{
    while (d->rendering < DESK_MAX_RENDER && d->pq_head) {
        desk_job *j = d->pq_head;
        d->pq_head = j->qnext;
        if (!d->pq_head)
            d->pq_tail = NULL;
        d->pq_len--;
        j->qnext = NULL;
        if (!j->req) {
            job_free(j);
            continue;
        }
        j->work.data = j;
        if (uv_queue_work(d->srv->loop, &j->work, page_work, page_done)) {
            send_message(j->req, 503, j->who.lang, T_TITLE, T_BUSY);
            job_free(j);
            continue;
        }
        d->rendering++;
    }
}

static void page_done(uv_work_t *w, int status)
{
    desk_job *j = w->data;
    (void)status;
    j->d->rendering--;
    pages_pump(j->d);
    if (j->route == R_REPORT_CSV && j->req) {
        if (j->status != 200) {
            send_message(j->req, j->status, j->who.lang, T_REPORT,
                         j->status == 400 ? T_BAD_FORM : T_BUSY);
            job_free(j);
            return;
        }
        op_submit(j->d, j, SK_DESK_OP_EXPORT); /* an export: audited before it is sent */
        return;
    }
    if (j->did_search && j->req) {
        /* results name women: sent only once the search is in the audit chain (op_done) */
        j->op.count = j->found;
        op_submit(j->d, j, SK_DESK_OP_SEARCH);
        return;
    }
    if (j->req)
        send_page(j->req, j->status, &j->body);
    if (j->did_view && j->req) {
        /* who opened which record, for the record's own page and the audit trail */
        j->req = NULL;
        j->link->job = NULL;
        j->op.id = j->viewed;
        op_submit(j->d, j, SK_DESK_OP_VIEW);
        return;
    }
    job_free(j);
}

static int start_page(sk_desk *d, h2o_req_t *req, desk_sess *s, int route)
{
    desk_job *j = job_or_busy(d, req, route, s->who.lang, T_TITLE);
    if (!j)
        return 0;
    j->who = s->who;
    if (j->who.reveal_until_ms < j->now_ms)
        memset(&j->who.reveal, 0, sizeof(j->who.reveal));
    s->who.flash[0] = '\0'; /* shown once */
    if (parse_query(req, &j->form)) {
        send_message(req, 400, s->who.lang, T_TITLE, T_NOT_FOUND);
        job_free(j);
        return 0;
    }
    if (d->pq_len >= DESK_PAGE_QUEUE) {
        send_message(req, 503, s->who.lang, T_TITLE, T_BUSY);
        job_free(j);
        return 0;
    }
    SK_LIST_APPEND(d->pq_head, d->pq_tail, j, qnext);
    d->pq_len++;
    pages_pump(d);
    return 0;
}

/* ---- routing ------------------------------------------------------------------------------ */

static int csrf_ok(const desk_sess *s, const sk_form *f)
{
    const char *v = sk_form_get(f, "csrf");
    return v && strlen(v) == SK_DESK_TOKEN_LEN && sk_ct_equal(v, s->who.csrf, SK_DESK_TOKEN_LEN);
}

/* A job for a form posted in session s, its body parsed and its CSRF token checked; NULL when
 * the request is answered already (busy, or a wrong token: logged, whichever form it was). */
static desk_job *post_job(sk_desk *d, h2o_req_t *req, desk_sess *s)
{
    desk_job *j = job_or_busy(d, req, R_OP, s->who.lang, T_TITLE);
    if (!j)
        return NULL;
    j->who = s->who;
    memcpy(j->sess_token, s->token, sizeof(j->sess_token));
    if (parse_body(req, &j->form) || !csrf_ok(s, &j->form)) {
        sk_log(SK_LOG_WARN, "desk_csrf_refused", "user=%s", s->who.user);
        send_message(req, 403, s->who.lang, T_TITLE, T_CSRF);
        job_free(j);
        return NULL;
    }
    return j;
}

/* A form the desk did not make (or a value out of its choices): nothing is applied, the next
 * page says so and the request goes back to loc. */
static void refuse_form(h2o_req_t *req, desk_sess *s, desk_job *j, const char *loc)
{
    s->who.flash_bad = 1;
    snprintf(s->who.flash, sizeof(s->who.flash), "%s: %s", sk_t(s->who.lang, T_REFUSED),
             sk_t(s->who.lang, T_BAD_FORM));
    send_redirect(req, loc);
    job_free(j);
}

static int on_op_post(sk_desk *d, h2o_req_t *req, desk_sess *s, int kind, const char *name)
{
    desk_job *j = post_job(d, req, s);
    if (!j)
        return 0;
    const char *id = sk_form_get(&j->form, "id");
    if (!id || sk_id_from_str(&j->op.id, id) != 0) {
        send_message(req, 400, s->who.lang, T_TITLE, T_NOT_FOUND);
        job_free(j);
        return 0;
    }
    if (kind == SK_DESK_OP_CASE && sk_desk_case_op_parse(&j->op, name, &j->form) != 0) {
        char loc[80];
        snprintf(loc, sizeof(loc), "/case?id=%s", id);
        refuse_form(req, s, j, loc);
        return 0;
    }
    op_submit(d, j, kind);
    return 0;
}

/* The host part of the request's Host (the address this desk was reached at). */
static void request_host(h2o_req_t *req, char *out, size_t cap)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_HOST, -1);
    h2o_iovec_t h = i == -1 ? req->authority : req->headers.entries[i].value;
    size_t n = h.len;
    const char *p = h.base;
    if (n && p[0] == '[') { /* [v6]:port */
        const char *e = memchr(p, ']', n);
        n = e ? (size_t)(e - p - 1) : 0;
        p++;
    } else {
        const char *e = memchr(p, ':', n);
        if (e)
            n = (size_t)(e - p);
    }
    if (n >= cap)
        n = 0;
    memcpy(out, p, n);
    out[n] = '\0';
}

static int on_device_post(sk_desk *d, h2o_req_t *req, desk_sess *s, int kind)
{
    desk_job *j = post_job(d, req, s);
    if (!j)
        return 0;
    if (s->who.role != SK_DESK_ADMIN) {
        send_message(req, 403, s->who.lang, T_DEVICES, T_ADMIN_ONLY);
        job_free(j);
        return 0;
    }
    const char *dev = sk_form_get(&j->form, "device"), *wk = sk_form_get(&j->form, "worker");
    char *end = NULL;
    int bad = 0;
    if (kind == SK_DESK_OP_REVOKE) {
        unsigned long long v = dev && dev[0] >= '0' && dev[0] <= '9' ? strtoull(dev, &end, 10) : 0;
        bad = !dev || !end || *end || v == 0;
        j->op.count = v;
    } else {
        bad = !wk || !wk[0] || strlen(wk) > SK_MAX_NAME;
        if (!bad)
            snprintf(j->op.worker, sizeof(j->op.worker), "%s", wk);
        request_host(req, j->host, sizeof(j->host));
        bad = bad || !j->host[0];
    }
    if (bad) {
        refuse_form(req, s, j, "/devices");
        return 0;
    }
    op_submit(d, j, kind);
    return 0;
}

static int on_logout(sk_desk *d, h2o_req_t *req, desk_sess *s)
{
    sk_form f;
    if (parse_body(req, &f) || !csrf_ok(s, &f)) {
        send_message(req, 403, s->who.lang, T_TITLE, T_CSRF);
        return 0;
    }
    desk_job *j = job_new(d, req, R_OP);
    sk_desk_who who = s->who;
    OPENSSL_cleanse(s, sizeof(*s));
    add_hdr(req, H2O_TOKEN_SET_COOKIE,
            DESK_COOKIE "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    send_redirect(req, "/login");
    if (j) {
        j->req = NULL;
        j->link->job = NULL;
        j->who = who;
        op_submit(d, j, SK_DESK_OP_LOGOUT);
    }
    return 0;
}

static int on_version(sk_desk *d, h2o_req_t *req)
{
    MDB_txn *txn;
    uint64_t seq = 0;
    char body[64];
    if (mdb_txn_begin(sk_store_env(d->srv->store), NULL, MDB_RDONLY, &txn) == 0) {
        (void)sk_store_seq_get_txn(d->srv->store, txn, &seq);
        mdb_txn_abort(txn);
    }
    int n = snprintf(body, sizeof(body), "{\"seq\":%llu}\n", (unsigned long long)seq);
    security_headers(req, 0);
    send_body(req, 200, "application/json", body, (size_t)n);
    return 0;
}

/* The pages a signed-in GET opens: route, whether only an administrator may (titled so in the
 * refusal), and whether a visitor without a session is sent to the login page for it. */
typedef struct desk_page {
    const char *path;
    int route;
    int admin_only;
    sk_desk_msg title;
    int to_login;
} desk_page;

static const desk_page k_pages[] = {
    {"/worklist", R_WORKLIST, 0, T_TITLE, 1}, {"/case", R_CASE, 0, T_TITLE, 1},
    {"/tasks", R_TASKS, 0, T_TITLE, 1},       {"/alerts", R_ALERTS, 0, T_TITLE, 1},
    {"/search", R_SEARCH, 0, T_TITLE, 1},     {"/devices", R_DEVICES, 1, T_DEVICES, 1},
    {"/report", R_REPORT, 0, T_TITLE, 1},     {"/report.csv", R_REPORT_CSV, 0, T_TITLE, 0},
    {"/audit", R_AUDIT, 1, T_AUDIT, 1},
};

static const desk_page *page_of(h2o_req_t *req)
{
    for (size_t i = 0; i < sizeof(k_pages) / sizeof(k_pages[0]); i++)
        if (path_is(req, k_pages[i].path))
            return &k_pages[i];
    return NULL;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    sk_desk *d = ((desk_handler *)self)->d;
    uint64_t now = sk_now_ms();
    int post = method_is(req, "POST"), get = method_is(req, "GET") || method_is(req, "HEAD");
    int lang = lang_of(req);
    if (!post && !get) {
        security_headers(req, 0);
        add_hdr(req, H2O_TOKEN_ALLOW, "GET, HEAD, POST");
        send_body(req, 405, "text/plain; charset=utf-8", "", 0);
        return 0;
    }
    if (post && !origin_ok(req)) {
        sk_log(SK_LOG_INFO, "desk_refused", "reason=origin");
        send_message(req, 403, lang, T_TITLE, T_CSRF);
        return 0;
    }
    if (get && path_is(req, "/static/desk.js")) {
        security_headers(req, 1);
        send_body(req, 200, "text/javascript; charset=utf-8", sk_desk_js, strlen(sk_desk_js));
        return 0;
    }
    if (get && path_is(req, "/static/desk.css")) {
        security_headers(req, 1);
        send_body(req, 200, "text/css; charset=utf-8", sk_desk_css, strlen(sk_desk_css));
        return 0;
    }
    if (get && path_is(req, "/lang")) {
        sk_form q;
        const char *to = parse_query(req, &q) == 0 ? sk_form_get(&q, "to") : NULL;
        add_hdr(req, H2O_TOKEN_SET_COOKIE,
                to && strcmp(to, "hi") == 0 ? "lang=hi; Path=/; Secure; SameSite=Strict"
                                            : "lang=en; Path=/; Secure; SameSite=Strict");
        desk_sess *s = sess_find(d, req, now);
        if (s)
            s->who.lang = to && strcmp(to, "hi") == 0 ? SK_LANG_HI : SK_LANG_EN;
        send_redirect(req, s ? "/worklist" : "/login");
        return 0;
    }
    if (path_is(req, "/login")) {
        if (post)
            return on_login_post(d, req, now);
        if (sess_find(d, req, now)) {
            send_redirect(req, "/worklist");
            return 0;
        }
        send_login(req, 200, lang, NULL, 0);
        return 0;
    }
    if (path_is(req, "/setup")) {
        if (post)
            return on_setup_post(d, req);
        sk_form q;
        const char *u = NULL, *t = NULL;
        if (parse_query(req, &q) == 0) {
            u = sk_form_get(&q, "u");
            t = sk_form_get(&q, "t");
        }
        if (!u || !t || strlen(u) > SK_MAX_NAME || strlen(t) != SK_SETUP_TOKEN_LEN) {
            send_message(req, 400, lang, T_SETUP, T_SETUP_BAD);
            return 0;
        }
        /* the form carries a pre-login token, double-submitted with this cookie */
        uint8_t raw[32];
        char pre[SK_DESK_TOKEN_LEN + 1], cookie[160];
        sk_buf b = SK_BUF_INIT;
        if (sk_desk_random(raw, sizeof(raw))) {
            send_message(req, 500, lang, T_SETUP, T_BUSY);
            return 0;
        }
        sk_b64url(raw, sizeof(raw), pre, sizeof(pre));
        snprintf(cookie, sizeof(cookie),
                 DESK_PRE_COOKIE "=%s; Path=/; Secure; HttpOnly; SameSite=Strict", pre);
        add_hdr_dup(req, H2O_TOKEN_SET_COOKIE, cookie);
        sk_desk_page_setup(&b, lang, u, t, pre, NULL);
        send_page(req, 200, &b);
        sk_buf_free(&b);
        return 0;
    }
    desk_sess *s = sess_find(d, req, now);
    if (!s) {
        const desk_page *pg = get ? page_of(req) : NULL;
        if (get && (path_is(req, "/") || (pg && pg->to_login))) {
            send_redirect(req, "/login");
            return 0;
        }
        send_message(req, 401, lang, T_TITLE, T_SESSION_ENDED);
        return 0;
    }
    if (get && path_is(req, "/"))
        return send_redirect(req, "/worklist"), 0;
    const desk_page *pg = get ? page_of(req) : NULL;
    if (pg) {
        if (pg->admin_only && s->who.role != SK_DESK_ADMIN) {
            send_message(req, 403, s->who.lang, pg->title, T_ADMIN_ONLY);
            return 0;
        }
        return start_page(d, req, s, pg->route);
    }
    if (post && path_is(req, "/devices/revoke"))
        return on_device_post(d, req, s, SK_DESK_OP_REVOKE);
    if (post && path_is(req, "/devices/enroll"))
        return on_device_post(d, req, s, SK_DESK_OP_ENROLL);
    if (get && path_is(req, "/api/version"))
        return on_version(d, req);
    if (post && path_is(req, "/logout"))
        return on_logout(d, req, s);
    if (post && path_is(req, "/case/reveal"))
        return on_op_post(d, req, s, SK_DESK_OP_REVEAL, NULL);
    if (post && req->path_normalized.len > 6 && req->path_normalized.len < 6 + 32 &&
        memcmp(req->path_normalized.base, "/case/", 6) == 0) {
        /* /case/<operation>, the casework API's names (accept, decline, assign, ...) */
        char name[32];
        memcpy(name, req->path_normalized.base + 6, req->path_normalized.len - 6);
        name[req->path_normalized.len - 6] = '\0';
        return on_op_post(d, req, s, SK_DESK_OP_CASE, name);
    }
    send_message(req, 404, s->who.lang, T_TITLE, T_NOT_FOUND);
    return 0;
}

/* ---- connections -------------------------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h)
{
    desk_conn *c = (desk_conn *)h;
    sk_desk *d = c->d;
    SK_DLIST_REMOVE(d->conns, c, prev, next);
    free(c);
    d->nconn--;
    desk_maybe_free(d);
}

static void close_free(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *l, int status)
{
    sk_desk *d = l->data;
    if (status < 0 || d->closing)
        return;
    desk_conn *c = malloc(sizeof(*c));
    if (!c) {
        sk_log(SK_LOG_WARN, "desk_accept_failed", "code=NOMEM");
        return;
    }
    c->d = d;
    if (uv_tcp_init(d->srv->loop, &c->tcp)) {
        free(c);
        return;
    }
    if (uv_accept(l, (uv_stream_t *)&c->tcp) || d->nconn >= d->srv->cfg->desk_max_conn) {
        uv_close((uv_handle_t *)&c->tcp, close_free);
        return;
    }
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_closed);
    d->nconn++;
    SK_DLIST_PUSH(d->conns, c, prev, next);
    h2o_accept(&d->actx, sock);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static SSL_CTX *make_ssl(const sk_config *cfg, char *err, size_t errcap)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (!ssl) {
        snprintf(err, errcap, "cannot make the desk's TLS context");
        return NULL;
    }
    /* TLS 1.3 only, as the sync port: every browser a centre is likely to run has it. */
    if (SSL_CTX_set_min_proto_version(ssl, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ssl, cfg->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl, cfg->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ssl) != 1) {
        snprintf(err, errcap, "the desk cannot use the TLS certificate %s and key %s",
                 cfg->tls_cert, cfg->tls_key);
        SSL_CTX_free(ssl);
        return NULL;
    }
    SSL_CTX_set_options(ssl, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    return ssl;
}

static int write_port_file(const char *path, unsigned port, char *err, size_t errcap)
{
    char tmp[SK_CONFIG_PATH_MAX + 8];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    int bad = !fp || fprintf(fp, "%u\n", port) < 0;
    if (fp && fclose(fp) != 0)
        bad = 1;
    if (!bad && rename(tmp, path) != 0)
        bad = 1;
    if (bad) {
        snprintf(err, errcap, "cannot write desk port file %s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

static void listener_closed(uv_handle_t *h)
{
    sk_desk *d = h->data;
    d->listener_init = 0;
    desk_maybe_free(d);
}

static void desk_maybe_free(sk_desk *d)
{
    if (!d->freed || d->nconn || d->jobs || d->listener_init)
        return;
    if (d->ctx_init) {
        /* h2o_context_request_shutdown leaves HTTP/2's GOAWAY resend timer linked on the
         * one-second timeout even with no connection; dispose asserts every list is empty. */
        if (h2o_timeout_is_linked(&d->ctx.http2._graceful_shutdown_timeout))
            h2o_timeout_unlink(&d->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&d->ctx);
        d->ctx_init = 0;
    }
    if (d->conf_init)
        h2o_config_dispose(&d->conf);
    SSL_CTX_free(d->ssl);
    sk_ratelimit_free(d->rl_user);
    sk_ratelimit_free(d->rl_addr);
    sk_desk_index_free(d->index);
    OPENSSL_cleanse(d->sess, sizeof(d->sess));
    free(d);
}

int sk_desk_busy(const sk_desk *d)
{
    return d && d->jobs > 0;
}

void sk_desk_shutdown(sk_desk *d)
{
    if (!d || d->closing)
        return;
    d->closing = 1;
    if (d->listening) {
        uv_close((uv_handle_t *)&d->listener, listener_closed);
        d->listening = 0;
    }
    if (d->ctx_init)
        h2o_context_request_shutdown(&d->ctx);
}

void sk_desk_close(sk_desk *d)
{
    if (!d)
        return;
    sk_desk_shutdown(d);
    /* No page or operation is in flight any more (the server waited for them): a connection
     * left is idle between requests. Shutting its socket down makes h2o read an end of stream
     * and close it its own way, instead of waiting out the request timeout. */
    for (desk_conn *c = d->conns; c; c = c->next) {
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
    d->freed = 1;
    desk_maybe_free(d);
}

int sk_desk_start(sk_desk **out, sk_server *srv, char *err, size_t errcap)
{
    const sk_config *cfg = srv->cfg;
    sk_desk *d = calloc(1, sizeof(*d));
    int ret = 0, urc;
    if (!d) {
        snprintf(err, errcap, "out of memory");
        return 3;
    }
    d->srv = srv;
    d->rl_user = sk_ratelimit_new(cfg->desk_login_limit, DESK_LOGIN_BACKOFF_MS,
                                  DESK_LOGIN_BACKOFF_MAX_MS, DESK_LOGIN_BACKOFF_MAX_MS, 4096);
    d->rl_addr = sk_ratelimit_new(cfg->desk_login_limit_addr, DESK_LOGIN_BACKOFF_MS,
                                  DESK_LOGIN_BACKOFF_MAX_MS, DESK_LOGIN_BACKOFF_MAX_MS, 4096);
    d->index = sk_desk_index_new();
    if (!d->rl_user || !d->rl_addr || !d->index) {
        snprintf(err, errcap, "out of memory");
        ret = 3;
        goto out;
    }
    if (!(d->ssl = make_ssl(cfg, err, errcap))) {
        ret = 2;
        goto out;
    }
    if (sk_tls_pin_from_cert_file(d->pin, cfg->tls_cert, err, errcap) != 0) {
        ret = 2;
        goto out;
    }
    h2o_config_init(&d->conf);
    d->conf_init = 1;
    d->conf.server_name = h2o_iovec_init(H2O_STRLIT("sakhi-desk"));
    d->conf.max_request_entity_size = DESK_MAX_ENTITY;
    d->conf.http1.req_timeout = 10000;
    d->conf.handshake_timeout = 10000;
    /* HTTP/1.1 only (no ALPN offered); no HTTP/2 graceful-shutdown timer left linked when the
     * context is disposed. */
    d->conf.http2.graceful_shutdown_timeout = 0;
    h2o_hostconf_t *host =
        h2o_config_register_host(&d->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    desk_handler *h = (desk_handler *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->d = d;
    h2o_context_init(&d->ctx, srv->loop, &d->conf);
    d->ctx_init = 1;
    d->actx.ctx = &d->ctx;
    d->actx.hosts = d->conf.hosts;
    d->actx.ssl_ctx = d->ssl;

    struct sockaddr_storage addr;
    if (sk_conn_listen_addr(cfg->listen, cfg->desk_port, &addr) != 0) {
        snprintf(err, errcap, "bad listen address %s", cfg->listen);
        ret = 4;
        goto out;
    }
    if ((urc = uv_tcp_init(srv->loop, &d->listener))) {
        snprintf(err, errcap, "cannot listen for the desk: %s", uv_strerror(urc));
        ret = 4;
        goto out;
    }
    d->listener.data = d;
    d->listener_init = 1;
    urc = uv_tcp_bind(&d->listener, (struct sockaddr *)&addr, 0);
    if (urc == 0)
        urc = uv_listen((uv_stream_t *)&d->listener, 128, on_connection);
    if (urc) {
        snprintf(err, errcap, "cannot listen for the desk on %s port %u: %s", cfg->listen,
                 cfg->desk_port, uv_strerror(urc));
        ret = 4;
        goto out;
    }
    d->listening = 1;
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    unsigned port = cfg->desk_port;
    if (uv_tcp_getsockname(&d->listener, (struct sockaddr *)&bound, &blen) == 0)
        port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                : ((struct sockaddr_in6 *)&bound)->sin6_port);
    if (cfg->desk_port_file[0] && write_port_file(cfg->desk_port_file, port, err, errcap)) {
        ret = 2;
        goto out;
    }
    sk_log(SK_LOG_INFO, "desk_listening", "addr=%s port=%u tls=1.3", cfg->listen, port);
out:
    if (ret) {
        if (d->listening) {
            uv_close((uv_handle_t *)&d->listener, listener_closed);
            d->listening = 0;
        } else if (d->listener_init) {
            uv_close((uv_handle_t *)&d->listener, listener_closed);
        }
        d->closing = 1;
        d->freed = 1;
        desk_maybe_free(d);
        return ret;
    }
    *out = d;
    return 0;
}
