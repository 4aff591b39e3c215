/*
 * capture_sync.c - a minimal app embedding libsakhi as an outside program would: it includes
 * only <sakhi/sakhi.h>, opens (or creates) a store with a PIN, captures one referral, lists the
 * store and, when an enrollment URI is given, enrolls (first run) and syncs.
 *
 *   sakhi-example STORE_DIR PIN                  capture + list (offline)
 *   sakhi-example STORE_DIR PIN URI              ... then enroll from URI if needed, and sync
 *
 * URI is the `sakhi:enroll?...` string that `sakhi-admin enroll-code WORKER --addr HOST:PORT
 * --tls-cert FILE` prints (and draws as a QR code): the server's addresses, a one-time code and
 * the pin of the centre's TLS key. Enrollment and every sync are TLS 1.3 checked against that
 * pin. Once the store is enrolled, any third argument (e.g. "sync") just syncs.
 *
 * The example prints what a worker would see; the library itself never prints.
 */
#include <sakhi/sakhi.h>

#include <stdio.h>
#include <stdlib.h>

static int check(sakhi_client *c, int rc, const char *what)
{
    if (rc != 0)
        fprintf(stderr, "%s: %s (%s)\n", what, sakhi_strerror(rc), c ? sakhi_errmsg(c) : "");
    return rc;
}

int main(int argc, char **argv)
{
    sakhi_client *c = NULL;
    sakhi_referral *r = NULL;
    sakhi_options opts = SAKHI_OPTIONS_INIT;
    char id[SAKHI_ID_STRLEN];
    int rc;

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s STORE_DIR PIN [ENROLL_URI]\n", argv[0]);
        return 2;
    }
    opts.app = "sakhi-example/" SAKHI_VERSION_STRING;
    if (getenv("SAKHI_EXAMPLE_FAST_KDF")) {
        /* a cheap store for test runs; real apps keep the defaults (64 MiB, 1 s) */
        opts.kdf_memory_kib = 8192;
        opts.kdf_target_ms = 50;
    }
    printf("libsakhi %s\n", sakhi_version());
    if (check(NULL, sakhi_open(&c, argv[1], argv[2], &opts), "open"))
        return 1;

    /* Capture one referral. */
    if ((rc = check(c, sakhi_referral_new(&r, c), "new")))
        goto out;
    /* The district: the first of the centre's list, which the server sends at every sync. A
     * store that has not synced yet has no list; the server then checks the code. */
    sakhi_district d = SAKHI_DISTRICT_INIT;
    sakhi_referral_set_district(r, sakhi_district_get(c, 0, NULL, &d) == 0 ? (int)d.code : 1);
    sakhi_referral_set_block(r, "Nubra");
    sakhi_referral_set_village(r, "Diskit");
    sakhi_referral_set_taken_at(r, SAKHI_TAKEN_HOME_VISIT);
    sakhi_referral_set_name(r, "withheld");
    sakhi_referral_set_age(r, 34);
    sakhi_referral_add_concern(r, SAKHI_CONCERN_DOMESTIC_VIOLENCE);
    sakhi_referral_set_enum(r, "urgency", "urgent");
    sakhi_referral_set_source(r, SAKHI_SOURCE_FRONTLINE_WORKER);
    sakhi_referral_set_consent(r, 1, 0);
    if ((rc = sakhi_referral_save(id, c, r)) != 0) {
        fprintf(stderr, "save: %s: field %s: %s\n", sakhi_strerror(rc), sakhi_errfield(c),
                sakhi_errmsg(c));
        goto out;
    }
    printf("saved %s\n", id);

    /* Enroll (first run) and sync when a URI is given. */
    if (argc == 4) {
        sakhi_status st = SAKHI_STATUS_INIT;
        sakhi_sync_result res = SAKHI_SYNC_RESULT_INIT;
        if ((rc = check(c, sakhi_status_get(&st, c), "status")))
            goto out;
        if (!st.enrolled &&
            (rc = check(c, sakhi_enroll_uri(c, argv[3], "example", NULL), "enroll")))
            goto out;
        if ((rc = check(c, sakhi_sync(&res, c, NULL), "sync")))
            goto out;
        printf("sync: pushed %llu, rejected %llu, pulled %llu\n", (unsigned long long)res.pushed,
               (unsigned long long)res.rejected, (unsigned long long)res.pulled);
        for (size_t i = 0, n = sakhi_district_count(c); i < n; i++)
            if (sakhi_district_get(c, i, "en", &d) == 0)
                printf("district %u %s (case numbers %s-...)\n", d.code, d.name, d.prefix);
    }

    /* List the store, one page at a time. */
    sakhi_list_item items[16];
    sakhi_list_filter f = SAKHI_LIST_FILTER_INIT;
    char next[SAKHI_ID_STRLEN] = "";
    size_t n, total = 0;
    do {
        f.after = next[0] ? next : NULL;
        if ((rc = check(c, sakhi_list(items, 16, &n, next, c, &f), "list")))
            goto out;
        for (size_t i = 0; i < n; i++)
            printf("%s %s\n", items[i].id, sakhi_sync_state_name(items[i].sync_state));
        total += n;
    } while (next[0]);
    uint64_t pending = 0;
    sakhi_pending_count(&pending, c);
    printf("%zu records, %llu pending\n", total, (unsigned long long)pending);
out:
    sakhi_referral_free(r);
    sakhi_close(c);
    return rc ? 1 : 0;
}
