/*
 * sk_proc.c - process, file and port helpers for integration tests (see sk_proc.h).
 *
 * Owns nothing between calls but the sk_proc the caller passes. Never leaves a child running
 * when used as documented (sk_proc_stop ends with SIGKILL and a reap); never waits unbounded.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#include "sk_proc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t sk_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sk_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int sk_proc_start(sk_proc *p, char *const argv[], const char *out_path)
{
    memset(p, 0, sizeof(*p));
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (out_path) {
            int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    p->pid = pid;
    return 0;
}

int sk_proc_signal(sk_proc *p, int sig)
{
    if (p->pid <= 0 || p->reaped)
        return -1;
    return kill(p->pid, sig);
}

static int try_reap(sk_proc *p, int flags)
{
    if (p->reaped)
        return 1;
    if (p->pid <= 0)
        return -1;
    int st;
    pid_t r = waitpid(p->pid, &st, flags);
    if (r == p->pid) {
        p->status = st;
        p->reaped = 1;
        return 1;
    }
    return 0;
}

int sk_proc_wait(sk_proc *p, int timeout_ms)
{
    uint64_t end = sk_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int r = try_reap(p, WNOHANG);
        if (r == 1)
            return 0;
        if (r < 0 || sk_mono_ms() >= end)
            return -1;
        sk_sleep_ms(5);
    }
}

void sk_proc_argv_add(char **argv, int *n, int max, const char *const *args)
{
    for (int i = 0; args && args[i] && *n < max; i++)
        argv[(*n)++] = (char *)args[i];
    argv[*n] = NULL;
}

/* argv for execv: bin, then args (NULL-ended, at most 62 kept), then NULL. */
static void make_argv(char *argv[64], const char *bin, const char *const *args)
{
    int n = 0;
    argv[n++] = (char *)bin;
    sk_proc_argv_add(argv, &n, 63, args);
}

pid_t sk_proc_spawn(const char *bin, const char *const *args, const char *dir, const char *out_path,
                    const char *err_path, const char *pin)
{
    char *argv[64];
    make_argv(argv, bin, args);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int in = open("/dev/null", O_RDONLY);
    int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || o < 0 || e < 0)
        _exit(126);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    if (chdir(dir) != 0)
        _exit(126);
    if (pin)
        setenv("SAKHI_PIN", pin, 1);
    else
        unsetenv("SAKHI_PIN");
    setsid();
    execv(bin, argv);
    _exit(127);
}

int sk_proc_run(const char *bin, const char *const *args, const char *out_path, int timeout_ms)
{
    char *argv[64];
    make_argv(argv, bin, args);
    unlink(out_path);
    sk_proc p;
    if (sk_proc_start(&p, argv, out_path) != 0)
        return -1;
    if (sk_proc_wait(&p, timeout_ms) != 0) {
        sk_proc_stop(&p, 1000);
        return -1;
    }
    return sk_proc_exit_code(&p);
}

int sk_proc_exit_code(const sk_proc *p)
{
    if (!p->reaped)
        return -1;
    if (WIFEXITED(p->status))
        return WEXITSTATUS(p->status);
    if (WIFSIGNALED(p->status))
        return 128 + WTERMSIG(p->status);
    return -1;
}

int sk_proc_alive(sk_proc *p)
{
    return p->pid > 0 && try_reap(p, WNOHANG) == 0;
}

int sk_proc_stop(sk_proc *p, int timeout_ms)
{
    if (p->pid <= 0)
        return -1;
    if (!p->reaped) {
        kill(p->pid, SIGTERM);
        if (sk_proc_wait(p, timeout_ms) != 0) {
            kill(p->pid, SIGKILL);
            try_reap(p, 0);
        }
    }
    return sk_proc_exit_code(p);
}

int sk_tmpdir_make(char *out, size_t cap, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int n = snprintf(out, cap, "%s/%s-XXXXXX", base, prefix);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    return mkdtemp(out) ? 0 : -1;
}

int sk_tmpdir_fx_setup(void **state)
{
    sk_tmpdir_fx *t = *state;
    return sk_tmpdir_make(t->path, sizeof(t->path), t->prefix);
}

int sk_tmpdir_fx_teardown(void **state)
{
    sk_tmpdir_fx *t = *state;
    if (t->path[0] && !getenv("SAKHI_KEEP_TMP"))
        sk_tmpdir_remove(t->path);
    t->path[0] = '\0';
    return 0;
}

int sk_tmpdir_remove(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return unlink(path);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char sub[4096];
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(sub, 0700);
            rc |= sk_tmpdir_remove(sub);
        } else {
            rc |= unlink(sub);
        }
    }
    closedir(d);
    return rmdir(path) | rc;
}

int sk_wait_file(const char *path, int timeout_ms)
{
    uint64_t end = sk_mono_ms() + (uint64_t)timeout_ms;
    for (;;) {
        struct stat st;
        if (stat(path, &st) == 0 && st.st_size > 0)
            return 0;
        if (sk_mono_ms() >= end)
            return -1;
        sk_sleep_ms(5);
    }
}

int sk_wait_port(const char *host, uint16_t port, int timeout_ms)
{
    uint64_t end = sk_mono_ms() + (uint64_t)timeout_ms;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return 0;
        if (sk_mono_ms() >= end)
            return -1;
        sk_sleep_ms(5);
    }
}

uint16_t sk_proc_start_netem(sk_proc *p, const char *bin, uint16_t upstream, const char *port_file,
                             const char *stats, const char *log, const char *const *extra)
{
    char up[32];
    const char *argv[48];
    int k = 0;
    snprintf(up, sizeof(up), "127.0.0.1:%u", (unsigned)upstream);
    unlink(port_file);
    argv[k++] = bin;
    argv[k++] = "--listen";
    argv[k++] = "127.0.0.1:0";
    argv[k++] = "--upstream";
    argv[k++] = up;
    argv[k++] = "--port-file";
    argv[k++] = port_file;
    if (stats) {
        argv[k++] = "--stats-json";
        argv[k++] = stats;
    }
    for (int i = 0; extra && extra[i] && k < 46; i++)
        argv[k++] = extra[i];
    argv[k] = NULL;
    if (sk_proc_start(p, (char *const *)argv, log) != 0 || sk_wait_file(port_file, 10000) != 0)
        return 0;
    char *txt = NULL;
    if (sk_read_file(port_file, &txt, NULL) != 0)
        return 0;
    long port = strtol(txt, NULL, 10);
    free(txt);
    if (port <= 0 || port > 65535 || sk_wait_port("127.0.0.1", (uint16_t)port, 10000) != 0)
        return 0;
    return (uint16_t)port;
}

int sk_read_file(const char *path, char **out, size_t *len_out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, fp);
        len += n;
        if (n == 0)
            break;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(fp);
    if (!buf)
        return -1;
    buf[len] = '\0';
    *out = buf;
    if (len_out)
        *len_out = len;
    return 0;
}

int sk_file_contains(const char *path, const char *needle)
{
    char *buf;
    size_t len;
    if (sk_read_file(path, &buf, &len))
        return -1;
    int r = strstr(buf, needle) != NULL;
    free(buf);
    return r;
}

int sk_wait_file_contains(const char *path, const char *needle, int timeout_ms)
{
    uint64_t end = sk_mono_ms() + (uint64_t)timeout_ms;
    while (sk_file_contains(path, needle) != 1) {
        if (sk_mono_ms() >= end)
            return -1;
        sk_sleep_ms(10);
    }
    return 0;
}

int sk_file_has_bytes(const char *path, const void *needle, size_t n)
{
    char *buf;
    size_t len;
    if (sk_read_file(path, &buf, &len))
        return -1;
    int found = 0;
    for (size_t i = 0; i + n <= len && !found; i++)
        found = memcmp(buf + i, needle, n) == 0;
    free(buf);
    return found;
}

int sk_copy_file(const char *from, const char *to)
{
    char *buf;
    size_t len;
    if (sk_read_file(from, &buf, &len))
        return -1;
    /* 0600, as the server makes its files (a copied master key must pass its mode check) */
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !fp)
        close(fd);
    int rc = fp && fwrite(buf, 1, len, fp) == len ? 0 : -1;
    if (fp && fclose(fp) != 0)
        rc = -1;
    free(buf);
    return rc;
}

int sk_copy_tree(const char *from, const char *to)
{
    if (sk_tmpdir_remove(to) != 0 && errno != ENOENT)
        return -1;
    if (mkdir(to, 0700) != 0)
        return -1;
    DIR *d = opendir(from);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        char a[1200], b[1200];
        struct stat st;
        snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
        snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
        if (lstat(a, &st) == 0 && S_ISREG(st.st_mode))
            rc = sk_copy_file(a, b);
    }
    closedir(d);
    return rc;
}

int sk_listen_loopback(int backlog, uint16_t *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int sk_connect_loopback(uint16_t port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int sk_scan_dir(const char *dir, const char *const *needles, size_t n, char *where, size_t wcap)
{
    int hits = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while (hits >= 0 && (e = readdir(d))) {
        char path[1200];
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = sk_scan_dir(path, needles, n, where, wcap);
            hits = sub < 0 ? -1 : hits + sub;
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        char *buf;
        size_t len;
        if (sk_read_file(path, &buf, &len)) {
            hits = -1;
            break;
        }
        for (size_t c = 0; c < n; c++) {
            size_t m = strlen(needles[c]);
            for (size_t i = 0; m && i + m <= len; i++)
                if (buf[i] == needles[c][0] && memcmp(buf + i, needles[c], m) == 0) {
                    hits++;
                    size_t w = strlen(where);
                    snprintf(where + w, wcap - w, "%s@%s:%zu ", needles[c], path, i);
                }
        }
        free(buf);
    }
    closedir(d);
    return hits;
}
