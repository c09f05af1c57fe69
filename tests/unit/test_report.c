/* Unit tests for reports/report: parsing and its error messages, merge == report of
 * the combined counts, recomputation of derived values, JSON round trip, gates and
 * the exit codes of `diffd check` on files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "util.h"
#include "../../reports/report.h"

/* ---- a model of the counters behind a report -------------------------------------- */

#define M_EPS 2
#define M_FIELDS 2
#define M_B0 200 /* histogram buckets M_B0 .. M_B0+M_NB-1: about 2.6 .. 20 ms */
#define M_NB 52

struct m_field {
    bool present;
    uint64_t raw, noise, k_value, k_missing, n_value;
    const char *sample;
};

struct m_endpoint {
    bool present;
    uint64_t received, sampled, compared, skipped[3], draw, dnoise, dropped;
    struct m_field f[M_FIELDS];
    uint64_t hist[3][M_NB];
    uint64_t status[3][5];
};

struct model {
    uint64_t received, sampled, compared, skipped[3];
    struct m_endpoint e[M_EPS];
    bool rule_present[2];
    uint64_t rule_matched[2];
};

static const char *const ep_names[M_EPS] = {"GET /users/:id", "POST /search <b>|\"x\""};
static const char *const field_paths[M_FIELDS] = {"$.user.name", "header.x-version"};
static const char *const legs[3] = {"primary", "secondary", "candidate"};
static const char *const classes[5] = {"2xx", "3xx", "4xx", "5xx", "error"};

static void json_counts_hist(struct buf *b, const struct m_endpoint *e)
{
    buf_puts(b, "\"latency_histogram\":{");
    for (int l = 0; l < 3; l++) {
        buf_printf(b, "%s\"%s\":[", l ? "," : "", legs[l]);
        bool first = true;
        for (int k = 0; k < M_NB; k++) {
            if (!e->hist[l][k])
                continue;
            buf_printf(b, "%s[%d,%llu]", first ? "" : ",", M_B0 + k,
                       (unsigned long long)e->hist[l][k]);
            first = false;
        }
        buf_puts(b, "]");
    }
    buf_puts(b, "},\"status\":{");
    for (int l = 0; l < 3; l++) {
        buf_printf(b, "%s\"%s\":{", l ? "," : "", legs[l]);
        for (int c = 0; c < 5; c++)
            buf_printf(b, "%s\"%s\":%llu", c ? "," : "", classes[c],
                       (unsigned long long)e->status[l][c]);
        buf_puts(b, "}");
    }
    buf_puts(b, "}");
}

/* The JSON a diffd holding exactly these counters would serve. samples2 (may be
 * NULL) lists a second sample id per field, for the combined model. Derived values
 * are deliberately wrong: they must be recomputed. */
static char *model_json(const struct model *m, const struct model *samples2)
{
    struct buf b = {0};
    buf_puts(&b, "{\"diffd\":\"0.1.0\",\"generated_at\":\"2026-11-22T10:00:00Z\","
                 "\"backends\":{\"primary\":\"http://p\",\"secondary\":\"http://s\","
                 "\"candidate\":\"http://c\"},\"noise_subtraction\":true,"
                 "\"thresholds\":{\"relative\":20,\"absolute\":0.03,\"latency_factor\":1.5,"
                 "\"latency_min_ms\":5,\"min_compared\":10},"
                 "\"histogram\":{\"unit\":\"us\",\"growth\":1.04},");
    buf_printf(&b,
               "\"totals\":{\"received\":%llu,\"sampled\":%llu,\"compared\":%llu,\"skipped\":{"
               "\"side_effect\":%llu,\"overload\":%llu,\"rule\":%llu}},\"endpoints\":[",
               (unsigned long long)m->received, (unsigned long long)m->sampled,
               (unsigned long long)m->compared, (unsigned long long)m->skipped[0],
               (unsigned long long)m->skipped[1], (unsigned long long)m->skipped[2]);
    bool first_ep = true;
    for (int i = 0; i < M_EPS; i++) {
        const struct m_endpoint *e = &m->e[i];
        if (!e->present)
            continue;
        struct buf name = {0};
        buf_json_string(&name, ep_names[i], strlen(ep_names[i]));
        buf_printf(&b,
                   "%s{\"name\":%s,\"received\":%llu,\"sampled\":%llu,\"compared\":%llu,"
                   "\"skipped\":{\"side_effect\":%llu,\"overload\":%llu,\"rule\":%llu},"
                   "\"differing\":{\"raw\":%llu,\"noise\":%llu},\"fields_dropped\":%llu,"
                   "\"latency_regression\":true,\"latency_ms\":{},\"fields\":[",
                   first_ep ? "" : ",", name.data, (unsigned long long)e->received,
                   (unsigned long long)e->sampled, (unsigned long long)e->compared,
                   (unsigned long long)e->skipped[0], (unsigned long long)e->skipped[1],
                   (unsigned long long)e->skipped[2], (unsigned long long)e->draw,
                   (unsigned long long)e->dnoise, (unsigned long long)e->dropped);
        buf_free(&name);
        first_ep = false;
        bool first_f = true;
        for (int k = 0; k < M_FIELDS; k++) {
            const struct m_field *f = &e->f[k];
            if (!f->present)
                continue;
            buf_printf(&b,
                       "%s{\"path\":\"%s\",\"raw\":%llu,\"noise\":%llu,\"relative\":99,"
                       "\"absolute\":99,\"regression\":true,\"kinds\":{\"value\":%llu,"
                       "\"missing\":%llu},\"noise_kinds\":{\"value\":%llu},\"samples\":[",
                       first_f ? "" : ",", field_paths[k], (unsigned long long)f->raw,
                       (unsigned long long)f->noise, (unsigned long long)f->k_value,
                       (unsigned long long)f->k_missing, (unsigned long long)f->n_value);
            first_f = false;
            bool first_s = true;
            if (f->sample) {
                buf_printf(&b, "\"%s\"", f->sample);
                first_s = false;
            }
            if (samples2 && samples2->e[i].f[k].sample)
                buf_printf(&b, "%s\"%s\"", first_s ? "" : ",", samples2->e[i].f[k].sample);
            buf_puts(&b, "]}");
        }
        buf_puts(&b, "],");
        json_counts_hist(&b, e);
        buf_puts(&b, "}");
    }
    buf_puts(&b, "],\"rules\":[");
    bool first_r = true;
    for (int r = 0; r < 2; r++) {
        if (!m->rule_present[r])
            continue;
        buf_printf(&b,
                   "%s{\"file\":\"rules/default.rules\",\"line\":%d,\"text\":\"rule %d\","
                   "\"matched\":%llu}",
                   first_r ? "" : ",", 3 + r, r, (unsigned long long)m->rule_matched[r]);
        first_r = false;
    }
    buf_puts(&b, "],\"regressions\":[],\"verdict\":\"pass\"}");
    return buf_steal(&b);
}

static uint64_t lcg_state;

static uint64_t rnd(uint64_t n)
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (lcg_state >> 33) % n;
}

/* Fills a model: endpoint 0 always, endpoint 1 when `second`; latencies with the
 * candidate about 3x slower in endpoint 0 so that enough trials show it. */
static void model_fill(struct model *m, uint64_t seed, bool second, const char *sample)
{
    memset(m, 0, sizeof(*m));
    lcg_state = seed;
    for (int i = 0; i < M_EPS; i++) {
        struct m_endpoint *e = &m->e[i];
        if (i == 1 && !second)
            continue;
        e->present = true;
        e->compared = 8; /* below min_compared alone, above it merged */
        e->sampled = e->compared + rnd(3);
        e->received = e->sampled + rnd(5);
        for (int s = 0; s < 3; s++)
            e->skipped[s] = rnd(4);
        e->dropped = rnd(2);
        for (int k = 0; k < M_FIELDS; k++) {
            struct m_field *f = &e->f[k];
            /* the first field of endpoint 0 differs in every trial, no noise */
            f->present = i == 0 || k == 1;
            if (!f->present)
                continue;
            f->raw = i == 0 && k == 0 ? e->compared : rnd(3);
            f->noise = i == 0 && k == 0 ? 0 : rnd(3);
            f->k_value = f->raw;
            f->k_missing = rnd(2);
            f->n_value = f->noise;
            f->sample = sample;
        }
        e->draw = e->f[0].raw;
        e->dnoise = e->f[1].noise;
        for (int l = 0; l < 3; l++) {
            for (uint64_t t = 0; t < e->compared; t++) {
                int b = (int)rnd(10) + (l == 2 && i == 0 ? 40 : 0); /* x1.04^40 = 4.8 */
                e->hist[l][b]++;
            }
            for (int c = 0; c < 5; c++)
                e->status[l][c] = rnd(4);
        }
        m->received += e->received;
        m->sampled += e->sampled;
        m->compared += e->compared;
    }
    m->skipped[0] = rnd(9);
    m->rule_present[0] = true;
    m->rule_matched[0] = rnd(100);
    m->rule_present[1] = second;
    m->rule_matched[1] = second ? rnd(100) : 0;
}

static void model_add(struct model *into, const struct model *from)
{
    into->received += from->received;
    into->sampled += from->sampled;
    into->compared += from->compared;
    for (int s = 0; s < 3; s++)
        into->skipped[s] += from->skipped[s];
    for (int r = 0; r < 2; r++) {
        into->rule_present[r] = into->rule_present[r] || from->rule_present[r];
        into->rule_matched[r] += from->rule_matched[r];
    }
    for (int i = 0; i < M_EPS; i++) {
        struct m_endpoint *e = &into->e[i];
        const struct m_endpoint *f = &from->e[i];
        e->present = e->present || f->present;
        e->received += f->received;
        e->sampled += f->sampled;
        e->compared += f->compared;
        for (int s = 0; s < 3; s++)
            e->skipped[s] += f->skipped[s];
        e->draw += f->draw;
        e->dnoise += f->dnoise;
        e->dropped += f->dropped;
        for (int k = 0; k < M_FIELDS; k++) {
            struct m_field *a = &e->f[k];
            const struct m_field *b = &f->f[k];
            if (!a->present && b->present)
                a->sample = NULL;
            a->present = a->present || b->present;
            a->raw += b->raw;
            a->noise += b->noise;
            a->k_value += b->k_value;
            a->k_missing += b->k_missing;
            a->n_value += b->n_value;
        }
        for (int l = 0; l < 3; l++) {
            for (int k = 0; k < M_NB; k++)
                e->hist[l][k] += f->hist[l][k];
            for (int c = 0; c < 5; c++)
                e->status[l][c] += f->status[l][c];
        }
    }
}

static struct report *parse_ok(const char *json)
{
    char err[512] = "";
    struct report *r = report_parse(json, strlen(json), "test.json", err, sizeof(err));
    if (!r)
        fail_msg("parse failed: %s", err);
    return r;
}

static char *to_json(const struct report *r)
{
    struct buf b = {0};
    report_to_json(r, &b);
    return buf_steal(&b);
}

static struct model ma, mb, mc, mc_samples;

static void test_merge_equals_combined(void **state)
{
    (void)state;
    model_fill(&ma, 1, false, "t-a");
    model_fill(&mb, 2, true, "t-b");
    mc = ma;
    model_add(&mc, &mb);
    /* The combined report lists the field's samples of both parts. */
    memset(&mc_samples, 0, sizeof(mc_samples));
    for (int i = 0; i < M_EPS; i++)
        for (int k = 0; k < M_FIELDS; k++) {
            if (ma.e[i].f[k].present) {
                mc.e[i].f[k].sample = "t-a";
                mc_samples.e[i].f[k].sample = mb.e[i].f[k].present ? "t-b" : NULL;
            } else {
                mc.e[i].f[k].sample = mb.e[i].f[k].present ? "t-b" : NULL;
            }
        }

    char *ja = model_json(&ma, NULL), *jb = model_json(&mb, NULL);
    char *jc = model_json(&mc, &mc_samples);
    struct report *a = parse_ok(ja), *b = parse_ok(jb), *c = parse_ok(jc);

    /* Alone, neither part has enough trials to show anything. */
    report_recompute(a);
    report_recompute(b);
    assert_int_equal(a->verdict, REGRESS_INSUFFICIENT);
    assert_int_equal(b->verdict, REGRESS_INSUFFICIENT);
    assert_int_equal(a->nregressions, 0);

    report_merge(a, b);
    report_recompute(a);
    report_recompute(c);
    char *merged = to_json(a), *combined = to_json(c);
    assert_string_equal(merged, combined);

    /* Merged, the always-different field and the 4.8x slower candidate show. */
    assert_int_equal(a->verdict, REGRESS_FAIL);
    bool field = false, latency = false;
    for (size_t i = 0; i < a->nregressions; i++) {
        const struct report_regression *g = &a->regressions[i];
        if (g->type == REPORT_REG_FIELD && strcmp(g->path, "$.user.name") == 0)
            field = g->raw == 16 && g->compared == 16;
        if (g->type == REPORT_REG_LATENCY && strcmp(g->quantile, "p50") == 0)
            latency = strcmp(g->endpoint, "GET /users/:id") == 0;
    }
    assert_true(field);
    assert_true(latency);
    assert_int_equal(a->nendpoints, 2);
    assert_int_equal(a->nrules, 2);
    assert_int_equal(a->rules[0].matched, ma.rule_matched[0] + mb.rule_matched[0]);

    free(merged);
    free(combined);
    report_free(a);
    report_free(b);
    report_free(c);
    free(ja);
    free(jb);
    free(jc);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    model_fill(&ma, 7, true, "t-1");
    char *j = model_json(&ma, NULL);
    struct report *r = parse_ok(j);
    report_recompute(r);
    char *once = to_json(r);
    struct report *r2 = parse_ok(once);
    report_recompute(r2);
    char *twice = to_json(r2);
    assert_string_equal(once, twice);
    free(j);
    free(once);
    free(twice);
    report_free(r);
    report_free(r2);
}

/* ---- parse errors ---- */

struct perr_case {
    const char *json;
    const char *want; /* substring of the message */
};

static const struct perr_case perr_cases[] = {
    {"", "test.json: empty file"},
    {"{\n  \"endpoints\": [1,]\n}", "test.json:2:"},
    {"{\"endpoints\": [] } trailing", "invalid JSON"},
    {"[]", "test.json: not a diffd report (expected a JSON object)"},
    {"{}", "no \"endpoints\" array"},
    {"{\"endpoints\":[{\"name\":\"a\",\"compared\":-1}]}",
     "test.json: endpoints[0].compared: expected a non-negative integer"},
    {"{\"endpoints\":[{\"name\":\"a\",\"compared\":1.5}]}", "endpoints[0].compared: expected"},
    {"{\"endpoints\":[{\"compared\":1}]}", "endpoints[0].name: expected a non-empty string"},
    {"{\"endpoints\":[{\"name\":\"a\",\"fields\":[{\"path\":\"$.x\",\"raw\":\"3\"}]}]}",
     "endpoints[0].fields[0].raw: expected a non-negative integer"},
    {"{\"endpoints\":[{\"name\":\"a\",\"fields\":{}}]}", "endpoints[0].fields: expected an array"},
    {"{\"endpoints\":[{\"name\":\"a\",\"latency_histogram\":{\"primary\":[[5000,1]]}}]}",
     "endpoints[0].latency_histogram.primary[0]: bucket out of range"},
    {"{\"endpoints\":[{\"name\":\"a\",\"latency_histogram\":{\"primary\":[[5]]}}]}",
     "a [bucket, count] pair"},
    {"{\"endpoints\":[],\"histogram\":{\"growth\":1.05}}", "histogram.growth: only 1.04"},
    {"{\"endpoints\":[],\"thresholds\":{\"relative\":\"x\"}}",
     "thresholds.relative: expected a non-negative number"},
    {"{\"endpoints\":[],\"rules\":{}}", "rules: expected an array"},
    {"{\"endpoints\":[{\"name\":\"a\",\"status\":{\"primary\":{\"2xx\":true}}}]}",
     "endpoints[0].status.primary.2xx: expected a non-negative integer"},
};

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(perr_cases) / sizeof(perr_cases[0]); i++) {
        char err[512] = "";
        const char *j = perr_cases[i].json;
        struct report *r = report_parse(j, strlen(j), "test.json", err, sizeof(err));
        if (r) {
            report_free(r);
            fail_msg("case %zu: parsed, want an error containing \"%s\"", i, perr_cases[i].want);
        }
        if (!strstr(err, perr_cases[i].want))
            fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, perr_cases[i].want);
    }
}

static void test_load_missing_file(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(report_load_file("/nonexistent/r.json", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/r.json: "));
}

/* ---- gates ---- */

/* One endpoint with `compared` trials, a field with raw/noise, and latencies of
 * p_us for primary and secondary and c_us for the candidate. */
static char *gate_report(uint64_t compared, uint64_t raw, uint64_t noise, int p_bucket,
                         int c_bucket)
{
    return xasprintf("{\"endpoints\":[{\"name\":\"GET /a\",\"compared\":%llu,"
                     "\"fields\":[{\"path\":\"$.a\",\"raw\":%llu,\"noise\":%llu}],"
                     "\"latency_histogram\":{\"primary\":[[%d,%llu]],\"secondary\":[[%d,%llu]],"
                     "\"candidate\":[[%d,%llu]]}}]}",
                     (unsigned long long)compared, (unsigned long long)raw,
                     (unsigned long long)noise, p_bucket, (unsigned long long)compared, p_bucket,
                     (unsigned long long)compared, c_bucket, (unsigned long long)compared);
}

enum { R_PASS, R_FIELD, R_LATENCY, R_BOTH, R_FEW };

struct gate_case {
    int rep;
    uint64_t max;
    bool field, latency, allow;
    int want;
};

static const struct gate_case gate_cases[] = {
    {R_PASS, 0, true, true, false, 0},    {R_FIELD, 0, true, true, false, 1},
    {R_LATENCY, 0, true, true, false, 1}, {R_BOTH, 0, true, true, false, 1},
    {R_BOTH, 2, true, true, false, 1},    {R_BOTH, 3, true, true, false, 0},
    {R_FIELD, 0, false, true, false, 0},  {R_LATENCY, 0, true, false, false, 0},
    {R_BOTH, 0, true, false, false, 1},   {R_BOTH, 1, true, false, false, 0},
    {R_FEW, 0, true, true, false, 1},     {R_FEW, 0, true, true, true, 0},
    {R_FEW, 5, true, true, false, 1},
};

static void test_gates(void **state)
{
    (void)state;
    /* bucket 235 ~ 10 ms, 263 ~ 30 ms */
    char *docs[] = {gate_report(1000, 0, 0, 235, 235), gate_report(1000, 50, 0, 235, 235),
                    gate_report(1000, 0, 0, 235, 263), gate_report(1000, 50, 0, 235, 263),
                    gate_report(5, 5, 0, 235, 263)};
    struct report *reps[5];
    for (int i = 0; i < 5; i++) {
        reps[i] = parse_ok(docs[i]);
        report_recompute(reps[i]);
    }
    assert_int_equal(reps[R_PASS]->verdict, REGRESS_PASS);
    assert_int_equal(reps[R_FIELD]->nregressions, 1);
    assert_int_equal(reps[R_LATENCY]->nregressions, 2); /* p50 and p99 */
    assert_int_equal(reps[R_FEW]->verdict, REGRESS_INSUFFICIENT);
    for (size_t i = 0; i < sizeof(gate_cases) / sizeof(gate_cases[0]); i++) {
        const struct gate_case *c = &gate_cases[i];
        struct report_gates g;
        report_gates_default(&g);
        g.max_regressions = c->max;
        g.fail_on_field = c->field;
        g.fail_on_latency = c->latency;
        g.allow_insufficient = c->allow;
        char why[256];
        int rc = report_gate(reps[c->rep], &g, why, sizeof(why));
        if (rc != c->want)
            fail_msg("gate case %zu: %d (%s), want %d", i, rc, why, c->want);
    }
    for (int i = 0; i < 5; i++) {
        report_free(reps[i]);
        free(docs[i]);
    }
}

/* ---- `diffd check` on files ---- */

static char tmpdir[64];

static char *write_tmp(const char *name, const char *content)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static int run_check(const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
    const char *args[] = {"check", a1, a2, a3, a4, a5};
    char *argv[7] = {0};
    int argc = 0;
    for (size_t i = 0; i < 6 && args[i]; i++)
        argv[argc++] = (char *)args[i];
    /* Keep the test output readable: the table goes to /dev/null. */
    fflush(stdout);
    int saved = dup(1);
    FILE *null = fopen("/dev/null", "w");
    dup2(fileno(null), 1);
    int rc = check_main(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(null);
    return rc;
}

static void test_check_exit_codes(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/diffd-test-report-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    char *dpass = gate_report(1000, 0, 0, 235, 235), *dfail = gate_report(1000, 50, 0, 235, 235);
    char *pass = write_tmp("pass.json", dpass), *fail = write_tmp("fail.json", dfail);
    char *bad = write_tmp("bad.json", "{\"endpoints\": [");
    char *out = xasprintf("%s/merged.json", tmpdir);

    assert_int_equal(run_check("--report", pass, NULL, NULL, NULL), 0);
    assert_int_equal(run_check("--report", fail, NULL, NULL, NULL), 1);
    assert_int_equal(run_check("--report", fail, "--max-regressions", "1", NULL), 0);
    assert_int_equal(run_check("--report", fail, "--fail-on", "latency", NULL), 0);
    assert_int_equal(run_check("--report", pass, "--report", fail, NULL), 1);
    assert_int_equal(run_check("--report", pass, "--min-compared", "5000", NULL), 1);
    assert_int_equal(run_check("--report", pass, "--min-compared", "5000", "--allow-insufficient"),
                     0);
    assert_int_equal(run_check("--report", bad, NULL, NULL, NULL), 2);
    assert_int_equal(run_check("--report", "/nonexistent.json", NULL, NULL, NULL), 2);
    assert_int_equal(run_check("--report", pass, "--json", "/nonexistent/dir/x.json", NULL), 2);
    assert_int_equal(run_check("--report", pass, "--fail-on", "speed", NULL), 2);
    assert_int_equal(run_check("--report", pass, "--bogus", NULL, NULL), 2);
    assert_int_equal(run_check(NULL, NULL, NULL, NULL, NULL), 2);

    /* --json writes the merged report: two copies of the failing one add up. */
    assert_int_equal(run_check("--report", fail, "--report", fail, "--json"), 2); /* no value */
    const char *argv2[] = {"check", "--report", fail, "--report", fail, "--json", out};
    fflush(stdout);
    int saved = dup(1);
    FILE *null = fopen("/dev/null", "w");
    dup2(fileno(null), 1);
    int rc = check_main(7, (char **)argv2);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(null);
    assert_int_equal(rc, 1);
    char err[512];
    struct report *m = report_load_file(out, err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(m->endpoints[0].compared, 2000);
    assert_int_equal(m->endpoints[0].fields[0].raw, 100);
    assert_int_equal(m->verdict, REGRESS_FAIL);
    report_free(m);

    unlink(pass);
    unlink(fail);
    unlink(bad);
    unlink(out);
    rmdir(tmpdir);
    free(pass);
    free(fail);
    free(bad);
    free(out);
    free(dpass);
    free(dfail);
}

/* ---- escaping ---- */

struct esc_case {
    const char *in, *want;
};

static const struct esc_case esc_cases[] = {
    {"plain", "plain"},
    {"<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"},
    {"</script>", "&lt;/script&gt;"},
    {"a&b \"q\" 'r'", "a&amp;b &quot;q&quot; &#39;r&#39;"},
    {"caf\xC3\xA9", "caf\xC3\xA9"},
    {"bad\xFF\xC3(", "bad\xEF\xBF\xBD\xEF\xBF\xBD("},
    {"ctl\x01\x1B[31m", "ctl\xEF\xBF\xBD\xEF\xBF\xBD[31m"},
    {"two\nlines\tx", "two&#10;lines&#9;x"},
};

static void test_xml_escape(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(esc_cases) / sizeof(esc_cases[0]); i++) {
        struct buf b = {0};
        report_xml_escape(&b, esc_cases[i].in);
        assert_string_equal(b.data ? b.data : "", esc_cases[i].want);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merge_equals_combined),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_gates),
        cmocka_unit_test(test_check_exit_codes),
        cmocka_unit_test(test_xml_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
