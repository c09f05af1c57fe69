/* `diffd serve` options: a table of flags with defaults, parsed into struct
 * config. Every error names the flag and the value that was refused. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

const char *role_name(int role)
{
    static const char *const names[] = {"primary", "secondary", "candidate", "none"};
    return (role >= 0 && role <= ROLE_COUNT) ? names[role] : "?";
}

static void backend_free(struct backend *b)
{
    free(b->url);
    free(b->scheme);
    free(b->hostport);
    free(b->base);
    memset(b, 0, sizeof(*b));
}

void config_free(struct config *cfg)
{
    for (int i = 0; i < ROLE_COUNT; i++)
        backend_free(&cfg->backends[i]);
    free(cfg->listen_addr);
    free(cfg->admin_addr);
    for (size_t i = 0; i < cfg->n_rules_paths; i++)
        free(cfg->rules_paths[i]);
    free(cfg->rules_paths);
    free(cfg->sample_key_name);
    free(cfg->access_log);
    free(cfg->ca_file);
    free(cfg->state_file);
    free(cfg->admin_token);
    memset(cfg, 0, sizeof(*cfg));
}

int config_parse_hostport(const char *s, const char *default_addr, char **addr, int *port)
{
    const char *colon = NULL;
    char *host = NULL;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return -1;
        host = xstrndup(s + 1, (size_t)(end - s - 1));
        colon = end + 1;
    } else if ((colon = strrchr(s, ':')) != NULL) {
        host = xstrndup(s, (size_t)(colon - s));
    } else {
        host = xstrdup(default_addr);
        colon = s - 1;
    }
    char *end = NULL;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno || p < 0 || p > 65535 || host[0] == '\0') {
        free(host);
        return -1;
    }
    *addr = host;
    *port = (int)p;
    return 0;
}

int config_parse_backend(struct backend *b, const char *url, char *err, size_t errlen)
{
    const char *rest;
    const char *scheme;
    if (strncmp(url, "http://", 7) == 0) {
        scheme = "http";
        rest = url + 7;
    } else if (strncmp(url, "https://", 8) == 0) {
        scheme = "https";
        rest = url + 8;
    } else {
        return errf(err, errlen, "\"%s\" is not an http:// or https:// URL", url);
    }
    size_t hlen = strcspn(rest, "/?#");
    if (hlen == 0)
        return errf(err, errlen, "\"%s\" has no host", url);
    if (rest[hlen] == '?' || rest[hlen] == '#')
        return errf(err, errlen, "\"%s\": a backend URL takes no query or fragment", url);
    for (size_t i = 0; i < hlen; i++)
        if (rest[i] == '@' || rest[i] == ' ')
            return errf(err, errlen, "\"%s\": bad character in host", url);
    /* host[:port] or [v6]:port; a port, when given, is 1-65535. */
    const char *hend = rest + hlen;
    const char *colon = NULL;
    if (rest[0] == '[') {
        const char *br = memchr(rest, ']', hlen);
        if (!br || br == rest + 1)
            return errf(err, errlen, "\"%s\": malformed IPv6 host", url);
        if (br + 1 < hend && br[1] != ':')
            return errf(err, errlen, "\"%s\": malformed IPv6 host", url);
        colon = br + 1 < hend ? br + 1 : NULL;
    } else {
        colon = memchr(rest, ':', hlen);
        if (colon == rest)
            return errf(err, errlen, "\"%s\" has no host", url);
    }
    if (colon) {
        size_t plen0 = (size_t)(hend - colon - 1);
        long port = 0;
        for (size_t i = 1; i <= plen0; i++) {
            if (colon[i] < '0' || colon[i] > '9' || port > 65535) {
                port = -1;
                break;
            }
            port = port * 10 + (colon[i] - '0');
        }
        if (plen0 == 0 || port < 1 || port > 65535)
            return errf(err, errlen, "\"%s\": the port must be a number from 1 to 65535", url);
    }
    const char *path = rest + hlen;
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    if (strpbrk(path, "?# ") != NULL)
        return errf(err, errlen, "\"%s\": a backend URL takes no query or fragment", url);
    backend_free(b);
    b->url = xstrdup(url);
    b->scheme = xstrdup(scheme);
    b->hostport = xstrndup(rest, hlen);
    b->base = xasprintf("%s://%.*s%.*s", scheme, (int)hlen, rest, (int)plen, path);
    b->configured = true;
    return 0;
}

/* Numbers: the whole string must parse and be within [lo, hi]. */
static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno || isnan(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_size(const char *s, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || s[0] == '-')
        return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024ull, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024ull * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ull * 1024 * 1024, end++;
    if ((*end == 'b' || *end == 'B') && mul > 1)
        end++;
    if (*end != '\0' || v == 0 || v > (1ull << 40) / mul)
        return -1;
    *out = (size_t)(v * mul);
    return 0;
}

/* ---- the option table ------------------------------------------------------
 *
 * Every `serve` option is one row: its name, its argument, how the value is
 * parsed and checked, where it is stored, its default and its help. Parsing,
 * defaults and `--help` all come from the rows, so an option cannot be
 * documented without existing or exist without being documented (the model is
 * redis's config.c). */

enum opt_type {
    OPT_BOOL,   /* no value: sets a bool */
    OPT_STRING, /* any value, copied */
    OPT_LONG,   /* integer in [lo, hi] */
    OPT_INT,    /* the same into an int */
    OPT_DOUBLE, /* number in [lo, hi] */
    OPT_SIZE,   /* byte count with k/m/g suffix */
    OPT_CUSTOM, /* parsed by the row's function */
};

struct opt_def {
    const char *group; /* starts a --help section; NULL continues the one above */
    const char *name;
    const char *arg; /* the value's name in --help; NULL for OPT_BOOL */
    enum opt_type type;
    size_t offset; /* of the field in struct config */
    double lo, hi; /* bounds of OPT_LONG, OPT_INT, OPT_DOUBLE */
    /* "is not <what>" in errors of numbers; NULL: "a number from lo to hi". */
    const char *what;
    int (*parse)(struct config *cfg, const char *v, char *err, size_t errlen);
    /* The default, applied through the same parser before argv is read (NULL:
     * zero / off / none); show, when set, is what --help says instead. */
    const char *def;
    const char *show;
    const char *help; /* lines separated by \n */
};

#define CFG(field) offsetof(struct config, field)

static int set_backend(struct config *cfg, int role, const char *v, char *err, size_t errlen)
{
    char msg[256];
    if (config_parse_backend(&cfg->backends[role], v, msg, sizeof(msg)) == -1)
        return errf(err, errlen, "%s", msg);
    return 0;
}

static int opt_primary(struct config *cfg, const char *v, char *err, size_t errlen)
{
    return set_backend(cfg, ROLE_PRIMARY, v, err, errlen);
}

static int opt_secondary(struct config *cfg, const char *v, char *err, size_t errlen)
{
    return set_backend(cfg, ROLE_SECONDARY, v, err, errlen);
}

static int opt_candidate(struct config *cfg, const char *v, char *err, size_t errlen)
{
    return set_backend(cfg, ROLE_CANDIDATE, v, err, errlen);
}

static int set_hostport(char **addr, int *port, const char *v, char *err, size_t errlen)
{
    char *a = NULL;
    int p = 0;
    if (config_parse_hostport(v, "127.0.0.1", &a, &p) == -1)
        return errf(err, errlen, "\"%s\" is not [ADDR:]PORT with PORT 0-65535", v);
    free(*addr);
    *addr = a;
    *port = p;
    return 0;
}

static int opt_listen(struct config *cfg, const char *v, char *err, size_t errlen)
{
    return set_hostport(&cfg->listen_addr, &cfg->listen_port, v, err, errlen);
}

static int opt_admin(struct config *cfg, const char *v, char *err, size_t errlen)
{
    return set_hostport(&cfg->admin_addr, &cfg->admin_port, v, err, errlen);
}

static int opt_rules(struct config *cfg, const char *v, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    cfg->rules_paths =
        xrealloc(cfg->rules_paths, (cfg->n_rules_paths + 1) * sizeof(*cfg->rules_paths));
    cfg->rules_paths[cfg->n_rules_paths++] = xstrdup(v);
    return 0;
}

static int opt_sample_key(struct config *cfg, const char *v, char *err, size_t errlen)
{
    if (strncmp(v, "header:", 7) == 0 && v[7]) {
        cfg->sample_key_kind = SAMPLE_KEY_HEADER;
        v += 7;
    } else if (strncmp(v, "query:", 6) == 0 && v[6]) {
        cfg->sample_key_kind = SAMPLE_KEY_QUERY;
        v += 6;
    } else {
        return errf(err, errlen, "\"%s\" is not header:NAME or query:NAME", v);
    }
    free(cfg->sample_key_name);
    cfg->sample_key_name = xstrdup(v);
    return 0;
}

static int opt_respond(struct config *cfg, const char *v, char *err, size_t errlen)
{
    for (int r = 0; r <= ROLE_COUNT; r++)
        if (strcmp(v, role_name(r)) == 0) {
            cfg->respond = r;
            return 0;
        }
    return errf(err, errlen, "\"%s\" is not one of primary, secondary, candidate, none", v);
}

static int opt_ca_file(struct config *cfg, const char *v, char *err, size_t errlen)
{
    if (access(v, R_OK) == -1)
        return errf(err, errlen, "cannot read \"%s\": %s", v, strerror(errno));
    free(cfg->ca_file);
    cfg->ca_file = xstrdup(v);
    return 0;
}

static int opt_admin_token(struct config *cfg, const char *v, char *err, size_t errlen)
{
    if (!*v)
        return errf(err, errlen, "the token is empty");
    free(cfg->admin_token);
    cfg->admin_token = xstrdup(v);
    return 0;
}

static const struct opt_def options[] = {
    {"Backends", "primary", "URL", OPT_CUSTOM, 0, 0, 0, NULL, opt_primary, NULL, "required",
     "current version: http:// or https:// base URL, optional path\n"
     "prefix (http://10.0.0.5:8080/api)"},
    {NULL, "secondary", "URL", OPT_CUSTOM, 0, 0, 0, NULL, opt_secondary, NULL, "none",
     "second instance of the current version; measures noise.\n"
     "Omit it and nothing is subtracted as noise"},
    {NULL, "candidate", "URL", OPT_CUSTOM, 0, 0, 0, NULL, opt_candidate, NULL, "required",
     "new version under test"},
    {NULL, "ca-file", "FILE", OPT_CUSTOM, 0, 0, 0, NULL, opt_ca_file, NULL, "system CAs",
     "CA certificates (PEM) trusted for https:// backends, e.g. a\n"
     "private CA; certificates are always verified"},

    {"Listeners", "listen", "[ADDR:]PORT", OPT_CUSTOM, 0, 0, 0, NULL, opt_listen, "127.0.0.1:8880",
     NULL, "proxy listener (port 0 picks a free port)"},
    {NULL, "admin", "[ADDR:]PORT", OPT_CUSTOM, 0, 0, 0, NULL, opt_admin, "127.0.0.1:8888", NULL,
     "admin API, dashboard, /metrics, /healthz"},
    {NULL, "admin-token", "TOKEN", OPT_CUSTOM, 0, 0, 0, NULL, opt_admin_token, NULL, "none",
     "require 'Authorization: Bearer TOKEN' on /api/ and /metrics\n"
     "(or env DIFFD_ADMIN_TOKEN)"},

    {"What is compared", "rules", "PATH", OPT_CUSTOM, 0, 0, 0, NULL, opt_rules, NULL, "none",
     "a .rules file or a directory of *.rules; may repeat"},
    {NULL, "sample", "PERCENT", OPT_DOUBLE, CFG(sample_percent), 0, 100,
     "a percentage from 0 to 100", NULL, "100", NULL, "share of requests compared, 0-100"},
    {NULL, "sample-key", "header:NAME|query:NAME", OPT_CUSTOM, 0, 0, 0, NULL, opt_sample_key, NULL,
     "random",
     "sample consistently per value of that header or query\n"
     "parameter (same value, same decision)"},
    {NULL, "allow-side-effects", NULL, OPT_BOOL, CFG(allow_side_effects), 0, 0, NULL, NULL, NULL,
     "off",
     "also send POST/PUT/PATCH/DELETE to all three backends;\n"
     "without it they go only to the --respond backend and are\n"
     "counted as skipped.side_effect"},

    {"What the client gets", "respond", "primary|secondary|candidate|none", OPT_CUSTOM, 0, 0, 0,
     NULL, opt_respond, "primary", NULL,
     "whose response is returned, as soon as it arrives; 'none'\n"
     "answers 202 once the request is read (for mirrors)"},
    {NULL, "wait-all", NULL, OPT_BOOL, CFG(wait_all), 0, 0, NULL, NULL, NULL, "off",
     "answer only after all three legs finished (paces a replay\n"
     "by the slowest backend)"},
    {NULL, "preserve-host", NULL, OPT_BOOL, CFG(preserve_host), 0, 0, NULL, NULL, NULL, "off",
     "send the client's Host (a '-shadow' suffix removed) instead\n"
     "of each backend's own"},

    {"Limits", "timeout", "MS", OPT_LONG, CFG(timeout_ms), 1, 3600000,
     "milliseconds from 1 to 3600000", NULL, "10000", NULL,
     "per-leg timeout; the client gets 504 from its leg"},
    {NULL, "connect-timeout", "MS", OPT_LONG, CFG(connect_timeout_ms), 1, 3600000,
     "milliseconds from 1 to 3600000", NULL, "1000", NULL, "per-leg connect timeout"},
    {NULL, "max-body", "BYTES", OPT_SIZE, CFG(max_body), 0, 0, "a size like 8m, 512k or 65536",
     NULL, "8m", NULL, "largest request or response body (k/m suffixes)"},
    {NULL, "max-inflight", "N", OPT_LONG, CFG(max_inflight), 1, 10000000, "a number from 1", NULL,
     "4096", NULL,
     "trials in progress (split evenly over threads); past it\n"
     "requests are still proxied but not compared"},
    {NULL, "threads", "N", OPT_INT, CFG(threads), 1, 256, "a number from 1 to 256", NULL, NULL,
     "online CPUs", "proxy worker threads, each with its own event loop"},

    {"Comparison", "analysis-threads", "N", OPT_INT, CFG(analysis_threads), 1, 256,
     "a number from 1 to 256", NULL, NULL, "online CPUs",
     "threads that normalize and diff finished trials, at a\n"
     "lower CPU priority than the proxy workers (SCHED_BATCH,\n"
     "nice +10)"},
    {NULL, "analysis-queue-bytes", "BYTES", OPT_SIZE, CFG(analysis_queue_bytes), 0, 0,
     "a size like 256m, 64m or 1g", NULL, "256m", NULL,
     "bytes of finished trials (bodies, headers) waiting for the\n"
     "analysis threads; a trial that does not fit is not compared\n"
     "and counts as skipped.analysis"},
    {NULL, "analysis-queue-trials", "N", OPT_LONG, CFG(analysis_queue_trials), 1, 10000000,
     "a number from 1", NULL, "65536", NULL,
     "finished trials waiting for the analysis threads; past it\n"
     "they count as skipped.analysis"},
    {"Verdicts", "threshold-relative", "PCT", OPT_DOUBLE, CFG(threshold_relative), 0, 100,
     "a percentage from 0 to 100", NULL, "20", NULL,
     "field regression: (raw-noise)/(raw+noise) above"},
    {NULL, "threshold-absolute", "PCT", OPT_DOUBLE, CFG(threshold_absolute), 0, 100,
     "a percentage from 0 to 100", NULL, "0.03", NULL,
     "field regression: (raw-noise)/compared above"},
    {NULL, "latency-factor", "F", OPT_DOUBLE, CFG(latency_factor), 1, 1000,
     "a factor from 1 to 1000", NULL, "1.5", NULL,
     "latency regression: candidate above F x baseline"},
    {NULL, "latency-min-ms", "MS", OPT_DOUBLE, CFG(latency_min_ms), 0, 3600000, "milliseconds",
     NULL, "5", NULL, "... and slower by more than MS"},
    {NULL, "min-compared", "N", OPT_LONG, CFG(min_compared), 0, 100000000, "a number from 0", NULL,
     "10", NULL, "trials an endpoint needs before any verdict"},
    {NULL, "max-endpoints", "N", OPT_LONG, CFG(max_endpoints), 1, 100000000, "a number from 1",
     NULL, "1000", NULL, "endpoints tracked; the rest count under OTHER"},
    {NULL, "samples-per-field", "N", OPT_LONG, CFG(samples_per_field), 0, 100000000,
     "a number from 0", NULL, "5", NULL, "stored example trials per differing field"},
    {NULL, "max-samples", "N", OPT_LONG, CFG(max_samples), 0, 100000000, "a number from 0", NULL,
     "2000", NULL, "stored example trials in all"},

    {"State and logs", "state", "FILE", OPT_STRING, CFG(state_file), 0, 0, NULL, NULL, NULL, "none",
     "persist results there and restore them at start"},
    {NULL, "snapshot-interval", "SEC", OPT_LONG, CFG(snapshot_interval_s), 1, 100000000,
     "a number from 1", NULL, "5", NULL, "how often the state file is written"},
    {NULL, "reset-state", NULL, OPT_BOOL, CFG(reset_state), 0, 0, NULL, NULL, NULL, "off",
     "discard an existing state file at start"},
    {NULL, "access-log", "FILE", OPT_STRING, CFG(access_log), 0, 0, NULL, NULL, NULL, "none",
     "one JSON line per trial ('-' for stdout)"},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Applies one row to a value. Returns 0, or -1 with err naming the flag. */
static int apply(struct config *cfg, const struct opt_def *o, const char *v, char *err,
                 size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    char msg[256];
    double d;
    long l;
    switch (o->type) {
    case OPT_BOOL:
        *(bool *)field = true;
        return 0;
    case OPT_STRING:
        free(*(char **)field);
        *(char **)field = xstrdup(v);
        return 0;
    case OPT_LONG:
    case OPT_INT:
        if (parse_long(v, (long)o->lo, (long)o->hi, &l) == -1)
            break;
        if (o->type == OPT_INT)
            *(int *)field = (int)l;
        else
            *(long *)field = l;
        return 0;
    case OPT_DOUBLE:
        if (parse_double(v, o->lo, o->hi, &d) == -1)
            break;
        *(double *)field = d;
        return 0;
    case OPT_SIZE:
        if (parse_size(v, (size_t *)field) == -1)
            break;
        return 0;
    case OPT_CUSTOM:
        if (o->parse(cfg, v, msg, sizeof(msg)) == -1)
            return errf(err, errlen, "--%s: %s", o->name, msg);
        return 0;
    }
    if (o->what)
        return errf(err, errlen, "--%s: \"%s\" is not %s", o->name, v, o->what);
    return errf(err, errlen, "--%s: \"%s\" is not a number from %g to %g", o->name, v, o->lo,
                o->hi);
}

static void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->respond = ROLE_PRIMARY;
    char err[256];
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].def && apply(cfg, &options[i], options[i].def, err, sizeof(err)) == -1)
            abort(); /* a default that does not parse is a bug in the table */
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cpus > 0 ? (int)cpus : 1;
    cfg->analysis_threads = cfg->threads;
    const char *tok = getenv("DIFFD_ADMIN_TOKEN");
    if (tok && *tok)
        cfg->admin_token = xstrdup(tok);
}

static const char help_head[] =
    "usage: diffd serve --primary URL [--secondary URL] --candidate URL [options]\n"
    "\n"
    "Receives mirrored HTTP traffic, sends each sampled request to the primary (current\n"
    "version), the secondary (a second instance of it) and the candidate (new version) at\n"
    "once, answers the client from one of them and compares the three responses.\n";

static const char help_tail[] =
    "\n"
    "Process: --threads proxy workers only proxy; a trial whose legs are done is handed,\n"
    "with its buffers, to the --analysis-threads through a queue bounded by\n"
    "--analysis-queue-bytes and --analysis-queue-trials. What does not fit is shed from\n"
    "comparison and counted as skipped.analysis: the client path is never slowed.\n"
    "\n"
    "Signals: SIGTERM/SIGINT finish trials in flight, compare what is queued (both up to\n"
    "--timeout) and exit 0; SIGHUP reloads the rules.\n";

#define HELP_COL 27

static void help_write(struct buf *b)
{
    buf_puts(b, help_head);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct opt_def *o = &options[i];
        if (o->group)
            buf_printf(b, "\n%s:\n", o->group);
        size_t start = b->len;
        buf_printf(b, "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        size_t used = b->len - start;
        if (used >= HELP_COL) {
            buf_puts(b, "\n");
            used = 0;
        }
        const char *line = o->help;
        for (;;) {
            const char *nl = strchr(line, '\n');
            size_t n = nl ? (size_t)(nl - line) : strlen(line);
            buf_printf(b, "%*s%.*s", (int)(HELP_COL - used), "", (int)n, line);
            used = 0;
            if (!nl)
                break;
            buf_puts(b, "\n");
            line = nl + 1;
        }
        const char *shown = o->show ? o->show : o->def;
        buf_printf(b, "  [%s]\n", shown ? shown : "off");
    }
    buf_puts(b, help_tail);
}

/* Built on first use, from the argument parsing of the main thread. */
const char *config_serve_help(void)
{
    static char *text;
    if (!text) {
        struct buf b = {0};
        help_write(&b);
        text = buf_steal(&b);
    }
    return text;
}

int config_parse_serve(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    config_defaults(cfg);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(config_serve_help(), stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return errf(err, errlen, "unexpected argument \"%s\" (options start with --)", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt_def *o = NULL;
        for (size_t k = 0; k < N_OPTIONS && !o; k++)
            if (strlen(options[k].name) == nlen && strncmp(options[k].name, name, nlen) == 0)
                o = &options[k];
        if (!o)
            return errf(err, errlen, "unknown option \"%.*s\" (see 'diffd serve --help')",
                        (int)(nlen + 2), arg);
        const char *value = NULL;
        if (o->type != OPT_BOOL) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return errf(err, errlen, "--%s needs a value", o->name);
        } else if (eq) {
            return errf(err, errlen, "--%s takes no value", o->name);
        }
        if (apply(cfg, o, value, err, errlen) == -1)
            return -1;
    }
    if (!cfg->backends[ROLE_PRIMARY].configured)
        return errf(err, errlen, "--primary URL is required (see 'diffd serve --help')");
    if (!cfg->backends[ROLE_CANDIDATE].configured)
        return errf(err, errlen, "--candidate URL is required (see 'diffd serve --help')");
    if (cfg->respond == ROLE_SECONDARY && !cfg->backends[ROLE_SECONDARY].configured)
        return errf(err, errlen, "--respond secondary needs --secondary URL");
    return 0;
}
