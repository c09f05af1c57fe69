/* Unit tests for diffd/jsonpath: parsing, matching of each path form, errors
 * with their positions, and the writers of exact paths and JSON Pointers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jsonpath.h"

/* Turns a singular path text ("$.a[3]['x y']") into exact path elements. */
static size_t exact(const char *text, struct jsonpath **keep, struct jsonpath_elem *out)
{
    char err[128];
    assert_int_equal(jsonpath_parse(text, strlen(text), false, keep, NULL, err, sizeof(err)), 0);
    struct jsonpath *p = *keep;
    for (size_t i = 0; i < p->nseg; i++) {
        assert_true(p->seg[i].sel != JSONPATH_WILDCARD && !p->seg[i].descendant);
        if (p->seg[i].sel == JSONPATH_INDEX)
            out[i] = (struct jsonpath_elem){.index = p->seg[i].index, .is_index = true};
        else
            out[i] = (struct jsonpath_elem){.name = p->seg[i].name, .len = p->seg[i].name_len};
    }
    return p->nseg;
}

struct match_case {
    const char *pattern;
    const char *subject;
    bool match;
};

static const struct match_case match_cases[] = {
    {"$", "$", true},
    {"$", "$.a", false},
    {"$.a.b", "$.a.b", true},
    {"$.a.b", "$.a", false},
    {"$.a.b", "$.a.b.c", false},
    {"$.a.b", "$.a.c", false},
    {"$['odd key']", "$['odd key']", true},
    {"$['odd key']", "$.odd", false},
    {"$[\"dq\"]", "$.dq", true},
    {"$['a\\'b']", "$[\"a'b\"]", true},
    {"$['\\u00e9t\\u00e9']", "$['\xc3\xa9t\xc3\xa9']", true},
    {"$['\\ud83d\\ude00']", "$['\xf0\x9f\x98\x80']", true},
    {"$.a[3]", "$.a[3]", true},
    {"$.a[3]", "$.a[4]", false},
    {"$.a[3]", "$.a['3']", false},
    {"$.a[0]", "$.a[0]", true},
    {"$.a[*].b", "$.a[0].b", true},
    {"$.a[*].b", "$.a[17].b", true},
    {"$.a[*].b", "$.a.x.b", true},
    {"$.a[*].b", "$.a[0].c", false},
    {"$.a[*].b", "$.a.b", false},
    {"$.a.*", "$.a.z", true},
    {"$..b", "$.b", true},
    {"$..b", "$.x.y[2].b", true},
    {"$..b", "$.x.b.c", false},
    {"$..b", "$", false},
    {"$..*", "$.a[2]", true},
    {"$..[0]", "$.a.b[0]", true},
    {"$..['k y']", "$.a['k y']", true},
    {"$.a..b", "$.a.b", true},
    {"$.a..b", "$.a.x[1].b", true},
    {"$.a..b", "$.c.b", false},
    {"$..a..b", "$.a.x.b", true},
    {"$..a..b", "$.b.a", false},
    {"$..a.b", "$.x.a.a.b", true},
    {"$.é", "$['\xc3\xa9']", true},
};

static void test_match_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const struct match_case *c = &match_cases[i];
        struct jsonpath *p = NULL, *s = NULL;
        struct jsonpath_elem elems[16];
        char err[128];
        int rc = jsonpath_parse(c->pattern, strlen(c->pattern), false, &p, NULL, err, sizeof(err));
        if (rc != 0)
            fail_msg("%s: %s", c->pattern, err);
        size_t n = exact(c->subject, &s, elems);
        if (jsonpath_match(p, elems, n) != c->match)
            fail_msg("%s vs %s: expected %s", c->pattern, c->subject, c->match ? "match" : "none");
        jsonpath_free(p);
        jsonpath_free(s);
    }
}

struct error_case {
    const char *text;
    size_t pos;
    const char *msg;
};

static const struct error_case error_cases[] = {
    {"", 0, "must start with $"},
    {"a.b", 0, "must start with $"},
    {"$.", 2, "expected a member name"},
    {"$.1a", 2, "expected a member name"},
    {"$[", 1, "unclosed ["},
    {"$['x'", 5, "expected ]"},
    {"$['x", 4, "unterminated quoted name"},
    {"$[-1]", 2, "negative indices"},
    {"$[1:2]", 3, "slices"},
    {"$[1,2]", 3, "unions"},
    {"$[?(@.a)]", 2, "expected a quoted name"},
    {"$.a b", 3, "unexpected character"},
    {"$[01]", 2, "leading zero"},
    {"$['\\q']", 4, "unknown escape"},
    {"$['\\ud800']", 3, "unpaired surrogate"},
    {"$.a?", 3, "filters"},
    {"$...a", 3, "expected a member name"},
};

static void test_error_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const struct error_case *c = &error_cases[i];
        struct jsonpath *p = NULL;
        char err[128] = "";
        size_t pos = 999;
        int rc = jsonpath_parse(c->text, strlen(c->text), false, &p, &pos, err, sizeof(err));
        if (rc != -1)
            fail_msg("\"%s\" should not parse", c->text);
        assert_null(p);
        if (!strstr(err, c->msg) || pos != c->pos)
            fail_msg("\"%s\": got \"%s\" at %zu, want \"%s\" at %zu", c->text, err, pos, c->msg,
                     c->pos);
    }
}

static void test_segment_limit(void **state)
{
    (void)state;
    char text[256] = "$";
    for (int i = 0; i < 63; i++)
        strcat(text, ".a");
    struct jsonpath *p = NULL;
    char err[128];
    assert_int_equal(jsonpath_parse(text, strlen(text), false, &p, NULL, err, sizeof(err)), 0);
    struct jsonpath_elem e[63];
    for (int i = 0; i < 63; i++)
        e[i] = (struct jsonpath_elem){.name = "a", .len = 1};
    assert_true(jsonpath_match(p, e, 63));
    assert_false(jsonpath_match(p, e, 62));
    jsonpath_free(p);
    strcat(text, ".a");
    assert_int_equal(jsonpath_parse(text, strlen(text), false, &p, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "63 segments"));
}

static void test_relative_and_singular(void **state)
{
    (void)state;
    struct jsonpath *p = NULL;
    char err[128];
    assert_int_equal(jsonpath_parse("@.id", 4, false, &p, NULL, err, sizeof(err)), -1);
    assert_int_equal(jsonpath_parse("@.id", 4, true, &p, NULL, err, sizeof(err)), 0);
    assert_true(jsonpath_is_singular(p));
    jsonpath_free(p);
    assert_int_equal(jsonpath_parse("$..id", 5, true, &p, NULL, err, sizeof(err)), 0);
    assert_false(jsonpath_is_singular(p));
    jsonpath_free(p);
    assert_int_equal(jsonpath_parse("$.a[*]", 6, true, &p, NULL, err, sizeof(err)), 0);
    assert_false(jsonpath_is_singular(p));
    jsonpath_free(p);
    jsonpath_free(NULL);
}

/* A state of 0 tells a walk that nothing below can match any more. */
static void test_incremental_pruning(void **state)
{
    (void)state;
    struct jsonpath *p = NULL;
    char err[128];
    assert_int_equal(jsonpath_parse("$.a.b", 5, false, &p, NULL, err, sizeof(err)), 0);
    struct jsonpath_elem x = {.name = "x", .len = 1}, a = {.name = "a", .len = 1};
    uint64_t s = jsonpath_step(p, jsonpath_start(p), &x);
    assert_int_equal(s, 0);
    s = jsonpath_step(p, jsonpath_start(p), &a);
    assert_int_not_equal(s, 0);
    assert_false(jsonpath_state_matches(p, s));
    jsonpath_free(p);
    assert_int_equal(jsonpath_parse("$..b", 4, false, &p, NULL, err, sizeof(err)), 0);
    s = jsonpath_step(p, jsonpath_start(p), &x);
    assert_int_not_equal(s, 0); /* a descendant segment keeps hoping */
    jsonpath_free(p);
}

struct write_case {
    struct jsonpath_elem e;
    const char *exact;
    const char *general;
    const char *pointer;
};

static void test_writers(void **state)
{
    (void)state;
    static const struct write_case cases[] = {
        {{.name = "price", .len = 5}, ".price", ".price", "/price"},
        {{.name = "_a9", .len = 3}, "._a9", "._a9", "/_a9"},
        {{.name = "odd key", .len = 7}, "['odd key']", "['odd key']", "/odd key"},
        {{.name = "9lives", .len = 6}, "['9lives']", "['9lives']", "/9lives"},
        {{.name = "it's", .len = 4}, "['it\\'s']", "['it\\'s']", "/it's"},
        {{.name = "back\\slash", .len = 10},
         "['back\\\\slash']",
         "['back\\\\slash']",
         "/back\\slash"},
        {{.name = "a\nb\x01", .len = 4}, "['a\\nb\\u0001']", "['a\\nb\\u0001']", "/a\nb\x01"},
        {{.name = "a/b~c", .len = 5}, "['a/b~c']", "['a/b~c']", "/a~1b~0c"},
        {{.name = "", .len = 0}, "['']", "['']", "/"},
        {{.name = "\xc3\xa9", .len = 2}, "['\xc3\xa9']", "['\xc3\xa9']", "/\xc3\xa9"},
        {{.index = 3, .is_index = true}, "[3]", "[*]", "/3"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = {0};
        jsonpath_append_elem(&b, &cases[i].e, false);
        assert_string_equal(b.data, cases[i].exact);
        buf_reset(&b);
        jsonpath_append_elem(&b, &cases[i].e, true);
        assert_string_equal(b.data, cases[i].general);
        buf_reset(&b);
        jsonpath_append_pointer(&b, &cases[i].e);
        assert_string_equal(b.data, cases[i].pointer);
        buf_free(&b);
    }
}

/* What the writer produces must parse back to the same path. */
static void test_written_paths_parse_back(void **state)
{
    (void)state;
    static const char *names[] = {"odd key", "it's", "back\\slash", "a\nb\tc", "", "x.y", "[0]"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct jsonpath_elem e = {.name = names[i], .len = strlen(names[i])};
        struct buf b = {0};
        buf_puts(&b, "$");
        jsonpath_append_elem(&b, &e, false);
        struct jsonpath *p = NULL;
        char err[128];
        if (jsonpath_parse(b.data, b.len, false, &p, NULL, err, sizeof(err)) != 0)
            fail_msg("%s: %s", b.data, err);
        assert_true(jsonpath_match(p, &e, 1));
        jsonpath_free(p);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_segment_limit),
        cmocka_unit_test(test_relative_and_singular),
        cmocka_unit_test(test_incremental_pruning),
        cmocka_unit_test(test_writers),
        cmocka_unit_test(test_written_paths_parse_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
