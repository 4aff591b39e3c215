/*
 * test_dump.c - integration tests for sakhi-dump: the real executable on the golden vectors, on
 * a whole session stream, on frames encoded here, and on broken input (truncated, garbage, a bad
 * body followed by a good frame). Each output line is parsed as JSON and its offsets, error names
 * and decoded fields are compared with exact expected values.
 */

#include "sk_err.h"
#include "sk_frame.h"
#include "sk_proc.h"
#include "sk_json.h"
#include "sk_msg.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sk_testmain.h"

#define DUMP SAKHI_BIN_DIR "/tools/dump/sakhi-dump"

typedef struct fixture {
    char dir[256];
    char in[300];
    char out[300];
    char err[300];
    char *text; /* stdout of the last run */
    sk_json *lines[64];
    size_t nlines;
    int raw; /* do not parse stdout as JSON lines (for --help) */
} fixture;

static void clear_output(fixture *f)
{
    for (size_t i = 0; i < f->nlines; i++)
        sk_json_free(f->lines[i]);
    f->nlines = 0;
    free(f->text);
    f->text = NULL;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    if (sk_tmpdir_make(f->dir, sizeof(f->dir), "sakhi-dump") != 0) {
        free(f);
        return -1;
    }
    snprintf(f->in, sizeof(f->in), "%s/in.bin", f->dir);
    snprintf(f->out, sizeof(f->out), "%s/out.txt", f->dir);
    snprintf(f->err, sizeof(f->err), "%s/err.txt", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    clear_output(f);
    sk_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

/* A whole file, NUL-terminated (the caller frees it), or NULL. */
static char *slurp(const char *path, size_t *len)
{
    char *s = NULL;
    return sk_read_file(path, &s, len) == 0 ? s : NULL;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

/* Run sakhi-dump with args (NULL-terminated, without the program name); stdin from stdin_path
 * when given. Parses every stdout line as JSON into f->lines. Returns the exit status. */
static int run_dump(fixture *f, const char *stdin_path, const char *const *args)
{
    const char *argv[16];
    size_t n = 0;
    argv[n++] = DUMP;
    for (size_t i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    clear_output(f);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(f->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(f->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int i = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        if (o < 0 || e < 0 || i < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        dup2(i, 0);
        execv(DUMP, (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    f->text = slurp(f->out, NULL);
    assert_non_null(f->text);
    char *line = f->text;
    while (!f->raw && *line) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl); /* every line is terminated */
        assert_true(f->nlines < sizeof(f->lines) / sizeof(f->lines[0]));
        sk_json_error je;
        if (sk_json_parse(&f->lines[f->nlines], line, (size_t)(nl - line), &je) != 0)
            fail_msg("output line is not JSON (%s at %zu): %.*s", je.msg, je.offset,
                     (int)(nl - line), line);
        f->nlines++;
        line = nl + 1;
    }
    return WEXITSTATUS(st);
}

static int64_t int_of(const sk_json *j, const char *key)
{
    int64_t v = -1;
    if (sk_json_get_int(j, key, &v) != 0)
        fail_msg("no integer member '%s'", key);
    return v;
}

static void assert_str_member(const sk_json *j, const char *key, const char *want)
{
    const char *s = sk_json_get_str(j, key);
    if (!s)
        fail_msg("no string member '%s'", key);
    assert_string_equal(s, want);
}

/* sakhi-dump on args exits 1 having written nlines lines, the last an error of kind error at
 * byte offset of the stream. */
static void expect_stream_error(fixture *f, const char *const *args, size_t nlines, int64_t offset,
                                const char *error)
{
    assert_int_equal(run_dump(f, NULL, args), 1);
    assert_int_equal(f->nlines, nlines);
    assert_int_equal(int_of(f->lines[nlines - 1], "offset"), offset);
    assert_str_member(f->lines[nlines - 1], "error", error);
}

static int json_equal(const sk_json *a, const sk_json *b)
{
    if (!a || !b || a->type != b->type)
        return 0;
    switch (a->type) {
    case SK_JSON_NULL: return 1;
    case SK_JSON_BOOL: return a->boolean == b->boolean;
    case SK_JSON_NUMBER:
        return a->is_int == b->is_int && (a->is_int ? a->i == b->i : a->num == b->num);
    case SK_JSON_STRING: return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case SK_JSON_ARRAY:
        if (a->n != b->n)
            return 0;
        for (size_t i = 0; i < a->n; i++)
            if (!json_equal(&a->items[i], &b->items[i]))
                return 0;
        return 1;
    case SK_JSON_OBJECT:
        if (a->n != b->n)
            return 0;
        for (size_t i = 0; i < a->n; i++)
            if (!json_equal(&a->items[i], sk_json_get(b, a->items[i].key)))
                return 0;
        return 1;
    }
    return 0;
}

/* Frames encoded with the proto encoder. */
static void add_ping(sk_buf *b, uint32_t rid, uint64_t ms)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_PING, rid);
    m.u.ping.ms = ms;
    assert_int_equal(sk_msg_encode(b, &m), 0);
}

static void add_error(sk_buf *b, uint32_t rid)
{
    sk_msg m;
    sk_msg_init(&m, SK_MSG_ERROR, rid);
    m.u.error.code = SK_E_BUSY;
    m.u.error.msg = SK_STR("busy");
    m.u.error.retry_ms = 5000;
    assert_int_equal(sk_msg_encode(b, &m), 0);
}

static void add_raw_frame(sk_buf *b, const void *body, uint32_t len)
{
    uint8_t hdr[SK_FRAME_HDR];
    sk_frame_put_header(hdr, len);
    assert_int_equal(sk_buf_append(b, hdr, sizeof(hdr)), 0);
    assert_int_equal(sk_buf_append(b, body, len), 0);
}

/* ---- tests -------------------------------------------------------------------------------- */

/* A PING (ping_rid, ms) then an ERROR (error_rid) appended to b; the ERROR frame's offset. */
static size_t ping_then_error(sk_buf *b, uint32_t ping_rid, uint64_t ms, uint32_t error_rid)
{
    add_ping(b, ping_rid, ms);
    size_t second = b->len;
    add_error(b, error_rid);
    return second;
}

static void test_encoded_frames_decode_with_offsets(void **state)
{
    fixture *f = *state;
    sk_buf b = SK_BUF_INIT;
    size_t second = ping_then_error(&b, 5, 123, 9);
    write_file(f->in, b.data, b.len);

    const char *args[] = {f->in, NULL};
    assert_int_equal(run_dump(f, NULL, args), 0);
    assert_int_equal(f->nlines, 2);
    assert_int_equal(int_of(f->lines[0], "offset"), 0);
    assert_int_equal(int_of(f->lines[0], "len"), (int64_t)(second - SK_FRAME_HDR));
    assert_str_member(f->lines[0], "type", "PING");
    assert_int_equal(int_of(f->lines[0], "rid"), 5);
    assert_int_equal(int_of(f->lines[0], "ms"), 123);
    assert_null(sk_json_get(f->lines[0], "hex"));
    assert_int_equal(int_of(f->lines[1], "offset"), (int64_t)second);
    assert_str_member(f->lines[1], "type", "ERROR");
    assert_int_equal(int_of(f->lines[1], "code"), SK_E_BUSY);
    assert_str_member(f->lines[1], "error", "BUSY");
    assert_str_member(f->lines[1], "msg", "busy");
    assert_int_equal(int_of(f->lines[1], "retry_ms"), 5000);

    /* The same from stdin, with --hex giving each body's bytes. */
    const char *hex_args[] = {"--hex", "-", NULL};
    assert_int_equal(run_dump(f, f->in, hex_args), 0);
    assert_int_equal(f->nlines, 2);
    char want[256] = "";
    for (size_t i = SK_FRAME_HDR; i < second; i++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%02x", b.data[i]);
    assert_str_member(f->lines[0], "hex", want);
    sk_buf_free(&b);
}

static void test_truncated_stream_reports_offset(void **state)
{
    fixture *f = *state;
    sk_buf b = SK_BUF_INIT;
    size_t cut = ping_then_error(&b, 1, 7, 2);
    /* Stop 3 bytes into the second frame's body. */
    write_file(f->in, b.data, cut + SK_FRAME_HDR + 3);
    const char *args[] = {f->in, NULL};
    expect_stream_error(f, args, 2, (int64_t)cut, "TRUNCATED");
    assert_str_member(f->lines[0], "type", "PING");
    char want[96];
    snprintf(want, sizeof(want), "stream ends inside a frame (3 of %zu body bytes)",
             b.len - cut - SK_FRAME_HDR);
    assert_str_member(f->lines[1], "message", want);

    /* Stop inside the second length prefix. */
    write_file(f->in, b.data, cut + 2);
    expect_stream_error(f, args, 2, (int64_t)cut, "TRUNCATED");
    assert_str_member(f->lines[1], "message", "stream ends inside a length prefix (2 of 4 bytes)");
    sk_buf_free(&b);
}

static void test_garbage_is_frame_too_big(void **state)
{
    fixture *f = *state;
    const uint8_t junk[] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03};
    write_file(f->in, junk, sizeof(junk));
    const char *args[] = {f->in, NULL};
    expect_stream_error(f, args, 1, 0, "FRAME_TOO_BIG");
    assert_str_member(f->lines[0], "message",
                      "frame declares 3735928559 bytes; the maximum is 1048576");

    /* A good frame over a lowered --max-frame, after a good frame under it. */
    sk_buf b = SK_BUF_INIT;
    size_t second = ping_then_error(&b, 1, 1, 2);
    write_file(f->in, b.data, b.len);
    uint32_t big = (uint32_t)(b.len - second - SK_FRAME_HDR);
    char lim[16];
    snprintf(lim, sizeof(lim), "%u", big - 1);
    const char *small[] = {"--max-frame", lim, f->in, NULL};
    expect_stream_error(f, small, 2, (int64_t)second, "FRAME_TOO_BIG");
    assert_str_member(f->lines[0], "type", "PING");

    /* A zero length prefix. */
    const uint8_t zero[] = {0, 0, 0, 0};
    write_file(f->in, zero, sizeof(zero));
    expect_stream_error(f, args, 1, 0, "BAD_FRAME");
    sk_buf_free(&b);
}

static void test_bad_body_is_skipped_and_dump_goes_on(void **state)
{
    fixture *f = *state;
    sk_buf b = SK_BUF_INIT;
    add_ping(&b, 1, 1);
    size_t bad = b.len;
    const uint8_t never_used[] = {0x93, 0x09, 0x00, 0xc1}; /* [9, 0, <reserved byte 0xc1>] */
    add_raw_frame(&b, never_used, sizeof(never_used));
    sk_msg m;
    size_t eoff = 99;
    assert_int_equal(sk_msg_decode(never_used, sizeof(never_used), &m, &eoff), -SK_E_BAD_FRAME);
    size_t unknown = b.len;
    const uint8_t type99[] = {0x93, 0x63, 0x07, 0x80}; /* [99, 7, {}] */
    add_raw_frame(&b, type99, sizeof(type99));
    size_t last = b.len;
    add_ping(&b, 3, 3);
    write_file(f->in, b.data, b.len);

    const char *args[] = {f->in, NULL};
    assert_int_equal(run_dump(f, NULL, args), 1);
    assert_int_equal(f->nlines, 4);
    assert_str_member(f->lines[0], "type", "PING");
    /* The error's offset is the body's start plus where the decoder stopped. */
    assert_str_member(f->lines[1], "error", "BAD_FRAME");
    assert_int_equal(int_of(f->lines[1], "offset"), (int64_t)(bad + SK_FRAME_HDR + eoff));
    assert_int_equal(int_of(f->lines[1], "frame_offset"), (int64_t)bad);
    assert_null(sk_json_get(f->lines[1], "raw"));
    assert_str_member(f->lines[2], "error", "UNKNOWN_TYPE");
    assert_int_equal(int_of(f->lines[2], "frame_offset"), (int64_t)unknown);
    assert_int_equal(int_of(f->lines[2], "type_code"), 99);
    assert_int_equal(int_of(f->lines[2], "rid"), 7);
    const sk_json *raw = sk_json_get(f->lines[2], "raw");
    assert_non_null(raw);
    assert_int_equal(raw->type, SK_JSON_ARRAY);
    assert_int_equal(sk_json_count(raw), 3);
    assert_int_equal(int_of(f->lines[3], "offset"), (int64_t)last);
    assert_int_equal(int_of(f->lines[3], "rid"), 3);
    sk_buf_free(&b);
}

static void test_golden_vectors(void **state)
{
    fixture *f = *state;
    DIR *d = opendir(SAKHI_TEST_VECTORS);
    if (!d)
        skip();
    size_t checked = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".bin") != 0)
            continue;
        char bin[512], js[512];
        snprintf(bin, sizeof(bin), "%s/%s", SAKHI_TEST_VECTORS, e->d_name);
        snprintf(js, sizeof(js), "%s/%.*s.json", SAKHI_TEST_VECTORS, (int)(n - 4), e->d_name);
        char *text = slurp(js, NULL);
        if (!text)
            continue;
        sk_json *vec = NULL;
        assert_int_equal(sk_json_parse(&vec, text, strlen(text), NULL), 0);
        free(text);
        const sk_json *msg = sk_json_get(vec, "message");
        int64_t frame_len = -1;
        assert_int_equal(sk_json_get_int(vec, "frame_len", &frame_len), 0);

        const char *args[] = {bin, NULL};
        if (run_dump(f, NULL, args) != 0 || f->nlines != 1)
            fail_msg("%s: expected one message line, got:\n%s", e->d_name, f->text);
        const sk_json *line = f->lines[0];
        assert_int_equal(int_of(line, "offset"), 0);
        assert_int_equal(int_of(line, "len"), frame_len - SK_FRAME_HDR); /* frame_len has it */
        /* Every field of the vector's expected message appears with the same value, and the
         * line has nothing else but offset and len. */
        assert_non_null(msg);
        for (size_t i = 0; i < msg->n; i++) {
            const sk_json *want = &msg->items[i];
            if (!json_equal(want, sk_json_get(line, want->key)))
                fail_msg("%s: field '%s' differs:\n%s", e->d_name, want->key, f->text);
        }
        assert_int_equal(sk_json_count(line), sk_json_count(msg) + 2);
        sk_json_free(vec);
        checked++;
    }
    closedir(d);
    if (checked == 0)
        skip();
}

/* The vectors of one session, concatenated in the order SESSION lists: one line per frame at
 * running offsets, exactly as a capture of the whole conversation would show. */
static void test_session_stream(void **state)
{
    fixture *f = *state;
    char *list = slurp(SAKHI_TEST_VECTORS "/SESSION", NULL);
    if (!list)
        skip();
    sk_buf all = SK_BUF_INIT;
    size_t offsets[64];
    size_t n = 0;
    for (char *name = strtok(list, " \n"); name && n < 64; name = strtok(NULL, " \n")) {
        char path[512];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s.bin", SAKHI_TEST_VECTORS, name);
        char *bytes = slurp(path, &len);
        if (!bytes)
            fail_msg("SESSION names %s, which has no .bin", name);
        offsets[n++] = all.len;
        assert_int_equal(sk_buf_append(&all, bytes, len), 0);
        free(bytes);
    }
    free(list);
    assert_true(n > 0);
    write_file(f->in, all.data, all.len);
    const char *args[] = {NULL};
    assert_int_equal(run_dump(f, f->in, args), 0); /* from stdin, no file argument */
    assert_int_equal(f->nlines, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(int_of(f->lines[i], "offset"), (int64_t)offsets[i]);
        assert_non_null(sk_json_get_str(f->lines[i], "type"));
    }
    sk_buf_free(&all);
}

static void test_usage_errors(void **state)
{
    fixture *f = *state;
    const char *help[] = {"--help", NULL};
    f->raw = 1; /* the help text is not JSON lines */
    assert_int_equal(run_dump(f, NULL, help), 0);
    assert_non_null(strstr(f->text, "usage: sakhi-dump"));
    assert_non_null(strstr(f->text, "--max-frame"));
    assert_non_null(strstr(f->text, "--hex"));
    assert_non_null(strstr(f->text, "--help"));
}

static void test_bad_flags(void **state)
{
    fixture *f = *state;
    struct {
        const char *args[4];
        const char *msg;
    } cases[] = {
        {{"--bogus", NULL}, "unknown option --bogus (see --help)"},
        {{"--max-frame", "0", NULL}, "--max-frame needs a number"},
        {{"--max-frame", "12x", NULL}, "--max-frame needs a number"},
        {{"--max-frame", NULL}, "option --max-frame needs a value"},
        {{"/nonexistent/capture.bin", NULL}, "cannot open '/nonexistent/capture.bin'"},
        {{"a.bin", "b.bin", NULL}, "unexpected argument 'b.bin'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(run_dump(f, NULL, cases[i].args), 2);
        assert_int_equal(f->nlines, 0);
        char *err = slurp(f->err, NULL);
        assert_non_null(err);
        if (!strstr(err, cases[i].msg))
            fail_msg("expected '%s' in: %s", cases[i].msg, err);
        free(err);
    }
}

static struct CMUnitTest tests[] = {
    cmocka_unit_test(test_encoded_frames_decode_with_offsets),
    cmocka_unit_test(test_truncated_stream_reports_offset),
    cmocka_unit_test(test_garbage_is_frame_too_big),
    cmocka_unit_test(test_bad_body_is_skipped_and_dump_goes_on),
    cmocka_unit_test(test_golden_vectors),
    cmocka_unit_test(test_session_stream),
    cmocka_unit_test(test_usage_errors),
    cmocka_unit_test(test_bad_flags),
};

SK_TEST_MAIN_EACH(tests, setup, teardown)
