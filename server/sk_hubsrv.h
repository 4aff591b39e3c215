/*
 * sk_hubsrv.h - a hub of centres (docs/REPLICATION.md "Hub of centres", PROTOCOL.md 3.18).
 *
 * Hub side (`sakhi-server --hub`, loop thread): a centre's server, enrolled on the hub with the
 * centre role (`sakhi-admin enroll-code --centre NAME`), sends HUB_PUSH; the hub checks that
 * every case in it is de-identified, stores it through the writer under the centre the
 * session's key is bound to (a centre writes only its own cases), and answers HUB_ACK once the
 * commit is durable.
 *
 * Centre side (`sakhi-server --to-hub`, its own thread): connects to the hub when the store has
 * changes past the cursor it keeps durably, sends them de-identified (sk_deid.h: the centre
 * decides what leaves, before it leaves), and moves the cursor once the hub acknowledged. A
 * batch sent again after a cut or a crash changes nothing at the hub (idempotent by case and
 * version).
 */
#ifndef SK_HUB_SERVER_H
#define SK_HUB_SERVER_H

#include "sk_context.h"

#include <stddef.h>

/* Set up what cfg asks (--hub, --to-hub; nothing otherwise), after replication and before
 * listening. 0, or non-zero (the exit code) with the reason in err. */
int sk_hub_init(sk_server *srv, char *err, size_t errcap);
/* Stop the centre's thread (joined); the hub side keeps nothing across requests. */
void sk_hub_stop(sk_server *srv);
void sk_hub_free(sk_server *srv);

#endif
