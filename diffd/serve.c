/* `diffd serve`: binds the listeners, starts the workers and the admin
 * thread, then waits for signals. SIGTERM/SIGINT drain and exit 0. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin.h"
#include "analysis.h"
#include "api.h"
#include "cli.h"
#include "config.h"
#include "liverules.h"
#include "samples.h"
#include "serve.h"
#include "state.h"
#include "stats.h"
#include "upstream.h"
#include "proxy.h"
#include "util.h"
#include "worker.h"

/* Opens a non-blocking listening socket on addr:port; with reuseport, one
 * of a group sharing the port (one per worker). */
static int listen_socket(const char *addr, int port, bool reuseport, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    int rc = getaddrinfo(addr, portstr, &hints, &res);
    if (rc != 0)
        return errf(err, errlen, "--listen: cannot resolve \"%s\": %s", addr, gai_strerror(rc));
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        errf(err, errlen, "--listen: socket: %s", strerror(errno));
        goto out;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) == -1 || listen(fd, 4096) == -1) {
        errf(err, errlen, "--listen: cannot listen on %s:%d: %s", addr, port, strerror(errno));
        close(fd);
        fd = -1;
    }
out:
    freeaddrinfo(res);
    return fd;
}

static int bound_port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

/* --state at start: restore into ctx->base, or discard with --reset-state.
 * A file that exists but cannot be used stops the start. */
static int restore_state(const struct config *cfg, struct serve_ctx *ctx)
{
    char err[512];
    if (cfg->reset_state) {
        if (unlink(cfg->state_file) == 0)
            fprintf(stderr, "diffd: --reset-state: discarded %s\n", cfg->state_file);
        else if (errno != ENOENT) {
            fprintf(stderr, "diffd serve: --reset-state: cannot remove %s: %s\n", cfg->state_file,
                    strerror(errno));
            return -1;
        }
        return 0;
    }
    ctx->base = stats_new((size_t)cfg->max_endpoints, (size_t)cfg->samples_per_field);
    int rc = state_load(cfg->state_file, ctx->base, &ctx->base_samples,
                        liverules_current(ctx->rules), err, sizeof(err));
    if (rc == -1) {
        fprintf(stderr, "diffd serve: %s\n", err);
        return -1;
    }
    if (rc == 1) {
        fprintf(stderr, "diffd: state file %s does not exist yet; starting empty\n",
                cfg->state_file);
        return 0;
    }
    atomic_store(&ctx->sample_budget.used, (long)ctx->base_samples.n);
    fprintf(stderr, "diffd: restored %llu compared trials and %zu samples from %s\n",
            (unsigned long long)ctx->base->totals_compared, ctx->base_samples.n, cfg->state_file);
    return 0;
}

/* At shutdown, with every worker and analysis thread stopped: base + all
 * shards to the file. */
static int save_final_state(const struct config *cfg, struct serve_ctx *ctx, struct worker *workers,
                            int n)
{
    char err[512];
    struct stats *s = stats_new((size_t)cfg->max_endpoints, (size_t)cfg->samples_per_field);
    struct sample_store samples = {0};
    if (ctx->base)
        stats_merge(s, ctx->base);
    samples_copy_into(&samples, &ctx->base_samples);
    for (int i = 0; i < n; i++)
        stats_merge(s, proxy_shard(workers[i].px));
    if (ctx->analysis)
        analysis_merge_into(ctx->analysis, s, &samples);
    int rc =
        state_save(cfg->state_file, s, &samples, liverules_current(ctx->rules), err, sizeof(err));
    if (rc == -1)
        fprintf(stderr, "diffd: %s\n", err);
    else
        fprintf(stderr, "diffd: state written to %s\n", cfg->state_file);
    stats_free(s);
    samples_clear(&samples);
    return rc;
}

static void print_summary(struct serve_ctx *ctx, struct worker *ws, int n)
{
    struct api_env env = {ctx, ws, n};
    struct api_live l;
    api_live(&env, &l);
    fprintf(stderr,
            "diffd: stopped: %llu requests, %llu trials compared, skipped %llu side-effect, "
            "%llu overload, %llu analysis\n",
            (unsigned long long)l.received, (unsigned long long)l.compared,
            (unsigned long long)l.skipped[STATS_SKIP_SIDE_EFFECT],
            (unsigned long long)l.skipped[STATS_SKIP_OVERLOAD],
            (unsigned long long)l.skipped[STATS_SKIP_ANALYSIS]);
    for (int r = 0; r < ROLE_COUNT; r++) {
        uint64_t total = 0;
        for (int k = 0; k < STATUS_CLASSES; k++)
            total += l.legs[r][k];
        if (!total)
            continue;
        fprintf(
            stderr,
            "diffd:   %-9s 2xx %llu  3xx %llu  4xx %llu  5xx %llu  error %llu  mean %.2f ms\n",
            role_name(r), (unsigned long long)l.legs[r][STATUS_2XX],
            (unsigned long long)l.legs[r][STATUS_3XX], (unsigned long long)l.legs[r][STATUS_4XX],
            (unsigned long long)l.legs[r][STATUS_5XX], (unsigned long long)l.legs[r][STATUS_ERROR],
            l.leg_latency_us[r] / 1000.0 / (double)total);
    }
}

int serve_main(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    int rc = config_parse_serve(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1) {
        config_free(&cfg);
        return 0;
    }
    if (rc == -1) {
        fprintf(stderr, "diffd serve: %s\n", err);
        config_free(&cfg);
        return 2;
    }

    int status = 2;
    struct liverules *rules = NULL;
    struct worker *workers = NULL;
    int n_started = 0, n_init = 0;
    struct admin *admin = NULL;
    struct serve_ctx ctx = {.cfg = &cfg, .access_log_fd = -1};
    ctx.sample_budget.max = cfg.max_samples;
    snprintf(ctx.id_prefix, sizeof(ctx.id_prefix), "%06llx",
             (unsigned long long)(hash64(&ctx, sizeof(&ctx)) ^ now_us()) & 0xffffffull);

    /* Signals: workers and admin never see them; this thread waits for them. */
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    rules = liverules_new(cfg.rules_paths, cfg.n_rules_paths);
    if (!rules)
        goto out;
    ctx.rules = rules;
    atomic_store(&ctx.sample_ppm, (uint_fast64_t)(cfg.sample_percent * 1e4 + 0.5));
    if (cfg.state_file && restore_state(&cfg, &ctx) == -1)
        goto out;
    if (upstream_global_init() == -1) {
        fprintf(stderr, "diffd serve: cannot initialize libcurl\n");
        goto out;
    }
    if (cfg.access_log) {
        if (strcmp(cfg.access_log, "-") == 0)
            ctx.access_log_fd = dup(STDOUT_FILENO);
        else
            ctx.access_log_fd =
                open(cfg.access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (ctx.access_log_fd == -1) {
            fprintf(stderr, "diffd serve: --access-log %s: %s\n", cfg.access_log, strerror(errno));
            goto out;
        }
    }

    struct analysis_opts ao = {.cfg = &cfg,
                               .sample_budget = &ctx.sample_budget,
                               .access_log_fd = ctx.access_log_fd,
                               .threads = cfg.analysis_threads,
                               .max_bytes = cfg.analysis_queue_bytes,
                               .max_trials = cfg.analysis_queue_trials,
                               .nice = 10};
    ctx.analysis = analysis_new(&ao, err, sizeof(err));
    if (!ctx.analysis || analysis_start(ctx.analysis, err, sizeof(err)) == -1) {
        fprintf(stderr, "diffd serve: %s\n", err);
        goto out;
    }

    /* SO_REUSEPORT would let us join a port another process listens on and
     * silently split its traffic: claim the port alone first (this also picks
     * the port for --listen ADDR:0), then open the workers' shared sockets. */
    int probe = listen_socket(cfg.listen_addr, cfg.listen_port, false, err, sizeof(err));
    if (probe == -1) {
        fprintf(stderr, "diffd serve: %s\n", err);
        goto out;
    }
    int port = bound_port_of(probe);
    close(probe);
    workers = xcalloc((size_t)cfg.threads, sizeof(*workers));
    for (int i = 0; i < cfg.threads; i++) {
        int fd = listen_socket(cfg.listen_addr, port, true, err, sizeof(err));
        if (fd == -1) {
            fprintf(stderr, "diffd serve: %s\n", err);
            goto out;
        }
        if (worker_init(&workers[i], i, &ctx, fd, err, sizeof(err)) == -1) {
            n_init = i + 1;
            fprintf(stderr, "diffd serve: %s\n", err);
            goto out;
        }
        n_init = i + 1;
    }
    int admin_port = 0;
    admin = admin_start(&ctx, workers, cfg.threads, cfg.admin_addr, cfg.admin_port, &admin_port,
                        err, sizeof(err));
    if (!admin) {
        fprintf(stderr, "diffd serve: %s\n", err);
        goto out;
    }
    for (int i = 0; i < cfg.threads; i++) {
        if (worker_start(&workers[i]) == -1) {
            fprintf(stderr, "diffd serve: cannot start worker thread %d\n", i);
            goto out;
        }
        n_started = i + 1;
    }
    fprintf(stderr, "diffd: listening proxy=%s:%d admin=%s:%d threads=%d analysis-threads=%d\n",
            cfg.listen_addr, port, cfg.admin_addr, admin_port, cfg.threads, cfg.analysis_threads);

    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            liverules_reload(rules, err, sizeof(err)); /* logs either way */
            continue;
        }
        fprintf(stderr, "diffd: %s: finishing trials in flight\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    status = 0;

out:
    admin_quiesce(admin);
    for (int i = 0; i < n_started; i++)
        worker_drain(&workers[i]);
    for (int i = 0; i < n_started; i++)
        worker_join(&workers[i]);
    /* Every leg finished (or ran out of time): compare what is queued, for
     * up to --timeout, before the final snapshot. */
    if (ctx.analysis) {
        size_t left = analysis_drain(ctx.analysis, cfg.timeout_ms);
        if (left)
            fprintf(stderr,
                    "diffd: %zu finished trials not compared within --timeout; counted as "
                    "skipped.analysis\n",
                    left);
    }
    admin_stop(admin);
    if (status == 0 && cfg.state_file && save_final_state(&cfg, &ctx, workers, n_started) == -1)
        status = 2;
    if (status == 0)
        print_summary(&ctx, workers, n_started);
    for (int i = 0; i < n_init; i++)
        worker_free(&workers[i]);
    free(workers);
    analysis_free(ctx.analysis);
    if (ctx.access_log_fd != -1)
        close(ctx.access_log_fd);
    upstream_global_cleanup();
    liverules_free(rules);
    stats_free(ctx.base);
    samples_clear(&ctx.base_samples);
    config_free(&cfg);
    return status;
}
