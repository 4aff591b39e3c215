/*
 * test_admin.c - integration tests of sakhi-admin: the real binary on a temp data directory.
 *
 * The test prepares what a server would have written (devices enrolled through
 * sk_store_enroll_txn, referrals pushed through sk_apply_change as a field worker's device) with
 * the server's own store code, then runs sakhi-admin as a separate process and checks its exit
 * status, its output and the store afterwards: workers, codes, revocation, accept/service/close
 * with the case number's format, exports with and without a minor's identifying fields, the
 * monthly report against counts computed here from the sample data, backups (plain and
 * encrypted) with verify catching damage, the audit chain catching an altered or removed entry,
 * and every bad-input path's exit status and message.
 */
#define _GNU_SOURCE
#include "sk_apply.h"
#include "sk_auth.h"
#include "sk_admin_run.h"
#include "sk_err.h"
#include "sk_json.h"
#include "sk_sample.h"
#include "sk_store.h"
#include "sk_teststore.h"
#include "sk_testtext.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define CANARY "Zqcanary Minorname"

static sk_admin_run g;

/* run("cmd", ..., NULL): sakhi-admin --data g.data with those arguments; its exit status, with
 * g.o / g.e holding stdout / stderr. Each test gets a fresh g (its cmocka prestate). */
#define run(...) sk_admin_check(&g, __VA_ARGS__)
#define ADMIN_TEST(t)                                                                              \
    cmocka_unit_test_prestate_setup_teardown(t, sk_admin_fx_setup, sk_admin_fx_teardown, &g)

static void path_in(char *out, size_t cap, const char *name)
{
    sk_admin_path(&g, out, cap, name);
}

/* ---- store helpers (what the server would have written) ----------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Enroll a device for worker with a code made by sakhi-admin. Returns the device id. */
static uint64_t enroll_device(sk_store *s, const char *code)
{
    MDB_txn *txn;
    sk_device_info d;
    sk_worker w;
    uint8_t pub[SK_PUBKEY_LEN] = {1, 2, 3};
    assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, 0, &txn), 0);
    assert_int_equal(
        sk_store_enroll_txn(s, txn, code, strlen(code), pub, "tablet", 6, now_ms(), &d, &w), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    return d.id;
}

/* Apply change c as actor with a record size limit; returns the ack (message copied to msg). */
static sk_ack apply_as(sk_store *s, uint64_t dev, sk_actor actor, const sk_change *c,
                       size_t max_record, char *msg, size_t cap)
{
    MDB_txn *txn;
    sk_ack ack;
    assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, 0, &txn), 0);
    sk_apply_ctx ctx = {.store = s,
                        .txn = txn,
                        .device = dev,
                        .actor = actor,
                        .now_ms = now_ms(),
                        .max_record = max_record};
    assert_int_equal(sk_apply_change(&ctx, c, &ack, msg, cap), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    return ack;
}

/* Push change c as device dev of worker (field role). Returns the ack status. */
static uint32_t push(sk_store *s, uint64_t dev, const char *worker, const sk_change *c)
{
    char msg[512];
    sk_actor actor = {SK_ROLE_FIELD, worker, 0};
    return apply_as(s, dev, actor, c, 1u << 20, msg, sizeof(msg)).status;
}

static int change_bool(const sk_change *c, uint32_t key)
{
    for (uint32_t i = 0; i < c->nfields; i++)
        if (c->fields[i].key == key && c->fields[i].len == 1)
            return c->fields[i].val[0] == 0xc3;
    return 0;
}

static int change_uint(const sk_change *c, uint32_t key, uint64_t *out)
{
    for (uint32_t i = 0; i < c->nfields; i++) {
        if (c->fields[i].key == key) {
            sk_mp m;
            sk_mp_init(&m, c->fields[i].val, c->fields[i].len);
            return sk_mp_read_uint(&m, out);
        }
    }
    return -1;
}

static sk_sample g_sample;

static void load_sample(void)
{
    char err[256];
    if (g_sample.n == 0)
        assert_int_equal(
            sk_sample_load(&g_sample, SAKHI_TEST_DATA "/sample-referrals.json", err, sizeof(err)),
            0);
}

/* The prepared data directory of a PREPARED_TEST: the store open in this process and the
 * device enrolled for asha. */
static struct {
    sk_store *s;
    uint64_t dev;
} g_prep;

/* cmocka setup of a PREPARED_TEST: a fresh g (sk_admin_fx_setup), then init + workers asha
 * (field), boss (admin), st1 (staff, leh) and a device for asha. */
static int prepared_setup(void **state)
{
    int rc = sk_admin_fx_setup(state);
    if (rc != 0)
        return rc;
    assert_int_equal(run("init", NULL), 0);
    assert_int_equal(run("worker", "add", "asha", "--role", "field", NULL), 0);
    assert_int_equal(run("worker", "add", "boss", "--role", "admin", NULL), 0);
    assert_int_equal(run("worker", "add", "st1", "--role", "staff", "--district", "leh", NULL), 0);
    assert_int_equal(run("enroll-code", "asha", NULL), 0);
    char code[32];
    assert_int_equal(sscanf(g.o, "%31s", code), 1);
    assert_int_equal(sk_store_open(&g_prep.s, g.data, 0), 0);
    g_prep.dev = enroll_device(g_prep.s, code);
    return 0;
}

static int prepared_teardown(void **state)
{
    sk_store_close(g_prep.s);
    g_prep.s = NULL;
    return sk_admin_fx_teardown(state);
}

#define PREPARED_TEST(t)                                                                           \
    cmocka_unit_test_prestate_setup_teardown(t, prepared_setup, prepared_teardown, &g)

/* Insert sample referral i (optionally with a canary name) as asha's device. */
static void insert_sample(size_t i, uint64_t op, const char *name, char idtxt[37])
{
    sk_change c;
    load_sample();
    assert_int_equal(sk_change_copy(&c, &g_sample.refs[i].change), 0);
    c.op = op;
    if (name)
        sk_tst_str(&c, SK_F_NAME, name);
    assert_int_equal(push(g_prep.s, g_prep.dev, "asha", &c), SK_ACK_APPLIED);
    if (idtxt)
        sk_id_to_str(&c.id, idtxt);
    sk_change_free(&c);
}

static size_t find_sample(int want_minor, const char *district)
{
    load_sample();
    for (size_t i = 0; i < g_sample.n; i++) {
        const sk_change *c = &g_sample.refs[i].change;
        uint64_t d = 0;
        if (change_bool(c, SK_F_MINOR) != want_minor || !change_bool(c, SK_F_CONSENT_SHARE))
            continue;
        if (change_uint(c, SK_F_DISTRICT, &d) || d != sk_enum_code(SK_ENUM_DISTRICT, district))
            continue;
        return i;
    }
    fail_msg("no sample referral fits");
    return 0;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_usage_and_bad_input(void **state)
{
    (void)state;
    /* Before init: every store command says there is no store. */
    assert_int_equal(run("worker", "list", NULL), 1);
    assert_non_null(strstr(g.e, "no store in"));
    assert_int_equal(run("init", NULL), 0);
    assert_int_equal(run("--help", NULL), 0);
    assert_non_null(strstr(g.o, "usage: sakhi-admin"));
    static const char *const cmds[] = {"init",     "worker",   "enroll-code", "device", "stats",
                                       "tls-cert", "list",     "show",        "accept", "service",
                                       "close",    "followup", "note",        "export", "report",
                                       "backup",   "verify",   "restore",     "audit",  "erase"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_equal(run(cmds[i], "--help", NULL), 0);
        assert_non_null(strstr(g.o, "usage: sakhi-admin"));
    }
    assert_int_equal(run("frobnicate", NULL), 2);
    assert_non_null(strstr(g.e, "unknown command 'frobnicate'"));
    assert_int_equal(run("worker", "list", "--colour", NULL), 2);
    assert_non_null(strstr(g.e, "unknown option --colour"));
    assert_int_equal(run("worker", "add", NULL), 2);
    assert_non_null(strstr(g.e, "needs a worker ID"));
    assert_int_equal(run("worker", "add", "x", NULL), 2);
    assert_non_null(strstr(g.e, "--role"));
    assert_int_equal(run("worker", "add", "x", "--role", "chief", NULL), 2);
    assert_non_null(strstr(g.e, "bad --role 'chief'"));
    assert_int_equal(run("worker", "add", "bad id!", "--role", "field", NULL), 2);
    assert_non_null(strstr(g.e, "bad worker ID"));
    assert_int_equal(run("worker", "add", "x", "--role", "field", "--district", "delhi", NULL), 2);
    assert_int_equal(run("worker", "disable", "ghost", NULL), 1);
    assert_non_null(strstr(g.e, "unknown worker 'ghost'"));
    assert_int_equal(run("enroll-code", NULL), 2);
    assert_non_null(strstr(g.e, "missing argument"));
    assert_int_equal(run("enroll-code", "ghost", NULL), 1);
    assert_non_null(strstr(g.e, "unknown worker 'ghost'"));
    assert_int_equal(run("show", "not-an-id", NULL), 2);
    assert_non_null(strstr(g.e, "bad record id 'not-an-id'"));
    assert_int_equal(run("show", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", NULL), 1);
    assert_non_null(strstr(g.e, "no record 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    assert_int_equal(run("accept", "LEH-2026-000999", NULL), 1);
    assert_non_null(strstr(g.e, "no record with case number LEH-2026-000999"));
    assert_int_equal(run("accept", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "--as", "ghost", NULL),
                     2);
    assert_non_null(strstr(g.e, "--as is refused"));
    assert_int_equal(run("service", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "--service", "massage",
                         "--status", "given", NULL),
                     2);
    assert_non_null(strstr(g.e, "unknown service 'massage'"));
    assert_int_equal(run("close", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", NULL), 2);
    assert_non_null(strstr(g.e, "--reason"));
    assert_int_equal(run("report", NULL), 2);
    assert_int_equal(run("report", "--month", "2026-13", NULL), 2);
    assert_int_equal(run("export", NULL), 2);
    assert_int_equal(run("export", "--format", "xml", NULL), 2);
    assert_int_equal(run("export", "--format", "csv", "--from", "yesterday", NULL), 2);
    assert_int_equal(run("export", "--format", "csv", "--identifying", "--as", "ghost", NULL), 2);
    assert_non_null(strstr(g.e, "--as is refused"));
    assert_int_equal(run("enroll-code", "x", "--ttl", "forever", NULL), 2);
    assert_int_equal(run("device", "revoke", "abc", NULL), 2);
    assert_int_equal(run("device", "revoke", "42", NULL), 1);
    assert_non_null(strstr(g.e, "unknown device 42"));
    assert_int_equal(run("device", "explode", NULL), 2);
    assert_int_equal(run("audit", "--limit", "0", NULL), 2);
    assert_int_equal(run("verify", NULL), 2);
    char missing[400];
    path_in(missing, sizeof(missing), "no-such-backup");
    assert_int_equal(run("verify", missing, NULL), 1);
    assert_int_equal(run("backup", "--key", NULL), 2);
    assert_non_null(strstr(g.e, "needs a value"));
    assert_int_equal(run("tls-cert", "--cn", "x", NULL), 2);
}

static void test_workers_codes_devices(void **state)
{
    (void)state;
    sk_store *s = g_prep.s;
    assert_int_equal(g_prep.dev, 1);
    assert_int_equal(run("--json", "worker", "list", NULL), 0);
    assert_string_equal(g.o,
                        "[{\"id\":\"asha\",\"role\":\"field\",\"district\":\"all\",\"disabled\":"
                        "false},{\"id\":\"boss\",\"role\":\"admin\",\"district\":\"all\","
                        "\"disabled\":false},{\"id\":\"st1\",\"role\":\"staff\",\"district\":"
                        "\"leh\",\"disabled\":false}]\n");
    assert_int_equal(run("worker", "add", "asha", "--role", "staff", NULL), 1);
    assert_non_null(strstr(g.e, "already exists"));
    /* Piped: the code alone, 10 symbols of the unambiguous alphabet. */
    assert_int_equal(run("enroll-code", "st1", "--ttl", "2h", NULL), 0);
    assert_int_equal(strlen(g.o), SK_ENROLL_CODE_LEN + 1);
    assert_int_equal(strspn(g.o, "34679ACDEFGHJKMNPQRTUVWXY"), SK_ENROLL_CODE_LEN);
    char code[16];
    memcpy(code, g.o, SK_ENROLL_CODE_LEN);
    code[SK_ENROLL_CODE_LEN] = '\0';
    assert_int_equal(enroll_device(s, code), 2);
    /* A code works once. */
    {
        MDB_txn *txn;
        sk_device_info d;
        sk_worker w;
        uint8_t pub[SK_PUBKEY_LEN] = {0};
        assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, 0, &txn), 0);
        assert_int_equal(
            sk_store_enroll_txn(s, txn, code, strlen(code), pub, "x", 1, now_ms(), &d, &w),
            -SK_E_ENROLL_CODE);
        mdb_txn_abort(txn);
    }
    assert_int_equal(run("--json", "device", "list", NULL), 0);
    assert_non_null(
        strstr(g.o, "{\"id\":1,\"worker\":\"asha\",\"label\":\"tablet\",\"revoked\":false"));
    assert_non_null(strstr(g.o, "{\"id\":2,\"worker\":\"st1\""));
    assert_int_equal(run("device", "revoke", "1", NULL), 0);
    sk_device_info d;
    assert_int_equal(sk_store_device_get(s, 1, &d), 0);
    assert_int_equal(d.revoked, 1);
    assert_int_equal(sk_store_device_get(s, 2, &d), 0);
    assert_int_equal(d.revoked, 0);
    assert_int_equal(run("--json", "revoke", "1", NULL), 0);
    assert_string_equal(g.o, "{\"device\":1,\"revoked\":true,\"already\":true}\n");
    assert_int_equal(run("revoke", NULL), 2);
    assert_int_equal(run("worker", "disable", "st1", NULL), 0);
    sk_worker w;
    assert_int_equal(sk_store_worker_get(s, "st1", &w), 0);
    assert_int_equal(w.disabled, 1);
    assert_int_equal(run("enroll-code", "st1", NULL), 1);
    assert_non_null(strstr(g.e, "worker 'st1' is disabled"));
    assert_int_equal(run("--json", "stats", NULL), 0);
    assert_non_null(strstr(g.o, "\"records\":0,"));
    assert_non_null(strstr(g.o, "\"workers\":3,\"devices\":2,\"devices_revoked\":1,"));
    assert_non_null(strstr(g.o, "\"map_bytes\":1073741824,"));
    assert_int_equal(run("audit", NULL), 0);
    assert_non_null(strstr(g.o, "revoke"));
    assert_non_null(strstr(g.o, "worker_disable"));
}

/* staff list, as text rows and as one JSON array: every account in name order with its role,
 * whether it has a second factor, and its state (awaiting setup, then disabled). */
static void test_staff_list(void **state)
{
    (void)state;
    assert_int_equal(run("--json", "staff", "list", NULL), 0);
    assert_string_equal(g.o, "[]\n");
    assert_int_equal(run("staff", "list", NULL), 0);
    assert_string_equal(g.o, "");
    assert_int_equal(
        run("staff", "add", "nurse-2", "--role", "caseworker", "--district", "leh", NULL), 0);
    assert_int_equal(run("staff", "add", "desk.lead@leh", "--role", "admin", NULL), 0);
    assert_int_equal(run("staff", "disable", "nurse-2", NULL), 0);
    assert_int_equal(run("--json", "staff", "list", NULL), 0);
    assert_string_equal(g.o, "[{\"name\":\"desk.lead@leh\",\"role\":\"admin\",\"totp\":false,"
                             "\"state\":\"awaiting setup\"},{\"name\":\"nurse-2\",\"role\":"
                             "\"caseworker\",\"totp\":false,\"state\":\"disabled\"}]\n");
    assert_int_equal(run("staff", "list", NULL), 0);
    assert_string_equal(g.o, "desk.lead@leh            admin       -     awaiting setup\n"
                             "nurse-2                  caseworker  -     disabled\n");
    assert_int_equal(run("staff", "list", "extra", NULL), 2);
}

/* A change refused after it was decided (here: the accepted record is too large to pull in one
 * frame) writes nothing but its op's answer and an audit entry: the record, the change log's
 * seq and the district's case serial are as before, so the next acceptance gets serial 1. */
static void test_refused_change_leaves_no_trace(void **state)
{
    (void)state;
    sk_store *s = g_prep.s;
    char id1[37], msg[512], expect[40];
    insert_sample(find_sample(0, "leh"), 1, NULL, id1);
    sk_id id;
    sk_record cur;
    uint64_t records, seq_before, seq_after, v;
    assert_int_equal(sk_id_from_str(&id, id1), 0);
    assert_int_equal(sk_store_record_get(s, &id, &cur), 0);
    assert_int_equal(sk_store_stats(s, &records, &seq_before), 0);

    sk_actor staff = {SK_ROLE_STAFF, "st1", (uint32_t)sk_enum_code(SK_ENUM_DISTRICT, "leh")};
    sk_change c;
    sk_change_init(&c);
    c.id = cur.id;
    c.op = 1;
    c.base = cur.version;
    sk_clock clk = {0, 0};
    sk_clock_observe(&clk, cur.updated);
    c.hlc = sk_clock_now(&clk, now_ms());
    c.kind = SK_CHANGE_UPSERT;
    uint8_t accepted = SK_STATUS_ACCEPTED;
    assert_int_equal(sk_change_set(&c, SK_F_STATUS, &accepted, 1), 0);

    sk_ack ack = apply_as(s, 0, staff, &c, 64, msg, sizeof(msg));
    assert_int_equal(ack.status, SK_ACK_REJECTED);
    assert_int_equal(ack.code, SK_E_INVALID);
    assert_non_null(strstr(msg, "too large to sync"));
    sk_record after;
    assert_int_equal(sk_store_record_get(s, &id, &after), 0);
    assert_int_equal(after.version, cur.version);
    assert_null(sk_record_field(&after, SK_F_CASE_NO));
    sk_record_free(&after);
    assert_int_equal(sk_store_stats(s, &records, &seq_after), 0);
    assert_int_equal(seq_after, seq_before);
    /* The op keeps its answer: the same change again is refused the same way. */
    ack = apply_as(s, 0, staff, &c, 1u << 20, msg, sizeof(msg));
    assert_int_equal(ack.status, SK_ACK_REJECTED);

    /* A new op with room enough: applied, and the case serial is the first of the year. */
    c.op = 2;
    ack = apply_as(s, 0, staff, &c, 1u << 20, msg, sizeof(msg));
    assert_int_equal(ack.status, SK_ACK_APPLIED);
    assert_int_equal(sk_store_record_get(s, &id, &after), 0);
    assert_int_equal(sk_case_get_uint(&after, SK_F_STATUS, &v), 0);
    assert_int_equal(v, SK_STATUS_ACCEPTED);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char no[40];
    snprintf(expect, sizeof(expect), "LEH-%04d-000001", tm.tm_year + 1900);
    assert_int_equal(sk_case_get_str(&after, SK_F_CASE_NO, no, sizeof(no)), 0);
    assert_string_equal(no, expect);
    sk_record_free(&after);
    sk_change_free(&c);
    sk_record_free(&cur);
}

static void test_case_actions(void **state)
{
    (void)state;
    sk_store *s = g_prep.s;
    char id1[37], id2[37], idk[37], expect[96];
    insert_sample(find_sample(0, "leh"), 1, NULL, id1);
    load_sample();
    /* A second Leh referral and a Kargil one. */
    size_t i1 = find_sample(0, "leh"), i2 = i1 + 1;
    uint64_t dd;
    while (change_uint(&g_sample.refs[i2].change, SK_F_DISTRICT, &dd) || dd != SK_DISTRICT_LEH)
        i2++;
    insert_sample(i2, 2, NULL, id2);
    insert_sample(find_sample(0, "kargil"), 3, NULL, idk);

    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    /* The workflow is the apply path's: a received referral cannot be closed. */
    assert_int_equal(run("close", id1, "--reason", "duplicate", NULL), 1);
    assert_non_null(strstr(g.e, "refused: status: cannot go from received to closed"));
    assert_non_null(strstr(g.e, "(TRANSITION)"));
    assert_int_equal(run("accept", id1, NULL), 0);
    snprintf(expect, sizeof(expect), "LEH-%04d-000001\n", tm.tm_year + 1900);
    assert_string_equal(g.o, expect);
    assert_int_equal(run("accept", idk, NULL), 0);
    snprintf(expect, sizeof(expect), "KGL-%04d-000001\n", tm.tm_year + 1900);
    assert_string_equal(g.o, expect);
    /* The operator (the Unix account) accepts; nobody else can be claimed with --as. */
    assert_int_equal(run("--json", "accept", id2, NULL), 0);
    snprintf(expect, sizeof(expect),
             "\"status\":\"accepted\",\"case_no\":\"LEH-%04d-000002\",\"outcome\":\"done\"}",
             tm.tm_year + 1900);
    assert_non_null(strstr(g.o, expect));
    assert_int_equal(
        run("service", idk, "--service", "legal_aid", "--status", "given", "--as", "st1", NULL), 2);
    assert_non_null(strstr(g.e, "--as is refused"));
    assert_int_equal(run("accept", id1, "--as", "asha", NULL), 2);
    /* Accepting twice is refused before anything is written. */
    assert_int_equal(run("accept", id1, NULL), 1);
    snprintf(expect, sizeof(expect), "refused: already accepted as LEH-%04d-000001",
             tm.tm_year + 1900);
    assert_non_null(strstr(g.e, expect));

    assert_int_equal(run("service", id1, "--service", "legal_aid", "--status", "given", NULL), 0);
    snprintf(expect, sizeof(expect), "LEH-%04d-000001", tm.tm_year + 1900);
    assert_int_equal(run("followup", expect, "Called; she is safe at her sister's.", NULL), 0);
    assert_int_equal(run("note", id1, "DLSA lawyer assigned.", NULL), 0);
    assert_int_equal(run("close", id1, NULL), 2);
    assert_int_equal(run("close", id1, "--reason", "services given", NULL), 0);

    sk_record r;
    sk_id id;
    uint64_t v;
    char no[40];
    assert_int_equal(sk_id_from_str(&id, id1), 0);
    assert_int_equal(sk_store_record_get(s, &id, &r), 0);
    assert_int_equal(sk_case_get_uint(&r, SK_F_STATUS, &v), 0);
    assert_int_equal(v, SK_STATUS_CLOSED);
    assert_int_equal(sk_case_get_uint(&r, SK_F_SERVICE_BASE + SK_SERVICE_LEGAL, &v), 0);
    assert_int_equal(v, SK_SVC_GIVEN);
    assert_int_equal(sk_case_get_str(&r, SK_F_CASE_NO, no, sizeof(no)), 0);
    assert_string_equal(no, expect);
    assert_int_equal(sk_case_get_str(&r, SK_F_STATUS_REASON, no, sizeof(no)), 0);
    assert_string_equal(no, "services given");
    uint32_t nf = 0, nn = 0;
    for (uint32_t i = 0; i < r.nentries; i++) {
        nf += r.entries[i].list == SK_LIST_FOLLOWUP;
        nn += r.entries[i].list == SK_LIST_CASENOTE;
    }
    load_sample();
    uint32_t sample_followups = 0;
    for (uint32_t i = 0; i < g_sample.refs[i1].change.nentries; i++)
        sample_followups += g_sample.refs[i1].change.entries[i].list == SK_LIST_FOLLOWUP;
    assert_int_equal(nf, sample_followups + 1);
    assert_int_equal(nn, 1);
    sk_record_free(&r);

    /* sakhi-admin's ops are device 0's, numbered from 1 without gaps by successful actions. */
    {
        MDB_txn *txn;
        sk_ack ack;
        char msg[300];
        assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, MDB_RDONLY, &txn), 0);
        for (uint64_t op = 1; op <= 7; op++)
            assert_int_equal(sk_store_op_get_txn(s, txn, 0, op, &ack, msg, sizeof(msg)), 0);
        assert_int_equal(sk_store_op_get_txn(s, txn, 0, 8, &ack, msg, sizeof(msg)),
                         -SK_E_NOT_FOUND);
        mdb_txn_abort(txn);
    }
    assert_int_equal(run("--json", "list", "--status", "closed", NULL), 0);
    assert_int_equal(sk_text_count(g.o, "\n"), 1);
    assert_non_null(strstr(g.o, id1));
    assert_int_equal(run("list", NULL), 0);
    assert_int_equal(sk_text_count(g.o, "\n"), 3);
}

static void test_export_minor(void **state)
{
    (void)state;
    char idm[37], ida[37], file[400];
    insert_sample(find_sample(1, "leh"), 1, CANARY, idm);
    insert_sample(find_sample(0, "leh"), 2, "Zqadult Name", ida);

    assert_int_equal(run("export", "--format", "csv", NULL), 0);
    assert_null(strstr(g.o, "Zqcanary"));
    assert_non_null(strstr(g.o, "Zqadult Name"));
    assert_int_equal(sk_text_count(g.o, "\n"), 3);
    assert_non_null(strstr(g.o, "id,version,review,redacted,schema,created_at,"));
    char row[64];
    snprintf(row, sizeof(row), "%s,", idm);
    const char *mrow = strstr(g.o, row);
    assert_non_null(mrow);
    assert_memory_equal(strchr(mrow + 37, ',') + 1, "false,true,", 11); /* review, redacted */
    assert_int_equal(run("export", "--format", "jsonl", NULL), 0);
    assert_null(strstr(g.o, "Zqcanary"));
    assert_non_null(strstr(g.o, "{\"redacted\":true,"));
    assert_int_equal(sk_text_count(g.o, "\n"), 2);
    /* Nobody is claimed with --as; the operator (the shell administrator) may lift it. */
    assert_int_equal(run("export", "--format", "csv", "--identifying", "--as", "st1", NULL), 2);
    assert_non_null(strstr(g.e, "--as is refused"));
    assert_string_equal(g.o, "");
    assert_int_equal(run("export", "--format", "jsonl", "--identifying", NULL), 0);
    assert_non_null(strstr(g.o, CANARY));
    assert_null(strstr(g.o, "\"redacted\""));
    /* To a file, with filters. */
    path_in(file, sizeof(file), "export.csv");
    assert_int_equal(run("export", "--format", "csv", "--status", "received", "--out", file, NULL),
                     0);
    char *txt = sk_admin_slurp(file, NULL);
    assert_int_equal(sk_text_count(txt, "\n"), 3);
    assert_null(strstr(txt, "Zqcanary"));
    free(txt);
    assert_int_equal(run("export", "--format", "csv", "--out", file, NULL),
                     1); /* never overwrites */
    assert_int_equal(run("export", "--format", "csv", "--status", "closed", NULL), 0);
    assert_int_equal(sk_text_count(g.o, "\n"), 1);
    assert_int_equal(run("export", "--format", "jsonl", "--from", "2100-01-01", NULL), 0);
    assert_string_equal(g.o, "");
    /* show: redacted by default, identifying for an admin only. */
    assert_int_equal(run("show", idm, NULL), 0);
    assert_null(strstr(g.o, "Zqcanary"));
    assert_non_null(strstr(g.o, "\"redacted\":true"));
    assert_int_equal(run("show", idm, "--identifying", "--as", "st1", NULL), 2);
    assert_int_equal(run("show", idm, "--identifying", NULL), 0);
    assert_non_null(strstr(g.o, CANARY));
    assert_int_equal(run("show", ida, NULL), 0);
    assert_non_null(strstr(g.o, "Zqadult Name"));
    /* Every export is in the audit log, with who and how; the refusal too. */
    assert_int_equal(run("--json", "audit", NULL), 0);
    assert_int_equal(sk_text_count(g.o, "\"event\":\"export\""), 6);
    char who[160];
    struct passwd *pw = getpwuid(geteuid());
    assert_non_null(pw);
    snprintf(who, sizeof(who), "\"event\":\"export\",\"worker\":\"unix:%s\"", pw->pw_name);
    assert_non_null(strstr(g.o, who));
    assert_non_null(strstr(g.o, "identifying=1"));
    snprintf(who, sizeof(who), "\"event\":\"show\",\"worker\":\"unix:%s\"", pw->pw_name);
    assert_non_null(strstr(g.o, who));
    assert_null(strstr(g.o, "Zqcanary"));
}

/* Expected report counts for month [from, to), computed from the sample's changes. */
static void test_report(void **state)
{
    (void)state;
    load_sample();
    for (size_t i = 0; i < g_sample.n; i++)
        insert_sample(i, i + 1, NULL, NULL);
    uint64_t from, to;
    assert_int_equal(sk_sample_parse_time("2026-06-01T00:00:00Z", &from), 0);
    assert_int_equal(sk_sample_parse_time("2026-07-01T00:00:00Z", &to), 0);
    uint64_t total = 0, concern[16] = {0}, source[16] = {0}, needed[8] = {0}, minors = 0;
    for (size_t i = 0; i < g_sample.n; i++) {
        const sk_sample_ref *r = &g_sample.refs[i];
        if (r->created_ms < from || r->created_ms >= to)
            continue;
        total++;
        minors += change_bool(&r->change, SK_F_MINOR);
        uint64_t v;
        if (change_uint(&r->change, SK_F_SOURCE, &v) == 0 && v < 16)
            source[v]++;
        for (uint32_t s2 = 1; s2 <= SK_SERVICE_COUNT; s2++)
            if (change_uint(&r->change, SK_F_SERVICE_BASE + s2, &v) == 0 && v == SK_SVC_NEEDED)
                needed[s2]++;
        for (uint32_t f = 0; f < r->change.nfields; f++) {
            if (r->change.fields[f].key != SK_F_CONCERNS)
                continue;
            sk_mp m;
            uint32_t n;
            sk_mp_init(&m, r->change.fields[f].val, r->change.fields[f].len);
            assert_int_equal(sk_mp_read_array(&m, &n), 0);
            for (uint32_t k = 0; k < n; k++) {
                assert_int_equal(sk_mp_read_uint(&m, &v), 0);
                concern[v]++;
            }
        }
    }
    assert_int_equal(total, 21);
    assert_int_equal(run("--json", "report", "--month", "2026-06", "--utc", NULL), 0);
    sk_json *js;
    assert_int_equal(sk_json_parse(&js, g.o, strlen(g.o), NULL), 0);
    int64_t x;
    assert_int_equal(sk_json_get_int(js, "total", &x), 0);
    assert_int_equal(x, (int64_t)total);
    assert_int_equal(sk_json_get_int(js, "minors", &x), 0);
    assert_true(x >= (int64_t)minors);
    const sk_json *bs = sk_json_get(js, "by_status");
    assert_int_equal(sk_json_get_int(bs, "received", &x), 0);
    assert_int_equal(x, (int64_t)total);
    assert_int_equal(sk_json_get_int(bs, "accepted", &x), 0);
    assert_int_equal(x, 0);
    const sk_json *bc = sk_json_get(js, "by_concern");
    for (uint32_t c = 1; c <= sk_enum_max(SK_ENUM_CONCERN); c++) {
        assert_int_equal(sk_json_get_int(bc, sk_enum_name(SK_ENUM_CONCERN, c), &x), 0);
        assert_int_equal(x, (int64_t)concern[c]);
    }
    const sk_json *bso = sk_json_get(js, "by_source");
    for (uint32_t c = 1; c <= sk_enum_max(SK_ENUM_SOURCE); c++) {
        assert_int_equal(sk_json_get_int(bso, sk_enum_name(SK_ENUM_SOURCE, c), &x), 0);
        assert_int_equal(x, (int64_t)source[c]);
    }
    const sk_json *bsv = sk_json_get(js, "by_service");
    for (uint32_t c = 1; c <= SK_SERVICE_COUNT; c++) {
        const sk_json *one = sk_json_get(bsv, sk_enum_name(SK_ENUM_SERVICE, c));
        assert_non_null(one);
        assert_int_equal(sk_json_get_int(one, "needed", &x), 0);
        assert_int_equal(x, (int64_t)needed[c]);
        assert_int_equal(sk_json_get_int(one, "given", &x), 0);
        assert_int_equal(x, 0);
    }
    sk_json_free(js);
    /* Accept one June referral: the report moves it from received to accepted. */
    for (size_t i = 0; i < g_sample.n; i++) {
        if (g_sample.refs[i].created_ms >= from && g_sample.refs[i].created_ms < to) {
            char idt[37];
            sk_id_to_str(&g_sample.refs[i].change.id, idt);
            assert_int_equal(run("accept", idt, NULL), 0);
            break;
        }
    }
    assert_int_equal(run("--json", "report", "--month", "2026-06", "--utc", NULL), 0);
    assert_int_equal(sk_json_parse(&js, g.o, strlen(g.o), NULL), 0);
    bs = sk_json_get(js, "by_status");
    assert_int_equal(sk_json_get_int(bs, "received", &x), 0);
    assert_int_equal(x, (int64_t)total - 1);
    assert_int_equal(sk_json_get_int(bs, "accepted", &x), 0);
    assert_int_equal(x, 1);
    sk_json_free(js);
    /* The text table carries the same totals. */
    assert_int_equal(run("report", "--month", "2026-06", "--utc", NULL), 0);
    assert_non_null(strstr(g.o, "Monthly report 2026-06"));
    assert_int_equal(run("--json", "report", "--month", "1999-01", NULL), 0);
    assert_non_null(strstr(g.o, "\"total\":0,"));
    assert_int_equal(run("--json", "stats", NULL), 0);
    assert_non_null(strstr(g.o, "\"records\":200,"));
}

static long find_bytes(const char *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return (long)i;
    return -1;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void test_backup_verify(void **state)
{
    (void)state;
    sk_store *s = g_prep.s;
    char idm[37], plain[400], enc[400], key[400], key2[400], bad[400], rest[400];
    insert_sample(find_sample(1, "leh"), 1, CANARY, idm);
    for (size_t i = 0; i < 20; i++)
        insert_sample(i, i + 2, NULL, NULL);
    assert_int_equal(run("accept", idm, NULL), 0);
    path_in(plain, sizeof(plain), "plain.bak");
    path_in(enc, sizeof(enc), "enc.bak");
    path_in(key, sizeof(key), "backup.key");
    path_in(key2, sizeof(key2), "other.key");
    path_in(bad, sizeof(bad), "bad.bak");
    path_in(rest, sizeof(rest), "restored");
    write_file(key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", 65);
    write_file(key2, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", 64);

    assert_int_equal(run("backup", plain, "--unencrypted", NULL), 0);
    assert_int_equal(run("--json", "verify", plain, NULL), 0);
    assert_non_null(strstr(g.o, "\"ok\":true"));
    assert_non_null(strstr(g.o, "\"records\":21,"));
    assert_int_equal(run("backup", plain, "--unencrypted", NULL), 1); /* never overwrites */
    assert_non_null(strstr(g.e, "cannot create"));

    /* Records are sealed at rest: no referral text in the backup; it carries keys.db, and the
     * master key only when encrypted (docs/SECURITY.md, "Server secrets"). */
    size_t len;
    char *img = sk_admin_slurp(plain, &len);
    assert_memory_equal(img, "SKBUNDLE", 8);
    assert_true(find_bytes(img, len, CANARY) < 0);
    assert_true(find_bytes(img, len, "keys.db") > 0);
    assert_true(find_bytes(img, len, "master.key") < 0);
    /* Without the record keys the records do not open: verify says so. */
    char d1[400], kf[500], mk[600];
    path_in(d1, sizeof(d1), "d1");
    snprintf(mk, sizeof(mk), "%s.keys/master.key", g.data);
    assert_int_equal(run("restore", plain, d1, NULL), 1);
    assert_non_null(strstr(g.e, "holds no master key"));
    assert_int_equal(run("restore", plain, d1, "--master-key", mk, NULL), 0);
    snprintf(kf, sizeof(kf), "%s/keys.db", d1);
    size_t klen;
    char *kimg = sk_admin_slurp(kf, &klen);
    assert_true(klen >= 64 * 21);
    memset(kimg, 0, klen);
    unlink(kf);
    write_file(kf, kimg, klen);
    free(kimg);
    assert_int_equal(run("verify", d1, NULL), 1);
    assert_non_null(strstr(g.e, "records: entry 1 does not decrypt or decode"));
    /* Damage both meta pages of data.mdb (it starts at byte 25 of the bundle). */
    memset(img + 25, 0x5a, 8192);
    write_file(bad, img, len);
    assert_int_equal(run("verify", bad, NULL), 1);
    assert_non_null(strstr(g.e, "not a readable store"));
    unlink(bad);
    /* A bundle cut short. */
    free(img);
    img = sk_admin_slurp(plain, &len);
    write_file(bad, img, len - 10);
    assert_int_equal(run("verify", bad, NULL), 1);
    assert_non_null(strstr(g.e, "damaged bundle"));
    unlink(bad);
    free(img);

    /* Encrypted: no plaintext in the file; needs the right key; any change is caught. */
    assert_int_equal(run("backup", enc, "--key", key, NULL), 0);
    img = sk_admin_slurp(enc, &len);
    assert_memory_equal(img, "SKBACKUP", 8);
    assert_true(find_bytes(img, len, CANARY) < 0);
    assert_true(find_bytes(img, len, "Zqcanary") < 0);
    assert_int_equal(run("verify", enc, NULL), 2);
    assert_non_null(strstr(g.e, "encrypted backup: give --key"));
    assert_int_equal(run("--json", "verify", enc, "--key", key, NULL), 0);
    assert_non_null(strstr(g.o, "\"ok\":true,\"encrypted\":true"));
    assert_non_null(strstr(g.o, "\"records\":21,"));
    assert_int_equal(run("verify", enc, "--key", key2, NULL), 1);
    assert_non_null(strstr(g.e, "fails authentication"));
    img[200] ^= 0x01; /* inside the first chunk's ciphertext */
    write_file(bad, img, len);
    assert_int_equal(run("verify", bad, "--key", key, NULL), 1);
    assert_non_null(strstr(g.e, "chunk 0 fails authentication"));
    unlink(bad);
    img[200] ^= 0x01;
    write_file(bad, img, len - 100); /* truncated */
    assert_int_equal(run("verify", bad, "--key", key, NULL), 1);
    assert_non_null(strstr(g.e, "truncated"));
    unlink(bad);
    write_file(bad, img, len);
    FILE *f = fopen(bad, "ab"); /* extended */
    assert_non_null(f);
    fputs("x", f);
    fclose(f);
    assert_int_equal(run("verify", bad, "--key", key, NULL), 1);
    assert_non_null(strstr(g.e, "follows the final chunk"));
    free(img);

    /* Restore the encrypted backup and read it through the store. */
    assert_int_equal(run("restore", enc, rest, "--key", key, NULL), 0);
    sk_store *r2;
    uint64_t recs, seq, recs0, seq0;
    assert_int_equal(sk_store_open(&r2, rest, 0), 0);
    assert_int_equal(sk_store_stats(r2, &recs, &seq), 0);
    assert_int_equal(sk_store_stats(s, &recs0, &seq0), 0);
    assert_int_equal(recs, 21);
    assert_int_equal(recs, recs0);
    assert_int_equal(seq, seq0);
    sk_id id;
    sk_record rec;
    char no[40];
    assert_int_equal(sk_id_from_str(&id, idm), 0);
    assert_int_equal(sk_store_record_get(r2, &id, &rec), 0);
    assert_int_equal(sk_case_get_str(&rec, SK_F_NAME, no, sizeof(no)), 0);
    assert_string_equal(no, CANARY);
    sk_record_free(&rec);
    sk_store_close(r2);
    assert_int_equal(run("restore", plain, rest, NULL), 1); /* never over a store */
    assert_int_equal(run("audit", NULL), 0);
    assert_non_null(strstr(g.o, "backup"));
}

/* Erasure by an administrator: the record becomes a tombstone, its key is shredded after the
 * commit, so a backup taken before no longer opens with the key file as it is now. */
static void test_erase(void **state)
{
    (void)state;
    sk_store *s = g_prep.s;
    char idm[37], before[400], dx[400], kf[600], src[600];
    insert_sample(find_sample(1, "leh"), 1, CANARY, idm);
    path_in(before, sizeof(before), "before.bak");
    char bkey[600];
    snprintf(bkey, sizeof(bkey), "%s.keys/backup-restore.key", g.data);
    assert_int_equal(run("backup", before, NULL), 0);
    assert_int_equal(run("erase", idm, NULL), 2);
    assert_non_null(strstr(g.e, "--reason must be one of"));
    assert_int_equal(run("erase", idm, "--reason", "free text here", NULL), 2);
    assert_int_equal(run("erase", idm, "--reason", "duplicate", "--as", "st1", NULL), 2);
    assert_non_null(strstr(g.e, "--as is refused"));
    assert_int_equal(run("erase", idm, "--reason", "duplicate", NULL), 0);
    sk_id id;
    sk_record rec;
    assert_int_equal(sk_id_from_str(&id, idm), 0);
    assert_int_equal(sk_store_record_get(s, &id, &rec), 0);
    assert_int_equal(rec.flags & (SK_REC_TOMBSTONE | SK_REC_ERASED),
                     SK_REC_TOMBSTONE | SK_REC_ERASED);
    /* only who may see it is left (worker, assigned, district), so the erasure reaches the
     * devices that held the record; nothing about the survivor */
    for (uint32_t i = 0; i < rec.nfields; i++)
        assert_true(rec.fields[i].key == SK_F_WORKER || rec.fields[i].key == SK_F_ASSIGNED ||
                    rec.fields[i].key == SK_F_DISTRICT);
    assert_int_equal(rec.nentries, 0);
    sk_record_free(&rec);
    assert_int_equal(run("audit", NULL), 0);
    assert_non_null(strstr(g.o, "reason=duplicate"));
    /* The old backup with today's keys.db: the erased record's key is zeros. */
    path_in(dx, sizeof(dx), "dx");
    assert_int_equal(run("restore", before, dx, "--backup-key", bkey, NULL), 0);
    snprintf(kf, sizeof(kf), "%s/keys.db", dx);
    snprintf(src, sizeof(src), "%s/keys.db", g.data);
    size_t klen;
    char *kimg = sk_admin_slurp(src, &klen);
    unlink(kf);
    write_file(kf, kimg, klen);
    free(kimg);
    assert_int_equal(run("verify", dx, NULL), 1);
    assert_non_null(strstr(g.e, "records: entry 1 does not decrypt or decode"));
    /* Erasing it again is refused by the store's rules or a no-op, never a crash. */
    int rc = run("erase", idm, "--reason", "duplicate", NULL);
    assert_true(rc == 0 || rc == 1);
}

/* Modify the audit value at seq with fn, directly in LMDB (an attacker with the disk). */
static void tamper(const char *data, uint64_t seq, int delete_it)
{
    sk_store *s;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[8];
    MDB_val k = {8, key}, v;
    assert_int_equal(sk_store_open(&s, data, 0), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "audit", 0, &dbi), 0);
    sk_be64_put(key, seq);
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    if (delete_it) {
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    } else {
        uint8_t *copy = malloc(v.mv_size);
        assert_non_null(copy);
        memcpy(copy, v.mv_data, v.mv_size);
        long at = find_bytes((const char *)copy, v.mv_size, "role=field");
        assert_true(at >= 0);
        memcpy(copy + at, "role=admin", 10);
        MDB_val nv = {v.mv_size, copy};
        assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
        free(copy);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(s);
}

/* Retention as the store does it: drop entries 1..upto, record seq || H(seq) of the last one
 * dropped in meta "audit_pruned" (with record_it 0, drop them without saying so). */
static void prune(const char *data, uint64_t upto, int record_it)
{
    sk_store *s;
    MDB_txn *txn;
    MDB_dbi dbi, meta;
    uint8_t key[8], rec[40];
    MDB_val k = {8, key}, v;
    unsigned int hl = 0;
    assert_int_equal(sk_store_open(&s, data, 0), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(s), NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "audit", 0, &dbi), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    for (uint64_t seq = 1; seq <= upto; seq++) {
        sk_be64_put(key, seq);
        assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
        if (seq == upto) {
            EVP_MD_CTX *md = EVP_MD_CTX_new();
            assert_non_null(md);
            assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
            assert_int_equal(EVP_DigestUpdate(md, key, 8), 1);
            assert_int_equal(EVP_DigestUpdate(md, v.mv_data, v.mv_size), 1);
            assert_int_equal(EVP_DigestFinal_ex(md, rec + 8, &hl), 1);
            EVP_MD_CTX_free(md);
            sk_be64_put(rec, seq);
        }
        assert_int_equal(mdb_del(txn, dbi, &k, NULL), 0);
    }
    if (record_it) {
        MDB_val pk = {12, (void *)"audit_pruned"}, pv = {40, rec};
        assert_int_equal(mdb_put(txn, meta, &pk, &pv, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    sk_store_close(s);
}

/* g works from now on on a restore of the backup copy (sealed to bkey) into dir/name. */
static void use_restored(const char *copy, const char *bkey, const char *name)
{
    char other[400];
    path_in(other, sizeof(other), name);
    assert_int_equal(run("restore", copy, other, "--backup-key", bkey, NULL), 0);
    snprintf(g.data, sizeof(g.data), "%s", other);
}

/* sakhi-admin audit --verify fails and names entry as the first whose chain link fails. */
static void assert_chain_breaks_at(unsigned entry)
{
    char want[64];
    snprintf(want, sizeof(want), "TAMPERED: the chain breaks at entry %u ", entry);
    assert_int_equal(run("audit", "--verify", NULL), 1);
    assert_non_null(strstr(g.e, want));
}

static void test_audit_chain(void **state)
{
    (void)state;
    assert_int_equal(run("init", NULL), 0);                                        /* 1 */
    assert_int_equal(run("worker", "add", "asha", "--role", "field", NULL), 0);    /* 2 */
    assert_int_equal(run("worker", "add", "boss", "--role", "admin", NULL), 0);    /* 3 */
    assert_int_equal(run("worker", "add", "rinchen", "--role", "field", NULL), 0); /* 4 */
    assert_int_equal(run("worker", "disable", "rinchen", NULL), 0);                /* 5 */
    assert_int_equal(run("export", "--format", "csv", NULL), 0);                   /* 6 */
    assert_int_equal(run("audit", "--verify", NULL), 0);
    assert_string_equal(g.o, "audit log verified: 6 entries, chain intact\n");
    assert_int_equal(run("--json", "audit", "--verify", NULL), 0);
    assert_string_equal(g.o, "{\"ok\":true,\"entries\":6,\"problem\":null,\"seq\":null}\n");
    assert_int_equal(run("--json", "audit", "--limit", "2", NULL), 0);
    assert_int_equal(sk_text_count(g.o, "\n"), 2);
    assert_non_null(strstr(g.o, "\"seq\":5,"));
    assert_non_null(strstr(g.o, "\"seq\":6,"));

    /* Copy the data directory so each kind of tampering starts from a good log. */
    char copy[400];
    path_in(copy, sizeof(copy), "copy.bak");
    char bkey[600];
    snprintf(bkey, sizeof(bkey), "%s.keys/backup-restore.key", g.data);
    assert_int_equal(run("backup", copy, NULL), 0); /* 7 */
    assert_int_equal(run("audit", "--verify", NULL), 0);

    /* An altered middle entry: entry 2 ("role=field") becomes "role=admin". */
    tamper(g.data, 2, 0);
    /* The store reports the first entry whose link fails: the one after the altered one. */
    assert_chain_breaks_at(3);
    assert_int_equal(run("--json", "audit", "--verify", NULL), 1);
    assert_non_null(strstr(g.o, "\"ok\":false"));
    assert_non_null(strstr(g.o, "\"seq\":3}"));

    /* A removed entry, in a fresh copy. */
    use_restored(copy, bkey, "other");
    assert_int_equal(run("audit", "--verify", NULL), 0);
    tamper(g.data, 3, 1);
    assert_chain_breaks_at(3);

    /* The last entry removed, and the last entry altered. */
    use_restored(copy, bkey, "other2");
    tamper(g.data, 6, 1);
    assert_chain_breaks_at(6);
    use_restored(copy, bkey, "other3");
    /* 7 is the restore's new epoch (audited in the restored copy) */
    assert_int_equal(run("worker", "add", "dolma", "--role", "field", NULL), 0); /* 8, the head */
    assert_int_equal(run("audit", "--verify", NULL), 0);
    tamper(g.data, 8, 0);
    assert_chain_breaks_at(8);

    /* Retention: old entries pruned with the record of where the chain resumes verify;
     * entries dropped without that record do not. */
    use_restored(copy, bkey, "other4");
    prune(g.data, 3, 1);
    assert_int_equal(run("audit", "--verify", NULL), 0);
    /* 4 to 6, and 7: the restore's new epoch */
    assert_string_equal(g.o, "audit log verified: 4 entries, chain intact\n");
    use_restored(copy, bkey, "other5");
    prune(g.data, 3, 0);
    assert_chain_breaks_at(1);
}

/* Entries written without a chain hash (here: an enrollment code, which the store writes in a
 * transaction of its own) make the log unverifiable, and --verify says so. */
static void test_audit_unchained(void **state)
{
    (void)state;
    assert_int_equal(run("init", NULL), 0);
    assert_int_equal(run("worker", "add", "asha", "--role", "field", NULL), 0);
    assert_int_equal(run("enroll-code", "asha", NULL), 0);
    int rc = run("audit", "--verify", NULL);
    if (rc == 0) {
        /* The store chains its own entries: nothing to report as unverifiable. */
        assert_string_equal(g.o, "audit log verified: 3 entries, chain intact\n");
        return;
    }
    assert_int_equal(rc, 1);
    assert_non_null(strstr(g.e, "UNVERIFIABLE: 1 of 3 entries carry no chain hash"));
}

static void test_tls_cert(void **state)
{
    (void)state;
    char dir[400], crt[500];
    path_in(dir, sizeof(dir), "tls");
    assert_int_equal(run("--json", "tls-cert", "--cn", "Leh OSC", "--out", dir, NULL), 0);
    assert_non_null(strstr(g.o, "\"pin\":\""));
    snprintf(crt, sizeof(crt), "%s/server.key", dir);
    struct stat st;
    assert_int_equal(stat(crt, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Never overwrites the key devices pin. */
    assert_int_equal(run("tls-cert", "--cn", "Leh OSC", "--out", dir, NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ADMIN_TEST(test_usage_and_bad_input),
        PREPARED_TEST(test_workers_codes_devices),
        PREPARED_TEST(test_staff_list),
        PREPARED_TEST(test_case_actions),
        PREPARED_TEST(test_refused_change_leaves_no_trace),
        PREPARED_TEST(test_export_minor),
        PREPARED_TEST(test_report),
        PREPARED_TEST(test_backup_verify),
        PREPARED_TEST(test_erase),
        ADMIN_TEST(test_audit_chain),
        ADMIN_TEST(test_audit_unchained),
        ADMIN_TEST(test_tls_cert),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sk_sample_free(&g_sample);
    return rc;
}
