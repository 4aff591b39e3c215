/*
 * sk_testdevice_tc.c - the protocol test client enrolled against a test server (see
 * sk_testdevice.h). Apart from sk_testdevice.c so that it needs no libsakhi.
 */
#include "sk_testdevice.h"

int sk_td_tc(sk_tc *c, sk_ts *ts, const char *worker, const char *label)
{
    char code[SK_ENROLL_CODE_LEN + 1];
    sk_tc_init(c);
    int rc = sk_ts_code(ts, worker, SK_TD_CODE_TTL_MS, code);
    if (rc)
        return rc;
    rc = sk_tc_connect(c, ts->port);
    if (rc)
        return rc;
    return sk_tc_enroll(c, code, label);
}

int sk_td_push_referral(sk_tc *c, uint64_t op, const char *tag, sk_id *id)
{
    sk_change ch;
    sk_ack ack;
    int rc = sk_tc_make_referral(&ch, op, sk_ts_now_ms(), tag);
    if (rc)
        return rc;
    if (id)
        *id = ch.id;
    rc = sk_tc_push(c, &ch, 1, &ack);
    sk_change_free(&ch);
    return rc ? rc : (int)ack.status;
}
