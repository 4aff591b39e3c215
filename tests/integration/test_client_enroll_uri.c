/*
 * test_client_enroll_uri.c - sakhi_enroll_uri against a real sakhi-server serving TLS 1.3 on
 * 127.0.0.1: a URI whose first address is dead enrolls through the second and the device then
 * syncs over TLS with the URI's pin; a URI with the wrong pin fails with SAKHI_ESERVERKEY and
 * leaves the code unspent (the right URI then works with it); a spent code is refused; a URI
 * whose addresses are all dead says so; a malformed URI is refused with what is wrong and
 * without touching the network. No message carries the code.
 */
#include "sk_testfixture.h"

#include <sakhi/sakhi.h>

#include "sk_tls.h"
#include "sk_testmain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fx {
    sk_ts ts;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
    uint16_t dead_port; /* a loopback port nobody listens on */
} fx;

static int setup(void **state)
{
    fx *f = sk_fx_new(sizeof(fx), "sk-enroll-uri", "fw1");
    sk_fx_start_tls(&f->ts, f->pin, f->pin_hex);
    int fd = sk_listen_loopback(1, &f->dead_port);
    assert_true(fd >= 0);
    close(fd); /* connections to it are now refused */
    *state = f;
    return 0;
}

static void code_for(fx *f, char code[SK_ENROLL_CODE_LEN + 1])
{
    assert_int_equal(sk_ts_code(&f->ts, "fw1", SK_TD_CODE_TTL_MS, code), 0);
}

static void test_second_address_then_sync(void **state)
{
    fx *f = *state;
    sakhi_client *c = NULL;
    char code[SK_ENROLL_CODE_LEN + 1], uri[512];
    code_for(f, code);
    snprintf(uri, sizeof(uri),
             "sakhi:enroll?v=1&addr=127.0.0.1:%u&addr=127.0.0.1:%u&code=%s&pin=%s\n",
             (unsigned)f->dead_port, (unsigned)f->ts.port, code, f->pin_hex);
    assert_int_equal(sk_td_open(&c, &f->ts, 1, NULL), 0);
    int rc = sakhi_enroll_uri(c, uri, "uri-phone", NULL);
    if (rc)
        fail_msg("enroll_uri: %d %s", rc, sakhi_errmsg(c));
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.enrolled, 1);
    assert_string_equal(st.worker, "fw1");
    assert_string_equal(st.server_host, "127.0.0.1");
    assert_int_equal(st.server_port, f->ts.port);
    assert_int_equal(st.plaintext, 0);
    assert_string_equal(st.server_pin, f->pin_hex);
    /* enrolled twice: refused, nothing changes */
    assert_int_equal(sakhi_enroll_uri(c, uri, NULL, NULL), SAKHI_EENROLLED);

    sakhi_referral *r = NULL;
    assert_int_equal(sk_td_referral(&r, c, "Dolma", SAKHI_URGENCY_URGENT, 1), 0);
    assert_int_equal(sakhi_referral_save(NULL, c, r), 0);
    sakhi_referral_free(r);
    sakhi_sync_result res;
    sk_fx_sync(c, 0, &res); /* complete */
    assert_int_equal(res.applied, 1);
    uint64_t records = 0, seq = 0;
    assert_int_equal(sk_ts_stats(&f->ts, &records, &seq), 0);
    assert_int_equal(records, 1);
    sakhi_close(c);

    /* the code is spent: another device with the same URI is refused */
    assert_int_equal(sk_td_open(&c, &f->ts, 2, NULL), 0);
    assert_int_equal(sakhi_enroll_uri(c, uri, NULL, NULL), SAKHI_EENROLLCODE);
    assert_null(strstr(sakhi_errmsg(c), code));
    sakhi_close(c);
}

/* c enrolls with code through the URI of the server's one address and its right pin. */
static void enroll_ok(fx *f, sakhi_client *c, const char *code)
{
    char uri[512];
    snprintf(uri, sizeof(uri), "sakhi:enroll?v=1&addr=127.0.0.1:%u&code=%s&pin=%s",
             (unsigned)f->ts.port, code, f->pin_hex);
    int rc = sakhi_enroll_uri(c, uri, NULL, NULL);
    if (rc)
        fail_msg("enroll_uri: %d %s", rc, sakhi_errmsg(c));
}

static void test_wrong_pin_keeps_code(void **state)
{
    fx *f = *state;
    sakhi_client *c = NULL;
    char code[SK_ENROLL_CODE_LEN + 1], uri[512], wrong[SK_TLS_PIN_HEX_LEN + 1];
    code_for(f, code);
    snprintf(wrong, sizeof(wrong), "%s", f->pin_hex);
    wrong[0] = wrong[0] == '0' ? '1' : '0';
    snprintf(uri, sizeof(uri), "sakhi:enroll?v=1&addr=127.0.0.1:%u&code=%s&pin=%s",
             (unsigned)f->ts.port, code, wrong);
    assert_int_equal(sk_td_open(&c, &f->ts, 3, NULL), 0);
    assert_int_equal(sakhi_enroll_uri(c, uri, NULL, NULL), SAKHI_ESERVERKEY);
    assert_null(strstr(sakhi_errmsg(c), code));
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.enrolled, 0);
    /* the right pin with the same code works: nothing was sent to the wrong key */
    enroll_ok(f, c, code);
    sakhi_close(c);
}

static void test_all_dead_and_malformed(void **state)
{
    fx *f = *state;
    sakhi_client *c = NULL;
    char code[SK_ENROLL_CODE_LEN + 1], uri[512];
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.connect_timeout_ms = 2000;
    code_for(f, code);
    assert_int_equal(sk_td_open(&c, &f->ts, 4, NULL), 0);
    snprintf(uri, sizeof(uri),
             "sakhi:enroll?v=1&addr=127.0.0.1:%u&addr=localhost:%u&code=%s&pin=%s",
             (unsigned)f->dead_port, (unsigned)f->dead_port, code, f->pin_hex);
    assert_int_equal(sakhi_enroll_uri(c, uri, NULL, &so), SAKHI_ENET);
    const char *m = sakhi_errmsg(c);
    assert_int_equal(strncmp(m, "none of the 2 server addresses in the URI answered (last: ",
                             strlen("none of the 2 server addresses in the URI answered (last: ")),
                     0);
    assert_null(strstr(m, code));

    snprintf(uri, sizeof(uri), "sakhi:enroll?v=1&addr=127.0.0.1:%u&code=%s", (unsigned)f->ts.port,
             code);
    assert_int_equal(sakhi_enroll_uri(c, uri, NULL, NULL), SAKHI_EINVAL);
    assert_string_equal(sakhi_errmsg(c), "the URI has no server key pin");
    assert_int_equal(sakhi_enroll_uri(c, "sakhi:enroll?v=1", NULL, NULL), SAKHI_EINVAL);
    assert_string_equal(sakhi_errmsg(c), "the URI has no server address");
    assert_int_equal(sakhi_enroll_uri(c, NULL, NULL, NULL), SAKHI_EINVAL);
    assert_int_equal(sakhi_enroll_uri(NULL, uri, NULL, NULL), SAKHI_EINVAL);
    /* none of that spent the code */
    enroll_ok(f, c, code);
    sakhi_close(c);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_second_address_then_sync),
    cmocka_unit_test(test_wrong_pin_keeps_code),
    cmocka_unit_test(test_all_dead_and_malformed),
};

SK_TEST_MAIN_EACH(tests, setup, sk_fx_free)
