/*
 * admin_hub.c - sakhi-admin hub: where a hub of centres stands (docs/REPLICATION.md, "Hub of
 * centres"). On a hub's data directory, the centres it has heard from: how far each one's cases
 * reached, its epoch, how many cases it holds and when it last sent. On a centre's, the feed:
 * the cursor the hub acknowledged and how many changes are still to send. Counts only.
 */
#include "admin.h"

#include "sk_err.h"
#include "sk_hub.h"
#include "sk_json.h"
#include "sk_sample.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char k_hub_help[] =
    "usage: sakhi-admin hub [--json]\n"
    "\n"
    "On a hub (sakhi-server --hub): each centre it has heard from, with the cursor up to which\n"
    "it holds the centre's cases (the centre's change sequence), the centre store's epoch, the\n"
    "cases held and when the centre last sent. On a centre (sakhi-server --to-hub): the cursor\n"
    "the hub acknowledged, the store's last change and how many are still to send.\n"
    "sakhi-admin report on a hub gives the figures of all centres and of each.\n";

typedef struct hub_ctx {
    sk_admin *a;
    sk_jw *w;
    size_t n;
} hub_ctx;

static int centre_row(const sk_hub_centre *c, void *p)
{
    hub_ctx *x = p;
    char last[32];
    sk_sample_format_time(c->last_ms, last);
    if (x->a->json) {
        sk_jw_obj_begin(x->w);
        sk_jw_kcstr(x->w, "centre", c->name);
        sk_jw_kuint(x->w, "upto", c->upto);
        sk_jw_kuint(x->w, "epoch", c->epoch);
        sk_jw_kuint(x->w, "cases", c->cases);
        sk_jw_kcstr(x->w, "last_push", last);
        sk_jw_obj_end(x->w);
    } else {
        if (x->n == 0)
            printf("%-24s %12s %10s %s\n", "CENTRE", "UPTO", "CASES", "LAST PUSH");
        printf("%-24s %12" PRIu64 " %10" PRIu64 " %s\n", c->name, c->upto, c->cases, last);
    }
    x->n++;
    return 0;
}

int sk_admin_cmd_hub(sk_admin *a, int argc, char **argv)
{
    int rc = sk_admin_parse(a, argc, argv, NULL, NULL, 0, 0, NULL, k_hub_help);
    if (rc)
        return rc;
    MDB_txn *txn;
    if ((rc = sk_admin_open_read(a, &txn)))
        return rc;
    sk_admin_json j;
    hub_ctx x = {a, sk_admin_json_list_begin(a, &j, "centres"), 0};
    uint64_t upto = 0, device = 0, epoch = 0, last = 0;
    sk_store_epoch ep;
    rc = sk_hub_centres_txn(a->store, txn, centre_row, &x);
    if (rc == 0 && (rc = sk_store_local_u64_txn(a->store, txn, "hub_device", &device)) == 0 &&
        (rc = sk_store_local_u64_txn(a->store, txn, "hub_upto", &upto)) == 0 &&
        (rc = sk_store_local_u64_txn(a->store, txn, "hub_epoch", &epoch)) == 0 &&
        (rc = sk_store_seq_get_txn(a->store, txn, &last)) == 0)
        rc = sk_store_epoch_get_txn(a->store, txn, &ep);
    mdb_txn_abort(txn);
    if (rc) {
        sk_buf_free(&j.b);
        return sk_admin_fail(a, SK_ADMIN_EXIT_FAIL, "cannot read: %s", sk_err_text(rc));
    }
    if (epoch != ep.epoch)
        upto = 0; /* a new epoch since: everything is sent again */
    if (a->json) {
        sk_jw_arr_end(x.w);
        sk_jw_key(x.w, "feed");
        sk_jw_obj_begin(x.w);
        sk_jw_kbool(x.w, "enrolled", device != 0);
        sk_jw_kuint(x.w, "upto", upto);
        sk_jw_kuint(x.w, "last_seq", last);
        sk_jw_kuint(x.w, "behind", last > upto ? last - upto : 0);
        sk_jw_obj_end(x.w);
        return sk_admin_json_end(a, &j);
    } else {
        if (x.n == 0)
            printf("no centre has sent cases to this store\n");
        if (device)
            printf("feed to the hub: acknowledged up to %" PRIu64 " of %" PRIu64 " (%" PRIu64
                   " behind)\n",
                   upto, last, last > upto ? last - upto : 0);
        else
            printf("this store sends no cases to a hub\n");
    }
    sk_buf_free(&j.b);
    return 0;
}
