/*
 * sk_runcmd.h - run a command to its end for the fault harness: the power-loss driver runs the
 * workload, the server and their checkers through it, and the injection test the workload.
 * Needs nothing but POSIX, so the LMDB half of the harness builds without the test server's
 * support library.
 */
#ifndef SK_RUNCMD_H
#define SK_RUNCMD_H

/* Run argv (argv[0] a path, or a name looked up in PATH) and wait for it to end. Each entry of
 * env ("NAME=value"; a NULL-ended list, or NULL) is added to its environment (putenv: the strings
 * must outlive the call). Its stdout goes to out_path and its stderr to err_path, each emptied
 * first (NULL keeps the caller's; the same path for both shares one file). The child exits with
 * 126 when it cannot open them and 127 when it cannot start argv. Returns the wait status, or -1
 * when it could not fork or wait. */
int sk_runcmd(char *const argv[], char *const env[], const char *out_path, const char *err_path);

#endif
