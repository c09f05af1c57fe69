/* Unit tests for diffd/rules: every directive parses, every mistake is
 * reported as file:line:column naming the token, files and directories load
 * in order, sections apply to endpoints, replace and counters work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include <fcntl.h>

#include "cli.h"
#include "route.h"
#include "rules.h"

static struct ruleset *load(const char *text, int *rc)
{
    struct ruleset *rs = rules_new();
    char err[512];
    *rc = rules_add_text(rs, "t.rules", text, strlen(text), err, sizeof(err));
    if (*rc == 0)
        *rc = rules_finish(rs, err, sizeof(err));
    return rs;
}

struct ok_case {
    const char *text;
    enum rule_kind kind;
    size_t nargs;
};

static const struct ok_case ok_cases[] = {
    {"ignore $.a $.b.c $..id", RULE_IGNORE, 3},
    {"ignore $['odd key'] $[\"x y\"].z", RULE_IGNORE, 2},
    {"ignore body status header.X-Trace", RULE_IGNORE, 3},
    {"ignore-header Date X-Request-Id", RULE_IGNORE_HEADER, 2},
    {"replace $.a /x/ y", RULE_REPLACE, 1},
    {"replace body /a b/i \"c d\"", RULE_REPLACE, 1},
    {"replace $.a /(\\d+)-(?<x>\\w)/ \"$1${x}${2}$$\"", RULE_REPLACE, 1},
    {"replace $.path /\\/users\\/\\d+/ /users/ID", RULE_REPLACE, 1},
    {"replace header.location /[0-9]+/ N", RULE_REPLACE, 1},
    {"replace $.c /#[0-9a-f]{6}/ COLOR  # hex colors", RULE_REPLACE, 1},
    {"replace $.a /x/ \"\"", RULE_REPLACE, 1},
    {"tolerance $.price 0.01", RULE_TOLERANCE, 1},
    {"tolerance $..score 5%", RULE_TOLERANCE, 1},
    {"unordered $.tags", RULE_UNORDERED, 1},
    {"unordered $.items by id", RULE_UNORDERED, 1},
    {"unordered $.items by meta.id", RULE_UNORDERED, 1},
    {"unordered $.items by $.id", RULE_UNORDERED, 1},
    {"unordered $.items by @['the key']", RULE_UNORDERED, 1},
    {"redact $.user.ssn $..password body", RULE_REDACT, 3},
    {"redact-header Authorization Cookie", RULE_REDACT_HEADER, 2},
    {"skip", RULE_SKIP, 0},
    {"sample 5", RULE_SAMPLE, 0},
    {"sample 12.5%", RULE_SAMPLE, 0},
    {"strip-request-header authorization x-api-key", RULE_STRIP_REQUEST_HEADER, 2},
};

static void test_every_directive_parses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), "# header comment\n\n[*]\n  %s\n", ok_cases[i].text);
        int rc;
        struct ruleset *rs = load(text, &rc);
        if (rc != 0)
            fail_msg("\"%s\": %s", ok_cases[i].text, rules_error(rs, 0));
        assert_int_equal(rules_rule_count(rs), 1);
        const struct rules_section *sec = rules_section_at(rs, 0);
        assert_int_equal(sec->nrules, 1);
        assert_int_equal(sec->rules[0]->kind, ok_cases[i].kind);
        assert_int_equal(sec->rules[0]->nargs, ok_cases[i].nargs);
        assert_int_equal(sec->rules[0]->line, 4);
        struct rules_rule_info info;
        rules_rule_info(rs, 0, &info);
        assert_string_equal(info.file, "t.rules");
        assert_int_equal(info.line, 4);
        assert_int_equal(strncmp(info.text, ok_cases[i].text, strlen(info.text)), 0);
        assert_null(strstr(info.text, "hex colors"));
        rules_free(rs);
    }
}

static void test_directive_values(void **state)
{
    (void)state;
    int rc;
    struct ruleset *rs = load("[*]\r\n"
                              "tolerance $.a 5%\r\n"
                              "tolerance $.b 0.25\r\n"
                              "sample 12.5\r\n"
                              "ignore-header X-Request-ID\r\n"
                              "unordered $.items by meta.id\r\n"
                              "ignore header.ETag status body\r\n"
                              "replace body /x/ \"a\\\"b\"\r\n",
                              &rc);
    assert_int_equal(rc, 0);
    const struct rules_section *sec = rules_section_at(rs, 0);
    assert_int_equal(sec->nrules, 7);
    assert_true(sec->rules[0]->percent);
    assert_true(sec->rules[0]->number == 5.0);
    assert_false(sec->rules[1]->percent);
    assert_true(sec->rules[1]->number == 0.25);
    assert_true(sec->rules[2]->number == 12.5);
    assert_string_equal(sec->rules[3]->args[0].name, "x-request-id");
    assert_int_equal(sec->rules[4]->key->nseg, 2);
    assert_string_equal(sec->rules[4]->key->seg[1].name, "id");
    assert_int_equal(sec->rules[5]->args[0].target, RULE_TARGET_HEADER);
    assert_string_equal(sec->rules[5]->args[0].name, "etag");
    assert_int_equal(sec->rules[5]->args[1].target, RULE_TARGET_STATUS);
    assert_int_equal(sec->rules[5]->args[2].target, RULE_TARGET_BODY);
    assert_string_equal(sec->rules[6]->replacement, "a\"b");
    rules_free(rs);
}

struct err_case {
    const char *text;
    const char *want; /* prefix "t.rules:L:C: " is checked by the full string */
};

static const struct err_case err_cases[] = {
    {"[*]\nignroe $.a\n", "t.rules:2:1: unknown directive \"ignroe\""},
    {"[*]\n   ignroe $.a\n", "t.rules:2:4: unknown directive \"ignroe\""},
    {"ignore $.a\n", "t.rules:1:1: directive \"ignore\" outside a section"},
    {"[*]\nignore\n", "t.rules:2:1: \"ignore\" needs an argument"},
    {"[*]\nignore a.b\n", "t.rules:2:8: bad path \"a.b\": expected a JSONPath starting with $"},
    {"[*]\nignore $.a $.b[\n", "t.rules:2:15: bad path \"$.b[\": unclosed ["},
    {"[*]\nignore $.a[-1]\n", "t.rules:2:12: bad path \"$.a[-1]\": negative indices"},
    {"[*]\nreplace $.a /(/ x\n", "t.rules:2:15: bad regex \"/(/\": missing closing parenthesis"},
    {"[*]\nreplace $.a /x/ $2\n", "t.rules:2:17: replacement refers to group $2"},
    {"[*]\nreplace $.a /x/ ${nope}\n", "t.rules:2:17: replacement refers to unknown group"},
    {"[*]\nreplace $.a /x/ a$\n", "t.rules:2:17: bad $ reference"},
    {"[*]\nreplace $.a /x\n", "t.rules:2:13: unterminated regex"},
    {"[*]\nreplace $.a x y\n", "t.rules:2:13: expected /REGEX/ after the path"},
    {"[*]\nreplace $.a /x/q y\n", "t.rules:2:16: unknown regex flag \"q\""},
    {"[*]\nreplace $.a /x/ y z\n", "t.rules:2:19: unexpected argument \"z\" to \"replace\""},
    {"[*]\nreplace status /x/ y\n", "t.rules:2:9: bad path \"status\""},
    {"[*]\ntolerance $.a abc\n", "t.rules:2:15: bad number \"abc\""},
    {"[*]\ntolerance $.a -1\n", "t.rules:2:15: bad number \"-1\""},
    {"[*]\ntolerance $.a\n", "t.rules:2:1: \"tolerance\" needs two arguments"},
    {"[*]\ntolerance body 1\n", "t.rules:2:11: bad path \"body\""},
    {"[*]\nsample 150\n", "t.rules:2:8: sample \"150\" is over 100%"},
    {"[*]\nsample x\n", "t.rules:2:8: bad number \"x\""},
    {"[*]\nunordered $.a with id\n", "t.rules:2:15: expected \"by KEYPATH\""},
    {"[*]\nunordered $.a by\n", "t.rules:2:15: \"by\" needs a KEYPATH"},
    {"[*]\nunordered $.a by $..id\n", "t.rules:2:18: key path \"$..id\" must name one member"},
    {"[*]\nunordered $.a by a[\n", "t.rules:2:19: bad key path \"a[\""},
    {"[*]\nskip now\n", "t.rules:2:6: unexpected argument \"now\" to \"skip\""},
    {"[*]\nignore-header bad:name\n", "t.rules:2:15: bad header name \"bad:name\""},
    {"[*]\nredact status\n", "t.rules:2:8: bad path \"status\""},
    {"[*]\nignore \"$.a\n", "t.rules:2:8: unterminated quoted string"},
    {"[GET users]\n", "t.rules:1:6: section path must start with /"},
    {"[GET /a\n", "t.rules:1:1: unclosed section"},
    {"[GET /a] x\n", "t.rules:1:10: unexpected text after section"},
    {"[GET /a/*/b]\n", "t.rules:1:9: * must be the last path segment"},
    {"[GET /a/:]\n", "t.rules:1:9: parameter without a name"},
    {"[]\n", "t.rules:1:2: empty section pattern"},
    {"[GET]\n", "t.rules:1:2: section pattern needs METHOD /path or *"},
    {"[*]\nignore $.\xff\n", "t.rules:2:10: invalid UTF-8"},
};

static void test_error_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        int rc;
        struct ruleset *rs = load(err_cases[i].text, &rc);
        if (rc != -1)
            fail_msg("case %zu (%s) should fail", i, err_cases[i].text);
        const char *got = rules_error(rs, 0);
        if (strncmp(got, err_cases[i].want, strlen(err_cases[i].want)) != 0)
            fail_msg("case %zu:\n got  %s\n want %s", i, got, err_cases[i].want);
        rules_free(rs);
    }
}

static void test_all_errors_are_reported(void **state)
{
    (void)state;
    int rc;
    struct ruleset *rs = load("[*]\nignroe $.a\nignore $.ok\ntolerance $.a x\n[GET nope]\n"
                              "sample 5\n",
                              &rc);
    assert_int_equal(rc, -1);
    assert_int_equal(rules_error_count(rs), 3);
    assert_non_null(strstr(rules_error(rs, 0), ":2:"));
    assert_non_null(strstr(rules_error(rs, 1), ":4:"));
    assert_non_null(strstr(rules_error(rs, 2), ":5:"));
    /* The good line was still understood; the rule under the bad section
     * header was checked (no error) but not kept, and not reported as
     * outside a section. */
    assert_int_equal(rules_rule_count(rs), 1);
    rules_free(rs);
}

static void test_files_and_directories(void **state)
{
    (void)state;
    char dir[] = "/tmp/diffd-rules-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256], q[256], r[256], sub[256];
    snprintf(p, sizeof(p), "%s/b.rules", dir);
    snprintf(q, sizeof(q), "%s/a.rules", dir);
    snprintf(r, sizeof(r), "%s/notes.txt", dir);
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    write_text_file(p, "[*]\nignore $.from_b\n");
    write_text_file(q, "[*]\nignore $.from_a\n");
    write_text_file(r, "this is not a rules file\n");
    assert_int_equal(mkdir(sub, 0700), 0);

    struct ruleset *rs = rules_new();
    char err[512];
    assert_int_equal(rules_add_path(rs, dir, err, sizeof(err)), 0);
    assert_int_equal(rules_finish(rs, err, sizeof(err)), 0);
    assert_int_equal(rules_file_count(rs), 2);
    assert_int_equal(rules_rule_count(rs), 2);
    struct rules_rule_info info;
    rules_rule_info(rs, 0, &info);
    assert_string_equal(info.file, q); /* lexical order: a before b */
    assert_string_equal(info.text, "ignore $.from_a");
    rules_rule_info(rs, 1, &info);
    assert_string_equal(info.file, p);
    rules_free(rs);

    rs = rules_new();
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/nope.rules", dir);
    assert_int_equal(rules_add_path(rs, missing, err, sizeof(err)), -2);
    assert_non_null(strstr(err, "nope.rules"));
    assert_int_equal(rules_add_path(rs, sub, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no *.rules files"));
    rules_free(rs);

    /* A syntax error in a directory's file names that file. */
    write_text_file(p, "[*]\nignore $.ok\nignroe $.x\n");
    rs = rules_new();
    assert_int_equal(rules_add_path(rs, dir, err, sizeof(err)), -1);
    char want[300];
    snprintf(want, sizeof(want), "%s:3:1: unknown directive \"ignroe\"", p);
    assert_string_equal(err, want);
    rules_free(rs);

    unlink(p);
    unlink(q);
    unlink(r);
    rmdir(sub);
    rmdir(dir);
}

static void test_views(void **state)
{
    (void)state;
    int rc;
    struct ruleset *rs = load("[GET /users/:id]\nignore $.a\n"
                              "[*]\nignore $.b\n"
                              "[* /users/*]\nignore $.c\n"
                              "[GET /users/me]\nignore $.d\n"
                              "[POST /users/:id]\nignore $.e\n",
                              &rc);
    assert_int_equal(rc, 0);
    struct rules_view v;
    rules_view_for_endpoint(rs, "GET /users/:id", &v);
    assert_int_equal(v.nsec, 3);
    assert_null(v.sec[0]->pattern); /* [*] first */
    assert_int_equal(v.sec[1]->line, 1);
    assert_int_equal(v.sec[2]->line, 5);
    rules_view_for_endpoint(rs, "GET /users/me", &v);
    assert_int_equal(v.nsec, 4); /* :id matches the segment "me" too */
    rules_view_for_endpoint(rs, "DELETE /other", &v);
    assert_int_equal(v.nsec, 1);
    rules_view_for_endpoint(rs, "my-canonical-name", &v);
    assert_int_equal(v.nsec, 1);
    rules_view_for_section(rs, 0, &v);
    assert_int_equal(v.nsec, 3);
    rules_view_for_endpoint(NULL, "GET /x", &v);
    assert_int_equal(v.nsec, 0);
    rules_free(rs);
}

static void test_view_limit(void **state)
{
    (void)state;
    struct buf b = {0};
    for (int i = 0; i < RULES_VIEW_MAX; i++)
        buf_printf(&b, "[* /x/*]\nignore $.a%d\n", i);
    buf_puts(&b, "[GET /x/y]\nignore $.z\n");
    int rc;
    struct ruleset *rs = load(b.data, &rc);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(rules_error(rs, 0), "more than 64 sections apply"));
    rules_free(rs);
    buf_free(&b);
}

static void test_replace(void **state)
{
    (void)state;
    int rc;
    struct ruleset *rs =
        load("[*]\nreplace $.a /(\\d{4})-\\d\\d/ \"$1-XX\"\nreplace $.b /CAT/i dog\n"
             "replace $.c /\\// |\n",
             &rc);
    assert_int_equal(rc, 0);
    const struct rules_section *sec = rules_section_at(rs, 0);
    struct buf out = {0};
    struct rules_matcher *m = rules_matcher_new();
    assert_int_equal(rules_replace(sec->rules[0], "2026-11 and 1999-01", 19, &out, m), 1);
    assert_string_equal(out.data, "2026-XX and 1999-XX");
    assert_int_equal(rules_replace(sec->rules[0], "none", 4, &out, m), 0);
    assert_int_equal(rules_replace(sec->rules[1], "Cat cAt", 7, &out, NULL), 1);
    assert_string_equal(out.data, "dog dog");
    assert_int_equal(rules_replace(sec->rules[2], "a/b/c", 5, &out, m), 1);
    assert_string_equal(out.data, "a|b|c");
    /* Growth past the first output guess. */
    /* A replacement longer than the output buffer's first guess. */
    struct buf big = {0};
    for (int i = 0; i < 500; i++)
        buf_puts(&big, "1234-56 ");
    assert_int_equal(rules_replace(sec->rules[0], big.data, big.len, &out, m), 1);
    assert_int_equal(out.len, big.len);
    assert_int_equal(strncmp(out.data, "1234-XX 1234-XX ", 16), 0);
    buf_free(&big);
    rules_matcher_free(m);
    rules_matcher_free(NULL);
    buf_free(&out);
    rules_free(rs);
}

struct subst_case {
    const char *regex, *replacement, *subject, *want; /* want NULL: no match */
};

/* Global substitution, including empty matches (same results as
 * pcre2_substitute with PCRE2_SUBSTITUTE_GLOBAL), unset groups (empty) and
 * UTF-8 subjects. */
static const struct subst_case subst_cases[] = {
    {"x*", "-", "abc", "-a-b-c-"},
    {"(a)|b", "[$1]", "ab", "[a][]"},
    {"(?<y>\\d+)", "<${y}>$$", "a1b22", "a<1>$b<22>$"},
    {"\xc3\xa9*", ".", "a\xc3\xa9", ".a.."},
    {"^", "S", "abc", "Sabc"},
    {"$", "E", "abc", "abcE"},
    {"\\b", "|", "ab cd", "|ab| |cd|"},
    {"a|", "X", "baac", "XbXXXcX"},
    {"(?=b)|b", "Y", "abba", "aYYYYa"},
    {"\\d{4}-\\d\\d", "YYYY-MM", "no digits", NULL},
    {"(\\w+)@(\\w+)", "$2 at ${1}", "mail ann@example now", "mail example at ann now"},
};

static void test_substitution(void **state)
{
    (void)state;
    struct rules_matcher *m = rules_matcher_new();
    for (size_t i = 0; i < sizeof(subst_cases) / sizeof(subst_cases[0]); i++) {
        const struct subst_case *c = &subst_cases[i];
        char text[256];
        snprintf(text, sizeof(text), "[*]\nreplace $.a /%s/ \"%s\"\n", c->regex, c->replacement);
        int rc;
        struct ruleset *rs = load(text, &rc);
        if (rc != 0)
            fail_msg("case %zu: %s", i, rules_error(rs, 0));
        const struct rule *r = rules_section_at(rs, 0)->rules[0];
        struct buf out = {0};
        int got = rules_replace(r, c->subject, strlen(c->subject), &out, i % 2 ? m : NULL);
        if (!c->want) {
            assert_int_equal(got, 0);
        } else {
            assert_int_equal(got, 1);
            if (strcmp(out.data, c->want) != 0)
                fail_msg("case %zu: got \"%s\", want \"%s\"", i, out.data, c->want);
        }
        buf_free(&out);
        rules_free(rs);
    }
    rules_matcher_free(m);
}

static void test_counters(void **state)
{
    (void)state;
    int rc;
    struct ruleset *rs = load("[*]\nignore $.a\n\n# c\nskip\n", &rc);
    assert_int_equal(rc, 0);
    const struct rules_section *sec = rules_section_at(rs, 0);
    rules_count(sec->rules[1], 2);
    rules_count(sec->rules[1], 3);
    struct rules_rule_info info;
    rules_rule_info(rs, 0, &info);
    assert_int_equal(info.matched, 0);
    rules_rule_info(rs, 1, &info);
    assert_int_equal(info.matched, 5);
    assert_int_equal(info.line, 5);
    assert_string_equal(info.text, "skip");
    rules_free(rs);
    rules_free(NULL);
}

static void test_bom_and_blank_files(void **state)
{
    (void)state;
    int rc;
    struct ruleset *rs = load("\xef\xbb\xbf[*]\nignore $.a", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(rules_rule_count(rs), 1);
    rules_free(rs);
    rs = load("", &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(rules_section_count(rs), 0);
    rules_free(rs);
    rs = load("# only comments\n\n   \t\n", &rc);
    assert_int_equal(rc, 0);
    rules_free(rs);
}

/* diffd rules lint: 0 clean, 1 errors, 2 unreadable path or bad usage. */
static void test_lint_command(void **state)
{
    (void)state;
    char bad[] = "/tmp/diffd-lint-XXXXXX";
    int fd = mkstemp(bad);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "[*]\nignroe $.a\n", 16), 16);
    close(fd);
    const char *clean[] = {"rules", "lint", "rules/default.rules"};
    assert_int_equal(run_quiet(rules_main, 3, clean), 0);
    const char *errors[] = {"rules", "lint", "rules/default.rules", bad};
    assert_int_equal(run_quiet(rules_main, 4, errors), 1);
    const char *missing[] = {"rules", "lint", bad, "/nonexistent/x.rules"};
    assert_int_equal(run_quiet(rules_main, 4, missing), 2);
    const char *nopath[] = {"rules", "lint"};
    assert_int_equal(run_quiet(rules_main, 2, nopath), 2);
    const char *badsub[] = {"rules", "check", "x"};
    assert_int_equal(run_quiet(rules_main, 3, badsub), 2);
    const char *badflag[] = {"rules", "lint", "--strict", "x"};
    assert_int_equal(run_quiet(rules_main, 4, badflag), 2);
    const char *help[] = {"rules", "--help"};
    assert_int_equal(run_quiet(rules_main, 2, help), 0);
    unlink(bad);
}

/* The files shipped in rules/ must stay valid (tests run from the repository root). */
static void test_shipped_rules_lint(void **state)
{
    (void)state;
    struct ruleset *rs = rules_new();
    char err[512] = "";
    int rc = rules_add_path(rs, "rules", err, sizeof(err));
    if (rc == 0)
        rc = rules_add_path(rs, "rules/examples", err, sizeof(err));
    if (rc == 0)
        rc = rules_finish(rs, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    assert_true(rules_file_count(rs) >= 2);
    assert_true(rules_rule_count(rs) > 20);
    rules_free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_directive_parses),
        cmocka_unit_test(test_directive_values),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_all_errors_are_reported),
        cmocka_unit_test(test_files_and_directories),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_view_limit),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_substitution),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_bom_and_blank_files),
        cmocka_unit_test(test_shipped_rules_lint),
        cmocka_unit_test(test_lint_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
