/*
 * sk_testrepl.h - a centre's primary and its warm standby for a test (docs/REPLICATION.md):
 * the replica enrollment URI from the real sakhi-admin, waiting (bounded) until the standby
 * has applied everything the primary wrote, and what a server answers a device's HELLO (a
 * CHALLENGE from a primary, NOT_PRIMARY from a standby or a demoted primary). Servers are
 * sk_testserver.h's; admin runs are sk_admin_run.h's, on a server's data directory.
 *
 * Functions return 0 or -1 (never assert), so a test can check an expected failure.
 */
#ifndef SK_TESTREPL_H
#define SK_TESTREPL_H

#include "sk_admin_run.h"
#include "sk_testclient.h"
#include "sk_testserver.h"

#include <stddef.h>
#include <stdint.h>

/* g set up to run sakhi-admin on t's data directory (outputs in t's temp dir): no new temp
 * directory, so sk_admin_teardown must not be called on it; sk_trepl_admin_done frees its
 * outputs. 0, or -1 when t's paths do not fit g. */
int sk_trepl_admin_on(sk_admin_run *g, const sk_ts *t);
void sk_trepl_admin_done(sk_admin_run *g);

/* Primary p and standby s set up in new temp dirs (prefixes pname and sname), neither started:
 * p with a new TLS certificate (its pin into pin, in hex into pin_hex) that s serves too, so a
 * device's one pin fits both, and the field worker fw1 of Leh on p. 0 or -1. */
int sk_trepl_pair(sk_ts *p, sk_ts *s, const char *pname, const char *sname,
                  uint8_t pin[SK_TLS_PIN_LEN], char pin_hex[SK_TLS_PIN_HEX_LEN + 1]);

/* Start s as the standby of the running primary p, reached at 127.0.0.1:port (p's own port or a
 * proxy's), with a new replica enrollment code. 0 or -1. */
int sk_trepl_start_standby(sk_ts *s, const sk_ts *p, const char *pin_hex, uint16_t port);

/* dev initialised and enrolled as fw1 ("phone") on the running primary p over TLS checked
 * against pin; timeout_ms > 0 replaces the client's default timeout first. 0 or -1 (dev still
 * to be freed with sk_tc_free). */
int sk_trepl_device(sk_tc *dev, sk_ts *p, const uint8_t pin[SK_TLS_PIN_LEN], int timeout_ms);

/* The URI of a new replica enrollment code of primary p (enroll-code --replica --json) naming
 * 127.0.0.1:port and pin_hex. 0 or -1. */
int sk_trepl_replica_uri(const sk_ts *p, const char *pin_hex, uint16_t port, char *uri, size_t cap);

/* Wait up to timeout_ms until standby s is seeded and has applied the primary's last entry
 * (`stats --json` of both). 0, or -1 at the timeout or when stats fail. */
int sk_trepl_wait_caught_up(const sk_ts *p, const sk_ts *s, int timeout_ms);

/* What the server on 127.0.0.1:port (TLS checked against pin) answers a device's HELLO: 0 for a
 * CHALLENGE, the code of an ERROR (SK_E_NOT_PRIMARY from a standby), -1 for anything else or no
 * answer. */
int sk_trepl_hello_answer(uint16_t port, const uint8_t pin[SK_TLS_PIN_LEN]);

/* Wait up to timeout_ms until the server on port answers HELLO with a CHALLENGE. 0 or -1. */
int sk_trepl_wait_serving(uint16_t port, const uint8_t pin[SK_TLS_PIN_LEN], int timeout_ms);

#endif
