/*
 * sk_testdevice.c - libsakhi test devices against a test server (see sk_testdevice.h).
 */
#include "sk_testdevice.h"

#include "sk_case.h"
#include "sk_client_test.h"

#include <stdio.h>

sakhi_options sk_td_options(void)
{
    sakhi_options o = SAKHI_OPTIONS_INIT;
    (void)sk_client_test_kdf(10); /* 1 MiB, one pass: the KDF is not what these tests test */
    return o;
}

void sk_td_path(const sk_ts *ts, int n, char *out, size_t cap)
{
    snprintf(out, cap, "%s/dev%d", ts->dir, n);
}

int sk_td_open(sakhi_client **out, const sk_ts *ts, int n, const sakhi_options *o)
{
    char path[700];
    sakhi_options def = sk_td_options();
    int rc = sk_client_test_kdf(10); /* set by sk_td_options; checked here */
    if (rc)
        return rc;
    sk_td_path(ts, n, path, sizeof(path));
    return sakhi_open(out, path, SK_TD_PIN, o ? o : &def);
}

int sk_td_open_skewed(sakhi_client **out, const sk_ts *ts, int n, const sakhi_options *o,
                      int64_t clock_offset_ms)
{
    sk_client_test_clock(clock_offset_ms);
    int rc = sk_td_open(out, ts, n, o);
    sk_client_test_clock(0);
    return rc;
}

int sk_td_enroll(sakhi_client *c, sk_ts *ts, const char *worker, const char *label,
                 const char *pin_hex, char *code)
{
    char fresh[SK_ENROLL_CODE_LEN + 1] = "";
    if (!code)
        code = fresh;
    if (!code[0]) {
        int rc = sk_ts_code(ts, worker, SK_TD_CODE_TTL_MS, code);
        if (rc)
            return rc;
    }
    if (!pin_hex)
        return sakhi_enroll_opts(c,
                                 &(sakhi_enroll_options){.version = SAKHI_ENROLL_OPTIONS_VERSION,
                                                         .host = "127.0.0.1",
                                                         .port = ts->port,
                                                         .code = code,
                                                         .label = label,
                                                         .plaintext = 1},
                                 NULL);
    sakhi_enroll_options eo = SAKHI_ENROLL_OPTIONS_INIT;
    eo.host = "127.0.0.1";
    eo.port = ts->port;
    eo.code = code;
    eo.label = label;
    eo.server_pin = pin_hex;
    return sakhi_enroll_opts(c, &eo, NULL);
}

int sk_td_device(sakhi_client **out, sk_ts *ts, int n, const sakhi_options *o, const char *worker,
                 const char *label, const char *pin_hex)
{
    *out = NULL;
    int rc = sk_td_open(out, ts, n, o);
    if (rc)
        return rc;
    return sk_td_enroll(*out, ts, worker, label, pin_hex, NULL);
}

int sk_td_referral(sakhi_referral **out, sakhi_client *c, const char *name, int urgency,
                   int contact)
{
    /* The codes, then the texts, then consent; the first setter that fails ends the draft. */
    const struct {
        int (*set)(sakhi_referral *, int);
        int v;
    } codes[] = {{sakhi_referral_set_district, SK_DISTRICT_LEH},
                 {sakhi_referral_set_taken_at, SAKHI_TAKEN_ANGANWADI_CENTRE},
                 {sakhi_referral_set_age_band, SAKHI_AGE_30_44},
                 {sakhi_referral_add_concern, SAKHI_CONCERN_DOMESTIC_VIOLENCE},
                 {sakhi_referral_set_urgency, urgency},
                 {sakhi_referral_set_source, SAKHI_SOURCE_FRONTLINE_WORKER}};
    const struct {
        int (*set)(sakhi_referral *, const char *);
        const char *v;
    } texts[] = {{sakhi_referral_set_block, "Nubra"},
                 {sakhi_referral_set_village, "Diskit"},
                 {sakhi_referral_set_name, name}};
    sakhi_referral *r = NULL;
    int rc = sakhi_referral_new(&r, c);
    for (size_t i = 0; !rc && i < sizeof(codes) / sizeof(codes[0]); i++)
        rc = codes[i].set(r, codes[i].v);
    for (size_t i = 0; !rc && i < sizeof(texts) / sizeof(texts[0]); i++)
        rc = texts[i].set(r, texts[i].v);
    if (!rc)
        rc = sakhi_referral_set_consent(r, 1, contact);
    if (rc) {
        sakhi_referral_free(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

int sk_td_capture(char id[SAKHI_ID_STRLEN], sakhi_client *c, const char *name, int urgency,
                  int contact)
{
    sakhi_referral *r = NULL;
    int rc = sk_td_referral(&r, c, name, urgency, contact);
    if (rc)
        return rc;
    rc = sakhi_referral_save(id, c, r);
    sakhi_referral_free(r);
    return rc;
}

uint64_t sk_td_pending(sakhi_client *c)
{
    uint64_t n = 0;
    return sakhi_pending_count(&n, c) == 0 ? n : UINT64_MAX;
}

int sk_td_state(sakhi_client *c, const char *id)
{
    sakhi_record *rec = NULL;
    if (sakhi_record_get(&rec, c, id) != 0)
        return -1;
    int s = sakhi_record_sync_state(rec);
    sakhi_record_free(rec);
    return s;
}
