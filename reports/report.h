/* The report document of reports/README.md as C data: load it from a file or a live
 * diffd's admin API, merge several, recompute every derived value with diffd/regress,
 * write it back as JSON and apply the CI gates of `diffd check`.
 * Ownership: a struct report owns every string and array it points to; report_free()
 * releases it all. Strings come from traffic (endpoint names, paths): renderers must
 * escape them. */
#ifndef DIFFD_REPORT_H
#define DIFFD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "regress.h"
#include "util.h"

enum report_leg { REPORT_PRIMARY, REPORT_SECONDARY, REPORT_CANDIDATE, REPORT_LEGS };
enum report_skip {
    REPORT_SKIP_SIDE_EFFECT,
    REPORT_SKIP_OVERLOAD,
    REPORT_SKIP_RULE,
    REPORT_SKIP_ANALYSIS,
    REPORT_SKIPS,
};

/* "primary", "secondary", "candidate" / "side_effect", "overload", "rule". */
const char *report_leg_name(enum report_leg leg);
const char *report_skip_name(enum report_skip s);

/* Named counters whose names are open-ended (difference kinds, status classes):
 * merged by name, written back in the order first seen. */
struct report_count {
    char *name;
    uint64_t n;
};

struct report_counts {
    struct report_count *v;
    size_t n;
};

struct report_field {
    char *path;
    uint64_t raw, noise;
    struct report_counts kinds, noise_kinds;
    char **samples;
    size_t nsamples;
    /* derived (report_recompute) */
    double relative, absolute;
    bool regression;
};

struct report_latency {
    uint64_t n;
    double p50, p90, p99; /* ms */
};

struct report_endpoint {
    char *name;
    uint64_t received, sampled, compared;
    uint64_t skipped[REPORT_SKIPS];
    uint64_t differing_raw, differing_noise;
    struct report_field *fields;
    size_t nfields;
    uint64_t fields_dropped;
    /* Dense histograms: hist[leg][b] = count of bucket b, hist_len[leg] buckets
     * (<= REGRESS_BUCKETS; 0 = empty). */
    uint64_t *hist[REPORT_LEGS];
    size_t hist_len[REPORT_LEGS];
    struct report_counts status[REPORT_LEGS];
    /* derived */
    struct report_latency latency[REPORT_LEGS];
    bool latency_regression;
};

struct report_rule {
    char *file;
    long line;
    char *text;
    uint64_t matched;
};

enum report_regression_type { REPORT_REG_FIELD, REPORT_REG_LATENCY };

/* One entry of `regressions` (derived). */
struct report_regression {
    enum report_regression_type type;
    char *endpoint;
    char *path;     /* field regressions */
    char *quantile; /* latency regressions: "p50" or "p99" */
    uint64_t raw, noise, compared;
    double relative, absolute;
    double candidate_ms, baseline_ms;
    char *detail;
};

struct report {
    char *diffd;        /* version of the diffd that wrote it, may be NULL */
    char *generated_at; /* may be NULL */
    char *backends[REPORT_LEGS];
    bool noise_subtraction;
    struct regress_thresholds thresholds;
    uint64_t received, sampled, compared;
    uint64_t skipped[REPORT_SKIPS];
    struct report_endpoint *endpoints;
    size_t nendpoints;
    struct report_rule *rules;
    size_t nrules;
    /* derived */
    struct report_regression *regressions;
    size_t nregressions;
    enum regress_verdict verdict;
};

/* An empty report (no endpoints, default thresholds, noise subtraction on).
 * Caller frees with report_free(). */
struct report *report_new(void);
void report_free(struct report *r);

/* Parses a report document (len bytes, need not be NUL-terminated). `source` (a file
 * name or URL) starts every error message: "r.json:3:14: invalid JSON",
 * "r.json: endpoints[2].compared: expected a non-negative integer". Derived values
 * in the input (relative, regression, latency_ms, regressions, verdict) are read but
 * not trusted: call report_recompute(). Returns NULL on error. Caller frees. */
struct report *report_parse(const char *json, size_t len, const char *source, char *err,
                            size_t errlen);

/* Reads and parses a file. NULL with "path: reason" in err on error. */
struct report *report_load_file(const char *path, char *err, size_t errlen);

/* GETs <admin_url>/api/v1/report (admin_url may already end with it) with
 * `Authorization: Bearer token` when token is not NULL. Errors name the URL and the
 * cause: unreachable, HTTP 401 (token missing or wrong), other status, bad JSON. */
struct report *report_fetch(const char *admin_url, const char *token, char *err, size_t errlen);

/* Adds every counter and histogram of `from` into `into` (endpoints by name, fields
 * by path, rules by file+line), unions sample ids (capped) and keeps `into`'s
 * thresholds. Derived values are stale afterwards: call report_recompute(). */
void report_merge(struct report *into, const struct report *from);

/* Recomputes relative/absolute/regression per field, latency_ms, latency_regression,
 * the regressions list and the verdict from the counters and r->thresholds. */
void report_recompute(struct report *r);

/* The report as JSON (reports/README.md schema), appended to out. */
void report_to_json(const struct report *r, struct buf *out);

/* Gates of `diffd check` (DESIGN §2). */
struct report_gates {
    uint64_t max_regressions; /* more counted regressions than this fails [0] */
    bool fail_on_field;       /* field regressions count [true] */
    bool fail_on_latency;     /* latency regressions count [true] */
    bool allow_insufficient;  /* verdict insufficient passes [false] */
};

void report_gates_default(struct report_gates *g);

/* Applies the gates to a recomputed report: returns 0 (pass) or 1 (fail) and writes
 * a one-line reason ("2 regressions (max 0)", "insufficient data: ...") to why. */
int report_gate(const struct report *r, const struct report_gates *g, char *why, size_t whylen);

/* Regressions listed for the endpoint called name. */
size_t report_endpoint_regressions(const struct report *r, const char *name);

/* Number of regressions of the types the gates count. */
size_t report_counted_regressions(const struct report *r, const struct report_gates *g);

/* Escapes s for XML/HTML text and attribute values (& < > " ' as entities, tab and
 * newline as character references; other control characters and invalid UTF-8 become
 * U+FFFD), appended to out. Shared by the JUnit and HTML renderers. */
void report_xml_escape(struct buf *out, const char *s);

/* Formats a millisecond figure for people: "0.412", "12.3", "1520". */
void report_fmt_ms(char *out, size_t outlen, double ms);

#endif
