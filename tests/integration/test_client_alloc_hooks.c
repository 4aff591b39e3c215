/*
 * test_client_alloc_hooks.c - a libsakhi handle opened with allocator hooks (sakhi_options
 * malloc_fn/realloc_fn/free_fn) allocates everything of its own through them
 * (docs/CLIENT-API.md, "Memory"), against a real sakhi-server on 127.0.0.1 over pinned TLS:
 *  (a) enrollment, captures, a sync that pushes and pulls, records read back (fields, JSON, the
 *      list), close: every pointer the hooks were asked to free or resize is one they handed
 *      out and still live, nothing is live after sakhi_close, and the hooks saw the work;
 *  (b) while a hooked handle lives, no code of the library calls the C library's allocator:
 *      the program is linked with --wrap=malloc (and calloc, realloc, free, strdup, strndup),
 *      which catches the calls of libsakhi and proto/, linked in statically, and not those of
 *      LMDB, OpenSSL, zstd and libc, which keep their own allocators in shared objects. A
 *      handle opened without hooks is the control: there the count is not zero;
 *  (c) the Nth allocation failing, for every N from the first until an operation no longer
 *      reaches it: sakhi_open, a capture (saved whole or not at all) and a sync that pushes one
 *      referral and pulls another's each return SAKHI_ENOMEM, or succeed where the library can
 *      do without (a buffer it only meant to shrink), and leak nothing; a clean sync after each
 *      failed one settles everything; afterwards the store opens, every referral is there
 *      once, and the server holds exactly the referrals saved.
 */
#include "sk_testfixture.h"
#include "sk_tls.h"
#include "sk_testmain.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

/* ---- counting hooks ------------------------------------------------------------------------ */

/* The C library's own (see below): the hooks' memory is not the library's use of it. */
void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);

#define SLOTS (1u << 20) /* open addressing; the handle never has anywhere near this many live */

typedef struct hooks {
    pthread_mutex_t mu;
    uintptr_t slot[SLOTS];
    size_t live;
    uint64_t allocs;   /* successful malloc_fn and realloc_fn calls */
    uint64_t attempts; /* malloc_fn and realloc_fn calls, failed ones included */
    uint64_t frees;
    uint64_t foreign; /* free_fn or realloc_fn of a pointer these hooks do not hold */
    uint64_t fail_at; /* 0: never fail; else the attempt with this number fails */
    uint64_t failed;  /* failures handed out */
} hooks;

static hooks g_h = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t slot_of(uintptr_t p)
{
    return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull >> 44) & (SLOTS - 1);
}

static void set_add(hooks *h, void *p)
{
    size_t i = slot_of((uintptr_t)p);
    while (h->slot[i])
        i = (i + 1) & (SLOTS - 1);
    h->slot[i] = (uintptr_t)p;
    h->live++;
}

/* Remove p; 0 when it was not there. Linear probing: shift the run after it back. */
static int set_del(hooks *h, void *p)
{
    size_t i = slot_of((uintptr_t)p);
    while (h->slot[i] && h->slot[i] != (uintptr_t)p)
        i = (i + 1) & (SLOTS - 1);
    if (!h->slot[i])
        return 0;
    h->slot[i] = 0;
    h->live--;
    for (size_t j = (i + 1) & (SLOTS - 1); h->slot[j]; j = (j + 1) & (SLOTS - 1)) {
        size_t home = slot_of(h->slot[j]);
        /* the entry at j may move to the hole at i when its home is not in (i, j] */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            h->slot[i] = h->slot[j];
            h->slot[j] = 0;
            i = j;
        }
    }
    return 1;
}

/* 1 when this attempt is the one to fail. */
static int attempt(hooks *h)
{
    h->attempts++;
    if (h->fail_at && h->attempts == h->fail_at) {
        h->failed++;
        return 1;
    }
    return 0;
}

static void *h_malloc(size_t n, void *payload)
{
    hooks *h = payload;
    pthread_mutex_lock(&h->mu);
    void *p = attempt(h) ? NULL : __real_malloc(n);
    if (p) {
        set_add(h, p);
        h->allocs++;
    }
    pthread_mutex_unlock(&h->mu);
    return p;
}

static void *h_realloc(void *old, size_t n, void *payload)
{
    hooks *h = payload;
    pthread_mutex_lock(&h->mu);
    void *p = NULL;
    if (old && !set_del(h, old)) {
        h->foreign++; /* not ours: leave it alone, fail the call */
    } else if (attempt(h)) {
        if (old)
            set_add(h, old); /* a failed realloc keeps the block */
    } else if ((p = __real_realloc(old, n)) != NULL) {
        set_add(h, p);
        h->allocs++;
    } else if (old) {
        set_add(h, old);
    }
    pthread_mutex_unlock(&h->mu);
    return p;
}

static void h_free(void *p, void *payload)
{
    hooks *h = payload;
    if (!p)
        return;
    pthread_mutex_lock(&h->mu);
    if (set_del(h, p)) {
        h->frees++;
        __real_free(p);
    } else {
        h->foreign++;
    }
    pthread_mutex_unlock(&h->mu);
}

static void hooks_fail_at(uint64_t n)
{
    pthread_mutex_lock(&g_h.mu);
    g_h.fail_at = n ? g_h.attempts + n : 0;
    g_h.failed = 0;
    pthread_mutex_unlock(&g_h.mu);
}

static sakhi_options hooked_opts(void)
{
    sakhi_options o = sk_td_options();
    o.malloc_fn = h_malloc;
    o.realloc_fn = h_realloc;
    o.free_fn = h_free;
    o.alloc_payload = &g_h;
    return o;
}

/* ---- the C library's allocator, called from statically linked code --------------------------- */

/* The program is linked with --wrap for each of these (integration/CMakeLists.txt): a call from
 * an object of the program itself (libsakhi and proto/, linked in statically, and this test)
 * comes here, while shared objects (LMDB, OpenSSL, zstd, libc itself) reach the C library
 * directly. The test's own code between libc_count_start and libc_count_stop allocates
 * nothing. */
void *__real_calloc(size_t n, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_int g_counting;
static atomic_ulong g_libc_calls;

static void note(void)
{
    if (atomic_load_explicit(&g_counting, memory_order_relaxed))
        atomic_fetch_add(&g_libc_calls, 1);
}

void *__wrap_malloc(size_t n)
{
    note();
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    note();
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    note();
    return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
    if (p)
        note();
    __real_free(p);
}

char *__wrap_strdup(const char *s)
{
    note();
    return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    note();
    return __real_strndup(s, n);
}

static void libc_count_start(void)
{
    atomic_store(&g_libc_calls, 0);
    atomic_store(&g_counting, 1);
}

static unsigned long libc_count_stop(void)
{
    atomic_store(&g_counting, 0);
    return atomic_load(&g_libc_calls);
}

/* ---- fixture ------------------------------------------------------------------------------- */

typedef struct fx {
    sk_ts ts;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
} fx;

static int setup(void **state)
{
    fx *f = sk_fx_new(sizeof(fx), "sk-alloc-hooks", "fw1");
    sk_fx_start_tls(&f->ts, f->pin, f->pin_hex);
    pthread_mutex_lock(&g_h.mu);
    memset(g_h.slot, 0, sizeof(g_h.slot));
    g_h.live = 0;
    g_h.allocs = g_h.attempts = g_h.frees = g_h.foreign = g_h.fail_at = g_h.failed = 0;
    pthread_mutex_unlock(&g_h.mu);
    *state = f;
    return 0;
}

static int sync_tls(sakhi_client *c, sakhi_sync_result *res)
{
    *res = (sakhi_sync_result)SAKHI_SYNC_RESULT_INIT;
    return sakhi_sync(res, c, NULL);
}

/* Every referral on c, read back in full: their number. */
static size_t read_all(sakhi_client *c)
{
    static sakhi_list_item items[1024];
    size_t n = 0;
    assert_int_equal(sakhi_list(items, 1024, &n, NULL, c, NULL), 0);
    assert_true(n < 1024);
    for (size_t i = 0; i < n; i++) {
        sakhi_record *rec = NULL;
        const char *block = NULL;
        char *json = NULL;
        assert_int_equal(sakhi_record_get(&rec, c, items[i].id), 0);
        assert_int_equal(sakhi_record_get_str(&block, rec, "block"), 0);
        assert_string_equal(block, "Nubra");
        sakhi_record_free(rec);
        assert_int_equal(sakhi_record_json(&json, c, items[i].id), 0);
        assert_non_null(strstr(json, "Nubra"));
        sakhi_free(c, json);
    }
    return n;
}

/* n routine referrals named name captured on c, then a sync over TLS into *res; 0 or the code
 * of the step that failed. */
static int capture_sync(sakhi_client *c, const char *name, int n, sakhi_sync_result *res)
{
    char id[SAKHI_ID_STRLEN];
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = sk_td_capture(id, c, name, SAKHI_URGENCY_ROUTINE, 0);
    return rc ? rc : sync_tls(c, res);
}

/* (a) and (b): a whole device life on the hooks. */
static void test_hooks_hold_a_device_life(void **state)
{
    fx *f = *state;
    sakhi_client *other = NULL, *c = NULL;
    sakhi_sync_result res;

    /* The control: a device without hooks, whose referrals the hooked one pulls. */
    libc_count_start();
    int rc = sk_td_device(&other, &f->ts, 2, NULL, "fw1", "other", f->pin_hex);
    if (rc == 0)
        rc = capture_sync(other, "Other Device", 2, &res);
    unsigned long control = libc_count_stop();
    assert_int_equal(rc, 0);
    assert_int_equal(res.complete, 1);
    assert_true(control > 100); /* the counter sees the library's C allocations */

    sakhi_options o = hooked_opts();
    char code[SK_ENROLL_CODE_LEN + 1];
    assert_int_equal(sk_ts_code(&f->ts, "fw1", SK_TD_CODE_TTL_MS, code), 0); /* outside */
    libc_count_start();
    rc = sk_td_open(&c, &f->ts, 1, &o);
    if (rc == 0)
        rc = sk_td_enroll(c, &f->ts, "fw1", "hooked", f->pin_hex, code);
    if (rc == 0)
        rc = capture_sync(c, "Hooked Device", 3, &res);
    unsigned long during = libc_count_stop();
    assert_int_equal(rc, 0);
    assert_int_equal(res.complete, 1);
    assert_int_equal(res.applied, 3);
    assert_true(res.pulled >= 2);
    assert_int_equal(sk_td_pending(c), 0);

    libc_count_start();
    size_t n = read_all(c);
    sakhi_close(c);
    during += libc_count_stop();
    assert_int_equal(n, 5);
    assert_int_equal(during, 0);
    assert_int_equal(g_h.foreign, 0);
    assert_int_equal(g_h.live, 0);
    assert_true(g_h.allocs > 100);
    assert_true(g_h.frees > 100);
    sakhi_close(other);
}

/* (c): every allocation of an open, a capture and a sync failing in turn. */
static void test_failed_allocation_loses_nothing(void **state)
{
    fx *f = *state;
    sakhi_client *c = NULL;
    sakhi_options o = hooked_opts();
    char id[SAKHI_ID_STRLEN];
    sakhi_sync_result res;
    char path[700];

    assert_int_equal(sk_td_device(&c, &f->ts, 1, &o, "fw1", "nomem", f->pin_hex), 0);
    sakhi_close(c);
    c = NULL;
    assert_int_equal(g_h.live, 0);
    sk_td_path(&f->ts, 1, path, sizeof(path));

    /* sakhi_open */
    uint64_t n;
    for (n = 1; n < 10000; n++) {
        hooks_fail_at(n);
        int rc = sakhi_open(&c, path, SK_TD_PIN, &o);
        int failed = g_h.failed != 0;
        hooks_fail_at(0);
        if (!failed) {
            assert_int_equal(rc, 0);
            break;
        }
        assert_int_equal(rc, SAKHI_ENOMEM);
        assert_null(c);
        assert_int_equal(g_h.live, 0);
    }
    assert_true(n > 3 && n < 10000);
    assert_int_equal(g_h.foreign, 0);

    /* a capture: saved whole or not at all. The first one, whole, makes what the handle keeps
     * from then on (the key file's prepared slots). */
    assert_int_equal(sk_td_capture(id, c, "Nomem Capture", SAKHI_URGENCY_ROUTINE, 0), 0);
    size_t saved = 1;
    size_t live0 = g_h.live;
    for (n = 1; n < 10000; n++) {
        hooks_fail_at(n);
        int rc = sk_td_capture(id, c, "Nomem Capture", SAKHI_URGENCY_ROUTINE, 0);
        int failed = g_h.failed != 0;
        hooks_fail_at(0);
        assert_int_equal(g_h.live, live0);
        if (rc == 0)
            saved++;
        assert_int_equal(sk_td_pending(c), saved);
        if (!failed)
            break;
        if (rc != 0)
            assert_int_equal(rc, SAKHI_ENOMEM);
    }
    assert_true(n > 3 && n < 10000);
    assert_int_equal(sk_td_pending(c), saved);

    /* a sync: stops cleanly, and the next one carries on. Each round starts alike: this device
     * saves one referral and another device one this one will pull, so the Nth allocation of
     * the sync is a step of the same push and pull every round; a clean sync then settles
     * everything before the next. */
    sakhi_client *other = NULL;
    assert_int_equal(sk_td_device(&other, &f->ts, 2, NULL, "fw1", "other", f->pin_hex), 0);
    sk_fx_sync(c, 0, &res);
    size_t others = 0;
    uint64_t failures = 0;
    for (n = 1; n < 10000; n++) {
        assert_int_equal(sk_td_capture(id, c, "Nomem Sync", SAKHI_URGENCY_ROUTINE, 0), 0);
        saved++;
        assert_int_equal(sk_td_capture(id, other, "Other Sync", SAKHI_URGENCY_ROUTINE, 0), 0);
        others++;
        sk_fx_sync(other, 0, &res);
        size_t live1 = g_h.live;
        hooks_fail_at(n);
        int rc = sync_tls(c, &res);
        int failed = g_h.failed != 0;
        hooks_fail_at(0);
        assert_int_equal(g_h.live, live1);
        if (!failed) {
            assert_int_equal(rc, 0);
            assert_int_equal(res.complete, 1);
            break;
        }
        failures++;
        if (rc != 0) /* else the library worked around the failure */
            assert_int_equal(rc, SAKHI_ENOMEM);
        sk_fx_sync(c, 0, &res);
        assert_int_equal(sk_td_pending(c), 0);
        assert_int_equal(g_h.live, live1);
    }
    assert_true(failures > 100 && n < 10000);
    assert_int_equal(g_h.foreign, 0);
    sakhi_close(c);
    c = NULL;
    assert_int_equal(g_h.live, 0);

    /* The store is whole, and the server holds each saved referral once. */
    assert_int_equal(sakhi_open(&c, path, SK_TD_PIN, &o), 0);
    assert_int_equal(read_all(c), saved + others);
    assert_int_equal(sk_td_pending(c), 0);
    sk_fx_sync(c, 0, &res);
    assert_int_equal(res.pushed, 0);
    uint64_t records = 0, seq = 0;
    assert_int_equal(sk_ts_stats(&f->ts, &records, &seq), 0);
    assert_int_equal(records, saved + others);
    sakhi_close(c);
    sakhi_close(other);
    assert_int_equal(g_h.live, 0);
    assert_int_equal(g_h.foreign, 0);
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_hooks_hold_a_device_life),
    cmocka_unit_test(test_failed_allocation_loses_nothing),
};

SK_TEST_MAIN_EACH(tests, setup, sk_fx_stop)
