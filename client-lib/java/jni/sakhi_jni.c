/*
 * sakhi_jni.c - the JNI layer of the Java binding (package org.sakhisync, class Native): one
 * entry point per libsakhi call or small group of calls, nothing else. The Java classes own the
 * handles (passed here as jlong) and guarantee that none is used after it is freed or by two
 * threads where the C API forbids it; this file converts arguments, calls libsakhi and turns a
 * negative SAKHI_E* code into an org.sakhisync.SakhiException carrying sakhi_errmsg and
 * sakhi_errfield of that call.
 *
 * Rules this file keeps:
 *   - Strings cross as byte[] holding UTF-8 (never JNI's modified UTF-8, which encodes
 *     characters outside the BMP differently); copies get a NUL and are freed before returning.
 *   - Every local reference made in a loop or a callback is deleted there, so no call grows the
 *     local reference table with the size of its input; the only global references are the
 *     classes cached once in JNI_OnLoad and a client's log listener, deleted when it closes.
 *   - A JNIEnv is used only on its own thread: the progress callback runs on the thread that
 *     called sync (libsakhi calls it there) and checks that it does before touching Java.
 *   - A listener that throws cancels the sync through the callback's return value; the
 *     exception is cleared while libsakhi finishes (so no JNI call runs with one pending) and
 *     thrown again, unchanged, once sakhi_sync has returned with the store consistent.
 *   - libsakhi's own allocations and this file's go through counting allocator hooks, so a test
 *     can see that many open/close cycles leave nothing behind (Native.debugCounts).
 */
#include "org_sakhisync_Native.h"

#include <sakhi/sakhi.h>

#include "sk_client_test.h"

#include <jni.h>
#include <limits.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static JavaVM *g_vm;
static jclass g_exc_cls;        /* org.sakhisync.SakhiException */
static jmethodID g_exc_ctor;    /* (int, byte[], byte[]) */
static jclass g_prog_cls;       /* org.sakhisync.SyncProgress */
static jmethodID g_prog_ctor;   /* (int, long x 10) */
static jmethodID g_on_progress; /* ProgressListener.onProgress(SyncProgress) -> boolean */
static jclass g_oom_cls;        /* java.lang.OutOfMemoryError */
static jclass g_native_cls;     /* org.sakhisync.Native */
static jmethodID g_native_log;  /* static Native.log(LogListener, int, byte[]) */
static jmethodID g_exc_code;    /* SakhiException.code() */
static jmethodID g_kp_wrap;     /* KeyProvider.wrap(byte[], byte[]) -> byte[] */
static jmethodID g_kp_unwrap;   /* KeyProvider.unwrap(byte[], byte[]) -> byte[] */

/* ---- counting allocator ------------------------------------------------------------------ */

static atomic_llong g_live_objects; /* clients, drafts and records not yet freed */
static atomic_llong g_live_bytes;   /* bytes held through jalloc (this file and libsakhi) */

/* The header in front of each block keeps the block's size and the alignment of malloc. */
typedef union jhdr {
    size_t size;
    max_align_t align;
} jhdr;

static void *jalloc(size_t n)
{
    jhdr *h;
    if (n > SIZE_MAX - sizeof(jhdr))
        return NULL;
    h = malloc(sizeof(jhdr) + n);
    if (!h)
        return NULL;
    h->size = n;
    atomic_fetch_add(&g_live_bytes, (long long)n);
    return h + 1;
}

static void *jrealloc(void *p, size_t n)
{
    jhdr *h, *nh;
    size_t old;
    if (!p)
        return jalloc(n);
    if (n > SIZE_MAX - sizeof(jhdr))
        return NULL;
    h = (jhdr *)p - 1;
    old = h->size;
    nh = realloc(h, sizeof(jhdr) + n);
    if (!nh)
        return NULL;
    nh->size = n;
    atomic_fetch_add(&g_live_bytes, (long long)n - (long long)old);
    return nh + 1;
}

static void jfree(void *p)
{
    jhdr *h;
    if (!p)
        return;
    h = (jhdr *)p - 1;
    atomic_fetch_sub(&g_live_bytes, (long long)h->size);
    free(h);
}

static void *hook_malloc(size_t n, void *payload)
{
    (void)payload;
    return jalloc(n);
}

static void *hook_realloc(void *p, size_t n, void *payload)
{
    (void)payload;
    return jrealloc(p, n);
}

static void hook_free(void *p, void *payload)
{
    (void)payload;
    jfree(p);
}

/* ---- conversions and errors -------------------------------------------------------------- */

static sakhi_client *client_of(jlong h)
{
    return (sakhi_client *)(intptr_t)h;
}

static sakhi_referral *draft_of(jlong h)
{
    return (sakhi_referral *)(intptr_t)h;
}

static sakhi_record *record_of(jlong h)
{
    return (sakhi_record *)(intptr_t)h;
}

static jlong handle_of(void *p)
{
    return (jlong)(intptr_t)p;
}

static void throw_oom(JNIEnv *env)
{
    if (!(*env)->ExceptionCheck(env))
        (*env)->ThrowNew(env, g_oom_cls, "sakhi_jni: out of native memory");
}

/* A new byte[] holding the bytes of s ("" for NULL), or NULL with an exception pending. */
static jbyteArray jbytes(JNIEnv *env, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    jbyteArray a;
    if (n > INT32_MAX) {
        throw_oom(env);
        return NULL;
    }
    a = (*env)->NewByteArray(env, (jsize)n);
    if (!a)
        return NULL;
    if (n)
        (*env)->SetByteArrayRegion(env, a, 0, (jsize)n, (const jbyte *)s);
    return a;
}

/* A NUL-terminated copy of a byte[] in *out (NULL for a null array); free it with jfree.
 * 0, or -1 with an exception pending. */
static int jstr(JNIEnv *env, jbyteArray a, char **out)
{
    jsize n;
    char *s;
    *out = NULL;
    if (!a)
        return 0;
    n = (*env)->GetArrayLength(env, a);
    s = jalloc((size_t)n + 1);
    if (!s) {
        throw_oom(env);
        return -1;
    }
    (*env)->GetByteArrayRegion(env, a, 0, n, (jbyte *)s);
    s[n] = '\0';
    *out = s;
    return 0;
}

/* Free a copy that held a secret, after overwriting it. */
static void jfree_secret(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    jfree(s);
}

/* Throw SakhiException(rc, detail, field). */
static void throw_text(JNIEnv *env, int rc, const char *detail, const char *field)
{
    jbyteArray d, f;
    jobject e;
    if ((*env)->ExceptionCheck(env))
        return;
    d = jbytes(env, detail);
    if (!d)
        return;
    f = jbytes(env, field);
    if (!f)
        return;
    e = (*env)->NewObject(env, g_exc_cls, g_exc_ctor, (jint)rc, d, f);
    if (e)
        (*env)->Throw(env, (jthrowable)e);
    (*env)->DeleteLocalRef(env, e);
    (*env)->DeleteLocalRef(env, d);
    (*env)->DeleteLocalRef(env, f);
}

/* Throw SakhiException for rc with the handle's detail of the call that just failed. */
static void throw_sakhi(JNIEnv *env, sakhi_client *c, int rc)
{
    throw_text(env, rc, c ? sakhi_errmsg(c) : "", c ? sakhi_errfield(c) : "");
}

/* The handle Java keeps for obj, which a call returning rc made, counted live; or 0 with the
 * call's error thrown. */
static jlong new_handle(JNIEnv *env, jlong h, int rc, void *obj)
{
    if (rc) {
        throw_sakhi(env, client_of(h), rc);
        return 0;
    }
    atomic_fetch_add(&g_live_objects, 1);
    return handle_of(obj);
}

/* Store a byte[] of s into arr[i]. 0, or -1 with an exception pending. */
static int set_bytes(JNIEnv *env, jobjectArray arr, jsize i, const char *s)
{
    jbyteArray b = jbytes(env, s);
    if (!b)
        return -1;
    (*env)->SetObjectArrayElement(env, arr, i, b);
    (*env)->DeleteLocalRef(env, b);
    return (*env)->ExceptionCheck(env) ? -1 : 0;
}

/* ---- load -------------------------------------------------------------------------------- */

static jclass global_class(JNIEnv *env, const char *name)
{
    jclass local = (*env)->FindClass(env, name);
    jclass global;
    if (!local)
        return NULL;
    global = (jclass)(*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    return global;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved)
{
    JNIEnv *env;
    jclass listener, keys;
    (void)reserved;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK)
        return JNI_ERR;
    g_vm = vm;
    if (!(g_oom_cls = global_class(env, "java/lang/OutOfMemoryError")) ||
        !(g_exc_cls = global_class(env, "org/sakhisync/SakhiException")) ||
        !(g_prog_cls = global_class(env, "org/sakhisync/SyncProgress")) ||
        !(g_native_cls = global_class(env, "org/sakhisync/Native")))
        return JNI_ERR;
    g_native_log =
        (*env)->GetStaticMethodID(env, g_native_cls, "log", "(Lorg/sakhisync/LogListener;I[B)V");
    g_exc_code = (*env)->GetMethodID(env, g_exc_cls, "code", "()I");
    if (!g_native_log || !g_exc_code)
        return JNI_ERR;
    keys = (*env)->FindClass(env, "org/sakhisync/KeyProvider");
    if (!keys)
        return JNI_ERR;
    g_kp_wrap = (*env)->GetMethodID(env, keys, "wrap", "([B[B)[B");
    g_kp_unwrap = (*env)->GetMethodID(env, keys, "unwrap", "([B[B)[B");
    (*env)->DeleteLocalRef(env, keys);
    if (!g_kp_wrap || !g_kp_unwrap)
        return JNI_ERR;
    g_exc_ctor = (*env)->GetMethodID(env, g_exc_cls, "<init>", "(I[B[B)V");
    g_prog_ctor = (*env)->GetMethodID(env, g_prog_cls, "<init>", "(IJJJJJJJJJJ)V");
    listener = (*env)->FindClass(env, "org/sakhisync/ProgressListener");
    if (!g_exc_ctor || !g_prog_ctor || !listener)
        return JNI_ERR;
    g_on_progress =
        (*env)->GetMethodID(env, listener, "onProgress", "(Lorg/sakhisync/SyncProgress;)Z");
    (*env)->DeleteLocalRef(env, listener);
    if (!g_on_progress)
        return JNI_ERR;
    return JNI_VERSION_1_6;
}

JNIEXPORT void JNICALL JNI_OnUnload(JavaVM *vm, void *reserved)
{
    JNIEnv *env;
    (void)reserved;
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK)
        return;
    (*env)->DeleteGlobalRef(env, g_oom_cls);
    (*env)->DeleteGlobalRef(env, g_exc_cls);
    (*env)->DeleteGlobalRef(env, g_prog_cls);
    (*env)->DeleteGlobalRef(env, g_native_cls);
}

/* ---- library ----------------------------------------------------------------------------- */

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_version(JNIEnv *env, jclass cls)
{
    (void)cls;
    return jbytes(env, sakhi_version());
}

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_strerror(JNIEnv *env, jclass cls, jint code)
{
    (void)cls;
    return jbytes(env, sakhi_strerror(code));
}

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_syncStateName(JNIEnv *env, jclass cls,
                                                                     jint state)
{
    (void)cls;
    return jbytes(env, sakhi_sync_state_name(state));
}

JNIEXPORT jlongArray JNICALL Java_org_sakhisync_Native_debugCounts(JNIEnv *env, jclass cls)
{
    jlong v[2];
    jlongArray a;
    (void)cls;
    v[0] = (jlong)atomic_load(&g_live_objects);
    v[1] = (jlong)atomic_load(&g_live_bytes);
    a = (*env)->NewLongArray(env, 2);
    if (a)
        (*env)->SetLongArrayRegion(env, a, 0, 2, v);
    return a;
}

/* ---- the handle -------------------------------------------------------------------------- */

/* A client's log listener: a global reference, used by whichever thread logs. */
typedef struct jni_log {
    jobject listener;
} jni_log;

static void on_log(int level, const char *msg, void *payload)
{
    jni_log *lg = payload;
    JNIEnv *env = NULL;
    jbyteArray line;
    /* Every call into libsakhi comes from a Java thread, so the logging thread is attached; a
     * thread with an exception pending (none should be) does not log rather than lose it. */
    if ((*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK ||
        (*env)->ExceptionCheck(env))
        return;
    line = jbytes(env, msg);
    if (line) {
        (*env)->CallStaticVoidMethod(env, g_native_cls, g_native_log, lg->listener, (jint)level,
                                     line);
        (*env)->DeleteLocalRef(env, line);
    }
    /* Native.log drops what the listener throws; only an allocation failure can be left. */
    if ((*env)->ExceptionCheck(env))
        (*env)->ExceptionClear(env);
}

static void log_free(JNIEnv *env, jni_log *lg)
{
    if (!lg)
        return;
    (*env)->DeleteGlobalRef(env, lg->listener);
    jfree(lg);
    atomic_fetch_sub(&g_live_objects, 1);
}

/* A Java KeyProvider during one sakhi_open: the callbacks run on the opening thread. */
typedef struct jni_keys {
    JNIEnv *env;       /* of the thread that called open */
    jobject provider;  /* local reference of that call */
    jthrowable thrown; /* what the provider threw other than a SakhiException, or NULL */
} jni_keys;

/* Overwrite a Java array that held key material. */
static void wipe_array(JNIEnv *env, jbyteArray a)
{
    static const jbyte zeros[256];
    jsize n, off = 0;
    if (!a)
        return;
    n = (*env)->GetArrayLength(env, a);
    while (off < n) {
        jsize k = n - off < (jsize)sizeof(zeros) ? n - off : (jsize)sizeof(zeros);
        (*env)->SetByteArrayRegion(env, a, off, k, zeros);
        off += k;
    }
}

/* Call provider.wrap or provider.unwrap (m) with (in, tag) and copy the returned array into out
 * (capacity *out_len). A SakhiException's code becomes the callback's result; any other
 * exception is kept for the caller of open and gives SAKHI_EKEYPROVIDER. secret_in says which
 * array holds the secret (wrap: the input; unwrap: the result): that one is wiped. */
static int kp_call(jni_keys *k, jmethodID m, int secret_in, uint8_t *out, size_t *out_len,
                   const uint8_t *in, size_t in_len, const uint8_t *tag, size_t tag_len)
{
    JNIEnv *env = NULL;
    jbyteArray jin = NULL, jtag = NULL, jres = NULL;
    jthrowable t;
    jsize n;
    int rc = SAKHI_EKEYPROVIDER;
    if (k->thrown)
        return SAKHI_EKEYPROVIDER;
    /* libsakhi calls the provider on the opening thread; anything else would make k->env
     * invalid. */
    if ((*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK || env != k->env ||
        (*env)->ExceptionCheck(env))
        return SAKHI_EKEYPROVIDER;
    if (in_len > INT32_MAX || tag_len > INT32_MAX)
        return SAKHI_EKEYPROVIDER;
    jin = (*env)->NewByteArray(env, (jsize)in_len);
    if (!jin)
        goto out;
    (*env)->SetByteArrayRegion(env, jin, 0, (jsize)in_len, (const jbyte *)in);
    jtag = (*env)->NewByteArray(env, (jsize)tag_len);
    if (!jtag)
        goto out;
    (*env)->SetByteArrayRegion(env, jtag, 0, (jsize)tag_len, (const jbyte *)tag);
    jres = (jbyteArray)(*env)->CallObjectMethod(env, k->provider, m, jin, jtag);
    if ((*env)->ExceptionCheck(env) || !jres)
        goto out; /* null: the provider failed */
    n = (*env)->GetArrayLength(env, jres);
    if ((size_t)n > *out_len)
        goto out;
    (*env)->GetByteArrayRegion(env, jres, 0, n, (jbyte *)out);
    *out_len = (size_t)n;
    rc = 0;
out:
    if ((t = (*env)->ExceptionOccurred(env)) != NULL) {
        (*env)->ExceptionClear(env);
        if ((*env)->IsInstanceOf(env, t, g_exc_cls)) {
            rc = (*env)->CallIntMethod(env, t, g_exc_code);
            if ((*env)->ExceptionCheck(env)) {
                (*env)->ExceptionClear(env);
                rc = SAKHI_EKEYPROVIDER;
            }
            if (rc >= 0)
                rc = SAKHI_EKEYPROVIDER;
            (*env)->DeleteLocalRef(env, t);
        } else {
            k->thrown = t; /* a local reference of the open call, thrown when it returns */
            rc = SAKHI_EKEYPROVIDER;
        }
    }
    wipe_array(env, secret_in ? jin : jres);
    (*env)->DeleteLocalRef(env, jin);
    (*env)->DeleteLocalRef(env, jtag);
    (*env)->DeleteLocalRef(env, jres);
    return rc;
}

static int kp_wrap(uint8_t *blob_out, size_t *blob_len, const uint8_t *secret, size_t secret_len,
                   const uint8_t *pin_tag, size_t pin_tag_len, void *payload)
{
    return kp_call(payload, g_kp_wrap, 1, blob_out, blob_len, secret, secret_len, pin_tag,
                   pin_tag_len);
}

static int kp_unwrap(uint8_t *secret_out, size_t *secret_len, const uint8_t *blob, size_t blob_len,
                     const uint8_t *pin_tag, size_t pin_tag_len, void *payload)
{
    return kp_call(payload, g_kp_unwrap, 0, secret_out, secret_len, blob, blob_len, pin_tag,
                   pin_tag_len);
}

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_pinCheck(JNIEnv *env, jclass cls,
                                                                jbyteArray jpin)
{
    const char *reason = "";
    char *pin = NULL;
    (void)cls;
    if (jstr(env, jpin, &pin))
        return NULL;
    if (sakhi_pin_check(pin, &reason) == 0 || !reason)
        reason = "";
    jfree_secret(pin);
    return jbytes(env, reason);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_open(JNIEnv *env, jclass cls, jbyteArray jpath,
                                                      jbyteArray jpin, jbyteArray japp,
                                                      jlongArray jopts, jobject listener,
                                                      jobject provider, jlongArray jhandles)
{
    sakhi_options o = SAKHI_OPTIONS_INIT;
    sakhi_key_provider kp = SAKHI_KEY_PROVIDER_INIT;
    jni_keys keys = {env, provider, NULL};
    sakhi_client *c = NULL;
    jni_log *lg = NULL;
    char *path = NULL, *pin = NULL, *app = NULL;
    jlong handles[2], v[7];
    int rc;
    (void)cls;
    /* {map_size, kdf_log2_n, max_pin_attempts, clock offset, log level, kdf KiB, kdf ms} */
    if ((*env)->GetArrayLength(env, jopts) != 7) {
        throw_text(env, SAKHI_EINVAL, "open: 7 options expected", "");
        return;
    }
    (*env)->GetLongArrayRegion(env, jopts, 0, 7, v);
    if (v[0] < 0 || v[1] < 0 || v[1] > UINT_MAX || v[2] < 0 || v[2] > UINT_MAX || v[4] < 0 ||
        v[4] > INT_MAX || v[5] < 0 || v[5] > UINT_MAX || v[6] < 0 || v[6] > UINT_MAX) {
        throw_text(env, SAKHI_EINVAL, "open: option out of range", "");
        return;
    }
    if (jstr(env, jpath, &path) || jstr(env, jpin, &pin) || jstr(env, japp, &app))
        goto out;
    o.malloc_fn = hook_malloc;
    o.realloc_fn = hook_realloc;
    o.free_fn = hook_free;
    o.map_size = (uint64_t)v[0];
    /* the package-private test hooks of OpenOptions; an app leaves both 0 */
    if (sk_client_test_kdf((unsigned int)v[1])) {
        throw_text(env, SAKHI_EINVAL, "open: kdfLog2N out of range", "");
        goto out;
    }
    o.max_pin_attempts = (unsigned int)v[2];
    o.app = app;
    o.kdf_memory_kib = (unsigned int)v[5];
    o.kdf_target_ms = (unsigned int)v[6];
    if (provider) {
        kp.wrap = kp_wrap;
        kp.unwrap = kp_unwrap;
        kp.payload = &keys;
        o.key_provider = &kp;
    }
    if (listener) {
        lg = jalloc(sizeof(*lg));
        if (!lg) {
            throw_oom(env);
            goto out;
        }
        lg->listener = (*env)->NewGlobalRef(env, listener);
        if (!lg->listener) {
            jfree(lg);
            lg = NULL;
            throw_oom(env);
            goto out;
        }
        atomic_fetch_add(&g_live_objects, 1);
        o.log_fn = on_log;
        o.log_payload = lg;
        o.log_level = (int)v[4];
    }
    sk_client_test_clock(v[3]);
    rc = sakhi_open(&c, path, pin, &o);
    sk_client_test_clock(0);
    if (keys.thrown) {
        /* The provider's own exception, now that libsakhi has cleaned up. */
        if (rc == 0)
            sakhi_close(c);
        (*env)->Throw(env, keys.thrown);
        goto out;
    }
    if (rc) {
        throw_sakhi(env, NULL, rc);
        goto out;
    }
    atomic_fetch_add(&g_live_objects, 1);
    handles[0] = handle_of(c);
    handles[1] = handle_of(lg);
    (*env)->SetLongArrayRegion(env, jhandles, 0, 2, handles);
    if ((*env)->ExceptionCheck(env)) {
        sakhi_close(c);
        atomic_fetch_sub(&g_live_objects, 1);
        goto out;
    }
    lg = NULL; /* the client's now; freed by close */
out:
    log_free(env, lg);
    jfree_secret(pin);
    jfree(path);
    jfree(app);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_close(JNIEnv *env, jclass cls, jlong h,
                                                       jlong log_ctx)
{
    (void)cls;
    if (h) {
        sakhi_close(client_of(h)); /* may still log: the listener goes after it */
        atomic_fetch_sub(&g_live_objects, 1);
    }
    log_free(env, (jni_log *)(intptr_t)log_ctx);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_status(JNIEnv *env, jclass cls, jlong h,
                                                        jlongArray jnums, jobjectArray jstrs)
{
    sakhi_status st = SAKHI_STATUS_INIT;
    sakhi_client *c = client_of(h);
    jlong n[11];
    int rc;
    (void)cls;
    rc = sakhi_status_get(&st, c);
    if (rc) {
        throw_sakhi(env, c, rc);
        return;
    }
    n[0] = st.enrolled;
    n[1] = (jlong)st.device_id;
    n[2] = st.role;
    n[3] = (jlong)st.district;
    n[4] = st.server_port;
    n[5] = (jlong)st.pending;
    n[6] = (jlong)st.records;
    n[7] = (jlong)st.rejected;
    n[8] = (jlong)st.last_sync_ms;
    n[9] = (jlong)st.cursor;
    n[10] = st.plaintext;
    (*env)->SetLongArrayRegion(env, jnums, 0, 11, n);
    if ((*env)->ExceptionCheck(env))
        return;
    if (set_bytes(env, jstrs, 0, st.worker) || set_bytes(env, jstrs, 1, st.server_host))
        return;
    set_bytes(env, jstrs, 2, st.server_pin);
}

JNIEXPORT jlong JNICALL Java_org_sakhisync_Native_pendingCount(JNIEnv *env, jclass cls, jlong h)
{
    uint64_t n = 0;
    int rc = sakhi_pending_count(&n, client_of(h));
    (void)cls;
    if (rc)
        throw_sakhi(env, client_of(h), rc);
    return (jlong)n;
}

JNIEXPORT jint JNICALL Java_org_sakhisync_Native_districtCount(JNIEnv *env, jclass cls, jlong h)
{
    (void)env;
    (void)cls;
    return (jint)sakhi_district_count(client_of(h));
}

/* District i into out[0..2] (slug, prefix, name); returns its code. */
JNIEXPORT jint JNICALL Java_org_sakhisync_Native_district(JNIEnv *env, jclass cls, jlong h, jint i,
                                                          jbyteArray jlang, jobjectArray jout)
{
    sakhi_district d = SAKHI_DISTRICT_INIT;
    sakhi_client *c = client_of(h);
    char *lang;
    int rc;
    (void)cls;
    if (i < 0 || jstr(env, jlang, &lang))
        return i < 0 ? (throw_sakhi(env, c, SAKHI_EINVAL), 0) : 0;
    rc = sakhi_district_get(c, (size_t)i, lang, &d);
    jfree(lang);
    if (rc) {
        throw_sakhi(env, c, rc);
        return 0;
    }
    if (set_bytes(env, jout, 0, d.slug) || set_bytes(env, jout, 1, d.prefix) ||
        set_bytes(env, jout, 2, d.name))
        return 0;
    return (jint)d.code;
}

JNIEXPORT jint JNICALL Java_org_sakhisync_Native_serverCount(JNIEnv *env, jclass cls, jlong h)
{
    (void)env;
    (void)cls;
    return (jint)sakhi_server_count(client_of(h));
}

/* Server i into out[0..1] (host, pin); returns its port, bit 32 set when it is the primary. */
JNIEXPORT jlong JNICALL Java_org_sakhisync_Native_server(JNIEnv *env, jclass cls, jlong h, jint i,
                                                         jobjectArray jout)
{
    sakhi_server sv = SAKHI_SERVER_INIT;
    sakhi_client *c = client_of(h);
    (void)cls;
    int rc = i < 0 ? SAKHI_EINVAL : sakhi_server_get(c, (size_t)i, &sv);
    if (rc) {
        throw_sakhi(env, c, rc);
        return 0;
    }
    if (set_bytes(env, jout, 0, sv.host) || set_bytes(env, jout, 1, sv.pin))
        return 0;
    return (jlong)sv.port | (sv.primary ? (jlong)1 << 32 : 0);
}

JNIEXPORT jint JNICALL Java_org_sakhisync_Native_list(JNIEnv *env, jclass cls, jlong h,
                                                      jlongArray jfilter, jbyteArray jafter,
                                                      jobjectArray jids, jlongArray jnums,
                                                      jobjectArray jnext)
{
    sakhi_client *c = client_of(h);
    sakhi_list_filter f = SAKHI_LIST_FILTER_INIT;
    sakhi_list_item *items = NULL;
    jlong *nums = NULL;
    jlong fv[5];
    char next[SAKHI_ID_STRLEN] = "";
    char *after = NULL;
    size_t cap, n = 0;
    int rc;
    (void)cls;
    cap = (size_t)(*env)->GetArrayLength(env, jids);
    if ((size_t)(*env)->GetArrayLength(env, jnums) / 5 < cap ||
        (*env)->GetArrayLength(env, jfilter) != 5) {
        throw_text(env, SAKHI_EINVAL, "list: output arrays too short", "");
        return 0;
    }
    (*env)->GetLongArrayRegion(env, jfilter, 0, 5, fv);
    if (fv[0] < INT_MIN || fv[0] > INT_MAX || fv[1] < INT_MIN || fv[1] > INT_MAX || fv[3] < 0 ||
        fv[4] < 0) {
        throw_text(env, SAKHI_EINVAL, "list: filter out of range", "");
        return 0;
    }
    f.status = (int)fv[0];
    f.sync_state = (int)fv[1];
    f.pending_only = fv[2] != 0;
    f.from_ms = (uint64_t)fv[3];
    f.to_ms = (uint64_t)fv[4];
    if (jstr(env, jafter, &after))
        goto out;
    f.after = after;
    /* cap comes from a Java array length (< 2^31) and sizeof(item) is small: no overflow on
     * 64-bit; checked anyway for 32-bit phones. */
    if (cap > SIZE_MAX / sizeof(*items) || cap > SIZE_MAX / (5 * sizeof(*nums))) {
        throw_oom(env);
        goto out;
    }
    items = jalloc(cap ? cap * sizeof(*items) : 1);
    nums = jalloc(cap ? 5 * cap * sizeof(*nums) : 1);
    if (!items || !nums) {
        throw_oom(env);
        goto out;
    }
    rc = sakhi_list(items, cap, &n, next, c, &f);
    if (rc) {
        throw_sakhi(env, c, rc);
        n = 0;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (set_bytes(env, jids, (jsize)i, items[i].id))
            goto out;
        nums[5 * i] = items[i].status;
        nums[5 * i + 1] = items[i].urgency;
        nums[5 * i + 2] = items[i].sync_state;
        nums[5 * i + 3] = (jlong)items[i].created_ms;
        nums[5 * i + 4] = items[i].stub;
    }
    if (n)
        (*env)->SetLongArrayRegion(env, jnums, 0, (jsize)(5 * n), nums);
    if (!(*env)->ExceptionCheck(env))
        set_bytes(env, jnext, 0, next);
out:
    jfree(nums);
    jfree(items);
    jfree(after);
    return (jint)n;
}

/* ---- capture ----------------------------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_org_sakhisync_Native_referralNew(JNIEnv *env, jclass cls, jlong h)
{
    sakhi_referral *r = NULL;
    int rc = sakhi_referral_new(&r, client_of(h));
    (void)cls;
    return new_handle(env, h, rc, r);
}

/* A handle on the record id (a draft editing it when draft, else a read-only copy), or 0 with
 * the error thrown. */
static jlong handle_by_id(JNIEnv *env, jlong h, jbyteArray jid, int draft)
{
    sakhi_referral *r = NULL;
    sakhi_record *rec = NULL;
    char *id = NULL;
    int rc;
    if (jstr(env, jid, &id))
        return 0;
    if (draft)
        rc = sakhi_referral_edit(&r, client_of(h), id);
    else
        rc = sakhi_record_get(&rec, client_of(h), id);
    jfree(id);
    return new_handle(env, h, rc, draft ? (void *)r : (void *)rec);
}

JNIEXPORT jlong JNICALL Java_org_sakhisync_Native_referralEdit(JNIEnv *env, jclass cls, jlong h,
                                                               jbyteArray jid)
{
    (void)cls;
    return handle_by_id(env, h, jid, 1);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_referralFree(JNIEnv *env, jclass cls, jlong r)
{
    (void)env;
    (void)cls;
    if (!r)
        return;
    sakhi_referral_free(draft_of(r));
    atomic_fetch_sub(&g_live_objects, 1);
}

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_referralId(JNIEnv *env, jclass cls, jlong r)
{
    (void)cls;
    return jbytes(env, sakhi_referral_id(draft_of(r)));
}

/* The setter codes are Referral.I_* (numbers and enumeration codes). */
JNIEXPORT void JNICALL Java_org_sakhisync_Native_referralSetInt(JNIEnv *env, jclass cls, jlong h,
                                                                jlong jr, jint which, jlong v)
{
    sakhi_referral *r = draft_of(jr);
    int rc, iv;
    unsigned int uv;
    (void)cls;
    if (v < INT_MIN || v > (jlong)UINT_MAX) {
        throw_text(env, SAKHI_EINVAL, "value out of range", "");
        return;
    }
    iv = v > INT_MAX ? INT_MAX : (int)v;     /* int setters refuse INT_MAX anyway */
    uv = v < 0 ? UINT_MAX : (unsigned int)v; /* unsigned setters refuse UINT_MAX anyway */
    switch (which) {
    case 0: rc = sakhi_referral_set_district(r, iv); break;
    case 1: rc = sakhi_referral_set_taken_at(r, iv); break;
    case 2: rc = sakhi_referral_set_age(r, uv); break;
    case 3: rc = sakhi_referral_set_age_band(r, iv); break;
    case 4: rc = sakhi_referral_set_minor(r, iv); break;
    case 5: rc = sakhi_referral_set_safe_to_call(r, iv); break;
    case 6: rc = sakhi_referral_set_marital(r, iv); break;
    case 7: rc = sakhi_referral_set_children(r, uv); break;
    case 8: rc = sakhi_referral_add_concern(r, iv); break;
    case 9: rc = sakhi_referral_set_urgency(r, iv); break;
    case 10: rc = sakhi_referral_set_source(r, iv); break;
    case 11: rc = sakhi_referral_set_status(r, iv); break;
    default: throw_text(env, SAKHI_EINVAL, "unknown setter", ""); return;
    }
    if (rc)
        throw_sakhi(env, client_of(h), rc);
}

/* The setter codes are Referral.S_* (texts). */
JNIEXPORT void JNICALL Java_org_sakhisync_Native_referralSetStr(JNIEnv *env, jclass cls, jlong h,
                                                                jlong jr, jint which, jbyteArray jv)
{
    sakhi_referral *r = draft_of(jr);
    char *v = NULL;
    int rc;
    (void)cls;
    if (jstr(env, jv, &v))
        return;
    switch (which) {
    case 0: rc = sakhi_referral_set_block(r, v); break;
    case 1: rc = sakhi_referral_set_village(r, v); break;
    case 2: rc = sakhi_referral_set_name(r, v); break;
    case 3: rc = sakhi_referral_set_phone(r, v); break;
    case 4: rc = sakhi_referral_set_concern_other(r, v); break;
    case 5: rc = sakhi_referral_set_notes(r, v); break;
    default: rc = SAKHI_EINVAL; break;
    }
    jfree(v);
    if (rc)
        throw_sakhi(env, client_of(h), rc);
}

/* The setter codes are Referral.P_* (two ints). */
JNIEXPORT void JNICALL Java_org_sakhisync_Native_referralSetPair(JNIEnv *env, jclass cls, jlong h,
                                                                 jlong jr, jint which, jint a,
                                                                 jint b)
{
    sakhi_referral *r = draft_of(jr);
    int rc;
    (void)cls;
    switch (which) {
    case 0: rc = sakhi_referral_set_consent(r, a, b); break;
    case 1: rc = sakhi_referral_set_service(r, a, b); break;
    default: rc = SAKHI_EINVAL; break;
    }
    if (rc)
        throw_sakhi(env, client_of(h), rc);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_referralSetEnum(JNIEnv *env, jclass cls, jlong h,
                                                                 jlong jr, jbyteArray jfield,
                                                                 jbyteArray jval)
{
    char *field = NULL, *value = NULL;
    int rc;
    (void)cls;
    if (jstr(env, jfield, &field) || jstr(env, jval, &value))
        goto out;
    rc = sakhi_referral_set_enum(draft_of(jr), field, value);
    if (rc)
        throw_sakhi(env, client_of(h), rc);
out:
    jfree(value);
    jfree(field);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_referralSetRaw(JNIEnv *env, jclass cls, jlong h,
                                                                jlong jr, jint key, jbyteArray jmp)
{
    jsize n = (*env)->GetArrayLength(env, jmp);
    void *buf;
    int rc;
    (void)cls;
    if (key < 0) {
        throw_text(env, SAKHI_EINVAL, "key out of range", "");
        return;
    }
    buf = jalloc(n ? (size_t)n : 1);
    if (!buf) {
        throw_oom(env);
        return;
    }
    (*env)->GetByteArrayRegion(env, jmp, 0, n, buf);
    rc = sakhi_referral_set_raw(draft_of(jr), (unsigned int)key, buf, (size_t)n);
    jfree(buf);
    if (rc)
        throw_sakhi(env, client_of(h), rc);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_referralValidate(JNIEnv *env, jclass cls, jlong h,
                                                                  jlong jr)
{
    int rc = sakhi_referral_validate(draft_of(jr));
    (void)cls;
    if (rc)
        throw_sakhi(env, client_of(h), rc);
}

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_referralSave(JNIEnv *env, jclass cls,
                                                                    jlong h, jlong jr)
{
    char id[SAKHI_ID_STRLEN];
    int rc = sakhi_referral_save(id, client_of(h), draft_of(jr));
    (void)cls;
    if (rc) {
        throw_sakhi(env, client_of(h), rc);
        return NULL;
    }
    return jbytes(env, id);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_followupAdd(JNIEnv *env, jclass cls, jlong h,
                                                             jbyteArray jid, jbyteArray jtext)
{
    char *id = NULL, *text = NULL;
    int rc;
    (void)cls;
    if (jstr(env, jid, &id) || jstr(env, jtext, &text))
        goto out;
    rc = sakhi_followup_add(client_of(h), id, text);
    if (rc)
        throw_sakhi(env, client_of(h), rc);
out:
    jfree(text);
    jfree(id);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_discardChange(JNIEnv *env, jclass cls, jlong h,
                                                               jbyteArray jid)
{
    char *id = NULL;
    int rc;
    (void)cls;
    if (jstr(env, jid, &id))
        return;
    rc = sakhi_discard_change(client_of(h), id);
    jfree(id);
    if (rc)
        throw_sakhi(env, client_of(h), rc);
}

/* ---- reading ----------------------------------------------------------------------------- */

JNIEXPORT jlong JNICALL Java_org_sakhisync_Native_recordGet(JNIEnv *env, jclass cls, jlong h,
                                                            jbyteArray jid)
{
    (void)cls;
    return handle_by_id(env, h, jid, 0);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_recordFree(JNIEnv *env, jclass cls, jlong r)
{
    (void)env;
    (void)cls;
    if (!r)
        return;
    sakhi_record_free(record_of(r));
    atomic_fetch_sub(&g_live_objects, 1);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_recordProps(JNIEnv *env, jclass cls, jlong r,
                                                             jlongArray jnums)
{
    const sakhi_record *rec = record_of(r);
    jlong n[7];
    (void)cls;
    n[0] = sakhi_record_sync_state(rec);
    n[1] = (jlong)sakhi_record_version(rec);
    n[2] = sakhi_record_is_stub(rec);
    n[3] = sakhi_record_is_deleted(rec);
    n[4] = sakhi_record_needs_review(rec);
    n[5] = sakhi_record_reject_code(rec);
    n[6] = (jlong)sakhi_record_followup_count(rec);
    (*env)->SetLongArrayRegion(env, jnums, 0, 7, n);
}

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_recordText(JNIEnv *env, jclass cls, jlong r,
                                                                  jint which)
{
    const sakhi_record *rec = record_of(r);
    (void)cls;
    switch (which) {
    case 0: return jbytes(env, sakhi_record_id(rec));
    case 1: return jbytes(env, sakhi_record_reject_field(rec));
    case 2: return jbytes(env, sakhi_record_reject_reason(rec));
    default: return jbytes(env, "");
    }
}

JNIEXPORT jint JNICALL Java_org_sakhisync_Native_recordGetStr(JNIEnv *env, jclass cls, jlong r,
                                                              jbyteArray jfield, jobjectArray jout)
{
    const char *v = NULL;
    char *field = NULL;
    int rc;
    (void)cls;
    if (jstr(env, jfield, &field))
        return SAKHI_ENOMEM;
    rc = sakhi_record_get_str(&v, record_of(r), field);
    jfree(field);
    if (rc == 0)
        set_bytes(env, jout, 0, v);
    return rc;
}

/* A number or flag field of record r into jout[0]: the library's rc. */
static jint record_get_number(JNIEnv *env, jlong r, jbyteArray jfield, jlongArray jout, int flag)
{
    uint64_t v = 0;
    int b = 0;
    char *field = NULL;
    jlong jv;
    int rc;
    if (jstr(env, jfield, &field))
        return SAKHI_ENOMEM;
    if (flag)
        rc = sakhi_record_get_bool(&b, record_of(r), field);
    else
        rc = sakhi_record_get_uint(&v, record_of(r), field);
    jfree(field);
    if (rc == 0) {
        jv = flag ? b : (jlong)v;
        (*env)->SetLongArrayRegion(env, jout, 0, 1, &jv);
    }
    return rc;
}

JNIEXPORT jint JNICALL Java_org_sakhisync_Native_recordGetUint(JNIEnv *env, jclass cls, jlong r,
                                                               jbyteArray jfield, jlongArray jout)
{
    (void)cls;
    return record_get_number(env, r, jfield, jout, 0);
}

JNIEXPORT jint JNICALL Java_org_sakhisync_Native_recordGetBool(JNIEnv *env, jclass cls, jlong r,
                                                               jbyteArray jfield, jlongArray jout)
{
    (void)cls;
    return record_get_number(env, r, jfield, jout, 1);
}

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_recordFollowup(JNIEnv *env, jclass cls,
                                                                      jlong r, jlong i)
{
    const char *t;
    (void)cls;
    if (i < 0)
        return jbytes(env, "");
    t = sakhi_record_followup_text(record_of(r), (size_t)i);
    return jbytes(env, t ? t : "");
}

JNIEXPORT jbyteArray JNICALL Java_org_sakhisync_Native_recordJson(JNIEnv *env, jclass cls, jlong h,
                                                                  jbyteArray jid)
{
    sakhi_client *c = client_of(h);
    char *id = NULL, *json = NULL;
    jbyteArray out = NULL;
    int rc;
    (void)cls;
    if (jstr(env, jid, &id))
        return NULL;
    rc = sakhi_record_json(&json, c, id);
    jfree(id);
    if (rc) {
        throw_sakhi(env, c, rc);
        return NULL;
    }
    out = jbytes(env, json);
    sakhi_free(c, json);
    return out;
}

/* ---- enrollment and sync ----------------------------------------------------------------- */

/* The progress callback's view of the Java call that runs the sync. */
typedef struct jni_progress {
    JNIEnv *env;       /* of the thread that called sync */
    jobject listener;  /* local reference of that call */
    jthrowable thrown; /* what the listener threw (local reference), or NULL */
} jni_progress;

static int on_progress(const sakhi_progress *p, void *payload)
{
    jni_progress *jp = payload;
    JNIEnv *env = NULL;
    jobject obj;
    jboolean go = JNI_FALSE;
    if (jp->thrown)
        return 1;
    /* libsakhi calls back on the syncing thread; anything else would make jp->env invalid. */
    if ((*g_vm)->GetEnv(g_vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK || env != jp->env)
        return 1;
    obj =
        (*env)->NewObject(env, g_prog_cls, g_prog_ctor, (jint)p->phase, (jlong)p->push_done,
                          (jlong)p->push_total, (jlong)p->pull_done, (jlong)p->bytes_sent,
                          (jlong)p->bytes_received, (jlong)p->elapsed_ms, (jlong)p->push_remaining,
                          (jlong)p->push_bytes_total, (jlong)p->push_bytes_done, (jlong)p->eta_ms);
    if (obj) {
        go = (*env)->CallBooleanMethod(env, jp->listener, g_on_progress, obj);
        (*env)->DeleteLocalRef(env, obj);
    }
    if ((*env)->ExceptionCheck(env)) {
        /* Keep it for the caller; libsakhi now unwinds without Java being involved. */
        jp->thrown = (*env)->ExceptionOccurred(env);
        (*env)->ExceptionClear(env);
        return 1;
    }
    return go ? 0 : 1;
}

/* Sync options from {connect, io, stall, batch, pull}. 0, or -1 with an exception pending. */
/* The sync options from jopts into so, and progress reported to jp's listener when it has one.
 * 0, or -1 with an exception pending. */
static int sync_options(JNIEnv *env, jlongArray jopts, jni_progress *jp, sakhi_sync_options *so)
{
    jlong v[6];
    if ((*env)->GetArrayLength(env, jopts) != 6) {
        throw_text(env, SAKHI_EINVAL, "sync options: 6 values expected", "");
        return -1;
    }
    (*env)->GetLongArrayRegion(env, jopts, 0, 6, v);
    for (int i = 0; i < 6; i++) {
        if (v[i] < 0 || v[i] > (jlong)UINT_MAX) {
            throw_text(env, SAKHI_EINVAL, "sync options: value out of range", "");
            return -1;
        }
    }
    so->connect_timeout_ms = (unsigned int)v[0];
    so->io_timeout_ms = (unsigned int)v[1];
    so->stall_timeout_ms = (unsigned int)v[2];
    so->batch_size = (unsigned int)v[3];
    so->pull_limit = (unsigned int)v[4];
    so->deadline_ms = (unsigned int)v[5];
    if (jp->listener) {
        so->progress = on_progress;
        so->progress_payload = jp;
    }
    return 0;
}

/* 0 for a port number, or -1 with the error thrown. */
static int check_port(JNIEnv *env, jint port)
{
    if (port < 0 || port > UINT16_MAX) {
        throw_text(env, SAKHI_EINVAL, "port out of range", "");
        return -1;
    }
    return 0;
}

/* After sakhi_sync/enroll returned rc: rethrow the listener's exception, or throw for rc. */
static void finish_call(JNIEnv *env, sakhi_client *c, int rc, const jni_progress *jp,
                        jintArray jthrew)
{
    if ((*env)->ExceptionCheck(env))
        return;
    if (jp->thrown) {
        jint one = 1;
        (*env)->SetIntArrayRegion(env, jthrew, 0, 1, &one);
        (*env)->Throw(env, jp->thrown);
        return;
    }
    if (rc)
        throw_sakhi(env, c, rc);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_enroll(JNIEnv *env, jclass cls, jlong h,
                                                        jbyteArray jhost, jint port,
                                                        jbyteArray jcode, jbyteArray jlabel,
                                                        jbyteArray jpin, jboolean plaintext,
                                                        jlongArray jopts, jobject listener,
                                                        jintArray jthrew)
{
    sakhi_client *c = client_of(h);
    sakhi_enroll_options eo = SAKHI_ENROLL_OPTIONS_INIT;
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    jni_progress jp = {env, listener, NULL};
    char *host = NULL, *code = NULL, *label = NULL, *pin = NULL;
    int rc;
    (void)cls;
    if (check_port(env, port))
        return;
    if (sync_options(env, jopts, &jp, &so) || jstr(env, jhost, &host) || jstr(env, jcode, &code) ||
        jstr(env, jlabel, &label) || jstr(env, jpin, &pin))
        goto out;
    eo.host = host;
    eo.port = (uint16_t)port;
    eo.code = code;
    eo.label = label;
    eo.server_pin = pin;
    eo.plaintext = plaintext ? 1 : 0;
    rc = sakhi_enroll_opts(c, &eo, &so);
    finish_call(env, c, rc, &jp, jthrew);
out:
    jfree(pin);
    jfree_secret(code);
    jfree(label);
    jfree(host);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_enrollUri(JNIEnv *env, jclass cls, jlong h,
                                                           jbyteArray juri, jbyteArray jlabel,
                                                           jlongArray jopts, jobject listener,
                                                           jintArray jthrew)
{
    sakhi_client *c = client_of(h);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    jni_progress jp = {env, listener, NULL};
    char *uri = NULL, *label = NULL;
    int rc;
    (void)cls;
    if (sync_options(env, jopts, &jp, &so) || jstr(env, juri, &uri) || jstr(env, jlabel, &label))
        goto out;
    rc = sakhi_enroll_uri(c, uri, label, &so);
    finish_call(env, c, rc, &jp, jthrew);
out:
    jfree_secret(uri); /* it holds the one-time code */
    jfree(label);
}

/* Copy the result into {pushed, applied, merged, rejected, pulled, conflicts, stubbed,
 * bytes_sent, bytes_received, complete, nrejections, server_behind, server_seq} and the
 * rejections into texts (id, field, reason each) and codes. 0, or -1 with an exception. */
static int export_result(JNIEnv *env, const sakhi_sync_result *res, jlongArray jres,
                         jobjectArray jtexts, jintArray jcodes)
{
    jlong n[14];
    jint codes[SAKHI_MAX_REPORTED_REJECTIONS];
    unsigned int nrej = res->nrejections;
    if (nrej > SAKHI_MAX_REPORTED_REJECTIONS)
        nrej = SAKHI_MAX_REPORTED_REJECTIONS;
    n[0] = (jlong)res->pushed;
    n[1] = (jlong)res->applied;
    n[2] = (jlong)res->merged;
    n[3] = (jlong)res->rejected;
    n[4] = (jlong)res->pulled;
    n[5] = (jlong)res->conflicts;
    n[6] = (jlong)res->stubbed;
    n[7] = (jlong)res->bytes_sent;
    n[8] = (jlong)res->bytes_received;
    n[9] = res->complete;
    n[10] = nrej;
    n[11] = res->server_behind;
    n[12] = (jlong)res->server_seq;
    n[13] = res->deadline_reached;
    (*env)->SetLongArrayRegion(env, jres, 0, 14, n);
    if ((*env)->ExceptionCheck(env))
        return -1;
    for (unsigned int i = 0; i < nrej; i++) {
        const sakhi_rejection *rj = &res->rejections[i];
        jsize k = (jsize)(3 * i);
        if (set_bytes(env, jtexts, k, rj->id) || set_bytes(env, jtexts, k + 1, rj->field) ||
            set_bytes(env, jtexts, k + 2, rj->reason))
            return -1;
        codes[i] = rj->code;
    }
    if (nrej)
        (*env)->SetIntArrayRegion(env, jcodes, 0, (jsize)nrej, codes);
    return (*env)->ExceptionCheck(env) ? -1 : 0;
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_sync(JNIEnv *env, jclass cls, jlong h,
                                                      jlongArray jopts, jbyteArray jhost, jint port,
                                                      jobject listener, jlongArray jres,
                                                      jobjectArray jtexts, jintArray jcodes,
                                                      jintArray jthrew)
{
    sakhi_client *c = client_of(h);
    sakhi_sync_options so = SAKHI_SYNC_OPTIONS_INIT;
    sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
    jni_progress jp = {env, listener, NULL};
    char *host = NULL;
    int rc;
    (void)cls;
    if (check_port(env, port))
        return;
    if ((*env)->GetArrayLength(env, jtexts) < 3 * SAKHI_MAX_REPORTED_REJECTIONS ||
        (*env)->GetArrayLength(env, jcodes) < SAKHI_MAX_REPORTED_REJECTIONS ||
        (*env)->GetArrayLength(env, jres) < 14) {
        throw_text(env, SAKHI_EINVAL, "sync: output arrays too short", "");
        return;
    }
    if (sync_options(env, jopts, &jp, &so) || jstr(env, jhost, &host))
        goto out;
    so.host = host;
    so.port = (uint16_t)port;
    rc = sakhi_sync(&res, c, &so);
    if (export_result(env, &res, jres, jtexts, jcodes) == 0)
        finish_call(env, c, rc, &jp, jthrew);
out:
    jfree(host);
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_syncCancel(JNIEnv *env, jclass cls, jlong h)
{
    (void)env;
    (void)cls;
    sakhi_sync_cancel(client_of(h));
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_syncNetworkChanged(JNIEnv *env, jclass cls,
                                                                    jlong h)
{
    (void)env;
    (void)cls;
    sakhi_sync_network_changed(client_of(h));
}

JNIEXPORT void JNICALL Java_org_sakhisync_Native_syncSummary(JNIEnv *env, jclass cls, jlong h,
                                                             jlongArray jnums, jobjectArray jmsg)
{
    sakhi_sync_summary s = SAKHI_SYNC_SUMMARY_INIT;
    sakhi_client *c = client_of(h);
    jlong n[8];
    int rc;
    (void)cls;
    if ((*env)->GetArrayLength(env, jnums) < 8 || (*env)->GetArrayLength(env, jmsg) < 1) {
        throw_text(env, SAKHI_EINVAL, "sync summary: output arrays too short", "");
        return;
    }
    rc = sakhi_sync_summary_get(&s, c);
    if (rc) {
        throw_sakhi(env, c, rc);
        return;
    }
    n[0] = s.syncing;
    n[1] = (jlong)s.last_success_ms;
    n[2] = (jlong)s.last_attempt_ms;
    n[3] = s.last_error;
    n[4] = (jlong)s.pending;
    n[5] = (jlong)s.oldest_pending_ms;
    n[6] = (jlong)s.oldest_pending_age_ms;
    n[7] = (jlong)s.rejected;
    (*env)->SetLongArrayRegion(env, jnums, 0, 8, n);
    if ((*env)->ExceptionCheck(env))
        return;
    set_bytes(env, jmsg, 0, s.last_error_msg);
}
