/*
 * sk_testhub.c - see sk_testhub.h. Owns the three servers of an sk_th until sk_th_teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testhub.h"

#include "sk_case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STOP_MS 10000

/* The enrollment URI of centre name on the hub. */
static void centre_uri(sk_th *h, const char *pin_hex, const char *name, char *uri, size_t cap)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)h->hub.port);
    const char *args[] = {"--json", "enroll-code", "--centre", name, "--addr",
                          addr,     "--pin",       pin_hex,    NULL};
    assert_int_equal(sk_admin_at(&h->g, &h->hub, args), 0);
    assert_int_equal(sk_admin_json_str(h->g.o, "uri", uri, cap), 0);
}

/* Start centre c feeding the hub at to (an enrollment URI, or HOST:PORT once enrolled). */
static void start_centre(sk_th *h, sk_ts *c, const char *to)
{
    const char *args[] = {"--to-hub", to, "--hub-interval", h->interval, NULL};
    assert_int_equal(sk_ts_start(c, args), 0);
}

void sk_th_start(sk_th *h, const char *prefix, const char *leh_fw, const char *kargil_fw,
                 const char *interval)
{
    uint8_t pin[SK_TLS_PIN_LEN];
    char name[128], pin_hex[SK_TLS_PIN_HEX_LEN + 1], uril[512], urik[512];
    memset(h, 0, sizeof(*h));
    snprintf(h->interval, sizeof(h->interval), "%s", interval);
    snprintf(name, sizeof(name), "%s-hub", prefix);
    assert_int_equal(sk_ts_setup(&h->hub, name), 0);
    snprintf(name, sizeof(name), "%s-leh", prefix);
    assert_int_equal(sk_ts_setup(&h->leh, name), 0);
    snprintf(name, sizeof(name), "%s-kargil", prefix);
    assert_int_equal(sk_ts_setup(&h->kargil, name), 0);
    assert_int_equal(sk_ts_tls(&h->hub, pin), 0);
    sk_tls_pin_format(pin_hex, pin);
    const char *hargs[] = {"--hub", NULL};
    assert_int_equal(sk_ts_start(&h->hub, hargs), 0);
    centre_uri(h, pin_hex, "leh", uril, sizeof(uril));
    centre_uri(h, pin_hex, "kargil", urik, sizeof(urik));
    assert_int_equal(sk_ts_worker(&h->leh, leh_fw, SK_ROLE_FIELD, SK_DISTRICT_LEH), 0);
    assert_int_equal(sk_ts_worker(&h->kargil, kargil_fw, SK_ROLE_FIELD, SK_DISTRICT_KARGIL), 0);
    start_centre(h, &h->leh, uril);
    start_centre(h, &h->kargil, urik);
}

void sk_th_restart_centre(sk_th *h, sk_ts *c)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)h->hub.port);
    start_centre(h, c, addr);
}

void sk_th_restart_hub(sk_th *h)
{
    char port[8];
    sk_ts_kill(&h->hub);
    snprintf(port, sizeof(port), "%u", (unsigned)h->hub.port);
    const char *args[] = {"--hub", "--port", port, NULL};
    assert_int_equal(sk_ts_start(&h->hub, args), 0);
}

void sk_th_stop(sk_th *h)
{
    assert_int_equal(sk_ts_stop(&h->leh, STOP_MS), 0);
    assert_int_equal(sk_ts_stop(&h->kargil, STOP_MS), 0);
    assert_int_equal(sk_ts_stop(&h->hub, STOP_MS), 0);
}

void sk_th_teardown(sk_th *h)
{
    sk_ts_teardown(&h->leh);
    sk_ts_teardown(&h->kargil);
    sk_ts_teardown(&h->hub);
    free(h->g.o);
    free(h->g.e);
    h->g.o = h->g.e = NULL;
}
