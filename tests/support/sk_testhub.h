/*
 * sk_testhub.h - a hub of centres for a test (docs/REPLICATION.md, "Hub of centres"): a hub
 * over TLS and two centres, Leh and Kargil, as real sakhi-server processes, each centre
 * enrolled on the hub with a centre enrollment URI from the real sakhi-admin and feeding it
 * (--to-hub); the hub killed and restarted on its port; a centre restarted once enrolled.
 * Servers are sk_testserver.h's; admin runs are sk_admin_at's, their output in the hub's g.o.
 * Asserts with cmocka (an object of sakhi_testsupport only tests pull in).
 */
#ifndef SK_TESTHUB_H
#define SK_TESTHUB_H

#include "sk_admin_run.h"
#include "sk_testserver.h"

typedef struct sk_th {
    sk_ts hub, leh, kargil;
    sk_admin_run g;   /* the last admin run's output in g.o (no temp dir of its own) */
    char interval[8]; /* the centres' --hub-interval, in seconds */
} sk_th;

/* The hub (temp dir "<prefix>-hub", serving TLS) started with --hub; the centres (temp dirs
 * "<prefix>-leh", "<prefix>-kargil") with the field worker leh_fw of Leh and kargil_fw of
 * Kargil, enrolled on the hub under the centre names "leh" and "kargil" and started feeding it
 * every interval seconds. */
void sk_th_start(sk_th *h, const char *prefix, const char *leh_fw, const char *kargil_fw,
                 const char *interval);
/* Start the stopped (or killed) centre c of h again, feeding the hub at its address: an
 * enrolled centre keeps the hub's pin. */
void sk_th_restart_centre(sk_th *h, sk_ts *c);
/* Kill the hub with SIGKILL and start it again on its port, where the centres find it. */
void sk_th_restart_hub(sk_th *h);
/* Stop both centres, then the hub (each must exit 0). */
void sk_th_stop(sk_th *h);
/* Remove the three temp dirs (killing what still runs) and free the last admin output. */
void sk_th_teardown(sk_th *h);

#endif
