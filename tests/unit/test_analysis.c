/* The analysis pool and its queue: the trial and byte bounds, what is refused
 * (the caller counts it as skipped.analysis), what a drain compares and what
 * it leaves counted as skipped, and collections served by the threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "analysis.h"
#include "collect.h"
#include "config.h"
#include "stats.h"
#include "trial.h"
#include "util.h"

static struct config cfg;
static struct sample_budget budget;

static int setup(void **state)
{
    (void)state;
    char err[256];
    char *args[] = {"serve",    "--primary",   "http://p", "--secondary",
                    "http://s", "--candidate", "http://c"};
    assert_int_equal(config_parse_serve(&cfg, 7, args, err, sizeof(err)), 0);
    budget.max = cfg.max_samples;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    config_free(&cfg);
    return 0;
}

/* A trial of endpoint `name` whose three legs answered `body`; body_len
 * bytes of filler make it as large as wanted. */
static struct trial *make_trial(const char *name, const char *body, size_t filler)
{
    struct trial *t = trial_new();
    snprintf(t->id, sizeof(t->id), "t-test-%s", name);
    t->req.method = xstrdup("GET");
    t->req.target = xstrdup("/x");
    snprintf(t->route.name, sizeof(t->route.name), "%s", name);
    for (int r = 0; r < ROLE_COUNT; r++) {
        struct trial_leg *l = &t->legs[r];
        l->active = true;
        l->resp.status = 200;
        headers_add(&l->resp.headers, "Content-Type", 12, "application/json", 16);
        buf_append(&l->resp.body, body, strlen(body));
        l->resp.latency_us = 1000;
    }
    if (filler) {
        char *pad = xmalloc(filler);
        memset(pad, ' ', filler);
        buf_append(&t->req.body, pad, filler);
        free(pad);
    }
    return t;
}

static struct analysis *pool(int threads, size_t max_bytes, long max_trials)
{
    struct analysis_opts o = {.cfg = &cfg,
                              .sample_budget = &budget,
                              .access_log_fd = -1,
                              .threads = threads,
                              .max_bytes = max_bytes,
                              .max_trials = max_trials};
    char err[256];
    struct analysis *a = analysis_new(&o, err, sizeof(err));
    assert_non_null(a);
    return a;
}

static const struct stats_endpoint *endpoint(struct analysis *a, struct stats **out,
                                             const char *name)
{
    *out = stats_new(100, 5);
    analysis_merge_into(a, *out, NULL);
    return stats_find_endpoint(*out, name);
}

/* Without threads running nothing is taken from the queue: the bounds decide
 * alone. */
static void test_trial_bound(void **state)
{
    (void)state;
    struct analysis *a = pool(1, 1u << 30, 3);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 5; i++) {
        struct trial *t = make_trial("GET /a", "{}", 0);
        if (analysis_submit(a, t)) {
            accepted++;
        } else {
            refused++;
            trial_free(t); /* refused: still the caller's */
        }
    }
    assert_int_equal(accepted, 3);
    assert_int_equal(refused, 2);
    struct analysis_view v;
    analysis_read(a, &v);
    assert_int_equal(v.queued, 3);
    assert_int_equal(v.pending, 3);
    assert_int_equal(v.refused, 2);
    assert_true(v.queued_bytes > 0);
    analysis_free(a); /* frees what is queued */
}

static void test_byte_bound_and_oversized_trial(void **state)
{
    (void)state;
    /* Room for one 40 KB trial, not two; an empty queue takes even a trial
     * larger than the whole bound. */
    struct analysis *a = pool(1, 64 * 1024, 1000);
    struct trial *big = make_trial("GET /big", "{}", 200 * 1024);
    assert_true(analysis_submit(a, big));
    struct trial *t = make_trial("GET /a", "{}", 40 * 1024);
    assert_false(analysis_submit(a, t));
    trial_free(t);
    analysis_free(a);

    /* A bound that fits one 40 KB trial and a small one, not two large. */
    struct trial *large = make_trial("GET /a", "{}", 40 * 1024);
    struct trial *small = make_trial("GET /small", "{}", 0);
    size_t bound = trial_bytes(large) + trial_bytes(small) + 16;
    a = pool(1, bound, 1000);
    assert_true(analysis_submit(a, large));
    t = make_trial("GET /a", "{}", 40 * 1024);
    assert_false(analysis_submit(a, t));
    trial_free(t);
    assert_true(analysis_submit(a, small));
    struct analysis_view v;
    analysis_read(a, &v);
    assert_int_equal(v.queued, 2);
    assert_true(v.queued_bytes <= bound);
    analysis_free(a);
}

/* A drain that runs out of time leaves the queued trials uncompared and
 * counts each as skipped.analysis of its endpoint; nothing is lost. */
static void test_drain_without_time_counts_skipped(void **state)
{
    (void)state;
    struct analysis *a = pool(1, 1u << 30, 100);
    for (int i = 0; i < 4; i++)
        assert_true(analysis_submit(a, make_trial(i % 2 ? "GET /odd" : "GET /even", "{}", 0)));
    /* Never started: nothing can be compared, whatever the timeout. */
    assert_int_equal(analysis_drain(a, 50), 4);
    struct stats *s;
    const struct stats_endpoint *e = endpoint(a, &s, "GET /odd");
    assert_non_null(e);
    assert_int_equal(e->skipped[STATS_SKIP_ANALYSIS], 2);
    assert_int_equal(e->compared, 0);
    assert_int_equal(s->totals_skipped[STATS_SKIP_ANALYSIS], 4);
    struct analysis_view v;
    analysis_read(a, &v);
    assert_int_equal(v.pending, 0);
    assert_int_equal(v.abandoned, 4);
    /* Closed: later submissions are refused. */
    struct trial *t = make_trial("GET /late", "{}", 0);
    assert_false(analysis_submit(a, t));
    trial_free(t);
    stats_free(s);
    analysis_free(a);
}

/* A drain with time compares everything queued, on several threads, and the
 * results are in the shards afterwards: raw differences where the candidate
 * differs, noise where the secondary does. */
static void test_drain_compares_everything(void **state)
{
    (void)state;
    struct analysis *a = pool(2, 1u << 30, 10000);
    char err[256];
    assert_int_equal(analysis_start(a, err, sizeof(err)), 0);
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        struct trial *t = make_trial("GET /d", "{\"a\":1,\"b\":2}", 0);
        buf_reset(&t->legs[ROLE_CANDIDATE].resp.body);
        buf_puts(&t->legs[ROLE_CANDIDATE].resp.body, "{\"a\":1,\"b\":3}");
        if (i % 4 == 0) {
            buf_reset(&t->legs[ROLE_SECONDARY].resp.body);
            buf_puts(&t->legs[ROLE_SECONDARY].resp.body, "{\"a\":5,\"b\":2}");
        }
        assert_true(analysis_submit(a, t));
    }
    assert_int_equal(analysis_drain(a, 30000), 0);
    struct analysis_view v;
    analysis_read(a, &v);
    assert_int_equal(v.compared, N);
    assert_int_equal(v.pending, 0);
    assert_int_equal(v.legs[ROLE_CANDIDATE][STATUS_2XX], N);
    struct stats *s;
    const struct stats_endpoint *e = endpoint(a, &s, "GET /d");
    assert_non_null(e);
    assert_int_equal(e->compared, N);
    const struct stats_field *fb = stats_find_field(e, "$.b");
    const struct stats_field *fa = stats_find_field(e, "$.a");
    assert_non_null(fb);
    assert_non_null(fa);
    assert_int_equal(fb->raw, N);
    assert_int_equal(fa->noise, N / 4);
    assert_int_equal(fa->raw, 0);
    stats_free(s);
    analysis_free(a);
}

/* Collections are served by running threads, between two trials: the merged
 * copy has every compared trial; a reset empties the shards. */
static void test_collect_and_reset(void **state)
{
    (void)state;
    struct analysis *a = pool(2, 1u << 30, 10000);
    char err[256];
    assert_int_equal(analysis_start(a, err, sizeof(err)), 0);
    for (int i = 0; i < 50; i++)
        assert_true(analysis_submit(a, make_trial("GET /c", "{}", 0)));
    /* Wait until all 50 are compared (pending reaches 0). */
    struct analysis_view v;
    for (int spin = 0; spin < 20000; spin++) {
        analysis_read(a, &v);
        if (v.pending == 0)
            break;
        usleep(1000);
    }
    assert_int_equal(v.pending, 0);
    struct collect *c = collect_new(COLLECT_MERGE, 3, true, 100, 5);
    assert_int_equal(analysis_post_collect(a, c, 1), 2);
    /* Part 0 belongs to nobody here: post and serve it by hand, as a worker. */
    struct stats *mine = stats_new(100, 5);
    struct sample_store none = {0};
    collect_post(c, 0);
    collect_serve(c, 0, mine, &none);
    assert_int_equal(collect_wait(c, 10000), 0);
    struct stats *acc = stats_new(100, 5);
    collect_result(c, acc, NULL);
    collect_unref(c);
    const struct stats_endpoint *e = stats_find_endpoint(acc, "GET /c");
    assert_non_null(e);
    assert_int_equal(e->compared, 50);
    stats_free(acc);

    c = collect_new(COLLECT_RESET, 2, false, 0, 0);
    analysis_post_collect(a, c, 0);
    assert_int_equal(collect_wait(c, 10000), 0);
    collect_unref(c);
    assert_int_equal(analysis_drain(a, 1000), 0);
    struct stats *s;
    assert_null(endpoint(a, &s, "GET /c"));
    stats_free(s);
    stats_free(mine);
    analysis_free(a);
}

/* A collection no owner can serve (threads stopped) fails instead of
 * returning a copy that silently lacks a part. */
static void test_collect_fails_when_an_owner_cannot_answer(void **state)
{
    (void)state;
    struct analysis *a = pool(1, 1u << 30, 10);
    struct collect *c = collect_new(COLLECT_MERGE, 1, false, 100, 5);
    analysis_post_collect(a, c, 0); /* not started */
    assert_int_equal(collect_wait(c, 100), -1);
    collect_unref(c);
    analysis_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trial_bound),
        cmocka_unit_test(test_byte_bound_and_oversized_trial),
        cmocka_unit_test(test_drain_without_time_counts_skipped),
        cmocka_unit_test(test_drain_compares_everything),
        cmocka_unit_test(test_collect_and_reset),
        cmocka_unit_test(test_collect_fails_when_an_owner_cannot_answer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
