/*
 * replay_main.c - runs the fuzz target over every file of a corpus directory (the fuzz-smoke
 * ctest test), so each saved input and past finding is replayed in every build, without
 * libFuzzer. Exit 0 when all inputs ran; a crash or abort fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    int rc = buf ? 0 : -1;
    while (!rc) {
        if (len == cap) {
            uint8_t *p = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!p) {
                rc = -1;
                break;
            }
            buf = p;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    if (!rc)
        LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    size_t n = 0;
    int failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
        if (run_file(path)) {
            fprintf(stderr, "cannot read %s\n", path);
            failed = 1;
        }
        n++;
    }
    closedir(d);
    printf("replayed %zu inputs\n", n);
    return failed || n == 0 ? 1 : 0;
}
