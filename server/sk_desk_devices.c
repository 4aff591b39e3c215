/*
 * sk_desk_devices.c - the desk's devices and workers page (administrators): every worker with
 * her enrolled devices, when each was last seen, a revoke button, and the enrollment of a new
 * phone: a one-time code and the enrollment URI (docs/CLIENT-API.md, "Enrollment from one
 * scan") as text and as a QR code drawn by the server as SVG from libqrencode's modules.
 *
 * The page renders on libuv's thread pool from the store's read side; the code is made on the
 * writer thread (sk_desk_ops.c) and its page is answered to that POST only, never cached and
 * never kept by the desk.
 */
#include "sk_desk_int.h"

#include "sk_desk_html.h"
#include "sk_err.h"

#include <qrencode.h>

#include <stdlib.h>
#include <string.h>

#define MAX_WORKERS 500
#define MAX_DEVICES 2000

static const char *role_name(uint32_t role)
{
    switch (role) {
    case SK_ROLE_FIELD: return "field";
    case SK_ROLE_STAFF: return "staff";
    case SK_ROLE_ADMIN: return "admin";
    default: return "?";
    }
}

static void device_row(sk_buf *out, const sk_desk_who *who, const sk_desk_dlist *dl,
                       const sk_worker *w, const sk_device_info *d)
{
    int lang = who->lang;
    sk_h(out, d ? "<tr data-device=\"" : "<tr data-worker=\"");
    if (d)
        sk_h_fmt(out, "%llu", (unsigned long long)d->id);
    else
        sk_h_esc(out, w->id);
    sk_h(out, w->disabled || (d && d->revoked) ? "\" class=\"off\"><td>" : "\"><td>");
    sk_h_esc(out, w->id);
    sk_h(out, "</td><td>");
    sk_h(out, role_name(w->role));
    sk_h(out, "</td><td>");
    char dbuf[24];
    sk_h_esc(out, w->district ? sk_desk_dlist_name(dl, lang, w->district, dbuf, sizeof(dbuf))
                              : sk_t(lang, T_ALL));
    sk_h(out, "</td><td>");
    if (d) {
        sk_h_fmt(out, "%llu ", (unsigned long long)d->id);
        sk_h_esc(out, d->label);
    }
    sk_h(out, "</td><td>");
    if (d)
        sk_h_time_ist(out, d->last_seen_ms);
    sk_h(out, "</td><td>");
    if (d && d->revoked) {
        sk_h(out, "<span class=\"tag\">");
        sk_h_esc(out, sk_t(lang, T_REVOKED));
        sk_h(out, "</span>");
    } else if (d) {
        sk_h(out, "<form method=\"post\" action=\"/devices/revoke\" class=\"action\">");
        sk_desk_hidden_csrf(out, who->csrf);
        sk_h_fmt(out,
                 "<input type=\"hidden\" name=\"device\" value=\"%llu\"><button "
                 "class=\"revoke\">",
                 (unsigned long long)d->id);
        sk_h_esc(out, sk_t(lang, T_REVOKE));
        sk_h(out, "</button></form>");
    }
    sk_h(out, "</td></tr>");
}

int sk_desk_page_devices(sk_buf *out, sk_store *st, const sk_desk_who *who, uint64_t now_ms)
{
    int lang = who->lang, rc;
    sk_worker *w = NULL;
    sk_device_info *d = NULL;
    size_t nw = 0, nd = 0;
    sk_desk_dlist dn = {0};
    (void)now_ms;
    if ((rc = sk_store_workers(st, MAX_WORKERS, &w, &nw)) ||
        (rc = sk_store_devices(st, MAX_DEVICES, &d, &nd)) ||
        (rc = sk_desk_dlist_load(&dn, st, NULL)))
        goto fail;
    sk_desk_top_h1(out, who, T_DEVICES);
    sk_h(out, "</h1><form method=\"post\" action=\"/devices/enroll\" id=\"f-enroll\" "
              "class=\"action\">");
    sk_desk_hidden_csrf(out, who->csrf);
    sk_desk_select_open(out, lang, T_WORKER, "worker", "enroll-worker");
    for (size_t i = 0; i < nw; i++)
        if (!w[i].disabled)
            sk_desk_option(out, w[i].id, w[i].id, 0);
    sk_h(out, "</select></label><button id=\"enroll\">");
    sk_h_esc(out, sk_t(lang, T_ENROLL));
    const char *cols[] = {sk_t(lang, T_WORKER),    "role",
                          sk_t(lang, T_DISTRICT),  sk_t(lang, T_DEVICE),
                          sk_t(lang, T_LAST_SEEN), ""};
    sk_h(out, "</button></form><table id=\"devices\"><thead><tr>");
    sk_desk_th_texts(out, cols, sizeof(cols) / sizeof(cols[0]));
    sk_h(out, "</tr></thead><tbody>");
    for (size_t i = 0; i < nw; i++) {
        int any = 0;
        for (size_t k = 0; k < nd; k++)
            if (strcmp(d[k].worker, w[i].id) == 0) {
                device_row(out, who, &dn, &w[i], &d[k]);
                any = 1;
            }
        if (!any) /* a worker without devices still gets her row */
            device_row(out, who, &dn, &w[i], NULL);
    }
    sk_h(out, "</tbody></table>");
    sk_desk_bottom(out);
    free(d);
    free(w);
    sk_desk_dlist_free(&dn);
    return 200;
fail:
    free(d);
    free(w);
    sk_desk_dlist_free(&dn);
    return sk_desk_page_failed(out, lang, T_DEVICES, rc);
}

/* ---- enrollment page ---------------------------------------------------------------------- */

int sk_desk_qr_svg(sk_buf *b, const char *text)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        return -SK_E_INTERNAL;
    int w = q->width, quiet = 4;
    sk_h_fmt(b,
             "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"qr\" viewBox=\"0 0 %d %d\" "
             "width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\" role=\"img\">"
             "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
             w + 2 * quiet, w + 2 * quiet, (w + 2 * quiet) * 6, (w + 2 * quiet) * 6, w + 2 * quiet,
             w + 2 * quiet);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w;) {
            if (!(q->data[y * w + x] & 1)) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (q->data[y * w + x + run] & 1))
                run++;
            sk_h_fmt(b, "M%d %dh%dv1h-%dz", x + quiet, y + quiet, run, run);
            x += run;
        }
    }
    sk_h(b, "\"/></svg>");
    QRcode_free(q);
    return b->oom ? -SK_E_NOMEM : 0;
}

int sk_desk_page_enrolled(sk_buf *out, const sk_desk_who *who, const char *worker, const char *code,
                          const char *uri)
{
    int lang = who->lang;
    sk_desk_top_h1(out, who, T_ENROLL);
    sk_h(out, ": ");
    sk_h_esc(out, worker);
    sk_h(out, "</h1><p>");
    sk_h_esc(out, sk_t(lang, T_ENROLL_HINT));
    sk_h(out, "</p><div class=\"qr\">");
    int rc = sk_desk_qr_svg(out, uri);
    sk_h(out, "</div><p>");
    sk_h_esc(out, sk_t(lang, T_ENROLL_CODE));
    sk_h(out, " <code id=\"enroll-code\">");
    sk_h_esc(out, code);
    sk_h(out, "</code></p><p><code id=\"enroll-uri\">");
    sk_h_esc(out, uri);
    sk_h(out, "</code></p><p><a href=\"/devices\">");
    sk_h_esc(out, sk_t(lang, T_DEVICES));
    sk_h(out, "</a></p>");
    sk_desk_bottom(out);
    return rc ? 500 : 200;
}
