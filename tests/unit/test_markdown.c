/* Unit tests for reports/markdown: escaping of traffic text (table pipes, HTML,
 * links), the verdict line, the endpoint table and the regression list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"
#include "../../reports/markdown.h"
#include "../../reports/report.h"

struct esc_case {
    const char *in, *want;
};

static const struct esc_case esc_cases[] = {
    {"GET /users/:id", "GET \\/users\\/\\:id"},
    {"a|b", "a\\|b"},
    {"<img src=x onerror=alert(1)>", "\\<img src\\=x onerror\\=alert\\(1\\)\\>"},
    {"</script>", "\\<\\/script\\>"},
    {"[x](javascript:alert(1))", "\\[x\\]\\(javascript\\:alert\\(1\\)\\)"},
    {"*_`~#&", "\\*\\_\\`\\~\\#\\&"},
    {"line\nbreak\r\tx", "line break  x"},
    {"caf\xC3\xA9 \\", "caf\xC3\xA9 \\\\"},
};

static void test_escape(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
        struct buf b = {0};
        markdown_escape(&b, esc_cases[i].in);
        if (strcmp(b.data ? b.data : "", esc_cases[i].want) != 0)
            fail_msg("escape(\"%s\") = \"%s\", want \"%s\"", esc_cases[i].in, b.data,
                     esc_cases[i].want);
        buf_free(&b);
    }
}

static struct report *load(const char *json)
{
    char err[256];
    struct report *r = report_parse(json, strlen(json), "t.json", err, sizeof(err));
    if (!r)
        fail_msg("%s", err);
    report_recompute(r);
    return r;
}

/* Pipes that are column separators: not preceded by a backslash. */
static int unescaped_pipes(const char *line, size_t n)
{
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (line[i] == '|' && (i == 0 || line[i - 1] != '\\'))
            count++;
    return count;
}

static void test_hostile_table(void **state)
{
    (void)state;
    struct report *r =
        load("{\"endpoints\":["
             "{\"name\":\"GET /a|b|c <img src=x onerror=alert(1)>\",\"compared\":1000,"
             " \"fields\":[{\"path\":\"$['x|y']</script>\",\"raw\":50,\"noise\":0}]},"
             "{\"name\":\"GET /fine\",\"compared\":1000}]}");
    struct buf out = {0};
    markdown_render(r, &out);
    const char *md = out.data;
    assert_non_null(strstr(md, "### diffd: ❌ fail, 1 regression\n"));
    /* Every table row has exactly 8 separators (7 columns). */
    int rows = 0;
    for (const char *p = md; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > 0 && p[0] == '|') {
            rows++;
            if (unescaped_pipes(p, n) != 8)
                fail_msg("table row with %d separators: %.*s", unescaped_pipes(p, n), (int)n, p);
        }
        p += n + (eol ? 1 : 0);
    }
    assert_int_equal(rows, 4); /* header, rule, two endpoints */
    /* No raw HTML from traffic anywhere. */
    for (const char *p = md; (p = strchr(p, '<')) != NULL; p++)
        if (p == md || p[-1] != '\\')
            fail_msg("unescaped '<' at \"%.30s\"", p);
    assert_non_null(strstr(md, "GET \\/a\\|b\\|c \\<img src\\=x onerror\\=alert\\(1\\)\\>"));
    assert_non_null(strstr(md, "**Regressions**"));
    assert_non_null(strstr(md, "field \\$\\[\\'x\\|y\\'\\]\\<\\/script\\>: raw 50 / noise 0 of "
                               "1000 compared"));
    buf_free(&out);
    report_free(r);
}

static void test_verdict_lines(void **state)
{
    (void)state;
    struct report *pass = load("{\"endpoints\":[{\"name\":\"GET /\",\"compared\":100}]}");
    struct report *few = load("{\"endpoints\":[{\"name\":\"GET /\",\"compared\":3}]}");
    struct report *noise = load("{\"noise_subtraction\":false,\"endpoints\":[]}");
    struct buf a = {0}, b = {0}, c = {0};
    markdown_render(pass, &a);
    markdown_render(few, &b);
    markdown_render(noise, &c);
    assert_non_null(strstr(a.data, "### diffd: ✅ pass, no regressions"));
    assert_null(strstr(a.data, "**Regressions**"));
    assert_non_null(strstr(b.data, "insufficient data (no endpoint reached 10 compared"));
    assert_non_null(strstr(c.data, "noise was not subtracted"));
    buf_free(&a);
    buf_free(&b);
    buf_free(&c);
    report_free(pass);
    report_free(few);
    report_free(noise);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_hostile_table),
        cmocka_unit_test(test_verdict_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
