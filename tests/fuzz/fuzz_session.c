/*
 * fuzz_session.c - libFuzzer target for the server's session state machine: a whole connection
 * driven with arbitrary frames against a real server in this process.
 *
 * Owns one in-process sakhi-server (sk_server on 127.0.0.1, plaintext, real LMDB store in a temp
 * directory, real writer thread) whose libuv loop this harness turns with UV_RUN_NOWAIT, and a
 * client socket per input. The first input byte picks the mode: 0 raw (the fuzzer speaks first),
 * 1 pre-authenticated as a field worker's device (the harness does HELLO + AUTH with a device it
 * enrolled through the protocol at start-up), 2 challenged without a device (the enrollment
 * path), 3 pre-authenticated as a Leh staff member's device (accept, assign, services, close);
 * bit 2 delivers the bytes in small pieces. The rest is frames: a 2-byte big-endian length then
 * that many body bytes, sent with a correct 4-byte header; length 0xFFFF means "the next 2-byte
 * length counts raw bytes sent as they are" (bad headers); 0xFFFE means "a PUSH the harness
 * builds from the next bytes" (below: referrals that pass validation unless the bytes say
 * otherwise, so the apply, merge, case-number and history code runs, not only the decoder's
 * refusals). Invariants checked (abort otherwise): every frame the server sends decodes and
 * every ERROR code is a known one; what a session is sent is what its worker may see (a field
 * worker: own or assigned referrals; staff: the district's; a minor's case without identifying
 * fields or entries; nothing before authentication), checked against the records' own fields,
 * with other workers' referrals in the store; an op acknowledged applied keeps its result
 * (exactly once); after the client half-closes, the server closes the connection and frees the
 * session within a bounded time (it answers or closes, never hangs); ASan/UBSan/LSan catch
 * memory errors and leaks. The store is replaced every few thousand inputs so it stays small;
 * it lives in /dev/shm when there is one, with LMDB's fsync off, and the harness signs AUTH
 * with its keys parsed once. Must never touch a path outside its temp directory.
 * tests/fuzz/replay_main.c runs the same function over tests/fuzz/corpus_session in every build.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "sk_auth.h"
#include "sk_case.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_log.h"
#include "sk_mp.h"
#include "sk_msg.h"
#include "sk_server.h"
#include "sk_store.h"
#include "fuzz_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RESTART_EVERY 4000u /* inputs per store */
#define CLOSE_DEADLINE_MS 5000u

typedef struct ident {
    uint64_t device;
    uint8_t priv[SK_PRIVKEY_LEN];
    EVP_PKEY *key; /* priv, parsed once (parsing costs as much as a signature) */
} ident;

static struct {
    int ready;
    char dir[256];
    sk_config cfg;
    uv_loop_t loop;
    sk_server srv;
    unsigned port;
    ident me;    /* the fuzzed field device: field worker fw-fuzz, district Leh (mode 1) */
    ident staff; /* the fuzzed staff device: staff-leh, district Leh (mode 3) */
    ident other; /* setup only: fw-other (Leh) and fw-kargil push referrals of their own */
    int role;    /* the current input's session: SK_ROLE_FIELD, SK_ROLE_STAFF, 0 = none */
    int verbose; /* SAKHI_FUZZ_VERBOSE: trace frames and acks on stderr */
    uint8_t frame[SK_FRAME_HDR + 0xFFFFu];
    unsigned inputs;
    uint64_t next_op; /* the device's operation numbers, increasing across inputs */
    uint32_t next_rid;
} G;

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void die(const char *why)
{
    fprintf(stderr, "fuzz_session: %s\n", why);
    abort();
}

/* ---- loop and client socket --------------------------------------------------------------- */

/* Turn the server's loop once, waiting at most ms for either side to have something to do. */
static void pump(int fd, int ms)
{
    struct pollfd p[2] = {{uv_backend_fd(&G.loop), POLLIN, 0}, {fd, POLLIN, 0}};
    int t = uv_backend_timeout(&G.loop);
    if (t < 0 || t > ms)
        t = ms;
    poll(p, fd >= 0 ? 2 : 1, t);
    uv_run(&G.loop, UV_RUN_NOWAIT);
}

typedef struct peer {
    int fd;
    sk_frame_reader rd;
    int eof;
    sk_msg last; /* the last message received (freed by the next receive) */
    int have_last;
} peer;

static const sk_field *field_of(const sk_record *r, uint32_t key)
{
    for (uint32_t i = 0; i < r->nfields; i++)
        if (r->fields[i].key == key)
            return &r->fields[i];
    return NULL;
}

static int str_is(const char *s, uint32_t n, const char *want)
{
    return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* Did worker create r (SK_F_WORKER), or is worker in its assigned list (an array of strings)?
 * The rule is written out here, not taken from sk_case, so a bug there is not repeated. */
static int created_by(const sk_record *r, const char *worker)
{
    const sk_field *f = field_of(r, SK_F_WORKER);
    sk_mp m;
    const char *s;
    uint32_t n;
    if (!f)
        return 0;
    sk_mp_init(&m, f->val, f->len);
    return sk_mp_read_str(&m, &s, &n) == 0 && sk_mp_at_end(&m) && str_is(s, n, worker);
}

static int assigned_to(const sk_record *r, const char *worker)
{
    const sk_field *f = field_of(r, SK_F_ASSIGNED);
    sk_mp m;
    const char *s;
    uint32_t count, n;
    if (!f)
        return 0;
    sk_mp_init(&m, f->val, f->len);
    if (sk_mp_read_array(&m, &count) != 0)
        return 0;
    for (uint32_t i = 0; i < count && sk_mp_read_str(&m, &s, &n) == 0; i++)
        if (str_is(s, n, worker))
            return 1;
    return 0;
}

/* What a session may be sent (docs/CASE-MODEL.md): a field worker only the referrals it created
 * or is assigned to, staff only their district's, nobody anything before authentication; and
 * of a minor's case no identifying field and no entry (only admins see them). */
static void check_visible(const sk_msg *m)
{
    if (G.verbose)
        fprintf(stderr, "fuzz_session: CHANGES with %u records to role %d\n", m->u.changes.nrecords,
                G.role);
    for (uint32_t i = 0; i < m->u.changes.nrecords; i++) {
        const sk_record *r = &m->u.changes.records[i];
        const sk_field *d = field_of(r, SK_F_DISTRICT);
        if (G.role == SK_ROLE_FIELD) {
            if (!created_by(r, "fw-fuzz") && !assigned_to(r, "fw-fuzz"))
                die("a field device was sent a referral it neither created nor is assigned to");
        } else if (G.role == SK_ROLE_STAFF) {
            if (!d || d->len != 1 || d->val[0] != SK_DISTRICT_LEH)
                die("a Leh staff device was sent a referral of another district");
        } else {
            die("records were sent to a session that never authenticated");
        }
        if (!sk_case_is_minor(r))
            continue;
        if (r->nentries)
            die("a device was sent the entries of a minor's case");
        for (uint32_t f = 0; f < r->nfields; f++) {
            const sk_field_info *fi = sk_case_field_info(r->fields[f].key);
            if (fi && fi->identifying)
                die("a device was sent an identifying field of a minor's case");
        }
    }
}

/* Exactly once (PROTOCOL.md section 5.2): the fuzzed device's ops the server acknowledged
 * APPLIED or MERGED, with the version; emptied when the store is replaced. */
#define ACKED_SLOTS 65536u
static struct acked {
    uint64_t op; /* 0 = empty slot */
    uint64_t version;
    uint32_t status;
    int role; /* whose op: each device numbers its own */
} g_acked[ACKED_SLOTS];

/* An op acknowledged applied or merged is acknowledged the same way ever after (its recorded
 * result), or REJECTED OP_ORDER when sent again with other content: never applied twice. */
static void check_ack(const sk_ack *a)
{
    if (G.verbose)
        fprintf(stderr, "fuzz_session: ack op %llu status %u version %llu code %u\n",
                (unsigned long long)a->op, a->status, (unsigned long long)a->version, a->code);
    if (a->op == 0 || G.role == 0)
        return;
    size_t i = (size_t)((a->op + (uint64_t)G.role) * 0x9e3779b97f4a7c15ull >> 48) % ACKED_SLOTS;
    for (size_t n = 0; n < ACKED_SLOTS; n++, i = (i + 1) % ACKED_SLOTS) {
        struct acked *e = &g_acked[i];
        if (e->op == a->op && e->role == G.role) {
            if (a->status == SK_ACK_REJECTED && a->code == SK_E_OP_ORDER)
                return;
            if (a->status != e->status || a->version != e->version)
                die("an op acknowledged before was acknowledged with another result (applied "
                    "twice?)");
            return;
        }
        if (e->op == 0) {
            if (a->status == SK_ACK_APPLIED || a->status == SK_ACK_MERGED)
                *e = (struct acked){a->op, a->version, a->status, G.role};
            return;
        }
    }
    /* full: stop recording (the store is replaced long before) */
}

/* Check one frame the server sent. */
static void check_server_frame(const uint8_t *body, uint32_t len, sk_msg *out)
{
    sk_msg m;
    if (sk_msg_decode(body, len, &m, NULL) != 0)
        die("the server sent a frame that does not decode");
    if (G.verbose)
        fprintf(stderr, "fuzz_session: received %s rid %u code %u\n", sk_msg_type_name(m.type),
                m.rid, m.type == SK_MSG_ERROR ? m.u.error.code : 0u);
    if (m.type == SK_MSG_CHANGES)
        check_visible(&m);
    if (m.type == SK_MSG_PUSH_ACK)
        for (uint32_t i = 0; i < m.u.push_ack.nacks; i++)
            check_ack(&m.u.push_ack.acks[i]);
    if ((m.type == SK_MSG_ERROR || m.type == SK_MSG_BYE || m.type == SK_MSG_WIPE) &&
        strcmp(sk_err_name(-(int)m.u.error.code), "UNKNOWN") == 0)
        die("the server sent an unknown error code");
    if (out)
        *out = m;
    else
        sk_msg_free(&m);
}

/* Read what is there without blocking. Returns 1 when a frame was decoded into p->last. */
static int peer_read(peer *p, int want_msg)
{
    uint8_t buf[8192];
    for (;;) {
        ssize_t n = recv(p->fd, buf, sizeof(buf), 0);
        if (n == 0) {
            p->eof = 1;
            return 0;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                p->eof = 1; /* reset by the server: closed too */
            return 0;
        }
        size_t off = 0;
        int got = 0;
        while (off < (size_t)n) {
            const uint8_t *f;
            uint32_t flen;
            if (fz_next_frame(&p->rd, buf, (size_t)n, &off, &f, &flen, die,
                              "the server's byte stream is not framed")) {
                if (want_msg && !got) {
                    if (p->have_last)
                        sk_msg_free(&p->last);
                    check_server_frame(f, flen, &p->last);
                    p->have_last = 1;
                    got = 1;
                } else {
                    check_server_frame(f, flen, NULL);
                }
            }
        }
        if (got)
            return 1;
    }
}

static int peer_open(peer *p)
{
    memset(p, 0, sizeof(*p));
    sk_frame_reader_init(&p->rd, SK_FRAME_DEFAULT_MAX);
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)G.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(p->fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS)
        return -1;
    return 0;
}

static void peer_free(peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    if (p->have_last)
        sk_msg_free(&p->last);
    p->have_last = 0;
    sk_frame_reader_free(&p->rd);
}

/* Send all n bytes, turning the loop and draining the answers while the socket is full. */
static int peer_send(void *ctx, const uint8_t *b, size_t n)
{
    peer *p = ctx;
    unsigned spins = 0;
    while (n > 0) {
        ssize_t w = send(p->fd, b, n, MSG_NOSIGNAL);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)
            return -1; /* the server closed: fine, the rest is moot */
        if (++spins > 20000)
            die("the server stopped reading for good");
        pump(p->fd, 1);
        peer_read(p, 0);
    }
    return 0;
}

static int peer_send_msg(peer *p, const sk_msg *m)
{
    return fz_send_msg(m, peer_send, p);
}

/* Wait (bounded) for the next message; 0 with p->last set, or -1. */
static int peer_expect(peer *p, uint32_t type)
{
    for (int i = 0; i < 5000 && !p->eof; i++) {
        if (peer_read(p, 1))
            return p->last.type == type ? 0 : -1;
        pump(p->fd, 1);
    }
    return -1;
}

/* ---- server lifetime ---------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Enroll a device through the protocol (HELLO 0, ENROLL, ENROLLED) with a fresh key. */
static int enroll_device(const char *code, ident *id)
{
    uint8_t pub[SK_PUBKEY_LEN];
    peer p;
    int rc = -1;
    if (sk_auth_keygen(id->priv, pub) || peer_open(&p))
        goto out;
    sk_msg m;
    sk_msg_init(&m, SK_MSG_HELLO, 1);
    m.u.hello.versions[0] = SK_PROTO_VERSION;
    m.u.hello.nversions = 1;
    if (peer_send_msg(&p, &m) || peer_expect(&p, SK_MSG_CHALLENGE))
        goto out;
    sk_msg_init(&m, SK_MSG_ENROLL, 2);
    m.u.enroll.code = sk_str_c(code);
    memcpy(m.u.enroll.pubkey, pub, SK_PUBKEY_LEN);
    m.u.enroll.label = SK_STR("fuzz");
    if (peer_send_msg(&p, &m) || peer_expect(&p, SK_MSG_ENROLLED))
        goto out;
    id->device = p.last.u.enrolled.device;
    EVP_PKEY_free(id->key);
    id->key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, id->priv, SK_PRIVKEY_LEN);
    rc = id->device && id->key ? 0 : -1;
out:
    peer_free(&p);
    return rc;
}

static void server_stop(void)
{
    if (!G.ready)
        return;
    sk_server_shutdown(&G.srv);
    for (int i = 0; i < 20000 && !G.srv.stopped; i++)
        pump(-1, 1);
    if (!G.srv.stopped)
        die("the server did not stop after its sessions were gone");
    for (int i = 0; i < 1000 && uv_run(&G.loop, UV_RUN_NOWAIT); i++)
        ;
    if (uv_loop_close(&G.loop) != 0)
        die("handles left open after shutdown");
    nftw(G.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    EVP_PKEY_free(G.me.key);
    EVP_PKEY_free(G.staff.key);
    EVP_PKEY_free(G.other.key);
    G.me.key = G.staff.key = G.other.key = NULL;
    G.ready = 0;
}

/* $TMPDIR, else /dev/shm when there is one (fsync and page cache cost nothing there), else
 * /tmp. */
static const char *tmp_base(void)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp && *tmp)
        return tmp;
    return access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void setup_workers(void);

static void server_start(void)
{
    char err[512] = "";
    G.verbose = getenv("SAKHI_FUZZ_VERBOSE") != NULL;
    G.role = 0; /* the setup's own sessions: not checked as a fuzzed device's */
    memset(g_acked, 0, sizeof(g_acked)); /* a new store, new ops */
    snprintf(G.dir, sizeof(G.dir), "%s/sakhi-fuzz-session-XXXXXX", tmp_base());
    if (!mkdtemp(G.dir))
        die("mkdtemp");
    sk_log_open("/dev/null", SK_LOG_ERROR);
    sk_config_defaults(&G.cfg);
    G.cfg.port = 0;
    snprintf(G.cfg.data_dir, sizeof(G.cfg.data_dir), "%s/data", G.dir);
    G.cfg.map_size_mb = 256;
    G.cfg.plaintext = 1;
    G.cfg.max_conn = 8;
    G.cfg.auth_fail_limit = 0; /* one address fails all day long here */
    G.cfg.auth_fail_limit_addr = 0;
    G.cfg.enroll_code_tries = 0; /* fuzzed codes never kill the setup's */
    G.cfg.audit_retention_days = 0;
    G.cfg.shutdown_timeout_ms = 2000;
    if (uv_loop_init(&G.loop) != 0)
        die("uv_loop_init");
    struct sigaction old_int, old_term;
    sigaction(SIGINT, NULL, &old_int);
    sigaction(SIGTERM, NULL, &old_term);
    if (sk_server_init(&G.srv, &G.loop, &G.cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_session: server: %s\n", err);
        abort();
    }
    /* SIGINT and SIGTERM stay libFuzzer's (stop, print the figures): as the server's shutdown
     * they closed the connection under a handshake, reported as a crash. */
    uv_signal_stop(&G.srv.uv->sig_int);
    uv_signal_stop(&G.srv.uv->sig_term);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    /* A store thrown away every few thousand inputs need not survive a power cut: the commits
     * skip their fsync (the server's code paths are the same; only LMDB's sync is off). */
    if (mdb_env_set_flags(sk_store_env(G.srv.store), MDB_NOSYNC, 1) != 0)
        die("mdb_env_set_flags");
    struct sockaddr_storage ss;
    int sl = sizeof(ss);
    if (uv_tcp_getsockname(&G.srv.uv->listener, (struct sockaddr *)&ss, &sl) != 0)
        die("getsockname");
    G.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    sk_worker w;
    memset(&w, 0, sizeof(w));
    snprintf(w.id, sizeof(w.id), "fw-fuzz");
    w.role = SK_ROLE_FIELD;
    w.district = 1;
    char code[SK_ENROLL_CODE_LEN + 1];
    if (sk_store_worker_put(G.srv.store, &w) ||
        sk_store_enroll_code_new(G.srv.store, w.id, 3600000, sk_now_ms(), code))
        die("cannot make the worker and its code");
    G.ready = 1;
    if (enroll_device(code, &G.me))
        die("enrollment through the protocol failed");
    setup_workers();
    G.inputs = 0;
}

static void at_exit(void)
{
    server_stop();
}

/* ---- one input ---------------------------------------------------------------------------- */

/* sk_auth_sign with the key parsed once: the same transcript, the same Ed25519 signature. */
static int sign(const ident *id, uint8_t sig[SK_SIG_LEN], const uint8_t nonce[SK_NONCE_LEN],
                uint64_t server_ms)
{
    uint8_t msg[64];
    size_t msg_len = sk_auth_transcript(msg, nonce, id->device, server_ms), sig_len = SK_SIG_LEN;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, NULL, NULL, id->key) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, msg, msg_len) == 1 && sig_len == SK_SIG_LEN;
    EVP_MD_CTX_free(md);
    return ok ? 0 : -1;
}

static int preauth(peer *p, const ident *id)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_HELLO, 1);
    m.u.hello.versions[0] = SK_PROTO_VERSION;
    m.u.hello.nversions = 1;
    m.u.hello.device = id->device;
    if (peer_send_msg(p, &m) || peer_expect(p, SK_MSG_CHALLENGE))
        return -1;
    sk_msg a;
    sk_msg_init(&a, SK_MSG_AUTH, 2);
    if (sign(id, a.u.auth.sig, p->last.u.challenge.nonce, p->last.u.challenge.server_ms))
        return -1;
    if (peer_send_msg(p, &a) || peer_expect(p, SK_MSG_WELCOME))
        return -1;
    return 0;
}

static int hello_new_device(peer *p)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_HELLO, 1);
    m.u.hello.versions[0] = SK_PROTO_VERSION;
    m.u.hello.nversions = 1;
    return peer_send_msg(p, &m) || peer_expect(p, SK_MSG_CHALLENGE) ? -1 : 0;
}

/* Bytes to the server, whole or in pieces of 1..8 bytes with the loop turned between. */
static int deliver(peer *p, const uint8_t *b, size_t n, int pieces, uint32_t *h)
{
    if (!pieces)
        return peer_send(p, b, n);
    while (n > 0) {
        *h = *h * 1103515245u + 12345u;
        size_t k = 1 + (*h >> 16) % 8;
        if (k > n)
            k = n;
        if (peer_send(p, b, k))
            return -1;
        b += k;
        n -= k;
        pump(p->fd, 0);
        peer_read(p, 0);
    }
    return 0;
}

/* ---- structured PUSH (length marker 0xFFFE) ---------------------------------------------- */

typedef struct cursor {
    const uint8_t *p;
    size_t n, off;
} cursor;

static unsigned next_byte(cursor *c)
{
    return c->off < c->n ? c->p[c->off++] : 0u;
}

/* MessagePack encoders for field values (one value each, into b; returns its length; numbers
 * are sk_pack_uint_fixed's). */
static size_t mp_str(uint8_t *b, const char *s, size_t n)
{
    b[0] = 0xd9;
    b[1] = (uint8_t)n;
    memcpy(b + 2, s, n);
    return n + 2;
}

static void set_uint(sk_change *ch, uint32_t key, uint64_t v)
{
    uint8_t b[9];
    (void)sk_change_set(ch, key, b, (uint32_t)sk_pack_uint_fixed(b, v));
}

static void set_str(sk_change *ch, uint32_t key, const char *v)
{
    uint8_t b[258];
    (void)sk_change_set(ch, key, b, (uint32_t)mp_str(b, v, strlen(v)));
}

/* Every field a field worker's new referral carries (docs/PROTOCOL.md, sk_case.h). */
static void referral_template(sk_change *ch, uint64_t wall, const char *worker)
{
    static const uint8_t concerns[] = {0x91, SK_CONCERN_DOMESTIC_VIOLENCE}, yes = 0xc3;
    set_uint(ch, SK_F_SCHEMA, 1);
    set_uint(ch, SK_F_CREATED_AT, wall);
    set_uint(ch, SK_F_DISTRICT, SK_DISTRICT_LEH);
    set_str(ch, SK_F_BLOCK, "Nubra");
    set_str(ch, SK_F_VILLAGE, "Diskit");
    set_uint(ch, SK_F_TAKEN_AT, SK_TAKEN_HOME_VISIT);
    set_str(ch, SK_F_NAME, "withheld");
    set_uint(ch, SK_F_AGE, 30);
    (void)sk_change_set(ch, SK_F_CONCERNS, concerns, sizeof(concerns));
    set_uint(ch, SK_F_URGENCY, SK_URGENCY_ROUTINE);
    set_uint(ch, SK_F_SOURCE, SK_SOURCE_FRONTLINE);
    (void)sk_change_set(ch, SK_F_CONSENT_SHARE, &yes, 1);
    set_str(ch, SK_F_CONSENT_BY, worker);
    set_uint(ch, SK_F_CONSENT_AT, wall);
    set_uint(ch, SK_F_STATUS, SK_STATUS_NEW);
}

/* A value of one of the shapes the schema reads (or input bytes, kept when well formed). */
static size_t chosen_value(cursor *c, uint8_t *b, size_t cap)
{
    /* small codes (statuses, enumerations), booleans, nil, arrays, a negative number, a short
     * string, and the assigned list a staff member would write to give fw-fuzz a case */
    static const uint8_t shapes[][10] = {{1, 0x00},
                                         {1, 0x01},
                                         {1, 0x02},
                                         {1, 0x03},
                                         {1, 0x04},
                                         {1, 0x7f},
                                         {1, 0xc3},
                                         {1, 0xc2},
                                         {1, 0xc0},
                                         {3, 0x92, 0x01, 0x05},
                                         {1, 0x90},
                                         {2, 0xd0, 0x9c},
                                         {4, 0xa3, 'L', 'E', 'H'},
                                         {9, 0x91, 0xa7, 'f', 'w', '-', 'f', 'u', 'z', 'z'}};
    unsigned kind = next_byte(c) % 16u;
    if (kind < 14) {
        memcpy(b, shapes[kind] + 1, shapes[kind][0]);
        return shapes[kind][0];
    }
    if (kind == 14) { /* a long string: limits and the record size check */
        size_t n = (size_t)next_byte(c) * 32u;
        if (n + 3 > cap)
            n = cap - 3;
        b[0] = 0xda;
        b[1] = (uint8_t)(n >> 8);
        b[2] = (uint8_t)n;
        memset(b + 3, 'a' + (int)(next_byte(c) % 26u), n);
        return n + 3;
    }
    size_t n = next_byte(c) % 16u;
    if (n > c->n - c->off)
        n = c->n - c->off;
    memcpy(b, c->p + c->off, n);
    c->off += n;
    return n;
}

/* Eight record ids shared by all inputs (so edits, merges and deletes meet the same records),
 * or sixteen bytes of input. */
static sk_id chosen_id(cursor *c)
{
    sk_id id;
    unsigned pick = next_byte(c);
    if (pick % 8u != 7u) {
        static const uint8_t head[8] = {0x01, 0x9c, 0x8f, 0x10, 0x20, 0x30, 0x70, 0x00};
        memset(id.b, 0, sizeof(id.b));
        memcpy(id.b, head, sizeof(head));
        id.b[15] = (uint8_t)(pick % 8u);
        return id;
    }
    for (size_t i = 0; i < sizeof(id.b); i++)
        id.b[i] = (uint8_t)next_byte(c);
    return id;
}

/* The change without field key (rebuilt through sk_change_set, which owns the values). */
static void drop_field(sk_change *x, uint32_t key)
{
    sk_change kept;
    sk_change_init(&kept);
    for (uint32_t f = 0; f < x->nfields; f++)
        if (x->fields[f].key != key)
            (void)sk_change_set(&kept, x->fields[f].key, x->fields[f].val, x->fields[f].len);
    kept.id = x->id;
    kept.op = x->op;
    kept.base = x->base;
    kept.hlc = x->hlc;
    kept.kind = x->kind;
    sk_change_free(x);
    *x = kept;
}

/* One PUSH of 1-4 changes into G.frame; returns the frame's length, 0 if it cannot be encoded. */
static size_t build_push(cursor *c)
{
    sk_change ch[4];
    uint32_t n = 1 + next_byte(c) % 4u;
    uint64_t wall = sk_now_ms();
    uint8_t val[8300];
    for (uint32_t i = 0; i < n; i++) {
        sk_change *x = &ch[i];
        sk_change_init(x);
        x->id = chosen_id(c);
        unsigned ob = next_byte(c);
        /* mostly a new op; sometimes one of the last four (the stored ack must answer it) */
        if (ob & 0x80 || G.next_op == 0)
            x->op = ++G.next_op;
        else
            x->op = G.next_op > ob % 4u ? G.next_op - ob % 4u : G.next_op;
        unsigned bb = next_byte(c);
        x->base = bb & 0x80 ? 0 : bb % 64u;
        x->hlc = SK_HLC_MAKE(wall + (uint64_t)next_byte(c) * 60000u - 128u * 60000u, next_byte(c));
        x->kind = next_byte(c) % 8u == 0 ? SK_CHANGE_DELETE : SK_CHANGE_UPSERT;
        unsigned shape = next_byte(c);
        if (x->kind == SK_CHANGE_UPSERT && (x->base == 0 || shape & 1))
            referral_template(x, wall, "fw-fuzz");
        for (unsigned k = shape >> 1 & 3u; k > 0; k--) { /* 0-3 fields changed or dropped */
            uint32_t key = next_byte(c) % 48u;
            size_t len = chosen_value(c, val, sizeof(val));
            /* no value, or not one well-formed value: the field is left out instead */
            if (len == 0 || sk_change_set(x, key, val, (uint32_t)len) != 0)
                drop_field(x, key);
        }
        for (unsigned e = shape >> 3 & 3u; e > 0; e--) { /* 0-3 follow-ups or case notes */
            uint8_t fu[80];
            size_t fn = 0;
            fu[fn++] = 0x83;
            fu[fn++] = SK_ENTRY_BY;
            fn += mp_str(fu + fn, "fw-fuzz", 7);
            fu[fn++] = SK_ENTRY_TEXT;
            fn += mp_str(fu + fn, "visited; she is safe", 20);
            fu[fn++] = SK_ENTRY_AT;
            fn += sk_pack_uint_fixed(fu + fn, wall);
            sk_id eid = chosen_id(c);
            (void)sk_change_add_entry(x, &eid, 1 + next_byte(c) % 3u, fu, (uint32_t)fn);
        }
    }
    sk_msg m;
    sk_msg_init(&m, SK_MSG_PUSH, ++G.next_rid);
    m.u.push.changes = ch;
    m.u.push.nchanges = n;
    sk_buf b = SK_BUF_INIT;
    size_t len = 0;
    if (sk_msg_encode(&b, &m) == 0 && b.len <= sizeof(G.frame)) {
        memcpy(G.frame, b.data, b.len);
        len = b.len;
    }
    sk_buf_free(&b);
    for (uint32_t i = 0; i < n; i++)
        sk_change_free(&ch[i]);
    return len;
}

/* A new worker of role and district, and a device enrolled for it through the protocol. */
static void enroll_worker(const char *worker, uint32_t role, uint32_t district, ident *id)
{
    sk_worker w;
    char code[SK_ENROLL_CODE_LEN + 1];
    memset(&w, 0, sizeof(w));
    snprintf(w.id, sizeof(w.id), "%s", worker);
    w.role = role;
    w.district = district;
    if (sk_store_worker_put(G.srv.store, &w) ||
        sk_store_enroll_code_new(G.srv.store, w.id, 3600000, sk_now_ms(), code) ||
        enroll_device(code, id))
        die("cannot enroll a device for a setup worker");
}

/* Push n referrals of district as worker's device id (referral i a minor's case when bit i of
 * minors is set), ids tag, tag + 1, ...; every one must be applied. */
static void push_as(const ident *id, const char *worker, uint32_t district, int n, unsigned minors,
                    uint8_t tag)
{
    peer p;
    if (peer_open(&p) || preauth(&p, id))
        die("a setup worker's device cannot log in");
    uint64_t wall = sk_now_ms();
    sk_change ch[4];
    static const uint8_t yes = 0xc3;
    for (int i = 0; i < n; i++) {
        static const uint8_t head[8] = {0x01, 0x9c, 0x8f, 0x10, 0xf0, 0x0f, 0x70, 0x00};
        sk_change_init(&ch[i]);
        memcpy(ch[i].id.b, head, sizeof(head));
        ch[i].id.b[15] = (uint8_t)(tag + i);
        ch[i].op = (uint64_t)i + 1;
        ch[i].hlc = SK_HLC_MAKE(wall, i);
        ch[i].kind = SK_CHANGE_UPSERT;
        referral_template(&ch[i], wall, worker);
        set_uint(&ch[i], SK_F_DISTRICT, district);
        if (minors >> i & 1) {
            set_uint(&ch[i], SK_F_AGE, 15);
            (void)sk_change_set(&ch[i], SK_F_MINOR, &yes, 1);
        }
    }
    sk_msg m;
    sk_msg_init(&m, SK_MSG_PUSH, 3);
    m.u.push.changes = ch;
    m.u.push.nchanges = (uint32_t)n;
    int rc = peer_send_msg(&p, &m) || peer_expect(&p, SK_MSG_PUSH_ACK) ||
                     p.last.u.push_ack.nacks != (uint32_t)n
                 ? -1
                 : 0;
    for (int i = 0; rc == 0 && i < n; i++)
        if (p.last.u.push_ack.acks[i].status != SK_ACK_APPLIED) {
            fprintf(stderr, "fuzz_session: %s's referral %d: status %u code %u field %u\n", worker,
                    i, p.last.u.push_ack.acks[i].status, p.last.u.push_ack.acks[i].code,
                    p.last.u.push_ack.acks[i].field);
            rc = -1;
        }
    for (int i = 0; i < n; i++)
        sk_change_free(&ch[i]);
    peer_free(&p);
    if (rc)
        die("a setup worker's referrals were not applied");
}

/* Referrals the fuzzed devices must not be sent: another Leh field worker's two (the second a
 * minor's case) for fw-fuzz, a Kargil field worker's one for Leh staff; and the staff device. */
static void setup_workers(void)
{
    enroll_worker("fw-other", SK_ROLE_FIELD, SK_DISTRICT_LEH, &G.other);
    push_as(&G.other, "fw-other", SK_DISTRICT_LEH, 2, 2u, 0xa0);
    enroll_worker("fw-kargil", SK_ROLE_FIELD, SK_DISTRICT_KARGIL, &G.other);
    push_as(&G.other, "fw-kargil", SK_DISTRICT_KARGIL, 1, 0u, 0xb0);
    enroll_worker("staff-leh", SK_ROLE_STAFF, SK_DISTRICT_LEH, &G.staff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (G.ready && G.inputs >= RESTART_EVERY)
        server_stop();
    if (!G.ready) {
        static int registered;
        /* Our at_exit stops the server, whose writer thread then frees its per-thread OpenSSL
         * state (the random generator the key pool and the record nonces use) as it exits.
         * OpenSSL's own exit-time cleanup disables that, and here it ran first: the writer's
         * state was reported as leaked. So OpenSSL is told not to clean up at exit (the
         * server binary stops its writer before main returns and is not affected). */
        if (!registered && OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL) == 1 &&
            atexit(at_exit) == 0)
            registered = 1;
        server_start();
    }
    G.inputs++;
    G.next_rid = 1000; /* structured PUSHes: rids after the handshake's */
    int mode = data[0] & 3, pieces = (data[0] & 4) != 0;
    G.role = mode == 1 ? SK_ROLE_FIELD : mode == 3 ? SK_ROLE_STAFF : 0;
    uint32_t h = 2166136261u;
    peer p;
    if (peer_open(&p))
        die("cannot connect to the server");
    int rc = 0;
    if (mode == 1 || mode == 3)
        rc = preauth(&p, mode == 1 ? &G.me : &G.staff);
    else if (mode == 2)
        rc = hello_new_device(&p);
    if (rc)
        die("the handshake with a valid device failed");

    size_t off = 1;
    uint8_t *frame = G.frame;
    while (off < size) {
        if (size - off < 2) {
            deliver(&p, data + off, size - off, pieces, &h);
            break;
        }
        size_t len = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (len == 0xFFFE) { /* a structured PUSH from the bytes that follow */
            cursor c = {data, size, off};
            size_t flen = build_push(&c);
            off = c.off;
            if (flen && deliver(&p, G.frame, flen, pieces, &h))
                break;
            pump(p.fd, 0);
            peer_read(&p, 0);
            continue;
        }
        int raw = 0;
        if (len == 0xFFFF && size - off >= 2) {
            len = (size_t)data[off] << 8 | data[off + 1];
            off += 2;
            raw = 1;
        }
        if (len > size - off)
            len = size - off;
        int src;
        if (raw) {
            src = deliver(&p, data + off, len, pieces, &h);
        } else {
            sk_frame_put_header(frame, (uint32_t)len);
            memcpy(frame + SK_FRAME_HDR, data + off, len);
            src = deliver(&p, frame, SK_FRAME_HDR + len, pieces, &h);
        }
        off += len;
        if (src)
            break;
        pump(p.fd, 0);
        peer_read(&p, 0);
    }

    /* Half-close: the server must answer what is in flight and close, within the deadline. */
    shutdown(p.fd, SHUT_WR);
    uint64_t deadline = mono_ms() + CLOSE_DEADLINE_MS;
    while (!p.eof) {
        peer_read(&p, 0);
        if (p.eof)
            break;
        if (mono_ms() > deadline)
            die("the server kept the connection open after the client half-closed");
        pump(p.fd, 1);
    }
    peer_free(&p);
    deadline = mono_ms() + CLOSE_DEADLINE_MS;
    while (G.srv.sessions) {
        if (mono_ms() > deadline)
            die("a session was not freed after its connection closed");
        pump(-1, 1);
    }
    if (G.srv.nconn != 0)
        die("the connection count did not return to zero");
    return 0;
}
