/* Unit tests for diffd/route: id-like segments, automatic names, section
 * patterns and the per-request resolution with its routing rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "route.h"
#include "rules.h"

struct id_case {
    const char *seg;
    bool id;
};

static const struct id_case id_cases[] = {
    {"123", true},
    {"0", true},
    {"", false},
    {"users", false},
    {"v2", false},
    {"123e4567-e89b-12d3-a456-426614174000", true},
    {"123E4567-E89B-12D3-A456-426614174000", true},
    {"e89b-12d3-a456", false},
    {"123e4567-e89b-12d3-a456-42661417400g", true}, /* not a UUID, but 20+ mixed */
    {"0123456789abcdef", true},
    {"deadbeefDEADBEEF", true},
    {"0123456789abcde", false},
    {"abcdefghij0123456789", true},
    {"abcdefghij012345678", false},
    {"abcdefghijklmnopqrstu", false},
    {"user-profile-settings-page", false},
    {"AbC_dEf-123-ghi-jkl-mno", true},
    {"a1b2c3d4e5f6g7h8i9j0.json", false},
};

static void test_id_segments(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(id_cases) / sizeof(id_cases[0]); i++)
        if (route_is_id_segment(id_cases[i].seg, strlen(id_cases[i].seg)) != id_cases[i].id)
            fail_msg("\"%s\" should%s be an id", id_cases[i].seg, id_cases[i].id ? "" : " not");
}

struct template_case {
    const char *method, *target, *want;
};

static const struct template_case template_cases[] = {
    {"GET", "/users/42", "GET /users/:id"},
    {"GET", "/users/42?expand=1&x=2", "GET /users/:id"},
    {"GET", "/users/42#frag", "GET /users/:id"},
    {"DELETE", "/orders/123e4567-e89b-12d3-a456-426614174000/items/7",
     "DELETE /orders/:id/items/:id"},
    {"GET", "/", "GET /"},
    {"GET", "", "GET /"},
    {"GET", "?q=1", "GET /"},
    {"GET", "/users/", "GET /users/"},
    {"GET", "/a//b", "GET /a//b"},
    {"GET", "http://api.example:8080/v1/things/99?x", "GET /v1/things/:id"},
    {"GET", "https://h", "GET /"},
    {"OPTIONS", "*", "OPTIONS *"},
    {"GET", "/files/deadbeefdeadbeefdeadbeef/raw", "GET /files/:id/raw"},
    {"GET", "/tab\there", "GET /tab?here"},
    {"GET", "/caf\xc3\xa9/\xff\xfe/x", "GET /caf\xc3\xa9/\x3f\x3f/x"}, /* \x3f is ? */
    {"GET", "/\xed\xa0\x80", "GET /\x3f\x3f\x3f"},
};

static void test_templates(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(template_cases) / sizeof(template_cases[0]); i++) {
        char out[ROUTE_NAME_MAX];
        route_template(template_cases[i].method, template_cases[i].target, out, sizeof(out));
        if (strcmp(out, template_cases[i].want) != 0)
            fail_msg("%s %s: got \"%s\", want \"%s\"", template_cases[i].method,
                     template_cases[i].target, out, template_cases[i].want);
    }
}

static bool valid_utf8_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return true;
    /* The last character must be complete. */
    size_t i = n;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
        i--;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t cont = n - i;
    if (lead < 0x80)
        return cont == 0;
    if ((lead & 0xe0) == 0xc0)
        return cont == 1;
    if ((lead & 0xf0) == 0xe0)
        return cont == 2;
    return cont == 3;
}

static void test_truncation(void **state)
{
    (void)state;
    char target[1200] = "/";
    for (int i = 0; i < 300; i++)
        strcat(target, "\xc3\xa9"); /* é, two bytes each */
    char out[ROUTE_NAME_MAX];
    for (size_t cap = 1; cap <= sizeof(out); cap++) {
        memset(out, 'X', sizeof(out));
        route_template("GET", target, out, cap);
        assert_true(strlen(out) < cap);
        assert_true(valid_utf8_prefix(out));
    }
    assert_true(strlen(out) >= ROUTE_NAME_MAX - 2);

    struct route_result r;
    route_resolve(NULL, "GET", target, NULL, &r);
    assert_true(strlen(r.name) < ROUTE_NAME_MAX);
    assert_true(valid_utf8_prefix(r.name));
    route_resolve(NULL, "GET", "/x", target + 1, &r);
    assert_true(strlen(r.name) < ROUTE_NAME_MAX);
    assert_true(valid_utf8_prefix(r.name));
}

struct pattern_case {
    const char *pattern, *method, *target;
    bool match;
};

static const struct pattern_case pattern_cases[] = {
    {"GET /users/:id", "GET", "/users/42", true},
    {"GET /users/:id", "GET", "/users/42?x=1", true},
    {"GET /users/:id", "GET", "/users", false},
    {"GET /users/:id", "GET", "/users/", false},
    {"GET /users/:id", "GET", "/users/42/x", false},
    {"GET /users/:id", "POST", "/users/42", false},
    {"GET /users/:id", "get", "/users/42", false},
    {"* /users/:id", "PATCH", "/users/42", true},
    {"* /static/*", "GET", "/static/a/b.css", true},
    {"* /static/*", "GET", "/static/", true},
    {"* /static/*", "GET", "/static", false},
    {"* /static/*", "GET", "/staticx/a", false},
    {"GET /", "GET", "/", true},
    {"GET /", "GET", "/a", false},
    {"GET /*", "GET", "/", true},
    {"GET /*", "GET", "/anything/at/all", true},
    {"*", "BREW", "/coffee", true},
    {"GET /a/:x/c/:y", "GET", "/a/1/c/2", true},
    {"GET /a/:x/c/:y", "GET", "/a/1/d/2", false},
    {"GET /v1/x", "GET", "http://h/v1/x", true},
};

static void test_patterns(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(pattern_cases) / sizeof(pattern_cases[0]); i++) {
        const struct pattern_case *c = &pattern_cases[i];
        struct route_pattern *p = NULL;
        char err[128];
        size_t pos;
        if (route_pattern_parse(c->pattern, strlen(c->pattern), &p, &pos, err, sizeof(err)) != 0)
            fail_msg("%s: %s", c->pattern, err);
        if (route_pattern_match(p, c->method, c->target) != c->match)
            fail_msg("[%s] vs %s %s: expected %s", c->pattern, c->method, c->target,
                     c->match ? "match" : "no match");
        route_pattern_free(p);
    }
}

static void test_pattern_text_and_names(void **state)
{
    (void)state;
    struct route_pattern *p = NULL;
    char err[128];
    size_t pos;
    assert_int_equal(route_pattern_parse("  GET \t /users/:id  ", 20, &p, &pos, err, sizeof(err)),
                     0);
    assert_string_equal(route_pattern_text(p), "GET /users/:id");
    assert_false(route_pattern_any_method(p));
    assert_true(route_pattern_match_name(p, "GET /users/:id"));
    assert_true(route_pattern_match_name(p, "GET /users/7"));
    assert_false(route_pattern_match_name(p, "GET users"));
    assert_false(route_pattern_match_name(p, "users-get"));
    route_pattern_free(p);
    assert_int_equal(route_pattern_parse("*", 1, &p, &pos, err, sizeof(err)), 0);
    assert_true(route_pattern_is_all(p));
    assert_true(route_pattern_match_name(p, "anything"));
    route_pattern_free(p);
    route_pattern_free(NULL);
    assert_int_equal(route_pattern_parse("GET /a/b*", 9, &p, &pos, err, sizeof(err)), -1);
    assert_int_equal(pos, 7);
    assert_non_null(strstr(err, "whole segment"));
    assert_int_equal(route_pattern_parse("G(T /a", 6, &p, &pos, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad method"));
    assert_int_equal(route_pattern_parse("GET /a b", 8, &p, &pos, err, sizeof(err)), -1);
    assert_int_equal(pos, 6);
}

static struct ruleset *load(const char *text)
{
    struct ruleset *rs = rules_new();
    char err[256];
    if (rules_add_text(rs, "r.rules", text, strlen(text), err, sizeof(err)) != 0 ||
        rules_finish(rs, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    return rs;
}

static const char *routing_rules = "[*]\n"
                                   "strip-request-header Authorization Cookie\n"
                                   "[GET /users/:id]\n"
                                   "sample 5\n"
                                   "strip-request-header x-api-key authorization\n"
                                   "[GET /users/me]\n"
                                   "sample 50\n"
                                   "[* /health]\n"
                                   "skip\n"
                                   "[GET /static/*]\n"
                                   "ignore $.x\n";

struct resolve_case {
    const char *method, *target, *canonical;
    const char *name;
    bool skip;
    double sample;
    size_t nstrip;
    size_t nsec;
};

static const struct resolve_case resolve_cases[] = {
    {"GET", "/users/42?x=1", NULL, "GET /users/:id", false, 5, 3, 2},
    /* First matching section names the endpoint; all matching ones apply. */
    {"GET", "/users/me", NULL, "GET /users/:id", false, 5, 3, 2},
    {"HEAD", "/health", NULL, "HEAD /health", true, -1, 2, 2},
    {"GET", "/health", NULL, "GET /health", true, -1, 2, 2},
    {"GET", "/static/css/site.css", NULL, "GET /static/*", false, -1, 2, 2},
    {"POST", "/orders/99/items", NULL, "POST /orders/:id/items", false, -1, 2, 1},
    {"GET", "/users/42", "user-lookup", "user-lookup", false, -1, 2, 1},
    {"GET", "/whatever", "GET /users/me", "GET /users/me", false, 50, 3, 3},
    {"GET", "/users/42", "  ", "GET /users/:id", false, 5, 3, 2},
};

static void test_resolve(void **state)
{
    (void)state;
    struct ruleset *rs = load(routing_rules);
    for (size_t i = 0; i < sizeof(resolve_cases) / sizeof(resolve_cases[0]); i++) {
        const struct resolve_case *c = &resolve_cases[i];
        struct route_result r;
        route_resolve(rs, c->method, c->target, c->canonical, &r);
        if (strcmp(r.name, c->name) != 0 || r.skip != c->skip || r.sample != c->sample ||
            r.nstrip != c->nstrip || r.view.nsec != c->nsec)
            fail_msg("case %zu: name \"%s\" skip %d sample %g strip %zu sections %zu", i, r.name,
                     r.skip, r.sample, r.nstrip, r.view.nsec);
    }
    struct route_result r;
    route_resolve(rs, "GET", "/users/1", NULL, &r);
    assert_string_equal(r.strip[0], "authorization");
    assert_string_equal(r.strip[1], "cookie");
    assert_string_equal(r.strip[2], "x-api-key");
    /* Counters: the [*] strip rule ran for every resolve above. */
    struct rules_rule_info info;
    rules_rule_info(rs, 0, &info);
    assert_int_equal(info.matched, sizeof(resolve_cases) / sizeof(resolve_cases[0]) + 1);
    rules_rule_info(rs, 4, &info);
    assert_string_equal(info.text, "skip");
    assert_int_equal(info.matched, 2);
    rules_free(rs);
}

static void test_resolve_without_rules(void **state)
{
    (void)state;
    struct route_result r;
    route_resolve(NULL, "PUT", "/things/123", NULL, &r);
    assert_string_equal(r.name, "PUT /things/:id");
    assert_false(r.skip);
    assert_true(r.sample < 0);
    assert_int_equal(r.nstrip, 0);
    assert_int_equal(r.view.nsec, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_segments),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_pattern_text_and_names),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_resolve_without_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
