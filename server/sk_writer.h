/*
 * sk_writer.h - the writer thread: every store write of every session goes through one queue
 * and is committed in group transactions (sk_wreq.h); results come back on the loop thread.
 */
#ifndef SK_WRITER_H
#define SK_WRITER_H

#include "sk_wreq.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sk_writer sk_writer;
typedef void (*sk_writer_done_cb)(sk_wreq *w, void *payload);

/* Start the thread. done is called on the loop thread for every finished request (it then
 * owns w). max_record: largest packed record accepted. */
int sk_writer_start(sk_writer **out, sk_store *st, uv_loop_t *loop, size_t max_record,
                    sk_writer_done_cb done, void *payload);
/* Queue a request (loop thread). Requests of one session are applied in submission order. */
void sk_writer_submit(sk_writer *wr, sk_wreq *w);
/* Requests queued or being committed. */
size_t sk_writer_pending(sk_writer *wr);
/* Finish every queued request, stop and join the thread, deliver the remaining results, free.
 * Call on the loop thread; it runs the loop's async handle close. */
void sk_writer_stop(sk_writer *wr);

/* Keep the last bytes of the map for pushes (with their audit entries) and staff work: while
 * the store's pages in use plus bytes reach the map size, audit-only entries (pulls,
 * revocations seen by sessions) and last-seen updates are left out, and a store_reserve line
 * says so; so STORE_FULL for a push is never caused by audit growth. 0 = no reserve. Call
 * before the first request. */
void sk_writer_set_reserve(sk_writer *wr, size_t bytes);

/* Refuse every request with code (a standby's or a demoted primary's NOT_PRIMARY; 0 = take
 * them again). Any thread. */
void sk_writer_set_refuse(sk_writer *wr, int code);

/* Statistics for logs: transactions committed and requests in them. */
void sk_writer_stats(sk_writer *wr, uint64_t *txns, uint64_t *reqs);

#endif
