/* Unit tests for diffd/replay's input parsing: HAR 1.2, JSON lines and GoReplay
 * captures, format guessing, dropped headers, and malformed entries reported as
 * file:line: message and skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"
#include "util.h"

#define GOR_SEP "\xF0\x9F\x90\xB5\xF0\x9F\x99\x88\xF0\x9F\x99\x89"

struct diags {
    char msgs[8][256];
    int n;
};

static void collect(void *ctx, const char *msg)
{
    struct diags *d = ctx;
    if (d->n < 8)
        snprintf(d->msgs[d->n++], sizeof(d->msgs[0]), "%s", msg);
}

static void parse(const char *text, enum replay_format fmt, struct replay_input *in,
                  struct diags *d)
{
    char err[256] = "";
    memset(in, 0, sizeof(*in));
    memset(d, 0, sizeof(*d));
    if (replay_parse(text, strlen(text), fmt, "in.txt", in, collect, d, err, sizeof(err)) != 0)
        fail_msg("parse failed: %s", err);
}

static void assert_entry(const struct replay_entry *e, const char *method, const char *target,
                         const char *body)
{
    assert_string_equal(e->method, method);
    assert_string_equal(e->target, target);
    assert_int_equal(e->body.len, strlen(body));
    if (e->body.len)
        assert_memory_equal(e->body.data, body, e->body.len);
}

static void test_jsonl(void **state)
{
    (void)state;
    static const char text[] =
        "{\"method\":\"GET\",\"path\":\"/users/1?x=1\",\"headers\":{\"Accept\":\"application/"
        "json\","
        "\"Host\":\"old.example\",\"Connection\":\"keep-alive\"}}\n"
        "\n"
        "{\"method\":\"POST\",\"path\":\"/orders\",\"headers\":{\"Content-Type\":\"application/"
        "json\","
        "\"Content-Length\":\"99\",\"X-Tag\":[\"a\",\"b\"]},\"body\":\"{\\\"n\\\":1}\"}\n"
        "{\"method\":\"GET\",\"path\":\"users\"}\n"
        "not json\n"
        "{\"path\":\"/default-method\"}\r\n"
        "{\"method\":\"G E T\",\"path\":\"/x\"} trailing\n"
        "{\"path\":\"/h\",\"headers\":{\"X-Bad\":\"a\\r\\nInjected: 1\"}}\n"
        "{\"method\":\"G E T\",\"path\":\"/x\"}\n";
    struct replay_input in;
    struct diags d;
    parse(text, REPLAY_JSONL, &in, &d);
    assert_int_equal(in.n, 3);
    assert_int_equal(in.malformed, 5);
    assert_entry(&in.v[0], "GET", "/users/1?x=1", "");
    assert_int_equal(in.v[0].headers.n, 1); /* Host and Connection dropped */
    assert_string_equal(headers_get(&in.v[0].headers, "accept"), "application/json");
    assert_int_equal(in.v[0].line, 1);
    assert_entry(&in.v[1], "POST", "/orders", "{\"n\":1}");
    assert_null(headers_get(&in.v[1].headers, "content-length"));
    assert_int_equal(in.v[1].headers.n, 3); /* Content-Type and X-Tag twice */
    assert_int_equal(in.v[1].line, 3);
    assert_entry(&in.v[2], "GET", "/default-method", "");
    assert_int_equal(in.v[2].line, 6);
    assert_int_equal(d.n, 5);
    assert_non_null(strstr(d.msgs[0], "in.txt:4: \"path\" must start with '/'"));
    assert_non_null(strstr(d.msgs[1], "in.txt:5: invalid JSON"));
    assert_non_null(strstr(d.msgs[2], "in.txt:7: invalid JSON")); /* trailing text */
    assert_non_null(strstr(d.msgs[3], "in.txt:8: header X-Bad"));
    assert_non_null(strstr(d.msgs[4], "in.txt:9: \"method\""));
    replay_input_free(&in);
}

static const char har[] =
    "{\n"
    "  \"log\": {\n"
    "    \"version\": \"1.2\",\n"
    "    \"creator\": {\"name\": \"test\", \"version\": \"1\"},\n"
    "    \"entries\": [\n"
    "      {\n"
    "        \"request\": {\"method\": \"GET\", \"url\": "
    "\"https://api.example/v1/items?page=2#top\",\n"
    "          \"httpVersion\": \"HTTP/2\",\n"
    "          \"headers\": [{\"name\": \":authority\", \"value\": \"api.example\"},\n"
    "                      {\"name\": \"accept\", \"value\": \"*/*\"}]}\n"
    "      },\n"
    "      {\n"
    "        \"request\": {\"method\": \"PUT\", \"url\": \"http://h:8080/v1/items/7\",\n"
    "          \"headers\": [],\n"
    "          \"postData\": {\"mimeType\": \"application/json\", \"text\": "
    "\"{\\\"a\\\":[1,2]}\"}}\n"
    "      },\n"
    "      {\"request\": {\"method\": \"GET\"}},\n"
    "      \"junk\",\n"
    "      {\"request\": {\"method\": \"GET\", \"url\": \"http://h\"}}\n"
    "    ]\n"
    "  }\n"
    "}\n";

static void test_har(void **state)
{
    (void)state;
    struct replay_input in;
    struct diags d;
    parse(har, REPLAY_HAR, &in, &d);
    assert_int_equal(in.n, 3);
    assert_int_equal(in.malformed, 2);
    assert_entry(&in.v[0], "GET", "/v1/items?page=2", "");
    assert_int_equal(in.v[0].headers.n, 1); /* the pseudo-header is not replayed */
    assert_int_equal(in.v[0].line, 6);
    assert_entry(&in.v[1], "PUT", "/v1/items/7", "{\"a\":[1,2]}");
    assert_string_equal(headers_get(&in.v[1].headers, "content-type"), "application/json");
    assert_int_equal(in.v[1].line, 12);
    assert_entry(&in.v[2], "GET", "/", "");
    assert_int_equal(d.n, 2);
    assert_non_null(strstr(d.msgs[0], "in.txt:17: entry 3: request.url missing"));
    assert_non_null(strstr(d.msgs[1], "in.txt:18: entry 4: expected an object"));
    replay_input_free(&in);
}

static void test_har_unusable(void **state)
{
    (void)state;
    struct replay_input in = {0};
    char err[256] = "";
    const char *bad = "{\n\"log\": {\"entries\": [}\n";
    assert_int_equal(
        replay_parse(bad, strlen(bad), REPLAY_HAR, "x.har", &in, NULL, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "x.har:2: invalid JSON"));
    const char *nolog = "{\"entries\": []}";
    assert_int_equal(
        replay_parse(nolog, strlen(nolog), REPLAY_HAR, "x.har", &in, NULL, NULL, err, sizeof(err)),
        -1);
    assert_non_null(strstr(err, "no log.entries"));
    replay_input_free(&in);
}

static const char gor[] = "1 a1b2 1700000000000000000 0\n"
                          "GET /search?q=shoes HTTP/1.1\r\n"
                          "Host: shop.example\r\n"
                          "Accept: text/html\r\n"
                          "\r\n"
                          "\n" GOR_SEP "\n"
                          "2 a1b2 1700000000100000000 1000\n"
                          "HTTP/1.1 200 OK\r\n"
                          "Content-Length: 2\r\n"
                          "\r\n"
                          "ok\n" GOR_SEP "\n"
                          "1 c3d4 1700000000200000000 0\n"
                          "POST /cart HTTP/1.1\r\n"
                          "Content-Type: application/json\r\n"
                          "Content-Length: 11\r\n"
                          "\r\n"
                          "{\"sku\":\"a\"}\n" GOR_SEP "\n"
                          "1 e5f6 1700000000300000000 0\n"
                          "POST /chunked HTTP/1.1\r\n"
                          "Transfer-Encoding: chunked\r\n"
                          "\r\n"
                          "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                          "\n" GOR_SEP "\n"
                          "1 0000 1700000000400000000 0\n"
                          "this is not http\n"
                          "\n" GOR_SEP "\n"
                          "1 1111 1700000000500000000 0\n"
                          "POST /short HTTP/1.1\r\n"
                          "Content-Length: 50\r\n"
                          "\r\n"
                          "tiny\n" GOR_SEP "\n"
                          "hello\n" GOR_SEP "\n"
                          "1 2222 1700000000600000000 0\n"
                          "DELETE /items/9 HTTP/1.1\n"
                          "X-Unix: newlines\n"
                          "\n";

static void test_gor(void **state)
{
    (void)state;
    struct replay_input in;
    struct diags d;
    parse(gor, REPLAY_GOR, &in, &d);
    assert_int_equal(in.n, 4);
    assert_int_equal(in.ignored, 1);
    assert_int_equal(in.malformed, 3);
    assert_entry(&in.v[0], "GET", "/search?q=shoes", "");
    assert_null(headers_get(&in.v[0].headers, "host"));
    assert_string_equal(headers_get(&in.v[0].headers, "accept"), "text/html");
    assert_int_equal(in.v[0].line, 1);
    assert_entry(&in.v[1], "POST", "/cart", "{\"sku\":\"a\"}");
    assert_int_equal(in.v[1].line, 14);
    assert_entry(&in.v[2], "POST", "/chunked", "hello world");
    assert_null(headers_get(&in.v[2].headers, "transfer-encoding"));
    assert_entry(&in.v[3], "DELETE", "/items/9", "");
    assert_string_equal(headers_get(&in.v[3].headers, "x-unix"), "newlines");
    assert_int_equal(d.n, 3);
    assert_non_null(strstr(d.msgs[0], "in.txt:33: bad request line"));
    assert_non_null(strstr(d.msgs[1], "in.txt:37: body shorter than its Content-Length 50"));
    assert_non_null(strstr(d.msgs[2], "in.txt:43: not a GoReplay payload header"));
    replay_input_free(&in);
}

struct guess_case {
    const char *text;
    int want; /* -1: no guess */
};

static const struct guess_case guess_cases[] = {
    {"{\"log\":{\"entries\":[]}}", REPLAY_HAR},
    {"\xEF\xBB\xBF  \n{\n \"log\": {\"version\": \"1.2\", \"entries\": []}}", REPLAY_HAR},
    {"{\"method\":\"GET\",\"path\":\"/\"}\n{\"path\":\"/b\"}\n", REPLAY_JSONL},
    {"{\"path\":\"/\"}", REPLAY_JSONL},
    {"1 ab 1 0\nGET / HTTP/1.1\r\n\r\n\n" GOR_SEP "\n", REPLAY_GOR},
    {"GET / HTTP/1.1\r\n\r\n", -1},
    {"", -1},
    {"1 ab 1 0\nGET / HTTP/1.1\r\n\r\n", -1},
};

static void test_guess(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(guess_cases) / sizeof(guess_cases[0]); i++) {
        enum replay_format f = REPLAY_HAR;
        int rc = replay_guess_format(guess_cases[i].text, strlen(guess_cases[i].text), &f);
        int got = rc == -1 ? -1 : (int)f;
        if (got != guess_cases[i].want)
            fail_msg("guess case %zu: %d, want %d", i, got, guess_cases[i].want);
    }
    enum replay_format f;
    assert_int_equal(replay_format_parse("gor", &f), 0);
    assert_int_equal(f, REPLAY_GOR);
    assert_int_equal(replay_format_parse("csv", &f), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl),        cmocka_unit_test(test_har),
        cmocka_unit_test(test_har_unusable), cmocka_unit_test(test_gor),
        cmocka_unit_test(test_guess),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
