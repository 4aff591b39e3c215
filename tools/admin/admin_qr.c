/*
 * admin_qr.c - the enrollment URI as a QR code, for `sakhi-admin enroll-code`: a PNG file (a
 * printed sheet, a screen at the centre) and blocks on the terminal. The symbol is made by
 * libqrencode and the PNG written by libpng; this file only lays the modules out. The URI holds
 * a one-time code, so the PNG is created with mode 0600.
 */
#include "admin.h"

#include <png.h>
#include <qrencode.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QR_MARGIN 4 /* quiet zone, in modules (the standard asks for 4) */
#define QR_SCALE 8  /* pixels per module in the PNG */

static QRcode *encode(const char *text)
{
    /* Level M: survives a smudged print or a cracked phone screen at a size that still scans. */
    return QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
}

/* Write qr as a 1-bit PNG to f, using row (side/8 rounded up bytes). 0 or -1. libpng reports
 * errors by longjmp, so nothing here changes after setjmp but libpng's own state. */
static int write_png(FILE *f, const QRcode *qr, size_t side, png_bytep row)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 1, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t w = (size_t)qr->width;
    for (size_t y = 0; y < side; y++) {
        memset(row, 0xff, (side + 7) / 8); /* 1 bits: white */
        size_t my = y / QR_SCALE;
        if (my >= QR_MARGIN && my < w + QR_MARGIN) {
            for (size_t x = 0; x < side; x++) {
                size_t mx = x / QR_SCALE;
                if (mx < QR_MARGIN || mx >= w + QR_MARGIN)
                    continue;
                if (qr->data[(my - QR_MARGIN) * w + (mx - QR_MARGIN)] & 1)
                    row[x / 8] &= (png_byte) ~(0x80u >> (x % 8));
            }
        }
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int sk_admin_qr_png(const char *text, const char *path, char *err, size_t errcap)
{
    QRcode *qr = NULL;
    FILE *f = NULL;
    png_bytep row = NULL;
    int rc = -1;

    if (!(qr = encode(text))) {
        snprintf(err, errcap, "cannot make the QR code: %s", strerror(errno));
        goto out;
    }
    size_t side = ((size_t)qr->width + 2 * QR_MARGIN) * QR_SCALE;
    if (!(row = calloc(1, (side + 7) / 8))) {
        snprintf(err, errcap, "out of memory");
        goto out;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "wb"))) {
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    if (write_png(f, qr, side, row)) {
        snprintf(err, errcap, "cannot write the PNG %s", path);
        goto out;
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (f && fclose(f) != 0 && rc == 0) {
        snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    free(row);
    QRcode_free(qr);
    return rc;
}

/* Dark module at (x, y) of the symbol with its quiet zone; outside is light. */
static int dark(const QRcode *qr, int x, int y)
{
    x -= QR_MARGIN;
    y -= QR_MARGIN;
    if (x < 0 || y < 0 || x >= qr->width || y >= qr->width)
        return 0;
    return qr->data[(size_t)y * (size_t)qr->width + (size_t)x] & 1;
}

int sk_admin_qr_terminal(FILE *out, const char *text)
{
    QRcode *qr = encode(text);
    if (!qr)
        return -1;
    /* Two rows of modules per line with half blocks, black on white set explicitly, so the
     * code scans on a dark terminal as on a light one. */
    int side = qr->width + 2 * QR_MARGIN;
    for (int y = 0; y < side; y += 2) {
        fputs("\033[30;47m", out);
        for (int x = 0; x < side; x++) {
            int top = dark(qr, x, y), bottom = y + 1 < side && dark(qr, x, y + 1);
            fputs(top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ", out);
        }
        fputs("\033[0m\n", out);
    }
    QRcode_free(qr);
    return ferror(out) ? -1 : 0;
}
