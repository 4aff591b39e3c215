/*
 * test_client_tls.c - libsakhi's transport security end to end against a real sakhi-server
 * serving TLS 1.3 on 127.0.0.1: enrollment and a full sync over TLS checked against the
 * centre key's pin; a wrong key failing enrollment (the code not spent) and a sync (nothing
 * pushed, the message naming both pins); expired and not-yet-valid certificates with the right
 * key still working (the pin ignores dates); a device clock years off connecting and stamping
 * its referrals with the server's time; plaintext mode refused for anything but loopback and
 * never mixed with TLS; the handshake bounded by the timeout and woken by cancel; and secrets
 * hygiene: canary personal data synced both ways, then the client log, the device stores, the
 * temp directory and the server log scanned byte by byte with zero hits.
 *
 * Uses the public API (the shared library) plus the test server helpers and sk_tls for making
 * certificates.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "sk_testfixture.h"
#include "sk_testmain.h"
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <sakhi/sakhi.h>

#include "sk_tls.h"
#include "sk_tlsfile.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_S (24 * 3600)
#define YEAR_MS (365ll * 24 * 3600 * 1000)

#define CANARY_NAME "Rukhsana Canaryname-5519"
#define CANARY_PHONE "+917733190455" /* E.164: stored as given */
#define CANARY_NOTES "canary-note: husband threatens at the bus stand 4471"
#define CANARY_FOLLOWUP "canary-followup: moved to sister in Choglamsar 8830"

typedef struct fx {
    sk_ts ts;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
    int ndev;
    char logbuf[256 * 1024];
    size_t loglen;
} fx;

static void collect_log(int level, const char *msg, void *payload)
{
    fx *f = payload;
    (void)level;
    size_t n = strlen(msg);
    if (f->loglen + n + 1 < sizeof(f->logbuf)) {
        memcpy(f->logbuf + f->loglen, msg, n);
        f->logbuf[f->loglen + n] = '\n';
        f->loglen += n + 1;
    }
}

/* Workers, a TLS certificate (unless cert_validity is set: then the caller makes it). */
static char orig_tmpdir[512];

static int setup_common(void **state, int start)
{
    if (orig_tmpdir[0])
        setenv("TMPDIR", orig_tmpdir, 1);
    else
        unsetenv("TMPDIR");
    fx *f = sk_fx_new(sizeof(fx), "sk-client-tls", "fw1 st1");
    char tmp[700];
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->ts.dir);
    assert_int_equal(mkdir(tmp, 0700), 0);
    setenv("TMPDIR", tmp, 1); /* any temp file the library made would land here */
    if (start)
        sk_fx_start_tls(&f->ts, f->pin, f->pin_hex);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_common(state, 1);
}

static int setup_nostart(void **state)
{
    return setup_common(state, 0);
}

/* Serve TLS from a certificate valid from now+nb_s to now+na_s (seconds). */
static void use_cert_validity(fx *f, int64_t nb_s, int64_t na_s)
{
    char err[256];
    snprintf(f->ts.cert, sizeof(f->ts.cert), "%s/v.crt", f->ts.dir);
    snprintf(f->ts.key, sizeof(f->ts.key), "%s/v.key", f->ts.dir);
    int rc = sk_tls_make_self_signed_validity(f->ts.cert, f->ts.key, "test centre", nb_s, na_s, err,
                                              sizeof(err));
    if (rc)
        fail_msg("cert: %s", err);
    assert_int_equal(sk_tls_pin_from_cert_file(f->pin, f->ts.cert, err, sizeof(err)), 0);
    sk_tls_pin_format(f->pin_hex, f->pin);
}

static sakhi_client *open_dev(fx *f, int64_t clock_offset_ms, char *path_out, size_t cap)
{
    sakhi_options o = sk_td_options();
    sakhi_client *c = NULL;
    o.log_fn = collect_log;
    o.log_payload = f;
    o.log_level = SAKHI_LOG_DEBUG;
    int n = f->ndev++;
    assert_int_equal(sk_td_open_skewed(&c, &f->ts, n, &o, clock_offset_ms), 0);
    if (path_out)
        sk_td_path(&f->ts, n, path_out, cap);
    return c;
}

static int enroll_pin(fx *f, sakhi_client *c, const char *worker, const char *pin_hex,
                      char code[SK_ENROLL_CODE_LEN + 1])
{
    return sk_td_enroll(c, &f->ts, worker, "tls-test", pin_hex, code);
}

static sakhi_client *device(fx *f, const char *worker, int64_t clock_offset_ms, char *path_out,
                            size_t cap)
{
    char code[SK_ENROLL_CODE_LEN + 1] = "";
    sakhi_client *c = open_dev(f, clock_offset_ms, path_out, cap);
    int rc = enroll_pin(f, c, worker, f->pin_hex, code);
    if (rc)
        fail_msg("enroll: %d %s", rc, sakhi_errmsg(c));
    return c;
}

/* An urgent referral, with the canary phone and notes when canaries is set. */
static void capture(sakhi_client *c, const char *name, int canaries, char id[SAKHI_ID_STRLEN])
{
    sk_fx_capture_contact(id, c, name, SAKHI_URGENCY_URGENT, canaries ? CANARY_PHONE : NULL,
                          canaries ? CANARY_NOTES : NULL);
}

static uint64_t pending(sakhi_client *c)
{
    uint64_t n = 0;
    assert_int_equal(sakhi_pending_count(&n, c), 0);
    return n;
}

/* ---- TLS sync ------------------------------------------------------------------------------ */

static void test_sync_over_tls(void **state)
{
    fx *f = *state;
    char ids[3][SAKHI_ID_STRLEN];
    sakhi_client *fw = device(f, "fw1", 0, NULL, 0);

    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, fw), 0);
    assert_int_equal(st.enrolled, 1);
    assert_int_equal(st.plaintext, 0);
    assert_string_equal(st.server_pin, f->pin_hex);
    /* a caller built against the version-1 struct still works */
    sakhi_status st1 = SAKHI_STATUS_INIT;
    st1.version = 1;
    assert_int_equal(sakhi_status_get(&st1, fw), 0);
    assert_int_equal(st1.enrolled, 1);

    for (int i = 0; i < 3; i++)
        capture(fw, "withheld", 0, ids[i]);
    assert_int_equal(pending(fw), 3);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(fw, 0, &res);
    assert_int_equal(res.applied, 3);
    assert_int_equal(pending(fw), 0);
    assert_true(res.bytes_sent > 0 && res.bytes_received > 0);

    /* centre staff on another device pulls them over TLS */
    sakhi_client *st_dev = device(f, "st1", 0, NULL, 0);
    sakhi_sync_result r2 = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(st_dev, 0, &r2);
    assert_int_equal(r2.pulled, 3);
    for (int i = 0; i < 3; i++) {
        sakhi_record *rec = NULL;
        assert_int_equal(sakhi_record_get(&rec, st_dev, ids[i]), 0);
        assert_int_equal(sakhi_record_sync_state(rec), SAKHI_SYNC_RECEIVED);
        sakhi_record_free(rec);
    }
    /* the same handle syncs again (a second TLS session) */
    sk_fx_sync(fw, 0, NULL);
    sakhi_close(st_dev);
    sakhi_close(fw);
}

/* ---- wrong key ------------------------------------------------------------------------------ */

static void test_wrong_key(void **state)
{
    fx *f = *state;
    char err[256], code[SK_ENROLL_CODE_LEN + 1] = "";
    char other_crt[600], other_key[600];
    uint8_t other[SK_TLS_PIN_LEN];
    char other_hex[SK_TLS_PIN_HEX_LEN + 1];
    snprintf(other_crt, sizeof(other_crt), "%s/other.crt", f->ts.dir);
    snprintf(other_key, sizeof(other_key), "%s/other.key", f->ts.dir);
    assert_int_equal(
        sk_tls_make_self_signed(other_crt, other_key, "impostor", 30, err, sizeof(err)), 0);
    assert_int_equal(sk_tls_pin_from_cert_file(other, other_crt, err, sizeof(err)), 0);
    sk_tls_pin_format(other_hex, other);

    /* Enrolling with the wrong pin fails before the code crosses the wire: it stays usable. */
    sakhi_client *c = open_dev(f, 0, NULL, 0);
    assert_int_equal(enroll_pin(f, c, "fw1", other_hex, code), SAKHI_ESERVERKEY);
    /* the message names the pinned key in full and the presented one by its first 16 digits */
    char prefix[17];
    snprintf(prefix, sizeof(prefix), "%.16s", f->pin_hex);
    assert_non_null(strstr(sakhi_errmsg(c), other_hex));
    assert_non_null(strstr(sakhi_errmsg(c), prefix));
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.enrolled, 0);
    assert_int_equal(enroll_pin(f, c, "fw1", f->pin_hex, code), 0); /* same code: unspent */

    /* The centre's server now presents another key (an interceptor): the sync fails with the
     * clear error, names both pins, and pushes nothing. */
    char id[SAKHI_ID_STRLEN];
    capture(c, "withheld", 0, id);
    capture(c, "withheld", 0, id);
    assert_int_equal(sk_ts_stop(&f->ts, 5000), 0);
    snprintf(f->ts.cert, sizeof(f->ts.cert), "%s", other_crt);
    snprintf(f->ts.key, sizeof(f->ts.key), "%s", other_key);
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.port = f->ts.port; /* the restarted server has a new port */
    assert_int_equal(sakhi_sync(&res, c, &so), SAKHI_ESERVERKEY);
    const char *msg = sakhi_errmsg(c);
    snprintf(prefix, sizeof(prefix), "%.16s", other_hex);
    assert_non_null(strstr(msg, f->pin_hex));
    assert_non_null(strstr(msg, prefix));
    assert_non_null(strstr(sakhi_strerror(SAKHI_ESERVERKEY), "pinned"));
    assert_int_equal(res.pushed, 0);
    assert_int_equal(res.pulled, 0);
    assert_int_equal(pending(c), 2);
    /* the sync-time override of the host gets the same check */
    so.host = "localhost";
    assert_int_equal(sakhi_sync(NULL, c, &so), SAKHI_ESERVERKEY);
    assert_int_equal(pending(c), 2);

    /* A staff device enrolled with the impostor's own pin sees nothing arrived. */
    sakhi_client *st_dev = open_dev(f, 0, NULL, 0);
    char code2[SK_ENROLL_CODE_LEN + 1] = "";
    assert_int_equal(enroll_pin(f, st_dev, "st1", other_hex, code2), 0);
    sakhi_sync_result r2 = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(st_dev, 0, &r2);
    assert_int_equal(r2.pulled, 0);

    /* Back on the right key, everything goes through. */
    assert_int_equal(sk_ts_stop(&f->ts, 5000), 0);
    snprintf(f->ts.cert, sizeof(f->ts.cert), "%s/centre.crt", f->ts.dir);
    snprintf(f->ts.key, sizeof(f->ts.key), "%s/centre.key", f->ts.dir);
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sakhi_sync_result r3 = SAKHI_SYNC_RESULT_INIT;
    so.host = NULL;
    so.port = f->ts.port;
    assert_int_equal(sakhi_sync(&r3, c, &so), 0);
    assert_int_equal(r3.applied, 2);
    assert_int_equal(pending(c), 0);
    sakhi_close(st_dev);
    sakhi_close(c);
}

/* ---- dates do not matter --------------------------------------------------------------------- */

static void run_with_validity(fx *f, int64_t nb_s, int64_t na_s)
{
    use_cert_validity(f, nb_s, na_s);
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    sakhi_client *c = device(f, "fw1", 0, NULL, 0);
    char id[SAKHI_ID_STRLEN];
    capture(c, "withheld", 0, id);
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.applied, 1);
    sakhi_close(c);
}

static void test_expired_cert_right_key(void **state)
{
    run_with_validity(*state, -3ll * 365 * DAY_S, -2ll * 365 * DAY_S);
}

static void test_future_cert_right_key(void **state)
{
    run_with_validity(*state, 365ll * DAY_S, 2ll * 365 * DAY_S);
}

/* ---- a device clock far off -------------------------------------------------------------------- */

static void run_clock_off(fx *f, int64_t offset_ms)
{
    sakhi_client *fw = device(f, "fw1", offset_ms, NULL, 0);
    char id[SAKHI_ID_STRLEN];
    capture(fw, "withheld", 0, id);
    uint64_t now = sk_ts_now_ms();
    uint64_t created = 0;
    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, fw, id), 0);
    assert_int_equal(sakhi_record_get_uint(&created, rec, "created_at"), 0);
    sakhi_record_free(rec);
    /* stamped with the server's time learnt at enrollment, not the device's */
    assert_true(created + 60000 > now && created < now + 60000);
    assert_int_equal(sakhi_followup_add(fw, id, "visited again"), 0);
    sk_fx_sync(fw, 0, NULL);

    sakhi_client *st = device(f, "st1", 0, NULL, 0);
    sk_fx_sync(st, 0, NULL);
    assert_int_equal(sakhi_record_get(&rec, st, id), 0);
    assert_int_equal(sakhi_record_get_uint(&created, rec, "created_at"), 0);
    assert_true(created + 60000 > now && created < now + 60000);
    assert_int_equal(sakhi_record_followup_count(rec), 1);
    sakhi_record_free(rec);
    /* the staff member edits; the far-off device pulls and its next edit orders after it */
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_edit(&r, st, id), 0);
    assert_int_equal(sakhi_referral_set_status(r, SAKHI_STATUS_RECEIVED), 0);
    assert_int_equal(sakhi_referral_save(NULL, st, r), 0);
    sakhi_referral_free(r);
    sk_fx_sync(st, 0, NULL);
    sk_fx_sync(fw, 0, NULL);
    uint64_t status = 0;
    assert_int_equal(sakhi_record_get(&rec, fw, id), 0);
    assert_int_equal(sakhi_record_get_uint(&status, rec, "status"), 0);
    assert_int_equal(status, SAKHI_STATUS_RECEIVED);
    sakhi_record_free(rec);
    sakhi_close(st);
    sakhi_close(fw);
}

static void test_clock_years_behind(void **state)
{
    run_clock_off(*state, -3 * YEAR_MS);
}

static void test_clock_years_ahead(void **state)
{
    run_clock_off(*state, 5 * YEAR_MS);
}

/* ---- plaintext mode ---------------------------------------------------------------------------- */

static void test_plaintext_rules(void **state)
{
    fx *f = *state;
    char code[SK_ENROLL_CODE_LEN + 1];
    sakhi_client *c = open_dev(f, 0, NULL, 0);
    sakhi_enroll_options eo = SAKHI_ENROLL_OPTIONS_INIT;
    assert_int_equal(sk_ts_code(&f->ts, "fw1", 600000, code), 0);
    eo.host = "127.0.0.1";
    eo.port = f->ts.port;
    eo.code = code;
    /* neither a pin nor plaintext; both; a malformed pin */
    assert_int_equal(sakhi_enroll_opts(c, &eo, NULL), SAKHI_EINVAL);
    eo.server_pin = f->pin_hex;
    eo.plaintext = 1;
    assert_int_equal(sakhi_enroll_opts(c, &eo, NULL), SAKHI_EINVAL);
    eo.plaintext = 0;
    eo.server_pin = "abcd";
    assert_int_equal(sakhi_enroll_opts(c, &eo, NULL), SAKHI_EINVAL);
    /* plaintext to an address that is not loopback is refused before any connection */
    eo.server_pin = NULL;
    eo.plaintext = 1;
    eo.host = "192.0.2.1";
    assert_int_equal(sakhi_enroll_opts(c, &eo, NULL), SAKHI_EINVAL);
    assert_non_null(strstr(sakhi_errmsg(c), "loopback"));
    assert_int_equal(
        sakhi_enroll_opts(c,
                          &(sakhi_enroll_options){.version = SAKHI_ENROLL_OPTIONS_VERSION,
                                                  .host = "192.0.2.1",
                                                  .port = f->ts.port,
                                                  .code = code,
                                                  .plaintext = 1},
                          NULL),
        SAKHI_EINVAL);
    /* a plaintext client against the TLS server: the server finds no TLS, nothing enrolls */
    eo.host = "127.0.0.1";
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.io_timeout_ms = 3000;
    int rc = sakhi_enroll_opts(c, &eo, &so);
    assert_int_equal(rc, SAKHI_ENET); /* the server drops a connection that is not TLS */
    /* the colon form of the pin is accepted, the code was not spent */
    char colon[3 * SK_TLS_PIN_LEN];
    for (int i = 0; i < SK_TLS_PIN_LEN; i++)
        snprintf(colon + 3 * i, 4, "%02X%s", f->pin[i], i + 1 < SK_TLS_PIN_LEN ? ":" : "");
    eo.plaintext = 0;
    eo.server_pin = colon;
    assert_int_equal(sakhi_enroll_opts(c, &eo, NULL), 0);

    /* a plaintext store: TLS server refuses it; a plaintext loopback server serves it */
    sakhi_client *p = open_dev(f, 0, NULL, 0);
    assert_int_equal(sk_ts_stop(&f->ts, 5000), 0);
    f->ts.cert[0] = f->ts.key[0] = '\0';
    assert_int_equal(sk_ts_start(&f->ts, NULL), 0);
    assert_int_equal(sk_td_enroll(p, &f->ts, "fw1", NULL, NULL, NULL), 0);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, p), 0);
    assert_int_equal(st.plaintext, 1);
    assert_string_equal(st.server_pin, "");
    sk_fx_sync(p, 0, NULL);
    so.host = "192.0.2.1"; /* an override cannot take plaintext off the machine */
    assert_int_equal(sakhi_sync(NULL, p, &so), SAKHI_EINVAL);
    /* the TLS store against the plaintext server: no TLS answer, nothing sent in clear */
    sakhi_sync_options so2 = SAKHI_SYNC_OPTIONS_INIT;
    so2.io_timeout_ms = 500;
    so2.port = f->ts.port; /* the restarted server has a new port */
    char id[SAKHI_ID_STRLEN];
    capture(c, "withheld", 0, id);
    rc = sakhi_sync(NULL, c, &so2);
    assert_int_equal(rc, SAKHI_EPROTO); /* its answer is not TLS */
    assert_non_null(strstr(sakhi_errmsg(c), "TLS"));
    assert_int_equal(pending(c), 1);
    sakhi_close(p);
    sakhi_close(c);
}

/* ---- handshake timeout and cancel ---------------------------------------------------------------- */

static int cancel_at_handshake(const sakhi_progress *pr, void *payload)
{
    if (pr->phase == SAKHI_PHASE_HANDSHAKE)
        sakhi_sync_cancel(payload); /* the handshake's wait must wake on it */
    return 0;
}

static void test_handshake_timeout_and_cancel(void **state)
{
    fx *f = *state;
    sakhi_client *c = device(f, "fw1", 0, NULL, 0);
    /* a listener that accepts (via the backlog) and never says anything */
    uint16_t silent = 0;
    int lfd = sk_listen_loopback(4, &silent);
    assert_true(lfd >= 0);

    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    so.host = "127.0.0.1";
    so.port = silent;
    so.io_timeout_ms = 300;
    uint64_t t0 = sk_ts_now_ms();
    assert_int_equal(sakhi_sync(NULL, c, &so), SAKHI_ETIMEOUT);
    uint64_t took = sk_ts_now_ms() - t0;
    assert_true(took >= 250 && took < 5000);
    assert_non_null(strstr(sakhi_errmsg(c), "TLS handshake"));

    so.io_timeout_ms = 30000;
    so.progress = cancel_at_handshake;
    so.progress_payload = c;
    t0 = sk_ts_now_ms();
    assert_int_equal(sakhi_sync(NULL, c, &so), SAKHI_ECANCELED);
    assert_true(sk_ts_now_ms() - t0 < 5000);
    close(lfd);
    sk_fx_sync(c, 0, NULL); /* the real server still works */
    sakhi_close(c);
}

/* ---- secrets hygiene --------------------------------------------------------------------------- */

static const char *const canaries[] = {CANARY_NAME,         CANARY_PHONE, CANARY_NOTES,
                                       CANARY_FOLLOWUP,     "Rukhsana",   "77331",
                                       "husband threatens", "Choglamsar"};
#define NCANARIES (sizeof(canaries) / sizeof(canaries[0]))

static int hits_in(const char *buf, size_t n, const char *where)
{
    int hits = 0;
    for (size_t i = 0; i < NCANARIES; i++) {
        if (memmem(buf, n, canaries[i], strlen(canaries[i]))) {
            print_error("canary '%s' found in %s\n", canaries[i], where);
            hits++;
        }
    }
    return hits;
}

/* Scan every regular file under dir; returns hits, *files counts the files read. */
static int scan_tree(const char *dir, int *files)
{
    int hits = 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[1200];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            hits += scan_tree(p, files);
        } else if (S_ISREG(st.st_mode)) {
            FILE *fp = fopen(p, "rb");
            assert_non_null(fp);
            char *buf = malloc((size_t)st.st_size + 1);
            assert_non_null(buf);
            size_t n = fread(buf, 1, (size_t)st.st_size, fp);
            fclose(fp);
            hits += hits_in(buf, n, p);
            free(buf);
            (*files)++;
        }
    }
    closedir(d);
    return hits;
}

static void test_secrets_hygiene(void **state)
{
    fx *f = *state;
    char fw_path[700], st_path[700], tmp[700];
    sakhi_client *fw = device(f, "fw1", 0, fw_path, sizeof(fw_path));
    sakhi_client *st = device(f, "st1", 0, st_path, sizeof(st_path));
    char id[SAKHI_ID_STRLEN];
    capture(fw, CANARY_NAME, 1, id);
    assert_int_equal(sakhi_followup_add(fw, id, CANARY_FOLLOWUP), 0);
    sk_fx_sync(fw, 0, NULL);
    sk_fx_sync(st, 0, NULL);
    /* the data really travelled: staff sees the canaries in clear through the API */
    sakhi_record *rec = NULL;
    const char *s = NULL;
    assert_int_equal(sakhi_record_get(&rec, st, id), 0);
    assert_int_equal(sakhi_record_get_str(&s, rec, "name"), 0);
    assert_string_equal(s, CANARY_NAME);
    assert_int_equal(sakhi_record_get_str(&s, rec, "notes"), 0);
    assert_string_equal(s, CANARY_NOTES);
    sakhi_record_free(rec);
    /* both ways: staff adds a follow-up the field device pulls */
    assert_int_equal(sakhi_followup_add(st, id, CANARY_FOLLOWUP " (staff)"), 0);
    sk_fx_sync(st, 0, NULL);
    sk_fx_sync(fw, 0, NULL);
    assert_true(f->loglen > 0); /* the log callback was called (at debug level) */
    assert_int_equal(hits_in(sakhi_errmsg(fw), strlen(sakhi_errmsg(fw)), "errmsg"), 0);
    sakhi_close(st);
    sakhi_close(fw);

    assert_int_equal(hits_in(f->logbuf, f->loglen, "the client log"), 0);
    int files = 0;
    assert_int_equal(scan_tree(fw_path, &files), 0);
    assert_int_equal(scan_tree(st_path, &files), 0);
    assert_true(files >= 2); /* data.mdb of each store at least */
    snprintf(tmp, sizeof(tmp), "%s/tmp", f->ts.dir);
    assert_int_equal(scan_tree(tmp, &files), 0);
    files = 0;
    assert_int_equal(sk_ts_stop(&f->ts, 5000), 0);
    FILE *lf = fopen(f->ts.log, "rb");
    assert_non_null(lf);
    static char slog[1 << 20];
    size_t n = fread(slog, 1, sizeof(slog), lf);
    fclose(lf);
    assert_true(n > 0);
    assert_int_equal(hits_in(slog, n, "the server log"), 0);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(orig_tmpdir, sizeof(orig_tmpdir), "%s", t ? t : "");
    return SK_TEST_RUN(SK_TESTS(setup, sk_fx_free, test_sync_over_tls, test_wrong_key),
                       SK_TESTS(setup_nostart, sk_fx_free, test_expired_cert_right_key,
                                test_future_cert_right_key),
                       SK_TESTS(setup, sk_fx_free, test_clock_years_behind, test_clock_years_ahead,
                                test_plaintext_rules, test_handshake_timeout_and_cancel,
                                test_secrets_hygiene));
}
