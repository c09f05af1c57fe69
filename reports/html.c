/* Self-contained HTML report: one file with inline CSS, no script and no external
 * resource, so a CI artifact opens offline. Every string from the report is escaped
 * (endpoint names and paths come from traffic) and a Content-Security-Policy forbids
 * scripts as a second line of defence. Fields sit in <details> so long reports stay
 * readable without JavaScript. */
#include <stdio.h>
#include <string.h>

#include "html.h"

static const char style[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;"
    "color:#1d2329;background:#fff}\n"
    "h1{font-size:1.5em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.6em 0 .5em}\n"
    ".verdict{display:inline-block;padding:.2em .7em;border-radius:.3em;color:#fff;"
    "font-weight:600}\n"
    ".pass{background:#1a7f37}.fail{background:#cf222e}.insufficient{background:#9a6700}\n"
    "table{border-collapse:collapse;width:100%;margin:.5em 0}\n"
    "th,td{border-bottom:1px solid #d0d7de;padding:.3em .6em;text-align:left;"
    "vertical-align:top}\n"
    "th{background:#f6f8fa}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "tr.reg td{background:#ffebe9}\n"
    "code{font:12px ui-monospace,monospace;word-break:break-all}\n"
    "details{margin:.4em 0}summary{cursor:pointer}\n"
    ".muted{color:#57606a}\n";

static void esc(struct buf *out, const char *s)
{
    report_xml_escape(out, s);
}

static void pct_cell(struct buf *out, uint64_t part, uint64_t whole)
{
    if (whole == 0)
        buf_puts(out, "<td class=\"n\">–</td>");
    else
        buf_printf(out, "<td class=\"n\">%.1f%%</td>", (double)part * 100.0 / (double)whole);
}

static void ms_cell(struct buf *out, const struct report_latency *l, double v)
{
    char s[32];
    if (l->n == 0) {
        buf_puts(out, "<td class=\"n\">–</td>");
        return;
    }
    report_fmt_ms(s, sizeof(s), v);
    buf_printf(out, "<td class=\"n\">%s</td>", s);
}

static void endpoints_table(const struct report *r, struct buf *out)
{
    buf_puts(out, "<h2>Endpoints</h2>\n<table>\n<tr><th>endpoint</th><th class=\"n\">compared</th>"
                  "<th class=\"n\">differing</th><th class=\"n\">noise</th>"
                  "<th class=\"n\">regressions</th><th class=\"n\">p50 primary</th>"
                  "<th class=\"n\">p50 candidate</th><th class=\"n\">p99 primary</th>"
                  "<th class=\"n\">p99 candidate</th></tr>\n");
    for (size_t i = 0; i < r->nendpoints; i++) {
        const struct report_endpoint *e = &r->endpoints[i];
        size_t n = report_endpoint_regressions(r, e->name);
        buf_puts(out, n ? "<tr class=\"reg\"><td><code>" : "<tr><td><code>");
        esc(out, e->name);
        buf_printf(out, "</code></td><td class=\"n\">%llu</td>", (unsigned long long)e->compared);
        pct_cell(out, e->differing_raw, e->compared);
        pct_cell(out, e->differing_noise, e->compared);
        buf_printf(out, "<td class=\"n\">%zu</td>", n);
        ms_cell(out, &e->latency[REPORT_PRIMARY], e->latency[REPORT_PRIMARY].p50);
        ms_cell(out, &e->latency[REPORT_CANDIDATE], e->latency[REPORT_CANDIDATE].p50);
        ms_cell(out, &e->latency[REPORT_PRIMARY], e->latency[REPORT_PRIMARY].p99);
        ms_cell(out, &e->latency[REPORT_CANDIDATE], e->latency[REPORT_CANDIDATE].p99);
        buf_puts(out, "</tr>\n");
    }
    buf_puts(out, "</table>\n");
}

static void regressions_list(const struct report *r, struct buf *out)
{
    buf_puts(out, "<h2>Regressions</h2>\n");
    if (r->nregressions == 0) {
        buf_puts(out, "<p class=\"muted\">None.</p>\n");
        return;
    }
    buf_puts(out, "<table>\n<tr><th>endpoint</th><th>what</th><th>figures</th></tr>\n");
    for (size_t i = 0; i < r->nregressions; i++) {
        const struct report_regression *g = &r->regressions[i];
        buf_puts(out, "<tr class=\"reg\"><td><code>");
        esc(out, g->endpoint);
        buf_puts(out, "</code></td><td>");
        if (g->type == REPORT_REG_FIELD) {
            buf_puts(out, "field <code>");
            esc(out, g->path);
            buf_puts(out, "</code>");
        } else {
            buf_puts(out, "latency ");
            esc(out, g->quantile);
        }
        buf_puts(out, "</td><td>");
        esc(out, g->detail);
        buf_puts(out, "</td></tr>\n");
    }
    buf_puts(out, "</table>\n");
}

static void fields_details(const struct report *r, struct buf *out)
{
    buf_puts(out, "<h2>Fields</h2>\n");
    for (size_t i = 0; i < r->nendpoints; i++) {
        const struct report_endpoint *e = &r->endpoints[i];
        buf_printf(out, "<details%s><summary><code>",
                   report_endpoint_regressions(r, e->name) ? " open" : "");
        esc(out, e->name);
        buf_printf(out, "</code> <span class=\"muted\">(%zu field%s", e->nfields,
                   e->nfields == 1 ? "" : "s");
        if (e->fields_dropped)
            buf_printf(out, ", %llu differences on untracked fields",
                       (unsigned long long)e->fields_dropped);
        buf_puts(out, ")</span></summary>\n");
        if (e->nfields == 0) {
            buf_puts(out, "<p class=\"muted\">No differing field.</p></details>\n");
            continue;
        }
        buf_puts(out,
                 "<table>\n<tr><th>field</th><th class=\"n\">raw</th><th class=\"n\">noise</th>"
                 "<th class=\"n\">relative</th><th class=\"n\">absolute</th>"
                 "<th>kinds</th><th>samples</th></tr>\n");
        for (size_t k = 0; k < e->nfields; k++) {
            const struct report_field *f = &e->fields[k];
            buf_puts(out, f->regression ? "<tr class=\"reg\"><td><code>" : "<tr><td><code>");
            esc(out, f->path);
            buf_printf(out,
                       "</code></td><td class=\"n\">%llu</td><td class=\"n\">%llu</td>"
                       "<td class=\"n\">%.1f%%</td><td class=\"n\">%.3f%%</td><td>",
                       (unsigned long long)f->raw, (unsigned long long)f->noise, f->relative,
                       f->absolute);
            for (size_t c = 0; c < f->kinds.n; c++) {
                if (c)
                    buf_puts(out, ", ");
                esc(out, f->kinds.v[c].name);
                buf_printf(out, " %llu", (unsigned long long)f->kinds.v[c].n);
            }
            buf_puts(out, "</td><td>");
            for (size_t s = 0; s < f->nsamples; s++) {
                buf_puts(out, s ? " <code>" : "<code>");
                esc(out, f->samples[s]);
                buf_puts(out, "</code>");
            }
            buf_puts(out, "</td></tr>\n");
        }
        buf_puts(out, "</table>\n</details>\n");
    }
}

void html_render(const struct report *r, struct buf *out)
{
    const char *verdict = regress_verdict_name(r->verdict);
    buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    buf_printf(out, "<title>diffd report: %s</title>\n<style>\n%s</style>\n</head>\n<body>\n",
               verdict, style);
    buf_printf(out, "<h1>diffd report <span class=\"verdict %s\">%s</span></h1>\n", verdict,
               verdict);
    buf_puts(out, "<p>");
    switch (r->verdict) {
    case REGRESS_FAIL:
        buf_printf(out, "%zu regression%s found.", r->nregressions,
                   r->nregressions == 1 ? "" : "s");
        break;
    case REGRESS_INSUFFICIENT:
        buf_printf(out, "Insufficient data: no endpoint reached %llu compared trials.",
                   (unsigned long long)r->thresholds.min_compared);
        break;
    default:
        buf_puts(out, "No regressions.");
        break;
    }
    buf_printf(out, " %llu trials compared over %zu endpoint%s (%llu received, %llu sampled).",
               (unsigned long long)r->compared, r->nendpoints, r->nendpoints == 1 ? "" : "s",
               (unsigned long long)r->received, (unsigned long long)r->sampled);
    if (!r->noise_subtraction)
        buf_puts(out, " No secondary: noise was not subtracted.");
    buf_puts(out, "</p>\n<p class=\"muted\">");
    for (int l = 0; l < REPORT_LEGS; l++) {
        if (!r->backends[l])
            continue;
        buf_printf(out, "%s <code>", report_leg_name(l));
        esc(out, r->backends[l]);
        buf_puts(out, "</code> · ");
    }
    buf_printf(out,
               "thresholds: relative %g%%, absolute %g%%, latency ×%g and +%g ms, min compared "
               "%llu",
               r->thresholds.relative, r->thresholds.absolute, r->thresholds.latency_factor,
               r->thresholds.latency_min_ms, (unsigned long long)r->thresholds.min_compared);
    if (r->generated_at) {
        buf_puts(out, " · generated ");
        esc(out, r->generated_at);
    }
    if (r->diffd) {
        buf_puts(out, " · diffd ");
        esc(out, r->diffd);
    }
    buf_puts(out, "</p>\n");
    regressions_list(r, out);
    endpoints_table(r, out);
    fields_details(r, out);
    if (r->nrules > 0) {
        buf_puts(out, "<h2>Rules</h2>\n<table>\n<tr><th>rule</th><th>where</th>"
                      "<th class=\"n\">matched</th></tr>\n");
        for (size_t i = 0; i < r->nrules; i++) {
            buf_puts(out, "<tr><td><code>");
            esc(out, r->rules[i].text);
            buf_puts(out, "</code></td><td>");
            esc(out, r->rules[i].file);
            buf_printf(out, ":%ld</td><td class=\"n\">%llu</td></tr>\n", r->rules[i].line,
                       (unsigned long long)r->rules[i].matched);
        }
        buf_puts(out, "</table>\n");
    }
    buf_puts(out, "</body>\n</html>\n");
}
