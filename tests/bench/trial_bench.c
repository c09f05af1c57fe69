/* Memory and CPU benchmark of the analysis path (no network): N trials over
 * P distinct request paths go through analysis_worker_compare() exactly as an
 * analysis thread compares what the proxy hands
 * them over — normalize three ~1 KB JSON responses, two diffs, statistics,
 * samples — with --max-endpoints and the other limits at their defaults.
 * Prints the time per trial and the peak RSS of the whole process.
 *
 *   build/tests/bench/trial_bench [TRIALS [PATHS]]   (default 1000000 100000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "analysis.h"
#include "config.h"
#include "route.h"
#include "rules.h"
#include "stats.h"
#include "trial.h"
#include "util.h"

int main(int argc, char **argv);

static const char rules_text[] = "[*]\n"
                                 "ignore-header date x-request-id\n"
                                 "ignore $.request_id $.generated_at\n"
                                 "unordered $.tags\n"
                                 "tolerance $.score 0.001%\n";

/* A realistic ~1 KB body; `variant` changes the noisy fields, `bug` plants a
 * candidate difference. */
static void make_body(struct buf *b, unsigned path, unsigned trial, int variant, bool bug)
{
    buf_reset(b);
    buf_printf(b,
               "{\"request_id\":\"%08x-%04x-4%03x-a%03x-%012x\",\"generated_at\":"
               "\"2026-11-22T10:%02u:%02u.%03uZ\",\"user\":{\"id\":%u,\"name\":\"user %u\","
               "\"email\":\"user%u@example.com\",\"score\":%.9f,\"tags\":[",
               trial * 2654435761u + (unsigned)variant, variant, trial % 4096, path % 4096,
               trial ^ 0x5bd1e995u, trial % 60, variant * 7 % 60, trial % 1000, path, path, path,
               path * 0.37 + variant * 1e-12);
    static const char *const tags[] = {"\"gold\"", "\"eu\"", "\"beta\"", "\"mobile\""};
    for (int i = 0; i < 4; i++)
        buf_printf(b, "%s%s", i ? "," : "", tags[(i + variant) % 4]);
    buf_puts(b, "]},\"items\":[");
    for (int i = 0; i < 8; i++)
        buf_printf(b,
                   "%s{\"sku\":\"SKU-%05u\",\"qty\":%d,\"price\":%d.%02d,\"currency\":\"EUR\","
                   "\"warehouse\":\"w%d\"}",
                   i ? "," : "", path * 8 + (unsigned)i, i + 1, 10 + i, (int)(path % 100), i % 3);
    buf_printf(b, "],\"total\":%u.%02u,\"status\":\"ok\"}", path % 1000 + (bug ? 1 : 0),
               path % 100);
}

static void set_response(struct http_response *r, const struct buf *body, uint64_t latency)
{
    http_response_free(r);
    memset(r, 0, sizeof(*r));
    r->status = 200;
    headers_add(&r->headers, "Content-Type", 12, "application/json", 16);
    headers_add(&r->headers, "Date", 4, "Sun, 22 Nov 2026 10:00:00 GMT", 29);
    buf_append(&r->body, body->data, body->len);
    r->latency_us = latency;
}

int main(int argc, char **argv)
{
    long trials = argc > 1 ? atol(argv[1]) : 1000000;
    long paths = argc > 2 ? atol(argv[2]) : 100000;
    if (trials <= 0 || paths <= 0) {
        fprintf(stderr, "usage: %s [TRIALS [PATHS]]\n", argv[0]);
        return 2;
    }
    struct config cfg;
    char err[256];
    char *args[] = {"serve",    "--primary",   "http://p", "--secondary",
                    "http://s", "--candidate", "http://c"};
    if (config_parse_serve(&cfg, 7, args, err, sizeof(err)) != 0) {
        fprintf(stderr, "config: %s\n", err);
        return 2;
    }
    struct ruleset *rs = rules_new();
    if (rules_add_text(rs, "bench.rules", rules_text, strlen(rules_text), err, sizeof(err)) ||
        rules_finish(rs, err, sizeof(err))) {
        fprintf(stderr, "rules: %s\n", err);
        return 2;
    }
    struct sample_budget budget = {.max = cfg.max_samples};
    struct analysis_opts ao = {.cfg = &cfg, .sample_budget = &budget, .access_log_fd = -1};
    struct analysis_worker *aw = analysis_worker_new(&ao);

    struct trial *t = trial_new();
    struct buf body = {0};
    uint64_t start = now_us();
    for (long i = 0; i < trials; i++) {
        unsigned path = (unsigned)((unsigned long)i * 2654435761ul % (unsigned long)paths);
        char target[96];
        /* Half the paths have id segments (templated into a few endpoints),
         * half have distinct names (far more than --max-endpoints). */
        if (path % 2)
            snprintf(target, sizeof(target), "/users/%u/orders?page=%u", path, path % 7);
        else
            snprintf(target, sizeof(target), "/catalog/section-%u/items", path);
        t->req.method = (char *)"GET";
        t->req.target = target;
        snprintf(t->id, sizeof(t->id), "t-bench-0-%lx", i);
        route_resolve(rs, "GET", target, NULL, &t->route);
        bool bug = path % 50 == 0; /* a regression on 2% of paths */
        for (int r = 0; r < ROLE_COUNT; r++) {
            t->legs[r].active = true;
            make_body(&body, path, (unsigned)i, r, r == ROLE_CANDIDATE && bug);
            set_response(&t->legs[r].resp, &body, 800 + (uint64_t)(i % 97) * 13 + r);
        }
        analysis_worker_compare(aw, t);
        if (i % 100000 == 0 && i && isatty(STDERR_FILENO))
            fprintf(stderr, "\r%ld/%ld trials", i, trials);
    }
    uint64_t elapsed = now_us() - start;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r%*s\r", 30, "");
    printf("trials: %ld over %ld distinct paths, %zu endpoints tracked (max %ld + OTHER)\n", trials,
           paths, analysis_worker_stats(aw)->neps, cfg.max_endpoints);
    printf("time per trial: %.2f us (normalize 3 bodies + 2 diffs + statistics, one core)\n",
           (double)elapsed / (double)trials);
    printf("samples stored: %zu\n", analysis_worker_samples(aw)->n);
    printf("peak RSS: %.1f MB\n", ru.ru_maxrss / 1024.0);

    t->req.method = NULL; /* not the trial's */
    t->req.target = NULL;
    trial_free(t);
    buf_free(&body);
    analysis_worker_free(aw);
    rules_free(rs);
    config_free(&cfg);
    return 0;
}
