/*
 * sk_link.c - a server's blocking connection to another server (contract in sk_link.h): the
 * standby's link to its primary and a centre's link to its hub.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sk_link.h"

#include "sk_auth.h"
#include "sk_context.h"
#include "sk_engine.h"
#include "sk_err.h"
#include "sk_log.h"
#include "sk_store.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int sk_link_stopping(const sk_link *l)
{
    return __atomic_load_n(l->peer->stop, __ATOMIC_ACQUIRE);
}

static void *link_thread_main(void *arg)
{
    sk_link_thread *t = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), t->name);
#endif
    return t->main(t->arg);
}

int sk_link_thread_start(sk_link_thread *t, const char *name, void *(*main)(void *), void *arg)
{
    t->name = name;
    t->main = main;
    t->arg = arg;
    if (pthread_create(&t->thread, NULL, link_thread_main, t))
        return -1;
    t->started = 1;
    return 0;
}

int sk_link_thread_stopping(const sk_link_thread *t)
{
    return __atomic_load_n(&t->stop, __ATOMIC_ACQUIRE);
}

void sk_link_thread_nap(const sk_link_thread *t, uint64_t ms)
{
    for (uint64_t at = 0; at < ms && !sk_link_thread_stopping(t); at += 50)
        usleep(50 * 1000);
}

void sk_link_thread_stop(sk_link_thread *t)
{
    __atomic_store_n(&t->stop, 1, __ATOMIC_RELEASE);
    if (t->started) {
        pthread_join(t->thread, NULL);
        t->started = 0;
    }
}

void sk_link_init(sk_link *l, const sk_link_peer *peer)
{
    memset(l, 0, sizeof(*l));
    l->peer = peer;
    l->fd = -1;
    sk_frame_reader_init(&l->rd, 64u << 10);
}

/* Wait for fd (events) for at most ms, in slices that notice a stop. 1 ready, 0 timeout/stop. */
static int wait_fd(sk_link *l, short events, int ms)
{
    while (ms > 0 && !sk_link_stopping(l)) {
        struct pollfd pf = {l->fd, events, 0};
        int slice = ms < 200 ? ms : 200;
        int n = poll(&pf, 1, slice);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return 0;
        ms -= slice;
    }
    return 0;
}

static int sock_send(sk_link *l, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(l->fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(l, POLLOUT, SK_LINK_IO_MS))
            continue;
        snprintf(l->why, sizeof(l->why), "send: %s", k < 0 ? strerror(errno) : "closed");
        return -1;
    }
    return 0;
}

static int tls_flush(sk_link *l)
{
    const uint8_t *p;
    size_t n;
    for (;;) {
        if (sk_tls_pending_out(l->tls, &p, &n))
            return -1;
        if (n == 0)
            return 0;
        if (sock_send(l, p, n))
            return -1;
        sk_tls_consume_out(l->tls, n);
    }
}

int sk_link_send(sk_link *l, const uint8_t *p, size_t n)
{
    if (!l->tls)
        return sock_send(l, p, n);
    if (sk_tls_write(l->tls, p, n)) {
        snprintf(l->why, sizeof(l->why), "TLS: %s", sk_tls_error(l->tls));
        return -1;
    }
    return tls_flush(l);
}

/* Receive some plaintext into l->pending (at least one byte, or an error). */
static int link_recv(sk_link *l, int ms)
{
    for (;;) {
        if (l->tls) {
            size_t got = 0;
            uint8_t buf[16384];
            if (sk_tls_read(l->tls, buf, sizeof(buf), &got)) {
                snprintf(l->why, sizeof(l->why), "TLS: %s", sk_tls_error(l->tls));
                return -1;
            }
            if (tls_flush(l))
                return -1;
            if (got) {
                if (sk_buf_append(&l->pending, buf, got))
                    return -1;
                return 0;
            }
            if (sk_tls_peer_closed(l->tls)) {
                snprintf(l->why, sizeof(l->why), "%s closed the connection", l->peer->what);
                return -1;
            }
        }
        if (!wait_fd(l, POLLIN, ms)) {
            snprintf(l->why, sizeof(l->why), "%s", sk_link_stopping(l) ? "stopping" : "no answer");
            return -1;
        }
        ssize_t k = recv(l->fd, l->in, sizeof(l->in), 0);
        if (k < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (k <= 0) {
            snprintf(l->why, sizeof(l->why), "%s closed the connection", l->peer->what);
            return -1;
        }
        if (!l->tls)
            return sk_buf_append(&l->pending, l->in, (size_t)k) ? -1 : 0;
        if (sk_tls_feed(l->tls, l->in, (size_t)k) || tls_flush(l)) {
            snprintf(l->why, sizeof(l->why), "TLS: %s", sk_tls_error(l->tls));
            return -1;
        }
    }
}

int sk_link_open(sk_link *l)
{
    const sk_link_peer *r = l->peer;
    struct addrinfo hints, *ai = NULL;
    char port[8];
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(port, sizeof(port), "%u", (unsigned)r->addr.port);
    int rc = getaddrinfo(r->addr.host, port, &hints, &ai);
    if (rc) {
        snprintf(l->why, sizeof(l->why), "cannot resolve %s: %s", r->addr.host, gai_strerror(rc));
        return -1;
    }
    l->fd = -1;
    for (struct addrinfo *a = ai; a && l->fd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        l->fd = fd;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && wait_fd(l, POLLOUT, SK_LINK_IO_MS))) {
            int err = 0;
            socklen_t el = sizeof(err);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
                break;
            snprintf(l->why, sizeof(l->why), "cannot connect to %s:%u: %s", r->addr.host,
                     (unsigned)r->addr.port, strerror(err));
        } else {
            snprintf(l->why, sizeof(l->why), "cannot connect to %s:%u: %s", r->addr.host,
                     (unsigned)r->addr.port, strerror(errno));
        }
        close(fd);
        l->fd = -1;
    }
    freeaddrinfo(ai);
    if (l->fd < 0)
        return -1;
    int one = 1;
    setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (r->plaintext)
        return 0;
    if (sk_tls_conn_new(&l->tls, r->tls) || tls_flush(l)) {
        snprintf(l->why, sizeof(l->why), "cannot start TLS");
        return -1;
    }
    return 0;
}

void sk_link_close(sk_link *l)
{
    if (l->tls) {
        if (sk_tls_shutdown(l->tls) == 0)
            (void)tls_flush(l);
        sk_tls_conn_free(l->tls);
        l->tls = NULL;
    }
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    sk_frame_reader_free(&l->rd);
    sk_buf_free(&l->pending);
    sk_buf_free(&l->frame);
}

int sk_link_frame(sk_link *l, const uint8_t **body, uint32_t *len, int ms)
{
    for (;;) {
        if (l->pending.len) {
            size_t used = 0;
            const uint8_t *f = NULL;
            uint32_t fl = 0;
            int rc = sk_frame_feed(&l->rd, l->pending.data, l->pending.len, &used, &f, &fl);
            if (rc < 0) {
                snprintf(l->why, sizeof(l->why), "bad frame from %s: %s", l->peer->what,
                         sk_err_name(rc));
                return -1;
            }
            if (rc == 1) { /* the body may point into pending: copy it first */
                sk_buf_reset(&l->frame);
                if (sk_buf_append(&l->frame, f, fl)) {
                    snprintf(l->why, sizeof(l->why), "out of memory");
                    return -1;
                }
            }
            memmove(l->pending.data, l->pending.data + used, l->pending.len - used);
            l->pending.len -= used;
            if (rc == 1) {
                *body = l->frame.data;
                *len = fl;
                return 0;
            }
        }
        if (link_recv(l, ms))
            return -1;
    }
}

/* 1 for ERROR, BYE or WIPE (l->why, *code), 0 for a frame to ignore, -1 for no message. */
static int peer_says(sk_link *l, const uint8_t *body, uint32_t len, int *code)
{
    sk_msg m;
    if (sk_msg_decode(body, len, &m, NULL) != 0)
        return -1;
    if (m.type != SK_MSG_ERROR && m.type != SK_MSG_BYE && m.type != SK_MSG_WIPE) {
        sk_msg_free(&m);
        return 0; /* PONG and the like */
    }
    int c = (int)m.u.error.code;
    snprintf(l->why, sizeof(l->why), "%s sent %s %s: %.*s", l->peer->what, sk_msg_type_name(m.type),
             sk_err_name(-c), (int)m.u.error.msg.n, m.u.error.msg.p ? m.u.error.msg.p : "");
    if (m.type == SK_MSG_WIPE)
        *code = -SK_E_REVOKED;
    else if (c == SK_E_RESEED || c == SK_E_REVOKED || c == SK_E_FORBIDDEN || c == SK_E_STATE)
        *code = -c;
    sk_msg_free(&m);
    return 1;
}

int sk_link_other_frame(sk_link *l, int rc, const uint8_t *body, uint32_t len, int *code)
{
    if (rc == -SK_E_UNKNOWN_TYPE) {
        int says = peer_says(l, body, len, code);
        if (says == 0)
            return 0;
        if (says == 1)
            return -1;
    }
    snprintf(l->why, sizeof(l->why), "unexpected frame from %s (%s)", l->peer->what,
             sk_err_name(rc ? rc : -SK_E_BAD_VALUE));
    return -1;
}

/* ---- the handshake, through the client engine --------------------------------------------- */

typedef struct hs {
    const sk_link_hs *h;
    uint32_t max_frame;
    int role_ok;
} hs;

static int hs_enrolled(void *payload, sk_engine *e, const sk_msg *m)
{
    hs *x = payload;
    (void)e;
    if (m->u.enrolled.role != x->h->role)
        return -SK_E_FORBIDDEN;
    return x->h->enrolled(x->h->arg, m->u.enrolled.device);
}

static int hs_welcome(void *payload, sk_engine *e, const sk_msg *m, int behind)
{
    hs *x = payload;
    (void)e;
    (void)behind;
    x->role_ok = m->u.welcome.role == x->h->role && (m->u.welcome.caps & x->h->caps) == x->h->caps;
    x->max_frame = m->u.welcome.max_frame;
    return 0;
}

static const sk_engine_ops k_hs_ops = {.enrolled = hs_enrolled, .welcome = hs_welcome};

int sk_link_handshake(sk_link *l, const sk_link_hs *h, uint32_t *max_frame, int *code)
{
    sk_engine eng;
    sk_engine_config ec;
    hs x = {h, 0, 0};
    memset(&ec, 0, sizeof(ec));
    ec.mode = SK_ENGINE_HANDSHAKE;
    ec.device = h->device;
    ec.priv = h->priv;
    ec.app = h->app;
    ec.caps = h->caps;
    ec.hello_max_frame = h->max_frame;
    if (!h->device) {
        if (!h->code || !h->code[0]) {
            snprintf(l->why, sizeof(l->why), "not enrolled at %s: give the enrollment URI (%s)",
                     l->peer->what, h->enroll_hint);
            *code = -SK_E_ENROLL_CODE;
            return -1;
        }
        ec.enroll_code = h->code;
        ec.enroll_pub = h->pub;
        ec.enroll_label = h->label;
    }
    ec.io_timeout_ms = SK_LINK_IO_MS;
    int rc = -1;
    if (sk_engine_init(&eng, &ec, &k_hs_ops, &x)) {
        snprintf(l->why, sizeof(l->why), "cannot start the handshake");
        sk_engine_free(&eng);
        return -1;
    }
    int st = sk_engine_start(&eng, sk_now_ms());
    for (int rounds = 0; rounds < 64 && st == SK_ENGINE_RUNNING && !sk_engine_welcomed(&eng);
         rounds++) {
        const uint8_t *p;
        size_t n;
        sk_engine_output(&eng, &p, &n);
        if (n) {
            if (sk_link_send(l, p, n))
                goto out;
            sk_engine_consume(&eng, n);
        }
        if (link_recv(l, SK_LINK_IO_MS))
            goto out;
        size_t used = 0;
        st = sk_engine_feed(&eng, l->pending.data, l->pending.len, &used, sk_now_ms());
        memmove(l->pending.data, l->pending.data + used, l->pending.len - used);
        l->pending.len -= used;
    }
    {
        const uint8_t *p;
        size_t n;
        sk_engine_output(&eng, &p, &n);
        if (n && sk_link_send(l, p, n) == 0)
            sk_engine_consume(&eng, n);
    }
    if (!sk_engine_welcomed(&eng)) {
        const char *text = "";
        int kind = sk_engine_error(&eng, code, &text);
        snprintf(l->why, sizeof(l->why), "handshake failed (kind %d code %s): %s", kind,
                 *code ? sk_err_name(*code > 0 ? -*code : *code) : "-", text ? text : "");
        if (*code > 0)
            *code = -*code;
        goto out;
    }
    if (!x.role_ok) {
        snprintf(l->why, sizeof(l->why),
                 "%s did not accept this server in its role (enroll it with %s)", l->peer->what,
                 h->enroll_hint);
        *code = -SK_E_FORBIDDEN;
        goto out;
    }
    *max_frame = x.max_frame;
    rc = 0;
out:
    sk_engine_free(&eng);
    return rc;
}

/* ---- the key ------------------------------------------------------------------------------- */

static int read32(const char *path, uint8_t out[32])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, out, 32);
    uint8_t extra;
    int bad = n != 32 || read(fd, &extra, 1) != 0;
    close(fd);
    return bad ? -1 : 0;
}

static int key_path(const sk_config *cfg, const char *name, const char *ext, char *out, size_t cap,
                    char *err, size_t errcap)
{
    char kdir[SK_STORE_PATH_MAX];
    if (sk_store_keys_dir(kdir, sizeof(kdir), cfg->data_dir,
                          cfg->keys_dir[0] ? cfg->keys_dir : NULL) ||
        (size_t)snprintf(out, cap, "%s/%s%s", kdir, name, ext) >= cap) {
        snprintf(err, errcap, "the keys directory's path is too long");
        return -1;
    }
    return 0;
}

int sk_link_secret(const sk_config *cfg, const char *name, uint8_t out[32], char *err,
                   size_t errcap)
{
    char kp[SK_STORE_PATH_MAX + 64];
    if (key_path(cfg, name, ".key", kp, sizeof(kp), err, errcap))
        return -1;
    if (read32(kp, out) == 0)
        return 0;
    if (access(kp, F_OK) == 0) {
        snprintf(err, errcap, "cannot read the key %s", kp);
        return -1;
    }
    char e[256] = "";
    if (RAND_bytes(out, 32) != 1 || sk_store_key_put(kp, out, e, sizeof(e))) {
        snprintf(err, errcap, "cannot make the key %s: %s", kp, e[0] ? e : "no randomness");
        return -1;
    }
    return 0;
}

int sk_link_keys(const sk_config *cfg, const char *name, uint8_t priv[SK_PRIVKEY_LEN],
                 uint8_t pub[SK_PUBKEY_LEN], char *err, size_t errcap)
{
    char kp[SK_STORE_PATH_MAX + 64], pp[SK_STORE_PATH_MAX + 64];
    if (key_path(cfg, name, ".key", kp, sizeof(kp), err, errcap) ||
        key_path(cfg, name, ".pub", pp, sizeof(pp), err, errcap))
        return -1;
    if (read32(kp, priv) == 0 && read32(pp, pub) == 0)
        return 0;
    if (access(kp, F_OK) == 0) {
        snprintf(err, errcap, "cannot read the key %s", kp);
        return -1;
    }
    char e[256] = "";
    if (sk_auth_keygen(priv, pub) || sk_store_key_put(kp, priv, e, sizeof(e)) ||
        sk_store_key_put(pp, pub, e, sizeof(e))) {
        snprintf(err, errcap, "cannot make the key %s: %s", kp, e[0] ? e : "no randomness");
        return -1;
    }
    return 0;
}

/* ---- one link's end on this server ----------------------------------------------------------- */

/* Where the link goes (value: see sk_link_end_setup). 0 or -1 with err filled. */
static int end_parse(sk_link_end *e, const sk_link_spec *spec, sk_store *st, const char *value,
                     int plaintext, char *err, size_t errcap)
{
    e->spec = spec;
    e->store = st;
    if (strncmp(value, "sakhi:", 6) == 0) {
        sk_enroll_uri u;
        char why[160];
        if (sk_uri_parse(&u, value, why, sizeof(why))) {
            snprintf(err, errcap, "%s: %s", spec->opt, why);
            return -1;
        }
        e->addr = u.addrs[0];
        memcpy(e->pin, u.pin, sizeof(e->pin));
        snprintf(e->code, sizeof(e->code), "%s", u.code);
    } else if (sk_uri_addr_parse(&e->addr, value)) {
        snprintf(err, errcap, "%s '%s': expected HOST:PORT or an enrollment URI", spec->opt, value);
        return -1;
    }
    e->plaintext = plaintext;
    if (plaintext && !sk_config_is_loopback(e->addr.host)) {
        snprintf(err, errcap, "%s: only to %s on this machine (loopback)", spec->plain_opt,
                 spec->any);
        return -1;
    }
    return 0;
}

/* In a write transaction of the store: keep the pin a URI gave, else take the one kept, and read
 * the device id kept. 0, a negative code of the store, or 1 with err filled (no pin yet). */
static int end_load_txn(sk_link_end *e, MDB_txn *txn, char *err, size_t errcap)
{
    const sk_link_spec *spec = e->spec;
    size_t n = 0;
    uint8_t kept[SK_TLS_PIN_LEN];
    int rc = sk_store_local_get_txn(e->store, txn, spec->pin_item, kept, sizeof(kept), &n);
    if (rc && rc != -SK_E_NOT_FOUND)
        return rc;
    if (e->code[0]) {
        if ((rc = sk_store_local_put_txn(e->store, txn, spec->pin_item, e->pin, sizeof(e->pin))))
            return rc;
    } else if (rc == 0 && n == sizeof(kept)) {
        memcpy(e->pin, kept, sizeof(kept));
    } else if (!e->plaintext) {
        snprintf(err, errcap,
                 "%s: no pin of %s's key yet; give the enrollment URI (%s) on the first start",
                 spec->opt, spec->what, spec->enroll_hint);
        return 1;
    }
    return sk_store_local_u64_txn(e->store, txn, spec->device_item, &e->device);
}

int sk_link_end_setup(sk_link_end *e, const sk_link_spec *spec, sk_store *st, const char *value,
                      int plaintext,
                      int (*prep)(sk_store *st, MDB_txn **txn, char *err, size_t errcap), char *err,
                      size_t errcap)
{
    MDB_txn *txn = NULL;
    int rc;
    if (end_parse(e, spec, st, value, plaintext, err, errcap))
        return -1;
    if ((rc = sk_store_mdb_err(sk_store_write_begin(st, &txn)))) {
        txn = NULL;
        goto out;
    }
    if ((prep && (rc = prep(st, &txn, err, errcap))) || (rc = end_load_txn(e, txn, err, errcap)))
        goto out;
    rc = sk_store_mdb_err(sk_store_write_commit(st, txn)); /* ends txn either way */
    txn = NULL;
out:
    if (txn)
        sk_store_write_abort(st, txn);
    if (rc < 0)
        snprintf(err, errcap, "cannot prepare %s: %s", spec->setup_what, sk_err_text(rc));
    return rc ? -1 : 0;
}

int sk_link_end_ready(sk_link_end *e, const sk_config *cfg, const int *stop, char *err,
                      size_t errcap)
{
    if (sk_link_keys(cfg, e->spec->key_name, e->priv, e->pub, err, errcap))
        return -1;
    if (!e->plaintext && sk_tls_ctx_new_client(&e->tls, e->pin, err, errcap))
        return -1;
    e->peer.addr = e->addr;
    e->peer.plaintext = e->plaintext;
    e->peer.tls = e->tls;
    e->peer.stop = stop;
    e->peer.what = e->spec->what;
    return 0;
}

static int end_enrolled(void *arg, uint64_t device)
{
    sk_link_end *e = arg;
    MDB_txn *txn;
    int rc = sk_store_write_begin(e->store, &txn);
    if (rc)
        return sk_store_mdb_err(rc);
    if ((rc = sk_store_local_put_u64_txn(e->store, txn, e->spec->device_item, device))) {
        sk_store_write_abort(e->store, txn);
        return rc;
    }
    if ((rc = sk_store_write_commit(e->store, txn)))
        return sk_store_mdb_err(rc);
    e->device = device;
    sk_log(SK_LOG_INFO, e->spec->enrolled_event, "device=%llu", (unsigned long long)device);
    return 0;
}

int sk_link_end_handshake(sk_link_end *e, sk_link *l, uint32_t hello_max_frame, uint32_t *max_frame,
                          int *code)
{
    const sk_link_spec *spec = e->spec;
    sk_link_hs h;
    memset(&h, 0, sizeof(h));
    h.device = e->device;
    h.priv = e->priv;
    h.pub = e->pub;
    h.code = e->code;
    h.label = spec->label;
    h.app = spec->app;
    h.caps = spec->caps;
    h.role = spec->role;
    h.max_frame = hello_max_frame;
    h.enroll_hint = spec->enroll_hint;
    h.enrolled = end_enrolled;
    h.arg = e;
    return sk_link_handshake(l, &h, max_frame, code);
}

void sk_link_end_free(sk_link_end *e)
{
    sk_tls_ctx_free(e->tls);
    e->tls = NULL;
    OPENSSL_cleanse(e->priv, sizeof(e->priv));
}
