/* JUnit XML for CI systems (Jenkins, GitLab, GitHub test reporters): the report's
 * endpoints become testcases and its regressions failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "junit.h"

static void attr(struct buf *out, const char *name, const char *value)
{
    buf_printf(out, " %s=\"", name);
    report_xml_escape(out, value);
    buf_puts(out, "\"");
}

static void failure(struct buf *out, const struct report_regression *g)
{
    char *msg;
    if (g->type == REPORT_REG_FIELD)
        msg = xasprintf("field %s: %s", g->path, g->detail);
    else
        msg = xasprintf("latency %s", g->detail);
    buf_puts(out, "      <failure");
    attr(out, "type", g->type == REPORT_REG_FIELD ? "field" : "latency");
    attr(out, "message", msg);
    buf_puts(out, ">");
    report_xml_escape(out, g->endpoint);
    buf_puts(out, "\n");
    report_xml_escape(out, msg);
    buf_puts(out, "\n</failure>\n");
    free(msg);
}

void junit_render(const struct report *r, struct buf *out)
{
    size_t failed = 0, skipped = 0;
    for (size_t i = 0; i < r->nendpoints; i++) {
        const struct report_endpoint *e = &r->endpoints[i];
        if (report_endpoint_regressions(r, e->name) > 0)
            failed++;
        else if (e->compared < r->thresholds.min_compared || e->compared == 0)
            skipped++;
    }
    buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    buf_printf(out, "<testsuites name=\"diffd\" tests=\"%zu\" failures=\"%zu\" errors=\"0\">\n",
               r->nendpoints, failed);
    buf_printf(out,
               "  <testsuite name=\"diffd check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
               "skipped=\"%zu\">\n",
               r->nendpoints, failed, skipped);
    buf_puts(out, "    <properties>\n");
    buf_printf(out, "      <property name=\"verdict\" value=\"%s\"/>\n",
               regress_verdict_name(r->verdict));
    for (int l = 0; l < REPORT_LEGS; l++) {
        if (!r->backends[l])
            continue;
        char name[32];
        snprintf(name, sizeof(name), "backend.%s", report_leg_name(l));
        buf_puts(out, "      <property");
        attr(out, "name", name);
        attr(out, "value", r->backends[l]);
        buf_puts(out, "/>\n");
    }
    if (r->generated_at) {
        buf_puts(out, "      <property name=\"generated_at\"");
        attr(out, "value", r->generated_at);
        buf_puts(out, "/>\n");
    }
    buf_puts(out, "    </properties>\n");
    for (size_t i = 0; i < r->nendpoints; i++) {
        const struct report_endpoint *e = &r->endpoints[i];
        buf_puts(out, "    <testcase classname=\"diffd\"");
        attr(out, "name", e->name);
        buf_printf(out, " assertions=\"%llu\">\n", (unsigned long long)e->compared);
        size_t n = report_endpoint_regressions(r, e->name);
        for (size_t k = 0; k < r->nregressions; k++)
            if (strcmp(r->regressions[k].endpoint, e->name) == 0)
                failure(out, &r->regressions[k]);
        if (n == 0 && (e->compared < r->thresholds.min_compared || e->compared == 0))
            buf_printf(
                out, "      <skipped message=\"%llu compared, fewer than min_compared %llu\"/>\n",
                (unsigned long long)e->compared, (unsigned long long)r->thresholds.min_compared);
        buf_puts(out, "    </testcase>\n");
    }
    buf_puts(out, "  </testsuite>\n</testsuites>\n");
}
