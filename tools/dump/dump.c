/*
 * dump.c - sakhi-dump: decode a captured byte stream of protocol frames into JSON lines.
 *
 * Reads a file (or stdin) in pieces, feeds them to the same frame reader and message decoder the
 * server and client use (proto/), and prints one JSON object per frame on stdout: the decoded
 * message with the byte offset where its frame starts, or an error object carrying the offset of
 * the offending byte. A frame whose body does not decode is reported and skipped (its length
 * prefix still says where the next frame starts); a bad length prefix or a stream ending inside a
 * frame stops the dump, since nothing after it can be located. Exit status 1 if any error was
 * seen, 2 on a usage or I/O error.
 *
 * It owns nothing beyond one read buffer and the frame reader. This is a developer's tool for
 * captures and golden vectors: it does print record content, so it must never be wired into a
 * server or library log.
 */
#include "sk_err.h"
#include "sk_frame.h"
#include "sk_jw.h"
#include "sk_msg.h"
#include "sk_opts.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_READ (64u * 1024u)
#define DUMP_MAX_FRAME_LIMIT (256u * 1024u * 1024u)

typedef struct dump {
    sk_frame_reader r;
    sk_buf line;
    int hex;
    uint64_t errors;
    uint64_t frames;
} dump;

static const char k_help[] =
    "usage: sakhi-dump [--max-frame N] [--hex] [FILE | -]\n"
    "\n"
    "Decode a byte stream of Sakhi Sync protocol frames (4-byte big-endian length, then one\n"
    "MessagePack value) and print one JSON object per frame on stdout, in stream order.\n"
    "Reads FILE, or standard input when FILE is '-' or absent.\n"
    "\n"
    "  --max-frame N   largest frame body accepted (default 1048576, as the protocol's\n"
    "                  default); a longer declared length is reported as FRAME_TOO_BIG\n"
    "  --hex           add each frame's body bytes as \"hex\"\n"
    "  -h, --help      this text\n"
    "\n"
    "Each message line:  "
    "{\"offset\":O,\"len\":L,\"type\":\"HELLO\",\"type_code\":1,\"rid\":R,...}\n"
    "where O is the byte offset of the frame's length prefix and L its body length.\n"
    "Each error line:    {\"offset\":O,\"error\":\"NAME\",\"message\":\"...\",...}\n"
    "where O is the offset of the offending byte. A body that does not decode is reported\n"
    "and skipped (with \"frame_offset\" and, when it is valid MessagePack, \"raw\"); a bad\n"
    "length prefix or a stream that ends inside a frame ends the dump.\n"
    "\n"
    "Exit status: 0 when every frame decoded, 1 when any error was reported, 2 on a usage\n"
    "or read error.\n";

static void put_raw(sk_buf *b, const char *s)
{
    sk_buf_append(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void put_fmt(sk_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sk_buf_append(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string (error names and texts), escaped by the one writer. */
static void put_str(sk_buf *b, const char *s)
{
    sk_jw_escape(b, s, strlen(s));
}

static void put_hex(sk_buf *b, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (sk_buf_reserve(b, 2 * n + 2) < 0)
        return;
    put_raw(b, "\"");
    for (size_t i = 0; i < n; i++) {
        char two[2] = {digits[p[i] >> 4], digits[p[i] & 15]};
        sk_buf_append(b, two, 2);
    }
    put_raw(b, "\"");
}

static int emit(dump *d)
{
    put_raw(&d->line, "\n");
    if (d->line.oom) {
        fputs("sakhi-dump: out of memory\n", stderr);
        return -1;
    }
    if (fwrite(d->line.data, 1, d->line.len, stdout) != d->line.len)
        return -1;
    sk_buf_reset(&d->line);
    return 0;
}

static int error_line(dump *d, uint64_t offset, int code, const char *detail)
{
    d->errors++;
    put_fmt(&d->line, "{\"offset\":%" PRIu64 ",\"error\":", offset);
    put_str(&d->line, sk_err_name(code));
    put_raw(&d->line, ",\"message\":");
    put_str(&d->line, detail ? detail : sk_err_text(code));
    put_raw(&d->line, "}");
    return emit(d);
}

static int frame_line(dump *d, uint64_t start, const uint8_t *body, uint32_t len)
{
    sk_msg m;
    size_t eoff = 0;
    d->frames++;
    int rc = sk_msg_decode(body, len, &m, &eoff);
    if (rc == 0) {
        size_t mark = d->line.len;
        put_fmt(&d->line, "{\"offset\":%" PRIu64 ",\"len\":%" PRIu32 ",", start, len);
        size_t at = d->line.len;
        rc = sk_msg_to_json(&d->line, &m);
        sk_msg_free(&m);
        /* Splice: drop the message object's own braces so the line is one flat object. */
        if (rc == 0 && d->line.len - at >= 2 && d->line.data[at] == '{' &&
            d->line.data[d->line.len - 1] == '}') {
            memmove(d->line.data + at, d->line.data + at + 1, d->line.len - at - 1);
            d->line.len -= 2;
            if (d->hex) {
                put_raw(&d->line, ",\"hex\":");
                put_hex(&d->line, body, len);
            }
            put_raw(&d->line, "}");
            return emit(d);
        }
        d->line.len = mark;
        if (rc == 0)
            rc = -SK_E_INTERNAL;
        eoff = 0;
    }
    uint64_t at = start + SK_FRAME_HDR + eoff;
    d->errors++;
    put_fmt(&d->line, "{\"offset\":%" PRIu64 ",\"error\":", at);
    put_str(&d->line, sk_err_name(rc));
    put_raw(&d->line, ",\"message\":");
    put_str(&d->line, sk_err_text(rc));
    put_fmt(&d->line, ",\"frame_offset\":%" PRIu64 ",\"len\":%" PRIu32, start, len);
    if (rc == -SK_E_UNKNOWN_TYPE)
        put_fmt(&d->line, ",\"type_code\":%" PRIu32 ",\"rid\":%" PRIu32, m.type, m.rid);
    size_t mark = d->line.len;
    put_raw(&d->line, ",\"raw\":");
    if (sk_msg_mp_to_json(&d->line, body, len) != 0)
        d->line.len = mark; /* not even one valid MessagePack value */
    if (d->hex) {
        put_raw(&d->line, ",\"hex\":");
        put_hex(&d->line, body, len);
    }
    put_raw(&d->line, "}");
    return emit(d);
}

/* Returns 0 when the stream ended cleanly, 1 after a stream error, -1 on an I/O error. */
static int run(dump *d, FILE *in)
{
    static uint8_t buf[DUMP_READ];
    uint64_t pos = 0;   /* stream offset of buf[0] */
    uint64_t start = 0; /* stream offset of the current frame's length prefix */
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        size_t off = 0;
        while (off < n) {
            if (!sk_frame_reader_partial(&d->r))
                start = pos + off;
            size_t used = 0;
            const uint8_t *body = NULL;
            uint32_t blen = 0;
            int rc = sk_frame_feed(&d->r, buf + off, n - off, &used, &body, &blen);
            off += used;
            if (rc == 1) {
                if (frame_line(d, start, body, blen) < 0)
                    return -1;
                continue;
            }
            if (rc < 0) {
                char msg[128];
                const uint8_t *h = d->r.hdr;
                uint32_t declared = sk_be32_get(h);
                if (rc == -SK_E_FRAME_TOO_BIG)
                    snprintf(msg, sizeof(msg),
                             "frame declares %" PRIu32 " bytes; the maximum is %" PRIu32, declared,
                             d->r.max_frame);
                else if (rc == -SK_E_BAD_FRAME)
                    snprintf(msg, sizeof(msg), "frame declares a length of 0");
                else
                    snprintf(msg, sizeof(msg), "%s", sk_err_text(rc));
                return error_line(d, start, rc, msg) < 0 ? -1 : 1;
            }
        }
        pos += n;
    }
    if (ferror(in)) {
        fprintf(stderr, "sakhi-dump: read error: %s\n", strerror(errno));
        return -1;
    }
    if (sk_frame_reader_partial(&d->r)) {
        char msg[128];
        if (d->r.want == 0)
            snprintf(msg, sizeof(msg),
                     "stream ends inside a length prefix (%" PRIu32 " of %d bytes)", d->r.hdr_have,
                     SK_FRAME_HDR);
        else
            snprintf(msg, sizeof(msg),
                     "stream ends inside a frame (%" PRIu32 " of %" PRIu32 " body bytes)",
                     d->r.have, d->r.want);
        return error_line(d, start, -SK_E_TRUNCATED, msg) < 0 ? -1 : 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    dump d;
    const char *path = NULL;
    unsigned long max_frame = SK_FRAME_DEFAULT_MAX;
    int status = SK_EXIT_USAGE;
    FILE *in = NULL;
    memset(&d, 0, sizeof(d));
    sk_buf_init(&d.line);

    const char *max_s = NULL, *pos[1];
    size_t npos = 0;
    char err[160];
    const sk_opt opts[] = {
        {"max-frame", SK_OPT_VALUE, &max_s}, {"hex", SK_OPT_FLAG, &d.hex}, {NULL, 0, NULL}};
    int prc = sk_opts_parse(argc, argv, opts, NULL, pos, 0, 1, &npos, 0, k_help, err, sizeof(err));
    if (prc == SK_OPTS_HELP)
        return SK_EXIT_OK;
    if (prc != SK_OPTS_OK) {
        fprintf(stderr, "sakhi-dump: %s\n", err);
        return SK_EXIT_USAGE;
    }
    if (max_s) {
        char *end = NULL;
        errno = 0;
        max_frame = *max_s >= '0' && *max_s <= '9' ? strtoul(max_s, &end, 10) : 0;
        if (errno || !end || *end || max_frame < 1 || max_frame > DUMP_MAX_FRAME_LIMIT) {
            fprintf(stderr,
                    "sakhi-dump: --max-frame needs a number from 1 to %u, got '%s'\n"
                    "(see sakhi-dump --help)\n",
                    DUMP_MAX_FRAME_LIMIT, max_s);
            return SK_EXIT_USAGE;
        }
    }
    path = npos ? pos[0] : NULL;

    if (!path || strcmp(path, "-") == 0) {
        in = stdin;
    } else {
        in = fopen(path, "rb");
        if (!in) {
            fprintf(stderr, "sakhi-dump: cannot open '%s': %s\n", path, strerror(errno));
            return SK_EXIT_USAGE;
        }
    }
    sk_frame_reader_init(&d.r, (uint32_t)max_frame);
    int rc = run(&d, in);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fputs("sakhi-dump: cannot write the output\n", stderr);
        rc = -1;
    }
    if (rc < 0)
        status = SK_EXIT_USAGE;
    else
        status = d.errors ? SK_EXIT_FAIL : SK_EXIT_OK;
    sk_frame_reader_free(&d.r);
    sk_buf_free(&d.line);
    if (in != stdin)
        fclose(in);
    return status;
}
