/*
 * client.c - the sakhi_client handle: open/close, options and version. Its allocator is
 * alloc.c, its errors and log lines errors.c, its clocks clock.c (below the store, which uses
 * all three).
 *
 * Owns the handle's lifetime and its mutex, the cancel self-pipe and the error message buffer.
 * It must never write to stdout/stderr, never put a referral's content into a message or a log
 * line, and never keep global mutable state (two handles are fully independent).
 */
#include "sk_client.h"
#include "sk_client_test.h"

#include "sk_err.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *sakhi_version(void)
{
    return SAKHI_VERSION_STRING;
}

/* ---- open / close -------------------------------------------------------------------------- */

/* Test hooks (sk_client_test.h): process-wide, read when a store is opened. */
static _Atomic unsigned g_test_kdf_log2_kib;
static _Atomic int64_t g_test_clock_offset_ms;

int sk_client_test_kdf(unsigned log2_kib)
{
    if (log2_kib && (log2_kib < 3 || log2_kib > 20))
        return SAKHI_EINVAL;
    atomic_store(&g_test_kdf_log2_kib, log2_kib);
    return 0;
}

void sk_client_test_clock(int64_t offset_ms)
{
    atomic_store(&g_test_clock_offset_ms, offset_ms);
}

int sakhi_open(sakhi_client **out, const char *path, const char *pin, const sakhi_options *opts)
{
    sakhi_options def = SAKHI_OPTIONS_INIT;
    sakhi_client *c = NULL;
    int rc;

    if (!out || !path || !*path || !pin)
        return SAKHI_EINVAL;
    size_t pinlen = strlen(pin);
    if (pinlen == 0 || pinlen > 256)
        return SAKHI_EINVAL;
    if (!opts)
        opts = &def;
    if (opts->version < 1 || opts->version > SAKHI_OPTIONS_VERSION)
        return SAKHI_EINVAL;
    int hooks = !!opts->malloc_fn + !!opts->realloc_fn + !!opts->free_fn;
    if (hooks != 0 && hooks != 3)
        return SAKHI_EINVAL;
    if (opts->app && strlen(opts->app) > SK_MAX_NAME)
        return SAKHI_EINVAL;
    sk_kdf_cfg kdf = {atomic_load(&g_test_kdf_log2_kib), 0, 0, NULL};
    if (opts->version >= 3) {
        const sakhi_key_provider *kp = opts->key_provider;
        if (kp && (kp->version < 1 || !kp->wrap || !kp->unwrap))
            return SAKHI_EINVAL;
        kdf.memory_kib = opts->kdf_memory_kib;
        kdf.target_ms = opts->kdf_target_ms;
        kdf.provider = kp;
    }
    /* A new store: refuse a weak PIN before anything is created. */
    {
        char dpath[4096];
        struct stat st;
        if (snprintf(dpath, sizeof(dpath), "%s/data.mdb", path) >= (int)sizeof(dpath))
            return SAKHI_EINVAL;
        if (stat(dpath, &st) != 0 && errno == ENOENT && sk_pin_check(pin, NULL))
            return SAKHI_EWEAKPIN;
    }

    sk_allocator fns = {opts->malloc_fn, opts->realloc_fn, opts->free_fn, opts->alloc_payload};
    c = sk_acalloc(&fns, 1, sizeof(*c));
    if (!c)
        return SAKHI_ENOMEM;
    c->alloc = fns;
    c->log_fn = opts->log_fn;
    c->log_payload = opts->log_payload;
    c->log_level = opts->log_level ? opts->log_level : SAKHI_LOG_WARN;
    c->max_pin_attempts = opts->max_pin_attempts ? opts->max_pin_attempts : 10;
    c->test_clock_offset_ms = atomic_load(&g_test_clock_offset_ms);
    snprintf(c->app, sizeof(c->app), "%s",
             opts->app ? opts->app : "libsakhi/" SAKHI_VERSION_STRING);
    c->cancel_pipe[0] = c->cancel_pipe[1] = -1;
    atomic_init(&c->syncing, 0);
    atomic_init(&c->cancel_req, 0);
    atomic_init(&c->netchange_req, 0);
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        sk_client_dealloc(c, c);
        return SAKHI_ENOMEM;
    }
    if (pthread_mutex_init(&c->errlock, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        sk_client_dealloc(c, c);
        return SAKHI_ENOMEM;
    }
    if (pipe(c->cancel_pipe) != 0) {
        rc = SAKHI_EIO;
        goto fail;
    }
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(c->cancel_pipe[i], F_GETFL);
        if (fl < 0 || fcntl(c->cancel_pipe[i], F_SETFL, fl | O_NONBLOCK) < 0 ||
            fcntl(c->cancel_pipe[i], F_SETFD, FD_CLOEXEC) < 0) {
            rc = SAKHI_EIO;
            goto fail;
        }
    }
    if (!(c->path = sk_client_strdup(c, path))) {
        rc = SAKHI_ENOMEM;
        goto fail;
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        rc = SAKHI_EIO;
        goto fail;
    }
    rc = sk_lstore_open(c, path, pin, opts->map_size ? opts->map_size : (256ull << 20), &kdf);
    if (rc)
        goto fail;
    *out = c;
    return 0;

fail:
    sakhi_close(c);
    return rc;
}

void sakhi_close(sakhi_client *c)
{
    if (!c)
        return;
    sk_lstore_close(c);
    OPENSSL_cleanse(c->dek, sizeof(c->dek));
    OPENSSL_cleanse(c->priv, sizeof(c->priv));
    for (int i = 0; i < 2; i++)
        if (c->cancel_pipe[i] >= 0)
            close(c->cancel_pipe[i]);
    sk_client_dealloc(c, c->path);
    pthread_mutex_destroy(&c->errlock);
    pthread_mutex_destroy(&c->mu);
    sk_allocator hooks = c->alloc; /* the handle frees itself: not with a copy inside it */
    sk_afree(&hooks, c);
}
