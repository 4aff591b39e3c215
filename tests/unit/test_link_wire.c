/*
 * test_link_wire.c - the exact bytes of the messages between servers: REPL_PULL and REPL_DATA
 * (a standby and its primary), HUB_PUSH and HUB_ACK (a centre and its hub), HUB_XFER and
 * HUB_XFER_OF (a case moved between centres). Each expected frame is written by hand from
 * docs/PROTOCOL.md (sections 1, 2 and 3.17 to 3.19: a 4-byte big-endian length, then
 * [type, rid, {key: value}] with keys ascending, the shortest integers, and an optional field
 * at its default left out), not from the encoder. The encoder must produce it byte for byte and
 * the decoder must read the same values back from it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

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

/* The frame in f must be the 4-byte length then exactly the body written in body_hex. */
static void assert_frame(const sk_buf *f, const char *body_hex)
{
    uint8_t want[512];
    size_t n = unhex(body_hex, want, sizeof(want));
    assert_int_equal(f->len, 4 + n);
    assert_int_equal(sk_be32_get(f->data), n);
    if (memcmp(f->data + 4, want, n) != 0) {
        for (size_t i = 0; i < n; i++)
            if (f->data[4 + i] != want[i])
                fail_msg("byte %zu of the body: 0x%02x, the spec says 0x%02x", i, f->data[4 + i],
                         want[i]);
    }
}

static void test_repl_pull(void **state)
{
    (void)state;
    sk_buf f = SK_BUF_INIT;
    /* following: seq 10 applied whole, wait up to 5 s, epoch 2; snap_db, snap_key and
     * max_bytes at their defaults are left out */
    sk_repl_pull p = {.seq = 10, .idx = SK_REPL_WHOLE, .wait_ms = 5000, .epoch = 2};
    assert_int_equal(sk_repl_pull_encode(&f, 3, &p), 0);
    assert_frame(&f, "93 12 03 84 01 0a 02 ce ff ff ff ff 06 cd 13 88 07 02");
    sk_repl_pull d;
    uint32_t rid;
    assert_int_equal(sk_repl_pull_decode(f.data + 4, f.len - 4, &rid, &d), 0);
    assert_int_equal(rid, 3);
    assert_int_equal(d.seq, 10);
    assert_int_equal(d.idx, SK_REPL_WHOLE);
    assert_int_equal(d.snap_db, 0);
    assert_null(d.snap_key);
    assert_int_equal(d.wait_ms, 5000);
    assert_int_equal(d.epoch, 2);
    /* a new replica seeding: seq 0, idx 0, snap_db 1 */
    f.len = 0;
    sk_repl_pull seed = {.snap_db = 1};
    assert_int_equal(sk_repl_pull_encode(&f, 1, &seed), 0);
    assert_frame(&f, "93 12 01 83 01 00 02 00 03 01");
    sk_buf_free(&f);
}

static void test_repl_data(void **state)
{
    (void)state;
    sk_buf f = SK_BUF_INIT, ops = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &ops);
    const uint8_t key[2] = {'h', 'i'}, val[1] = {0x2a};
    sk_replop put = {
        .seq = 12, .idx = 0, .kind = 1, .db = 1, .key = key, .klen = 2, .val = val, .vlen = 1};
    sk_replop del = {.seq = 12, .idx = 1, .kind = 2, .db = 1, .key = key, .klen = 2};
    sk_repl_op_pack(&pk, &put);
    sk_repl_op_pack(&pk, &del);
    /* log mode, the entry whole; primary_ms, snap_* and sync at their defaults left out */
    sk_repl_data d = {
        .head = 12, .epoch = 2, .ops = ops.data, .ops_len = ops.len, .nops = 2, .whole = 1};
    assert_int_equal(sk_repl_data_encode(&f, 3, &d), 0);
    assert_frame(&f, "93 13 03 84 01 0c 02 02 03 92"
                     " 96 0c 00 01 01 c4 02 68 69 c4 01 2a"
                     " 96 0c 01 02 01 c4 02 68 69 c0"
                     " 09 01");
    sk_repl_data got;
    uint32_t rid;
    assert_int_equal(sk_repl_data_decode(f.data + 4, f.len - 4, &rid, &got), 0);
    assert_int_equal(rid, 3);
    assert_int_equal(got.head, 12);
    assert_int_equal(got.epoch, 2);
    assert_int_equal(got.nops, 2);
    assert_int_equal(got.whole, 1);
    assert_int_equal(got.primary_ms, 0);
    /* with the primary's clock it is written */
    f.len = 0;
    sk_repl_data idle = {.head = 12, .epoch = 2, .primary_ms = 1000};
    assert_int_equal(sk_repl_data_encode(&f, 4, &idle), 0);
    assert_frame(&f, "93 13 04 84 01 0c 02 02 03 90 07 cd 03 e8");
    sk_buf_free(&f);
    sk_buf_free(&ops);
}

static void test_hub_push_and_ack(void **state)
{
    (void)state;
    sk_buf f = SK_BUF_INIT, items = SK_BUF_INIT;
    msgpack_packer pk;
    sk_packer_init(&pk, &items);
    const uint8_t rec[2] = {0x01, 0x02};
    sk_hub_past past = {.key = 26, .ver = 3, .hlc = 1000, .code = 2};
    sk_hub_item_pack(&pk, rec, sizeof(rec), &past, 1);
    /* after is required, so 0 is written; epoch and centre_ms at 0 are left out */
    sk_hub_push p = {
        .after = 0, .upto = 5, .items = items.data, .items_len = items.len, .nitems = 1};
    assert_int_equal(sk_hub_push_encode(&f, 9, &p), 0);
    assert_frame(&f, "93 14 09 83 01 00 02 05 04 91 92 c4 02 01 02 91 94 1a 03 cd 03 e8 02");
    sk_hub_push got;
    uint32_t rid;
    assert_int_equal(sk_hub_push_decode(f.data + 4, f.len - 4, &rid, &got), 0);
    assert_int_equal(rid, 9);
    assert_int_equal(got.upto, 5);
    assert_int_equal(got.epoch, 0);
    assert_int_equal(got.nitems, 1);
    f.len = 0;
    sk_hub_push full = {.after = 5, .upto = 7, .epoch = 2, .centre_ms = 1000};
    assert_int_equal(sk_hub_push_encode(&f, 10, &full), 0);
    assert_frame(&f, "93 14 0a 85 01 05 02 07 03 02 04 90 05 cd 03 e8");

    f.len = 0;
    sk_hub_ack a = {.upto = 5, .stored = 1};
    assert_int_equal(sk_hub_ack_encode(&f, 9, &a), 0);
    assert_frame(&f, "93 15 09 82 01 05 02 01");
    sk_hub_ack ga;
    assert_int_equal(sk_hub_ack_decode(f.data + 4, f.len - 4, &rid, &ga), 0);
    assert_int_equal(ga.upto, 5);
    assert_int_equal(ga.stored, 1);
    assert_int_equal(ga.hub_ms, 0);
    /* a push sent again stores nothing: only upto remains */
    f.len = 0;
    sk_hub_ack again = {.upto = 5};
    assert_int_equal(sk_hub_ack_encode(&f, 11, &again), 0);
    assert_frame(&f, "93 15 0b 81 01 05");
    sk_buf_free(&f);
    sk_buf_free(&items);
}

static void test_hub_xfer_and_of(void **state)
{
    (void)state;
    sk_buf f = SK_BUF_INIT, items = SK_BUF_INIT;
    sk_xfer_req r = {.op = SK_XFER_OFFER, .has_id = 1};
    memset(r.id, 0x11, sizeof(r.id));
    snprintf(r.to, sizeof(r.to), "kargil");
    assert_int_equal(sk_xfer_req_encode(&f, 4, &r), 0);
    assert_frame(&f, "93 16 04 83 01 01 02 c4 10"
                     " 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11"
                     " 03 a6 6b 61 72 67 69 6c");
    sk_xfer_req got;
    uint32_t rid;
    assert_int_equal(sk_xfer_req_decode(f.data + 4, f.len - 4, &rid, &got), 0);
    assert_int_equal(got.op, SK_XFER_OFFER);
    assert_memory_equal(got.id, r.id, sizeof(r.id));
    assert_string_equal(got.to, "kargil");
    f.len = 0;
    sk_xfer_req list = {.op = SK_XFER_LIST};
    assert_int_equal(sk_xfer_req_encode(&f, 5, &list), 0);
    assert_frame(&f, "93 16 05 81 01 07");

    msgpack_packer pk;
    sk_packer_init(&pk, &items);
    sk_xfer_item it = {.state = SK_XFER_S_OFFERED};
    memset(it.id, 0x11, sizeof(it.id));
    snprintf(it.from, sizeof(it.from), "leh");
    snprintf(it.to, sizeof(it.to), "kargil");
    sk_xfer_item_pack(&pk, &it);
    f.len = 0;
    assert_int_equal(sk_xfer_of_encode(&f, 4, items.data, items.len, 1), 0);
    assert_frame(&f, "93 17 04 81 01 91 96 c4 10"
                     " 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11"
                     " a3 6c 65 68 a6 6b 61 72 67 69 6c 01 c4 00 c4 00");
    sk_xfer_of of;
    assert_int_equal(sk_xfer_of_decode(f.data + 4, f.len - 4, &rid, &of), 0);
    assert_int_equal(rid, 4);
    assert_int_equal(of.nitems, 1);
    sk_buf_free(&f);
    sk_buf_free(&items);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_repl_pull),
    cmocka_unit_test(test_repl_data),
    cmocka_unit_test(test_hub_push_and_ack),
    cmocka_unit_test(test_hub_xfer_and_of),
})
