/* Diff engine benchmark (make bench-diff): deterministic, realistic JSON API
 * responses of about 1 KB, 10 KB and 100 KB, in triples (primary, secondary
 * with only noise, candidate with noise and a few real changes), compared
 * with a 10-rule set exactly as a trial is: three normalize_response() calls
 * and two jsondiff_responses() calls. Prints trials/s and MB/s per core (CPU
 * time of this thread) and the ratio of that work to only parsing the three
 * bodies with cJSON (parse + delete), measured in the same run, interleaved.
 * The baselines run plain cJSON (malloc and free); the trials run with the
 * allocator hooks diffd installs (normalize.h: bodies parsed into an arena).
 *
 * DIFF_BENCH_SECONDS (default 1) sets the measuring time per size and side. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "http.h"
#include "jsondiff.h"
#include "normalize.h"
#include "rules.h"

int main(void);

static const char bench_rules[] =
    "[*]\n"
    "ignore-header date x-request-id\n"
    "ignore $.request_id\n"
    "replace $.generated_at /^\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z$/ \"<time>\"\n"
    "replace $.orders[*].created_at /^\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z$/ \"<time>\"\n"
    "tolerance $.orders[*].lines[*].price 0.5%\n"
    "tolerance $.orders[*].total 0.5\n"
    "unordered $.orders[*].tags\n"
    "unordered $.orders by id\n"
    "redact $.orders[*].customer.email\n"
    "[GET /orders]\n"
    "ignore $.page.cursor\n";

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic across runs and hosts. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void uuid(struct buf *b, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1, y = x * 0xbf58476d1ce4e5b9ull + 7;
    buf_printf(b, "\"%08llx-%04llx-4%03llx-a%03llx-%012llx\"", (unsigned long long)(x >> 32),
               (unsigned long long)((x >> 16) & 0xffff), (unsigned long long)(x & 0xfff),
               (unsigned long long)(y >> 52), (unsigned long long)(y & 0xffffffffffffull));
}

static void timestamp(struct buf *b, unsigned sec)
{
    buf_printf(b, "\"2026-11-22T%02u:%02u:%02u.%03uZ\"", (sec / 3600) % 24, (sec / 60) % 60,
               sec % 60, sec % 1000);
}

enum role { PRIMARY, SECONDARY, CANDIDATE };

static const char *const tag_names[] = {"priority", "gift", "fragile", "express", "b2b", "promo"};
static const char *const names[] = {"Ann Lee", "Bob Ortiz", "Chen Wei", "Dana Kaya", "Eve Noor"};
static const char *const skus[] = {"SKU-1001", "SKU-2002", "SKU-3003", "SKU-4004", "SKU-5005"};

/* One orders page with n orders. Every role sees the same data except noise
 * (request id, timestamps, tag order, sub-tolerance float jitter) and, for the
 * candidate, a few real changes. */
static void gen_body(struct buf *b, int n, enum role role, uint64_t seed)
{
    rng_state = seed;
    unsigned noise = role == PRIMARY ? 0 : role == SECONDARY ? 3 : 5;
    buf_puts(b, "{\"request_id\":");
    uuid(b, seed + noise * 1000003);
    buf_puts(b, ",\"generated_at\":");
    timestamp(b, 36000 + noise);
    buf_printf(b, ",\"page\":{\"size\":%d,\"cursor\":\"c%llu\",\"has_more\":true},\"orders\":[", n,
               (unsigned long long)(seed + noise));
    for (int i = 0; i < n; i++) {
        uint64_t r = rnd();
        double total = 0;
        if (i)
            buf_puts(b, ",");
        buf_puts(b, "{\"id\":");
        uuid(b, seed * 7919 + (uint64_t)i);
        buf_puts(b, ",\"created_at\":");
        timestamp(b, (unsigned)(r % 86400) + (role == PRIMARY ? 0 : 1));
        const char *name = names[r % 5];
        buf_printf(
            b,
            ",\"status\":\"%s\",\"customer\":{\"name\":\"%s\",\"email\":\"user%d@example.com\","
            "\"vip\":%s},",
            role == CANDIDATE && i == 1 ? "canceled" : "paid", name, i,
            (r >> 8) & 1 ? "true" : "false");
        int ntags = 1 + (int)((r >> 10) % 3);
        buf_puts(b, "\"tags\":[");
        for (int t = 0; t < ntags; t++) {
            int k = role == PRIMARY ? t : ntags - 1 - t; /* order is noise */
            buf_printf(b, "%s\"%s\"", t ? "," : "", tag_names[((r >> 12) + (unsigned)k) % 6]);
        }
        buf_puts(b, "],\"lines\":[");
        int nlines = 1 + (int)((r >> 16) % 3);
        for (int l = 0; l < nlines; l++) {
            double price = (double)((r >> (20 + l)) % 10000) / 100.0 + 1;
            if (role != PRIMARY)
                price *= 1.0001; /* within the 0.5% tolerance */
            if (role == CANDIDATE && i == 0 && l == 0)
                price *= 1.10; /* a real price change */
            int qty = 1 + (int)((r >> (30 + l)) % 4);
            total += price * qty;
            buf_printf(b, "%s{\"sku\":\"%s\",\"qty\":%d,\"price\":%.4f}", l ? "," : "",
                       skus[(r >> (40 + l)) % 5], qty, price);
        }
        buf_printf(b, "],\"total\":%.2f,\"currency\":\"EUR\"", total);
        if (!(role == CANDIDATE && i == 2))
            buf_puts(b, ",\"shipping\":{\"method\":\"ground\",\"eta_days\":3}");
        buf_puts(b, "}");
    }
    buf_puts(b, "]}");
}

static void gen_response(struct http_response *r, int n, enum role role, uint64_t seed)
{
    memset(r, 0, sizeof(*r));
    r->status = 200;
    static const char *h[][2] = {{"Content-Type", "application/json; charset=utf-8"},
                                 {"Cache-Control", "private, max-age=0"},
                                 {"ETag", "\"v1-orders\""},
                                 {"Vary", "Accept-Encoding"},
                                 {"Server", "shop/4.2"}};
    for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
        headers_add(&r->headers, h[i][0], strlen(h[i][0]), h[i][1], strlen(h[i][1]));
    char v[64];
    snprintf(v, sizeof(v), "Sun, 22 Nov 2026 10:00:%02d GMT", (int)role);
    headers_add(&r->headers, "Date", 4, v, strlen(v));
    snprintf(v, sizeof(v), "req-%d-%llu", (int)role, (unsigned long long)seed);
    headers_add(&r->headers, "X-Request-Id", 12, v, strlen(v));
    gen_body(&r->body, n, role, seed);
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sizes {
    const char *label;
    size_t target;
};

static size_t trial(const struct rules_view *view, struct http_response *resp, struct jsondiff *d,
                    size_t *noise)
{
    struct norm_response n[3];
    for (int k = 0; k < 3; k++)
        normalize_response(view, &resp[k], NULL, &n[k]);
    size_t raw = jsondiff_responses(d, view, &n[PRIMARY], &n[CANDIDATE]);
    *noise = jsondiff_responses(d, view, &n[PRIMARY], &n[SECONDARY]);
    for (int k = 0; k < 3; k++)
        normalize_free(&n[k]);
    return raw;
}

/* The three bodies parsed and freed, as a trial must do at least. */
static void parse_delete(struct http_response *resp)
{
    for (int k = 0; k < 3; k++) {
        cJSON *t = cJSON_ParseWithLength(resp[k].body.data, resp[k].body.len);
        if (!t)
            abort();
        cJSON_Delete(t);
    }
}

/* CPU seconds spent parsing the three bodies n times (n <= 16), the frees not
 * counted. Few trees are kept alive at once so that the heap stays the size a
 * trial sees. */
static double parse_only(struct http_response *resp, int n)
{
    cJSON *trees[16][3];
    double t0 = cpu_now();
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            trees[i][k] = cJSON_ParseWithLength(resp[k].body.data, resp[k].body.len);
            if (!trees[i][k])
                abort();
        }
    double t = cpu_now() - t0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            cJSON_Delete(trees[i][k]);
    return t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void)
{
    const char *env = getenv("DIFF_BENCH_SECONDS");
    double seconds = env ? atof(env) : 1.0;
    if (seconds <= 0)
        seconds = 1.0;
    struct ruleset *rs = rules_new();
    char err[256];
    if (rules_add_text(rs, "bench.rules", bench_rules, sizeof(bench_rules) - 1, err, sizeof(err)) !=
            0 ||
        rules_finish(rs, err, sizeof(err)) != 0) {
        fprintf(stderr, "diff_bench: %s\n", err);
        return 2;
    }
    struct rules_view view;
    rules_view_for_endpoint(rs, "GET /orders", &view);
    static const struct sizes sizes[] = {{"1 KB", 1024}, {"10 KB", 10240}, {"100 KB", 102400}};
    struct jsondiff *d = jsondiff_new();
    printf("diff engine benchmark: %zu rules, one core, CPU time, %.1f s per size and side\n",
           rules_rule_count(rs), seconds);
    printf("%-7s %10s %10s %7s %13s %7s %12s %15s\n", "size", "body bytes", "trials/s", "MB/s",
           "parse+free/s", "ratio", "ratio(parse)", "diffs raw/noise");
    int rc = 0;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        /* The number of orders whose primary body is closest to the target size. */
        int n = 1;
        for (;; n++) {
            struct buf b = {0};
            gen_body(&b, n + 1, PRIMARY, 42);
            size_t len = b.len;
            buf_free(&b);
            if (len > sizes[s].target)
                break;
        }
        struct http_response resp[3];
        for (int k = 0; k < 3; k++)
            gen_response(&resp[k], n, (enum role)k, 42);
        size_t bytes = resp[0].body.len + resp[1].body.len + resp[2].body.len;
        size_t noise = 0, raw = trial(&view, resp, d, &noise);
        int batch = bytes < 16384 ? 16 : bytes < 163840 ? 4 : 1;

        /* Interleave rounds of the three measurements so that machine noise
         * (other processes on a shared host) hits them alike. */
        enum { ROUNDS = 21 };
        double ratio[ROUNDS], ratio_po[ROUNDS], trial_time = 0, parse_time = 0;
        unsigned long trials = 0, parses = 0;
        for (int round = 0; round < ROUNDS; round++) {
            cJSON_InitHooks(NULL); /* plain cJSON for the baselines */
            double budget = seconds / ROUNDS, t0 = cpu_now(), t;
            unsigned long k = 0;
            do {
                for (int i = 0; i < 16; i++)
                    parse_delete(resp);
                k += 16;
            } while ((t = cpu_now()) - t0 < budget);
            double per_parse = (t - t0) / (double)k;
            parse_time += t - t0;
            parses += k;
            double po = 0;
            k = 0;
            t0 = cpu_now();
            do {
                po += parse_only(resp, batch);
                k += (unsigned long)batch;
            } while (cpu_now() - t0 < budget);
            double per_parse_only = po / (double)k;
            normalize_install_hooks();
            t0 = cpu_now();
            k = 0;
            do {
                size_t ignored;
                for (int i = 0; i < 16; i++)
                    trial(&view, resp, d, &ignored);
                k += 16;
            } while ((t = cpu_now()) - t0 < budget);
            double per_trial = (t - t0) / (double)k;
            trial_time += t - t0;
            trials += k;
            ratio[round] = per_trial / per_parse;
            ratio_po[round] = per_trial / per_parse_only;
        }
        qsort(ratio, ROUNDS, sizeof(ratio[0]), cmp_double);
        qsort(ratio_po, ROUNDS, sizeof(ratio_po[0]), cmp_double);
        double tps = (double)trials / trial_time;
        printf("%-7s %10zu %10.0f %7.1f %13.0f %7.2f %12.2f %8zu/%zu\n", sizes[s].label, bytes / 3,
               tps, tps * (double)bytes / 1e6, (double)parses / parse_time, ratio[ROUNDS / 2],
               ratio_po[ROUNDS / 2], raw, noise);
        if (noise != 0 || raw == 0) {
            fprintf(stderr,
                    "diff_bench: the rules should silence all noise (got %zu noise, %zu "
                    "raw differences)\n",
                    noise, raw);
            rc = 2;
        }
        for (int k = 0; k < 3; k++)
            http_response_free(&resp[k]);
    }
    printf("ratio        = trial / (cJSON parse + cJSON_Delete of the three bodies)\n"
           "ratio(parse) = trial / (cJSON parse of the three bodies, frees not counted)\n"
           "trial = normalize x3 + diff x2 + free; medians of %d interleaved rounds.\n"
           "targets: ratio <= 2.0, >= 20000 trials/s at 1 KB.\n",
           21);
    jsondiff_free(d);
    rules_free(rs);
    return rc;
}
