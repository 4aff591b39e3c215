/*
 * test_store_pin.c - a copied phone store against an offline PIN search (docs/SECURITY.md,
 * "PINs and the key provider"): which PINs a new store takes, the Argon2id cost measured and
 * recorded at creation, the attack itself run from a copy of the files with and without a key
 * provider, the provider's wrong-PIN limit surviving a restored copy, and a store written by
 * the previous library (scrypt, a committed fixture) rewrapped in place.
 *
 * The attacker here is the test reading the copied LMDB file directly (salt, cost, wrapped data
 * key) and trying PINs with the library's own Argon2id and AES-GCM, as an offline cracker would.
 * The key provider is a software stand-in for Android Keystore: its key and counter live in this
 * process's memory, never in the store directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <dirent.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sk_client_test.h"
#include "sk_auth.h"
#include "sk_client.h"
#include "sk_proc.h"

#ifndef SAKHI_TEST_DATA
#error "SAKHI_TEST_DATA must name tests/data"
#endif

#define GOOD_PIN "583920"
#define CANARY_NAME "Canary-Pin-Name-X4"
#define FIXTURE_CANARY "Fixture-Canary-Q7"

static sk_tmpdir_fx g_tmp = {"sakhi-pin", ""}; /* each test's temp dir */
#define TMP_TEST(t) SK_TMPDIR_TEST(t, &g_tmp)

static const char *sub(const char *name)
{
    static char p[4][400];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s", g_tmp.path, name);
    return p[i];
}

/* Copy a store directory's files (what a thief images off the phone). */
static void copy_store(const char *from, const char *to)
{
    static const char *const files[] = {"data.mdb", "keys.db"};
    char a[600], b[600];
    mkdir(to, 0700);
    for (size_t i = 0; i < 2; i++) {
        snprintf(a, sizeof(a), "%s/%s", from, files[i]);
        snprintf(b, sizeof(b), "%s/%s", to, files[i]);
        assert_int_equal(sk_copy_file(a, b), 0);
    }
    snprintf(b, sizeof(b), "%s/lock.mdb", to);
    unlink(b);
}

static int file_exists(const char *dir, const char *name)
{
    char p[600];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* ---- the software key provider ------------------------------------------------------------- */

typedef struct soft_kp {
    uint8_t hw[32]; /* "never leaves the hardware": only this struct holds it */
    unsigned fails, max;
    int destroyed;
    unsigned wraps, unwraps;
} soft_kp;

static int soft_wrap(uint8_t *blob, size_t *bloblen, const uint8_t *secret, size_t n,
                     const uint8_t *tag, size_t taglen, void *payload)
{
    soft_kp *kp = payload;
    uint8_t pt[64 + SAKHI_PIN_TAG_LEN];
    sk_buf out = SK_BUF_INIT;
    kp->wraps++;
    if (kp->destroyed || taglen != SAKHI_PIN_TAG_LEN || n > 64)
        return SAKHI_EKEYPROVIDER;
    memcpy(pt, tag, taglen);
    memcpy(pt + taglen, secret, n);
    int rc = sk_vault_seal(&out, kp->hw, "soft-kp", 7, pt, taglen + n);
    OPENSSL_cleanse(pt, sizeof(pt));
    if (!rc && out.len <= *bloblen) {
        memcpy(blob, out.data, out.len);
        *bloblen = out.len;
        kp->fails = 0;
    } else if (!rc) {
        rc = SAKHI_EKEYPROVIDER;
    }
    sk_buf_free(&out);
    return rc;
}

static int soft_unwrap(uint8_t *secret, size_t *n, const uint8_t *blob, size_t bloblen,
                       const uint8_t *tag, size_t taglen, void *payload)
{
    soft_kp *kp = payload;
    sk_buf pt = SK_BUF_INIT;
    int rc;
    kp->unwraps++;
    if (kp->destroyed)
        return SAKHI_ELOCKED;
    if (taglen != SAKHI_PIN_TAG_LEN || sk_vault_open(&pt, kp->hw, "soft-kp", 7, blob, bloblen) ||
        pt.len < taglen || pt.len - taglen > *n) {
        rc = SAKHI_EKEYPROVIDER; /* not a blob of this hardware */
    } else if (CRYPTO_memcmp(pt.data, tag, taglen) != 0) {
        if (++kp->fails >= kp->max) {
            kp->destroyed = 1;
            OPENSSL_cleanse(kp->hw, sizeof(kp->hw));
            rc = SAKHI_ELOCKED;
        } else {
            rc = SAKHI_EPIN;
        }
    } else {
        kp->fails = 0;
        memcpy(secret, pt.data + taglen, pt.len - taglen);
        *n = pt.len - taglen;
        rc = 0;
    }
    sk_vault_buf_wipe(&pt);
    return rc;
}

static void soft_init(soft_kp *kp, sakhi_key_provider *p)
{
    memset(kp, 0, sizeof(*kp));
    assert_int_equal(sk_random(kp->hw, sizeof(kp->hw)), 0);
    kp->max = SAKHI_PIN_ATTEMPTS_DEFAULT;
    sakhi_key_provider init = SAKHI_KEY_PROVIDER_INIT;
    *p = init;
    p->wrap = soft_wrap;
    p->unwrap = soft_unwrap;
    p->payload = kp;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static sakhi_options fast_opts(const sakhi_key_provider *kp)
{
    sakhi_options o = SAKHI_OPTIONS_INIT;
    assert_int_equal(sk_client_test_kdf(10), 0); /* 1 MiB, one pass */
    o.key_provider = kp;
    return o;
}

static void capture_canary(sakhi_client *c, char id[SAKHI_ID_STRLEN])
{
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_new(&r, c), 0);
    assert_int_equal(sakhi_referral_set_district(r, SK_DISTRICT_LEH), 0);
    assert_int_equal(sakhi_referral_set_block(r, "Nubra"), 0);
    assert_int_equal(sakhi_referral_set_village(r, "Diskit"), 0);
    assert_int_equal(sakhi_referral_set_taken_at(r, SAKHI_TAKEN_HOME_VISIT), 0);
    assert_int_equal(sakhi_referral_set_name(r, CANARY_NAME), 0);
    assert_int_equal(sakhi_referral_set_age(r, 30), 0);
    assert_int_equal(sakhi_referral_add_concern(r, SAKHI_CONCERN_DOMESTIC_VIOLENCE), 0);
    assert_int_equal(sakhi_referral_set_enum(r, "urgency", "urgent"), 0);
    assert_int_equal(sakhi_referral_set_source(r, SAKHI_SOURCE_SELF), 0);
    assert_int_equal(sakhi_referral_set_consent(r, 1, 1), 0);
    assert_int_equal(sakhi_referral_save(id, c, r), 0);
    sakhi_referral_free(r);
}

static void expect_name(sakhi_client *c, const char *id, const char *want)
{
    sakhi_record *rec = NULL;
    const char *name = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_int_equal(sakhi_record_get_str(&name, rec, "name"), 0);
    assert_string_equal(name, want);
    sakhi_record_free(rec);
}

/* The store in dir opens with pin and o, shows want as the name of record id, and is closed. */
static void opens_showing(const char *dir, const char *pin, const sakhi_options *o, const char *id,
                          const char *want)
{
    sakhi_client *c = NULL;
    assert_int_equal(sakhi_open(&c, dir, pin, o), 0);
    expect_name(c, id, want);
    sakhi_close(c);
}

/* What an offline attacker reads from a copied store: the wrapping of the data key. */
typedef struct stolen {
    uint8_t salt[SK_SALT_LEN];
    int has_kdf2, has_kdf;
    sk_kdf_params params;
    uint8_t dek[256];
    size_t dekn;
} stolen;

static MDB_val meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, int *found)
{
    MDB_val k = {strlen(key), (void *)key}, v = {0, NULL};
    *found = mdb_get(txn, dbi, &k, &v) == 0;
    return v;
}

static void steal(const char *dir, stolen *s)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    int found;
    memset(s, 0, sizeof(*s));
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val v = meta_get(txn, dbi, "salt", &found);
    assert_true(found && v.mv_size == SK_SALT_LEN);
    memcpy(s->salt, v.mv_data, SK_SALT_LEN);
    v = meta_get(txn, dbi, "kdf2", &s->has_kdf2);
    if (s->has_kdf2)
        assert_int_equal(sk_vault_params_unpack(&s->params, v.mv_data, v.mv_size), 0);
    (void)meta_get(txn, dbi, "kdf", &s->has_kdf);
    v = meta_get(txn, dbi, "dek", &found);
    assert_true(found && v.mv_size <= sizeof(s->dek));
    memcpy(s->dek, v.mv_data, v.mv_size);
    s->dekn = v.mv_size;
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* Steal dir's wrapping and check that it is Argon2id's alone (kdf2, no older kdf) with m_kib KiB
 * of memory. */
static void steal_argon2(const char *dir, stolen *s, uint32_t m_kib)
{
    steal(dir, s);
    assert_true(s->has_kdf2);
    assert_false(s->has_kdf);
    assert_int_equal(s->params.m_kib, m_kib);
}

/* One offline guess: does pin, through Argon2id alone, open the wrapped data key? */
static int guess(const stolen *s, const char *pin)
{
    uint8_t kek[SK_DEK_LEN], aad[16];
    sk_buf out = SK_BUF_INIT;
    assert_int_equal(sk_vault_argon2id(kek, pin, strlen(pin), s->salt, &s->params), 0);
    size_t an = sk_vault_aad(aad, sizeof(aad), "meta", "dek", 3);
    int ok = sk_vault_open(&out, kek, aad, an, s->dek, s->dekn) == 0 && out.len == SK_DEK_LEN;
    sk_vault_buf_wipe(&out);
    OPENSSL_cleanse(kek, sizeof(kek));
    return ok;
}

/* ---- PIN rules ----------------------------------------------------------------------------- */

static void test_pin_rules(void **state)
{
    (void)state;
    const char *why = NULL;
    static const char *const refused[] = {
        "",        "1",        "2468",     "12345",    "000000", "111111", "123456",
        "654321",  "890123",   "210987",   "121212",   "123123", "520520", "123321",
        "112233",  "332211",   "147258",   "789456",   "159357", "258369", "aaaaaaaa",
        "1234567", "11111111", "12341234", "147258369"};
    static const char *const accepted[] = {"583920", "271828",      "739146",
                                           "102938", "hemis-gompa", "9071536"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        why = NULL;
        if (sakhi_pin_check(refused[i], &why) != SAKHI_EWEAKPIN)
            fail_msg("PIN %s was accepted", refused[i]);
        assert_non_null(why);
        assert_true(why[0] != '\0');
    }
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        if (sakhi_pin_check(accepted[i], &why) != 0)
            fail_msg("PIN %s was refused: %s", accepted[i], why);
        assert_string_equal(why, "");
    }
    assert_int_equal(sakhi_pin_check("12345", &why), SAKHI_EWEAKPIN);
    assert_string_equal(why, "the PIN must have at least 6 digits");
    assert_int_equal(sakhi_pin_check(NULL, NULL), SAKHI_EWEAKPIN);

    /* Exactly how many of the 10^6 six-digit PINs the patterns refuse (docs/SECURITY.md). */
    unsigned refused_n = 0;
    char pin[7];
    for (unsigned n = 0; n < 1000000; n++) {
        snprintf(pin, sizeof(pin), "%06u", n);
        refused_n += sakhi_pin_check(pin, NULL) != 0;
    }
    assert_int_equal(refused_n, 2246);

    /* A new store refuses a weak PIN and creates nothing; an accepted one is made. */
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts(NULL);
    assert_int_equal(sakhi_open(&c, sub("weak"), "2468", &o), SAKHI_EWEAKPIN);
    assert_null(c);
    assert_int_equal(sakhi_open(&c, sub("weak"), "123456", &o), SAKHI_EWEAKPIN);
    assert_false(file_exists(sub("weak"), "data.mdb"));
    assert_string_equal(sakhi_strerror(SAKHI_EWEAKPIN),
                        "PIN refused: at least 6 digits and not a common pattern");
    assert_int_equal(sakhi_open(&c, sub("weak"), GOOD_PIN, &o), 0);
    sakhi_close(c);
}

/* ---- cost measured at creation --------------------------------------------------------------- */

static void test_cost_calibrated_and_recorded(void **state)
{
    (void)state;
    sakhi_client *c = NULL;
    sakhi_options o = SAKHI_OPTIONS_INIT;
    assert_int_equal(sk_client_test_kdf(0), 0); /* calibrate, as a real app's store does */
    o.kdf_memory_kib = 8192;
    o.kdf_target_ms = 60;
    assert_int_equal(sakhi_open(&c, sub("cal"), GOOD_PIN, &o), 0);
    sakhi_close(c);
    stolen s;
    steal_argon2(sub("cal"), &s, 8192);
    assert_int_equal(s.params.lanes, 1);
    assert_int_equal(s.params.flags, 0);
    assert_true(s.params.t_cost >= 1 && s.params.t_cost <= 64);
    /* the recorded cost is what one guess takes: within a wide band around the target */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(guess(&s, GOOD_PIN));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    print_message("calibrated: t=%u m=%u KiB, one guess %.1f ms (target 60)\n",
                  (unsigned)s.params.t_cost, (unsigned)s.params.m_kib, ms);
    if (s.params.t_cost > 1)
        assert_true(ms >= 15.0); /* more than one pass was recorded: they cost time */

    /* The test knob: 2^n KiB, one pass, no calibration. */
    o = fast_opts(NULL);
    assert_int_equal(sakhi_open(&c, sub("knob"), GOOD_PIN, &o), 0);
    sakhi_close(c);
    steal(sub("knob"), &s);
    assert_int_equal(s.params.m_kib, 1024);
    assert_int_equal(s.params.t_cost, 1);
    assert_int_equal(sk_client_test_kdf(2), SAKHI_EINVAL); /* below Argon2's 8 KiB */
    assert_int_equal(sk_client_test_kdf(21), SAKHI_EINVAL);
}

/* ---- the attack without a provider --------------------------------------------------------- */

/* Without a key provider, a copy of the store gives the PIN to an offline search whose only
 * obstacle is Argon2id's cost per guess, and the copy's failure counter does not hold. This is
 * the case docs/SECURITY.md prices in GPU time. */
static void test_copied_store_without_provider(void **state)
{
    (void)state;
    char id[SAKHI_ID_STRLEN];
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts(NULL);
    o.max_pin_attempts = 3;
    assert_int_equal(sakhi_open(&c, sub("phone"), GOOD_PIN, &o), 0);
    capture_canary(c, id);
    sakhi_close(c);
    copy_store(sub("phone"), sub("copy"));

    stolen s;
    steal(sub("copy"), &s);
    int found = -1;
    char pin[7];
    for (unsigned n = 583900; n < 584000 && found < 0; n++) {
        snprintf(pin, sizeof(pin), "%06u", n);
        if (guess(&s, pin))
            found = (int)n;
    }
    assert_int_equal(found, 583920);

    /* the counter is in the copy: locking the phone does not lock a copy taken before */
    assert_int_equal(sakhi_open(&c, sub("phone"), "111111", &o), SAKHI_EPIN);
    assert_int_equal(sakhi_open(&c, sub("phone"), "222222", &o), SAKHI_EPIN);
    assert_int_equal(sakhi_open(&c, sub("phone"), "333333", &o), SAKHI_ELOCKED);
    assert_int_equal(sakhi_open(&c, sub("phone"), GOOD_PIN, &o), SAKHI_ELOCKED);
    opens_showing(sub("copy"), GOOD_PIN, &o, id, CANARY_NAME);
}

/* ---- the attack with a provider ------------------------------------------------------------ */

static void test_copied_store_with_provider(void **state)
{
    (void)state;
    char id[SAKHI_ID_STRLEN];
    soft_kp kp, other;
    sakhi_key_provider p, po;
    soft_init(&kp, &p);
    soft_init(&other, &po);
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts(&p);
    assert_int_equal(sakhi_open(&c, sub("phone"), GOOD_PIN, &o), 0);
    assert_int_equal(kp.wraps, 1);
    capture_canary(c, id);
    sakhi_close(c);
    assert_int_equal(sakhi_open(&c, sub("phone"), GOOD_PIN, &o), 0);
    assert_int_equal(kp.unwraps, 1);
    expect_name(c, id, CANARY_NAME);
    sakhi_close(c);
    copy_store(sub("phone"), sub("copy"));
    copy_store(sub("phone"), sub("copy2"));

    /* The copy alone: even the right PIN opens nothing, by the library or by hand. */
    stolen s;
    steal(sub("copy"), &s);
    assert_true(s.has_kdf2);
    assert_int_equal(s.params.flags, SK_KDF_PROVIDER);
    assert_false(guess(&s, GOOD_PIN));
    char pin[7];
    for (unsigned n = 583900; n < 584000; n++) {
        snprintf(pin, sizeof(pin), "%06u", n);
        assert_false(guess(&s, pin));
    }
    sakhi_options nop = fast_opts(NULL);
    assert_int_equal(sakhi_open(&c, sub("copy"), GOOD_PIN, &nop), SAKHI_EKEYPROVIDER);
    /* another phone's hardware cannot unwrap this one's blob */
    sakhi_options oo = fast_opts(&po);
    assert_int_equal(sakhi_open(&c, sub("copy"), GOOD_PIN, &oo), SAKHI_EKEYPROVIDER);
    assert_int_equal(other.fails, 0);

    /* The provider's counter holds across restored copies: 4 wrong PINs on the phone, the
     * files put back from a copy taken before them, and the 10th wrong PIN in all destroys
     * the key; the store's files are removed. */
    static const char *const wrong[] = {"111111", "222222", "333333", "444444", "555555",
                                        "666666", "777777", "888888", "999999", "000000"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sakhi_open(&c, sub("phone"), wrong[i], &o), SAKHI_EPIN);
    assert_int_equal(kp.fails, 4);
    copy_store(sub("copy2"), sub("phone"));
    for (int i = 4; i < 9; i++)
        assert_int_equal(sakhi_open(&c, sub("phone"), wrong[i], &o), SAKHI_EPIN);
    assert_int_equal(kp.fails, 9);
    c = NULL;
    assert_int_equal(sakhi_open(&c, sub("phone"), wrong[9], &o), SAKHI_ELOCKED);
    assert_null(c);
    assert_true(kp.destroyed);
    assert_false(file_exists(sub("phone"), "data.mdb"));
    assert_false(file_exists(sub("phone"), "keys.db"));
    /* every copy is dead too, even with the right PIN and the phone's own provider */
    assert_int_equal(sakhi_open(&c, sub("copy"), GOOD_PIN, &o), SAKHI_ELOCKED);
    assert_null(c);
}

/* A wrong PIN is counted once, and a right one resets the provider's count. */
static void test_provider_counts_and_resets(void **state)
{
    (void)state;
    soft_kp kp;
    sakhi_key_provider p;
    soft_init(&kp, &p);
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts(&p);
    assert_int_equal(sakhi_open(&c, sub("s"), GOOD_PIN, &o), 0);
    sakhi_close(c);
    assert_int_equal(sakhi_open(&c, sub("s"), "111111", &o), SAKHI_EPIN);
    assert_int_equal(sakhi_open(&c, sub("s"), "222222", &o), SAKHI_EPIN);
    assert_int_equal(kp.fails, 2);
    assert_int_equal(sakhi_open(&c, sub("s"), GOOD_PIN, &o), 0);
    assert_int_equal(kp.fails, 0);
    sakhi_close(c);
    /* a provider struct without callbacks is refused */
    sakhi_key_provider bad = SAKHI_KEY_PROVIDER_INIT;
    o.key_provider = &bad;
    assert_int_equal(sakhi_open(&c, sub("s"), GOOD_PIN, &o), SAKHI_EINVAL);
}

/* A store made without a provider is rewrapped through one given at a correct open; from then
 * on the copy needs it, and the old PIN-only wrapping is gone from the file. */
static void test_provider_added_to_existing_store(void **state)
{
    (void)state;
    char id[SAKHI_ID_STRLEN];
    soft_kp kp;
    sakhi_key_provider p;
    soft_init(&kp, &p);
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts(NULL);
    assert_int_equal(sakhi_open(&c, sub("s"), GOOD_PIN, &o), 0);
    capture_canary(c, id);
    sakhi_close(c);
    stolen before;
    steal(sub("s"), &before);
    assert_true(guess(&before, GOOD_PIN));

    sakhi_options op = fast_opts(&p);
    assert_int_equal(sakhi_open(&c, sub("s"), GOOD_PIN, &op), 0);
    assert_int_equal(kp.wraps, 1);
    expect_name(c, id, CANARY_NAME);
    sakhi_close(c);
    stolen after;
    steal(sub("s"), &after);
    assert_int_equal(after.params.flags, SK_KDF_PROVIDER);
    assert_false(guess(&after, GOOD_PIN));
    assert_int_equal(sk_file_has_bytes(sub("s/data.mdb"), before.dek, before.dekn), 0);
    assert_int_equal(sakhi_open(&c, sub("s"), GOOD_PIN, &o), SAKHI_EKEYPROVIDER);
    opens_showing(sub("s"), GOOD_PIN, &op, id, CANARY_NAME);
}

/* ---- a store of the previous library ------------------------------------------------------- */

/* tests/data/store-scrypt-2468 was written by the library before Argon2id (format 2, scrypt
 * N = 2^15, PIN 2468, one referral named Fixture-Canary-Q7). It opens with its old PIN, is
 * rewrapped with Argon2id in place, and the scrypt-wrapped key is gone from the file. */
static void test_scrypt_store_upgrades(void **state)
{
    (void)state;
    copy_store(SAKHI_TEST_DATA "/store-scrypt-2468", sub("old"));
    stolen s;
    steal(sub("old"), &s);
    assert_true(s.has_kdf);
    assert_false(s.has_kdf2);
    assert_int_equal(sk_file_has_bytes(sub("old/data.mdb"), s.dek, s.dekn), 1);

    sakhi_client *c = NULL;
    sakhi_options o = fast_opts(NULL);
    o.max_pin_attempts = 5;
    assert_int_equal(sakhi_open(&c, sub("old"), "1357", &o), SAKHI_EPIN);
    assert_int_equal(sakhi_open(&c, sub("old"), "2468", &o), 0);
    sakhi_list_item items[4];
    size_t n = 0;
    sakhi_list_filter f = SAKHI_LIST_FILTER_INIT;
    assert_int_equal(sakhi_list(items, 4, &n, NULL, c, &f), 0);
    assert_int_equal(n, 1);
    expect_name(c, items[0].id, FIXTURE_CANARY);
    sakhi_close(c);

    stolen now;
    steal_argon2(sub("old"), &now, 1024);
    assert_true(guess(&now, "2468"));
    assert_int_equal(sk_file_has_bytes(sub("old/data.mdb"), s.dek, s.dekn), 0);

    /* reopens (Argon2id now), still counts wrong PINs, and a provider can be added later */
    assert_int_equal(sakhi_open(&c, sub("old"), "1357", &o), SAKHI_EPIN);
    opens_showing(sub("old"), "2468", &o, items[0].id, FIXTURE_CANARY);

    /* the fixture again, this time upgraded straight into a provider */
    soft_kp kp;
    sakhi_key_provider p;
    soft_init(&kp, &p);
    copy_store(SAKHI_TEST_DATA "/store-scrypt-2468", sub("old2"));
    sakhi_options op = fast_opts(&p);
    assert_int_equal(sakhi_open(&c, sub("old2"), "2468", &op), 0);
    sakhi_close(c);
    assert_int_equal(sakhi_open(&c, sub("old2"), "2468", &o), SAKHI_EKEYPROVIDER);
    opens_showing(sub("old2"), "2468", &op, items[0].id, FIXTURE_CANARY);
}

SK_TEST_MAIN({
    TMP_TEST(test_pin_rules),
    TMP_TEST(test_cost_calibrated_and_recorded),
    TMP_TEST(test_copied_store_without_provider),
    TMP_TEST(test_copied_store_with_provider),
    TMP_TEST(test_provider_counts_and_resets),
    TMP_TEST(test_provider_added_to_existing_store),
    TMP_TEST(test_scrypt_store_upgrades),
})
