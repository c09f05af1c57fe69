/* Header and Host rewriting between the client and the legs (DESIGN §3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rewrite.h"

static void test_strip_shadow(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"api-shadow", "api"},
        {"api-shadow:8080", "api:8080"},
        {"API-SHADOW:8080", "API:8080"},
        {"api.example.com-shadow", "api.example.com"},
        {"api", "api"},
        {"api:8080", "api:8080"},
        {"-shadow", "-shadow"}, /* nothing would be left of the name */
        {"shadow", "shadow"},
        {"api-shadowy", "api-shadowy"},
        {"[::1]:8080", "[::1]:8080"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        assert_string_equal(rewrite_strip_shadow(cases[i].in, out), cases[i].out);
    }
}

static struct http_request make_req(const char *target, const char *const *hdrs)
{
    struct http_request r = {0};
    r.method = strdup("GET");
    r.target = strdup(target);
    for (size_t i = 0; hdrs[i]; i += 2)
        headers_add(&r.headers, hdrs[i], strlen(hdrs[i]), hdrs[i + 1], strlen(hdrs[i + 1]));
    return r;
}

static void test_original_uri(void **state)
{
    (void)state;
    const char *h1[] = {"Host", "a", "X-Original-URI", "/orig/path?q=1", NULL};
    struct http_request r = make_req("/mirror", h1);
    rewrite_original_uri(&r);
    assert_string_equal(r.target, "/orig/path?q=1");
    assert_null(headers_get(&r.headers, "X-Original-URI"));
    http_request_free(&r);

    /* Not origin-form: ignored (and not forwarded). */
    const char *h2[] = {"X-Original-URI", "http://evil/", NULL};
    r = make_req("/mirror", h2);
    rewrite_original_uri(&r);
    assert_string_equal(r.target, "/mirror");
    assert_null(headers_get(&r.headers, "X-Original-URI"));
    http_request_free(&r);
}

static void test_leg_headers(void **state)
{
    (void)state;
    const char *h[] = {"Host",
                       "api-shadow:9000",
                       "Connection",
                       "keep-alive, X-Secret-Hop",
                       "Keep-Alive",
                       "timeout=5",
                       "X-Secret-Hop",
                       "1",
                       "Transfer-Encoding",
                       "chunked",
                       "Content-Length",
                       "5",
                       "Proxy-Authorization",
                       "Basic x",
                       "TE",
                       "trailers",
                       "Upgrade",
                       "h2c",
                       "Expect",
                       "100-continue",
                       "X-Diffd-Role",
                       "forged",
                       "Authorization",
                       "Bearer t",
                       "Accept",
                       "application/json",
                       "Cookie",
                       "a=1",
                       NULL};
    struct http_request r = make_req("/x", h);
    struct headers out = {0};
    const char *strip[] = {"authorization", "cookie"};
    rewrite_leg_headers(&r, "10.0.0.2:8081", false, "candidate", "t-1", strip, 2, &out);
    assert_string_equal(headers_get(&out, "Host"), "10.0.0.2:8081");
    assert_int_equal(out.n, 4);
    assert_string_equal(headers_get(&out, "Accept"), "application/json");
    assert_string_equal(headers_get(&out, "X-Diffd-Role"), "candidate");
    assert_string_equal(headers_get(&out, "X-Diffd-Trial"), "t-1");
    assert_null(headers_get(&out, "Authorization"));
    headers_free(&out);

    /* --preserve-host, and no strip list for the leg that answers. */
    rewrite_leg_headers(&r, "10.0.0.2:8081", true, "primary", "t-1", NULL, 0, &out);
    assert_string_equal(headers_get(&out, "Host"), "api:9000");
    assert_string_equal(headers_get(&out, "Authorization"), "Bearer t");
    assert_string_equal(headers_get(&out, "Cookie"), "a=1");
    assert_null(headers_get(&out, "X-Secret-Hop"));
    assert_null(headers_get(&out, "Keep-Alive"));
    assert_null(headers_get(&out, "Content-Length"));
    assert_int_equal(headers_remove(&out, "X-Diffd-Role"), 1);
    headers_free(&out);
    http_request_free(&r);
}

static void test_hop_by_hop(void **state)
{
    (void)state;
    assert_true(http_is_hop_by_hop("Connection"));
    assert_true(http_is_hop_by_hop("transfer-encoding"));
    assert_true(http_is_hop_by_hop("PROXY-CONNECTION"));
    assert_false(http_is_hop_by_hop("Content-Type"));
    assert_true(http_connection_lists("close, X-Foo", "x-foo"));
    assert_true(http_connection_lists(" X-Foo ,close", "X-Foo"));
    assert_false(http_connection_lists("X-Foobar", "X-Foo"));
    assert_false(http_connection_lists(NULL, "X-Foo"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strip_shadow),
        cmocka_unit_test(test_original_uri),
        cmocka_unit_test(test_leg_headers),
        cmocka_unit_test(test_hop_by_hop),
    };
    return cmocka_run_group_tests_name("rewrite", tests, NULL, NULL);
}
