/*
 * main.c - sakhi-server's entry point: settings, log, then the server loop.
 *
 * Exit codes: 0 clean shutdown or --help; 2 bad flag or setting; 3 data directory or store;
 * 4 listen address or port; 70 store panic (from the writer). Messages for a refused start go
 * to stderr (and the log) in one line that says what to fix.
 */
#include "sk_config.h"
#include "sk_log.h"
#include "sk_server.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    sk_config cfg;
    char err[1024];
    sk_server srv;
    sk_config_defaults(&cfg);
    int rc = sk_config_parse(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc) {
        fprintf(stderr, "sakhi-server: %s\n", err);
        return 2;
    }
    sk_log_set_group(cfg.gid);
    if (sk_log_open(cfg.log_file, cfg.log_level)) {
        fprintf(stderr, "sakhi-server: cannot open log file %s%s\n", cfg.log_file,
                cfg.gid >= 0 ? " (or give it to --group)" : "");
        return 2;
    }
    sk_log_set_rotation(cfg.log_max_bytes, cfg.log_keep);
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    rc = sk_server_init(&srv, loop, &cfg, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "sakhi-server: %s\n", err);
        sk_log(SK_LOG_ERROR, "start_failed", "exit=%d", rc);
        uv_loop_close(loop); /* sk_server_init closed every handle it opened */
        sk_log_close();
        return rc;
    }
    rc = sk_server_run(&srv);
    uv_loop_close(loop);
    sk_log_close();
    return rc;
}
