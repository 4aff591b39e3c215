/*
 * sk_testfixture.h - the cmocka fixture server tests share: a fixture struct whose first member
 * is a server (sk_ts) set up in a temp dir with the centre's workers and started, and the
 * teardowns that stop it (checking or not that it exits cleanly) and free it. A test's own
 * fixture struct keeps its sk_ts first and adds what it needs:
 *
 *     typedef struct fx { sk_ts ts; int ndev; } fx;
 *     static int setup(void **state)
 *     {
 *         return sk_fx_start(state, sizeof(fx), "sk-sync", "fw1 fw2 st1", NULL);
 *     }
 *     ... cmocka_unit_test_setup_teardown(test_x, setup, sk_fx_stop) ...
 *
 * Includes what every such test includes first (cmocka, the case model's constants, error codes,
 * the test server, client and devices). Asserts with cmocka, so it is its own object of
 * sakhi_testsupport: programs that do not call it (helpers without cmocka) do not pull it in.
 */
#ifndef SK_TESTFIXTURE_H
#define SK_TESTFIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_case.h"
#include "sk_err.h"
#include "sk_testdevice.h"

/* The fixture of a test that needs only the server. */
typedef struct sk_fx {
    sk_ts ts;
} sk_fx;

/* A new zeroed fixture of size bytes (at least sizeof(sk_ts); its first member the sk_ts) with
 * the server's temp dir made (prefix names it) and workers added: a space-separated list of
 * ids, each "fw<n>" a field worker of Leh, "st<n>" staff of Leh, "ad<n>" an administrator.
 * Asserts every step. The server is not started; the caller frees with one of the teardowns. */
void *sk_fx_new(size_t size, const char *prefix, const char *workers);

/* cmocka setup: sk_fx_new, then the server started with extra arguments (a NULL-ended list, or
 * NULL), into *state. */
int sk_fx_start(void **state, size_t size, const char *prefix, const char *workers,
                const char *const *extra);

/* Serve TLS from ts (sk_ts_tls) and start it with no extra arguments: pin gets the key's pin and
 * pin_hex its text (sk_tls_pin_format). Asserts every step. */
void sk_fx_start_tls(sk_ts *ts, uint8_t pin[SK_TLS_PIN_LEN], char pin_hex[SK_TLS_PIN_HEX_LEN + 1]);

/* cmocka teardowns of a fixture made by sk_fx_new, each removing the temp dir and freeing it:
 * sk_fx_stop stops the server (SIGTERM) and fails the test unless it exits with 0;
 * sk_fx_stop_any stops a running server without checking how it exits;
 * sk_fx_free kills a running server (SIGKILL). */
int sk_fx_stop(void **state);
/* sk_fx_stop allowing timeout_ms (it allows 10 s) for the clean exit. */
int sk_fx_stop_within(void **state, int timeout_ms);
int sk_fx_stop_any(void **state);
int sk_fx_free(void **state);

/* Every record on c, in list order, a page of 8 at a time: their ids into ids (NULL: only
 * counted), failing the test past cap. The number of records. */
size_t sk_fx_list(sakhi_client *c, char (*ids)[SAKHI_ID_STRLEN], size_t cap);

/* Sync c with the server it enrolled with (port 0) or with 127.0.0.1:port; fails the test unless
 * sakhi_sync returns 0 and the sync completed. res (may be NULL) gets the result. */
void sk_fx_sync(sakhi_client *c, uint16_t port, sakhi_sync_result *res);

/* A sakhi_sync progress callback (payload unused) that cancels the sync once the server has
 * acknowledged the first pushed batch. */
int sk_fx_stop_at_first_ack(const sakhi_progress *p, void *payload);
/* sk_td_capture (no consent to be contacted), failing the test with the field and message
 * libsakhi gives when it cannot be saved. */
void sk_fx_capture(char id[SAKHI_ID_STRLEN], sakhi_client *c, const char *name, int urgency);
/* sk_td_referral with consent to be contacted, its phone and notes set where not NULL, saved;
 * fails the test as sk_fx_capture does. */
void sk_fx_capture_contact(char id[SAKHI_ID_STRLEN], sakhi_client *c, const char *name, int urgency,
                           const char *phone, const char *notes);

/* The protocol test client c enrolled on ts as a new device of worker (sk_td_tc, label "dev"),
 * authenticated and given a device number; fails the test otherwise. */
void sk_fx_tc(sk_ts *ts, sk_tc *c, const char *worker);

/* The next message on c is ERROR code answering request rid (within 5 s); fails the test
 * otherwise. */
void sk_fx_expect_error(sk_tc *c, uint32_t rid, uint32_t code);

/* PING(ms) sent on c is answered (within 5 s) by the PONG for its rid carrying ms back: the
 * session is alive. Fails the test otherwise. */
void sk_fx_ping_ok(sk_tc *c, uint64_t ms);

#endif
