/* `diffd serve` options: a table of flags with defaults, parsed into struct
 * config. Every error names the flag and the value that was refused. */
#include "config.h"

#include <errno.h>
#include <math.h>
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

static const char serve_help[] =
    "usage: diffd serve --primary URL [--secondary URL] --candidate URL [options]\n"
    "\n"
    "Receives mirrored HTTP traffic, sends each sampled request to the primary (current\n"
    "version), the secondary (a second instance of it) and the candidate (new version) at\n"
    "once, answers the client from one of them and compares the three responses.\n"
    "\n"
    "Backends:\n"
    "  --primary URL            current version: http:// or https:// base URL, optional path\n"
    "                           prefix (http://10.0.0.5:8080/api)  [required]\n"
    "  --secondary URL          second instance of the current version; measures noise.\n"
    "                           Omit it and nothing is subtracted as noise  [none]\n"
    "  --candidate URL          new version under test  [required]\n"
    "  --ca-file FILE           CA certificates (PEM) trusted for https:// backends, e.g. a\n"
    "                           private CA; certificates are always verified  [system CAs]\n"
    "\n"
    "Listeners:\n"
    "  --listen [ADDR:]PORT     proxy listener (port 0 picks a free port)  [127.0.0.1:8880]\n"
    "  --admin [ADDR:]PORT      admin API, dashboard, /metrics, /healthz  [127.0.0.1:8888]\n"
    "  --admin-token TOKEN      require 'Authorization: Bearer TOKEN' on /api/ and /metrics\n"
    "                           (or env DIFFD_ADMIN_TOKEN)  [none]\n"
    "\n"
    "What is compared:\n"
    "  --rules PATH             a .rules file or a directory of *.rules; may repeat  [none]\n"
    "  --sample PERCENT         share of requests compared, 0-100  [100]\n"
    "  --sample-key header:NAME|query:NAME\n"
    "                           sample consistently per value of that header or query\n"
    "                           parameter (same value, same decision)  [random]\n"
    "  --allow-side-effects     also send POST/PUT/PATCH/DELETE to all three backends;\n"
    "                           without it they go only to the --respond backend and are\n"
    "                           counted as skipped.side_effect  [off]\n"
    "\n"
    "What the client gets:\n"
    "  --respond primary|secondary|candidate|none\n"
    "                           whose response is returned, as soon as it arrives; 'none'\n"
    "                           answers 202 once the request is read (for mirrors)  [primary]\n"
    "  --wait-all               answer only after all three legs finished (paces a replay\n"
    "                           by the slowest backend)  [off]\n"
    "  --preserve-host          send the client's Host (a '-shadow' suffix removed) instead\n"
    "                           of each backend's own  [off]\n"
    "\n"
    "Limits:\n"
    "  --timeout MS             per-leg timeout; the client gets 504 from its leg  [10000]\n"
    "  --connect-timeout MS     per-leg connect timeout  [1000]\n"
    "  --max-body BYTES         largest request or response body (k/m suffixes)  [8m]\n"
    "  --max-inflight N         trials in progress (split evenly over threads); past it\n"
    "                           requests are still proxied but not compared  [4096]\n"
    "  --threads N              worker threads, each with its own event loop  [online CPUs]\n"
    "\n"
    "Analysis and state:\n"
    "  --threshold-relative PCT field regression: (raw-noise)/(raw+noise) above  [20]\n"
    "  --threshold-absolute PCT field regression: (raw-noise)/compared above  [0.03]\n"
    "  --latency-factor F       latency regression: candidate above F x baseline  [1.5]\n"
    "  --latency-min-ms MS      ... and slower by more than MS  [5]\n"
    "  --min-compared N         trials an endpoint needs before any verdict  [10]\n"
    "  --max-endpoints N        endpoints tracked; the rest count under OTHER  [1000]\n"
    "  --samples-per-field N    stored example trials per differing field  [5]\n"
    "  --max-samples N          stored example trials in all  [2000]\n"
    "  --state FILE             persist results there and restore them at start  [none]\n"
    "  --snapshot-interval SEC  how often the state file is written  [5]\n"
    "  --reset-state            discard an existing state file at start  [off]\n"
    "  --access-log FILE        one JSON line per trial ('-' for stdout)  [none]\n"
    "\n"
    "Signals: SIGTERM/SIGINT finish trials in flight and exit 0.\n";

const char *config_serve_help(void)
{
    return serve_help;
}

static void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen_addr = xstrdup("127.0.0.1");
    cfg->listen_port = 8880;
    cfg->admin_addr = xstrdup("127.0.0.1");
    cfg->admin_port = 8888;
    cfg->sample_percent = 100.0;
    cfg->respond = ROLE_PRIMARY;
    cfg->timeout_ms = 10000;
    cfg->connect_timeout_ms = 1000;
    cfg->max_body = 8u << 20;
    cfg->max_inflight = 4096;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cpus > 0 ? (int)cpus : 1;
    cfg->threshold_relative = 20;
    cfg->threshold_absolute = 0.03;
    cfg->latency_factor = 1.5;
    cfg->latency_min_ms = 5;
    cfg->min_compared = 10;
    cfg->snapshot_interval_s = 5;
    cfg->max_endpoints = 1000;
    cfg->samples_per_field = 5;
    cfg->max_samples = 2000;
    const char *tok = getenv("DIFFD_ADMIN_TOKEN");
    if (tok && *tok)
        cfg->admin_token = xstrdup(tok);
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

enum opt {
    O_PRIMARY,
    O_SECONDARY,
    O_CANDIDATE,
    O_LISTEN,
    O_ADMIN,
    O_RULES,
    O_SAMPLE,
    O_SAMPLE_KEY,
    O_RESPOND,
    O_WAIT_ALL,
    O_SIDE_EFFECTS,
    O_TIMEOUT,
    O_CONNECT_TIMEOUT,
    O_MAX_BODY,
    O_MAX_INFLIGHT,
    O_THREADS,
    O_PRESERVE_HOST,
    O_ACCESS_LOG,
    O_CA_FILE,
    O_THR_REL,
    O_THR_ABS,
    O_LAT_FACTOR,
    O_LAT_MIN,
    O_MIN_COMPARED,
    O_STATE,
    O_SNAPSHOT,
    O_RESET_STATE,
    O_ADMIN_TOKEN,
    O_MAX_ENDPOINTS,
    O_SAMPLES_PER_FIELD,
    O_MAX_SAMPLES,
    O_HELP,
};

static const struct {
    const char *name;
    enum opt id;
    bool has_arg;
} options[] = {
    {"primary", O_PRIMARY, true},
    {"secondary", O_SECONDARY, true},
    {"candidate", O_CANDIDATE, true},
    {"listen", O_LISTEN, true},
    {"admin", O_ADMIN, true},
    {"rules", O_RULES, true},
    {"sample", O_SAMPLE, true},
    {"sample-key", O_SAMPLE_KEY, true},
    {"respond", O_RESPOND, true},
    {"wait-all", O_WAIT_ALL, false},
    {"allow-side-effects", O_SIDE_EFFECTS, false},
    {"timeout", O_TIMEOUT, true},
    {"connect-timeout", O_CONNECT_TIMEOUT, true},
    {"max-body", O_MAX_BODY, true},
    {"max-inflight", O_MAX_INFLIGHT, true},
    {"threads", O_THREADS, true},
    {"preserve-host", O_PRESERVE_HOST, false},
    {"access-log", O_ACCESS_LOG, true},
    {"ca-file", O_CA_FILE, true},
    {"threshold-relative", O_THR_REL, true},
    {"threshold-absolute", O_THR_ABS, true},
    {"latency-factor", O_LAT_FACTOR, true},
    {"latency-min-ms", O_LAT_MIN, true},
    {"min-compared", O_MIN_COMPARED, true},
    {"state", O_STATE, true},
    {"snapshot-interval", O_SNAPSHOT, true},
    {"reset-state", O_RESET_STATE, false},
    {"admin-token", O_ADMIN_TOKEN, true},
    {"max-endpoints", O_MAX_ENDPOINTS, true},
    {"samples-per-field", O_SAMPLES_PER_FIELD, true},
    {"max-samples", O_MAX_SAMPLES, true},
    {"help", O_HELP, false},
};

static void replace_str(char **dst, const char *v)
{
    free(*dst);
    *dst = xstrdup(v);
}

/* Applies one option. Returns 0, or -1 with err describing the bad value. */
static int apply(struct config *cfg, enum opt id, const char *flag, const char *v, char *err,
                 size_t errlen)
{
    char msg[256];
    long l;
    switch (id) {
    case O_PRIMARY:
    case O_SECONDARY:
    case O_CANDIDATE:
        if (config_parse_backend(&cfg->backends[id - O_PRIMARY], v, msg, sizeof(msg)) == -1)
            return errf(err, errlen, "--%s: %s", flag, msg);
        return 0;
    case O_LISTEN:
    case O_ADMIN: {
        char *addr = NULL;
        int port = 0;
        if (config_parse_hostport(v, "127.0.0.1", &addr, &port) == -1)
            return errf(err, errlen, "--%s: \"%s\" is not [ADDR:]PORT with PORT 0-65535", flag, v);
        if (id == O_LISTEN) {
            free(cfg->listen_addr);
            cfg->listen_addr = addr;
            cfg->listen_port = port;
        } else {
            free(cfg->admin_addr);
            cfg->admin_addr = addr;
            cfg->admin_port = port;
        }
        return 0;
    }
    case O_RULES:
        cfg->rules_paths =
            xrealloc(cfg->rules_paths, (cfg->n_rules_paths + 1) * sizeof(*cfg->rules_paths));
        cfg->rules_paths[cfg->n_rules_paths++] = xstrdup(v);
        return 0;
    case O_SAMPLE:
        if (parse_double(v, 0, 100, &cfg->sample_percent) == -1)
            return errf(err, errlen, "--sample: \"%s\" is not a percentage from 0 to 100", v);
        return 0;
    case O_SAMPLE_KEY:
        if (strncmp(v, "header:", 7) == 0 && v[7]) {
            cfg->sample_key_kind = SAMPLE_KEY_HEADER;
            replace_str(&cfg->sample_key_name, v + 7);
        } else if (strncmp(v, "query:", 6) == 0 && v[6]) {
            cfg->sample_key_kind = SAMPLE_KEY_QUERY;
            replace_str(&cfg->sample_key_name, v + 6);
        } else {
            return errf(err, errlen, "--sample-key: \"%s\" is not header:NAME or query:NAME", v);
        }
        return 0;
    case O_RESPOND:
        for (int r = 0; r <= ROLE_COUNT; r++)
            if (strcmp(v, role_name(r)) == 0) {
                cfg->respond = r;
                return 0;
            }
        return errf(err, errlen,
                    "--respond: \"%s\" is not one of primary, secondary, candidate, none", v);
    case O_WAIT_ALL:
        cfg->wait_all = true;
        return 0;
    case O_SIDE_EFFECTS:
        cfg->allow_side_effects = true;
        return 0;
    case O_TIMEOUT:
    case O_CONNECT_TIMEOUT:
        if (parse_long(v, 1, 3600000, &l) == -1)
            return errf(err, errlen, "--%s: \"%s\" is not milliseconds from 1 to 3600000", flag, v);
        *(id == O_TIMEOUT ? &cfg->timeout_ms : &cfg->connect_timeout_ms) = l;
        return 0;
    case O_MAX_BODY:
        if (parse_size(v, &cfg->max_body) == -1)
            return errf(err, errlen, "--max-body: \"%s\" is not a size like 8m, 512k or 65536", v);
        return 0;
    case O_MAX_INFLIGHT:
        if (parse_long(v, 1, 10000000, &cfg->max_inflight) == -1)
            return errf(err, errlen, "--max-inflight: \"%s\" is not a number from 1", v);
        return 0;
    case O_THREADS:
        if (parse_long(v, 1, 256, &l) == -1)
            return errf(err, errlen, "--threads: \"%s\" is not a number from 1 to 256", v);
        cfg->threads = (int)l;
        return 0;
    case O_PRESERVE_HOST:
        cfg->preserve_host = true;
        return 0;
    case O_ACCESS_LOG:
        replace_str(&cfg->access_log, v);
        return 0;
    case O_CA_FILE:
        if (access(v, R_OK) == -1)
            return errf(err, errlen, "--ca-file: cannot read \"%s\": %s", v, strerror(errno));
        replace_str(&cfg->ca_file, v);
        return 0;
    case O_THR_REL:
    case O_THR_ABS: {
        double d;
        if (parse_double(v, 0, 100, &d) == -1)
            return errf(err, errlen, "--%s: \"%s\" is not a percentage from 0 to 100", flag, v);
        *(id == O_THR_REL ? &cfg->threshold_relative : &cfg->threshold_absolute) = d;
        return 0;
    }
    case O_LAT_FACTOR:
        if (parse_double(v, 1, 1000, &cfg->latency_factor) == -1)
            return errf(err, errlen, "--latency-factor: \"%s\" is not a factor from 1 to 1000", v);
        return 0;
    case O_LAT_MIN:
        if (parse_double(v, 0, 3600000, &cfg->latency_min_ms) == -1)
            return errf(err, errlen, "--latency-min-ms: \"%s\" is not milliseconds", v);
        return 0;
    case O_MIN_COMPARED:
    case O_MAX_ENDPOINTS:
    case O_SAMPLES_PER_FIELD:
    case O_MAX_SAMPLES:
    case O_SNAPSHOT: {
        long lo =
            (id == O_MIN_COMPARED || id == O_SAMPLES_PER_FIELD || id == O_MAX_SAMPLES) ? 0 : 1;
        if (parse_long(v, lo, 100000000, &l) == -1)
            return errf(err, errlen, "--%s: \"%s\" is not a number from %ld", flag, v, lo);
        long *dst = id == O_MIN_COMPARED        ? &cfg->min_compared
                    : id == O_MAX_ENDPOINTS     ? &cfg->max_endpoints
                    : id == O_SAMPLES_PER_FIELD ? &cfg->samples_per_field
                    : id == O_MAX_SAMPLES       ? &cfg->max_samples
                                                : &cfg->snapshot_interval_s;
        *dst = l;
        return 0;
    }
    case O_STATE:
        replace_str(&cfg->state_file, v);
        return 0;
    case O_RESET_STATE:
        cfg->reset_state = true;
        return 0;
    case O_ADMIN_TOKEN:
        if (!*v)
            return errf(err, errlen, "--admin-token: the token is empty");
        replace_str(&cfg->admin_token, v);
        return 0;
    case O_HELP:
        return 0;
    }
    return errf(err, errlen, "--%s: not handled", flag);
}

int config_parse_serve(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    config_defaults(cfg);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(serve_help, stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0)
            return errf(err, errlen, "unexpected argument \"%s\" (options start with --)", arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        size_t k;
        for (k = 0; k < sizeof(options) / sizeof(options[0]); k++)
            if (strlen(options[k].name) == nlen && strncmp(options[k].name, name, nlen) == 0)
                break;
        if (k == sizeof(options) / sizeof(options[0]))
            return errf(err, errlen, "unknown option \"%.*s\" (see 'diffd serve --help')",
                        (int)(nlen + 2), arg);
        const char *value = NULL;
        if (options[k].has_arg) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else
                return errf(err, errlen, "--%s needs a value", options[k].name);
        } else if (eq) {
            return errf(err, errlen, "--%s takes no value", options[k].name);
        }
        if (apply(cfg, options[k].id, options[k].name, value, err, errlen) == -1)
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
