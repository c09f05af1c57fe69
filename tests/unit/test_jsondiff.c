/* Unit tests for diffd/jsondiff: each kind, exact and generalized paths,
 * order, number semantics, tolerance/unordered rules, odd keys, deep trees,
 * whole responses, and patches that really turn left into right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "jsondiff.h"
#include "normalize.h"
#include "rules.h"

static struct ruleset *load(const char *text, struct rules_view *view)
{
    struct ruleset *rs = rules_new();
    char err[256];
    if (rules_add_text(rs, "d.rules", text, strlen(text), err, sizeof(err)) != 0 ||
        rules_finish(rs, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    rules_view_for_endpoint(rs, "GET /x", view);
    return rs;
}

struct diff_case {
    const char *rules; /* directives for a [*] section, or NULL */
    const char *left, *right;
    const char *want; /* jsondiff_write_lines() output */
};

#define L(path, field, kind, rest)                                                                 \
    "{\"path\":\"" path "\",\"field\":\"" field "\",\"kind\":\"" kind "\"" rest "}\n"

static const struct diff_case diff_cases[] = {
    /* equal documents */
    {NULL, "{\"a\":1,\"b\":[1,2]}", "{\"b\":[1,2],\"a\":1}", ""},
    {NULL, "{}", "{}", ""},
    {NULL, "[]", "[]", ""},
    {NULL, "1", "1.0", ""},
    {NULL, "{\"n\":100}", "{\"n\":1e2}", ""},
    {NULL, "{\"n\":-0}", "{\"n\":0}", ""},
    {NULL, "\"\\u00e9\\ud83d\\ude00\"", "\"\xc3\xa9\xf0\x9f\x98\x80\"", ""},
    {NULL, "{\"s\":\"NaN\"}", "{\"s\":\"NaN\"}", ""},
    {NULL, "1e400", "1e999", ""},
    /* value */
    {NULL, "{\"a\":\"x\"}", "{\"a\":\"y\"}",
     L("$.a", "$.a", "value", ",\"left\":\"x\",\"right\":\"y\"")},
    {NULL, "{\"a\":true}", "{\"a\":false}",
     L("$.a", "$.a", "value", ",\"left\":true,\"right\":false")},
    {NULL, "{\"s\":\"NaN\"}", "{\"s\":\"nan\"}",
     L("$.s", "$.s", "value", ",\"left\":\"NaN\",\"right\":\"nan\"")},
    {NULL, "{\"p\":1.5}", "{\"p\":1.25}", L("$.p", "$.p", "value", ",\"left\":1.5,\"right\":1.25")},
    {NULL, "[0.1]", "[0.30000000000000004]",
     L("$[0]", "$[*]", "value", ",\"left\":0.1,\"right\":0.30000000000000004")},
    {NULL, "1e20", "1e21", L("$", "$", "value", ",\"left\":100000000000000000000,\"right\":1e+21")},
    {NULL, "-1e400", "1e400", L("$", "$", "value", ",\"left\":-1e999,\"right\":1e999")},
    {NULL, "12345678901234567", "12345678901234568", ""}, /* equal as doubles (documented) */
    /* type */
    {NULL, "{\"a\":1}", "{\"a\":\"1\"}", L("$.a", "$.a", "type", ",\"left\":1,\"right\":\"1\"")},
    {NULL, "{\"a\":null}", "{\"a\":{}}", L("$.a", "$.a", "type", ",\"left\":null,\"right\":{}")},
    {NULL, "{}", "[]", L("$", "$", "type", ",\"left\":{},\"right\":[]")},
    {NULL, "{\"a\":[1]}", "{\"a\":{\"0\":1}}",
     L("$.a", "$.a", "type", ",\"left\":[1],\"right\":{\"0\":1}")},
    /* missing / extra, in left order then right's extras */
    {NULL, "{\"a\":1,\"b\":2,\"c\":3}", "{\"c\":3,\"d\":4,\"a\":1}",
     L("$.b", "$.b", "missing", ",\"left\":2") L("$.d", "$.d", "extra", ",\"right\":4")},
    {NULL, "{\"a\":{}}", "{\"a\":{\"x\":[]}}", L("$.a.x", "$.a.x", "extra", ",\"right\":[]")},
    /* length, common prefix still compared */
    {NULL, "{\"a\":[1,2,3]}", "{\"a\":[1,5]}",
     L("$.a[1]", "$.a[*]", "value", ",\"left\":2,\"right\":5")
         L("$.a", "$.a", "length", ",\"left\":3,\"right\":2")},
    {NULL, "[]", "[{}]", L("$", "$", "length", ",\"left\":0,\"right\":1")},
    /* generalized paths */
    {NULL, "{\"items\":[{\"p\":1},{\"p\":2}]}", "{\"items\":[{\"p\":1},{\"p\":3}]}",
     L("$.items[1].p", "$.items[*].p", "value", ",\"left\":2,\"right\":3")},
    {NULL, "[[[1]]]", "[[[2]]]", L("$[0][0][0]", "$[*][*][*]", "value", ",\"left\":1,\"right\":2")},
    /* keys that are not identifiers */
    {NULL, "{\"odd key\":1}", "{\"odd key\":2}",
     L("$['odd key']", "$['odd key']", "value", ",\"left\":1,\"right\":2")},
    {NULL, "{\"it's\":1}", "{}", L("$['it\\\\'s']", "$['it\\\\'s']", "missing", ",\"left\":1")},
    {NULL, "{\"9\":1}", "{}", L("$['9']", "$['9']", "missing", ",\"left\":1")},
    {NULL, "{\"caf\\u00e9\":1}", "{}",
     L("$['caf\xc3\xa9']", "$['caf\xc3\xa9']", "missing", ",\"left\":1")},
    {NULL, "{\"\":1}", "{\"\":2}", L("$['']", "$['']", "value", ",\"left\":1,\"right\":2")},
    {NULL, "{\"a\\nb\":\"q\\\"\"}", "{}",
     L("$['a\\\\nb']", "$['a\\\\nb']", "missing", ",\"left\":\"q\\\"\"")},
    /* duplicate keys pair in order of appearance */
    {NULL, "{\"a\":1,\"a\":2}", "{\"a\":1,\"a\":3}",
     L("$.a", "$.a", "value", ",\"left\":2,\"right\":3")},
    {NULL, "{\"a\":1,\"a\":2}", "{\"a\":1}", L("$.a", "$.a", "missing", ",\"left\":2")},
    /* tolerance */
    {"tolerance $.p 0.5", "{\"p\":10}", "{\"p\":10.5}", ""},
    {"tolerance $.p 0.5", "{\"p\":10}", "{\"p\":10.6}",
     L("$.p", "$.p", "value", ",\"left\":10,\"right\":10.6")},
    {"tolerance $..p 5%", "{\"x\":[{\"p\":100}]}", "{\"x\":[{\"p\":105}]}", ""},
    {"tolerance $..p 5%", "{\"x\":[{\"p\":100}]}", "{\"x\":[{\"p\":106}]}",
     L("$.x[0].p", "$.x[*].p", "value", ",\"left\":100,\"right\":106")},
    {"tolerance $.p 1", "{\"p\":\"1\"}", "{\"p\":\"2\"}",
     L("$.p", "$.p", "value", ",\"left\":\"1\",\"right\":\"2\"")},
    /* unordered as multisets */
    {"unordered $.tags", "{\"tags\":[\"a\",\"b\",\"c\"]}", "{\"tags\":[\"c\",\"a\",\"b\"]}", ""},
    {"unordered $.tags", "{\"tags\":[\"a\",\"b\",\"b\"]}", "{\"tags\":[\"b\",\"a\",\"a\"]}",
     L("$.tags[2]", "$.tags[*]", "value", ",\"left\":\"b\",\"right\":\"a\"")},
    {"unordered $.tags", "{\"tags\":[\"a\",\"b\"]}", "{\"tags\":[\"b\"]}",
     L("$.tags[0]", "$.tags[*]", "missing", ",\"left\":\"a\"")},
    {"unordered $.tags", "{\"tags\":[\"b\"]}", "{\"tags\":[\"x\",\"b\",\"y\"]}",
     L("$.tags[0]", "$.tags[*]", "extra", ",\"right\":\"x\"")
         L("$.tags[2]", "$.tags[*]", "extra", ",\"right\":\"y\"")},
    {"unordered $[*].t", "[{\"t\":[{\"a\":1,\"b\":2},3]}]", "[{\"t\":[3,{\"b\":2,\"a\":1.0}]}]",
     ""},
    /* unordered by key */
    {"unordered $.items by id", "{\"items\":[{\"id\":1,\"q\":1},{\"id\":2,\"q\":2}]}",
     "{\"items\":[{\"id\":2,\"q\":5},{\"id\":1,\"q\":1}]}",
     L("$.items[1].q", "$.items[*].q", "value", ",\"left\":2,\"right\":5")},
    {"unordered $.items by id", "{\"items\":[{\"id\":1},{\"id\":2}]}",
     "{\"items\":[{\"id\":3},{\"id\":1}]}",
     L("$.items[1]", "$.items[*]", "missing", ",\"left\":{\"id\":2}")
         L("$.items[0]", "$.items[*]", "extra", ",\"right\":{\"id\":3}")},
    {"unordered $.items by meta.k", "[1]", "[1]", ""},
    {"unordered $ by meta.k", "[{\"meta\":{\"k\":\"a\"},\"v\":1},{\"v\":2}]",
     "[{\"v\":2},{\"meta\":{\"k\":\"a\"},\"v\":1}]", ""},
    /* elements without the key pair as whole values, then in order */
    {"unordered $ by id", "[{\"v\":2},{\"id\":1},{\"v\":3}]", "[{\"id\":1},{\"v\":3},{\"v\":4}]",
     L("$[0].v", "$[*].v", "value", ",\"left\":2,\"right\":4")},
    {"unordered $ by id", "[{\"id\":1},{\"id\":2}]", "[{\"id\":2},{\"x\":1}]",
     L("$[0]", "$[*]", "missing", ",\"left\":{\"id\":1}")
         L("$[1]", "$[*]", "extra", ",\"right\":{\"x\":1}")},
};

static void test_diff_table(void **state)
{
    (void)state;
    struct jsondiff *d = jsondiff_new();
    for (size_t i = 0; i < sizeof(diff_cases) / sizeof(diff_cases[0]); i++) {
        const struct diff_case *c = &diff_cases[i];
        struct rules_view v = {0};
        struct ruleset *rs = NULL;
        if (c->rules) {
            char text[256];
            snprintf(text, sizeof(text), "[*]\n%s\n", c->rules);
            rs = load(text, &v);
        }
        cJSON *a = cJSON_Parse(c->left), *b = cJSON_Parse(c->right);
        if (!a || !b)
            fail_msg("case %zu: bad test JSON", i);
        size_t n = jsondiff_trees(d, rs ? &v : NULL, a, b);
        struct buf out = {0};
        jsondiff_write_lines(d, &out);
        const char *got = out.data ? out.data : "";
        if (strcmp(got, c->want) != 0)
            fail_msg("case %zu: %s vs %s\n got:\n%s want:\n%s", i, c->left, c->right, got, c->want);
        assert_int_equal(n, jsondiff_count(d));
        /* Every line is valid JSON. */
        for (char *line = out.data; line && *line;) {
            char *nl = strchr(line, '\n');
            *nl = '\0';
            cJSON *parsed = cJSON_Parse(line);
            if (!parsed)
                fail_msg("case %zu: line is not JSON: %s", i, line);
            cJSON_Delete(parsed);
            line = nl + 1;
        }
        buf_free(&out);
        cJSON_Delete(a);
        cJSON_Delete(b);
        rules_free(rs);
    }
    jsondiff_free(d);
    jsondiff_free(NULL);
}

static bool apply_and_compare(struct jsondiff *d, const char *left, const char *right)
{
    cJSON *a = cJSON_Parse(left), *b = cJSON_Parse(right);
    assert_non_null(a);
    assert_non_null(b);
    jsondiff_trees(d, NULL, a, b);
    struct buf out = {0};
    jsondiff_write_patch(d, &out);
    cJSON *patch = cJSON_Parse(out.data);
    if (!patch)
        fail_msg("patch is not JSON: %s", out.data);
    char err[256];
    cJSON *doc = cJSON_Duplicate(a, true);
    if (jsondiff_apply_patch(&doc, patch, err, sizeof(err)) != 0)
        fail_msg("%s -> %s: %s\n%s", left, right, err, out.data);
    size_t left_over = jsondiff_trees(d, NULL, doc, b);
    if (left_over)
        fail_msg("%s -> %s: patch leaves %zu differences\n%s", left, right, left_over, out.data);
    cJSON_Delete(patch);
    cJSON_Delete(doc);
    cJSON_Delete(a);
    cJSON_Delete(b);
    buf_free(&out);
    return true;
}

static void test_patch_round_trip(void **state)
{
    (void)state;
    static const char *pairs[][2] = {
        {"{\"a\":1}", "{\"a\":2}"},
        {"{\"a\":1,\"b\":2}", "{\"c\":3}"},
        {"[1,2,3,4]", "[1]"},
        {"[1]", "[1,[2],{\"x\":3}]"},
        {"{\"a\":[{\"b\":[1,2]},3]}", "{\"a\":[{\"b\":[2]},3,4]}"},
        {"{\"a/b\":1,\"c~d\":2}", "{\"a/b\":3}"},
        {"{}", "[]"},
        {"\"x\"", "{\"y\":null}"},
        {"{\"a\":{\"b\":{\"c\":1}}}", "{\"a\":{\"b\":\"c\"}}"},
        {"{\"\":[]}", "{\"\":[0]}"},
    };
    struct jsondiff *d = jsondiff_new();
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        assert_true(apply_and_compare(d, pairs[i][0], pairs[i][1]));
        assert_true(apply_and_compare(d, pairs[i][1], pairs[i][0]));
    }
    jsondiff_free(d);
}

static void test_patch_output(void **state)
{
    (void)state;
    struct rules_view v;
    struct ruleset *rs = load("[*]\nunordered $.t\n", &v);
    cJSON *a = cJSON_Parse("{\"t\":[\"a\",\"b\",\"c\",\"d\"],\"x\":[1,2,3],\"o\":{\"k/1\":1}}");
    cJSON *b = cJSON_Parse("{\"t\":[\"d\",\"e\",\"b\"],\"x\":[1],\"o\":{}}");
    struct jsondiff *d = jsondiff_new();
    jsondiff_trees(d, &v, a, b);
    struct buf out = {0};
    jsondiff_write_patch(d, &out);
    assert_string_equal(out.data, "[\n"
                                  "{\"op\":\"replace\",\"path\":\"/t/0\",\"value\":\"e\"},\n"
                                  "{\"op\":\"remove\",\"path\":\"/t/2\"},\n"
                                  "{\"op\":\"remove\",\"path\":\"/x/2\"},\n"
                                  "{\"op\":\"remove\",\"path\":\"/x/1\"},\n"
                                  "{\"op\":\"remove\",\"path\":\"/o/k~11\"}\n"
                                  "]\n");
    buf_reset(&out);
    jsondiff_trees(d, &v, a, a);
    jsondiff_write_patch(d, &out);
    assert_string_equal(out.data, "[]\n");
    buf_free(&out);
    jsondiff_free(d);
    cJSON_Delete(a);
    cJSON_Delete(b);
    rules_free(rs);
}

static void test_deep_trees(void **state)
{
    (void)state;
    struct buf l = {0}, r = {0};
    for (int i = 0; i < 999; i++) {
        buf_puts(&l, "{\"k\":");
        buf_puts(&r, "{\"k\":");
    }
    buf_puts(&l, "1");
    buf_puts(&r, "2");
    for (int i = 0; i < 999; i++) {
        buf_puts(&l, "}");
        buf_puts(&r, "}");
    }
    cJSON *a = cJSON_Parse(l.data), *b = cJSON_Parse(r.data);
    assert_non_null(a);
    assert_non_null(b);
    struct jsondiff *d = jsondiff_new();
    assert_int_equal(jsondiff_trees(d, NULL, a, b), 1);
    const struct jsondiff_entry *e = jsondiff_get(d, 0);
    assert_int_equal(strlen(e->path), 1 + 999 * 2);
    assert_int_equal(strlen(e->pointer), 999 * 2);
    assert_int_equal(e->kind, JSONDIFF_VALUE);
    assert_null(jsondiff_get(d, 1));
    jsondiff_free(d);
    cJSON_Delete(a);
    cJSON_Delete(b);
    buf_free(&l);
    buf_free(&r);
}

/* Objects too big for the linear search take the sorted-index path. */
static void test_large_objects(void **state)
{
    (void)state;
    struct buf l = {0}, r = {0};
    buf_puts(&l, "{");
    buf_puts(&r, "{");
    for (int i = 0; i < 200; i++) {
        buf_printf(&l, "%s\"k%d\":%d", i ? "," : "", i, i);
        buf_printf(&r, "%s\"k%d\":%d", i ? "," : "", 199 - i, 199 - i == 150 ? -1 : 199 - i);
    }
    buf_puts(&l, ",\"only_left\":0}");
    buf_puts(&r, ",\"only_right\":0}");
    cJSON *a = cJSON_Parse(l.data), *b = cJSON_Parse(r.data);
    struct jsondiff *d = jsondiff_new();
    assert_int_equal(jsondiff_trees(d, NULL, a, b), 3);
    assert_string_equal(jsondiff_get(d, 0)->path, "$.k150");
    assert_string_equal(jsondiff_get(d, 1)->path, "$.only_left");
    assert_int_equal(jsondiff_get(d, 1)->kind, JSONDIFF_MISSING);
    assert_string_equal(jsondiff_get(d, 2)->path, "$.only_right");
    assert_int_equal(jsondiff_get(d, 2)->kind, JSONDIFF_EXTRA);
    jsondiff_free(d);
    cJSON_Delete(a);
    cJSON_Delete(b);
    buf_free(&l);
    buf_free(&r);
}

/* Unordered arrays too big for pairwise comparison take the hashed path. */
static void test_large_unordered(void **state)
{
    (void)state;
    struct rules_view v;
    struct ruleset *rs = load("[*]\nunordered $.tags\nunordered $.items by id\n", &v);
    struct buf l = {0}, r = {0};
    buf_puts(&l, "{\"tags\":[");
    buf_puts(&r, "{\"tags\":[");
    for (int i = 0; i < 40; i++) {
        buf_printf(&l, "%s\"t%d\"", i ? "," : "", i);
        buf_printf(&r, "%s\"t%d\"", i ? "," : "", i == 0 ? 99 : 40 - i);
    }
    buf_puts(&l, "],\"items\":[");
    buf_puts(&r, "],\"items\":[");
    for (int i = 0; i < 40; i++) {
        buf_printf(&l, "%s{\"id\":%d,\"v\":%d}", i ? "," : "", i, i);
        buf_printf(&r, "%s{\"id\":%d,\"v\":%d}", i ? "," : "", 39 - i, 39 - i == 7 ? -7 : 39 - i);
    }
    buf_puts(&l, "]}");
    buf_puts(&r, "]}");
    cJSON *a = cJSON_Parse(l.data), *b = cJSON_Parse(r.data);
    struct jsondiff *d = jsondiff_new();
    struct buf out = {0};
    jsondiff_trees(d, &v, a, b);
    jsondiff_write_lines(d, &out);
    /* t0 has no partner: paired with the only leftover (t99); item 7 changed. */
    assert_string_equal(out.data,
                        L("$.tags[0]", "$.tags[*]", "value", ",\"left\":\"t0\",\"right\":\"t99\"")
                            L("$.items[7].v", "$.items[*].v", "value", ",\"left\":7,\"right\":-7"));
    buf_free(&out);
    jsondiff_free(d);
    cJSON_Delete(a);
    cJSON_Delete(b);
    buf_free(&l);
    buf_free(&r);
    rules_free(rs);
}

static void response(struct http_response *r, int status, const char *ctype, const char *body)
{
    memset(r, 0, sizeof(*r));
    r->status = status;
    if (ctype)
        headers_add(&r->headers, "Content-Type", 12, ctype, strlen(ctype));
    buf_puts(&r->body, body);
}

static char *diff_responses(const char *rules, struct http_response *l, struct http_response *r)
{
    struct rules_view v = {0};
    struct ruleset *rs = rules ? load(rules, &v) : NULL;
    struct norm_response nl, nr;
    normalize_response(&v, l, NULL, &nl);
    normalize_response(&v, r, NULL, &nr);
    struct jsondiff *d = jsondiff_new();
    jsondiff_responses(d, &v, &nl, &nr);
    struct buf out = {0};
    jsondiff_write_lines(d, &out);
    for (size_t i = 0; i < jsondiff_count(d); i++)
        if (jsondiff_get(d, i)->redacted)
            buf_printf(&out, "redacted:%s\n", jsondiff_get(d, i)->path);
    jsondiff_free(d);
    normalize_free(&nl);
    normalize_free(&nr);
    rules_free(rs);
    http_response_free(l);
    http_response_free(r);
    return out.data ? buf_steal(&out) : strdup("");
}

static void test_responses(void **state)
{
    (void)state;
    struct http_response l, r;
    char *got;

    response(&l, 200, "application/json", "{\"a\":1}");
    response(&r, 404, "application/json", "{\"a\":1}");
    headers_add(&l.headers, "ETag", 4, "v1", 2);
    headers_add(&r.headers, "X-New", 5, "1", 1);
    headers_add(&l.headers, "Date", 4, "Mon", 3);
    headers_add(&r.headers, "Date", 4, "Tue", 3);
    got = diff_responses(NULL, &l, &r);
    assert_string_equal(
        got, L("status", "status", "value", ",\"left\":200,\"right\":404")
                 L("header.date", "header.date", "value", ",\"left\":\"Mon\",\"right\":\"Tue\"")
                     L("header.etag", "header.etag", "missing", ",\"left\":\"v1\"")
                         L("header.x-new", "header.x-new", "extra", ",\"right\":\"1\""));
    free(got);

    /* JSON versus text body: a type difference of the field `body`. */
    response(&l, 200, "application/json", "{\"a\":1}");
    response(&r, 200, "text/html", "<html>");
    got = diff_responses(NULL, &l, &r);
    assert_string_equal(got,
                        L("header.content-type", "header.content-type", "value",
                          ",\"left\":\"application/json\",\"right\":\"text/html\"")
                            L("body", "body", "type", ",\"left\":{\"a\":1},\"right\":\"<html>\""));
    free(got);

    response(&l, 200, "text/plain", "one");
    response(&r, 200, "text/plain", "two");
    got = diff_responses(NULL, &l, &r);
    assert_string_equal(got, L("body", "body", "value", ",\"left\":\"one\",\"right\":\"two\""));
    free(got);

    response(&l, 200, "text/plain", "one");
    response(&r, 200, "text/plain", "");
    got = diff_responses(NULL, &l, &r);
    assert_string_equal(got, L("body", "body", "missing", ",\"left\":\"one\""));
    free(got);

    /* Failed legs: only `error`; the same failure on both sides is equal. */
    response(&l, 200, "text/plain", "one");
    response(&r, 0, NULL, "");
    r.error = LEG_ERR_TIMEOUT;
    got = diff_responses(NULL, &l, &r);
    assert_string_equal(got,
                        L("error", "error", "error", ",\"left\":\"ok\",\"right\":\"timeout\""));
    free(got);
    response(&l, 0, NULL, "");
    response(&r, 0, NULL, "");
    l.error = r.error = LEG_ERR_RESET;
    got = diff_responses(NULL, &l, &r);
    assert_string_equal(got, "");
    free(got);

    /* Redaction flags: the field itself, containers holding it, headers. */
    response(&l, 200, "application/json", "{\"u\":{\"ssn\":\"1\",\"n\":1},\"v\":{\"ssn\":\"x\"}}");
    response(&r, 200, "application/json", "{\"u\":{\"ssn\":\"2\",\"n\":2},\"v\":7}");
    headers_add(&l.headers, "Set-Cookie", 10, "a=1", 3);
    headers_add(&r.headers, "Set-Cookie", 10, "a=2", 3);
    got = diff_responses("[*]\nredact $..ssn\nredact-header set-cookie\n", &l, &r);
    assert_non_null(strstr(got, "redacted:header.set-cookie\n"));
    assert_non_null(strstr(got, "redacted:$.u.ssn\n"));
    assert_non_null(strstr(got, "redacted:$.v\n"));
    assert_null(strstr(got, "redacted:$.u.n\n"));
    free(got);

    /* Ignored status and headers are not compared. */
    response(&l, 200, "application/json", "{}");
    response(&r, 500, "application/json", "{}");
    headers_add(&l.headers, "Date", 4, "Mon", 3);
    got = diff_responses("[*]\nignore status\nignore-header date\n", &l, &r);
    assert_string_equal(got, "");
    free(got);
}

static void test_counters(void **state)
{
    (void)state;
    struct rules_view v;
    struct ruleset *rs = load("[*]\ntolerance $.p 1\nunordered $.t\n", &v);
    cJSON *a = cJSON_Parse("{\"p\":1,\"t\":[1,2]}"), *b = cJSON_Parse("{\"p\":1.5,\"t\":[2,1]}");
    struct jsondiff *d = jsondiff_new();
    assert_int_equal(jsondiff_trees(d, &v, a, b), 0);
    assert_int_equal(jsondiff_trees(d, &v, a, a), 0);
    struct rules_rule_info info;
    rules_rule_info(rs, 0, &info);
    assert_int_equal(info.matched, 1); /* only when it made unequal numbers equal */
    rules_rule_info(rs, 1, &info);
    assert_int_equal(info.matched, 2);
    jsondiff_free(d);
    cJSON_Delete(a);
    cJSON_Delete(b);
    rules_free(rs);
}

static void read_body(const char *path, struct http_response *r)
{
    memset(r, 0, sizeof(*r));
    r->status = 200;
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s: cannot open (run from the repository root)", path);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&r->body, chunk, n);
    fclose(f);
}

/* rules/README.md's worked example: 14 raw differences, 2 after the rules. */
static void test_shipped_example(void **state)
{
    (void)state;
    struct ruleset *rs = rules_new();
    char err[256];
    assert_int_equal(rules_add_path(rs, "rules/default.rules", err, sizeof(err)), 0);
    assert_int_equal(rules_add_path(rs, "rules/examples/shop.rules", err, sizeof(err)), 0);
    assert_int_equal(rules_finish(rs, err, sizeof(err)), 0);
    struct http_response l, r;
    read_body("rules/examples/order-primary.json", &l);
    read_body("rules/examples/order-candidate.json", &r);
    struct rules_view none = {0}, v;
    rules_view_for_endpoint(rs, "GET /orders/:id", &v);
    struct norm_response n[4];
    normalize_response(&none, &l, NULL, &n[0]);
    normalize_response(&none, &r, NULL, &n[1]);
    normalize_response(&v, &l, NULL, &n[2]);
    normalize_response(&v, &r, NULL, &n[3]);
    struct jsondiff *d = jsondiff_new();
    assert_int_equal(jsondiff_responses(d, &none, &n[0], &n[1]), 14);
    assert_int_equal(jsondiff_responses(d, &v, &n[2], &n[3]), 2);
    assert_string_equal(jsondiff_get(d, 0)->path, "$.order.items[0].qty");
    assert_string_equal(jsondiff_get(d, 1)->path, "$.order.payment.card");
    assert_int_equal(jsondiff_get(d, 1)->kind, JSONDIFF_MISSING);
    assert_true(jsondiff_get(d, 1)->redacted); /* holds $..card.last4 */
    assert_false(jsondiff_get(d, 0)->redacted);
    jsondiff_free(d);
    for (int i = 0; i < 4; i++)
        normalize_free(&n[i]);
    http_response_free(&l);
    http_response_free(&r);
    rules_free(rs);
}

/* diffd diff: 0 same, 1 different, 2 error; whole HTTP responses accepted. */
static void test_diff_command(void **state)
{
    (void)state;
    const char *a = "/tmp/diffd-diff-a.json", *b = "/tmp/diffd-diff-b.json";
    const char *ha = "/tmp/diffd-diff-a.http", *hb = "/tmp/diffd-diff-b.http";
    const char *r = "/tmp/diffd-diff.rules";
    write_text_file(a, "{\"id\":1,\"ts\":\"x\"}");
    write_text_file(b, "{\"ts\":\"y\",\"id\":2}");
    write_text_file(r, "[*]\nignore $.ts\n[GET /u/:id]\nignore $.id\n");
    write_text_file(ha, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: a\r\n\r\n{}");
    write_text_file(
        hb, "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nDate: b\r\n\r\n{}");
    const char *same[] = {"diff", a, a};
    assert_int_equal(run_quiet(diff_main, 3, same), 0);
    const char *differ[] = {"diff", a, b};
    assert_int_equal(run_quiet(diff_main, 3, differ), 1);
    const char *ruled[] = {"diff", "--rules", r, a, b}; /* only [*]: $.id still differs */
    assert_int_equal(run_quiet(diff_main, 5, ruled), 1);
    const char *patch[] = {"diff", "--format=patch", a, b};
    assert_int_equal(run_quiet(diff_main, 4, patch), 1);
    const char *endpoint[] = {"diff", "--rules", r, "--endpoint", "GET /u/:id", a, b};
    assert_int_equal(run_quiet(diff_main, 7, endpoint), 0);
    const char *http[] = {"diff", "--rules", "rules/default.rules", ha, hb};
    assert_int_equal(run_quiet(diff_main, 5, http), 1); /* status differs; date ignored */
    const char *http_same[] = {"diff", "--rules", "rules/default.rules", ha, ha};
    assert_int_equal(run_quiet(diff_main, 5, http_same), 0);
    const char *missing[] = {"diff", a, "/nonexistent.json"};
    assert_int_equal(run_quiet(diff_main, 3, missing), 2);
    const char *one[] = {"diff", a};
    assert_int_equal(run_quiet(diff_main, 2, one), 2);
    const char *badflag[] = {"diff", "--colour", a, b};
    assert_int_equal(run_quiet(diff_main, 4, badflag), 2);
    const char *badformat[] = {"diff", "--format", "xml", a, b};
    assert_int_equal(run_quiet(diff_main, 5, badformat), 2);
    const char *badrules[] = {"diff", "--rules", "/nonexistent.rules", a, b};
    assert_int_equal(run_quiet(diff_main, 5, badrules), 2);
    const char *novalue[] = {"diff", a, b, "--endpoint"};
    assert_int_equal(run_quiet(diff_main, 4, novalue), 2);
    const char *help[] = {"diff", "--help"};
    assert_int_equal(run_quiet(diff_main, 2, help), 0);
    unlink(a);
    unlink(b);
    unlink(ha);
    unlink(hb);
    unlink(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diff_table),      cmocka_unit_test(test_patch_round_trip),
        cmocka_unit_test(test_patch_output),    cmocka_unit_test(test_deep_trees),
        cmocka_unit_test(test_large_objects),   cmocka_unit_test(test_large_unordered),
        cmocka_unit_test(test_responses),       cmocka_unit_test(test_counters),
        cmocka_unit_test(test_shipped_example), cmocka_unit_test(test_diff_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
