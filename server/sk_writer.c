/*
 * sk_writer.c - group commit on a dedicated thread (DESIGN section 5).
 *
 * Owns the request queue, the thread and the uv_async_t that wakes the loop. The thread takes
 * every request queued since its last commit and hands them to sk_wapply_group (sk_wreq.c),
 * which applies them all in one durable LMDB write transaction. Results go back to the loop
 * only after the commit returned.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setname_np */
#endif
#include "sk_writer.h"

#include "sk_err.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct sk_writer {
    sk_wapply ap; /* the store, the reserve, the refusal; writer thread (refuse: atomic) */
    uv_loop_t *loop;
    uv_async_t async;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sk_wreq *in_head, *in_tail;
    sk_wreq *done_head, *done_tail;
    int stop;
    size_t pending; /* loop thread only: submitted and not yet delivered */
    sk_writer_done_cb done;
    void *payload;
};

void sk_writer_set_refuse(sk_writer *wr, int code)
{
    __atomic_store_n(&wr->ap.refuse, code, __ATOMIC_RELEASE);
}

void sk_writer_set_reserve(sk_writer *wr, size_t bytes)
{
    wr->ap.reserve = bytes;
}

static void *thread_main(void *arg)
{
    sk_writer *wr = arg;
#ifdef __linux__
    pthread_setname_np(pthread_self(), "sk-writer"); /* for top -H, perf, /proc/PID/task */
#endif
    for (;;) {
        pthread_mutex_lock(&wr->mu);
        while (!wr->in_head && !wr->stop)
            pthread_cond_wait(&wr->cv, &wr->mu);
        sk_wreq *head = wr->in_head;
        wr->in_head = wr->in_tail = NULL;
        int stop = wr->stop;
        pthread_mutex_unlock(&wr->mu);
        if (!head && stop)
            break;
        sk_wreq *tail = head;
        sk_wapply_group(&wr->ap, head);
        while (tail->next)
            tail = tail->next;
        pthread_mutex_lock(&wr->mu);
        sk_wreq_append(&wr->done_head, &wr->done_tail, head, tail);
        pthread_mutex_unlock(&wr->mu);
        uv_async_send(&wr->async);
    }
    return NULL;
}

static void deliver(sk_writer *wr)
{
    pthread_mutex_lock(&wr->mu);
    sk_wreq *w = wr->done_head;
    wr->done_head = wr->done_tail = NULL;
    pthread_mutex_unlock(&wr->mu);
    while (w) {
        sk_wreq *next = w->next;
        w->next = NULL;
        wr->pending--;
        if (w->kind == SK_WREQ_CALL && w->call_done)
            w->call_done(w);
        else
            wr->done(w, wr->payload);
        w = next;
    }
}

static void on_async(uv_async_t *h)
{
    deliver(h->data);
}

int sk_writer_start(sk_writer **out, sk_store *st, uv_loop_t *loop, size_t max_record,
                    sk_writer_done_cb done, void *payload)
{
    sk_writer *wr = calloc(1, sizeof(*wr));
    if (!wr)
        return -SK_E_NOMEM;
    wr->ap.store = st;
    wr->ap.max_record = max_record;
    wr->loop = loop;
    wr->done = done;
    wr->payload = payload;
    pthread_mutex_init(&wr->mu, NULL);
    pthread_cond_init(&wr->cv, NULL);
    if (uv_async_init(loop, &wr->async, on_async)) {
        free(wr);
        return -SK_E_INTERNAL;
    }
    wr->async.data = wr;
    if (pthread_create(&wr->thread, NULL, thread_main, wr)) {
        uv_close((uv_handle_t *)&wr->async, (uv_close_cb)free);
        return -SK_E_INTERNAL;
    }
    *out = wr;
    return 0;
}

void sk_writer_submit(sk_writer *wr, sk_wreq *w)
{
    w->next = NULL;
    wr->pending++;
    pthread_mutex_lock(&wr->mu);
    sk_wreq_append(&wr->in_head, &wr->in_tail, w, w);
    pthread_cond_signal(&wr->cv);
    pthread_mutex_unlock(&wr->mu);
}

size_t sk_writer_pending(sk_writer *wr)
{
    return wr->pending;
}

void sk_writer_stats(sk_writer *wr, uint64_t *txns, uint64_t *reqs)
{
    *txns = wr->ap.txns;
    *reqs = wr->ap.reqs;
}

static void on_async_closed(uv_handle_t *h)
{
    sk_writer *wr = h->data;
    pthread_mutex_destroy(&wr->mu);
    pthread_cond_destroy(&wr->cv);
    free(wr);
}

void sk_writer_stop(sk_writer *wr)
{
    pthread_mutex_lock(&wr->mu);
    wr->stop = 1;
    pthread_cond_signal(&wr->cv);
    pthread_mutex_unlock(&wr->mu);
    pthread_join(wr->thread, NULL);
    deliver(wr);
    uv_close((uv_handle_t *)&wr->async, on_async_closed);
}
