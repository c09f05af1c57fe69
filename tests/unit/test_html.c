/* Unit tests for reports/html: every value from traffic is escaped (endpoint names,
 * field paths, sample ids, rule text, backend URLs), the page has no script and no
 * external resource, and the figures are there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "util.h"
#include "../../reports/html.h"
#include "../../reports/report.h"

static const char hostile_json[] =
    "{\"backends\":{\"primary\":\"http://p/<img src=x onerror=alert(1)>\"},"
    "\"generated_at\":\"</title><script>alert(1)</script>\","
    "\"endpoints\":["
    "{\"name\":\"GET /<img src=x onerror=alert(1)>\",\"compared\":1000,"
    " \"fields\":[{\"path\":\"$.a</script><script>alert(2)</script>\",\"raw\":50,\"noise\":0,"
    "   \"kinds\":{\"<b>kind</b>\":50},\"samples\":[\"t-\\\"><svg onload=alert(3)>\"]}]},"
    "{\"name\":\"</td></tr></table><h1>owned</h1>\",\"compared\":5}],"
    "\"rules\":[{\"file\":\"r<1>.rules\",\"line\":1,\"text\":\"ignore $.x<style>\","
    "\"matched\":2}]}";

/* Tags the renderer writes itself; anything else after '<' is injected markup. */
static const char *const allowed[] = {"html", "head", "meta", "title",   "style",  "body",
                                      "h1",   "h2",   "p",    "span",    "table",  "tr",
                                      "th",   "td",   "code", "details", "summary"};

static void test_hostile_values_escaped(void **state)
{
    (void)state;
    char err[256];
    struct report *r = report_parse(hostile_json, strlen(hostile_json), "t.json", err, sizeof(err));
    assert_non_null(r);
    report_recompute(r);
    struct buf out = {0};
    html_render(r, &out);
    const char *html = out.data;

    for (const char *p = html; (p = strchr(p, '<')) != NULL; p++) {
        const char *name = p + 1;
        if (*name == '/')
            name++;
        if (strncmp(p, "<!DOCTYPE html>", 15) == 0)
            continue;
        size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789");
        bool ok = false;
        for (size_t k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
            if (strlen(allowed[k]) == n && strncmp(name, allowed[k], n) == 0)
                ok = true;
        if (!ok)
            fail_msg("unexpected markup at \"%.40s\"", p);
        /* Inside our own tags: no event handler and no external resource. */
        const char *end = strchr(p, '>');
        assert_non_null(end);
        char *tag = xstrndup(p, (size_t)(end - p));
        if (strcasestr(tag, " on") || strstr(tag, "src=") || strstr(tag, "href="))
            fail_msg("tag with a handler or a resource: %s", tag);
        free(tag);
    }
    assert_null(strcasestr(html, "<script"));
    assert_null(strcasestr(html, "<img"));
    assert_null(strcasestr(html, "<svg"));
    assert_non_null(strstr(html, "Content-Security-Policy"));
    assert_non_null(strstr(html, "&lt;img src=x onerror=alert(1)&gt;"));
    assert_non_null(strstr(html, "$.a&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));
    assert_non_null(strstr(html, "t-&quot;&gt;&lt;svg onload=alert(3)&gt;"));
    assert_non_null(strstr(html, "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;h1&gt;owned"));
    assert_non_null(strstr(html, "ignore $.x&lt;style&gt;"));
    assert_non_null(strstr(html, "&lt;b&gt;kind&lt;/b&gt; 50"));
    buf_free(&out);
    report_free(r);
}

static void test_figures_and_verdict(void **state)
{
    (void)state;
    static const char json[] =
        "{\"endpoints\":[{\"name\":\"GET /users/:id\",\"compared\":1000,"
        "\"differing\":{\"raw\":50,\"noise\":5},"
        "\"fields\":[{\"path\":\"$.user.name\",\"raw\":50,\"noise\":0}],"
        "\"latency_histogram\":{\"primary\":[[235,1000]],\"candidate\":[[235,1000]]}}]}";
    char err[256];
    struct report *r = report_parse(json, strlen(json), "t.json", err, sizeof(err));
    assert_non_null(r);
    report_recompute(r);
    struct buf out = {0};
    html_render(r, &out);
    assert_non_null(strstr(out.data, "<span class=\"verdict fail\">fail</span>"));
    assert_non_null(strstr(out.data, "1 regression found."));
    assert_non_null(strstr(out.data, "<td class=\"n\">5.0%</td>")); /* differing */
    assert_non_null(strstr(out.data, "<td class=\"n\">0.5%</td>")); /* noise */
    assert_non_null(strstr(out.data, "raw 50 / noise 0 of 1000 compared"));
    assert_non_null(strstr(out.data, "<td class=\"n\">9.8")); /* p50 ~ 10 ms */
    assert_non_null(strstr(out.data, "</html>\n"));
    buf_free(&out);
    report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_values_escaped),
        cmocka_unit_test(test_figures_and_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
