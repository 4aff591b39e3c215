/*
 * fuzz_client.c - libFuzzer target for libsakhi's response handling: a fake server on 127.0.0.1
 * answers a real sakhi_sync with frames the fuzzer chooses.
 *
 * Owns a temp directory with a pristine client store (enrolled in plaintext mode against the
 * fake server at start-up; two referrals pushed, one applied and one rejected, then the first
 * edited and followed up, the second fixed and a third captured: four changes pending) and a
 * listening socket. For each input the store is put back to that state (below) and synced while
 * a thread plays the fake server: for every frame the client sends it takes the next item of
 * the input and answers with
 *   0 the right answer built with proto (CHALLENGE, WELCOME, PUSH_ACK all applied, CHANGES empty)
 *   1 that answer with some bytes flipped          2 a raw frame body (length 2 bytes BE, bytes)
 *   3 raw wire bytes (length 2 bytes BE, bytes)    4 a message of a chosen type and field values
 *   5 silence (the client's timeout must fire)     6 closing the connection
 *   7 an unsolicited frame first (PING, ERROR rid 0), then the next item
 * and closes when the items run out. A chosen CHANGES carries 0-3 chosen records (ids of the
 * store's records or new ones, versions, flags, stamps, fields, entries), a chosen WELCOME caps
 * and seq, and a chosen message may go zstd-compressed. Invariants (abort otherwise):
 * sakhi_sync returns, within the libFuzzer timeout, one of its documented network/protocol
 * codes (or 0); the outbox never grows, and shrinks only when a PUSH_ACK or a CHANGES erasing a
 * record was sent; the sync leaves no key-file batch, new slot, shred or key-file lock behind;
 * the store is wiped only after a WIPE; one input in eight closes the store, opens it again
 * with the PIN and finds the same outbox. ASan/UBSan/LSan catch memory errors and leaks. Must
 * never connect anywhere but its own listener (127.0.0.1; an AF_UNIX socket in the fuzzer,
 * below). tests/fuzz/replay_main.c replays tests/fuzz/corpus_client in every build.
 *
 * Speed (the libFuzzer binary): the store lives in /dev/shm when there is one, its KDF cost is
 * the lowest (scrypt N = 2; the PIN path is the same), the fake server is one thread for the
 * whole process, and the client's clock is virtual (SAKHI_FUZZ_CLOCK, sk_client.h): when both
 * sides wait (silence, a partial frame, a request without an answer) the harness moves it past
 * the read timeout, so a timeout costs a few ms instead of 150 and never fires because the
 * machine was slow. The replay binary keeps the real clock.
 *
 * The handle stays open between inputs: opening and closing an LMDB store (3 MiB of LMDB's own
 * buffers, made and poisoned by ASan each time) and copying its files were two fifths of an
 * input. Instead the harness puts the store back the way the pristine one was: every key and
 * value of its four databases in one write transaction, keys.db byte for byte, and the few
 * fields the handle loads from the store at open (clock, next op, last id). It reaches into
 * the handle (sk_client.h) for that, so it checks itself: the restored store is compared with
 * the snapshot after every input in the replay binary and every 64th in the fuzzer. A fresh
 * copy is still opened after a WIPE (the files are gone).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "sk_client_test.h"
#include "sakhi/sakhi.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_msg.h"
#include "sk_zstd.h"
#include "fuzz_wire.h"
#include "sk_client.h" /* the handle's store and fields (restore), the virtual clock */

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PIN "246813"
#define THREAD_DEADLINE_MS 4000u
#define IO_TIMEOUT_MS 150u
#ifdef SAKHI_FUZZ_CLOCK
#define POLL_MS 1 /* virtual time: look at the client's polls often */
#else
#define POLL_MS 50
#endif

typedef struct fake fake;

static struct {
    int ready;
    char dir[256], pristine[300], work[300];
    int lfd;
    uint16_t port;
    pthread_t thread; /* the fake server */
    sem_t go, done;
    fake *job;
    sakhi_client *c; /* open on work between inputs; NULL: open a fresh copy */
#ifdef SAKHI_FUZZ_CLOCK
    int tcp_lfd;
    struct sockaddr_un un;
#endif
    unsigned long inputs;
    int verbose; /* SAKHI_FUZZ_VERBOSE: trace requests and results on stderr */
} G;

/* The pristine store as the open handle sees it (snapshot, restore). */
typedef struct kv {
    uint8_t *k, *v;
    size_t nk, nv;
} kv;
#define NDBI 4
static struct {
    kv *items[NDBI];
    size_t n[NDBI];
    uint8_t *keys; /* keys.db */
    size_t nkeys;
    sk_clock clock;
    uint64_t next_op;
    sk_id last_id;
    uint64_t pending; /* its outbox */
} S;

static void die(const char *why)
{
    fprintf(stderr, "fuzz_client: %s\n", why);
    abort();
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the fake server ---------------------------------------------------------------------- */

struct fake {
    const uint8_t *in; /* the script */
    size_t n, off;
    int fd;
    sk_frame_reader rd;     /* frames from the client */
    sk_frame_reader mirror; /* what we sent, read back as the client would */
    int mirror_dead;
    int saw_ack, saw_wipe;
    int saw_erased; /* a CHANGES said a record was erased (its pending changes go with it) */
    /* the sync found the server restored (WELCOME's epoch or seq): the device puts the changes
     * the server may have lost back in its outbox (PROTOCOL.md section 5.6) */
    int server_behind;
    uint64_t next_version;
    uint32_t hello_caps; /* what the client's HELLO offered (the right WELCOME agrees to zstd) */
    sk_record *recs;     /* a chosen CHANGES's records, freed after it is sent */
    uint32_t nrecs;
    atomic_int client_done; /* sakhi_sync returned: stop waiting for its connection */
};

static int byte(fake *f)
{
    return f->off < f->n ? f->in[f->off++] : 0;
}

static uint32_t u32(fake *f)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | (uint32_t)byte(f);
    return v;
}

static uint64_t u64(fake *f)
{
    return (uint64_t)u32(f) << 32 | u32(f);
}

/* Track what the client will see: a PUSH_ACK or WIPE among the frames sent. */
static void mirror(fake *f, const uint8_t *b, size_t n)
{
    while (n > 0 && !f->mirror_dead) {
        size_t used = 0;
        const uint8_t *fr;
        uint32_t flen;
        int rc = sk_frame_feed(&f->mirror, b, n, &used, &fr, &flen);
        if (rc < 0) {
            f->mirror_dead = 1;
            return;
        }
        b += used;
        n -= used;
        if (rc == 1) {
            sk_msg m;
            uint8_t *plain = NULL;
            size_t plen = 0;
            if (sk_zframe_is_wrapper(fr, flen)) {
                if (sk_zframe_unwrap(fr, flen, SK_FRAME_DEFAULT_MAX, &plain, &plen) != 0)
                    continue; /* the client cannot read it either */
                fr = plain;
                flen = (uint32_t)plen;
            }
            /* type is set even when the rest does not decode: count it (the conservative side) */
            int drc = sk_msg_decode(fr, flen, &m, NULL);
            f->saw_ack |= m.type == SK_MSG_PUSH_ACK;
            f->saw_wipe |= m.type == SK_MSG_WIPE;
            if (drc == 0 && m.type == SK_MSG_CHANGES)
                for (uint32_t i = 0; i < m.u.changes.nrecords; i++)
                    f->saw_erased |= (m.u.changes.records[i].flags & SK_REC_ERASED) != 0;
            if (drc == 0)
                sk_msg_free(&m);
            free(plain);
        }
    }
}

static int put(void *ctx, const uint8_t *b, size_t n)
{
    fake *f = ctx;
    mirror(f, b, n);
    while (n > 0) {
        ssize_t w = send(f->fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int put_msg(fake *f, const sk_msg *m)
{
    int rc = fz_send_msg(m, put, f);
    return rc == -SK_E_NOMEM ? -1 : 0; /* an unencodable choice just sends nothing */
}

/* The answer a correct server gives to req (type 0 = none). acks is allocated for PUSH. */
static void answer_for(fake *f, const sk_msg *req, sk_msg *m, sk_ack **acks)
{
    *acks = NULL;
    m->type = 0;
    switch (req->type) {
    case SK_MSG_HELLO:
        sk_msg_init(m, SK_MSG_CHALLENGE, req->rid);
        memset(m->u.challenge.nonce, 0x5a, SK_NONCE_LEN);
        m->u.challenge.server_ms = 1781911140000ull;
        m->u.challenge.version = SK_PROTO_VERSION;
        break;
    case SK_MSG_ENROLL:
        sk_msg_init(m, SK_MSG_ENROLLED, req->rid);
        m->u.enrolled.device = 7;
        m->u.enrolled.worker = SK_STR("fw-fuzz");
        m->u.enrolled.role = SK_ROLE_FIELD;
        m->u.enrolled.district = 1;
        break;
    case SK_MSG_AUTH:
        sk_msg_init(m, SK_MSG_WELCOME, req->rid);
        m->u.welcome.session = 1;
        m->u.welcome.server_ms = 1781911140000ull;
        m->u.welcome.max_frame = SK_FRAME_DEFAULT_MAX;
        m->u.welcome.max_batch = 64;
        m->u.welcome.max_inflight = 4;
        m->u.welcome.role = SK_ROLE_FIELD;
        m->u.welcome.worker = SK_STR("fw-fuzz");
        m->u.welcome.district = 1;
        m->u.welcome.caps = f->hello_caps & SK_CAP_ZSTD;
        break;
    case SK_MSG_PUSH:
        sk_msg_init(m, SK_MSG_PUSH_ACK, req->rid);
        *acks = calloc(req->u.push.nchanges ? req->u.push.nchanges : 1, sizeof(sk_ack));
        if (!*acks)
            die("no memory");
        for (uint32_t i = 0; i < req->u.push.nchanges; i++) {
            (*acks)[i].op = req->u.push.changes[i].op;
            (*acks)[i].status = SK_ACK_APPLIED;
            (*acks)[i].version = ++f->next_version;
        }
        m->u.push_ack.acks = *acks;
        m->u.push_ack.nacks = req->u.push.nchanges;
        break;
    case SK_MSG_PULL:
        sk_msg_init(m, SK_MSG_CHANGES, req->rid);
        m->u.changes.next = req->u.pull.cursor + 1;
        break;
    case SK_MSG_PING:
        sk_msg_init(m, SK_MSG_PONG, req->rid);
        m->u.ping.ms = req->u.ping.ms;
        break;
    default: break;
    }
}

/* A field or entry value: exactly one MessagePack value (sk_record_set checks), from a few
 * shapes the case schema reads, or bytes of the input (kept only when well formed). */
static int chosen_value(fake *f, uint8_t *buf, size_t cap, size_t *len)
{
    static const uint8_t small[][4] = {{1, 0x05},       {1, 0xc3},
                                       {1, 0xc0},       {3, 0xcd, 0x01, 0x00},
                                       {2, 0xd0, 0x9c}, {3, 0x92, 0x01, 0x02},
                                       {1, 0x90}};
    int kind = byte(f) % 10;
    if (kind < 7) {
        *len = small[kind][0];
        memcpy(buf, small[kind] + 1, *len);
        return 0;
    }
    if (kind == 7) { /* a string of n bytes of one character: up to 2 KiB, so zstd has work */
        size_t n = (size_t)byte(f) * 8u, c = (size_t)byte(f);
        if (n + 3 > cap)
            n = cap - 3;
        buf[0] = 0xda;
        buf[1] = (uint8_t)(n >> 8);
        buf[2] = (uint8_t)n;
        memset(buf + 3, (int)(' ' + c % 90u), n);
        *len = n + 3;
        return 0;
    }
    size_t n = (size_t)byte(f) % 24u;
    if (n > f->n - f->off)
        n = f->n - f->off;
    memcpy(buf, f->in + f->off, n);
    f->off += n;
    *len = n;
    return kind == 8 ? 0 : -1; /* 9: an empty value, which the builder refuses */
}

static sk_id chosen_id(fake *f)
{
    sk_id id;
    int pick = byte(f);
    /* one of the store's own records (records' keys are their ids), or 16 bytes of input */
    if (pick % 4 != 3 && S.n[1] > 0 && S.items[1][(size_t)pick % S.n[1]].nk == sizeof(id.b)) {
        memcpy(id.b, S.items[1][(size_t)pick % S.n[1]].k, sizeof(id.b));
        return id;
    }
    for (size_t i = 0; i < sizeof(id.b); i++)
        id.b[i] = (uint8_t)byte(f);
    return id;
}

static void free_chosen_records(fake *f)
{
    for (uint32_t i = 0; i < f->nrecs; i++)
        sk_record_free(&f->recs[i]);
    free(f->recs);
    f->recs = NULL;
    f->nrecs = 0;
}

/* 0-3 records for a chosen CHANGES: ids, versions, stamps, flags, fields and entries chosen. */
static void chosen_records(fake *f)
{
    uint32_t n = (uint32_t)byte(f) % 4;
    free_chosen_records(f);
    if (n == 0)
        return;
    if (!(f->recs = calloc(n, sizeof(sk_record))))
        die("no memory");
    uint8_t val[2100];
    for (uint32_t i = 0; i < n; i++) {
        sk_record *r = &f->recs[i];
        sk_record_init(r);
        f->nrecs = i + 1;
        r->id = chosen_id(f);
        r->version = byte(f) & 0x80 ? u64(f) : (uint64_t)byte(f);
        r->flags = (uint32_t)byte(f) & 0x0f;
        r->created = SK_HLC_MAKE(1781911140000ull + (uint64_t)byte(f) * 60000u, byte(f));
        r->created_ver = (uint64_t)byte(f);
        r->updated = SK_HLC_MAKE(1781911140000ull + (uint64_t)byte(f) * 60000u, byte(f));
        uint32_t nf = (uint32_t)byte(f) % 7, ne = (uint32_t)byte(f) % 3;
        for (uint32_t j = 0; j < nf; j++) {
            uint32_t key = (uint32_t)byte(f) % 48u;
            size_t len;
            if (chosen_value(f, val, sizeof(val), &len) == 0 &&
                sk_record_set(r, key, val, (uint32_t)len, r->updated, r->version) == -SK_E_NOMEM)
                die("no memory");
        }
        for (uint32_t j = 0; j < ne; j++) {
            sk_id eid = chosen_id(f);
            uint32_t list = (uint32_t)byte(f) % 4u;
            size_t len;
            if (chosen_value(f, val, sizeof(val), &len) == 0 &&
                sk_record_add_entry(r, &eid, list, val, (uint32_t)len, r->updated, r->version) ==
                    -SK_E_NOMEM)
                die("no memory");
        }
    }
}

/* A message of a fuzzer-chosen type with fuzzer-chosen fields, answering req's rid. */
static void chosen(fake *f, const sk_msg *req, sk_msg *m, sk_ack **acks)
{
    uint32_t type = (uint32_t)byte(f) % (SK_MSG_TYPE_MAX + 1);
    *acks = NULL;
    sk_msg_init(m, type, byte(f) & 1 ? req->rid : u32(f));
    switch (type) {
    case SK_MSG_CHALLENGE:
        m->u.challenge.version = u32(f);
        m->u.challenge.server_ms = u64(f);
        break;
    case SK_MSG_WELCOME:
        m->u.welcome.server_ms = u64(f);
        m->u.welcome.max_frame = u32(f);
        m->u.welcome.max_batch = u32(f);
        m->u.welcome.max_inflight = u32(f);
        m->u.welcome.role = u32(f);
        m->u.welcome.district = u32(f);
        m->u.welcome.worker = SK_STR("fw-fuzz");
        m->u.welcome.caps = u32(f);
        m->u.welcome.has_seq = byte(f) & 1;
        m->u.welcome.seq = u64(f);
        break;
    case SK_MSG_PUSH_ACK: {
        uint32_t n = (uint32_t)byte(f) % 8;
        *acks = calloc(n ? n : 1, sizeof(sk_ack));
        if (!*acks)
            die("no memory");
        for (uint32_t i = 0; i < n; i++) {
            int pick = byte(f);
            if (req->type == SK_MSG_PUSH && req->u.push.nchanges && (pick & 0x80))
                (*acks)[i].op = req->u.push.changes[(uint32_t)pick % req->u.push.nchanges].op;
            else
                (*acks)[i].op = u64(f);
            (*acks)[i].status = (uint32_t)byte(f) % 4;
            (*acks)[i].version = u64(f);
            if ((*acks)[i].status == SK_ACK_REJECTED) {
                (*acks)[i].code = (uint32_t)byte(f);
                (*acks)[i].field = (uint32_t)byte(f);
                (*acks)[i].msg = SK_STR("no");
            }
        }
        m->u.push_ack.acks = *acks;
        m->u.push_ack.nacks = n;
        break;
    }
    case SK_MSG_CHANGES:
        m->u.changes.next = u64(f);
        m->u.changes.more = byte(f) & 1;
        m->u.changes.last = byte(f) & 1;
        chosen_records(f);
        m->u.changes.records = f->recs;
        m->u.changes.nrecords = f->nrecs;
        break;
    case SK_MSG_ERROR:
    case SK_MSG_BYE:
    case SK_MSG_WIPE:
        m->u.error.code = (uint32_t)byte(f);
        m->u.error.retry_ms = u32(f);
        m->u.error.msg = SK_STR("fuzz");
        break;
    case SK_MSG_ENROLLED:
        m->u.enrolled.device = u64(f);
        m->u.enrolled.worker = SK_STR("fw-fuzz");
        m->u.enrolled.role = u32(f);
        break;
    case SK_MSG_PING:
    case SK_MSG_PONG: m->u.ping.ms = u64(f); break;
    default: break;
    }
}

/* Answer one client request by the next item of the script. 1 = close the connection. */
static int respond(fake *f, const sk_msg *req)
{
    for (;;) {
        if (f->off >= f->n)
            return 1;
        int op = byte(f) % 8;
        sk_msg m;
        sk_ack *acks = NULL;
        sk_buf b = SK_BUF_INIT;
        int rc = 0;
        switch (op) {
        case 0:
            answer_for(f, req, &m, &acks);
            if (m.type)
                rc = put_msg(f, &m);
            break;
        case 1: {
            answer_for(f, req, &m, &acks);
            if (!m.type || sk_msg_encode(&b, &m) != 0 || b.len <= SK_FRAME_HDR)
                break;
            int flips = 1 + byte(f) % 8;
            for (int i = 0; i < flips; i++) {
                size_t pos = (size_t)((unsigned)byte(f) << 8 | (unsigned)byte(f));
                b.data[SK_FRAME_HDR + pos % (b.len - SK_FRAME_HDR)] ^= (uint8_t)(byte(f) | 1);
            }
            rc = put(f, b.data, b.len);
            break;
        }
        case 2:
        case 3: {
            size_t len = (size_t)((unsigned)byte(f) << 8 | (unsigned)byte(f));
            if (len > f->n - f->off)
                len = f->n - f->off;
            if (op == 2) {
                uint8_t hdr[SK_FRAME_HDR];
                sk_frame_put_header(hdr, (uint32_t)len);
                rc = put(f, hdr, sizeof(hdr));
            }
            if (rc == 0)
                rc = put(f, f->in + f->off, len);
            f->off += len;
            break;
        }
        case 4:
            chosen(f, req, &m, &acks);
            if (byte(f) & 1) { /* sent compressed (when zstd finds it worth it) */
                int erc = sk_msg_encode(&b, &m);
                if (erc == -SK_E_NOMEM || (erc == 0 && sk_zframe_compress_frame(&b, 0) < 0))
                    die("cannot encode or compress a chosen message");
                rc = erc == 0 ? put(f, b.data, b.len) : 0; /* unencodable: nothing sent */
            } else {
                rc = put_msg(f, &m);
            }
            free_chosen_records(f);
            break;
        case 5: break; /* silence */
        case 6: return 1;
        case 7: {
            int kind = byte(f);
            sk_msg_init(&m, kind & 1 ? SK_MSG_PING : SK_MSG_ERROR, 0);
            if (m.type == SK_MSG_ERROR) {
                m.u.error.code = (uint32_t)byte(f);
                m.u.error.msg = SK_STR("unsolicited");
            }
            if (put_msg(f, &m))
                return 1;
            continue; /* the request still wants its answer */
        }
        }
        sk_buf_free(&b);
        free(acks);
        return rc ? 1 : 0;
    }
}

/* Play one script on one connection (the fake server thread). */
static void serve(fake *f)
{
    uint64_t deadline = mono_ms() + THREAD_DEADLINE_MS;
    struct pollfd p = {G.lfd, POLLIN, 0};
    while (poll(&p, 1, 1) != 1)
        if (atomic_load(&f->client_done) || mono_ms() >= deadline)
            return; /* the client never came (it failed before connecting) */
    f->fd = accept(G.lfd, NULL, NULL);
    if (f->fd < 0)
        return;
    uint8_t buf[16384];
    int done = 0;
#ifdef SAKHI_FUZZ_CLOCK
    uint64_t mark = atomic_load(&sk_fuzz_idle_polls);
#endif
    while (!done && mono_ms() < deadline) {
        p.fd = f->fd;
        p.events = POLLIN;
        if (poll(&p, 1, POLL_MS) <= 0) {
#ifdef SAKHI_FUZZ_CLOCK
            /* Both sides wait (silence, a partial frame, a request without an answer): only a
             * timeout can happen next, so move the client's clock past its read timeout. Two
             * empty client polls since our last action: the second began after everything we
             * sent had arrived, so the client has read it all; and nothing from it waits here. */
            if (atomic_load(&sk_fuzz_idle_polls) >= mark + 2 && poll(&p, 1, 0) == 0) {
                atomic_fetch_add(&sk_fuzz_clock_ms, IO_TIMEOUT_MS + 1u);
                mark = atomic_load(&sk_fuzz_idle_polls);
            }
#endif
            continue;
        }
        ssize_t n = recv(f->fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break; /* the client closed */
        size_t off = 0;
        while (off < (size_t)n && !done) {
            const uint8_t *fr;
            uint32_t flen;
            if (fz_next_frame(&f->rd, buf, (size_t)n, &off, &fr, &flen, die,
                              "the client sent a stream that is not framed")) {
                sk_msg req;
                uint8_t *plain = NULL;
                size_t plen = 0;
                /* A client that was offered zstd and the referral dictionary may compress its
                 * PUSH frames: a compressed frame must unwrap, then decode. */
                if (sk_zframe_is_wrapper(fr, flen)) {
                    if (sk_zframe_unwrap_ex(fr, flen, SK_FRAME_DEFAULT_MAX, SK_ZF_DICT, &plain,
                                            &plen) != 0)
                        die("the client sent a compressed frame that does not unwrap");
                    fr = plain;
                    flen = (uint32_t)plen;
                }
                if (sk_msg_decode(fr, flen, &req, NULL) != 0)
                    die("the client sent a frame that does not decode");
                if (G.verbose)
                    fprintf(stderr, "fuzz_client: request %s rid %u (script offset %zu)\n",
                            sk_msg_type_name(req.type), req.rid, f->off);
                if (req.type == SK_MSG_HELLO)
                    f->hello_caps = req.u.hello.caps;
                if (req.type != SK_MSG_BYE && req.type != SK_MSG_PONG)
                    done = respond(f, &req);
                sk_msg_free(&req);
                free(plain); /* after req: its strings point into the frame's bytes */
            }
        }
#ifdef SAKHI_FUZZ_CLOCK
        mark = atomic_load(&sk_fuzz_idle_polls);
#endif
    }
    close(f->fd);
    f->fd = -1;
}

/* The fake server thread lives as long as the process (a thread per input costs more than
 * most inputs): it serves G.job each time G.go is posted, then posts G.done. */
static void *fake_main(void *arg)
{
    (void)arg;
    for (;;) {
        sem_wait(&G.go);
        if (!G.job)
            return NULL;
        serve(G.job);
        sem_post(&G.done);
    }
}

/* Run sakhi_sync (or enrollment when code is set) against the fake server playing script. */
static int run_against(sakhi_client *c, const uint8_t *script, size_t n, const char *code, fake *f)
{
    memset(f, 0, sizeof(*f));
    f->next_version = 100; /* above the store's cursor: the right acks never look like a restore */
    f->in = script;
    f->n = n;
    f->fd = -1;
    sk_frame_reader_init(&f->rd, SK_FRAME_DEFAULT_MAX);
    sk_frame_reader_init(&f->mirror, 64u * 1024u * 1024u);
    G.job = f;
    sem_post(&G.go);
    sakhi_sync_options o = SAKHI_SYNC_OPTIONS_INIT;
    o.connect_timeout_ms = 2000;
    o.io_timeout_ms = IO_TIMEOUT_MS;
    o.stall_timeout_ms = 1000;
    o.batch_size = 2;
    o.pull_limit = 10;
    int rc;
    if (code) {
        rc = sakhi_enroll_opts(c,
                               &(sakhi_enroll_options){.version = SAKHI_ENROLL_OPTIONS_VERSION,
                                                       .host = "127.0.0.1",
                                                       .port = G.port,
                                                       .code = code,
                                                       .label = "fuzz",
                                                       .plaintext = 1},
                               &o);
    } else {
        sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
        rc = sakhi_sync(&res, c, &o);
        f->server_behind = res.server_behind;
    }
    atomic_store(&f->client_done, 1);
    while (sem_wait(&G.done) != 0)
        ;
    sk_frame_reader_free(&f->rd);
    sk_frame_reader_free(&f->mirror);
    return rc;
}

/* ---- stores ------------------------------------------------------------------------------- */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void copy_dir(const char *from, const char *to)
{
    nftw(to, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(to, 0700) != 0)
        die("mkdir");
    DIR *d = opendir(from);
    struct dirent *e;
    if (!d)
        die("opendir");
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char a[600], b[600];
        snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
        FILE *in = fopen(a, "rb"), *out = fopen(b, "wb");
        if (!in || !out)
            die("cannot copy the store");
        char buf[65536];
        size_t k;
        while ((k = fread(buf, 1, sizeof(buf), in)) > 0)
            if (fwrite(buf, 1, k, out) != k)
                die("cannot copy the store");
        fclose(in);
        if (fclose(out) != 0)
            die("cannot copy the store");
    }
    closedir(d);
}

static sakhi_client *open_store(const char *path)
{
    sakhi_options o = SAKHI_OPTIONS_INIT;
    sakhi_client *c = NULL;
    (void)sk_client_test_kdf(3); /* Argon2id on 8 KiB: the KDF is not what is fuzzed here */
    o.map_size = 16u * 1024u * 1024u;
    int rc = sakhi_open(&c, path, PIN, &o);
    if (rc) {
        fprintf(stderr, "fuzz_client: open %s: %d\n", path, rc);
        return NULL;
    }
    return c;
}

static MDB_dbi dbi_at(const sakhi_client *c, int i)
{
    const MDB_dbi d[NDBI] = {c->dbi_meta, c->dbi_records, c->dbi_outbox, c->dbi_index};
    return d[i];
}

static void keys_path(char *out, size_t n)
{
    if (snprintf(out, n, "%s/keys.db", G.work) >= (int)n)
        die("path too long");
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0)
        die("cannot read keys.db");
    *n = (size_t)st.st_size;
    uint8_t *b = malloc(*n ? *n : 1);
    if (!b || fread(b, 1, *n, f) != *n)
        die("cannot read keys.db");
    fclose(f);
    return b;
}

static uint8_t *dup_bytes(const void *p, size_t n)
{
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        die("no memory");
    memcpy(b, p, n);
    return b;
}

/* Call fn for every key and value of the store's four databases, in key order; counts[i] is
 * how many database i held. */
static void each_entry(const sakhi_client *c,
                       void (*fn)(int i, size_t j, const MDB_val *k, const MDB_val *v),
                       size_t counts[NDBI])
{
    MDB_txn *t;
    if (mdb_txn_begin(c->env, NULL, MDB_RDONLY, &t) != 0)
        die("no read transaction on the store");
    for (int i = 0; i < NDBI; i++) {
        MDB_cursor *cur;
        MDB_val k, v;
        size_t j = 0;
        if (mdb_cursor_open(t, dbi_at(c, i), &cur) != 0)
            die("no cursor on the store");
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            fn(i, j++, &k, &v);
        counts[i] = j;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(t);
}

static void snapshot_one(int i, size_t j, const MDB_val *k, const MDB_val *v)
{
    if ((j & (j - 1)) == 0) { /* 0, 1, 2, 4, ...: grow to the next power of two */
        S.items[i] = realloc(S.items[i], (j ? j * 2 : 1) * sizeof(kv));
        if (!S.items[i])
            die("no memory");
    }
    kv *e = &S.items[i][j];
    e->k = dup_bytes(k->mv_data, k->mv_size);
    e->nk = k->mv_size;
    e->v = dup_bytes(v->mv_data, v->mv_size);
    e->nv = v->mv_size;
    S.n[i] = j + 1;
}

/* Record the freshly opened pristine store: its databases, keys.db and the loaded fields. */
static void snapshot(const sakhi_client *c)
{
    size_t counts[NDBI];
    each_entry(c, snapshot_one, counts);
    char kp[400];
    keys_path(kp, sizeof(kp));
    S.keys = read_file(kp, &S.nkeys);
    S.clock = c->clock;
    S.next_op = c->next_op;
    S.last_id = c->last_id;
    if (sakhi_pending_count(&S.pending, (sakhi_client *)c) != 0 || S.pending == 0)
        die("snapshot: the pristine store has no outbox");
}

/* A sync that returned holds no key-file batch, slot or shred, nor the key file's lock:
 * another process appending to keys.db would wait for it while the app sits idle. */
static void key_file_released(const sakhi_client *c)
{
    char kp[400];
    keys_path(kp, sizeof(kp));
    int fd = open(kp, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        die("cannot open keys.db");
    if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        die("a sync returned holding the key file's lock");
    close(fd);
    if (c->kr_batch || c->nnew || c->nshred)
        die("a sync left a key-file batch, new slots or shreds behind");
}

/* Put the open store back the way the snapshot found it. */
static void restore(sakhi_client *c)
{
    if (c->wiped)
        die("restoring a wiped store");
    MDB_txn *t;
    if (mdb_txn_begin(c->env, NULL, 0, &t) != 0)
        die("restore: no write transaction");
    for (int i = 0; i < NDBI; i++) {
        if (mdb_drop(t, dbi_at(c, i), 0) != 0)
            die("restore: drop failed");
        for (size_t j = 0; j < S.n[i]; j++) {
            MDB_val k = {S.items[i][j].nk, S.items[i][j].k};
            MDB_val v = {S.items[i][j].nv, S.items[i][j].v};
            if (mdb_put(t, dbi_at(c, i), &k, &v, MDB_APPEND) != 0)
                die("restore: put failed");
        }
    }
    if (mdb_txn_commit(t) != 0)
        die("restore: commit failed");
    char kp[400];
    keys_path(kp, sizeof(kp));
    int fd = open(kp, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || pwrite(fd, S.keys, S.nkeys, 0) != (ssize_t)S.nkeys ||
        ftruncate(fd, (off_t)S.nkeys) != 0 || close(fd) != 0)
        die("restore: cannot rewrite keys.db");
    c->clock = S.clock;
    c->next_op = S.next_op;
    c->last_id = S.last_id;
    c->errmsg[0] = 0;
    c->errfield[0] = 0;
}

static void verify_one(int i, size_t j, const MDB_val *k, const MDB_val *v)
{
    const kv *e = j < S.n[i] ? &S.items[i][j] : NULL;
    if (!e || e->nk != k->mv_size || e->nv != v->mv_size || memcmp(e->k, k->mv_data, e->nk) ||
        memcmp(e->v, v->mv_data, e->nv))
        die("the restored store differs from the pristine one");
}

/* The restore's own check: the store now holds exactly the snapshot. */
static void verify_restored(const sakhi_client *c)
{
    size_t counts[NDBI];
    each_entry(c, verify_one, counts);
    for (int i = 0; i < NDBI; i++)
        if (counts[i] != S.n[i])
            die("the restored store lacks pristine entries");
    char kp[400];
    size_t n;
    keys_path(kp, sizeof(kp));
    uint8_t *b = read_file(kp, &n);
    if (n != S.nkeys || memcmp(b, S.keys, n) != 0)
        die("the restored keys.db differs from the pristine one");
    free(b);
    if (memcmp(&c->clock, &S.clock, sizeof(S.clock)) || c->next_op != S.next_op)
        die("the restored handle has another clock or next op");
}

static void snapshot_free(void)
{
    for (int i = 0; i < NDBI; i++) {
        for (size_t j = 0; j < S.n[i]; j++) {
            free(S.items[i][j].k);
            free(S.items[i][j].v);
        }
        free(S.items[i]);
    }
    free(S.keys);
    memset(&S, 0, sizeof(S));
}

static void capture(sakhi_client *c, int urgency, char id[SAKHI_ID_STRLEN])
{
    sakhi_referral *r = NULL;
    if (sakhi_referral_new(&r, c) || sakhi_referral_set_district(r, SK_DISTRICT_LEH) ||
        sakhi_referral_set_block(r, "Nubra") || sakhi_referral_set_village(r, "Diskit") ||
        sakhi_referral_set_taken_at(r, SAKHI_TAKEN_ANGANWADI_CENTRE) ||
        sakhi_referral_set_name(r, "withheld") || sakhi_referral_set_age_band(r, SAKHI_AGE_30_44) ||
        sakhi_referral_add_concern(r, SAKHI_CONCERN_DOMESTIC_VIOLENCE) ||
        sakhi_referral_set_urgency(r, urgency) ||
        sakhi_referral_set_source(r, SAKHI_SOURCE_FRONTLINE_WORKER) ||
        sakhi_referral_set_consent(r, 1, 0) || sakhi_referral_save(id, c, r))
        die("cannot capture a referral");
    sakhi_referral_free(r);
}

static void at_exit(void)
{
    if (!G.ready)
        return;
    if (G.c)
        sakhi_close(G.c);
    G.c = NULL;
    snapshot_free();
    G.job = NULL;
    sem_post(&G.go);
    pthread_join(G.thread, NULL);
    close(G.lfd);
#ifdef SAKHI_FUZZ_CLOCK
    close(G.tcp_lfd);
#endif
    nftw(G.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
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

#ifdef SAKHI_FUZZ_CLOCK
static int unix_connect(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&G.un, sizeof(G.un)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}
#endif

static void setup(void)
{
    G.verbose = getenv("SAKHI_FUZZ_VERBOSE") != NULL;
    snprintf(G.dir, sizeof(G.dir), "%s/sakhi-fuzz-client-XXXXXX", tmp_base());
    if (!mkdtemp(G.dir))
        die("mkdtemp");
    snprintf(G.pristine, sizeof(G.pristine), "%s/pristine", G.dir);
    snprintf(G.work, sizeof(G.work), "%s/work", G.dir);
    G.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof(a);
    if (G.lfd < 0 || bind(G.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(G.lfd, 8) != 0 ||
        getsockname(G.lfd, (struct sockaddr *)&a, &al) != 0)
        die("cannot listen on 127.0.0.1");
    G.port = ntohs(a.sin_port);
#ifdef SAKHI_FUZZ_CLOCK
    /* The fuzzer's client connects to an AF_UNIX listener in the temp directory instead (the
     * port above stays reserved, so the enrolled address is still a real loopback one). */
    G.tcp_lfd = G.lfd;
    memset(&G.un, 0, sizeof(G.un));
    G.un.sun_family = AF_UNIX;
    if (snprintf(G.un.sun_path, sizeof(G.un.sun_path), "%s/s", G.dir) >=
            (int)sizeof(G.un.sun_path) ||
        (G.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(G.lfd, (struct sockaddr *)&G.un, sizeof(G.un)) != 0 || listen(G.lfd, 8) != 0)
        die("cannot listen on an AF_UNIX socket");
    sk_fuzz_connect = unix_connect;
#endif
    if (sem_init(&G.go, 0, 0) != 0 || sem_init(&G.done, 0, 0) != 0 ||
        pthread_create(&G.thread, NULL, fake_main, NULL) != 0)
        die("cannot start the fake server thread");
    G.ready = 1;
    atexit(at_exit);

    sakhi_client *c = open_store(G.pristine);
    if (!c)
        die("cannot create the store");
    static const uint8_t ok[6] = {0}; /* every request answered right (op 0) */
    fake f;
    if (run_against(c, ok, sizeof(ok), "FUZZCODE42", &f) != 0)
        die("enrollment against the fake server failed");
    /* Two referrals pushed: A applied (a server version, and a pull cursor above 0, so a
     * WELCOME.seq below it means a restored server), B rejected (field urgency). Then A edited
     * and followed up, B fixed (a change on top of a rejected one: a second rejection merges
     * them) and a new capture C: chosen CHANGES and PUSH_ACKs for these ids reach the merge,
     * rejection and restore paths. The first sync's script (requests: HELLO, AUTH, an early
     * PUSH of A, PULL, PUSH of B, PULL): all answered right except B's PUSH, which gets a
     * chosen PUSH_ACK (op 4, type 6, the request's rid, one ack: the PUSH's first op,
     * rejected, version 0, code 40 = INVALID on field 20 = urgency; not compressed). */
    static const uint8_t first[] = {0, 0, 0, 0, 4, 6,  1,  1, 0x80, 2, 0, 0, 0,
                                    0, 0, 0, 0, 0, 40, 20, 0, 0,    0, 0, 0, 0};
    char ida[SAKHI_ID_STRLEN], idb[SAKHI_ID_STRLEN], idn[SAKHI_ID_STRLEN];
    capture(c, SAKHI_URGENCY_ROUTINE, ida);
    capture(c, SAKHI_URGENCY_IMMEDIATE_DANGER, idb);
    if (run_against(c, first, sizeof(first), NULL, &f) != 0)
        die("the first sync against the fake server failed");
    sakhi_status st = SAKHI_STATUS_INIT;
    if (sakhi_status_get(&st, c) != 0 || st.pending != 0 || st.rejected != 1 || st.cursor == 0) {
        fprintf(stderr, "fuzz_client: pending %llu rejected %llu cursor %llu: %s\n",
                (unsigned long long)st.pending, (unsigned long long)st.rejected,
                (unsigned long long)st.cursor, sakhi_errmsg(c));
        die("the first sync did not leave one record applied and one rejected");
    }
    sakhi_referral *r = NULL;
    if (sakhi_referral_edit(&r, c, ida) || sakhi_referral_set_urgency(r, SAKHI_URGENCY_URGENT) ||
        sakhi_referral_set_notes(r, "moved to her mother's house") ||
        sakhi_referral_save(NULL, c, r))
        die("cannot edit a synced referral");
    sakhi_referral_free(r);
    if (sakhi_followup_add(c, ida, "called; counselling on Tuesday"))
        die("cannot add a follow-up");
    if (sakhi_referral_edit(&r, c, idb) || sakhi_referral_set_urgency(r, SAKHI_URGENCY_URGENT) ||
        sakhi_referral_save(NULL, c, r))
        die("cannot fix the rejected referral");
    sakhi_referral_free(r);
    capture(c, SAKHI_URGENCY_ROUTINE, idn);
    sakhi_close(c);
    /* The snapshot is of a store as a fresh open of the copy finds it. */
    copy_dir(G.pristine, G.work);
    if (!(G.c = open_store(G.work)))
        die("the copied store does not open");
    snapshot(G.c);
}

/* ---- one input ---------------------------------------------------------------------------- */

static int sync_code_ok(int rc)
{
    switch (rc) {
    case SAKHI_OK:
    case SAKHI_ENET:
    case SAKHI_ETIMEOUT:
    case SAKHI_EPROTO:
    case SAKHI_EAUTH:
    case SAKHI_EREVOKED:
    case SAKHI_ESERVER:
    case SAKHI_EVERSION: return 1;
    default: return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!G.ready)
        setup();
    else if (G.c)
        restore(G.c);
    else {
        copy_dir(G.pristine, G.work);
        if (!(G.c = open_store(G.work)))
            die("the copied store does not open");
    }
#ifdef SAKHI_FUZZ_CLOCK
    if (G.inputs % 64 == 0)
#endif
        verify_restored(G.c);
    G.inputs++;
    sakhi_client *c = G.c;
    uint64_t before = 0, after = 0;
    if (sakhi_pending_count(&before, c) != 0 || before != S.pending)
        die("the pristine store lost its outbox");
    fake f;
    int rc = run_against(c, data, size, NULL, &f);
    if (!sync_code_ok(rc)) {
        fprintf(stderr, "fuzz_client: sakhi_sync returned %d (%s): %s\n", rc, sakhi_strerror(rc),
                sakhi_errmsg(c));
        abort();
    }
    if (G.verbose)
        fprintf(stderr, "fuzz_client: sync=%d (%s) acks_sent=%d wipe_sent=%d\n", rc,
                sakhi_strerror(rc), f.saw_ack, f.saw_wipe);
    if (rc == SAKHI_EREVOKED && !f.saw_wipe)
        die("the store was wiped without a WIPE");
    if (rc == SAKHI_EREVOKED) {
        sakhi_close(c);
        G.c = NULL; /* wiped on purpose: nothing left to compare; the next input copies */
        return 0;
    }
    key_file_released(c);
    if (sakhi_pending_count(&after, c) != 0)
        die("the outbox cannot be counted after the sync");
    if (G.verbose)
        fprintf(stderr, "fuzz_client: pending %llu -> %llu\n", (unsigned long long)before,
                (unsigned long long)after);
    if (after > before && !f.server_behind)
        die("the outbox grew during a sync without a restored server");
    if (after < before && !f.saw_ack && !f.saw_erased)
        die("outbox entries left without a PUSH_ACK or an erasure");
    /* Closing and opening an LMDB store costs more under ASan than most syncs: one input in
     * eight (chosen by content, so a replay does the same) closes the store, opens it again
     * with the PIN and finds the same outbox there. The count above already read the outbox
     * from LMDB in a new transaction, so this adds only what an open checks. */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    if ((h & 7u) != 0)
        return 0;
    uint64_t again = 0;
    sakhi_close(c);
    if (!(G.c = c = open_store(G.work)))
        die("the store does not open after the sync");
    if (sakhi_pending_count(&again, c) != 0 || again != after)
        die("the reopened store has another outbox");
    return 0;
}
