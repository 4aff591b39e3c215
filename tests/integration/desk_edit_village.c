/*
 * desk_edit_village.c STORE PIN ID VILLAGE - a field device edits a referral's village offline
 * (libsakhi's public API on a store the sakhi CLI made), so the desk's tests can make two
 * devices edit the same field concurrently and review the conflict. Exit 0 when saved.
 */
#include <sakhi/sakhi.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    sakhi_client *c = NULL;
    sakhi_referral *r = NULL;
    sakhi_options o = SAKHI_OPTIONS_INIT;
    int rc;
    if (argc != 5) {
        fprintf(stderr, "usage: desk_edit_village STORE PIN ID VILLAGE\n");
        return 2;
    }
    o.app = "desk-test";
    if ((rc = sakhi_open(&c, argv[1], argv[2], &o))) {
        fprintf(stderr, "open: %d\n", rc);
        return 1;
    }
    if ((rc = sakhi_referral_edit(&r, c, argv[3])) == 0 &&
        (rc = sakhi_referral_set_village(r, argv[4])) == 0)
        rc = sakhi_referral_save(NULL, c, r);
    if (rc)
        fprintf(stderr, "edit: %d %s\n", rc, sakhi_errmsg(c));
    sakhi_referral_free(r);
    sakhi_close(c);
    return rc ? 1 : 0;
}
