/*
 * test_attack_auth.c - strangers with only the network cannot lock anyone out, cannot guess
 * enrollment codes and cannot make the server write (docs/SECURITY.md, "Under attack").
 *
 * Each test replays an attack against a real server on 127.0.0.1 and checks the exact answers:
 * sixty AUTHs with a wrong key for a device do not stop that device, nor another device behind
 * the same address, from getting in at once, while the attacker's address backs off with
 * doubling retry_ms; wrong enrollment codes from one address are checked ten times, then
 * refused unchecked for a back-off that doubles; a code dies after five wrong tries against its
 * id while another code lives; and hundreds of failed AUTHs, wrong codes, garbage and timeouts
 * leave the audit log, the store and the log untouched but for one unauth_summary line.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sk_testfixture.h"
#include "sk_testmain.h"
#include "sk_testtext.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int start(void **state, const char *const *extra)
{
    return sk_fx_start(state, sizeof(sk_fx), "sk-attack", "fw1 fw2", extra);
}

static int setup(void **state)
{
    return start(state, NULL);
}

static int setup_no_addr_limit(void **state)
{
    const char *extra[] = {"--auth-fail-limit-addr", "0", NULL};
    return start(state, extra);
}

static int setup_fast_summary(void **state)
{
    const char *extra[] = {"--log-summary-interval", "0.5", NULL};
    return start(state, extra);
}

static int setup_small_log(void **state)
{
    const char *extra[] = {"--log-level", "debug", "--log-max-size", "16384", "--log-keep",
                           "2",           NULL};
    return start(state, extra);
}

static int setup_small_store(void **state)
{
    const char *extra[] = {"--map-size", "2", "--store-reserve", "1", NULL};
    return start(state, extra);
}

/* A new connection that said HELLO as device (0: none yet) and got CHALLENGE, kept in *r. */
static void hello_as(sk_fx *f, sk_tc *c, uint64_t device, sk_msg *r)
{
    sk_tc_init(c);
    assert_int_equal(sk_tc_connect(c, f->ts.port), 0);
    assert_int_equal(sk_tc_send_hello(c, sk_tc_rid(c), device, "t"), 0);
    assert_int_equal(sk_tc_recv(c, r, -1), 0);
    assert_int_equal(r->type, SK_MSG_CHALLENGE);
}

/* Send m on c and close it: the answer's type and (for ERROR) code and retry_ms. */
static void answer_to(sk_tc *c, const sk_msg *m, int *type, uint32_t *code, uint32_t *retry_ms)
{
    sk_msg r;
    assert_int_equal(sk_tc_send(c, m), 0);
    assert_int_equal(sk_tc_recv(c, &r, -1), 0);
    *type = r.type;
    *code = r.type == SK_MSG_ERROR ? r.u.error.code : 0;
    *retry_ms = r.type == SK_MSG_ERROR ? r.u.error.retry_ms : 0;
    sk_msg_free(&r);
    sk_tc_free(c);
}

/* HELLO as device, then AUTH signed with priv; the answer's type and (for ERROR) code and
 * retry_ms. */
static void auth_with(sk_fx *f, uint64_t device, const uint8_t priv[SK_PRIVKEY_LEN], int *type,
                      uint32_t *code, uint32_t *retry_ms)
{
    sk_tc c;
    sk_msg m, r;
    hello_as(f, &c, device, &r);
    uint8_t nonce[SK_NONCE_LEN];
    memcpy(nonce, r.u.challenge.nonce, SK_NONCE_LEN);
    uint64_t sms = r.u.challenge.server_ms;
    sk_msg_free(&r);
    sk_msg_init(&m, SK_MSG_AUTH, sk_tc_rid(&c));
    assert_int_equal(sk_auth_sign(m.u.auth.sig, priv, nonce, device, sms), 0);
    answer_to(&c, &m, type, code, retry_ms);
}

/* HELLO(0) then ENROLL with code: the answer's type, code and retry_ms. */
static void enroll_with(sk_fx *f, const char *code, int *type, uint32_t *ecode, uint32_t *retry_ms)
{
    sk_tc c;
    sk_msg m, r;
    hello_as(f, &c, 0, &r);
    sk_msg_free(&r);
    assert_int_equal(sk_auth_keygen(c.priv, c.pub), 0);
    sk_msg_init(&m, SK_MSG_ENROLL, sk_tc_rid(&c));
    m.u.enroll.code = sk_str_c(code);
    memcpy(m.u.enroll.pubkey, c.pub, SK_PUBKEY_LEN);
    m.u.enroll.label = SK_STR("x");
    answer_to(&c, &m, type, ecode, retry_ms);
}

/* ---- 1. no lockout ------------------------------------------------------------------------- */

static void test_wrong_signatures_never_lock_a_device(void **state)
{
    sk_fx *f = *state;
    sk_tc a, b;
    assert_int_equal(sk_td_tc(&a, &f->ts, "fw1", "a"), 0);
    assert_int_equal(sk_td_tc(&b, &f->ts, "fw2", "b"), 0);
    sk_tc_close(&a);
    sk_tc_close(&b);
    uint8_t tpriv[SK_PRIVKEY_LEN], tpub[SK_PUBKEY_LEN];
    assert_int_equal(sk_auth_keygen(tpriv, tpub), 0);
    int type;
    uint32_t code, retry, last_retry = 0;
    /* The stranger, from the phones' own address: ten failures are answered AUTH_FAILED, then
     * the address backs off: RATE_LIMITED with a retry_ms that doubles from one second. */
    for (int i = 0; i < 60; i++) {
        auth_with(f, a.device, tpriv, &type, &code, &retry);
        assert_int_equal(type, SK_MSG_ERROR);
        if (i < 10) {
            assert_int_equal(code, SK_E_AUTH_FAILED);
        } else {
            assert_int_equal(code, SK_E_RATE_LIMITED);
            if (i < 20)
                assert_int_equal(retry, 1000u << (i - 10));
            else
                assert_int_equal(retry, 600000u); /* the cap */
            assert_true(retry >= last_retry);
            last_retry = retry;
        }
    }
    /* The device itself, at once, from the same address: in. So is the other phone. */
    auth_with(f, a.device, a.priv, &type, &code, &retry);
    assert_int_equal(type, SK_MSG_WELCOME);
    auth_with(f, b.device, b.priv, &type, &code, &retry);
    assert_int_equal(type, SK_MSG_WELCOME);
    /* And the stranger is still refused. */
    auth_with(f, a.device, tpriv, &type, &code, &retry);
    assert_int_equal(code, SK_E_RATE_LIMITED);
    /* A full sync works. */
    assert_int_equal(sk_tc_connect(&a, f->ts.port), 0);
    assert_int_equal(sk_tc_auth(&a), 0);
    assert_int_equal(sk_td_push_referral(&a, 1, "x", NULL), SK_ACK_APPLIED);
    sk_tc_free(&a);
    sk_tc_free(&b);
}

static void test_wrong_codes_back_off_per_address(void **state)
{
    sk_fx *f = *state;
    int type;
    uint32_t code, retry;
    /* Ten wrong codes are checked; the eleventh too, and it starts a one-second back-off. */
    for (int i = 0; i < 11; i++) {
        enroll_with(f, "AAAAAAAAAA", &type, &code, &retry);
        assert_int_equal(type, SK_MSG_ERROR);
        assert_int_equal(code, SK_E_ENROLL_CODE);
    }
    /* During it even a right code is refused unchecked (a guess would learn nothing). */
    char good[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, good), 0);
    enroll_with(f, good, &type, &code, &retry);
    assert_int_equal(code, SK_E_RATE_LIMITED);
    assert_true(retry >= 1 && retry <= 1000);
    /* After it: one more wrong try is checked and doubles the back-off. */
    sk_sleep_ms(retry + 20);
    enroll_with(f, "AAAAAAAAAA", &type, &code, &retry);
    assert_int_equal(code, SK_E_ENROLL_CODE);
    enroll_with(f, good, &type, &code, &retry);
    assert_int_equal(code, SK_E_RATE_LIMITED);
    assert_true(retry > 1000 && retry <= 2000);
    /* Waiting it out, the right code works. */
    sk_sleep_ms(retry + 20);
    enroll_with(f, good, &type, &code, &retry);
    assert_int_equal(type, SK_MSG_ENROLLED);
}

static void test_code_dies_after_five_wrong_tries(void **state)
{
    sk_fx *f = *state;
    char victim[SK_ENROLL_CODE_LEN + 1], other[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, victim), 0);
    do /* a second code with another id (first three symbols) */
        assert_int_equal(sk_ts_code(&f->ts, "fw2", 600000, other), 0);
    while (memcmp(victim, other, 3) == 0);
    /* Five guesses at the victim's secret part (its id known, e.g. seen over a shoulder). */
    const char alt[] = "34679ACDEF";
    for (int i = 0; i < 5; i++) {
        char guess[SK_ENROLL_CODE_LEN + 1];
        memcpy(guess, victim, 3);
        for (int j = 3; j < SK_ENROLL_CODE_LEN; j++)
            guess[j] = alt[i] == victim[j] ? alt[i + 1] : alt[i];
        guess[SK_ENROLL_CODE_LEN] = '\0';
        int type;
        uint32_t code, retry;
        enroll_with(f, guess, &type, &code, &retry);
        assert_int_equal(code, SK_E_ENROLL_CODE);
    }
    int type;
    uint32_t code, retry;
    enroll_with(f, victim, &type, &code, &retry);
    assert_int_equal(type, SK_MSG_ERROR);
    assert_int_equal(code, SK_E_ENROLL_CODE);
    enroll_with(f, other, &type, &code, &retry);
    assert_int_equal(type, SK_MSG_ENROLLED);
    /* A new code for the same worker works, even with the dead id. */
    char fresh[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, fresh), 0);
    enroll_with(f, fresh, &type, &code, &retry);
    assert_int_equal(type, SK_MSG_ENROLLED);
}

/* ---- 2. strangers cannot write ---------------------------------------------------------- */

static uint64_t audit_count(sk_fx *f)
{
    sk_store *st;
    uint64_t n = 0, bad = 0;
    assert_int_equal(sk_ts_store(&f->ts, &st), 0);
    assert_int_equal(sk_store_audit_verify(st, &n, &bad), 0);
    sk_store_close(st);
    return n;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t r = fread(buf + n, 1, 4096, fp);
        n += r;
        if (r == 0)
            break;
    }
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void test_strangers_write_nothing(void **state)
{
    sk_fx *f = *state;
    sk_tc a;
    assert_int_equal(sk_td_tc(&a, &f->ts, "fw1", "a"), 0);
    sk_tc_close(&a);
    uint64_t audit0 = audit_count(f);
    /* The log from here on; a's own conn_close line comes first. */
    char want[64];
    snprintf(want, sizeof(want), "event=conn_close session=%llu ", (unsigned long long)a.session);
    size_t log0 = 0;
    for (int i = 0; i < 250; i++) {
        char *t = slurp(f->ts.log, &log0);
        int seen = strstr(t, want) != NULL;
        free(t);
        if (seen)
            break;
        sk_sleep_ms(20);
    }
    uint8_t tpriv[SK_PRIVKEY_LEN], tpub[SK_PUBKEY_LEN];
    assert_int_equal(sk_auth_keygen(tpriv, tpub), 0);
    int type;
    uint32_t code, retry;
    /* 100 failed AUTHs (a real device, an unknown one), 30 wrong codes, garbage, a wrong
     * state. */
    for (int i = 0; i < 100; i++)
        auth_with(f, i % 2 ? a.device : 999999, tpriv, &type, &code, &retry);
    for (int i = 0; i < 30; i++)
        enroll_with(f, "WRONGCODE9", &type, &code, &retry);
    for (int i = 0; i < 20; i++) {
        sk_tc g;
        sk_tc_init(&g);
        assert_int_equal(sk_tc_connect(&g, f->ts.port), 0);
        const uint8_t junk[] = {0, 0, 0, 3, 0xc1, 0xc1, 0xc1};
        assert_int_equal(sk_tc_send_raw(&g, junk, sizeof(junk)), 0);
        assert_int_equal(sk_tc_wait_close(&g, 5000), 0);
        sk_tc_free(&g);
    }
    /* Nothing durable: the audit log has exactly the entries it had. */
    assert_int_equal(audit_count(f), audit0);
    /* The log: no line per attempt, only unauth_summary lines (polled: their interval is
     * 0.5 s) whose counts add up to every attempt: 100 failed AUTHs (ten AUTH_FAILED, then
     * RATE_LIMITED: all checked), 30 codes (some refused unchecked), 20 garbage frames. */
    char *log = NULL;
    size_t len = 0;
    uint64_t auth = 0, enr = 0, rl = 0, bad = 0;
    for (int i = 0; i < 300; i++) {
        free(log);
        log = slurp(f->ts.log, &len);
        auth = enr = rl = bad = 0;
        for (const char *p = strstr(log + log0, "event=unauth_summary"); p;
             p = strstr(p + 1, "event=unauth_summary")) {
            const char *q;
            if ((q = strstr(p, " auth_failed=")))
                auth += strtoull(q + 13, NULL, 10);
            if ((q = strstr(p, " enroll_failed=")))
                enr += strtoull(q + 15, NULL, 10);
            if ((q = strstr(p, " rate_limited=")))
                rl += strtoull(q + 14, NULL, 10);
            if ((q = strstr(p, " bad_input=")))
                bad += strtoull(q + 11, NULL, 10);
            assert_non_null(strstr(p, " top=127.0.0.1:"));
        }
        if (auth >= 100 && enr + rl >= 30 && bad >= 20)
            break;
        sk_sleep_ms(20);
    }
    const char *tail = log + log0;
    assert_int_equal(sk_text_count(tail, "event=auth_failed"), 0);
    assert_int_equal(sk_text_count(tail, "event=enroll_failed"), 0);
    assert_int_equal(sk_text_count(tail, "event=bad_"), 0);
    assert_int_equal(sk_text_count(tail, "event=rate_limited"), 0);
    assert_int_equal(auth, 100);
    assert_int_equal(enr + rl, 30);
    assert_int_equal(bad, 20);
    /* Lines the attack left: the summaries only (conn_close of strangers is debug). */
    size_t lines = sk_text_count(tail, "\n");
    size_t summaries = sk_text_count(tail, "event=unauth_summary");
    assert_int_equal(lines, summaries);
    free(log);
    sk_tc_free(&a);
}

/* The log: created 0600, rotated by size into FILE.1 .. FILE.<keep> (the oldest dropped), and
 * a worker id with a terminal escape, a space and a quote reaches it escaped. */
static void test_log_capped_rotated_escaped(void **state)
{
    sk_fx *f = *state;
    struct stat st;
    assert_int_equal(stat(f->ts.log, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    const char *evil = "ev\x1b[2J il\"x";
    assert_int_equal(sk_ts_worker(&f->ts, evil, SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    sk_tc a;
    assert_int_equal(sk_td_tc(&a, &f->ts, evil, "a"), 0);
    sk_tc_close(&a);
    /* Debug lines of many short connections: well past three files of 16 KiB. */
    uint8_t tpriv[SK_PRIVKEY_LEN], tpub[SK_PUBKEY_LEN];
    assert_int_equal(sk_auth_keygen(tpriv, tpub), 0);
    int type;
    uint32_t code, retry;
    for (int i = 0; i < 150; i++)
        auth_with(f, a.device, i % 10 ? tpriv : a.priv, &type, &code, &retry);
    char path[700];
    size_t total = 0, len;
    int escaped = 0;
    for (int k = 0; k <= 3; k++) {
        if (k == 0)
            snprintf(path, sizeof(path), "%s", f->ts.log);
        else
            snprintf(path, sizeof(path), "%s.%d", f->ts.log, k);
        if (k == 3) {
            assert_int_not_equal(stat(path, &st), 0); /* --log-keep 2: no third */
            break;
        }
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_true(st.st_size <= 16384 + 2048); /* the cap, plus the line that crossed it */
        char *text = slurp(path, &len);
        total += len;
        assert_null(memchr(text, 0x1b, len));
        escaped += strstr(text, "worker=\"ev\\x1b[2J il\\\"x\"") != NULL;
        /* Every line is whole: it starts with ts= */
        for (const char *p = text; p && p < text + len;) {
            assert_int_equal(strncmp(p, "ts=", 3), 0);
            p = strchr(p, '\n');
            if (p)
                p++;
        }
        free(text);
    }
    assert_true(total > 2 * 16384);
    assert_true(escaped >= 1);
    sk_tc_free(&a);
}

/* The store's reserve: a device pulling in a loop fills a 2 MiB store with pull audit entries
 * until the store is within its last 1 MiB; from there on pulls are no longer audited (a
 * store_reserve line says so) and a PUSH still gets APPLIED, never STORE_FULL. */
static void test_audit_growth_never_fills_store(void **state)
{
    sk_fx *f = *state;
    sk_tc a;
    assert_int_equal(sk_td_tc(&a, &f->ts, "fw1", "a"), 0);
    assert_int_equal(sk_td_push_referral(&a, 1, "x", NULL), SK_ACK_APPLIED);
    sk_change ch;
    sk_ack ack;
    uint64_t last = 0, same = 0;
    int pulls = 0;
    while (pulls < 40000 && same < 3) {
        for (int i = 0; i < 500; i++, pulls++)
            assert_int_equal(sk_tc_pull(&a, 0, 100, NULL, NULL, NULL, NULL, NULL), 0);
        sk_sleep_ms(100); /* let the writer catch up with the audit entries */
        uint64_t n = audit_count(f);
        same = n == last ? same + 1 : 0;
        last = n;
    }
    assert_true(same >= 3); /* the audit log stopped growing: the reserve was reached */
    assert_true(last > 1000);
    assert_int_equal(sk_file_contains(f->ts.log, "event=store_reserve within=1"), 1);
    for (uint64_t op = 2; op < 12; op++) {
        assert_int_equal(sk_tc_make_referral(&ch, op, sk_ts_now_ms() + op, "y"), 0);
        assert_int_equal(sk_tc_push(&a, &ch, 1, &ack), 0);
        assert_int_equal(ack.status, SK_ACK_APPLIED);
        sk_change_free(&ch);
    }
    print_message("reserve: %d pulls, audit stopped at %llu entries, 10 pushes applied after\n",
                  pulls, (unsigned long long)last);
    sk_tc_free(&a);
}

SK_TEST_MAIN({
    cmocka_unit_test_setup_teardown(test_wrong_signatures_never_lock_a_device, setup,
                                    sk_fx_stop_any),
    cmocka_unit_test_setup_teardown(test_wrong_codes_back_off_per_address, setup, sk_fx_stop_any),
    cmocka_unit_test_setup_teardown(test_code_dies_after_five_wrong_tries, setup_no_addr_limit,
                                    sk_fx_stop_any),
    cmocka_unit_test_setup_teardown(test_strangers_write_nothing, setup_fast_summary,
                                    sk_fx_stop_any),
    cmocka_unit_test_setup_teardown(test_log_capped_rotated_escaped, setup_small_log,
                                    sk_fx_stop_any),
    cmocka_unit_test_setup_teardown(test_audit_growth_never_fills_store, setup_small_store,
                                    sk_fx_stop_any),
})
