/*
 * sk_testdevice.h - test devices against a server started with sk_testserver.h: a libsakhi
 * device store in the server's temp directory (cheap KDF, the test PIN), enrolled with a fresh
 * code over plaintext loopback or pinned TLS; and the protocol test client (sk_testclient.h)
 * enrolled the same way. The "make a code, enroll, open the store" steps every client test
 * repeats.
 *
 * Functions return 0 or the failing step's code (libsakhi's SAKHI_E*, or a negative sk_ts/sk_tc
 * code); they never assert, so a test can check an expected failure. The libsakhi part needs
 * the test to link sakhi or sakhi_static; the protocol client part needs neither.
 */
#ifndef SK_TESTDEVICE_H
#define SK_TESTDEVICE_H

#include "sk_testclient.h"
#include "sk_testserver.h"

#include <sakhi/sakhi.h>

#include <stddef.h>
#include <stdint.h>

/* The PIN test device stores are opened with. */
#define SK_TD_PIN "246813"
/* How long an enrollment code made by these helpers is valid. */
#define SK_TD_CODE_TTL_MS 600000u

/* ---- the protocol test client (proto/ only) ----------------------------------------------- */

/* sk_tc_init c, make a code for worker, connect to ts (plaintext) and enroll as a new device
 * named label: authenticated on return. The caller frees c (sk_tc_free) either way. Lives in
 * sk_testdevice_tc.c, so a test that uses only this does not link libsakhi. */
int sk_td_tc(sk_tc *c, sk_ts *ts, const char *worker, const char *label);

/* A new referral (sk_tc_make_referral: op, the time now, tag) pushed alone by c; its id into
 * *id (may be NULL). The push's code when it failed, else the ack's status (SK_ACK_APPLIED is
 * 0), so a test asserts either with one comparison. Lives in sk_testdevice_tc.c too. */
int sk_td_push_referral(sk_tc *c, uint64_t op, const char *tag, sk_id *id);

/* ---- libsakhi devices ------------------------------------------------------------------------- */

/* SAKHI_OPTIONS_INIT, and new stores get a cheap KDF (sk_client_test_kdf(10), process-wide):
 * the base for sk_td_open's options. */
sakhi_options sk_td_options(void);

/* Device n's store directory: <ts->dir>/dev<n>. */
void sk_td_path(const sk_ts *ts, int n, char *out, size_t cap);

/* Open device n's store (made on first use) with SK_TD_PIN and o (NULL: sk_td_options()). */
int sk_td_open(sakhi_client **out, const sk_ts *ts, int n, const sakhi_options *o);

/* sk_td_open for a device whose wall clock is clock_offset_ms off (sk_client_test_clock). */
int sk_td_open_skewed(sakhi_client **out, const sk_ts *ts, int n, const sakhi_options *o,
                      int64_t clock_offset_ms);

/* Enroll c as a new device of worker named label: plaintext to 127.0.0.1, or TLS checked
 * against pin_hex when it is not NULL. code (may be NULL) is the code to use when code[0] is
 * set (a code kept from an attempt that did not spend it), otherwise a fresh one is made and
 * written there. A failure's text is in sakhi_errmsg(c). */
int sk_td_enroll(sakhi_client *c, sk_ts *ts, const char *worker, const char *label,
                 const char *pin_hex, char *code);

/* A new referral on c with every required field set: Leh, block Nubra, village Diskit, taken
 * at an anganwadi centre, name, age band 30-44, domestic violence, urgency, a frontline worker
 * as source, consent to share (contact: consent to be contacted). The caller adds more, saves
 * and frees it. */
int sk_td_referral(sakhi_referral **out, sakhi_client *c, const char *name, int urgency,
                   int contact);

/* Changes waiting in c's outbox; UINT64_MAX when they cannot be counted. */
uint64_t sk_td_pending(sakhi_client *c);
/* The sync state (SAKHI_SYNC_*) of record id on c; -1 when it cannot be read. */
int sk_td_state(sakhi_client *c, const char *id);

/* sk_td_referral saved as is: id gets its id. A failure's field and text are in
 * sakhi_errfield(c) and sakhi_errmsg(c). */
int sk_td_capture(char id[SAKHI_ID_STRLEN], sakhi_client *c, const char *name, int urgency,
                  int contact);

/* sk_td_open then sk_td_enroll (fresh code). On an enrollment failure *out is still open (for
 * sakhi_errmsg); the caller closes it either way. */
int sk_td_device(sakhi_client **out, sk_ts *ts, int n, const sakhi_options *o, const char *worker,
                 const char *label, const char *pin_hex);

#endif
