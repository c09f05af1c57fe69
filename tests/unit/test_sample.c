/* Sampling: the rate holds over many keys, and a key always gets the same
 * decision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sample.h"

#define KEYS 100000

static void test_rate_by_key(void **state)
{
    (void)state;
    static const double rates[] = {1, 10, 25, 50, 73.5, 99};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        int hits = 0;
        for (int k = 0; k < KEYS; k++) {
            char key[32];
            int n = snprintf(key, sizeof(key), "user-%d", k);
            hits += sample_decide(rates[i], key, (size_t)n, NULL);
        }
        double got = 100.0 * hits / KEYS;
        if (got < rates[i] - 2 || got > rates[i] + 2)
            fail_msg("rate %.1f%%: sampled %.2f%% of %d keys", rates[i], got, KEYS);
    }
}

static void test_rate_random(void **state)
{
    (void)state;
    struct sample_rng rng = {42};
    int hits = 0;
    for (int k = 0; k < KEYS; k++)
        hits += sample_decide(30, NULL, 0, &rng);
    double got = 100.0 * hits / KEYS;
    assert_true(got > 28 && got < 32);
}

static void test_same_key_same_decision(void **state)
{
    (void)state;
    struct sample_rng rng = {7};
    for (int k = 0; k < 1000; k++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "session-%d", k);
        bool first = sample_decide(50, key, (size_t)n, &rng);
        for (int again = 0; again < 20; again++)
            assert_int_equal(sample_decide(50, key, (size_t)n, &rng), first);
    }
}

static void test_bounds(void **state)
{
    (void)state;
    struct sample_rng rng = {1};
    for (int k = 0; k < 1000; k++) {
        assert_false(sample_decide(0, NULL, 0, &rng));
        assert_true(sample_decide(100, NULL, 0, &rng));
        assert_false(sample_decide(0, "k", 1, &rng));
    }
}

static void test_query_value(void **state)
{
    (void)state;
    size_t len = 0;
    const char *v = sample_query_value("/a?x=1&user=bob&z", "user", &len);
    assert_non_null(v);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "bob", 3);
    v = sample_query_value("/a?x=1&z", "z", &len);
    assert_non_null(v);
    assert_int_equal(len, 0);
    assert_null(sample_query_value("/a?username=bob", "user", &len));
    assert_null(sample_query_value("/a", "user", &len));
    v = sample_query_value("/a?user=al#frag", "user", &len);
    assert_int_equal(len, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_by_key),
        cmocka_unit_test(test_rate_random),
        cmocka_unit_test(test_same_key_same_decision),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_query_value),
    };
    return cmocka_run_group_tests_name("sample", tests, NULL, NULL);
}
