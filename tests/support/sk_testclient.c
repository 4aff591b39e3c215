/*
 * sk_testclient.c - blocking protocol client for tests (see sk_testclient.h).
 *
 * Owns one socket, a frame reader and a copy of the last frame. Uses only proto/ so that it
 * speaks the protocol the way any independent client would; never links server code.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "sk_testclient.h"

#include "sk_case.h"
#include "sk_engine.h"
#include "sk_err.h"
#include "sk_testval.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

void sk_tc_init(sk_tc *c)
{
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->timeout_ms = 5000;
    c->next_rid = 1;
}

int sk_tc_use_tls(sk_tc *c, const uint8_t pin[SK_TLS_PIN_LEN])
{
    sk_tls_ctx_free(c->tls_ctx);
    c->tls_ctx = NULL;
    return sk_tls_ctx_new_client(&c->tls_ctx, pin, c->tls_err, sizeof(c->tls_err));
}

/* Send the engine's pending ciphertext on the socket. */
static int tls_flush(sk_tc *c)
{
    for (;;) {
        const uint8_t *p;
        size_t n;
        if (sk_tls_pending_out(c->tls, &p, &n))
            return -SK_E_NOMEM;
        if (n == 0)
            return 0;
        size_t off = 0;
        while (off < n) {
            ssize_t w = send(c->fd, p + off, n - off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                return SK_TC_EOF;
            }
            off += (size_t)w;
        }
        sk_tls_consume_out(c->tls, n);
    }
}

/* Wait until end (wall ms) for bytes on fd and read up to cap of them into buf: 0 with
 * *got > 0, SK_TC_EOF when the peer closed or the read failed, or -SK_E_TIMEOUT. */
static int recv_until(int fd, void *buf, size_t cap, uint64_t end, size_t *got)
{
    for (;;) {
        uint64_t now = wall_ms();
        if (now >= end)
            return -SK_E_TIMEOUT;
        struct pollfd pfd = {fd, POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(end - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0)
            return -SK_E_TIMEOUT;
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return SK_TC_EOF;
        *got = (size_t)n;
        return 0;
    }
}

/* Run the handshake to its end (bounded by the receive timeout). */
static int tls_handshake(sk_tc *c)
{
    uint8_t buf[16384];
    uint64_t end = wall_ms() + (uint64_t)c->timeout_ms;
    int rc = tls_flush(c);
    while (rc == 0 && !sk_tls_handshake_done(c->tls)) {
        size_t n = 0;
        int rrc = recv_until(c->fd, buf, sizeof(buf), end, &n);
        if (rrc)
            return rrc;
        rc = sk_tls_feed(c->tls, buf, n);
        int frc = tls_flush(c); /* the alert too, when the handshake failed */
        if (rc == 0)
            rc = frc;
    }
    if (rc && sk_tls_failed(c->tls))
        snprintf(c->tls_err, sizeof(c->tls_err), "%s", sk_tls_error(c->tls));
    return rc;
}

void sk_tc_close(sk_tc *c)
{
    sk_tls_conn_free(c->tls);
    c->tls = NULL;
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    sk_frame_reader_free(&c->rd);
    c->in_off = c->in_len = 0;
}

void sk_tc_free(sk_tc *c)
{
    sk_tc_close(c);
    free(c->frame);
    c->frame = NULL;
    sk_tls_ctx_free(c->tls_ctx);
    c->tls_ctx = NULL;
}

int sk_tc_connect(sk_tc *c, uint16_t port)
{
    sk_tc_close(c);
    c->port = port;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -SK_E_INTERNAL;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return SK_TC_EOF;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    /* The largest frame a server sends with default settings (tests that raise --max-frame
     * above it read with sk_frame_reader_set_max). */
    sk_frame_reader_init(&c->rd, SK_FRAME_DEFAULT_MAX);
    if (c->tls_ctx) {
        c->tls_err[0] = '\0';
        int rc = sk_tls_conn_new(&c->tls, c->tls_ctx);
        if (rc == 0)
            rc = tls_handshake(c);
        if (rc) {
            if (rc == SK_TC_EOF && c->tls && sk_tls_failed(c->tls))
                rc = sk_tls_failed(c->tls);
            sk_tc_close(c);
            return rc;
        }
    }
    return 0;
}

uint32_t sk_tc_rid(sk_tc *c)
{
    uint32_t r = c->next_rid++;
    if (c->next_rid == 0)
        c->next_rid = 1;
    return r;
}

int sk_tc_send_raw(sk_tc *c, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (c->tls) {
        int rc = sk_tls_write(c->tls, b, n);
        return rc ? rc : tls_flush(c);
    }
    while (n > 0) {
        ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return SK_TC_EOF;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int sk_tc_send(sk_tc *c, const sk_msg *m)
{
    sk_buf b = SK_BUF_INIT;
    int rc = sk_msg_encode(&b, m);
    if (rc == 0)
        rc = sk_tc_send_raw(c, b.data, b.len);
    sk_buf_free(&b);
    return rc;
}

int sk_tc_send_hello(sk_tc *c, uint32_t rid, uint64_t device, const char *app)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_HELLO, rid);
    m.u.hello.versions[0] = SK_PROTO_VERSION;
    m.u.hello.nversions = 1;
    m.u.hello.device = device;
    m.u.hello.app = sk_str_c(app);
    return sk_tc_send(c, &m);
}

/* Put the next bytes from the connection into inbuf (in_off = 0, in_len > 0), waiting until
 * end (wall ms). 0, SK_TC_EOF, -SK_E_TIMEOUT or the TLS engine's code. */
static int read_more(sk_tc *c, uint64_t end)
{
    c->in_off = c->in_len = 0;
    for (;;) {
        if (c->tls) {
            size_t got = 0;
            int trc = sk_tls_read(c->tls, c->inbuf, sizeof(c->inbuf), &got);
            if (trc)
                return trc;
            tls_flush(c);
            if (got > 0) {
                c->in_len = got;
                return 0;
            }
            if (sk_tls_peer_closed(c->tls))
                return SK_TC_EOF;
        }
        size_t n = 0;
        int rrc = recv_until(c->fd, c->inbuf, sizeof(c->inbuf), end, &n);
        if (rrc)
            return rrc;
        if (c->tls) {
            int trc = sk_tls_feed(c->tls, c->inbuf, n);
            if (trc)
                return trc;
            continue;
        }
        c->in_len = n;
        return 0;
    }
}

int sk_tc_recv(sk_tc *c, sk_msg *m, int timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = c->timeout_ms;
    uint64_t end = wall_ms() + (uint64_t)timeout_ms;
    sk_msg_init(m, 0, 0);
    if (c->fd < 0)
        return SK_TC_EOF;
    for (;;) {
        while (c->in_off < c->in_len) {
            size_t used = 0;
            const uint8_t *f;
            uint32_t flen;
            int rc = sk_frame_feed(&c->rd, c->inbuf + c->in_off, c->in_len - c->in_off, &used, &f,
                                   &flen);
            if (rc < 0)
                return rc;
            c->in_off += used;
            if (rc == 1) {
                uint8_t *copy = malloc(flen);
                if (!copy)
                    return -SK_E_NOMEM;
                memcpy(copy, f, flen);
                free(c->frame);
                c->frame = copy;
                c->frame_len = flen;
                return sk_msg_decode(c->frame, c->frame_len, m, NULL);
            }
        }
        int rc = read_more(c, end);
        if (rc)
            return rc;
    }
}

int sk_tc_wait_close(sk_tc *c, int timeout_ms)
{
    uint64_t end = wall_ms() + (uint64_t)timeout_ms;
    for (;;) {
        uint64_t now = wall_ms();
        if (now >= end)
            return -SK_E_TIMEOUT;
        sk_msg m;
        int rc = sk_tc_recv(c, &m, (int)(end - now));
        if (rc == SK_TC_EOF)
            return 0;
        if (rc == -SK_E_TIMEOUT)
            return rc;
        if (rc == 0 && (m.type == SK_MSG_ERROR || m.type == SK_MSG_WIPE || m.type == SK_MSG_BYE))
            c->last_code = m.u.error.code;
        sk_msg_free(&m);
        if (rc < 0 && rc != -SK_E_UNKNOWN_TYPE)
            return rc == SK_TC_EOF ? 0 : rc;
    }
}

/* Receive one message of type want answering rid; an ERROR/WIPE returns its code. */
static int expect(sk_tc *c, sk_msg *m, uint32_t want, uint32_t rid)
{
    for (;;) {
        int rc = sk_tc_recv(c, m, -1);
        if (rc)
            return rc;
        if (m->type == SK_MSG_ERROR || m->type == SK_MSG_WIPE || m->type == SK_MSG_BYE) {
            c->last_code = m->u.error.code;
            int code = m->type == SK_MSG_WIPE ? SK_E_REVOKED : (int)m->u.error.code;
            sk_msg_free(m);
            return -(code ? code : SK_E_INTERNAL);
        }
        if (m->type == want && (rid == 0 || m->rid == rid))
            return 0;
        sk_msg_free(m); /* unrelated (e.g. a response to another rid): skipped */
    }
}

/* ---- the handshake: the sync engine's (proto/sk_engine.h), so it exists once ----------------- */

static int tc_enrolled(void *payload, sk_engine *e, const sk_msg *m)
{
    sk_tc *c = payload;
    (void)e;
    c->device = m->u.enrolled.device;
    return 0;
}

/* WELCOME's values as the server sent them (tests check the server's limits, uncapped). */
static int tc_welcome(void *payload, sk_engine *e, const sk_msg *m, int behind)
{
    sk_tc *c = payload;
    (void)e;
    (void)behind;
    c->max_frame = m->u.welcome.max_frame;
    c->max_batch = m->u.welcome.max_batch;
    c->max_inflight = m->u.welcome.max_inflight;
    c->role = m->u.welcome.role;
    c->session = m->u.welcome.session;
    c->server_ms = m->u.welcome.server_ms;
    c->seq = m->u.welcome.has_seq ? m->u.welcome.seq : 0;
    c->epoch = m->u.welcome.epoch;
    return 0;
}

/* The engine's failure as this client's codes: -code for ERROR, WIPE (-SK_E_REVOKED) and BYE
 * (last_code keeps the server's code), else the engine's own code. */
static int tc_engine_error(sk_tc *c, const sk_engine *e)
{
    int code;
    switch (sk_engine_error(e, &code, NULL)) {
    case SK_ENGINE_ERR_SERVER: c->last_code = (uint32_t)code; return -code;
    case SK_ENGINE_ERR_CLOSED: c->last_code = 0; return -SK_E_INTERNAL;
    case SK_ENGINE_ERR_WIPED: c->last_code = (uint32_t)code; return -SK_E_REVOKED;
    case SK_ENGINE_ERR_VERSION: return -SK_E_VERSION;
    case SK_ENGINE_ERR_TIMEOUT: return -SK_E_TIMEOUT;
    case SK_ENGINE_ERR_NOMEM: return -SK_E_NOMEM;
    default: return code < 0 ? code : -SK_E_INTERNAL;
    }
}

/* HELLO -> CHALLENGE -> [ENROLL -> ENROLLED ->] AUTH -> WELCOME on this connection. Bytes that
 * follow WELCOME stay in inbuf for sk_tc_recv. */
static int handshake(sk_tc *c, const char *code, const char *label)
{
    static const sk_engine_ops ops = {.enrolled = tc_enrolled, .welcome = tc_welcome};
    sk_engine e;
    sk_engine_config ec;
    int rc = 0;
    if (c->fd < 0)
        return SK_TC_EOF;
    memset(&ec, 0, sizeof(ec));
    ec.mode = SK_ENGINE_HANDSHAKE;
    ec.device = c->device;
    ec.priv = c->priv;
    ec.app = "sakhi-testclient";
    ec.caps = c->hello_caps;
    ec.hello_max_frame = c->hello_max_frame;
    ec.enroll_code = code;
    ec.enroll_pub = c->pub;
    ec.enroll_label = label;
    ec.io_timeout_ms = (unsigned)c->timeout_ms;
    ec.handshake_max_frame = SK_FRAME_DEFAULT_MAX;
    ec.first_rid = c->next_rid;
    if ((rc = sk_engine_init(&e, &ec, &ops, c)))
        goto out;
    int st = sk_engine_start(&e, wall_ms());
    for (;;) {
        const uint8_t *p;
        size_t n;
        sk_engine_output(&e, &p, &n);
        if (n > 0) {
            if ((rc = sk_tc_send_raw(c, p, n)))
                goto out;
            sk_engine_consume(&e, n);
        }
        if (st == SK_ENGINE_DONE)
            break;
        if (st == SK_ENGINE_FAILED) {
            rc = tc_engine_error(c, &e);
            goto out;
        }
        if (c->in_off >= c->in_len && (rc = read_more(c, wall_ms() + (uint64_t)c->timeout_ms)))
            goto out;
        size_t used = 0;
        st = sk_engine_feed(&e, c->inbuf + c->in_off, c->in_len - c->in_off, &used, wall_ms());
        c->in_off += used;
    }
out:
    if (e.next_rid)
        c->next_rid = e.next_rid;
    sk_engine_free(&e);
    return rc;
}

int sk_tc_enroll(sk_tc *c, const char *code, const char *label)
{
    c->device = 0;
    int rc = sk_auth_keygen(c->priv, c->pub);
    return rc ? rc : handshake(c, code, label);
}

int sk_tc_auth(sk_tc *c)
{
    return handshake(c, NULL, NULL);
}

int sk_tc_push(sk_tc *c, const sk_change *changes, uint32_t n, sk_ack *acks_out)
{
    sk_msg m, r;
    sk_msg_init(&m, SK_MSG_PUSH, sk_tc_rid(c));
    m.u.push.changes = (sk_change *)changes;
    m.u.push.nchanges = n;
    int rc = sk_tc_send(c, &m);
    if (rc || (rc = expect(c, &r, SK_MSG_PUSH_ACK, m.rid)))
        return rc;
    if (r.u.push_ack.nacks != n) {
        sk_msg_free(&r);
        return -SK_E_BAD_VALUE;
    }
    for (uint32_t i = 0; i < n; i++) {
        acks_out[i] = r.u.push_ack.acks[i];
        acks_out[i].msg.p = NULL;
    }
    sk_msg_free(&r);
    return 0;
}

int sk_tc_pull(sk_tc *c, uint64_t cursor, uint32_t limit, sk_tc_record_cb cb, void *payload,
               uint64_t *next_out, int *more_out, uint32_t *frames_out)
{
    sk_msg m, r;
    uint32_t frames = 0;
    sk_msg_init(&m, SK_MSG_PULL, sk_tc_rid(c));
    m.u.pull.cursor = cursor;
    m.u.pull.limit = limit;
    int rc = sk_tc_send(c, &m);
    if (rc)
        return rc;
    for (;;) {
        if ((rc = expect(c, &r, SK_MSG_CHANGES, m.rid)))
            return rc;
        frames++;
        int stop = 0;
        for (uint32_t i = 0; i < r.u.changes.nrecords && !stop && cb; i++)
            stop = cb(&r.u.changes.records[i], payload);
        int last = r.u.changes.last;
        if (next_out)
            *next_out = r.u.changes.next;
        if (more_out)
            *more_out = r.u.changes.more;
        sk_msg_free(&r);
        if (last)
            break;
    }
    if (frames_out)
        *frames_out = frames;
    return 0;
}

/* ---- building changes ------------------------------------------------------------------ */

static int vb_set(sk_tval *v, sk_change *c, uint32_t key)
{
    int rc = v->b.oom ? -SK_E_NOMEM : sk_change_set(c, key, v->b.data, (uint32_t)v->b.len);
    sk_buf_reset(&v->b);
    return rc;
}

/* Field key of c set to the unsigned integer x (uint_set) or the string str (str_set), packed
 * into v. */
static int uint_set(sk_tval *v, sk_change *c, uint32_t key, uint64_t x)
{
    msgpack_pack_uint64(&v->pk, x);
    return vb_set(v, c, key);
}

static int str_set(sk_tval *v, sk_change *c, uint32_t key, const char *str)
{
    sk_pack_cstr(&v->pk, str);
    return vb_set(v, c, key);
}

void sk_tc_changes_free(sk_change *ch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sk_change_free(&ch[i]);
}

int sk_tc_make_referral(sk_change *c, uint64_t op, uint64_t wall, const char *tag)
{
    sk_tval v;
    int rc = 0;
    sk_change_init(c);
    if ((rc = sk_id_new(&c->id, wall)))
        return rc;
    c->op = op;
    c->base = 0;
    c->hlc = SK_HLC_MAKE(wall, 0);
    c->kind = SK_CHANGE_UPSERT;
    sk_tval_start(&v);
    rc |= uint_set(&v, c, SK_F_SCHEMA, 1);
    rc |= uint_set(&v, c, SK_F_CREATED_AT, wall);
    rc |= uint_set(&v, c, SK_F_DISTRICT, SK_DISTRICT_LEH);
    rc |= str_set(&v, c, SK_F_BLOCK, tag && *tag ? tag : "block");
    rc |= str_set(&v, c, SK_F_VILLAGE, "village");
    rc |= uint_set(&v, c, SK_F_TAKEN_AT, SK_TAKEN_HOME_VISIT);
    rc |= str_set(&v, c, SK_F_NAME, "test person");
    rc |= uint_set(&v, c, SK_F_AGE, 30);
    msgpack_pack_array(&v.pk, 1);
    msgpack_pack_uint64(&v.pk, SK_CONCERN_DOMESTIC_VIOLENCE);
    rc |= vb_set(&v, c, SK_F_CONCERNS);
    rc |= uint_set(&v, c, SK_F_URGENCY, SK_URGENCY_ROUTINE);
    rc |= uint_set(&v, c, SK_F_SOURCE, SK_SOURCE_FRONTLINE);
    msgpack_pack_true(&v.pk);
    rc |= vb_set(&v, c, SK_F_CONSENT_SHARE);
    rc |= str_set(&v, c, SK_F_CONSENT_BY, "tester");
    rc |= uint_set(&v, c, SK_F_CONSENT_AT, wall);
    rc |= uint_set(&v, c, SK_F_STATUS, SK_STATUS_NEW);
    sk_buf_free(&v.b);
    return rc ? -SK_E_INTERNAL : 0;
}

void sk_tc_make_change(sk_change *c, const sk_id *id, uint64_t op, uint64_t base, sk_hlc hlc,
                       uint32_t kind)
{
    sk_change_init(c);
    c->id = *id;
    c->op = op;
    c->base = base;
    c->hlc = hlc;
    c->kind = kind;
}

/* An edit of record id at base setting key to the value packed in v (freed here). */
static int make_edit(sk_change *c, const sk_id *id, uint64_t op, uint64_t base, sk_hlc hlc,
                     uint32_t key, sk_tval *v)
{
    sk_tc_make_change(c, id, op, base, hlc, SK_CHANGE_UPSERT);
    int rc = vb_set(v, c, key);
    sk_buf_free(&v->b);
    return rc;
}

int sk_tc_make_edit_uint(sk_change *c, const sk_id *id, uint64_t op, uint64_t base, sk_hlc hlc,
                         uint32_t key, uint64_t val)
{
    sk_tval v;
    sk_tval_uint(&v, val);
    return make_edit(c, id, op, base, hlc, key, &v);
}

int sk_tc_make_edit_str(sk_change *c, const sk_id *id, uint64_t op, uint64_t base, sk_hlc hlc,
                        uint32_t key, const char *val)
{
    sk_tval v;
    sk_tval_str(&v, val);
    return make_edit(c, id, op, base, hlc, key, &v);
}

int sk_tc_ids_add(const sk_record *r, void *payload)
{
    sk_tc_ids *s = payload;
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 256;
        if (nc > SIZE_MAX / sizeof(sk_id))
            return 1;
        sk_id *t = realloc(s->ids, nc * sizeof(sk_id));
        if (!t)
            return 1;
        s->ids = t;
        s->cap = nc;
    }
    s->ids[s->n++] = r->id;
    return 0;
}

int sk_tc_ids_has(const sk_tc_ids *s, const sk_id *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (sk_id_cmp(&s->ids[i], id) == 0)
            return 1;
    return 0;
}

size_t sk_tc_ids_dups(const sk_tc_ids *s)
{
    size_t dups = 0;
    for (size_t i = 1; i < s->n; i++)
        for (size_t k = 0; k < i; k++)
            if (sk_id_cmp(&s->ids[k], &s->ids[i]) == 0) {
                dups++;
                break;
            }
    return dups;
}

/* PULL from cursor 0 in PULLs of limit until the server has no more, each record to cb. */
static int pull_to_end(sk_tc *c, uint32_t limit, sk_tc_record_cb cb, void *payload)
{
    uint64_t cursor = 0, next = 0;
    int more = 1;
    for (int round = 0; more && round < 1000; round++) {
        int rc = sk_tc_pull(c, cursor, limit, cb, payload, &next, &more, NULL);
        if (rc)
            return rc;
        if (next < cursor)
            return -SK_E_BAD_VALUE;
        cursor = next;
    }
    return more ? -SK_E_TIMEOUT : 0;
}

int sk_tc_pull_ids(sk_tc *c, uint32_t limit, sk_tc_ids *ids)
{
    return pull_to_end(c, limit, sk_tc_ids_add, ids);
}

/* sk_tc_pull_record's search: the latest copy of id, in out once found. */
typedef struct find_rec {
    const sk_id *id;
    sk_record *out;
    int found, rc;
} find_rec;

static int find_rec_one(const sk_record *r, void *payload)
{
    find_rec *f = payload;
    if (sk_id_cmp(&r->id, f->id) != 0)
        return 0;
    if (f->found)
        sk_record_free(f->out);
    sk_record_init(f->out);
    f->found = 1;
    f->rc = sk_record_copy(f->out, r);
    return f->rc != 0;
}

int sk_tc_pull_record(sk_tc *c, const sk_id *id, sk_record *out)
{
    find_rec f = {id, out, 0, 0};
    int rc = pull_to_end(c, SK_MAX_PULL, find_rec_one, &f);
    if (!rc && f.rc)
        rc = f.rc;
    if (!rc && !f.found)
        rc = -SK_E_NOT_FOUND;
    if (rc && f.found)
        sk_record_free(out);
    return rc;
}

int sk_tc_count(const sk_record *r, void *payload)
{
    (void)r;
    (*(uint32_t *)payload)++;
    return 0;
}
