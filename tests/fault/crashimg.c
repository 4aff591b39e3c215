/*
 * crashimg.c - sk-crashimg, a command-line tool that builds the file an OS crash could leave,
 * from an I/O record log (made by the iofault preload library) and the file's initial image.
 *
 *   sk-crashimg LOG INIT_IMAGE CUT SEED OUT [P_WHOLE P_TORN]
 *
 * CUT is a record index (records 0..CUT-1 happened); INIT_IMAGE may name a missing file (empty
 * start). It prints one line of figures and writes OUT. Test infrastructure only: it reads the
 * log and writes OUT, and must never touch anything else.
 */
#define _GNU_SOURCE
#include "sk_iolog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    int rc = 2;
    sk_iolog log = {0};
    unsigned char *init = NULL, *img = NULL;
    size_t init_len = 0, img_len = 0;
    sk_crash_opts opts = SK_CRASH_OPTS_INIT;
    sk_crash_stats st;
    if (argc != 6 && argc != 8) {
        fprintf(stderr, "usage: sk-crashimg LOG INIT_IMAGE CUT SEED OUT [P_WHOLE P_TORN]\n");
        return 2;
    }
    if (argc == 8) {
        opts.p_whole = strtod(argv[6], NULL);
        opts.p_torn = strtod(argv[7], NULL);
    }
    if (sk_iolog_load(&log, argv[1]) != 0) {
        perror("sk-crashimg: log");
        goto out;
    }
    if (sk_iolog_read_file(argv[2], 1, &init, &init_len) != 0) {
        perror("sk-crashimg: initial image");
        goto out;
    }
    size_t cut = (size_t)strtoull(argv[3], NULL, 10);
    uint64_t seed = strtoull(argv[4], NULL, 10);
    if (cut > log.n)
        cut = log.n;
    if (sk_iolog_build_image(&log, cut, init, init_len, seed, &opts, &img, &img_len, &st) != 0) {
        perror("sk-crashimg: build");
        goto out;
    }
    if (sk_iolog_write_file(argv[5], img, img_len) != 0) {
        perror("sk-crashimg: write");
        goto out;
    }
    printf("records=%zu cut=%zu last_sync=%ld synced=%zu unsynced=%zu whole=%zu torn=%zu "
           "dropped=%zu size=%zu\n",
           log.n, cut, sk_iolog_last_sync(&log, cut), st.synced_applied, st.unsynced,
           st.unsynced_whole, st.unsynced_torn, st.unsynced_dropped, img_len);
    rc = 0;
out:
    free(img);
    free(init);
    sk_iolog_free(&log);
    return rc;
}
