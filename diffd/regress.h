/* Regression math shared by the live report (daemon) and the CI gate (reports/):
 * Diffy's field rule, the log-bucketed latency histogram's bucket/quantile
 * arithmetic and the rank-bound latency rule of DESIGN §6. Pure functions: no I/O,
 * no allocation, no JSON. Histograms are dense arrays of counts indexed by bucket. */
#ifndef DIFFD_REGRESS_H
#define DIFFD_REGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Histogram layout (reports/README.md): bucket b >= 1 holds latencies in
 * [GROWTH^(b-1), GROWTH^b) microseconds, bucket 0 holds values below 1 µs.
 * REGRESS_BUCKETS buckets reach 1.04^1024 µs (about 9,000 years): any latency
 * fits; regress_bucket_of() clamps into the last bucket anyway. */
#define REGRESS_GROWTH 1.04
#define REGRESS_BUCKETS 1024

/* The thresholds of DESIGN §2/§6 (serve's --threshold-* / --latency-* /
 * --min-compared). Percentages are in percent (20 means 20%). */
struct regress_thresholds {
    double relative;       /* % */
    double absolute;       /* % */
    double latency_factor; /* candidate must be slower than factor x baseline */
    double latency_min_ms; /* ... and slower by more than this */
    uint64_t min_compared; /* fewer compared trials: no regression can be shown */
};

/* DESIGN defaults: 20, 0.03, 1.5, 5, 10. */
void regress_thresholds_default(struct regress_thresholds *t);

/* ---- field rule (Diffy) ---------------------------------------------------- */

struct regress_field_result {
    double relative; /* (raw-noise)/(raw+noise)*100, 0 when raw <= noise */
    double absolute; /* (raw-noise)/compared*100, 0 when raw <= noise or compared == 0 */
    bool regression; /* compared >= min_compared, raw > noise, relative > t.relative and
                        absolute > t.absolute (both strict) */
};

/* Applies Diffy's rule to one field of an endpoint with `compared` trials. */
struct regress_field_result regress_field(uint64_t raw, uint64_t noise, uint64_t compared,
                                          const struct regress_thresholds *t);

/* ---- histograms ---------------------------------------------------------------- */

/* The bucket holding a latency of `us` microseconds (clamped to REGRESS_BUCKETS-1). */
size_t regress_bucket_of(uint64_t us);

/* A bucket's representative value in microseconds: the geometric midpoint
 * GROWTH^(b-0.5) for b >= 1 (within 2% of every value in the bucket), 0 for
 * bucket 0 (integer latencies below 1 µs are 0). */
double regress_bucket_value_us(size_t b);

/* Sum of counts[0..nbuckets). counts may be NULL when nbuckets is 0. */
uint64_t regress_hist_total(const uint64_t *counts, size_t nbuckets);

/* Representative value (µs) of the bucket holding the rank-th smallest value
 * (1-based); rank is clamped to [1, total]. Returns 0 for an empty histogram. */
double regress_hist_rank_us(const uint64_t *counts, size_t nbuckets, uint64_t rank);

/* Quantile q in [0,1] by the nearest-rank method: the value at rank ceil(q*total)
 * (clamped to [1, total]), in µs; 0 for an empty histogram. This is what reports
 * show as p50/p90/p99. */
double regress_hist_quantile_us(const uint64_t *counts, size_t nbuckets, double q);

/* ---- latency rule --------------------------------------------------------------- */

/* One leg's latency histogram: `n` buckets of counts (borrowed). n == 0 means no
 * histogram (e.g. no secondary). */
struct regress_hist {
    const uint64_t *counts;
    size_t n;
};

struct regress_latency_result {
    bool regression;
    /* false when no regression could be shown at all: compared < min_compared, an
     * empty primary or candidate histogram, or the candidate's lower rank < 1. */
    bool evaluable;
    double candidate_ms; /* cand_lo: candidate value at rank floor(n*q - d) */
    double baseline_ms;  /* base_hi: max of primary/secondary at rank ceil(n*q + d) */
};

/* The rank-bound rule of DESIGN §6 for quantile q (0.5 or 0.99) over `compared`
 * trials: d = 2.33*sqrt(n*q*(1-q)); regression when cand_lo > latency_factor *
 * base_hi and cand_lo - base_hi > latency_min_ms, once compared >= min_compared.
 * A rank past a histogram's total reads its maximum. An empty secondary is
 * ignored (no noise subtraction). */
struct regress_latency_result regress_latency(uint64_t compared, double q,
                                              struct regress_hist primary,
                                              struct regress_hist secondary,
                                              struct regress_hist candidate,
                                              const struct regress_thresholds *t);

/* ---- verdict ---------------------------------------------------------------------- */

enum regress_verdict {
    REGRESS_PASS = 0,
    REGRESS_FAIL,         /* at least one regression */
    REGRESS_INSUFFICIENT, /* no regression and no endpoint reached min_compared */
};

/* fail when regressions > 0; otherwise insufficient when max_compared (the largest
 * endpoint `compared`) < min_compared or is 0; otherwise pass. */
enum regress_verdict regress_verdict_of(size_t regressions, uint64_t max_compared,
                                        uint64_t min_compared);

/* "pass", "fail", "insufficient". */
const char *regress_verdict_name(enum regress_verdict v);

/* Parses a verdict name; -1 when unknown. */
int regress_verdict_parse(const char *s, enum regress_verdict *out);

#endif
