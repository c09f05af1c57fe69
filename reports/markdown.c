/* Markdown for a pull-request comment (GitHub/GitLab flavoured): a verdict line, a
 * table of endpoints and the list of regressions. Endpoint names and field paths come
 * from traffic, so they are escaped character by character, never trusted. */
#include <stdio.h>
#include <string.h>

#include "markdown.h"

void markdown_escape(struct buf *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '\n' || c == '\r' || c == '\t') {
            buf_puts(out, " ");
        } else if (c < 0x20 || c == 0x7F) {
            buf_puts(out, "\xEF\xBF\xBD");
        } else if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                                 (c >= 'A' && c <= 'Z') || c == ' ')) {
            /* CommonMark: any ASCII punctuation may be backslash-escaped and is
             * then literal; GFM tables honour \| too. `<` and `&` escaped this way
             * cannot start HTML or an entity. */
            char esc[2] = {'\\', (char)c};
            buf_append(out, esc, 2);
        } else {
            buf_append(out, p, 1);
        }
    }
}

static void pct(struct buf *out, uint64_t part, uint64_t whole)
{
    if (whole == 0)
        buf_puts(out, "–");
    else
        buf_printf(out, "%.1f%%", (double)part * 100.0 / (double)whole);
}

static void ms(struct buf *out, const struct report_latency *l)
{
    char s[32];
    if (l->n == 0) {
        buf_puts(out, "–");
        return;
    }
    report_fmt_ms(s, sizeof(s), l->p99);
    buf_printf(out, "%s ms", s);
}

void markdown_render(const struct report *r, struct buf *out)
{
    switch (r->verdict) {
    case REGRESS_FAIL:
        buf_printf(out, "### diffd: ❌ fail, %zu regression%s\n\n", r->nregressions,
                   r->nregressions == 1 ? "" : "s");
        break;
    case REGRESS_INSUFFICIENT:
        buf_printf(out,
                   "### diffd: ⚠️ insufficient data (no endpoint reached %llu compared "
                   "trials)\n\n",
                   (unsigned long long)r->thresholds.min_compared);
        break;
    default:
        buf_puts(out, "### diffd: ✅ pass, no regressions\n\n");
        break;
    }
    buf_printf(out, "%llu trials compared over %zu endpoint%s", (unsigned long long)r->compared,
               r->nendpoints, r->nendpoints == 1 ? "" : "s");
    buf_printf(out,
               "; thresholds: relative %g%%, absolute %g%%, latency ×%g and +%g ms, "
               "min compared %llu.",
               r->thresholds.relative, r->thresholds.absolute, r->thresholds.latency_factor,
               r->thresholds.latency_min_ms, (unsigned long long)r->thresholds.min_compared);
    if (!r->noise_subtraction)
        buf_puts(out, " No secondary: noise was not subtracted.");
    buf_puts(out, "\n\n");

    if (r->nendpoints > 0) {
        buf_puts(out, "| endpoint | compared | differing | noise | regressions | p99 primary | "
                      "p99 candidate |\n");
        buf_puts(out, "|---|---:|---:|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < r->nendpoints; i++) {
            const struct report_endpoint *e = &r->endpoints[i];
            size_t n = 0;
            for (size_t k = 0; k < r->nregressions; k++)
                if (strcmp(r->regressions[k].endpoint, e->name) == 0)
                    n++;
            buf_puts(out, "| ");
            markdown_escape(out, e->name);
            buf_printf(out, " | %llu | ", (unsigned long long)e->compared);
            pct(out, e->differing_raw, e->compared);
            buf_puts(out, " | ");
            pct(out, e->differing_noise, e->compared);
            buf_printf(out, n ? " | **%zu** | " : " | %zu | ", n);
            ms(out, &e->latency[REPORT_PRIMARY]);
            buf_puts(out, " | ");
            ms(out, &e->latency[REPORT_CANDIDATE]);
            buf_puts(out, " |\n");
        }
        buf_puts(out, "\n");
    }

    if (r->nregressions > 0) {
        buf_puts(out, "**Regressions**\n\n");
        for (size_t i = 0; i < r->nregressions; i++) {
            const struct report_regression *g = &r->regressions[i];
            buf_puts(out, "- ");
            markdown_escape(out, g->endpoint);
            if (g->type == REPORT_REG_FIELD) {
                buf_puts(out, ", field ");
                markdown_escape(out, g->path);
            } else {
                buf_printf(out, ", latency %s", g->quantile);
            }
            /* The detail is diffd's own text (figures), not traffic. */
            buf_printf(out, ": %s", g->detail);
            buf_puts(out, "\n");
        }
        buf_puts(out, "\n");
    }
}
