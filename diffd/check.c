/* `diffd check`: the CI gate. Loads reports from files and live diffd instances,
 * merges them (a fleet behind a load balancer gives one verdict), recomputes every
 * regression from the counters, prints a table, writes the requested renderings and
 * exits 0 (pass), 1 (regressions or insufficient data) or 2 (error). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"
#include "../reports/html.h"
#include "../reports/junit.h"
#include "../reports/markdown.h"
#include "../reports/report.h"
#include "util.h"

static void check_usage(FILE *out)
{
    fprintf(out, "usage: diffd check (--url ADMIN_URL | --report FILE)... [--token T]\n"
                 "                   [--max-regressions N] [--fail-on field,latency]\n"
                 "                   [--min-compared N] [--allow-insufficient]\n"
                 "                   [--junit F] [--markdown F] [--html F] [--json F]\n"
                 "\n"
                 "Gates a release on diffd's report. Several --url/--report are merged by adding\n"
                 "their counters and histograms; regressions are then recomputed.\n"
                 "\n"
                 "  --url ADMIN_URL         a running diffd's admin address (GET /api/v1/report)\n"
                 "  --report FILE           a report JSON file (e.g. written by --json)\n"
                 "  --token T               bearer token for --url [env DIFFD_ADMIN_TOKEN]\n"
                 "  --max-regressions N     fail when more regressions than N [0]\n"
                 "  --fail-on LIST          regression types that count: field, latency or both\n"
                 "                          [field,latency]\n"
                 "  --min-compared N        compared trials an endpoint needs before it can\n"
                 "                          regress [the report's]\n"
                 "  --allow-insufficient    pass when no endpoint reached --min-compared\n"
                 "  --junit F               write JUnit XML (a testcase per endpoint)\n"
                 "  --markdown F            write Markdown for a pull-request comment\n"
                 "  --html F                write a self-contained HTML report\n"
                 "  --json F                write the merged report as JSON\n"
                 "  -h, --help              this text\n"
                 "\n"
                 "Exit: 0 pass, 1 regressions or insufficient data, 2 error.\n");
}

static int parse_count(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int parse_fail_on(const char *s, struct report_gates *g)
{
    g->fail_on_field = g->fail_on_latency = false;
    const char *p = s;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 5 && strncmp(p, "field", 5) == 0)
            g->fail_on_field = true;
        else if (n == 7 && strncmp(p, "latency", 7) == 0)
            g->fail_on_latency = true;
        else
            return -1;
        p += n;
        if (*p == ',')
            p++;
    }
    return g->fail_on_field || g->fail_on_latency ? 0 : -1;
}

struct source {
    const char *value;
    bool url;
};

/* Terminal-safe copy of traffic text: control characters (escape sequences) become
 * '?'. Caller frees. */
static char *term_safe(const char *s)
{
    char *t = xstrdup(s);
    for (char *p = t; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
    return t;
}

static void print_table(const struct report *r, FILE *out)
{
    int w = 8;
    for (size_t i = 0; i < r->nendpoints; i++) {
        int n = (int)strlen(r->endpoints[i].name);
        if (n > w)
            w = n < 60 ? n : 60;
    }
    fprintf(out, "%-*s %9s %9s %7s %5s %12s %12s\n", w, "endpoint", "compared", "differing",
            "noise", "regr", "p99 primary", "p99 cand.");
    for (size_t i = 0; i < r->nendpoints; i++) {
        const struct report_endpoint *e = &r->endpoints[i];
        size_t nreg = 0;
        for (size_t k = 0; k < r->nregressions; k++)
            if (strcmp(r->regressions[k].endpoint, e->name) == 0)
                nreg++;
        char diff[16] = "-", noise[16] = "-", p[24] = "-", c[24] = "-";
        if (e->compared) {
            snprintf(diff, sizeof(diff), "%.1f%%",
                     (double)e->differing_raw * 100.0 / (double)e->compared);
            snprintf(noise, sizeof(noise), "%.1f%%",
                     (double)e->differing_noise * 100.0 / (double)e->compared);
        }
        if (e->latency[REPORT_PRIMARY].n) {
            report_fmt_ms(p, sizeof(p) - 3, e->latency[REPORT_PRIMARY].p99);
            strcat(p, " ms");
        }
        if (e->latency[REPORT_CANDIDATE].n) {
            report_fmt_ms(c, sizeof(c) - 3, e->latency[REPORT_CANDIDATE].p99);
            strcat(c, " ms");
        }
        char *name = term_safe(e->name);
        fprintf(out, "%-*s %9llu %9s %7s %5zu %12s %12s\n", w, name,
                (unsigned long long)e->compared, diff, noise, nreg, p, c);
        free(name);
    }
    if (r->nendpoints == 0)
        fprintf(out, "(no endpoints)\n");
    if (r->nregressions > 0) {
        fprintf(out, "\nregressions:\n");
        for (size_t i = 0; i < r->nregressions; i++) {
            const struct report_regression *g = &r->regressions[i];
            char *name = term_safe(g->endpoint);
            if (g->type == REPORT_REG_FIELD) {
                char *path = term_safe(g->path);
                fprintf(out, "  %s  field %s: %s\n", name, path, g->detail);
                free(path);
            } else {
                fprintf(out, "  %s  latency %s\n", name, g->detail);
            }
            free(name);
        }
    }
    if (!r->noise_subtraction)
        fprintf(out, "\nnote: no secondary, noise was not subtracted\n");
}

/* Writes data to path; "cannot write --flag path: reason" on error. */
static int write_output(const char *flag, const char *path, const struct buf *b, char *err,
                        size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return errf(err, errlen, "cannot write %s %s: %s", flag, path, strerror(errno));
    size_t n = b->len ? fwrite(b->data, 1, b->len, f) : 0;
    int bad = n != b->len || ferror(f);
    int saved = errno;
    if (fclose(f) != 0 && !bad) {
        bad = 1;
        saved = errno;
    }
    if (bad)
        return errf(err, errlen, "cannot write %s %s: %s", flag, path, strerror(saved));
    return 0;
}

int check_main(int argc, char **argv)
{
    struct source *sources = xcalloc((size_t)argc + 1, sizeof(*sources));
    size_t nsources = 0;
    const char *token = getenv("DIFFD_ADMIN_TOKEN");
    const char *out_junit = NULL, *out_md = NULL, *out_html = NULL, *out_json = NULL;
    bool have_min = false;
    uint64_t min_compared = 0;
    struct report_gates gates;
    struct report *merged = NULL;
    char err[1024];
    int rc = 2;

    report_gates_default(&gates);
    if (token && !*token)
        token = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            check_usage(stdout);
            rc = 0;
            goto out;
        } else if (cli_is_flag(a, "--url") || cli_is_flag(a, "--report")) {
            bool url = cli_is_flag(a, "--url");
            if (!(v = cli_flag_value(argc, argv, &i, url ? "--url" : "--report", "check")))
                goto out;
            if (!*v) {
                fprintf(stderr, "diffd check: %s needs a non-empty value\n",
                        url ? "--url" : "--report");
                goto out;
            }
            sources[nsources].value = v;
            sources[nsources].url = url;
            nsources++;
        } else if (cli_is_flag(a, "--token")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--token", "check")))
                goto out;
            token = v;
        } else if (cli_is_flag(a, "--max-regressions")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--max-regressions", "check")))
                goto out;
            if (parse_count(v, &gates.max_regressions) == -1) {
                fprintf(stderr, "diffd check: --max-regressions needs a count >= 0, not \"%s\"\n",
                        v);
                goto out;
            }
        } else if (cli_is_flag(a, "--fail-on")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--fail-on", "check")))
                goto out;
            if (parse_fail_on(v, &gates) == -1) {
                fprintf(stderr,
                        "diffd check: --fail-on takes field, latency or field,latency, not "
                        "\"%s\"\n",
                        v);
                goto out;
            }
        } else if (cli_is_flag(a, "--min-compared")) {
            if (!(v = cli_flag_value(argc, argv, &i, "--min-compared", "check")))
                goto out;
            if (parse_count(v, &min_compared) == -1) {
                fprintf(stderr, "diffd check: --min-compared needs a count >= 0, not \"%s\"\n", v);
                goto out;
            }
            have_min = true;
        } else if (strcmp(a, "--allow-insufficient") == 0) {
            gates.allow_insufficient = true;
        } else if (cli_is_flag(a, "--junit") || cli_is_flag(a, "--markdown") ||
                   cli_is_flag(a, "--html") || cli_is_flag(a, "--json")) {
            const char *flag = cli_is_flag(a, "--junit")      ? "--junit"
                               : cli_is_flag(a, "--markdown") ? "--markdown"
                               : cli_is_flag(a, "--html")     ? "--html"
                                                              : "--json";
            if (!(v = cli_flag_value(argc, argv, &i, flag, "check")))
                goto out;
            if (!*v) {
                fprintf(stderr, "diffd check: %s needs a file name\n", flag);
                goto out;
            }
            if (strcmp(flag, "--junit") == 0)
                out_junit = v;
            else if (strcmp(flag, "--markdown") == 0)
                out_md = v;
            else if (strcmp(flag, "--html") == 0)
                out_html = v;
            else
                out_json = v;
        } else {
            fprintf(stderr, "diffd check: unknown argument \"%s\" (see diffd check --help)\n", a);
            goto out;
        }
    }
    if (nsources == 0) {
        fprintf(stderr, "diffd check: give at least one --url ADMIN_URL or --report FILE\n");
        goto out;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (size_t i = 0; i < nsources; i++) {
        struct report *r = sources[i].url ? report_fetch(sources[i].value, token, err, sizeof(err))
                                          : report_load_file(sources[i].value, err, sizeof(err));
        if (!r) {
            fprintf(stderr, "diffd check: %s\n", err);
            goto out_curl;
        }
        if (!merged) {
            merged = r;
        } else {
            report_merge(merged, r);
            report_free(r);
        }
    }
    if (have_min)
        merged->thresholds.min_compared = min_compared;
    report_recompute(merged);

    char why[256];
    int verdict_rc = report_gate(merged, &gates, why, sizeof(why));
    print_table(merged, stdout);
    printf("\nverdict: %s (%s)\n", verdict_rc == 0 ? "pass" : "fail", why);
    fflush(stdout);

    static const struct {
        const char *flag;
        void (*render)(const struct report *, struct buf *);
    } outputs[] = {{"--junit", junit_render},
                   {"--markdown", markdown_render},
                   {"--html", html_render},
                   {"--json", report_to_json}};
    const char *paths[] = {out_junit, out_md, out_html, out_json};
    for (size_t k = 0; k < sizeof(outputs) / sizeof(outputs[0]); k++) {
        if (!paths[k])
            continue;
        struct buf b = {0};
        outputs[k].render(merged, &b);
        int w = write_output(outputs[k].flag, paths[k], &b, err, sizeof(err));
        buf_free(&b);
        if (w == -1) {
            fprintf(stderr, "diffd check: %s\n", err);
            goto out_curl;
        }
    }
    rc = verdict_rc;
out_curl:
    curl_global_cleanup();
out:
    report_free(merged);
    free(sources);
    return rc;
}
