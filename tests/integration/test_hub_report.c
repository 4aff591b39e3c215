/*
 * test_hub_report.c - a hub of centres with real processes (docs/REPLICATION.md, "Hub of
 * centres"): a hub over TLS and two centres, Leh and Kargil, each with sample referrals
 * pushed by a device and worked by the centre's administrator (accepted, a service given,
 * closed).
 *  - figures: once each centre's feed has caught up, the hub's `report --json` for a month
 *    gives, for each centre, exactly the object the centre's own report gives, and for all
 *    centres their sum, number by number;
 *  - nothing identifying reaches the hub: no name, phone, village, block or note of any
 *    referral, no device-side id, in any byte of the hub's directory (store, keys, log); every
 *    case the hub holds passes the de-identification table;
 *  - sent again, counted once: a centre whose cursor is lost (set back to 0) sends everything
 *    again (the hub stores none of it anew), a centre killed with SIGKILL while it sends 300 new
 *    cases restarts and goes on, and so does a hub killed while a centre sends; the hub's
 *    figures stay exactly the centres' own and it holds each case once.
 *  - a centre pushes only for itself and only de-identified cases: a centre's key that pushes
 *    a case with a name gets ERROR FORBIDDEN and the hub holds nothing of it; a field worker's
 *    device on the hub cannot send HUB_PUSH at all, and its PUSH of a referral is FORBIDDEN.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_admin_run.h"
#include "sk_case.h"
#include "sk_deid.h"
#include "sk_err.h"
#include "sk_hub.h"
#include "sk_hubmsg.h"
#include "sk_replmsg.h"
#include "sk_sample.h"
#include "sk_testclient.h"
#include "sk_testdevice.h"
#include "sk_testhub.h"
#include "sk_testserver.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS 40000
#define PER_CENTRE 12

static sk_sample g_sample;

static uint64_t json_u64(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(text, pat);
    assert_non_null(p);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* The report object that follows "key": in text (balanced braces; no braces inside strings
 * here). */
static char *json_object(const char *text, const char *key)
{
    char pat[80];
    snprintf(pat, sizeof(pat), "\"%s\":{\"month\":", key);
    const char *p = strstr(text, pat);
    assert_non_null(p);
    p += strlen(key) + 3;
    int depth = 0;
    const char *q = p;
    for (; *q; q++) {
        depth += *q == '{';
        depth -= *q == '}';
        if (depth == 0)
            break;
    }
    assert_int_equal(*q, '}');
    size_t n = (size_t)(q - p) + 1;
    char *o = malloc(n + 1);
    assert_non_null(o);
    memcpy(o, p, n);
    o[n] = '\0';
    return o;
}

/* The numbers of a JSON text outside strings, in order (at most cap). */
static size_t json_numbers(const char *t, uint64_t *out, size_t cap)
{
    size_t n = 0;
    int in_str = 0;
    for (const char *p = t; *p; p++) {
        if (*p == '"' && (p == t || p[-1] != '\\'))
            in_str = !in_str;
        else if (!in_str && *p >= '0' && *p <= '9') {
            char *end;
            assert_true(n < cap);
            out[n++] = strtoull(p, &end, 10);
            p = end - 1;
        }
    }
    return n;
}

/* A centre's own report (stdout, newline dropped) for month. */
static char *report(sk_admin_run *g, const sk_ts *ts, const char *month)
{
    const char *args[] = {"--json", "report", "--month", month, NULL};
    assert_int_equal(sk_admin_at(g, ts, args), 0);
    char *o = strdup(g->o);
    assert_non_null(o);
    o[strcspn(o, "\n")] = '\0';
    return o;
}

/* The hub holds every centre's store up to its last change. */
static void wait_caught_up(sk_admin_run *g, sk_ts *hub, sk_ts *const *centres, size_t n)
{
    uint64_t end = sk_mono_ms() + WAIT_MS;
    const char *args[] = {"--json", "hub", NULL};
    for (;;) {
        int done = 1;
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(sk_admin_at(g, centres[i], args), 0);
            done &= strstr(g->o, "\"enrolled\":true") != NULL && json_u64(g->o, "behind") == 0 &&
                    json_u64(g->o, "last_seq") > 0;
        }
        assert_int_equal(sk_admin_at(g, hub, args), 0);
        done &= strstr(g->o, "\"centres\":[{") != NULL;
        if (done)
            return;
        if (sk_mono_ms() > end)
            fail_msg("the hub did not catch up: %s", g->o);
        sk_sleep_ms(100); /* polling other processes' progress, bounded above */
    }
}

/* The hub's report for month equals each centre's own, and their sum for all centres. */
static void check_reports(sk_admin_run *g, sk_ts *hub, sk_ts *leh, sk_ts *kargil, const char *month)
{
    char *l = report(g, leh, month), *k = report(g, kargil, month), *h = report(g, hub, month);
    char *hl = json_object(h, "leh"), *hk = json_object(h, "kargil"), *ha = json_object(h, "all");
    assert_string_equal(hl, l);
    assert_string_equal(hk, k);
    static uint64_t nl[4096], nk[4096], na[4096];
    size_t cl = json_numbers(l, nl, 4096), ck = json_numbers(k, nk, 4096);
    size_t ca = json_numbers(ha, na, 4096);
    assert_int_equal(cl, ck);
    assert_int_equal(ca, cl);
    assert_true(cl > 100);
    for (size_t i = 2; i < ca; i++) /* past the month's year and number */
        if (na[i] != nl[i] + nk[i])
            fail_msg("number %zu of the hub's totals: %llu, not %llu + %llu", i,
                     (unsigned long long)na[i], (unsigned long long)nl[i],
                     (unsigned long long)nk[i]);
    free(l);
    free(k);
    free(h);
    free(hl);
    free(hk);
    free(ha);
}

/* Push PER_CENTRE sample referrals of district to ts from a device of worker fw (ids kept),
 * starting at sample index *from; then accept the first four, give the first two legal aid and
 * close the first. Strings that must never reach the hub go to secrets. */
#define MANY 300

typedef struct secrets {
    char s[4 * 3 * PER_CENTRE + 2 * MANY + 8][128];
    size_t n;
    sk_id ids[3 * PER_CENTRE + MANY];
    size_t nids;
} secrets;

static void keep_str(secrets *sec, const sk_change *c, uint32_t key)
{
    for (uint32_t i = 0; i < c->nfields; i++) {
        const char *p;
        uint32_t n;
        sk_mp m;
        if (c->fields[i].key != key)
            continue;
        sk_mp_init(&m, c->fields[i].val, c->fields[i].len);
        if (sk_mp_read_str(&m, &p, &n) || n < 6 || n >= sizeof(sec->s[0]) ||
            sec->n >= sizeof(sec->s) / sizeof(sec->s[0]))
            return;
        if (n == 8 && memcmp(p, "withheld", 8) == 0)
            return;
        memcpy(sec->s[sec->n], p, n);
        sec->s[sec->n++][n] = '\0';
    }
}

static void fill_centre(sk_admin_run *g, sk_ts *ts, const char *district, size_t *from,
                        uint64_t *op, sk_tc *dev, secrets *sec, int work)
{
    uint32_t code = sk_enum_code(SK_ENUM_DISTRICT, district);
    char ids[PER_CENTRE][37];
    int n = 0;
    for (size_t i = *from; i < g_sample.n && n < PER_CENTRE; i++) {
        const sk_change *s = &g_sample.refs[i].change;
        uint64_t d = 0;
        for (uint32_t f = 0; f < s->nfields; f++)
            if (s->fields[f].key == SK_F_DISTRICT) {
                sk_mp m;
                sk_mp_init(&m, s->fields[f].val, s->fields[f].len);
                assert_int_equal(sk_mp_read_uint(&m, &d), 0);
            }
        *from = i + 1;
        if (d != code)
            continue;
        sk_change c;
        sk_ack ack;
        assert_int_equal(sk_change_copy(&c, s), 0);
        c.op = ++*op;
        assert_int_equal(sk_tc_push(dev, &c, 1, &ack), 0);
        assert_int_equal(ack.status, SK_ACK_APPLIED);
        keep_str(sec, &c, SK_F_NAME);
        keep_str(sec, &c, SK_F_PHONE);
        keep_str(sec, &c, SK_F_VILLAGE);
        keep_str(sec, &c, SK_F_NOTES);
        sec->ids[sec->nids++] = c.id;
        sk_id_to_str(&c.id, ids[n]);
        sk_change_free(&c);
        n++;
    }
    assert_int_equal(n, PER_CENTRE);
    for (int i = 0; work && i < 4; i++) {
        const char *acc[] = {"accept", ids[i], NULL};
        assert_int_equal(sk_admin_at(g, ts, acc), 0);
    }
    for (int i = 0; work && i < 2; i++) {
        const char *svc[] = {"service",  ids[i],  "--service", "legal_aid",
                             "--status", "given", NULL};
        assert_int_equal(sk_admin_at(g, ts, svc), 0);
    }
    if (work) {
        const char *cl[] = {"close", ids[0], "--reason", "resolved with the family", NULL};
        assert_int_equal(sk_admin_at(g, ts, cl), 0);
    }
}

/* n more referrals of district Kargil, each with a name and phone of its own (kept in sec), in
 * batches of 50: several HUB_PUSH batches for the feed. */
static void push_many(sk_tc *dev, uint64_t *op, int n, secrets *sec)
{
    for (int done = 0; done < n;) {
        sk_change c[50];
        sk_ack acks[50];
        int k = n - done < 50 ? n - done : 50;
        for (int i = 0; i < k; i++) {
            char name[64], phone[32];
            sk_buf b = SK_BUF_INIT;
            msgpack_packer pk;
            sk_packer_init(&pk, &b);
            assert_int_equal(sk_tc_make_referral(&c[i], ++*op, sk_ts_now_ms(), "Zanskar"), 0);
            snprintf(name, sizeof(name), "Stanzin Chorol %d", done + i);
            snprintf(phone, sizeof(phone), "+9194191%05d", done + i);
            sk_pack_cstr(&pk, name);
            assert_int_equal(sk_change_set(&c[i], SK_F_NAME, b.data, (uint32_t)b.len), 0);
            b.len = 0;
            sk_pack_cstr(&pk, phone);
            assert_int_equal(sk_change_set(&c[i], SK_F_PHONE, b.data, (uint32_t)b.len), 0);
            b.len = 0;
            msgpack_pack_uint64(&pk, SK_DISTRICT_KARGIL);
            assert_int_equal(sk_change_set(&c[i], SK_F_DISTRICT, b.data, (uint32_t)b.len), 0);
            sk_buf_free(&b);
            keep_str(sec, &c[i], SK_F_NAME);
            keep_str(sec, &c[i], SK_F_PHONE);
            if (sec->nids < sizeof(sec->ids) / sizeof(sec->ids[0]))
                sec->ids[sec->nids++] = c[i].id;
        }
        assert_int_equal(sk_tc_push(dev, c, (uint32_t)k, acks), 0);
        for (int i = 0; i < k; i++) {
            assert_int_equal(acks[i].status, SK_ACK_APPLIED);
            sk_change_free(&c[i]);
        }
        done += k;
    }
}

typedef struct held_check {
    const secrets *sec;
    uint32_t leh, kargil;
} held_check;

static int check_held(void *payload, const char *centre, const sk_record *r,
                      const sk_report_value *past, size_t npast)
{
    held_check *h = payload;
    uint32_t bad = 0;
    assert_int_equal(sk_deid_check(r, &bad), 0);
    for (size_t i = 0; i < h->sec->nids; i++)
        assert_memory_not_equal(r->id.b, h->sec->ids[i].b, 16);
    for (size_t i = 0; i < npast; i++)
        assert_true(past[i].key == SK_F_STATUS ||
                    (past[i].key > SK_F_SERVICE_BASE && past[i].key <= SK_F_SERVICE_BASE + 5));
    if (strcmp(centre, "leh") == 0)
        h->leh++;
    else if (strcmp(centre, "kargil") == 0)
        h->kargil++;
    else
        fail_msg("a case under centre '%s'", centre);
    return 0;
}

static void check_hub_holds(sk_ts *hub, const secrets *sec, uint32_t leh, uint32_t kargil)
{
    sk_store *st;
    MDB_txn *txn;
    held_check h = {sec, 0, 0};
    assert_int_equal(sk_ts_store(hub, &st), 0);
    assert_int_equal(mdb_txn_begin(sk_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sk_hub_cases_txn(st, txn, NULL, check_held, &h), 0);
    mdb_txn_abort(txn);
    sk_store_close(st);
    assert_int_equal(h.leh, leh);
    assert_int_equal(h.kargil, kargil);
    /* and not a byte of anything identifying anywhere in the hub's directory */
    const char *needles[sizeof(sec->s) / sizeof(sec->s[0])];
    for (size_t i = 0; i < sec->n; i++)
        needles[i] = sec->s[i];
    assert_true(sec->n >= 2 * PER_CENTRE); /* names, villages, notes of both centres */
    char where[2048] = "";
    int hits = sk_scan_dir(hub->dir, needles, sec->n, where, sizeof(where));
    if (hits != 0)
        fail_msg("identifying text on the hub: %s", where);
}

static void set_local(sk_ts *ts, const char *name, uint64_t v)
{
    sk_store *st;
    MDB_txn *txn;
    uint8_t b[8];
    sk_be64_put(b, v);
    assert_int_equal(sk_ts_store(ts, &st), 0);
    assert_int_equal(sk_store_write_begin(st, &txn), 0);
    assert_int_equal(sk_store_local_put_txn(st, txn, name, b, 8), 0);
    assert_int_equal(sk_store_write_commit(st, txn), 0);
    sk_store_close(st);
}

static void test_hub_report_equals_centres(void **state)
{
    (void)state;
    sk_th h;
    sk_tc dl, dk;
    secrets *sec = calloc(1, sizeof(*sec));
    char month[8];
    unsigned y, m;
    size_t from = 0;
    uint64_t opl = 0, opk = 0;
    char err[256];
    assert_non_null(sec);
    assert_int_equal(
        sk_sample_load(&g_sample, SAKHI_TEST_DATA "/sample-referrals.json", err, sizeof(err)), 0);
    sk_report_month_of(sk_ts_now_ms(), &y, &m);
    snprintf(month, sizeof(month), "%04u-%02u", y % 10000u, m % 100u);

    sk_th_start(&h, "sk-hub", "fw1", "fw1", "0.2");
    sk_ts *hub = &h.hub, *leh = &h.leh, *kargil = &h.kargil;
    sk_admin_run *g = &h.g;
    assert_int_equal(sk_td_tc(&dl, leh, "fw1", "leh-phone"), 0);
    assert_int_equal(sk_td_tc(&dk, kargil, "fw1", "kargil-phone"), 0);
    fill_centre(g, leh, "leh", &from, &opl, &dl, sec, 1);
    fill_centre(g, kargil, "kargil", &from, &opk, &dk, sec, 1);

    sk_ts *both[] = {leh, kargil};
    wait_caught_up(g, hub, both, 2);
    check_reports(g, hub, leh, kargil, month);
    check_reports(g, hub, leh, kargil, "2026-06"); /* months of capture and receipt */
    check_hub_holds(hub, sec, PER_CENTRE, PER_CENTRE);

    /* Leh's cursor lost: everything again, counted once */
    assert_int_equal(sk_ts_stop(leh, 10000), 0);
    set_local(leh, "hub_upto", 0);
    sk_th_restart_centre(&h, leh); /* enrolled: HOST:PORT, the pin is kept */
    wait_caught_up(g, hub, both, 2);
    /* it did send its twelve cases again, and the hub stored none of them */
    assert_int_equal(sk_file_contains(hub->log, "hub_push centre=leh items=12 stored=0 "), 1);
    check_reports(g, hub, leh, kargil, month);

    /* Kargil killed while it sends new cases (three batches of them), then restarted */
    fill_centre(g, kargil, "kargil", &from, &opk, &dk, sec, 0);
    push_many(&dk, &opk, MANY, sec);
    sk_ts_kill(kargil);
    sk_th_restart_centre(&h, kargil);
    wait_caught_up(g, hub, both, 2);
    check_reports(g, hub, leh, kargil, month);
    check_reports(g, hub, leh, kargil, "2026-06");
    check_hub_holds(hub, sec, PER_CENTRE, 2 * PER_CENTRE + MANY);

    /* the hub killed while Kargil sends: what it had not made durable is sent again */
    sk_tc_close(&dk);
    assert_int_equal(sk_tc_connect(&dk, kargil->port), 0);
    assert_int_equal(sk_tc_auth(&dk), 0);
    push_many(&dk, &opk, MANY, sec);
    sk_th_restart_hub(&h); /* on its port, where the centres find it */
    wait_caught_up(g, hub, both, 2);
    check_reports(g, hub, leh, kargil, month);
    check_hub_holds(hub, sec, PER_CENTRE, 2 * PER_CENTRE + 2 * MANY);

    sk_tc_free(&dl);
    sk_tc_free(&dk);
    sk_th_stop(&h);
    sk_th_teardown(&h);
    free(sec);
    sk_sample_free(&g_sample);
    memset(&g_sample, 0, sizeof(g_sample));
}

/* A HUB_PUSH of one case (with a name when named) as c: the answer's type and code. */
static void hub_push_one(sk_tc *c, int named, uint32_t *type, uint32_t *code)
{
    sk_record r;
    sk_buf items = SK_BUF_INIT, rec = SK_BUF_INIT, f = SK_BUF_INIT, v = SK_BUF_INIT;
    msgpack_packer ipk, rpk, vpk;
    sk_record_init(&r);
    assert_int_equal(sk_id_new(&r.id, sk_ts_now_ms()), 0);
    r.version = 5;
    sk_packer_init(&vpk, &v);
    msgpack_pack_uint64(&vpk, SK_DISTRICT_LEH);
    assert_int_equal(sk_record_set(&r, SK_F_DISTRICT, v.data, (uint32_t)v.len, 1, 5), 0);
    if (named) {
        v.len = 0;
        sk_pack_cstr(&vpk, "Padma Angmo Canary");
        assert_int_equal(sk_record_set(&r, SK_F_NAME, v.data, (uint32_t)v.len, 1, 5), 0);
    }
    sk_packer_init(&rpk, &rec);
    sk_packer_init(&ipk, &items);
    assert_int_equal(sk_record_pack(&rpk, &r), 0);
    sk_hub_item_pack(&ipk, rec.data, rec.len, NULL, 0);
    uint32_t rid = sk_tc_rid(c);
    sk_hub_push p = {0, 5, 1, items.data, items.len, 1, sk_ts_now_ms()};
    assert_int_equal(sk_hub_push_encode(&f, rid, &p), 0);
    assert_int_equal(sk_tc_send_raw(c, f.data, f.len), 0);
    sk_msg m;
    int rc = sk_tc_recv(c, &m, 10000);
    if (rc == -SK_E_UNKNOWN_TYPE) { /* the HUB_ACK: a type sk_msg leaves alone */
        sk_hub_ack a;
        uint32_t arid;
        assert_int_equal(sk_hub_ack_decode(c->frame, c->frame_len, &arid, &a), 0);
        assert_int_equal(arid, rid);
        *type = SK_MSG_HUB_ACK;
        *code = 0;
    } else {
        assert_int_equal(rc, 0);
        *type = m.type;
        *code = m.type == SK_MSG_ERROR ? m.u.error.code : 0;
        sk_msg_free(&m);
    }
    sk_record_free(&r);
    sk_buf_free(&items);
    sk_buf_free(&rec);
    sk_buf_free(&f);
    sk_buf_free(&v);
}

/* A HUB_PUSH body with the centre's cursor but neither where the batch ends nor its items. */
static void push_without_items(msgpack_packer *pk, sk_buf *out, const void *msg)
{
    (void)out;
    (void)msg;
    msgpack_pack_map(pk, 1);
    sk_pack_kv_uint(pk, 1, 7);
}

/* A HUB_XFER body with no op: nothing says what the centre asks. */
static void xfer_without_op(msgpack_packer *pk, sk_buf *out, const void *msg)
{
    (void)out;
    (void)msg;
    msgpack_pack_map(pk, 0);
}

/* Send c a frame of type whose body (written by body) does not decode: the answer is ERROR
 * code, and the hub logs event for the centre. */
static void hub_undecodable(sk_tc *c, const sk_ts *hub, uint32_t type, sk_replmsg_body_fn body,
                            const char *event, int code)
{
    sk_buf f = SK_BUF_INIT;
    sk_msg m;
    uint32_t rid = sk_tc_rid(c);
    assert_int_equal(sk_replmsg_encode(&f, type, rid, body, NULL), 0);
    assert_int_equal(sk_tc_send_raw(c, f.data, f.len), 0);
    assert_int_equal(sk_tc_recv(c, &m, 10000), 0);
    assert_int_equal(m.type, SK_MSG_ERROR);
    assert_int_equal(m.rid, rid);
    assert_int_equal(m.u.error.code, code);
    sk_msg_free(&m);
    sk_buf_free(&f);
    char line[128];
    snprintf(line, sizeof(line), "event=%s centre=evil code=%s", event, sk_err_name(code));
    assert_true(sk_file_contains(hub->log, line));
}

/* Enrols worker's device on hub, then connects it again asking for the hub capability. */
static void hub_tc(sk_tc *c, sk_ts *hub, const char *worker, const char *device)
{
    assert_int_equal(sk_td_tc(c, hub, worker, device), 0);
    sk_tc_close(c);
    c->hello_caps = SK_CAP_HUB;
    assert_int_equal(sk_tc_connect(c, hub->port), 0);
    assert_int_equal(sk_tc_auth(c), 0);
}

static void test_hub_refuses_identifying_and_strangers(void **state)
{
    (void)state;
    sk_ts hub;
    sk_tc centre, field;
    sk_admin_run g;
    uint32_t type, code;
    memset(&g, 0, sizeof(g));
    assert_int_equal(sk_ts_setup(&hub, "sk-hub-refuse"), 0);
    assert_int_equal(sk_ts_worker(&hub, "evil", SK_ROLE_CENTRE, 0), 0);
    assert_int_equal(sk_ts_worker(&hub, "fw1", SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    const char *hargs[] = {"--hub", NULL};
    assert_int_equal(sk_ts_start(&hub, hargs), 0);
    /* enrolled as a centre, then connected asking for the hub capability */
    hub_tc(&centre, &hub, "evil", "centre");
    hub_push_one(&centre, 1, &type, &code);
    assert_int_equal(type, SK_MSG_ERROR);
    assert_int_equal(code, SK_E_FORBIDDEN);
    /* frames that do not decode are refused before a copy, and the session goes on */
    hub_undecodable(&centre, &hub, SK_MSG_HUB_PUSH, push_without_items, "hub_push_refused",
                    SK_E_MISSING_FIELD);
    hub_undecodable(&centre, &hub, SK_MSG_HUB_XFER, xfer_without_op, "hub_transfer_refused",
                    SK_E_MISSING_FIELD);
    hub_push_one(&centre, 0, &type, &code); /* the same case without the name is taken */
    assert_int_equal(type, SK_MSG_HUB_ACK);
    /* a field worker's device cannot use it: the capability is not granted */
    hub_tc(&field, &hub, "fw1", "phone");
    hub_push_one(&field, 0, &type, &code);
    assert_int_equal(type, SK_MSG_ERROR);
    assert_int_equal(code, SK_E_UNKNOWN_TYPE);
    /* nor push a referral there: a hub holds no identified case from anyone */
    assert_int_equal(sk_td_push_referral(&field, 1, "Padma Angmo Canary", NULL), -SK_E_FORBIDDEN);
    sk_tc_free(&centre);
    sk_tc_free(&field);
    assert_int_equal(sk_ts_stop(&hub, 10000), 0);
    /* one case, under the centre the key belongs to; the name is nowhere */
    const char *args[] = {"--json", "hub", NULL};
    assert_int_equal(sk_admin_at(&g, &hub, args), 0);
    assert_non_null(strstr(g.o, "{\"centre\":\"evil\",\"upto\":5,"));
    assert_non_null(strstr(g.o, "\"cases\":1,"));
    const char *needle[] = {"Padma Angmo Canary"};
    char where[512] = "";
    assert_int_equal(sk_scan_dir(hub.dir, needle, 1, where, sizeof(where)), 0);
    sk_ts_teardown(&hub);
    free(g.o);
    free(g.e);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_hub_report_equals_centres),
    cmocka_unit_test(test_hub_refuses_identifying_and_strangers),
})
