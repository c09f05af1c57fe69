/* Report JSON from merged statistics. */
#include "reportgen.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "regress.h"
#include "rules.h"
#include "stats.h"

static const char *const kind_names[STATS_KINDS] = {"value", "type",   "missing",
                                                    "extra", "length", "error"};

struct field_view {
    const struct stats_field *f;
    struct regress_field_result r;
};

struct latency_view {
    struct regress_latency_result q50, q99;
};

static int cmp_field(const void *a, const void *b)
{
    const struct field_view *x = a, *y = b;
    if (x->r.regression != y->r.regression)
        return x->r.regression ? -1 : 1;
    if (x->f->raw != y->f->raw)
        return x->f->raw > y->f->raw ? -1 : 1;
    return strcmp(x->f->path, y->f->path);
}

static int cmp_endpoint(const void *a, const void *b)
{
    const struct stats_endpoint *x = *(const struct stats_endpoint *const *)a;
    const struct stats_endpoint *y = *(const struct stats_endpoint *const *)b;
    bool xo = strcmp(x->name, STATS_OTHER) == 0, yo = strcmp(y->name, STATS_OTHER) == 0;
    if (xo != yo)
        return xo ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void thresholds_of(const struct config *cfg, struct regress_thresholds *t)
{
    t->relative = cfg->threshold_relative;
    t->absolute = cfg->threshold_absolute;
    t->latency_factor = cfg->latency_factor;
    t->latency_min_ms = cfg->latency_min_ms;
    t->min_compared = (uint64_t)cfg->min_compared;
}

/* Widens a shard histogram to regress.h's uint64 layout. */
static void hist64(const uint32_t *h, uint64_t *out)
{
    memset(out, 0, sizeof(uint64_t) * STATS_HIST_BUCKETS);
    if (h)
        for (int b = 0; b < STATS_HIST_BUCKETS; b++)
            out[b] = h[b];
}

static void write_str(struct buf *b, const char *s)
{
    buf_json_string(b, s, strlen(s));
}

static void write_field(struct buf *b, const struct field_view *v)
{
    const struct stats_field *f = v->f;
    buf_puts(b, "{\"path\":");
    write_str(b, f->path);
    buf_printf(b, ",\"raw\":%llu,\"noise\":%llu,\"relative\":%.4f,\"absolute\":%.4f,\"kinds\":{",
               (unsigned long long)f->raw, (unsigned long long)f->noise, v->r.relative,
               v->r.absolute);
    bool first = true;
    for (int k = 0; k < STATS_KINDS; k++)
        if (f->kinds[k]) {
            buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", kind_names[k],
                       (unsigned long long)f->kinds[k]);
            first = false;
        }
    buf_puts(b, "},\"noise_kinds\":{");
    first = true;
    for (int k = 0; k < STATS_KINDS; k++)
        if (f->noise_kinds[k]) {
            buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", kind_names[k],
                       (unsigned long long)f->noise_kinds[k]);
            first = false;
        }
    buf_printf(b, "},\"regression\":%s,\"samples\":[", v->r.regression ? "true" : "false");
    for (uint32_t i = 0; i < f->nsamples; i++) {
        if (i)
            buf_puts(b, ",");
        write_str(b, f->samples[i]);
    }
    buf_puts(b, "]}");
}

static void write_latency(struct buf *b, const struct stats_endpoint *e)
{
    uint64_t h[STATS_HIST_BUCKETS];
    buf_puts(b, ",\"latency_ms\":{");
    for (int r = 0; r < ROLE_COUNT; r++) {
        hist64(e->hist[r], h);
        uint64_t n = regress_hist_total(h, STATS_HIST_BUCKETS);
        buf_printf(b, "%s\"%s\":{", r ? "," : "", role_name(r));
        if (n)
            buf_printf(b, "\"n\":%llu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f",
                       (unsigned long long)n,
                       regress_hist_quantile_us(h, STATS_HIST_BUCKETS, 0.50) / 1000.0,
                       regress_hist_quantile_us(h, STATS_HIST_BUCKETS, 0.90) / 1000.0,
                       regress_hist_quantile_us(h, STATS_HIST_BUCKETS, 0.99) / 1000.0);
        buf_puts(b, "}");
    }
    buf_puts(b, "},\"latency_histogram\":{");
    for (int r = 0; r < ROLE_COUNT; r++) {
        buf_printf(b, "%s\"%s\":", r ? "," : "", role_name(r));
        stats_write_hist(b, e->hist[r]);
    }
    buf_puts(b, "}");
}

static struct latency_view latency_rule(const struct stats_endpoint *e,
                                        const struct regress_thresholds *t)
{
    uint64_t h[ROLE_COUNT][STATS_HIST_BUCKETS];
    struct regress_hist rh[ROLE_COUNT];
    for (int r = 0; r < ROLE_COUNT; r++) {
        hist64(e->hist[r], h[r]);
        rh[r].counts = h[r];
        rh[r].n = e->hist[r] ? STATS_HIST_BUCKETS : 0;
    }
    struct latency_view v;
    v.q50 = regress_latency(e->compared, 0.50, rh[ROLE_PRIMARY], rh[ROLE_SECONDARY],
                            rh[ROLE_CANDIDATE], t);
    v.q99 = regress_latency(e->compared, 0.99, rh[ROLE_PRIMARY], rh[ROLE_SECONDARY],
                            rh[ROLE_CANDIDATE], t);
    return v;
}

void reportgen_write(struct buf *b, const struct stats *s, const struct config *cfg,
                     const struct ruleset *rules)
{
    struct regress_thresholds t;
    thresholds_of(cfg, &t);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    bool noise = cfg->backends[ROLE_SECONDARY].configured;

    buf_printf(b, "{\"diffd\":\"%s\",\"generated_at\":\"%s\",\"backends\":{", DIFFD_VERSION, when);
    for (int r = 0; r < ROLE_COUNT; r++) {
        buf_printf(b, "%s\"%s\":", r ? "," : "", role_name(r));
        if (cfg->backends[r].configured)
            write_str(b, cfg->backends[r].url);
        else
            buf_puts(b, "null");
    }
    buf_printf(b,
               "},\"noise_subtraction\":%s,\"thresholds\":{\"relative\":%g,\"absolute\":%g,"
               "\"latency_factor\":%g,\"latency_min_ms\":%g,\"min_compared\":%ld},"
               "\"histogram\":{\"unit\":\"us\",\"growth\":%g},",
               noise ? "true" : "false", t.relative, t.absolute, t.latency_factor, t.latency_min_ms,
               cfg->min_compared, REGRESS_GROWTH);
    buf_printf(b, "\"totals\":{\"received\":%llu,\"sampled\":%llu,\"compared\":%llu,\"skipped\":{",
               (unsigned long long)s->totals_received, (unsigned long long)s->totals_sampled,
               (unsigned long long)s->totals_compared);
    for (int k = 0; k < STATS_SKIPS; k++)
        buf_printf(b, "%s\"%s\":%llu", k ? "," : "", stats_skip_name((enum stats_skip)k),
                   (unsigned long long)s->totals_skipped[k]);
    buf_puts(b, "}},");

    const struct stats_endpoint **eps = xcalloc(s->neps + 1, sizeof(*eps));
    for (size_t i = 0; i < s->neps; i++)
        eps[i] = &s->eps[i];
    qsort(eps, s->neps, sizeof(*eps), cmp_endpoint);

    /* Regressions are listed after the endpoints; collect them as we go. */
    struct buf regs = {0};
    size_t nregs = 0;
    uint64_t max_compared = 0;
    buf_puts(b, "\"endpoints\":[");
    for (size_t i = 0; i < s->neps; i++) {
        const struct stats_endpoint *e = eps[i];
        if (e->compared > max_compared)
            max_compared = e->compared;
        buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        write_str(b, e->name);
        buf_printf(b, ",\"received\":%llu,\"sampled\":%llu,\"compared\":%llu,\"skipped\":{",
                   (unsigned long long)e->received, (unsigned long long)e->sampled,
                   (unsigned long long)e->compared);
        for (int k = 0; k < STATS_SKIPS; k++)
            buf_printf(b, "%s\"%s\":%llu", k ? "," : "", stats_skip_name((enum stats_skip)k),
                       (unsigned long long)e->skipped[k]);
        buf_printf(b, "},\"differing\":{\"raw\":%llu,\"noise\":%llu},\"fields\":[",
                   (unsigned long long)e->differing_raw, (unsigned long long)e->differing_noise);
        struct field_view *fv = xcalloc(e->nfields + 1, sizeof(*fv));
        for (size_t k = 0; k < e->nfields; k++) {
            fv[k].f = &e->fields[k];
            fv[k].r = regress_field(e->fields[k].raw, e->fields[k].noise, e->compared, &t);
        }
        qsort(fv, e->nfields, sizeof(*fv), cmp_field);
        for (size_t k = 0; k < e->nfields; k++) {
            if (k)
                buf_puts(b, ",");
            write_field(b, &fv[k]);
            if (!fv[k].r.regression)
                continue;
            buf_puts(&regs, nregs++ ? ",{\"endpoint\":" : "{\"endpoint\":");
            write_str(&regs, e->name);
            buf_puts(&regs, ",\"type\":\"field\",\"path\":");
            write_str(&regs, fv[k].f->path);
            buf_printf(&regs,
                       ",\"raw\":%llu,\"noise\":%llu,\"compared\":%llu,\"relative\":%.4f,"
                       "\"absolute\":%.4f,\"detail\":\"differs in %llu of %llu compared trials "
                       "(noise %llu): relative %.1f%% > %g%%, absolute %.2f%% > %g%%\"}",
                       (unsigned long long)fv[k].f->raw, (unsigned long long)fv[k].f->noise,
                       (unsigned long long)e->compared, fv[k].r.relative, fv[k].r.absolute,
                       (unsigned long long)fv[k].f->raw, (unsigned long long)e->compared,
                       (unsigned long long)fv[k].f->noise, fv[k].r.relative, t.relative,
                       fv[k].r.absolute, t.absolute);
        }
        free(fv);
        buf_printf(b, "],\"fields_dropped\":%llu", (unsigned long long)e->fields_dropped);
        write_latency(b, e);
        struct latency_view lv = latency_rule(e, &t);
        bool lat_reg = lv.q50.regression || lv.q99.regression;
        buf_printf(b, ",\"latency_regression\":%s,\"status\":{", lat_reg ? "true" : "false");
        for (int r = 0; r < ROLE_COUNT; r++) {
            buf_printf(b, "%s\"%s\":{", r ? "," : "", role_name(r));
            for (int c = 0; c < STATUS_CLASSES; c++)
                buf_printf(b, "%s\"%s\":%llu", c ? "," : "",
                           status_class_name((enum status_class)c),
                           (unsigned long long)e->status[r][c]);
            buf_puts(b, "}");
        }
        buf_puts(b, "}}");
        const struct regress_latency_result *q[2] = {&lv.q50, &lv.q99};
        const char *qn[2] = {"p50", "p99"};
        for (int k = 0; k < 2; k++) {
            if (!q[k]->regression)
                continue;
            buf_puts(&regs, nregs++ ? ",{\"endpoint\":" : "{\"endpoint\":");
            write_str(&regs, e->name);
            buf_printf(&regs,
                       ",\"type\":\"latency\",\"quantile\":\"%s\",\"candidate_ms\":%.3f,"
                       "\"baseline_ms\":%.3f,\"detail\":\"candidate %s at least %.1f ms vs "
                       "baseline at most %.1f ms over %llu trials (factor %g, min %g ms)\"}",
                       qn[k], q[k]->candidate_ms, q[k]->baseline_ms, qn[k], q[k]->candidate_ms,
                       q[k]->baseline_ms, (unsigned long long)e->compared, t.latency_factor,
                       t.latency_min_ms);
        }
    }
    free(eps);
    buf_puts(b, "],\"rules\":[");
    size_t nrules = rules ? rules_rule_count(rules) : 0;
    for (size_t i = 0; i < nrules; i++) {
        struct rules_rule_info ri;
        rules_rule_info(rules, i, &ri);
        buf_puts(b, i ? ",{\"file\":" : "{\"file\":");
        write_str(b, ri.file);
        buf_printf(b, ",\"line\":%u,\"text\":", ri.line);
        write_str(b, ri.text);
        buf_printf(b, ",\"matched\":%llu}", (unsigned long long)ri.matched);
    }
    buf_puts(b, "],\"regressions\":[");
    if (regs.len)
        buf_append(b, regs.data, regs.len);
    buf_free(&regs);
    enum regress_verdict v = regress_verdict_of(nregs, max_compared, t.min_compared);
    buf_printf(b, "],\"verdict\":\"%s\"}\n", regress_verdict_name(v));
}
