/*
 * powerloss.c - sk-powerloss, the simulated power-loss driver (reliability campaign 2).
 *
 * It runs a program under the iofault recorder, then for many seeded cut points builds the data
 * file an OS crash at that point could leave (sk_iolog_build_image) and runs a checker on it. The
 * program and the checker are commands, so the same driver serves the LMDB workload and the
 * server:
 *   --init CMD     prepares the store once (unrecorded); its data.mdb becomes the initial image
 *   --run CMD      the recorded run (LD_PRELOAD=iofault, SK_IOREC=<work>/io.log)
 *   --check CMD    run per image; exit 0 ok, 1 acknowledged data lost, anything else corrupt
 * Tokens in CMD are split on spaces; {DIR} is the data directory, {IMG} the image's directory
 * (holding data.mdb), {LOG} the record log, {CUT} the cut index, {WORK} the work directory.
 * Other options: --preload LIB, --images N (200), --seed S (1), --match NAME[,NAME...]
 * (data.mdb: the files recorded; each is imaged from the same cut, with its own init image from
 * {DIR} and its own syncs, and written to {IMG} under its name), --copy NAME (a file of {DIR}
 * written only by --init, such as a key the store needs, copied into {IMG} as it was; may repeat),
 * --ignore-sync (model a disk that ignores flushes: no write is ever durable; with it the harness
 * must find losses, which proves it can fail on a program that has no no-sync mode),
 * --sockets (also log socket writes as markers), --only NAME (the recorder is active only in the
 * process named NAME, e.g. sakhi-server started by the run command), --p-whole P --p-torn P, --expect-loss (exit 0
 * only if some image lost data or was corrupt: proves the harness can fail), --keep (leave the
 * work directory and failing images), --work DIR.
 * Prints "images=N ok=N lost=L corrupt=C ..." and exits 1 on any loss or corruption.
 *
 * Owns its work directory and the child processes it starts; test infrastructure only.
 */
#define _GNU_SOURCE
#include "sk_iolog.h"
#include "sk_runcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 64

typedef struct subst {
    const char *dir, *img, *log, *cut, *work;
} subst;

static void usage(void)
{
    fprintf(stderr, "usage: sk-powerloss --preload LIB --init CMD --run CMD --check CMD "
                    "[--images N] [--seed S] [--match NAME[,NAME...]] [--copy NAME] [--sockets] "
                    "[--only NAME] [--p-whole P] "
                    "[--p-torn P] [--ignore-sync] [--expect-loss] [--keep] [--work DIR]\n");
}

/* Split cmd on spaces into argv (in buf), replacing placeholders. */
static int build_argv(const char *cmd, const subst *s, char *buf, size_t cap, char **argv)
{
    size_t len = strlen(cmd);
    if (len >= cap)
        return -1;
    memcpy(buf, cmd, len + 1);
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (n == MAX_ARGS - 1)
            return -1;
        if (strcmp(t, "{DIR}") == 0)
            argv[n++] = (char *)s->dir;
        else if (strcmp(t, "{IMG}") == 0)
            argv[n++] = (char *)s->img;
        else if (strcmp(t, "{LOG}") == 0)
            argv[n++] = (char *)s->log;
        else if (strcmp(t, "{CUT}") == 0)
            argv[n++] = (char *)s->cut;
        else if (strcmp(t, "{WORK}") == 0)
            argv[n++] = (char *)s->work;
        else
            argv[n++] = t;
    }
    argv[n] = NULL;
    return n > 0 ? 0 : -1;
}

static void print_file(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        fprintf(stderr, "%s%s", prefix, line);
    fclose(f);
}

static int rm_rf(const char *path)
{
    char *argv[] = {"rm", "-rf", (char *)path, NULL};
    int st = sk_runcmd(argv, NULL, NULL, NULL);
    return st == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *preload = NULL, *init_cmd = NULL, *run_cmd_s = NULL, *check_cmd = NULL;
    const char *match = "data.mdb", *work_opt = NULL, *only = NULL;
    const char *copies[SK_IOLOG_FILE_MAX];
    size_t ncopies = 0;
    long images = 200;
    uint64_t seed = 1;
    int sockets = 0, expect_loss = 0, keep = 0, ret = 2;
    sk_crash_opts opts = SK_CRASH_OPTS_INIT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--sockets") == 0) {
            sockets = 1;
            continue;
        } else if (strcmp(a, "--expect-loss") == 0) {
            expect_loss = 1;
            continue;
        } else if (strcmp(a, "--ignore-sync") == 0) {
            opts.ignore_sync = 1;
            continue;
        } else if (strcmp(a, "--keep") == 0) {
            keep = 1;
            continue;
        }
        if (!v) {
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--preload") == 0)
            preload = v;
        else if (strcmp(a, "--init") == 0)
            init_cmd = v;
        else if (strcmp(a, "--run") == 0)
            run_cmd_s = v;
        else if (strcmp(a, "--check") == 0)
            check_cmd = v;
        else if (strcmp(a, "--images") == 0)
            images = strtol(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--match") == 0)
            match = v;
        else if (strcmp(a, "--copy") == 0 && ncopies < SK_IOLOG_FILE_MAX)
            copies[ncopies++] = v;
        else if (strcmp(a, "--only") == 0)
            only = v;
        else if (strcmp(a, "--p-whole") == 0)
            opts.p_whole = strtod(v, NULL);
        else if (strcmp(a, "--p-torn") == 0)
            opts.p_torn = strtod(v, NULL);
        else if (strcmp(a, "--work") == 0)
            work_opt = v;
        else {
            usage();
            return 2;
        }
    }
    if (!preload || !init_cmd || !run_cmd_s || !check_cmd || images <= 0) {
        usage();
        return 2;
    }

    char work[512], dir[600], img[600], logp[600], initp[800], outp[600], chk[600];
    char cutbuf[32], cmdbuf[4096], *av[MAX_ARGS];
    char env_preload[700], env_rec[700], env_match[300], env_only[300];
    char env_sock[] = "SK_IOREC_SOCKETS=1";
    sk_iolog log = {0};
    /* the recorded files (--match, in order: the log's file index) and their initial images */
    char names[SK_IOLOG_FILE_MAX][128];
    unsigned char *inits[SK_IOLOG_FILE_MAX] = {0}, *cdata[SK_IOLOG_FILE_MAX] = {0};
    size_t init_lens[SK_IOLOG_FILE_MAX] = {0}, clens[SK_IOLOG_FILE_MAX] = {0};
    unsigned nfiles =
        sk_iolog_split_names(match, (char *)names, sizeof names[0], SK_IOLOG_FILE_MAX);
    if (nfiles == 0) {
        usage();
        return 2;
    }
    if (work_opt) {
        snprintf(work, sizeof work, "%s", work_opt);
        if (mkdir(work, 0700) != 0 && errno != EEXIST) {
            perror("sk-powerloss: work dir");
            return 2;
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(work, sizeof work, "%s/sk-powerloss-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(work)) {
            perror("sk-powerloss: mkdtemp");
            return 2;
        }
    }
    snprintf(dir, sizeof dir, "%s/data", work);
    snprintf(img, sizeof img, "%s/img", work);
    snprintf(logp, sizeof logp, "%s/io.log", work);
    snprintf(outp, sizeof outp, "%s/run.out", work);
    snprintf(chk, sizeof chk, "%s/check.out", work);
    if (mkdir(dir, 0700) != 0 || mkdir(img, 0700) != 0) {
        perror("sk-powerloss: mkdir");
        goto out;
    }
    subst s = {dir, img, logp, cutbuf, work};
    cutbuf[0] = '\0';

    /* 1. the initial store, unrecorded */
    if (build_argv(init_cmd, &s, cmdbuf, sizeof cmdbuf, av) != 0) {
        fprintf(stderr, "sk-powerloss: bad --init\n");
        goto out;
    }
    int st = sk_runcmd(av, NULL, NULL, NULL);
    if (st != 0) {
        fprintf(stderr, "sk-powerloss: init failed (status %d)\n", st);
        goto out;
    }
    for (unsigned f = 0; f < nfiles; f++) {
        snprintf(initp, sizeof initp, "%s/%s", dir, names[f]);
        if (sk_iolog_read_file(initp, 1, &inits[f], &init_lens[f]) != 0) {
            perror("sk-powerloss: initial image");
            goto out;
        }
    }
    for (size_t c = 0; c < ncopies; c++) {
        snprintf(initp, sizeof initp, "%s/%s", dir, copies[c]);
        if (sk_iolog_read_file(initp, 0, &cdata[c], &clens[c]) != 0) {
            fprintf(stderr, "sk-powerloss: --copy %s: %s\n", copies[c], strerror(errno));
            goto out;
        }
    }

    /* 2. the recorded run */
    snprintf(env_preload, sizeof env_preload, "LD_PRELOAD=%s", preload);
    snprintf(env_rec, sizeof env_rec, "SK_IOREC=%s", logp);
    snprintf(env_match, sizeof env_match, "SK_IOREC_MATCH=%s", match);
    snprintf(env_only, sizeof env_only, "SK_IOFAULT_ONLY=%s", only ? only : "");
    char *env_add[] = {env_preload, env_rec, env_match, env_only, sockets ? env_sock : NULL, NULL};
    if (build_argv(run_cmd_s, &s, cmdbuf, sizeof cmdbuf, av) != 0) {
        fprintf(stderr, "sk-powerloss: bad --run\n");
        goto out;
    }
    st = sk_runcmd(av, env_add, outp, NULL);
    if (st != 0) {
        fprintf(stderr, "sk-powerloss: recorded run failed (status %d)\n", st);
        print_file(outp, "  run: ");
        goto out;
    }
    if (sk_iolog_load(&log, logp) != 0) {
        perror("sk-powerloss: log");
        goto out;
    }
    size_t nw = 0, ns = 0, nm = 0;
    for (size_t i = 0; i < log.n; i++) {
        nw += log.recs[i].type == SK_IOLOG_WRITE;
        ns += log.recs[i].type == SK_IOLOG_SYNC;
        nm += log.recs[i].type == SK_IOLOG_MARKER;
    }
    if (nw == 0 || nm == 0) {
        fprintf(stderr, "sk-powerloss: the log has %zu writes and %zu markers: nothing recorded\n",
                nw, nm);
        goto out;
    }

    /* 3. images */
    if (build_argv(check_cmd, &s, cmdbuf, sizeof cmdbuf, av) != 0) {
        fprintf(stderr, "sk-powerloss: bad --check\n");
        goto out;
    }
    long ok = 0, lost = 0, corrupt = 0, shown = 0;
    size_t torn = 0, dropped = 0;
    uint64_t rng = seed;
    char lock_file[640];
    snprintf(lock_file, sizeof lock_file, "%s/lock.mdb", img);
    for (long i = 0; i < images; i++) {
        /* cut in 1..n: every record index is equally likely (the last image is the full run) */
        size_t cut = i == images - 1 ? log.n : 1 + (size_t)(sk_iolog_rand(&rng) % log.n);
        uint64_t iseed = sk_iolog_rand(&rng);
        unlink(lock_file);
        /* every recorded file from the same cut; file 0 with the image's seed (as with one
         * file), the others with seeds drawn from it */
        uint64_t frng = iseed;
        for (unsigned f = 0; f < nfiles; f++) {
            unsigned char *im = NULL;
            size_t im_len = 0;
            sk_crash_stats cs;
            uint64_t fseed = f == 0 ? iseed : sk_iolog_rand(&frng);
            if (sk_iolog_build_image_file(&log, f, cut, inits[f], init_lens[f], fseed, &opts, &im,
                                          &im_len, &cs) != 0) {
                perror("sk-powerloss: build image");
                goto out;
            }
            torn += cs.unsynced_torn;
            dropped += cs.unsynced_dropped;
            snprintf(initp, sizeof initp, "%s/%s", img, names[f]);
            int wrc = sk_iolog_write_file(initp, im, im_len);
            free(im);
            if (wrc != 0) {
                perror("sk-powerloss: write image");
                goto out;
            }
        }
        for (size_t c = 0; c < ncopies; c++) {
            snprintf(initp, sizeof initp, "%s/%s", img, copies[c]);
            if (sk_iolog_write_file(initp, cdata[c], clens[c]) != 0) {
                perror("sk-powerloss: copy into image");
                goto out;
            }
        }
        snprintf(cutbuf, sizeof cutbuf, "%zu", cut);
        st = sk_runcmd(av, NULL, chk, chk);
        if (st == 0) {
            ok++;
            continue;
        }
        if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
            lost++;
        else
            corrupt++;
        if (shown++ < 5 && !expect_loss) {
            fprintf(stderr, "image %ld (cut %zu of %zu, seed %llu) failed, status %d:\n", i, cut,
                    log.n, (unsigned long long)iseed, st);
            print_file(chk, "  check: ");
        }
        if (keep) {
            char keep_path[900];
            for (unsigned f = 0; f < nfiles; f++) {
                snprintf(initp, sizeof initp, "%s/%s", img, names[f]);
                snprintf(keep_path, sizeof keep_path, "%s/fail-%ld-cut%zu-%s", work, i, cut,
                         names[f]);
                rename(initp, keep_path);
            }
        }
    }
    printf("images=%ld ok=%ld lost=%ld corrupt=%ld records=%zu writes=%zu syncs=%zu markers=%zu "
           "torn_writes=%zu dropped_writes=%zu\n",
           images, ok, lost, corrupt, log.n, nw, ns, nm, torn, dropped);
    if (expect_loss) {
        ret = lost + corrupt > 0 ? 0 : 1;
        printf("expect-loss: %s\n", ret == 0 ? "losses found, as they must be"
                                             : "NO loss found: the harness cannot fail");
    } else {
        ret = lost + corrupt > 0 ? 1 : 0;
    }
out:
    for (unsigned f = 0; f < SK_IOLOG_FILE_MAX; f++) {
        free(inits[f]);
        free(cdata[f]);
    }
    sk_iolog_free(&log);
    if (!keep && rm_rf(work) != 0)
        fprintf(stderr, "sk-powerloss: could not remove %s\n", work);
    else if (keep)
        fprintf(stderr, "sk-powerloss: work directory kept: %s\n", work);
    return ret;
}
