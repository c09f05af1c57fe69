/* Unit tests for diffd/regress: Diffy's field rule (worked cases, strict
 * thresholds), histogram buckets and quantiles, the rank-bound latency rule and the
 * verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>

#include "regress.h"

/* ---- field rule ---- */

struct field_case {
    const char *what;
    uint64_t compared, raw, noise;
    bool regression;
};

static const struct field_case field_cases[] = {
    {"Diffy: noise explains the differences", 1000, 50, 45, false},
    {"Diffy: no noise, 5% of trials differ", 1000, 50, 0, true},
    {"relative exactly 20% is not > 20%", 1000, 60, 40, false},
    {"relative just above 20%", 1000, 61, 40, true},
    {"absolute exactly 0.03% is not > 0.03%", 10000, 3, 0, false},
    {"absolute just above 0.03%", 10000, 4, 0, true},
    {"raw equal to noise", 1000, 30, 30, false},
    {"raw below noise", 1000, 10, 30, false},
    {"below min_compared", 9, 9, 0, false},
    {"at min_compared", 10, 9, 0, true},
    {"nothing compared", 0, 0, 0, false},
};

static void test_field_rule(void **state)
{
    (void)state;
    struct regress_thresholds t;
    regress_thresholds_default(&t);
    for (size_t i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
        const struct field_case *c = &field_cases[i];
        struct regress_field_result r = regress_field(c->raw, c->noise, c->compared, &t);
        if (r.regression != c->regression)
            fail_msg("%s (compared %llu raw %llu noise %llu): regression %d, want %d", c->what,
                     (unsigned long long)c->compared, (unsigned long long)c->raw,
                     (unsigned long long)c->noise, r.regression, c->regression);
    }
}

static void test_field_figures(void **state)
{
    (void)state;
    struct regress_thresholds t;
    regress_thresholds_default(&t);
    struct regress_field_result r = regress_field(50, 45, 1000, &t);
    assert_true(fabs(r.relative - 500.0 / 95.0) < 1e-9);
    assert_true(fabs(r.absolute - 0.5) < 1e-9);
    r = regress_field(50, 0, 1000, &t);
    assert_true(r.relative == 100.0);
    assert_true(r.absolute == 5.0);
    r = regress_field(10, 30, 1000, &t);
    assert_true(r.relative == 0 && r.absolute == 0);
    /* Thresholds are read, not hard-coded. */
    t.relative = 90;
    r = regress_field(50, 1, 1000, &t); /* relative 96% */
    assert_true(r.regression);
    t.relative = 97;
    r = regress_field(50, 1, 1000, &t);
    assert_false(r.regression);
}

/* ---- histograms ---- */

static void test_buckets(void **state)
{
    (void)state;
    assert_int_equal(regress_bucket_of(0), 0);
    assert_int_equal(regress_bucket_of(1), 1); /* [1, 1.04) */
    assert_true(regress_bucket_value_us(0) == 0);
    /* Every value lies in [1.04^(b-1), 1.04^b) of its bucket, and the representative
     * is within 2% of it. */
    for (double v = 1; v < 5e9; v = v * 1.013 + 1) {
        uint64_t us = (uint64_t)v;
        size_t b = regress_bucket_of(us);
        double lo = pow(REGRESS_GROWTH, (double)b - 1), hi = pow(REGRESS_GROWTH, (double)b);
        if (!((double)us >= lo * (1 - 1e-12) && (double)us < hi * (1 + 1e-12)))
            fail_msg("%llu us in bucket %zu [%g, %g)", (unsigned long long)us, b, lo, hi);
        double rep = regress_bucket_value_us(b);
        if (fabs(rep - (double)us) / (double)us > 0.0200)
            fail_msg("%llu us: representative %g is more than 2%% off", (unsigned long long)us,
                     rep);
    }
    /* Monotone. */
    size_t prev = 0;
    for (uint64_t us = 0; us < 100000; us += 7) {
        size_t b = regress_bucket_of(us);
        assert_true(b >= prev);
        prev = b;
    }
    assert_int_equal(regress_bucket_of(UINT64_MAX), REGRESS_BUCKETS - 1);
}

static uint64_t hist_a[REGRESS_BUCKETS], hist_b[REGRESS_BUCKETS], hist_c[REGRESS_BUCKETS];

static void fill(uint64_t *h, uint64_t us, uint64_t count)
{
    h[regress_bucket_of(us)] += count;
}

static bool near(double got, double want_us)
{
    return fabs(got - want_us) <= want_us * 0.02 + 1e-9;
}

static void test_ranks_and_quantiles(void **state)
{
    (void)state;
    memset(hist_a, 0, sizeof(hist_a));
    assert_true(regress_hist_rank_us(hist_a, REGRESS_BUCKETS, 1) == 0);
    assert_true(regress_hist_quantile_us(hist_a, REGRESS_BUCKETS, 0.5) == 0);
    /* 1..100 ms, one each. */
    for (uint64_t ms = 1; ms <= 100; ms++)
        fill(hist_a, ms * 1000, 1);
    assert_int_equal(regress_hist_total(hist_a, REGRESS_BUCKETS), 100);
    assert_true(near(regress_hist_rank_us(hist_a, REGRESS_BUCKETS, 1), 1000));
    assert_true(near(regress_hist_rank_us(hist_a, REGRESS_BUCKETS, 37), 37000));
    assert_true(near(regress_hist_rank_us(hist_a, REGRESS_BUCKETS, 0), 1000));     /* clamped */
    assert_true(near(regress_hist_rank_us(hist_a, REGRESS_BUCKETS, 500), 100000)); /* clamped */
    assert_true(near(regress_hist_quantile_us(hist_a, REGRESS_BUCKETS, 0.50), 50000));
    assert_true(near(regress_hist_quantile_us(hist_a, REGRESS_BUCKETS, 0.90), 90000));
    assert_true(near(regress_hist_quantile_us(hist_a, REGRESS_BUCKETS, 0.99), 99000));
    assert_true(near(regress_hist_quantile_us(hist_a, REGRESS_BUCKETS, 0.0), 1000));
    /* A shorter array is a histogram too (sparse reports give exactly what they need). */
    size_t len = regress_bucket_of(100000) + 1;
    assert_true(near(regress_hist_quantile_us(hist_a, len, 0.99), 99000));
}

/* ---- latency rule ---- */

struct lat_case {
    const char *what;
    uint64_t n; /* compared trials = values per leg */
    double q;
    uint64_t p_us, s_us, c_us; /* every value of a leg (s_us 0: no secondary) */
    uint64_t c_outliers;       /* candidate values replaced by 1 s outliers */
    uint64_t min_compared;
    bool regression, evaluable;
};

static const struct lat_case lat_cases[] = {
    {"p50 3x slower", 1000, 0.5, 10000, 10000, 30000, 0, 10, true, true},
    {"p99 3x slower", 1000, 0.99, 10000, 10000, 30000, 0, 10, true, true},
    {"same speed", 1000, 0.5, 10000, 10000, 10000, 0, 10, false, true},
    {"factor not reached: 1.4x", 1000, 0.5, 20000, 20000, 28000, 0, 10, false, true},
    {"margin not reached: 2x but +2 ms", 1000, 0.5, 2000, 2000, 4000, 0, 10, false, true},
    {"secondary as slow as candidate: noise", 1000, 0.5, 10000, 30000, 30000, 0, 10, false, true},
    {"no secondary", 1000, 0.5, 10000, 0, 30000, 0, 10, true, true},
    {"below min_compared", 9, 0.5, 10000, 10000, 90000, 0, 10, false, false},
    {"rank below 1: 5 trials at p50", 5, 0.5, 10000, 10000, 90000, 0, 1, false, false},
    {"p99 over 20 trials, one slow request", 20, 0.99, 10000, 10000, 10000, 1, 10, false, true},
    {"p99 over 1000 trials, 5 slow requests", 1000, 0.99, 10000, 10000, 10000, 5, 10, false, true},
    {"p99 over 1000 trials, 30 slow requests", 1000, 0.99, 10000, 10000, 10000, 30, 10, true, true},
    {"p50 over 1000 trials, 30 slow requests", 1000, 0.5, 10000, 10000, 10000, 30, 10, false, true},
};

static void test_latency_rule(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(lat_cases) / sizeof(lat_cases[0]); i++) {
        const struct lat_case *c = &lat_cases[i];
        memset(hist_a, 0, sizeof(hist_a));
        memset(hist_b, 0, sizeof(hist_b));
        memset(hist_c, 0, sizeof(hist_c));
        fill(hist_a, c->p_us, c->n);
        if (c->s_us)
            fill(hist_b, c->s_us, c->n);
        fill(hist_c, c->c_us, c->n - c->c_outliers);
        fill(hist_c, 1000000, c->c_outliers);
        struct regress_thresholds t;
        regress_thresholds_default(&t);
        t.min_compared = c->min_compared;
        struct regress_hist p = {hist_a, REGRESS_BUCKETS}, s = {hist_b, REGRESS_BUCKETS},
                            cand = {hist_c, REGRESS_BUCKETS};
        if (!c->s_us)
            s.n = 0;
        struct regress_latency_result r = regress_latency(c->n, c->q, p, s, cand, &t);
        if (r.regression != c->regression || r.evaluable != c->evaluable)
            fail_msg("%s: regression %d evaluable %d (cand %g ms base %g ms), want %d %d", c->what,
                     r.regression, r.evaluable, r.candidate_ms, r.baseline_ms, c->regression,
                     c->evaluable);
    }
}

/* The ranks themselves: n = 1000, q = 0.5 gives d = 36.84, so cand_lo is the value at
 * rank 463 and base_hi at rank 537. */
static void test_latency_ranks(void **state)
{
    (void)state;
    memset(hist_a, 0, sizeof(hist_a));
    memset(hist_c, 0, sizeof(hist_c));
    for (uint64_t k = 1; k <= 1000; k++) {
        fill(hist_a, k * 100, 1);  /* primary: 0.1 .. 100 ms */
        fill(hist_c, k * 1000, 1); /* candidate: 1 .. 1000 ms */
    }
    struct regress_thresholds t;
    regress_thresholds_default(&t);
    struct regress_hist p = {hist_a, REGRESS_BUCKETS}, none = {NULL, 0},
                        c = {hist_c, REGRESS_BUCKETS};
    struct regress_latency_result r = regress_latency(1000, 0.5, p, none, c, &t);
    assert_true(r.evaluable);
    assert_true(near(r.candidate_ms * 1000, 463000));
    assert_true(near(r.baseline_ms * 1000, 53700));
    assert_true(r.regression);
    /* p99: d = 2.33*sqrt(9.9) = 7.33 → ranks 982 and 998. */
    r = regress_latency(1000, 0.99, p, none, c, &t);
    assert_true(near(r.candidate_ms * 1000, 982000));
    assert_true(near(r.baseline_ms * 1000, 99800));
    /* 100 trials at p99: the upper rank passes n and reads the maximum. */
    memset(hist_a, 0, sizeof(hist_a));
    for (uint64_t k = 1; k <= 100; k++)
        fill(hist_a, k * 1000, 1);
    r = regress_latency(100, 0.99, p, none, p, &t);
    assert_true(near(r.baseline_ms * 1000, 100000));
}

/* ---- verdict ---- */

static void test_verdict(void **state)
{
    (void)state;
    assert_int_equal(regress_verdict_of(1, 0, 10), REGRESS_FAIL);
    assert_int_equal(regress_verdict_of(2, 1000, 10), REGRESS_FAIL);
    assert_int_equal(regress_verdict_of(0, 9, 10), REGRESS_INSUFFICIENT);
    assert_int_equal(regress_verdict_of(0, 0, 0), REGRESS_INSUFFICIENT);
    assert_int_equal(regress_verdict_of(0, 10, 10), REGRESS_PASS);
    for (int v = REGRESS_PASS; v <= REGRESS_INSUFFICIENT; v++) {
        enum regress_verdict back;
        assert_int_equal(regress_verdict_parse(regress_verdict_name(v), &back), 0);
        assert_int_equal(back, v);
    }
    enum regress_verdict x;
    assert_int_equal(regress_verdict_parse("passed", &x), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_rule),   cmocka_unit_test(test_field_figures),
        cmocka_unit_test(test_buckets),      cmocka_unit_test(test_ranks_and_quantiles),
        cmocka_unit_test(test_latency_rule), cmocka_unit_test(test_latency_ranks),
        cmocka_unit_test(test_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
