/*
 * fuzz_engine.c - libFuzzer target for the sync engine (proto/sk_engine.h) alone: no socket,
 * no store, no thread. The input is what a server says and when: a sequence of items, each a
 * one-byte tag and its bytes,
 *   0 a frame body (2-byte big-endian length, then the bytes), sent with its frame header
 *   1 raw wire bytes (2-byte length, then the bytes), possibly a broken header
 *   2 the right answer to the oldest request the engine has out (CHALLENGE, WELCOME with
 *     limits from the next byte, PUSH_ACK applying every change, CHANGES with the next byte's
 *     number of records), built with proto's codec
 *   3 time passes (next byte x 50 ms), then the engine's timers are checked
 *   4 the drain (deadline) starts
 * fed to one engine in sync mode with a 20-change outbox and an in-memory driver.
 * Invariants (abort otherwise): the engine's status is one of its three and, once not running,
 * stays so; every PUSH it sends carries only outbox changes not yet acknowledged, in order,
 * at most max_batch of them after WELCOME; it never has more requests out than WELCOME allows
 * (after the early ones were answered); an ack callback sees only PUSH_ACKs answering its
 * PUSHes; it never sends anything after failing. ASan/UBSan/LSan catch memory errors and
 * leaks. tests/fuzz/replay_main.c replays tests/fuzz/corpus_engine in every build.
 */
#include "sk_engine.h"
#include "sk_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NITEMS 20

typedef struct fz {
    sk_engine e;
    sk_engine_item items[NITEMS];
    int acked[NITEMS];
    sk_frame_reader rd;
    /* requests the engine has out, oldest first, as the test reads them from its output */
    uint32_t rid[512], type[512];
    uint32_t nops[512]; /* PUSH: changes */
    uint64_t ops[512][64];
    size_t nreq;
    uint64_t seq, now;
} fz;

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_engine: invariant broken: %s\n", what);
        abort();
    }
}

static int item_index(uint64_t op)
{
    return op >= 1000 && op < 1000 + NITEMS ? (int)(op - 1000) : -1;
}

static int cb_load(void *p, const sk_engine_item *items, size_t n, sk_change *out, uint32_t *got)
{
    fz *f = p;
    (void)f;
    *got = 0;
    for (size_t i = 0; i < n; i++) {
        sk_change *c = &out[*got];
        sk_change_init(c);
        c->id.b[0] = 1;
        c->id.b[15] = (uint8_t)items[i].op;
        c->op = items[i].op;
        c->kind = SK_CHANGE_UPSERT;
        c->hlc = SK_HLC_MAKE(1700000000000ull, 0);
        uint8_t v[2] = {0xa1, 'x'};
        if (sk_change_set(c, 7, v, 2))
            return -1;
        (*got)++;
    }
    return 0;
}

static int cb_acks(void *p, sk_engine *e, const sk_msg *m)
{
    fz *f = p;
    for (uint32_t i = 0; i < m->u.push_ack.nacks; i++) {
        int k = item_index(m->u.push_ack.acks[i].op);
        if (k >= 0 && !f->acked[k]) {
            f->acked[k] = 1;
            sk_engine_count_ack(e);
        }
    }
    return 0;
}

static int cb_records(void *p, sk_engine *e, const sk_msg *m)
{
    (void)p;
    (void)e;
    (void)m;
    return 0;
}

static int cb_welcome(void *p, sk_engine *e, const sk_msg *m, int behind)
{
    (void)p;
    if (behind)
        sk_engine_note_behind(e, m->u.welcome.seq);
    return 0;
}

static const sk_engine_ops OPS = {
    .load = cb_load, .acks = cb_acks, .records = cb_records, .welcome = cb_welcome};

/* Read what the engine queued: note its requests, check the PUSHes. */
static void take(fz *f)
{
    const uint8_t *p;
    size_t n, off = 0;
    sk_engine_output(&f->e, &p, &n);
    while (off < n) {
        size_t used = 0;
        const uint8_t *fr;
        uint32_t flen;
        sk_msg m;
        int rc = sk_frame_feed(&f->rd, p + off, n - off, &used, &fr, &flen);
        check(rc >= 0, "the engine's own frames are well formed");
        off += used;
        if (rc == 0)
            break;
        check(sk_msg_decode(fr, flen, &m, NULL) == 0, "the engine's own messages decode");
        if (m.type == SK_MSG_PUSH) {
            uint64_t last = 0;
            for (uint32_t i = 0; i < m.u.push.nchanges; i++) {
                int k = item_index(m.u.push.changes[i].op);
                check(k >= 0, "a PUSH carries outbox changes only");
                check(!f->acked[k], "a PUSH carries no acknowledged change");
                check(m.u.push.changes[i].op > last, "a PUSH's changes in order");
                last = m.u.push.changes[i].op;
            }
            if (sk_engine_welcomed(&f->e))
                check(m.u.push.nchanges <= f->e.max_batch, "PUSH within max_batch");
        }
        if ((m.type == SK_MSG_PUSH || m.type == SK_MSG_PULL || m.type == SK_MSG_HELLO ||
             m.type == SK_MSG_AUTH) &&
            f->nreq < 512) {
            f->rid[f->nreq] = m.rid;
            f->type[f->nreq] = m.type;
            f->nops[f->nreq] = 0;
            if (m.type == SK_MSG_PUSH)
                for (uint32_t i = 0; i < m.u.push.nchanges && i < 64; i++)
                    f->ops[f->nreq][f->nops[f->nreq]++] = m.u.push.changes[i].op;
            f->nreq++;
        }
        sk_msg_free(&m);
    }
    sk_engine_consume(&f->e, n);
}

static void feed_msg(fz *f, const sk_msg *m)
{
    sk_buf b = SK_BUF_INIT;
    if (sk_msg_encode(&b, m) == 0)
        sk_engine_feed(&f->e, b.data, b.len, NULL, f->now);
    sk_buf_free(&b);
}

/* The right answer to the oldest request out. */
static void answer(fz *f, uint8_t arg)
{
    sk_msg m;
    if (f->nreq == 0)
        return;
    uint32_t rid = f->rid[0], type = f->type[0];
    uint32_t nops = f->nops[0];
    uint64_t ops[64];
    memcpy(ops, f->ops[0], sizeof(ops));
    memmove(f->rid, f->rid + 1, (f->nreq - 1) * sizeof(f->rid[0]));
    memmove(f->type, f->type + 1, (f->nreq - 1) * sizeof(f->type[0]));
    memmove(f->nops, f->nops + 1, (f->nreq - 1) * sizeof(f->nops[0]));
    memmove(f->ops, f->ops + 1, (f->nreq - 1) * sizeof(f->ops[0]));
    f->nreq--;
    switch (type) {
    case SK_MSG_HELLO:
        sk_msg_init(&m, SK_MSG_CHALLENGE, rid);
        m.u.challenge.version = SK_PROTO_VERSION;
        m.u.challenge.server_ms = 1700000000000ull;
        feed_msg(f, &m);
        break;
    case SK_MSG_AUTH:
        sk_msg_init(&m, SK_MSG_WELCOME, rid);
        m.u.welcome.max_frame = 65536;
        m.u.welcome.max_batch = 1 + arg % 16;
        m.u.welcome.max_inflight = 1 + (arg >> 4);
        m.u.welcome.worker = SK_STR("w");
        m.u.welcome.seq = arg;
        m.u.welcome.has_seq = arg & 1;
        feed_msg(f, &m);
        break;
    case SK_MSG_PUSH: {
        sk_ack acks[64];
        memset(acks, 0, sizeof(acks));
        sk_msg_init(&m, SK_MSG_PUSH_ACK, rid);
        for (uint32_t i = 0; i < nops; i++) {
            acks[i].op = ops[i];
            acks[i].status = SK_ACK_APPLIED;
            acks[i].version = ++f->seq;
        }
        m.u.push_ack.acks = acks;
        m.u.push_ack.nacks = nops;
        feed_msg(f, &m);
        break;
    }
    case SK_MSG_PULL: {
        sk_record recs[3];
        uint32_t nr = arg % 4;
        sk_msg_init(&m, SK_MSG_CHANGES, rid);
        for (uint32_t i = 0; i < nr; i++) {
            sk_record_init(&recs[i]);
            recs[i].id.b[0] = 9;
            recs[i].id.b[15] = (uint8_t)(i + 1);
            recs[i].version = ++f->seq;
        }
        m.u.changes.records = recs;
        m.u.changes.nrecords = nr;
        m.u.changes.next = f->seq;
        m.u.changes.more = (arg & 0x80) != 0;
        m.u.changes.last = 1;
        feed_msg(f, &m);
        for (uint32_t i = 0; i < nr; i++)
            sk_record_free(&recs[i]);
        break;
    }
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t priv[SK_PRIVKEY_LEN] = {7};
    fz *f = calloc(1, sizeof(*f));
    size_t pos = 0;
    if (!f)
        return 0;
    for (int i = 0; i < NITEMS; i++)
        f->items[i] = (sk_engine_item){1000u + (uint64_t)i, i < 2, 200};
    sk_frame_reader_init(&f->rd, SK_FRAME_DEFAULT_MAX);
    sk_engine_config ec;
    memset(&ec, 0, sizeof(ec));
    ec.mode = SK_ENGINE_SYNC;
    ec.device = 5;
    ec.priv = priv;
    ec.early = 1;
    ec.caps = SK_CAP_ECHO;
    ec.batch_size = 8;
    ec.pull_limit = 10;
    ec.io_timeout_ms = 1000;
    ec.stall_timeout_ms = 3000;
    ec.items = f->items;
    ec.nitems = NITEMS;
    f->now = 1;
    check(sk_engine_init(&f->e, &ec, &OPS, f) == 0, "init");
    int st = sk_engine_start(&f->e, f->now);
    take(f);
    for (int steps = 0; pos < size && steps < 4096; steps++) {
        int before = st;
        uint8_t tag = data[pos++];
        switch (tag % 5) {
        case 0:
        case 1: {
            if (pos + 2 > size)
                goto out;
            size_t n = (size_t)data[pos] << 8 | data[pos + 1];
            pos += 2;
            if (n > size - pos)
                n = size - pos;
            if (tag % 5 == 0) {
                uint8_t hdr[SK_FRAME_HDR];
                sk_frame_put_header(hdr, (uint32_t)n);
                st = sk_engine_feed(&f->e, hdr, sizeof(hdr), NULL, f->now);
            }
            st = sk_engine_feed(&f->e, data + pos, n, NULL, f->now);
            pos += n;
            break;
        }
        case 2: answer(f, pos < size ? data[pos++] : 0); break;
        case 3:
            f->now += 50u * (pos < size ? data[pos++] : 1);
            st = sk_engine_tick(&f->e, f->now);
            break;
        default: st = sk_engine_drain(&f->e); break;
        }
        st = sk_engine_status(&f->e);
        check(st == SK_ENGINE_RUNNING || st == SK_ENGINE_DONE || st == SK_ENGINE_FAILED,
              "a known status");
        check(before == SK_ENGINE_RUNNING || st == before, "an ended engine stays ended");
        if (st == SK_ENGINE_FAILED) {
            const uint8_t *p;
            size_t n0, n1;
            sk_engine_output(&f->e, &p, &n0);
            take(f);
            sk_engine_tick(&f->e, f->now + 100000);
            sk_engine_output(&f->e, &p, &n1);
            check(n1 == 0, "nothing queued after failing");
        } else {
            take(f);
        }
        if (sk_engine_welcomed(&f->e) && st == SK_ENGINE_RUNNING)
            check(f->e.nfl <= (f->e.max_inflight > 2 ? f->e.max_inflight : 2),
                  "requests out within max_inflight");
    }
out:
    sk_engine_free(&f->e);
    sk_frame_reader_free(&f->rd);
    free(f);
    return 0;
}
