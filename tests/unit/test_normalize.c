/* Unit tests for diffd/normalize: body classification (JSON by type or by
 * parse, text, binary), gzip/deflate decoding, --max-body, headers, the
 * normalization rules and redaction for storage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "http.h"
#include "normalize.h"
#include "rules.h"

static struct ruleset *load(const char *text, struct rules_view *view)
{
    struct ruleset *rs = rules_new();
    char err[256];
    if (rules_add_text(rs, "n.rules", text, strlen(text), err, sizeof(err)) != 0 ||
        rules_finish(rs, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    rules_view_for_endpoint(rs, "GET /x", view);
    return rs;
}

static void response(struct http_response *r, int status, const char *ctype, const void *body,
                     size_t len)
{
    memset(r, 0, sizeof(*r));
    r->status = status;
    if (ctype)
        headers_add(&r->headers, "Content-Type", 12, ctype, strlen(ctype));
    buf_append(&r->body, body, len);
}

static char *compact(const cJSON *v)
{
    return cJSON_PrintUnformatted(v);
}

struct body_case {
    const char *ctype;
    const char *body;
    size_t len; /* 0: strlen */
    enum norm_body kind;
    const char *value; /* compact JSON of the body node, or NULL */
};

static const struct body_case body_cases[] = {
    {"application/json", "{\"a\":1}", 0, NORM_BODY_JSON, "{\"a\":1}"},
    {"application/problem+json; charset=utf-8", "[1, 2]", 0, NORM_BODY_JSON, "[1,2]"},
    {NULL, " {\"a\": [true, null]} ", 0, NORM_BODY_JSON, "{\"a\":[true,null]}"},
    {"text/plain", "42", 0, NORM_BODY_JSON, "42"},
    {"application/json", "{\"a\":", 0, NORM_BODY_TEXT, "\"{\\\"a\\\":\""},
    {"application/json", "not json", 0, NORM_BODY_TEXT, "\"not json\""},
    {"text/html", "<p>hi</p>", 0, NORM_BODY_TEXT, "\"<p>hi</p>\""},
    {NULL, "NaN", 0, NORM_BODY_TEXT, "\"NaN\""},
    {NULL, "Infinity", 0, NORM_BODY_TEXT, "\"Infinity\""},
    {"text/plain", "caf\xc3\xa9", 0, NORM_BODY_TEXT, "\"caf\xc3\xa9\""},
    {"text/plain", "caf\xe9", 0, NORM_BODY_BINARY, NULL},
    {NULL, "a\0b", 3, NORM_BODY_BINARY, NULL},
    {"image/png", "{\"a\":1}", 0, NORM_BODY_BINARY, NULL},
    {"application/json", "", 0, NORM_BODY_NONE, NULL},
};

static void test_body_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
        const struct body_case *c = &body_cases[i];
        struct http_response r;
        size_t len = c->len ? c->len : strlen(c->body);
        response(&r, 200, c->ctype, c->body, len);
        struct norm_response n;
        normalize_response(NULL, &r, NULL, &n);
        if (n.body_kind != c->kind)
            fail_msg("case %zu: kind %d, want %d", i, n.body_kind, c->kind);
        assert_int_equal(n.body_len, len);
        if (c->value) {
            char *s = compact(n.body);
            if (strcmp(s, c->value) != 0)
                fail_msg("case %zu: body %s, want %s", i, s, c->value);
            cJSON_free(s);
        }
        if (c->kind == NORM_BODY_BINARY) {
            char want[64];
            snprintf(want, sizeof(want), "<binary %zu bytes hash ", len);
            assert_int_equal(strncmp(n.body->valuestring, want, strlen(want)), 0);
        }
        normalize_free(&n);
        http_response_free(&r);
    }
}

static size_t compress_buf(const char *in, size_t len, int wbits, unsigned char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = z.total_out;
    deflateEnd(&z);
    return n;
}

static void test_encodings(void **state)
{
    (void)state;
    const char *json = "{\"user\":{\"name\":\"Ann\",\"tags\":[\"x\",\"y\"]}}";
    static const struct {
        const char *encoding;
        int wbits;
    } cases[] = {{"gzip", 16 + 15},
                 {"x-gzip", 16 + 15},
                 {"deflate", 15},
                 {"deflate", -15},
                 {" GZIP ", 16 + 15}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char z[512];
        size_t zn = compress_buf(json, strlen(json), cases[i].wbits, z, sizeof(z));
        struct http_response r;
        response(&r, 200, "application/json", z, zn);
        headers_add(&r.headers, "Content-Encoding", 16, cases[i].encoding,
                    strlen(cases[i].encoding));
        struct norm_response n;
        normalize_response(NULL, &r, NULL, &n);
        if (n.body_kind != NORM_BODY_JSON)
            fail_msg("%s/%d not decoded", cases[i].encoding, cases[i].wbits);
        char *s = compact(n.body);
        assert_string_equal(s, json);
        cJSON_free(s);
        assert_int_equal(n.body_len, strlen(json));
        /* Content-Encoding is itself a compared header. */
        assert_int_equal(n.nheaders, 2);
        normalize_free(&n);
        http_response_free(&r);
    }
}

static void test_bad_encodings(void **state)
{
    (void)state;
    struct http_response r;
    response(&r, 200, "application/json", "\x1f\x8b garbage", 10);
    headers_add(&r.headers, "Content-Encoding", 16, "gzip", 4);
    struct norm_response n;
    normalize_response(NULL, &r, NULL, &n);
    assert_int_equal(n.body_kind, NORM_BODY_BINARY);
    assert_true(n.undecodable);
    assert_non_null(strstr(n.body->valuestring, "undecodable 10 bytes"));
    normalize_free(&n);
    http_response_free(&r);

    response(&r, 200, "text/plain", "plain", 5);
    headers_add(&r.headers, "Content-Encoding", 16, "br", 2);
    normalize_response(NULL, &r, NULL, &n);
    assert_true(n.undecodable);
    normalize_free(&n);
    http_response_free(&r);

    /* A truncated gzip stream is not silently accepted. */
    unsigned char z[512];
    size_t zn = compress_buf("{\"a\":123456789}", 15, 16 + 15, z, sizeof(z));
    response(&r, 200, "application/json", z, zn - 6);
    headers_add(&r.headers, "Content-Encoding", 16, "gzip", 4);
    normalize_response(NULL, &r, NULL, &n);
    assert_true(n.undecodable);
    normalize_free(&n);
    http_response_free(&r);
}

static void test_max_body(void **state)
{
    (void)state;
    /* A small gzip that decodes past max_body (a "bomb") is cut off. */
    char *big = malloc(100000);
    memset(big, 'a', 100000);
    unsigned char *z = malloc(100000);
    size_t zn = compress_buf(big, 100000, 16 + 15, z, 100000);
    struct http_response r;
    response(&r, 200, "text/plain", z, zn);
    headers_add(&r.headers, "Content-Encoding", 16, "gzip", 4);
    struct normalize_opts o = {.max_body = 1000};
    struct norm_response n;
    normalize_response(NULL, &r, &o, &n);
    assert_true(n.oversized);
    assert_int_equal(n.body_kind, NORM_BODY_BINARY);
    assert_non_null(strstr(n.body->valuestring, "oversized encoded"));
    normalize_free(&n);
    http_response_free(&r);

    /* Plain bodies over max_body: length + hash, marked. */
    response(&r, 200, "application/json", big, 2000);
    normalize_response(NULL, &r, &o, &n);
    assert_true(n.oversized);
    assert_int_equal(n.body_len, 2000);
    assert_non_null(strstr(n.body->valuestring, "<oversized 2000 bytes hash "));
    struct norm_response m;
    big[1000] = 'b';
    struct http_response r2;
    response(&r2, 200, "application/json", big, 2000);
    normalize_response(NULL, &r2, &o, &m);
    assert_string_not_equal(n.body->valuestring, m.body->valuestring);
    normalize_free(&m);
    normalize_free(&n);
    http_response_free(&r);
    http_response_free(&r2);
    free(big);
    free(z);
}

static void test_headers(void **state)
{
    (void)state;
    struct rules_view v;
    struct ruleset *rs = load("[*]\nignore-header date X-Request-Id\nignore header.server\n"
                              "replace header.location /\\d+/ N\n",
                              &v);
    struct http_response r;
    response(&r, 201, NULL, "", 0);
    static const char *h[][2] = {
        {"Date", "Mon"},           {"X-Request-ID", "abc"}, {"Vary", "Accept"},
        {"Connection", "close"},   {"Content-Length", "0"}, {"vary", "Origin"},
        {"Location", "/u/42/p/7"}, {"Server", "x/1"},       {"Transfer-Encoding", "chunked"},
        {"ETag", "\"v1\""},
    };
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
        headers_add(&r.headers, h[i][0], strlen(h[i][0]), h[i][1], strlen(h[i][1]));
    struct norm_response n;
    normalize_response(&v, &r, NULL, &n);
    assert_int_equal(n.status->valuedouble, 201);
    assert_int_equal(n.nheaders, 3);
    assert_string_equal(n.headers[0].name, "etag");
    assert_string_equal(n.headers[1].name, "location");
    assert_string_equal(n.headers[1].value->valuestring, "/u/N/p/N");
    assert_string_equal(n.headers[2].name, "vary");
    assert_string_equal(n.headers[2].value->valuestring, "Accept, Origin");
    assert_int_equal(n.body_kind, NORM_BODY_NONE);
    struct rules_rule_info info;
    rules_rule_info(rs, 0, &info);
    assert_int_equal(info.matched, 2); /* date and x-request-id */
    rules_rule_info(rs, 2, &info);
    assert_int_equal(info.matched, 1);
    normalize_free(&n);
    http_response_free(&r);
    rules_free(rs);
}

struct rule_case {
    const char *rules;
    const char *body;
    const char *want; /* compact JSON after normalization, or "" for no body */
};

static const struct rule_case rule_cases[] = {
    {"ignore $.a", "{\"a\":1,\"b\":2}", "{\"b\":2}"},
    {"ignore $.a.b $.c", "{\"a\":{\"b\":1,\"x\":2},\"c\":3}", "{\"a\":{\"x\":2}}"},
    {"ignore $..id", "{\"id\":1,\"u\":{\"id\":2,\"n\":[{\"id\":3,\"k\":0}]}}",
     "{\"u\":{\"n\":[{\"k\":0}]}}"},
    {"ignore $.items[*].ts", "{\"items\":[{\"ts\":1,\"v\":1},{\"ts\":2,\"v\":2}]}",
     "{\"items\":[{\"v\":1},{\"v\":2}]}"},
    {"ignore $.items[1]", "{\"items\":[10,11,12]}", "{\"items\":[10,12]}"},
    {"ignore $['odd key']", "{\"odd key\":1,\"k\":2}", "{\"k\":2}"},
    {"ignore $", "{\"a\":1}", ""},
    {"ignore body", "{\"a\":1}", ""},
    {"ignore $.x", "[]", "[]"},
    {"ignore $.x", "{}", "{}"},
    {"replace $.ts /\\d{4}-\\d\\d-\\d\\dT[^\"]+/ \"<time>\"",
     "{\"ts\":\"2026-11-22T10:00:00Z\",\"n\":5}", "{\"ts\":\"<time>\",\"n\":5}"},
    {"replace $..id /[0-9a-f-]{36}/ UUID",
     "{\"a\":{\"id\":\"123e4567-e89b-12d3-a456-426614174000\"},"
     "\"id\":7}",
     "{\"a\":{\"id\":\"UUID\"},\"id\":7}"},
    {"replace $ /a/ b", "\"aaa\"", "\"bbb\""},
    {"ignore $.a\nreplace $.a /1/ 2", "{\"a\":\"1\",\"b\":\"1\"}", "{\"b\":\"1\"}"},
};

static void test_rules_applied(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "[*]\n%s\n", rule_cases[i].rules);
        struct rules_view v;
        struct ruleset *rs = load(text, &v);
        struct http_response r;
        response(&r, 200, "application/json", rule_cases[i].body, strlen(rule_cases[i].body));
        struct norm_response n;
        normalize_response(&v, &r, NULL, &n);
        char *s = n.body ? compact(n.body) : NULL;
        const char *got = s ? s : "";
        if (strcmp(got, rule_cases[i].want) != 0)
            fail_msg("case %zu (%s): got %s, want %s", i, rule_cases[i].rules, got,
                     rule_cases[i].want);
        cJSON_free(s);
        /* The first rule's counter shows whether it matched anything. */
        struct rules_rule_info info;
        rules_rule_info(rs, 0, &info);
        bool matched_nothing = strstr(rule_cases[i].rules, "$.x") != NULL;
        if ((info.matched == 0) != matched_nothing)
            fail_msg("case %zu: matched %llu", i, (unsigned long long)info.matched);
        normalize_free(&n);
        http_response_free(&r);
        rules_free(rs);
    }
}

static void test_text_body_and_status_rules(void **state)
{
    (void)state;
    struct rules_view v;
    struct ruleset *rs = load("[*]\nreplace body /id=\\d+/ id=N\nignore status\n", &v);
    struct http_response r;
    response(&r, 500, "text/plain", "ok id=12 and id=7", 17);
    struct norm_response n;
    normalize_response(&v, &r, NULL, &n);
    assert_int_equal(n.body_kind, NORM_BODY_TEXT);
    assert_string_equal(n.body->valuestring, "ok id=N and id=N");
    assert_null(n.status);
    normalize_free(&n);
    http_response_free(&r);
    rules_free(rs);
}

static void test_failed_leg(void **state)
{
    (void)state;
    struct http_response r;
    response(&r, 0, "application/json", "{}", 2);
    r.error = LEG_ERR_TIMEOUT;
    struct norm_response n;
    normalize_response(NULL, &r, NULL, &n);
    assert_int_equal(n.error, LEG_ERR_TIMEOUT);
    assert_null(n.status);
    assert_null(n.body);
    assert_int_equal(n.nheaders, 0);
    normalize_free(&n);
    normalize_free(&n); /* freeing twice is harmless: the struct is zeroed */
    http_response_free(&r);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    struct rules_view v;
    struct ruleset *rs = load("[*]\nignore $..drop\nreplace $..s /x/ y\n", &v);
    for (int depth = 999; depth <= 1001; depth++) {
        struct buf b = {0};
        for (int i = 0; i < depth - 1; i++)
            buf_puts(&b, "[");
        buf_puts(&b, "{\"drop\":1,\"s\":\"x\"}");
        for (int i = 0; i < depth - 1; i++)
            buf_puts(&b, "]");
        struct http_response r;
        response(&r, 200, "application/json", b.data, b.len);
        struct norm_response n;
        normalize_response(&v, &r, NULL, &n);
        if (depth <= 1000) {
            /* Parsed and walked to the bottom. */
            assert_int_equal(n.body_kind, NORM_BODY_JSON);
            const cJSON *c = n.body;
            while (cJSON_IsArray(c))
                c = c->child;
            assert_null(cJSON_GetObjectItemCaseSensitive(c, "drop"));
            assert_string_equal(cJSON_GetObjectItemCaseSensitive(c, "s")->valuestring, "y");
        } else {
            /* Past cJSON's nesting limit: compared as text, not crashed. */
            assert_int_equal(n.body_kind, NORM_BODY_TEXT);
        }
        normalize_free(&n);
        http_response_free(&r);
        buf_free(&b);
    }
    rules_free(rs);
}

static void test_redact(void **state)
{
    (void)state;
    struct rules_view v;
    struct ruleset *rs = load("[*]\nredact $.user.ssn $..password\nredact-header Authorization "
                              "set-cookie\n",
                              &v);
    const char *json = "{\"user\":{\"ssn\":\"123\",\"name\":\"Ann\",\"auth\":{\"password\":"
                       "{\"h\":1}}},\"password\":\"p\"}";
    unsigned char z[512];
    size_t zn = compress_buf(json, strlen(json), 16 + 15, z, sizeof(z));
    struct http_response r;
    response(&r, 200, "application/json", z, zn);
    headers_add(&r.headers, "Content-Encoding", 16, "gzip", 4);
    headers_add(&r.headers, "Authorization", 13, "Bearer s3cret", 13);
    headers_add(&r.headers, "Content-Length", 14, "999", 3);
    size_t masked = normalize_redact(&v, &r, 0);
    assert_int_equal(masked, 4);
    assert_string_equal(headers_get(&r.headers, "authorization"), NORMALIZE_REDACTED);
    assert_null(headers_get(&r.headers, "content-encoding"));
    assert_string_equal(r.body.data, "{\"user\":{\"ssn\":\"[REDACTED]\",\"name\":\"Ann\",\"auth\":"
                                     "{\"password\":\"[REDACTED]\"}},\"password\":\"[REDACTED]\"}");
    char len[32];
    snprintf(len, sizeof(len), "%zu", r.body.len);
    assert_string_equal(headers_get(&r.headers, "content-length"), len);
    http_response_free(&r);
    rules_free(rs);

    rs = load("[*]\nredact body\n", &v);
    response(&r, 200, "text/plain", "secret text", 11);
    assert_int_equal(normalize_redact(&v, &r, 0), 1);
    assert_string_equal(r.body.data, NORMALIZE_REDACTED);
    http_response_free(&r);
    /* Nothing to redact: the response is left as it was. */
    response(&r, 200, "text/plain", "", 0);
    assert_int_equal(normalize_redact(NULL, &r, 0), 0);
    http_response_free(&r);
    rules_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_kinds),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_bad_encodings),
        cmocka_unit_test(test_max_body),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_rules_applied),
        cmocka_unit_test(test_text_body_and_status_rules),
        cmocka_unit_test(test_failed_leg),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
