/*
 * sk_repl.h - replication over the sync protocol (docs/REPLICATION.md, PROTOCOL.md 3.17).
 *
 * Primary side (loop thread): a replica's device, enrolled with the replica role, sends
 * REPL_PULL; the primary answers REPL_DATA from its store's replication log (or, while the
 * replica seeds, from a snapshot), holds a pull that finds nothing new until the next commit,
 * and takes each pull's position as the replica's acknowledgement: the log is trimmed below what
 * every replica applied (bounded: a replica too far behind is told to seed again), and in
 * synchronous mode a PUSH is acknowledged only once a replica has applied its commit.
 *
 * Standby side (its own thread): `sakhi-server --standby-of` connects to the primary (TLS,
 * pinned; enrolled once from an enrollment URI), pulls and applies each REPL_DATA in one write
 * transaction of its store, with its position, until `sakhi-admin promote` makes it a primary.
 * While a standby, the server answers every device's HELLO with ERROR NOT_PRIMARY and its
 * writer refuses every request.
 */
#ifndef SK_REPL_H
#define SK_REPL_H

#include "sk_context.h"

#include <stddef.h>
#include <stdint.h>

/* Set up replication for srv (after the store and the writer, before listening): as a standby
 * when cfg->standby_of is set (the thread starts), else as a primary. Refuses (non-zero, the
 * reason in err) a standby store started without --standby-of and a primary store started
 * with it. */
int sk_repl_init(sk_server *srv, char *err, size_t errcap);
/* Stop the standby thread (joined) and release everything (loop thread, at shutdown). */
void sk_repl_stop(sk_server *srv);
void sk_repl_free(sk_server *srv);
/* 1 while this server is a standby (devices are refused). Any thread. */
int sk_repl_is_standby(const sk_server *srv);

/* Primary: the writer committed something (serve held pulls). Sessions reach the rest through
 * srv->repl_hooks: a replica's REPL_PULL, a PUSH held in synchronous mode (answered later with
 * sk_session_push_released, exactly once), a session going away. */
void sk_repl_kick(sk_server *srv);

#endif
