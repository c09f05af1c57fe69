/* Unit tests for reports/junit: the XML is parsed back (a strict little parser:
 * balanced tags, quoted attributes, known entities only) and its testcases,
 * failures and figures checked, with hostile endpoint names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"
#include "../../reports/junit.h"
#include "../../reports/report.h"

/* ---- a strict minimal XML parser -------------------------------------------------- */

#define MAX_ATTRS 8
#define MAX_KIDS 64

struct node {
    char name[32];
    char *attr_name[MAX_ATTRS], *attr_value[MAX_ATTRS];
    int nattrs;
    struct node *kids[MAX_KIDS];
    int nkids;
    struct buf text;
};

static void node_free(struct node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nattrs; i++) {
        free(n->attr_name[i]);
        free(n->attr_value[i]);
    }
    for (int i = 0; i < n->nkids; i++)
        node_free(n->kids[i]);
    buf_free(&n->text);
    free(n);
}

/* Decodes text up to `stop` into out; fails on '<' in text or an unknown entity. */
static void decode(const char **pp, char stop, struct buf *out)
{
    const char *p = *pp;
    while (*p && *p != stop) {
        if (*p == '<' && stop != '<')
            fail_msg("raw '<' inside an attribute value");
        if (*p == '&') {
            static const char *const ents[][2] = {
                {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&#39;", "'"}};
            size_t k;
            for (k = 0; k < 5; k++)
                if (strncmp(p, ents[k][0], strlen(ents[k][0])) == 0)
                    break;
            if (k == 5)
                fail_msg("unknown entity at \"%.10s\"", p);
            buf_puts(out, ents[k][1]);
            p += strlen(ents[k][0]);
            continue;
        }
        if (*p == '>' && stop == '"')
            fail_msg("raw '>' inside an attribute value");
        buf_append(out, p, 1);
        p++;
    }
    *pp = p;
}

static void skip_ws(const char **pp)
{
    while (**pp == ' ' || **pp == '\n' || **pp == '\t' || **pp == '\r')
        (*pp)++;
}

static struct node *parse_element(const char **pp)
{
    const char *p = *pp;
    if (*p != '<')
        fail_msg("expected '<' at \"%.20s\"", p);
    p++;
    struct node *n = xcalloc(1, sizeof(*n));
    size_t len = strcspn(p, " />\n");
    if (len == 0 || len >= sizeof(n->name))
        fail_msg("bad tag name at \"%.20s\"", p);
    memcpy(n->name, p, len);
    p += len;
    for (;;) {
        skip_ws(&p);
        if (*p == '/' && p[1] == '>') {
            *pp = p + 2;
            return n;
        }
        if (*p == '>') {
            p++;
            break;
        }
        size_t an = strcspn(p, "=");
        if (!p[an] || p[an + 1] != '"' || n->nattrs == MAX_ATTRS)
            fail_msg("bad attribute at \"%.20s\"", p);
        n->attr_name[n->nattrs] = xstrndup(p, an);
        p += an + 2;
        struct buf v = {0};
        decode(&p, '"', &v);
        if (*p != '"')
            fail_msg("unterminated attribute");
        p++;
        n->attr_value[n->nattrs++] = v.data ? buf_steal(&v) : xstrdup("");
    }
    for (;;) {
        decode(&p, '<', &n->text);
        if (!*p)
            fail_msg("element <%s> not closed", n->name);
        if (p[1] == '/') {
            size_t l = strlen(n->name);
            if (strncmp(p + 2, n->name, l) != 0 || p[2 + l] != '>')
                fail_msg("</...> at \"%.20s\" does not close <%s>", p, n->name);
            *pp = p + 3 + l;
            return n;
        }
        if (n->nkids == MAX_KIDS)
            fail_msg("too many children");
        n->kids[n->nkids++] = parse_element(&p);
    }
}

static struct node *parse_doc(const char *xml)
{
    const char *decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    if (strncmp(xml, decl, strlen(decl)) != 0)
        fail_msg("missing XML declaration");
    const char *p = xml + strlen(decl);
    struct node *root = parse_element(&p);
    skip_ws(&p);
    if (*p)
        fail_msg("content after the root element: \"%.20s\"", p);
    return root;
}

static const char *attr(const struct node *n, const char *name)
{
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attr_name[i], name) == 0)
            return n->attr_value[i];
    return NULL;
}

static const struct node *kid(const struct node *n, const char *name, int nth)
{
    for (int i = 0; i < n->nkids; i++)
        if (strcmp(n->kids[i]->name, name) == 0 && nth-- == 0)
            return n->kids[i];
    return NULL;
}

/* ---- tests -------------------------------------------------------------------------- */

#define HOSTILE "GET /x<img src=x onerror=alert(1)></script>&\"'"

static const char report_json[] =
    "{\"endpoints\":["
    "{\"name\":\"GET /x<img src=x onerror=alert(1)></script>&\\\"'\",\"compared\":1000,"
    " \"fields\":[{\"path\":\"$.a<b>\",\"raw\":50,\"noise\":0},"
    "             {\"path\":\"$.quiet\",\"raw\":50,\"noise\":45}],"
    " \"latency_histogram\":{\"primary\":[[235,1000]],\"secondary\":[[235,1000]],"
    "                       \"candidate\":[[263,1000]]}},"
    "{\"name\":\"GET /ok\",\"compared\":500},"
    "{\"name\":\"GET /rare\",\"compared\":3}"
    "]}";

static void test_junit_parses_back(void **state)
{
    (void)state;
    char err[256];
    struct report *r = report_parse(report_json, strlen(report_json), "t.json", err, sizeof(err));
    assert_non_null(r);
    report_recompute(r);
    struct buf out = {0};
    junit_render(r, &out);

    struct node *root = parse_doc(out.data);
    assert_string_equal(root->name, "testsuites");
    assert_string_equal(attr(root, "tests"), "3");
    assert_string_equal(attr(root, "failures"), "1");
    const struct node *suite = kid(root, "testsuite", 0);
    assert_non_null(suite);
    assert_string_equal(attr(suite, "tests"), "3");
    assert_string_equal(attr(suite, "failures"), "1");
    assert_string_equal(attr(suite, "skipped"), "1");

    /* Endpoint 1: the hostile name survives escaping and unescaping exactly. */
    const struct node *tc = kid(suite, "testcase", 0);
    assert_non_null(tc);
    assert_string_equal(attr(tc, "name"), HOSTILE);
    const struct node *f0 = kid(tc, "failure", 0), *f1 = kid(tc, "failure", 1),
                      *f2 = kid(tc, "failure", 2);
    assert_non_null(f0);
    assert_non_null(f1);
    assert_non_null(f2);
    assert_null(kid(tc, "failure", 3)); /* $.quiet is noise, not a failure */
    assert_string_equal(attr(f0, "type"), "field");
    const char *m = attr(f0, "message");
    assert_non_null(strstr(m, "$.a<b>"));
    assert_non_null(strstr(m, "raw 50 / noise 0 of 1000 compared"));
    assert_non_null(strstr(m, "relative 100.0%"));
    assert_non_null(strstr(m, "absolute 5.000%"));
    assert_non_null(strstr(f0->text.data, HOSTILE));
    assert_string_equal(attr(f1, "type"), "latency");
    assert_non_null(strstr(attr(f1, "message"), "p50"));
    assert_non_null(strstr(attr(f2, "message"), "p99"));
    assert_non_null(strstr(attr(f2, "message"), " ms"));

    /* Endpoint 2 passed: no failure, no skipped. Endpoint 3 had too few trials. */
    const struct node *ok = kid(suite, "testcase", 1), *rare = kid(suite, "testcase", 2);
    assert_string_equal(attr(ok, "name"), "GET /ok");
    assert_int_equal(ok->nkids, 0);
    assert_string_equal(attr(rare, "name"), "GET /rare");
    assert_non_null(kid(rare, "skipped", 0));
    assert_null(kid(rare, "failure", 0));

    /* The raw text never holds the hostile markup unescaped. */
    assert_null(strstr(out.data, "<img"));
    assert_null(strstr(out.data, "</script>"));

    node_free(root);
    buf_free(&out);
    report_free(r);
}

static void test_junit_empty_report(void **state)
{
    (void)state;
    char err[256];
    struct report *r = report_parse("{\"endpoints\":[]}", 16, "t.json", err, sizeof(err));
    assert_non_null(r);
    report_recompute(r);
    struct buf out = {0};
    junit_render(r, &out);
    struct node *root = parse_doc(out.data);
    assert_string_equal(attr(root, "tests"), "0");
    const struct node *suite = kid(root, "testsuite", 0);
    assert_null(kid(suite, "testcase", 0));
    node_free(root);
    buf_free(&out);
    report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_junit_parses_back),
        cmocka_unit_test(test_junit_empty_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
