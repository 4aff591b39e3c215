/*
 * test_client_store.c - libsakhi's local store without a server: PIN handling and lockout,
 * encryption at rest (a raw scan of the LMDB file finds no canary), capture and validation
 * errors, edits and follow-ups, the outbox and its operation numbers, lists with filters and
 * cursors, a full map, and the vault's authenticated encryption.
 *
 * Real LMDB in a temp directory; the KDF cost is lowered (sk_client_test_kdf) so each open is fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sk_client_test.h"
#include "sk_client.h"
#include "sk_clientpeek.h"
#include "sk_proc.h"

#define CANARY_NAME "Canary-Name-7Q2X"
#define CANARY_PHONE "+919876543210" /* E.164: stored as given */
#define CANARY_NOTES "canary-notes-ZK81 beaten with a stick"
#define CANARY_VILLAGE "CanaryVillage-P3"
#define CANARY_FOLLOWUP "canary-followup-M4W"

static sk_tmpdir_fx g_tmp = {"sakhi-client", ""}; /* each test's temp dir */
#define TMP_TEST(t) SK_TMPDIR_TEST(t, &g_tmp)

static const char *store_path(void)
{
    static char p[300];
    snprintf(p, sizeof(p), "%s/store", g_tmp.path);
    return p;
}

static sakhi_options fast_opts(void)
{
    sakhi_options o = SAKHI_OPTIONS_INIT;
    assert_int_equal(sk_client_test_kdf(10), 0); /* 1 MiB, one pass */
    o.max_pin_attempts = 3;
    return o;
}

static sakhi_client *open_ok(const char *pin)
{
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts();
    assert_int_equal(sakhi_open(&c, store_path(), pin, &o), 0);
    assert_non_null(c);
    return c;
}

/* Opening with pin must fail with want and leave no client. */
static void open_refused(const char *pin, int want)
{
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts();
    assert_int_equal(sakhi_open(&c, store_path(), pin, &o), want);
    assert_null(c);
}

/* A referral that passes the case model. */
static void fill_valid(sakhi_referral *r)
{
    assert_int_equal(sakhi_referral_set_district(r, SK_DISTRICT_LEH), 0);
    assert_int_equal(sakhi_referral_set_block(r, "Nubra"), 0);
    assert_int_equal(sakhi_referral_set_village(r, CANARY_VILLAGE), 0);
    assert_int_equal(sakhi_referral_set_taken_at(r, SAKHI_TAKEN_HOME_VISIT), 0);
    assert_int_equal(sakhi_referral_set_name(r, CANARY_NAME), 0);
    assert_int_equal(sakhi_referral_set_age(r, 34), 0);
    assert_int_equal(sakhi_referral_set_phone(r, CANARY_PHONE), 0);
    assert_int_equal(sakhi_referral_add_concern(r, SAKHI_CONCERN_DOMESTIC_VIOLENCE), 0);
    assert_int_equal(sakhi_referral_set_enum(r, "urgency", "urgent"), 0);
    assert_int_equal(sakhi_referral_set_source(r, SAKHI_SOURCE_FRONTLINE_WORKER), 0);
    assert_int_equal(sakhi_referral_set_consent(r, 1, 1), 0);
    assert_int_equal(sakhi_referral_set_notes(r, CANARY_NOTES), 0);
}

static void capture(sakhi_client *c, char id[SAKHI_ID_STRLEN])
{
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_new(&r, c), 0);
    fill_valid(r);
    assert_int_equal(sakhi_referral_save(id, c, r), 0);
    sakhi_referral_free(r);
}

/* The store opened with the usual PIN and one referral captured into it, its id in id. */
static sakhi_client *open_with_one(char id[SAKHI_ID_STRLEN])
{
    sakhi_client *c = open_ok("246813");
    capture(c, id);
    return c;
}

/* ---- PIN ------------------------------------------------------------------------------------ */

static void test_wrong_pin_and_lockout(void **state)
{
    (void)state;
    char id[SAKHI_ID_STRLEN];
    sakhi_client *c = open_with_one(id);
    sakhi_close(c);

    open_refused("111111", SAKHI_EPIN);
    /* the right PIN still works and resets the counter; the record is intact */
    c = open_ok("246813");
    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    const char *name = NULL;
    assert_int_equal(sakhi_record_get_str(&name, rec, "name"), 0);
    assert_string_equal(name, CANARY_NAME);
    sakhi_record_free(rec);
    sakhi_close(c);

    /* two failures, a success, then three failures lock the store for good */
    open_refused("111111", SAKHI_EPIN);
    open_refused("222222", SAKHI_EPIN);
    c = open_ok("246813");
    sakhi_close(c);
    open_refused("135792", SAKHI_EPIN);
    open_refused("1", SAKHI_EPIN); /* any length tried */
    open_refused("246812", SAKHI_ELOCKED);
    open_refused("246813", SAKHI_ELOCKED);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts();
    assert_int_equal(sakhi_open(&c, store_path(), "", &o), SAKHI_EINVAL);
    assert_int_equal(sakhi_open(&c, NULL, "1", &o), SAKHI_EINVAL);
    o.version = 99;
    assert_int_equal(sakhi_open(&c, store_path(), "1", &o), SAKHI_EINVAL);
    sakhi_close(NULL);
    assert_string_equal(sakhi_strerror(SAKHI_EPIN), "wrong PIN");
    assert_string_equal(sakhi_strerror(12345), "unknown error");
    assert_string_equal(sakhi_version(), SAKHI_VERSION_STRING);
    assert_string_equal(sakhi_errmsg(NULL), "");
}

/* ---- encryption at rest --------------------------------------------------------------------- */

/* 1 when the bytes of needle are anywhere in the file (which must be readable). */
static int file_contains(const char *path, const char *needle)
{
    int found = sk_file_has_bytes(path, needle, strlen(needle));
    assert_true(found >= 0);
    return found;
}

static void test_raw_file_has_no_canary(void **state)
{
    (void)state;
    char id[SAKHI_ID_STRLEN], path[400];
    sakhi_client *c = open_ok("246813");
    for (int i = 0; i < 5; i++)
        capture(c, id);
    assert_int_equal(sakhi_followup_add(c, id, CANARY_FOLLOWUP), 0);
    /* an edit too: old and new values both stay encrypted */
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_edit(&r, c, id), 0);
    assert_int_equal(sakhi_referral_set_notes(r, CANARY_NOTES " edited"), 0);
    assert_int_equal(sakhi_referral_save(NULL, c, r), 0);
    sakhi_referral_free(r);
    sakhi_close(c);

    snprintf(path, sizeof(path), "%s/data.mdb", store_path());
    /* the scan can fail: the same bytes written in plain would be found */
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    fclose(f);
    assert_false(file_contains(path, CANARY_NAME));
    assert_false(file_contains(path, CANARY_PHONE));
    assert_false(file_contains(path, "canary-notes-ZK81"));
    assert_false(file_contains(path, CANARY_VILLAGE));
    assert_false(file_contains(path, CANARY_FOLLOWUP));
    assert_false(file_contains(path, "Nubra"));
    /* positive control: the scanner finds what is there */
    assert_true(file_contains(path, "outbox"));

    c = open_ok("246813");
    char *json = NULL;
    assert_int_equal(sakhi_record_json(&json, c, id), 0);
    assert_non_null(strstr(json, CANARY_NAME));
    assert_non_null(strstr(json, "\"urgency\":\"urgent\""));
    assert_non_null(strstr(json, CANARY_FOLLOWUP));
    assert_non_null(strstr(json, "\"sync_state\":\"pending\""));
    sakhi_free(c, json);
    sakhi_close(c);
}

static void test_vault_seal_open(void **state)
{
    (void)state;
    uint8_t key[SK_DEK_LEN], key2[SK_DEK_LEN], aad[64];
    memset(key, 7, sizeof(key));
    memset(key2, 8, sizeof(key2));
    sk_buf blob = SK_BUF_INIT, pt = SK_BUF_INIT;
    size_t an = sk_vault_aad(aad, sizeof(aad), "records", "k1", 2);
    assert_int_equal(an, 10);
    assert_int_equal(sk_vault_seal(&blob, key, aad, an, "secret text", 11), 0);
    assert_int_equal(blob.len, SK_GCM_NONCE + 11 + SK_GCM_TAG);
    assert_int_equal(sk_vault_open(&pt, key, aad, an, blob.data, blob.len), 0);
    assert_int_equal(pt.len, 11);
    assert_memory_equal(pt.data, "secret text", 11);
    sk_buf_reset(&pt);
    /* wrong key, wrong AAD (moved to another key), a flipped bit, a short blob */
    assert_int_equal(sk_vault_open(&pt, key2, aad, an, blob.data, blob.len), SAKHI_EFORMAT);
    uint8_t aad2[64];
    size_t an2 = sk_vault_aad(aad2, sizeof(aad2), "records", "k2", 2);
    assert_int_equal(sk_vault_open(&pt, key, aad2, an2, blob.data, blob.len), SAKHI_EFORMAT);
    blob.data[SK_GCM_NONCE + 3] ^= 1;
    assert_int_equal(sk_vault_open(&pt, key, aad, an, blob.data, blob.len), SAKHI_EFORMAT);
    assert_int_equal(sk_vault_open(&pt, key, aad, an, blob.data, 10), SAKHI_EFORMAT);
    assert_int_equal(pt.len, 0);
    /* two seals of the same text differ (random nonce) */
    sk_buf b2 = SK_BUF_INIT;
    blob.data[SK_GCM_NONCE + 3] ^= 1;
    assert_int_equal(sk_vault_seal(&b2, key, aad, an, "secret text", 11), 0);
    assert_memory_not_equal(b2.data, blob.data, b2.len);
    sk_buf_free(&b2);
    sk_buf_free(&blob);
    sk_buf_free(&pt);
}

/* ---- capture -------------------------------------------------------------------------------- */

static void test_validation_errors(void **state)
{
    (void)state;
    sakhi_client *c = open_ok("246813");
    sakhi_referral *r = NULL;
    char id[SAKHI_ID_STRLEN];
    assert_int_equal(sakhi_referral_new(&r, c), 0);
    assert_int_equal(strlen(sakhi_referral_id(r)), 36);
    assert_int_equal(sakhi_referral_save(id, c, r), SAKHI_EVALIDATION);
    assert_string_equal(sakhi_errfield(c), "district");
    assert_string_equal(sakhi_errmsg(c), "district: is required");
    fill_valid(r);
    /* cross-field rule: minor must agree with age */
    assert_int_equal(sakhi_referral_set_minor(r, 1), 0);
    assert_int_equal(sakhi_referral_validate(r), SAKHI_EVALIDATION);
    assert_string_equal(sakhi_errfield(c), "minor");
    assert_int_equal(sakhi_referral_set_minor(r, 0), 0);
    assert_int_equal(sakhi_referral_validate(r), 0);
    /* setter-level refusals */
    assert_int_equal(sakhi_referral_set_urgency(r, 9), SAKHI_EINVAL);
    assert_string_equal(sakhi_errfield(c), "urgency");
    assert_int_equal(sakhi_referral_set_enum(r, "urgency", "whenever"), SAKHI_EINVAL);
    assert_int_equal(sakhi_referral_set_enum(r, "name", "x"), SAKHI_EINVAL);
    assert_int_equal(sakhi_referral_set_name(r, "\xc3\x28"), SAKHI_EINVAL);
    assert_int_equal(sakhi_referral_set_age(r, 121), SAKHI_EINVAL);
    const uint8_t bad[] = {0x92, 0x01}; /* array of 2 with one element */
    assert_int_equal(sakhi_referral_set_raw(r, 200, bad, sizeof(bad)), SAKHI_EINVAL);
    assert_int_equal(sakhi_referral_set_raw(r, SK_F_WORKER, "\xa1x", 2), SAKHI_EINVAL);
    const uint8_t ext[] = {0xa3, 'n', 'e', 'w'}; /* a newer schema's field */
    assert_int_equal(sakhi_referral_set_raw(r, 300, ext, sizeof(ext)), 0);
    /* nothing was saved by the failures */
    uint64_t pending = 99;
    assert_int_equal(sakhi_pending_count(&pending, c), 0);
    assert_int_equal(pending, 0);
    assert_int_equal(sakhi_referral_save(id, c, r), 0);
    assert_string_equal(id, sakhi_referral_id(r));
    /* saving the unchanged draft again saves nothing */
    assert_int_equal(sakhi_referral_save(NULL, c, r), 0);
    assert_int_equal(sakhi_pending_count(&pending, c), 0);
    assert_int_equal(pending, 1);
    sakhi_referral_free(r);

    sakhi_record *rec = NULL;
    uint64_t v;
    int b;
    const char *s;
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_int_equal(sakhi_record_sync_state(rec), SAKHI_SYNC_PENDING);
    assert_int_equal(sakhi_record_get_uint(&v, rec, "status"), 0);
    assert_int_equal(v, SAKHI_STATUS_NEW);
    assert_int_equal(sakhi_record_get_uint(&v, rec, "schema"), 0);
    assert_int_equal(v, 1);
    assert_int_equal(sakhi_record_get_bool(&b, rec, "consent_share"), 0);
    assert_int_equal(b, 1);
    assert_int_equal(sakhi_record_get_str(&s, rec, "consent_by"), 0);
    assert_string_equal(s, "this-device");
    assert_int_equal(sakhi_record_get_str(&s, rec, "concern_other"), SAKHI_ENOTFOUND);
    assert_int_equal(sakhi_record_get_str(&s, rec, "nonsense"), SAKHI_EINVAL);
    assert_int_equal(sakhi_record_get_str(&s, rec, "age"), SAKHI_EINVAL);
    assert_int_equal(sakhi_record_version(rec), 0);
    sakhi_record_free(rec);
    assert_int_equal(sakhi_record_get(&rec, c, "00000000-0000-7000-8000-000000000000"),
                     SAKHI_ENOTFOUND);
    assert_int_equal(sakhi_record_get(&rec, c, "not-an-id"), SAKHI_EINVAL);
    sakhi_close(c);
}

static void test_edit_followup_outbox(void **state)
{
    (void)state;
    char id[SAKHI_ID_STRLEN];
    sakhi_client *c = open_with_one(id);
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_edit(&r, c, id), 0);
    assert_int_equal(sakhi_referral_set_children(r, 2), 0);
    assert_int_equal(sakhi_referral_add_concern(r, SAKHI_CONCERN_FINANCIAL_ABUSE), 0);
    assert_int_equal(sakhi_referral_save(NULL, c, r), 0);
    sakhi_referral_free(r);
    assert_int_equal(sakhi_followup_add(c, id, "visited again"), 0);
    assert_int_equal(sakhi_followup_add(c, id, ""), SAKHI_EINVAL);
    assert_int_equal(sakhi_followup_add(c, "00000000-0000-7000-8000-000000000000", "x"),
                     SAKHI_ENOTFOUND);
    sakhi_close(c);

    /* everything survives a reopen; three changes with ops 1, 2, 3 in the outbox */
    c = open_ok("246813");
    sakhi_record *rec = NULL;
    uint64_t v;
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_int_equal(sakhi_record_get_uint(&v, rec, "children"), 0);
    assert_int_equal(v, 2);
    assert_int_equal(sakhi_record_followup_count(rec), 1);
    assert_string_equal(sakhi_record_followup_text(rec, 0), "visited again");
    assert_null(sakhi_record_followup_text(rec, 1));
    sakhi_record_free(rec);
    char *json = NULL;
    assert_int_equal(sakhi_record_json(&json, c, id), 0);
    assert_non_null(strstr(json, "\"concerns\":[\"domestic_violence\",\"financial_abuse\"]"));
    sakhi_free(c, json);

    MDB_txn *txn = NULL;
    uint64_t n = 0;
    assert_int_equal(sk_lstore_txn(c, 1, &txn), 0);
    assert_int_equal(sk_outbox_count(c, txn, &n), 0);
    assert_int_equal(n, 3);
    for (uint64_t op = 1; op <= 3; op++) {
        sk_change ch;
        assert_int_equal(sk_outbox_get(c, txn, op, &ch), 0);
        assert_int_equal(ch.op, op);
        assert_int_equal(ch.base, 0);
        assert_int_equal(ch.kind, SK_CHANGE_UPSERT);
        char got[37];
        sk_id_to_str(&ch.id, got);
        assert_string_equal(got, id);
        assert_int_equal(ch.nentries, op == 3 ? 1 : 0);
        sk_change_free(&ch);
    }
    sk_change ch;
    assert_int_equal(sk_outbox_get(c, txn, 4, &ch), SAKHI_ENOTFOUND);
    mdb_txn_abort(txn);
    assert_int_equal(c->next_op, 4);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.enrolled, 0);
    assert_int_equal(st.pending, 3);
    assert_int_equal(st.records, 1);
    sakhi_close(c);
}

/* ---- lists ---------------------------------------------------------------------------------- */

static void test_list_filter_and_cursor(void **state)
{
    (void)state;
    char ids[7][SAKHI_ID_STRLEN];
    sakhi_client *c = open_ok("246813");
    for (int i = 0; i < 7; i++) {
        sakhi_referral *r = NULL;
        assert_int_equal(sakhi_referral_new(&r, c), 0);
        fill_valid(r);
        if (i % 3 == 0)
            assert_int_equal(sakhi_referral_set_urgency(r, SAKHI_URGENCY_IMMEDIATE_DANGER), 0);
        assert_int_equal(sakhi_referral_save(ids[i], c, r), 0);
        sakhi_referral_free(r);
    }
    sakhi_list_item items[3];
    sakhi_list_filter f = SAKHI_LIST_FILTER_INIT;
    char next[SAKHI_ID_STRLEN] = "";
    size_t n, total = 0;
    int pages = 0;
    do {
        f.after = next[0] ? next : NULL;
        assert_int_equal(sakhi_list(items, 3, &n, next, c, &f), 0);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(items[i].id, ids[total + i]); /* capture order */
            assert_int_equal(items[i].status, SAKHI_STATUS_NEW);
            assert_int_equal(items[i].sync_state, SAKHI_SYNC_PENDING);
            assert_int_equal(items[i].urgency, (total + i) % 3 == 0 ? 1 : 2);
        }
        total += n;
        pages++;
    } while (next[0]);
    assert_int_equal(total, 7);
    assert_int_equal(pages, 3);

    f.after = NULL;
    f.pending_only = 1;
    assert_int_equal(sakhi_list(items, 3, &n, NULL, c, &f), 0);
    assert_int_equal(n, 3);
    f.status = SAKHI_STATUS_ACCEPTED;
    assert_int_equal(sakhi_list(items, 3, &n, next, c, &f), 0);
    assert_int_equal(n, 0);
    assert_string_equal(next, "");
    sakhi_list_filter g = SAKHI_LIST_FILTER_INIT;
    g.to_ms = 1; /* before everything */
    assert_int_equal(sakhi_list(items, 3, &n, NULL, c, &g), 0);
    assert_int_equal(n, 0);
    g.after = "zz";
    assert_int_equal(sakhi_list(items, 3, &n, NULL, c, &g), SAKHI_EINVAL);
    sakhi_close(c);
}

/* ---- a full map ----------------------------------------------------------------------------- */

static void test_full_map(void **state)
{
    (void)state;
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts();
    o.map_size = 256 * 1024;
    assert_int_equal(sakhi_open(&c, store_path(), "246813", &o), 0);
    int saved = 0, rc = 0;
    char big[3000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 2000; i++) {
        sakhi_referral *r = NULL;
        assert_int_equal(sakhi_referral_new(&r, c), 0);
        fill_valid(r);
        assert_int_equal(sakhi_referral_set_notes(r, big), 0);
        rc = sakhi_referral_save(NULL, c, r);
        sakhi_referral_free(r);
        if (rc)
            break;
        saved++;
    }
    assert_int_equal(rc, SAKHI_EFULL);
    assert_true(saved > 5);
    uint64_t pending = 0;
    assert_int_equal(sakhi_pending_count(&pending, c), 0);
    assert_int_equal(pending, (uint64_t)saved);
    sakhi_close(c);
    /* the store is intact and still opens */
    assert_int_equal(sakhi_open(&c, store_path(), "246813", &o), 0);
    sakhi_status st = SAKHI_STATUS_INIT;
    assert_int_equal(sakhi_status_get(&st, c), 0);
    assert_int_equal(st.records, (uint64_t)saved);
    assert_int_equal(st.pending, (uint64_t)saved);
    sakhi_close(c);
}

/* ---- allocator hooks ------------------------------------------------------------------------ */

static long g_live;
static void *t_malloc(size_t n, void *p)
{
    (*(long *)p)++;
    return malloc(n);
}
static void *t_realloc(void *ptr, size_t n, void *p)
{
    if (!ptr)
        (*(long *)p)++;
    return realloc(ptr, n);
}
static void t_free(void *ptr, void *p)
{
    if (ptr)
        (*(long *)p)--;
    free(ptr);
}

/* ---- crypto-shredding (per-record keys) -------------------------------------------------- */

static long file_size(const char *name)
{
    char p[400];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%s", store_path(), name);
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* 1 when the random half of slot in the store's keys.db is zeros. */
static int slot_zero(uint64_t slot)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/keys.db", store_path());
    return sk_peek_slot_zero(p, slot);
}

static size_t meta_marks(sakhi_client *c)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t n = 0;
    assert_int_equal(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, c->dbi_meta, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if (k.mv_size > 6 && memcmp(k.mv_data, "shred/", 6) == 0)
            n++;
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return n;
}

/* Erasing a record on the device deletes its state and unsent changes and zeroes its key slot
 * after the commit; a crash between the commit and the overwrite is finished at the next open;
 * an aborted transaction gives its new slots back. */
static void test_erase_shreds_record_key(void **state)
{
    (void)state;
    char a[SAKHI_ID_STRLEN], b[SAKHI_ID_STRLEN];
    sk_id ia, ib;
    sk_buf pt = SK_BUF_INIT;
    size_t na, nb;
    uint64_t pending;
    sakhi_client *c = open_ok("246813");
    capture(c, a);
    capture(c, b);
    assert_int_equal(sakhi_followup_add(c, a, CANARY_FOLLOWUP), 0);
    assert_int_equal(sk_id_from_str(&ia, a), 0);
    assert_int_equal(sk_id_from_str(&ib, b), 0);
    uint8_t *ra = sk_peek_record(c, &ia, &na), *rb = sk_peek_record(c, &ib, &nb);
    assert_int_not_equal(sk_peek_slot(ra), sk_peek_slot(rb)); /* one key per record */
    assert_int_equal(file_size("keys.db"), 2 * 64);
    assert_int_equal(sk_lstore_record_open_raw(c, NULL, &ia, ra, na, &pt), 0);
    sk_vault_buf_wipe(&pt);

    MDB_txn *txn;
    assert_int_equal(sk_lstore_txn(c, 0, &txn), 0);
    assert_int_equal(sk_lstore_rstate_del(c, txn, &ia), 0);
    assert_false(slot_zero(sk_peek_slot(ra))); /* nothing before the commit */
    assert_int_equal(sk_lstore_commit(c, txn), 0);
    assert_true(slot_zero(sk_peek_slot(ra)));
    assert_false(slot_zero(sk_peek_slot(rb)));
    assert_int_equal(meta_marks(c), 0);
    sakhi_record *rec = NULL;
    assert_int_equal(sakhi_record_get(&rec, c, a), SAKHI_ENOTFOUND);
    assert_int_equal(sakhi_pending_count(&pending, c), 0);
    assert_int_equal(pending, 1); /* b's capture; a's capture and follow-up went with it */
    assert_int_equal(sk_lstore_record_open_raw(c, NULL, &ia, ra, na, &pt), SAKHI_EFORMAT);
    assert_int_equal(sakhi_record_get(&rec, c, b), 0);
    sakhi_record_free(rec);

    /* A crash after the commit, before the overwrite: the mark is finished at the next open. */
    assert_int_equal(sk_lstore_txn(c, 0, &txn), 0);
    assert_int_equal(sk_lstore_rstate_del(c, txn, &ib), 0);
    c->kr_batch = 0; /* as if the process died right after mdb_txn_commit */
    c->nshred = 0;
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_false(slot_zero(sk_peek_slot(rb)));
    assert_int_equal(meta_marks(c), 1);
    sakhi_close(c);
    c = open_ok("246813");
    assert_true(slot_zero(sk_peek_slot(rb)));
    assert_int_equal(meta_marks(c), 0);

    /* An aborted write gives its new slot back (zeroed, the file cut back). */
    char d[SAKHI_ID_STRLEN];
    long before = file_size("keys.db");
    sakhi_referral *r = NULL;
    assert_int_equal(sakhi_referral_new(&r, c), 0);
    fill_valid(r);
    assert_int_equal(sakhi_referral_save(d, c, r), 0);
    sakhi_referral_free(r);
    assert_int_equal(file_size("keys.db"), before + 64);
    sk_rstate rs;
    sk_rstate_init(&rs, &c->alloc);
    assert_int_equal(sk_lstore_txn(c, 0, &txn), 0);
    assert_int_equal(sk_id_new(&rs.view.id, 1), 0);
    assert_int_equal(sk_lstore_rstate_put(c, txn, &rs), 0);
    assert_int_equal(file_size("keys.db"), before + 128);
    mdb_txn_abort(txn);
    assert_int_equal(sk_lstore_txn(c, 0, &txn), 0); /* the next write takes it back */
    assert_int_equal(file_size("keys.db"), before + 64);
    mdb_txn_abort(txn);
    sk_rstate_free(&rs);
    sakhi_close(c);
    free(ra);
    free(rb);
}

/* Rewrite the store as format 1 wrote it (every value under the data key, no key file); a
 * copy of the first record's format-1 value goes to old (n bytes). */
static void downgrade_to_format1(uint8_t **old, size_t *oldn)
{
    sakhi_client *c = open_ok("246813");
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t ids[16][16], ops[16][8];
    size_t nid = 0, nop = 0;
    assert_int_equal(mdb_txn_begin(c->env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, c->dbi_records, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && nid < 16;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        memcpy(ids[nid++], k.mv_data, 16);
    mdb_cursor_close(cur);
    assert_int_equal(mdb_cursor_open(txn, c->dbi_outbox, &cur), 0);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && nop < 16;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        memcpy(ops[nop++], k.mv_data, 8);
    mdb_cursor_close(cur);
    for (size_t i = 0; i < nid; i++) {
        sk_id id;
        sk_buf pt = SK_BUF_INIT, blob = SK_BUF_INIT;
        uint8_t aad[64];
        memcpy(id.b, ids[i], 16);
        k.mv_data = id.b;
        k.mv_size = 16;
        assert_int_equal(mdb_get(txn, c->dbi_records, &k, &v), 0);
        assert_int_equal(sk_lstore_record_open_raw(c, NULL, &id, v.mv_data, v.mv_size, &pt), 0);
        size_t an = sk_vault_aad(aad, sizeof(aad), "records", id.b, 16);
        assert_int_equal(sk_vault_seal(&blob, c->dek, aad, an, pt.data, pt.len), 0);
        v.mv_data = blob.data;
        v.mv_size = blob.len;
        assert_int_equal(mdb_put(txn, c->dbi_records, &k, &v, 0), 0);
        if (i == 0) {
            *old = malloc(blob.len);
            assert_non_null(*old);
            memcpy(*old, blob.data, blob.len);
            *oldn = blob.len;
        }
        sk_vault_buf_wipe(&pt);
        sk_buf_free(&blob);
    }
    for (size_t i = 0; i < nop; i++) {
        sk_change ch;
        sk_buf pt = SK_BUF_INIT, blob = SK_BUF_INIT;
        msgpack_packer pk;
        uint8_t aad[64];
        uint64_t op = 0;
        for (int j = 0; j < 8; j++)
            op = (op << 8) | ops[i][j];
        assert_int_equal(sk_outbox_get(c, txn, op, &ch), 0);
        sk_packer_init(&pk, &pt);
        assert_int_equal(sk_change_pack(&pk, &ch), 0);
        size_t an = sk_vault_aad(aad, sizeof(aad), "outbox", ops[i], 8);
        assert_int_equal(sk_vault_seal(&blob, c->dek, aad, an, pt.data, pt.len), 0);
        k.mv_data = ops[i];
        k.mv_size = 8;
        v.mv_data = blob.data;
        v.mv_size = blob.len;
        assert_int_equal(mdb_put(txn, c->dbi_outbox, &k, &v, 0), 0);
        sk_change_free(&ch);
        sk_vault_buf_wipe(&pt);
        sk_buf_free(&blob);
    }
    uint8_t fmt[4] = {0, 0, 0, 1};
    k.mv_data = "rkm";
    k.mv_size = 3;
    assert_int_equal(mdb_del(txn, c->dbi_meta, &k, NULL), 0);
    k.mv_data = "format";
    k.mv_size = 6;
    v.mv_data = fmt;
    v.mv_size = 4;
    assert_int_equal(mdb_put(txn, c->dbi_meta, &k, &v, 0), 0);
    c->kr_batch = 0;
    assert_int_equal(mdb_txn_commit(txn), 0);
    sakhi_close(c);
    char p[400];
    snprintf(p, sizeof(p), "%s/keys.db", store_path());
    assert_int_equal(unlink(p), 0);
}

static uint32_t store_format(sakhi_client *c)
{
    MDB_txn *txn;
    MDB_val k = {6, (void *)"format"}, v;
    assert_int_equal(mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_get(txn, c->dbi_meta, &k, &v), 0);
    assert_int_equal(v.mv_size, 4);
    uint32_t f = ((const uint8_t *)v.mv_data)[3];
    mdb_txn_abort(txn);
    return f;
}

/* A store written before per-record keys (format 1) is migrated at open: every record and
 * every unsent change is re-sealed under a per-record key, none is lost, and erasure then
 * shreds. A store of a newer format is refused with a clear error. */
static void test_format1_store_migrates(void **state)
{
    (void)state;
    char a[SAKHI_ID_STRLEN], b[SAKHI_ID_STRLEN], c3[SAKHI_ID_STRLEN];
    uint64_t pending;
    sakhi_client *c = open_ok("246813");
    capture(c, a);
    capture(c, b);
    capture(c, c3);
    assert_int_equal(sakhi_followup_add(c, b, CANARY_FOLLOWUP), 0);
    sakhi_close(c);
    uint8_t *old = NULL;
    size_t oldn = 0;
    char dpath[400];
    snprintf(dpath, sizeof(dpath), "%s/data.mdb", store_path());
    downgrade_to_format1(&old, &oldn);
    assert_int_equal(file_size("keys.db"), -1);
    assert_int_equal(sk_file_has_bytes(dpath, old, oldn),
                     1); /* the scan finds the format-1 value */

    c = open_ok("246813");
    /* compacted after the migration: the format-1 value (under the data key, which the PIN
     * opens) is not left in a free page */
    assert_int_equal(sk_file_has_bytes(dpath, old, oldn), 0);
    free(old);
    assert_int_equal(store_format(c), SK_LSTORE_FORMAT);
    assert_int_equal(file_size("keys.db"), 3 * 64);
    assert_int_equal(sakhi_pending_count(&pending, c), 0);
    assert_int_equal(pending, 4);
    char *json = NULL;
    assert_int_equal(sakhi_record_json(&json, c, b), 0);
    assert_non_null(strstr(json, CANARY_NAME));
    assert_non_null(strstr(json, CANARY_FOLLOWUP));
    sakhi_free(c, json);
    /* the unsent changes open under their record's key */
    MDB_txn *txn;
    sk_change ch;
    assert_int_equal(sk_lstore_txn(c, 1, &txn), 0);
    for (uint64_t op = 1; op <= 4; op++) {
        assert_int_equal(sk_outbox_get(c, txn, op, &ch), 0);
        sk_change_free(&ch);
    }
    mdb_txn_abort(txn);
    /* and erasure now shreds */
    sk_id ib;
    size_t nb;
    assert_int_equal(sk_id_from_str(&ib, b), 0);
    uint8_t *rb = sk_peek_record(c, &ib, &nb);
    assert_int_equal(sk_lstore_txn(c, 0, &txn), 0);
    assert_int_equal(sk_lstore_rstate_del(c, txn, &ib), 0);
    assert_int_equal(sk_lstore_commit(c, txn), 0);
    assert_true(slot_zero(sk_peek_slot(rb)));
    assert_int_equal(sakhi_pending_count(&pending, c), 0);
    assert_int_equal(pending, 2);
    free(rb);

    /* a newer format is refused, and nothing is changed */
    assert_int_equal(sk_lstore_txn(c, 0, &txn), 0);
    uint8_t fmt[4] = {0, 0, 0, SK_LSTORE_FORMAT + 1};
    MDB_val k = {6, (void *)"format"}, v = {4, fmt};
    assert_int_equal(mdb_put(txn, c->dbi_meta, &k, &v, 0), 0);
    assert_int_equal(sk_lstore_commit(c, txn), 0);
    sakhi_close(c);
    open_refused("246813", SAKHI_EFORMAT);
}

static void test_allocator_hooks(void **state)
{
    (void)state;
    sakhi_client *c = NULL;
    sakhi_options o = fast_opts();
    o.malloc_fn = t_malloc;
    o.realloc_fn = t_realloc;
    o.free_fn = t_free;
    o.alloc_payload = &g_live;
    assert_int_equal(sakhi_open(&c, store_path(), "246813", &o), 0);
    assert_true(g_live > 0);
    char id[SAKHI_ID_STRLEN];
    capture(c, id);
    sakhi_record *rec = NULL;
    const char *s;
    assert_int_equal(sakhi_record_get(&rec, c, id), 0);
    assert_int_equal(sakhi_record_get_str(&s, rec, "block"), 0);
    sakhi_record_free(rec);
    sakhi_close(c);
    assert_int_equal(g_live, 0);
    o.free_fn = NULL; /* hooks come all three or none */
    assert_int_equal(sakhi_open(&c, store_path(), "246813", &o), SAKHI_EINVAL);
}

SK_TEST_MAIN({
    TMP_TEST(test_wrong_pin_and_lockout),
    TMP_TEST(test_bad_arguments),
    TMP_TEST(test_raw_file_has_no_canary),
    cmocka_unit_test(test_vault_seal_open),
    TMP_TEST(test_validation_errors),
    TMP_TEST(test_edit_followup_outbox),
    TMP_TEST(test_list_filter_and_cursor),
    TMP_TEST(test_full_map),
    TMP_TEST(test_allocator_hooks),
    TMP_TEST(test_erase_shreds_record_key),
    TMP_TEST(test_format1_store_migrates),
})
