/*
 * java_test_server.c - a real sakhi-server for the Java tests, driven over stdin/stdout by the
 * JVM that started it (org.sakhisync.TestServer). It makes a temp directory with a data dir, the
 * workers fw1 (field, Leh) and staff1 (staff, Leh), a centre TLS key, starts sakhi-server on
 * 127.0.0.1 (port 0) and prints one line:
 *     ready port=<port> pin=<64 hex digits>
 * then answers one line per command:
 *     code <worker>   -> "code <one-time enrollment code>"
 *     stats           -> "stats records=<n> seq=<n>" (the server store's counters)
 *     quit or EOF     -> stops the server (SIGTERM, bounded), removes the directory, exits 0
 * EOF comes when the JVM dies, so no server outlives its test. The whole run is bounded by an
 * alarm. Errors go to stderr as "error ..." and exit 1.
 */
#include "sk_testserver.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_RUN_SECONDS 600

int main(void)
{
    sk_ts ts;
    uint8_t pin[SK_TLS_PIN_LEN];
    char pin_hex[SK_TLS_PIN_HEX_LEN + 1];
    char line[256];
    int rc = 1;

    alarm(MAX_RUN_SECONDS);
    memset(&ts, 0, sizeof(ts));
    if (sk_ts_setup(&ts, "sakhi-java")) {
        fprintf(stderr, "error setup\n");
        return 1;
    }
    if (sk_ts_worker(&ts, "fw1", 1, 1) || sk_ts_worker(&ts, "staff1", 2, 1)) {
        fprintf(stderr, "error workers\n");
        goto out;
    }
    if (sk_ts_tls(&ts, pin)) {
        fprintf(stderr, "error tls\n");
        goto out;
    }
    sk_tls_pin_format(pin_hex, pin);
    if (sk_ts_start(&ts, NULL)) {
        fprintf(stderr, "error start\n");
        goto out;
    }
    printf("ready port=%u pin=%s\n", (unsigned)ts.port, pin_hex);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "code ", 5) == 0) {
            char code[SK_ENROLL_CODE_LEN + 1];
            if (sk_ts_code(&ts, line + 5, 600000, code)) {
                fprintf(stderr, "error code\n");
                goto out;
            }
            printf("code %s\n", code);
        } else if (strcmp(line, "stats") == 0) {
            uint64_t records = 0, seq = 0;
            if (sk_ts_stats(&ts, &records, &seq)) {
                fprintf(stderr, "error stats\n");
                goto out;
            }
            printf("stats records=%llu seq=%llu\n", (unsigned long long)records,
                   (unsigned long long)seq);
        } else if (strcmp(line, "quit") == 0) {
            break;
        } else {
            printf("error unknown command\n");
        }
        fflush(stdout);
    }
    rc = sk_ts_stop(&ts, 10000) == 0 ? 0 : 1;
out:
    sk_ts_teardown(&ts);
    return rc;
}
