/*
 * test_replication_standby_admin.c - sakhi-admin on a standby's data directory (and on a
 * demoted primary's) refuses every command that writes, so the standby stays a faithful copy
 * of its primary, while the commands that only read work (docs/REPLICATION.md, "Roles"). Real
 * processes over TLS: a primary with a referral, a standby seeded from it, and the real
 * sakhi-admin on the standby's directory while it runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_case.h"
#include "sk_err.h"
#include "sk_testclient.h"
#include "sk_testrepl.h"
#include "sk_testdevice.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 30000

/* Run sakhi-admin on g's directory with the arguments up to NULL: its exit code. */
static int run(sk_admin_run *g, const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    int rc = sk_admin_vrun(g, first, ap);
    va_end(ap);
    return rc;
}

/* The command is refused as a write on a copy whose role is role: exit 1, the reason said. */
static void refused(sk_admin_run *g, const char *role, int rc)
{
    char want[96];
    snprintf(want, sizeof(want), "refused: this data directory is a %s;", role);
    if (rc != 1 || !strstr(g->e, want))
        print_message("exit %d, stderr: %s\n", rc, g->e);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(g->e, want));
}

/* The store's audit head (seq and hash), read beside its running server. */
static void audit_head(sk_ts *t, uint64_t *seq, uint8_t hash[32])
{
    sk_store *st;
    assert_int_equal(sk_ts_store(t, &st), 0);
    assert_int_equal(sk_store_audit_head(st, seq, hash), 0);
    sk_store_close(st);
}

static void test_replication_standby_admin_refuses_writes(void **state)
{
    (void)state;
    sk_ts p, s;
    sk_tc dev;
    sk_admin_run gs, gp;
    uint8_t pin[SK_TLS_PIN_LEN], hp[32], hs[32];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1], idt[40];
    char month[16];
    uint64_t ap, as;
    time_t now = time(NULL);
    struct tm tm;
    assert_non_null(gmtime_r(&now, &tm));
    snprintf(month, sizeof(month), "%04d-%02d", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100);

    assert_int_equal(sk_trepl_pair(&p, &s, "sk-sadmp", "sk-sadms", pin, pin_hex), 0);
    assert_int_equal(sk_ts_start(&p, NULL), 0);
    assert_int_equal(sk_trepl_device(&dev, &p, pin, 0), 0);
    sk_id rid;
    assert_int_equal(sk_td_push_referral(&dev, 1, "sa", &rid), SK_ACK_APPLIED);
    sk_id_to_str(&rid, idt);
    sk_tc_free(&dev);

    assert_int_equal(sk_trepl_start_standby(&s, &p, pin_hex, p.port), 0);
    assert_int_equal(sk_trepl_wait_caught_up(&p, &s, WAIT_MS), 0);
    audit_head(&s, &as, hs);

    /* every command that writes is refused, with the reason, and writes nothing */
    assert_int_equal(sk_trepl_admin_on(&gs, &s), 0);
    refused(&gs, "standby", run(&gs, "accept", idt, NULL));
    assert_non_null(strstr(gs.e, "promote this standby first"));
    refused(&gs, "standby", run(&gs, "assign", idt, "--field-worker", "fw1", NULL));
    refused(&gs, "standby", run(&gs, "note", idt, "a note", NULL));
    refused(&gs, "standby",
            run(&gs, "district", "add", "3", "zanskar", "ZSK", "--en", "Zanskar", NULL));
    refused(&gs, "standby", run(&gs, "worker", "add", "fw2", "--role", "field", NULL));
    refused(&gs, "standby", run(&gs, "enroll-code", "fw1", NULL));

    /* what only reads works */
    assert_int_equal(run(&gs, "stats", NULL), 0);
    assert_non_null(strstr(gs.o, "role=standby"));
    assert_int_equal(run(&gs, "report", "--month", month, NULL), 0);
    assert_int_equal(run(&gs, "history", idt, NULL), 0);
    assert_int_equal(run(&gs, "list", NULL), 0);
    assert_non_null(strstr(gs.o, idt));
    assert_int_equal(run(&gs, "show", idt, NULL), 0);
    assert_non_null(strstr(gs.o, "\"status\": \"received\""));
    assert_int_equal(run(&gs, "audit", "--verify", NULL), 0);
    refused(&gs, "standby", run(&gs, "export", "--format", "csv", NULL));
    assert_int_equal(run(&gs, "worker", "list", NULL), 0);
    assert_null(strstr(gs.o, "fw2"));
    uint64_t as2;
    uint8_t hs2[32];
    audit_head(&s, &as2, hs2);
    assert_int_equal(as2, as);
    assert_memory_equal(hs2, hs, 32);

    /* the primary's own writes still reach the standby: it stayed a faithful copy */
    assert_int_equal(sk_trepl_admin_on(&gp, &p), 0);
    assert_int_equal(run(&gp, "accept", idt, NULL), 0);
    assert_int_equal(sk_trepl_wait_caught_up(&p, &s, WAIT_MS), 0);
    audit_head(&p, &ap, hp);
    audit_head(&s, &as, hs);
    assert_int_equal(as, ap);
    assert_memory_equal(hs, hp, 32);
    assert_int_equal(run(&gs, "show", idt, NULL), 0);
    assert_non_null(strstr(gs.o, "\"status\": \"accepted\""));

    /* a demoted primary takes no writes either */
    assert_int_equal(sk_ts_stop(&p, 10000), 0);
    assert_int_equal(run(&gp, "demote", NULL), 0);
    refused(&gp, "demoted", run(&gp, "note", idt, "a note", NULL));
    assert_null(strstr(gp.e, "promote this standby"));
    assert_int_equal(run(&gp, "stats", NULL), 0);
    assert_non_null(strstr(gp.o, "role=demoted"));

    sk_trepl_admin_done(&gs);
    sk_trepl_admin_done(&gp);
    sk_ts_teardown(&s);
    sk_ts_teardown(&p);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_replication_standby_admin_refuses_writes),
})
