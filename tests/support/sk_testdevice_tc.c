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
