/* Regression math: Diffy's field rule, histogram quantiles and the rank-bound
 * latency rule (DESIGN §6). Shared by the daemon's live report and `diffd check`.
 *
 * Latency design: each leg's latencies live in a log-bucketed histogram (growth
 * 1.04, so a bucket's geometric midpoint is within 2% of every value in it). To call
 * a quantile slower we want evidence, not one slow request: by order statistics the
 * true q-quantile of n samples lies, with 99% confidence one-sided, above the value at
 * rank floor(n*q - d) and below the value at rank ceil(n*q + d), d = 2.33*sqrt(n*q*(1-q))
 * (normal approximation of the binomial rank). The candidate is slower only when its
 * lower bound beats the baseline's upper bound by a factor and a margin. With few
 * trials the upper rank passes n and reads the maximum, so p99 cannot fire on a
 * short, noisy CI run. */
#include <math.h>
#include <string.h>

#include "regress.h"

void regress_thresholds_default(struct regress_thresholds *t)
{
    t->relative = 20;
    t->absolute = 0.03;
    t->latency_factor = 1.5;
    t->latency_min_ms = 5;
    t->min_compared = 10;
}

struct regress_field_result regress_field(uint64_t raw, uint64_t noise, uint64_t compared,
                                          const struct regress_thresholds *t)
{
    struct regress_field_result r = {0, 0, false};
    if (raw <= noise)
        return r;
    /* Multiply before dividing so round numbers stay exact (60/40 gives 20.0, not
     * 20.000000000000004) and the strict comparisons below mean what they say. */
    double diff = (double)(raw - noise);
    r.relative = diff * 100.0 / (double)(raw + noise);
    if (compared > 0)
        r.absolute = diff * 100.0 / (double)compared;
    r.regression = compared > 0 && compared >= t->min_compared && r.relative > t->relative &&
                   r.absolute > t->absolute;
    return r;
}

size_t regress_bucket_of(uint64_t us)
{
    if (us < 1)
        return 0;
    double v = (double)us;
    long b = (long)floor(log(v) / log(REGRESS_GROWTH)) + 1;
    /* log() rounding can put exact powers of the growth in the neighbour bucket. */
    while (b > 1 && pow(REGRESS_GROWTH, (double)(b - 1)) > v)
        b--;
    while (pow(REGRESS_GROWTH, (double)b) <= v && b < REGRESS_BUCKETS)
        b++;
    if (b >= REGRESS_BUCKETS)
        b = REGRESS_BUCKETS - 1;
    return (size_t)b;
}

double regress_bucket_value_us(size_t b)
{
    if (b == 0)
        return 0;
    return pow(REGRESS_GROWTH, (double)b - 0.5);
}

uint64_t regress_hist_total(const uint64_t *counts, size_t nbuckets)
{
    uint64_t n = 0;
    for (size_t i = 0; i < nbuckets; i++)
        n += counts[i];
    return n;
}

double regress_hist_rank_us(const uint64_t *counts, size_t nbuckets, uint64_t rank)
{
    uint64_t total = regress_hist_total(counts, nbuckets);
    if (total == 0)
        return 0;
    if (rank < 1)
        rank = 1;
    if (rank > total)
        rank = total;
    uint64_t seen = 0;
    for (size_t b = 0; b < nbuckets; b++) {
        seen += counts[b];
        if (seen >= rank)
            return regress_bucket_value_us(b);
    }
    return 0; /* not reached: rank <= total */
}

double regress_hist_quantile_us(const uint64_t *counts, size_t nbuckets, double q)
{
    uint64_t total = regress_hist_total(counts, nbuckets);
    if (total == 0)
        return 0;
    double r = ceil(q * (double)total);
    uint64_t rank = r < 1 ? 1 : (uint64_t)r;
    return regress_hist_rank_us(counts, nbuckets, rank);
}

struct regress_latency_result regress_latency(uint64_t compared, double q,
                                              struct regress_hist primary,
                                              struct regress_hist secondary,
                                              struct regress_hist candidate,
                                              const struct regress_thresholds *t)
{
    struct regress_latency_result r = {false, false, 0, 0};
    if (compared == 0 || compared < t->min_compared)
        return r;
    if (regress_hist_total(primary.counts, primary.n) == 0 ||
        regress_hist_total(candidate.counts, candidate.n) == 0)
        return r;
    double n = (double)compared;
    double d = 2.33 * sqrt(n * q * (1 - q));
    double lo = floor(n * q - d);
    double hi = ceil(n * q + d);
    if (lo < 1)
        return r; /* too few trials to bound the candidate from below */
    /* Ranks past a histogram's total clamp to its maximum (regress_hist_rank_us). */
    uint64_t hi_rank = hi > 1e18 ? UINT64_MAX : (uint64_t)hi;
    double cand = regress_hist_rank_us(candidate.counts, candidate.n, (uint64_t)lo);
    double base = regress_hist_rank_us(primary.counts, primary.n, hi_rank);
    if (regress_hist_total(secondary.counts, secondary.n) > 0) {
        double sec = regress_hist_rank_us(secondary.counts, secondary.n, hi_rank);
        if (sec > base)
            base = sec;
    }
    r.evaluable = true;
    r.candidate_ms = cand / 1000.0;
    r.baseline_ms = base / 1000.0;
    r.regression = r.candidate_ms > t->latency_factor * r.baseline_ms &&
                   r.candidate_ms - r.baseline_ms > t->latency_min_ms;
    return r;
}

enum regress_verdict regress_verdict_of(size_t regressions, uint64_t max_compared,
                                        uint64_t min_compared)
{
    if (regressions > 0)
        return REGRESS_FAIL;
    if (max_compared < min_compared || max_compared == 0)
        return REGRESS_INSUFFICIENT;
    return REGRESS_PASS;
}

static const char *const verdict_names[] = {"pass", "fail", "insufficient"};

const char *regress_verdict_name(enum regress_verdict v)
{
    if ((unsigned)v > REGRESS_INSUFFICIENT)
        return "?";
    return verdict_names[v];
}

int regress_verdict_parse(const char *s, enum regress_verdict *out)
{
    for (int i = 0; i <= REGRESS_INSUFFICIENT; i++)
        if (strcmp(s, verdict_names[i]) == 0) {
            *out = (enum regress_verdict)i;
            return 0;
        }
    return -1;
}
