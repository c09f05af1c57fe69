/* State file: what is written is read back exactly; every kind of damage is
 * refused with a message naming the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "rules.h"
#include "samples.h"
#include "state.h"
#include "stats.h"
#include "util.h"

static char dir[] = "/tmp/diffd-test-state-XXXXXX";
static char path[256];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/state", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s/state", dir);
    unlink(tmp);
    rmdir(dir);
    return 0;
}

static struct stats *sample_stats(void)
{
    struct stats *s = stats_new(100, 5);
    const char *names[] = {"GET /users/:id", "POST /orders", "GET /search \"q\""};
    for (int i = 0; i < 300; i++) {
        struct stats_endpoint *e = stats_endpoint(s, names[i % 3]);
        stats_count_received(s, e);
        if (i % 7 == 0) {
            stats_count_skipped(s, e, STATS_SKIP_OVERLOAD);
            continue;
        }
        stats_count_sampled(s, e);
        stats_trial_begin(s, e);
        struct stats_field *f = stats_trial_diff(s, e, i % 2, i % 5 ? "$.a[*].b" : "status", i % 6);
        char id[32];
        snprintf(id, sizeof(id), "t-x-0-%x", i);
        stats_field_add_sample(s, f, id);
        stats_trial_end(s, e, i % 2 == 0, i % 2 == 1);
        for (int r = 0; r < ROLE_COUNT; r++)
            stats_leg(e, r, 200 + (i % 4) * 100, i % 11 == 0, 1000 + (uint64_t)i * 37);
    }
    return s;
}

static void test_roundtrip(void **state)
{
    (void)state;
    struct stats *s = sample_stats();
    struct sample_store samples = {0};
    samples_put(&samples, "t-x-0-1", "GET /users/:id", xstrdup("{\"id\":\"t-x-0-1\",\"n\":[1,2]}"));
    char err[512];
    assert_int_equal(state_save(path, s, &samples, NULL, err, sizeof(err)), 0);

    struct stats *back = stats_new(100, 5);
    struct sample_store back_samples = {0};
    assert_int_equal(state_load(path, back, &back_samples, NULL, err, sizeof(err)), 0);
    assert_int_equal(back->totals_received, s->totals_received);
    assert_int_equal(back->totals_sampled, s->totals_sampled);
    assert_int_equal(back->totals_compared, s->totals_compared);
    assert_memory_equal(back->totals_skipped, s->totals_skipped, sizeof(s->totals_skipped));
    assert_int_equal(back->neps, s->neps);
    for (size_t i = 0; i < s->neps; i++) {
        const struct stats_endpoint *a = &s->eps[i];
        const struct stats_endpoint *b = stats_find_endpoint(back, a->name);
        assert_non_null(b);
        assert_int_equal(a->compared, b->compared);
        assert_int_equal(a->differing_raw, b->differing_raw);
        assert_memory_equal(a->status, b->status, sizeof(a->status));
        assert_memory_equal(a->skipped, b->skipped, sizeof(a->skipped));
        for (int r = 0; r < ROLE_COUNT; r++)
            assert_memory_equal(a->hist[r], b->hist[r], STATS_HIST_BUCKETS * sizeof(uint32_t));
        assert_int_equal(a->nfields, b->nfields);
        for (size_t k = 0; k < a->nfields; k++) {
            const struct stats_field *f = &a->fields[k];
            const struct stats_field *g = stats_find_field(b, f->path);
            assert_non_null(g);
            assert_int_equal(f->raw, g->raw);
            assert_int_equal(f->noise, g->noise);
            assert_memory_equal(f->kinds, g->kinds, sizeof(f->kinds));
            assert_int_equal(f->nsamples, g->nsamples);
            for (uint32_t j = 0; j < f->nsamples; j++)
                assert_string_equal(f->samples[j], g->samples[j]);
        }
    }
    assert_int_equal(back_samples.n, 1);
    assert_string_equal(back_samples.v[0].id, "t-x-0-1");
    assert_string_equal(back_samples.v[0].json, "{\"id\":\"t-x-0-1\",\"n\":[1,2]}");
    stats_free(s);
    stats_free(back);
    samples_clear(&samples);
    samples_clear(&back_samples);
}

static void write_file(const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_file(size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return buf_steal(&b);
}

/* A state file with a right header (length, CRC-32) around body. */
static void write_doc(const char *body)
{
    struct buf b = {0};
    buf_printf(&b, "DIFFD-STATE 1 %zu %08lx\n%s", strlen(body),
               crc32(0, (const unsigned char *)body, (unsigned)strlen(body)), body);
    write_file(b.data, b.len);
    buf_free(&b);
}

static void expect_refused(const char *why)
{
    struct stats *s = stats_new(100, 5);
    struct sample_store samples = {0};
    char err[512] = "";
    if (state_load(path, s, &samples, NULL, err, sizeof(err)) != -1)
        fail_msg("%s: accepted", why);
    if (!strstr(err, path))
        fail_msg("%s: message \"%s\" does not name the file", why, err);
    stats_free(s);
    samples_clear(&samples);
}

static void test_damage_is_refused(void **state)
{
    (void)state;
    struct stats *s = sample_stats();
    char err[512];
    assert_int_equal(state_save(path, s, NULL, NULL, err, sizeof(err)), 0);
    stats_free(s);
    size_t len;
    char *good = read_file(&len);

    write_file("garbage\n", 8);
    expect_refused("garbage");
    write_file("", 0);
    expect_refused("empty");
    write_file(good, len / 2);
    expect_refused("truncated");
    char *flip = xmalloc(len);
    memcpy(flip, good, len);
    flip[len - 10] ^= 0x20;
    write_file(flip, len);
    expect_refused("one byte changed");
    /* Right header and checksum over a body that is not a state document. */
    write_doc("{\"totals\":{}}\n");
    expect_refused("valid checksum, invalid document");

    write_file(good, len);
    struct stats *ok = stats_new(100, 5);
    struct sample_store samples = {0};
    assert_int_equal(state_load(path, ok, &samples, NULL, err, sizeof(err)), 0);
    stats_free(ok);
    free(flip);
    free(good);
}

static void test_missing_file(void **state)
{
    (void)state;
    char other[300];
    snprintf(other, sizeof(other), "%s/none", dir);
    struct stats *s = stats_new(100, 5);
    struct sample_store samples = {0};
    char err[512];
    assert_int_equal(state_load(other, s, &samples, NULL, err, sizeof(err)), 1);
    stats_free(s);
}

static struct ruleset *ruleset_of(const char *text)
{
    struct ruleset *rs = rules_new();
    char err[512];
    assert_int_equal(rules_add_text(rs, "shop.rules", text, strlen(text), err, sizeof(err)), 0);
    assert_int_equal(rules_finish(rs, err, sizeof(err)), 0);
    return rs;
}

static uint64_t matched(const struct ruleset *rs, size_t i)
{
    struct rules_rule_info ri;
    rules_rule_info(rs, i, &ri);
    return ri.matched;
}

/* Rule match counts survive a restart for the rules still written the same at
 * the same place; a rule edited meanwhile starts over, and nothing else is
 * credited with its count. */
static void test_rule_match_counts(void **state)
{
    (void)state;
    struct ruleset *before = ruleset_of("[*]\n"
                                        "ignore-header date\n"
                                        "ignore $.request_id\n"
                                        "ignore $.never\n"
                                        "unordered $.tags\n");
    rules_add_matched(before, "shop.rules", 2, "ignore-header date", 7);
    rules_add_matched(before, "shop.rules", 3, "ignore $.request_id", 12);
    rules_add_matched(before, "shop.rules", 5, "unordered $.tags", 3);
    struct stats *s = sample_stats();
    char err[512];
    assert_int_equal(state_save(path, s, NULL, before, err, sizeof(err)), 0);

    /* $.request_id moved a line down; $.tags is now unordered by a key. */
    struct ruleset *after = ruleset_of("[*]\n"
                                       "ignore-header date\n"
                                       "\n"
                                       "ignore $.request_id\n"
                                       "ignore $.never\n"
                                       "unordered $.tags by $.id\n");
    struct stats *back = stats_new(100, 5);
    struct sample_store samples = {0};
    assert_int_equal(state_load(path, back, &samples, after, err, sizeof(err)), 0);
    assert_int_equal(rules_rule_count(after), 4);
    assert_int_equal(matched(after, 0), 7);
    assert_int_equal(matched(after, 1), 0);
    assert_int_equal(matched(after, 2), 0);
    assert_int_equal(matched(after, 3), 0);
    assert_int_equal(back->totals_compared, s->totals_compared);

    /* Loaded into the same rules again: the counts add up, as the stats do. */
    assert_int_equal(state_load(path, back, &samples, before, err, sizeof(err)), 0);
    assert_int_equal(matched(before, 0), 14);
    assert_int_equal(matched(before, 1), 24);
    assert_int_equal(matched(before, 2), 0);
    assert_int_equal(matched(before, 3), 6);

    /* A malformed entry refuses the whole file and credits nothing. */
    static const char *bad[] = {
        /* The control: the same document, well formed, is accepted. */
        "{\"rules\":[{\"file\":\"shop.rules\",\"line\":2,\"text\":\"ignore-header "
        "date\",\"matched\":1}]}",
        "{\"rules\":{}}",
        "{\"rules\":[{\"file\":\"shop.rules\",\"line\":2,\"text\":\"ignore-header date\"}]}",
        "{\"rules\":[{\"file\":\"shop.rules\",\"line\":2,\"text\":\"ignore-header "
        "date\",\"matched\":1},{\"file\":7,\"line\":2,\"text\":\"x\",\"matched\":1}]}",
        "{\"rules\":[{\"file\":\"shop.rules\",\"line\":-2,\"text\":\"x\",\"matched\":1}]}",
        "{\"rules\":[{\"file\":\"shop.rules\",\"line\":9e12,\"text\":\"x\",\"matched\":1}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf doc = {0};
        buf_printf(&doc,
                   "{\"totals\":{\"received\":0,\"sampled\":0,\"compared\":0,"
                   "\"skipped\":[0,0,0]},\"endpoints\":[],\"samples\":[],%s\n",
                   bad[i] + 1);
        write_doc(doc.data);
        buf_free(&doc);
        struct stats *t = stats_new(100, 5);
        int rc = state_load(path, t, &samples, before, err, sizeof(err));
        if (i == 0) {
            assert_int_equal(rc, 0);
            stats_free(t);
            continue;
        }
        if (rc != -1)
            fail_msg("bad rules entry %zu accepted", i);
        if (!strstr(err, path))
            fail_msg("bad rules entry %zu: message \"%s\" does not name the file", i, err);
        stats_free(t);
    }
    assert_int_equal(matched(before, 0), 15); /* 14 + the control's 1 */

    stats_free(s);
    stats_free(back);
    samples_clear(&samples);
    rules_free(before);
    rules_free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_damage_is_refused),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_rule_match_counts),
    };
    return cmocka_run_group_tests_name("state", tests, setup, teardown);
}
