/*
 * fuzz_xfer.c - libFuzzer target for what a case transfer decodes from others
 * (proto/sk_xfer.h): a HUB_XFER body (the hub, from any authenticated centre), a HUB_XFER_OF
 * body (a centre, from its hub), the plain payload of a sealed case, and a sealed case itself.
 *
 * A request that decodes must re-encode and decode again to the same request; an HUB_XFER_OF
 * that decodes must walk all its items; a payload that decodes must walk all its earlier
 * values; bytes that were not sealed by the seal below must never open, and opening must give
 * nothing back when it fails. A decode error must be one of the protocol's codes. Anything
 * else aborts, which the fuzzer reports. tests/fuzz/replay_main.c runs it over corpus_xfer/.
 */
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_xfer.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void known_error(int rc)
{
    check(rc < 0 && strcmp(sk_err_name(rc), "UNKNOWN") != 0);
}

static void request(const uint8_t *data, size_t size)
{
    sk_xfer_req r, r2;
    uint32_t rid = 0, rid2 = 0;
    int rc = sk_xfer_req_decode(data, size, &rid, &r);
    if (rc) {
        known_error(rc);
        return;
    }
    sk_buf b = SK_BUF_INIT;
    check(sk_xfer_req_encode(&b, rid, &r) == 0);
    check(sk_xfer_req_decode(b.data + SK_FRAME_HDR, b.len - SK_FRAME_HDR, &rid2, &r2) == 0);
    check(rid2 == rid && r2.op == r.op && r2.has_id == r.has_id && r2.has_key == r.has_key &&
          strcmp(r2.to, r.to) == 0 && r2.sealed_len == r.sealed_len &&
          memcmp(r2.id, r.id, sizeof(r.id)) == 0 && memcmp(r2.key, r.key, sizeof(r.key)) == 0);
    check(r.sealed_len == 0 || memcmp(r2.sealed, r.sealed, r.sealed_len) == 0);
    sk_buf_free(&b);
}

static void answer(const uint8_t *data, size_t size)
{
    sk_xfer_of of;
    sk_xfer_item it;
    sk_mp m;
    uint32_t rid = 0;
    int rc = sk_xfer_of_decode(data, size, &rid, &of);
    if (rc) {
        known_error(rc);
        return;
    }
    check(of.nitems <= SK_XFER_MAX_ITEMS);
    sk_xfer_items_begin(&m, &of);
    for (uint32_t i = 0; i < of.nitems; i++) {
        check(sk_xfer_items_next(&m, &it) == 0);
        check(it.state >= 1 && it.state <= SK_XFER_STATE_MAX);
        check(sk_xfer_centre_name_ok(it.from, strlen(it.from)) &&
              sk_xfer_centre_name_ok(it.to, strlen(it.to)));
    }
}

static void payload(const uint8_t *data, size_t size)
{
    sk_xfer_payload pl;
    sk_xfer_past p;
    sk_mp m;
    int rc = sk_xfer_payload_decode(data, size, &pl);
    if (rc) {
        known_error(rc);
        return;
    }
    check(pl.rec_len > 0 && pl.npast <= SK_XFER_MAX_HISTORY);
    sk_xfer_past_begin(&m, &pl);
    for (uint32_t i = 0; i < pl.npast; i++)
        check(sk_xfer_past_next(&m, &p) == 0 && p.key != 0);
}

static void sealed(const uint8_t *data, size_t size)
{
    static const uint8_t id[SK_XFER_ID_LEN] = {7};
    uint8_t priv[SK_XFER_KEY_LEN];
    memset(priv, 0x42, sizeof(priv));
    sk_buf o = SK_BUF_INIT;
    /* random bytes are never a case sealed to this key */
    check(sk_xfer_open(&o, priv, id, "leh", "kargil", data, size) == -SK_E_BAD_VALUE);
    check(o.len == 0);
    sk_buf_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SK_XFER_MAX_SEALED)
        return 0;
    request(data, size);
    answer(data, size);
    payload(data, size);
    sealed(data, size);
    return 0;
}
