/*
 * test_link_wire.c - the exact bytes of the messages between servers: REPL_PULL and REPL_DATA
 * (a standby and its primary), HUB_PUSH and HUB_ACK (a centre and its hub), HUB_XFER and
 * HUB_XFER_OF (a case moved between centres). Each expected frame is written by hand from
 * docs/PROTOCOL.md (sections 1, 2 and 3.17 to 3.19: a 4-byte big-endian length, then
 * [type, rid, {key: value}] with keys ascending, the shortest integers, and an optional field
 * at its default left out), not from the encoder. The encoder must produce it byte for byte, and
 * decoding those bytes and encoding what was read must give them back: a value the decoder
 * misread, or a default it did not fill in, comes back as another byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <stdlib.h>
#include <string.h>

#include "sk_buf.h"
#include "sk_err.h"
#include "sk_hubmsg.h"
#include "sk_msg.h"
#include "sk_replmsg.h"
#include "sk_xfer.h"

/* Hex with spaces between bytes as the spec's reader writes it; out holds the bytes. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        assert_true(n < cap);
        out[n++] = (uint8_t)v;
        p += 2;
    }
    return n;
}

/* Decode a body of one type and encode what was read as a whole frame into out. */
typedef int (*reencode_fn)(const uint8_t *body, size_t len, sk_buf *out);

#define REENCODE(name, type, decode, encode)                                                       \
    static int name(const uint8_t *body, size_t len, sk_buf *out)                                  \
    {                                                                                              \
        type m;                                                                                    \
        uint32_t rid;                                                                              \
        int rc = decode(body, len, &rid, &m);                                                      \
        return rc ? rc : encode(out, rid, &m);                                                     \
    }

static int xfer_of_encode(sk_buf *out, uint32_t rid, const sk_xfer_of *m)
{
    return sk_xfer_of_encode(out, rid, m->items, m->items_len, m->nitems);
}

REENCODE(re_repl_pull, sk_repl_pull, sk_repl_pull_decode, sk_repl_pull_encode)
REENCODE(re_repl_data, sk_repl_data, sk_repl_data_decode, sk_repl_data_encode)
REENCODE(re_hub_push, sk_hub_push, sk_hub_push_decode, sk_hub_push_encode)
REENCODE(re_hub_ack, sk_hub_ack, sk_hub_ack_decode, sk_hub_ack_encode)
REENCODE(re_xfer, sk_xfer_req, sk_xfer_req_decode, sk_xfer_req_encode)
REENCODE(re_xfer_of, sk_xfer_of, sk_xfer_of_decode, xfer_of_encode)

/* The frame the encoder wrote (rc its result) must be the 4-byte length then exactly the body
 * written in body_hex, and re must read that body back to the same frame. Empties f. */
static void check_frame(sk_buf *f, int rc, const char *body_hex, reencode_fn re)
{
    uint8_t want[512];
    size_t n = unhex(body_hex, want, sizeof(want));
    assert_int_equal(rc, 0);
    assert_int_equal(f->len, 4 + n);
    assert_int_equal(sk_be32_get(f->data), n);
    for (size_t i = 0; i < n; i++)
        if (f->data[4 + i] != want[i])
            fail_msg("byte %zu of the body: 0x%02x, the spec says 0x%02x", i, f->data[4 + i],
                     want[i]);
    sk_buf back = SK_BUF_INIT;
    assert_int_equal(re(want, n, &back), 0);
    assert_int_equal(back.len, f->len);
    assert_memory_equal(back.data, f->data, f->len);
    sk_buf_free(&back);
    f->len = 0;
}

/* What every test writes: the frame, and the items or ops packed for it. */
typedef struct wire {
    sk_buf f, items;
    msgpack_packer pk; /* packs into items */
} wire;

static int setup(void **state)
{
    wire *w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    sk_packer_init(&w->pk, &w->items);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    wire *w = *state;
    sk_buf_free(&w->f);
    sk_buf_free(&w->items);
    free(w);
    return 0;
}

static void test_repl_pull(void **state)
{
    wire *w = *state;
    /* following: seq 10 applied whole, wait up to 5 s, epoch 2; snap_db, snap_key and
     * max_bytes at their defaults are left out */
    sk_repl_pull follow = {.seq = 10, .idx = SK_REPL_WHOLE, .wait_ms = 5000, .epoch = 2};
    check_frame(&w->f, sk_repl_pull_encode(&w->f, 3, &follow),
                "93 12 03 84 01 0a 02 ce ff ff ff ff 06 cd 13 88 07 02", re_repl_pull);
    /* a new replica seeding: seq 0 and idx 0 are required, so written */
    sk_repl_pull seed = {.snap_db = 1};
    check_frame(&w->f, sk_repl_pull_encode(&w->f, 1, &seed), "93 12 01 83 01 00 02 00 03 01",
                re_repl_pull);
}

static void test_repl_data(void **state)
{
    wire *w = *state;
    const uint8_t key[2] = {'h', 'i'}, val[1] = {0x2a};
    sk_replop put = {.seq = 12, .kind = 1, .db = 1, .key = key, .klen = 2, .val = val, .vlen = 1};
    sk_replop del = {.seq = 12, .idx = 1, .kind = 2, .db = 1, .key = key, .klen = 2};
    sk_repl_op_pack(&w->pk, &put);
    sk_repl_op_pack(&w->pk, &del);
    /* log mode, the entry whole; primary_ms, snap_* and sync at their defaults left out */
    sk_repl_data d = {.head = 12,
                      .epoch = 2,
                      .ops = w->items.data,
                      .ops_len = w->items.len,
                      .nops = 2,
                      .whole = 1};
    check_frame(&w->f, sk_repl_data_encode(&w->f, 3, &d),
                "93 13 03 84 01 0c 02 02 03 92"
                " 96 0c 00 01 01 c4 02 68 69 c4 01 2a"
                " 96 0c 01 02 01 c4 02 68 69 c0"
                " 09 01",
                re_repl_data);
    /* nothing new, with the primary's clock */
    sk_repl_data idle = {.head = 12, .epoch = 2, .primary_ms = 1000};
    check_frame(&w->f, sk_repl_data_encode(&w->f, 4, &idle),
                "93 13 04 84 01 0c 02 02 03 90 07 cd 03 e8", re_repl_data);
}

static void test_hub_push_and_ack(void **state)
{
    wire *w = *state;
    const uint8_t rec[2] = {0x01, 0x02};
    sk_hub_past past = {.key = 26, .ver = 3, .hlc = 1000, .code = 2};
    sk_hub_item_pack(&w->pk, rec, sizeof(rec), &past, 1);
    /* after is required, so 0 is written; epoch and centre_ms at 0 are left out */
    sk_hub_push first = {.upto = 5, .items = w->items.data, .items_len = w->items.len, .nitems = 1};
    check_frame(&w->f, sk_hub_push_encode(&w->f, 9, &first),
                "93 14 09 83 01 00 02 05 04 91 92 c4 02 01 02 91 94 1a 03 cd 03 e8 02",
                re_hub_push);
    sk_hub_push next = {.after = 5, .upto = 7, .epoch = 2, .centre_ms = 1000};
    check_frame(&w->f, sk_hub_push_encode(&w->f, 10, &next),
                "93 14 0a 85 01 05 02 07 03 02 04 90 05 cd 03 e8", re_hub_push);
    sk_hub_ack stored = {.upto = 5, .stored = 1};
    check_frame(&w->f, sk_hub_ack_encode(&w->f, 9, &stored), "93 15 09 82 01 05 02 01", re_hub_ack);
    /* a push sent again stores nothing: only upto remains */
    sk_hub_ack again = {.upto = 5};
    check_frame(&w->f, sk_hub_ack_encode(&w->f, 11, &again), "93 15 0b 81 01 05", re_hub_ack);
}

static void test_hub_xfer_and_of(void **state)
{
    wire *w = *state;
    sk_xfer_req offer = {.op = SK_XFER_OFFER, .has_id = 1, .to = "kargil"};
    memset(offer.id, 0x11, sizeof(offer.id));
    check_frame(&w->f, sk_xfer_req_encode(&w->f, 4, &offer),
                "93 16 04 83 01 01 02 c4 10"
                " 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11"
                " 03 a6 6b 61 72 67 69 6c",
                re_xfer);
    sk_xfer_req list = {.op = SK_XFER_LIST};
    check_frame(&w->f, sk_xfer_req_encode(&w->f, 5, &list), "93 16 05 81 01 07", re_xfer);

    sk_xfer_item it = {.from = "leh", .to = "kargil", .state = SK_XFER_S_OFFERED};
    memset(it.id, 0x11, sizeof(it.id));
    sk_xfer_item_pack(&w->pk, &it);
    check_frame(&w->f, sk_xfer_of_encode(&w->f, 4, w->items.data, w->items.len, 1),
                "93 17 04 81 01 91 96 c4 10"
                " 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11"
                " a3 6c 65 68 a6 6b 61 72 67 69 6c 01 c4 00 c4 00",
                re_xfer_of);
}

SK_TEST_MAIN_SETS(SK_TESTS(setup, teardown, test_repl_pull, test_repl_data, test_hub_push_and_ack,
                           test_hub_xfer_and_of))
