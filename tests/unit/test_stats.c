/* Statistics shards: histogram accuracy against exact quantiles, exact
 * merging, per-trial de-duplication and the memory bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "regress.h"
#include "stats.h"

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double unit(void)
{
    return (double)(rnd() >> 11) / (double)(1ull << 53);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double quantile_of(const struct stats_endpoint *e, int role, double q)
{
    uint64_t h[STATS_HIST_BUCKETS];
    for (int b = 0; b < STATS_HIST_BUCKETS; b++)
        h[b] = e->hist[role] ? e->hist[role][b] : 0;
    return regress_hist_quantile_us(h, STATS_HIST_BUCKETS, q);
}

/* Log-normal latencies from ~50 µs to seconds, plus a slow tail: every
 * reported quantile is within 2% of the exact nearest-rank value. */
static void test_histogram_accuracy(void **state)
{
    (void)state;
    enum { N = 100000 };
    static const double qs[] = {0.5, 0.9, 0.99, 0.999};
    for (int dist = 0; dist < 3; dist++) {
        struct stats *s = stats_new(10, 5);
        struct stats_endpoint *e = stats_endpoint(s, "GET /x");
        uint64_t *v = malloc(N * sizeof(*v));
        for (int i = 0; i < N; i++) {
            double x;
            if (dist == 0)
                x = exp(7.0 + 1.2 * (unit() + unit() + unit() - 1.5)); /* ~1 ms */
            else if (dist == 1)
                x = 200 + unit() * 300; /* narrow uniform */
            else
                x = unit() < 0.97 ? 2000 + unit() * 1000 : 200000 + unit() * 2e6; /* tail */
            v[i] = (uint64_t)x + 1;
            stats_leg(e, ROLE_CANDIDATE, 200, false, v[i]);
        }
        qsort(v, N, sizeof(*v), cmp_u64);
        for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
            size_t rank = (size_t)ceil(qs[k] * N);
            double exact = (double)v[rank - 1];
            double got = quantile_of(e, ROLE_CANDIDATE, qs[k]);
            double err = fabs(got - exact) / exact;
            if (err > 0.02)
                fail_msg("distribution %d q%.3f: exact %.0f us, histogram %.1f us (%.2f%%)", dist,
                         qs[k], exact, got, err * 100);
        }
        free(v);
        stats_free(s);
    }
}

/* Replays the same random trials into one shard and into three, merges the
 * three, and compares every number. */
static void record_random(struct stats *s, uint64_t seed, int trials)
{
    static const char *const eps[] = {"GET /a", "GET /b/:id", "POST /c", "GET /d"};
    static const char *const fields[] = {"status",      "$.x",   "$.items[*].price",
                                         "header.etag", "error", "$['odd key']"};
    rng_state = seed;
    for (int i = 0; i < trials; i++) {
        struct stats_endpoint *e = stats_endpoint(s, eps[rnd() % 4]);
        stats_count_received(s, e);
        if (rnd() % 10 == 0) {
            stats_count_skipped(s, e, (enum stats_skip)(rnd() % STATS_SKIPS));
            continue;
        }
        stats_count_sampled(s, e);
        stats_trial_begin(s, e);
        int ndiff = (int)(rnd() % 5);
        bool any_raw = false, any_noise = false;
        for (int d = 0; d < ndiff; d++) {
            bool noise = rnd() % 3 == 0;
            struct stats_field *f =
                stats_trial_diff(s, e, noise, fields[rnd() % 6], (int)(rnd() % STATS_KINDS));
            if (f && rnd() % 4 == 0) {
                char id[32];
                snprintf(id, sizeof(id), "t-%llx", (unsigned long long)(rnd() % 50));
                stats_field_add_sample(s, f, id);
            }
            any_raw |= !noise;
            any_noise |= noise;
        }
        stats_trial_end(s, e, any_raw, any_noise);
        for (int r = 0; r < ROLE_COUNT; r++) {
            bool failed = rnd() % 20 == 0;
            int status = (int)(200 + 100 * (rnd() % 4));
            stats_leg(e, r, status, failed, 100 + rnd() % 100000);
        }
    }
}

static void assert_endpoint_equal(const struct stats_endpoint *a, const struct stats_endpoint *b)
{
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->received, b->received);
    assert_int_equal(a->sampled, b->sampled);
    assert_int_equal(a->compared, b->compared);
    assert_memory_equal(a->skipped, b->skipped, sizeof(a->skipped));
    assert_int_equal(a->differing_raw, b->differing_raw);
    assert_int_equal(a->differing_noise, b->differing_noise);
    assert_int_equal(a->fields_dropped, b->fields_dropped);
    assert_memory_equal(a->status, b->status, sizeof(a->status));
    for (int r = 0; r < ROLE_COUNT; r++) {
        assert_true((a->hist[r] == NULL) == (b->hist[r] == NULL));
        if (a->hist[r])
            assert_memory_equal(a->hist[r], b->hist[r], STATS_HIST_BUCKETS * sizeof(uint32_t));
    }
    assert_int_equal(a->nfields, b->nfields);
    for (size_t i = 0; i < a->nfields; i++) {
        const struct stats_field *f = &a->fields[i];
        const struct stats_field *g = stats_find_field(b, f->path);
        assert_non_null(g);
        assert_int_equal(f->raw, g->raw);
        assert_int_equal(f->noise, g->noise);
        assert_memory_equal(f->kinds, g->kinds, sizeof(f->kinds));
        assert_memory_equal(f->noise_kinds, g->noise_kinds, sizeof(f->noise_kinds));
    }
}

static void test_merge_is_exact(void **state)
{
    (void)state;
    struct stats *whole = stats_new(100, 5);
    struct stats *parts[3];
    for (int k = 0; k < 3; k++) {
        parts[k] = stats_new(100, 5);
        record_random(parts[k], 1000 + (uint64_t)k, 3000);
        record_random(whole, 1000 + (uint64_t)k, 3000);
    }
    struct stats *merged = stats_new(100, 5);
    for (int k = 0; k < 3; k++)
        stats_merge(merged, parts[k]);
    assert_int_equal(merged->totals_received, whole->totals_received);
    assert_int_equal(merged->totals_sampled, whole->totals_sampled);
    assert_int_equal(merged->totals_compared, whole->totals_compared);
    assert_memory_equal(merged->totals_skipped, whole->totals_skipped,
                        sizeof(whole->totals_skipped));
    assert_int_equal(merged->neps, whole->neps);
    for (size_t i = 0; i < whole->neps; i++) {
        const struct stats_endpoint *m = stats_find_endpoint(merged, whole->eps[i].name);
        assert_non_null(m);
        assert_endpoint_equal(&whole->eps[i], m);
        for (size_t k = 0; k < m->nfields; k++)
            assert_true(m->fields[k].nsamples <= 5);
    }
    for (int k = 0; k < 3; k++)
        stats_free(parts[k]);
    stats_free(whole);
    stats_free(merged);
}

static void test_once_per_trial(void **state)
{
    (void)state;
    struct stats *s = stats_new(10, 5);
    struct stats_endpoint *e = stats_endpoint(s, "GET /items");
    for (int t = 0; t < 3; t++) {
        stats_trial_begin(s, e);
        /* $.items[0].price and $.items[7].price generalize to one field. */
        stats_trial_diff(s, e, false, "$.items[*].price", 0);
        stats_trial_diff(s, e, false, "$.items[*].price", 0);
        stats_trial_diff(s, e, false, "$.items[*].price", 2);
        stats_trial_diff(s, e, true, "$.items[*].price", 0);
        stats_trial_end(s, e, true, true);
    }
    struct stats_field *f = stats_find_field(e, "$.items[*].price");
    assert_non_null(f);
    assert_int_equal(f->raw, 3);
    assert_int_equal(f->noise, 3);
    assert_int_equal(f->kinds[0], 3);
    assert_int_equal(f->kinds[2], 3);
    assert_int_equal(f->noise_kinds[0], 3);
    assert_int_equal(e->compared, 3);
    assert_int_equal(e->differing_raw, 3);
    stats_free(s);
}

static void test_bounds(void **state)
{
    (void)state;
    struct stats *s = stats_new(3, 2);
    char name[32];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "GET /p%d", i);
        stats_count_received(s, stats_endpoint(s, name));
    }
    assert_int_equal(s->neps, 4); /* three named + OTHER */
    const struct stats_endpoint *other = stats_find_endpoint(s, STATS_OTHER);
    assert_non_null(other);
    assert_int_equal(other->received, 47);
    assert_int_equal(s->totals_received, 50);

    struct stats_endpoint *e = stats_endpoint(s, "GET /p0");
    stats_trial_begin(s, e);
    for (int i = 0; i < STATS_MAX_FIELDS + 10; i++) {
        snprintf(name, sizeof(name), "$.f%d", i);
        stats_trial_diff(s, e, false, name, 0);
    }
    stats_trial_end(s, e, true, false);
    assert_int_equal(e->nfields, STATS_MAX_FIELDS);
    assert_int_equal(e->fields_dropped, 10);

    struct stats_field *f = stats_find_field(e, "$.f0");
    assert_true(stats_field_add_sample(s, f, "t-1"));
    assert_false(stats_field_add_sample(s, f, "t-1")); /* already there */
    assert_true(stats_field_add_sample(s, f, "t-2"));
    assert_false(stats_field_add_sample(s, f, "t-3")); /* cap of 2 */
    assert_int_equal(f->nsamples, 2);
    stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_accuracy),
        cmocka_unit_test(test_merge_is_exact),
        cmocka_unit_test(test_once_per_trial),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
