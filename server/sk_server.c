/*
 * sk_server.c - the listening socket, the connection cap, signals and the graceful shutdown.
 *
 * Owns the listener, the signal handles, the store and the writer for the process's lifetime.
 * Shutdown order (SIGTERM/SIGINT): stop accepting; every session stops reading, gets the
 * answers to its in-flight work (acks come only from commits), then BYE; when no session is
 * left (or the shutdown timeout passed and the rest were cut), the writer finishes its queue
 * and stops, the environment is closed, and the loop ends. It never applies protocol rules.
 */
#include "sk_server.h"

#include "sk_desk.h"
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_log.h"
#include "sk_hubsrv.h"
#include "sk_repl.h"
#include "sk_conn.h"
#include "sk_session.h"
#include "sk_tls_transport.h"
#include "sk_tlsfile.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sk_transport *plain_factory(void *arg, sk_transport_deliver_fn deliver,
                                   sk_transport_emit_fn emit, void *ctx)
{
    (void)arg;
    return sk_transport_plain_new(deliver, emit, ctx);
}

static sk_transport *tls_factory(void *arg, sk_transport_deliver_fn deliver,
                                 sk_transport_emit_fn emit, void *ctx)
{
    return sk_transport_tls_new(arg, deliver, emit, ctx);
}

static void writer_done(sk_wreq *w, void *payload)
{
    sk_server *srv = payload;
    if (!w->owner) { /* the server's own requests (audit retention) */
        if (w->kind == SK_WREQ_PRUNE)
            sk_log(w->rc ? SK_LOG_WARN : SK_LOG_INFO, "audit_pruned", "removed=%llu code=%s",
                   (unsigned long long)w->pruned_out, w->rc ? sk_err_name(w->rc) : "OK");
        if (w->kind == SK_WREQ_SWEEP && (w->rc || w->swept_out))
            sk_log(w->rc ? SK_LOG_WARN : SK_LOG_INFO, "rules_swept", "tasks=%u code=%s",
                   (unsigned)w->swept_out, w->rc ? sk_err_name(w->rc) : "OK");
        sk_wreq_free(w);
        sk_repl_kick(srv);
        return;
    }
    sk_session_writer_done(w);
    sk_repl_kick(srv); /* a replica's held pull may have something now */
}

static void on_summary(uv_timer_t *t)
{
    sk_server_summary(t->data);
}

#define PRUNE_PERIOD_MS (6u * 3600u * 1000u)

static void on_prune(uv_timer_t *t)
{
    sk_server *srv = t->data;
    if (srv->stopped || srv->draining || srv->cfg->audit_retention_days == 0 ||
        sk_repl_is_standby(srv)) /* a standby takes its primary's pruning */
        return;
    sk_wreq *w = sk_wreq_new(SK_WREQ_PRUNE, 0);
    if (!w)
        return;
    w->now_ms = sk_now_ms();
    w->retain_ms = (uint64_t)srv->cfg->audit_retention_days * 86400000u;
    sk_writer_submit(srv->writer, w);
}

/* The centre's timed rules (an urgent referral waiting too long): checked every minute. */
#define SWEEP_PERIOD_MS (60u * 1000u)

static void on_sweep(uv_timer_t *t)
{
    sk_server *srv = t->data;
    if (srv->stopped || srv->draining || sk_repl_is_standby(srv)) /* the primary's rules */
        return;
    sk_wreq *w = sk_wreq_new(SK_WREQ_SWEEP, 0);
    if (!w)
        return;
    w->now_ms = sk_now_ms();
    sk_writer_submit(srv->writer, w);
}

#define ACCEPT_RETRY_MS 50
#define AUTH_BACKOFF_BASE_MS 1000u /* first back-off of an address past its free failures */
#define RL_ADDR_CAP 16384u         /* addresses remembered (a 32768-slot table, 3.4 MiB) */

static void srv_accept_retry(uv_timer_t *t);

/* A connection libuv has taken but the server could not (no memory for its session) stays
 * pending: libuv stops watching the listener until it is accepted, so leaving it would make
 * the server deaf to every later connection. It is accepted again shortly instead. */
static void try_accept(sk_server *srv)
{
    if (srv->draining || srv->stopped)
        return;
    int rc = sk_conn_accept(srv, (uv_stream_t *)&srv->uv->listener);
    if (rc == -SK_E_NOMEM) {
        sk_log(SK_LOG_WARN, "accept_failed", "code=%s retry_ms=%u", sk_err_name(rc),
               ACCEPT_RETRY_MS);
        uv_timer_start(&srv->uv->accept_timer, srv_accept_retry, ACCEPT_RETRY_MS, 0);
    } else if (rc) {
        sk_log(SK_LOG_WARN, "accept_failed", "code=%s", sk_err_name(rc));
    }
}

static void srv_accept_retry(uv_timer_t *t)
{
    try_accept(t->data);
}

static void on_connection(uv_stream_t *l, int status)
{
    sk_server *srv = l->data;
    if (status < 0) {
        sk_log(SK_LOG_WARN, "accept_error", "err=%s", uv_err_name(status));
        return;
    }
    try_accept(srv);
}

#define AUTHGEN_POLL_MS 250

/* sakhi-admin revokes devices and disables workers from another process: a changed counter
 * means "re-check every live session now", so a revoked phone is cut within a poll period
 * even while it is idle, not only at its next request. */
static void on_authgen(uv_timer_t *t)
{
    sk_server *srv = t->data;
    uint64_t g;
    if (srv->stopped || sk_store_authgen(srv->store, &g) != 0 || g == srv->authgen)
        return;
    srv->authgen = g;
    sk_session *s = srv->sessions;
    while (s) {
        sk_session *next = sk_session_next(s);
        sk_session_recheck(s);
        s = next;
    }
}

/* Every handle of sk_server_uv closes here; the last one frees them all. */
static void on_handle_closed(uv_handle_t *h)
{
    sk_server *srv = h->data;
    if (--srv->uv->open == 0) {
        free(srv->uv);
        srv->uv = NULL;
    }
}

/* Close the server's signal watchers and timers (each reports to on_handle_closed). */
static void close_handles(sk_server *srv)
{
    uv_close((uv_handle_t *)&srv->uv->sig_int, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->sig_term, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->sig_hup, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->shutdown_timer, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->check_timer, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->authgen_timer, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->prune_timer, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->sweep_timer, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->accept_timer, on_handle_closed);
    uv_close((uv_handle_t *)&srv->uv->summary_timer, on_handle_closed);
}

/* Free what the server holds past its loop handles, once the writer is stopped (every field is
 * NULL after; each part accepts one never made). */
static void free_parts(sk_server *srv)
{
    sk_repl_free(srv);        /* after the writer: its last trim answers went to it */
    sk_hub_free(srv);         /* after the writer: its last answers went to the sessions */
    sk_desk_close(srv->desk); /* after the writer: its last answers went to the desk */
    srv->desk = NULL;
    sk_store_close(srv->store);
    srv->store = NULL;
    sk_tls_ctx_free(srv->tls);
    srv->tls = NULL;
    sk_ratelimit_free(srv->rl_addr);
    srv->rl_addr = NULL;
    sk_codeguard_free(srv->codes);
    srv->codes = NULL;
}

static void finish(sk_server *srv)
{
    if (srv->stopped)
        return;
    srv->stopped = 1;
    uint64_t txns, reqs;
    sk_repl_stop(srv);
    sk_hub_stop(srv);
    sk_writer_stats(srv->writer, &txns, &reqs);
    sk_writer_stop(srv->writer);
    srv->writer = NULL;
    free_parts(srv);
    close_handles(srv);
    sk_server_summary(srv);
    sk_log(SK_LOG_INFO, "stopped", "exit=%d commits=%llu requests=%llu", srv->exit_code,
           (unsigned long long)txns, (unsigned long long)reqs);
}

static void on_check(uv_timer_t *t)
{
    sk_server *srv = t->data;
    /* Desk pages read the store on the thread pool: the store stays open until they are done. */
    if (srv->draining && !srv->sessions && !sk_desk_busy(srv->desk))
        finish(srv);
}

/* A session was freed while draining (sk_server_session_closed). */
static void check_soon(sk_server *srv)
{
    uv_timer_start(&srv->uv->check_timer, on_check, 0, 0);
}

static void on_shutdown_deadline(uv_timer_t *t)
{
    sk_server *srv = t->data;
    unsigned n = 0;
    for (sk_session *s = srv->sessions; s; s = sk_session_next(s)) {
        sk_session_abort(s, -SK_E_SHUTDOWN);
        n++;
    }
    sk_log(SK_LOG_WARN, "shutdown_deadline", "sessions_cut=%u", n);
    uv_timer_start(&srv->uv->check_timer, on_check, 0, 0);
}

void sk_server_shutdown(sk_server *srv)
{
    if (srv->draining)
        return;
    srv->draining = 1;
    sk_log(SK_LOG_INFO, "shutdown", "sessions=%u pending_writes=%zu", srv->nconn,
           sk_writer_pending(srv->writer));
    if (srv->uv->listening) {
        uv_close((uv_handle_t *)&srv->uv->listener, on_handle_closed);
        srv->uv->listening = 0;
    }
    sk_desk_shutdown(srv->desk);
    sk_repl_stop(srv); /* the standby thread ends; held acks are answered */
    sk_hub_stop(srv);  /* a centre's feed to its hub ends (its cursor is durable) */
    sk_session *s = srv->sessions;
    while (s) {
        sk_session *next = sk_session_next(s);
        sk_session_drain(s);
        s = next;
    }
    uv_timer_start(&srv->uv->shutdown_timer, on_shutdown_deadline, srv->cfg->shutdown_timeout_ms,
                   0);
    uv_timer_start(&srv->uv->check_timer, on_check, 0, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    sk_server *srv = h->data;
    if (signum == SIGHUP) {
        int rc = sk_log_reopen();
        sk_log(rc ? SK_LOG_ERROR : SK_LOG_INFO, "log_reopen", "ok=%d", rc == 0);
        return;
    }
    sk_log(SK_LOG_INFO, "signal", "signal=%s", signum == SIGINT ? "INT" : "TERM");
    sk_server_shutdown(srv);
}

/* Undo whatever sk_server_init got done before it failed (every field it sets is NULL or 0
 * until then), so a refused start frees everything it allocated. */
static void init_cleanup(sk_server *srv)
{
    if (srv->uv && srv->uv->handles_init) {
        close_handles(srv);
        srv->uv->handles_init = 0;
    }
    if (srv->uv && srv->uv->listener_init) {
        uv_close((uv_handle_t *)&srv->uv->listener, on_handle_closed);
        srv->uv->listener_init = 0;
        srv->uv->listening = 0;
    }
    sk_repl_stop(srv);
    sk_hub_stop(srv);
    if (srv->writer) {
        sk_writer_stop(srv->writer); /* frees itself when its handle is closed, below */
        srv->writer = NULL;
    }
    free_parts(srv);
    /* Run the close callbacks so no handle of ours is left on the loop (the last frees uv). */
    uv_run(srv->loop, UV_RUN_NOWAIT);
    if (srv->uv && srv->uv->open == 0) { /* none was opened */
        free(srv->uv);
        srv->uv = NULL;
    }
}

int sk_server_init(sk_server *srv, uv_loop_t *loop, const sk_config *cfg, char *err, size_t errcap)
{
    int ret = 0, rc;
    memset(srv, 0, sizeof(*srv));
    srv->loop = loop;
    srv->cfg = cfg;
    if (!(srv->uv = calloc(1, sizeof(*srv->uv)))) {
        snprintf(err, errcap, "out of memory");
        return 3;
    }
    srv->transport_new = plain_factory; /* sk_config allows it on loopback only */
    if (!cfg->plaintext) {
        char terr[512] = "";
        if (sk_tls_ctx_new_server(&srv->tls, cfg->tls_cert, cfg->tls_key, terr, sizeof(terr))) {
            snprintf(err, errcap, "cannot use the TLS certificate or key: %s", terr);
            ret = 2;
            goto out;
        }
        srv->transport_new = tls_factory;
        srv->transport_arg = srv->tls;
    }
    srv->rl_addr =
        sk_ratelimit_new(cfg->auth_fail_limit_addr, AUTH_BACKOFF_BASE_MS, cfg->auth_backoff_max_ms,
                         cfg->auth_fail_window_ms, RL_ADDR_CAP);
    srv->codes = sk_codeguard_new(cfg->enroll_code_tries, SK_ENROLL_IDS);
    if (!srv->rl_addr || !srv->codes) {
        snprintf(err, errcap, "out of memory");
        ret = 3;
        goto out;
    }
    if (cfg->map_size_mb > SIZE_MAX / (1024u * 1024u)) {
        snprintf(err, errcap, "map-size %llu MiB is too large for this machine",
                 (unsigned long long)cfg->map_size_mb);
        ret = 2;
        goto out;
    }
    sk_store_opts so = SK_STORE_OPTS_INIT;
    so.keys_dir = cfg->keys_dir[0] ? cfg->keys_dir : NULL;
    so.gid = cfg->gid;
    rc = sk_store_open_opts(&srv->store, cfg->data_dir, (size_t)cfg->map_size_mb * 1024u * 1024u,
                            &so);
    if (rc) {
        snprintf(err, errcap, "%s",
                 sk_store_open_error()[0] ? sk_store_open_error() : sk_err_text(rc));
        srv->store = NULL;
        ret = 3;
        goto out;
    }
    {
        /* A data directory of the old layout: its master key has just been moved out of it. */
        const char *from, *to;
        char ef[600], et[600];
        if (sk_store_master_moved(srv->store, &from, &to))
            sk_log(SK_LOG_WARN, "master_key_moved", "from=%s to=%s",
                   sk_log_esc(ef, sizeof(ef), from), sk_log_esc(et, sizeof(et), to));
    }
    {
        /* The store's epoch (PROTOCOL.md section 5.6): a data directory that is a copy of a
         * store, not the file it last ran from, begins a new one, so devices give back what the
         * copy does not have. */
        sk_store_epoch ep;
        int began = 0;
        if ((rc = sk_store_claim_home(srv->store, cfg->data_dir, sk_now_ms(), &began, &ep))) {
            snprintf(err, errcap, "cannot read the store identity: %s", sk_err_text(rc));
            ret = 3;
            goto out;
        }
        sk_log(began || ep.prev ? SK_LOG_WARN : SK_LOG_INFO, "epoch",
               "epoch=%016llx prev=%016llx since_seq=%llu began=%s", (unsigned long long)ep.epoch,
               (unsigned long long)ep.prev, (unsigned long long)ep.since_seq,
               began ? "copied" : "no");
    }
    /* A record must fit one CHANGES frame with room for the envelope. */
    size_t max_record = cfg->max_frame - 64;
    if ((rc = sk_writer_start(&srv->writer, srv->store, loop, max_record, writer_done, srv))) {
        snprintf(err, errcap, "cannot start the writer thread");
        srv->writer = NULL;
        ret = 3;
        goto out;
    }
    if ((ret = sk_repl_init(srv, err, errcap)) != 0)
        goto out;
    if ((ret = sk_hub_init(srv, err, errcap)) != 0)
        goto out;
    sk_writer_set_reserve(srv->writer, cfg->store_reserve_mb
                                           ? (size_t)cfg->store_reserve_mb * 1024u * 1024u
                                           : (size_t)cfg->map_size_mb * 1024u * 1024u / 16u);
    struct sockaddr_storage addr;
    if (sk_conn_listen_addr(cfg->listen, cfg->port, &addr) != 0) {
        snprintf(err, errcap, "bad listen address %s", cfg->listen);
        ret = 4;
        goto out;
    }
    int urc = uv_tcp_init(loop, &srv->uv->listener);
    if (urc) {
        snprintf(err, errcap, "cannot listen on %s port %u: %s", cfg->listen, cfg->port,
                 uv_strerror(urc));
        ret = 4;
        goto out;
    }
    srv->uv->listener.data = srv;
    srv->uv->listener_init = 1;
    srv->uv->open++;
    urc = uv_tcp_bind(&srv->uv->listener, (struct sockaddr *)&addr, 0);
    if (urc == 0)
        urc = uv_listen((uv_stream_t *)&srv->uv->listener, 511, on_connection);
    if (urc) {
        snprintf(err, errcap, "cannot listen on %s port %u: %s", cfg->listen, cfg->port,
                 uv_strerror(urc));
        ret = 4;
        goto out;
    }
    srv->uv->listening = 1;
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    unsigned port = cfg->port;
    if (uv_tcp_getsockname(&srv->uv->listener, (struct sockaddr *)&bound, &blen) == 0)
        port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                : ((struct sockaddr_in6 *)&bound)->sin6_port);
    srv->port = port;
    /* uv_signal_init and uv_timer_init cannot fail on an initialised loop (libuv). */
    uv_signal_init(loop, &srv->uv->sig_int);
    uv_signal_init(loop, &srv->uv->sig_term);
    uv_signal_init(loop, &srv->uv->sig_hup);
    uv_timer_init(loop, &srv->uv->shutdown_timer);
    uv_timer_init(loop, &srv->uv->check_timer);
    uv_timer_init(loop, &srv->uv->authgen_timer);
    uv_timer_init(loop, &srv->uv->prune_timer);
    uv_timer_init(loop, &srv->uv->sweep_timer);
    uv_timer_init(loop, &srv->uv->accept_timer);
    uv_timer_init(loop, &srv->uv->summary_timer);
    srv->uv->handles_init = 1;
    srv->uv->open += 10;
    srv->uv->sig_int.data = srv->uv->sig_term.data = srv->uv->sig_hup.data = srv;
    srv->uv->shutdown_timer.data = srv->uv->check_timer.data = srv;
    srv->uv->authgen_timer.data = srv->uv->prune_timer.data = srv->uv->accept_timer.data = srv;
    srv->uv->summary_timer.data = srv;
    srv->on_closed = check_soon;
    srv->uv->sweep_timer.data = srv;
    if (uv_signal_start(&srv->uv->sig_int, on_signal, SIGINT) ||
        uv_signal_start(&srv->uv->sig_term, on_signal, SIGTERM) ||
        uv_signal_start(&srv->uv->sig_hup, on_signal, SIGHUP)) {
        snprintf(err, errcap, "cannot install signal handlers");
        ret = 2;
        goto out;
    }
    if (sk_store_authgen(srv->store, &srv->authgen) == 0)
        uv_timer_start(&srv->uv->authgen_timer, on_authgen, AUTHGEN_POLL_MS, AUTHGEN_POLL_MS);
    uv_timer_start(&srv->uv->prune_timer, on_prune, 0, PRUNE_PERIOD_MS);
    uv_timer_start(&srv->uv->summary_timer, on_summary, cfg->log_summary_ms, cfg->log_summary_ms);
    uv_timer_start(&srv->uv->sweep_timer, on_sweep, SWEEP_PERIOD_MS, SWEEP_PERIOD_MS);
    sk_log(SK_LOG_INFO, "listening",
           "addr=%s port=%u data=%s map_mb=%llu max_conn=%u max_frame=%u transport=%s", cfg->listen,
           port, cfg->data_dir, (unsigned long long)cfg->map_size_mb, cfg->max_conn, cfg->max_frame,
           srv->tls ? "tls" : "plaintext");
    if (cfg->desk && (ret = sk_desk_start(&srv->desk, srv, err, errcap)) != 0) {
        srv->desk = NULL;
        goto out;
    }
    if (cfg->port_file[0]) {
        /* Write then rename, so a reader never sees a half-written number. */
        char tmp[SK_CONFIG_PATH_MAX + 8];
        snprintf(tmp, sizeof(tmp), "%s.tmp", cfg->port_file);
        FILE *fp = fopen(tmp, "w");
        int bad = !fp || fprintf(fp, "%u\n", port) < 0;
        int e = errno;
        if (fp && fclose(fp) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        if (!bad && rename(tmp, cfg->port_file) != 0) {
            bad = 1;
            e = errno;
        }
        if (bad) {
            if (fp)
                remove(tmp);
            snprintf(err, errcap, "cannot write port file %s: %s", cfg->port_file, strerror(e));
            ret = 2;
            goto out;
        }
    }
out:
    if (ret)
        init_cleanup(srv);
    return ret;
}

int sk_server_run(sk_server *srv)
{
    uv_run(srv->loop, UV_RUN_DEFAULT);
    return srv->exit_code;
}
