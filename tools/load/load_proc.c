/*
 * load_proc.c - what sakhi-load reads about the server process from /proc: its CPU seconds and
 * its memory lines, for the figures in the report. Only reads; a process that is gone or a
 * line that is missing gives the "unreadable" value, never an error that stops the run.
 */
#include "load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double sk_load_proc_cpu(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the ")" that ends the command name: state is field 3, utime 14, stime 15 */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, stt = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
        return -1;
    return (double)(ut + stt) / 100.0; /* USER_HZ is 100 on Linux */
}

uint64_t sk_load_proc_kib(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    uint64_t v = 0;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, field, fl)) {
            v = strtoull(line + fl, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}
