/*
 * sk_runcmd.c - run a command to its end (see sk_runcmd.h).
 *
 * Owns nothing: the child it starts is reaped before it returns. Test infrastructure only.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "sk_runcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child: a descriptor open on path for writing, emptied; fallback (the inherited
 * descriptor) when path is NULL. */
static int out_fd(const char *path, int fallback)
{
    return path ? open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : fallback;
}

int sk_runcmd(char *const argv[], char *const env[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int o = out_fd(out_path, 1);
        int e = err_path && out_path && !strcmp(err_path, out_path) ? o : out_fd(err_path, 2);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        if (o > 2)
            close(o);
        if (e > 2 && e != o)
            close(e);
        for (int i = 0; env && env[i]; i++)
            putenv(env[i]);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return st;
}
