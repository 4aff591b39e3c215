/*
 * test_json_writer.c - the tools' JSON writer (tools/common/sk_json.h) on long containers: an
 * array of 1,000 objects and an object of 300 members, compact and pretty, must parse back with
 * every element. (The writer used to count elements per level in a byte: from the 257th on,
 * the separating comma was missing, so `sakhi list --json` with more than 256 records printed
 * text that does not parse; found by the client-crash campaign, docs/RELIABILITY.md.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sk_testmain.h"

#include "sk_json.h"
#include "sk_buf.h"

#include <stdio.h>
#include <string.h>

static void check_long_containers(int pretty)
{
    sk_buf b = SK_BUF_INIT;
    sk_jw w;
    sk_jw_init(&w, &b, pretty);
    sk_jw_obj_begin(&w);
    sk_jw_key(&w, "items");
    sk_jw_arr_begin(&w);
    for (unsigned i = 0; i < 1000; i++) {
        sk_jw_obj_begin(&w);
        sk_jw_key(&w, "n");
        sk_jw_uint(&w, i);
        sk_jw_key(&w, "s");
        sk_jw_cstr(&w, i % 2 ? "odd" : NULL);
        sk_jw_obj_end(&w);
    }
    sk_jw_arr_end(&w);
    sk_jw_key(&w, "wide");
    sk_jw_obj_begin(&w);
    for (unsigned i = 0; i < 300; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%u", i);
        sk_jw_key(&w, k);
        sk_jw_uint(&w, i * 7u);
    }
    sk_jw_obj_end(&w);
    sk_jw_obj_end(&w);
    assert_false(b.oom);

    sk_json *j = NULL;
    sk_json_error e;
    if (sk_json_parse(&j, (const char *)b.data, b.len, &e) != 0)
        fail_msg("pretty=%d: not JSON at %zu (%s)", pretty, e.offset, e.msg);
    const sk_json *items = sk_json_get(j, "items");
    assert_non_null(items);
    assert_int_equal(sk_json_count(items), 1000);
    for (size_t i = 0; i < 1000; i++) {
        int64_t n = -1;
        assert_int_equal(sk_json_get_int(sk_json_at(items, i), "n", &n), 0);
        assert_int_equal(n, (int64_t)i);
    }
    const sk_json *wide = sk_json_get(j, "wide");
    assert_non_null(wide);
    assert_int_equal(sk_json_count(wide), 300);
    int64_t v = -1;
    assert_int_equal(sk_json_get_int(wide, "k299", &v), 0);
    assert_int_equal(v, 299 * 7);
    sk_json_free(j);
    sk_buf_free(&b);
}

/* The same containers written compact and pretty: each must parse back whole. */
static void test_long_containers_in_both_layouts(void **state)
{
    (void)state;
    for (int pretty = 0; pretty <= 1; pretty++)
        check_long_containers(pretty);
}

SK_TEST_MAIN({
    cmocka_unit_test(test_long_containers_in_both_layouts),
})
