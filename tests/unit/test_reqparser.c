/* Inbound request parsing: framing, limits and the error statuses of
 * DESIGN §3, fed as raw bytes the way a socket delivers them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reqparser.h"
#include "util.h"

#define MAX_BODY 1024

/* Feeds all of `in` in pieces of `step` bytes (0 = at once) and collects up to
 * 8 requests. Returns the number of requests; *status receives the error
 * status, 0 when none. */
static int parse_all(const char *in, size_t len, size_t step, struct http_request *out, int *status,
                     bool *need_more)
{
    struct reqparser p;
    reqparser_init(&p, MAX_BODY);
    int n = 0;
    size_t off = 0;
    *status = 0;
    *need_more = false;
    size_t end_of_piece = step ? (step < len ? step : len) : len;
    while (off < len) {
        enum reqparser_result res;
        size_t used = reqparser_feed(&p, in + off, end_of_piece - off, &res);
        off += used;
        if (res == RP_ERROR) {
            *status = p.error_status;
            break;
        }
        if (res == RP_REQUEST) {
            assert_true(n < 8);
            reqparser_take(&p, &out[n++]);
            continue;
        }
        if (off == end_of_piece)
            end_of_piece = step ? (end_of_piece + step < len ? end_of_piece + step : len) : len;
    }
    if (!*status && off == len) {
        enum reqparser_result res;
        reqparser_feed(&p, "", 0, &res);
        *need_more = p.in_message;
    }
    reqparser_free(&p);
    return n;
}

struct case_ {
    const char *name;
    const char *input;
    int requests; /* complete requests expected before an error or the end */
    int status;   /* error status expected, 0 for none */
};

static const struct case_ cases[] = {
    {"simple GET", "GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0},
    {"two pipelined", "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n", 2, 0},
    {"content-length body", "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 1, 0},
    {"chunked body",
     "POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
     "world\r\n0\r\n\r\n",
     1, 0},
    {"garbage request line", "GARBAGE\r\n\r\n", 0, 400},
    {"space in header name", "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 0, 400},
    {"CL and TE together",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
     400},
    {"two different content-lengths",
     "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 0, 400},
    {"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0,
     400},
    {"body over max (content-length)", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n",
     0, 413},
    {"CONNECT refused", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 0, 405},
    {"Expect other than 100-continue",
     "POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx", 0, 417},
    {"valid then malformed", "GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/9.x\r\n\r\n", 1, 400},
    {"LF-only line endings are not accepted (no lenient mode)", "GET / HTTP/1.1\nHost: x\n\n", 0,
     400},
    {"asterisk target without OPTIONS", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"asterisk target with OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0},
    {"relative target", "GET users/1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"absolute target with userinfo", "GET http://u@h/x HTTP/1.1\r\nHost: x\r\n\r\n", 0, 400},
    {"HTTP/2 prior-knowledge preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, 505},
};

static void test_table(void **state)
{
    (void)state;
    static const size_t steps[] = {0, 1, 7};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
            struct http_request reqs[8];
            int status;
            bool need_more;
            int n = parse_all(cases[i].input, strlen(cases[i].input), steps[s], reqs, &status,
                              &need_more);
            if (n != cases[i].requests || status != cases[i].status)
                fail_msg("%s (step %zu): got %d requests, status %d; want %d, %d", cases[i].name,
                         steps[s], n, status, cases[i].requests, cases[i].status);
            for (int k = 0; k < n; k++)
                http_request_free(&reqs[k]);
        }
    }
}

static void test_fields(void **state)
{
    (void)state;
    const char *in = "POST /users/7?x=%20y HTTP/1.1\r\nHost: api\r\nX-Multi: a\r\n"
                     "X-Multi: b\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for (size_t step = 0; step < 4; step++) {
        struct http_request r[8];
        int status;
        bool need_more;
        assert_int_equal(parse_all(in, strlen(in), step, r, &status, &need_more), 1);
        assert_string_equal(r[0].method, "POST");
        assert_string_equal(r[0].target, "/users/7?x=%20y");
        assert_string_equal(headers_get(&r[0].headers, "host"), "api");
        assert_int_equal(r[0].headers.n, 4);
        assert_string_equal(r[0].headers.v[2].value, "b");
        assert_int_equal(r[0].body.len, 5);
        assert_memory_equal(r[0].body.data, "abcde", 5);
        http_request_free(&r[0]);
    }
}

static void test_absolute_form(void **state)
{
    (void)state;
    static const struct {
        const char *in, *target, *host;
    } forms[] = {
        {"GET http://shop.example/abs/path?q=1 HTTP/1.1\r\nHost: other\r\n\r\n", "/abs/path?q=1",
         "shop.example"},
        {"GET HTTPS://api:8443 HTTP/1.1\r\n\r\n", "/", "api:8443"},
        {"GET http://api?x=1 HTTP/1.1\r\nHost: api\r\n\r\n", "/?x=1", "api"},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        struct http_request r[8];
        int status;
        bool need_more;
        assert_int_equal(parse_all(forms[i].in, strlen(forms[i].in), 0, r, &status, &need_more), 1);
        assert_string_equal(r[0].target, forms[i].target);
        assert_string_equal(headers_get(&r[0].headers, "Host"), forms[i].host);
        http_request_free(&r[0]);
    }
}

static void test_header_block_limit(void **state)
{
    (void)state;
    struct buf in = {0};
    buf_puts(&in, "GET / HTTP/1.1\r\nHost: x\r\n");
    /* Just under the limit passes, over it is 431 — also with many small
     * headers, and also before the block is complete. */
    while (in.len < 60 * 1024)
        buf_puts(&in, "X-Pad: 0123456789012345678901234567890123456789\r\n");
    buf_puts(&in, "\r\n");
    struct http_request r[8];
    int status;
    bool need_more;
    assert_int_equal(parse_all(in.data, in.len, 4096, r, &status, &need_more), 1);
    assert_int_equal(status, 0);
    http_request_free(&r[0]);
    in.len -= 2;
    while (in.len < 70 * 1024)
        buf_puts(&in, "X-Pad: 0123456789012345678901234567890123456789\r\n");
    assert_int_equal(parse_all(in.data, in.len, 4096, r, &status, &need_more), 0);
    assert_int_equal(status, 431);
    buf_free(&in);
}

static void test_chunked_body_limit(void **state)
{
    (void)state;
    struct buf in = {0};
    buf_puts(&in, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        buf_puts(&in, "200\r\n");
        for (int k = 0; k < 0x200; k++)
            buf_puts(&in, "z");
        buf_puts(&in, "\r\n");
    }
    buf_puts(&in, "0\r\n\r\n");
    struct http_request r[8];
    int status;
    bool need_more;
    assert_int_equal(parse_all(in.data, in.len, 100, r, &status, &need_more), 0);
    assert_int_equal(status, 413);
    buf_free(&in);
}

static void test_expect_continue_and_keepalive(void **state)
{
    (void)state;
    struct reqparser p;
    reqparser_init(&p, MAX_BODY);
    const char *head = "PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                       "Content-Length: 4\r\n\r\n";
    enum reqparser_result res;
    assert_int_equal(reqparser_feed(&p, head, strlen(head), &res), strlen(head));
    assert_int_equal(res, RP_NEED_MORE);
    assert_true(p.expect_continue);
    assert_int_equal(reqparser_feed(&p, "body", 4, &res), 4);
    assert_int_equal(res, RP_REQUEST);
    assert_false(p.expect_continue);
    assert_true(p.keep_alive);
    struct http_request r;
    reqparser_take(&p, &r);
    assert_memory_equal(r.body.data, "body", 4);
    http_request_free(&r);

    const char *close = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(reqparser_feed(&p, close, strlen(close), &res), strlen(close));
    assert_int_equal(res, RP_REQUEST);
    assert_false(p.keep_alive);
    reqparser_take(&p, &r);
    http_request_free(&r);
    reqparser_free(&p);

    /* HTTP/1.0 closes unless it asks for keep-alive. */
    reqparser_init(&p, MAX_BODY);
    const char *old = "GET / HTTP/1.0\r\n\r\n";
    reqparser_feed(&p, old, strlen(old), &res);
    assert_int_equal(res, RP_REQUEST);
    assert_false(p.keep_alive);
    reqparser_take(&p, &r);
    http_request_free(&r);
    reqparser_free(&p);
}

static void test_incomplete_is_not_an_error(void **state)
{
    (void)state;
    const char *in = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Half";
    struct http_request r[8];
    int status;
    bool need_more;
    assert_int_equal(parse_all(in, strlen(in), 0, r, &status, &need_more), 0);
    assert_int_equal(status, 0);
    assert_true(need_more);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_absolute_form),
        cmocka_unit_test(test_header_block_limit),
        cmocka_unit_test(test_chunked_body_limit),
        cmocka_unit_test(test_expect_continue_and_keepalive),
        cmocka_unit_test(test_incomplete_is_not_an_error),
    };
    return cmocka_run_group_tests_name("reqparser", tests, NULL, NULL);
}
